//! `cargo xtask fuzz TARGET [--seconds N]`: coverage-guided fuzzing of the code that reads
//! what a container or a host hands the kernel (the spec and its mount plan, ELF files and
//! `#!` lines, 9p replies), and the short run of every target `cargo xtask test` makes.
//!
//! The targets are the `xtask/fuzz` crate's binaries (see its README) and `syscalls`, the
//! guest program `syscall-fuzz` run as a sandbox's init ([`syscalls`]); [`targets`] lists
//! them, [`libfuzzer`] builds and runs the libFuzzer ones. Working corpora, findings and logs go under
//! `TARGET_DIR/fuzz/`. Exit status: 0 when nothing was found, [`FOUND`] when an input
//! crashed, hung or ran out of memory (its path is printed), 1 when fuzzing could not run.

mod libfuzzer;
mod syscalls;
mod targets;

use anyhow::{Result, bail};

use crate::cli::FuzzArgs;
use crate::setup;
use libfuzzer::{Budget, Paths, Report, Verbosity};
use targets::{Engine, TARGETS, Target};

pub use syscalls::SyscallFuzzArgs;

/// Exit status when the fuzzer found an input that fails.
pub const FOUND: u8 = 3;
/// Seconds each target runs in `cargo xtask test`.
pub const SMOKE_SECONDS: u64 = 5;

pub fn fuzz(args: FuzzArgs) -> Result<u8> {
    if args.list {
        print_list();
        return Ok(0);
    }
    let Some(name) = args.target.as_deref() else {
        bail!("name a target (`cargo xtask fuzz --list` shows them)");
    };
    let Some(target) = targets::find(name) else {
        print_list();
        bail!("no fuzz target `{name}`");
    };
    match target.engine {
        Engine::GuestSyscalls => {
            if args.reproduce.is_some() {
                bail!("`syscalls` replays with --seed S --from I --calls N, not --reproduce");
            }
            syscalls::fuzz(args.syscalls)
        }
        Engine::LibFuzzer(libfuzzer_target) => {
            setup::for_fuzz()?;
            let paths = Paths::new(target.name)?;
            let bin_dir = libfuzzer::build(&libfuzzer::build_dir()?)?;
            if let Some(input) = &args.reproduce {
                let passed = libfuzzer::reproduce(&libfuzzer_target, &bin_dir, input)?;
                eprintln!(
                    "xtask: fuzz {name}: {} {}",
                    input.display(),
                    if passed { "passes" } else { "still fails" }
                );
                return Ok(if passed { 0 } else { FOUND });
            }
            let budget = Budget {
                seconds: args.seconds,
                runs: args.runs,
            };
            let report = libfuzzer::run(
                target.name,
                &libfuzzer_target,
                &bin_dir,
                &paths,
                budget,
                &args.libfuzzer_args,
                Verbosity::Progress,
            )?;
            print_report(target, &report);
            Ok(if report.finding.is_some() { FOUND } else { 0 })
        }
    }
}

fn print_list() {
    println!("fuzz targets (cargo xtask fuzz TARGET [--seconds N]):");
    for target in TARGETS {
        println!("  {:<10} {}", target.name, target.about);
    }
}

fn print_report(target: &Target, report: &Report) {
    let mut line = format!(
        "fuzz {}: {} executions in {:.0} s ({} exec/s)",
        target.name,
        report.executions,
        report.wall.as_secs_f64(),
        report.executions_per_second
    );
    if let Some(coverage) = report.coverage {
        line.push_str(&format!(", coverage {coverage}"));
    }
    if let Some(units) = report.corpus_units {
        line.push_str(&format!(", corpus {units}"));
    }
    if let Some(new) = report.new_units {
        line.push_str(&format!(" ({new} inputs added)"));
    }
    match &report.finding {
        None => println!("{line}; findings: none"),
        Some(finding) => {
            println!("{line}; FOUND a {}: {}", finding.kind, finding.message);
            match &finding.reproducer {
                Some(path) => println!(
                    "fuzz {}: reproducer {}\n  rerun it: cargo xtask fuzz {} --reproduce {}",
                    target.name,
                    path.display(),
                    target.name,
                    path.display()
                ),
                None => println!("fuzz {}: libFuzzer saved no reproducer", target.name),
            }
        }
    }
}

/// How the short runs in `cargo xtask test` went.
#[derive(Debug, Default)]
pub struct SmokeSummary {
    pub passed: usize,
    pub failed: Vec<String>,
    pub skipped: Vec<String>,
}

/// Runs every libFuzzer target for [`SMOKE_SECONDS`]: a finding fails the test suite; a
/// machine that cannot build libFuzzer (no C++ compiler, not root to install one) skips
/// them. (`syscalls` has its own boot test.)
pub fn smoke() -> SmokeSummary {
    let mut summary = SmokeSummary::default();
    let smoked: Vec<(&Target, targets::LibFuzzerTarget)> = targets::libfuzzer_targets().collect();
    let skip_all = |summary: &mut SmokeSummary, reason: &str| {
        for (target, _) in &smoked {
            println!("xtask: fuzz {} … SKIPPED ({reason})", target.name);
            summary.skipped.push(target.name.to_owned());
        }
    };
    if let Err(error) = setup::for_fuzz() {
        skip_all(
            &mut summary,
            &format!("cannot build libFuzzer here: {error:#}"),
        );
        return summary;
    }
    let built = libfuzzer::build_dir().and_then(|dir| libfuzzer::build(&dir));
    let bin_dir = match built {
        Ok(dir) => dir,
        Err(error) => {
            // The tools are there, so this is the code's fault: every target fails.
            for (target, _) in &smoked {
                println!("xtask: fuzz {} … FAILED: {error:#}", target.name);
                summary.failed.push(target.name.to_owned());
            }
            return summary;
        }
    };
    for (index, (target, libfuzzer_target)) in smoked.iter().enumerate() {
        let position = format!("{}/{}", index + 1, smoked.len());
        let budget = Budget {
            seconds: SMOKE_SECONDS,
            runs: None,
        };
        let outcome = Paths::new(target.name).and_then(|paths| {
            libfuzzer::run(
                target.name,
                &libfuzzer_target,
                &bin_dir,
                &paths,
                budget,
                &[],
                Verbosity::Quiet,
            )
        });
        match outcome {
            Ok(report) if report.finding.is_none() => {
                summary.passed += 1;
                println!(
                    "xtask: fuzz {position} {} … ok ({} executions, {} exec/s)",
                    target.name, report.executions, report.executions_per_second
                );
            }
            Ok(report) => {
                summary.failed.push(target.name.to_owned());
                println!(
                    "xtask: fuzz {position} {} … FAILED after {} executions",
                    target.name, report.executions
                );
                print_report(target, &report);
            }
            Err(error) => {
                summary.failed.push(target.name.to_owned());
                println!("xtask: fuzz {position} {} … FAILED: {error:#}", target.name);
            }
        }
    }
    println!(
        "fuzz: {} passed, {} failed, {} skipped",
        summary.passed,
        summary.failed.len(),
        summary.skipped.len()
    );
    summary
}
