//! Control messages (`cmsg`) of Unix sockets: the `SCM_RIGHTS` (descriptors) and
//! `SCM_CREDENTIALS` (pid, uid, gid) a sender attaches, parsed as Linux's `__scm_send`
//! does, and the control buffer a receiver gets, filled as `put_cmsg` and
//! `scm_detach_fds` fill it (truncation sets `MSG_CTRUNC`; descriptors that do not fit
//! are closed). Pure and host-tested; resolving and installing descriptors is the
//! kernel's part.

use alloc::vec::Vec;

use vfs_core::Errno;

use crate::abi::{read_u32, read_u64};
use crate::net::SOL_SOCKET;

pub const SCM_RIGHTS: i32 = 1;
pub const SCM_CREDENTIALS: i32 = 2;
/// Linux's `SCM_MAX_FD`: the most descriptors one message carries (`EINVAL` past it).
pub const SCM_MAX_FD: usize = 253;
/// `sizeof(struct cmsghdr)`: `cmsg_len` (a `size_t`), `cmsg_level`, `cmsg_type`.
pub const CMSG_HEADER_LEN: usize = 16;
/// `sizeof(struct ucred)`.
pub const UCRED_LEN: usize = 12;

pub const fn cmsg_align(len: usize) -> usize {
    (len + 7) & !7
}

/// `CMSG_LEN`: a header and `data` bytes.
pub const fn cmsg_len(data: usize) -> usize {
    CMSG_HEADER_LEN + data
}

/// `CMSG_SPACE`: what a message with `data` bytes takes, padding included.
pub const fn cmsg_space(data: usize) -> usize {
    CMSG_HEADER_LEN + cmsg_align(data)
}

/// A process's credentials as sockets carry them (`struct ucred`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ucred {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Ucred {
    /// What a receiver sees for a message that carried none: pid 0, the overflow ids.
    pub const NONE: Ucred = Ucred {
        pid: 0,
        uid: 65534,
        gid: 65534,
    };

    pub fn encode(&self) -> [u8; UCRED_LEN] {
        let mut out = [0u8; UCRED_LEN];
        out[0..4].copy_from_slice(&self.pid.to_le_bytes());
        out[4..8].copy_from_slice(&self.uid.to_le_bytes());
        out[8..12].copy_from_slice(&self.gid.to_le_bytes());
        out
    }
}

/// What a sender attached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendControl {
    /// Descriptors, in order, across every `SCM_RIGHTS` message.
    pub fds: Vec<i32>,
    /// The credentials claimed by the last `SCM_CREDENTIALS` message.
    pub credentials: Option<Ucred>,
}

/// `__scm_send`'s walk over the control buffer: a header that is too short or runs past
/// the buffer is `EINVAL`, as are unknown `SOL_SOCKET` types, a credentials message of
/// the wrong size and more than [`SCM_MAX_FD`] descriptors; other levels are skipped.
pub fn parse(control: &[u8]) -> Result<SendControl, Errno> {
    let mut parsed = SendControl::default();
    let mut offset = 0;
    while control.len() - offset >= CMSG_HEADER_LEN {
        let len = read_u64(control, offset);
        let level = read_u32(control, offset + 8) as i32;
        let kind = read_u32(control, offset + 12) as i32;
        if len < CMSG_HEADER_LEN as u64 || len > (control.len() - offset) as u64 {
            return Err(Errno::EINVAL);
        }
        let len = len as usize;
        let data = &control[offset + CMSG_HEADER_LEN..offset + len];
        if level == SOL_SOCKET {
            match kind {
                SCM_RIGHTS => {
                    let count = data.len() / 4;
                    if parsed.fds.len() + count > SCM_MAX_FD {
                        return Err(Errno::EINVAL);
                    }
                    parsed
                        .fds
                        .extend((0..count).map(|index| read_u32(data, index * 4) as i32));
                }
                SCM_CREDENTIALS => {
                    if len != cmsg_len(UCRED_LEN) {
                        return Err(Errno::EINVAL);
                    }
                    parsed.credentials = Some(Ucred {
                        pid: read_u32(data, 0),
                        uid: read_u32(data, 4),
                        gid: read_u32(data, 8),
                    });
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        // `CMSG_NXTHDR`: the next header must fit whole in what is left.
        let next = offset + cmsg_align(len);
        if next > control.len() {
            break;
        }
        offset = next;
    }
    Ok(parsed)
}

/// The receiver's control buffer as it fills: `room` is the `msg_controllen` it gave.
#[derive(Debug)]
pub struct ControlOut {
    bytes: Vec<u8>,
    room: usize,
    /// `MSG_CTRUNC`: something did not fit.
    pub truncated: bool,
}

impl ControlOut {
    pub fn new(room: usize) -> ControlOut {
        ControlOut {
            bytes: Vec::new(),
            room,
            truncated: false,
        }
    }

    fn left(&self) -> usize {
        self.room - self.bytes.len()
    }

    /// `put_cmsg`: a whole message if it fits, else as much as fits with its
    /// `cmsg_len` saying so, and `MSG_CTRUNC`; nothing (but the flag) below a header.
    pub fn put(&mut self, level: i32, kind: i32, data: &[u8]) {
        if self.left() < CMSG_HEADER_LEN {
            self.truncated = true;
            return;
        }
        let mut len = cmsg_len(data.len());
        if self.left() < len {
            self.truncated = true;
            len = self.left();
        }
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&(len as u64).to_le_bytes());
        self.bytes.extend_from_slice(&level.to_le_bytes());
        self.bytes.extend_from_slice(&kind.to_le_bytes());
        self.bytes.extend_from_slice(&data[..len - CMSG_HEADER_LEN]);
        let advance = cmsg_space(data.len()).min(self.room - start);
        self.bytes.resize(start + advance, 0);
    }

    /// `scm_max_fds`: how many descriptors an `SCM_RIGHTS` message may hold in what is left.
    pub fn rights_room(&self) -> usize {
        let left = self.left();
        if left <= CMSG_HEADER_LEN {
            0
        } else {
            (left - CMSG_HEADER_LEN) / 4
        }
    }

    /// The tail of `scm_detach_fds`: `installed` of the `offered` descriptors made it into
    /// the receiver's table; the rest were closed (`MSG_CTRUNC`).
    pub fn put_rights(&mut self, installed: &[i32], offered: usize) {
        if !installed.is_empty() {
            let start = self.bytes.len();
            let len = cmsg_len(installed.len() * 4);
            self.bytes.extend_from_slice(&(len as u64).to_le_bytes());
            self.bytes.extend_from_slice(&SOL_SOCKET.to_le_bytes());
            self.bytes.extend_from_slice(&SCM_RIGHTS.to_le_bytes());
            for fd in installed {
                self.bytes.extend_from_slice(&fd.to_le_bytes());
            }
            let advance = cmsg_space(installed.len() * 4).min(self.room - start);
            self.bytes.resize(start + advance, 0);
        }
        if installed.len() < offered {
            self.truncated = true;
        }
    }

    /// The bytes to copy to the caller's buffer; their length is the new `msg_controllen`.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmsg(level: i32, kind: i32, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(cmsg_len(data.len()) as u64).to_le_bytes());
        out.extend_from_slice(&level.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(data);
        out.resize(cmsg_space(data.len()), 0);
        out
    }

    fn fds(list: &[i32]) -> Vec<u8> {
        list.iter().flat_map(|fd| fd.to_le_bytes()).collect()
    }

    #[test]
    fn rights_and_credentials_are_read_in_order() {
        let creds = Ucred {
            pid: 7,
            uid: 1000,
            gid: 100,
        };
        let mut control = cmsg(SOL_SOCKET, SCM_RIGHTS, &fds(&[3, 4]));
        control.extend(cmsg(6, 99, b"other level"));
        control.extend(cmsg(SOL_SOCKET, SCM_CREDENTIALS, &creds.encode()));
        control.extend(cmsg(SOL_SOCKET, SCM_RIGHTS, &fds(&[5])));
        let parsed = parse(&control).unwrap();
        assert_eq!(parsed.fds, [3, 4, 5]);
        assert_eq!(parsed.credentials, Some(creds));
        // Fewer bytes than a header: nothing at all.
        assert_eq!(parse(&[0u8; 15]).unwrap(), SendControl::default());
    }

    #[test]
    fn malformed_control_is_einval() {
        let mut short = cmsg(SOL_SOCKET, SCM_RIGHTS, &fds(&[3]));
        short[0..8].copy_from_slice(&8u64.to_le_bytes());
        assert_eq!(parse(&short), Err(Errno::EINVAL));
        let mut long = cmsg(SOL_SOCKET, SCM_RIGHTS, &fds(&[3]));
        long[0..8].copy_from_slice(&100u64.to_le_bytes());
        assert_eq!(parse(&long), Err(Errno::EINVAL));
        assert_eq!(
            parse(&cmsg(SOL_SOCKET, 77, b"")),
            Err(Errno::EINVAL),
            "an unknown SOL_SOCKET type"
        );
        assert_eq!(
            parse(&cmsg(SOL_SOCKET, SCM_CREDENTIALS, &[0u8; 8])),
            Err(Errno::EINVAL)
        );
        let many: Vec<i32> = (0..254).collect();
        assert_eq!(
            parse(&cmsg(SOL_SOCKET, SCM_RIGHTS, &fds(&many))),
            Err(Errno::EINVAL)
        );
        let most: Vec<i32> = (0..253).collect();
        assert_eq!(
            parse(&cmsg(SOL_SOCKET, SCM_RIGHTS, &fds(&most)))
                .unwrap()
                .fds
                .len(),
            253
        );
        let mut split = cmsg(SOL_SOCKET, SCM_RIGHTS, &fds(&most[..200]));
        split.extend(cmsg(SOL_SOCKET, SCM_RIGHTS, &fds(&most[..54])));
        assert_eq!(parse(&split), Err(Errno::EINVAL), "253 per message in all");
    }

    #[test]
    fn the_receivers_buffer_fills_like_linux() {
        let creds = Ucred {
            pid: 1,
            uid: 2,
            gid: 3,
        };
        let mut out = ControlOut::new(64);
        out.put(SOL_SOCKET, SCM_CREDENTIALS, &creds.encode());
        assert_eq!(
            out.bytes(),
            cmsg(SOL_SOCKET, SCM_CREDENTIALS, &creds.encode()).as_slice()
        );
        assert_eq!(out.rights_room(), (64 - 32 - 16) / 4);
        out.put_rights(&[9, 10], 2);
        assert!(!out.truncated);
        assert_eq!(out.bytes().len(), 32 + 24);
        assert_eq!(
            &out.bytes()[32..],
            cmsg(SOL_SOCKET, SCM_RIGHTS, &fds(&[9, 10])).as_slice()
        );
    }

    #[test]
    fn what_does_not_fit_is_truncated() {
        let creds = Ucred {
            pid: 1,
            uid: 2,
            gid: 3,
        };
        // Room for a header and part of the credentials.
        let mut out = ControlOut::new(20);
        out.put(SOL_SOCKET, SCM_CREDENTIALS, &creds.encode());
        assert!(out.truncated);
        assert_eq!(out.bytes().len(), 20);
        assert_eq!(
            read_u64(out.bytes(), 0),
            20,
            "cmsg_len says what was written"
        );
        // Under a header: nothing, and no room for descriptors.
        let mut out = ControlOut::new(10);
        out.put(SOL_SOCKET, SCM_CREDENTIALS, &creds.encode());
        assert!(out.truncated && out.bytes().is_empty());
        assert_eq!(out.rights_room(), 0);
        // One descriptor of three fits: its message, unpadded to the room left.
        let mut out = ControlOut::new(20);
        assert_eq!(out.rights_room(), 1);
        out.put_rights(&[4], 3);
        assert!(out.truncated);
        assert_eq!(out.bytes().len(), 20);
        assert_eq!(read_u64(out.bytes(), 0), 20);
    }
}
