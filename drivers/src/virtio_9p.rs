//! A virtio-9p device as a 9P [`P9Transport`] (the 9P client's transport trait, not a
//! virtio transport): requests out and replies back over the device's one virtqueue,
//! many outstanding at once.
//!
//! Two kinds of request share the queue:
//! - queued ones ([`P9Transport::submit`]) carry owned buffers, kept here by the head
//!   descriptor the queue gave them until the device hands them back; whoever looks at
//!   the used ring first moves every finished one to `done`, where its caller finds it, so
//!   replies are taken in whatever order the device (QEMU serves requests on several
//!   threads) finishes them;
//! - lent ones (the `round_trip*` calls) carry the caller's own buffers: a read's reply
//!   gets two, its 11-byte header then the caller's buffer, so the server writes the data
//!   where it is wanted and nothing is copied (Linux's v9fs "zero copy"); a write's
//!   request likewise leaves as its header plus the caller's buffer. Only the lender can
//!   take such a chain off the used ring (it alone has the buffers to name), so it waits
//!   for it and never returns before: the device may write its buffers until then.
//!
//! The used ring hands chains back in order; one lent chain at its head waits for its
//! lender, who is always waiting for it. The device lock is taken only to add or take
//! chains, never across a wait. A wait first polls the used ring a little (a reply that
//! is already on its way costs no interrupt), then, once the kernel has routed the
//! device's interrupt ([`Virtio9pChannel::use_interrupts`]) and set a wait hook
//! ([`set_wait_hook`]), halts its CPU until an interrupt instead of spinning: under TCG
//! a spinning vCPU takes the host core QEMU's 9p workers need to answer. The waiting
//! thread keeps its CPU (it is not switched away from): the VFS calls filesystems with
//! spin locks held (a directory's children lock), and another thread run there could
//! spin on that lock forever on a CPU that never preempts kernel code.
//!
//! Sleeping without losing a wake-up: the hook makes its CPU findable by the interrupt
//! handler first, then calls back ([`Virtio9pChannel::ready`]), which acknowledges the
//! device's interrupt and then looks at the used ring; only if nothing is there does the
//! CPU halt (interrupts are off until the `hlt`). A reply the device adds after that
//! look raises a new edge (the line was acknowledged), whose handler kicks every waiting
//! CPU. Each wake-up looks at the ring again, and the timer's tick ends every halt, so a
//! lost or late interrupt delays a request by one tick at most, never forever.
//!
//! Why not `virtio-drivers`' `VirtIO9p`: one request at a time, one reply buffer. The
//! queue, transports and feature negotiation are still the crate's.
//!
//! Locks: the device lock only (a leaf: no other lock is taken under it).

use alloc::string::String;
use alloc::vec::Vec;

use core::sync::atomic::{AtomicBool, Ordering};

use spin::{Mutex, Once};
use vfs_core::errno::{Errno, Result};
use vfs_core::p9::{Completion, Exchange, Ticket, Transport as P9Transport};
use virtio_drivers::Hal;
use virtio_drivers::device::common::Feature;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::{SomeTransport, Transport};

const QUEUE: u16 = 0;
/// QEMU's virtio-9p queue holds 128 requests (its `MAX_REQ`); with indirect descriptors
/// each request takes one slot.
const QUEUE_SIZE: usize = 128;
const HEADER_SIZE: usize = 7;

/// What a descriptor chain on the queue carries.
enum InFlight {
    /// A queued request's own buffers.
    Owned { ticket: u64, exchange: Exchange },
    /// A lender's buffers, named by its ticket.
    Lent { ticket: u64 },
}

/// The device: its transport, its request queue, and the chains on it.
struct Device<H: Hal> {
    transport: SomeTransport<'static>,
    queue: VirtQueue<H, QUEUE_SIZE>,
    /// By head descriptor (the queue's token).
    in_flight: Vec<Option<InFlight>>,
    /// Queued requests the device answered, until their callers take them.
    done: Vec<(u64, Exchange)>,
    next_ticket: u64,
    /// The device handed back a chain we never gave it: it is broken, every wait fails.
    broken: bool,
}

/// How a waiter sleeps until the device may have something for it: the hook makes the
/// CPU wakeable by the device's interrupt, then calls `ready` and sleeps only if it says
/// no. It returns on any interrupt (the waiter looks again). Without one, waits spin.
pub type WaitHook = fn(ready: &dyn Fn() -> bool);

static WAIT_HOOK: Once<WaitHook> = Once::new();

/// Sets how waits sleep (once; later calls are ignored).
pub fn set_wait_hook(hook: WaitHook) {
    WAIT_HOOK.call_once(|| hook);
}

/// Looks at the used ring this many times before sleeping: under KVM a reply often comes
/// within a few microseconds, sooner than an interrupt would be taken.
const POLLS_BEFORE_SLEEP: u32 = 16;

impl<H: Hal> Device<H> {
    fn new(
        mut transport: SomeTransport<'static>,
    ) -> core::result::Result<(Self, String), virtio_drivers::Error> {
        // No event index: with it, the device interrupts only past the index the driver
        // last popped, so a reply behind another lender's chain (not popped yet) would
        // raise nothing and its waiter would sleep to the next tick.
        let supported = Feature::RING_INDIRECT_DESC | Feature::VERSION_1;
        let features = transport.begin_init(supported);
        let queue = VirtQueue::new(
            &mut transport,
            QUEUE,
            features.contains(Feature::RING_INDIRECT_DESC),
            features.contains(Feature::RING_EVENT_IDX),
        )?;
        transport.finish_init();
        let tag = read_mount_tag(&transport)?;
        let mut in_flight = Vec::new();
        in_flight.resize_with(QUEUE_SIZE, || None);
        Ok((
            Self {
                transport,
                queue,
                in_flight,
                done: Vec::new(),
                next_ticket: 0,
                broken: false,
            },
            tag,
        ))
    }

    fn new_ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }

    /// Tells the device there is work. Always: `VirtQueue::should_notify` compares ring
    /// indices without wrapping, so once 16-bit `avail_idx` wraps past the device's
    /// `avail_event` in the middle of a batch it says no, and the device would never look.
    fn notify(&mut self) {
        self.transport.notify(QUEUE);
    }

    /// Puts an owned request on the queue (not notified yet).
    fn add_owned(
        &mut self,
        mut exchange: Exchange,
    ) -> core::result::Result<u64, (Exchange, virtio_drivers::Error)> {
        if exchange.request.is_empty() || exchange.reply.len() < HEADER_SIZE {
            return Err((exchange, virtio_drivers::Error::InvalidParam));
        }
        let inputs = [&exchange.request[..]];
        let mut outputs = [&mut exchange.reply[..]];
        // SAFETY: the buffers live in `exchange`, which is kept in `in_flight` (moving the
        // `Vec`s does not move their heap buffers) and neither read nor written until
        // `reap` pops this token with the same buffers.
        let token = match unsafe { self.queue.add(&inputs, &mut outputs) } {
            Ok(token) => token,
            Err(error) => return Err((exchange, error)),
        };
        let ticket = self.new_ticket();
        self.in_flight[usize::from(token)] = Some(InFlight::Owned { ticket, exchange });
        Ok(ticket)
    }

    /// Takes every finished chain off the used ring up to the first lent one that is not
    /// `lent`'s (its lender takes it). `lent`: the caller's own lent chain, its ticket and
    /// buffers; returns its used length once taken.
    fn reap(&mut self, mut lent: Option<&mut Lent<'_, '_>>) -> Option<u32> {
        let mut lent_length = None;
        while let Some(token) = self.queue.peek_used() {
            let slot = usize::from(token);
            match self.in_flight.get(slot) {
                Some(Some(InFlight::Owned { .. })) => {
                    let Some(InFlight::Owned {
                        ticket,
                        mut exchange,
                    }) = self.in_flight[slot].take()
                    else {
                        unreachable!("checked just above");
                    };
                    let inputs = [&exchange.request[..]];
                    let mut outputs = [&mut exchange.reply[..]];
                    // SAFETY: the buffers `add_owned` queued under this token.
                    let used = unsafe { self.queue.pop_used(token, &inputs, &mut outputs) };
                    match used {
                        Ok(used) => {
                            exchange.reply_len = used as usize;
                            self.done.push((ticket, exchange));
                        }
                        Err(error) => {
                            log::warn!("virtio-9p: used ring: {error}");
                            self.broken = true;
                            return lent_length;
                        }
                    }
                }
                Some(Some(InFlight::Lent { ticket }))
                    if lent.as_ref().is_some_and(|lent| lent.ticket == *ticket) =>
                {
                    let lent = lent.take().expect("checked just above");
                    self.in_flight[slot] = None;
                    lent.ticket = 0;
                    // SAFETY: the lender's buffers, the ones `lend` queued under this token.
                    match unsafe { lent.pop(&mut self.queue, token) } {
                        Ok(used) => lent_length = Some(used),
                        Err(error) => {
                            log::warn!("virtio-9p: used ring: {error}");
                            self.broken = true;
                            return lent_length;
                        }
                    }
                }
                // Another lender's chain: it takes it itself.
                Some(Some(InFlight::Lent { .. })) => return lent_length,
                _ => {
                    log::warn!(
                        "virtio-9p: the device used descriptor {token}, which we never queued"
                    );
                    self.broken = true;
                    return lent_length;
                }
            }
        }
        lent_length
    }
}

/// A lender's chain: its ticket and buffers, as `add` was given them.
struct Lent<'b, 'p> {
    ticket: u64,
    request: &'b [u8],
    request_tail: &'b [u8],
    header: &'b mut [u8],
    payload: Option<&'p mut [u8]>,
}

impl Lent<'_, '_> {
    /// Hands the buffers to `use_them` as the queue takes them: the request (and its
    /// tail), then the reply's header (and payload).
    fn with_buffers<R>(
        &mut self,
        use_them: impl for<'x> FnOnce(&'x [&'x [u8]], &'x mut [&'x mut [u8]]) -> R,
    ) -> R {
        let both = [self.request, self.request_tail];
        let inputs: &[&[u8]] = if self.request_tail.is_empty() {
            &both[..1]
        } else {
            &both
        };
        match self.payload.as_deref_mut() {
            Some(payload) => use_them(inputs, &mut [&mut *self.header, payload]),
            None => use_them(inputs, &mut [&mut *self.header]),
        }
    }

    /// Queues the buffers; returns the token.
    ///
    /// # Safety
    /// The buffers must stay valid and untouched until [`Lent::pop`] takes the token.
    unsafe fn add<H: Hal>(
        &mut self,
        queue: &mut VirtQueue<H, QUEUE_SIZE>,
    ) -> core::result::Result<u16, virtio_drivers::Error> {
        // SAFETY: the caller keeps the buffers until `pop`.
        self.with_buffers(|inputs, outputs| unsafe { queue.add(inputs, outputs) })
    }

    /// # Safety
    /// `token` must be the one [`Lent::add`] returned for these buffers.
    unsafe fn pop<H: Hal>(
        &mut self,
        queue: &mut VirtQueue<H, QUEUE_SIZE>,
        token: u16,
    ) -> core::result::Result<u32, virtio_drivers::Error> {
        // SAFETY: the caller passes the token these buffers were queued under.
        self.with_buffers(|inputs, outputs| unsafe { queue.pop_used(token, inputs, outputs) })
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
    /// The device's interrupt reaches a CPU: waits may sleep.
    interrupts: AtomicBool,
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
            interrupts: AtomicBool::new(false),
        })
    }

    /// The kernel routed the device's interrupt to a CPU whose handler wakes the waiters
    /// the wait hook recorded: from now on waits sleep rather than spin.
    pub fn use_interrupts(&self) {
        self.interrupts.store(true, Ordering::Release);
    }

    /// Whether the used ring has something (or the device broke): acknowledges the
    /// device's interrupt first, so a reply added after this look raises a new one.
    fn ready(&self) -> bool {
        let mut device = self.device.lock();
        device.transport.ack_interrupt();
        device.broken || device.queue.can_pop()
    }

    /// Waits until the used ring may hold something new: polls a little, then sleeps
    /// through the hook when the interrupt is routed (see the module's notes).
    fn wait(&self) {
        let hook = WAIT_HOOK
            .get()
            .filter(|_| self.interrupts.load(Ordering::Acquire));
        let Some(hook) = hook else {
            core::hint::spin_loop();
            return;
        };
        for _ in 0..POLLS_BEFORE_SLEEP {
            let device = self.device.lock();
            if device.broken || device.queue.can_pop() {
                return;
            }
            drop(device);
            core::hint::spin_loop();
        }
        hook(&|| self.ready());
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

    /// One lent request: queued, then waited for until its lender takes it back.
    fn exchange(&self, mut lent: Lent<'_, '_>) -> Result<usize> {
        if lent.request.is_empty() || lent.header.len() < HEADER_SIZE {
            return Err(Errno::EINVAL);
        }
        self.requests
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        let room = lent.header.len() + lent.payload.as_ref().map_or(0, |payload| payload.len());
        loop {
            let mut device = self.device.lock();
            if device.broken {
                return Err(Errno::EIO);
            }
            // SAFETY: this function does not return until `reap` has popped the token
            // (below), so the lent buffers stay valid and untouched until then.
            match unsafe { lent.add(&mut device.queue) } {
                Ok(token) => {
                    let ticket = device.new_ticket();
                    lent.ticket = ticket;
                    device.in_flight[usize::from(token)] = Some(InFlight::Lent { ticket });
                    device.notify();
                    break;
                }
                Err(virtio_drivers::Error::QueueFull) => {
                    device.reap(None);
                    device.notify();
                }
                Err(error) => {
                    log::warn!("virtio-9p {}: request failed: {error}", self.tag);
                    return Err(Errno::EIO);
                }
            }
            drop(device);
            self.wait();
        }
        // The buffers are the device's until reaped: wait without interruption, and even
        // a broken device is waited for (returning would free what it may still write).
        loop {
            let mut device = self.device.lock();
            if let Some(used) = device.reap(Some(&mut lent)) {
                return if used as usize > room {
                    log::warn!("virtio-9p {}: reply of {used} bytes in {room}", self.tag);
                    Err(Errno::EIO)
                } else {
                    Ok(used as usize)
                };
            }
            drop(device);
            self.wait();
        }
    }
}

impl<H: Hal> P9Transport for Virtio9pChannel<H> {
    fn max_message_size(&self) -> u32 {
        MAX_MESSAGE_SIZE
    }

    fn round_trip(&self, request: &[u8], reply: &mut [u8]) -> Result<usize> {
        self.exchange(Lent {
            ticket: 0,
            request,
            request_tail: &[],
            header: reply,
            payload: None,
        })
    }

    fn round_trip_split(
        &self,
        request: &[u8],
        header: &mut [u8],
        payload: &mut [u8],
    ) -> Result<usize> {
        self.exchange(Lent {
            ticket: 0,
            request,
            request_tail: &[],
            header,
            payload: (!payload.is_empty()).then_some(payload),
        })
    }

    fn round_trip_gather(&self, header: &[u8], payload: &[u8], reply: &mut [u8]) -> Result<usize> {
        self.exchange(Lent {
            ticket: 0,
            request: header,
            request_tail: payload,
            header: reply,
            payload: None,
        })
    }

    /// Queues the whole batch, then notifies the device once. A full queue is made room
    /// in by taking finished requests off it (their callers find them in `done`).
    fn submit(&self, exchanges: Vec<Exchange>) -> Vec<Result<Ticket>> {
        self.requests.fetch_add(
            exchanges.len() as u64,
            core::sync::atomic::Ordering::Relaxed,
        );
        let mut tickets = Vec::with_capacity(exchanges.len());
        let mut device = self.device.lock();
        for exchange in exchanges {
            let mut exchange = exchange;
            loop {
                if device.broken {
                    tickets.push(Err(Errno::EIO));
                    break;
                }
                match device.add_owned(exchange) {
                    Ok(ticket) => {
                        tickets.push(Ok(Ticket::queued(ticket)));
                        break;
                    }
                    Err((back, virtio_drivers::Error::QueueFull)) => {
                        exchange = back;
                        device.notify();
                        device.reap(None);
                        drop(device);
                        self.wait();
                        device = self.device.lock();
                    }
                    Err((_, error)) => {
                        log::warn!("virtio-9p {}: request not queued: {error}", self.tag);
                        tickets.push(Err(Errno::EIO));
                        break;
                    }
                }
            }
        }
        device.notify();
        tickets
    }

    /// Never interrupted: waits do not look at signals (no wait hook ever did), so an
    /// `interruptible` wait runs to its reply as an uninterruptible one does.
    fn complete(&self, ticket: Ticket, _interruptible: bool) -> Completion {
        let Some(id) = ticket.id() else {
            return match ticket.into_done() {
                Ok(Ok(exchange)) => Completion::Done(exchange),
                Ok(Err(errno)) => Completion::Failed(errno),
                Err(_) => Completion::Failed(Errno::EIO),
            };
        };
        loop {
            let mut device = self.device.lock();
            device.reap(None);
            if let Some(index) = device.done.iter().position(|(done, _)| *done == id) {
                return Completion::Done(device.done.swap_remove(index).1);
            }
            let queued = device
                .in_flight
                .iter()
                .any(|slot| matches!(slot, Some(InFlight::Owned { ticket, .. }) if *ticket == id));
            if !queued || device.broken {
                // A broken device's buffers stay with the queue: it may still write them.
                return Completion::Failed(Errno::EIO);
            }
            drop(device);
            self.wait();
        }
    }
}
