//! `syscall-bench [--iterations N] [PATH…]`: the cost of one system call, measured inside
//! the sandbox and under a Linux guest by the same static binary (`cargo xtask bench
//! syscalls`). One line per measurement, `bench NAME [path=PATH] ns=NS iterations=N`.

use std::ffi::CString;
use std::process::ExitCode;

const DEFAULT_ITERATIONS: u32 = 100_000;

#[derive(Debug)]
enum UsageError {
    BadIterations(String),
    PathWithNul(String),
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UsageError::BadIterations(value) => write!(f, "--iterations: `{value}` is not a positive number"),
            UsageError::PathWithNul(path) => write!(f, "path {path:?} contains a NUL byte"),
        }
    }
}

struct Options {
    iterations: u32,
    paths: Vec<String>,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Options, UsageError> {
    let mut options = Options { iterations: DEFAULT_ITERATIONS, paths: Vec::new() };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        if arg == "--iterations" {
            let value = args.next().unwrap_or_default();
            options.iterations = match value.parse() {
                Ok(count) if count > 0 => count,
                _ => return Err(UsageError::BadIterations(value)),
            };
        } else {
            options.paths.push(arg);
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

/// Mean nanoseconds per call of `op` over `iterations` calls, after one warm-up call.
fn time_per_op(iterations: u32, mut op: impl FnMut() -> i64) -> Result<f64, std::io::Error> {
    if op() < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let start = monotonic_ns();
    for _ in 0..iterations {
        std::hint::black_box(op());
    }
    Ok((monotonic_ns() - start) as f64 / f64::from(iterations))
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("syscall-bench: {error}");
            return ExitCode::from(2);
        }
    };
    let iterations = options.iterations;
    let mut failed = false;
    // Raw syscall: a libc may cache getppid, and the point is the kernel round trip.
    // SAFETY: getppid takes no arguments.
    match time_per_op(iterations, || unsafe { libc::syscall(libc::SYS_getppid) }) {
        Ok(ns) => println!("bench getppid ns={ns:.1} iterations={iterations}"),
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
        match time_per_op(iterations, op) {
            Ok(ns) => println!("bench stat path={path} ns={ns:.1} iterations={iterations}"),
            Err(error) => {
                println!("bench stat path={path} error={error}");
                failed = true;
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
