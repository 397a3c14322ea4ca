//! `cargo xtask rootfs debian DIR [--include PKG,…]`: a real distribution's root filesystem
//! as an OCI bundle that `cargo xtask run --bundle DIR` boots.
//!
//! Sits beside `bundle` (which reads bundles) as the one place that makes them from a
//! distribution: `debian` builds and caches the tree with mmdebstrap; this module copies
//! it into the bundle (`cp --reflink=auto`: instant where the filesystem shares extents,
//! a plain copy elsewhere, so the sandbox run with `--overlay none` can never write into
//! the cache) and writes `config.json` from the default bundle's, running `/bin/bash`.

pub mod debian;
mod error;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

pub use debian::{DebianTree, cached_tree};
pub use error::RootfsError;

use crate::bundle::DEFAULT_BUNDLE;
use crate::cargo::{self, workspace_root};

/// Written into a bundle this command made: only such a directory is ever replaced.
const MARKER: &str = ".xtask-rootfs";
/// The program a Debian bundle runs when `run` is given no arguments.
const DEFAULT_ARGS: &[&str] = &["/bin/bash"];

#[derive(Debug, Args)]
pub struct RootfsArgs {
    #[command(subcommand)]
    pub distribution: Distribution,
}

#[derive(Debug, Subcommand)]
pub enum Distribution {
    /// Debian bookworm minbase (mmdebstrap), cached under TARGET/rootfs/, as an OCI bundle
    /// in DIR running /bin/bash.
    Debian(DebianArgs),
}

#[derive(Debug, Args)]
pub struct DebianArgs {
    /// The bundle directory to make (config.json and rootfs/); replaced when a previous
    /// `cargo xtask rootfs` made it, refused when it holds anything else.
    pub dir: PathBuf,
    /// Packages to add to minbase, comma-separated (`--include python3,sqlite3`).
    #[arg(long, value_delimiter = ',')]
    pub include: Vec<String>,
}

/// Exits 0 with the bundle made, or with [`RootfsError::exit_status`] (README: 3 mmdebstrap
/// missing, 4 no network, 5 mmdebstrap failed, 1 anything else).
pub fn rootfs(args: RootfsArgs) -> Result<u8> {
    let Distribution::Debian(args) = args.distribution;
    let target = cargo::target_dir()?;
    match debian_bundle(&target, &args) {
        Ok(()) => Ok(0),
        Err(error) => {
            eprintln!("xtask: error: {error}");
            Ok(error.exit_status())
        }
    }
}

fn debian_bundle(target: &Path, args: &DebianArgs) -> Result<(), RootfsError> {
    let tree = DebianTree::new(&args.include);
    let cached = cached_tree(target, &tree)?;
    make_bundle(&args.dir, &cached, &tree.describe())?;
    eprintln!(
        "xtask: rootfs: bundle {} ready: cargo xtask run --bundle {} -- /bin/bash -c '…'",
        args.dir.display(),
        args.dir.display()
    );
    Ok(())
}

/// Makes `dir` a bundle over a copy of `tree`.
fn make_bundle(dir: &Path, tree: &Path, description: &str) -> Result<(), RootfsError> {
    prepare_dir(dir)?;
    let rootfs = dir.join("rootfs");
    eprintln!(
        "xtask: rootfs: copying the tree to {} (reflinked where the filesystem can)…",
        rootfs.display()
    );
    let started = Instant::now();
    let output = Command::new("cp")
        .args(["-a", "--reflink=auto", "--"])
        .arg(tree)
        .arg(&rootfs)
        .output()
        .map_err(RootfsError::io("running cp for", &rootfs))?;
    if !output.status.success() {
        return Err(RootfsError::Copy {
            from: tree.to_owned(),
            to: rootfs,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    eprintln!(
        "xtask: rootfs: copied in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let config = dir.join("config.json");
    let spec = bundle_spec(&default_spec()?);
    let bytes = serde_json::to_vec_pretty(&spec)
        .map_err(|error| RootfsError::Template(format!("encoding config.json: {error}")))?;
    std::fs::write(&config, bytes).map_err(RootfsError::io("writing", &config))?;
    let marker = dir.join(MARKER);
    std::fs::write(&marker, format!("{description}\n"))
        .map_err(RootfsError::io("writing", &marker))?;
    // The same checks `run --bundle` makes, so a bundle this command makes always boots.
    crate::bundle::load(
        dir,
        &kernel::container::SandboxOptions::default(),
        &[],
        &dir.join("scratch"),
    )
    .map_err(|error| RootfsError::Template(format!("the bundle made is refused: {error}")))?;
    Ok(())
}

/// `dir` missing or empty is made; one a previous run made (its marker) is emptied; any
/// other is refused.
fn prepare_dir(dir: &Path) -> Result<(), RootfsError> {
    let entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .collect(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(RootfsError::io("reading", dir)(error)),
    };
    if !entries.is_empty() {
        if !dir.join(MARKER).is_file() {
            return Err(RootfsError::DirInUse {
                dir: dir.to_owned(),
                marker: MARKER,
            });
        }
        eprintln!(
            "xtask: rootfs: replacing the bundle a previous run made in {}",
            dir.display()
        );
        for entry in entries {
            let removed = if entry.is_dir() && !entry.is_symlink() {
                std::fs::remove_dir_all(&entry)
            } else {
                std::fs::remove_file(&entry)
            };
            removed.map_err(RootfsError::io("removing", &entry))?;
        }
    }
    std::fs::create_dir_all(dir).map_err(RootfsError::io("creating", dir))
}

/// The default bundle's spec (`qemu/bundle/config.json`): the capabilities, environment
/// and masked paths a `docker run` would give.
fn default_spec() -> Result<Value, RootfsError> {
    let path = workspace_root().join(DEFAULT_BUNDLE).join("config.json");
    let bytes = std::fs::read(&path).map_err(RootfsError::io("reading", &path))?;
    serde_json::from_slice(&bytes)
        .map_err(|error| RootfsError::Template(format!("{}: {error}", path.display())))
}

/// The default bundle's spec with the copied tree as its root, `/bin/bash` as its program
/// and none of its demonstration mounts.
fn bundle_spec(template: &Value) -> Value {
    let mut spec = template.clone();
    spec["root"] = json!({"path": "rootfs", "readonly": false});
    spec["process"]["args"] = json!(DEFAULT_ARGS);
    spec["process"]["cwd"] = json!("/root");
    spec["hostname"] = json!("debian");
    spec["mounts"] = json!([]);
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_spec_runs_bash_in_the_copied_tree() {
        let spec = bundle_spec(&default_spec().unwrap());
        assert_eq!(spec["root"]["path"], "rootfs");
        assert_eq!(spec["root"]["readonly"], false);
        assert_eq!(spec["process"]["args"], json!(["/bin/bash"]));
        assert_eq!(spec["mounts"], json!([]));
        // The default bundle's capabilities and PATH are kept.
        assert!(
            spec["process"]["capabilities"]["bounding"]
                .as_array()
                .is_some_and(|caps| caps.iter().any(|cap| cap == "CAP_CHOWN"))
        );
        assert!(
            spec["process"]["env"]
                .as_array()
                .is_some_and(|env| env.iter().any(|e| e.as_str().unwrap().starts_with("PATH=")))
        );
    }

    #[test]
    fn a_foreign_directory_is_refused_and_ours_is_replaced() {
        let base = std::env::temp_dir().join(format!("xtask-rootfs-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let foreign = base.join("foreign");
        std::fs::create_dir_all(&foreign).unwrap();
        std::fs::write(foreign.join("precious"), "x").unwrap();
        assert!(matches!(
            prepare_dir(&foreign),
            Err(RootfsError::DirInUse { .. })
        ));
        assert!(foreign.join("precious").is_file());

        let ours = base.join("ours");
        std::fs::create_dir_all(ours.join("rootfs/etc")).unwrap();
        std::fs::write(ours.join(MARKER), "Debian\n").unwrap();
        std::fs::write(ours.join("config.json"), "{}").unwrap();
        prepare_dir(&ours).unwrap();
        assert_eq!(std::fs::read_dir(&ours).unwrap().count(), 0);

        let fresh = base.join("fresh/deeper");
        prepare_dir(&fresh).unwrap();
        assert!(fresh.is_dir());
        let _ = std::fs::remove_dir_all(&base);
    }
}
