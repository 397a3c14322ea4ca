//! The pipe as processes meet it: reads that sleep while it is empty and a writer exists,
//! writes that sleep while it is full and a reader exists, end of file, `EPIPE`, `EAGAIN`
//! for non-blocking ends, `EINTR` when a signal arrives, and FIFO opens that wait for the
//! other side.
//!
//! Every change to a pipe (bytes in or out, an end opened or closed, a new size) wakes
//! everything sleeping on its one queue: readers, writers, openers and `poll`; each checks
//! its condition again. No spin lock is held while a thread sleeps.

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use core::any::Any;

use spin::{Mutex, Once};
use vfs_core::anon::AnonFs;
use vfs_core::file::DeviceFile;
use vfs_core::{Credentials, Errno, NewNode, NodeKind, OpenFile, OpenFlags, Result, Stat};

use super::accounting::{Owner, PIPE_USERS, PipeAccount};
use super::buffer::{PIPE_BUF, PipeBuffer};
use crate::task::{WaitQueue, lifecycle, scheduler};

use crate::fs::poll::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, Pollable};

struct State {
    buffer: PipeBuffer,
    /// Its pages on its maker's account (none for the kernel's own pipes).
    account: Option<PipeAccount>,
    readers: usize,
    writers: usize,
    /// How many times a reader / a writer has opened it (Linux's `r_counter`,
    /// `w_counter`): a FIFO open waits for the other's count to move.
    reader_opens: u64,
    writer_opens: u64,
}

pub struct Pipe {
    state: Mutex<State>,
    events: WaitQueue,
}

impl Pipe {
    /// A pipe made by `owner` (`None`: by the kernel, unaccounted): sixteen pages, fewer
    /// past the owner's soft limit, `ENFILE` past the hard one.
    fn new(packet_mode: bool, owner: Option<Owner>) -> Result<Arc<Pipe>> {
        let mut buffer = PipeBuffer::new(packet_mode, crate::mm::budget::budget().empty_charge());
        let account = owner.map(|owner| PIPE_USERS.open(owner)).transpose()?;
        if let Some(account) = &account {
            buffer.set_capacity(account.pages() as usize * vfs_core::PAGE_SIZE, true)?;
        }
        Ok(Arc::new(Pipe {
            state: Mutex::new(State {
                buffer,
                account,
                readers: 0,
                writers: 0,
                reader_opens: 0,
                writer_opens: 0,
            }),
            events: WaitQueue::new(),
        }))
    }

    /// Sleeps until the pipe changes (the caller saw its condition unmet and holds no
    /// lock); `EINTR` if a signal is pending, before sleeping or on waking.
    fn sleep(&self) -> Result<()> {
        if interrupted() {
            return Err(Errno::EINTR);
        }
        self.events.prepare();
        scheduler::block();
        self.events.cancel();
        if interrupted() {
            return Err(Errno::EINTR);
        }
        Ok(())
    }

    fn read(&self, out: &mut [u8], flags: OpenFlags) -> Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            {
                let mut state = self.state.lock();
                let read = state.buffer.read(out);
                if read > 0 {
                    drop(state);
                    self.events.wake_all();
                    return Ok(read);
                }
                if state.writers == 0 {
                    return Ok(0);
                }
            }
            if flags.contains(OpenFlags::NONBLOCK) {
                return Err(Errno::EAGAIN);
            }
            self.sleep()?;
        }
    }

    /// Writes all of `data` (blocking) or what fits (non-blocking; all or nothing up to
    /// `PIPE_BUF`). `EPIPE` with no reader left: the caller raises `SIGPIPE`.
    fn write(&self, data: &[u8], flags: OpenFlags) -> Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let mut done = 0;
        loop {
            let written = {
                let mut state = self.state.lock();
                if state.readers == 0 {
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EPIPE)
                    };
                }
                match state.buffer.write(&data[done..]) {
                    Ok(written) => written,
                    Err(errno) if done == 0 => return Err(errno),
                    Err(_) => return Ok(done),
                }
            };
            if written > 0 {
                self.events.wake_all();
            }
            done += written;
            if done == data.len() {
                return Ok(done);
            }
            if flags.contains(OpenFlags::NONBLOCK) {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EAGAIN)
                };
            }
            if let Err(errno) = self.sleep() {
                return if done > 0 { Ok(done) } else { Err(errno) };
            }
        }
    }
}

/// Whether a signal waits for the running process (its blocking call gives up).
fn interrupted() -> bool {
    lifecycle::current_tid().is_some_and(lifecycle::has_pending_signal)
}

/// One open end of a pipe (both, for a FIFO opened `O_RDWR`): the `DeviceFile` behind
/// the open file. Closing the last description drops it, and the pipe learns the end left.
pub struct PipeEnd {
    pipe: Arc<Pipe>,
    reads: bool,
    writes: bool,
    /// For a FIFO read end opened non-blocking with no writer, the writers' open count
    /// then (Linux's `f_version`), else 0: it sees no `POLLHUP` until a writer has come.
    writer_opens_at_open: u64,
}

/// The ends a pipe had right after an open counted itself: (readers, reader opens,
/// writers, writer opens).
type Counts = (usize, u64, usize, u64);

impl PipeEnd {
    fn open(pipe: &Arc<Pipe>, reads: bool, writes: bool) -> PipeEnd {
        Self::open_counted(pipe, reads, writes).0
    }

    /// [`PipeEnd::open`], and the counts as this open left them, read in the same breath:
    /// a FIFO open decides whether to wait for its partner from these, so a partner on
    /// another CPU that comes and goes in between is still seen to have come.
    fn open_counted(pipe: &Arc<Pipe>, reads: bool, writes: bool) -> (PipeEnd, Counts) {
        let counts = {
            let mut state = pipe.state.lock();
            if reads {
                state.readers += 1;
                state.reader_opens += 1;
            }
            if writes {
                state.writers += 1;
                state.writer_opens += 1;
            }
            (
                state.readers,
                state.reader_opens,
                state.writers,
                state.writer_opens,
            )
        };
        pipe.events.wake_all();
        let end = PipeEnd {
            pipe: pipe.clone(),
            reads,
            writes,
            writer_opens_at_open: 0,
        };
        (end, counts)
    }

    /// What `poll` reports for this end (Linux's `pipe_poll`).
    fn readiness(&self) -> u16 {
        let state = self.pipe.state.lock();
        let mut mask = 0;
        if self.reads {
            if !state.buffer.is_empty() {
                mask |= POLLIN | POLLRDNORM;
            }
            if state.writers == 0 && state.writer_opens != self.writer_opens_at_open {
                mask |= POLLHUP;
            }
        }
        if self.writes {
            if state.buffer.space() >= PIPE_BUF.min(state.buffer.capacity()) {
                mask |= POLLOUT | POLLWRNORM;
            }
            if state.readers == 0 {
                mask |= POLLERR;
            }
        }
        mask
    }

    /// `FIONREAD`: bytes waiting.
    pub fn waiting(&self) -> usize {
        self.pipe.state.lock().buffer.len()
    }

    /// `F_GETPIPE_SZ`.
    pub fn capacity(&self) -> usize {
        self.pipe.state.lock().buffer.capacity()
    }

    /// `F_SETPIPE_SZ` by a caller who may (`resource`: `CAP_SYS_RESOURCE`) exceed
    /// `pipe-max-size`, and is (`caller`) bound or not by the pipe user limits: the new
    /// capacity. Errors in Linux's order: the size (`EINVAL`, `EPERM`), the maker's
    /// account (`EPERM`), the bytes held (`EBUSY`, the account restored).
    pub fn set_capacity(&self, requested: usize, resource: bool, caller: Owner) -> Result<usize> {
        let capacity = {
            let mut state = self.pipe.state.lock();
            let capacity = PipeBuffer::capacity_for(requested, resource)?;
            let pages = (capacity / vfs_core::PAGE_SIZE) as u64;
            let before = state.account.as_ref().map(PipeAccount::pages);
            if let Some(account) = &mut state.account {
                account.resize(pages, caller.privileged)?;
            }
            match state.buffer.set_capacity(requested, resource) {
                Ok(capacity) => capacity,
                Err(errno) => {
                    if let (Some(account), Some(before)) = (&mut state.account, before) {
                        // Back to what it held: shrinking or equal, never refused.
                        let _ = account.resize(before, true);
                    }
                    return Err(errno);
                }
            }
        };
        self.pipe.events.wake_all();
        Ok(capacity)
    }

    /// Sleeps until the other side's open count moves past `seen` (a FIFO open waiting
    /// for its partner). `EINTR` on a signal.
    fn wait_for_partner(&self, partner_opens: impl Fn(&State) -> u64, seen: u64) -> Result<()> {
        loop {
            if partner_opens(&self.pipe.state.lock()) != seen {
                return Ok(());
            }
            self.pipe.sleep()?;
        }
    }
}

/// What `splice`, `tee`, `vmsplice` and `sendfile` do with a pipe: they wait as Linux's
/// `splice` waits (`ipipe_prep`, `wait_for_space`), then move bytes without sleeping, so
/// that no lock of the pipe is held while the other end of the transfer (a file, a
/// socket) is read or written.
impl PipeEnd {
    /// Waits for bytes: `true` once there are some, `false` when there are none and no
    /// writer is left (end of file); `EAGAIN` if `nonblock`, `EINTR` on a signal.
    pub fn wait_readable(&self, nonblock: bool) -> Result<bool> {
        loop {
            {
                let state = self.pipe.state.lock();
                if !state.buffer.is_empty() {
                    return Ok(true);
                }
                if state.writers == 0 {
                    return Ok(false);
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            self.pipe.sleep()?;
        }
    }

    /// Waits for room: `EPIPE` with no reader (the caller raises `SIGPIPE`), `EAGAIN` if
    /// `nonblock`, `EINTR` on a signal.
    pub fn wait_writable(&self, nonblock: bool) -> Result<()> {
        loop {
            {
                let state = self.pipe.state.lock();
                if state.readers == 0 {
                    return Err(Errno::EPIPE);
                }
                if state.buffer.space() > 0 {
                    return Ok(());
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            self.pipe.sleep()?;
        }
    }

    /// Moves up to `out.len()` bytes out without waiting (from one packet in packet
    /// mode, whose rest stays).
    pub fn take(&self, out: &mut [u8]) -> usize {
        let taken = self.pipe.state.lock().buffer.take(out);
        if taken > 0 {
            self.pipe.events.wake_all();
        }
        taken
    }

    /// Copies up to `out.len()` bytes without taking them (`tee`).
    pub fn peek(&self, out: &mut [u8]) -> usize {
        self.pipe.state.lock().buffer.peek(out)
    }

    /// Puts back in front what [`PipeEnd::take`] gave and the destination refused.
    pub fn unread(&self, data: &[u8]) -> Result<()> {
        self.pipe.state.lock().buffer.unread(data)?;
        self.pipe.events.wake_all();
        Ok(())
    }

    /// Appends all of `data`, even past the capacity (see [`PipeBuffer::push`]); `EPIPE`
    /// with no reader, `ENOMEM` when the budget refuses.
    pub fn push(&self, data: &[u8]) -> Result<()> {
        {
            let mut state = self.pipe.state.lock();
            if state.readers == 0 {
                return Err(Errno::EPIPE);
            }
            state.buffer.push(data)?;
        }
        self.pipe.events.wake_all();
        Ok(())
    }

    /// Bytes that fit now.
    pub fn room(&self) -> usize {
        self.pipe.state.lock().buffer.space()
    }

    /// Whether `other` is an end of the same pipe (`splice` and `tee` refuse that).
    pub fn same_pipe(&self, other: &PipeEnd) -> bool {
        Arc::ptr_eq(&self.pipe, &other.pipe)
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        {
            let mut state = self.pipe.state.lock();
            if self.reads {
                state.readers -= 1;
            }
            if self.writes {
                state.writers -= 1;
            }
        }
        self.pipe.events.wake_all();
    }
}

impl DeviceFile for PipeEnd {
    fn read(&self, _offset: u64, buf: &mut [u8], flags: OpenFlags) -> Result<usize> {
        self.pipe.read(buf, flags)
    }

    fn write(&self, _offset: u64, buf: &[u8], flags: OpenFlags) -> Result<usize> {
        self.pipe.write(buf, flags)
    }
}

/// The pipe end behind an open file, if it is one.
pub fn pipe_end(file: &OpenFile) -> Option<&PipeEnd> {
    let device: &dyn Any = &**file.device()?;
    device.downcast_ref::<PipeEnd>()
}

static PIPEFS: Once<AnonFs> = Once::new();

fn pipefs() -> &'static AnonFs {
    PIPEFS.call_once(|| {
        AnonFs::new(
            "pipefs",
            crate::fs::anonymous_dev(),
            Arc::new(crate::clock::RealTimeClock),
        )
    })
}

/// Whether `file` is an end of a `pipe2` pipe (`/proc/self/fd` shows `pipe:[ino]`).
pub fn is_anonymous_pipe(file: &OpenFile) -> bool {
    PIPEFS.get().is_some_and(|fs| fs.contains(file.location()))
}

/// A nameless FIFO node in pipefs for a stream that is a pipe to the program but not one
/// of these pipes: the container's standard streams when the host's runtime holds the
/// other end (`tty::console`), shown as `pipe:[ino]` as Docker's are. Opening the node
/// again (`/dev/stdout`, `/proc/self/fd/1`) gives `device` again.
pub fn new_pipefs_stream(
    cred: &Credentials,
    device: &Arc<dyn DeviceFile>,
) -> Result<vfs_core::Location> {
    let location = new_pipefs_node(cred)?;
    remember(&location, Reopen::Stream(Arc::downgrade(device)))?;
    Ok(location)
}

/// What opening a pipefs node again gives (`/proc/<pid>/fd/N` is a magic link to it).
enum Reopen {
    /// A new end of this `pipe2` pipe.
    Pipe(Weak<Pipe>),
    /// This stream itself.
    Stream(Weak<dyn DeviceFile>),
}

impl Reopen {
    fn alive(&self) -> bool {
        match self {
            Reopen::Pipe(pipe) => pipe.strong_count() > 0,
            Reopen::Stream(stream) => stream.strong_count() > 0,
        }
    }
}

/// The pipefs nodes with an open file, by (`st_dev`, `st_ino`).
static PIPEFS_NODES: Mutex<BTreeMap<(u64, u64), Reopen>> = Mutex::new(BTreeMap::new());

fn remember(location: &vfs_core::Location, reopen: Reopen) -> Result<()> {
    let key = node_key(location)?;
    let mut nodes = PIPEFS_NODES.lock();
    nodes.retain(|_, node| node.alive());
    nodes.insert(key, reopen);
    Ok(())
}

/// Opening a pipefs node again: a pipe's new end never waits for the other side and is
/// never `ENXIO` (Linux's `fifo_open` with `is_pipe`); a stream is shared.
fn reopen(stat: &Stat, reads: bool, writes: bool) -> Option<Arc<dyn DeviceFile>> {
    match PIPEFS_NODES.lock().get(&(stat.dev, stat.ino))? {
        Reopen::Pipe(pipe) => {
            let pipe = pipe.upgrade()?;
            Some(Arc::new(PipeEnd::open(&pipe, reads, writes)))
        }
        Reopen::Stream(stream) => stream.upgrade(),
    }
}

fn new_pipefs_node(cred: &Credentials) -> Result<vfs_core::Location> {
    pipefs().new_location(&NewNode {
        kind: NodeKind::Fifo,
        perm: 0o600,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// What FIFO opens know a node by: (`st_dev`, `st_ino`).
fn node_key(location: &vfs_core::Location) -> Result<(u64, u64)> {
    let stat = location.dentry.positive()?.getattr()?;
    Ok((stat.dev, stat.ino))
}

/// `pipe2`: a new pipe's read and write ends. `flags` may hold `O_NONBLOCK` and `O_DIRECT`
/// (packet mode); both ends share one inode in pipefs, owned by `cred`, mode 0600.
/// `owner` is who the pipe's pages are charged to (`None`: the kernel's own pipes).
pub fn new_pipe(
    cred: &Credentials,
    flags: OpenFlags,
    owner: Option<Owner>,
) -> Result<(Arc<OpenFile>, Arc<OpenFile>)> {
    let pipe = Pipe::new(flags.contains(OpenFlags::DIRECT), owner)?;
    let location = new_pipefs_node(cred)?;
    remember(&location, Reopen::Pipe(Arc::downgrade(&pipe)))?;
    let status = flags & (OpenFlags::NONBLOCK | OpenFlags::DIRECT);
    let read_end: Arc<dyn DeviceFile> = Arc::new(PipeEnd::open(&pipe, true, false));
    let write_end: Arc<dyn DeviceFile> = Arc::new(PipeEnd::open(&pipe, false, true));
    let reader = OpenFile::anonymous(location.clone(), cred.clone(), status, Some(read_end))?;
    let writer = OpenFile::anonymous(
        location,
        cred.clone(),
        OpenFlags::WRONLY | status,
        Some(write_end),
    )?;
    Ok((reader, writer))
}

/// The process running this call as a pipe's maker (`None` on a kernel thread).
fn current_owner() -> Option<Owner> {
    let task = lifecycle::task_of(lifecycle::current_pid()?)?;
    Some(task.with_identity(|identity| Owner {
        uid: identity.ids.uid,
        privileged: identity.caps.has(vfs_core::cap::SYS_RESOURCE)
            || identity.caps.has(vfs_core::cap::SYS_ADMIN),
    }))
}

/// The pipe of each FIFO inode with an open end, by (`st_dev`, `st_ino`).
static FIFOS: Mutex<BTreeMap<(u64, u64), Weak<Pipe>>> = Mutex::new(BTreeMap::new());

/// Opening a FIFO node: every opener of one inode shares one pipe (its bytes go when the
/// last end closes). A read-only open waits for a writer and a write-only open for a
/// reader, unless `O_NONBLOCK` (then a writer with no reader is `ENXIO`); `O_RDWR` never
/// waits.
pub fn open_fifo(stat: &Stat, flags: OpenFlags) -> Result<Arc<dyn DeviceFile>> {
    let (reads, writes) = (flags.readable(), flags.writable());
    if let Some(end) = reopen(stat, reads, writes) {
        return Ok(end);
    }
    let pipe = {
        let mut fifos = FIFOS.lock();
        let key = (stat.dev, stat.ino);
        match fifos.get(&key).and_then(Weak::upgrade) {
            Some(pipe) => pipe,
            None => {
                fifos.retain(|_, pipe| pipe.strong_count() > 0);
                let pipe = Pipe::new(false, current_owner())?;
                fifos.insert(key, Arc::downgrade(&pipe));
                pipe
            }
        }
    };
    let nonblock = flags.contains(OpenFlags::NONBLOCK);
    if writes && !reads && nonblock && pipe.state.lock().readers == 0 {
        return Err(Errno::ENXIO);
    }
    let (mut end, (readers, reader_opens, writers, writer_opens)) =
        PipeEnd::open_counted(&pipe, reads, writes);
    if nonblock && reads && !writes && writers == 0 {
        end.writer_opens_at_open = writer_opens;
    }
    if !nonblock && reads != writes {
        let (partner_present, seen) = if reads {
            (writers > 0, writer_opens)
        } else {
            (readers > 0, reader_opens)
        };
        if !partner_present {
            if reads {
                end.wait_for_partner(|state| state.writer_opens, seen)?;
            } else {
                end.wait_for_partner(|state| state.reader_opens, seen)?;
            }
        }
    }
    Ok(Arc::new(end))
}

impl Pollable for PipeEnd {
    fn poll(&self) -> u16 {
        self.readiness()
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.pipe.events
    }
}
