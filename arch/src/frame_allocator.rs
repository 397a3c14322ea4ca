//! The physical frame allocator: one bit per 4 KiB frame between the lowest and highest free
//! address, set when the frame is free.
//!
//! Why a bitmap: its size is fixed at boot (no allocation while allocating, which the heap's
//! grow hook relies on), contiguous runs for the heap are a scan away, and a double free is
//! caught by the bit already being set.
//!
//! Single frames (user pages, file pages, page tables) are taken from the top of memory
//! down, contiguous runs (the heap's growth, DMA) from the bottom up: pages freed one by one
//! in any order then leave their holes up there, and the runs the heap needs stay whole
//! below.
//!
//! The heap's large allocations are served straight from here as *blocks* (one frame or a
//! run): a second bitmap marks the first frame of each, so the heap can tell, when such an
//! allocation is freed, whether it came from here or from its own spans.

use alloc::vec::Vec;

use crate::PAGE;

pub struct FrameAllocator {
    first_frame: u64,
    frame_count: u64,
    free_bits: Vec<u64>,
    free_frames: u64,
    /// Word to start the next single-frame search at, downwards: no word above it has a
    /// free frame unless one was freed since (which moves it back up).
    next_word: usize,
    /// Word to start the next run search at, upwards: no word below it has a free frame
    /// unless one was freed since (which moves it back down).
    low_word: usize,
    /// One bit per frame, set on the first frame of a block ([`Self::allocate_block`]).
    block_starts: Vec<u64>,
}

impl FrameAllocator {
    /// An allocator for frames in `[start, end)` with none of them free yet.
    pub fn new(start: u64, end: u64) -> Self {
        let first_frame = start / PAGE;
        let frames = end.div_ceil(PAGE).saturating_sub(first_frame);
        Self {
            first_frame,
            frame_count: frames,
            free_bits: alloc::vec![0; frames.div_ceil(64) as usize],
            free_frames: 0,
            next_word: (frames.div_ceil(64) as usize).saturating_sub(1),
            low_word: 0,
            block_starts: alloc::vec![0; frames.div_ceil(64) as usize],
        }
    }

    pub fn free_frames(&self) -> u64 {
        self.free_frames
    }

    /// Hands the whole frames inside `[start, end)` to the allocator. Whole words at a time:
    /// with 4 GiB of RAM this runs over a million frames at boot.
    pub fn add_free_range(&mut self, start: u64, end: u64) {
        let first = start.div_ceil(PAGE).max(self.first_frame);
        let last = (end / PAGE).min(self.first_frame + self.frame_count);
        let mut frame = first;
        while frame < last {
            let index = frame - self.first_frame;
            let (word, bit) = ((index / 64) as usize, index % 64);
            let count = (64 - bit).min(last - frame);
            let mask = if count == 64 {
                u64::MAX
            } else {
                ((1u64 << count) - 1) << bit
            };
            assert!(
                self.free_bits[word] & mask == 0,
                "frame range {start:#x}..{end:#x} freed twice"
            );
            self.free_bits[word] |= mask;
            self.free_frames += count;
            self.next_word = self.next_word.max(word);
            self.low_word = self.low_word.min(word);
            frame += count;
        }
    }

    /// One frame's physical address: the highest free one.
    pub fn allocate(&mut self) -> Option<u64> {
        let word = (0..=self.next_word.min(self.free_bits.len().checked_sub(1)?))
            .rev()
            .find(|&w| self.free_bits[w] != 0)?;
        let bit = 63 - u64::from(self.free_bits[word].leading_zeros());
        self.free_bits[word] &= !(1 << bit);
        self.free_frames -= 1;
        self.next_word = word;
        Some((self.first_frame + word as u64 * 64 + bit) * PAGE)
    }

    /// `count` physically contiguous frames; the address of the first (the lowest such
    /// run). Whole words are skipped or taken at a time: the heap's large allocations
    /// search here often.
    pub fn allocate_contiguous(&mut self, count: u64) -> Option<u64> {
        if count == 0 {
            return None;
        }
        let mut run_start = 0;
        let mut run_len = 0;
        let mut empty_below = true;
        let mut word = self.low_word;
        while word < self.free_bits.len() {
            let bits = self.free_bits[word];
            if bits == 0 {
                run_len = 0;
                if empty_below {
                    self.low_word = word + 1;
                }
                word += 1;
                continue;
            }
            empty_below = false;
            if bits == u64::MAX && run_len + 64 < count {
                if run_len == 0 {
                    run_start = word as u64 * 64;
                }
                run_len += 64;
                word += 1;
                continue;
            }
            for bit in 0..64 {
                if bits & (1 << bit) == 0 {
                    run_len = 0;
                    continue;
                }
                if run_len == 0 {
                    run_start = word as u64 * 64 + bit;
                }
                run_len += 1;
                if run_len == count {
                    self.take(run_start, count);
                    return Some((self.first_frame + run_start) * PAGE);
                }
            }
            word += 1;
        }
        None
    }

    /// Marks the `count` free frames from index `start` taken.
    fn take(&mut self, start: u64, count: u64) {
        for taken in start..start + count {
            self.free_bits[(taken / 64) as usize] &= !(1 << (taken % 64));
        }
        self.free_frames -= count;
    }

    /// The bit index of the frame at `phys`, if the allocator covers it.
    fn index_of(&self, phys: u64) -> Option<u64> {
        let index = (phys / PAGE).checked_sub(self.first_frame)?;
        (phys.is_multiple_of(PAGE) && index < self.frame_count).then_some(index)
    }

    /// A block of `count` frames for the heap (one from the top as single frames are, a run
    /// from the bottom as the heap's spans are), marked as a block: the address of its first.
    pub fn allocate_block(&mut self, count: u64) -> Option<u64> {
        let phys = if count == 1 {
            self.allocate()?
        } else {
            self.allocate_contiguous(count)?
        };
        let index = phys / PAGE - self.first_frame;
        self.block_starts[(index / 64) as usize] |= 1 << (index % 64);
        Some(phys)
    }

    /// Whether `phys` is the first frame of a block [`Self::allocate_block`] gave.
    pub fn is_block(&self, phys: u64) -> bool {
        self.index_of(phys).is_some_and(|index| {
            self.block_starts[(index / 64) as usize] & (1 << (index % 64)) != 0
        })
    }

    /// Returns the block of `count` frames at `phys` if it is one [`Self::allocate_block`]
    /// gave; `false` (nothing done) if it is not.
    pub fn free_block(&mut self, phys: u64, count: u64) -> bool {
        if !self.is_block(phys) {
            return false;
        }
        let index = phys / PAGE - self.first_frame;
        self.block_starts[(index / 64) as usize] &= !(1 << (index % 64));
        self.free_contiguous(phys, count);
        true
    }

    /// Returns `count` frames starting at `phys`, as `allocate_contiguous` gave them.
    pub fn free_contiguous(&mut self, phys: u64, count: u64) {
        self.add_free_range(phys, phys + count * PAGE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_frames_wholly_inside_a_free_range_are_handed_out() {
        let mut frames = FrameAllocator::new(0x10_0000, 0x20_0000);
        frames.add_free_range(0x10_0800, 0x10_3800); // 0x101000 and 0x102000 only
        assert_eq!(frames.free_frames(), 2);
        assert_eq!(frames.allocate(), Some(0x10_2000));
        assert_eq!(frames.allocate(), Some(0x10_1000));
        assert_eq!(frames.allocate(), None);
    }

    #[test]
    fn ranges_spanning_many_words_are_counted_exactly() {
        let mut frames = FrameAllocator::new(0, 64 << 20);
        frames.add_free_range(3 * PAGE, 1000 * PAGE);
        assert_eq!(frames.free_frames(), 997);
        let mut seen = Vec::new();
        while let Some(frame) = frames.allocate() {
            seen.push(frame / PAGE);
        }
        assert_eq!(seen, (3..1000).rev().collect::<Vec<_>>());
    }

    #[test]
    fn single_frames_come_from_the_top_and_leave_the_bottom_whole() {
        let mut frames = FrameAllocator::new(0, 1 << 20);
        frames.add_free_range(0, 256 * PAGE);
        let singles: Vec<u64> = (0..100).filter_map(|_| frames.allocate()).collect();
        // Free every other one: holes up top, where no run is needed.
        for frame in singles.iter().step_by(2) {
            frames.free_contiguous(*frame, 1);
        }
        assert_eq!(frames.allocate_contiguous(150), Some(0));
        // A frame freed high up is the next one handed out.
        assert_eq!(frames.allocate(), Some(singles[0]));
    }

    #[test]
    fn contiguous_runs_skip_holes_and_return_to_the_pool() {
        let mut frames = FrameAllocator::new(0, 1 << 20);
        frames.add_free_range(0, 4 * PAGE);
        frames.add_free_range(10 * PAGE, 20 * PAGE);
        assert_eq!(frames.allocate_contiguous(8), Some(10 * PAGE));
        assert_eq!(frames.allocate_contiguous(8), None);
        assert_eq!(frames.free_frames(), 6);
        frames.free_contiguous(10 * PAGE, 8);
        assert_eq!(frames.free_frames(), 14);
        assert_eq!(frames.allocate_contiguous(10), Some(10 * PAGE));
    }

    #[test]
    fn runs_are_found_across_words_and_after_holes() {
        let mut frames = FrameAllocator::new(0, 64 << 20);
        frames.add_free_range(3 * PAGE, 70 * PAGE);
        frames.add_free_range(100 * PAGE, 400 * PAGE);
        assert_eq!(frames.allocate_contiguous(67), Some(3 * PAGE));
        assert_eq!(frames.allocate_contiguous(200), Some(100 * PAGE));
        // The words below are empty now: the next search starts above them.
        assert_eq!(frames.allocate_contiguous(100), Some(300 * PAGE));
        assert_eq!(frames.allocate_contiguous(1), None);
        frames.free_contiguous(5 * PAGE, 2);
        assert_eq!(frames.allocate_contiguous(2), Some(5 * PAGE));
        assert_eq!(frames.free_frames(), 0);
    }

    #[test]
    fn blocks_are_told_apart_from_other_frames() {
        let mut frames = FrameAllocator::new(0, 1 << 20);
        frames.add_free_range(0, 64 * PAGE);
        let run = frames.allocate_block(4).unwrap();
        let single = frames.allocate_block(1).unwrap();
        let other = frames.allocate().unwrap();
        assert_eq!((run, single), (0, 63 * PAGE));
        assert!(frames.is_block(run) && frames.is_block(single));
        assert!(!frames.is_block(run + PAGE) && !frames.is_block(other));
        assert!(!frames.free_block(other, 1), "not a block: left alone");
        assert!(!frames.free_block(1 << 30, 1), "outside the allocator");
        assert_eq!(frames.free_frames(), 58);
        assert!(frames.free_block(run, 4));
        assert!(frames.free_block(single, 1));
        assert!(!frames.is_block(run));
        assert_eq!(frames.free_frames(), 63);
    }

    #[test]
    #[should_panic(expected = "freed twice")]
    fn a_double_free_is_caught() {
        let mut frames = FrameAllocator::new(0, 1 << 20);
        frames.add_free_range(0, 4 * PAGE);
        frames.free_contiguous(0, 1);
    }

    #[test]
    fn ranges_outside_the_allocator_are_clipped() {
        let mut frames = FrameAllocator::new(0x10_0000, 0x10_4000);
        frames.add_free_range(0, 0x100_0000);
        assert_eq!(frames.free_frames(), 4);
    }
}
