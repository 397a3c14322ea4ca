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

use anyhow::Result;

use super::compare::{self, Aim, Case};
use super::linux_guest;
use super::report;
use crate::cli::CompareBenchArgs;
use crate::host;
use crate::qemu::MemorySize;
use crate::setup;

const MEMORY: MemorySize = MemorySize::from_mib(256);
const TIMEOUT: Duration = Duration::from_secs(300);
/// Wall time per measurement inside the guest (the program also caps the iterations).
const BUDGET_MS: u32 = 1000;
const PROGRAM: &str = "/sbin/process-bench";
const EXEC_PATH: &str = "/bin/busybox";
const EXEC_ARG0: &str = "true";
/// The one throughput case (its figure is MiB/s, not ns).
const THROUGHPUT_KEY: &str = "pipe-throughput";

fn cases() -> Vec<Case> {
    vec![
        Case {
            label: "fork + _exit + waitpid",
            key: "fork-exit-wait".into(),
            unit: "µs",
            scale: 1e-3,
            aim: Some(Aim::AtMost(0.5)),
        },
        Case {
            label: "fork + execve busybox true + waitpid",
            key: format!("fork-exec-wait path={EXEC_PATH}"),
            unit: "ms",
            scale: 1e-6,
            aim: Some(Aim::AtMost(0.5)),
        },
        Case {
            label: "pipe round trip, 1 byte, two processes",
            key: "pipe-round-trip".into(),
            unit: "µs",
            scale: 1e-3,
            aim: Some(Aim::AtMost(0.5)),
        },
        Case {
            label: "pipe throughput, 64 KiB writes",
            key: THROUGHPUT_KEY.into(),
            unit: "MiB/s",
            scale: 1.0,
            aim: Some(Aim::AtLeast(2.0)),
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

pub fn bench(args: CompareBenchArgs) -> Result<()> {
    let super::Prepared {
        target,
        programs,
        kernel,
        accel,
        machines,
    } = super::prepare(args.accel.accel, &args.machine)?;
    let work = target.join("bench").join("processes-work");
    let busybox = Path::new(setup::BUSYBOX);
    let ours_bundle = compare::program_bundle(
        &work,
        &[(&programs.process_bench, PROGRAM), (busybox, EXEC_PATH)],
        &program_args(),
    )?;
    let linux = super::optional_linux(args.no_linux, || {
        let contents =
            compare::program_initramfs(PROGRAM, &programs.process_bench, &program_args());
        super::linux_with_initramfs(&target, &work, &contents)
    });
    let sides = compare::Sides {
        name: "processes",
        runs: args.runs,
        ours: |machine| compare::run_ours(&kernel, &ours_bundle, (machine, accel, MEMORY), TIMEOUT),
        linux: linux.as_ref().map(|(guest, initramfs)| {
            move |machine| {
                compare::run_linux(guest, initramfs, &[], (machine, accel, MEMORY), TIMEOUT)
            }
        }),
        throughput_key: Some(THROUGHPUT_KEY),
    };
    let rows = compare::measure(&machines, cases, sides)?;
    let _ = std::fs::remove_dir_all(&work);
    let title = format!(
        "Process cost, accel {accel}, {} boots per figure: median (min–max)",
        args.runs
    );
    let table = compare::table(&rows);
    let aims = compare::aims_summary(&rows);
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
        &report::svg_log_bar_chart(
            &title,
            "µs",
            &compare::chart_bars(&rows, "pipe, per 64 KiB write"),
        ),
    )?;
    eprintln!(
        "xtask: wrote {} and processes.svg",
        dir.join("processes.md").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::compare::{Cell, Row};
    use crate::bench::report::Stats;
    use crate::qemu::Machine;

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
        let summary = compare::aims_summary(&rows);
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
    fn the_chart_gives_the_throughput_per_write_and_the_exec_in_us() {
        let rows: Vec<Row> = cases()
            .into_iter()
            .map(|case| Row {
                machine: Machine::ALL[0],
                ours: Cell::Measured(stats(125.0)),
                linux: Cell::Missing,
                case,
            })
            .collect();
        let bars = compare::chart_bars(&rows, "pipe, per 64 KiB write");
        assert_eq!(bars.len(), 4);
        assert!(bars[3].label.ends_with("pipe, per 64 KiB write: ours"));
        assert_eq!(bars[3].stats.median, 500.0);
        assert_eq!(bars[1].stats.median, 125_000.0);
    }
}
