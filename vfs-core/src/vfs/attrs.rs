//! Layer 5: attribute changes: `chmod`, `chown`, `utimensat`, `truncate`, and `faccessat`.

use super::*;

impl FsContext {
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
        self.setattr_at(
            location,
            &SetAttr {
                mode: Some(bits),
                ..SetAttr::default()
            },
        )
    }

    /// `fchownat`; `None` is Linux's `-1` (leave unchanged).
    pub fn chown(
        &self,
        at: At<'_>,
        path: &[u8],
        uid: Option<u32>,
        gid: Option<u32>,
        follow: bool,
    ) -> Result<()> {
        self.chown_location(&self.resolve(at, path, follow)?, uid, gid)
    }

    pub fn chown_location(
        &self,
        location: &Location,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Result<()> {
        location.mount.check_writable()?;
        let stat = location.dentry.positive()?.getattr()?;
        let cleared_bits = permission::chown_check(&self.cred, &stat, uid, gid)?;
        self.setattr_at(
            location,
            &SetAttr {
                uid,
                gid,
                mode: cleared_bits,
                ..SetAttr::default()
            },
        )
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
        let only_now = atime.is_none_or(|time| time == TimeChange::Now)
            && mtime.is_none_or(|time| time == TimeChange::Now);
        permission::check_set_times(&self.cred, &stat, only_now)?;
        self.setattr_at(
            location,
            &SetAttr {
                atime,
                mtime,
                ..SetAttr::default()
            },
        )
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
            && matches!(
                inode.file_type(),
                FileType::Regular | FileType::Directory | FileType::Symlink
            )
        {
            location.mount.check_writable()?;
        }
        check_access(&self.cred, &inode.getattr()?, wanted)
    }
}
