//! Layer 2 (a filesystem): tmpfs, ramfs with Linux tmpfs's mount options (`size`,
//! `nr_inodes`, `mode`, `uid`, `gid`), `ENOSPC` when a limit is reached, and `statfs`
//! and `/proc/self/mounts` reporting them the way Linux does.

mod options;

pub use options::{TmpfsOptions, TmpfsSize, memparse};

use crate::attr::fs_magic;
use crate::errno::Result;
use crate::ramfs::{Limits, PAGE_SIZE, RamFs, RamFsConfig};
use crate::time::ClockRef;
use alloc::sync::Arc;

/// Makes a tmpfs instance; `total_memory` (bytes) resolves `size=N%`.
pub fn new(
    options: &TmpfsOptions,
    total_memory: u64,
    dev: u64,
    clock: ClockRef,
) -> Result<Arc<RamFs>> {
    let size = options.size_bytes(total_memory);
    let config = RamFsConfig {
        fs_type: "tmpfs",
        magic: fs_magic::TMPFS_MAGIC,
        limits: Limits {
            max_pages: size.map(|size| size.div_ceil(PAGE_SIZE as u64)),
            max_inodes: options.nr_inodes.filter(|&count| count != 0),
        },
        root_mode: options.mode.unwrap_or(0o1777),
        root_uid: options.uid.unwrap_or(0),
        root_gid: options.gid.unwrap_or(0),
        mount_options: options.mount_options(size, PAGE_SIZE as u64),
    };
    RamFs::new(config, dev, clock)
}
