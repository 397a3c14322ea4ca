//! The anonymous inode (Linux's `anon_inodefs`): one inode, mounted nowhere, that every
//! event file is opened on. `fstat` of any of them shows it — mode 0600 with no file type,
//! owned by root, the same `st_ino` for all — and `/proc/self/fd/N` names the file by its
//! kind (`anon_inode:[eventfd]`).
//!
//! Its `file_type` is `CharDevice` for the VFS's sake (never a directory, a regular file
//! or a FIFO: reads and writes go to the device, `lseek` answers 0 as Linux's
//! `noop_llseek`, `mmap` and `exec` are refused), while its `stat` has no type bits, as
//! Linux's.

use alloc::string::String;
use alloc::sync::Arc;

use spin::Once;
use vfs_core::file::DeviceFile;
use vfs_core::{
    Credentials, Errno, FileSystem, FileType, Inode, Location, Mount, OpenFile, OpenFlags, Result,
    Stat, StatFs, Timespec,
};

/// `ANON_INODE_FS_MAGIC`.
const ANON_INODE_FS_MAGIC: u64 = 0x0904_1934;

struct AnonInode {
    dev: u64,
    born: Timespec,
}

impl Inode for AnonInode {
    fn ino(&self) -> u64 {
        1
    }

    fn file_type(&self) -> FileType {
        FileType::CharDevice
    }

    fn getattr(&self) -> Result<Stat> {
        Ok(Stat {
            dev: self.dev,
            ino: 1,
            mode: 0o600,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            size: 0,
            blksize: vfs_core::PAGE_SIZE as u32,
            blocks: 0,
            atime: self.born,
            mtime: self.born,
            ctime: self.born,
            btime: self.born,
        })
    }
}

struct AnonInodeFs {
    inode: Arc<AnonInode>,
}

impl FileSystem for AnonInodeFs {
    fn fs_type(&self) -> &str {
        "anon_inodefs"
    }

    fn root(&self) -> Arc<dyn Inode> {
        self.inode.clone()
    }

    fn dev(&self) -> u64 {
        self.inode.dev
    }

    fn statfs(&self) -> Result<StatFs> {
        Ok(StatFs {
            fs_type: ANON_INODE_FS_MAGIC,
            block_size: vfs_core::PAGE_SIZE as u64,
            name_max: 255,
            fragment_size: vfs_core::PAGE_SIZE as u64,
            ..StatFs::default()
        })
    }

    fn mount_options(&self) -> String {
        String::new()
    }
}

static MOUNT: Once<Arc<Mount>> = Once::new();

fn mount() -> &'static Arc<Mount> {
    MOUNT.call_once(|| {
        let clock: vfs_core::ClockRef = Arc::new(crate::clock::RealTimeClock);
        let fs = Arc::new(AnonInodeFs {
            inode: Arc::new(AnonInode {
                dev: crate::fs::anonymous_dev(),
                born: clock.now(),
            }),
        });
        Mount::detached(fs, "anon_inodefs", clock)
    })
}

/// A new open file of kind `device` on the anonymous inode, opened read-write with the
/// status flags in `flags` (`O_NONBLOCK`), as Linux's `anon_inode_getfile`.
pub(super) fn open(
    cred: &Credentials,
    flags: OpenFlags,
    device: Arc<dyn DeviceFile>,
) -> Result<Arc<OpenFile>> {
    let mount = mount();
    let location = Location {
        mount: mount.clone(),
        dentry: mount.root().clone(),
    };
    OpenFile::anonymous(
        location,
        cred.clone(),
        OpenFlags::RDWR | (flags & OpenFlags::NONBLOCK),
        Some(device),
    )
}

/// Whether `file` is an event file (on the anonymous inode).
pub fn is_event_file(file: &OpenFile) -> bool {
    MOUNT
        .get()
        .is_some_and(|mount| Arc::ptr_eq(&file.location().mount, mount))
}

/// What `/proc/<pid>/fd/N` names an event file by: `[eventpoll]`, `[eventfd]`,
/// `[timerfd]`, `[signalfd]`; `None` for other files.
pub fn anon_name(file: &OpenFile) -> Option<&'static str> {
    if !is_event_file(file) {
        return None;
    }
    let device: &dyn core::any::Any = &**file.device()?;
    if device.is::<super::epoll::EpollFile>() {
        Some("[eventpoll]")
    } else if device.is::<super::eventfd::EventFd>() {
        Some("[eventfd]")
    } else if device.is::<super::timerfd::TimerFd>() {
        Some("[timerfd]")
    } else if device.is::<super::signalfd::SignalFd>() {
        Some("[signalfd]")
    } else {
        None
    }
}

/// Reads and writes a kind of event file does not have: `EINVAL`, as Linux gives for a
/// file without the operation.
pub(super) fn no_such_operation() -> Result<usize> {
    Err(Errno::EINVAL)
}
