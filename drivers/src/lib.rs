//! drivers: the devices the sandbox kernel talks to, above the kernel's `arch` layer and below
//! its filesystems.
//!
//! Today: virtio device discovery on both machines we boot (virtio-mmio slots on `microvm`,
//! virtio-pci on `q35`) and the virtio-9p device as a [`vfs_core::p9::Transport`]. The
//! transports and virtqueues are the `virtio-drivers` crate's; what is ours is finding the
//! devices and the 9p channel. The kernel supplies memory through a `virtio_drivers::Hal`.
//!
//! `unsafe` here is limited to device-register access (MMIO headers, PCI configuration
//! ports), each with a `// SAFETY:` line.
#![no_std]

extern crate alloc;

pub mod virtio;
pub mod virtio_9p;
