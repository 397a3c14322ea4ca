//! One file of a 9p mount: the `Inode` trait over a walked fid.
//!
//! Each inode owns one unopened fid for its path (walk, getattr, setattr and the directory
//! operations use it) and, created on first I/O, opened fids: one read-write fid when the
//! server grants it, else separate read-only and write-only ones. They are clunked when the
//! inode is dropped (each `Fid` clunks itself).
//!
//! Caching (exclusive mounts only): attributes are cached and dropped whenever this kernel
//! changes them (setattr, write, link counts, directory contents), so the next `getattr`
//! fetches the server's values, timestamps included; the host is the clock. Directories
//! remember which live inodes they handed out by name, so removing or renaming a name
//! also drops the cached attributes (link count, ctime) of the inode it named. Symlink
//! targets never change and are cached on every mount.
//!
//! A regular file also has a page cache for `MAP_SHARED` mappings (`pages.rs`), kept
//! coherent here: reads see what mappings stored, writes and truncations reach the
//! cached pages.
//!
//! Locks (`open`, `children`, `origin`, `symlink_target`, `recent`, the attribute
//! cache's, the listing slot's and the page cache's) are leaves:
//! never two at once, never across a request, never where a fid can drop. The whole
//! order of the 9p client and filesystem is at the top of `client.rs`.

use super::Mount;
use super::attr_cache::AttrCache;
use super::batch::Recent;
use super::client::Fid;
use super::convert::{dirent_file_type, setattr_fields, stat_from_attr};
use super::listing::Slot;
use super::message::{AT_REMOVEDIR, Attr, SetAttrFields, getattr_mask, open_flags, setattr_mask};
use crate::attr::{DirEntry, FileType, RenameFlags, SetAttr, Stat, dev_major, dev_minor, mode};
use crate::budget::FilePage;
use crate::errno::{Errno, Result};
use crate::inode::{
    CachePolicy, FIRST_ENTRY_OFFSET, Inode, NewNode, NodeKind, check_name, readdir_dots, same_fs,
};
use crate::mapping::MappingWriter;
use crate::page_cache::{DirtyPage, PageCache};
use alloc::boxed::Box;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use hashbrown::HashMap;
use spin::Mutex;

/// The fids an inode opened for I/O; a read-write fid sits in both slots.
#[derive(Default)]
struct OpenFids {
    read: Option<Arc<Fid>>,
    write: Option<Arc<Fid>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

pub struct P9Inode {
    pub(super) mount: Arc<Mount>,
    /// This inode, for the children that walk from it.
    pub(super) me: Weak<P9Inode>,
    /// The fid for this file's path, walked when first needed (a file known from its
    /// directory's listing has none until then). Never opened: 9P forbids walking from
    /// an open fid.
    fid: spin::Once<Fid>,
    /// Where the path fid is walked from while there is none: the parent and the name.
    origin: Mutex<Option<Origin>>,
    ino: u64,
    /// Exclusive mounts: the parent directory's inode number, for `..` in a directory
    /// read (0: not known, walked for). Moves with a rename.
    parent_ino: core::sync::atomic::AtomicU64,
    file_type: FileType,
    is_root: bool,
    pub(super) attrs: AttrCache,
    /// What only some inodes need (opened files, directories, symlinks, mapped files),
    /// made on first use: most cached inodes are files only ever stat'ed, and stay small.
    extra: spin::Once<Box<Extra>>,
}

#[derive(Default)]
pub(super) struct Extra {
    open: Mutex<OpenFids>,
    /// A regular file's pages for `MAP_SHARED` mappings (see `pages.rs`), made when
    /// first asked for: most files are never mapped.
    pub(super) cache: spin::Once<Box<PageCache>>,
    symlink_target: Mutex<Option<Vec<u8>>>,
    /// Name → inode handed out: for invalidation on unlink and rename, for a shared
    /// lookup to keep the inode it finds unchanged, for the listing to skip live ones.
    children: Mutex<Children>,
    /// Exclusive mounts, directories: the listing (see `listing.rs`), made on first read.
    pub(super) listing: spin::Once<Arc<Slot>>,
    /// Shared mounts, directories: the names the last read handed out and their batched
    /// attributes (see `batch.rs`).
    pub(super) recent: Mutex<Option<Box<Recent>>>,
}

/// A path fid's starting point: the parent directory and the name in it.
struct Origin {
    parent: Arc<P9Inode>,
    name: Box<[u8]>,
}

#[derive(Default)]
struct Children {
    by_name: HashMap<Box<[u8]>, Weak<P9Inode>>,
    /// Size after the last sweep of dead entries; the next sweep waits until it doubles.
    swept_len: usize,
}

/// Exclusive mounts: a file made from its directory's listing and never walked to gives
/// its attributes back to the listing as it goes (see `listing.rs`), so forgetting it
/// costs no round trip later.
impl Drop for P9Inode {
    fn drop(&mut self) {
        if self.mount.policy != CachePolicy::Exclusive {
            return;
        }
        let Some(origin) = self.origin.get_mut().take() else {
            return;
        };
        if let Some((stat, links)) = self.attrs.cached_mut() {
            origin
                .parent
                .take_back(&origin.name, self.ino, &stat, links);
        }
    }
}

impl P9Inode {
    /// Wraps a fid the server confirmed, with the attributes fetched for it.
    pub(super) fn new(
        mount: &Arc<Mount>,
        fid: Fid,
        attr: &Attr,
        is_root: bool,
    ) -> Result<Arc<P9Inode>> {
        let stat = stat_from_attr(attr, mount.dev)?;
        let file_type = stat.file_type().ok_or(Errno::EIO)?;
        let inode = P9Inode::make(mount, attr.qid.path, file_type, is_root, None);
        let _ = inode.fid.call_once(|| fid);
        if mount.policy == CachePolicy::Exclusive
            && let Err(ticket) = inode
                .attrs
                .get(mount.links.load(core::sync::atomic::Ordering::Acquire))
        {
            inode.attrs.fill(ticket, stat);
        }
        Ok(inode)
    }

    /// A file known from its directory's listing: no fid yet (walked from `parent` when
    /// needed), with the attributes the listing fetched if it still had them.
    pub(super) fn listed(
        parent: Arc<P9Inode>,
        name: &[u8],
        ino: u64,
        file_type: FileType,
        stat: Option<Stat>,
        links: u64,
    ) -> Arc<P9Inode> {
        let mount = parent.mount.clone();
        let origin = Origin {
            parent,
            name: name.into(),
        };
        let inode = P9Inode::make(&mount, ino, file_type, false, Some(origin));
        if let Some(stat) = stat
            && let Err(ticket) = inode.attrs.get(links)
        {
            inode.attrs.fill(ticket, stat);
        }
        inode
    }

    fn make(
        mount: &Arc<Mount>,
        ino: u64,
        file_type: FileType,
        is_root: bool,
        origin: Option<Origin>,
    ) -> Arc<P9Inode> {
        Arc::new_cyclic(|me| P9Inode {
            mount: mount.clone(),
            me: me.clone(),
            fid: spin::Once::new(),
            origin: Mutex::new(origin),
            ino,
            parent_ino: core::sync::atomic::AtomicU64::new(0),
            file_type,
            is_root,
            attrs: AttrCache::default(),
            extra: spin::Once::new(),
        })
    }

    pub(super) fn extra(&self) -> &Extra {
        self.extra.call_once(|| Box::new(Extra::default()))
    }

    pub(super) fn extra_made(&self) -> Option<&Extra> {
        self.extra.get().map(|extra| &**extra)
    }

    /// The fid for this file's path (walked now if it has none yet).
    pub fn fid(&self) -> Result<&Fid> {
        self.fid.try_call_once(|| self.walk_from_origin())
    }

    /// A new fid for this file's path: one multi-name walk (split per 16 names) from the
    /// nearest ancestor holding a fid, found going up without recursion.
    fn walk_from_origin(&self) -> Result<Fid> {
        let (mut from, name) = self.origin().ok_or(Errno::EIO)?;
        let mut names = alloc::vec![name];
        while from.fid.get().is_none() {
            let (parent, name) = from.origin().ok_or(Errno::EIO)?;
            names.push(name);
            from = parent;
        }
        names.reverse();
        let path: Vec<&[u8]> = names.iter().map(|name| &name[..]).collect();
        let (fid, qids) = from.fid()?.walk(&path)?;
        // Exclusive mounts: only this kernel renames, and a rename moves the origin with
        // the file; anything else found there is the server's inconsistency.
        if qids.last().is_some_and(|qid| qid.path != self.ino) {
            return Err(Errno::ESTALE);
        }
        *self.origin.lock() = None;
        Ok(fid)
    }

    fn origin_parent(&self) -> Option<Arc<P9Inode>> {
        self.origin
            .lock()
            .as_ref()
            .map(|origin| origin.parent.clone())
    }

    fn origin(&self) -> Option<(Arc<P9Inode>, Box<[u8]>)> {
        self.origin
            .lock()
            .as_ref()
            .map(|origin| (origin.parent.clone(), origin.name.clone()))
    }

    fn exclusive(&self) -> bool {
        self.mount.policy == CachePolicy::Exclusive
    }

    fn require_directory(&self) -> Result<()> {
        if self.file_type == FileType::Directory {
            Ok(())
        } else {
            Err(Errno::ENOTDIR)
        }
    }

    /// The inode `name` names in this directory, fetched from the server.
    /// Shared mounts: when it is still the same file, the inode already handed out for
    /// `name` is kept (so the VFS's cached name stays valid), with the attributes just
    /// fetched ready for the `getattr` that follows.
    fn walk_child(&self, name: &[u8]) -> Result<Arc<P9Inode>> {
        let (fid, _) = self.fid()?.walk(&[name])?;
        let attr = fid.getattr(getattr_mask::STAT)?;
        let child = P9Inode::new(&self.mount, fid, &attr, false)?;
        if !self.exclusive() {
            let stat = stat_from_attr(&attr, self.mount.dev)?;
            return Ok(self.adopt_shared(name, child, stat));
        }
        self.remember_child(name, &child);
        Ok(child)
    }

    /// Shared mounts: `child`, just found under `name` with attributes `stat`, or the
    /// inode already handed out for `name` when it is still the same file; either way
    /// with `stat` ready for the `getattr` that follows.
    pub(super) fn adopt_shared(
        &self,
        name: &[u8],
        child: Arc<P9Inode>,
        stat: Stat,
    ) -> Arc<P9Inode> {
        let requests = self.mount.client.requests_sent();
        if let Some(live) = self.live_child(name)
            && live.ino == child.ino
            && live.file_type == child.file_type
        {
            drop(child);
            live.attrs
                .fill_fresh(stat, self.mount.client.requests_sent());
            return live;
        }
        child.attrs.fill_fresh(stat, requests);
        self.remember_child(name, &child);
        child
    }

    /// Attributes of the directory changed (entries, link count, times), and its listing
    /// no longer holds.
    fn directory_changed(&self) {
        self.attrs.invalidate();
        if let Some(slot) = self.extra_made().and_then(|extra| extra.listing.get()) {
            let mut state = slot.lock();
            state.generation += 1;
            state.listing = None;
        }
    }

    /// The live inode this directory handed out for `name`, if any (exclusive mounts).
    pub(super) fn live_child(&self, name: &[u8]) -> Option<Arc<P9Inode>> {
        self.extra_made()?
            .children
            .lock()
            .by_name
            .get(name)?
            .upgrade()
    }

    /// A name of some file went or came: any inode of the mount may be that file under
    /// another name, so every cached link count is now suspect.
    fn links_changed(&self) {
        self.mount
            .links
            .fetch_add(1, core::sync::atomic::Ordering::AcqRel);
    }

    pub(super) fn remember_child(&self, name: &[u8], child: &Arc<P9Inode>) {
        child
            .parent_ino
            .store(self.ino, core::sync::atomic::Ordering::Relaxed);
        let mut children = self.extra().children.lock();
        children.by_name.insert(name.into(), Arc::downgrade(child));
        if children.by_name.len() > 2 * children.swept_len.max(32) {
            children.by_name.retain(|_, child| child.strong_count() > 0);
            children.swept_len = children.by_name.len();
        }
    }

    /// Forgets `name`; the inode it named (if still alive) had its link count or ctime
    /// changed by the server, so its cached attributes go too.
    fn forget_child(&self, name: &[u8]) -> Option<Arc<P9Inode>> {
        let child = self
            .extra_made()?
            .children
            .lock()
            .by_name
            .remove(name)?
            .upgrade()?;
        child.attrs.invalidate();
        Some(child)
    }

    /// The opened fid for `access`, opening one on first use.
    pub(super) fn open_fid(&self, access: Access) -> Result<Arc<Fid>> {
        if let Some(fid) = self.extra().open.lock().slot(access) {
            return Ok(fid.clone());
        }
        // Opened without the lock held (it is a round trip); a racing opener's fid wins
        // and ours is clunked when dropped.
        let (fid, readable, writable) = self.open_new_fid(access)?;
        let fid = Arc::new(fid);
        let mut open = self.extra().open.lock();
        if readable && open.read.is_none() {
            open.read = Some(fid.clone());
        }
        if writable && open.write.is_none() {
            open.write = Some(fid.clone());
        }
        open.slot(access).cloned().ok_or(Errno::EIO)
    }

    /// A new fid opened read-write if the server allows it (so one fid serves both ways),
    /// else just for `access`. Returns `(fid, readable, writable)`.
    fn open_new_fid(&self, access: Access) -> Result<(Fid, bool, bool)> {
        let (fid, _) = self.fid()?.walk(&[])?;
        if self.file_type == FileType::Directory {
            fid.lopen(open_flags::RDONLY | open_flags::DIRECTORY)?;
            return Ok((fid, true, false));
        }
        match fid.lopen(open_flags::RDWR) {
            Ok(_) => Ok((fid, true, true)),
            // A failed open leaves the fid unopened, so it can try again with less.
            Err(Errno::EACCES | Errno::EPERM | Errno::EROFS | Errno::ETXTBSY) => {
                let flags = if access == Access::Read {
                    open_flags::RDONLY
                } else {
                    open_flags::WRONLY
                };
                fid.lopen(flags)?;
                Ok((fid, access == Access::Read, access == Access::Write))
            }
            Err(errno) => Err(errno),
        }
    }

    /// Sets the owner of a just-created object when the server chose another (QEMU uses
    /// the attach's uid, Google's p9 its own): the VFS decided `uid`/`gid`. Best effort: a
    /// server running unprivileged cannot give files away (`EPERM`), and then the file
    /// keeps the owner the host gave it, which is what `getattr` will report, rather than
    /// every create by a non-root container user failing.
    fn fix_owner(&self, fid: &Fid, attr: Attr, node: &NewNode<'_>) -> Result<Attr> {
        let is_symlink = matches!(node.kind, NodeKind::Symlink { .. });
        // A setattr on a symlink fid follows the link on some servers: leave symlinks as
        // the server made them rather than risk changing the target's owner.
        if is_symlink || (attr.uid == node.uid && attr.gid == node.gid) {
            return Ok(attr);
        }
        let fields = SetAttrFields {
            valid: setattr_mask::UID | setattr_mask::GID,
            uid: node.uid,
            gid: node.gid,
            ..SetAttrFields::default()
        };
        match fid.setattr(&fields) {
            Ok(()) => fid.getattr(getattr_mask::STAT),
            Err(Errno::EPERM | Errno::EACCES) => Ok(attr),
            Err(errno) => Err(errno),
        }
    }

    /// Makes the object `node` describes as `name`; returns its fid opened read-write for a
    /// regular file (made with `Tlcreate`, which opens what it creates).
    fn make_object(&self, name: &[u8], node: &NewNode<'_>) -> Result<Option<Fid>> {
        let perm = node.perm & mode::S_IALLUGO;
        match node.kind {
            NodeKind::Regular => {
                let (fid, _) = self.fid()?.walk(&[])?;
                fid.lcreate(name, open_flags::RDWR, perm, node.gid)?;
                return Ok(Some(fid));
            }
            NodeKind::Directory => self.fid()?.mkdir(name, perm, node.gid)?,
            NodeKind::Symlink { target } => self.fid()?.symlink(name, target, node.gid)?,
            NodeKind::Device { file_type, rdev } => {
                if !file_type.is_device() {
                    return Err(Errno::EINVAL);
                }
                self.fid()?.mknod(
                    name,
                    file_type.mode_bits() | perm,
                    dev_major(rdev),
                    dev_minor(rdev),
                    node.gid,
                )?
            }
            NodeKind::Fifo | NodeKind::Socket => self.fid()?.mknod(
                name,
                node.kind.file_type().mode_bits() | perm,
                0,
                0,
                node.gid,
            )?,
        };
        Ok(None)
    }

    fn same_mount(&self, other: &Arc<dyn Inode>) -> Result<Arc<P9Inode>> {
        same_fs(other, |node: &P9Inode| {
            Arc::ptr_eq(&node.mount, &self.mount)
        })
    }
}

impl OpenFids {
    fn slot(&self, access: Access) -> Option<&Arc<Fid>> {
        match access {
            Access::Read => self.read.as_ref(),
            Access::Write => self.write.as_ref(),
        }
    }
}

impl Inode for P9Inode {
    fn ino(&self) -> u64 {
        self.ino
    }

    fn file_type(&self) -> FileType {
        self.file_type
    }

    /// A file only ever looked up or stat'ed (no fid walked, nothing opened, mapped or
    /// read as a link) whose directory keeps its listing: its attributes go back there as
    /// it goes, and the next lookup makes it again from them.
    fn forgettable(&self) -> bool {
        self.exclusive()
            && self.file_type != FileType::Directory
            && self.extra.get().is_none()
            && self
                .origin_parent()
                .is_some_and(|parent| parent.has_listing())
    }

    fn getattr(&self) -> Result<Stat> {
        if !self.exclusive()
            && let Some(stat) = self.attrs.take_fresh(self.mount.client.requests_sent())
        {
            return Ok(stat);
        }
        let ticket = match self
            .attrs
            .get(self.mount.links.load(core::sync::atomic::Ordering::Acquire))
        {
            Ok(stat) => return Ok(stat),
            Err(ticket) => ticket,
        };
        let mut stat = stat_from_attr(&self.fid()?.getattr(getattr_mask::STAT)?, self.mount.dev)?;
        // A server may answer for whatever sits at the fid's path now (QEMU's local backend
        // keeps paths, and the host may have replaced the file) or just lie. As in Linux's
        // v9fs, an inode keeps its number and type for life and takes the rest from the reply.
        stat.ino = self.ino;
        stat.mode = self.file_type.mode_bits() | (stat.mode & mode::S_IALLUGO);
        if self.exclusive() {
            self.attrs.fill(ticket, stat);
        } else {
            self.attrs.saw(&stat);
        }
        Ok(stat)
    }

    /// Shared mounts: the mode and owners as last fetched (every lookup fetches them),
    /// so a walk through a directory costs no round trip for its permission check;
    /// a change of them on the host is seen at the directory's next lookup or `stat`.
    fn search_attrs(&self) -> Result<Stat> {
        let Some((mode, uid, gid)) = self.attrs.seen().filter(|_| !self.exclusive()) else {
            return self.getattr();
        };
        let never = crate::time::Timespec::default();
        Ok(Stat {
            dev: self.mount.dev,
            ino: self.ino,
            mode,
            nlink: 0,
            uid,
            gid,
            rdev: 0,
            size: 0,
            blksize: 0,
            blocks: 0,
            atime: never,
            mtime: never,
            ctime: never,
            btime: never,
        })
    }

    fn setattr(&self, change: &SetAttr) -> Result<()> {
        if change.access_only {
            // The host stamps atime itself when the server reads for us (under its own
            // relatime/noatime rules); a round trip per read to repeat that buys nothing.
            // Reached only through an overlay: on a 9p mount the VFS does not ask
            // (`P9FileSystem::stamps_atime_itself`).
            return Ok(());
        }
        let Some(fields) = setattr_fields(change) else {
            return Ok(());
        };
        if change.size.is_some() && self.file_type == FileType::Directory {
            return Err(Errno::EISDIR);
        }
        let size_before = match change.size {
            Some(_) => self.size_for_cache()?,
            None => None,
        };
        let result = self.fid()?.setattr(&fields);
        // Even a failed setattr may have applied part of the change on the server.
        self.attrs.invalidate();
        if let (Some(cache), Some(old), Some(new), Ok(())) = (
            self.extra_made().and_then(|extra| extra.cache.get()),
            size_before,
            change.size,
            &result,
        ) {
            cache.resized(old, new);
        }
        result
    }

    fn peek_child_stat(&self, name: &[u8]) -> Option<Stat> {
        if !self.exclusive() || self.file_type != FileType::Directory || check_name(name).is_err() {
            return None;
        }
        self.peek_listed(name)
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        self.require_directory()?;
        check_name(name)?;
        if self.exclusive()
            && let Some(child) = self.lookup_listed(name)?
        {
            return Ok(child);
        }
        if !self.exclusive()
            && let Some(child) = self.lookup_batched(name)?
        {
            return Ok(child);
        }
        Ok(self.walk_child(name)?)
    }

    fn create(&self, name: &[u8], node: &NewNode<'_>) -> Result<Arc<dyn Inode>> {
        self.require_directory()?;
        check_name(name)?;
        let opened = self.make_object(name, node)?;
        self.directory_changed();
        let (fid, _) = self.fid()?.walk(&[name])?;
        let attr = self.fix_owner(&fid, fid.getattr(getattr_mask::STAT)?, node)?;
        let child = P9Inode::new(&self.mount, fid, &attr, false)?;
        if let Some(opened) = opened {
            let opened = Arc::new(opened);
            let mut open = child.extra().open.lock();
            open.read = Some(opened.clone());
            open.write = Some(opened);
        }
        self.remember_child(name, &child);
        Ok(child)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<()> {
        self.require_directory()?;
        check_name(name)?;
        let target = self.same_mount(target)?;
        if target.file_type == FileType::Directory {
            return Err(Errno::EPERM);
        }
        self.fid()?.link(target.fid()?, name)?;
        target.attrs.invalidate();
        self.directory_changed();
        self.links_changed();
        // The new name is not remembered as `target`: that object's fid is walked through
        // the old name, and a lookup of the new one must walk its own.
        Ok(())
    }

    fn unlink(&self, name: &[u8]) -> Result<()> {
        self.require_directory()?;
        check_name(name)?;
        self.fid()?.unlinkat(name, 0)?;
        self.forget_child(name);
        self.directory_changed();
        self.links_changed();
        Ok(())
    }

    fn rmdir(&self, name: &[u8]) -> Result<()> {
        self.require_directory()?;
        check_name(name)?;
        self.fid()?.unlinkat(name, AT_REMOVEDIR)?;
        self.forget_child(name);
        self.directory_changed();
        self.links_changed();
        Ok(())
    }

    /// 9P2000.L's `renameat` has no flags. `RENAME_NOREPLACE` is emulated with a walk
    /// first: exact on an exclusive mount, racy against the host on a shared one (as
    /// Linux's v9fs, which refuses the flag, leaves to user space). `RENAME_EXCHANGE`
    /// and `RENAME_WHITEOUT` cannot be expressed: `EINVAL`, as Linux's v9fs answers.
    fn rename(
        &self,
        old_name: &[u8],
        new_parent: &Arc<dyn Inode>,
        new_name: &[u8],
        flags: RenameFlags,
    ) -> Result<()> {
        self.require_directory()?;
        check_name(old_name)?;
        check_name(new_name)?;
        let new_parent = self.same_mount(new_parent)?;
        new_parent.require_directory()?;
        if flags.intersects(RenameFlags::EXCHANGE | RenameFlags::WHITEOUT) {
            return Err(Errno::EINVAL);
        }
        if flags.contains(RenameFlags::NOREPLACE) {
            match new_parent.fid()?.walk(&[new_name]) {
                Ok(_) => return Err(Errno::EEXIST),
                Err(Errno::ENOENT) => {}
                Err(errno) => return Err(errno),
            }
        }
        self.fid()?
            .renameat(old_name, new_parent.fid()?, new_name)?;
        new_parent.forget_child(new_name);
        if let Some(moved) = self.forget_child(old_name) {
            new_parent.remember_child(new_name, &moved);
            // A file with no path fid yet walks from where it is now.
            let mut origin = moved.origin.lock();
            if let Some(origin) = origin.as_mut() {
                origin.parent = new_parent.clone();
                origin.name = new_name.into();
            }
        }
        self.directory_changed();
        new_parent.directory_changed();
        self.links_changed();
        Ok(())
    }

    /// The VFS's readdir contract puts `.` and `..` at offsets 0 and 1; a 9p server lists
    /// them wherever its directory stream has them (QEMU: in the host's order). So this
    /// lists them first itself and then the server's other entries, at the server's
    /// cookies shifted by 2 (QEMU's cookies are `telldir` positions, far from overflow).
    fn readdir(&self, offset: u64, sink: &mut dyn FnMut(DirEntry<'_>) -> bool) -> Result<()> {
        self.require_directory()?;
        // At a mount's root, `..` is the root itself: the host's parent is not ours.
        let parent_ino = || {
            if self.is_root {
                return Ok(self.ino);
            }
            let known = self.parent_ino.load(core::sync::atomic::Ordering::Relaxed);
            if self.exclusive() && known != 0 {
                return Ok(known);
            }
            Ok(self
                .fid()?
                .walk(&[b".."])?
                .1
                .last()
                .map_or(self.ino, |qid| qid.path))
        };
        if !readdir_dots(offset, self.ino, parent_ino, sink)? {
            return Ok(());
        }
        if self.exclusive()
            && self.readdir_listed(offset.saturating_sub(FIRST_ENTRY_OFFSET), sink)?
        {
            return Ok(());
        }
        let fid = self.open_fid(Access::Read)?;
        let mut read = |record: &mut dyn FnMut(&[u8])| {
            fid.readdir(offset.saturating_sub(FIRST_ENTRY_OFFSET), &mut |entry| {
                if entry.name == b"." || entry.name == b".." {
                    return true;
                }
                let taken = sink(DirEntry {
                    name: entry.name,
                    ino: entry.qid.path,
                    file_type: dirent_file_type(entry.kind, entry.qid.kind),
                    next_offset: entry.offset.saturating_add(FIRST_ENTRY_OFFSET),
                });
                if taken {
                    record(entry.name);
                }
                taken
            })
        };
        if self.exclusive() {
            read(&mut |_| {})
        } else {
            self.record_read(read)
        }
    }

    fn readlink(&self) -> Result<Vec<u8>> {
        if self.file_type != FileType::Symlink {
            return Err(Errno::EINVAL);
        }
        if let Some(target) = self.extra().symlink_target.lock().as_ref() {
            return Ok(target.clone());
        }
        let target = self.fid()?.readlink()?;
        *self.extra().symlink_target.lock() = Some(target.clone());
        Ok(target)
    }

    /// What the host holds, with what shared mappings stored and did not write back yet
    /// laid over it (see `pages.rs`).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        match self.file_type {
            FileType::Regular => {
                let read = self.open_fid(Access::Read)?.read_at(offset, buf)?;
                if let Some(cache) = self.extra_made().and_then(|extra| extra.cache.get()) {
                    cache.read_over(offset, &mut buf[..read]);
                }
                Ok(read)
            }
            FileType::Directory => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Written through to the host, and into the pages shared mappings hold.
    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<usize> {
        match self.file_type {
            FileType::Regular => {
                let size_before = self.size_for_cache()?;
                let result = self.open_fid(Access::Write)?.write_at(offset, buf);
                self.attrs.invalidate();
                if let (Some(cache), Some(size_before), Ok(written)) = (
                    self.extra_made().and_then(|extra| extra.cache.get()),
                    size_before,
                    &result,
                ) {
                    cache.written(offset, &buf[..*written], size_before);
                }
                result
            }
            FileType::Directory => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    fn page_cache(&self) -> Option<&PageCache> {
        self.cache_made()
    }

    fn mapped_page(&self, index: u64, create: bool) -> Result<Option<Arc<dyn FilePage>>> {
        self.cached_page(index, create)
    }

    fn writable_mapping(&self) -> Result<MappingWriter> {
        Ok(self.cache_made().ok_or(Errno::ENODEV)?.writable_mapping())
    }

    fn write_back(&self, pages: &[DirtyPage]) -> Result<()> {
        self.write_back_pages(pages)
    }

    /// Syncs through whichever fid is open (the server needs an open file); with none
    /// open, nothing was written through this inode that could still be unsynced.
    fn fsync(&self) -> Result<()> {
        let fid = {
            let open = self.extra().open.lock();
            open.write.clone().or_else(|| open.read.clone())
        };
        match fid {
            Some(fid) => fid.fsync(false),
            None => Ok(()),
        }
    }
}
