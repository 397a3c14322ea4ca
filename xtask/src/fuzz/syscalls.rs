//! `cargo xtask fuzz syscalls --calls N [--seed S]`: boots a sandbox whose init is
//! `xtask/guest-tests`' `syscall-fuzz` and reports how it ended. The sandbox's exit status
//! is the fuzzer's (0: N calls made, no finding); a kernel panic, a kernel failure status
//! (120–125) or a console silent for the idle limit (a hung kernel) is a finding of its
//! own, reported with the seed and the last call index the fuzzer announced, and exits 125.

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;

use crate::cargo::{self, Profile};
use crate::cli::{AccelArgs, LogArg};
use crate::guest;
use crate::one_program::{self, Program, RunEnd};
use crate::qemu::{self, MemorySize};
use crate::run::RUNTIME_FAILURE;
use crate::setup;

/// The fuzzer prints a progress line at least this often; a console silent for longer
/// means the kernel stopped.
const IDLE_LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, Args)]
pub struct SyscallFuzzArgs {
    #[command(flatten)]
    pub accel: AccelArgs,
    /// How many calls to make.
    #[arg(long, default_value_t = 100_000)]
    pub calls: u64,
    /// The run's seed (decimal or 0x…); a random one, printed, by default.
    #[arg(long, value_parser = parse_seed)]
    pub seed: Option<u64>,
    /// The index of the first call (with the same seed, replays a run from there).
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Calls per forked worker (each starts from a fresh process state).
    #[arg(long, default_value_t = 5000)]
    pub per_worker: u64,
    /// Print every call from this index on, before it is made (to find the call a panic
    /// follows).
    #[arg(long)]
    pub trace_from: Option<u64>,
    /// Print each call's successes and errors at the end.
    #[arg(long)]
    pub stats: bool,
    /// Guest memory.
    #[arg(long, default_value = "256M")]
    pub memory: MemorySize,
    /// Kernel log level (`trace` logs every system call: for replaying a finding).
    #[arg(long, value_enum, default_value_t = LogArg::Warn)]
    pub log: LogArg,
}

fn parse_seed(text: &str) -> Result<u64, String> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .map_err(|error| format!("not a number: {error}"))
}

/// The fuzzer's command line for these options and seed.
pub fn program_args(args: &SyscallFuzzArgs, seed: u64) -> Vec<String> {
    let mut words = vec![
        "--calls".to_owned(),
        args.calls.to_string(),
        "--seed".to_owned(),
        format!("{seed:#x}"),
        "--from".to_owned(),
        args.from.to_string(),
        "--per-worker".to_owned(),
        args.per_worker.to_string(),
    ];
    if args.stats {
        words.push("--stats".to_owned());
    }
    if let Some(from) = args.trace_from {
        words.extend(["--trace-from".to_owned(), from.to_string()]);
    }
    words
}

pub fn fuzz(args: SyscallFuzzArgs) -> Result<u8> {
    setup::for_run()?;
    let target = cargo::target_dir()?;
    let programs = guest::build_test_programs(&target)?;
    let kernel = cargo::build_kernel(Profile::Release)?;
    let accel = qemu::choose_accel(args.accel.accel);
    let seed = args.seed.unwrap_or_else(random_seed);
    let program = Program {
        name: "syscall-fuzz",
        binary: &programs.syscall_fuzz,
        args: program_args(&args, seed),
        // Mounts and host names are part of what a container may try.
        extra_caps: &["CAP_SYS_ADMIN"],
    };
    let bundle = one_program::write_bundle(&target.join("xtask").join("fuzz-syscalls"), &program)?;
    eprintln!(
        "xtask: fuzz syscalls: {} calls from #{}, seed {seed:#x}",
        args.calls, args.from
    );
    let started = Instant::now();
    let (end, outcome) =
        one_program::boot_live(&kernel, &bundle, (accel, args.memory, args.log), IDLE_LIMIT)?;
    let wall = started.elapsed().as_secs_f64();
    let last_call = last_announced_call(&outcome.console);
    let panicked = outcome
        .console
        .lines()
        .any(|line| line.contains("kernel panic"));
    match end {
        RunEnd::Exited(status) if status < 120 && !panicked => {
            eprintln!(
                "xtask: fuzz syscalls: the kernel survived; the fuzzer exited {status} \
                 after {wall:.1} s (seed {seed:#x})"
            );
            Ok(status)
        }
        RunEnd::Exited(status) => {
            eprintln!(
                "xtask: fuzz syscalls: FINDING: kernel failure (status {status}{}) after \
                 {wall:.1} s, seed {seed:#x}, {}",
                if panicked { ", kernel panic" } else { "" },
                describe_last(last_call)
            );
            Ok(RUNTIME_FAILURE)
        }
        RunEnd::NoExit { timed_out } => {
            eprintln!(
                "xtask: fuzz syscalls: FINDING: {} after {wall:.1} s, seed {seed:#x}, {}",
                if timed_out {
                    format!(
                        "the console was silent for {} s (kernel hang)",
                        IDLE_LIMIT.as_secs()
                    )
                } else {
                    format!(
                        "the sandbox ended without an exit status (QEMU {})",
                        crate::run::describe_qemu_end(outcome.qemu_code)
                    )
                },
                describe_last(last_call)
            );
            Ok(RUNTIME_FAILURE)
        }
    }
}

fn describe_last(progress: Option<u64>) -> String {
    match progress {
        Some(calls) => format!(
            "last progress line at {calls} calls (rerun with --trace-from near there to see the calls)"
        ),
        None => "before the first progress line".to_owned(),
    }
}

/// The call count of the fuzzer's last `progress` line.
fn last_announced_call(console: &str) -> Option<u64> {
    console.lines().rev().find_map(|line| {
        let rest = line.trim().strip_prefix("syscall-fuzz: progress ")?;
        rest.split('/').next()?.parse().ok()
    })
}

fn random_seed() -> u64 {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut bytes))
        .is_err()
    {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        return nanos as u64;
    }
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_progress_line_gives_the_count() {
        let console = "syscall-fuzz: progress 5000/20000 calls, 1 workers\n\
                       noise\nsyscall-fuzz: progress 10000/20000 calls, 2 workers\n";
        assert_eq!(last_announced_call(console), Some(10000));
        assert_eq!(last_announced_call("nothing\n"), None);
    }

    #[test]
    fn seeds_read_in_decimal_and_hex() {
        assert_eq!(parse_seed("0x10"), Ok(16));
        assert_eq!(parse_seed("42"), Ok(42));
        assert!(parse_seed("x").is_err());
    }
}
