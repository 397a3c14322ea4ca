//! Where the worker keeps what the fuzzed calls may touch, away from its own code, stack
//! and heap: the scratch area (argument slots, then random data) and the arena (the
//! memory calls' playground). Nothing is mapped right after either.

pub const PAGE: u64 = 4096;

/// Argument structures and random data; the fuzzed calls read and write it but never
/// map, unmap or protect it.
pub const SCRATCH_BASE: u64 = 0x10_0000_0000;
pub const SCRATCH_SIZE: u64 = 1 << 20;
pub const SCRATCH_END: u64 = SCRATCH_BASE + SCRATCH_SIZE;
/// One slot per argument position at the start of the scratch area.
pub const SLOT_SIZE: u64 = 8192;
pub const DATA_BASE: u64 = SCRATCH_BASE + 64 * 1024;
pub const DATA_SIZE: u64 = SCRATCH_END - DATA_BASE;

/// The memory calls' own range: mapped, unmapped and protected at will.
pub const ARENA_BASE: u64 = 0x20_0000_0000;
pub const ARENA_PAGES: u64 = 256;
pub const ARENA_SIZE: u64 = ARENA_PAGES * PAGE;
pub const ARENA_END: u64 = ARENA_BASE + ARENA_SIZE;

/// The worker's console (its findings and traces) and its progress pipe to the
/// supervisor: never drawn as a descriptor argument, never closed or replaced by a call.
pub const CONSOLE_FD: i32 = 1000;
pub const PROGRESS_FD: i32 = 1001;
