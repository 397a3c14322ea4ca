//! The socket system calls: `socket`, `socketpair`, `bind`, `listen`, `accept`/`accept4`,
//! `connect`, `getsockname`, `getpeername`, `sendto`/`recvfrom`, `sendmsg`/`recvmsg`,
//! `sendmmsg`/`recvmmsg`, `shutdown`, `setsockopt`/`getsockopt`, and `read`, `write`,
//! `readv`, `writev` and the queue `ioctl`s on a socket. They decode user memory
//! (addresses, `msghdr`, `iovec`s, control messages, options) with Linux's checks and
//! call the sockets of `net::unix`; every user pointer is `EFAULT` when bad.
//!
//! Only `AF_UNIX` exists: other families are `EAFNOSUPPORT` (networking comes later).

use alloc::sync::Arc;
use alloc::vec::Vec;

use vfs_core::{Errno, OpenFile};

use super::{SysResult, read_in, write_out};
use crate::mm::address_space::Access;
use crate::net::msghdr::{
    self, CONTROLLEN_OFFSET, FLAGS_OFFSET, IOVEC_LEN, MAX_RW_COUNT, MMSG_LEN_OFFSET, MMSGHDR_LEN,
    MSGHDR_LEN, MsgHdr, NAMELEN_OFFSET,
};
use crate::net::unix::address::{self, UnixAddress};
use crate::net::unix::control::{self, ControlOut, SCM_CREDENTIALS, Ucred};
use crate::net::unix::options::{self, MIN_RCVBUF, MIN_SNDBUF};
use crate::net::unix::{Caller, InFlight, Kind, Received, Receiving, Sending, Socket};
use crate::net::*;
use crate::process::Process;

/// The socket behind `fd`: `EBADF` if it is not open, `ENOTSOCK` if it is not a socket.
fn socket_fd(p: &Process, fd: i32) -> Result<(Arc<OpenFile>, Arc<Socket>), Errno> {
    let file = p.files.lock().get(fd)?.clone();
    let socket = crate::net::unix::socket_of(&file)
        .ok_or(Errno::ENOTSOCK)?
        .clone();
    Ok((file, socket))
}

fn caller(p: &Process) -> Caller {
    Caller {
        pid: p.pid,
        tid: p.tid,
        uid: p.ids.uid,
        gid: p.ids.gid,
        euid: p.ids.euid,
        egid: p.ids.egid,
        fd_limit: p.files.lock().limit(),
        unbounded_in_flight: p.capable(vfs_core::cap::SYS_RESOURCE)
            || p.capable(vfs_core::cap::SYS_ADMIN),
    }
}

/// `move_addr_to_kernel`: `len` bytes of address (an `int`: negative or past a
/// `sockaddr_storage` is `EINVAL`).
fn read_address(p: &mut Process, address: u64, len: u64) -> Result<Vec<u8>, Errno> {
    let len = len as i32;
    if len < 0 || len as usize > SOCKADDR_STORAGE_LEN {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(Vec::new());
    }
    read_in(p, address, len as usize)
}

/// `move_addr_to_user`: as much of `sockaddr` as the caller's `*len_at` has room for,
/// and the full length in `*len_at`.
fn write_address(p: &mut Process, address: u64, len_at: u64, sockaddr: &[u8]) -> Result<(), Errno> {
    let room = read_in(p, len_at, 4)?;
    let room = i32::from_le_bytes([room[0], room[1], room[2], room[3]]);
    let len = (room as i64).min(sockaddr.len() as i64);
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    if len > 0 {
        write_out(p, address, &sockaddr[..len as usize])?;
    }
    write_out(p, len_at, &(sockaddr.len() as i32).to_le_bytes())
}

fn sockaddr_of(name: Option<&UnixAddress>) -> Vec<u8> {
    name.map_or_else(address::unnamed_sockaddr, UnixAddress::to_sockaddr)
}

/// The type and flags of `socket`/`socketpair`: `EINVAL` for other flags or a type past
/// `SOCK_MAX`, `EAFNOSUPPORT` for a family other than `AF_UNIX`, `EPROTONOSUPPORT` for a
/// protocol, `ESOCKTNOSUPPORT` for a type Unix sockets lack.
fn socket_kind(domain: u64, socket_type: u64, protocol: u64) -> Result<(Kind, bool, bool), Errno> {
    let socket_type = socket_type as u32;
    let flags = socket_type & !SOCK_TYPE_MASK;
    if flags & !(SOCK_CLOEXEC | SOCK_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let domain = domain as i32;
    if domain < 0 || domain as u32 >= AF_MAX {
        return Err(Errno::EAFNOSUPPORT);
    }
    let base = socket_type & SOCK_TYPE_MASK;
    if base >= SOCK_MAX {
        return Err(Errno::EINVAL);
    }
    if domain as u16 != AF_UNIX {
        return Err(Errno::EAFNOSUPPORT);
    }
    let protocol = protocol as i32;
    if protocol != 0 && protocol != i32::from(AF_UNIX) {
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok((
        Kind::from_type(base)?,
        flags & SOCK_NONBLOCK != 0,
        flags & SOCK_CLOEXEC != 0,
    ))
}

fn install(p: &mut Process, socket: Arc<Socket>, nonblock: bool, cloexec: bool) -> SysResult {
    let file = crate::net::unix::new_socket_file(socket, &p.fs.lock().cred, nonblock)?;
    p.files.lock().insert(file, cloexec).map(|fd| fd as u64)
}

pub fn socket(p: &mut Process, domain: u64, socket_type: u64, protocol: u64) -> SysResult {
    let (kind, nonblock, cloexec) = socket_kind(domain, socket_type, protocol)?;
    let socket = Socket::new_unbound(kind)?;
    install(p, socket, nonblock, cloexec)
}

pub fn socketpair(
    p: &mut Process,
    domain: u64,
    socket_type: u64,
    protocol: u64,
    fds: u64,
) -> SysResult {
    let (kind, nonblock, cloexec) = socket_kind(domain, socket_type, protocol)?;
    p.mm.lock().check_range(fds, 8, Access::Write)?;
    let (a, b) = Socket::pair(kind, &caller(p))?;
    let first = install(p, a, nonblock, cloexec)? as i32;
    let second = match install(p, b, nonblock, cloexec) {
        Ok(fd) => fd as i32,
        Err(errno) => {
            let _ = p.files.lock().remove(first);
            return Err(errno);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&first.to_le_bytes());
    out[4..].copy_from_slice(&second.to_le_bytes());
    if let Err(errno) = write_out(p, fds, &out) {
        let mut files = p.files.lock();
        let _ = files.remove(first);
        let _ = files.remove(second);
        return Err(errno);
    }
    Ok(0)
}

pub fn bind(p: &mut Process, fd: i32, address: u64, len: u64) -> SysResult {
    let (_, socket) = socket_fd(p, fd)?;
    let raw = read_address(p, address, len)?;
    let request = address::parse_bind(&raw)?;
    socket.bind(request, &p.fs_context()).map(|()| 0)
}

pub fn listen(p: &mut Process, fd: i32, backlog: u64) -> SysResult {
    let (_, socket) = socket_fd(p, fd)?;
    socket.listen(backlog as i32, &caller(p)).map(|()| 0)
}

pub fn connect(p: &mut Process, fd: i32, address: u64, len: u64) -> SysResult {
    let (file, socket) = socket_fd(p, fd)?;
    let raw = read_address(p, address, len)?;
    let target = if socket.kind() == Kind::Datagram {
        // `unix_dgram_connect`: at least the family; `AF_UNSPEC` disconnects.
        if raw.len() < 2 {
            return Err(Errno::EINVAL);
        }
        if address::family(&raw) == AF_UNSPEC {
            None
        } else {
            Some(address::parse(&raw)?)
        }
    } else {
        Some(address::parse(&raw)?)
    };
    let nonblock = file.flags().contains(vfs_core::OpenFlags::NONBLOCK);
    socket
        .connect(target.as_ref(), &p.fs_context(), nonblock, &caller(p))
        .map(|()| 0)
}

/// `accept` and `accept4` (`flags`: `SOCK_NONBLOCK`, `SOCK_CLOEXEC`; others `EINVAL`).
/// The peer's address goes to `address` if it is not NULL; if that fails, the connection
/// is closed and the error returned, as on Linux.
pub fn accept4(p: &mut Process, fd: i32, address: u64, len_at: u64, flags: u64) -> SysResult {
    let flags = flags as u32;
    if flags & !(SOCK_CLOEXEC | SOCK_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let (file, socket) = socket_fd(p, fd)?;
    let nonblock = file.flags().contains(vfs_core::OpenFlags::NONBLOCK);
    let connection = socket.accept(nonblock, &caller(p))?;
    let peer_name = sockaddr_of(connection.peer_address().ok().flatten().as_ref());
    let file = crate::net::unix::new_socket_file(
        connection,
        &p.fs.lock().cred,
        flags & SOCK_NONBLOCK != 0,
    )?;
    if address != 0 {
        write_address(p, address, len_at, &peer_name)?;
    }
    p.files
        .lock()
        .insert(file, flags & SOCK_CLOEXEC != 0)
        .map(|fd| fd as u64)
}

/// `getsockname` (`peer` false) and `getpeername` (`ENOTCONN` without a peer).
pub fn name(p: &mut Process, fd: i32, address: u64, len_at: u64, peer: bool) -> SysResult {
    let (_, socket) = socket_fd(p, fd)?;
    let name = if peer {
        socket.peer_address()?
    } else {
        socket.local_address()
    };
    write_address(p, address, len_at, &sockaddr_of(name.as_ref())).map(|()| 0)
}

pub fn shutdown(p: &mut Process, fd: i32, how: u64) -> SysResult {
    let (_, socket) = socket_fd(p, fd)?;
    let how = how as i32;
    if !(SHUT_RD as i32..=SHUT_RDWR as i32).contains(&how) {
        return Err(Errno::EINVAL);
    }
    let how = how as u64;
    socket.shutdown(how != SHUT_WR, how != SHUT_RD);
    Ok(0)
}

/// Reads `n` bytes at a time from a list of user buffers.
struct Gather<'a> {
    p: &'a Process,
    vectors: &'a [(u64, u64)],
    index: usize,
    offset: u64,
}

impl Gather<'_> {
    fn take(&mut self, n: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        out.try_reserve_exact(n).map_err(|_| Errno::ENOBUFS)?;
        while out.len() < n {
            let Some(&(base, len)) = self.vectors.get(self.index) else {
                return Err(Errno::EFAULT);
            };
            let available = len - self.offset;
            if available == 0 {
                self.index += 1;
                self.offset = 0;
                continue;
            }
            let take = available.min((n - out.len()) as u64) as usize;
            let start = out.len();
            out.resize(start + take, 0);
            self.p
                .mm
                .lock()
                .read(base + self.offset, &mut out[start..])?;
            self.offset += take as u64;
        }
        Ok(out)
    }
}

/// Writes bytes in order across a list of user buffers.
struct Scatter<'a> {
    p: &'a Process,
    vectors: &'a [(u64, u64)],
    index: usize,
    offset: u64,
}

impl Scatter<'_> {
    fn put(&mut self, mut bytes: &[u8]) -> Result<(), Errno> {
        while !bytes.is_empty() {
            let Some(&(base, len)) = self.vectors.get(self.index) else {
                return Err(Errno::EFAULT);
            };
            let room = len - self.offset;
            if room == 0 {
                self.index += 1;
                self.offset = 0;
                continue;
            }
            let take = room.min(bytes.len() as u64) as usize;
            self.p.mm.lock().write(base + self.offset, &bytes[..take])?;
            self.offset += take as u64;
            bytes = &bytes[take..];
        }
        Ok(())
    }
}

/// The `iovec` array at `address`, each buffer checked for `access`.
fn read_iovecs(
    p: &mut Process,
    address: u64,
    count: u64,
    access: Access,
) -> Result<Vec<(u64, u64)>, Errno> {
    if count > UIO_MAXIOV {
        return Err(Errno::EMSGSIZE);
    }
    let raw = read_in(p, address, count as usize * IOVEC_LEN)?;
    let vectors = msghdr::decode_iovecs(&raw)?;
    for &(base, len) in &vectors {
        p.mm.lock().check_range(base, len, access)?;
    }
    Ok(vectors)
}

/// What a send carries besides its data.
struct Outgoing {
    to: Option<Vec<u8>>,
    control: Vec<u8>,
    flags: u32,
}

/// The credentials a sender may claim (`scm_check_creds`): its own pid unless it holds
/// `CAP_SYS_ADMIN`, one of its uids/gids unless `CAP_SETUID`/`CAP_SETGID`; an id of -1
/// is `EINVAL`, a pid with no process `ESRCH`.
fn check_claim(p: &Process, claim: Ucred) -> Result<Ucred, Errno> {
    if claim.uid == u32::MAX || claim.gid == u32::MAX {
        return Err(Errno::EINVAL);
    }
    let ids = &p.ids;
    let pid_ok = claim.pid == p.pid || p.capable(vfs_core::cap::SYS_ADMIN);
    let uid_ok =
        [ids.uid, ids.euid, ids.suid].contains(&claim.uid) || p.capable(vfs_core::cap::SETUID);
    let gid_ok =
        [ids.gid, ids.egid, ids.sgid].contains(&claim.gid) || p.capable(vfs_core::cap::SETGID);
    if !(pid_ok && uid_ok && gid_ok) {
        return Err(Errno::EPERM);
    }
    if claim.pid != p.pid && crate::task::lifecycle::task_of(claim.pid).is_none() {
        return Err(Errno::ESRCH);
    }
    Ok(claim)
}

/// A send of the data in `vectors` with what `outgoing` adds; `SIGPIPE` for a stream's
/// `EPIPE` unless `MSG_NOSIGNAL`. Returns the bytes sent.
fn send_common(
    p: &mut Process,
    file: &OpenFile,
    socket: &Arc<Socket>,
    vectors: &[(u64, u64)],
    outgoing: Outgoing,
) -> SysResult {
    let parsed = control::parse(&outgoing.control)?;
    let caller = caller(p);
    let files = if parsed.fds.is_empty() {
        None
    } else {
        let files = {
            let table = p.files.lock();
            parsed
                .fds
                .iter()
                .map(|&fd| table.get(fd).cloned())
                .collect::<Result<Vec<_>, _>>()?
        };
        Some(InFlight::new(files, &caller)?)
    };
    let credentials = parsed
        .credentials
        .map(|claim| check_claim(p, claim))
        .transpose()?;
    let fs = match &outgoing.to {
        Some(raw) if raw.len() > 2 && raw[2] != 0 => Some(p.fs_context()),
        _ => None,
    };
    let len = vectors.iter().map(|&(_, len)| len).sum::<u64>() as usize;
    let nonblock =
        outgoing.flags & MSG_DONTWAIT != 0 || file.flags().contains(vfs_core::OpenFlags::NONBLOCK);
    let result = {
        let mut gather = Gather {
            p,
            vectors,
            index: 0,
            offset: 0,
        };
        socket.send(
            Sending {
                len,
                source: &mut |n| gather.take(n),
                files,
                credentials,
                to: outgoing.to,
                nonblock,
                oob: outgoing.flags & MSG_OOB != 0,
            },
            fs.as_ref(),
            &caller,
        )
    };
    let result = result.map(|sent| sent as u64);
    if socket.kind() == Kind::Stream && outgoing.flags & MSG_NOSIGNAL == 0 {
        return super::files::broken_pipe(p, result);
    }
    result
}

/// A receive into `vectors`: the bytes scattered there, the rest reported.
fn receive_common(
    p: &mut Process,
    file: &OpenFile,
    socket: &Arc<Socket>,
    vectors: &[(u64, u64)],
    flags: u32,
) -> Result<Received, Errno> {
    let len = vectors.iter().map(|&(_, len)| len).sum::<u64>() as usize;
    let nonblock =
        flags & MSG_DONTWAIT != 0 || file.flags().contains(vfs_core::OpenFlags::NONBLOCK);
    let caller = caller(p);
    let mut scatter = Scatter {
        p,
        vectors,
        index: 0,
        offset: 0,
    };
    socket.receive(
        Receiving {
            len,
            peek: flags & MSG_PEEK != 0,
            wait_all: flags & MSG_WAITALL != 0,
            nonblock,
            oob: flags & MSG_OOB != 0,
            sink: &mut |bytes| scatter.put(bytes),
        },
        &caller,
    )
}

/// What a receive returns: the bytes copied, or with `MSG_TRUNC` a datagram's length.
fn received_len(socket: &Socket, received: &Received, flags: u32) -> u64 {
    if flags & MSG_TRUNC != 0 && socket.kind() != Kind::Stream {
        received.full_len as u64
    } else {
        received.copied as u64
    }
}

/// The control data a receiver gets (`scm_recv`): credentials with `SO_PASSCRED`, then
/// the descriptors, installed in its table (close-on-exec with `MSG_CMSG_CLOEXEC`) as far
/// as its buffer has room; those that do not fit are closed and `MSG_CTRUNC` set. With no
/// buffer at all, nothing is delivered and `MSG_CTRUNC` says something was there.
fn deliver_control(
    p: &mut Process,
    received: &mut Received,
    control: u64,
    room: usize,
    flags: u32,
) -> ControlOut {
    let mut out = ControlOut::new(if control == 0 { 0 } else { room });
    if control == 0 {
        out.truncated = received.credentials.is_some() || received.files.is_some();
        received.files = None;
        return out;
    }
    if let Some(credentials) = received.credentials {
        out.put(SOL_SOCKET, SCM_CREDENTIALS, &credentials.encode());
    }
    if let Some(files) = received.files.take() {
        let cloexec = flags & MSG_CMSG_CLOEXEC != 0;
        let fit = out.rights_room().min(files.len());
        let mut installed = Vec::new();
        {
            let mut table = p.files.lock();
            for file in files.iter().take(fit) {
                match table.insert(file.clone(), cloexec) {
                    Ok(fd) => installed.push(fd),
                    Err(_) => break,
                }
            }
        }
        out.put_rights(&installed, files.len());
        // The descriptors that did not fit close here (their last reference may be this).
        drop(files);
    }
    out
}

pub fn sendto(
    p: &mut Process,
    fd: i32,
    buf: u64,
    len: u64,
    flags: u64,
    address: u64,
    address_len: u64,
) -> SysResult {
    let len = len.min(MAX_RW_COUNT);
    p.mm.lock().check_range(buf, len, Access::Read)?;
    let (file, socket) = socket_fd(p, fd)?;
    let to = if address != 0 {
        let raw = read_address(p, address, address_len)?;
        (!raw.is_empty()).then_some(raw)
    } else {
        None
    };
    let outgoing = Outgoing {
        to,
        control: Vec::new(),
        flags: flags as u32,
    };
    send_common(p, &file, &socket, &[(buf, len)], outgoing)
}

pub fn recvfrom(
    p: &mut Process,
    fd: i32,
    buf: u64,
    len: u64,
    flags: u64,
    address: u64,
    len_at: u64,
) -> SysResult {
    let len = len.min(MAX_RW_COUNT);
    p.mm.lock().check_range(buf, len, Access::Write)?;
    let (file, socket) = socket_fd(p, fd)?;
    let flags = flags as u32;
    let received = receive_common(p, &file, &socket, &[(buf, len)], flags)?;
    if address != 0 {
        let name = received
            .from
            .as_ref()
            .map(UnixAddress::to_sockaddr)
            .unwrap_or_default();
        write_address(p, address, len_at, &name)?;
    }
    Ok(received_len(&socket, &received, flags))
}

/// One `sendmsg` of the `msghdr` at `header_at`.
fn sendmsg_one(
    p: &mut Process,
    file: &OpenFile,
    socket: &Arc<Socket>,
    header_at: u64,
    flags: u32,
) -> Result<(u64, bool), Errno> {
    let header = MsgHdr::decode(&read_in(p, header_at, MSGHDR_LEN)?)?;
    let to = if header.name_len > 0 {
        Some(read_in(p, header.name, header.name_len as usize)?)
    } else {
        None
    };
    let vectors = read_iovecs(p, header.iov, header.iov_len, Access::Read)?;
    if header.control_len > i32::MAX as u64 || header.control_len > OPTMEM_MAX {
        return Err(Errno::ENOBUFS);
    }
    let control = read_in(p, header.control, header.control_len as usize)?;
    let total: u64 = vectors.iter().map(|&(_, len)| len).sum();
    let sent = send_common(p, file, socket, &vectors, Outgoing { to, control, flags })?;
    Ok((sent, sent < total))
}

pub fn sendmsg(p: &mut Process, fd: i32, header_at: u64, flags: u64) -> SysResult {
    let (file, socket) = socket_fd(p, fd)?;
    sendmsg_one(p, &file, &socket, header_at, flags as u32).map(|(sent, _)| sent)
}

/// One `recvmsg` into the `msghdr` at `header_at`: fills the buffers, the name, the
/// control data, and writes back `msg_namelen`, `msg_controllen` and `msg_flags`.
fn recvmsg_one(
    p: &mut Process,
    file: &OpenFile,
    socket: &Arc<Socket>,
    header_at: u64,
    flags: u32,
) -> SysResult {
    let header = MsgHdr::decode(&read_in(p, header_at, MSGHDR_LEN)?)?;
    let vectors = read_iovecs(p, header.iov, header.iov_len, Access::Write)?;
    let mut received = receive_common(p, file, socket, &vectors, flags)?;
    let room = header.control_len.min(i32::MAX as u64) as usize;
    let control = deliver_control(p, &mut received, header.control, room, flags);
    if header.name != 0 {
        let name = received
            .from
            .as_ref()
            .map(UnixAddress::to_sockaddr)
            .unwrap_or_default();
        write_address(p, header.name, header_at + NAMELEN_OFFSET as u64, &name)?;
    }
    if !control.bytes().is_empty() {
        write_out(p, header.control, control.bytes())?;
    }
    let mut msg_flags = flags & MSG_CMSG_CLOEXEC;
    if received.full_len > received.copied {
        msg_flags |= MSG_TRUNC;
    }
    if control.truncated {
        msg_flags |= MSG_CTRUNC;
    }
    write_out(
        p,
        header_at + CONTROLLEN_OFFSET as u64,
        &(control.bytes().len() as u64).to_le_bytes(),
    )?;
    write_out(p, header_at + FLAGS_OFFSET as u64, &msg_flags.to_le_bytes())?;
    Ok(received_len(socket, &received, flags))
}

pub fn recvmsg(p: &mut Process, fd: i32, header_at: u64, flags: u64) -> SysResult {
    let (file, socket) = socket_fd(p, fd)?;
    recvmsg_one(p, &file, &socket, header_at, flags as u32)
}

/// `sendmmsg`: up to `UIO_MAXIOV` messages, each one's count in its `msg_len`; stops at
/// an error (returned only if nothing was sent) or a message sent in part.
pub fn sendmmsg(p: &mut Process, fd: i32, vector: u64, count: u64, flags: u64) -> SysResult {
    let (file, socket) = socket_fd(p, fd)?;
    let count = (count as u32 as u64).min(UIO_MAXIOV);
    let mut done = 0u64;
    let mut error = None;
    while done < count {
        let entry = vector + done * MMSGHDR_LEN as u64;
        match sendmsg_one(p, &file, &socket, entry, flags as u32) {
            Ok((sent, short)) => {
                if let Err(errno) = write_out(
                    p,
                    entry + MMSG_LEN_OFFSET as u64,
                    &(sent as u32).to_le_bytes(),
                ) {
                    error = Some(errno);
                    break;
                }
                done += 1;
                if short {
                    break;
                }
            }
            Err(errno) => {
                error = Some(errno);
                break;
            }
        }
    }
    match error {
        Some(errno) if done == 0 => Err(errno),
        _ => Ok(done),
    }
}

/// `recvmmsg`: up to `UIO_MAXIOV` messages; `MSG_WAITFORONE` stops waiting after the
/// first; the timeout is looked at after each message, as Linux does (and what is left
/// of it written back). An error after some messages is kept for the next call.
pub fn recvmmsg(
    p: &mut Process,
    fd: i32,
    vector: u64,
    count: u64,
    flags: u64,
    timeout: u64,
) -> SysResult {
    let deadline = if timeout == 0 {
        None
    } else {
        let ns = super::time::read_timespec_ns(p, timeout)?;
        Some(crate::clock::monotonic_ns().saturating_add(ns))
    };
    let (file, socket) = socket_fd(p, fd)?;
    if let Some(errno) = socket.take_pending_error() {
        return Err(errno);
    }
    let count = (count as u32 as u64).min(UIO_MAXIOV);
    let mut flags = flags as u32;
    let mut done = 0u64;
    let mut error = None;
    while done < count {
        let entry = vector + done * MMSGHDR_LEN as u64;
        match recvmsg_one(p, &file, &socket, entry, flags & !MSG_WAITFORONE) {
            Ok(len) => {
                if let Err(errno) = write_out(
                    p,
                    entry + MMSG_LEN_OFFSET as u64,
                    &(len as u32).to_le_bytes(),
                ) {
                    error = Some(errno);
                    break;
                }
                done += 1;
                if flags & MSG_WAITFORONE != 0 {
                    flags |= MSG_DONTWAIT;
                }
                if deadline.is_some_and(|deadline| crate::clock::monotonic_ns() >= deadline) {
                    break;
                }
            }
            Err(errno) => {
                error = Some(errno);
                break;
            }
        }
    }
    if let (Some(deadline), true) = (deadline, done > 0) {
        let left = (deadline - crate::clock::monotonic_ns()).max(0);
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&(left / 1_000_000_000).to_le_bytes());
        out[8..].copy_from_slice(&(left % 1_000_000_000).to_le_bytes());
        write_out(p, timeout, &out)?;
    }
    match error {
        Some(errno) if done == 0 => Err(errno),
        Some(errno) => {
            if errno != Errno::EAGAIN {
                socket.set_pending_error(errno);
            }
            Ok(done)
        }
        None => Ok(done),
    }
}

/// `read` of a socket: a receive with no flags (`0` at once for an empty buffer).
pub(super) fn read(
    p: &mut Process,
    file: &OpenFile,
    socket: &Arc<Socket>,
    buf: u64,
    count: u64,
) -> SysResult {
    readv(p, file, socket, &[(buf, count.min(MAX_RW_COUNT))])
}

pub(super) fn readv(
    p: &mut Process,
    file: &OpenFile,
    socket: &Arc<Socket>,
    vectors: &[(u64, u64)],
) -> SysResult {
    for &(base, len) in vectors {
        p.mm.lock().check_range(base, len, Access::Write)?;
    }
    if vectors.iter().all(|&(_, len)| len == 0) {
        return Ok(0);
    }
    receive_common(p, file, socket, vectors, 0).map(|received| received.copied as u64)
}

/// `write` and `writev` of a socket: a send with no flags (`SIGPIPE` on a stream's
/// `EPIPE`).
pub(super) fn writev(
    p: &mut Process,
    file: &OpenFile,
    socket: &Arc<Socket>,
    vectors: &[(u64, u64)],
) -> SysResult {
    for &(base, len) in vectors {
        p.mm.lock().check_range(base, len, Access::Read)?;
    }
    let outgoing = Outgoing {
        to: None,
        control: Vec::new(),
        flags: 0,
    };
    send_common(p, file, socket, vectors, outgoing)
}

/// `readv`/`preadv2` with `RWF_NOWAIT`: a receive with `MSG_DONTWAIT`.
pub(super) fn readv_nowait(
    p: &mut Process,
    file: &OpenFile,
    socket: &Arc<Socket>,
    vectors: &[(u64, u64)],
) -> SysResult {
    for &(base, len) in vectors {
        p.mm.lock().check_range(base, len, Access::Write)?;
    }
    if vectors.iter().all(|&(_, len)| len == 0) {
        return Ok(0);
    }
    receive_common(p, file, socket, vectors, MSG_DONTWAIT).map(|received| received.copied as u64)
}

/// `pwritev2` with `RWF_NOWAIT`: a send with `MSG_DONTWAIT`.
pub(super) fn writev_nowait(
    p: &mut Process,
    file: &OpenFile,
    socket: &Arc<Socket>,
    vectors: &[(u64, u64)],
) -> SysResult {
    for &(base, len) in vectors {
        p.mm.lock().check_range(base, len, Access::Read)?;
    }
    let outgoing = Outgoing {
        to: None,
        control: Vec::new(),
        flags: MSG_DONTWAIT,
    };
    send_common(p, file, socket, vectors, outgoing)
}

/// Kernel bytes out through a socket (`sendfile`, `splice` from a pipe): as `write`,
/// without waiting when the file is `O_NONBLOCK` or `nonblock`; `SIGPIPE` on a stream's
/// `EPIPE`, as Linux's `sock_sendpage` raises it.
pub(super) fn send_bytes(
    p: &mut Process,
    file: &OpenFile,
    socket: &Arc<Socket>,
    data: &[u8],
    nonblock: bool,
) -> SysResult {
    let caller = caller(p);
    let mut offset = 0;
    let mut source = |n: usize| -> Result<Vec<u8>, Errno> {
        let part = data.get(offset..offset + n).ok_or(Errno::EFAULT)?.to_vec();
        offset += n;
        Ok(part)
    };
    let result = socket
        .send(
            Sending {
                len: data.len(),
                source: &mut source,
                files: None,
                credentials: None,
                to: None,
                nonblock: nonblock || file.flags().contains(vfs_core::OpenFlags::NONBLOCK),
                oob: false,
            },
            None,
            &caller,
        )
        .map(|sent| sent as u64);
    if socket.kind() == Kind::Stream {
        return super::files::broken_pipe(p, result);
    }
    result
}

/// Up to `out.len()` bytes received into a kernel buffer (`splice` from a socket): as
/// `read`, without waiting when the file is `O_NONBLOCK` or `nonblock`. Returns the bytes
/// landed.
pub(super) fn receive_bytes(
    p: &mut Process,
    file: &OpenFile,
    socket: &Arc<Socket>,
    out: &mut [u8],
    nonblock: bool,
) -> Result<usize, Errno> {
    let caller = caller(p);
    let len = out.len();
    let mut landed = 0;
    let mut sink = |bytes: &[u8]| -> Result<(), Errno> {
        let slot = out
            .get_mut(landed..landed + bytes.len())
            .ok_or(Errno::EFAULT)?;
        slot.copy_from_slice(bytes);
        landed += bytes.len();
        Ok(())
    };
    socket.receive(
        Receiving {
            len,
            peek: false,
            wait_all: false,
            nonblock: nonblock || file.flags().contains(vfs_core::OpenFlags::NONBLOCK),
            oob: false,
            sink: &mut sink,
        },
        &caller,
    )?;
    Ok(landed)
}

/// `FIONREAD`/`SIOCINQ` and `SIOCOUTQ` on a socket; `None` for other requests.
pub(super) fn ioctl(
    p: &mut Process,
    socket: &Socket,
    request: u64,
    argument: u64,
) -> Option<SysResult> {
    const FIONREAD: u64 = 0x541b;
    const SIOCOUTQ: u64 = 0x5411;
    let amount = match request {
        FIONREAD => socket.input_waiting(),
        SIOCOUTQ => Ok(socket.output_waiting()),
        _ => return None,
    };
    Some(amount.and_then(|amount| {
        write_out(
            p,
            argument,
            &(amount.min(i32::MAX as usize) as i32).to_le_bytes(),
        )
        .map(|()| 0)
    }))
}

pub fn setsockopt(
    p: &mut Process,
    fd: i32,
    level: u64,
    name: u64,
    value: u64,
    len: u64,
) -> SysResult {
    let len = len as i32;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let (_, socket) = socket_fd(p, fd)?;
    if level as i32 != SOL_SOCKET {
        return Err(Errno::EOPNOTSUPP);
    }
    // Every SOL_SOCKET option reads an int first (Linux's `sk_setsockopt`).
    if len < 4 {
        return Err(Errno::EINVAL);
    }
    let raw = read_in(p, value, (len as usize).min(16))?;
    let int = options::parse_int(&raw)?;
    let on = int != 0;
    match name as i32 {
        SO_REUSEADDR => socket.set_options(|o| {
            o.reuseaddr = on;
            Ok(())
        }),
        SO_KEEPALIVE => socket.set_options(|o| {
            o.keepalive = on;
            Ok(())
        }),
        SO_PASSCRED => socket.set_options(|o| {
            o.passcred = on;
            Ok(())
        }),
        SO_SNDBUF => socket.set_options(|o| {
            o.sndbuf = options::buffer_size(int, false, MIN_SNDBUF);
            Ok(())
        }),
        SO_RCVBUF => socket.set_options(|o| {
            o.rcvbuf = options::buffer_size(int, false, MIN_RCVBUF);
            Ok(())
        }),
        SO_SNDBUFFORCE | SO_RCVBUFFORCE => {
            if !p.capable(vfs_core::cap::NET_ADMIN) {
                return Err(Errno::EPERM);
            }
            if name as i32 == SO_SNDBUFFORCE {
                socket.set_options(|o| {
                    o.sndbuf = options::buffer_size(int, true, MIN_SNDBUF);
                    Ok(())
                })
            } else {
                socket.set_options(|o| {
                    o.rcvbuf = options::buffer_size(int, true, MIN_RCVBUF);
                    Ok(())
                })
            }
        }
        SO_LINGER => socket.set_options(|o| o.set_linger(&raw)),
        SO_RCVTIMEO_OLD | SO_RCVTIMEO_NEW => {
            let timeout = options::parse_timeout(&raw)?;
            socket.set_options(|o| {
                o.rcvtimeo_us = timeout;
                Ok(())
            })
        }
        SO_SNDTIMEO_OLD | SO_SNDTIMEO_NEW => {
            let timeout = options::parse_timeout(&raw)?;
            socket.set_options(|o| {
                o.sndtimeo_us = timeout;
                Ok(())
            })
        }
        _ => Err(Errno::ENOPROTOOPT),
    }
    .map(|()| 0)
}

pub fn getsockopt(
    p: &mut Process,
    fd: i32,
    level: u64,
    name: u64,
    value: u64,
    len_at: u64,
) -> SysResult {
    let (_, socket) = socket_fd(p, fd)?;
    if level as i32 != SOL_SOCKET {
        return Err(Errno::EOPNOTSUPP);
    }
    let raw = read_in(p, len_at, 4)?;
    let len = i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let int = |value: i32| value.to_le_bytes().to_vec();
    let options = socket.options();
    let bytes: Vec<u8> = match name as i32 {
        SO_TYPE => int(socket.kind().number() as i32),
        SO_DOMAIN => int(i32::from(AF_UNIX)),
        SO_PROTOCOL => int(0),
        SO_ERROR => int(socket.error_number()),
        SO_ACCEPTCONN => int(i32::from(socket.is_listening())),
        SO_PASSCRED => int(i32::from(options.passcred)),
        SO_REUSEADDR => int(i32::from(options.reuseaddr)),
        SO_KEEPALIVE => int(i32::from(options.keepalive)),
        SO_SNDBUF => int(options.sndbuf as i32),
        SO_RCVBUF => int(options.rcvbuf as i32),
        SO_LINGER => options.linger().to_vec(),
        SO_RCVTIMEO_OLD | SO_RCVTIMEO_NEW => options::encode_timeout(options.rcvtimeo_us).to_vec(),
        SO_SNDTIMEO_OLD | SO_SNDTIMEO_NEW => options::encode_timeout(options.sndtimeo_us).to_vec(),
        SO_PEERCRED => socket.peer_credentials().encode().to_vec(),
        _ => return Err(Errno::ENOPROTOOPT),
    };
    let len = (len as usize).min(bytes.len());
    if len > 0 {
        write_out(p, value, &bytes[..len])?;
    }
    write_out(p, len_at, &(len as i32).to_le_bytes()).map(|()| 0)
}
