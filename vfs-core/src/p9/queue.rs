//! The client's queued exchanges: requests handed to the transport with owned buffers,
//! several outstanding at once, their replies taken as they come (the transport keeps the
//! ones that arrive before they are asked for). One request is a batch of one.
//!
//! What happens to a tag:
//! - given back once the transport handed the request's buffers back, whatever the reply
//!   said (a reply naming another tag, malformed, or an error): the server is done with it;
//!   also when the transport failed (a virtio device that broke fails every request after);
//! - an interrupted wait sends `Tflush` for the tag and waits, without interruption, for
//!   the flush and for the original request's buffers: a request the server answered
//!   before it saw the flush took effect and keeps its reply (the caller sees its result
//!   and the fid books stay right); one it dropped is `EINTR`, having done nothing.
//!
//! Memory: the buffers of an exchange a container drives (a read's reply room of msize,
//! a write's request as large as its data) are charged to the client's budget (the
//! mount's, see [`Client::charge_to`]) before they are allocated, and allocated fallibly:
//! many processes reading and writing 9p at once meet `ENOMEM`, not the end of the heap.
//! The charge is held until the exchange is over. What the pools keep for reuse (a few
//! reply buffers, the first of them the version exchange's, and small request buffers)
//! is the kernel's own, bounded, and uncharged: one request at a time never charges
//! anything. A large request buffer is not kept, so a burst of big writes leaves nothing
//! behind.
//!
//! Locks: `tags`, `buffers` and `budget` of the client, each a leaf taken and released
//! around one step, never across a wait (see `client.rs`).

use super::client::{Client, Failure, errno_from_server};
use super::message::Reply;
use super::message::Request;
use super::transport::{Completion, Exchange, Ticket};
use crate::budget::Charge;
use crate::errno::Errno;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

/// Most requests one batch keeps outstanding at once: enough to keep a server's worker
/// threads busy; under the virtio-9p queue and QEMU's 128 requests per device.
pub const WINDOW: usize = 96;
/// Reply room for every request whose reply is bounded: the largest is a 16-name `Rwalk`
/// (9 + 16 × 13 bytes); `Rgetattr` is 160.
const SMALL_REPLY: usize = 256;
const POOLED_REQUESTS: usize = WINDOW;
const POOLED_SMALL: usize = WINDOW;
/// Replies that may be as large as msize (reads, directory reads) hold half a megabyte
/// each: only a few are kept.
const POOLED_LARGE: usize = 4;
/// Request buffers up to this capacity are kept for reuse; larger ones (writes) are not.
const POOLED_REQUEST_BYTES: usize = 4096;
/// Room for a request's header and fields besides its data (the largest fixed part, a
/// `Tsetattr`, is well under it; names are bounded by `NAME_MAX` and paths by the data).
const REQUEST_HEADER_ROOM: usize = 512;

/// Buffers kept for reuse, so a request neither allocates nor zeroes its reply room.
#[derive(Default)]
pub struct Buffers {
    requests: Vec<Vec<u8>>,
    small: Vec<Vec<u8>>,
    large: Vec<Vec<u8>>,
}

impl Buffers {
    /// Pools holding `reply`, a reply buffer of msize bytes.
    pub fn with_large_reply(reply: Vec<u8>) -> Buffers {
        Buffers {
            large: alloc::vec![reply],
            ..Buffers::default()
        }
    }
}

/// A request the transport holds.
struct Sent {
    tag: u16,
    type_code: u8,
    ticket: Ticket,
    /// What its buffers cost the budget, until it is over.
    _charge: Option<Charge>,
}

/// The bytes a request's encoding may take beyond a pooled buffer's: its data.
fn request_data_len(request: &Request<'_>) -> usize {
    match request {
        Request::Write { data, .. } => data.0.len(),
        _ => 0,
    }
}

/// Whether a request's reply may need the whole msize.
fn needs_large_reply(request: &Request<'_>) -> bool {
    matches!(
        request,
        Request::Version { .. }
            | Request::Read { .. }
            | Request::Readdir { .. }
            | Request::Readlink { .. }
    )
}

/// `size` zeroed bytes, or `ENOMEM` when the heap has no room.
fn zeroed(size: usize) -> crate::errno::Result<Vec<u8>> {
    let mut buffer = Vec::new();
    buffer.try_reserve_exact(size).map_err(|_| Errno::ENOMEM)?;
    buffer.resize(size, 0);
    Ok(buffer)
}

impl Client {
    pub(super) fn take_request_buffer(&self) -> Vec<u8> {
        self.buffers.lock().requests.pop().unwrap_or_default()
    }

    /// Reply room: a pooled buffer, or a new one (of msize if `large`, charged to
    /// `charge` first). `ENOMEM` when the budget or the heap has no room.
    pub(super) fn take_reply_buffer(
        &self,
        large: bool,
        charge: &mut Option<Charge>,
    ) -> crate::errno::Result<Vec<u8>> {
        let pooled = {
            let mut buffers = self.buffers.lock();
            if large {
                buffers.large.pop()
            } else {
                buffers.small.pop()
            }
        };
        if let Some(buffer) = pooled {
            return Ok(buffer);
        }
        let size = if large {
            self.charge_buffer(charge, self.msize as usize)?;
            self.msize as usize
        } else {
            SMALL_REPLY
        };
        zeroed(size)
    }

    /// Adds `bytes` to `charge` (made on the client's budget if there is none yet).
    fn charge_buffer(&self, charge: &mut Option<Charge>, bytes: usize) -> crate::errno::Result<()> {
        match charge {
            Some(charge) => charge.grow(bytes as u64)?,
            None => *charge = Some(self.budget.lock().charge(bytes as u64)?),
        }
        Ok(())
    }

    /// Keeps buffers for later requests (an empty `Vec` is not kept).
    pub(super) fn give_back(&self, mut request: Vec<u8>, reply: Vec<u8>) {
        let mut buffers = self.buffers.lock();
        if (1..=POOLED_REQUEST_BYTES).contains(&request.capacity())
            && buffers.requests.len() < POOLED_REQUESTS
        {
            request.clear();
            buffers.requests.push(request);
        }
        if reply.len() == self.msize as usize && buffers.large.len() < POOLED_LARGE {
            buffers.large.push(reply);
        } else if reply.len() == SMALL_REPLY && buffers.small.len() < POOLED_SMALL {
            buffers.small.push(reply);
        }
    }

    /// Sends `requests`, at most [`WINDOW`] outstanding at a time, and hands each success
    /// reply with its request's index to `on_reply`: one result per request, in order.
    /// Once a wait is interrupted, the requests not yet sent are not sent (`EINTR`).
    pub(super) fn exchange_all<T>(
        &self,
        requests: &[Request<'_>],
        interruptible: bool,
        mut on_reply: impl FnMut(usize, Reply<'_>) -> crate::errno::Result<T>,
    ) -> Vec<Result<T, Failure>> {
        let mut results = Vec::with_capacity(requests.len());
        let mut interrupted = false;
        for (window, chunk) in requests.chunks(WINDOW).enumerate() {
            if interrupted {
                results.extend(chunk.iter().map(|_| Err(Failure::Server(Errno::EINTR))));
                continue;
            }
            for (offset, sent) in self.send(chunk).into_iter().enumerate() {
                let index = window * WINDOW + offset;
                let result = sent.and_then(|sent| {
                    self.receive(sent, interruptible, |reply| on_reply(index, reply))
                });
                interrupted |= matches!(result, Err(Failure::Server(Errno::EINTR)));
                results.push(result);
            }
        }
        results
    }

    /// Encodes and queues `requests` in one submission.
    fn send(&self, requests: &[Request<'_>]) -> Vec<Result<Sent, Failure>> {
        let mut results: Vec<Option<Result<Sent, Failure>>> = Vec::with_capacity(requests.len());
        let mut exchanges = Vec::with_capacity(requests.len());
        // (index into results, tag, type) of what goes to the transport.
        let mut queued = Vec::with_capacity(requests.len());
        for request in requests {
            match self.prepare(request) {
                Ok((tag, exchange, charge)) => {
                    queued.push((results.len(), tag, request.type_code(), charge));
                    exchanges.push(exchange);
                    results.push(None);
                }
                Err(errno) => results.push(Some(Err(Failure::Server(errno)))),
            }
        }
        self.requests
            .fetch_add(exchanges.len() as u64, Ordering::Relaxed);
        for &(_, _, type_code, _) in &queued {
            super::counts::sent(type_code, 1);
        }
        self.submissions.fetch_add(1, Ordering::Relaxed);
        let changes = requests
            .iter()
            .filter(|request| request.changes_server())
            .count();
        if changes > 0 {
            self.changes.fetch_add(changes as u64, Ordering::Relaxed);
        }
        let tickets = self.channel.submit(exchanges);
        let mut tickets = tickets.into_iter();
        for (index, tag, type_code, charge) in queued {
            results[index] = Some(match tickets.next() {
                Some(Ok(ticket)) => Ok(Sent {
                    tag,
                    type_code,
                    ticket,
                    _charge: charge,
                }),
                // Never queued: the server saw nothing.
                Some(Err(errno)) => {
                    self.tags.lock().release(u32::from(tag));
                    Err(Failure::Server(errno))
                }
                None => {
                    self.tags.lock().release(u32::from(tag));
                    Err(Failure::Server(Errno::EIO))
                }
            });
        }
        results
            .into_iter()
            .map(|result| result.unwrap_or(Err(Failure::Server(Errno::EIO))))
            .collect()
    }

    /// A tag and the encoded request with room for its reply; an unencodable or
    /// oversized request never leaves.
    fn prepare(
        &self,
        request: &Request<'_>,
    ) -> crate::errno::Result<(u16, Exchange, Option<Charge>)> {
        // The buffers first, charged: nothing is taken if the budget refuses.
        let mut charge = None;
        let mut buffer = self.take_request_buffer();
        let room = request_data_len(request) + REQUEST_HEADER_ROOM;
        if room > buffer.capacity() {
            // Small ones are the pool's (the kernel's own); a large write's is charged.
            if room > POOLED_REQUEST_BYTES {
                self.charge_buffer(&mut charge, room)?;
            }
            buffer.try_reserve_exact(room).map_err(|_| Errno::ENOMEM)?;
        }
        let reply = self.take_reply_buffer(needs_large_reply(request), &mut charge);
        let reply = match reply {
            Ok(reply) => reply,
            Err(errno) => {
                self.give_back(buffer, Vec::new());
                return Err(errno);
            }
        };
        let Some(tag) = self.tags.lock().allocate() else {
            self.give_back(buffer, reply);
            return Err(Errno::EAGAIN);
        };
        let tag = tag as u16;
        let mut encoded = request.encode(tag, &mut buffer);
        if encoded.is_ok() && buffer.len() > self.msize as usize {
            encoded = Err(Errno::EMSGSIZE);
        }
        if let Err(errno) = encoded {
            self.give_back(buffer, reply);
            self.tags.lock().release(u32::from(tag));
            return Err(errno);
        }
        Ok((
            tag,
            Exchange {
                request: buffer,
                reply,
                reply_len: 0,
            },
            charge,
        ))
    }

    /// Waits for one sent request and checks its reply.
    fn receive<T>(
        &self,
        sent: Sent,
        interruptible: bool,
        on_reply: impl FnOnce(Reply<'_>) -> crate::errno::Result<T>,
    ) -> Result<T, Failure> {
        let exchange = match self.channel.complete(sent.ticket, interruptible) {
            Completion::Done(exchange) => exchange,
            Completion::Interrupted(ticket) => match self.flush_interrupted(sent.tag, ticket) {
                Some(exchange) if exchange.reply_len == 0 => {
                    self.give_back(exchange.request, exchange.reply);
                    self.tags.lock().release(u32::from(sent.tag));
                    return Err(Failure::Server(Errno::EINTR));
                }
                Some(exchange) => exchange,
                None => return Err(Failure::Protocol(Errno::EIO)),
            },
            Completion::Failed(errno) => {
                self.tags.lock().release(u32::from(sent.tag));
                return Err(Failure::Protocol(errno));
            }
        };
        let result = check_reply(sent.tag, sent.type_code, &exchange, on_reply);
        if matches!(result, Err(Failure::Protocol(_))) {
            self.bad_replies.fetch_add(1, Ordering::Relaxed);
        }
        self.give_back(exchange.request, exchange.reply);
        self.tags.lock().release(u32::from(sent.tag));
        result
    }

    /// After an interrupted wait for `tag`: `Tflush`, then the original request's
    /// buffers, both waited for without interruption. `None` when the transport failed
    /// (the tag is then given back).
    fn flush_interrupted(&self, tag: u16, ticket: Ticket) -> Option<Exchange> {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        if let Some(Ok(flush)) = self.send(&[Request::Flush { old_tag: tag }]).pop()
            && let Err(failure) = self.receive(flush, false, |_| Ok(()))
        {
            log::warn!("9p: flush of tag {tag} failed: {}", failure.errno());
        }
        match self.channel.complete(ticket, false) {
            Completion::Done(exchange) => Some(exchange),
            Completion::Failed(_) | Completion::Interrupted(_) => {
                self.tags.lock().release(u32::from(tag));
                None
            }
        }
    }
}

/// The reply in `exchange`, checked against the request it answers: its tag, its type
/// (the request's plus one, or `Rlerror`), its framing.
fn check_reply<T>(
    tag: u16,
    type_code: u8,
    exchange: &Exchange,
    on_reply: impl FnOnce(Reply<'_>) -> crate::errno::Result<T>,
) -> Result<T, Failure> {
    let bytes = exchange
        .reply
        .get(..exchange.reply_len)
        .ok_or(Failure::Protocol(Errno::EIO))?;
    let (reply_tag, reply) = Reply::decode(bytes).map_err(Failure::Protocol)?;
    if reply_tag != tag {
        log::warn!("9p: a reply for tag {reply_tag} came back for tag {tag}");
        return Err(Failure::Protocol(Errno::EIO));
    }
    if let Reply::Lerror { errno } = reply {
        return Err(Failure::Server(errno_from_server(errno)));
    }
    if reply.type_code() != type_code.wrapping_add(1) {
        return Err(Failure::Protocol(Errno::EIO));
    }
    on_reply(reply).map_err(Failure::Protocol)
}

#[cfg(test)]
mod tests {
    use super::super::client::VERSION;
    use super::super::message::NOTAG;
    use super::super::transport::Transport;
    use super::*;
    use crate::budget::MemoryBudget;
    use alloc::sync::Arc;

    /// A server that only negotiates: enough to make a client and prepare requests.
    struct VersionOnly;

    impl Transport for VersionOnly {
        fn max_message_size(&self) -> u32 {
            64 * 1024
        }

        fn round_trip(&self, request: &[u8], reply: &mut [u8]) -> crate::errno::Result<usize> {
            let Ok((NOTAG, Request::Version { msize, .. })) = Request::decode(request) else {
                return Err(Errno::EIO);
            };
            let mut bytes = Vec::new();
            Reply::Version {
                msize,
                version: VERSION,
            }
            .encode(NOTAG, &mut bytes)?;
            reply[..bytes.len()].copy_from_slice(&bytes);
            Ok(bytes.len())
        }
    }

    #[test]
    fn reply_rooms_past_the_pooled_one_are_charged_and_refused_past_the_budget() {
        let client = Client::connect(Arc::new(VersionOnly)).unwrap();
        let msize = u64::from(client.msize());
        let budget = MemoryBudget::new(msize + msize / 2);
        client.charge_to(&budget);
        let readdir = Request::Readdir {
            fid: 1,
            offset: 0,
            count: 4096,
        };
        let (first_tag, first, first_charge) = client.prepare(&readdir).unwrap();
        assert!(
            first_charge.is_none(),
            "the pooled reply room is the kernel's own"
        );
        assert_eq!(budget.used(), 0);
        let (second_tag, second, second_charge) = client.prepare(&readdir).unwrap();
        assert_eq!(second.reply.len() as u64, msize);
        assert_eq!(budget.used(), msize, "a second one at once is charged");
        assert_eq!(client.prepare(&readdir).err(), Some(Errno::ENOMEM));
        assert_eq!(budget.used(), msize, "refused, it took nothing");
        assert_eq!(client.stats().tags_in_use, 2, "nor a tag");
        // Small requests meanwhile charge nothing.
        let (small_tag, small, small_charge) = client.prepare(&Request::Clunk { fid: 1 }).unwrap();
        assert!(small_charge.is_none());
        for (tag, exchange) in [(first_tag, first), (second_tag, second), (small_tag, small)] {
            client.give_back(exchange.request, exchange.reply);
            client.tags.lock().release(u32::from(tag));
        }
        drop(second_charge);
        assert_eq!(budget.used(), 0, "given back when the exchange is over");
        // Both reply rooms are pooled now: two at once charge nothing.
        let (_, _, charge) = client.prepare(&readdir).unwrap();
        let (_, _, charge_too) = client.prepare(&readdir).unwrap();
        assert!(charge.is_none() && charge_too.is_none());
    }
}
