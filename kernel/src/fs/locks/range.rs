//! File locks, bottom: byte ranges. What a `struct flock` says (its x86_64 layout, the
//! lock type, `l_whence`/`l_start`/`l_len` turned into a range as Linux's
//! `flock64_to_posix_lock` does, errors included), and how one owner's ranges change when
//! it locks or unlocks a range (Linux's `posix_lock_inode`: the new range replaces what
//! it covers, splitting ranges it falls inside, and joins same-type ranges it overlaps or
//! touches). Pure functions, host-tested.

use alloc::vec::Vec;

use vfs_core::Errno;

/// The last byte offset a range can reach (Linux's `OFFSET_MAX`): a range ending here
/// runs to end of file and beyond (`l_len` 0).
pub const OFFSET_MAX: u64 = i64::MAX as u64;

/// `l_type` values.
pub const F_RDLCK: i16 = 0;
pub const F_WRLCK: i16 = 1;
pub const F_UNLCK: i16 = 2;

/// `l_whence` values.
pub const SEEK_SET: i16 = 0;
pub const SEEK_CUR: i16 = 1;
pub const SEEK_END: i16 = 2;

/// `sizeof(struct flock)` on x86_64: `l_type` and `l_whence` (2 bytes each), 4 bytes of
/// padding, `l_start` and `l_len` (8 each), `l_pid` (4), 4 bytes of padding.
pub const FLOCK_SIZE: usize = 32;

/// A lock's kind: shared (`F_RDLCK`, `LOCK_SH`) or exclusive (`F_WRLCK`, `LOCK_EX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
}

impl Kind {
    /// Two locks conflict when either is exclusive (Linux's `locks_conflict`).
    pub fn conflicts_with(self, other: Kind) -> bool {
        self == Kind::Write || other == Kind::Write
    }

    pub fn l_type(self) -> i16 {
        match self {
            Kind::Read => F_RDLCK,
            Kind::Write => F_WRLCK,
        }
    }
}

/// An `l_type` as a lock kind, `None` for `F_UNLCK`; anything else is `EINVAL` (Linux's
/// `assign_type`).
pub fn decode_type(l_type: i16) -> Result<Option<Kind>, Errno> {
    match l_type {
        F_RDLCK => Ok(Some(Kind::Read)),
        F_WRLCK => Ok(Some(Kind::Write)),
        F_UNLCK => Ok(None),
        _ => Err(Errno::EINVAL),
    }
}

/// A `struct flock` as user memory holds it. The padding is kept so that `F_GETLK`
/// writes back exactly what it read but for the fields it sets, as Linux copies the
/// whole structure in and out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flock {
    raw: [u8; FLOCK_SIZE],
}

impl Flock {
    pub fn from_bytes(bytes: &[u8]) -> Flock {
        let mut raw = [0u8; FLOCK_SIZE];
        let len = bytes.len().min(FLOCK_SIZE);
        raw[..len].copy_from_slice(&bytes[..len]);
        Flock { raw }
    }

    pub fn bytes(&self) -> &[u8; FLOCK_SIZE] {
        &self.raw
    }

    fn i16_at(&self, at: usize) -> i16 {
        i16::from_le_bytes([self.raw[at], self.raw[at + 1]])
    }

    fn i64_at(&self, at: usize) -> i64 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&self.raw[at..at + 8]);
        i64::from_le_bytes(bytes)
    }

    pub fn l_type(&self) -> i16 {
        self.i16_at(0)
    }

    pub fn l_whence(&self) -> i16 {
        self.i16_at(2)
    }

    pub fn l_start(&self) -> i64 {
        self.i64_at(8)
    }

    pub fn l_len(&self) -> i64 {
        self.i64_at(16)
    }

    pub fn l_pid(&self) -> i32 {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&self.raw[24..28]);
        i32::from_le_bytes(bytes)
    }

    pub fn set_l_type(&mut self, l_type: i16) {
        self.raw[0..2].copy_from_slice(&l_type.to_le_bytes());
    }

    /// What `F_GETLK` reports of a conflicting lock (Linux's `posix_lock_to_flock`):
    /// its type, `l_whence` `SEEK_SET`, its start, its length (0 when it runs to the
    /// end), and its holder's pid.
    pub fn describe(&mut self, kind: Kind, span: Span, pid: i32) {
        self.set_l_type(kind.l_type());
        self.raw[2..4].copy_from_slice(&SEEK_SET.to_le_bytes());
        self.raw[8..16].copy_from_slice(&(span.start as i64).to_le_bytes());
        self.raw[16..24].copy_from_slice(&(span.l_len() as i64).to_le_bytes());
        self.raw[24..28].copy_from_slice(&pid.to_le_bytes());
    }
}

/// Bytes `start..=end` of a file; `end` is [`OFFSET_MAX`] for a range that runs on past
/// the end of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    /// The range from `start` on: to end of file and beyond.
    pub const fn from(start: u64) -> Span {
        Span {
            start,
            end: OFFSET_MAX,
        }
    }

    pub fn overlaps(&self, other: &Span) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    /// `l_len` for it: 0 when it runs to the end.
    pub fn l_len(&self) -> u64 {
        if self.end == OFFSET_MAX {
            0
        } else {
            self.end - self.start + 1
        }
    }
}

/// Where `l_whence` measures `l_start` from; an unknown value is `EINVAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Start,
    Position,
    End,
}

pub fn decode_whence(l_whence: i16) -> Result<Origin, Errno> {
    match l_whence {
        SEEK_SET => Ok(Origin::Start),
        SEEK_CUR => Ok(Origin::Position),
        SEEK_END => Ok(Origin::End),
        _ => Err(Errno::EINVAL),
    }
}

/// The range `l_start`/`l_len` name from `base` (0, the file offset, or the file's
/// size, as `l_whence` says), by Linux's rules: a start past [`OFFSET_MAX`] or a length
/// running past it is `EOVERFLOW`; a start before 0 is `EINVAL`; a negative length
/// covers the bytes before the start (`EINVAL` if they would begin before 0); length 0
/// runs to the end and beyond.
pub fn span(base: u64, l_start: i64, l_len: i64) -> Result<Span, Errno> {
    let max = i64::MAX;
    let base = i64::try_from(base).map_err(|_| Errno::EOVERFLOW)?;
    if l_start > max - base {
        return Err(Errno::EOVERFLOW);
    }
    let start = base + l_start;
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    let (start, end) = if l_len > 0 {
        if l_len - 1 > max - start {
            return Err(Errno::EOVERFLOW);
        }
        (start, start + (l_len - 1))
    } else if l_len < 0 {
        // `start + l_len` cannot overflow: start is at least 0 and l_len below 0.
        if start + l_len < 0 {
            return Err(Errno::EINVAL);
        }
        (start + l_len, start - 1)
    } else {
        (start, max)
    };
    Ok(Span {
        start: start as u64,
        end: end as u64,
    })
}

/// One range an owner holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    pub span: Span,
    pub kind: Kind,
}

/// One owner's ranges after it locks `span` as `kind` (`None`: unlocks it), from its
/// ranges before (sorted, disjoint, same-type neighbours never touching, as this keeps
/// them). The result is sorted by start and keeps the same properties: what `span`
/// covers is taken out of every old range (one inside it splits in two), the new range
/// goes in, and it absorbs same-type ranges that touch it.
pub fn apply(held: &[Held], span: Span, kind: Option<Kind>) -> Vec<Held> {
    let mut out = Vec::with_capacity(held.len() + 2);
    for range in held {
        if !range.span.overlaps(&span) {
            out.push(*range);
            continue;
        }
        if range.span.start < span.start {
            out.push(Held {
                span: Span {
                    start: range.span.start,
                    end: span.start - 1,
                },
                kind: range.kind,
            });
        }
        if range.span.end > span.end {
            out.push(Held {
                span: Span {
                    start: span.end + 1,
                    end: range.span.end,
                },
                kind: range.kind,
            });
        }
    }
    if let Some(kind) = kind {
        let mut joined = span;
        // Compare with `start - 1` and `end + 1` only where they exist: a range at 0 has
        // nothing before it, one at OFFSET_MAX nothing after.
        out.retain(|range| {
            let before =
                range.kind == kind && joined.start > 0 && range.span.end == joined.start - 1;
            let after =
                range.kind == kind && joined.end < OFFSET_MAX && range.span.start == joined.end + 1;
            if before {
                joined.start = range.span.start;
            }
            if after {
                joined.end = range.span.end;
            }
            !(before || after)
        });
        out.push(Held { span: joined, kind });
    }
    out.sort_by_key(|range| range.span.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(start: u64, end: u64, kind: Kind) -> Held {
        Held {
            span: Span { start, end },
            kind,
        }
    }

    use Kind::{Read, Write};

    #[test]
    fn spans_follow_whence_start_and_length() {
        assert_eq!(span(0, 10, 5), Ok(Span { start: 10, end: 14 }));
        assert_eq!(span(100, -10, 5), Ok(Span { start: 90, end: 94 }));
        // Length 0: from the start to the end and beyond.
        assert_eq!(span(0, 7, 0), Ok(Span::from(7)));
        // A negative length covers the bytes before the start.
        assert_eq!(span(0, 50, -10), Ok(Span { start: 40, end: 49 }));
        assert_eq!(span(0, 10, -10), Ok(Span { start: 0, end: 9 }));
    }

    #[test]
    fn spans_refuse_what_linux_refuses() {
        assert_eq!(span(0, -1, 1), Err(Errno::EINVAL));
        assert_eq!(span(5, -6, 1), Err(Errno::EINVAL));
        assert_eq!(span(0, 5, -10), Err(Errno::EINVAL));
        assert_eq!(span(0, i64::MAX, 2), Err(Errno::EOVERFLOW));
        assert_eq!(span(10, i64::MAX - 5, 1), Err(Errno::EOVERFLOW));
        assert_eq!(span(0, i64::MAX, 1), Ok(Span::from(OFFSET_MAX)));
        assert_eq!(span(0, 0, i64::MIN), Err(Errno::EINVAL));
        assert_eq!(span(0, i64::MAX, i64::MIN), Err(Errno::EINVAL));
    }

    #[test]
    fn flock_fields_read_and_written_in_place() {
        let mut bytes = [0xaau8; FLOCK_SIZE];
        bytes[0..2].copy_from_slice(&1i16.to_le_bytes());
        bytes[2..4].copy_from_slice(&2i16.to_le_bytes());
        bytes[8..16].copy_from_slice(&(-3i64).to_le_bytes());
        bytes[16..24].copy_from_slice(&9i64.to_le_bytes());
        bytes[24..28].copy_from_slice(&42i32.to_le_bytes());
        let mut flock = Flock::from_bytes(&bytes);
        assert_eq!(
            (
                flock.l_type(),
                flock.l_whence(),
                flock.l_start(),
                flock.l_len(),
                flock.l_pid()
            ),
            (1, 2, -3, 9, 42)
        );
        flock.describe(Read, Span::from(5), 7);
        assert_eq!(
            (
                flock.l_type(),
                flock.l_whence(),
                flock.l_start(),
                flock.l_len(),
                flock.l_pid()
            ),
            (0, 0, 5, 0, 7)
        );
        // Padding is what the caller had there.
        assert_eq!(&flock.bytes()[4..8], &[0xaa; 4]);
        assert_eq!(&flock.bytes()[28..32], &[0xaa; 4]);
    }

    #[test]
    fn types_and_whence_decode() {
        assert_eq!(decode_type(0), Ok(Some(Read)));
        assert_eq!(decode_type(1), Ok(Some(Write)));
        assert_eq!(decode_type(2), Ok(None));
        assert_eq!(decode_type(3), Err(Errno::EINVAL));
        assert_eq!(decode_whence(1), Ok(Origin::Position));
        assert_eq!(decode_whence(3), Err(Errno::EINVAL));
        assert_eq!(decode_whence(-1), Err(Errno::EINVAL));
    }

    #[test]
    fn a_lock_inside_another_of_the_other_type_splits_it() {
        let before = [held(0, 99, Read)];
        assert_eq!(
            apply(&before, Span { start: 10, end: 19 }, Some(Write)),
            [held(0, 9, Read), held(10, 19, Write), held(20, 99, Read)]
        );
        // Unlocking the middle leaves the two ends.
        assert_eq!(
            apply(&before, Span { start: 10, end: 19 }, None),
            [held(0, 9, Read), held(20, 99, Read)]
        );
    }

    #[test]
    fn same_type_ranges_that_touch_or_overlap_merge() {
        let before = [held(0, 9, Read), held(20, 29, Read)];
        assert_eq!(
            apply(&before, Span { start: 10, end: 19 }, Some(Read)),
            [held(0, 29, Read)]
        );
        assert_eq!(
            apply(&before, Span { start: 5, end: 24 }, Some(Read)),
            [held(0, 29, Read)]
        );
        // A different type does not merge, it only takes its bytes.
        assert_eq!(
            apply(&before, Span { start: 5, end: 24 }, Some(Write)),
            [held(0, 4, Read), held(5, 24, Write), held(25, 29, Read)]
        );
        // Re-locking a piece back to the type around it makes one range again.
        let split = apply(
            &[held(0, 99, Read)],
            Span { start: 10, end: 19 },
            Some(Write),
        );
        assert_eq!(
            apply(&split, Span { start: 10, end: 19 }, Some(Read)),
            [held(0, 99, Read)]
        );
    }

    #[test]
    fn ranges_to_the_end_and_at_zero() {
        let before = [held(10, OFFSET_MAX, Write)];
        assert_eq!(apply(&before, Span::from(50), None), [held(10, 49, Write)]);
        assert_eq!(
            apply(&before, Span { start: 0, end: 9 }, Some(Write)),
            [held(0, OFFSET_MAX, Write)]
        );
        assert_eq!(apply(&before, Span::from(0), None), []);
        assert_eq!(
            apply(&[], Span::from(OFFSET_MAX), Some(Read)),
            [held(OFFSET_MAX, OFFSET_MAX, Read)]
        );
    }

    #[test]
    fn unlocking_what_is_not_held_changes_nothing() {
        let before = [held(0, 9, Read), held(30, 39, Write)];
        assert_eq!(apply(&before, Span { start: 10, end: 29 }, None), before);
        assert_eq!(apply(&[], Span::from(0), None), []);
    }

    #[test]
    fn span_lengths() {
        assert_eq!(Span { start: 3, end: 3 }.l_len(), 1);
        assert_eq!(Span { start: 40, end: 49 }.l_len(), 10);
        assert_eq!(Span::from(9).l_len(), 0);
    }
}
