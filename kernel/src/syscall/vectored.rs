//! Vectored I/O on a descriptor: `readv`/`writev` at the file's position, `preadv`/
//! `pwritev` at an offset, and `preadv2`/`pwritev2`, whose offset -1 means the file's
//! position and whose `RWF_*` flags change how one call behaves.
//!
//! The `iovec` array is read and checked here, once, for all of them and for `vmsplice`
//! ([`iovecs`]). Each buffer then goes through the chunked copy `read` and `write` use
//! ([`super::files`]), so a write reaches a file the one way every write does, and the
//! page cache hears of it the same way.
//!
//! Checks run in Linux's order (`do_preadv`, `import_iovec`, `do_iter_read`,
//! `kiocb_set_rw_flags`): a negative offset, the descriptor, `ESPIPE` for a positioned
//! call on a file with no position, the array, the descriptor's access, then nothing more
//! when no byte is asked for, then the flags.

use alloc::sync::Arc;
use alloc::vec::Vec;

use vfs_core::{Errno, FileType, OpenFile, OpenFlags};

use super::files;
use super::{SysResult, read_in};
use crate::abi::io_args::{self, Place, RwFlags, place_of};
use crate::mm::address_space::Access;
use crate::process::Process;

/// A call's buffers: (address, length) pairs.
pub(super) type Vectors = Vec<(u64, u64)>;

/// `UIO_MAXIOV`: more buffers in one call is `EINVAL`.
pub(super) const IOV_MAX: u64 = 1024;

/// The `struct iovec` array at `address`, as Linux's `import_iovec` takes it: `EINVAL`
/// past [`IOV_MAX`] or for a length negative as an `ssize_t`, `EFAULT` if the array is
/// unreadable; the total clamped to `MAX_RW_COUNT` ([`io_args::clamp_iovecs`]).
pub(super) fn iovecs(p: &mut Process, address: u64, count: u64) -> Result<Vectors, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    p.mm.lock().check_range(address, count * 16, Access::Read)?;
    let raw = read_in(p, address, count as usize * 16)?;
    let mut vectors = io_args::decode_iovecs(&raw);
    io_args::clamp_iovecs(&mut vectors)?;
    Ok(vectors)
}

pub fn readv(p: &mut Process, fd: i32, address: u64, count: u64) -> SysResult {
    read_vectored(p, fd, address, count, Place::Position, 0)
}

pub fn writev(p: &mut Process, fd: i32, address: u64, count: u64) -> SysResult {
    write_vectored(p, fd, address, count, Place::Position, 0)
}

/// `preadv(fd, iov, count, pos_l, pos_h)`: on x86-64 the offset is `pos_l` whole.
pub fn preadv(p: &mut Process, fd: i32, address: u64, count: u64, offset: u64) -> SysResult {
    let place = place_of(offset, false)?;
    read_vectored(p, fd, address, count, place, 0)
}

pub fn pwritev(p: &mut Process, fd: i32, address: u64, count: u64, offset: u64) -> SysResult {
    let place = place_of(offset, false)?;
    write_vectored(p, fd, address, count, place, 0)
}

pub fn preadv2(
    p: &mut Process,
    fd: i32,
    address: u64,
    count: u64,
    offset: u64,
    flags: u64,
) -> SysResult {
    let place = place_of(offset, true)?;
    read_vectored(p, fd, address, count, place, flags)
}

pub fn pwritev2(
    p: &mut Process,
    fd: i32,
    address: u64,
    count: u64,
    offset: u64,
    flags: u64,
) -> SysResult {
    let place = place_of(offset, true)?;
    write_vectored(p, fd, address, count, place, flags)
}

/// The descriptor, checked for a positioned call, and its buffers.
fn open_and_vectors(
    p: &mut Process,
    fd: i32,
    address: u64,
    count: u64,
    place: Place,
) -> Result<(Arc<OpenFile>, Vectors), Errno> {
    let file = files::file(p, fd)?;
    if place != Place::Position {
        files::check_positional(&file)?;
    }
    let vectors = iovecs(p, address, count)?;
    Ok((file, vectors))
}

/// Which way a call moves bytes: a read fills the caller's buffers, a write empties them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Read,
    Write,
}

/// What both directions check before moving a byte, in Linux's order: the descriptor (and
/// `ESPIPE` for a positioned call), the array, the descriptor's access (`EBADF`), then
/// `None` when no byte is asked for (the call returns 0 without looking at the flags),
/// then the flags.
fn prepare(
    p: &mut Process,
    fd: i32,
    address: u64,
    count: u64,
    place: Place,
    raw_flags: u64,
    direction: Direction,
) -> Result<Option<(Arc<OpenFile>, Vectors, RwFlags)>, Errno> {
    let (file, vectors) = open_and_vectors(p, fd, address, count, place)?;
    let allowed = match direction {
        Direction::Read => file.flags().readable(),
        Direction::Write => file.flags().writable(),
    };
    if !allowed {
        return Err(Errno::EBADF);
    }
    if vectors.iter().all(|&(_, len)| len == 0) {
        return Ok(None);
    }
    let flags = flags_for(&file, raw_flags)?;
    Ok(Some((file, vectors, flags)))
}

/// Every buffer is mapped for the access the call makes of it (`EFAULT` before any byte
/// moves).
fn check_buffers(p: &mut Process, vectors: &Vectors, direction: Direction) -> Result<(), Errno> {
    let access = match direction {
        Direction::Read => Access::Write,
        Direction::Write => Access::Read,
    };
    let mm = p.mm.lock();
    for &(base, len) in vectors {
        mm.check_range(base, len, access)?;
    }
    Ok(())
}

/// The flags, once the call is known to move something; `RWF_NOWAIT` only where a call
/// can avoid sleeping (pipes and sockets).
fn flags_for(file: &OpenFile, raw: u64) -> Result<RwFlags, Errno> {
    let flags = RwFlags::parse(raw)?;
    let can_nowait =
        crate::fs::pipe::pipe_end(file).is_some() || crate::net::unix::socket_of(file).is_some();
    if flags.nowait && !can_nowait {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(flags)
}

fn read_vectored(
    p: &mut Process,
    fd: i32,
    address: u64,
    count: u64,
    place: Place,
    raw_flags: u64,
) -> SysResult {
    let Some((file, vectors, flags)) =
        prepare(p, fd, address, count, place, raw_flags, Direction::Read)?
    else {
        return Ok(0);
    };
    if let Some(socket) = crate::net::unix::socket_of(&file).cloned() {
        return if flags.nowait {
            super::sockets::readv_nowait(p, &file, &socket, &vectors)
        } else {
            super::sockets::readv(p, &file, &socket, &vectors)
        };
    }
    check_buffers(p, &vectors, Direction::Read)?;
    if crate::fs::event::signalfd::signalfd_of(&file).is_some() {
        return files::read_signalfd(p, &file, &vectors);
    }
    let once = file.device().is_some();
    let pipe = crate::fs::pipe::pipe_end(&file);
    let mut total = 0;
    for (base, len) in vectors {
        // A pipe gives what it has once it has given something: no sleeping for more.
        if total > 0 && pipe.is_some_and(|end| end.waiting() == 0) {
            break;
        }
        let got = files::read_into_user(p, base, len, once, |done, chunk| match place {
            Place::Position if flags.nowait => read_nowait(&file, chunk),
            Place::Position => file.read(chunk),
            Place::At(offset) => file.read_at(offset + total + done, chunk),
        });
        match got {
            Ok(got) => {
                total += got;
                if got < len {
                    break;
                }
            }
            Err(errno) if total == 0 => return Err(errno),
            Err(_) => break,
        }
    }
    Ok(total)
}

fn write_vectored(
    p: &mut Process,
    fd: i32,
    address: u64,
    count: u64,
    place: Place,
    raw_flags: u64,
) -> SysResult {
    let Some((file, vectors, flags)) =
        prepare(p, fd, address, count, place, raw_flags, Direction::Write)?
    else {
        return Ok(0);
    };
    if let Some(socket) = crate::net::unix::socket_of(&file).cloned() {
        return if flags.nowait {
            super::sockets::writev_nowait(p, &file, &socket, &vectors)
        } else {
            super::sockets::writev(p, &file, &socket, &vectors)
        };
    }
    check_buffers(p, &vectors, Direction::Write)?;
    let mut total = 0;
    let mut result = Ok(0);
    for (base, len) in vectors {
        let written = files::write_from_user(p, base, len, |done, chunk| {
            if flags.append {
                file.append(chunk, place == Place::Position)
            } else {
                match place {
                    Place::Position if flags.nowait => write_nowait(&file, chunk),
                    Place::Position => file.write(chunk),
                    Place::At(offset) => file.write_at(offset + total + done, chunk),
                }
            }
        });
        match written {
            Ok(written) => {
                total += written;
                result = Ok(total);
                if written < len {
                    break;
                }
            }
            Err(errno) if total == 0 => {
                result = Err(errno);
                break;
            }
            Err(_) => break,
        }
    }
    files::changed(&file);
    // `generic_write_sync`: what was written reaches storage before the call returns,
    // and a failure to get it there is the call's error.
    if flags.sync && total > 0 && file.inode().file_type() == FileType::Regular {
        file.inode().fsync()?;
    }
    files::broken_pipe(p, result)
}

/// A pipe read that never sleeps (`RWF_NOWAIT`): `EAGAIN` when it is empty.
fn read_nowait(file: &OpenFile, chunk: &mut [u8]) -> Result<usize, Errno> {
    match file.device() {
        Some(device) => device.read(0, chunk, file.flags() | OpenFlags::NONBLOCK),
        None => file.read(chunk),
    }
}

/// A pipe write that never sleeps (`RWF_NOWAIT`): `EAGAIN` when it is full.
fn write_nowait(file: &OpenFile, chunk: &[u8]) -> Result<usize, Errno> {
    match file.device() {
        Some(device) => device.write(0, chunk, file.flags() | OpenFlags::NONBLOCK),
        None => file.write(chunk),
    }
}
