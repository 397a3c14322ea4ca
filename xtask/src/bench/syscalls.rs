//! `cargo xtask bench syscalls`: what one system call costs in our sandbox and under a Linux
//! guest on the same QEMU machine and accelerator, measured by the same static program
//! (`syscall-bench` from `xtask/guest-tests`): `getppid`, and `stat` of a file in `/tmp`
//! (tmpfs), in the root and on a 9p bind mount.
//!
//! Ours: a bundle whose init *is* `syscall-bench`; the root is a host directory (9p
//! `rootfs`, the default memory overlay on top, `file_access=exclusive`), `/data` a bind mount
//! of another (9p `m0`, `file_access_mounts=shared`). Linux: the program runs from a busybox
//! initramfs; its root is the initramfs (tmpfs), `/data` the same host directory over 9p
//! with `cache=none` (every lookup asks the host, as our shared mounts do) and
//! `/data-loose` again with `cache=loose`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::linux_guest::{self, GuestMount, InitramfsContents, LinuxGuest};
use super::report::{self, Bar, Stats, Table};
use crate::bundle;
use crate::cli::CompareBenchArgs as SyscallsBenchArgs;
use crate::host;
use crate::qemu::{Accel, Machine, MemorySize, Share};

const MEMORY: MemorySize = MemorySize::from_mib(256);
const TIMEOUT: Duration = Duration::from_secs(300);
/// Per measurement: at most this many calls, stopping early once the budget is spent.
const ITERATIONS: u32 = 100_000;
const BUDGET_MS: u32 = 300;
const PROGRAM: &str = "/sbin/syscall-bench";
const FILE_NAME: &str = "bench-file";

/// The measurements, as (label, the program's `bench` line key). Ours and Linux share paths.
const TMP_FILE: &str = "/tmp/bench-file";
const ROOT_FILE: &str = "/etc/bench-file";
const NINE_P_FILE: &str = "/data/bench-file";
const LOOSE_FILE: &str = "/data-loose/bench-file";

struct Operation {
    label: &'static str,
    /// The key the program prints: `getppid` or `stat path=…`.
    ours: Option<String>,
    linux: Option<String>,
}

fn operations() -> Vec<Operation> {
    let stat = |path: &str| Some(format!("stat path={path}"));
    vec![
        Operation {
            label: "getppid",
            ours: Some("getppid".into()),
            linux: Some("getppid".into()),
        },
        Operation {
            label: "stat, file in /tmp (tmpfs)",
            ours: stat(TMP_FILE),
            linux: stat(TMP_FILE),
        },
        Operation {
            label: "stat, file in the root (ours: overlay on 9p; Linux: initramfs)",
            ours: stat(ROOT_FILE),
            linux: stat(ROOT_FILE),
        },
        Operation {
            label: "stat, file on 9p bind mount (ours: shared; Linux: cache=none)",
            ours: stat(NINE_P_FILE),
            linux: stat(NINE_P_FILE),
        },
        Operation {
            label: "stat, file on 9p bind mount (ours: shared; Linux: cache=loose)",
            ours: stat(NINE_P_FILE),
            linux: stat(LOOSE_FILE),
        },
    ]
}

fn program_args() -> Vec<String> {
    let mut args: Vec<String> = vec![
        PROGRAM.into(),
        "--iterations".into(),
        ITERATIONS.to_string(),
        "--budget-ms".into(),
        BUDGET_MS.to_string(),
        "--touch".into(),
        TMP_FILE.into(),
    ];
    args.extend([TMP_FILE, ROOT_FILE, NINE_P_FILE].map(str::to_owned));
    args
}

pub fn bench(args: SyscallsBenchArgs) -> Result<()> {
    let super::Prepared {
        target,
        programs,
        kernel,
        accel,
        machines,
    } = super::prepare(args.accel.accel, &args.machine)?;
    let work = target.join("bench").join("syscalls-work");
    let data = work.join("data");
    let ours_bundle = write_bundle(&work, &programs.syscall_bench)?;
    let linux = super::optional_linux(args.no_linux, || {
        super::linux_with_initramfs(&target, &work, &linux_contents(&programs.syscall_bench))
    });

    let mut rows = Vec::new();
    for machine in machines {
        let ours = super::sample_runs(
            &format!("syscalls {machine} ours"),
            args.runs,
            |_| run_ours(&kernel, &ours_bundle, machine, accel),
            |lines| summary(lines),
        )?;
        let theirs = match &linux {
            Some((guest, initramfs)) => super::sample_runs(
                &format!("syscalls {machine} linux"),
                args.runs,
                |_| run_linux(guest, initramfs, &data, machine, accel),
                |lines| summary(lines),
            )?,
            None => Vec::new(),
        };
        for operation in operations() {
            let stats = |runs: &[Vec<(String, f64)>], key: &Option<String>| {
                key.as_ref().and_then(|key| {
                    let samples: Vec<f64> = runs
                        .iter()
                        .filter_map(|lines| lines.iter().find(|(k, _)| k == key).map(|(_, ns)| *ns))
                        .collect();
                    Stats::of(&samples)
                })
            };
            rows.push(Row {
                machine,
                label: operation.label,
                ours: stats(&ours, &operation.ours),
                linux: stats(&theirs, &operation.linux),
            });
        }
    }
    let _ = std::fs::remove_dir_all(&work);

    let title = format!(
        "System call cost, accel {accel}, {} boots per figure: ns/op, median (min–max)",
        args.runs
    );
    let table = table(&rows);
    println!("\n{title}\n\n{}", table.markdown());
    let linux_note = match &linux {
        Some((guest, _)) => format!(
            "Linux is Debian's `{}` (PVH `vmlinux`, busybox initramfs, kernel command line `{}`), \
             on the same machine, accelerator and memory ({MEMORY}); on microvm it keeps the RTC \
             (`rtc=on`): without one Linux spends seconds probing for it.",
            guest.package,
            linux_guest::cmdline(accel, host::tsc_khz(&host::cpuinfo()))
        ),
        None => {
            "The Linux guest was unavailable (see the run's stderr): our figures alone.".to_owned()
        }
    };
    let markdown = format!(
        "# {title}\n\n{}\n\
         Each boot runs `{}` once; a figure is its mean over up to {ITERATIONS} calls (fewer once \
         {BUDGET_MS} ms are spent), and the table gives the median, min and max of those means \
         over the boots. Ratio below 1: ours is faster. {linux_note} The machine is shared \
         with other builds, so figures are noisy: read the medians.\n",
        table.markdown(),
        program_args().join(" ")
    );
    let dir = target.join("bench");
    report::write(&dir.join("syscalls.md"), &markdown)?;
    report::write(
        &dir.join("syscalls.svg"),
        &report::svg_log_bar_chart(&title, "ns", &chart_bars(&rows)),
    )?;
    eprintln!(
        "xtask: wrote {} and syscalls.svg",
        dir.join("syscalls.md").display()
    );
    Ok(())
}

struct Row {
    machine: Machine,
    label: &'static str,
    ours: Option<Stats>,
    linux: Option<Stats>,
}

fn describe(stats: Option<Stats>) -> String {
    stats.map_or_else(|| "—".to_owned(), |stats| stats.describe("ns"))
}

pub fn ratio(ours: Option<Stats>, linux: Option<Stats>) -> String {
    match (ours, linux) {
        (Some(ours), Some(linux)) if linux.median > 0.0 => {
            format!("{:.2}", ours.median / linux.median)
        }
        _ => "—".to_owned(),
    }
}

fn table(rows: &[Row]) -> Table {
    Table {
        columns: [
            "machine",
            "operation",
            "ours",
            "Linux guest",
            "ours / Linux",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: rows
            .iter()
            .map(|row| {
                vec![
                    row.machine.to_string(),
                    row.label.to_owned(),
                    describe(row.ours),
                    describe(row.linux),
                    ratio(row.ours, row.linux),
                ]
            })
            .collect(),
    }
}

fn chart_bars(rows: &[Row]) -> Vec<Bar> {
    let mut bars = Vec::new();
    for row in rows {
        let short = row.label.split(" (").next().unwrap_or(row.label);
        let linux_kind = if row.label.contains("cache=loose") {
            " loose"
        } else {
            ""
        };
        // The loose row repeats our figure; chart it once.
        if linux_kind.is_empty()
            && let Some(stats) = row.ours
        {
            bars.push(Bar {
                label: format!("{} {short}: ours", row.machine),
                stats,
            });
        }
        if let Some(stats) = row.linux {
            bars.push(Bar {
                label: format!("{} {short}: Linux{linux_kind}", row.machine),
                stats,
            });
        }
    }
    bars
}

/// `bench NAME [path=P] ns=X …` lines as (`NAME [path=P]`, X). An `error=` line fails.
pub fn parse_bench_lines(console: &str) -> Result<Vec<(String, f64)>> {
    let mut lines = Vec::new();
    for line in console
        .lines()
        .filter_map(|line| line.trim().strip_prefix("bench "))
    {
        if line.contains("error=") {
            bail!("syscall-bench: {line}");
        }
        let Some((key, rest)) = line.split_once(" ns=") else {
            continue;
        };
        let ns = rest.split_whitespace().next().unwrap_or_default();
        lines.push((
            key.to_owned(),
            ns.parse().with_context(|| format!("bad ns= in `{line}`"))?,
        ));
    }
    Ok(lines)
}

fn summary(lines: &[(String, f64)]) -> String {
    lines
        .iter()
        .map(|(key, ns)| format!("{key} {ns:.0} ns"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The bundle: `rootfs/` (the program, `/etc/bench-file`, no `/tmp` so the kernel mounts a
/// tmpfs there) and `data/` (bind-mounted at `/data`, holding `bench-file`).
fn write_bundle(work: &Path, program: &Path) -> Result<bundle::Bundle> {
    if work.exists() {
        std::fs::remove_dir_all(work).with_context(|| format!("clearing {}", work.display()))?;
    }
    let rootfs = work.join("rootfs");
    for dir in ["dev", "proc", "sys", "etc", "sbin"] {
        std::fs::create_dir_all(rootfs.join(dir)).with_context(|| format!("creating {dir}"))?;
    }
    std::fs::create_dir_all(work.join("data")).context("creating data/")?;
    std::fs::copy(program, rootfs.join("sbin/syscall-bench"))
        .with_context(|| format!("copying {}", program.display()))?;
    std::fs::write(rootfs.join("etc").join(FILE_NAME), "bench\n")
        .context("writing etc/bench-file")?;
    std::fs::write(work.join("data").join(FILE_NAME), "bench\n")
        .context("writing data/bench-file")?;
    let spec = json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": program_args(), "env": ["PATH=/sbin:/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "mounts": [{"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "rw"]}]
    });
    super::load_bench_bundle(work, &spec)
}

fn run_ours(
    kernel: &Path,
    bundle: &bundle::Bundle,
    machine: Machine,
    accel: Accel,
) -> Result<Vec<(String, f64)>> {
    let (outcome, context) = super::boot_bundle(kernel, bundle, (machine, accel, MEMORY), TIMEOUT)?;
    parse_bench_lines(&outcome.console).context(context)
}

fn linux_contents(program: &Path) -> InitramfsContents {
    let mut command = program_args();
    command.push(LOOSE_FILE.to_owned());
    InitramfsContents {
        programs: vec![(PROGRAM.to_owned(), program.to_owned())],
        files: vec![(ROOT_FILE.to_owned(), b"bench\n".to_vec())],
        mounts: GuestMount::uncached_and_loose(),
        load_modules: true,
        commands: vec![command.join(" ")],
    }
}

fn run_linux(
    guest: &LinuxGuest,
    initramfs: &Path,
    data: &Path,
    machine: Machine,
    accel: Accel,
) -> Result<Vec<(String, f64)>> {
    let share = |tag: &str| Share {
        tag: tag.to_owned(),
        path: PathBuf::from(data),
        readonly: false,
    };
    let invocation = linux_guest::invocation(
        guest,
        machine,
        accel,
        MEMORY,
        initramfs,
        vec![share("m0"), share("m1")],
    );
    let run = linux_guest::boot(&invocation, TIMEOUT)?;
    parse_bench_lines(&run.console)
        .with_context(|| format!("Linux guest on {machine}:\n{}", run.console))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_lines_parse_and_errors_fail() {
        let console = "noise\nbench getppid ns=123.4 iterations=1000\r\nbench stat path=/tmp/x ns=9 iterations=5\n";
        assert_eq!(
            parse_bench_lines(console).unwrap(),
            [
                ("getppid".to_owned(), 123.4),
                ("stat path=/tmp/x".to_owned(), 9.0)
            ]
        );
        assert!(parse_bench_lines("bench stat path=/x error=No such file\n").is_err());
    }

    #[test]
    fn every_stat_path_is_measured() {
        let args = program_args().join(" ");
        for operation in operations() {
            let key = operation.ours.unwrap();
            if let Some(path) = key.strip_prefix("stat path=") {
                assert!(args.contains(path), "{path}");
            }
        }
    }
}
