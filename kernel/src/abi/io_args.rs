//! The arguments of the file transfer calls as Linux judges them before any file is
//! touched: `preadv2`/`pwritev2`'s offset and `RWF_*` flags, the `iovec` array's lengths,
//! `rw_verify_area`'s range check, `copy_file_range`'s range rules, `splice`'s flags and
//! `sync_file_range`'s. Pure and host-tested; the syscall layer (`syscall::vectored`,
//! `syscall::transfer`, `syscall::storage`) moves the bytes.

use alloc::vec::Vec;

use vfs_core::Errno;

/// `MAX_RW_COUNT`: the most one call moves (2 GiB less a page).
pub const MAX_RW_COUNT: u64 = 0x7fff_f000;

/// `RWF_*`, as Linux 6.1 (the release this kernel reports) knows them; the flags later
/// kernels added (`RWF_NOAPPEND`, `RWF_ATOMIC`, …) are unknown here: `EOPNOTSUPP`.
pub mod rwf {
    pub const HIPRI: u32 = 0x01;
    pub const DSYNC: u32 = 0x02;
    pub const SYNC: u32 = 0x04;
    pub const NOWAIT: u32 = 0x08;
    pub const APPEND: u32 = 0x10;
    pub const ALL: u32 = HIPRI | DSYNC | SYNC | NOWAIT | APPEND;
}

/// What a call's `RWF_*` flags ask for. `RWF_HIPRI` (polled completion) changes nothing
/// for I/O that never waits on a device queue, as for Linux's buffered I/O.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RwFlags {
    /// `RWF_NOWAIT`: `EAGAIN` rather than sleeping; only files that can promise it
    /// (Linux's `FMODE_NOWAIT`: pipes, sockets) take it, others say `EOPNOTSUPP`.
    pub nowait: bool,
    /// `RWF_APPEND`: this write goes to the end, as with `O_APPEND`.
    pub append: bool,
    /// `RWF_DSYNC`/`RWF_SYNC`: the data is synced before the call returns.
    pub sync: bool,
}

impl RwFlags {
    /// `rwf_t` is an `int`: the register's upper half is not looked at.
    pub fn parse(raw: u64) -> Result<RwFlags, Errno> {
        let raw = raw as u32;
        if raw & !rwf::ALL != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(RwFlags {
            nowait: raw & rwf::NOWAIT != 0,
            append: raw & rwf::APPEND != 0,
            sync: raw & (rwf::DSYNC | rwf::SYNC) != 0,
        })
    }
}

/// Where a call reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// At the file's position, which moves.
    Position,
    /// At this offset; the position stays.
    At(u64),
}

/// An offset argument (`pos_l`: on x86-64 the whole offset): -1 is the position for the
/// `*2` calls (`minus_one_is_position`); any other negative offset is `EINVAL`.
pub fn place_of(offset: u64, minus_one_is_position: bool) -> Result<Place, Errno> {
    match offset as i64 {
        -1 if minus_one_is_position => Ok(Place::Position),
        offset if offset < 0 => Err(Errno::EINVAL),
        offset => Ok(Place::At(offset as u64)),
    }
}

/// An `iovec` array's lengths as Linux's `import_iovec` takes them: `EINVAL` for one
/// negative as an `ssize_t`; the total clamped to [`MAX_RW_COUNT`] by shortening the
/// buffer that crosses it and emptying those after.
pub fn clamp_iovecs(vectors: &mut [(u64, u64)]) -> Result<(), Errno> {
    if vectors.iter().any(|&(_, len)| (len as i64) < 0) {
        return Err(Errno::EINVAL);
    }
    let mut total = 0u64;
    for (_, len) in vectors.iter_mut() {
        *len = (*len).min(MAX_RW_COUNT - total);
        total += *len;
    }
    Ok(())
}

/// `struct iovec`s from their raw bytes.
pub fn decode_iovecs(raw: &[u8]) -> Vec<(u64, u64)> {
    raw.chunks_exact(16)
        .map(|v| (super::read_u64(v, 0), super::read_u64(v, 8)))
        .collect()
}

/// `rw_verify_area` for a file with signed offsets: a count negative as an `ssize_t`,
/// a negative offset, or an end past `i64::MAX` is `EINVAL`.
pub fn verify_area(pos: i64, count: u64) -> Result<(), Errno> {
    if (count as i64) < 0 || pos < 0 || pos.checked_add(count as i64).is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// `SPLICE_F_*`.
pub mod splice {
    pub const MOVE: u32 = 0x01;
    pub const NONBLOCK: u32 = 0x02;
    pub const MORE: u32 = 0x04;
    pub const GIFT: u32 = 0x08;
    pub const ALL: u32 = MOVE | NONBLOCK | MORE | GIFT;
}

/// `splice`, `tee` and `vmsplice` flags (an `unsigned int`): whether `SPLICE_F_NONBLOCK`
/// is set; an unknown bit is `EINVAL`. `MOVE`, `MORE` and `GIFT` are hints that change
/// nothing here (bytes are always copied), as `MOVE` has changed nothing in Linux since
/// 2.6.21.
pub fn splice_nonblock(flags: u64) -> Result<bool, Errno> {
    let flags = flags as u32;
    if flags & !splice::ALL != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(flags & splice::NONBLOCK != 0)
}

/// `copy_file_range`'s range, as `generic_copy_file_checks` and `rw_verify_area` judge
/// it once the files are known to be regular, open the right way and on one
/// filesystem: `EOVERFLOW` if either end wraps, the count cut at the source's end
/// (`size_in`), `EFBIG` for a destination offset at or past the largest file,
/// `EINVAL` for overlapping ranges of one file (`same_file`) or a negative offset.
/// Returns the bytes to copy.
pub fn copy_range(
    pos_in: i64,
    size_in: u64,
    pos_out: i64,
    count: u64,
    same_file: bool,
) -> Result<u64, Errno> {
    let wraps = |pos: i64| (pos as u64).checked_add(count).is_none();
    if wraps(pos_in) || wraps(pos_out) {
        return Err(Errno::EOVERFLOW);
    }
    let mut count = if pos_in >= 0 && pos_in as u64 >= size_in {
        0
    } else {
        count.min(size_in.wrapping_sub(pos_in as u64))
    };
    if pos_out >= 0 {
        // `generic_write_check_limits`: `s_maxbytes` is `MAX_LFS_FILESIZE` everywhere here.
        count = count.min(i64::MAX as u64 - pos_out as u64);
    }
    if pos_out == i64::MAX {
        return Err(Errno::EFBIG);
    }
    if same_file
        && (pos_out as u64).wrapping_add(count) > pos_in as u64
        && (pos_out as u64) < (pos_in as u64).wrapping_add(count)
    {
        return Err(Errno::EINVAL);
    }
    verify_area(pos_in, count)?;
    verify_area(pos_out, count)?;
    Ok(count)
}

/// `SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER`.
pub const SYNC_FILE_RANGE_ALL: u32 = 0x7;

/// `sync_file_range`'s arguments (`EINVAL`): known flags, a non-negative offset and
/// length whose end does not wrap.
pub fn check_sync_range(offset: i64, nbytes: i64, flags: u64) -> Result<(), Errno> {
    if flags as u32 & !SYNC_FILE_RANGE_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let end = offset.wrapping_add(nbytes);
    if offset < 0 || end < 0 || end < offset {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_linux_6_1s() {
        assert_eq!(RwFlags::parse(0), Ok(RwFlags::default()));
        let all = RwFlags::parse(u64::from(rwf::ALL)).unwrap();
        assert!(all.nowait && all.append && all.sync);
        assert_eq!(
            RwFlags::parse(u64::from(rwf::HIPRI)),
            Ok(RwFlags::default())
        );
        // RWF_NOAPPEND, RWF_ATOMIC, RWF_DONTCACHE, RWF_NOSIGNAL came later; an unknown
        // bit anywhere in the int is EOPNOTSUPP, the register's upper half is ignored.
        for unknown in [0x20, 0x40, 0x80, 0x100, 0x200, 0x8000_0000] {
            assert_eq!(
                RwFlags::parse(unknown),
                Err(Errno::EOPNOTSUPP),
                "{unknown:#x}"
            );
        }
        assert_eq!(RwFlags::parse(1 << 40), Ok(RwFlags::default()));
    }

    #[test]
    fn minus_one_is_the_position_only_for_the_v2_calls() {
        assert_eq!(place_of(u64::MAX, true), Ok(Place::Position));
        assert_eq!(place_of(u64::MAX, false), Err(Errno::EINVAL));
        assert_eq!(place_of(-2i64 as u64, true), Err(Errno::EINVAL));
        assert_eq!(place_of(7, true), Ok(Place::At(7)));
    }

    #[test]
    fn iovecs_are_clamped_to_max_rw_count() {
        let mut vectors = [(0, 10), (0, MAX_RW_COUNT), (0, 5)];
        clamp_iovecs(&mut vectors).unwrap();
        assert_eq!(vectors, [(0, 10), (0, MAX_RW_COUNT - 10), (0, 0)]);
        let mut negative = [(0, 1), (0, 1u64 << 63)];
        assert_eq!(clamp_iovecs(&mut negative), Err(Errno::EINVAL));
        let raw: Vec<u8> = [1u64, 2, 3, 4]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(decode_iovecs(&raw), [(1, 2), (3, 4)]);
    }

    #[test]
    fn areas_are_verified_as_rw_verify_area() {
        assert_eq!(verify_area(0, 10), Ok(()));
        assert_eq!(verify_area(-1, 10), Err(Errno::EINVAL));
        assert_eq!(verify_area(i64::MAX - 5, 10), Err(Errno::EINVAL));
        assert_eq!(verify_area(0, 1 << 63), Err(Errno::EINVAL));
    }

    #[test]
    fn splice_flags() {
        assert_eq!(splice_nonblock(0), Ok(false));
        assert_eq!(splice_nonblock(u64::from(splice::ALL)), Ok(true));
        assert_eq!(splice_nonblock(0x10), Err(Errno::EINVAL));
    }

    #[test]
    fn copy_ranges_follow_generic_copy_file_checks() {
        // Cut at the source's end; nothing past it.
        assert_eq!(copy_range(0, 100, 0, 1000, false), Ok(100));
        assert_eq!(copy_range(100, 100, 0, 1000, false), Ok(0));
        assert_eq!(copy_range(200, 100, 0, 1000, false), Ok(0));
        // One file: overlapping ranges are EINVAL, disjoint ones fine, and the check is
        // made on the count after the cut.
        assert_eq!(copy_range(0, 100, 50, 100, true), Err(Errno::EINVAL));
        assert_eq!(copy_range(0, 100, 100, 100, true), Ok(100));
        assert_eq!(copy_range(40, 100, 0, 1000, true), Err(Errno::EINVAL));
        assert_eq!(copy_range(50, 100, 0, 1000, true), Ok(50));
        assert_eq!(copy_range(90, 100, 0, 1000, true), Ok(10));
        // Wrapping ends, negative offsets, the largest file.
        assert_eq!(
            copy_range(0, 100, 10, u64::MAX, false),
            Err(Errno::EOVERFLOW)
        );
        // A negative offset wraps as an unsigned sum when the count reaches past it.
        assert_eq!(copy_range(-1, 100, 0, 10, false), Err(Errno::EOVERFLOW));
        assert_eq!(copy_range(0, 100, -1, 10, false), Err(Errno::EOVERFLOW));
        assert_eq!(copy_range(-100, 100, 0, 10, false), Err(Errno::EINVAL));
        assert_eq!(copy_range(0, 100, -100, 10, false), Err(Errno::EINVAL));
        assert_eq!(copy_range(0, 100, i64::MAX, 10, false), Err(Errno::EFBIG));
        assert_eq!(copy_range(0, 100, i64::MAX - 4, 10, false), Ok(4));
    }

    #[test]
    fn sync_ranges() {
        assert_eq!(check_sync_range(0, 0, 7), Ok(()));
        assert_eq!(check_sync_range(0, 0, 8), Err(Errno::EINVAL));
        assert_eq!(check_sync_range(-1, 0, 0), Err(Errno::EINVAL));
        assert_eq!(check_sync_range(0, -1, 0), Err(Errno::EINVAL));
        assert_eq!(check_sync_range(i64::MAX, 1, 0), Err(Errno::EINVAL));
    }
}
