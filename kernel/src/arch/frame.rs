//! Owned physical frames: a 4 KiB page of RAM the holder alone may read and write (through
//! the direct map), returned to the frame allocator when dropped. User pages are frames;
//! sharing one between address spaces (copy-on-write, later) is `Arc<Frame>`.

use super::paging::phys_to_virt;

pub const FRAME_SIZE: usize = 4096;

/// Where frames come from and go back to; set once by the memory manager.
pub struct FrameSource {
    pub allocate: fn() -> Option<u64>,
    pub free: fn(u64),
}

static SOURCE: spin::Once<FrameSource> = spin::Once::new();

pub fn set_source(source: FrameSource) {
    SOURCE.call_once(|| source);
}

pub(super) fn allocate_raw() -> Option<u64> {
    (SOURCE.get()?.allocate)()
}

pub(super) fn free_raw(phys: u64) {
    if let Some(source) = SOURCE.get() {
        (source.free)(phys);
    }
}

#[derive(Debug)]
pub struct Frame {
    phys: u64,
}

impl Frame {
    /// A new frame filled with zeros; `None` when memory is exhausted.
    pub fn new_zeroed() -> Option<Frame> {
        let frame = Frame {
            phys: allocate_raw()?,
        };
        // SAFETY: the frame was just allocated to us alone; the direct map reaches it.
        unsafe { core::ptr::write_bytes(frame.virt(), 0, FRAME_SIZE) };
        Some(frame)
    }

    pub fn phys(&self) -> u64 {
        self.phys
    }

    fn virt(&self) -> *mut u8 {
        phys_to_virt(self.phys) as *mut u8
    }

    /// The frame's bytes. Sound because a `Frame` owns its page: the only other writer is
    /// user code, which never runs while the kernel holds this borrow (one CPU, and the
    /// kernel runs with user mode stopped).
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: see above; the direct map covers the frame for the kernel's lifetime.
        unsafe { core::slice::from_raw_parts(self.virt(), FRAME_SIZE) }
    }

    /// The frame's bytes, writable. Same reasoning as [`Frame::bytes`]; `&mut self` keeps
    /// kernel borrows exclusive.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, plus `&mut self` rules out other kernel borrows.
        unsafe { core::slice::from_raw_parts_mut(self.virt(), FRAME_SIZE) }
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        free_raw(self.phys);
    }
}
