//! `process-bench [--budget-ms MS] [--exec PATH [ARG0]]`: what processes cost, measured inside
//! the sandbox and under a Linux guest by the same static binary (`cargo xtask bench
//! processes`). Four measurements, one line each:
//!
//! - `bench fork-exit-wait ns=NS iterations=N`: `fork`, the child `_exit(0)`s, `waitpid`;
//! - `bench fork-exec-wait path=PATH ns=NS iterations=N`: `fork`, the child `execv`s PATH
//!   with argv `[ARG0]` (default `/bin/busybox` as `true`), `waitpid` (status must be 0);
//! - `bench pipe-round-trip ns=NS iterations=N`: one byte to a child over one pipe and back
//!   over another;
//! - `bench pipe-throughput bytes=B ns=NS mib_per_s=X`: 64 KiB writes to a child that reads
//!   until end of file and answers with the byte count it saw (the clock stops at the answer).
//!
//! Each runs one untimed warm-up, then until MS milliseconds (default 1000) of wall time are
//! spent or its iteration cap is reached, whichever comes first (the clock is read per
//! doubling batch, so it costs nothing next to the operation). When `pipe2` itself fails
//! with `ENOSYS` (a kernel without pipes) a pipe case prints `bench NAME unavailable=pipe2:ENOSYS`
//! instead and the program carries on; any other failure prints `bench NAME error=…` and the
//! program exits 1 after the remaining cases.

use std::ffi::CString;
use std::process::ExitCode;

const DEFAULT_BUDGET_MS: u64 = 1000;
const FORK_ITERATIONS: u64 = 20_000;
const EXEC_ITERATIONS: u64 = 2_000;
const ROUND_TRIP_ITERATIONS: u64 = 200_000;
/// The write size of the throughput case, and the cap on what it moves.
const CHUNK: usize = 64 << 10;
const THROUGHPUT_CAP_BYTES: u64 = 4 << 30;

struct Options {
    budget_ns: u128,
    exec_path: CString,
    exec_arg0: CString,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        budget_ns: u128::from(DEFAULT_BUDGET_MS) * 1_000_000,
        exec_path: c"/bin/busybox".to_owned(),
        exec_arg0: c"true".to_owned(),
    };
    let cstring = |value: String| CString::new(value).map_err(|_| "argument contains a NUL byte".to_owned());
    let mut args = args.by_ref().peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--budget-ms" => {
                let value = args.next().unwrap_or_default();
                let ms: u64 = value
                    .parse()
                    .ok()
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| format!("--budget-ms: `{value}` is not a positive number"))?;
                options.budget_ns = u128::from(ms) * 1_000_000;
            }
            "--exec" => {
                let path = args.next().ok_or("--exec: PATH missing")?;
                options.exec_arg0 = match args.next_if(|next| !next.starts_with("--")) {
                    Some(arg0) => cstring(arg0)?,
                    None => cstring(path.clone())?,
                };
                options.exec_path = cstring(path)?;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

fn monotonic_ns() -> u128 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128
}

fn last_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// One warm-up `op()`, then `op()` in batches until `budget_ns` has passed or `cap` calls
/// were made. Batches double, but never past what the rest of the budget holds at the pace so
/// far, so the budget is overshot by about one call, not by a whole batch. Mean ns per call
/// and the number of calls.
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

/// `waitpid(pid)`, which must report a normal exit with status 0.
fn reap(pid: libc::pid_t) -> Result<(), String> {
    let mut status = 0;
    loop {
        // SAFETY: a valid pointer to an int.
        let got = unsafe { libc::waitpid(pid, &mut status, 0) };
        if got == pid {
            break;
        }
        let error = last_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(format!("waitpid: {error}"));
        }
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(format!("child ended with wait status {status:#x}"))
    }
}

fn fork() -> Result<libc::pid_t, String> {
    // SAFETY: the program has a single thread; children only make async-signal-safe calls.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", last_error())),
        pid => Ok(pid),
    }
}

fn fork_exit_wait() -> Result<(), String> {
    match fork()? {
        // SAFETY: _exit is async-signal-safe.
        0 => unsafe { libc::_exit(0) },
        pid => reap(pid),
    }
}

fn fork_exec_wait(path: &CString, argv: &[*const libc::c_char; 2]) -> Result<(), String> {
    match fork()? {
        0 => {
            // SAFETY: `path` and `argv` (NULL-terminated) were built before the fork;
            // execv and _exit are async-signal-safe.
            unsafe {
                libc::execv(path.as_ptr(), argv.as_ptr());
                libc::_exit(127)
            }
        }
        pid => reap(pid).map_err(|error| format!("{error} (execv {path:?}: 127 = it failed)")),
    }
}

/// Why a pipe case could not run: the kernel has no pipes (reported, not an error), or
/// something failed.
enum PipeFailure {
    Unavailable(&'static str),
    Error(String),
}

impl From<String> for PipeFailure {
    fn from(error: String) -> Self {
        PipeFailure::Error(error)
    }
}

struct Pipe {
    read: i32,
    write: i32,
}

fn pipe() -> Result<Pipe, PipeFailure> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        let error = last_error();
        return Err(match error.raw_os_error() {
            Some(libc::ENOSYS) => PipeFailure::Unavailable("pipe2:ENOSYS"),
            _ => PipeFailure::Error(format!("pipe2: {error}")),
        });
    }
    Ok(Pipe { read: fds[0], write: fds[1] })
}

fn close(fd: i32) {
    // SAFETY: closing a descriptor this program owns.
    unsafe { libc::close(fd) };
}

/// Writes all of `bytes` (a pipe may take less than asked).
fn write_all(fd: i32, mut bytes: &[u8]) -> Result<(), String> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid buffer of its length.
        match unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) } {
            -1 if last_error().raw_os_error() == Some(libc::EINTR) => {}
            -1 => return Err(format!("write: {}", last_error())),
            count => bytes = &bytes[count as usize..],
        }
    }
    Ok(())
}

/// One read into `buffer`: the count, 0 at end of file.
fn read(fd: i32, buffer: &mut [u8]) -> Result<usize, String> {
    loop {
        // SAFETY: `buffer` is valid for writes of its length.
        match unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) } {
            -1 if last_error().raw_os_error() == Some(libc::EINTR) => {}
            -1 => return Err(format!("read: {}", last_error())),
            count => return Ok(count as usize),
        }
    }
}

/// Reads exactly `buffer.len()` bytes; end of file first is an error.
fn read_exact(fd: i32, buffer: &mut [u8]) -> Result<(), String> {
    let mut filled = 0;
    while filled < buffer.len() {
        match read(fd, &mut buffer[filled..])? {
            0 => return Err("read: unexpected end of file".to_owned()),
            count => filled += count,
        }
    }
    Ok(())
}

/// A child running `body` on the far ends of two pipes: `to_child` (it reads) and
/// `from_child` (it writes). The parent keeps the near ends; the child exits 0 on success.
fn spawn_peer(to_child: &Pipe, from_child: &Pipe, body: fn(i32, i32) -> Result<(), String>) -> Result<libc::pid_t, String> {
    let pid = fork()?;
    if pid == 0 {
        close(to_child.write);
        close(from_child.read);
        let status = if body(to_child.read, from_child.write).is_ok() { 0 } else { 1 };
        // SAFETY: _exit ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(status) };
    }
    close(to_child.read);
    close(from_child.write);
    Ok(pid)
}

fn echo_bytes(input: i32, output: i32) -> Result<(), String> {
    let mut byte = [0u8; 1];
    while read(input, &mut byte)? == 1 {
        write_all(output, &byte)?;
    }
    Ok(())
}

fn count_to_end(input: i32, output: i32) -> Result<(), String> {
    let mut buffer = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        match read(input, &mut buffer)? {
            0 => break,
            count => total += count as u64,
        }
    }
    write_all(output, &total.to_le_bytes())
}

fn pipe_round_trip(options: &Options) -> Result<(f64, u64), PipeFailure> {
    let to_child = pipe()?;
    let from_child = pipe()?;
    let pid = spawn_peer(&to_child, &from_child, echo_bytes)?;
    let mut byte = [0u8; 1];
    let result = timed(options.budget_ns, ROUND_TRIP_ITERATIONS, || {
        write_all(to_child.write, b"x")?;
        read_exact(from_child.read, &mut byte)
    });
    close(to_child.write);
    let reaped = reap(pid);
    close(from_child.read);
    let result = result?;
    reaped?;
    Ok(result)
}

/// Bytes moved and the ns it took.
fn pipe_throughput(options: &Options) -> Result<(u64, u128), PipeFailure> {
    let to_child = pipe()?;
    let from_child = pipe()?;
    let pid = spawn_peer(&to_child, &from_child, count_to_end)?;
    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i * 31 % 251) as u8).collect();
    let run = || -> Result<(u64, u128), String> {
        // Warm-up: one chunk before the clock starts.
        write_all(to_child.write, &chunk)?;
        let mut written = 0u64;
        let start = monotonic_ns();
        while written < THROUGHPUT_CAP_BYTES {
            write_all(to_child.write, &chunk)?;
            written += CHUNK as u64;
            if monotonic_ns() - start >= options.budget_ns {
                break;
            }
        }
        close(to_child.write);
        let mut answer = [0u8; 8];
        read_exact(from_child.read, &mut answer)?;
        let ns = monotonic_ns() - start;
        let seen = u64::from_le_bytes(answer);
        if seen != written + CHUNK as u64 {
            return Err(format!("the reader saw {seen} bytes of {}", written + CHUNK as u64));
        }
        Ok((written, ns))
    };
    let result = run();
    if result.is_err() {
        close(to_child.write);
    }
    let reaped = reap(pid);
    close(from_child.read);
    let result = result?;
    reaped?;
    Ok(result)
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("process-bench: {error}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    let mut fail = |name: &str, error: String| {
        println!("bench {name} error={error}");
        failed = true;
    };

    match timed(options.budget_ns, FORK_ITERATIONS, fork_exit_wait) {
        Ok((ns, iterations)) => println!("bench fork-exit-wait ns={ns:.0} iterations={iterations}"),
        Err(error) => fail("fork-exit-wait", error),
    }

    let argv = [options.exec_arg0.as_ptr(), std::ptr::null()];
    let path = options.exec_path.to_string_lossy().into_owned();
    match timed(options.budget_ns, EXEC_ITERATIONS, || fork_exec_wait(&options.exec_path, &argv)) {
        Ok((ns, iterations)) => println!("bench fork-exec-wait path={path} ns={ns:.0} iterations={iterations}"),
        Err(error) => fail(&format!("fork-exec-wait path={path}"), error),
    }

    match pipe_round_trip(&options) {
        Ok((ns, iterations)) => println!("bench pipe-round-trip ns={ns:.0} iterations={iterations}"),
        Err(PipeFailure::Unavailable(why)) => println!("bench pipe-round-trip unavailable={why}"),
        Err(PipeFailure::Error(error)) => fail("pipe-round-trip", error),
    }

    match pipe_throughput(&options) {
        Ok((bytes, ns)) => {
            let mib_per_s = bytes as f64 / f64::from(1u32 << 20) / (ns.max(1) as f64 / 1e9);
            println!("bench pipe-throughput bytes={bytes} ns={ns} mib_per_s={mib_per_s:.1}");
        }
        Err(PipeFailure::Unavailable(why)) => println!("bench pipe-throughput unavailable={why}"),
        Err(PipeFailure::Error(error)) => fail("pipe-throughput", error),
    }

    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
