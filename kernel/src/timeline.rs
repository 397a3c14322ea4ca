//! The boot timeline: time since the PVH entry, from the TSC.
//!
//! Phases are recorded as raw TSC values and printed only when the kernel is ready, so the
//! cost of printing them (slow on an emulated UART) does not show up in the timeline it
//! prints. `[  0.000812] ready` is the line a benchmark reads.
//!
//! Locks: `PHASES` (spin), then the console's `CONSOLE` while [`flush`] prints with it held.
//! Nothing takes `PHASES` while holding `CONSOLE` (a log line reads only the atomics here).

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;

use arch::cpu::read_tsc;

/// Used when neither the command line nor CPUID names the TSC frequency.
const ASSUMED_TSC_KHZ: u64 = 1_000_000;
const MAX_PHASES: usize = 128;

static ENTRY_TSC: AtomicU64 = AtomicU64::new(0);
static TSC_KHZ: AtomicU64 = AtomicU64::new(0);
/// `mult_for_khz` of the frequency in use (0: not computed yet). Every clock read needs
/// it, and it is a 128-bit division.
static TSC_MULT: AtomicU64 = AtomicU64::new(0);
static PHASES: Mutex<Phases> = Mutex::new(Phases {
    entries: [("", 0); MAX_PHASES],
    len: 0,
});

struct Phases {
    entries: [(&'static str, u64); MAX_PHASES],
    len: usize,
}

/// A point on the timeline, printed as `[  s.micros]`.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    nanos: u64,
}

impl Stamp {
    pub fn micros(&self) -> u64 {
        self.nanos / 1000
    }

    pub fn nanos(&self) -> u64 {
        self.nanos
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.micros();
        write!(f, "[{:>3}.{:06}]", micros / 1_000_000, micros % 1_000_000)
    }
}

pub fn start(entry_tsc: u64) {
    ENTRY_TSC.store(entry_tsc, Ordering::Relaxed);
}

/// The TSC frequency in use, if one is known.
pub fn tsc_khz() -> Option<u64> {
    Some(TSC_KHZ.load(Ordering::Relaxed)).filter(|&khz| khz != 0)
}

pub fn set_tsc_khz(khz: Option<u64>) {
    TSC_KHZ.store(khz.unwrap_or(0), Ordering::Relaxed);
    TSC_MULT.store(0, Ordering::Relaxed);
}

/// The clock's scale: the TSC at entry (time 0) and the TSC-to-nanoseconds factor, in
/// the fixed point the vDSO computes with too ([`crate::exec::vdso::cycles_to_nanos`]), so
/// the time a program reads in user mode is the kernel's to the nanosecond.
pub fn tsc_scale() -> (u64, u64) {
    let mult = match TSC_MULT.load(Ordering::Relaxed) {
        0 => {
            let khz = match TSC_KHZ.load(Ordering::Relaxed) {
                0 => ASSUMED_TSC_KHZ,
                khz => khz,
            };
            let mult = crate::exec::vdso::mult_for_khz(khz);
            TSC_MULT.store(mult, Ordering::Relaxed);
            mult
        }
        mult => mult,
    };
    (ENTRY_TSC.load(Ordering::Relaxed), mult)
}

fn stamp_of(tsc: u64) -> Stamp {
    let (entry, mult) = tsc_scale();
    Stamp {
        nanos: crate::exec::vdso::cycles_to_nanos(tsc.saturating_sub(entry), mult),
    }
}

pub fn now() -> Stamp {
    stamp_of(read_tsc())
}

/// Records that a boot phase has just finished.
pub fn phase(name: &'static str) {
    let tsc = read_tsc();
    let mut phases = PHASES.lock();
    if phases.len < MAX_PHASES {
        let index = phases.len;
        phases.entries[index] = (name, tsc);
        phases.len += 1;
    }
}

/// Marks the kernel ready. The phases are printed (at `log=info` or more) by the next
/// [`flush`], so printing never sits between the ready mark and the phases after it.
pub fn ready() {
    phase("ready");
    if TSC_KHZ.load(Ordering::Relaxed) == 0 {
        log::warn!("TSC frequency unknown, timestamps assume 1 GHz (pass tsc_khz=)");
    }
}

/// How many recorded phases have been printed.
static PRINTED: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Prints the phases recorded since the last print, at `log=info` or more. Called when
/// the container's init is about to start, before a self-test, and at exit, so printing
/// never sits between two phases it measures.
pub fn flush() {
    if log::max_level() < log::LevelFilter::Info {
        return;
    }
    let phases = PHASES.lock();
    let from = PRINTED.swap(phases.len, Ordering::Relaxed);
    if from == 0 {
        // The guest TSC starts at 0 when the VMM starts the vCPU (QEMU's TCG and KVM
        // both), so the entry's own TSC is the time the firmware and loader took.
        let (entry, mult) = tsc_scale();
        let micros = crate::exec::vdso::cycles_to_nanos(entry, mult) / 1000;
        crate::console::print_line(format_args!(
            "timeline: PVH entry {micros} us after the vCPU started"
        ));
    }
    for &(name, tsc) in &phases.entries[from.min(phases.len)..phases.len] {
        crate::console::print_line(format_args!("{} {name}", stamp_of(tsc)));
    }
}
