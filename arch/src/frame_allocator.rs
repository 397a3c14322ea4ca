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

    /// `count` physically contiguous frames; the address of the first.
    pub fn allocate_contiguous(&mut self, count: u64) -> Option<u64> {
        let total = self.free_bits.len() as u64 * 64;
        let is_free =
            |bits: &[u64], index: u64| bits[(index / 64) as usize] & (1 << (index % 64)) != 0;
        let mut run_start = 0;
        let mut run_len = 0;
        for index in 0..total {
            if is_free(&self.free_bits, index) {
                if run_len == 0 {
                    run_start = index;
                }
                run_len += 1;
                if run_len == count {
                    for taken in run_start..run_start + count {
                        self.free_bits[(taken / 64) as usize] &= !(1 << (taken % 64));
                    }
                    self.free_frames -= count;
                    return Some((self.first_frame + run_start) * PAGE);
                }
            } else {
                run_len = 0;
            }
        }
        None
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
