//! Why `cargo xtask rootfs` could not make a root filesystem, each with its own exit status
//! so a script can tell "install mmdebstrap" from "no network" from "mmdebstrap failed".

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Exit statuses of `cargo xtask rootfs` (the README's table). 1 is any other failure, as
/// for every xtask command; 2 is clap's for bad arguments.
pub const STATUS_TOOL_MISSING: u8 = 3;
pub const STATUS_NO_NETWORK: u8 = 4;
pub const STATUS_MMDEBSTRAP_FAILED: u8 = 5;
pub const STATUS_OTHER: u8 = 1;

#[derive(Debug, Error)]
pub enum RootfsError {
    /// mmdebstrap is not installed and could not be (not root, not Debian, apt-get failed):
    /// the message names the command to run.
    #[error("{0}")]
    ToolMissing(String),
    #[error("could not start mmdebstrap: {0}")]
    Spawn(#[source] io::Error),
    /// mmdebstrap could not reach Debian's package archive.
    #[error(
        "mmdebstrap could not reach Debian's package archive (no network?): {evidence}\n\
         (its log: {log})"
    )]
    NoNetwork { evidence: String, log: PathBuf },
    /// mmdebstrap ended with a failure status for another reason.
    #[error("mmdebstrap failed ({status}); its last lines:\n{tail}\n(its whole log: {log})")]
    MmdebstrapFailed {
        status: String,
        tail: String,
        log: PathBuf,
    },
    /// The bundle directory holds something that is not a bundle this command made.
    #[error(
        "{dir} is not empty and was not made by `cargo xtask rootfs` (no {marker}): \
         choose another directory or empty it"
    )]
    DirInUse { dir: PathBuf, marker: &'static str },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `cp` refused to copy the cached tree into the bundle.
    #[error("copying {from} to {to} failed ({status}): {stderr}")]
    Copy {
        from: PathBuf,
        to: PathBuf,
        status: String,
        stderr: String,
    },
    #[error("{0}")]
    Template(String),
}

impl RootfsError {
    pub fn exit_status(&self) -> u8 {
        match self {
            RootfsError::ToolMissing(_) => STATUS_TOOL_MISSING,
            RootfsError::NoNetwork { .. } => STATUS_NO_NETWORK,
            RootfsError::Spawn(_) | RootfsError::MmdebstrapFailed { .. } => {
                STATUS_MMDEBSTRAP_FAILED
            }
            RootfsError::DirInUse { .. }
            | RootfsError::Io { .. }
            | RootfsError::Copy { .. }
            | RootfsError::Template(_) => STATUS_OTHER,
        }
    }

    pub(super) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| RootfsError::Io { what, path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_has_its_own_status() {
        let statuses = [
            RootfsError::ToolMissing("x".into()).exit_status(),
            RootfsError::NoNetwork {
                evidence: "x".into(),
                log: "l".into(),
            }
            .exit_status(),
            RootfsError::MmdebstrapFailed {
                status: "exit status: 1".into(),
                tail: String::new(),
                log: "l".into(),
            }
            .exit_status(),
            RootfsError::Template("x".into()).exit_status(),
        ];
        assert_eq!(statuses, [3, 4, 5, 1]);
    }
}
