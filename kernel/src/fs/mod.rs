//! The kernel's own filesystems, built on vfs-core's `FileSystem`/`Inode` traits:
//! `synthetic` (generated read-only trees, the engine of the rest), `proc`, `sysfs`,
//! `devpts`, and `dev` (the container's `/dev` tree and, on the target, its drivers);
//! `pipe` (pipes and FIFOs: the buffer host-tested, the blocking ends on the target);
//! `event` (epoll, eventfd, timerfd, signalfd: their rules host-tested, the files on the
//! target); `shmem` (the unnamed tmpfs behind `memfd_create` and shared anonymous
//! memory); and `locks` (`fcntl` record locks and `flock`: their rules host-tested, the
//! sleeping on the target).
//!
//! Each is laid out as vfs-core's crate doc says ("How a filesystem is laid out"): `mod.rs`
//! holds the filesystem and its constructor `new`, `node.rs` the inode.
//!
//! Everything here is portable and host-tested except what touches the machine: the
//! drivers in `dev` and [`make`], which needs the kernel's memory totals and clock.

pub mod dev;
pub mod devpts;
pub mod event;
pub mod locks;
pub mod pipe;
#[cfg(target_os = "none")]
pub mod poll;
pub mod proc;
pub mod shmem;
pub mod synthetic;
pub mod sysfs;

#[cfg(test)]
pub(crate) mod testing;

use alloc::sync::Arc;

use vfs_core::{ClockRef, Errno, FileSystem};

/// A new instance of a filesystem the kernel can make on request (`mount(2)` and the
/// container's spec): `tmpfs`, `proc`, `sysfs`, `devpts`. `ENODEV` for other types, as
/// Linux answers for a type it does not know.
#[cfg(target_os = "none")]
pub fn make(fs_type: &str, data: &str) -> Result<Arc<dyn FileSystem>, Errno> {
    let clock: ClockRef = Arc::new(crate::clock::RealTimeClock);
    if fs_type == "tmpfs" {
        let options = vfs_core::tmpfs::TmpfsOptions::parse(data)?;
        return Ok(vfs_core::tmpfs::new(
            &options,
            &crate::mm::budget::tmpfs_memory(),
            anonymous_dev(),
            clock,
        )?);
    }
    make_kernel_fs(fs_type, data, anonymous_dev(), clock)
}

/// The kernel filesystems proper, which need nothing from the machine: `proc` (with the
/// sources registered by [`proc::register`]; `ENODEV` before that), `sysfs`, `devpts`.
pub fn make_kernel_fs(
    fs_type: &str,
    data: &str,
    dev: u64,
    clock: ClockRef,
) -> Result<Arc<dyn FileSystem>, Errno> {
    match fs_type {
        "proc" => {
            let sources = proc::registered().ok_or(Errno::ENODEV)?;
            proc::warn_unsupported_options(data);
            Ok(proc::new(sources, dev, clock))
        }
        "sysfs" => Ok(sysfs::new(sysfs::cpu_count(), dev, clock)),
        "devpts" => Ok(devpts::new(
            &devpts::DevptsOptions::parse(data)?,
            dev,
            clock,
        )),
        _ => Err(Errno::ENODEV),
    }
}

/// A fresh device number for a filesystem with no device (Linux: major 0).
pub fn anonymous_dev() -> u64 {
    use core::sync::atomic::{AtomicU32, Ordering};
    static NEXT_MINOR: AtomicU32 = AtomicU32::new(16);
    vfs_core::attr::make_dev(0, NEXT_MINOR.fetch_add(1, Ordering::Relaxed))
}
