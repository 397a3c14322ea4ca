//! How a run ends: one console line with the status, then power off.
//!
//! The line `sandbox: exit status N` is the contract with whatever started the VM (xtask
//! reads it): it is printed on every path, because QEMU's `isa-debug-exit` can only carry
//! statuses below 128 and other monitors have no such device.

use core::fmt;

/// The kernel's own failures, each with a status of its own so a test or an operator can
/// tell them apart without reading the console. Chosen just below docker's 125–127 range
/// so they do not collide with the statuses a shell gives for exec failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum KernelFailure {
    BadCommandLine = 120,
    OutOfMemory = 121,
    PageFault = 122,
    DoubleFault = 123,
    CpuException = 124,
    Panic = 125,
}

impl fmt::Display for KernelFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Self::BadCommandLine => "bad kernel command line",
            Self::OutOfMemory => "out of memory",
            Self::PageFault => "page fault in the kernel",
            Self::DoubleFault => "double fault",
            Self::CpuException => "CPU exception in the kernel",
            Self::Panic => "kernel panic",
        };
        f.write_str(what)
    }
}

/// Ends the run with `status` (the container's, or 0 for a kernel that had nothing to run).
pub fn exit(status: u8) -> ! {
    crate::timeline::flush();
    crate::console::print_line(format_args!("sandbox: exit status {status}"));
    arch::power::power_off(status)
}

/// Ends the run because the kernel itself failed.
pub fn fail(failure: KernelFailure) -> ! {
    crate::console::print_line(format_args!("sandbox: {failure}"));
    exit(failure as u8)
}
