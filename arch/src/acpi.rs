//! The CPUs and interrupt controllers the machine has, from the ACPI MADT: the RSDP (from
//! the PVH start info, or found where ACPI 1.0 says to look), its RSDT or XSDT, the table
//! signed `APIC`, and its entries: processors (local APIC and local x2APIC, enabled or
//! online-capable), I/O APICs and ISA interrupt source overrides.
//!
//! Why our own few lines rather than a crate: this is the one table the kernel reads;
//! every read is bounds-checked against the table's own length and copied out of firmware
//! memory first, so a malformed table yields fewer CPUs or no routed interrupts, never a
//! bad read.

use alloc::vec::Vec;

use crate::memory::inside_direct_map;
use crate::mmio::MmioRegion;
use crate::paging::phys_to_virt;

/// Longest table copied (the MADT of a 64-CPU machine is under 1 KiB).
const MAX_TABLE: u32 = 64 * 1024;
const SDT_HEADER: usize = 36;

/// Copies `len` bytes of firmware memory at `phys`: through the direct map where it
/// covers them, else through an uncached register mapping (reserved memory is outside the
/// direct map); `None` if neither reaches them.
fn copy_phys(phys: u64, len: usize) -> Option<Vec<u8>> {
    let end = phys.checked_add(len as u64)?;
    if inside_direct_map(phys, end) {
        let mut bytes = alloc::vec![0u8; len];
        let virt = phys_to_virt(phys) as *const u8;
        // SAFETY: the direct map covers [phys, end) (checked above) and maps it readable; firmware tables are plain bytes, copied with no alignment needs.
        unsafe { core::ptr::copy_nonoverlapping(virt, bytes.as_mut_ptr(), len) };
        return Some(bytes);
    }
    let first = phys & !3;
    let window = MmioRegion::map(first, (end - first).next_multiple_of(4)).ok()?;
    let mut bytes = Vec::with_capacity(len + 4);
    for offset in (0..window.len()).step_by(4) {
        bytes.extend_from_slice(&window.read_u32(offset as usize).to_le_bytes());
    }
    let skip = (phys - first) as usize;
    Some(bytes[skip..skip + len].to_vec())
}

fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(offset..offset + 4)?.try_into().ok()?,
    ))
}

fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        bytes.get(offset..offset + 8)?.try_into().ok()?,
    ))
}

fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |sum, &b| sum.wrapping_add(b)) == 0
}

/// A system description table at `phys`, whole, if its header and checksum hold.
fn table(phys: u64) -> Option<Vec<u8>> {
    let header = copy_phys(phys, SDT_HEADER)?;
    let len = u32_at(&header, 4)?;
    if (len as usize) < SDT_HEADER || len > MAX_TABLE {
        return None;
    }
    let bytes = copy_phys(phys, len as usize)?;
    checksum_ok(&bytes).then_some(bytes)
}

/// The RSDP at `phys` if it is one: (revision, RSDT address, XSDT address).
fn rsdp_at(phys: u64) -> Option<(u8, u64, u64)> {
    let bytes = copy_phys(phys, 36).or_else(|| copy_phys(phys, 20))?;
    if bytes.get(..8)? != b"RSD PTR " || !checksum_ok(&bytes[..20]) {
        return None;
    }
    let revision = bytes[15];
    let rsdt = u64::from(u32_at(&bytes, 16)?);
    let xsdt = if revision >= 2 && bytes.len() >= 36 {
        u64_at(&bytes, 24).unwrap_or(0)
    } else {
        0
    };
    Some((revision, rsdt, xsdt))
}

/// ACPI 1.0's places for the RSDP when nobody handed it over: the BIOS area
/// 0xe0000–0xfffff on 16-byte boundaries.
fn find_rsdp() -> Option<u64> {
    const START: u64 = 0xe0000;
    const END: u64 = 0x100000;
    let area = copy_phys(START, (END - START) as usize)?;
    (0..area.len())
        .step_by(16)
        .find(|&offset| {
            area.get(offset..offset + 20)
                .is_some_and(|candidate| &candidate[..8] == b"RSD PTR " && checksum_ok(candidate))
        })
        .map(|offset| START + offset as u64)
}

/// The MADT, found from the RSDP.
fn madt(rsdp: Option<u64>) -> Option<Vec<u8>> {
    let (_, rsdt, xsdt) = rsdp
        .and_then(rsdp_at)
        .or_else(|| find_rsdp().and_then(rsdp_at))?;
    let (root, entry_size) = if xsdt != 0 {
        (table(xsdt)?, 8)
    } else {
        (table(rsdt)?, 4)
    };
    (SDT_HEADER..root.len())
        .step_by(entry_size)
        .filter_map(|offset| {
            if entry_size == 8 {
                u64_at(&root, offset)
            } else {
                u32_at(&root, offset).map(u64::from)
            }
        })
        .filter_map(table)
        .find(|table| table.get(..4) == Some(b"APIC"))
}

/// The MADT's interrupt-controller entries after its fixed header, as (type, bytes);
/// iteration stops at the first entry whose length does not fit.
fn madt_entries(madt: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut offset = SDT_HEADER + 8;
    core::iter::from_fn(move || {
        let (&kind, &len) = (madt.get(offset)?, madt.get(offset + 1)?);
        let len = usize::from(len);
        if len < 2 || offset + len > madt.len() {
            return None;
        }
        let entry = &madt[offset..offset + len];
        offset += len;
        Some((kind, entry))
    })
}

/// The local APIC ids of the processors the MADT lists as usable (enabled, or off but
/// online-capable), in table order; empty when there is no MADT.
pub fn processor_apic_ids(rsdp: Option<u64>) -> Vec<u32> {
    const LOCAL_APIC: u8 = 0;
    const LOCAL_X2APIC: u8 = 9;
    const ENABLED: u32 = 1;
    const ONLINE_CAPABLE: u32 = 2;
    let Some(madt) = madt(rsdp) else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    for (kind, entry) in madt_entries(&madt) {
        let found = match kind {
            LOCAL_APIC if entry.len() >= 8 => {
                u32_at(entry, 4).map(|flags| (u32::from(entry[3]), flags))
            }
            LOCAL_X2APIC if entry.len() >= 16 => u32_at(entry, 4).zip(u32_at(entry, 8)),
            _ => None,
        };
        if let Some((id, flags)) = found
            && flags & (ENABLED | ONLINE_CAPABLE) != 0
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

/// An I/O APIC: where its registers are and the first global system interrupt it serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApicEntry {
    pub address: u64,
    pub gsi_base: u32,
}

/// How an ISA interrupt reaches the I/O APICs: its global system interrupt and signalling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsaRoute {
    pub gsi: u32,
    pub active_low: bool,
    pub level_triggered: bool,
}

/// The machine's I/O APICs and where each ISA interrupt goes, from the MADT.
#[derive(Clone, Debug, Default)]
pub struct InterruptRouting {
    pub io_apics: Vec<IoApicEntry>,
    /// Source overrides, by ISA interrupt; an ISA interrupt without one is the GSI of
    /// its own number, edge-triggered and active high (ACPI's "conforming" for ISA).
    overrides: Vec<(u8, IsaRoute)>,
}

impl InterruptRouting {
    pub fn isa(&self, irq: u8) -> IsaRoute {
        self.overrides
            .iter()
            .find(|(source, _)| *source == irq)
            .map_or(
                IsaRoute {
                    gsi: u32::from(irq),
                    active_low: false,
                    level_triggered: false,
                },
                |&(_, route)| route,
            )
    }
}

/// The I/O APICs and ISA interrupt source overrides the MADT lists; empty without one.
pub fn interrupt_routing(rsdp: Option<u64>) -> InterruptRouting {
    const IO_APIC: u8 = 1;
    const SOURCE_OVERRIDE: u8 = 2;
    const ISA_BUS: u8 = 0;
    let mut routing = InterruptRouting::default();
    let Some(madt) = madt(rsdp) else {
        return routing;
    };
    for (kind, entry) in madt_entries(&madt) {
        match kind {
            IO_APIC if entry.len() >= 12 => {
                if let (Some(address), Some(gsi_base)) = (u32_at(entry, 4), u32_at(entry, 8)) {
                    routing.io_apics.push(IoApicEntry {
                        address: u64::from(address),
                        gsi_base,
                    });
                }
            }
            SOURCE_OVERRIDE if entry.len() >= 10 && entry[2] == ISA_BUS => {
                let Some(gsi) = u32_at(entry, 4) else {
                    continue;
                };
                let flags = u16::from_le_bytes([entry[8], entry[9]]);
                // MPS INTI flags: polarity in bits 0-1, trigger mode in bits 2-3; 0b11 is
                // "active low" / "level", anything else keeps ISA's defaults.
                routing.overrides.push((
                    entry[3],
                    IsaRoute {
                        gsi,
                        active_low: flags & 0b11 == 0b11,
                        level_triggered: (flags >> 2) & 0b11 == 0b11,
                    },
                ));
            }
            _ => {}
        }
    }
    routing
}
