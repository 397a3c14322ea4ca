//! Owned physical frames: a page of RAM the holder alone may read and write (through the
//! direct map), returned to the frame allocator when dropped. User pages are frames, owned
//! by the [`crate::paging::UserPageTable`] that maps them; sharing one between address spaces
//! (copy-on-write, later) will be `Arc<Frame>`.

use vfs_core::budget::Charge;

use crate::PAGE_SIZE;
use crate::memory::{allocate_frame, free_frame};
use crate::paging::phys_to_virt;

/// One page of RAM, owned. There is no way to make a `Frame` from an address: only the
/// allocator hands them out, so two `Frame`s never share memory.
#[derive(Debug)]
pub struct Frame {
    phys: u64,
    /// What the page costs the memory budget, given back with the frame: a user page
    /// shared copy-on-write by several address spaces is charged once, to its frame.
    _charge: Option<Charge>,
}

impl Frame {
    /// A new frame filled with zeros; `None` when memory is exhausted (or before
    /// [`crate::memory::init`]).
    pub fn new_zeroed() -> Option<Frame> {
        Self::zeroed(None)
    }

    /// [`Frame::new_zeroed`] for a page charged to the memory budget: the frame holds
    /// `charge` until it is freed.
    pub fn new_zeroed_charged(charge: Charge) -> Option<Frame> {
        Self::zeroed(Some(charge))
    }

    fn zeroed(charge: Option<Charge>) -> Option<Frame> {
        let frame = Frame {
            phys: allocate_frame()?,
            _charge: charge,
        };
        // SAFETY: the frame was just allocated to us alone; the direct map reaches it (the allocator exists only once the direct map is live).
        unsafe { core::ptr::write_bytes(frame.virt(), 0, PAGE_SIZE) };
        Some(frame)
    }

    /// The frame's physical address (a number: nothing can be done with it outside `arch`).
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
        unsafe { core::slice::from_raw_parts(self.virt(), PAGE_SIZE) }
    }

    /// The frame's bytes, writable. Same reasoning as [`Frame::bytes`]; `&mut self` keeps
    /// kernel borrows exclusive.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, plus `&mut self` rules out other kernel borrows.
        unsafe { core::slice::from_raw_parts_mut(self.virt(), PAGE_SIZE) }
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        free_frame(self.phys);
    }
}

/// A frame holds a page of a tmpfs file's data (vfs-core's page source), so file data
/// lives in frames that return to the pool when the file shrinks.
impl vfs_core::budget::FilePage for Frame {
    fn bytes(&self) -> &[u8] {
        Frame::bytes(self)
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        Frame::bytes_mut(self)
    }
}

/// The frame allocator as vfs-core's source of file pages.
pub struct FramePages;

impl vfs_core::budget::PageSource for FramePages {
    fn allocate(&self) -> Option<alloc::boxed::Box<dyn vfs_core::budget::FilePage>> {
        Some(alloc::boxed::Box::new(Frame::new_zeroed()?))
    }
}
