//! The user structures of `sendmsg`/`recvmsg` and their batch forms (`struct msghdr`,
//! `struct mmsghdr`, `struct iovec`), decoded and checked as Linux's `__copy_msghdr` and
//! `import_iovec` do. Pure decoding: reading user memory is the system call's job.

use alloc::vec::Vec;

use vfs_core::Errno;

use crate::abi::{read_u32, read_u64};

/// `sizeof(struct msghdr)` on x86_64.
pub const MSGHDR_LEN: usize = 56;
/// `sizeof(struct mmsghdr)`: a `msghdr`, the `msg_len` the call fills in, padding.
pub const MMSGHDR_LEN: usize = 64;
/// Where `recvmsg` writes back `msg_namelen`, `msg_controllen` and `msg_flags`, and where
/// the batch calls write `msg_len`.
pub const NAMELEN_OFFSET: usize = 8;
pub const CONTROLLEN_OFFSET: usize = 40;
pub const FLAGS_OFFSET: usize = 48;
pub const MMSG_LEN_OFFSET: usize = 56;
/// `sizeof(struct iovec)`.
pub const IOVEC_LEN: usize = 16;
/// Linux's `MAX_RW_COUNT`: one call moves at most this many bytes.
pub const MAX_RW_COUNT: u64 = 0x7fff_f000;

/// A `struct msghdr` as the caller gave it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsgHdr {
    pub name: u64,
    /// `msg_namelen` (an `int`): 0 when `name` is NULL, at most `sizeof(sockaddr_storage)`.
    pub name_len: u32,
    /// The caller's `msg_namelen` as given (`recvmsg` reads the room it has from it).
    pub name_room: i32,
    pub iov: u64,
    pub iov_len: u64,
    pub control: u64,
    pub control_len: u64,
}

impl MsgHdr {
    /// Decodes `bytes` (at least [`MSGHDR_LEN`] of them): a negative name length is
    /// `EINVAL`, more than `UIO_MAXIOV` vectors `EMSGSIZE`; a name length past a
    /// `sockaddr_storage` is clamped to one, as Linux does.
    pub fn decode(bytes: &[u8]) -> Result<MsgHdr, Errno> {
        let name = read_u64(bytes, 0);
        let name_room = read_u32(bytes, NAMELEN_OFFSET) as i32;
        let name_len = if name == 0 { 0 } else { name_room };
        if name_len < 0 {
            return Err(Errno::EINVAL);
        }
        let name_len = (name_len as u32).min(super::SOCKADDR_STORAGE_LEN as u32);
        let header = MsgHdr {
            name,
            name_len,
            name_room,
            iov: read_u64(bytes, 16),
            iov_len: read_u64(bytes, 24),
            control: read_u64(bytes, 32),
            control_len: read_u64(bytes, CONTROLLEN_OFFSET),
        };
        if header.iov_len > super::UIO_MAXIOV {
            return Err(Errno::EMSGSIZE);
        }
        Ok(header)
    }
}

/// The `(base, len)` pairs of an `iovec` array: a length that is negative as an
/// `ssize_t` is `EINVAL`; lengths past `MAX_RW_COUNT` in all are cut down to it.
pub fn decode_iovecs(bytes: &[u8]) -> Result<Vec<(u64, u64)>, Errno> {
    let mut total = 0u64;
    let mut vectors = Vec::with_capacity(bytes.len() / IOVEC_LEN);
    for raw in bytes.chunks_exact(IOVEC_LEN) {
        let (base, len) = (read_u64(raw, 0), read_u64(raw, 8));
        if (len as i64) < 0 {
            return Err(Errno::EINVAL);
        }
        let len = len.min(MAX_RW_COUNT - total);
        total += len;
        vectors.push((base, len));
    }
    Ok(vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: u64, name_len: i32, iov_len: u64) -> Vec<u8> {
        let mut bytes = vec![0u8; MSGHDR_LEN];
        bytes[0..8].copy_from_slice(&name.to_le_bytes());
        bytes[8..12].copy_from_slice(&name_len.to_le_bytes());
        bytes[16..24].copy_from_slice(&0x1000u64.to_le_bytes());
        bytes[24..32].copy_from_slice(&iov_len.to_le_bytes());
        bytes[32..40].copy_from_slice(&0x2000u64.to_le_bytes());
        bytes[40..48].copy_from_slice(&24u64.to_le_bytes());
        bytes
    }

    #[test]
    fn a_msghdr_decodes_with_linux_checks() {
        let decoded = MsgHdr::decode(&header(0x3000, 16, 2)).unwrap();
        assert_eq!(
            (decoded.name, decoded.name_len, decoded.iov, decoded.iov_len),
            (0x3000, 16, 0x1000, 2)
        );
        assert_eq!((decoded.control, decoded.control_len), (0x2000, 24));
        // A NULL name has no length, whatever the field says.
        assert_eq!(MsgHdr::decode(&header(0, 16, 1)).unwrap().name_len, 0);
        assert_eq!(MsgHdr::decode(&header(0, -1, 1)).unwrap().name_len, 0);
        assert_eq!(MsgHdr::decode(&header(0x3000, -1, 1)), Err(Errno::EINVAL));
        assert_eq!(
            MsgHdr::decode(&header(0x3000, 4000, 1)).unwrap().name_len,
            128
        );
        assert_eq!(
            MsgHdr::decode(&header(0x3000, 16, 1025)),
            Err(Errno::EMSGSIZE)
        );
        assert!(MsgHdr::decode(&header(0x3000, 16, 1024)).is_ok());
    }

    #[test]
    fn iovecs_refuse_negative_lengths_and_cap_the_total() {
        let mut bytes = Vec::new();
        for (base, len) in [(0x1000u64, 10u64), (0x2000, MAX_RW_COUNT), (0x3000, 5)] {
            bytes.extend_from_slice(&base.to_le_bytes());
            bytes.extend_from_slice(&len.to_le_bytes());
        }
        assert_eq!(
            decode_iovecs(&bytes).unwrap(),
            [(0x1000, 10), (0x2000, MAX_RW_COUNT - 10), (0x3000, 0)]
        );
        bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(decode_iovecs(&bytes), Err(Errno::EINVAL));
    }
}
