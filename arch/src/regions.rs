//! A small, fixed-capacity set of physical ranges: what the memory map says is free, before
//! there is a heap to hold anything bigger. Early boot carves page-table frames and the first
//! heap span out of it; the frame allocator takes over what is left.

use core::fmt;

const CAPACITY: usize = 64;

/// Physical `[start, end)` ranges, sorted, not overlapping.
#[derive(Clone)]
pub struct RangeSet {
    ranges: [(u64, u64); CAPACITY],
    len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyRanges;

impl fmt::Display for TooManyRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the memory map splits into more than {CAPACITY} ranges")
    }
}

impl Default for RangeSet {
    fn default() -> Self {
        Self::new()
    }
}

impl RangeSet {
    pub const fn new() -> Self {
        Self {
            ranges: [(0, 0); CAPACITY],
            len: 0,
        }
    }

    pub fn as_slice(&self) -> &[(u64, u64)] {
        &self.ranges[..self.len]
    }

    pub fn total(&self) -> u64 {
        self.as_slice().iter().map(|(start, end)| end - start).sum()
    }

    /// Adds `[start, end)`, merging with neighbours it touches or overlaps.
    pub fn insert(&mut self, start: u64, end: u64) -> Result<(), TooManyRanges> {
        if start >= end {
            return Ok(());
        }
        let (mut start, mut end) = (start, end);
        let mut index = 0;
        while index < self.len {
            let (s, e) = self.ranges[index];
            if s <= end && start <= e {
                start = start.min(s);
                end = end.max(e);
                self.remove_at(index);
            } else {
                index += 1;
            }
        }
        let position = self
            .as_slice()
            .iter()
            .position(|&(s, _)| s > start)
            .unwrap_or(self.len);
        self.insert_at(position, (start, end))
    }

    /// Removes `[start, end)` from every range it overlaps.
    pub fn remove(&mut self, start: u64, end: u64) -> Result<(), TooManyRanges> {
        let mut index = 0;
        while index < self.len {
            let (s, e) = self.ranges[index];
            if e <= start || end <= s {
                index += 1;
                continue;
            }
            self.remove_at(index);
            if end < e {
                self.insert_at(index, (end, e))?;
            }
            if s < start {
                self.insert_at(index, (s, start))?;
                index += 1;
            }
        }
        Ok(())
    }

    /// Takes `len` bytes aligned to `align` from the lowest range that has them.
    pub fn take(&mut self, len: u64, align: u64) -> Option<u64> {
        let start = self.as_slice().iter().find_map(|&(s, e)| {
            let aligned = s.checked_next_multiple_of(align)?;
            (aligned.checked_add(len)? <= e).then_some(aligned)
        })?;
        self.remove(start, start + len).ok()?;
        Some(start)
    }

    fn remove_at(&mut self, index: usize) {
        self.ranges.copy_within(index + 1..self.len, index);
        self.len -= 1;
    }

    fn insert_at(&mut self, index: usize, range: (u64, u64)) -> Result<(), TooManyRanges> {
        if self.len == CAPACITY {
            return Err(TooManyRanges);
        }
        self.ranges.copy_within(index..self.len, index + 1);
        self.ranges[index] = range;
        self.len += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ranges: &[(u64, u64)]) -> RangeSet {
        let mut set = RangeSet::new();
        for &(start, end) in ranges {
            set.insert(start, end).unwrap();
        }
        set
    }

    #[test]
    fn insert_sorts_and_merges_touching_and_overlapping_ranges() {
        let set = set(&[(100, 200), (0, 50), (50, 60), (150, 300), (400, 500)]);
        assert_eq!(set.as_slice(), &[(0, 60), (100, 300), (400, 500)]);
        assert_eq!(set.total(), 60 + 200 + 100);
    }

    #[test]
    fn empty_ranges_are_ignored() {
        assert_eq!(set(&[(10, 10), (20, 5)]).as_slice(), &[]);
    }

    #[test]
    fn remove_splits_trims_and_drops() {
        let mut set = set(&[(0, 100), (200, 300), (400, 500)]);
        set.remove(50, 60).unwrap(); // split
        set.remove(250, 450).unwrap(); // trim two
        assert_eq!(
            set.as_slice(),
            &[(0, 50), (60, 100), (200, 250), (450, 500)]
        );
        set.remove(0, 1000).unwrap();
        assert_eq!(set.as_slice(), &[]);
    }

    #[test]
    fn take_returns_aligned_memory_from_the_lowest_range_that_fits() {
        let mut set = set(&[(0x1100, 0x2000), (0x10_0000, 0x40_0000)]);
        assert_eq!(set.take(0x1000, 0x1000), Some(0x10_0000)); // 0x1100.. has no aligned page
        assert_eq!(set.take(0x800, 0x100), Some(0x1100));
        assert_eq!(set.take(0x40_0000, 0x1000), None);
        assert_eq!(set.as_slice(), &[(0x1900, 0x2000), (0x10_1000, 0x40_0000)]);
    }

    #[test]
    fn capacity_overflow_is_an_error_not_a_panic() {
        let mut set = RangeSet::new();
        for i in 0..64u64 {
            set.insert(i * 10, i * 10 + 5).unwrap();
        }
        assert_eq!(set.insert(10_000, 10_005), Err(TooManyRanges));
        assert_eq!(set.remove(1, 2), Err(TooManyRanges));
    }
}
