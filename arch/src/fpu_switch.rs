//! When a CPU's FPU/SIMD registers change hands between user threads: saved only when the
//! thread leaving used them, loaded only when the thread entering uses them.
//!
//! Where it sits: [`crate::thread::switch_to`] calls [`leave`] for the thread it suspends,
//! [`crate::user::UserContext::execute`] calls [`before_user_entry`], and the trap path
//! sends a user-mode `#NM` (device not available) to [`device_not_available`]. The kernel
//! above reads and replaces the running thread's registers only through
//! [`current_state`] and [`set_current_state`] (`fork`, signal frames, `execve`,
//! `rt_sigreturn`).
//!
//! Why: saving and loading the whole XSAVE area on every switch was a sixth of a futex
//! round trip between two threads under TCG (each of its hundred-odd words is a memory
//! helper call there), and a thread that only waits and wakes never touches the registers.
//! So this is the old lazy scheme: a thread enters user mode with CR0.TS set, and its first
//! FPU or SSE instruction traps (`#NM`), which loads its registers and clears TS. A thread
//! that used them in each of its last few time slices is loaded at once instead (a trap
//! per slice would cost more than the load), and tried lazily again every
//! [`RETRY_LAZY_EVERY`] slices.
//!
//! The rule that keeps it safe: registers a program wrote are left in the CPU, with TS set,
//! only for a thread of the same address space, which could read that program's memory
//! anyway. Before a thread of another address space runs, the registers are scrubbed to
//! their initial values (this is what closes Intel's "lazy FP" speculative leak,
//! CVE-2018-3665), which with XSAVE costs one word's read where loading its own would cost
//! them all; its own come at its first FPU instruction as usual. Address spaces are told
//! apart by [`crate::paging::UserPageTable`]'s never-reused id, not by CR3; space 0 is
//! "initial values", which anyone may see.
//!
//! Invariants: a thread's saved area ([`Thread`]'s `fpu`) is its true state whenever it
//! does not run, so another CPU can take it over after the `on_cpu` hand-off; while it
//! runs, the area is true unless `dirty` (the registers are newer, and TS is clear). Each
//! saved or replaced area gets a new version, so a CPU's "I hold thread T's registers"
//! is "I hold T's registers of version V" and is never mistaken after T ran elsewhere.
//!
//! Everything here touches only this CPU's state, with interrupts off (as all kernel code
//! runs), plus the running thread's `fpu` lock (a leaf).

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

use x86_64::registers::control::{Cr0, Cr0Flags};

use crate::fpu::FpuState;
use crate::percpu;
use crate::thread::Thread;

/// A thread that used the FPU in this many time slices in a row gets its registers loaded
/// when it enters user mode rather than at its first FPU instruction.
const EAGER_AFTER: u32 = 3;
/// An eagerly loaded thread is tried lazily again every this many slices (it may have
/// stopped using the FPU; only a slice with TS set can tell).
const RETRY_LAZY_EVERY: u32 = 16;

/// One CPU's knowledge of its FPU registers.
pub(crate) struct FpuRegisters {
    /// The thread (id) and version of its saved area that the registers hold; thread 0
    /// for "nobody known".
    holder: AtomicUsize,
    holder_version: AtomicU64,
    /// The address space whose program last loaded or wrote the registers (0: none).
    space: AtomicU64,
    /// The running thread may have changed the registers since they matched its area.
    dirty: AtomicBool,
    /// CR0.TS as last written here (reading CR0 back costs more).
    trap_armed: AtomicBool,
    /// The thread whose entry to user mode was prepared since it was switched to (0: none).
    prepared_for: AtomicUsize,
}

impl FpuRegisters {
    pub(crate) const fn new() -> Self {
        FpuRegisters {
            holder: AtomicUsize::new(0),
            holder_version: AtomicU64::new(0),
            space: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
            trap_armed: AtomicBool::new(false),
            prepared_for: AtomicUsize::new(0),
        }
    }

    fn arm_trap(&self, armed: bool) {
        if self.trap_armed.load(Relaxed) == armed {
            return;
        }
        // SAFETY: CR0.TS only decides whether FPU/SIMD instructions trap (#NM); the kernel
        // is soft-float and runs none, except the saves and loads here, which clear it
        // first. Nothing else in CR0 changes.
        unsafe {
            if armed {
                Cr0::update(|flags| flags.insert(Cr0Flags::TASK_SWITCHED));
            } else {
                core::arch::asm!("clts", options(nomem, nostack, preserves_flags));
            }
        }
        self.trap_armed.store(armed, Relaxed);
    }

    fn holds(&self, thread: &Thread) -> bool {
        self.holder.load(Relaxed) == thread.id()
            && self.holder_version.load(Relaxed) == thread.fpu_version.load(Relaxed)
    }

    /// Loads `thread`'s saved registers, which it may now change (`dirty`).
    fn load(&self, thread: &Thread, space: u64) {
        self.arm_trap(false);
        if !self.holds(thread) {
            thread.fpu.lock().restore();
            self.holder.store(thread.id(), Relaxed);
            self.holder_version
                .store(thread.fpu_version.load(Relaxed), Relaxed);
            self.space.store(space, Relaxed);
        }
        self.dirty.store(true, Relaxed);
    }
}

fn is_eager(streak: u32) -> bool {
    streak >= EAGER_AFTER && !streak.is_multiple_of(RETRY_LAZY_EVERY)
}

/// `thread` is being switched away from on this CPU: its registers go to its area if it
/// changed them, and how often it uses them is noted.
pub(crate) fn leave(thread: &Thread) {
    let fpu = &percpu::this().fpu;
    let dirty = fpu.dirty.load(Relaxed);
    if fpu.prepared_for.load(Relaxed) == thread.id() {
        // It ran user code in this slice: the streak counts slices that used the FPU.
        let streak = thread.fpu_streak.load(Relaxed);
        let streak = if dirty { streak.saturating_add(1) } else { 0 };
        thread.fpu_streak.store(streak, Relaxed);
    }
    if dirty {
        // `dirty` means TS is clear, so the save cannot trap.
        thread.fpu.lock().save();
        let version = thread.fpu_version.load(Relaxed) + 1;
        thread.fpu_version.store(version, Relaxed);
        fpu.holder_version.store(version, Relaxed);
        fpu.dirty.store(false, Relaxed);
    }
    fpu.prepared_for.store(0, Relaxed);
}

/// The running thread is about to enter user mode in the address space activated last.
/// Once per time slice (and after the kernel replaced its registers) this decides whether
/// its registers are loaded now or on first use.
pub(crate) fn before_user_entry() {
    let cpu = percpu::this();
    crate::thread::with_current(|thread| prepare_user_entry(cpu, thread));
}

fn prepare_user_entry(cpu: &percpu::CpuLocal, thread: &Thread) {
    let fpu = &cpu.fpu;
    if fpu.prepared_for.load(Relaxed) == thread.id() {
        return;
    }
    fpu.prepared_for.store(thread.id(), Relaxed);
    let space = cpu.user_space.load(Relaxed);
    if is_eager(thread.fpu_streak.load(Relaxed)) {
        fpu.load(thread, space);
        return;
    }
    let held_space = fpu.space.load(Relaxed);
    if !fpu.holds(thread) && held_space != space && held_space != 0 {
        // Another program's values must not stay readable, even behind TS.
        fpu.arm_trap(false);
        crate::fpu::scrub_registers();
        fpu.holder.store(0, Relaxed);
        fpu.space.store(0, Relaxed);
    }
    fpu.arm_trap(true);
}

/// A `#NM` from user mode: the running thread's first FPU instruction since it entered.
/// Loads its registers and returns true (the instruction is retried); false when TS was
/// not set by this module, a fault for the kernel to report.
pub(crate) fn device_not_available() -> bool {
    let cpu = percpu::this();
    let fpu = &cpu.fpu;
    if !fpu.trap_armed.load(Relaxed) {
        return false;
    }
    let current = cpu.current.lock();
    let thread = current
        .as_ref()
        .expect("user code runs on a thread (`before_user_entry` made it one)");
    fpu.load(thread, cpu.user_space.load(Relaxed));
    true
}

/// The running thread's user FPU registers as they stand (what `fork` gives the child and
/// a signal frame saves).
pub fn current_state() -> FpuState {
    let cpu = percpu::this();
    if cpu.fpu.dirty.load(Relaxed) {
        // The registers are newer than the area; TS is clear while `dirty`.
        let mut state = FpuState::initial();
        state.save();
        return state;
    }
    crate::thread::current().fpu.lock().clone()
}

/// Gives the running thread's user program these FPU registers (`execve`'s initial ones,
/// or a signal frame's at `rt_sigreturn`); they are loaded on its way back to user mode or
/// at its first FPU instruction.
pub fn set_current_state(state: FpuState) {
    let cpu = percpu::this();
    let fpu = &cpu.fpu;
    let thread = crate::thread::current();
    *thread.fpu.lock() = state;
    thread
        .fpu_version
        .store(thread.fpu_version.load(Relaxed) + 1, Relaxed);
    fpu.dirty.store(false, Relaxed);
    fpu.prepared_for.store(0, Relaxed);
}
