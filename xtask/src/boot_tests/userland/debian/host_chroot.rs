//! The Debian commands run on the host in a chroot into the same tree: what the sandbox
//! must print. The host is set up the way the sandbox is (DESIGN "Mount namespace"), in a
//! private mount and UTS namespace (`unshare`) so nothing leaks to the host or into the
//! cached tree:
//!
//! - the root: an overlayfs with the cached tree as its lower layer and a tmpfs upper, as
//!   the kernel's memory overlay over the 9p root (writes never reach the cache);
//! - `/proc`, `/sys`, `/dev` (the host's, bound), `/tmp` a tmpfs of mode 01777 (the tree's
//!   `/tmp` is empty, so the sandbox makes one too);
//! - the case's own writable directory bound at the same place as the sandbox's 9p bind;
//! - the sandbox's hostname, so it is the same by construction rather than normalised;
//! - the spec's environment exactly (`env -i`), the command run from `/`.
//!
//! Needs root and mounts of tmpfs and overlayfs; where those are missing the cases are
//! reported skipped, never passed.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use super::super::host_busybox::host_stdout;

/// The namespace's set-up, run by `sh` inside `unshare`: `$1` the tree, `$2` an empty host
/// directory for the overlay's tmpfs, `$3` the writable directory, `$4` its mount point,
/// `$5` the hostname; the rest is the command, run by `chroot`.
const SETUP: &str = r#"set -e
tree=$1 scratch=$2 rw=$3 rw_at=$4 name=$5; shift 5
mount -t tmpfs -o mode=755 xtask-debian "$scratch"
mkdir "$scratch/upper" "$scratch/work" "$scratch/root"
mount -t overlay -o "lowerdir=$tree,upperdir=$scratch/upper,workdir=$scratch/work" overlay "$scratch/root"
root=$scratch/root
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mkdir -p "$root$rw_at"
mount --bind "$rw" "$root$rw_at"
echo "$name" > /proc/sys/kernel/hostname
exec chroot "$root" "$@"
"#;

/// Whether the host can run the comparison; `Err` says why not, for the skip line.
pub fn available() -> Result<(), String> {
    crate::host::can_mount_tmpfs_and_overlay()?;
    match crate::host::find_in_path("unshare") {
        Some(_) => Ok(()),
        None => Err("no unshare(1) (util-linux)".to_owned()),
    }
}

/// The host side of one case.
pub struct HostRun<'a> {
    pub tree: &'a Path,
    /// An empty directory the namespace mounts its tmpfs on.
    pub scratch: &'a Path,
    /// The host directory bound at `rw_at`, fresh for this run.
    pub rw: &'a Path,
    pub rw_at: &'a str,
    pub hostname: &'a str,
    /// `NAME=value` pairs: the whole environment.
    pub env: &'a [&'a str],
}

impl HostRun<'_> {
    /// What `args` prints on stdout in the chroot; it must end with status 0.
    pub fn stdout(&self, args: &[&str]) -> Result<String> {
        let mut command = Command::new("unshare");
        command
            .args(["--mount", "--uts", "--fork", "--", "sh", "-c", SETUP, "sh"])
            .arg(self.tree)
            .arg(self.scratch)
            .arg(self.rw)
            .args([self.rw_at, self.hostname, "/usr/bin/env", "-i"])
            .args(self.env)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .current_dir("/");
        host_stdout(command, &format!("chroot {} {args:?}", self.tree.display()))
    }
}
