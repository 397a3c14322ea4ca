//! `futex`: futexes as programs use them, each answer Linux's. Waiters are other
//! processes in the same memory (`clone(CLONE_VM | SIGCHLD)` on a stack of their own),
//! or `fork` children sharing a file mapping or `MAP_SHARED` memory: wake counts (FIFO,
//! `INT_MAX`, 0), `EAGAIN`, relative and absolute timeouts on both clocks, `EINTR` and
//! `SA_RESTART`, bitsets, private versus shared keys, requeue and cmp-requeue counts,
//! `FUTEX_WAKE_OP`'s operations and comparisons, `futex_waitv`, robust lists (owner died
//! when a holder dies) and `get_robust_list`, the `clear_child_tid` wake, PI locks
//! (hand-off on unlock and on the owner's end, `EDEADLK`, `ESRCH`, timeouts) and
//! requeue-PI.
//!
//! A waiter's sleep is observed, never guessed with a delay: `FUTEX_REQUEUE` of a futex
//! onto itself moves (and counts) its waiters without waking them.
//!
//! The children share the parent's memory and thread pointer, so they make raw system
//! calls only (no `errno`, no allocation, no output). One line per check (`ok`/`FAIL`,
//! `SKIP` for what cannot run here), then `futex: N passed, M failed`; exit 0 only if
//! all passed. Runs on the host too.

use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[path = "../report.rs"]
#[allow(dead_code, reason = "errno() is for programs that use libc's calls; these are raw")]
mod report;
use report::Report;

const FUTEX_WAIT: i64 = 0;
const FUTEX_WAKE: i64 = 1;
const FUTEX_REQUEUE: i64 = 3;
const FUTEX_CMP_REQUEUE: i64 = 4;
const FUTEX_WAKE_OP: i64 = 5;
const FUTEX_LOCK_PI: i64 = 6;
const FUTEX_UNLOCK_PI: i64 = 7;
const FUTEX_TRYLOCK_PI: i64 = 8;
const FUTEX_WAIT_BITSET: i64 = 9;
const FUTEX_WAKE_BITSET: i64 = 10;
const FUTEX_WAIT_REQUEUE_PI: i64 = 11;
const FUTEX_CMP_REQUEUE_PI: i64 = 12;
const FUTEX_LOCK_PI2: i64 = 13;
const PRIVATE: i64 = 128;
const CLOCK_REALTIME_FLAG: i64 = 256;
const ANY: u32 = u32::MAX;
const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const SYS_FUTEX_WAITV: i64 = 449;

const EAGAIN: i64 = -(libc::EAGAIN as i64);
const EINTR: i64 = -(libc::EINTR as i64);
const EINVAL: i64 = -(libc::EINVAL as i64);
const EFAULT: i64 = -(libc::EFAULT as i64);
const ENOSYS: i64 = -(libc::ENOSYS as i64);
const ESRCH: i64 = -(libc::ESRCH as i64);
const EPERM: i64 = -(libc::EPERM as i64);
const EDEADLK: i64 = -(libc::EDEADLK as i64);
const ETIMEDOUT: i64 = -(libc::ETIMEDOUT as i64);

/// A system call without libc's `errno` (the children share the parent's thread
/// pointer, so `errno` too): the result or `-errno`.
fn sys(number: i64, a: [u64; 6]) -> i64 {
    let result: i64;
    // SAFETY: a raw system call; every pointer argument is the caller's to make valid,
    // and the kernel checks them (a bad one is EFAULT).
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") number => result,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack)
        );
    }
    result
}

fn addr(word: &AtomicU32) -> u64 {
    word as *const AtomicU32 as u64
}

fn futex(word: u64, op: i64, val: u32, timeout: u64, word2: u64, val3: u32) -> i64 {
    sys(libc::SYS_futex, [word, op as u64, u64::from(val), timeout, word2, u64::from(val3)])
}

fn wake(word: &AtomicU32, op_flags: i64, count: u32) -> i64 {
    futex(addr(word), FUTEX_WAKE | op_flags, count, 0, 0, 0)
}

/// Waiters of the futex (with this privacy), counted by requeueing them onto itself.
fn waiters(word: u64, flags: i64) -> i64 {
    futex(word, FUTEX_REQUEUE | flags, 0, i32::MAX as u64, word, 0)
}

/// Waits (up to 5 s) until `count` waiters sleep on the futex.
fn await_waiters(word: u64, flags: i64, count: i64) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if waiters(word, flags) >= count {
            return true;
        }
        pause_ms(1);
    }
    false
}

fn pause_ms(ms: i64) {
    let ts = libc::timespec { tv_sec: 0, tv_nsec: ms * 1_000_000 };
    sys(libc::SYS_nanosleep, [&ts as *const _ as u64, 0, 0, 0, 0, 0]);
}

fn now(clock: libc::clockid_t) -> libc::timespec {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    sys(libc::SYS_clock_gettime, [clock as u64, &mut ts as *mut _ as u64, 0, 0, 0, 0]);
    ts
}

fn plus_ms(ts: libc::timespec, ms: i64) -> libc::timespec {
    let ns = ts.tv_nsec + (ms % 1000) * 1_000_000;
    libc::timespec { tv_sec: ts.tv_sec + ms / 1000 + ns / 1_000_000_000, tv_nsec: ns % 1_000_000_000 }
}

fn ms(ms: i64) -> libc::timespec {
    libc::timespec { tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000 }
}

/// What a child does, set up by the parent before the clone (the child only reads it).
#[derive(Default)]
struct Job {
    kind: u32,
    word: usize,
    op: i64,
    value: u32,
    bitset: u32,
    /// Relative timeout in ms for a wait (0: none).
    timeout_ms: i64,
    /// For waitv: the vector and its length; for signals: the target pid.
    extra: usize,
    count: usize,
    result: AtomicI64,
    /// A second result (an unlock after a lock) and a word seen in between.
    result2: AtomicI64,
    observed: AtomicU32,
    done: AtomicU32,
}

const JOB_WAIT: u32 = 1;
const JOB_WAITV: u32 = 2;
/// Wait until the parent sleeps on `word`, then signal it (`extra`: its pid) with SIGUSR1.
const JOB_SIGNAL: u32 = 3;
/// As JOB_SIGNAL, then wait until the handler ran and the parent sleeps again, and wake it.
const JOB_SIGNAL_THEN_WAKE: u32 = 4;
/// Register a robust list (`extra`: its head), mark ready, and end once the parent sleeps
/// on `word` (shared).
const JOB_ROBUST: u32 = 5;
/// End once the parent sleeps on `word` (shared): the clear_child_tid wake.
const JOB_EXIT_WHEN_WAITED: u32 = 6;
/// Take the PI lock at `word` (FUTEX_LOCK_PI), note the word, mark done (1), wait until
/// the word at `extra` is nonzero, unlock, mark done (2).
const JOB_PI_HOLD: u32 = 7;
/// Register the robust list at `extra` (if any), take the PI lock at `word` with
/// FUTEX_TRYLOCK_PI, mark done, and end holding it once a waiter marked the word.
const JOB_PI_TAKE_AND_DIE: u32 = 8;
/// FUTEX_WAIT_REQUEUE_PI on `word` (expecting `value`) towards the PI futex at `extra`;
/// note that word once it returns, unlock it, mark done.
const JOB_REQUEUE_PI: u32 = 9;

fn mark_done(job: &Job, value: u32) {
    job.done.store(value, Ordering::SeqCst);
    futex(addr(&job.done), FUTEX_WAKE, i32::MAX as u32, 0, 0, 0);
}

extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: the parent passes a leaked (never freed) Job.
    let job = unsafe { &*(arg as *const Job) };
    let word = job.word as u64;
    let result = match job.kind {
        JOB_WAIT => {
            let ts = ms(job.timeout_ms);
            let timeout = if job.timeout_ms > 0 { &ts as *const _ as u64 } else { 0 };
            futex(word, job.op, job.value, timeout, 0, job.bitset)
        }
        JOB_WAITV => {
            let ts = plus_ms(now(libc::CLOCK_MONOTONIC), job.timeout_ms);
            let timeout = if job.timeout_ms > 0 { &ts as *const _ as u64 } else { 0 };
            sys(SYS_FUTEX_WAITV, [job.extra as u64, job.count as u64, 0, timeout, libc::CLOCK_MONOTONIC as u64, 0])
        }
        JOB_SIGNAL | JOB_SIGNAL_THEN_WAKE => {
            let mut result = -1;
            if await_waiters(word, job.op, 1) {
                result = sys(libc::SYS_kill, [job.extra as u64, libc::SIGUSR1 as u64, 0, 0, 0, 0]);
                if job.kind == JOB_SIGNAL_THEN_WAKE {
                    let start = Instant::now();
                    while HANDLED.load(Ordering::SeqCst) == 0 && start.elapsed() < Duration::from_secs(5) {
                        pause_ms(1);
                    }
                    if await_waiters(word, job.op, 1) {
                        result = futex(word, FUTEX_WAKE | job.op, 1, 0, 0, 0);
                    }
                }
            }
            result
        }
        JOB_ROBUST => {
            let result = sys(libc::SYS_set_robust_list, [job.extra as u64, 24, 0, 0, 0, 0]);
            job.result.store(result, Ordering::SeqCst);
            job.done.store(1, Ordering::SeqCst);
            futex(addr(&job.done), FUTEX_WAKE, 1, 0, 0, 0);
            // Ends holding the locks once the parent sleeps on one of them.
            if !await_waiters(word, 0, 1) {
                return 2;
            }
            return 0;
        }
        JOB_EXIT_WHEN_WAITED => i64::from(!await_waiters(word, 0, 1)),
        JOB_PI_HOLD => {
            let lock = futex(word, FUTEX_LOCK_PI | PRIVATE, 0, 0, 0, 0);
            // SAFETY: `word` is the parent's live futex word.
            let seen = unsafe { &*(job.word as *const AtomicU32) }.load(Ordering::SeqCst);
            job.observed.store(seen, Ordering::SeqCst);
            job.result.store(lock, Ordering::SeqCst);
            mark_done(job, 1);
            // SAFETY: `extra` is the parent's live release word.
            let release = unsafe { &*(job.extra as *const AtomicU32) };
            while release.load(Ordering::SeqCst) == 0 {
                futex(addr(release), FUTEX_WAIT | PRIVATE, 0, 0, 0, 0);
            }
            job.result2.store(futex(word, FUTEX_UNLOCK_PI | PRIVATE, 0, 0, 0, 0), Ordering::SeqCst);
            mark_done(job, 2);
            return 0;
        }
        JOB_PI_TAKE_AND_DIE => {
            if job.extra != 0 {
                sys(libc::SYS_set_robust_list, [job.extra as u64, 24, 0, 0, 0, 0]);
            }
            job.result.store(futex(word, FUTEX_TRYLOCK_PI | PRIVATE, 0, 0, 0, 0), Ordering::SeqCst);
            mark_done(job, 1);
            // SAFETY: `word` is the parent's live futex word.
            let lock = unsafe { &*(job.word as *const AtomicU32) };
            let start = Instant::now();
            while lock.load(Ordering::SeqCst) & FUTEX_WAITERS == 0 && start.elapsed() < Duration::from_secs(5) {
                pause_ms(1);
            }
            return 0;
        }
        JOB_REQUEUE_PI => {
            let r = futex(word, FUTEX_WAIT_REQUEUE_PI | PRIVATE, job.value, 0, job.extra as u64, 0);
            // SAFETY: `extra` is the parent's live PI futex word.
            let mutex = unsafe { &*(job.extra as *const AtomicU32) };
            job.observed.store(mutex.load(Ordering::SeqCst), Ordering::SeqCst);
            job.result2.store(futex(job.extra as u64, FUTEX_UNLOCK_PI | PRIVATE, 0, 0, 0, 0), Ordering::SeqCst);
            r
        }
        _ => -1,
    };
    job.result.store(result, Ordering::SeqCst);
    job.done.store(1, Ordering::SeqCst);
    0
}

static HANDLED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_usr1(_signo: i32) {
    HANDLED.fetch_add(1, Ordering::SeqCst);
}

fn install_usr1(flags: i32) {
    // SAFETY: a zeroed sigaction with a handler and flags is a valid argument.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_usr1 as *const () as usize;
        action.sa_flags = flags;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut());
    }
}

/// Starts `job` in a child sharing this memory; its pid. `tid` receives the child's tid
/// with `CLONE_PARENT_SETTID`/`CLONE_CHILD_SETTID` and is cleared with
/// `CLONE_CHILD_CLEARTID`.
fn spawn(job: &'static Job, extra_flags: i32, tid: *mut u32) -> i32 {
    const STACK: usize = 64 * 1024;
    // SAFETY: a fresh anonymous mapping for the child's stack, never unmapped (the child
    // may still run on it when the parent moves on).
    let stack = unsafe {
        libc::mmap(std::ptr::null_mut(), STACK, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    assert!(stack != libc::MAP_FAILED, "mmap for a stack");
    let top = (stack as u64 + STACK as u64) & !15;
    let flags = (libc::CLONE_VM | libc::SIGCHLD | extra_flags) as u64;
    let entry = child_main as extern "C" fn(*mut libc::c_void) -> libc::c_int;
    let result: i64;
    // A raw clone (musl's `clone` refuses CLONE_CHILD_CLEARTID): the child starts on its
    // own stack with the registers of this call, runs `child_main(job)` and exits with
    // what it returns.
    // SAFETY: the child's stack is its own mapping and 16-byte aligned; it leaves this
    // block only through exit. The parent gets the child's pid (or -errno) in rax.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rdi, r12",
            "call r13",
            "mov edi, eax",
            "mov eax, 60",
            "syscall",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone => result,
            in("rdi") flags, in("rsi") top, in("rdx") tid as u64, in("r10") tid as u64, in("r8") 0u64,
            in("r12") job as *const Job as u64, in("r13") entry as usize as u64,
            lateout("rcx") _, lateout("r11") _,
        );
    }
    assert!(result > 0, "clone: {result}");
    result as i32
}

/// Starts the waiters one after the other, each asleep on `word` (with `flags`) before
/// the next starts, so they queue in this order.
fn spawn_in_order(jobs: &[&'static Job], word: &AtomicU32, flags: i64) -> Vec<i32> {
    let before = waiters(addr(word), flags).max(0);
    let mut pids = Vec::new();
    for (index, job) in jobs.iter().enumerate() {
        pids.push(spawn(job, 0, std::ptr::null_mut()));
        await_waiters(addr(word), flags, before + index as i64 + 1);
    }
    pids
}

fn leak(job: Job) -> &'static Job {
    Box::leak(Box::new(job))
}

fn wait_job(word: &AtomicU32, op: i64, value: u32, bitset: u32, timeout_ms: i64) -> &'static Job {
    leak(Job { kind: JOB_WAIT, word: addr(word) as usize, op, value, bitset, timeout_ms, ..Job::default() })
}

fn reap(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: status is a live out-parameter.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    status
}

fn leaked_word(value: u32) -> &'static AtomicU32 {
    Box::leak(Box::new(AtomicU32::new(value)))
}

fn argument_checks(report: &mut Report) {
    let word = leaked_word(5);
    let w = addr(word);
    report.check("wait: the word differs: EAGAIN", futex(w, FUTEX_WAIT | PRIVATE, 6, 0, 0, 0) == EAGAIN, "");
    report.check("wait (shared): the word differs: EAGAIN", futex(w, FUTEX_WAIT, 6, 0, 0, 0) == EAGAIN, "");
    let r = futex(w + 2, FUTEX_WAIT | PRIVATE, 5, 0, 0, 0);
    report.check("wait: unaligned address: EINVAL", r == EINVAL, r);
    let r = futex(w + 2, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0);
    report.check("wake: unaligned address: EINVAL", r == EINVAL, r);
    let r = futex(0x1000, FUTEX_WAIT | PRIVATE, 0, 0, 0, 0);
    report.check("wait: unmapped word: EFAULT", r == EFAULT, r);
    let r = futex(0x1000, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0);
    report.check("private wake: unmapped word is not read: 0", r == 0, r);
    // A word on pages never touched yet (the kernel brings each in, then reads it): one
    // that differs from the expected 0, and one that times out as it holds it.
    // SAFETY: a fresh anonymous mapping, unmapped below; only the kernel reads it.
    let fresh = unsafe {
        libc::mmap(std::ptr::null_mut(), 2 * 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    if fresh != libc::MAP_FAILED {
        let r = futex(fresh as u64, FUTEX_WAIT | PRIVATE, 1, 0, 0, 0);
        report.check("wait: word on an untouched page differs (0 ≠ 1): EAGAIN", r == EAGAIN, r);
        let short = libc::timespec { tv_sec: 0, tv_nsec: 1_000_000 };
        let r = futex(fresh as u64 + 4096, FUTEX_WAIT | PRIVATE, 0, &short as *const _ as u64, 0, 0);
        report.check("wait: word on an untouched page holds 0: ETIMEDOUT", r == ETIMEDOUT, r);
        // SAFETY: the mapping made above, no longer used.
        unsafe { libc::munmap(fresh, 2 * 4096) };
    } else {
        report.check("mmap of two fresh pages", false, "MAP_FAILED");
    }
    let r = futex(0x1000, FUTEX_WAKE, 1, 0, 0, 0);
    report.check("shared wake: unmapped word: EFAULT", r == EFAULT, r);
    let r = futex(0xffff_ffff_ffff_f000, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0);
    report.check("private wake: kernel address: EFAULT", r == EFAULT, r);
    let r = futex(w, FUTEX_WAIT | PRIVATE, 5, 0x1000, 0, 0);
    report.check("wait: unreadable timeout: EFAULT", r == EFAULT, r);
    let bad = libc::timespec { tv_sec: 0, tv_nsec: 1_000_000_000 };
    let r = futex(w, FUTEX_WAIT | PRIVATE, 6, &bad as *const _ as u64, 0, 0);
    report.check("wait: tv_nsec = 1e9: EINVAL before the word is read", r == EINVAL, r);
    let r = futex(w, FUTEX_WAIT | PRIVATE | CLOCK_REALTIME_FLAG, 5, 0, 0, 0);
    report.check("FUTEX_WAIT with FUTEX_CLOCK_REALTIME: ENOSYS", r == ENOSYS, r);
    let r = futex(w, FUTEX_WAKE | PRIVATE | CLOCK_REALTIME_FLAG, 1, 0, 0, 0);
    report.check("FUTEX_WAKE with FUTEX_CLOCK_REALTIME: ENOSYS", r == ENOSYS, r);
    let r = futex(w, FUTEX_WAIT | PRIVATE | CLOCK_REALTIME_FLAG, 5, 0x1000, 0, 0);
    report.check("the timeout is read before the command is checked: EFAULT", r == EFAULT, r);
    let r = futex(w, 2 | PRIVATE, 0, 0, 0, 0);
    report.check("FUTEX_FD (gone): ENOSYS", r == ENOSYS, r);
    let r = futex(w, 14 | PRIVATE, 0, 0, 0, 0);
    report.check("unknown command: ENOSYS", r == ENOSYS, r);
    let r = futex(w, FUTEX_WAIT_BITSET | PRIVATE, 5, 0, 0, 0);
    report.check("wait_bitset: bitset 0: EINVAL", r == EINVAL, r);
    let r = futex(w, FUTEX_WAKE_BITSET | PRIVATE, 1, 0, 0, 0);
    report.check("wake_bitset: bitset 0: EINVAL", r == EINVAL, r);
    let r = wake(word, PRIVATE, 1);
    report.check("wake with nobody waiting: 0", r == 0, r);
    let r = futex(w, FUTEX_REQUEUE | PRIVATE, u32::MAX, 1, w, 0);
    report.check("requeue: negative wake count: EINVAL", r == EINVAL, r);
    let r = futex(w, FUTEX_CMP_REQUEUE | PRIVATE, 1, u32::MAX as u64, w, 5);
    report.check("cmp_requeue: negative requeue count: EINVAL", r == EINVAL, r);
    let r = futex(w, FUTEX_CMP_REQUEUE | PRIVATE, 1, 1, w, 4);
    report.check("cmp_requeue: *uaddr != val3: EAGAIN", r == EAGAIN, r);
}

fn timeouts(report: &mut Report) {
    let word = leaked_word(0);
    let w = addr(word);
    let timeout = ms(50);
    let start = Instant::now();
    let r = futex(w, FUTEX_WAIT | PRIVATE, 0, &timeout as *const _ as u64, 0, 0);
    let took = start.elapsed();
    report.check("wait: relative 50 ms timeout: ETIMEDOUT after 50 ms", r == ETIMEDOUT && took >= Duration::from_millis(50) && took < Duration::from_secs(5), format!("{r} after {took:?}"));
    let zero = ms(0);
    let r = futex(w, FUTEX_WAIT | PRIVATE, 0, &zero as *const _ as u64, 0, 0);
    report.check("wait: zero timeout: ETIMEDOUT", r == ETIMEDOUT, r);
    let r = futex(w, FUTEX_WAIT | PRIVATE, 1, &zero as *const _ as u64, 0, 0);
    report.check("wait: zero timeout, word differs: EAGAIN first", r == EAGAIN, r);
    for (name, clock, flag) in [("CLOCK_MONOTONIC", libc::CLOCK_MONOTONIC, 0), ("CLOCK_REALTIME", libc::CLOCK_REALTIME, CLOCK_REALTIME_FLAG)] {
        let deadline = plus_ms(now(clock), 50);
        let start = Instant::now();
        let r = futex(w, FUTEX_WAIT_BITSET | PRIVATE | flag, 0, &deadline as *const _ as u64, 0, ANY);
        let took = start.elapsed();
        let at = now(clock);
        let reached = (at.tv_sec, at.tv_nsec) >= (deadline.tv_sec, deadline.tv_nsec);
        report.check(&format!("wait_bitset: absolute deadline on {name}: ETIMEDOUT at the deadline"), r == ETIMEDOUT && reached && took < Duration::from_secs(5), format!("{r} after {took:?}, deadline {}.{:09}, returned at {}.{:09}", deadline.tv_sec, deadline.tv_nsec, at.tv_sec, at.tv_nsec));
        let past = libc::timespec { tv_sec: 1, tv_nsec: 0 };
        let r = futex(w, FUTEX_WAIT_BITSET | PRIVATE | flag, 0, &past as *const _ as u64, 0, ANY);
        report.check(&format!("wait_bitset: deadline in the past on {name}: ETIMEDOUT"), r == ETIMEDOUT, r);
    }
}

fn wake_counts(report: &mut Report) {
    let word = leaked_word(0);
    let jobs: Vec<_> = (0..3).map(|_| wait_job(word, FUTEX_WAIT | PRIVATE, 0, 0, 0)).collect();
    let pids = spawn_in_order(&jobs, word, PRIVATE);
    let ready = await_waiters(addr(word), PRIVATE, 3);
    report.check("three waiters sleep (counted by requeue onto itself)", ready, waiters(addr(word), PRIVATE));
    let r = wake(word, 0, 3);
    report.check("a shared wake does not wake private waiters", r == 0, r);
    let r = wake(word, PRIVATE, 2);
    report.check("wake 2 of 3: 2", r == 2, r);
    // The first two to sleep are woken (FIFO): reap them, the third still sleeps.
    let first_two = reap(pids[0]) == 0 && reap(pids[1]) == 0;
    let results: Vec<_> = jobs.iter().map(|job| job.result.load(Ordering::SeqCst)).collect();
    report.check("the two oldest waiters were woken, with 0", first_two && results[0] == 0 && results[1] == 0 && jobs[2].done.load(Ordering::SeqCst) == 0, format!("{results:?}"));
    let left = waiters(addr(word), PRIVATE);
    report.check("one waiter left", left == 1, left);
    let r = wake(word, PRIVATE, i32::MAX as u32);
    report.check("wake INT_MAX: wakes the one left", r == 1, r);
    reap(pids[2]);
    report.check("the last waiter returned 0", jobs[2].result.load(Ordering::SeqCst) == 0, jobs[2].result.load(Ordering::SeqCst));

    // A count of 0 still wakes one (Linux's loop wakes before it compares).
    let jobs: Vec<_> = (0..2).map(|_| wait_job(word, FUTEX_WAIT | PRIVATE, 0, 0, 0)).collect();
    let pids = spawn_in_order(&jobs, word, PRIVATE);
    let r = wake(word, PRIVATE, 0);
    report.check("wake with count 0: wakes one", r == 1, r);
    let r = wake(word, PRIVATE, u32::MAX);
    report.check("wake with count -1: wakes one", r == 1, r);
    for pid in pids {
        reap(pid);
    }

    // Shared waiters on private memory of this address space.
    let job = wait_job(word, FUTEX_WAIT, 0, 0, 0);
    let pid = spawn(job, 0, std::ptr::null_mut());
    await_waiters(addr(word), 0, 1);
    let r = wake(word, PRIVATE, 1);
    report.check("a private wake does not wake a shared waiter", r == 0, r);
    let r = wake(word, 0, 1);
    report.check("a shared wake wakes the shared waiter", r == 1, r);
    reap(pid);
}

fn bitsets(report: &mut Report) {
    let word = leaked_word(0);
    let low = wait_job(word, FUTEX_WAIT_BITSET | PRIVATE, 0, 0b01, 0);
    let high = wait_job(word, FUTEX_WAIT_BITSET | PRIVATE, 0, 0b10, 0);
    let pids = [spawn(low, 0, std::ptr::null_mut()), spawn(high, 0, std::ptr::null_mut())];
    await_waiters(addr(word), PRIVATE, 2);
    let r = futex(addr(word), FUTEX_WAKE_BITSET | PRIVATE, 10, 0, 0, 0b100);
    report.check("wake_bitset: no waiter's bit: 0", r == 0, r);
    let r = futex(addr(word), FUTEX_WAKE_BITSET | PRIVATE, 10, 0, 0, 0b10);
    reap(pids[1]);
    report.check("wake_bitset 0b10: wakes only the 0b10 waiter", r == 1 && high.result.load(Ordering::SeqCst) == 0 && low.done.load(Ordering::SeqCst) == 0, r);
    let r = wake(word, PRIVATE, 10);
    report.check("FUTEX_WAKE matches any bitset", r == 1, r);
    reap(pids[0]);
}

fn requeue(report: &mut Report) {
    let from = leaked_word(7);
    let to = leaked_word(0);
    let jobs: Vec<_> = (0..4).map(|_| wait_job(from, FUTEX_WAIT | PRIVATE, 7, 0, 0)).collect();
    let pids = spawn_in_order(&jobs, from, PRIVATE);
    let r = futex(addr(from), FUTEX_CMP_REQUEUE | PRIVATE, 1, 2, addr(to), 7);
    report.check("cmp_requeue wake 1, requeue 2 of 4: 3 (woken + moved)", r == 3, r);
    reap(pids[0]);
    let (left, moved) = (waiters(addr(from), PRIVATE), waiters(addr(to), PRIVATE));
    report.check("one left on the first futex, two on the second", left == 1 && moved == 2, format!("{left} and {moved}"));
    let r = futex(addr(from), FUTEX_REQUEUE | PRIVATE, 0, 5, addr(to), 0);
    report.check("requeue of the last one: 1", r == 1, r);
    let r = wake(from, PRIVATE, 10);
    report.check("nobody left on the first futex", r == 0, r);
    let r = wake(to, PRIVATE, 10);
    report.check("the moved waiters wake from the second futex", r == 3, r);
    for pid in &pids[1..] {
        reap(*pid);
    }
    let all_zero = jobs.iter().all(|job| job.result.load(Ordering::SeqCst) == 0);
    report.check("every requeued waiter returned 0", all_zero, "");
}

fn wake_op_encode(op: u32, cmp: u32, oparg: u32, cmparg: u32) -> u32 {
    (op << 28) | (cmp << 24) | ((oparg & 0xfff) << 12) | (cmparg & 0xfff)
}

fn wake_op(report: &mut Report) {
    let first = leaked_word(0);
    let second = leaked_word(5);
    let a = wait_job(first, FUTEX_WAIT | PRIVATE, 0, 0, 0);
    let b = wait_job(second, FUTEX_WAIT | PRIVATE, 5, 0, 0);
    let pids = [spawn(a, 0, std::ptr::null_mut()), spawn(b, 0, std::ptr::null_mut())];
    await_waiters(addr(first), PRIVATE, 1);
    await_waiters(addr(second), PRIVATE, 1);
    // *second += 1 (5 → 6); wake the second's waiter if the old value > 4.
    let op = wake_op_encode(1, 4, 1, 4);
    let r = futex(addr(first), FUTEX_WAKE_OP | PRIVATE, 1, 1, addr(second), op);
    report.check("wake_op ADD, old 5 > 4: both woken (2), word 6", r == 2 && second.load(Ordering::SeqCst) == 6, format!("{r}, word {}", second.load(Ordering::SeqCst)));
    reap(pids[0]);
    reap(pids[1]);
    let b = wait_job(second, FUTEX_WAIT | PRIVATE, 0xf, 0, 0);
    second.store(0xf, Ordering::SeqCst);
    let pid = spawn(b, 0, std::ptr::null_mut());
    await_waiters(addr(second), PRIVATE, 1);
    // ANDN with the shift flag: *second &= !(1 << 3) (0xf → 7); compare old == 0: false.
    let op = wake_op_encode(3 | 8, 0, 3, 0);
    let r = futex(addr(first), FUTEX_WAKE_OP | PRIVATE, 1, 1, addr(second), op);
    report.check("wake_op ANDN 1<<3, comparison false: nobody woken, word 7", r == 0 && second.load(Ordering::SeqCst) == 7, format!("{r}, word {:#x}", second.load(Ordering::SeqCst)));
    for (name, op, expected) in [("SET", 0, 0x123), ("OR", 2, 0x127), ("XOR", 4, 0x124)] {
        second.store(7, Ordering::SeqCst);
        // Compare old (7) != 7: false, so the waiter stays.
        let r = futex(addr(first), FUTEX_WAKE_OP | PRIVATE, 1, 1, addr(second), wake_op_encode(op, 1, 0x123, 7));
        report.check(&format!("wake_op {name}: word {expected:#x}"), r == 0 && second.load(Ordering::SeqCst) == expected, format!("{r}, word {:#x}", second.load(Ordering::SeqCst)));
    }
    let r = wake(second, PRIVATE, 1);
    reap(pid);
    report.check("the ANDN check's waiter still slept", r == 1, r);
    for (name, cmp, cmparg, old, expected) in [("EQ", 0, 0xfff, 0xffff_ffff, true), ("NE", 1, 7, 7, false), ("LT", 2, 8, 7, true), ("LE", 3, 7, 7, true), ("LE", 3, 6, 7, false), ("GT", 4, 0xfff, 7, true), ("GE", 5, 8, 7, false), ("LT (signed)", 2, 0, 0x8000_0000, true)] {
        second.store(old, Ordering::SeqCst);
        let job = wait_job(second, FUTEX_WAIT | PRIVATE, old, 0, 0);
        let pid = spawn(job, 0, std::ptr::null_mut());
        await_waiters(addr(second), PRIVATE, 1);
        // The operation (SET) does not matter here: the comparison is of the old value.
        let r = futex(addr(first), FUTEX_WAKE_OP | PRIVATE, 1, 1, addr(second), wake_op_encode(0, cmp, old & 0xfff, cmparg));
        report.check(&format!("wake_op comparison old {old:#x} {name} {cmparg:#x}: {expected}"), r == i64::from(expected), r);
        wake(second, PRIVATE, 1);
        reap(pid);
    }
    second.store(9, Ordering::SeqCst);
    let r = futex(addr(first), FUTEX_WAKE_OP | PRIVATE, 1, 1, addr(second), wake_op_encode(6, 0, 1, 0));
    report.check("wake_op unknown operation: ENOSYS, word untouched", r == ENOSYS && second.load(Ordering::SeqCst) == 9, r);
    let r = futex(addr(first), FUTEX_WAKE_OP | PRIVATE, 1, 1, addr(second), wake_op_encode(1, 9, 1, 0));
    report.check("wake_op unknown comparison: ENOSYS after the word changed", r == ENOSYS && second.load(Ordering::SeqCst) == 10, format!("{r}, word {}", second.load(Ordering::SeqCst)));
    let r = futex(addr(first), FUTEX_WAKE_OP | PRIVATE, 1, 1, 0x1000, wake_op_encode(1, 0, 1, 0));
    report.check("wake_op unmapped second word: EFAULT", r == EFAULT, r);
}

#[repr(C)]
struct Waitv {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

fn waitv(report: &mut Report) {
    let words: Vec<&'static AtomicU32> = (0..3).map(leaked_word).collect();
    let vector: &'static [Waitv] = Box::leak(
        words.iter().enumerate().map(|(i, word)| Waitv { val: i as u64, uaddr: addr(word), flags: 2 | 128, reserved: 0 }).collect::<Vec<_>>().into_boxed_slice(),
    );
    let v = vector.as_ptr() as u64;
    let job = leak(Job { kind: JOB_WAITV, word: addr(words[1]) as usize, extra: v as usize, count: 3, ..Job::default() });
    let pid = spawn(job, 0, std::ptr::null_mut());
    let ready = await_waiters(addr(words[2]), PRIVATE, 1);
    let r = wake(words[1], PRIVATE, 1);
    reap(pid);
    report.check("futex_waitv: woken by its second futex: returns 1", ready && r == 1 && job.result.load(Ordering::SeqCst) == 1, format!("wake {r}, waitv {}", job.result.load(Ordering::SeqCst)));
    report.check("futex_waitv: its other entries are gone", waiters(addr(words[0]), PRIVATE) == 0 && waiters(addr(words[2]), PRIVATE) == 0, "");
    let call = |v: u64, n: u64, flags: u64, timeout: u64, clock: u64| sys(SYS_FUTEX_WAITV, [v, n, flags, timeout, clock, 0]);
    words[2].store(9, Ordering::SeqCst);
    let r = call(v, 3, 0, 0, 0);
    report.check("futex_waitv: a value differs: EAGAIN", r == EAGAIN, r);
    words[2].store(2, Ordering::SeqCst);
    let deadline = plus_ms(now(libc::CLOCK_MONOTONIC), 30);
    let r = call(v, 3, 0, &deadline as *const _ as u64, libc::CLOCK_MONOTONIC as u64);
    report.check("futex_waitv: absolute monotonic deadline: ETIMEDOUT", r == ETIMEDOUT, r);
    let deadline = plus_ms(now(libc::CLOCK_REALTIME), 30);
    let r = call(v, 3, 0, &deadline as *const _ as u64, libc::CLOCK_REALTIME as u64);
    report.check("futex_waitv: absolute realtime deadline: ETIMEDOUT", r == ETIMEDOUT, r);
    let r = call(v, 3, 0, &deadline as *const _ as u64, libc::CLOCK_BOOTTIME as u64);
    report.check("futex_waitv: other clocks: EINVAL", r == EINVAL, r);
    report.check("futex_waitv: no futexes: EINVAL", call(v, 0, 0, 0, 0) == EINVAL, "");
    report.check("futex_waitv: more than 128: EINVAL", call(v, 129, 0, 0, 0) == EINVAL, "");
    report.check("futex_waitv: flags: EINVAL", call(v, 3, 1, 0, 0) == EINVAL, "");
    report.check("futex_waitv: NULL vector: EINVAL", call(0, 3, 0, 0, 0) == EINVAL, "");
    report.check("futex_waitv: unreadable vector: EFAULT", call(0x1000, 3, 0, 0, 0) == EFAULT, "");
    for (name, flags, reserved) in [("8-bit size", 128, 0), ("64-bit size", 3 | 128, 0), ("unknown flag", 2 | 0x200, 0), ("reserved word set", 2, 1)] {
        let one = Waitv { val: 0, uaddr: addr(words[0]), flags, reserved };
        let r = call(&one as *const _ as u64, 1, 0, 0, 0);
        report.check(&format!("futex_waitv: {name}: EINVAL"), r == EINVAL, r);
    }
    let big = Waitv { val: 1 << 32, uaddr: addr(words[0]), flags: 2, reserved: 0 };
    let r = call(&big as *const _ as u64, 1, 0, 0, 0);
    report.check("futex_waitv: a value wider than 32 bits: EINVAL", r == EINVAL, r);
}

fn signals(report: &mut Report) {
    let word = leaked_word(0);
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() } as usize;
    for (name, restart, timeout_ms) in [("no SA_RESTART, no timeout", 0, 0), ("SA_RESTART, with a timeout", libc::SA_RESTART, 5000)] {
        install_usr1(restart);
        HANDLED.store(0, Ordering::SeqCst);
        let job = leak(Job { kind: JOB_SIGNAL, word: addr(word) as usize, op: PRIVATE, extra: me, ..Job::default() });
        let pid = spawn(job, 0, std::ptr::null_mut());
        let ts = ms(timeout_ms);
        let timeout = if timeout_ms > 0 { &ts as *const _ as u64 } else { 0 };
        let r = futex(addr(word), FUTEX_WAIT | PRIVATE, 0, timeout, 0, 0);
        reap(pid);
        report.check(&format!("wait interrupted by a handled signal ({name}): EINTR"), r == EINTR && HANDLED.load(Ordering::SeqCst) == 1, format!("{r}, handled {}", HANDLED.load(Ordering::SeqCst)));
    }
    install_usr1(libc::SA_RESTART);
    HANDLED.store(0, Ordering::SeqCst);
    let job = leak(Job { kind: JOB_SIGNAL_THEN_WAKE, word: addr(word) as usize, op: PRIVATE, extra: me, ..Job::default() });
    let pid = spawn(job, 0, std::ptr::null_mut());
    let r = futex(addr(word), FUTEX_WAIT | PRIVATE, 0, 0, 0, 0);
    reap(pid);
    report.check("wait without a timeout, SA_RESTART: restarted after the handler, then woken (0)", r == 0 && HANDLED.load(Ordering::SeqCst) == 1 && job.result.load(Ordering::SeqCst) == 1, format!("{r}, handled {}, wake {}", HANDLED.load(Ordering::SeqCst), job.result.load(Ordering::SeqCst)));
}

#[repr(C)]
struct RobustHead {
    next: u64,
    futex_offset: i64,
    pending: u64,
}

/// A robust lock: the list link, then (8 bytes on) the futex word.
#[repr(C)]
struct RobustLock {
    next: u64,
    word: AtomicU32,
}

fn robust(report: &mut Report) {
    let head: &'static mut RobustHead = Box::leak(Box::new(RobustHead { next: 0, futex_offset: 8, pending: 0 }));
    let held = leak_lock();
    let other = leak_lock();
    let pending = leak_lock();
    let head_at = head as *const RobustHead as u64;
    head.next = held as *const RobustLock as u64;
    // SAFETY: the locks are leaked and only this thread writes their links now.
    unsafe {
        (*(held as *const RobustLock as *mut RobustLock)).next = other as *const RobustLock as u64;
        (*(other as *const RobustLock as *mut RobustLock)).next = head_at;
    }
    head.pending = pending as *const RobustLock as u64;
    let job = leak(Job { kind: JOB_ROBUST, word: addr(&held.word) as usize, extra: head_at as usize, ..Job::default() });
    let pid = spawn(job, 0, std::ptr::null_mut());
    // The child's tid is its pid (a process of its own): it holds `held` and `pending`.
    let tid = pid as u32;
    held.word.store(tid | FUTEX_WAITERS, Ordering::SeqCst);
    other.word.store(12345, Ordering::SeqCst);
    pending.word.store(tid, Ordering::SeqCst);
    while job.done.load(Ordering::SeqCst) == 0 {
        futex(addr(&job.done), FUTEX_WAIT, 0, 0, 0, 0);
    }
    report.check("set_robust_list", job.result.load(Ordering::SeqCst) == 0, job.result.load(Ordering::SeqCst));
    let (mut got_head, mut got_len) = (0u64, 0u64);
    let r = sys(libc::SYS_get_robust_list, [pid as u64, &mut got_head as *mut _ as u64, &mut got_len as *mut _ as u64, 0, 0, 0]);
    report.check("get_robust_list of another process (same user): its head, 24", r == 0 && got_head == head_at && got_len == 24, format!("{r} {got_head:#x} {got_len}"));
    // Sleeps (shared, as glibc's robust mutexes do) until the owner dies.
    let r = futex(addr(&held.word), FUTEX_WAIT, tid | FUTEX_WAITERS, 0, 0, 0);
    let status = reap(pid);
    report.check("a waiter on a robust lock is woken when its holder dies (0)", r == 0 && status == 0, format!("{r}, status {status:#x}"));
    let word = held.word.load(Ordering::SeqCst);
    report.check("the dead holder's lock: FUTEX_OWNER_DIED | FUTEX_WAITERS, tid cleared", word == FUTEX_OWNER_DIED | FUTEX_WAITERS, format!("{word:#x}"));
    report.check("another thread's lock on the list is left alone", other.word.load(Ordering::SeqCst) == 12345, other.word.load(Ordering::SeqCst));
    report.check("the pending lock it held: FUTEX_OWNER_DIED", pending.word.load(Ordering::SeqCst) == FUTEX_OWNER_DIED, format!("{:#x}", pending.word.load(Ordering::SeqCst)));

    let head2 = RobustHead { next: 0, futex_offset: 0, pending: 0 };
    let mine = &head2 as *const RobustHead as u64;
    let r = sys(libc::SYS_set_robust_list, [mine, 16, 0, 0, 0, 0]);
    report.check("set_robust_list with a wrong size: EINVAL", r == EINVAL, r);
    let r = sys(libc::SYS_set_robust_list, [mine, 24, 0, 0, 0, 0]);
    let r2 = sys(libc::SYS_get_robust_list, [0, &mut got_head as *mut _ as u64, &mut got_len as *mut _ as u64, 0, 0, 0]);
    report.check("get_robust_list(0): the caller's own head", r == 0 && r2 == 0 && got_head == mine, format!("{r2} {got_head:#x}"));
    // A real program's list (musl's or glibc's) is put back before the head goes.
    let r = sys(libc::SYS_set_robust_list, [0, 24, 0, 0, 0, 0]);
    report.check("set_robust_list(NULL)", r == 0, r);
    let r = sys(libc::SYS_get_robust_list, [0x3fff_fff0, &mut got_head as *mut _ as u64, &mut got_len as *mut _ as u64, 0, 0, 0]);
    report.check("get_robust_list of no such pid: ESRCH", r == ESRCH, r);
    let r = sys(libc::SYS_get_robust_list, [0, 0x1000, &mut got_len as *mut _ as u64, 0, 0, 0]);
    report.check("get_robust_list to an unwritable pointer: EFAULT", r == EFAULT, r);

    // Another user may not read it: a child that drops to uid 1000 asks for ours.
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        report.skip("get_robust_list of another user's process: EPERM", "not root: cannot become another user");
        return;
    }
    // SAFETY: the child makes raw calls and _exits.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: getppid has no preconditions.
        let parent = unsafe { libc::getppid() } as u64;
        let dropped = sys(libc::SYS_setresgid, [1000, 1000, 1000, 0, 0, 0]) == 0 && sys(libc::SYS_setresuid, [1000, 1000, 1000, 0, 0, 0]) == 0;
        let r = sys(libc::SYS_get_robust_list, [parent, &mut got_head as *mut _ as u64, &mut got_len as *mut _ as u64, 0, 0, 0]);
        // SAFETY: ends the child.
        unsafe { libc::_exit(if !dropped { 2 } else if r == EPERM { 0 } else { 1 }) };
    }
    let status = reap(child);
    report.check("get_robust_list of another user's process: EPERM", libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, format!("{status:#x}"));
}

fn leak_lock() -> &'static RobustLock {
    Box::leak(Box::new(RobustLock { next: 0, word: AtomicU32::new(0) }))
}

fn clear_tid(report: &mut Report) {
    let word: &'static AtomicU32 = leaked_word(u32::MAX);
    let job = leak(Job { kind: JOB_EXIT_WHEN_WAITED, word: addr(word) as usize, ..Job::default() });
    // The parent's copy of the tid is written before clone returns (the child's only
    // when it first runs, on Linux).
    let flags = libc::CLONE_PARENT_SETTID | libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID;
    let pid = spawn(job, flags, word.as_ptr());
    let tid = word.load(Ordering::SeqCst);
    report.check("CLONE_CHILD_SETTID: the child's tid in the word", tid == pid as u32, tid);
    let r = futex(addr(word), FUTEX_WAIT, tid, 0, 0, 0);
    let status = reap(pid);
    report.check("CLONE_CHILD_CLEARTID: the child's end wakes a shared waiter (0) and clears the word", r == 0 && word.load(Ordering::SeqCst) == 0 && status == 0, format!("{r}, word {}, status {status:#x}", word.load(Ordering::SeqCst)));
}

/// `fork` children: a file mapping (keyed by file and offset, shared whatever the
/// process) and `MAP_SHARED` anonymous memory.
fn across_fork(report: &mut Report, dir: &str) {
    let path = format!("{dir}/futex-file-{}", std::process::id());
    let made = std::fs::write(&path, vec![0u8; 4096]);
    let file = std::fs::File::open(&path);
    match (made, file) {
        (Ok(()), Ok(file)) => {
            use std::os::fd::AsRawFd;
            // SAFETY: a read-only shared mapping of a 4 KiB file.
            let map = unsafe { libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0) };
            if map == libc::MAP_FAILED {
                report.check("mmap a file MAP_SHARED", false, "mmap failed");
            } else {
                let w = map as u64 + 64;
                // SAFETY: the child waits and _exits.
                let child = unsafe { libc::fork() };
                if child == 0 {
                    let timeout = ms(5000);
                    let r = futex(w, FUTEX_WAIT, 0, &timeout as *const _ as u64, 0, 0);
                    // SAFETY: ends the child.
                    unsafe { libc::_exit(if r == 0 { 0 } else { 1 }) };
                }
                let ready = await_waiters(w, 0, 1);
                let r = futex(w, FUTEX_WAKE, 1, 0, 0, 0);
                let status = reap(child);
                report.check("a file mapping: a fork child's shared wait is woken by the parent's wake", ready && r == 1 && status == 0, format!("ready {ready}, wake {r}, status {status:#x}"));
                let r = futex(w, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0);
                report.check("a file mapping, private wake of nobody: 0", r == 0, r);
            }
        }
        (made, file) => report.check("a file for a mapping", false, format!("{made:?} {:?}", file.err())),
    }
    let _ = std::fs::remove_file(&path);

    // SAFETY: one shared anonymous page.
    let shared = unsafe { libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0) };
    assert!(shared != libc::MAP_FAILED, "mmap MAP_SHARED|MAP_ANONYMOUS");
    // SAFETY: the page is mapped and 4-byte aligned.
    let word = unsafe { &*(shared as *const AtomicU32) };
    // Whether a child's write reaches the parent: if not, the memory is not shared and
    // the futex checks below cannot mean anything.
    // SAFETY: the child writes and _exits.
    let probe = unsafe { libc::fork() };
    if probe == 0 {
        word.store(42, Ordering::SeqCst);
        // SAFETY: ends the child.
        unsafe { libc::_exit(0) };
    }
    reap(probe);
    if word.load(Ordering::SeqCst) != 42 {
        report.skip("MAP_SHARED|MAP_ANONYMOUS: a fork child's shared wait is woken by the parent's wake", "a child's write to MAP_SHARED anonymous memory does not reach its parent here");
        return;
    }
    word.store(0, Ordering::SeqCst);
    // SAFETY: the child waits and _exits.
    let child = unsafe { libc::fork() };
    if child == 0 {
        let timeout = ms(5000);
        let r = futex(addr(word), FUTEX_WAIT, 0, &timeout as *const _ as u64, 0, 0);
        // SAFETY: ends the child.
        unsafe { libc::_exit(if r == 0 { 0 } else { 1 }) };
    }
    let ready = await_waiters(addr(word), 0, 1);
    let r = futex(addr(word), FUTEX_WAKE | PRIVATE, 1, 0, 0, 0);
    report.check("MAP_SHARED|MAP_ANONYMOUS: a private wake does not reach another process", r == 0, r);
    let r = futex(addr(word), FUTEX_WAKE, 1, 0, 0, 0);
    let status = reap(child);
    report.check("MAP_SHARED|MAP_ANONYMOUS: a fork child's shared wait is woken by the parent's wake", ready && r == 1 && status == 0, format!("ready {ready}, wake {r}, status {status:#x}"));
}

fn await_done(job: &Job, value: u32) -> bool {
    let start = Instant::now();
    while job.done.load(Ordering::SeqCst) < value {
        if start.elapsed() > Duration::from_secs(5) {
            return false;
        }
        let timeout = ms(100);
        futex(addr(&job.done), FUTEX_WAIT, job.done.load(Ordering::SeqCst), &timeout as *const _ as u64, 0, 0);
    }
    true
}

/// Waits (up to 5 s) until a PI waiter marked the word.
fn await_waiters_bit(word: &AtomicU32) -> bool {
    let start = Instant::now();
    while word.load(Ordering::SeqCst) & FUTEX_WAITERS == 0 {
        if start.elapsed() > Duration::from_secs(5) {
            return false;
        }
        pause_ms(1);
    }
    true
}

fn pi(report: &mut Report) {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() } as u32;
    let lock = leaked_word(0);
    let l = addr(lock);
    let r = futex(l, FUTEX_TRYLOCK_PI | PRIVATE, 0, 0, 0, 0);
    report.check("trylock_pi of a free lock: 0, the word is our tid", r == 0 && lock.load(Ordering::SeqCst) == me, format!("{r}, word {:#x}", lock.load(Ordering::SeqCst)));
    let r = futex(l, FUTEX_LOCK_PI | PRIVATE, 0, 0, 0, 0);
    report.check("lock_pi of a lock we own: EDEADLK", r == EDEADLK, r);
    let r = futex(l, FUTEX_TRYLOCK_PI | PRIVATE, 0, 0, 0, 0);
    report.check("trylock_pi of a lock we own: EDEADLK", r == EDEADLK, r);
    let r = futex(l, FUTEX_UNLOCK_PI | PRIVATE, 0, 0, 0, 0);
    report.check("unlock_pi with nobody waiting: 0, the word 0", r == 0 && lock.load(Ordering::SeqCst) == 0, r);
    let r = futex(l, FUTEX_UNLOCK_PI | PRIVATE, 0, 0, 0, 0);
    report.check("unlock_pi of a lock we do not own: EPERM", r == EPERM, r);
    lock.store(0x3fff_fff0, Ordering::SeqCst);
    let r = futex(l, FUTEX_LOCK_PI | PRIVATE, 0, 0, 0, 0);
    report.check("lock_pi of a lock whose owner does not exist: ESRCH, FUTEX_WAITERS set", r == ESRCH && lock.load(Ordering::SeqCst) == 0x3fff_fff0 | FUTEX_WAITERS, format!("{r}, word {:#x}", lock.load(Ordering::SeqCst)));
    lock.store(0, Ordering::SeqCst);
    let r = futex(l, FUTEX_LOCK_PI | PRIVATE | CLOCK_REALTIME_FLAG, 0, 0, 0, 0);
    report.check("lock_pi with FUTEX_CLOCK_REALTIME: ENOSYS", r == ENOSYS, r);
    let r = futex(l, FUTEX_LOCK_PI2 | PRIVATE | CLOCK_REALTIME_FLAG, 0, 0, 0, 0);
    report.check("lock_pi2 (FUTEX_CLOCK_REALTIME allowed) of a free lock: 0", r == 0 && lock.load(Ordering::SeqCst) == me, r);
    futex(l, FUTEX_UNLOCK_PI | PRIVATE, 0, 0, 0, 0);

    // Hand-off: we hold it, a child blocks in lock_pi, our unlock makes it the owner.
    futex(l, FUTEX_TRYLOCK_PI | PRIVATE, 0, 0, 0, 0);
    let release = leaked_word(0);
    let job = leak(Job { kind: JOB_PI_HOLD, word: l as usize, extra: addr(release) as usize, ..Job::default() });
    let pid = spawn(job, 0, std::ptr::null_mut());
    let waiting = await_waiters_bit(lock);
    report.check("lock_pi of a held lock: the waiter marks the word FUTEX_WAITERS", waiting && lock.load(Ordering::SeqCst) == me | FUTEX_WAITERS, format!("{:#x}", lock.load(Ordering::SeqCst)));
    let r = futex(l, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0);
    report.check("a plain wake meeting a PI waiter: EINVAL", r == EINVAL, r);
    let r = futex(l, FUTEX_UNLOCK_PI | PRIVATE, 0, 0, 0, 0);
    let handed = await_done(job, 1);
    let child = pid as u32;
    report.check("unlock_pi hands the lock to the waiter: its lock_pi returns 0, the word its tid | FUTEX_WAITERS", r == 0 && handed && job.result.load(Ordering::SeqCst) == 0 && job.observed.load(Ordering::SeqCst) == child | FUTEX_WAITERS, format!("unlock {r}, lock {}, word {:#x}", job.result.load(Ordering::SeqCst), job.observed.load(Ordering::SeqCst)));
    let r = futex(l, FUTEX_TRYLOCK_PI | PRIVATE, 0, 0, 0, 0);
    report.check("trylock_pi of a lock another holds: EAGAIN", r == EAGAIN, r);
    for (name, op, clock, flag) in [("lock_pi (CLOCK_REALTIME)", FUTEX_LOCK_PI, libc::CLOCK_REALTIME, 0), ("lock_pi2 (CLOCK_MONOTONIC)", FUTEX_LOCK_PI2, libc::CLOCK_MONOTONIC, 0)] {
        let deadline = plus_ms(now(clock), 30);
        let r = futex(l, op | PRIVATE | flag, 0, &deadline as *const _ as u64, 0, 0);
        report.check(&format!("{name} of a held lock, absolute deadline: ETIMEDOUT"), r == ETIMEDOUT, r);
    }
    release.store(1, Ordering::SeqCst);
    wake(release, PRIVATE, 1);
    let unlocked = await_done(job, 2);
    reap(pid);
    report.check("the new owner's unlock_pi: 0, the word 0", unlocked && job.result2.load(Ordering::SeqCst) == 0 && lock.load(Ordering::SeqCst) == 0, format!("{}, word {:#x}", job.result2.load(Ordering::SeqCst), lock.load(Ordering::SeqCst)));

    // The owner dies holding it: the oldest waiter gets it (robust: with OWNER_DIED).
    for robust in [false, true] {
        let name = if robust { "robust " } else { "" };
        let node: &'static RobustLock = leak_lock();
        let head_at = if robust {
            let head = Box::leak(Box::new(RobustHead { next: 0, futex_offset: 8, pending: 0 }));
            let head_at = head as *const RobustHead as u64;
            head.next = (node as *const RobustLock as u64) | 1; // a PI lock
            // SAFETY: the node is leaked and only this thread writes its link now.
            unsafe { (*(node as *const RobustLock as *mut RobustLock)).next = head_at };
            head_at
        } else {
            0
        };
        let job = leak(Job { kind: JOB_PI_TAKE_AND_DIE, word: addr(&node.word) as usize, extra: head_at as usize, ..Job::default() });
        let pid = spawn(job, 0, std::ptr::null_mut());
        await_done(job, 1);
        let r = futex(addr(&node.word), FUTEX_LOCK_PI | PRIVATE, 0, 0, 0, 0);
        let status = reap(pid);
        let word = node.word.load(Ordering::SeqCst);
        // Robust or not, the new owner learns that the owner died (Linux's
        // fixup_pi_state_owner sets FUTEX_OWNER_DIED when the PI state has no owner).
        let expected = FUTEX_OWNER_DIED | FUTEX_WAITERS | me;
        report.check(&format!("a {name}PI lock whose owner dies goes to its waiter (0, word {expected:#x})"), job.result.load(Ordering::SeqCst) == 0 && r == 0 && word == expected && status == 0, format!("{r}, word {word:#x}"));
        let r = futex(addr(&node.word), FUTEX_UNLOCK_PI | PRIVATE, 0, 0, 0, 0);
        report.check(&format!("then unlock_pi of the {name}lock: 0"), r == 0 && node.word.load(Ordering::SeqCst) == 0, r);
    }

    // Requeue-PI: a condition variable's waiter moved onto a PI mutex.
    let cond = leaked_word(0);
    let mutex = leaked_word(0);
    let (c, m) = (addr(cond), addr(mutex));
    let r = futex(c, FUTEX_WAIT_REQUEUE_PI | PRIVATE, 0, 0, c, 0);
    report.check("wait_requeue_pi onto itself: EINVAL", r == EINVAL, r);
    let r = futex(c, FUTEX_WAIT_REQUEUE_PI | PRIVATE, 1, 0, m, 0);
    report.check("wait_requeue_pi, the word differs: EAGAIN", r == EAGAIN, r);
    let r = futex(c, FUTEX_CMP_REQUEUE_PI | PRIVATE, 2, 0, m, 0);
    report.check("cmp_requeue_pi waking 2: EINVAL", r == EINVAL, r);
    let r = futex(c, FUTEX_CMP_REQUEUE_PI | PRIVATE, 1, 0, c, 0);
    report.check("cmp_requeue_pi onto itself: EINVAL", r == EINVAL, r);
    let r = futex(c, FUTEX_CMP_REQUEUE_PI | PRIVATE, 1, 0, m, 5);
    report.check("cmp_requeue_pi, *uaddr != val3: EAGAIN", r == EAGAIN, r);
    for held in [false, true] {
        let name = if held { "held" } else { "free" };
        if held {
            futex(m, FUTEX_TRYLOCK_PI | PRIVATE, 0, 0, 0, 0);
        }
        let job = leak(Job { kind: JOB_REQUEUE_PI, word: c as usize, value: 0, extra: m as usize, ..Job::default() });
        let pid = spawn(job, 0, std::ptr::null_mut());
        // A plain wake meets the requeue-PI waiter: EINVAL once it sleeps.
        let start = Instant::now();
        while futex(c, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) != EINVAL && start.elapsed() < Duration::from_secs(5) {
            pause_ms(1);
        }
        let r = futex(c, FUTEX_CMP_REQUEUE_PI | PRIVATE, 1, 0, m, 0);
        report.check(&format!("cmp_requeue_pi onto a {name} mutex: 1"), r == 1, r);
        if held {
            let word = mutex.load(Ordering::SeqCst);
            report.check("the held mutex now has a waiter: our tid | FUTEX_WAITERS", word == me | FUTEX_WAITERS, format!("{word:#x}"));
            let r = futex(m, FUTEX_UNLOCK_PI | PRIVATE, 0, 0, 0, 0);
            report.check("unlock_pi hands the mutex to the requeued waiter", r == 0, r);
        }
        let status = reap(pid);
        let expected = if held { pid as u32 | FUTEX_WAITERS } else { pid as u32 };
        let (got, seen, unlock) = (job.result.load(Ordering::SeqCst), job.observed.load(Ordering::SeqCst), job.result2.load(Ordering::SeqCst));
        report.check(&format!("wait_requeue_pi ({name} mutex) returns 0 owning it (word {expected:#x}), then unlocks"), got == 0 && seen == expected && unlock == 0 && status == 0 && mutex.load(Ordering::SeqCst) == 0, format!("{got}, word {seen:#x}, unlock {unlock}"));
    }
}

/// Real threads (std's, over `clone(CLONE_THREAD)`): libc's mutexes, condition variables
/// and `join` are futexes, private ones, and `join` waits on `clear_child_tid`.
fn threads(report: &mut Report) {
    use std::sync::{Arc, Condvar, Mutex};
    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let counter = counter.clone();
            std::thread::spawn(move || {
                for _ in 0..2000 {
                    *counter.lock().unwrap() += 1;
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    let joined = handles.into_iter().all(|handle| handle.join().is_ok());
    let total = *counter.lock().unwrap();
    report.check("threads: a contended mutex counts 4 x 2000, every thread joined", joined && total == 8000, total);

    // A ping-pong over a condition variable: each side sleeps until the other's turn.
    let state = Arc::new((Mutex::new(0u32), Condvar::new()));
    let other = state.clone();
    let ponger = std::thread::spawn(move || {
        let (lock, turn) = &*other;
        for round in 0..200u32 {
            let mut value = lock.lock().unwrap();
            while *value != round * 2 + 1 {
                value = turn.wait(value).unwrap();
            }
            *value += 1;
            turn.notify_all();
        }
    });
    let (lock, turn) = &*state;
    let mut completed = true;
    for round in 0..200u32 {
        let mut value = lock.lock().unwrap();
        while *value != round * 2 {
            let (next, timeout) = turn.wait_timeout(value, Duration::from_secs(5)).unwrap();
            value = next;
            if timeout.timed_out() {
                completed = false;
                break;
            }
        }
        if !completed {
            break;
        }
        *value += 1;
        turn.notify_all();
    }
    drop(lock.lock());
    let joined = completed && ponger.join().is_ok();
    report.check("threads: 200 condition-variable round trips", joined && *lock.lock().unwrap() == 400, *lock.lock().unwrap());

    // A robust lock held by a thread that ends: the waiter learns the owner died.
    let head: &'static mut RobustHead = Box::leak(Box::new(RobustHead { next: 0, futex_offset: 8, pending: 0 }));
    let node = leak_lock();
    let head_at = head as *const RobustHead as u64;
    head.next = node as *const RobustLock as u64;
    // SAFETY: the node is leaked and only this thread writes its link now.
    unsafe { (*(node as *const RobustLock as *mut RobustLock)).next = head_at };
    let ready = Arc::new(AtomicU32::new(0));
    let ready2 = ready.clone();
    let holder = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() } as u32;
        node.word.store(tid | FUTEX_WAITERS, Ordering::SeqCst);
        // The thread's own list (std/musl keep none of their own for this thread).
        let set = sys(libc::SYS_set_robust_list, [head_at, 24, 0, 0, 0, 0]);
        ready2.store(if set == 0 { tid } else { u32::MAX }, Ordering::SeqCst);
        futex(addr(&ready2), FUTEX_WAKE | PRIVATE, 1, 0, 0, 0);
        // Ends (holding the lock) once the main thread sleeps on it.
        await_waiters(addr(&node.word), 0, 1);
    });
    while ready.load(Ordering::SeqCst) == 0 {
        futex(addr(&ready), FUTEX_WAIT | PRIVATE, 0, 0, 0, 0);
    }
    let tid = ready.load(Ordering::SeqCst);
    let r = futex(addr(&node.word), FUTEX_WAIT, tid | FUTEX_WAITERS, 0, 0, 0);
    let joined = holder.join().is_ok();
    let value = node.word.load(Ordering::SeqCst);
    report.check("threads: a thread ending with a robust lock: the waiter is woken, FUTEX_OWNER_DIED", tid != u32::MAX && r == 0 && joined && value == FUTEX_OWNER_DIED | FUTEX_WAITERS, format!("{r}, word {value:#x}"));
}

fn main() -> ExitCode {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/tmp".to_string());
    let mut report = Report::default();
    argument_checks(&mut report);
    timeouts(&mut report);
    wake_counts(&mut report);
    bitsets(&mut report);
    requeue(&mut report);
    wake_op(&mut report);
    waitv(&mut report);
    signals(&mut report);
    robust(&mut report);
    clear_tid(&mut report);
    pi(&mut report);
    threads(&mut report);
    across_fork(&mut report, &dir);
    report.finish("futex")
}
