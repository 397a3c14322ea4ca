//! `cargo xtask bench threads`: what a thread, a futex wake-up, an event-loop wake-up and a
//! Unix socket cost in our sandbox and under a Linux guest on the same QEMU machine and
//! accelerator, measured by the same static program (`thread-bench` from
//! `xtask/guest-tests`): `pthread_create`+`pthread_join`, a futex wake/wait round trip
//! between two threads, an eventfd + `epoll_wait` round trip between two threads, a 1-byte
//! round trip over a Unix stream socket between two processes, and Unix socket throughput in
//! 64 KiB writes.
//!
//! Ours: a bundle whose init *is* `thread-bench` (9p root, memory overlay). Linux: the
//! program from a busybox initramfs. A case whose system call the kernel lacks prints
//! `unavailable=CALL:ERRNO` and shows as "n/a (CALL: ERRNO)", so the benchmark runs before
//! and after the kernel has threads. The table and chart are `bench processes`'s; the aims are
//! the threads issue's (each time at most half of Linux's, the throughput at least Linux's).

use std::time::Duration;

use anyhow::Result;

use super::compare::{self, Aim, Case};
use super::linux_guest;
use super::report;
use crate::cli::CompareBenchArgs;
use crate::host;
use crate::qemu::MemorySize;

const MEMORY: MemorySize = MemorySize::from_mib(256);
const TIMEOUT: Duration = Duration::from_secs(300);
/// Wall time per measurement inside the guest (the program also caps the iterations).
const BUDGET_MS: u32 = 1000;
const PROGRAM: &str = "/sbin/thread-bench";
/// The one throughput case (its figure is MiB/s, not ns).
const THROUGHPUT_KEY: &str = "unix-throughput";
/// The chart's label for it (as the time of one write).
const THROUGHPUT_LABEL: &str = "Unix socket, per 64 KiB write";

fn cases() -> Vec<Case> {
    let time = |label, key: &str| Case::micros(label, key, Some(Aim::AtMost(0.5)));
    vec![
        time("pthread_create + pthread_join", "thread-create-join"),
        time(
            "futex wake/wait round trip, two threads",
            "futex-round-trip",
        ),
        time(
            "eventfd + epoll_wait round trip, two threads",
            "eventfd-epoll-round-trip",
        ),
        time(
            "Unix socket round trip, 1 byte, two processes",
            "unix-round-trip",
        ),
        Case {
            label: "Unix socket throughput, 64 KiB writes",
            key: THROUGHPUT_KEY.to_owned(),
            unit: "MiB/s",
            scale: 1.0,
            aim: Some(Aim::AtLeast(1.0)),
        },
    ]
}

fn program_args() -> Vec<String> {
    [PROGRAM, "--budget-ms", &BUDGET_MS.to_string()]
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
    let work = target.join("bench").join("threads-work");
    let ours_bundle =
        compare::program_bundle(&work, &[(&programs.thread_bench, PROGRAM)], &program_args())?;
    let linux = super::optional_linux(args.no_linux, || {
        let contents = compare::program_initramfs(PROGRAM, &programs.thread_bench, &program_args());
        super::linux_with_initramfs(&target, &work, &contents)
    });
    let sides = compare::Sides {
        name: "threads",
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
        "Thread, futex, event and Unix socket cost, accel {accel}, {} boots per figure: median (min–max)",
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
            "Linux is Debian's `{}` (PVH `vmlinux`, busybox initramfs holding the program, \
             kernel command line `{}`), on the same machine, accelerator and memory \
             ({MEMORY}), 1 vCPU, as our sandbox has.",
            guest.package,
            linux_guest::cmdline(accel, host::tsc_khz(&host::cpuinfo()))
        ),
        None => "The Linux guest was unavailable (see the run's stderr): our figures alone, \
                 and no aim is judged."
            .to_owned(),
    };
    let markdown = format!(
        "# {title}\n\n{}\n\
         Aims (the threads issue's: each time at most half of Linux's, the throughput at \
         least Linux's), judged from this run's medians only:\n\n{aims}\n\n\
         Each boot runs `{}` once, as our container's init and from the Linux guest's `/init`. \
         A time is the mean over as many operations as fit in {BUDGET_MS} ms (after one \
         warm-up, capped at 20000 thread creations and 200000 round trips); the throughput \
         counts the bytes a forked child read from 64 KiB writes over {BUDGET_MS} ms, the \
         clock stopping when it answers with its count. The two round trips between threads \
         hand a turn back and forth: a futex word with FUTEX_WAKE/FUTEX_WAIT, or two eventfds \
         each watched by its own epoll instance. \"n/a (CALL: ERRNO)\": the kernel does not \
         have that call yet. {linux_note} The chart puts every figure in µs per operation \
         (the throughput as the time of one 64 KiB write, 62500 / MiB/s). The machine is \
         shared with other builds, so figures are noisy: read the medians.\n",
        table.markdown(),
        program_args().join(" ")
    );
    let dir = target.join("bench");
    report::write(&dir.join("threads.md"), &markdown)?;
    report::write(
        &dir.join("threads.svg"),
        &report::svg_log_bar_chart(&title, "µs", &compare::chart_bars(&rows, THROUGHPUT_LABEL)),
    )?;
    eprintln!(
        "xtask: wrote {} and threads.svg",
        dir.join("threads.md").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::compare::{Cell, Row, parse_bench_lines, summary};
    use crate::qemu::Machine;

    #[test]
    fn every_case_key_is_what_the_program_prints() {
        // The `bench NAME` lines of xtask/guest-tests/src/bin/thread_bench.rs.
        let source = std::fs::read_to_string(
            crate::cargo::workspace_root().join("xtask/guest-tests/src/bin/thread_bench.rs"),
        )
        .unwrap();
        for case in cases() {
            assert!(
                source.contains(&format!("\"{}\"", case.key))
                    || source.contains(&format!("\"bench {} ", case.key)),
                "thread-bench prints no `bench {}` line",
                case.key
            );
        }
        assert_eq!(cases().len(), 5);
    }

    #[test]
    fn thread_bench_lines_parse_including_unavailable_calls() {
        let console = "bench thread-create-join unavailable=pthread_create:EAGAIN\n\
            bench futex-round-trip ns=14900 iterations=60000\n\
            bench eventfd-epoll-round-trip unavailable=eventfd:ENOSYS\n\
            bench unix-round-trip ns=84600 iterations=11000\n\
            bench unix-throughput bytes=123731968 ns=1000000000 mib_per_s=118.0\n";
        let runs = vec![parse_bench_lines(console).unwrap()];
        let cells: Vec<String> = cases()
            .iter()
            .map(|case| Cell::of(&runs, case).describe(case.unit))
            .collect();
        assert_eq!(
            cells,
            [
                "n/a (pthread_create: EAGAIN)",
                "14.9 µs (14.9–14.9)",
                "n/a (eventfd: ENOSYS)",
                "84.6 µs (84.6–84.6)",
                "118 MiB/s (118–118)",
            ]
        );
        assert_eq!(
            summary(&runs[0], Some(THROUGHPUT_KEY)),
            "thread-create-join unavailable (pthread_create:EAGAIN), futex-round-trip 14.9 µs, \
             eventfd-epoll-round-trip unavailable (eventfd:ENOSYS), unix-round-trip 84.6 µs, \
             unix-throughput 118.0 MiB/s"
        );
    }

    #[test]
    fn the_chart_shows_throughput_per_write() {
        let rows: Vec<Row> = cases()
            .into_iter()
            .map(|case| Row {
                machine: Machine::ALL[0],
                ours: Cell::Measured(super::super::report::Stats {
                    median: 125.0,
                    min: 125.0,
                    max: 125.0,
                }),
                linux: Cell::Missing,
                case,
            })
            .collect();
        let bars = compare::chart_bars(&rows, THROUGHPUT_LABEL);
        assert_eq!(bars.len(), 5);
        assert!(
            bars[4]
                .label
                .ends_with("Unix socket, per 64 KiB write: ours")
        );
        assert_eq!(bars[4].stats.median, 500.0);
        assert_eq!(bars[0].stats.median, 125.0);
    }
}
