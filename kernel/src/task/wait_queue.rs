//! A wait queue: threads sleeping until an event (a child's exit, data in a pipe).
//!
//! The waiting side checks its condition, [`WaitQueue::prepare`]s, then
//! [`super::scheduler::block`]s, and checks again when it wakes (a wake-up is a hint, not a
//! promise: another thread may have taken the data first).

use alloc::sync::Arc;
use alloc::vec::Vec;

use arch::thread::{self, Thread};
use spin::Mutex;

use super::scheduler;

#[derive(Default)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Arc<Thread>>>,
}

impl WaitQueue {
    pub const fn new() -> WaitQueue {
        WaitQueue {
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// Puts the running thread on the queue; [`super::scheduler::block`] comes next.
    pub fn prepare(&self) {
        let me = thread::current();
        let mut waiters = self.waiters.lock();
        if !waiters.iter().any(|waiter| Arc::ptr_eq(waiter, &me)) {
            waiters.push(me);
        }
    }

    /// Takes the running thread off the queue (it woke for another reason, or gave up).
    pub fn cancel(&self) {
        let me = thread::current();
        self.waiters
            .lock()
            .retain(|waiter| !Arc::ptr_eq(waiter, &me));
    }

    /// Makes every waiting thread runnable.
    pub fn wake_all(&self) {
        let waiters = core::mem::take(&mut *self.waiters.lock());
        for waiter in &waiters {
            scheduler::wake(waiter);
        }
    }
}
