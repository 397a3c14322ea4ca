//! virtio-pci discovery through the legacy configuration ports (0xcf8/0xcfc).
//!
//! Why ports rather than ECAM: they reach bus 0 on every PC-compatible machine (q35, pc)
//! without parsing ACPI's MCFG for the ECAM base; bus 0 is where QEMU puts devices given
//! with `-device` and no bus. BARs must already be assigned (SeaBIOS does; qboot does not).

use alloc::vec::Vec;

use virtio_drivers::Hal;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction, PciRoot};
use virtio_drivers::transport::pci::virtio_device_type;
use x86_64::instructions::port::Port;

use super::InterruptLine;

const CONFIG_ADDRESS: u16 = 0xcf8;
const CONFIG_DATA: u16 = 0xcfc;

/// Configuration mechanism #1: write the address of a register, read or write its data.
struct PortCam;

impl PortCam {
    fn select(device_function: DeviceFunction, register_offset: u8) {
        let address = 0x8000_0000
            | u32::from(device_function.bus) << 16
            | u32::from(device_function.device) << 11
            | u32::from(device_function.function) << 8
            | u32::from(register_offset & 0xfc);
        // SAFETY: 0xcf8 is the PCI configuration address port on PC-compatible machines; the kernel runs on one CPU and only this type uses the port.
        unsafe { Port::<u32>::new(CONFIG_ADDRESS).write(address) };
    }
}

impl ConfigurationAccess for PortCam {
    fn read_word(&self, device_function: DeviceFunction, register_offset: u8) -> u32 {
        Self::select(device_function, register_offset);
        // SAFETY: reads the register selected just above; configuration reads have no side effects and read as all-ones where no device answers.
        unsafe { Port::<u32>::new(CONFIG_DATA).read() }
    }

    fn write_word(&mut self, device_function: DeviceFunction, register_offset: u8, data: u32) {
        Self::select(device_function, register_offset);
        // SAFETY: writes the register selected just above, as `virtio-drivers` asks.
        unsafe { Port::<u32>::new(CONFIG_DATA).write(data) };
    }

    unsafe fn unsafe_clone(&self) -> Self {
        PortCam
    }
}

/// Whether anything answers at 00:00.0 (the host bridge of any PC with a PCI bus).
fn has_pci_bus() -> bool {
    PortCam.read_word(
        DeviceFunction {
            bus: 0,
            device: 0,
            function: 0,
        },
        0,
    ) & 0xffff
        != 0xffff
}

/// The configuration register holding the interrupt line (bits 0-7) and pin (8-15).
const INTERRUPT_REGISTER: u8 = 0x3c;

/// The INTx pin a function interrupts on (1 = INTA#), if any.
fn interrupt_line(function: DeviceFunction) -> InterruptLine {
    match (PortCam.read_word(function, INTERRUPT_REGISTER) >> 8) as u8 {
        pin @ 1..=4 => InterruptLine::PciPin {
            device: function.device,
            pin,
        },
        _ => InterruptLine::Unknown,
    }
}

pub(super) fn probe<H: Hal>() -> Vec<(PciTransport, InterruptLine)> {
    if !has_pci_bus() {
        return Vec::new();
    }
    let mut root = PciRoot::new(PortCam);
    let functions: Vec<_> = root
        .enumerate_bus(0)
        .filter(|(_, info)| virtio_device_type(info).is_some())
        .map(|(function, _)| function)
        .collect();
    let mut found = Vec::new();
    for function in functions {
        match PciTransport::new::<H, _>(&mut root, function) {
            Ok(transport) => found.push((transport, interrupt_line(function))),
            Err(error) => log::warn!("virtio-pci at {function}: {error}"),
        }
    }
    found
}
