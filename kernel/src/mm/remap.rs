//! `mremap`: an area shrunk, grown in place, or moved with its pages, in the order of
//! Linux's `mm/mremap.c` (as rewritten in 6.16: the area at the old address is looked up
//! first, so even a shrink of nothing mapped is `EFAULT`) so that each case meets the
//! same errno. The syscall layer checks
//! the flags and aligns the lengths; this takes it from there, on an [`AddressSpace`].
//!
//! A move carries the pages over as they are (their page-table entries change address;
//! no data is copied): a private page stays copy-on-write with whoever shares it, a shared
//! mapping's page stays the file's (read-only for a file whose pages write back, so the
//! next store marks it dirty). With `MREMAP_DONTUNMAP` the old area stays, empty:
//! anonymous memory reads zeros there again, a file's mapping refills from the file.

use vfs_core::Errno;

use super::address_space::{AddressSpace, MMAP_BOTTOM, MMAP_TOP, PageSource, user_access};
use super::vma::{AreaFlags, Backing, MAX_MAP_COUNT, Protection, TASK_SIZE, Vma};
use arch::paging::UserAccess;

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

impl Source {
    fn of(area: &Vma<PageSource>) -> Source {
        Source {
            start: area.start,
            end: area.end,
            protection: area.protection,
            flags: area.flags,
            backing: area.backing.clone(),
        }
    }
}

impl AddressSpace {
    /// `mremap(old, old_len, new_len, flags, new_addr)` after the syscall's checks of its
    /// arguments alone (Linux's `check_mremap_params`: flags, alignment, the new range's
    /// bounds, and for a move to `new_addr` its alignment and that it misses the old
    /// range): `old` page aligned, both lengths page multiples (`new_len` not 0; `old_len`
    /// 0 asks for a second mapping of a shared area). Returns the new address.
    pub fn remap(
        &mut self,
        old: u64,
        old_len: u64,
        new_len: u64,
        flags: RemapFlags,
        new_addr: u64,
    ) -> Result<u64, Errno> {
        let to_new_address = flags.fixed || flags.dont_unmap;
        // A move may split two areas and add one: refused early near the cap, before
        // anything is unmapped.
        if to_new_address && self.areas.len() + 2 >= MAX_MAP_COUNT - 3 {
            return Err(Errno::ENOMEM);
        }
        let area = self.areas.find(old).ok_or(Errno::EFAULT)?;
        if new_len > old_len || to_new_address {
            Self::check_resize(area, old, old_len, new_len)?;
        }
        if to_new_address {
            return self.remap_to(old, old_len, new_len, flags, new_addr);
        }
        if new_len == old_len {
            return Ok(old);
        }
        // Shrinking is an munmap of the tail, wherever the tail lies.
        if new_len < old_len {
            self.unmap(old + new_len, old_len - new_len)?;
            return Ok(old);
        }
        let source = Source::of(area);
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
    /// there) or `MREMAP_DONTUNMAP` (`new_addr` a hint), always a move; a shrink first
    /// unmaps the old range's tail.
    fn remap_to(
        &mut self,
        old: u64,
        mut old_len: u64,
        new_len: u64,
        flags: RemapFlags,
        new_addr: u64,
    ) -> Result<u64, Errno> {
        if flags.fixed {
            self.unmap(new_addr, new_len)?;
            self.areas.find(old).ok_or(Errno::EFAULT)?;
        }
        if old_len > new_len {
            self.unmap(old + new_len, old_len - new_len)?;
            old_len = new_len;
        }
        let source = Source::of(self.areas.find(old).ok_or(Errno::EFAULT)?);
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

    /// Linux's `remap_is_valid`, for a range that grows or moves: the area holding `old`
    /// must hold the whole old range (of a shrink, what stays: `EFAULT` otherwise); a
    /// second mapping (`old_len` 0) only of a shared area; the file offset it would
    /// reach must not wrap.
    fn check_resize(
        area: &Vma<PageSource>,
        old: u64,
        old_len: u64,
        new_len: u64,
    ) -> Result<(), Errno> {
        if old_len == 0 && !area.backing.is_shared() {
            return Err(Errno::EINVAL);
        }
        // A shrink may cross areas in the part it unmaps: only what stays must fit.
        let checked = old_len.min(new_len);
        if checked > area.end - old {
            return Err(Errno::EFAULT);
        }
        if new_len != checked
            && let Some(mapping) = area.backing.shared_mapping()
            && (mapping.offset + (old - area.start))
                .checked_add(new_len)
                .is_none()
        {
            return Err(Errno::EINVAL);
        }
        Ok(())
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
        // Unmapping the old range may split an area in three.
        if self.areas.len() >= MAX_MAP_COUNT - 3 {
            return Err(Errno::ENOMEM);
        }
        let backing = source.backing.advanced_by(old - source.start);
        let backing_writes_back = backing
            .shared_mapping()
            .is_some_and(super::address_space::SharedMapping::writes_back);
        let protection = source.protection;
        self.change_areas(|this| {
            this.drop_pages(destination, destination + new_len);
            this.areas
                .map_area(destination, new_len, protection, source.flags, backing)?;
            // A page that writes back moves read-only: its next store must fault to mark
            // it dirty (it may be clean now).
            let mut access = user_access(protection);
            if backing_writes_back {
                access -= UserAccess::WRITE;
            }
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
