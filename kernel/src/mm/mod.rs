//! mm: physical memory. [`setup`] reads the boot memory map, builds the kernel's page tables,
//! gives the heap its first span and hands every remaining free frame to the frame allocator.
//!
//! Lock order: heap (arch::heap) → frame allocator (`setup::FRAMES`) → page tables
//! (arch::paging). Nothing holding a later lock may take an earlier one, which is why the
//! frame allocator never allocates from the heap after boot.

#[cfg(target_os = "none")]
pub mod address_space;
pub mod frame;
pub mod regions;
#[cfg(target_os = "none")]
pub(crate) mod setup;
pub mod vma;
