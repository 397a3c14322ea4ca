//! Layer 5 (top): the operations the syscall layer calls (`openat`, `mkdirat`,
//! `renameat2`, …), each doing Linux's checks in Linux's order so that the errno for a
//! given situation is the one Linux returns.
//!
//! Lock order: see the top of `dentry.rs`.

use crate::attr::{FileType, NAME_MAX, RenameFlags, SetAttr, Stat, StatFs, TimeChange, mode};
use crate::cred::Credentials;
use crate::dentry::{ChildrenGuard, Dentry};
use crate::errno::{Errno, Result};
use crate::file::{OpenFile, OpenFlags};
use crate::inode::{FileSystem, Inode, NewNode, NodeKind};
use crate::mount::{Location, Mount, MountFlags, MountNamespace};
use crate::path::{Last, Walk, absolute_path};
use crate::permission::{self, Access, check_access};
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Where a relative path starts: `AT_FDCWD` or a directory descriptor's location.
#[derive(Clone, Copy)]
pub enum At<'a> {
    Cwd,
    Dir(&'a Location),
}

/// One task's view of the filesystem (Linux's `fs_struct` plus credentials): the
/// namespace, its root (for `chroot`), working directory, umask and identity. Every
/// operation takes it explicitly.
#[derive(Clone)]
pub struct FsContext {
    pub ns: Arc<MountNamespace>,
    pub cred: Credentials,
    pub root: Location,
    pub cwd: Location,
    pub umask: u32,
}

/// A directory's cached children, locked, with the directory's location.
struct LockedDir<'a> {
    dir: &'a Location,
    children: ChildrenGuard<'a>,
}

impl LockedDir<'_> {
    fn lookup(&mut self, name: &[u8]) -> Result<Arc<Dentry>> {
        self.dir.dentry.lookup_locked(&mut self.children, name)
    }

    fn inode(&self) -> Result<&Arc<dyn Inode>> {
        self.dir.dentry.positive()
    }
}

/// The final component of a create-style path (`filename_create`), validated.
fn creation_name<'p>(last: Last<'p>) -> Result<&'p [u8]> {
    match last {
        Last::Name(name) if name.len() > NAME_MAX => Err(Errno::ENAMETOOLONG),
        Last::Name(name) => Ok(name),
        _ => Err(Errno::EEXIST),
    }
}

impl FsContext {
    /// A context at the namespace root with umask 022.
    pub fn new(ns: Arc<MountNamespace>, cred: Credentials) -> FsContext {
        let root = ns.root();
        FsContext { cwd: root.clone(), root, ns, cred, umask: 0o022 }
    }

    fn start(&self, at: At<'_>) -> Location {
        match at {
            At::Cwd => self.cwd.clone(),
            At::Dir(location) => location.clone(),
        }
    }

    /// Resolves a path to a location; `follow` decides for a symlink in last place.
    pub fn resolve(&self, at: At<'_>, path: &[u8], follow: bool) -> Result<Location> {
        Walk::new(self).resolve(&self.start(at), path, follow)
    }

    /// `stat`/`lstat`/`fstatat`.
    pub fn stat(&self, at: At<'_>, path: &[u8], follow: bool) -> Result<Stat> {
        self.resolve(at, path, follow)?.dentry.positive()?.getattr()
    }

    /// `statfs`, with `f_flags` from the mount.
    pub fn statfs(&self, at: At<'_>, path: &[u8]) -> Result<StatFs> {
        let location = self.resolve(at, path, true)?;
        let mut stats = location.mount.fs().statfs()?;
        // ST_* share their values with MS_*; ST_RELATIME is 4096.
        stats.flags = u64::from(location.mount.flags().bits())
            | if location.mount.flags().contains(MountFlags::NOATIME) { 0 } else { 4096 };
        Ok(stats)
    }

    fn may_search(&self, dir: &Location) -> Result<()> {
        let inode = dir.dentry.positive()?;
        if inode.file_type() != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if self.cred.is_privileged() {
            return Ok(());
        }
        check_access(&self.cred, &inode.getattr()?, Access::EXEC)
    }

    /// `may_create`'s permission part: write and search on the directory.
    fn may_create_in(&self, dir: &Arc<dyn Inode>) -> Result<()> {
        check_access(&self.cred, &dir.getattr()?, Access::WRITE | Access::EXEC)
    }

    /// `may_delete`: write+search on the directory, the sticky rule, the type check and
    /// the mount-point rule.
    fn may_delete(&self, dir: &Arc<dyn Inode>, victim: &Dentry, want_dir: bool) -> Result<()> {
        let inode = victim.positive()?;
        let dir_stat = dir.getattr()?;
        check_access(&self.cred, &dir_stat, Access::WRITE | Access::EXEC)?;
        permission::check_sticky(&self.cred, &dir_stat, &inode.getattr()?)?;
        let is_dir = inode.file_type() == FileType::Directory;
        if want_dir && !is_dir {
            return Err(Errno::ENOTDIR);
        }
        if !want_dir && is_dir {
            return Err(Errno::EISDIR);
        }
        Ok(())
    }

    /// The shared front half of mkdir/mknod/symlink/creat (`filename_create`): the
    /// parent, locked, with the name checked to be free.
    fn create_with<R>(
        &self,
        at: At<'_>,
        path: &[u8],
        want_dir: bool,
        make: impl FnOnce(&mut LockedDir<'_>, &[u8]) -> Result<R>,
    ) -> Result<R> {
        let mut walk = Walk::new(self);
        let parent = walk.parent(&self.start(at), path)?;
        let name = creation_name(parent.last)?;
        let writable = parent.dir.mount.check_writable();
        let mut locked = LockedDir { dir: &parent.dir, children: parent.dir.dentry.lock_children() };
        if !locked.lookup(name)?.is_negative() {
            return Err(Errno::EEXIST);
        }
        if parent.trailing_slash && !want_dir {
            return Err(Errno::ENOENT);
        }
        writable?;
        make(&mut locked, name)
    }

    /// Creates a node in a locked directory (`vfs_create`/`vfs_mkdir`/`vfs_mknod`/
    /// `vfs_symlink`): permission, then the device privilege, then the caller's ownership.
    fn make_node(&self, locked: &mut LockedDir<'_>, name: &[u8], kind: NodeKind<'_>, perm: u32) -> Result<Arc<Dentry>> {
        let dir = locked.inode()?.clone();
        self.may_create_in(&dir)?;
        if matches!(kind, NodeKind::Device { .. }) && !self.cred.is_privileged() {
            return Err(Errno::EPERM);
        }
        let (perm, gid) = permission::new_node_owner(&self.cred, &dir.getattr()?, perm, kind == NodeKind::Directory);
        let inode = dir.create(name, &NewNode { kind, perm, uid: self.cred.uid, gid })?;
        Ok(locked.dir.dentry.bind_locked(&mut locked.children, name, Some(inode)))
    }

    /// `mkdirat`.
    pub fn mkdir(&self, at: At<'_>, path: &[u8], perm: u32) -> Result<()> {
        let perm = perm & (mode::S_IALLUGO & !mode::S_ISUID & !mode::S_ISGID) & !self.umask;
        self.create_with(at, path, true, |locked, name| {
            self.make_node(locked, name, NodeKind::Directory, perm).map(drop)
        })
    }

    /// `mknodat`: `mode` carries the type bits (0 means a regular file).
    pub fn mknod(&self, at: At<'_>, path: &[u8], mode_with_type: u32, rdev: u64) -> Result<()> {
        let kind = match mode_with_type & mode::S_IFMT {
            0 | mode::S_IFREG => NodeKind::Regular,
            mode::S_IFCHR => NodeKind::Device { file_type: FileType::CharDevice, rdev },
            mode::S_IFBLK => NodeKind::Device { file_type: FileType::BlockDevice, rdev },
            mode::S_IFIFO => NodeKind::Fifo,
            mode::S_IFSOCK => NodeKind::Socket,
            mode::S_IFDIR => return Err(Errno::EPERM),
            _ => return Err(Errno::EINVAL),
        };
        let perm = mode_with_type & mode::S_IALLUGO & !self.umask;
        self.create_with(at, path, false, |locked, name| self.make_node(locked, name, kind, perm).map(drop))
    }

    /// `symlinkat`.
    pub fn symlink(&self, target: &[u8], at: At<'_>, path: &[u8]) -> Result<()> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= crate::attr::PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        self.create_with(at, path, false, |locked, name| {
            self.make_node(locked, name, NodeKind::Symlink { target }, 0o777).map(drop)
        })
    }

    /// `readlinkat`.
    pub fn readlink(&self, at: At<'_>, path: &[u8]) -> Result<Vec<u8>> {
        let location = self.resolve(at, path, false)?;
        location.dentry.positive()?.readlink()
    }

    /// `openat`. `perm` is the creation mode (umask applied here).
    pub fn open(&self, at: At<'_>, path: &[u8], flags: OpenFlags, perm: u32) -> Result<Arc<OpenFile>> {
        if flags.contains(OpenFlags::CREAT) && flags.contains(OpenFlags::DIRECTORY) {
            return Err(Errno::EINVAL);
        }
        if flags.contains(OpenFlags::TMPFILE) {
            return Err(Errno::EOPNOTSUPP);
        }
        let flags = if flags.contains(OpenFlags::PATH) {
            flags & (OpenFlags::PATH | OpenFlags::DIRECTORY | OpenFlags::NOFOLLOW | OpenFlags::CLOEXEC)
        } else {
            flags
        };
        let (location, created, parent) = self.open_lookup(at, path, flags, perm)?;
        let inode = location.dentry.positive()?.clone();
        let file_type = inode.file_type();
        if flags.contains(OpenFlags::CREAT) && file_type == FileType::Directory {
            return Err(Errno::EISDIR);
        }
        if let (false, Some(parent)) = (created, &parent) {
            let dir_stat = parent.dentry.positive()?.getattr()?;
            permission::check_open_existing_in_sticky(&self.cred, &dir_stat, &inode.getattr()?)?;
        }
        if flags.contains(OpenFlags::DIRECTORY) && file_type != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if flags.contains(OpenFlags::PATH) {
            return Ok(Arc::new(OpenFile::new(location, self.cred.clone(), flags, None)?));
        }
        if file_type == FileType::Symlink {
            return Err(Errno::ELOOP);
        }
        let truncate = !created && flags.contains(OpenFlags::TRUNC) && file_type == FileType::Regular;
        if !created {
            self.may_open(&location, &inode, flags)?;
        }
        inode.on_open(flags)?;
        if truncate {
            crate::file::truncate_inode(&self.cred, &inode, 0)?;
        }
        let device = match file_type {
            FileType::CharDevice | FileType::BlockDevice | FileType::Fifo => {
                let rdev = inode.getattr()?.rdev;
                let registry = self.ns.device_registry().ok_or(Errno::ENXIO)?;
                Some(registry.open(file_type, rdev, flags)?)
            }
            FileType::Socket => return Err(Errno::ENXIO),
            _ => None,
        };
        Ok(Arc::new(OpenFile::new(location, self.cred.clone(), flags, device)?))
    }

    /// The lookup half of `open`: finds or (with `O_CREAT`) creates the last component,
    /// following symlinks there as Linux does, even into a link to a missing file.
    /// Returns the location, whether it was created, and (with `O_CREAT`, when the last
    /// component was a name) the directory it was found in.
    fn open_lookup(
        &self,
        at: At<'_>,
        path: &[u8],
        flags: OpenFlags,
        perm: u32,
    ) -> Result<(Location, bool, Option<Location>)> {
        let mut walk = Walk::new(self);
        // O_CREAT|O_EXCL never follows a symlink in last place, as O_NOFOLLOW.
        let exclusive_create = flags.contains(OpenFlags::CREAT | OpenFlags::EXCL);
        let follow_last = !(flags.contains(OpenFlags::NOFOLLOW) || exclusive_create);
        if !flags.contains(OpenFlags::CREAT) {
            return Ok((walk.resolve(&self.start(at), path, follow_last)?, false, None));
        }
        let mut start = self.start(at);
        let mut path = path.to_vec();
        loop {
            let (next_start, next_path) = {
                let parent = walk.parent(&start, &path)?;
                let name = match parent.last {
                    Last::Name(_) if parent.trailing_slash => return Err(Errno::EISDIR),
                    Last::Name(name) => name,
                    // `/`, `.` and `..` resolve as usual; `do_open` then refuses them.
                    _ => {
                        let location = walk.last(parent, true)?;
                        return if flags.contains(OpenFlags::EXCL) {
                            Err(Errno::EEXIST)
                        } else {
                            Ok((location, false, None))
                        };
                    }
                };
                let mut locked = LockedDir { dir: &parent.dir, children: parent.dir.dentry.lock_children() };
                let child = locked.lookup(name)?;
                if let Some(inode) = child.inode() {
                    if flags.contains(OpenFlags::EXCL) {
                        return Err(Errno::EEXIST);
                    }
                    if inode.file_type() != FileType::Symlink || !follow_last {
                        let location =
                            self.ns.follow_mounts(Location { mount: parent.dir.mount.clone(), dentry: child });
                        return Ok((location, false, Some(parent.dir.clone())));
                    }
                    let target = inode.readlink()?;
                    drop(locked);
                    walk.follow_link_budget()?;
                    if target.is_empty() {
                        return Err(Errno::ENOENT);
                    }
                    (parent.dir.clone(), target)
                } else {
                    parent.dir.mount.check_writable()?;
                    let dentry =
                        self.make_node(&mut locked, name, NodeKind::Regular, perm & mode::S_IALLUGO & !self.umask)?;
                    return Ok((Location { mount: parent.dir.mount.clone(), dentry }, true, None));
                }
            };
            start = next_start;
            path = next_path;
        }
    }

    /// `may_open` plus the `O_TRUNC` write check.
    fn may_open(&self, location: &Location, inode: &Arc<dyn Inode>, flags: OpenFlags) -> Result<()> {
        let file_type = inode.file_type();
        let mut wanted = Access::empty();
        if flags.readable() {
            wanted |= Access::READ;
        }
        // O_TRUNC asks for write access whatever the file type (`build_open_flags`).
        if flags.writable() || flags.contains(OpenFlags::TRUNC) {
            wanted |= Access::WRITE;
        }
        if file_type == FileType::Directory && wanted.contains(Access::WRITE) {
            return Err(Errno::EISDIR);
        }
        if file_type.is_device() && location.mount.flags().contains(MountFlags::NODEV) {
            return Err(Errno::EACCES);
        }
        if wanted.contains(Access::WRITE)
            && matches!(file_type, FileType::Regular | FileType::Directory | FileType::Symlink)
        {
            location.mount.check_writable()?;
        }
        let stat = inode.getattr()?;
        check_access(&self.cred, &stat, wanted)?;
        if flags.contains(OpenFlags::NOATIME) && !permission::is_owner_or_privileged(&self.cred, &stat) {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// `unlinkat` without `AT_REMOVEDIR`.
    pub fn unlink(&self, at: At<'_>, path: &[u8]) -> Result<()> {
        let parent = Walk::new(self).parent(&self.start(at), path)?;
        let Last::Name(name) = parent.last else { return Err(Errno::EISDIR) };
        self.remove_entry(&parent.dir, name, parent.trailing_slash, false)
    }

    /// `rmdir` (`unlinkat` with `AT_REMOVEDIR`).
    pub fn rmdir(&self, at: At<'_>, path: &[u8]) -> Result<()> {
        let parent = Walk::new(self).parent(&self.start(at), path)?;
        let name = match parent.last {
            Last::Dot => return Err(Errno::EINVAL),
            Last::DotDot => return Err(Errno::ENOTEMPTY),
            Last::Root => return Err(Errno::EBUSY),
            Last::Name(name) => name,
        };
        self.remove_entry(&parent.dir, name, false, true)
    }

    /// The common part of `unlink` and `rmdir` (`do_unlinkat`/`do_rmdir`): `EROFS`, the
    /// lookup, the trailing-slash rule of unlink, `may_delete`, the mount-point rule.
    fn remove_entry(&self, dir: &Location, name: &[u8], trailing_slash: bool, want_dir: bool) -> Result<()> {
        dir.mount.check_writable()?;
        let mut locked = LockedDir { dir, children: dir.dentry.lock_children() };
        let victim = locked.lookup(name)?;
        if trailing_slash {
            let inode = victim.positive()?;
            return Err(if inode.file_type() == FileType::Directory { Errno::EISDIR } else { Errno::ENOTDIR });
        }
        let dir_inode = locked.inode()?.clone();
        self.may_delete(&dir_inode, &victim, want_dir)?;
        if victim.is_mount_point() {
            return Err(Errno::EBUSY);
        }
        if want_dir {
            dir_inode.rmdir(name)?
        } else {
            dir_inode.unlink(name)?
        }
        dir.dentry.bind_locked(&mut locked.children, name, None);
        Ok(())
    }

    /// `linkat`; `follow` is `AT_SYMLINK_FOLLOW`.
    pub fn link(&self, old_at: At<'_>, old_path: &[u8], new_at: At<'_>, new_path: &[u8], follow: bool) -> Result<()> {
        let source = self.resolve(old_at, old_path, follow)?;
        let source_inode = source.dentry.positive()?.clone();
        self.create_with(new_at, new_path, false, |locked, name| {
            if !Arc::ptr_eq(&locked.dir.mount, &source.mount) {
                return Err(Errno::EXDEV);
            }
            permission::check_hardlink(&self.cred, &source_inode.getattr()?)?;
            self.may_create_in(locked.inode()?)?;
            if source_inode.file_type() == FileType::Directory {
                return Err(Errno::EPERM);
            }
            locked.inode()?.link(name, &source_inode)?;
            locked.dir.dentry.bind_locked(&mut locked.children, name, Some(source_inode.clone()));
            Ok(())
        })
    }

    /// `renameat2`.
    pub fn rename(
        &self,
        old_at: At<'_>,
        old_path: &[u8],
        new_at: At<'_>,
        new_path: &[u8],
        flags: RenameFlags,
    ) -> Result<()> {
        if flags.contains(RenameFlags::NOREPLACE | RenameFlags::EXCHANGE) || flags.contains(RenameFlags::WHITEOUT) {
            return Err(Errno::EINVAL);
        }
        let mut walk = Walk::new(self);
        let old_parent = walk.parent(&self.start(old_at), old_path)?;
        let new_parent = walk.parent(&self.start(new_at), new_path)?;
        if !Arc::ptr_eq(&old_parent.dir.mount, &new_parent.dir.mount) {
            return Err(Errno::EXDEV);
        }
        let Last::Name(old_name) = old_parent.last else { return Err(Errno::EBUSY) };
        let Last::Name(new_name) = new_parent.last else {
            return Err(if flags.contains(RenameFlags::NOREPLACE) { Errno::EEXIST } else { Errno::EBUSY });
        };
        old_parent.dir.mount.check_writable()?;
        let _serial = self.ns.rename_lock.lock();
        let old_dir = &old_parent.dir.dentry;
        let new_dir = &new_parent.dir.dentry;
        let same_dir = Arc::ptr_eq(old_dir, new_dir);
        // Two directories: lock in address order (see the lock order in dentry.rs).
        let (mut old_children, mut new_children) = if same_dir {
            (old_dir.lock_children(), None)
        } else if Arc::as_ptr(old_dir) < Arc::as_ptr(new_dir) {
            let first = old_dir.lock_children();
            (first, Some(new_dir.lock_children()))
        } else {
            let first = new_dir.lock_children();
            (old_dir.lock_children(), Some(first))
        };
        macro_rules! new_children {
            () => {
                match new_children.as_mut() {
                    Some(children) => children,
                    None => &mut old_children,
                }
            };
        }
        let source = old_dir.lookup_locked(&mut old_children, old_name)?;
        let source_inode = source.positive()?.clone();
        let target = new_dir.lookup_locked(new_children!(), new_name)?;
        if flags.contains(RenameFlags::NOREPLACE) && !target.is_negative() {
            return Err(Errno::EEXIST);
        }
        if flags.contains(RenameFlags::EXCHANGE) && target.is_negative() {
            return Err(Errno::ENOENT);
        }
        let source_is_dir = source_inode.file_type() == FileType::Directory;
        let target_is_dir = target.inode().is_some_and(|inode| inode.file_type() == FileType::Directory);
        if !source_is_dir
            && (old_parent.trailing_slash || (!flags.contains(RenameFlags::EXCHANGE) && new_parent.trailing_slash))
        {
            return Err(Errno::ENOTDIR);
        }
        if flags.contains(RenameFlags::EXCHANGE) && !target_is_dir && new_parent.trailing_slash {
            return Err(Errno::ENOTDIR);
        }
        if new_dir.is_descendant_of(&source) {
            return Err(Errno::EINVAL);
        }
        if !target.is_negative() && old_dir.is_descendant_of(&target) {
            return Err(if flags.contains(RenameFlags::EXCHANGE) { Errno::EINVAL } else { Errno::ENOTEMPTY });
        }
        // Both names already lead to the same inode (within one filesystem, as checked
        // above): Linux's `vfs_rename` does nothing and succeeds.
        if let Some(target_inode) = target.inode()
            && (Arc::ptr_eq(target_inode, &source_inode) || target_inode.ino() == source_inode.ino())
        {
            return Ok(());
        }
        let old_dir_inode = old_dir.positive()?.clone();
        let new_dir_inode = new_dir.positive()?.clone();
        self.may_delete(&old_dir_inode, &source, source_is_dir)?;
        if target.is_negative() {
            self.may_create_in(&new_dir_inode)?;
        } else {
            let target_wants_dir = if flags.contains(RenameFlags::EXCHANGE) { target_is_dir } else { source_is_dir };
            self.may_delete(&new_dir_inode, &target, target_wants_dir)?;
        }
        if !same_dir && !self.cred.is_privileged() {
            if source_is_dir {
                check_access(&self.cred, &source_inode.getattr()?, Access::WRITE)?;
            }
            if flags.contains(RenameFlags::EXCHANGE) && target_is_dir {
                check_access(&self.cred, &target.positive()?.getattr()?, Access::WRITE)?;
            }
        }
        if source.is_mount_point() || target.is_mount_point() {
            return Err(Errno::EBUSY);
        }
        old_dir_inode.rename(old_name, &new_dir_inode, new_name, flags)?;
        old_children.remove(old_name);
        if flags.contains(RenameFlags::EXCHANGE) {
            old_dir.attach_locked(&mut old_children, old_name, target);
        }
        new_dir.attach_locked(new_children!(), new_name, source);
        Ok(())
    }

    /// Applies an attribute change at `location` after the mount's `EROFS` check.
    fn setattr_at(&self, location: &Location, change: &SetAttr) -> Result<()> {
        location.mount.check_writable()?;
        location.dentry.positive()?.setattr(change)
    }

    /// `fchmodat`.
    pub fn chmod(&self, at: At<'_>, path: &[u8], perm: u32) -> Result<()> {
        self.chmod_location(&self.resolve(at, path, true)?, perm)
    }

    /// `fchmod` (and `fchmodat` once resolved).
    pub fn chmod_location(&self, location: &Location, perm: u32) -> Result<()> {
        location.mount.check_writable()?;
        let stat = location.dentry.positive()?.getattr()?;
        let bits = permission::chmod_bits(&self.cred, &stat, perm)?;
        self.setattr_at(location, &SetAttr { mode: Some(bits), ..SetAttr::default() })
    }

    /// `fchownat`; `None` is Linux's `-1` (leave unchanged).
    pub fn chown(&self, at: At<'_>, path: &[u8], uid: Option<u32>, gid: Option<u32>, follow: bool) -> Result<()> {
        self.chown_location(&self.resolve(at, path, follow)?, uid, gid)
    }

    pub fn chown_location(&self, location: &Location, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        location.mount.check_writable()?;
        let stat = location.dentry.positive()?.getattr()?;
        let cleared_bits = permission::chown_check(&self.cred, &stat, uid, gid)?;
        self.setattr_at(location, &SetAttr { uid, gid, mode: cleared_bits, ..SetAttr::default() })
    }

    /// `utimensat`; `None` is `UTIME_OMIT`.
    pub fn utimens(
        &self,
        at: At<'_>,
        path: &[u8],
        atime: Option<TimeChange>,
        mtime: Option<TimeChange>,
        follow: bool,
    ) -> Result<()> {
        self.utimens_location(&self.resolve(at, path, follow)?, atime, mtime)
    }

    pub fn utimens_location(
        &self,
        location: &Location,
        atime: Option<TimeChange>,
        mtime: Option<TimeChange>,
    ) -> Result<()> {
        if atime.is_none() && mtime.is_none() {
            return Ok(());
        }
        location.mount.check_writable()?;
        let stat = location.dentry.positive()?.getattr()?;
        let only_now =
            atime.is_none_or(|time| time == TimeChange::Now) && mtime.is_none_or(|time| time == TimeChange::Now);
        permission::check_set_times(&self.cred, &stat, only_now)?;
        self.setattr_at(location, &SetAttr { atime, mtime, ..SetAttr::default() })
    }

    /// `truncate(2)` by path (`ftruncate` is `OpenFile::truncate`).
    pub fn truncate(&self, at: At<'_>, path: &[u8], size: u64) -> Result<()> {
        let location = self.resolve(at, path, true)?;
        let inode = location.dentry.positive()?;
        match inode.file_type() {
            FileType::Directory => return Err(Errno::EISDIR),
            FileType::Regular => {}
            _ => return Err(Errno::EINVAL),
        }
        location.mount.check_writable()?;
        check_access(&self.cred, &inode.getattr()?, Access::WRITE)?;
        crate::file::truncate_inode(&self.cred, inode, size)
    }

    /// `faccessat` (against the fs identity: the syscall layer passes real ids if needed).
    pub fn access(&self, at: At<'_>, path: &[u8], wanted: Access) -> Result<()> {
        let location = self.resolve(at, path, true)?;
        let inode = location.dentry.positive()?;
        if wanted.contains(Access::WRITE)
            && matches!(inode.file_type(), FileType::Regular | FileType::Directory | FileType::Symlink)
        {
            location.mount.check_writable()?;
        }
        check_access(&self.cred, &inode.getattr()?, wanted)
    }

    /// `chdir`.
    pub fn chdir(&mut self, at: At<'_>, path: &[u8]) -> Result<()> {
        let location = self.resolve(at, path, true)?;
        self.may_search(&location)?;
        self.cwd = location;
        Ok(())
    }

    /// `chroot` (privileged).
    pub fn chroot(&mut self, at: At<'_>, path: &[u8]) -> Result<()> {
        let location = self.resolve(at, path, true)?;
        self.may_search(&location)?;
        if !self.cred.is_privileged() {
            return Err(Errno::EPERM);
        }
        self.root = location;
        Ok(())
    }

    /// `getcwd`: `ENOENT` when the working directory was removed or is not below the root.
    pub fn getcwd(&self) -> Result<Vec<u8>> {
        if self.cwd.dentry.is_unlinked() {
            return Err(Errno::ENOENT);
        }
        absolute_path(&self.cwd, &self.root).ok_or(Errno::ENOENT)
    }

    /// `mount(2)` of a new filesystem instance at `path` (privileged).
    pub fn mount(
        &self,
        at: At<'_>,
        path: &[u8],
        fs: Arc<dyn FileSystem>,
        source: &str,
        flags: MountFlags,
    ) -> Result<Arc<Mount>> {
        if !self.cred.is_privileged() {
            return Err(Errno::EPERM);
        }
        let location = self.resolve(at, path, true)?;
        self.ns.mount(&location, fs, source, flags)
    }

    /// `mount(2)` with `MS_BIND`.
    pub fn bind_mount(
        &self,
        source_at: At<'_>,
        source: &[u8],
        at: At<'_>,
        path: &[u8],
        flags: MountFlags,
    ) -> Result<Arc<Mount>> {
        if !self.cred.is_privileged() {
            return Err(Errno::EPERM);
        }
        let source = self.resolve(source_at, source, true)?;
        let location = self.resolve(at, path, true)?;
        self.ns.bind(&location, &source, flags)
    }

    /// `umount2`; `lazy` is `MNT_DETACH`.
    pub fn unmount(&self, at: At<'_>, path: &[u8], lazy: bool) -> Result<()> {
        if !self.cred.is_privileged() {
            return Err(Errno::EPERM);
        }
        let location = self.resolve(at, path, true)?;
        self.ns.unmount(location, lazy)
    }
}
