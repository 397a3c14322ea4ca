//! Sockets. Only the Unix domain lives here today ([`unix`]: stream, datagram and
//! sequenced-packet sockets between processes of the sandbox, named by paths in the
//! container's mount namespace or by abstract names); every other address family is
//! `EAFNOSUPPORT` until networking comes.
//!
//! Where it sits: above `fs` (a socket is a file of the kernel's sockfs, a bound name a node
//! of type socket in the guest's filesystems) and `task` (wait queues, signals), below the
//! system calls of `syscall::sockets`, which decode user memory and call in here.
//!
//! The portable parts (Linux's constants, `msghdr` and control-message encodings, socket
//! addresses, the receive queue's rules, option values, the name tables) are host-tested;
//! the sockets themselves, which block and wake, build for the target only.

pub mod msghdr;
pub mod unix;

/// Address families (`AF_*`).
pub const AF_UNSPEC: u16 = 0;
pub const AF_UNIX: u16 = 1;
/// Linux's `AF_MAX` (6.x): families at or above it are `EAFNOSUPPORT` without a lookup.
pub const AF_MAX: u32 = 46;

/// Socket types and the flags `socket`, `socketpair` and `accept4` take with them.
pub const SOCK_STREAM: u32 = 1;
pub const SOCK_DGRAM: u32 = 2;
pub const SOCK_RAW: u32 = 3;
pub const SOCK_SEQPACKET: u32 = 5;
/// `SOCK_PACKET` + 1: types at or above it are `EINVAL`.
pub const SOCK_MAX: u32 = 11;
pub const SOCK_TYPE_MASK: u32 = 0xf;
pub const SOCK_NONBLOCK: u32 = 0o4000;
pub const SOCK_CLOEXEC: u32 = 0o2_000_000;

/// `send`/`recv` flags (`MSG_*`).
pub const MSG_OOB: u32 = 0x1;
pub const MSG_PEEK: u32 = 0x2;
pub const MSG_CTRUNC: u32 = 0x8;
pub const MSG_TRUNC: u32 = 0x20;
pub const MSG_DONTWAIT: u32 = 0x40;
pub const MSG_EOR: u32 = 0x80;
pub const MSG_WAITALL: u32 = 0x100;
pub const MSG_NOSIGNAL: u32 = 0x4000;
pub const MSG_WAITFORONE: u32 = 0x10000;
pub const MSG_CMSG_CLOEXEC: u32 = 0x4000_0000;

/// `shutdown` directions.
pub const SHUT_RD: u64 = 0;
pub const SHUT_WR: u64 = 1;
pub const SHUT_RDWR: u64 = 2;

/// Socket option levels and the `SOL_SOCKET` options (x86_64 numbers).
pub const SOL_SOCKET: i32 = 1;
pub const SO_REUSEADDR: i32 = 2;
pub const SO_TYPE: i32 = 3;
pub const SO_ERROR: i32 = 4;
pub const SO_SNDBUF: i32 = 7;
pub const SO_RCVBUF: i32 = 8;
pub const SO_KEEPALIVE: i32 = 9;
pub const SO_LINGER: i32 = 13;
pub const SO_PASSCRED: i32 = 16;
pub const SO_PEERCRED: i32 = 17;
pub const SO_RCVTIMEO_OLD: i32 = 20;
pub const SO_SNDTIMEO_OLD: i32 = 21;
pub const SO_ACCEPTCONN: i32 = 30;
pub const SO_SNDBUFFORCE: i32 = 32;
pub const SO_RCVBUFFORCE: i32 = 33;
pub const SO_PROTOCOL: i32 = 38;
pub const SO_DOMAIN: i32 = 39;
pub const SO_RCVTIMEO_NEW: i32 = 66;
pub const SO_SNDTIMEO_NEW: i32 = 67;

/// `sizeof(struct sockaddr_storage)`: the most address bytes a call takes from the caller.
pub const SOCKADDR_STORAGE_LEN: usize = 128;
/// Linux's `UIO_MAXIOV`: more `iovec`s in one message is `EMSGSIZE`.
pub const UIO_MAXIOV: u64 = 1024;
/// Linux's `sysctl_optmem_max` (6.1): the most control bytes `sendmsg` takes
/// (`ENOBUFS` past it).
pub const OPTMEM_MAX: u64 = 20480;
