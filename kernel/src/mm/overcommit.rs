//! `vm.overcommit_memory`: whether a mapping's size is judged when it is made. Memory is
//! charged page by page as it is touched (the budget, then the OOM killer), so what this
//! adds is Linux's early refusal of an obvious overcommit: with the default heuristic
//! (`0`, `OVERCOMMIT_GUESS` in `__vm_enough_memory`) one request for more than all of RAM
//! is `ENOMEM` at once, so a program that sizes a mapping by trying (a JVM heap, a
//! database cache) sees what it would see on a Linux host with this much memory. `1`
//! (always) refuses nothing. `2` (never) would need commit accounting of every private
//! writable page, which the sandbox does not keep; it is judged as `0`.

use core::sync::atomic::{AtomicU8, Ordering};

const ALWAYS: u8 = 1;

static MODE: AtomicU8 = AtomicU8::new(0);

/// Sets the mode from the spec's `linux.sysctl` (`vm.overcommit_memory`).
pub fn set_mode(mode: u8) {
    MODE.store(mode, Ordering::Relaxed);
}

/// Whether a request to commit `bytes` more may be made on a machine of `total_ram`
/// bytes (Linux compares pages with RAM's pages plus swap; there is no swap here).
pub fn may_commit(bytes: u64, total_ram: u64) -> bool {
    let pages = |bytes: u64| bytes.div_ceil(vfs_core::PAGE_SIZE as u64);
    MODE.load(Ordering::Relaxed) == ALWAYS || pages(bytes) <= pages(total_ram)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heuristic_refuses_only_more_than_all_of_ram_and_always_refuses_nothing() {
        const RAM: u64 = 128 << 20;
        assert!(may_commit(RAM, RAM));
        assert!(!may_commit(RAM + 4096, RAM));
        // RAM that ends inside a page: a mapping of that page is still within it.
        assert!(may_commit(RAM + 4096, RAM + 100));
        set_mode(ALWAYS);
        assert!(may_commit(1 << 40, RAM));
        set_mode(0);
        assert!(!may_commit(1 << 40, RAM));
    }
}
