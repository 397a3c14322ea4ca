//! Pause and resume (runc's `pause`/`resume`, the cgroup freezer's job): while the
//! container is frozen, none of its threads returns to user mode — each one parks at
//! the top of the run loop, whether it comes back from a system call, a fault or a timer
//! tick — and all go on where they were once it thaws. No signal is involved, so nothing
//! in the container can see or undo it (a `SIGSTOP` would show in `wait` and `/proc`).
//!
//! A thread blocked in a system call stays blocked and parks when it returns; that is
//! Linux's freezer too (a frozen task's pending call completes, its user code does not
//! run).
//!
//! Lock order: `THAWED`'s list is a leaf.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::task::{WaitQueue, scheduler};

static FROZEN: AtomicBool = AtomicBool::new(false);
static THAWED: WaitQueue = WaitQueue::new();

pub fn freeze() {
    FROZEN.store(true, Ordering::SeqCst);
}

pub fn thaw() {
    FROZEN.store(false, Ordering::SeqCst);
    THAWED.wake_all();
}

/// Called by every container thread before it enters user mode: parks while frozen.
pub fn checkpoint() {
    while FROZEN.load(Ordering::SeqCst) {
        THAWED.prepare();
        if FROZEN.load(Ordering::SeqCst) {
            scheduler::block();
        }
        THAWED.cancel();
    }
}
