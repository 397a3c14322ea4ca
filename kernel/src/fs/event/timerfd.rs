//! timerfd: a timer as a file. A read of 8 bytes or more returns the expirations since the
//! last read as a `u64`, sleeping until there is one (`EAGAIN` with `O_NONBLOCK`, `EINTR`
//! on a signal); `poll` reports `POLLIN` once it expired. The arithmetic is
//! [`super::timer`]'s; the expiry itself comes from the task layer's timer list
//! ([`crate::task::timers`]), so the file becomes readable — and its waiters, `epoll`
//! ones included, are woken — at its time even when nobody is reading.
//!
//! Clocks: `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` (the same here: the sandbox never
//! suspends), `CLOCK_REALTIME` (its absolute times converted to the monotonic clock; the
//! real-time clock is never set inside the sandbox, so a timer is never cancelled by a
//! clock change and `TFD_TIMER_CANCEL_ON_SET` is accepted with nothing to report), and the
//! `_ALARM` ones for holders of `CAP_WAKE_ALARM`, which behave as their base clock.
//!
//! Lock order: a timerfd's state → `task::timers::TIMERS`; its queue is woken after both
//! are released.

use alloc::format;
use alloc::string::String;
use alloc::sync::{Arc, Weak};

use spin::Mutex;
use vfs_core::file::DeviceFile;
use vfs_core::{Credentials, Errno, OpenFile, OpenFlags, Result};

use super::blocking::sleep_on;
use super::timer::Timer;
use crate::fs::poll::{POLLIN, Pollable};
use crate::task::{WaitQueue, timers};

pub const CLOCK_REALTIME: u32 = 0;
pub const CLOCK_MONOTONIC: u32 = 1;
pub const CLOCK_BOOTTIME: u32 = 7;
pub const CLOCK_REALTIME_ALARM: u32 = 8;
pub const CLOCK_BOOTTIME_ALARM: u32 = 9;
/// `TFD_TIMER_ABSTIME`, `TFD_TIMER_CANCEL_ON_SET`.
pub const TFD_TIMER_ABSTIME: u32 = 1;
pub const TFD_TIMER_CANCEL_ON_SET: u32 = 2;

struct State {
    timer: Timer,
    /// The deadline armed in the task layer's list, if any.
    armed: Option<i64>,
    /// The flags of the last `timerfd_settime` (`/proc/<pid>/fdinfo`).
    settime_flags: u32,
}

struct Inner {
    clock: u32,
    id: u64,
    state: Mutex<State>,
    events: WaitQueue,
}

pub struct TimerFd {
    inner: Arc<Inner>,
}

impl TimerFd {
    /// `timerfd_create(clock, flags)`; `clock` and `flags` are already checked.
    pub fn open(cred: &Credentials, clock: u32, flags: OpenFlags) -> Result<Arc<OpenFile>> {
        let timerfd = TimerFd {
            inner: Arc::new(Inner {
                clock,
                id: timers::new_id(),
                state: Mutex::new(State {
                    timer: Timer::new(),
                    armed: None,
                    settime_flags: 0,
                }),
                events: WaitQueue::new(),
            }),
        };
        super::anon::open(cred, flags, Arc::new(timerfd))
    }

    /// Whether its clock is one of the `_ALARM` ones.
    pub fn is_alarm(&self) -> bool {
        matches!(
            self.inner.clock,
            CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM
        )
    }

    /// `timerfd_settime`: arms it at `value` ns (absolute on its clock with
    /// `TFD_TIMER_ABSTIME`, else from now), then every `interval` ns; a `value` of 0
    /// disarms. Returns the old (remaining, interval).
    pub fn set(&self, flags: u32, value: i64, interval: i64) -> (i64, i64) {
        let now = crate::clock::monotonic_ns();
        let absolute = flags & TFD_TIMER_ABSTIME != 0;
        // An absolute real-time value, on the monotonic clock (the offset never changes).
        let value = if absolute && value != 0 && self.realtime() {
            value
                .saturating_sub(crate::clock::realtime_ns() - now)
                .max(1)
        } else {
            value
        };
        let (old, fired) = {
            let mut state = self.inner.state.lock();
            let old = state.timer.set(now, value, interval, absolute);
            state.settime_flags = flags & (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
            let fired = state.timer.ticks() > 0;
            self.inner.sync(&mut state);
            (old, fired)
        };
        if fired {
            self.inner.events.wake_all();
        }
        old
    }

    /// `timerfd_gettime`: (remaining, interval) in ns.
    pub fn get(&self) -> (i64, i64) {
        let now = crate::clock::monotonic_ns();
        let (setting, fired) = {
            let mut state = self.inner.state.lock();
            let fired = state.timer.fire_if_due(now);
            let setting = state.timer.get(now);
            self.inner.sync(&mut state);
            (setting, fired)
        };
        if fired {
            self.inner.events.wake_all();
        }
        setting
    }

    fn realtime(&self) -> bool {
        matches!(self.inner.clock, CLOCK_REALTIME | CLOCK_REALTIME_ALARM)
    }

    /// What `/proc/<pid>/fdinfo/N` adds for it (Linux's `timerfd_show`).
    pub fn fdinfo(&self) -> String {
        let now = crate::clock::monotonic_ns();
        let (ticks, flags, (value, interval)) = {
            let state = self.inner.state.lock();
            (
                state.timer.ticks(),
                state.settime_flags,
                state.timer.setting(now),
            )
        };
        format!(
            "clockid: {}\nticks: {ticks}\nsettime flags: 0{flags:o}\nit_value: ({}, {})\nit_interval: ({}, {})\n",
            self.inner.clock,
            value / 1_000_000_000,
            value % 1_000_000_000,
            interval / 1_000_000_000,
            interval % 1_000_000_000,
        )
    }
}

impl Inner {
    /// Makes the task layer's list hold the timer's deadline (after anything that may
    /// have changed it).
    fn sync(self: &Arc<Self>, state: &mut State) {
        let wanted = state.timer.deadline();
        if state.armed == wanted {
            return;
        }
        if let Some(old) = state.armed.take() {
            timers::disarm(self.id, old);
        }
        if let Some(deadline) = wanted {
            let owner: Weak<dyn timers::Expiry> = Arc::downgrade(self) as Weak<dyn timers::Expiry>;
            timers::arm(self.id, deadline, owner);
            state.armed = Some(deadline);
        }
    }
}

impl timers::Expiry for Inner {
    fn expire(&self, deadline: i64, now: i64) {
        let fired = {
            let mut state = self.state.lock();
            if state.armed != Some(deadline) {
                return;
            }
            state.armed = None;
            state.timer.fire_if_due(now)
        };
        if fired {
            self.events.wake_all();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(deadline) = self.state.get_mut().armed {
            timers::disarm(self.id, deadline);
        }
    }
}

impl DeviceFile for TimerFd {
    fn read(&self, _offset: u64, buf: &mut [u8], flags: OpenFlags) -> Result<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        loop {
            let taken = {
                let mut state = self.inner.state.lock();
                let taken = state.timer.take(crate::clock::monotonic_ns());
                self.inner.sync(&mut state);
                taken
            };
            if let Some(ticks) = taken {
                buf[..8].copy_from_slice(&ticks.to_le_bytes());
                return Ok(8);
            }
            if flags.contains(OpenFlags::NONBLOCK) {
                return Err(Errno::EAGAIN);
            }
            sleep_on(&self.inner.events)?;
        }
    }

    /// A timerfd has no write operation: `EINVAL`.
    fn write(&self, _offset: u64, _buf: &[u8], _flags: OpenFlags) -> Result<usize> {
        super::anon::no_such_operation()
    }
}

impl Pollable for TimerFd {
    /// `POLLIN` once it expired (the expiry may be due and not yet fired by the tick:
    /// counted, without waking anyone from inside a poll).
    fn poll(&self) -> u16 {
        let now = crate::clock::monotonic_ns();
        if self.inner.state.lock().timer.readable(now) {
            POLLIN
        } else {
            0
        }
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.inner.events
    }
}

/// The timerfd behind an open file, if it is one.
pub fn timerfd_of(file: &OpenFile) -> Option<&TimerFd> {
    let device: &dyn core::any::Any = &**file.device()?;
    device.downcast_ref::<TimerFd>()
}
