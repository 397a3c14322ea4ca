//! System calls on file locks: `fcntl`'s record-lock commands (`F_GETLK`, `F_SETLK`,
//! `F_SETLKW` and their open-file-description forms `F_OFD_*`) and `flock`, decoded and
//! checked in Linux's order (`fs/fcntl.c`, `fs/locks.c`), over the lock table of
//! `fs::locks`.

use alloc::sync::Arc;

use vfs_core::{Errno, OpenFile, OpenFlags};

use super::{SysResult, read_in, write_out};
use crate::fs::locks::{self, range, table};
use crate::process::Process;
use range::{F_RDLCK, F_UNLCK, F_WRLCK, FLOCK_SIZE, Flock, Kind, Origin, Span};
use table::{Owner, Request};

pub const F_GETLK: u64 = 5;
pub const F_SETLK: u64 = 6;
pub const F_SETLKW: u64 = 7;
pub const F_OFD_GETLK: u64 = 36;
pub const F_OFD_SETLK: u64 = 37;
pub const F_OFD_SETLKW: u64 = 38;

const LOCK_SH: u32 = 1;
const LOCK_EX: u32 = 2;
const LOCK_NB: u32 = 4;
const LOCK_UN: u32 = 8;
/// Linux's old mandatory `flock` locks, ignored (the call succeeds and does nothing).
const LOCK_MAND: u32 = 32;

/// Whether an `fcntl` command is one of the lock commands handled here.
pub fn is_lock_command(command: u64) -> bool {
    matches!(
        command,
        F_GETLK | F_SETLK | F_SETLKW | F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW
    )
}

/// The range and lock kind a `struct flock` names on `file` (Linux's
/// `flock64_to_posix_lock`: `l_whence` first, then the range, then `l_type`).
fn decode(file: &OpenFile, flock: &Flock) -> Result<(Span, Option<Kind>), Errno> {
    let base = match range::decode_whence(flock.l_whence())? {
        Origin::Start => 0,
        Origin::Position => file.position(),
        Origin::End => file.stat()?.size,
    };
    let span = range::span(base, flock.l_start(), flock.l_len())?;
    Ok((span, range::decode_type(flock.l_type())?))
}

/// The owner a command locks for: the process's descriptor table (POSIX locks) or the
/// open file description (`F_OFD_*`).
fn owner(p: &Process, file: &OpenFile, ofd: bool) -> Result<Owner, Errno> {
    Ok(if ofd {
        Owner::Description(locks::description_owner(file)?)
    } else {
        Owner::Process(locks::process_owner(&p.files))
    })
}

/// `fcntl(fd, command, argument)` for a lock command, on the descriptor's `file`.
pub fn fcntl(
    p: &mut Process,
    fd: i32,
    file: &Arc<OpenFile>,
    command: u64,
    argument: u64,
) -> SysResult {
    // An `O_PATH` descriptor takes only the descriptor commands (Linux's
    // `check_fcntl_cmd`).
    if file.flags().contains(OpenFlags::PATH) {
        return Err(Errno::EBADF);
    }
    let mut flock = Flock::from_bytes(&read_in(p, argument, FLOCK_SIZE)?);
    let ofd = matches!(command, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW);
    let key = locks::file_key(file);
    if matches!(command, F_GETLK | F_OFD_GETLK) {
        // Only F_OFD_GETLK may ask with F_UNLCK (for the caller's own locks, Linux 6.6).
        if command == F_GETLK && !matches!(flock.l_type(), F_RDLCK | F_WRLCK) {
            return Err(Errno::EINVAL);
        }
        let (span, kind) = decode(file, &flock)?;
        if ofd && flock.l_pid() != 0 {
            return Err(Errno::EINVAL);
        }
        let request = Request {
            owner: owner(p, file, ofd)?,
            pid: p.pid as i32,
            span,
            kind,
        };
        match locks::test_record(key, &request) {
            Some(conflict) => flock.describe(conflict.kind, conflict.span, conflict.pid),
            None => flock.set_l_type(F_UNLCK),
        }
        return write_out(p, argument, flock.bytes()).map(|()| 0);
    }
    let (span, kind) = decode(file, &flock)?;
    // A lock needs the access it names (Linux's `check_fmode_for_setlk`).
    let flags = file.flags();
    match kind {
        Some(Kind::Read) if !flags.readable() => return Err(Errno::EBADF),
        Some(Kind::Write) if !flags.writable() => return Err(Errno::EBADF),
        _ => {}
    }
    if ofd && flock.l_pid() != 0 {
        return Err(Errno::EINVAL);
    }
    let mut request = Request {
        owner: owner(p, file, ofd)?,
        pid: p.pid as i32,
        span,
        kind,
    };
    let blocking = matches!(command, F_SETLKW | F_OFD_SETLKW);
    locks::set_record(key, &request, blocking, p.tid)?;
    // Another thread may have closed the descriptor while this one slept: the close
    // released the table's locks on the file before this one was granted, so undo it
    // and say the descriptor is gone, as Linux's `fcntl_setlk` does.
    if kind.is_some() && !ofd {
        let still_open = p
            .files
            .lock()
            .get(fd)
            .is_ok_and(|open| Arc::ptr_eq(open, file));
        if !still_open {
            request.kind = None;
            let _ = locks::set_record(key, &request, false, p.tid);
            return Err(Errno::EBADF);
        }
    }
    Ok(0)
}

/// `flock(fd, operation)`: `LOCK_SH`, `LOCK_EX` or `LOCK_UN`, with `LOCK_NB` not to
/// wait (`EWOULDBLOCK`). The operation is checked before the descriptor, as Linux does;
/// `LOCK_MAND` requests succeed and do nothing, as on Linux since 5.15.
pub fn flock(p: &mut Process, fd: i32, operation: u64) -> SysResult {
    let operation = operation as u32;
    if operation & LOCK_MAND != 0 {
        log::debug!(target: "locks", "flock: LOCK_MAND ignored, as Linux does");
        return Ok(0);
    }
    let kind = match operation & !LOCK_NB {
        LOCK_SH => Some(Kind::Read),
        LOCK_EX => Some(Kind::Write),
        LOCK_UN => None,
        _ => return Err(Errno::EINVAL),
    };
    let file = p.files.lock().get(fd).cloned()?;
    // An `O_PATH` descriptor is no file to lock (Linux's `fdget` refuses it), and a lock
    // needs a descriptor open for reading or writing (not access mode 3).
    let flags = file.flags();
    let no_access = !flags.readable() && !flags.writable();
    if flags.contains(OpenFlags::PATH) || (kind.is_some() && no_access) {
        return Err(Errno::EBADF);
    }
    let owner = locks::description_owner(&file)?;
    let blocking = operation & LOCK_NB == 0;
    locks::set_flock(
        locks::file_key(&file),
        owner,
        p.pid as i32,
        kind,
        blocking,
        p.tid,
    )
    .map(|()| 0)
}
