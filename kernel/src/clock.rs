//! Time: a monotonic clock from the TSC (nanoseconds since the PVH entry) and the real-time
//! clock, which is the host's time at boot (from the command line) plus the monotonic clock.

use core::sync::atomic::{AtomicI64, Ordering};

use vfs_core::{Clock, Timespec};

static REALTIME_AT_BOOT_NS: AtomicI64 = AtomicI64::new(0);

pub fn set_realtime_at_boot(unix_ns: i64) {
    REALTIME_AT_BOOT_NS.store(unix_ns, Ordering::Relaxed);
}

pub fn monotonic_ns() -> i64 {
    crate::timeline::now().nanos() as i64
}

pub fn realtime_ns() -> i64 {
    REALTIME_AT_BOOT_NS.load(Ordering::Relaxed) + monotonic_ns()
}

/// The real-time clock less the monotonic one (fixed: the real-time clock is not set
/// here), to turn a real-time deadline into a monotonic one exactly, with no second
/// clock read between.
pub fn realtime_offset_ns() -> i64 {
    REALTIME_AT_BOOT_NS.load(Ordering::Relaxed)
}

pub fn to_timespec(ns: i64) -> Timespec {
    Timespec::new(
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    )
}

/// Waits `ns` nanoseconds: halted between timer ticks while a whole tick remains (so a
/// sleeping sandbox costs the host nothing), then spinning to the exact moment.
pub fn spin_for(ns: i64) {
    let tick_ns = (1_000_000_000 / arch::apic::TICK_HZ) as i64;
    let until = monotonic_ns().saturating_add(ns);
    while arch::apic::timer_running() && until - monotonic_ns() > tick_ns {
        arch::apic::wait_for_interrupt();
    }
    while monotonic_ns() < until {
        core::hint::spin_loop();
    }
}

/// The clock filesystems stamp times with.
pub struct RealTimeClock;

impl Clock for RealTimeClock {
    fn now(&self) -> Timespec {
        to_timespec(realtime_ns())
    }
}
