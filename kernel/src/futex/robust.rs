//! Robust futexes: the list of locks a thread holds, which the kernel walks when the
//! thread dies so that waiters learn the owner died (Linux's `exit_robust_list` and
//! `handle_futex_death` in `kernel/futex/core.c`; `Documentation/locking/robust-futex-ABI`).
//!
//! The list lives in user memory: `struct robust_list_head { struct robust_list list;
//! long futex_offset; struct robust_list *list_op_pending; }`, each entry's first word
//! the next entry (its low bit: the futex is a PI one), the futex word at the entry plus
//! `futex_offset`. Nothing in it is trusted: every read may fault (the walk stops), the
//! walk stops after [`ROBUST_LIST_LIMIT`] entries so a cyclic list cannot hold the
//! kernel, and only words whose owner is the dying thread are changed.

use vfs_core::Errno;

use super::op::{FUTEX_TID_MASK, FUTEX_WAITERS, owner_died};

/// Entries walked at most (Linux's `ROBUST_LIST_LIMIT`).
pub const ROBUST_LIST_LIMIT: usize = 2048;
/// `sizeof(struct robust_list_head)`: the one length `set_robust_list` accepts.
pub const ROBUST_LIST_HEAD_SIZE: u64 = 24;

/// The user memory of the dying thread and the futexes in it.
pub trait RobustMemory {
    fn read_u64(&mut self, address: u64) -> Result<u64, Errno>;
    fn read_u32(&mut self, address: u64) -> Result<u32, Errno>;
    fn write_u32(&mut self, address: u64, value: u32) -> Result<(), Errno>;
    /// Wakes one waiter of the futex at `address`, as a shared futex (Linux wakes
    /// robust futexes without `FUTEX_PRIVATE_FLAG`); a fault is ignored.
    fn wake_one(&mut self, address: u64);
}

/// An entry pointer and its PI bit.
fn fetch(memory: &mut impl RobustMemory, address: u64) -> Result<(u64, bool), Errno> {
    let raw = memory.read_u64(address)?;
    Ok((raw & !1, raw & 1 != 0))
}

/// Walks the list at `head` for the thread `tid`, which is ending.
pub fn exit_robust_list(memory: &mut impl RobustMemory, head: u64, tid: u32) {
    let Ok((mut entry, mut pi)) = fetch(memory, head) else {
        return;
    };
    let Ok(offset) = memory.read_u64(head.wrapping_add(8)) else {
        return;
    };
    let Ok((pending, pending_pi)) = fetch(memory, head.wrapping_add(16)) else {
        return;
    };
    let mut limit = ROBUST_LIST_LIMIT;
    while entry != head {
        // The next entry is read before this one's futex is released: once released,
        // another thread may take the lock and reuse the entry.
        let next = fetch(memory, entry);
        // A lock being added may be on the list already: handled once, below.
        if entry != pending
            && handle_death(memory, entry.wrapping_add(offset), tid, pi, false).is_err()
        {
            return;
        }
        let Ok((next_entry, next_pi)) = next else {
            return;
        };
        entry = next_entry;
        pi = next_pi;
        limit -= 1;
        if limit == 0 {
            break;
        }
    }
    if pending != 0 {
        let _ = handle_death(memory, pending.wrapping_add(offset), tid, pending_pi, true);
    }
}

/// One futex of the dying thread: if it owns it, the word gets the owner-died bit (and
/// loses the owner's id), and one waiter is woken if the word said there were waiters
/// (a PI futex's waiters are handed the lock by the PI state instead). A lock that was
/// being taken or released (`pending`) with no owner wakes a waiter without changing the
/// word. `Err` stops the walk (an unaligned or unreachable word).
fn handle_death(
    memory: &mut impl RobustMemory,
    address: u64,
    tid: u32,
    pi: bool,
    pending: bool,
) -> Result<(), Errno> {
    if !address.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    let word = memory.read_u32(address)?;
    let owner = word & FUTEX_TID_MASK;
    if pending && !pi && owner == 0 {
        memory.wake_one(address);
        return Ok(());
    }
    if owner != tid {
        return Ok(());
    }
    memory.write_u32(address, owner_died(word))?;
    if !pi && word & FUTEX_WAITERS != 0 {
        memory.wake_one(address);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::op::FUTEX_OWNER_DIED;
    use super::*;
    use std::collections::BTreeMap;

    /// Memory as 4-byte words; absent words fault.
    #[derive(Default)]
    struct Fake {
        words: BTreeMap<u64, u32>,
        woken: Vec<u64>,
        reads: usize,
    }

    impl Fake {
        fn put_u64(&mut self, address: u64, value: u64) {
            self.words.insert(address, value as u32);
            self.words.insert(address + 4, (value >> 32) as u32);
        }
    }

    impl RobustMemory for Fake {
        fn read_u64(&mut self, address: u64) -> Result<u64, Errno> {
            self.reads += 1;
            let low = *self.words.get(&address).ok_or(Errno::EFAULT)?;
            let high = *self.words.get(&(address + 4)).ok_or(Errno::EFAULT)?;
            Ok(u64::from(low) | (u64::from(high) << 32))
        }
        fn read_u32(&mut self, address: u64) -> Result<u32, Errno> {
            self.words.get(&address).copied().ok_or(Errno::EFAULT)
        }
        fn write_u32(&mut self, address: u64, value: u32) -> Result<(), Errno> {
            let word = self.words.get_mut(&address).ok_or(Errno::EFAULT)?;
            *word = value;
            Ok(())
        }
        fn wake_one(&mut self, address: u64) {
            self.woken.push(address);
        }
    }

    const HEAD: u64 = 0x1000;
    /// Each lock: an entry (next pointer) at `base`, its futex word at `base + 8`.
    const OFFSET: u64 = 8;

    /// A list head and locks at `entries` (in list order), each with its word.
    fn list(entries: &[(u64, u32)], pending: u64) -> Fake {
        let mut memory = Fake::default();
        let first = entries.first().map_or(HEAD, |&(at, _)| at);
        memory.put_u64(HEAD, first);
        memory.put_u64(HEAD + 8, OFFSET);
        memory.put_u64(HEAD + 16, pending);
        for (index, &(at, word)) in entries.iter().enumerate() {
            let next = entries.get(index + 1).map_or(HEAD, |&(next, _)| next);
            memory.put_u64(at, next);
            memory.words.insert(at + OFFSET, word);
        }
        memory
    }

    #[test]
    fn marks_owned_locks_and_wakes_where_waiters_sleep() {
        let mut memory = list(
            &[
                (0x2000, 42),
                (0x3000, 42 | FUTEX_WAITERS),
                (0x4000, 7 | FUTEX_WAITERS),
            ],
            0,
        );
        exit_robust_list(&mut memory, HEAD, 42);
        assert_eq!(memory.words[&0x2008], FUTEX_OWNER_DIED);
        assert_eq!(memory.words[&0x3008], FUTEX_OWNER_DIED | FUTEX_WAITERS);
        // Another thread's lock is left alone.
        assert_eq!(memory.words[&0x4008], 7 | FUTEX_WAITERS);
        assert_eq!(memory.woken, [0x3008]);
    }

    #[test]
    fn pending_lock_is_handled_once() {
        let mut memory = list(&[(0x2000, 42 | FUTEX_WAITERS)], 0x2000);
        exit_robust_list(&mut memory, HEAD, 42);
        assert_eq!(memory.words[&0x2008], FUTEX_OWNER_DIED | FUTEX_WAITERS);
        assert_eq!(memory.woken, [0x2008]);
    }

    #[test]
    fn pending_unowned_lock_wakes_without_changing_the_word() {
        let mut memory = list(&[], 0x5000);
        memory.put_u64(0x5000, 0);
        memory.words.insert(0x5008, 0);
        exit_robust_list(&mut memory, HEAD, 42);
        assert_eq!(memory.words[&0x5008], 0);
        assert_eq!(memory.woken, [0x5008]);
    }

    #[test]
    fn pi_locks_are_marked_but_not_woken_here() {
        let mut memory = list(&[(0x2000, 42 | FUTEX_WAITERS)], 0);
        // The PI bit in the head's pointer to the first entry.
        memory.put_u64(HEAD, 0x2001);
        exit_robust_list(&mut memory, HEAD, 42);
        assert_eq!(memory.words[&0x2008], FUTEX_OWNER_DIED | FUTEX_WAITERS);
        assert!(memory.woken.is_empty());
    }

    #[test]
    fn a_cycle_ends_at_the_limit() {
        let mut memory = list(&[(0x2000, 42), (0x3000, 42)], 0);
        memory.put_u64(0x3000, 0x2000); // back to the first: never reaches the head
        exit_robust_list(&mut memory, HEAD, 42);
        // Head, offset, pending, then one read per entry walked.
        assert_eq!(memory.reads, 3 + ROBUST_LIST_LIMIT);
    }

    #[test]
    fn a_fault_ends_the_walk() {
        let mut memory = list(&[(0x2000, 42), (0x3000, 42)], 0);
        memory.put_u64(0x2000, 0x9000); // points at nothing
        exit_robust_list(&mut memory, HEAD, 42);
        assert_eq!(memory.words[&0x2008], FUTEX_OWNER_DIED);
        assert_eq!(memory.words[&0x3008], 42);
        // An unreadable head: nothing happens.
        let mut empty = Fake::default();
        exit_robust_list(&mut empty, HEAD, 42);
        assert!(empty.woken.is_empty());
    }

    #[test]
    fn unaligned_word_stops_the_walk() {
        let mut memory = list(&[(0x2000, 42), (0x3000, 42)], 0);
        memory.put_u64(HEAD + 8, 6); // futex_offset 6: misaligned words
        exit_robust_list(&mut memory, HEAD, 42);
        assert_eq!(memory.words[&0x3008], 42);
    }
}
