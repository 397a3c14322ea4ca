//! File locks, middle: the table of every lock held and every waiter, keyed by file
//! (Linux's `file_lock_context` per inode, its `blocked_hash`, and `fs/locks.c`'s rules).
//!
//! Two independent kinds of lock per file, as on Linux:
//! - record locks (`fcntl`): byte ranges owned by a process's descriptor table
//!   ([`Owner::Process`], POSIX locks) or by an open file description
//!   ([`Owner::Description`], OFD locks), one list per file in which both kinds meet
//!   and conflict;
//! - whole-file `flock` locks, owned by an open file description, in a list of their own
//!   that record locks never see.
//!
//! An owner's records in a file's list are contiguous, sorted by start, and the owners
//! are in the order they first locked the file (as Linux's `flc_posix`), so `F_GETLK`
//! reports the lock Linux would when several conflict.
//!
//! A request that conflicts either fails (`EAGAIN`) or, for a sleeper, is queued as a
//! waiter that records the owner of the first lock in its way: the waits-for graph of
//! the deadlock check ([`LockTable::set_record`], Linux's `posix_locks_deadlock`) and who
//! must wake it. Whenever an owner's locks on a file change, the waiters its locks held
//! back are marked woken and handed out ([`LockTable::drain_wakes`]); each one retries.
//! Generic over the sleeper `T` the caller wakes, so the logic is host-tested.
//!
//! Memory: each lock (record or `flock`) carries a [`Charge`] of [`LOCK_COST`] on the
//! budget, which covers its share of the file's entry; a lock the budget refuses is
//! `ENOLCK` for `fcntl` (Linux's answer when it cannot allocate a lock record) and
//! `ENOMEM` for `flock` (as Linux's `flock_lock_inode`). Waiters are not charged: each
//! thread waits on at most one lock at a time and is off the table before it returns to
//! user mode.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use vfs_core::Errno;
use vfs_core::budget::{Charge, MemoryBudget, heap_cost};

use super::range::{self, Held, Kind, OFFSET_MAX, Span};

/// What one lock costs on the budget: the record and its share of its file's entry.
pub const LOCK_COST: u64 = heap_cost(128);

/// Linux's `MAX_DEADLK_ITERATIONS`: how far the deadlock check follows the chain of
/// waiting owners before it gives up and lets the caller sleep.
const MAX_DEADLK_ITERATIONS: usize = 10;

/// A file's identity, as every path to it shares it: its filesystem's device number and
/// its inode number. Two opens of one path, hard links and bind mounts all meet here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
}

/// Who owns a record lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// A POSIX lock's owner: a descriptor table (Linux's `files_struct`).
    Process(u64),
    /// An OFD lock's owner: an open file description.
    Description(u64),
}

/// A record lock request: lock `span` as `kind`, or unlock it (`kind` `None`).
#[derive(Clone, Copy, Debug)]
pub struct Request {
    pub owner: Owner,
    /// The thread group id of the caller: `F_GETLK` reports it for a POSIX lock.
    pub pid: i32,
    pub span: Span,
    pub kind: Option<Kind>,
}

/// A lock `F_GETLK` found in the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub kind: Kind,
    pub span: Span,
    /// Its holder's pid; -1 for an OFD lock (Linux's `locks_translate_pid`).
    pub pid: i32,
}

/// A waiter's handle.
pub type WaiterId = u64;

struct Record {
    owner: Owner,
    pid: i32,
    span: Span,
    kind: Kind,
    /// When the lock was made: `/proc/locks` lists the newest first, as Linux does.
    serial: u64,
    _charge: Charge,
}

struct Flock {
    /// The open file description.
    owner: u64,
    pid: i32,
    kind: Kind,
    serial: u64,
    _charge: Charge,
}

#[derive(Default)]
struct FileLocks {
    records: Vec<Record>,
    flocks: Vec<Flock>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum List {
    Records,
    Flocks,
}

/// Who a waiter is: a record lock's owner, or a `flock` lock's description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WaitOwner {
    Record(Owner),
    Flock(u64),
}

struct Waiter<T> {
    file: FileKey,
    list: List,
    owner: WaitOwner,
    /// The owner of the lock it waits behind; `None` once woken.
    blocker: Option<WaitOwner>,
    sleeper: T,
}

/// The class of a lock as `/proc/locks` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Posix,
    Ofd,
    Flock,
}

/// One held lock as `/proc/locks` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockLine {
    pub class: Class,
    pub kind: Kind,
    /// The holder's pid (-1 for an OFD lock).
    pub pid: i32,
    pub file: FileKey,
    /// The bytes (`0..=OFFSET_MAX` for a `flock` lock: the whole file).
    pub span: Span,
}

pub struct LockTable<T> {
    files: BTreeMap<FileKey, FileLocks>,
    waiters: BTreeMap<WaiterId, Waiter<T>>,
    woken: Vec<T>,
    next_waiter: WaiterId,
    next_serial: u64,
}

impl<T: Clone> Default for LockTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone> LockTable<T> {
    pub const fn new() -> Self {
        LockTable {
            files: BTreeMap::new(),
            waiters: BTreeMap::new(),
            woken: Vec::new(),
            next_waiter: 0,
            next_serial: 0,
        }
    }

    /// The sleepers that changes since the last call woke: the caller makes them
    /// runnable once it has let go of the table.
    pub fn drain_wakes(&mut self) -> Vec<T> {
        core::mem::take(&mut self.woken)
    }

    /// Whether the waiter was woken (its blocker's locks changed): it should retry.
    pub fn is_woken(&self, id: WaiterId) -> bool {
        self.waiters
            .get(&id)
            .is_none_or(|waiter| waiter.blocker.is_none())
    }

    /// Takes a waiter off the table (it retries, was granted, or gave up).
    pub fn cancel(&mut self, id: WaiterId) {
        if let Some(waiter) = self.waiters.remove(&id) {
            self.forget_if_unused(waiter.file);
        }
    }

    fn forget_if_unused(&mut self, file: FileKey) {
        let unused = self
            .files
            .get(&file)
            .is_some_and(|locks| locks.records.is_empty() && locks.flocks.is_empty());
        if unused && !self.waiters.values().any(|waiter| waiter.file == file) {
            self.files.remove(&file);
        }
    }

    /// Marks woken every waiter of `file`'s `list` that `owner`'s locks held back.
    fn wake_blocked_by(&mut self, file: FileKey, list: List, owner: WaitOwner) {
        for waiter in self.waiters.values_mut() {
            if waiter.file == file && waiter.list == list && waiter.blocker == Some(owner) {
                waiter.blocker = None;
                self.woken.push(waiter.sleeper.clone());
            }
        }
    }

    fn queue(
        &mut self,
        file: FileKey,
        list: List,
        owner: WaitOwner,
        blocker: WaitOwner,
        sleeper: T,
    ) -> WaiterId {
        let id = self.next_waiter;
        self.next_waiter += 1;
        self.waiters.insert(
            id,
            Waiter {
                file,
                list,
                owner,
                blocker: Some(blocker),
                sleeper,
            },
        );
        id
    }

    /// The first record lock of another owner in the way of `request` (Linux's
    /// `posix_locks_conflict`): overlapping, and one of the two exclusive.
    fn first_conflict(
        &self,
        file: FileKey,
        owner: Owner,
        span: Span,
        kind: Kind,
    ) -> Option<&Record> {
        self.files.get(&file)?.records.iter().find(|record| {
            record.owner != owner && record.span.overlaps(&span) && record.kind.conflicts_with(kind)
        })
    }

    /// `F_GETLK`/`F_OFD_GETLK`: the lock that would stop `request`, if any (Linux's
    /// `posix_test_lock`). An unlock request (only `F_OFD_GETLK` passes one) asks for
    /// the caller's own locks overlapping the range instead, as Linux does since 6.6.
    pub fn test_record(&self, file: FileKey, request: &Request) -> Option<Conflict> {
        let record = match request.kind {
            Some(kind) => self.first_conflict(file, request.owner, request.span, kind),
            None => self.files.get(&file)?.records.iter().find(|record| {
                record.owner == request.owner && record.span.overlaps(&request.span)
            }),
        }?;
        Some(Conflict {
            kind: record.kind,
            span: record.span,
            pid: shown_pid(record.owner, record.pid),
        })
    }

    /// `F_SETLK`/`F_SETLKW` and their OFD forms: locks or unlocks `request.span` for its
    /// owner. On a conflict, without a `sleeper` it is `EAGAIN`; with one it is queued
    /// (`Ok(Some(id))`: sleep until [`LockTable::is_woken`], then [`LockTable::cancel`]
    /// and try again) unless a POSIX owner would wait, through the chain of owners
    /// waiting on one another, for itself: `EDEADLK`. `Ok(None)`: done. `ENOLCK` when
    /// the budget refuses the records it needs; nothing changed then.
    pub fn set_record(
        &mut self,
        budget: &Arc<MemoryBudget>,
        file: FileKey,
        request: &Request,
        sleeper: Option<T>,
    ) -> Result<Option<WaiterId>, Errno> {
        if let Some(kind) = request.kind
            && let Some(blocker) = self
                .first_conflict(file, request.owner, request.span, kind)
                .map(|record| record.owner)
        {
            let Some(sleeper) = sleeper else {
                return Err(Errno::EAGAIN);
            };
            if self.deadlock(request.owner, blocker) {
                return Err(Errno::EDEADLK);
            }
            let owner = WaitOwner::Record(request.owner);
            return Ok(Some(self.queue(
                file,
                List::Records,
                owner,
                WaitOwner::Record(blocker),
                sleeper,
            )));
        }
        self.replace_ranges(budget, file, request)?;
        Ok(None)
    }

    /// Linux's `posix_locks_deadlock`: follows what the owner of the lock in the way
    /// waits for, then what that lock's owner waits for, and so on; a deadlock if the
    /// chain comes back to `caller`. OFD owners are not processes: a caller that is one
    /// is never refused, and the chain stops at an owner that is one.
    fn deadlock(&self, caller: Owner, blocker: Owner) -> bool {
        if !matches!(caller, Owner::Process(_)) {
            return false;
        }
        let mut owner = blocker;
        let mut steps = 0;
        loop {
            let Owner::Process(_) = owner else {
                return false;
            };
            let next = self.waiters.values().find_map(|waiter| {
                (waiter.list == List::Records && waiter.owner == WaitOwner::Record(owner))
                    .then_some(waiter.blocker)
                    .flatten()
            });
            let Some(WaitOwner::Record(next)) = next else {
                return false;
            };
            if steps > MAX_DEADLK_ITERATIONS {
                return false;
            }
            steps += 1;
            if next == caller {
                return true;
            }
            owner = next;
        }
    }

    /// Puts `request` into its owner's ranges on `file`, charging new records first.
    /// Only the owner's records that overlap or touch the request's range change (its
    /// records are contiguous and sorted, so they are found by binary search), so a
    /// process holding many ranges pays for the ones it changes, plus a move of the list.
    fn replace_ranges(
        &mut self,
        budget: &Arc<MemoryBudget>,
        file: FileKey,
        request: &Request,
    ) -> Result<(), Errno> {
        let Some(locks) = (match request.kind {
            Some(_) => Some(self.files.entry(file).or_default()),
            None => self.files.get_mut(&file),
        }) else {
            return Ok(());
        };
        let records = &mut locks.records;
        let first = records
            .iter()
            .position(|record| record.owner == request.owner)
            .unwrap_or(records.len());
        let count = records[first..]
            .iter()
            .take_while(|record| record.owner == request.owner)
            .count();
        let block = &records[first..first + count];
        let span = request.span;
        // The window: records ending at or after `start - 1` and starting at or before
        // `end + 1` (a touching range of the same kind merges).
        let low =
            first + block.partition_point(|record| record.span.end.saturating_add(1) < span.start);
        let high =
            first + block.partition_point(|record| record.span.start <= span.end.saturating_add(1));
        let held: Vec<Held> = records[low..high]
            .iter()
            .map(|record| Held {
                span: record.span,
                kind: record.kind,
            })
            .collect();
        let after = range::apply(&held, span, request.kind);
        if after == held {
            // Nothing changes (a lock already held, an unlock of nothing): no charge,
            // and nobody waits on a change.
            self.forget_if_unused(file);
            return Ok(());
        }
        // The old records' charges pay for the new ones; more only if there are more,
        // taken before anything changes.
        let mut pool = budget.empty_charge();
        let extra = after.len().saturating_sub(held.len()) as u64 * LOCK_COST;
        if pool.grow(extra).is_err() {
            self.forget_if_unused(file);
            return Err(Errno::ENOLCK);
        }
        let old: Vec<Record> = records.drain(low..high).collect();
        let mut fresh = 0;
        let mut new = Vec::with_capacity(after.len());
        for range in &after {
            // A range held before keeps its age (`/proc/locks` order).
            let kept = old
                .iter()
                .find(|record| record.span == range.span && record.kind == range.kind)
                .map(|record| record.serial);
            let serial = kept.unwrap_or_else(|| {
                fresh += 1;
                self.next_serial + fresh - 1
            });
            new.push((*range, serial));
        }
        for record in old {
            pool.merge(record._charge);
        }
        records.splice(
            low..low,
            new.into_iter().map(|(range, serial)| Record {
                owner: request.owner,
                pid: request.pid,
                span: range.span,
                kind: range.kind,
                serial,
                _charge: pool.split(LOCK_COST),
            }),
        );
        self.next_serial += fresh;
        self.wake_blocked_by(file, List::Records, WaitOwner::Record(request.owner));
        self.forget_if_unused(file);
        Ok(())
    }

    /// Every record lock `owner` holds on `file` goes: a POSIX owner closed a descriptor
    /// of the file (POSIX's rule, Linux's `locks_remove_posix`), or an OFD lock's
    /// description had its last close.
    pub fn release_records(&mut self, file: FileKey, owner: Owner) {
        let Some(locks) = self.files.get_mut(&file) else {
            return;
        };
        let before = locks.records.len();
        locks.records.retain(|record| record.owner != owner);
        if locks.records.len() != before {
            self.wake_blocked_by(file, List::Records, WaitOwner::Record(owner));
        }
        self.forget_if_unused(file);
    }

    /// Every record lock of POSIX owner `id`, on every file, goes: its descriptor table
    /// is gone (the process exited).
    pub fn release_process(&mut self, id: u64) {
        let files: Vec<FileKey> = self
            .files
            .iter()
            .filter(|(_, locks)| {
                locks
                    .records
                    .iter()
                    .any(|record| record.owner == Owner::Process(id))
            })
            .map(|(file, _)| *file)
            .collect();
        for file in files {
            self.release_records(file, Owner::Process(id));
        }
    }

    /// The last close of description `id` (of `file`): its OFD and `flock` locks go
    /// (Linux's `locks_remove_file`).
    pub fn release_description(&mut self, file: FileKey, id: u64) {
        self.release_records(file, Owner::Description(id));
        let Some(locks) = self.files.get_mut(&file) else {
            return;
        };
        let before = locks.flocks.len();
        locks.flocks.retain(|lock| lock.owner != id);
        if locks.flocks.len() != before {
            self.wake_blocked_by(file, List::Flocks, WaitOwner::Flock(id));
        }
        self.forget_if_unused(file);
    }

    /// `flock`: description `owner` takes `kind` on `file`, or lets go (`None`), as
    /// Linux's `flock_lock_inode`: a lock of the same kind already held is kept; one of
    /// the other kind is dropped first (waking those it held back), so a conversion that
    /// then fails (`EWOULDBLOCK`, or a signal while waiting) leaves no lock at all. On
    /// a conflict, without a `sleeper` it is `EAGAIN` (`EWOULDBLOCK`), with one it is
    /// queued as in [`LockTable::set_record`] (no deadlock check: Linux has none for
    /// `flock`). `ENOMEM` when the budget refuses the lock, before anything changed.
    pub fn set_flock(
        &mut self,
        budget: &Arc<MemoryBudget>,
        file: FileKey,
        owner: u64,
        pid: i32,
        kind: Option<Kind>,
        sleeper: Option<T>,
    ) -> Result<Option<WaiterId>, Errno> {
        let charge = match kind {
            Some(_) => Some(budget.charge(LOCK_COST).map_err(|_| Errno::ENOMEM)?),
            None => None,
        };
        let locks = self.files.entry(file).or_default();
        if let Some(at) = locks.flocks.iter().position(|lock| lock.owner == owner) {
            if Some(locks.flocks[at].kind) == kind {
                return Ok(None);
            }
            locks.flocks.remove(at);
            self.wake_blocked_by(file, List::Flocks, WaitOwner::Flock(owner));
        }
        let (Some(kind), Some(charge)) = (kind, charge) else {
            self.forget_if_unused(file);
            return Ok(None);
        };
        let locks = self.files.entry(file).or_default();
        let blocker = locks
            .flocks
            .iter()
            .find(|lock| lock.owner != owner && lock.kind.conflicts_with(kind))
            .map(|lock| lock.owner);
        if let Some(blocker) = blocker {
            let Some(sleeper) = sleeper else {
                self.forget_if_unused(file);
                return Err(Errno::EAGAIN);
            };
            return Ok(Some(self.queue(
                file,
                List::Flocks,
                WaitOwner::Flock(owner),
                WaitOwner::Flock(blocker),
                sleeper,
            )));
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        self.files.entry(file).or_default().flocks.push(Flock {
            owner,
            pid,
            kind,
            serial,
            _charge: charge,
        });
        Ok(None)
    }

    /// Every held lock, newest first, for `/proc/locks`.
    pub fn lines(&self) -> Vec<LockLine> {
        let mut lines: Vec<(u64, LockLine)> = Vec::new();
        for (file, locks) in &self.files {
            for record in &locks.records {
                let class = match record.owner {
                    Owner::Process(_) => Class::Posix,
                    Owner::Description(_) => Class::Ofd,
                };
                lines.push((
                    record.serial,
                    LockLine {
                        class,
                        kind: record.kind,
                        pid: shown_pid(record.owner, record.pid),
                        file: *file,
                        span: record.span,
                    },
                ));
            }
            for lock in &locks.flocks {
                lines.push((
                    lock.serial,
                    LockLine {
                        class: Class::Flock,
                        kind: lock.kind,
                        pid: lock.pid,
                        file: *file,
                        span: Span {
                            start: 0,
                            end: OFFSET_MAX,
                        },
                    },
                ));
            }
        }
        lines.sort_by_key(|(serial, _)| core::cmp::Reverse(*serial));
        lines.into_iter().map(|(_, line)| line).collect()
    }

    /// How many locks are held, of every kind (tests and leak checks).
    pub fn held(&self) -> usize {
        self.files
            .values()
            .map(|locks| locks.records.len() + locks.flocks.len())
            .sum()
    }

    /// `owner`'s ranges on `file`, in list order (tests).
    #[cfg(test)]
    pub fn ranges_of(&self, file: FileKey, owner: Owner) -> Vec<Held> {
        self.files.get(&file).map_or_else(Vec::new, |locks| {
            locks
                .records
                .iter()
                .filter(|record| record.owner == owner)
                .map(|record| Held {
                    span: record.span,
                    kind: record.kind,
                })
                .collect()
        })
    }

    /// How many files have an entry (locks or waiters): none is kept once unused.
    pub fn files_tracked(&self) -> usize {
        self.files.len()
    }
}

/// The pid a lock shows: its holder's for a POSIX lock, -1 for an OFD lock.
fn shown_pid(owner: Owner, pid: i32) -> i32 {
    match owner {
        Owner::Process(_) => pid,
        Owner::Description(_) => -1,
    }
}
