//! Signal system calls, as bookkeeping: dispositions, the blocked mask and the alternate
//! stack are recorded and reported back exactly; a signal sent to the process itself
//! takes its default action (it has no other process to come from).

use vfs_core::Errno;

use super::{SysResult, read_in, write_out};
use crate::abi::{Encoder, read_u64};
use crate::process::signal::{SS_DISABLE, SigAction, SigInfo};
use crate::process::{Process, SignalState};

const SIGSET_SIZE: u64 = 8;

pub fn rt_sigaction(
    p: &mut Process,
    signal: u64,
    new: u64,
    old: u64,
    sigset_size: u64,
) -> SysResult {
    if sigset_size != SIGSET_SIZE || !SignalState::valid(signal) {
        return Err(Errno::EINVAL);
    }
    if new != 0 && !SignalState::changeable(signal) {
        return Err(Errno::EINVAL);
    }
    let previous = p.signals.action(signal as u8);
    if new != 0 {
        let raw = read_in(p, new, 32)?;
        p.signals.set_action(
            signal as u8,
            SigAction {
                handler: read_u64(&raw, 0),
                flags: read_u64(&raw, 8),
                restorer: read_u64(&raw, 16),
                mask: read_u64(&raw, 24),
            },
        );
    }
    if old != 0 {
        let mut out = Encoder::with_capacity(32);
        out.u64(previous.handler)
            .u64(previous.flags)
            .u64(previous.restorer)
            .u64(previous.mask);
        write_out(p, old, &out.finish())?;
    }
    Ok(0)
}

pub fn rt_sigprocmask(
    p: &mut Process,
    how: u64,
    set: u64,
    old: u64,
    sigset_size: u64,
) -> SysResult {
    if sigset_size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let previous = p.signals.blocked;
    if set != 0 {
        let mask = read_u64(&read_in(p, set, 8)?, 0);
        p.signals.apply_mask(how, mask)?;
    }
    if old != 0 {
        write_out(p, old, &previous.to_le_bytes())?;
    }
    Ok(0)
}

pub fn sigaltstack(p: &mut Process, new: u64, old: u64) -> SysResult {
    const SS_ONSTACK: u32 = 1;
    const MINSIGSTKSZ: u64 = 2048;
    let previous = p.signals.alt_stack;
    if new != 0 {
        let raw = read_in(p, new, 24)?;
        let (base, flags, size) = (
            read_u64(&raw, 0),
            read_u64(&raw, 8) as u32,
            read_u64(&raw, 16),
        );
        if flags & !(SS_DISABLE | (1 << 31)) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & SS_DISABLE == 0 && size < MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        }
        p.signals.alt_stack = if flags & SS_DISABLE != 0 {
            (0, SS_DISABLE, 0)
        } else {
            (base, flags, size)
        };
    }
    if old != 0 {
        let _ = SS_ONSTACK;
        let mut out = Encoder::with_capacity(24);
        out.u64(previous.0).u32(previous.1).u32(0).u64(previous.2);
        write_out(p, old, &out.finish())?;
    }
    Ok(0)
}

/// `kill`: a signal for processes (one, a group, or all). To the caller's own process, a
/// signal whose default action ends it does so on the way out of this call (so `abort()`
/// gives 134 as on Linux); an ignored, blocked or handled one is delivered as usual.
pub fn kill(p: &mut Process, pid: i32, signal: u64) -> SysResult {
    if signal != 0 && !SignalState::valid(signal) {
        return Err(Errno::EINVAL);
    }
    if pid == i32::MIN {
        return Err(Errno::ESRCH);
    }
    let targets = crate::task::lifecycle::kill_targets(p.pid, pid);
    // `kill(-1)` reaches every process but the init and the caller's own (Linux's
    // `kill_something_info`); a group or a pid may name the caller.
    let includes_me = targets.contains(&p.pid) || pid == p.tid as i32;
    if targets.is_empty() && !includes_me {
        return Err(Errno::ESRCH);
    }
    let info = SigInfo::user(signal as u8, p.pid, p.ids.uid);
    let sender = sender(p);
    // Linux: a group or broadcast kill succeeds if any target took the signal; otherwise
    // the last error (EPERM when none could be signalled).
    let mut delivered = includes_me;
    let mut last_error = None;
    for target in targets.into_iter().filter(|&target| target != p.pid) {
        match crate::task::lifecycle::signal_process(target, info, sender) {
            Ok(()) => delivered = true,
            Err(errno) => last_error = Some(errno),
        }
    }
    if let Some(errno) = last_error
        && !delivered
    {
        return Err(errno);
    }
    if includes_me && signal != 0 {
        raise_in_self(p, info, None)?;
    }
    Ok(0)
}

/// `tkill` (`tgid` None) and `tgkill`: a signal for one thread.
pub fn tgkill(p: &mut Process, tgid: Option<i32>, tid: i32, signal: u64) -> SysResult {
    if signal != 0 && !SignalState::valid(signal) {
        return Err(Errno::EINVAL);
    }
    if tid <= 0 || tgid.is_some_and(|tgid| tgid <= 0) {
        return Err(Errno::EINVAL);
    }
    let info = SigInfo {
        code: SI_TKILL,
        ..SigInfo::user(signal as u8, p.pid, p.ids.uid)
    };
    if tid as u32 == p.tid && tgid.is_none_or(|tgid| tgid as u32 == p.pid) {
        if signal != 0 {
            raise_in_self(p, info, Some(p.tid))?;
        }
        return Ok(0);
    }
    let sender = sender(p);
    let tgid = tgid.map(|tgid| tgid as u32);
    let info = if signal == 0 {
        SigInfo { signo: 0, ..info }
    } else {
        info
    };
    crate::task::lifecycle::signal_thread(tgid, tid as u32, info, sender).map(|()| 0)
}

/// `si_code` of a signal from `tkill`/`tgkill`.
const SI_TKILL: i32 = -6;

fn sender(p: &Process) -> crate::task::lifecycle::Sender {
    crate::task::lifecycle::Sender {
        pid: p.tid,
        uid: p.ids.uid,
        euid: p.ids.euid,
        cap_kill: p.capable(vfs_core::cap::KILL),
    }
}

/// A signal from the caller to its own thread (`thread`) or process: a fatal one ends the
/// process as the call returns; others wait for delivery in this thread, or, when this
/// thread blocks a process-directed one, go to the process for another thread to take.
fn raise_in_self(p: &mut Process, info: SigInfo, thread: Option<u32>) -> Result<(), Errno> {
    let signal = u64::from(info.signo);
    let blocked = p.signals.blocked & crate::process::signal::bit(info.signo) != 0;
    if p.signals.terminates(signal) {
        p.pending_termination = Some(info.signo);
    } else if blocked && thread.is_none() {
        crate::task::lifecycle::signal_process(p.pid, info, sender(p))?;
    } else {
        p.signals.raise(info);
    }
    Ok(())
}

/// `rt_sigsuspend`: waits with `mask` blocked until a signal arrives that the process
/// handles (or that ends it); always `EINTR`, with the old mask restored after the handler.
pub fn rt_sigsuspend(p: &mut Process, mask: u64, sigset_size: u64) -> SysResult {
    if sigset_size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mask = read_u64(&read_in(p, mask, 8)?, 0);
    p.signals.saved_mask = Some(p.signals.blocked);
    p.signals.apply_mask(2, mask)?;
    wait_for_signal(p);
    Err(Errno::EINTR)
}

/// `pause`: waits until a signal is delivered; always `EINTR`.
pub fn pause(p: &mut Process) -> SysResult {
    wait_for_signal(p);
    Err(Errno::EINTR)
}

fn wait_for_signal(p: &mut Process) {
    use crate::task::{lifecycle, scheduler};
    lifecycle::publish_signal_state(p.tid, &p.signals);
    loop {
        for info in lifecycle::take_pending_signals(p.tid, !p.signals.blocked) {
            p.signals.raise(info);
        }
        if p.signals.has_deliverable()
            || p.pending_termination.is_some()
            || lifecycle::must_end(p.tid)
        {
            return;
        }
        // `Table::send` wakes this thread when a signal comes.
        scheduler::block();
    }
}

/// `rt_sigpending`: the signals raised while blocked.
pub fn rt_sigpending(p: &mut Process, set: u64, sigset_size: u64) -> SysResult {
    if sigset_size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let own = p.signals.pending.iter().fold(0u64, |mask, info| {
        mask | crate::process::signal::bit(info.signo)
    });
    let pending = own
        | crate::task::lifecycle::thread_pending_mask(p.tid)
        | crate::task::lifecycle::process_pending_mask(p.tid);
    write_out(p, set, &(pending & p.signals.blocked).to_le_bytes())?;
    Ok(0)
}

/// `rt_sigtimedwait`: takes a pending signal of `set` (normally blocked by the caller) and
/// returns its number, with its `siginfo` if asked; waits for one until `timeout` (none:
/// for ever). `EAGAIN` at the timeout; `EINTR` when a signal outside `set` is delivered
/// first.
pub fn rt_sigtimedwait(
    p: &mut Process,
    set: u64,
    info: u64,
    timeout: u64,
    sigset_size: u64,
) -> SysResult {
    use crate::process::signal::bit;
    use crate::task::{lifecycle, scheduler};
    if sigset_size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    // SIGKILL and SIGSTOP cannot be waited for.
    let wanted = read_u64(&read_in(p, set, 8)?, 0) & !(bit(9) | bit(19));
    let deadline = if timeout == 0 {
        None
    } else {
        let ns = super::time::read_timespec_ns(p, timeout)?;
        Some(crate::clock::monotonic_ns().saturating_add(ns))
    };
    lifecycle::publish_signal_state(p.tid, &p.signals);
    loop {
        for queued in lifecycle::take_pending_signals(p.tid, !p.signals.blocked | wanted) {
            p.signals.raise(queued);
        }
        if let Some(index) = p
            .signals
            .pending
            .iter()
            .position(|pending| wanted & bit(pending.signo) != 0)
        {
            let taken = p.signals.pending.remove(index);
            if info != 0 {
                write_out(p, info, &taken.encode())?;
            }
            return Ok(u64::from(taken.signo));
        }
        if p.signals.has_deliverable()
            || p.pending_termination.is_some()
            || lifecycle::must_end(p.tid)
        {
            return Err(Errno::EINTR);
        }
        match deadline {
            Some(deadline) if crate::clock::monotonic_ns() >= deadline => {
                return Err(Errno::EAGAIN);
            }
            Some(deadline) => scheduler::sleep_until(deadline),
            // `Table::send` wakes this thread when a signal comes.
            None => scheduler::block(),
        }
    }
}

/// `rt_sigqueueinfo`/`rt_tgsigqueueinfo`: a signal with the caller's `siginfo` (its
/// `si_code` must be negative, as from `sigqueue`, unless sent to itself; `si_value`'s
/// low 32 bits travel in the field `sival_int` reads).
pub fn rt_sigqueueinfo(p: &mut Process, pid: u64, signal: u64, info: u64) -> SysResult {
    if !SignalState::valid(signal) {
        return Err(Errno::EINVAL);
    }
    let raw = read_in(p, info, 128)?;
    let code = i32::from_le_bytes([raw[8], raw[9], raw[10], raw[11]]);
    let target = pid as i32;
    if target <= 0 {
        return Err(Errno::ESRCH);
    }
    let target = target as u32;
    if code >= 0 && target != p.pid {
        return Err(Errno::EPERM);
    }
    let queued = SigInfo {
        signo: signal as u8,
        code,
        pid: p.pid,
        uid: p.ids.uid,
        status: i32::from_le_bytes([raw[24], raw[25], raw[26], raw[27]]),
        addr: 0,
    };
    if target == p.pid {
        p.signals.raise(queued);
        return Ok(0);
    }
    crate::task::lifecycle::signal_process(target, queued, sender(p)).map(|()| 0)
}
