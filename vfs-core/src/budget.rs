//! Layer 0: the memory budget. Everything a container can make the kernel hold (file data
//! and inodes of every tmpfs and overlay upper, cached names, pipe buffers, areas, page
//! tables, user pages, descriptor tables, generated `/proc` text) is charged to one
//! [`MemoryBudget`]: guest RAM minus a reserve the kernel keeps for its own work. A charge
//! that would pass the limit is refused, and the caller turns that into Linux's errno for
//! the operation (`ENOSPC` for a filesystem, `ENOMEM` for memory, …), so the container
//! meets a full budget long before the kernel's heap runs dry.
//!
//! A [`Charge`] is the only way to hold part of the budget, and it gives its bytes back
//! when dropped: whatever owns the memory owns its charge beside it, so memory freed is
//! memory uncharged, on every path, errors included.
//!
//! Figures are estimates of what the kernel really spends (an object's size plus the
//! allocator's and the containing map's overhead, see [`heap_cost`]), kept on the high
//! side: the reserve absorbs the error.
//!
//! No locks: the counters are atomics, so charging is allowed under any other lock. A
//! refused charge first asks the reclaimer ([`MemoryBudget::set_reclaimer`]) to give back
//! what can be had again (the kernel's page cache) and tries once more: the reclaimer
//! therefore runs under whatever locks the charging code holds, and must take none of
//! theirs (it must not charge, nor touch a filesystem's or a process's locks).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::errno::Errno;

/// One page of a file's data, wherever it lives. Shared (`Arc`): tmpfs is Linux's shmem, so
/// a file's page is also what a shared mapping of the file maps (see [`crate::mapping`]).
/// It is therefore read and written by copying through `&self`, never borrowed: user code
/// may write it through a mapping at any moment. `Any` lets the kernel recognise its own
/// page type (a frame it can map) behind the trait object.
pub trait FilePage: Any + Send + Sync {
    /// Copies the page's bytes from `offset` into `buf` (`offset + buf.len()` is at most
    /// `PAGE_SIZE`).
    fn read(&self, offset: usize, buf: &mut [u8]);
    /// Copies `data` into the page at `offset`.
    fn write(&self, offset: usize, data: &[u8]);
    /// Zeroes `len` bytes from `offset`.
    fn zero(&self, offset: usize, len: usize);
}

/// A page on the heap: file data where the budget has no page source (host tests, host
/// tools). The lock makes the copies through `&self` sound.
pub struct HeapPage(spin::Mutex<[u8; crate::PAGE_SIZE]>);

impl HeapPage {
    pub fn new() -> HeapPage {
        HeapPage(spin::Mutex::new([0; crate::PAGE_SIZE]))
    }
}

impl Default for HeapPage {
    fn default() -> Self {
        Self::new()
    }
}

impl FilePage for HeapPage {
    fn read(&self, offset: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&self.0.lock()[offset..offset + buf.len()]);
    }

    fn write(&self, offset: usize, data: &[u8]) {
        self.0.lock()[offset..offset + data.len()].copy_from_slice(data);
    }

    fn zero(&self, offset: usize, len: usize) {
        self.0.lock()[offset..offset + len].fill(0);
    }
}

/// Where pages of file data come from. The kernel gives its frame allocator, so file data
/// sits in whole frames that address spaces can map and that go back to the pool when a
/// file shrinks; without one, pages are [`HeapPage`]s.
pub trait PageSource: Send + Sync {
    /// A zeroed page, or `None` when memory is exhausted.
    fn allocate(&self) -> Option<Arc<dyn FilePage>>;
}

/// The budget. Shared (`Arc`) by everything that charges it.
pub struct MemoryBudget {
    pages: Option<Arc<dyn PageSource>>,
    /// Drops what can be had again and says how many bytes of charges that gave back.
    reclaimer: spin::Once<fn() -> u64>,
    limit: AtomicU64,
    used: AtomicU64,
    /// The highest `used` seen, for reports.
    peak: AtomicU64,
    /// Charges refused so far: a reclaimer compares it with the count it last acted on.
    refusals: AtomicU64,
}

/// A charge the budget refused: the caller says which errno that is for its operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverBudget;

impl OverBudget {
    /// As a filesystem reports it (`write`, `creat`, `mkdir` on a full tmpfs).
    pub fn no_space(self) -> Errno {
        Errno::ENOSPC
    }
}

/// Memory, in general, is `ENOMEM`; filesystems say [`OverBudget::no_space`] instead.
impl From<OverBudget> for Errno {
    fn from(_: OverBudget) -> Errno {
        Errno::ENOMEM
    }
}

impl fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBudget")
            .field("limit", &self.limit())
            .field("used", &self.used())
            .finish()
    }
}

/// What a heap object of `size` bytes costs: rounded up to the allocator's granule, plus
/// its header. Used for every estimate, so they all err the same way.
pub const fn heap_cost(size: usize) -> u64 {
    (size.next_multiple_of(16) + 16) as u64
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<MemoryBudget> {
        Self::build(limit, None)
    }

    /// A budget of `limit` bytes whose file pages come from `pages`.
    pub fn with_pages(limit: u64, pages: Arc<dyn PageSource>) -> Arc<MemoryBudget> {
        Self::build(limit, Some(pages))
    }

    fn build(limit: u64, pages: Option<Arc<dyn PageSource>>) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            pages,
            reclaimer: spin::Once::new(),
            limit: AtomicU64::new(limit),
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
        })
    }

    /// A budget that never refuses (host tools, tests that are not about memory).
    pub fn unlimited() -> Arc<MemoryBudget> {
        Self::new(u64::MAX)
    }

    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Acquire)
    }

    /// Sets what a refused charge asks to give memory back before it is refused for good
    /// (once; see the module's note on locks).
    pub fn set_reclaimer(&self, reclaim: fn() -> u64) {
        self.reclaimer.call_once(|| reclaim);
    }

    /// Asks the reclaimer for memory: whether it gave any back.
    fn reclaimed(&self) -> bool {
        self.reclaimer.get().is_some_and(|reclaim| reclaim() > 0)
    }

    /// Moves the limit (the kernel settles it once its start-up memory is known). Charges
    /// held are kept even if they now pass it; new ones are refused until they fit.
    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Release);
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    pub fn available(&self) -> u64 {
        self.limit().saturating_sub(self.used())
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// A zeroed page for file data (charge it first): from the page source, else the heap.
    /// `None` when memory is exhausted.
    pub fn allocate_page(&self) -> Option<Arc<dyn FilePage>> {
        match &self.pages {
            Some(source) => source.allocate(),
            None => Some(Arc::new(HeapPage::new())),
        }
    }

    /// How many charges were refused since the budget was made.
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    /// Takes `bytes`, all or nothing.
    pub fn charge(self: &Arc<Self>, bytes: u64) -> Result<Charge, OverBudget> {
        self.take(bytes)?;
        Ok(Charge {
            budget: self.clone(),
            bytes,
        })
    }

    /// Takes as many whole `unit`s of `bytes` as fit (maybe none): a write that stops
    /// short at the limit, as on a filesystem that fills up.
    pub fn charge_up_to(self: &Arc<Self>, bytes: u64, unit: u64) -> Charge {
        let unit = unit.max(1);
        let mut granted = self.take_up_to(bytes, unit);
        if granted < bytes && self.reclaimed() {
            granted += self.take_up_to(bytes - granted, unit);
        }
        if granted < bytes {
            self.refusals.fetch_add(1, Ordering::Relaxed);
        }
        self.note_peak();
        Charge {
            budget: self.clone(),
            bytes: granted,
        }
    }

    /// Takes `bytes` even past the limit: only for memory the kernel must have to finish
    /// something it already started (naming a file just created), never for a request a
    /// container can repeat without bound. The reserve pays for the overshoot.
    pub fn charge_anyway(self: &Arc<Self>, bytes: u64) -> Charge {
        self.used.fetch_add(bytes, Ordering::AcqRel);
        self.note_peak();
        Charge {
            budget: self.clone(),
            bytes,
        }
    }

    /// A charge of nothing, to grow later.
    pub fn empty_charge(self: &Arc<Self>) -> Charge {
        Charge {
            budget: self.clone(),
            bytes: 0,
        }
    }

    /// Takes whole `unit`s of `bytes` as fit: how many bytes.
    fn take_up_to(&self, bytes: u64, unit: u64) -> u64 {
        let mut granted = 0;
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                let room = self.limit().saturating_sub(used);
                granted = bytes.min(room) / unit * unit;
                Some(used + granted)
            });
        granted
    }

    fn take_once(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes)
                    .filter(|&total| total <= self.limit())
            })
            .is_ok()
    }

    fn take(&self, bytes: u64) -> Result<(), OverBudget> {
        if self.take_once(bytes) || (self.reclaimed() && self.take_once(bytes)) {
            self.note_peak();
            Ok(())
        } else {
            self.refusals.fetch_add(1, Ordering::Relaxed);
            Err(OverBudget)
        }
    }

    fn give_back(&self, bytes: u64) {
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::AcqRel);
        }
    }

    fn note_peak(&self) {
        self.peak.fetch_max(self.used(), Ordering::Relaxed);
    }
}

/// Bytes held against a budget, given back when dropped.
#[must_use = "dropping a charge gives its bytes back at once"]
pub struct Charge {
    budget: Arc<MemoryBudget>,
    bytes: u64,
}

impl fmt::Debug for Charge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Charge({} bytes)", self.bytes)
    }
}

impl Charge {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The budget this charge is held against (to charge more of the same kind).
    pub fn budget(&self) -> &Arc<MemoryBudget> {
        &self.budget
    }

    /// Takes `bytes` more, all or nothing.
    pub fn grow(&mut self, bytes: u64) -> Result<(), OverBudget> {
        self.budget.take(bytes)?;
        self.bytes += bytes;
        Ok(())
    }

    /// Takes `bytes` more even past the limit (see [`MemoryBudget::charge_anyway`]).
    pub fn grow_anyway(&mut self, bytes: u64) {
        self.budget.used.fetch_add(bytes, Ordering::AcqRel);
        self.budget.note_peak();
        self.bytes += bytes;
    }

    /// Gives back `bytes` (at most what it holds).
    pub fn shrink(&mut self, bytes: u64) {
        let bytes = bytes.min(self.bytes);
        self.bytes -= bytes;
        self.budget.give_back(bytes);
    }

    /// Holds exactly `bytes` from now on: grows (all or nothing) or shrinks to it.
    pub fn resize(&mut self, bytes: u64) -> Result<(), OverBudget> {
        if bytes > self.bytes {
            self.grow(bytes - self.bytes)
        } else {
            self.shrink(self.bytes - bytes);
            Ok(())
        }
    }

    /// Moves `bytes` (at most what it holds) into a charge of their own.
    pub fn split(&mut self, bytes: u64) -> Charge {
        let bytes = bytes.min(self.bytes);
        self.bytes -= bytes;
        Charge {
            budget: self.budget.clone(),
            bytes,
        }
    }

    /// Takes over `other`'s bytes. Both must be held against the same budget; one of
    /// another budget is given back there and charged here anyway, so the totals stay right.
    pub fn merge(&mut self, mut other: Charge) {
        if Arc::ptr_eq(&self.budget, &other.budget) {
            self.bytes += core::mem::take(&mut other.bytes);
        } else {
            self.grow_anyway(other.bytes);
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// Bytes whose amount a container decides (a listing of its mounts, a `/proc` file),
/// grown only as far as the budget lets them, and fallibly: `ENOMEM` when it refuses,
/// never the heap's end. The charge goes with the buffer.
pub struct ChargedBuffer {
    bytes: Vec<u8>,
    charge: Charge,
}

impl ChargedBuffer {
    pub fn new(budget: &Arc<MemoryBudget>) -> ChargedBuffer {
        ChargedBuffer {
            bytes: Vec::new(),
            charge: budget.empty_charge(),
        }
    }

    /// Appends `data`, doubling the room (and its charge) when it runs out.
    pub fn extend(&mut self, data: &[u8]) -> Result<(), Errno> {
        let needed = self.bytes.len() + data.len();
        if needed > self.bytes.capacity() {
            let capacity = needed.max(2 * self.bytes.capacity());
            self.charge.resize(capacity as u64)?;
            self.bytes
                .try_reserve_exact(capacity - self.bytes.len())
                .map_err(|_| Errno::ENOMEM)?;
        }
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes, no longer charged: the caller charges what it keeps.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charged_buffer_grows_within_the_budget_and_refuses_past_it() {
        let budget = MemoryBudget::new(64);
        let mut buffer = ChargedBuffer::new(&budget);
        buffer.extend(&[1; 20]).unwrap();
        buffer.extend(&[2; 20]).unwrap();
        assert_eq!((buffer.len(), budget.used()), (40, 40));
        assert_eq!(buffer.extend(&[3; 30]), Err(Errno::ENOMEM));
        assert_eq!(buffer.len(), 40, "a refused extension adds nothing");
        let bytes = buffer.into_bytes();
        assert_eq!(bytes.len(), 40);
        assert_eq!(budget.used(), 0, "the charge goes with the buffer");
    }

    #[test]
    fn charges_are_refused_past_the_limit_and_given_back_when_dropped() {
        let budget = MemoryBudget::new(100);
        let a = budget.charge(60).unwrap();
        assert_eq!(budget.charge(41).unwrap_err(), OverBudget);
        assert_eq!(budget.refusals(), 1);
        let b = budget.charge(40).unwrap();
        assert_eq!((budget.used(), budget.available()), (100, 0));
        drop(a);
        assert_eq!(budget.used(), 40);
        drop(b);
        assert_eq!(budget.used(), 0);
        assert_eq!(budget.peak(), 100);
    }

    #[test]
    fn a_charge_grows_shrinks_splits_and_merges_without_losing_a_byte() {
        let budget = MemoryBudget::new(1000);
        let mut charge = budget.empty_charge();
        charge.grow(300).unwrap();
        assert_eq!(charge.grow(701), Err(OverBudget));
        assert_eq!(charge.bytes(), 300);
        let part = charge.split(100);
        assert_eq!(
            (charge.bytes(), part.bytes(), budget.used()),
            (200, 100, 300)
        );
        charge.merge(part);
        assert_eq!((charge.bytes(), budget.used()), (300, 300));
        charge.shrink(1000);
        assert_eq!((charge.bytes(), budget.used()), (0, 0));
        charge.resize(500).unwrap();
        assert_eq!(charge.resize(1001), Err(OverBudget));
        charge.resize(50).unwrap();
        assert_eq!(budget.used(), 50);
    }

    #[test]
    fn up_to_grants_whole_units_only() {
        let budget = MemoryBudget::new(10_000);
        let first = budget.charge_up_to(8192, 4096);
        assert_eq!(first.bytes(), 8192);
        let second = budget.charge_up_to(8192, 4096);
        assert_eq!(second.bytes(), 0, "1,808 bytes left: not a whole page");
        assert_eq!(budget.used(), 8192);
        assert_eq!(budget.refusals(), 1);
    }

    #[test]
    fn anyway_passes_the_limit_and_the_overshoot_comes_back() {
        let budget = MemoryBudget::new(10);
        let over = budget.charge_anyway(15);
        assert_eq!((budget.used(), budget.available()), (15, 0));
        assert!(budget.charge(1).is_err());
        drop(over);
        assert_eq!(budget.used(), 0);
        assert!(budget.charge(10).is_ok());
    }

    #[test]
    fn merging_across_budgets_moves_the_bytes() {
        let here = MemoryBudget::new(100);
        let there = MemoryBudget::new(100);
        let mut charge = here.charge(10).unwrap();
        charge.merge(there.charge(20).unwrap());
        assert_eq!((here.used(), there.used()), (30, 0));
        drop(charge);
        assert_eq!(here.used(), 0);
    }

    #[test]
    fn a_refused_charge_asks_the_reclaimer_first() {
        use core::sync::atomic::AtomicU64;
        static CACHED: spin::Mutex<Option<Charge>> = spin::Mutex::new(None);
        static ASKED: AtomicU64 = AtomicU64::new(0);
        fn drop_cache() -> u64 {
            ASKED.fetch_add(1, Ordering::Relaxed);
            CACHED.lock().take().map_or(0, |cache| cache.bytes())
        }
        let budget = MemoryBudget::new(100);
        budget.set_reclaimer(drop_cache);
        *CACHED.lock() = Some(budget.charge(70).unwrap());
        let first = budget.charge(50).unwrap();
        assert_eq!((ASKED.load(Ordering::Relaxed), budget.used()), (1, 50));
        // Nothing left to drop: refused, having asked once more.
        assert_eq!(budget.charge(60).unwrap_err(), OverBudget);
        assert_eq!(ASKED.load(Ordering::Relaxed), 2);
        assert_eq!(budget.charge_up_to(60, 10).bytes(), 50);
        drop(first);
    }

    #[test]
    fn errnos_by_kind() {
        assert_eq!(Errno::from(OverBudget), Errno::ENOMEM);
        assert_eq!(OverBudget.no_space(), Errno::ENOSPC);
    }
}
