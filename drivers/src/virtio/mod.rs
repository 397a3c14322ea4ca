//! Finding virtio devices: every transport the kernel can reach, as `virtio-drivers`'
//! [`SomeTransport`], with its device type and where its interrupt comes from.

mod mmio;
mod pci;

use alloc::vec::Vec;

use virtio_drivers::Hal;
use virtio_drivers::transport::{DeviceType, SomeTransport, Transport};

pub use mmio::{MICROVM_SLOTS, MmioSlot, parse_cmdline_device};

/// Where a device's interrupt comes from, as far as discovery can tell; which I/O APIC
/// input that is depends on the machine, which the kernel knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterruptLine {
    /// A global system interrupt the command line named.
    Gsi(u32),
    /// The slot with this index among microvm's virtio-mmio slots.
    MicrovmSlot(u32),
    /// An INTx pin (1 = INTA#) of a PCI device on bus 0.
    PciPin {
        device: u8,
        pin: u8,
    },
    Unknown,
}

/// A virtio device found: its transport and its interrupt line.
pub struct Found {
    pub transport: SomeTransport<'static>,
    pub line: InterruptLine,
}

/// Every virtio device found on the MMIO slots given and on the PCI bus (when the machine has
/// one), in a stable order: MMIO by address, then PCI by bus/device/function.
pub fn discover<H: Hal>(mmio_slots: &[MmioSlot]) -> Vec<Found> {
    let mut found: Vec<Found> = mmio::probe::<H>(mmio_slots)
        .into_iter()
        .map(|(transport, line)| Found {
            transport: transport.into(),
            line,
        })
        .collect();
    found.extend(
        pci::probe::<H>()
            .into_iter()
            .map(|(transport, line)| Found {
                transport: transport.into(),
                line,
            }),
    );
    for device in &found {
        log::debug!(
            "virtio: found {:?} device, interrupt {:?}",
            device.transport.device_type(),
            device.line
        );
    }
    found
}

/// Keeps the devices of one type, handing back the rest.
pub fn take_devices(devices: &mut Vec<Found>, kind: DeviceType) -> Vec<Found> {
    let (wanted, rest) = core::mem::take(devices)
        .into_iter()
        .partition(|device| device.transport.device_type() == kind);
    *devices = rest;
    wanted
}
