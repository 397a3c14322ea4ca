//! Event-loop system calls: `epoll_create`/`epoll_create1`, `epoll_ctl`, `epoll_wait`,
//! `epoll_pwait`, `epoll_pwait2`; `eventfd`/`eventfd2`; `timerfd_create`, `timerfd_settime`,
//! `timerfd_gettime`; `signalfd`/`signalfd4` and reading a signalfd (which needs the
//! reader's own signal state). Arguments are checked in Linux's order, so the first error
//! Linux would give is the one given. The files themselves are in [`crate::fs::event`].

use alloc::sync::Arc;
use alloc::vec::Vec;

use vfs_core::{Errno, FileType, OpenFile, OpenFlags};

use super::{SysResult, read_in, write_out};
use crate::abi::{Encoder, decode_timespec_ns, read_u32, read_u64};
use crate::fs::event::epoll::{Epoll, Harvest};
use crate::fs::event::eventfd::{EFD_SEMAPHORE, EventFd};
use crate::fs::event::interest::Event;
use crate::fs::event::interest::{EPOLLEXCLUSIVE, EPOLLWAKEUP, EXCLUSIVE_OK_BITS};
use crate::fs::event::signal_source;
use crate::fs::event::signalfd::{self, SignalFd};
use crate::fs::event::timerfd::{self, TimerFd};
use crate::process::Process;
use crate::task::{lifecycle, scheduler};

const EPOLL_CTL_ADD: i32 = 1;
const EPOLL_CTL_DEL: i32 = 2;
const EPOLL_CTL_MOD: i32 = 3;
/// `sizeof(struct epoll_event)` on x86_64 (packed: `u32` events, `u64` data).
const EPOLL_EVENT_SIZE: u64 = 12;
/// Linux's `EP_MAX_EVENTS`: `INT_MAX / sizeof(struct epoll_event)`.
const EP_MAX_EVENTS: i32 = i32::MAX / EPOLL_EVENT_SIZE as i32;
/// `sizeof(sigset_t)` as the kernel takes it.
const SIGSET_SIZE: u64 = 8;

/// The open file behind `fd` as `fdget` finds it: `EBADF` for a closed descriptor and
/// for an `O_PATH` one.
fn usable_file(p: &Process, fd: i32) -> Result<Arc<OpenFile>, Errno> {
    let file = p.files.lock().get(fd)?.clone();
    if file.flags().contains(OpenFlags::PATH) {
        return Err(Errno::EBADF);
    }
    Ok(file)
}

/// Puts a new event file in the lowest free descriptor.
fn install(p: &mut Process, file: Arc<OpenFile>, close_on_exec: bool) -> SysResult {
    p.files
        .lock()
        .insert(file, close_on_exec)
        .map(|fd| fd as u64)
}

fn close_on_exec(flags: u32) -> bool {
    flags & OpenFlags::CLOEXEC.bits() != 0
}

/// Whether a signal waits that a blocking call gives up for (`EINTR`): one raised by the
/// process itself and not blocked, or one another process sent that it does not block.
fn interrupted(p: &Process) -> bool {
    p.pending_termination.is_some()
        || p.signals.has_deliverable()
        || lifecycle::has_pending_signal(p.tid)
}

/// Runs `call` with the signal mask at `sigmask` in place (`NULL`: the mask as it is),
/// as `epoll_pwait`, `ppoll` and `pselect6` do (Linux's `set_user_sigmask`). When the call
/// returns `EINTR` the old mask stays saved, to come back after the handler has run, so a
/// signal the temporary mask let through is delivered; otherwise it comes back now.
pub(super) fn with_sigmask(
    p: &mut Process,
    sigmask: u64,
    sigset_size: u64,
    call: impl FnOnce(&mut Process) -> SysResult,
) -> SysResult {
    const SIG_SETMASK: u64 = 2;
    if sigmask == 0 {
        return call(p);
    }
    if sigset_size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mask = read_u64(&read_in(p, sigmask, 8)?, 0);
    let old = p.signals.blocked;
    p.signals.apply_mask(SIG_SETMASK, mask)?;
    p.signals.saved_mask = Some(old);
    lifecycle::publish_signal_state(p.tid, &p.signals);
    let result = call(p);
    if result != Err(Errno::EINTR) {
        if let Some(saved) = p.signals.saved_mask.take() {
            p.signals.blocked = saved;
        }
        lifecycle::publish_signal_state(p.tid, &p.signals);
    }
    result
}

/// `epoll_create(size)`: `size` must be positive and is otherwise ignored.
pub fn epoll_create(p: &mut Process, size: u64) -> SysResult {
    if size as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    epoll_create1(p, 0)
}

/// `epoll_create1(flags)`: only `EPOLL_CLOEXEC`.
pub fn epoll_create1(p: &mut Process, flags: u64) -> SysResult {
    let flags = flags as u32;
    if flags & !OpenFlags::CLOEXEC.bits() != 0 {
        return Err(Errno::EINVAL);
    }
    let file = Epoll::open(&p.fs.lock().cred)?;
    install(p, file, close_on_exec(flags))
}

/// Whether `epoll_ctl` takes `file` (Linux's `file_can_poll`: the file has a `poll`
/// operation). Regular files, directories, `/dev/null`, `/dev/zero`, `/dev/full` and
/// `/dev/urandom` have none (`EPERM`); the terminals and `/dev/random` have one that
/// never waits.
fn can_poll(file: &OpenFile) -> bool {
    use crate::fs::dev::{CONSOLE, RANDOM, TTY};
    if crate::fs::poll::pollable(file).is_some() {
        return true;
    }
    file.stat().is_ok_and(|stat| {
        stat.file_type() == Some(FileType::CharDevice)
            && matches!(stat.rdev, TTY | CONSOLE | RANDOM)
    })
}

/// `epoll_ctl(epfd, op, fd, event)`.
pub fn epoll_ctl(p: &mut Process, epfd: u64, op: u64, fd: u64, event: u64) -> SysResult {
    let (epfd, op, fd) = (epfd as i32, op as i32, fd as i32);
    let has_event = op != EPOLL_CTL_DEL;
    let (mut events, data) = if has_event {
        let raw = read_in(p, event, EPOLL_EVENT_SIZE as usize)?;
        (read_u32(&raw, 0), read_u64(&raw, 4))
    } else {
        (0, 0)
    };
    let epoll_file = usable_file(p, epfd)?;
    let target = usable_file(p, fd)?;
    // A signalfd added is polled for the caller's signals as they are now.
    signal_source::publish(p);
    if !can_poll(&target) {
        return Err(Errno::EPERM);
    }
    // Without CAP_BLOCK_SUSPEND the flag is dropped, not refused.
    if events & EPOLLWAKEUP != 0 && !p.capable(vfs_core::cap::BLOCK_SUSPEND) {
        events &= !EPOLLWAKEUP;
    }
    let epoll = Epoll::of(&epoll_file).ok_or(Errno::EINVAL)?;
    if Arc::ptr_eq(&epoll_file, &target) {
        return Err(Errno::EINVAL);
    }
    // An exclusive wake-up is registered at ADD only, for plain reading and writing, and
    // not on an epoll.
    if has_event && events & EPOLLEXCLUSIVE != 0 {
        if op == EPOLL_CTL_MOD {
            return Err(Errno::EINVAL);
        }
        if op == EPOLL_CTL_ADD && (Epoll::of(&target).is_some() || events & !EXCLUSIVE_OK_BITS != 0)
        {
            return Err(Errno::EINVAL);
        }
    }
    match op {
        EPOLL_CTL_ADD => epoll.add(fd, &target, events, data),
        EPOLL_CTL_DEL => epoll.remove(fd, &target),
        EPOLL_CTL_MOD => epoll.modify(fd, &target, events, data),
        _ => Err(Errno::EINVAL),
    }
    .map(|()| 0)
}

/// `epoll_wait`: `timeout_ms` negative waits for ever, 0 does not wait.
pub fn epoll_wait(p: &mut Process, epfd: u64, events: u64, max: u64, timeout_ms: u64) -> SysResult {
    let timeout_ms = timeout_ms as i32;
    let deadline = (timeout_ms >= 0)
        .then(|| crate::clock::monotonic_ns().saturating_add(i64::from(timeout_ms) * 1_000_000));
    wait(p, epfd as i32, events, max as i32, deadline)
}

/// `epoll_pwait`: `epoll_wait` with a signal mask for the wait.
pub fn epoll_pwait(
    p: &mut Process,
    epfd: u64,
    events: u64,
    max: u64,
    timeout_ms: u64,
    sigmask: u64,
    sigset_size: u64,
) -> SysResult {
    with_sigmask(p, sigmask, sigset_size, |p| {
        epoll_wait(p, epfd, events, max, timeout_ms)
    })
}

/// `epoll_pwait2`: the timeout a `struct timespec` (`NULL`: for ever), then as
/// `epoll_pwait`.
pub fn epoll_pwait2(
    p: &mut Process,
    epfd: u64,
    events: u64,
    max: u64,
    timeout: u64,
    sigmask: u64,
    sigset_size: u64,
) -> SysResult {
    let deadline = if timeout == 0 {
        None
    } else {
        let ns = super::time::read_timespec_ns(p, timeout)?;
        Some(crate::clock::monotonic_ns().saturating_add(ns))
    };
    with_sigmask(p, sigmask, sigset_size, |p| {
        wait(p, epfd as i32, events, max as i32, deadline)
    })
}

/// The wait itself (Linux's `do_epoll_wait` and `ep_poll`): events ready win over the
/// timeout and over a signal; with none, it sleeps until an item's file is woken, the
/// `deadline` passes (0 events) or a signal arrives (`EINTR`, never restarted).
fn wait(p: &mut Process, epfd: i32, events: u64, max: i32, deadline: Option<i64>) -> SysResult {
    if max <= 0 || max > EP_MAX_EVENTS {
        return Err(Errno::EINVAL);
    }
    // `access_ok`: the array must lie in the user half; whether it is mapped shows when
    // events are written.
    let len = max as u64 * EPOLL_EVENT_SIZE;
    if events
        .checked_add(len)
        .is_none_or(|end| end > crate::mm::vma::TASK_SIZE)
    {
        return Err(Errno::EFAULT);
    }
    let file = usable_file(p, epfd)?;
    let epoll = Epoll::of(&file).ok_or(Errno::EINVAL)?;
    signal_source::publish(p);
    let mut harvest = core::mem::take(&mut p.epoll_harvest);
    let result = harvest_events(p, epoll, max as usize, deadline, &mut harvest)
        .and_then(|()| write_events(p, events, &harvest.events));
    harvest.keep_small();
    p.epoll_harvest = harvest;
    result
}

/// Waits until `epoll` has events (into `harvest`), the deadline passes (none) or a
/// signal comes (`EINTR`).
fn harvest_events(
    p: &mut Process,
    epoll: &Epoll,
    max: usize,
    deadline: Option<i64>,
    harvest: &mut Harvest,
) -> Result<(), Errno> {
    loop {
        signal_source::flush();
        epoll.collect(max, harvest);
        if !harvest.events.is_empty() {
            return Ok(());
        }
        if deadline.is_some_and(|deadline| crate::clock::monotonic_ns() >= deadline) {
            return Ok(());
        }
        if interrupted(p) {
            return Err(Errno::EINTR);
        }
        epoll.queue().prepare();
        match deadline {
            Some(deadline) => scheduler::sleep_until(deadline),
            None => scheduler::block(),
        }
        epoll.queue().cancel();
    }
}

/// Copies `ready` out as `struct epoll_event`s (packed on x86_64: `u32` events, `u64`
/// data) in chunks through a stack buffer: how many.
fn write_events(p: &mut Process, address: u64, ready: &[Event]) -> SysResult {
    const CHUNK: usize = 32;
    let size = EPOLL_EVENT_SIZE as usize;
    let mut bytes = [0u8; CHUNK * EPOLL_EVENT_SIZE as usize];
    for (index, chunk) in ready.chunks(CHUNK).enumerate() {
        for (slot, event) in bytes.chunks_exact_mut(size).zip(chunk) {
            slot[..4].copy_from_slice(&event.events.to_le_bytes());
            slot[4..12].copy_from_slice(&event.data.to_le_bytes());
        }
        let at = address + (index * CHUNK * size) as u64;
        write_out(p, at, &bytes[..chunk.len() * size])?;
    }
    Ok(ready.len() as u64)
}

/// `eventfd2(initval, flags)` (and `eventfd`, with no flags): `EFD_CLOEXEC`,
/// `EFD_NONBLOCK`, `EFD_SEMAPHORE`.
pub fn eventfd2(p: &mut Process, initial: u64, flags: u64) -> SysResult {
    let flags = flags as u32;
    let allowed = OpenFlags::CLOEXEC.bits() | OpenFlags::NONBLOCK.bits() | EFD_SEMAPHORE;
    if flags & !allowed != 0 {
        return Err(Errno::EINVAL);
    }
    let file = EventFd::open(&p.fs.lock().cred, initial as u32, flags)?;
    install(p, file, close_on_exec(flags))
}

/// `timerfd_create(clockid, flags)`: `TFD_CLOEXEC`, `TFD_NONBLOCK`. The `_ALARM` clocks
/// need `CAP_WAKE_ALARM` (`EPERM`).
pub fn timerfd_create(p: &mut Process, clock: u64, flags: u64) -> SysResult {
    let (clock, flags) = (clock as i32, flags as u32);
    let allowed = OpenFlags::CLOEXEC.bits() | OpenFlags::NONBLOCK.bits();
    let known = [
        timerfd::CLOCK_REALTIME,
        timerfd::CLOCK_MONOTONIC,
        timerfd::CLOCK_BOOTTIME,
        timerfd::CLOCK_REALTIME_ALARM,
        timerfd::CLOCK_BOOTTIME_ALARM,
    ];
    let clock = u32::try_from(clock)
        .ok()
        .filter(|clock| known.contains(clock))
        .ok_or(Errno::EINVAL)?;
    if flags & !allowed != 0 {
        return Err(Errno::EINVAL);
    }
    let alarm = matches!(
        clock,
        timerfd::CLOCK_REALTIME_ALARM | timerfd::CLOCK_BOOTTIME_ALARM
    );
    if alarm && !p.capable(vfs_core::cap::WAKE_ALARM) {
        return Err(Errno::EPERM);
    }
    let file = TimerFd::open(
        &p.fs.lock().cred,
        clock,
        OpenFlags::from_bits_truncate(flags),
    )?;
    install(p, file, close_on_exec(flags))
}

/// A `struct itimerspec`: (interval, value) in ns.
fn encode_itimerspec(interval: i64, value: i64) -> Vec<u8> {
    let mut out = Encoder::with_capacity(32);
    out.i64(interval / 1_000_000_000)
        .i64(interval % 1_000_000_000)
        .i64(value / 1_000_000_000)
        .i64(value % 1_000_000_000);
    out.finish()
}

/// The timerfd behind `fd`: `EBADF`, or `EINVAL` for another kind of file.
fn timerfd_file(p: &Process, fd: u64) -> Result<Arc<OpenFile>, Errno> {
    let file = usable_file(p, fd as i32)?;
    if timerfd::timerfd_of(&file).is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(file)
}

/// `timerfd_settime(fd, flags, new, old)`: `TFD_TIMER_ABSTIME`,
/// `TFD_TIMER_CANCEL_ON_SET`.
pub fn timerfd_settime(p: &mut Process, fd: u64, flags: u64, new: u64, old: u64) -> SysResult {
    let raw = read_in(p, new, 32)?;
    let flags = flags as u32;
    let allowed = timerfd::TFD_TIMER_ABSTIME | timerfd::TFD_TIMER_CANCEL_ON_SET;
    let (interval, value) = (
        decode_timespec_ns(&raw[..16]),
        decode_timespec_ns(&raw[16..]),
    );
    let (Some(interval), Some(value)) = (interval, value) else {
        return Err(Errno::EINVAL);
    };
    if flags & !allowed != 0 {
        return Err(Errno::EINVAL);
    }
    let file = timerfd_file(p, fd)?;
    let timer = timerfd::timerfd_of(&file).ok_or(Errno::EINVAL)?;
    if timer.is_alarm() && !p.capable(vfs_core::cap::WAKE_ALARM) {
        return Err(Errno::EPERM);
    }
    let (old_value, old_interval) = timer.set(flags, value, interval);
    if old != 0 {
        write_out(p, old, &encode_itimerspec(old_interval, old_value))?;
    }
    Ok(0)
}

/// `timerfd_gettime(fd, current)`.
pub fn timerfd_gettime(p: &mut Process, fd: u64, current: u64) -> SysResult {
    let file = timerfd_file(p, fd)?;
    let timer = timerfd::timerfd_of(&file).ok_or(Errno::EINVAL)?;
    let (value, interval) = timer.get();
    write_out(p, current, &encode_itimerspec(interval, value)).map(|()| 0)
}

/// `signalfd4(fd, mask, sizemask, flags)` (and `signalfd`, with no flags): a new
/// signalfd for `fd` -1, else a new mask for the signalfd `fd`.
pub fn signalfd4(p: &mut Process, fd: u64, mask: u64, size: u64, flags: u64) -> SysResult {
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mask = read_u64(&read_in(p, mask, 8)?, 0);
    let flags = flags as u32;
    let allowed = OpenFlags::CLOEXEC.bits() | OpenFlags::NONBLOCK.bits();
    if flags & !allowed != 0 {
        return Err(Errno::EINVAL);
    }
    let fd = fd as i32;
    if fd == -1 {
        let file = SignalFd::open(
            &p.fs.lock().cred,
            mask,
            OpenFlags::from_bits_truncate(flags),
        )?;
        return install(p, file, close_on_exec(flags));
    }
    let file = usable_file(p, fd)?;
    signalfd::signalfd_of(&file)
        .ok_or(Errno::EINVAL)?
        .set_mask(mask);
    Ok(fd as u64)
}

/// A read of `count` bytes from a signalfd: as many whole records as fit (`EINVAL` if
/// none does), taking the caller's pending signals of its mask; sleeps for the first
/// unless the file is non-blocking (`EAGAIN`), `EINTR` when another signal comes first.
pub(super) fn read_signalfd(
    p: &mut Process,
    file: &OpenFile,
    count: u64,
) -> Result<Vec<u8>, Errno> {
    let records = count / signalfd::RECORD_SIZE as u64;
    if records == 0 {
        return Err(Errno::EINVAL);
    }
    let signalfd = signalfd::signalfd_of(file).ok_or(Errno::EINVAL)?;
    let mut out = Vec::new();
    while (out.len() as u64) < records * signalfd::RECORD_SIZE as u64 {
        if let Some(info) = signal_source::take(p, signalfd.mask()) {
            out.extend_from_slice(&signalfd::encode(&info));
            continue;
        }
        // Only the first record is waited for.
        if !out.is_empty() {
            break;
        }
        if file.flags().contains(OpenFlags::NONBLOCK) {
            return Err(Errno::EAGAIN);
        }
        if interrupted(p) {
            return Err(Errno::EINTR);
        }
        signal_source::queue().prepare();
        scheduler::block();
        signal_source::queue().cancel();
    }
    Ok(out)
}
