//! Layer 1 (beside [`crate::inode`]): what a filesystem whose pages mappings share offers
//! the kernel's memory manager. tmpfs is Linux's shmem: a `MAP_SHARED` mapping of one of
//! its files maps the file's own pages ([`crate::budget::FilePage`]), so a write through
//! the mapping is what `read` sees and the other way round, and `MAP_PRIVATE` maps them
//! read-only until written. Shared anonymous memory and `memfd_create` files are such
//! files too, made in a filesystem nobody mounted.
//!
//! What lives here: the file seals of `fcntl(F_ADD_SEALS)` ([`seal`]) and the count of
//! shared mappings that may write the file ([`MappingWriter`]), which `F_SEAL_WRITE`
//! needs to be zero (Linux's `i_mmap_writable`). The [`crate::Inode`] methods that use
//! them are `shares_pages`, `mapped_page`, `writable_mapping`, `punch_hole`, `seals` and
//! `add_seals`. A file whose data lives elsewhere (9p) gives shared mappings the pages of
//! its page cache instead, written back later: see [`crate::page_cache`].

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

/// `F_SEAL_*`, as `<linux/fcntl.h>` numbers them.
pub mod seal {
    /// No further seals may be added.
    pub const SEAL: u32 = 0x1;
    /// The file may not shrink.
    pub const SHRINK: u32 = 0x2;
    /// The file may not grow.
    pub const GROW: u32 = 0x4;
    /// No writes, and no shared mapping that may write (refused while one exists).
    pub const WRITE: u32 = 0x8;
    /// No writes and no new writable shared mappings; existing ones keep writing.
    pub const FUTURE_WRITE: u32 = 0x10;
    /// The execute bits of the mode may not change.
    pub const EXEC: u32 = 0x20;
    /// Every seal Linux knows (`F_ALL_SEALS`).
    pub const ALL: u32 = SEAL | SHRINK | GROW | WRITE | FUTURE_WRITE | EXEC;
    /// Seals that stop `write` and writable shared mappings.
    pub const ANY_WRITE: u32 = WRITE | FUTURE_WRITE;
}

/// One shared mapping that may write a file (a `MAP_SHARED` area of a file opened for
/// writing, writable now or through a later `mprotect`). The file counts the live ones:
/// cloning one (an area split in two, `fork` copying it) counts another, dropping one (an
/// area unmapped or merged) counts one fewer, so the count is exact however the areas
/// are cut up.
pub struct MappingWriter {
    live: Arc<AtomicU64>,
}

impl MappingWriter {
    /// One more writer on the file whose counter is `live`.
    pub fn new(live: &Arc<AtomicU64>) -> MappingWriter {
        live.fetch_add(1, Ordering::AcqRel);
        MappingWriter { live: live.clone() }
    }
}

impl Clone for MappingWriter {
    fn clone(&self) -> Self {
        MappingWriter::new(&self.live)
    }
}

impl Drop for MappingWriter {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
    }
}

impl core::fmt::Debug for MappingWriter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MappingWriter")
            .field("live", &self.live.load(Ordering::Relaxed))
            .finish()
    }
}

/// How many writers count on `live` now.
pub fn live_writers(live: &AtomicU64) -> u64 {
    live.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_are_counted_through_clones_and_drops() {
        let live = Arc::new(AtomicU64::new(0));
        let first = MappingWriter::new(&live);
        let split = first.clone();
        assert_eq!(live_writers(&live), 2);
        drop(first);
        assert_eq!(live_writers(&live), 1);
        drop(split);
        assert_eq!(live_writers(&live), 0);
    }
}
