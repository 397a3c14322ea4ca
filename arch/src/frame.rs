//! Owned physical frames: a page of RAM the holder alone may read and write (through the
//! direct map), returned to the frame allocator when dropped. User pages are frames, owned
//! by the [`crate::paging::UserPageTable`] that maps them; address spaces share one
//! copy-on-write as `Arc<Frame>`. A file's page, which mappings share writable, is a
//! [`SharedFrame`].

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

/// A page of a file's data (tmpfs, shared memory, `memfd`): a frame several address spaces
/// may map, shared (`MAP_SHARED`, writable) or copy-on-write (`MAP_PRIVATE`), while the file
/// reads and writes it. User code may write it through a shared mapping at any moment, on
/// any CPU, so the kernel never borrows its bytes: it copies them in and out
/// ([`SharedFrame::read`], [`SharedFrame::write`]), as Linux's `copy_page_{to,from}_iter`
/// does for shmem pages.
#[derive(Debug)]
pub struct SharedFrame {
    frame: Frame,
}

impl SharedFrame {
    /// A zeroed page; `None` when memory is exhausted. Its cost is charged by the file
    /// that holds it (the page store's own charge).
    pub fn new_zeroed() -> Option<SharedFrame> {
        Some(SharedFrame {
            frame: Frame::new_zeroed()?,
        })
    }

    pub fn phys(&self) -> u64 {
        self.frame.phys
    }

    /// `(offset, len)` cut to the page: callers pass in-page ranges, and a wrong one must
    /// copy less, never touch the next frame.
    fn clamp(offset: usize, len: usize) -> (usize, usize) {
        let offset = offset.min(PAGE_SIZE);
        (offset, len.min(PAGE_SIZE - offset))
    }

    /// Copies bytes from `offset` into `buf` (as much as the page holds).
    pub fn read(&self, offset: usize, buf: &mut [u8]) {
        let (offset, len) = Self::clamp(offset, buf.len());
        // SAFETY: the range lies inside this frame, reached through the direct map; a raw copy forms no reference to memory user code may be writing concurrently (the bytes read are then whatever a racing store left, as for any shared memory).
        unsafe {
            core::ptr::copy_nonoverlapping(self.frame.virt().add(offset), buf.as_mut_ptr(), len)
        };
    }

    /// Copies `data` into the page at `offset` (as much as the page holds).
    pub fn write(&self, offset: usize, data: &[u8]) {
        let (offset, len) = Self::clamp(offset, data.len());
        // SAFETY: as in `read`: inside this frame, through the direct map, by raw copy; every writer of a shared page (user mappings, the file, the kernel's copies) writes this way, so no Rust reference to it exists while the bytes change.
        unsafe {
            core::ptr::copy_nonoverlapping(data.as_ptr(), self.frame.virt().add(offset), len)
        };
    }

    /// Zeroes `len` bytes from `offset` (as much as the page holds).
    pub fn zero(&self, offset: usize, len: usize) {
        let (offset, len) = Self::clamp(offset, len);
        // SAFETY: as in `write`.
        unsafe { core::ptr::write_bytes(self.frame.virt().add(offset), 0, len) };
    }
}

/// A tmpfs file's pages are shared frames (vfs-core's page source), so file data lives in
/// frames that mappings of the file map and that return to the pool when the file shrinks.
impl vfs_core::budget::FilePage for SharedFrame {
    fn read(&self, offset: usize, buf: &mut [u8]) {
        SharedFrame::read(self, offset, buf)
    }

    fn write(&self, offset: usize, data: &[u8]) {
        SharedFrame::write(self, offset, data)
    }

    fn zero(&self, offset: usize, len: usize) {
        SharedFrame::zero(self, offset, len)
    }
}

/// The frame allocator as vfs-core's source of file pages.
pub struct FramePages;

impl vfs_core::budget::PageSource for FramePages {
    fn allocate(&self) -> Option<alloc::sync::Arc<dyn vfs_core::budget::FilePage>> {
        Some(alloc::sync::Arc::new(SharedFrame::new_zeroed()?))
    }
}
