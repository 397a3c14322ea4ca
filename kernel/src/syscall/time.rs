//! Clocks and sleeping.

use vfs_core::Errno;

use super::{SysResult, read_in, write_out};
use crate::abi;
use crate::clock;
use crate::process::Process;

const CLOCK_REALTIME: u64 = 0;
const CLOCK_MONOTONIC: u64 = 1;
const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
const CLOCK_THREAD_CPUTIME_ID: u64 = 3;
const CLOCK_MONOTONIC_RAW: u64 = 4;
const CLOCK_REALTIME_COARSE: u64 = 5;
const CLOCK_MONOTONIC_COARSE: u64 = 6;
const CLOCK_BOOTTIME: u64 = 7;
const TIMER_ABSTIME: u64 = 1;

/// Nanoseconds on `clock`; `EINVAL` for a clock that does not exist. The CPU-time clocks
/// are the caller's (its thread's, or its process's: every thread's, ended ones too).
fn now(p: &Process, clock_id: u64) -> Result<i64, Errno> {
    let ns = |cpu: crate::task::table::CpuTime| (cpu.user_ns + cpu.system_ns) as i64;
    match clock_id {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE => Ok(clock::realtime_ns()),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME => {
            Ok(clock::monotonic_ns())
        }
        CLOCK_PROCESS_CPUTIME_ID => Ok(ns(crate::task::lifecycle::process_cpu_time(p))),
        CLOCK_THREAD_CPUTIME_ID => Ok(ns(crate::task::lifecycle::cpu_time(p))),
        _ => Err(Errno::EINVAL),
    }
}

pub fn clock_gettime(p: &mut Process, clock_id: u64, address: u64) -> SysResult {
    let ns = now(p, clock_id)?;
    write_out(
        p,
        address,
        &abi::encode_timespec(ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000)),
    )
    .map(|()| 0)
}

pub fn clock_getres(p: &mut Process, clock_id: u64, address: u64) -> SysResult {
    now(p, clock_id)?;
    if address == 0 {
        return Ok(0);
    }
    write_out(p, address, &abi::encode_timespec(0, 1)).map(|()| 0)
}

pub fn gettimeofday(p: &mut Process, address: u64, timezone: u64) -> SysResult {
    if address != 0 {
        let ns = clock::realtime_ns();
        write_out(
            p,
            address,
            &abi::encode_timespec(
                ns.div_euclid(1_000_000_000),
                ns.rem_euclid(1_000_000_000) / 1000,
            ),
        )?;
    }
    if timezone != 0 {
        // `struct timezone`: minutes west of Greenwich and DST type, both 0 (UTC).
        write_out(p, timezone, &[0; 8])?;
    }
    Ok(0)
}

pub fn time(p: &mut Process, address: u64) -> SysResult {
    let seconds = clock::realtime_ns().div_euclid(1_000_000_000);
    if address != 0 {
        write_out(p, address, &seconds.to_le_bytes())?;
    }
    Ok(seconds as u64)
}

/// A user's `struct timespec` duration or deadline in nanoseconds, for every system call
/// that takes one (`nanosleep`, `clock_nanosleep`, `futex`, `ppoll`): `EFAULT` for a bad
/// pointer, `EINVAL` as Linux's `timespec64_valid`, saturating rather than overflowing
/// (see [`abi::decode_timespec_ns`]).
pub(super) fn read_timespec_ns(p: &mut Process, address: u64) -> Result<i64, Errno> {
    abi::decode_timespec_ns(&read_in(p, address, 16)?).ok_or(Errno::EINVAL)
}

pub fn nanosleep(p: &mut Process, request: u64, remaining: u64) -> SysResult {
    let ns = read_timespec_ns(p, request)?;
    sleep_interruptibly(p, ns, remaining)
}

/// Sleeps `ns`; a signal for the process ends the sleep early with `EINTR` and the time
/// left written to `remaining` (if not NULL), as `nanosleep` and relative
/// `clock_nanosleep` do.
fn sleep_interruptibly(p: &mut Process, ns: i64, remaining: u64) -> SysResult {
    let me = p.tid;
    let deadline = clock::monotonic_ns().saturating_add(ns.max(0));
    crate::task::scheduler::sleep_for(ns, &|| crate::task::lifecycle::has_pending_signal(me));
    let left = deadline - clock::monotonic_ns();
    if left > 0 && crate::task::lifecycle::has_pending_signal(me) {
        if remaining != 0 {
            let mut out = [0u8; 16];
            out[..8].copy_from_slice(&(left / 1_000_000_000).to_le_bytes());
            out[8..].copy_from_slice(&(left % 1_000_000_000).to_le_bytes());
            write_out(p, remaining, &out)?;
        }
        return Err(Errno::EINTR);
    }
    Ok(0)
}

pub fn clock_nanosleep(
    p: &mut Process,
    clock_id: u64,
    flags: u64,
    request: u64,
    remaining: u64,
) -> SysResult {
    if clock_id == CLOCK_THREAD_CPUTIME_ID {
        return Err(Errno::EINVAL);
    }
    let start = now(p, clock_id)?;
    let ns = read_timespec_ns(p, request)?;
    let wait = if flags & TIMER_ABSTIME != 0 {
        ns - start
    } else {
        ns
    };
    // An absolute sleep reports no remaining time when interrupted, as Linux.
    let remaining = if flags & TIMER_ABSTIME != 0 {
        0
    } else {
        remaining
    };
    sleep_interruptibly(p, wait, remaining)
}
