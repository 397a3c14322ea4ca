//! ramfs, middle: one in-memory node and the `Inode` operations on it. Lock order: see
//! the top of `ramfs/mod.rs`.

use super::dir::DirEntries;
use super::pages::{PAGE_SIZE, Pages};
use super::{Shared, blocks_for_pages};
use crate::attr::{DirEntry, FileType, NAME_MAX, RenameFlags, SetAttr, Stat, TimeChange, mode};
use crate::budget::{Charge, FilePage, OverBudget, heap_cost};
use crate::errno::{Errno, Result};
use crate::inode::{
    Inode, NewNode, NodeKind, XATTR_CREATE, XATTR_REPLACE, check_name, readdir_dots, same_fs,
    same_fs_ref,
};
use crate::mapping::{MappingWriter, seal};
use crate::time::Timespec;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::{Mutex, MutexGuard};

/// Linux's tmpfs keeps symlink targets shorter than this inline and puts longer ones in
/// a page (`SHORT_SYMLINK_LEN`, counting the NUL), which shows in `st_blocks`.
const SHORT_SYMLINK_LEN: usize = 128;
/// `MAX_LFS_FILESIZE` on 64-bit Linux.
const MAX_FILE_SIZE: u64 = i64::MAX as u64;

pub(super) struct Meta {
    pub(super) xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub(super) perm: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) nlink: u64,
    pub(super) rdev: u64,
    pub(super) atime: Timespec,
    pub(super) mtime: Timespec,
    pub(super) ctime: Timespec,
    pub(super) btime: Timespec,
}

pub(super) enum Body {
    File(Pages),
    Dir(DirEntries),
    Symlink(Vec<u8>),
    Special,
}

pub(super) struct NodeState {
    pub(super) meta: Meta,
    pub(super) body: Body,
    /// The node itself, a symlink's target and the extended attributes, charged to the
    /// budget (a directory's entries and a file's pages carry charges of their own).
    charge: Charge,
}

/// What a node costs the budget before anything is stored in it.
const NODE_COST: u64 = heap_cost(core::mem::size_of::<RamInode>());
/// What a directory costs besides: the first node of its ordered map (a whole B-tree node
/// for one entry) and the first table of its hash map.
const DIRECTORY_COST: u64 = 640;

/// What an extended attribute costs the budget: its name, its value and its slot.
fn xattr_cost(name: &[u8], value: &[u8]) -> u64 {
    heap_cost(name.len()) + heap_cost(value.len()) + 48
}

impl NodeState {
    pub(super) fn dir(&mut self) -> Result<&mut DirEntries> {
        match &mut self.body {
            Body::Dir(entries) if !entries.dead => Ok(entries),
            Body::Dir(_) => Err(Errno::ENOENT),
            _ => Err(Errno::ENOTDIR),
        }
    }

    pub(super) fn touch_modified(&mut self, now: Timespec) {
        self.meta.mtime = now;
        self.meta.ctime = now;
    }
}

/// A ramfs node. Public so the kernel can recognise ramfs inodes; all access is through
/// the `Inode` trait.
pub struct RamInode {
    pub(super) ino: u64,
    pub(super) file_type: FileType,
    /// The containing directory's inode number, for `..` in `readdir`; an atomic so
    /// rename need not lock a moved directory.
    pub(super) parent_ino: AtomicU64,
    pub(super) shared: Arc<Shared>,
    state: Mutex<NodeState>,
}

impl Drop for RamInode {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        let pages = match &mut state.body {
            Body::File(pages) => pages.clear(),
            Body::Symlink(target) if target.len() >= SHORT_SYMLINK_LEN => 1,
            _ => 0,
        };
        self.shared.release_pages(pages);
        self.shared.release_inode();
        // A directory's nodes go with it, and theirs with them: a work list rather than
        // nested drops, so a 100,000-deep tree does not overflow the kernel stack.
        let mut release = match &mut state.body {
            Body::Dir(entries) => entries.take_all(),
            _ => return,
        };
        while let Some(node) = release.pop() {
            if let Some(mut last) = Arc::into_inner(node)
                && let Body::Dir(entries) = &mut last.state.get_mut().body
            {
                release.extend(entries.take_all());
            }
        }
    }
}

impl RamInode {
    pub(super) fn new_root(
        shared: &Arc<Shared>,
        perm: u32,
        uid: u32,
        gid: u32,
    ) -> Result<Arc<RamInode>> {
        let root = Self::new_node(
            shared,
            &NewNode {
                kind: NodeKind::Directory,
                perm,
                uid,
                gid,
            },
            0,
        )?;
        root.parent_ino.store(root.ino, Ordering::Relaxed);
        Ok(root)
    }

    fn new_node(
        shared: &Arc<Shared>,
        node: &NewNode<'_>,
        parent_ino: u64,
    ) -> Result<Arc<RamInode>> {
        if let NodeKind::Symlink { target } = node.kind
            && target.len() >= PAGE_SIZE
        {
            return Err(Errno::ENAMETOOLONG);
        }
        let body_cost = match node.kind {
            NodeKind::Symlink { target } => heap_cost(target.len()),
            NodeKind::Directory => DIRECTORY_COST,
            _ => 0,
        };
        let charge = shared
            .budget
            .charge(NODE_COST + body_cost)
            .map_err(OverBudget::no_space)?;
        shared.reserve_inode()?;
        let budget = &shared.budget;
        let (body, nlink, rdev) = match node.kind {
            NodeKind::Regular => (Body::File(Pages::new(budget.empty_charge())), 1, 0),
            NodeKind::Directory => (Body::Dir(DirEntries::new(budget.empty_charge())), 2, 0),
            NodeKind::Symlink { target } => {
                if target.len() >= SHORT_SYMLINK_LEN && shared.reserve_pages_up_to(1) == 0 {
                    shared.release_inode();
                    return Err(Errno::ENOSPC);
                }
                (Body::Symlink(target.to_vec()), 1, 0)
            }
            NodeKind::Device { rdev, .. } => (Body::Special, 1, rdev),
            NodeKind::Fifo | NodeKind::Socket => (Body::Special, 1, 0),
        };
        let now = shared.now();
        let meta = Meta {
            xattrs: Vec::new(),
            perm: node.perm & mode::S_IALLUGO,
            uid: node.uid,
            gid: node.gid,
            nlink,
            rdev,
            atime: now,
            mtime: now,
            ctime: now,
            btime: now,
        };
        Ok(Arc::new(RamInode {
            ino: shared.allocate_ino(),
            file_type: node.kind.file_type(),
            parent_ino: AtomicU64::new(parent_ino),
            shared: shared.clone(),
            state: Mutex::new(NodeState { meta, body, charge }),
        }))
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, NodeState> {
        self.state.lock()
    }

    /// Our own node behind a trait object, or `EXDEV` for another filesystem's.
    pub(super) fn ours<'a>(&self, other: &'a Arc<dyn Inode>) -> Result<&'a RamInode> {
        same_fs_ref(other, |node: &RamInode| {
            Arc::ptr_eq(&node.shared, &self.shared)
        })
    }

    fn ours_arc(&self, other: &Arc<dyn Inode>) -> Result<Arc<RamInode>> {
        same_fs(other, |node: &RamInode| {
            Arc::ptr_eq(&node.shared, &self.shared)
        })
    }

    fn lookup_node(&self, name: &[u8]) -> Result<Arc<RamInode>> {
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut state = self.lock();
        state.dir()?.get(name).cloned().ok_or(Errno::ENOENT)
    }
}

impl Inode for RamInode {
    fn ino(&self) -> u64 {
        self.ino
    }

    fn file_type(&self) -> FileType {
        self.file_type
    }

    fn getattr(&self) -> Result<Stat> {
        let state = self.lock();
        let meta = &state.meta;
        let (size, pages) = match &state.body {
            Body::File(pages) => (pages.size, pages.page_count()),
            Body::Dir(entries) => (entries.size_bytes(), 0),
            Body::Symlink(target) => (
                target.len() as u64,
                u64::from(target.len() >= SHORT_SYMLINK_LEN),
            ),
            Body::Special => (0, 0),
        };
        Ok(Stat {
            dev: self.shared.dev,
            ino: self.ino,
            mode: self.file_type.mode_bits() | meta.perm,
            nlink: meta.nlink,
            uid: meta.uid,
            gid: meta.gid,
            rdev: meta.rdev,
            size,
            blksize: PAGE_SIZE as u32,
            blocks: blocks_for_pages(pages),
            atime: meta.atime,
            mtime: meta.mtime,
            ctime: meta.ctime,
            btime: meta.btime,
        })
    }

    fn setattr(&self, change: &SetAttr) -> Result<()> {
        let now = self.shared.now();
        let mut state = self.lock();
        if let Body::File(pages) = &state.body {
            if let Some(size) = change.size {
                pages.check_resize_seals(size)?;
            }
            // `F_SEAL_EXEC`: the execute bits stay as they are.
            if pages.seals & seal::EXEC != 0
                && change
                    .mode
                    .is_some_and(|perm| (perm ^ state.meta.perm) & 0o111 != 0)
            {
                return Err(Errno::EPERM);
            }
        }
        if let Some(size) = change.size {
            let Body::File(pages) = &mut state.body else {
                return Err(if self.file_type == FileType::Directory {
                    Errno::EISDIR
                } else {
                    Errno::EINVAL
                });
            };
            if size > MAX_FILE_SIZE {
                return Err(Errno::EFBIG);
            }
            let freed = pages.truncate(size);
            self.shared.release_pages(freed);
            state.meta.mtime = now;
        }
        let meta = &mut state.meta;
        if let Some(perm) = change.mode {
            meta.perm = perm & mode::S_IALLUGO;
        }
        if let Some(uid) = change.uid {
            meta.uid = uid;
        }
        if let Some(gid) = change.gid {
            meta.gid = gid;
        }
        let resolve = |time: TimeChange| match time {
            TimeChange::Now => now,
            TimeChange::At(at) => at,
        };
        if let Some(atime) = change.atime {
            meta.atime = resolve(atime);
        }
        if let Some(mtime) = change.mtime {
            meta.mtime = resolve(mtime);
        }
        if !change.access_only {
            meta.ctime = change.ctime.unwrap_or(now);
        }
        Ok(())
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        Ok(self.lookup_node(name)?)
    }

    fn create(&self, name: &[u8], node: &NewNode<'_>) -> Result<Arc<dyn Inode>> {
        check_name(name)?;
        let mut state = self.lock();
        let entries = state.dir()?;
        if entries.get(name).is_some() {
            return Err(Errno::EEXIST);
        }
        let child = Self::new_node(&self.shared, node, self.ino)?;
        // Refused, the child goes again at once, giving back its inode and charge.
        entries
            .insert(name, child.clone())
            .map_err(OverBudget::no_space)?;
        if node.kind == NodeKind::Directory {
            state.meta.nlink += 1;
        }
        state.touch_modified(child.lock().meta.ctime);
        Ok(child)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<()> {
        check_name(name)?;
        let target = self.ours_arc(target)?;
        if target.file_type == FileType::Directory {
            return Err(Errno::EPERM);
        }
        let now = self.shared.now();
        let mut state = self.lock();
        let entries = state.dir()?;
        if entries.get(name).is_some() {
            return Err(Errno::EEXIST);
        }
        let mut target_state = target.lock();
        if target_state.meta.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        // tmpfs charges every extra name against nr_inodes (shmem_link).
        self.shared.reserve_inode()?;
        if let Err(refused) = entries.insert(name, target.clone()) {
            self.shared.release_inode();
            return Err(refused.no_space());
        }
        target_state.meta.nlink += 1;
        target_state.meta.ctime = now;
        drop(target_state);
        state.touch_modified(now);
        Ok(())
    }

    fn unlink(&self, name: &[u8]) -> Result<()> {
        let now = self.shared.now();
        let mut state = self.lock();
        let entries = state.dir()?;
        let child = entries.get(name).ok_or(Errno::ENOENT)?;
        if child.file_type == FileType::Directory {
            return Err(Errno::EISDIR);
        }
        let child = entries.remove(name).ok_or(Errno::ENOENT)?;
        state.touch_modified(now);
        drop(state);
        child.drop_link(now);
        Ok(())
    }

    fn rmdir(&self, name: &[u8]) -> Result<()> {
        let now = self.shared.now();
        let mut state = self.lock();
        let entries = state.dir()?;
        let child = entries.get(name).ok_or(Errno::ENOENT)?.clone();
        if child.file_type != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        {
            let mut child_state = child.lock();
            let Body::Dir(child_entries) = &mut child_state.body else {
                return Err(Errno::ENOTDIR);
            };
            if !child_entries.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
            child_entries.dead = true;
            child_state.meta.nlink = 0;
            child_state.meta.ctime = now;
        }
        entries.remove(name);
        state.meta.nlink -= 1;
        state.touch_modified(now);
        Ok(())
    }

    fn rename(
        &self,
        old_name: &[u8],
        new_parent: &Arc<dyn Inode>,
        new_name: &[u8],
        flags: RenameFlags,
    ) -> Result<()> {
        self.rename_entry(old_name, new_parent, new_name, flags)
    }

    fn readdir(&self, offset: u64, sink: &mut dyn FnMut(DirEntry<'_>) -> bool) -> Result<()> {
        let state = self.lock();
        let Body::Dir(entries) = &state.body else {
            return Err(Errno::ENOTDIR);
        };
        let parent_ino = || Ok(self.parent_ino.load(Ordering::Relaxed));
        if !readdir_dots(offset, self.ino, parent_ino, sink)? {
            return Ok(());
        }
        if entries.dead {
            return Ok(());
        }
        for (cookie, name, node) in entries.entries_from(offset) {
            if !sink(DirEntry {
                name,
                ino: node.ino,
                file_type: node.file_type,
                next_offset: cookie + 1,
            }) {
                break;
            }
        }
        Ok(())
    }

    fn readlink(&self) -> Result<Vec<u8>> {
        match &self.lock().body {
            Body::Symlink(target) => Ok(target.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        match &self.lock().body {
            Body::File(pages) => Ok(pages.read(offset, buf)),
            Body::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    fn seek_data(&self, offset: u64) -> Result<u64> {
        match &self.lock().body {
            Body::File(pages) => pages.next_data(offset).ok_or(Errno::ENXIO),
            _ => Err(Errno::EINVAL),
        }
    }

    fn seek_hole(&self, offset: u64) -> Result<u64> {
        match &self.lock().body {
            Body::File(pages) if offset < pages.size => Ok(pages.next_hole(offset)),
            Body::File(_) => Err(Errno::ENXIO),
            _ => Err(Errno::EINVAL),
        }
    }

    fn get_xattr(&self, name: &[u8]) -> Result<Vec<u8>> {
        let state = self.lock();
        state
            .meta
            .xattrs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .ok_or(Errno::ENODATA)
    }

    fn set_xattr(&self, name: &[u8], value: &[u8], flags: u32) -> Result<()> {
        if name.is_empty() || name.len() > 255 {
            return Err(Errno::ERANGE);
        }
        if value.len() > 65536 {
            return Err(Errno::E2BIG);
        }
        let now = self.shared.now();
        let mut state = self.lock();
        let state = &mut *state;
        let xattrs = &mut state.meta.xattrs;
        match xattrs.iter_mut().find(|(key, _)| key == name) {
            Some(_) if flags & XATTR_CREATE != 0 => return Err(Errno::EEXIST),
            Some((_, existing)) => {
                state
                    .charge
                    .grow(xattr_cost(name, value))
                    .map_err(OverBudget::no_space)?;
                state.charge.shrink(xattr_cost(name, existing));
                *existing = value.to_vec();
            }
            None if flags & XATTR_REPLACE != 0 => return Err(Errno::ENODATA),
            None => {
                state
                    .charge
                    .grow(xattr_cost(name, value))
                    .map_err(OverBudget::no_space)?;
                xattrs.push((name.to_vec(), value.to_vec()));
            }
        }
        state.meta.ctime = now;
        Ok(())
    }

    fn remove_xattr(&self, name: &[u8]) -> Result<()> {
        let now = self.shared.now();
        let mut state = self.lock();
        let state = &mut *state;
        let index = state
            .meta
            .xattrs
            .iter()
            .position(|(key, _)| key == name)
            .ok_or(Errno::ENODATA)?;
        let (key, value) = state.meta.xattrs.remove(index);
        state.charge.shrink(xattr_cost(&key, &value));
        state.meta.ctime = now;
        Ok(())
    }

    fn list_xattr(&self) -> Result<Vec<Vec<u8>>> {
        Ok(self
            .lock()
            .meta
            .xattrs
            .iter()
            .map(|(key, _)| key.clone())
            .collect())
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<usize> {
        self.write_locked(&mut self.lock(), Some(offset), buf)
            .map(|(_, written)| written)
    }

    fn append(&self, buf: &[u8]) -> Result<(u64, usize)> {
        self.write_locked(&mut self.lock(), None, buf)
    }

    fn shares_pages(&self) -> bool {
        self.file_type == FileType::Regular
    }

    fn mapped_page(&self, index: u64, create: bool) -> Result<Option<Arc<dyn FilePage>>> {
        let mut state = self.lock();
        let Body::File(pages) = &mut state.body else {
            return Err(Errno::ENODEV);
        };
        if !pages.holds_index(index) {
            return Err(Errno::ENXIO);
        }
        if let Some(page) = pages.page(index) {
            pages.mark_written(index);
            return Ok(Some(page));
        }
        if !create {
            return Ok(None);
        }
        // A page a mapping adds counts against the filesystem's size like a written one.
        if self.shared.reserve_pages_up_to(1) == 0 {
            return Err(Errno::ENOSPC);
        }
        pages.add_zeroed(index).map(Some).inspect_err(|_| {
            self.shared.release_pages(1);
        })
    }

    fn writable_mapping(&self) -> Result<MappingWriter> {
        match &mut self.lock().body {
            Body::File(pages) => pages.writable_mapping(),
            _ => Err(Errno::ENODEV),
        }
    }

    fn punch_hole(&self, offset: u64, len: u64) -> Result<()> {
        let now = self.shared.now();
        let mut state = self.lock();
        let Body::File(pages) = &mut state.body else {
            return Err(if self.file_type == FileType::Directory {
                Errno::EISDIR
            } else {
                Errno::ENODEV
            });
        };
        if pages.seals & seal::ANY_WRITE != 0 {
            return Err(Errno::EPERM);
        }
        let freed = pages.punch(offset, offset.saturating_add(len));
        self.shared.release_pages(freed);
        state.touch_modified(now);
        Ok(())
    }

    /// As Linux's `shmem_fallocate` for modes 0 and `FALLOC_FL_KEEP_SIZE`: `EPERM` under
    /// `F_SEAL_GROW` if the range reaches past the end (whether or not the size is kept),
    /// `ENOSPC` when the filesystem's limit or the budget cannot cover every missing page
    /// (then nothing is kept), the size moved only when not `keep_size`, the change time
    /// stamped.
    fn allocate(&self, offset: u64, len: u64, keep_size: bool) -> Result<()> {
        let end = offset
            .checked_add(len)
            .filter(|&end| end <= MAX_FILE_SIZE)
            .ok_or(Errno::EFBIG)?;
        let now = self.shared.now();
        let mut state = self.lock();
        let Body::File(pages) = &mut state.body else {
            return Err(if self.file_type == FileType::Directory {
                Errno::EISDIR
            } else {
                Errno::ENODEV
            });
        };
        if pages.seals & seal::GROW != 0 && end > pages.size {
            return Err(Errno::EPERM);
        }
        let (first, past) = (offset / PAGE_SIZE as u64, end.div_ceil(PAGE_SIZE as u64));
        let missing = pages.missing(first, past);
        let granted = self.shared.reserve_pages_up_to(missing);
        if granted < missing {
            self.shared.release_pages(granted);
            return Err(Errno::ENOSPC);
        }
        if let Err(errno) = pages.allocate(first, past) {
            self.shared.release_pages(missing);
            return Err(errno);
        }
        if !keep_size && end > pages.size {
            pages.size = end;
        }
        state.meta.ctime = now;
        Ok(())
    }

    fn seals(&self) -> Result<u32> {
        match &self.lock().body {
            Body::File(pages) => Ok(pages.seals),
            _ => Err(Errno::EINVAL),
        }
    }

    fn add_seals(&self, seals: u32) -> Result<()> {
        let mut state = self.lock();
        let perm = state.meta.perm;
        match &mut state.body {
            Body::File(pages) => pages.add_seals(seals, perm),
            _ => Err(Errno::EINVAL),
        }
    }
}

impl RamInode {
    /// Replaces a regular file's seals: `memfd_create` allows sealing
    /// (`MFD_ALLOW_SEALING`) or starts with `F_SEAL_EXEC` (`MFD_NOEXEC_SEAL`) this way.
    pub fn set_seals(&self, seals: u32) {
        if let Body::File(pages) = &mut self.lock().body {
            pages.seals = seals & seal::ALL;
        }
    }

    /// One name fewer for a non-directory (unlink, or rename onto it). tmpfs charged
    /// every extra name as an inode (`shmem_link`), so all but the last give one back.
    pub(super) fn drop_link(&self, now: Timespec) {
        let mut state = self.lock();
        if state.meta.nlink > 1 {
            self.shared.release_inode();
        }
        state.meta.nlink = state.meta.nlink.saturating_sub(1);
        state.meta.ctime = now;
    }

    /// Writes at `offset`, or at the end when `None`, with the node locked throughout.
    fn write_locked(
        &self,
        state: &mut NodeState,
        offset: Option<u64>,
        buf: &[u8],
    ) -> Result<(u64, usize)> {
        let offset = match (offset, &state.body) {
            (Some(offset), _) => offset,
            (None, Body::File(pages)) => pages.size,
            (None, _) => 0,
        };
        if buf.is_empty() {
            return Ok((offset, 0));
        }
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|end| end > MAX_FILE_SIZE)
        {
            return Err(Errno::EFBIG);
        }
        let now = self.shared.now();
        let Body::File(pages) = &mut state.body else {
            return Err(if self.file_type == FileType::Directory {
                Errno::EISDIR
            } else {
                Errno::EINVAL
            });
        };
        pages.check_write_seals(offset, buf.len() as u64)?;
        let needed = pages.pages_needed(offset, buf.len());
        let granted = self.shared.reserve_pages_up_to(needed);
        let (written, added) = pages.write(offset, buf, granted);
        self.shared.release_pages(granted - added);
        if written == 0 {
            return Err(Errno::ENOSPC);
        }
        state.touch_modified(now);
        Ok((offset, written))
    }
}
