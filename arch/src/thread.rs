//! Kernel threads: a kernel stack, the registers a suspended thread left behind, and its
//! user program's FPU registers; and the one operation the scheduler above needs, "run that
//! thread now" ([`switch_to`]).
//!
//! Why here: switching stacks is the one thing that cannot be written in safe Rust, and its
//! soundness rests on a rule no caller could check: a stack is freed only when no CPU runs on
//! it. This module keeps that rule itself. The running thread is always held by the CPU
//! ([`current`] hands out clones), and the thread a CPU leaves is dropped only after the CPU
//! stands on the next thread's stack, so the last `Arc` of an ended thread frees its stack
//! from elsewhere. The policy (which thread runs next, wait queues, time slices) is the
//! kernel's, above.
//!
//! Interrupts are off whenever the kernel runs (entries mask IF; only the idle loop's `hlt`
//! opens them), so a switch is never interrupted. Each CPU's slots (`current`, `previous`)
//! are in its per-CPU block ([`crate::percpu`]).
//!
//! Several CPUs: a thread may be picked by one CPU while another is still leaving it (it
//! blocked there, and a waker queued it at once). Its `on_cpu` flag says a CPU still
//! stands on its stack; [`switch_to`] waits for it to clear before loading the thread's
//! registers, and a CPU clears it for the thread it left only once it stands on the next
//! one's stack (in `resumed`). The scheduler's own per-thread state (whether it is
//! running, queued or blocked, its last CPU and affinity) is kept here as plain atomics
//! for the kernel's scheduler, which owns their meaning.
//!
//! Lock order: a CPU's `current` and `previous` are each taken alone; a thread's `fpu`
//! and `entry` are leaves.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use spin::Mutex;

use crate::fpu::FpuState;
use crate::percpu;

/// Each thread's kernel stack. System calls walk paths and parse ELF files on it; 64 KiB is
/// Linux's 16 KiB with room for Rust's larger frames.
pub const KERNEL_STACK_SIZE: usize = 64 * 1024;

type Entry = Box<dyn FnOnce() + Send>;

/// What a thread does when its entry returns: the scheduler's "end me and run another"
/// (set once by the kernel; it never returns, and never switches back to the ended thread).
static ON_RETURN: spin::Once<fn() -> !> = spin::Once::new();

/// Sets what a thread whose entry returned does next (see [`ON_RETURN`]).
pub fn set_on_return(end: fn() -> !) {
    ON_RETURN.call_once(|| end);
}

pub struct Thread {
    id: usize,
    /// `None` for the boot thread, which runs on the boot stack.
    #[allow(dead_code, reason = "held, never read: the thread runs on it")]
    stack: Option<Vec<u128>>,
    /// The stack pointer a suspended thread resumes from (callee-saved registers and the
    /// return address are on its stack).
    saved_rsp: AtomicU64,
    /// Its user program's FPU registers while it does not run (see [`crate::fpu_switch`]).
    pub(crate) fpu: Mutex<FpuState>,
    /// Bumped whenever `fpu` gets new contents, so a CPU knows whether its registers still
    /// match them.
    pub(crate) fpu_version: AtomicU64,
    /// Time slices in a row in which its program used the FPU.
    pub(crate) fpu_streak: AtomicU32,
    /// What a new thread runs first; taken when it starts.
    entry: Mutex<Option<Entry>>,
    /// Nanoseconds the scheduler above reports this thread spent off the CPU (switched
    /// away or idle), for CPU-time accounting.
    off_cpu_ns: AtomicU64,
    /// Nanoseconds spent running user code (what the layer above measured).
    user_ns: AtomicU64,
    /// Whom the layer above runs on this thread (the task id of a user thread; 0: none),
    /// so "who is running" costs a load rather than a search.
    owner: AtomicU32,
    /// A CPU stands on this thread's stack (runs it, or is still switching away from it).
    on_cpu: AtomicBool,
    /// The scheduler's state of this thread (its values are the scheduler's).
    pub sched_state: AtomicU8,
    /// The CPU that ran this thread last.
    pub last_cpu: AtomicU32,
    /// The CPUs this thread may run on (bit `i`: CPU `i`).
    pub affinity: AtomicU64,
    /// The kernel's wait-queue epoch when this thread last got ready to wait (its meaning
    /// is the wait queues').
    pub wait_epoch: AtomicU64,
    /// The kernel's signal-arrival generation (plus one; 0: none) at which it last found
    /// no signal waiting for this thread (its meaning is the kernel's task table's).
    pub signal_quiet_at: AtomicU64,
}

impl core::fmt::Debug for Thread {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Thread").field("id", &self.id).finish()
    }
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

impl Thread {
    /// A new thread that will run `entry` on its own stack the first time it is switched
    /// to; when `entry` returns, the thread ends through [`set_on_return`]'s function. `fpu` is its user program's starting registers ([`FpuState::initial`] for a new
    /// program, [`crate::fpu_switch::current_state`] for a `fork`). `None` when memory is short.
    pub fn new(entry: impl FnOnce() + Send + 'static, fpu: FpuState) -> Option<Arc<Thread>> {
        let words = KERNEL_STACK_SIZE / core::mem::size_of::<u128>();
        let mut stack = Vec::new();
        stack.try_reserve_exact(words).ok()?;
        stack.resize(words, 0u128);
        // The first switch pops six callee-saved registers (zeros) and returns into the
        // trampoline, whose address is the stack's last word; it then stands at the very top,
        // 16-byte aligned, so its `call` gives the entry the ABI's alignment.
        let top = stack.as_ptr() as u64 + KERNEL_STACK_SIZE as u64;
        let rsp = top - 7 * 8;
        let last = stack.len() - 1;
        // x86_64 is little-endian: the last u128's upper half is the stack's last u64.
        stack[last] = u128::from(thread_trampoline as *const () as u64) << 64;
        Some(Arc::new(Thread {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            stack: Some(stack),
            saved_rsp: AtomicU64::new(rsp),
            fpu: Mutex::new(fpu),
            fpu_version: AtomicU64::new(0),
            fpu_streak: AtomicU32::new(0),
            entry: Mutex::new(Some(Box::new(entry))),
            off_cpu_ns: AtomicU64::new(0),
            user_ns: AtomicU64::new(0),
            owner: AtomicU32::new(0),
            on_cpu: AtomicBool::new(false),
            sched_state: AtomicU8::new(0),
            last_cpu: AtomicU32::new(percpu::cpu_index() as u32),
            affinity: AtomicU64::new(u64::MAX),
            wait_epoch: AtomicU64::new(u64::MAX),
            signal_quiet_at: AtomicU64::new(0),
        }))
    }

    pub fn id(&self) -> usize {
        self.id
    }

    /// Adds to the time this thread spent off the CPU (see `off_cpu_ns`).
    pub fn add_off_cpu_ns(&self, ns: u64) {
        self.off_cpu_ns.fetch_add(ns, Ordering::Relaxed);
    }

    pub fn off_cpu_ns(&self) -> u64 {
        self.off_cpu_ns.load(Ordering::Relaxed)
    }

    /// Adds to the time this thread ran user code, which others may read (`/proc`).
    pub fn add_user_ns(&self, ns: u64) {
        self.user_ns.fetch_add(ns, Ordering::Relaxed);
    }

    pub fn user_ns(&self) -> u64 {
        self.user_ns.load(Ordering::Relaxed)
    }

    /// Records whom the layer above runs on this thread (see `owner`).
    pub fn set_owner(&self, owner: u32) {
        self.owner.store(owner, Ordering::Relaxed);
    }

    pub fn owner(&self) -> u32 {
        self.owner.load(Ordering::Relaxed)
    }

    /// Whether a CPU stands on this thread's stack (runs it, or is still leaving it).
    pub fn is_on_cpu(&self) -> bool {
        self.on_cpu.load(Ordering::Acquire)
    }
}

/// The running thread. The first call on a CPU makes its boot context a thread of its own
/// (that CPU's first thread: the boot CPU's runs the kernel's start, the others' their
/// idle loop), so every context the kernel runs in is one.
pub fn current() -> Arc<Thread> {
    let cpu = percpu::this();
    let mut current = cpu.current.lock();
    current
        .get_or_insert_with(|| {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let thread = Arc::new(Thread {
                id,
                stack: None,
                saved_rsp: AtomicU64::new(0),
                fpu: Mutex::new(FpuState::initial()),
                fpu_version: AtomicU64::new(0),
                fpu_streak: AtomicU32::new(0),
                entry: Mutex::new(None),
                off_cpu_ns: AtomicU64::new(0),
                user_ns: AtomicU64::new(0),
                owner: AtomicU32::new(0),
                on_cpu: AtomicBool::new(true),
                sched_state: AtomicU8::new(0),
                last_cpu: AtomicU32::new(cpu.index() as u32),
                affinity: AtomicU64::new(u64::MAX),
                wait_epoch: AtomicU64::new(u64::MAX),
                signal_quiet_at: AtomicU64::new(0),
            });
            cpu.current_ptr
                .store(Arc::as_ptr(&thread).cast_mut(), Ordering::Relaxed);
            thread
        })
        .clone()
}

/// Runs `f` on the running thread without taking a reference count or a lock: for the
/// hot paths that only look at it (wait queues, the signal check, the scheduler).
///
/// Sound whatever `f` does, switches included: the thread is the one executing this
/// code, and a thread outlives every frame on its own stack (its stack is freed with
/// it), so the reference stays valid wherever it resumes.
pub fn with_current<R>(f: impl FnOnce(&Thread) -> R) -> R {
    let ptr = percpu::this().current_ptr.load(Ordering::Relaxed);
    if ptr.is_null() {
        // The CPU's first thread is made on first demand (see `current`).
        return f(&current());
    }
    // SAFETY: `current_ptr` is set, together with `current`, to the thread this CPU runs
    // (in `switch_to` before the switch, in `current` when the first thread is made), and
    // it is read here on that thread's own stack, so it names the running thread. That
    // thread is kept alive by `current` while it runs and by whoever will wake or drop it
    // while it is switched out; its stack is freed only with it, so no frame of its
    // (this one included) outlives it.
    f(unsafe { &*ptr })
}

/// The running thread's id ([`Thread::id`]) without taking a reference to it: for "is this
/// one the running thread" on hot paths.
pub fn current_id() -> usize {
    with_current(Thread::id)
}

/// Suspends the running thread and runs `next` until some thread switches back to this
/// one; returns then. Switching to the running thread returns at once. If another CPU is
/// still leaving `next`, waits until it has (a few instructions).
pub fn switch_to(next: Arc<Thread>) {
    let me = current();
    if Arc::ptr_eq(&me, &next) {
        return;
    }
    while next
        .on_cpu
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    next.last_cpu
        .store(percpu::cpu_index() as u32, Ordering::Relaxed);
    crate::fpu_switch::leave(&me);
    let from = me.saved_rsp.as_ptr();
    let to = next.saved_rsp.load(Ordering::Acquire);
    let cpu = percpu::this();
    cpu.current_ptr
        .store(Arc::as_ptr(&next).cast_mut(), Ordering::Relaxed);
    crate::user::forget_loaded_bases(cpu);
    *cpu.previous.lock() = cpu.current.lock().replace(next);
    drop(me);
    // SAFETY: `from` points into a thread this CPU's slots keep alive (`previous` until the next thread has left our stack, then whoever resumes us holds it); `to` is a stack pointer saved by this function (released by the `on_cpu` store that `resumed` makes on the CPU that saved it, acquired above) or laid out by `Thread::new`, on a stack kept alive by `current`, which now holds `next`. Interrupts are off, so nothing runs between the two halves.
    unsafe { context_switch(from, to) };
    resumed();
}

/// Every thread's first steps after a switch lands on it: the thread it replaced released
/// (now that no CPU runs on that one's stack). Its FPU registers come back on its way to
/// user mode or at its first FPU instruction ([`crate::fpu_switch`]).
fn resumed() {
    let cpu = percpu::this();
    let previous = cpu.previous.lock().take();
    if let Some(previous) = previous {
        // Its registers are saved and no CPU stands on its stack: another CPU may run it.
        previous.on_cpu.store(false, Ordering::Release);
        drop(previous);
    }
}

/// Where a new thread's first switch returns to: runs its entry, which never returns.
extern "C" fn thread_start() -> ! {
    resumed();
    let me = current();
    let entry = me.entry.lock().take().expect("a new thread has its entry");
    drop(me);
    entry();
    let end = ON_RETURN
        .get()
        .expect("the scheduler sets set_on_return before it starts threads");
    end()
}

unsafe extern "C" {
    /// Saves the callee-saved registers on the current stack and its pointer in `*from`,
    /// then loads `to` and pops the registers saved there.
    fn context_switch(from: *mut u64, to: u64);
    fn thread_trampoline() -> !;
}

core::arch::global_asm!(
    r#"
    .section .text.thread, "ax"
    .global context_switch
context_switch:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret

    .global thread_trampoline
thread_trampoline:
    call {start}
    ud2
"#,
    start = sym thread_start,
);

/// Gives the running thread's user program the FPU/SIMD registers a new program starts
/// with (`execve`, a signal handler's start), as Linux does.
pub fn reset_fpu() {
    crate::fpu_switch::set_current_state(FpuState::initial());
}
