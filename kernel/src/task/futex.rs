//! Futexes in the running kernel: the one wait table ([`crate::futex::table`]) of the
//! whole machine, threads sleeping on it and woken from it, the futex words read and
//! written through the caller's address space, and what a thread's end does to the
//! futexes it leaves (robust list, `clear_child_tid`).
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
//! allocator. Threads are made runnable after `FUTEXES` is released, and nothing here
//! blocks with either lock held.

use alloc::sync::Arc;
use alloc::vec::Vec;

use arch::thread::{self, Thread};
use spin::Mutex;
use vfs_core::{Errno, Inode};

use super::scheduler;
use super::shared::Shared;
use crate::futex::op::BITSET_MATCH_ANY;
use crate::futex::robust::{self, RobustMemory};
use crate::futex::table::{EntryId, Key, Space, WaitTable};
use crate::mm::address_space::{AddressSpace, FutexPage};
use crate::mm::vma::TASK_SIZE;

/// What a waiter holds on to while it waits, so its key's identity stays its own.
#[derive(Clone)]
#[allow(dead_code, reason = "held, never read: the handle keeps the object alive")]
pub enum Pin {
    /// The address space of an address-space key.
    Mm(Shared<AddressSpace>),
    /// The inode of a file key.
    Inode(Arc<dyn Inode>),
}

static FUTEXES: Mutex<WaitTable<Arc<Thread>, Pin>> = Mutex::new(WaitTable::new());

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

fn wake_threads(threads: Vec<Arc<Thread>>) -> usize {
    for thread in &threads {
        scheduler::wake(thread);
    }
    threads.len()
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
/// clock reaches `deadline`, or a signal is pending for `pid`. A word that no longer
/// holds its expected value when the waiter queues is `EAGAIN` at once; one that cannot
/// be read is `EFAULT`.
pub fn wait(
    mm: &Shared<AddressSpace>,
    pid: u32,
    waits: &[WaitOn],
    deadline: Option<i64>,
) -> Result<Result<usize, NotWoken>, Errno> {
    // Each word is read once before the table is locked, which faults its page in: the
    // read under the lock then finds it resident.
    for wait in waits {
        read_word(mm, wait.futex.address)?;
    }
    let me = thread::current();
    let ids: Vec<EntryId> = {
        let mut table = FUTEXES.lock();
        let mut ids = Vec::with_capacity(waits.len());
        for wait in waits {
            ids.push(table.enqueue(
                wait.futex.key,
                wait.bitset,
                me.clone(),
                wait.futex.pin.clone(),
            ));
            let word = read_word(mm, wait.futex.address);
            if word != Ok(wait.expected) {
                for &id in &ids {
                    table.finish(id);
                }
                return word.map(|_| Err(NotWoken::Changed));
            }
        }
        ids
    };
    let why = loop {
        if ids.iter().any(|&id| FUTEXES.lock().is_woken(id)) {
            break None;
        }
        if deadline.is_some_and(|deadline| crate::clock::monotonic_ns() >= deadline) {
            break Some(NotWoken::TimedOut);
        }
        if super::lifecycle::has_pending_signal(pid) {
            break Some(NotWoken::Interrupted);
        }
        match deadline {
            Some(deadline) => scheduler::sleep_until(deadline),
            None => scheduler::block(),
        }
    };
    // A wake that came after the check above still counts: it was the waker's to give.
    let woken = {
        let mut table = FUTEXES.lock();
        let mut woken = None;
        for (index, &id) in ids.iter().enumerate() {
            if table.finish(id) {
                woken = Some(index);
            }
        }
        woken
    };
    Ok(match (woken, why) {
        (Some(index), _) => Ok(index),
        (None, Some(why)) => Err(why),
        (None, None) => Err(NotWoken::Interrupted),
    })
}

/// Wakes up to `limit` waiters of `futex` whose bitset meets `bitset`: how many.
pub fn wake(futex: &Futex, limit: usize, bitset: u32) -> usize {
    let woken = FUTEXES.lock().wake(futex.key, limit, bitset);
    wake_threads(woken)
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
    let (woken, moved) = {
        let mut table = FUTEXES.lock();
        if let Some(expected) = expected
            && read_word(mm, from.address)? != expected
        {
            return Err(Errno::EAGAIN);
        }
        table.requeue(from.key, to.key, wake, requeue, || to.pin.clone())
    };
    Ok(wake_threads(woken) + moved)
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
    let woken = {
        let mut table = FUTEXES.lock();
        let old = read_word(mm, second.address)?;
        write_word(mm, second.address, op.apply(old)?)?;
        let compared = op.compare(old)?;
        let mut woken = table.wake(first.key, limit, BITSET_MATCH_ANY);
        if compared {
            woken.extend(table.wake(second.key, limit2, BITSET_MATCH_ANY));
        }
        woken
    };
    Ok(wake_threads(woken))
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
            wake(&futex, 1, BITSET_MATCH_ANY);
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
        wake(&futex, 1, BITSET_MATCH_ANY);
    }
}

/// What a thread's end does to futexes, in Linux's order (`futex_exit_release`, then
/// `mm_release`): its robust list, then its `clear_child_tid`.
pub fn release_at_exit(process: &crate::process::Process) {
    exit_robust_list(&process.mm, process.robust_list.0, process.pid);
    process.task.set_robust_list(0);
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
    exit_robust_list(old_mm, robust_list, process.pid);
    clear_child_tid(old_mm, clear_child_tid_address);
    process.robust_list = (0, 0);
    process.task.set_robust_list(0);
}
