//! Boot tests on a real distribution: Debian bookworm minbase with python3 and sqlite3
//! ([`TEST_PACKAGES`], built by `cargo xtask rootfs`' code with mmdebstrap, cached under
//! `TARGET/rootfs/`, so only the first run downloads), booted as the container's root with
//! its own dynamically linked `/bin/bash` as the init. Each case runs one script of `scripts` and must print
//! exactly what the same script prints on the host in a chroot into the same tree
//! (`host_chroot`), after the normalisation the scripts' doc lists, and end with status 0.
//!
//! A case is reported skipped, never passed, when the tree cannot be built (no mmdebstrap,
//! no network: the reason is given) or the host cannot run the chroot (not root, no
//! overlayfs). Set-up is done only when the `--filter` picks a Debian case: building the
//! tree takes a minute the first time and the host runs take seconds.

mod host_chroot;
mod scripts;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use kernel::container::SandboxOptions;
use serde_json::json;

use super::fixtures::docker_caps_with;
use crate::boot_tests::Case;
use crate::boot_tests::checks::Check::{self, Status};
use crate::boot_tests::container_checks::{ContainerCheck, Normalise, normalise};
use crate::bundle;
use crate::qemu::{Accel, Machine, MemorySize};
use crate::rootfs::debian::TEST_PACKAGES;
use crate::rootfs::{DebianTree, cached_tree};
use host_chroot::HostRun;

const HOSTNAME: &str = "debian-box";
/// A container's usual environment (Docker's PATH), a UTF-8 locale glibc has built in.
const ENV: &[&str] = &[
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C.UTF-8",
    "TZ=UTC",
];
/// The case's writable 9p bind mount.
const RW_IN_GUEST: &str = "/rw";
/// Python, threads and subprocesses want more than the default 128 MiB's room.
const MEMORY: MemorySize = MemorySize::from_mib(256);
/// Dynamic loading of every program from 9p under TCG: seconds per script, not minutes.
const TIMEOUT: Duration = Duration::from_secs(240);
/// One boot: its name, its script, what to normalise, and whether the database it leaves
/// in the writable bind mount must be the host run's byte for byte.
struct Script {
    name: &'static str,
    script: &'static str,
    rules: &'static [Normalise],
    compare_rw: Option<&'static str>,
    /// The kernel gap it fails on today, if any.
    known_failure: Option<&'static str>,
}

const SCRIPTS: &[Script] = &[
    Script {
        name: "debian-coreutils",
        script: scripts::COREUTILS,
        rules: &[Normalise::EpochSeconds("date: ")],
        compare_rw: None,
        known_failure: None,
    },
    Script {
        name: "debian-python",
        script: scripts::PYTHON,
        rules: &[],
        compare_rw: None,
        known_failure: None,
    },
    Script {
        name: "debian-sqlite-wal",
        script: scripts::SQLITE_WAL,
        rules: &[],
        compare_rw: Some("wal.db"),
        known_failure: None,
    },
];

/// The Debian cases, set up under `fixtures_dir/debian` when `filter` picks any of them
/// (none otherwise: the caller filters them out anyway).
pub fn cases(
    accel: Accel,
    fixtures_dir: &Path,
    target: &Path,
    filter: Option<&str>,
) -> Result<Vec<Case>> {
    let bare: Vec<Case> = SCRIPTS
        .iter()
        .map(|script| Case::new(script.name, Machine::Microvm, accel))
        .collect();
    if let Some(needle) = filter
        && !bare.iter().any(|case| case.name.contains(needle))
    {
        return Ok(Vec::new());
    }
    let tree = match cached_tree(target, &DebianTree::new(TEST_PACKAGES)) {
        Ok(tree) => tree,
        Err(error) => {
            let why = format!("no Debian root filesystem: {error}");
            return Ok(bare.into_iter().map(|c| c.skipped(why.clone())).collect());
        }
    };
    if let Err(why) = host_chroot::available() {
        let why = format!("the host cannot run the chroot the output is judged against: {why}");
        return Ok(bare.into_iter().map(|c| c.skipped(why.clone())).collect());
    }
    let dir = fixtures_dir.join("debian");
    SCRIPTS
        .iter()
        .zip(bare)
        .map(|(script, case)| set_up(case, script, &tree, &dir))
        .collect()
}

/// Writes the case's bundle (the cached tree as its root, a fresh `rw/`), runs the script
/// on the host, and gives the case its checks.
fn set_up(case: Case, script: &Script, tree: &Path, dir: &Path) -> Result<Case> {
    let bundle_dir = dir.join(script.name);
    if bundle_dir.exists() {
        std::fs::remove_dir_all(&bundle_dir)
            .with_context(|| format!("clearing {}", bundle_dir.display()))?;
    }
    let (rw, host_rw, scratch) = (
        bundle_dir.join("rw"),
        bundle_dir.join("host-rw"),
        bundle_dir.join("host-scratch"),
    );
    for path in [&rw, &host_rw, &scratch] {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    }
    let args = ["/bin/bash", "-c", script.script];
    let spec = json!({
        "ociVersion": "1.0.2",
        "root": {"path": tree, "readonly": false},
        "hostname": HOSTNAME,
        "process": {"args": args, "env": ENV, "cwd": "/", "user": {"uid": 0, "gid": 0},
            "capabilities": docker_caps_with(&[])},
        "mounts": [
            {"destination": RW_IN_GUEST, "type": "bind", "source": "rw", "options": ["rbind", "rw"]}
        ]
    });
    let config = bundle_dir.join("config.json");
    std::fs::write(&config, serde_json::to_vec_pretty(&spec)?)
        .with_context(|| format!("writing {}", config.display()))?;
    let loaded = bundle::load(
        &bundle_dir,
        &SandboxOptions::default(),
        &[],
        &bundle_dir.join("scratch"),
    )
    .with_context(|| format!("loading the bundle of boot test {}", script.name))?;
    let host = HostRun {
        tree,
        scratch: &scratch,
        rw: &host_rw,
        rw_at: RW_IN_GUEST,
        hostname: HOSTNAME,
        env: ENV,
    };
    let expected = normalise(&host.stdout(&args)?, script.rules);
    let mut case = case
        .memory(MEMORY)
        .timeout(TIMEOUT)
        .bundle(&loaded)
        .expect(Check::Container(ContainerCheck::OutputNormalised {
            expected,
            rules: script.rules.to_vec(),
        }))
        .expect(Status(0));
    if let Some(why) = script.known_failure {
        case = case.known_failure(why);
    }
    if let Some(name) = script.compare_rw {
        let path = host_rw.join(name);
        let contents =
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        case = case.expect(Check::HostFileSha256 {
            path: rw.join(name),
            sha256: crate::digest::sha256_hex(&contents),
        });
    }
    Ok(case)
}
