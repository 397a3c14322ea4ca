//! Transfers between descriptors: `copy_file_range` (offsets by pointer or position, one
//! filesystem only), `sendfile` into a file, a pipe and a socket, `splice` round trips
//! file → pipe → file and through a socket, pipe → pipe, `tee`, `vmsplice`.

use libc::c_int;

use crate::os::*;
use crate::{Ctx, e};

const SPLICE_F_MOVE: u64 = 0x01;
const SPLICE_F_NONBLOCK: u64 = 0x02;
const SPLICE_F_MORE: u64 = 0x04;

fn copy_file_range(
    fd_in: c_int,
    off_in: Option<&mut i64>,
    fd_out: c_int,
    off_out: Option<&mut i64>,
    len: u64,
    flags: u64,
) -> i64 {
    let pointer = |offset: Option<&mut i64>| offset.map_or(0, |offset| offset as *mut i64 as u64);
    sys(
        libc::SYS_copy_file_range,
        [
            fd_in as u64,
            pointer(off_in),
            fd_out as u64,
            pointer(off_out),
            len,
            flags,
        ],
    )
}

fn sendfile(out: c_int, input: c_int, offset: Option<&mut i64>, count: u64) -> i64 {
    let pointer = offset.map_or(0, |offset| offset as *mut i64 as u64);
    sys(
        libc::SYS_sendfile,
        [out as u64, input as u64, pointer, count, 0, 0],
    )
}

fn splice(
    fd_in: c_int,
    off_in: Option<&mut i64>,
    fd_out: c_int,
    off_out: Option<&mut i64>,
    len: u64,
    flags: u64,
) -> i64 {
    let pointer = |offset: Option<&mut i64>| offset.map_or(0, |offset| offset as *mut i64 as u64);
    sys(
        libc::SYS_splice,
        [
            fd_in as u64,
            pointer(off_in),
            fd_out as u64,
            pointer(off_out),
            len,
            flags,
        ],
    )
}

fn tee(fd_in: c_int, fd_out: c_int, len: u64, flags: u64) -> i64 {
    sys(
        libc::SYS_tee,
        [fd_in as u64, fd_out as u64, len, flags, 0, 0],
    )
}

fn vmsplice(fd: c_int, iov: &[libc::iovec], flags: u64) -> i64 {
    sys(
        libc::SYS_vmsplice,
        [
            fd as u64,
            iov.as_ptr() as u64,
            iov.len() as u64,
            flags,
            0,
            0,
        ],
    )
}

pub fn run(ctx: &mut Ctx) {
    copying(ctx);
    copy_errors(ctx);
    sending(ctx);
    send_errors(ctx);
    splicing(ctx);
    splice_errors(ctx);
    teeing(ctx);
    vmsplicing(ctx);
}

fn copying(ctx: &mut Ctx) {
    let source = pattern(0, 10_000);
    let input = file_with(&ctx.dir, "copy-in", &source);
    let output = file_with(&ctx.dir, "copy-out", b"");
    let (mut off_in, mut off_out) = (100i64, 0i64);
    ctx.eq(
        "copy_file_range with offsets",
        copy_file_range(
            input,
            Some(&mut off_in),
            output,
            Some(&mut off_out),
            5000,
            0,
        ),
        5000,
    );
    ctx.eq(
        "copy_file_range advances the offsets",
        (off_in, off_out),
        (5100, 5000),
    );
    ctx.eq(
        "copy_file_range leaves the positions",
        (position(input), position(output)),
        (0, 0),
    );
    ctx.eq(
        "copy_file_range: the bytes",
        pread(output, 6000, 0),
        Ok(source[100..5100].to_vec()),
    );
    lseek(input, 9000, libc::SEEK_SET);
    lseek(output, 20, libc::SEEK_SET);
    ctx.eq(
        "copy_file_range at the positions stops at the end",
        copy_file_range(input, None, output, None, 5000, 0),
        1000,
    );
    ctx.eq(
        "copy_file_range moves the positions",
        (position(input), position(output)),
        (10_000, 1020),
    );
    ctx.eq(
        "copy_file_range at the positions: the bytes",
        pread(output, 1000, 20),
        Ok(source[9000..].to_vec()),
    );
    ctx.eq(
        "copy_file_range at the end copies 0",
        copy_file_range(input, None, output, None, 5000, 0),
        0,
    );
    let mut past = 20_000i64;
    ctx.eq(
        "copy_file_range past the end copies 0",
        copy_file_range(input, Some(&mut past), output, None, 10, 0),
        0,
    );
    ctx.eq(
        "an offset is left alone when nothing is copied",
        past,
        20_000,
    );
    // One file: disjoint ranges copy, overlapping ones are EINVAL.
    let (mut from, mut to) = (0i64, 10_000i64);
    ctx.eq(
        "copy_file_range within one file",
        copy_file_range(input, Some(&mut from), input, Some(&mut to), 100, 0),
        100,
    );
    ctx.eq(
        "within one file: the bytes",
        pread(input, 100, 10_000),
        Ok(source[..100].to_vec()),
    );
    let (mut from, mut to) = (0i64, 50i64);
    ctx.eq(
        "overlapping ranges of one file are EINVAL",
        copy_file_range(input, Some(&mut from), input, Some(&mut to), 100, 0),
        e(libc::EINVAL),
    );
    close(input);
    close(output);
}

fn copy_errors(ctx: &mut Ctx) {
    let input = file_with(&ctx.dir, "copy-errors", b"0123456789");
    let output = file_with(&ctx.dir, "copy-errors-out", b"");
    ctx.eq(
        "copy_file_range with flags is EINVAL",
        copy_file_range(input, None, output, None, 5, 1),
        e(libc::EINVAL),
    );
    ctx.eq(
        "copy_file_range from a bad descriptor is EBADF",
        copy_file_range(999, None, output, None, 5, 0),
        e(libc::EBADF),
    );
    // Address 8: in the first page, never mapped.
    let bad = 8u64;
    ctx.eq(
        "copy_file_range with a bad offset pointer is EFAULT",
        sys(
            libc::SYS_copy_file_range,
            [input as u64, bad, output as u64, 0, 5, 0],
        ),
        e(libc::EFAULT),
    );
    let mut negative = -100i64;
    ctx.eq(
        "a negative offset is EINVAL",
        copy_file_range(input, Some(&mut negative), output, None, 5, 0),
        e(libc::EINVAL),
    );
    let write_only = must_open(&ctx.path("copy-errors"), libc::O_WRONLY);
    ctx.eq(
        "copy_file_range from a write-only file is EBADF",
        copy_file_range(write_only, None, output, None, 5, 0),
        e(libc::EBADF),
    );
    let appending = must_open(
        &ctx.path("copy-errors-out"),
        libc::O_WRONLY | libc::O_APPEND,
    );
    ctx.eq(
        "copy_file_range to O_APPEND is EBADF",
        copy_file_range(input, None, appending, None, 5, 0),
        e(libc::EBADF),
    );
    let (r, w) = pipe(0);
    ctx.eq(
        "copy_file_range from a pipe is EINVAL",
        copy_file_range(r, None, output, None, 5, 0),
        e(libc::EINVAL),
    );
    ctx.eq(
        "copy_file_range to a pipe is EINVAL",
        copy_file_range(input, None, w, None, 5, 0),
        e(libc::EINVAL),
    );
    let dir = must_open(&ctx.dir, libc::O_RDONLY | libc::O_DIRECTORY);
    ctx.eq(
        "copy_file_range from a directory is EISDIR",
        copy_file_range(dir, None, output, None, 5, 0),
        e(libc::EISDIR),
    );
    for fd in [write_only, appending, r, w, dir] {
        close(fd);
    }
    if let Some(other) = ctx.other.clone() {
        let far = file_with(&other, "copy-far", b"far away");
        ctx.eq(
            "copy_file_range across filesystems is EXDEV",
            copy_file_range(input, None, far, None, 5, 0),
            e(libc::EXDEV),
        );
        ctx.eq(
            "and the other way",
            copy_file_range(far, None, output, None, 5, 0),
            e(libc::EXDEV),
        );
        close(far);
    } else {
        ctx.skip(
            "copy_file_range across filesystems is EXDEV",
            "no --other directory",
        );
    }
    if let Some(lower) = ctx.lower_file.clone() {
        let lower = must_open(&lower, libc::O_RDONLY);
        ctx.eq(
            "copy_file_range from an overlay's lower file to its upper is EXDEV",
            copy_file_range(lower, None, output, None, 5, 0),
            e(libc::EXDEV),
        );
        close(lower);
    }
    close(input);
    close(output);
}

fn sending(ctx: &mut Ctx) {
    let source = pattern(0, 100_000);
    let input = file_with(&ctx.dir, "send-in", &source);
    let output = file_with(&ctx.dir, "send-out", b"");
    let mut offset = 10i64;
    ctx.eq(
        "sendfile file to file with an offset",
        sendfile(output, input, Some(&mut offset), 3000),
        3000,
    );
    ctx.eq("sendfile advances the offset", offset, 3010);
    ctx.eq(
        "sendfile with an offset leaves the input's position",
        position(input),
        0,
    );
    ctx.eq(
        "sendfile moves the output's position",
        position(output),
        3000,
    );
    ctx.eq(
        "sendfile: the bytes",
        pread(output, 4000, 0),
        Ok(source[10..3010].to_vec()),
    );
    lseek(input, 99_000, libc::SEEK_SET);
    ctx.eq(
        "sendfile at the input's position stops at its end",
        sendfile(output, input, None, 5000),
        1000,
    );
    ctx.eq(
        "sendfile moves the input's position",
        position(input),
        100_000,
    );
    ctx.eq(
        "sendfile at the end sends 0",
        sendfile(output, input, None, 5000),
        0,
    );
    // Into a pipe: as much as it has room for.
    let (r, w) = pipe(0);
    let mut offset = 0i64;
    ctx.eq(
        "sendfile into an empty pipe fills it",
        sendfile(w, input, Some(&mut offset), 100_000),
        65536,
    );
    ctx.eq("sendfile into a pipe advances the offset", offset, 65536);
    let mut got = Vec::new();
    while got.len() < 65536 {
        match read(r, 65536 - got.len()) {
            Ok(bytes) if !bytes.is_empty() => got.extend(bytes),
            _ => break,
        }
    }
    ctx.check(
        "the pipe holds the file's bytes",
        got == source[..65536],
        "bytes differ",
    );
    close(r);
    close(w);
    let (r, w) = pipe(libc::O_NONBLOCK);
    let mut offset = 0i64;
    sendfile(w, input, Some(&mut offset), 100_000);
    ctx.eq(
        "sendfile into a full non-blocking pipe is EAGAIN",
        sendfile(w, input, Some(&mut offset), 10),
        e(libc::EAGAIN),
    );
    close(r);
    ctx.eq(
        "sendfile into a pipe with no reader is EPIPE",
        sendfile(w, input, Some(&mut 0i64), 10),
        e(libc::EPIPE),
    );
    close(w);
    // Into a socket: all of it, the peer reads it.
    let (s1, s2) = socketpair();
    let mut offset = 500i64;
    ctx.eq(
        "sendfile into a socket",
        sendfile(s1, input, Some(&mut offset), 5000),
        5000,
    );
    let mut got = Vec::new();
    while got.len() < 5000 {
        match read(s2, 5000 - got.len()) {
            Ok(bytes) if !bytes.is_empty() => got.extend(bytes),
            _ => break,
        }
    }
    ctx.check(
        "the peer reads the file's bytes",
        got == source[500..5500],
        "bytes differ",
    );
    close(s1);
    close(s2);
    close(input);
    close(output);
}

fn send_errors(ctx: &mut Ctx) {
    let input = file_with(&ctx.dir, "send-errors", b"0123456789");
    let output = file_with(&ctx.dir, "send-errors-out", b"");
    let write_only = must_open(&ctx.path("send-errors"), libc::O_WRONLY);
    ctx.eq(
        "sendfile from a write-only file is EBADF",
        sendfile(output, write_only, None, 5),
        e(libc::EBADF),
    );
    let read_only = must_open(&ctx.path("send-errors-out"), libc::O_RDONLY);
    ctx.eq(
        "sendfile to a read-only file is EBADF",
        sendfile(read_only, input, None, 5),
        e(libc::EBADF),
    );
    let appending = must_open(
        &ctx.path("send-errors-out"),
        libc::O_WRONLY | libc::O_APPEND,
    );
    ctx.eq(
        "sendfile to O_APPEND is EINVAL",
        sendfile(appending, input, None, 5),
        e(libc::EINVAL),
    );
    let (r, w) = pipe(0);
    ctx.eq(
        "sendfile from a pipe with an offset is ESPIPE",
        sendfile(output, r, Some(&mut 0i64), 5),
        e(libc::ESPIPE),
    );
    ctx.eq(
        "sendfile with a negative offset is EINVAL",
        sendfile(output, input, Some(&mut -1i64), 5),
        e(libc::EINVAL),
    );
    ctx.eq(
        "sendfile with a bad offset pointer is EFAULT",
        sys(
            libc::SYS_sendfile,
            [output as u64, input as u64, 8, 5, 0, 0],
        ),
        e(libc::EFAULT),
    );
    for fd in [write_only, read_only, appending, r, w, input, output] {
        close(fd);
    }
}

/// Reads exactly `len` bytes from `fd` (a pipe or socket), or what there was.
fn drain(fd: c_int, len: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < len {
        match read(fd, len - got.len()) {
            Ok(bytes) if !bytes.is_empty() => got.extend(bytes),
            _ => break,
        }
    }
    got
}

fn splicing(ctx: &mut Ctx) {
    let source = pattern(0, 20_000);
    let input = file_with(&ctx.dir, "splice-in", &source);
    let output = file_with(&ctx.dir, "splice-out", b"");
    let (r, w) = pipe(0);
    let mut off_in = 1000i64;
    ctx.eq(
        "splice file to pipe with an offset",
        splice(input, Some(&mut off_in), w, None, 8000, 0),
        8000,
    );
    ctx.eq("splice advances the input offset", off_in, 9000);
    ctx.eq(
        "splice with an offset leaves the position",
        position(input),
        0,
    );
    let mut off_out = 50i64;
    ctx.eq(
        "splice pipe to file with an offset",
        splice(
            r,
            None,
            output,
            Some(&mut off_out),
            100_000,
            SPLICE_F_MOVE | SPLICE_F_MORE,
        ),
        8000,
    );
    ctx.eq("splice advances the output offset", off_out, 8050);
    ctx.eq(
        "splice with an offset leaves the output position",
        position(output),
        0,
    );
    ctx.eq(
        "the round trip's bytes",
        pread(output, 8000, 50),
        Ok(source[1000..9000].to_vec()),
    );
    // At the positions.
    lseek(input, 19_000, libc::SEEK_SET);
    ctx.eq(
        "splice from the position stops at the end",
        splice(input, None, w, None, 5000, 0),
        1000,
    );
    ctx.eq("splice moves the input's position", position(input), 20_000);
    ctx.eq(
        "splice from the end moves 0",
        splice(input, None, w, None, 5000, 0),
        0,
    );
    ctx.eq(
        "splice to the position",
        splice(r, None, output, None, 600, 0),
        600,
    );
    ctx.eq("splice moves the output's position", position(output), 600);
    ctx.eq(
        "the rest stays in the pipe",
        drain(r, 400),
        source[19_600..].to_vec(),
    );
    // Pipe to pipe, then through a socket pair and back into a file.
    let (r2, w2) = pipe(0);
    write(w, b"through two pipes");
    ctx.eq("splice pipe to pipe", splice(r, None, w2, None, 100, 0), 17);
    let (s1, s2) = socketpair();
    ctx.eq(
        "splice pipe to socket",
        splice(r2, None, s1, None, 100, 0),
        17,
    );
    ctx.eq(
        "splice socket to pipe",
        splice(s2, None, w, None, 100, 0),
        17,
    );
    let final_file = file_with(&ctx.dir, "splice-final", b"");
    ctx.eq(
        "splice pipe to file",
        splice(r, None, final_file, None, 100, 0),
        17,
    );
    ctx.eq(
        "the bytes made it through",
        pread(final_file, 100, 0),
        Ok(b"through two pipes".to_vec()),
    );
    // The ends: nothing there and non-blocking, nothing there and no writer.
    ctx.eq(
        "splice from an empty pipe with SPLICE_F_NONBLOCK is EAGAIN",
        splice(r, None, output, None, 10, SPLICE_F_NONBLOCK),
        e(libc::EAGAIN),
    );
    close(w2);
    ctx.eq(
        "splice from an empty pipe with no writer is 0",
        splice(r2, None, output, None, 10, 0),
        0,
    );
    close(r);
    ctx.eq(
        "splice into a pipe with no reader is EPIPE",
        splice(input, Some(&mut 0i64), w, None, 10, 0),
        e(libc::EPIPE),
    );
    for fd in [w, r2, s1, s2, input, output, final_file] {
        close(fd);
    }
}

fn splice_errors(ctx: &mut Ctx) {
    let input = file_with(&ctx.dir, "splice-errors", b"0123456789");
    let output = file_with(&ctx.dir, "splice-errors-out", b"");
    let (r, w) = pipe(0);
    ctx.eq(
        "splice of 0 bytes is 0 before anything is looked at",
        splice(999, None, 998, None, 0, 0xff),
        0,
    );
    ctx.eq(
        "splice with an unknown flag is EINVAL",
        splice(input, None, w, None, 5, 0x10),
        e(libc::EINVAL),
    );
    ctx.eq(
        "splice from a bad descriptor is EBADF",
        splice(999, None, w, None, 5, 0),
        e(libc::EBADF),
    );
    ctx.eq(
        "splice between two files is EINVAL",
        splice(input, None, output, None, 5, 0),
        e(libc::EINVAL),
    );
    ctx.eq(
        "splice from a pipe with an offset is ESPIPE",
        splice(r, Some(&mut 0i64), output, None, 5, 0),
        e(libc::ESPIPE),
    );
    ctx.eq(
        "splice to a pipe with an offset is ESPIPE",
        splice(input, None, w, Some(&mut 0i64), 5, 0),
        e(libc::ESPIPE),
    );
    ctx.eq(
        "splice from a pipe's write end is EBADF",
        splice(w, None, output, None, 5, 0),
        e(libc::EBADF),
    );
    let read_only = must_open(&ctx.path("splice-errors-out"), libc::O_RDONLY);
    write(w, b"abc");
    ctx.eq(
        "splice to a read-only file is EBADF",
        splice(r, None, read_only, None, 5, 0),
        e(libc::EBADF),
    );
    let appending = must_open(
        &ctx.path("splice-errors-out"),
        libc::O_WRONLY | libc::O_APPEND,
    );
    ctx.eq(
        "splice to O_APPEND is EINVAL",
        splice(r, None, appending, None, 5, 0),
        e(libc::EINVAL),
    );
    ctx.eq(
        "splice between a pipe's two ends is EINVAL",
        splice(r, None, w, None, 5, 0),
        e(libc::EINVAL),
    );
    ctx.eq(
        "splice to a negative offset is EINVAL",
        splice(r, None, output, Some(&mut -5i64), 5, 0),
        e(libc::EINVAL),
    );
    ctx.eq(
        "the refused splices left the pipe's bytes",
        drain(r, 3),
        b"abc".to_vec(),
    );
    for fd in [input, output, r, w, read_only, appending] {
        close(fd);
    }
}

fn teeing(ctx: &mut Ctx) {
    let (r1, w1) = pipe(0);
    let (r2, w2) = pipe(0);
    write(w1, b"abcdef");
    ctx.eq("tee copies without taking", tee(r1, w2, 4, 0), 4);
    ctx.eq("tee: the copy", drain(r2, 4), b"abcd".to_vec());
    ctx.eq(
        "tee: the original is all there",
        drain(r1, 6),
        b"abcdef".to_vec(),
    );
    ctx.eq(
        "tee from an empty pipe with SPLICE_F_NONBLOCK is EAGAIN",
        tee(r1, w2, 4, SPLICE_F_NONBLOCK),
        e(libc::EAGAIN),
    );
    ctx.eq(
        "tee with an unknown flag is EINVAL",
        tee(r1, w2, 4, 0x10),
        e(libc::EINVAL),
    );
    ctx.eq("tee of 0 bytes is 0", tee(r1, w2, 0, 0), 0);
    ctx.eq(
        "tee between a pipe's own ends is EINVAL",
        tee(r1, w1, 4, 0),
        e(libc::EINVAL),
    );
    let file = file_with(&ctx.dir, "tee-file", b"xyz");
    ctx.eq(
        "tee from a file is EINVAL",
        tee(file, w2, 4, 0),
        e(libc::EINVAL),
    );
    ctx.eq(
        "tee from a write end is EBADF",
        tee(w1, w2, 4, 0),
        e(libc::EBADF),
    );
    close(w1);
    ctx.eq(
        "tee from an empty pipe with no writer is 0",
        tee(r1, w2, 4, 0),
        0,
    );
    let (r3, w3) = pipe(0);
    write(w3, b"more");
    close(r2);
    ctx.eq(
        "tee into a pipe with no reader is EPIPE",
        tee(r3, w2, 4, 0),
        e(libc::EPIPE),
    );
    for fd in [r1, w2, r3, w3, file] {
        close(fd);
    }
}

fn vmsplicing(ctx: &mut Ctx) {
    let (r, w) = pipe(0);
    let iov = const_iovecs(&[b"user ", b"pages"]);
    ctx.eq("vmsplice into a pipe", vmsplice(w, &iov, 0), 10);
    let (mut a, mut b) = ([0u8; 4], [0u8; 20]);
    let out = iovecs(&mut [&mut a, &mut b]);
    ctx.eq("vmsplice out of a pipe", vmsplice(r, &out, 0), 10);
    ctx.eq(
        "vmsplice out: the bytes",
        (&a[..], &b[..6]),
        (&b"user"[..], &b" pages"[..]),
    );
    ctx.eq(
        "vmsplice from an empty pipe with SPLICE_F_NONBLOCK is EAGAIN",
        vmsplice(r, &out, SPLICE_F_NONBLOCK),
        e(libc::EAGAIN),
    );
    ctx.eq(
        "vmsplice with an unknown flag is EINVAL",
        vmsplice(w, &iov, 0x10),
        e(libc::EINVAL),
    );
    let file = file_with(&ctx.dir, "vmsplice-file", b"");
    ctx.eq(
        "vmsplice on a file is EBADF",
        vmsplice(file, &iov, 0),
        e(libc::EBADF),
    );
    ctx.eq("vmsplice of nothing is 0", vmsplice(w, &iov[..0], 0), 0);
    close(r);
    ctx.eq(
        "vmsplice into a pipe with no reader is EPIPE",
        vmsplice(w, &iov, 0),
        e(libc::EPIPE),
    );
    close(w);
    close(file);
}
