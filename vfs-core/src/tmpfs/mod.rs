//! Layer 2 (a filesystem): tmpfs, ramfs with Linux tmpfs's mount options (`size`,
//! `nr_inodes`, `mode`, `uid`, `gid`) and defaults (half of memory, and half as many
//! inodes as memory has pages, for every instance however it is mounted), `ENOSPC` when a
//! limit is reached, and `statfs` and `/proc/self/mounts` reporting them the way Linux
//! does. Every instance also charges the one memory budget, so several tmpfs mounts
//! together can never hold more than the budget allows.

mod options;

pub use options::{TmpfsOptions, TmpfsSize, memparse};

use crate::attr::fs_magic;
use crate::budget::MemoryBudget;
use crate::errno::Result;
use crate::ramfs::{Limits, PAGE_SIZE, RamFs, RamFsConfig};
use crate::time::ClockRef;
use alloc::sync::Arc;

/// The machine a tmpfs lives on: the memory its defaults and `size=N%` are taken of, and
/// the budget its nodes and pages are charged to.
#[derive(Clone, Debug)]
pub struct TmpfsMemory {
    /// Bytes of RAM (Linux's `totalram_pages`).
    pub total: u64,
    pub budget: Arc<MemoryBudget>,
}

impl TmpfsMemory {
    /// A machine of `total` bytes with a budget that never refuses (tests, host tools).
    pub fn unbudgeted(total: u64) -> TmpfsMemory {
        TmpfsMemory {
            total,
            budget: MemoryBudget::unlimited(),
        }
    }

    /// Linux's `shmem_default_max_blocks`: half of RAM, in pages.
    pub fn default_max_pages(&self) -> u64 {
        self.total / PAGE_SIZE as u64 / 2
    }

    /// Linux's `shmem_default_max_inodes`: as many inodes as half of RAM has pages.
    pub fn default_max_inodes(&self) -> u64 {
        self.total / PAGE_SIZE as u64 / 2
    }
}

/// Makes a tmpfs instance on `memory`.
pub fn new(
    options: &TmpfsOptions,
    memory: &TmpfsMemory,
    dev: u64,
    clock: ClockRef,
) -> Result<Arc<RamFs>> {
    // Given as 0, a limit is off, as on Linux; not given, it is the default.
    let max_pages = match options.size {
        Some(size) => size.bytes(memory.total).div_ceil(PAGE_SIZE as u64),
        None => memory.default_max_pages(),
    };
    let max_inodes = options
        .nr_inodes
        .unwrap_or_else(|| memory.default_max_inodes());
    let config = RamFsConfig {
        fs_type: "tmpfs",
        magic: fs_magic::TMPFS_MAGIC,
        limits: Limits {
            max_pages: Some(max_pages).filter(|&pages| pages != 0),
            max_inodes: Some(max_inodes).filter(|&count| count != 0),
        },
        root_mode: options.mode.unwrap_or(0o1777),
        root_uid: options.uid.unwrap_or(0),
        root_gid: options.gid.unwrap_or(0),
        mount_options: options.mount_options(
            (max_pages != memory.default_max_pages()).then_some(max_pages),
            (max_inodes != memory.default_max_inodes()).then_some(max_inodes),
            PAGE_SIZE as u64,
        ),
        budget: memory.budget.clone(),
    };
    RamFs::new(config, dev, clock)
}
