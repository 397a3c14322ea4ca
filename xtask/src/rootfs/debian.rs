//! A Debian root filesystem made by `mmdebstrap`, built once per set of options and kept
//! under `TARGET/rootfs/`: `cargo xtask rootfs debian`, the Debian boot tests and `bench
//! images` all take their tree from here, so only the first of them downloads anything.
//!
//! The cache key is a digest of mmdebstrap's whole argument list but the output directory
//! (suite, variant, mode, the sorted package list): a different `--include` is a different
//! tree, the same one is the same tree whoever asks. A tree is used only once its `complete`
//! file exists, written after mmdebstrap succeeded and the tree was renamed into place, so
//! an interrupted build is never taken for a finished one.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::error::RootfsError;
use crate::digest::sha256_hex;
use crate::host;
use crate::setup::{HostPackage, ensure_packages};

/// Debian 12, the release the project is tested on (DESIGN "Machine facts").
pub const SUITE: &str = "bookworm";
/// Essential packages and apt, nothing else: the smallest tree that still has dpkg and apt.
pub const VARIANT: &str = "minbase";
/// What the Debian boot tests and `bench images` add to minbase: one tree for both.
pub const TEST_PACKAGES: &[&str] = &["python3", "sqlite3"];
/// What the cache directory's name starts with.
const CACHE_PREFIX: &str = "debian";

/// What to build: a minbase tree plus these packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebianTree {
    include: Vec<String>,
    /// mmdebstrap's `--mode`: `root` when we are root (files owned as in Debian), else
    /// `unshare` (a user namespace).
    mode: &'static str,
}

impl DebianTree {
    /// The packages sorted and without repeats, so the same set is the same tree.
    pub fn new<S: AsRef<str>>(include: &[S]) -> Self {
        let mut include: Vec<String> = include
            .iter()
            .map(|name| name.as_ref().trim().to_owned())
            .filter(|name| !name.is_empty())
            .collect();
        include.sort();
        include.dedup();
        let mode = if host::is_root() { "root" } else { "unshare" };
        DebianTree { include, mode }
    }

    /// mmdebstrap's arguments but the output directory: what the cache is keyed by.
    pub fn options(&self) -> Vec<String> {
        let mut options = vec![
            format!("--variant={VARIANT}"),
            format!("--mode={}", self.mode),
        ];
        if !self.include.is_empty() {
            options.push(format!("--include={}", self.include.join(",")));
        }
        options.push(SUITE.to_owned());
        options
    }

    /// `debian-bookworm-minbase-<16 hex digits of the options' digest>`.
    pub fn cache_name(&self) -> String {
        let digest = sha256_hex(self.options().join("\n").as_bytes());
        format!("{CACHE_PREFIX}-{SUITE}-{VARIANT}-{}", &digest[..16])
    }

    /// For progress lines: `bookworm minbase + python3, sqlite3`.
    pub fn describe(&self) -> String {
        let mut text = format!("Debian {SUITE} {VARIANT}");
        if !self.include.is_empty() {
            text.push_str(&format!(" + {}", self.include.join(", ")));
        }
        text
    }
}

/// The finished tree for `tree` under `TARGET/rootfs/`, built with mmdebstrap first when it
/// is not there yet (installing mmdebstrap with apt-get when root on Debian).
pub fn cached_tree(target: &Path, tree: &DebianTree) -> Result<PathBuf, RootfsError> {
    let dir = target.join("rootfs").join(tree.cache_name());
    let finished = dir.join("tree");
    let complete = dir.join("complete");
    if complete.is_file() && finished.is_dir() {
        eprintln!(
            "xtask: rootfs: {} (cached at {})",
            tree.describe(),
            finished.display()
        );
        return Ok(finished);
    }
    ensure_packages(&[HostPackage::Mmdebstrap])
        .map_err(|error| RootfsError::ToolMissing(format!("{error:#}")))?;
    std::fs::create_dir_all(&dir).map_err(RootfsError::io("creating", &dir))?;
    let partial = dir.join(format!("tree.partial-{}", std::process::id()));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(RootfsError::io("clearing", &partial))?;
    }
    let log = dir.join("mmdebstrap.log");
    eprintln!(
        "xtask: rootfs: building {} with mmdebstrap (about 20 s plus downloads; log {})…",
        tree.describe(),
        log.display()
    );
    let started = Instant::now();
    let result = run_mmdebstrap(tree, &partial, &log);
    if let Err(error) = result {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(error);
    }
    if finished.exists() {
        // Another xtask finished the same tree meanwhile: theirs is as good as ours.
        std::fs::remove_dir_all(&finished).map_err(RootfsError::io("replacing", &finished))?;
    }
    std::fs::rename(&partial, &finished).map_err(RootfsError::io("renaming", &partial))?;
    let record = format!(
        "mmdebstrap {} {}\n",
        tree.options().join(" "),
        finished.display()
    );
    std::fs::write(&complete, record).map_err(RootfsError::io("writing", &complete))?;
    eprintln!(
        "xtask: rootfs: built {} in {:.0} s at {}",
        tree.describe(),
        started.elapsed().as_secs_f64(),
        finished.display()
    );
    Ok(finished)
}

/// Runs mmdebstrap into `out`, its output echoed on our stderr (indented) and kept in `log`.
fn run_mmdebstrap(tree: &DebianTree, out: &Path, log: &Path) -> Result<(), RootfsError> {
    let mut log_file = std::fs::File::create(log).map_err(RootfsError::io("creating", log))?;
    let mut child = Command::new("mmdebstrap")
        .args(tree.options())
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("DEBIAN_FRONTEND", "noninteractive")
        .spawn()
        .map_err(RootfsError::Spawn)?;
    let mut lines = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("    {line}");
            let _ = writeln!(log_file, "{line}");
            lines.push(line);
        }
    }
    let status = child.wait().map_err(RootfsError::Spawn)?;
    if status.success() {
        return Ok(());
    }
    let text = lines.join("\n");
    if let Some(evidence) = network_failure(&text) {
        return Err(RootfsError::NoNetwork {
            evidence,
            log: log.to_owned(),
        });
    }
    let tail_start = lines.len().saturating_sub(15);
    Err(RootfsError::MmdebstrapFailed {
        status: status.to_string(),
        tail: lines[tail_start..].join("\n"),
        log: log.to_owned(),
    })
}

/// What apt says when it cannot reach the archive (name resolution, connection, fetch),
/// as seen in mmdebstrap's output; the first such line, or `None`.
fn network_failure(output: &str) -> Option<String> {
    const SIGNS: &[&str] = &[
        "Temporary failure resolving",
        "Could not resolve",
        "Could not connect to",
        "Unable to connect to",
        "Network is unreachable",
        "Connection timed out",
        "Connection refused",
        "No route to host",
        "Failed to fetch",
    ];
    output
        .lines()
        .find(|line| SIGNS.iter().any(|sign| line.contains(sign)))
        .map(|line| line.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(include: &[&str]) -> DebianTree {
        DebianTree::new(include)
    }

    #[test]
    fn the_same_packages_in_any_order_are_the_same_tree() {
        let a = tree(&["sqlite3", "python3", "python3"]);
        let b = tree(&[" python3", "sqlite3", ""]);
        assert_eq!(a, b);
        assert_eq!(a.cache_name(), b.cache_name());
        assert_eq!(a.options()[2], "--include=python3,sqlite3");
        assert_ne!(a.cache_name(), tree(&["python3"]).cache_name());
        assert_ne!(tree(&[]).cache_name(), tree(&["python3"]).cache_name());
        assert!(a.cache_name().starts_with("debian-bookworm-minbase-"));
    }

    #[test]
    fn options_name_suite_variant_and_packages() {
        let options = tree(&["sqlite3", "python3"]).options();
        assert_eq!(options[0], "--variant=minbase");
        assert!(options[1].starts_with("--mode="));
        assert_eq!(options[2], "--include=python3,sqlite3");
        assert_eq!(options.last().map(String::as_str), Some("bookworm"));
        assert!(
            !tree(&[])
                .options()
                .iter()
                .any(|o| o.starts_with("--include"))
        );
    }

    #[test]
    fn network_failures_are_told_from_other_failures() {
        let offline = "I: running apt-get update...\n\
            W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  \
            Temporary failure resolving 'deb.debian.org'\n\
            E: apt-get update --error-on=any -oAPT::Status-Fd=<$fd> failed";
        assert!(
            network_failure(offline)
                .unwrap()
                .contains("Temporary failure resolving")
        );
        let other = "E: Unable to locate package no-such-package\nE: apt-get failed";
        assert_eq!(network_failure(other), None);
    }
}
