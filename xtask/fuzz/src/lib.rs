//! What the fuzz targets share: the scripted 9p session of the `p9-client` target, and the
//! [`stand_ins`] filesystems the `spec` target builds namespaces from.
//!
//! A `p9-client` input is a script: a few header bytes, the filesystem operations to run,
//! then the server's replies, one per request, in the order the client sends them. The
//! replies come from [`ScriptedTransport`], which plays the server; `examples/
//! record_p9_seeds.rs` writes real sessions (replies of the `p9` crate's server over a
//! temporary directory) in the same form, as seeds.
//!
//! ```text
//! limit[1]  shared[1]  op_count[1]  (op[1] a[1] b[1]) * op_count  frame*
//! frame: flags[1] length[2, LE] body[length]   (a truncated last frame is cut short)
//! ```
//!
//! `limit` picks the transport's largest message ([`Script::max_message_size`]), bit 0 of
//! `shared` mounts with `file_access=shared` (every lookup asks the server). A frame's
//! flags say how its body becomes the reply: [`frame::RAW`] sends the body as the whole
//! reply; otherwise the body follows a header made for the request being answered (size,
//! tag, and type: the request's plus one, or `Rlerror` with [`frame::LERROR`]), so mutated
//! inputs reach past the framing checks.

pub mod stand_ins;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use vfs_core::errno::{Errno, Result};
use vfs_core::inode::{CachePolicy, FileSystem, Inode, NewNode, NodeKind};
use vfs_core::p9::client::MIN_MSIZE;
use vfs_core::p9::{P9FileSystem, P9MountOptions, Transport};
use vfs_core::{FileType, OpenFlags, RenameFlags, SetAttr};

/// A reply frame's flags.
pub mod frame {
    /// The body is the whole reply, header included.
    pub const RAW: u8 = 1;
    /// With a made header: type `Rlerror` instead of the request's reply type.
    pub const LERROR: u8 = 2;
}

/// `Rlerror`'s type code.
const RLERROR: u8 = 7;
/// size[4] type[1] tag[2].
const HEADER: usize = 7;

/// Operations per script, at most.
pub const MAX_OPS: usize = 48;

/// One filesystem operation: a code and two argument bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    pub code: u8,
    pub a: u8,
    pub b: u8,
}

/// A parsed `p9-client` input.
#[derive(Debug)]
pub struct Script<'a> {
    pub limit: u8,
    pub shared: bool,
    pub ops: Vec<Op>,
    /// The reply frames, still encoded.
    pub frames: &'a [u8],
}

impl<'a> Script<'a> {
    pub fn parse(data: &'a [u8]) -> Option<Script<'a>> {
        let (&[limit, shared, count], rest) = data.split_first_chunk::<3>()?;
        let count = usize::from(count) % (MAX_OPS + 1);
        let op_bytes = rest.get(..count * 3)?;
        let ops = op_bytes
            .chunks_exact(3)
            .map(|op| Op {
                code: op[0],
                a: op[1],
                b: op[2],
            })
            .collect();
        Some(Script {
            limit,
            shared: shared & 1 != 0,
            ops,
            frames: &rest[count * 3..],
        })
    }

    /// The transport's largest message: from the client's minimum msize up to 132 KiB.
    pub fn max_message_size(&self) -> u32 {
        MIN_MSIZE + u32::from(self.limit) * 512
    }

    /// The header and ops as bytes (the frames follow them in an input).
    pub fn encode_head(limit: u8, shared: bool, ops: &[Op]) -> Vec<u8> {
        assert!(ops.len() <= MAX_OPS);
        let mut out = vec![limit, u8::from(shared), ops.len() as u8];
        for op in ops {
            out.extend_from_slice(&[op.code, op.a, op.b]);
        }
        out
    }
}

/// Appends one reply frame to `out`.
pub fn encode_frame(flags: u8, body: &[u8], out: &mut Vec<u8>) {
    let length = u16::try_from(body.len()).expect("a seed's reply fits a frame");
    out.push(flags);
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(body);
}

/// The frame that reproduces `reply` as the answer to `request`: with a made header when
/// the reply's header is the one [`ScriptedTransport`] would make, raw otherwise.
pub fn frame_for(request: &[u8], reply: &[u8], out: &mut Vec<u8>) {
    let made = |kind: u8| -> Vec<u8> {
        let mut header = Vec::with_capacity(HEADER);
        header.extend_from_slice(&(reply.len() as u32).to_le_bytes());
        header.push(kind);
        header.extend_from_slice(&request[5..7]);
        header
    };
    if reply.len() >= HEADER && request.len() >= HEADER {
        if reply[..HEADER] == made(request[4].wrapping_add(1))[..] {
            return encode_frame(0, &reply[HEADER..], out);
        }
        if reply[..HEADER] == made(RLERROR)[..] {
            return encode_frame(frame::LERROR, &reply[HEADER..], out);
        }
    }
    encode_frame(frame::RAW, reply, out)
}

/// Plays the server: each request is answered with the next frame; when there are none
/// left, the transport fails (`EIO`), as a device that stopped answering does.
pub struct ScriptedTransport {
    max_message_size: u32,
    frames: Mutex<VecDeque<(u8, Vec<u8>)>>,
}

impl ScriptedTransport {
    pub fn new(max_message_size: u32, mut frames: &[u8]) -> Self {
        let mut queue = VecDeque::new();
        while let Some((&[flags, low, high], rest)) = frames.split_first_chunk::<3>() {
            let length = usize::from(u16::from_le_bytes([low, high])).min(rest.len());
            queue.push_back((flags, rest[..length].to_vec()));
            frames = &rest[length..];
        }
        ScriptedTransport {
            max_message_size,
            frames: Mutex::new(queue),
        }
    }
}

impl Transport for ScriptedTransport {
    fn max_message_size(&self) -> u32 {
        self.max_message_size
    }

    fn round_trip(&self, request: &[u8], reply: &mut [u8]) -> Result<usize> {
        // A client never sends more than it negotiated, nor a message without a header.
        assert!(request.len() >= HEADER && request.len() <= self.max_message_size as usize);
        let size = u32::from_le_bytes(request[..4].try_into().unwrap());
        assert_eq!(size as usize, request.len(), "request size field");
        let (flags, body) = self.frames.lock().unwrap().pop_front().ok_or(Errno::EIO)?;
        let message = if flags & frame::RAW != 0 {
            body
        } else {
            let kind = if flags & frame::LERROR != 0 {
                RLERROR
            } else {
                request[4].wrapping_add(1)
            };
            let mut message = Vec::with_capacity(HEADER + body.len());
            message.extend_from_slice(&((HEADER + body.len()) as u32).to_le_bytes());
            message.push(kind);
            message.extend_from_slice(&request[5..7]);
            message.extend_from_slice(&body);
            message
        };
        // A device cannot put more into the buffer than it has room for.
        let target = reply.get_mut(..message.len()).ok_or(Errno::EIO)?;
        target.copy_from_slice(&message);
        Ok(message.len())
    }
}

/// Names the operations use: ordinary ones, and ones a filesystem must refuse.
const NAMES: &[&[u8]] = &[
    b"a",
    b"dir",
    b"file",
    b"link",
    b"new",
    b".",
    b"..",
    b"",
    b"x/y",
    b"nul\0",
    &[b'n'; 300],
];

fn name(index: u8) -> &'static [u8] {
    NAMES[usize::from(index) % NAMES.len()]
}

/// Mounts over `transport` and runs `ops`, as the VFS would call the filesystem. Checks
/// what must hold whatever the server says: results within what was asked, and no fid
/// the client still counts as held once every inode is gone.
pub fn run(transport: Arc<dyn Transport>, shared: bool, ops: &[Op]) {
    let options = P9MountOptions {
        policy: if shared {
            CachePolicy::Revalidate
        } else {
            CachePolicy::Exclusive
        },
        ..P9MountOptions::default()
    };
    let Ok(fs) = P9FileSystem::new(transport, &options, 7) else {
        return;
    };
    let client = fs.client().clone();
    let msize = client.msize();
    assert!((MIN_MSIZE..=vfs_core::p9::client::MAX_MSIZE).contains(&msize));
    let _ = fs.mount_options();
    let root: Arc<dyn Inode> = fs.root();
    assert_eq!(root.file_type(), FileType::Directory);
    let mut stack: Vec<Arc<dyn Inode>> = vec![root.clone()];
    for op in ops {
        let current = stack.last().unwrap().clone();
        apply(&*fs, &root, &current, *op, &mut stack);
    }
    drop(stack);
    drop(root);
    drop(fs);
    let stats = client.stats();
    assert_eq!(stats.live_fids, 0, "fids left held: {stats:?}");
}

fn apply(
    fs: &dyn FileSystem,
    root: &Arc<dyn Inode>,
    current: &Arc<dyn Inode>,
    op: Op,
    stack: &mut Vec<Arc<dyn Inode>>,
) {
    let Op { code, a, b } = op;
    match code % 17 {
        0 => {
            if let Ok(child) = current.lookup(name(a)) {
                let _ = child.file_type();
                stack.push(child);
            }
        }
        1 => {
            if stack.len() > 1 {
                stack.pop();
            }
        }
        2 => {
            if let Ok(stat) = current.getattr() {
                assert_eq!(stat.ino, current.ino());
            }
        }
        3 => {
            let mut buffer = vec![0u8; usize::from(a) * 1031];
            if let Ok(read) = current.read_at(u64::from(b) * 4093, &mut buffer) {
                assert!(read <= buffer.len());
            }
        }
        4 => {
            let mut wanted = usize::from(a % 64);
            let _ = current.readdir(u64::from(b), &mut |entry| {
                let _ = (entry.name.len(), entry.ino, entry.file_type);
                wanted = wanted.saturating_sub(1);
                wanted > 0
            });
        }
        5 => {
            let _ = current.readlink();
        }
        6 => {
            let data = vec![b; usize::from(a) * 1031];
            if let Ok(written) = current.write_at(u64::from(b) * 4093, &data) {
                assert!(written <= data.len());
            }
        }
        7 => {
            let target = name(b);
            let kind = match b % 5 {
                0 => NodeKind::Regular,
                1 => NodeKind::Directory,
                2 => NodeKind::Symlink { target },
                3 => NodeKind::Fifo,
                _ => NodeKind::Device {
                    file_type: FileType::CharDevice,
                    rdev: u64::from(a) << 8 | u64::from(b),
                },
            };
            let node = NewNode {
                kind,
                perm: 0o644,
                uid: u32::from(a & 1),
                gid: u32::from(b & 1),
            };
            if let Ok(made) = current.create(name(a), &node) {
                stack.push(made);
            }
        }
        8 => {
            let _ = current.unlink(name(a));
        }
        9 => {
            let _ = current.rmdir(name(a));
        }
        10 => {
            let destination = if b & 1 == 0 { current } else { root };
            let flags = RenameFlags::from_bits_truncate(u32::from(b >> 1));
            let _ = current.rename(name(a), destination, name(b >> 1), flags);
        }
        11 => {
            let _ = fs.statfs();
        }
        12 => {
            let change = SetAttr {
                size: (a & 1 != 0).then_some(u64::from(b) * 4093),
                mode: (a & 2 != 0).then_some(u32::from(b) & 0o7777),
                uid: (a & 4 != 0).then_some(u32::from(b)),
                gid: (a & 8 != 0).then_some(u32::from(b)),
                ..SetAttr::default()
            };
            let _ = current.setattr(&change);
        }
        13 => {
            let flags = [
                OpenFlags::RDONLY,
                OpenFlags::WRONLY,
                OpenFlags::RDWR,
                OpenFlags::RDWR | OpenFlags::TRUNC,
                OpenFlags::WRONLY | OpenFlags::APPEND,
                OpenFlags::DIRECTORY,
                OpenFlags::PATH,
            ][usize::from(a) % 7];
            let _ = current.on_open(flags);
        }
        14 => {
            let _ = root.link(name(a), current);
        }
        15 => {
            if let Ok((offset, written)) = current.append(&vec![a; usize::from(b) * 131]) {
                assert!(written <= usize::from(b) * 131, "{offset}");
            }
        }
        _ => {
            let _ = current.fsync();
        }
    }
}
