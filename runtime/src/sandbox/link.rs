//! The host's end of the control channel: frames out (under one lock, whole), and one
//! reader thread that decodes what the kernel sends and files it — replies by sequence
//! number, stream data to each stream's writer, credits, exit statuses — waking whoever
//! waits on it.
//!
//! The reader never waits on anything but the socket: stream data goes to an unbounded
//! queue per stream, which the kernel's credit bounds (at most `wire::WINDOW` bytes a
//! stream in flight), so a slow consumer of one stream cannot stall the others or the
//! replies.
//!
//! Lock order: `State` is a leaf; `writer` is taken with nothing else held.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

use kernel::control::wire::{Decoder, GuestMessage, HostMessage, Reply, Request, Status, Stream};

/// What the reader learnt so far.
#[derive(Default)]
pub(super) struct State {
    /// The kernel said the init is loaded and held.
    pub created: bool,
    /// The channel closed (the VM ended) or broke.
    pub ended: bool,
    pub broken: Option<String>,
    replies: HashMap<u32, Reply>,
    /// Input credit per stream id: bytes the host may still send.
    credits: HashMap<u32, u64>,
    /// Where each output stream's data goes, until it ends.
    outputs: HashMap<(u32, Stream), Sender<Vec<u8>>>,
    pub statuses: HashMap<u32, Status>,
}

pub(super) struct Link {
    writer: Mutex<UnixStream>,
    next_seq: AtomicU32,
    state: Mutex<State>,
    changed: Condvar,
}

impl Link {
    /// A link on `stream` (the socket QEMU's chardev connected to) and its reader thread.
    pub fn start(stream: UnixStream) -> std::io::Result<(Arc<Link>, JoinHandle<()>)> {
        let reader = stream.try_clone()?;
        let link = Arc::new(Link {
            writer: Mutex::new(stream),
            next_seq: AtomicU32::new(1),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let for_reader = link.clone();
        let handle = thread::Builder::new()
            .name("sandbox-link".into())
            .spawn(move || for_reader.read_all(reader))?;
        Ok((link, handle))
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Waits until `until` holds for the state (checked at once and on every change).
    pub fn wait_for<T>(&self, mut until: impl FnMut(&mut State) -> Option<T>) -> T {
        let mut state = self.lock();
        loop {
            if let Some(value) = until(&mut state) {
                return value;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(|poison| poison.into_inner());
        }
    }

    /// Sends one message; `false` if the channel is gone.
    pub fn send(&self, message: &HostMessage) -> bool {
        let frame = message.encode();
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        writer.write_all(&frame).is_ok()
    }

    /// Sends `request` and waits for its reply; `None` if the channel ended first.
    pub fn request(&self, request: Request) -> Option<Reply> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        if !self.send(&HostMessage::Request { seq, request }) {
            return None;
        }
        self.wait_for(|state| {
            if let Some(reply) = state.replies.remove(&seq) {
                return Some(Some(reply));
            }
            state.ended.then_some(None)
        })
    }

    /// Routes output stream `stream` of process `id` to `to` (before the kernel may send it).
    pub fn route(&self, id: u32, stream: Stream, to: Sender<Vec<u8>>) {
        self.lock().outputs.insert((id, stream), to);
    }

    /// Forgets process `id`'s streams (its exec failed).
    pub fn unroute(&self, id: u32) {
        let mut state = self.lock();
        state.outputs.retain(|(which, _), _| *which != id);
        state.credits.remove(&id);
    }

    /// Whether nothing more will be read for process `id` (its status came, or the
    /// channel ended).
    pub fn finished(&self, id: u32) -> bool {
        let state = self.lock();
        state.ended || state.statuses.contains_key(&id)
    }

    /// Waits for input credit for process `id` and takes up to `want` bytes of it; `None`
    /// once the channel ended or the process's status came (nobody will read more).
    pub fn take_credit(&self, id: u32, want: usize) -> Option<usize> {
        self.wait_for(|state| {
            if state.ended || state.statuses.contains_key(&id) {
                return Some(None);
            }
            let credit = state
                .credits
                .entry(id)
                .or_insert(u64::from(kernel::control::wire::WINDOW));
            if *credit == 0 {
                return None;
            }
            let taken = (*credit).min(want as u64);
            *credit -= taken;
            Some(Some(taken as usize))
        })
    }

    fn read_all(&self, mut socket: UnixStream) {
        let mut decoder = Decoder::new();
        let mut chunk = vec![0u8; 64 * 1024];
        let broken = loop {
            let count = match socket.read(&mut chunk) {
                Ok(0) => break None,
                Ok(count) => count,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => break Some(format!("reading the channel: {error}")),
            };
            decoder.push(&chunk[..count]);
            let mut failure = None;
            loop {
                match decoder.next_frame() {
                    Ok(Some(frame)) => match GuestMessage::decode(&frame) {
                        Ok(message) => self.file(message),
                        Err(error) => {
                            failure = Some(format!("a frame from the kernel: {error}"));
                            break;
                        }
                    },
                    Ok(None) => break,
                    Err(error) => {
                        failure = Some(format!("the kernel's stream: {error}"));
                        break;
                    }
                }
            }
            if failure.is_some() {
                break failure;
            }
        };
        let mut state = self.lock();
        state.ended = true;
        state.broken = broken;
        state.outputs.clear();
        drop(state);
        self.changed.notify_all();
    }

    fn file(&self, message: GuestMessage) {
        let mut state = self.lock();
        match message {
            GuestMessage::Created { .. } => state.created = true,
            GuestMessage::Reply { seq, reply } => {
                state.replies.insert(seq, reply);
            }
            GuestMessage::Output { id, stream, data } => {
                let bytes = data.len() as u32;
                let delivered = state
                    .outputs
                    .get(&(id, stream))
                    .is_some_and(|to| to.send(data).is_ok());
                if !delivered {
                    // Nobody takes it (no route, or its writer is gone): its credit goes
                    // back at once so the guest's side never waits for it.
                    state.outputs.remove(&(id, stream));
                    drop(state);
                    self.send(&HostMessage::Credit { id, stream, bytes });
                    return;
                }
            }
            GuestMessage::OutputEnd { id, stream } => {
                state.outputs.remove(&(id, stream));
            }
            GuestMessage::InputCredit { id, bytes } => {
                let credit = state
                    .credits
                    .entry(id)
                    .or_insert(u64::from(kernel::control::wire::WINDOW));
                *credit += u64::from(bytes);
            }
            GuestMessage::Exited { id, status } => {
                state.statuses.insert(id, status);
            }
        }
        drop(state);
        self.changed.notify_all();
    }
}
