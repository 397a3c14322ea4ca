//! A virtio-9p device as a 9P [`P9Transport`] (the 9P client's transport trait, not a
//! virtio transport): one request out, one reply back, over the device's single virtqueue.
//!
//! Each round trip holds the device lock from submit to reply, so callers are serialised
//! and the virtqueue never holds more than one request.
//!
//! Why not `virtio-drivers`' `VirtIO9p`: it gives a reply one buffer. A read's reply here
//! gets two — its 11-byte header, then the caller's own buffer — so the server writes the
//! data where it is wanted and the client copies nothing (Linux's v9fs "zero copy"); a
//! write's request likewise leaves as its header plus the caller's buffer.
//! The queue, transports and feature negotiation are still the crate's.

use alloc::string::String;
use alloc::vec::Vec;

use spin::Mutex;
use vfs_core::errno::{Errno, Result};
use vfs_core::p9::Transport as P9Transport;
use virtio_drivers::Hal;
use virtio_drivers::device::common::Feature;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::{SomeTransport, Transport};

const QUEUE: u16 = 0;
const QUEUE_SIZE: usize = 16;
const HEADER_SIZE: usize = 7;

/// The device: its transport and its one request queue.
struct Device<H: Hal> {
    transport: SomeTransport<'static>,
    queue: VirtQueue<H, QUEUE_SIZE>,
}

impl<H: Hal> Device<H> {
    fn new(
        mut transport: SomeTransport<'static>,
    ) -> core::result::Result<(Self, String), virtio_drivers::Error> {
        let supported = Feature::RING_INDIRECT_DESC | Feature::RING_EVENT_IDX | Feature::VERSION_1;
        let features = transport.begin_init(supported);
        let queue = VirtQueue::new(
            &mut transport,
            QUEUE,
            features.contains(Feature::RING_INDIRECT_DESC),
            features.contains(Feature::RING_EVENT_IDX),
        )?;
        transport.finish_init();
        let tag = read_mount_tag(&transport)?;
        Ok((Self { transport, queue }, tag))
    }

    /// Sends `request` (then `request_tail`, if not empty, as the same message); the reply
    /// fills `header`, then `payload` if there is one. Returns the reply's length.
    fn request(
        &mut self,
        request: &[u8],
        request_tail: &[u8],
        header: &mut [u8],
        payload: Option<&mut [u8]>,
    ) -> core::result::Result<usize, virtio_drivers::Error> {
        if request.is_empty() || header.len() < HEADER_SIZE {
            return Err(virtio_drivers::Error::InvalidParam);
        }
        let used = {
            let both = [request, request_tail];
            let inputs: &[&[u8]] = if request_tail.is_empty() {
                &both[..1]
            } else {
                &both
            };
            match payload {
                Some(payload) => self.queue.add_notify_wait_pop(
                    inputs,
                    &mut [&mut *header, payload],
                    &mut self.transport,
                )?,
                None => self.queue.add_notify_wait_pop(
                    inputs,
                    &mut [&mut *header],
                    &mut self.transport,
                )?,
            }
        };
        let size = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        if size != used {
            log::warn!("virtio-9p: reply size field {size} but the device wrote {used} bytes");
            return Err(virtio_drivers::Error::IoError);
        }
        Ok(used as usize)
    }
}

/// The mount tag from the device's configuration space (length, then bytes).
fn read_mount_tag<T: Transport>(
    transport: &T,
) -> core::result::Result<String, virtio_drivers::Error> {
    transport.read_consistent(|| {
        let length: u16 = transport.read_config_space(0)?;
        if length == 0 {
            return Err(virtio_drivers::Error::InvalidParam);
        }
        let mut bytes = Vec::with_capacity(usize::from(length));
        for index in 0..usize::from(length) {
            bytes.push(transport.read_config_space::<u8>(2 + index)?);
        }
        Ok(String::from_utf8(bytes)?)
    })
}

/// QEMU's 9p server accepts up to 512 KiB messages through virtio (and Linux clamps its
/// own msize to 512000 for the same reason).
const MAX_MESSAGE_SIZE: u32 = 512 * 1024;

pub struct Virtio9pChannel<H: Hal> {
    device: Mutex<Device<H>>,
    tag: String,
    requests: core::sync::atomic::AtomicU64,
}

impl<H: Hal> Virtio9pChannel<H> {
    /// Initialises the device on `transport` (which must be a 9p device) and reads its tag.
    pub fn new(
        transport: SomeTransport<'static>,
    ) -> core::result::Result<Self, virtio_drivers::Error> {
        let (device, tag) = Device::new(transport)?;
        Ok(Self {
            device: Mutex::new(device),
            tag,
            requests: core::sync::atomic::AtomicU64::new(0),
        })
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

impl<H: Hal> P9Transport for Virtio9pChannel<H> {
    fn max_message_size(&self) -> u32 {
        MAX_MESSAGE_SIZE
    }

    fn round_trip(&self, request: &[u8], reply: &mut [u8]) -> Result<usize> {
        self.exchange(request, &[], reply, None)
    }

    fn round_trip_split(
        &self,
        request: &[u8],
        header: &mut [u8],
        payload: &mut [u8],
    ) -> Result<usize> {
        let payload = (!payload.is_empty()).then_some(payload);
        self.exchange(request, &[], header, payload)
    }

    fn round_trip_gather(&self, header: &[u8], payload: &[u8], reply: &mut [u8]) -> Result<usize> {
        self.exchange(header, payload, reply, None)
    }
}

impl<H: Hal> Virtio9pChannel<H> {
    fn exchange(
        &self,
        request: &[u8],
        request_tail: &[u8],
        header: &mut [u8],
        payload: Option<&mut [u8]>,
    ) -> Result<usize> {
        self.requests
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        let mut device = self.device.lock();
        device
            .request(request, request_tail, header, payload)
            .map_err(|error| {
                log::warn!("virtio-9p {}: request failed: {error}", self.tag);
                Errno::EIO
            })
    }
}
