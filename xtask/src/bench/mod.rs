//! `cargo xtask bench …`: one submodule per benchmark, sharing the report writers.

mod boot;
mod compare;
mod container;
mod floor_kernel;
mod images;
mod linux_guest;
mod nine_p;
mod nine_p_many;
mod processes;
mod report;
mod runtime;
mod smp;
mod syscalls;
mod threads;

use std::time::Duration;

use anyhow::{Result, bail};

use crate::cli::{Bench, BenchArgs};

pub fn bench(args: BenchArgs) -> Result<u8> {
    match args.bench {
        Bench::Boot(args) => boot::bench(args),
        Bench::Syscalls(args) => syscalls::bench(args),
        Bench::NineP(args) => nine_p::bench(args),
        Bench::Container(args) => container::bench(args),
        Bench::Processes(args) => processes::bench(args),
        Bench::Threads(args) => threads::bench(args),
        Bench::Images(args) => images::bench(args),
        Bench::Runtime(args) => runtime::bench(args),
        Bench::Smp(args) => smp::bench(args),
    }?;
    Ok(0)
}

/// A benchmark boot: launched quietly, and anything but a clean exit 0 is an error carrying
/// the QEMU command line and all the guest printed. Returns the outcome with that same
/// description, for the caller's own parse errors.
fn boot_cleanly(
    invocation: &crate::qemu::Invocation,
    timeout: Duration,
    what: &str,
) -> Result<(crate::launch::Outcome, String)> {
    use crate::console::ExitStatus;
    use crate::launch::{Echo, LaunchOptions};
    let options = LaunchOptions {
        echo: Echo::Quiet,
        timeout: Some(timeout),
        inherit_stdin: false,
    };
    let outcome = crate::launch::launch(invocation, options)?;
    let context = format!(
        "{}\nconsole:\n{}{}",
        invocation.shell_line(),
        outcome.console,
        outcome.stderr
    );
    if outcome.timed_out || outcome.exit_status() != ExitStatus::Reported(0) {
        bail!(
            "{what}: {:?} (timed out: {})\n{context}",
            outcome.exit_status(),
            outcome.timed_out
        );
    }
    Ok((outcome, context))
}

/// Writes `spec` as `work/config.json` and loads the bundle as `cargo xtask run --bundle`
/// does (the benchmarks' own bundles: a root with the benchmark program, maybe a bind).
fn load_bench_bundle(
    work: &std::path::Path,
    spec: &serde_json::Value,
) -> Result<crate::bundle::Bundle> {
    use anyhow::Context;
    std::fs::write(work.join("config.json"), serde_json::to_vec_pretty(spec)?)
        .context("writing config.json")?;
    Ok(crate::bundle::load(
        work,
        &kernel::container::SandboxOptions::default(),
        &[],
        &work.join("scratch"),
    )?)
}

/// Boots `bundle` once with `log=warn` through [`boot_cleanly`]; the outcome and its
/// description for parse errors.
fn boot_bundle(
    kernel: &std::path::Path,
    bundle: &crate::bundle::Bundle,
    (machine, accel, memory): (
        crate::qemu::Machine,
        crate::qemu::Accel,
        crate::qemu::MemorySize,
    ),
    timeout: Duration,
) -> Result<(crate::launch::Outcome, String)> {
    boot_bundle_with_cpus(kernel, bundle, (machine, accel, memory), 1, timeout)
}

/// [`boot_bundle`] with `cpus` vCPUs.
fn boot_bundle_with_cpus(
    kernel: &std::path::Path,
    bundle: &crate::bundle::Bundle,
    (machine, accel, memory): (
        crate::qemu::Machine,
        crate::qemu::Accel,
        crate::qemu::MemorySize,
    ),
    cpus: u32,
    timeout: Duration,
) -> Result<(crate::launch::Outcome, String)> {
    use crate::cmdline::{kernel_cmdline, with_sandbox_options};
    use crate::host;
    let invocation = crate::qemu::Invocation {
        machine,
        accel,
        memory,
        cpus,
        kernel: kernel.to_owned(),
        cmdline: kernel_cmdline(
            &with_sandbox_options("", &[("log", "warn".to_owned())]),
            host::tsc_khz(&host::cpuinfo()),
        ),
        initrd: Some(bundle.spec_file.clone()),
        shares: bundle.shares.clone(),
    };
    boot_cleanly(&invocation, timeout, &format!("our sandbox on {machine}"))
}

/// The machines `--machine` names, or all of them when it names none.
/// What every guest-program benchmark starts from: the host set up, the target dir, the
/// guest programs and the release kernel built, the accelerator and the machines chosen.
struct Prepared {
    target: std::path::PathBuf,
    programs: crate::guest::TestPrograms,
    kernel: std::path::PathBuf,
    accel: crate::qemu::Accel,
    machines: Vec<crate::qemu::Machine>,
}

fn prepare(
    accel: crate::qemu::AccelRequest,
    machines: &[crate::qemu::Machine],
) -> Result<Prepared> {
    crate::setup::for_bench()?;
    let target = crate::cargo::target_dir()?;
    let programs = crate::guest::build_test_programs(&target)?;
    let kernel = crate::cargo::build_kernel(crate::cargo::Profile::Release)?;
    Ok(Prepared {
        target,
        programs,
        kernel,
        accel: crate::qemu::choose_accel(accel),
        machines: chosen_machines(machines),
    })
}

fn chosen_machines(requested: &[crate::qemu::Machine]) -> Vec<crate::qemu::Machine> {
    if requested.is_empty() {
        crate::qemu::Machine::ALL.to_vec()
    } else {
        requested.to_vec()
    }
}

/// The Linux guest a comparison needs, or `None` (with a notice) when `--no-linux` was given
/// or it cannot be had: the benchmark then reports our figures alone.
fn optional_linux<T>(no_linux: bool, prepare: impl FnOnce() -> Result<T>) -> Option<T> {
    if no_linux {
        return None;
    }
    prepare()
        .map_err(|error| {
            eprintln!(
                "xtask: the Linux guest is unavailable, reporting our figures alone: {error:#}"
            )
        })
        .ok()
}

/// The Linux guest and, written for it under `work`, an initramfs holding `contents`: what
/// a benchmark that runs one static program in both guests compares against.
fn linux_with_initramfs(
    target: &std::path::Path,
    work: &std::path::Path,
    contents: &linux_guest::InitramfsContents,
) -> Result<(linux_guest::LinuxGuest, std::path::PathBuf)> {
    let guest = linux_guest::prepare(target)?;
    let initramfs = work.join("linux-initramfs.cpio");
    linux_guest::write_initramfs(&guest, contents, &initramfs)?;
    Ok((guest, initramfs))
}

/// `runs` samples of one arm of a benchmark (`label`, e.g. "9p q35 ours"), each announced
/// with its `summary` as it lands so a long benchmark shows progress.
fn sample_runs<T>(
    label: &str,
    runs: u32,
    mut run: impl FnMut(u32) -> Result<T>,
    summary: impl Fn(&T) -> String,
) -> Result<Vec<T>> {
    (1..=runs)
        .map(|index| {
            let sample = run(index)?;
            eprintln!("xtask: bench {label} {index}/{runs} … {}", summary(&sample));
            Ok(sample)
        })
        .collect()
}
