//! The I/O APIC: routes a device's interrupt line to the boot CPU, so input that arrives
//! while every CPU halts or runs user code is taken at once rather than at the next timer
//! tick.
//!
//! Every routed line raises the one [`DEVICE_VECTOR`]; its handler acknowledges it and
//! calls the kernel's device hook (see [`crate::trap`]), and the kernel then looks at its
//! devices as it does on every tick. Lines are edge-triggered as ISA's are, so a device left asserting (its data not
//! taken because the reader's buffer is full) raises nothing more; the kernel's tick-time
//! poll is what takes that data later, which is why the poll stays.
//!
//! Lock order: `IO_APICS` is a leaf.

use alloc::vec::Vec;

use spin::{Mutex, Once};

use crate::acpi::{self, InterruptRouting};
use crate::mmio::MmioRegion;
use crate::trap::DEVICE_VECTOR;

const REGISTER_SELECT: usize = 0x00;
const REGISTER_WINDOW: usize = 0x10;
const VERSION: u32 = 0x01;
const REDIRECTION_TABLE: u32 = 0x10;
const MASKED: u32 = 1 << 16;
const ACTIVE_LOW: u32 = 1 << 13;
/// An I/O APIC's register window (two registers, 0x20 bytes).
const WINDOW: u64 = 0x20;

/// One I/O APIC the kernel mapped.
struct IoApic {
    registers: MmioRegion,
    gsi_base: u32,
    lines: u32,
}

impl IoApic {
    fn read(&self, register: u32) -> u32 {
        self.registers.write_u32(REGISTER_SELECT, register);
        self.registers.read_u32(REGISTER_WINDOW)
    }

    fn write(&self, register: u32, value: u32) {
        self.registers.write_u32(REGISTER_SELECT, register);
        self.registers.write_u32(REGISTER_WINDOW, value);
    }

    fn serves(&self, gsi: u32) -> bool {
        gsi.checked_sub(self.gsi_base)
            .is_some_and(|line| line < self.lines)
    }

    /// Programs line `gsi - gsi_base`: fixed delivery of `low`'s vector to `apic_id`.
    fn set_line(&self, gsi: u32, low: u32, apic_id: u32) {
        let entry = REDIRECTION_TABLE + 2 * (gsi - self.gsi_base);
        // Masked while the destination changes, so no half-written entry fires.
        self.write(entry, MASKED);
        self.write(entry + 1, apic_id << 24);
        self.write(entry, low);
    }
}

/// The machine's I/O APICs and where ISA lines go; set once by [`init`].
static ROUTING: Once<InterruptRouting> = Once::new();
static IO_APICS: Mutex<Vec<IoApic>> = Mutex::new(Vec::new());

/// Finds the I/O APICs the MADT lists, maps them and masks every line. Without an MADT
/// or an I/O APIC nothing is routed (`Err` says so) and devices are polled only.
pub fn init(rsdp: Option<u64>) -> Result<usize, &'static str> {
    let routing = ROUTING.call_once(|| acpi::interrupt_routing(rsdp));
    let mut io_apics = IO_APICS.lock();
    for entry in &routing.io_apics {
        let Ok(registers) = MmioRegion::map(entry.address, WINDOW) else {
            continue;
        };
        let mut io_apic = IoApic {
            registers,
            gsi_base: entry.gsi_base,
            lines: 0,
        };
        // Bits 16-23 of the version register: the highest redirection entry.
        io_apic.lines = ((io_apic.read(VERSION) >> 16) & 0xff) + 1;
        for line in 0..io_apic.lines {
            io_apic.write(REDIRECTION_TABLE + 2 * line, MASKED);
        }
        io_apics.push(io_apic);
    }
    if io_apics.is_empty() {
        return Err("no I/O APIC in the MADT");
    }
    Ok(io_apics.len())
}

/// Delivers ISA interrupt `irq` (after the MADT's source overrides) to this CPU as
/// [`DEVICE_VECTOR`]. `Err` if no I/O APIC serves it.
pub fn route_isa_irq(irq: u8) -> Result<(), &'static str> {
    let route = ROUTING.get().ok_or("I/O APICs not initialised")?.isa(irq);
    let io_apics = IO_APICS.lock();
    let io_apic = io_apics
        .iter()
        .find(|io_apic| io_apic.serves(route.gsi))
        .ok_or("no I/O APIC serves the line")?;
    // Edge-triggered even where the line is level: a device whose data waits for room
    // would otherwise interrupt again after every acknowledgement, starving user code.
    let mut low = u32::from(DEVICE_VECTOR);
    if route.active_low {
        low |= ACTIVE_LOW;
    }
    io_apic.set_line(route.gsi, low, crate::apic::local_id());
    Ok(())
}

/// Whether an I/O APIC serves global system interrupt `gsi`.
pub fn serves(gsi: u32) -> bool {
    IO_APICS.lock().iter().any(|io_apic| io_apic.serves(gsi))
}

/// Delivers global system interrupt `gsi` (a virtio-mmio slot's line, a PCI line in APIC
/// mode) to this CPU as [`DEVICE_VECTOR`], edge-triggered and active high, as QEMU
/// drives them. Edge, like [`route_isa_irq`]: whoever waits on the device acknowledges
/// it before looking at it, so each new event is a new edge. `Err` if no I/O APIC
/// serves it.
pub fn route_gsi(gsi: u32) -> Result<(), &'static str> {
    let io_apics = IO_APICS.lock();
    let io_apic = io_apics
        .iter()
        .find(|io_apic| io_apic.serves(gsi))
        .ok_or("no I/O APIC serves the line")?;
    io_apic.set_line(gsi, u32::from(DEVICE_VECTOR), crate::apic::local_id());
    Ok(())
}
