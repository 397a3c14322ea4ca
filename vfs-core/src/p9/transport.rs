//! The transport below the 9P client: anything that carries requests to a 9P server and
//! brings their replies back. The kernel's virtio-9p driver implements it; host tests
//! implement it over an in-process server.
//!
//! Two ways through it. The synchronous `round_trip*` calls carry one request and wait for
//! its reply in buffers the caller lends (reads and writes use them, so data lands in and
//! leaves from the caller's own buffer). The queued calls (`submit`, `complete`) hand the
//! transport owned buffers, so many requests can be outstanding at once (9P's tags allow
//! it, and a server such as QEMU's serves them on several threads) and the client takes
//! their replies as they come, in any order. A transport that can hold only one request
//! (the defaults here) completes each at submission.

use crate::errno::{Errno, Result};
use alloc::vec::Vec;

/// One queued request and the room for its reply, owned by the transport from
/// [`Transport::submit`] until [`Transport::complete`] hands it back: a device may write
/// the reply at any moment in between.
#[derive(Debug, Default)]
pub struct Exchange {
    /// The whole framed request.
    pub request: Vec<u8>,
    /// Room for the reply; its length is the most the server may write.
    pub reply: Vec<u8>,
    /// Bytes of `reply` the server wrote (set by the transport).
    pub reply_len: usize,
}

/// The transport's handle on a submitted request.
#[derive(Debug)]
pub struct Ticket(TicketState);

#[derive(Debug)]
enum TicketState {
    /// Finished at submission (a transport without a queue).
    Done(Result<Exchange>),
    /// Queued under this number (unique for the transport's life).
    Queued(u64),
}

impl Ticket {
    /// A request still on its way, known to the transport as `id`.
    pub fn queued(id: u64) -> Ticket {
        Ticket(TicketState::Queued(id))
    }

    /// A request the transport already finished.
    pub fn done(result: Result<Exchange>) -> Ticket {
        Ticket(TicketState::Done(result))
    }

    /// The number of a queued request; `None` for one finished at submission.
    pub fn id(&self) -> Option<u64> {
        match self.0 {
            TicketState::Queued(id) => Some(id),
            TicketState::Done(_) => None,
        }
    }

    /// The result of a request finished at submission, or the ticket back.
    pub fn into_done(self) -> core::result::Result<Result<Exchange>, Ticket> {
        match self.0 {
            TicketState::Done(result) => Ok(result),
            TicketState::Queued(_) => Err(self),
        }
    }
}

/// What waiting for a queued request ended with.
#[derive(Debug)]
pub enum Completion {
    /// The server answered (or, after a `Tflush`, gave the buffers back unanswered:
    /// `reply_len` 0).
    Done(Exchange),
    /// The wait was interrupted (a signal for the waiting task) before the reply came:
    /// the request is still outstanding and `Ticket` still names it. The client flushes
    /// it and waits again without interruption.
    Interrupted(Ticket),
    /// The transport failed: the request's fate on the server is unknown.
    Failed(Errno),
}

/// One 9P transport: a virtio-9p device in the kernel, a socket to a server in tests.
pub trait Transport: Send + Sync {
    /// Largest message (request or reply) the transport can carry; the client negotiates
    /// msize no larger than this.
    fn max_message_size(&self) -> u32;
    /// Sends one whole request message and waits for its reply, written into `reply`;
    /// returns the reply's length. Transport failures are `EIO`.
    fn round_trip(&self, request: &[u8], reply: &mut [u8]) -> Result<usize>;

    /// Like `round_trip`, with the reply split: its first `header.len()` bytes go to
    /// `header` and the rest to `payload`, so a read's data lands straight in the caller's
    /// buffer. Returns the reply's whole length. A transport that can scatter (virtio) does
    /// it in place; this default goes through a bounce buffer.
    fn round_trip_split(
        &self,
        request: &[u8],
        header: &mut [u8],
        payload: &mut [u8],
    ) -> Result<usize> {
        // Room for any reply, so an overlong one is caught here as EIO, not cut short.
        let room = (self.max_message_size() as usize).max(header.len() + payload.len());
        let mut reply = alloc::vec![0u8; room];
        let length = self.round_trip(request, &mut reply)?;
        if length > header.len() + payload.len() {
            return Err(Errno::EIO);
        }
        let in_header = length.min(header.len());
        header[..in_header].copy_from_slice(&reply[..in_header]);
        if length > header.len() {
            let rest = length - header.len();
            payload
                .get_mut(..rest)
                .ok_or(Errno::EIO)?
                .copy_from_slice(&reply[header.len()..length]);
        }
        Ok(length)
    }

    /// Like `round_trip`, with the request in two pieces sent as one message: a write's
    /// data goes out from the caller's buffer without being copied behind its header. The
    /// default joins the pieces first.
    fn round_trip_gather(&self, header: &[u8], payload: &[u8], reply: &mut [u8]) -> Result<usize> {
        let mut request = Vec::with_capacity(header.len() + payload.len());
        request.extend_from_slice(header);
        request.extend_from_slice(payload);
        self.round_trip(&request, reply)
    }

    /// Queues `exchanges` (in order) and lets the server know once, so a batch costs one
    /// notification; one ticket (or error) per exchange, in the same order. The default
    /// performs each round trip at once.
    fn submit(&self, exchanges: Vec<Exchange>) -> Vec<Result<Ticket>> {
        exchanges
            .into_iter()
            .map(|mut exchange| {
                let result = self.round_trip(&exchange.request, &mut exchange.reply);
                Ok(Ticket::done(result.map(|length| {
                    exchange.reply_len = length;
                    exchange
                })))
            })
            .collect()
    }

    /// Waits for the reply to a submitted request. An `interruptible` wait may end early
    /// with [`Completion::Interrupted`]; an uninterruptible one never does.
    fn complete(&self, ticket: Ticket, interruptible: bool) -> Completion {
        let _ = interruptible;
        match ticket.into_done() {
            Ok(Ok(exchange)) => Completion::Done(exchange),
            Ok(Err(errno)) => Completion::Failed(errno),
            // A transport that queues overrides this method.
            Err(_) => Completion::Failed(Errno::EIO),
        }
    }
}
