//! Layer 5: removing names: `unlinkat` with and without `AT_REMOVEDIR`.

use super::*;

impl FsContext {
    /// `unlinkat` without `AT_REMOVEDIR`.
    pub fn unlink(&self, at: At<'_>, path: &[u8]) -> Result<()> {
        let parent = Walk::new(self).parent(&self.start(at), path)?;
        let Last::Name(name) = parent.last else {
            return Err(Errno::EISDIR);
        };
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
    fn remove_entry(
        &self,
        dir: &Location,
        name: &[u8],
        trailing_slash: bool,
        want_dir: bool,
    ) -> Result<()> {
        dir.mount.check_writable()?;
        let mut locked = LockedDir {
            dir,
            children: dir.dentry.lock_children(),
        };
        let victim = locked.lookup(name)?;
        if trailing_slash {
            let inode = victim.positive()?;
            return Err(if inode.file_type() == FileType::Directory {
                Errno::EISDIR
            } else {
                Errno::ENOTDIR
            });
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
}
