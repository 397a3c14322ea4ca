//! overlay, middle: the merged inode, found by looking a name up in the upper and then
//! in each lower down to an opaque directory, a whiteout or a non-directory; and the
//! `Inode` operations, which copy up before changing anything.

use super::{OPAQUE_XATTR, ORIGIN_XATTR, Shared, is_opaque, is_whiteout, layer_ino};
use crate::attr::{DirEntry, FileType, RenameFlags, SetAttr, Stat};
use crate::errno::{Errno, Result};
use crate::file::OpenFlags;
use crate::inode::{Inode, NewNode, NodeKind, same_fs};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use hashbrown::HashMap;
use spin::Mutex;

/// A lower object and its layer number (1 = topmost lower).
pub(crate) type Lower = (usize, Arc<dyn Inode>);

/// A parent directory and the name under it.
type ParentLink = (Arc<OverlayInode>, Arc<[u8]>);

/// What a directory's lookup of a name found.
enum Looked {
    Child(Arc<OverlayInode>),
    /// Nothing shows the name; `lowers_searched`: every lower layer was asked (false when
    /// a whiteout in the upper layer ended the lookup before them).
    Absent {
        lowers_searched: bool,
    },
}

/// One object of the merged tree.
pub struct OverlayInode {
    /// Itself, for operations that get `&self` but hand out `Arc`s (parent pointers).
    me: Weak<OverlayInode>,
    shared: Arc<Shared>,
    ino: u64,
    file_type: FileType,
    /// Where it sits in the merged tree, for copying up its parents; updated by rename.
    parent: Mutex<Option<ParentLink>>,
    upper: Mutex<Option<Arc<dyn Inode>>>,
    /// For a non-directory, the lower object it shows (if any); for a directory, every
    /// lower directory merged into it, topmost first.
    lowers: Vec<Lower>,
    /// Children handed out, so one name keeps one object (and its copy-up state).
    children: Mutex<HashMap<Arc<[u8]>, Weak<OverlayInode>>>,
}

/// Each object holds its parent: releasing the last holder of a deep object can release
/// its whole chain of ancestors, unwound here in a loop instead of nested drops.
impl Drop for OverlayInode {
    fn drop(&mut self) {
        let mut parent = self.parent.get_mut().take();
        while let Some((node, _)) = parent {
            parent = Arc::into_inner(node).and_then(|mut last| last.parent.get_mut().take());
        }
    }
}

impl OverlayInode {
    pub(crate) fn new_root(
        shared: &Arc<Shared>,
        upper: Arc<dyn Inode>,
        lowers: Vec<Lower>,
    ) -> Arc<OverlayInode> {
        let ino = layer_ino(0, upper.ino());
        Arc::new_cyclic(|me| OverlayInode {
            me: me.clone(),
            shared: shared.clone(),
            ino,
            file_type: FileType::Directory,
            parent: Mutex::new(None),
            upper: Mutex::new(Some(upper)),
            lowers,
            children: Mutex::new(HashMap::new()),
        })
    }

    fn new_child(
        self: &Arc<Self>,
        name: &[u8],
        upper: Option<Arc<dyn Inode>>,
        lowers: Vec<Lower>,
    ) -> Result<Arc<OverlayInode>> {
        if let Some(upper) = &upper
            && upper.file_type() != FileType::Directory
            && let Some(existing) = self.shared.find_by_upper(upper)
        {
            self.children
                .lock()
                .insert(Arc::from(name), Arc::downgrade(&existing));
            return Ok(existing);
        }
        let (file_type, ino) = match (&upper, lowers.first()) {
            (Some(upper), _) => {
                let origin = upper
                    .get_xattr(ORIGIN_XATTR)
                    .ok()
                    .and_then(|bytes| bytes.try_into().ok())
                    .map(u64::from_le_bytes);
                (
                    upper.file_type(),
                    origin.unwrap_or_else(|| layer_ino(0, upper.ino())),
                )
            }
            (None, Some((layer, lower))) => (lower.file_type(), layer_ino(*layer, lower.ino())),
            (None, None) => return Err(Errno::ENOENT),
        };
        let name: Arc<[u8]> = Arc::from(name);
        let child = Arc::new_cyclic(|me| OverlayInode {
            me: me.clone(),
            shared: self.shared.clone(),
            ino,
            file_type,
            parent: Mutex::new(Some((self.clone(), name.clone()))),
            upper: Mutex::new(upper),
            lowers,
            children: Mutex::new(HashMap::new()),
        });
        let mut children = self.children.lock();
        // Forgotten children leave dead entries; sweep them as the map doubles.
        if children.len() >= 64 && children.len().is_power_of_two() {
            children.retain(|_, child| child.strong_count() > 0);
        }
        children.insert(name, Arc::downgrade(&child));
        drop(children);
        if let Some(upper) = child.upper()
            && file_type != FileType::Directory
        {
            self.shared.register_upper(&upper, &child);
        }
        Ok(child)
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    pub(crate) fn upper(&self) -> Option<Arc<dyn Inode>> {
        self.upper.lock().clone()
    }

    pub(crate) fn set_upper(&self, upper: Arc<dyn Inode>) {
        *self.upper.lock() = Some(upper);
    }

    pub(crate) fn top_lower(&self) -> Option<Arc<dyn Inode>> {
        self.lowers.first().map(|(_, lower)| lower.clone())
    }

    pub(crate) fn lowers(&self) -> &[Lower] {
        &self.lowers
    }

    pub(crate) fn parent_and_name(&self) -> Option<ParentLink> {
        self.parent.lock().clone()
    }

    pub(crate) fn parent_ino(&self) -> u64 {
        self.parent
            .lock()
            .as_ref()
            .map_or(self.ino, |(parent, _)| parent.ino)
    }

    /// The object currently showing this inode's contents: upper if copied up.
    fn real(&self) -> Result<Arc<dyn Inode>> {
        self.upper().or_else(|| self.top_lower()).ok_or(Errno::EIO)
    }

    /// Whether the directory is a merge of several layers (Linux's `OVL_TYPE_MERGE`).
    pub(crate) fn is_merged_dir(&self) -> bool {
        self.file_type == FileType::Directory
            && (if self.upper().is_some() {
                !self.lowers.is_empty()
            } else {
                self.lowers.len() > 1
            })
    }

    /// The merged child `name` of this directory.
    pub(crate) fn lookup_child(self: &Arc<Self>, name: &[u8]) -> Result<Arc<OverlayInode>> {
        match self.look_up(name)? {
            Looked::Child(child) => Ok(child),
            Looked::Absent { .. } => Err(Errno::ENOENT),
        }
    }

    /// [`Self::lookup_child`], telling how an absence was found.
    fn look_up(self: &Arc<Self>, name: &[u8]) -> Result<Looked> {
        if self.file_type != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if let Some(child) = self.children.lock().get(name).and_then(Weak::upgrade) {
            return Ok(Looked::Child(child));
        }
        let upper_child = match self.upper() {
            Some(dir) => match dir.lookup(name) {
                Ok(child) if is_whiteout(&*child) => {
                    return Ok(Looked::Absent {
                        lowers_searched: false,
                    });
                }
                Ok(child) => Some(child),
                Err(Errno::ENOENT) => None,
                Err(errno) => return Err(errno),
            },
            None => None,
        };
        let mut lowers = Vec::new();
        let search_lowers = upper_child
            .as_ref()
            .is_none_or(|child| child.file_type() == FileType::Directory && !is_opaque(&**child));
        if search_lowers {
            for (layer, dir) in &self.lowers {
                let found = match dir.lookup(name) {
                    Ok(found) => found,
                    Err(Errno::ENOENT) => continue,
                    Err(errno) => return Err(errno),
                };
                if is_whiteout(&*found) {
                    break;
                }
                let merging = upper_child.is_some() || !lowers.is_empty();
                let is_dir = found.file_type() == FileType::Directory;
                if merging && !is_dir {
                    break;
                }
                let opaque = is_opaque(&*found);
                lowers.push((*layer, found));
                if !is_dir || opaque {
                    break;
                }
            }
        }
        if upper_child.is_none() && lowers.is_empty() {
            // Nothing in the upper layer, so every lower layer was asked (a whiteout
            // among them ends the search just as `lower_has` would).
            return Ok(Looked::Absent {
                lowers_searched: search_lowers,
            });
        }
        Ok(Looked::Child(self.new_child(name, upper_child, lowers)?))
    }

    /// `EEXIST` if the merged directory shows `name`. Otherwise whether the lower layers
    /// were asked and none has it, so [`Self::lower_has`] is known to be false without
    /// asking again: on a 9p lower each question is a round trip to the host, and nothing
    /// remembers an absence.
    fn ensure_absent(self: &Arc<Self>, name: &[u8]) -> Result<bool> {
        match self.look_up(name) {
            Ok(Looked::Child(_)) => Err(Errno::EEXIST),
            Ok(Looked::Absent { lowers_searched }) => Ok(lowers_searched),
            Err(errno) => Err(errno),
        }
    }

    /// Whether any lower layer under this directory has `name` (so removing it from the
    /// merged view needs a whiteout).
    pub(crate) fn lower_has(&self, name: &[u8]) -> Result<bool> {
        for (_, dir) in &self.lowers {
            match dir.lookup(name) {
                Ok(found) => return Ok(!is_whiteout(&*found)),
                Err(Errno::ENOENT) => continue,
                Err(errno) => return Err(errno),
            }
        }
        Ok(false)
    }

    fn forget_child(&self, name: &[u8]) {
        self.children.lock().remove(name);
    }

    fn remember_child(self: &Arc<Self>, name: &[u8], child: &Arc<OverlayInode>) {
        *child.parent.lock() = Some((self.clone(), Arc::from(name)));
        self.children
            .lock()
            .insert(Arc::from(name), Arc::downgrade(child));
    }

    /// Removes a whiteout at `name` in the upper directory, if there is one.
    fn clear_whiteout(upper_dir: &Arc<dyn Inode>, name: &[u8]) -> Result<bool> {
        match upper_dir.lookup(name) {
            Ok(found) if is_whiteout(&*found) => upper_dir.unlink(name).map(|_| true),
            Ok(_) => Ok(false),
            Err(Errno::ENOENT) => Ok(false),
            Err(errno) => Err(errno),
        }
    }

    fn make_whiteout(upper_dir: &Arc<dyn Inode>, name: &[u8]) -> Result<()> {
        let whiteout = NewNode {
            kind: NodeKind::Device {
                file_type: FileType::CharDevice,
                rdev: 0,
            },
            perm: 0,
            uid: 0,
            gid: 0,
        };
        upper_dir.create(name, &whiteout).map(drop)
    }

    /// Removes the whiteouts an upper directory holds, so it can be removed or replaced.
    fn clear_whiteouts_inside(upper_dir: &Arc<dyn Inode>) -> Result<()> {
        let mut names = Vec::new();
        upper_dir.readdir(2, &mut |entry| {
            if entry.file_type == FileType::CharDevice {
                names.push(entry.name.to_vec());
            }
            true
        })?;
        for name in names {
            Self::clear_whiteout(upper_dir, &name)?;
        }
        Ok(())
    }

    fn downcast(&self, other: &Arc<dyn Inode>) -> Result<Arc<OverlayInode>> {
        same_fs(other, |node: &OverlayInode| {
            Arc::ptr_eq(&node.shared, &self.shared)
        })
    }

    fn this(&self) -> Result<Arc<OverlayInode>> {
        self.me.upgrade().ok_or(Errno::ESTALE)
    }

    /// Runs `change` on the upper object after copying up (under the op lock).
    fn with_upper<R>(&self, change: impl FnOnce(&Arc<dyn Inode>) -> Result<R>) -> Result<R> {
        if let Some(upper) = self.upper() {
            return change(&upper);
        }
        let upper = {
            let _ops = self.shared.op_lock.lock();
            self.this()?.copy_up_locked()?
        };
        change(&upper)
    }
}

impl Inode for OverlayInode {
    fn ino(&self) -> u64 {
        self.ino
    }

    fn file_type(&self) -> FileType {
        self.file_type
    }

    fn getattr(&self) -> Result<Stat> {
        let mut stat = self.real()?.getattr()?;
        stat.dev = self.shared.dev;
        stat.ino = self.ino;
        if self.is_merged_dir() {
            // Counting subdirectories across layers is not worth it; Linux reports 1.
            stat.nlink = 1;
        }
        Ok(stat)
    }

    fn setattr(&self, change: &SetAttr) -> Result<()> {
        // Reading a lower file does not copy it up just to move its atime (as Linux).
        if change.access_only && self.upper().is_none() {
            return Ok(());
        }
        self.with_upper(|upper| upper.setattr(change))
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        Ok(self.this()?.lookup_child(name)?)
    }

    fn create(&self, name: &[u8], node: &NewNode<'_>) -> Result<Arc<dyn Inode>> {
        let this = self.this()?;
        let _ops = self.shared.op_lock.lock();
        let lowers_lack = this.ensure_absent(name)?;
        let upper_dir = this.copy_up_locked()?;
        let hides_lower =
            Self::clear_whiteout(&upper_dir, name)? || (!lowers_lack && this.lower_has(name)?);
        let created = upper_dir.create(name, node)?;
        if node.kind == NodeKind::Directory && hides_lower {
            created.set_xattr(OPAQUE_XATTR, b"y", 0)?;
        }
        Ok(this.new_child(name, Some(created), Vec::new())?)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<()> {
        let this = self.this()?;
        let target = self.downcast(target)?;
        let _ops = self.shared.op_lock.lock();
        this.ensure_absent(name)?;
        let target_upper = target.copy_up_locked()?;
        let upper_dir = this.copy_up_locked()?;
        Self::clear_whiteout(&upper_dir, name)?;
        upper_dir.link(name, &target_upper)
    }

    fn unlink(&self, name: &[u8]) -> Result<()> {
        self.remove(name, false)
    }

    fn rmdir(&self, name: &[u8]) -> Result<()> {
        self.remove(name, true)
    }

    fn rename(
        &self,
        old_name: &[u8],
        new_parent: &Arc<dyn Inode>,
        new_name: &[u8],
        flags: RenameFlags,
    ) -> Result<()> {
        let this = self.this()?;
        let new_parent = self.downcast(new_parent)?;
        let _ops = self.shared.op_lock.lock();
        this.rename_locked(old_name, &new_parent, new_name, flags)
    }

    fn readdir(&self, offset: u64, sink: &mut dyn FnMut(DirEntry<'_>) -> bool) -> Result<()> {
        self.readdir_merged(offset, sink)
    }

    fn readlink(&self) -> Result<Vec<u8>> {
        self.real()?.readlink()
    }

    fn on_open(&self, flags: OpenFlags) -> Result<()> {
        // Special files open their device, not an overlay file: no copy-up (as Linux).
        if self.file_type == FileType::Regular
            && (flags.writable() || flags.contains(OpenFlags::TRUNC))
        {
            self.with_upper(|_| Ok(()))?;
        }
        Ok(())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.real()?.read_at(offset, buf)
    }

    /// A copied-up file's data is its upper file's: a mapping shares those pages (a file
    /// opened for writing is copied up at open, so a writable shared mapping always
    /// finds it; one still in a lower layer is mapped as the lower's copy).
    fn data_inode(&self) -> Option<Arc<dyn Inode>> {
        self.upper().filter(|_| self.file_type == FileType::Regular)
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<usize> {
        self.with_upper(|upper| upper.write_at(offset, buf))
    }

    fn append(&self, buf: &[u8]) -> Result<(u64, usize)> {
        self.with_upper(|upper| upper.append(buf))
    }

    /// `fallocate` changes the data: on the upper file, copied up first (a file opened
    /// for writing already is), as Linux's `ovl_fallocate`.
    fn allocate(&self, offset: u64, len: u64, keep_size: bool) -> Result<()> {
        self.with_upper(|upper| upper.allocate(offset, len, keep_size))
    }

    fn punch_hole(&self, offset: u64, len: u64) -> Result<()> {
        self.with_upper(|upper| upper.punch_hole(offset, len))
    }

    fn seek_data(&self, offset: u64) -> Result<u64> {
        self.real()?.seek_data(offset)
    }

    fn seek_hole(&self, offset: u64) -> Result<u64> {
        self.real()?.seek_hole(offset)
    }

    fn get_xattr(&self, name: &[u8]) -> Result<Vec<u8>> {
        if name.starts_with(b"trusted.overlay.") {
            return Err(Errno::ENODATA);
        }
        self.real()?.get_xattr(name)
    }

    fn set_xattr(&self, name: &[u8], value: &[u8], flags: u32) -> Result<()> {
        if name.starts_with(b"trusted.overlay.") {
            return Err(Errno::EPERM);
        }
        self.with_upper(|upper| upper.set_xattr(name, value, flags))
    }

    fn remove_xattr(&self, name: &[u8]) -> Result<()> {
        if name.starts_with(b"trusted.overlay.") {
            return Err(Errno::EPERM);
        }
        self.with_upper(|upper| upper.remove_xattr(name))
    }

    fn list_xattr(&self) -> Result<Vec<Vec<u8>>> {
        let mut names = self.real()?.list_xattr()?;
        names.retain(|name| !name.starts_with(b"trusted.overlay."));
        Ok(names)
    }
}

impl OverlayInode {
    /// `unlink` and `rmdir`: remove the upper object, and whiteout what a lower shows.
    fn remove(&self, name: &[u8], want_dir: bool) -> Result<()> {
        let this = self.this()?;
        let _ops = self.shared.op_lock.lock();
        let child = this.lookup_child(name)?;
        let is_dir = child.file_type == FileType::Directory;
        if want_dir && !is_dir {
            return Err(Errno::ENOTDIR);
        }
        if !want_dir && is_dir {
            return Err(Errno::EISDIR);
        }
        if is_dir && !child.merged_is_empty()? {
            return Err(Errno::ENOTEMPTY);
        }
        let upper_dir = this.copy_up_locked()?;
        let needs_whiteout = this.lower_has(name)?;
        if let Some(child_upper) = child.upper() {
            if is_dir {
                Self::clear_whiteouts_inside(&child_upper)?;
                upper_dir.rmdir(name)?;
            } else {
                upper_dir.unlink(name)?;
            }
        }
        if needs_whiteout {
            Self::make_whiteout(&upper_dir, name)?;
        }
        this.forget_child(name);
        Ok(())
    }

    /// `renameat2` in the merged tree, the caller holding the op lock. A directory with
    /// anything in a lower layer cannot move (`EXDEV`), as in Linux without `redirect_dir`.
    fn rename_locked(
        self: &Arc<Self>,
        old_name: &[u8],
        new_parent: &Arc<OverlayInode>,
        new_name: &[u8],
        flags: RenameFlags,
    ) -> Result<()> {
        let source = self.lookup_child(old_name)?;
        let target = match new_parent.lookup_child(new_name) {
            Ok(target) => Some(target),
            Err(Errno::ENOENT) => None,
            Err(errno) => return Err(errno),
        };
        let exchange = flags.contains(RenameFlags::EXCHANGE);
        if exchange && target.is_none() {
            return Err(Errno::ENOENT);
        }
        if flags.contains(RenameFlags::NOREPLACE) && target.is_some() {
            return Err(Errno::EEXIST);
        }
        // Two names of one object (hard links in the upper are one object): nothing to do.
        if target
            .as_ref()
            .is_some_and(|target| Arc::ptr_eq(target, &source))
        {
            return Ok(());
        }
        let source_is_dir = source.file_type == FileType::Directory;
        let target_is_dir = target
            .as_ref()
            .is_some_and(|target| target.file_type == FileType::Directory);
        if let (Some(_), false) = (&target, exchange) {
            match (source_is_dir, target_is_dir) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                _ => {}
            }
        }
        // `ovl_can_move` comes before the emptiness check, as in `ovl_rename`.
        if (source_is_dir && !source.lowers.is_empty())
            || (exchange && target_is_dir && target.as_ref().is_some_and(|t| !t.lowers.is_empty()))
        {
            return Err(Errno::EXDEV);
        }
        if let (Some(target), false, true) = (&target, exchange, target_is_dir)
            && !target.merged_is_empty()?
        {
            return Err(Errno::ENOTEMPTY);
        }
        source.copy_up_locked()?;
        let old_dir = self.copy_up_locked()?;
        let new_dir = new_parent.copy_up_locked()?;
        if exchange {
            if let Some(target) = &target {
                target.copy_up_locked()?;
            }
            old_dir.rename(old_name, &new_dir, new_name, RenameFlags::EXCHANGE)?;
        } else {
            let old_needs_whiteout = self.lower_has(old_name)?;
            if let Some(target_upper) = target.as_ref().and_then(|target| target.upper())
                && target_is_dir
            {
                Self::clear_whiteouts_inside(&target_upper)?;
            }
            Self::clear_whiteout(&new_dir, new_name)?;
            old_dir.rename(old_name, &new_dir, new_name, RenameFlags::empty())?;
            if source_is_dir
                && new_parent.lower_has(new_name)?
                && let Some(moved) = source.upper()
            {
                moved.set_xattr(OPAQUE_XATTR, b"y", 0)?;
            }
            if old_needs_whiteout {
                Self::make_whiteout(&old_dir, old_name)?;
            }
        }
        self.forget_child(old_name);
        new_parent.forget_child(new_name);
        new_parent.remember_child(new_name, &source);
        if let (true, Some(target)) = (exchange, &target) {
            self.remember_child(old_name, target);
        }
        Ok(())
    }
}
