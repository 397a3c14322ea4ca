//! The kernel heap, in two parts, so that memory a container made the kernel hold (argument
//! copies, pipe buffers, names) and gave back is usable for its pages again:
//! - *large* allocations (a page or more, aligned to at most a page) are blocks of frames
//!   straight from the frame allocator, in the direct map, and go back to it whole the
//!   moment they are freed: a burst of big buffers leaves nothing behind;
//! - the rest is `talc` over spans of the direct map, grown from the frame allocator when
//!   it runs dry, giving whole free pages at the ends of its spans back when asked
//!   ([`release_free_memory`]; frames running short ask). Small objects are what stays
//!   here, so a span's interior pages are held only by what lives in them.
//!
//! Why not one allocator that releases interior pages: talc cannot split a heap, and a
//! page allocator for small objects (slabs) would put a page's worth of metadata traffic
//! on every small allocation; large buffers are where the bursts are, and whole pages are
//! their natural unit anyway.
//!
//! Telling the parts apart on free: the layout says whether an allocation is large; a
//! large one is a block if the frame allocator marked its first frame as one. Large
//! allocations made before the frame allocator exists (its own bitmaps) or when no run of
//! frames was free come from talc, and are freed there.
//!
//! Lock order: the heap lock, then the frame allocator's lock (taken by the grow hook and
//! by the release while the heap is locked). Blocks take the frame allocator's lock alone,
//! never under the heap's. The frame allocator therefore must never allocate from the
//! heap.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};

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

/// Spans the heap grew into that it remembers, to give back: one per growth, and growth
/// is at least [`MIN_GROWTH`] while frames allow; past this many, growth is not given back.
const MAX_REMEMBERED: usize = 4096;

/// Frames `[start, end)` (virtual addresses in the direct map, page aligned) the heap grew
/// into, and the heap talc made of them (`heap_base..heap_acme`, inside).
#[derive(Clone, Copy)]
struct Grown {
    start: usize,
    end: usize,
    heap_base: usize,
    heap_acme: usize,
}

impl Grown {
    const NONE: Grown = Grown {
        start: 0,
        end: 0,
        heap_base: 0,
        heap_acme: 0,
    };

    fn heap(&self) -> Span {
        Span::new(self.heap_base as *mut u8, self.heap_acme as *mut u8)
    }
}

pub struct GrowFromFrames {
    grown: [Grown; MAX_REMEMBERED],
    count: usize,
}

impl GrowFromFrames {
    const fn new() -> GrowFromFrames {
        GrowFromFrames {
            grown: [Grown::NONE; MAX_REMEMBERED],
            count: 0,
        }
    }
}

impl OomHandler for GrowFromFrames {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        let needed = (layout.size() + layout.align() + PAGE_SIZE).next_multiple_of(PAGE_SIZE);
        // A generous step when the frames allow, else just what this request needs: single
        // frames scattered by user pages must not make a small request fail.
        let grow = || {
            [needed.max(MIN_GROWTH), needed]
                .into_iter()
                .find_map(|bytes| {
                    Some((
                        crate::memory::allocate_contiguous(bytes / PAGE_SIZE)?,
                        bytes,
                    ))
                })
        };
        // Free pages the heap holds elsewhere may make the run this needs.
        let grown = grow().or_else(|| if release(talc) > 0 { grow() } else { None });
        let Some((phys, bytes)) = grown else {
            if EXHAUSTION_FATAL.load(core::sync::atomic::Ordering::Acquire)
                && let Some(hook) = ON_EXHAUSTED.get()
            {
                hook(layout.size());
            }
            return Err(());
        };
        let start = crate::paging::phys_to_virt(phys) as *mut u8;
        // SAFETY: the frame allocator gave us `bytes` bytes of RAM exclusively until the heap gives them back (`release_free_memory`); the direct map reaches them.
        let heap = unsafe { talc.claim(Span::from_base_size(start, bytes)) }?;
        let remembered = &mut talc.oom_handler;
        if remembered.count < MAX_REMEMBERED
            && let Some((heap_base, heap_acme)) = heap.get_base_acme()
        {
            remembered.grown[remembered.count] = Grown {
                start: start as usize,
                end: start as usize + bytes,
                heap_base: heap_base as usize,
                heap_acme: heap_acme as usize,
            };
            remembered.count += 1;
        }
        Ok(())
    }
}

/// The global allocator: blocks of frames for large allocations, talc for the rest.
pub struct KernelHeap {
    talc: Talck<spin::Mutex<()>, GrowFromFrames>,
    /// Large allocations served as blocks, and the bytes their layouts asked for and the
    /// bytes of their frames, for [`stats`].
    blocks: AtomicUsize,
    block_bytes: AtomicUsize,
    block_frame_bytes: AtomicUsize,
}

/// Whether `layout` is a large allocation, served by a block of frames when one is free.
fn is_large(layout: Layout) -> bool {
    layout.size() >= PAGE_SIZE && layout.align() <= PAGE_SIZE
}

fn pages_of(size: usize) -> usize {
    size.div_ceil(PAGE_SIZE)
}

impl KernelHeap {
    /// A block of frames for the large `layout`, or null.
    fn allocate_block(&self, layout: Layout) -> *mut u8 {
        let pages = pages_of(layout.size());
        let Some(phys) = crate::memory::allocate_block(pages) else {
            return core::ptr::null_mut();
        };
        self.blocks.fetch_add(1, Ordering::Relaxed);
        self.block_bytes.fetch_add(layout.size(), Ordering::Relaxed);
        self.block_frame_bytes
            .fetch_add(pages * PAGE_SIZE, Ordering::Relaxed);
        crate::paging::phys_to_virt(phys) as *mut u8
    }

    /// Frees `ptr` if it is a block (of the large `layout`); `false` if talc holds it.
    fn free_block(&self, ptr: *mut u8, layout: Layout) -> bool {
        let pages = pages_of(layout.size());
        if !crate::memory::free_block(phys_of(ptr), pages) {
            return false;
        }
        self.blocks.fetch_sub(1, Ordering::Relaxed);
        self.block_bytes.fetch_sub(layout.size(), Ordering::Relaxed);
        self.block_frame_bytes
            .fetch_sub(pages * PAGE_SIZE, Ordering::Relaxed);
        true
    }
}

/// The physical address of a heap pointer (the heap lives in the direct map).
fn phys_of(ptr: *mut u8) -> u64 {
    (ptr as u64).wrapping_sub(crate::paging::phys_to_virt(0))
}

// SAFETY: blocks are frames the frame allocator gave this allocation alone (marked as a
// block until freed), reached through the direct map; everything else is talc's, whose
// `GlobalAlloc` contract we pass on. A pointer goes back to the part that gave it: a large
// layout's pointer is a block exactly when the frame allocator says its first frame starts
// one, and talc never hands out a frame the frame allocator owns.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_large(layout) {
            let block = self.allocate_block(layout);
            if !block.is_null() {
                return block;
            }
        }
        // SAFETY: passed on from our caller.
        unsafe { self.talc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_large(layout) && self.free_block(ptr, layout) {
            return;
        }
        // SAFETY: not a block, so talc gave it (with this layout, our caller says).
        unsafe { self.talc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: our caller promises `new_size`, rounded up to the alignment, fits `isize`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let block = is_large(layout) && crate::memory::is_block(phys_of(ptr));
        if block && is_large(new_layout) && pages_of(new_size) == pages_of(layout.size()) {
            self.block_bytes.fetch_add(new_size, Ordering::Relaxed);
            self.block_bytes.fetch_sub(layout.size(), Ordering::Relaxed);
            return ptr;
        }
        if !block && !is_large(new_layout) {
            // SAFETY: talc gave `ptr` with `layout`; passed on from our caller.
            return unsafe { self.talc.realloc(ptr, layout, new_size) };
        }
        // SAFETY: `new_layout` has a non-zero size (our caller's promise).
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            // SAFETY: both are live allocations of at least the bytes copied, distinct.
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        moved
    }
}

#[cfg_attr(target_os = "none", global_allocator)]
static HEAP: KernelHeap = KernelHeap {
    talc: Talc::new(GrowFromFrames::new()).lock(),
    blocks: AtomicUsize::new(0),
    block_bytes: AtomicUsize::new(0),
    block_frame_bytes: AtomicUsize::new(0),
};

/// Gives the frame allocator back every whole free page at the ends of talc's spans (whole
/// spans when nothing in them is allocated). Returns the bytes given. What lies between
/// two small allocations in a span stays: talc cannot split a heap (large allocations,
/// being blocks, never hold a span's pages).
pub fn release_free_memory() -> usize {
    release(&mut HEAP.talc.lock())
}

fn release(talc: &mut Talc<GrowFromFrames>) -> usize {
    let mut released = 0;
    let mut index = 0;
    while index < talc.oom_handler.count {
        let grown = talc.oom_handler.grown[index];
        // SAFETY: `grown.heap()` is the heap talc made of this growth, kept up to date below.
        let allocated = unsafe { talc.get_allocated_span(grown.heap()) };
        let keep = match allocated.get_base_acme() {
            Some((base, acme)) if !allocated.is_empty() => {
                let base = (base as usize / PAGE_SIZE * PAGE_SIZE).max(grown.start);
                let acme = (acme as usize).next_multiple_of(PAGE_SIZE).min(grown.end);
                Span::new(base as *mut u8, acme as *mut u8)
            }
            _ => Span::empty(),
        };
        if keep.size() == grown.end - grown.start {
            index += 1;
            continue;
        }
        // SAFETY: `keep` lies inside the heap (clamped to the growth) and holds all its allocations.
        let heap = unsafe { talc.truncate(grown.heap(), keep.fit_within(grown.heap())) };
        // Pages outside `keep` are outside the heap now (talc's heap is inside `keep`).
        let (keep_start, keep_end) = match heap.get_base_acme() {
            Some((_, _)) if !heap.is_empty() => keep
                .get_base_acme()
                .map_or((grown.start, grown.start), |(b, a)| {
                    (b as usize, a as usize)
                }),
            _ => (grown.end, grown.end),
        };
        for (from, to) in [(grown.start, keep_start), (keep_end, grown.end)] {
            if to > from {
                let phys = from as u64 - crate::paging::phys_to_virt(0);
                crate::memory::free_contiguous(phys, (to - from) / PAGE_SIZE);
                released += to - from;
            }
        }
        match heap.get_base_acme() {
            Some((heap_base, heap_acme)) if !heap.is_empty() => {
                talc.oom_handler.grown[index] = Grown {
                    start: keep_start,
                    end: keep_end,
                    heap_base: heap_base as usize,
                    heap_acme: heap_acme as usize,
                };
                index += 1;
            }
            _ => {
                let last = talc.oom_handler.count - 1;
                talc.oom_handler.grown[index] = talc.oom_handler.grown[last];
                talc.oom_handler.count = last;
            }
        }
    }
    released
}

/// Gives the heap its first span: `[phys_start, phys_start + len)`, carved out of free RAM by
/// [`crate::memory::init`] for the heap alone.
pub(crate) fn init(phys_start: u64, len: usize) -> Result<(), ()> {
    let start = crate::paging::phys_to_virt(phys_start) as *mut u8;
    // SAFETY: the memory manager carved [phys_start, +len) out of RAM for the heap alone; the direct map reaches it.
    unsafe { HEAP.talc.lock().claim(Span::from_base_size(start, len)) }.map(|_| ())
}

/// What the heap holds, for reports and the leak test: allocations and their bytes in
/// both parts, the memory both hold (talc's spans, the blocks' frames), and what talc has
/// free inside its spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapStats {
    pub allocations: usize,
    pub allocated_bytes: usize,
    pub claimed_bytes: usize,
    pub available_bytes: usize,
    /// Of `claimed_bytes`, the frames of large allocations.
    pub block_bytes: usize,
}

pub fn stats() -> HeapStats {
    let talc = HEAP.talc.lock();
    let counters = talc.get_counters();
    let blocks = HEAP.blocks.load(Ordering::Relaxed);
    let block_bytes = HEAP.block_bytes.load(Ordering::Relaxed);
    let block_frame_bytes = HEAP.block_frame_bytes.load(Ordering::Relaxed);
    HeapStats {
        allocations: counters.allocation_count + blocks,
        allocated_bytes: counters.allocated_bytes + block_bytes,
        claimed_bytes: counters.claimed_bytes + block_frame_bytes,
        available_bytes: counters.available_bytes,
        block_bytes: block_frame_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::boxed::Box;
    use std::vec;

    /// A talc whose metadata sits in a small heap of its own, and a page-aligned growth of
    /// `pages` pages it remembers, as `handle_oom` would have.
    fn grown_heap(pages: usize) -> (Talc<GrowFromFrames>, usize) {
        let mut talc = Talc::new(GrowFromFrames::new());
        let metadata: &'static mut [u8] = Box::leak(vec![0u8; 2048].into_boxed_slice());
        // SAFETY: leaked, so ours alone for good.
        unsafe { talc.claim(metadata.into()) }.unwrap();
        let memory: &'static mut [u8] =
            Box::leak(vec![0u8; (pages + 1) * PAGE_SIZE].into_boxed_slice());
        let start = (memory.as_mut_ptr() as usize).next_multiple_of(PAGE_SIZE);
        // SAFETY: inside the leaked buffer.
        let heap = unsafe { talc.claim(Span::from_base_size(start as *mut u8, pages * PAGE_SIZE)) }
            .unwrap();
        let (heap_base, heap_acme) = heap.get_base_acme().unwrap();
        talc.oom_handler.grown[0] = Grown {
            start,
            end: start + pages * PAGE_SIZE,
            heap_base: heap_base as usize,
            heap_acme: heap_acme as usize,
        };
        talc.oom_handler.count = 1;
        (talc, start)
    }

    #[test]
    fn free_pages_at_the_ends_of_a_growth_go_back_and_an_empty_one_goes_whole() {
        let (mut talc, start) = grown_heap(32);
        let layout = Layout::from_size_align(3 * PAGE_SIZE, 8).unwrap();
        // SAFETY: a layout of non-zero size; freed below with the same layout.
        let block = unsafe { talc.malloc(layout) }.unwrap();
        let at = block.as_ptr() as usize;
        assert!(
            at >= start && at < start + 32 * PAGE_SIZE,
            "served from the growth"
        );
        let released = release(&mut talc);
        let kept = talc.oom_handler.grown[0];
        assert_eq!(talc.oom_handler.count, 1);
        assert_eq!(released, 32 * PAGE_SIZE - (kept.end - kept.start));
        assert!(
            kept.start <= at && at + layout.size() <= kept.end,
            "the block stays"
        );
        assert!(
            kept.end - kept.start <= 5 * PAGE_SIZE,
            "{} bytes kept",
            kept.end - kept.start
        );
        // SAFETY: allocated above with this layout.
        unsafe { talc.free(block, layout) };
        let rest = kept.end - kept.start;
        assert_eq!(release(&mut talc), rest);
        assert_eq!(talc.oom_handler.count, 0, "nothing left to remember");
        assert_eq!(release(&mut talc), 0);
    }
}
