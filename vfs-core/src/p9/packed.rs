//! A file's attributes as an exclusive mount's listing keeps them for names no live inode
//! stands for: [`Stat`] without what the listing already knows (the device is the
//! mount's, the inode number the entry's) and with the timestamps' halves stored apart so
//! no field is padded. 96 bytes instead of `Stat`'s 136; at a million cached names the
//! difference is 40 MB.

use crate::attr::Stat;
use crate::time::Timespec;

#[derive(Clone, Default)]
pub struct PackedStat {
    size: u64,
    blocks: u64,
    rdev: u64,
    nlink: u64,
    /// atime, mtime, ctime, btime.
    secs: [i64; 4],
    nsecs: [u32; 4],
    mode: u32,
    uid: u32,
    gid: u32,
    blksize: u32,
}

impl PackedStat {
    pub fn pack(stat: &Stat) -> PackedStat {
        let times = [stat.atime, stat.mtime, stat.ctime, stat.btime];
        PackedStat {
            size: stat.size,
            blocks: stat.blocks,
            rdev: stat.rdev,
            nlink: stat.nlink,
            secs: times.map(|time| time.sec),
            nsecs: times.map(|time| time.nsec),
            mode: stat.mode,
            uid: stat.uid,
            gid: stat.gid,
            blksize: stat.blksize,
        }
    }

    /// The attributes of inode `ino` on device `dev`.
    pub fn unpack(&self, dev: u64, ino: u64) -> Stat {
        let time = |at: usize| Timespec::new(self.secs[at], self.nsecs[at]);
        Stat {
            dev,
            ino,
            mode: self.mode,
            nlink: self.nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: self.rdev,
            size: self.size,
            blksize: self.blksize,
            blocks: self.blocks,
            atime: time(0),
            mtime: time(1),
            ctime: time(2),
            btime: time(3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacking_gives_back_what_was_packed() {
        let stat = Stat {
            dev: 7,
            ino: 42,
            mode: 0o100640,
            nlink: u64::from(u32::MAX) + 3,
            uid: 1000,
            gid: 100,
            rdev: 0x1234_5678_9abc,
            size: 1 << 40,
            blksize: 4096,
            blocks: 9,
            atime: Timespec::new(-5, 1),
            mtime: Timespec::new(1_700_000_000, 999_999_999),
            ctime: Timespec::new(3, 4),
            btime: Timespec::new(5, 6),
        };
        assert_eq!(PackedStat::pack(&stat).unpack(7, 42), stat);
        assert_eq!(core::mem::size_of::<PackedStat>(), 96);
    }
}
