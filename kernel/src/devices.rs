//! The devices the sandbox uses, found once at boot: the virtio-9p shares, each with its
//! mount tag, and the virtio-console port of the host's control channel (`stdio=control`).

use alloc::sync::Arc;
use alloc::vec::Vec;

use drivers::virtio::{self, MICROVM_SLOTS, MmioSlot};
use drivers::virtio_9p::Virtio9pChannel;
use virtio_drivers::device::console::VirtIOConsole;
use virtio_drivers::transport::{DeviceType, SomeTransport};

use arch::dma::KernelHal;
use arch::mmio::MmioRegion;

pub type NinePChannel = Virtio9pChannel<KernelHal>;
/// The control channel's port: port 0 of a virtio-console device (`virtconsole`).
pub type ControlPort = VirtIOConsole<KernelHal, SomeTransport<'static>>;

pub struct Devices {
    /// The 9p shares in discovery order (MMIO by address, then PCI).
    pub nine_p: Vec<Arc<NinePChannel>>,
    /// The first virtio-console device, until the control channel takes it.
    pub control: spin::Mutex<Option<ControlPort>>,
}

impl Devices {
    /// 9p requests sent on every share so far.
    pub fn nine_p_requests(&self) -> u64 {
        self.nine_p.iter().map(|channel| channel.requests()).sum()
    }

    /// The share with mount tag `tag`.
    pub fn nine_p_by_tag(&self, tag: &str) -> Option<&Arc<NinePChannel>> {
        self.nine_p.iter().find(|channel| channel.tag() == tag)
    }
}

pub fn discover(cmdline: &[u8]) -> Devices {
    let mut slots: Vec<MmioSlot> = MICROVM_SLOTS.into_iter().filter(mappable).collect();
    for value in crate::options::virtio_mmio_devices(cmdline) {
        match virtio::parse_cmdline_device(value) {
            Some(slot) => match MmioRegion::map(slot.phys, slot.size as u64) {
                Ok(_) => slots.push(slot),
                Err(error) => log::warn!(
                    target: "virtio",
                    "virtio_mmio.device={value}: cannot map its registers ({error}); device skipped"
                ),
            },
            None => log::warn!(
                target: "virtio",
                "virtio_mmio.device={value}: not SIZE@ADDR[:IRQ]; device skipped"
            ),
        }
    }
    let mut found = virtio::discover::<KernelHal>(&slots);
    let mut nine_p = Vec::new();
    for transport in virtio::take_devices(&mut found, DeviceType::_9P) {
        match Virtio9pChannel::new(transport) {
            Ok(channel) => {
                log::info!("virtio-9p: share `{}`", channel.tag());
                nine_p.push(Arc::new(channel));
            }
            Err(error) => log::warn!("virtio-9p: device failed to start: {error}"),
        }
    }
    let control = virtio::take_devices(&mut found, DeviceType::Console)
        .into_iter()
        .next()
        .and_then(|transport| match VirtIOConsole::new(transport) {
            Ok(port) => Some(port),
            Err(error) => {
                log::warn!("virtio-console: device failed to start: {error}");
                None
            }
        });
    Devices {
        nine_p,
        control: spin::Mutex::new(control),
    }
}

/// Whether a fixed (microvm) slot's registers can be mapped: checked and mapped here, before
/// a driver sees the address, because `virtio_drivers::Hal` cannot report a failure.
fn mappable(slot: &MmioSlot) -> bool {
    match MmioRegion::map(slot.phys, slot.size as u64) {
        Ok(_) => true,
        Err(error) => {
            log::debug!(target: "virtio", "virtio-mmio slot at {:#x} skipped: {error}", slot.phys);
            false
        }
    }
}
