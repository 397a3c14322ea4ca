//! Memory for virtio devices (`virtio_drivers::Hal`): DMA pages from the frame allocator,
//! device registers through [`crate::mmio`], and buffer sharing by address translation.
//!
//! There is no IOMMU and no bounce buffer: the device reads guest-physical memory, so
//! sharing a buffer is only translating its address. That is sound because every buffer the
//! kernel hands a device is physically contiguous: heap spans are contiguous runs of frames
//! reached through the direct map, and the kernel image is mapped linearly.
//!
//! Failures: `Hal::dma_alloc` cannot return an error, but `virtio_drivers::Dma::new` treats
//! physical address 0 as one (`Error::DmaError`), and frame 0 is never allocated (low memory
//! stays out of the allocator); so an exhausted allocator fails that device's start-up, which
//! the kernel logs, instead of panicking. `Hal::mmio_phys_to_virt` cannot fail either: the
//! kernel checks (and maps) every register window with [`crate::mmio::MmioRegion::map`]
//! before handing its address to a driver, so a bad address skips that device.

use core::ptr::NonNull;

use virtio_drivers::{BufferDirection, Hal, PhysAddr};

use crate::PAGE_SIZE;
use crate::mmio::MmioRegion;
use crate::paging::{self, DIRECT_MAP_BASE};

/// The physical address `dma_alloc` returns when there is no memory (see the module comment).
const NO_DMA_MEMORY: PhysAddr = 0;

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

/// `pages` zeroed, physically contiguous frames for a device, or `None` when the allocator
/// has no such run (or `pages` is 0 or absurd).
fn allocate_dma(pages: usize) -> Option<(PhysAddr, NonNull<u8>)> {
    let bytes = pages.checked_mul(PAGE_SIZE).filter(|&bytes| bytes > 0)?;
    let phys = crate::memory::allocate_contiguous(pages)?;
    let virt = paging::phys_to_virt(phys) as *mut u8;
    // SAFETY: the frames are ours alone and reached through the direct map.
    unsafe { core::ptr::write_bytes(virt, 0, bytes) };
    Some((phys, NonNull::new(virt)?))
}

// SAFETY: dma_alloc returns zeroed, page-aligned, exclusively owned frames through the direct map (or address 0, which `Dma::new` turns into an error without touching the pointer); mmio_phys_to_virt returns an uncached mapping of the registers; share translates addresses of physically contiguous buffers (see the module comment).
unsafe impl Hal for KernelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        allocate_dma(pages).unwrap_or_else(|| {
            log::warn!(target: "virtio", "no memory for {pages} DMA pages: the device fails to start");
            (NO_DMA_MEMORY, NonNull::dangling())
        })
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        if paddr != NO_DMA_MEMORY {
            crate::memory::free_contiguous(paddr, pages);
        }
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        // The kernel maps command-line and microvm windows before probing them (a bad one is
        // skipped there); what reaches here unchecked is a PCI BAR the firmware assigned.
        let region = MmioRegion::map(paddr, size as u64)
            .unwrap_or_else(|error| panic!("cannot map device registers at {paddr:#x}: {error}"));
        NonNull::new(region.virt() as *mut u8).expect("the MMIO window is never at address 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        virt_to_phys(buffer.as_ptr().cast::<u8>() as u64)
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// For `test=dma`: a DMA request no allocator can meet comes back as physical address 0,
/// which `virtio_drivers`' `Dma::new` (not exported) turns into `Error::DmaError` for the
/// device being started, instead of a panic; and a small request still succeeds after.
pub fn check_dma_failure_is_an_error() -> Result<(), &'static str> {
    let (paddr, _) = KernelHal::dma_alloc(1 << 40, BufferDirection::Both);
    if paddr != NO_DMA_MEMORY {
        return Err("an impossible DMA request got memory");
    }
    let (paddr, vaddr) = KernelHal::dma_alloc(1, BufferDirection::Both);
    if paddr == NO_DMA_MEMORY {
        return Err("a one-page DMA request failed");
    }
    // SAFETY: the region came from `dma_alloc` just above and nothing else holds it.
    unsafe { KernelHal::dma_dealloc(paddr, vaddr, 1) };
    Ok(())
}
