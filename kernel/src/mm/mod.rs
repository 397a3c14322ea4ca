//! mm: a process's virtual memory. [`vma`] is the portable bookkeeping of its areas;
//! [`address_space`] joins it to the page tables and frames `arch` owns (physical memory,
//! the frame allocator and the heap live in `arch::memory`).
//!
//! [`remap`] is `mremap`, [`advice`] `madvise`, [`mincore`] `mincore`, all over an
//! address space.
//!
//! [`page_cache`] keeps file pages that private mappings share. A file with a page cache
//! of its own (9p: `vfs_core::page_cache`) gives its `MAP_SHARED` mappings those pages;
//! [`dirty`] tracks which of them stores reached (write-protect and fault), and
//! [`writeback`] writes them back to the file. [`budget`] is the kernel's one memory
//! budget, which every page, area and table here is charged to (and the page caches give
//! way to when a charge would be refused).
//!
//! Locks: the page cache's (a leaf); an address space has none of its own. An address space
//! is reached through its process (`&mut`); the locks it takes inside `arch` are the frame
//! allocator's (a leaf: see `arch`'s lock order). Filling a page from a file takes the
//! file's own locks with the address space's held (a tmpfs node's, a 9p file's page
//! cache, for a shared page; marking a page dirty, the file's page cache and then
//! `writeback`'s list): a filesystem never takes an address space's lock, and the kernel
//! drops a file's old pages from other address spaces
//! ([`address_space::AddressSpace::forget_file_pages`]) and write-protects pages it
//! writes back ([`writeback`]) with none held, locking the address spaces one at a
//! time.

#[cfg(target_os = "none")]
pub mod address_space;
pub mod advice;
pub mod budget;
#[cfg(target_os = "none")]
pub mod dirty;
#[cfg(target_os = "none")]
pub mod mincore;
pub mod overcommit;
#[cfg(target_os = "none")]
pub mod page_cache;
#[cfg(target_os = "none")]
pub mod remap;
pub mod vma;
#[cfg(target_os = "none")]
pub mod writeback;
