//! Layer 2 (a filesystem): overlay, one writable upper filesystem over one or more
//! read-only lowers (any `FileSystem`), following Linux's overlayfs without
//! `redirect_dir`, `index` or `metacopy`: copy-up on modification, whiteouts (0/0 char
//! devices) for removed lower entries, `trusted.overlay.opaque` directories, merged
//! directory listings, and inode numbers that stay the same across copy-up
//! (`trusted.overlay.origin`). The lowers are only ever read.
//!
//! Lock order: `Shared::op_lock` (every change of the merged tree: copy-up, create,
//! remove, rename; one at a time, as overlay changes touch several directories) →
//! `OverlayInode::upper` / `OverlayInode::children` (held for a copy only) → the layers'
//! own locks. Lookups and reads do not take `op_lock`.

mod copy_up;
mod dir;
mod node;

pub use node::OverlayInode;

use crate::attr::{FileType, StatFs, fs_magic};
use crate::errno::{Errno, Result};
use crate::inode::{FileSystem, Inode};
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use hashbrown::HashMap;
use spin::Mutex;

/// Extended attribute marking an upper directory that hides everything below it.
pub const OPAQUE_XATTR: &[u8] = b"trusted.overlay.opaque";
/// Extended attribute holding a copied-up object's overlay inode number (8 bytes, LE).
pub const ORIGIN_XATTR: &[u8] = b"trusted.overlay.origin";

/// Bits of `st_ino` that carry the layer (Linux's `xino`): the upper is layer 0, lower
/// `i` is layer `i + 1`, so numbers from different layers never collide.
const LAYER_SHIFT: u32 = 56;

pub(crate) fn layer_ino(layer: usize, ino: u64) -> u64 {
    ((layer as u64) << LAYER_SHIFT) | (ino & ((1u64 << LAYER_SHIFT) - 1))
}

pub(crate) fn is_whiteout(inode: &dyn Inode) -> bool {
    inode.file_type() == FileType::CharDevice && inode.getattr().is_ok_and(|stat| stat.rdev == 0)
}

pub(crate) fn is_opaque(inode: &dyn Inode) -> bool {
    inode.file_type() == FileType::Directory
        && inode
            .get_xattr(OPAQUE_XATTR)
            .is_ok_and(|value| value == b"y")
}

pub(crate) struct Shared {
    dev: u64,
    upper: Arc<dyn FileSystem>,
    op_lock: Mutex<()>,
    /// Non-directories by their upper inode, so that hard links in the upper are one
    /// overlay object (Linux hashes overlay inodes by the upper inode): renaming one
    /// name onto another then does nothing, as on Linux. Lower-only hard links stay
    /// separate objects, as without `index=on`.
    by_upper: Mutex<HashMap<usize, Weak<OverlayInode>>>,
}

impl Shared {
    fn upper_key(upper: &Arc<dyn Inode>) -> usize {
        Arc::as_ptr(upper) as *const () as usize
    }

    pub(crate) fn find_by_upper(&self, upper: &Arc<dyn Inode>) -> Option<Arc<OverlayInode>> {
        self.by_upper
            .lock()
            .get(&Self::upper_key(upper))
            .and_then(Weak::upgrade)
    }

    pub(crate) fn register_upper(&self, upper: &Arc<dyn Inode>, inode: &Arc<OverlayInode>) {
        let mut by_upper = self.by_upper.lock();
        if by_upper.len() >= 64 && by_upper.len().is_power_of_two() {
            by_upper.retain(|_, inode| inode.strong_count() > 0);
        }
        by_upper.insert(Self::upper_key(upper), Arc::downgrade(inode));
    }
}

/// An overlay instance.
pub struct OverlayFs {
    shared: Arc<Shared>,
    root: Arc<OverlayInode>,
    lowers: Vec<Arc<dyn FileSystem>>,
    mount_options: String,
}

impl OverlayFs {
    /// `upper` must support extended attributes (ramfs and tmpfs do); `lowers` are listed
    /// topmost first, like `lowerdir=top:…:bottom`. `mount_options` is the text for
    /// `/proc/self/mounts` (`lowerdir=…,upperdir=…,workdir=…`), which only the caller knows.
    pub fn new(
        upper: Arc<dyn FileSystem>,
        lowers: Vec<Arc<dyn FileSystem>>,
        dev: u64,
        mount_options: String,
    ) -> Result<Arc<OverlayFs>> {
        if lowers.is_empty() {
            return Err(Errno::EINVAL);
        }
        let upper_root = upper.root();
        if let Err(Errno::EOPNOTSUPP) = upper_root.get_xattr(OPAQUE_XATTR) {
            return Err(Errno::EINVAL);
        }
        let shared = Arc::new(Shared {
            dev,
            upper,
            op_lock: Mutex::new(()),
            by_upper: Mutex::new(HashMap::new()),
        });
        let mut lower_roots = Vec::new();
        for (index, lower) in lowers.iter().enumerate() {
            let root = lower.root();
            let opaque = is_opaque(&*root);
            lower_roots.push((index + 1, root));
            if opaque {
                break;
            }
        }
        let root = OverlayInode::new_root(&shared, upper_root, lower_roots);
        Ok(Arc::new(OverlayFs {
            shared,
            root,
            lowers,
            mount_options,
        }))
    }

    pub fn lower_count(&self) -> usize {
        self.lowers.len()
    }
}

impl FileSystem for OverlayFs {
    fn fs_type(&self) -> &str {
        "overlay"
    }

    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }

    fn dev(&self) -> u64 {
        self.shared.dev
    }

    /// Space is the upper's, as on Linux.
    fn statfs(&self) -> Result<StatFs> {
        let mut stats = self.shared.upper.statfs()?;
        stats.fs_type = fs_magic::OVERLAYFS_SUPER_MAGIC;
        Ok(stats)
    }

    fn mount_options(&self) -> String {
        self.mount_options.clone()
    }
}
