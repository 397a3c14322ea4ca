//! Memory for virtio devices (`virtio_drivers::Hal`): DMA pages from the frame allocator,
//! device registers through [`super::paging::map_mmio`], and buffer sharing by address
//! translation.
//!
//! There is no IOMMU and no bounce buffer: the device reads guest-physical memory, so
//! sharing a buffer is only translating its address. That is sound because every buffer the
//! kernel hands a device is physically contiguous: heap spans are contiguous runs of frames
//! reached through the direct map, and the kernel image is mapped linearly.

use core::ptr::NonNull;

use virtio_drivers::{BufferDirection, Hal, PhysAddr};

use super::paging::{self, DIRECT_MAP_BASE};

/// Where device memory comes from; the memory manager provides it.
pub struct DmaFrames {
    pub allocate_contiguous: fn(pages: usize) -> Option<u64>,
    pub free_contiguous: fn(phys: u64, pages: usize),
}

static FRAMES: spin::Once<DmaFrames> = spin::Once::new();

pub fn init(frames: DmaFrames) {
    FRAMES.call_once(|| frames);
}

/// The physical address behind a kernel virtual address (direct map or kernel image).
fn virt_to_phys(virt: u64) -> u64 {
    if virt >= boot::KERNEL_VIRTUAL_BASE {
        virt - boot::KERNEL_VIRTUAL_BASE
    } else if (DIRECT_MAP_BASE..paging::MMIO_BASE).contains(&virt) {
        virt - DIRECT_MAP_BASE
    } else {
        panic!("buffer at {virt:#x} is not in a linearly mapped region; a device cannot reach it")
    }
}

/// The kernel's `Hal`.
pub struct KernelHal;

// SAFETY: dma_alloc returns zeroed, page-aligned, exclusively owned frames through the direct
// map; mmio_phys_to_virt returns an uncached mapping of the registers; share translates
// addresses of physically contiguous buffers (see the module comment).
unsafe impl Hal for KernelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let frames = FRAMES.get().expect("DMA memory requested before mm::init");
        let phys = (frames.allocate_contiguous)(pages).expect("out of memory for virtio DMA");
        let virt = paging::phys_to_virt(phys) as *mut u8;
        // SAFETY: the frames are ours alone and reached through the direct map.
        unsafe { core::ptr::write_bytes(virt, 0, pages * 4096) };
        (
            phys,
            NonNull::new(virt).expect("direct map is never at address 0"),
        )
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        if let Some(frames) = FRAMES.get() {
            (frames.free_contiguous)(paddr, pages);
        }
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        let virt = paging::map_mmio(paddr, size as u64)
            .unwrap_or_else(|error| panic!("cannot map device registers at {paddr:#x}: {error:?}"));
        NonNull::new(virt as *mut u8).expect("the MMIO window is never at address 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        virt_to_phys(buffer.as_ptr().cast::<u8>() as u64)
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}
