//! The 9P2000.L client: version/msize negotiation, one tag per request in flight, fids as
//! owned handles that clunk themselves, and reads, writes and directory reads split to fit
//! msize. It knows messages, not files: `mod.rs` and `node.rs` build the filesystem on it.
//!
//! Fid rules, so the server never accumulates fids we forgot:
//! - a fid number becomes a [`Fid`] only once the server confirmed it (attach, a complete
//!   walk, xattrwalk); dropping the `Fid` clunks it, whatever path the code took;
//! - a request that was answered with `Rlerror` (or a partial walk) created nothing: the
//!   number goes straight back to the pool;
//! - when we cannot tell (the transport failed, the reply was malformed) we clunk the
//!   number anyway, and if even that gets no answer the number is quarantined, never
//!   reused, because the server may still hold it.
//!
//! Lock order of the 9p client and filesystem (this file, `node.rs`, `attr_cache.rs`):
//! every lock is a leaf, taken, used and released without taking another lock and without
//! sending a request. Here: `tags`, `fids`, `buffers` (each taken on its own, around a
//! request, never across it). In `node.rs`: an inode's `open`, `children`, `origin` and
//! `symlink_target`; in `attr_cache.rs`: the cache's `state`; in `listing.rs`: a
//! directory's listing slot and the mount's list of them; in `batch.rs`: a directory's
//! `recent`. An inode going away gives its attributes back to its directory's listing
//! (taking that slot's lock alone). Below all of them, a round
//! trip takes the transport's own lock (the virtio-9p device lock, from submit to reply),
//! always with none of these held. Above them, the VFS may hold its own locks (see
//! `dentry.rs`) when it calls into the filesystem. Because a [`Fid`] clunks itself when
//! dropped (a round trip), no lock here may be held where a `Fid`, or an inode owning one,
//! can drop: an `Option<Arc<Fid>>` is only filled while locked, never overwritten.

use super::ids::IdPool;
use super::message::{
    Attr, Dirent, Dirents, FsStats, MAX_WALK_NAMES, NOFID, NOTAG, Qid, READ_REPLY_OVERHEAD, Reply,
    Request, SetAttrFields, WRITE_REQUEST_OVERHEAD,
};
use super::queue::Buffers;
use super::transport::Transport;
use super::wire::Data;
use crate::budget::MemoryBudget;
use crate::errno::{Errno, Result};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;

/// The protocol this client speaks.
pub const VERSION: &[u8] = b"9P2000.L";
/// Names one submission of [`Client::getattr_names`] walks (with as many getattrs and
/// clunks beside them: three groups fill the queue's window).
const PIPELINE_GROUP: usize = super::queue::WINDOW / 3;
/// The largest msize the client proposes (what Linux's 9p clamps to, rounded up to a page).
pub const MAX_MSIZE: u32 = 512 * 1024;
/// The smallest msize worth using: a page of data per read plus headers.
pub const MIN_MSIZE: u32 = 4096 + 64;

/// Why an exchange failed, as far as fid bookkeeping cares.
pub(super) enum Failure {
    /// The server answered `Rlerror`: the request took no effect on fids.
    Server(Errno),
    /// No usable answer (transport error, malformed or mismatched reply): the server's
    /// state is unknown.
    Protocol(Errno),
}

impl Failure {
    pub(super) fn errno(self) -> Errno {
        match self {
            Failure::Server(errno) | Failure::Protocol(errno) => errno,
        }
    }
}

/// Fids the servers hold for every client together: what the kernel shows at
/// `/sys/kernel/debug/9p/fids`, so a long run can watch it stay flat.
static FIDS_OF_ALL_CLIENTS: AtomicU64 = AtomicU64::new(0);
/// Fid numbers every client gave up on (see [`ClientStats::quarantined_fids`]).
static QUARANTINED_OF_ALL_CLIENTS: AtomicU64 = AtomicU64::new(0);

/// Fid counts over every [`Client`] of this kernel (each client's own are in
/// [`ClientStats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllClientsFids {
    /// Fids the servers hold for us right now.
    pub in_use: u64,
    /// Fid numbers abandoned because a server may still hold them.
    pub quarantined: u64,
}

pub fn all_clients_fids() -> AllClientsFids {
    AllClientsFids {
        in_use: FIDS_OF_ALL_CLIENTS.load(Ordering::Relaxed),
        quarantined: QUARANTINED_OF_ALL_CLIENTS.load(Ordering::Relaxed),
    }
}

/// Counters for tests, benchmarks and the kernel's log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Requests sent, version negotiation excluded.
    pub requests: u64,
    /// Fids the server holds for us right now.
    pub live_fids: u64,
    /// Clunks the server answered with an error (the fid is gone regardless).
    pub clunk_errors: u64,
    /// Fid numbers given up on because the server may still hold them.
    pub quarantined_fids: u64,
    /// Replies that were unusable: another request's tag, malformed, of the wrong type.
    pub bad_replies: u64,
    /// Requests flushed (`Tflush`) because their wait was interrupted.
    pub flushes: u64,
    /// Tags held by requests on their way (and by any the transport lost).
    pub tags_in_use: u64,
    /// Groups of requests handed to the transport together: the waits a caller sat
    /// through, as many requests as it kept outstanding at once counting as one.
    pub submissions: u64,
}

/// A connection to one 9P server over one [`Transport`], after version negotiation.
pub struct Client {
    pub(super) channel: Arc<dyn Transport>,
    pub(super) msize: u32,
    pub(super) tags: Mutex<IdPool>,
    fids: Mutex<IdPool>,
    /// Buffers reused between requests (see `queue.rs`).
    pub(super) buffers: Mutex<Buffers>,
    /// What the buffers of exchanges are charged to (see `queue.rs`): the budget of the
    /// mounts over this connection; one that never refuses until one is attached.
    pub(super) budget: Mutex<Arc<MemoryBudget>>,
    pub(super) requests: AtomicU64,
    /// See [`ClientStats::submissions`].
    pub(super) submissions: AtomicU64,
    /// Requests that may have changed something on the server ([`Request::changes_server`]).
    pub(super) changes: AtomicU64,
    /// Replies that named another request's tag, or came back malformed.
    pub(super) bad_replies: AtomicU64,
    /// Requests flushed after an interrupted wait.
    pub(super) flushes: AtomicU64,
    live_fids: AtomicU64,
    clunk_errors: AtomicU64,
    quarantined_fids: AtomicU64,
}

impl Client {
    /// Negotiates the version and msize (the smallest of the channel's limit, the server's
    /// and [`MAX_MSIZE`]) and returns a client ready to attach.
    pub fn connect(channel: Arc<dyn Transport>) -> Result<Arc<Client>> {
        let proposed = channel.max_message_size().min(MAX_MSIZE);
        if proposed < MIN_MSIZE {
            return Err(Errno::EINVAL);
        }
        let mut request = Vec::new();
        Request::Version {
            msize: proposed,
            version: VERSION,
        }
        .encode(NOTAG, &mut request)?;
        let mut reply = vec![0u8; proposed as usize];
        let length = channel.round_trip(&request, &mut reply)?;
        let bytes = reply.get(..length).ok_or(Errno::EIO)?;
        let msize = match Reply::decode(bytes)? {
            (NOTAG, Reply::Version { msize, version }) => {
                if version != VERSION {
                    return Err(Errno::EPROTO);
                }
                if !(MIN_MSIZE..=proposed).contains(&msize) {
                    return Err(Errno::EIO);
                }
                msize
            }
            (NOTAG, Reply::Lerror { errno }) => return Err(errno_from_server(errno)),
            _ => return Err(Errno::EIO),
        };
        // The version reply's room is the first pooled reply buffer.
        reply.truncate(msize as usize);
        Ok(Arc::new(Client {
            channel,
            msize,
            tags: Mutex::new(IdPool::new(NOTAG as u32)),
            fids: Mutex::new(IdPool::new(NOFID)),
            buffers: Mutex::new(Buffers::with_large_reply(reply)),
            budget: Mutex::new(MemoryBudget::unlimited()),
            requests: AtomicU64::new(0),
            submissions: AtomicU64::new(0),
            changes: AtomicU64::new(0),
            bad_replies: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            live_fids: AtomicU64::new(0),
            clunk_errors: AtomicU64::new(0),
            quarantined_fids: AtomicU64::new(0),
        }))
    }

    /// Charges the buffers of later exchanges to `budget`.
    pub fn charge_to(&self, budget: &Arc<MemoryBudget>) {
        *self.budget.lock() = budget.clone();
    }

    /// The negotiated maximum message size.
    pub fn msize(&self) -> u32 {
        self.msize
    }

    /// Requests sent so far: what shared mounts stamp fetched attributes with.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests sent so far that may have changed something on the server.
    pub fn changes_sent(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.requests.load(Ordering::Relaxed),
            live_fids: self.live_fids.load(Ordering::Relaxed),
            clunk_errors: self.clunk_errors.load(Ordering::Relaxed),
            quarantined_fids: self.quarantined_fids.load(Ordering::Relaxed),
            bad_replies: self.bad_replies.load(Ordering::Relaxed),
            flushes: self.flushes.load(Ordering::Relaxed),
            tags_in_use: u64::from(self.tags.lock().in_use()),
            submissions: self.submissions.load(Ordering::Relaxed),
        }
    }

    /// Attaches to the tree `aname` as user `uname`/`n_uname`: the root fid of a mount.
    pub fn attach(
        self: &Arc<Self>,
        uname: &[u8],
        aname: &[u8],
        n_uname: u32,
    ) -> Result<(Fid, Qid)> {
        self.with_new_fid(
            |fid| Request::Attach {
                fid,
                afid: NOFID,
                uname,
                aname,
                n_uname,
            },
            |reply| match reply {
                Reply::Attach { qid } => Ok(Some(qid)),
                _ => Err(Errno::EIO),
            },
        )
    }

    /// Sends `request` and hands its success reply (already checked to be the matching
    /// R-message) to `on_reply`; `Rlerror` becomes its errno. Requests that create fids
    /// (attach, walk, xattrwalk) belong to [`Client::attach`] and the [`Fid`] methods,
    /// which keep the fid books.
    pub fn call<T>(
        &self,
        request: &Request<'_>,
        on_reply: impl FnOnce(Reply<'_>) -> Result<T>,
    ) -> Result<T> {
        self.exchange(request, on_reply).map_err(Failure::errno)
    }

    fn exchange<T>(
        &self,
        request: &Request<'_>,
        on_reply: impl FnOnce(Reply<'_>) -> Result<T>,
    ) -> core::result::Result<T, Failure> {
        let interruptible = !matches!(request, Request::Clunk { .. } | Request::Flush { .. });
        let mut on_reply = Some(on_reply);
        self.exchange_all(core::slice::from_ref(request), interruptible, |_, reply| {
            (on_reply.take().ok_or(Errno::EIO)?)(reply)
        })
        .pop()
        .unwrap_or(Err(Failure::Protocol(Errno::EIO)))
    }

    /// `Tread` with the reply's data written by the transport straight into `target`
    /// (`Rread`'s fixed part, size[4] type[1] tag[2] count[4], is exactly as long as
    /// `Rlerror`, so both fit the same header buffer). Checked as strictly as a decoded
    /// reply: any inconsistency is `EIO`.
    fn read_direct(&self, fid: u32, offset: u64, target: &mut [u8]) -> Result<usize> {
        const RLERROR: u8 = 7;
        const RREAD: u8 = 117;
        const FIXED: usize = 11;
        let tag = self.tags.lock().allocate().ok_or(Errno::EAGAIN)? as u16;
        let mut request_buf = self.take_request_buffer();
        let result = (|| {
            Request::Read {
                fid,
                offset,
                count: target.len() as u32,
            }
            .encode(tag, &mut request_buf)?;
            self.requests.fetch_add(1, Ordering::Relaxed);
            self.submissions.fetch_add(1, Ordering::Relaxed);
            super::counts::sent(RREAD - 1, 1);
            let mut header = [0u8; FIXED];
            let length = self
                .channel
                .round_trip_split(&request_buf, &mut header, target)?;
            let size = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let reply_tag = u16::from_le_bytes([header[5], header[6]]);
            let field = u32::from_le_bytes([header[7], header[8], header[9], header[10]]);
            if length < FIXED || size != length || reply_tag != tag {
                return Err(Errno::EIO);
            }
            match header[4] {
                RLERROR if length == FIXED => Err(errno_from_server(field)),
                RREAD if field as usize == length - FIXED && field as usize <= target.len() => {
                    super::counts::read(field as usize);
                    Ok(field as usize)
                }
                _ => Err(Errno::EIO),
            }
        })();
        self.give_back(request_buf, Vec::new());
        self.tags.lock().release(u32::from(tag));
        result
    }

    /// `Twrite` whose data leaves from `data` itself, behind a header built here, so a
    /// large write is not copied into a request buffer first. The reply is decoded and
    /// checked like any other.
    fn write_direct(&self, fid: u32, offset: u64, data: &[u8]) -> Result<usize> {
        const TWRITE: u8 = 118;
        const HEADER: usize = 23;
        let size = u32::try_from(HEADER + data.len()).map_err(|_| Errno::EMSGSIZE)?;
        if size > self.msize {
            return Err(Errno::EMSGSIZE);
        }
        let tag = self.tags.lock().allocate().ok_or(Errno::EAGAIN)? as u16;
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&size.to_le_bytes());
        header[4] = TWRITE;
        header[5..7].copy_from_slice(&tag.to_le_bytes());
        header[7..11].copy_from_slice(&fid.to_le_bytes());
        header[11..19].copy_from_slice(&offset.to_le_bytes());
        header[19..23].copy_from_slice(&(data.len() as u32).to_le_bytes());
        // A small reply, never charged.
        let mut reply_buf = match self.take_reply_buffer(false, &mut None) {
            Ok(buffer) => buffer,
            Err(errno) => {
                self.tags.lock().release(u32::from(tag));
                return Err(errno);
            }
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.submissions.fetch_add(1, Ordering::Relaxed);
        super::counts::sent(TWRITE, 1);
        // A write, sent apart from the queue.
        self.changes.fetch_add(1, Ordering::Relaxed);
        let result = (|| {
            let length = self
                .channel
                .round_trip_gather(&header, data, &mut reply_buf)?;
            let (reply_tag, reply) = Reply::decode(reply_buf.get(..length).ok_or(Errno::EIO)?)?;
            match reply {
                _ if reply_tag != tag => Err(Errno::EIO),
                Reply::Lerror { errno } => Err(errno_from_server(errno)),
                Reply::Write { count } if count as usize <= data.len() => Ok(count as usize),
                _ => Err(Errno::EIO),
            }
        })();
        self.give_back(Vec::new(), reply_buf);
        self.tags.lock().release(u32::from(tag));
        result
    }

    /// Runs a request that creates a fid: `accept` returns `Some` when the server made it
    /// and `None` when it answered without making it (a walk that stopped short).
    fn with_new_fid<'r, T>(
        self: &Arc<Self>,
        request: impl FnOnce(u32) -> Request<'r>,
        accept: impl FnOnce(Reply<'_>) -> Result<Option<T>>,
    ) -> Result<(Fid, T)> {
        let id = self.fids.lock().allocate().ok_or(Errno::EMFILE)?;
        let outcome = self.exchange(&request(id), accept);
        self.settle_new_fid(id, outcome)
    }

    /// The fid books after a request that may have made fid `id`.
    fn settle_new_fid<T>(
        self: &Arc<Self>,
        id: u32,
        outcome: core::result::Result<Option<T>, Failure>,
    ) -> Result<(Fid, T)> {
        match outcome {
            Ok(Some(value)) => {
                self.live_fids.fetch_add(1, Ordering::Relaxed);
                FIDS_OF_ALL_CLIENTS.fetch_add(1, Ordering::Relaxed);
                Ok((
                    Fid {
                        client: self.clone(),
                        id,
                    },
                    value,
                ))
            }
            Ok(None) => {
                self.fids.lock().release(id);
                Err(Errno::ENOENT)
            }
            Err(Failure::Server(errno)) => {
                self.fids.lock().release(id);
                Err(errno)
            }
            Err(Failure::Protocol(errno)) => {
                self.clunk_unknown(id);
                Err(errno)
            }
        }
    }

    /// One new fid per name, each walked one step from `dir`, the walks sent together
    /// and their replies taken as they come: a missing name is `ENOENT` for its slot
    /// alone.
    pub fn walk_each(self: &Arc<Self>, dir: &Fid, names: &[&[u8]]) -> Vec<Result<(Fid, Qid)>> {
        let mut ids = Vec::with_capacity(names.len());
        for _ in names {
            ids.push(self.fids.lock().allocate());
        }
        let requests: Vec<Request<'_>> = names
            .iter()
            .zip(&ids)
            .filter_map(|(name, id)| {
                id.map(|new_fid| Request::Walk {
                    fid: dir.id,
                    new_fid,
                    names: vec![*name],
                })
            })
            .collect();
        let mut outcomes = self
            .exchange_all(&requests, true, |_, reply| match reply {
                Reply::Walk { qids } if qids.len() == 1 => Ok(Some(qids[0])),
                Reply::Walk { qids } if qids.is_empty() => Ok(None),
                _ => Err(Errno::EIO),
            })
            .into_iter();
        ids.into_iter()
            .map(|id| match id {
                Some(id) => {
                    let outcome = outcomes
                        .next()
                        .unwrap_or(Err(Failure::Protocol(Errno::EIO)));
                    self.settle_new_fid(id, outcome)
                }
                None => Err(Errno::EMFILE),
            })
            .collect()
    }

    /// The attributes of every fid, asked together.
    pub fn getattr_each(&self, fids: &[&Fid], request_mask: u64) -> Vec<Result<Attr>> {
        let requests: Vec<Request<'_>> = fids
            .iter()
            .map(|fid| Request::GetAttr {
                fid: fid.id,
                request_mask,
            })
            .collect();
        self.exchange_all(&requests, true, |_, reply| match reply {
            Reply::GetAttr { attr } => Ok(attr),
            _ => Err(Errno::EIO),
        })
        .into_iter()
        .map(|result| result.map_err(Failure::errno))
        .collect()
    }

    /// The attributes of each of `names` in the directory `dir`, through a pipeline: one
    /// submission carries the walks of a group of names, the getattrs of the group walked
    /// before and the clunks of the group before that, so each group costs one wait
    /// instead of three. A missing name or a failed step is an error for its slot alone;
    /// every fid made is clunked before this returns. Not interruptible (it holds fids
    /// until its last submission).
    pub fn getattr_names(
        self: &Arc<Self>,
        dir: &Fid,
        names: &[&[u8]],
        request_mask: u64,
    ) -> Vec<Result<Attr>> {
        enum Out {
            Clunked,
            Attr(Attr),
            Walked(bool),
        }
        let mut results: Vec<Result<Attr>> = names.iter().map(|_| Err(Errno::EIO)).collect();
        // (name index, fid) walked by the last submission: their getattrs go next.
        let mut walked: Vec<(usize, u32)> = Vec::new();
        // Fids asked for attributes by the last submission: their clunks go next.
        let mut asked: Vec<u32> = Vec::new();
        let mut next = 0;
        loop {
            let end = (next + PIPELINE_GROUP).min(names.len());
            let mut walking = Vec::with_capacity(end - next);
            for (index, slot) in results.iter_mut().enumerate().take(end).skip(next) {
                match self.fids.lock().allocate() {
                    Some(id) => walking.push((index, id)),
                    None => *slot = Err(Errno::EMFILE),
                }
            }
            next = end;
            if walking.is_empty() && walked.is_empty() && asked.is_empty() {
                if next >= names.len() {
                    return results;
                }
                continue;
            }
            let clunks = asked.iter().map(|&fid| Request::Clunk { fid });
            let getattrs = walked
                .iter()
                .map(|&(_, fid)| Request::GetAttr { fid, request_mask });
            let walks = walking.iter().map(|&(index, new_fid)| Request::Walk {
                fid: dir.id,
                new_fid,
                names: vec![names[index]],
            });
            let requests: Vec<Request<'_>> = clunks.chain(getattrs).chain(walks).collect();
            self.live_fids
                .fetch_sub(asked.len() as u64, Ordering::Relaxed);
            FIDS_OF_ALL_CLIENTS.fetch_sub(asked.len() as u64, Ordering::Relaxed);
            let mut outcomes = self
                .exchange_all(&requests, false, |_, reply| match reply {
                    Reply::Clunk {} => Ok(Out::Clunked),
                    Reply::GetAttr { attr } => Ok(Out::Attr(attr)),
                    Reply::Walk { qids } if qids.len() == 1 => Ok(Out::Walked(true)),
                    Reply::Walk { qids } if qids.is_empty() => Ok(Out::Walked(false)),
                    _ => Err(Errno::EIO),
                })
                .into_iter();
            let mut outcome = || {
                outcomes
                    .next()
                    .unwrap_or(Err(Failure::Protocol(Errno::EIO)))
            };
            for id in asked.drain(..) {
                let clunked = outcome().map(|_| ());
                self.settle_clunk(id, clunked);
            }
            for &(index, id) in &walked {
                results[index] = match outcome() {
                    Ok(Out::Attr(attr)) => Ok(attr),
                    Ok(_) => Err(Errno::EIO),
                    Err(failure) => Err(failure.errno()),
                };
                asked.push(id);
            }
            walked.clear();
            for (index, id) in walking {
                let made = outcome().map(|out| matches!(out, Out::Walked(true)).then_some(()));
                match self.settle_new_fid(id, made) {
                    Ok((fid, ())) => walked.push((index, fid.into_id())),
                    Err(errno) => results[index] = Err(errno),
                }
            }
        }
    }

    /// Clunks every fid, the clunks sent together.
    pub fn clunk_each(&self, fids: Vec<Fid>) {
        let ids: Vec<u32> = fids.into_iter().map(Fid::into_id).collect();
        self.live_fids
            .fetch_sub(ids.len() as u64, Ordering::Relaxed);
        FIDS_OF_ALL_CLIENTS.fetch_sub(ids.len() as u64, Ordering::Relaxed);
        let requests: Vec<Request<'_>> = ids.iter().map(|&fid| Request::Clunk { fid }).collect();
        let outcomes = self.exchange_all(&requests, false, |_, _| Ok(()));
        for (id, outcome) in ids.into_iter().zip(outcomes) {
            self.settle_clunk(id, outcome);
        }
    }

    /// Clunks a fid the server holds; the number is free again whatever the answer, as 9P
    /// says a clunk always releases the fid.
    fn clunk(&self, id: u32) {
        self.live_fids.fetch_sub(1, Ordering::Relaxed);
        FIDS_OF_ALL_CLIENTS.fetch_sub(1, Ordering::Relaxed);
        let outcome = self.exchange(&Request::Clunk { fid: id }, |_| Ok(()));
        self.settle_clunk(id, outcome);
    }

    fn settle_clunk(&self, id: u32, outcome: core::result::Result<(), Failure>) {
        match outcome {
            Ok(()) => self.fids.lock().release(id),
            Err(Failure::Server(errno)) => {
                self.clunk_errors.fetch_add(1, Ordering::Relaxed);
                log::warn!("9p: clunk of fid {id} failed: {errno}");
                self.fids.lock().release(id);
            }
            Err(Failure::Protocol(errno)) => self.quarantine(id, errno),
        }
    }

    /// Clunks a number the server may or may not hold after a failed exchange; `EBADF`
    /// (it never made it) is the expected answer, not an error.
    fn clunk_unknown(&self, id: u32) {
        match self.exchange(&Request::Clunk { fid: id }, |_| Ok(())) {
            Ok(()) | Err(Failure::Server(_)) => self.fids.lock().release(id),
            Err(Failure::Protocol(errno)) => self.quarantine(id, errno),
        }
    }

    fn quarantine(&self, id: u32, errno: Errno) {
        self.quarantined_fids.fetch_add(1, Ordering::Relaxed);
        QUARANTINED_OF_ALL_CLIENTS.fetch_add(1, Ordering::Relaxed);
        log::warn!("9p: fid {id} abandoned after a failed clunk: {errno}");
    }

    /// The largest payload one `Tread`/`Treaddir` may ask for.
    fn max_read_payload(&self) -> usize {
        self.msize as usize - READ_REPLY_OVERHEAD
    }

    fn max_write_payload(&self) -> usize {
        self.msize as usize - WRITE_REQUEST_OVERHEAD
    }
}

/// Linux's errno from an `Rlerror`; a value outside Linux's range is a broken reply.
pub(super) fn errno_from_server(errno: u32) -> Errno {
    match i32::try_from(errno) {
        Ok(value @ 1..=4095) => Errno(value),
        _ => Errno::EIO,
    }
}

/// A fid the server holds for us. Dropping it clunks it, so every path out of the code
/// that made it (success, error, early return) gives it back.
pub struct Fid {
    client: Arc<Client>,
    id: u32,
}

impl core::fmt::Debug for Fid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Fid({})", self.id)
    }
}

impl Drop for Fid {
    fn drop(&mut self) {
        if self.id != NOFID {
            self.client.clunk(self.id);
        }
    }
}

impl Fid {
    /// The number, no longer clunked when this handle drops: the caller clunks it.
    fn into_id(mut self) -> u32 {
        core::mem::replace(&mut self.id, NOFID)
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// A new fid for the file `names` lead to from this one (a clone when `names` is
    /// empty), with the qid of every step. Paths longer than one `Twalk` may carry are
    /// walked in pieces; a missing step is `ENOENT` and leaves no fid behind.
    pub fn walk(&self, names: &[&[u8]]) -> Result<(Fid, Vec<Qid>)> {
        let mut chunks = names.chunks(MAX_WALK_NAMES);
        let first = chunks.next().unwrap_or(&[]);
        let (mut current, mut qids) = self.walk_once(first)?;
        for chunk in chunks {
            let (next, more) = current.walk_once(chunk)?;
            qids.extend(more);
            current = next;
        }
        Ok((current, qids))
    }

    fn walk_once(&self, names: &[&[u8]]) -> Result<(Fid, Vec<Qid>)> {
        self.client.with_new_fid(
            |new_fid| Request::Walk {
                fid: self.id,
                new_fid,
                names: names.to_vec(),
            },
            |reply| match reply {
                Reply::Walk { qids } if qids.len() == names.len() => Ok(Some(qids)),
                Reply::Walk { qids } if qids.len() < names.len() => Ok(None),
                _ => Err(Errno::EIO),
            },
        )
    }

    pub fn getattr(&self, request_mask: u64) -> Result<Attr> {
        self.client.call(
            &Request::GetAttr {
                fid: self.id,
                request_mask,
            },
            |reply| match reply {
                Reply::GetAttr { attr } => Ok(attr),
                _ => Err(Errno::EIO),
            },
        )
    }

    pub fn setattr(&self, fields: &SetAttrFields) -> Result<()> {
        self.client.call(
            &Request::SetAttr {
                fid: self.id,
                fields: *fields,
            },
            |_| Ok(()),
        )
    }

    /// Opens this fid for I/O (it can no longer be walked from); returns the qid and the
    /// server's iounit.
    pub fn lopen(&self, flags: u32) -> Result<(Qid, u32)> {
        self.client.call(
            &Request::Lopen {
                fid: self.id,
                flags,
            },
            |reply| match reply {
                Reply::Lopen { qid, iounit } => Ok((qid, iounit)),
                _ => Err(Errno::EIO),
            },
        )
    }

    /// Creates and opens `name` in the directory this fid names; on success this fid names
    /// the new file, open with `flags`.
    pub fn lcreate(&self, name: &[u8], flags: u32, mode: u32, gid: u32) -> Result<(Qid, u32)> {
        self.client.call(
            &Request::Lcreate {
                fid: self.id,
                name,
                flags,
                mode,
                gid,
            },
            |reply| match reply {
                Reply::Lcreate { qid, iounit } => Ok((qid, iounit)),
                _ => Err(Errno::EIO),
            },
        )
    }

    /// Reads at `offset` into `buf` in as many requests as msize demands; stops early at
    /// end of file (a short reply).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let want = (buf.len() - done).min(self.client.max_read_payload());
            let position = offset.checked_add(done as u64).ok_or(Errno::EINVAL)?;
            let target = &mut buf[done..done + want];
            let got = self.client.read_direct(self.id, position, target)?;
            done += got;
            if got < want {
                break;
            }
        }
        Ok(done)
    }

    /// Writes `data` at `offset` in as many requests as msize demands; stops early when the
    /// server takes less than it was given (a full disk), returning what was written.
    pub fn write_at(&self, offset: u64, data: &[u8]) -> Result<usize> {
        let mut done = 0;
        while done < data.len() {
            let chunk = &data[done..data.len().min(done + self.client.max_write_payload())];
            let position = offset.checked_add(done as u64).ok_or(Errno::EFBIG)?;
            let written = self.client.write_direct(self.id, position, chunk)?;
            done += written;
            if written < chunk.len() {
                break;
            }
        }
        Ok(done)
    }

    /// Reads directory entries from `offset` (0 = the start, else an entry's `offset`) on
    /// an opened directory fid, handing each to `on_entry` until it returns false or the
    /// directory ends.
    pub fn readdir(
        &self,
        offset: u64,
        on_entry: &mut dyn FnMut(&Dirent<'_>) -> bool,
    ) -> Result<()> {
        let count = self.client.max_read_payload() as u32;
        let mut offset = offset;
        let mut cycle = CookieCycle::new(offset);
        loop {
            let next = self.client.call(
                &Request::Readdir {
                    fid: self.id,
                    offset,
                    count,
                },
                |reply| {
                    let Reply::Readdir {
                        data: Data(payload),
                    } = reply
                    else {
                        return Err(Errno::EIO);
                    };
                    let mut last = None;
                    for entry in Dirents::new(payload) {
                        let entry = entry?;
                        if !on_entry(&entry) {
                            return Ok(None);
                        }
                        last = Some(entry.offset);
                    }
                    // A non-empty reply whose last cookie is where we started would loop
                    // forever: the server is broken.
                    match last {
                        Some(last) if last == offset => Err(Errno::EIO),
                        last => Ok(last),
                    }
                },
            )?;
            match next {
                Some(next) => {
                    cycle.step(next)?;
                    offset = next;
                }
                None => return Ok(()),
            }
        }
    }

    pub fn mkdir(&self, name: &[u8], mode: u32, gid: u32) -> Result<Qid> {
        self.client.call(
            &Request::Mkdir {
                dir_fid: self.id,
                name,
                mode,
                gid,
            },
            reply_qid,
        )
    }

    pub fn mknod(&self, name: &[u8], mode: u32, major: u32, minor: u32, gid: u32) -> Result<Qid> {
        self.client.call(
            &Request::Mknod {
                dir_fid: self.id,
                name,
                mode,
                major,
                minor,
                gid,
            },
            reply_qid,
        )
    }

    pub fn symlink(&self, name: &[u8], target: &[u8], gid: u32) -> Result<Qid> {
        self.client.call(
            &Request::Symlink {
                dir_fid: self.id,
                name,
                target,
                gid,
            },
            reply_qid,
        )
    }

    pub fn readlink(&self) -> Result<Vec<u8>> {
        self.client
            .call(&Request::Readlink { fid: self.id }, |reply| match reply {
                Reply::Readlink { target } => Ok(target.to_vec()),
                _ => Err(Errno::EIO),
            })
    }

    /// Makes `name` in this directory a new link to `target`.
    pub fn link(&self, target: &Fid, name: &[u8]) -> Result<()> {
        self.client.call(
            &Request::Link {
                dir_fid: self.id,
                fid: target.id,
                name,
            },
            |_| Ok(()),
        )
    }

    pub fn unlinkat(&self, name: &[u8], flags: u32) -> Result<()> {
        self.client.call(
            &Request::UnlinkAt {
                dir_fid: self.id,
                name,
                flags,
            },
            |_| Ok(()),
        )
    }

    pub fn renameat(&self, old_name: &[u8], new_dir: &Fid, new_name: &[u8]) -> Result<()> {
        let request = Request::RenameAt {
            old_dir_fid: self.id,
            old_name,
            new_dir_fid: new_dir.id,
            new_name,
        };
        self.client.call(&request, |_| Ok(()))
    }

    pub fn fsync(&self, datasync: bool) -> Result<()> {
        self.client.call(
            &Request::Fsync {
                fid: self.id,
                datasync: u32::from(datasync),
            },
            |_| Ok(()),
        )
    }

    pub fn statfs(&self) -> Result<FsStats> {
        self.client
            .call(&Request::StatFs { fid: self.id }, |reply| match reply {
                Reply::StatFs { stats } => Ok(stats),
                _ => Err(Errno::EIO),
            })
    }

    /// A fid for reading the extended attribute `name` (all names when empty) and its size.
    pub fn xattrwalk(&self, name: &[u8]) -> Result<(Fid, u64)> {
        self.client.with_new_fid(
            |new_fid| Request::XattrWalk {
                fid: self.id,
                new_fid,
                name,
            },
            |reply| match reply {
                Reply::XattrWalk { size } => Ok(Some(size)),
                _ => Err(Errno::EIO),
            },
        )
    }
}

fn reply_qid(reply: Reply<'_>) -> Result<Qid> {
    match reply {
        Reply::Mkdir { qid } | Reply::Mknod { qid } | Reply::Symlink { qid } => Ok(qid),
        _ => Err(Errno::EIO),
    }
}

/// Watches the cookies one directory read follows for a cycle (A → B → A) that a broken or
/// hostile server could return, which would otherwise make a whole-directory read (an
/// overlay merge, an emptiness check) loop and grow memory forever. Brent's algorithm:
/// constant memory, and a cycle is seen within twice its length in extra replies.
struct CookieCycle {
    mark: u64,
    steps: u64,
    power: u64,
}

impl CookieCycle {
    fn new(start: u64) -> CookieCycle {
        CookieCycle {
            mark: start,
            steps: 0,
            power: 1,
        }
    }

    /// The next cookie the read goes on from; `EIO` once the sequence has come back.
    fn step(&mut self, cookie: u64) -> Result<()> {
        if cookie == self.mark {
            log::warn!("9p: the server's directory cookies form a cycle; read stopped");
            return Err(Errno::EIO);
        }
        self.steps += 1;
        if self.steps == self.power {
            self.mark = cookie;
            self.power = self.power.saturating_mul(2);
            self.steps = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod cookie_cycle_tests {
    use super::*;

    fn first_error(start: u64, cookies: impl Iterator<Item = u64>) -> Option<usize> {
        let mut cycle = CookieCycle::new(start);
        cookies
            .enumerate()
            .find_map(|(index, cookie)| cycle.step(cookie).err().map(|_| index))
    }

    #[test]
    fn a_rising_sequence_is_never_a_cycle() {
        assert_eq!(first_error(0, 1..100_000), None);
    }

    #[test]
    fn a_cycle_back_to_the_start_or_midway_is_seen_within_twice_its_length() {
        for length in 1..40u64 {
            // 0, 1, ..., length - 1, then back to 0 forever.
            let cookies = (1..).map(move |index| index % length);
            let seen = first_error(0, cookies).unwrap();
            assert!(seen as u64 <= 3 * length + 2, "length {length}: {seen}");
            // A tail of 5 before a cycle of `length` among later cookies.
            let cookies =
                (1..).map(move |index: u64| if index < 5 { index } else { 5 + index % length });
            assert!(first_error(0, cookies).is_some(), "tail, length {length}");
        }
    }
}
