//! `syscall-bench [--iterations N] [--budget-ms MS] [--touch PATH]… [PATH…]`: the cost of one
//! system call, measured inside the sandbox and under a Linux guest by the same static binary
//! (`cargo xtask bench syscalls`). One line per measurement,
//! `bench NAME [path=PATH] ns=NS iterations=N`.
//!
//! `--touch PATH` creates PATH (a small file) before anything is timed, so a freshly mounted
//! tmpfs can hold a file to stat. `--budget-ms MS` stops each measurement once MS
//! milliseconds have passed (in doubling batches, so the clock is read rarely), with
//! `--iterations` as the cap: slow calls (a 9p stat under TCG) then take seconds, not hours.
//!
//! Throughput (`cargo xtask bench 9p`, the Linux guest's side):
//! `syscall-bench write-throughput PATH BYTES` writes BYTES in 512 KiB writes, then fsyncs;
//! `syscall-bench read-throughput PATH` reads PATH to its end in 512 KiB reads. Each prints
//! `bench write|read path=PATH bytes=N ns=NS mib_per_s=X`.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::process::ExitCode;

const DEFAULT_ITERATIONS: u32 = 100_000;
/// The request size of the throughput subcommands (the kernel's `test=9p-bench` uses the same).
const CHUNK: usize = 512 << 10;

#[derive(Debug)]
enum UsageError {
    BadIterations(String),
    BadBudget(String),
    BadBytes(String),
    MissingPath(&'static str),
    PathWithNul(String),
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UsageError::BadIterations(value) => write!(f, "--iterations: `{value}` is not a positive number"),
            UsageError::BadBudget(value) => write!(f, "--budget-ms: `{value}` is not a positive number"),
            UsageError::BadBytes(value) => write!(f, "write-throughput: BYTES `{value}` is not a positive number"),
            UsageError::MissingPath(what) => write!(f, "{what}: PATH missing"),
            UsageError::PathWithNul(path) => write!(f, "path {path:?} contains a NUL byte"),
        }
    }
}

struct Options {
    iterations: u32,
    budget_ns: Option<u128>,
    touch: Vec<String>,
    paths: Vec<String>,
}

enum Mode {
    Latency(Options),
    Write { path: String, bytes: u64 },
    Read { path: String },
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(value: &str) -> Option<T> {
    value.parse().ok().filter(|number| *number > T::default())
}

fn parse(args: impl Iterator<Item = String>) -> Result<Mode, UsageError> {
    let mut args = args.peekable();
    match args.peek().map(String::as_str) {
        Some("write-throughput") => {
            args.next();
            let path = args.next().ok_or(UsageError::MissingPath("write-throughput"))?;
            let value = args.next().unwrap_or_default();
            let bytes = positive(&value).ok_or(UsageError::BadBytes(value))?;
            return Ok(Mode::Write { path, bytes });
        }
        Some("read-throughput") => {
            args.next();
            let path = args.next().ok_or(UsageError::MissingPath("read-throughput"))?;
            return Ok(Mode::Read { path });
        }
        _ => {}
    }
    let mut options = Options { iterations: DEFAULT_ITERATIONS, budget_ns: None, touch: Vec::new(), paths: Vec::new() };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--iterations" => {
                let value = args.next().unwrap_or_default();
                options.iterations = positive(&value).ok_or(UsageError::BadIterations(value))?;
            }
            "--budget-ms" => {
                let value = args.next().unwrap_or_default();
                let ms: u64 = positive(&value).ok_or(UsageError::BadBudget(value))?;
                options.budget_ns = Some(u128::from(ms) * 1_000_000);
            }
            "--touch" => options.touch.push(args.next().ok_or(UsageError::MissingPath("--touch"))?),
            _ => options.paths.push(arg),
        }
    }
    Ok(Mode::Latency(options))
}

fn monotonic_ns() -> u128 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128
}

/// Mean nanoseconds per call of `op` and the number of calls, after one warm-up call: all
/// `iterations` calls, or with a budget, doubling batches until the budget is spent.
fn time_per_op(options: &Options, mut op: impl FnMut() -> i64) -> Result<(f64, u32), std::io::Error> {
    if op() < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let start = monotonic_ns();
    let mut done: u32 = 0;
    let mut batch: u32 = 1;
    while done < options.iterations {
        let count = match options.budget_ns {
            Some(_) => batch.min(options.iterations - done),
            None => options.iterations,
        };
        for _ in 0..count {
            std::hint::black_box(op());
        }
        done += count;
        batch = batch.saturating_mul(2);
        if options.budget_ns.is_some_and(|budget| monotonic_ns() - start >= budget) {
            break;
        }
    }
    Ok(((monotonic_ns() - start) as f64 / f64::from(done), done))
}

fn latency(options: &Options) -> ExitCode {
    for path in &options.touch {
        if let Err(error) = File::create(path).and_then(|mut file| file.write_all(b"syscall-bench\n")) {
            println!("bench touch path={path} error={error}");
            return ExitCode::FAILURE;
        }
    }
    let mut failed = false;
    // Raw syscall: a libc may cache getppid, and the point is the kernel round trip.
    // SAFETY: getppid takes no arguments.
    match time_per_op(options, || unsafe { libc::syscall(libc::SYS_getppid) }) {
        Ok((ns, iterations)) => println!("bench getppid ns={ns:.1} iterations={iterations}"),
        Err(error) => {
            println!("bench getppid error={error}");
            failed = true;
        }
    }
    for path in &options.paths {
        let Ok(c_path) = CString::new(path.as_str()) else {
            eprintln!("syscall-bench: {}", UsageError::PathWithNul(path.clone()));
            return ExitCode::from(2);
        };
        // SAFETY: an all-zero `stat` is a valid value to overwrite.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: a NUL-terminated path and a writable stat buffer.
        let op = || i64::from(unsafe { libc::stat(c_path.as_ptr(), &mut stat) });
        match time_per_op(options, op) {
            Ok((ns, iterations)) => println!("bench stat path={path} ns={ns:.1} iterations={iterations}"),
            Err(error) => {
                println!("bench stat path={path} error={error}");
                failed = true;
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn throughput_line(what: &str, path: &str, bytes: u64, ns: u128) {
    let mib_per_s = bytes as f64 / (1u64 << 20) as f64 / (ns.max(1) as f64 / 1e9);
    println!("bench {what} path={path} bytes={bytes} ns={ns} mib_per_s={mib_per_s:.1}");
}

fn write_throughput(path: &str, bytes: u64) -> std::io::Result<()> {
    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i * 31 % 251) as u8).collect();
    let mut file = File::create(path)?;
    let start = monotonic_ns();
    let mut written = 0u64;
    while written < bytes {
        let length = (bytes - written).min(CHUNK as u64) as usize;
        file.write_all(&chunk[..length])?;
        written += length as u64;
    }
    file.sync_all()?;
    throughput_line("write", path, written, monotonic_ns() - start);
    Ok(())
}

fn read_throughput(path: &str) -> std::io::Result<()> {
    let mut buffer = vec![0u8; CHUNK];
    let mut file = File::open(path)?;
    let start = monotonic_ns();
    let mut read = 0u64;
    loop {
        match file.read(&mut buffer)? {
            0 => break,
            count => read += count as u64,
        }
    }
    throughput_line("read", path, read, monotonic_ns() - start);
    Ok(())
}

fn main() -> ExitCode {
    let mode = match parse(std::env::args().skip(1)) {
        Ok(mode) => mode,
        Err(error) => {
            eprintln!("syscall-bench: {error}");
            return ExitCode::from(2);
        }
    };
    let (what, path, result) = match mode {
        Mode::Latency(options) => return latency(&options),
        Mode::Write { path, bytes } => ("write", path.clone(), write_throughput(&path, bytes)),
        Mode::Read { path } => ("read", path.clone(), read_throughput(&path)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            println!("bench {what} path={path} error={error}");
            ExitCode::FAILURE
        }
    }
}
