//! eventfd's counter and Linux's rules for it (`fs/eventfd.c`): a read takes the whole
//! count (or 1 in semaphore mode) and finds nothing at 0; a write adds its value when the
//! sum stays below `u64::MAX`, so the counter never exceeds `0xffff_ffff_ffff_fffe`; a write
//! of `u64::MAX` itself is refused.
//!
//! Pure bookkeeping, host-tested: whether a caller sleeps, gets `EAGAIN` or `EINTR` is
//! decided one layer up ([`super::eventfd`]), from what these methods report.

use vfs_core::Errno;

/// The largest value the counter holds.
pub const MAX_COUNT: u64 = u64::MAX - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter {
    count: u64,
    /// `EFD_SEMAPHORE`: a read takes 1, not the whole count.
    semaphore: bool,
}

impl Counter {
    /// `eventfd(initval, …)`: `initval` is an `unsigned int`, as in Linux's prototype.
    pub fn new(initial: u32, semaphore: bool) -> Counter {
        Counter {
            count: u64::from(initial),
            semaphore,
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn semaphore(&self) -> bool {
        self.semaphore
    }

    /// A read: the value it returns, taken from the counter; `None` while the counter is 0
    /// (the reader waits, or gets `EAGAIN`).
    pub fn take(&mut self) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let taken = if self.semaphore { 1 } else { self.count };
        self.count -= taken;
        Some(taken)
    }

    /// Whether a write of `value` is acceptable at all (`EINVAL` for `u64::MAX`, before
    /// any waiting).
    pub fn check(value: u64) -> Result<(), Errno> {
        if value == u64::MAX {
            Err(Errno::EINVAL)
        } else {
            Ok(())
        }
    }

    /// Adds `value` if the sum stays at most [`MAX_COUNT`]; whether it did (if not, the
    /// writer waits for a read, or gets `EAGAIN`). A write of 0 always fits.
    pub fn add(&mut self, value: u64) -> bool {
        if u64::MAX - self.count > value {
            self.count += value;
            true
        } else {
            false
        }
    }

    /// `POLLIN`: a read would not wait.
    pub fn readable(&self) -> bool {
        self.count > 0
    }

    /// `POLLOUT`: a write of 1 would not wait.
    pub fn writable(&self) -> bool {
        self.count < MAX_COUNT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_takes_everything_and_then_finds_nothing() {
        let mut counter = Counter::new(3, false);
        assert!(counter.add(4));
        assert_eq!(counter.take(), Some(7));
        assert_eq!(counter.take(), None);
        assert_eq!(counter.count(), 0);
    }

    #[test]
    fn a_semaphore_read_takes_one() {
        let mut counter = Counter::new(2, true);
        assert_eq!(counter.take(), Some(1));
        assert_eq!(counter.take(), Some(1));
        assert_eq!(counter.take(), None);
    }

    #[test]
    fn the_counter_stops_one_below_the_maximum() {
        let mut counter = Counter::new(0, false);
        assert!(counter.add(MAX_COUNT));
        assert_eq!(counter.count(), 0xffff_ffff_ffff_fffe);
        assert!(!counter.writable());
        assert!(!counter.add(1));
        // A write of 0 still fits (and wakes readers, one layer up).
        assert!(counter.add(0));
        assert_eq!(counter.take(), Some(MAX_COUNT));
        assert!(counter.writable());
        assert!(!counter.readable());
    }

    #[test]
    fn a_write_that_would_overflow_does_not_change_the_count() {
        let mut counter = Counter::new(5, false);
        assert!(!counter.add(MAX_COUNT - 4));
        assert_eq!(counter.count(), 5);
        assert!(counter.add(MAX_COUNT - 5));
        assert_eq!(counter.count(), MAX_COUNT);
    }

    #[test]
    fn writing_the_maximum_itself_is_einval() {
        assert_eq!(Counter::check(u64::MAX), Err(Errno::EINVAL));
        assert_eq!(Counter::check(MAX_COUNT), Ok(()));
    }

    #[test]
    fn the_initial_value_is_32_bits() {
        assert_eq!(Counter::new(u32::MAX, false).count(), 0xffff_ffff);
    }
}
