//! Layer 3: the dentry cache, names bound to inodes (or to nothing: negative entries),
//! forming the tree the path walk moves through and mounts attach to. Every cached name
//! is charged to the memory budget ([`DENTRY_COST`]); a lookup the budget refuses is
//! `ENOMEM`, and [`Dentry::prune`] gives back the names nothing uses.
//!
//! Lock order for the VFS layers (outermost first):
//! 1. `MountNamespace::rename_lock` (renames only, so two renames never lock the
//!    same two directories in opposite order);
//! 2. `MountNamespace::table` (mount table) — never held while calling a filesystem;
//! 3. `Dentry::children` of a directory; for a rename, the two parents in address order.
//!    It is held across the filesystem call that changes or fills the directory (Linux's
//!    `i_rwsem`), so a lookup miss cannot cache a stale negative entry over a create;
//! 4. `Dentry::parent` / `Dentry::name`, leaf locks held for a copy only;
//! 5. the filesystem's own locks (see `ramfs/mod.rs`).

use crate::attr::{FileType, NAME_MAX, Stat};
use crate::budget::{Charge, MemoryBudget, heap_cost};
use crate::errno::{Errno, Result};
use crate::inode::{CachePolicy, Inode};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use hashbrown::HashMap;
use spin::{Mutex, MutexGuard};

/// A cached name. Immutable in what it points to: creating over a negative entry or
/// removing a positive one replaces the dentry in its parent's map rather than mutating
/// it, so a dentry held by an open file keeps naming the inode it was opened with.
pub struct Dentry {
    inode: Option<Arc<dyn Inode>>,
    name: Mutex<Arc<[u8]>>,
    parent: Mutex<Option<Arc<Dentry>>>,
    children: Mutex<Children>,
    /// How many mounts sit on this dentry: a mount point cannot be removed (`EBUSY`).
    mounts: AtomicU32,
    /// Its name was removed or taken over (unlink, rmdir, rename onto it): Linux's
    /// `d_unlinked`, which makes `getcwd` fail.
    unlinked: AtomicBool,
    policy: CachePolicy,
    /// For a revalidating filesystem: the number of cached children at which the next
    /// walk through this directory sweeps out the unused ones ([`Dentry::lookup_child`]).
    sweep_at: AtomicUsize,
    /// [`dentry_cost`] of its name (a leaf lock, like `name`).
    charge: Mutex<Charge>,
}

/// What a cached name costs besides its bytes: the dentry, its slot in the parent's map,
/// and the filesystem's object for the name (an overlay or 9p inode lives as long as its
/// name is cached; ramfs charges its own nodes, so for tmpfs this errs high).
pub const DENTRY_COST: u64 = heap_cost(core::mem::size_of::<Dentry>()) + 64 + 384;

fn dentry_cost(name: &[u8]) -> u64 {
    DENTRY_COST + heap_cost(name.len())
}

/// A revalidating directory (proc, shared 9p) asks its filesystem on every walk, so an
/// unused cached child saves nothing but memory; names that come and go (`/proc/<pid>` of
/// every process that ever ran, files the host deleted) would pile up without a sweep.
/// An exclusive directory sweeps too, but only the names its filesystem can give back
/// without a round trip ([`crate::inode::Inode::forgettable`]), so a huge directory read
/// once costs its filesystem's compact cache rather than a dentry and an inode per name.
/// Sweeps run when the cached children reach this many, or twice what the last sweep
/// left, so their cost is spread over the lookups that grew the cache.
const SWEEP_MIN: usize = 64;

/// Most negative entries one directory keeps. A container probing random names (a
/// `PATH` search, a hostile loop) would otherwise grow kernel memory without bound;
/// past this the directory forgets its negative entries and they are learned again.
pub const MAX_NEGATIVE_PER_DIRECTORY: usize = 1024;

/// A directory's cached names, and how many of them are negative.
#[derive(Default)]
pub struct Children {
    map: HashMap<Arc<[u8]>, Arc<Dentry>>,
    negatives: usize,
}

impl Children {
    pub fn get(&self, name: &[u8]) -> Option<&Arc<Dentry>> {
        self.map.get(name)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn negative_count(&self) -> usize {
        self.negatives
    }

    fn insert(&mut self, name: Arc<[u8]>, dentry: Arc<Dentry>) -> Option<Arc<Dentry>> {
        if dentry.is_negative() {
            if self.negatives >= MAX_NEGATIVE_PER_DIRECTORY {
                self.map.retain(|_, child| !child.is_negative());
                self.negatives = 0;
            }
            self.negatives += 1;
        }
        let old = self.map.insert(name, dentry);
        self.forget(&old);
        old
    }

    /// Drops the entry for `name` (the leaving side of a rename).
    pub fn remove(&mut self, name: &[u8]) -> Option<Arc<Dentry>> {
        let old = self.map.remove(name);
        self.forget(&old);
        old
    }

    fn forget(&mut self, old: &Option<Arc<Dentry>>) {
        if old.as_ref().is_some_and(|old| old.is_negative()) {
            self.negatives -= 1;
        }
    }

    fn take_all(&mut self) -> Vec<Arc<Dentry>> {
        self.negatives = 0;
        self.map.drain().map(|(_, child)| child).collect()
    }
}

/// A directory's children, locked: the handle for changing a directory.
pub type ChildrenGuard<'a> = MutexGuard<'a, Children>;

impl Dentry {
    /// The root dentry of a filesystem (or of a bind mount's subtree, which reuses one);
    /// it and every name cached below it are charged to `budget`.
    pub fn new_root(
        inode: Arc<dyn Inode>,
        policy: CachePolicy,
        budget: &Arc<MemoryBudget>,
    ) -> Arc<Dentry> {
        Arc::new(Dentry {
            charge: Mutex::new(budget.charge_anyway(dentry_cost(b"/"))),
            inode: Some(inode),
            name: Mutex::new(Arc::from(&b"/"[..])),
            parent: Mutex::new(None),
            children: Mutex::new(Children::default()),
            mounts: AtomicU32::new(0),
            unlinked: AtomicBool::new(false),
            policy,
            sweep_at: AtomicUsize::new(SWEEP_MIN),
        })
    }

    fn new_child(
        parent: &Arc<Dentry>,
        name: Arc<[u8]>,
        inode: Option<Arc<dyn Inode>>,
        charge: Charge,
    ) -> Arc<Dentry> {
        Arc::new(Dentry {
            charge: Mutex::new(charge),
            inode,
            name: Mutex::new(name),
            parent: Mutex::new(Some(parent.clone())),
            children: Mutex::new(Children::default()),
            mounts: AtomicU32::new(0),
            unlinked: AtomicBool::new(false),
            policy: parent.policy,
            sweep_at: AtomicUsize::new(SWEEP_MIN),
        })
    }

    /// The budget its names are charged to.
    pub fn budget(&self) -> Arc<MemoryBudget> {
        self.charge.lock().budget().clone()
    }

    pub fn inode(&self) -> Option<&Arc<dyn Inode>> {
        self.inode.as_ref()
    }

    /// The inode, or `ENOENT` for a negative dentry.
    pub fn positive(&self) -> Result<&Arc<dyn Inode>> {
        self.inode.as_ref().ok_or(Errno::ENOENT)
    }

    pub fn is_negative(&self) -> bool {
        self.inode.is_none()
    }

    pub fn name(&self) -> Arc<[u8]> {
        self.name.lock().clone()
    }

    pub fn parent(&self) -> Option<Arc<Dentry>> {
        self.parent.lock().clone()
    }

    pub fn is_unlinked(&self) -> bool {
        self.unlinked.load(Ordering::Acquire)
    }

    pub fn is_mount_point(&self) -> bool {
        self.mounts.load(Ordering::Acquire) > 0
    }

    pub(crate) fn add_mount(&self) {
        self.mounts.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn remove_mount(&self) {
        self.mounts.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn lock_children(&self) -> ChildrenGuard<'_> {
        self.children.lock()
    }

    /// The child dentry for `name`, positive or negative, from the cache or the
    /// filesystem. Errors other than `ENOENT` (`EACCES` from a remote, `EIO`…) are
    /// returned and not cached.
    ///
    /// In a revalidating filesystem, a directory whose cache has grown sweeps out the
    /// children nobody uses (see [`SWEEP_MIN`]); in-use ones and mount points stay, so
    /// identity holds for everything that can observe it.
    ///
    /// A lookup the budget refuses first gives back every unused name of this tree
    /// ([`Dentry::prune`] from its top) and tries once more: cached names are the
    /// memory to reclaim before a walk fails (Linux's dcache shrinker), and a walk
    /// through a million names must not fail for the names it walked before.
    pub fn lookup_child(self: &Arc<Self>, name: &[u8]) -> Result<Arc<Dentry>> {
        match self.lookup_child_once(name) {
            Err(Errno::ENOMEM) => {
                let mut top = self.clone();
                while let Some(parent) = top.parent() {
                    top = parent;
                }
                top.prune();
                self.lookup_child_once(name)
            }
            result => result,
        }
    }

    fn lookup_child_once(self: &Arc<Self>, name: &[u8]) -> Result<Arc<Dentry>> {
        let (child, crowded) = {
            let mut children = self.children.lock();
            let child = self.lookup_locked(&mut children, name);
            let mut crowded = children.len() >= self.sweep_at.load(Ordering::Relaxed);
            if crowded && self.policy == CachePolicy::Exclusive {
                children.map.retain(|_, child| !child.forgettable());
                self.sweep_at
                    .store((2 * children.len()).max(SWEEP_MIN), Ordering::Relaxed);
                crowded = false;
            }
            (child, crowded)
        };
        if crowded {
            self.prune();
            let left = self.children.lock().len();
            self.sweep_at
                .store((2 * left).max(SWEEP_MIN), Ordering::Relaxed);
        }
        child
    }

    /// The attributes of child `name` when it has no cached dentry and an exclusive
    /// filesystem holds them at hand ([`Inode::peek_child_stat`]): a `stat` that leaves
    /// no dentry behind. `None` (look it up) for a cached name, a symlink to `follow`,
    /// or anything the filesystem would have to ask about. Under the children lock, as
    /// a lookup is, so a create cannot come between the look in the cache and the
    /// filesystem's answer. An uncached name is never a mount point (mounts pin theirs).
    pub fn peek_child_stat(&self, name: &[u8], follow: bool) -> Option<Stat> {
        if self.policy != CachePolicy::Exclusive || name.len() > NAME_MAX {
            return None;
        }
        let children = self.children.lock();
        if children.get(name).is_some() {
            return None;
        }
        let stat = self.inode.as_ref()?.peek_child_stat(name)?;
        drop(children);
        (!(follow && stat.file_type() == Some(FileType::Symlink))).then_some(stat)
    }

    /// `lookup_child` with this directory's children already locked by the caller.
    pub fn lookup_locked(
        self: &Arc<Self>,
        children: &mut ChildrenGuard<'_>,
        name: &[u8],
    ) -> Result<Arc<Dentry>> {
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let cached = children.get(name).cloned();
        if let Some(cached) = &cached
            && self.policy == CachePolicy::Exclusive
        {
            return Ok(cached.clone());
        }
        let dir = self.positive()?;
        let found = match dir.lookup(name) {
            Ok(inode) => Some(inode),
            Err(Errno::ENOENT) => None,
            Err(errno) => return Err(errno),
        };
        if let (Some(cached), Some(found)) = (&cached, &found)
            && cached
                .inode
                .as_ref()
                .is_some_and(|inode| inode.ino() == found.ino())
        {
            return Ok(cached.clone());
        }
        let charge = self.budget().charge(dentry_cost(name))?;
        Ok(self.bind_charged(children, name, found, charge))
    }

    /// Records what `name` now names (after a create, unlink or rename), replacing any
    /// cached dentry; the old one lives on for whoever still holds it. The new name is
    /// charged whatever the budget says: the change it records is already made (and the
    /// name it replaces, charged at lookup, is usually given back at once).
    pub fn bind_locked(
        self: &Arc<Self>,
        children: &mut ChildrenGuard<'_>,
        name: &[u8],
        inode: Option<Arc<dyn Inode>>,
    ) -> Arc<Dentry> {
        let charge = self.budget().charge_anyway(dentry_cost(name));
        self.bind_charged(children, name, inode, charge)
    }

    fn bind_charged(
        self: &Arc<Self>,
        children: &mut ChildrenGuard<'_>,
        name: &[u8],
        inode: Option<Arc<dyn Inode>>,
        charge: Charge,
    ) -> Arc<Dentry> {
        let name: Arc<[u8]> = Arc::from(name);
        let dentry = Dentry::new_child(self, name.clone(), inode, charge);
        if let Some(old) = children.insert(name.clone(), dentry.clone()) {
            old.detach_if_replaced(self, &name);
        }
        dentry
    }

    /// Puts an existing dentry under this directory as `name` (the arriving side of a
    /// rename), keeping its identity so open files and working directories follow it.
    pub fn attach_locked(
        self: &Arc<Self>,
        children: &mut ChildrenGuard<'_>,
        name: &[u8],
        dentry: Arc<Dentry>,
    ) {
        let name: Arc<[u8]> = Arc::from(name);
        *dentry.parent.lock() = Some(self.clone());
        let old_name = core::mem::replace(&mut *dentry.name.lock(), name.clone());
        // A rename can lengthen the name: the charge follows it (never refused, as above).
        let mut charge = dentry.charge.lock();
        charge.shrink(dentry_cost(&old_name));
        charge.grow_anyway(dentry_cost(&name));
        drop(charge);
        if let Some(old) = children.insert(name.clone(), dentry) {
            old.detach_if_replaced(self, &name);
        }
    }

    /// Called on the dentry a new one displaced from `parent`/`name`. If it still sits
    /// there (it was not itself moved, as in `RENAME_EXCHANGE`), its subtree is
    /// unreachable by name now: dropping its cached children breaks the parent/child
    /// reference cycles so the memory is freed.
    fn detach_if_replaced(&self, parent: &Arc<Dentry>, name: &[u8]) {
        let still_there =
            **self.name.lock() == *name && self.parent().is_some_and(|p| Arc::ptr_eq(&p, parent));
        if still_there {
            self.unlinked.store(true, Ordering::Release);
            // Every level below, with a work list: a cached child holds its parent, so
            // dropping only this level's names would leak the deeper ones.
            let mut below = self.children.lock().take_all();
            while let Some(dentry) = below.pop() {
                let children = dentry.children.lock().take_all();
                below.extend(children);
            }
        }
    }

    /// An exclusive directory's sweep (under its children's lock, so the caller's map
    /// reference is the only one): a positive name nothing else holds, with no mount on
    /// it, whose inode can be had again from its filesystem's cache without cost
    /// ([`Inode::forgettable`]; never a directory, so no cached children are lost).
    fn forgettable(self: &Arc<Self>) -> bool {
        Arc::strong_count(self) == 1
            && !self.is_mount_point()
            && self.inode.as_ref().is_some_and(|inode| inode.forgettable())
    }

    /// Whether `self` is `other` or lies below it, following parents within one tree.
    pub fn is_descendant_of(self: &Arc<Self>, other: &Arc<Dentry>) -> bool {
        let mut current = Some(self.clone());
        while let Some(dentry) = current {
            if Arc::ptr_eq(&dentry, other) {
                return true;
            }
            current = dentry.parent();
        }
        false
    }

    /// Forgets the cached names below this dentry that nothing uses: no open file,
    /// working directory, mount or cached descendant holds them (Linux's
    /// `shrink_dcache_parent`). Returns whether anything below had to stay.
    ///
    /// No recursion (a container shapes the tree; a 100,000-deep one must not overflow
    /// the kernel stack) and one pointer of memory per cached name: the names below are
    /// listed parents first, then taken back children first, each dropped from its
    /// parent if unused. One directory is locked at a time, so pruning never holds a
    /// parent's and a child's lock together, which rename could invert.
    pub fn prune(&self) -> bool {
        let mut below: Vec<Arc<Dentry>> = Vec::new();
        let mut to_list: Vec<Arc<Dentry>> = self.children.lock().map.values().cloned().collect();
        while let Some(dentry) = to_list.pop() {
            to_list.extend(dentry.children.lock().map.values().cloned());
            below.push(dentry);
        }
        drop(to_list);
        while let Some(dentry) = below.pop() {
            // Every descendant was listed after it and has been dealt with already.
            let unused = dentry.children.lock().is_empty() && !dentry.is_mount_point();
            let Some(parent) = dentry.parent().filter(|_| unused) else {
                continue;
            };
            let name = dentry.name();
            let mut siblings = parent.children.lock();
            // Only the map's reference and ours: no open file, working directory or
            // cached child holds it.
            if siblings
                .map
                .get(&name)
                .is_some_and(|cached| Arc::ptr_eq(cached, &dentry))
                && Arc::strong_count(&dentry) == 2
            {
                siblings.remove(&name);
            }
            drop(siblings);
            drop(parent);
            // `dentry` goes here, releasing only its pointer to `parent`.
        }
        !self.children.lock().is_empty()
    }

    pub fn cached_children(&self) -> usize {
        self.children.lock().len()
    }
}

/// Releasing a dentry can release its parent (a name displaced from its directory keeps
/// its parent alive alone), and that one its own parent, as deep as the tree: the chain
/// is unwound here with a work list instead of nested drops.
impl Drop for Dentry {
    fn drop(&mut self) {
        // Parents are followed one at a time beside the work list, so the usual drop (a
        // leaf whose parent lives on, as a crowded directory's sweep makes by the
        // thousand) allocates nothing.
        let mut release: Vec<Arc<Dentry>> = self.children.get_mut().take_all();
        let mut parent = self.parent.get_mut().take();
        while let Some(dentry) = parent.take().or_else(|| release.pop()) {
            if let Some(mut last) = Arc::into_inner(dentry) {
                release.extend(last.children.get_mut().take_all());
                parent = last.parent.get_mut().take();
                // `last` drops here with no parent and no children: no nesting.
            }
        }
    }
}
