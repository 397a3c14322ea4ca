//! A transport that queues, over the harness's server: submitted requests wait until a
//! caller waits for one, then everything queued is served at once, in submission order or
//! reversed (replies come back out of order). It can also give the replies to one type
//! of request a tag no request has, and interrupt the next wait for one type of request,
//! answering or dropping it when its `Tflush` comes, as QEMU does (a dropped request's
//! buffers come back empty).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::ServerChannel;
use vfs_core::errno::{Errno, Result};
use vfs_core::p9::message::Request;
use vfs_core::p9::{Completion, Exchange, Ticket, Transport};

/// The tag the harness puts on replies it is told to misdirect.
pub const UNKNOWN_TAG: u16 = 0xfffe;

#[derive(Default)]
pub struct Knobs {
    /// Serve each batch last request first.
    pub reverse: bool,
    /// Replies to requests of this type carry [`UNKNOWN_TAG`].
    pub wrong_tag_for: Option<u8>,
    /// The next interruptible wait for a request of this type is interrupted.
    pub interrupt: Option<u8>,
    /// Whether an interrupted request was answered before its flush arrived.
    pub answer_flushed: bool,
}

#[derive(Default)]
struct State {
    knobs: Knobs,
    next: u64,
    queued: Vec<(u64, Exchange)>,
    done: HashMap<u64, Exchange>,
    /// Interrupted requests, by tag, waiting for their flush.
    interrupted: HashMap<u16, u64>,
    most_outstanding: usize,
}

pub struct QueuedChannel {
    server: Arc<ServerChannel>,
    state: Mutex<State>,
}

fn tag_of(exchange: &Exchange) -> u16 {
    u16::from_le_bytes([exchange.request[5], exchange.request[6]])
}

fn type_of(exchange: &Exchange) -> u8 {
    exchange.request[4]
}

impl QueuedChannel {
    pub fn new(server: Arc<ServerChannel>) -> Arc<QueuedChannel> {
        Arc::new(QueuedChannel {
            server,
            state: Mutex::new(State::default()),
        })
    }

    pub fn set(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut self.state.lock().unwrap().knobs);
    }

    /// The most requests ever queued at once.
    pub fn most_outstanding(&self) -> usize {
        self.state.lock().unwrap().most_outstanding
    }

    fn serve(&self, state: &mut State, exchange: &mut Exchange) {
        let length = self
            .server
            .round_trip(&exchange.request, &mut exchange.reply)
            .expect("the server answers");
        exchange.reply_len = length;
        if state.knobs.wrong_tag_for == Some(type_of(exchange)) {
            exchange.reply[5..7].copy_from_slice(&UNKNOWN_TAG.to_le_bytes());
        }
    }

    /// Serves everything queued but the interrupted requests (their flush decides).
    fn serve_queued(&self, state: &mut State) {
        let mut batch = std::mem::take(&mut state.queued);
        if state.knobs.reverse {
            batch.reverse();
        }
        for (id, mut exchange) in batch {
            if state.interrupted.values().any(|&waiting| waiting == id) {
                state.queued.push((id, exchange));
                continue;
            }
            if let Ok((_, Request::Flush { old_tag })) = Request::decode(&exchange.request)
                && let Some(original) = state.interrupted.remove(&old_tag)
            {
                let at = state
                    .queued
                    .iter()
                    .position(|(queued, _)| *queued == original);
                let (_, mut flushed) = state.queued.remove(at.expect("still queued"));
                if state.knobs.answer_flushed {
                    self.serve(state, &mut flushed);
                } else {
                    flushed.reply_len = 0;
                }
                state.done.insert(original, flushed);
            }
            self.serve(state, &mut exchange);
            state.done.insert(id, exchange);
        }
    }
}

impl Transport for QueuedChannel {
    fn max_message_size(&self) -> u32 {
        self.server.max_message_size()
    }

    fn round_trip(&self, request: &[u8], reply: &mut [u8]) -> Result<usize> {
        self.server.round_trip(request, reply)
    }

    fn submit(&self, exchanges: Vec<Exchange>) -> Vec<Result<Ticket>> {
        let mut state = self.state.lock().unwrap();
        let tickets = exchanges
            .into_iter()
            .map(|exchange| {
                state.next += 1;
                let id = state.next;
                state.queued.push((id, exchange));
                Ok(Ticket::queued(id))
            })
            .collect();
        state.most_outstanding = state.most_outstanding.max(state.queued.len());
        tickets
    }

    fn complete(&self, ticket: Ticket, interruptible: bool) -> Completion {
        let Some(id) = ticket.id() else {
            return Completion::Failed(Errno::EIO);
        };
        let mut state = self.state.lock().unwrap();
        if let Some(exchange) = state.done.remove(&id) {
            return Completion::Done(exchange);
        }
        let queued = state.queued.iter().find(|(queued, _)| *queued == id);
        let Some((_, exchange)) = queued else {
            return Completion::Failed(Errno::EIO);
        };
        let (tag, kind) = (tag_of(exchange), type_of(exchange));
        if interruptible && state.knobs.interrupt == Some(kind) {
            state.knobs.interrupt = None;
            state.interrupted.insert(tag, id);
            return Completion::Interrupted(ticket);
        }
        self.serve_queued(&mut state);
        match state.done.remove(&id) {
            Some(exchange) => Completion::Done(exchange),
            None => Completion::Failed(Errno::EIO),
        }
    }
}
