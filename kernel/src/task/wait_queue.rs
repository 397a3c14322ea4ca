//! A wait queue: threads sleeping until an event (a child's exit, data in a pipe).
//!
//! The waiting side checks its condition, [`WaitQueue::prepare`]s, then
//! [`super::scheduler::block`]s, and checks again when it wakes (a wake-up is a hint, not a
//! promise: another thread may have taken the data first).
//!
//! Besides sleeping threads, a queue has *watchers* that stay registered across wake-ups
//! (an epoll instance watching a file: Linux's `ep_poll_callback` on the file's wait
//! queue). Each [`WaitQueue::wake_all`] also counts a new *generation*: an edge-triggered
//! watcher reports a file again only when the generation moved since it last did.
//!
//! Several CPUs: most callers look at their condition *before* [`WaitQueue::prepare`], so a
//! waker on another CPU may change the condition and wake the queue in between, before
//! the thread is on it. Every wake-up counts a global epoch ([`WAKE_EPOCH`]), and a thread
//! remembers the epoch of its last `prepare`; a `prepare` that finds the epoch moved since
//! then (some queue was woken after the thread last got ready to wait, so perhaps after its
//! check) makes the thread's next block return at once, and the caller looks again. A
//! wake-up after the `prepare` finds the thread on the queue as before. The price is one
//! more look at the condition when anything was woken meanwhile.
//!
//! Lock order: a queue's lists are leaves; watchers are notified after the lists' locks
//! are released, so a watcher may wake other queues (a nested epoll).

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use arch::thread::{self, Thread};
use spin::Mutex;

use super::scheduler;

/// Wake-ups of any queue so far (see the module's notes).
static WAKE_EPOCH: AtomicU64 = AtomicU64::new(0);

/// Something told of every wake-up of a queue it watches, until it is dropped.
pub trait Watcher: Send + Sync {
    fn notify(&self);
}

#[derive(Default)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Arc<Thread>>>,
    watchers: Mutex<Vec<Weak<dyn Watcher>>>,
    generation: AtomicU64,
}

impl WaitQueue {
    pub const fn new() -> WaitQueue {
        WaitQueue {
            waiters: Mutex::new(Vec::new()),
            watchers: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// Puts the running thread on the queue; [`super::scheduler::block`] comes next.
    pub fn prepare(&self) {
        let woken_since = thread::with_current(|me| {
            {
                let mut waiters = self.waiters.lock();
                if !waiters.iter().any(|waiter| waiter.id() == me.id()) {
                    waiters.push(thread::current());
                }
            }
            let now = WAKE_EPOCH.load(Ordering::SeqCst);
            me.wait_epoch.swap(now, Ordering::Relaxed) != now
        });
        if woken_since {
            // Something was woken since this thread last got ready to wait: perhaps after
            // the caller looked at its condition. Look again rather than sleep.
            scheduler::wake(&thread::current());
        }
    }

    /// Takes the running thread off the queue (it woke for another reason, or gave up).
    pub fn cancel(&self) {
        let me = thread::current_id();
        self.waiters.lock().retain(|waiter| waiter.id() != me);
    }

    /// Makes every waiting thread runnable and tells every watcher.
    pub fn wake_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        WAKE_EPOCH.fetch_add(1, Ordering::SeqCst);
        let mut waiters = core::mem::take(&mut *self.waiters.lock());
        for waiter in &waiters {
            scheduler::wake(waiter);
        }
        if waiters.capacity() != 0 {
            // The list's buffer goes back for the next waiter to use (a queue woken at
            // every round trip would otherwise allocate it anew each time).
            waiters.clear();
            let mut list = self.waiters.lock();
            if list.is_empty() {
                *list = waiters;
            }
        }
        // The first watcher held inline: the common queue has none or one (its epoll), and
        // telling it allocates nothing. Watchers are told after the list's lock is
        // released (telling one may come back to this queue).
        let mut first: Option<Arc<dyn Watcher>> = None;
        let mut rest: Vec<Arc<dyn Watcher>> = Vec::new();
        {
            let mut list = self.watchers.lock();
            let mut dead = false;
            for watcher in list.iter() {
                match watcher.upgrade() {
                    Some(live) if first.is_none() => first = Some(live),
                    Some(live) => rest.push(live),
                    None => dead = true,
                }
            }
            if dead {
                list.retain(|watcher| watcher.strong_count() > 0);
            }
        }
        for watcher in first.into_iter().chain(rest) {
            watcher.notify();
        }
    }

    /// Makes at most one waiting thread runnable (the oldest); whether there was one.
    /// Watchers are not told: this is for hand-offs to exactly one sleeper.
    pub fn wake_one(&self) -> bool {
        WAKE_EPOCH.fetch_add(1, Ordering::SeqCst);
        let first = {
            let mut waiters = self.waiters.lock();
            (!waiters.is_empty()).then(|| waiters.remove(0))
        };
        match first {
            Some(waiter) => {
                scheduler::wake(&waiter);
                true
            }
            None => false,
        }
    }

    /// How many wake-ups the queue has had.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Registers `watcher` until it is dropped or [`WaitQueue::unwatch`]ed.
    pub fn watch(&self, watcher: Weak<dyn Watcher>) {
        let mut list = self.watchers.lock();
        list.retain(|watcher| watcher.strong_count() > 0);
        list.push(watcher);
    }

    pub fn unwatch(&self, watcher: &Weak<dyn Watcher>) {
        self.watchers
            .lock()
            .retain(|other| other.strong_count() > 0 && !Weak::ptr_eq(other, watcher));
    }
}
