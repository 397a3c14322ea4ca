//! PROFILE (temporary): where fork+exec+exit time goes.
use core::sync::atomic::{AtomicU64, Ordering};

pub const SLOTS: usize = 24;
pub static NAMES: [&str; SLOTS] = [
    "execve total", "exec open+head", "exec parse+interp", "exec creds", "exec mm+segments",
    "exec stack", "exec end threads+files", "exec cloexec+signals", "exec exe+image",
    "exec old mm drop", "fault", "fault file", "fault anon", "fault cow", "exit total",
    "exit drop process", "clone", "fork mm", "wait", "execve read args", "exec release", "", "", "",
];
static CYCLES: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];
static COUNT: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];
static REQS: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

pub struct Stamp {
    tsc: u64,
    reqs: u64,
}

#[cfg(target_os = "none")]
pub fn now() -> Stamp {
    Stamp {
        tsc: arch::cpu::read_tsc(),
        reqs: drivers::virtio_9p::PROFILE_REQUESTS.load(Ordering::Relaxed),
    }
}
#[cfg(not(target_os = "none"))]
pub fn now() -> Stamp {
    Stamp { tsc: 0, reqs: 0 }
}

impl Stamp {
    /// Adds the time since this stamp to `slot` and restarts the stamp.
    pub fn lap(&mut self, slot: usize) {
        let next = now();
        CYCLES[slot].fetch_add(next.tsc - self.tsc, Ordering::Relaxed);
        COUNT[slot].fetch_add(1, Ordering::Relaxed);
        REQS[slot].fetch_add(next.reqs - self.reqs, Ordering::Relaxed);
        *self = next;
    }
}

#[cfg(target_os = "none")]
pub fn print() {
    let khz = crate::timeline::tsc_khz().unwrap_or(1_000_000);
    for slot in 0..SLOTS {
        let count = COUNT[slot].load(Ordering::Relaxed);
        if count == 0 {
            continue;
        }
        let cycles = CYCLES[slot].load(Ordering::Relaxed);
        let us_total = cycles * 1000 / khz;
        log::warn!(
            "PROFILE {:<24} n={count:>7} total={us_total:>9}us per={:>7}ns reqs/100ops={}",
            NAMES[slot],
            cycles * 1_000_000 / khz / count,
            REQS[slot].load(Ordering::Relaxed) * 100 / count
        );
    }
}
