//! Finding virtio devices: every transport the kernel can reach, as `virtio-drivers`'
//! [`SomeTransport`], with its device type.

mod mmio;
mod pci;

use alloc::vec::Vec;

use virtio_drivers::Hal;
use virtio_drivers::transport::{DeviceType, SomeTransport, Transport};

pub use mmio::{MICROVM_SLOTS, MmioSlot, parse_cmdline_device};

/// Every virtio device found on the MMIO slots given and on the PCI bus (when the machine has
/// one), in a stable order: MMIO by address, then PCI by bus/device/function.
pub fn discover<H: Hal>(mmio_slots: &[MmioSlot]) -> Vec<SomeTransport<'static>> {
    let mut found: Vec<SomeTransport<'static>> = mmio::probe::<H>(mmio_slots)
        .into_iter()
        .map(Into::into)
        .collect();
    found.extend(pci::probe::<H>().into_iter().map(SomeTransport::from));
    for transport in &found {
        log::debug!("virtio: found {:?} device", transport.device_type());
    }
    found
}

/// Keeps the devices of one type, handing back the rest.
pub fn take_devices(
    devices: &mut Vec<SomeTransport<'static>>,
    kind: DeviceType,
) -> Vec<SomeTransport<'static>> {
    let (wanted, rest) = core::mem::take(devices)
        .into_iter()
        .partition(|t| t.device_type() == kind);
    *devices = rest;
    wanted
}
