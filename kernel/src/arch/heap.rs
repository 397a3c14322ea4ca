//! The kernel heap: `talc` over spans of the direct map, grown from the frame allocator when
//! it runs dry.
//!
//! Lock order: the heap lock, then the frame allocator's lock (taken by the grow hook while
//! the heap is locked). The frame allocator therefore must never allocate from the heap.

use core::alloc::Layout;

use talc::{OomHandler, Span, Talc, Talck};

/// Smallest amount the heap grows by, so a burst of small allocations costs few claims.
const MIN_GROWTH: usize = 2 << 20;

/// Supplies physical memory when the heap is full: `(bytes) -> Some(physical start)` of a
/// contiguous, 4 KiB-aligned run of at least that many bytes.
static GROW_SOURCE: spin::Once<fn(usize) -> Option<u64>> = spin::Once::new();

pub struct GrowFromFrames;

impl OomHandler for GrowFromFrames {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        let source = GROW_SOURCE.get().ok_or(())?;
        let wanted = (layout.size() + layout.align() + 4096)
            .max(MIN_GROWTH)
            .next_multiple_of(4096);
        let phys = source(wanted).ok_or(())?;
        let start = super::paging::phys_to_virt(phys) as *mut u8;
        // SAFETY: the frame allocator gave us `wanted` bytes of RAM exclusively and for good; the direct map reaches them.
        unsafe { talc.claim(Span::from_base_size(start, wanted)) }.map(|_| ())
    }
}

#[global_allocator]
static HEAP: Talck<spin::Mutex<()>, GrowFromFrames> = Talc::new(GrowFromFrames).lock();

/// Gives the heap its first span and the hook it grows from.
pub fn init(phys_start: u64, len: usize, grow: fn(usize) -> Option<u64>) -> Result<(), ()> {
    GROW_SOURCE.call_once(|| grow);
    let start = super::paging::phys_to_virt(phys_start) as *mut u8;
    // SAFETY: the memory manager carved [phys_start, +len) out of RAM for the heap alone; the direct map reaches it.
    unsafe { HEAP.lock().claim(Span::from_base_size(start, len)) }.map(|_| ())
}

/// What the heap holds, for reports and the leak test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapStats {
    pub allocations: usize,
    pub allocated_bytes: usize,
    pub claimed_bytes: usize,
    pub available_bytes: usize,
}

pub fn stats() -> HeapStats {
    let talc = HEAP.lock();
    let counters = talc.get_counters();
    HeapStats {
        allocations: counters.allocation_count,
        allocated_bytes: counters.allocated_bytes,
        claimed_bytes: counters.claimed_bytes,
        available_bytes: counters.available_bytes,
    }
}
