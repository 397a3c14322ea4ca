//! What the monitor needs of a running sandbox, as a trait: the real one is
//! [`crate::sandbox::Sandbox`] (QEMU and the control channel to our kernel, the channel
//! helper's library; `backend.rs` adapts it), and the monitor's unit tests drive a fake.
//! It speaks the sandbox's own types; only the errors are its own.

use std::path::PathBuf;

use oci_spec::runtime::Process;

/// The sandbox's own types: whom a signal or resize is for, a process's streams, how it
/// ended.
pub use crate::sandbox::{ExecId, ExitStatus as Exit, ProcessStdio as Stdio, Target};

/// A sandbox's failure: its message, and the status a shell would give when the guest
/// said (127: not found, 126: not executable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VmError {
    pub message: String,
    pub status: Option<i32>,
}

impl VmError {
    pub fn new(message: impl Into<String>) -> Self {
        VmError {
            message: message.into(),
            status: None,
        }
    }
}

/// Everything a sandbox needs to come up to "init loaded, not started".
#[derive(Debug)]
pub struct LaunchRequest {
    pub kernel: PathBuf,
    pub bundle: PathBuf,
    pub memory_mib: Option<u64>,
    pub cpus: u32,
    /// The kernel's console: never the container's streams.
    pub kernel_log: PathBuf,
    pub log_level: log::LevelFilter,
    pub stdio: Stdio,
}

pub trait Vm: Send + Sync {
    fn vmm_pid(&self) -> u32;
    fn start(&self) -> Result<(), VmError>;
    fn signal(&self, target: Target, signal: i32) -> Result<(), VmError>;
    /// Starts another process; returns its id once it runs in the guest.
    fn exec(&self, process: &Process, stdio: Stdio) -> Result<u32, VmError>;
    fn resize(&self, target: Target, rows: u16, cols: u16) -> Result<(), VmError>;
    fn pause(&self) -> Result<(), VmError>;
    fn resume(&self) -> Result<(), VmError>;
    /// Guest pids of the container's live processes.
    fn pids(&self) -> Result<Vec<u32>, VmError>;
    fn wait_exec(&self, id: u32) -> Result<Exit, VmError>;
    /// The init's status, once the VM has ended and its output is flushed.
    fn wait(&self) -> Result<Exit, VmError>;
}

/// Brings a sandbox up (the real one boots QEMU; tests pass a fake).
pub type Launcher = fn(LaunchRequest) -> Result<Box<dyn Vm>, VmError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_a_shells() {
        assert_eq!(Exit::Code(7).code(), 7);
        assert_eq!(Exit::Signal(15).code(), 143);
        assert_eq!(Exit::Signal(9).code(), 137);
    }
}
