//! ramfs, bottom: the sparse page store behind a regular file's data.
//!
//! Pages exist only where something was written, so holes cost nothing and read as
//! zeros, and `st_blocks` counts exactly the pages present, as Linux's tmpfs does. Each
//! page is charged to the memory budget before it is taken from the budget's page source,
//! and given back when the file shrinks or goes.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::collections::btree_map::Entry;

use crate::budget::{Charge, FilePage};

pub use crate::PAGE_SIZE;
const PAGE: u64 = PAGE_SIZE as u64;

/// What one page of file data costs the budget: the page and its place in the page map.
pub const PAGE_COST: u64 = PAGE + 64;

/// A file's bytes: its size and the pages that hold data.
pub struct Pages {
    pub size: u64,
    pages: BTreeMap<u64, Box<dyn FilePage>>,
    /// `PAGE_COST` for each page held.
    charge: Charge,
}

impl Pages {
    /// An empty file whose pages will be charged to `charge`'s budget.
    pub fn new(charge: Charge) -> Pages {
        Pages {
            size: 0,
            pages: BTreeMap::new(),
            charge,
        }
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
                Some(page) => {
                    buf[done..done + n].copy_from_slice(&page.bytes()[in_page..in_page + n])
                }
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
            page.bytes_mut()[in_page..in_page + n].copy_from_slice(&buf[done..done + n]);
            done += n;
        }
        if done > 0 {
            self.size = self.size.max(offset + done as u64);
        }
        (done, added)
    }

    /// Sets the size; returns how many pages were freed. Shrinking zeroes the tail of the
    /// last partial page so that growing again later reads zeros there.
    pub fn truncate(&mut self, size: u64) -> u64 {
        let before = self.page_count();
        if size < self.size {
            let first_gone = size.div_ceil(PAGE);
            let _ = self.pages.split_off(&first_gone);
            let tail = (size % PAGE) as usize;
            if tail != 0
                && let Some(page) = self.pages.get_mut(&(size / PAGE))
            {
                page.bytes_mut()[tail..].fill(0);
            }
        }
        self.size = size;
        let freed = before - self.page_count();
        self.charge.shrink(freed * PAGE_COST);
        freed
    }

    /// First byte at or after `offset` inside an allocated page (`SEEK_DATA`).
    pub fn next_data(&self, offset: u64) -> Option<u64> {
        if offset >= self.size {
            return None;
        }
        let (&index, _) = self.pages.range(offset / PAGE..).next()?;
        let start = (index * PAGE).max(offset);
        (start < self.size).then_some(start)
    }

    /// First byte at or after `offset` not inside an allocated page, or the size (`SEEK_HOLE`).
    pub fn next_hole(&self, offset: u64) -> u64 {
        let mut index = offset / PAGE;
        while self.pages.contains_key(&index) {
            index += 1;
        }
        (index * PAGE).max(offset).min(self.size)
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
