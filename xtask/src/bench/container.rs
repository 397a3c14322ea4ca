//! `cargo xtask bench container`: what it costs to start a container. For the default
//! bundle (the one `cargo xtask run` boots) and for one with 100 mounts (23 bind mounts,
//! one 9p device each, and 77 tmpfs), on each machine: the guest's time from PVH entry to
//! the init's first instruction (the kernel's `init started` phase), the time the mount
//! namespace took to build (`namespace built: N mounts in X us`), and the host's wall time
//! from QEMU launch to exit.
//!
//! 23 bind mounts because microvm has 24 virtio-mmio slots and the root takes one.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use kernel::container::SandboxOptions;
use serde_json::json;

use super::report::{self, Bar, Stats, Table};
use crate::bundle::{self, Bundle};
use crate::cargo::{self, Profile};
use crate::cli::CompareBenchArgs as ContainerBenchArgs;
use crate::cmdline::{kernel_cmdline, with_sandbox_options};
use crate::console;
use crate::guest;
use crate::host;
use crate::qemu::{self, Accel, Invocation, Machine, MemorySize};
use crate::setup;

const MEMORY: MemorySize = MemorySize::from_mib(256);
const TIMEOUT: Duration = Duration::from_secs(120);
const BIND_MOUNTS: usize = 23;
const TMPFS_MOUNTS: usize = 77;

/// One boot's figures, in milliseconds.
struct Sample {
    init_started: f64,
    namespace: f64,
    mounts: usize,
    wall: f64,
}

/// Writes the 100-mount bundle: a root with busybox, 23 bind sources, 77 tmpfs mounts.
fn write_many_mounts_bundle(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir.join("rootfs/bin")).context("creating the bundle's rootfs")?;
    std::fs::copy("/bin/busybox", dir.join("rootfs/bin/busybox"))
        .context("copying /bin/busybox")?;
    let mut mounts = Vec::new();
    for index in 0..BIND_MOUNTS {
        let source = format!("binds/b{index}");
        std::fs::create_dir_all(dir.join(&source)).context("creating a bind source")?;
        mounts.push(json!({"destination": format!("/binds/b{index}"), "type": "bind", "source": source, "options": ["rbind", "rw"]}));
    }
    for index in 0..TMPFS_MOUNTS {
        mounts.push(json!({"destination": format!("/tmpfs/t{index}"), "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}));
    }
    let spec = json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": ["/bin/busybox", "true"], "env": ["PATH=/bin"], "cwd": "/"},
        "mounts": mounts,
    });
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&spec)?)
        .context("writing config.json")
}

fn boot(kernel: &Path, bundle: &Bundle, machine: Machine, accel: Accel) -> Result<Sample> {
    let invocation = Invocation {
        machine,
        accel,
        memory: MEMORY,
        cpus: 1,
        kernel: kernel.to_owned(),
        cmdline: kernel_cmdline(
            &with_sandbox_options("", &[("log", "info".to_owned())]),
            host::tsc_khz(&host::cpuinfo()),
        ),
        initrd: Some(bundle.spec_file.clone()),
        shares: bundle.shares.clone(),
    };
    let (outcome, context) = super::boot_cleanly(&invocation, TIMEOUT, &machine.to_string())?;
    let init_started = outcome
        .console
        .lines()
        .filter_map(console::split_timestamp)
        .find(|(_, text)| *text == "init started")
        .map(|(seconds, _)| seconds * 1000.0)
        .with_context(|| format!("no `init started` phase\n{}", context.clone()))?;
    let (mounts, namespace) = namespace_built(&outcome.console)
        .with_context(|| format!("no `namespace built` line\n{}", context.clone()))?;
    Ok(Sample {
        init_started,
        namespace,
        mounts,
        wall: outcome.wall.as_secs_f64() * 1000.0,
    })
}

/// `namespace built: N mounts in X us` → (N, milliseconds).
fn namespace_built(console: &str) -> Option<(usize, f64)> {
    let line = console
        .lines()
        .find_map(|line| line.split_once("namespace built: ").map(|(_, rest)| rest))?;
    let (mounts, rest) = line.split_once(" mounts in ")?;
    let micros: f64 = rest.strip_suffix(" us")?.trim().parse().ok()?;
    Some((mounts.trim().parse().ok()?, micros / 1000.0))
}

pub fn bench(args: ContainerBenchArgs) -> Result<()> {
    setup::for_bench()?;
    let target = cargo::target_dir()?;
    let kernel = cargo::build_kernel(Profile::Release)?;
    let init = guest::build_init(&target)?;
    let accel = qemu::choose_accel(args.accel.accel);
    let machines = super::chosen_machines(&args.machine);
    let work = target.join("bench").join("container-work");
    let (default_dir, _) = bundle::prepare_default_bundle_in(&work.join("default"), &init)?;
    let many_dir = work.join("many-mounts");
    write_many_mounts_bundle(&many_dir)?;
    let options = SandboxOptions::default();
    let bundles = [
        (
            "default bundle",
            bundle::load(&default_dir, &options, &[], &work.join("scratch-default"))?,
        ),
        (
            "100 mounts (23 bind, 77 tmpfs)",
            bundle::load(&many_dir, &options, &[], &work.join("scratch-many"))?,
        ),
    ];

    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for machine in machines {
        for (name, bundle) in &bundles {
            let samples = super::sample_runs(
                &format!("container {machine} {name}"),
                args.runs,
                |_| boot(&kernel, bundle, machine, accel),
                |sample| {
                    format!(
                        "init at {:.1} ms, namespace {:.2} ms, wall {:.0} ms",
                        sample.init_started, sample.namespace, sample.wall
                    )
                },
            )?;
            let stats =
                |pick: fn(&Sample) -> f64| Stats::of(&samples.iter().map(pick).collect::<Vec<_>>());
            let (init, namespace, wall) = (
                stats(|s| s.init_started),
                stats(|s| s.namespace),
                stats(|s| s.wall),
            );
            let describe = |stats: Option<Stats>| {
                stats.map_or_else(|| "—".to_owned(), |stats| stats.describe("ms"))
            };
            rows.push(vec![
                machine.to_string(),
                accel.to_string(),
                (*name).to_owned(),
                samples.first().map_or(0, |s| s.mounts).to_string(),
                describe(init),
                describe(namespace),
                describe(wall),
            ]);
            if let Some(stats) = init {
                bars.push(Bar {
                    label: format!("{machine} {name}: PVH entry → init"),
                    stats,
                });
            }
            if let Some(stats) = namespace {
                bars.push(Bar {
                    label: format!("{machine} {name}: namespace build"),
                    stats,
                });
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    let table = Table {
        columns: [
            "machine",
            "accel",
            "bundle",
            "mounts",
            "guest: PVH entry → init",
            "namespace build",
            "host: QEMU launch → exit",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    };
    let title = format!(
        "Container start, accel {accel}, {} boots per figure: median (min–max)",
        args.runs
    );
    println!("\n{title}\n\n{}", table.markdown());
    let markdown = format!(
        "# {title}\n\n{}\n`mounts` counts the root and the mandatory mounts too. Under TCG most of the \
         guest's time is QEMU translating code the first time it runs; the figures are noisy on a \
         shared machine: read the medians.\n",
        table.markdown()
    );
    let dir = target.join("bench");
    report::write(&dir.join("container.md"), &markdown)?;
    report::write(
        &dir.join("container.svg"),
        &report::svg_bar_chart(&title, "ms", &bars),
    )?;
    eprintln!(
        "xtask: wrote {} and container.svg",
        dir.join("container.md").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_namespace_line() {
        let console = "[  0.010000] INFO  sandbox: namespace built: 106 mounts in 87455 us\n";
        assert_eq!(super::namespace_built(console), Some((106, 87.455)));
        assert_eq!(super::namespace_built("nothing here"), None);
    }
}
