//! Layer 2 (a filesystem): ramfs, a tree of in-memory nodes. It is also the engine of
//! tmpfs (ramfs plus limits) and the synthetic mount-point directories of the mount layer.
//!
//! Lock order inside one ramfs (outermost first):
//! 1. `Shared::rename_lock`, taken only by cross-directory renames (Linux's
//!    `s_vfs_rename_mutex`), so no two threads ever hold two directory locks in
//!    conflicting order;
//! 2. a directory's `RamInode::state`; with two, the lower inode number first;
//! 3. a child's `RamInode::state` (the victim of rmdir/rename, the target of link);
//!    no code holds a child's lock and then asks for its parent's.
//!
//! Space and inode accounting are atomics, taken under any of these; so is the memory
//! budget every node, entry and page is charged to.

mod dir;
mod node;
mod pages;
mod rename;

pub use node::RamInode;
pub use pages::PAGE_SIZE;

use crate::attr::{NAME_MAX, StatFs, fs_magic};
use crate::budget::MemoryBudget;
use crate::errno::{Errno, Result};
use crate::inode::{FileSystem, Inode};
use crate::time::ClockRef;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

/// Capacity limits; `None` is unlimited. tmpfs sets them from `size=` and `nr_inodes=`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub max_pages: Option<u64>,
    pub max_inodes: Option<u64>,
}

/// How a ramfs instance presents itself; tmpfs and the mount layer's synthetic
/// directories differ only here.
#[derive(Clone, Debug)]
pub struct RamFsConfig {
    pub fs_type: &'static str,
    pub magic: u64,
    pub limits: Limits,
    pub root_mode: u32,
    pub root_uid: u32,
    pub root_gid: u32,
    /// Text for `/proc/self/mounts` after the generic flags.
    pub mount_options: String,
    /// What every node, directory entry and page of data is charged to, besides the
    /// limits above: the kernel's one budget for all of a container's memory.
    pub budget: Arc<MemoryBudget>,
}

impl Default for RamFsConfig {
    fn default() -> Self {
        RamFsConfig {
            fs_type: "ramfs",
            magic: fs_magic::RAMFS_MAGIC,
            limits: Limits::default(),
            root_mode: 0o755,
            root_uid: 0,
            root_gid: 0,
            mount_options: String::new(),
            budget: MemoryBudget::unlimited(),
        }
    }
}

pub(crate) struct Shared {
    dev: u64,
    clock: ClockRef,
    next_ino: AtomicU64,
    limits: Limits,
    used_pages: AtomicU64,
    used_inodes: AtomicU64,
    rename_lock: spin::Mutex<()>,
    budget: Arc<MemoryBudget>,
}

impl Shared {
    fn allocate_ino(&self) -> u64 {
        self.next_ino.fetch_add(1, Ordering::Relaxed)
    }

    /// Takes `count` from a counter bounded by `limit`, all or nothing.
    fn reserve(counter: &AtomicU64, limit: Option<u64>, count: u64) -> Result<()> {
        let Some(limit) = limit else {
            counter.fetch_add(count, Ordering::Relaxed);
            return Ok(());
        };
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(count).filter(|&total| total <= limit)
            })
            .map(|_| ())
            .map_err(|_| Errno::ENOSPC)
    }

    pub(crate) fn reserve_inode(&self) -> Result<()> {
        Self::reserve(&self.used_inodes, self.limits.max_inodes, 1)
    }

    pub(crate) fn release_inode(&self) {
        self.used_inodes.fetch_sub(1, Ordering::AcqRel);
    }

    /// Grants up to `wanted` pages; returns how many (fewer only when the limit is near).
    pub(crate) fn reserve_pages_up_to(&self, wanted: u64) -> u64 {
        let Some(limit) = self.limits.max_pages else {
            self.used_pages.fetch_add(wanted, Ordering::Relaxed);
            return wanted;
        };
        let mut granted = 0;
        let _ = self
            .used_pages
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                granted = wanted.min(limit.saturating_sub(used));
                Some(used + granted)
            });
        granted
    }

    pub(crate) fn release_pages(&self, count: u64) {
        if count > 0 {
            self.used_pages.fetch_sub(count, Ordering::AcqRel);
        }
    }

    pub(crate) fn now(&self) -> crate::time::Timespec {
        self.clock.now()
    }
}

/// A ramfs (or tmpfs) instance.
pub struct RamFs {
    shared: Arc<Shared>,
    root: Arc<RamInode>,
    config: RamFsConfig,
}

impl RamFs {
    pub fn new(config: RamFsConfig, dev: u64, clock: ClockRef) -> Result<Arc<RamFs>> {
        let shared = Arc::new(Shared {
            dev,
            clock,
            next_ino: AtomicU64::new(1),
            limits: config.limits,
            used_pages: AtomicU64::new(0),
            used_inodes: AtomicU64::new(0),
            rename_lock: spin::Mutex::new(()),
            budget: config.budget.clone(),
        });
        let root = RamInode::new_root(&shared, config.root_mode, config.root_uid, config.root_gid)?;
        Ok(Arc::new(RamFs {
            shared,
            root,
            config,
        }))
    }

    /// A plain ramfs with default settings: the common case for tests and synthetic dirs.
    pub fn new_default(dev: u64, clock: ClockRef) -> Arc<RamFs> {
        match RamFs::new(RamFsConfig::default(), dev, clock) {
            Ok(fs) => fs,
            // Unlimited inodes: reserving the root cannot fail.
            Err(_) => unreachable!("an unlimited ramfs always has room for its root"),
        }
    }

    pub fn root_node(&self) -> &Arc<RamInode> {
        &self.root
    }

    pub fn used_pages(&self) -> u64 {
        self.shared.used_pages.load(Ordering::Acquire)
    }

    pub fn used_inodes(&self) -> u64 {
        self.shared.used_inodes.load(Ordering::Acquire)
    }
}

impl FileSystem for RamFs {
    fn fs_type(&self) -> &str {
        self.config.fs_type
    }

    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }

    fn dev(&self) -> u64 {
        self.shared.dev
    }

    fn statfs(&self) -> Result<StatFs> {
        let limits = self.shared.limits;
        let used_pages = self.used_pages();
        let used_inodes = self.used_inodes();
        // Unlimited ramfs reports zeros, as Linux's ramfs does.
        let blocks = limits.max_pages.unwrap_or(0);
        let free_blocks = limits
            .max_pages
            .map_or(0, |max| max.saturating_sub(used_pages));
        let files = limits.max_inodes.unwrap_or(0);
        let free_files = limits
            .max_inodes
            .map_or(0, |max| max.saturating_sub(used_inodes));
        Ok(StatFs {
            fs_type: self.config.magic,
            block_size: PAGE_SIZE as u64,
            blocks,
            blocks_free: free_blocks,
            blocks_available: free_blocks,
            files,
            files_free: free_files,
            name_max: NAME_MAX as u64,
            fragment_size: PAGE_SIZE as u64,
            flags: 0,
        })
    }

    fn mount_options(&self) -> String {
        self.config.mount_options.clone()
    }
}

/// Blocks (512-byte units) for a page count, as `st_blocks` reports them.
pub(crate) fn blocks_for_pages(pages: u64) -> u64 {
    pages * (PAGE_SIZE as u64 / 512)
}
