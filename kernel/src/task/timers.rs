//! Kernel timers: things that must happen at a monotonic time whether or not anyone waits
//! for them then (a timerfd becoming readable, which must wake an `epoll` waiting on it).
//!
//! The scheduler calls [`fire`] wherever it looks for expired sleepers: on every timer
//! tick while a program runs, and on every pass of the idle loop, which the periodic APIC
//! tick ends; so a timer fires within a tick of its time, as a sleeper wakes. Its check
//! costs one load while nothing is due.
//!
//! Lock order: `TIMERS` is a leaf; an owner's `expire` runs after it is released, so it
//! may take its own locks and wake queues (which may re-arm a timer here).

use alloc::collections::BTreeMap;
use alloc::sync::Weak;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use spin::Mutex;

/// The owner of a timer, told when its time came.
pub trait Expiry: Send + Sync {
    /// The timer armed for `deadline` expired at `now`.
    fn expire(&self, deadline: i64, now: i64);
}

/// Armed timers by (deadline, timer id); an owner that went away is skipped.
static TIMERS: Mutex<BTreeMap<(i64, u64), Weak<dyn Expiry>>> = Mutex::new(BTreeMap::new());
/// The earliest deadline armed (`i64::MAX`: none).
static NEXT: AtomicI64 = AtomicI64::new(i64::MAX);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh timer id (each owner arms at most one timer per id at a time).
pub fn new_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Arms timer `id` of `owner` for `deadline` (monotonic ns).
pub fn arm(id: u64, deadline: i64, owner: Weak<dyn Expiry>) {
    let mut timers = TIMERS.lock();
    timers.insert((deadline, id), owner);
    NEXT.fetch_min(deadline, Ordering::Relaxed);
}

/// Disarms timer `id` armed for `deadline` (nothing if it already fired).
pub fn disarm(id: u64, deadline: i64) {
    let mut timers = TIMERS.lock();
    timers.remove(&(deadline, id));
    let next = timers.keys().next().map_or(i64::MAX, |&(at, _)| at);
    NEXT.store(next, Ordering::Relaxed);
}

/// Expires every timer due by `now` (the scheduler's tick and idle loop).
pub fn fire(now: i64) {
    if NEXT.load(Ordering::Relaxed) > now {
        return;
    }
    let due: Vec<(i64, Weak<dyn Expiry>)> = {
        let mut timers = TIMERS.lock();
        let later = timers.split_off(&(now.saturating_add(1), 0));
        let due = core::mem::replace(&mut *timers, later);
        let next = timers.keys().next().map_or(i64::MAX, |&(at, _)| at);
        NEXT.store(next, Ordering::Relaxed);
        due.into_iter()
            .map(|((deadline, _), owner)| (deadline, owner))
            .collect()
    };
    for (deadline, owner) in due {
        if let Some(owner) = owner.upgrade() {
            owner.expire(deadline, now);
        }
    }
}
