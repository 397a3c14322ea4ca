//! Why a check failed.

use std::fmt;
use std::io;
use std::path::Path;

#[derive(Debug)]
pub enum Failure {
    /// An operation that should have worked returned an error.
    Io { op: &'static str, path: String, source: io::Error },
    /// It worked, but the result is not Linux's.
    Mismatch { what: String, expected: String, got: String },
    /// An operation that should have failed succeeded, or failed with another errno.
    WrongError { op: &'static str, path: String, expected: i32, got: Option<io::Error> },
}

impl Failure {
    pub fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        Failure::Io { op, path: path.display().to_string(), source }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Io { op, path, source } => write!(f, "{op} {path}: {source}"),
            Failure::Mismatch { what, expected, got } => write!(f, "{what}: expected {expected}, got {got}"),
            Failure::WrongError { op, path, expected, got: None } => {
                write!(f, "{op} {path}: succeeded, expected errno {expected}")
            }
            Failure::WrongError { op, path, expected, got: Some(error) } => {
                write!(f, "{op} {path}: {error}, expected errno {expected}")
            }
        }
    }
}

/// `Ok` when `expected == got`, else a mismatch naming `what`.
pub fn expect_eq<T: PartialEq + fmt::Debug>(what: &str, expected: T, got: T) -> Result<(), Failure> {
    if expected == got {
        Ok(())
    } else {
        Err(Failure::Mismatch { what: what.to_owned(), expected: format!("{expected:?}"), got: format!("{got:?}") })
    }
}

/// `Ok` when `result` failed with exactly `errno`.
pub fn expect_errno<T>(op: &'static str, path: &Path, errno: i32, result: io::Result<T>) -> Result<(), Failure> {
    match result {
        Err(error) if error.raw_os_error() == Some(errno) => Ok(()),
        Err(error) => Err(Failure::WrongError { op, path: path.display().to_string(), expected: errno, got: Some(error) }),
        Ok(_) => Err(Failure::WrongError { op, path: path.display().to_string(), expected: errno, got: None }),
    }
}

/// Adds the operation and path to an `io::Result`.
pub trait Context<T> {
    fn op(self, op: &'static str, path: &Path) -> Result<T, Failure>;
}

impl<T> Context<T> for io::Result<T> {
    fn op(self, op: &'static str, path: &Path) -> Result<T, Failure> {
        self.map_err(|source| Failure::io(op, path, source))
    }
}
