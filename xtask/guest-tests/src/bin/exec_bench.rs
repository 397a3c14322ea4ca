//! `exec-bench [--runs N] [--chroot DIR] NAME=PATH [ARG…]…`: how long a real program takes
//! from its start to its end, measured inside the sandbox and under a Linux guest by the same
//! static binary (`cargo xtask bench images`, over a Debian root filesystem).
//!
//! Each `NAME=PATH ARG…` (one argument, split at spaces) is run N times (default 10) in turn:
//! `fork`, the child `execve`s PATH with the arguments and a fixed environment (Docker's
//! `PATH`, `HOME=/root`, `LANG=C.UTF-8`, so both kernels run it alike) and its stdout and
//! stderr on `/dev/null` (a console under TCG would cost more than the program), and the
//! parent `waitpid`s. The clock (`CLOCK_MONOTONIC`) runs from before the `fork` to after the
//! `waitpid`: the program's whole life, its dynamic loader and libraries included. Two lines
//! per program:
//!
//! - `bench first-NAME ns=NS`: the first run, with cold caches (files read over 9p);
//! - `bench warm-NAME ns=NS iterations=K`: the mean of the other N - 1 runs.
//!
//! `--chroot DIR`: `chroot` there first (the Linux guest mounts the tree at DIR; the
//! sandbox's root already is the tree). A program that cannot be executed prints
//! `bench first-NAME unavailable=execve:ERRNO` (the child reports `execve`'s errno through a
//! close-on-exec pipe), one that fails `unavailable=exit:STATUS` or `unavailable=signal:N`,
//! and the rest go on; any other failure (fork, wait, the options) exits 1.

use std::ffi::CString;
use std::process::ExitCode;

const DEFAULT_RUNS: u32 = 10;
const ENVIRONMENT: &[&str] = &[
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C.UTF-8",
];

struct Program {
    name: String,
    path: CString,
    argv: Vec<CString>,
}

struct Options {
    runs: u32,
    chroot: Option<CString>,
    programs: Vec<Program>,
}

fn cstring(value: &str) -> Result<CString, String> {
    CString::new(value).map_err(|_| format!("`{value}` contains a NUL byte"))
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options { runs: DEFAULT_RUNS, chroot: None, programs: Vec::new() };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                let value = args.next().unwrap_or_default();
                options.runs = value
                    .parse()
                    .ok()
                    .filter(|runs| *runs >= 2)
                    .ok_or_else(|| format!("--runs: `{value}` is not a number of at least 2"))?;
            }
            "--chroot" => options.chroot = Some(cstring(&args.next().ok_or("--chroot: DIR missing")?)?),
            spec => {
                let (name, command) = spec.split_once('=').ok_or_else(|| format!("`{spec}` is not NAME=PATH ARG…"))?;
                let words: Vec<&str> = command.split_whitespace().collect();
                let path = words.first().ok_or_else(|| format!("`{spec}` names no program"))?;
                options.programs.push(Program {
                    name: name.to_owned(),
                    path: cstring(path)?,
                    argv: words.iter().map(|word| cstring(word)).collect::<Result<_, _>>()?,
                });
            }
        }
    }
    if options.programs.is_empty() {
        return Err("no NAME=PATH ARG… given".to_owned());
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

/// The errno's name for the `unavailable=` line (the usual ones; others by number).
fn errno_name(errno: i32) -> String {
    match errno {
        libc::ENOENT => "ENOENT".into(),
        libc::ENOEXEC => "ENOEXEC".into(),
        libc::EACCES => "EACCES".into(),
        libc::ENOSYS => "ENOSYS".into(),
        libc::ENOMEM => "ENOMEM".into(),
        libc::ELIBBAD => "ELIBBAD".into(),
        libc::EINVAL => "EINVAL".into(),
        other => format!("errno{other}"),
    }
}

/// How one run ended when the program did not run to a clean exit.
enum Failure {
    Execve(i32),
    Exit(i32),
    Signal(i32),
}

impl Failure {
    fn describe(&self) -> String {
        match self {
            Failure::Execve(errno) => format!("execve:{}", errno_name(*errno)),
            Failure::Exit(status) => format!("exit:{status}"),
            Failure::Signal(signal) => format!("signal:{signal}"),
        }
    }
}

/// The pointers `execve` takes, built before `fork` (the child makes no allocation).
struct Exec<'a> {
    path: &'a CString,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

/// One run: ns from before `fork` to after `waitpid`, or how it failed.
fn run_once(exec: &Exec<'_>, null: libc::c_int) -> Result<Result<u128, Failure>, String> {
    let mut report = [0 as libc::c_int; 2];
    // SAFETY: `report` is a valid array of two ints.
    if unsafe { libc::pipe2(report.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe2: {}", last_error()));
    }
    let start = monotonic_ns();
    // SAFETY: the program has one thread; the child makes only async-signal-safe calls.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: dup2, execve, write and _exit are async-signal-safe; the pointers were
        // made before the fork and stay valid in the child's copy of memory.
        unsafe {
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            libc::execve(exec.path.as_ptr(), exec.argv.as_ptr(), exec.envp.as_ptr());
            let errno = *libc::__errno_location();
            libc::write(report[1], (&raw const errno).cast(), size_of::<libc::c_int>());
            libc::_exit(127);
        }
    }
    // SAFETY: our copy of the write end; the child holds its own until execve closes it.
    unsafe { libc::close(report[1]) };
    if pid < 0 {
        // SAFETY: the read end is ours.
        unsafe { libc::close(report[0]) };
        return Err(format!("fork: {}", last_error()));
    }
    let mut status = 0;
    loop {
        // SAFETY: a valid pointer to an int.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            break;
        }
        let error = last_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(format!("waitpid: {error}"));
        }
    }
    let elapsed = monotonic_ns() - start;
    let mut errno: libc::c_int = 0;
    // SAFETY: reads at most one int into `errno`; the pipe has no writer left.
    let got = unsafe { libc::read(report[0], (&raw mut errno).cast(), size_of::<libc::c_int>()) };
    // SAFETY: the read end is ours.
    unsafe { libc::close(report[0]) };
    if got == size_of::<libc::c_int>() as isize {
        return Ok(Err(Failure::Execve(errno)));
    }
    if libc::WIFSIGNALED(status) {
        return Ok(Err(Failure::Signal(libc::WTERMSIG(status))));
    }
    match libc::WEXITSTATUS(status) {
        0 => Ok(Ok(elapsed)),
        code => Ok(Err(Failure::Exit(code))),
    }
}

fn bench(program: &Program, runs: u32, null: libc::c_int, environment: &[CString]) -> Result<(), String> {
    let mut argv: Vec<*const libc::c_char> = program.argv.iter().map(|arg| arg.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = environment.iter().map(|pair| pair.as_ptr()).collect();
    envp.push(std::ptr::null());
    let exec = Exec { path: &program.path, argv, envp };
    let name = &program.name;
    let first = match run_once(&exec, null)? {
        Ok(ns) => ns,
        Err(failure) => {
            println!("bench first-{name} unavailable={}", failure.describe());
            println!("bench warm-{name} unavailable={}", failure.describe());
            return Ok(());
        }
    };
    println!("bench first-{name} ns={first}");
    let mut total = 0u128;
    for _ in 1..runs {
        match run_once(&exec, null)? {
            Ok(ns) => total += ns,
            Err(failure) => {
                println!("bench warm-{name} unavailable={}", failure.describe());
                return Ok(());
            }
        }
    }
    let warm = runs - 1;
    println!("bench warm-{name} ns={:.0} iterations={warm}", total as f64 / f64::from(warm));
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("exec-bench: {error}");
            return ExitCode::from(2);
        }
    };
    // /dev/null is opened before any chroot, so the tree needs no /dev of its own.
    // SAFETY: a NUL-terminated path.
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if null < 0 {
        eprintln!("exec-bench: /dev/null: {}", last_error());
        return ExitCode::FAILURE;
    }
    if let Some(dir) = &options.chroot {
        // SAFETY: NUL-terminated paths.
        if unsafe { libc::chroot(dir.as_ptr()) } != 0 || unsafe { libc::chdir(c"/".as_ptr()) } != 0 {
            eprintln!("exec-bench: chroot {dir:?}: {}", last_error());
            return ExitCode::FAILURE;
        }
    }
    let environment: Vec<CString> = ENVIRONMENT.iter().map(|pair| cstring(pair).expect("no NUL")).collect();
    for program in &options.programs {
        if let Err(error) = bench(program, options.runs, null, &environment) {
            eprintln!("exec-bench: {}: {error}", program.name);
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
