//! The OOM killer: what happens when a process needs a page and neither the memory budget
//! nor the frame allocator has one, though the page cache has already let go of its pages
//! (the budget's reclaimer, and the address space's retry). Then what else the kernel can
//! rebuild goes (the files' cached pages, written back first and unmapped from every
//! process; the dentry cache: names nothing uses, with the overlay and 9p objects behind
//! them); if that was not enough, the process holding the most pages is killed with
//! `SIGKILL`, as Linux's OOM killer picks its victim by resident pages. The kernel itself
//! is never the one to fail. The init is killed like any other process: the sandbox then
//! ends with 137.
//!
//! Locks: `TABLE` only, for the choice and the kill; the reclaim runs with none held.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::table::{State, TABLE, Table};
use crate::process::Process;
use crate::process::signal::{SI_KERNEL, SigInfo};

/// What the faulting process does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Memory was freed: take the fault again.
    Retry,
    /// It is the largest process (or nothing could be freed): it dies by `SIGKILL`.
    KillSelf,
}

/// How long the faulting process gives a victim to end, in turns of the scheduler.
const VICTIM_TURNS: usize = 10_000;

/// Refusals of the budget already answered by a reclaim, and when that was (monotonic ns).
static RECLAIMED_AT_REFUSALS: AtomicU64 = AtomicU64::new(0);
static LAST_RECLAIM_NS: AtomicI64 = AtomicI64::new(i64::MIN);
/// Reclaims after refusals at most this often: a loop of refused calls must not make
/// every call walk the whole dentry cache.
const RECLAIM_INTERVAL_NS: i64 = 100_000_000;

/// After a system call: if the budget refused something since the last reclaim (and the
/// last one was long enough ago), drops the cached names nothing uses, as Linux's
/// background reclaim would, so the next calls find the room. Called with no lock held.
pub fn reclaim_after_refusals(p: &Process) {
    let refusals = crate::mm::budget::budget().refusals();
    if refusals == RECLAIMED_AT_REFUSALS.load(Ordering::Relaxed) {
        return;
    }
    let now = crate::clock::monotonic_ns();
    if now.saturating_sub(LAST_RECLAIM_NS.load(Ordering::Relaxed)) < RECLAIM_INTERVAL_NS {
        return;
    }
    RECLAIMED_AT_REFUSALS.store(refusals, Ordering::Relaxed);
    LAST_RECLAIM_NS.store(now, Ordering::Relaxed);
    let namespace = p.fs.lock().ns.clone();
    namespace.prune_dentries();
}

/// The running process whose address space holds the most pages; the lowest pid among
/// equals.
pub fn largest(table: &Table) -> Option<(u32, u64)> {
    table
        .running()
        .map(|(pid, entry)| (pid, entry.resident_pages.load(Ordering::Relaxed)))
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
}

/// `p` could not get a page. Reclaims, or kills the largest process; says whether `p`
/// should take its fault again or die.
pub fn out_of_memory(p: &mut Process) -> Verdict {
    let budget = crate::mm::budget::budget();
    let before = budget.used();
    // Files' cached pages first: dirty ones written back, then every clean one dropped,
    // even those mappings hold (they are read again when touched).
    crate::mm::writeback::evict();
    let namespace = p.fs.lock().ns.clone();
    namespace.prune_dentries();
    let freed = before.saturating_sub(budget.used());
    if freed >= 2 * vfs_core::PAGE_SIZE as u64 {
        log::info!(target: "oom", "pid {}: reclaimed {freed} bytes of cached pages and names", p.pid);
        return Verdict::Retry;
    }
    let Some((victim, pages)) = largest(&TABLE.lock()) else {
        return Verdict::KillSelf;
    };
    log::warn!(
        target: "oom",
        "out of memory ({} of {} KiB used): killed pid {victim}, holding {pages} pages",
        budget.used() / 1024,
        budget.limit() / 1024
    );
    if victim == p.pid {
        return Verdict::KillSelf;
    }
    TABLE.lock().send(
        victim,
        SigInfo {
            signo: 9,
            code: SI_KERNEL,
            ..SigInfo::default()
        },
    );
    // The victim's memory goes when it ends: give it the CPU until then.
    for _ in 0..VICTIM_TURNS {
        let running = TABLE
            .lock()
            .get(victim)
            .is_some_and(|entry| entry.state == State::Running);
        if !running {
            return Verdict::Retry;
        }
        super::scheduler::yield_now();
    }
    log::warn!(target: "oom", "pid {victim} did not end: pid {} goes instead", p.pid);
    Verdict::KillSelf
}

/// Where the OOM killer reads the pages `pid` holds.
pub fn counter_of(pid: u32) -> Option<Arc<AtomicU64>> {
    TABLE
        .lock()
        .get(pid)
        .map(|entry| entry.resident_pages.clone())
}

/// From now on `p`'s address space (its own, not one it shares) counts its pages where
/// [`largest`] weighs them.
pub fn track(p: &Process) {
    if let Some(counter) = counter_of(p.pid) {
        p.mm.lock().count_resident_in(counter);
    }
}
