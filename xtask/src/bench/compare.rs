//! The driver of the benchmarks that run one static program in our sandbox and in the Linux
//! guest and print its `bench NAME … ns=…` lines (`processes`, `threads`, `images`): the
//! boots of each side on each machine, the program's lines parsed into figures, one row
//! per case with both sides' median (min–max) over the boots and their ratio, an optional
//! aim per case judged from this run's medians, the table and the chart's bars.
//!
//! A case whose call or program one kernel lacks is printed by the program as
//! `unavailable=WHY` and shows as "n/a (WHY)", so a benchmark runs before and after the
//! kernel has what it measures.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::linux_guest::{self, InitramfsContents, LinuxGuest};
use super::report::{Bar, Stats, Table};
use crate::bundle::Bundle;
use crate::qemu::{Accel, Machine, MemorySize, Share};

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
    /// What the issue asks of ours / Linux, when it asks anything.
    pub(super) aim: Option<Aim>,
}

impl Case {
    /// A time per operation in µs (the program prints ns), aiming at `aim`.
    pub(super) fn micros(label: &'static str, key: &str, aim: Option<Aim>) -> Case {
        Case {
            label,
            key: key.to_owned(),
            unit: "µs",
            scale: 1e-3,
            aim,
        }
    }

    fn is_throughput(&self) -> bool {
        matches!(self.aim, Some(Aim::AtLeast(_)))
    }
}

/// One figure of one boot, as the program printed it.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// `ns=` (a time per operation), or `mib_per_s=` when the line has one.
    Value(f64),
    /// `unavailable=WHY`, e.g. `pipe2:ENOSYS`.
    Unavailable(String),
}

/// One boot's `bench` lines as (key, figure).
pub(super) type Lines = Vec<(String, Figure)>;

/// The `bench …` lines of a benchmark program as (key, figure): the key is the line's name
/// and any `path=` field (`fork-exec-wait path=/bin/busybox`). A line with `error=` fails.
pub fn parse_bench_lines(console: &str) -> Result<Lines> {
    let mut figures = Vec::new();
    for line in console
        .lines()
        .filter_map(|line| line.trim().strip_prefix("bench "))
    {
        if line.contains("error=") {
            bail!("benchmark program: {line}");
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
    pub(super) fn of(runs: &[Lines], case: &Case) -> Cell {
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
pub(super) enum Verdict {
    Met,
    NotMet,
    /// Ours has no figure (e.g. no pipes yet): not met.
    OursMissing,
    /// No Linux figure to judge against.
    NotJudged,
}

impl Verdict {
    pub(super) fn of(aim: Aim, ours: &Cell, linux: &Cell) -> Verdict {
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
    pub(super) fn ratio(&self) -> String {
        match (self.ours.stats(), self.linux.stats()) {
            (Some(ours), Some(linux)) if linux.median > 0.0 => {
                format!("{:.2}", ours.median / linux.median)
            }
            _ => "—".to_owned(),
        }
    }

    /// `None` for a case with no aim.
    pub(super) fn verdict(&self) -> Option<Verdict> {
        self.case
            .aim
            .map(|aim| Verdict::of(aim, &self.ours, &self.linux))
    }
}

/// Machine, operation, both sides, the ratio; the aim and whether it is met when any case
/// has one.
pub(super) fn table(rows: &[Row]) -> Table {
    let with_aims = rows.iter().any(|row| row.case.aim.is_some());
    let mut columns = vec![
        "machine",
        "operation",
        "ours",
        "Linux guest",
        "ours / Linux",
    ];
    if with_aims {
        columns.extend(["aim", "aim met"]);
    }
    Table {
        columns: columns.into_iter().map(str::to_owned).collect(),
        rows: rows
            .iter()
            .map(|row| {
                let mut cells = vec![
                    row.machine.to_string(),
                    row.case.label.to_owned(),
                    row.ours.describe(row.case.unit),
                    row.linux.describe(row.case.unit),
                    row.ratio(),
                ];
                if with_aims {
                    cells.push(row.case.aim.map_or("—".to_owned(), Aim::describe));
                    cells.push(row.verdict().map_or("—", Verdict::describe).to_owned());
                }
                cells
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
            let of_machine: Vec<(&Row, Verdict)> = rows
                .iter()
                .filter(|row| row.machine == *machine)
                .filter_map(|row| row.verdict().map(|verdict| (row, verdict)))
                .collect();
            let labels = |wanted: fn(Verdict) -> bool| {
                let labels: Vec<&str> = of_machine
                    .iter()
                    .filter(|(_, verdict)| wanted(*verdict))
                    .map(|(row, _)| row.case.label)
                    .collect();
                if labels.is_empty() {
                    "none".to_owned()
                } else {
                    labels.join("; ")
                }
            };
            let met = of_machine
                .iter()
                .filter(|(_, verdict)| *verdict == Verdict::Met)
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
    let scale = |value: f64| match case.unit {
        "ms" => value * 1e3,
        "s" => value * 1e6,
        _ => value,
    };
    if case.is_throughput() {
        let per_chunk = |mib_per_s: f64| 1e6 / 16.0 / mib_per_s;
        return Stats {
            median: per_chunk(stats.median),
            min: per_chunk(stats.max),
            max: per_chunk(stats.min),
        };
    }
    Stats {
        median: scale(stats.median),
        min: scale(stats.min),
        max: scale(stats.max),
    }
}

/// Both sides' bars per row, in µs; a throughput case is labelled `throughput_label`, a
/// time by its label up to the first comma.
pub(super) fn chart_bars(rows: &[Row], throughput_label: &str) -> Vec<Bar> {
    let mut bars = Vec::new();
    for row in rows {
        let label = if row.case.is_throughput() {
            throughput_label
        } else {
            row.case.label.split(',').next().unwrap_or(row.case.label)
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

/// One boot's lines in a progress line: µs per operation, MiB/s for `throughput_key`.
pub(super) fn summary(lines: &Lines, throughput_key: Option<&str>) -> String {
    lines
        .iter()
        .map(|(key, figure)| match figure {
            Figure::Value(value) if Some(key.as_str()) == throughput_key => {
                format!("{key} {value:.1} MiB/s")
            }
            Figure::Value(value) => format!("{key} {:.1} µs", value / 1e3),
            Figure::Unavailable(why) => format!("{key} unavailable ({why})"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The two sides of a comparison: how one boot of each runs, returning its lines.
pub(super) struct Sides<Ours, Linux> {
    /// What progress lines call the benchmark (`processes`).
    pub(super) name: &'static str,
    pub(super) runs: u32,
    pub(super) ours: Ours,
    /// `None` with `--no-linux` or no Linux guest to be had.
    pub(super) linux: Option<Linux>,
    pub(super) throughput_key: Option<&'static str>,
}

/// Every machine: `runs` boots of ours, then of Linux, each announced as it lands; one row
/// per case with both sides' cells.
pub(super) fn measure<Ours, Linux>(
    machines: &[Machine],
    cases: impl Fn() -> Vec<Case>,
    mut sides: Sides<Ours, Linux>,
) -> Result<Vec<Row>>
where
    Ours: FnMut(Machine) -> Result<Lines>,
    Linux: FnMut(Machine) -> Result<Lines>,
{
    let mut rows = Vec::new();
    let name = sides.name;
    let key = sides.throughput_key;
    for &machine in machines {
        let ours = super::sample_runs(
            &format!("{name} {machine} ours"),
            sides.runs,
            |_| (sides.ours)(machine),
            |lines| summary(lines, key),
        )?;
        let theirs = match sides.linux.as_mut() {
            Some(linux) => super::sample_runs(
                &format!("{name} {machine} linux"),
                sides.runs,
                |_| linux(machine),
                |lines| summary(lines, key),
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
    Ok(rows)
}

/// A boot of our sandbox with `bundle`; its `bench` lines.
pub(super) fn run_ours(
    kernel: &Path,
    bundle: &Bundle,
    (machine, accel, memory): (Machine, Accel, MemorySize),
    timeout: Duration,
) -> Result<Lines> {
    run_ours_with_cpus(kernel, bundle, (machine, accel, memory), 1, timeout)
}

/// [`run_ours`] with `cpus` vCPUs.
pub(super) fn run_ours_with_cpus(
    kernel: &Path,
    bundle: &Bundle,
    machine: (Machine, Accel, MemorySize),
    cpus: u32,
    timeout: Duration,
) -> Result<Lines> {
    let (outcome, context) = super::boot_bundle_with_cpus(kernel, bundle, machine, cpus, timeout)?;
    parse_bench_lines(&outcome.console).context(context)
}

/// A boot of the Linux guest with `initramfs` and `cpus` vCPUs; its `bench` lines.
pub(super) fn run_linux_with_cpus(
    guest: &LinuxGuest,
    initramfs: &Path,
    (machine, accel, memory): (Machine, Accel, MemorySize),
    cpus: u32,
    timeout: Duration,
) -> Result<Lines> {
    let mut invocation =
        linux_guest::invocation(guest, machine, accel, memory, initramfs, Vec::new());
    invocation.cpus = cpus;
    let run = linux_guest::boot(&invocation, timeout)?;
    parse_bench_lines(&run.console)
        .with_context(|| format!("Linux guest on {machine}:\n{}", run.console))
}

/// A boot of the Linux guest with `initramfs` and `shares`; its `bench` lines.
pub(super) fn run_linux(
    guest: &LinuxGuest,
    initramfs: &Path,
    shares: &[Share],
    (machine, accel, memory): (Machine, Accel, MemorySize),
    timeout: Duration,
) -> Result<Lines> {
    let invocation =
        linux_guest::invocation(guest, machine, accel, memory, initramfs, shares.to_vec());
    let run = linux_guest::boot(&invocation, timeout)?;
    parse_bench_lines(&run.console)
        .with_context(|| format!("Linux guest on {machine}:\n{}", run.console))
}

/// A bundle in a fresh `work` whose root holds the usual mount points and `files` (host
/// file, path in the guest), running `args` as root: what a benchmark program runs in.
pub(super) fn program_bundle(
    work: &Path,
    files: &[(&Path, &str)],
    args: &[String],
) -> Result<Bundle> {
    if work.exists() {
        std::fs::remove_dir_all(work).with_context(|| format!("clearing {}", work.display()))?;
    }
    let rootfs = work.join("rootfs");
    for dir in ["dev", "proc", "sys", "etc", "sbin", "tmp"] {
        std::fs::create_dir_all(rootfs.join(dir)).with_context(|| format!("creating {dir}"))?;
    }
    for (host, guest) in files {
        let path = rootfs.join(guest.trim_start_matches('/'));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::copy(host, &path).with_context(|| format!("copying {}", host.display()))?;
    }
    let spec = serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": args, "env": ["PATH=/sbin:/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "mounts": []
    });
    super::load_bench_bundle(work, &spec)
}

/// The Linux guest's initramfs for one program at `guest_path` run with `args`.
pub(super) fn program_initramfs(
    guest_path: &str,
    program: &Path,
    args: &[String],
) -> InitramfsContents {
    InitramfsContents {
        programs: vec![(guest_path.to_owned(), program.to_owned())],
        commands: vec![args.join(" ")],
        ..InitramfsContents::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(median: f64) -> Stats {
        Stats {
            median,
            min: median,
            max: median,
        }
    }

    fn fork_case() -> Case {
        Case::micros(
            "fork + _exit + waitpid",
            "fork-exit-wait",
            Some(Aim::AtMost(0.5)),
        )
    }

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
    fn cells_scale_and_keep_unavailability() {
        let case = fork_case();
        let runs = vec![
            vec![("fork-exit-wait".to_owned(), Figure::Value(400_000.0))],
            vec![("fork-exit-wait".to_owned(), Figure::Value(600_000.0))],
        ];
        assert_eq!(
            Cell::of(&runs, &case),
            Cell::Measured(Stats {
                median: 500.0,
                min: 400.0,
                max: 600.0
            })
        );
        let pipe = Case::micros("pipe", "pipe-round-trip", None);
        let runs = vec![vec![(
            "pipe-round-trip".to_owned(),
            Figure::Unavailable("pipe2:ENOSYS".into()),
        )]];
        let cell = Cell::of(&runs, &pipe);
        assert_eq!(cell.describe("µs"), "n/a (pipe2: ENOSYS)");
        assert_eq!(Cell::of(&[], &pipe), Cell::Missing);
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
    fn a_table_without_aims_has_no_aim_columns() {
        let m = |value| Cell::Measured(stats(value));
        let row = |aim| Row {
            machine: Machine::ALL[0],
            case: Case::micros("bash -c true", "warm-bash", aim),
            ours: m(50.0),
            linux: m(100.0),
        };
        let plain = table(&[row(None)]);
        assert_eq!(plain.columns.len(), 5);
        assert_eq!(plain.rows[0][4], "0.50");
        let judged = table(&[row(Some(Aim::AtMost(1.0)))]);
        assert_eq!(judged.columns.len(), 7);
        assert_eq!(judged.rows[0][6], "yes");
        assert!(aims_summary(&[row(None)]).contains("0 of 0 aims met"));
    }

    #[test]
    fn chart_gives_throughput_as_time_per_write_and_ms_as_us() {
        let throughput = Case {
            label: "pipe throughput",
            key: "pipe-throughput".into(),
            unit: "MiB/s",
            scale: 1.0,
            aim: Some(Aim::AtLeast(2.0)),
        };
        let chart = chart_micros(
            &throughput,
            Stats {
                median: 125.0,
                min: 100.0,
                max: 250.0,
            },
        );
        assert_eq!(chart.median, 500.0);
        assert_eq!((chart.min, chart.max), (250.0, 625.0));
        let exec = Case {
            unit: "ms",
            scale: 1e-6,
            ..fork_case()
        };
        assert_eq!(chart_micros(&exec, stats(3.0)).median, 3000.0);
    }

    #[test]
    fn summaries_give_microseconds_and_the_throughput() {
        let lines = vec![
            ("fork-exit-wait".to_owned(), Figure::Value(812_345.0)),
            ("pipe-throughput".to_owned(), Figure::Value(118.0)),
            ("x".to_owned(), Figure::Unavailable("pipe2:ENOSYS".into())),
        ];
        assert_eq!(
            summary(&lines, Some("pipe-throughput")),
            "fork-exit-wait 812.3 µs, pipe-throughput 118.0 MiB/s, x unavailable (pipe2:ENOSYS)"
        );
    }
}
