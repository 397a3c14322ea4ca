//! The structures, one encoder or decoder each.

use alloc::vec::Vec;

use vfs_core::attr::{dev_major, dev_minor};
use vfs_core::{DirEntry, Stat, StatFs, Timespec};

use super::{Encoder, read_u64};

/// `struct stat` (144 bytes).
pub fn encode_stat(stat: &Stat) -> Vec<u8> {
    let mut out = Encoder::with_capacity(144);
    out.u64(stat.dev)
        .u64(stat.ino)
        .u64(stat.nlink)
        .u32(stat.mode)
        .u32(stat.uid)
        .u32(stat.gid)
        .u32(0);
    out.u64(stat.rdev)
        .u64(stat.size)
        .i64(i64::from(stat.blksize))
        .u64(stat.blocks);
    for time in [stat.atime, stat.mtime, stat.ctime] {
        out.i64(time.sec).u64(u64::from(time.nsec));
    }
    out.zeros(24);
    out.finish()
}

/// `statx` mask bits.
pub mod statx_mask {
    pub const TYPE: u32 = 0x1;
    pub const MODE: u32 = 0x2;
    pub const NLINK: u32 = 0x4;
    pub const UID: u32 = 0x8;
    pub const GID: u32 = 0x10;
    pub const ATIME: u32 = 0x20;
    pub const MTIME: u32 = 0x40;
    pub const CTIME: u32 = 0x80;
    pub const INO: u32 = 0x100;
    pub const SIZE: u32 = 0x200;
    pub const BLOCKS: u32 = 0x400;
    pub const BASIC_STATS: u32 = 0x7ff;
    pub const BTIME: u32 = 0x800;
    pub const MNT_ID: u32 = 0x1000;
}

fn statx_timestamp(out: &mut Encoder, time: Timespec) {
    out.i64(time.sec).u32(time.nsec).u32(0);
}

/// `struct statx` (256 bytes). Every basic field is filled, so the mask says so.
pub fn encode_statx(stat: &Stat, mount_id: u64) -> Vec<u8> {
    let mut out = Encoder::with_capacity(256);
    let mask = statx_mask::BASIC_STATS | statx_mask::BTIME | statx_mask::MNT_ID;
    out.u32(mask)
        .u32(stat.blksize)
        .u64(0)
        .u32(stat.nlink as u32)
        .u32(stat.uid)
        .u32(stat.gid);
    out.u16(stat.mode as u16)
        .u16(0)
        .u64(stat.ino)
        .u64(stat.size)
        .u64(stat.blocks)
        .u64(0);
    for time in [stat.atime, stat.btime, stat.ctime, stat.mtime] {
        statx_timestamp(&mut out, time);
    }
    out.u32(dev_major(stat.rdev))
        .u32(dev_minor(stat.rdev))
        .u32(dev_major(stat.dev))
        .u32(dev_minor(stat.dev));
    out.u64(mount_id);
    out.zeros(256 - out.len());
    out.finish()
}

/// `struct statfs` (120 bytes).
pub fn encode_statfs(fs: &StatFs, fsid: u64) -> Vec<u8> {
    let mut out = Encoder::with_capacity(120);
    out.u64(fs.fs_type)
        .u64(fs.block_size)
        .u64(fs.blocks)
        .u64(fs.blocks_free)
        .u64(fs.blocks_available);
    out.u64(fs.files)
        .u64(fs.files_free)
        .u32(fsid as u32)
        .u32((fsid >> 32) as u32);
    out.u64(fs.name_max)
        .u64(fs.fragment_size)
        .u64(fs.flags)
        .zeros(32);
    out.finish()
}

/// One `struct linux_dirent64`: the fixed header, the name, a NUL, padding to 8 bytes.
pub fn encode_dirent64(entry: &DirEntry<'_>) -> Vec<u8> {
    let length = (19 + entry.name.len() + 1).next_multiple_of(8);
    let mut out = Encoder::with_capacity(length);
    out.u64(entry.ino)
        .u64(entry.next_offset)
        .u16(length as u16)
        .u8(entry.file_type as u8)
        .bytes(entry.name);
    out.zeros(length - out.len());
    out.finish()
}

/// `struct timespec` and `struct timeval` share the shape: seconds, then sub-seconds.
pub fn encode_timespec(sec: i64, nsec: i64) -> Vec<u8> {
    let mut out = Encoder::with_capacity(16);
    out.i64(sec).i64(nsec);
    out.finish()
}

/// A `struct timespec` from user memory: `None` (the caller's `EINVAL`) for nanoseconds
/// outside 0..1e9.
pub fn decode_timespec(bytes: &[u8]) -> Option<(i64, i64)> {
    let (sec, nsec) = (read_u64(bytes, 0) as i64, read_u64(bytes, 8) as i64);
    (0..1_000_000_000).contains(&nsec).then_some((sec, nsec))
}

/// The one reader of a user's `struct timespec` duration or deadline (`nanosleep`,
/// `clock_nanosleep`, `futex`, `ppoll`), in nanoseconds. `None` (the caller's `EINVAL`) for
/// what Linux's `timespec64_valid` refuses: a negative `tv_sec`, or `tv_nsec` outside
/// 0..1e9. A `tv_sec` too large for i64 nanoseconds saturates to `i64::MAX` (292 years:
/// forever, for a timeout) instead of overflowing.
pub fn decode_timespec_ns(bytes: &[u8]) -> Option<i64> {
    let (sec, nsec) = decode_timespec(bytes)?;
    (sec >= 0).then(|| sec.saturating_mul(1_000_000_000).saturating_add(nsec))
}

/// `struct utsname`: six 65-byte NUL-padded fields.
pub fn encode_utsname(fields: [&[u8]; 6]) -> Vec<u8> {
    let mut out = Encoder::with_capacity(6 * 65);
    for field in fields {
        let kept = &field[..field.len().min(64)];
        out.bytes(kept).zeros(65 - kept.len());
    }
    out.finish()
}

/// `struct rlimit`: current and maximum.
pub fn encode_rlimit(current: u64, maximum: u64) -> Vec<u8> {
    let mut out = Encoder::with_capacity(16);
    out.u64(current).u64(maximum);
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfs_core::FileType;

    fn sample_stat() -> Stat {
        Stat {
            dev: 0x803,
            ino: 42,
            mode: 0o100644,
            nlink: 2,
            uid: 1000,
            gid: 100,
            rdev: 0x8803,
            size: 12345,
            blksize: 4096,
            blocks: 32,
            atime: Timespec::new(1, 2),
            mtime: Timespec::new(3, 4),
            ctime: Timespec::new(5, 6),
            btime: Timespec::new(7, 8),
        }
    }

    #[test]
    fn stat_matches_the_x86_64_layout() {
        let bytes = encode_stat(&sample_stat());
        assert_eq!(bytes.len(), 144);
        assert_eq!(read_u64(&bytes, 0), 0x803); // st_dev
        assert_eq!(read_u64(&bytes, 8), 42); // st_ino
        assert_eq!(read_u64(&bytes, 16), 2); // st_nlink
        assert_eq!(super::super::read_u32(&bytes, 24), 0o100644); // st_mode
        assert_eq!(super::super::read_u32(&bytes, 28), 1000); // st_uid
        assert_eq!(read_u64(&bytes, 40), 0x8803); // st_rdev
        assert_eq!(read_u64(&bytes, 48), 12345); // st_size
        assert_eq!(read_u64(&bytes, 56), 4096); // st_blksize
        assert_eq!(read_u64(&bytes, 64), 32); // st_blocks
        assert_eq!(read_u64(&bytes, 88), 3); // st_mtime
        assert_eq!(read_u64(&bytes, 96), 4); // st_mtime_nsec
    }

    #[test]
    fn statx_matches_the_uapi_layout() {
        let bytes = encode_statx(&sample_stat(), 9);
        assert_eq!(bytes.len(), 256);
        assert_eq!(
            super::super::read_u32(&bytes, 0) & statx_mask::BASIC_STATS,
            statx_mask::BASIC_STATS
        );
        assert_eq!(u16::from_le_bytes([bytes[28], bytes[29]]), 0o100644); // stx_mode
        assert_eq!(read_u64(&bytes, 32), 42); // stx_ino
        assert_eq!(read_u64(&bytes, 40), 12345); // stx_size
        assert_eq!(read_u64(&bytes, 64), 1); // stx_atime.tv_sec
        assert_eq!(read_u64(&bytes, 80), 7); // stx_btime.tv_sec
        assert_eq!(read_u64(&bytes, 112), 3); // stx_mtime.tv_sec
        assert_eq!(super::super::read_u32(&bytes, 128), 136); // stx_rdev_major
        assert_eq!(super::super::read_u32(&bytes, 132), 3); // stx_rdev_minor
        assert_eq!(read_u64(&bytes, 144), 9); // stx_mnt_id
    }

    #[test]
    fn dirent64_is_padded_to_eight_bytes() {
        let entry = DirEntry {
            name: b"hello",
            ino: 7,
            file_type: FileType::Regular,
            next_offset: 3,
        };
        let bytes = encode_dirent64(&entry);
        assert_eq!(bytes.len(), 32); // 19 + 5 + NUL = 25 → 32
        assert_eq!(u16::from_le_bytes([bytes[16], bytes[17]]), 32);
        assert_eq!(bytes[18], 8);
        assert_eq!(&bytes[19..25], b"hello\0");
    }

    #[test]
    fn statfs_utsname_termios_sizes() {
        assert_eq!(encode_statfs(&StatFs::default(), 0).len(), 120);
        let uts = encode_utsname([b"Linux", b"box", b"6.1", b"#1", b"x86_64", b"(none)"]);
        assert_eq!(uts.len(), 390);
        assert_eq!(&uts[65..69], b"box\0");
    }

    #[test]
    fn timespec_nanoseconds_are_range_checked() {
        assert_eq!(
            decode_timespec(&encode_timespec(5, 999_999_999)),
            Some((5, 999_999_999))
        );
        assert_eq!(decode_timespec(&encode_timespec(5, 1_000_000_000)), None);
        assert_eq!(decode_timespec(&encode_timespec(5, -1)), None);
    }

    #[test]
    fn timespec_durations_saturate_and_refuse_what_linux_refuses() {
        let ns = |sec, nsec| decode_timespec_ns(&encode_timespec(sec, nsec));
        assert_eq!(ns(0, 0), Some(0));
        assert_eq!(ns(5, 999_999_999), Some(5_999_999_999));
        assert_eq!(
            ns(i64::MAX / 1_000_000_000, 0),
            Some(9_223_372_036_000_000_000)
        );
        // Would overflow a plain `sec * 1e9 + nsec`: saturates instead.
        assert_eq!(ns(i64::MAX / 1_000_000_000 + 1, 0), Some(i64::MAX));
        assert_eq!(ns(i64::MAX, 999_999_999), Some(i64::MAX));
        // Linux's `timespec64_valid`: EINVAL.
        assert_eq!(ns(-1, 0), None);
        assert_eq!(ns(i64::MIN, 0), None);
        assert_eq!(ns(0, -1), None);
        assert_eq!(ns(0, 1_000_000_000), None);
        assert_eq!(ns(0, i64::MAX), None);
    }
}
