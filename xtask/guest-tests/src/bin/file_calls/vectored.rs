//! `preadv`, `pwritev`, `preadv2`, `pwritev2`: offsets, the position, the `iovec` array's
//! limits, `RWF_*` flags on files and pipes.

use libc::c_int;

use crate::os::*;
use crate::{Ctx, FsKind, e};

const RWF_HIPRI: u64 = 0x01;
const RWF_DSYNC: u64 = 0x02;
const RWF_SYNC: u64 = 0x04;
const RWF_NOWAIT: u64 = 0x08;
const RWF_APPEND: u64 = 0x10;
/// Unknown to every Linux so far (0x20..0x100 came in 6.9 and later).
const RWF_UNKNOWN: u64 = 0x200;

fn preadv(fd: c_int, iov: &[libc::iovec], offset: i64) -> i64 {
    sys(
        libc::SYS_preadv,
        [
            fd as u64,
            iov.as_ptr() as u64,
            iov.len() as u64,
            offset as u64,
            0,
            0,
        ],
    )
}

fn pwritev(fd: c_int, iov: &[libc::iovec], offset: i64) -> i64 {
    sys(
        libc::SYS_pwritev,
        [
            fd as u64,
            iov.as_ptr() as u64,
            iov.len() as u64,
            offset as u64,
            0,
            0,
        ],
    )
}

fn preadv2(fd: c_int, iov: &[libc::iovec], offset: i64, flags: u64) -> i64 {
    sys(
        libc::SYS_preadv2,
        [
            fd as u64,
            iov.as_ptr() as u64,
            iov.len() as u64,
            offset as u64,
            0,
            flags,
        ],
    )
}

fn pwritev2(fd: c_int, iov: &[libc::iovec], offset: i64, flags: u64) -> i64 {
    sys(
        libc::SYS_pwritev2,
        [
            fd as u64,
            iov.as_ptr() as u64,
            iov.len() as u64,
            offset as u64,
            0,
            flags,
        ],
    )
}

pub fn run(ctx: &mut Ctx) {
    positioned(ctx);
    at_the_position(ctx);
    arguments(ctx);
    flags(ctx);
    pipes(ctx);
}

fn positioned(ctx: &mut Ctx) {
    let fd = file_with(&ctx.dir, "vectored", b"");
    let iov = const_iovecs(&[b"hello ", b"vectored ", b"world"]);
    ctx.eq(
        "pwritev gathers three buffers at offset 100",
        pwritev(fd, &iov, 100),
        20,
    );
    ctx.eq("pwritev leaves the position at 0", position(fd), 0);
    ctx.eq("pwritev: the size is 120", size(fd), 120);
    let (mut a, mut b) = ([0u8; 7], [0u8; 30]);
    let iov = iovecs(&mut [&mut a, &mut b]);
    ctx.eq("preadv at 99 stops at the end", preadv(fd, &iov, 99), 21);
    ctx.eq("preadv scatters: first buffer", &a[..], b"\0hello ");
    ctx.eq(
        "preadv scatters: second buffer",
        &b[..14],
        b"vectored world",
    );
    ctx.eq("preadv leaves the position at 0", position(fd), 0);
    let iov = iovecs(&mut [&mut a]);
    ctx.eq("preadv past the end reads 0", preadv(fd, &iov, 500), 0);
    ctx.eq("preadv2 at an offset", preadv2(fd, &iov, 106, 0), 7);
    ctx.eq("preadv2 at an offset: bytes", &a[..], b"vectore");
    close(fd);
}

fn at_the_position(ctx: &mut Ctx) {
    let fd = file_with(&ctx.dir, "position", b"0123456789");
    lseek(fd, 2, libc::SEEK_SET);
    let mut a = [0u8; 3];
    let iov = iovecs(&mut [&mut a]);
    ctx.eq(
        "preadv2 at -1 reads at the position",
        preadv2(fd, &iov, -1, 0),
        3,
    );
    ctx.eq("preadv2 at -1: bytes", &a, b"234");
    ctx.eq("preadv2 at -1 moves the position", position(fd), 5);
    let iov = const_iovecs(&[b"ab", b"cd"]);
    ctx.eq(
        "pwritev2 at -1 writes at the position",
        pwritev2(fd, &iov, -1, 0),
        4,
    );
    ctx.eq("pwritev2 at -1 moves the position", position(fd), 9);
    ctx.eq(
        "pwritev2 at -1: contents",
        pread(fd, 20, 0),
        Ok(b"01234abcd9".to_vec()),
    );
    ctx.eq(
        "preadv at -1 is EINVAL (only the *2 calls take -1)",
        preadv(fd, &iov, -1),
        e(libc::EINVAL),
    );
    ctx.eq(
        "preadv2 at -2 is EINVAL",
        preadv2(fd, &iov, -2, 0),
        e(libc::EINVAL),
    );
    ctx.eq(
        "pwritev at -5 is EINVAL",
        pwritev(fd, &iov, -5),
        e(libc::EINVAL),
    );
    close(fd);
}

fn arguments(ctx: &mut Ctx) {
    let fd = file_with(&ctx.dir, "arguments", b"some bytes");
    let mut byte = [0u8; 1];
    let one = iovecs(&mut [&mut byte]);
    // The offset is judged before the descriptor (do_preadv).
    ctx.eq(
        "preadv: a negative offset before a bad descriptor",
        preadv(-1, &one, -3),
        e(libc::EINVAL),
    );
    ctx.eq(
        "preadv on a closed descriptor is EBADF",
        preadv(999, &one, 0),
        e(libc::EBADF),
    );
    let mut many = vec![0u8; 1025];
    let mut slices: Vec<&mut [u8]> = many.chunks_mut(1).collect();
    let iov = iovecs(&mut slices);
    ctx.eq(
        "preadv with 1025 buffers is EINVAL",
        preadv(fd, &iov, 0),
        e(libc::EINVAL),
    );
    ctx.eq(
        "preadv with 1024 buffers reads",
        preadv(fd, &iov[..1024], 0),
        10,
    );
    ctx.eq("preadv with no buffers is 0", preadv(fd, &iov[..0], 0), 0);
    let huge = [libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1 << 63,
    }];
    ctx.eq(
        "an iovec length negative as ssize_t is EINVAL",
        preadv(fd, &huge, 0),
        e(libc::EINVAL),
    );
    let bad = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 1,
    }];
    ctx.eq(
        "preadv into a NULL buffer is EFAULT",
        preadv(fd, &bad, 0),
        e(libc::EFAULT),
    );
    ctx.eq(
        "preadv with a NULL iovec array is EFAULT",
        sys(libc::SYS_preadv, [fd as u64, 0, 1, 0, 0, 0]),
        e(libc::EFAULT),
    );
    let write_only = must_open(&ctx.path("arguments"), libc::O_WRONLY);
    ctx.eq(
        "preadv on a write-only descriptor is EBADF",
        preadv(write_only, &one, 0),
        e(libc::EBADF),
    );
    let read_only = must_open(&ctx.path("arguments"), libc::O_RDONLY);
    let data = const_iovecs(&[b"x"]);
    ctx.eq(
        "pwritev on a read-only descriptor is EBADF",
        pwritev(read_only, &data, 0),
        e(libc::EBADF),
    );
    let dir = must_open(&ctx.dir, libc::O_RDONLY | libc::O_DIRECTORY);
    ctx.eq(
        "preadv on a directory is EISDIR",
        preadv(dir, &one, 0),
        e(libc::EISDIR),
    );
    for fd in [fd, write_only, read_only, dir] {
        close(fd);
    }
}

fn flags(ctx: &mut Ctx) {
    let fd = file_with(&ctx.dir, "flags", b"0123456789");
    let mut a = [0u8; 4];
    let iov = iovecs(&mut [&mut a]);
    ctx.eq(
        "preadv2 with an unknown RWF flag is EOPNOTSUPP",
        preadv2(fd, &iov, 0, RWF_UNKNOWN),
        e(libc::EOPNOTSUPP),
    );
    ctx.eq(
        "RWF_HIPRI reads as usual",
        preadv2(fd, &iov, 0, RWF_HIPRI),
        4,
    );
    // tmpfs, 9p and overlay files cannot promise not to sleep (no FMODE_NOWAIT); a disk
    // filesystem's (ext4 on the host) can, for data in its page cache.
    if ctx.kind == FsKind::Disk {
        ctx.eq(
            "RWF_NOWAIT on a cached disk file reads",
            preadv2(fd, &iov, 0, RWF_NOWAIT),
            4,
        );
    } else {
        ctx.eq(
            "RWF_NOWAIT on a regular file is EOPNOTSUPP (no FMODE_NOWAIT)",
            preadv2(fd, &iov, 0, RWF_NOWAIT),
            e(libc::EOPNOTSUPP),
        );
    }
    let empty: [libc::iovec; 0] = [];
    ctx.eq(
        "flags are not looked at when nothing moves",
        preadv2(fd, &empty, 0, 0),
        0,
    );
    let data = const_iovecs(&[b"AB"]);
    ctx.eq(
        "RWF_DSYNC writes and syncs",
        pwritev2(fd, &data, 0, RWF_DSYNC),
        2,
    );
    ctx.eq(
        "RWF_SYNC writes and syncs",
        pwritev2(fd, &data, 4, RWF_SYNC),
        2,
    );
    ctx.eq(
        "RWF_DSYNC/RWF_SYNC: contents",
        pread(fd, 10, 0),
        Ok(b"AB23AB6789".to_vec()),
    );
    lseek(fd, 3, libc::SEEK_SET);
    let tail = const_iovecs(&[b"++"]);
    ctx.eq(
        "RWF_APPEND at an offset appends",
        pwritev2(fd, &tail, 1, RWF_APPEND),
        2,
    );
    ctx.eq(
        "RWF_APPEND at an offset: contents",
        pread(fd, 20, 0),
        Ok(b"AB23AB6789++".to_vec()),
    );
    ctx.eq(
        "RWF_APPEND at an offset leaves the position",
        position(fd),
        3,
    );
    ctx.eq(
        "RWF_APPEND at -1 appends",
        pwritev2(fd, &tail, -1, RWF_APPEND),
        2,
    );
    ctx.eq(
        "RWF_APPEND at -1 moves the position past the data",
        position(fd),
        14,
    );
    ctx.eq(
        "pwritev2 with an unknown flag is EOPNOTSUPP",
        pwritev2(fd, &tail, 0, RWF_UNKNOWN),
        e(libc::EOPNOTSUPP),
    );
    // pwrite's long-standing bug, kept by Linux: O_APPEND wins over the offset.
    let appending = must_open(&ctx.path("flags"), libc::O_WRONLY | libc::O_APPEND);
    ctx.eq(
        "pwritev on O_APPEND appends",
        pwritev(appending, &tail, 0),
        2,
    );
    ctx.eq("the size after appends", size(fd), 16);
    close(appending);
    close(fd);
}

fn pipes(ctx: &mut Ctx) {
    let (r, w) = pipe(0);
    let mut a = [0u8; 8];
    let iov = iovecs(&mut [&mut a]);
    ctx.eq(
        "preadv on a pipe is ESPIPE",
        preadv(r, &iov, 0),
        e(libc::ESPIPE),
    );
    ctx.eq(
        "preadv2 on a pipe at an offset is ESPIPE",
        preadv2(r, &iov, 0, 0),
        e(libc::ESPIPE),
    );
    let data = const_iovecs(&[b"to the ", b"pipe"]);
    ctx.eq(
        "pwritev on a pipe is ESPIPE",
        pwritev(w, &data, 0),
        e(libc::ESPIPE),
    );
    ctx.eq(
        "RWF_NOWAIT on an empty pipe is EAGAIN",
        preadv2(r, &iov, -1, RWF_NOWAIT),
        e(libc::EAGAIN),
    );
    ctx.eq(
        "pwritev2 at -1 writes the pipe",
        pwritev2(w, &data, -1, RWF_NOWAIT),
        11,
    );
    ctx.eq(
        "preadv2 at -1 with RWF_NOWAIT reads what is there",
        preadv2(r, &iov, -1, RWF_NOWAIT),
        8,
    );
    ctx.eq("preadv2: bytes", &a, b"to the p");
    let (s1, s2) = socketpair();
    ctx.eq(
        "RWF_NOWAIT on an empty socket is EAGAIN",
        preadv2(s1, &iov, -1, RWF_NOWAIT),
        e(libc::EAGAIN),
    );
    ctx.eq("pwritev2 to a socket", pwritev2(s2, &data, -1, 0), 11);
    ctx.eq(
        "preadv2 from a socket",
        preadv2(s1, &iov, -1, RWF_NOWAIT),
        8,
    );
    ctx.eq(
        "preadv on a socket is ESPIPE",
        preadv(s1, &iov, 0),
        e(libc::ESPIPE),
    );
    close(r);
    ctx.eq(
        "pwritev2 to a pipe with no reader is EPIPE",
        pwritev2(w, &data, -1, 0),
        e(libc::EPIPE),
    );
    for fd in [w, s1, s2] {
        close(fd);
    }
}
