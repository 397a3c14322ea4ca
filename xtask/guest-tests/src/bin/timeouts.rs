//! `timeouts`: timespecs at and past the edges handed to every call that takes a timeout
//! (`futex`, `ppoll`, `nanosleep`), each answer compared with Linux's. A `tv_sec` of
//! `i64::MAX` must neither crash the kernel (an unchecked `tv_sec * 10^9`) nor hang a
//! call that has its answer without waiting; a negative `tv_sec` or a `tv_nsec` outside
//! 0..1e9 is `EINVAL`.
//!
//! One line per check (`ok`/`FAIL`), then `timeouts: N passed, M failed`; exit status 0
//! only if everything matched. Runs on the host too, where the expectations are checked.

use std::process::ExitCode;

use libc::{c_long, timespec};

const FUTEX_WAIT: c_long = 0;
const FUTEX_WAIT_BITSET: c_long = 9;
const FUTEX_PRIVATE_FLAG: c_long = 128;
const FUTEX_BITSET_MATCH_ANY: c_long = -1;

fn ts(sec: i64, nsec: i64) -> timespec {
    timespec { tv_sec: sec, tv_nsec: nsec }
}

/// The raw result: the value, or `-errno`.
fn raw(result: c_long) -> i64 {
    if result < 0 { -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)) } else { result }
}

fn futex(word: &u32, op: c_long, expected: u32, timeout: &timespec) -> i64 {
    // SAFETY: `word` and `timeout` are live for the call; the kernel only reads them.
    raw(unsafe {
        libc::syscall(
            libc::SYS_futex,
            word as *const u32,
            op | FUTEX_PRIVATE_FLAG,
            expected,
            timeout as *const timespec,
            0usize,
            FUTEX_BITSET_MATCH_ANY,
        )
    })
}

fn ppoll_stdout(timeout: &timespec) -> i64 {
    let mut fds = [libc::pollfd { fd: 1, events: libc::POLLOUT, revents: 0 }];
    // SAFETY: `fds` and `timeout` are live for the call; no signal mask.
    raw(unsafe { libc::syscall(libc::SYS_ppoll, fds.as_mut_ptr(), 1usize, timeout as *const timespec, 0usize, 8usize) })
}

fn nanosleep(request: &timespec) -> i64 {
    // SAFETY: `request` is live for the call; no remainder wanted.
    raw(unsafe { libc::syscall(libc::SYS_nanosleep, request as *const timespec, 0usize) })
}

fn main() -> ExitCode {
    let word = 7u32;
    let eagain = -i64::from(libc::EAGAIN);
    let einval = -i64::from(libc::EINVAL);
    let etimedout = -i64::from(libc::ETIMEDOUT);
    let checks: [(&str, i64, i64); 11] = [
        ("futex WAIT, word changed, tv_sec=i64::MAX", futex(&word, FUTEX_WAIT, 8, &ts(i64::MAX, 0)), eagain),
        ("futex WAIT, word changed, tv_sec=i64::MAX, tv_nsec=999999999", futex(&word, FUTEX_WAIT, 8, &ts(i64::MAX, 999_999_999)), eagain),
        ("futex WAIT_BITSET, word changed, deadline tv_sec=i64::MAX", futex(&word, FUTEX_WAIT_BITSET, 8, &ts(i64::MAX, 0)), eagain),
        ("futex WAIT_BITSET, deadline in the past", futex(&word, FUTEX_WAIT_BITSET, 7, &ts(0, 0)), etimedout),
        ("futex WAIT, tv_sec=-1 (checked before the word)", futex(&word, FUTEX_WAIT, 8, &ts(-1, 0)), einval),
        ("futex WAIT, tv_nsec=1000000000", futex(&word, FUTEX_WAIT, 7, &ts(0, 1_000_000_000)), einval),
        ("ppoll, stdout writable, timeout tv_sec=i64::MAX", ppoll_stdout(&ts(i64::MAX, 999_999_999)), 1),
        ("ppoll, tv_sec=-1", ppoll_stdout(&ts(-1, 0)), einval),
        ("ppoll, tv_nsec=-1", ppoll_stdout(&ts(0, -1)), einval),
        ("nanosleep, tv_sec=-1", nanosleep(&ts(-1, 0)), einval),
        ("nanosleep, tv_nsec=1000000000", nanosleep(&ts(0, 1_000_000_000)), einval),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, got, linux) in checks {
        if got == linux {
            passed += 1;
            println!("ok   {name}: {got}");
        } else {
            failed += 1;
            println!("FAIL {name}: {got} (Linux: {linux})");
        }
    }
    println!("timeouts: {passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
