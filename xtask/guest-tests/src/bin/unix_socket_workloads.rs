//! `unix-socket-workloads [--stream-mib N] [DIR]`: `AF_UNIX` sockets at the system-call level, each
//! answer Linux's. Stream pairs (both ways, `SHUT_WR` end of file, `EPIPE` and `SIGPIPE`,
//! `EAGAIN` and `poll` when full, `FIONREAD`), datagram and seqpacket boundaries (`MSG_TRUNC`,
//! empty datagrams, `EMSGSIZE`), named sockets in DIR (default `/tmp`: `S_IFSOCK`,
//! `EADDRINUSE`, `ECONNREFUSED`, `ENOENT`, `EPROTOTYPE`, names from `getsockname`,
//! `getpeername` and `accept`), the abstract namespace, `SO_PEERCRED` of a forked client,
//! descriptors passed with `SCM_RIGHTS` both ways across `fork` (the same open file, several
//! at once, `MSG_CMSG_CLOEXEC`), and an N MiB stream (default 100) between two processes
//! whose checksum both ends compute.
//!
//! One line per check (`ok`/`FAIL`), then `unix-socket-workloads: N passed, M failed`; exit status
//! 0 only if every check passed. Runs on the host too, where the expectations are checked.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use libc::{c_int, c_void, sockaddr_un, socklen_t};

#[path = "../report.rs"]
mod report;
#[path = "../sys.rs"]
mod sys;
use report::Report;
use sys::{close, describe, describe_wait, exited_with, raw, read, write};

const CHILD_DEADLINE: Duration = Duration::from_secs(120);
const EPIPE: i64 = -(libc::EPIPE as i64);

fn socketpair(kind: c_int) -> Result<(c_int, c_int), i64> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` has room for the two descriptors.
    let result = raw(i64::from(unsafe {
        libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr())
    }));
    if result < 0 {
        Err(result)
    } else {
        Ok((fds[0], fds[1]))
    }
}

fn socket(kind: c_int) -> c_int {
    // SAFETY: no pointer arguments.
    unsafe { libc::socket(libc::AF_UNIX, kind, 0) }
}

/// A `sockaddr_un` for `name` (a path, or an abstract name when it starts with NUL) and
/// the address length Linux expects for it.
fn address(name: &[u8]) -> (sockaddr_un, socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut addr: sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let len = name.len().min(addr.sun_path.len());
    for (slot, &byte) in addr.sun_path.iter_mut().zip(&name[..len]) {
        *slot = byte as libc::c_char;
    }
    let family = std::mem::size_of::<libc::sa_family_t>();
    // A path counts its NUL; an abstract name is exactly its bytes.
    let extra = usize::from(name.first() != Some(&0) && len < addr.sun_path.len());
    (addr, (family + len + extra) as socklen_t)
}

fn path_bytes(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

fn bind(fd: c_int, name: &[u8]) -> i64 {
    let (addr, len) = address(name);
    // SAFETY: `addr` is a live sockaddr_un of at least `len` bytes.
    raw(i64::from(unsafe {
        libc::bind(fd, (&raw const addr).cast(), len)
    }))
}

fn connect(fd: c_int, name: &[u8]) -> i64 {
    let (addr, len) = address(name);
    // SAFETY: as in `bind`.
    raw(i64::from(unsafe {
        libc::connect(fd, (&raw const addr).cast(), len)
    }))
}

fn listen(fd: c_int) -> i64 {
    // SAFETY: no pointer arguments.
    raw(i64::from(unsafe { libc::listen(fd, 16) }))
}

/// `accept4`; the new descriptor (or `-errno`) and the peer's name as Linux gives it.
fn accept(fd: c_int, flags: c_int) -> (i64, Vec<u8>) {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut addr: sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<sockaddr_un>() as socklen_t;
    // SAFETY: `addr` and `len` are live out-parameters of the sizes given.
    let got = raw(i64::from(unsafe {
        libc::accept4(fd, (&raw mut addr).cast(), &mut len, flags)
    }));
    (got, name_of(&addr, len))
}

/// The name in a returned address: `len` counts the family, then the path (with its NUL,
/// dropped here) or the abstract name.
fn name_of(addr: &sockaddr_un, len: socklen_t) -> Vec<u8> {
    let family = std::mem::size_of::<libc::sa_family_t>();
    let bytes = (len as usize)
        .saturating_sub(family)
        .min(addr.sun_path.len());
    let mut name: Vec<u8> = addr.sun_path[..bytes]
        .iter()
        .map(|&byte| byte as u8)
        .collect();
    if name.first() != Some(&0)
        && let Some(nul) = name.iter().position(|&byte| byte == 0) {
            name.truncate(nul);
        }
    name
}

fn sockname(fd: c_int, peer: bool) -> Result<Vec<u8>, i64> {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut addr: sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<sockaddr_un>() as socklen_t;
    // SAFETY: `addr` and `len` are live out-parameters of the sizes given.
    let got = raw(i64::from(unsafe {
        match peer {
            true => libc::getpeername(fd, (&raw mut addr).cast(), &mut len),
            false => libc::getsockname(fd, (&raw mut addr).cast(), &mut len),
        }
    }));
    if got < 0 {
        Err(got)
    } else {
        Ok(name_of(&addr, len))
    }
}

fn send(fd: c_int, data: &[u8], flags: c_int) -> i64 {
    // SAFETY: `data` is live for the call.
    raw(unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), flags) } as i64)
}

/// `recvmsg` into `len` bytes: (result, bytes, msg_flags).
fn recv_flags(fd: c_int, len: usize, flags: c_int) -> (i64, Vec<u8>, c_int) {
    let mut buf = vec![0u8; len];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: len,
    };
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    // SAFETY: `msg` points at live buffers for the call.
    let got = raw(unsafe { libc::recvmsg(fd, &mut msg, flags) } as i64);
    buf.truncate(got.clamp(0, len as i64) as usize);
    (got, buf, msg.msg_flags)
}

fn fd_flags(fd: c_int) -> c_int {
    // SAFETY: no pointer arguments.
    unsafe { libc::fcntl(fd, libc::F_GETFD) }
}

fn poll_events(fd: c_int, events: i16) -> i16 {
    let mut entry = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one live pollfd.
    unsafe { libc::poll(&mut entry, 1, 0) };
    entry.revents
}

fn stream_pairs(report: &mut Report) {
    let Ok((a, b)) = socketpair(libc::SOCK_STREAM | libc::SOCK_CLOEXEC) else {
        report.check(
            "socketpair(AF_UNIX, SOCK_STREAM)",
            false,
            describe(socketpair(libc::SOCK_STREAM).err().unwrap_or(0)),
        );
        return;
    };
    report.check(
        "socketpair with SOCK_CLOEXEC: both ends close on exec",
        fd_flags(a) == libc::FD_CLOEXEC && fd_flags(b) == libc::FD_CLOEXEC,
        format!("{} {}", fd_flags(a), fd_flags(b)),
    );
    let there = write(a, b"ping");
    let (got, bytes) = read(b, 16);
    let back = write(b, b"pong!");
    let (got_back, bytes_back) = read(a, 16);
    report.check(
        "stream pair: bytes go both ways",
        there == 4
            && got == 4
            && bytes == b"ping"
            && back == 5
            && got_back == 5
            && bytes_back == b"pong!",
        format!("{there} {got} {bytes:?} {back} {got_back} {bytes_back:?}"),
    );
    write(a, b"12345");
    let mut available: c_int = -1;
    // SAFETY: FIONREAD writes one int.
    unsafe { libc::ioctl(b, libc::FIONREAD, &mut available) };
    report.check(
        "FIONREAD counts the unread bytes: 5",
        available == 5,
        available,
    );
    read(b, 16);

    // SAFETY: no pointer arguments.
    let shut = raw(i64::from(unsafe { libc::shutdown(a, libc::SHUT_WR) }));
    let (eof, _) = read(b, 16);
    let still = write(b, b"after");
    let (got, bytes) = read(a, 16);
    report.check(
        "shutdown(SHUT_WR): the peer reads end of file and can still write back",
        shut == 0 && eof == 0 && still == 5 && got == 5 && bytes == b"after",
        format!("shutdown {shut}, read {eof}, write back {still}, got {bytes:?}"),
    );
    let after_shut = send(a, b"x", libc::MSG_NOSIGNAL);
    report.check(
        "send after our own SHUT_WR: EPIPE",
        after_shut == EPIPE,
        describe(after_shut),
    );
    close(b);
    let to_closed = send(a, b"x", libc::MSG_NOSIGNAL);
    report.check(
        "send to a closed peer with MSG_NOSIGNAL: EPIPE",
        to_closed == EPIPE,
        describe(to_closed),
    );
    close(a);

    // SIGPIPE's default action kills a writer to a closed peer; ignored, the write fails.
    if let Ok((a, b)) = socketpair(libc::SOCK_STREAM) {
        close(b);
        let pid = sys::fork();
        if pid == 0 {
            sys::disposition(libc::SIGPIPE, libc::SIG_DFL);
            write(a, b"x");
            sys::child_exit(0);
        }
        let waited = sys::wait_with_deadline(pid, CHILD_DEADLINE);
        report.check("write to a closed peer with SIGPIPE at its default: killed by SIGPIPE", matches!(waited, Some(Ok(status)) if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGPIPE), describe_wait(&waited));
        sys::disposition(libc::SIGPIPE, libc::SIG_IGN);
        let ignored = write(a, b"x");
        sys::disposition(libc::SIGPIPE, libc::SIG_DFL);
        report.check(
            "write to a closed peer with SIGPIPE ignored: EPIPE",
            ignored == EPIPE,
            describe(ignored),
        );
        close(a);
    } else {
        report.check(
            "SIGPIPE and EPIPE: socketpair(SOCK_STREAM)",
            false,
            "could not be set up: the call it needs failed",
        );
    }

    if let Ok((a, b)) = socketpair(libc::SOCK_STREAM | libc::SOCK_NONBLOCK) {
        let (empty, _) = read(a, 16);
        report.check(
            "non-blocking read of an empty stream: EAGAIN",
            empty == -i64::from(libc::EAGAIN),
            describe(empty),
        );
        let readable_before = poll_events(b, libc::POLLIN) & libc::POLLIN != 0;
        let chunk = vec![7u8; 4096];
        let mut filled = 0i64;
        let last = loop {
            let wrote = write(a, &chunk);
            if wrote <= 0 || filled > 64 << 20 {
                break wrote;
            }
            filled += wrote;
        };
        let writable_full = poll_events(a, libc::POLLOUT) & libc::POLLOUT != 0;
        let readable = poll_events(b, libc::POLLIN) & libc::POLLIN != 0;
        report.check(
            "non-blocking writes fill the stream then EAGAIN; poll: not writable, the peer readable",
            last == -i64::from(libc::EAGAIN) && filled > 0 && !writable_full && readable && !readable_before,
            format!("after {filled} bytes: {}, POLLOUT {writable_full}, peer POLLIN {readable} (before {readable_before})", describe(last)),
        );
        close(a);
        close(b);
    } else {
        report.check(
            "non-blocking stream: socketpair(SOCK_NONBLOCK)",
            false,
            "could not be set up: the call it needs failed",
        );
    }
}

fn datagrams(report: &mut Report) {
    let Ok((a, b)) = socketpair(libc::SOCK_DGRAM) else {
        report.check("socketpair(AF_UNIX, SOCK_DGRAM)", false, "failed");
        return;
    };
    let sizes = [10usize, 1000, 1, 0, 5000];
    let sent: Vec<i64> = sizes
        .iter()
        .map(|&size| send(a, &vec![size as u8; size], 0))
        .collect();
    let got: Vec<i64> = sizes.iter().map(|_| recv_flags(b, 8192, 0).0).collect();
    let expected: Vec<i64> = sizes.iter().map(|&size| size as i64).collect();
    report.check(
        "datagram pair: 10, 1000, 1, 0 and 5000 bytes arrive as five datagrams of those sizes",
        sent == expected && got == expected,
        format!("sent {sent:?}, received {got:?}"),
    );

    send(a, b"0123456789", 0);
    send(a, b"next", 0);
    let (cut, bytes, flags) = recv_flags(b, 4, 0);
    let (next, next_bytes, _) = recv_flags(b, 16, 0);
    report.check(
        "a datagram read into 4 bytes: 4 bytes, MSG_TRUNC, the rest dropped",
        cut == 4
            && bytes == b"0123"
            && flags & libc::MSG_TRUNC != 0
            && next == 4
            && next_bytes == b"next",
        format!("{cut} {bytes:?} flags {flags:#x}, then {next} {next_bytes:?}"),
    );
    send(a, b"0123456789", 0);
    let (whole, _, _) = recv_flags(b, 4, libc::MSG_TRUNC);
    report.check(
        "recv with MSG_TRUNC gives the datagram's real length: 10",
        whole == 10,
        describe(whole),
    );
    let huge = send(a, &vec![0u8; 16 << 20], 0);
    report.check(
        "a 16 MiB datagram: EMSGSIZE",
        huge == -i64::from(libc::EMSGSIZE),
        describe(huge),
    );
    close(a);
    close(b);

    if let Ok((a, b)) = socketpair(libc::SOCK_SEQPACKET) {
        let sent = [send(a, b"first", 0), send(a, b"second!", 0)];
        let first = recv_flags(b, 64, 0);
        let second = recv_flags(b, 64, 0);
        close(a);
        let end = recv_flags(b, 64, 0).0;
        report.check(
            "seqpacket pair: two records kept apart, then end of file when the peer closes",
            sent == [5, 7] && first.1 == b"first" && second.1 == b"second!" && end == 0,
            format!(
                "sent {sent:?}, got {:?} {:?}, then {end}",
                first.1, second.1
            ),
        );
        close(b);
    } else {
        report.check(
            "seqpacket pair: socketpair(SOCK_SEQPACKET)",
            false,
            "could not be set up: the call it needs failed",
        );
    }
}

fn named(report: &mut Report, dir: &Path) {
    let path = dir.join("unix-sockets.sock");
    let _ = std::fs::remove_file(&path);
    let name = path_bytes(&path);
    let listener = socket(libc::SOCK_STREAM);
    let bound = bind(listener, &name);
    let kind = std::fs::symlink_metadata(&path)
        .map(|meta| std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()));
    report.check(
        "bind to a path makes a socket file",
        bound == 0 && matches!(kind, Ok(true)),
        format!("bind {}, file type socket: {kind:?}", describe(bound)),
    );
    let second = socket(libc::SOCK_STREAM);
    let again = bind(second, &name);
    report.check(
        "a second bind to the same path: EADDRINUSE",
        again == -i64::from(libc::EADDRINUSE),
        describe(again),
    );
    let refused = connect(second, &name);
    report.check(
        "connect to a bound socket that does not listen: ECONNREFUSED",
        refused == -i64::from(libc::ECONNREFUSED),
        describe(refused),
    );
    close(second);
    let missing = socket(libc::SOCK_STREAM);
    let nothing = connect(missing, &path_bytes(&dir.join("no-such.sock")));
    report.check(
        "connect to a path with nothing there: ENOENT",
        nothing == -i64::from(libc::ENOENT),
        describe(nothing),
    );
    close(missing);
    let long = socket(libc::SOCK_STREAM);
    let (mut addr, _) = address(b"");
    addr.sun_path
        .iter_mut()
        .for_each(|byte| *byte = b'x' as libc::c_char);
    // SAFETY: `addr` is a live sockaddr_un; the length is one byte more than it holds.
    let too_long = raw(i64::from(unsafe {
        libc::bind(
            long,
            (&raw const addr).cast(),
            std::mem::size_of::<sockaddr_un>() as socklen_t + 1,
        )
    }));
    report.check(
        "bind with an address longer than sockaddr_un: EINVAL",
        too_long == -i64::from(libc::EINVAL),
        describe(too_long),
    );
    close(long);

    let listening = listen(listener);
    let client = socket(libc::SOCK_STREAM);
    let connected = connect(client, &name);
    let (accepted, peer_name) = accept(listener, libc::SOCK_CLOEXEC);
    let accepted_fd = accepted as c_int;
    let names = (
        sockname(listener, false),
        sockname(client, true),
        sockname(client, false),
    );
    report.check(
        "listen, connect, accept4(SOCK_CLOEXEC): the new socket closes on exec; an unbound client has an empty name",
        listening == 0 && connected == 0 && accepted >= 0 && fd_flags(accepted_fd) == libc::FD_CLOEXEC && peer_name.is_empty(),
        format!("listen {listening}, connect {}, accept {}, peer name {peer_name:?}", describe(connected), describe(accepted)),
    );
    report.check(
        "getsockname of the listener and getpeername of the client: the path; getsockname of the client: empty",
        names.0.as_deref() == Ok(name.as_slice()) && names.1.as_deref() == Ok(name.as_slice()) && names.2 == Ok(Vec::new()),
        format!("{names:?}"),
    );
    let wrote = write(client, b"over the path");
    let (got, bytes) = read(accepted_fd, 64);
    report.check(
        "bytes through the named socket",
        wrote == 13 && got == 13 && bytes == b"over the path",
        format!("{wrote} {got} {bytes:?}"),
    );
    close(client);
    close(accepted_fd);
    close(listener);
    let _ = std::fs::remove_file(&path);

    let dgram_path = dir.join("unix-sockets.dgram");
    let _ = std::fs::remove_file(&dgram_path);
    let dgram = socket(libc::SOCK_DGRAM);
    bind(dgram, &path_bytes(&dgram_path));
    let stream = socket(libc::SOCK_STREAM);
    let wrong_type = connect(stream, &path_bytes(&dgram_path));
    report.check(
        "connect a stream socket to a datagram socket's path: EPROTOTYPE",
        wrong_type == -i64::from(libc::EPROTOTYPE),
        describe(wrong_type),
    );
    close(stream);
    let sender = socket(libc::SOCK_DGRAM);
    let unconnected = send(sender, b"x", 0);
    report.check(
        "send on an unconnected datagram socket: ENOTCONN",
        unconnected == -i64::from(libc::ENOTCONN),
        describe(unconnected),
    );
    let (addr, len) = address(&path_bytes(&dgram_path));
    // SAFETY: `addr` is a live sockaddr_un of at least `len` bytes.
    let sent = raw(unsafe {
        libc::sendto(
            sender,
            b"to a name".as_ptr().cast(),
            9,
            0,
            (&raw const addr).cast(),
            len,
        )
    } as i64);
    let (got, bytes, _) = recv_flags(dgram, 64, 0);
    report.check(
        "sendto a named datagram socket",
        sent == 9 && got == 9 && bytes == b"to a name",
        format!("{} {got} {bytes:?}", describe(sent)),
    );
    close(sender);
    close(dgram);
    let _ = std::fs::remove_file(&dgram_path);

    // The abstract namespace: a name that starts with NUL, no file anywhere.
    let abstract_name = format!("\0unix-sockets-{}", sys::getpid()).into_bytes();
    let listener = socket(libc::SOCK_STREAM);
    let bound = bind(listener, &abstract_name);
    listen(listener);
    let client = socket(libc::SOCK_STREAM);
    let connected = connect(client, &abstract_name);
    let (accepted, _) = accept(listener, 0);
    let seen = sockname(listener, false);
    let wrote = write(client, b"abstract");
    let (got, _) = read(accepted as c_int, 64);
    report.check(
        "abstract namespace: bind, connect, getsockname gives the name with its NUL",
        bound == 0
            && connected == 0
            && accepted >= 0
            && seen.as_deref() == Ok(abstract_name.as_slice())
            && wrote == 8
            && got == 8,
        format!(
            "bind {}, connect {}, accept {}, name {seen:?}",
            describe(bound),
            describe(connected),
            describe(accepted)
        ),
    );
    close(client);
    close(accepted as c_int);
    close(listener);
}

fn peer_credentials(fd: c_int) -> Result<libc::ucred, i64> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as socklen_t;
    // SAFETY: `cred` and `len` are live out-parameters of the sizes given.
    let got = raw(i64::from(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast::<c_void>(),
            &mut len,
        )
    }));
    if got < 0 { Err(got) } else { Ok(cred) }
}

fn credentials(report: &mut Report, dir: &Path) {
    // SAFETY: plain system calls.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    if let Ok((a, b)) = socketpair(libc::SOCK_STREAM) {
        let cred = peer_credentials(a);
        report.check(
            "SO_PEERCRED of a socketpair: our own pid, uid and gid",
            matches!(cred, Ok(cred) if cred.pid == sys::getpid() && cred.uid == uid && cred.gid == gid),
            format!("{cred:?}"),
        );
        close(a);
        close(b);
    } else {
        report.check(
            "SO_PEERCRED of a socketpair: socketpair",
            false,
            "could not be set up: the call it needs failed",
        );
    }
    let path = dir.join("unix-sockets.cred");
    let _ = std::fs::remove_file(&path);
    let name = path_bytes(&path);
    let listener = socket(libc::SOCK_STREAM);
    bind(listener, &name);
    listen(listener);
    let pid = sys::fork();
    if pid == 0 {
        let client = socket(libc::SOCK_STREAM);
        let ok = connect(client, &name) == 0 && write(client, b"x") == 1;
        // Wait for the parent to finish reading our credentials.
        read(client, 1);
        sys::child_exit(if ok { 0 } else { 1 });
    }
    let (accepted, _) = accept(listener, 0);
    let accepted = accepted as c_int;
    read(accepted, 1);
    let cred = peer_credentials(accepted);
    write(accepted, b"y");
    let waited = sys::wait_with_deadline(pid, CHILD_DEADLINE);
    report.check(
        "SO_PEERCRED of an accepted socket: the forked client's pid, uid and gid",
        matches!(cred, Ok(cred) if cred.pid == pid && cred.uid == uid && cred.gid == gid)
            && exited_with(&waited, 0),
        format!("{cred:?}, child pid {pid} {}", describe_wait(&waited)),
    );
    close(accepted);
    close(listener);
    let _ = std::fs::remove_file(&path);
}

/// Sends `data` with `fds` as SCM_RIGHTS.
fn send_fds(socket: c_int, data: &[u8], fds: &[c_int]) -> i64 {
    let payload = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE is arithmetic.
    let space = unsafe { libc::CMSG_SPACE(payload as u32) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut c_void,
        iov_len: data.len(),
    };
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` describes a control buffer of `space` bytes, enough for one header
    // carrying `payload` bytes of descriptors.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(payload as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(header), payload);
        raw(libc::sendmsg(socket, &msg, 0) as i64)
    }
}

/// Receives up to `len` bytes and any descriptors: (result, bytes, descriptors).
fn recv_fds(socket: c_int, len: usize, flags: c_int) -> (i64, Vec<u8>, Vec<c_int>) {
    let mut buf = vec![0u8; len];
    let mut control = vec![0u64; 64];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: len,
    };
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(control.as_slice()) as _;
    // SAFETY: `msg` points at live buffers for the call.
    let got = raw(unsafe { libc::recvmsg(socket, &mut msg, flags) } as i64);
    buf.truncate(got.max(0) as usize);
    let mut fds = Vec::new();
    if got >= 0 {
        // SAFETY: walking the control messages the kernel wrote within `msg_controllen`.
        unsafe {
            let mut header = libc::CMSG_FIRSTHDR(&msg);
            while !header.is_null() {
                if (*header).cmsg_level == libc::SOL_SOCKET
                    && (*header).cmsg_type == libc::SCM_RIGHTS
                {
                    let count = ((*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize)
                        / std::mem::size_of::<c_int>();
                    let data = libc::CMSG_DATA(header).cast::<c_int>();
                    fds.extend((0..count).map(|index| data.add(index).read_unaligned()));
                }
                header = libc::CMSG_NXTHDR(&msg, header);
            }
        }
    }
    (got, buf, fds)
}

fn identity_of(fd: c_int) -> Option<(u64, u64)> {
    // SAFETY: all-zero is a valid stat to fill.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `stat` is a live out-parameter.
    (unsafe { libc::fstat(fd, &mut stat) } == 0).then_some((stat.st_dev, stat.st_ino))
}

fn descriptor_passing(report: &mut Report, dir: &Path) {
    let Ok((parent_end, child_end)) = socketpair(libc::SOCK_STREAM) else {
        report.check("SCM_RIGHTS: socketpair", false, "failed");
        return;
    };
    let file_path = dir.join("unix-sockets.passed");
    std::fs::write(&file_path, b"0123456789abcdef").ok();
    let c_path = CString::new(file_path.as_os_str().as_bytes()).unwrap_or_default();
    let pid = sys::fork();
    if pid == 0 {
        close(parent_end);
        // Child → parent: a file it opened, read 4 bytes into (the offset travels with it).
        // SAFETY: a NUL-terminated path.
        let file = unsafe { libc::open(c_path.as_ptr(), libc::O_RDONLY) };
        read(file, 4);
        let mut failures = 0;
        if send_fds(child_end, b"F", &[file]) != 1 {
            failures |= 1;
        }
        close(file);
        // Parent → child: the write end of a pipe; we write through it.
        let (got, _, fds) = recv_fds(child_end, 1, 0);
        if got == 1 && fds.len() == 1 {
            write(fds[0], b"through the passed pipe");
            close(fds[0]);
        } else {
            failures |= 2;
        }
        // Three at once; we answer with their device and inode numbers, in order.
        let (got, _, fds) = recv_fds(child_end, 1, 0);
        let mut identities = Vec::new();
        for &fd in &fds {
            let (dev, ino) = identity_of(fd).unwrap_or((0, 0));
            identities.extend_from_slice(&dev.to_le_bytes());
            identities.extend_from_slice(&ino.to_le_bytes());
        }
        if got != 1 || fds.len() != 3 || sys::write_all(child_end, &identities).is_err() {
            failures |= 4;
        }
        sys::child_exit(failures);
    }
    close(child_end);
    let (got, byte, fds) = recv_fds(parent_end, 1, libc::MSG_CMSG_CLOEXEC);
    let file = fds.first().copied().unwrap_or(-1);
    let (rest, bytes) = read(file, 64);
    report.check(
        "SCM_RIGHTS from a forked child: a file it opened, at the offset it left (the same open file)",
        got == 1 && byte == b"F" && fds.len() == 1 && rest == 12 && bytes == b"456789abcdef",
        format!("recvmsg {}, {} descriptors, then read {rest} {:?}", describe(got), fds.len(), String::from_utf8_lossy(&bytes)),
    );
    report.check(
        "MSG_CMSG_CLOEXEC: the received descriptor closes on exec",
        fd_flags(file) == libc::FD_CLOEXEC,
        fd_flags(file),
    );
    close(file);

    let mut pipe = [0 as c_int; 2];
    // SAFETY: `pipe` has room for two descriptors.
    unsafe { libc::pipe(pipe.as_mut_ptr()) };
    let sent = send_fds(parent_end, b"P", &[pipe[1]]);
    close(pipe[1]);
    let mut heard = Vec::new();
    loop {
        let (got, bytes) = read(pipe[0], 64);
        if got <= 0 {
            break;
        }
        heard.extend_from_slice(&bytes);
    }
    close(pipe[0]);
    report.check(
        "SCM_RIGHTS to the child: it writes through the pipe we passed, end of file when it closes it",
        sent == 1 && heard == b"through the passed pipe",
        format!("sendmsg {}, heard {:?}", describe(sent), String::from_utf8_lossy(&heard)),
    );

    let mut three = [0 as c_int; 3];
    let mut pipe = [0 as c_int; 2];
    // SAFETY: `pipe` has room for two descriptors; the path is NUL-terminated.
    unsafe {
        libc::pipe(pipe.as_mut_ptr());
        three[0] = libc::open(c_path.as_ptr(), libc::O_RDONLY);
    }
    three[1] = pipe[0];
    three[2] = pipe[1];
    let expected: Vec<u8> = three
        .iter()
        .flat_map(|&fd| {
            let (dev, ino) = identity_of(fd).unwrap_or((1, 1));
            [dev.to_le_bytes(), ino.to_le_bytes()].concat()
        })
        .collect();
    let sent = send_fds(parent_end, b"3", &three);
    let mut answer = vec![0u8; expected.len()];
    let read_back = sys::read_exact(parent_end, &mut answer);
    three.iter().for_each(|&fd| close(fd));
    let waited = sys::wait_with_deadline(pid, CHILD_DEADLINE);
    report.check(
        "SCM_RIGHTS with three descriptors in one message: the child sees the same files, in order",
        sent == 1 && read_back.is_ok() && answer == expected,
        format!("sendmsg {}, answer read {read_back:?}", describe(sent)),
    );
    report.check(
        "the descriptor-passing child saw everything arrive",
        exited_with(&waited, 0),
        describe_wait(&waited),
    );
    close(parent_end);
    let _ = std::fs::remove_file(&file_path);
}

/// `mib` MiB from a forked child in 64 KiB writes; both ends checksum what they moved and
/// the child sends its checksum over a second pair once done.
fn big_stream(report: &mut Report, mib: u64) {
    const CHUNK: usize = 64 << 10;
    let total = mib << 20;
    let (Ok((data_parent, data_child)), Ok((sum_parent, sum_child))) =
        (socketpair(libc::SOCK_STREAM), socketpair(libc::SOCK_STREAM))
    else {
        report.check("stream: socketpair", false, "failed");
        return;
    };
    let started = Instant::now();
    let pid = sys::fork();
    if pid == 0 {
        close(data_parent);
        close(sum_parent);
        let mut buf = vec![0u8; CHUNK];
        let mut sum = sys::Fnv::new();
        let mut sent = 0u64;
        while sent < total {
            let len = CHUNK.min((total - sent) as usize);
            sys::fill_pattern(&mut buf[..len], sent);
            sum.update(&buf[..len]);
            if sys::write_all(data_child, &buf[..len]).is_err() {
                sys::child_exit(1);
            }
            sent += len as u64;
        }
        close(data_child);
        let mut answer = sent.to_le_bytes().to_vec();
        answer.extend_from_slice(&sum.0.to_le_bytes());
        sys::child_exit(if sys::write_all(sum_child, &answer).is_ok() {
            0
        } else {
            2
        });
    }
    close(data_child);
    close(sum_child);
    let mut buf = vec![0u8; CHUNK];
    let mut sum = sys::Fnv::new();
    let mut received = 0u64;
    let mut error = 0;
    loop {
        let got = raw(unsafe_read(data_parent, &mut buf));
        if got < 0 && got != -i64::from(libc::EINTR) {
            error = got;
            break;
        }
        if got == 0 {
            break;
        }
        sum.update(&buf[..got.max(0) as usize]);
        received += got.max(0) as u64;
    }
    let mut answer = [0u8; 16];
    let answered = sys::read_exact(sum_parent, &mut answer);
    let seconds = started.elapsed().as_secs_f64();
    let waited = sys::wait_with_deadline(pid, CHILD_DEADLINE);
    let their_count = u64::from_le_bytes(answer[..8].try_into().unwrap_or_default());
    let their_sum = u64::from_le_bytes(answer[8..].try_into().unwrap_or_default());
    report.check(
        &format!("a {mib} MiB stream from a forked child: every byte, the same checksum at both ends"),
        error == 0 && answered.is_ok() && received == total && their_count == total && their_sum == sum.0 && exited_with(&waited, 0),
        format!("received {received} of {total} (error {}), checksums {:#x} here, {their_sum:#x} there, child {}", describe(error), sum.0, describe_wait(&waited)),
    );
    println!("info {mib} MiB in {seconds:.2} s");
    close(data_parent);
    close(sum_parent);
}

fn unsafe_read(fd: c_int, buf: &mut [u8]) -> i64 {
    // SAFETY: `buf` is live and writable for its length.
    unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) as i64 }
}

fn main() -> ExitCode {
    let mut report = Report::default();
    let mut mib = 100u64;
    let mut dir = PathBuf::from("/tmp");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--stream-mib" => {
                mib = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .unwrap_or(mib)
            }
            _ => dir = PathBuf::from(arg),
        }
    }
    stream_pairs(&mut report);
    datagrams(&mut report);
    named(&mut report, &dir);
    credentials(&mut report, &dir);
    descriptor_passing(&mut report, &dir);
    big_stream(&mut report, mib);
    report.finish("unix-socket-workloads")
}
