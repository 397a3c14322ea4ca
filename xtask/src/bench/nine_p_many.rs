//! `cargo xtask bench 9p`, second part (issue 18): `du -s` and `ls -l` over one directory
//! of 40,000 files on a bind mount, cold (the first run after boot) and warm (the same
//! command again), in our sandbox with `file_access_mounts=exclusive` and `=shared`, and
//! in the Linux guest with `cache=loose` and `cache=none`; and what our kernel's budget
//! holds per cached entry after the exclusive `du` runs.
//!
//! Both guests run the same commands under busybox's `time -f %e` (10 ms resolution), and
//! each command gets its own mount of the host directory (`du` one, `ls` another), so
//! `ls -l` cold is not warmed by `du`. The host directory is the boot tests' (see
//! `boot_tests::userland::many_files`); it is made once and shared by every boot.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::linux_guest::{self, GuestMount, InitramfsContents};
use super::report::{self, Stats, Table};
use crate::boot_tests::userland::many_files::{FILES, write_many_files};
use crate::cmdline::kernel_cmdline;
use crate::host;
use crate::qemu::{Accel, Invocation, Machine, MemorySize, Share};

const MEMORY: MemorySize = MemorySize::from_mib(512);
const TIMEOUT: Duration = Duration::from_secs(1800);
const MACHINE: Machine = Machine::Microvm;

/// What one boot prints: `many KEY VALUE` lines.
type Figures = Vec<(String, f64)>;

/// The commands: `du` in `du_dir`, `ls` in `ls_dir`, each cold then warm; `suffix` tells
/// the mounts' figures apart.
fn timed_commands(du_dir: &str, ls_dir: &str, suffix: &str) -> Vec<String> {
    let time = |key: &str, command: &str| {
        format!("busybox time -f 'many {key}{suffix} %e' busybox {command} > /dev/null")
    };
    vec![
        format!("cd {du_dir}"),
        time("du-cold", "du -s ."),
        time("du-warm", "du -s ."),
        format!("cd {ls_dir}"),
        time("ls-cold", "ls -l"),
        time("ls-warm", "ls -l"),
    ]
}

fn parse(console: &str) -> Figures {
    console
        .lines()
        .filter_map(|line| line.split_once("many ").map(|(_, rest)| rest))
        .filter_map(|rest| {
            let mut words = rest.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.parse().ok()?))
        })
        .collect()
}

/// One boot of ours with `file_access_mounts=mode`.
fn run_ours(kernel: &Path, work: &Path, many: &Path, mode: &str, accel: Accel) -> Result<Figures> {
    let bundle_dir = work.join(format!("ours-{mode}"));
    std::fs::create_dir_all(bundle_dir.join("rootfs/bin")).context("making the bundle")?;
    std::fs::copy("/bin/busybox", bundle_dir.join("rootfs/bin/busybox"))
        .context("copying /bin/busybox")?;
    let mut script = vec![
        "free() { busybox awk '/MemFree/ {print $2}' /proc/meminfo; }".to_owned(),
        "before=$(free)".to_owned(),
    ];
    script.extend(timed_commands("/du", "/ls", ""));
    // After both `du`s and both `ls`s: what the budget holds for the cached names.
    script.push("echo \"many cached-kib $((before - $(free)))\"".to_owned());
    let spec = json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": ["/bin/busybox", "sh", "-c", script.join("\n")],
            "env": ["PATH=/bin"], "cwd": "/"},
        "mounts": [
            {"destination": "/du", "type": "bind", "source": many, "options": ["rbind", "ro"]},
            {"destination": "/ls", "type": "bind", "source": many, "options": ["rbind", "ro"]}
        ]
    });
    let bundle = super::load_bench_bundle(&bundle_dir, &spec)?;
    let invocation = Invocation {
        machine: MACHINE,
        accel,
        memory: MEMORY,
        cpus: 1,
        kernel: kernel.to_owned(),
        cmdline: kernel_cmdline(
            &format!("file_access_mounts={mode} log=warn"),
            host::tsc_khz(&host::cpuinfo()),
        ),
        initrd: Some(bundle.spec_file.clone()),
        shares: bundle.shares.clone(),
    };
    let (outcome, context) =
        super::boot_cleanly(&invocation, TIMEOUT, &format!("9p many files, {mode}"))?;
    let figures = parse(&outcome.console);
    if figures.len() != 5 {
        bail!("9p many files, {mode}: expected 5 figures, got {figures:?}\n{context}");
    }
    Ok(figures)
}

fn run_linux(target: &Path, work: &Path, many: &Path, accel: Accel) -> Result<Figures> {
    let guest = linux_guest::prepare(target)?;
    let mounts = [
        ("m0", "/du-loose", "loose"),
        ("m1", "/ls-loose", "loose"),
        ("m2", "/du-none", "none"),
        ("m3", "/ls-none", "none"),
    ];
    let mut commands = timed_commands("/du-loose", "/ls-loose", "-loose");
    commands.extend(timed_commands("/du-none", "/ls-none", "-none"));
    let contents = InitramfsContents {
        mounts: mounts
            .iter()
            .map(|(tag, mount_point, cache)| GuestMount {
                tag: (*tag).into(),
                mount_point: (*mount_point).into(),
                cache: (*cache).into(),
            })
            .collect(),
        load_modules: true,
        commands,
        ..InitramfsContents::default()
    };
    let initramfs = work.join("linux-many-initramfs.cpio");
    linux_guest::write_initramfs(&guest, &contents, &initramfs)?;
    let shares = mounts
        .iter()
        .map(|(tag, _, _)| Share {
            tag: (*tag).into(),
            path: many.to_owned(),
            readonly: true,
        })
        .collect();
    let invocation = linux_guest::invocation(&guest, MACHINE, accel, MEMORY, &initramfs, shares);
    let run = linux_guest::boot(&invocation, TIMEOUT)?;
    let figures = parse(&run.console);
    if figures.len() != 8 {
        bail!(
            "Linux guest, many files: expected 8 figures, got {figures:?}\n{}",
            run.console
        );
    }
    Ok(figures)
}

/// Runs the comparison `runs` times; returns its Markdown section.
pub fn bench(
    kernel: &Path,
    target: &Path,
    work: &Path,
    accel: Accel,
    runs: u32,
    with_linux: bool,
) -> Result<String> {
    let many = work.join("many-files");
    write_many_files(&many, FILES)?;
    let mut samples: Vec<(String, Vec<f64>)> = Vec::new();
    let mut record = |figures: Figures, column: &str| {
        for (key, value) in figures {
            let key = format!("{column} {key}");
            match samples.iter_mut().find(|(k, _)| *k == key) {
                Some((_, values)) => values.push(value),
                None => samples.push((key, vec![value])),
            }
        }
    };
    for index in 0..runs {
        for mode in ["exclusive", "shared"] {
            let figures = run_ours(kernel, work, &many, mode, accel)?;
            eprintln!(
                "xtask: 9p many files, ours {mode}, run {}: {figures:?}",
                index + 1
            );
            record(figures, mode);
        }
        if with_linux {
            match run_linux(target, work, &many, accel) {
                Ok(figures) => {
                    eprintln!(
                        "xtask: 9p many files, Linux, run {}: {figures:?}",
                        index + 1
                    );
                    record(figures, "linux");
                }
                Err(error) => eprintln!("xtask: 9p many files, Linux guest failed: {error:#}"),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&many);
    let cell = |key: &str, unit: &str| {
        samples
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, values)| Stats::of(values))
            .map_or_else(|| "—".to_owned(), |stats| stats.describe(unit))
    };
    let mut rows = Vec::new();
    for (key, label) in [
        ("du-cold", "du -s, cold"),
        ("du-warm", "du -s, warm"),
        ("ls-cold", "ls -l, cold"),
        ("ls-warm", "ls -l, warm"),
    ] {
        rows.push(vec![
            label.to_owned(),
            cell(&format!("exclusive {key}"), "s"),
            cell(&format!("shared {key}"), "s"),
            cell(&format!("linux {key}-loose"), "s"),
            cell(&format!("linux {key}-none"), "s"),
        ]);
    }
    let per_entry = |mode: &str| {
        samples
            .iter()
            .find(|(k, _)| *k == format!("{mode} cached-kib"))
            .and_then(|(_, values)| {
                // Two mounts (`/du`, `/ls`), each caching every file.
                let per_entry = |kib: &f64| kib * 1024.0 / (2 * FILES) as f64;
                Stats::of(&values.iter().map(per_entry).collect::<Vec<_>>())
            })
            .map_or_else(|| "—".to_owned(), |stats| stats.describe("B"))
    };
    rows.push(vec![
        "budget held per cached entry after du and ls".to_owned(),
        per_entry("exclusive"),
        per_entry("shared"),
        "—".to_owned(),
        "—".to_owned(),
    ]);
    let table = Table {
        columns: [
            "40,000 files, one directory",
            "ours exclusive",
            "ours shared",
            "Linux cache=loose",
            "Linux cache=none",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    };
    let title = format!(
        "9p, {FILES} files in one directory, {MACHINE}, accel {accel}, {runs} boots per figure: median (min–max)"
    );
    println!("\n{title}\n\n{}", table.markdown());
    let markdown = format!(
        "# {title}\n\n{}\n\
         Each figure is busybox's `time -f %e` (10 ms resolution) in the guest; `du` and `ls` each \
         get their own mount of the host directory, so cold means no earlier command read it. \
         \"Budget held\" is the drop of `MemFree` (our kernel reports its memory budget there) over \
         all four commands, per cached entry (each file is cached once per mount, two mounts): \
         dentries, inodes and listings as charged; the host test `p9_entry_memory` measures the \
         heap bytes themselves. The machine is shared \
         with other builds: the figures are noisy.\n",
        table.markdown()
    );
    report::write(&target.join("bench").join("9p-many.md"), &markdown)?;
    Ok(markdown)
}
