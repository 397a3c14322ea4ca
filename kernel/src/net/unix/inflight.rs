//! Descriptors in flight (`SCM_RIGHTS` sent, not yet received): they keep their open files
//! alive while queued, are bounded per user by `RLIMIT_NOFILE` (`ETOOMANYREFS`, as
//! Linux's `too_many_unix_fds`), and are collected when only unreachable messages hold
//! them (a socket sent over itself, two sockets sent over each other: Linux's `unix_gc`).
//!
//! Also the deferred drop: messages a closing socket held are dropped here, one at a time
//! from a list, never inside a lock and never recursively (a message can hold a socket
//! whose queue holds another: closing a chain of them must not grow the kernel stack).
//!
//! Lock order: `TABLE` and `DEFERRED` are leaves (nothing is locked or dropped while
//! holding them); the collector takes one socket's lock at a time.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use spin::Mutex;
use vfs_core::{Errno, OpenFile};

use super::file::socket_of;
use super::socket::{Caller, Queued};

struct Table {
    /// Unix socket files in flight, by address: the file, and how many messages hold it.
    sockets: BTreeMap<usize, (Weak<OpenFile>, usize)>,
    /// The sum of those counts (Linux's `unix_tot_inflight`).
    total: usize,
    /// Descriptors in flight per sending user (Linux's `user->unix_inflight`).
    per_user: BTreeMap<u32, usize>,
}

static TABLE: Mutex<Table> = Mutex::new(Table {
    sockets: BTreeMap::new(),
    total: 0,
    per_user: BTreeMap::new(),
});

/// Linux's `UNIX_INFLIGHT_TRIGGER_GC`: past this many sockets in flight, a send with
/// descriptors collects first. Closing a socket collects too, but a cycle's own sockets
/// are never closed (their files stay in flight): this bounds what cycles can pile up.
const COLLECT_PAST: usize = 16000;

fn key(file: &Arc<OpenFile>) -> usize {
    Arc::as_ptr(file) as *const () as usize
}

/// The descriptors one message carries.
pub struct InFlight {
    files: Vec<Arc<OpenFile>>,
    uid: u32,
}

impl InFlight {
    /// Puts `files` in flight for the caller's user: `ETOOMANYREFS` if that user has more
    /// in flight than its descriptor limit already (after collecting garbage), unless
    /// privileged.
    pub fn new(files: Vec<Arc<OpenFile>>, caller: &Caller) -> Result<InFlight, Errno> {
        let over = || {
            !caller.unbounded_in_flight
                && TABLE.lock().per_user.get(&caller.uid).copied().unwrap_or(0) > caller.fd_limit
        };
        if TABLE.lock().total > COLLECT_PAST {
            collect();
        }
        if over() {
            collect();
            if over() {
                return Err(Errno::ETOOMANYREFS);
            }
        }
        let mut table = TABLE.lock();
        *table.per_user.entry(caller.uid).or_default() += files.len();
        for file in files.iter().filter(|file| socket_of(file).is_some()) {
            table
                .sockets
                .entry(key(file))
                .or_insert_with(|| (Arc::downgrade(file), 0))
                .1 += 1;
            table.total += 1;
        }
        Ok(InFlight {
            files,
            uid: caller.uid,
        })
    }

    pub fn files(&self) -> &[Arc<OpenFile>] {
        &self.files
    }

    /// Copies for a peek (the originals stay in flight).
    pub fn duplicate(&self) -> Vec<Arc<OpenFile>> {
        self.files.clone()
    }

    /// The files, out of flight, for the receiver to install.
    pub fn land(mut self) -> Vec<Arc<OpenFile>> {
        let files = core::mem::take(&mut self.files);
        unregister(&files, self.uid);
        files
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.files.is_empty() {
            unregister(&self.files, self.uid);
        }
    }
}

fn unregister(files: &[Arc<OpenFile>], uid: u32) {
    let mut table = TABLE.lock();
    if let Some(count) = table.per_user.get_mut(&uid) {
        *count = count.saturating_sub(files.len());
        if *count == 0 {
            table.per_user.remove(&uid);
        }
    }
    for file in files {
        let key = key(file);
        if let Some(entry) = table.sockets.get_mut(&key) {
            entry.1 -= 1;
            if entry.1 == 0 {
                table.sockets.remove(&key);
            }
            table.total -= 1;
        }
    }
}

static DEFERRED: Mutex<Vec<Queued>> = Mutex::new(Vec::new());
static DRAINING: AtomicBool = AtomicBool::new(false);

/// Drops `messages` outside every lock, and never nested: a drop that closes a socket
/// adds its messages to the list the outermost drop is working through.
pub(super) fn defer(messages: impl IntoIterator<Item = Queued>) {
    DEFERRED.lock().extend(messages);
    loop {
        if DRAINING.swap(true, Ordering::AcqRel) {
            return;
        }
        loop {
            let batch = core::mem::take(&mut *DEFERRED.lock());
            if batch.is_empty() {
                break;
            }
            drop(batch);
        }
        DRAINING.store(false, Ordering::Release);
        if DEFERRED.lock().is_empty() {
            return;
        }
    }
}

static COLLECTING: AtomicBool = AtomicBool::new(false);
static AGAIN: AtomicBool = AtomicBool::new(false);

/// After a socket closed: collect if any socket is in flight (Linux runs `unix_gc` then).
pub(super) fn collect_if_in_flight() {
    if !TABLE.lock().sockets.is_empty() {
        collect();
    }
}

/// Finds socket files that only messages in unreachable queues hold, and drops those
/// messages. One collection at a time; a request during one runs another after it.
pub(super) fn collect() {
    if COLLECTING.swap(true, Ordering::AcqRel) {
        AGAIN.store(true, Ordering::Release);
        return;
    }
    loop {
        AGAIN.store(false, Ordering::Release);
        let garbage = unreachable_messages();
        if !garbage.is_empty() {
            log::debug!(target: "net", "unix: collected {} unreachable messages", garbage.len());
        }
        defer(garbage);
        if !AGAIN.load(Ordering::Acquire) {
            break;
        }
    }
    COLLECTING.store(false, Ordering::Release);
}

/// Linux's collector: candidates are socket files every reference to which is a message
/// in flight. References to them from candidates' own queues are counted; one referenced
/// more often than that is held from outside (a descriptor table, a queue of a live
/// socket, a send under way), so it, and everything its queue holds, is alive. The rest
/// are unreachable: their queues are emptied.
fn unreachable_messages() -> Vec<Queued> {
    let candidates: BTreeMap<usize, (Arc<OpenFile>, usize)> = {
        let table = TABLE.lock();
        table
            .sockets
            .iter()
            .filter(|(_, (file, count))| file.strong_count() == *count)
            .filter_map(|(key, (file, count))| Some((*key, (file.upgrade()?, *count))))
            .collect()
    };
    if candidates.is_empty() {
        return Vec::new();
    }
    let mut internal: BTreeMap<usize, usize> = BTreeMap::new();
    let mut holds: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (key, (file, _)) in &candidates {
        let Some(socket) = socket_of(file) else {
            continue;
        };
        let mut held = Vec::new();
        socket.in_flight_here(&mut |flight| {
            for file in flight.files() {
                let other = self::key(file);
                if candidates.contains_key(&other) {
                    held.push(other);
                }
            }
        });
        for other in &held {
            *internal.entry(*other).or_default() += 1;
        }
        holds.insert(*key, held);
    }
    let mut alive: BTreeSet<usize> = candidates
        .iter()
        .filter(|(key, (_, count))| internal.get(key).copied().unwrap_or(0) < *count)
        .map(|(key, _)| *key)
        .collect();
    let mut work: Vec<usize> = alive.iter().copied().collect();
    while let Some(key) = work.pop() {
        for held in holds.get(&key).into_iter().flatten() {
            if alive.insert(*held) {
                work.push(*held);
            }
        }
    }
    let mut garbage = Vec::new();
    for (key, (file, _)) in &candidates {
        if !alive.contains(key)
            && let Some(socket) = socket_of(file)
        {
            socket.purge_for_collector(&mut garbage);
        }
    }
    garbage
}
