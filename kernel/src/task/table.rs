//! The process table: every process's pid, parent, group, session and state, shared by
//! all of them (a process's own [`crate::process::Process`] is private to its thread).
//!
//! A process that ends stays here as a zombie, holding its status, until its parent reaps
//! it with `wait4`/`waitid`; its children pass to the init (pid 1), which reaps orphans.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::AtomicU64;

use arch::thread::Thread;
use spin::Mutex;

use super::WaitQueue;
use super::shared::Task;
use crate::process::Termination;
use crate::process::signal::{CLD_DUMPED, CLD_EXITED, CLD_KILLED, SigInfo, bit};

/// The container's init, every orphan's new parent.
pub const INIT_PID: u32 = 1;
/// Linux's default `pid_max`; pids are handed out upward and wrap past it.
const PID_MAX: u32 = 32768;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Running,
    Zombie(Termination),
}

pub struct Entry {
    pub parent: u32,
    pub pgid: u32,
    pub sid: u32,
    pub state: State,
    /// Signals other processes sent (`kill`, `SIGCHLD`), moved into the process's own
    /// pending set at its next return to user mode.
    pub pending: Vec<SigInfo>,
    /// Mirrors of the process's signal state that senders and blocked calls need: the
    /// blocked mask, the signals it drops, the signals it has handlers for.
    pub blocked: u64,
    pub ignored: u64,
    pub handled: u64,
    /// The signal its parent gets when it ends (`clone`'s low byte; `SIGCHLD` for `fork`).
    pub exit_signal: u8,
    /// Its children's exits (the parent's `wait4` sleeps here).
    pub child_events: Arc<WaitQueue>,
    /// Set while a `vfork` child has neither exec'd nor exited; its parent sleeps on
    /// `vfork_done` until then.
    pub vfork_parent_waiting: bool,
    pub vfork_done: Arc<WaitQueue>,
    /// The kernel thread running it, woken when a signal arrives so a blocked call sees it.
    pub thread: Option<Arc<Thread>>,
    /// Stopped by a stop signal (`SIGSTOP`, `SIGTSTP`…) until a `SIGCONT`.
    pub stopped: bool,
    /// A stop or continue its parent has not yet seen through `wait` (`WUNTRACED`,
    /// `WCONTINUED`).
    pub unreported: Option<JobEvent>,
    /// `PR_SET_CHILD_SUBREAPER`: orphans below it come to it rather than to the init.
    pub subreaper: bool,
    /// CPU time (ns) of its reaped children and theirs, for `getrusage(RUSAGE_CHILDREN)`
    /// and `times`; and its own, filled in when it ends.
    pub children_cpu: CpuTime,
    pub own_cpu: CpuTime,
    /// `ITIMER_REAL`/`alarm`: the next expiry (monotonic ns) and the interval after it.
    pub alarm: Option<(i64, i64)>,
    /// It ended by a signal that dumps core, with a core size limit that allowed one (the
    /// sandbox writes no file; the wait status carries the flag as Linux's would).
    pub core_dumped: bool,
    /// The shared half of the process (`/proc`, `kill`'s permission check, `capget`):
    /// set once its first thread exists.
    pub task: Option<Arc<Task>>,
    /// Pages its address space holds, kept up to date by the address space itself: what
    /// the OOM killer weighs ([`super::oom`]), read without the address space's lock.
    pub resident_pages: Arc<AtomicU64>,
}

/// A stop or a continue of a child, as `wait` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobEvent {
    Stopped(u8),
    Continued,
}

/// User and system CPU time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    pub user_ns: u64,
    pub system_ns: u64,
}

impl CpuTime {
    pub fn add(self, other: CpuTime) -> CpuTime {
        CpuTime {
            user_ns: self.user_ns + other.user_ns,
            system_ns: self.system_ns + other.system_ns,
        }
    }
}

pub struct Table {
    entries: BTreeMap<u32, Entry>,
    last_pid: u32,
    /// The spec's `linux.resources.pids.limit`: processes (zombies included, as the pids
    /// cgroup counts them) at most.
    pub pids_limit: Option<u64>,
}

pub static TABLE: Mutex<Table> = Mutex::new(Table {
    entries: BTreeMap::new(),
    last_pid: 0,
    pids_limit: None,
});

impl Table {
    pub fn get(&self, pid: u32) -> Option<&Entry> {
        self.entries.get(&pid)
    }

    pub fn get_mut(&mut self, pid: u32) -> Option<&mut Entry> {
        self.entries.get_mut(&pid)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds a running process under `parent` (in its group and session); `None` when every
    /// pid is taken.
    pub fn insert(&mut self, parent: u32, pgid: u32, sid: u32) -> Option<u32> {
        let pid = self.free_pid()?;
        self.insert_with_pid(pid, parent, pgid, sid);
        Some(pid)
    }

    /// Adds the init, or another process whose pid is already decided.
    pub fn insert_with_pid(&mut self, pid: u32, parent: u32, pgid: u32, sid: u32) {
        self.entries.insert(
            pid,
            Entry {
                parent,
                pgid,
                sid,
                state: State::Running,
                pending: Vec::new(),
                blocked: 0,
                ignored: crate::process::signal::bit(17)
                    | crate::process::signal::bit(23)
                    | crate::process::signal::bit(28),
                handled: 0,
                exit_signal: crate::process::signal::SIGCHLD,
                child_events: Arc::new(WaitQueue::new()),
                vfork_parent_waiting: false,
                vfork_done: Arc::new(WaitQueue::new()),
                thread: None,
                stopped: false,
                unreported: None,
                subreaper: false,
                children_cpu: CpuTime::default(),
                own_cpu: CpuTime::default(),
                alarm: None,
                core_dumped: false,
                task: None,
                resident_pages: Arc::new(AtomicU64::new(0)),
            },
        );
        self.last_pid = self.last_pid.max(pid);
    }

    fn free_pid(&mut self) -> Option<u32> {
        let mut candidate = self.last_pid;
        for _ in 0..PID_MAX {
            candidate = if candidate + 1 >= PID_MAX {
                2
            } else {
                candidate + 1
            };
            if !self.entries.contains_key(&candidate) {
                self.last_pid = candidate;
                return Some(candidate);
            }
        }
        None
    }

    /// The children of `parent`, with their state.
    pub fn children(&self, parent: u32) -> Vec<(u32, u32, State)> {
        self.entries
            .iter()
            .filter(|(_, entry)| entry.parent == parent)
            .map(|(&pid, entry)| (pid, entry.pgid, entry.state))
            .collect()
    }

    /// How many processes (zombies included) have `uid` as their real user id.
    pub fn processes_of_user(&self, uid: u32) -> u64 {
        self.entries
            .values()
            .filter_map(|entry| entry.task.as_ref())
            .filter(|task| task.with_identity(|identity| identity.ids.uid == uid))
            .count() as u64
    }

    pub fn pids_with_tasks(&self) -> Vec<u32> {
        self.entries
            .iter()
            .filter(|(_, entry)| entry.task.is_some())
            .map(|(&pid, _)| pid)
            .collect()
    }

    /// Pids of the running processes (for `kill(-1)` and process groups).
    pub fn running(&self) -> impl Iterator<Item = (u32, &Entry)> {
        self.entries
            .iter()
            .filter(|(_, entry)| entry.state == State::Running)
            .map(|(&pid, entry)| (pid, entry))
    }

    /// Who adopts the orphans of `pid`: its nearest living ancestor that is a subreaper,
    /// else the init.
    fn reaper_for(&self, pid: u32) -> u32 {
        let mut at = self.entries.get(&pid).map_or(0, |entry| entry.parent);
        for _ in 0..self.entries.len() {
            match self.entries.get(&at) {
                Some(entry) if entry.subreaper && entry.state == State::Running => return at,
                Some(entry) if at != INIT_PID => at = entry.parent,
                _ => break,
            }
        }
        INIT_PID
    }

    /// Records that `pid` ended (having used `cpu`): it becomes a zombie, its children
    /// pass to a subreaper or the init. Returns the queues to wake (its parent's and, for
    /// adopted zombies, the adopter's).
    pub fn mark_exited(
        &mut self,
        pid: u32,
        termination: Termination,
        cpu: CpuTime,
        core_dumped: bool,
    ) -> Vec<Arc<WaitQueue>> {
        let mut to_wake = Vec::new();
        let mut adopted_zombie = false;
        let reaper = self.reaper_for(pid);
        for (&child, entry) in self.entries.iter_mut() {
            if entry.parent == pid && child != pid {
                entry.parent = reaper;
                adopted_zombie |= matches!(entry.state, State::Zombie(_));
            }
        }
        if adopted_zombie && let Some(adopter) = self.entries.get(&reaper) {
            to_wake.push(adopter.child_events.clone());
        }
        let Some(entry) = self.entries.get_mut(&pid) else {
            return to_wake;
        };
        entry.state = State::Zombie(termination);
        entry.thread = None;
        entry.pending.clear();
        entry.alarm = None;
        entry.own_cpu = cpu;
        entry.core_dumped = core_dumped;
        to_wake.push(entry.vfork_done.clone());
        let (parent, exit_signal) = (entry.parent, entry.exit_signal);
        let (code, status) = match termination {
            Termination::Exited(code) => (CLD_EXITED, i32::from(code)),
            Termination::Killed(signal) if core_dumped => (CLD_DUMPED, i32::from(signal)),
            Termination::Killed(signal) => (CLD_KILLED, i32::from(signal)),
        };
        let info = SigInfo {
            signo: exit_signal,
            code,
            pid,
            status,
            ..SigInfo::default()
        };
        if let Some(parent) = self.entries.get(&parent) {
            to_wake.push(parent.child_events.clone());
        }
        if exit_signal != 0 {
            self.send(parent, info);
        }
        to_wake
    }

    /// Queues a signal for a running process (dropped if it ignores it) and wakes its
    /// thread, so a blocked call can see it. Returns whether it was queued.
    pub fn send(&mut self, pid: u32, info: SigInfo) -> bool {
        let Some(entry) = self.entries.get_mut(&pid) else {
            return false;
        };
        // The init gets only the signals it has handlers for, whoever sends them: a
        // child's exit signal, its own alarm, a kill (Linux's `SIGNAL_UNKILLABLE`). A
        // blocked one is kept, as below: `sigtimedwait` may take it.
        if pid == INIT_PID
            && entry.handled & bit(info.signo) == 0
            && entry.blocked & bit(info.signo) == 0
        {
            return false;
        }
        // Blocked signals are never dropped: the handler may change before they are
        // unblocked (Linux's `sig_ignored`), and `sigtimedwait` takes them.
        let dropped = info.signo != 9
            && entry.ignored & bit(info.signo) != 0
            && entry.blocked & bit(info.signo) == 0;
        if entry.state != State::Running || dropped {
            return false;
        }
        const SIGCONT: u8 = 18;
        const STOP_SIGNALS: [u8; 4] = [19, 20, 21, 22];
        // A continue and a stop cancel each other's pending signals, as on Linux.
        if info.signo == SIGCONT {
            entry
                .pending
                .retain(|pending| !STOP_SIGNALS.contains(&pending.signo));
        } else if STOP_SIGNALS.contains(&info.signo) {
            entry.pending.retain(|pending| pending.signo != SIGCONT);
        }
        if !entry
            .pending
            .iter()
            .any(|pending| pending.signo == info.signo)
        {
            entry.pending.push(info);
        }
        if let Some(thread) = &entry.thread {
            super::scheduler::wake(thread);
        }
        crate::fs::event::signal_source::sent();
        let continues = info.signo == SIGCONT && entry.stopped;
        if continues {
            self.set_continued(pid);
        }
        true
    }

    /// `pid` stopped by `signo`: its parent may see it (`WUNTRACED`) and gets `SIGCHLD`.
    pub fn set_stopped(&mut self, pid: u32, signo: u8) -> Option<Arc<WaitQueue>> {
        let entry = self.entries.get_mut(&pid)?;
        entry.stopped = true;
        entry.unreported = Some(JobEvent::Stopped(signo));
        let parent = entry.parent;
        let info = SigInfo {
            signo: crate::process::signal::SIGCHLD,
            code: crate::process::signal::CLD_STOPPED,
            pid,
            status: i32::from(signo),
            ..SigInfo::default()
        };
        self.send(parent, info);
        self.entries
            .get(&parent)
            .map(|entry| entry.child_events.clone())
    }

    /// `pid` continued: its parent may see it (`WCONTINUED`) and gets `SIGCHLD`.
    fn set_continued(&mut self, pid: u32) {
        let Some(entry) = self.entries.get_mut(&pid) else {
            return;
        };
        entry.stopped = false;
        entry.unreported = Some(JobEvent::Continued);
        let parent = entry.parent;
        let info = SigInfo {
            signo: crate::process::signal::SIGCHLD,
            code: crate::process::signal::CLD_CONTINUED,
            pid,
            status: 18,
            ..SigInfo::default()
        };
        self.send(parent, info);
        if let Some(parent) = self.entries.get(&parent) {
            parent.child_events.wake_all();
        }
    }

    /// Sends `SIGALRM` to every process whose real timer expired by `now`, re-arming
    /// interval timers; returns the earliest expiry still armed.
    pub fn fire_alarms(&mut self, now: i64) -> Option<i64> {
        let due: Vec<u32> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.alarm.is_some_and(|(at, _)| at <= now))
            .map(|(&pid, _)| pid)
            .collect();
        for pid in due {
            let Some(entry) = self.entries.get_mut(&pid) else {
                continue;
            };
            entry.alarm = match entry.alarm {
                Some((at, interval)) if interval > 0 => {
                    let missed = (now - at) / interval + 1;
                    Some((at + missed * interval, interval))
                }
                _ => None,
            };
            self.send(
                pid,
                SigInfo {
                    signo: 14,
                    code: crate::process::signal::SI_KERNEL,
                    ..SigInfo::default()
                },
            );
        }
        self.entries
            .values()
            .filter_map(|entry| entry.alarm.map(|(at, _)| at))
            .min()
    }

    /// Removes a reaped zombie.
    pub fn remove(&mut self, pid: u32) {
        self.entries.remove(&pid);
    }
}
