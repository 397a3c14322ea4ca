//! Layer 5: `renameat2`, with `RENAME_NOREPLACE` and `RENAME_EXCHANGE`, in Linux's order of checks.

use super::*;

impl FsContext {
    /// `renameat2`.
    pub fn rename(
        &self,
        old_at: At<'_>,
        old_path: &[u8],
        new_at: At<'_>,
        new_path: &[u8],
        flags: RenameFlags,
    ) -> Result<()> {
        if flags.contains(RenameFlags::NOREPLACE | RenameFlags::EXCHANGE)
            || flags.contains(RenameFlags::WHITEOUT)
        {
            return Err(Errno::EINVAL);
        }
        let mut walk = Walk::new(self);
        let old_parent = walk.parent(&self.start(old_at), old_path)?;
        let new_parent = walk.parent(&self.start(new_at), new_path)?;
        old_parent.dir.check_same_mount(&new_parent.dir)?;
        let Last::Name(old_name) = old_parent.last else {
            return Err(Errno::EBUSY);
        };
        let Last::Name(new_name) = new_parent.last else {
            return Err(if flags.contains(RenameFlags::NOREPLACE) {
                Errno::EEXIST
            } else {
                Errno::EBUSY
            });
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
        let target_is_dir = target
            .inode()
            .is_some_and(|inode| inode.file_type() == FileType::Directory);
        if !source_is_dir
            && (old_parent.trailing_slash
                || (!flags.contains(RenameFlags::EXCHANGE) && new_parent.trailing_slash))
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
            return Err(if flags.contains(RenameFlags::EXCHANGE) {
                Errno::EINVAL
            } else {
                Errno::ENOTEMPTY
            });
        }
        // Both names already lead to the same inode object: Linux's `vfs_rename` does
        // nothing and succeeds. (Objects, not numbers: overlay shows two lower hard links
        // as two inodes with one number, and Linux renames those.)
        if target
            .inode()
            .is_some_and(|target_inode| Arc::ptr_eq(target_inode, &source_inode))
        {
            return Ok(());
        }
        let old_dir_inode = old_dir.positive()?.clone();
        let new_dir_inode = new_dir.positive()?.clone();
        self.may_delete(&old_dir_inode, &source, source_is_dir)?;
        if target.is_negative() {
            self.may_create_in(&new_dir_inode)?;
        } else {
            let target_wants_dir = if flags.contains(RenameFlags::EXCHANGE) {
                target_is_dir
            } else {
                source_is_dir
            };
            self.may_delete(&new_dir_inode, &target, target_wants_dir)?;
        }
        if !same_dir {
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
}
