//! Layer 5: creating names: `mkdirat`, `mknodat`, `symlinkat`, `linkat`, and the
//! `filename_create` checks they share (also used by `open` with `O_CREAT`).

use super::*;

impl FsContext {
    /// The shared front half of mkdir/mknod/symlink/creat (`filename_create`): the
    /// parent, locked, with the name checked to be free.
    pub(super) fn create_with<R>(
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
        let mut locked = LockedDir {
            dir: &parent.dir,
            children: parent.dir.dentry.lock_children(),
        };
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
    pub(super) fn make_node(
        &self,
        locked: &mut LockedDir<'_>,
        name: &[u8],
        kind: NodeKind<'_>,
        perm: u32,
    ) -> Result<Arc<Dentry>> {
        let dir = locked.inode()?.clone();
        self.may_create_in(&dir)?;
        if matches!(kind, NodeKind::Device { .. }) && !self.cred.has_cap(crate::cred::cap::MKNOD) {
            return Err(Errno::EPERM);
        }
        let (perm, gid) = permission::new_node_owner(
            &self.cred,
            &dir.getattr()?,
            perm,
            kind == NodeKind::Directory,
        );
        let inode = dir.create(
            name,
            &NewNode {
                kind,
                perm,
                uid: self.cred.uid,
                gid,
            },
        )?;
        Ok(locked
            .dir
            .dentry
            .bind_locked(&mut locked.children, name, Some(inode)))
    }

    /// `mkdirat`.
    pub fn mkdir(&self, at: At<'_>, path: &[u8], perm: u32) -> Result<()> {
        let perm = perm & (mode::S_IALLUGO & !mode::S_ISUID & !mode::S_ISGID) & !self.umask;
        self.create_with(at, path, true, |locked, name| {
            self.make_node(locked, name, NodeKind::Directory, perm)
                .map(drop)
        })
    }

    /// `mknodat`: `mode` carries the type bits (0 means a regular file).
    pub fn mknod(&self, at: At<'_>, path: &[u8], mode_with_type: u32, rdev: u64) -> Result<()> {
        let kind = match mode_with_type & mode::S_IFMT {
            0 | mode::S_IFREG => NodeKind::Regular,
            mode::S_IFCHR => NodeKind::Device {
                file_type: FileType::CharDevice,
                rdev,
            },
            mode::S_IFBLK => NodeKind::Device {
                file_type: FileType::BlockDevice,
                rdev,
            },
            mode::S_IFIFO => NodeKind::Fifo,
            mode::S_IFSOCK => NodeKind::Socket,
            mode::S_IFDIR => return Err(Errno::EPERM),
            _ => return Err(Errno::EINVAL),
        };
        let perm = mode_with_type & mode::S_IALLUGO & !self.umask;
        self.create_with(at, path, false, |locked, name| {
            self.make_node(locked, name, kind, perm).map(drop)
        })
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
            self.make_node(locked, name, NodeKind::Symlink { target }, 0o777)
                .map(drop)
        })
    }

    /// `linkat`; `follow` is `AT_SYMLINK_FOLLOW`.
    pub fn link(
        &self,
        old_at: At<'_>,
        old_path: &[u8],
        new_at: At<'_>,
        new_path: &[u8],
        follow: bool,
    ) -> Result<()> {
        let source = self.resolve(old_at, old_path, follow)?;
        let source_inode = source.dentry.positive()?.clone();
        self.create_with(new_at, new_path, false, |locked, name| {
            locked.dir.check_same_mount(&source)?;
            permission::check_hardlink(&self.cred, &source_inode.getattr()?)?;
            self.may_create_in(locked.inode()?)?;
            if source_inode.file_type() == FileType::Directory {
                return Err(Errno::EPERM);
            }
            locked.inode()?.link(name, &source_inode)?;
            // The new name gets the inode a lookup of it returns, not necessarily the
            // source's object: on 9p an inode's fid is tied to the name it was walked
            // through, and the source's would go stale once the old name is unlinked
            // (memory filesystems return the very same object).
            let new_inode = locked
                .inode()?
                .lookup(name)
                .unwrap_or_else(|_| source_inode.clone());
            locked
                .dir
                .dentry
                .bind_locked(&mut locked.children, name, Some(new_inode));
            Ok(())
        })
    }
}
