//! `/dev`, top: the device numbers the kernel knows, and [`populate`], which fills the
//! container's fresh `/dev` tmpfs with Docker's standard tree. Portable and host-tested;
//! the drivers behind the numbers are in `drivers` (bare-metal target only).
//!
//! The nodes are ordinary tmpfs character devices, so `ls -l /dev` shows Linux's numbers
//! and the container may add its own; opening one goes to the namespace's
//! `DeviceRegistry` (`Devices` on the target).

#[cfg(target_os = "none")]
mod drivers;

#[cfg(target_os = "none")]
pub use drivers::Devices;

use alloc::sync::Arc;

use vfs_core::attr::{make_dev, mode};
use vfs_core::{
    At, ClockRef, Credentials, FileSystem, FsContext, MountFlags, MountNamespace, Result,
};

pub const NULL: u64 = make_dev(1, 3);
pub const ZERO: u64 = make_dev(1, 5);
pub const FULL: u64 = make_dev(1, 7);
pub const RANDOM: u64 = make_dev(1, 8);
pub const URANDOM: u64 = make_dev(1, 9);
pub const TTY: u64 = make_dev(5, 0);
pub const CONSOLE: u64 = make_dev(5, 1);
pub const PTMX: u64 = make_dev(5, 2);

/// The character devices `/dev` holds: name, number, permissions.
pub const NODES: &[(&str, u64, u32)] = &[
    ("null", NULL, 0o666),
    ("zero", ZERO, 0o666),
    ("full", FULL, 0o666),
    ("random", RANDOM, 0o666),
    ("urandom", URANDOM, 0o666),
    ("tty", TTY, 0o666),
    ("console", CONSOLE, 0o600),
];

/// The symlinks Docker (and runc) put in `/dev`: name and target. The `/proc/self/fd`
/// ones resolve through this kernel's proc; `ptmx` through the devpts mounted on `pts`.
pub const SYMLINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

/// The directories: `pts` (devpts's mount point) and `shm` (world-writable and sticky,
/// for POSIX shared memory, as Docker makes it).
pub const DIRECTORIES: &[(&str, u32)] = &[("pts", 0o755), ("shm", 0o1777)];

/// Fills a fresh filesystem (the container's `/dev` tmpfs) with [`NODES`], [`SYMLINKS`]
/// and [`DIRECTORIES`], owned by root with exactly the listed modes.
///
/// It works through a private namespace rooted at `fs` with root's credentials and umask
/// 0, so the nodes are made by the same code, with the same checks, as `mknod(2)` would
/// make them. Fails with `EEXIST` if a name is already taken.
pub fn populate(fs: &Arc<dyn FileSystem>, clock: &ClockRef) -> Result<()> {
    let namespace = MountNamespace::new(fs.clone(), "dev", MountFlags::empty(), clock.clone());
    let mut context = FsContext::new(namespace, Credentials::root());
    context.umask = 0;
    for &(name, rdev, perm) in NODES {
        context.mknod(At::Cwd, name.as_bytes(), mode::S_IFCHR | perm, rdev)?;
    }
    for &(name, target) in SYMLINKS {
        context.symlink(target.as_bytes(), At::Cwd, name.as_bytes())?;
    }
    for &(name, perm) in DIRECTORIES {
        context.mkdir(At::Cwd, name.as_bytes(), perm)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfs_core::attr::{dev_major, dev_minor};
    use vfs_core::ramfs::RamFs;
    use vfs_core::{Errno, FileType, ManualClock, Timespec};

    fn populated() -> FsContext {
        let clock: ClockRef = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
        let fs: Arc<dyn FileSystem> = RamFs::new_default(make_dev(0, 40), clock.clone());
        populate(&fs, &clock).unwrap();
        FsContext::new(
            MountNamespace::new(fs, "tmpfs", MountFlags::empty(), clock),
            Credentials::root(),
        )
    }

    #[test]
    fn dev_null_is_char_1_3_mode_0666_like_docker() {
        let context = populated();
        let stat = context.stat(At::Cwd, b"/null", false).unwrap();
        assert_eq!(stat.file_type(), Some(FileType::CharDevice));
        assert_eq!((dev_major(stat.rdev), dev_minor(stat.rdev)), (1, 3));
        assert_eq!(stat.permission_bits(), 0o666);
        assert_eq!((stat.uid, stat.gid), (0, 0));
        let console = context.stat(At::Cwd, b"/console", false).unwrap();
        assert_eq!(
            (
                dev_major(console.rdev),
                dev_minor(console.rdev),
                console.permission_bits()
            ),
            (5, 1, 0o600)
        );
    }

    #[test]
    fn dev_fd_and_std_streams_link_into_proc_self_fd() {
        let context = populated();
        assert_eq!(context.readlink(At::Cwd, b"/fd").unwrap(), b"/proc/self/fd");
        assert_eq!(
            context.readlink(At::Cwd, b"/stdin").unwrap(),
            b"/proc/self/fd/0"
        );
        assert_eq!(
            context.readlink(At::Cwd, b"/stdout").unwrap(),
            b"/proc/self/fd/1"
        );
        assert_eq!(
            context.readlink(At::Cwd, b"/stderr").unwrap(),
            b"/proc/self/fd/2"
        );
        assert_eq!(context.readlink(At::Cwd, b"/ptmx").unwrap(), b"pts/ptmx");
    }

    #[test]
    fn dev_shm_is_sticky_world_writable_and_pts_a_plain_directory() {
        let context = populated();
        let shm = context.stat(At::Cwd, b"/shm", false).unwrap();
        assert!(shm.is_dir());
        assert_eq!(shm.permission_bits(), 0o1777);
        let pts = context.stat(At::Cwd, b"/pts", false).unwrap();
        assert!(pts.is_dir());
        assert_eq!(pts.permission_bits(), 0o755);
    }

    #[test]
    fn populating_twice_reports_eexist() {
        let clock: ClockRef = Arc::new(ManualClock::new(Timespec::new(0, 0)));
        let fs: Arc<dyn FileSystem> = RamFs::new_default(make_dev(0, 41), clock.clone());
        populate(&fs, &clock).unwrap();
        assert_eq!(populate(&fs, &clock), Err(Errno::EEXIST));
    }
}
