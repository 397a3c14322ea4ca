//! `unix-sockets`: Unix domain sockets as programs use them, each answer Linux's:
//! `socket`/`socketpair` flags and errors, stream data (peek, `MSG_WAITALL`,
//! `MSG_DONTWAIT`, shutdown, `EPIPE` with and without `SIGPIPE`), datagram and
//! sequenced-packet boundaries and truncation, path names (on each directory given:
//! tmpfs, the overlay root…) and abstract names with their exact `getsockname` bytes,
//! autobind, `listen`/`accept`/`connect` with the backlog, the connect errors
//! (`ECONNREFUSED`, `ENOENT`, `EACCES`, `EPROTOTYPE`, `EADDRINUSE`), `SO_PEERCRED`,
//! `SCM_CREDENTIALS` (and what an unprivileged sender may claim), `SCM_RIGHTS` across
//! `fork` (in-flight files kept alive, `MSG_CTRUNC` closing what does not fit, 253 at
//! most, the in-flight bound, unreachable cycles collected), `poll` readiness and
//! wake-ups, `SO_RCVTIMEO`, `sendmmsg`/`recvmmsg`, `readv`/`writev`, and a 100 MiB
//! stream between two processes with its checksum.
//!
//! Usage: `unix-sockets [DIR…]` (default `/tmp`): path names are bound in each DIR; a DIR
//! given as `report:DIR` is only tried and what happens is printed (`# …`), for
//! filesystems that may not hold socket nodes (9p). One line per check, then
//! `unix-sockets: N passed, M failed`. Runs on the host too, where the expectations are
//! checked against Linux.

use std::ffi::CString;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use libc::{c_int, c_void, socklen_t};

#[path = "../report.rs"]
mod report;
use report::{Report, errno};

/// The raw result: the value, or `-errno`.
fn raw(result: i64) -> i64 {
    if result < 0 {
        -i64::from(errno())
    } else {
        result
    }
}

fn neg(code: c_int) -> i64 {
    -i64::from(code)
}

fn check(report: &mut Report, name: &str, got: i64, want: i64) {
    report.check(name, got == want, format!("{got} (Linux: {want})"));
}

fn socket(domain: c_int, kind: c_int, protocol: c_int) -> i64 {
    // SAFETY: no pointers.
    raw(i64::from(unsafe { libc::socket(domain, kind, protocol) }))
}

fn pair(kind: c_int) -> (c_int, c_int) {
    let mut fds = [0 as c_int; 2];
    // SAFETY: room for two descriptors.
    let result = unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr()) };
    assert_eq!(result, 0, "socketpair: {}", errno());
    (fds[0], fds[1])
}

fn close(fd: c_int) {
    // SAFETY: closing a descriptor this program owns.
    unsafe { libc::close(fd) };
}

/// A `sockaddr_un` of exactly these bytes after the family.
fn address(path: &[u8]) -> Vec<u8> {
    let mut out = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    out.extend_from_slice(path);
    out
}

/// A path name as programs pass it: with its NUL.
fn path_address(path: &str) -> Vec<u8> {
    let mut out = address(path.as_bytes());
    out.push(0);
    out
}

fn bind(fd: c_int, addr: &[u8]) -> i64 {
    let mut storage = [0u8; 128];
    storage[..addr.len()].copy_from_slice(addr);
    // SAFETY: `storage` holds the address; the length says how much of it counts.
    raw(i64::from(unsafe {
        libc::bind(fd, storage.as_ptr().cast(), addr.len() as socklen_t)
    }))
}

fn connect(fd: c_int, addr: &[u8]) -> i64 {
    let mut storage = [0u8; 128];
    storage[..addr.len()].copy_from_slice(addr);
    // SAFETY: as for `bind`.
    raw(i64::from(unsafe {
        libc::connect(fd, storage.as_ptr().cast(), addr.len() as socklen_t)
    }))
}

fn listen(fd: c_int, backlog: c_int) -> i64 {
    // SAFETY: no pointers.
    raw(i64::from(unsafe { libc::listen(fd, backlog) }))
}

fn accept4(fd: c_int, flags: c_int) -> i64 {
    // SAFETY: NULL address.
    raw(i64::from(unsafe {
        libc::accept4(fd, std::ptr::null_mut(), std::ptr::null_mut(), flags)
    }))
}

/// `accept` with the peer's address: the descriptor and the address bytes.
fn accept_named(fd: c_int) -> (i64, Vec<u8>) {
    let mut storage = [0u8; 128];
    let mut len: socklen_t = 128;
    // SAFETY: `storage` has `len` bytes of room.
    let got = raw(i64::from(unsafe {
        libc::accept(fd, storage.as_mut_ptr().cast(), &mut len)
    }));
    (got, storage[..(len as usize).min(128)].to_vec())
}

/// `getsockname` (or `getpeername`) bytes, or `-errno`.
fn name_of(fd: c_int, peer: bool) -> Result<Vec<u8>, i64> {
    let mut storage = [0u8; 128];
    let mut len: socklen_t = 128;
    // SAFETY: `storage` has `len` bytes of room.
    let result = unsafe {
        if peer {
            libc::getpeername(fd, storage.as_mut_ptr().cast(), &mut len)
        } else {
            libc::getsockname(fd, storage.as_mut_ptr().cast(), &mut len)
        }
    };
    if result < 0 {
        Err(neg(errno()))
    } else {
        Ok(storage[..len as usize].to_vec())
    }
}

fn send(fd: c_int, data: &[u8], flags: c_int) -> i64 {
    // SAFETY: `data` is live for the call.
    raw(unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), flags) } as i64)
}

fn recv(fd: c_int, len: usize, flags: c_int) -> (i64, Vec<u8>) {
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` has `len` bytes.
    let got = raw(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), len, flags) } as i64);
    buf.truncate(got.clamp(0, len as i64) as usize);
    (got, buf)
}

fn write(fd: c_int, data: &[u8]) -> i64 {
    // SAFETY: `data` is live.
    raw(unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) } as i64)
}

fn read(fd: c_int, len: usize) -> (i64, Vec<u8>) {
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` has `len` bytes.
    let got = raw(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), len) } as i64);
    buf.truncate(got.max(0) as usize);
    (got, buf)
}

fn getsockopt_bytes(fd: c_int, name: c_int, room: usize) -> Result<Vec<u8>, i64> {
    let mut buf = vec![0u8; room];
    let mut len = room as socklen_t;
    // SAFETY: `buf` has `len` bytes.
    let result = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if result < 0 {
        return Err(neg(errno()));
    }
    buf.truncate(len as usize);
    Ok(buf)
}

fn getsockopt_int(fd: c_int, name: c_int) -> i64 {
    match getsockopt_bytes(fd, name, 4) {
        Ok(bytes) if bytes.len() == 4 => {
            i64::from(i32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        }
        Ok(bytes) => -1000 - bytes.len() as i64,
        Err(errno) => errno,
    }
}

fn setsockopt_bytes(fd: c_int, level: c_int, name: c_int, value: &[u8]) -> i64 {
    // SAFETY: `value` is live.
    raw(i64::from(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            value.as_ptr().cast(),
            value.len() as socklen_t,
        )
    }))
}

fn setsockopt_int(fd: c_int, name: c_int, value: c_int) -> i64 {
    setsockopt_bytes(fd, libc::SOL_SOCKET, name, &value.to_ne_bytes())
}

fn fcntl(fd: c_int, command: c_int) -> i64 {
    // SAFETY: no pointers.
    raw(i64::from(unsafe { libc::fcntl(fd, command) }))
}

fn set_nonblocking(fd: c_int) {
    let flags = fcntl(fd, libc::F_GETFL) as c_int;
    // SAFETY: no pointers.
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
}

/// `revents` of one descriptor, or `-errno`.
fn poll(fd: c_int, events: i16, timeout_ms: c_int) -> i64 {
    let mut entry = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one live entry.
    let result = raw(i64::from(unsafe { libc::poll(&mut entry, 1, timeout_ms) }));
    if result < 0 {
        result
    } else {
        i64::from(entry.revents)
    }
}

fn fork() -> c_int {
    // SAFETY: single-threaded; children make system calls and `_exit`.
    unsafe { libc::fork() }
}

fn child_exit(code: c_int) -> ! {
    // SAFETY: ends the child without running the parent's exit handlers.
    unsafe { libc::_exit(code) }
}

fn wait(pid: c_int) -> c_int {
    let mut status = 0;
    // SAFETY: `status` is live.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    status
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn pipe() -> (c_int, c_int) {
    let mut fds = [0 as c_int; 2];
    // SAFETY: room for two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    (fds[0], fds[1])
}

/// Gives up root (in a child): nobody, no capabilities.
fn become_nobody() {
    // SAFETY: changing this process's ids.
    unsafe {
        libc::setgroups(0, std::ptr::null());
        libc::setgid(65534);
        libc::setuid(65534);
    }
}

/// `sendmsg` of `data` with descriptors and/or credentials.
fn send_with(
    fd: c_int,
    data: &[u8],
    fds: &[c_int],
    creds: Option<libc::ucred>,
    flags: c_int,
) -> i64 {
    let mut control = vec![0u8; 4096 + 64];
    let mut used = 0usize;
    // SAFETY: the control buffer has room for what is written; CMSG_* compute within it.
    unsafe {
        if !fds.is_empty() {
            let len = libc::CMSG_LEN((fds.len() * 4) as u32) as usize;
            let header = control.as_mut_ptr().cast::<libc::cmsghdr>();
            (*header).cmsg_len = len as _;
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            let data = libc::CMSG_DATA(header).cast::<c_int>();
            for (index, fd) in fds.iter().enumerate() {
                *data.add(index) = *fd;
            }
            used += libc::CMSG_SPACE((fds.len() * 4) as u32) as usize;
        }
        if let Some(creds) = creds {
            let header = control.as_mut_ptr().add(used).cast::<libc::cmsghdr>();
            (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::ucred>() as u32) as _;
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_CREDENTIALS;
            *libc::CMSG_DATA(header).cast::<libc::ucred>() = creds;
            used += libc::CMSG_SPACE(std::mem::size_of::<libc::ucred>() as u32) as usize;
        }
        let mut iov = libc::iovec {
            iov_base: data.as_ptr() as *mut c_void,
            iov_len: data.len(),
        };
        let mut header: libc::msghdr = std::mem::zeroed();
        header.msg_iov = &mut iov;
        header.msg_iovlen = 1;
        if used > 0 {
            header.msg_control = control.as_mut_ptr().cast();
            header.msg_controllen = used as _;
        }
        raw(libc::sendmsg(fd, &header, flags) as i64)
    }
}

/// What `recvmsg` gave.
#[derive(Debug, Default)]
struct Got {
    result: i64,
    data: Vec<u8>,
    flags: c_int,
    fds: Vec<c_int>,
    creds: Option<libc::ucred>,
    name: Vec<u8>,
    controllen: usize,
}

fn recv_with(fd: c_int, len: usize, control_room: usize, flags: c_int) -> Got {
    let mut data = vec![0u8; len];
    let mut control = vec![0u8; control_room.max(1)];
    let mut name = [0u8; 128];
    // SAFETY: every buffer is live and as long as the header says; the control messages
    // are walked with CMSG_* within `msg_controllen`.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: len,
        };
        let mut header: libc::msghdr = std::mem::zeroed();
        header.msg_iov = &mut iov;
        header.msg_iovlen = 1;
        header.msg_name = name.as_mut_ptr().cast();
        header.msg_namelen = 128;
        if control_room > 0 {
            header.msg_control = control.as_mut_ptr().cast();
            header.msg_controllen = control_room as _;
        }
        let result = raw(libc::recvmsg(fd, &mut header, flags) as i64);
        let mut got = Got {
            result,
            flags: header.msg_flags,
            controllen: header.msg_controllen as usize,
            name: name[..(header.msg_namelen as usize).min(128)].to_vec(),
            ..Got::default()
        };
        if result < 0 {
            return got;
        }
        data.truncate((result as usize).min(len));
        got.data = data;
        if control_room > 0 {
            let mut cmsg = libc::CMSG_FIRSTHDR(&header);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                    let count = ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / 4;
                    let fds = libc::CMSG_DATA(cmsg).cast::<c_int>();
                    for index in 0..count {
                        got.fds.push(*fds.add(index));
                    }
                }
                if (*cmsg).cmsg_level == libc::SOL_SOCKET
                    && (*cmsg).cmsg_type == libc::SCM_CREDENTIALS
                {
                    got.creds = Some(*libc::CMSG_DATA(cmsg).cast::<libc::ucred>());
                }
                cmsg = libc::CMSG_NXTHDR(&header, cmsg);
            }
        }
        got
    }
}

fn getpid() -> i64 {
    // SAFETY: no arguments.
    i64::from(unsafe { libc::getpid() })
}

fn ids() -> (u32, u32) {
    // SAFETY: no arguments.
    unsafe { (libc::getuid(), libc::getgid()) }
}

fn ignore_sigpipe() {
    // SAFETY: ignoring SIGPIPE for this process.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

fn default_sigpipe() {
    // SAFETY: restoring SIGPIPE's default action.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

fn basics(report: &mut Report) {
    let fd = socket(
        libc::AF_UNIX,
        libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        0,
    );
    report.check("socket(AF_UNIX, SOCK_STREAM)", fd >= 0, fd);
    let fd = fd as c_int;
    check(
        report,
        "SOCK_CLOEXEC: FD_CLOEXEC",
        fcntl(fd, libc::F_GETFD),
        1,
    );
    check(
        report,
        "SOCK_NONBLOCK: O_RDWR|O_NONBLOCK",
        fcntl(fd, libc::F_GETFL) & i64::from(libc::O_ACCMODE | libc::O_NONBLOCK),
        i64::from(libc::O_RDWR | libc::O_NONBLOCK),
    );
    check(
        report,
        "SO_TYPE",
        getsockopt_int(fd, libc::SO_TYPE),
        i64::from(libc::SOCK_STREAM),
    );
    check(
        report,
        "SO_DOMAIN",
        getsockopt_int(fd, libc::SO_DOMAIN),
        i64::from(libc::AF_UNIX),
    );
    check(
        report,
        "SO_PROTOCOL",
        getsockopt_int(fd, libc::SO_PROTOCOL),
        0,
    );
    check(
        report,
        "SO_ACCEPTCONN unbound",
        getsockopt_int(fd, libc::SO_ACCEPTCONN),
        0,
    );
    check(
        report,
        "SO_ERROR none",
        getsockopt_int(fd, libc::SO_ERROR),
        0,
    );
    check(
        report,
        "SO_PASSCRED off",
        getsockopt_int(fd, libc::SO_PASSCRED),
        0,
    );
    check(
        report,
        "SO_SNDBUF default",
        getsockopt_int(fd, libc::SO_SNDBUF),
        212_992,
    );
    check(
        report,
        "SO_SNDBUF 100000",
        setsockopt_int(fd, libc::SO_SNDBUF, 100_000),
        0,
    );
    check(
        report,
        "SO_SNDBUF doubled",
        getsockopt_int(fd, libc::SO_SNDBUF),
        200_000,
    );
    setsockopt_int(fd, libc::SO_RCVBUF, 1);
    check(
        report,
        "SO_RCVBUF minimum",
        getsockopt_int(fd, libc::SO_RCVBUF),
        2304,
    );
    check(
        report,
        "SO_REUSEADDR accepted",
        setsockopt_int(fd, libc::SO_REUSEADDR, 1),
        0,
    );
    check(
        report,
        "SO_REUSEADDR reads back",
        getsockopt_int(fd, libc::SO_REUSEADDR),
        1,
    );
    check(
        report,
        "SO_KEEPALIVE accepted",
        setsockopt_int(fd, libc::SO_KEEPALIVE, 1),
        0,
    );
    let mut linger = [0u8; 8];
    linger[..4].copy_from_slice(&1i32.to_ne_bytes());
    linger[4..].copy_from_slice(&7i32.to_ne_bytes());
    check(
        report,
        "SO_LINGER set",
        setsockopt_bytes(fd, libc::SOL_SOCKET, libc::SO_LINGER, &linger),
        0,
    );
    check(
        report,
        "SO_LINGER reads back",
        i64::from(getsockopt_bytes(fd, libc::SO_LINGER, 8) == Ok(linger.to_vec())),
        1,
    );
    check(
        report,
        "SO_LINGER short",
        setsockopt_bytes(fd, libc::SOL_SOCKET, libc::SO_LINGER, &linger[..4]),
        neg(libc::EINVAL),
    );
    check(
        report,
        "unknown option: ENOPROTOOPT",
        setsockopt_int(fd, 9999, 1),
        neg(libc::ENOPROTOOPT),
    );
    check(
        report,
        "read-only SO_TYPE: ENOPROTOOPT",
        setsockopt_int(fd, libc::SO_TYPE, 1),
        neg(libc::ENOPROTOOPT),
    );
    check(
        report,
        "int option, 2 bytes: EINVAL",
        setsockopt_bytes(fd, libc::SOL_SOCKET, libc::SO_PASSCRED, &[1, 0]),
        neg(libc::EINVAL),
    );
    check(
        report,
        "another level: EOPNOTSUPP",
        setsockopt_bytes(fd, libc::IPPROTO_TCP, 1, &1i32.to_ne_bytes()),
        neg(libc::EOPNOTSUPP),
    );
    check(
        report,
        "SO_PEERCRED unconnected: pid 0, ids -1",
        i64::from(
            getsockopt_bytes(fd, libc::SO_PEERCRED, 12).ok()
                == Some([0u8, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255].to_vec()),
        ),
        1,
    );
    // SAFETY: `stat` is live.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    unsafe { libc::fstat(fd, &mut stat) };
    check(
        report,
        "fstat: S_IFSOCK",
        i64::from(stat.st_mode & libc::S_IFMT),
        i64::from(libc::S_IFSOCK),
    );
    check(
        report,
        "fstat: mode 0777",
        i64::from(stat.st_mode & 0o777),
        0o777,
    );
    let link =
        std::fs::read_link(format!("/proc/self/fd/{fd}")).map(|target| target.into_os_string());
    report.check(
        "/proc/self/fd link is socket:[ino]",
        link.as_ref().ok()
            == Some(&std::ffi::OsString::from(format!(
                "socket:[{}]",
                stat.st_ino
            ))),
        format!("{link:?}"),
    );
    // SAFETY: no pointers.
    check(
        report,
        "lseek: ESPIPE",
        raw(unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) }),
        neg(libc::ESPIPE),
    );
    check(
        report,
        "unconnected send: ENOTCONN",
        send(fd, b"x", 0),
        neg(libc::ENOTCONN),
    );
    check(
        report,
        "unconnected recv: EINVAL",
        recv(fd, 4, 0).0,
        neg(libc::EINVAL),
    );
    check(
        report,
        "unconnected getpeername: ENOTCONN",
        name_of(fd, true).err().unwrap_or(0),
        neg(libc::ENOTCONN),
    );
    check(
        report,
        "unbound getsockname: the family",
        i64::from(name_of(fd, false) == Ok(address(b""))),
        1,
    );
    check(
        report,
        "unconnected stream poll: POLLOUT|POLLHUP",
        poll(fd, libc::POLLIN | libc::POLLOUT, 0),
        i64::from(libc::POLLOUT | libc::POLLHUP),
    );
    check(
        report,
        "listen unbound: EINVAL",
        listen(fd, 5),
        neg(libc::EINVAL),
    );
    check(
        report,
        "accept, not listening: EINVAL",
        accept4(fd, 0),
        neg(libc::EINVAL),
    );
    close(fd);

    check(
        report,
        "bad type: EINVAL",
        socket(libc::AF_UNIX, 77, 0),
        neg(libc::EINVAL),
    );
    check(
        report,
        "bad flags: EINVAL",
        socket(libc::AF_UNIX, libc::SOCK_STREAM | 0x100_0000, 0),
        neg(libc::EINVAL),
    );
    check(
        report,
        "SOCK_RDM: ESOCKTNOSUPPORT",
        socket(libc::AF_UNIX, libc::SOCK_RDM, 0),
        neg(libc::ESOCKTNOSUPPORT),
    );
    check(
        report,
        "protocol 5: EPROTONOSUPPORT",
        socket(libc::AF_UNIX, libc::SOCK_STREAM, 5),
        neg(libc::EPROTONOSUPPORT),
    );
    check(
        report,
        "family 200: EAFNOSUPPORT",
        socket(200, libc::SOCK_STREAM, 0),
        neg(libc::EAFNOSUPPORT),
    );
    check(
        report,
        "family -1: EAFNOSUPPORT",
        socket(-1, libc::SOCK_STREAM, 0),
        neg(libc::EAFNOSUPPORT),
    );
    let raw_socket = socket(libc::AF_UNIX, libc::SOCK_RAW, 0);
    check(
        report,
        "SOCK_RAW is a datagram socket",
        getsockopt_int(raw_socket as c_int, libc::SO_TYPE),
        i64::from(libc::SOCK_DGRAM),
    );
    close(raw_socket as c_int);
    if getpid() == 1 {
        // Networking is a later issue: the sandbox has only AF_UNIX.
        for (family, name) in [
            (libc::AF_INET, "AF_INET"),
            (libc::AF_INET6, "AF_INET6"),
            (libc::AF_NETLINK, "AF_NETLINK"),
        ] {
            check(
                report,
                &format!("{name}: EAFNOSUPPORT in the sandbox"),
                socket(family, libc::SOCK_DGRAM, 0),
                neg(libc::EAFNOSUPPORT),
            );
        }
    } else {
        report.skip("AF_INET: EAFNOSUPPORT", "only the sandbox lacks networking");
    }
    let (a, b) = pair(libc::SOCK_DGRAM);
    check(
        report,
        "listen on a datagram socket: EOPNOTSUPP",
        listen(a, 1),
        neg(libc::EOPNOTSUPP),
    );
    check(
        report,
        "accept on a datagram socket: EOPNOTSUPP",
        accept4(a, 0),
        neg(libc::EOPNOTSUPP),
    );
    close(a);
    close(b);
}

fn stream_pairs(report: &mut Report) {
    let (a, b) = pair(libc::SOCK_STREAM);
    let (me, (uid, gid)) = (getpid(), ids());
    let mut expected = (me as u32).to_ne_bytes().to_vec();
    expected.extend_from_slice(&uid.to_ne_bytes());
    expected.extend_from_slice(&gid.to_ne_bytes());
    check(
        report,
        "socketpair SO_PEERCRED: this process",
        i64::from(getsockopt_bytes(a, libc::SO_PEERCRED, 12) == Ok(expected)),
        1,
    );
    check(
        report,
        "socketpair getpeername: unnamed",
        i64::from(name_of(a, true) == Ok(address(b""))),
        1,
    );
    check(
        report,
        "socketpair poll: writable",
        poll(a, libc::POLLIN | libc::POLLOUT, 0),
        i64::from(libc::POLLOUT),
    );
    check(
        report,
        "MSG_DONTWAIT on empty: EAGAIN",
        recv(a, 10, libc::MSG_DONTWAIT).0,
        neg(libc::EAGAIN),
    );
    check(report, "stream send", send(a, b"hello ", 0), 6);
    check(report, "stream send again", write(a, b"world"), 5);
    check(
        report,
        "poll: readable",
        poll(b, libc::POLLIN, 0),
        i64::from(libc::POLLIN),
    );
    let mut waiting: c_int = 0;
    // SAFETY: `waiting` is live.
    unsafe { libc::ioctl(b, libc::FIONREAD, &mut waiting) };
    check(report, "FIONREAD: bytes waiting", i64::from(waiting), 11);
    let (got, data) = recv(b, 100, libc::MSG_PEEK);
    check(report, "MSG_PEEK sees both sends", got, 11);
    check(
        report,
        "MSG_PEEK bytes",
        i64::from(data == b"hello world"),
        1,
    );
    let (got, data) = recv(b, 3, 0);
    check(
        report,
        "stream reads coalesce across sends",
        i64::from(got == 3 && data == b"hel"),
        1,
    );
    let (got, data) = read(b, 100);
    check(
        report,
        "the rest",
        i64::from(got == 8 && data == b"lo world"),
        1,
    );
    // readv/writev.
    let parts = [b"ab".as_slice(), b"cde".as_slice()];
    let iov: Vec<libc::iovec> = parts
        .iter()
        .map(|part| libc::iovec {
            iov_base: part.as_ptr() as *mut c_void,
            iov_len: part.len(),
        })
        .collect();
    // SAFETY: two live iovecs.
    check(
        report,
        "writev",
        raw(unsafe { libc::writev(a, iov.as_ptr(), 2) } as i64),
        5,
    );
    let mut first = [0u8; 1];
    let mut rest = [0u8; 10];
    let iov = [
        libc::iovec {
            iov_base: first.as_mut_ptr().cast(),
            iov_len: 1,
        },
        libc::iovec {
            iov_base: rest.as_mut_ptr().cast(),
            iov_len: 10,
        },
    ];
    // SAFETY: two live iovecs.
    check(
        report,
        "readv scatters",
        raw(unsafe { libc::readv(b, iov.as_ptr(), 2) } as i64),
        5,
    );
    check(
        report,
        "readv bytes",
        i64::from(&first == b"a" && &rest[..4] == b"bcde"),
        1,
    );
    // MSG_WAITALL: pieces from another process.
    let child = fork();
    if child == 0 {
        for piece in [b"abc", b"def", b"ghi"] {
            sleep_ms(20);
            send(a, piece, 0);
        }
        child_exit(0);
    }
    let (got, data) = recv(b, 9, libc::MSG_WAITALL);
    check(
        report,
        "MSG_WAITALL waits for all",
        i64::from(got == 9 && data == b"abcdefghi"),
        1,
    );
    wait(child);
    // Non-blocking fill.
    set_nonblocking(a);
    let chunk = vec![7u8; 65536];
    let mut total = 0i64;
    let full = loop {
        let sent = send(a, &chunk, 0);
        if sent < 0 {
            break sent;
        }
        total += sent;
        if total > 64 << 20 {
            break 0;
        }
    };
    check(
        report,
        "non-blocking send fills: EAGAIN",
        full,
        neg(libc::EAGAIN),
    );
    report.check(
        "a full stream holds at least SO_SNDBUF/2",
        total >= 106_496,
        total,
    );
    check(
        report,
        "poll full: not writable",
        poll(a, libc::POLLOUT, 0),
        0,
    );
    let mut drained = 0i64;
    while drained < total {
        let (got, _) = recv(b, 1 << 20, 0);
        if got <= 0 {
            break;
        }
        drained += got;
    }
    check(report, "everything sent arrives", drained, total);
    check(
        report,
        "poll after drain: writable",
        poll(a, libc::POLLOUT, 0),
        i64::from(libc::POLLOUT),
    );
    // Shutdown.
    // SAFETY: no pointers.
    check(
        report,
        "shutdown(99): EINVAL",
        raw(i64::from(unsafe { libc::shutdown(a, 99) })),
        neg(libc::EINVAL),
    );
    send(a, b"last", 0);
    // SAFETY: no pointers.
    check(
        report,
        "shutdown(SHUT_WR)",
        raw(i64::from(unsafe { libc::shutdown(a, libc::SHUT_WR) })),
        0,
    );
    check(report, "peer reads what was left", recv(b, 10, 0).0, 4);
    check(report, "then end of file", recv(b, 10, 0).0, 0);
    check(
        report,
        "peer poll: POLLIN|POLLRDHUP",
        poll(b, libc::POLLIN | libc::POLLRDHUP | libc::POLLOUT, 0),
        i64::from(libc::POLLIN | libc::POLLRDHUP | libc::POLLOUT),
    );
    ignore_sigpipe();
    check(
        report,
        "send after SHUT_WR: EPIPE",
        send(a, b"x", 0),
        neg(libc::EPIPE),
    );
    default_sigpipe();
    check(report, "the other way still works", send(b, b"back", 0), 4);
    check(report, "and arrives", recv(a, 10, 0).0, 4);
    close(a);
    check(
        report,
        "peer closed: POLLHUP",
        poll(b, libc::POLLIN | libc::POLLRDHUP, 0),
        i64::from(libc::POLLIN | libc::POLLRDHUP | libc::POLLHUP),
    );
    // EPIPE: with MSG_NOSIGNAL an error; without, SIGPIPE kills the sender.
    check(
        report,
        "send to a closed peer, MSG_NOSIGNAL: EPIPE",
        send(b, b"x", libc::MSG_NOSIGNAL),
        neg(libc::EPIPE),
    );
    let child = fork();
    if child == 0 {
        send(b, b"x", 0);
        child_exit(0);
    }
    let status = wait(child);
    report.check(
        "send to a closed peer: SIGPIPE",
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGPIPE,
        status,
    );
    let child = fork();
    if child == 0 {
        ignore_sigpipe();
        child_exit(if write(b, b"x") == neg(libc::EPIPE) {
            0
        } else {
            1
        });
    }
    check(
        report,
        "write to a closed peer, SIGPIPE ignored: EPIPE",
        i64::from(wait(child)),
        0,
    );
    close(b);
    // Closing with unread data resets the peer.
    let (a, b) = pair(libc::SOCK_STREAM);
    send(a, b"unread", 0);
    close(b);
    check(
        report,
        "closed with unread data: the peer sees POLLERR",
        poll(a, libc::POLLIN, 0) & i64::from(libc::POLLERR),
        i64::from(libc::POLLERR),
    );
    check(
        report,
        "closed with unread data: the peer reads ECONNRESET",
        recv(a, 10, 0).0,
        neg(libc::ECONNRESET),
    );
    check(report, "then end of file", recv(a, 10, 0).0, 0);
    check(
        report,
        "and a send is EPIPE",
        send(a, b"x", libc::MSG_NOSIGNAL),
        neg(libc::EPIPE),
    );
    close(a);
    // SO_RCVTIMEO.
    let (a, b) = pair(libc::SOCK_STREAM);
    let mut timeout = [0u8; 16];
    timeout[8..].copy_from_slice(&100_000i64.to_ne_bytes());
    check(
        report,
        "SO_RCVTIMEO 100 ms",
        setsockopt_bytes(a, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeout),
        0,
    );
    check(
        report,
        "SO_RCVTIMEO reads back",
        i64::from(getsockopt_bytes(a, libc::SO_RCVTIMEO, 16) == Ok(timeout.to_vec())),
        1,
    );
    let mut bad = timeout;
    bad[8..].copy_from_slice(&1_000_000i64.to_ne_bytes());
    check(
        report,
        "SO_RCVTIMEO usec out of range: EDOM",
        setsockopt_bytes(a, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &bad),
        neg(libc::EDOM),
    );
    let start = Instant::now();
    check(
        report,
        "recv times out: EAGAIN",
        recv(a, 10, 0).0,
        neg(libc::EAGAIN),
    );
    let waited = start.elapsed();
    report.check(
        "after the timeout",
        waited >= Duration::from_millis(90) && waited < Duration::from_secs(5),
        format!("{waited:?}"),
    );
    // SO_SNDTIMEO: a blocking send into a full socket stops after the timeout, with what
    // it sent, then EAGAIN.
    check(
        report,
        "SO_SNDTIMEO 100 ms",
        setsockopt_bytes(a, libc::SOL_SOCKET, libc::SO_SNDTIMEO, &timeout),
        0,
    );
    let big = vec![1u8; 4 << 20];
    let sent = send(a, &big, 0);
    report.check(
        "send into a full socket returns what it sent",
        sent > 0 && sent < big.len() as i64,
        sent,
    );
    let start = Instant::now();
    check(report, "then times out: EAGAIN", send(a, &big, 0), neg(libc::EAGAIN));
    let waited = start.elapsed();
    report.check(
        "after the send timeout",
        waited >= Duration::from_millis(90) && waited < Duration::from_secs(5),
        format!("{waited:?}"),
    );
    close(a);
    close(b);
}

fn datagrams(report: &mut Report) {
    for (kind, name) in [
        (libc::SOCK_DGRAM, "datagram"),
        (libc::SOCK_SEQPACKET, "seqpacket"),
    ] {
        let (a, b) = pair(kind);
        for piece in [b"a".as_slice(), b"bb", b"ccc", b""] {
            send(a, piece, 0);
        }
        let lengths: Vec<i64> = (0..4).map(|_| recv(b, 100, libc::MSG_DONTWAIT).0).collect();
        report.check(
            &format!("{name}: boundaries kept"),
            lengths == [1, 2, 3, 0],
            format!("{lengths:?}"),
        );
        send(a, b"hello", 0);
        let got = recv_with(b, 2, 0, 0);
        check(
            report,
            &format!("{name}: short read takes 2"),
            got.result,
            2,
        );
        check(
            report,
            &format!("{name}: MSG_TRUNC set"),
            i64::from(got.flags & libc::MSG_TRUNC),
            i64::from(libc::MSG_TRUNC),
        );
        check(
            report,
            &format!("{name}: the rest is gone"),
            recv(b, 100, libc::MSG_DONTWAIT).0,
            neg(libc::EAGAIN),
        );
        send(a, b"hello", 0);
        check(
            report,
            &format!("{name}: MSG_TRUNC returns the real length"),
            recv(b, 2, libc::MSG_TRUNC).0,
            5,
        );
        send(a, b"peeked", 0);
        check(
            report,
            &format!("{name}: MSG_PEEK"),
            recv(b, 100, libc::MSG_PEEK).0,
            6,
        );
        check(
            report,
            &format!("{name}: then the read"),
            recv(b, 100, 0).0,
            6,
        );
        // writev is one datagram; readv scatters it.
        let parts = [b"12".as_slice(), b"345".as_slice()];
        let iov: Vec<libc::iovec> = parts
            .iter()
            .map(|part| libc::iovec {
                iov_base: part.as_ptr() as *mut c_void,
                iov_len: part.len(),
            })
            .collect();
        // SAFETY: live iovecs.
        unsafe { libc::writev(a, iov.as_ptr(), 2) };
        let mut x = [0u8; 3];
        let mut y = [0u8; 3];
        let iov = [
            libc::iovec {
                iov_base: x.as_mut_ptr().cast(),
                iov_len: 3,
            },
            libc::iovec {
                iov_base: y.as_mut_ptr().cast(),
                iov_len: 3,
            },
        ];
        // SAFETY: live iovecs.
        let got = raw(unsafe { libc::readv(b, iov.as_ptr(), 2) } as i64);
        check(
            report,
            &format!("{name}: writev is one datagram, readv scatters it"),
            i64::from(got == 5 && &x == b"123" && &y[..2] == b"45"),
            1,
        );
        // sendmmsg / recvmmsg.
        let messages = [
            b"one".as_slice(),
            b"three".as_slice(),
            b"seven..".as_slice(),
        ];
        let mut iovs: Vec<libc::iovec> = messages
            .iter()
            .map(|m| libc::iovec {
                iov_base: m.as_ptr() as *mut c_void,
                iov_len: m.len(),
            })
            .collect();
        // SAFETY: zeroed headers pointing at live iovecs.
        let mut headers: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .map(|iov| unsafe {
                let mut header: libc::mmsghdr = std::mem::zeroed();
                header.msg_hdr.msg_iov = iov;
                header.msg_hdr.msg_iovlen = 1;
                header
            })
            .collect();
        // SAFETY: three live headers.
        check(
            report,
            &format!("{name}: sendmmsg"),
            raw(i64::from(unsafe {
                libc::sendmmsg(a, headers.as_mut_ptr(), 3, 0)
            })),
            3,
        );
        let mut buffers = [[0u8; 16]; 3];
        let mut iovs: Vec<libc::iovec> = buffers
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: 16,
            })
            .collect();
        // SAFETY: zeroed headers pointing at live iovecs.
        let mut headers: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .map(|iov| unsafe {
                let mut header: libc::mmsghdr = std::mem::zeroed();
                header.msg_hdr.msg_iov = iov;
                header.msg_hdr.msg_iovlen = 1;
                header
            })
            .collect();
        // SAFETY: three live headers, no timeout.
        let got = raw(i64::from(unsafe {
            libc::recvmmsg(
                b,
                headers.as_mut_ptr(),
                3,
                libc::MSG_DONTWAIT as _,
                std::ptr::null_mut(),
            )
        }));
        let lengths: Vec<u32> = headers.iter().map(|h| h.msg_len).collect();
        check(
            report,
            &format!("{name}: recvmmsg"),
            i64::from(got == 3 && lengths == [3, 5, 7]),
            1,
        );
        // Datagrams too large for the send buffer.
        setsockopt_int(a, libc::SO_SNDBUF, 4096);
        let big = vec![0u8; 8192 - 31];
        check(
            report,
            &format!("{name}: larger than SO_SNDBUF: EMSGSIZE"),
            send(a, &big, 0),
            neg(libc::EMSGSIZE),
        );
        close(a);
        if kind == libc::SOCK_SEQPACKET {
            check(
                report,
                "seqpacket: peer closed, end of file",
                recv(b, 10, 0).0,
                0,
            );
            check(
                report,
                "seqpacket: peer closed, non-blocking end of file",
                recv(b, 10, libc::MSG_DONTWAIT).0,
                0,
            );
            let child = fork();
            if child == 0 {
                child_exit(if send(b, b"x", 0) == neg(libc::EPIPE) {
                    0
                } else {
                    1
                });
            }
            check(
                report,
                "seqpacket: send to a closed peer is EPIPE without SIGPIPE",
                i64::from(wait(child)),
                0,
            );
            check(
                report,
                "seqpacket: POLLHUP",
                poll(b, libc::POLLIN, 0) & i64::from(libc::POLLHUP),
                i64::from(libc::POLLHUP),
            );
        } else {
            check(
                report,
                "datagram: peer closed, send: ECONNREFUSED",
                send(b, b"x", 0),
                neg(libc::ECONNREFUSED),
            );
            check(
                report,
                "datagram: then ENOTCONN",
                send(b, b"x", 0),
                neg(libc::ENOTCONN),
            );
        }
        close(b);
    }
    let fd = socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0) as c_int;
    check(
        report,
        "seqpacket unconnected send: ENOTCONN",
        send(fd, b"x", 0),
        neg(libc::ENOTCONN),
    );
    check(
        report,
        "seqpacket unconnected recv: ENOTCONN",
        recv(fd, 1, 0).0,
        neg(libc::ENOTCONN),
    );
    close(fd);
    let fd = socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) as c_int;
    check(
        report,
        "datagram unconnected send: ENOTCONN",
        send(fd, b"x", 0),
        neg(libc::ENOTCONN),
    );
    close(fd);
}

/// Path names in `dir`.
fn path_names(report: &mut Report, dir: &str, tag: &str) {
    let path = format!("{dir}/unix-sockets-{}", getpid());
    let c_path = CString::new(path.clone()).unwrap();
    // SAFETY: `c_path` is a live C string.
    unsafe { libc::unlink(c_path.as_ptr()) };
    let server = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as c_int;
    check(
        report,
        &format!("{tag}: bind a path"),
        bind(server, &path_address(&path)),
        0,
    );
    check(
        report,
        &format!("{tag}: getsockname: the path and its NUL"),
        i64::from(name_of(server, false) == Ok(path_address(&path))),
        1,
    );
    // SAFETY: `stat` is live, `c_path` a C string.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    let found = unsafe { libc::stat(c_path.as_ptr(), &mut stat) };
    check(
        report,
        &format!("{tag}: the node is a socket"),
        i64::from(found == 0 && stat.st_mode & libc::S_IFMT == libc::S_IFSOCK),
        1,
    );
    check(
        report,
        &format!("{tag}: bind it again: EINVAL"),
        bind(server, &path_address(&format!("{path}-2"))),
        neg(libc::EINVAL),
    );
    let other = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as c_int;
    check(
        report,
        &format!("{tag}: bind to an existing path: EADDRINUSE"),
        bind(other, &path_address(&path)),
        neg(libc::EADDRINUSE),
    );
    let client = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as c_int;
    check(
        report,
        &format!("{tag}: connect, nobody listening: ECONNREFUSED"),
        connect(client, &path_address(&path)),
        neg(libc::ECONNREFUSED),
    );
    check(report, &format!("{tag}: listen"), listen(server, 1), 0);
    check(
        report,
        &format!("{tag}: SO_ACCEPTCONN"),
        getsockopt_int(server, libc::SO_ACCEPTCONN),
        1,
    );
    check(
        report,
        &format!("{tag}: listener poll: nothing yet"),
        poll(server, libc::POLLIN | libc::POLLOUT, 0),
        0,
    );
    check(
        report,
        &format!("{tag}: connect"),
        connect(client, &path_address(&path)),
        0,
    );
    check(
        report,
        &format!("{tag}: connect again: EISCONN"),
        connect(client, &path_address(&path)),
        neg(libc::EISCONN),
    );
    check(
        report,
        &format!("{tag}: listener poll: a connection"),
        poll(server, libc::POLLIN, 0),
        i64::from(libc::POLLIN),
    );
    check(
        report,
        &format!("{tag}: getpeername: the listener's path"),
        i64::from(name_of(client, true) == Ok(path_address(&path))),
        1,
    );
    check(
        report,
        &format!("{tag}: data before accept"),
        send(client, b"early", 0),
        5,
    );
    let (accepted, peer) = accept_named(server);
    report.check(&format!("{tag}: accept"), accepted >= 0, accepted);
    check(
        report,
        &format!("{tag}: accept's address: the unbound client"),
        i64::from(peer == address(b"")),
        1,
    );
    let accepted = accepted as c_int;
    check(
        report,
        &format!("{tag}: accepted getsockname: the listener's path"),
        i64::from(name_of(accepted, false) == Ok(path_address(&path))),
        1,
    );
    check(
        report,
        &format!("{tag}: data sent before accept"),
        recv(accepted, 10, 0).0,
        5,
    );
    let dgram = socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) as c_int;
    check(
        report,
        &format!("{tag}: a datagram socket to a stream path: EPROTOTYPE"),
        connect(dgram, &path_address(&path)),
        neg(libc::EPROTOTYPE),
    );
    check(
        report,
        &format!("{tag}: sendto a stream path: EPROTOTYPE"),
        {
            let addr = path_address(&path);
            let mut storage = [0u8; 128];
            storage[..addr.len()].copy_from_slice(&addr);
            // SAFETY: live buffers.
            raw(unsafe {
                libc::sendto(
                    dgram,
                    b"x".as_ptr().cast(),
                    1,
                    0,
                    storage.as_ptr().cast(),
                    addr.len() as socklen_t,
                )
            } as i64)
        },
        neg(libc::EPROTOTYPE),
    );
    let missing = format!("{dir}/unix-sockets-missing-{}", getpid());
    check(
        report,
        &format!("{tag}: connect to a missing path: ENOENT"),
        connect(other, &path_address(&missing)),
        neg(libc::ENOENT),
    );
    let file = format!("{dir}/unix-sockets-file-{}", getpid());
    std::fs::write(&file, b"not a socket").unwrap();
    check(
        report,
        &format!("{tag}: connect to a regular file: ECONNREFUSED"),
        connect(other, &path_address(&file)),
        neg(libc::ECONNREFUSED),
    );
    std::fs::remove_file(&file).ok();
    // Permissions: write permission on the node (checked for an unprivileged caller).
    // SAFETY: `c_path` is a live C string.
    unsafe { libc::chmod(c_path.as_ptr(), 0o755) };
    let child = fork();
    if child == 0 {
        become_nobody();
        let fd = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as c_int;
        child_exit(if connect(fd, &path_address(&path)) == neg(libc::EACCES) {
            0
        } else {
            1
        });
    }
    check(
        report,
        &format!("{tag}: connect without write permission: EACCES"),
        i64::from(wait(child)),
        0,
    );
    // SAFETY: as above.
    unsafe { libc::chmod(c_path.as_ptr(), 0o777) };
    // Unlinked: unreachable by that path, the listener lives on.
    // SAFETY: as above.
    unsafe { libc::unlink(c_path.as_ptr()) };
    check(
        report,
        &format!("{tag}: after unlink: ENOENT"),
        connect(other, &path_address(&path)),
        neg(libc::ENOENT),
    );
    check(
        report,
        &format!("{tag}: the connection still works"),
        send(accepted, b"ok", 0),
        2,
    );
    check(
        report,
        &format!("{tag}: and carries data"),
        recv(client, 10, 0).0,
        2,
    );
    let rebound = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as c_int;
    check(
        report,
        &format!("{tag}: the path can be bound again"),
        bind(rebound, &path_address(&path)),
        0,
    );
    // SAFETY: as above.
    unsafe { libc::unlink(c_path.as_ptr()) };
    for fd in [server, other, client, accepted, dgram, rebound] {
        close(fd);
    }
    // Datagrams to a path: the sender's address.
    let receiver = socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) as c_int;
    check(
        report,
        &format!("{tag}: bind a datagram socket"),
        bind(receiver, &path_address(&path)),
        0,
    );
    let sender = socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) as c_int;
    let addr = path_address(&path);
    let mut storage = [0u8; 128];
    storage[..addr.len()].copy_from_slice(&addr);
    // SAFETY: live buffers.
    let sent = raw(unsafe {
        libc::sendto(
            sender,
            b"dgram".as_ptr().cast(),
            5,
            0,
            storage.as_ptr().cast(),
            addr.len() as socklen_t,
        )
    } as i64);
    check(report, &format!("{tag}: sendto a path"), sent, 5);
    let got = recv_with(receiver, 10, 0, 0);
    check(
        report,
        &format!("{tag}: recvfrom: an unbound sender has no name"),
        i64::from(got.result == 5 && got.name.is_empty()),
        1,
    );
    // SAFETY: `c_path` is a live C string.
    unsafe { libc::unlink(c_path.as_ptr()) };
    close(receiver);
    close(sender);
}

fn abstract_names(report: &mut Report) {
    let name = format!("\0unix-sockets-{}", getpid());
    let server = socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0) as c_int;
    check(
        report,
        "abstract: bind",
        bind(server, &address(name.as_bytes())),
        0,
    );
    check(
        report,
        "abstract: getsockname: exactly the bytes bound",
        i64::from(name_of(server, false) == Ok(address(name.as_bytes()))),
        1,
    );
    let other = socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0) as c_int;
    check(
        report,
        "abstract: bind a taken name: EADDRINUSE",
        bind(other, &address(name.as_bytes())),
        neg(libc::EADDRINUSE),
    );
    let with_tail = format!("{name}\0tail");
    check(
        report,
        "abstract: a longer name is another name",
        bind(other, &address(with_tail.as_bytes())),
        0,
    );
    check(
        report,
        "abstract: NULs kept",
        i64::from(name_of(other, false) == Ok(address(with_tail.as_bytes()))),
        1,
    );
    let client = socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0) as c_int;
    check(
        report,
        "abstract: connect, not listening: ECONNREFUSED",
        connect(client, &address(name.as_bytes())),
        neg(libc::ECONNREFUSED),
    );
    check(
        report,
        "abstract: connect to nobody: ECONNREFUSED",
        connect(client, &address(b"\0unix-sockets-nobody")),
        neg(libc::ECONNREFUSED),
    );
    listen(server, 4);
    check(
        report,
        "abstract: connect",
        connect(client, &address(name.as_bytes())),
        0,
    );
    let accepted = accept4(server, libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
    report.check("abstract: accept4", accepted >= 0, accepted);
    let accepted = accepted as c_int;
    check(
        report,
        "accept4 flags: FD_CLOEXEC",
        fcntl(accepted, libc::F_GETFD),
        1,
    );
    check(
        report,
        "accept4 flags: O_NONBLOCK",
        fcntl(accepted, libc::F_GETFL) & i64::from(libc::O_NONBLOCK),
        i64::from(libc::O_NONBLOCK),
    );
    check(
        report,
        "accept4 bad flags: EINVAL",
        accept4(server, 0x4000_0000),
        neg(libc::EINVAL),
    );
    check(
        report,
        "seqpacket over abstract: one message",
        send(client, b"message", 0),
        7,
    );
    check(
        report,
        "seqpacket over abstract: read whole",
        recv(accepted, 100, 0).0,
        7,
    );
    for fd in [server, other, client, accepted] {
        close(fd);
    }
    check(
        report,
        "abstract: free again once closed",
        {
            let fd = socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0) as c_int;
            let result = bind(fd, &address(name.as_bytes()));
            close(fd);
            result
        },
        0,
    );
    // Autobind.
    let fd = socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) as c_int;
    check(
        report,
        "autobind: bind with the family alone",
        bind(fd, &address(b"")),
        0,
    );
    let bound = name_of(fd, false).unwrap_or_default();
    report.check(
        "autobind: NUL and five hex digits",
        bound.len() == 8
            && bound[2] == 0
            && bound[3..]
                .iter()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        format!("{bound:?}"),
    );
    close(fd);
    let fd = socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) as c_int;
    check(
        report,
        "bind: too short: EINVAL",
        bind(fd, &[1]),
        neg(libc::EINVAL),
    );
    check(
        report,
        "bind: another family: EINVAL",
        bind(fd, &[2, 0, b'/', b'x', 0]),
        neg(libc::EINVAL),
    );
    check(
        report,
        "bind: longer than sockaddr_un: EINVAL",
        bind(fd, &address(&[b'a'; 109])),
        neg(libc::EINVAL),
    );
    close(fd);
    // Datagram: connected receivers refuse others; SO_PASSCRED senders autobind.
    let receiver = socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) as c_int;
    let rname = format!("\0unix-sockets-dgram-{}", getpid());
    bind(receiver, &address(rname.as_bytes()));
    let (x, y) = pair(libc::SOCK_DGRAM);
    check(
        report,
        "datagram: connect to a named socket",
        connect(x, &address(rname.as_bytes())),
        0,
    );
    setsockopt_int(x, libc::SO_PASSCRED, 1);
    check(report, "datagram: send", send(x, b"hi", 0), 2);
    let got = recv_with(receiver, 10, 0, 0);
    check(
        report,
        "datagram: the sender's name (autobound) comes with it",
        i64::from(got.result == 2 && got.name.len() == 8 && got.name[2] == 0),
        1,
    );
    connect(receiver, &address(b"\0unix-sockets-elsewhere"));
    let bound_elsewhere = socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) as c_int;
    bind(bound_elsewhere, &address(b"\0unix-sockets-elsewhere"));
    check(
        report,
        "datagram: connect to the other",
        connect(receiver, &address(b"\0unix-sockets-elsewhere")),
        0,
    );
    check(
        report,
        "datagram: a receiver connected elsewhere: EPERM",
        send(x, b"hi", 0),
        neg(libc::EPERM),
    );
    check(
        report,
        "datagram: connect(AF_UNSPEC) dissolves",
        connect(receiver, &(libc::AF_UNSPEC as u16).to_ne_bytes()),
        0,
    );
    check(
        report,
        "datagram: then it accepts again",
        send(x, b"hi", 0),
        2,
    );
    for fd in [receiver, x, y, bound_elsewhere] {
        close(fd);
    }
}

fn backlog_and_accept(report: &mut Report) {
    let name = format!("\0unix-sockets-backlog-{}", getpid());
    let server = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as c_int;
    bind(server, &address(name.as_bytes()));
    listen(server, 1);
    set_nonblocking(server);
    check(
        report,
        "accept, none waiting, non-blocking: EAGAIN",
        accept4(server, 0),
        neg(libc::EAGAIN),
    );
    // A backlog of 1 holds two (Linux counts `> backlog`).
    let clients: Vec<c_int> = (0..3)
        .map(|_| socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0) as c_int)
        .collect();
    check(
        report,
        "backlog 1: first connect",
        connect(clients[0], &address(name.as_bytes())),
        0,
    );
    check(
        report,
        "backlog 1: second connect",
        connect(clients[1], &address(name.as_bytes())),
        0,
    );
    check(
        report,
        "backlog full, non-blocking: EAGAIN",
        connect(clients[2], &address(name.as_bytes())),
        neg(libc::EAGAIN),
    );
    // A blocking connect waits until the backlog has room (timed from before the fork:
    // the accept comes 60 ms after it, however late the parent gets to its connect).
    let blocking = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as c_int;
    let start = Instant::now();
    let child = fork();
    if child == 0 {
        sleep_ms(60);
        let fd = accept4(server, 0);
        child_exit(if fd >= 0 { 0 } else { 1 });
    }
    check(
        report,
        "backlog full, blocking connect waits for room",
        connect(blocking, &address(name.as_bytes())),
        0,
    );
    let waited = start.elapsed();
    report.check(
        "it waited for the accept",
        waited >= Duration::from_millis(60),
        format!("{waited:?}"),
    );
    check(report, "the accepting child", i64::from(wait(child)), 0);
    // A blocking accept woken by a connect.
    let server2 = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as c_int;
    let name2 = format!("\0unix-sockets-wake-{}", getpid());
    bind(server2, &address(name2.as_bytes()));
    listen(server2, 8);
    let child = fork();
    if child == 0 {
        sleep_ms(40);
        let fd = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as c_int;
        connect(fd, &address(name2.as_bytes()));
        send(fd, b"woke", 0);
        child_exit(0);
    }
    let accepted = accept4(server2, 0);
    report.check(
        "blocking accept woken by a connect",
        accepted >= 0,
        accepted,
    );
    check(report, "and its data", recv(accepted as c_int, 10, 0).0, 4);
    wait(child);
    close(accepted as c_int);
    // Closing a listener resets the connections it had not accepted.
    close(server);
    check(
        report,
        "listener closed: an unaccepted connection reads ECONNRESET",
        recv(clients[1], 10, 0).0,
        neg(libc::ECONNRESET),
    );
    for fd in clients {
        close(fd);
    }
    close(blocking);
    close(server2);
}

fn credentials(report: &mut Report) {
    let (me, (uid, gid)) = (getpid(), ids());
    // SO_PEERCRED across processes: exact pid, uid, gid on both sides.
    let name = format!("\0unix-sockets-cred-{}", getpid());
    let server = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as c_int;
    bind(server, &address(name.as_bytes()));
    listen(server, 4);
    let child = fork();
    if child == 0 {
        let fd = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as c_int;
        connect(fd, &address(name.as_bytes()));
        let creds = getsockopt_bytes(fd, libc::SO_PEERCRED, 12).unwrap_or_default();
        let pid = i32::from_ne_bytes([creds[0], creds[1], creds[2], creds[3]]);
        send(fd, b"x", 0);
        recv(fd, 1, 0);
        child_exit(if i64::from(pid) == me { 0 } else { 1 });
    }
    let accepted = accept4(server, 0) as c_int;
    recv(accepted, 1, 0);
    let creds = getsockopt_bytes(accepted, libc::SO_PEERCRED, 12).unwrap_or_default();
    let mut expected = (child as u32).to_ne_bytes().to_vec();
    expected.extend_from_slice(&uid.to_ne_bytes());
    expected.extend_from_slice(&gid.to_ne_bytes());
    report.check(
        "SO_PEERCRED: the connecting child's pid, uid, gid",
        creds == expected,
        format!("{creds:?} (want {expected:?})"),
    );
    check(
        report,
        "SO_PEERCRED short buffer: 4 bytes",
        getsockopt_bytes(accepted, libc::SO_PEERCRED, 4).map_or(-1, |b| b.len() as i64),
        4,
    );
    send(accepted, b"y", 0);
    check(
        report,
        "SO_PEERCRED of the client: the listener",
        i64::from(wait(child)),
        0,
    );
    close(accepted);
    close(server);

    // SCM_CREDENTIALS.
    let (a, b) = pair(libc::SOCK_DGRAM);
    check(
        report,
        "SO_PASSCRED on",
        setsockopt_int(b, libc::SO_PASSCRED, 1),
        0,
    );
    send(a, b"c", 0);
    let got = recv_with(b, 10, 64, 0);
    let creds = got.creds.map(|c| (i64::from(c.pid), c.uid, c.gid));
    report.check(
        "SCM_CREDENTIALS: the sender's pid, uid, gid",
        creds == Some((me, uid, gid)),
        format!("{creds:?}"),
    );
    let child = fork();
    if child == 0 {
        send(a, b"c", 0);
        child_exit(0);
    }
    wait(child);
    let got = recv_with(b, 10, 64, 0);
    check(
        report,
        "SCM_CREDENTIALS from a child: its pid",
        got.creds.map_or(-1, |c| i64::from(c.pid)),
        i64::from(child),
    );
    let own = libc::ucred {
        pid: me as i32,
        uid,
        gid,
    };
    check(
        report,
        "claim one's own credentials",
        send_with(a, b"c", &[], Some(own), 0),
        1,
    );
    check(
        report,
        "they arrive",
        recv_with(b, 10, 64, 0)
            .creds
            .map_or(-1, |c| i64::from(c.pid)),
        me,
    );
    let bad = libc::ucred {
        pid: me as i32,
        uid: u32::MAX,
        gid,
    };
    check(
        report,
        "claim uid -1: EINVAL",
        send_with(a, b"c", &[], Some(bad), 0),
        neg(libc::EINVAL),
    );
    check(
        report,
        "no control buffer: MSG_CTRUNC",
        {
            send(a, b"c", 0);
            i64::from(recv_with(b, 10, 0, 0).flags & libc::MSG_CTRUNC)
        },
        i64::from(libc::MSG_CTRUNC),
    );
    // What an unprivileged sender may claim.
    let child = fork();
    if child == 0 {
        become_nobody();
        // SAFETY: no arguments.
        let mine = unsafe { libc::getpid() };
        let other_pid = send_with(
            a,
            b"c",
            &[],
            Some(libc::ucred {
                pid: 1,
                uid: 65534,
                gid: 65534,
            }),
            0,
        );
        let other_uid = send_with(
            a,
            b"c",
            &[],
            Some(libc::ucred {
                pid: mine,
                uid: 0,
                gid: 65534,
            }),
            0,
        );
        let own = send_with(
            a,
            b"c",
            &[],
            Some(libc::ucred {
                pid: mine,
                uid: 65534,
                gid: 65534,
            }),
            0,
        );
        let code = if other_pid == neg(libc::EPERM) && other_uid == neg(libc::EPERM) && own == 1 {
            0
        } else {
            1
        };
        child_exit(code);
    }
    check(
        report,
        "unprivileged: another pid or uid is EPERM, its own goes",
        i64::from(wait(child)),
        0,
    );
    recv(b, 10, libc::MSG_DONTWAIT);
    close(a);
    close(b);
    // Streams with SO_PASSCRED do not glue two writers' bytes.
    let (a, b) = pair(libc::SOCK_STREAM);
    setsockopt_int(b, libc::SO_PASSCRED, 1);
    send(a, b"mine", 0);
    let child = fork();
    if child == 0 {
        send(a, b"theirs", 0);
        child_exit(0);
    }
    wait(child);
    let first = recv_with(b, 100, 64, 0);
    let second = recv_with(b, 100, 64, 0);
    report.check(
        "stream with SO_PASSCRED: one writer per read",
        first.data == b"mine"
            && second.data == b"theirs"
            && second.creds.map(|c| i64::from(c.pid)) == Some(i64::from(child)),
        format!("{:?} {:?}", first.result, second.result),
    );
    close(a);
    close(b);
}

fn rights(report: &mut Report) {
    // Across fork: the parent sends a pipe's write end, the child writes through it.
    let (a, b) = pair(libc::SOCK_STREAM);
    let (r, w) = pipe();
    let child = fork();
    if child == 0 {
        close(a);
        let got = recv_with(b, 10, 64, 0);
        let Some(&fd) = got.fds.first() else {
            child_exit(2)
        };
        write(fd, b"through the passed fd");
        child_exit(0);
    }
    check(
        report,
        "send a descriptor",
        send_with(a, b"f", &[w], None, 0),
        1,
    );
    close(w);
    let (got, data) = read(r, 100);
    check(
        report,
        "across fork: the child wrote through it",
        i64::from(got == 21 && data == b"through the passed fd"),
        1,
    );
    check(report, "the child", i64::from(wait(child)), 0);
    close(r);
    // The other way, with MSG_CMSG_CLOEXEC.
    let child = fork();
    if child == 0 {
        let (r, w) = pipe();
        write(w, b"from the child");
        close(w);
        send_with(b, b"f", &[r], None, 0);
        child_exit(0);
    }
    let got = recv_with(a, 10, 64, libc::MSG_CMSG_CLOEXEC);
    wait(child);
    check(
        report,
        "a descriptor from the child",
        got.fds.len() as i64,
        1,
    );
    let fd = got.fds.first().copied().unwrap_or(-1);
    check(
        report,
        "MSG_CMSG_CLOEXEC: FD_CLOEXEC",
        fcntl(fd, libc::F_GETFD),
        1,
    );
    check(report, "it reads what the child wrote", read(fd, 100).0, 14);
    close(fd);
    // In flight: kept alive while queued.
    let (r, w) = pipe();
    set_nonblocking(r);
    send_with(a, b"f", &[w], None, 0);
    close(w);
    check(
        report,
        "in flight: the pipe still has a writer",
        read(r, 10).0,
        neg(libc::EAGAIN),
    );
    let got = recv_with(b, 10, 64, 0);
    check(report, "received", got.fds.len() as i64, 1);
    close(got.fds[0]);
    check(
        report,
        "closed after receiving: end of file",
        read(r, 10).0,
        0,
    );
    close(r);
    // MSG_CTRUNC: what does not fit is closed.
    let pipes: Vec<(c_int, c_int)> = (0..3).map(|_| pipe()).collect();
    for (r, _) in &pipes {
        set_nonblocking(*r);
    }
    let writers: Vec<c_int> = pipes.iter().map(|p| p.1).collect();
    send_with(a, b"f", &writers, None, 0);
    for w in &writers {
        close(*w);
    }
    // Room for one descriptor: CMSG_LEN(4), 20 bytes.
    let got = recv_with(b, 10, 20, 0);
    check(report, "MSG_CTRUNC: one fits", got.fds.len() as i64, 1);
    check(
        report,
        "MSG_CTRUNC set",
        i64::from(got.flags & libc::MSG_CTRUNC),
        i64::from(libc::MSG_CTRUNC),
    );
    check(
        report,
        "MSG_CTRUNC: msg_controllen",
        got.controllen as i64,
        20,
    );
    check(
        report,
        "the one received keeps its pipe open",
        read(pipes[0].0, 10).0,
        neg(libc::EAGAIN),
    );
    let ends: Vec<i64> = pipes[1..].iter().map(|p| read(p.0, 10).0).collect();
    report.check(
        "the others were closed",
        ends == [0, 0],
        format!("{ends:?}"),
    );
    close(got.fds[0]);
    for (r, _) in &pipes {
        close(*r);
    }
    // Descriptors with a read(): dropped.
    let (r, w) = pipe();
    set_nonblocking(r);
    send_with(a, b"f", &[w], None, 0);
    close(w);
    read(b, 10);
    check(report, "read() drops passed descriptors", read(r, 10).0, 0);
    close(r);
    // 253 at most per message.
    let (spare_r, spare_w) = pipe();
    let many = [spare_r; 254];
    check(
        report,
        "254 descriptors: EINVAL",
        send_with(a, b"f", &many, None, 0),
        neg(libc::EINVAL),
    );
    check(
        report,
        "253 descriptors",
        send_with(a, b"f", &many[..253], None, 0),
        1,
    );
    let got = recv_with(b, 10, 2048, 0);
    check(report, "253 received", got.fds.len() as i64, 253);
    for fd in got.fds.iter().chain([spare_r, spare_w].iter()) {
        close(*fd);
    }
    check(
        report,
        "a bad descriptor: EBADF",
        send_with(a, b"f", &[9999], None, 0),
        neg(libc::EBADF),
    );
    // Peek copies them.
    let (r, w) = pipe();
    send_with(a, b"p", &[w], None, 0);
    close(w);
    let peeked = recv_with(b, 10, 64, libc::MSG_PEEK);
    let taken = recv_with(b, 10, 64, 0);
    report.check(
        "MSG_PEEK gives copies of the descriptors",
        peeked.fds.len() == 1 && taken.fds.len() == 1 && peeked.fds[0] != taken.fds[0],
        format!("{:?} {:?}", peeked.fds, taken.fds),
    );
    for fd in peeked.fds.iter().chain(taken.fds.iter()) {
        close(*fd);
    }
    close(r);
    close(a);
    close(b);
    // The in-flight bound and the collector, as an unprivileged user with 64 descriptors.
    let child = fork();
    if child == 0 {
        become_nobody();
        let limit = libc::rlimit {
            rlim_cur: 64,
            rlim_max: 64,
        };
        // SAFETY: `limit` is live.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
        let (a, b) = pair(libc::SOCK_DGRAM);
        let ten: Vec<c_int> = (0..10).map(|_| a).collect();
        let mut sent = 0;
        let refused = loop {
            let result = send_with(a, b"f", &ten, None, 0);
            if result < 0 {
                break result;
            }
            sent += 1;
            if sent > 20 {
                break 0;
            }
        };
        // 70 in flight is over the limit of 64: the eighth message is refused.
        let bound = refused == neg(libc::ETOOMANYREFS) && sent == 7;
        // Receiving brings the count down.
        for _ in 0..sent {
            for fd in recv_with(b, 10, 1024, 0).fds {
                close(fd);
            }
        }
        let after = send_with(a, b"f", &ten, None, 0) == 1;
        recv_with(b, 10, 1024, 0).fds.into_iter().for_each(close);
        // Unreachable cycles: each pair sent over itself, then closed, 20 times (200
        // descriptors, far past the limit, if nothing collected them). Linux collects
        // them in the background: give it a moment, then the full limit must be free.
        for _ in 0..20 {
            let (x, y) = pair(libc::SOCK_DGRAM);
            let fds = [x, y, x, y, x, y, x, y, x, y];
            send_with(x, b"c", &fds, None, 0);
            close(x);
            close(y);
        }
        sleep_ms(200);
        let mut cycles_ok = true;
        for _ in 0..6 {
            cycles_ok &= send_with(a, b"f", &ten, None, 0) == 1;
        }
        for _ in 0..6 {
            recv_with(b, 10, 1024, 0).fds.into_iter().for_each(close);
        }
        child_exit(i32::from(!bound) | (i32::from(!after) << 1) | (i32::from(!cycles_ok) << 2));
    }
    let status = wait(child);
    report.check(
        "in flight: ETOOMANYREFS past RLIMIT_NOFILE",
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) & 1 == 0,
        status,
    );
    report.check(
        "in flight: received descriptors no longer count",
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) & 2 == 0,
        status,
    );
    report.check(
        "in flight: unreachable cycles are collected",
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) & 4 == 0,
        status,
    );
}

fn readiness(report: &mut Report) {
    let (a, b) = pair(libc::SOCK_STREAM);
    let start = Instant::now();
    let child = fork();
    if child == 0 {
        sleep_ms(40);
        send(a, b"wake", 0);
        child_exit(0);
    }
    check(
        report,
        "poll woken by the peer's send",
        poll(b, libc::POLLIN, 5000),
        i64::from(libc::POLLIN),
    );
    report.check(
        "poll waited for it",
        start.elapsed() >= Duration::from_millis(40),
        format!("{:?}", start.elapsed()),
    );
    wait(child);
    recv(b, 10, 0);
    let child = fork();
    if child == 0 {
        sleep_ms(40);
        close(a);
        child_exit(0);
    }
    close(a);
    check(
        report,
        "poll woken by the peer's close: POLLHUP",
        poll(b, libc::POLLIN | libc::POLLRDHUP, 5000),
        i64::from(libc::POLLIN | libc::POLLRDHUP | libc::POLLHUP),
    );
    wait(child);
    close(b);
    // A datagram receiver's full queue: writers wait, and hear when there is room.
    let qlen: usize = std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(10);
    let name = format!("\0unix-sockets-qlen-{}", getpid());
    let server = socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) as c_int;
    bind(server, &address(name.as_bytes()));
    let client = socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, 0) as c_int;
    connect(client, &address(name.as_bytes()));
    let mut sent = 0;
    while send(client, b"q", 0) == 1 && sent < 10_000 {
        sent += 1;
    }
    check(
        report,
        "datagram queue: max_dgram_qlen + 1 fit",
        sent as i64,
        qlen as i64 + 1,
    );
    check(
        report,
        "then EAGAIN",
        send(client, b"q", 0),
        neg(libc::EAGAIN),
    );
    check(
        report,
        "poll: not writable",
        poll(client, libc::POLLOUT, 0),
        0,
    );
    let child = fork();
    if child == 0 {
        sleep_ms(40);
        recv(server, 10, 0);
        child_exit(0);
    }
    check(
        report,
        "poll woken when the receiver reads",
        poll(client, libc::POLLOUT, 5000),
        i64::from(libc::POLLOUT),
    );
    wait(child);
    close(server);
    close(client);
}

/// A raw system call, for arguments libc's wrappers would not pass.
fn syscall(number: libc::c_long, args: [u64; 6]) -> i64 {
    // SAFETY: the arguments are what the test means to pass, bad pointers included: the
    // kernel must refuse them.
    raw(unsafe { libc::syscall(number, args[0], args[1], args[2], args[3], args[4], args[5]) })
}

/// Bad pointers, lengths and descriptors: each call refuses them with Linux's errno.
fn robustness(report: &mut Report) {
    let (a, b) = pair(libc::SOCK_DGRAM);
    let (r, w) = pipe();
    let bad = 8u64; // an unmapped page
    let (fd, bfd) = (a as u64, b as u64);
    check(
        report,
        "sendmsg(NULL msghdr): EFAULT",
        syscall(libc::SYS_sendmsg, [fd, 0, 0, 0, 0, 0]),
        neg(libc::EFAULT),
    );
    check(
        report,
        "recvmsg(bad msghdr): EFAULT",
        syscall(libc::SYS_recvmsg, [bfd, bad, 0, 0, 0, 0]),
        neg(libc::EFAULT),
    );
    let data = *b"payload!";
    let mut control = [0u8; 64];
    let mut name = [0u8; 16];
    // One sendmsg with a header built from these fields (and one iovec).
    let mut sendmsg =
        |base: u64, len: usize, count: usize, control: u64, control_len: usize, namelen: u32| {
            let mut iov = libc::iovec {
                iov_base: base as *mut c_void,
                iov_len: len,
            };
            // SAFETY: zeroed, then filled; the pointers are what the check means to pass.
            let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
            header.msg_iov = &mut iov;
            header.msg_iovlen = count as _;
            header.msg_control = control as *mut c_void;
            header.msg_controllen = control_len as _;
            if namelen != 0 {
                header.msg_name = name.as_mut_ptr().cast();
                header.msg_namelen = namelen;
            }
            let at = &header as *const libc::msghdr as u64;
            let result = syscall(libc::SYS_sendmsg, [fd, at, 0, 0, 0, 0]);
            std::hint::black_box((&iov, &header));
            result
        };
    let good = data.as_ptr() as u64;
    check(
        report,
        "sendmsg, 1025 iovecs: EMSGSIZE",
        sendmsg(good, 8, 1025, 0, 0, 0),
        neg(libc::EMSGSIZE),
    );
    check(
        report,
        "sendmsg, a negative iov_len: EINVAL",
        sendmsg(good, usize::MAX, 1, 0, 0, 0),
        neg(libc::EINVAL),
    );
    check(
        report,
        "sendmsg, a bad buffer: EFAULT",
        sendmsg(bad, 8, 1, 0, 0, 0),
        neg(libc::EFAULT),
    );
    check(
        report,
        "sendmsg, bad control: EFAULT",
        sendmsg(good, 8, 1, bad, 16, 0),
        neg(libc::EFAULT),
    );
    let control_at = control.as_mut_ptr() as u64;
    check(
        report,
        "sendmsg, 1 MiB of control: ENOBUFS",
        sendmsg(good, 8, 1, control_at, 1 << 20, 0),
        neg(libc::ENOBUFS),
    );
    control[..8].copy_from_slice(&8u64.to_ne_bytes());
    let short = std::hint::black_box(control);
    check(
        report,
        "sendmsg, cmsg_len under a header: EINVAL",
        sendmsg(good, 8, 1, short.as_ptr() as u64, 32, 0),
        neg(libc::EINVAL),
    );
    control[..8].copy_from_slice(&40u64.to_ne_bytes());
    let long = std::hint::black_box(control);
    check(
        report,
        "sendmsg, cmsg_len past the buffer: EINVAL",
        sendmsg(good, 8, 1, long.as_ptr() as u64, 32, 0),
        neg(libc::EINVAL),
    );
    check(
        report,
        "sendmsg, a negative msg_namelen: EINVAL",
        sendmsg(good, 8, 1, 0, 0, u32::MAX),
        neg(libc::EINVAL),
    );
    check(
        report,
        "sendto, bad data: EFAULT",
        syscall(libc::SYS_sendto, [fd, bad, 8, 0, 0, 0]),
        neg(libc::EFAULT),
    );
    check(
        report,
        "recvfrom, bad buffer: EFAULT",
        {
            send(b, b"x", 0);
            syscall(libc::SYS_recvfrom, [fd, bad, 8, 0, 0, 0])
        },
        neg(libc::EFAULT),
    );
    recv(a, 8, libc::MSG_DONTWAIT);
    check(
        report,
        "bind, NULL address: EFAULT",
        syscall(libc::SYS_bind, [fd, 0, 10, 0, 0, 0]),
        neg(libc::EFAULT),
    );
    check(
        report,
        "bind, addrlen 200: EINVAL",
        syscall(libc::SYS_bind, [fd, name.as_ptr() as u64, 200, 0, 0, 0]),
        neg(libc::EINVAL),
    );
    check(
        report,
        "connect, addrlen -1: EINVAL",
        syscall(
            libc::SYS_connect,
            [fd, name.as_ptr() as u64, u32::MAX as u64, 0, 0, 0],
        ),
        neg(libc::EINVAL),
    );
    check(
        report,
        "getsockname, NULL length: EFAULT",
        syscall(
            libc::SYS_getsockname,
            [fd, name.as_mut_ptr() as u64, 0, 0, 0, 0],
        ),
        neg(libc::EFAULT),
    );
    let mut len: socklen_t = u32::MAX;
    check(
        report,
        "getsockname, length -1: EINVAL",
        syscall(
            libc::SYS_getsockname,
            [
                fd,
                name.as_mut_ptr() as u64,
                &mut len as *mut socklen_t as u64,
                0,
                0,
                0,
            ],
        ),
        neg(libc::EINVAL),
    );
    check(
        report,
        "getsockopt, NULL length: EFAULT",
        syscall(
            libc::SYS_getsockopt,
            [
                fd,
                libc::SOL_SOCKET as u64,
                libc::SO_TYPE as u64,
                name.as_mut_ptr() as u64,
                0,
                0,
            ],
        ),
        neg(libc::EFAULT),
    );
    check(
        report,
        "getsockopt, length -1: EINVAL",
        syscall(
            libc::SYS_getsockopt,
            [
                fd,
                libc::SOL_SOCKET as u64,
                libc::SO_TYPE as u64,
                name.as_mut_ptr() as u64,
                &mut len as *mut socklen_t as u64,
                0,
            ],
        ),
        neg(libc::EINVAL),
    );
    check(
        report,
        "setsockopt, length -1: EINVAL",
        syscall(
            libc::SYS_setsockopt,
            [
                fd,
                libc::SOL_SOCKET as u64,
                libc::SO_PASSCRED as u64,
                name.as_ptr() as u64,
                u32::MAX as u64,
                0,
            ],
        ),
        neg(libc::EINVAL),
    );
    check(
        report,
        "setsockopt, bad value: EFAULT",
        syscall(
            libc::SYS_setsockopt,
            [
                fd,
                libc::SOL_SOCKET as u64,
                libc::SO_PASSCRED as u64,
                bad,
                4,
                0,
            ],
        ),
        neg(libc::EFAULT),
    );
    check(
        report,
        "socketpair, NULL result: EFAULT",
        syscall(
            libc::SYS_socketpair,
            [libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0],
        ),
        neg(libc::EFAULT),
    );
    for (number, name) in [
        (libc::SYS_listen, "listen"),
        (libc::SYS_shutdown, "shutdown"),
        (libc::SYS_getpeername, "getpeername"),
    ] {
        check(
            report,
            &format!("{name} on a pipe: ENOTSOCK"),
            syscall(number, [r as u64, 0, 0, 0, 0, 0]),
            neg(libc::ENOTSOCK),
        );
        check(
            report,
            &format!("{name} on a closed descriptor: EBADF"),
            syscall(number, [9999, 0, 0, 0, 0, 0]),
            neg(libc::EBADF),
        );
    }
    check(
        report,
        "sendmmsg, bad vector: EFAULT",
        syscall(libc::SYS_sendmmsg, [fd, bad, 2, 0, 0, 0]),
        neg(libc::EFAULT),
    );
    for fd in [a, b, r, w] {
        close(fd);
    }
}

/// 100 MiB from a child to the parent over a stream, checked by a checksum of every byte.
fn big_stream(report: &mut Report) {
    const TOTAL: usize = 100 << 20;
    fn pattern(seed: &mut u64, out: &mut [u8]) {
        for word in out.chunks_mut(8) {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            word.copy_from_slice(&seed.to_le_bytes()[..word.len()]);
        }
    }
    /// FNV-1a over the bytes, 8 at a time (each word folded in as one value).
    fn fold(hash: &mut u64, words: &[u8]) {
        for word in words.chunks_exact(8) {
            *hash ^= u64::from_le_bytes(word.try_into().unwrap());
            *hash = hash.wrapping_mul(0x100_0000_01b3);
        }
    }
    let mut expected = 0xcbf2_9ce4_8422_2325u64;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut block = vec![0u8; 1 << 16];
    for _ in 0..TOTAL / block.len() {
        pattern(&mut seed, &mut block);
        fold(&mut expected, &block);
    }
    let (a, b) = pair(libc::SOCK_STREAM);
    let child = fork();
    if child == 0 {
        close(b);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut block = vec![0u8; 1 << 16];
        for _ in 0..TOTAL / block.len() {
            pattern(&mut seed, &mut block);
            let mut at = 0;
            while at < block.len() {
                let sent = write(a, &block[at..]);
                if sent <= 0 {
                    child_exit(1);
                }
                at += sent as usize;
            }
        }
        child_exit(0);
    }
    close(a);
    let start = Instant::now();
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 1 << 17];
    let mut total = 0usize;
    loop {
        // SAFETY: `buf` is live.
        let got = unsafe { libc::read(b, buf.as_mut_ptr().cast(), buf.len()) };
        if got <= 0 {
            break;
        }
        let got = got as usize;
        total += got;
        carry.extend_from_slice(&buf[..got]);
        let whole = carry.len() / 8 * 8;
        fold(&mut hash, &carry[..whole]);
        carry.drain(..whole);
    }
    let elapsed = start.elapsed();
    check(
        report,
        "100 MiB stream: every byte",
        total as i64,
        TOTAL as i64,
    );
    report.check(
        "100 MiB stream: checksum",
        hash == expected && carry.is_empty(),
        format!("{hash:#x} (want {expected:#x})"),
    );
    check(
        report,
        "100 MiB stream: the writer",
        i64::from(wait(child)),
        0,
    );
    println!(
        "# 100 MiB stream in {:.2} s ({:.0} MiB/s)",
        elapsed.as_secs_f64(),
        100.0 / elapsed.as_secs_f64()
    );
    close(b);
}

/// `--bench MIB`: the raw throughput of a stream socket between two processes, and of a
/// pipe for comparison (64 KiB writes, 128 KiB reads); no checks.
fn bench(mib: usize) -> ExitCode {
    for (kind, (reader, writer)) in [
        ("unix-stream", pair(libc::SOCK_STREAM)),
        ("pipe", {
            let (r, w) = pipe();
            (r, w)
        }),
    ] {
        let child = fork();
        if child == 0 {
            close(reader);
            let block = vec![0x5au8; 1 << 16];
            for _ in 0..mib * 16 {
                let mut at = 0;
                while at < block.len() {
                    let sent = write(writer, &block[at..]);
                    if sent <= 0 {
                        child_exit(1);
                    }
                    at += sent as usize;
                }
            }
            child_exit(0);
        }
        close(writer);
        let start = Instant::now();
        let mut buf = vec![0u8; 1 << 17];
        let mut total = 0usize;
        loop {
            // SAFETY: `buf` is live.
            let got = unsafe { libc::read(reader, buf.as_mut_ptr().cast(), buf.len()) };
            if got <= 0 {
                break;
            }
            total += got as usize;
        }
        let elapsed = start.elapsed().as_secs_f64();
        wait(child);
        close(reader);
        println!(
            "bench {kind} bytes={total} seconds={elapsed:.3} mib_per_s={:.1}",
            total as f64 / (1 << 20) as f64 / elapsed
        );
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let mut report = Report::default();
    let mut dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.first().map(String::as_str) == Some("--bench") {
        return bench(dirs.get(1).and_then(|mib| mib.parse().ok()).unwrap_or(100));
    }
    if dirs.is_empty() {
        dirs.push("/tmp".to_owned());
    }
    basics(&mut report);
    stream_pairs(&mut report);
    datagrams(&mut report);
    for dir in &dirs {
        match dir.strip_prefix("report:") {
            Some(dir) => {
                let path = format!("{dir}/unix-sockets-probe-{}", getpid());
                let fd = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as c_int;
                let bound = bind(fd, &path_address(&path));
                let connected = if bound == 0 {
                    listen(fd, 1);
                    let client = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) as c_int;
                    let result = connect(client, &path_address(&path));
                    close(client);
                    result
                } else {
                    bound
                };
                println!("# bind on {dir}: {bound}, connect: {connected}");
                std::fs::remove_file(&path).ok();
                close(fd);
            }
            None => path_names(&mut report, dir, dir),
        }
    }
    abstract_names(&mut report);
    backlog_and_accept(&mut report);
    credentials(&mut report);
    rights(&mut report);
    readiness(&mut report);
    robustness(&mut report);
    big_stream(&mut report);
    report.finish("unix-sockets")
}
