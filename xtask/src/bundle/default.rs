//! The default bundle `cargo xtask run` boots without `--bundle`: `qemu/bundle/config.json`
//! and a root filesystem assembled here, at run time, under the target directory.
//!
//! The root filesystem is a fresh directory each time, holding the standard top-level
//! directories and the files of [`default_rootfs_files`] (the init built from
//! `qemu/bundle/init`, busybox); nothing from a previous run survives in it.

use std::path::{Path, PathBuf};

use super::BundleError;
use crate::cargo::workspace_root;

/// Relative to the workspace root.
pub const DEFAULT_BUNDLE: &str = "qemu/bundle";

/// Empty directories every root filesystem gets: mount points and the usual places.
const ROOTFS_DIRS: &[&str] = &[
    "bin", "sbin", "etc", "dev", "proc", "sys", "tmp", "root", "usr/bin",
];

/// One host file copied into the root filesystem.
#[derive(Debug, Clone)]
pub struct RootfsFile {
    pub host: PathBuf,
    /// Relative to the root filesystem.
    pub guest: &'static str,
    /// A missing optional file is left out with a note; a missing required one is an error.
    pub required: bool,
}

/// What the default root filesystem holds: the init xtask built from `qemu/bundle/init`
/// as `/sbin/init` (the spec's `process.args`), and Debian's busybox-static when the host
/// has it (a static glibc ELF, the first unmodified Linux binary to run: a shell for
/// `cargo xtask run -- /bin/busybox sh`).
pub fn default_rootfs_files(init: &Path) -> Vec<RootfsFile> {
    vec![
        RootfsFile {
            host: init.to_owned(),
            guest: "sbin/init",
            required: true,
        },
        RootfsFile {
            host: crate::setup::BUSYBOX.into(),
            guest: "bin/busybox",
            required: false,
        },
    ]
}

/// Makes `rootfs` afresh from `files`; returns notes about optional files left out.
pub fn assemble_rootfs(rootfs: &Path, files: &[RootfsFile]) -> Result<Vec<String>, BundleError> {
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| BundleError::Write { path, source }
    };
    if rootfs.exists() {
        std::fs::remove_dir_all(rootfs).map_err(write_error(rootfs))?;
    }
    for dir in ROOTFS_DIRS {
        let path = rootfs.join(dir);
        std::fs::create_dir_all(&path).map_err(write_error(&path))?;
    }
    let mut notes = Vec::new();
    for file in files {
        if !file.host.is_file() {
            if file.required {
                return Err(BundleError::Read {
                    path: file.host.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "required in the root filesystem",
                    ),
                });
            }
            notes.push(format!(
                "{} not found on this host; /{} left out of the root filesystem",
                file.host.display(),
                file.guest
            ));
            continue;
        }
        let target = rootfs.join(file.guest);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(write_error(parent))?;
        }
        // fs::copy keeps the permission bits, so executables stay executable.
        std::fs::copy(&file.host, &target).map_err(write_error(&target))?;
    }
    Ok(notes)
}

/// Lays out the default bundle under `target_dir/xtask/bundle` (its config copied from
/// `qemu/bundle/`, so `root.path: "rootfs"` resolves next to it) and returns its directory
/// and the notes of [`assemble_rootfs`]. `init` is the built `qemu/bundle/init`.
pub fn prepare_default_bundle(
    target_dir: &Path,
    init: &Path,
) -> Result<(PathBuf, Vec<String>), BundleError> {
    prepare_default_bundle_in(&target_dir.join("xtask").join("bundle"), init)
}

/// [`prepare_default_bundle`] in a directory of the caller's choice (the boot tests keep
/// their own copy).
pub fn prepare_default_bundle_in(
    bundle: &Path,
    init: &Path,
) -> Result<(PathBuf, Vec<String>), BundleError> {
    let bundle = bundle.to_owned();
    std::fs::create_dir_all(&bundle).map_err(|source| BundleError::Write {
        path: bundle.clone(),
        source,
    })?;
    let source = workspace_root().join(DEFAULT_BUNDLE).join("config.json");
    let config = bundle.join("config.json");
    std::fs::copy(&source, &config).map_err(|error| BundleError::Read {
        path: source,
        source: error,
    })?;
    let notes = assemble_rootfs(&bundle.join("rootfs"), &default_rootfs_files(init))?;
    Ok((bundle, notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::container::{SandboxOptions, Spec, compile};

    #[test]
    fn default_config_is_a_spec_the_kernel_accepts() {
        let bytes =
            std::fs::read(workspace_root().join(DEFAULT_BUNDLE).join("config.json")).unwrap();
        let spec = Spec::parse(&bytes).unwrap();
        assert_eq!(spec.root.path, "rootfs");
        assert_eq!(spec.process.args, ["/sbin/init"]);
        let plan = compile(&spec, &SandboxOptions::default(), &[]).unwrap();
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    #[test]
    fn rootfs_is_fresh_with_dirs_and_files() {
        let dir = std::env::temp_dir().join(format!("xtask-rootfs-{}", std::process::id()));
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(rootfs.join("stale")).unwrap();
        let host_file = dir.join("tool");
        std::fs::write(&host_file, "#!/bin/sh\n").unwrap();
        let files = [
            RootfsFile {
                host: host_file,
                guest: "usr/local/bin/tool",
                required: true,
            },
            RootfsFile {
                host: dir.join("absent"),
                guest: "bin/absent",
                required: false,
            },
        ];
        let notes = assemble_rootfs(&rootfs, &files).unwrap();
        assert!(!rootfs.join("stale").exists());
        assert!(rootfs.join("tmp").is_dir() && rootfs.join("proc").is_dir());
        assert_eq!(
            std::fs::read_to_string(rootfs.join("usr/local/bin/tool")).unwrap(),
            "#!/bin/sh\n"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        let required_missing = [RootfsFile {
            host: dir.join("absent"),
            guest: "x",
            required: true,
        }];
        assert!(assemble_rootfs(&rootfs, &required_missing).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
