//! `cargo xtask bench boot`: how long a boot takes, inside the guest and from the host.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::floor_kernel;
use super::linux_guest::{self, InitramfsContents};
use super::report::{self, Bar, Stats, Table};
use crate::cargo::{self, Profile};
use crate::cli::BootBenchArgs;
use crate::cmdline::kernel_cmdline;
use crate::console::{self, ExitStatus};
use crate::host;
use crate::launch::{self, Echo, LaunchOptions, Outcome};
use crate::qemu::{self, Accel, Invocation, Machine, MemorySize};
use crate::setup;

const RUN_TIMEOUT: Duration = Duration::from_secs(60);
const LINUX_TIMEOUT: Duration = Duration::from_secs(120);
const MEMORY: MemorySize = MemorySize::from_mib(128);

struct MachineResult {
    machine: Machine,
    /// PVH entry → `ready`, from the kernel's own timestamp, in ms.
    guest_ready: Stats,
    /// QEMU launch → QEMU exit for our kernel, in ms.
    kernel_wall: Stats,
    /// The same for the empty PVH ELF: QEMU's own cost.
    floor_wall: Stats,
    /// The Linux guest (`--linux`): QEMU launch → its `/init` runs.
    linux_init: Option<Stats>,
}

pub fn bench(args: BootBenchArgs) -> Result<()> {
    setup::for_bench()?;
    let kernel = cargo::build_kernel(Profile::Release)?;
    let accel = qemu::choose_accel(args.accel.accel);
    let target = cargo::target_dir()?;
    let floor_kernel = target.join("xtask").join("bench").join("floor-kernel.elf");
    write_floor_kernel(&floor_kernel)?;
    let tsc_khz = host::tsc_khz(&host::cpuinfo());
    let machines = super::chosen_machines(&args.machine);

    let linux = if args.linux {
        linux_guest_for_boot(&target)
    } else {
        None
    };

    let mut results = Vec::new();
    for machine in machines {
        let boot = |kernel: &Path, options: &str| Invocation {
            machine,
            accel,
            memory: MEMORY,
            cpus: 1,
            kernel: kernel.to_owned(),
            cmdline: kernel_cmdline(options, tsc_khz),
            initrd: None,
            shares: Vec::new(),
        };
        let kernel_runs = measure(
            &format!("{machine} kernel"),
            &boot(&kernel, "log=info"),
            args.runs,
            Expect::Kernel,
        )?;
        let floor_runs = measure(
            &format!("{machine} floor"),
            &boot(&floor_kernel, ""),
            args.runs,
            Expect::Floor,
        )?;
        let linux_init = match &linux {
            Some((guest, initramfs)) => measure_linux(guest, initramfs, machine, accel, args.runs)?,
            None => None,
        };
        let guest: Vec<f64> = kernel_runs.iter().filter_map(|run| run.ready_ms).collect();
        let wall =
            |runs: &[Run]| Stats::of(&runs.iter().map(|run| run.wall_ms).collect::<Vec<_>>());
        results.push(MachineResult {
            machine,
            guest_ready: Stats::of(&guest).context("no runs")?,
            kernel_wall: wall(&kernel_runs).context("no runs")?,
            floor_wall: wall(&floor_runs).context("no runs")?,
            linux_init,
        });
    }

    let title = format!(
        "Boot time, accel {accel}, {} runs per figure: median (min–max)",
        args.runs
    );
    let table = results_table(&results, accel);
    println!("\n{title}\n\n{}", table.markdown());
    let mut markdown = format!(
        "# {title}\n\n{}\n\
         Guest time is the kernel's `ready` timestamp (TSC since PVH entry). Wall time is \
         QEMU launch to QEMU exit as the host sees it. The floor is a {}-byte PVH ELF that only \
         writes isa-debug-exit: QEMU's own start-up and tear-down on the same command line.\n",
        table.markdown(),
        floor_kernel::image().len()
    );
    if let Some((guest, _)) = &linux {
        let table = linux_table(&results, accel);
        println!(
            "Linux guest ({}, PVH vmlinux, busybox initramfs)\n\n{}",
            guest.package,
            table.markdown()
        );
        markdown.push_str(&format!(
            "\n## Against a Linux guest\n\n{}\n\
             Linux is Debian's `{}` booted as a PVH `vmlinux` with a busybox initramfs on the same \
             QEMU command line, except that microvm keeps its RTC (`rtc=on`: without one Linux \
             spends about two seconds probing for it); its kernel command line is `{}`. Its time is QEMU launch to the first line `/init` prints, \
             stamped on the host as it arrives. Ours is QEMU launch to QEMU *exit* (boot to \
             `ready`, then power-off), so the ratio flatters Linux slightly.\n",
            table.markdown(),
            guest.package,
            linux_guest::cmdline(accel, host::tsc_khz(&host::cpuinfo()))
        ));
    } else if args.linux {
        markdown.push_str(
            "\nThe Linux guest was unavailable (see the run's stderr); our figures alone.\n",
        );
    }
    let bench_dir = target.join("bench");
    report::write(&bench_dir.join("boot.md"), &markdown)?;
    report::write(
        &bench_dir.join("boot.svg"),
        &report::svg_bar_chart(&title, "ms", &chart_bars(&results)),
    )?;
    eprintln!(
        "xtask: wrote {} and boot.svg",
        bench_dir.join("boot.md").display()
    );
    Ok(())
}

fn results_table(results: &[MachineResult], accel: Accel) -> Table {
    Table {
        columns: [
            "machine",
            "accel",
            "guest: PVH entry → ready",
            "host: QEMU launch → exit",
            "floor: empty PVH ELF",
            "kernel − floor (medians)",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: results
            .iter()
            .map(|result| {
                vec![
                    result.machine.to_string(),
                    accel.to_string(),
                    result.guest_ready.describe("ms"),
                    result.kernel_wall.describe("ms"),
                    result.floor_wall.describe("ms"),
                    format!(
                        "{:.1} ms",
                        result.kernel_wall.median - result.floor_wall.median
                    ),
                ]
            })
            .collect(),
    }
}

fn chart_bars(results: &[MachineResult]) -> Vec<Bar> {
    results
        .iter()
        .flat_map(|result| {
            [
                ("guest PVH → ready", Some(result.guest_ready)),
                ("QEMU launch → exit", Some(result.kernel_wall)),
                ("floor (empty ELF)", Some(result.floor_wall)),
                ("Linux: launch → /init", result.linux_init),
            ]
            .into_iter()
            .filter_map(|(what, stats)| {
                Some(Bar {
                    label: format!("{} {what}", result.machine),
                    stats: stats?,
                })
            })
        })
        .collect()
}

fn linux_table(results: &[MachineResult], accel: Accel) -> Table {
    Table {
        columns: [
            "machine",
            "accel",
            "Linux: QEMU launch → /init",
            "ours: QEMU launch → exit",
            "ours / Linux (medians)",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: results
            .iter()
            .map(|result| {
                let (linux, ratio) = match result.linux_init {
                    Some(linux) => (
                        linux.describe("ms"),
                        format!("{:.3}", result.kernel_wall.median / linux.median),
                    ),
                    None => ("unavailable".to_owned(), "—".to_owned()),
                };
                vec![
                    result.machine.to_string(),
                    accel.to_string(),
                    linux,
                    result.kernel_wall.describe("ms"),
                    ratio,
                ]
            })
            .collect(),
    }
}

/// The Linux guest and a marker-only initramfs, or None (said on stderr) when it cannot be had.
fn linux_guest_for_boot(target: &Path) -> Option<(linux_guest::LinuxGuest, std::path::PathBuf)> {
    let prepared = linux_guest::prepare(target).and_then(|guest| {
        let initramfs = target.join("linux-guest").join("initramfs-boot.cpio");
        linux_guest::write_initramfs(&guest, &InitramfsContents::default(), &initramfs)?;
        Ok((guest, initramfs))
    });
    match prepared {
        Ok(prepared) => Some(prepared),
        Err(error) => {
            eprintln!(
                "xtask: the Linux guest is unavailable, reporting our figures alone: {error:#}"
            );
            None
        }
    }
}

fn measure_linux(
    guest: &linux_guest::LinuxGuest,
    initramfs: &Path,
    machine: Machine,
    accel: Accel,
    runs: u32,
) -> Result<Option<Stats>> {
    let invocation = linux_guest::invocation(guest, machine, accel, MEMORY, initramfs, Vec::new());
    let boots = super::sample_runs(
        &format!("boot {machine} linux"),
        runs,
        |_| linux_guest::boot(&invocation, LINUX_TIMEOUT),
        |run| {
            format!(
                "/init at {:.0} ms, wall {:.0} ms",
                init_ms(run),
                run.wall.as_secs_f64() * 1e3
            )
        },
    )?;
    Ok(Stats::of(&boots.iter().map(init_ms).collect::<Vec<_>>()))
}

/// When the Linux guest's `/init` started, in ms; NaN when it never said.
fn init_ms(run: &linux_guest::GuestRun) -> f64 {
    run.init_at.map_or(f64::NAN, |at| at.as_secs_f64() * 1e3)
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Our kernel: `ready`, then exit status 0 on its exit line.
    Kernel,
    /// The floor ELF prints nothing; isa-debug-exit must say 0.
    Floor,
}

struct Run {
    wall_ms: f64,
    ready_ms: Option<f64>,
}

fn measure(series: &str, invocation: &Invocation, runs: u32, expect: Expect) -> Result<Vec<Run>> {
    let options = LaunchOptions {
        echo: Echo::Quiet,
        timeout: Some(RUN_TIMEOUT),
        inherit_stdin: false,
    };
    (1..=runs)
        .map(|index| {
            let outcome = launch::launch(invocation, options)?;
            let run = check_run(&outcome, expect).with_context(|| {
                format!(
                    "{series} run {index}: {}\nconsole:\n{}{}",
                    invocation.shell_line(),
                    outcome.console,
                    outcome.stderr
                )
            })?;
            let ready = run
                .ready_ms
                .map_or(String::new(), |ms| format!("ready {ms:.3} ms, "));
            eprintln!(
                "xtask: bench boot {series} {index}/{runs} … {ready}wall {:.1} ms",
                run.wall_ms
            );
            Ok(run)
        })
        .collect()
}

fn check_run(outcome: &Outcome, expect: Expect) -> Result<Run> {
    if outcome.timed_out {
        bail!("timed out after {} s", RUN_TIMEOUT.as_secs());
    }
    let wall_ms = outcome.wall.as_secs_f64() * 1e3;
    match (expect, outcome.exit_status()) {
        (Expect::Kernel, ExitStatus::Reported(0)) => {
            let ready =
                console::ready_seconds(&outcome.console).context("no `ready` line at log=info")?;
            Ok(Run {
                wall_ms,
                ready_ms: Some(ready * 1e3),
            })
        }
        (Expect::Floor, ExitStatus::FromDebugExit(0)) => Ok(Run {
            wall_ms,
            ready_ms: None,
        }),
        (_, status) => bail!("unexpected exit: {status:?}"),
    }
}

fn write_floor_kernel(path: &Path) -> Result<()> {
    let dir = path.parent().context("floor kernel path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(path, floor_kernel::image())
        .with_context(|| format!("writing {}", path.display()))
}
