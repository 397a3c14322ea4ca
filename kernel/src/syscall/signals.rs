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

/// `kill`/`tkill`/`tgkill` aimed at this process: signal 0 checks it exists; a signal
/// whose default action terminates ends the process when the call returns (so `abort()`
/// gives 134 as on Linux); an ignored, blocked or handled one is accepted (user handlers
/// run once delivery exists).
pub fn kill(p: &mut Process, number: u64, a: [u64; 6]) -> SysResult {
    use crate::abi::syscall_numbers::TGKILL;
    let (pid, signal) = if number == TGKILL {
        (a[1] as i32, a[2])
    } else {
        (a[0] as i32, a[1])
    };
    if signal != 0 && !SignalState::valid(signal) {
        return Err(Errno::EINVAL);
    }
    if pid == i32::MIN {
        return Err(Errno::ESRCH);
    }
    let targets = crate::task::lifecycle::kill_targets(p.pid, pid);
    let includes_me = pid == -1 || targets.contains(&p.pid);
    if targets.is_empty() && !includes_me {
        return Err(Errno::ESRCH);
    }
    let info = SigInfo::user(signal as u8, p.pid, p.ids.uid);
    let sender = crate::task::lifecycle::Sender {
        pid: p.pid,
        uid: p.ids.uid,
        euid: p.ids.euid,
        cap_kill: p.capable(vfs_core::cap::KILL),
    };
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
        // A signal to itself whose default action ends it does so on the way out of this
        // call (so `abort()` in the init gives 134, as the init's own signals do on Linux);
        // a handled or blocked one waits for delivery.
        if p.signals.terminates(signal) {
            p.pending_termination = Some(signal as u8);
        } else {
            p.signals.raise(info);
        }
    }
    Ok(0)
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
    lifecycle::publish_signal_state(p.pid, &p.signals);
    loop {
        for info in lifecycle::take_pending_signals(p.pid) {
            p.signals.raise(info);
        }
        if p.signals.has_deliverable() || p.pending_termination.is_some() {
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
    for info in crate::task::lifecycle::take_pending_signals(p.pid) {
        p.signals.raise(info);
    }
    let pending = p.signals.pending.iter().fold(0u64, |mask, info| {
        mask | crate::process::signal::bit(info.signo)
    });
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
    lifecycle::publish_signal_state(p.pid, &p.signals);
    loop {
        for queued in lifecycle::take_pending_signals(p.pid) {
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
        if p.signals.has_deliverable() || p.pending_termination.is_some() {
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
    let sender = crate::task::lifecycle::Sender {
        pid: p.pid,
        uid: p.ids.uid,
        euid: p.ids.euid,
        cap_kill: p.capable(vfs_core::cap::KILL),
    };
    crate::task::lifecycle::signal_process(target, queued, sender).map(|()| 0)
}
