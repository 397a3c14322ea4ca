//! `mincore`'s answer for an address space: which pages of a range are resident, as
//! Linux's `mincore_pte_range` sees them. A page this address space holds is resident;
//! one it does not hold is resident if its file has it in memory anyway (a tmpfs file's
//! page, a 9p file's cached page, a page of the kernel's copy-on-write page cache), as
//! Linux reports the page cache for a file mapping; anonymous memory never touched is
//! not.

use alloc::vec::Vec;

use vfs_core::PAGE_SIZE;

use super::address_space::{AddressSpace, PageSource};

const PAGE: u64 = PAGE_SIZE as u64;

impl AddressSpace {
    /// Appends to `out` one byte per page from `start` (page aligned), `count` pages at
    /// most: 1 for a resident page, 0 otherwise. Stops at the first page no area holds
    /// and returns false there (`ENOMEM` for the caller, after reporting what came
    /// before it); true when all `count` were answered.
    pub fn residency(&self, start: u64, count: usize, out: &mut Vec<u8>) -> bool {
        let mut page = start;
        let mut left = count;
        while left > 0 {
            let Some(area) = self.areas.find(page) else {
                return false;
            };
            let run_end = area.end.min(page.saturating_add(left as u64 * PAGE));
            // The pages held, in one walk of the table rather than a lookup per page.
            let held = self.table.pages_in(page, run_end);
            let mut held = held.iter().peekable();
            while page < run_end {
                let resident = held.next_if(|&&at| at == page).is_some() || {
                    let into = page - area.start;
                    match &area.backing {
                        PageSource::Anonymous => false,
                        PageSource::File {
                            inode,
                            offset,
                            file_bytes,
                            ..
                        } => {
                            let position = offset + into;
                            position.is_multiple_of(PAGE)
                                && into + PAGE <= *file_bytes
                                && super::page_cache::lookup(inode, position / PAGE).is_some()
                        }
                        PageSource::Shared(mapping) => mapping
                            .inode
                            .mapped_page((mapping.offset + into) / PAGE, false)
                            .is_ok_and(|page| page.is_some()),
                    }
                };
                out.push(u8::from(resident));
                page += PAGE;
                left -= 1;
            }
        }
        true
    }
}
