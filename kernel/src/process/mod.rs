//! process: a running program as its own thread holds it: registers, identity, signal
//! state and limits ([`Process`]), with handles to the parts it may share with others
//! (address space, descriptor table, fs context: [`crate::task::shared`]); how signals are
//! delivered ([`deliver`]), how a program is loaded ([`exec`]) with the vDSO ([`vdso`]),
//! the descriptor table ([`fd_table`]) and capabilities ([`caps`]).
//!
//! The loop that runs a process is in the task layer ([`crate::task::run`]), above the
//! system-call families, which take `&mut Process`.

pub mod caps;
#[cfg(target_os = "none")]
pub mod deliver;
#[cfg(target_os = "none")]
pub mod exec;
pub mod fd_table;
#[cfg(target_os = "none")]
pub mod signal;
#[cfg(target_os = "none")]
pub mod vdso;

#[cfg(target_os = "none")]
pub use running::*;

#[cfg(target_os = "none")]
mod running {
    use alloc::sync::Arc;
    use alloc::vec::Vec;

    use vfs_core::FsContext;

    pub use super::signal::{Signal, SignalState};
    use crate::mm::address_space::AddressSpace;
    use crate::task::shared::{Files, Shared, Task};
    use arch::user::UserContext;

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

    /// A running process as its own kernel thread holds it: registers and what only this
    /// thread touches, and handles to the parts it shares ([`Task`]: the half that others
    /// reach). A part is locked for one operation at a time (see [`crate::task::shared`]).
    pub struct Process {
        /// The process id (the thread group's: Linux's tgid), what `getpid` returns.
        pub pid: u32,
        /// This thread's id (`gettid`), the key of its entry in the task table; the pid
        /// for a process's first thread.
        pub tid: u32,
        pub task: Arc<Task>,
        pub mm: Shared<AddressSpace>,
        pub fs: Shared<FsContext>,
        pub files: Shared<Files>,
        pub context: UserContext,
        pub ids: Ids,
        /// Capability sets, securebits and `no_new_privs` ([`super::caps`]).
        pub caps: super::caps::Capabilities,
        pub signals: SignalState,
        pub limits: Limits,
        /// `set_tid_address`: cleared (and futex-woken) when the thread exits.
        pub clear_child_tid: u64,
        pub robust_list: (u64, u64),
        /// A signal sent to this process whose default action ends it, to act on when the
        /// current system call returns.
        pub pending_termination: Option<u8>,
        /// (tid, accepted signals, [`crate::task::lifecycle::arrivals_generation`]) when
        /// the table last had nothing for this thread: while all three hold, the way back
        /// to user mode skips the table (`deliver::deliver_pending`).
        pub quiet_since: Option<(u32, u64, u64)>,
        /// When its thread started running it (monotonic ns): CPU-time accounting
        /// (`getrusage`, `times`; the time in user mode is its kernel thread's count).
        pub started_ns: i64,
        /// The bounce buffer of this thread's reads and writes, kept between calls (up
        /// to `syscall::PREPAID_SCRATCH` bytes, which its charge already covers) so a
        /// stream of 64 KiB transfers neither allocates nor zeroes one per call.
        pub scratch: alloc::vec::Vec<u8>,
        /// `epoll_wait`'s buffers, kept between calls (see [`crate::fs::event::epoll::Harvest`]).
        pub epoll_harvest: crate::fs::event::epoll::Harvest,
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
        /// After the ids or capabilities changed: the filesystem identity follows the
        /// effective ids and capabilities, and the task shows the new identity to others
        /// (`kill`'s permission check, `capget` of this pid, `/proc/<pid>/status`).
        pub fn sync_credentials(&mut self) {
            {
                let mut fs = self.fs.lock();
                fs.cred.uid = self.ids.euid;
                fs.cred.gid = self.ids.egid;
                fs.cred.groups = self.ids.groups.clone();
                fs.cred.caps = self.caps.effective;
            }
            self.task.set_identity(crate::task::shared::Identity {
                ids: self.ids.clone(),
                caps: self.caps,
            });
        }

        /// The fs context as it is now, for a path walk. A walk must not hold the lock:
        /// it may read this process's own `/proc/self/cwd`, and opening a FIFO blocks.
        pub fn fs_context(&self) -> FsContext {
            self.fs.lock().clone()
        }

        /// Points the task at this thread's parts (after exec replaced the address space).
        pub fn publish_parts(&self) {
            self.task.set_parts(crate::task::shared::Parts {
                mm: Some(self.mm.clone()),
                files: Some(self.files.clone()),
                fs: Some(self.fs.clone()),
            });
        }

        /// `capable(cap)`: whether the effective set holds `cap`.
        pub fn capable(&self, cap: u32) -> bool {
            self.caps.has(cap)
        }
    }

    /// What the system call layer tells the run loop after a call.
    pub enum Flow {
        Continue,
        /// The whole process ends (`exit_group`, a fatal signal).
        Exit(Termination),
        /// This thread ends (`exit`); the process goes on while others run.
        ExitThread(u8),
    }
}
