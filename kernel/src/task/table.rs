//! The process table: every process's pid, parent, group, session and state, shared by
//! all of them (a process's own [`crate::process::Process`] is private to its thread).
//!
//! A process that ends stays here as a zombie, holding its status, until its parent reaps
//! it with `wait4`/`waitid`; its children pass to the init (pid 1), which reaps orphans.
//!
//! Threads: every thread has an entry, keyed by its thread id; a process (a thread group)
//! is its leader's entry, whose tid is the process id (Linux's tgid). What belongs to the
//! process — parent, group, session, exit status, children's events, the real timer, a stop
//! of the whole group, the signals sent to the process — is kept in the leader's entry
//! even after the leader's own thread has ended, until the last thread of the group ends.
//! What belongs to a thread — its kernel thread, its blocked mask, the signals sent to it
//! alone (`tgkill`) — is in each thread's entry.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use arch::thread::Thread;
use spin::Mutex;

use super::WaitQueue;

/// Grows whenever the table gets something a thread must act on when it next returns to
/// user mode: a signal for it or its process, an order to end, a stop. A thread that
/// found nothing at some value need not look again until it changes (or its mask does):
/// every return to user mode would otherwise take `TABLE`'s lock, which all CPUs share.
/// Bumped under the lock, after the change and before the wake-up.
pub static ARRIVALS: AtomicU64 = AtomicU64::new(0);

pub(super) fn note_arrival() {
    ARRIVALS.fetch_add(1, Ordering::Release);
}
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
    /// The process (thread group) this thread belongs to: its leader's tid.
    pub tgid: u32,
    /// Its kernel thread still runs (a leader's entry outlives its thread while other
    /// threads of the group run).
    pub alive: bool,
    /// `sched_setscheduler`'s policy and priority, reported back (`SCHED_OTHER`, 0 first).
    pub sched_policy: (u64, u32),
    /// The thread must end: its group is exiting (`exit_group`, a fatal signal), or another
    /// thread of it is exec'ing.
    pub must_end: bool,
    pub parent: u32,
    pub pgid: u32,
    pub sid: u32,
    /// Leader only: the id of its controlling terminal (`signal->tty`; 0: none), which
    /// `fork` passes on and `setsid` drops (see `crate::tty::session`).
    pub ctty: u64,
    pub state: State,
    /// Signals sent to this thread alone (`tgkill`, its own faults), moved into its own
    /// pending set at its next return to user mode.
    pub pending: Vec<SigInfo>,
    /// Leader only: signals sent to the process (`kill`, `SIGCHLD`), taken by whichever of
    /// its threads does not block them first (Linux's `signal->shared_pending`).
    pub shared_pending: Vec<SigInfo>,
    /// Leader only: how the group ends, set by the first `exit_group` or fatal signal.
    pub group_exit: Option<Termination>,
    /// Leader only: woken whenever one of its threads ends (an exec waits for the others).
    pub thread_exits: Arc<WaitQueue>,
    /// Mirrors of the thread's signal state that senders and blocked calls need: the
    /// blocked mask, the signals it drops, the signals it has handlers for (the last two
    /// are the group's: its threads share their handlers).
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
                tgid: pid,
                alive: true,
                sched_policy: (0, 0),
                must_end: false,
                parent,
                pgid,
                sid,
                ctty: 0,
                state: State::Running,
                pending: Vec::new(),
                shared_pending: Vec::new(),
                group_exit: None,
                thread_exits: Arc::new(WaitQueue::new()),
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

    /// Adds a thread to the process `tgid` (`clone(CLONE_THREAD)`); `None` when every id is
    /// taken or the process is gone.
    pub fn insert_thread(&mut self, tgid: u32) -> Option<u32> {
        let (parent, pgid, sid) = {
            let leader = self.entries.get(&tgid)?;
            (leader.parent, leader.pgid, leader.sid)
        };
        let tid = self.free_pid()?;
        self.insert_with_pid(tid, parent, pgid, sid);
        if let Some(entry) = self.entries.get_mut(&tid) {
            entry.tgid = tgid;
            entry.exit_signal = 0;
        }
        Some(tid)
    }

    /// The thread ids of the process `tgid` whose threads still run, leader first.
    pub fn threads_of(&self, tgid: u32) -> Vec<u32> {
        self.entries
            .iter()
            .filter(|(_, entry)| entry.tgid == tgid && entry.alive)
            .map(|(&tid, _)| tid)
            .collect()
    }

    /// The process a thread belongs to.
    pub fn tgid_of(&self, tid: u32) -> Option<u32> {
        self.entries.get(&tid).map(|entry| entry.tgid)
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
            .filter(|(pid, entry)| entry.parent == parent && entry.tgid == **pid)
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

    /// Processes (thread group leaders) with a task, in order: what `/proc` lists.
    pub fn pids_with_tasks(&self) -> Vec<u32> {
        self.entries
            .iter()
            .filter(|(pid, entry)| entry.task.is_some() && entry.tgid == **pid)
            .map(|(&pid, _)| pid)
            .collect()
    }

    /// Pids of the running processes (for `kill(-1)` and process groups): their leaders'
    /// entries.
    pub fn running(&self) -> impl Iterator<Item = (u32, &Entry)> {
        self.entries
            .iter()
            .filter(|(pid, entry)| entry.state == State::Running && entry.tgid == **pid)
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
            if entry.parent == pid && child != pid && entry.tgid != pid {
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
        entry.alive = false;
        entry.pending.clear();
        entry.shared_pending.clear();
        entry.alarm = None;
        entry.own_cpu = entry.own_cpu.add(cpu);
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

    /// Queues a signal for a running process (dropped if it ignores it) and wakes one of
    /// its threads that does not block it, so a blocked call can see it. `pid` may name
    /// any thread of the process (`kill` of a thread id signals its process, as Linux's).
    /// Returns whether it was queued.
    pub fn send(&mut self, pid: u32, info: SigInfo) -> bool {
        self.send_from(pid, info, false)
    }

    /// [`Table::send`], for a signal from outside the container when `outside` (the
    /// host's runtime, in Linux's terms an ancestor pid namespace): the init then takes
    /// `SIGKILL` and `SIGSTOP` too, as Linux forces them on a namespace's init from above.
    pub fn send_from(&mut self, pid: u32, info: SigInfo, outside: bool) -> bool {
        let Some(tgid) = self.tgid_of(pid) else {
            return false;
        };
        let threads = self.threads_of(tgid);
        let blocked_by_all = !threads.is_empty()
            && threads.iter().all(|tid| {
                self.entries
                    .get(tid)
                    .is_some_and(|entry| entry.blocked & bit(info.signo) != 0)
            });
        let Some(leader) = self.entries.get_mut(&tgid) else {
            return false;
        };
        if !admits(leader, info, blocked_by_all, outside) {
            return false;
        }
        if info.signo == 9 {
            // Nothing catches it: every thread ends now, wherever it waits.
            leader.stopped = false;
            self.end_group(tgid, 0, Some(Termination::Killed(9)));
            return true;
        }
        queue_signal(&mut leader.shared_pending, info);
        note_arrival();
        crate::fs::event::signal_source::sent();
        let continues = info.signo == SIGCONT && leader.stopped;
        // The thread to wake: one that does not block it (the leader first, as Linux's
        // `complete_signal`), or any, so a `sigtimedwait` for it sees it.
        let chosen = threads
            .iter()
            .find(|tid| {
                self.entries
                    .get(tid)
                    .is_some_and(|entry| info.signo == 9 || entry.blocked & bit(info.signo) == 0)
            })
            .or(threads.first());
        if let Some(thread) = chosen.and_then(|tid| self.entries.get(tid)?.thread.clone()) {
            super::scheduler::wake(&thread);
        }
        if continues {
            self.set_continued(tgid);
            for tid in threads {
                if let Some(thread) = self
                    .entries
                    .get(&tid)
                    .and_then(|entry| entry.thread.clone())
                {
                    super::scheduler::wake(&thread);
                }
            }
        }
        true
    }

    /// Queues a signal for one thread (`tgkill`, `tkill`) and wakes it. Returns whether it
    /// was queued.
    pub fn send_to_thread(&mut self, tid: u32, info: SigInfo) -> bool {
        let Some(entry) = self.entries.get_mut(&tid) else {
            return false;
        };
        if !entry.alive {
            return false;
        }
        let blocked = entry.blocked & bit(info.signo) != 0;
        let tgid = entry.tgid;
        let Some(leader) = self.entries.get(&tgid) else {
            return false;
        };
        if !admits(leader, info, blocked, false) {
            return false;
        }
        let stopped = leader.stopped;
        let Some(entry) = self.entries.get_mut(&tid) else {
            return false;
        };
        queue_signal(&mut entry.pending, info);
        note_arrival();
        if let Some(thread) = &entry.thread {
            super::scheduler::wake(thread);
        }
        crate::fs::event::signal_source::sent();
        if info.signo == SIGCONT && stopped {
            self.set_continued(tgid);
            for other in self.threads_of(tgid) {
                if let Some(thread) = self
                    .entries
                    .get(&other)
                    .and_then(|entry| entry.thread.clone())
                {
                    super::scheduler::wake(&thread);
                }
            }
        }
        true
    }

    /// Asks every thread of `tgid` but `except` to end, and wakes them (a blocked call
    /// sees it as a pending signal). The first caller's `termination` is the group's.
    pub fn end_group(&mut self, tgid: u32, except: u32, termination: Option<Termination>) {
        if let Some(leader) = self.entries.get_mut(&tgid)
            && leader.group_exit.is_none()
        {
            leader.group_exit = termination;
        }
        for tid in self.threads_of(tgid) {
            if tid == except {
                continue;
            }
            if let Some(entry) = self.entries.get_mut(&tid) {
                entry.must_end = true;
                note_arrival();
                if let Some(thread) = &entry.thread {
                    super::scheduler::wake(thread);
                }
            }
        }
    }

    /// `pid` stopped by `signo`: its parent may see it (`WUNTRACED`) and gets `SIGCHLD`.
    pub fn set_stopped(&mut self, pid: u32, signo: u8) -> Option<Arc<WaitQueue>> {
        let entry = self.entries.get_mut(&pid)?;
        entry.stopped = true;
        note_arrival();
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

    /// Removes a reaped zombie, or an ended thread that is not its group's leader.
    pub fn remove(&mut self, pid: u32) {
        self.entries.remove(&pid);
    }
}

const SIGCONT: u8 = 18;
const STOP_SIGNALS: [u8; 4] = [19, 20, 21, 22];

/// Whether the process whose leader is `leader` takes `info` at all: the init only the
/// signals it has handlers for, whoever sends them (Linux's `SIGNAL_UNKILLABLE`; a
/// blocked one is kept: `sigtimedwait` may take it); nobody an ignored one, unless
/// `blocked` (the handler may change before it is unblocked: Linux's `sig_ignored`).
fn admits(leader: &Entry, info: SigInfo, blocked: bool, outside: bool) -> bool {
    let forced = outside && matches!(info.signo, 9 | 19);
    if leader.tgid == INIT_PID && leader.handled & bit(info.signo) == 0 && !blocked && !forced {
        return false;
    }
    let dropped = info.signo != 9 && leader.ignored & bit(info.signo) != 0 && !blocked;
    leader.state == State::Running && !dropped
}

/// Adds `info` to a pending queue: a continue and a stop cancel each other's pending
/// signals, as on Linux; a standard signal already pending is not queued twice, a
/// real-time one is (up to a bound: Linux's `RLIMIT_SIGPENDING` is per user).
fn queue_signal(pending: &mut Vec<SigInfo>, info: SigInfo) {
    const MAX_QUEUED: usize = 1024;
    const SIGRTMIN: u8 = 32;
    if info.signo == SIGCONT {
        pending.retain(|pending| !STOP_SIGNALS.contains(&pending.signo));
    } else if STOP_SIGNALS.contains(&info.signo) {
        pending.retain(|pending| pending.signo != SIGCONT);
    }
    let already = pending.iter().any(|pending| pending.signo == info.signo);
    if (info.signo >= SIGRTMIN || !already) && pending.len() < MAX_QUEUED {
        pending.push(info);
    }
}
