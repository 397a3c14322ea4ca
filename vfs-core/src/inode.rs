//! Layer 1: the interface every filesystem implements (ramfs, tmpfs, overlay, 9p here;
//! proc, sys and dev in the kernel crate). Everything above (dentries, path walk, mounts,
//! open files) talks to filesystems only through these two object-safe traits.
//!
//! A filesystem does the operation it is asked and reports the errno the object's own
//! state demands (`ENOENT`, `EEXIST`, `ENOTEMPTY`, `ENOSPC`…); permission checks, mount
//! flags, trailing slashes and symlink following are the VFS's job, done once above.

use crate::attr::{DirEntry, FileType, NAME_MAX, RenameFlags, SetAttr, Stat, StatFs};
use crate::budget::FilePage;
use crate::errno::{Errno, Result};
use crate::file::OpenFlags;
use crate::mapping::MappingWriter;
use crate::page_cache::{DirtyPage, PageCache};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

/// How far the VFS may trust its dentry cache for a filesystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CachePolicy {
    /// Only this kernel changes the filesystem: cached dentries, positive and negative,
    /// stay valid until the VFS itself changes them (ramfs, tmpfs, overlay, exclusive 9p).
    Exclusive,
    /// Someone else (the host) may change it: every walk asks the filesystem again and
    /// keeps a cached dentry only while it still names the same inode (shared 9p).
    Revalidate,
}

/// A mounted (or mountable) filesystem instance: Linux's `super_block`.
pub trait FileSystem: Send + Sync {
    /// The type name shown in `/proc/self/mounts` (`"tmpfs"`, `"overlay"`, `"9p"`).
    fn fs_type(&self) -> &str;
    fn root(&self) -> Arc<dyn Inode>;
    /// The `st_dev` of every inode in this filesystem.
    fn dev(&self) -> u64;
    fn statfs(&self) -> Result<StatFs>;
    /// Filesystem-specific options for `/proc/self/mounts`, comma separated, without the
    /// generic `rw`/`ro`/`nosuid`… part the mount layer writes (e.g. `"size=1024k,mode=755"`).
    fn mount_options(&self) -> String {
        String::new()
    }
    fn cache_policy(&self) -> CachePolicy {
        CachePolicy::Exclusive
    }
    /// Whether the filesystem keeps access times itself (a 9p server's host does, under
    /// its own relatime rules), so the VFS skips its relatime `getattr` on reads from a
    /// mount of it. Under an overlay the overlay's mount decides; the inode's
    /// `setattr(access_only)` must then still ignore the stamp (as `P9Inode`'s does).
    fn stamps_atime_itself(&self) -> bool {
        false
    }
}

/// What kind of object `Inode::create` makes. One method for `creat`, `mkdir`, `mknod` and
/// `symlink` keeps the trait small for the many filesystems that implement it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind<'a> {
    Regular,
    Directory,
    Symlink {
        target: &'a [u8],
    },
    /// Character or block device with its device number (`make_dev`). Opening one goes
    /// to the namespace's `DeviceRegistry`, so the kernel attaches driver operations
    /// without the filesystem knowing anything about drivers.
    Device {
        file_type: FileType,
        rdev: u64,
    },
    Fifo,
    Socket,
}

impl NodeKind<'_> {
    pub fn file_type(&self) -> FileType {
        match self {
            NodeKind::Regular => FileType::Regular,
            NodeKind::Directory => FileType::Directory,
            NodeKind::Symlink { .. } => FileType::Symlink,
            NodeKind::Device { file_type, .. } => *file_type,
            NodeKind::Fifo => FileType::Fifo,
            NodeKind::Socket => FileType::Socket,
        }
    }
}

/// A new object's kind, permission bits and owner, already decided by the VFS (umask,
/// setgid-directory inheritance), so every filesystem creates objects the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewNode<'a> {
    pub kind: NodeKind<'a>,
    /// Permission bits (`S_IALLUGO`), type bits excluded.
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
}

/// A name a filesystem may store in a directory (the VFS's walk never hands it others,
/// but `rename`/`link` callers and tests may): `ENAMETOOLONG` beyond `NAME_MAX`, `EINVAL`
/// for an empty name, `.`, `..`, or one holding `/` or NUL. (A 9p server must never see
/// those either: `.` and `..` would walk outside the object asked about, and `..` outside
/// the export.)
pub fn check_name(name: &[u8]) -> Result<()> {
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// `other` as this filesystem's own inode type `T`, when `mine` says it belongs to the
/// same instance; `EXDEV` otherwise (another filesystem's, or another instance of this
/// one): the one check `link` and `rename` make on the inode they are handed.
pub fn same_fs<T: Inode>(other: &Arc<dyn Inode>, mine: impl FnOnce(&T) -> bool) -> Result<Arc<T>> {
    let any: Arc<dyn Any + Send + Sync> = other.clone();
    match any.downcast::<T>() {
        Ok(node) if mine(&node) => Ok(node),
        _ => Err(Errno::EXDEV),
    }
}

/// [`same_fs`] without taking a reference.
pub fn same_fs_ref<T: Inode>(other: &Arc<dyn Inode>, mine: impl FnOnce(&T) -> bool) -> Result<&T> {
    let any: &dyn Any = &**other;
    match any.downcast_ref::<T>() {
        Some(node) if mine(node) => Ok(node),
        _ => Err(Errno::EXDEV),
    }
}

/// The first entries of every directory's stream, as [`Inode::readdir`]'s contract has
/// them: `.` at offset 0 and `..` at offset 1 (the next offset after them is
/// [`FIRST_ENTRY_OFFSET`]). Every filesystem's `readdir` starts with this; it returns
/// `Ok(false)` when `sink` had no room (stop there), `Ok(true)` to go on with the
/// filesystem's own entries. `parent_ino` is asked only when `..` is due (9p walks for it).
pub fn readdir_dots(
    offset: u64,
    ino: u64,
    parent_ino: impl FnOnce() -> Result<u64>,
    sink: &mut dyn FnMut(DirEntry<'_>) -> bool,
) -> Result<bool> {
    if offset == 0
        && !sink(DirEntry {
            name: b".",
            ino,
            file_type: FileType::Directory,
            next_offset: 1,
        })
    {
        return Ok(false);
    }
    if offset <= 1
        && !sink(DirEntry {
            name: b"..",
            ino: parent_ino()?,
            file_type: FileType::Directory,
            next_offset: FIRST_ENTRY_OFFSET,
        })
    {
        return Ok(false);
    }
    Ok(true)
}

/// The readdir offset of a directory's first entry after `.` and `..`.
pub const FIRST_ENTRY_OFFSET: u64 = 2;

/// One file, directory, symlink or special node: Linux's `inode` with its operations.
///
/// Defaults return what Linux returns when an object does not support an operation
/// (a directory operation on a file gives `ENOTDIR`, reading a directory `EISDIR`), so a
/// kernel filesystem implements only what it has.
///
/// `Any` is a supertrait so a filesystem recognises its own inodes in `link` and `rename`
/// by upcasting (`&dyn Inode` → `&dyn Any`, `Arc<dyn Inode>` → `Arc<dyn Any + Send +
/// Sync>`): see [`same_fs`].
pub trait Inode: Any + Send + Sync {
    fn ino(&self) -> u64;
    /// Never changes over an inode's life, so the walk asks it without a `getattr`.
    fn file_type(&self) -> FileType;
    fn getattr(&self) -> Result<Stat>;
    /// What a permission check on a walk through this directory reads (only `mode`,
    /// `uid` and `gid`): `getattr`'s answer, or, where that is a round trip (a shared 9p
    /// mount), the attributes as last fetched, as Linux's v9fs checks the inode's cached
    /// mode without asking the server.
    fn search_attrs(&self) -> Result<Stat> {
        self.getattr()
    }
    fn setattr(&self, _change: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }

    /// The attributes of the child called `name` when the filesystem holds them at hand
    /// and a `getattr` of the inode [`Inode::lookup`] would make says the same: a `stat`
    /// of a name with no cached dentry is then answered without making a dentry and an
    /// inode only to forget them (`du` of an exclusive 9p directory). `None`: look it up.
    fn peek_child_stat(&self, _name: &[u8]) -> Option<Stat> {
        None
    }

    /// The child called `name`; `ENOENT` when there is none.
    fn lookup(&self, _name: &[u8]) -> Result<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }
    /// Make a new child; `EEXIST` when `name` is taken.
    fn create(&self, _name: &[u8], _node: &NewNode<'_>) -> Result<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }
    /// A new name for `target` (never a directory) in this directory.
    fn link(&self, _name: &[u8], _target: &Arc<dyn Inode>) -> Result<()> {
        Err(Errno::ENOTDIR)
    }
    /// Remove a non-directory entry (`EISDIR` for a directory).
    fn unlink(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::ENOTDIR)
    }
    /// Remove an empty directory entry (`ENOTDIR`, `ENOTEMPTY`).
    fn rmdir(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::ENOTDIR)
    }
    /// `renameat2` within this filesystem; `new_parent` is `EXDEV` if it is not ours.
    fn rename(
        &self,
        _old_name: &[u8],
        _new_parent: &Arc<dyn Inode>,
        _new_name: &[u8],
        _flags: RenameFlags,
    ) -> Result<()> {
        Err(Errno::ENOTDIR)
    }
    /// Entries from `offset` on (0 starts with `.` and `..`); `sink` returns false when
    /// it has no room, and that entry is not consumed. The filesystem may call `sink`
    /// with the directory locked: it must not block or call back into the filesystem
    /// (copy into a kernel buffer, not straight to user memory).
    fn readdir(&self, _offset: u64, _sink: &mut dyn FnMut(DirEntry<'_>) -> bool) -> Result<()> {
        Err(Errno::ENOTDIR)
    }

    fn readlink(&self) -> Result<Vec<u8>> {
        Err(Errno::EINVAL)
    }
    /// For a magic link (Linux's `/proc/<pid>/fd/N`): where following it leads, the open
    /// file's own place, whatever its text says (`pipe:[N]`, a deleted file, a file
    /// outside the caller's root). `None` for an ordinary symlink, followed by its text.
    fn link_destination(&self) -> Option<Result<crate::mount::Location>> {
        None
    }
    /// Bytes at `offset`; fewer than asked at end of file; holes read as zeros.
    fn read_at(&self, _offset: u64, _buf: &mut [u8]) -> Result<usize> {
        Err(if self.file_type() == FileType::Directory {
            Errno::EISDIR
        } else {
            Errno::EINVAL
        })
    }
    fn write_at(&self, _offset: u64, _buf: &[u8]) -> Result<usize> {
        Err(if self.file_type() == FileType::Directory {
            Errno::EISDIR
        } else {
            Errno::EINVAL
        })
    }
    /// `O_APPEND` writes: at the end, returning where the data went and how much of it.
    /// Filesystems that can should find the end and write under one lock, so that
    /// appends through different open files never overwrite each other.
    fn append(&self, buf: &[u8]) -> Result<(u64, usize)> {
        let end = self.getattr()?.size;
        Ok((end, self.write_at(end, buf)?))
    }
    fn fsync(&self) -> Result<()> {
        Ok(())
    }

    /// Called by `open` once the checks have passed, before the open file exists:
    /// overlay copies up here when the file is opened for writing or with `O_TRUNC`
    /// (Linux's `ovl_maybe_copy_up`); a remote filesystem may open its handle.
    fn on_open(&self, _flags: OpenFlags) -> Result<()> {
        Ok(())
    }

    /// `lseek(SEEK_DATA)`: the first offset at or after `offset` holding data; `ENXIO`
    /// at or past the end. The default treats the whole file as data.
    fn seek_data(&self, offset: u64) -> Result<u64> {
        if offset < self.getattr()?.size {
            Ok(offset)
        } else {
            Err(Errno::ENXIO)
        }
    }
    /// `lseek(SEEK_HOLE)`: the first hole at or after `offset` (the end counts as one).
    fn seek_hole(&self, offset: u64) -> Result<u64> {
        let size = self.getattr()?.size;
        if offset < size {
            Ok(size)
        } else {
            Err(Errno::ENXIO)
        }
    }

    /// The inode that holds this one's data when another does (an overlay file copied
    /// up: its upper file), so a mapping shares that file's pages; `None`: this one.
    fn data_inode(&self) -> Option<Arc<dyn Inode>> {
        None
    }
    /// Whether mappings share this file's pages ([`Inode::mapped_page`]): tmpfs files,
    /// Linux's shmem (see [`crate::mapping`]). Other files are copied into private pages
    /// for `MAP_PRIVATE`; `MAP_SHARED` maps their [`Inode::page_cache`] if they have one,
    /// and a writable `MAP_SHARED` mapping of a file with neither is `ENODEV`.
    fn shares_pages(&self) -> bool {
        false
    }
    /// The file's page at page `index` for a mapping: made (zeroed, or for a file with a
    /// page cache read from the file) when missing and `create`, else `None` for a hole
    /// (for a page cache: a page not cached). `ENXIO` when the page lies wholly past the end
    /// of the file (the access is a `SIGBUS`), `ENOSPC` when the filesystem is full (also
    /// `SIGBUS`, as Linux's shmem), `ENOMEM` when memory is.
    fn mapped_page(&self, _index: u64, _create: bool) -> Result<Option<Arc<dyn FilePage>>> {
        Err(Errno::ENODEV)
    }
    /// Counts a new shared mapping that may write the file; `EPERM` if it is sealed
    /// against writes.
    fn writable_mapping(&self) -> Result<MappingWriter> {
        Err(Errno::ENODEV)
    }
    /// `fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)`: `[offset, offset + len)`
    /// reads as zeros after, its whole pages freed (`madvise(MADV_REMOVE)` uses it).
    fn punch_hole(&self, _offset: u64, _len: u64) -> Result<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// Whether forgetting this inode, once nothing but its cached name holds it, loses
    /// nothing its directory cannot give back without a round trip (an exclusive 9p
    /// file whose directory keeps a listing: see `p9/listing.rs`). A crowded directory
    /// drops such names from the dentry cache, so a million cached entries cost their
    /// listings' few bytes each rather than a dentry and an inode each.
    fn forgettable(&self) -> bool {
        false
    }

    /// The page cache of a file whose data lives elsewhere (9p): `MAP_SHARED` mappings
    /// map its pages (through [`Inode::mapped_page`] and [`Inode::writable_mapping`]),
    /// and what they store is written back with [`Inode::write_back`]. The filesystem
    /// keeps it coherent with its own reads, writes and size changes (see
    /// [`crate::page_cache`]). `None`: no such cache (a tmpfs file's pages are the file
    /// itself, [`Inode::shares_pages`]; other files are copied into private pages).
    fn page_cache(&self) -> Option<&PageCache> {
        None
    }
    /// Writes pages taken dirty from [`Inode::page_cache`] back to where the file's data
    /// lives, none of it past the file's end (a store through a mapping never extends a
    /// file). The error is also kept for the next `fsync`.
    fn write_back(&self, _pages: &[DirtyPage]) -> Result<()> {
        Ok(())
    }
    /// `fallocate` modes 0 and `FALLOC_FL_KEEP_SIZE`: `[offset, offset + len)` gets its
    /// backing store now, so writes there cannot fail for want of space later; it still
    /// reads as zeros where nothing was written, and the size grows to `offset + len`
    /// unless `keep_size`. The caller has checked the arguments (`len > 0`, the end within
    /// `i64::MAX`) and the descriptor ([`crate::OpenFile::allocate`]). A filesystem
    /// without it says `EOPNOTSUPP`, as Linux's 9p does.
    fn allocate(&self, _offset: u64, _len: u64, _keep_size: bool) -> Result<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// `fcntl(F_GET_SEALS)`: `EINVAL` for a file that cannot be sealed.
    fn seals(&self) -> Result<u32> {
        Err(Errno::EINVAL)
    }
    /// `fcntl(F_ADD_SEALS)`, the descriptor's write access checked by the caller.
    fn add_seals(&self, _seals: u32) -> Result<()> {
        Err(Errno::EINVAL)
    }

    /// Extended attributes (`trusted.*`, `user.*`, …); overlay keeps its whiteout and
    /// origin marks in them. `ENODATA` for a missing name.
    fn get_xattr(&self, _name: &[u8]) -> Result<Vec<u8>> {
        Err(Errno::EOPNOTSUPP)
    }
    /// `flags` is `XATTR_CREATE` (1: `EEXIST` if present) or `XATTR_REPLACE` (2:
    /// `ENODATA` if absent) or 0.
    fn set_xattr(&self, _name: &[u8], _value: &[u8], _flags: u32) -> Result<()> {
        Err(Errno::EOPNOTSUPP)
    }
    fn remove_xattr(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::EOPNOTSUPP)
    }
    fn list_xattr(&self) -> Result<Vec<Vec<u8>>> {
        Err(Errno::EOPNOTSUPP)
    }
}

/// `setxattr` flags.
pub const XATTR_CREATE: u32 = 1;
pub const XATTR_REPLACE: u32 = 2;

/// Read a whole symlink or small file through the trait: used by the walk and overlay.
pub fn read_to_end(inode: &dyn Inode) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = inode.read_at(data.len() as u64, &mut chunk)?;
        if read == 0 {
            return Ok(data);
        }
        data.extend_from_slice(&chunk[..read]);
    }
}
