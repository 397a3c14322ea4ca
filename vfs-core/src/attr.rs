//! Layer 0: the data that crosses the filesystem interface: file types and mode bits,
//! `Stat` (everything Linux `stat`/`statx` reports), attribute changes, `StatFs`,
//! directory entries and rename flags.

use crate::time::Timespec;
use bitflags::bitflags;

/// Mode bits, with Linux's values (`S_IFMT` and friends).
pub mod mode {
    pub const S_IFMT: u32 = 0o170000;
    pub const S_IFSOCK: u32 = 0o140000;
    pub const S_IFLNK: u32 = 0o120000;
    pub const S_IFREG: u32 = 0o100000;
    pub const S_IFBLK: u32 = 0o060000;
    pub const S_IFDIR: u32 = 0o040000;
    pub const S_IFCHR: u32 = 0o020000;
    pub const S_IFIFO: u32 = 0o010000;
    pub const S_ISUID: u32 = 0o4000;
    pub const S_ISGID: u32 = 0o2000;
    pub const S_ISVTX: u32 = 0o1000;
    /// Permission bits plus setuid, setgid and sticky: what `chmod` may change.
    pub const S_IALLUGO: u32 = 0o7777;
    pub const S_IXGRP: u32 = 0o010;
}

/// What kind of object an inode is. The discriminants are the `d_type` values of
/// `getdents64`, so a directory entry converts without a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FileType {
    Fifo = 1,
    CharDevice = 2,
    Directory = 4,
    BlockDevice = 6,
    Regular = 8,
    Symlink = 10,
    Socket = 12,
}

impl FileType {
    /// The `S_IF*` bits of this type.
    pub fn mode_bits(self) -> u32 {
        match self {
            FileType::Fifo => mode::S_IFIFO,
            FileType::CharDevice => mode::S_IFCHR,
            FileType::Directory => mode::S_IFDIR,
            FileType::BlockDevice => mode::S_IFBLK,
            FileType::Regular => mode::S_IFREG,
            FileType::Symlink => mode::S_IFLNK,
            FileType::Socket => mode::S_IFSOCK,
        }
    }

    /// The type encoded in a full mode; `None` for a value with no valid type bits.
    pub fn from_mode(mode: u32) -> Option<FileType> {
        Some(match mode & mode::S_IFMT {
            mode::S_IFIFO => FileType::Fifo,
            mode::S_IFCHR => FileType::CharDevice,
            mode::S_IFDIR => FileType::Directory,
            mode::S_IFBLK => FileType::BlockDevice,
            mode::S_IFREG => FileType::Regular,
            mode::S_IFLNK => FileType::Symlink,
            mode::S_IFSOCK => FileType::Socket,
            _ => return None,
        })
    }

    pub fn is_device(self) -> bool {
        matches!(self, FileType::CharDevice | FileType::BlockDevice)
    }
}

/// Linux's `new_encode_dev`/`makedev` layout for a device number.
pub const fn make_dev(major: u32, minor: u32) -> u64 {
    ((major as u64 & 0xffff_f000) << 32)
        | ((major as u64 & 0xfff) << 8)
        | ((minor as u64 & 0xffff_ff00) << 12)
        | (minor as u64 & 0xff)
}

pub const fn dev_major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)) as u32
}

pub const fn dev_minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0xff)) as u32
}

/// Everything `stat`/`statx` reports about an inode. `mode` includes the file-type bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u32,
    /// Allocated storage in 512-byte units, as `st_blocks`.
    pub blocks: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
    pub btime: Timespec,
}

impl Stat {
    pub fn file_type(&self) -> Option<FileType> {
        FileType::from_mode(self.mode)
    }

    pub fn is_dir(&self) -> bool {
        self.mode & mode::S_IFMT == mode::S_IFDIR
    }

    pub fn permission_bits(&self) -> u32 {
        self.mode & mode::S_IALLUGO
    }
}

/// A time to set, as `utimensat` distinguishes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeChange {
    /// `UTIME_NOW`: the filesystem's clock at the moment of the change.
    Now,
    At(Timespec),
}

/// The attribute changes of `chmod`, `chown`, `truncate` and `utimensat`. `None` leaves a
/// field alone; the filesystem also sets ctime to now whenever anything changes, as Linux's
/// `notify_change` does. Permission checks are the VFS's job, not the filesystem's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// Permission bits only (`S_IALLUGO`); the file type never changes.
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<TimeChange>,
    pub mtime: Option<TimeChange>,
    /// Only for copy-up and restore: plain `setattr` callers leave it `None`.
    pub ctime: Option<Timespec>,
    /// An atime update caused by reading: unlike `utimensat`, it leaves ctime alone.
    pub access_only: bool,
}

impl SetAttr {
    pub fn is_empty(&self) -> bool {
        *self == SetAttr::default()
    }
}

/// `statfs(2)` results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatFs {
    pub fs_type: u64,
    pub block_size: u64,
    pub blocks: u64,
    pub blocks_free: u64,
    pub blocks_available: u64,
    pub files: u64,
    pub files_free: u64,
    pub name_max: u64,
    pub fragment_size: u64,
    /// `ST_*` mount flags; filled in by the mount layer, not the filesystem.
    pub flags: u64,
}

/// Magic numbers for `StatFs::fs_type`.
pub mod fs_magic {
    pub const TMPFS_MAGIC: u64 = 0x0102_1994;
    pub const RAMFS_MAGIC: u64 = 0x8584_58f6;
    pub const OVERLAYFS_SUPER_MAGIC: u64 = 0x794c_7630;
    pub const V9FS_MAGIC: u64 = 0x0102_1997;
    pub const PROC_SUPER_MAGIC: u64 = 0x9fa0;
    pub const SYSFS_MAGIC: u64 = 0x6265_6572;
}

/// One entry handed out by `Inode::readdir`. `next_offset` is what `getdents64` stores
/// as `d_off`; passing it back to `readdir` resumes right after this entry, even when
/// entries were added or removed in between ("stable offsets").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry<'a> {
    pub name: &'a [u8],
    pub ino: u64,
    pub file_type: FileType,
    pub next_offset: u64,
}

bitflags! {
    /// `renameat2` flags, Linux values.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct RenameFlags: u32 {
        const NOREPLACE = 1;
        const EXCHANGE = 2;
        const WHITEOUT = 4;
    }
}

/// Longest single path component (`NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// Longest path including its terminating NUL (`PATH_MAX`).
pub const PATH_MAX: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_round_trip_like_linux_makedev() {
        let dev = make_dev(136, 3);
        assert_eq!(dev, 0x8803);
        assert_eq!((dev_major(dev), dev_minor(dev)), (136, 3));
        let big = make_dev(0x12345, 0x6789a);
        assert_eq!((dev_major(big), dev_minor(big)), (0x12345, 0x6789a));
    }

    #[test]
    fn file_type_round_trips_through_mode() {
        for t in [
            FileType::Fifo,
            FileType::CharDevice,
            FileType::Directory,
            FileType::BlockDevice,
            FileType::Regular,
            FileType::Symlink,
            FileType::Socket,
        ] {
            assert_eq!(FileType::from_mode(t.mode_bits() | 0o644), Some(t));
        }
        assert_eq!(FileType::from_mode(0o644), None);
    }
}
