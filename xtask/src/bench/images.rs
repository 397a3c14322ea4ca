//! `cargo xtask bench images`: how long real programs of a Debian image take in our sandbox
//! and under a Linux guest on the same QEMU machine, accelerator and memory, over the same
//! Debian bookworm minbase root filesystem (with python3 and sqlite3: the boot tests' tree,
//! from `rootfs::debian`'s cache) shared over 9p: `python3 -c pass`, `/bin/ls -la /usr/bin`
//! and `bash -c true`, each dynamically linked.
//!
//! The same static program, `exec-bench` (`xtask/guest-tests`), runs each one ten times and
//! times each run from before its `fork` to after its `waitpid` (the program's whole life:
//! `execve`, the dynamic loader, its libraries read over 9p, its exit), the same clock on
//! both sides: the first run (cold: nothing of the tree cached yet in that boot) and the mean
//! of the nine after it (warm) are two rows. QEMU's launch and each kernel's boot are left
//! out on purpose: Linux's takes seconds and would hide the programs.
//!
//! Ours: the tree is the root (9p `rootfs`, the default memory overlay on top,
//! `file_access=exclusive`), `exec-bench` comes in on a read-only bind mount at
//! `/opt/xtask-bench`. Linux: a busybox initramfs holding `exec-bench` mounts the tree read
//! only over 9p with `cache=loose` (Linux's caching mode closest to our exclusive root) at
//! `/newroot`, with `proc`, `devtmpfs` and a `/tmp` tmpfs inside it, and `exec-bench
//! --chroot /newroot` runs the programs there. Until the kernel loads `PT_INTERP`
//! interpreters our side shows "n/a (execve: …)".

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use super::compare::{self, Case};
use super::linux_guest::{self, GuestMount, InitramfsContents};
use super::report;
use crate::cli::CompareBenchArgs;
use crate::host;
use crate::qemu::{MemorySize, Share};
use crate::rootfs::debian::TEST_PACKAGES;
use crate::rootfs::{self, DebianTree};

const MEMORY: MemorySize = MemorySize::from_mib(256);
const TIMEOUT: Duration = Duration::from_secs(600);
/// Runs of each program per boot: the first is cold, the rest are averaged.
const RUNS: u32 = 10;
/// Where `exec-bench` is in our sandbox (a bind mount) and in the Linux initramfs.
const OURS_DIR: &str = "/opt/xtask-bench";
const LINUX_PROGRAM: &str = "/sbin/exec-bench";
/// Where the Linux guest mounts the tree.
const LINUX_ROOT: &str = "/newroot";

/// (name in the `bench` lines, the command, the labels of its first and warm runs).
const PROGRAMS: &[(&str, &str, [&str; 2])] = &[
    (
        "python3",
        "/usr/bin/python3 -c pass",
        [
            "python3 -c pass, first run (cold)",
            "python3 -c pass, later runs (warm)",
        ],
    ),
    (
        "ls",
        "/bin/ls -la /usr/bin",
        [
            "ls -la /usr/bin, first run (cold)",
            "ls -la /usr/bin, later runs (warm)",
        ],
    ),
    (
        "bash",
        "/bin/bash -c true",
        [
            "bash -c true, first run (cold)",
            "bash -c true, later runs (warm)",
        ],
    ),
];

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for &(name, _, [first, warm]) in PROGRAMS {
        for (kind, label) in [("first", first), ("warm", warm)] {
            cases.push(Case {
                label,
                key: format!("{kind}-{name}"),
                unit: "ms",
                scale: 1e-6,
                aim: None,
            });
        }
    }
    cases
}

/// `exec-bench`'s arguments after its path: the runs, then one `NAME=COMMAND` per program.
fn bench_args() -> Vec<String> {
    let mut args = vec!["--runs".to_owned(), RUNS.to_string()];
    args.extend(
        PROGRAMS
            .iter()
            .map(|(name, command, _)| format!("{name}={command}")),
    );
    args
}

pub fn bench(args: CompareBenchArgs) -> Result<()> {
    let super::Prepared {
        target,
        programs,
        kernel,
        accel,
        machines,
    } = super::prepare(args.accel.accel, &args.machine)?;
    let tree = rootfs::cached_tree(&target, &DebianTree::new(TEST_PACKAGES))
        .context("the Debian root filesystem the benchmark runs in")?;
    let work = target.join("bench").join("images-work");
    let ours_bundle = write_bundle(&work, &tree, &programs.exec_bench)?;
    let shares = vec![Share {
        tag: "m0".into(),
        path: tree.clone(),
        readonly: true,
    }];
    let linux = super::optional_linux(args.no_linux, || {
        super::linux_with_initramfs(&target, &work, &linux_contents(&programs.exec_bench))
    });
    let sides = compare::Sides {
        name: "images",
        runs: args.runs,
        ours: |machine| compare::run_ours(&kernel, &ours_bundle, (machine, accel, MEMORY), TIMEOUT),
        linux: linux.as_ref().map(|(guest, initramfs)| {
            let shares = &shares;
            move |machine| {
                compare::run_linux(guest, initramfs, shares, (machine, accel, MEMORY), TIMEOUT)
            }
        }),
        throughput_key: None,
    };
    let rows = compare::measure(&machines, cases, sides)?;
    let _ = std::fs::remove_dir_all(&work);

    let title = format!(
        "Debian programs, accel {accel}, {} boots per figure: median (min–max)",
        args.runs
    );
    let table = compare::table(&rows);
    println!("\n{title}\n\n{}", table.markdown());
    let linux_note = match &linux {
        Some((guest, _)) => format!(
            "Linux is Debian's `{}` (PVH `vmlinux`, kernel command line `{}`), on the same \
             machine, accelerator and memory ({MEMORY}), 1 vCPU; its busybox initramfs mounts \
             the tree read-only over 9p with `cache=loose` at `{LINUX_ROOT}` and runs \
             `exec-bench --chroot {LINUX_ROOT}`.",
            guest.package,
            linux_guest::cmdline(accel, host::tsc_khz(&host::cpuinfo()))
        ),
        None => {
            "The Linux guest was unavailable (see the run's stderr): our figures alone.".to_owned()
        }
    };
    let markdown = format!(
        "# {title}\n\n{}\n\
         The tree: {} ({}). Each boot runs `exec-bench {}`: every program {RUNS} times in \
         turn, each run timed from before its `fork` to after its `waitpid` (its `execve`, \
         dynamic loader, libraries read over 9p and exit; stdout and stderr on `/dev/null`), \
         the first run as \"cold\" and the mean of the other {} as \"warm\". QEMU's launch and \
         the kernels' boots are not in these figures. Ours: the tree is the sandbox's root \
         (9p, memory overlay, `file_access=exclusive`), `exec-bench` on a read-only bind \
         mount. {linux_note} \"n/a (execve: ERRNO)\": the program could not be executed \
         there (before the kernel loads `PT_INTERP` interpreters, every one of ours). The \
         machine is shared with other builds, so figures are noisy: read the medians.\n",
        table.markdown(),
        DebianTree::new(TEST_PACKAGES).describe(),
        tree.display(),
        bench_args().join(" "),
        RUNS - 1,
    );
    let dir = target.join("bench");
    report::write(&dir.join("images.md"), &markdown)?;
    report::write(
        &dir.join("images.svg"),
        &report::svg_log_bar_chart(&title, "ms", &chart_bars(&rows)),
    )?;
    eprintln!(
        "xtask: wrote {} and images.svg",
        dir.join("images.md").display()
    );
    Ok(())
}

/// Both sides' bars in ms, each labelled with its whole case (the first and the warm runs of
/// one program differ only after the comma).
fn chart_bars(rows: &[compare::Row]) -> Vec<report::Bar> {
    let mut bars = Vec::new();
    for row in rows {
        for (side, cell) in [("ours", &row.ours), ("Linux", &row.linux)] {
            if let Some(stats) = cell.stats() {
                bars.push(report::Bar {
                    label: format!("{} {}: {side}", row.machine, row.case.label),
                    stats,
                });
            }
        }
    }
    bars
}

/// Our bundle: the cached tree as the root, `exec-bench` alone in `work/bin`, bound
/// read-only at `/opt/xtask-bench`.
fn write_bundle(work: &Path, tree: &Path, program: &Path) -> Result<crate::bundle::Bundle> {
    if work.exists() {
        std::fs::remove_dir_all(work).with_context(|| format!("clearing {}", work.display()))?;
    }
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).with_context(|| format!("creating {}", bin.display()))?;
    std::fs::copy(program, bin.join("exec-bench"))
        .with_context(|| format!("copying {}", program.display()))?;
    let mut args = vec![format!("{OURS_DIR}/exec-bench")];
    args.extend(bench_args());
    let spec = json!({
        "ociVersion": "1.0.2",
        "root": {"path": tree, "readonly": false},
        "process": {"args": args, "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
            "user": {"uid": 0, "gid": 0}},
        "mounts": [
            {"destination": OURS_DIR, "type": "bind", "source": "bin", "options": ["rbind", "ro"]}
        ]
    });
    super::load_bench_bundle(work, &spec)
}

/// The Linux guest's initramfs: `exec-bench`, the 9p modules, the tree at `/newroot` with
/// `proc`, `devtmpfs` and a `/tmp` inside, then `exec-bench --chroot /newroot`.
fn linux_contents(program: &Path) -> InitramfsContents {
    let mut command = vec![
        LINUX_PROGRAM.to_owned(),
        "--chroot".into(),
        LINUX_ROOT.into(),
    ];
    // The init is a shell script: a NAME=COMMAND argument holds spaces.
    command.extend(bench_args().into_iter().map(|arg| match arg.contains(' ') {
        true => format!("'{arg}'"),
        false => arg,
    }));
    InitramfsContents {
        programs: vec![(LINUX_PROGRAM.to_owned(), program.to_owned())],
        mounts: vec![GuestMount {
            tag: "m0".into(),
            mount_point: LINUX_ROOT.into(),
            cache: "loose".into(),
        }],
        load_modules: true,
        commands: vec![
            format!("mount -t proc proc {LINUX_ROOT}/proc"),
            format!("mount -t devtmpfs devtmpfs {LINUX_ROOT}/dev"),
            format!("mount -t tmpfs -o mode=1777 tmpfs {LINUX_ROOT}/tmp"),
            command.join(" "),
        ],
        ..InitramfsContents::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_key_is_what_exec_bench_prints() {
        // exec-bench prints `bench first-NAME` and `bench warm-NAME` for each NAME=COMMAND.
        let source = std::fs::read_to_string(
            crate::cargo::workspace_root().join("xtask/guest-tests/src/bin/exec_bench.rs"),
        )
        .unwrap();
        assert!(source.contains("\"bench first-{name} ns={first}\""));
        assert!(source.contains("\"bench warm-{name} ns="));
        let keys: Vec<String> = cases().into_iter().map(|case| case.key).collect();
        assert_eq!(
            keys,
            [
                "first-python3",
                "warm-python3",
                "first-ls",
                "warm-ls",
                "first-bash",
                "warm-bash"
            ]
        );
        assert_eq!(
            bench_args()[2..],
            [
                "python3=/usr/bin/python3 -c pass",
                "ls=/bin/ls -la /usr/bin",
                "bash=/bin/bash -c true"
            ]
        );
    }

    #[test]
    fn the_chart_is_in_ms_with_whole_labels() {
        use crate::bench::compare::{Cell, Row};
        use crate::bench::report::Stats;
        let stats = Stats {
            median: 330.0,
            min: 250.0,
            max: 380.0,
        };
        let rows: Vec<Row> = cases()
            .into_iter()
            .map(|case| Row {
                machine: crate::qemu::Machine::ALL[0],
                ours: Cell::Measured(stats),
                linux: Cell::Unavailable("execve:ENOEXEC".into()),
                case,
            })
            .collect();
        let bars = chart_bars(&rows);
        assert_eq!(bars.len(), 6);
        assert_eq!(
            bars[1].label,
            "microvm python3 -c pass, later runs (warm): ours"
        );
        assert_eq!(bars[1].stats, stats);
    }

    #[test]
    fn the_linux_init_mounts_the_tree_before_running_the_programs() {
        let contents = linux_contents(Path::new("exec-bench"));
        let script = linux_guest::init_script(&["00-9p.ko".into()], &contents);
        let mount = script.find("cache=loose m0 /newroot").unwrap();
        let proc = script.find("mount -t proc proc /newroot/proc").unwrap();
        let run = script
            .find("/sbin/exec-bench --chroot /newroot --runs 10 'python3=/usr/bin/python3 -c pass'")
            .unwrap();
        assert!(mount < proc && proc < run, "{script}");
    }
}
