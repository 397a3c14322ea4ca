//! The kernel's own filesystems, built on vfs-core: `dev` (device nodes and their drivers),
//! and later `proc`, `sys` and `devpts`.

pub mod dev;

use alloc::sync::Arc;

use vfs_core::{Errno, FileSystem};

/// A new instance of a filesystem the kernel can make on request (`mount(2)` and the
/// container's spec): `tmpfs` today; the kernel filesystems join as they land.
pub fn make(fs_type: &str, data: &str) -> Result<Arc<dyn FileSystem>, Errno> {
    match fs_type {
        "tmpfs" => {
            let (total, _) = crate::mm::setup::memory_totals();
            let options = vfs_core::tmpfs::TmpfsOptions::parse(data, total)?;
            let fs = vfs_core::tmpfs::new_tmpfs(&options, anonymous_dev(), Arc::new(crate::clock::RealTimeClock))?;
            Ok(fs)
        }
        _ => Err(Errno::ENODEV),
    }
}

/// A fresh device number for a filesystem with no device (Linux: major 0).
pub fn anonymous_dev() -> u64 {
    use core::sync::atomic::{AtomicU32, Ordering};
    static NEXT_MINOR: AtomicU32 = AtomicU32::new(16);
    vfs_core::attr::make_dev(0, NEXT_MINOR.fetch_add(1, Ordering::Relaxed))
}
