//! `threads [--busybox PATH]`: threads as a Rust program sees them through `std` and the raw
//! system calls under it, each answer Linux's. `std::thread` with `Mutex`, `Condvar`
//! (including a timed wait that times out), `Barrier`, `mpsc` (unbounded, rendezvous,
//! timeouts, disconnection), `RwLock` (readers at once, writers alone), thread-local storage
//! and its destructors, park/unpark, scoped threads, a panic caught by `join`; `futex`
//! itself (`EAGAIN`, `ETIMEDOUT`, the exact number woken or requeued, `EINVAL`/`EFAULT`);
//! thread ids; `tgkill` to one thread and a process-directed signal taken by the one thread
//! that has it unblocked; `exit_group` from a thread, the leader leaving first, `execve`
//! from a thread (the new image keeps the process id), a child spawned from a thread; each
//! thread's SIMD registers its own across switches, also while it leaves them untouched
//! for a while and its siblings or another process use theirs.
//!
//! One line per check (`ok`/`FAIL`), then `threads: N passed, M failed`; exit status 0
//! only if every check passed. Runs on the host too, where the expectations are checked.

use std::ffi::CString;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Barrier, Condvar, Mutex, RwLock, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

use libc::c_int;

#[path = "../report.rs"]
mod report;
#[path = "../sys.rs"]
mod sys;
use report::Report;
use sys::{describe, describe_wait, exited_with, getpid, gettid};

/// How long a child may take before its check fails (and it is killed).
const CHILD_DEADLINE: Duration = Duration::from_secs(30);

fn identity(report: &mut Report) {
    let pid = getpid();
    report.check(
        "the main thread's tid is the process id",
        gettid() == pid,
        format!("tid {} pid {pid}", gettid()),
    );
    let seen: Vec<(i32, i32)> = (0..2)
        .map(|_| thread::spawn(|| (gettid(), getpid())))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().unwrap_or((0, 0)))
        .collect();
    let ok = seen
        .iter()
        .all(|&(tid, thread_pid)| tid > 0 && tid != pid && thread_pid == pid)
        && seen[0].0 != seen[1].0;
    report.check(
        "each thread has its own tid and the process's pid",
        ok,
        format!("pid {pid}, threads (tid, pid) {seen:?}"),
    );
}

fn mutex_total(report: &mut Report) {
    const THREADS: u64 = 8;
    const EACH: u64 = 100_000;
    let counter = Arc::new(Mutex::new(0u64));
    let atomic = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let counter = Arc::clone(&counter);
            let atomic = Arc::clone(&atomic);
            thread::spawn(move || {
                for _ in 0..EACH {
                    *counter.lock().unwrap() += 1;
                    atomic.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let joined = handles
        .into_iter()
        .map(|handle| handle.join().is_ok())
        .filter(|ok| *ok)
        .count();
    let total = *counter.lock().unwrap();
    report.check(
        "Mutex: 8 threads x 100000 increments give exactly 800000",
        joined == THREADS as usize
            && total == THREADS * EACH
            && atomic.load(Ordering::SeqCst) == THREADS * EACH,
        format!(
            "{joined} joined, mutex total {total}, atomic total {}",
            atomic.load(Ordering::SeqCst)
        ),
    );
}

fn condvar(report: &mut Report) {
    // A bounded queue of 4: the producer waits when full, the consumer when empty.
    const ITEMS: u64 = 10_000;
    let shared = Arc::new((
        Mutex::new(std::collections::VecDeque::new()),
        Condvar::new(),
    ));
    let producer = {
        let shared = Arc::clone(&shared);
        thread::spawn(move || {
            let (queue, ready) = &*shared;
            for item in 0..ITEMS {
                let mut queue = ready
                    .wait_while(queue.lock().unwrap(), |queue| queue.len() >= 4)
                    .unwrap();
                queue.push_back(item);
                ready.notify_all();
            }
        })
    };
    let (queue, ready) = &*shared;
    let (mut sum, mut in_order, mut next) = (0u64, true, 0u64);
    for _ in 0..ITEMS {
        let mut guard = ready
            .wait_while(queue.lock().unwrap(), |queue| queue.is_empty())
            .unwrap();
        let item = guard.pop_front().unwrap_or(u64::MAX);
        ready.notify_all();
        drop(guard);
        in_order &= item == next;
        next += 1;
        sum += item;
    }
    let joined = producer.join().is_ok();
    report.check(
        "Condvar: 10000 items through a queue of 4, in order, sum 49995000",
        joined && in_order && sum == ITEMS * (ITEMS - 1) / 2,
        format!("joined {joined}, in order {in_order}, sum {sum}"),
    );

    let lock = Mutex::new(());
    let signal = Condvar::new();
    let started = Instant::now();
    let (_guard, result) = signal
        .wait_timeout(lock.lock().unwrap(), Duration::from_millis(50))
        .unwrap();
    let waited = started.elapsed();
    report.check(
        "Condvar::wait_timeout with no notify times out after at least 50 ms",
        result.timed_out()
            && waited >= Duration::from_millis(50)
            && waited < Duration::from_secs(10),
        format!("timed out {}, after {waited:?}", result.timed_out()),
    );

    // notify_all wakes every waiter: 4 threads wait for `go`, each counts itself out.
    let state = Arc::new((Mutex::new((false, 0u32)), Condvar::new()));
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let state = Arc::clone(&state);
            thread::spawn(move || {
                let (lock, signal) = &*state;
                let mut guard = lock.lock().unwrap();
                guard.1 += 1;
                signal.notify_all();
                while !guard.0 {
                    guard = signal.wait(guard).unwrap();
                }
            })
        })
        .collect();
    let (lock, signal) = &*state;
    let (all_waiting, _) = signal
        .wait_timeout_while(lock.lock().unwrap(), CHILD_DEADLINE, |guard| guard.1 < 4)
        .map(|(guard, result)| (guard.1 == 4, result))
        .unwrap();
    lock.lock().unwrap().0 = true;
    signal.notify_all();
    let woken = waiters
        .into_iter()
        .map(|handle| handle.join().is_ok())
        .filter(|ok| *ok)
        .count();
    report.check(
        "Condvar::notify_all wakes all 4 waiters",
        all_waiting && woken == 4,
        format!("all waiting {all_waiting}, {woken} woke"),
    );
}

fn barrier(report: &mut Report) {
    const THREADS: usize = 4;
    const ROUNDS: usize = 10;
    let barrier = Arc::new(Barrier::new(THREADS));
    let arrived = Arc::new(AtomicUsize::new(0));
    let early = Arc::new(AtomicUsize::new(0));
    let leaders = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (barrier, arrived, early, leaders) = (
                Arc::clone(&barrier),
                Arc::clone(&arrived),
                Arc::clone(&early),
                Arc::clone(&leaders),
            );
            thread::spawn(move || {
                for round in 0..ROUNDS {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    if barrier.wait().is_leader() {
                        leaders.fetch_add(1, Ordering::SeqCst);
                    }
                    // Past the barrier of round r, all threads have arrived r + 1 times.
                    if arrived.load(Ordering::SeqCst) < THREADS * (round + 1) {
                        early.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    let joined = handles
        .into_iter()
        .map(|handle| handle.join().is_ok())
        .filter(|ok| *ok)
        .count();
    let (leaders, early) = (leaders.load(Ordering::SeqCst), early.load(Ordering::SeqCst));
    report.check(
        "Barrier: 4 threads x 10 rounds, one leader a round, nobody through early",
        joined == THREADS && leaders == ROUNDS && early == 0,
        format!("{joined} joined, {leaders} leaders, {early} early"),
    );
}

fn channels(report: &mut Report) {
    const PRODUCERS: u64 = 4;
    const EACH: u64 = 10_000;
    let (sender, receiver) = mpsc::channel::<(u64, u64)>();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let sender = sender.clone();
            thread::spawn(move || {
                for seq in 0..EACH {
                    sender.send((producer, seq)).unwrap();
                }
            })
        })
        .collect();
    drop(sender);
    let mut next = [0u64; PRODUCERS as usize];
    let (mut count, mut sum, mut ordered) = (0u64, 0u64, true);
    while let Ok((producer, seq)) = receiver.recv() {
        ordered &= next[producer as usize] == seq;
        next[producer as usize] = seq + 1;
        count += 1;
        sum += seq;
    }
    let joined = producers
        .into_iter()
        .map(|handle| handle.join().is_ok())
        .filter(|ok| *ok)
        .count();
    report.check(
        "mpsc: 4 producers x 10000 messages, each producer's in order, then disconnected",
        joined == PRODUCERS as usize
            && count == PRODUCERS * EACH
            && ordered
            && sum == PRODUCERS * EACH * (EACH - 1) / 2,
        format!("{joined} joined, {count} received, ordered {ordered}, sum {sum}"),
    );

    let (sender, receiver) = mpsc::sync_channel::<u64>(0);
    let rendezvous = thread::spawn(move || (1..=100).all(|value| sender.send(value).is_ok()));
    let sum: u64 = receiver.iter().sum();
    let sent = rendezvous.join().unwrap_or(false);
    report.check(
        "sync_channel(0): 100 rendezvous sends, sum 5050",
        sent && sum == 5050,
        format!("sent {sent}, sum {sum}"),
    );

    let (_sender, receiver) = mpsc::channel::<u8>();
    let started = Instant::now();
    let result = receiver.recv_timeout(Duration::from_millis(30));
    let waited = started.elapsed();
    report.check(
        "mpsc recv_timeout on an empty channel: Timeout after at least 30 ms",
        result == Err(RecvTimeoutError::Timeout) && waited >= Duration::from_millis(30),
        format!("{result:?} after {waited:?}"),
    );
}

fn rwlock(report: &mut Report) {
    // All 4 readers hold the lock at once: they meet at a barrier while holding it, which
    // completes only if none waits for another to let go.
    const READERS: usize = 4;
    let lock = Arc::new(RwLock::new(7u64));
    let inside = Arc::new(Barrier::new(READERS + 1));
    let release = Arc::new(Barrier::new(READERS + 1));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (lock, inside, release) =
                (Arc::clone(&lock), Arc::clone(&inside), Arc::clone(&release));
            thread::spawn(move || {
                let guard = lock.read().unwrap();
                inside.wait();
                release.wait();
                *guard
            })
        })
        .collect();
    inside.wait();
    let write_refused = matches!(lock.try_write(), Err(TryLockError::WouldBlock));
    let read_allowed = lock.try_read().map(|value| *value == 7).unwrap_or(false);
    release.wait();
    let values: Vec<u64> = readers
        .into_iter()
        .map(|handle| handle.join().unwrap_or(0))
        .collect();
    report.check(
        "RwLock: 4 readers hold it at once; try_write refused meanwhile, try_read allowed",
        values == [7; READERS] && write_refused && read_allowed,
        format!(
            "values {values:?}, try_write refused {write_refused}, try_read allowed {read_allowed}"
        ),
    );

    let writers: Vec<_> = (0..4)
        .map(|_| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                for _ in 0..10_000 {
                    let mut value = lock.write().unwrap();
                    let before = *value;
                    thread::yield_now();
                    *value = before + 1;
                }
            })
        })
        .collect();
    let joined = writers
        .into_iter()
        .map(|handle| handle.join().is_ok())
        .filter(|ok| *ok)
        .count();
    let total = *lock.read().unwrap();
    report.check(
        "RwLock: 4 writers x 10000 read-yield-write increments give 40007",
        joined == 4 && total == 40_007,
        format!("{joined} joined, total {total}"),
    );
}

static TLS_DROPS: AtomicUsize = AtomicUsize::new(0);

struct CountsDrop(u64);

impl Drop for CountsDrop {
    fn drop(&mut self) {
        if self.0 != 0 {
            TLS_DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

thread_local! {
    static MINE: std::cell::Cell<u64> = const { std::cell::Cell::new(11) };
    static DROPS: std::cell::RefCell<CountsDrop> = const { std::cell::RefCell::new(CountsDrop(0)) };
}

fn thread_locals(report: &mut Report) {
    MINE.with(|value| value.set(1000));
    let seen: Vec<(u64, u64)> = (1..=4u64)
        .map(|index| {
            thread::spawn(move || {
                let initial = MINE.with(|value| value.get());
                MINE.with(|value| value.set(index));
                DROPS.with(|slot| slot.borrow_mut().0 = index);
                thread::sleep(Duration::from_millis(5));
                (initial, MINE.with(|value| value.get()))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().unwrap_or((0, 0)))
        .collect();
    let own = seen
        .iter()
        .enumerate()
        .all(|(index, &(initial, later))| initial == 11 && later == index as u64 + 1);
    let main_kept = MINE.with(|value| value.get()) == 1000;
    report.check(
        "thread_local!: each thread starts from the initial value and keeps its own",
        own && main_kept,
        format!("threads (initial, later) {seen:?}, main kept 1000: {main_kept}"),
    );
    let drops = TLS_DROPS.load(Ordering::SeqCst);
    report.check(
        "thread-local destructors ran in each of the 4 threads",
        drops == 4,
        format!("{drops} ran"),
    );
}

fn park_and_scope(report: &mut Report) {
    let flag = Arc::new(AtomicBool::new(false));
    let parked = {
        let flag = Arc::clone(&flag);
        thread::spawn(move || {
            let started = Instant::now();
            while !flag.load(Ordering::SeqCst) && started.elapsed() < CHILD_DEADLINE {
                thread::park_timeout(Duration::from_secs(1));
            }
            flag.load(Ordering::SeqCst)
        })
    };
    thread::sleep(Duration::from_millis(10));
    flag.store(true, Ordering::SeqCst);
    parked.thread().unpark();
    let saw = parked.join().unwrap_or(false);
    report.check(
        "park/unpark: the parked thread sees the flag",
        saw,
        "it did not",
    );

    let started = Instant::now();
    let slept = thread::spawn(|| {
        let started = Instant::now();
        thread::sleep(Duration::from_millis(20));
        started.elapsed()
    })
    .join()
    .unwrap_or_default();
    report.check(
        "thread::sleep(20 ms) in a thread sleeps at least 20 ms",
        slept >= Duration::from_millis(20) && started.elapsed() >= slept,
        format!("slept {slept:?}"),
    );

    let numbers: Vec<u64> = (1..=100_000).collect();
    let partial: Vec<u64> = thread::scope(|scope| {
        let handles: Vec<_> = numbers
            .chunks(25_000)
            .map(|chunk| scope.spawn(move || chunk.iter().sum::<u64>()))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or(0))
            .collect()
    });
    let total: u64 = partial.iter().sum();
    report.check(
        "scoped threads sum borrowed slices: 5000050000",
        total == 5_000_050_000,
        format!("{partial:?} = {total}"),
    );

    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = thread::spawn(|| -> u32 { panic!("on purpose") }).join();
    std::panic::set_hook(quiet);
    let message = result
        .as_ref()
        .err()
        .and_then(|payload| payload.downcast_ref::<&str>().copied());
    report.check(
        "a panicking thread: join gives the panic, the process goes on",
        message == Some("on purpose"),
        format!("{message:?}"),
    );

    let handles: Vec<_> = (0..64u64)
        .map(|index| thread::spawn(move || index * index))
        .collect();
    let squares: u64 = handles
        .into_iter()
        .map(|handle| handle.join().unwrap_or(0))
        .sum();
    report.check(
        "64 threads at once, each joined with its result",
        squares == 85_344,
        format!("sum of squares {squares}"),
    );
    let mut sequential = 0u64;
    for index in 0..200u64 {
        sequential += thread::spawn(move || index).join().unwrap_or(0);
    }
    report.check(
        "200 threads one after another, each joined",
        sequential == 19_900,
        format!("sum {sequential}"),
    );
}

const FUTEX_WAIT: c_int = libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG;
const FUTEX_WAKE: c_int = libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG;
const FUTEX_REQUEUE: c_int = libc::FUTEX_REQUEUE | libc::FUTEX_PRIVATE_FLAG;

/// `futex(word, op, val, timeout_or_val2, word2, val3)` as `-errno` or the result.
fn futex(
    word: *const u32,
    op: c_int,
    val: u32,
    timeout: *const libc::timespec,
    word2: *const u32,
    val3: u32,
) -> i64 {
    // SAFETY: the kernel checks every pointer; the words the callers pass are live atomics.
    sys::raw(unsafe { libc::syscall(libc::SYS_futex, word, op, val, timeout, word2, val3) })
}

fn futex_calls(report: &mut Report) {
    let word = AtomicU32::new(5);
    let eagain = futex(
        word.as_ptr(),
        FUTEX_WAIT,
        4,
        std::ptr::null(),
        std::ptr::null(),
        0,
    );
    report.check(
        "FUTEX_WAIT with a stale value: EAGAIN",
        eagain == -i64::from(libc::EAGAIN),
        describe(eagain),
    );

    let timeout = libc::timespec {
        tv_sec: 0,
        tv_nsec: 20_000_000,
    };
    let started = Instant::now();
    let timed_out = futex(word.as_ptr(), FUTEX_WAIT, 5, &timeout, std::ptr::null(), 0);
    let waited = started.elapsed();
    report.check(
        "FUTEX_WAIT with a 20 ms timeout: ETIMEDOUT after at least 20 ms",
        timed_out == -i64::from(libc::ETIMEDOUT) && waited >= Duration::from_millis(20),
        format!("{} after {waited:?}", describe(timed_out)),
    );

    let misaligned = (word.as_ptr() as usize + 1) as *const u32;
    let einval = futex(
        misaligned,
        FUTEX_WAIT,
        5,
        std::ptr::null(),
        std::ptr::null(),
        0,
    );
    report.check(
        "FUTEX_WAIT on a misaligned word: EINVAL",
        einval == -i64::from(libc::EINVAL),
        describe(einval),
    );
    let efault = futex(
        8 as *const u32,
        FUTEX_WAIT,
        5,
        std::ptr::null(),
        std::ptr::null(),
        0,
    );
    report.check(
        "FUTEX_WAIT on an unmapped word: EFAULT",
        efault == -i64::from(libc::EFAULT),
        describe(efault),
    );
    let bitset = futex(
        word.as_ptr(),
        libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
        5,
        &timeout,
        std::ptr::null(),
        0,
    );
    report.check(
        "FUTEX_WAIT_BITSET with an empty bitset: EINVAL",
        bitset == -i64::from(libc::EINVAL),
        describe(bitset),
    );
    let none = futex(
        word.as_ptr(),
        FUTEX_WAKE,
        1,
        std::ptr::null(),
        std::ptr::null(),
        0,
    );
    report.check("FUTEX_WAKE with no waiter: 0", none == 0, describe(none));

    // Three waiters; wakes until all three have returned must add up to exactly three
    // (a waiter not yet asleep is woken by a later round).
    let shared = Arc::new(AtomicU32::new(0));
    let returned = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let (shared, returned) = (Arc::clone(&shared), Arc::clone(&returned));
            thread::spawn(move || {
                let result = futex(
                    shared.as_ptr(),
                    FUTEX_WAIT,
                    0,
                    std::ptr::null(),
                    std::ptr::null(),
                    0,
                );
                returned.fetch_add(1, Ordering::SeqCst);
                result
            })
        })
        .collect();
    let (woken, wake_rounds) = wake_until(&returned, 3, || {
        futex(
            shared.as_ptr(),
            FUTEX_WAKE,
            i32::MAX as u32,
            std::ptr::null(),
            std::ptr::null(),
            0,
        )
    });
    let results: Vec<i64> = waiters
        .into_iter()
        .map(|handle| handle.join().unwrap_or(-1))
        .collect();
    report.check(
        "FUTEX_WAKE: three sleepers, the wakes add up to exactly 3, each wait returns 0",
        woken == 3 && results == [0, 0, 0],
        format!("woken {woken} over {wake_rounds} rounds, waits returned {results:?}"),
    );

    // Requeue: three waiters on A moved to B (none woken on A), then woken on B.
    let (a, b) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let returned = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let (a, returned) = (Arc::clone(&a), Arc::clone(&returned));
            thread::spawn(move || {
                let result = futex(
                    a.as_ptr(),
                    FUTEX_WAIT,
                    0,
                    std::ptr::null(),
                    std::ptr::null(),
                    0,
                );
                returned.fetch_add(1, Ordering::SeqCst);
                result
            })
        })
        .collect();
    let mut requeued = 0;
    let (woken_on_b, _) = wake_until(&returned, 3, || {
        // nr_wake 0, nr_requeue (passed in the timeout slot) all of them.
        let moved = futex(
            a.as_ptr(),
            FUTEX_REQUEUE,
            0,
            i32::MAX as usize as *const libc::timespec,
            b.as_ptr(),
            0,
        );
        requeued += moved.max(0);
        futex(
            b.as_ptr(),
            FUTEX_WAKE,
            i32::MAX as u32,
            std::ptr::null(),
            std::ptr::null(),
            0,
        )
    });
    let results: Vec<i64> = waiters
        .into_iter()
        .map(|handle| handle.join().unwrap_or(-1))
        .collect();
    report.check(
        "FUTEX_REQUEUE: three waiters moved from one word to another, then woken there",
        requeued == 3 && woken_on_b == 3 && results == [0, 0, 0],
        format!("requeued {requeued}, woken on B {woken_on_b}, waits returned {results:?}"),
    );
}

/// Calls `wake` (which returns how many it woke, or `-errno`) until `returned` reaches
/// `count` or the deadline passes; the total woken and the number of rounds.
fn wake_until(returned: &AtomicUsize, count: usize, mut wake: impl FnMut() -> i64) -> (i64, u32) {
    let started = Instant::now();
    let (mut woken, mut rounds) = (0, 0);
    while returned.load(Ordering::SeqCst) < count && started.elapsed() < CHILD_DEADLINE {
        let result = wake();
        if result < 0 {
            return (result, rounds);
        }
        woken += result;
        rounds += 1;
        thread::sleep(Duration::from_millis(2));
    }
    (woken, rounds)
}

static HANDLED_BY: AtomicI32 = AtomicI32::new(0);

extern "C" fn record_tid(_signo: c_int) {
    HANDLED_BY.store(gettid(), Ordering::SeqCst);
}

/// A thread that publishes its tid, unblocks `unblock`, and waits (sleeping in small
/// steps) until a handler has run; gives whether one ran before the deadline.
fn signal_target(tid: Arc<AtomicI32>, unblock: Option<c_int>) -> thread::JoinHandle<bool> {
    thread::spawn(move || {
        if let Some(signo) = unblock {
            sys::mask(libc::SIG_UNBLOCK, &[signo]);
        }
        tid.store(gettid(), Ordering::SeqCst);
        let started = Instant::now();
        while HANDLED_BY.load(Ordering::SeqCst) == 0 && started.elapsed() < CHILD_DEADLINE {
            thread::sleep(Duration::from_millis(1));
        }
        HANDLED_BY.load(Ordering::SeqCst) != 0
    })
}

fn wait_for_tid(tid: &AtomicI32) -> i32 {
    let started = Instant::now();
    while tid.load(Ordering::SeqCst) == 0 && started.elapsed() < CHILD_DEADLINE {
        thread::sleep(Duration::from_millis(1));
    }
    tid.load(Ordering::SeqCst)
}

fn thread_signals(report: &mut Report) {
    sys::install(libc::SIGUSR1, record_tid, 0);
    HANDLED_BY.store(0, Ordering::SeqCst);
    let tid = Arc::new(AtomicI32::new(0));
    let target = signal_target(Arc::clone(&tid), None);
    let target_tid = wait_for_tid(&tid);
    // SAFETY: plain system call.
    let sent =
        sys::raw(unsafe { libc::syscall(libc::SYS_tgkill, getpid(), target_tid, libc::SIGUSR1) });
    let handled = target.join().unwrap_or(false);
    let by = HANDLED_BY.load(Ordering::SeqCst);
    report.check(
        "tgkill(pid, tid, SIGUSR1): the handler runs on that thread",
        sent == 0 && handled && by == target_tid,
        format!(
            "tgkill {}, handled {handled} by tid {by}, target {target_tid}",
            describe(sent)
        ),
    );
    // SAFETY: plain system call.
    let wrong = sys::raw(unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            getpid() + 100_000,
            gettid(),
            libc::SIGUSR1,
        )
    });
    report.check(
        "tgkill with the wrong thread group: ESRCH",
        wrong == -i64::from(libc::ESRCH),
        describe(wrong),
    );

    // A process-directed signal goes to a thread that has it unblocked.
    sys::install(libc::SIGUSR2, record_tid, 0);
    sys::mask(libc::SIG_BLOCK, &[libc::SIGUSR2]);
    HANDLED_BY.store(0, Ordering::SeqCst);
    let tid = Arc::new(AtomicI32::new(0));
    let target = signal_target(Arc::clone(&tid), Some(libc::SIGUSR2));
    let target_tid = wait_for_tid(&tid);
    // SAFETY: plain system call.
    let sent = sys::raw(i64::from(unsafe { libc::kill(getpid(), libc::SIGUSR2) }));
    let handled = target.join().unwrap_or(false);
    let by = HANDLED_BY.load(Ordering::SeqCst);
    sys::mask(libc::SIG_UNBLOCK, &[libc::SIGUSR2]);
    report.check(
        "kill(pid) with the signal blocked in the main thread: the thread that has it unblocked takes it",
        sent == 0 && handled && by == target_tid,
        format!("kill {}, handled {handled} by tid {by}, target {target_tid}", describe(sent)),
    );
}

/// `thread::spawn` in a forked child: a failure ends the child with 90 rather than
/// panicking (the panic would unwind into the parent's checks, copied into the child).
fn spawn_in_child<T: Send + 'static>(
    body: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    thread::Builder::new()
        .spawn(body)
        .unwrap_or_else(|_| sys::child_exit(90))
}

fn exits(report: &mut Report) {
    // exit_group from a second thread while the main one sleeps.
    let pid = sys::fork();
    if pid == 0 {
        spawn_in_child(|| {
            thread::sleep(Duration::from_millis(10));
            sys::child_exit(7)
        });
        thread::sleep(Duration::from_secs(60));
        sys::child_exit(1);
    }
    let waited = sys::wait_with_deadline(pid, CHILD_DEADLINE);
    report.check(
        "_exit(7) in a thread ends the whole process with 7",
        exited_with(&waited, 7),
        describe_wait(&waited),
    );

    // The leader leaves with SYS_exit (its thread alone); the process lives on in the
    // other thread, whose exit_group gives the status.
    let pid = sys::fork();
    if pid == 0 {
        spawn_in_child(|| {
            thread::sleep(Duration::from_millis(50));
            sys::child_exit(9)
        });
        // SAFETY: ends the calling thread only; nothing of it is used afterwards.
        unsafe { libc::syscall(libc::SYS_exit, 3) };
        sys::child_exit(1);
    }
    let waited = sys::wait_with_deadline(pid, CHILD_DEADLINE);
    report.check(
        "the main thread exits alone (SYS_exit): the other thread runs on and its _exit(9) is the status",
        exited_with(&waited, 9),
        describe_wait(&waited),
    );
}

fn exec_from_thread(report: &mut Report, busybox: &str) {
    if std::fs::metadata(busybox).is_err() {
        report.skip("execve from a thread", format!("{busybox} is missing"));
        report.skip(
            "a child spawned from a thread while others run",
            format!("{busybox} is missing"),
        );
        return;
    }
    // The child's stdout is a pipe; a non-leader thread execs `sh -c 'echo $$'` while two
    // others sleep. The new image must have the process's id and be alone.
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` has room for two descriptors.
    unsafe { libc::pipe(fds.as_mut_ptr()) };
    let path = CString::new(busybox).unwrap_or_default();
    let pid = sys::fork();
    if pid == 0 {
        // SAFETY: descriptors of this child.
        unsafe { libc::dup2(fds[1], 1) };
        sys::close(fds[0]);
        sys::close(fds[1]);
        for _ in 0..2 {
            spawn_in_child(|| thread::sleep(Duration::from_secs(60)));
        }
        let execer = spawn_in_child(move || {
            let argv = [
                c"sh".as_ptr(),
                c"-c".as_ptr(),
                c"echo $$".as_ptr(),
                std::ptr::null(),
            ];
            let envp = [c"PATH=/bin".as_ptr(), std::ptr::null()];
            // SAFETY: NUL-terminated argument and environment arrays of live strings.
            unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
            sys::child_exit(2)
        });
        let _ = execer.join();
        sys::child_exit(3);
    }
    sys::close(fds[1]);
    let mut printed = Vec::new();
    loop {
        let (got, bytes) = sys::read(fds[0], 64);
        if got <= 0 {
            break;
        }
        printed.extend_from_slice(&bytes);
    }
    sys::close(fds[0]);
    let waited = sys::wait_with_deadline(pid, CHILD_DEADLINE);
    let printed = String::from_utf8_lossy(&printed).trim().to_owned();
    report.check(
        "execve from a non-leader thread: the new image has the process's id, the other threads are gone",
        exited_with(&waited, 0) && printed == pid.to_string(),
        format!("printed {printed:?} (pid {pid}), {}", describe_wait(&waited)),
    );

    let stop = Arc::new(AtomicBool::new(false));
    let busy: Vec<_> = (0..3)
        .map(|_| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    let busybox = busybox.to_owned();
    let output = thread::spawn(move || {
        std::process::Command::new(busybox)
            .args(["echo", "from a thread"])
            .output()
    })
    .join()
    .map_err(|_| ())
    .and_then(|output| output.map_err(|_| ()));
    stop.store(true, Ordering::SeqCst);
    busy.into_iter().for_each(|handle| drop(handle.join()));
    let (status, stdout) = match &output {
        Ok(output) => (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        ),
        Err(()) => (None, String::new()),
    };
    report.check(
        "a child spawned from a thread while 3 others run: its output and status 0",
        status == Some(0) && stdout == "from a thread\n",
        format!("status {status:?}, stdout {stdout:?}"),
    );
}

/// Puts `value` in xmm7 and in the upper half of xmm15, makes `yields` raw `sched_yield`
/// calls without touching a vector register, and returns what the two then hold. Nothing
/// but the kernel's switching can change them meanwhile.
fn simd_across_yields(value: u64, yields: u64) -> (u64, u64) {
    let (low, high): (u64, u64);
    // SAFETY: only xmm7, xmm15 and the registers a system call clobbers are written, all
    // declared; the loop runs `yields` >= 1 times.
    unsafe {
        std::arch::asm!(
            "movq xmm7, {value}",
            "movq xmm15, {value}",
            "pslldq xmm15, 8",
            "2:",
            "mov eax, 24",
            "syscall",
            "dec {yields}",
            "jnz 2b",
            "movq {low}, xmm7",
            "psrldq xmm15, 8",
            "movq {high}, xmm15",
            value = in(reg) value,
            yields = inout(reg) yields.max(1) => _,
            low = out(reg) low,
            high = out(reg) high,
            out("rax") _, out("rcx") _, out("r11") _, out("xmm7") _, out("xmm15") _,
        );
    }
    (low, high)
}

/// Threads and a forked process each keep their own vector registers while they switch
/// back and forth, in rounds of many yields: rounds in which a thread leaves its registers
/// alone while others write theirs (the kernel may then load them only when it next uses
/// them) and rounds of one yield (every slice uses them).
fn simd_registers(report: &mut Report) {
    const THREADS: u64 = 4;
    const ROUNDS: u64 = 300;
    let check = |seed: u64| -> Option<String> {
        for round in 0..ROUNDS {
            let value = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ round;
            let yields = if round % 3 == 0 { 1 } else { 1 + round % 7 };
            let seen = simd_across_yields(value, yields);
            if seen != (value, value) {
                return Some(format!(
                    "seed {seed} round {round}: wrote {value:#x}, read {seen:x?}"
                ));
            }
        }
        None
    };
    // SAFETY: fork in a process whose other threads are all joined; the child only runs
    // the check and `_exit`s.
    let child = unsafe { libc::fork() };
    if child == 0 {
        let failed = check(99).is_some();
        // SAFETY: ends the child at once, as after fork.
        unsafe { libc::_exit(i32::from(failed)) };
    }
    let handles: Vec<_> = (0..THREADS)
        .map(|seed| thread::spawn(move || check(seed + 1)))
        .collect();
    let errors: Vec<String> = handles
        .into_iter()
        .filter_map(|handle| handle.join().unwrap_or(Some("thread panicked".into())))
        .collect();
    report.check(
        "each thread's SIMD registers stay its own across switches",
        errors.is_empty(),
        format!("{errors:?}"),
    );
    let status = sys::wait_with_deadline(child, CHILD_DEADLINE);
    report.check(
        "a forked process's SIMD registers stay its own beside its parent's threads",
        child > 0 && exited_with(&status, 0),
        format!("fork {child}, {}", describe_wait(&status)),
    );
}

/// Runs one group of checks; a panic inside it (say `thread::spawn` failing on a kernel
/// without threads) fails that group with its message and lets the next groups run.
fn section(report: &mut Report, name: &str, body: impl FnOnce(&mut Report)) {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(report)));
    if let Err(payload) = result {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| {
                payload
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_owned())
            })
            .unwrap_or_default();
        report.check(
            &format!("{name}: ran to the end"),
            false,
            format!("panicked: {message}"),
        );
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let busybox = match args.as_slice() {
        [_, flag, path] if flag == "--busybox" => path.clone(),
        _ => "/bin/busybox".to_owned(),
    };
    let mut report = Report::default();
    section(&mut report, "identity", identity);
    section(&mut report, "Mutex", mutex_total);
    section(&mut report, "Condvar", condvar);
    section(&mut report, "Barrier", barrier);
    section(&mut report, "mpsc", channels);
    section(&mut report, "RwLock", rwlock);
    section(&mut report, "thread_local!", thread_locals);
    section(&mut report, "park and scoped threads", park_and_scope);
    section(&mut report, "futex", futex_calls);
    section(&mut report, "SIMD registers", simd_registers);
    section(&mut report, "signals to threads", thread_signals);
    section(&mut report, "exits", exits);
    section(&mut report, "exec from a thread", |report| {
        exec_from_thread(report, &busybox)
    });
    report.finish("threads")
}
