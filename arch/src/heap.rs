//! The kernel heap: `talc` over spans of the direct map, grown from the frame allocator when
//! it runs dry.
//!
//! Lock order: the heap lock, then the frame allocator's lock (taken by the grow hook while
//! the heap is locked). The frame allocator therefore must never allocate from the heap.

use core::alloc::Layout;

use spin::Once;
use talc::{OomHandler, Span, Talc, Talck};

use crate::PAGE_SIZE;

/// Smallest amount the heap grows by, so a burst of small allocations costs few claims.
const MIN_GROWTH: usize = 2 << 20;

/// What to do when the heap cannot grow: set by the kernel while it boots, when running
/// out of memory is the machine's fault (too little RAM) and ends the boot with a message.
/// It is called with the heap locked, so it must not allocate, and it must not return.
static ON_EXHAUSTED: Once<fn(usize) -> !> = Once::new();
/// Whether [`ON_EXHAUSTED`] still applies (the boot is not over).
static EXHAUSTION_FATAL: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// Until [`exhaustion_is_an_error`], a request the heap cannot grow for calls `hook` with
/// its size instead of failing (the kernel's "out of memory during boot").
pub fn on_exhaustion_during_boot(hook: fn(usize) -> !) {
    ON_EXHAUSTED.call_once(|| hook);
    EXHAUSTION_FATAL.store(true, core::sync::atomic::Ordering::Release);
}

/// From now on a request the heap cannot grow for fails as Rust's allocation API says
/// (`try_reserve` errors, `handle_alloc_error` for the rest).
pub fn exhaustion_is_an_error() {
    EXHAUSTION_FATAL.store(false, core::sync::atomic::Ordering::Release);
}

pub struct GrowFromFrames;

impl OomHandler for GrowFromFrames {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        let needed = (layout.size() + layout.align() + PAGE_SIZE).next_multiple_of(PAGE_SIZE);
        // A generous step when the frames allow, else just what this request needs: single
        // frames scattered by user pages must not make a small request fail.
        let grown = [needed.max(MIN_GROWTH), needed]
            .into_iter()
            .find_map(|bytes| {
                Some((
                    crate::memory::allocate_contiguous(bytes / PAGE_SIZE)?,
                    bytes,
                ))
            });
        let Some((phys, bytes)) = grown else {
            if EXHAUSTION_FATAL.load(core::sync::atomic::Ordering::Acquire)
                && let Some(hook) = ON_EXHAUSTED.get()
            {
                hook(layout.size());
            }
            return Err(());
        };
        let start = crate::paging::phys_to_virt(phys) as *mut u8;
        // SAFETY: the frame allocator gave us `bytes` bytes of RAM exclusively and for good; the direct map reaches them.
        unsafe { talc.claim(Span::from_base_size(start, bytes)) }.map(|_| ())
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
