//! `cargo xtask bench smp`: how work scales over vCPUs in our sandbox and under a Linux
//! guest on the same QEMU machine and accelerator, with the same static program
//! (`smp-check --bench N` from `xtask/guest-tests`) at 1, 2 and 4 vCPUs: a fixed amount
//! of arithmetic split over N threads, and 160 fork + exec + wait split over N processes
//! (both timed whole, as wall time inside the guest). The scaling of a case at N vCPUs is
//! its 1-vCPU time over its N-vCPU time; the aim is ours at least Linux's.
//!
//! Several vCPUs run in parallel under TCG only with MTTCG (QEMU's default for x86 guests)
//! and only as far as the host has free cores: on a shared host the figures say more about
//! the host than the kernels, which is why both kernels run on it the same way.

use std::time::Duration;

use anyhow::Result;

use super::compare::{self, Case, Cell, Row};
use super::report;
use crate::cli::CompareBenchArgs;
use crate::qemu::{Machine, MemorySize};

const MEMORY: MemorySize = MemorySize::from_mib(256);
const TIMEOUT: Duration = Duration::from_secs(600);
const PROGRAM: &str = "/sbin/smp-check";
/// The vCPU counts measured, and the program's worker count at each.
const CPU_COUNTS: [u32; 3] = [1, 2, 4];

/// The two figures, labelled for `cpus` vCPUs.
fn cases(cpus: u32) -> Vec<Case> {
    // The chart names a bar by its label up to the first comma: the vCPUs come before it.
    let label = |what: &str| -> &'static str {
        Box::leak(format!("{what} {}, whole run", vcpus(cpus)).into_boxed_str())
    };
    vec![
        Case {
            label: label("parallel arithmetic at"),
            key: "parallel-burn".to_owned(),
            unit: "ms",
            scale: 1e-6,
            aim: None,
        },
        Case {
            label: label("fork + exec + wait storm at"),
            key: "fork-exec-storm".to_owned(),
            unit: "ms",
            scale: 1e-6,
            aim: None,
        },
    ]
}

/// "1 vCPU", "2 vCPUs".
fn vcpus(cpus: u32) -> String {
    format!("{cpus} vCPU{}", if cpus == 1 { "" } else { "s" })
}

fn program_args(cpus: u32) -> Vec<String> {
    vec![PROGRAM.to_owned(), "--bench".to_owned(), cpus.to_string()]
}

/// Median of a cell, when it was measured.
fn median(cell: &Cell) -> Option<f64> {
    cell.stats().map(|stats| stats.median)
}

/// Scaling lines: for each machine and case, 1-vCPU time / N-vCPU time, ours and Linux's.
fn scaling(rows: &[Row]) -> String {
    let mut text = String::new();
    for machine in Machine::ALL {
        for key in ["parallel-burn", "fork-exec-storm"] {
            let of = |cpus: u32| {
                let at = format!(" at {},", vcpus(cpus));
                rows.iter().find(|row| {
                    row.machine == machine && row.case.key == key && row.case.label.contains(&at)
                })
            };
            let Some(base) = of(1) else { continue };
            for cpus in [2, 4] {
                let Some(row) = of(cpus) else { continue };
                let ratio = |one: &Cell, many: &Cell| match (median(one), median(many)) {
                    (Some(one), Some(many)) if many > 0.0 => Some(one / many),
                    _ => None,
                };
                let ours = ratio(&base.ours, &row.ours);
                let linux = ratio(&base.linux, &row.linux);
                let show =
                    |value: Option<f64>| value.map_or("n/a".to_owned(), |v| format!("{v:.2}×"));
                let verdict = match (ours, linux) {
                    (Some(ours), Some(linux)) if ours >= linux => "aim met (ours ≥ Linux's)",
                    (Some(_), Some(_)) => "aim missed (ours < Linux's)",
                    _ => "not judged",
                };
                text.push_str(&format!(
                    "- {machine} {key} at {cpus} vCPUs: ours {}, Linux {}: {verdict}\n",
                    show(ours),
                    show(linux)
                ));
            }
        }
    }
    text
}

pub fn bench(args: CompareBenchArgs) -> Result<()> {
    let super::Prepared {
        target,
        programs,
        kernel,
        accel,
        machines,
    } = super::prepare(args.accel.accel, &args.machine)?;
    let mut rows = Vec::new();
    for cpus in CPU_COUNTS {
        let work = target.join("bench").join(format!("smp-work-{cpus}"));
        let arguments = program_args(cpus);
        let ours_bundle =
            compare::program_bundle(&work, &[(&programs.smp_check, PROGRAM)], &arguments)?;
        let linux = super::optional_linux(args.no_linux, || {
            let contents = compare::program_initramfs(PROGRAM, &programs.smp_check, &arguments);
            super::linux_with_initramfs(&target, &work, &contents)
        });
        let sides = compare::Sides {
            name: "smp",
            runs: args.runs,
            ours: |machine| {
                compare::run_ours_with_cpus(
                    &kernel,
                    &ours_bundle,
                    (machine, accel, MEMORY),
                    cpus,
                    TIMEOUT,
                )
            },
            linux: linux.as_ref().map(|(guest, initramfs)| {
                move |machine| {
                    compare::run_linux_with_cpus(
                        guest,
                        initramfs,
                        (machine, accel, MEMORY),
                        cpus,
                        TIMEOUT,
                    )
                }
            }),
            throughput_key: None,
        };
        rows.extend(compare::measure(&machines, || cases(cpus), sides)?);
        let _ = std::fs::remove_dir_all(&work);
    }
    let title = format!(
        "Scaling over vCPUs, accel {accel}, {} boots per figure: median (min–max)",
        args.runs
    );
    let table = compare::table(&rows);
    let scaling = scaling(&rows);
    println!(
        "\n{title}\n\n{}\nScaling (1-vCPU time / N-vCPU time):\n{scaling}",
        table.markdown()
    );
    let markdown = format!(
        "# {title}\n\n{}\n\
         Scaling (1-vCPU time / N-vCPU time; the issue's aim: ours at least Linux's):\n\n{scaling}\n\
         Each boot runs `{PROGRAM} --bench N` with N = the vCPUs, as our container's init and \
         from the Linux guest's `/init`: 2·10⁹ rounds of integer arithmetic split over N \
         threads, then 160 fork + exec (`{PROGRAM} --noop`) + wait split over N processes; \
         each figure is the wall time of the whole. QEMU runs the vCPUs in parallel under \
         TCG with MTTCG, as far as the host's free cores allow: the machine is shared with \
         other builds, so read the medians and compare the two kernels, not absolute speed.\n",
        table.markdown()
    );
    let dir = target.join("bench");
    report::write(&dir.join("smp.md"), &markdown)?;
    report::write(
        &dir.join("smp.svg"),
        &report::svg_log_bar_chart(&title, "µs", &compare::chart_bars(&rows, "")),
    )?;
    eprintln!("xtask: wrote {} and smp.svg", dir.join("smp.md").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_key_is_what_the_program_prints() {
        let source = std::fs::read_to_string(
            crate::cargo::workspace_root().join("xtask/guest-tests/src/bin/smp_check.rs"),
        )
        .unwrap();
        for case in cases(2) {
            assert!(
                source.contains(&format!("bench {} ", case.key)),
                "smp-check prints no `bench {}` line",
                case.key
            );
        }
    }
}
