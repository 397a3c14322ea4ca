//! Virtual memory areas: which ranges of a process's address space exist, with what
//! permissions, and what fills their pages (zeros or a file). Pure bookkeeping, host-tested;
//! the page tables and frames live in `address_space`, which asks this set what a fault
//! should do.
//!
//! Semantics follow Linux's `mmap`/`munmap`/`mprotect`: mapping over an existing range
//! replaces it (`MAP_FIXED`), unmapping or protecting part of an area splits it, and
//! `mprotect` of a range with holes fails with `ENOMEM` without changing anything. Like
//! Linux's `vma_merge`, a new area joins the neighbours it continues (same rights, flags
//! and backing), so `mremap` of a range mapped in several calls finds one area.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use vfs_core::PAGE_SIZE;

/// The top of the user half (exclusive): the canonical-address limit on x86_64.
pub const USER_END: u64 = 0x0000_8000_0000_0000;
/// Linux's `TASK_SIZE`: the last page below [`USER_END`] is never mapped, so no
/// instruction can end at (and no `syscall` return to) the non-canonical `USER_END`.
pub const TASK_SIZE: u64 = USER_END - PAGE_SIZE as u64;

bitflags::bitflags! {
    /// Access rights of an area (`PROT_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Protection: u32 {
        const READ = 1;
        const WRITE = 2;
        const EXEC = 4;
    }
}

bitflags::bitflags! {
    /// What `madvise` set on an area that changes what the kernel does with it (Linux's
    /// `VM_DONTCOPY` and `VM_WIPEONFORK`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct AreaFlags: u32 {
        /// `MADV_DONTFORK`: a child of `fork` does not get the area.
        const DONT_FORK = 1;
        /// `MADV_WIPEONFORK`: a child of `fork` gets the area empty (zeros).
        const WIPE_ON_FORK = 2;
    }
}

/// What fills an area's pages.
pub trait Backing: Clone {
    /// The backing of the part of an area that starts `bytes` into it (for splitting).
    fn advanced_by(&self, bytes: u64) -> Self;
    /// Whether `next` is exactly what follows `self` after `bytes` (for merging).
    fn continues_into(&self, bytes: u64, next: &Self) -> bool;
}

/// One area: `[start, end)`, page aligned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vma<B> {
    pub start: u64,
    pub end: u64,
    pub protection: Protection,
    pub flags: AreaFlags,
    pub backing: B,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaError {
    /// Unaligned, empty, overflowing or outside the user half (`EINVAL`).
    InvalidRange,
    /// The range is not wholly mapped (`ENOMEM` from mprotect).
    NotMapped,
    /// `MAP_FIXED_NOREPLACE` over an existing mapping (`EEXIST`).
    Occupied,
    /// No free range large enough (`ENOMEM`).
    NoSpace,
    /// The change would take the set past [`MAX_MAP_COUNT`] areas (`ENOMEM`).
    TooManyAreas,
}

/// What [`VmaSet::sync_walk`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncWalk {
    /// `[start, end)` of each area's part of the range, lowest first.
    pub pieces: Vec<(u64, u64)>,
    /// The range was not wholly mapped.
    pub hole: bool,
}

/// Areas one address space may have, as Linux's default `vm.max_map_count`: each area is
/// kernel memory a program can make by the page (`mprotect` of every other page), so it is
/// capped before the heap is.
pub const MAX_MAP_COUNT: usize = 65530;

/// The areas of one address space, keyed by start address.
#[derive(Clone, Debug)]
pub struct VmaSet<B> {
    areas: BTreeMap<u64, Vma<B>>,
}

impl<B: Backing> Default for VmaSet<B> {
    fn default() -> Self {
        Self {
            areas: BTreeMap::new(),
        }
    }
}

fn check_range(start: u64, len: u64) -> Result<u64, VmaError> {
    let end = start.checked_add(len).ok_or(VmaError::InvalidRange)?;
    if len == 0
        || !start.is_multiple_of(PAGE_SIZE as u64)
        || !len.is_multiple_of(PAGE_SIZE as u64)
        || end > TASK_SIZE
    {
        return Err(VmaError::InvalidRange);
    }
    Ok(end)
}

impl<B: Backing> VmaSet<B> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Vma<B>> {
        self.areas.values()
    }

    /// The area containing `address`.
    pub fn find(&self, address: u64) -> Option<&Vma<B>> {
        let (_, area) = self.areas.range(..=address).next_back()?;
        (address < area.end).then_some(area)
    }

    /// Whether any area overlaps `[start, end)`.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.areas
            .range(..end)
            .next_back()
            .is_some_and(|(_, area)| area.end > start)
    }

    /// Maps `[start, start + len)`, replacing whatever was there (`MAP_FIXED`). Returns the
    /// ranges that were unmapped to make room, for the caller to drop their pages.
    pub fn map(
        &mut self,
        start: u64,
        len: u64,
        protection: Protection,
        backing: B,
    ) -> Result<Vec<(u64, u64)>, VmaError> {
        self.map_area(start, len, protection, AreaFlags::empty(), backing)
    }

    /// [`VmaSet::map`] with the area's flags given (an area `mremap` moves or grows keeps
    /// its own).
    pub fn map_area(
        &mut self,
        start: u64,
        len: u64,
        protection: Protection,
        flags: AreaFlags,
        backing: B,
    ) -> Result<Vec<(u64, u64)>, VmaError> {
        let end = check_range(start, len)?;
        self.check_room(start, end, 1)?;
        let removed = self.unmap(start, len)?;
        self.areas.insert(
            start,
            Vma {
                start,
                end,
                protection,
                flags,
                backing,
            },
        );
        self.merge_around(start, end);
        Ok(removed)
    }

    /// `MAP_FIXED_NOREPLACE`: maps only if nothing is there.
    pub fn map_no_replace(
        &mut self,
        start: u64,
        len: u64,
        protection: Protection,
        backing: B,
    ) -> Result<(), VmaError> {
        let end = check_range(start, len)?;
        if self.overlaps(start, end) {
            return Err(VmaError::Occupied);
        }
        self.check_room(start, end, 1)?;
        self.areas.insert(
            start,
            Vma {
                start,
                end,
                protection,
                flags: AreaFlags::empty(),
                backing,
            },
        );
        self.merge_around(start, end);
        Ok(())
    }

    /// Refuses a change that may add `new` areas (splits at `start` and `end`, plus new
    /// mappings) when that could pass [`MAX_MAP_COUNT`], before anything changes.
    fn check_room(&self, start: u64, end: u64, new: usize) -> Result<(), VmaError> {
        let splits = [start, end]
            .iter()
            .filter(|&&at| self.find(at).is_some_and(|area| area.start != at))
            .count();
        if self.areas.len() + splits + new > MAX_MAP_COUNT {
            return Err(VmaError::TooManyAreas);
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.areas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }

    /// Splits the area containing `at` (if any, and if `at` is inside it) into two.
    fn split_at(&mut self, at: u64) {
        let Some(area) = self.find(at).cloned() else {
            return;
        };
        if area.start == at {
            return;
        }
        let tail = Vma {
            start: at,
            end: area.end,
            protection: area.protection,
            flags: area.flags,
            backing: area.backing.advanced_by(at - area.start),
        };
        if let Some(head) = self.areas.get_mut(&area.start) {
            head.end = at;
        }
        self.areas.insert(at, tail);
    }

    /// Removes `[start, start + len)` from every area (unmapping nothing is fine, as in
    /// Linux). Returns the removed ranges.
    pub fn unmap(&mut self, start: u64, len: u64) -> Result<Vec<(u64, u64)>, VmaError> {
        let end = check_range(start, len)?;
        self.check_room(start, end, 0)?;
        self.split_at(start);
        self.split_at(end);
        let inside: Vec<u64> = self.areas.range(start..end).map(|(&key, _)| key).collect();
        Ok(inside
            .into_iter()
            .filter_map(|key| self.areas.remove(&key))
            .map(|area| (area.start, area.end))
            .collect())
    }

    /// Changes the protection of `[start, start + len)`, which must be wholly mapped.
    pub fn protect(
        &mut self,
        start: u64,
        len: u64,
        protection: Protection,
    ) -> Result<(), VmaError> {
        let end = check_range(start, len)?;
        let mut cursor = start;
        while cursor < end {
            let area = self.find(cursor).ok_or(VmaError::NotMapped)?;
            cursor = area.end;
        }
        self.check_room(start, end, 0)?;
        self.split_at(start);
        self.split_at(end);
        for (_, area) in self.areas.range_mut(start..end) {
            area.protection = protection;
        }
        self.merge_around(start, end);
        Ok(())
    }

    /// Whether every page of `[start, end)` lies in some area.
    pub fn covers(&self, start: u64, end: u64) -> bool {
        let mut cursor = start;
        while cursor < end {
            match self.find(cursor) {
                Some(area) => cursor = area.end,
                None => return false,
            }
        }
        true
    }

    /// The areas overlapping `[start, end)`, lowest first.
    pub fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = &Vma<B>> {
        let first = self.find(start).map_or(start, |area| area.start);
        self.areas.range(first..end).map(|(_, area)| area)
    }

    /// Changes the flags of the mapped parts of `[start, start + len)` (`madvise`), with
    /// splits at the ends and merges after; holes are left alone (the caller reports
    /// them).
    pub fn set_flags(
        &mut self,
        start: u64,
        len: u64,
        set: AreaFlags,
        clear: AreaFlags,
    ) -> Result<(), VmaError> {
        let end = check_range(start, len)?;
        self.check_room(start, end, 0)?;
        self.split_at(start);
        self.split_at(end);
        for (_, area) in self.areas.range_mut(start..end) {
            area.flags = (area.flags - clear) | set;
        }
        self.merge_around(start, end);
        Ok(())
    }

    /// Joins neighbours in and around `[start, end)` that became one area again (same
    /// protection, continuous backing), so repeated mprotect calls do not fragment the set.
    fn merge_around(&mut self, start: u64, end: u64) {
        let first = self
            .areas
            .range(..start)
            .next_back()
            .map_or(start, |(&key, _)| key);
        let keys: Vec<u64> = self.areas.range(first..=end).map(|(&key, _)| key).collect();
        let mut previous: Option<u64> = None;
        for key in keys {
            let mergeable = previous.is_some_and(|prev_key| {
                let (prev, this) = (&self.areas[&prev_key], &self.areas[&key]);
                prev.end == this.start
                    && prev.protection == this.protection
                    && prev.flags == this.flags
                    && prev
                        .backing
                        .continues_into(prev.end - prev.start, &this.backing)
            });
            match (mergeable, previous) {
                (true, Some(prev_key)) => {
                    let absorbed = self.areas.remove(&key).map_or(key, |area| area.end);
                    if let Some(prev) = self.areas.get_mut(&prev_key) {
                        prev.end = absorbed;
                    }
                }
                _ => previous = Some(key),
            }
        }
    }

    /// `msync`'s walk over `[start, end)` (`start < end`), as Linux's `msync` visits the
    /// areas: the pieces of areas in the range, lowest first, and whether the range had a
    /// hole (the call's `ENOMEM`). With `stop_at_hole` (`MS_ASYNC` alone) the walk ends at
    /// the first hole; otherwise it goes on past holes. A range reaching past the last
    /// area has a hole.
    pub fn sync_walk(&self, start: u64, end: u64, stop_at_hole: bool) -> SyncWalk {
        let mut walk = SyncWalk::default();
        let mut cursor = start;
        while cursor < end {
            let Some(area) = self
                .overlapping(cursor, u64::MAX)
                .find(|area| area.end > cursor)
            else {
                walk.hole = true;
                break;
            };
            if cursor < area.start {
                walk.hole = true;
                if stop_at_hole || area.start >= end {
                    break;
                }
                cursor = area.start;
            }
            let piece_end = end.min(area.end);
            walk.pieces.push((cursor, piece_end));
            cursor = piece_end;
        }
        walk
    }

    /// The highest free range of `len` bytes that ends at or below `below` and starts at or
    /// above `above` (mmap's top-down placement).
    pub fn find_free(&self, len: u64, above: u64, below: u64) -> Result<u64, VmaError> {
        if len == 0 || !len.is_multiple_of(PAGE_SIZE as u64) {
            return Err(VmaError::InvalidRange);
        }
        let mut ceiling = below;
        for area in self.areas.values().rev() {
            if area.start >= ceiling {
                continue;
            }
            if area.end <= ceiling && ceiling - area.end >= len && ceiling - len >= above {
                return Ok(ceiling - len);
            }
            ceiling = ceiling.min(area.start);
            if ceiling < above.saturating_add(len) {
                return Err(VmaError::NoSpace);
            }
        }
        if ceiling >= above.saturating_add(len) {
            Ok(ceiling - len)
        } else {
            Err(VmaError::NoSpace)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file-like backing: an id and an offset, so splits and merges are observable.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Fake {
        id: u32,
        offset: u64,
    }

    impl Backing for Fake {
        fn advanced_by(&self, bytes: u64) -> Self {
            Fake {
                id: self.id,
                offset: self.offset + bytes,
            }
        }
        fn continues_into(&self, bytes: u64, next: &Self) -> bool {
            next.id == self.id && next.offset == self.offset + bytes
        }
    }

    const P: u64 = PAGE_SIZE as u64;
    const RW: Protection = Protection::READ.union(Protection::WRITE);
    const R: Protection = Protection::READ;

    fn layout(set: &VmaSet<Fake>) -> Vec<(u64, u64, Protection, u64)> {
        set.iter()
            .map(|a| (a.start / P, a.end / P, a.protection, a.backing.offset / P))
            .collect()
    }

    #[test]
    fn mmap_rejects_unaligned_empty_and_kernel_ranges() {
        let mut set = VmaSet::new();
        let f = Fake { id: 1, offset: 0 };
        assert_eq!(set.map(1, P, R, f.clone()), Err(VmaError::InvalidRange));
        assert_eq!(set.map(P, 0, R, f.clone()), Err(VmaError::InvalidRange));
        assert_eq!(
            set.map(USER_END - P, 2 * P, R, f.clone()),
            Err(VmaError::InvalidRange)
        );
        assert_eq!(
            set.map(TASK_SIZE, P, R, f.clone()),
            Err(VmaError::InvalidRange)
        );
        assert!(set.map(TASK_SIZE - P, P, R, f.clone()).is_ok());
        assert_eq!(
            set.map(u64::MAX - P + 1, P, R, f),
            Err(VmaError::InvalidRange)
        );
    }

    #[test]
    fn map_fixed_over_the_middle_splits_and_replaces() {
        let mut set = VmaSet::new();
        set.map(10 * P, 10 * P, RW, Fake { id: 1, offset: 0 })
            .unwrap();
        let removed = set
            .map(12 * P, 2 * P, R, Fake { id: 2, offset: 0 })
            .unwrap();
        assert_eq!(removed, vec![(12 * P, 14 * P)]);
        assert_eq!(
            layout(&set),
            vec![(10, 12, RW, 0), (12, 14, R, 0), (14, 20, RW, 4)]
        );
    }

    #[test]
    fn map_fixed_noreplace_refuses_any_overlap() {
        let mut set = VmaSet::new();
        set.map(10 * P, 2 * P, RW, Fake { id: 1, offset: 0 })
            .unwrap();
        assert_eq!(
            set.map_no_replace(11 * P, 4 * P, R, Fake { id: 2, offset: 0 }),
            Err(VmaError::Occupied)
        );
        assert_eq!(
            set.map_no_replace(12 * P, P, R, Fake { id: 2, offset: 0 }),
            Ok(())
        );
    }

    #[test]
    fn munmap_of_a_hole_is_fine_and_partial_unmap_trims() {
        let mut set = VmaSet::new();
        set.map(10 * P, 4 * P, RW, Fake { id: 1, offset: 0 })
            .unwrap();
        assert_eq!(set.unmap(100 * P, P).unwrap(), vec![]);
        assert_eq!(set.unmap(8 * P, 3 * P).unwrap(), vec![(10 * P, 11 * P)]);
        assert_eq!(layout(&set), vec![(11, 14, RW, 1)]);
        assert!(set.find(10 * P).is_none());
        assert_eq!(set.find(13 * P + 5).map(|a| a.start), Some(11 * P));
    }

    #[test]
    fn mprotect_needs_the_whole_range_mapped_and_changes_nothing_otherwise() {
        let mut set = VmaSet::new();
        set.map(10 * P, 2 * P, RW, Fake { id: 1, offset: 0 })
            .unwrap();
        set.map(
            13 * P,
            2 * P,
            RW,
            Fake {
                id: 1,
                offset: 3 * P,
            },
        )
        .unwrap();
        assert_eq!(set.protect(10 * P, 5 * P, R), Err(VmaError::NotMapped));
        assert_eq!(layout(&set), vec![(10, 12, RW, 0), (13, 15, RW, 3)]);
    }

    #[test]
    fn mprotect_splits_then_merges_back() {
        let mut set = VmaSet::new();
        set.map(10 * P, 6 * P, RW, Fake { id: 1, offset: 0 })
            .unwrap();
        set.protect(12 * P, 2 * P, R).unwrap();
        assert_eq!(
            layout(&set),
            vec![(10, 12, RW, 0), (12, 14, R, 2), (14, 16, RW, 4)]
        );
        set.protect(12 * P, 2 * P, RW).unwrap();
        assert_eq!(layout(&set), vec![(10, 16, RW, 0)]);
    }

    #[test]
    fn different_backings_never_merge() {
        let mut set = VmaSet::new();
        set.map(10 * P, 2 * P, RW, Fake { id: 1, offset: 0 })
            .unwrap();
        set.map(
            12 * P,
            2 * P,
            RW,
            Fake {
                id: 2,
                offset: 2 * P,
            },
        )
        .unwrap();
        set.protect(10 * P, 4 * P, R).unwrap();
        assert_eq!(layout(&set), vec![(10, 12, R, 0), (12, 14, R, 2)]);
    }

    #[test]
    fn find_free_places_top_down_around_existing_areas() {
        let mut set = VmaSet::new();
        assert_eq!(set.find_free(2 * P, 0, 100 * P), Ok(98 * P));
        set.map(97 * P, 3 * P, RW, Fake { id: 1, offset: 0 })
            .unwrap();
        set.map(90 * P, 5 * P, RW, Fake { id: 1, offset: 0 })
            .unwrap();
        assert_eq!(set.find_free(2 * P, 0, 100 * P), Ok(95 * P));
        assert_eq!(set.find_free(3 * P, 0, 100 * P), Ok(87 * P));
        assert_eq!(
            set.find_free(3 * P, 88 * P, 100 * P),
            Err(VmaError::NoSpace)
        );
        assert_eq!(
            set.find_free(P + 1, 0, 100 * P),
            Err(VmaError::InvalidRange)
        );
    }

    #[test]
    fn a_new_area_joins_the_neighbours_it_continues() {
        let mut set = VmaSet::new();
        set.map(10 * P, 2 * P, RW, Fake { id: 1, offset: 0 })
            .unwrap();
        set.map(
            12 * P,
            2 * P,
            RW,
            Fake {
                id: 1,
                offset: 2 * P,
            },
        )
        .unwrap();
        assert_eq!(layout(&set), vec![(10, 14, RW, 0)]);
        // Below it, continuing into it: one area again.
        set.map_no_replace(
            8 * P,
            2 * P,
            RW,
            Fake {
                id: 1,
                offset: 100 * P,
            },
        )
        .unwrap();
        assert_eq!(set.len(), 2, "offsets that do not continue stay apart");
        // Other rights stay apart too.
        set.map(
            14 * P,
            P,
            R,
            Fake {
                id: 1,
                offset: 4 * P,
            },
        )
        .unwrap();
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn flags_split_areas_and_keep_them_apart_until_equal_again() {
        let mut set = VmaSet::new();
        set.map(10 * P, 6 * P, RW, Fake { id: 1, offset: 0 })
            .unwrap();
        set.set_flags(12 * P, 2 * P, AreaFlags::WIPE_ON_FORK, AreaFlags::empty())
            .unwrap();
        let flags: Vec<_> = set
            .iter()
            .map(|a| (a.start / P, a.end / P, a.flags))
            .collect();
        assert_eq!(
            flags,
            vec![
                (10, 12, AreaFlags::empty()),
                (12, 14, AreaFlags::WIPE_ON_FORK),
                (14, 16, AreaFlags::empty())
            ]
        );
        // mprotect of the whole range does not merge areas whose flags differ.
        set.protect(10 * P, 6 * P, R).unwrap();
        assert_eq!(set.len(), 3);
        set.set_flags(10 * P, 6 * P, AreaFlags::empty(), AreaFlags::WIPE_ON_FORK)
            .unwrap();
        assert_eq!(layout(&set), vec![(10, 16, R, 0)]);
    }

    #[test]
    fn covers_and_overlapping_see_holes() {
        let mut set = VmaSet::new();
        set.map(10 * P, 2 * P, RW, Fake { id: 1, offset: 0 })
            .unwrap();
        set.map(13 * P, 2 * P, R, Fake { id: 2, offset: 0 })
            .unwrap();
        assert!(set.covers(10 * P, 12 * P));
        assert!(set.covers(11 * P, 12 * P));
        assert!(!set.covers(10 * P, 14 * P));
        let seen: Vec<_> = set
            .overlapping(11 * P, 14 * P)
            .map(|a| a.start / P)
            .collect();
        assert_eq!(seen, vec![10, 13]);
    }

    #[test]
    fn msync_walks_areas_past_holes_unless_asked_to_stop() {
        let mut set = VmaSet::new();
        set.map(10 * P, 2 * P, RW, Fake { id: 1, offset: 0 })
            .unwrap();
        set.map(13 * P, 2 * P, R, Fake { id: 2, offset: 0 })
            .unwrap();
        let whole = set.sync_walk(10 * P, 12 * P, false);
        assert_eq!(whole.pieces, vec![(10 * P, 12 * P)]);
        assert!(!whole.hole);
        // Over the hole at 12: both sides, and the hole reported.
        let across = set.sync_walk(11 * P, 14 * P, false);
        assert_eq!(across.pieces, vec![(11 * P, 12 * P), (13 * P, 14 * P)]);
        assert!(across.hole);
        // MS_ASYNC alone stops at the hole.
        let stopped = set.sync_walk(11 * P, 14 * P, true);
        assert_eq!(stopped.pieces, vec![(11 * P, 12 * P)]);
        assert!(stopped.hole);
        // Past the last area, and wholly inside a hole.
        let past = set.sync_walk(14 * P, 20 * P, false);
        assert_eq!(past.pieces, vec![(14 * P, 15 * P)]);
        assert!(past.hole);
        let inside = set.sync_walk(12 * P, 13 * P, false);
        assert!(inside.pieces.is_empty() && inside.hole);
        let before_all = set.sync_walk(P, 2 * P, false);
        assert!(before_all.pieces.is_empty() && before_all.hole);
    }

    #[test]
    fn areas_stop_at_max_map_count() {
        let mut set: VmaSet<Fake> = VmaSet::new();
        let pages = (MAX_MAP_COUNT as u64 + 10) * 2;
        set.map(0x10_0000, pages * P, R, Fake { id: 1, offset: 0 })
            .unwrap();
        // mprotect every other page: each call splits one area into up to three.
        let mut refused_at = None;
        for index in 0..pages / 2 {
            let at = 0x10_0000 + (2 * index + 1) * P;
            if let Err(error) = set.protect(at, P, RW) {
                assert_eq!(error, VmaError::TooManyAreas);
                refused_at = Some(index);
                break;
            }
        }
        assert!(refused_at.is_some(), "the cap must be reached");
        assert!(set.len() <= MAX_MAP_COUNT, "{} areas", set.len());
        // What already exists stays usable: unmapping a whole area adds none.
        let first = set
            .iter()
            .next()
            .map(|area| (area.start, area.end))
            .unwrap();
        assert!(set.unmap(first.0, first.1 - first.0).is_ok());
    }
}
