//! `mremap`: an area shrunk, grown in place, or moved with its pages, in the order of
//! Linux's `mm/mremap.c` so that each case meets the same errno. The syscall layer checks
//! the flags and aligns the lengths; this takes it from there, on an [`AddressSpace`].
//!
//! A move carries the pages over as they are (their page-table entries change address;
//! no data is copied): a private page stays copy-on-write with whoever shares it, a shared
//! mapping's page stays the file's. With `MREMAP_DONTUNMAP` the old area stays, empty:
//! anonymous memory reads zeros there again, a file's mapping refills from the file.

use vfs_core::{Errno, PAGE_SIZE};

use super::address_space::{AddressSpace, MMAP_BOTTOM, MMAP_TOP, PageSource, user_access};
use super::vma::{AreaFlags, Backing, MAX_MAP_COUNT, Protection, TASK_SIZE};

const PAGE: u64 = PAGE_SIZE as u64;

/// `mremap`'s flags, checked for consistency by the caller (`MREMAP_FIXED` and
/// `MREMAP_DONTUNMAP` imply `MREMAP_MAYMOVE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemapFlags {
    pub may_move: bool,
    pub fixed: bool,
    pub dont_unmap: bool,
}

/// What `mremap` needs of the area the old range lies in.
struct Source {
    start: u64,
    end: u64,
    protection: Protection,
    flags: AreaFlags,
    backing: PageSource,
}

impl AddressSpace {
    /// `mremap(old, old_len, new_len, flags, new_addr)` with `old` page aligned and both
    /// lengths page multiples (`new_len` not 0; `old_len` 0 asks for a second mapping of
    /// a shared area). Returns the new address.
    pub fn remap(
        &mut self,
        old: u64,
        old_len: u64,
        new_len: u64,
        flags: RemapFlags,
        new_addr: u64,
    ) -> Result<u64, Errno> {
        if flags.fixed || flags.dont_unmap {
            return self.remap_to(old, old_len, new_len, flags, new_addr);
        }
        // Shrinking always works, mapped or not: it is an munmap of the tail.
        if old_len >= new_len {
            if old_len > new_len {
                let tail = old.checked_add(new_len).ok_or(Errno::EINVAL)?;
                self.unmap(tail, old_len - new_len)?;
            }
            return Ok(old);
        }
        let source = self.resize_source(old, old_len, new_len)?;
        // Reaching the end of its area, it may grow into free space behind it.
        if old + old_len == source.end
            && let Some(new_end) = old.checked_add(new_len).filter(|&end| end <= TASK_SIZE)
            && !self.areas.overlaps(source.end, new_end)
        {
            let backing = source.backing.advanced_by(source.end - source.start);
            self.change_areas(|this| {
                this.areas.map_area(
                    source.end,
                    new_end - source.end,
                    source.protection,
                    source.flags,
                    backing,
                )?;
                Ok(())
            })?;
            return Ok(old);
        }
        if !flags.may_move {
            return Err(Errno::ENOMEM);
        }
        let destination = self.free_range(0, new_len)?;
        self.move_range(old, old_len, destination, new_len, &source, false)
    }

    /// Linux's `mremap_to`: `MREMAP_FIXED` (to exactly `new_addr`, replacing what is
    /// there) or `MREMAP_DONTUNMAP` (`new_addr` a hint), always a move.
    fn remap_to(
        &mut self,
        old: u64,
        mut old_len: u64,
        new_len: u64,
        flags: RemapFlags,
        new_addr: u64,
    ) -> Result<u64, Errno> {
        if !new_addr.is_multiple_of(PAGE) || new_len > TASK_SIZE || new_addr > TASK_SIZE - new_len {
            return Err(Errno::EINVAL);
        }
        // The two ranges may not overlap.
        if old.saturating_add(old_len) > new_addr && new_addr + new_len > old {
            return Err(Errno::EINVAL);
        }
        // A move may split two areas and add one: refused early near the cap.
        if self.areas.len() + 2 >= MAX_MAP_COUNT - 3 {
            return Err(Errno::ENOMEM);
        }
        if flags.fixed {
            self.unmap(new_addr, new_len)?;
        }
        if old_len > new_len {
            let tail = old.checked_add(new_len).ok_or(Errno::EINVAL)?;
            self.unmap(tail, old_len - new_len)?;
            old_len = new_len;
        }
        let source = self.resize_source(old, old_len, new_len)?;
        let destination = if flags.fixed {
            new_addr
        } else {
            self.free_range(new_addr, new_len)?
        };
        self.move_range(
            old,
            old_len,
            destination,
            new_len,
            &source,
            flags.dont_unmap,
        )
    }

    /// Linux's `vma_to_resize`: the area holding `old`, which must hold the whole old
    /// range (`EFAULT` otherwise); a second mapping (`old_len` 0) only of a shared one.
    fn resize_source(&self, old: u64, old_len: u64, new_len: u64) -> Result<Source, Errno> {
        let area = self.areas.find(old).ok_or(Errno::EFAULT)?;
        if old_len > area.end - old {
            return Err(Errno::EFAULT);
        }
        if old_len == 0 && !area.backing.is_shared() {
            return Err(Errno::EINVAL);
        }
        // The file offset the grown area would reach must not wrap.
        if let Some(mapping) = area.backing.shared_mapping()
            && (mapping.offset + (old - area.start))
                .checked_add(new_len)
                .is_none()
        {
            return Err(Errno::EINVAL);
        }
        Ok(Source {
            start: area.start,
            end: area.end,
            protection: area.protection,
            flags: area.flags,
            backing: area.backing.clone(),
        })
    }

    /// A free range of `len` bytes: at `hint` if that is free, else the highest below
    /// [`MMAP_TOP`] (`get_unmapped_area`).
    fn free_range(&self, hint: u64, len: u64) -> Result<u64, Errno> {
        let hint_free = hint >= MMAP_BOTTOM
            && hint
                .checked_add(len)
                .is_some_and(|end| end <= TASK_SIZE && !self.areas.overlaps(hint, end));
        if hint_free {
            return Ok(hint);
        }
        Ok(self
            .areas
            .find_free(len, MMAP_BOTTOM.max(self.brk), MMAP_TOP)?)
    }

    /// Linux's `move_vma`: a new area of `new_len` at `destination` continuing the old
    /// range's backing, the old range's pages moved into it, then the old range unmapped
    /// (or, with `keep_old`, left mapped and empty).
    fn move_range(
        &mut self,
        old: u64,
        old_len: u64,
        destination: u64,
        new_len: u64,
        source: &Source,
        keep_old: bool,
    ) -> Result<u64, Errno> {
        let backing = source.backing.advanced_by(old - source.start);
        let protection = source.protection;
        self.change_areas(|this| {
            this.drop_pages(destination, destination + new_len);
            this.areas
                .map_area(destination, new_len, protection, source.flags, backing)?;
            let access = user_access(protection);
            for page in this.table.pages_in(old, old + old_len) {
                let Some(held) = this.table.unmap(page) else {
                    continue;
                };
                let target = destination + (page - old);
                this.table
                    .map_page(target, held, access)
                    .map_err(|_| Errno::ENOMEM)?;
                if protection.is_empty() {
                    this.table.hide(target);
                }
            }
            if !keep_old && old_len > 0 {
                this.areas.unmap(old, old_len)?;
            }
            Ok(destination)
        })
    }
}
