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
pub(super) use crate::abi::io_args::MAX_RW_COUNT;
/// Bounce buffer size for copying between user memory and files.
pub(super) const CHUNK: usize = 512 * 1024;

pub(super) fn file(p: &Process, fd: i32) -> Result<Arc<OpenFile>, Errno> {
    p.files.lock().get(fd).cloned()
}

/// The thread's bounce buffer, at least `len` bytes: kept between calls and not zeroed
/// again (what it held is this thread's own earlier transfer, and only the bytes a file
/// reports it filled ever reach user memory). Give it back with [`return_bounce`].
fn take_bounce(p: &mut Process, len: usize) -> Vec<u8> {
    let mut bounce = core::mem::take(&mut p.scratch);
    if bounce.len() < len {
        bounce.resize(len, 0);
    }
    bounce
}

/// Keeps `bounce` for the thread's next transfer if its charge covers it.
fn return_bounce(p: &mut Process, bounce: Vec<u8>) {
    if bounce.len() <= super::PREPAID_SCRATCH {
        p.scratch = bounce;
    }
}

/// Reads from `file` into user memory at `buf` in chunks; stops at a short read, and
/// after the first chunk when `once` (a pipe must not block again once it gave data).
pub(super) fn read_into_user(
    p: &mut Process,
    buf: u64,
    count: u64,
    once: bool,
    mut read: impl FnMut(u64, &mut [u8]) -> Result<usize, Errno>,
) -> SysResult {
    let count = count.min(MAX_RW_COUNT);
    p.mm.lock().check_range(buf, count, Access::Write)?;
    // Charged past the prepaid part: a blocked reader holds it, and every process may be one.
    let (bounce_len, _bounce_charge) = super::bounce_size((count as usize).min(CHUNK));
    let mut bounce = take_bounce(p, bounce_len);
    let result = (|| {
        let bounce = &mut bounce[..bounce_len];
        let mut done = 0u64;
        while done < count {
            let want = ((count - done) as usize).min(bounce.len());
            let got = match read(done, &mut bounce[..want]) {
                Ok(got) => got,
                Err(errno) if done == 0 => return Err(errno),
                Err(_) => break,
            };
            p.mm.lock().write(buf + done, &bounce[..got])?;
            done += got as u64;
            if got < want || once {
                break;
            }
        }
        Ok(done)
    })();
    return_bounce(p, bounce);
    result
}

pub(super) fn write_from_user(
    p: &mut Process,
    buf: u64,
    count: u64,
    mut write: impl FnMut(u64, &[u8]) -> Result<usize, Errno>,
) -> SysResult {
    let count = count.min(MAX_RW_COUNT);
    p.mm.lock().check_range(buf, count, Access::Read)?;
    // Charged past the prepaid part: a blocked writer holds it, and every process may be one.
    let (chunk, _bounce_charge) = super::bounce_size((count as usize).min(CHUNK));
    let mut bounce = take_bounce(p, chunk);
    let result = (|| {
        // As `read_in`: nothing is read from the null page.
        if buf == 0 && count > 0 {
            return Err(Errno::EFAULT);
        }
        let mut done = 0u64;
        while done < count {
            let want = ((count - done) as usize).min(chunk);
            let data = &mut bounce[..want];
            p.mm.lock().read(buf + done, data)?;
            let written = match write(done, data) {
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
    })();
    return_bounce(p, bounce);
    result
}

pub fn read(p: &mut Process, fd: i32, buf: u64, count: u64) -> SysResult {
    let file = file(p, fd)?;
    if crate::fs::event::signalfd::signalfd_of(&file).is_some() {
        return read_signalfd(p, &file, &[(buf, count)]);
    }
    if let Some(socket) = crate::net::unix::socket_of(&file).cloned() {
        return super::sockets::read(p, &file, &socket, buf, count);
    }
    let once = file.device().is_some();
    read_into_user(p, buf, count, once, |_, chunk| file.read(chunk))
}

pub fn write(p: &mut Process, fd: i32, buf: u64, count: u64) -> SysResult {
    let file = file(p, fd)?;
    if let Some(socket) = crate::net::unix::socket_of(&file).cloned() {
        return super::sockets::writev(p, &file, &socket, &[(buf, count.min(MAX_RW_COUNT))]);
    }
    let result = write_from_user(p, buf, count, |_, chunk| file.write(chunk));
    changed(&file);
    broken_pipe(p, result)
}

/// After a write or truncate of a regular file: its cached pages are stale.
pub(super) fn changed(file: &OpenFile) {
    if file.inode().file_type() == FileType::Regular {
        crate::mm::page_cache::forget(file.inode());
    }
}

/// A write to a pipe with no reader left: `EPIPE`, and `SIGPIPE` for the writer, delivered
/// on the call's way out (its default action ends the writer, status 141 from a shell; a
/// handler runs; an ignored one is dropped). The init is spared the default action, as
/// Linux spares a namespace's init a signal it has no handler for.
pub(super) fn broken_pipe(p: &mut Process, result: SysResult) -> SysResult {
    const SIGPIPE: u8 = 13;
    if result == Err(Errno::EPIPE) {
        let handled = p.signals.handled_mask() & crate::process::signal::bit(SIGPIPE) != 0;
        if p.pid != crate::task::table::INIT_PID || handled {
            let info = crate::process::signal::SigInfo::user(SIGPIPE, p.pid, p.ids.uid);
            p.signals.raise(info);
        }
    }
    result
}

/// A signalfd read into the buffers `vectors` (`read`, `readv`): it needs the reader's
/// signal state, so it is served here rather than by the file.
pub(super) fn read_signalfd(p: &mut Process, file: &OpenFile, vectors: &[(u64, u64)]) -> SysResult {
    let total = vectors
        .iter()
        .fold(0u64, |total, &(_, len)| total.saturating_add(len))
        .min(MAX_RW_COUNT);
    let records = super::events::read_signalfd(p, file, total)?;
    let mut done = 0;
    for &(base, len) in vectors {
        if done == records.len() {
            break;
        }
        let part = (len as usize).min(records.len() - done);
        write_out(p, base, &records[done..done + part])?;
        done += part;
    }
    Ok(done as u64)
}

/// `pread`/`pwrite` on a file that has no position (a pipe, a FIFO, an event file:
/// Linux's `FMODE_PREAD` missing): `ESPIPE`.
pub(super) fn check_positional(file: &OpenFile) -> Result<(), Errno> {
    if crate::fs::event::is_event_file(file) {
        return Err(Errno::ESPIPE);
    }
    check_seekable(file)
}

/// `pread`/`pwrite` and `lseek` on a pipe, FIFO or socket: `ESPIPE`.
pub(super) fn check_seekable(file: &OpenFile) -> Result<(), Errno> {
    if matches!(file.inode().file_type(), FileType::Fifo | FileType::Socket) {
        Err(Errno::ESPIPE)
    } else {
        Ok(())
    }
}

pub fn pread(p: &mut Process, fd: i32, buf: u64, count: u64, offset: u64) -> SysResult {
    // `ksys_pread64`: the offset before the descriptor.
    if (offset as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let file = file(p, fd)?;
    check_positional(&file)?;
    read_into_user(p, buf, count, false, |done, chunk| {
        file.read_at(offset + done, chunk)
    })
}

pub fn pwrite(p: &mut Process, fd: i32, buf: u64, count: u64, offset: u64) -> SysResult {
    if (offset as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let file = file(p, fd)?;
    check_positional(&file)?;
    let result = write_from_user(p, buf, count, |done, chunk| {
        file.write_at(offset + done, chunk)
    });
    changed(&file);
    result
}

pub fn lseek(p: &mut Process, fd: i32, offset: u64, whence: u64) -> SysResult {
    let file = file(p, fd)?;
    let whence = match whence {
        0 => Whence::Set,
        1 => Whence::Current,
        2 => Whence::End,
        3 => Whence::Data,
        4 => Whence::Hole,
        _ => return Err(Errno::EINVAL),
    };
    check_seekable(&file)?;
    if file.inode().file_type() == FileType::CharDevice {
        return Ok(0); // character devices ignore the offset, as the console does on Linux
    }
    file.seek(offset as i64, whence)
}

pub fn close(p: &mut Process, fd: i32) -> SysResult {
    let (file, lock_owner) = {
        let mut files = p.files.lock();
        (files.remove(fd)?, files.lock_owner())
    };
    // POSIX's rule: any close of the file releases the process's record locks on it.
    crate::fs::locks::descriptor_closed(lock_owner, &file);
    Ok(0)
}

pub fn dup(p: &mut Process, fd: i32) -> SysResult {
    let file = file(p, fd)?;
    p.files.lock().insert(file, false).map(|fd| fd as u64)
}

pub fn dup3(p: &mut Process, old: i32, new: i32, flags: u64, is_dup3: bool) -> SysResult {
    let close_on_exec = match flags {
        0 => false,
        f if f == u64::from(OpenFlags::CLOEXEC.bits()) => true,
        _ => return Err(Errno::EINVAL),
    };
    let (replaced, lock_owner) = {
        let mut files = p.files.lock();
        let replaced = if old != new {
            files.get(new).ok().cloned()
        } else {
            None
        };
        files.duplicate_to(old, new, close_on_exec, is_dup3)?;
        (replaced, files.lock_owner())
    };
    // The descriptor `new` held is closed: its file's record locks go (POSIX's rule).
    if let Some(replaced) = replaced {
        crate::fs::locks::descriptor_closed(lock_owner, &replaced);
    }
    Ok(new as u64)
}

const F_DUPFD: u64 = 0;
const F_GETFD: u64 = 1;
const F_SETFD: u64 = 2;
const F_GETFL: u64 = 3;
const F_SETFL: u64 = 4;
const F_DUPFD_CLOEXEC: u64 = 1030;
const F_SETPIPE_SZ: u64 = 1031;
const F_GETPIPE_SZ: u64 = 1032;
const F_ADD_SEALS: u64 = 1033;
const F_GET_SEALS: u64 = 1034;
const FD_CLOEXEC: u64 = 1;

pub fn fcntl(p: &mut Process, fd: i32, command: u64, argument: u64) -> SysResult {
    let file = file(p, fd)?;
    match command {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let minimum = usize::try_from(argument as i32).map_err(|_| Errno::EINVAL)?;
            p.files
                .lock()
                .insert_from(minimum, file, command == F_DUPFD_CLOEXEC)
                .map(|fd| fd as u64)
        }
        F_GETFD => Ok(if p.files.lock().close_on_exec(fd)? {
            FD_CLOEXEC
        } else {
            0
        }),
        F_SETFD => p
            .files
            .lock()
            .set_close_on_exec(fd, argument & FD_CLOEXEC != 0)
            .map(|()| 0),
        F_GETFL => Ok(u64::from(file.flags().bits())),
        F_SETFL => {
            file.set_status_flags(OpenFlags::from_bits_truncate(argument as u32));
            Ok(0)
        }
        command if super::locks::is_lock_command(command) => {
            super::locks::fcntl(p, fd, &file, command, argument)
        }
        F_GETPIPE_SZ | F_SETPIPE_SZ => {
            let end = crate::fs::pipe::pipe_end(&file).ok_or(Errno::EBADF)?;
            if command == F_GETPIPE_SZ {
                return Ok(end.capacity() as u64);
            }
            // The argument is an `unsigned int`; privilege is `CAP_SYS_RESOURCE` (root).
            let requested = usize::try_from(argument as u32).map_err(|_| Errno::EINVAL)?;
            end.set_capacity(
                requested,
                p.capable(vfs_core::cap::SYS_RESOURCE),
                pipe_owner(p),
            )
            .map(|size| size as u64)
        }
        // File seals (memfd and tmpfs files): Linux's `memfd_add_seals` checks the
        // descriptor's write access, then the seal bits, then whether the file can be
        // sealed at all; the argument is an `unsigned int`.
        F_ADD_SEALS => {
            if !file.flags().writable() {
                return Err(Errno::EPERM);
            }
            let seals = argument as u32;
            if seals & !vfs_core::mapping::seal::ALL != 0 {
                return Err(Errno::EINVAL);
            }
            file.inode().add_seals(seals).map(|()| 0)
        }
        F_GET_SEALS => file.inode().seals().map(u64::from),
        _ => Err(Errno::EINVAL),
    }
}

const FIONREAD: u64 = 0x541b;
const FIONBIO: u64 = 0x5421;
const FIOCLEX: u64 = 0x5451;
const FIONCLEX: u64 = 0x5450;

pub fn ioctl(p: &mut Process, fd: i32, request: u64, argument: u64) -> SysResult {
    // The request is an `unsigned int` (libc's `ioctl(int, int, …)` sign-extends one
    // with the top bit set, such as `TIOCGPTN`).
    let request = request & 0xffff_ffff;
    let file = file(p, fd)?;
    match request {
        FIOCLEX => return p.files.lock().set_close_on_exec(fd, true).map(|()| 0),
        FIONCLEX => return p.files.lock().set_close_on_exec(fd, false).map(|()| 0),
        // Any file: `O_NONBLOCK` on or off (Linux's `ioctl_fionbio`).
        FIONBIO => {
            let raw = read_in(p, argument, 4)?;
            let on = i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) != 0;
            let mut flags = file.flags();
            flags.set(OpenFlags::NONBLOCK, on);
            file.set_status_flags(flags);
            return Ok(0);
        }
        // A regular file: the bytes between the offset and the end (negative past it).
        FIONREAD if file.inode().file_type() == FileType::Regular => {
            let size = file.stat()?.size as i64;
            let waiting = (size - file.position() as i64) as i32;
            return write_out(p, argument, &waiting.to_le_bytes()).map(|()| 0);
        }
        _ => {}
    }
    if let Some(socket) = crate::net::unix::socket_of(&file).cloned()
        && let Some(result) = super::sockets::ioctl(p, &socket, request, argument)
    {
        return result;
    }
    if let (FIONREAD, Some(end)) = (request, crate::fs::pipe::pipe_end(&file)) {
        let waiting = end.waiting() as i32;
        return write_out(p, argument, &waiting.to_le_bytes()).map(|()| 0);
    }
    if let (FIONREAD, Some(stdin)) = (request, crate::tty::console::stdin_file(&file)) {
        let waiting = stdin.waiting() as i32;
        return write_out(p, argument, &waiting.to_le_bytes()).map(|()| 0);
    }
    match crate::tty::file::tty_file(&file) {
        Some(tty) => super::tty::ioctl(p, &file, tty, request, argument),
        None => Err(Errno::ENOTTY),
    }
}

pub fn getdents64(p: &mut Process, fd: i32, buf: u64, count: u64) -> SysResult {
    let file = file(p, fd)?;
    if file.inode().file_type() != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    let capacity = count.min(MAX_RW_COUNT) as usize;
    p.mm.lock()
        .check_range(buf, capacity as u64, Access::Write)?;
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

pub fn ftruncate(p: &mut Process, fd: i32, length: u64) -> SysResult {
    if (length as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let file = file(p, fd)?;
    let before = file.stat().map_or(0, |stat| stat.size);
    let result = file.truncate(length);
    changed(&file);
    // Pages cut off the end leave the mappings that hold them.
    if result.is_ok() && length < before {
        super::memory::file_pages_changed(file.inode());
    }
    result.map(|()| 0)
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
    p.fs_context()
        .chmod_location(&location, mode as u32)
        .map(|()| 0)
}

pub fn fchown(p: &mut Process, fd: i32, uid: u64, gid: u64) -> SysResult {
    let location = file(p, fd)?.location().clone();
    p.fs_context()
        .chown_location(&location, owner_id(uid), owner_id(gid))
        .map(|()| 0)
}

/// `-1` (as a 32-bit value) leaves an id unchanged.
pub(super) fn owner_id(value: u64) -> Option<u32> {
    (value as u32 != u32::MAX).then_some(value as u32)
}

pub fn fchdir(p: &mut Process, fd: i32) -> SysResult {
    let location = file(p, fd)?.location().clone();
    let mut fs = p.fs_context();
    fs.chdir(vfs_core::At::Dir(&location), b".")?;
    p.fs.lock().cwd = fs.cwd;
    Ok(0)
}

/// `utimensat` on an open file (`AT_EMPTY_PATH` or a NULL path).
pub(super) fn futimens(
    p: &mut Process,
    fd: i32,
    times: (Option<TimeChange>, Option<TimeChange>),
) -> SysResult {
    let location = file(p, fd)?.location().clone();
    p.fs_context()
        .utimens_location(&location, times.0, times.1)
        .map(|()| 0)
}

use crate::fs::poll::{
    POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI, POLLRDNORM, POLLWRNORM, pollable,
    readiness,
};

/// The waiting half of `poll` and `select`: runs `scan` (which counts what is ready now)
/// until it finds something, the monotonic `deadline` passes (`None`: never), or a signal
/// arrives (`EINTR`; `own_signal`: the process raised one itself that it does not block).
/// Sleeps on every pollable file among `files` and on the clock in between.
fn wait_ready(
    tid: u32,
    own_signal: bool,
    files: &[Arc<OpenFile>],
    deadline: Option<i64>,
    mut scan: impl FnMut() -> u64,
) -> SysResult {
    loop {
        // An epoll among the files may watch a signalfd: signals sent tell it now.
        crate::fs::event::signal_source::flush();
        let ready = scan();
        if ready > 0 {
            return Ok(ready);
        }
        if deadline.is_some_and(|deadline| crate::clock::monotonic_ns() >= deadline) {
            return Ok(0);
        }
        if own_signal || crate::task::lifecycle::has_pending_signal(tid) {
            return Err(Errno::EINTR);
        }
        let queues: Vec<_> = files
            .iter()
            .filter_map(|file| pollable(file))
            .map(|file| file.wait_queue())
            .collect();
        for queue in &queues {
            queue.prepare();
        }
        match deadline {
            Some(deadline) => crate::task::scheduler::sleep_until(deadline),
            None => crate::task::scheduler::block(),
        }
        for queue in &queues {
            queue.cancel();
        }
    }
}

/// A deadline `ns` from now; `None` (wait for ever) for a negative `ns`.
fn deadline_after(ns: Option<i64>) -> Option<i64> {
    ns.map(|ns| crate::clock::monotonic_ns().saturating_add(ns))
}

/// What is left of a deadline, for the calls that write the remaining time back.
fn remaining(deadline: i64) -> i64 {
    (deadline - crate::clock::monotonic_ns()).max(0)
}

/// `poll`: each entry's `revents` is what its file is ready for among `events`, plus
/// `POLLERR`/`POLLHUP` always and `POLLNVAL` for a descriptor that is not open.
fn poll_deadline(p: &mut Process, fds: u64, count: u64, deadline: Option<i64>) -> SysResult {
    if count > p.files.lock().limit() as u64 {
        return Err(Errno::EINVAL);
    }
    p.mm.lock().check_range(fds, count * 8, Access::Write)?;
    // The entries and the files watched, held while it sleeps.
    let _scratch = super::scratch(count as usize * 48)?;
    let mut raw = read_in(p, fds, count as usize * 8)?;
    let entries: Vec<(Option<Arc<OpenFile>>, i32, u16)> = raw
        .chunks(8)
        .map(|entry| {
            let fd = i32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
            let events = u16::from_le_bytes([entry[4], entry[5]]);
            let file = (fd >= 0)
                .then(|| p.files.lock().get(fd).ok().cloned())
                .flatten();
            (file, fd, events)
        })
        .collect();
    let files: Vec<Arc<OpenFile>> = entries.iter().filter_map(|e| e.0.clone()).collect();
    crate::fs::event::signal_source::publish(p);
    let own_signal = p.signals.has_deliverable() || p.pending_termination.is_some();
    let result = wait_ready(p.tid, own_signal, &files, deadline, || {
        let mut ready = 0;
        for (entry, (file, fd, events)) in raw.chunks_mut(8).zip(&entries) {
            let revents = match file {
                _ if *fd < 0 => 0,
                Some(file) => readiness(file) & (events | POLLERR | POLLHUP),
                None => POLLNVAL,
            };
            entry[6..8].copy_from_slice(&revents.to_le_bytes());
            if revents != 0 {
                ready += 1;
            }
        }
        ready
    });
    if count > 0 && result.is_ok() {
        write_out(p, fds, &raw)?;
    }
    result
}

pub fn poll(p: &mut Process, fds: u64, count: u64, timeout_ms: i64) -> SysResult {
    let ns = (timeout_ms >= 0).then(|| timeout_ms.saturating_mul(1_000_000));
    poll_deadline(p, fds, count, deadline_after(ns))
}

/// Writes the time left back into a user `timespec` (`usec`: a `timeval`), as Linux does.
fn write_remaining(p: &mut Process, address: u64, deadline: Option<i64>, usec: bool) {
    if let Some(deadline) = deadline {
        let left = remaining(deadline);
        let fraction = if usec {
            (left % 1_000_000_000) / 1000
        } else {
            left % 1_000_000_000
        };
        let mut out = Vec::with_capacity(16);
        out.extend_from_slice(&(left / 1_000_000_000).to_le_bytes());
        out.extend_from_slice(&fraction.to_le_bytes());
        let _ = write_out(p, address, &out);
    }
}

pub fn ppoll(
    p: &mut Process,
    fds: u64,
    count: u64,
    timeout: u64,
    sigmask: u64,
    sigset_size: u64,
) -> SysResult {
    let deadline = if timeout == 0 {
        None
    } else {
        deadline_after(Some(super::time::read_timespec_ns(p, timeout)?))
    };
    // The mask holds for the wait (`set_user_sigmask`).
    let result = super::events::with_sigmask(p, sigmask, sigset_size, |p| {
        poll_deadline(p, fds, count, deadline)
    });
    if timeout != 0 {
        write_remaining(p, timeout, deadline, false);
    }
    result
}

/// `select`'s sets as `poll` sees them (Linux's `POLLIN_SET`, `POLLOUT_SET`, `POLLEX_SET`).
const SELECT_READ: u16 = POLLIN | POLLRDNORM | POLLHUP | POLLERR;
const SELECT_WRITE: u16 = POLLOUT | POLLWRNORM | POLLERR;
const SELECT_EXCEPT: u16 = POLLPRI;

/// `select` and `pselect6` with a deadline: the three descriptor sets are read, replaced
/// by the ready descriptors, and the count of set bits returned. A set descriptor that is
/// not open is `EBADF`.
fn select_deadline(p: &mut Process, nfds: u64, sets: [u64; 3], deadline: Option<i64>) -> SysResult {
    let nfds = i32::try_from(nfds as i64).map_err(|_| Errno::EINVAL)?;
    if nfds < 0 {
        return Err(Errno::EINVAL);
    }
    let nfds = (nfds as usize).min(p.files.lock().limit());
    let bytes = nfds.div_ceil(64) * 8;
    // The sets and the files watched, held while it sleeps.
    let _scratch = super::scratch(6 * bytes + nfds * 24)?;
    let mut bits: [Vec<u8>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for (set, address) in bits.iter_mut().zip(sets) {
        if address != 0 {
            *set = read_in(p, address, bytes)?;
        }
    }
    let is_set = |set: &[u8], fd: usize| !set.is_empty() && set[fd / 8] & (1 << (fd % 8)) != 0;
    let mut watched: Vec<(usize, Arc<OpenFile>)> = Vec::new();
    for fd in 0..nfds {
        if bits.iter().any(|set| is_set(set, fd)) {
            watched.push((
                fd,
                p.files
                    .lock()
                    .get(fd as i32)
                    .map_err(|_| Errno::EBADF)?
                    .clone(),
            ));
        }
    }
    let files: Vec<Arc<OpenFile>> = watched.iter().map(|(_, file)| file.clone()).collect();
    let mut out: [Vec<u8>; 3] = [
        vec![0; bits[0].len()],
        vec![0; bits[1].len()],
        vec![0; bits[2].len()],
    ];
    crate::fs::event::signal_source::publish(p);
    let own_signal = p.signals.has_deliverable() || p.pending_termination.is_some();
    let result = wait_ready(p.tid, own_signal, &files, deadline, || {
        let mut ready = 0;
        for set in out.iter_mut() {
            set.fill(0);
        }
        for (fd, file) in &watched {
            let mask = readiness(file);
            for (which, wanted) in [SELECT_READ, SELECT_WRITE, SELECT_EXCEPT]
                .into_iter()
                .enumerate()
            {
                if is_set(&bits[which], *fd) && mask & wanted != 0 {
                    out[which][fd / 8] |= 1 << (fd % 8);
                    ready += 1;
                }
            }
        }
        ready
    });
    if result.is_ok() {
        for (set, address) in out.iter().zip(sets) {
            if address != 0 {
                write_out(p, address, set)?;
            }
        }
    }
    result
}

pub fn select(p: &mut Process, nfds: u64, sets: [u64; 3], timeout: u64) -> SysResult {
    let deadline = if timeout == 0 {
        None
    } else {
        let raw = read_in(p, timeout, 16)?;
        let (sec, usec) = (read_u64(&raw, 0) as i64, read_u64(&raw, 8) as i64);
        if sec < 0 || !(0..1_000_000).contains(&usec) {
            return Err(Errno::EINVAL);
        }
        deadline_after(Some(
            sec.saturating_mul(1_000_000_000)
                .saturating_add(usec * 1000),
        ))
    };
    let result = select_deadline(p, nfds, sets, deadline);
    if timeout != 0 {
        write_remaining(p, timeout, deadline, true);
    }
    result
}

/// `pselect6`: a `timespec`, and a sixth argument pointing at `{ sigset pointer, size }`.
pub fn pselect6(
    p: &mut Process,
    nfds: u64,
    sets: [u64; 3],
    timeout: u64,
    sigmask: u64,
) -> SysResult {
    let (mask, mask_size) = if sigmask != 0 {
        let raw = read_in(p, sigmask, 16)?;
        (read_u64(&raw, 0), read_u64(&raw, 8))
    } else {
        (0, 0)
    };
    let deadline = if timeout == 0 {
        None
    } else {
        deadline_after(Some(super::time::read_timespec_ns(p, timeout)?))
    };
    // The mask holds for the wait (`set_user_sigmask`).
    let result = super::events::with_sigmask(p, mask, mask_size, |p| {
        select_deadline(p, nfds, sets, deadline)
    });
    if timeout != 0 {
        write_remaining(p, timeout, deadline, false);
    }
    result
}

/// `p` as the pipe user limits see it (`fs.pipe-user-pages-*`): its real uid, and
/// whether it holds `CAP_SYS_RESOURCE` or `CAP_SYS_ADMIN`.
fn pipe_owner(p: &Process) -> crate::fs::pipe::accounting::Owner {
    crate::fs::pipe::accounting::Owner {
        uid: p.ids.uid,
        privileged: p.capable(vfs_core::cap::SYS_RESOURCE) || p.capable(vfs_core::cap::SYS_ADMIN),
    }
}

/// `pipe` and `pipe2`: a new pipe's read and write descriptors, stored as two `int`s at
/// `fds`. Flags: `O_CLOEXEC`, `O_NONBLOCK`, `O_DIRECT` (packet mode); others `EINVAL`.
pub fn pipe2(p: &mut Process, fds: u64, flags: u64) -> SysResult {
    let allowed = OpenFlags::CLOEXEC | OpenFlags::NONBLOCK | OpenFlags::DIRECT;
    let flags = u32::try_from(flags)
        .ok()
        .and_then(OpenFlags::from_bits)
        .filter(|flags| allowed.contains(*flags))
        .ok_or(Errno::EINVAL)?;
    p.mm.lock().check_range(fds, 8, Access::Write)?;
    let owner = pipe_owner(p);
    let (reader, writer) = crate::fs::pipe::new_pipe(&p.fs.lock().cred, flags, Some(owner))?;
    let close_on_exec = flags.contains(OpenFlags::CLOEXEC);
    let (read_fd, write_fd) = {
        let mut files = p.files.lock();
        let read_fd = files.insert(reader, close_on_exec)?;
        match files.insert(writer, close_on_exec) {
            Ok(write_fd) => (read_fd, write_fd),
            Err(errno) => {
                let _ = files.remove(read_fd);
                return Err(errno);
            }
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&read_fd.to_le_bytes());
    out[4..].copy_from_slice(&write_fd.to_le_bytes());
    if let Err(errno) = write_out(p, fds, &out) {
        let mut files = p.files.lock();
        let _ = files.remove(read_fd);
        let _ = files.remove(write_fd);
        return Err(errno);
    }
    Ok(0)
}
