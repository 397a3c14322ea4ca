//! A process's life as other processes see it: `fork`/`vfork`/`clone` make one, `exit`
//! ends one, `wait4`/`waitid` reap one, `kill` asks one to end.

use alloc::vec::Vec;

use arch::thread::Thread;
use vfs_core::Errno;

use super::shared::{Identity, Parts, Task, shared};
use super::table::{CpuTime, INIT_PID, JobEvent, State, TABLE};
use super::{WaitQueue, scheduler};
use crate::process::signal::{SigInfo, SignalState};
use crate::process::{Process, Termination};

// clone(2) flags.
const CSIGNAL: u64 = 0xff;
const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_PTRACE: u64 = 0x2000;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PARENT: u64 = 0x8000;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SYSVSEM: u64 = 0x40000;
const CLONE_SETTLS: u64 = 0x80000;
const CLONE_PARENT_SETTID: u64 = 0x100000;
const CLONE_CHILD_CLEARTID: u64 = 0x200000;
const CLONE_DETACHED: u64 = 0x400000;
const CLONE_UNTRACED: u64 = 0x800000;
const CLONE_CHILD_SETTID: u64 = 0x1000000;
/// The namespace flags (`CLONE_NEWNS` … `CLONE_NEWNET`, `CLONE_NEWCGROUP`, `CLONE_NEWTIME`
/// as `0x80`): a container in this sandbox cannot make namespaces.
const CLONE_NAMESPACES: u64 = 0x0002_0000
    | 0x0200_0000
    | 0x0400_0000
    | 0x0800_0000
    | 0x1000_0000
    | 0x2000_0000
    | 0x4000_0000
    | 0x80;
/// Flags this kernel takes.
const ACCEPTED_FLAGS: u64 = CSIGNAL
    | CLONE_SIGHAND
    | CLONE_THREAD
    | CLONE_FS
    | CLONE_FILES
    | CLONE_PTRACE
    | CLONE_VFORK
    | CLONE_PARENT
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_DETACHED
    | CLONE_UNTRACED
    | CLONE_CHILD_SETTID
    | CLONE_VM;

/// What `clone`/`clone3`/`fork`/`vfork` asked for.
#[derive(Clone, Copy, Debug, Default)]
pub struct CloneRequest {
    pub flags: u64,
    /// The child's stack pointer; 0 keeps the parent's.
    pub stack: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    pub tls: u64,
}

impl CloneRequest {
    pub fn fork() -> CloneRequest {
        CloneRequest {
            flags: 17, // SIGCHLD
            ..CloneRequest::default()
        }
    }

    pub fn vfork() -> CloneRequest {
        CloneRequest {
            flags: CLONE_VM | CLONE_VFORK | 17,
            ..CloneRequest::default()
        }
    }

    fn check(&self) -> Result<(), Errno> {
        let flags = self.flags;
        if flags & CLONE_NAMESPACES != 0 {
            return Err(Errno::EPERM);
        }
        if flags & CLONE_PIDFD != 0 {
            return Err(Errno::EINVAL);
        }
        // Linux's own consistency rules first, as it checks them.
        if flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0 {
            return Err(Errno::EINVAL);
        }
        if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 {
            return Err(Errno::EINVAL);
        }
        if flags & !ACCEPTED_FLAGS != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }
}

/// Registers the init (pid 1) and starts the scheduler's bookkeeping; `pids_limit` is the
/// spec's `linux.resources.pids.limit`.
pub fn register_init(pids_limit: Option<u64>, task: alloc::sync::Arc<Task>) {
    scheduler::init();
    let mut table = TABLE.lock();
    table.pids_limit = pids_limit;
    table.insert_with_pid(INIT_PID, 0, INIT_PID, INIT_PID);
    if let Some(init) = table.get_mut(INIT_PID) {
        arch::thread::current().set_owner(INIT_PID);
        init.thread = Some(arch::thread::current());
        init.task = Some(task);
    }
}

/// `fork`, `vfork`, and `clone`/`clone3` for a new process or thread: returns the child's
/// pid (a thread's tid) in the parent; the child returns 0 from the same call.
pub fn clone_process(p: &mut Process, request: CloneRequest) -> Result<u64, Errno> {
    request.check()?;
    let is_thread = request.flags & CLONE_THREAD != 0;
    let nproc_limit = p.limits.values[6].0;
    let exit_signal;
    let pid = {
        let mut table = TABLE.lock();
        let processes = table.len() as u64;
        let over_pids_limit = table.pids_limit.is_some_and(|limit| processes >= limit);
        // `RLIMIT_NPROC` counts the processes of the caller's real user (zombies too, until
        // reaped); root and holders of CAP_SYS_RESOURCE or CAP_SYS_ADMIN pass it, as
        // Linux's `copy_process` lets them.
        let exempt = p.ids.uid == 0
            || p.capable(vfs_core::cap::SYS_RESOURCE)
            || p.capable(vfs_core::cap::SYS_ADMIN);
        if (!exempt && table.processes_of_user(p.ids.uid) >= nproc_limit)
            || over_pids_limit
            || table.len() >= max_processes()
        {
            return Err(Errno::EAGAIN);
        }
        let me = table.get(p.pid).ok_or(Errno::ESRCH)?;
        let (pgid, sid, my_parent, ctty) = (me.pgid, me.sid, me.parent, me.ctty);
        if me.group_exit.is_some() {
            // The process is ending: no new thread or child may escape that.
            return Err(Errno::EAGAIN);
        }
        if is_thread {
            exit_signal = 0;
            table.insert_thread(p.pid).ok_or(Errno::EAGAIN)?
        } else {
            // A sibling (`CLONE_PARENT`) tells the parent of its end with the caller's own
            // exit signal, not one of its choosing (Linux's `copy_process`).
            exit_signal = if request.flags & CLONE_PARENT != 0 {
                me.exit_signal
            } else {
                (request.flags & CSIGNAL) as u8
            };
            let parent_pid = if request.flags & CLONE_PARENT != 0 {
                my_parent
            } else {
                p.pid
            };
            let pid = table.insert(parent_pid, pgid, sid).ok_or(Errno::EAGAIN)?;
            if let Some(child) = table.get_mut(pid) {
                child.ctty = ctty;
            }
            pid
        }
    };
    // The kernel's own part of a process (its kernel stack, thread and records), held by
    // its thread until it ends.
    let kernel_part = match crate::mm::budget::budget().charge(PROCESS_COST) {
        Ok(charge) => charge,
        Err(_) => {
            TABLE.lock().remove(pid);
            return Err(Errno::ENOMEM);
        }
    };
    let child = match make_child(p, pid, request) {
        Ok(child) => child,
        Err(errno) => {
            TABLE.lock().remove(pid);
            return Err(errno);
        }
    };
    if request.flags & CLONE_VM == 0 {
        super::oom::track(&child);
    }
    let vfork = request.flags & CLONE_VFORK != 0;
    if vfork && let Some(entry) = TABLE.lock().get_mut(pid) {
        entry.vfork_parent_waiting = true;
    }
    let task = child.task.clone();
    let run = move || {
        let _kernel_part = kernel_part;
        run_child(child);
    };
    let Some(thread) = Thread::new(run, arch::fpu_switch::current_state()) else {
        TABLE.lock().remove(pid);
        return Err(Errno::ENOMEM);
    };
    thread.set_owner(pid);
    // The child may run where its parent may (Linux copies the affinity mask).
    let parent_affinity = arch::thread::current()
        .affinity
        .load(core::sync::atomic::Ordering::Relaxed);
    thread
        .affinity
        .store(parent_affinity, core::sync::atomic::Ordering::Relaxed);
    if let Some(entry) = TABLE.lock().get_mut(pid) {
        entry.thread = Some(thread.clone());
        entry.task = Some(task);
        entry.exit_signal = exit_signal;
        entry.blocked = p.signals.blocked;
        entry.ignored = p.signals.ignored_mask();
        entry.handled = p.signals.handled_mask();
    }
    scheduler::spawn(thread);
    if vfork {
        wait_for_vfork_child(pid);
    }
    Ok(u64::from(pid))
}

/// What a process costs the kernel besides its memory: its kernel stack, its thread, its
/// `Process` and table entry, the snapshot `/proc` reads, and the working memory its
/// system calls may hold without charging it.
const PROCESS_COST: u64 =
    arch::thread::KERNEL_STACK_SIZE as u64 + 16 * 1024 + crate::syscall::PREPAID_SCRATCH as u64;

/// Processes at most, whatever the limits say: each holds a 64 KiB kernel stack, page
/// tables and bookkeeping (about 128 KiB before it touches anything), so a fork bomb gets
/// `EAGAIN` while half the memory is still free, never the kernel's heap exhausted.
fn max_processes() -> usize {
    const PER_PROCESS: u64 = 256 * 1024;
    const CEILING: usize = 4096;
    let (total, _) = arch::memory::memory_totals();
    ((total / PER_PROCESS) as usize).clamp(16, CEILING)
}

/// The new thread's `Process`; `tid` is its id (its pid, unless it is a thread).
fn make_child(p: &mut Process, tid: u32, request: CloneRequest) -> Result<Process, Errno> {
    let pid = tid;
    if request.flags & CLONE_PARENT_SETTID != 0 {
        // Written before the copy, so parent and child both see it (as with CLONE_VM).
        p.mm.lock().write(request.parent_tid, &pid.to_le_bytes())?;
    }
    let mm = if request.flags & CLONE_VM != 0 {
        if request.flags & CLONE_CHILD_SETTID != 0 {
            p.mm.lock().write(request.child_tid, &pid.to_le_bytes())?;
        }
        p.mm.clone()
    } else {
        let mut mm = p.mm.lock().fork()?;
        if request.flags & CLONE_CHILD_SETTID != 0 {
            mm.write(request.child_tid, &pid.to_le_bytes())?;
        }
        shared(mm)
    };
    let files = if request.flags & CLONE_FILES != 0 {
        p.files.clone()
    } else {
        shared(p.files.lock().try_clone()?)
    };
    let fs = if request.flags & CLONE_FS != 0 {
        p.fs.clone()
    } else {
        shared(p.fs_context())
    };
    let mut context = p.context.clone();
    context.rax = 0;
    if request.stack != 0 {
        context.rsp = request.stack;
    }
    if request.flags & CLONE_SETTLS != 0 {
        context.fs_base = request.tls;
    }
    let task = Task::new(
        pid,
        Parts {
            mm: Some(mm.clone()),
            files: Some(files.clone()),
            fs: Some(fs.clone()),
        },
        p.task.image(),
        Identity {
            ids: p.ids.clone(),
            caps: p.caps,
        },
    );
    let is_thread = request.flags & CLONE_THREAD != 0;
    Ok(Process {
        pid: if is_thread { p.pid } else { tid },
        tid,
        task,
        mm,
        fs,
        files,
        context,
        ids: p.ids.clone(),
        caps: p.caps,
        signals: {
            let mut signals = p.signals.for_child(request.flags & CLONE_SIGHAND != 0);
            // A child that shares the memory (a thread) must not share the alternate stack
            // too; a vfork child may, its parent waits (Linux's `sas_ss_reset`).
            if request.flags & (CLONE_VM | CLONE_VFORK) == CLONE_VM {
                signals.alt_stack = (0, crate::process::signal::SS_DISABLE, 0);
            }
            signals
        },
        limits: p.limits.clone(),
        clear_child_tid: if request.flags & CLONE_CHILD_CLEARTID != 0 {
            request.child_tid
        } else {
            0
        },
        robust_list: (0, 0),
        pending_termination: None,
        quiet_since: None,
        started_ns: crate::clock::monotonic_ns(),
        scratch: alloc::vec::Vec::new(),
        epoll_harvest: Default::default(),
    })
}

/// A child's kernel thread: its run loop, then its exit.
fn run_child(mut process: Process) {
    let ending = crate::task::run::run(&mut process);
    exit(process, ending);
}

/// How a thread ends: by itself (`exit`: its group goes on, unless it was the last), or
/// with its whole process (`exit_group`, a fatal signal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Thread(u8),
    Group(Termination),
}

/// Ends the thread that runs `process`: its memory and files go once no thread holds
/// them (so a pipe's reader sees end of file). The last thread of a process leaves its
/// status in the table for the parent.
pub fn exit(process: Process, ending: Ending) {
    let (tid, tgid) = (process.tid, process.pid);
    if let Ending::Group(termination) = ending {
        TABLE.lock().end_group(tgid, tid, Some(termination));
    }
    thread_cleanup(&process);
    log::debug!(target: "task", "tid {tid} of pid {tgid} ended: {ending:?}");
    let cpu = cpu_time(&process);
    const RLIMIT_CORE: usize = 4;
    let core_limit = process.limits.values[RLIMIT_CORE].0;
    let own_task = process.task.clone();
    drop(process);
    // The thread is gone: a non-leader's entry goes with it; the leader's stays for the
    // process. The process ends with its last thread.
    let (last, leader_task, group_exit, exits) = {
        let mut table = TABLE.lock();
        if let Some(entry) = table.get_mut(tid) {
            entry.alive = false;
            entry.thread = None;
            entry.pending.clear();
        }
        if tid != tgid {
            table.remove(tid);
        }
        let Some(leader) = table.get_mut(tgid) else {
            return;
        };
        leader.own_cpu = leader.own_cpu.add(cpu);
        let (leader_task, group_exit, exits) = (
            leader.task.clone(),
            leader.group_exit,
            leader.thread_exits.clone(),
        );
        (
            table.threads_of(tgid).is_empty(),
            leader_task,
            group_exit,
            exits,
        )
    };
    if tid != tgid {
        own_task.set_parts(Parts::default());
    }
    if !last {
        exits.wake_all();
        return;
    }
    let termination = match (group_exit, ending) {
        (Some(termination), _) | (None, Ending::Group(termination)) => termination,
        (None, Ending::Thread(code)) => Termination::Exited(code),
    };
    let core_dumped = match termination {
        Termination::Killed(signal) => {
            crate::process::signal::default_action(signal)
                == crate::process::signal::DefaultAction::Core
                && core_limit > 0
        }
        Termination::Exited(_) => false,
    };
    // A session leader's end takes the session's controlling terminal from it.
    crate::tty::session::process_ended(tgid);
    let groups_at_risk = crate::tty::session::groups_at_risk(tgid);
    // A zombie holds no memory or files.
    if let Some(task) = leader_task {
        task.set_parts(Parts::default());
    }
    // What its shared file mappings stored reaches the files before the parent can see
    // it ended.
    crate::mm::writeback::write_back_pending();
    let to_wake = TABLE
        .lock()
        .mark_exited(tgid, termination, CpuTime::default(), core_dumped);
    for queue in to_wake {
        queue.wake_all();
    }
    crate::tty::session::hang_up_orphaned(groups_at_risk);
    exits.wake_all();
}

/// The init's first thread ended with `ending`: ends it as any thread, then waits until
/// the init process itself has ended (its other threads may go on) and returns how.
pub fn end_init(process: Process, ending: Ending) -> Termination {
    end_and_wait(process, ending)
}

/// A process's first thread ended with `ending` (the init's, or a process the host
/// exec'd, whose status the kernel reports): ends it as any thread, then waits until the
/// process itself has ended and returns how. The zombie stays for its reaper.
pub fn end_and_wait(process: Process, ending: Ending) -> Termination {
    let pid = process.pid;
    exit(process, ending);
    loop {
        let queue = {
            let table = TABLE.lock();
            let Some(entry) = table.get(pid) else {
                return Termination::Exited(0);
            };
            if let State::Zombie(termination) = entry.state {
                return termination;
            }
            entry.thread_exits.prepare();
            entry.thread_exits.clone()
        };
        scheduler::block();
        queue.cancel();
    }
}

/// A signal from the host's runtime (outside the container) for the process `pid`: as
/// `kill` by a holder of `CAP_KILL` from an ancestor pid namespace — the init takes only
/// what it handles, and `SIGKILL` and `SIGSTOP` (Linux's rule for a namespace's init).
/// `ESRCH` if no such process runs.
pub fn signal_from_host(pid: u32, signo: u8) -> Result<(), Errno> {
    let mut table = TABLE.lock();
    let entry = table.get(pid).ok_or(Errno::ESRCH)?;
    if entry.state != State::Running {
        return Err(Errno::ESRCH);
    }
    if signo != 0 {
        table.send_from(pid, SigInfo::user(signo, 0, 0), true);
    }
    Ok(())
}

/// The pids of the processes that have not ended, in order (a runtime's `ps`).
pub fn live_pids() -> Vec<u32> {
    TABLE.lock().running().map(|(pid, _)| pid).collect()
}

/// What a thread's end does to its memory for the threads that share it: the robust
/// futexes it held are marked (`FUTEX_OWNER_DIED`), and its `clear_child_tid` word is
/// zeroed and woken (`pthread_join` waits on it).
fn thread_cleanup(process: &Process) {
    super::futex::release_at_exit(process);
}

/// `execve` in a process with several threads: the others end first, and the caller
/// becomes the leader if it was not (Linux's `de_thread`). `EAGAIN` if the process is
/// ending anyway (another thread called `exit_group`, or a fatal signal came): the
/// caller ends with it on its way out of `execve`.
pub fn end_other_threads(process: &mut Process) -> Result<(), Errno> {
    let (tid, tgid) = (process.tid, process.pid);
    loop {
        let queue = {
            let mut table = TABLE.lock();
            let ending = table
                .get(tgid)
                .is_some_and(|leader| leader.group_exit.is_some())
                || table.get(tid).is_some_and(|entry| entry.must_end);
            if ending {
                return Err(Errno::EAGAIN);
            }
            let others: Vec<u32> = table
                .threads_of(tgid)
                .into_iter()
                .filter(|&other| other != tid)
                .collect();
            if others.is_empty() {
                break;
            }
            table.end_group(tgid, tid, None);
            let queue = table.get(tgid).map(|leader| leader.thread_exits.clone());
            if let Some(queue) = &queue {
                queue.prepare();
            }
            queue
        };
        scheduler::block();
        if let Some(queue) = queue {
            queue.cancel();
        }
    }
    if tid == tgid {
        return Ok(());
    }
    // Take over the leader's entry: the process keeps its id, its parent, its children.
    let mut table = TABLE.lock();
    let (pending, thread) = match table.get_mut(tid) {
        Some(entry) => (core::mem::take(&mut entry.pending), entry.thread.take()),
        None => (Vec::new(), None),
    };
    table.remove(tid);
    let leader = table.get_mut(tgid).ok_or(Errno::ESRCH)?;
    leader.alive = true;
    leader.must_end = false;
    leader.pending = pending;
    super::table::note_arrival();
    leader.thread = thread;
    leader.blocked = process.signals.blocked;
    if let Some(task) = leader.task.clone() {
        process.task = task;
    }
    drop(table);
    arch::thread::current().set_owner(tgid);
    process.tid = tgid;
    Ok(())
}

/// The parent of a `vfork` child sleeps until the child has exec'd or ended, or the
/// parent's own process ends.
fn wait_for_vfork_child(pid: u32) {
    let me = current_tid().unwrap_or(0);
    loop {
        let queue = {
            let table = TABLE.lock();
            if table.get(me).is_some_and(|entry| entry.must_end) {
                return;
            }
            match table.get(pid) {
                Some(entry) if entry.vfork_parent_waiting && entry.state == State::Running => {
                    let queue = entry.vfork_done.clone();
                    queue.prepare();
                    queue
                }
                _ => return,
            }
        };
        scheduler::block();
        queue.cancel();
    }
}

/// After a successful `execve`: a `vfork` parent may go on.
pub fn exec_done(pid: u32) {
    let queue = {
        let mut table = TABLE.lock();
        let Some(entry) = table.get_mut(pid) else {
            return;
        };
        if !entry.vfork_parent_waiting {
            return;
        }
        entry.vfork_parent_waiting = false;
        entry.vfork_done.clone()
    };
    queue.wake_all();
}

/// The parent the table records (orphans have the init).
pub fn parent_of(pid: u32) -> u32 {
    TABLE.lock().get(pid).map_or(0, |entry| entry.parent)
}

/// Which children a wait is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitFor {
    Any,
    Pid(u32),
    Group(u32),
}

pub const WNOHANG: u64 = 1;
pub const WUNTRACED: u64 = 2;
pub const WEXITED: u64 = 4;
pub const WCONTINUED: u64 = 8;
pub const WNOWAIT: u64 = 0x0100_0000;
const WNOTHREAD: u64 = 0x2000_0000;
const WALL: u64 = 0x4000_0000;
const WCLONE: u64 = 0x8000_0000;

/// What `wait` reports of a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildEvent {
    Ended(Termination),
    /// Stopped by this signal (`WUNTRACED`).
    Stopped(u8),
    /// Continued by `SIGCONT` (`WCONTINUED`).
    Continued,
}

/// A reaped (or, with `WNOWAIT`, observed) child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reaped {
    pub pid: u32,
    pub event: ChildEvent,
    /// The CPU time an ended child and its reaped descendants used.
    pub cpu: CpuTime,
    /// An ended child's death dumped core (the wait status's core flag).
    pub core_dumped: bool,
}

/// The core of `wait4` and `waitid`: an event of a child of `me` that `target` names: its
/// end (with `WEXITED`, which `wait4` always sets; the zombie is reaped unless `WNOWAIT`),
/// a stop (`WUNTRACED`) or a continue (`WCONTINUED`). `Ok(None)` with `WNOHANG` when there
/// is none yet; `ECHILD` when there is no such child; `EINTR` when a signal comes first.
pub fn wait_child(
    me: u32,
    target: WaitFor,
    options: u64,
    is_interrupted: &dyn Fn() -> bool,
) -> Result<Option<Reaped>, Errno> {
    let known = WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE;
    if options & !known != 0 {
        return Err(Errno::EINVAL);
    }
    loop {
        let queue: alloc::sync::Arc<WaitQueue> = {
            let mut table = TABLE.lock();
            let my_group = table.get(me).map_or(0, |entry| entry.pgid);
            let children: Vec<(u32, u32, State)> = table
                .children(me)
                .into_iter()
                .filter(|&(pid, pgid, _)| match target {
                    WaitFor::Any => true,
                    WaitFor::Pid(wanted) => pid == wanted,
                    WaitFor::Group(0) => pgid == my_group,
                    WaitFor::Group(group) => pgid == group,
                })
                .collect();
            if children.is_empty() {
                return Err(Errno::ECHILD);
            }
            let found = children.iter().find_map(|&(pid, _, state)| {
                let event = match (state, table.get(pid).and_then(|entry| entry.unreported)) {
                    (State::Zombie(termination), _) if options & WEXITED != 0 => {
                        ChildEvent::Ended(termination)
                    }
                    (State::Running, Some(JobEvent::Stopped(signo)))
                        if options & WUNTRACED != 0 =>
                    {
                        ChildEvent::Stopped(signo)
                    }
                    (State::Running, Some(JobEvent::Continued)) if options & WCONTINUED != 0 => {
                        ChildEvent::Continued
                    }
                    _ => return None,
                };
                let cpu = table
                    .get(pid)
                    .filter(|_| matches!(event, ChildEvent::Ended(_)))
                    .map(|child| child.own_cpu.add(child.children_cpu))
                    .unwrap_or_default();
                let core_dumped = table.get(pid).is_some_and(|child| child.core_dumped);
                Some(Reaped {
                    pid,
                    event,
                    cpu,
                    core_dumped,
                })
            });
            if let Some(reaped) = found {
                if options & WNOWAIT == 0 {
                    if let ChildEvent::Ended(_) = reaped.event {
                        if let Some(entry) = table.get_mut(me) {
                            entry.children_cpu = entry.children_cpu.add(reaped.cpu);
                        }
                        table.remove(reaped.pid);
                    } else if let Some(child) = table.get_mut(reaped.pid) {
                        child.unreported = None;
                    }
                }
                return Ok(Some(reaped));
            }
            if options & WNOHANG != 0 {
                return Ok(None);
            }
            let queue = table
                .get(me)
                .map(|entry| entry.child_events.clone())
                .ok_or(Errno::ECHILD)?;
            queue.prepare();
            queue
        };
        scheduler::block();
        queue.cancel();
        if is_interrupted() {
            return Err(Errno::EINTR);
        }
    }
}

/// A stop signal's default action: the process stops (its parent hears of it) until a
/// `SIGCONT` or a `SIGKILL` comes. Returns when it may run again.
pub fn stop_current(tid: u32, tgid: u32, signo: u8) {
    let parent_queue = TABLE.lock().set_stopped(tgid, signo);
    if let Some(queue) = parent_queue {
        queue.wake_all();
    }
    park_while_stopped(tid, tgid);
}

/// Sleeps while the process `tgid` is stopped, unless this thread must end.
pub fn park_while_stopped(tid: u32, tgid: u32) {
    loop {
        {
            let table = TABLE.lock();
            let Some(leader) = table.get(tgid) else {
                return;
            };
            let must_end = table.get(tid).is_none_or(|entry| entry.must_end);
            if !leader.stopped || must_end {
                return;
            }
        }
        // `Table::send` wakes the threads for a `SIGCONT`, and `end_group` for a kill.
        scheduler::block();
    }
}

/// The earliest armed real timer of any process (`i64::MAX`: none), so the scheduler's
/// frequent check costs one load.
static NEXT_ALARM: core::sync::atomic::AtomicI64 = core::sync::atomic::AtomicI64::new(i64::MAX);

/// Sends `SIGALRM` to the processes whose real timer expired by `now`.
pub fn fire_alarms(now: i64) {
    use core::sync::atomic::Ordering;
    if NEXT_ALARM.load(Ordering::Relaxed) > now {
        return;
    }
    let next = TABLE.lock().fire_alarms(now).unwrap_or(i64::MAX);
    NEXT_ALARM.store(next, Ordering::Relaxed);
}

/// `setitimer(ITIMER_REAL)`/`alarm`: arms (or with `value_ns` 0, disarms) the real timer of
/// `pid`; returns the previous (remaining, interval) in ns.
pub fn set_alarm(pid: u32, value_ns: i64, interval_ns: i64) -> (i64, i64) {
    use core::sync::atomic::Ordering;
    let now = crate::clock::monotonic_ns();
    let mut table = TABLE.lock();
    let Some(entry) = table.get_mut(pid) else {
        return (0, 0);
    };
    let previous = entry
        .alarm
        .map_or((0, 0), |(at, interval)| ((at - now).max(1), interval));
    entry.alarm = (value_ns > 0).then(|| (now.saturating_add(value_ns), interval_ns.max(0)));
    if let Some((at, _)) = entry.alarm {
        NEXT_ALARM.fetch_min(at, Ordering::Relaxed);
    }
    previous
}

/// `getitimer(ITIMER_REAL)`: the remaining time and interval, in ns.
pub fn get_alarm(pid: u32) -> (i64, i64) {
    let now = crate::clock::monotonic_ns();
    TABLE
        .lock()
        .get(pid)
        .and_then(|entry| entry.alarm)
        .map_or((0, 0), |(at, interval)| ((at - now).max(1), interval))
}

/// The CPU time `process` has used (see [`thread_cpu_time`]): it runs on the caller's
/// kernel thread.
pub fn cpu_time(process: &Process) -> CpuTime {
    thread_cpu_time(
        crate::clock::monotonic_ns(),
        process.started_ns,
        &arch::thread::current(),
    )
}

/// A thread's CPU time by `now`: time in user mode as its run loop measured it, and the
/// rest of its time on the CPU since `started_ns` as system time.
fn thread_cpu_time(now: i64, started_ns: i64, thread: &arch::thread::Thread) -> CpuTime {
    let alive = (now - started_ns).max(0) as u64;
    let on_cpu = alive.saturating_sub(thread.off_cpu_ns());
    let user_ns = thread.user_ns().min(on_cpu);
    CpuTime {
        user_ns,
        system_ns: on_cpu - user_ns,
    }
}

/// The CPU time of the caller's whole process: its own thread's, and what its ended
/// threads left in the leader's entry (other running threads' time is not counted until
/// they end).
pub fn process_cpu_time(process: &Process) -> CpuTime {
    let ended = TABLE
        .lock()
        .get(process.pid)
        .map(|leader| leader.own_cpu)
        .unwrap_or_default();
    cpu_time(process).add(ended)
}

/// The CPU time of process `tgid` as another process sees it (`/proc/<pid>/stat`): each
/// live thread's user time as its run loop counted it, the rest of its time on the CPU
/// as system time, and what its ended threads left in the leader's entry.
pub fn cpu_time_of(tgid: u32) -> CpuTime {
    let now = crate::clock::monotonic_ns();
    let ended = TABLE
        .lock()
        .get(tgid)
        .map(|leader| leader.own_cpu)
        .unwrap_or_default();
    threads_of(tgid)
        .into_iter()
        .filter_map(|tid| Some((task_of(tid)?, crate::syscall::scheduling::thread_of(tid)?)))
        .fold(ended, |total, (task, thread)| {
            total.add(thread_cpu_time(now, task.started_ns(), &thread))
        })
}

/// CPU time of the reaped children of `pid` and of theirs.
pub fn children_cpu_time(pid: u32) -> CpuTime {
    TABLE
        .lock()
        .get(pid)
        .map(|entry| entry.children_cpu)
        .unwrap_or_default()
}

/// `PR_SET_CHILD_SUBREAPER` / `PR_GET_CHILD_SUBREAPER`.
pub fn set_subreaper(pid: u32, on: bool) {
    if let Some(entry) = TABLE.lock().get_mut(pid) {
        entry.subreaper = on;
    }
}

pub fn is_subreaper(pid: u32) -> bool {
    TABLE.lock().get(pid).is_some_and(|entry| entry.subreaper)
}

/// The identity of `pid` as its task shows it (`ESRCH` if there is none, or it has ended).
pub fn credentials_of(pid: u32) -> Result<Identity, Errno> {
    TABLE
        .lock()
        .get(pid)
        .filter(|entry| entry.state == State::Running)
        .and_then(|entry| entry.task.as_ref())
        .map(|task| task.identity())
        .ok_or(Errno::ESRCH)
}

/// The identity of thread `tid` (`ESRCH` if it does not run).
pub fn credentials_of_thread(tid: u32) -> Result<Identity, Errno> {
    TABLE
        .lock()
        .get(tid)
        .filter(|entry| entry.alive)
        .and_then(|entry| entry.task.as_ref())
        .map(|task| task.identity())
        .ok_or(Errno::ESRCH)
}

/// Who sends a signal, for `kill`'s permission check (`kill_ok_by_cred`).
#[derive(Clone, Copy, Debug)]
pub struct Sender {
    pub pid: u32,
    pub uid: u32,
    pub euid: u32,
    pub cap_kill: bool,
}

/// `kill` of another process: queues the signal for it (its thread acts on it on the
/// way back to user mode). The init gets only the signals it has handlers for (and never
/// `SIGKILL`/`SIGSTOP` from inside), as Linux's init.
///
/// `EPERM` (checked for signal 0 too) unless the sender holds `CAP_KILL`, its real or
/// effective uid is the target's real or saved uid, or it sends `SIGCONT` within its
/// session (Linux's `check_kill_permission`).
pub fn signal_process(target: u32, info: SigInfo, sender: Sender) -> Result<(), Errno> {
    signal_process_checked(target, info, sender, |table| {
        table.send(target, info);
    })
}

/// `kill`'s checks on the process `target`, then `send` under the table's lock.
fn signal_process_checked(
    target: u32,
    info: SigInfo,
    sender: Sender,
    send: impl FnOnce(&mut super::table::Table),
) -> Result<(), Errno> {
    const SIGCONT: u8 = 18;
    let mut table = TABLE.lock();
    let entry = table.get(target).ok_or(Errno::ESRCH)?;
    let sender_tgid = table.tgid_of(sender.pid).unwrap_or(sender.pid);
    let target_tgid = entry.tgid;
    if entry.state == State::Running && target_tgid != sender_tgid && !sender.cap_kill {
        let same_user = entry.task.as_ref().is_some_and(|task| {
            task.with_identity(|theirs| {
                [sender.uid, sender.euid]
                    .iter()
                    .any(|id| *id == theirs.ids.uid || *id == theirs.ids.suid)
            })
        });
        let same_session =
            info.signo == SIGCONT && table.get(sender.pid).is_some_and(|me| me.sid == entry.sid);
        if !same_user && !same_session {
            return Err(Errno::EPERM);
        }
    }
    let entry = table.get(target).ok_or(Errno::ESRCH)?;
    if info.signo == 0 || entry.state != State::Running {
        return Ok(());
    }
    // What the init takes (only what it handles or blocks) is the table's `send` rule.
    send(&mut table);
    Ok(())
}

/// Pids that `kill(pid)` names: one process, a group (`pid < -1`, or `0` for the caller's),
/// or every process but the init and the caller (`-1`).
pub fn kill_targets(me: u32, pid: i32) -> Vec<u32> {
    let table = TABLE.lock();
    match pid {
        p if p > 0 => table.get(p as u32).map(|_| p as u32).into_iter().collect(),
        -1 => table
            .running()
            .map(|(pid, _)| pid)
            .filter(|&pid| pid != INIT_PID && pid != me)
            .collect(),
        _ => {
            let group = if pid == 0 {
                table.get(me).map_or(0, |entry| entry.pgid)
            } else {
                pid.unsigned_abs()
            };
            table
                .running()
                .filter(|(_, entry)| entry.pgid == group)
                .map(|(pid, _)| pid)
                .collect()
        }
    }
}

/// The signals sent to this thread, and those sent to its process that `accept` names
/// (those it does not block; and those `sigtimedwait` waits for), taken.
pub fn take_pending_signals(tid: u32, accept: u64) -> Vec<SigInfo> {
    use crate::process::signal::bit;
    let mut table = TABLE.lock();
    let Some(entry) = table.get_mut(tid) else {
        return Vec::new();
    };
    let mut taken = core::mem::take(&mut entry.pending);
    let tgid = entry.tgid;
    if let Some(leader) = table.get_mut(tgid) {
        leader.shared_pending.retain(|info| {
            let take = info.signo == 9 || accept & bit(info.signo) != 0;
            if take {
                taken.push(*info);
            }
            !take
        });
    }
    taken
}

/// The signals sent to thread `tid` alone and not yet taken by it.
pub fn thread_pending_mask(tid: u32) -> u64 {
    TABLE.lock().get(tid).map_or(0, |entry| {
        entry.pending.iter().fold(0, |mask, info| {
            mask | crate::process::signal::bit(info.signo)
        })
    })
}

/// What a thread finds on its way back to user mode ([`arrivals`]).
#[derive(Default)]
pub struct Arrivals {
    /// It must end (its process is ending, or another thread exec'd).
    pub must_end: bool,
    /// Its process is stopped: it parks.
    pub stopped: bool,
    /// The signals [`take_pending_signals`] takes.
    pub signals: Vec<SigInfo>,
}

/// Everything a thread checks on its way back to user mode, under one lock of the table:
/// whether it must end, whether its process is stopped, and the signals for it that
/// `accept` names (as [`take_pending_signals`]).
/// The table's arrivals count ([`super::table::ARRIVALS`]): read before [`arrivals`], so
/// anything that comes after the look makes it differ.
pub fn arrivals_generation() -> u64 {
    super::table::ARRIVALS.load(core::sync::atomic::Ordering::Acquire)
}

pub fn arrivals(tid: u32, accept: u64) -> Arrivals {
    use crate::process::signal::bit;
    let mut table = TABLE.lock();
    let Some(entry) = table.get_mut(tid) else {
        return Arrivals {
            must_end: true,
            stopped: false,
            signals: Vec::new(),
        };
    };
    let must_end = entry.must_end;
    let mut signals = core::mem::take(&mut entry.pending);
    let tgid = entry.tgid;
    let mut stopped = false;
    if let Some(leader) = table.get_mut(tgid) {
        stopped = leader.stopped;
        if !leader.shared_pending.is_empty() {
            leader.shared_pending.retain(|info| {
                let take = info.signo == 9 || accept & bit(info.signo) != 0;
                if take {
                    signals.push(*info);
                }
                !take
            });
        }
    }
    Arrivals {
        must_end,
        stopped,
        signals,
    }
}

/// The signals sent to the process of `tid` and not yet taken by any of its threads.
pub fn process_pending_mask(tid: u32) -> u64 {
    let table = TABLE.lock();
    let Some(tgid) = table.tgid_of(tid) else {
        return 0;
    };
    table.get(tgid).map_or(0, |leader| {
        leader.shared_pending.iter().fold(0, |mask, info| {
            mask | crate::process::signal::bit(info.signo)
        })
    })
}

/// Whether this thread has a signal it does not block waiting (sent to it or to its
/// process), or must end: a blocked call gives up (`EINTR`) when this turns true.
///
/// Blocking calls ask this before every sleep. The answer "no" is remembered on the
/// thread with the arrival generation ([`super::table::ARRIVALS`]) it was found at, and
/// holds until that moves: every signal queued, order to end and unblocking of a signal
/// bumps it ([`publish_signal_state`]), so the common case takes no lock all CPUs share.
pub fn has_pending_signal(tid: u32) -> bool {
    use crate::process::signal::bit;
    use core::sync::atomic::Ordering;
    let (asked_for_me, quiet_at) = arch::thread::with_current(|me| {
        (
            me.owner() == tid,
            me.signal_quiet_at.load(Ordering::Relaxed),
        )
    });
    // Read before the table: an arrival after this read moves the generation past it.
    let generation = arrivals_generation();
    if asked_for_me && quiet_at == generation + 1 {
        return false;
    }
    let table = TABLE.lock();
    let Some(entry) = table.get(tid) else {
        return false;
    };
    let wanted = |info: &SigInfo| info.signo == 9 || entry.blocked & bit(info.signo) == 0;
    let pending = entry.must_end
        || entry.pending.iter().any(wanted)
        || table
            .get(entry.tgid)
            .is_some_and(|leader| leader.shared_pending.iter().any(wanted));
    if asked_for_me && !pending {
        arch::thread::with_current(|me| {
            me.signal_quiet_at.store(generation + 1, Ordering::Relaxed)
        });
    }
    pending
}

/// Whether this thread must end (its process is exiting, or another thread exec'd).
pub fn must_end(tid: u32) -> bool {
    TABLE.lock().get(tid).is_none_or(|entry| entry.must_end)
}

/// Tells the table what senders and blocked calls need of the thread's signal state.
pub fn publish_signal_state(tid: u32, signals: &SignalState) {
    let (blocked, ignored, handled) = (
        signals.blocked,
        signals.ignored_mask(),
        signals.handled_mask(),
    );
    let mut table = TABLE.lock();
    let Some(entry) = table.get_mut(tid) else {
        return;
    };
    // A signal unblocked may be one waiting: threads that found none must look again.
    if entry.blocked & !blocked != 0 {
        super::table::note_arrival();
    }
    entry.blocked = blocked;
    let tgid = entry.tgid;
    // The handlers are the group's: the leader's entry is what senders look at.
    for id in [tid, tgid] {
        if let Some(entry) = table.get_mut(id) {
            entry.ignored = ignored;
            entry.handled = handled;
        }
    }
}

/// What `/proc/<pid>/stat` shows as the state, from the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessRunState {
    Running,
    Stopped,
    Zombie,
}

pub fn run_state(pid: u32) -> ProcessRunState {
    match TABLE.lock().get(pid) {
        Some(entry) if matches!(entry.state, State::Zombie(_)) => ProcessRunState::Zombie,
        Some(entry) if entry.stopped => ProcessRunState::Stopped,
        Some(_) => ProcessRunState::Running,
        None => ProcessRunState::Zombie,
    }
}

/// The signal masks of thread `tid` as others see them (`/proc/<pid>/status`): pending
/// for it alone (sent, not yet taken by its thread), pending for its process (`ShdPnd`),
/// blocked, ignored, caught.
pub fn signal_masks(tid: u32) -> Option<[u64; 5]> {
    let table = TABLE.lock();
    let entry = table.get(tid)?;
    let mask_of = |queue: &[SigInfo]| {
        queue.iter().fold(0, |mask, info| {
            mask | crate::process::signal::bit(info.signo)
        })
    };
    let shared = table
        .get(entry.tgid)
        .map_or(0, |leader| mask_of(&leader.shared_pending));
    Some([
        mask_of(&entry.pending),
        shared,
        entry.blocked,
        entry.ignored,
        entry.handled,
    ])
}

/// The task of `pid`, zombies' included (`/proc` lists a process until it is reaped).
pub fn task_of(pid: u32) -> Option<alloc::sync::Arc<Task>> {
    TABLE.lock().get(pid)?.task.clone()
}

/// Every pid with a task, in order (`/proc`'s directory listing).
pub fn pids() -> Vec<u32> {
    TABLE.lock().pids_with_tasks()
}

pub fn group_and_session(pid: u32) -> (u32, u32) {
    TABLE
        .lock()
        .get(pid)
        .map_or((pid, pid), |entry| (entry.pgid, entry.sid))
}

/// The thread id the running kernel thread serves (`None` on a thread that serves none).
/// A blocking call that is not handed its process asks this.
pub fn current_tid() -> Option<u32> {
    let owner = arch::thread::with_current(|me| me.owner());
    (owner != 0).then_some(owner)
}

/// The process the running kernel thread serves (`/proc/self`).
pub fn current_pid() -> Option<u32> {
    let tid = current_tid()?;
    TABLE.lock().tgid_of(tid)
}

/// The process thread `tid` belongs to.
pub fn tgid_of(tid: u32) -> Option<u32> {
    TABLE.lock().tgid_of(tid)
}

/// The threads of process `pid` that still run (`/proc/<pid>/task`).
pub fn threads_of(pid: u32) -> Vec<u32> {
    TABLE.lock().threads_of(pid)
}

/// `tgkill`/`tkill`: a signal for one thread (of process `tgid`, if given). `ESRCH` when
/// there is no such thread; the permission check is `kill`'s.
pub fn signal_thread(
    tgid: Option<u32>,
    tid: u32,
    info: SigInfo,
    sender: Sender,
) -> Result<(), Errno> {
    let target_process = {
        let table = TABLE.lock();
        let entry = table
            .get(tid)
            .filter(|entry| entry.alive)
            .ok_or(Errno::ESRCH)?;
        if tgid.is_some_and(|tgid| tgid != entry.tgid) {
            return Err(Errno::ESRCH);
        }
        entry.tgid
    };
    // The permission check and the init's protection are the process's.
    signal_process_checked(target_process, info, sender, |table| {
        table.send_to_thread(tid, info);
    })
}
