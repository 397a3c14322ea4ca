//! The devices the sandbox uses, found once at boot: the virtio-9p shares, each with its
//! mount tag and its interrupt routed (so waits for replies halt rather than spin, see
//! [`crate::device_wait`]), and the virtio-console port of the host's control channel
//! (`stdio=control`).

use alloc::sync::Arc;
use alloc::vec::Vec;

use drivers::virtio::{self, InterruptLine, MICROVM_SLOTS, MmioSlot};
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
    arch::trap::set_device_handler(crate::device_wait::on_device_interrupt);
    drivers::virtio_9p::set_wait_hook(crate::device_wait::wait);
    for device in virtio::take_devices(&mut found, DeviceType::_9P) {
        match Virtio9pChannel::new(device.transport) {
            Ok(channel) => {
                match route(device.line) {
                    Ok(()) => channel.use_interrupts(),
                    Err(why) => log::info!(
                        target: "virtio",
                        "virtio-9p `{}`: replies polled ({why})",
                        channel.tag()
                    ),
                }
                log::info!("virtio-9p: share `{}`", channel.tag());
                nine_p.push(Arc::new(channel));
            }
            Err(error) => log::warn!("virtio-9p: device failed to start: {error}"),
        }
    }
    let control = virtio::take_devices(&mut found, DeviceType::Console)
        .into_iter()
        .next()
        .and_then(|device| match VirtIOConsole::new(device.transport) {
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

/// microvm's virtio-mmio lines: from GSI 24 on its second I/O APIC (ACPI on, QEMU's
/// default), else from GSI 5 on the first.
const MICROVM_SECOND_IO_APIC_BASE: u32 = 24;
const MICROVM_LEGACY_VIRTIO_BASE: u32 = 5;
/// PCI INTx lines in APIC mode (q35's PIRQA–H).
const PCI_FIRST_GSI: u32 = 16;
const PCI_LAST_GSI: u32 = 23;

/// Routes a device's interrupt line to this CPU through the I/O APIC.
fn route(line: InterruptLine) -> core::result::Result<(), &'static str> {
    match line {
        InterruptLine::Gsi(gsi) => arch::ioapic::route_gsi(gsi),
        InterruptLine::MicrovmSlot(slot) => {
            let gsi = if arch::ioapic::serves(MICROVM_SECOND_IO_APIC_BASE) {
                MICROVM_SECOND_IO_APIC_BASE + slot
            } else {
                MICROVM_LEGACY_VIRTIO_BASE + slot
            };
            arch::ioapic::route_gsi(gsi)
        }
        // Which PIRQ a slot's pin lands on is the chipset's routing (ACPI's `_PRT`, which
        // takes an AML interpreter to read): every PCI line is routed instead. A line
        // that is not the device's only makes a waiter look at its ring once more.
        InterruptLine::PciPin { .. } => {
            (PCI_FIRST_GSI..=PCI_LAST_GSI).try_for_each(arch::ioapic::route_gsi)
        }
        InterruptLine::Unknown => Err("its interrupt line is unknown"),
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
