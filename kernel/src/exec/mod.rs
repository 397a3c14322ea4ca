//! exec: turning an executable file into a process image. The pure parts live here and are
//! host-tested: reading ELF program headers and placing the segments ([`elf`]), `#!` lines
//! ([`script`]), the auxiliary vector ([`auxv`]) and laying out the initial stack
//! ([`stack`]), the vDSO image and its data page ([`vdso`]), the argument strings'
//! packed copy ([`strings`]). Opening the files (the program and its `PT_INTERP` interpreter) and mapping
//! the image into an address space is the kernel's `process::exec`.

pub mod auxv;
pub mod elf;
pub mod script;
pub mod stack;
pub mod strings;
pub mod vdso;

/// Why a file cannot be executed.
///
/// Linux checks an ELF file in two stages, and the errors follow them. Before
/// `begin_new_exec` (its point of no return) `execve` fails and returns: the headers
/// (`ENOEXEC`), the interpreter's path and file (`ENOEXEC`, `EIO`, or the errno of opening
/// it) and the interpreter's own headers (`ELIBBAD`). After it, the old image is gone, and
/// a segment that cannot be placed kills the process with `SIGSEGV`
/// ([`ExecFormatError::BadLayout`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecFormatError {
    /// Not an ELF file and not a `#!` script, or an ELF that is not an executable or a
    /// shared object (`ENOEXEC`).
    NotExecutableFormat,
    /// ELF, but not for this machine: 32-bit, big-endian, or another architecture.
    WrongArchitecture(&'static str),
    /// The headers contradict themselves (a program header table of the wrong entry size
    /// or outside the file, a `PT_INTERP` path of the wrong length or without its NUL).
    Malformed(&'static str),
    /// The file is shorter than its headers say (Linux's `elf_read`: `EIO`).
    Truncated(&'static str),
    /// The interpreter named by `PT_INTERP` is not an ELF file for this machine, or its
    /// program headers are unusable (`ELIBBAD`).
    BadInterpreter(&'static str),
    /// A segment of the program or its interpreter cannot be placed (outside the user
    /// address range, more file bytes than memory, no loadable segment…). Linux finds
    /// these past its point of no return, and the process dies of `SIGSEGV`.
    BadLayout(&'static str),
}

impl ExecFormatError {
    /// The errno `execve` reports (for [`ExecFormatError::BadLayout`], the errno Linux's
    /// loader has when it gives up, though `execve` does not return it).
    pub fn errno(&self) -> vfs_core::Errno {
        use vfs_core::Errno;
        match self {
            Self::NotExecutableFormat | Self::WrongArchitecture(_) | Self::Malformed(_) => {
                Errno::ENOEXEC
            }
            Self::Truncated(_) => Errno::EIO,
            Self::BadInterpreter(_) => Errno::ELIBBAD,
            Self::BadLayout(_) => Errno::EINVAL,
        }
    }

    /// Whether Linux meets this error after its point of no return, where the process is
    /// killed with `SIGSEGV` rather than `execve` failing.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::BadLayout(_))
    }
}

impl core::fmt::Display for ExecFormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotExecutableFormat => {
                write!(f, "not an ELF executable or #! script (exec format error)")
            }
            Self::WrongArchitecture(what) => write!(f, "ELF for another machine: {what}"),
            Self::Malformed(what) => write!(f, "malformed ELF: {what}"),
            Self::Truncated(what) => write!(f, "ELF file cut short: {what}"),
            Self::BadInterpreter(what) => write!(f, "bad ELF interpreter: {what}"),
            Self::BadLayout(what) => write!(f, "ELF segments cannot be placed: {what}"),
        }
    }
}
