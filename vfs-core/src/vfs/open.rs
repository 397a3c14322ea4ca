//! Layer 5: `openat`: the lookup (with `O_CREAT` through symlinks), `may_open`, and the
//! open file description it returns.

use super::*;

impl FsContext {
    /// `openat`. `perm` is the creation mode (umask applied here).
    pub fn open(
        &self,
        at: At<'_>,
        path: &[u8],
        flags: OpenFlags,
        perm: u32,
    ) -> Result<Arc<OpenFile>> {
        if flags.contains(OpenFlags::CREAT) && flags.contains(OpenFlags::DIRECTORY) {
            return Err(Errno::EINVAL);
        }
        if flags.contains(OpenFlags::TMPFILE) {
            return Err(Errno::EOPNOTSUPP);
        }
        let flags = if flags.contains(OpenFlags::PATH) {
            flags
                & (OpenFlags::PATH
                    | OpenFlags::DIRECTORY
                    | OpenFlags::NOFOLLOW
                    | OpenFlags::CLOEXEC)
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
            return Ok(Arc::new(OpenFile::new(
                location,
                self.cred.clone(),
                flags,
                None,
            )?));
        }
        if file_type == FileType::Symlink {
            return Err(Errno::ELOOP);
        }
        let truncate =
            !created && flags.contains(OpenFlags::TRUNC) && file_type == FileType::Regular;
        if !created {
            self.may_open(&location, &inode, flags)?;
        }
        inode.on_open(flags)?;
        if truncate {
            crate::file::truncate_inode(&self.cred, &inode, 0)?;
        }
        let device = match file_type {
            FileType::CharDevice | FileType::BlockDevice | FileType::Fifo => {
                let stat = inode.getattr()?;
                let registry = self.ns.device_registry().ok_or(Errno::ENXIO)?;
                Some(registry.open(file_type, &stat, flags)?)
            }
            FileType::Socket => return Err(Errno::ENXIO),
            _ => None,
        };
        Ok(Arc::new(OpenFile::new(
            location,
            self.cred.clone(),
            flags,
            device,
        )?))
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
            return Ok((
                walk.resolve(&self.start(at), path, follow_last)?,
                false,
                None,
            ));
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
                let mut locked = LockedDir {
                    dir: &parent.dir,
                    children: parent.dir.dentry.lock_children(),
                };
                let child = locked.lookup(name)?;
                if let Some(inode) = child.inode() {
                    if flags.contains(OpenFlags::EXCL) {
                        return Err(Errno::EEXIST);
                    }
                    if inode.file_type() != FileType::Symlink || !follow_last {
                        let location = self.ns.follow_mounts(Location {
                            mount: parent.dir.mount.clone(),
                            dentry: child,
                        });
                        return Ok((location, false, Some(parent.dir.clone())));
                    }
                    if let Some(destination) = inode.link_destination() {
                        drop(locked);
                        walk.follow_link_budget()?;
                        return Ok((destination?, false, None));
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
                    let dentry = self.make_node(
                        &mut locked,
                        name,
                        NodeKind::Regular,
                        perm & mode::S_IALLUGO & !self.umask,
                    )?;
                    return Ok((
                        Location {
                            mount: parent.dir.mount.clone(),
                            dentry,
                        },
                        true,
                        None,
                    ));
                }
            };
            start = next_start;
            path = next_path;
        }
    }

    /// `may_open` plus the `O_TRUNC` write check.
    fn may_open(
        &self,
        location: &Location,
        inode: &Arc<dyn Inode>,
        flags: OpenFlags,
    ) -> Result<()> {
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
            && matches!(
                file_type,
                FileType::Regular | FileType::Directory | FileType::Symlink
            )
        {
            location.mount.check_writable()?;
        }
        let stat = inode.getattr()?;
        check_access(&self.cred, &stat, wanted)?;
        if flags.contains(OpenFlags::NOATIME)
            && !permission::is_owner_or_privileged(&self.cred, &stat)
        {
            return Err(Errno::EPERM);
        }
        Ok(())
    }
}
