//! Where signalfd meets the signal state — the one adapter to re-point when pending
//! signals move (per-thread and process-shared queues in the task table).
//!
//! A signal another thread sends waits in the task table (for the thread, or for its
//! process) until the receiving thread's next return to user mode moves it into its own
//! pending set (where a blocked one stays), which only that thread can reach. So: a signalfd read, which runs on the
//! calling thread with its [`Process`], takes from both ([`take`]); a signalfd poll, which
//! may run anywhere (`epoll` nesting, `poll`), sees the table's part and the part the
//! thread last [`publish`]ed — which every call that may poll a signalfd does first.
//!
//! Waking: `Table::send` runs with the table locked, where waking a signalfd's watchers
//! (epoll items, which lock their epoll) would take locks in the wrong order. It only
//! marks that a signal was [`sent`]; the receiver's thread, which `send` wakes, calls
//! [`flush`] in its wait loop (and so does anyone else's), and that wakes the queue.
//!
//! Lock order: `PUBLISHED` is a leaf (released before the table is asked).

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use core::sync::atomic::{AtomicBool, Ordering};

use spin::Mutex;

use crate::process::Process;
use crate::process::signal::{SigInfo, bit};
use crate::task::shared::Task;
use crate::task::{WaitQueue, lifecycle};

/// Woken when a signal may have become pending, or a signalfd's mask changed.
static QUEUE: WaitQueue = WaitQueue::new();
/// A signal was sent since the last [`flush`].
static SENT: AtomicBool = AtomicBool::new(false);
/// Each thread's own pending signals as it last published them, with its task (a pid
/// reused by a new process does not inherit the mask).
static PUBLISHED: Mutex<BTreeMap<u32, (Weak<Task>, u64)>> = Mutex::new(BTreeMap::new());

/// The queue every signalfd is woken through.
pub fn queue() -> &'static WaitQueue {
    &QUEUE
}

/// `Table::send`'s hook: a signal was queued for some process.
pub fn sent() {
    SENT.store(true, Ordering::Release);
}

/// Wakes the signalfds' watchers if a signal was sent since the last call. Called with no
/// lock held, by wait loops that may be watching a signalfd.
pub fn flush() {
    if SENT.swap(false, Ordering::AcqRel) {
        QUEUE.wake_all();
    }
}

/// A signalfd's mask changed: what it is ready for may have.
pub fn mask_changed() {
    QUEUE.wake_all();
}

/// Shows `p`'s own pending signals to [`pending`], before a wait that may poll a
/// signalfd. A signal the process raised itself since it last published (a `kill` of
/// itself, a `SIGPIPE`) did not pass through `Table::send`: it counts as [`sent`] now.
pub fn publish(p: &Process) {
    let mask = p
        .signals
        .pending
        .iter()
        .fold(0u64, |mask, info| mask | bit(info.signo));
    let before = {
        let mut published = PUBLISHED.lock();
        published.retain(|_, (task, _)| task.strong_count() > 0);
        let before = published.get(&p.tid).map_or(0, |(_, mask)| *mask);
        if mask == 0 {
            published.remove(&p.tid);
        } else {
            published.insert(p.tid, (Arc::downgrade(&p.task), mask));
        }
        before
    };
    if mask & !before != 0 {
        sent();
    }
}

/// The signals pending for the calling thread and its process, as a mask (signalfd's
/// `poll` runs on the caller, whose signals it reports, as Linux's does).
pub fn pending() -> u64 {
    let Some(tid) = lifecycle::current_tid() else {
        return 0;
    };
    // Sent to the thread, and sent to its process.
    let queued = lifecycle::signal_masks(tid).map_or(0, |masks| masks[0] | masks[1]);
    let published = PUBLISHED.lock().get(&tid).cloned();
    let own = match (published, lifecycle::task_of(tid)) {
        (Some((task, mask)), Some(current)) if Weak::ptr_eq(&task, &Arc::downgrade(&current)) => {
            mask
        }
        _ => 0,
    };
    queued | own
}

/// Takes the lowest-numbered signal of `mask` pending for `p` (signalfd's `read`).
pub fn take(p: &mut Process, mask: u64) -> Option<SigInfo> {
    for info in lifecycle::take_pending_signals(p.tid, !p.signals.blocked | mask) {
        p.signals.raise(info);
    }
    let index = p
        .signals
        .pending
        .iter()
        .enumerate()
        .filter(|(_, info)| mask & bit(info.signo) != 0)
        .min_by_key(|(_, info)| info.signo)
        .map(|(index, _)| index);
    let taken = index.map(|index| p.signals.pending.remove(index));
    publish(p);
    taken
}
