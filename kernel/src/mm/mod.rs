//! mm: a process's virtual memory. [`vma`] is the portable bookkeeping of its areas;
//! [`address_space`] joins it to the page tables and frames `arch` owns (physical memory,
//! the frame allocator and the heap live in `arch::memory`).
//!
//! Locks: none of its own. An address space is reached through its process (`&mut`); the
//! locks it takes inside `arch` are the frame allocator's (a leaf: see `arch`'s lock order).

#[cfg(target_os = "none")]
pub mod address_space;
pub mod budget;
pub mod vma;
