//! Which pages of a shared file mapping are dirty, for files whose pages are written back
//! (a file with a page cache of its own, `Inode::page_cache`: 9p). Linux's write-notify
//! (`vma_wants_writenotify`, `page_mkwrite`, `page_mkclean`), done the same way:
//!
//! - a clean page is mapped without write access, even in a writable area
//!   ([`AddressSpace::resting_access`]: on fill, `fork`, `mremap`, `mprotect`);
//! - the first store faults; the fault marks the page dirty in the file's cache
//!   ([`AddressSpace::mark_dirty`]) and only then maps it writable. The kernel's own
//!   writes into user memory (`read` into a mapped buffer) take the same path;
//! - write-back takes the dirty pages (clean again from then on), write-protects them in
//!   every address space ([`AddressSpace::write_protect_file_pages`]), and only then
//!   copies them out: a store after the copy faults and marks the page again.
//!
//! Why not the page-table dirty bit: the kernel's own copies into a shared page go
//! through the direct map and never set it, and clearing it safely needs an atomic
//! test-and-clear on a live entry plus a TLB shootdown on every CPU, which `arch` does not
//! offer; the write-protect fault needs only `protect`, the same operation `fork`'s
//! copy-on-write relies on, and keeps the dirty state with the file, where write-back
//! and `munmap` find it without looking at page tables.
//!
//! Also here: the areas `msync` and `munmap` write back, and what an address space that
//! goes away leaves to write back.

use alloc::sync::Arc;
use alloc::vec::Vec;

use arch::paging::{UserAccess, UserPage};
use vfs_core::{Errno, Inode, PAGE_SIZE};

use super::address_space::{AddressSpace, FaultError, SharedMapping, user_access};
use super::vma::Protection;

const PAGE: u64 = PAGE_SIZE as u64;

/// Pages `first..=last` of `inode` to write back (or `fsync`).
pub struct FileRange {
    pub inode: Arc<dyn Inode>,
    pub first: u64,
    pub last: u64,
}

/// `msync`'s flags.
pub const MS_ASYNC: u64 = 1;
pub const MS_INVALIDATE: u64 = 2;
pub const MS_SYNC: u64 = 4;

impl AddressSpace {
    /// A store reaches the page at `page`, page `index` of `mapping`'s file, mapped from
    /// its cache: marks it dirty there. If the cache no longer holds the frame mapped
    /// (evicted under memory pressure, cut off by a truncate) the page is mapped afresh
    /// from the file first (`SIGBUS` if it is past the end now).
    pub(super) fn mark_dirty(
        &mut self,
        page: u64,
        rights: Protection,
        mapping: &SharedMapping,
        index: u64,
    ) -> Result<(), FaultError> {
        let cache = mapping.inode.page_cache().ok_or(FaultError::Bus)?;
        for _ in 0..2 {
            let Some(UserPage::File { frame, .. }) = self.table.page(page) else {
                return Ok(());
            };
            let address = Arc::as_ptr(&frame).cast::<()>();
            drop(frame);
            match cache.mark_dirty(index, address) {
                Some(marked) => {
                    // Private mappings made from now on must not get the file's older
                    // bytes from the kernel's copy-on-write page cache.
                    if marked.page_was_clean {
                        super::page_cache::forget(&mapping.inode);
                    }
                    if marked.file_was_clean {
                        super::writeback::note_dirty(&mapping.inode);
                    }
                    return Ok(());
                }
                None => {
                    drop(self.table.unmap(page));
                    self.sync_pages();
                    self.fill_shared(page, rights, mapping, index)?;
                }
            }
        }
        Err(FaultError::Bus)
    }

    /// Takes write access away from the pages of `inode` at the file page `indexes`
    /// (sorted) wherever this address space maps them shared: they are clean again, and
    /// the next store must fault to mark them.
    pub fn write_protect_file_pages(&mut self, inode: &Arc<dyn Inode>, indexes: &[u64]) {
        let areas: Vec<(u64, u64, u64, UserAccess)> = self
            .areas
            .iter()
            .filter(|area| area.protection.contains(Protection::WRITE))
            .filter_map(|area| {
                let mapping = area.backing.shared_mapping()?;
                (mapping.shared && Arc::ptr_eq(&mapping.inode, inode)).then_some((
                    area.start,
                    area.end,
                    mapping.offset,
                    user_access(area.protection) - UserAccess::WRITE,
                ))
            })
            .collect();
        for (start, end, offset, access) in areas {
            for page in self.table.pages_in(start, end) {
                let index = (offset + (page - start)) / PAGE;
                if indexes.binary_search(&index).is_ok() {
                    self.table.protect(page, access);
                }
            }
        }
    }

    /// The file pages that the mappings of `[start, end)` whose stores are written back
    /// map (what `munmap` of the range writes back).
    pub fn written_back_in(&self, start: u64, end: u64) -> Vec<FileRange> {
        self.areas
            .overlapping(start, end)
            .filter_map(|area| {
                let mapping = area.backing.shared_mapping()?;
                if !mapping.writes_back() {
                    return None;
                }
                let (from, to) = (start.max(area.start), end.min(area.end));
                (from < to).then(|| FileRange {
                    inode: mapping.inode.clone(),
                    first: (mapping.offset + (from - area.start)) / PAGE,
                    last: (mapping.offset + (to - area.start)) / PAGE - 1,
                })
            })
            .collect()
    }

    /// `msync(start, end - start, flags)`'s areas ([`super::vma::VmaSet::sync_walk`], in
    /// the order of Linux's `msync`): the shared file mappings to write back (all but for
    /// `MS_INVALIDATE` alone; Linux writes only for `MS_SYNC` and leaves `MS_ASYNC` to its
    /// flusher, which this kernel does not have), and the error the call ends with once
    /// they are written: `ENOMEM` when the range has holes (at the first one for
    /// `MS_ASYNC` alone, as Linux). `start` is page aligned and `end` past it, both
    /// checked by the caller.
    pub fn msync_ranges(
        &self,
        start: u64,
        end: u64,
        flags: u64,
    ) -> (Vec<FileRange>, Option<Errno>) {
        let walk = self.areas.sync_walk(start, end, flags == MS_ASYNC);
        let ranges = walk
            .pieces
            .iter()
            .filter(|_| flags != MS_INVALIDATE)
            .filter_map(|&(from, to)| {
                let area = self.areas.find(from)?;
                let mapping = area
                    .backing
                    .shared_mapping()
                    .filter(|mapping| mapping.shared)?;
                Some(FileRange {
                    inode: mapping.inode.clone(),
                    first: (mapping.offset + (from - area.start)) / PAGE,
                    last: (mapping.offset + (to - area.start)) / PAGE - 1,
                })
            })
            .collect();
        (ranges, walk.hole.then_some(Errno::ENOMEM))
    }
}

/// An address space that goes (exit, exec) may leave dirty pages of files it mapped: they
/// are written back at the next safe point ([`super::writeback::write_back_pending`]),
/// as `munmap` would have.
impl Drop for AddressSpace {
    fn drop(&mut self) {
        let leaves_dirty = self.areas.iter().any(|area| {
            area.backing.shared_mapping().is_some_and(|mapping| {
                mapping.writes_back()
                    && mapping
                        .inode
                        .page_cache()
                        .is_some_and(vfs_core::page_cache::PageCache::has_dirty)
            })
        });
        if leaves_dirty {
            super::writeback::schedule();
        }
    }
}
