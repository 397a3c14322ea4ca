//! Turning the virtual machine off with an exit status.
//!
//! QEMU's `isa-debug-exit` device (port 0xf4) ends QEMU at once with `(value << 1) | 1`;
//! it is our primary path because it carries the status. Without it we fall back to ACPI
//! power-off for the two machines we support (both asynchronous, hence the halt after):
//! q35/PIIX4 PM at port 0x604 and microvm's generic event device sleep register at MMIO
//! 0xfea0_0200. Monitors without either read the status from the console line
//! `sandbox: exit status N` that the caller prints first.

use x86_64::instructions::port::Port;

const DEBUG_EXIT_PORT: u16 = 0xf4;
const Q35_PM1A_CONTROL_PORT: u16 = 0x604;
const Q35_SLEEP_S5: u16 = 0x2000;
const MICROVM_GED_SLEEP_CONTROL: u64 = 0xfea0_0200;
const MICROVM_SLEEP_S5: u8 = (5 << 2) | 0x20;

pub fn power_off(status: u8) -> ! {
    // SAFETY: writes to fixed virtual-hardware ports; on a machine without the device the write goes nowhere. Nothing after this depends on memory state.
    unsafe {
        Port::<u32>::new(DEBUG_EXIT_PORT).write(u32::from(status));
        Port::<u16>::new(Q35_PM1A_CONTROL_PORT).write(Q35_SLEEP_S5);
    }
    if let Ok(register) = crate::mmio::MmioRegion::map(MICROVM_GED_SLEEP_CONTROL, 1) {
        register.write_u8(0, MICROVM_SLEEP_S5); // a byte write is the GED protocol
    }
    super::cpu::halt_forever()
}
