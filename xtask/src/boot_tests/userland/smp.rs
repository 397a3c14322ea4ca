//! Issue 17's boot tests: the kernel on several vCPUs. On both machines with 1, 2 and 4
//! vCPUs, `smp-check N` (every report of the CPU count agrees, each CPU can be pinned to,
//! two CPU-bound threads and two processes get more than one CPU's worth of time on two
//! or more, judged on `/proc/stat`) and busybox `nproc`; at 4 vCPUs its `--stress` part
//! (map churn, fork while writing, the mutex counter, pipes across CPUs, a fork storm);
//! and, again at 4 vCPUs, issue 13's thread programs (Rust threads, tokio, pthreads, Go),
//! whose runtimes size themselves by the CPUs they see (tokio's workers, `GOMAXPROCS`),
//! and the process, pipe and FIFO cases.
//!
//! Several vCPUs run in parallel under TCG only with MTTCG, which QEMU 7.2 uses for x86
//! guests by default. No check looks at the host's clock.

use std::time::Duration;

use anyhow::{Context, Result};

use super::{Builder, output};
use crate::boot_tests::Case;
use crate::boot_tests::checks::Check::{Line, Status};
use crate::bundle;
use crate::qemu::Machine;
use kernel::container::SandboxOptions;

/// The vCPU counts every machine boots with.
const CPU_COUNTS: [u32; 3] = [1, 2, 4];
/// Cases run again at 4 vCPUs: the thread programs (their cases are made by `threads`),
/// whose runtimes size themselves by the CPUs they see, and process, pipe and FIFO cases
/// whose partners then meet on different CPUs (a FIFO open once hung there).
const AGAIN_AT_4: [&str; 7] = [
    "threads",
    "tokio-check",
    "pthreads",
    "go-check",
    "processes",
    "pipes",
    "fifo-round-trip",
];

/// A case on `machine` with `cpus` vCPUs running `args` with the usual spec.
fn on(
    builder: &Builder<'_>,
    machine: Machine,
    cpus: u32,
    name: &str,
    args: &[&str],
) -> Result<Case> {
    let name = format!("{name}-{cpus}cpu");
    let dir = builder.fixtures.bundle_dir(&format!("{machine}-{name}"))?;
    let config = dir.join("config.json");
    std::fs::write(
        &config,
        serde_json::to_vec_pretty(&builder.fixtures.spec(args))?,
    )
    .with_context(|| format!("writing {}", config.display()))?;
    let loaded = bundle::load(&dir, &SandboxOptions::default(), &[], &dir.join("scratch"))
        .with_context(|| format!("loading the bundle of boot test {name}"))?;
    Ok(Case::new(&name, machine, builder.accel)
        .bundle(&loaded)
        .cpus(cpus))
}

/// The cases of `made` named in [`AGAIN_AT_4`], again with 4 vCPUs.
pub fn again_at_4(made: &[Case]) -> Vec<Case> {
    AGAIN_AT_4
        .iter()
        .filter_map(|program| {
            let name = format!("{}-{program}", Machine::Microvm);
            let case = made.iter().find(|case| case.name == name)?;
            let mut case = case.clone().cpus(4);
            case.name = format!("{name}-4cpu");
            Some(case)
        })
        .collect()
}

pub fn cases(builder: &Builder<'_>) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for machine in Machine::ALL {
        for cpus in CPU_COUNTS {
            let count = cpus.to_string();
            cases.push(
                on(
                    builder,
                    machine,
                    cpus,
                    "smp-check",
                    &["/sbin/smp-check", &count],
                )?
                .expect(Line(&["smp-check: ", " passed, 0 failed"]))
                .expect(Status(0))
                .timeout(Duration::from_secs(180)),
            );
            cases.push(
                on(
                    builder,
                    machine,
                    cpus,
                    "busybox-nproc",
                    &["/bin/busybox", "nproc"],
                )?
                .expect(output(format!("{cpus}\n")))
                .expect(Status(0)),
            );
        }
        cases.push(
            on(
                builder,
                machine,
                4,
                "smp-stress",
                &["/sbin/smp-check", "4", "--stress"],
            )?
            .expect(Line(&["smp-check: ", " passed, 0 failed"]))
            .expect(Line(&[
                "ok   mutex counter: 8 threads x 100000 give exactly 800000",
            ]))
            .expect(Status(0))
            .timeout(Duration::from_secs(600)),
        );
    }
    Ok(cases)
}
