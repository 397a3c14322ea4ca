//! Layer 0: timestamps and the injected clock that every filesystem stamps them with.
//!
//! The crate has no clock of its own: the kernel supplies one (its timer), tests a fake,
//! so timestamp behaviour is deterministic under test.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicI64, Ordering};

/// Seconds and nanoseconds since the Unix epoch, as in Linux's `struct timespec64`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: u32,
}

impl Timespec {
    pub const fn new(sec: i64, nsec: u32) -> Self {
        Timespec { sec, nsec }
    }
}

/// Where filesystems get "now" from.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timespec;
}

/// A shared clock handle, as filesystems and namespaces store it.
pub type ClockRef = Arc<dyn Clock>;

/// A clock that only moves when told to: for tests, and for a kernel that has not
/// calibrated its timer yet.
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: AtomicI64,
}

impl ManualClock {
    pub fn new(start: Timespec) -> Self {
        ManualClock {
            nanos: AtomicI64::new(start.sec * 1_000_000_000 + start.nsec as i64),
        }
    }

    pub fn advance_nanos(&self, nanos: i64) {
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timespec {
        let nanos = self.nanos.load(Ordering::Relaxed);
        Timespec {
            sec: nanos.div_euclid(1_000_000_000),
            nsec: nanos.rem_euclid(1_000_000_000) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(Timespec::new(10, 999_999_999));
        assert_eq!(clock.now(), Timespec::new(10, 999_999_999));
        clock.advance_nanos(2);
        assert_eq!(clock.now(), Timespec::new(11, 1));
    }
}
