//! Moving bytes between descriptors without user memory in between: `sendfile`,
//! `splice`, `tee`, `vmsplice` and `copy_file_range`.
//!
//! Linux moves page references through a pipe; here the bytes are copied through one
//! kernel buffer (charged to the budget like `read`'s), and every write to a file is the
//! open file's own `write_at`, the one path all writes take, so the page cache learns of
//! it as it learns of a `write`. A pipe is waited on as Linux's `splice` waits (the pipe
//! layer's [`PipeEnd::wait_readable`]/[`PipeEnd::wait_writable`]) and then read or filled
//! without sleeping; no pipe lock is held while the other side is read or written.
//! Bytes taken from a pipe that the destination refuses go back in front of it.
//!
//! Checks run in Linux's order (`__do_splice`/`do_splice`, `do_sendfile`,
//! `do_splice_direct`, `copy_file_range`'s syscall and `vfs_copy_file_range`); the pure
//! ones are [`crate::abi::io_args`]'s.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use vfs_core::{Errno, FileType, OpenFile, OpenFlags, Whence};

use super::files::{self, CHUNK, MAX_RW_COUNT};
use super::{SysResult, read_in, write_out};
use crate::abi::io_args;
use crate::fs::pipe::{PipeEnd, pipe_end};
use crate::mm::address_space::Access;
use crate::net::unix::{Socket, socket_of};
use crate::process::Process;

/// The side of a transfer that is not a pipe, by how it is read and written. Anything
/// else (a directory, an event file, a symlink opened `O_PATH`) has no `splice_read` or
/// `splice_write` in Linux: `EINVAL`.
enum Endpoint {
    /// A regular file, read and written at explicit offsets.
    File,
    Socket(Arc<Socket>),
    /// A character device (`/dev/null`, `/dev/zero`, a terminal), through its driver.
    Device,
}

fn endpoint(file: &OpenFile) -> Result<Endpoint, Errno> {
    if let Some(socket) = socket_of(file) {
        return Ok(Endpoint::Socket(socket.clone()));
    }
    if crate::fs::event::is_event_file(file) {
        return Err(Errno::EINVAL);
    }
    match (file.inode().file_type(), file.device()) {
        (FileType::Regular, None) => Ok(Endpoint::File),
        (FileType::CharDevice, Some(_)) => Ok(Endpoint::Device),
        _ => Err(Errno::EINVAL),
    }
}

/// A working buffer for up to `len` bytes, charged past the prepaid scratch.
fn bounce(len: u64) -> (Vec<u8>, Option<vfs_core::Charge>) {
    let (size, charge) = super::bounce_size((len.min(CHUNK as u64) as usize).max(1));
    (vec![0u8; size], charge)
}

/// Reads into `buf` from a non-pipe side at `pos` (a file's; devices and sockets have
/// none). `nonblock`: a socket or device must not sleep.
fn read_from(
    p: &mut Process,
    file: &OpenFile,
    endpoint: &Endpoint,
    pos: u64,
    buf: &mut [u8],
    nonblock: bool,
) -> Result<usize, Errno> {
    match endpoint {
        Endpoint::File => file.read_at(pos, buf),
        Endpoint::Socket(socket) => super::sockets::receive_bytes(p, file, socket, buf, nonblock),
        Endpoint::Device => match file.device() {
            Some(device) if nonblock => device.read(0, buf, file.flags() | OpenFlags::NONBLOCK),
            _ => file.read(buf),
        },
    }
}

/// Writes all of `data` to a non-pipe side at `pos` (a file's), or as much as it takes
/// before refusing: the bytes written, or the error if none were.
fn write_to(
    p: &mut Process,
    file: &OpenFile,
    endpoint: &Endpoint,
    pos: u64,
    data: &[u8],
) -> Result<usize, Errno> {
    let mut done = 0;
    while done < data.len() {
        let written = match endpoint {
            Endpoint::File => file.write_at(pos + done as u64, &data[done..]),
            Endpoint::Socket(socket) => {
                super::sockets::send_bytes(p, file, socket, &data[done..], false)
                    .map(|sent| sent as usize)
            }
            Endpoint::Device => file.write(&data[done..]),
        };
        match written {
            Ok(0) => break,
            Ok(written) => done += written,
            Err(errno) if done == 0 => return Err(errno),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// A `loff_t` the caller points at.
fn read_offset(p: &mut Process, address: u64) -> Result<i64, Errno> {
    let raw = read_in(p, address, 8)?;
    Ok(i64::from_le_bytes([
        raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
    ]))
}

fn write_offset(p: &mut Process, address: u64, offset: u64) -> Result<(), Errno> {
    write_out(p, address, &offset.to_le_bytes())
}

/// Moves a file's position after a transfer that used it.
fn set_position(file: &OpenFile, pos: u64) {
    // A regular file's position is any non-negative offset: this cannot fail.
    let _ = file.seek(pos as i64, Whence::Set);
}

/// `splice(fd_in, off_in, fd_out, off_out, len, flags)`: one side at least is a pipe.
pub fn splice(
    p: &mut Process,
    fd_in: i32,
    off_in: u64,
    fd_out: i32,
    off_out: u64,
    len: u64,
    flags: u64,
) -> SysResult {
    if len == 0 {
        return Ok(0);
    }
    let nonblock = io_args::splice_nonblock(flags)?;
    let input = files::file(p, fd_in)?;
    let output = files::file(p, fd_out)?;
    let (in_pipe, out_pipe) = (pipe_end(&input), pipe_end(&output));
    if (in_pipe.is_some() && off_in != 0) || (out_pipe.is_some() && off_out != 0) {
        return Err(Errno::ESPIPE);
    }
    let given_out = (off_out != 0)
        .then(|| read_offset(p, off_out))
        .transpose()?;
    let given_in = (off_in != 0).then(|| read_offset(p, off_in)).transpose()?;
    if !input.flags().readable() || !output.flags().writable() {
        return Err(Errno::EBADF);
    }
    let result = match (in_pipe, out_pipe) {
        (Some(from), Some(to)) => {
            if from.same_pipe(to) {
                return Err(Errno::EINVAL);
            }
            let nonblock = nonblock || nonblocking(&input) || nonblocking(&output);
            pipe_to_pipe(from, to, len, nonblock)
        }
        (Some(from), None) => {
            if given_out.is_some() {
                files::check_positional(&output).map_err(|_| Errno::EINVAL)?;
            }
            if output.flags().contains(OpenFlags::APPEND) {
                return Err(Errno::EINVAL);
            }
            let pos = given_out.unwrap_or(output.position() as i64);
            io_args::verify_area(pos, len)?;
            let to = endpoint(&output)?;
            let nonblock = nonblock || nonblocking(&input);
            let moved = pipe_to_endpoint(p, from, &output, &to, pos as u64, len, nonblock);
            if let Ok(moved) = moved {
                let end = pos as u64 + moved;
                match given_out {
                    Some(_) => write_offset(p, off_out, end)?,
                    None if matches!(to, Endpoint::File) => set_position(&output, end),
                    None => {}
                }
            }
            moved
        }
        (None, Some(to)) => {
            if given_in.is_some() {
                files::check_positional(&input).map_err(|_| Errno::EINVAL)?;
            }
            let pos = given_in.unwrap_or(input.position() as i64);
            let nonblock = nonblock || nonblocking(&output);
            let moved = endpoint_to_pipe(p, &input, pos, len, to, nonblock);
            if let Ok(moved) = moved {
                let end = pos as u64 + moved;
                match given_in {
                    Some(_) => write_offset(p, off_in, end)?,
                    None if matches!(endpoint(&input), Ok(Endpoint::File)) => {
                        set_position(&input, end)
                    }
                    None => {}
                }
            }
            moved
        }
        (None, None) => Err(Errno::EINVAL),
    };
    files::broken_pipe(p, result)
}

fn nonblocking(file: &OpenFile) -> bool {
    file.flags().contains(OpenFlags::NONBLOCK)
}

/// From a pipe into a file, socket or device, as `splice_from_pipe`: waits for bytes
/// only while none have moved, stops when the pipe is empty, the destination takes less
/// than it was given (the rest goes back into the pipe) or `len` is done.
fn pipe_to_endpoint(
    p: &mut Process,
    from: &PipeEnd,
    output: &OpenFile,
    to: &Endpoint,
    mut pos: u64,
    len: u64,
    nonblock: bool,
) -> SysResult {
    let (mut buf, _charge) = bounce(len);
    let mut moved = 0u64;
    while moved < len {
        if moved == 0 && !from.wait_readable(nonblock)? {
            break;
        }
        let want = ((len - moved) as usize).min(buf.len());
        let took = from.take(&mut buf[..want]);
        if took == 0 {
            break;
        }
        let written = write_to(p, output, to, pos, &buf[..took]);
        let written = match written {
            Ok(written) => written,
            Err(errno) => {
                from.unread(&buf[..took])?;
                if moved == 0 {
                    return Err(errno);
                }
                break;
            }
        };
        moved += written as u64;
        pos += written as u64;
        if written < took {
            from.unread(&buf[written..took])?;
            break;
        }
    }
    files::changed(output);
    Ok(moved)
}

/// From a file, socket or device into a pipe, as `splice_file_to_pipe`: waits for room
/// (`EPIPE` with no reader, `EAGAIN` if `nonblock`), then reads what fits, at most `len`;
/// a socket or a device gives one read's worth.
fn endpoint_to_pipe(
    p: &mut Process,
    input: &OpenFile,
    pos: i64,
    len: u64,
    to: &PipeEnd,
    nonblock: bool,
) -> SysResult {
    to.wait_writable(nonblock)?;
    let from = endpoint(input)?;
    let len = len.min(MAX_RW_COUNT);
    if matches!(from, Endpoint::File) {
        io_args::verify_area(pos, len)?;
    }
    let (mut buf, _charge) = bounce(len.min(to.room() as u64));
    let mut pos = pos as u64;
    let mut moved = 0u64;
    while moved < len {
        let want = ((len - moved) as usize).min(to.room()).min(buf.len());
        if want == 0 {
            break;
        }
        let got = match read_from(p, input, &from, pos, &mut buf[..want], nonblock) {
            Ok(got) => got,
            Err(errno) if moved == 0 => return Err(errno),
            Err(_) => break,
        };
        if got == 0 {
            break;
        }
        if let Err(errno) = to.push(&buf[..got]) {
            if moved == 0 {
                return Err(errno);
            }
            break;
        }
        moved += got as u64;
        pos += got as u64;
        if got < want || !matches!(from, Endpoint::File) {
            break;
        }
    }
    Ok(moved)
}

/// From one pipe into another (`splice_pipe_to_pipe`): waits for bytes, then for room,
/// then moves what both allow, at most `len`. With the input at its end and no writer
/// left, 0.
fn pipe_to_pipe(from: &PipeEnd, to: &PipeEnd, len: u64, nonblock: bool) -> SysResult {
    let (mut buf, _charge) = bounce(len);
    loop {
        let has_bytes = from.wait_readable(nonblock)?;
        to.wait_writable(nonblock)?;
        if !has_bytes {
            return Ok(0);
        }
        let want = (len as usize).min(to.room()).min(buf.len());
        let took = from.take(&mut buf[..want]);
        if took == 0 {
            // Another reader emptied it, or another writer filled the output: again.
            continue;
        }
        if let Err(errno) = to.push(&buf[..took]) {
            from.unread(&buf[..took])?;
            return Err(errno);
        }
        return Ok(took as u64);
    }
}

/// `tee(fd_in, fd_out, len, flags)`: copies bytes from one pipe into another without
/// taking them (`link_pipe`).
pub fn tee(p: &mut Process, fd_in: i32, fd_out: i32, len: u64, flags: u64) -> SysResult {
    let nonblock = io_args::splice_nonblock(flags)?;
    if len == 0 {
        return Ok(0);
    }
    let input = files::file(p, fd_in)?;
    let output = files::file(p, fd_out)?;
    if !input.flags().readable() || !output.flags().writable() {
        return Err(Errno::EBADF);
    }
    let (Some(from), Some(to)) = (pipe_end(&input), pipe_end(&output)) else {
        return Err(Errno::EINVAL);
    };
    if from.same_pipe(to) {
        return Err(Errno::EINVAL);
    }
    let nonblock = nonblock || nonblocking(&input) || nonblocking(&output);
    let result = (|| {
        let has_bytes = from.wait_readable(nonblock)?;
        to.wait_writable(nonblock)?;
        if !has_bytes {
            return Ok(0);
        }
        let (mut buf, _charge) = bounce(len);
        let want = (len as usize).min(to.room()).min(buf.len());
        let copied = from.peek(&mut buf[..want]);
        to.push(&buf[..copied])?;
        Ok(copied as u64)
    })();
    files::broken_pipe(p, result)
}

/// `vmsplice(fd, iov, count, flags)`: user memory into a pipe opened for writing (what
/// fits once there is room), or out of one opened only for reading (what it holds once
/// it holds something).
pub fn vmsplice(p: &mut Process, fd: i32, address: u64, count: u64, flags: u64) -> SysResult {
    let nonblock = io_args::splice_nonblock(flags)?;
    let file = files::file(p, fd)?;
    let writes = file.flags().writable();
    if !writes && !file.flags().readable() {
        return Err(Errno::EBADF);
    }
    let vectors = super::vectored::iovecs(p, address, count)?;
    let access = if writes { Access::Read } else { Access::Write };
    for &(base, len) in &vectors {
        p.mm.lock().check_range(base, len, access)?;
    }
    let total: u64 = vectors.iter().map(|&(_, len)| len).sum();
    if total == 0 {
        return Ok(0);
    }
    let pipe = pipe_end(&file).ok_or(Errno::EBADF)?;
    let result = if writes {
        user_to_pipe(p, &vectors, pipe, nonblock)
    } else {
        pipe_to_user(p, &vectors, pipe, nonblock)
    };
    files::broken_pipe(p, result)
}

fn user_to_pipe(
    p: &mut Process,
    vectors: &[(u64, u64)],
    pipe: &PipeEnd,
    nonblock: bool,
) -> SysResult {
    pipe.wait_writable(nonblock)?;
    let mut moved = 0u64;
    for &(base, len) in vectors {
        let mut done = 0;
        while done < len {
            let want = ((len - done) as usize).min(pipe.room()).min(CHUNK);
            if want == 0 {
                return Ok(moved);
            }
            let pushed = read_in(p, base + done, want).and_then(|data| pipe.push(&data));
            if let Err(errno) = pushed {
                return if moved == 0 { Err(errno) } else { Ok(moved) };
            }
            done += want as u64;
            moved += want as u64;
        }
    }
    Ok(moved)
}

fn pipe_to_user(
    p: &mut Process,
    vectors: &[(u64, u64)],
    pipe: &PipeEnd,
    nonblock: bool,
) -> SysResult {
    if !pipe.wait_readable(nonblock)? {
        return Ok(0);
    }
    let total: u64 = vectors.iter().map(|&(_, len)| len).sum();
    let (mut buf, _charge) = bounce(total);
    let mut moved = 0u64;
    for &(base, len) in vectors {
        let mut done = 0;
        while done < len {
            let want = ((len - done) as usize).min(buf.len());
            let took = pipe.take(&mut buf[..want]);
            if took == 0 {
                return Ok(moved);
            }
            if let Err(errno) = p.mm.lock().write(base + done, &buf[..took]) {
                pipe.unread(&buf[..took])?;
                return if moved == 0 { Err(errno) } else { Ok(moved) };
            }
            done += took as u64;
            moved += took as u64;
        }
    }
    Ok(moved)
}

/// `sendfile(out_fd, in_fd, offset, count)`: from a file (or device, or into a pipe
/// also a socket) to anything that can be written.
pub fn sendfile(p: &mut Process, out_fd: i32, in_fd: i32, offset: u64, count: u64) -> SysResult {
    let given = (offset != 0).then(|| read_offset(p, offset)).transpose()?;
    let input = files::file(p, in_fd)?;
    if !input.flags().readable() {
        return Err(Errno::EBADF);
    }
    if given.is_some() {
        files::check_positional(&input)?;
    }
    let pos = given.unwrap_or(input.position() as i64);
    io_args::verify_area(pos, count)?;
    let count = count.min(MAX_RW_COUNT);
    let output = files::file(p, out_fd)?;
    if !output.flags().writable() {
        return Err(Errno::EBADF);
    }
    let result = match pipe_end(&output) {
        Some(to) => endpoint_to_pipe(p, &input, pos, count, to, nonblocking(&output)),
        None => file_to_endpoint(p, &input, pos as u64, &output, count),
    };
    let result = files::broken_pipe(p, result);
    let moved = result?;
    let end = pos as u64 + moved;
    match given {
        Some(_) => write_offset(p, offset, end)?,
        None if matches!(endpoint(&input), Ok(Endpoint::File)) => set_position(&input, end),
        None => {}
    }
    Ok(moved)
}

/// `do_splice_direct`: from a seekable file or device into a file, socket or device
/// that is not a pipe, chunk by chunk, to the end of the input, `count`, or the first
/// chunk the output takes only part of. The output's position moves by what it took.
fn file_to_endpoint(
    p: &mut Process,
    input: &OpenFile,
    mut pos: u64,
    output: &OpenFile,
    count: u64,
) -> SysResult {
    if output.flags().contains(OpenFlags::APPEND) {
        return Err(Errno::EINVAL);
    }
    let from = endpoint(input)?;
    if matches!(from, Endpoint::Socket(_)) {
        return Err(Errno::EINVAL);
    }
    let to = endpoint(output)?;
    let mut out_pos = output.position();
    let (mut buf, _charge) = bounce(count);
    let mut moved = 0u64;
    let result = loop {
        if moved == count {
            break Ok(moved);
        }
        let want = ((count - moved) as usize).min(buf.len());
        let got = match read_from(p, input, &from, pos, &mut buf[..want], false) {
            Ok(0) => break Ok(moved),
            Ok(got) => got,
            Err(errno) if moved == 0 => break Err(errno),
            Err(_) => break Ok(moved),
        };
        let written = match write_to(p, output, &to, out_pos, &buf[..got]) {
            Ok(written) => written,
            Err(errno) if moved == 0 => break Err(errno),
            Err(_) => break Ok(moved),
        };
        moved += written as u64;
        pos += written as u64;
        out_pos += written as u64;
        // The output took part of a chunk, or a device gave less than asked (a terminal's
        // line, up to `^D`, which a sleep for more would swallow): what moved is the
        // answer. A file's short chunk goes on to the read that finds its end.
        let device_gave_less = got < want && !matches!(from, Endpoint::File);
        if written < got || device_gave_less {
            break Ok(moved);
        }
    };
    if matches!(to, Endpoint::File) {
        files::changed(output);
        if moved > 0 {
            set_position(output, out_pos);
        }
    }
    result
}

/// `copy_file_range(fd_in, off_in, fd_out, off_out, len, flags)`: between two regular
/// files of one filesystem (Linux 5.19 on: `EXDEV` across filesystems, as none of ours
/// has a `copy_file_range` of its own that could cross them).
pub fn copy_file_range(
    p: &mut Process,
    fd_in: i32,
    off_in: u64,
    fd_out: i32,
    off_out: u64,
    len: u64,
    flags: u64,
) -> SysResult {
    let input = files::file(p, fd_in)?;
    let output = files::file(p, fd_out)?;
    let pos_in = match off_in {
        0 => input.position() as i64,
        address => read_offset(p, address)?,
    };
    let pos_out = match off_out {
        0 => output.position() as i64,
        address => read_offset(p, address)?,
    };
    if flags as u32 != 0 {
        return Err(Errno::EINVAL);
    }
    let (type_in, type_out) = (input.inode().file_type(), output.inode().file_type());
    if type_in == FileType::Directory || type_out == FileType::Directory {
        return Err(Errno::EISDIR);
    }
    if type_in != FileType::Regular
        || type_out != FileType::Regular
        || input.device().is_some()
        || output.device().is_some()
    {
        return Err(Errno::EINVAL);
    }
    if !input.flags().readable()
        || !output.flags().writable()
        || output.flags().contains(OpenFlags::APPEND)
    {
        return Err(Errno::EBADF);
    }
    if !same_filesystem(&input, &output) {
        return Err(Errno::EXDEV);
    }
    let size_in = input.stat()?.size;
    let same_file = Arc::ptr_eq(input.inode(), output.inode());
    let count = io_args::copy_range(pos_in, size_in, pos_out, len, same_file)?;
    if count == 0 {
        return Ok(0);
    }
    let count = count.min(MAX_RW_COUNT);
    let (pos_in, pos_out) = (pos_in as u64, pos_out as u64);
    let (mut buf, _charge) = bounce(count);
    let mut moved = 0u64;
    let result = loop {
        if moved == count {
            break Ok(moved);
        }
        let want = ((count - moved) as usize).min(buf.len());
        let got = match input.read_at(pos_in + moved, &mut buf[..want]) {
            Ok(0) => break Ok(moved),
            Ok(got) => got,
            Err(errno) if moved == 0 => break Err(errno),
            Err(_) => break Ok(moved),
        };
        let written = match write_to(p, &output, &Endpoint::File, pos_out + moved, &buf[..got]) {
            Ok(written) => written,
            Err(errno) if moved == 0 => break Err(errno),
            Err(_) => break Ok(moved),
        };
        moved += written as u64;
        if written < got {
            break Ok(moved);
        }
    };
    files::changed(&output);
    let moved = result?;
    if moved > 0 {
        match off_in {
            0 => set_position(&input, pos_in + moved),
            address => write_offset(p, address, pos_in + moved)?,
        }
        match off_out {
            0 => set_position(&output, pos_out + moved),
            address => write_offset(p, address, pos_out + moved)?,
        }
    }
    Ok(moved)
}

/// Whether two regular files sit on one superblock, as `generic_copy_file_checks` asks.
/// Overlay has a `copy_file_range` of its own in Linux, which copies between the real
/// files underneath: two overlay files are on one filesystem when their real files are,
/// which here means both copied up to the same upper (a file still in a lower layer is
/// on a 9p or other lower filesystem, never the upper's); an overlay file and any other
/// are on two.
fn same_filesystem(input: &OpenFile, output: &OpenFile) -> bool {
    let (fs_in, fs_out) = (input.location().mount.fs(), output.location().mount.fs());
    let overlay = |fs: &Arc<dyn vfs_core::FileSystem>| fs.fs_type() == "overlay";
    if overlay(fs_in) || overlay(fs_out) {
        if !(overlay(fs_in) && overlay(fs_out)) {
            return false;
        }
        let real_dev = |file: &OpenFile| {
            file.inode()
                .data_inode()
                .and_then(|upper| upper.getattr().ok())
                .map(|stat| stat.dev)
        };
        return match (real_dev(input), real_dev(output)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        };
    }
    Arc::ptr_eq(fs_in, fs_out)
}
