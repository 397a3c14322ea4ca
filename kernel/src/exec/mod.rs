//! exec: turning an executable file into a process image. The pure parts live here and are
//! host-tested: reading ELF program headers ([`elf`]), `#!` lines ([`script`]) and laying
//! out the initial stack ([`stack`]). Mapping the image into an address space is the
//! kernel's `process::exec`.

pub mod elf;
pub mod script;
pub mod stack;

/// Why a file cannot be executed, with the status a shell gives for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecFormatError {
    /// Not an ELF file and not a `#!` script (`ENOEXEC`).
    NotExecutableFormat,
    /// ELF, but not for this machine: 32-bit, big-endian, or another architecture.
    WrongArchitecture(&'static str),
    /// Dynamically linked (needs an interpreter); the sandbox runs static binaries.
    NeedsInterpreter,
    /// The headers contradict themselves (a segment outside the file, misaligned…).
    Malformed(&'static str),
}

impl ExecFormatError {
    /// The errno `execve` reports.
    pub fn errno(&self) -> vfs_core::Errno {
        vfs_core::Errno::ENOEXEC
    }
}

impl core::fmt::Display for ExecFormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotExecutableFormat => {
                write!(f, "not an ELF executable or #! script (exec format error)")
            }
            Self::WrongArchitecture(what) => write!(f, "ELF for another machine: {what}"),
            Self::NeedsInterpreter => write!(
                f,
                "dynamically linked (PT_INTERP); only static executables run here"
            ),
            Self::Malformed(what) => write!(f, "malformed ELF: {what}"),
        }
    }
}
