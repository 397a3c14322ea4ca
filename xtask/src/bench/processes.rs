//! `cargo xtask bench processes`: what a process costs in our sandbox and under a Linux guest
//! on the same QEMU machine and accelerator, measured by the same static program
//! (`process-bench` from `xtask/guest-tests`): `fork`+`_exit`+`waitpid`,
//! `fork`+`execve /bin/busybox true`+`waitpid`, a 1-byte round trip over two pipes between
//! two processes, and pipe throughput in 64 KiB writes.
//!
//! Ours: a bundle whose init *is* `process-bench`; its root (9p `rootfs`, the default memory
//! overlay on top) holds the program and the host's static `/bin/busybox`. Linux: the
//! program runs from a busybox initramfs (the same busybox at `/bin/busybox`).
//!
//! Without `pipe2` (a kernel before pipes) the program reports each pipe case as
//! `unavailable=pipe2:ENOSYS`, shown as "n/a (pipe2: ENOSYS)": the benchmark works before
//! and after pipes land. The table judges the aims against the Linux figures of the
//! same run: each time at most half of Linux's, the throughput at least twice Linux's.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::linux_guest::{self, InitramfsContents, LinuxGuest};
use super::report::{self, Bar, Stats, Table};
use crate::bundle;
use crate::cargo::{self, Profile};
use crate::cli::CompareBenchArgs;
use crate::guest;
use crate::host;
use crate::qemu::{self, Accel, Machine, MemorySize};
use crate::setup;

const MEMORY: MemorySize = MemorySize::from_mib(256);
const TIMEOUT: Duration = Duration::from_secs(300);
/// Wall time per measurement inside the guest (the program also caps the iterations).
const BUDGET_MS: u32 = 1000;
const PROGRAM: &str = "/sbin/process-bench";
const EXEC_PATH: &str = "/bin/busybox";
const EXEC_ARG0: &str = "true";

/// Which way is better, and the aim for ours / Linux.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Aim {
    /// A time: ours / Linux at most this.
    AtMost(f64),
    /// A throughput: ours / Linux at least this.
    AtLeast(f64),
}

impl Aim {
    fn describe(self) -> String {
        match self {
            Aim::AtMost(ratio) => format!("≤ {ratio} × Linux"),
            Aim::AtLeast(ratio) => format!("≥ {ratio} × Linux"),
        }
    }

    fn met_by(self, ratio: f64) -> bool {
        match self {
            Aim::AtMost(aim) => ratio <= aim,
            Aim::AtLeast(aim) => ratio >= aim,
        }
    }
}

pub(super) struct Case {
    pub(super) label: &'static str,
    /// The key of the program's `bench` line (its name, plus `path=` when it has one).
    pub(super) key: String,
    pub(super) unit: &'static str,
    /// The program's figure (`ns=`, or `mib_per_s=` for throughput) in `unit`.
    pub(super) scale: f64,
    pub(super) aim: Aim,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            label: "fork + _exit + waitpid",
            key: "fork-exit-wait".into(),
            unit: "µs",
            scale: 1e-3,
            aim: Aim::AtMost(0.5),
        },
        Case {
            label: "fork + execve busybox true + waitpid",
            key: format!("fork-exec-wait path={EXEC_PATH}"),
            unit: "ms",
            scale: 1e-6,
            aim: Aim::AtMost(0.5),
        },
        Case {
            label: "pipe round trip, 1 byte, two processes",
            key: "pipe-round-trip".into(),
            unit: "µs",
            scale: 1e-3,
            aim: Aim::AtMost(0.5),
        },
        Case {
            label: "pipe throughput, 64 KiB writes",
            key: "pipe-throughput".into(),
            unit: "MiB/s",
            scale: 1.0,
            aim: Aim::AtLeast(2.0),
        },
    ]
}

fn program_args() -> Vec<String> {
    [
        PROGRAM,
        "--budget-ms",
        &BUDGET_MS.to_string(),
        "--exec",
        EXEC_PATH,
        EXEC_ARG0,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// One figure of one boot, as the program printed it.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// `ns=` (a time per operation), or `mib_per_s=` when the line has one.
    Value(f64),
    /// `unavailable=WHY`, e.g. `pipe2:ENOSYS`.
    Unavailable(String),
}

/// The `bench …` lines of `process-bench` as (key, figure): the key is the line's name and
/// any `path=` field (`fork-exec-wait path=/bin/busybox`). A line with `error=` fails.
pub fn parse_bench_lines(console: &str) -> Result<Vec<(String, Figure)>> {
    let mut figures = Vec::new();
    for line in console
        .lines()
        .filter_map(|line| line.trim().strip_prefix("bench "))
    {
        if line.contains("error=") {
            bail!("process-bench: {line}");
        }
        let mut tokens = line.split_whitespace();
        let Some(name) = tokens.next() else { continue };
        let mut key = name.to_owned();
        let (mut ns, mut mib_per_s, mut unavailable) = (None, None, None);
        for token in tokens {
            let Some((field, value)) = token.split_once('=') else {
                continue;
            };
            let number = || {
                value
                    .parse::<f64>()
                    .with_context(|| format!("bad {field}= in `{line}`"))
            };
            match field {
                "path" => key.push_str(&format!(" {token}")),
                "ns" => ns = Some(number()?),
                "mib_per_s" => mib_per_s = Some(number()?),
                "unavailable" => unavailable = Some(value.to_owned()),
                _ => {}
            }
        }
        let figure = match (unavailable, mib_per_s.or(ns)) {
            (Some(why), _) => Figure::Unavailable(why),
            (None, Some(value)) => Figure::Value(value),
            (None, None) => continue,
        };
        figures.push((key, figure));
    }
    Ok(figures)
}

/// One side's figure over the boots.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell {
    Measured(Stats),
    Unavailable(String),
    /// No boot reported it (or the side was not run).
    Missing,
}

impl Cell {
    /// From every boot's lines: the measured values (scaled) when any boot measured it,
    /// else the first reason it was unavailable.
    pub(super) fn of(runs: &[Vec<(String, Figure)>], case: &Case) -> Cell {
        let figures: Vec<&Figure> = runs
            .iter()
            .filter_map(|lines| lines.iter().find(|(key, _)| *key == case.key))
            .map(|(_, figure)| figure)
            .collect();
        let values: Vec<f64> = figures
            .iter()
            .filter_map(|figure| match figure {
                Figure::Value(value) => Some(value * case.scale),
                Figure::Unavailable(_) => None,
            })
            .collect();
        if let Some(stats) = Stats::of(&values) {
            return Cell::Measured(stats);
        }
        figures
            .iter()
            .find_map(|figure| match figure {
                Figure::Unavailable(why) => Some(Cell::Unavailable(why.clone())),
                Figure::Value(_) => None,
            })
            .unwrap_or(Cell::Missing)
    }

    pub(super) fn describe(&self, unit: &str) -> String {
        match self {
            Cell::Measured(stats) => stats.describe(unit),
            Cell::Unavailable(why) => format!("n/a ({})", why.replacen(':', ": ", 1)),
            Cell::Missing => "—".to_owned(),
        }
    }

    pub(super) fn stats(&self) -> Option<Stats> {
        match self {
            Cell::Measured(stats) => Some(*stats),
            _ => None,
        }
    }
}

/// Whether the aim is met, from this run's medians only.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    Met,
    NotMet,
    /// Ours has no figure (e.g. no pipes yet): not met.
    OursMissing,
    /// No Linux figure to judge against.
    NotJudged,
}

impl Verdict {
    fn of(aim: Aim, ours: &Cell, linux: &Cell) -> Verdict {
        match (ours.stats(), linux.stats()) {
            (_, None) => Verdict::NotJudged,
            (None, Some(_)) => Verdict::OursMissing,
            (Some(ours), Some(linux)) if linux.median > 0.0 => {
                if aim.met_by(ours.median / linux.median) {
                    Verdict::Met
                } else {
                    Verdict::NotMet
                }
            }
            (Some(_), Some(_)) => Verdict::NotJudged,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Verdict::Met => "yes",
            Verdict::NotMet => "no",
            Verdict::OursMissing => "no (ours n/a)",
            Verdict::NotJudged => "not judged (no Linux figure)",
        }
    }
}

pub(super) struct Row {
    pub(super) machine: Machine,
    pub(super) case: Case,
    pub(super) ours: Cell,
    pub(super) linux: Cell,
}

impl Row {
    fn ratio(&self) -> String {
        match (self.ours.stats(), self.linux.stats()) {
            (Some(ours), Some(linux)) if linux.median > 0.0 => {
                format!("{:.2}", ours.median / linux.median)
            }
            _ => "—".to_owned(),
        }
    }

    fn verdict(&self) -> Verdict {
        Verdict::of(self.case.aim, &self.ours, &self.linux)
    }
}

pub(super) fn table(rows: &[Row]) -> Table {
    Table {
        columns: [
            "machine",
            "operation",
            "ours",
            "Linux guest",
            "ours / Linux",
            "aim",
            "aim met",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: rows
            .iter()
            .map(|row| {
                vec![
                    row.machine.to_string(),
                    row.case.label.to_owned(),
                    row.ours.describe(row.case.unit),
                    row.linux.describe(row.case.unit),
                    row.ratio(),
                    row.case.aim.describe(),
                    row.verdict().describe().to_owned(),
                ]
            })
            .collect(),
    }
}

/// One sentence per machine: which aims this run's figures meet.
pub(super) fn aims_summary(rows: &[Row]) -> String {
    let mut machines: Vec<Machine> = Vec::new();
    for row in rows {
        if !machines.contains(&row.machine) {
            machines.push(row.machine);
        }
    }
    machines
        .iter()
        .map(|machine| {
            let of_machine: Vec<&Row> = rows.iter().filter(|row| row.machine == *machine).collect();
            let labels = |wanted: fn(Verdict) -> bool| {
                let labels: Vec<&str> = of_machine
                    .iter()
                    .filter(|row| wanted(row.verdict()))
                    .map(|row| row.case.label)
                    .collect();
                if labels.is_empty() {
                    "none".to_owned()
                } else {
                    labels.join("; ")
                }
            };
            let met = of_machine
                .iter()
                .filter(|row| row.verdict() == Verdict::Met)
                .count();
            format!(
                "- {machine}: {met} of {} aims met. Met: {}. Not met: {}. Not judged (no Linux figure): {}.",
                of_machine.len(),
                labels(|verdict| verdict == Verdict::Met),
                labels(|verdict| matches!(verdict, Verdict::NotMet | Verdict::OursMissing)),
                labels(|verdict| verdict == Verdict::NotJudged),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A figure as µs per operation for the chart: times as they are, throughput as the time
/// one 64 KiB write takes (62500 / MiB/s), which swaps its min and max.
pub(super) fn chart_micros(case: &Case, stats: Stats) -> Stats {
    match (case.aim, case.unit) {
        (Aim::AtLeast(_), _) => {
            let per_chunk = |mib_per_s: f64| 1e6 / 16.0 / mib_per_s;
            Stats {
                median: per_chunk(stats.median),
                min: per_chunk(stats.max),
                max: per_chunk(stats.min),
            }
        }
        (_, "ms") => Stats {
            median: stats.median * 1e3,
            min: stats.min * 1e3,
            max: stats.max * 1e3,
        },
        _ => stats,
    }
}

fn chart_bars(rows: &[Row]) -> Vec<Bar> {
    let mut bars = Vec::new();
    for row in rows {
        let label = match row.case.aim {
            Aim::AtLeast(_) => "pipe, per 64 KiB write",
            Aim::AtMost(_) => row.case.label.split(',').next().unwrap_or(row.case.label),
        };
        for (side, cell) in [("ours", &row.ours), ("Linux", &row.linux)] {
            if let Some(stats) = cell.stats() {
                bars.push(Bar {
                    label: format!("{} {label}: {side}", row.machine),
                    stats: chart_micros(&row.case, stats),
                });
            }
        }
    }
    bars
}

fn summary(lines: &[(String, Figure)]) -> String {
    lines
        .iter()
        .map(|(key, figure)| match figure {
            Figure::Value(value) if key == "pipe-throughput" => format!("{key} {value:.1} MiB/s"),
            Figure::Value(value) => format!("{key} {:.1} µs", value / 1e3),
            Figure::Unavailable(why) => format!("{key} unavailable ({why})"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn bench(args: CompareBenchArgs) -> Result<()> {
    setup::for_bench()?;
    let target = cargo::target_dir()?;
    let programs = guest::build_test_programs(&target)?;
    let kernel = cargo::build_kernel(Profile::Release)?;
    let accel = qemu::choose_accel(args.accel.accel);
    let machines = super::chosen_machines(&args.machine);
    let work = target.join("bench").join("processes-work");
    let ours_bundle = write_bundle(&work, &programs.process_bench)?;
    let linux = super::optional_linux(args.no_linux, || {
        super::linux_with_initramfs(&target, &work, &linux_contents(&programs.process_bench))
    });

    let mut rows = Vec::new();
    for machine in machines {
        let ours = super::sample_runs(
            &format!("processes {machine} ours"),
            args.runs,
            |_| run_ours(&kernel, &ours_bundle, machine, accel),
            |lines| summary(lines),
        )?;
        let theirs = match &linux {
            Some((guest, initramfs)) => super::sample_runs(
                &format!("processes {machine} linux"),
                args.runs,
                |_| run_linux(guest, initramfs, machine, accel),
                |lines| summary(lines),
            )?,
            None => Vec::new(),
        };
        for case in cases() {
            rows.push(Row {
                machine,
                ours: Cell::of(&ours, &case),
                linux: Cell::of(&theirs, &case),
                case,
            });
        }
    }
    let _ = std::fs::remove_dir_all(&work);

    let title = format!(
        "Process cost, accel {accel}, {} boots per figure: median (min–max)",
        args.runs
    );
    let table = table(&rows);
    let aims = aims_summary(&rows);
    println!(
        "\n{title}\n\n{}\nAims (this run's medians):\n{aims}",
        table.markdown()
    );
    let linux_note = match &linux {
        Some((guest, _)) => format!(
            "Linux is Debian's `{}` (PVH `vmlinux`, busybox initramfs holding the program and \
             `/bin/busybox`, kernel command line `{}`), on the same machine, accelerator and \
             memory ({MEMORY}), 1 vCPU; on microvm it keeps the RTC (`rtc=on`): without one \
             Linux spends seconds probing for it.",
            guest.package,
            linux_guest::cmdline(accel, host::tsc_khz(&host::cpuinfo()))
        ),
        None => "The Linux guest was unavailable (see the run's stderr): our figures alone, \
                 and no aim is judged."
            .to_owned(),
    };
    let markdown = format!(
        "# {title}\n\n{}\n\
         Aims (the issue's: each time at most half of Linux's, the throughput at least twice \
         Linux's), judged from this run's medians only:\n\n{aims}\n\n\
         Each boot runs `{}` once, as our container's init and from the Linux guest's `/init`. \
         A time is the mean over as many operations as fit in {BUDGET_MS} ms (after one \
         warm-up, capped at 20000 forks, 2000 execs, 200000 round trips); the throughput \
         counts the bytes a child read from 64 KiB writes over {BUDGET_MS} ms, the clock \
         stopping when it answers with its count. The table gives the median, min and max of \
         those figures over the boots. Ours runs busybox from the 9p root (memory overlay); \
         Linux from its initramfs. \"n/a (pipe2: ENOSYS)\": the kernel has no `pipe2` yet. \
         {linux_note} The chart puts every figure in µs per operation (the throughput as the \
         time of one 64 KiB write, 62500 / MiB/s). The machine is shared with other builds, \
         so figures are noisy: read the medians.\n",
        table.markdown(),
        program_args().join(" ")
    );
    let dir = target.join("bench");
    report::write(&dir.join("processes.md"), &markdown)?;
    report::write(
        &dir.join("processes.svg"),
        &report::svg_log_bar_chart(&title, "µs", &chart_bars(&rows)),
    )?;
    eprintln!(
        "xtask: wrote {} and processes.svg",
        dir.join("processes.md").display()
    );
    Ok(())
}

/// The bundle: `rootfs/` with the program as `/sbin/process-bench`, the host's static
/// busybox as `/bin/busybox` (what the exec case runs), and the usual mount points.
fn write_bundle(work: &Path, program: &Path) -> Result<bundle::Bundle> {
    if work.exists() {
        std::fs::remove_dir_all(work).with_context(|| format!("clearing {}", work.display()))?;
    }
    let rootfs = work.join("rootfs");
    for dir in ["dev", "proc", "sys", "etc", "sbin", "bin", "tmp"] {
        std::fs::create_dir_all(rootfs.join(dir)).with_context(|| format!("creating {dir}"))?;
    }
    std::fs::copy(program, rootfs.join("sbin/process-bench"))
        .with_context(|| format!("copying {}", program.display()))?;
    std::fs::copy(setup::BUSYBOX, rootfs.join("bin/busybox"))
        .with_context(|| format!("copying {}", setup::BUSYBOX))?;
    let spec = json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": program_args(), "env": ["PATH=/sbin:/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "mounts": []
    });
    super::load_bench_bundle(work, &spec)
}

fn run_ours(
    kernel: &Path,
    bundle: &bundle::Bundle,
    machine: Machine,
    accel: Accel,
) -> Result<Vec<(String, Figure)>> {
    let (outcome, context) = super::boot_bundle(kernel, bundle, (machine, accel, MEMORY), TIMEOUT)?;
    parse_bench_lines(&outcome.console).context(context)
}

fn linux_contents(program: &Path) -> InitramfsContents {
    InitramfsContents {
        programs: vec![(PROGRAM.to_owned(), program.to_owned())],
        commands: vec![program_args().join(" ")],
        ..InitramfsContents::default()
    }
}

fn run_linux(
    guest: &LinuxGuest,
    initramfs: &Path,
    machine: Machine,
    accel: Accel,
) -> Result<Vec<(String, Figure)>> {
    let invocation = linux_guest::invocation(guest, machine, accel, MEMORY, initramfs, Vec::new());
    let run = linux_guest::boot(&invocation, TIMEOUT)?;
    parse_bench_lines(&run.console)
        .with_context(|| format!("Linux guest on {machine}:\n{}", run.console))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_lines_parse_and_errors_fail() {
        let console = "noise\n\
            bench fork-exit-wait ns=812345 iterations=1200\r\n\
            bench fork-exec-wait path=/bin/busybox ns=3100000 iterations=300\n\
            bench pipe-round-trip unavailable=pipe2:ENOSYS\n\
            bench pipe-throughput bytes=123731968 ns=1000000000 mib_per_s=118.0\n\
            bench\n";
        assert_eq!(
            parse_bench_lines(console).unwrap(),
            [
                ("fork-exit-wait".to_owned(), Figure::Value(812345.0)),
                (
                    "fork-exec-wait path=/bin/busybox".to_owned(),
                    Figure::Value(3_100_000.0)
                ),
                (
                    "pipe-round-trip".to_owned(),
                    Figure::Unavailable("pipe2:ENOSYS".into())
                ),
                ("pipe-throughput".to_owned(), Figure::Value(118.0)),
            ]
        );
        assert!(parse_bench_lines("bench fork-exit-wait error=fork: EAGAIN\n").is_err());
        assert!(parse_bench_lines("bench fork-exit-wait ns=fast\n").is_err());
    }

    #[test]
    fn every_case_key_is_what_the_program_prints() {
        let keys: Vec<String> = cases().into_iter().map(|case| case.key).collect();
        assert_eq!(
            keys,
            [
                "fork-exit-wait",
                "fork-exec-wait path=/bin/busybox",
                "pipe-round-trip",
                "pipe-throughput"
            ]
        );
        assert!(
            program_args()
                .join(" ")
                .contains("--exec /bin/busybox true")
        );
    }

    fn stats(median: f64) -> Stats {
        Stats {
            median,
            min: median,
            max: median,
        }
    }

    #[test]
    fn cells_scale_and_keep_unavailability() {
        let case = &cases()[0];
        let runs = vec![
            vec![("fork-exit-wait".to_owned(), Figure::Value(400_000.0))],
            vec![("fork-exit-wait".to_owned(), Figure::Value(600_000.0))],
        ];
        assert_eq!(
            Cell::of(&runs, case),
            Cell::Measured(Stats {
                median: 500.0,
                min: 400.0,
                max: 600.0
            })
        );
        let pipe = &cases()[2];
        let runs = vec![vec![(
            "pipe-round-trip".to_owned(),
            Figure::Unavailable("pipe2:ENOSYS".into()),
        )]];
        let cell = Cell::of(&runs, pipe);
        assert_eq!(cell.describe("µs"), "n/a (pipe2: ENOSYS)");
        assert_eq!(Cell::of(&[], pipe), Cell::Missing);
    }

    #[test]
    fn aims_are_judged_from_medians() {
        let time = Aim::AtMost(0.5);
        let rate = Aim::AtLeast(2.0);
        let m = |value| Cell::Measured(stats(value));
        assert_eq!(Verdict::of(time, &m(395.0), &m(791.0)), Verdict::Met);
        assert_eq!(Verdict::of(time, &m(396.0), &m(791.0)), Verdict::NotMet);
        assert_eq!(Verdict::of(rate, &m(228.0), &m(114.0)), Verdict::Met);
        assert_eq!(Verdict::of(rate, &m(227.0), &m(114.0)), Verdict::NotMet);
        let na = Cell::Unavailable("pipe2:ENOSYS".into());
        assert_eq!(Verdict::of(time, &na, &m(84.6)), Verdict::OursMissing);
        assert_eq!(
            Verdict::of(time, &m(1.0), &Cell::Missing),
            Verdict::NotJudged
        );
    }

    #[test]
    fn summary_names_met_and_unmet_aims() {
        let machine = Machine::ALL[0];
        let mut cases = cases().into_iter();
        let m = |value| Cell::Measured(stats(value));
        let rows = vec![
            Row {
                machine,
                case: cases.next().unwrap(),
                ours: m(100.0),
                linux: m(791.0),
            },
            Row {
                machine,
                case: cases.next().unwrap(),
                ours: m(3.0),
                linux: m(3.24),
            },
            Row {
                machine,
                case: cases.next().unwrap(),
                ours: Cell::Unavailable("pipe2:ENOSYS".into()),
                linux: m(84.6),
            },
        ];
        let summary = aims_summary(&rows);
        assert!(summary.contains("1 of 3 aims met"), "{summary}");
        assert!(
            summary.contains("Met: fork + _exit + waitpid."),
            "{summary}"
        );
        assert!(
            summary.contains("Not met: fork + execve busybox true + waitpid; pipe round trip"),
            "{summary}"
        );
        assert_eq!(rows[0].ratio(), "0.13");
        assert_eq!(rows[2].ratio(), "—");
    }

    #[test]
    fn chart_gives_throughput_as_time_per_write() {
        let throughput = &cases()[3];
        let chart = chart_micros(
            throughput,
            Stats {
                median: 125.0,
                min: 100.0,
                max: 250.0,
            },
        );
        assert_eq!(chart.median, 500.0);
        assert_eq!((chart.min, chart.max), (250.0, 625.0));
        let exec = &cases()[1];
        assert_eq!(chart_micros(exec, stats(3.0)).median, 3000.0);
    }
}
