//! The futex wait table: which threads sleep on which futex, oldest first, with the
//! bitset each waits with. Linux's futex hash buckets (`kernel/futex/core.c`), as one
//! ordered map from key to queue.
//!
//! A waiter [`WaitTable::enqueue`]s, sleeps, and on waking [`WaitTable::finish`]es, which
//! takes it off whatever queue it is still on and says whether a wake reached it first.
//! A wake takes the waiters it wakes off their queue at once (Linux's `__futex_unqueue`
//! in `futex_wake_mark`), so a woken waiter is never woken or requeued twice, and one that
//! a wake reached returns 0 whatever else (a timeout, a signal) happened meanwhile.
//!
//! Generic over the thread handle `T` handed back to be made runnable and over a pin `P`
//! each waiter holds on what its key names (an inode), so the key's identity
//! cannot be reused while a waiter sleeps on it.
//!
//! Bounded by the threads: each thread waits on at most [`super::op::FUTEX_WAITV_MAX`]
//! entries at once (one, but for `futex_waitv`), and every entry is removed before its
//! thread returns to user mode.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;

/// What a futex key's address is relative to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Space {
    /// A `FUTEX_PRIVATE_FLAG` futex: the address space (its identity) and the address.
    Private(usize),
    /// A shared futex on a page private to its address space (anonymous private memory,
    /// or a private file page after copy-on-write): Linux keys it by address space and
    /// address too, but apart from private futexes (`FUT_OFF_MMSHARED`).
    MmShared(usize),
    /// A shared futex on a file's page (shared memory is a file too, as Linux's shmem):
    /// the inode (its identity) and the offset in the file.
    Inode(usize),
}

/// A futex: where its word is, as every process that can reach it names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub space: Space,
    /// The address (address-space keys) or the offset in the file.
    pub offset: u64,
}

/// A waiter's handle on its entry.
pub type EntryId = u64;

struct Entry<T, P> {
    id: EntryId,
    bitset: u32,
    thread: T,
    _pin: P,
}

pub struct WaitTable<T, P> {
    queues: BTreeMap<Key, VecDeque<Entry<T, P>>>,
    /// Where each entry still waiting is queued.
    queued_at: BTreeMap<EntryId, Key>,
    /// Entries a wake took off their queue whose waiter has not yet finished.
    woken: BTreeSet<EntryId>,
    next_id: EntryId,
}

impl<T: Clone, P> Default for WaitTable<T, P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone, P> WaitTable<T, P> {
    pub const fn new() -> Self {
        WaitTable {
            queues: BTreeMap::new(),
            queued_at: BTreeMap::new(),
            woken: BTreeSet::new(),
            next_id: 0,
        }
    }

    /// Queues `thread` on `key` behind the waiters already there.
    pub fn enqueue(&mut self, key: Key, bitset: u32, thread: T, pin: P) -> EntryId {
        let id = self.next_id;
        self.next_id += 1;
        self.queues.entry(key).or_default().push_back(Entry {
            id,
            bitset,
            thread,
            _pin: pin,
        });
        self.queued_at.insert(id, key);
        id
    }

    /// Whether a wake reached the entry (it may not have [`WaitTable::finish`]ed yet).
    pub fn is_woken(&self, id: EntryId) -> bool {
        self.woken.contains(&id)
    }

    /// Takes the entry out of the table (its waiter is done waiting): whether a wake
    /// reached it first.
    pub fn finish(&mut self, id: EntryId) -> bool {
        if self.woken.remove(&id) {
            return true;
        }
        if let Some(key) = self.queued_at.remove(&id)
            && let Some(queue) = self.queues.get_mut(&key)
        {
            queue.retain(|entry| entry.id != id);
            if queue.is_empty() {
                self.queues.remove(&key);
            }
        }
        false
    }

    /// Wakes up to `limit` waiters on `key` whose bitset shares a bit with `bitset`,
    /// oldest first; the threads to make runnable.
    pub fn wake(&mut self, key: Key, limit: usize, bitset: u32) -> Vec<T> {
        let mut woken = Vec::new();
        let Some(queue) = self.queues.get_mut(&key) else {
            return woken;
        };
        let mut kept = VecDeque::with_capacity(queue.len());
        while let Some(entry) = queue.pop_front() {
            if woken.len() < limit && entry.bitset & bitset != 0 {
                self.queued_at.remove(&entry.id);
                self.woken.insert(entry.id);
                woken.push(entry.thread);
            } else {
                kept.push_back(entry);
            }
        }
        if kept.is_empty() {
            self.queues.remove(&key);
        } else {
            *queue = kept;
        }
        woken
    }

    /// `FUTEX_REQUEUE`: wakes the first `wake` waiters on `from` (whatever their bitset)
    /// and moves up to `requeue` of the rest to the back of `to`'s queue, each then
    /// pinning `to` with `pin()`. The threads to make runnable, and how many moved.
    pub fn requeue(
        &mut self,
        from: Key,
        to: Key,
        wake: usize,
        requeue: usize,
        mut pin: impl FnMut() -> P,
    ) -> (Vec<T>, usize) {
        let mut woken = Vec::new();
        let mut moved = Vec::new();
        let Some(mut queue) = self.queues.remove(&from) else {
            return (woken, 0);
        };
        while woken.len() < wake
            && let Some(entry) = queue.pop_front()
        {
            self.queued_at.remove(&entry.id);
            self.woken.insert(entry.id);
            woken.push(entry.thread);
        }
        while moved.len() < requeue
            && let Some(entry) = queue.pop_front()
        {
            moved.push(entry);
        }
        if !queue.is_empty() {
            self.queues.insert(from, queue);
        }
        let count = moved.len();
        if count > 0 {
            let target = self.queues.entry(to).or_default();
            for entry in moved {
                self.queued_at.insert(entry.id, to);
                target.push_back(Entry {
                    id: entry.id,
                    bitset: entry.bitset,
                    thread: entry.thread,
                    _pin: pin(),
                });
            }
        }
        (woken, count)
    }

    /// How many entries wait on `key`.
    pub fn waiting(&self, key: Key) -> usize {
        self.queues.get(&key).map_or(0, VecDeque::len)
    }

    /// Every entry in the table, waiting or woken and not yet finished.
    pub fn len(&self) -> usize {
        self.queued_at.len() + self.woken.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(offset: u64) -> Key {
        Key {
            space: Space::Private(1),
            offset,
        }
    }

    const ANY: u32 = u32::MAX;

    #[test]
    fn wakes_oldest_first_and_counts() {
        let mut table: WaitTable<u32, ()> = WaitTable::new();
        let ids: Vec<_> = (0..5).map(|t| table.enqueue(key(8), ANY, t, ())).collect();
        assert_eq!(table.wake(key(8), 2, ANY), [0, 1]);
        assert!(table.is_woken(ids[0]) && table.is_woken(ids[1]) && !table.is_woken(ids[2]));
        assert_eq!(table.waiting(key(8)), 3);
        assert_eq!(table.wake(key(4), 10, ANY), Vec::<u32>::new());
        assert_eq!(table.wake(key(8), usize::MAX, ANY), [2, 3, 4]);
        assert_eq!(table.waiting(key(8)), 0);
        for id in ids {
            assert!(table.finish(id));
        }
        assert!(table.is_empty());
    }

    #[test]
    fn keys_are_distinct_spaces() {
        let mut table: WaitTable<u32, ()> = WaitTable::new();
        table.enqueue(key(8), ANY, 1, ());
        let shared = Key {
            space: Space::MmShared(1),
            offset: 8,
        };
        // A shared wake does not reach a private waiter at the same address (Linux's
        // FUT_OFF_MMSHARED), nor one in another address space.
        assert!(table.wake(shared, 1, ANY).is_empty());
        let other = Key {
            space: Space::Private(2),
            offset: 8,
        };
        assert!(table.wake(other, 1, ANY).is_empty());
        assert_eq!(table.wake(key(8), 1, ANY), [1]);
    }

    #[test]
    fn bitsets_select_waiters() {
        let mut table: WaitTable<u32, ()> = WaitTable::new();
        table.enqueue(key(0), 0b01, 1, ());
        table.enqueue(key(0), 0b10, 2, ());
        table.enqueue(key(0), 0b11, 3, ());
        assert_eq!(table.wake(key(0), 10, 0b10), [2, 3]);
        assert_eq!(table.wake(key(0), 10, 0b10), Vec::<u32>::new());
        assert_eq!(table.wake(key(0), 10, 0b01), [1]);
    }

    #[test]
    fn finish_without_wake_removes_the_waiter() {
        let mut table: WaitTable<u32, ()> = WaitTable::new();
        let a = table.enqueue(key(0), ANY, 1, ());
        let b = table.enqueue(key(0), ANY, 2, ());
        assert!(!table.finish(a)); // timed out: not woken, gone
        assert_eq!(table.wake(key(0), 10, ANY), [2]);
        assert!(table.finish(b));
        assert!(table.is_empty());
        assert!(!table.finish(a)); // finishing twice is harmless
    }

    #[test]
    fn requeue_wakes_then_moves() {
        let mut table: WaitTable<u32, u8> = WaitTable::new();
        let ids: Vec<_> = (0..6).map(|t| table.enqueue(key(0), 0b1, t, 0)).collect();
        table.enqueue(key(4), ANY, 100, 0);
        let (woken, moved) = table.requeue(key(0), key(4), 1, 3, || 7);
        assert_eq!(woken, [0]);
        assert_eq!(moved, 3);
        assert_eq!(table.waiting(key(0)), 2);
        assert_eq!(table.waiting(key(4)), 4);
        // Moved waiters queue behind the ones already there, in their order.
        assert_eq!(table.wake(key(4), 2, ANY), [100, 1]);
        assert!(table.is_woken(ids[1]));
        // Nothing to wake, nothing to move: zero counts.
        let (woken, moved) = table.requeue(key(0), key(4), 0, 0, || 7);
        assert!(woken.is_empty() && moved == 0);
        // Requeue onto the same futex keeps everyone waiting.
        let (woken, moved) = table.requeue(key(0), key(0), 0, 10, || 7);
        assert!(woken.is_empty());
        assert_eq!(moved, 2);
        assert_eq!(table.waiting(key(0)), 2);
        for id in ids {
            table.finish(id);
        }
        assert_eq!(table.len(), 1); // thread 100 was woken and never finished its entry
    }

    #[test]
    fn requeued_waiter_finishes_from_its_new_queue() {
        let mut table: WaitTable<u32, ()> = WaitTable::new();
        let id = table.enqueue(key(0), ANY, 1, ());
        table.requeue(key(0), key(4), 0, 1, || ());
        assert!(!table.finish(id));
        assert_eq!(table.waiting(key(4)), 0);
        assert!(table.is_empty());
    }
}
