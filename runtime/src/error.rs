//! The runtime's error type: every failure a command can report, in runc's words where
//! podman and containerd read them ("does not exist", "not found", "permission
//! denied"), with the exit status the command ends with.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Sys {
        context: String,
        #[source]
        source: nix::Error,
    },
    /// containerd's shim and podman look for "does not exist" to tell a container that is
    /// already gone from a real failure.
    #[error("container {0:?} does not exist")]
    NotExist(String),
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error(
        "invalid container id {0:?}: only letters, digits, '_', '+', '-' and '.' (not '.' or '..' alone)"
    )]
    BadId(String),
    #[error("{0}")]
    BadState(String),
    #[error("bundle {path}: {message}")]
    Bundle { path: PathBuf, message: String },
    #[error("the sandbox kernel was not found: {0}")]
    KernelNotFound(String),
    /// The guest (or the VMM) refused the container: the kernel's own message and the
    /// status a shell would give (127 not found, 126 not executable).
    #[error("{message}")]
    Guest {
        message: String,
        status: Option<i32>,
    },
    #[error("hook {path}: {message}")]
    Hook { path: PathBuf, message: String },
    #[error("the container's monitor: {0}")]
    Monitor(String),
    #[error("{0}")]
    Usage(String),
}

impl RuntimeError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        RuntimeError::Io {
            context: context.into(),
            source,
        }
    }

    pub fn sys(context: impl Into<String>, source: nix::Error) -> Self {
        RuntimeError::Sys {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// `.context("…")` for io and nix results, as anyhow's, kept typed.
pub trait Context<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| RuntimeError::io(context(), source))
    }
}

impl<T> Context<T> for std::result::Result<T, nix::Error> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| RuntimeError::sys(context(), source))
    }
}

/// The guest's refusal to run `program`, worded so podman's and containerd's matching
/// finds it as it finds runc's: "executable file not found in $PATH" (podman: 127) or
/// "permission denied" (126), with the kernel's own words first.
pub fn guest_exec_error(message: String, status: Option<i32>, program: &str) -> RuntimeError {
    let message = match status {
        Some(127) if !message.contains("executable file not found") => format!(
            "{message}: exec: {program:?}: executable file not found in $PATH (no such file or directory)"
        ),
        Some(126) if !message.to_lowercase().contains("permission denied") => {
            format!("{message}: exec: {program:?}: permission denied")
        }
        _ => message,
    };
    RuntimeError::Guest { message, status }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podmans_words() {
        let error = guest_exec_error("process.args[0]: \"x\" not found".into(), Some(127), "x");
        let text = error.to_string();
        assert!(
            text.contains("executable file not found in $PATH"),
            "{text}"
        );
        assert!(text.starts_with("process.args[0]"), "{text}");
        let text = guest_exec_error("cannot execute".into(), Some(126), "/x").to_string();
        assert!(text.contains("permission denied"), "{text}");
        let text = guest_exec_error("boom".into(), Some(113), "/x").to_string();
        assert_eq!(text, "boom");
    }
}
