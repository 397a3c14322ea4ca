//! Reads Xen's `hvm_start_info` (the PVH boot protocol) into a [`BootInfo`].
//!
//! Runs on the early page tables, where physical memory below
//! [`early_identity_limit`](crate::early_identity_limit) is identity mapped. Every field is read
//! with an unaligned read because VMMs do not promise alignment (a module entry was seen at a
//! 4-byte-aligned address), and every pointer the VMM gave is bounds-checked against the
//! identity map before it is followed.

use crate::boot_info::{
    BootInfo, BootModule, MAX_CMDLINE, MAX_MEMORY_REGIONS, MAX_MODULES, MemoryKind, MemoryRegion,
};
use crate::pvh::early_identity_limit;

const START_INFO_MAGIC: u32 = 0x336e_c578;

// Offsets in `struct hvm_start_info` (xen/include/public/arch-x86/hvm/start_info.h).
const MAGIC: u64 = 0;
const VERSION: u64 = 4;
const NR_MODULES: u64 = 12;
const MODLIST_PADDR: u64 = 16;
const CMDLINE_PADDR: u64 = 24;
const RSDP_PADDR: u64 = 32;
const MEMMAP_PADDR: u64 = 40;
const MEMMAP_ENTRIES: u64 = 48;
const START_INFO_V1_SIZE: u64 = 56;

const MODLIST_ENTRY_SIZE: u64 = 32;
const MEMMAP_ENTRY_SIZE: u64 = 24;

/// Reads `len` bytes' worth of a `T` at a physical address if it lies in the identity map.
fn read_phys<T: Copy>(phys: u64) -> Option<T> {
    let size = core::mem::size_of::<T>() as u64;
    let end = phys.checked_add(size)?;
    if phys == 0 || end > early_identity_limit() {
        return None;
    }
    // SAFETY: [phys, end) is inside the early identity map (checked above), which maps RAM and the VMM's tables read-write; `T` is plain data (`Copy`) and the read is unaligned-safe.
    Some(unsafe { core::ptr::read_unaligned(phys as *const T) })
}

pub(crate) fn parse(start_info: u64, info: &mut BootInfo) {
    if read_phys::<[u8; START_INFO_V1_SIZE as usize]>(start_info).is_none() {
        info.note_problem("PVH start info pointer (%ebx) is outside low memory");
        return;
    }
    let field32 = |offset: u64| read_phys::<u32>(start_info + offset).unwrap_or(0);
    let field64 = |offset: u64| read_phys::<u64>(start_info + offset).unwrap_or(0);

    if field32(MAGIC) != START_INFO_MAGIC {
        info.note_problem("PVH start info has a bad magic number (not booted through PVH?)");
        return;
    }
    copy_cmdline(field64(CMDLINE_PADDR), info);
    copy_modules(field64(MODLIST_PADDR), field32(NR_MODULES), info);
    info.rsdp = Some(field64(RSDP_PADDR)).filter(|&rsdp| rsdp != 0);
    if field32(VERSION) >= 1 {
        copy_memory_map(field64(MEMMAP_PADDR), field32(MEMMAP_ENTRIES), info);
    } else {
        info.note_problem("PVH start info version 0 carries no memory map");
    }
}

fn copy_cmdline(phys: u64, info: &mut BootInfo) {
    if phys == 0 {
        return;
    }
    for i in 0..=MAX_CMDLINE as u64 {
        let Some(byte) = read_phys::<u8>(phys + i) else {
            info.note_problem("kernel command line runs outside low memory");
            return;
        };
        if byte == 0 {
            return;
        }
        if i as usize == MAX_CMDLINE {
            info.note_problem("kernel command line longer than 4096 bytes was cut");
            return;
        }
        info.cmdline[i as usize] = byte;
        info.cmdline_len = i as usize + 1;
    }
}

fn copy_modules(list: u64, count: u32, info: &mut BootInfo) {
    for index in 0..u64::from(count) {
        if info.modules_len == MAX_MODULES {
            info.note_problem("more than 8 boot modules; the rest were ignored");
            return;
        }
        let entry = list + index * MODLIST_ENTRY_SIZE;
        let (Some(start), Some(len)) = (read_phys::<u64>(entry), read_phys::<u64>(entry + 8))
        else {
            info.note_problem("boot module list is outside low memory");
            return;
        };
        info.modules[info.modules_len] = BootModule { start, len };
        info.modules_len += 1;
    }
}

fn copy_memory_map(table: u64, count: u32, info: &mut BootInfo) {
    for index in 0..u64::from(count) {
        let entry = table + index * MEMMAP_ENTRY_SIZE;
        let (Some(start), Some(len), Some(kind)) = (
            read_phys::<u64>(entry),
            read_phys::<u64>(entry + 8),
            read_phys::<u32>(entry + 16),
        ) else {
            info.note_problem("memory map is outside low memory");
            break;
        };
        if len == 0 {
            continue; // QEMU ends its table with an all-zero entry.
        }
        if info.memory_len == MAX_MEMORY_REGIONS {
            info.note_problem("memory map has more than 128 entries; the rest were ignored");
            break;
        }
        info.memory[info.memory_len] = MemoryRegion {
            start,
            len,
            kind: MemoryKind::from_e820(kind),
        };
        info.memory_len += 1;
    }
    // The VMM's table is not sorted; the kernel's allocators want it so. Insertion sort: no
    // allocator exists yet and the table is tiny.
    let regions = &mut info.memory[..info.memory_len];
    for i in 1..regions.len() {
        let mut j = i;
        while j > 0 && regions[j - 1].start > regions[j].start {
            regions.swap(j - 1, j);
            j -= 1;
        }
    }
}
