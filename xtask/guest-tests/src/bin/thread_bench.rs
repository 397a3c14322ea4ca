//! `thread-bench [--budget-ms MS]`: what threads, futexes, event descriptors and Unix sockets
//! cost, measured inside the sandbox and under a Linux guest by the same static binary
//! (`cargo xtask bench threads`). Five measurements, one line each:
//!
//! - `bench thread-create-join ns=NS iterations=N`: `pthread_create` of a thread that
//!   returns at once, then `pthread_join`;
//! - `bench futex-round-trip ns=NS iterations=N`: two threads hand a futex word back and
//!   forth (`FUTEX_WAKE` one way, `FUTEX_WAKE` back; each waits with `FUTEX_WAIT`);
//! - `bench eventfd-epoll-round-trip ns=NS iterations=N`: two threads, each blocked in
//!   `epoll_wait` on its own eventfd, which the other writes;
//! - `bench unix-round-trip ns=NS iterations=N`: one byte to a forked child over a Unix
//!   stream socket pair and back;
//! - `bench unix-throughput bytes=B ns=NS mib_per_s=X`: 64 KiB writes to a forked child that
//!   reads until end of file and answers with the byte count it saw (the clock stops there).
//!
//! Each runs one untimed warm-up, then until MS milliseconds (default 1000) are spent or its
//! iteration cap is reached. When the call a case is built on fails at its first use (a
//! kernel without it: `pthread_create`, `socketpair`, `eventfd`, `epoll_create1`), the case
//! prints `bench NAME unavailable=CALL:ERRNO` and the program carries on; any later failure
//! prints `bench NAME error=…` and the program exits 1 after the remaining cases.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use libc::c_int;

const DEFAULT_BUDGET_MS: u64 = 1000;
const CREATE_ITERATIONS: u64 = 20_000;
const ROUND_TRIP_ITERATIONS: u64 = 200_000;
const CHUNK: usize = 64 << 10;
const THROUGHPUT_CAP_BYTES: u64 = 4 << 30;

fn parse(mut args: impl Iterator<Item = String>) -> Result<u128, String> {
    let mut budget_ns = u128::from(DEFAULT_BUDGET_MS) * 1_000_000;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--budget-ms" => {
                let value = args.next().unwrap_or_default();
                let ms: u64 = value
                    .parse()
                    .ok()
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| format!("--budget-ms: `{value}` is not a positive number"))?;
                budget_ns = u128::from(ms) * 1_000_000;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(budget_ns)
}

fn monotonic_ns() -> u128 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128
}

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The errno's symbolic name for `unavailable=` (the figure tables print it).
fn errno_name(code: c_int) -> String {
    match code {
        libc::ENOSYS => "ENOSYS".to_owned(),
        libc::EAGAIN => "EAGAIN".to_owned(),
        libc::EINVAL => "EINVAL".to_owned(),
        libc::EAFNOSUPPORT => "EAFNOSUPPORT".to_owned(),
        libc::EPERM => "EPERM".to_owned(),
        libc::ENOMEM => "ENOMEM".to_owned(),
        other => format!("errno{other}"),
    }
}

/// Why a case could not run: the kernel lacks the call it is built on (reported, not an
/// error), or something failed.
enum Failure {
    Unavailable(String),
    Error(String),
}

impl From<String> for Failure {
    fn from(error: String) -> Self {
        Failure::Error(error)
    }
}

/// One warm-up `op()`, then `op()` in batches until `budget_ns` has passed or `cap` calls
/// were made (batches double but stay within what the rest of the budget holds at the pace
/// so far). Mean ns per call and the number of calls.
fn timed(budget_ns: u128, cap: u64, mut op: impl FnMut() -> Result<(), String>) -> Result<(f64, u64), String> {
    op()?;
    let start = monotonic_ns();
    let mut done = 0u64;
    let mut batch = 1u64;
    loop {
        for _ in 0..batch {
            op()?;
        }
        done += batch;
        let elapsed = monotonic_ns() - start;
        if done >= cap || elapsed >= budget_ns {
            return Ok((elapsed as f64 / done as f64, done));
        }
        let per_op = (elapsed / u128::from(done)).max(1);
        let fits = ((budget_ns - elapsed) / per_op).max(1);
        batch = batch.saturating_mul(2).min(cap - done).min(u64::try_from(fits).unwrap_or(u64::MAX));
    }
}

extern "C" fn returns_at_once(argument: *mut libc::c_void) -> *mut libc::c_void {
    argument
}

/// `pthread_create` + `pthread_join`; the thread's result must come back.
fn create_join() -> Result<(), c_int> {
    let mut thread: libc::pthread_t = std::ptr::null_mut();
    let token = 0x5eed_usize as *mut libc::c_void;
    // SAFETY: default attributes; the start routine only returns its argument.
    let created = unsafe { libc::pthread_create(&mut thread, std::ptr::null(), returns_at_once, token) };
    if created != 0 {
        return Err(created);
    }
    let mut result = std::ptr::null_mut();
    // SAFETY: `thread` was created above and is joined once.
    let joined = unsafe { libc::pthread_join(thread, &mut result) };
    if joined != 0 {
        return Err(joined);
    }
    if result != token {
        return Err(-1);
    }
    Ok(())
}

fn thread_create_join(budget_ns: u128) -> Result<(f64, u64), Failure> {
    if let Err(code) = create_join() {
        return Err(Failure::Unavailable(format!("pthread_create:{}", errno_name(code))));
    }
    Ok(timed(budget_ns, CREATE_ITERATIONS, || {
        create_join().map_err(|code| format!("pthread_create/join: {}", errno_name(code)))
    })?)
}

fn futex(word: &AtomicU32, op: c_int, value: u32) -> i64 {
    // SAFETY: `word` is a live atomic; no timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op | libc::FUTEX_PRIVATE_FLAG,
            value,
            std::ptr::null::<libc::timespec>(),
        )
    }
}

/// Sleeps on `word` while it holds `value` (a wake or a changed word ends it).
fn wait_while(word: &AtomicU32, value: u32) -> Result<(), String> {
    while word.load(Ordering::Acquire) == value {
        if futex(word, libc::FUTEX_WAIT, value) < 0 {
            let code = errno();
            if code != libc::EAGAIN && code != libc::EINTR {
                return Err(format!("FUTEX_WAIT: {}", errno_name(code)));
            }
        }
    }
    Ok(())
}

/// The word's states: the main thread's turn, the peer's turn, and stop.
const MAIN: u32 = 0;
const PEER: u32 = 1;
const STOP: u32 = 2;

fn spawn(body: impl FnOnce() -> Result<(), String> + Send + 'static) -> Result<std::thread::JoinHandle<Result<(), String>>, Failure> {
    std::thread::Builder::new()
        .spawn(body)
        .map_err(|error| Failure::Unavailable(format!("pthread_create:{}", errno_name(error.raw_os_error().unwrap_or(0)))))
}

fn futex_round_trip(budget_ns: u128) -> Result<(f64, u64), Failure> {
    let word = Arc::new(AtomicU32::new(MAIN));
    let peer = {
        let word = Arc::clone(&word);
        spawn(move || {
            loop {
                wait_while(&word, MAIN)?;
                if word.load(Ordering::Acquire) == STOP {
                    return Ok(());
                }
                word.store(MAIN, Ordering::Release);
                futex(&word, libc::FUTEX_WAKE, 1);
            }
        })?
    };
    let result = timed(budget_ns, ROUND_TRIP_ITERATIONS, || {
        word.store(PEER, Ordering::Release);
        futex(&word, libc::FUTEX_WAKE, 1);
        wait_while(&word, PEER)
    });
    word.store(STOP, Ordering::Release);
    futex(&word, libc::FUTEX_WAKE, 1);
    let joined = peer.join().map_err(|_| "the peer thread panicked".to_owned())?;
    let result = result?;
    joined?;
    Ok(result)
}

/// An eventfd and an epoll instance watching it for `EPOLLIN`.
struct Waker {
    event: c_int,
    epoll: c_int,
}

impl Waker {
    fn new() -> Result<Waker, Failure> {
        // SAFETY: no pointer arguments.
        let event = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if event < 0 {
            return Err(Failure::Unavailable(format!("eventfd:{}", errno_name(errno()))));
        }
        // SAFETY: no pointer arguments.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epoll < 0 {
            return Err(Failure::Unavailable(format!("epoll_create1:{}", errno_name(errno()))));
        }
        let mut interest = libc::epoll_event { events: libc::EPOLLIN as u32, u64: 0 };
        // SAFETY: `interest` is live for the call.
        if unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, event, &mut interest) } != 0 {
            return Err(Failure::Unavailable(format!("epoll_ctl:{}", errno_name(errno()))));
        }
        Ok(Waker { event, epoll })
    }

    fn signal(&self, value: u64) -> Result<(), String> {
        // SAFETY: eight live bytes.
        if unsafe { libc::write(self.event, (&raw const value).cast(), 8) } != 8 {
            return Err(format!("eventfd write: {}", errno_name(errno())));
        }
        Ok(())
    }

    /// Waits in `epoll_wait` until the eventfd is readable, then reads its count.
    fn wait(&self) -> Result<u64, String> {
        let mut ready = [libc::epoll_event { events: 0, u64: 0 }];
        loop {
            // SAFETY: `ready` has room for one event.
            match unsafe { libc::epoll_wait(self.epoll, ready.as_mut_ptr(), 1, -1) } {
                1 => break,
                -1 if errno() == libc::EINTR => {}
                got => return Err(format!("epoll_wait gave {got}: {}", errno_name(errno()))),
            }
        }
        let mut value = 0u64;
        // SAFETY: eight live bytes.
        if unsafe { libc::read(self.event, (&raw mut value).cast(), 8) } != 8 {
            return Err(format!("eventfd read: {}", errno_name(errno())));
        }
        Ok(value)
    }
}

impl Drop for Waker {
    fn drop(&mut self) {
        // SAFETY: descriptors this program owns.
        unsafe {
            libc::close(self.event);
            libc::close(self.epoll);
        }
    }
}

fn eventfd_epoll_round_trip(budget_ns: u128) -> Result<(f64, u64), Failure> {
    let to_peer = Arc::new(Waker::new()?);
    let to_main = Arc::new(Waker::new()?);
    let peer = {
        let (to_peer, to_main) = (Arc::clone(&to_peer), Arc::clone(&to_main));
        spawn(move || {
            loop {
                // A count of 2 or more (the stop word) ends the peer; 1 is a ping.
                if to_peer.wait()? >= 2 {
                    return Ok(());
                }
                to_main.signal(1)?;
            }
        })?
    };
    let result = timed(budget_ns, ROUND_TRIP_ITERATIONS, || {
        to_peer.signal(1)?;
        match to_main.wait()? {
            1 => Ok(()),
            other => Err(format!("the peer's eventfd count was {other}, not 1")),
        }
    });
    let stopped = to_peer.signal(2);
    let joined = peer.join().map_err(|_| "the peer thread panicked".to_owned())?;
    let result = result?;
    stopped?;
    joined?;
    Ok(result)
}

fn socketpair() -> Result<(c_int, c_int), Failure> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for two descriptors.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } != 0 {
        return Err(Failure::Unavailable(format!("socketpair:{}", errno_name(errno()))));
    }
    Ok((fds[0], fds[1]))
}

fn close(fd: c_int) {
    // SAFETY: closing a descriptor this program owns.
    unsafe { libc::close(fd) };
}

fn write_all(fd: c_int, mut bytes: &[u8]) -> Result<(), String> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid buffer of its length.
        match unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) } {
            -1 if errno() == libc::EINTR => {}
            -1 => return Err(format!("write: {}", errno_name(errno()))),
            count => bytes = &bytes[count as usize..],
        }
    }
    Ok(())
}

fn read(fd: c_int, buffer: &mut [u8]) -> Result<usize, String> {
    loop {
        // SAFETY: `buffer` is valid for writes of its length.
        match unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) } {
            -1 if errno() == libc::EINTR => {}
            -1 => return Err(format!("read: {}", errno_name(errno()))),
            count => return Ok(count as usize),
        }
    }
}

fn read_exact(fd: c_int, buffer: &mut [u8]) -> Result<(), String> {
    let mut filled = 0;
    while filled < buffer.len() {
        match read(fd, &mut buffer[filled..])? {
            0 => return Err("read: unexpected end of file".to_owned()),
            count => filled += count,
        }
    }
    Ok(())
}

/// A forked child running `body` on its end of the pair; the parent keeps `ours`.
fn spawn_peer(ours: c_int, theirs: c_int, body: fn(c_int) -> Result<(), String>) -> Result<libc::pid_t, String> {
    // SAFETY: the child only makes system calls and ends with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", errno_name(errno())));
    }
    if pid == 0 {
        close(ours);
        let status = if body(theirs).is_ok() { 0 } else { 1 };
        // SAFETY: ends the child without the parent's exit handlers.
        unsafe { libc::_exit(status) };
    }
    close(theirs);
    Ok(pid)
}

fn reap(pid: libc::pid_t) -> Result<(), String> {
    let mut status = 0;
    loop {
        // SAFETY: a valid pointer to an int.
        let got = unsafe { libc::waitpid(pid, &mut status, 0) };
        if got == pid {
            break;
        }
        if errno() != libc::EINTR {
            return Err(format!("waitpid: {}", errno_name(errno())));
        }
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(format!("child ended with wait status {status:#x}"))
    }
}

fn echo_bytes(fd: c_int) -> Result<(), String> {
    let mut byte = [0u8; 1];
    while read(fd, &mut byte)? == 1 {
        write_all(fd, &byte)?;
    }
    Ok(())
}

fn count_to_end(fd: c_int) -> Result<(), String> {
    let mut buffer = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        match read(fd, &mut buffer)? {
            0 => break,
            count => total += count as u64,
        }
    }
    write_all(fd, &total.to_le_bytes())
}

fn unix_round_trip(budget_ns: u128) -> Result<(f64, u64), Failure> {
    let (ours, theirs) = socketpair()?;
    let pid = spawn_peer(ours, theirs, echo_bytes)?;
    let mut byte = [0u8; 1];
    let result = timed(budget_ns, ROUND_TRIP_ITERATIONS, || {
        write_all(ours, b"x")?;
        read_exact(ours, &mut byte)
    });
    close(ours);
    let reaped = reap(pid);
    let result = result?;
    reaped?;
    Ok(result)
}

/// Bytes moved and the ns it took: the writer half-closes, the child answers its count.
fn unix_throughput(budget_ns: u128) -> Result<(u64, u128), Failure> {
    let (ours, theirs) = socketpair()?;
    let pid = spawn_peer(ours, theirs, count_to_end)?;
    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i * 31 % 251) as u8).collect();
    let run = || -> Result<(u64, u128), String> {
        write_all(ours, &chunk)?;
        let mut written = 0u64;
        let start = monotonic_ns();
        while written < THROUGHPUT_CAP_BYTES {
            write_all(ours, &chunk)?;
            written += CHUNK as u64;
            if monotonic_ns() - start >= budget_ns {
                break;
            }
        }
        // SAFETY: no pointer arguments.
        if unsafe { libc::shutdown(ours, libc::SHUT_WR) } != 0 {
            return Err(format!("shutdown: {}", errno_name(errno())));
        }
        let mut answer = [0u8; 8];
        read_exact(ours, &mut answer)?;
        let ns = monotonic_ns() - start;
        let seen = u64::from_le_bytes(answer);
        if seen != written + CHUNK as u64 {
            return Err(format!("the reader saw {seen} bytes of {}", written + CHUNK as u64));
        }
        Ok((written, ns))
    };
    let result = run();
    close(ours);
    let reaped = reap(pid);
    let result = result?;
    reaped?;
    Ok(result)
}

fn main() -> ExitCode {
    let budget_ns = match parse(std::env::args().skip(1)) {
        Ok(budget_ns) => budget_ns,
        Err(error) => {
            eprintln!("thread-bench: {error}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    let mut report = |name: &str, result: Result<(f64, u64), Failure>| match result {
        Ok((ns, iterations)) => println!("bench {name} ns={ns:.0} iterations={iterations}"),
        Err(Failure::Unavailable(why)) => println!("bench {name} unavailable={why}"),
        Err(Failure::Error(error)) => {
            println!("bench {name} error={error}");
            failed = true;
        }
    };
    report("thread-create-join", thread_create_join(budget_ns));
    report("futex-round-trip", futex_round_trip(budget_ns));
    report("eventfd-epoll-round-trip", eventfd_epoll_round_trip(budget_ns));
    report("unix-round-trip", unix_round_trip(budget_ns));
    match unix_throughput(budget_ns) {
        Ok((bytes, ns)) => {
            let mib_per_s = bytes as f64 / f64::from(1u32 << 20) / (ns.max(1) as f64 / 1e9);
            println!("bench unix-throughput bytes={bytes} ns={ns} mib_per_s={mib_per_s:.1}");
        }
        Err(Failure::Unavailable(why)) => println!("bench unix-throughput unavailable={why}"),
        Err(Failure::Error(error)) => {
            println!("bench unix-throughput error={error}");
            failed = true;
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
