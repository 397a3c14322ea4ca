//! What can be wrong with a container before its init runs, and the exit status each kind of
//! failure ends the sandbox with.
//!
//! Sits at the bottom of `container`: `spec`, `plan` and `process` return these types; the
//! kernel prints their `Display` as one console line and powers off with
//! [`SpecError::exit_status`] / [`PlanError::exit_status`] / [`ResolveError::exit_status`].
//!
//! # Exit statuses
//!
//! | status | constant | meaning |
//! |---|---|---|
//! | 110 | [`MALFORMED_SPEC`] | no spec module, or it is not UTF-8 JSON |
//! | 111 | [`INVALID_SPEC`] | a spec field is missing, has the wrong type or a bad value (the message names it) |
//! | 112 | [`CHANNEL_MISMATCH`] | a 9p channel a mount needs is missing, or a channel no mount takes is left over |
//! | 113 | [`MOUNT_FAILED`] | building the mount namespace failed (the builder names the mount) |
//! | 126 | [`EXEC_NOT_EXECUTABLE`] | `process.args[0]` was found but cannot be executed (a shell's 126) |
//! | 127 | [`EXEC_NOT_FOUND`] | `process.args[0]` was not found, or there is no `PATH` to search (a shell's 127) |
//!
//! They sit below the kernel's own failures (120–125, `kernel/src/exit.rs`) except the two
//! that mean what a shell means by them.

use alloc::string::String;
use core::fmt;

/// The spec module is missing or is not JSON at all.
pub const MALFORMED_SPEC: u8 = 110;
/// The spec is JSON, but a field is missing, mistyped or has a value the sandbox rejects.
pub const INVALID_SPEC: u8 = 111;
/// The 9p devices the VMM attached do not match the channels the spec's mounts take.
pub const CHANNEL_MISMATCH: u8 = 112;
/// Applying the mount plan to the namespace failed.
pub const MOUNT_FAILED: u8 = 113;
/// The init was found but cannot be executed.
pub const EXEC_NOT_EXECUTABLE: u8 = 126;
/// The init was not found.
pub const EXEC_NOT_FOUND: u8 = 127;

/// A spec the sandbox cannot run, with the JSON field it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecError {
    /// The bytes are not JSON (or not UTF-8); `line`/`column` are 1-based, 0 when unknown.
    Malformed {
        line: usize,
        column: usize,
        message: String,
    },
    /// A field is wrong. `field` is its JSON path, e.g. `mounts[3].destination`.
    Field {
        field: String,
        problem: FieldProblem,
    },
}

/// Why a field is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldProblem {
    Missing,
    Empty,
    /// serde's own words for a type mismatch (`invalid type: string "sh", expected a sequence`).
    WrongType(String),
    NotAbsolute,
    /// A `..` would climb above `/`.
    EscapesRoot,
    /// A mount destination of `/` itself: the root is `root`, not a mount.
    IsRoot,
    BadValue {
        value: String,
        expected: &'static str,
    },
}

impl SpecError {
    pub fn field(field: impl Into<String>, problem: FieldProblem) -> Self {
        SpecError::Field {
            field: field.into(),
            problem,
        }
    }

    /// The JSON path of the field at fault, if the error is about one field.
    pub fn field_name(&self) -> Option<&str> {
        match self {
            SpecError::Malformed { .. } => None,
            SpecError::Field { field, .. } => Some(field),
        }
    }

    pub fn exit_status(&self) -> u8 {
        match self {
            SpecError::Malformed { .. } => MALFORMED_SPEC,
            SpecError::Field { .. } => INVALID_SPEC,
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::Malformed {
                line: 0, message, ..
            } => write!(f, "spec is not JSON: {message}"),
            SpecError::Malformed {
                line,
                column,
                message,
            } => {
                write!(
                    f,
                    "spec is not JSON: {message} (line {line}, column {column})"
                )
            }
            SpecError::Field { field, problem } => write!(f, "{field}: {problem}"),
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldProblem::Missing => f.write_str("missing"),
            FieldProblem::Empty => f.write_str("empty"),
            FieldProblem::WrongType(message) => f.write_str(message),
            FieldProblem::NotAbsolute => f.write_str("must be an absolute path"),
            FieldProblem::EscapesRoot => f.write_str("\"..\" escapes the root"),
            FieldProblem::IsRoot => f.write_str("cannot be \"/\" (the root is set by `root`)"),
            FieldProblem::BadValue { value, expected } => {
                write!(f, "bad value {value:?}; expected {expected}")
            }
        }
    }
}

/// The plan and the machine disagree about 9p channels, or the plan could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    Spec(SpecError),
    /// A mount takes this channel but no device carries its tag.
    ChannelMissing {
        tag: String,
    },
    /// A device carries this tag but no mount takes it.
    ChannelLeftOver {
        tag: String,
    },
    /// Two devices carry the same tag: which one a mount gets would be a guess.
    ChannelTwice {
        tag: String,
    },
    /// The host said a channel shares a file's directory (`bind_file=`), but no bind mount
    /// takes that channel.
    FileBindWithoutMount {
        tag: String,
    },
}

impl PlanError {
    pub fn exit_status(&self) -> u8 {
        match self {
            PlanError::Spec(error) => error.exit_status(),
            PlanError::ChannelMissing { .. }
            | PlanError::ChannelLeftOver { .. }
            | PlanError::ChannelTwice { .. }
            | PlanError::FileBindWithoutMount { .. } => CHANNEL_MISMATCH,
        }
    }
}

impl From<SpecError> for PlanError {
    fn from(error: SpecError) -> Self {
        PlanError::Spec(error)
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Spec(error) => error.fmt(f),
            PlanError::ChannelMissing { tag } => write!(
                f,
                "9p channel {tag} missing: the spec's mounts need a device tagged {tag:?}"
            ),
            PlanError::ChannelLeftOver { tag } => write!(
                f,
                "9p channel {tag} left over: no mount in the spec takes it"
            ),
            PlanError::ChannelTwice { tag } => write!(
                f,
                "9p channel {tag} given twice: two devices carry the tag {tag:?}"
            ),
            PlanError::FileBindWithoutMount { tag } => {
                write!(
                    f,
                    "bind_file names channel {tag}, but no bind mount in the spec takes it"
                )
            }
        }
    }
}

/// `process.args[0]` could not be turned into a file to execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// A bare name, and `process.env` has no `PATH` to search.
    NoPath {
        name: String,
    },
    NotFound {
        name: String,
    },
    /// Only a directory by that name was found (execve would say EACCES).
    IsDirectory {
        path: String,
    },
}

impl ResolveError {
    pub fn exit_status(&self) -> u8 {
        match self {
            ResolveError::NoPath { .. } | ResolveError::NotFound { .. } => EXEC_NOT_FOUND,
            ResolveError::IsDirectory { .. } => EXEC_NOT_EXECUTABLE,
        }
    }
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::NoPath { name } => {
                write!(
                    f,
                    "process.env: no PATH to search for process.args[0] {name:?}"
                )
            }
            ResolveError::NotFound { name } => write!(f, "process.args[0]: {name:?} not found"),
            ResolveError::IsDirectory { path } => {
                write!(f, "process.args[0]: {path:?} is a directory")
            }
        }
    }
}
