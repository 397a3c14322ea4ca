//! Synthetic filesystem, inode side: a [`Node`] as the VFS sees it — attributes, lookups
//! that instantiate children on demand, listings with stable offsets, contents generated
//! per read, and Linux's refusals for everything that would change the tree.

use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Mutex;
use vfs_core::attr::NAME_MAX;
use vfs_core::inode::readdir_dots;
use vfs_core::{
    DirEntry, Errno, FileType, Inode, NewNode, NodeKind, OpenFlags, RenameFlags, Result, SetAttr,
    Stat, TimeChange, Timespec,
};

use super::Shared;
use super::tree::{Attributes, Body, Directory, FIRST_COOKIE, Generate, Node};

/// One instantiated node. Instantiating is cheap (the body is shared), and a node looked
/// up twice is two `SyntheticInode`s with the same inode number, which is all the dentry
/// cache compares.
pub struct SyntheticInode {
    node: Node,
    /// For `..` in listings; the root is its own parent.
    parent_ino: u64,
    shared: Arc<Shared>,
    /// All four timestamps: the moment the node was instantiated, as Linux's proc stamps
    /// a new inode with `current_time`.
    born: Timespec,
    /// The contents the last read generated, and the offset where that read ended.
    continuation: Mutex<Option<Continuation>>,
}

/// Linux's `seq_file` generates a file once per open and serves later reads from that
/// text, so a reader going through it in pieces (glibc reads proc in 1 KiB ones, its
/// `st_blksize`) never sees two versions stitched together. The inode has no per-open
/// state here, so it keeps the last text and serves a read that starts exactly where the
/// previous one ended from it; any other read (offset 0 included) generates afresh.
struct Continuation {
    resumes_at: u64,
    text: Arc<Vec<u8>>,
    /// The text is kept (in an inode the dentry cache may keep) until another read:
    /// charged to the memory budget meanwhile.
    _charge: vfs_core::Charge,
}

impl SyntheticInode {
    pub(super) fn new_root(node: Node, shared: &Arc<Shared>) -> Arc<SyntheticInode> {
        let parent_ino = node.ino;
        Arc::new(SyntheticInode {
            node,
            parent_ino,
            shared: shared.clone(),
            born: shared.clock.now(),
            continuation: Mutex::new(None),
        })
    }

    fn child(&self, node: Node) -> Arc<SyntheticInode> {
        Arc::new(SyntheticInode {
            node,
            parent_ino: self.node.ino,
            shared: self.shared.clone(),
            born: self.shared.clock.now(),
            continuation: Mutex::new(None),
        })
    }

    fn directory(&self) -> Result<&Arc<dyn Directory>> {
        match &self.node.body {
            Body::Directory(directory) => Ok(directory),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// The answer of a directory with no such operation (Linux's VFS when the inode
    /// operation is missing); `ENOTDIR` when this is not a directory at all.
    fn refuse_in_directory(&self, errno: Errno) -> Result<()> {
        self.directory().and(Err(errno))
    }

    /// A read of a generated file: from the previous read's text when it continues it,
    /// else from a fresh one, which the next read may then continue.
    fn read_generated(&self, generate: &Generate, offset: u64, buf: &mut [u8]) -> Result<usize> {
        // The lock is not held while generating: generators call into the kernel.
        let previous = self.continuation.lock().take();
        let (text, charge) = match previous {
            Some(previous) if previous.resumes_at == offset && offset != 0 => {
                (previous.text, previous._charge)
            }
            _ => {
                let text = generate()?;
                let charge = crate::mm::budget::budget().charge(text.capacity() as u64)?;
                (Arc::new(text), charge)
            }
        };
        let count = read_slice(&text, offset, buf);
        if count > 0 {
            *self.continuation.lock() = Some(Continuation {
                resumes_at: offset + count as u64,
                text,
                _charge: charge,
            });
        }
        Ok(count)
    }

    /// `2 + subdirectories`, the count Linux's proc and kernfs report for a directory.
    fn link_count(&self) -> u64 {
        match &self.node.body {
            Body::Directory(directory) => {
                let subdirectories = directory
                    .entries()
                    .iter()
                    .filter(|entry| entry.node.file_type() == FileType::Directory)
                    .count();
                2 + subdirectories as u64
            }
            _ => 1,
        }
    }
}

/// Copies `data[offset..]` into `buf`; nothing past the end.
fn read_slice(data: &[u8], offset: u64, buf: &mut [u8]) -> usize {
    let Ok(start) = usize::try_from(offset) else {
        return 0;
    };
    let Some(rest) = data.get(start..) else {
        return 0;
    };
    let count = rest.len().min(buf.len());
    buf[..count].copy_from_slice(&rest[..count]);
    count
}

impl Inode for SyntheticInode {
    fn ino(&self) -> u64 {
        self.node.ino
    }

    fn file_type(&self) -> FileType {
        self.node.file_type()
    }

    fn getattr(&self) -> Result<Stat> {
        let rules = &self.shared.rules;
        let (size, rdev) = match &self.node.body {
            Body::File { .. } => (rules.file_size, 0),
            Body::Device { rdev, .. } => (0, *rdev),
            Body::Directory(_) | Body::Symlink(_) | Body::MagicLink { .. } => (0, 0),
        };
        let live = self.node.live.as_ref().map(|live| *live.lock());
        let attributes = live.unwrap_or(Attributes {
            perm: self.node.perm,
            uid: self.node.uid,
            gid: self.node.gid,
            atime: self.born,
            mtime: self.born,
            ctime: self.born,
        });
        Ok(Stat {
            dev: self.shared.dev,
            ino: self.node.ino,
            mode: self.file_type().mode_bits() | attributes.perm,
            nlink: self.link_count(),
            uid: attributes.uid,
            gid: attributes.gid,
            rdev,
            size,
            blksize: rules.block_size,
            blocks: 0,
            atime: attributes.atime,
            mtime: attributes.mtime,
            ctime: attributes.ctime,
            btime: self.born,
        })
    }

    /// Truncation (`> /proc/...` opens with `O_TRUNC`) and atime updates are accepted and
    /// change nothing, as on Linux's proc; ownership, mode and time changes are refused.
    fn setattr(&self, change: &SetAttr) -> Result<()> {
        if let Some(live) = &self.node.live {
            // The VFS has checked the caller may make the change (`chmod_bits`,
            // `chown_check`); a size change of a device node means nothing.
            let now = self.shared.clock.now();
            let time = |change: TimeChange| match change {
                TimeChange::Now => now,
                TimeChange::At(at) => at,
            };
            let mut attributes = live.lock();
            if let Some(mode) = change.mode {
                attributes.perm = mode & 0o7777;
            }
            if let Some(uid) = change.uid {
                attributes.uid = uid;
            }
            if let Some(gid) = change.gid {
                attributes.gid = gid;
            }
            if let Some(atime) = change.atime {
                attributes.atime = time(atime);
            }
            if let Some(mtime) = change.mtime {
                attributes.mtime = time(mtime);
            }
            if !change.access_only {
                attributes.ctime = change.ctime.unwrap_or(now);
            }
            return Ok(());
        }
        let harmless = SetAttr {
            size: change.size,
            atime: change.atime,
            access_only: change.access_only,
            ..SetAttr::default()
        };
        if *change == harmless {
            Ok(())
        } else {
            Err(Errno::EPERM)
        }
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let node = self.directory()?.lookup(name).ok_or(Errno::ENOENT)?;
        Ok(self.child(node))
    }

    /// Linux's `lookup_open` answers `EACCES` to `O_CREAT` in a directory without a
    /// `create` operation; `vfs_mkdir`/`vfs_mknod`/`vfs_symlink` answer `EPERM`.
    fn create(&self, _name: &[u8], node: &NewNode<'_>) -> Result<Arc<dyn Inode>> {
        self.directory()?;
        Err(if node.kind == NodeKind::Regular {
            Errno::EACCES
        } else {
            Errno::EPERM
        })
    }

    fn link(&self, _name: &[u8], _target: &Arc<dyn Inode>) -> Result<()> {
        self.refuse_in_directory(Errno::EPERM)
    }

    fn unlink(&self, _name: &[u8]) -> Result<()> {
        self.refuse_in_directory(Errno::EPERM)
    }

    fn rmdir(&self, _name: &[u8]) -> Result<()> {
        self.refuse_in_directory(Errno::EPERM)
    }

    fn rename(
        &self,
        _old_name: &[u8],
        _new_parent: &Arc<dyn Inode>,
        _new_name: &[u8],
        _flags: RenameFlags,
    ) -> Result<()> {
        self.refuse_in_directory(Errno::EPERM)
    }

    fn readdir(&self, offset: u64, sink: &mut dyn FnMut(DirEntry<'_>) -> bool) -> Result<()> {
        let directory = self.directory()?;
        if !readdir_dots(offset, self.node.ino, || Ok(self.parent_ino), sink)? {
            return Ok(());
        }
        let mut entries = directory.entries();
        entries.sort_by_key(|entry| entry.cookie);
        for entry in entries
            .iter()
            .filter(|entry| entry.cookie >= offset.max(FIRST_COOKIE))
        {
            let accepted = sink(DirEntry {
                name: &entry.name,
                ino: entry.node.ino,
                file_type: entry.node.file_type(),
                next_offset: entry.cookie.saturating_add(1),
            });
            if !accepted {
                break;
            }
        }
        Ok(())
    }

    fn readlink(&self) -> Result<Vec<u8>> {
        match &self.node.body {
            Body::Symlink(target) | Body::MagicLink { text: target, .. } => target(),
            _ => Err(Errno::EINVAL),
        }
    }

    fn link_destination(&self) -> Option<Result<vfs_core::Location>> {
        match &self.node.body {
            Body::MagicLink { destination, .. } => Some(destination()),
            _ => None,
        }
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        match &self.node.body {
            Body::File { read, .. } => self.read_generated(&**read, offset, buf),
            Body::Directory(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<usize> {
        match &self.node.body {
            Body::File {
                write: Some(write), ..
            } => write(offset, buf),
            Body::File { write: None, .. } => Err(self.shared.rules.write_without_writer),
            Body::Directory(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    fn on_open(&self, flags: OpenFlags) -> Result<()> {
        let read_only_file = matches!(self.node.body, Body::File { write: None, .. });
        match self.shared.rules.refuse_write_open {
            Some(errno) if read_only_file && flags.writable() => Err(errno),
            _ => Ok(()),
        }
    }
}
