//! `cargo xtask soak --minutes N`: boots a sandbox whose init is `xtask/guest-tests`' `soak`
//! (spawns, pipes, file work on tmpfs, the overlay and 9p, mounts and unmounts, memory
//! pressure, in a loop), prints its samples of free memory and 9p fids, and judges whether
//! both stayed flat: a least-squares trend over the second half of the run (the first half
//! is warm-up: caches fill, the heap grows to its working size), within a tolerance, not
//! an exact equality. Exits 0 when both are flat and the soak ran clean, 1 when either grew
//! or an operation failed, 125 when the kernel failed (panic, hang, no exit status).

use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;

use crate::cargo::{self, Profile};
use crate::cli::{AccelArgs, LogArg};
use crate::guest;
use crate::one_program::{self, Program, RunEnd};
use crate::qemu::{self, MemorySize};
use crate::run::RUNTIME_FAILURE;
use crate::setup;

/// Samples a run aims at (the interval is chosen for it).
const SAMPLES: u64 = 40;
/// Free memory may fall by this much over the second half (kB), or by 2% of its mean.
const MEMORY_TOLERANCE_KB: f64 = 4096.0;
/// The fids in use may rise by this many over the second half, or by 5% of their mean.
const FIDS_TOLERANCE: f64 = 2.0;

#[derive(Debug, Args)]
pub struct SoakArgs {
    #[command(flatten)]
    pub accel: AccelArgs,
    /// How long the load runs.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub minutes: u64,
    /// Seconds between samples (default: the run's length / 40, at least 5).
    #[arg(long)]
    pub interval_secs: Option<u64>,
    /// Guest memory.
    #[arg(long, default_value = "256M")]
    pub memory: MemorySize,
}

/// One line `soak: sample …` of the guest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub seconds: f64,
    pub rounds: u64,
    pub memfree_kb: u64,
    pub fids: u64,
    pub quarantined_fids: u64,
    pub errors: u64,
}

pub fn parse_samples(console: &str) -> Vec<Sample> {
    console
        .lines()
        .filter_map(|line| line.trim().strip_prefix("soak: sample "))
        .filter_map(|fields| {
            let field = |name: &str| {
                fields
                    .split_whitespace()
                    .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            };
            Some(Sample {
                seconds: field("seconds")?.parse().ok()?,
                rounds: field("rounds")?.parse().ok()?,
                memfree_kb: field("memfree_kb")?.parse().ok()?,
                fids: field("fids")?.parse().ok()?,
                quarantined_fids: field("quarantined_fids")?.parse().ok()?,
                errors: field("errors")?.parse().ok()?,
            })
        })
        .collect()
}

/// The least-squares line through `points`: its change from the first point's time to the
/// last's (0 for fewer than two distinct times).
pub fn fitted_change(points: &[(f64, f64)]) -> f64 {
    let count = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_x = points.iter().map(|(x, _)| x).sum::<f64>() / count;
    let mean_y = points.iter().map(|(_, y)| y).sum::<f64>() / count;
    let spread: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    if spread == 0.0 {
        return 0.0;
    }
    let slope = points
        .iter()
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum::<f64>()
        / spread;
    let span = points.last().map_or(0.0, |(x, _)| *x) - points[0].0;
    slope * span
}

/// One quantity's trend over the second half.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    /// The fitted change over the second half (negative: it fell).
    pub change: f64,
    pub tolerance: f64,
    pub flat: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub samples_judged: usize,
    pub memory: Trend,
    pub fids: Trend,
}

/// Memory must not fall and fids must not rise by more than their tolerance over the
/// second half of the samples; `None` with fewer than three samples there.
pub fn judge(samples: &[Sample]) -> Option<Verdict> {
    let second_half = &samples[samples.len() / 2..];
    if second_half.len() < 3 {
        return None;
    }
    let series = |value: fn(&Sample) -> u64| -> Vec<(f64, f64)> {
        second_half
            .iter()
            .map(|sample| (sample.seconds, value(sample) as f64))
            .collect()
    };
    let mean =
        |points: &[(f64, f64)]| points.iter().map(|(_, y)| y).sum::<f64>() / points.len() as f64;
    let memory = series(|sample| sample.memfree_kb);
    let memory_change = fitted_change(&memory);
    let memory_tolerance = MEMORY_TOLERANCE_KB.max(0.02 * mean(&memory));
    let fids = series(|sample| sample.fids);
    let fids_change = fitted_change(&fids);
    let fids_tolerance = FIDS_TOLERANCE.max(0.05 * mean(&fids));
    Some(Verdict {
        samples_judged: second_half.len(),
        memory: Trend {
            change: memory_change,
            tolerance: memory_tolerance,
            flat: -memory_change <= memory_tolerance,
        },
        fids: Trend {
            change: fids_change,
            tolerance: fids_tolerance,
            flat: fids_change <= fids_tolerance,
        },
    })
}

fn print_samples(samples: &[Sample]) {
    println!("| seconds | rounds | MemFree (kB) | 9p fids | quarantined fids | errors |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for sample in samples {
        println!(
            "| {:.0} | {} | {} | {} | {} | {} |",
            sample.seconds,
            sample.rounds,
            sample.memfree_kb,
            sample.fids,
            sample.quarantined_fids,
            sample.errors
        );
    }
}

fn describe(name: &str, trend: Trend, unit: &str) -> String {
    format!(
        "{name} {:+.1}{unit} (tolerance {:.0}{unit}): {}",
        trend.change,
        trend.tolerance,
        if trend.flat { "flat" } else { "GREW" }
    )
}

pub fn soak(args: SoakArgs) -> Result<u8> {
    setup::for_run()?;
    let target = cargo::target_dir()?;
    let programs = guest::build_test_programs(&target)?;
    let kernel = cargo::build_kernel(Profile::Release)?;
    let accel = qemu::choose_accel(args.accel.accel);
    let seconds = args.minutes * 60;
    let interval = args.interval_secs.unwrap_or((seconds / SAMPLES).max(5));
    let program = Program {
        name: "soak",
        binary: &programs.soak,
        args: vec![
            "--seconds".to_owned(),
            seconds.to_string(),
            "--interval-secs".to_owned(),
            interval.to_string(),
        ],
        // mount(2) of a tmpfs and a bind mount.
        extra_caps: &["CAP_SYS_ADMIN"],
    };
    let bundle = one_program::write_bundle(&target.join("xtask").join("soak"), &program)?;
    eprintln!(
        "xtask: soak for {} min, a sample every {interval} s",
        args.minutes
    );
    // The guest samples every `interval`; a console silent for much longer is a hang.
    let idle_limit = Duration::from_secs(interval * 3 + 120);
    let (end, outcome) = one_program::boot_live(
        &kernel,
        &bundle,
        (accel, args.memory, LogArg::Warn),
        idle_limit,
    )?;
    let samples = parse_samples(&outcome.console);
    println!();
    print_samples(&samples);
    let status = match end {
        RunEnd::Exited(status) if status < 120 => status,
        RunEnd::Exited(status) => {
            eprintln!(
                "xtask: soak: the kernel failed (status {status}) after {} samples",
                samples.len()
            );
            return Ok(RUNTIME_FAILURE);
        }
        RunEnd::NoExit { timed_out } => {
            eprintln!(
                "xtask: soak: {} after {} samples",
                if timed_out {
                    "the console fell silent (kernel hang)"
                } else {
                    "no exit status"
                },
                samples.len()
            );
            return Ok(RUNTIME_FAILURE);
        }
    };
    let Some(verdict) = judge(&samples) else {
        bail!(
            "soak: {} samples, too few to judge a trend (run longer)",
            samples.len()
        );
    };
    println!();
    println!(
        "Second half ({} samples): {}; {}.",
        verdict.samples_judged,
        describe("MemFree fitted change", verdict.memory, " kB"),
        describe("9p fids fitted change", verdict.fids, "")
    );
    let flat = verdict.memory.flat && verdict.fids.flat;
    eprintln!(
        "xtask: soak: memory and fids {}; the soak program exited {status}",
        if flat { "stayed flat" } else { "GREW" }
    );
    Ok(if flat && status == 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seconds: f64, memfree_kb: u64, fids: u64) -> Sample {
        Sample {
            seconds,
            rounds: 0,
            memfree_kb,
            fids,
            quarantined_fids: 0,
            errors: 0,
        }
    }

    #[test]
    fn samples_are_read_from_the_console() {
        let console = "noise\nsoak: sample seconds=15.2 rounds=9 memfree_kb=201000 fids=7 \
                       quarantined_fids=0 errors=1\nsoak: sample seconds=x\n";
        assert_eq!(
            parse_samples(console),
            [Sample {
                seconds: 15.2,
                rounds: 9,
                memfree_kb: 201_000,
                fids: 7,
                quarantined_fids: 0,
                errors: 1
            }]
        );
    }

    #[test]
    fn a_line_through_the_points_gives_the_change_over_their_span() {
        assert_eq!(
            fitted_change(&[(0.0, 10.0), (10.0, 20.0), (20.0, 30.0)]),
            20.0
        );
        assert_eq!(fitted_change(&[(5.0, 1.0)]), 0.0);
        let noisy = [(0.0, 5.0), (1.0, 7.0), (2.0, 5.0), (3.0, 7.0)];
        assert!(fitted_change(&noisy).abs() < 2.0);
    }

    #[test]
    fn warm_up_in_the_first_half_is_not_judged() {
        let mut samples: Vec<Sample> = (0..10u64)
            .map(|i| sample(i as f64 * 10.0, 200_000 - 5_000 * i, 3 + i))
            .collect();
        samples.extend((10..20).map(|i| sample(i as f64 * 10.0, 150_000 + (i % 2) * 500, 12)));
        let verdict = judge(&samples).unwrap();
        assert!(verdict.memory.flat && verdict.fids.flat, "{verdict:?}");
        assert_eq!(verdict.samples_judged, 10);
    }

    #[test]
    fn steady_growth_in_the_second_half_is_caught() {
        let samples: Vec<Sample> = (0..20u64)
            .map(|i| sample(i as f64 * 10.0, 200_000 - 2_000 * i, 3 + i))
            .collect();
        let verdict = judge(&samples).unwrap();
        assert!(!verdict.memory.flat, "{verdict:?}");
        assert!(!verdict.fids.flat, "{verdict:?}");
        assert!(
            judge(&samples[..4]).is_none(),
            "two samples in the second half"
        );
    }
}
