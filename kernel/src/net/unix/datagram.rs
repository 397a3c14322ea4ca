//! Data on datagram and sequenced-packet sockets (Linux's `unix_dgram_sendmsg`,
//! `__unix_dgram_recvmsg`, `unix_dgram_connect`): every send is one message, read whole
//! by one receive (its tail dropped if the buffer is short: `MSG_TRUNC`), so boundaries
//! are kept.
//!
//! A datagram goes to the address given or the socket's peer. It waits for room in the
//! sender's buffer, and, when the receiver is not connected back to the sender, for the
//! receiver's queue to be within `max_dgram_qlen`; a message larger than the send buffer
//! is `EMSGSIZE`. A receiver connected to another socket refuses others (`EPERM`); a
//! closed peer is `ECONNREFUSED` once (the socket is then unconnected). A
//! sequenced-packet socket is a connection: it ignores the address, and a closed or shut
//! peer is `EPIPE` without `SIGPIPE`, as on Linux.
//!
//! Lock order: `connect` holds both sockets' locks, taken in address order
//! (`lock_pair`); a send holds the receiver's alone, then (its peer gone) its own alone.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use vfs_core::{Errno, FsContext};

use super::address::UnixAddress;
use super::control::Ucred;
use super::inflight::{self, InFlight};
use super::queue::Message;
use super::socket::{
    Account, Caller, Kind, Patience, Phase, Received, Receiving, Sending, Socket, find, lock_pair,
};

/// `connect` of a datagram socket: its sends go to `address`, and it receives only from
/// there (`None`, `AF_UNSPEC`, dissolves that). Changing peers drops what was queued.
pub(super) fn connect(
    socket: &Arc<Socket>,
    address: Option<&UnixAddress>,
    fs: &FsContext,
) -> Result<(), Errno> {
    let (new, old) = match address {
        Some(address) => {
            let (passcred, bound) = {
                let state = socket.state.lock();
                (state.options.passcred, state.address.is_some())
            };
            if passcred && !bound {
                socket.autobind()?;
            }
            loop {
                let other = find(socket.kind(), address, fs)?;
                let (mut mine, theirs) = lock_pair(socket, &other);
                let (dead, their_peer) = match &theirs {
                    Some(theirs) => (theirs.dead, theirs.peer.clone()),
                    None => (mine.dead, mine.peer.clone()),
                };
                if dead {
                    continue;
                }
                if their_peer.is_some_and(|peer| !Arc::ptr_eq(&peer, socket)) {
                    return Err(Errno::EPERM);
                }
                let old = mine.peer.replace(other.clone());
                mine.phase = Phase::Established;
                drop(theirs);
                drop(mine);
                break (Some(other), old);
            }
        }
        None => {
            let mut mine = socket.state.lock();
            mine.phase = Phase::Closed;
            (None, mine.peer.take())
        }
    };
    socket.events.wake_all();
    if let Some(old) = old
        && !new.as_ref().is_some_and(|new| Arc::ptr_eq(new, &old))
    {
        disconnected(socket, &old);
    }
    Ok(())
}

/// The socket left `old` as its peer (Linux's `unix_dgram_disconnected`): what it had
/// queued is dropped, and if `old` was connected back it learns (`ECONNRESET`).
fn disconnected(socket: &Arc<Socket>, old: &Arc<Socket>) {
    let purged = {
        let mut state = socket.state.lock();
        if state.queue.is_empty() {
            return;
        }
        state.queue.purge()
    };
    socket.wake_room_waiters();
    let told = {
        let mut theirs = old.state.lock();
        let connected_back = theirs
            .peer
            .as_ref()
            .is_some_and(|peer| Arc::ptr_eq(peer, socket));
        if !theirs.dead && connected_back {
            theirs.error = Some(Errno::ECONNRESET);
        }
        connected_back
    };
    if told {
        old.events.wake_all();
    }
    inflight::defer(purged);
}

pub(super) fn send(
    socket: &Arc<Socket>,
    mut sending: Sending<'_>,
    fs: Option<&FsContext>,
    caller: &Caller,
) -> Result<usize, Errno> {
    let seqpacket = socket.kind() == Kind::SeqPacket;
    if seqpacket {
        if let Some(errno) = socket.take_error() {
            return Err(errno);
        }
        if socket.state.lock().phase != Phase::Established {
            return Err(Errno::ENOTCONN);
        }
        sending.to = None;
    }
    if sending.oob {
        return Err(Errno::EOPNOTSUPP);
    }
    let (peer, passcred, bound, sndbuf, patience) = {
        let state = socket.state.lock();
        (
            state.peer.clone(),
            state.options.passcred,
            state.address.is_some(),
            state.options.sndbuf as usize,
            Patience::new(sending.nonblock, state.options.sndtimeo_us),
        )
    };
    let name = match sending.to.take() {
        Some(raw) => Some(super::address::parse(&raw)?),
        None => None,
    };
    if name.is_none() && peer.is_none() {
        return Err(Errno::ENOTCONN);
    }
    if passcred && !bound {
        socket.autobind()?;
    }
    if sending.len > sndbuf.saturating_sub(32) {
        return Err(Errno::EMSGSIZE);
    }
    // Room in this socket's send buffer (Linux's `sock_alloc_send_pskb`).
    loop {
        let (error, shut, sndbuf) = {
            let mut state = socket.state.lock();
            (
                state.error.take(),
                state.shutdown_write,
                state.options.sndbuf as usize,
            )
        };
        if let Some(errno) = error {
            return Err(errno);
        }
        if shut {
            return Err(Errno::EPIPE);
        }
        if socket.wmem.load(Ordering::Acquire) < sndbuf {
            break;
        }
        if patience.exhausted() {
            return Err(Errno::EAGAIN);
        }
        patience.sleep(&socket.events, caller.tid)?;
    }
    let account = Account::new(socket, sending.len)?;
    let data = (sending.source)(sending.len)?;
    let from = socket.local_address();
    let mut message = Message::new(data, None, sending.files.take(), from, account);
    let mut target = if name.is_none() { peer } else { None };
    loop {
        let other = match (target.take(), &name) {
            (Some(other), _) => other,
            (None, Some(name)) => find(socket.kind(), name, fs.ok_or(Errno::ECONNREFUSED)?)?,
            // The peer went away while this send waited.
            (None, None) => return Err(Errno::ECONNRESET),
        };
        let same = Arc::ptr_eq(&other, socket);
        let mut theirs = other.state.lock();
        if theirs
            .peer
            .as_ref()
            .is_some_and(|their_peer| !Arc::ptr_eq(their_peer, socket))
        {
            return Err(Errno::EPERM);
        }
        if theirs.dead {
            drop(theirs);
            if seqpacket {
                return Err(Errno::EPIPE);
            }
            let was_peer = {
                let mut mine = socket.state.lock();
                let was_peer = mine
                    .peer
                    .as_ref()
                    .is_some_and(|peer| Arc::ptr_eq(peer, &other));
                if was_peer {
                    mine.peer = None;
                    mine.phase = Phase::Closed;
                }
                was_peer
            };
            if was_peer {
                socket.events.wake_all();
                disconnected(socket, &other);
                return Err(Errno::ECONNREFUSED);
            }
            continue;
        }
        if theirs.shutdown_read {
            return Err(Errno::EPIPE);
        }
        let connected_back = theirs
            .peer
            .as_ref()
            .is_some_and(|their_peer| Arc::ptr_eq(their_peer, socket));
        if !same && !connected_back && theirs.queue.len() > theirs.backlog {
            drop(theirs);
            if patience.exhausted() {
                if other.full_for(socket) {
                    return Err(Errno::EAGAIN);
                }
            } else {
                patience.sleep(&other.events, caller.tid)?;
            }
            target = Some(other);
            continue;
        }
        message.credentials = super::stream::credentials_for(&sending, passcred, &theirs, caller);
        theirs.queue.push(message);
        drop(theirs);
        other.events.wake_all();
        return Ok(sending.len);
    }
}

/// What a receive took off the queue (or, peeking, copied).
struct Taken {
    data: alloc::vec::Vec<u8>,
    full_len: usize,
    from: Option<UnixAddress>,
    credentials: Option<Ucred>,
    files: Option<alloc::vec::Vec<Arc<vfs_core::OpenFile>>>,
}

pub(super) fn receive(
    socket: &Arc<Socket>,
    receiving: Receiving<'_>,
    caller: &Caller,
) -> Result<Received, Errno> {
    let seqpacket = socket.kind() == Kind::SeqPacket;
    let (passcred, patience) = {
        let state = socket.state.lock();
        if seqpacket && state.phase != Phase::Established {
            return Err(Errno::ENOTCONN);
        }
        (
            state.options.passcred,
            Patience::new(receiving.nonblock, state.options.rcvtimeo_us),
        )
    };
    if receiving.oob {
        return Err(Errno::EOPNOTSUPP);
    }
    let taken = loop {
        let (eof, disconnected, popped) = {
            let mut state = socket.state.lock();
            if let Some(errno) = state.error.take() {
                return Err(errno);
            }
            if receiving.peek
                && let Some(front) = state.queue.front()
            {
                let data = front.data();
                break Taken {
                    data: data[..data.len().min(receiving.len)].to_vec(),
                    full_len: data.len(),
                    from: front.from.clone(),
                    credentials: front.credentials,
                    files: front.files.as_ref().map(InFlight::duplicate),
                };
            }
            (
                state.shutdown_read,
                seqpacket && state.phase != Phase::Established,
                if receiving.peek {
                    None
                } else {
                    state.queue.pop()
                },
            )
        };
        if let Some(mut message) = popped {
            socket.wake_room_waiters();
            let data = message.take_data();
            break Taken {
                full_len: data.len(),
                data,
                from: message.from.take(),
                credentials: message.credentials,
                files: message.files.take().map(InFlight::land),
            };
        }
        if patience.exhausted() {
            // A non-blocking sequenced-packet socket whose peer left reads end of file.
            return if seqpacket && eof {
                Ok(Received::default())
            } else {
                Err(Errno::EAGAIN)
            };
        }
        if eof {
            return Ok(Received::default());
        }
        if disconnected {
            return Err(Errno::ENOTCONN);
        }
        patience.sleep(&socket.events, caller.tid)?;
    };
    let copied = taken.data.len().min(receiving.len);
    (receiving.sink)(&taken.data[..copied])?;
    Ok(Received {
        copied,
        full_len: taken.full_len,
        from: taken.from,
        credentials: passcred.then(|| taken.credentials.unwrap_or(Ucred::NONE)),
        files: taken.files,
    })
}
