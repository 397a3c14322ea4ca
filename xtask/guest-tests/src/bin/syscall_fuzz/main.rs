//! `syscall-fuzz [--calls N] [--seed S] [--from I] [--per-worker K] [--watchdog-secs W]
//! [--trace-from I] [--stats]`: random system calls with random and mutated arguments, run as the
//! container's init (issue 12). The kernel must survive them all: the run ends with this
//! program's own exit status, 0 when no call misbehaved.
//!
//! Call `i` of a run is drawn from a generator seeded by `(seed, i)` and the state of the
//! worker making it, so a seed replays the same calls. Calls `I..I+N` are made by forked
//! workers, `K` calls each (see `worker` for what keeps a worker alive, `supervisor` for
//! what happens when one dies anyway).
//!
//! Findings: a return that is neither a success of the call's kind nor a valid `-errno`
//! (printed `syscall-fuzz: FINDING call #i name(args) = value: why`), a call that does not
//! return within the watchdog's time although a `SIGALRM` arrives every 10 ms, a worker that
//! survives `SIGKILL`, workers that cannot start. A kernel panic or hang ends the sandbox
//! before the last line; the host tool reports it.
//!
//! Output: `syscall-fuzz: seed=… calls=… from=…` first, `syscall-fuzz: progress …` lines,
//! then `syscall-fuzz: done calls=N seconds=T workers=W ended-early=D findings=F` and
//! `syscall-fuzz: after the run, fork, wait and a file on tmpfs still work` (or `FAIL …`).
//! Exit 0 with no findings, 1 with findings, 2 for bad arguments or outside a sandbox.

mod args;
mod layout;
mod raw;
mod supervisor;
mod table;
mod worker;

use std::process::ExitCode;
use std::time::{Duration, Instant};

pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "syscall-fuzz: {problem}\nusage: syscall-fuzz [--calls N] [--seed S] [--from I] \
         [--per-worker K] [--watchdog-secs W] [--trace-from I] [--stats]"
    );
    ExitCode::from(2)
}

fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: fills the 8-byte buffer.
    unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), 8, 0) };
    u64::from_le_bytes(bytes)
}

fn main() -> ExitCode {
    let mut options = supervisor::Options {
        seed: 0,
        from: 0,
        calls: 10_000,
        per_worker: 5_000,
        watchdog: Duration::from_secs(10),
        trace_from: None,
    };
    let mut stats = false;
    let mut seed = None;
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        if flag == "--stats" {
            stats = true;
            continue;
        }
        let Some(value) = words.next().as_deref().and_then(parse_number) else {
            return usage(&format!("{flag} needs a number"));
        };
        match flag.as_str() {
            "--calls" => options.calls = value,
            "--seed" => seed = Some(value),
            "--from" => options.from = value,
            "--per-worker" if value > 0 => options.per_worker = value,
            "--watchdog-secs" if value > 0 => options.watchdog = Duration::from_secs(value),
            "--trace-from" => options.trace_from = Some(value),
            _ => return usage(&format!("unknown or bad option {flag}")),
        }
    }
    // Its calls include kill(-1, SIGKILL) and mounts: only ever as a sandbox's init.
    if std::process::id() != 1 {
        return usage("refusing to run outside a sandbox: it must be the init (pid 1)");
    }
    options.seed = seed.unwrap_or_else(random_seed);
    println!(
        "syscall-fuzz: seed={:#x} calls={} from={} per-worker={} table={} calls",
        options.seed,
        options.calls,
        options.from,
        options.per_worker,
        table::SPECS.len()
    );
    let started = Instant::now();
    let summary = supervisor::run(&options);
    println!(
        "syscall-fuzz: done calls={} seconds={:.1} workers={} ended-early={} findings={}",
        summary.calls,
        started.elapsed().as_secs_f64(),
        summary.workers,
        summary.deaths,
        summary.findings.len()
    );
    if !summary.deaths_by.is_empty() {
        let causes: Vec<String> = summary
            .deaths_by
            .iter()
            .map(|(how, count)| format!("{how}: {count}"))
            .collect();
        println!("syscall-fuzz: workers ended early by {}", causes.join(", "));
    }
    let totals = summary
        .outcomes
        .values()
        .fold([0u64; 3], |mut sum, counts| {
            sum.iter_mut()
                .zip(counts)
                .for_each(|(sum, count)| *sum += count);
            sum
        });
    let all = totals.iter().sum::<u64>().max(1) as f64;
    println!(
        "syscall-fuzz: outcomes (workers that finished): {:.1}% succeeded, {:.1}% ENOSYS, {:.1}% other errors",
        100.0 * totals[0] as f64 / all,
        100.0 * totals[1] as f64 / all,
        100.0 * totals[2] as f64 / all
    );
    if stats {
        for (number, [ok, enosys, other]) in &summary.outcomes {
            println!(
                "syscall-fuzz: stats {} ok={ok} enosys={enosys} errors={other}",
                table::name(*number)
            );
        }
    }
    for finding in &summary.findings {
        println!("syscall-fuzz: finding: {finding}");
    }
    let healthy = still_healthy();
    println!(
        "syscall-fuzz: {} after the run, fork, wait and a file on tmpfs still work",
        if healthy { "ok" } else { "FAIL" }
    );
    println!("syscall-fuzz: seed={:#x}", options.seed);
    if summary.findings.is_empty() && healthy && summary.calls == options.calls {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A child writes a file and reads it back; the supervisor waits for it.
fn still_healthy() -> bool {
    // SAFETY: the supervisor is single-threaded; the child only does file I/O and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let path = "/tmp/syscall-fuzz-health";
        let ok = std::fs::write(path, b"still here\n").is_ok()
            && std::fs::read(path).is_ok_and(|bytes| bytes == b"still here\n")
            && std::fs::remove_file(path).is_ok();
        // SAFETY: ends the child.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    if pid < 0 {
        return false;
    }
    let mut status = 0;
    loop {
        // SAFETY: waits for that child.
        let reaped = unsafe { libc::waitpid(pid, &mut status, 0) };
        if reaped == pid {
            return libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        }
        if reaped < 0 && errno() != libc::EINTR {
            return false;
        }
    }
}
