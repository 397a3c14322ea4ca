//! The physical frame allocator: one bit per 4 KiB frame between the lowest and highest free
//! address, set when the frame is free.
//!
//! Why a bitmap: its size is fixed at boot (no allocation while allocating, which the heap's
//! grow hook relies on), contiguous runs for the heap are a scan away, and a double free is
//! caught by the bit already being set.

use alloc::vec::Vec;

use crate::PAGE;

pub struct FrameAllocator {
    first_frame: u64,
    frame_count: u64,
    free_bits: Vec<u64>,
    free_frames: u64,
    /// Word to start the next search at: allocation is mostly ascending.
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
            next_word: 0,
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
            frame += count;
        }
        self.next_word = 0;
    }

    /// One frame's physical address.
    pub fn allocate(&mut self) -> Option<u64> {
        let words = self.free_bits.len();
        let word = (self.next_word..words)
            .chain(0..self.next_word)
            .find(|&w| self.free_bits[w] != 0)?;
        let bit = u64::from(self.free_bits[word].trailing_zeros());
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
        assert_eq!(frames.allocate(), Some(0x10_1000));
        assert_eq!(frames.allocate(), Some(0x10_2000));
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
        assert_eq!(seen, (3..1000).collect::<Vec<_>>());
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
