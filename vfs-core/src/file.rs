//! Layer 5: open file descriptions: what `open` returns and a file descriptor points
//! to, with its offset, access mode and status flags; plus the hook by which the kernel
//! supplies operations for device nodes.
//!
//! Lock order: `OpenFile::position` is taken before any filesystem lock and never
//! while holding a dentry or mount-table lock.

use crate::attr::{DirEntry, FileType, SetAttr, Stat, TimeChange};
use crate::cred::Credentials;
use crate::errno::{Errno, Result};
use crate::inode::Inode;
use crate::mount::{Location, MountFlags};
use crate::permission;
use alloc::boxed::Box;
use alloc::sync::Arc;
use bitflags::bitflags;
use core::any::Any;
use spin::Mutex;

bitflags! {
    /// `open(2)` flags, x86_64 Linux values. The access mode (`O_RDONLY` = 0, `O_WRONLY`,
    /// `O_RDWR`) is the low two bits; read it with `access_mode`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct OpenFlags: u32 {
        const WRONLY = 0o1;
        const RDWR = 0o2;
        const CREAT = 0o100;
        const EXCL = 0o200;
        const NOCTTY = 0o400;
        const TRUNC = 0o1000;
        const APPEND = 0o2000;
        const NONBLOCK = 0o4000;
        const DSYNC = 0o10000;
        const DIRECT = 0o40000;
        const LARGEFILE = 0o100000;
        const DIRECTORY = 0o200000;
        const NOFOLLOW = 0o400000;
        const NOATIME = 0o1000000;
        const CLOEXEC = 0o2000000;
        const SYNC = 0o4010000;
        const PATH = 0o10000000;
        const TMPFILE = 0o20200000;
    }
}

impl OpenFlags {
    pub const RDONLY: OpenFlags = OpenFlags::empty();
    const ACCESS_MODE: u32 = 0o3;

    pub fn readable(self) -> bool {
        !self.contains(OpenFlags::PATH) && matches!(self.bits() & Self::ACCESS_MODE, 0 | 2)
    }

    pub fn writable(self) -> bool {
        !self.contains(OpenFlags::PATH) && matches!(self.bits() & Self::ACCESS_MODE, 1 | 2)
    }
}

/// `fallocate(2)` modes, as `<linux/falloc.h>` numbers them.
pub mod falloc {
    pub const KEEP_SIZE: u32 = 0x01;
    pub const PUNCH_HOLE: u32 = 0x02;
    pub const NO_HIDE_STALE: u32 = 0x04;
    pub const COLLAPSE_RANGE: u32 = 0x08;
    pub const ZERO_RANGE: u32 = 0x10;
    pub const INSERT_RANGE: u32 = 0x20;
    pub const UNSHARE_RANGE: u32 = 0x40;
    /// Every mode Linux 6.1 takes (`FALLOC_FL_SUPPORTED_MASK`: `NO_HIDE_STALE` is
    /// reserved, refused like an unknown bit).
    pub const KNOWN: u32 =
        KEEP_SIZE | PUNCH_HOLE | COLLAPSE_RANGE | ZERO_RANGE | INSERT_RANGE | UNSHARE_RANGE;
}

/// `lseek` origins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    Set,
    Current,
    End,
    /// `SEEK_DATA`: the next byte at or after the offset that is not in a hole.
    Data,
    /// `SEEK_HOLE`: the next hole at or after the offset (end of file counts as one).
    Hole,
}

/// Operations for a device-like open file (a device node, a FIFO, a pipe end), supplied by
/// the kernel. `flags` are the description's status flags *now* (`O_NONBLOCK` may change
/// through `fcntl(F_SETFL)` after the open).
///
/// No lock of the description is held across these calls (Linux serialises the offset for
/// regular files and directories only), so an implementation may block. It is `Any` so the
/// kernel can find its own type behind an open file (`poll` on a pipe end).
pub trait DeviceFile: Any + Send + Sync {
    fn read(&self, offset: u64, buf: &mut [u8], flags: OpenFlags) -> Result<usize>;
    fn write(&self, offset: u64, buf: &[u8], flags: OpenFlags) -> Result<usize>;
}

/// The kernel's table of drivers, keyed by node type and device number (`stat.rdev`); a
/// FIFO is known by its inode (`stat.dev`, `stat.ino`), so every opener of one node meets
/// the same pipe. Opening a device node (or FIFO) with no driver is `ENXIO`, as on Linux.
/// `open` may block (a FIFO's open waits for the other end): no lock is held across it.
pub trait DeviceRegistry: Send + Sync {
    fn open(
        &self,
        file_type: FileType,
        stat: &Stat,
        flags: OpenFlags,
    ) -> Result<Arc<dyn DeviceFile>>;
}

/// An open file description. Several descriptors (after `dup` or `fork`) share one, so
/// the offset is behind a lock.
pub struct OpenFile {
    location: Location,
    /// The opener's identity (`f_cred`): decides whether writes drop setuid/setgid.
    opener: Credentials,
    inode: Arc<dyn Inode>,
    flags: Mutex<OpenFlags>,
    position: Mutex<u64>,
    device: Option<Arc<dyn DeviceFile>>,
    /// The kernel's state for the locks owned by this description (OFD and `flock`
    /// locks): attached at the first such lock, dropped with the description, which is
    /// how its last close releases them (Linux's `locks_remove_file` in `__fput`).
    lock_state: spin::Once<Box<dyn Any + Send + Sync>>,
}

impl OpenFile {
    /// A description of a file with no name (a pipe end, in the kernel's pipefs: see
    /// [`crate::anon::AnonFs`]) or of any location the caller has already checked: no
    /// permission check, no `on_open`.
    pub fn anonymous(
        location: Location,
        opener: Credentials,
        flags: OpenFlags,
        device: Option<Arc<dyn DeviceFile>>,
    ) -> Result<Arc<OpenFile>> {
        Ok(Arc::new(OpenFile::new(location, opener, flags, device)?))
    }

    pub(crate) fn new(
        location: Location,
        opener: Credentials,
        flags: OpenFlags,
        device: Option<Arc<dyn DeviceFile>>,
    ) -> Result<OpenFile> {
        let inode = location.dentry.positive()?.clone();
        Ok(OpenFile {
            location,
            opener,
            inode,
            flags: Mutex::new(flags),
            position: Mutex::new(0),
            device,
            lock_state: spin::Once::new(),
        })
    }

    /// The kernel's lock state of this description, attached by `init` on first use
    /// (see the field); dropped only with the description.
    pub fn lock_state(
        &self,
        init: impl FnOnce() -> Box<dyn Any + Send + Sync>,
    ) -> &(dyn Any + Send + Sync) {
        &**self.lock_state.call_once(init)
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn inode(&self) -> &Arc<dyn Inode> {
        &self.inode
    }

    pub fn flags(&self) -> OpenFlags {
        *self.flags.lock()
    }

    /// `fcntl(F_SETFL)`: only `O_APPEND`, `O_NONBLOCK`, `O_DIRECT` and `O_NOATIME` change.
    pub fn set_status_flags(&self, requested: OpenFlags) {
        let changeable =
            OpenFlags::APPEND | OpenFlags::NONBLOCK | OpenFlags::DIRECT | OpenFlags::NOATIME;
        let mut flags = self.flags.lock();
        *flags = (*flags - changeable) | (requested & changeable);
    }

    pub fn position(&self) -> u64 {
        *self.position.lock()
    }

    /// The driver behind a device-like file (device node, FIFO, pipe end), if any.
    pub fn device(&self) -> Option<&Arc<dyn DeviceFile>> {
        self.device.as_ref()
    }

    fn check_readable(&self) -> Result<()> {
        if !self.flags().readable() {
            return Err(Errno::EBADF);
        }
        if self.inode.file_type() == FileType::Directory {
            return Err(Errno::EISDIR);
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<()> {
        if self.flags().writable() {
            Ok(())
        } else {
            Err(Errno::EBADF)
        }
    }

    /// `read`: from the shared offset, which advances by what was read. A device-like
    /// file is read without holding the offset's lock (its read may block: another
    /// process sharing the description must not spin on the lock meanwhile).
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.check_readable()?;
        if self.device.is_some() {
            let read = self.read_inner(self.position(), buf)?;
            *self.position.lock() += read as u64;
            return Ok(read);
        }
        let mut position = self.position.lock();
        let read = self.read_inner(*position, buf)?;
        *position += read as u64;
        Ok(read)
    }

    /// `pread64`: at `offset`, leaving the shared offset alone.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.check_readable()?;
        self.read_inner(offset, buf)
    }

    fn read_inner(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let read = match &self.device {
            Some(device) => device.read(offset, buf, self.flags())?,
            None => self.inode.read_at(offset, buf)?,
        };
        self.touch_atime();
        Ok(read)
    }

    /// `write`: at the offset, or at the end with `O_APPEND` (atomically with respect to
    /// other writers through this description).
    pub fn write(&self, buf: &[u8]) -> Result<usize> {
        self.check_writable()?;
        if self.device.is_some() {
            // As for `read`: no lock held across a device's write, which may block.
            let (_, written) = self.write_inner(Some(self.position()), buf)?;
            *self.position.lock() += written as u64;
            return Ok(written);
        }
        let mut position = self.position.lock();
        let (offset, written) =
            self.write_inner(Some(*position).filter(|_| !self.appending()), buf)?;
        // Like `new_sync_write`, the position moves only when something was written.
        if written > 0 {
            *position = offset + written as u64;
        }
        Ok(written)
    }

    /// `pwrite64`. Like Linux, with `O_APPEND` the data goes to the end regardless.
    pub fn write_at(&self, offset: u64, buf: &[u8]) -> Result<usize> {
        self.check_writable()?;
        Ok(self
            .write_inner(Some(offset).filter(|_| !self.appending()), buf)?
            .1)
    }

    /// A write at the end whatever the offset and `O_APPEND` say (`pwritev2` with
    /// `RWF_APPEND`); with `move_position`, the shared offset then points past the data,
    /// as after a `write`. A device-like file is written as by `write`.
    pub fn append(&self, buf: &[u8], move_position: bool) -> Result<usize> {
        self.check_writable()?;
        if self.device.is_some() {
            return self.write(buf);
        }
        if !move_position {
            return Ok(self.write_inner(None, buf)?.1);
        }
        let mut position = self.position.lock();
        let (offset, written) = self.write_inner(None, buf)?;
        if written > 0 {
            *position = offset + written as u64;
        }
        Ok(written)
    }

    /// `fallocate(2)` with Linux's checks in `vfs_fallocate`'s order: the range
    /// (`EINVAL`), the mode's combinations (`EOPNOTSUPP`, `EINVAL`), the descriptor's
    /// write access (`EBADF`), the file's type (`ESPIPE` for a FIFO, `EISDIR`, `ENODEV`
    /// for anything not regular), the end past the largest file (`EFBIG`); then the
    /// filesystem: allocation ([`Inode::allocate`]) and hole punching
    /// ([`Inode::punch_hole`]) are the modes tmpfs has, every other one is
    /// `EOPNOTSUPP`.
    pub fn allocate(&self, mode: u32, offset: i64, len: i64) -> Result<()> {
        use falloc::*;
        if offset < 0 || len <= 0 {
            return Err(Errno::EINVAL);
        }
        if mode & !KNOWN != 0
            || mode & (PUNCH_HOLE | ZERO_RANGE) == PUNCH_HOLE | ZERO_RANGE
            || (mode & PUNCH_HOLE != 0 && mode & KEEP_SIZE == 0)
        {
            return Err(Errno::EOPNOTSUPP);
        }
        let exclusive = |flag: u32, allowed: u32| mode & flag != 0 && mode & !allowed != 0;
        if exclusive(COLLAPSE_RANGE, COLLAPSE_RANGE)
            || exclusive(INSERT_RANGE, INSERT_RANGE)
            || exclusive(UNSHARE_RANGE, UNSHARE_RANGE | KEEP_SIZE)
        {
            return Err(Errno::EINVAL);
        }
        self.check_writable()?;
        match self.inode.file_type() {
            FileType::Regular if self.device.is_none() => {}
            FileType::Fifo => return Err(Errno::ESPIPE),
            FileType::Directory => return Err(Errno::EISDIR),
            _ => return Err(Errno::ENODEV),
        }
        // Past the largest file: every `s_maxbytes` here is `MAX_LFS_FILESIZE`, `i64::MAX`,
        // so that is an end that does not fit an `i64`.
        if offset.checked_add(len).is_none() {
            return Err(Errno::EFBIG);
        }
        let (offset, len) = (offset as u64, len as u64);
        match mode {
            0 | KEEP_SIZE => self.inode.allocate(offset, len, mode == KEEP_SIZE),
            m if m == PUNCH_HOLE | KEEP_SIZE => self.inode.punch_hole(offset, len),
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    fn appending(&self) -> bool {
        self.flags().contains(OpenFlags::APPEND)
    }

    /// Writes at `offset`, or at the end (atomically, `Inode::append`) when `None`;
    /// returns where the data went and how much was written.
    fn write_inner(&self, offset: Option<u64>, buf: &[u8]) -> Result<(u64, usize)> {
        match (&self.device, offset) {
            (Some(device), offset) => {
                let offset = offset.unwrap_or(0);
                Ok((offset, device.write(offset, buf, self.flags())?))
            }
            (None, offset) if buf.is_empty() => Ok((offset.unwrap_or(0), 0)),
            (None, Some(offset)) => {
                drop_privileges_on_modify(&self.opener, &self.inode)?;
                Ok((offset, self.inode.write_at(offset, buf)?))
            }
            (None, None) => {
                drop_privileges_on_modify(&self.opener, &self.inode)?;
                self.inode.append(buf)
            }
        }
    }

    /// `lseek`; a position before 0 is `EINVAL`. Seeking past the end is allowed (holes).
    pub fn seek(&self, offset: i64, whence: Whence) -> Result<u64> {
        if self.flags().contains(OpenFlags::PATH) {
            return Err(Errno::EBADF);
        }
        let mut position = self.position.lock();
        let is_dir = self.inode.file_type() == FileType::Directory;
        let base = match whence {
            Whence::Set => 0,
            Whence::Current => *position as i64,
            // A directory offset is a readdir cookie: only absolute and relative moves
            // make sense (tmpfs's `offset_dir_llseek`).
            Whence::End | Whence::Data | Whence::Hole if is_dir => return Err(Errno::EINVAL),
            Whence::End => self.inode.getattr()?.size as i64,
            Whence::Data | Whence::Hole => {
                let start = u64::try_from(offset).map_err(|_| Errno::ENXIO)?;
                let found = if whence == Whence::Data {
                    self.inode.seek_data(start)?
                } else {
                    self.inode.seek_hole(start)?
                };
                *position = found;
                return Ok(found);
            }
        };
        let target = base.checked_add(offset).ok_or(Errno::EOVERFLOW)?;
        if target < 0 {
            return Err(Errno::EINVAL);
        }
        *position = target as u64;
        Ok(*position)
    }

    /// `getdents64`: entries from the description's offset, which then points after the
    /// last entry `sink` accepted.
    pub fn read_dir(&self, sink: &mut dyn FnMut(DirEntry<'_>) -> bool) -> Result<()> {
        if self.flags().contains(OpenFlags::PATH) {
            return Err(Errno::EBADF);
        }
        let mut position = self.position.lock();
        let mut next = *position;
        self.inode.readdir(*position, &mut |entry| {
            let accepted = sink(entry);
            if accepted {
                next = entry.next_offset;
            }
            accepted
        })?;
        *position = next;
        drop(position);
        self.touch_atime();
        Ok(())
    }

    /// `fstat`, with `st_dev` of the filesystem the file lives in.
    pub fn stat(&self) -> Result<Stat> {
        self.inode.getattr()
    }

    /// `ftruncate`: needs the description open for writing (`EINVAL` otherwise, as Linux).
    pub fn truncate(&self, size: u64) -> Result<()> {
        if !self.flags().writable() || self.inode.file_type() != FileType::Regular {
            return Err(if self.flags().contains(OpenFlags::PATH) {
                Errno::EBADF
            } else {
                Errno::EINVAL
            });
        }
        truncate_inode(&self.opener, &self.inode, size)
    }

    /// `relatime`: atime moves only when it is not newer than mtime or ctime, or is a day
    /// old, and never on `noatime` mounts or through `O_NOATIME`.
    fn touch_atime(&self) {
        if self
            .location
            .mount
            .flags()
            .intersects(MountFlags::NOATIME | MountFlags::RDONLY)
            || self.flags().contains(OpenFlags::NOATIME)
            || self.location.mount.fs().stamps_atime_itself()
        {
            return;
        }
        let Ok(stat) = self.inode.getattr() else {
            return;
        };
        let now = self.location.mount.clock().now();
        let day_old = now.sec - stat.atime.sec >= 24 * 60 * 60;
        if stat.atime <= stat.mtime || stat.atime <= stat.ctime || day_old {
            // A failed atime update must not fail the read.
            let _ = self.inode.setattr(&SetAttr {
                atime: Some(TimeChange::Now),
                access_only: true,
                ..SetAttr::default()
            });
        }
    }
}

/// Drops setuid/setgid before a non-privileged modification, as Linux's `file_remove_privs`.
fn drop_privileges_on_modify(cred: &Credentials, inode: &Arc<dyn Inode>) -> Result<()> {
    if cred.has_cap(crate::cred::cap::FSETID) {
        return Ok(());
    }
    match permission::bits_after_modification(cred, &inode.getattr()?) {
        Some(bits) => inode.setattr(&SetAttr {
            mode: Some(bits),
            ..SetAttr::default()
        }),
        None => Ok(()),
    }
}

/// Truncation as `do_truncate` does it: privileges dropped in the same attribute change.
pub(crate) fn truncate_inode(cred: &Credentials, inode: &Arc<dyn Inode>, size: u64) -> Result<()> {
    let mode = if cred.has_cap(crate::cred::cap::FSETID) {
        None
    } else {
        permission::bits_after_modification(cred, &inode.getattr()?)
    };
    inode.setattr(&SetAttr {
        size: Some(size),
        mode,
        ..SetAttr::default()
    })
}
