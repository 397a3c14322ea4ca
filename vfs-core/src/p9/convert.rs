//! Translation between 9P2000.L attribute messages and the VFS's `Stat`, `SetAttr` and
//! `StatFs`. A reply that cannot describe a real file (no mode, no valid type, nanoseconds
//! past a second) is malformed: `EIO`.

use super::message::{Attr, FsStats, SetAttrFields, getattr_mask, setattr_mask};
use crate::attr::{FileType, SetAttr, Stat, StatFs, TimeChange, fs_magic, mode};
use crate::errno::{Errno, Result};
use crate::time::Timespec;

/// The VFS view of an `Rgetattr`; `dev` is the mount's, the inode number the qid path.
pub fn stat_from_attr(attr: &Attr, dev: u64) -> Result<Stat> {
    if attr.valid & getattr_mask::MODE == 0 || FileType::from_mode(attr.mode).is_none() {
        return Err(Errno::EIO);
    }
    Ok(Stat {
        dev,
        ino: attr.qid.path,
        mode: attr.mode,
        nlink: attr.nlink,
        uid: attr.uid,
        gid: attr.gid,
        rdev: attr.rdev,
        size: attr.size,
        blksize: u32::try_from(attr.blksize).unwrap_or(u32::MAX),
        blocks: attr.blocks,
        atime: timespec(attr.atime_sec, attr.atime_nsec)?,
        mtime: timespec(attr.mtime_sec, attr.mtime_nsec)?,
        ctime: timespec(attr.ctime_sec, attr.ctime_nsec)?,
        btime: timespec(attr.btime_sec, attr.btime_nsec)?,
    })
}

/// Seconds travel as the two's-complement bits of a signed `time_t`, so times before
/// 1970 come back negative.
fn timespec(sec: u64, nsec: u64) -> Result<Timespec> {
    match u32::try_from(nsec) {
        Ok(nsec) if nsec < 1_000_000_000 => Ok(Timespec::new(sec as i64, nsec)),
        _ => Err(Errno::EIO),
    }
}

/// The `Tsetattr` for a change, or `None` when there is nothing to send. 9P cannot set
/// ctime to a given value (only "now", which every change implies), so an explicit ctime
/// (copy-up, restore) is left to the server's clock.
pub fn setattr_fields(change: &SetAttr) -> Option<SetAttrFields> {
    let mut fields = SetAttrFields::default();
    if let Some(perm) = change.mode {
        fields.valid |= setattr_mask::MODE;
        fields.mode = perm & mode::S_IALLUGO;
    }
    if let Some(uid) = change.uid {
        fields.valid |= setattr_mask::UID;
        fields.uid = uid;
    }
    if let Some(gid) = change.gid {
        fields.valid |= setattr_mask::GID;
        fields.gid = gid;
    }
    if let Some(size) = change.size {
        fields.valid |= setattr_mask::SIZE;
        fields.size = size;
    }
    if let Some(time) = change.atime {
        fields.valid |= setattr_mask::ATIME;
        if let TimeChange::At(at) = time {
            fields.valid |= setattr_mask::ATIME_SET;
            (fields.atime_sec, fields.atime_nsec) = (at.sec as u64, u64::from(at.nsec));
        }
    }
    if let Some(time) = change.mtime {
        fields.valid |= setattr_mask::MTIME;
        if let TimeChange::At(at) = time {
            fields.valid |= setattr_mask::MTIME_SET;
            (fields.mtime_sec, fields.mtime_nsec) = (at.sec as u64, u64::from(at.nsec));
        }
    }
    if fields.valid == 0 && change.ctime.is_some() {
        // A ctime-only change still means "the inode changed": let the server stamp it.
        fields.valid = setattr_mask::CTIME;
    }
    (fields.valid != 0).then_some(fields)
}

/// `statfs` of a 9p mount. The type is 9p's own magic, as Linux reports for a v9fs mount
/// seen from inside a sandbox, not the host filesystem's.
pub fn statfs_from_stats(stats: &FsStats) -> StatFs {
    StatFs {
        fs_type: fs_magic::V9FS_MAGIC,
        block_size: u64::from(stats.block_size),
        blocks: stats.blocks,
        blocks_free: stats.blocks_free,
        blocks_available: stats.blocks_available,
        files: stats.files,
        files_free: stats.files_free,
        name_max: u64::from(stats.name_max),
        fragment_size: u64::from(stats.block_size),
        flags: 0,
    }
}

/// The file type of a directory entry: the server's `d_type` when it sent one, otherwise
/// what the qid tells (directory, symlink, or else a regular file).
pub fn dirent_file_type(d_type: u8, qid_kind: u8) -> FileType {
    use super::message::qid_kind;
    match d_type {
        1 => FileType::Fifo,
        2 => FileType::CharDevice,
        4 => FileType::Directory,
        6 => FileType::BlockDevice,
        8 => FileType::Regular,
        10 => FileType::Symlink,
        12 => FileType::Socket,
        _ if qid_kind & qid_kind::DIR != 0 => FileType::Directory,
        _ if qid_kind & qid_kind::SYMLINK != 0 => FileType::Symlink,
        _ => FileType::Regular,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regular_attr() -> Attr {
        Attr {
            valid: getattr_mask::BASIC,
            mode: mode::S_IFREG | 0o644,
            nlink: 1,
            ..Attr::default()
        }
    }

    #[test]
    fn attr_becomes_stat_with_mount_dev_and_qid_ino() {
        let mut attr = regular_attr();
        attr.qid.path = 42;
        attr.atime_sec = (-5i64) as u64;
        attr.mtime_nsec = 7;
        let stat = stat_from_attr(&attr, 9).unwrap();
        assert_eq!(
            (stat.dev, stat.ino, stat.mode),
            (9, 42, mode::S_IFREG | 0o644)
        );
        assert_eq!(stat.atime, Timespec::new(-5, 0));
        assert_eq!(stat.mtime, Timespec::new(0, 7));
    }

    #[test]
    fn impossible_attrs_are_eio() {
        let mut attr = regular_attr();
        attr.ctime_nsec = 1_000_000_000;
        assert_eq!(stat_from_attr(&attr, 0), Err(Errno::EIO));
        let mut attr = regular_attr();
        attr.mode = 0o644;
        assert_eq!(stat_from_attr(&attr, 0), Err(Errno::EIO));
        let mut attr = regular_attr();
        attr.valid = 0;
        assert_eq!(stat_from_attr(&attr, 0), Err(Errno::EIO));
    }

    #[test]
    fn setattr_distinguishes_now_from_given_times() {
        let change = SetAttr {
            mode: Some(0o104_755),
            atime: Some(TimeChange::Now),
            mtime: Some(TimeChange::At(Timespec::new(3, 4))),
            ..SetAttr::default()
        };
        let fields = setattr_fields(&change).unwrap();
        assert_eq!(
            fields.valid,
            setattr_mask::MODE
                | setattr_mask::ATIME
                | setattr_mask::MTIME
                | setattr_mask::MTIME_SET
        );
        assert_eq!(fields.mode, 0o4755);
        assert_eq!((fields.mtime_sec, fields.mtime_nsec), (3, 4));
        assert_eq!(setattr_fields(&SetAttr::default()), None);
        let ctime_only = SetAttr {
            ctime: Some(Timespec::new(1, 0)),
            ..SetAttr::default()
        };
        assert_eq!(
            setattr_fields(&ctime_only).map(|f| f.valid),
            Some(setattr_mask::CTIME)
        );
    }

    #[test]
    fn dirent_types_fall_back_to_the_qid() {
        assert_eq!(dirent_file_type(2, 0), FileType::CharDevice);
        assert_eq!(dirent_file_type(0, 0x80), FileType::Directory);
        assert_eq!(dirent_file_type(0, 0x02), FileType::Symlink);
        assert_eq!(dirent_file_type(0, 0), FileType::Regular);
    }
}
