//! virtio-mmio discovery for QEMU's `microvm` (and VMMs like it).
//!
//! microvm places its virtio-mmio slots at 0xfeb0_0000 + i × 0x200 and fills them from the top
//! slot down; its ACPI tables describe them, and with `acpi=off` it appends Linux's
//! `virtio_mmio.device=SIZE@ADDR:IRQ` to the command line instead. Probing each slot's magic
//! value and device id finds them without an ACPI parser; command-line entries are probed too.

use alloc::vec::Vec;
use core::ptr::NonNull;

use virtio_drivers::Hal;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};

use super::InterruptLine;

const MICROVM_MMIO_BASE: u64 = 0xfeb0_0000;
const MICROVM_SLOT_SIZE: usize = 0x200;
const MICROVM_SLOT_COUNT: u64 = 24;
const VIRTIO_MAGIC: u32 = 0x7472_6976; // "virt"

/// One virtio-mmio register window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioSlot {
    pub phys: u64,
    pub size: usize,
    /// The interrupt the command line named (`virtio_mmio.device=SIZE@ADDR:IRQ`).
    pub irq: Option<u32>,
}

/// microvm's slots, lowest address first.
pub const MICROVM_SLOTS: [MmioSlot; MICROVM_SLOT_COUNT as usize] = {
    let mut slots = [MmioSlot {
        phys: 0,
        size: 0,
        irq: None,
    }; MICROVM_SLOT_COUNT as usize];
    let mut i = 0;
    while i < slots.len() {
        slots[i] = MmioSlot {
            phys: MICROVM_MMIO_BASE + (i * MICROVM_SLOT_SIZE) as u64,
            size: MICROVM_SLOT_SIZE,
            irq: None,
        };
        i += 1;
    }
    slots
};

/// Parses one `virtio_mmio.device=` value: `SIZE@ADDR[:IRQ[:ID]]`, sizes with an optional
/// K/M suffix, numbers decimal or 0x-hex, as Linux's `virtio_mmio` driver reads it.
pub fn parse_cmdline_device(value: &str) -> Option<MmioSlot> {
    let (size, rest) = value.split_once('@')?;
    let mut fields = rest.split(':');
    let address = fields.next()?;
    let irq = match fields.next() {
        Some(irq) => Some(u32::try_from(parse_number(irq)?).ok()?),
        None => None,
    };
    let (digits, scale) = match size.as_bytes().last()? {
        b'K' | b'k' => (&size[..size.len() - 1], 1024),
        b'M' | b'm' => (&size[..size.len() - 1], 1024 * 1024),
        _ => (size, 1),
    };
    let size = usize::try_from(parse_number(digits)?)
        .ok()?
        .checked_mul(scale)?;
    Some(MmioSlot {
        phys: parse_number(address)?,
        size,
        irq,
    })
}

fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Where a slot's interrupt comes from: the command line's IRQ, else its place among
/// microvm's slots (whose line the kernel knows from the machine's I/O APICs).
fn interrupt_line(slot: &MmioSlot) -> InterruptLine {
    if let Some(irq) = slot.irq {
        return InterruptLine::Gsi(irq);
    }
    let offset = slot.phys.wrapping_sub(MICROVM_MMIO_BASE);
    let index = offset / MICROVM_SLOT_SIZE as u64;
    if offset.is_multiple_of(MICROVM_SLOT_SIZE as u64) && index < MICROVM_SLOT_COUNT {
        InterruptLine::MicrovmSlot(index as u32)
    } else {
        InterruptLine::Unknown
    }
}

/// The slots that hold a virtio device, as transports with their interrupt lines.
pub(super) fn probe<H: Hal>(slots: &[MmioSlot]) -> Vec<(MmioTransport<'static>, InterruptLine)> {
    let mut sorted: Vec<MmioSlot> = slots.to_vec();
    sorted.sort_by_key(|slot| slot.phys);
    sorted.dedup_by_key(|slot| slot.phys);
    let mut found = Vec::new();
    for slot in sorted {
        if slot.size < core::mem::size_of::<VirtIOHeader>() {
            log::warn!(
                "virtio-mmio at {:#x}: {} bytes cannot hold the registers; skipped",
                slot.phys,
                slot.size
            );
            continue;
        }
        if !slot
            .phys
            .is_multiple_of(core::mem::align_of::<VirtIOHeader>() as u64)
        {
            log::warn!(
                "virtio-mmio at {:#x}: registers must be 4-byte aligned; skipped",
                slot.phys
            );
            continue;
        }
        // SAFETY: the slot is a device-register window the VMM advertises (or microvm's fixed window); `mmio_phys_to_virt` maps it uncached for the kernel's lifetime.
        let base = unsafe { H::mmio_phys_to_virt(slot.phys, slot.size) };
        // SAFETY: reading the 4-byte magic register at offset 0 of a mapped MMIO window has no side effects on a virtio device, and reads as 0 or all-ones where none is.
        let magic = unsafe { core::ptr::read_volatile(base.as_ptr().cast::<u32>()) };
        // SAFETY: as above; offset 8 is the device id (0 = empty slot).
        let device_id = unsafe { core::ptr::read_volatile(base.as_ptr().cast::<u32>().add(2)) };
        if magic != VIRTIO_MAGIC || device_id == 0 {
            continue;
        }
        let header: NonNull<VirtIOHeader> = base.cast();
        // SAFETY: `header` is an aligned, mapped virtio-mmio window of `slot.size` bytes that stays mapped forever, and this is the only transport created for it (deduplicated).
        match unsafe { MmioTransport::new(header, slot.size) } {
            Ok(transport) => found.push((transport, interrupt_line(&slot))),
            Err(error) => log::warn!("virtio-mmio at {:#x}: {error}", slot.phys),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_linux_virtio_mmio_device_syntax() {
        assert_eq!(
            parse_cmdline_device("512@0xfeb00e00:12"),
            Some(MmioSlot {
                phys: 0xfeb0_0e00,
                size: 512,
                irq: Some(12),
            })
        );
        assert_eq!(
            parse_cmdline_device("4K@0xd0000000:5:3"),
            Some(MmioSlot {
                phys: 0xd000_0000,
                size: 4096,
                irq: Some(5),
            })
        );
        assert_eq!(
            parse_cmdline_device("1M@4096"),
            Some(MmioSlot {
                phys: 4096,
                size: 1 << 20,
                irq: None,
            })
        );
        assert_eq!(
            parse_cmdline_device("0x200@0xfeb00000"),
            Some(MmioSlot {
                phys: 0xfeb0_0000,
                size: 512,
                irq: None,
            })
        );
    }

    #[test]
    fn rejects_malformed_virtio_mmio_device_values() {
        for bad in ["", "512", "@0x1000", "512@", "x@0x10", "512@zz", "K@0x10"] {
            assert_eq!(parse_cmdline_device(bad), None, "{bad}");
        }
    }

    #[test]
    fn interrupt_lines_come_from_the_command_line_or_the_slot() {
        let slot = |phys, irq| MmioSlot {
            phys,
            size: 512,
            irq,
        };
        assert_eq!(
            interrupt_line(&slot(0xfeb0_0e00, Some(12))),
            InterruptLine::Gsi(12)
        );
        assert_eq!(
            interrupt_line(&slot(0xfeb0_0000, None)),
            InterruptLine::MicrovmSlot(0)
        );
        assert_eq!(
            interrupt_line(&slot(0xfeb0_2e00, None)),
            InterruptLine::MicrovmSlot(23)
        );
        assert_eq!(
            interrupt_line(&slot(0xfeb0_3000, None)),
            InterruptLine::Unknown
        );
        assert_eq!(
            interrupt_line(&slot(0xfeb0_0100, None)),
            InterruptLine::Unknown
        );
        assert_eq!(
            interrupt_line(&slot(0xd000_0000, None)),
            InterruptLine::Unknown
        );
    }

    #[test]
    fn microvm_slots_cover_the_window() {
        assert_eq!(MICROVM_SLOTS[0].phys, 0xfeb0_0000);
        assert_eq!(MICROVM_SLOTS[23].phys, 0xfeb0_2e00);
    }
}
