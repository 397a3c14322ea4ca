//! mm: a process's virtual memory. [`vma`] is the portable bookkeeping of its areas;
//! [`address_space`] joins it to the page tables and frames `arch` owns (physical memory,
//! the frame allocator and the heap live in `arch::memory`).
//!
//! [`page_cache`] keeps file pages that private mappings share. [`budget`] is the kernel's
//! one memory budget, which every page, area and table here is charged to (and the page
//! cache gives way to when a charge would be refused).
//!
//! Locks: the page cache's (a leaf); an address space has none of its own. An address space is reached through its process (`&mut`); the
//! locks it takes inside `arch` are the frame allocator's (a leaf: see `arch`'s lock order).

#[cfg(target_os = "none")]
pub mod address_space;
pub mod budget;
#[cfg(target_os = "none")]
pub mod page_cache;
pub mod vma;
