//! The lock table's rules on the host: conflicts, splitting and merging as other owners
//! see them, what releases what, waiters woken by the owner in their way, the deadlock
//! check's waits-for chain, `flock` sharing and conversion, and the budget.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use vfs_core::{Errno, MemoryBudget};

use super::range::{self, Held, Kind, OFFSET_MAX, Span};
use super::table::{Class, Conflict, FileKey, LOCK_COST, LockTable, Owner, Request};
use super::{DescriptionToken, OwnerToken};

use Kind::{Read, Write};

const FILE: FileKey = FileKey { dev: 5, ino: 77 };
const OTHER_FILE: FileKey = FileKey { dev: 5, ino: 78 };
const P1: Owner = Owner::Process(1);
const P2: Owner = Owner::Process(2);
const P3: Owner = Owner::Process(3);
const D1: Owner = Owner::Description(11);

fn budget() -> Arc<MemoryBudget> {
    MemoryBudget::unlimited()
}

fn span(start: u64, end: u64) -> Span {
    Span { start, end }
}

fn request(owner: Owner, span: Span, kind: Option<Kind>) -> Request {
    let pid = match owner {
        Owner::Process(id) => 100 + id as i32,
        Owner::Description(_) => 999,
    };
    Request {
        owner,
        pid,
        span,
        kind,
    }
}

/// Sets a lock without sleeping; the errno if it cannot.
fn set(
    table: &mut LockTable<u32>,
    owner: Owner,
    span: Span,
    kind: Option<Kind>,
) -> Result<(), Errno> {
    table
        .set_record(&budget(), FILE, &request(owner, span, kind), None)
        .map(|queued| assert_eq!(queued, None))
}

fn test(table: &LockTable<u32>, owner: Owner, span: Span, kind: Option<Kind>) -> Option<Conflict> {
    table.test_record(FILE, &request(owner, span, kind))
}

#[test]
fn readers_share_and_writers_exclude() {
    let mut table = LockTable::new();
    set(&mut table, P1, span(0, 9), Some(Read)).unwrap();
    set(&mut table, P2, span(5, 14), Some(Read)).unwrap();
    assert_eq!(
        set(&mut table, P3, span(9, 9), Some(Write)),
        Err(Errno::EAGAIN)
    );
    // Beyond both: free.
    set(&mut table, P3, span(15, 20), Some(Write)).unwrap();
    assert_eq!(
        set(&mut table, P1, span(20, 20), Some(Read)),
        Err(Errno::EAGAIN)
    );
    // An owner's own locks never conflict: it upgrades in place.
    set(&mut table, P3, span(15, 20), Some(Read)).unwrap();
    set(&mut table, P3, span(15, 20), Some(Write)).unwrap();
    // Unlocking never conflicts.
    set(&mut table, P2, span(0, OFFSET_MAX), None).unwrap();
    set(&mut table, P1, span(0, 9), Some(Write)).unwrap();
}

#[test]
fn getlk_reports_the_first_conflicting_lock_and_its_pid() {
    let mut table = LockTable::new();
    assert_eq!(test(&table, P1, span(0, 9), Some(Write)), None);
    set(&mut table, P1, span(10, 19), Some(Read)).unwrap();
    set(&mut table, P2, span(0, 29), Some(Read)).unwrap();
    // Two readers in the way of a writer: the one that locked the file first.
    assert_eq!(
        test(&table, P3, span(15, 15), Some(Write)),
        Some(Conflict {
            kind: Read,
            span: span(10, 19),
            pid: 101
        })
    );
    // A reader meets neither; the holder itself meets nothing of its own.
    assert_eq!(test(&table, P3, span(15, 15), Some(Read)), None);
    assert_eq!(
        test(&table, P1, span(0, 99), Some(Write)),
        Some(Conflict {
            kind: Read,
            span: span(0, 29),
            pid: 102
        })
    );
    // An OFD lock shows pid -1.
    set(&mut table, P1, span(0, OFFSET_MAX), None).unwrap();
    set(&mut table, P2, span(0, OFFSET_MAX), None).unwrap();
    set(&mut table, D1, span(40, OFFSET_MAX), Some(Write)).unwrap();
    assert_eq!(
        test(&table, P1, span(50, 50), Some(Read)),
        Some(Conflict {
            kind: Write,
            span: Span::from(40),
            pid: -1
        })
    );
    // F_OFD_GETLK with F_UNLCK: the caller's own overlapping lock (Linux 6.6).
    assert_eq!(
        test(&table, D1, span(0, 45), None),
        Some(Conflict {
            kind: Write,
            span: Span::from(40),
            pid: -1
        })
    );
    assert_eq!(test(&table, D1, span(0, 39), None), None);
}

#[test]
fn other_owners_see_splits_and_merges() {
    let mut table = LockTable::new();
    set(&mut table, P1, span(0, 99), Some(Read)).unwrap();
    set(&mut table, P1, span(40, 59), Some(Write)).unwrap();
    let seen = |table: &LockTable<u32>, at: u64| {
        test(table, P2, span(at, at), Some(Write)).map(|conflict| (conflict.kind, conflict.span))
    };
    assert_eq!(seen(&table, 0), Some((Read, span(0, 39))));
    assert_eq!(seen(&table, 50), Some((Write, span(40, 59))));
    assert_eq!(seen(&table, 60), Some((Read, span(60, 99))));
    // A reader fits beside the two read pieces only.
    assert_eq!(
        set(&mut table, P2, span(39, 40), Some(Read)),
        Err(Errno::EAGAIN)
    );
    set(&mut table, P2, span(0, 39), Some(Read)).unwrap();
    // Back to read: one range again.
    set(&mut table, P1, span(40, 59), Some(Read)).unwrap();
    assert_eq!(seen(&table, 50), Some((Read, span(0, 99))));
    // Unlocking a hole in the middle.
    set(&mut table, P1, span(10, 89), None).unwrap();
    set(&mut table, P2, span(0, 39), None).unwrap();
    assert_eq!(seen(&table, 50), None);
    assert_eq!(seen(&table, 5), Some((Read, span(0, 9))));
    assert_eq!(seen(&table, 95), Some((Read, span(90, 99))));
    assert_eq!(table.held(), 2);
}

#[test]
fn posix_and_ofd_locks_of_one_process_conflict() {
    let mut table = LockTable::new();
    set(&mut table, P1, span(0, 9), Some(Write)).unwrap();
    assert_eq!(
        set(&mut table, D1, span(5, 5), Some(Read)),
        Err(Errno::EAGAIN)
    );
    // The same description locks again without conflict with itself.
    set(&mut table, D1, span(10, 19), Some(Write)).unwrap();
    set(&mut table, D1, span(15, 25), Some(Read)).unwrap();
}

#[test]
fn releases_follow_the_owner() {
    let mut table = LockTable::<u32>::new();
    let b = budget();
    for file in [FILE, OTHER_FILE] {
        table
            .set_record(&b, file, &request(P1, span(0, 9), Some(Write)), None)
            .unwrap();
        table
            .set_record(&b, file, &request(D1, span(20, 29), Some(Write)), None)
            .unwrap();
        table.set_flock(&b, file, 11, 7, Some(Write), None).unwrap();
    }
    assert_eq!(table.held(), 6);
    // A descriptor of FILE closed: the process's locks on FILE only.
    table.release_records(FILE, P1);
    assert_eq!(table.held(), 5);
    assert_eq!(test(&table, P2, span(0, 9), Some(Write)), None);
    // The description's last close: its OFD and flock locks on its file.
    table.release_description(OTHER_FILE, 11);
    assert_eq!(table.held(), 3);
    // The process's end: the rest of its locks anywhere.
    table.release_process(1);
    assert_eq!(table.held(), 2);
    table.release_description(FILE, 11);
    assert_eq!(table.held(), 0);
    assert_eq!(table.files_tracked(), 0);
}

#[test]
fn a_waiter_is_woken_by_the_owner_in_its_way() {
    let mut table = LockTable::new();
    let b = budget();
    set(&mut table, P1, span(0, 9), Some(Write)).unwrap();
    set(&mut table, P2, span(20, 29), Some(Write)).unwrap();
    let id = table
        .set_record(&b, FILE, &request(P3, span(0, 0), Some(Read)), Some(3))
        .unwrap()
        .expect("queued");
    assert!(!table.is_woken(id));
    // Another owner's changes do not wake it.
    set(&mut table, P2, span(20, 29), None).unwrap();
    assert!(table.drain_wakes().is_empty());
    assert!(!table.is_woken(id));
    // Its blocker's do.
    set(&mut table, P1, span(0, 9), Some(Read)).unwrap();
    assert_eq!(table.drain_wakes(), [3]);
    assert!(table.is_woken(id));
    table.cancel(id);
    set(&mut table, P3, span(0, 0), Some(Read)).unwrap();
    // A waiter given up leaves nothing behind.
    let id = table
        .set_record(&b, FILE, &request(P3, span(0, 0), Some(Write)), Some(3))
        .unwrap()
        .unwrap();
    table.cancel(id);
    set(&mut table, P1, span(0, OFFSET_MAX), None).unwrap();
    set(&mut table, P3, span(0, OFFSET_MAX), None).unwrap();
    assert!(table.drain_wakes().is_empty());
    assert_eq!(table.files_tracked(), 0);
}

#[test]
fn deadlock_between_two_processes() {
    let mut table = LockTable::new();
    let b = budget();
    set(&mut table, P1, span(0, 0), Some(Write)).unwrap();
    set(&mut table, P2, span(1, 1), Some(Write)).unwrap();
    // P1 waits for P2's byte...
    let waiting = table
        .set_record(&b, FILE, &request(P1, span(1, 1), Some(Write)), Some(1))
        .unwrap();
    assert!(waiting.is_some());
    // ...so P2 waiting for P1's would close the circle.
    assert_eq!(
        table.set_record(&b, FILE, &request(P2, span(0, 0), Some(Write)), Some(2)),
        Err(Errno::EDEADLK)
    );
    // Without sleeping it is only busy.
    assert_eq!(
        table.set_record(&b, FILE, &request(P2, span(0, 0), Some(Write)), None),
        Err(Errno::EAGAIN)
    );
    // A third process may wait on either.
    assert!(
        table
            .set_record(&b, FILE, &request(P3, span(0, 1), Some(Read)), Some(3))
            .unwrap()
            .is_some()
    );
    // Once P1 stops waiting (woken, or interrupted), P2 may wait for it.
    table.cancel(waiting.unwrap());
    assert!(
        table
            .set_record(&b, FILE, &request(P2, span(0, 0), Some(Write)), Some(2))
            .unwrap()
            .is_some()
    );
}

#[test]
fn deadlock_through_a_chain_across_files() {
    let mut table = LockTable::new();
    let b = budget();
    // P1 holds A, P2 holds B, P3 holds C; P1 waits for B, P2 for C: P3 asking for A
    // would wait for P1 → P2 → P3.
    table
        .set_record(&b, FILE, &request(P1, span(0, 0), Some(Write)), None)
        .unwrap();
    table
        .set_record(&b, OTHER_FILE, &request(P2, span(0, 0), Some(Write)), None)
        .unwrap();
    table
        .set_record(&b, FILE, &request(P3, span(9, 9), Some(Write)), None)
        .unwrap();
    table
        .set_record(
            &b,
            OTHER_FILE,
            &request(P1, span(0, 0), Some(Read)),
            Some(1),
        )
        .unwrap()
        .unwrap();
    table
        .set_record(&b, FILE, &request(P2, span(9, 9), Some(Read)), Some(2))
        .unwrap()
        .unwrap();
    assert_eq!(
        table.set_record(&b, FILE, &request(P3, span(0, 0), Some(Read)), Some(3)),
        Err(Errno::EDEADLK)
    );
}

#[test]
fn the_deadlock_check_gives_up_after_linuxs_limit() {
    // A chain of owners 1 → 2 → … → n, each waiting for the next one's byte; owner n
    // asking for owner 1's byte is a deadlock Linux finds only if the chain is short.
    for (length, found) in [(12, true), (13, false)] {
        let mut table = LockTable::new();
        let b = budget();
        for owner in 1..=length {
            table
                .set_record(
                    &b,
                    FILE,
                    &request(Owner::Process(owner), span(owner, owner), Some(Write)),
                    None,
                )
                .unwrap();
        }
        for owner in 1..length {
            table
                .set_record(
                    &b,
                    FILE,
                    &request(
                        Owner::Process(owner),
                        span(owner + 1, owner + 1),
                        Some(Write),
                    ),
                    Some(owner as u32),
                )
                .unwrap()
                .unwrap();
        }
        let last = table.set_record(
            &b,
            FILE,
            &request(Owner::Process(length), span(1, 1), Some(Write)),
            Some(length as u32),
        );
        assert_eq!(last.is_err(), found, "chain of {length}");
    }
}

#[test]
fn ofd_waiters_are_not_checked_for_deadlock() {
    let mut table = LockTable::new();
    let b = budget();
    let d2 = Owner::Description(12);
    set(&mut table, D1, span(0, 0), Some(Write)).unwrap();
    set(&mut table, d2, span(1, 1), Some(Write)).unwrap();
    table
        .set_record(&b, FILE, &request(D1, span(1, 1), Some(Write)), Some(1))
        .unwrap()
        .unwrap();
    assert!(
        table
            .set_record(&b, FILE, &request(d2, span(0, 0), Some(Write)), Some(2))
            .unwrap()
            .is_some()
    );
}

#[test]
fn flock_shares_excludes_and_converts() {
    let mut table = LockTable::new();
    let b = budget();
    table.set_flock(&b, FILE, 1, 10, Some(Read), None).unwrap();
    table.set_flock(&b, FILE, 2, 20, Some(Read), None).unwrap();
    assert_eq!(
        table.set_flock(&b, FILE, 3, 30, Some(Write), None),
        Err(Errno::EAGAIN)
    );
    // flock and record locks never meet.
    set(&mut table, P3, span(0, OFFSET_MAX), Some(Write)).unwrap();
    // A conversion that fails leaves the caller with no lock (Linux drops it first).
    assert_eq!(
        table.set_flock(&b, FILE, 1, 10, Some(Write), None),
        Err(Errno::EAGAIN)
    );
    assert_eq!(table.held(), 2);
    // Now only 2 holds a shared lock; its own upgrade goes through.
    table.set_flock(&b, FILE, 2, 20, Some(Write), None).unwrap();
    assert_eq!(
        table.set_flock(&b, FILE, 1, 10, Some(Read), None),
        Err(Errno::EAGAIN)
    );
    // A waiter behind 2 is woken when it unlocks.
    let id = table
        .set_flock(&b, FILE, 1, 10, Some(Read), Some(1))
        .unwrap()
        .unwrap();
    table.set_flock(&b, FILE, 2, 20, None, None).unwrap();
    assert_eq!(table.drain_wakes(), [1]);
    assert!(table.is_woken(id));
    table.cancel(id);
    table.set_flock(&b, FILE, 1, 10, Some(Read), None).unwrap();
    // Re-taking the kind already held changes nothing.
    table.set_flock(&b, FILE, 1, 10, Some(Read), None).unwrap();
    assert_eq!(table.held(), 2);
}

#[test]
fn locks_are_charged_and_refused_past_the_budget() {
    let b = MemoryBudget::new(3 * LOCK_COST);
    let mut table = LockTable::<u32>::new();
    table
        .set_record(&b, FILE, &request(P1, span(0, 99), Some(Read)), None)
        .unwrap();
    assert_eq!(b.used(), LOCK_COST);
    // A split needs two more records.
    table
        .set_record(&b, FILE, &request(P1, span(10, 19), Some(Write)), None)
        .unwrap();
    assert_eq!(b.used(), 3 * LOCK_COST);
    // Another split would pass the budget: ENOLCK, nothing changed.
    assert_eq!(
        table.set_record(&b, FILE, &request(P1, span(50, 59), None), None),
        Err(Errno::ENOLCK)
    );
    assert_eq!(table.held(), 3);
    assert_eq!(test_at(&table, 55), Some((Read, span(20, 99))));
    // Merging back gives the charges back.
    table
        .set_record(&b, FILE, &request(P1, span(10, 19), Some(Read)), None)
        .unwrap();
    assert_eq!(b.used(), LOCK_COST);
    // flock is ENOMEM past the budget, as Linux's flock_lock_inode.
    table.set_flock(&b, FILE, 1, 1, Some(Read), None).unwrap();
    table.set_flock(&b, FILE, 2, 1, Some(Read), None).unwrap();
    assert_eq!(
        table.set_flock(&b, FILE, 3, 1, Some(Read), None),
        Err(Errno::ENOMEM)
    );
    table.release_process(1);
    table.release_description(FILE, 1);
    table.release_description(FILE, 2);
    assert_eq!(b.used(), 0);
    assert_eq!(table.files_tracked(), 0);
}

fn test_at(table: &LockTable<u32>, at: u64) -> Option<(Kind, Span)> {
    test(table, P2, span(at, at), Some(Write)).map(|conflict| (conflict.kind, conflict.span))
}

#[test]
fn proc_lines_list_the_newest_first() {
    let mut table = LockTable::<u32>::new();
    let b = budget();
    set(&mut table, P1, span(0, 9), Some(Write)).unwrap();
    table
        .set_flock(&b, OTHER_FILE, 4, 55, Some(Read), None)
        .unwrap();
    set(&mut table, D1, span(20, 29), Some(Read)).unwrap();
    let lines = table.lines();
    let summary: Vec<(Class, Kind, i32)> = lines
        .iter()
        .map(|line| (line.class, line.kind, line.pid))
        .collect();
    assert_eq!(
        summary,
        [
            (Class::Ofd, Read, -1),
            (Class::Flock, Read, 55),
            (Class::Posix, Write, 101)
        ]
    );
}

static RELEASED: AtomicU64 = AtomicU64::new(0);

#[test]
fn tokens_release_on_drop() {
    let owner = OwnerToken::new(|id| {
        RELEASED.store(id, Ordering::SeqCst);
    });
    let id = owner.id();
    drop(owner);
    assert_eq!(RELEASED.load(Ordering::SeqCst), id);
    let description = DescriptionToken::new(FILE, |file, id| {
        assert_eq!(file, FILE);
        RELEASED.store(id, Ordering::SeqCst);
    });
    let id = description.id();
    assert_ne!(id, 0);
    drop(description);
    assert_eq!(RELEASED.load(Ordering::SeqCst), id);
}

/// Random requests of three owners against a model that applies each one to the owner's
/// whole list (`range::apply`) and refuses it on any conflict: the table (which only
/// touches the records near the request) agrees after every step, its lists stay sorted
/// and disjoint with same-type neighbours apart, and the budget holds one charge per
/// record.
#[test]
fn random_requests_match_the_whole_list_model() {
    let budget = MemoryBudget::unlimited();
    let mut table = LockTable::<u32>::new();
    let owners = [P1, P2, Owner::Description(9)];
    let mut model: [Vec<Held>; 3] = Default::default();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |limit: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % limit
    };
    for step in 0..4000 {
        let who = next(3) as usize;
        let start = next(64);
        let span = if next(8) == 0 {
            Span::from(start)
        } else {
            Span {
                start,
                end: start + next(12),
            }
        };
        let kind = match next(3) {
            0 => None,
            1 => Some(Read),
            _ => Some(Write),
        };
        let conflict = kind.is_some_and(|kind| {
            (0..3).filter(|&other| other != who).any(|other| {
                model[other]
                    .iter()
                    .any(|held| held.span.overlaps(&span) && held.kind.conflicts_with(kind))
            })
        });
        let got = table.set_record(&budget, FILE, &request(owners[who], span, kind), None);
        if conflict {
            assert_eq!(got, Err(Errno::EAGAIN), "step {step}");
        } else {
            assert_eq!(got, Ok(None), "step {step}");
            model[who] = range::apply(&model[who], span, kind);
        }
        let mut records = 0;
        for (index, owner) in owners.iter().enumerate() {
            let ranges = table.ranges_of(FILE, *owner);
            assert_eq!(ranges, model[index], "step {step}, owner {index}");
            for pair in ranges.windows(2) {
                assert!(
                    pair[0].span.end < pair[1].span.start,
                    "step {step}: overlap"
                );
                assert!(
                    pair[0].kind != pair[1].kind || pair[0].span.end + 1 < pair[1].span.start,
                    "step {step}: same-type neighbours touch"
                );
            }
            records += ranges.len() as u64;
        }
        assert_eq!(budget.used(), records * LOCK_COST, "step {step}");
    }
}

#[test]
fn thousands_of_ranges_lock_and_unlock() {
    let budget = MemoryBudget::unlimited();
    let mut table = LockTable::<u32>::new();
    for index in 0..2000 {
        table
            .set_record(
                &budget,
                FILE,
                &request(P1, span(index * 2, index * 2), Some(Write)),
                None,
            )
            .unwrap();
    }
    assert_eq!(table.held(), 2000);
    assert_eq!(
        test(&table, P2, span(2001, 2002), Some(Read)).map(|conflict| conflict.span),
        Some(span(2002, 2002))
    );
    // Filling the gaps merges everything into one range.
    for index in 0..2000 {
        table
            .set_record(
                &budget,
                FILE,
                &request(P1, span(index * 2 + 1, index * 2 + 1), Some(Write)),
                None,
            )
            .unwrap();
    }
    assert_eq!(
        table.ranges_of(FILE, P1),
        [Held {
            span: span(0, 3999),
            kind: Write
        }]
    );
    table
        .set_record(&budget, FILE, &request(P1, Span::from(0), None), None)
        .unwrap();
    assert_eq!(budget.used(), 0);
    assert_eq!(table.files_tracked(), 0);
}
