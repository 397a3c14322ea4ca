//! Layer 5 (top): the operations the syscall layer calls (`openat`, `mkdirat`,
//! `renameat2`, …), each doing Linux's checks in Linux's order so that the errno for a
//! given situation is the one Linux returns.
//!
//! Lock order: see the top of `dentry.rs`. The operations are grouped by kind in the
//! submodules; this one holds the context, the shared checks and the working-directory
//! and mount operations.

use crate::attr::{FileType, NAME_MAX, RenameFlags, SetAttr, Stat, StatFs, TimeChange, mode};
use crate::cred::Credentials;
use crate::dentry::{ChildrenGuard, Dentry};
use crate::errno::{Errno, Result};
use crate::file::{OpenFile, OpenFlags};
use crate::inode::{FileSystem, Inode, NewNode, NodeKind};
use crate::mount::{Location, Mount, MountFlags, MountNamespace};
use crate::path::{Last, Walk};
use crate::permission::{self, Access, check_access};
use alloc::sync::Arc;
use alloc::vec::Vec;

mod attrs;
mod create;
mod open;
mod remove;
mod rename;

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
        FsContext {
            cwd: root.clone(),
            root,
            ns,
            cred,
            umask: 0o022,
        }
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

    /// `stat`/`lstat`/`fstatat`. A last name with no cached dentry whose attributes an
    /// exclusive filesystem holds is answered from them ([`Dentry::peek_child_stat`]):
    /// the walk up to it has checked search permission, and an uncached name is no
    /// mount point, so the answer is the one a lookup and `getattr` would give.
    pub fn stat(&self, at: At<'_>, path: &[u8], follow: bool) -> Result<Stat> {
        let mut walk = Walk::new(self);
        let parent = walk.parent(&self.start(at), path)?;
        if let Last::Name(name) = parent.last
            && !parent.trailing_slash
            && let Some(stat) = parent.dir.dentry.peek_child_stat(name, follow)
        {
            return Ok(stat);
        }
        walk.last(parent, follow)?.dentry.positive()?.getattr()
    }

    /// `statfs`, with `f_flags` from the mount.
    pub fn statfs(&self, at: At<'_>, path: &[u8]) -> Result<StatFs> {
        let location = self.resolve(at, path, true)?;
        let mut stats = location.mount.fs().statfs()?;
        // ST_* share their values with MS_*; ST_RELATIME is 4096.
        stats.flags = u64::from(location.mount.flags().bits())
            | if location.mount.flags().contains(MountFlags::NOATIME) {
                0
            } else {
                4096
            };
        Ok(stats)
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

    /// `readlinkat`.
    pub fn readlink(&self, at: At<'_>, path: &[u8]) -> Result<Vec<u8>> {
        let location = self.resolve(at, path, false)?;
        location.dentry.positive()?.readlink()
    }

    /// `chdir`.
    pub fn chdir(&mut self, at: At<'_>, path: &[u8]) -> Result<()> {
        let location = self.resolve(at, path, true)?;
        crate::path::may_search(&self.cred, &location)?;
        self.cwd = location;
        Ok(())
    }

    /// `chroot` (privileged).
    pub fn chroot(&mut self, at: At<'_>, path: &[u8]) -> Result<()> {
        let location = self.resolve(at, path, true)?;
        crate::path::may_search(&self.cred, &location)?;
        if !self.cred.has_cap(crate::cred::cap::SYS_CHROOT) {
            return Err(Errno::EPERM);
        }
        self.root = location;
        Ok(())
    }

    /// `getcwd`: `ENOENT` when the working directory was removed or is not below the root,
    /// `ENAMETOOLONG` when its path does not fit in `PATH_MAX` (Linux's page).
    pub fn getcwd(&self) -> Result<Vec<u8>> {
        if self.cwd.dentry.is_unlinked() {
            return Err(Errno::ENOENT);
        }
        crate::path::absolute_path_max(&self.cwd, &self.root)?.ok_or(Errno::ENOENT)
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
        if !self.cred.has_cap(crate::cred::cap::SYS_ADMIN) {
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
        if !self.cred.has_cap(crate::cred::cap::SYS_ADMIN) {
            return Err(Errno::EPERM);
        }
        let source = self.resolve(source_at, source, true)?;
        let location = self.resolve(at, path, true)?;
        self.ns.bind(&location, &source, flags)
    }

    /// `umount2`; `lazy` is `MNT_DETACH`.
    pub fn unmount(&self, at: At<'_>, path: &[u8], lazy: bool) -> Result<()> {
        if !self.cred.has_cap(crate::cred::cap::SYS_ADMIN) {
            return Err(Errno::EPERM);
        }
        let location = self.resolve(at, path, true)?;
        self.ns.unmount(location, lazy)
    }
}
