//! A virtio-9p device as a 9P [`Channel`]: one request out, one reply back, over the
//! device's single virtqueue.
//!
//! Each `round_trip` holds the device lock from submit to reply, so callers are serialised
//! and the virtqueue never holds more than one request: the simple, correct first step.

use alloc::string::String;

use spin::Mutex;
use vfs_core::errno::{Errno, Result};
use vfs_core::p9::Channel;
use virtio_drivers::Hal;
use virtio_drivers::device::virtio_9p::VirtIO9p;
use virtio_drivers::transport::SomeTransport;

/// QEMU's 9p server accepts up to 512 KiB messages through virtio (and Linux clamps its
/// own msize to 512000 for the same reason).
const MAX_MESSAGE_SIZE: u32 = 512 * 1024;

pub struct Virtio9pChannel<H: Hal> {
    device: Mutex<VirtIO9p<H, SomeTransport<'static>>>,
    tag: String,
    requests: core::sync::atomic::AtomicU64,
}

impl<H: Hal> Virtio9pChannel<H> {
    /// Initialises the device on `transport` (which must be a 9p device) and reads its tag.
    pub fn new(transport: SomeTransport<'static>) -> core::result::Result<Self, virtio_drivers::Error> {
        let device = VirtIO9p::new(transport)?;
        let tag = String::from(device.mount_tag());
        Ok(Self { device: Mutex::new(device), tag, requests: core::sync::atomic::AtomicU64::new(0) })
    }

    /// Requests sent so far (for the boot log and benchmarks).
    pub fn requests(&self) -> u64 {
        self.requests.load(core::sync::atomic::Ordering::Relaxed)
    }

    /// The device's mount tag (QEMU: `mount_tag=`): how the kernel tells the root share from
    /// the bind mounts.
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

impl<H: Hal> Channel for Virtio9pChannel<H> {
    fn max_message_size(&self) -> u32 {
        MAX_MESSAGE_SIZE
    }

    fn round_trip(&self, request: &[u8], reply: &mut [u8]) -> Result<usize> {
        self.requests.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        let mut device = self.device.lock();
        match device.request(request, reply) {
            Ok(length) => Ok(length as usize),
            Err(error) => {
                log::warn!("virtio-9p {}: request failed: {error}", self.tag);
                Err(Errno::EIO)
            }
        }
    }
}

