//! System calls on open file descriptors: I/O, seeking, descriptor juggling, `fcntl`,
//! `ioctl`, directory reading and the f* variants of attribute calls.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use vfs_core::file::{OpenFlags, Whence};
use vfs_core::{Errno, FileType, OpenFile, TimeChange};

use super::{SysResult, read_in, write_out};
use crate::abi::{self, read_u64};
use crate::mm::address_space::Access;
use crate::process::Process;

/// Largest single transfer, as Linux's `MAX_RW_COUNT` (2 GiB less a page).
const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// Bounce buffer size for copying between user memory and files.
const CHUNK: usize = 512 * 1024;
/// `IOV_MAX`.
const IOV_MAX: u64 = 1024;

fn file(p: &Process, fd: i32) -> Result<Arc<OpenFile>, Errno> {
    p.files.get(fd).cloned()
}

/// Reads from `file` into user memory at `buf` in chunks; stops at a short read.
fn read_into_user(
    p: &mut Process,
    buf: u64,
    count: u64,
    mut read: impl FnMut(u64, &mut [u8]) -> Result<usize, Errno>,
) -> SysResult {
    let count = count.min(MAX_RW_COUNT);
    p.mm.check_range(buf, count, Access::Write)?;
    let mut bounce = vec![0u8; (count as usize).min(CHUNK)];
    let mut done = 0u64;
    while done < count {
        let want = ((count - done) as usize).min(bounce.len());
        let got = match read(done, &mut bounce[..want]) {
            Ok(got) => got,
            Err(errno) if done == 0 => return Err(errno),
            Err(_) => break,
        };
        p.mm.write(buf + done, &bounce[..got])?;
        done += got as u64;
        if got < want {
            break;
        }
    }
    Ok(done)
}

fn write_from_user(
    p: &mut Process,
    buf: u64,
    count: u64,
    mut write: impl FnMut(u64, &[u8]) -> Result<usize, Errno>,
) -> SysResult {
    let count = count.min(MAX_RW_COUNT);
    p.mm.check_range(buf, count, Access::Read)?;
    let mut done = 0u64;
    while done < count {
        let want = ((count - done) as usize).min(CHUNK);
        let data = read_in(p, buf + done, want)?;
        let written = match write(done, &data) {
            Ok(written) => written,
            Err(errno) if done == 0 => return Err(errno),
            Err(_) => break,
        };
        done += written as u64;
        if written < want {
            break;
        }
    }
    Ok(done)
}

pub fn read(p: &mut Process, fd: i32, buf: u64, count: u64) -> SysResult {
    let file = file(p, fd)?;
    read_into_user(p, buf, count, |_, chunk| file.read(chunk))
}

pub fn write(p: &mut Process, fd: i32, buf: u64, count: u64) -> SysResult {
    let file = file(p, fd)?;
    write_from_user(p, buf, count, |_, chunk| file.write(chunk))
}

pub fn pread(p: &mut Process, fd: i32, buf: u64, count: u64, offset: u64) -> SysResult {
    let file = file(p, fd)?;
    if (offset as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    read_into_user(p, buf, count, |done, chunk| {
        file.read_at(offset + done, chunk)
    })
}

pub fn pwrite(p: &mut Process, fd: i32, buf: u64, count: u64, offset: u64) -> SysResult {
    let file = file(p, fd)?;
    if (offset as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    write_from_user(p, buf, count, |done, chunk| {
        file.write_at(offset + done, chunk)
    })
}

/// The `struct iovec` array of readv/writev.
fn iovecs(p: &mut Process, address: u64, count: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    p.mm.check_range(address, count * 16, Access::Read)?;
    let raw = read_in(p, address, count as usize * 16)?;
    let vectors: Vec<(u64, u64)> = raw
        .chunks(16)
        .map(|v| (read_u64(v, 0), read_u64(v, 8)))
        .collect();
    if vectors.iter().any(|&(_, len)| (len as i64) < 0) {
        return Err(Errno::EINVAL);
    }
    Ok(vectors)
}

pub fn readv(p: &mut Process, fd: i32, address: u64, count: u64) -> SysResult {
    let file = file(p, fd)?;
    let vectors = iovecs(p, address, count)?;
    for &(base, len) in &vectors {
        p.mm.check_range(base, len, Access::Write)?;
    }
    let mut total = 0;
    for (base, len) in vectors {
        let got = read_into_user(p, base, len, |_, chunk| file.read(chunk));
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

pub fn writev(p: &mut Process, fd: i32, address: u64, count: u64) -> SysResult {
    let file = file(p, fd)?;
    let vectors = iovecs(p, address, count)?;
    for &(base, len) in &vectors {
        p.mm.check_range(base, len, Access::Read)?;
    }
    let mut total = 0;
    for (base, len) in vectors {
        match write_from_user(p, base, len, |_, chunk| file.write(chunk)) {
            Ok(written) => {
                total += written;
                if written < len {
                    break;
                }
            }
            Err(errno) if total == 0 => return Err(errno),
            Err(_) => break,
        }
    }
    Ok(total)
}

pub fn lseek(p: &mut Process, fd: i32, offset: u64, whence: u64) -> SysResult {
    let file = file(p, fd)?;
    let whence = match whence {
        0 => Whence::Set,
        1 => Whence::Current,
        2 => Whence::End,
        _ => return Err(Errno::EINVAL),
    };
    if file.inode().file_type() == FileType::CharDevice {
        return Ok(0); // character devices ignore the offset, as the console does on Linux
    }
    file.seek(offset as i64, whence)
}

pub fn close(p: &mut Process, fd: i32) -> SysResult {
    p.files.remove(fd).map(|_| 0)
}

pub fn dup(p: &mut Process, fd: i32) -> SysResult {
    let file = file(p, fd)?;
    p.files.insert(file, false).map(|fd| fd as u64)
}

pub fn dup3(p: &mut Process, old: i32, new: i32, flags: u64, is_dup3: bool) -> SysResult {
    let close_on_exec = match flags {
        0 => false,
        f if f == u64::from(OpenFlags::CLOEXEC.bits()) => true,
        _ => return Err(Errno::EINVAL),
    };
    p.files
        .duplicate_to(old, new, close_on_exec, is_dup3)
        .map(|fd| fd as u64)
}

const F_DUPFD: u64 = 0;
const F_GETFD: u64 = 1;
const F_SETFD: u64 = 2;
const F_GETFL: u64 = 3;
const F_SETFL: u64 = 4;
const F_GETLK: u64 = 5;
const F_SETLK: u64 = 6;
const F_SETLKW: u64 = 7;
const F_DUPFD_CLOEXEC: u64 = 1030;
const FD_CLOEXEC: u64 = 1;

pub fn fcntl(p: &mut Process, fd: i32, command: u64, argument: u64) -> SysResult {
    let file = file(p, fd)?;
    match command {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let minimum = usize::try_from(argument as i32).map_err(|_| Errno::EINVAL)?;
            p.files
                .insert_from(minimum, file, command == F_DUPFD_CLOEXEC)
                .map(|fd| fd as u64)
        }
        F_GETFD => Ok(if p.files.close_on_exec(fd)? {
            FD_CLOEXEC
        } else {
            0
        }),
        F_SETFD => p
            .files
            .set_close_on_exec(fd, argument & FD_CLOEXEC != 0)
            .map(|()| 0),
        F_GETFL => Ok(u64::from(file.flags().bits())),
        F_SETFL => {
            file.set_status_flags(OpenFlags::from_bits_truncate(argument as u32));
            Ok(0)
        }
        // One process: no other lock holder can exist, so every lock is granted.
        F_GETLK => {
            const F_UNLCK: u16 = 2;
            let mut lock = read_in(p, argument, 32)?;
            lock[..2].copy_from_slice(&F_UNLCK.to_le_bytes());
            write_out(p, argument, &lock).map(|()| 0)
        }
        F_SETLK | F_SETLKW => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

const TCGETS: u64 = 0x5401;
const TCSETS: u64 = 0x5402;
const TCSETSW: u64 = 0x5403;
const TCSETSF: u64 = 0x5404;
const TIOCGPGRP: u64 = 0x540f;
const TIOCSPGRP: u64 = 0x5410;
const TIOCGWINSZ: u64 = 0x5413;
const TIOCSWINSZ: u64 = 0x5414;
const FIONREAD: u64 = 0x541b;
const FIOCLEX: u64 = 0x5451;
const FIONCLEX: u64 = 0x5450;

pub fn ioctl(p: &mut Process, fd: i32, request: u64, argument: u64) -> SysResult {
    let file = file(p, fd)?;
    match request {
        FIOCLEX => return p.files.set_close_on_exec(fd, true).map(|()| 0),
        FIONCLEX => return p.files.set_close_on_exec(fd, false).map(|()| 0),
        _ => {}
    }
    let stat = file.stat()?;
    let terminal =
        stat.file_type() == Some(FileType::CharDevice) && crate::fs::dev::is_terminal(stat.rdev);
    if !terminal {
        return Err(Errno::ENOTTY);
    }
    match request {
        TCGETS => write_out(p, argument, &abi::encode_default_termios()).map(|()| 0),
        TCSETS | TCSETSW | TCSETSF => read_in(p, argument, 36).map(|_| 0),
        TIOCGWINSZ => write_out(p, argument, &abi::encode_winsize(24, 80)).map(|()| 0),
        TIOCSWINSZ => read_in(p, argument, 8).map(|_| 0),
        TIOCGPGRP => write_out(p, argument, &(p.pid as i32).to_le_bytes()).map(|()| 0),
        TIOCSPGRP => read_in(p, argument, 4).map(|_| 0),
        FIONREAD => write_out(p, argument, &0i32.to_le_bytes()).map(|()| 0),
        _ => Err(Errno::ENOTTY),
    }
}

pub fn getdents64(p: &mut Process, fd: i32, buf: u64, count: u64) -> SysResult {
    let file = file(p, fd)?;
    if file.inode().file_type() != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    let capacity = count.min(MAX_RW_COUNT) as usize;
    p.mm.check_range(buf, capacity as u64, Access::Write)?;
    let mut out: Vec<u8> = Vec::new();
    let mut too_small = false;
    file.read_dir(&mut |entry| {
        let record = abi::encode_dirent64(&entry);
        if out.len() + record.len() > capacity {
            too_small = out.is_empty();
            return false;
        }
        out.extend_from_slice(&record);
        true
    })?;
    if too_small {
        return Err(Errno::EINVAL);
    }
    write_out(p, buf, &out)?;
    Ok(out.len() as u64)
}

pub fn fstat(p: &mut Process, fd: i32, address: u64) -> SysResult {
    let stat = file(p, fd)?.stat()?;
    write_out(p, address, &abi::encode_stat(&stat)).map(|()| 0)
}

pub fn fsync(p: &mut Process, fd: i32) -> SysResult {
    file(p, fd)?.inode().fsync().map(|()| 0)
}

pub fn ftruncate(p: &mut Process, fd: i32, length: u64) -> SysResult {
    if (length as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    file(p, fd)?.truncate(length).map(|()| 0)
}

pub fn fstatfs(p: &mut Process, fd: i32, address: u64) -> SysResult {
    let file = file(p, fd)?;
    let location = file.location().clone();
    let statfs = super::paths::statfs_of(&location)?;
    write_out(
        p,
        address,
        &abi::encode_statfs(&statfs, location.mount.fs().dev()),
    )
    .map(|()| 0)
}

pub fn fchmod(p: &mut Process, fd: i32, mode: u64) -> SysResult {
    let location = file(p, fd)?.location().clone();
    p.fs.chmod_location(&location, mode as u32).map(|()| 0)
}

pub fn fchown(p: &mut Process, fd: i32, uid: u64, gid: u64) -> SysResult {
    let location = file(p, fd)?.location().clone();
    p.fs.chown_location(&location, owner_id(uid), owner_id(gid))
        .map(|()| 0)
}

/// `-1` (as a 32-bit value) leaves an id unchanged.
pub(super) fn owner_id(value: u64) -> Option<u32> {
    (value as u32 != u32::MAX).then_some(value as u32)
}

pub fn fchdir(p: &mut Process, fd: i32) -> SysResult {
    let location = file(p, fd)?.location().clone();
    p.fs.chdir(vfs_core::At::Dir(&location), b".").map(|()| 0)
}

/// `utimensat` on an open file (`AT_EMPTY_PATH` or a NULL path).
pub(super) fn futimens(
    p: &mut Process,
    fd: i32,
    times: (Option<TimeChange>, Option<TimeChange>),
) -> SysResult {
    let location = file(p, fd)?.location().clone();
    p.fs.utimens_location(&location, times.0, times.1)
        .map(|()| 0)
}

const POLLIN: u16 = 0x1;
const POLLOUT: u16 = 0x4;
const POLLNVAL: u16 = 0x20;

/// `poll`: files and the console are always ready (reads never block in this kernel), so
/// this reports readiness at once; with nothing ready it sleeps out the timeout.
pub fn poll(p: &mut Process, fds: u64, count: u64, timeout_ms: i64) -> SysResult {
    if count > p.files.limit() as u64 {
        return Err(Errno::EINVAL);
    }
    p.mm.check_range(fds, count * 8, Access::Write)?;
    let mut raw = read_in(p, fds, count as usize * 8)?;
    let mut ready = 0;
    for entry in raw.chunks_mut(8) {
        let fd = i32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
        let events = u16::from_le_bytes([entry[4], entry[5]]);
        let revents = if fd < 0 {
            0
        } else {
            match p.files.get(fd) {
                Ok(_) => events & (POLLIN | POLLOUT),
                Err(_) => POLLNVAL,
            }
        };
        entry[6..8].copy_from_slice(&revents.to_le_bytes());
        if revents != 0 {
            ready += 1;
        }
    }
    if ready == 0 && timeout_ms > 0 {
        crate::clock::spin_for(timeout_ms * 1_000_000);
    }
    if count > 0 {
        write_out(p, fds, &raw)?;
    }
    Ok(ready)
}

pub fn ppoll(
    p: &mut Process,
    fds: u64,
    count: u64,
    timeout: u64,
    sigmask: u64,
    sigset_size: u64,
) -> SysResult {
    if sigmask != 0 {
        if sigset_size != 8 {
            return Err(Errno::EINVAL);
        }
        read_in(p, sigmask, 8)?;
    }
    let timeout_ms = if timeout == 0 {
        -1
    } else {
        super::time::read_timespec_ns(p, timeout)? / 1_000_000
    };
    poll(p, fds, count, timeout_ms)
}
