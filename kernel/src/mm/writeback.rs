//! Write-back: what shared mappings stored into files with a page cache of their own (9p,
//! see `vfs_core::page_cache`) goes back to the files. When:
//! - `msync` of the range and `fsync`/`fdatasync` of the file ([`write_back`],
//!   [`sync_file`]);
//! - `munmap` (and a `MAP_FIXED` mapping over one) of the range;
//! - an address space going away (exit, exec): at the next safe point
//!   ([`write_back_pending`], after the system call, or as the process ends);
//! - `sync`, `syncfs`, and the sandbox's end, before the machine powers off ([`sync_all`]);
//! - memory pressure: the OOM path writes everything back and drops the clean pages, the
//!   mapped ones too ([`evict`]); the budget's reclaimer drops clean pages nothing maps
//!   ([`drop_clean_unmapped`]).
//!
//! One write-back of a file: its dirty pages are taken (clean from then on), write-
//! protected in every address space that maps them (`AddressSpace::
//! write_protect_file_pages`), then written by the filesystem (`Inode::write_back`). A
//! store after the write-protect faults and marks the page dirty again (see
//! [`super::dirty`]), so nothing stored is lost between the copy and the write.
//!
//! Which files: those with dirty pages are held here ([`note_dirty`]), strongly, until
//! written back, so a file whose last mapping and descriptor are gone still gets its data
//! written; those whose cache may hold pages are remembered weakly ([`note_cached`], at
//! `mmap`) for reclaim.
//!
//! Locks (spin, leaves): `DIRTY`, `CACHED`, `DROP_LATER`, each taken alone and never
//! while charging the budget or dropping an inode (an inode's drop may talk to the 9p
//! server). A write-back takes them with no other lock held, then the task table (to find
//! the address spaces), then each address space's lock, one at a time, then the file's
//! page cache (a leaf inside an address space's lock, as on a fault); the file's own
//! write to the host runs with none held. The reclaimer runs under whatever lock a
//! charging caller holds, so it only ever `try_lock`s.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use spin::Mutex;
use vfs_core::page_cache::PAGE_COST;
use vfs_core::{Errno, Inode};

use super::address_space::AddressSpace;
use crate::task::shared::Shared;

/// Files with dirty pages, until written back.
static DIRTY: Mutex<Vec<Arc<dyn Inode>>> = Mutex::new(Vec::new());
/// Files whose page cache may hold pages (for reclaim).
static CACHED: Mutex<Vec<Weak<dyn Inode>>> = Mutex::new(Vec::new());
/// Inodes the reclaimer held last: dropped at the next safe point, not inside it.
static DROP_LATER: Mutex<Vec<Arc<dyn Inode>>> = Mutex::new(Vec::new());
/// An address space that held dirty pages went away.
static PENDING: AtomicBool = AtomicBool::new(false);
/// `DROP_LATER` holds inodes.
static DROP_PENDING: AtomicBool = AtomicBool::new(false);
/// Dirty pages taken, write-protected and written per round (4 MiB): a large file's
/// write-back needs little memory of its own, which may be short when it runs.
const BATCH_PAGES: usize = 1024;

fn same(a: &Arc<dyn Inode>, b: &Arc<dyn Inode>) -> bool {
    Arc::ptr_eq(a, b)
}

/// A shared mapping of `inode`'s page cache was made: its pages count for reclaim.
pub fn note_cached(inode: &Arc<dyn Inode>) {
    let mut cached = CACHED.lock();
    if cached
        .iter()
        .any(|known| known.as_ptr().cast::<()>() == Arc::as_ptr(inode).cast())
    {
        return;
    }
    // Files gone make room first (their pages went with them).
    if cached.len() >= 64 && cached.len().is_power_of_two() {
        cached.retain(|known| known.strong_count() > 0);
    }
    cached.push(Arc::downgrade(inode));
}

/// `inode` has its first dirty page: it is held until written back. Called with an
/// address space locked (on the write fault).
pub fn note_dirty(inode: &Arc<dyn Inode>) {
    let mut dirty = DIRTY.lock();
    if !dirty.iter().any(|known| same(known, inode)) {
        dirty.push(inode.clone());
    }
}

/// An address space that held dirty pages went away: write back at the next safe point.
pub fn schedule() {
    PENDING.store(true, Ordering::Release);
}

/// Every address space there is (each once, however many threads share it).
pub fn address_spaces() -> Vec<Shared<AddressSpace>> {
    let tasks: Vec<_> = {
        let table = crate::task::table::TABLE.lock();
        table
            .pids_with_tasks()
            .into_iter()
            .filter_map(|pid| table.get(pid).and_then(|entry| entry.task.clone()))
            .collect()
    };
    let mut spaces: Vec<Shared<AddressSpace>> = Vec::new();
    for task in tasks {
        let Some(mm) = task.parts().mm else {
            continue;
        };
        if !spaces.iter().any(|known| Arc::ptr_eq(known, &mm)) {
            spaces.push(mm);
        }
    }
    spaces
}

/// Writes back the dirty pages `first..=last` of `inode` (its data inode: an overlay
/// file's upper). Called with no lock held. A file without a page cache has nothing to
/// write back.
pub fn write_back(inode: &Arc<dyn Inode>, first: u64, last: u64) -> Result<(), Errno> {
    let data = inode.data_inode().unwrap_or_else(|| inode.clone());
    let Some(cache) = data.page_cache() else {
        return Ok(());
    };
    let mut result = Ok(());
    let mut cursor = first;
    loop {
        let pages = cache.take_dirty_up_to(cursor, last, BATCH_PAGES);
        let Some(highest) = pages.last().map(|page| page.index) else {
            break;
        };
        let indexes: Vec<u64> = pages.iter().map(|page| page.index).collect();
        for mm in address_spaces() {
            mm.lock().write_protect_file_pages(&data, &indexes);
        }
        let written = data.write_back(&pages);
        drop(pages);
        if result.is_ok() {
            result = written;
        }
        if indexes.len() < BATCH_PAGES || highest >= last {
            break;
        }
        cursor = highest + 1;
    }
    if !cache.has_dirty() {
        let released = {
            let mut dirty = DIRTY.lock();
            dirty
                .iter()
                .position(|known| same(known, &data))
                .map(|at| dirty.swap_remove(at))
        };
        drop(released);
    }
    result
}

/// `fsync`'s part before the file's own: every dirty page written back, then the first
/// write-back error not yet reported (one from `munmap` or an exit, say).
pub fn sync_file(inode: &Arc<dyn Inode>) -> Result<(), Errno> {
    let data = inode.data_inode().unwrap_or_else(|| inode.clone());
    let Some(cache) = data.page_cache() else {
        return Ok(());
    };
    let written = write_back(&data, 0, u64::MAX);
    let earlier = cache.take_error();
    written.and(earlier)
}

/// Writes back every dirty page of every file (`sync`, the end of the sandbox). Errors
/// stay with their files, for their next `fsync`.
pub fn sync_all() {
    PENDING.store(false, Ordering::Release);
    let files: Vec<Arc<dyn Inode>> = DIRTY.lock().clone();
    for file in &files {
        if let Err(error) = write_back(file, 0, u64::MAX) {
            log::warn!(target: "writeback", "writing back a mapped file's pages failed: {error:?}");
        }
    }
    drop(files);
    let later = core::mem::take(&mut *DROP_LATER.lock());
    drop(later);
}

/// At a safe point (no lock held: after a system call, as a process ends): writes back
/// what address spaces that went away left dirty.
pub fn write_back_pending() {
    if PENDING.swap(false, Ordering::AcqRel) {
        sync_all();
    }
    if DROP_PENDING.swap(false, Ordering::AcqRel) {
        let later = core::mem::take(&mut *DROP_LATER.lock());
        drop(later);
    }
}

/// The files whose caches may hold pages, alive now (`None` if the list is busy).
fn cached_files(wait: bool) -> Option<Vec<Arc<dyn Inode>>> {
    let cached = if wait {
        CACHED.lock()
    } else {
        CACHED.try_lock()?
    };
    Some(cached.iter().filter_map(Weak::upgrade).collect())
}

/// The budget's reclaimer: drops the clean cached pages nothing maps (they can be read
/// again). Runs under the locks of whoever is charging, so it takes none it could wait
/// for and drops no inode (see [`release`]). Returns the bytes given back.
pub fn drop_clean_unmapped() -> u64 {
    let Some(files) = cached_files(false) else {
        return 0;
    };
    let mut dropped = 0;
    for file in &files {
        if let Some(cache) = file.page_cache() {
            dropped += cache.evict_clean(false) as u64;
        }
    }
    release(files);
    dropped * PAGE_COST
}

/// Lets go of files taken from `CACHED` where no inode may be dropped (the last holder
/// of one would talk to the 9p server): one this was the last holder of waits in
/// `DROP_LATER` for the next safe point.
fn release(files: Vec<Arc<dyn Inode>>) {
    let last_holders: Vec<Arc<dyn Inode>> = files
        .into_iter()
        .filter(|file| Arc::strong_count(file) == 1)
        .collect();
    if last_holders.is_empty() {
        return;
    }
    match DROP_LATER.try_lock() {
        Some(mut later) => {
            later.extend(last_holders);
            DROP_PENDING.store(true, Ordering::Release);
        }
        // Busy (never on one CPU): keeping them alive is safe, dropping them is not.
        None => core::mem::forget(last_holders),
    }
}

/// The OOM path, with no lock held: every dirty page written back, then every clean
/// cached page dropped, those mappings hold too (unmapped from every address space, so
/// their frames go; the next touch reads them again).
pub fn evict() {
    sync_all();
    let Some(files) = cached_files(true) else {
        return;
    };
    for file in &files {
        let Some(cache) = file.page_cache() else {
            continue;
        };
        if cache.evict_clean(true) > 0 {
            for mm in address_spaces() {
                mm.lock().forget_file_pages(file);
            }
        }
    }
}

/// Pages the files' caches hold now (`/proc/meminfo`'s `Cached` counts them too).
pub fn cached_pages() -> usize {
    let Some(files) = cached_files(false) else {
        return 0;
    };
    let pages = files
        .iter()
        .filter_map(|file| file.page_cache().map(|cache| cache.page_count()))
        .sum();
    release(files);
    pages
}
