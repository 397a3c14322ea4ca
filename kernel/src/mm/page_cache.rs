//! The page cache: a file's pages, read once and shared by every private mapping of it.
//! A shell runs the same programs again and again; without this, each `execve` read the
//! program's pages over 9p anew and copied them into fresh frames.
//!
//! A cached page is mapped read-only (`arch` never maps a frame that is held elsewhere
//! writable), so a write to a private mapping copies it first, as Linux maps a private
//! file page. A cached page is a whole page of the file, or its last page with zeros
//! past the end (what Linux's page cache holds too); where a mapping shows only part of a
//! page (the tail of an ELF segment: file bytes, then zeros) it gets a private copy of the
//! cached page's first bytes, so even those cost no read once the page is cached. Exec
//! reads a program's headers through the cache too ([`read`]): running a cached program
//! again sends nothing to the file.
//!
//! Kept true by: the file's version (size, mtime, ctime, inode number) checked when a
//! file mapping is made ([`check_version`]), which catches changes made elsewhere (the
//! host side of a 9p share, an `O_TRUNC` open); and [`forget`] from every write and
//! truncate the kernel itself serves.
//!
//! Bounded: at most [`MAX_PAGES`] pages, or an eighth of memory if less. Past that, the
//! least recently used files' pages are dropped; frames still mapped stay with their
//! mappings until unmapped.
//!
//! Lock: `CACHE`, a leaf (it is released before any file is read: a 9p read may be slow,
//! and the inode's own locks must not nest inside it).

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use arch::frame::Frame;
use spin::Mutex;
use vfs_core::attr::Stat;
use vfs_core::time::Timespec;
use vfs_core::{Errno, Inode, PAGE_SIZE};

const PAGE: u64 = PAGE_SIZE as u64;

/// The most pages kept, whatever the memory (64 MiB).
pub const MAX_PAGES: usize = 16 * 1024;

/// What a file looked like when its pages were read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Version {
    ino: u64,
    size: u64,
    mtime: Timespec,
    ctime: Timespec,
}

impl Version {
    fn of(stat: &Stat) -> Version {
        Version {
            ino: stat.ino,
            size: stat.size,
            mtime: stat.mtime,
            ctime: stat.ctime,
        }
    }
}

struct CachedFile {
    /// The inode the key's address belongs to: a dead weak reference means the address
    /// may be another inode's now.
    inode: Weak<dyn Inode>,
    version: Version,
    pages: BTreeMap<u64, Arc<Frame>>,
    last_used: u64,
}

struct PageCache {
    files: BTreeMap<usize, CachedFile>,
    pages: usize,
    clock: u64,
}

static CACHE: Mutex<PageCache> = Mutex::new(PageCache {
    files: BTreeMap::new(),
    pages: 0,
    clock: 0,
});

fn key(inode: &Arc<dyn Inode>) -> usize {
    Arc::as_ptr(inode) as *const () as usize
}

fn capacity() -> usize {
    let (total, _) = arch::memory::memory_totals();
    ((total / PAGE_SIZE as u64 / 8) as usize).min(MAX_PAGES)
}

/// Drops `inode`'s cached pages if the file is not the version they were read from.
pub fn check_version(inode: &Arc<dyn Inode>, stat: &Stat) {
    let version = Version::of(stat);
    let mut cache = CACHE.lock();
    let key = key(inode);
    let stale = cache.files.get(&key).is_some_and(|file| {
        file.version != version || !Weak::ptr_eq(&file.inode, &Arc::downgrade(inode))
    });
    if stale {
        cache.remove(key);
    }
    if !cache.files.contains_key(&key) {
        // Entries of inodes that are gone (their pages with them) make room first.
        let before = cache.files.len();
        cache.files.retain(|_, file| file.inode.strong_count() > 0);
        if cache.files.len() != before {
            cache.pages = cache.files.values().map(|file| file.pages.len()).sum();
        }
        cache.files.insert(
            key,
            CachedFile {
                inode: Arc::downgrade(inode),
                version,
                pages: BTreeMap::new(),
                last_used: 0,
            },
        );
    }
}

/// The file changed through the kernel (a write, a truncate): its pages are dropped.
pub fn forget(inode: &Arc<dyn Inode>) {
    CACHE.lock().remove(key(inode));
}

/// The cached page of `inode` at file page `index`, if there is one.
pub fn lookup(inode: &Arc<dyn Inode>, index: u64) -> Option<Arc<Frame>> {
    let mut cache = CACHE.lock();
    cache.clock += 1;
    let clock = cache.clock;
    let file = cache.files.get_mut(&key(inode))?;
    if !Weak::ptr_eq(&file.inode, &Arc::downgrade(inode)) {
        return None;
    }
    file.last_used = clock;
    file.pages.get(&index).cloned()
}

/// The cached pages of `inode` at `first`, `first + 1`, … for each of `wanted` that is
/// true (`None` where it is false or not cached): one look at the cache for a whole
/// fault-around window.
pub fn lookup_run(
    inode: &Arc<dyn Inode>,
    first: u64,
    wanted: impl Iterator<Item = bool>,
) -> Vec<Option<Arc<Frame>>> {
    let mut cache = CACHE.lock();
    cache.clock += 1;
    let clock = cache.clock;
    let file = cache
        .files
        .get_mut(&key(inode))
        .filter(|file| Weak::ptr_eq(&file.inode, &Arc::downgrade(inode)));
    match file {
        Some(file) => {
            file.last_used = clock;
            wanted
                .zip(first..)
                .map(|(wanted, index)| wanted.then(|| file.pages.get(&index).cloned()).flatten())
                .collect()
        }
        None => wanted.map(|_| None).collect(),
    }
}

/// The file's size when its cached pages' version was checked, if it has an entry.
fn checked_size(inode: &Arc<dyn Inode>) -> Option<u64> {
    let cache = CACHE.lock();
    let file = cache.files.get(&key(inode))?;
    Weak::ptr_eq(&file.inode, &Arc::downgrade(inode)).then_some(file.version.size)
}

/// Reads from `inode` at `offset` until `buf` is full or the file ends.
pub fn read_file(inode: &dyn Inode, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut filled = 0;
    while filled < buf.len() {
        let read = inode.read_at(offset.saturating_add(filled as u64), &mut buf[filled..])?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    Ok(filled)
}

/// Reads `buf.len()` bytes at `offset` of a file whose version was checked (exec's
/// headers), from its cached pages when they are all there, else with one read of the
/// whole pages, which are kept. A file with no entry is read directly. Returns the
/// bytes read, fewer at the end of the file.
pub fn read(inode: &Arc<dyn Inode>, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let Some(size) = checked_size(inode) else {
        return read_file(&**inode, offset, buf);
    };
    let end = offset.saturating_add(buf.len() as u64).min(size);
    if buf.is_empty() || offset >= end {
        return read_file(&**inode, offset, buf);
    }
    let (first, last) = (offset / PAGE, (end - 1) / PAGE);
    let cached: Option<Vec<Arc<Frame>>> = lookup_run(inode, first, (first..=last).map(|_| true))
        .into_iter()
        .collect();
    let Some(frames) = cached else {
        let mut data = alloc::vec![0u8; ((last + 1 - first) * PAGE) as usize];
        let filled = read_file(&**inode, first * PAGE, &mut data)?;
        keep_read_pages(inode, first, &data, filled);
        let skip = (offset - first * PAGE) as usize;
        let copied = filled.saturating_sub(skip).min(buf.len());
        buf[..copied].copy_from_slice(&data[skip..skip + copied]);
        return Ok(copied);
    };
    let mut at = offset;
    for frame in &frames {
        let within = (at % PAGE) as usize;
        let take = (PAGE - at % PAGE).min(end - at) as usize;
        let into = (at - offset) as usize;
        buf[into..into + take].copy_from_slice(&frame.bytes()[within..within + take]);
        at += take as u64;
    }
    Ok((end - offset) as usize)
}

/// Keeps the pages of `data` (the file's bytes from page `first` on, `filled` of them
/// read; a short read stopped at the end of the file) that are the file's whole pages:
/// full ones, and the file's last one (zeros past its end). Returns each page as kept,
/// `None` for one not kept (past the end, or no memory for it).
pub(super) fn keep_read_pages(
    inode: &Arc<dyn Inode>,
    first: u64,
    data: &[u8],
    filled: usize,
) -> Vec<Option<Arc<Frame>>> {
    let reached_end = filled < data.len();
    data.chunks(PAGE_SIZE)
        .enumerate()
        .map(|(n, chunk)| {
            let start = n * PAGE_SIZE;
            let whole = filled >= start + PAGE_SIZE || (reached_end && filled > start);
            if !whole {
                return None;
            }
            let (mut frame, _room) = super::address_space::new_frame().ok()?;
            let len = (filled - start).min(PAGE_SIZE);
            frame.bytes_mut()[..len].copy_from_slice(&chunk[..len]);
            Some(insert(inode, first + n as u64, frame))
        })
        .collect()
}

/// Keeps `frame` as `inode`'s page at `index` (a file whose version was checked; others
/// are not cached) and gives it back shared.
pub fn insert(inode: &Arc<dyn Inode>, index: u64, frame: Frame) -> Arc<Frame> {
    let frame = Arc::new(frame);
    let mut cache = CACHE.lock();
    let key = key(inode);
    let Some(file) = cache.files.get_mut(&key) else {
        return frame;
    };
    if !Weak::ptr_eq(&file.inode, &Arc::downgrade(inode)) {
        return frame;
    }
    if file.pages.insert(index, frame.clone()).is_none() {
        cache.pages += 1;
    }
    let capacity = capacity();
    while cache.pages > capacity {
        let Some(oldest) = cache
            .files
            .iter()
            .filter(|(other, file)| **other != key && !file.pages.is_empty())
            .min_by_key(|(_, file)| file.last_used)
            .map(|(&other, _)| other)
        else {
            break;
        };
        cache.remove(oldest);
    }
    frame
}

/// Memory ran out: every cached page is let go (pages still mapped stay with their
/// mappings; the rest return to the frame allocator).
pub fn reclaim() {
    let files = {
        let mut cache = CACHE.lock();
        cache.pages = 0;
        core::mem::take(&mut cache.files)
    };
    drop(files);
}

/// Pages cached now (`/proc/meminfo`'s `Cached`, in pages).
pub fn cached_pages() -> usize {
    CACHE.lock().pages
}

impl PageCache {
    fn remove(&mut self, key: usize) {
        if let Some(file) = self.files.remove(&key) {
            self.pages -= file.pages.len();
        }
    }
}
