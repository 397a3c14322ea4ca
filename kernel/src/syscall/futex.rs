//! The futex system calls: `futex`, `futex_waitv`, `set_robust_list`, `get_robust_list`.
//! Arguments are decoded and checked here in Linux's order (`kernel/futex/syscalls.c`:
//! the timeout is read before the command is checked; keys before values), timeouts
//! become deadlines on the monotonic clock, and the work is done by the kernel's futex
//! table ([`crate::task::futex`]).

use alloc::vec::Vec;

use vfs_core::Errno;

use super::{SysResult, read_in, write_out};
use crate::futex::op::{
    self, BITSET_MATCH_ANY, Clock, Command, FUTEX_WAITV_MAX, Op, TimeoutKind, WAITV_ENTRY_SIZE,
    WakeOp,
};
use crate::futex::robust::ROBUST_LIST_HEAD_SIZE;
use crate::process::Process;
use crate::task::futex::{self as table, Futex, NotWoken, WaitOn};

/// A deadline on the monotonic clock for a timeout of `kind` read from `address`.
fn deadline(p: &mut Process, address: u64, kind: TimeoutKind) -> Result<i64, Errno> {
    let ns = super::time::read_timespec_ns(p, address)?;
    Ok(match kind {
        TimeoutKind::Relative => crate::clock::monotonic_ns().saturating_add(ns),
        TimeoutKind::Absolute(Clock::Monotonic) => ns,
        // The real-time clock is the monotonic one plus a fixed offset (it cannot be
        // set here), so its deadline converts once, exactly.
        TimeoutKind::Absolute(Clock::Realtime) => {
            ns.saturating_sub(crate::clock::realtime_offset_ns())
        }
    })
}

fn wait_result(result: Result<usize, NotWoken>) -> SysResult {
    match result {
        Ok(index) => Ok(index as u64),
        Err(NotWoken::Changed) => Err(Errno::EAGAIN),
        Err(NotWoken::TimedOut) => Err(Errno::ETIMEDOUT),
        Err(NotWoken::Interrupted) => Err(Errno::EINTR),
    }
}

/// `futex(uaddr, op, val, timeout | val2, uaddr2, val3)`.
pub fn futex(
    p: &mut Process,
    address: u64,
    op: u64,
    value: u64,
    timeout: u64,
    address2: u64,
    value3: u64,
) -> SysResult {
    let op = op as u32;
    let value = value as u32;
    let value3 = value3 as u32;
    let deadline = match Op::timeout_kind(op) {
        Some(kind) if timeout != 0 => Some(deadline(p, timeout, kind)?),
        _ => None,
    };
    // The fourth argument is a count for the commands that take no timeout.
    let value2 = timeout as u32;
    let op = Op::decode(op)?;
    let mm = p.mm.clone();
    match op.command {
        Command::Wait | Command::WaitBitset => {
            let bitset = if op.command == Command::Wait {
                BITSET_MATCH_ANY
            } else {
                value3
            };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            let futex = Futex::at(&mm, address, op.private)?;
            let waits = [WaitOn {
                futex,
                expected: value,
                bitset,
            }];
            wait_result(table::wait(&mm, p.tid, &waits, deadline)?).map(|_| 0)
        }
        Command::Wake | Command::WakeBitset => {
            let bitset = if op.command == Command::Wake {
                BITSET_MATCH_ANY
            } else {
                value3
            };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            let futex = Futex::at(&mm, address, op.private)?;
            table::wake(&futex, op::wake_limit(value), bitset).map(|n| n as u64)
        }
        Command::Requeue | Command::CmpRequeue => {
            let (wake, requeue) = op::requeue_counts(value, value2)?;
            let from = Futex::at(&mm, address, op.private)?;
            let to = Futex::at(&mm, address2, op.private)?;
            let expected = (op.command == Command::CmpRequeue).then_some(value3);
            table::requeue(&mm, &from, &to, wake, requeue, expected).map(|n| n as u64)
        }
        Command::WakeOp => {
            let first = Futex::at(&mm, address, op.private)?;
            let second = Futex::at(&mm, address2, op.private)?;
            let limit = op::wake_limit(value);
            let limit2 = op::wake_limit(value2);
            table::wake_op(&mm, &first, &second, limit, limit2, WakeOp::decode(value3))
                .map(|n| n as u64)
        }
        Command::LockPi | Command::LockPi2 | Command::TrylockPi => {
            let futex = Futex::at(&mm, address, op.private)?;
            let try_only = op.command == Command::TrylockPi;
            table::lock_pi(&mm, p.tid, &futex, deadline, try_only).map(|()| 0)
        }
        Command::UnlockPi => {
            let futex = Futex::at(&mm, address, op.private)?;
            table::unlock_pi(&mm, p.tid, &futex).map(|()| 0)
        }
        Command::WaitRequeuePi => {
            if address == address2 {
                return Err(Errno::EINVAL);
            }
            let target = Futex::at(&mm, address2, op.private)?;
            let futex = Futex::at(&mm, address, op.private)?;
            table::wait_requeue_pi(&mm, p.tid, &futex, &target, value, deadline).map(|()| 0)
        }
        Command::CmpRequeuePi => {
            let (wake, requeue) = op::requeue_counts(value, value2)?;
            if wake != 1 {
                return Err(Errno::EINVAL);
            }
            let from = Futex::at(&mm, address, op.private)?;
            let to = Futex::at(&mm, address2, op.private)?;
            table::cmp_requeue_pi(&mm, &from, &to, requeue, value3).map(|n| n as u64)
        }
    }
}

/// Whether a `futex` call that a signal interrupted (`EINTR`) is restarted after a
/// handler with `SA_RESTART` (or when no handler ran), by Linux's rules: a wait without
/// a timeout returns `-ERESTARTSYS` (restarted), one with a timeout
/// `-ERESTART_RESTARTBLOCK` (`EINTR` after a handler); see also [`restarts_always`].
pub fn restartable(op: u64, timeout: u64) -> bool {
    let command = Op::decode(op as u32).map(|op| op.command);
    matches!(command, Ok(Command::Wait | Command::WaitBitset)) && timeout == 0
        || restarts_always(op)
}

/// Whether a `futex` call that a signal interrupted is restarted whatever the handler's
/// flags (Linux's `-ERESTARTNOINTR`): taking a PI lock, and waiting to be requeued onto
/// one (its deadline is absolute, so the restarted call keeps it).
pub fn restarts_always(op: u64) -> bool {
    let command = Op::decode(op as u32).map(|op| op.command);
    matches!(
        command,
        Ok(Command::LockPi | Command::LockPi2 | Command::WaitRequeuePi)
    )
}

/// `futex_waitv(waiters, nr_futexes, flags, timeout, clockid)`: waits on up to 128
/// futexes at once; the index of the one woken.
pub fn futex_waitv(
    p: &mut Process,
    waiters: u64,
    count: u64,
    flags: u64,
    timeout: u64,
    clock_id: u64,
) -> SysResult {
    const CLOCK_REALTIME: u32 = 0;
    const CLOCK_MONOTONIC: u32 = 1;
    let count = count as u32 as usize;
    if flags as u32 != 0 {
        return Err(Errno::EINVAL);
    }
    if count == 0 || count > FUTEX_WAITV_MAX || waiters == 0 {
        return Err(Errno::EINVAL);
    }
    let deadline = if timeout != 0 {
        let clock = match clock_id as u32 {
            CLOCK_REALTIME => Clock::Realtime,
            CLOCK_MONOTONIC => Clock::Monotonic,
            _ => return Err(Errno::EINVAL),
        };
        Some(deadline(p, timeout, TimeoutKind::Absolute(clock))?)
    } else {
        None
    };
    // At most 128 entries of 24 bytes: within the working memory every process has paid
    // for (`PREPAID_SCRATCH`), as are the waits and their table entries.
    let bytes = count.checked_mul(WAITV_ENTRY_SIZE).ok_or(Errno::EINVAL)?;
    let raw = read_in(p, waiters, bytes)?;
    let mut entries = Vec::with_capacity(count);
    for chunk in raw.chunks_exact(WAITV_ENTRY_SIZE) {
        let mut entry = [0u8; WAITV_ENTRY_SIZE];
        entry.copy_from_slice(chunk);
        entries.push(op::decode_waitv_entry(&entry)?);
    }
    let mm = p.mm.clone();
    let mut waits = Vec::with_capacity(count);
    for entry in entries {
        waits.push(WaitOn {
            futex: Futex::at(&mm, entry.address, entry.private)?,
            expected: entry.value,
            bitset: BITSET_MATCH_ANY,
        });
    }
    wait_result(table::wait(&mm, p.tid, &waits, deadline)?)
}

/// `set_robust_list(head, len)`: only the one head size Linux knows is accepted; the
/// head is not read until the thread ends.
pub fn set_robust_list(p: &mut Process, head: u64, len: u64) -> SysResult {
    if len != ROBUST_LIST_HEAD_SIZE {
        return Err(Errno::EINVAL);
    }
    p.robust_list = (head, len);
    p.task.set_robust_list(head);
    Ok(0)
}

/// `get_robust_list(tid, head_ptr, len_ptr)`: the head thread `tid` (0: the caller)
/// registered. Another thread's needs Linux's `ptrace_may_access` read check: the
/// caller's real uid is the target's real, effective and saved uid and its real gid
/// likewise, or it holds `CAP_SYS_PTRACE` (`EPERM` otherwise; a thread of the caller's
/// own process has its credentials, so it passes); an unknown tid is `ESRCH`.
pub fn get_robust_list(p: &mut Process, tid: u64, head_out: u64, len_out: u64) -> SysResult {
    let tid = tid as i32;
    let head = if tid == 0 || tid as u32 == p.tid {
        p.robust_list.0
    } else {
        let task = u32::try_from(tid)
            .ok()
            .and_then(crate::task::lifecycle::task_of)
            .ok_or(Errno::ESRCH)?;
        let allowed = task.with_identity(|theirs| {
            let (me, them) = (&p.ids, &theirs.ids);
            [them.uid, them.euid, them.suid]
                .iter()
                .all(|&id| id == me.uid)
                && [them.gid, them.egid, them.sgid]
                    .iter()
                    .all(|&id| id == me.gid)
        }) || p.capable(vfs_core::cap::SYS_PTRACE);
        if !allowed {
            return Err(Errno::EPERM);
        }
        task.robust_list()
    };
    write_out(p, len_out, &ROBUST_LIST_HEAD_SIZE.to_le_bytes())?;
    write_out(p, head_out, &head.to_le_bytes())?;
    Ok(0)
}
