//! The monitor's sandbox: [`crate::vm::Vm`] implemented by [`crate::sandbox::Sandbox`].

use crate::vm::{LaunchRequest, Vm, VmError};

/// Boots a sandbox for the monitor.
pub fn launch(_request: LaunchRequest) -> Result<Box<dyn Vm>, VmError> {
    Err(VmError::new(
        "the sandbox library (runtime/src/sandbox) is not merged into this build yet",
    ))
}
