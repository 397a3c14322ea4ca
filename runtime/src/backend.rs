//! The monitor's sandbox: [`crate::vm::Vm`] implemented by [`crate::sandbox::Sandbox`] (its
//! errors mapped to the kernel's message and status).

use oci_spec::runtime::Process;

use crate::sandbox::{Accel, ExecId, LaunchConfig, Sandbox, SandboxError};
use crate::vm::{Exit, LaunchRequest, Stdio, Target, Vm, VmError};

/// Boots a sandbox for the monitor: QEMU with our kernel, up to "init loaded".
pub fn launch(request: LaunchRequest) -> Result<Box<dyn Vm>, VmError> {
    let config = LaunchConfig {
        kernel: request.kernel,
        bundle: request.bundle,
        memory_mib: request.memory_mib,
        cpus: request.cpus,
        accel: Accel::Auto,
        kernel_log: request.kernel_log,
        log_level: request.log_level,
        init_stdio: request.stdio,
    };
    Ok(Box::new(Sandbox::launch(config).map_err(error)?))
}

/// The kernel's own message and status where it gave them (podman maps 126/127 by words).
fn error(error: SandboxError) -> VmError {
    match error {
        SandboxError::Guest { status, message } => VmError {
            message,
            status: Some(status),
        },
        SandboxError::Exec { status, message } => VmError {
            message,
            status: Some(i32::from(status)),
        },
        other => VmError::new(other.to_string()),
    }
}

impl Vm for Sandbox {
    fn vmm_pid(&self) -> u32 {
        Sandbox::vmm_pid(self)
    }
    fn start(&self) -> Result<(), VmError> {
        Sandbox::start(self).map_err(error)
    }
    fn signal(&self, to: Target, signal: i32) -> Result<(), VmError> {
        Sandbox::signal(self, to, signal).map_err(error)
    }
    fn exec(&self, process: &Process, io: Stdio) -> Result<u32, VmError> {
        Sandbox::exec(self, process, io)
            .map(|id| id.0)
            .map_err(error)
    }
    fn resize(&self, to: Target, rows: u16, cols: u16) -> Result<(), VmError> {
        Sandbox::resize(self, to, rows, cols).map_err(error)
    }
    fn pause(&self) -> Result<(), VmError> {
        Sandbox::pause(self).map_err(error)
    }
    fn resume(&self) -> Result<(), VmError> {
        Sandbox::resume(self).map_err(error)
    }
    fn pids(&self) -> Result<Vec<u32>, VmError> {
        Sandbox::pids(self).map_err(error)
    }
    fn wait_exec(&self, id: u32) -> Result<Exit, VmError> {
        Sandbox::wait_exec(self, ExecId(id)).map_err(error)
    }
    fn wait(&self) -> Result<Exit, VmError> {
        Sandbox::wait(self).map_err(error)
    }
}
