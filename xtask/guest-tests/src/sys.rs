//! Small system-call helpers shared by the thread, socket and event programs (`threads`,
//! `unix-sockets`, `events`, `thread-bench`): raw results as `-errno`, `fork` and a
//! `waitpid` that gives up after a deadline (a kernel that loses a wake-up must fail the
//! check, not hang the program), signal handlers, whole reads and writes on descriptors.
//! Included with `#[path = "../sys.rs"] mod sys;`.

#![allow(dead_code, reason = "each program uses a different part of it")]

use std::time::{Duration, Instant};

use libc::c_int;

/// The errno of the last failed call.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A libc result as the value, or `-errno` when it is negative.
pub fn raw(result: i64) -> i64 {
    if result < 0 {
        -i64::from(errno())
    } else {
        result
    }
}

/// A result for a message: the value, or the errno's name and `-errno` (`EAGAIN (-11)`).
pub fn describe(result: i64) -> String {
    if result >= 0 {
        return result.to_string();
    }
    let code = (-result) as i32;
    let name = match code {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::EPIPE => "EPIPE",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::ECONNRESET => "ECONNRESET",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EDEADLK => "EDEADLK",
        libc::ESRCH => "ESRCH",
        libc::ECHILD => "ECHILD",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        _ => return format!("-{code}"),
    };
    format!("{name} (-{code})")
}

pub fn gettid() -> i32 {
    // SAFETY: no arguments.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

pub fn getpid() -> i32 {
    // SAFETY: no arguments.
    unsafe { libc::getpid() }
}

/// `fork`; the child must end with [`child_exit`].
pub fn fork() -> i32 {
    // SAFETY: the callers' children only make system calls and end with `_exit`.
    unsafe { libc::fork() }
}

pub fn child_exit(code: i32) -> ! {
    // SAFETY: ends the child without running the parent's atexit handlers.
    unsafe { libc::_exit(code) }
}

/// How a child ended, as a shell says it: the exit code, or 128 + the signal.
pub fn status_code(status: c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        -1
    }
}

/// Waits for `pid` until `limit` has passed; then kills it (SIGKILL), reaps it and gives
/// `None`. `Some(Err(errno))` when `waitpid` itself fails.
pub fn wait_with_deadline(pid: i32, limit: Duration) -> Option<Result<c_int, i32>> {
    let deadline = Instant::now() + limit;
    loop {
        let mut status = 0;
        // SAFETY: `status` is a live out-parameter.
        let got = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if got == pid {
            return Some(Ok(status));
        }
        if got < 0 {
            return Some(Err(errno()));
        }
        if Instant::now() >= deadline {
            // SAFETY: plain system calls on our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits for `pid` in one blocking `waitpid` (again after `EINTR`), in the same shape as
/// [`wait_with_deadline`]. For benchmarks: a sleep between polls would time the sleep.
pub fn wait_blocking(pid: i32) -> Option<Result<c_int, i32>> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a live out-parameter.
        let got = unsafe { libc::waitpid(pid, &mut status, 0) };
        if got == pid {
            return Some(Ok(status));
        }
        if errno() != libc::EINTR {
            return Some(Err(errno()));
        }
    }
}

/// A child's end as one word for a message: `exit 3`, `killed by 9`, or why it was not seen.
pub fn describe_wait(waited: &Option<Result<c_int, i32>>) -> String {
    match waited {
        None => "still running at the deadline (killed)".to_owned(),
        Some(Err(code)) => format!("waitpid failed: {}", describe(-i64::from(*code))),
        Some(Ok(status)) if libc::WIFEXITED(*status) => {
            format!("exit {}", libc::WEXITSTATUS(*status))
        }
        Some(Ok(status)) if libc::WIFSIGNALED(*status) => {
            format!("killed by {}", libc::WTERMSIG(*status))
        }
        Some(Ok(status)) => format!("status {status:#x}"),
    }
}

/// Whether the child exited with `code` before the deadline.
pub fn exited_with(waited: &Option<Result<c_int, i32>>, code: i32) -> bool {
    matches!(waited, Some(Ok(status)) if libc::WIFEXITED(*status) && libc::WEXITSTATUS(*status) == code)
}

/// Installs a plain handler (no `SA_RESTART` unless `flags` says so).
pub fn install(signo: c_int, handler: extern "C" fn(c_int), flags: c_int) {
    // SAFETY: a zeroed sigaction with a handler, an empty mask and flags is valid.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as usize;
        action.sa_flags = flags;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signo, &action, std::ptr::null_mut());
    }
}

/// Sets `signo`'s disposition to `SIG_IGN` or `SIG_DFL`.
pub fn disposition(signo: c_int, handler: libc::sighandler_t) {
    // SAFETY: SIG_IGN and SIG_DFL are valid dispositions.
    unsafe { libc::signal(signo, handler) };
}

/// Blocks (`how` = `SIG_BLOCK`) or unblocks (`SIG_UNBLOCK`) `signals` in the calling thread.
pub fn mask(how: c_int, signals: &[c_int]) {
    // SAFETY: the set is built in place and passed by pointer for the call only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signo in signals {
            libc::sigaddset(&mut set, signo);
        }
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

pub fn close(fd: c_int) {
    // SAFETY: closing a descriptor this program owns.
    unsafe { libc::close(fd) };
}

pub fn write(fd: c_int, data: &[u8]) -> i64 {
    // SAFETY: `data` is live for the call.
    raw(unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) } as i64)
}

pub fn read(fd: c_int, len: usize) -> (i64, Vec<u8>) {
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` is live and `len` bytes long.
    let got = raw(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), len) } as i64);
    buf.truncate(got.max(0) as usize);
    (got, buf)
}

/// Writes all of `data` (short writes continue); `Err(-errno)` on the first failure.
pub fn write_all(fd: c_int, mut data: &[u8]) -> Result<(), i64> {
    while !data.is_empty() {
        let wrote = write(fd, data);
        if wrote == -i64::from(libc::EINTR) {
            continue;
        }
        if wrote <= 0 {
            return Err(wrote);
        }
        data = &data[wrote as usize..];
    }
    Ok(())
}

/// Fills `buf` exactly; `Err(-errno)` on failure, `Err(0)` at end of file first.
pub fn read_exact(fd: c_int, buf: &mut [u8]) -> Result<(), i64> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the rest of `buf` is live and writable.
        let got = raw(
            unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done) } as i64,
        );
        if got == -i64::from(libc::EINTR) {
            continue;
        }
        if got <= 0 {
            return Err(got);
        }
        done += got as usize;
    }
    Ok(())
}

/// FNV-1a over a stream, 64-bit: a checksum both ends of a transfer compute.
#[derive(Clone, Copy)]
pub struct Fnv(pub u64);

impl Fnv {
    pub fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The pattern byte at stream offset `at` of a transfer: no two nearby 4 KiB pages alike
/// (a lost, repeated or reordered chunk changes the checksum).
pub fn pattern_byte(at: u64) -> u8 {
    let mixed = at.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (at >> 12);
    (mixed >> 56) as u8
}

/// Fills `buf` with the pattern from stream offset `start`.
pub fn fill_pattern(buf: &mut [u8], start: u64) {
    for (index, byte) in buf.iter_mut().enumerate() {
        *byte = pattern_byte(start + index as u64);
    }
}

pub fn monotonic_ns() -> u128 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128
}
