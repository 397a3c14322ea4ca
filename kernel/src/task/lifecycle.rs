//! A process's life as other processes see it: `fork`/`vfork`/`clone` make one, `exit`
//! ends one, `wait4`/`waitid` reap one, `kill` asks one to end.

use alloc::vec::Vec;

use arch::fpu::FpuState;
use arch::thread::Thread;
use vfs_core::Errno;

use super::table::{INIT_PID, State, TABLE};
use super::{WaitQueue, scheduler};
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
const CLONE_NAMESPACES: u64 = 0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000 | 0x80;
/// Flags this kernel takes for a new process (the rest are threads, issue-by-issue).
const PROCESS_FLAGS: u64 = CSIGNAL
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
        // Threads (an address space shared while both run) come with the threads issue;
        // a vfork child runs alone while its parent waits, so a copy serves it.
        if flags & (CLONE_THREAD | CLONE_SIGHAND) != 0
            || (flags & CLONE_VM != 0 && flags & CLONE_VFORK == 0)
        {
            return Err(Errno::ENOSYS);
        }
        if flags & !PROCESS_FLAGS != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }
}

/// Registers the init (pid 1) and starts the scheduler's bookkeeping.
pub fn register_init() {
    scheduler::init();
    let mut table = TABLE.lock();
    table.insert_with_pid(INIT_PID, 0, INIT_PID, INIT_PID);
    if let Some(init) = table.get_mut(INIT_PID) {
        init.thread = Some(arch::thread::current());
    }
}

/// `fork`, `vfork`, and `clone`/`clone3` for a new process: returns the child's pid in the
/// parent; the child returns 0 from the same call.
pub fn clone_process(p: &mut Process, request: CloneRequest) -> Result<u64, Errno> {
    request.check()?;
    let nproc_limit = p.limits.values[6].0;
    let (pid, parent_pid) = {
        let mut table = TABLE.lock();
        if table.len() as u64 >= nproc_limit && p.ids.euid != 0 || table.len() >= MAX_PROCESSES {
            return Err(Errno::EAGAIN);
        }
        let me = table.get(p.pid).ok_or(Errno::ESRCH)?;
        let (pgid, sid, my_parent) = (me.pgid, me.sid, me.parent);
        let parent_pid = if request.flags & CLONE_PARENT != 0 {
            my_parent
        } else {
            p.pid
        };
        let pid = table.insert(parent_pid, pgid, sid).ok_or(Errno::EAGAIN)?;
        (pid, parent_pid)
    };
    let child = match make_child(p, pid, parent_pid, request) {
        Ok(child) => child,
        Err(errno) => {
            TABLE.lock().remove(pid);
            return Err(errno);
        }
    };
    let vfork = request.flags & CLONE_VFORK != 0;
    if vfork {
        if let Some(entry) = TABLE.lock().get_mut(pid) {
            entry.vfork_parent_waiting = true;
        }
    }
    let Some(thread) = Thread::new(move || run_child(child), FpuState::of_this_cpu()) else {
        TABLE.lock().remove(pid);
        return Err(Errno::ENOMEM);
    };
    if let Some(entry) = TABLE.lock().get_mut(pid) {
        entry.thread = Some(thread.clone());
    }
    scheduler::spawn(thread);
    if vfork {
        wait_for_vfork_child(pid);
    }
    Ok(u64::from(pid))
}

/// Processes at most, whatever the limits say: each holds a 64 KiB kernel stack and page
/// tables, so this bounds a fork bomb's kernel memory.
const MAX_PROCESSES: usize = 4096;

fn make_child(
    p: &mut Process,
    pid: u32,
    parent_pid: u32,
    request: CloneRequest,
) -> Result<Process, Errno> {
    if request.flags & CLONE_PARENT_SETTID != 0 {
        // Written before the copy, so parent and child both see it (as with CLONE_VM).
        p.mm.write(request.parent_tid, &pid.to_le_bytes())?;
    }
    let mut mm = p.mm.fork()?;
    if request.flags & CLONE_CHILD_SETTID != 0 {
        mm.write(request.child_tid, &pid.to_le_bytes())?;
    }
    let mut context = p.context.clone();
    context.rax = 0;
    if request.stack != 0 {
        context.rsp = request.stack;
    }
    if request.flags & CLONE_SETTLS != 0 {
        context.fs_base = request.tls;
    }
    Ok(Process {
        pid,
        parent_pid,
        mm,
        fs: p.fs.clone(),
        files: p.files.clone(),
        context,
        ids: p.ids.clone(),
        signals: p.signals.clone(),
        limits: p.limits.clone(),
        clear_child_tid: if request.flags & CLONE_CHILD_CLEARTID != 0 {
            request.child_tid
        } else {
            0
        },
        robust_list: (0, 0),
        name: p.name.clone(),
        pending_termination: None,
        argv: p.argv.clone(),
        envp: p.envp.clone(),
        exe: p.exe.clone(),
    })
}

/// A child's kernel thread: its run loop, then its exit.
fn run_child(mut process: Process) {
    let termination = crate::process::run(&mut process);
    exit(process, termination);
}

/// Ends `process`: its memory and files go now (so a pipe's reader sees end of file), its
/// status stays in the table for its parent.
pub fn exit(mut process: Process, termination: Termination) {
    let pid = process.pid;
    if process.clear_child_tid != 0 {
        let _ = process.mm.write(process.clear_child_tid, &0u32.to_le_bytes());
    }
    log::debug!(target: "task", "pid {pid} ended: {termination:?}");
    drop(process);
    let to_wake = TABLE.lock().mark_exited(pid, termination);
    for queue in to_wake {
        queue.wake_all();
    }
}

/// The parent of a `vfork` child sleeps until the child has exec'd or ended.
fn wait_for_vfork_child(pid: u32) {
    loop {
        let queue = {
            let table = TABLE.lock();
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

/// A reaped (or, with `WNOWAIT`, observed) child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reaped {
    pub pid: u32,
    pub termination: Termination,
}

/// The core of `wait4` and `waitid`: a child of `me` that `target` names and that has
/// ended (reported with `WEXITED`, which `wait4` always sets); `Ok(None)` with `WNOHANG` when none has yet; `ECHILD` when there is no such child.
/// Stopped and continued children come with signal delivery (none are reported yet).
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
            let ended = children.iter().find_map(|&(pid, _, state)| match state {
                State::Zombie(termination) if options & WEXITED != 0 => {
                    Some(Reaped { pid, termination })
                }
                _ => None,
            });
            if let Some(reaped) = ended {
                if options & WNOWAIT == 0 {
                    table.remove(reaped.pid);
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

/// `kill` of another process: records the signal for it to act on (its default action
/// ends it; handlers are delivered with the signals issue). The init ignores signals from
/// inside the container, as Linux's init does for those it has no handler for.
pub fn signal_process(target: u32, signal: u8) -> Result<(), Errno> {
    let mut table = TABLE.lock();
    let entry = table.get_mut(target).ok_or(Errno::ESRCH)?;
    if signal == 0 || target == INIT_PID || entry.state != State::Running {
        return Ok(());
    }
    entry.pending_signal.get_or_insert(signal);
    if let Some(thread) = &entry.thread {
        scheduler::wake(thread);
    }
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

/// A signal another process sent this one, taken (once).
pub fn take_pending_signal(pid: u32) -> Option<u8> {
    TABLE.lock().get_mut(pid)?.pending_signal.take()
}

/// Whether another process sent this one a signal it has not acted on yet.
pub fn has_pending_signal(pid: u32) -> bool {
    TABLE
        .lock()
        .get(pid)
        .is_some_and(|entry| entry.pending_signal.is_some())
}

/// The pid of the process the running kernel thread serves (`None` on a thread that
/// serves none). A blocking call that is not handed its process asks this.
pub fn current_pid() -> Option<u32> {
    let me = arch::thread::current();
    TABLE
        .lock()
        .running()
        .find(|(_, entry)| {
            entry
                .thread
                .as_ref()
                .is_some_and(|thread| alloc::sync::Arc::ptr_eq(thread, &me))
        })
        .map(|(pid, _)| pid)
}
