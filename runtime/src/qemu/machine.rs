//! Machine profiles: the one place that says how each QEMU machine is configured.

use std::fmt;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Machine {
    /// QEMU microvm with qboot: no PCI, virtio-mmio, fastest to boot.
    Microvm,
    /// QEMU q35 with SeaBIOS: PCI, virtio-pci.
    Q35,
}

impl Machine {
    pub const ALL: [Machine; 2] = [Machine::Microvm, Machine::Q35];

    pub fn name(self) -> &'static str {
        match self {
            Machine::Microvm => "microvm",
            Machine::Q35 => "q35",
        }
    }

    /// The `-machine` value. microvm drops every legacy device the kernel does not use
    /// (option ROMs, PIT, PIC, RTC) because each costs boot time; it keeps the ISA
    /// serial port, which is our console.
    pub fn machine_option(self) -> &'static str {
        match self {
            Machine::Microvm => "microvm,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on",
            Machine::Q35 => "q35",
        }
    }
}

impl Machine {
    /// The virtio-9p device model on this machine's virtio transport.
    pub fn nine_p_device(self) -> &'static str {
        match self {
            Machine::Microvm => "virtio-9p-device",
            Machine::Q35 => "virtio-9p-pci",
        }
    }

    /// The virtio-serial (virtio-console) device model on this machine's transport: the
    /// runtime's control channel is its port 0.
    pub fn serial_device(self) -> &'static str {
        match self {
            Machine::Microvm => "virtio-serial-device",
            Machine::Q35 => "virtio-serial-pci",
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Arguments every profile shares: no default devices or user config (so the machine is
/// what we say, nothing more), the console on stdio, and the isa-debug-exit port through
/// which the kernel hands its exit status to QEMU. `-no-reboot` turns a triple fault into
/// an exit instead of a reboot loop.
pub const COMMON_ARGS: &[&str] = &[
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
    "-device",
    "isa-debug-exit,iobase=0xf4,iosize=0x04",
];
