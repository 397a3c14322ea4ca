//! A process's file descriptor table: small integers to open files, each with its own
//! close-on-exec flag. Generic over the file type so it is host-tested without a kernel.
//!
//! Linux rules kept: a new descriptor is the lowest free one; `RLIMIT_NOFILE` bounds them
//! (`EMFILE`, or `EBADF`/`EINVAL` for an explicit target past it, as dup2/fcntl do);
//! `dup2(fd, fd)` checks `fd` and does nothing; `dup3(fd, fd)` is `EINVAL`.
//!
//! The table is charged to the memory budget: a slot for every descriptor number up to
//! the highest in use, and an open file description for every descriptor (a `dup` shares
//! one: this errs high). A descriptor the budget refuses is `ENOMEM`, as Linux's
//! `expand_files` failing; a `fork` that cannot copy the table is `ENOMEM` too.

use alloc::sync::Arc;
use alloc::vec::Vec;

use vfs_core::Errno;
use vfs_core::budget::{Charge, MemoryBudget, heap_cost};

use crate::fs::locks::OwnerToken;

/// Linux's default soft `RLIMIT_NOFILE`.
pub const DEFAULT_MAX_FILES: usize = 1024;
/// Linux's `fs.nr_open`: the highest any `RLIMIT_NOFILE` may be set to.
pub const NR_OPEN: u64 = 1 << 20;

/// What a descriptor number costs while the table reaches it: its slot, twice over for
/// the vector's spare capacity.
const SLOT_COST: u64 = 32;
/// What an open descriptor costs besides its slot: an open file description and what it
/// holds (Linux charges `struct file` to the container's memory too).
const FILE_COST: u64 = heap_cost(256);

#[derive(Clone)]
struct Entry<F> {
    file: F,
    close_on_exec: bool,
}

pub struct FdTable<F> {
    entries: Vec<Option<Entry<F>>>,
    limit: usize,
    /// [`SLOT_COST`] for each slot and [`FILE_COST`] for each open descriptor.
    charge: Charge,
    /// The owner of the POSIX record locks taken through this table (Linux's
    /// `files_struct` as a lock's `fl_owner`): made at the first lock, not copied by
    /// `fork` (a child inherits no POSIX locks); its drop with the table releases them.
    lock_owner: Option<OwnerToken>,
}

impl<F: Clone> Default for FdTable<F> {
    fn default() -> Self {
        Self::with_budget(&MemoryBudget::unlimited())
    }
}

impl<F: Clone> FdTable<F> {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table charged to `budget`.
    pub fn with_budget(budget: &Arc<MemoryBudget>) -> Self {
        Self {
            entries: Vec::new(),
            limit: DEFAULT_MAX_FILES,
            charge: budget.empty_charge(),
            lock_owner: None,
        }
    }

    /// A copy for `fork`, charged like this one: `ENOMEM` if the budget has no room.
    pub fn try_clone(&self) -> Result<Self, Errno> {
        let charge = self.charge.budget().charge(self.charge.bytes())?;
        Ok(Self {
            entries: self.entries.clone(),
            limit: self.limit,
            charge,
            lock_owner: None,
        })
    }

    /// The id of this table's POSIX lock owner, if it ever locked.
    pub fn lock_owner(&self) -> Option<u64> {
        self.lock_owner.as_ref().map(OwnerToken::id)
    }

    /// The id of this table's POSIX lock owner, made by `make` if it has none yet.
    pub fn lock_owner_or_insert_with(&mut self, make: impl FnOnce() -> OwnerToken) -> u64 {
        self.lock_owner.get_or_insert_with(make).id()
    }

    /// Hands the lock owner on (to the table `execve` replaces this one with: POSIX
    /// locks survive exec).
    pub fn take_lock_owner(&mut self) -> Option<OwnerToken> {
        self.lock_owner.take()
    }

    pub fn set_lock_owner(&mut self, owner: Option<OwnerToken>) {
        self.lock_owner = owner;
    }

    fn cost(slots: usize, open: usize) -> u64 {
        slots as u64 * SLOT_COST + open as u64 * FILE_COST
    }

    fn open_count(&self) -> usize {
        self.entries.iter().filter(|slot| slot.is_some()).count()
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Changes `RLIMIT_NOFILE`; open descriptors above it stay open, as on Linux.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    pub fn get(&self, fd: i32) -> Result<&F, Errno> {
        let index = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        self.entries
            .get(index)
            .and_then(Option::as_ref)
            .map(|entry| &entry.file)
            .ok_or(Errno::EBADF)
    }

    /// Installs `file` at the lowest free descriptor at or above `minimum`.
    pub fn insert_from(
        &mut self,
        minimum: usize,
        file: F,
        close_on_exec: bool,
    ) -> Result<i32, Errno> {
        if minimum >= self.limit {
            return Err(Errno::EINVAL);
        }
        let free = (minimum..self.limit)
            .find(|&index| self.entries.get(index).is_none_or(Option::is_none))
            .ok_or(Errno::EMFILE)?;
        self.place(free, file, close_on_exec)?;
        Ok(free as i32)
    }

    pub fn insert(&mut self, file: F, close_on_exec: bool) -> Result<i32, Errno> {
        self.insert_from(0, file, close_on_exec).map_err(|error| {
            if error == Errno::EINVAL {
                Errno::EMFILE
            } else {
                error
            }
        })
    }

    /// Puts `file` at `index`, charging the slots the table grows by and the descriptor
    /// if `index` was free; `ENOMEM` (nothing changed) if the budget refuses.
    fn place(&mut self, index: usize, file: F, close_on_exec: bool) -> Result<(), Errno> {
        let new_slots = (index + 1).saturating_sub(self.entries.len());
        let new_open = usize::from(self.entries.get(index).is_none_or(Option::is_none));
        self.charge.grow(Self::cost(new_slots, new_open))?;
        if new_slots > 0 && self.entries.try_reserve(new_slots).is_err() {
            self.charge.shrink(Self::cost(new_slots, new_open));
            return Err(Errno::ENOMEM);
        }
        if self.entries.len() <= index {
            self.entries.resize_with(index + 1, || None);
        }
        self.entries[index] = Some(Entry {
            file,
            close_on_exec,
        });
        Ok(())
    }

    /// Gives back what the slots beyond the last descriptor and `closed` descriptors cost,
    /// after they went.
    fn released(&mut self, slots_before: usize, closed: usize) {
        let slots_gone = slots_before - self.entries.len();
        self.charge.shrink(Self::cost(slots_gone, closed));
    }

    /// `close`: the file that was there (dropping it may close the description).
    pub fn remove(&mut self, fd: i32) -> Result<F, Errno> {
        let index = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        let entry = self
            .entries
            .get_mut(index)
            .and_then(Option::take)
            .ok_or(Errno::EBADF)?;
        let slots_before = self.entries.len();
        while self.entries.last().is_some_and(Option::is_none) {
            self.entries.pop();
        }
        if self.entries.len() * 4 < self.entries.capacity() {
            self.entries.shrink_to(self.entries.len() * 2);
        }
        self.released(slots_before, 1);
        Ok(entry.file)
    }

    /// `dup2`/`dup3`: puts a copy of `old` at `new`, closing what was there.
    pub fn duplicate_to(
        &mut self,
        old: i32,
        new: i32,
        close_on_exec: bool,
        is_dup3: bool,
    ) -> Result<i32, Errno> {
        let file = self.get(old)?.clone();
        if old == new {
            return if is_dup3 { Err(Errno::EINVAL) } else { Ok(new) };
        }
        let index = usize::try_from(new)
            .ok()
            .filter(|&index| index < self.limit)
            .ok_or(Errno::EBADF)?;
        self.place(index, file, close_on_exec)?;
        Ok(new)
    }

    pub fn close_on_exec(&self, fd: i32) -> Result<bool, Errno> {
        let index = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        self.entries
            .get(index)
            .and_then(Option::as_ref)
            .map(|entry| entry.close_on_exec)
            .ok_or(Errno::EBADF)
    }

    pub fn set_close_on_exec(&mut self, fd: i32, value: bool) -> Result<(), Errno> {
        let index = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        let entry = self
            .entries
            .get_mut(index)
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)?;
        entry.close_on_exec = value;
        Ok(())
    }

    /// Closes every close-on-exec descriptor (at `execve`).
    pub fn close_on_exec_all(&mut self) {
        let before = self.open_count();
        for slot in &mut self.entries {
            if slot.as_ref().is_some_and(|entry| entry.close_on_exec) {
                *slot = None;
            }
        }
        let closed = before - self.open_count();
        let slots_before = self.entries.len();
        while self.entries.last().is_some_and(Option::is_none) {
            self.entries.pop();
        }
        self.released(slots_before, closed);
    }

    /// Descriptors in use, lowest first.
    pub fn descriptors(&self) -> impl Iterator<Item = i32> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.is_some())
            .map(|(index, _)| index as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_descriptors_take_the_lowest_free_number() {
        let mut table = FdTable::new();
        assert_eq!(table.insert("a", false), Ok(0));
        assert_eq!(table.insert("b", false), Ok(1));
        assert_eq!(table.insert("c", false), Ok(2));
        assert_eq!(table.remove(1), Ok("b"));
        assert_eq!(table.insert("d", false), Ok(1));
        assert_eq!(table.insert_from(10, "e", false), Ok(10));
        assert_eq!(table.insert_from(5, "f", false), Ok(5));
        assert_eq!(table.descriptors().collect::<Vec<_>>(), [0, 1, 2, 5, 10]);
    }

    #[test]
    fn bad_descriptors_are_ebadf() {
        let mut table: FdTable<&str> = FdTable::new();
        assert_eq!(table.get(0), Err(Errno::EBADF));
        assert_eq!(table.get(-1), Err(Errno::EBADF));
        assert_eq!(table.remove(3), Err(Errno::EBADF));
        assert_eq!(table.duplicate_to(7, 1, false, false), Err(Errno::EBADF));
    }

    #[test]
    fn dup2_to_itself_is_a_no_op_and_dup3_refuses_it() {
        let mut table = FdTable::new();
        table.insert("a", false).unwrap();
        assert_eq!(table.duplicate_to(0, 0, false, false), Ok(0));
        assert_eq!(table.duplicate_to(0, 0, false, true), Err(Errno::EINVAL));
        assert_eq!(table.duplicate_to(0, 4, true, true), Ok(4));
        assert_eq!(table.close_on_exec(4), Ok(true));
        assert_eq!(table.duplicate_to(0, -1, false, false), Err(Errno::EBADF));
        assert_eq!(table.duplicate_to(0, 1024, false, false), Err(Errno::EBADF));
    }

    #[test]
    fn the_limit_gives_emfile_and_einval() {
        let mut table = FdTable::new();
        table.set_limit(2);
        table.insert("a", false).unwrap();
        table.insert("b", false).unwrap();
        assert_eq!(table.insert("c", false), Err(Errno::EMFILE));
        assert_eq!(table.insert_from(5, "c", false), Err(Errno::EINVAL));
    }

    #[test]
    fn descriptors_are_charged_and_given_back() {
        let budget = MemoryBudget::new(1 << 20);
        let mut table = FdTable::with_budget(&budget);
        table.set_limit(100_000);
        let fd = table.insert("a", false).unwrap();
        assert_eq!(budget.used(), SLOT_COST + FILE_COST);
        // A descriptor far up costs every slot below it: past the budget, ENOMEM and
        // nothing changed.
        assert_eq!(
            table.duplicate_to(fd, 90_000, false, false),
            Err(Errno::ENOMEM)
        );
        assert_eq!(table.descriptors().collect::<Vec<_>>(), [0]);
        table.duplicate_to(fd, 1000, false, false).unwrap();
        assert_eq!(budget.used(), 1001 * SLOT_COST + 2 * FILE_COST);
        let copy = table.try_clone().unwrap();
        assert_eq!(budget.used(), 2 * (1001 * SLOT_COST + 2 * FILE_COST));
        drop(copy);
        table.set_close_on_exec(1000, true).unwrap();
        table.close_on_exec_all();
        assert_eq!(budget.used(), SLOT_COST + FILE_COST);
        table.remove(0).unwrap();
        assert_eq!(budget.used(), 0);
        // Filling the budget by opening gives ENOMEM, not a full heap.
        let mut opened = 0;
        let refused = loop {
            match table.insert("f", false) {
                Ok(_) => opened += 1,
                Err(errno) => break errno,
            }
        };
        assert_eq!(refused, Errno::ENOMEM);
        assert_eq!(opened, (1 << 20) / (SLOT_COST + FILE_COST));
    }

    #[test]
    fn the_lock_owner_is_made_once_not_forked_and_handed_on() {
        use core::sync::atomic::{AtomicU64, Ordering};
        static RELEASED: AtomicU64 = AtomicU64::new(0);
        let release = |id| RELEASED.store(id, Ordering::SeqCst);
        let mut table: FdTable<&str> = FdTable::new();
        assert_eq!(table.lock_owner(), None);
        let id = table.lock_owner_or_insert_with(|| OwnerToken::new(release));
        assert_eq!(
            table.lock_owner_or_insert_with(|| OwnerToken::new(release)),
            id
        );
        assert_eq!(table.lock_owner(), Some(id));
        // A fork's copy owns nothing: no POSIX lock is inherited.
        assert_eq!(table.try_clone().unwrap().lock_owner(), None);
        // Exec's new table takes the owner over; the old one's end releases nothing.
        let mut next: FdTable<&str> = FdTable::new();
        next.set_lock_owner(table.take_lock_owner());
        drop(table);
        assert_eq!(RELEASED.load(Ordering::SeqCst), 0);
        assert_eq!(next.lock_owner(), Some(id));
        // The table's end releases its locks.
        drop(next);
        assert_eq!(RELEASED.load(Ordering::SeqCst), id);
    }

    #[test]
    fn exec_closes_only_close_on_exec_descriptors() {
        let mut table = FdTable::new();
        table.insert("keep", false).unwrap();
        table.insert("drop", true).unwrap();
        table.set_close_on_exec(0, false).unwrap();
        table.close_on_exec_all();
        assert_eq!(table.descriptors().collect::<Vec<_>>(), [0]);
    }
}
