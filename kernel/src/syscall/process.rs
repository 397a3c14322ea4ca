//! Process calls: `clone`/`clone3`/`fork`/`vfork`, `wait4`/`waitid`, process groups and
//! sessions. The bookkeeping is the task layer's ([`crate::task`]); this file decodes
//! arguments and encodes results as Linux does.

use vfs_core::Errno;

use super::SysResult;
use crate::process::signal::{CLD_CONTINUED, CLD_DUMPED, CLD_EXITED, CLD_KILLED, CLD_STOPPED};
use crate::process::{Process, Termination};
use crate::task::lifecycle::{self, ChildEvent, CloneRequest, Reaped, WEXITED, WNOHANG, WaitFor};
use crate::task::table::{CpuTime, TABLE};

pub fn fork(p: &mut Process) -> SysResult {
    lifecycle::clone_process(p, CloneRequest::fork())
}

pub fn vfork(p: &mut Process) -> SysResult {
    lifecycle::clone_process(p, CloneRequest::vfork())
}

/// x86_64's argument order: flags, stack, parent_tid, child_tid, tls.
pub fn clone(p: &mut Process, a: [u64; 6]) -> SysResult {
    lifecycle::clone_process(
        p,
        CloneRequest {
            flags: a[0],
            stack: a[1],
            parent_tid: a[2],
            child_tid: a[3],
            tls: a[4],
        },
    )
}

/// `struct clone_args`, as many bytes as the caller says it knows (at least version 0's 64).
pub fn clone3(p: &mut Process, args: u64, size: u64) -> SysResult {
    const VERSION_0: u64 = 64;
    const KNOWN: u64 = 88;
    if !(VERSION_0..=4096).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let mut bytes = alloc::vec![0u8; size as usize];
    p.mm.lock().read(args, &mut bytes)?;
    // Fields past what we know must be zero (Linux's check for newer callers).
    if bytes
        .get(KNOWN as usize..)
        .is_some_and(|rest| rest.iter().any(|&b| b != 0))
    {
        return Err(Errno::E2BIG);
    }
    let field = |index: usize| {
        bytes.get(index * 8..index * 8 + 8).map_or(0, |word| {
            u64::from_le_bytes(word.try_into().unwrap_or([0; 8]))
        })
    };
    let (flags, child_tid, parent_tid, exit_signal) = (field(0), field(2), field(3), field(4));
    let (stack, stack_size, tls, set_tid_size) = (field(5), field(6), field(7), field(9));
    if exit_signal > 64 || flags & 0xff != 0 || set_tid_size != 0 {
        return Err(Errno::EINVAL);
    }
    if (stack == 0) != (stack_size == 0) {
        return Err(Errno::EINVAL);
    }
    lifecycle::clone_process(
        p,
        CloneRequest {
            flags: flags | exit_signal,
            stack: stack.wrapping_add(stack_size),
            parent_tid,
            child_tid,
            tls,
        },
    )
}

/// Linux's wait status word: `code << 8` for an exit; the signal number for a kill, with
/// the core flag (0x80) when it dumped core; `sig << 8 | 0x7f` for a stop; `0xffff` for a
/// continue.
pub fn wait_status(event: ChildEvent, core_dumped: bool) -> u32 {
    match event {
        ChildEvent::Ended(Termination::Exited(code)) => u32::from(code) << 8,
        ChildEvent::Ended(Termination::Killed(signal)) => {
            u32::from(signal & 0x7f) | if core_dumped { 0x80 } else { 0 }
        }
        ChildEvent::Stopped(signal) => (u32::from(signal) << 8) | 0x7f,
        ChildEvent::Continued => 0xffff,
    }
}

/// `waitid`'s `si_code` and `si_status` for an event.
fn wait_siginfo(event: ChildEvent, core_dumped: bool) -> (i32, i32) {
    match event {
        ChildEvent::Ended(Termination::Exited(code)) => (CLD_EXITED, i32::from(code)),
        ChildEvent::Ended(Termination::Killed(signal)) => (
            if core_dumped { CLD_DUMPED } else { CLD_KILLED },
            i32::from(signal),
        ),
        ChildEvent::Stopped(signal) => (CLD_STOPPED, i32::from(signal)),
        ChildEvent::Continued => (CLD_CONTINUED, 18),
    }
}

pub fn wait4(p: &mut Process, pid: u64, status: u64, options: u64, rusage: u64) -> SysResult {
    let target = match pid as i32 {
        -1 => WaitFor::Any,
        0 => WaitFor::Group(0),
        group if group < -1 => WaitFor::Group(group.unsigned_abs()),
        pid => WaitFor::Pid(pid as u32),
    };
    if options & crate::task::lifecycle::WNOWAIT != 0 || options & WEXITED != 0 {
        return Err(Errno::EINVAL); // waitid's options, not wait4's
    }
    if status != 0 {
        p.mm.lock()
            .check_range(status, 4, crate::mm::address_space::Access::Write)?;
    }
    let (me, tid) = (p.pid, p.tid);
    let reaped = lifecycle::wait_child(me, target, options | WEXITED, &|| {
        lifecycle::has_pending_signal(tid)
    })?;
    let Some(Reaped {
        pid,
        event,
        cpu,
        core_dumped,
    }) = reaped
    else {
        return Ok(0);
    };
    if status != 0 {
        p.mm.lock()
            .write(status, &wait_status(event, core_dumped).to_le_bytes())?;
    }
    if rusage != 0 {
        p.mm.lock().write(rusage, &encode_rusage(cpu))?;
    }
    Ok(u64::from(pid))
}

pub fn waitid(p: &mut Process, id_type: u64, id: u64, info: u64, options: u64) -> SysResult {
    const P_ALL: u64 = 0;
    const P_PID: u64 = 1;
    const P_PGID: u64 = 2;
    const SIGCHLD: i32 = 17;
    let target = match id_type {
        P_ALL => WaitFor::Any,
        P_PID if id != 0 && id <= i32::MAX as u64 => WaitFor::Pid(id as u32),
        P_PGID if id <= i32::MAX as u64 => WaitFor::Group(id as u32),
        _ => return Err(Errno::EINVAL),
    };
    if options & (WEXITED | lifecycle::WUNTRACED | lifecycle::WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    let (me, tid) = (p.pid, p.tid);
    let reaped =
        lifecycle::wait_child(me, target, options, &|| lifecycle::has_pending_signal(tid))?;
    if info == 0 {
        return Ok(0);
    }
    let mut siginfo = [0u8; 128];
    if let Some(Reaped {
        pid,
        event,
        core_dumped,
        ..
    }) = reaped
    {
        let (code, status) = wait_siginfo(event, core_dumped);
        let uid = p.ids.uid;
        siginfo[0..4].copy_from_slice(&SIGCHLD.to_le_bytes());
        siginfo[8..12].copy_from_slice(&code.to_le_bytes());
        siginfo[16..20].copy_from_slice(&(pid as i32).to_le_bytes());
        siginfo[20..24].copy_from_slice(&uid.to_le_bytes());
        siginfo[24..28].copy_from_slice(&status.to_le_bytes());
    }
    // With WNOHANG and nothing to report, Linux clears the whole siginfo (si_pid 0).
    let _ = options & WNOHANG;
    p.mm.lock().write(info, &siginfo)?;
    Ok(0)
}

pub fn getppid(p: &mut Process) -> SysResult {
    Ok(u64::from(lifecycle::parent_of(p.pid)))
}

fn pid_or_self(p: &Process, pid: u64) -> Result<u32, Errno> {
    match pid as i32 {
        0 => Ok(p.pid),
        pid if pid > 0 => Ok(pid as u32),
        _ => Err(Errno::EINVAL),
    }
}

pub fn getpgid(p: &mut Process, pid: u64) -> SysResult {
    let pid = pid_or_self(p, pid)?;
    let table = TABLE.lock();
    let entry = table.get(pid).ok_or(Errno::ESRCH)?;
    Ok(u64::from(entry.pgid))
}

pub fn getsid(p: &mut Process, pid: u64) -> SysResult {
    let pid = pid_or_self(p, pid)?;
    let table = TABLE.lock();
    let entry = table.get(pid).ok_or(Errno::ESRCH)?;
    Ok(u64::from(entry.sid))
}

/// `setpgid`: the caller or one of its children (in its session) joins or starts a group
/// of that session; a session leader cannot move.
pub fn setpgid(p: &mut Process, pid: u64, group: u64) -> SysResult {
    let target = pid_or_self(p, pid)?;
    if group as i32 <= -1 {
        return Err(Errno::EINVAL);
    }
    let mut table = TABLE.lock();
    let my_sid = table.get(p.pid).ok_or(Errno::ESRCH)?.sid;
    let entry = table.get(target).ok_or(Errno::ESRCH)?;
    if target != p.pid && entry.parent != p.pid {
        return Err(Errno::ESRCH);
    }
    if entry.sid != my_sid {
        return Err(Errno::EPERM);
    }
    if entry.sid == target {
        return Err(Errno::EPERM);
    }
    let group = if group == 0 { target } else { group as u32 };
    if group != target
        && !table
            .running()
            .any(|(_, other)| other.pgid == group && other.sid == my_sid)
    {
        return Err(Errno::EPERM);
    }
    if let Some(entry) = table.get_mut(target) {
        entry.pgid = group;
    }
    Ok(0)
}

/// `setsid`: a new session and group led by the caller, unless it leads a group already.
pub fn setsid(p: &mut Process) -> SysResult {
    let mut table = TABLE.lock();
    let me = p.pid;
    if table.running().any(|(_, entry)| entry.pgid == me) {
        return Err(Errno::EPERM);
    }
    let entry = table.get_mut(me).ok_or(Errno::ESRCH)?;
    entry.sid = me;
    entry.pgid = me;
    // A new session has no controlling terminal (`proc_clear_tty`).
    entry.ctty = 0;
    Ok(u64::from(me))
}

/// `struct rusage`: the two times as `timeval`s, the rest zero (no page-fault or context
/// switch counts are kept).
fn encode_rusage(cpu: CpuTime) -> [u8; 144] {
    let mut out = [0u8; 144];
    let timeval = |ns: u64| {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
        bytes[8..].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
        bytes
    };
    out[0..16].copy_from_slice(&timeval(cpu.user_ns));
    out[16..32].copy_from_slice(&timeval(cpu.system_ns));
    out
}

/// `getrusage`: `RUSAGE_SELF` (the process), `RUSAGE_THREAD` (the caller's thread) or
/// `RUSAGE_CHILDREN` (reaped descendants).
pub fn getrusage(p: &mut Process, who: u64, usage: u64) -> SysResult {
    const RUSAGE_SELF: i32 = 0;
    const RUSAGE_CHILDREN: i32 = -1;
    const RUSAGE_THREAD: i32 = 1;
    let cpu = match who as i32 {
        RUSAGE_SELF => lifecycle::process_cpu_time(p),
        RUSAGE_THREAD => lifecycle::cpu_time(p),
        RUSAGE_CHILDREN => lifecycle::children_cpu_time(p.pid),
        _ => return Err(Errno::EINVAL),
    };
    p.mm.lock().write(usage, &encode_rusage(cpu))?;
    Ok(0)
}

/// `times`: the four CPU times in clock ticks (`USER_HZ` 100), and ticks since boot.
pub fn times(p: &mut Process, buffer: u64) -> SysResult {
    const NS_PER_TICK: u64 = 10_000_000;
    let own = lifecycle::process_cpu_time(p);
    let children = lifecycle::children_cpu_time(p.pid);
    if buffer != 0 {
        let mut out = [0u8; 32];
        for (index, ns) in [
            own.user_ns,
            own.system_ns,
            children.user_ns,
            children.system_ns,
        ]
        .into_iter()
        .enumerate()
        {
            out[index * 8..index * 8 + 8].copy_from_slice(&(ns / NS_PER_TICK).to_le_bytes());
        }
        p.mm.lock().write(buffer, &out)?;
    }
    Ok(crate::clock::monotonic_ns().max(0) as u64 / NS_PER_TICK)
}

const ITIMER_REAL: u64 = 0;

fn encode_itimerval((value, interval): (i64, i64)) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (index, ns) in [interval, value].into_iter().enumerate() {
        let ns = ns.max(0);
        out[index * 16..index * 16 + 8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
        out[index * 16 + 8..index * 16 + 16]
            .copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
    }
    out
}

fn decode_timeval(bytes: &[u8]) -> Result<i64, Errno> {
    let seconds = i64::from_le_bytes(bytes[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let micros = i64::from_le_bytes(bytes[8..16].try_into().map_err(|_| Errno::EFAULT)?);
    if seconds < 0 || !(0..1_000_000).contains(&micros) {
        return Err(Errno::EINVAL);
    }
    Ok(seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(micros * 1000))
}

/// `setitimer`: the real timer (`SIGALRM`); the CPU-time timers are not kept (`EINVAL`).
pub fn setitimer(p: &mut Process, which: u64, new: u64, old: u64) -> SysResult {
    if which != ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    let (interval, value) = if new == 0 {
        (0, 0)
    } else {
        let mut raw = [0u8; 32];
        p.mm.lock().read(new, &mut raw)?;
        (decode_timeval(&raw[..16])?, decode_timeval(&raw[16..])?)
    };
    let previous = lifecycle::set_alarm(p.pid, value, interval);
    if old != 0 {
        p.mm.lock().write(old, &encode_itimerval(previous))?;
    }
    Ok(0)
}

pub fn getitimer(p: &mut Process, which: u64, current: u64) -> SysResult {
    if which != ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    let now = lifecycle::get_alarm(p.pid);
    p.mm.lock().write(current, &encode_itimerval(now))?;
    Ok(0)
}

/// `alarm`: the real timer in whole seconds; returns the seconds left of the previous one
/// (rounded up, as Linux).
pub fn alarm(p: &mut Process, seconds: u64) -> SysResult {
    let seconds = seconds.min(i32::MAX as u64) as i64;
    let (left, _) = lifecycle::set_alarm(p.pid, seconds * 1_000_000_000, 0);
    Ok(((left + 999_999_999) / 1_000_000_000) as u64)
}
