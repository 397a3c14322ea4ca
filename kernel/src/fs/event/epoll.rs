//! epoll: an interest set of (descriptor, open file) items and the ready list `epoll_wait`
//! harvests, as Linux's `fs/eventpoll.c`.
//!
//! Each item registers itself as a *watcher* on its file's wait queue (Linux's
//! `ep_poll_callback`): every wake-up of that queue puts the item on the ready list and
//! wakes the epoll's own queue — which in turn tells any epoll watching this one. The
//! harvest polls each listed item's file for what it is ready for now; the rules for what
//! is reported and what stays listed (level- and edge-triggered, one-shot) are
//! [`super::interest`]'s.
//!
//! Items hold their file weakly: once the last descriptor of a file is closed (its open
//! file description dropped) the item can never be reported, and it leaves the set when
//! next met — on the ready list, or in a sweep when the set has doubled since the last
//! one — so a file that is gone is never reported and its item costs no more than a
//! bounded while (Linux's `eventpoll_release` removes it at the last close). Each item is
//! charged to the memory budget until it goes.
//!
//! Nesting: an epoll may watch another; `EPOLL_CTL_ADD` refuses with `ELOOP` a loop, or a
//! chain of more than [`MAX_NESTS`] epoll-in-epoll links counting those above the
//! instance and below the file added, as Linux does since its recursion fix.
//!
//! Lock order: `NESTING` → an epoll's `state` → the states of the epolls it watches (by
//! nesting, which is loop-free) → a file's own locks (its `poll`) → a wait queue's lists
//! and `watched_by` (leaves). Queues are woken with no epoll lock held, and files the
//! harvest held are let go after it, so no file's last close runs under a lock here.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use spin::Mutex;
use vfs_core::file::DeviceFile;
use vfs_core::{Charge, Credentials, Errno, OpenFile, OpenFlags, Result};

use super::interest::{EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLRDNORM, Event, Interest, PRIVATE_BITS};
use crate::fs::poll::{Pollable, pollable, readiness};
use crate::task::WaitQueue;
use crate::task::wait_queue::Watcher;

/// Linux's `EP_MAX_NESTS`: epoll-in-epoll links in a chain, at most.
pub const MAX_NESTS: usize = 4;
/// The smallest set size at which items of closed files are swept.
const SWEEP_MIN: usize = 64;
/// What an item costs while it lasts: the item, its place in the set and on the ready
/// list, and the shell of its file's description that its weak handle keeps.
const ITEM_COST: u64 = vfs_core::budget::heap_cost(core::mem::size_of::<Item>() + 96)
    + vfs_core::budget::heap_cost(core::mem::size_of::<OpenFile>() + 16);

/// Held while a nesting is checked and made, so two `EPOLL_CTL_ADD`s cannot close a loop
/// between them (Linux's `epmutex`).
static NESTING: Mutex<()> = Mutex::new(());

/// An item's key: the descriptor number and the open file's address (Linux's
/// `epoll_filefd`): the same file under two descriptors is two items.
type Key = (i32, usize);

fn key(fd: i32, file: &Arc<OpenFile>) -> Key {
    (fd, Arc::as_ptr(file) as usize)
}

struct Item {
    key: Key,
    epoll: Weak<Epoll>,
    file: Weak<OpenFile>,
    _charge: Charge,
}

impl Watcher for Item {
    /// The file's queue was woken: the item may be ready.
    fn notify(&self) {
        let Some(epoll) = self.epoll.upgrade() else {
            return;
        };
        epoll.state.lock().interest.mark_ready(&self.key);
        epoll.events.wake_all();
    }
}

struct State {
    interest: Interest<Key, Arc<Item>>,
    /// The set size at which the next sweep runs.
    sweep_at: usize,
}

pub struct Epoll {
    state: Mutex<State>,
    /// `epoll_wait` callers, `poll` of this epoll, and the items of epolls watching it.
    events: WaitQueue,
    /// The items of other epolls that watch this one (for the chain length above it).
    watched_by: Mutex<Vec<Weak<Item>>>,
}

/// The `DeviceFile` of an epoll descriptor.
pub struct EpollFile {
    epoll: Arc<Epoll>,
}

impl Epoll {
    /// `epoll_create1`: a new, empty instance.
    pub fn open(cred: &Credentials) -> Result<Arc<OpenFile>> {
        let epoll = Arc::new(Epoll {
            state: Mutex::new(State {
                interest: Interest::default(),
                sweep_at: SWEEP_MIN,
            }),
            events: WaitQueue::new(),
            watched_by: Mutex::new(Vec::new()),
        });
        super::anon::open(cred, OpenFlags::empty(), Arc::new(EpollFile { epoll }))
    }

    /// The epoll behind an open file, if it is one.
    pub fn of(file: &OpenFile) -> Option<&Arc<Epoll>> {
        let device: &dyn core::any::Any = &**file.device()?;
        device.downcast_ref::<EpollFile>().map(|file| &file.epoll)
    }

    /// The queue `epoll_wait` sleeps on.
    pub fn queue(&self) -> &WaitQueue {
        &self.events
    }

    /// `EPOLL_CTL_ADD` of `file` as descriptor `fd` (the caller checked the descriptors
    /// and the flags): `ELOOP` for a nesting too deep or a loop, `EEXIST`, `ENOMEM` past
    /// the memory budget.
    pub fn add(
        self: &Arc<Self>,
        fd: i32,
        file: &Arc<OpenFile>,
        events: u32,
        data: u64,
    ) -> Result<()> {
        let key = key(fd, file);
        let mut gone = Vec::new();
        // Charged first, with no lock held (the budget may reclaim the page cache).
        let charge = crate::mm::budget::budget().charge(ITEM_COST)?;
        let item = {
            let _nesting = NESTING.lock();
            if let Some(child) = Epoll::of(file) {
                self.check_nesting(child)?;
            }
            let item = Arc::new(Item {
                key,
                epoll: Arc::downgrade(self),
                file: Arc::downgrade(file),
                _charge: charge,
            });
            {
                let mut state = self.state.lock();
                if state.interest.len() >= state.sweep_at {
                    state
                        .interest
                        .retain(|item| item.file.strong_count() > 0, &mut gone);
                    state.sweep_at = SWEEP_MIN.max(2 * state.interest.len());
                }
                state.interest.insert(key, events, data, item.clone())?;
            }
            if let Some(child) = Epoll::of(file) {
                let mut watched_by = child.watched_by.lock();
                watched_by.retain(|item| item.strong_count() > 0);
                watched_by.push(Arc::downgrade(&item));
            }
            item
        };
        drop(gone);
        if let Some(target) = pollable(file) {
            let watcher: Weak<dyn Watcher> = Arc::downgrade(&item) as Weak<dyn Watcher>;
            target.wait_queue().watch(watcher);
        }
        self.queue_if_ready(key, file, events);
        Ok(())
    }

    /// `EPOLL_CTL_MOD`: `ENOENT`, or `EINVAL` for an item added with `EPOLLEXCLUSIVE`.
    pub fn modify(&self, fd: i32, file: &Arc<OpenFile>, events: u32, data: u64) -> Result<()> {
        let key = key(fd, file);
        self.state.lock().interest.modify(&key, events, data)?;
        self.queue_if_ready(key, file, events);
        Ok(())
    }

    /// `EPOLL_CTL_DEL`: `ENOENT` if `fd` with this file is not in the set.
    pub fn remove(&self, fd: i32, file: &Arc<OpenFile>) -> Result<()> {
        let item = self.state.lock().interest.remove(&key(fd, file))?;
        if let Some(target) = pollable(file) {
            let watcher: Weak<dyn Watcher> = Arc::downgrade(&item) as Weak<dyn Watcher>;
            target.wait_queue().unwatch(&watcher);
        }
        Ok(())
    }

    /// After an add or a modify: a file ready now goes on the ready list at once and
    /// wakes the waiters, as Linux's `ep_insert`/`ep_modify`.
    fn queue_if_ready(&self, key: Key, file: &OpenFile, events: u32) {
        let mask = u32::from(readiness(file));
        if mask & (events | EPOLLERR | EPOLLHUP) & !PRIVATE_BITS == 0 {
            return;
        }
        let queued = self.state.lock().interest.mark_ready(&key);
        if queued {
            self.events.wake_all();
        }
    }

    /// `epoll_wait`'s harvest: up to `max` events, now, into `harvest.events` (none when
    /// nothing is ready). The files polled are held in `harvest` until the state's lock is
    /// released (the last reference to one may close it, which comes back here).
    pub fn collect(&self, max: usize, harvest: &mut Harvest) {
        let Harvest { events, held } = harvest;
        let mut gone = Vec::new();
        self.state.lock().interest.collect(
            max,
            |item| {
                let file = item.file.upgrade()?;
                let mask = readiness(&file);
                held.push(file);
                Some(u32::from(mask))
            },
            &mut gone,
            events,
        );
        held.clear();
        drop(gone);
    }

    /// The epoll file's own readiness: `POLLIN | POLLRDNORM` while an item is ready.
    fn readiness(&self) -> u16 {
        let mut held: Vec<Arc<OpenFile>> = Vec::new();
        let mut gone = Vec::new();
        let ready = self.state.lock().interest.any_ready(
            |item| {
                let file = item.file.upgrade()?;
                let mask = readiness(&file);
                held.push(file);
                Some(u32::from(mask))
            },
            &mut gone,
        );
        drop(held);
        drop(gone);
        if ready {
            (EPOLLIN | EPOLLRDNORM) as u16
        } else {
            0
        }
    }

    /// The epolls this one watches (whose files are still open).
    fn children(&self) -> Vec<Arc<Epoll>> {
        let mut held: Vec<Arc<OpenFile>> = Vec::new();
        let children = {
            let state = self.state.lock();
            state
                .interest
                .iter()
                .filter_map(|(_, _, _, item)| {
                    let file = item.file.upgrade()?;
                    let child = Epoll::of(&file).cloned();
                    held.push(file);
                    child
                })
                .collect()
        };
        drop(held);
        children
    }

    /// The epolls watching this one.
    fn parents(&self) -> Vec<Arc<Epoll>> {
        self.watched_by
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .filter_map(|item| item.epoll.upgrade())
            .collect()
    }

    /// Whether `child` may be added to this epoll (Linux's `ep_loop_check`): not if it
    /// leads back here, nor if the longest chain through the new link would pass
    /// [`MAX_NESTS`] links.
    fn check_nesting(self: &Arc<Self>, child: &Arc<Epoll>) -> Result<()> {
        let below = child
            .depth_below(self, 0, &mut BTreeMap::new())
            .ok_or(Errno::ELOOP)?;
        let above = self.depth_above(0, &mut BTreeMap::new());
        if below + 1 + above > MAX_NESTS {
            return Err(Errno::ELOOP);
        }
        Ok(())
    }

    /// The longest chain of epolls below this one, counted in links; `None` if one of them
    /// is `into` (a loop) or the chain is longer than any allowed. Each epoll is measured
    /// once (`memo`), so shared sub-chains cost no more than the links themselves.
    fn depth_below(
        self: &Arc<Self>,
        into: &Arc<Epoll>,
        level: usize,
        memo: &mut BTreeMap<usize, usize>,
    ) -> Option<usize> {
        let me = Arc::as_ptr(self) as usize;
        if let Some(&depth) = memo.get(&me) {
            return Some(depth);
        }
        if level > MAX_NESTS {
            return None;
        }
        let mut depth = 0;
        for child in self.children() {
            if Arc::ptr_eq(&child, into) {
                return None;
            }
            depth = depth.max(child.depth_below(into, level + 1, memo)? + 1);
            if depth > MAX_NESTS {
                return None;
            }
        }
        memo.insert(me, depth);
        Some(depth)
    }

    /// The longest chain of epolls above this one (watching it), in links.
    fn depth_above(self: &Arc<Self>, level: usize, memo: &mut BTreeMap<usize, usize>) -> usize {
        let me = Arc::as_ptr(self) as usize;
        if let Some(&depth) = memo.get(&me) {
            return depth;
        }
        if level > MAX_NESTS {
            return level;
        }
        let depth = self
            .parents()
            .iter()
            .map(|parent| parent.depth_above(level + 1, memo) + 1)
            .max()
            .unwrap_or(0);
        memo.insert(me, depth);
        depth
    }

    /// What `/proc/<pid>/fdinfo/N` adds: one line per item whose file is open (Linux's
    /// `ep_show_fdinfo`).
    pub fn fdinfo(&self) -> String {
        // The files are let go of the lock before their attributes are asked (a 9p
        // file's may be a round trip).
        let items: Vec<(i32, u32, u64, Arc<OpenFile>)> = {
            let state = self.state.lock();
            state
                .interest
                .iter()
                .filter_map(|(&(fd, _), events, data, item)| {
                    Some((fd, events, data, item.file.upgrade()?))
                })
                .collect()
        };
        let mut text = String::new();
        for (fd, events, data, file) in items {
            let ino = file.inode().ino();
            let dev = file.inode().getattr().map_or(0, |stat| stat.dev);
            // The kernel's own `dev_t` encoding (`MKDEV`), as Linux prints `s_dev`.
            let s_dev = (vfs_core::attr::dev_major(dev) << 20) | vfs_core::attr::dev_minor(dev);
            text.push_str(&format!(
                "tfd: {fd:8} events: {events:8x} data: {data:16x}  pos:{} ino:{ino:x} sdev:{s_dev:x}\n",
                file.position()
            ));
        }
        text
    }
}

impl DeviceFile for EpollFile {
    /// An epoll file has no read operation: `EINVAL`.
    fn read(&self, _offset: u64, _buf: &mut [u8], _flags: OpenFlags) -> Result<usize> {
        super::anon::no_such_operation()
    }

    /// Nor a write operation.
    fn write(&self, _offset: u64, _buf: &[u8], _flags: OpenFlags) -> Result<usize> {
        super::anon::no_such_operation()
    }
}

impl Pollable for EpollFile {
    fn poll(&self) -> u16 {
        self.epoll.readiness()
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.epoll.events
    }
}

/// What one `epoll_wait` harvest fills: the events, and the files polled for them (held
/// until the epoll's lock is released). A thread keeps one between calls
/// ([`Harvest::keep_small`]), so a wait and its wake allocate nothing.
#[derive(Default)]
pub struct Harvest {
    pub events: Vec<Event>,
    held: Vec<Arc<OpenFile>>,
}

/// The most events a kept harvest buffer holds room for between calls.
const KEPT_EVENTS: usize = 64;

impl Harvest {
    /// Empties the buffers for the next call, giving back the room of a large one.
    pub fn keep_small(&mut self) {
        self.events.clear();
        self.held.clear();
        if self.events.capacity() > KEPT_EVENTS {
            self.events = Vec::new();
        }
        if self.held.capacity() > KEPT_EVENTS {
            self.held = Vec::new();
        }
    }
}
