//! Synthetic filesystem, description side: what a kernel filesystem (proc, sysfs, devpts)
//! declares — [`Node`]s with fixed inode numbers, directories that list their children
//! ([`Directory`], [`FixedDir`]), files and symlinks whose bytes are produced on demand.
//! Nothing here is an inode yet; `node.rs` turns a `Node` into one when it is looked up.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use vfs_core::{FileType, Result, Timespec};

/// Produces a file's contents or a symlink's target, afresh on every read, so what a
/// reader sees is the state of the system at that moment (Linux's `seq_file` show).
pub type Generate = dyn Fn() -> Result<Vec<u8>> + Send + Sync;

/// Where a magic link leads (see [`Body::MagicLink`]).
pub type Destination = dyn Fn() -> Result<vfs_core::Location> + Send + Sync;

/// Takes a write to a file at `offset`; returns how many bytes it took.
pub type Accept = dyn Fn(u64, &[u8]) -> Result<usize> + Send + Sync;

/// Offsets 0 and 1 of every directory are `.` and `..`; children's cookies start here.
pub const FIRST_COOKIE: u64 = vfs_core::inode::FIRST_ENTRY_OFFSET;

/// What a node is.
#[derive(Clone)]
pub enum Body {
    Directory(Arc<dyn Directory>),
    File {
        read: Arc<Generate>,
        write: Option<Arc<Accept>>,
    },
    Symlink(Arc<Generate>),
    /// A link that reads as `text` but is followed to `destination`'s place itself, as
    /// Linux's `/proc/<pid>/fd/N`: a pipe (`pipe:[N]`), a deleted file or one outside
    /// the reader's root are reached all the same.
    MagicLink {
        text: Arc<Generate>,
        destination: Arc<Destination>,
    },
    Device {
        file_type: FileType,
        rdev: u64,
    },
}

/// One object of a synthetic tree: its inode number (stable across lookups, so the
/// dentry cache and `ls -i` see one object), permissions, owner and body.
#[derive(Clone)]
pub struct Node {
    pub ino: u64,
    /// Permission bits only; the type comes from the body.
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub body: Body,
    /// Attributes a program may change (devpts's terminals take `chmod`, `chown` and
    /// `utimensat`, as Linux's devpts inodes do); `None`: fixed, from the fields above.
    pub live: Option<Arc<LiveAttributes>>,
}

/// A node's changeable attributes, shared by every instantiation of the node.
pub type LiveAttributes = spin::Mutex<Attributes>;

/// Permission bits, owner and times of a node with [`LiveAttributes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

impl Node {
    pub fn directory(ino: u64, perm: u32, directory: impl Directory + 'static) -> Node {
        Node {
            ino,
            perm,
            uid: 0,
            gid: 0,
            body: Body::Directory(Arc::new(directory)),
            live: None,
        }
    }

    /// A read-only file whose contents `read` produces on every read.
    pub fn file(
        ino: u64,
        perm: u32,
        read: impl Fn() -> Result<Vec<u8>> + Send + Sync + 'static,
    ) -> Node {
        Node {
            ino,
            perm,
            uid: 0,
            gid: 0,
            body: Body::File {
                read: Arc::new(read),
                write: None,
            },
            live: None,
        }
    }

    /// A read-only file with fixed contents.
    pub fn constant(ino: u64, perm: u32, text: &str) -> Node {
        let text = String::from(text);
        Node::file(ino, perm, move || Ok(text.clone().into_bytes()))
    }

    /// A symlink (always `lrwxrwxrwx`, as Linux shows them) whose target `target` produces.
    pub fn symlink(ino: u64, target: impl Fn() -> Result<Vec<u8>> + Send + Sync + 'static) -> Node {
        Node {
            ino,
            perm: 0o777,
            uid: 0,
            gid: 0,
            body: Body::Symlink(Arc::new(target)),
            live: None,
        }
    }

    pub fn magic_link(
        ino: u64,
        text: impl Fn() -> Result<Vec<u8>> + Send + Sync + 'static,
        destination: impl Fn() -> Result<vfs_core::Location> + Send + Sync + 'static,
    ) -> Node {
        Node {
            body: Body::MagicLink {
                text: Arc::new(text),
                destination: Arc::new(destination),
            },
            ..Node::symlink(ino, || Ok(Vec::new()))
        }
    }

    pub fn device(ino: u64, perm: u32, file_type: FileType, rdev: u64) -> Node {
        Node {
            ino,
            perm,
            uid: 0,
            gid: 0,
            body: Body::Device { file_type, rdev },
            live: None,
        }
    }

    /// The node's permissions, owner and times are `live`'s from now on, and `chmod`,
    /// `chown` and `utimensat` change them there.
    pub fn with_live_attributes(mut self, live: Arc<LiveAttributes>) -> Node {
        self.live = Some(live);
        self
    }

    pub fn owned_by(mut self, uid: u32, gid: u32) -> Node {
        self.uid = uid;
        self.gid = gid;
        self
    }

    /// Lets a file take writes (a file with no writer refuses them by its filesystem's
    /// rules); does nothing to other kinds of node.
    pub fn accepting_writes(
        mut self,
        write: impl Fn(u64, &[u8]) -> Result<usize> + Send + Sync + 'static,
    ) -> Node {
        if let Body::File { write: slot, .. } = &mut self.body {
            *slot = Some(Arc::new(write));
        }
        self
    }

    pub fn file_type(&self) -> FileType {
        match &self.body {
            Body::Directory(_) => FileType::Directory,
            Body::File { .. } => FileType::Regular,
            Body::Symlink(_) | Body::MagicLink { .. } => FileType::Symlink,
            Body::Device { file_type, .. } => *file_type,
        }
    }
}

/// One child of a directory. `cookie` is its place in the listing: `readdir` hands out
/// children in ascending cookie order and resumes "after cookie c" at `c + 1`, so a
/// listing stays consistent while children come and go (a pid, a descriptor).
#[derive(Clone)]
pub struct Entry {
    pub name: Vec<u8>,
    pub cookie: u64,
    pub node: Node,
}

/// A directory's children, fixed or generated.
pub trait Directory: Send + Sync {
    /// The children now, in ascending cookie order (each at least [`FIRST_COOKIE`]).
    fn entries(&self) -> Vec<Entry>;

    /// The child called `name`. The default searches [`Directory::entries`]; a directory
    /// with many generated children (pids, descriptors) answers directly.
    fn lookup(&self, name: &[u8]) -> Option<Node> {
        self.entries()
            .into_iter()
            .find(|entry| entry.name == name)
            .map(|entry| entry.node)
    }
}

/// A directory whose children never change (most of proc and all of sysfs).
#[derive(Clone, Default)]
pub struct FixedDir {
    entries: Vec<Entry>,
}

impl FixedDir {
    pub fn new() -> FixedDir {
        FixedDir::default()
    }

    /// Adds a child after the ones already there.
    pub fn with(mut self, name: &str, node: Node) -> FixedDir {
        let cookie = FIRST_COOKIE + self.entries.len() as u64;
        self.entries.push(Entry {
            name: name.as_bytes().to_vec(),
            cookie,
            node,
        });
        self
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Directory for FixedDir {
    fn entries(&self) -> Vec<Entry> {
        self.entries.clone()
    }

    fn lookup(&self, name: &[u8]) -> Option<Node> {
        self.entries
            .iter()
            .find(|entry| entry.name == name)
            .map(|entry| entry.node.clone())
    }
}

/// Hands out inode numbers for a tree built once, in building order.
#[derive(Debug)]
pub struct InoCounter {
    next: u64,
}

impl InoCounter {
    pub fn starting_at(first: u64) -> InoCounter {
        InoCounter { next: first }
    }

    pub fn allocate(&mut self) -> u64 {
        let ino = self.next;
        self.next += 1;
        ino
    }
}
