//! libFuzzer targets on the stable toolchain: the `xtask/fuzz` crate built with LLVM's
//! SanitizerCoverage passes turned on through stable `-C` flags (what cargo-fuzz passes,
//! minus its nightly `-Zsanitizer`), linked with the libFuzzer that `libfuzzer-sys` builds
//! from C++; then one binary run with a time limit, its output read for progress, figures
//! and findings.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::targets::{LibFuzzerTarget, fuzz_crate};
use crate::cargo::{cargo_command, target_dir};

/// Coverage instrumentation without a sanitizer runtime: edge coverage with inline 8-bit
/// counters and the PC table (libFuzzer's feedback), comparison tracing (so it solves
/// magic numbers and string compares), stack depth; `--cfg fuzzing` as cargo-fuzz sets it.
/// Debug assertions and overflow checks come from the fuzz crate's release profile.
const RUSTFLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "-Cllvm-args=-sanitizer-coverage-stack-depth",
    "--cfg",
    "fuzzing",
];

/// An input that runs this long is reported as a hang.
const INPUT_TIMEOUT_SECONDS: u64 = 10;
/// libFuzzer's memory limit (RSS, and any single allocation): a decoder that believes a
/// length field and allocates gigabytes is a finding.
const RSS_LIMIT_MB: u64 = 2048;
/// How often a progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);
/// Past the time limit, how long libFuzzer gets to write its statistics before it is
/// stopped as stuck.
const GRACE: Duration = Duration::from_secs(60);

/// The instrumented build's own target directory, so the normal build's artifacts are
/// never rebuilt with (or invalidated by) the coverage flags.
pub fn build_dir() -> Result<PathBuf> {
    Ok(target_dir()?.join("fuzz").join("build"))
}

/// Where a target's files live under the workspace's target directory.
pub struct Paths {
    /// The working corpus: what libFuzzer found so far, kept between runs.
    pub corpus: PathBuf,
    pub artifacts: PathBuf,
    pub log: PathBuf,
}

impl Paths {
    pub fn new(target_name: &str) -> Result<Paths> {
        let root = target_dir()?.join("fuzz");
        Ok(Paths {
            corpus: root.join("corpus").join(target_name),
            artifacts: root.join("artifacts").join(target_name),
            log: root.join("logs").join(format!("{target_name}.log")),
        })
    }
}

/// Builds every libFuzzer binary of the fuzz crate; returns the directory holding them.
pub fn build(build_dir: &Path) -> Result<PathBuf> {
    let host = host_triple()?;
    eprintln!("xtask: building the fuzz targets (instrumented, {host})…");
    let started = Instant::now();
    let mut command = cargo_command();
    command
        .args(["build", "--release", "--bins", "--manifest-path"])
        .arg(fuzz_crate().join("Cargo.toml"))
        // An explicit target keeps the flags off build scripts and proc macros.
        .args(["--target", &host, "--target-dir"])
        .arg(build_dir)
        .env("RUSTFLAGS", RUSTFLAGS.join(" "))
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    let status = command
        .status()
        .context("running cargo build for xtask/fuzz")?;
    if !status.success() {
        bail!("building the fuzz targets failed ({status})");
    }
    eprintln!(
        "xtask: built the fuzz targets in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(build_dir.join(host).join("release"))
}

fn host_triple() -> Result<String> {
    let output = Command::new("rustc")
        .arg("-vV")
        .current_dir(crate::cargo::workspace_root())
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host")
}

/// How long, or how many inputs, to fuzz.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub seconds: u64,
    pub runs: Option<u64>,
}

/// Whether progress lines are printed while fuzzing (not for the test suite's short runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Progress,
    Quiet,
}

/// What a run found and did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub executions: u64,
    pub executions_per_second: u64,
    pub wall: Duration,
    pub coverage: Option<u64>,
    pub corpus_units: Option<u64>,
    pub new_units: Option<u64>,
    pub finding: Option<Finding>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    /// The input that triggers it, as libFuzzer saved it.
    pub reproducer: Option<PathBuf>,
    /// The panic message or libFuzzer's error line.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// A panic (or any other deadly signal): overflow, out-of-bounds index, failed assertion.
    Crash,
    /// One input ran past [`INPUT_TIMEOUT_SECONDS`].
    Hang,
    /// Memory past [`RSS_LIMIT_MB`], or one allocation that large.
    OutOfMemory,
    /// libFuzzer stopped on anything else (the target exited, a leak…).
    Other,
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FindingKind::Crash => "crash",
            FindingKind::Hang => "hang",
            FindingKind::OutOfMemory => "out of memory",
            FindingKind::Other => "libFuzzer error",
        })
    }
}

/// Fuzzes `target` (its binary in `bin_dir`) within `budget`.
pub fn run(
    name: &str,
    target: &LibFuzzerTarget,
    bin_dir: &Path,
    paths: &Paths,
    budget: Budget,
    extra_args: &[String],
    verbosity: Verbosity,
) -> Result<Report> {
    for dir in [&paths.corpus, &paths.artifacts] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if let Some(logs) = paths.log.parent() {
        std::fs::create_dir_all(logs)?;
    }
    let binary = bin_dir.join(target.bin);
    let mut command = Command::new(&binary);
    command
        .arg(format!("-max_total_time={}", budget.seconds))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg(format!("-max_len={}", target.max_len))
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", paths.artifacts.display()));
    if let Some(runs) = budget.runs {
        command.arg(format!("-runs={runs}"));
    }
    if let Some(dictionary) = target.dictionary_path() {
        command.arg(format!("-dict={}", dictionary.display()));
    }
    command.args(extra_args);
    // New inputs go to the first directory (the working corpus, kept between runs); the
    // committed seeds are read only.
    command.arg(&paths.corpus).arg(target.seeds());
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if verbosity == Verbosity::Progress {
        eprintln!(
            "xtask: fuzzing {name} for {} s{} (corpus {}, log {})…",
            budget.seconds,
            budget
                .runs
                .map(|runs| format!(" or {runs} runs"))
                .unwrap_or_default(),
            paths.corpus.display(),
            paths.log.display()
        );
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut log =
        File::create(&paths.log).with_context(|| format!("creating {}", paths.log.display()))?;
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line).into_owned();
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut output = Output::default();
    let mut last_progress = Instant::now();
    let deadline = Duration::from_secs(budget.seconds) + GRACE;
    let mut stopped_as_stuck = false;
    loop {
        match lines_rx.recv_timeout(Duration::from_secs(1)) {
            Ok(line) => {
                writeln!(log, "{line}")?;
                output.read(&line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if verbosity == Verbosity::Progress && last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            eprintln!(
                "xtask: fuzz {name}: {:.0} s of {} s; {}",
                started.elapsed().as_secs_f64(),
                budget.seconds,
                output.progress()
            );
        }
        if started.elapsed() > deadline && !stopped_as_stuck {
            stopped_as_stuck = true;
            eprintln!(
                "xtask: fuzz {name}: still running {} s past its time; stopping it",
                GRACE.as_secs()
            );
            let _ = child.kill();
        }
    }
    let _ = reader.join();
    let status = child.wait().context("waiting for the fuzzer")?;
    let wall = started.elapsed();
    let report = output.report(wall);
    if report.finding.is_none() && !status.success() {
        bail!(
            "{} exited with {status} without reporting a finding; see {}",
            binary.display(),
            paths.log.display()
        );
    }
    if report.finding.is_some() {
        eprintln!("xtask: fuzz {name}: libFuzzer's report:");
        for line in output.finding_lines.iter().take(60) {
            eprintln!("    {line}");
        }
    }
    Ok(report)
}

/// Runs `target` once on `input` (libFuzzer replays a file given instead of a corpus),
/// with its output on the terminal; returns whether it passed.
pub fn reproduce(target: &LibFuzzerTarget, bin_dir: &Path, input: &Path) -> Result<bool> {
    let binary = bin_dir.join(target.bin);
    let status = Command::new(&binary)
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg(input)
        .status()
        .with_context(|| format!("starting {}", binary.display()))?;
    Ok(status.success())
}

/// What has been read of libFuzzer's output so far.
#[derive(Debug, Default)]
struct Output {
    /// The latest `#N ... cov: ... corp: ... exec/s: ...` line's numbers.
    status: Option<Status>,
    /// `stat::…` lines (with `-print_final_stats=1`).
    executed_units: Option<u64>,
    average_exec_per_sec: Option<u64>,
    new_units: Option<u64>,
    finding: Option<FindingKind>,
    finding_message: Option<String>,
    reproducer: Option<PathBuf>,
    /// From the first sign of a finding on: the panic, libFuzzer's error and the stack.
    finding_lines: Vec<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Status {
    executions: u64,
    coverage: Option<u64>,
    corpus_units: Option<u64>,
    executions_per_second: Option<u64>,
}

impl Output {
    fn read(&mut self, line: &str) {
        if let Some(status) = parse_status(line) {
            self.status = Some(status);
        }
        if let Some((key, value)) = line
            .strip_prefix("stat::")
            .and_then(|rest| rest.split_once(':'))
        {
            let value = value.trim().parse().ok();
            match key {
                "number_of_executed_units" => self.executed_units = value,
                "average_exec_per_sec" => self.average_exec_per_sec = value,
                "new_units_added" => self.new_units = value,
                _ => {}
            }
        }
        let panicked = line.starts_with("thread '") && line.contains("panicked at");
        let error = line.contains("ERROR: libFuzzer: ");
        if panicked || error || !self.finding_lines.is_empty() {
            self.finding_lines.push(line.to_owned());
        }
        if panicked {
            self.finding.get_or_insert(FindingKind::Crash);
            self.finding_message.get_or_insert_with(|| line.to_owned());
        }
        // The panic's message follows its location on the next line.
        if self.finding_lines.len() == 2
            && self.finding == Some(FindingKind::Crash)
            && let Some(message) = &mut self.finding_message
            && !line.contains("ERROR: libFuzzer")
        {
            *message = format!("{}: {}", message.trim_end_matches(':'), line.trim());
        }
        if let Some((_, what)) = line.split_once("ERROR: libFuzzer: ") {
            let kind = if what.starts_with("deadly signal") {
                FindingKind::Crash
            } else if what.starts_with("timeout") {
                FindingKind::Hang
            } else if what.starts_with("out-of-memory") || what.starts_with("malloc") {
                FindingKind::OutOfMemory
            } else {
                FindingKind::Other
            };
            self.finding.get_or_insert(kind);
            self.finding_message
                .get_or_insert_with(|| format!("libFuzzer: {what}"));
        }
        if let Some((_, path)) = line.split_once("Test unit written to ") {
            self.reproducer = Some(PathBuf::from(path.trim()));
        }
    }

    fn progress(&self) -> String {
        match self.status {
            None => "starting (loading the corpus)".to_owned(),
            Some(status) => {
                let mut text = format!("{} executions", status.executions);
                if let Some(rate) = status.executions_per_second {
                    text.push_str(&format!(", {rate} exec/s"));
                }
                if let Some(coverage) = status.coverage {
                    text.push_str(&format!(", coverage {coverage}"));
                }
                if let Some(units) = status.corpus_units {
                    text.push_str(&format!(", corpus {units}"));
                }
                text.push_str(" (at libFuzzer's last report)");
                text
            }
        }
    }

    fn report(&self, wall: Duration) -> Report {
        let status = self.status.unwrap_or_default();
        let executions = self.executed_units.unwrap_or(status.executions);
        Report {
            executions,
            executions_per_second: self
                .average_exec_per_sec
                .unwrap_or_else(|| (executions as f64 / wall.as_secs_f64().max(1e-3)) as u64),
            wall,
            coverage: status.coverage,
            corpus_units: status.corpus_units,
            new_units: self.new_units,
            finding: self.finding.map(|kind| Finding {
                kind,
                reproducer: self.reproducer.clone(),
                message: self.finding_message.clone().unwrap_or_default(),
            }),
        }
    }
}

/// `#4232521 DONE   cov: 39 ft: 145 corp: 104/3042b lim: 4096 exec/s: 705420 rss: 27Mb`
fn parse_status(line: &str) -> Option<Status> {
    let rest = line.strip_prefix('#')?;
    let (count, rest) = rest.split_once(|c: char| c.is_ascii_whitespace())?;
    let executions = count.parse().ok()?;
    let mut words = rest.split_ascii_whitespace();
    let mut status = Status {
        executions,
        ..Status::default()
    };
    while let Some(word) = words.next() {
        let value = || -> Option<u64> {
            let next = words.clone().next()?;
            next.split('/').next()?.parse().ok()
        };
        match word {
            "cov:" => status.coverage = value(),
            "corp:" => status.corpus_units = value(),
            "exec/s:" => status.executions_per_second = value(),
            _ => {}
        }
    }
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status(
                "#4232521\tDONE   cov: 39 ft: 145 corp: 104/3042b lim: 4096 exec/s: 705420 rss: 27Mb"
            ),
            Some(Status {
                executions: 4_232_521,
                coverage: Some(39),
                corpus_units: Some(104),
                executions_per_second: Some(705_420),
            })
        );
        assert_eq!(
            parse_status("#2\tINITED exec/s: 0 rss: 26Mb"),
            Some(Status {
                executions: 2,
                executions_per_second: Some(0),
                ..Status::default()
            })
        );
        assert_eq!(parse_status("INFO: Seed: 1234"), None);
        assert_eq!(parse_status("#include"), None);
    }

    #[test]
    fn clean_run_report() {
        let mut output = Output::default();
        for line in [
            "INFO: Seed: 42",
            "#65536\tpulse  cov: 10 ft: 20 corp: 5/50b lim: 4 exec/s: 32768 rss: 30Mb",
            "Done 70000 runs in 2 second(s)",
            "stat::number_of_executed_units: 70000",
            "stat::average_exec_per_sec:     35000",
            "stat::new_units_added:          3",
        ] {
            output.read(line);
        }
        let report = output.report(Duration::from_secs(2));
        assert_eq!(report.executions, 70_000);
        assert_eq!(report.executions_per_second, 35_000);
        assert_eq!(report.coverage, Some(10));
        assert_eq!(report.new_units, Some(3));
        assert_eq!(report.finding, None);
    }

    #[test]
    fn panic_is_a_crash_with_its_reproducer() {
        let mut output = Output::default();
        for line in [
            "#100\tNEW    cov: 10 ft: 20 corp: 5/50b lim: 4 exec/s: 0 rss: 30Mb",
            "thread '<unnamed>' panicked at kernel/src/exec/elf.rs:150:12:",
            "attempt to add with overflow",
            "==77== ERROR: libFuzzer: deadly signal",
            "artifact_prefix='/t/artifacts/elf/'; Test unit written to /t/artifacts/elf/crash-abc",
            "stat::number_of_executed_units: 101",
        ] {
            output.read(line);
        }
        let report = output.report(Duration::from_secs(1));
        let finding = report.finding.unwrap();
        assert_eq!(finding.kind, FindingKind::Crash);
        assert_eq!(
            finding.reproducer.as_deref(),
            Some(Path::new("/t/artifacts/elf/crash-abc"))
        );
        assert_eq!(
            finding.message,
            "thread '<unnamed>' panicked at kernel/src/exec/elf.rs:150:12: attempt to add with overflow"
        );
        assert_eq!(report.executions, 101);
    }

    #[test]
    fn timeouts_and_memory() {
        let mut output = Output::default();
        output.read("==5== ERROR: libFuzzer: timeout after 10 seconds");
        assert_eq!(
            output.report(Duration::ZERO).finding.unwrap().kind,
            FindingKind::Hang
        );
        let mut output = Output::default();
        output.read("==5== ERROR: libFuzzer: out-of-memory (malloc(4294967296))");
        assert_eq!(
            output.report(Duration::ZERO).finding.unwrap().kind,
            FindingKind::OutOfMemory
        );
    }
}
