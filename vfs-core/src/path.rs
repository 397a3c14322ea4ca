//! Layer 4: the path walk, name by name from a starting location, through mounts,
//! `.`/`..` and symlinks, in two short functions (`Walk::parent` and `Walk::step`) in
//! the spirit of xv6's `namex`/`dirlookup`.

use crate::attr::{FileType, PATH_MAX};
use crate::cred::Credentials;
use crate::errno::{Errno, Result};
use crate::mount::Location;
use crate::permission::{Access, check_access};
use crate::vfs::FsContext;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Linux's `MAXSYMLINKS`: symlinks followed in one resolution, nested or in sequence.
pub const MAX_SYMLINKS: u32 = 40;

/// What the last component of a path is, which decides the errno of many operations
/// (`rmdir(".")` is `EINVAL`, `mkdir("..")` is `EEXIST`, `rename("/", …)` is `EBUSY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Last<'p> {
    /// The path was only slashes.
    Root,
    Dot,
    DotDot,
    Name(&'p [u8]),
}

/// A path walked up to its last component.
pub struct Parent<'p> {
    pub dir: Location,
    pub last: Last<'p>,
    /// `a/b/`: the result must be a directory, and a symlink there is followed.
    pub trailing_slash: bool,
}

/// One resolution: the caller's context plus the symlink budget it has used.
pub struct Walk<'c> {
    ctx: &'c FsContext,
    links_followed: u32,
}

impl<'c> Walk<'c> {
    pub fn new(ctx: &'c FsContext) -> Self {
        Walk {
            ctx,
            links_followed: 0,
        }
    }

    /// Walks every component of `path` except the last, following every symlink on the
    /// way; the returned directory is known to be searchable (unless the path was `/`).
    pub fn parent<'p>(&mut self, start: &Location, path: &'p [u8]) -> Result<Parent<'p>> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut dir = if path[0] == b'/' {
            self.ctx.root.clone()
        } else {
            start.clone()
        };
        let mut names = path
            .split(|&byte| byte == b'/')
            .filter(|name| !name.is_empty())
            .peekable();
        let mut last = Last::Root;
        while let Some(name) = names.next() {
            if names.peek().is_none() {
                // Linux's `may_lookup` runs before every component, the last included.
                self.may_search(&dir)?;
                last = match name {
                    b"." => Last::Dot,
                    b".." => Last::DotDot,
                    _ => Last::Name(name),
                };
                break;
            }
            dir = self.step(&dir, name, true)?;
        }
        let trailing_slash = last != Last::Root && path.ends_with(b"/");
        Ok(Parent {
            dir,
            last,
            trailing_slash,
        })
    }

    /// Moves from directory `dir` to its entry `name`, crossing mounts, and following
    /// a symlink there if `follow`. Needs search permission on `dir`.
    pub fn step(&mut self, dir: &Location, name: &[u8], follow: bool) -> Result<Location> {
        self.may_search(dir)?;
        match name {
            b"." => return Ok(dir.clone()),
            b".." => return Ok(self.dotdot(dir)),
            _ => {}
        }
        let child = dir.dentry.lookup_child(name)?;
        let inode = child.positive()?;
        if follow && inode.file_type() == FileType::Symlink {
            if let Some(destination) = inode.link_destination() {
                self.follow_link_budget()?;
                return destination;
            }
            let target = inode.readlink()?;
            return self.follow_link(dir, &target);
        }
        Ok(self.ctx.ns.follow_mounts(Location {
            mount: dir.mount.clone(),
            dentry: child,
        }))
    }

    /// Resolves a whole path; the last component's symlink is followed if `follow_last`.
    pub fn resolve(
        &mut self,
        start: &Location,
        path: &[u8],
        follow_last: bool,
    ) -> Result<Location> {
        let parent = self.parent(start, path)?;
        self.last(parent, follow_last)
    }

    /// Finishes a walk begun with `parent`.
    pub fn last(&mut self, parent: Parent<'_>, follow_last: bool) -> Result<Location> {
        let follow = follow_last || parent.trailing_slash;
        let found = match parent.last {
            Last::Root => parent.dir,
            Last::Dot => self.step(&parent.dir, b".", follow)?,
            Last::DotDot => self.step(&parent.dir, b"..", follow)?,
            Last::Name(name) => self.step(&parent.dir, name, follow)?,
        };
        if parent.trailing_slash && found.dentry.positive()?.file_type() != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        Ok(found)
    }

    /// Follows a symlink found in `dir` whose target is `target`.
    pub fn follow_link(&mut self, dir: &Location, target: &[u8]) -> Result<Location> {
        self.follow_link_budget()?;
        self.resolve(dir, target, true)
    }

    /// Counts one more symlink against the limit of 40 (`ELOOP` past it).
    pub fn follow_link_budget(&mut self) -> Result<()> {
        self.links_followed += 1;
        if self.links_followed > MAX_SYMLINKS {
            Err(Errno::ELOOP)
        } else {
            Ok(())
        }
    }

    /// `..`: up one dentry, first climbing out of mounts whose root we stand on, and
    /// never above the caller's root.
    fn dotdot(&self, dir: &Location) -> Location {
        let mut here = dir.clone();
        loop {
            if here.same_as(&self.ctx.root) {
                return here;
            }
            if !here.is_mount_root() {
                break;
            }
            match here.mount.mountpoint() {
                Some(point) => here = point,
                None => return here,
            }
        }
        let parent = here.dentry.parent().unwrap_or_else(|| here.dentry.clone());
        self.ctx.ns.follow_mounts(Location {
            mount: here.mount,
            dentry: parent,
        })
    }

    fn may_search(&self, dir: &Location) -> Result<()> {
        may_search(&self.ctx.cred, dir)
    }
}

/// `may_lookup`: `dir` must be a directory the caller may search (`ENOTDIR`, `EACCES`).
pub fn may_search(cred: &Credentials, dir: &Location) -> Result<()> {
    let inode = dir.dentry.positive()?;
    if inode.file_type() != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    // CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH may search every directory; skipping
    // getattr keeps such walks cheap.
    if cred.caps
        & (crate::cred::cap::bit(crate::cred::cap::DAC_OVERRIDE)
            | crate::cred::cap::bit(crate::cred::cap::DAC_READ_SEARCH))
        != 0
    {
        return Ok(());
    }
    check_access(cred, &inode.search_attrs()?, Access::EXEC)
}

/// The path of `location` as seen from `root` (`d_path`), or `None` if it is not
/// below `root` (another chroot's mount, a detached mount).
pub fn absolute_path(location: &Location, root: &Location) -> Option<Vec<u8>> {
    bounded_path(location, root, usize::MAX).unwrap_or_default()
}

/// `d_path` into a buffer of `PATH_MAX` bytes, as `/proc/<pid>/fd/N`, `/proc/<pid>/cwd`
/// and `getcwd` use it: `ENAMETOOLONG` when the path and its NUL do not fit, found
/// while walking up, so a path far deeper than that costs no more than `PATH_MAX` does.
pub fn absolute_path_max(location: &Location, root: &Location) -> Result<Option<Vec<u8>>> {
    bounded_path(location, root, PATH_MAX)
}

fn bounded_path(location: &Location, root: &Location, max: usize) -> Result<Option<Vec<u8>>> {
    let mut names: Vec<Arc<[u8]>> = Vec::new();
    // The NUL.
    let mut length = 1usize;
    let mut here = location.clone();
    while !here.same_as(root) {
        if here.is_mount_root() {
            match here.mount.mountpoint() {
                Some(point) => here = point,
                None => return Ok(None),
            }
            continue;
        }
        let Some(parent) = here.dentry.parent() else {
            return Ok(None);
        };
        let name = here.dentry.name();
        length = length.saturating_add(name.len() + 1);
        if length > max {
            return Err(Errno::ENAMETOOLONG);
        }
        names.push(name);
        here = Location {
            mount: here.mount,
            dentry: parent,
        };
    }
    if names.is_empty() {
        return Ok(Some(alloc::vec![b'/']));
    }
    let mut path = Vec::with_capacity(length);
    for name in names.iter().rev() {
        path.push(b'/');
        path.extend_from_slice(name);
    }
    Ok(Some(path))
}
