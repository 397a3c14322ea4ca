//! process: a running program: its address space, files, identity and registers, and the
//! loop that runs it in user mode and serves its system calls and faults.
//!
//! One process today (the container's init). The types are built for more: everything a
//! process owns is in [`Process`], nothing in globals, so `fork` is a matter of cloning it
//! and the scheduler a matter of choosing which one calls [`run`] next.

pub mod caps;
#[cfg(target_os = "none")]
pub mod deliver;
#[cfg(target_os = "none")]
pub mod exec;
pub mod fd_table;
#[cfg(target_os = "none")]
pub mod signal;

#[cfg(target_os = "none")]
pub use running::*;

#[cfg(target_os = "none")]
mod running {
    use alloc::sync::Arc;
    use alloc::vec::Vec;

    use vfs_core::{FsContext, OpenFile};

    use super::fd_table::FdTable;
    pub use super::signal::{Signal, SignalState};
    use crate::mm::address_space::{Access, AddressSpace, FaultError};
    use arch::user::{UserContext, UserExit};

    /// Real, effective and saved user and group ids, and the supplementary groups. The
    /// filesystem checks use the effective ids (Linux's fsuid follows euid).
    #[derive(Clone, Debug, Default)]
    pub struct Ids {
        pub uid: u32,
        pub euid: u32,
        pub suid: u32,
        pub gid: u32,
        pub egid: u32,
        pub sgid: u32,
        pub groups: Vec<u32>,
    }

    /// Resource limits the sandbox reports (`getrlimit`/`prlimit64`), by `RLIMIT_*` number.
    #[derive(Clone, Debug)]
    pub struct Limits {
        pub values: [(u64, u64); 16],
    }

    pub const RLIM_INFINITY: u64 = u64::MAX;

    impl Default for Limits {
        fn default() -> Self {
            let mut values = [(RLIM_INFINITY, RLIM_INFINITY); 16];
            values[3] = (8 << 20, RLIM_INFINITY); // RLIMIT_STACK
            values[4] = (0, RLIM_INFINITY); // RLIMIT_CORE
            values[6] = (4096, 4096); // RLIMIT_NPROC
            values[7] = (super::fd_table::DEFAULT_MAX_FILES as u64, 4096); // RLIMIT_NOFILE
            values[8] = (8 << 20, 8 << 20); // RLIMIT_MEMLOCK
            values[14] = (0, 0); // RLIMIT_RTPRIO
            Self { values }
        }
    }

    pub struct Process {
        pub pid: u32,
        pub mm: AddressSpace,
        pub fs: FsContext,
        pub files: FdTable<Arc<OpenFile>>,
        pub context: UserContext,
        pub ids: Ids,
        /// Capability sets, securebits and `no_new_privs` ([`super::caps`]).
        pub caps: super::caps::Capabilities,
        pub signals: SignalState,
        pub limits: Limits,
        /// `set_tid_address`: cleared (and futex-woken) when the thread exits.
        pub clear_child_tid: u64,
        pub robust_list: (u64, u64),
        /// The name `/proc/self/comm` shows: the executable's file name, as Linux sets it.
        pub name: Vec<u8>,
        /// A signal sent to this process whose default action ends it, to act on when the
        /// current system call returns.
        pub pending_termination: Option<u8>,
        /// The FPU registers of the code each running signal handler interrupted,
        /// innermost last ([`super::deliver`]).
        pub signal_fpu: Vec<arch::fpu::FpuState>,
        /// When its thread started running it (monotonic ns), and the time it has spent
        /// in user mode since: CPU-time accounting (`getrusage`, `times`).
        pub started_ns: i64,
        pub user_ns: u64,
        /// What the running image was started with (`/proc/self/cmdline`, `environ`, `exe`).
        pub argv: Vec<Vec<u8>>,
        pub envp: Vec<Vec<u8>>,
        pub exe: Vec<u8>,
    }

    /// How a process ended, as `wait` and a shell report it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Termination {
        Exited(u8),
        /// By the signal with this number.
        Killed(u8),
    }

    impl Termination {
        /// The status a shell (and `docker run`) reports: the exit code, or 128 + signal.
        pub fn shell_status(self) -> u8 {
            match self {
                Termination::Exited(code) => code,
                Termination::Killed(signal) => 128u8.wrapping_add(signal),
            }
        }
    }

    impl Process {
        /// Keeps the filesystem identity in step with the effective ids and capabilities.
        pub fn sync_credentials(&mut self) {
            self.fs.cred.uid = self.ids.euid;
            self.fs.cred.gid = self.ids.egid;
            self.fs.cred.groups = self.ids.groups.clone();
            self.fs.cred.caps = self.caps.effective;
        }

        /// `capable(cap)`: whether the effective set holds `cap`.
        pub fn capable(&self, cap: u32) -> bool {
            self.caps.has(cap)
        }
    }

    /// What the system call layer tells the run loop after a call.
    pub enum Flow {
        Continue,
        Exit(Termination),
    }

    /// Runs `process` until it ends.
    pub fn run(process: &mut Process) -> Termination {
        // The same fault (instruction, address, error) twice in a row with nothing between
        // means the page tables disagree with the areas: the mapping is refreshed once;
        // a third time it is the program's fault. Any system call or interrupt in between
        // resets this (the program may have unmapped and mapped the page again).
        let mut last_fault = None;
        let mut repeats = 0;
        loop {
            process.mm.activate();
            let entered = crate::clock::monotonic_ns();
            let exit = process.context.execute();
            process.user_ns += (crate::clock::monotonic_ns() - entered).max(0) as u64;
            match exit {
                UserExit::Syscall => {
                    last_fault = None;
                    let number = process.context.rax;
                    if let Flow::Exit(termination) = crate::syscall::dispatch(process) {
                        return termination;
                    }
                    crate::task::oom::reclaim_after_refusals(process);
                    if crate::syscall::changes_what_proc_shows(number)
                        || process.files.has_changes()
                    {
                        crate::views::publish_changes(process);
                    }
                    // A call that returned `EINTR` may be restarted; `rt_sigreturn` put back
                    // registers of its own, which are not a call's result.
                    let returned =
                        (number != crate::abi::syscall_numbers::RT_SIGRETURN).then_some(number);
                    if let Some(termination) = super::deliver::deliver_pending(process, returned) {
                        return termination;
                    }
                }
                UserExit::Exception {
                    vector,
                    error,
                    address,
                } => {
                    log::trace!(target: "process", "exception {vector} error={error:#x} address={address:#x} rip={:#x}", process.context.rip);
                    let this_fault = Some((process.context.rip, address, error));
                    repeats = if vector == 14 && this_fault == last_fault {
                        repeats + 1
                    } else {
                        0
                    };
                    last_fault = this_fault;
                    if repeats == 1 {
                        process.mm.refresh_mapping(address);
                        continue;
                    }
                    let stuck = (repeats > 1).then_some(Signal::SIGSEGV);
                    let raised = match stuck {
                        Some(signal) => Some(signal),
                        None => match handle_exception(process, vector, error, address) {
                            Handled::Resolved => None,
                            Handled::Raise(signal) => Some(signal),
                            Handled::Retry => {
                                // Memory was freed for it: the same fault again is news.
                                last_fault = None;
                                None
                            }
                        },
                    };
                    if let Some(signal) = raised {
                        // A handler may catch a fault's signal (not an out-of-memory kill,
                        // not a fault repeating on the same instruction).
                        if stuck.is_none() && signal != Signal::SIGKILL {
                            let Some(termination) =
                                super::deliver::deliver_fault(process, signal as u8, address)
                            else {
                                last_fault = None;
                                continue;
                            };
                            log::info!(target: "process", "pid {} ended by {termination:?}: {} at rip={:#x} address={address:#x}", process.pid, exception_name(vector), process.context.rip);
                            return termination;
                        }
                        log::info!(
                            target: "process",
                            "pid {} killed by {signal:?}: {} at rip={:#x} address={address:#x}",
                            process.pid,
                            exception_name(vector),
                            process.context.rip
                        );
                        return Termination::Killed(signal as u8);
                    }
                }
                UserExit::Interrupt { .. } => {
                    last_fault = None;
                    crate::task::scheduler::tick();
                    if let Some(termination) = super::deliver::deliver_pending(process, None) {
                        return termination;
                    }
                }
            }
        }
    }

    /// What became of an exception.
    enum Handled {
        Resolved,
        /// Out of memory, and the OOM killer freed some: run the instruction again.
        Retry,
        Raise(Signal),
    }

    /// Resolves a fault if it can (demand paging, the OOM killer); otherwise the signal it
    /// raises.
    fn handle_exception(process: &mut Process, vector: u8, error: u64, address: u64) -> Handled {
        const PAGE_FAULT: u8 = 14;
        let signal = match vector {
            PAGE_FAULT => {
                let access = if error & 0x10 != 0 {
                    Access::Execute
                } else if error & 0x2 != 0 {
                    Access::Write
                } else {
                    Access::Read
                };
                match process.mm.handle_fault(address, access) {
                    Ok(()) => return Handled::Resolved,
                    Err(FaultError::Segv) => Signal::SIGSEGV,
                    Err(FaultError::Bus) => Signal::SIGBUS,
                    Err(FaultError::OutOfMemory) => {
                        match crate::task::oom::out_of_memory(process) {
                            crate::task::oom::Verdict::Retry => return Handled::Retry,
                            crate::task::oom::Verdict::KillSelf => Signal::SIGKILL,
                        }
                    }
                }
            }
            0 | 16 | 19 => Signal::SIGFPE, // divide error, x87 and SIMD floating point
            1 | 3 => Signal::SIGTRAP,
            6 => Signal::SIGILL,
            17 => Signal::SIGBUS, // alignment check
            _ => Signal::SIGSEGV, // #GP, #SS, #NP and the rest
        };
        Handled::Raise(signal)
    }

    fn exception_name(vector: u8) -> &'static str {
        match vector {
            0 => "divide error",
            3 => "breakpoint",
            6 => "invalid opcode",
            13 => "general protection fault",
            14 => "page fault",
            _ => "CPU exception",
        }
    }
}
