//! The kernel heap: `talc` over spans of the direct map, grown from the frame allocator when
//! it runs dry.
//!
//! Lock order: the heap lock, then the frame allocator's lock (taken by the grow hook while
//! the heap is locked). The frame allocator therefore must never allocate from the heap.

use core::alloc::Layout;

use talc::{OomHandler, Span, Talc, Talck};

use crate::PAGE_SIZE;

/// Smallest amount the heap grows by, so a burst of small allocations costs few claims.
const MIN_GROWTH: usize = 2 << 20;

pub struct GrowFromFrames;

impl OomHandler for GrowFromFrames {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        let wanted = (layout.size() + layout.align() + PAGE_SIZE)
            .max(MIN_GROWTH)
            .next_multiple_of(PAGE_SIZE);
        let phys = crate::memory::allocate_contiguous(wanted / PAGE_SIZE).ok_or(())?;
        let start = crate::paging::phys_to_virt(phys) as *mut u8;
        // SAFETY: the frame allocator gave us `wanted` bytes of RAM exclusively and for good; the direct map reaches them.
        unsafe { talc.claim(Span::from_base_size(start, wanted)) }.map(|_| ())
    }
}

#[cfg_attr(target_os = "none", global_allocator)]
static HEAP: Talck<spin::Mutex<()>, GrowFromFrames> = Talc::new(GrowFromFrames).lock();

/// Gives the heap its first span: `[phys_start, phys_start + len)`, carved out of free RAM by
/// [`crate::memory::init`] for the heap alone.
pub(crate) fn init(phys_start: u64, len: usize) -> Result<(), ()> {
    let start = crate::paging::phys_to_virt(phys_start) as *mut u8;
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
