//! mm: a process's virtual memory. [`vma`] is the portable bookkeeping of its areas;
//! [`address_space`] joins it to the page tables and frames `arch` owns (physical memory,
//! the frame allocator and the heap live in `arch::memory`).
//!
//! [`remap`] is `mremap`, [`advice`] `madvise`, both over an address space.
//!
//! [`page_cache`] keeps file pages that private mappings share. [`budget`] is the kernel's
//! one memory budget, which every page, area and table here is charged to (and the page
//! cache gives way to when a charge would be refused).
//!
//! Locks: the page cache's (a leaf); an address space has none of its own. An address space
//! is reached through its process (`&mut`); the locks it takes inside `arch` are the frame
//! allocator's (a leaf: see `arch`'s lock order). Filling a page from a file takes the
//! file's own locks with the address space's held (a tmpfs node's, for a shared page): a
//! filesystem never takes an address space's lock, and the kernel drops a file's old
//! pages from other address spaces ([`address_space::AddressSpace::forget_file_pages`])
//! with none held.

#[cfg(target_os = "none")]
pub mod address_space;
pub mod advice;
pub mod budget;
#[cfg(target_os = "none")]
pub mod page_cache;
#[cfg(target_os = "none")]
pub mod remap;
pub mod vma;
