//! drivers: virtio transports and devices for the sandbox kernel (filled by the virtio-9p issue).
#![no_std]
