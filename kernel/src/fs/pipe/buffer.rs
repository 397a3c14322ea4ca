//! The bytes inside a pipe and Linux's rules for moving them: capacity in pages, writes of
//! up to `PIPE_BUF` bytes that land whole or not at all, and `O_DIRECT` packet mode.
//!
//! Pure bookkeeping, host-tested: whether a caller blocks, gets `EAGAIN`, `EPIPE` or end of
//! file is decided one layer up ([`super`]), from what these methods report.
//!
//! The bytes held are charged to the memory budget as the buffer grows to hold them (up
//! to the capacity, at most 256 MiB with privilege); a write the budget refuses room for
//! moves nothing and is `ENOMEM`, as Linux's `pipe_write` when it cannot get a page. A
//! drained buffer larger than a default pipe's gives its memory back.

use alloc::collections::VecDeque;

use vfs_core::budget::{Charge, MemoryBudget};
use vfs_core::{Errno, PAGE_SIZE};

/// Writes of at most this many bytes are atomic (POSIX `PIPE_BUF`, Linux's page).
pub const PIPE_BUF: usize = 4096;
/// A new pipe holds 16 pages, as Linux's.
pub const DEFAULT_CAPACITY: usize = 16 * PAGE_SIZE;
/// `/proc/sys/fs/pipe-max-size`: the most an unprivileged `F_SETPIPE_SZ` may ask for.
pub const MAX_UNPRIVILEGED_CAPACITY: usize = 1 << 20;
/// The most anyone may ask for: Linux caps `F_SETPIPE_SZ` at `INT_MAX`'s power of two; we
/// cap it where the memory budget would refuse long before.
pub const MAX_CAPACITY: usize = 1 << 28;

#[derive(Debug)]
pub struct PipeBuffer {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// `O_DIRECT` (packet mode): the length of each packet still in `bytes`, oldest first.
    packets: Option<VecDeque<usize>>,
    /// What `bytes` (and `packets`) take from the heap.
    charge: Charge,
}

/// What each packet's length costs in packet mode.
const PACKET_COST: usize = core::mem::size_of::<usize>();

impl Default for PipeBuffer {
    fn default() -> Self {
        Self::new(false, MemoryBudget::unlimited().empty_charge())
    }
}

impl PipeBuffer {
    /// An empty pipe whose bytes will be charged to `charge`'s budget.
    pub fn new(packet_mode: bool, charge: Charge) -> PipeBuffer {
        PipeBuffer {
            bytes: VecDeque::new(),
            capacity: DEFAULT_CAPACITY,
            packets: packet_mode.then(VecDeque::new),
            charge,
        }
    }

    /// Heap bytes the buffer holds now.
    fn held(&self) -> u64 {
        let packets = self
            .packets
            .as_ref()
            .map_or(0, |packets| packets.capacity() * PACKET_COST);
        (self.bytes.capacity() + packets) as u64
    }

    /// Makes room for `more` bytes (and their packets) within the budget; `ENOMEM` if it
    /// refuses, with nothing changed.
    fn make_room(&mut self, more: usize) -> Result<(), Errno> {
        let bytes_needed = self.bytes.len() + more;
        let (packets_len, packets_capacity) = self
            .packets
            .as_ref()
            .map_or((0, 0), |packets| (packets.len(), packets.capacity()));
        let packets_needed = match self.packets {
            Some(_) => packets_len + more.div_ceil(PIPE_BUF),
            None => 0,
        };
        if bytes_needed <= self.bytes.capacity() && packets_needed <= packets_capacity {
            return Ok(());
        }
        // Double, as a vector would, but never past the pipe's capacity.
        let grow = |needed: usize, have: usize| needed.max(have * 2).min(self.capacity.max(needed));
        let bytes_target = grow(bytes_needed, self.bytes.capacity());
        let packets_target = if self.packets.is_some() {
            grow(packets_needed, packets_capacity)
        } else {
            0
        };
        let cost = (bytes_target + packets_target * PACKET_COST) as u64;
        self.charge.resize(cost.max(self.held()))?;
        let bytes_len = self.bytes.len();
        let reserved = self
            .bytes
            .try_reserve_exact(bytes_target - bytes_len)
            .is_ok()
            && self.packets.as_mut().is_none_or(|packets| {
                packets
                    .try_reserve_exact(packets_target - packets_len)
                    .is_ok()
            });
        // Charge what the allocator really holds now.
        let held = self.held();
        if held > self.charge.bytes() {
            self.charge.grow_anyway(held - self.charge.bytes());
        } else {
            self.charge.shrink(self.charge.bytes() - held);
        }
        if reserved { Ok(()) } else { Err(Errno::ENOMEM) }
    }

    /// Gives back a drained buffer's memory past a default pipe's.
    fn release_if_drained(&mut self) {
        if self.bytes.is_empty() && self.held() > DEFAULT_CAPACITY as u64 {
            self.bytes = VecDeque::new();
            if let Some(packets) = &mut self.packets {
                *packets = VecDeque::new();
            }
            self.charge.shrink(u64::MAX);
        }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn space(&self) -> usize {
        self.capacity.saturating_sub(self.bytes.len())
    }

    pub fn is_packet_mode(&self) -> bool {
        self.packets.is_some()
    }

    /// `F_SETPIPE_SZ`'s size: `requested` rounded up to a power-of-two number of pages (at
    /// least one), as Linux does; `EPERM` past the unprivileged limit without privilege,
    /// `EINVAL` past the absolute one.
    pub fn capacity_for(requested: usize, privileged: bool) -> Result<usize, Errno> {
        if requested > MAX_CAPACITY {
            return Err(Errno::EINVAL);
        }
        let pages = requested.div_ceil(PAGE_SIZE).max(1).next_power_of_two();
        let capacity = pages * PAGE_SIZE;
        if capacity > MAX_UNPRIVILEGED_CAPACITY && !privileged {
            return Err(Errno::EPERM);
        }
        Ok(capacity)
    }

    /// `F_SETPIPE_SZ`: the capacity [`Self::capacity_for`] gives, `EBUSY` if the pipe
    /// holds more than that.
    pub fn set_capacity(&mut self, requested: usize, privileged: bool) -> Result<usize, Errno> {
        let capacity = Self::capacity_for(requested, privileged)?;
        if capacity < self.bytes.len() {
            return Err(Errno::EBUSY);
        }
        self.capacity = capacity;
        Ok(capacity)
    }

    /// Whether a write of `len` bytes may move anything now: an atomic one (≤ `PIPE_BUF`)
    /// needs room for all of it, a larger one room for one byte.
    pub fn can_write(&self, len: usize) -> bool {
        if len <= PIPE_BUF {
            self.space() >= len
        } else {
            self.space() > 0
        }
    }

    /// Appends as much of `data` as fits (all of it or nothing when `data.len() <=
    /// PIPE_BUF`); returns how many bytes were taken. In packet mode each `PIPE_BUF` slice
    /// becomes a packet of its own. `ENOMEM` when the budget has no room for the bytes.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Errno> {
        if !self.can_write(data.len()) {
            return Ok(0);
        }
        let taken = data.len().min(self.space());
        self.make_room(taken)?;
        self.bytes.extend(&data[..taken]);
        if let Some(packets) = &mut self.packets {
            let mut rest = taken;
            while rest > 0 {
                let packet = rest.min(PIPE_BUF);
                packets.push_back(packet);
                rest -= packet;
            }
        }
        Ok(taken)
    }

    /// Copies up to `out.len()` bytes from the front without taking them (`tee`).
    pub fn peek(&self, out: &mut [u8]) -> usize {
        let n = self.bytes.len().min(out.len());
        self.copy_front(&mut out[..n]);
        n
    }

    /// Copies the first `out.len()` bytes held into `out` (the caller checked there are
    /// that many), a run per half of the ring rather than a byte at a time: a 64 KiB
    /// read is two `memcpy`s.
    fn copy_front(&self, out: &mut [u8]) {
        let (first, second) = self.bytes.as_slices();
        let from_first = first.len().min(out.len());
        out[..from_first].copy_from_slice(&first[..from_first]);
        let rest = out.len() - from_first;
        out[from_first..].copy_from_slice(&second[..rest]);
    }

    /// Takes `out.len()` bytes from the front into `out` (the caller checked there are
    /// that many).
    fn move_front(&mut self, out: &mut [u8]) {
        self.copy_front(out);
        self.drop_front(out.len());
    }

    /// Drops the first `count` bytes. A pipe read usually takes everything there is,
    /// which is a `clear`, far cheaper than a `drain`.
    fn drop_front(&mut self, count: usize) {
        if count >= self.bytes.len() {
            self.bytes.clear();
        } else if count > 0 {
            self.bytes.drain(..count);
        }
    }

    /// Moves up to `out.len()` bytes out for a `splice`: in packet mode from the first
    /// packet only, and what does not fit stays in it (Linux's splice shortens a pipe
    /// buffer it takes part of, where `read` drops the rest of a packet).
    pub fn take(&mut self, out: &mut [u8]) -> usize {
        let available = match &self.packets {
            Some(packets) => packets.front().copied().unwrap_or(0),
            None => self.bytes.len(),
        };
        let take = available.min(out.len());
        self.move_front(&mut out[..take]);
        if let Some(packets) = &mut self.packets
            && let Some(front) = packets.front_mut()
        {
            *front -= take;
            if *front == 0 {
                packets.pop_front();
            }
        }
        self.release_if_drained();
        take
    }

    /// Appends all of `data` whatever room is left: bytes a `splice` already took from
    /// their source after it saw room here, which another writer may have filled since
    /// (they must not be lost). Packets as [`PipeBuffer::write`] cuts them. `ENOMEM` when
    /// the budget has no room, with nothing appended.
    pub fn push(&mut self, data: &[u8]) -> Result<(), Errno> {
        self.make_room(data.len())?;
        self.bytes.extend(data);
        if let Some(packets) = &mut self.packets {
            packets.extend(data.chunks(PIPE_BUF).map(<[u8]>::len));
        }
        Ok(())
    }

    /// Puts `data` back in front (what a `splice` took but its destination refused), as
    /// one packet in packet mode. `ENOMEM` when the budget has no room.
    pub fn unread(&mut self, data: &[u8]) -> Result<(), Errno> {
        if data.is_empty() {
            return Ok(());
        }
        self.make_room(data.len())?;
        for &byte in data.iter().rev() {
            self.bytes.push_front(byte);
        }
        if let Some(packets) = &mut self.packets {
            packets.push_front(data.len());
        }
        Ok(())
    }

    /// Moves up to `out.len()` bytes out; in packet mode one packet at most, whose bytes
    /// beyond `out.len()` are dropped (Linux's `O_DIRECT` read). Returns how many landed.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        // A read of nothing moves nothing, not even a packet (Linux returns before looking).
        if out.is_empty() {
            return 0;
        }
        let (take, discard) = match &mut self.packets {
            Some(packets) => match packets.pop_front() {
                Some(packet) => (packet.min(out.len()), packet.saturating_sub(out.len())),
                None => (0, 0),
            },
            None => (self.bytes.len().min(out.len()), 0),
        };
        self.move_front(&mut out[..take]);
        self.drop_front(discard);
        self.release_if_drained();
        take
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ring wraps: a read, a peek and a splice's take each copy from both of its
    /// halves, in order.
    #[test]
    fn reads_across_the_ring_wrap_keep_the_order() {
        let mut pipe = PipeBuffer::default();
        let first: Vec<u8> = (0..DEFAULT_CAPACITY).map(|i| (i % 251) as u8).collect();
        assert_eq!(pipe.write(&first).unwrap(), DEFAULT_CAPACITY);
        let mut head = vec![0u8; 3 * PIPE_BUF];
        assert_eq!(pipe.read(&mut head), head.len());
        assert_eq!(head, first[..head.len()]);
        let second: Vec<u8> = (0..2 * PIPE_BUF).map(|i| (i % 13) as u8).collect();
        assert_eq!(pipe.write(&second).unwrap(), second.len());
        let expected: Vec<u8> = first[head.len()..].iter().chain(&second).copied().collect();
        let mut peeked = vec![0u8; expected.len()];
        assert_eq!(pipe.peek(&mut peeked), expected.len());
        assert_eq!(peeked, expected);
        let mut taken = vec![0u8; 5];
        assert_eq!(pipe.take(&mut taken), 5);
        assert_eq!(taken, expected[..5]);
        let mut rest = vec![0u8; DEFAULT_CAPACITY];
        assert_eq!(pipe.read(&mut rest), expected.len() - 5);
        assert_eq!(rest[..expected.len() - 5], expected[5..]);
        assert!(pipe.is_empty());
    }

    #[test]
    fn bytes_come_out_in_order_across_reads() {
        let mut pipe = PipeBuffer::default();
        assert_eq!(pipe.write(b"hello ").unwrap(), 6);
        assert_eq!(pipe.write(b"world").unwrap(), 5);
        let mut out = [0u8; 4];
        assert_eq!(pipe.read(&mut out), 4);
        assert_eq!(&out, b"hell");
        let mut rest = [0u8; 64];
        assert_eq!(pipe.read(&mut rest), 7);
        assert_eq!(&rest[..7], b"o world");
        assert!(pipe.is_empty());
        assert_eq!(pipe.read(&mut rest), 0);
    }

    #[test]
    fn an_atomic_write_lands_whole_or_not_at_all() {
        let mut pipe = PipeBuffer::default();
        let filler = vec![1u8; DEFAULT_CAPACITY - 100];
        assert_eq!(pipe.write(&filler).unwrap(), filler.len());
        assert!(!pipe.can_write(101));
        assert_eq!(
            pipe.write(&[2u8; 101]).unwrap(),
            0,
            "101 bytes ≤ PIPE_BUF do not fit in 100"
        );
        assert_eq!(pipe.write(&[2u8; 100]).unwrap(), 100);
        assert_eq!(pipe.space(), 0);
    }

    #[test]
    fn a_large_write_takes_what_fits() {
        let mut pipe = PipeBuffer::default();
        assert_eq!(pipe.write(&[0u8; 10]).unwrap(), 10);
        let big = vec![7u8; DEFAULT_CAPACITY];
        assert!(pipe.can_write(big.len()));
        assert_eq!(pipe.write(&big).unwrap(), DEFAULT_CAPACITY - 10);
        assert!(!pipe.can_write(PIPE_BUF + 1));
    }

    #[test]
    fn capacity_rounds_to_power_of_two_pages() {
        let mut pipe = PipeBuffer::default();
        assert_eq!(pipe.capacity(), 65536);
        assert_eq!(pipe.set_capacity(0, false), Ok(4096));
        assert_eq!(pipe.set_capacity(4097, false), Ok(8192));
        assert_eq!(pipe.set_capacity(3 * 4096, false), Ok(16384));
        assert_eq!(pipe.set_capacity(1 << 20, false), Ok(1 << 20));
        assert_eq!(pipe.set_capacity((1 << 20) + 1, false), Err(Errno::EPERM));
        assert_eq!(pipe.set_capacity((1 << 20) + 1, true), Ok(2 << 20));
        assert_eq!(pipe.set_capacity(usize::MAX, true), Err(Errno::EINVAL));
    }

    #[test]
    fn shrinking_below_the_held_bytes_is_busy() {
        let mut pipe = PipeBuffer::default();
        pipe.write(&[0u8; 5000]).unwrap();
        assert_eq!(pipe.set_capacity(4096, false), Err(Errno::EBUSY));
        assert_eq!(pipe.set_capacity(8192, false), Ok(8192));
        assert_eq!(pipe.space(), 8192 - 5000);
    }

    #[test]
    fn packet_mode_reads_one_packet_and_drops_its_tail() {
        let mut pipe = PipeBuffer::new(true, MemoryBudget::unlimited().empty_charge());
        pipe.write(b"first").unwrap();
        pipe.write(b"second").unwrap();
        let mut out = [0u8; 64];
        assert_eq!(pipe.read(&mut out), 5);
        assert_eq!(&out[..5], b"first");
        let mut small = [0u8; 3];
        assert_eq!(pipe.read(&mut small), 3);
        assert_eq!(&small, b"sec");
        assert!(pipe.is_empty(), "the rest of the packet is discarded");
    }

    #[test]
    fn an_empty_read_leaves_packets_alone() {
        let mut pipe = PipeBuffer::new(true, MemoryBudget::unlimited().empty_charge());
        pipe.write(b"kept").unwrap();
        assert_eq!(pipe.read(&mut []), 0);
        let mut out = [0u8; 8];
        assert_eq!(pipe.read(&mut out), 4);
        assert_eq!(&out[..4], b"kept");
    }

    #[test]
    fn bytes_are_charged_while_held_and_refused_past_the_budget() {
        let budget = MemoryBudget::new(300_000);
        let mut pipe = PipeBuffer::new(false, budget.empty_charge());
        assert_eq!(pipe.write(&[1u8; 10]).unwrap(), 10);
        let first = budget.used();
        assert!((10..=2 * PIPE_BUF as u64).contains(&first), "{first}");
        assert_eq!(pipe.write(&vec![2u8; 60_000]).unwrap(), 60_000);
        assert!(budget.used() >= 60_010 && budget.used() <= 2 * DEFAULT_CAPACITY as u64);
        let mut out = vec![0u8; 70_000];
        assert_eq!(pipe.read(&mut out), 60_010);
        assert!(budget.used() <= DEFAULT_CAPACITY as u64 + PIPE_BUF as u64);
        // A larger pipe than the budget allows: the write that needs more is ENOMEM.
        pipe.set_capacity(1 << 20, false).unwrap();
        let hog = budget.charge(budget.available() - 1000).unwrap();
        assert_eq!(pipe.write(&vec![3u8; 200_000]), Err(Errno::ENOMEM));
        drop(hog);
        assert_eq!(pipe.write(&vec![3u8; 200_000]).unwrap(), 200_000);
        assert_eq!(pipe.read(&mut vec![0u8; 1 << 20]), 200_000);
        assert!(budget.used() <= DEFAULT_CAPACITY as u64 + PIPE_BUF as u64);
        drop(pipe);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn peek_push_and_unread_keep_the_order() {
        let mut pipe = PipeBuffer::default();
        pipe.write(b"abcdef").unwrap();
        let mut out = [0u8; 4];
        assert_eq!(pipe.peek(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert_eq!(pipe.len(), 6, "peeking takes nothing");
        // Past the capacity: a splice's bytes are never dropped.
        pipe.push(&vec![b'z'; DEFAULT_CAPACITY]).unwrap();
        assert_eq!(pipe.len(), DEFAULT_CAPACITY + 6);
        assert_eq!(pipe.space(), 0);
        let mut first = [0u8; 3];
        assert_eq!(pipe.read(&mut first), 3);
        pipe.unread(&first[1..]).unwrap();
        let mut again = [0u8; 5];
        assert_eq!(pipe.read(&mut again), 5);
        assert_eq!(&again, b"bcdef");
    }

    #[test]
    fn a_splice_takes_part_of_a_packet_and_leaves_the_rest() {
        let mut pipe = PipeBuffer::new(true, MemoryBudget::unlimited().empty_charge());
        pipe.write(b"first").unwrap();
        pipe.write(b"second").unwrap();
        let mut out = [0u8; 3];
        assert_eq!(pipe.take(&mut out), 3);
        assert_eq!(&out, b"fir");
        let mut rest = [0u8; 10];
        assert_eq!(pipe.take(&mut rest), 2, "one packet at a time");
        assert_eq!(&rest[..2], b"st");
        assert_eq!(pipe.read(&mut rest), 6);
        assert_eq!(&rest[..6], b"second");
    }

    #[test]
    fn packet_mode_splits_large_writes_at_pipe_buf() {
        let mut pipe = PipeBuffer::new(true, MemoryBudget::unlimited().empty_charge());
        assert_eq!(
            pipe.write(&vec![9u8; PIPE_BUF + 10]).unwrap(),
            PIPE_BUF + 10
        );
        let mut out = vec![0u8; 2 * PIPE_BUF];
        assert_eq!(pipe.read(&mut out), PIPE_BUF);
        assert_eq!(pipe.read(&mut out), 10);
    }
}
