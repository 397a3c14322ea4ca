//! The futex wait table: which threads sleep on which futex, oldest first, with the
//! bitset each waits with, and who owns each priority-inheritance (PI) futex that has
//! waiters. Linux's futex hash buckets and `futex_pi_state` (`kernel/futex/core.c`,
//! `pi.c`), as hash maps (a wait and its wake then allocate nothing once the maps have
//! grown; ordered maps made and freed a node for each). Their hasher's seed is chosen at
//! boot, so a program cannot line its futex addresses up in one bucket.
//!
//! A waiter [`WaitTable::enqueue`]s, sleeps, and on waking [`WaitTable::finish`]es, which
//! takes it off whatever queue it is still on and says what reached it first: a wake, or
//! (PI) the lock handed to it. Either takes the waiter off its queue at once (Linux's
//! `__futex_unqueue` in `futex_wake_mark`), so no waiter is woken or requeued twice, and
//! one that was reached returns so whatever else (a timeout, a signal) happened meanwhile.
//!
//! Waiters are of three kinds, which Linux keeps apart: plain ones (`FUTEX_WAIT`), PI
//! ones (`FUTEX_LOCK_PI`, woken only by a hand-off of the lock), and ones waiting to be
//! requeued onto a PI futex (`FUTEX_WAIT_REQUEUE_PI`). A plain wake or requeue that meets
//! another kind is `EINVAL`, as Linux's `futex_wake` and `futex_requeue`.
//!
//! Generic over the sleeper `T` handed back to be made runnable and over a pin `P` each
//! waiter holds on what its key names (an address space, an inode), so the key's
//! identity cannot be reused while a waiter sleeps on it.
//!
//! Bounded by the threads: each thread waits on at most [`super::op::FUTEX_WAITV_MAX`]
//! entries at once (one, but for `futex_waitv`), and every entry is removed before its
//! thread returns to user mode; a PI owner is recorded only while its futex has waiters.

use alloc::collections::VecDeque;

use alloc::vec::Vec;
use foldhash::fast::FixedState;
use hashbrown::HashMap;

use vfs_core::Errno;

/// What a futex key's address is relative to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub space: Space,
    /// The address (address-space keys) or the offset in the file.
    pub offset: u64,
}

/// A waiter's handle on its entry.
pub type EntryId = u64;

/// What a waiter waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A wake (`FUTEX_WAIT`, `FUTEX_WAIT_BITSET`, `futex_waitv`).
    Plain,
    /// The PI lock of its futex, handed to it (`FUTEX_LOCK_PI`).
    Pi,
    /// To be moved onto the PI futex `target`, or handed its lock
    /// (`FUTEX_WAIT_REQUEUE_PI`).
    RequeuePi { target: Key },
}

/// What reached a waiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Woken,
    /// It owns the PI futex now (the one it was queued on when it got it).
    Owner,
}

struct Entry<T, P> {
    id: EntryId,
    bitset: u32,
    /// The waiter's thread id: a PI futex's new owner writes it in the word.
    tid: u32,
    kind: Kind,
    sleeper: T,
    _pin: P,
}

/// Where an unfinished entry is: on a queue, or taken off it by what reached it.
#[derive(Clone, Copy)]
enum Place {
    Queued(Key),
    Reached(Outcome),
}

/// The most entries an emptied queue's buffer may hold to be kept for the next queue.
const SPARE_CAPACITY: usize = 16;

pub struct WaitTable<T, P> {
    queues: HashMap<Key, VecDeque<Entry<T, P>>, FixedState>,
    /// Each unfinished entry's place: the queue it waits on, or what reached it (a wake
    /// or a hand-off took it off its queue; its waiter has not finished yet). One slot per
    /// entry, so a wake changes an entry's place in one step.
    places: Places,
    /// The owner of each PI futex that has PI waiters.
    pi_owners: HashMap<Key, u32, FixedState>,
    /// An emptied queue's buffer (small ones only), for the next queue to start with: a
    /// wait and its wake then allocate nothing.
    spare: VecDeque<Entry<T, P>>,
}

/// The places of unfinished entries, by id. An id is a slot, given again once its entry
/// is finished (only its waiter holds it, until then), so a lookup is an index rather
/// than a hash; the slots never outnumber the most entries there ever were at once.
struct Places {
    slots: Vec<Option<Place>>,
    free: Vec<EntryId>,
    used: usize,
}

impl Places {
    const fn new() -> Self {
        Places {
            slots: Vec::new(),
            free: Vec::new(),
            used: 0,
        }
    }

    fn add(&mut self, place: Place) -> EntryId {
        self.used += 1;
        match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(place);
                id
            }
            None => {
                self.slots.push(Some(place));
                (self.slots.len() - 1) as EntryId
            }
        }
    }

    fn get(&self, id: EntryId) -> Option<&Place> {
        self.slots.get(usize::try_from(id).ok()?)?.as_ref()
    }

    /// Moves an unfinished entry to `place`.
    fn set(&mut self, id: EntryId, place: Place) {
        if let Some(slot @ Some(_)) = self.slots.get_mut(id as usize) {
            *slot = Some(place);
        }
    }

    fn remove(&mut self, id: EntryId) -> Option<Place> {
        let place = self.slots.get_mut(usize::try_from(id).ok()?)?.take()?;
        self.used -= 1;
        self.free.push(id);
        Some(place)
    }
}

impl<T: Clone, P> Default for WaitTable<T, P> {
    fn default() -> Self {
        Self::new()
    }
}

/// A PI hand-off: the new owner's thread id and sleeper, and whether waiters remain.
pub struct HandOff<T> {
    pub tid: u32,
    pub sleeper: T,
    pub more: bool,
}

impl<T: Clone, P> WaitTable<T, P> {
    pub const fn new() -> Self {
        Self::with_seed(0)
    }

    /// A table whose maps hash with `seed` (the kernel's is random).
    pub const fn with_seed(seed: u64) -> Self {
        WaitTable {
            queues: HashMap::with_hasher(FixedState::with_seed(seed)),
            places: Places::new(),
            pi_owners: HashMap::with_hasher(FixedState::with_seed(seed)),
            spare: VecDeque::new(),
        }
    }

    /// Queues a waiter on `key` behind the waiters already there.
    pub fn enqueue(
        &mut self,
        key: Key,
        bitset: u32,
        tid: u32,
        kind: Kind,
        sleeper: T,
        pin: P,
    ) -> EntryId {
        let id = self.places.add(Place::Queued(key));
        let spare = &mut self.spare;
        self.queues
            .entry(key)
            .or_insert_with(|| core::mem::take(spare))
            .push_back(Entry {
                id,
                bitset,
                tid,
                kind,
                sleeper,
                _pin: pin,
            });
        id
    }

    /// Keeps an emptied queue's buffer for the next queue, if it is small.
    fn recycle(&mut self, queue: VecDeque<Entry<T, P>>) {
        if queue.is_empty()
            && queue.capacity() <= SPARE_CAPACITY
            && queue.capacity() > self.spare.capacity()
        {
            self.spare = queue;
        }
    }

    /// What reached the entry, if anything yet.
    pub fn outcome(&self, id: EntryId) -> Option<Outcome> {
        match self.places.get(id)? {
            Place::Reached(outcome) => Some(*outcome),
            Place::Queued(_) => None,
        }
    }

    /// The kind of a waiting entry (a requeue-PI waiter becomes a PI one when moved).
    pub fn kind(&self, id: EntryId) -> Option<Kind> {
        let Place::Queued(key) = self.places.get(id)? else {
            return None;
        };
        self.queues
            .get(key)?
            .iter()
            .find(|entry| entry.id == id)
            .map(|entry| entry.kind)
    }

    /// Takes the entry out of the table (its waiter is done waiting): what reached it
    /// first, if anything.
    pub fn finish(&mut self, id: EntryId) -> Option<Outcome> {
        match self.places.remove(id)? {
            Place::Reached(outcome) => Some(outcome),
            Place::Queued(key) => {
                if let Some(queue) = self.queues.get_mut(&key) {
                    queue.retain(|entry| entry.id != id);
                    self.tidy(key);
                }
                None
            }
        }
    }

    /// Drops an empty queue, and the owner record of a futex left without PI waiters.
    fn tidy(&mut self, key: Key) {
        let queue = self.queues.get(&key);
        if !queue.is_some_and(|queue| queue.iter().any(|entry| entry.kind == Kind::Pi)) {
            self.pi_owners.remove(&key);
        }
        if queue.is_some_and(VecDeque::is_empty)
            && let Some(queue) = self.queues.remove(&key)
        {
            self.recycle(queue);
        }
    }

    fn reach(&mut self, entry: &Entry<T, P>, outcome: Outcome) {
        self.places.set(entry.id, Place::Reached(outcome));
    }

    /// Wakes up to `limit` plain waiters on `key` whose bitset shares a bit with
    /// `bitset`, oldest first: the sleepers to make runnable. Meeting a waiter of another
    /// kind stops the wake with `EINVAL` (those woken before it stay woken).
    pub fn wake(&mut self, key: Key, limit: usize, bitset: u32) -> (Vec<T>, Result<(), Errno>) {
        let mut woken = Vec::new();
        let (_, result) = self.wake_each(key, limit, bitset, |sleeper| woken.push(sleeper));
        (woken, result)
    }

    /// [`WaitTable::wake`] handing each sleeper to `woken` as it is taken off the queue
    /// (nothing collected, nothing allocated): how many, and the result.
    pub fn wake_each(
        &mut self,
        key: Key,
        limit: usize,
        bitset: u32,
        mut woken: impl FnMut(T),
    ) -> (usize, Result<(), Errno>) {
        let mut count = 0;
        let mut result = Ok(());
        let Some(mut queue) = self.queues.remove(&key) else {
            return (count, result);
        };
        // Allocated only when someone stays: the common wake takes the one waiter.
        let mut kept = VecDeque::new();
        while let Some(entry) = queue.pop_front() {
            // Linux looks at the kind before the bitset.
            if count >= limit || result.is_err() {
                kept.push_back(entry);
            } else if entry.kind != Kind::Plain {
                result = Err(Errno::EINVAL);
                kept.push_back(entry);
            } else if entry.bitset & bitset == 0 {
                kept.push_back(entry);
            } else {
                self.reach(&entry, Outcome::Woken);
                count += 1;
                woken(entry.sleeper);
            }
        }
        if !kept.is_empty() {
            self.queues.insert(key, kept);
        }
        self.recycle(queue);
        (count, result)
    }

    /// `FUTEX_REQUEUE`: wakes the first `wake` waiters on `from` (whatever their bitset)
    /// and moves up to `requeue` of the rest to the back of `to`'s queue, each then
    /// pinning `to` with `pin()`. The sleepers to make runnable, how many moved, and
    /// `EINVAL` if a waiter of another kind stopped it.
    pub fn requeue(
        &mut self,
        from: Key,
        to: Key,
        wake: usize,
        requeue: usize,
        mut pin: impl FnMut() -> P,
    ) -> (Vec<T>, usize, Result<(), Errno>) {
        let mut woken = Vec::new();
        let mut moved = Vec::new();
        let mut result = Ok(());
        let Some(mut queue) = self.queues.remove(&from) else {
            return (woken, 0, result);
        };
        while woken.len() + moved.len() < wake.saturating_add(requeue)
            && let Some(entry) = queue.front()
        {
            if entry.kind != Kind::Plain {
                result = Err(Errno::EINVAL);
                break;
            }
            let Some(entry) = queue.pop_front() else {
                break;
            };
            if woken.len() < wake {
                self.reach(&entry, Outcome::Woken);
                woken.push(entry.sleeper);
            } else {
                moved.push(entry);
            }
        }
        if queue.is_empty() {
            self.recycle(queue);
        } else {
            self.queues.insert(from, queue);
        }
        let count = moved.len();
        self.append(to, moved, Kind::Plain, &mut pin);
        (woken, count, result)
    }

    fn append(
        &mut self,
        to: Key,
        entries: Vec<Entry<T, P>>,
        kind: Kind,
        pin: &mut impl FnMut() -> P,
    ) {
        if entries.is_empty() {
            return;
        }
        let target = self.queues.entry(to).or_default();
        for entry in entries {
            self.places.set(entry.id, Place::Queued(to));
            target.push_back(Entry {
                kind,
                _pin: pin(),
                ..entry
            });
        }
    }

    /// How many entries wait on `key`.
    pub fn waiting(&self, key: Key) -> usize {
        self.queues.get(&key).map_or(0, VecDeque::len)
    }

    /// Whether waiters other than PI ones wait on `key` (a PI lock there is `EINVAL`).
    pub fn has_non_pi_waiters(&self, key: Key) -> bool {
        self.queues
            .get(&key)
            .is_some_and(|queue| queue.iter().any(|entry| entry.kind != Kind::Pi))
    }

    /// The owner of the PI futex `key`, while it has PI waiters.
    pub fn pi_owner(&self, key: Key) -> Option<u32> {
        self.pi_owners.get(&key).copied()
    }

    /// Records `tid` as the owner of the PI futex `key`, which has (or is about to get)
    /// PI waiters.
    pub fn set_pi_owner(&mut self, key: Key, tid: u32) {
        self.pi_owners.insert(key, tid);
    }

    /// Drops the owner record of `key` if no PI waiter sleeps there (one made for an
    /// attempt that did not queue: a trylock, a requeue that moved nobody).
    pub fn forget_owner_without_waiters(&mut self, key: Key) {
        self.tidy(key);
    }

    /// The PI futexes `tid` owns that have waiters (to hand on when it dies).
    pub fn owned_by(&self, tid: u32) -> Vec<Key> {
        self.pi_owners
            .iter()
            .filter(|&(_, &owner)| owner == tid)
            .map(|(&key, _)| key)
            .collect()
    }

    /// Hands the PI futex `key` to its oldest PI waiter, which becomes its owner.
    pub fn hand_off(&mut self, key: Key) -> Option<HandOff<T>> {
        let queue = self.queues.get_mut(&key)?;
        let at = queue.iter().position(|entry| entry.kind == Kind::Pi)?;
        let entry = queue.remove(at)?;
        self.reach(&entry, Outcome::Owner);
        let more = self
            .queues
            .get(&key)
            .is_some_and(|queue| queue.iter().any(|entry| entry.kind == Kind::Pi));
        if more {
            self.pi_owners.insert(key, entry.tid);
        }
        self.tidy(key);
        Some(HandOff {
            tid: entry.tid,
            sleeper: entry.sleeper,
            more,
        })
    }

    /// `FUTEX_CMP_REQUEUE_PI`'s checks: every waiter on `from` waits to be requeued onto
    /// `to` (`EINVAL` otherwise); the oldest one's thread id, if there is one.
    pub fn requeue_pi_top(&self, from: Key, to: Key) -> Result<Option<u32>, Errno> {
        let Some(queue) = self.queues.get(&from) else {
            return Ok(None);
        };
        if queue
            .iter()
            .any(|entry| entry.kind != Kind::RequeuePi { target: to })
        {
            return Err(Errno::EINVAL);
        }
        Ok(queue.front().map(|entry| entry.tid))
    }

    /// `FUTEX_CMP_REQUEUE_PI`'s moves: the oldest waiter on `from` gets the lock of `to`
    /// if `top_acquired` (the caller took it for that waiter); then up to `requeue` of
    /// the rest become PI waiters of `to`. The sleeper to make runnable and how many
    /// moved.
    pub fn requeue_pi(
        &mut self,
        from: Key,
        to: Key,
        top_acquired: bool,
        requeue: usize,
        mut pin: impl FnMut() -> P,
    ) -> (Option<T>, usize) {
        let Some(mut queue) = self.queues.remove(&from) else {
            return (None, 0);
        };
        let mut woken = None;
        if top_acquired && let Some(entry) = queue.pop_front() {
            self.reach(&entry, Outcome::Owner);
            woken = Some(entry.sleeper);
        }
        let take = requeue.min(queue.len());
        let moved: Vec<_> = queue.drain(..take).collect();
        if !queue.is_empty() {
            self.queues.insert(from, queue);
        }
        let count = moved.len();
        self.append(to, moved, Kind::Pi, &mut pin);
        (woken, count)
    }

    /// Every entry in the table, waiting or reached and not yet finished.
    pub fn len(&self) -> usize {
        self.places.used
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

    fn plain(table: &mut WaitTable<u32, ()>, at: u64, bitset: u32, thread: u32) -> EntryId {
        table.enqueue(key(at), bitset, thread, Kind::Plain, thread, ())
    }

    #[test]
    fn wakes_oldest_first_and_counts() {
        let mut table = WaitTable::new();
        let ids: Vec<_> = (0..5).map(|t| plain(&mut table, 8, ANY, t)).collect();
        assert_eq!(table.wake(key(8), 2, ANY), (vec![0, 1], Ok(())));
        assert_eq!(table.outcome(ids[0]), Some(Outcome::Woken));
        assert_eq!(table.outcome(ids[2]), None);
        assert_eq!(table.waiting(key(8)), 3);
        assert_eq!(table.wake(key(4), 10, ANY), (vec![], Ok(())));
        assert_eq!(table.wake(key(8), usize::MAX, ANY), (vec![2, 3, 4], Ok(())));
        assert_eq!(table.waiting(key(8)), 0);
        for id in ids {
            assert_eq!(table.finish(id), Some(Outcome::Woken));
        }
        assert!(table.is_empty());
    }

    #[test]
    fn keys_are_distinct_spaces() {
        let mut table = WaitTable::new();
        plain(&mut table, 8, ANY, 1);
        let shared = Key {
            space: Space::MmShared(1),
            offset: 8,
        };
        // A shared wake does not reach a private waiter at the same address (Linux's
        // FUT_OFF_MMSHARED), nor one in another address space.
        assert!(table.wake(shared, 1, ANY).0.is_empty());
        let other = Key {
            space: Space::Private(2),
            offset: 8,
        };
        assert!(table.wake(other, 1, ANY).0.is_empty());
        assert_eq!(table.wake(key(8), 1, ANY).0, [1]);
    }

    #[test]
    fn bitsets_select_waiters() {
        let mut table = WaitTable::new();
        plain(&mut table, 0, 0b01, 1);
        plain(&mut table, 0, 0b10, 2);
        plain(&mut table, 0, 0b11, 3);
        assert_eq!(table.wake(key(0), 10, 0b10).0, [2, 3]);
        assert!(table.wake(key(0), 10, 0b10).0.is_empty());
        assert_eq!(table.wake(key(0), 10, 0b01).0, [1]);
    }

    #[test]
    fn finish_without_wake_removes_the_waiter() {
        let mut table = WaitTable::new();
        let a = plain(&mut table, 0, ANY, 1);
        let b = plain(&mut table, 0, ANY, 2);
        assert_eq!(table.finish(a), None); // timed out: not woken, gone
        assert_eq!(table.wake(key(0), 10, ANY).0, [2]);
        assert_eq!(table.finish(b), Some(Outcome::Woken));
        assert!(table.is_empty());
        assert_eq!(table.finish(a), None); // finishing twice is harmless
    }

    #[test]
    fn wake_each_hands_over_in_order_and_emptied_queues_start_afresh() {
        let mut table = WaitTable::new();
        let first = plain(&mut table, 8, ANY, 1);
        let mut woken = Vec::new();
        assert_eq!(
            table.wake_each(key(8), 1, ANY, |t| woken.push(t)),
            (1, Ok(()))
        );
        assert_eq!(woken, [1]);
        assert_eq!(table.waiting(key(8)), 0);
        // The emptied queue's buffer now serves another key: it holds only its own.
        let a = plain(&mut table, 16, ANY, 2);
        let b = plain(&mut table, 16, ANY, 3);
        assert_eq!(table.waiting(key(16)), 2);
        assert_eq!(table.waiting(key(8)), 0);
        woken.clear();
        assert_eq!(
            table.wake_each(key(16), 10, ANY, |t| woken.push(t)),
            (2, Ok(()))
        );
        assert_eq!(woken, [2, 3]);
        for id in [first, a, b] {
            assert_eq!(table.finish(id), Some(Outcome::Woken));
        }
        assert!(table.is_empty());
        // A waiter that leaves on its own empties its queue the same way.
        let c = plain(&mut table, 24, ANY, 4);
        assert_eq!(table.finish(c), None);
        assert_eq!(table.waiting(key(24)), 0);
        assert_eq!(
            table.wake_each(key(24), 1, ANY, |_| unreachable!()),
            (0, Ok(()))
        );
        assert!(table.is_empty());
    }

    #[test]
    fn requeue_wakes_then_moves() {
        let mut table = WaitTable::new();
        let ids: Vec<_> = (0..6).map(|t| plain(&mut table, 0, 0b1, t)).collect();
        plain(&mut table, 4, ANY, 100);
        let (woken, moved, result) = table.requeue(key(0), key(4), 1, 3, || ());
        assert_eq!((woken, moved, result), (vec![0], 3, Ok(())));
        assert_eq!(table.waiting(key(0)), 2);
        assert_eq!(table.waiting(key(4)), 4);
        // Moved waiters queue behind the ones already there, in their order.
        assert_eq!(table.wake(key(4), 2, ANY).0, [100, 1]);
        assert_eq!(table.outcome(ids[1]), Some(Outcome::Woken));
        // Nothing to wake, nothing to move: zero counts.
        let (woken, moved, _) = table.requeue(key(0), key(4), 0, 0, || ());
        assert!(woken.is_empty() && moved == 0);
        // Requeue onto the same futex keeps everyone waiting (and counts them).
        let (woken, moved, _) = table.requeue(key(0), key(0), 0, 10, || ());
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
        let mut table = WaitTable::new();
        let id = plain(&mut table, 0, ANY, 1);
        assert_eq!(table.requeue(key(0), key(4), 0, 1, || ()).1, 1);
        assert_eq!(table.finish(id), None);
        assert_eq!(table.waiting(key(4)), 0);
        assert!(table.is_empty());
    }

    #[test]
    fn plain_operations_refuse_other_kinds() {
        let mut table = WaitTable::new();
        plain(&mut table, 0, ANY, 1);
        table.enqueue(key(0), ANY, 2, Kind::Pi, 2, ());
        plain(&mut table, 0, ANY, 3);
        // The first is woken, the PI waiter stops the wake.
        assert_eq!(table.wake(key(0), 10, ANY), (vec![1], Err(Errno::EINVAL)));
        assert_eq!(table.waiting(key(0)), 2);
        let (woken, moved, result) = table.requeue(key(0), key(8), 0, 10, || ());
        assert_eq!((woken.len(), moved, result), (0, 0, Err(Errno::EINVAL)));
        assert!(table.has_non_pi_waiters(key(0)));
    }

    #[test]
    fn pi_hand_off_in_order_and_owner_records() {
        let mut table = WaitTable::new();
        let a = table.enqueue(key(0), ANY, 11, Kind::Pi, 1, ());
        let b = table.enqueue(key(0), ANY, 12, Kind::Pi, 2, ());
        table.set_pi_owner(key(0), 10);
        assert_eq!(table.owned_by(10), [key(0)]);
        let first = table.hand_off(key(0)).unwrap();
        assert_eq!((first.tid, first.sleeper, first.more), (11, 1, true));
        assert_eq!(table.pi_owner(key(0)), Some(11));
        assert_eq!(table.outcome(a), Some(Outcome::Owner));
        let second = table.hand_off(key(0)).unwrap();
        assert_eq!((second.tid, second.more), (12, false));
        // No PI waiters left: no owner record.
        assert_eq!(table.pi_owner(key(0)), None);
        assert!(table.hand_off(key(0)).is_none());
        assert_eq!(table.finish(b), Some(Outcome::Owner));
    }

    #[test]
    fn last_pi_waiter_leaving_drops_the_owner_record() {
        let mut table: WaitTable<u32, ()> = WaitTable::new();
        let a = table.enqueue(key(0), ANY, 11, Kind::Pi, 1, ());
        table.set_pi_owner(key(0), 10);
        assert_eq!(table.finish(a), None); // timed out
        assert_eq!(table.pi_owner(key(0)), None);
        assert!(table.is_empty());
    }

    #[test]
    fn requeue_pi_acquires_for_the_top_and_moves_the_rest() {
        let mut table = WaitTable::new();
        let target = key(8);
        let ids: Vec<_> = (0..4)
            .map(|t| table.enqueue(key(0), ANY, 20 + t, Kind::RequeuePi { target }, t, ()))
            .collect();
        assert_eq!(table.requeue_pi_top(key(0), key(16)), Err(Errno::EINVAL));
        assert_eq!(table.requeue_pi_top(key(0), target), Ok(Some(20)));
        let (woken, moved) = table.requeue_pi(key(0), target, true, 2, || ());
        assert_eq!((woken, moved), (Some(0), 2));
        assert_eq!(table.outcome(ids[0]), Some(Outcome::Owner));
        assert_eq!(table.kind(ids[1]), Some(Kind::Pi));
        assert_eq!(table.kind(ids[3]), Some(Kind::RequeuePi { target }));
        assert_eq!(table.waiting(target), 2);
        // A plain wake on the first futex meets a requeue-PI waiter: EINVAL.
        assert_eq!(table.wake(key(0), 1, ANY).1, Err(Errno::EINVAL));
        table.set_pi_owner(target, 20);
        let next = table.hand_off(target).unwrap();
        assert_eq!((next.tid, next.more), (21, true));
    }
}
