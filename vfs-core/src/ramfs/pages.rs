//! ramfs, bottom: the sparse page store behind a regular file's data.
//!
//! Pages exist only where something was written (or a shared mapping touched), so holes
//! cost nothing and read as zeros, and `st_blocks` counts exactly the pages present, as
//! Linux's tmpfs does. Each page is charged to the memory budget before it is taken from
//! the budget's page source, and given back when the file shrinks or goes. The pages are
//! shared (`Arc`): a mapping of the file maps them (see [`crate::mapping`]), so a page
//! cut off by a truncate lives on in the mappings that still hold it until the kernel
//! unmaps it there.
//!
//! `fallocate` adds pages too (Linux's `shmem_fallocate`): zeroed, charged like the rest,
//! and *unwritten* until a write or a mapping touches them, so `SEEK_DATA`/`SEEK_HOLE` pass
//! over them as Linux's shmem passes over a fallocated folio that is not up to date.
//!
//! The file's seals and its count of writable shared mappings live here too: both are
//! about the data.

use alloc::collections::btree_map::Entry;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::sync::Arc;
use core::sync::atomic::AtomicU64;

use crate::budget::{Charge, FilePage};
use crate::errno::Errno;
use crate::mapping::{MappingWriter, seal};

pub use crate::PAGE_SIZE;
const PAGE: u64 = PAGE_SIZE as u64;

/// What one page of file data costs the budget: the page, its shared handle (the `Arc`'s
/// counts, and a heap page's lock or a frame's record) and its place in the page map.
pub const PAGE_COST: u64 = PAGE + 96;

/// A file's bytes: its size and the pages that hold data.
pub struct Pages {
    pub size: u64,
    pages: BTreeMap<u64, Arc<dyn FilePage>>,
    /// Pages `fallocate` added that nothing has written or mapped yet: held (and counted
    /// in `st_blocks`) but holes to `SEEK_DATA`. Their entries ride on `PAGE_COST`.
    unwritten: BTreeSet<u64>,
    /// `PAGE_COST` for each page held.
    charge: Charge,
    /// `F_SEAL_*`: a tmpfs file starts sealed against seals (`F_SEAL_SEAL`), as Linux's
    /// shmem files do; `memfd_create(MFD_ALLOW_SEALING)` clears that.
    pub seals: u32,
    /// Live shared mappings that may write the file, made on the first one.
    writers: Option<Arc<AtomicU64>>,
}

impl Pages {
    /// An empty file whose pages will be charged to `charge`'s budget.
    pub fn new(charge: Charge) -> Pages {
        Pages {
            size: 0,
            pages: BTreeMap::new(),
            unwritten: BTreeSet::new(),
            charge,
            seals: seal::SEAL,
            writers: None,
        }
    }

    /// The page at `index`, if one holds data.
    pub fn page(&self, index: u64) -> Option<Arc<dyn FilePage>> {
        self.pages.get(&index).cloned()
    }

    /// A mapping maps page `index`: what it shows is data from now on (Linux's shmem
    /// marks a fallocated folio up to date when it is faulted in).
    pub fn mark_written(&mut self, index: u64) {
        self.unwritten.remove(&index);
    }

    /// Whether page `index` starts before the end of the file.
    pub fn holds_index(&self, index: u64) -> bool {
        index < self.size.div_ceil(PAGE)
    }

    /// A zeroed page at `index` (which must be missing), charged first: `ENOMEM` when
    /// the budget or the page source refuses.
    pub fn add_zeroed(&mut self, index: u64) -> Result<Arc<dyn FilePage>, Errno> {
        self.charge.grow(PAGE_COST).map_err(|_| Errno::ENOMEM)?;
        let Some(page) = self.charge.budget().allocate_page() else {
            self.charge.shrink(PAGE_COST);
            return Err(Errno::ENOMEM);
        };
        self.pages.insert(index, page.clone());
        Ok(page)
    }

    /// Counts a new shared mapping that may write; `EPERM` when sealed against writes.
    pub fn writable_mapping(&mut self) -> Result<MappingWriter, Errno> {
        if self.seals & seal::ANY_WRITE != 0 {
            return Err(Errno::EPERM);
        }
        Ok(MappingWriter::new(
            self.writers.get_or_insert_with(Default::default),
        ))
    }

    /// `F_ADD_SEALS` as Linux's `memfd_add_seals` orders its checks, `perm` being the
    /// file's permission bits (`F_SEAL_EXEC` on an executable file implies the write
    /// seals, checked against writable mappings like `F_SEAL_WRITE` itself).
    pub fn add_seals(&mut self, mut seals: u32, perm: u32) -> Result<(), Errno> {
        if seals & !seal::ALL != 0 {
            return Err(Errno::EINVAL);
        }
        if self.seals & seal::SEAL != 0 {
            return Err(Errno::EPERM);
        }
        if seals & seal::EXEC != 0 && perm & 0o111 != 0 {
            seals |= seal::SHRINK | seal::GROW | seal::WRITE | seal::FUTURE_WRITE;
        }
        let writers = self
            .writers
            .as_deref()
            .map_or(0, crate::mapping::live_writers);
        if seals & seal::WRITE != 0 && self.seals & seal::WRITE == 0 && writers > 0 {
            return Err(Errno::EBUSY);
        }
        self.seals |= seals;
        Ok(())
    }

    /// Whether a write of `len` bytes at `offset` is allowed by the seals (`EPERM`).
    pub fn check_write_seals(&self, offset: u64, len: u64) -> Result<(), Errno> {
        let grows = offset.saturating_add(len) > self.size;
        if self.seals & seal::ANY_WRITE != 0 || (self.seals & seal::GROW != 0 && grows) {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// Whether a change of size to `size` is allowed by the seals (`EPERM`).
    pub fn check_resize_seals(&self, size: u64) -> Result<(), Errno> {
        if (size < self.size && self.seals & seal::SHRINK != 0)
            || (size > self.size && self.seals & seal::GROW != 0)
        {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// Frees the data of `[start, end)`: whole pages go, the parts of pages at either
    /// edge are zeroed; the size stays. Pages past the end (`fallocate` with
    /// `FALLOC_FL_KEEP_SIZE`) go too, as Linux's `shmem_truncate_range` takes them.
    /// Returns how many pages were freed.
    pub fn punch(&mut self, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        let first_whole = start.div_ceil(PAGE);
        let past_whole = end / PAGE;
        for (edge_start, edge_end) in [
            (start, end.min(first_whole * PAGE)),
            ((past_whole * PAGE).max(start), end),
        ] {
            if edge_start < edge_end
                && let Some(page) = self.pages.get(&(edge_start / PAGE))
            {
                let in_page = (edge_start % PAGE) as usize;
                page.zero(in_page, (edge_end - edge_start) as usize);
            }
        }
        let before = self.page_count();
        if first_whole < past_whole {
            let mut tail = self.pages.split_off(&first_whole);
            let mut after = tail.split_off(&past_whole);
            self.pages.append(&mut after);
            let mut tail = self.unwritten.split_off(&first_whole);
            let mut after = tail.split_off(&past_whole);
            self.unwritten.append(&mut after);
        }
        let freed = before - self.page_count();
        self.charge.shrink(freed * PAGE_COST);
        freed
    }

    pub fn page_count(&self) -> u64 {
        self.pages.len() as u64
    }

    pub fn read(&self, offset: u64, buf: &mut [u8]) -> usize {
        if offset >= self.size {
            return 0;
        }
        let len = buf.len().min((self.size - offset) as usize);
        let mut done = 0;
        while done < len {
            let pos = offset + done as u64;
            let in_page = (pos % PAGE) as usize;
            let n = (PAGE_SIZE - in_page).min(len - done);
            match self.pages.get(&(pos / PAGE)) {
                Some(page) => page.read(in_page, &mut buf[done..done + n]),
                None => buf[done..done + n].fill(0),
            }
            done += n;
        }
        len
    }

    /// Pages a write of `len` bytes at `offset` would add.
    pub fn pages_needed(&self, offset: u64, len: usize) -> u64 {
        if len == 0 {
            return 0;
        }
        let first = offset / PAGE;
        let last = (offset + len as u64 - 1) / PAGE;
        (first..=last)
            .filter(|index| !self.pages.contains_key(index))
            .count() as u64
    }

    /// Writes `buf` at `offset`, adding at most `page_limit` new pages (the filesystem's
    /// own limit), each charged to the budget first; returns the bytes written and the
    /// pages added. The write stops short at the first page the limit, the budget or the
    /// page source does not cover.
    pub fn write(&mut self, offset: u64, buf: &[u8], mut page_limit: u64) -> (usize, u64) {
        let mut done = 0;
        let mut added = 0;
        while done < buf.len() {
            let pos = offset + done as u64;
            let index = pos / PAGE;
            let in_page = (pos % PAGE) as usize;
            let n = (PAGE_SIZE - in_page).min(buf.len() - done);
            let page = match self.pages.entry(index) {
                Entry::Occupied(page) => page.into_mut(),
                Entry::Vacant(_) if page_limit == 0 => break,
                Entry::Vacant(slot) => {
                    if self.charge.grow(PAGE_COST).is_err() {
                        break;
                    }
                    let Some(page) = self.charge.budget().allocate_page() else {
                        self.charge.shrink(PAGE_COST);
                        break;
                    };
                    page_limit -= 1;
                    added += 1;
                    slot.insert(page)
                }
            };
            page.write(in_page, &buf[done..done + n]);
            self.unwritten.remove(&index);
            done += n;
        }
        if done > 0 {
            self.size = self.size.max(offset + done as u64);
        }
        (done, added)
    }

    /// Sets the size; returns how many pages were freed. Shrinking zeroes the tail of the
    /// last partial page so that growing again later reads zeros there. Any size not
    /// above the old one also drops pages past it that `FALLOC_FL_KEEP_SIZE` added (as
    /// Linux's `shmem_setattr`); growing keeps them.
    pub fn truncate(&mut self, size: u64) -> u64 {
        let before = self.page_count();
        if size <= self.size {
            let first_gone = size.div_ceil(PAGE);
            let _ = self.pages.split_off(&first_gone);
            let _ = self.unwritten.split_off(&first_gone);
            let tail = (size % PAGE) as usize;
            if tail != 0
                && let Some(page) = self.pages.get(&(size / PAGE))
            {
                page.zero(tail, PAGE_SIZE - tail);
            }
        }
        self.size = size;
        let freed = before - self.page_count();
        self.charge.shrink(freed * PAGE_COST);
        freed
    }

    /// First byte at or after `offset` inside a page holding data (`SEEK_DATA`): pages
    /// never written, fallocated ones included, are holes.
    pub fn next_data(&self, offset: u64) -> Option<u64> {
        if offset >= self.size {
            return None;
        }
        let index = self
            .pages
            .range(offset / PAGE..)
            .map(|(&index, _)| index)
            .find(|index| !self.unwritten.contains(index))?;
        let start = (index * PAGE).max(offset);
        (start < self.size).then_some(start)
    }

    /// First byte at or after `offset` not inside a page holding data, or the size
    /// (`SEEK_HOLE`).
    pub fn next_hole(&self, offset: u64) -> u64 {
        let mut index = offset / PAGE;
        while self.pages.contains_key(&index) && !self.unwritten.contains(&index) {
            index += 1;
        }
        (index * PAGE).max(offset).min(self.size)
    }

    /// How many of pages `first..past` are not held.
    pub fn missing(&self, first: u64, past: u64) -> u64 {
        (past - first) - self.pages.range(first..past).count() as u64
    }

    /// `fallocate` of pages `first..past`, as Linux's `shmem_fallocate`: each missing page
    /// is charged, taken from the page source and kept as unwritten; a page an earlier
    /// `fallocate` left unwritten becomes data as this one passes it (Linux initialises it,
    /// lest a failure here undo the earlier call's promise). When a page cannot be had
    /// (`ENOSPC` past the budget, `ENOMEM` when the page source is dry) the pages this call
    /// added go again and nothing else changed. Returns the pages added. The filesystem's
    /// own page limit is the caller's to reserve, for [`Pages::missing`] pages.
    pub fn allocate(&mut self, first: u64, past: u64) -> Result<u64, Errno> {
        let missing = self.missing(first, past);
        let cost = missing.checked_mul(PAGE_COST).ok_or(Errno::ENOSPC)?;
        self.charge.grow(cost).map_err(|_| Errno::ENOSPC)?;
        for index in first..past {
            if self.pages.contains_key(&index) {
                self.unwritten.remove(&index);
                continue;
            }
            let Some(page) = self.charge.budget().allocate_page() else {
                // The unwritten pages below `index` are exactly this call's: the earlier
                // ones were made data on the way.
                let added: alloc::vec::Vec<u64> =
                    self.unwritten.range(first..index).copied().collect();
                for index in added {
                    self.unwritten.remove(&index);
                    self.pages.remove(&index);
                }
                self.charge.shrink(cost);
                return Err(Errno::ENOMEM);
            };
            self.pages.insert(index, page);
            self.unwritten.insert(index);
        }
        Ok(missing)
    }

    pub fn clear(&mut self) -> u64 {
        self.truncate(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::MemoryBudget;

    fn unlimited() -> Pages {
        Pages::new(MemoryBudget::unlimited().empty_charge())
    }

    #[test]
    fn holes_read_as_zeros_and_allocate_nothing() {
        let mut pages = unlimited();
        assert_eq!(pages.write(3 * PAGE + 10, b"abc", u64::MAX), (3, 1));
        assert_eq!(pages.size, 3 * PAGE + 13);
        assert_eq!(pages.page_count(), 1);
        let mut buf = [1u8; 20];
        assert_eq!(pages.read(3 * PAGE, &mut buf), 13);
        assert_eq!(&buf[..13], b"\0\0\0\0\0\0\0\0\0\0abc");
        let mut hole = [1u8; 100];
        assert_eq!(pages.read(PAGE, &mut hole), 100);
        assert!(hole.iter().all(|&b| b == 0));
    }

    #[test]
    fn write_stops_at_page_limit() {
        let mut pages = unlimited();
        assert_eq!(
            pages.write(100, &[7u8; 3 * PAGE_SIZE], 2),
            (2 * PAGE_SIZE - 100, 2)
        );
        assert_eq!(pages.page_count(), 2);
        // A write that gets no page at all leaves the size alone (tmpfs ENOSPC).
        assert_eq!(pages.write(10 * PAGE, b"x", 0), (0, 0));
        assert_eq!(pages.size, 2 * PAGE);
    }

    #[test]
    fn pages_are_charged_and_given_back() {
        let budget = MemoryBudget::new(2 * PAGE_COST + 10);
        let mut pages = Pages::new(budget.empty_charge());
        assert_eq!(
            pages.write(0, &[1u8; 3 * PAGE_SIZE], u64::MAX),
            (2 * PAGE_SIZE, 2),
            "the budget covers two pages"
        );
        assert_eq!(budget.used(), 2 * PAGE_COST);
        // Rewriting a page already held costs nothing.
        assert_eq!(pages.write(10, b"again", u64::MAX), (5, 0));
        assert_eq!(pages.truncate(PAGE + 1), 0);
        assert_eq!(pages.truncate(PAGE), 1);
        assert_eq!(budget.used(), PAGE_COST);
        drop(pages);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn fallocated_pages_are_held_but_read_as_holes_until_written() {
        let budget = MemoryBudget::new(4 * PAGE_COST);
        let mut pages = Pages::new(budget.empty_charge());
        pages.size = 3 * PAGE;
        assert_eq!(pages.allocate(0, 3), Ok(3));
        assert_eq!(pages.page_count(), 3);
        assert_eq!(budget.used(), 3 * PAGE_COST);
        assert_eq!(pages.next_data(0), None);
        assert_eq!(pages.next_hole(0), 0);
        pages.write(PAGE + 1, b"x", u64::MAX);
        assert_eq!(pages.next_data(0), Some(PAGE));
        assert_eq!(pages.next_hole(PAGE), 2 * PAGE);
        // A second fallocate over them makes the earlier ones data.
        assert_eq!(pages.allocate(0, 1), Ok(0));
        assert_eq!(pages.next_data(0), Some(0));
        // Past the budget: nothing this call added stays, the charge comes back.
        pages.size = 10 * PAGE;
        assert_eq!(pages.allocate(3, 10), Err(Errno::ENOSPC));
        assert_eq!(pages.page_count(), 3);
        assert_eq!(budget.used(), 3 * PAGE_COST);
        assert_eq!(pages.missing(0, 10), 7);
        // Punching and truncating forget the unwritten marks with the pages.
        assert_eq!(pages.allocate(3, 4), Ok(1));
        assert_eq!(pages.punch(3 * PAGE, 4 * PAGE), 1);
        assert_eq!(pages.next_hole(3 * PAGE), 3 * PAGE);
        pages.clear();
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn truncate_zeroes_the_cut_tail() {
        let mut pages = unlimited();
        pages.write(0, &[9u8; 100], u64::MAX);
        assert_eq!(pages.truncate(10), 0);
        pages.truncate(100);
        let mut buf = [1u8; 100];
        pages.read(0, &mut buf);
        assert!(buf[..10].iter().all(|&b| b == 9));
        assert!(buf[10..].iter().all(|&b| b == 0));
        assert_eq!(pages.truncate(0), 1);
    }
}
