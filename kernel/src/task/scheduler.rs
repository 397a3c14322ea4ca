//! Which thread runs: a round-robin run queue, sleepers ordered by deadline, and an idle
//! loop that halts the CPU until the next interrupt when nothing is runnable.
//!
//! Blocking is two steps so no wake-up is lost: a thread first makes itself findable (on a
//! wait queue, or [`sleep_until`]'s list), then calls [`block`]. Only threads in the kernel
//! wake others, and the kernel is never preempted, so nothing can happen in between.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use arch::thread::{self, Thread};
use spin::Mutex;

/// Threads ready to run, oldest first (the running one is not in it).
static RUN_QUEUE: Mutex<VecDeque<Arc<Thread>>> = Mutex::new(VecDeque::new());
/// Threads asleep until a monotonic time (ns), with that time.
static SLEEPERS: Mutex<Vec<(i64, Arc<Thread>)>> = Mutex::new(Vec::new());

/// Sets up what a thread whose entry returned does: end, and let the others run.
pub fn init() {
    thread::set_on_return(end_current);
}

/// Makes `thread` runnable (once: a thread already queued is not queued twice).
pub fn wake(thread: &Arc<Thread>) {
    let mut queue = RUN_QUEUE.lock();
    if !queue.iter().any(|queued| Arc::ptr_eq(queued, thread)) {
        queue.push_back(thread.clone());
    }
}

/// Starts a new thread: it runs when its turn comes.
pub fn spawn(thread: Arc<Thread>) {
    wake(&thread);
}

/// Gives the CPU to the next runnable thread, if any; the caller stays runnable.
pub fn yield_now() {
    wake_expired_sleepers();
    let next = RUN_QUEUE.lock().pop_front();
    if let Some(next) = next {
        let me = thread::current();
        wake(&me);
        let left = crate::clock::monotonic_ns();
        thread::switch_to(next);
        me.add_off_cpu_ns((crate::clock::monotonic_ns() - left).max(0) as u64);
    }
}

/// Suspends the running thread until someone [`wake`]s it (the caller must have made
/// itself findable first). Halts the CPU while nothing at all is runnable.
pub fn block() {
    let left = crate::clock::monotonic_ns();
    block_inner();
    let off = (crate::clock::monotonic_ns() - left).max(0) as u64;
    thread::current().add_off_cpu_ns(off);
}

fn block_inner() {
    loop {
        wake_expired_sleepers();
        let next = RUN_QUEUE.lock().pop_front();
        match next {
            Some(next) => {
                thread::switch_to(next);
                return;
            }
            None => arch::apic::wait_for_interrupt(),
        }
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
    // The console's input has no interrupt: its port is looked at here, every tick.
    crate::tty::console::poll_input();
    crate::control::poll();
    let now = crate::clock::monotonic_ns();
    super::lifecycle::fire_alarms(now);
    super::timers::fire(now);
    let mut sleepers = SLEEPERS.lock();
    if sleepers.is_empty() {
        return;
    }
    let mut index = 0;
    while index < sleepers.len() {
        if sleepers[index].0 <= now {
            let (_, thread) = sleepers.swap_remove(index);
            wake(&thread);
        } else {
            index += 1;
        }
    }
}

/// The end of a thread: runs the others and never comes back; the thread's stack is freed
/// by `arch` once the CPU has left it.
pub fn end_current() -> ! {
    loop {
        block();
        // Nobody may wake an ended thread; if it happens, block again.
        log::warn!(target: "task", "an ended thread was woken");
    }
}

/// A timer tick reached the kernel while a program ran: its time slice is over.
pub fn tick() {
    yield_now();
}
