//! Data on stream sockets (Linux's `unix_stream_sendmsg` and `unix_stream_read_generic`):
//! a send is cut into messages of at most half the send buffer, each queued at the peer
//! as soon as the sender's buffer has room (the sender waits, or stops short); a read
//! takes bytes across messages, ends at a message with descriptors or from another
//! writer (with `SO_PASSCRED`), and waits for at least one byte (all of them with
//! `MSG_WAITALL`) unless the peer has shut down.
//!
//! A write to a peer that is gone or shut down for reading is `EPIPE` (the system call
//! raises `SIGPIPE` unless `MSG_NOSIGNAL`); an unconnected socket is `ENOTCONN` to send
//! and `EINVAL` to read, as on Linux.
//!
//! Locks: one socket's at a time (the sender's to check its buffer, then the peer's to
//! queue); nothing is dropped or woken under one.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use vfs_core::{Errno, OpenFile};

use super::control::Ucred;
use super::inflight::InFlight;
use super::queue::{Message, StreamCursor, StreamRead};
use super::socket::{Account, Caller, Patience, Phase, Received, Receiving, Sending, Socket};

/// Linux's largest stream message: a page's head and 32 KiB of fragments.
const MAX_SEGMENT: usize = 32768 + 3776;
/// The most bytes a read takes out of the queue at a time, to hand to the caller's buffer
/// with no lock held.
const READ_CHUNK: usize = 256 * 1024;

/// What was sent so far, or the error if nothing was (Linux's `sent ? : err`).
fn partial(sent: usize, errno: Errno) -> Result<usize, Errno> {
    if sent > 0 { Ok(sent) } else { Err(errno) }
}

pub(super) fn send(
    socket: &Arc<Socket>,
    mut sending: Sending<'_>,
    caller: &Caller,
) -> Result<usize, Errno> {
    if sending.oob {
        return Err(Errno::EOPNOTSUPP);
    }
    let (peer, passcred, patience, from) = {
        let state = socket.state.lock();
        if sending.to.is_some() {
            return Err(if state.phase == Phase::Established {
                Errno::EISCONN
            } else {
                Errno::EOPNOTSUPP
            });
        }
        let peer = state.peer.clone().ok_or(Errno::ENOTCONN)?;
        if state.shutdown_write {
            return Err(Errno::EPIPE);
        }
        (
            peer,
            state.options.passcred,
            Patience::new(sending.nonblock, state.options.sndtimeo_us),
            state.address.clone(),
        )
    };
    let mut sent = 0;
    while sent < sending.len {
        // Linux's `sock_alloc_send_pskb`: room in this socket's send buffer.
        let sndbuf = loop {
            let (error, shut, sndbuf) = {
                let mut state = socket.state.lock();
                (
                    state.error.take(),
                    state.shutdown_write,
                    state.options.sndbuf as usize,
                )
            };
            if let Some(errno) = error {
                return partial(sent, errno);
            }
            if shut {
                return partial(sent, Errno::EPIPE);
            }
            if socket.wmem.load(Ordering::Acquire) < sndbuf {
                break sndbuf;
            }
            if patience.exhausted() {
                return partial(sent, Errno::EAGAIN);
            }
            if let Err(errno) = patience.sleep(&socket.events, caller.tid) {
                return partial(sent, errno);
            }
        };
        // At most half the send buffer (so two are in flight), never nothing.
        let segment = (sndbuf >> 1).saturating_sub(64).clamp(1, MAX_SEGMENT);
        let size = (sending.len - sent).min(segment);
        let account = match Account::new(socket, size) {
            Ok(account) => account,
            Err(errno) => return partial(sent, errno),
        };
        let data = match (sending.source)(size) {
            Ok(data) => data,
            Err(errno) => return partial(sent, errno),
        };
        // Descriptors go with the first message only.
        let mut message = Message::new(data, None, sending.files.take(), from.clone(), account);
        let refused = {
            let mut theirs = peer.state.lock();
            if theirs.dead || theirs.shutdown_read {
                Some(message)
            } else {
                message.credentials = credentials_for(&sending, passcred, &theirs, caller);
                theirs.queue.push(message);
                None
            }
        };
        if refused.is_some() {
            drop(refused);
            return partial(sent, Errno::EPIPE);
        }
        peer.events.wake_all();
        sent += size;
    }
    Ok(sent)
}

/// The credentials a message carries (Linux's `maybe_add_creds`): those the sender
/// claimed, else its own when either side has `SO_PASSCRED` or the receiver is a
/// connection not accepted yet.
pub(super) fn credentials_for(
    sending: &Sending<'_>,
    sender_passcred: bool,
    receiver: &super::socket::State,
    caller: &Caller,
) -> Option<Ucred> {
    sending.credentials.or_else(|| {
        (sender_passcred || receiver.options.passcred || !receiver.accepted)
            .then(|| caller.credentials())
    })
}

/// One step of a read, decided under the socket's lock.
enum Step {
    Data(Vec<u8>, usize),
    Done,
    Fail(Errno),
    Wait,
}

pub(super) fn receive(
    socket: &Arc<Socket>,
    receiving: Receiving<'_>,
    caller: &Caller,
) -> Result<Received, Errno> {
    let (passcred, patience) = {
        let state = socket.state.lock();
        if state.phase != Phase::Established {
            return Err(Errno::EINVAL);
        }
        (
            state.options.passcred,
            Patience::new(receiving.nonblock, state.options.rcvtimeo_us),
        )
    };
    if receiving.oob {
        return Err(Errno::EOPNOTSUPP);
    }
    let peek = receiving.peek;
    // `sock_rcvlowat`: one byte, or everything with MSG_WAITALL (and one for none).
    let target = if receiving.wait_all {
        receiving.len
    } else {
        receiving.len.min(1)
    }
    .max(1);
    let mut cursor: StreamCursor<Vec<Arc<OpenFile>>> = StreamCursor::default();
    let mut copied = 0;
    loop {
        let mut spent = Vec::new();
        let step = {
            let mut state = socket.state.lock();
            if state.queue.is_empty() {
                if copied >= target || (peek && copied > 0) {
                    Step::Done
                } else if let Some(errno) = state.error.take() {
                    Step::Fail(errno)
                } else if state.shutdown_read {
                    Step::Done
                } else {
                    Step::Wait
                }
            } else {
                let max = (receiving.len - copied).min(READ_CHUNK);
                let skip = if peek { copied } else { 0 };
                let how = StreamRead {
                    skip,
                    max,
                    peek,
                    passcred,
                };
                let chunk = state
                    .queue
                    .read_stream(&mut cursor, how, &mut spent, |files| {
                        if peek {
                            files.as_ref().map(InFlight::duplicate)
                        } else {
                            files.take().map(InFlight::land)
                        }
                    });
                Step::Data(chunk, max)
            }
        };
        // Read messages give their sender its buffer space back (and wake it).
        drop(spent);
        match step {
            Step::Data(chunk, max) => {
                if !chunk.is_empty()
                    && let Err(errno) = (receiving.sink)(&chunk)
                {
                    return if copied > 0 {
                        Ok(finish(cursor, copied, passcred))
                    } else {
                        Err(errno)
                    };
                }
                copied += chunk.len();
                if cursor.stop || copied >= receiving.len || (peek && chunk.len() < max) {
                    break;
                }
            }
            Step::Done => break,
            Step::Fail(errno) if copied == 0 => return Err(errno),
            Step::Fail(_) => break,
            Step::Wait => {
                if patience.exhausted() {
                    if copied > 0 {
                        break;
                    }
                    return Err(Errno::EAGAIN);
                }
                if let Err(errno) = patience.sleep(&socket.events, caller.tid) {
                    // Interrupted: what came is returned, its descriptors are dropped.
                    return if copied > 0 {
                        Ok(Received {
                            copied,
                            full_len: copied,
                            ..Received::default()
                        })
                    } else {
                        Err(errno)
                    };
                }
            }
        }
    }
    Ok(finish(cursor, copied, passcred))
}

/// The result of a read: with `SO_PASSCRED` the credentials of what was read (pid 0 and
/// root's ids when nothing was, as Linux's zeroed `scm_cookie`).
fn finish(cursor: StreamCursor<Vec<Arc<OpenFile>>>, copied: usize, passcred: bool) -> Received {
    let credentials = passcred.then_some(match cursor.credentials {
        Some(Some(credentials)) => credentials,
        Some(None) => Ucred::NONE,
        None => Ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        },
    });
    Received {
        copied,
        full_len: copied,
        from: cursor.from.flatten(),
        credentials,
        files: cursor.files,
    }
}
