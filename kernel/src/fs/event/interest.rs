//! An epoll instance's interest list and ready list, and Linux's rules for them
//! (`fs/eventpoll.c`): `EPOLL_CTL_ADD`/`MOD`/`DEL` on items keyed by (descriptor, open
//! file), the ready list an item joins when its file's wait queue is woken, and what
//! `epoll_wait` reports from it — level-triggered items stay on the list while they are
//! ready, edge-triggered ones leave it until their file is woken again, one-shot ones are
//! disabled after one report until `EPOLL_CTL_MOD`.
//!
//! Pure bookkeeping over a key and a target the caller chooses, host-tested: the caller
//! says what a target's file is ready for now (or that it is gone), one layer up
//! ([`super::epoll`]).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use vfs_core::Errno;

pub const EPOLLIN: u32 = 0x1;
pub const EPOLLOUT: u32 = 0x4;
pub const EPOLLERR: u32 = 0x8;
pub const EPOLLHUP: u32 = 0x10;
pub const EPOLLRDNORM: u32 = 0x40;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;

/// The bits that are not events (Linux's `EP_PRIVATE_BITS`): what a one-shot item keeps
/// after it reported.
pub const PRIVATE_BITS: u32 = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
/// The only bits `EPOLLEXCLUSIVE` may come with (Linux's `EPOLLEXCLUSIVE_OK_BITS`).
pub const EXCLUSIVE_OK_BITS: u32 =
    EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;

/// One report of `epoll_wait`: `struct epoll_event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub events: u32,
    pub data: u64,
}

struct Entry<T> {
    /// The events asked for, with `EPOLLERR | EPOLLHUP` always added, and the flags.
    events: u32,
    data: u64,
    /// On the ready list.
    queued: bool,
    target: T,
}

pub struct Interest<K, T> {
    items: BTreeMap<K, Entry<T>>,
    /// Items whose file may be ready, in the order they became so.
    ready: VecDeque<K>,
}

impl<K: Ord + Copy, T> Default for Interest<K, T> {
    fn default() -> Self {
        Interest {
            items: BTreeMap::new(),
            ready: VecDeque::new(),
        }
    }
}

impl<K: Ord + Copy, T> Interest<K, T> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, key: &K) -> Option<&T> {
        self.items.get(key).map(|entry| &entry.target)
    }

    /// The items as `/proc/<pid>/fdinfo` lists them: key, events, data, target.
    pub fn iter(&self) -> impl Iterator<Item = (&K, u32, u64, &T)> {
        self.items
            .iter()
            .map(|(key, entry)| (key, entry.events, entry.data, &entry.target))
    }

    /// `EPOLL_CTL_ADD`: `EEXIST` if the key is there. The caller then polls the file and
    /// calls [`Interest::mark_ready`] if it is ready already.
    pub fn insert(&mut self, key: K, events: u32, data: u64, target: T) -> Result<(), Errno> {
        if self.items.contains_key(&key) {
            return Err(Errno::EEXIST);
        }
        self.items.insert(
            key,
            Entry {
                events: events | EPOLLERR | EPOLLHUP,
                data,
                queued: false,
                target,
            },
        );
        Ok(())
    }

    /// `EPOLL_CTL_MOD`: `ENOENT` if the key is not there, `EINVAL` for an item added with
    /// `EPOLLEXCLUSIVE`. A one-shot item reports again. The caller then polls the file and
    /// calls [`Interest::mark_ready`] if it is ready.
    pub fn modify(&mut self, key: &K, events: u32, data: u64) -> Result<(), Errno> {
        let entry = self.items.get_mut(key).ok_or(Errno::ENOENT)?;
        if entry.events & EPOLLEXCLUSIVE != 0 {
            return Err(Errno::EINVAL);
        }
        entry.events = events | EPOLLERR | EPOLLHUP;
        entry.data = data;
        Ok(())
    }

    /// `EPOLL_CTL_DEL`: the item's target, or `ENOENT`.
    pub fn remove(&mut self, key: &K) -> Result<T, Errno> {
        let entry = self.items.remove(key).ok_or(Errno::ENOENT)?;
        if entry.queued {
            self.ready.retain(|queued| queued != key);
        }
        Ok(entry.target)
    }

    /// The item's file was woken (Linux's `ep_poll_callback`): it joins the ready list if
    /// it is not on it. Whether it joined.
    pub fn mark_ready(&mut self, key: &K) -> bool {
        match self.items.get_mut(key) {
            Some(entry) if !entry.queued => {
                entry.queued = true;
                self.ready.push_back(*key);
                true
            }
            _ => false,
        }
    }

    /// Whether an item on the ready list is ready for one of its events (the epoll file's
    /// own `POLLIN`, Linux's `ep_read_events_proc`). Items found not ready leave the list;
    /// items whose target is gone (`poll` gives `None`) leave the set, their targets
    /// pushed to `gone`.
    pub fn any_ready(
        &mut self,
        mut poll: impl FnMut(&T) -> Option<u32>,
        gone: &mut Vec<T>,
    ) -> bool {
        while let Some(key) = self.ready.front().copied() {
            let Some(entry) = self.items.get(&key) else {
                self.ready.pop_front();
                continue;
            };
            match poll(&entry.target) {
                Some(mask) if mask & entry.events & !PRIVATE_BITS != 0 => return true,
                Some(_) => {
                    self.ready.pop_front();
                    if let Some(entry) = self.items.get_mut(&key) {
                        entry.queued = false;
                    }
                }
                None => {
                    self.ready.pop_front();
                    if let Some(entry) = self.items.remove(&key) {
                        gone.push(entry.target);
                    }
                }
            }
        }
        false
    }

    /// `epoll_wait`'s harvest (Linux's `ep_send_events`): up to `max` events from the
    /// ready list, in order. Each item is polled; one not ready leaves the list; one ready
    /// is reported with the events it is ready for among those asked, then a one-shot item
    /// is disabled, a level-triggered one goes back to the end of the list and an
    /// edge-triggered one leaves it. Items not reached stay at the front. Items whose
    /// target is gone leave the set, their targets pushed to `gone`.
    /// The events are pushed to `events` (which the caller empties), so a buffer kept
    /// between calls serves every harvest.
    pub fn collect(
        &mut self,
        max: usize,
        mut poll: impl FnMut(&T) -> Option<u32>,
        gone: &mut Vec<T>,
        events: &mut Vec<Event>,
    ) {
        let max = max.saturating_add(events.len());
        let mut pending = core::mem::take(&mut self.ready);
        // Each item ready now is looked at once at most; a level-triggered one goes to the
        // back, behind those not reached (as Linux splices), in the same queue (no second
        // one to allocate).
        let mut unseen = pending.len();
        while events.len() < max && unseen > 0 {
            unseen -= 1;
            let Some(key) = pending.pop_front() else {
                break;
            };
            let Some(entry) = self.items.get_mut(&key) else {
                continue;
            };
            entry.queued = false;
            let Some(mask) = poll(&entry.target) else {
                if let Some(entry) = self.items.remove(&key) {
                    gone.push(entry.target);
                }
                continue;
            };
            let revents = mask & entry.events & !PRIVATE_BITS;
            if revents == 0 {
                continue;
            }
            events.push(Event {
                events: revents,
                data: entry.data,
            });
            if entry.events & EPOLLONESHOT != 0 {
                entry.events &= PRIVATE_BITS;
            } else if entry.events & EPOLLET == 0 {
                entry.queued = true;
                pending.push_back(key);
            }
        }
        self.ready = pending;
    }

    /// Drops every item `keep` refuses (their files are gone), pushing their targets to
    /// `gone`.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool, gone: &mut Vec<T>) {
        let dead: Vec<K> = self
            .items
            .iter()
            .filter(|(_, entry)| !keep(&entry.target))
            .map(|(key, _)| *key)
            .collect();
        for key in dead {
            if let Ok(target) = self.remove(&key) {
                gone.push(target);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use core::cell::RefCell;

    /// Files by name, each with what it is ready for now; `None` once closed.
    struct Files(RefCell<BTreeMap<u32, Option<u32>>>);

    impl Files {
        fn new() -> Files {
            Files(RefCell::new(BTreeMap::new()))
        }
        fn set(&self, file: u32, mask: Option<u32>) {
            self.0.borrow_mut().insert(file, mask);
        }
        fn poll(&self, file: &u32) -> Option<u32> {
            self.0.borrow().get(file).copied().flatten()
        }
    }

    fn collect(interest: &mut Interest<u32, u32>, files: &Files, max: usize) -> Vec<(u32, u64)> {
        let mut gone = Vec::new();
        let mut events = Vec::new();
        interest.collect(max, |file| files.poll(file), &mut gone, &mut events);
        events
            .into_iter()
            .map(|event| (event.events, event.data))
            .collect()
    }

    #[test]
    fn ctl_errors() {
        let mut interest: Interest<u32, u32> = Interest::default();
        assert_eq!(interest.insert(1, EPOLLIN, 7, 1), Ok(()));
        assert_eq!(interest.insert(1, EPOLLIN, 7, 1), Err(Errno::EEXIST));
        assert_eq!(interest.modify(&2, EPOLLIN, 0), Err(Errno::ENOENT));
        assert_eq!(interest.remove(&2), Err(Errno::ENOENT));
        assert_eq!(interest.insert(3, EPOLLIN | EPOLLEXCLUSIVE, 0, 3), Ok(()));
        assert_eq!(interest.modify(&3, EPOLLIN, 0), Err(Errno::EINVAL));
        assert_eq!(interest.remove(&1), Ok(1));
        assert_eq!(interest.len(), 1);
    }

    #[test]
    fn level_triggered_items_report_while_ready_in_turn() {
        let files = Files::new();
        let mut interest = Interest::default();
        for file in 1..=3 {
            files.set(file, Some(EPOLLIN | EPOLLOUT));
            interest
                .insert(file, EPOLLIN, u64::from(file) * 10, file)
                .unwrap();
            interest.mark_ready(&file);
        }
        // Two at a time: 1 and 2, then 3 and 1 (reported items go to the back).
        assert_eq!(
            collect(&mut interest, &files, 2),
            [(EPOLLIN, 10), (EPOLLIN, 20)]
        );
        assert_eq!(
            collect(&mut interest, &files, 2),
            [(EPOLLIN, 30), (EPOLLIN, 10)]
        );
        files.set(2, Some(EPOLLOUT));
        // 2 is not ready for what it asked: it leaves the list until woken again.
        assert_eq!(
            collect(&mut interest, &files, 8),
            [(EPOLLIN, 30), (EPOLLIN, 10)]
        );
        files.set(2, Some(EPOLLIN));
        assert_eq!(
            collect(&mut interest, &files, 8),
            [(EPOLLIN, 30), (EPOLLIN, 10)]
        );
        interest.mark_ready(&2);
        assert_eq!(
            collect(&mut interest, &files, 8),
            [(EPOLLIN, 30), (EPOLLIN, 10), (EPOLLIN, 20)]
        );
    }

    #[test]
    fn edge_triggered_items_report_once_per_wake_up() {
        let files = Files::new();
        let mut interest = Interest::default();
        files.set(1, Some(EPOLLIN));
        interest.insert(1, EPOLLIN | EPOLLET, 5, 1).unwrap();
        interest.mark_ready(&1);
        assert_eq!(collect(&mut interest, &files, 8), [(EPOLLIN, 5)]);
        assert_eq!(collect(&mut interest, &files, 8), []);
        // Woken twice before the harvest: reported once.
        interest.mark_ready(&1);
        interest.mark_ready(&1);
        assert_eq!(collect(&mut interest, &files, 8), [(EPOLLIN, 5)]);
        assert_eq!(collect(&mut interest, &files, 8), []);
    }

    #[test]
    fn one_shot_items_report_once_until_modified() {
        let files = Files::new();
        let mut interest = Interest::default();
        files.set(1, Some(EPOLLIN));
        interest.insert(1, EPOLLIN | EPOLLONESHOT, 9, 1).unwrap();
        interest.mark_ready(&1);
        assert_eq!(collect(&mut interest, &files, 8), [(EPOLLIN, 9)]);
        interest.mark_ready(&1);
        assert_eq!(collect(&mut interest, &files, 8), []);
        interest.modify(&1, EPOLLIN | EPOLLONESHOT, 10).unwrap();
        interest.mark_ready(&1);
        assert_eq!(collect(&mut interest, &files, 8), [(EPOLLIN, 10)]);
    }

    #[test]
    fn errors_and_hang_ups_are_reported_unasked() {
        let files = Files::new();
        let mut interest = Interest::default();
        files.set(1, Some(EPOLLHUP | EPOLLIN));
        interest.insert(1, EPOLLOUT, 0, 1).unwrap();
        interest.mark_ready(&1);
        assert_eq!(collect(&mut interest, &files, 8), [(EPOLLHUP, 0)]);
    }

    #[test]
    fn items_of_closed_files_leave_the_set_unreported() {
        let files = Files::new();
        let mut interest = Interest::default();
        files.set(1, Some(EPOLLIN));
        files.set(2, Some(EPOLLIN));
        interest.insert(1, EPOLLIN, 1, 1).unwrap();
        interest.insert(2, EPOLLIN, 2, 2).unwrap();
        interest.mark_ready(&1);
        interest.mark_ready(&2);
        files.set(1, None);
        let mut gone = Vec::new();
        let mut events = Vec::new();
        interest.collect(8, |file| files.poll(file), &mut gone, &mut events);
        assert_eq!(
            events,
            [Event {
                events: EPOLLIN,
                data: 2
            }]
        );
        assert_eq!(gone, [1]);
        assert_eq!(interest.len(), 1);
        files.set(2, None);
        interest.retain(|file| files.poll(file).is_some(), &mut gone);
        assert!(interest.is_empty());
        assert_eq!(gone, [1, 2]);
    }

    #[test]
    fn the_epoll_file_is_readable_while_a_queued_item_is_ready() {
        let files = Files::new();
        let mut interest = Interest::default();
        let mut gone = Vec::new();
        files.set(1, Some(EPOLLOUT));
        files.set(2, Some(EPOLLIN));
        interest.insert(1, EPOLLIN, 1, 1).unwrap();
        interest.insert(2, EPOLLIN | EPOLLET, 2, 2).unwrap();
        assert!(!interest.any_ready(|file| files.poll(file), &mut gone));
        interest.mark_ready(&1);
        interest.mark_ready(&2);
        assert!(interest.any_ready(|file| files.poll(file), &mut gone));
        // Asking does not consume the edge: the harvest still reports it.
        assert_eq!(collect(&mut interest, &files, 8), [(EPOLLIN, 2)]);
        assert!(!interest.any_ready(|file| files.poll(file), &mut gone));
    }

    #[test]
    fn removing_a_queued_item_takes_it_off_the_ready_list() {
        let files = Files::new();
        let mut interest = Interest::default();
        files.set(1, Some(EPOLLIN));
        interest.insert(1, EPOLLIN, 1, 1).unwrap();
        interest.mark_ready(&1);
        interest.remove(&1).unwrap();
        interest.insert(1, EPOLLIN, 2, 1).unwrap();
        assert_eq!(collect(&mut interest, &files, 8), []);
    }
}
