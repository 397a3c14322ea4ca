//! `cargo xtask bench 9p`: virtio-9p throughput and lookup cost on each machine.
//!
//! Ours: the kernel's `test=9p-bench` (kernel/src/nine_p_check.rs) with two shares of one
//! fresh host directory, `rootfs` (mounted exclusive: the kernel may cache) and `m0` (shared:
//! revalidated): a 256 MiB file written (then fsync) and read back in 512 KiB requests
//! (msize 512 KiB), then `stat` and `open`+close of a depth-4 path on each mount. It runs
//! inside the kernel, with no system call in the way.
//!
//! Linux: the same host directory shared as `m0` (`cache=none`, at `/data`) and `m1`
//! (`cache=loose`, at `/data-loose`); `syscall-bench write-throughput`/`read-throughput` do
//! the 256 MiB file in 512 KiB write(2)/read(2) calls (the kernel clamps msize to 512000),
//! and `syscall-bench` stats the same depth-4 path on both mounts.
//!
//! Then `nine_p_many.rs`: `du -s` and `ls -l` of 40,000 files, both guests, both modes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::linux_guest::{self, GuestMount, InitramfsContents, LinuxGuest};
use super::report::{self, Bar, Stats, Table};
use super::syscalls::{parse_bench_lines, ratio};
use crate::cargo::{self, Profile};
use crate::cli::CompareBenchArgs;
use crate::cmdline::kernel_cmdline;
use crate::guest;
use crate::host;
use crate::qemu::{self, Accel, Invocation, Machine, MemorySize, Share};
use crate::setup;

const MEMORY: MemorySize = MemorySize::from_mib(512);
const TIMEOUT: Duration = Duration::from_secs(900);
const FILE_BYTES: u64 = 256 << 20;
/// The depth-4 path the kernel's bench stats (`/d1/d2/d3/leaf` from the share's root).
const LEAF: &str = "d1/d2/d3/leaf";
/// The kernel's bench does 2000 lookups; the Linux guest's program stops after this many
/// milliseconds instead, so a cached stat (~10 µs) is timed over enough calls too.
const LOOKUP_BUDGET_MS: u32 = 500;

/// What one boot reports, by metric key.
type Figures = Vec<(&'static str, f64)>;

/// (key, label, unit). Our kernel's lines are `9p-bench: KEY VALUE UNIT`.
const METRICS: &[(&str, &str, &str)] = &[
    (
        "write",
        "sequential write + fsync, 256 MiB in 512 KiB requests",
        "MiB/s",
    ),
    (
        "read",
        "sequential read, 256 MiB in 512 KiB requests",
        "MiB/s",
    ),
    (
        "stat-exclusive",
        "stat depth-4 path (ours: exclusive; Linux: cache=loose)",
        "ns",
    ),
    (
        "stat-shared",
        "stat depth-4 path (ours: shared; Linux: cache=none)",
        "ns",
    ),
    (
        "open-exclusive",
        "open+close depth-4 path (ours: exclusive)",
        "ns",
    ),
    (
        "open-shared",
        "open+close depth-4 path (ours: shared)",
        "ns",
    ),
];

pub fn bench(args: CompareBenchArgs) -> Result<()> {
    setup::for_bench()?;
    let target = cargo::target_dir()?;
    let kernel = cargo::build_kernel(Profile::Release)?;
    let accel = qemu::choose_accel(args.accel.accel);
    let machines = super::chosen_machines(&args.machine);
    let work = target.join("bench").join("9p-work");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("clearing {}", work.display()))?;
    }
    let linux = super::optional_linux(args.no_linux, || prepare_linux(&target, &work));

    let mut rows = Vec::new();
    for machine in machines {
        let ours = super::sample_runs(
            &format!("9p {machine} ours"),
            args.runs,
            |index| {
                let dir = fresh_dir(&work, &format!("{machine}-ours-{index}"))?;
                let figures = run_ours(&kernel, &dir, machine, accel);
                let _ = std::fs::remove_dir_all(&dir);
                figures
            },
            summary,
        )?;
        let theirs = match &linux {
            Some((guest, initramfs)) => super::sample_runs(
                &format!("9p {machine} linux"),
                args.runs,
                |index| {
                    let dir = fresh_dir(&work, &format!("{machine}-linux-{index}"))?;
                    let figures = run_linux(guest, initramfs, &dir, machine, accel);
                    let _ = std::fs::remove_dir_all(&dir);
                    figures
                },
                summary,
            )?,
            None => Vec::new(),
        };
        for &(key, label, unit) in METRICS {
            let stats = |runs: &[Figures]| {
                Stats::of(
                    &runs
                        .iter()
                        .filter_map(|figures| {
                            figures.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
                        })
                        .collect::<Vec<_>>(),
                )
            };
            rows.push(Row {
                machine,
                key,
                label,
                unit,
                ours: stats(&ours),
                linux: stats(&theirs),
            });
        }
    }
    // Issue 18's many-files comparison (microvm only), before the work directory goes.
    let many =
        super::nine_p_many::bench(&kernel, &target, &work, accel, args.runs, linux.is_some());
    let _ = std::fs::remove_dir_all(&work);
    let many = many?;

    let title = format!(
        "virtio-9p, accel {accel}, {} boots per figure: median (min–max)",
        args.runs
    );
    let table = table(&rows);
    println!("\n{title}\n\n{}", table.markdown());
    let linux_note = match &linux {
        Some((guest, _)) => format!(
            "Linux is Debian's `{}` (PVH `vmlinux`, busybox initramfs, 9p modules from the package, \
             `msize=512000`), on the same machine, accelerator and memory ({MEMORY}); it measures \
             through system calls with `syscall-bench` (`write-throughput`, `read-throughput`, \
             stat for {LOOKUP_BUDGET_MS} ms each). On microvm the Linux guest keeps the RTC \
             (`rtc=on`): without one Linux spends seconds probing for it.",
            guest.package
        ),
        None => {
            "The Linux guest was unavailable (see the run's stderr): our figures alone.".to_owned()
        }
    };
    let markdown = format!(
        "# {title}\n\n{}\n\
         Ours is the kernel's `test=9p-bench`, measured inside the kernel (no system call), with \
         msize 512 KiB and {MEMORY} of memory; each boot gets a fresh host directory under \
         `target/bench/9p-work`, deleted afterwards. For MiB/s a ratio above 1 means ours is \
         faster; for ns, below 1. {linux_note} The machine is shared with other builds, so \
         figures are noisy: read the medians.\n\n{many}",
        table.markdown()
    );
    let dir = target.join("bench");
    report::write(&dir.join("9p.md"), &markdown)?;
    let bars = |unit: &str| -> Vec<Bar> {
        rows.iter()
            .filter(|row| row.unit == unit)
            .flat_map(|row| {
                [("ours", row.ours), ("Linux", row.linux)]
                    .into_iter()
                    .filter_map(move |(who, stats)| {
                        Some(Bar {
                            label: format!("{} {} {who}", row.machine, row.key),
                            stats: stats?,
                        })
                    })
            })
            .collect()
    };
    report::write(
        &dir.join("9p.svg"),
        &report::svg_bar_chart(
            &format!("9p throughput, accel {accel}"),
            "MiB/s",
            &bars("MiB/s"),
        ),
    )?;
    report::write(
        &dir.join("9p-lookup.svg"),
        &report::svg_log_bar_chart(&format!("9p lookups, accel {accel}"), "ns", &bars("ns")),
    )?;
    eprintln!(
        "xtask: wrote {} , 9p.svg and 9p-lookup.svg",
        dir.join("9p.md").display()
    );
    Ok(())
}

struct Row {
    machine: Machine,
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    ours: Option<Stats>,
    linux: Option<Stats>,
}

fn table(rows: &[Row]) -> Table {
    let describe = |stats: Option<Stats>, unit: &str| {
        stats.map_or_else(|| "—".to_owned(), |stats| stats.describe(unit))
    };
    Table {
        columns: [
            "machine",
            "measurement",
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
                    describe(row.ours, row.unit),
                    describe(row.linux, row.unit),
                    ratio(row.ours, row.linux),
                ]
            })
            .collect(),
    }
}

fn summary(figures: &Figures) -> String {
    figures
        .iter()
        .map(|(key, value)| {
            let unit = METRICS
                .iter()
                .find(|(k, _, _)| k == key)
                .map_or("", |(_, _, unit)| unit);
            format!("{key} {value:.0} {unit}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn fresh_dir(work: &Path, name: &str) -> Result<PathBuf> {
    let dir = work.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn run_ours(kernel: &Path, dir: &Path, machine: Machine, accel: Accel) -> Result<Figures> {
    let share = |tag: &str| Share {
        tag: tag.to_owned(),
        path: dir.to_owned(),
        readonly: false,
    };
    let invocation = Invocation {
        machine,
        accel,
        memory: MEMORY,
        cpus: 1,
        kernel: kernel.to_owned(),
        cmdline: kernel_cmdline("test=9p-bench", host::tsc_khz(&host::cpuinfo())),
        initrd: None,
        shares: vec![share("rootfs"), share("m0")],
    };
    let (outcome, context) =
        super::boot_cleanly(&invocation, TIMEOUT, &format!("test=9p-bench on {machine}"))?;
    let figures = parse_kernel_lines(&outcome.console);
    if figures.len() != METRICS.len() {
        bail!(
            "test=9p-bench on {machine}: expected {} figures, got {}\n{}",
            METRICS.len(),
            figures.len(),
            context.clone()
        );
    }
    Ok(figures)
}

/// `9p-bench: KEY VALUE UNIT` lines for the keys in `METRICS`.
fn parse_kernel_lines(console: &str) -> Figures {
    console
        .lines()
        .filter_map(|line| line.split_once("9p-bench: ").map(|(_, rest)| rest))
        .filter_map(|rest| {
            let mut words = rest.split_whitespace();
            let key = words.next()?;
            let value: f64 = words.next()?.parse().ok()?;
            let &(key, _, _) = METRICS.iter().find(|(k, _, _)| *k == key)?;
            Some((key, value))
        })
        .collect()
}

fn prepare_linux(target: &Path, work: &Path) -> Result<(LinuxGuest, PathBuf)> {
    let guest = linux_guest::prepare(target)?;
    let program = guest::build_test_programs(target)?.syscall_bench;
    let bench = "/sbin/syscall-bench";
    let contents = InitramfsContents {
        programs: vec![(bench.to_owned(), program)],
        mounts: GuestMount::uncached_and_loose(),
        load_modules: true,
        commands: vec![
            format!("{bench} write-throughput /data/bench.bin {FILE_BYTES}"),
            format!("{bench} read-throughput /data/bench.bin"),
            "rm /data/bench.bin".to_owned(),
            format!(
                "{bench} --iterations 100000 --budget-ms {LOOKUP_BUDGET_MS} /data-loose/{LEAF} /data/{LEAF}"
            ),
        ],
        ..InitramfsContents::default()
    };
    let initramfs = work.join("linux-initramfs.cpio");
    linux_guest::write_initramfs(&guest, &contents, &initramfs)?;
    Ok((guest, initramfs))
}

fn run_linux(
    guest: &LinuxGuest,
    initramfs: &Path,
    dir: &Path,
    machine: Machine,
    accel: Accel,
) -> Result<Figures> {
    let leaf = dir.join(LEAF);
    std::fs::create_dir_all(leaf.parent().context("leaf parent")?).context("creating d1/d2/d3")?;
    std::fs::write(&leaf, "leaf\n").context("writing the leaf")?;
    let share = |tag: &str| Share {
        tag: tag.to_owned(),
        path: dir.to_owned(),
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
    let context = || format!("Linux guest on {machine}:\n{}", run.console);
    let mut figures = Figures::new();
    for (key, what) in [("write", "write"), ("read", "read")] {
        let value =
            throughput(&run.console, what).with_context(|| format!("no `bench {what}` line"));
        figures.push((key, value.with_context(context)?));
    }
    let lines = parse_bench_lines(&run.console).with_context(context)?;
    for (key, path) in [
        ("stat-exclusive", format!("/data-loose/{LEAF}")),
        ("stat-shared", format!("/data/{LEAF}")),
    ] {
        let wanted = format!("stat path={path}");
        let (_, ns) = lines
            .iter()
            .find(|(k, _)| *k == wanted)
            .with_context(|| format!("no `bench {wanted}` line"))
            .with_context(context)?;
        figures.push((key, *ns));
    }
    Ok(figures)
}

/// `mib_per_s=` of the program's `bench write|read path=… mib_per_s=X` line.
fn throughput(console: &str, what: &str) -> Option<f64> {
    console
        .lines()
        .filter_map(|line| {
            line.trim()
                .strip_prefix("bench ")?
                .strip_prefix(what)?
                .strip_prefix(' ')
        })
        .find_map(|rest| {
            rest.split_whitespace()
                .find_map(|word| word.strip_prefix("mib_per_s="))?
                .parse()
                .ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_lines() {
        let console = "[ 1.0] x\n9p-bench: write 120 MiB/s\n9p-bench: read 300 MiB/s\n9p-bench: stat-exclusive 900 ns\n9p-bench: bogus 1 ns\n";
        assert_eq!(
            parse_kernel_lines(console),
            [("write", 120.0), ("read", 300.0), ("stat-exclusive", 900.0)]
        );
    }

    #[test]
    fn throughput_lines() {
        let console = "bench write path=/data/b bytes=5 ns=7 mib_per_s=240.5\nbench read path=/data/b bytes=5 ns=7 mib_per_s=1000.0\n";
        assert_eq!(throughput(console, "write"), Some(240.5));
        assert_eq!(throughput(console, "read"), Some(1000.0));
        assert_eq!(throughput("bench getppid ns=1\n", "read"), None);
    }
}
