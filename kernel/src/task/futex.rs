//! Futexes in the running kernel: the one wait table ([`crate::futex::table`]) of the
//! whole machine, threads sleeping on it and woken from it, the futex words read and
//! written through the caller's address space, priority-inheritance (PI) locks handed
//! from owner to waiter, and what a thread's end does to the futexes it leaves (robust
//! list, PI locks it owns, `clear_child_tid`).
//!
//! PI futexes follow Linux's protocol (`kernel/futex/pi.c`) without the priority boost
//! (this scheduler has no priorities to lend): the word holds the owner's thread id and
//! `FUTEX_WAITERS` while anyone sleeps in the kernel; the kernel records the owner while
//! it has waiters and hands the lock to the oldest waiter on unlock or on the owner's
//! end, writing the new owner's id in the word itself.
//!
//! Where it sits: above the scheduler (a waiter makes itself findable in the table, then
//! blocks; a waker takes it out and makes it runnable) and the address space (keys and
//! words); below the system call (`syscall::futex`), which decodes arguments and
//! timeouts, and the thread-exit path ([`release_at_exit`]).
//!
//! A waiter sleeps until a wake reached it, its deadline passed, or a signal is pending
//! for it, whichever it sees first when it runs, in that order: a wake is never lost to
//! a signal that came with it (Linux returns 0 then too).
//!
//! Lock order: `FUTEXES` → an address space's lock (a futex word is read under the
//! table's lock, so no wake can fall between the check and the sleep) → the frame
//! allocator; `FUTEXES` → `table::TABLE` (whether a PI owner lives). Threads are made
//! runnable after `FUTEXES` is released, and nothing here blocks with a lock held.

use alloc::sync::Arc;
use alloc::vec::Vec;

use arch::thread::{self, Thread};
use spin::Mutex;
use vfs_core::{Errno, Inode};

use super::scheduler;
use super::shared::Shared;
use crate::futex::op::{
    BITSET_MATCH_ANY, FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS, FUTEX_WAITV_MAX,
};
use crate::futex::robust::{self, RobustMemory};
use crate::futex::table::{EntryId, Key, Kind, Outcome, Space, WaitTable};
use crate::mm::address_space::{AddressSpace, FutexPage};
use crate::mm::vma::TASK_SIZE;

/// What a waiter holds on to while it waits, so its key's identity stays its own.
#[derive(Clone)]
#[allow(
    dead_code,
    reason = "held, never read: the handle keeps the object alive"
)]
pub enum Pin {
    /// The address space of an address-space key.
    Mm(Shared<AddressSpace>),
    /// The inode of a file key.
    Inode(Arc<dyn Inode>),
}

/// A sleeping thread, and where its PI word is in its memory (the futex it locks, or the
/// one it is to be requeued onto): a hand-off on its owner's end writes its id there.
#[derive(Clone)]
pub struct Sleeper {
    thread: Arc<Thread>,
    mm: Shared<AddressSpace>,
    pi_word: u64,
}

static FUTEXES: spin::Lazy<Mutex<WaitTable<Sleeper, Pin>>> = spin::Lazy::new(|| {
    let mut seed = [0u8; 8];
    crate::random::fill(&mut seed);
    Mutex::new(WaitTable::with_seed(u64::from_le_bytes(seed)))
});

/// A futex as its caller names it: its key, what pins the key, and where its word is in
/// the caller's memory.
#[derive(Clone)]
pub struct Futex {
    key: Key,
    pin: Pin,
    address: u64,
}

/// The identity of an address space, for its keys.
fn mm_id(mm: &Shared<AddressSpace>) -> usize {
    Arc::as_ptr(mm) as *const () as usize
}

impl Futex {
    /// The futex at `address` in `mm`, as Linux's `get_futex_key`: an unaligned address
    /// is `EINVAL`, one outside the user half `EFAULT`; a private futex is keyed by
    /// address space and address without touching memory, a shared one by what backs its
    /// page ([`AddressSpace::futex_page`]: `EFAULT` if it cannot be read).
    pub fn at(mm: &Shared<AddressSpace>, address: u64, private: bool) -> Result<Futex, Errno> {
        if !address.is_multiple_of(4) {
            return Err(Errno::EINVAL);
        }
        if address.checked_add(4).is_none_or(|end| end > TASK_SIZE) {
            return Err(Errno::EFAULT);
        }
        let on_mm = |space: fn(usize) -> Space| Futex {
            key: Key {
                space: space(mm_id(mm)),
                offset: address,
            },
            pin: Pin::Mm(mm.clone()),
            address,
        };
        if private {
            return Ok(on_mm(Space::Private));
        }
        let page = mm.lock().futex_page(address)?;
        Ok(match page {
            FutexPage::Private => on_mm(Space::MmShared),
            FutexPage::File { inode, offset } => Futex {
                key: Key {
                    space: Space::Inode(Arc::as_ptr(&inode) as *const () as usize),
                    offset,
                },
                pin: Pin::Inode(inode),
                address,
            },
        })
    }
}

/// The futex word at `address`.
pub fn read_word(mm: &Shared<AddressSpace>, address: u64) -> Result<u32, Errno> {
    let mut word = [0u8; 4];
    mm.lock().read(address, &mut word)?;
    Ok(u32::from_le_bytes(word))
}

fn write_word(mm: &Shared<AddressSpace>, address: u64, value: u32) -> Result<(), Errno> {
    mm.lock().write(address, &value.to_le_bytes())
}

/// The sleepers a wake took off the table, to make runnable once `FUTEXES` is released:
/// the first held inline, so the common wake of one thread allocates nothing.
#[derive(Default)]
struct Woken {
    first: Option<Sleeper>,
    rest: Vec<Sleeper>,
}

impl Woken {
    fn push(&mut self, sleeper: Sleeper) {
        match self.first {
            None => self.first = Some(sleeper),
            Some(_) => self.rest.push(sleeper),
        }
    }

    /// Makes them runnable: how many.
    fn wake(self) -> usize {
        for sleeper in self.first.iter().chain(&self.rest) {
            scheduler::wake(&sleeper.thread);
        }
        usize::from(self.first.is_some()) + self.rest.len()
    }
}

fn wake_threads(sleepers: Vec<Sleeper>) -> usize {
    for sleeper in &sleepers {
        scheduler::wake(&sleeper.thread);
    }
    sleepers.len()
}

/// Sleeps until the entries' outcome, the deadline, or a signal for thread `tid`,
/// whichever the thread sees first when it runs; takes the entries out of the table and
/// says what ended the wait: the last entry reached and how, or why none was.
fn sleep_on(
    ids: &[EntryId],
    tid: u32,
    deadline: Option<i64>,
) -> Result<(usize, Outcome), NotWoken> {
    // `why` is what ended the wait if nothing reached an entry (checked again below).
    let why = loop {
        if ids.iter().any(|&id| FUTEXES.lock().outcome(id).is_some()) {
            break NotWoken::Interrupted;
        }
        if deadline.is_some_and(|deadline| crate::clock::monotonic_ns() >= deadline) {
            break NotWoken::TimedOut;
        }
        if super::lifecycle::has_pending_signal(tid) {
            break NotWoken::Interrupted;
        }
        match deadline {
            Some(deadline) => scheduler::sleep_until(deadline),
            None => scheduler::block(),
        }
    };
    // A wake that came after the checks above still counts: it was the waker's to give.
    let mut table = FUTEXES.lock();
    let mut reached = None;
    for (index, &id) in ids.iter().enumerate() {
        if let Some(outcome) = table.finish(id) {
            reached = Some((index, outcome));
        }
    }
    reached.ok_or(why)
}

/// One futex a waiter waits on: its word must still hold `expected`.
pub struct WaitOn {
    pub futex: Futex,
    pub expected: u32,
    pub bitset: u32,
}

/// How a wait ended without a wake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotWoken {
    /// A word did not hold its expected value (`EAGAIN`).
    Changed,
    TimedOut,
    Interrupted,
}

/// Sleeps on every futex of `waits` (one, but for `futex_waitv`) until one of them is
/// woken (its index: the last woken, as Linux's `futex_unqueue_multiple`), the monotonic
/// clock reaches `deadline`, or a signal is pending for the thread `tid`. A word that no longer
/// holds its expected value when the waiter queues is `EAGAIN` at once; one that cannot
/// be read is `EFAULT`.
pub fn wait(
    mm: &Shared<AddressSpace>,
    tid: u32,
    waits: &[WaitOn],
    deadline: Option<i64>,
) -> Result<Result<usize, NotWoken>, Errno> {
    // `futex_waitv`'s limit, as Linux checks it.
    if waits.len() > FUTEX_WAITV_MAX {
        return Err(Errno::EINVAL);
    }
    let sleeper = Sleeper {
        thread: thread::current(),
        mm: mm.clone(),
        pi_word: 0,
    };
    // The common wait on one futex keeps its entry's id on the stack (no allocation).
    let mut one: [EntryId; 1] = [0];
    let mut many = Vec::new();
    let ids: &mut [EntryId] = if waits.len() == 1 {
        &mut one
    } else {
        many.resize(waits.len(), 0);
        &mut many
    };
    // Each word is read under the table's lock, after its entry is queued (a wake from
    // then on finds it), only if its page is resident: a word whose page is not is faulted
    // in with the lock released (that may sleep), and the queueing starts over once; the
    // second time round any word is read whatever it takes, as it was just brought in.
    // Errors come in order: an earlier word that differs is `EAGAIN` before a later one's
    // `EFAULT`.
    let mut faulted_in = false;
    let ids: &[EntryId] = loop {
        let mut table = FUTEXES.lock();
        let mut queued = 0;
        let mut absent = None;
        for wait in waits {
            ids[queued] = table.enqueue(
                wait.futex.key,
                wait.bitset,
                tid,
                Kind::Plain,
                sleeper.clone(),
                wait.futex.pin.clone(),
            );
            queued += 1;
            let mut bytes = [0u8; 4];
            let word = if mm.lock().read_resident(wait.futex.address, &mut bytes) {
                Ok(u32::from_le_bytes(bytes))
            } else if faulted_in {
                read_word(mm, wait.futex.address)
            } else {
                absent = Some(wait.futex.address);
                break;
            };
            if word != Ok(wait.expected) {
                for &id in &ids[..queued] {
                    table.finish(id);
                }
                return word.map(|_| Err(NotWoken::Changed));
            }
        }
        let Some(address) = absent else {
            break &ids[..queued];
        };
        for &id in &ids[..queued] {
            table.finish(id);
        }
        drop(table);
        read_word(mm, address)?;
        faulted_in = true;
    };
    Ok(sleep_on(ids, tid, deadline).map(|(index, _)| index))
}

/// Wakes up to `limit` waiters of `futex` whose bitset meets `bitset`: how many.
/// `EINVAL` if a PI or requeue-PI waiter is met.
pub fn wake(futex: &Futex, limit: usize, bitset: u32) -> Result<usize, Errno> {
    let mut woken = Woken::default();
    let (_, result) = FUTEXES
        .lock()
        .wake_each(futex.key, limit, bitset, |sleeper| woken.push(sleeper));
    let count = woken.wake();
    result.map(|()| count)
}

/// `FUTEX_REQUEUE`/`FUTEX_CMP_REQUEUE`: with `expected`, first checks that `from`'s word
/// (in `mm`) still holds it (`EAGAIN`); wakes `wake` waiters of `from` and moves up to
/// `requeue` more to `to`. How many were woken or moved.
pub fn requeue(
    mm: &Shared<AddressSpace>,
    from: &Futex,
    to: &Futex,
    wake: usize,
    requeue: usize,
    expected: Option<u32>,
) -> Result<usize, Errno> {
    if expected.is_some() {
        read_word(mm, from.address)?;
    }
    let (woken, moved, result) = {
        let mut table = FUTEXES.lock();
        if let Some(expected) = expected
            && read_word(mm, from.address)? != expected
        {
            return Err(Errno::EAGAIN);
        }
        table.requeue(from.key, to.key, wake, requeue, || to.pin.clone())
    };
    let count = wake_threads(woken) + moved;
    result.map(|()| count)
}

/// `FUTEX_WAKE_OP`: applies `op` to the word of `second`, wakes up to `limit` waiters of
/// `first`, and, if the old value of the second word passes `op`'s comparison, up to
/// `limit2` of `second`. How many were woken.
pub fn wake_op(
    mm: &Shared<AddressSpace>,
    first: &Futex,
    second: &Futex,
    limit: usize,
    limit2: usize,
    op: crate::futex::op::WakeOp,
) -> Result<usize, Errno> {
    read_word(mm, second.address)?;
    let (woken, result) = {
        let mut table = FUTEXES.lock();
        let old = read_word(mm, second.address)?;
        write_word(mm, second.address, op.apply(old)?)?;
        let compared = op.compare(old)?;
        let mut woken = Woken::default();
        let (_, mut result) = table.wake_each(first.key, limit, BITSET_MATCH_ANY, |sleeper| {
            woken.push(sleeper)
        });
        if compared && result.is_ok() {
            result = table
                .wake_each(second.key, limit2, BITSET_MATCH_ANY, |sleeper| {
                    woken.push(sleeper)
                })
                .1;
        }
        (woken, result)
    };
    let count = woken.wake();
    result.map(|()| count)
}

/// Whether the thread `tid` lives (a PI owner that has ended cannot hand its lock on).
fn alive(tid: u32) -> bool {
    super::lifecycle::credentials_of_thread(tid).is_ok()
}

/// What taking a PI futex's lock found.
enum Attach {
    /// The lock was free: the caller owns it now.
    Taken,
    /// Another thread owns it: the caller may wait (the owner is recorded).
    Owned,
}

/// Linux's `futex_lock_pi_atomic`, for the thread `tid` (the caller, or the waiter a
/// requeue takes the lock for), with the table locked: takes a free lock (keeping the
/// owner-died bit, adding `FUTEX_WAITERS` with `set_waiters`), or marks the word as
/// having waiters and records its owner. `EDEADLK` if `tid` owns it already, `EINVAL`
/// if the word disagrees with the kernel's owner or non-PI waiters sleep on it, `ESRCH`
/// if the owner it names does not exist.
fn attach(
    table: &mut WaitTable<Sleeper, Pin>,
    mm: &Shared<AddressSpace>,
    futex: &Futex,
    tid: u32,
    set_waiters: bool,
) -> Result<Attach, Errno> {
    let word = read_word(mm, futex.address)?;
    let owner = word & FUTEX_TID_MASK;
    if owner == tid {
        return Err(Errno::EDEADLK);
    }
    if table.has_non_pi_waiters(futex.key) {
        return Err(Errno::EINVAL);
    }
    if let Some(recorded) = table.pi_owner(futex.key) {
        return if owner == recorded {
            Ok(Attach::Owned)
        } else {
            Err(Errno::EINVAL)
        };
    }
    if owner == 0 {
        let waiters = if set_waiters { FUTEX_WAITERS } else { 0 };
        write_word(mm, futex.address, (word & FUTEX_OWNER_DIED) | waiters | tid)?;
        return Ok(Attach::Taken);
    }
    // The waiters bit goes in before the owner is looked up, as on Linux: it stays
    // even when the owner is found gone.
    write_word(mm, futex.address, word | FUTEX_WAITERS)?;
    if !alive(owner) {
        return Err(Errno::ESRCH);
    }
    table.set_pi_owner(futex.key, owner);
    Ok(Attach::Owned)
}

/// `FUTEX_LOCK_PI`/`FUTEX_LOCK_PI2` (and `FUTEX_TRYLOCK_PI` with `try_only`): takes the
/// PI lock of `futex` for the thread `tid`, sleeping until its owner hands it over, the deadline
/// passes (`ETIMEDOUT`) or a signal comes (`EINTR`, which the call restarts).
/// `FUTEX_TRYLOCK_PI` on a held lock is `EAGAIN`.
pub fn lock_pi(
    mm: &Shared<AddressSpace>,
    tid: u32,
    futex: &Futex,
    deadline: Option<i64>,
    try_only: bool,
) -> Result<(), Errno> {
    read_word(mm, futex.address)?;
    let id = {
        let mut table = FUTEXES.lock();
        let attached = attach(&mut table, mm, futex, tid, false);
        let owned_by_other = matches!(attached?, Attach::Owned);
        if !owned_by_other {
            return Ok(());
        }
        if try_only {
            table.forget_owner_without_waiters(futex.key);
            return Err(Errno::EAGAIN);
        }
        let sleeper = Sleeper {
            thread: thread::current(),
            mm: mm.clone(),
            pi_word: futex.address,
        };
        table.enqueue(
            futex.key,
            BITSET_MATCH_ANY,
            tid,
            Kind::Pi,
            sleeper,
            futex.pin.clone(),
        )
    };
    match sleep_on(&[id], tid, deadline) {
        Ok(_) => Ok(()),
        Err(NotWoken::TimedOut) => Err(Errno::ETIMEDOUT),
        Err(_) => Err(Errno::EINTR),
    }
}

/// `FUTEX_UNLOCK_PI`: `tid` gives up the PI lock of `futex`. With waiters, the oldest
/// becomes the owner (the word: its id and `FUTEX_WAITERS`); without, the word is 0.
/// `EPERM` if the word does not name `tid`; `EINVAL` if the kernel's owner is another.
pub fn unlock_pi(mm: &Shared<AddressSpace>, tid: u32, futex: &Futex) -> Result<(), Errno> {
    read_word(mm, futex.address)?;
    let new_owner = {
        let mut table = FUTEXES.lock();
        let word = read_word(mm, futex.address)?;
        if word & FUTEX_TID_MASK != tid {
            return Err(Errno::EPERM);
        }
        // Writable? (Nothing may change if the word cannot take the new owner.)
        write_word(mm, futex.address, word)?;
        if table.waiting(futex.key) == 0 {
            write_word(mm, futex.address, 0)?;
            return Ok(());
        }
        if table.pi_owner(futex.key) != Some(tid) {
            return Err(Errno::EINVAL);
        }
        let next = table.hand_off(futex.key).ok_or(Errno::EINVAL)?;
        write_word(mm, futex.address, FUTEX_WAITERS | next.tid)?;
        next.sleeper
    };
    scheduler::wake(&new_owner.thread);
    Ok(())
}

/// `FUTEX_WAIT_REQUEUE_PI`: waits on `futex` (whose word must hold `expected`) to be
/// requeued onto the PI futex `target` by `FUTEX_CMP_REQUEUE_PI`, and returns once it
/// owns `target`'s lock. Interrupted before the requeue: `EINTR` (restarted); after it:
/// `EAGAIN`, as Linux.
pub fn wait_requeue_pi(
    mm: &Shared<AddressSpace>,
    tid: u32,
    futex: &Futex,
    target: &Futex,
    expected: u32,
    deadline: Option<i64>,
) -> Result<(), Errno> {
    if futex.key == target.key {
        return Err(Errno::EINVAL);
    }
    read_word(mm, futex.address)?;
    let id = {
        let mut table = FUTEXES.lock();
        let sleeper = Sleeper {
            thread: thread::current(),
            mm: mm.clone(),
            pi_word: target.address,
        };
        let kind = Kind::RequeuePi { target: target.key };
        let id = table.enqueue(
            futex.key,
            BITSET_MATCH_ANY,
            tid,
            kind,
            sleeper,
            futex.pin.clone(),
        );
        let word = read_word(mm, futex.address);
        if word != Ok(expected) {
            table.finish(id);
            return word.and(Err(Errno::EAGAIN));
        }
        id
    };
    loop {
        let requeued = FUTEXES.lock().kind(id) == Some(Kind::Pi);
        let timed_out = deadline.is_some_and(|deadline| crate::clock::monotonic_ns() >= deadline);
        let signalled = super::lifecycle::has_pending_signal(tid);
        if FUTEXES.lock().outcome(id).is_some() || timed_out || signalled {
            return match (FUTEXES.lock().finish(id), timed_out) {
                (Some(_), _) => Ok(()),
                (None, true) => Err(Errno::ETIMEDOUT),
                (None, false) if requeued => Err(Errno::EAGAIN),
                (None, false) => Err(Errno::EINTR),
            };
        }
        match deadline {
            Some(deadline) => scheduler::sleep_until(deadline),
            None => scheduler::block(),
        }
    }
}

/// `FUTEX_CMP_REQUEUE_PI`: if `from`'s word still holds `expected` (`EAGAIN`), takes
/// `to`'s lock for the oldest waiter of `from` if it is free (that waiter returns owning
/// it), and makes up to `requeue` of the others PI waiters of `to` (`requeue` + 1 if the
/// lock was not free, as Linux). How many were woken or moved.
pub fn cmp_requeue_pi(
    mm: &Shared<AddressSpace>,
    from: &Futex,
    to: &Futex,
    requeue: usize,
    expected: u32,
) -> Result<usize, Errno> {
    if from.key == to.key {
        return Err(Errno::EINVAL);
    }
    read_word(mm, from.address)?;
    read_word(mm, to.address)?;
    let (woken, moved) = {
        let mut table = FUTEXES.lock();
        if read_word(mm, from.address)? != expected {
            return Err(Errno::EAGAIN);
        }
        let Some(top) = table.requeue_pi_top(from.key, to.key)? else {
            return Ok(0);
        };
        let acquired = match attach(&mut table, mm, to, top, requeue > 0) {
            Ok(Attach::Taken) => true,
            Ok(Attach::Owned) => false,
            Err(errno) => {
                table.forget_owner_without_waiters(to.key);
                return Err(errno);
            }
        };
        let limit = if acquired {
            requeue
        } else {
            requeue.saturating_add(1)
        };
        let (woken, moved) = table.requeue_pi(from.key, to.key, acquired, limit, || to.pin.clone());
        if acquired && moved > 0 {
            table.set_pi_owner(to.key, top);
        }
        table.forget_owner_without_waiters(to.key);
        (woken, moved)
    };
    if let Some(sleeper) = &woken {
        scheduler::wake(&sleeper.thread);
    }
    Ok(usize::from(woken.is_some()) + moved)
}

/// The PI locks the ending thread `tid` owns go to their oldest waiters (Linux's
/// `exit_pi_state_list`, then the waiter's `fixup_pi_state_owner`): each new owner's id
/// goes in the word with `FUTEX_WAITERS` and `FUTEX_OWNER_DIED` (robust or not: the
/// owner died), and it is woken owning the lock.
fn exit_pi_locks(tid: u32) {
    let mut woken = Vec::new();
    {
        let mut table = FUTEXES.lock();
        for key in table.owned_by(tid) {
            let Some(next) = table.hand_off(key) else {
                continue;
            };
            let new = FUTEX_OWNER_DIED | FUTEX_WAITERS | next.tid;
            let _ = write_word(&next.sleeper.mm, next.sleeper.pi_word, new);
            woken.push(next.sleeper);
        }
    }
    wake_threads(woken);
}

/// The robust list walk's view of a dying thread's memory.
struct DyingMemory<'a> {
    mm: &'a Shared<AddressSpace>,
}

impl RobustMemory for DyingMemory<'_> {
    fn read_u64(&mut self, address: u64) -> Result<u64, Errno> {
        self.mm.lock().read_u64(address)
    }

    fn read_u32(&mut self, address: u64) -> Result<u32, Errno> {
        read_word(self.mm, address)
    }

    fn write_u32(&mut self, address: u64, value: u32) -> Result<(), Errno> {
        write_word(self.mm, address, value)
    }

    fn wake_one(&mut self, address: u64) {
        if let Ok(futex) = Futex::at(self.mm, address, false) {
            let _ = wake(&futex, 1, BITSET_MATCH_ANY);
        }
    }
}

/// Linux's `exit_robust_list`: the thread `tid`, whose robust list head (from
/// `set_robust_list`) is at `head` in `mm`, is ending or exec'ing: each futex it holds on
/// the list gets the owner-died bit and one waiter woken ([`crate::futex::robust`]).
pub fn exit_robust_list(mm: &Shared<AddressSpace>, head: u64, tid: u32) {
    if head != 0 {
        robust::exit_robust_list(&mut DyingMemory { mm }, head, tid);
    }
}

/// The `clear_child_tid` of a thread that ends (`CLONE_CHILD_CLEARTID`,
/// `set_tid_address`): 0 is written to the word at `address` and one waiter of it woken,
/// as a shared futex (Linux's `mm_release`), which is how `pthread_join` learns of the
/// end. A bad address writes nothing; the wake is tried anyway, as Linux's.
pub fn clear_child_tid(mm: &Shared<AddressSpace>, address: u64) {
    if address == 0 {
        return;
    }
    let _ = write_word(mm, address, 0);
    if let Ok(futex) = Futex::at(mm, address, false) {
        let _ = wake(&futex, 1, BITSET_MATCH_ANY);
    }
}

/// What a thread's end does to futexes, in Linux's order (`futex_exit_release`, then
/// `mm_release`): its robust list, the PI locks it still owns, then its
/// `clear_child_tid`.
pub fn release_at_exit(process: &crate::process::Process) {
    exit_robust_list(&process.mm, process.robust_list.0, process.tid);
    process.task.set_robust_list(0);
    exit_pi_locks(process.tid);
    clear_child_tid(&process.mm, process.clear_child_tid);
}

/// What a successful `execve` does to futexes (Linux's `exec_mm_release`): the old
/// image's robust list and `clear_child_tid`, in the old memory `old_mm`, as at an end;
/// the new image starts with no robust list.
pub fn release_at_exec(
    process: &mut crate::process::Process,
    old_mm: &Shared<AddressSpace>,
    robust_list: u64,
    clear_child_tid_address: u64,
) {
    // The thread id after the exec (a thread that execs takes its process's id first,
    // as in Linux's `de_thread` before `exec_mm_release`).
    exit_robust_list(old_mm, robust_list, process.tid);
    exit_pi_locks(process.tid);
    clear_child_tid(old_mm, clear_child_tid_address);
    process.robust_list = (0, 0);
    process.task.set_robust_list(0);
}
