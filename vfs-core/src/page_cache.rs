//! Layer 1 (beside [`crate::inode`] and [`crate::mapping`]): the page cache of a file whose
//! data lives elsewhere (a 9p file lives on the host). tmpfs needs none: its pages *are*
//! the file ([`crate::Inode::shares_pages`]). For a file that has one
//! ([`crate::Inode::page_cache`]), a `MAP_SHARED` mapping maps the cache's pages, so every
//! shared mapping of the file sees the others' stores at once, and what they store is
//! written back to the file later (Linux's `address_space` of a file, with the dirty
//! state kept per page).
//!
//! Who does what:
//! - the filesystem embeds one [`PageCache`] per regular file, fills missing pages from
//!   the file ([`PageCache::get_or_fill`]), writes dirty pages back when asked
//!   ([`PageCache::write_back`], driven by its `Inode::write_back`), and keeps the cache
//!   coherent with its own `read_at`, `write_at` and size changes
//!   ([`PageCache::read_over`], [`PageCache::written`], [`PageCache::resized`]);
//! - the kernel maps the pages, marks one dirty when a store through a shared mapping
//!   first reaches it ([`PageCache::mark_dirty`], on the write fault: clean pages are
//!   mapped read-only), takes the dirty ones to write back
//!   ([`PageCache::take_dirty`]) after write-protecting them in every mapping, and under
//!   memory pressure drops clean pages ([`PageCache::evict_clean`]).
//!
//! **The coherence hook.** Every path that changes a cached file's data or size in the
//! filesystem must tell its cache, so `read`/`write`/`pwrite`/`writev`/`pwritev2`/
//! `copy_file_range`/`splice`/`fallocate` and mappings see each other without each system
//! call doing anything: `write_at` and `append` call [`PageCache::written`] with the bytes
//! that reached the file, a size change (`setattr`, a hole punched, an allocation that
//! grows the file) calls [`PageCache::resized`] or [`PageCache::written`] with zeros, and
//! `read_at` passes what it read through [`PageCache::read_over`]. A new data-changing
//! `Inode` method on such a filesystem does the same; the kernel's part after a shrink
//! or punch is to drop stale pages from the mappings (`file_pages_changed`).
//!
//! Memory: each page is charged to the budget the cache was made with ([`PAGE_COST`])
//! before it is taken from the budget's page source (the kernel's frames), and given
//! back with the page.
//!
//! Locks: the cache's `state`, a leaf: never held across a request to the file, a charge
//! of the budget, or the drop of anything but pages. Filling a page reads the file
//! without it (a generation number makes a fill that raced with a write read again).

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use spin::Mutex;

use crate::PAGE_SIZE;
use crate::budget::{Charge, FilePage, MemoryBudget};
use crate::errno::{Errno, Result};
use crate::mapping::MappingWriter;

const PAGE: u64 = PAGE_SIZE as u64;

/// What one cached page costs the budget: the page, its shared handle and its slot.
pub const PAGE_COST: u64 = PAGE + 128;

/// Most pages written back in one request to the file.
const WRITE_BATCH_PAGES: usize = 16;

/// A dirty page taken for write-back: its index in the file and the page itself.
#[derive(Clone)]
pub struct DirtyPage {
    pub index: u64,
    pub page: Arc<dyn FilePage>,
}

/// What [`PageCache::mark_dirty`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marked {
    /// The page was clean until now.
    pub page_was_clean: bool,
    /// No page of the file was dirty until now.
    pub file_was_clean: bool,
}

struct Slot {
    page: Arc<dyn FilePage>,
    dirty: bool,
    _charge: Charge,
}

#[derive(Default)]
struct State {
    pages: BTreeMap<u64, Slot>,
    dirty: usize,
    /// Bumped by every change of the file's data or size through the cache's owner.
    generation: u64,
    /// The first write-back error not yet reported (Linux's `AS_EIO`/`AS_ENOSPC`).
    error: Option<Errno>,
    /// Live shared mappings that may write the file, made on the first one.
    writers: Option<Arc<AtomicU64>>,
}

/// One file's cached pages. See the module doc.
pub struct PageCache {
    budget: Arc<MemoryBudget>,
    state: Mutex<State>,
    /// Pages held and dirty pages: read without the lock on the paths of files nobody
    /// maps (every `read` and `write`).
    held: AtomicUsize,
    dirty: AtomicUsize,
}

impl PageCache {
    /// An empty cache whose pages are charged to, and taken from, `budget`.
    pub fn new(budget: Arc<MemoryBudget>) -> PageCache {
        PageCache {
            budget,
            state: Mutex::new(State::default()),
            held: AtomicUsize::new(0),
            dirty: AtomicUsize::new(0),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.held.load(Ordering::Acquire) == 0
    }

    pub fn page_count(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    pub fn has_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire) != 0
    }

    /// The cached page `index`, if there is one.
    pub fn lookup(&self, index: u64) -> Option<Arc<dyn FilePage>> {
        if self.is_empty() {
            return None;
        }
        self.state
            .lock()
            .pages
            .get(&index)
            .map(|slot| slot.page.clone())
    }

    /// The page `index` of a file of `size` bytes: the cached one, or a new one filled by
    /// `fill` (handed the page's bytes within the file to read into, zeros after a short
    /// read). `ENXIO` when the page lies wholly past the end (a mapping's access there is
    /// `SIGBUS`), `ENOMEM` when the budget or the page source refuses.
    pub fn get_or_fill(
        &self,
        index: u64,
        size: u64,
        mut fill: impl FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<Arc<dyn FilePage>> {
        let start = index.checked_mul(PAGE).ok_or(Errno::ENXIO)?;
        loop {
            let generation = {
                let state = self.state.lock();
                if let Some(slot) = state.pages.get(&index) {
                    return Ok(slot.page.clone());
                }
                state.generation
            };
            if start >= size {
                return Err(Errno::ENXIO);
            }
            let charge = self.budget.charge(PAGE_COST).map_err(|_| Errno::ENOMEM)?;
            let page = self.budget.allocate_page().ok_or(Errno::ENOMEM)?;
            let mut bytes = vec![0u8; (size - start).min(PAGE) as usize];
            fill(&mut bytes)?;
            page.write(0, &bytes);
            let mut state = self.state.lock();
            if let Some(slot) = state.pages.get(&index) {
                return Ok(slot.page.clone());
            }
            // The file changed while it was read: what was read may be older than it.
            if state.generation != generation {
                continue;
            }
            state.pages.insert(
                index,
                Slot {
                    page: page.clone(),
                    dirty: false,
                    _charge: charge,
                },
            );
            self.held.fetch_add(1, Ordering::AcqRel);
            return Ok(page);
        }
    }

    /// Counts a new shared mapping that may write the file.
    pub fn writable_mapping(&self) -> MappingWriter {
        MappingWriter::new(
            self.state
                .lock()
                .writers
                .get_or_insert_with(Default::default),
        )
    }

    /// Live shared mappings that may write the file.
    pub fn writers(&self) -> u64 {
        self.state
            .lock()
            .writers
            .as_deref()
            .map_or(0, crate::mapping::live_writers)
    }

    /// After bytes of the file at `offset` were read into `buf`: where a dirty page holds
    /// newer bytes than the file (stores through a mapping not yet written back), they
    /// replace what was read. Clean pages are the file's bytes already.
    pub fn read_over(&self, offset: u64, buf: &mut [u8]) {
        if !self.has_dirty() || buf.is_empty() {
            return;
        }
        let state = self.state.lock();
        for_each_page(offset, buf.len(), |index, in_page, at, len| {
            if let Some(slot) = state.pages.get(&index).filter(|slot| slot.dirty) {
                slot.page.read(in_page, &mut buf[at..at + len]);
            }
        });
    }

    /// After `data` reached the file at `offset` (a file of `size_before` bytes before
    /// the write): cached pages take the bytes. When the write grew the file, the bytes
    /// between the old end and the page's end in the old last page read as zeros first,
    /// whatever a mapping stored past the old end.
    pub fn written(&self, offset: u64, data: &[u8], size_before: u64) {
        let mut state = self.state.lock();
        state.generation += 1;
        if state.pages.is_empty() {
            return;
        }
        let end = offset.saturating_add(data.len() as u64);
        if end > size_before {
            zero_past(&state, size_before);
        }
        for_each_page(offset, data.len(), |index, in_page, at, len| {
            if let Some(slot) = state.pages.get(&index) {
                slot.page.write(in_page, &data[at..at + len]);
            }
        });
    }

    /// The file's size changed from `old` to `new` (`truncate`): pages wholly past the
    /// new end go, dirty or not (a truncate discards what was stored there, as Linux's
    /// `truncate_inode_pages`), the last page's bytes past the new end read as zeros;
    /// grown, the old last page's bytes past the old end read as zeros.
    pub fn resized(&self, old: u64, new: u64) {
        let dropped = {
            let mut state = self.state.lock();
            state.generation += 1;
            if new < old {
                let dropped = state.pages.split_off(&new.div_ceil(PAGE));
                let gone_dirty = dropped.values().filter(|slot| slot.dirty).count();
                state.dirty -= gone_dirty;
                self.dirty.fetch_sub(gone_dirty, Ordering::AcqRel);
                self.held.fetch_sub(dropped.len(), Ordering::AcqRel);
                zero_past(&state, new);
                dropped
            } else {
                zero_past(&state, old);
                BTreeMap::new()
            }
        };
        drop(dropped);
    }

    /// A store through a shared mapping reached page `index`, which the mapping holds as
    /// `page` (its address): the page is dirty until written back. `None` when the cache
    /// no longer holds that page there (evicted, or cut off by a truncate): the mapping
    /// must map the cache's page again first.
    pub fn mark_dirty(&self, index: u64, page: *const ()) -> Option<Marked> {
        let mut state = self.state.lock();
        let file_was_clean = state.dirty == 0;
        let slot = state.pages.get_mut(&index)?;
        if Arc::as_ptr(&slot.page).cast::<()>() != page {
            return None;
        }
        let page_was_clean = !slot.dirty;
        slot.dirty = true;
        if page_was_clean {
            state.dirty += 1;
            self.dirty.fetch_add(1, Ordering::AcqRel);
        }
        Some(Marked {
            page_was_clean,
            file_was_clean: file_was_clean && page_was_clean,
        })
    }

    /// The dirty pages of `first..=last`, now marked clean, lowest first. The caller
    /// write-protects them in every mapping (so a later store faults and marks them
    /// again) and then writes them back.
    pub fn take_dirty(&self, first: u64, last: u64) -> Vec<DirtyPage> {
        self.take_dirty_up_to(first, last, usize::MAX)
    }

    /// [`PageCache::take_dirty`], at most `most` pages (the lowest): a write-back of a
    /// large file goes a batch at a time, with little memory of its own.
    pub fn take_dirty_up_to(&self, first: u64, last: u64, most: usize) -> Vec<DirtyPage> {
        if !self.has_dirty() || first > last {
            return Vec::new();
        }
        let mut state = self.state.lock();
        let mut taken = Vec::new();
        for (&index, slot) in state.pages.range_mut(first..=last) {
            if taken.len() == most {
                break;
            }
            if slot.dirty {
                slot.dirty = false;
                taken.push(DirtyPage {
                    index,
                    page: slot.page.clone(),
                });
            }
        }
        state.dirty -= taken.len();
        self.dirty.fetch_sub(taken.len(), Ordering::AcqRel);
        taken
    }

    /// Writes `pages` (from [`PageCache::take_dirty`]) to a file of `size` bytes with
    /// `write(offset, bytes)`, runs of neighbouring pages in one call each. Nothing is
    /// written at or past `size`: a page there was cut off since, and the last page's
    /// bytes past the end are zeroed in the page, not written (Linux's
    /// `block_write_full_page`). The first error is kept for [`PageCache::take_error`]
    /// and returned; the other runs are still written.
    pub fn write_back(
        &self,
        pages: &[DirtyPage],
        size: u64,
        mut write: impl FnMut(u64, &[u8]) -> Result<usize>,
    ) -> Result<()> {
        let mut first_error = None;
        let mut run_start = 0;
        while run_start < pages.len() {
            let mut run_end = run_start + 1;
            while run_end < pages.len()
                && run_end - run_start < WRITE_BATCH_PAGES
                && pages[run_end].index == pages[run_end - 1].index + 1
            {
                run_end += 1;
            }
            if let Err(error) = write_run(&pages[run_start..run_end], size, &mut write) {
                first_error.get_or_insert(error);
            }
            run_start = run_end;
        }
        match first_error {
            None => Ok(()),
            Some(error) => {
                self.note_error(error);
                Err(error)
            }
        }
    }

    /// Keeps `error` (unless an earlier one is kept) for [`PageCache::take_error`].
    pub fn note_error(&self, error: Errno) {
        self.state.lock().error.get_or_insert(error);
    }

    /// A write-back error not yet reported, once (`fsync` and `msync` report it).
    pub fn take_error(&self) -> Result<()> {
        match self.state.lock().error.take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Memory is short: drops clean pages, and returns how many. With `mapped_too`, also
    /// pages mappings still hold (the caller then unmaps them, so their frames go);
    /// without, only pages nothing else holds, whose memory comes back at once. Never
    /// waits: a cache busy elsewhere gives nothing.
    pub fn evict_clean(&self, mapped_too: bool) -> usize {
        let dropped = {
            let Some(mut state) = self.state.try_lock() else {
                return 0;
            };
            let before = state.pages.len();
            let mut kept = BTreeMap::new();
            let mut dropped = Vec::new();
            for (index, slot) in core::mem::take(&mut state.pages) {
                if slot.dirty || (!mapped_too && Arc::strong_count(&slot.page) > 1) {
                    kept.insert(index, slot);
                } else {
                    dropped.push(slot);
                }
            }
            state.pages = kept;
            if state.pages.len() != before {
                state.generation += 1;
            }
            self.held.fetch_sub(dropped.len(), Ordering::AcqRel);
            dropped
        };
        dropped.len()
    }
}

/// Zeroes the cached bytes of the page holding byte `end` of the file, from `end` on.
fn zero_past(state: &State, end: u64) {
    let in_page = (end % PAGE) as usize;
    if in_page == 0 {
        return;
    }
    if let Some(slot) = state.pages.get(&(end / PAGE)) {
        slot.page.zero(in_page, PAGE_SIZE - in_page);
    }
}

/// Calls `each(index, offset in page, offset in the buffer, len)` for every page piece
/// of `len` bytes of the file from `offset`.
fn for_each_page(offset: u64, len: usize, mut each: impl FnMut(u64, usize, usize, usize)) {
    let mut done = 0;
    while done < len {
        let position = offset + done as u64;
        let in_page = (position % PAGE) as usize;
        let piece = (PAGE_SIZE - in_page).min(len - done);
        each(position / PAGE, in_page, done, piece);
        done += piece;
    }
}

/// Writes one run of neighbouring pages (see [`PageCache::write_back`]).
fn write_run(
    run: &[DirtyPage],
    size: u64,
    write: &mut impl FnMut(u64, &[u8]) -> Result<usize>,
) -> Result<()> {
    let start = run[0].index * PAGE;
    if start >= size {
        return Ok(());
    }
    let end = ((run[run.len() - 1].index + 1) * PAGE).min(size);
    let mut bytes = vec![0u8; (end - start) as usize];
    for dirty in run {
        let at = ((dirty.index * PAGE).saturating_sub(start)) as usize;
        if at >= bytes.len() {
            break;
        }
        let len = (bytes.len() - at).min(PAGE_SIZE);
        dirty.page.read(0, &mut bytes[at..at + len]);
        if len < PAGE_SIZE {
            dirty.page.zero(len, PAGE_SIZE - len);
        }
    }
    let mut done = 0;
    while done < bytes.len() {
        let written = write(start + done as u64, &bytes[done..])?;
        if written == 0 {
            // The file took nothing more (a full disk on the host).
            return Err(Errno::ENOSPC);
        }
        done += written;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> PageCache {
        PageCache::new(MemoryBudget::unlimited())
    }

    /// A file of `contents`, the page `index` filled from it.
    fn filled(cache: &PageCache, contents: &[u8], index: u64) -> Arc<dyn FilePage> {
        cache
            .get_or_fill(index, contents.len() as u64, |buf| {
                let start = (index * PAGE) as usize;
                buf.copy_from_slice(&contents[start..start + buf.len()]);
                Ok(())
            })
            .unwrap()
    }

    fn page_bytes(page: &Arc<dyn FilePage>) -> Vec<u8> {
        let mut bytes = vec![0u8; PAGE_SIZE];
        page.read(0, &mut bytes);
        bytes
    }

    fn address(page: &Arc<dyn FilePage>) -> *const () {
        Arc::as_ptr(page).cast()
    }

    #[test]
    fn a_page_is_filled_once_and_zero_past_the_end() {
        let cache = cache();
        let contents = vec![7u8; PAGE_SIZE + 10];
        let page = filled(&cache, &contents, 1);
        let bytes = page_bytes(&page);
        assert!(bytes[..10].iter().all(|&b| b == 7));
        assert!(bytes[10..].iter().all(|&b| b == 0));
        // Cached: no second fill.
        let again = cache.get_or_fill(1, contents.len() as u64, |_| panic!("filled twice"));
        assert!(Arc::ptr_eq(&again.unwrap(), &page));
        assert_eq!(cache.page_count(), 1);
    }

    #[test]
    fn a_page_wholly_past_the_end_is_enxio() {
        let cache = cache();
        assert_eq!(
            cache.get_or_fill(1, PAGE, |_| Ok(())).err(),
            Some(Errno::ENXIO)
        );
        assert_eq!(
            cache.get_or_fill(u64::MAX, u64::MAX, |_| Ok(())).err(),
            Some(Errno::ENXIO)
        );
        assert!(cache.is_empty());
    }

    #[test]
    fn pages_are_charged_and_a_refused_charge_is_enomem() {
        let budget = MemoryBudget::new(PAGE_COST + 10);
        let cache = PageCache::new(budget.clone());
        let contents = vec![1u8; 3 * PAGE_SIZE];
        filled(&cache, &contents, 0);
        assert_eq!(budget.used(), PAGE_COST);
        assert_eq!(
            cache
                .get_or_fill(1, contents.len() as u64, |_| Ok(()))
                .err(),
            Some(Errno::ENOMEM)
        );
        assert_eq!(cache.evict_clean(false), 1);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn dirty_pages_show_through_reads_until_written_back() {
        let cache = cache();
        let mut file = vec![b'f'; 2 * PAGE_SIZE];
        let page = filled(&cache, &file, 0);
        page.write(100, b"stored");
        let marked = cache.mark_dirty(0, address(&page)).unwrap();
        assert!(marked.page_was_clean && marked.file_was_clean);
        let again = cache.mark_dirty(0, address(&page)).unwrap();
        assert!(!again.page_was_clean && !again.file_was_clean);
        let mut read = file[98..108].to_vec();
        cache.read_over(98, &mut read);
        assert_eq!(&read, b"ffstoredff");
        // Taken: clean again; written back to the file as a whole page.
        let dirty = cache.take_dirty(0, u64::MAX);
        assert_eq!(dirty.len(), 1);
        assert!(!cache.has_dirty());
        cache
            .write_back(&dirty, file.len() as u64, |offset, bytes| {
                file[offset as usize..offset as usize + bytes.len()].copy_from_slice(bytes);
                Ok(bytes.len())
            })
            .unwrap();
        assert_eq!(&file[98..108], b"ffstoredff");
        assert_eq!(cache.take_dirty(0, u64::MAX).len(), 0);
    }

    #[test]
    fn a_stale_mapping_is_not_marked() {
        let cache = cache();
        let file = vec![1u8; PAGE_SIZE];
        let page = filled(&cache, &file, 0);
        assert_eq!(cache.evict_clean(true), 1);
        assert_eq!(cache.mark_dirty(0, address(&page)), None);
        let refilled = filled(&cache, &file, 0);
        assert!(cache.mark_dirty(0, address(&refilled)).is_some());
        // A dirty page is never evicted.
        assert_eq!(cache.evict_clean(true), 0);
    }

    #[test]
    fn eviction_without_mapped_too_keeps_pages_others_hold() {
        let cache = cache();
        let file = vec![1u8; 2 * PAGE_SIZE];
        let held = filled(&cache, &file, 0);
        filled(&cache, &file, 1);
        assert_eq!(cache.evict_clean(false), 1);
        assert!(
            cache
                .lookup(0)
                .is_some_and(|page| Arc::ptr_eq(&page, &held))
        );
        assert!(cache.lookup(1).is_none());
    }

    #[test]
    fn write_back_never_extends_the_file_and_zeroes_past_its_end() {
        let cache = cache();
        let mut file = vec![b'a'; 100];
        let page = filled(&cache, &file, 0);
        page.write(90, b"0123456789ABCDEF");
        cache.mark_dirty(0, address(&page)).unwrap();
        let dirty = cache.take_dirty(0, 0);
        let mut writes = Vec::new();
        cache
            .write_back(&dirty, file.len() as u64, |offset, bytes| {
                writes.push((offset, bytes.len()));
                file[offset as usize..offset as usize + bytes.len()].copy_from_slice(bytes);
                Ok(bytes.len())
            })
            .unwrap();
        assert_eq!(writes, vec![(0, 100)]);
        assert_eq!(&file[90..], b"0123456789");
        let bytes = page_bytes(&page);
        assert!(bytes[100..].iter().all(|&b| b == 0), "stores past the end");
    }

    #[test]
    fn neighbouring_pages_go_in_one_write_and_errors_are_kept_once() {
        let cache = cache();
        let file = vec![0u8; 5 * PAGE_SIZE];
        for index in [0, 1, 2, 4] {
            let page = filled(&cache, &file, index);
            cache.mark_dirty(index, address(&page)).unwrap();
        }
        let first_two = cache.take_dirty_up_to(0, u64::MAX, 2);
        assert_eq!(
            first_two.iter().map(|page| page.index).collect::<Vec<_>>(),
            [0, 1]
        );
        let mut dirty = first_two;
        dirty.extend(cache.take_dirty(0, u64::MAX));
        let mut writes = Vec::new();
        let result = cache.write_back(&dirty, file.len() as u64, |offset, bytes| {
            writes.push((offset / PAGE, bytes.len() / PAGE_SIZE));
            if offset == 0 {
                Err(Errno::EIO)
            } else {
                Ok(bytes.len())
            }
        });
        assert_eq!(writes, vec![(0, 3), (4, 1)]);
        assert_eq!(result, Err(Errno::EIO));
        assert_eq!(cache.take_error(), Err(Errno::EIO));
        assert_eq!(cache.take_error(), Ok(()));
        // A file that takes nothing is full.
        let page = cache.lookup(4).unwrap();
        cache.mark_dirty(4, address(&page)).unwrap();
        let dirty = cache.take_dirty(4, 4);
        assert_eq!(
            cache.write_back(&dirty, file.len() as u64, |_, _| Ok(0)),
            Err(Errno::ENOSPC)
        );
    }

    #[test]
    fn writes_reach_cached_pages_and_zero_what_a_mapping_stored_past_the_end() {
        let cache = cache();
        let file = vec![b'x'; 10];
        let page = filled(&cache, &file, 0);
        page.write(10, b"past the end");
        // A write at 20 grows the file from 10: bytes 10..20 read as zeros.
        cache.written(20, b"new", 10);
        let bytes = page_bytes(&page);
        assert_eq!(&bytes[..10], b"xxxxxxxxxx");
        assert!(bytes[10..20].iter().all(|&b| b == 0));
        assert_eq!(&bytes[20..23], b"new");
        // A write inside the file keeps the rest.
        cache.written(2, b"yy", 23);
        assert_eq!(&page_bytes(&page)[..4], b"xxyy");
    }

    #[test]
    fn truncation_drops_pages_past_the_end_dirty_or_not() {
        let cache = cache();
        let file = vec![b'z'; 3 * PAGE_SIZE];
        for index in 0..3 {
            let page = filled(&cache, &file, index);
            cache.mark_dirty(index, address(&page)).unwrap();
        }
        let kept = cache.lookup(0).unwrap();
        cache.resized(3 * PAGE, 10);
        assert_eq!(cache.page_count(), 1);
        let dirty = cache.take_dirty(0, u64::MAX);
        assert_eq!(dirty.len(), 1, "only the page before the new end");
        let bytes = page_bytes(&kept);
        assert!(bytes[..10].iter().all(|&b| b == b'z'));
        assert!(bytes[10..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_fill_that_raced_with_a_write_reads_again() {
        let cache = cache();
        let file = core::cell::RefCell::new(vec![b'o'; PAGE_SIZE]);
        let mut fills = 0;
        let page = cache
            .get_or_fill(0, PAGE, |buf| {
                fills += 1;
                buf.copy_from_slice(&file.borrow());
                if fills == 1 {
                    // Another writer changes the file after this read.
                    file.borrow_mut()[0] = b'n';
                    cache.written(0, b"n", PAGE);
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(fills, 2);
        assert_eq!(page_bytes(&page)[0], b'n');
    }

    #[test]
    fn writers_are_counted() {
        let cache = cache();
        let writer = cache.writable_mapping();
        let second = writer.clone();
        assert_eq!(cache.writers(), 2);
        drop((writer, second));
        assert_eq!(cache.writers(), 0);
    }
}
