//! The control channel's port: frames to the host ([`send`]) and the host's messages,
//! decoded into an inbox the service thread empties.
//!
//! The port raises no interrupt the kernel takes: the scheduler calls [`poll`] on every
//! tick and idle pass (as the serial console's input), which moves what the device
//! received through the frame decoder into the inbox and wakes the service thread.
//! Sending waits for the device to take the frame (QEMU hands it to its socket at once;
//! the host reads that socket without ever waiting on anything else, see the runtime's
//! `sandbox` module).
//!
//! Memory: the host sends stream data only within the credits the kernel granted
//! (`wire::WINDOW` a stream), and requests one at a time per caller, so the inbox holds
//! at most a window per stream plus a few requests.
//!
//! Lock order: `PORT`, `DECODER` and `INBOX` are leaves, never held together.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use spin::Mutex;

use super::wire::{Decoder, GuestMessage, HostMessage};
use crate::devices::ControlPort;
use crate::task::WaitQueue;

static PORT: Mutex<Option<ControlPort>> = Mutex::new(None);
static DECODER: Mutex<Decoder> = Mutex::new(Decoder::new());
static INBOX: Mutex<VecDeque<HostMessage>> = Mutex::new(VecDeque::new());
static INBOX_EVENTS: WaitQueue = WaitQueue::new();
/// The host's byte stream could not be decoded: nothing more is read from it.
static BROKEN: AtomicBool = AtomicBool::new(false);

/// Takes the port (once).
pub fn open(port: ControlPort) {
    *PORT.lock() = Some(port);
}

/// Sends one message; dropped (with a warning) if the device fails.
pub fn send(message: &GuestMessage) {
    let frame = message.encode();
    let mut port = PORT.lock();
    if let Some(port) = port.as_mut()
        && let Err(error) = port.send_bytes(&frame)
    {
        log::warn!(target: "control", "sending to the host failed: {error}");
    }
}

/// Moves what the port received into the inbox (see the module's doc).
pub fn poll() {
    if BROKEN.load(Ordering::Relaxed) {
        return;
    }
    let mut bytes = Vec::new();
    {
        let Some(mut port) = PORT.try_lock() else {
            return;
        };
        let Some(port) = port.as_mut() else {
            return;
        };
        while let Ok(Some(byte)) = port.recv(true) {
            bytes.push(byte);
        }
    }
    if bytes.is_empty() {
        return;
    }
    let mut decoded = Vec::new();
    {
        let mut decoder = DECODER.lock();
        decoder.push(&bytes);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => match HostMessage::decode(&frame) {
                    Ok(message) => decoded.push(message),
                    Err(error) => {
                        log::warn!(target: "control", "host message dropped: {error}")
                    }
                },
                Ok(None) => break,
                Err(error) => {
                    log::error!(target: "control", "the host's stream is broken: {error}");
                    BROKEN.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
    if !decoded.is_empty() {
        INBOX.lock().extend(decoded);
        INBOX_EVENTS.wake_all();
    }
}

/// The next message from the host, waiting for one.
pub fn receive() -> HostMessage {
    loop {
        if let Some(message) = INBOX.lock().pop_front() {
            return message;
        }
        INBOX_EVENTS.prepare();
        if INBOX.lock().is_empty() {
            crate::task::scheduler::block();
        }
        INBOX_EVENTS.cancel();
    }
}
