//! The filesystems the `spec` target builds a fuzzed plan's namespace from: a tmpfs for
//! every share, so `container::build` runs the whole mount sequence (mount points made,
//! symlinks followed, overlays laid, read-only flags applied) without a 9p server.
//!
//! The root share holds the shapes a hostile image could have under a mount point: a
//! symlink out of the tree, one to itself, one to a file, and a file where a directory
//! would go.

use std::collections::BTreeMap;
use std::sync::Arc;

use kernel::container::build::FilesystemSource;
use kernel::container::{Channel, FileAccess};
use kernel::fs::devpts::DevptsOptions;
use vfs_core::tmpfs::{TmpfsMemory, TmpfsOptions};
use vfs_core::{
    At, ClockRef, Credentials, Errno, FileSystem, FsContext, ManualClock, MountFlags,
    MountNamespace, OpenFlags,
};

/// What the root share holds: directories end in `/`, symlinks are `name -> target`.
const ROOT_TREE: &[&str] = &[
    "bin/",
    "etc/",
    "etc/passwd",
    "proc/",
    "tmp/",
    "run -> /var/run",
    "var/",
    "var/run/",
    "loop -> loop",
    "escape -> ../../..",
    "file-link -> /etc/passwd",
    "data",
];

/// Memory the stand-in tmpfs filesystems may use (their pages are never written much).
const STAND_IN_MEMORY: u64 = 64 << 20;

pub struct StandIns {
    clock: ClockRef,
    shares: BTreeMap<String, Arc<dyn FileSystem>>,
}

impl Default for StandIns {
    fn default() -> Self {
        let clock: ClockRef = Arc::new(ManualClock::default());
        let root = tmpfs(&TmpfsOptions::default(), &clock).expect("a tmpfs with defaults");
        populate(&root, &clock, ROOT_TREE);
        let mut shares = BTreeMap::new();
        shares.insert(Channel::Root.tag(), root);
        StandIns { clock, shares }
    }
}

fn tmpfs(options: &TmpfsOptions, clock: &ClockRef) -> Result<Arc<dyn FileSystem>, Errno> {
    let fs = vfs_core::tmpfs::new(
        options,
        &TmpfsMemory::unbudgeted(STAND_IN_MEMORY),
        0,
        clock.clone(),
    )?;
    Ok(fs)
}

fn populate(fs: &Arc<dyn FileSystem>, clock: &ClockRef, tree: &[&str]) {
    let ns = MountNamespace::new(fs.clone(), "share", MountFlags::empty(), clock.clone());
    let context = FsContext::new(ns, Credentials::root());
    for entry in tree {
        let made = if let Some((name, target)) = entry.split_once(" -> ") {
            context.symlink(target.as_bytes(), At::Cwd, name.as_bytes())
        } else if let Some(dir) = entry.strip_suffix('/') {
            context.mkdir(At::Cwd, dir.as_bytes(), 0o755)
        } else {
            context
                .open(
                    At::Cwd,
                    entry.as_bytes(),
                    OpenFlags::CREAT | OpenFlags::WRONLY,
                    0o644,
                )
                .map(drop)
        };
        made.unwrap_or_else(|errno| panic!("stand-in tree {entry}: {errno:?}"));
    }
}

impl FilesystemSource for StandIns {
    fn nine_p(
        &self,
        channel: Channel,
        _file_access: FileAccess,
    ) -> Result<Arc<dyn FileSystem>, Errno> {
        match self.shares.get(&channel.tag()) {
            Some(fs) => Ok(fs.clone()),
            // Every other share is an empty directory.
            None => tmpfs(&TmpfsOptions::default(), &self.clock),
        }
    }
    fn tmpfs(&self, options: &TmpfsOptions) -> Result<Arc<dyn FileSystem>, Errno> {
        tmpfs(options, &self.clock)
    }
    fn overlay(&self, lower: Arc<dyn FileSystem>) -> Result<Arc<dyn FileSystem>, Errno> {
        let upper = tmpfs(&TmpfsOptions::default(), &self.clock)?;
        Ok(vfs_core::overlay::OverlayFs::new(
            upper,
            vec![lower],
            0,
            String::new(),
        )?)
    }
    fn proc(&self) -> Result<Arc<dyn FileSystem>, Errno> {
        self.tmpfs(&TmpfsOptions::default())
    }
    fn sysfs(&self) -> Result<Arc<dyn FileSystem>, Errno> {
        self.tmpfs(&TmpfsOptions::default())
    }
    fn devpts(&self, _options: &DevptsOptions) -> Result<Arc<dyn FileSystem>, Errno> {
        self.tmpfs(&TmpfsOptions::default())
    }
    fn dev(&self, options: &TmpfsOptions) -> Result<Arc<dyn FileSystem>, Errno> {
        let fs = self.tmpfs(options)?;
        populate(&fs, &self.clock, &["null"]);
        Ok(fs)
    }
    fn clock(&self) -> ClockRef {
        self.clock.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::container::{self, SandboxOptions, Spec};

    /// The default bundle's spec builds over the stand-ins, so the target reaches the whole
    /// mount sequence and not only its first error.
    #[test]
    fn the_default_bundle_builds_over_the_stand_ins() {
        let spec_bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../qemu/bundle/config.json"
        ))
        .unwrap();
        let spec = Spec::parse(&spec_bytes).unwrap();
        let plan = container::compile(&spec, &SandboxOptions::default(), &[]).unwrap();
        let ns = container::build::build(&plan, &StandIns::default()).unwrap();
        let table = container::build::mounts_text(&ns);
        for mount_point in [" /proc ", " /dev ", " /sys "] {
            assert!(table.contains(mount_point), "{table}");
        }
    }
}
