//! The Unix socket object: its state (bound name, connection, peer, shutdown, pending
//! error, options, receive queue) and its life: creation, `socketpair`, `bind`, `listen`,
//! stream and sequenced-packet `connect` and `accept`, `shutdown`, close (`release`),
//! names, options, readiness, and the blocking rule every call shares. Moving data is in
//! `stream` and `datagram`.
//!
//! A socket is shared (`Arc`): its open file ([`super::SocketFile`]) holds it, as do its
//! peer, the name table (weakly) and the messages it sent (for their accounting). Closing
//! the file releases it: it leaves the name table, its peer sees the hang-up, and what it
//! had queued is dropped later (`inflight::defer`), never inside a lock. A released
//! socket holds no queue, peer or waiting connection, so dropping its last reference
//! never closes another file.
//!
//! Lock order: see the module above (`super`): at most two sockets at once, a listener
//! before the socket connecting to it, otherwise by address ([`lock_pair`]).

use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::{Mutex, MutexGuard};
use vfs_core::permission::{Access, check_access};
use vfs_core::{At, Charge, Errno, FileType, FsContext, Location, OpenFile};

use super::address::{BindRequest, UnixAddress};
use super::control::Ucred;
use super::inflight::{self, InFlight};
use super::options::Options;
use super::queue::{Message, ReceiveQueue};
use super::registry::Names;
use crate::fs::poll::{
    POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRBAND, POLLWRNORM,
};
use crate::net::{SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET, SOCK_STREAM};
use crate::task::{WaitQueue, lifecycle, scheduler};

/// `net.core.somaxconn`: the most connections a listener keeps waiting.
pub const SOMAXCONN: usize = 4096;
/// `net.unix.max_dgram_qlen`: a datagram socket's queue length past which senders that
/// are not its peer wait (Linux's default; distributions often raise it).
pub const MAX_DGRAM_QLEN: usize = 10;
/// What a message costs besides its bytes (Linux's `SKB_TRUESIZE` overhead): counted
/// against the sender's `SO_SNDBUF` and charged to the memory budget.
pub const MESSAGE_OVERHEAD: usize = 576;
/// What a socket object costs the memory budget (its state, queue heads, wait queue).
const SOCKET_COST: u64 = 1024;

/// The three kinds of Unix socket (`SOCK_RAW` is a datagram socket, as on Linux).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Stream,
    Datagram,
    SeqPacket,
}

impl Kind {
    /// `unix_create`'s types: others are `ESOCKTNOSUPPORT`.
    pub fn from_type(socket_type: u32) -> Result<Kind, Errno> {
        match socket_type {
            SOCK_STREAM => Ok(Kind::Stream),
            SOCK_DGRAM | SOCK_RAW => Ok(Kind::Datagram),
            SOCK_SEQPACKET => Ok(Kind::SeqPacket),
            _ => Err(Errno::ESOCKTNOSUPPORT),
        }
    }

    /// `SO_TYPE`.
    pub fn number(self) -> u32 {
        match self {
            Kind::Stream => SOCK_STREAM,
            Kind::Datagram => SOCK_DGRAM,
            Kind::SeqPacket => SOCK_SEQPACKET,
        }
    }

    /// Stream and sequenced-packet sockets connect, listen and accept.
    pub fn is_connection_based(self) -> bool {
        self != Kind::Datagram
    }
}

/// Linux's `sk_state` as far as Unix sockets use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Closed,
    Listening,
    Established,
}

/// Who makes a call: for credentials, signals and the in-flight bound.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    /// The caller's process (what credentials carry) and thread (who sleeps).
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    /// `RLIMIT_NOFILE`: the most descriptors the caller's user may have in flight.
    pub fd_limit: usize,
    /// `CAP_SYS_RESOURCE` or `CAP_SYS_ADMIN`: past that bound anyway.
    pub unbounded_in_flight: bool,
}

impl Caller {
    /// What a message carries (`SCM_CREDENTIALS`): the real ids.
    pub fn credentials(&self) -> Ucred {
        Ucred {
            pid: self.pid,
            uid: self.uid,
            gid: self.gid,
        }
    }

    /// What `SO_PEERCRED` shows of this caller: the effective ids.
    pub fn peer_credentials(&self) -> Ucred {
        Ucred {
            pid: self.pid,
            uid: self.euid,
            gid: self.egid,
        }
    }
}

/// A sent message's hold on its sender: the sender's buffer space (`sk_wmem_alloc`) and
/// the memory budget, both given back when the message is read or dropped.
pub struct Account {
    sender: Arc<Socket>,
    truesize: usize,
    _charge: Charge,
}

impl Account {
    /// Charges a message of `len` bytes to `sender`; `ENOBUFS` if the budget refuses.
    pub(super) fn new(sender: &Arc<Socket>, len: usize) -> Result<Account, Errno> {
        let truesize = len + MESSAGE_OVERHEAD;
        let charge = crate::mm::budget::budget()
            .charge(truesize as u64)
            .map_err(|_| Errno::ENOBUFS)?;
        sender.wmem.fetch_add(truesize, Ordering::AcqRel);
        Ok(Account {
            sender: sender.clone(),
            truesize,
            _charge: charge,
        })
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        self.sender.wmem.fetch_sub(self.truesize, Ordering::AcqRel);
        self.sender.events.wake_all();
    }
}

pub(super) type Queued = Message<InFlight, Account>;

pub(super) struct State {
    pub options: Options,
    pub address: Option<UnixAddress>,
    /// The node a path bind made (Linux's `u->path`): held while the socket lives.
    pub node: Option<Location>,
    pub phase: Phase,
    pub peer: Option<Arc<Socket>>,
    /// `SO_PEERCRED`: who the peer was when the connection was made.
    pub peer_credentials: Option<Ucred>,
    pub shutdown_read: bool,
    pub shutdown_write: bool,
    /// `sk_err`: reported once, by the next call that looks (or `SO_ERROR`).
    pub error: Option<Errno>,
    pub queue: ReceiveQueue<InFlight, Account>,
    /// A listener's connections not accepted yet.
    pub pending: VecDeque<Arc<Socket>>,
    /// A listener's backlog; a datagram socket's queue length past which others wait.
    pub backlog: usize,
    /// False for a connection's server end until `accept` gives it a file: senders then
    /// always attach their credentials (Linux: `!other->sk_socket`).
    pub accepted: bool,
    /// Closed: its file is gone.
    pub dead: bool,
    /// Datagram sockets that found this one's queue full and want to hear when it is not
    /// (Linux's `peer_wait`).
    pub room_waiters: Vec<Weak<Socket>>,
}

pub struct Socket {
    kind: Kind,
    pub(super) state: Mutex<State>,
    /// Woken whenever what `poll` reports may have changed, or a blocked call may go on.
    pub(super) events: WaitQueue,
    /// Bytes (with overhead) of messages this socket sent that are still queued.
    pub(super) wmem: AtomicUsize,
    _charge: Charge,
}

/// The sockets bound to names.
pub(super) static NAMES: Mutex<Names<Socket>> = Mutex::new(Names::new());

/// Both sockets' state, locked in address order (one lock when they are the same socket):
/// `(a's, b's)`.
pub(super) fn lock_pair<'a>(
    a: &'a Socket,
    b: &'a Socket,
) -> (MutexGuard<'a, State>, Option<MutexGuard<'a, State>>) {
    if core::ptr::eq(a, b) {
        return (a.state.lock(), None);
    }
    if (a as *const Socket) < (b as *const Socket) {
        let first = a.state.lock();
        (first, Some(b.state.lock()))
    } else {
        let second = b.state.lock();
        (a.state.lock(), Some(second))
    }
}

/// How long a call may wait: not at all (`O_NONBLOCK`, `MSG_DONTWAIT`, a negative
/// timeout), until a monotonic deadline (`SO_RCVTIMEO`/`SO_SNDTIMEO`), or for ever.
#[derive(Clone, Copy, Debug)]
pub(super) enum Patience {
    Never,
    Until(i64),
    Forever,
}

impl Patience {
    pub fn new(nonblock: bool, timeout_us: Option<u64>) -> Patience {
        match (nonblock, timeout_us) {
            (true, _) | (false, Some(0)) => Patience::Never,
            (false, None) => Patience::Forever,
            (false, Some(us)) => Patience::Until(
                crate::clock::monotonic_ns().saturating_add(us.saturating_mul(1000) as i64),
            ),
        }
    }

    /// Whether the call must give up now rather than wait (`EAGAIN`).
    pub fn exhausted(self) -> bool {
        match self {
            Patience::Never => true,
            Patience::Until(deadline) => crate::clock::monotonic_ns() >= deadline,
            Patience::Forever => false,
        }
    }

    /// Sleeps on `queue` until it is woken or the deadline passes; `EINTR` if a signal
    /// waits for `pid`, before sleeping or on waking. The caller held no lock since it
    /// last checked its condition.
    pub fn sleep(self, queue: &WaitQueue, tid: u32) -> Result<(), Errno> {
        if lifecycle::has_pending_signal(tid) {
            return Err(Errno::EINTR);
        }
        queue.prepare();
        match self {
            Patience::Until(deadline) => scheduler::sleep_until(deadline),
            _ => scheduler::block(),
        }
        queue.cancel();
        if lifecycle::has_pending_signal(tid) {
            return Err(Errno::EINTR);
        }
        Ok(())
    }
}

/// What one call to send moves (see `stream` and `datagram`).
pub struct Sending<'a> {
    pub len: usize,
    /// Gives the next `n` bytes of the caller's data (`EFAULT` for a bad buffer).
    pub source: &'a mut dyn FnMut(usize) -> Result<Vec<u8>, Errno>,
    pub files: Option<InFlight>,
    /// Credentials the caller claimed (already checked against what it may claim).
    pub credentials: Option<Ucred>,
    /// The destination's address as the caller gave it (`msg_name`), not yet checked:
    /// each kind judges it its own way.
    pub to: Option<Vec<u8>>,
    pub nonblock: bool,
    /// `MSG_OOB`: not supported (`EOPNOTSUPP`), at the point Linux says so.
    pub oob: bool,
}

/// What one call to receive got besides the bytes handed to its sink.
#[derive(Default)]
pub struct Received {
    /// Bytes delivered.
    pub copied: usize,
    /// The whole datagram's length (more than `copied` when it was truncated).
    pub full_len: usize,
    /// The sender's name (`None` when it had none).
    pub from: Option<UnixAddress>,
    /// With `SO_PASSCRED`: the credentials to report (`Ucred::NONE` if none came).
    pub credentials: Option<Ucred>,
    /// Descriptors that came with the data (installed by the caller).
    pub files: Option<Vec<Arc<OpenFile>>>,
}

impl Socket {
    /// A new socket of `kind`, unbound and unconnected (`socket`).
    pub fn new_unbound(kind: Kind) -> Result<Arc<Socket>, Errno> {
        Socket::new(kind)
    }

    pub(super) fn new(kind: Kind) -> Result<Arc<Socket>, Errno> {
        let charge = crate::mm::budget::budget().charge(SOCKET_COST)?;
        Ok(Arc::new(Socket {
            kind,
            state: Mutex::new(State {
                options: Options::default(),
                address: None,
                node: None,
                phase: Phase::Closed,
                peer: None,
                peer_credentials: None,
                shutdown_read: false,
                shutdown_write: false,
                error: None,
                queue: ReceiveQueue::default(),
                pending: VecDeque::new(),
                backlog: MAX_DGRAM_QLEN,
                accepted: true,
                dead: false,
                room_waiters: Vec::new(),
            }),
            events: WaitQueue::new(),
            wmem: AtomicUsize::new(0),
            _charge: charge,
        }))
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// `socketpair`: two sockets connected to each other, each seeing the caller as its
    /// peer.
    pub fn pair(kind: Kind, caller: &Caller) -> Result<(Arc<Socket>, Arc<Socket>), Errno> {
        let (a, b) = (Socket::new(kind)?, Socket::new(kind)?);
        for (this, other) in [(&a, &b), (&b, &a)] {
            let mut state = this.state.lock();
            state.peer = Some(other.clone());
            state.phase = Phase::Established;
            state.peer_credentials = Some(caller.peer_credentials());
        }
        Ok((a, b))
    }

    /// Pops and reports a pending error (`sock_error`).
    pub(super) fn take_error(&self) -> Option<Errno> {
        self.state.lock().error.take()
    }

    /// The pending error, cleared (`recvmmsg` looks before it starts).
    pub fn take_pending_error(&self) -> Option<Errno> {
        self.take_error()
    }

    /// Keeps `errno` for the next call (`recvmmsg` failing after some messages).
    pub fn set_pending_error(&self, errno: Errno) {
        self.state.lock().error = Some(errno);
        self.events.wake_all();
    }

    /// `bind`. A path makes a socket node in the caller's namespace (its mode `0777` less
    /// the umask; an existing name is `EADDRINUSE`); an abstract name is taken in the
    /// table of this socket's type; the family alone picks a free abstract name. A bound
    /// socket is `EINVAL` (for a path, after the node was made, which is then removed).
    pub fn bind(self: &Arc<Self>, request: BindRequest, fs: &FsContext) -> Result<(), Errno> {
        match request {
            BindRequest::Autobind => self.autobind(),
            BindRequest::Name(UnixAddress::Abstract(name)) => {
                let mut state = self.state.lock();
                if state.address.is_some() {
                    return Err(Errno::EINVAL);
                }
                NAMES
                    .lock()
                    .bind_abstract(self.kind.number(), &name, self)?;
                state.address = Some(UnixAddress::Abstract(name));
                Ok(())
            }
            BindRequest::Name(UnixAddress::Path(path)) => self.bind_path(path, fs),
        }
    }

    /// Binds a free abstract name if the socket has no name yet (also done by `connect`
    /// and datagram sends of a socket with `SO_PASSCRED`).
    pub(super) fn autobind(self: &Arc<Self>) -> Result<(), Errno> {
        let mut state = self.state.lock();
        if state.address.is_some() {
            return Ok(());
        }
        let mut seed = [0u8; 4];
        crate::random::fill(&mut seed);
        let address = NAMES
            .lock()
            .autobind(self.kind.number(), self, u32::from_le_bytes(seed))?;
        state.address = Some(address);
        Ok(())
    }

    fn bind_path(self: &Arc<Self>, path: Vec<u8>, fs: &FsContext) -> Result<(), Errno> {
        const S_IFSOCK: u32 = 0o140000;
        fs.mknod(At::Cwd, &path, S_IFSOCK | 0o777, 0)
            .map_err(|errno| {
                if errno == Errno::EEXIST {
                    Errno::EADDRINUSE
                } else {
                    errno
                }
            })?;
        let node = fs.resolve(At::Cwd, &path, false);
        let stat = node
            .as_ref()
            .map_err(|errno| *errno)
            .and_then(|node| node.dentry.positive()?.getattr());
        let (node, stat) = match (node, stat) {
            (Ok(node), Ok(stat)) => (node, stat),
            (_, Err(errno)) | (Err(errno), _) => {
                let _ = fs.unlink(At::Cwd, &path);
                return Err(errno);
            }
        };
        let mut state = self.state.lock();
        if state.address.is_some() {
            drop(state);
            let _ = fs.unlink(At::Cwd, &path);
            return Err(Errno::EINVAL);
        }
        NAMES.lock().bind_node((stat.dev, stat.ino), self);
        state.address = Some(UnixAddress::Path(path));
        state.node = Some(node);
        Ok(())
    }

    /// `listen`: only stream and sequenced-packet sockets (`EOPNOTSUPP`), bound
    /// (`EINVAL`), not connected (`EINVAL`). The backlog is capped at `somaxconn` (a
    /// negative one is a huge unsigned one); connectors see the listener's identity now.
    pub fn listen(&self, backlog: i32, caller: &Caller) -> Result<(), Errno> {
        if !self.kind.is_connection_based() {
            return Err(Errno::EOPNOTSUPP);
        }
        let grew = {
            let mut state = self.state.lock();
            if state.address.is_none() || state.phase == Phase::Established {
                return Err(Errno::EINVAL);
            }
            let backlog = (backlog as u32 as usize).min(SOMAXCONN);
            let grew = state.phase == Phase::Listening && backlog > state.backlog;
            state.backlog = backlog;
            state.phase = Phase::Listening;
            state.peer_credentials = Some(caller.peer_credentials());
            grew
        };
        if grew {
            self.events.wake_all();
        }
        Ok(())
    }

    /// `connect` of a stream or sequenced-packet socket (`unix_stream_connect`): waits
    /// while the listener's backlog is full (`EAGAIN` when it may not), and on success is
    /// connected at once to a new socket queued for the listener's `accept`.
    pub fn connect_stream(
        self: &Arc<Self>,
        address: &UnixAddress,
        fs: &FsContext,
        nonblock: bool,
        caller: &Caller,
    ) -> Result<(), Errno> {
        let (passcred, sndtimeo) = {
            let state = self.state.lock();
            (state.options.passcred, state.options.sndtimeo_us)
        };
        if passcred {
            self.autobind()?;
        }
        let patience = Patience::new(nonblock, sndtimeo);
        let embryo = Socket::new(self.kind)?;
        loop {
            let listener = find(self.kind, address, fs)?;
            if Arc::ptr_eq(&listener, self) {
                // Itself, listening: Linux refuses a listener's connect the same way.
                return Err(Errno::EINVAL);
            }
            let mut theirs = listener.state.lock();
            if theirs.dead {
                continue;
            }
            if theirs.phase != Phase::Listening || theirs.shutdown_read {
                return Err(Errno::ECONNREFUSED);
            }
            if theirs.pending.len() > theirs.backlog {
                drop(theirs);
                if patience.exhausted() {
                    return Err(Errno::EAGAIN);
                }
                patience.sleep(&listener.events, caller.tid)?;
                continue;
            }
            let mut mine = self.state.lock();
            match mine.phase {
                Phase::Closed => {}
                Phase::Established => return Err(Errno::EISCONN),
                Phase::Listening => return Err(Errno::EINVAL),
            }
            {
                let mut server = embryo.state.lock();
                server.peer = Some(self.clone());
                server.phase = Phase::Established;
                server.peer_credentials = Some(caller.peer_credentials());
                server.address = theirs.address.clone();
                server.accepted = false;
            }
            mine.peer = Some(embryo.clone());
            mine.phase = Phase::Established;
            mine.peer_credentials = theirs.peer_credentials;
            theirs.pending.push_back(embryo);
            drop(mine);
            drop(theirs);
            listener.events.wake_all();
            self.events.wake_all();
            return Ok(());
        }
    }

    /// `accept`: the oldest connection waiting, as a socket of its own that inherits the
    /// listener's `SO_PASSCRED`. `EOPNOTSUPP` for datagram sockets, `EINVAL` unless
    /// listening (or once shut down for reading); waits by `SO_RCVTIMEO`.
    pub fn accept(&self, nonblock: bool, caller: &Caller) -> Result<Arc<Socket>, Errno> {
        if !self.kind.is_connection_based() {
            return Err(Errno::EOPNOTSUPP);
        }
        let patience = {
            let state = self.state.lock();
            if state.phase != Phase::Listening {
                return Err(Errno::EINVAL);
            }
            Patience::new(nonblock, state.options.rcvtimeo_us)
        };
        // Linux's `skb_recv_datagram`: one that may not wait is `EAGAIN` even once shut
        // down; one that may wait learns of the shutdown (`EINVAL`).
        let (connection, passcred) = loop {
            let shut = {
                let mut state = self.state.lock();
                if let Some(error) = state.error.take() {
                    return Err(error);
                }
                if let Some(connection) = state.pending.pop_front() {
                    break (connection, state.options.passcred);
                }
                state.shutdown_read
            };
            if patience.exhausted() {
                return Err(Errno::EAGAIN);
            }
            if shut {
                return Err(Errno::EINVAL);
            }
            patience.sleep(&self.events, caller.tid)?;
        };
        // Room in the backlog: connectors waiting for it may go on.
        self.events.wake_all();
        {
            let mut state = connection.state.lock();
            state.accepted = true;
            state.options.passcred = passcred;
        }
        Ok(connection)
    }

    /// `shutdown` (`how` already checked): this side stops reading and/or writing; for a
    /// connection the peer stops the other way round.
    pub fn shutdown(&self, read: bool, write: bool) {
        let peer = {
            let mut state = self.state.lock();
            state.shutdown_read |= read;
            state.shutdown_write |= write;
            state.peer.clone()
        };
        self.events.wake_all();
        if let Some(peer) = peer.filter(|_| self.kind.is_connection_based()) {
            {
                let mut theirs = peer.state.lock();
                theirs.shutdown_write |= read;
                theirs.shutdown_read |= write;
            }
            peer.events.wake_all();
        }
    }

    /// The socket's file closed (or, for a connection never accepted, its listener's):
    /// it leaves the name table, a connected peer sees the hang-up (and `ECONNRESET` if
    /// this side had unread data or was never accepted), waiting connections are closed,
    /// and the queued messages are dropped outside every lock.
    pub(super) fn release(self: &Arc<Self>) {
        let (peer, pending, purged, unread, embryo, node, room_waiters) = {
            let mut state = self.state.lock();
            state.dead = true;
            state.shutdown_read = true;
            state.shutdown_write = true;
            state.phase = Phase::Closed;
            let purged = state.queue.purge();
            let unread = !purged.is_empty();
            (
                state.peer.take(),
                core::mem::take(&mut state.pending),
                purged,
                unread,
                !state.accepted,
                state.node.take(),
                core::mem::take(&mut state.room_waiters),
            )
        };
        NAMES.lock().release(self);
        drop(node);
        self.events.wake_all();
        // Senders polling for room here may go on: their next send finds it closed.
        for waiter in room_waiters.iter().filter_map(Weak::upgrade) {
            waiter.events.wake_all();
        }
        if let Some(peer) = peer
            && self.kind.is_connection_based()
        {
            {
                let mut theirs = peer.state.lock();
                theirs.shutdown_read = true;
                theirs.shutdown_write = true;
                if unread || embryo {
                    theirs.error = Some(Errno::ECONNRESET);
                }
            }
            peer.events.wake_all();
        }
        for connection in pending {
            connection.release();
        }
        inflight::defer(purged);
        inflight::collect_if_in_flight();
    }

    /// `getsockname`: the bound name, or `None`.
    pub fn local_address(&self) -> Option<UnixAddress> {
        self.state.lock().address.clone()
    }

    /// `getpeername`: `ENOTCONN` without a peer, else the peer's name (if it has one).
    pub fn peer_address(&self) -> Result<Option<UnixAddress>, Errno> {
        let peer = self.state.lock().peer.clone().ok_or(Errno::ENOTCONN)?;
        Ok(peer.local_address())
    }

    /// The options, to read.
    pub fn options(&self) -> Options {
        self.state.lock().options
    }

    /// Changes the options with `change` (which may refuse); writers are woken, as a
    /// larger send buffer may let them go on.
    pub fn set_options(
        &self,
        change: impl FnOnce(&mut Options) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        change(&mut self.state.lock().options)?;
        self.events.wake_all();
        Ok(())
    }

    /// `SO_PEERCRED`: pid 0 and ids -1 when there is no peer to tell of.
    pub fn peer_credentials(&self) -> Ucred {
        self.state.lock().peer_credentials.unwrap_or(Ucred {
            pid: 0,
            uid: u32::MAX,
            gid: u32::MAX,
        })
    }

    /// `SO_ERROR`: the pending error, cleared.
    pub fn error_number(&self) -> i32 {
        self.take_error().map_or(0, |errno| errno.0)
    }

    /// `SO_ACCEPTCONN`.
    pub fn is_listening(&self) -> bool {
        self.state.lock().phase == Phase::Listening
    }

    /// `SIOCINQ`/`FIONREAD`: a stream's unread bytes, a datagram's length; `EINVAL` for a
    /// listener.
    pub fn input_waiting(&self) -> Result<usize, Errno> {
        let state = self.state.lock();
        if state.phase == Phase::Listening {
            return Err(Errno::EINVAL);
        }
        Ok(match self.kind {
            Kind::Datagram => state
                .queue
                .front()
                .map_or(0, |message| message.data().len()),
            _ => state.queue.unread(),
        })
    }

    /// `SIOCOUTQ`: bytes (with overhead) this socket sent that are not read yet.
    pub fn output_waiting(&self) -> usize {
        self.wmem.load(Ordering::Acquire)
    }

    /// Whether `wmem` leaves room for writers to be told so (`unix_writable`).
    fn writable(&self, state: &State) -> bool {
        state.phase != Phase::Listening
            && self.wmem.load(Ordering::Acquire) * 4 <= state.options.sndbuf as usize
    }

    /// What `poll` reports (Linux's `unix_poll` and `unix_dgram_poll`).
    pub fn readiness(self: &Arc<Self>) -> u16 {
        let (mut mask, writable, peer) = {
            let state = self.state.lock();
            let mut mask = 0;
            if state.error.is_some() {
                mask |= POLLERR;
            }
            if state.shutdown_read && state.shutdown_write {
                mask |= POLLHUP;
            }
            if state.shutdown_read {
                mask |= POLLRDHUP | POLLIN | POLLRDNORM;
            }
            if !state.queue.is_empty() || !state.pending.is_empty() {
                mask |= POLLIN | POLLRDNORM;
            }
            if self.kind.is_connection_based() && state.phase == Phase::Closed {
                mask |= POLLHUP;
            }
            (mask, self.writable(&state), state.peer.clone())
        };
        let mut writable = writable;
        if writable
            && self.kind != Kind::Stream
            && let Some(peer) = &peer
        {
            writable = !peer.full_for(self);
        }
        if writable {
            mask |= POLLOUT | POLLWRNORM | POLLWRBAND;
        }
        mask
    }

    /// Whether a datagram from `sender` must wait for room in this socket's queue (it is
    /// full and not connected back to `sender`); if so `sender` is told when there is
    /// room (Linux's `unix_dgram_peer_wake_me`).
    pub(super) fn full_for(&self, sender: &Arc<Socket>) -> bool {
        let mut state = self.state.lock();
        let connected_back = state
            .peer
            .as_ref()
            .is_some_and(|peer| Arc::ptr_eq(peer, sender));
        if state.dead || connected_back || state.queue.len() <= state.backlog {
            return false;
        }
        if !state
            .room_waiters
            .iter()
            .any(|waiter| core::ptr::eq(waiter.as_ptr(), Arc::as_ptr(sender)))
        {
            state
                .room_waiters
                .retain(|waiter| waiter.strong_count() > 0);
            state.room_waiters.push(Arc::downgrade(sender));
        }
        true
    }

    /// After a datagram left the queue: senders waiting for room hear of it once the
    /// queue is back within its bound.
    pub(super) fn wake_room_waiters(&self) {
        let waiters = {
            let mut state = self.state.lock();
            if state.room_waiters.is_empty() || state.queue.len() > state.backlog {
                return;
            }
            core::mem::take(&mut state.room_waiters)
        };
        self.events.wake_all();
        for waiter in waiters.iter().filter_map(Weak::upgrade) {
            waiter.events.wake_all();
        }
    }

    /// Descriptors in flight queued here, and at the connections waiting on a listener
    /// (the collector's walk).
    pub(super) fn in_flight_here(&self, found: &mut dyn FnMut(&InFlight)) {
        let pending: Vec<Arc<Socket>> = {
            let state = self.state.lock();
            state
                .queue
                .iter()
                .filter_map(|m| m.files.as_ref())
                .for_each(&mut *found);
            state.pending.iter().cloned().collect()
        };
        for connection in &pending {
            let state = connection.state.lock();
            state
                .queue
                .iter()
                .filter_map(|m| m.files.as_ref())
                .for_each(&mut *found);
        }
    }

    /// Takes every message queued here and at waiting connections (the collector found
    /// them unreachable).
    pub(super) fn purge_for_collector(&self, into: &mut Vec<Queued>) {
        let pending: Vec<Arc<Socket>> = {
            let mut state = self.state.lock();
            into.extend(state.queue.purge());
            state.pending.iter().cloned().collect()
        };
        for connection in &pending {
            into.extend(connection.state.lock().queue.purge());
        }
    }
}

/// The socket bound to `address` for a socket of `kind` to reach (`unix_find_other`). A
/// path is looked up as `connect` does (symlinks followed, write permission on the node:
/// `EACCES`); a node that is not a socket, or that no socket is bound to, is
/// `ECONNREFUSED`, as is an abstract name nobody holds; another type is `EPROTOTYPE`.
pub(super) fn find(
    kind: Kind,
    address: &UnixAddress,
    fs: &FsContext,
) -> Result<Arc<Socket>, Errno> {
    match address {
        UnixAddress::Abstract(name) => NAMES
            .lock()
            .find_abstract(kind.number(), name)
            .ok_or(Errno::ECONNREFUSED),
        UnixAddress::Path(path) => {
            let location = fs.resolve(At::Cwd, path, true)?;
            let stat = location.dentry.positive()?.getattr()?;
            check_access(&fs.cred, &stat, Access::WRITE)?;
            if stat.file_type() != Some(FileType::Socket) {
                return Err(Errno::ECONNREFUSED);
            }
            let socket = NAMES
                .lock()
                .find_node((stat.dev, stat.ino))
                .ok_or(Errno::ECONNREFUSED)?;
            if socket.kind != kind {
                return Err(Errno::EPROTOTYPE);
            }
            Ok(socket)
        }
    }
}

/// What one call to receive asks for.
pub struct Receiving<'a> {
    /// Room in the caller's buffers.
    pub len: usize,
    pub peek: bool,
    pub wait_all: bool,
    pub nonblock: bool,
    pub oob: bool,
    /// Takes the bytes, in order (`EFAULT` for a bad buffer).
    pub sink: &'a mut dyn FnMut(&[u8]) -> Result<(), Errno>,
}

impl Socket {
    /// `sendmsg` and its kin, by the socket's kind. `fs` resolves a path destination.
    pub fn send(
        self: &Arc<Self>,
        sending: Sending<'_>,
        fs: Option<&FsContext>,
        caller: &Caller,
    ) -> Result<usize, Errno> {
        match self.kind {
            Kind::Stream => super::stream::send(self, sending, caller),
            Kind::Datagram | Kind::SeqPacket => super::datagram::send(self, sending, fs, caller),
        }
    }

    /// `recvmsg` and its kin, by the socket's kind.
    pub fn receive(
        self: &Arc<Self>,
        receiving: Receiving<'_>,
        caller: &Caller,
    ) -> Result<Received, Errno> {
        match self.kind {
            Kind::Stream => super::stream::receive(self, receiving, caller),
            Kind::Datagram | Kind::SeqPacket => super::datagram::receive(self, receiving, caller),
        }
    }

    /// `connect`, by the socket's kind: `None` is `AF_UNSPEC` (a datagram socket
    /// dissolves its association).
    pub fn connect(
        self: &Arc<Self>,
        address: Option<&UnixAddress>,
        fs: &FsContext,
        nonblock: bool,
        caller: &Caller,
    ) -> Result<(), Errno> {
        match (self.kind, address) {
            (Kind::Datagram, address) => super::datagram::connect(self, address, fs),
            (_, Some(address)) => self.connect_stream(address, fs, nonblock, caller),
            (_, None) => Err(Errno::EINVAL),
        }
    }
}
