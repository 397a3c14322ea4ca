//! Files with no name (Linux's pipefs): a ramfs instance mounted nowhere, in which each new
//! object is made under a throwaway name and unlinked at once. What stays is an inode with
//! a unique number and a type (`fstat` of a pipe shows `S_IFIFO`), reachable only through
//! the open files made on it ([`crate::OpenFile::anonymous`]); it goes when they close.

use crate::dentry::Dentry;
use crate::errno::Result;
use crate::inode::{FileSystem, Inode, NewNode};
use crate::mount::{Location, Mount};
use crate::ramfs::RamFs;
use crate::time::ClockRef;
use alloc::format;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

pub struct AnonFs {
    fs: Arc<RamFs>,
    mount: Arc<Mount>,
    next_name: AtomicU64,
}

impl AnonFs {
    /// `source` names it (`pipefs`); `dev` is its `st_dev`.
    pub fn new(source: &str, dev: u64, clock: ClockRef) -> AnonFs {
        let fs = RamFs::new_default(dev, clock.clone());
        let mount = Mount::detached(fs.clone(), source, clock);
        AnonFs {
            fs,
            mount,
            next_name: AtomicU64::new(0),
        }
    }

    /// A new nameless object, as a location to open (`OpenFile::anonymous`).
    pub fn new_location(&self, node: &NewNode<'_>) -> Result<Location> {
        let root = self.fs.root();
        let name = format!("{}", self.next_name.fetch_add(1, Ordering::Relaxed));
        let inode: Arc<dyn Inode> = root.create(name.as_bytes(), node)?;
        root.unlink(name.as_bytes())?;
        Ok(Location {
            mount: self.mount.clone(),
            dentry: Dentry::new_root(inode, self.fs.cache_policy(), &self.mount.root().budget()),
        })
    }

    /// Whether `location` is one of this filesystem's objects (`/proc/self/fd` shows those
    /// as `pipe:[ino]`, not as a path).
    pub fn contains(&self, location: &Location) -> bool {
        Arc::ptr_eq(&location.mount, &self.mount)
    }
}
