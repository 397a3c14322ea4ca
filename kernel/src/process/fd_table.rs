//! A process's file descriptor table: small integers to open files, each with its own
//! close-on-exec flag. Generic over the file type so it is host-tested without a kernel.
//!
//! Linux rules kept: a new descriptor is the lowest free one; `RLIMIT_NOFILE` bounds them
//! (`EMFILE`, or `EBADF`/`EINVAL` for an explicit target past it, as dup2/fcntl do);
//! `dup2(fd, fd)` checks `fd` and does nothing; `dup3(fd, fd)` is `EINVAL`.

use alloc::vec::Vec;

use vfs_core::Errno;

/// Linux's default soft `RLIMIT_NOFILE`.
pub const DEFAULT_MAX_FILES: usize = 1024;

#[derive(Clone)]
struct Entry<F> {
    file: F,
    close_on_exec: bool,
}

#[derive(Clone)]
pub struct FdTable<F> {
    entries: Vec<Option<Entry<F>>>,
    limit: usize,
}

impl<F: Clone> Default for FdTable<F> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            limit: DEFAULT_MAX_FILES,
        }
    }
}

impl<F: Clone> FdTable<F> {
    pub fn new() -> Self {
        Self::default()
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
        self.place(free, file, close_on_exec);
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

    fn place(&mut self, index: usize, file: F, close_on_exec: bool) {
        if self.entries.len() <= index {
            self.entries.resize_with(index + 1, || None);
        }
        self.entries[index] = Some(Entry {
            file,
            close_on_exec,
        });
    }

    /// `close`: the file that was there (dropping it may close the description).
    pub fn remove(&mut self, fd: i32) -> Result<F, Errno> {
        let index = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        let entry = self
            .entries
            .get_mut(index)
            .and_then(Option::take)
            .ok_or(Errno::EBADF)?;
        while self.entries.last().is_some_and(Option::is_none) {
            self.entries.pop();
        }
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
        self.place(index, file, close_on_exec);
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
        for slot in &mut self.entries {
            if slot.as_ref().is_some_and(|entry| entry.close_on_exec) {
                *slot = None;
            }
        }
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
    fn exec_closes_only_close_on_exec_descriptors() {
        let mut table = FdTable::new();
        table.insert("keep", false).unwrap();
        table.insert("drop", true).unwrap();
        table.set_close_on_exec(0, false).unwrap();
        table.close_on_exec_all();
        assert_eq!(table.descriptors().collect::<Vec<_>>(), [0]);
    }
}
