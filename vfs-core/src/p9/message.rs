//! 9P2000.L messages: the requests the client sends, the replies it accepts, and their
//! framing (`size[4] type[1] tag[2] body`).
//!
//! Each message is declared once, field by field in wire order; the macro derives the
//! encoder and the decoder from that one declaration, so the two cannot disagree. Both
//! directions exist for both kinds: the client encodes requests and decodes replies; tests
//! (and a transport that wants to look inside, such as a fid-counting test channel) do the
//! reverse.

use super::wire::{Data, Decoder, Encoder, Wire, wire_struct};
use crate::errno::{Errno, Result};
use alloc::vec::Vec;

/// The tag of `Tversion`, which is answered before tags mean anything.
pub const NOTAG: u16 = 0xffff;
/// "No fid": the `afid` of an attach without authentication.
pub const NOFID: u32 = 0xffff_ffff;
/// Bytes before a message body: `size[4] type[1] tag[2]`.
pub const HEADER_SIZE: usize = 7;
/// Most names one `Twalk` may carry (`MAXWELEM`).
pub const MAX_WALK_NAMES: usize = 16;

wire_struct! {
    /// The server's identity for a file: `path` is unique per file on the server (our inode
    /// number), `kind` carries the `QT*` bits.
    pub struct Qid {
        pub kind: u8,
        pub version: u32,
        pub path: u64,
    }
}

/// `Qid::kind` bits.
pub mod qid_kind {
    pub const DIR: u8 = 0x80;
    pub const SYMLINK: u8 = 0x02;
}

wire_struct! {
    /// `Rgetattr`'s body: what the server knows of a file.
    pub struct Attr {
        /// `getattr_mask` bits saying which of the fields below are filled in.
        pub valid: u64,
        pub qid: Qid,
        pub mode: u32,
        pub uid: u32,
        pub gid: u32,
        pub nlink: u64,
        pub rdev: u64,
        pub size: u64,
        pub blksize: u64,
        pub blocks: u64,
        pub atime_sec: u64,
        pub atime_nsec: u64,
        pub mtime_sec: u64,
        pub mtime_nsec: u64,
        pub ctime_sec: u64,
        pub ctime_nsec: u64,
        pub btime_sec: u64,
        pub btime_nsec: u64,
        pub generation: u64,
        pub data_version: u64,
    }
}

/// `Tgetattr`'s request mask and `Rgetattr`'s valid mask.
pub mod getattr_mask {
    pub const MODE: u64 = 0x1;
    /// Mode through blocks: what every 9P2000.L server fills in.
    pub const BASIC: u64 = 0x7ff;
    pub const BTIME: u64 = 0x800;
    /// The inode's generation number and the file's data version.
    pub const GEN: u64 = 0x1000;
    pub const DATA_VERSION: u64 = 0x2000;
    /// BASIC plus btime, generation and data version.
    pub const ALL: u64 = 0x3fff;
    /// What a `stat`/`statx` needs: BASIC plus btime. Never the generation: QEMU's local
    /// backend answers it by opening the file and asking the host's filesystem
    /// (`FS_IOC_GETVERSION`, a second trip to its worker threads and three host system
    /// calls per `Tgetattr`), and no Linux call reports it.
    pub const STAT: u64 = BASIC | BTIME;
}

wire_struct! {
    /// `Tsetattr`'s body after the fid: `valid` says which fields apply.
    pub struct SetAttrFields {
        pub valid: u32,
        pub mode: u32,
        pub uid: u32,
        pub gid: u32,
        pub size: u64,
        pub atime_sec: u64,
        pub atime_nsec: u64,
        pub mtime_sec: u64,
        pub mtime_nsec: u64,
    }
}

/// `SetAttrFields::valid` bits. A time bit without its `_SET` companion means "now".
pub mod setattr_mask {
    pub const MODE: u32 = 0x1;
    pub const UID: u32 = 0x2;
    pub const GID: u32 = 0x4;
    pub const SIZE: u32 = 0x8;
    pub const ATIME: u32 = 0x10;
    pub const MTIME: u32 = 0x20;
    pub const CTIME: u32 = 0x40;
    pub const ATIME_SET: u32 = 0x80;
    pub const MTIME_SET: u32 = 0x100;
}

wire_struct! {
    /// `Rstatfs`'s body: the host filesystem's `statfs`.
    pub struct FsStats {
        pub fs_type: u32,
        pub block_size: u32,
        pub blocks: u64,
        pub blocks_free: u64,
        pub blocks_available: u64,
        pub files: u64,
        pub files_free: u64,
        pub fsid: u64,
        pub name_max: u32,
    }
}

/// `Tlopen`/`Tlcreate` flags: Linux's `O_*` values as 9P2000.L spells them.
pub mod open_flags {
    pub const RDONLY: u32 = 0o0;
    pub const WRONLY: u32 = 0o1;
    pub const RDWR: u32 = 0o2;
    pub const DIRECTORY: u32 = 0o200000;
}

impl Request<'_> {
    /// Whether the request may change what the server holds (a file's data or
    /// attributes, a directory's names): what retires a shared mount's batched answers.
    pub fn changes_server(&self) -> bool {
        const O_TRUNC: u32 = 0o1000;
        match self {
            Request::SetAttr { .. }
            | Request::Lcreate { .. }
            | Request::Write { .. }
            | Request::Mkdir { .. }
            | Request::Mknod { .. }
            | Request::Symlink { .. }
            | Request::Link { .. }
            | Request::UnlinkAt { .. }
            | Request::RenameAt { .. } => true,
            Request::Lopen { flags, .. } => flags & O_TRUNC != 0,
            _ => false,
        }
    }
}

/// `Tunlinkat` flag for removing a directory (Linux's `AT_REMOVEDIR`).
pub const AT_REMOVEDIR: u32 = 0x200;

macro_rules! messages {
    ($(#[$meta:meta])* pub enum $name:ident {
        $($(#[$variant_meta:meta])* $variant:ident = $code:literal { $($field:ident: $ty:ty),* $(,)? },)*
    }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum $name<'a> {
            $($(#[$variant_meta])* $variant { $($field: $ty),* },)*
        }

        impl<'a> $name<'a> {
            /// The message's type byte.
            pub fn type_code(&self) -> u8 {
                match self {
                    $($name::$variant { .. } => $code,)*
                }
            }

            fn encode_body(&self, out: &mut Encoder<'_>) {
                match self {
                    $($name::$variant { $($field),* } => { $(Wire::encode($field, out);)* })*
                }
            }

            fn decode_body(type_code: u8, input: &mut Decoder<'a>) -> Result<Self> {
                match type_code {
                    $($code => Ok($name::$variant { $($field: Wire::decode(input)?),* }),)*
                    _ => Err(Errno::EIO),
                }
            }

            /// Appends the whole framed message to `out` (cleared first).
            pub fn encode(&self, tag: u16, out: &mut Vec<u8>) -> Result<()> {
                out.clear();
                let mut encoder = Encoder::new(out);
                encoder.put_u32(0); // patched below, once the size is known
                encoder.put_u8(self.type_code());
                encoder.put_u16(tag);
                self.encode_body(&mut encoder);
                encoder.finish()?;
                let size = u32::try_from(out.len()).map_err(|_| Errno::EMSGSIZE)?;
                out[..4].copy_from_slice(&size.to_le_bytes());
                Ok(())
            }

            /// Parses one whole framed message: `(tag, message)`; `EIO` for anything
            /// malformed, including a size field that disagrees with `bytes`.
            pub fn decode(bytes: &'a [u8]) -> Result<(u16, Self)> {
                let mut input = Decoder::new(bytes);
                let size = input.u32()?;
                if usize::try_from(size).ok() != Some(bytes.len()) {
                    return Err(Errno::EIO);
                }
                let type_code = input.u8()?;
                let tag = input.u16()?;
                let message = Self::decode_body(type_code, &mut input)?;
                input.finish()?;
                Ok((tag, message))
            }
        }
    };
}

messages! {
    /// A 9P2000.L request (T-message), as far as this client uses the protocol.
    pub enum Request {
        Version = 100 { msize: u32, version: &'a [u8] },
        Flush = 108 { old_tag: u16 },
        Attach = 104 { fid: u32, afid: u32, uname: &'a [u8], aname: &'a [u8], n_uname: u32 },
        Walk = 110 { fid: u32, new_fid: u32, names: Vec<&'a [u8]> },
        GetAttr = 24 { fid: u32, request_mask: u64 },
        SetAttr = 26 { fid: u32, fields: SetAttrFields },
        Lopen = 12 { fid: u32, flags: u32 },
        Lcreate = 14 { fid: u32, name: &'a [u8], flags: u32, mode: u32, gid: u32 },
        Read = 116 { fid: u32, offset: u64, count: u32 },
        Write = 118 { fid: u32, offset: u64, data: Data<'a> },
        Readdir = 40 { fid: u32, offset: u64, count: u32 },
        Mkdir = 72 { dir_fid: u32, name: &'a [u8], mode: u32, gid: u32 },
        Mknod = 18 { dir_fid: u32, name: &'a [u8], mode: u32, major: u32, minor: u32, gid: u32 },
        Symlink = 16 { dir_fid: u32, name: &'a [u8], target: &'a [u8], gid: u32 },
        Readlink = 22 { fid: u32 },
        Link = 70 { dir_fid: u32, fid: u32, name: &'a [u8] },
        UnlinkAt = 76 { dir_fid: u32, name: &'a [u8], flags: u32 },
        RenameAt = 74 { old_dir_fid: u32, old_name: &'a [u8], new_dir_fid: u32, new_name: &'a [u8] },
        Fsync = 50 { fid: u32, datasync: u32 },
        StatFs = 8 { fid: u32 },
        XattrWalk = 30 { fid: u32, new_fid: u32, name: &'a [u8] },
        Clunk = 120 { fid: u32 },
    }
}

messages! {
    /// A 9P2000.L reply (R-message). Each success reply's type is its request's plus one;
    /// `Lerror` answers any request that failed.
    pub enum Reply {
        Lerror = 7 { errno: u32 },
        Version = 101 { msize: u32, version: &'a [u8] },
        Flush = 109 {},
        Attach = 105 { qid: Qid },
        Walk = 111 { qids: Vec<Qid> },
        GetAttr = 25 { attr: Attr },
        SetAttr = 27 {},
        Lopen = 13 { qid: Qid, iounit: u32 },
        Lcreate = 15 { qid: Qid, iounit: u32 },
        Read = 117 { data: Data<'a> },
        Write = 119 { count: u32 },
        Readdir = 41 { data: Data<'a> },
        Mkdir = 73 { qid: Qid },
        Mknod = 19 { qid: Qid },
        Symlink = 17 { qid: Qid },
        Readlink = 23 { target: &'a [u8] },
        Link = 71 {},
        UnlinkAt = 77 {},
        RenameAt = 75 {},
        Fsync = 51 {},
        StatFs = 9 { stats: FsStats },
        XattrWalk = 31 { size: u64 },
        Clunk = 121 {},
    }
}

/// Bytes of an `Rread`/`Rreaddir` before its payload (`count[4]` after the header): what a
/// read must leave free in msize.
pub const READ_REPLY_OVERHEAD: usize = HEADER_SIZE + 4;
/// Bytes of a `Twrite` before its payload (`fid[4] offset[8] count[4]`).
pub const WRITE_REQUEST_OVERHEAD: usize = HEADER_SIZE + 4 + 8 + 4;

/// One entry of an `Rreaddir` payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dirent<'a> {
    pub qid: Qid,
    /// The cookie to pass as the next `Treaddir` offset to continue after this entry.
    pub offset: u64,
    /// The `d_type` (`DT_*`) the server reported; 0 when unknown.
    pub kind: u8,
    pub name: &'a [u8],
}

impl<'a> Wire<'a> for Dirent<'a> {
    fn encode(&self, out: &mut Encoder<'_>) {
        self.qid.encode(out);
        out.put_u64(self.offset);
        out.put_u8(self.kind);
        out.put_string(self.name);
    }
    fn decode(input: &mut Decoder<'a>) -> Result<Self> {
        Ok(Dirent {
            qid: Qid::decode(input)?,
            offset: input.u64()?,
            kind: input.u8()?,
            name: input.string()?,
        })
    }
}

/// The entries of an `Rreaddir` payload, in order; an entry cut short yields `EIO`, and
/// iteration ends after it.
pub struct Dirents<'a> {
    input: Decoder<'a>,
    failed: bool,
}

impl<'a> Dirents<'a> {
    pub fn new(payload: &'a [u8]) -> Self {
        Dirents {
            input: Decoder::new(payload),
            failed: false,
        }
    }
}

impl<'a> Iterator for Dirents<'a> {
    type Item = Result<Dirent<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.input.remaining() == 0 {
            return None;
        }
        let entry = Dirent::decode(&mut self.input);
        self.failed = entry.is_err();
        Some(entry)
    }
}

/// Encodes entries as an `Rreaddir` payload (for tests and test servers).
pub fn encode_dirents(entries: &[Dirent<'_>], out: &mut Vec<u8>) -> Result<()> {
    let mut encoder = Encoder::new(out);
    for entry in entries {
        entry.encode(&mut encoder);
    }
    encoder.finish()
}
