//! Unix socket addresses (`struct sockaddr_un`): what `bind`, `connect` and `sendto` take
//! and `getsockname`, `getpeername`, `accept` and `recvfrom` give back, with Linux's rules
//! (`unix_validate_addr`, `unix_mkname_bsd`, autobind names).
//!
//! A name is a path (`sun_path` up to its first NUL; the socket is a node in the
//! filesystem) or abstract (`sun_path` starts with NUL; every byte up to the given length
//! counts, NULs included). Pure and host-tested.

use alloc::vec::Vec;

use vfs_core::Errno;

use crate::net::AF_UNIX;

/// `offsetof(struct sockaddr_un, sun_path)`: the family's two bytes.
pub const SUN_PATH_OFFSET: usize = 2;
/// `sizeof(struct sockaddr_un)`.
pub const SOCKADDR_UN_LEN: usize = 110;

/// The name a socket is bound to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum UnixAddress {
    /// A path (its bytes, without the NUL).
    Path(Vec<u8>),
    /// An abstract name: the bytes after the leading NUL.
    Abstract(Vec<u8>),
}

impl UnixAddress {
    /// The address as the calls that return one write it: the family, then the path and
    /// its NUL (Linux's length is `strlen + 3`, so a 108-byte path gives 111), or the
    /// abstract name's NUL and bytes, exactly as long as it was bound.
    pub fn to_sockaddr(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SOCKADDR_UN_LEN + 1);
        out.extend_from_slice(&AF_UNIX.to_le_bytes());
        match self {
            UnixAddress::Path(path) => {
                out.extend_from_slice(path);
                out.push(0);
            }
            UnixAddress::Abstract(name) => {
                out.push(0);
                out.extend_from_slice(name);
            }
        }
        out
    }

    /// The autobind name with this number: NUL and five hex digits, as Linux makes them.
    pub fn autobind(number: u32) -> UnixAddress {
        let digits = b"0123456789abcdef";
        let name = (0..5)
            .rev()
            .map(|shift| digits[((number >> (shift * 4)) & 0xf) as usize])
            .collect();
        UnixAddress::Abstract(name)
    }
}

/// The address of an unbound socket: the family alone.
pub fn unnamed_sockaddr() -> Vec<u8> {
    AF_UNIX.to_le_bytes().to_vec()
}

/// What `bind` was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindRequest {
    /// `addrlen == sizeof(sa_family_t)`: the kernel picks an abstract name.
    Autobind,
    Name(UnixAddress),
}

/// `bind`'s address: autobind for the family alone, else as [`parse`].
pub fn parse_bind(raw: &[u8]) -> Result<BindRequest, Errno> {
    if raw.len() == SUN_PATH_OFFSET && family(raw) == AF_UNIX {
        return Ok(BindRequest::Autobind);
    }
    parse(raw).map(BindRequest::Name)
}

/// `unix_validate_addr` and `unix_mkname_bsd`: `raw` is the `addrlen` bytes the caller
/// passed. Too short (no byte of `sun_path`), longer than a `sockaddr_un`, or another
/// family is `EINVAL`.
pub fn parse(raw: &[u8]) -> Result<UnixAddress, Errno> {
    if raw.len() <= SUN_PATH_OFFSET || raw.len() > SOCKADDR_UN_LEN || family(raw) != AF_UNIX {
        return Err(Errno::EINVAL);
    }
    let path = &raw[SUN_PATH_OFFSET..];
    if path[0] == 0 {
        return Ok(UnixAddress::Abstract(path[1..].to_vec()));
    }
    let end = path
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(path.len());
    Ok(UnixAddress::Path(path[..end].to_vec()))
}

/// The family of a raw address (0 when it has fewer than two bytes).
pub fn family(raw: &[u8]) -> u16 {
    match raw {
        [low, high, ..] => u16::from_le_bytes([*low, *high]),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(path: &[u8]) -> Vec<u8> {
        let mut out = AF_UNIX.to_le_bytes().to_vec();
        out.extend_from_slice(path);
        out
    }

    #[test]
    fn paths_end_at_their_first_nul_and_come_back_with_one() {
        let address = parse(&raw(b"/tmp/sock\0garbage")).unwrap();
        assert_eq!(address, UnixAddress::Path(b"/tmp/sock".to_vec()));
        assert_eq!(address.to_sockaddr(), raw(b"/tmp/sock\0"));
        // No NUL within the length: the length ends it (108 bytes at most).
        let long = vec![b'a'; 108];
        let address = parse(&raw(&long)).unwrap();
        assert_eq!(address.to_sockaddr().len(), 111);
    }

    #[test]
    fn abstract_names_keep_every_byte() {
        let address = parse(&raw(b"\0name\0with\0nuls")).unwrap();
        assert_eq!(address, UnixAddress::Abstract(b"name\0with\0nuls".to_vec()));
        assert_eq!(address.to_sockaddr(), raw(b"\0name\0with\0nuls"));
        // The empty abstract name (just the NUL) is a name too.
        assert_eq!(
            parse(&raw(b"\0")).unwrap(),
            UnixAddress::Abstract(Vec::new())
        );
    }

    #[test]
    fn bad_addresses_are_einval() {
        assert_eq!(parse(&raw(b"")), Err(Errno::EINVAL));
        assert_eq!(parse(&[1]), Err(Errno::EINVAL));
        assert_eq!(parse(&raw(&[b'a'; 109])), Err(Errno::EINVAL));
        let mut inet = raw(b"/x");
        inet[0] = 2;
        assert_eq!(parse(&inet), Err(Errno::EINVAL));
    }

    #[test]
    fn the_family_alone_asks_for_autobind() {
        assert_eq!(parse_bind(&raw(b"")), Ok(BindRequest::Autobind));
        assert_eq!(parse_bind(&[2, 0]), Err(Errno::EINVAL));
        assert_eq!(
            UnixAddress::autobind(0xabc).to_sockaddr(),
            raw(b"\x0000abc")
        );
        assert_eq!(UnixAddress::autobind(0xfffff).to_sockaddr().len(), 8);
        assert_eq!(unnamed_sockaddr(), raw(b""));
    }
}
