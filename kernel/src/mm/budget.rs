//! The kernel's one memory budget (vfs-core's [`MemoryBudget`]), made at boot once the
//! kernel's own start-up is done: what is free then, minus a reserve the kernel keeps for
//! its own work (system-call buffers, 9p requests, scheduler and table bookkeeping, the
//! heap's slack). Everything a container drives is charged to it: tmpfs and overlay data
//! and nodes, cached names, pipe buffers, areas, page tables, user pages, descriptor
//! tables, generated `/proc` text, and each process's kernel stack.
//!
//! The sizing is pure and host-tested; the budget itself and the frame allocator it takes
//! file pages from live on the target.

use alloc::sync::Arc;

use spin::Once;
use vfs_core::{MemoryBudget, PAGE_SIZE};

static BUDGET: Once<Arc<MemoryBudget>> = Once::new();

/// The budget (one that never refuses before the kernel makes the real one at boot, and
/// in host tests).
pub fn budget() -> &'static Arc<MemoryBudget> {
    BUDGET.call_once(MemoryBudget::unlimited)
}

/// The reserve: a sixteenth of RAM, at least 2 MiB (the kernel's own transient needs do
/// not shrink with the machine), at most 64 MiB.
pub fn reserve_for(total_ram: u64) -> u64 {
    (total_ram / 16).clamp(2 << 20, 64 << 20)
}

/// The least a container is given: room to start an init and map its first pages.
pub const MIN_CONTAINER_MEMORY: u64 = 2 << 20;

/// What the budget can be on a machine with `total_ram` bytes of which `free` are still
/// free after boot (`heap_free` of them inside the heap, where user pages cannot go: the
/// reserve is at least that, so frames never run out before the budget), or what is
/// missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetPlan {
    pub free: u64,
    pub reserve: u64,
    pub limit: u64,
}

/// Too little RAM for the kernel and a container: how much there is and how much it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLittleMemory {
    pub total_ram: u64,
    pub free: u64,
    pub needed: u64,
}

impl core::fmt::Display for TooLittleMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} KiB of RAM, {} KiB free after boot: the kernel keeps {} KiB in reserve and a \
             container needs {} KiB more",
            self.total_ram / 1024,
            self.free / 1024,
            (self.needed - MIN_CONTAINER_MEMORY) / 1024,
            MIN_CONTAINER_MEMORY / 1024
        )
    }
}

pub fn plan(total_ram: u64, free: u64, heap_free: u64) -> Result<BudgetPlan, TooLittleMemory> {
    let reserve = reserve_for(total_ram).max(heap_free);
    let needed = reserve + MIN_CONTAINER_MEMORY;
    if free < needed {
        return Err(TooLittleMemory {
            total_ram,
            free,
            needed,
        });
    }
    Ok(BudgetPlan {
        free,
        reserve,
        limit: (free - reserve) / PAGE_SIZE as u64 * PAGE_SIZE as u64,
    })
}

#[cfg(target_os = "none")]
pub use machine::*;

#[cfg(target_os = "none")]
mod machine {
    use alloc::sync::Arc;

    use vfs_core::MemoryBudget;
    use vfs_core::tmpfs::TmpfsMemory;

    use super::{BUDGET, BudgetPlan, TooLittleMemory, budget};

    /// What the budget can be with what is free now (free frames, the heap's free space).
    fn plan_now() -> Result<BudgetPlan, TooLittleMemory> {
        let (total, free_frames) = arch::memory::memory_totals();
        let heap_free = arch::heap::stats().available_bytes as u64;
        super::plan(total, free_frames + heap_free, heap_free)
    }

    /// Makes the budget from what is free now, before the container's namespace is built.
    pub fn init() -> Result<BudgetPlan, TooLittleMemory> {
        let plan = plan_now()?;
        let budget = BUDGET
            .call_once(|| MemoryBudget::with_pages(plan.limit, Arc::new(arch::frame::FramePages)));
        budget.set_reclaimer(drop_page_cache);
        Ok(plan)
    }

    /// The budget's reclaimer: the page cache's pages can be read again, so a charge the
    /// budget would refuse takes them first. Safe under any lock a charging caller holds:
    /// it takes only the cache's own (a leaf nobody charges under) and the frame
    /// allocator's. Returns the bytes the cached pages were charged (those still mapped
    /// by a process stay charged to their frames until unmapped). The files' own page
    /// caches (9p's) give up their clean pages nothing maps, only ever `try_lock`ing.
    fn drop_page_cache() -> u64 {
        let pages = crate::mm::page_cache::cached_pages() as u64;
        crate::mm::page_cache::reclaim();
        pages * vfs_core::PAGE_SIZE as u64 + crate::mm::writeback::drop_clean_unmapped()
    }

    /// Settles the budget once the boot is over (namespace built, init loaded): what the
    /// container holds already plus what is free, less the reserve. What the kernel took
    /// for itself meanwhile (9p buffers, the init's records) is then out of the budget.
    pub fn settle() -> Result<BudgetPlan, TooLittleMemory> {
        let budget = budget();
        let mut plan = plan_now()?;
        plan.limit += budget.used();
        budget.set_limit(plan.limit);
        Ok(plan)
    }

    /// Bytes the container may still take (`MemFree`/`MemAvailable`, `sysinfo`'s
    /// `freeram`): the budget's room, never more than the frames free and the heap's free
    /// space (which it gives back as frames are needed).
    pub fn available_to_container() -> u64 {
        let (_, free_frames) = arch::memory::memory_totals();
        let heap_free = arch::heap::stats().available_bytes as u64;
        budget().available().min(free_frames + heap_free)
    }

    /// What a tmpfs is made on: the machine's RAM and the budget.
    pub fn tmpfs_memory() -> TmpfsMemory {
        TmpfsMemory {
            total: arch::memory::memory_totals().0,
            budget: budget().clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn the_reserve_is_a_sixteenth_of_ram_within_bounds() {
        assert_eq!(reserve_for(16 * MIB), 2 * MIB);
        assert_eq!(reserve_for(32 * MIB), 2 * MIB);
        assert_eq!(reserve_for(128 * MIB), 8 * MIB);
        assert_eq!(reserve_for(4096 * MIB), 64 * MIB);
    }

    #[test]
    fn the_budget_is_what_is_free_less_the_reserve() {
        let large = plan(128 * MIB, 115 * MIB + 100, MIB).unwrap();
        assert_eq!((large.reserve, large.limit), (8 * MIB, 107 * MIB));
        // The heap's free space is reserve whatever the share of RAM says.
        let small = plan(32 * MIB, 20 * MIB, 5 * MIB).unwrap();
        assert_eq!((small.reserve, small.limit), (5 * MIB, 15 * MIB));
    }

    #[test]
    fn too_little_ram_says_how_much_is_missing() {
        let error = plan(4 * MIB, 2 * MIB, 0).unwrap_err();
        assert_eq!(error.needed, 4 * MIB);
        assert_eq!(
            error.to_string(),
            "4096 KiB of RAM, 2048 KiB free after boot: the kernel keeps 2048 KiB in reserve \
             and a container needs 2048 KiB more"
        );
    }
}
