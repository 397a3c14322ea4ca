//! A global allocator that counts the heap bytes a test binary holds, for the tests that
//! measure what caches really cost (`p9_entry_memory`, `p9_million`). Each such test is
//! its own binary with only itself running, so the count is its own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

pub struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

/// Heap bytes held right now (requested sizes, without the allocator's own overhead).
pub fn held() -> isize {
    HELD.load(Ordering::Relaxed)
}

// SAFETY: every call is passed to the system allocator unchanged; only a counter is kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's layout, as GlobalAlloc requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}
