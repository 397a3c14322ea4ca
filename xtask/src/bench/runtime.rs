//! `cargo xtask bench runtime`: what podman users feel — `podman run --rm --network none
//! IMAGE true` (a busybox image made with `podman import`) with `sandbox-runtime`, runc and
//! crun as podman's `--runtime`, side by side, runs interleaved so a busy moment of the
//! machine falls on all three alike. Issue 16's aim: within 1.5× of runc under TCG, below
//! runc where KVM exists.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::report::{self, Bar, Stats, Table};
use crate::cargo::{self, Profile};
use crate::cli::RuntimeBenchArgs;
use crate::host;
use crate::oci::{self, PODMAN_RUN_FLAGS};
use crate::qemu::{self, Accel, AccelRequest};
use crate::setup::{self, CONTAINER_TOOLS, CRUN, PODMAN, RUNC};

/// One `podman run --rm … true` with `runtime`: wall milliseconds.
fn podman_true(runtime: &std::path::Path, image: &str) -> Result<f64> {
    let started = Instant::now();
    let mut command = Command::new(PODMAN);
    command
        .arg("--runtime")
        .arg(runtime)
        .args(["run", "--rm"])
        .args(PODMAN_RUN_FLAGS)
        .args([image, "true"]);
    let output = oci::run(&mut command, None, std::time::Duration::from_secs(120))
        .map_err(anyhow::Error::msg)?;
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    if !output.status.success() {
        bail!(
            "podman run with {}: {}",
            runtime.display(),
            oci::describe(&output)
        );
    }
    Ok(wall)
}

pub fn bench(args: RuntimeBenchArgs) -> Result<()> {
    setup::for_bench()?;
    setup::ensure_packages(&CONTAINER_TOOLS)?;
    if !host::is_root() {
        bail!("bench runtime drives rootful podman: run it as root");
    }
    let target = cargo::target_dir()?;
    cargo::build_kernel(Profile::Release)?;
    let ours = cargo::build_runtime(Profile::Release)?;
    let accel = qemu::choose_accel(AccelRequest::Auto);
    let work = target.join("bench").join("runtime-work");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let image = oci::podman_image(&oci::busybox_root(&work)?)?;
    let find = |name: &str| host::find_in_path(name).with_context(|| format!("{name} not found"));
    let runtimes: Vec<(&str, PathBuf)> = vec![
        ("sandbox-runtime", ours),
        ("runc", find(RUNC)?),
        ("crun", find(CRUN)?),
    ];
    // A runtime that cannot run here at all (crun refuses this machine's hybrid cgroups) is
    // reported with its error; ours and runc must run.
    let mut unavailable: Vec<Option<String>> = Vec::new();
    for (name, path) in &runtimes {
        match podman_true(path, image) {
            Ok(wall) => {
                eprintln!("xtask: bench runtime warm-up {name} … {wall:.0} ms");
                unavailable.push(None);
            }
            Err(error) if *name == "crun" => {
                eprintln!("xtask: bench runtime: {name} cannot run here: {error:#}");
                unavailable.push(Some(format!("{error:#}")));
            }
            Err(error) => return Err(error),
        }
    }
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); runtimes.len()];
    for index in 1..=args.runs {
        for (((name, path), samples), unavailable) in
            runtimes.iter().zip(&mut samples).zip(&unavailable)
        {
            if unavailable.is_some() {
                continue;
            }
            let wall = podman_true(path, image)?;
            eprintln!(
                "xtask: bench runtime {name} {index}/{} … {wall:.0} ms",
                args.runs
            );
            samples.push(wall);
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    let stats: Vec<Option<Stats>> = samples.iter().map(|samples| Stats::of(samples)).collect();
    let runc_median = stats[1].as_ref().map(|stats| stats.median);
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for (((name, _), stats), unavailable) in runtimes.iter().zip(&stats).zip(&unavailable) {
        let Some(stats) = stats else {
            let why = unavailable.as_deref().unwrap_or("no figure");
            let why = why.lines().last().unwrap_or(why).replace('|', "/");
            rows.push(vec![
                (*name).to_owned(),
                "—".to_owned(),
                format!("n/a: {}", why.trim()),
                "—".to_owned(),
            ]);
            continue;
        };
        let ratio = runc_median.map_or("—".to_owned(), |runc| {
            format!("{:.2}", stats.median / runc)
        });
        rows.push(vec![
            (*name).to_owned(),
            if *name == "sandbox-runtime" {
                accel.to_string()
            } else {
                "— (host)".to_owned()
            },
            stats.describe("ms"),
            ratio,
        ]);
        bars.push(Bar {
            label: (*name).to_owned(),
            stats: *stats,
        });
    }
    let aim = match (stats[0].as_ref(), runc_median) {
        (Some(ours), Some(runc)) => {
            let ratio = ours.median / runc;
            let (limit, words) = if accel == Accel::Tcg {
                (1.5, "within 1.5× of runc under TCG")
            } else {
                (1.0, "below runc with KVM")
            };
            format!(
                "Aim ({words}): {} — ours / runc = {ratio:.2} in this run's medians.",
                if ratio <= limit { "met" } else { "not met" }
            )
        }
        _ => "Aim: not judged (a runtime gave no figure).".to_owned(),
    };
    let table = Table {
        columns: [
            "runtime",
            "accel",
            "podman run --rm --network none IMAGE true",
            "÷ runc",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    };
    let title = format!(
        "podman run --rm true by OCI runtime, {} runs each: median (min–max)",
        args.runs
    );
    println!("\n{title}\n\n{}\n{aim}", table.markdown());
    let markdown = format!(
        "# {title}\n\n{}\n{aim}\n\nWall time of the whole `podman run` (podman, conmon, the runtime's \
         create/start/delete, the container, podman's cleanup), runs interleaved across the \
         runtimes after one warm-up each. Ours boots a VM ({accel}); runc and crun start a \
         host process. Noisy on a shared machine: read the medians.\n",
        table.markdown()
    );
    let dir = target.join("bench");
    report::write(&dir.join("runtime.md"), &markdown)?;
    report::write(
        &dir.join("runtime.svg"),
        &report::svg_bar_chart(&title, "ms", &bars),
    )?;
    eprintln!(
        "xtask: wrote {} and runtime.svg",
        dir.join("runtime.md").display()
    );
    Ok(())
}
