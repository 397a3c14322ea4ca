//! Which thread runs where: a round-robin run queue per CPU, sleepers ordered by deadline,
//! and on each CPU an idle thread that halts until an interrupt when nothing is runnable.
//!
//! A thread's scheduling state (`arch::thread::Thread::sched_state`) is one atomic:
//! - `RUNNING`: a CPU runs it (or it is on its way to block);
//! - `WOKEN`: running, and woken since it last blocked: its next [`block`] returns at once
//!   (a waker on another CPU may come between a thread making itself findable and its
//!   [`block`]; this is how that wake-up is not lost);
//! - `BLOCKED`: off every CPU and queue; [`wake`] queues it;
//! - `QUEUED`: on exactly one run queue;
//! - `DEAD`, `IDLE`: an ended thread, a CPU's idle thread (never queued).
//!
//! Placement ([`wake`]): the thread's last CPU if it is idle, else any idle CPU it may run
//! on, else the allowed CPU with the shortest queue; an idle target is kicked out of `hlt`
//! by an IPI. Balance: an idle CPU takes a thread from the longest queue it may run
//! (each pass of its loop: at least every timer tick); and at each timer tick a busy CPU
//! whose load (its queue and the running thread) is at least two above the least loaded
//! CPU's gives that CPU its newest queued thread allowed there ([`balance`]), so busy
//! CPUs even out too, not only idle ones. A running thread yields at its tick only to
//! its own CPU's queue, and moves when its affinity no longer allows its CPU.
//! A thread queued on one CPU while another still leaves it is safe: `arch::thread`
//! waits for that CPU to be off its stack before running it.
//!
//! CPU time per CPU (`/proc/stat`): user time as the run loop measures it, idle time as
//! the idle loop halts; the rest of the time since the CPU came up is system time.
//!
//! Lock order: a wait queue's list → a CPU's run queue (`CpuQueue::queue`, one at a time)
//! → `SLEEPERS`. No run-queue lock is held while another is taken: stealing takes the
//! victim's alone.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use arch::percpu::{self, MAX_CPUS};
use arch::thread::{self, Thread};
use spin::{Mutex, Once};

use crate::fs::proc::CpuTimes;

const RUNNING: u8 = 0;
const WOKEN: u8 = 1;
const BLOCKED: u8 = 2;
const QUEUED: u8 = 3;
const DEAD: u8 = 4;
const IDLE: u8 = 5;

/// One CPU's scheduling state.
struct CpuQueue {
    /// Threads ready to run here, oldest first (the running one is not in it).
    queue: Mutex<VecDeque<Arc<Thread>>>,
    /// Halted (or about to halt) in its idle loop: a thread queued here needs a kick.
    idle: AtomicBool,
    /// The CPU's idle thread, which runs when nothing else may.
    idle_thread: Once<Arc<Thread>>,
    /// Nanoseconds of user code, of halting, and the monotonic time the CPU came up.
    user_ns: AtomicU64,
    idle_ns: AtomicU64,
    up_at: AtomicI64,
    /// Switches on this CPU (`/proc/stat`'s `ctxt`).
    switches: AtomicU64,
}

impl CpuQueue {
    const fn new() -> Self {
        CpuQueue {
            queue: Mutex::new(VecDeque::new()),
            idle: AtomicBool::new(false),
            idle_thread: Once::new(),
            user_ns: AtomicU64::new(0),
            idle_ns: AtomicU64::new(0),
            up_at: AtomicI64::new(0),
            switches: AtomicU64::new(0),
        }
    }
}

static CPUS: [CpuQueue; MAX_CPUS] = [const { CpuQueue::new() }; MAX_CPUS];
/// Threads asleep until a monotonic time (ns), with that time.
static SLEEPERS: Mutex<Vec<(i64, Arc<Thread>)>> = Mutex::new(Vec::new());

fn this_cpu() -> (usize, &'static CpuQueue) {
    let index = percpu::cpu_index();
    (index, &CPUS[index])
}

static STARTED: Once<()> = Once::new();

/// Sets up what a thread whose entry returned does: end, and let the others run. Called
/// on the boot CPU before anything blocks (again by the task layer: once is enough); also
/// makes its idle thread.
pub fn init() {
    STARTED.call_once(|| {
        thread::set_on_return(end_current);
        cpu_up();
    });
}

/// The running CPU joins the scheduler: its idle thread (the boot CPU gets a new one; an
/// application processor's own boot context is its idle thread) and its clock.
fn cpu_up() {
    let (index, cpu) = this_cpu();
    cpu.up_at
        .store(crate::clock::monotonic_ns(), Ordering::Relaxed);
    cpu.idle_thread.call_once(|| {
        let idle = if index == 0 {
            Thread::new(idle_loop, arch::fpu::FpuState::initial())
                .expect("memory for the boot CPU's idle thread")
        } else {
            thread::current()
        };
        idle.sched_state.store(IDLE, Ordering::Relaxed);
        idle.affinity.store(1 << index, Ordering::Relaxed);
        idle
    });
}

/// An application processor's life once it is up: it joins the scheduler and idles until
/// there is work.
pub fn run_application_processor() -> ! {
    cpu_up();
    idle_loop();
    unreachable!("the idle loop never ends")
}

/// The CPUs `thread` may run on now (never none: a mask naming no online CPU means all).
fn allowed(thread: &Thread) -> u64 {
    let online = percpu::online_mask().max(1);
    let mask = thread.affinity.load(Ordering::Relaxed) & online;
    if mask == 0 { online } else { mask }
}

/// The CPU indexes whose bits `mask` has, lowest first.
fn cpus_in(mask: u64) -> impl Iterator<Item = usize> {
    let mut rest = mask;
    core::iter::from_fn(move || {
        if rest == 0 {
            return None;
        }
        let index = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        Some(index)
    })
}

/// Where a woken thread goes (see the module's notes). It runs on every wake-up, so it
/// looks only at the CPUs the thread may use, and at once when that is one CPU.
fn place(thread: &Thread) -> usize {
    let allowed = allowed(thread);
    if allowed.is_power_of_two() {
        return allowed.trailing_zeros() as usize;
    }
    let last = thread.last_cpu.load(Ordering::Relaxed) as usize;
    let ok = |index: usize| index < MAX_CPUS && allowed & (1 << index) != 0;
    if ok(last) && CPUS[last].idle.load(Ordering::SeqCst) {
        return last;
    }
    if let Some(idle) = cpus_in(allowed).find(|&index| CPUS[index].idle.load(Ordering::SeqCst)) {
        return idle;
    }
    let (here, _) = this_cpu();
    cpus_in(allowed)
        .min_by_key(|&index| {
            let len = CPUS[index].queue.lock().len();
            // Ties go to the last CPU (its caches), then to this one.
            (len, index != last, index != here)
        })
        .unwrap_or(here)
}

/// Puts a `QUEUED` thread on CPU `index`'s queue and kicks that CPU if it idles.
fn enqueue_on(index: usize, thread: Arc<Thread>) {
    CPUS[index].queue.lock().push_back(thread);
    // Pairs with the idle loop's store of `idle` before it looks at its queue once more.
    core::sync::atomic::fence(Ordering::SeqCst);
    let (here, _) = this_cpu();
    if index != here && CPUS[index].idle.load(Ordering::SeqCst) {
        arch::apic::kick(percpu_apic_id(index));
    }
}

fn percpu_apic_id(index: usize) -> u32 {
    percpu::apic_id(index)
}

/// Makes `thread` runnable (once: a queued thread is not queued twice; a running one
/// returns from its next [`block`] at once).
pub fn wake(thread: &Arc<Thread>) {
    let state = &thread.sched_state;
    loop {
        let current = state.load(Ordering::Acquire);
        let next = match current {
            RUNNING => WOKEN,
            BLOCKED => QUEUED,
            _ => return, // already woken or queued; ended; an idle thread
        };
        if state
            .compare_exchange(current, next, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            if next == QUEUED {
                enqueue_on(place(thread), thread.clone());
            }
            return;
        }
    }
}

/// Starts a new thread: it runs when its turn comes.
pub fn spawn(thread: Arc<Thread>) {
    thread.sched_state.store(BLOCKED, Ordering::Release);
    wake(&thread);
}

/// Whether this CPU may start `thread` now: no other CPU still stands on its stack (it is
/// queued while its last CPU leaves it; taking it then would make this CPU wait while
/// standing on a thread some other CPU may be waiting for), or it is the running thread.
fn ready_here(thread: &Arc<Thread>, me: usize) -> bool {
    !thread.is_on_cpu() || thread.id() == me
}

/// Takes a thread this CPU may run: its own queue's oldest ready one, else (when `steal`)
/// one from the longest queue whose thread allows this CPU. The thread is `RUNNING` when
/// returned.
fn take_next(steal: bool) -> Option<Arc<Thread>> {
    let (here, cpu) = this_cpu();
    let me = thread::current_id();
    let own = {
        let mut queue = cpu.queue.lock();
        queue
            .iter()
            .position(|thread| ready_here(thread, me))
            .and_then(|position| queue.remove(position))
    };
    let next = own.or_else(|| if steal { steal_one(here, me) } else { None })?;
    next.sched_state.store(RUNNING, Ordering::Release);
    Some(next)
}

fn steal_one(here: usize, me: usize) -> Option<Arc<Thread>> {
    let busiest = cpus_in(percpu::online_mask())
        .filter(|&index| index != here)
        .map(|index| (CPUS[index].queue.lock().len(), index))
        .filter(|&(len, _)| len > 0)
        .max()?;
    let mut queue = CPUS[busiest.1].queue.lock();
    let position = queue
        .iter()
        .position(|thread| allowed(thread) & (1 << here) != 0 && ready_here(thread, me))?;
    queue.remove(position)
}

fn switch(next: Arc<Thread>) {
    let (_, cpu) = this_cpu();
    cpu.switches.fetch_add(1, Ordering::Relaxed);
    thread::switch_to(next);
}

/// Gives the CPU to the next runnable thread here, if any; the caller stays runnable. A
/// caller whose affinity no longer allows this CPU moves to one it allows.
pub fn yield_now() {
    wake_expired_sleepers();
    let me = thread::current();
    let (here, _) = this_cpu();
    let must_move = allowed(&me) & (1 << here) == 0;
    if me.sched_state.load(Ordering::Acquire) == IDLE {
        return;
    }
    let next = match take_next(must_move) {
        Some(next) => next,
        None if must_move => CPUS[here].idle_thread.get().expect("cpu_up ran").clone(),
        None => return,
    };
    if Arc::ptr_eq(&next, &me) {
        return;
    }
    // Queued before it leaves: another CPU may take it, and waits until it is off this one.
    me.sched_state.store(QUEUED, Ordering::Release);
    let target = if must_move { place(&me) } else { here };
    enqueue_on(target, me.clone());
    let left = crate::clock::monotonic_ns();
    switch(next);
    me.add_off_cpu_ns((crate::clock::monotonic_ns() - left).max(0) as u64);
}

/// Suspends the running thread until someone [`wake`]s it (the caller must have made
/// itself findable first); returns at once if it was woken since it last blocked.
pub fn block() {
    thread::with_current(|me| {
        if me
            .sched_state
            .compare_exchange(RUNNING, BLOCKED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // WOKEN: the wake-up came before the block; consume it.
            me.sched_state.store(RUNNING, Ordering::Release);
            return;
        }
        let left = crate::clock::monotonic_ns();
        run_another();
        let off = (crate::clock::monotonic_ns() - left).max(0) as u64;
        me.add_off_cpu_ns(off);
    })
}

/// Leaves the running (blocked or ended) thread for the next runnable one, or this CPU's
/// idle thread.
fn run_another() {
    wake_expired_sleepers();
    let (_, cpu) = this_cpu();
    let next =
        take_next(true).unwrap_or_else(|| cpu.idle_thread.get().expect("cpu_up ran").clone());
    switch(next);
}

/// A CPU's idle thread: runs whatever becomes runnable, halts while nothing is.
fn idle_loop() {
    loop {
        wake_expired_sleepers();
        if let Some(next) = take_next(true) {
            switch(next);
            continue;
        }
        // No user address space stays pinned by an idle CPU.
        arch::paging::use_kernel_tables();
        let (_, cpu) = this_cpu();
        cpu.idle.store(true, Ordering::SeqCst);
        // A waker that queued before seeing `idle` sent no kick: look once more.
        if !cpu.queue.lock().is_empty() {
            cpu.idle.store(false, Ordering::SeqCst);
            continue;
        }
        let halted = crate::clock::monotonic_ns();
        arch::apic::wait_for_interrupt();
        cpu.idle.store(false, Ordering::SeqCst);
        cpu.idle_ns.fetch_add(
            (crate::clock::monotonic_ns() - halted).max(0) as u64,
            Ordering::Relaxed,
        );
    }
}

/// Blocks the running thread until the monotonic clock reaches `deadline_ns`, or until
/// something else wakes it first (the caller tells which by looking at the clock).
pub fn sleep_until(deadline_ns: i64) {
    if crate::clock::monotonic_ns() >= deadline_ns {
        return;
    }
    SLEEPERS.lock().push((deadline_ns, thread::current()));
    block();
    let me = thread::current();
    SLEEPERS
        .lock()
        .retain(|(_, sleeper)| !Arc::ptr_eq(sleeper, &me));
}

/// Sleeps `ns` nanoseconds (`nanosleep`), or less if `interrupted` says so when the thread
/// is woken early (a signal arrived).
pub fn sleep_for(ns: i64, interrupted: &dyn Fn() -> bool) {
    let deadline = crate::clock::monotonic_ns().saturating_add(ns.max(0));
    while crate::clock::monotonic_ns() < deadline && !interrupted() {
        sleep_until(deadline);
    }
}

fn wake_expired_sleepers() {
    // Device input is taken here, on every tick and after every device interrupt (which
    // only ends a halt or user mode): the console's port and the control channel.
    crate::tty::console::poll_input();
    crate::control::poll();
    let now = crate::clock::monotonic_ns();
    super::lifecycle::fire_alarms(now);
    super::timers::fire(now);
    let due: Vec<Arc<Thread>> = {
        let mut sleepers = SLEEPERS.lock();
        if sleepers.is_empty() {
            return;
        }
        let mut due = Vec::new();
        let mut index = 0;
        while index < sleepers.len() {
            if sleepers[index].0 <= now {
                due.push(sleepers.swap_remove(index).1);
            } else {
                index += 1;
            }
        }
        due
    };
    for thread in &due {
        wake(thread);
    }
}

/// The end of a thread: runs the others and never comes back; the thread's stack is freed
/// by `arch` once the CPU has left it.
pub fn end_current() -> ! {
    thread::current().sched_state.store(DEAD, Ordering::Release);
    run_another();
    unreachable!("nobody runs an ended thread")
}

/// A timer tick reached the kernel while a program ran: its time slice is over.
pub fn tick() {
    crate::tty::console::note_input_may_wait();
    balance();
    yield_now();
}

/// What CPU `index` has to run: its queue, and one more while it is not idle.
fn load(index: usize) -> usize {
    let cpu = &CPUS[index];
    cpu.queue.lock().len() + usize::from(!cpu.idle.load(Ordering::SeqCst))
}

/// Evens out busy CPUs (see the module's notes): run by a CPU at its tick, with a
/// program's thread running here. Moves at most one thread, the newest queued (the
/// oldest are next here), and only where the difference is two or more, so a thread
/// never bounces between two CPUs one apart.
fn balance() {
    let (here, cpu) = this_cpu();
    let mine = cpu.queue.lock().len() + 1;
    if mine < 2 {
        return;
    }
    let Some((least, target)) = cpus_in(percpu::online_mask())
        .filter(|&index| index != here)
        .map(|index| (load(index), index))
        .min()
    else {
        return;
    };
    if mine < least + 2 {
        return;
    }
    let moved = {
        let mut queue = cpu.queue.lock();
        queue
            .iter()
            .rposition(|thread| allowed(thread) & (1 << target) != 0)
            .and_then(|position| queue.remove(position))
    };
    // Still `QUEUED`: off one queue and onto the other, one lock at a time.
    if let Some(thread) = moved {
        enqueue_on(target, thread);
    }
}

/// Adds `ns` of user-mode time to the running CPU (the run loop measured it).
pub fn account_user(ns: u64) {
    let (_, cpu) = this_cpu();
    cpu.user_ns.fetch_add(ns, Ordering::Relaxed);
}

/// The times of every online CPU since it came up, by index.
pub fn cpu_times() -> Vec<CpuTimes> {
    let now = crate::clock::monotonic_ns();
    (0..MAX_CPUS)
        .filter(|&index| percpu::is_online(index))
        .map(|index| {
            let cpu = &CPUS[index];
            let up = (now - cpu.up_at.load(Ordering::Relaxed)).max(0) as u64;
            let user_ns = cpu.user_ns.load(Ordering::Relaxed);
            let idle_ns = cpu.idle_ns.load(Ordering::Relaxed);
            CpuTimes {
                user_ns,
                idle_ns,
                system_ns: up.saturating_sub(user_ns + idle_ns),
            }
        })
        .collect()
}

/// Switches made on all CPUs (`/proc/stat`'s `ctxt`).
pub fn context_switches() -> u64 {
    CPUS.iter()
        .map(|cpu| cpu.switches.load(Ordering::Relaxed))
        .sum()
}

/// Threads queued to run on all CPUs, plus one for each online CPU not idle.
pub fn runnable_threads() -> usize {
    let busy = (0..MAX_CPUS)
        .filter(|&index| percpu::is_online(index) && !CPUS[index].idle.load(Ordering::Relaxed))
        .count();
    CPUS.iter().map(|cpu| cpu.queue.lock().len()).sum::<usize>() + busy
}

/// Sets the CPUs `thread` may run on; it moves at its next yield (its tick) or wake-up.
/// A running thread elsewhere is kicked so its tick comes now.
pub fn set_affinity(thread: &Arc<Thread>, mask: u64) {
    thread.affinity.store(mask, Ordering::Relaxed);
    let last = thread.last_cpu.load(Ordering::Relaxed) as usize;
    let (here, _) = this_cpu();
    if mask & (1 << last) == 0 && last != here && percpu::is_online(last) {
        arch::apic::kick(percpu_apic_id(last));
    }
}
