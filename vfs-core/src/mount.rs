//! Layer 3: the mount namespace, the tree of mounts that stitches filesystems into one
//! hierarchy, with per-mount flags and the `/proc/self/mounts` listing.
//!
//! Lock order: see the top of `dentry.rs`; the table lock is a leaf with respect to
//! filesystems (never held across a filesystem call).

use crate::attr::FileType;
use crate::budget::{Charge, ChargedBuffer, MemoryBudget, heap_cost};
use crate::dentry::Dentry;
use crate::errno::{Errno, Result};
use crate::file::DeviceRegistry;
use crate::inode::FileSystem;
use crate::time::ClockRef;
use alloc::format;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use bitflags::bitflags;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use hashbrown::HashMap;
use spin::{Mutex, RwLock};

bitflags! {
    /// Per-mount flags, with the `MS_*` values of `mount(2)` (and `ST_*` of `statfs`): the
    /// one set of mount flags, for the VFS, the container's mount plan and `mount(2)`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct MountFlags: u32 {
        const RDONLY = 1;
        const NOSUID = 2;
        const NODEV = 4;
        const NOEXEC = 8;
        const NOATIME = 1 << 10;
        const NODIRATIME = 1 << 11;
    }
}

impl MountFlags {
    /// The per-mount flags among `mount(2)`'s `MS_*` argument; the others (`MS_BIND`,
    /// `MS_REMOUNT`, `MS_REC`, …) say what to do, not what the mount is, and are dropped.
    pub fn from_ms(flags: u64) -> MountFlags {
        MountFlags::from_bits_truncate(flags as u32)
    }
}

/// `ro` or `rw`, then the others in Linux's `show_vfsmnt` order (`rw,nosuid,noexec`);
/// `/proc/self/mounts` adds `relatime` and the filesystem's options.
impl fmt::Display for MountFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.contains(MountFlags::RDONLY) {
            "ro"
        } else {
            "rw"
        })?;
        for (flag, name) in [
            (MountFlags::NOSUID, ",nosuid"),
            (MountFlags::NODEV, ",nodev"),
            (MountFlags::NOEXEC, ",noexec"),
            (MountFlags::NOATIME, ",noatime"),
            (MountFlags::NODIRATIME, ",nodiratime"),
        ] {
            if self.contains(flag) {
                f.write_str(name)?;
            }
        }
        Ok(())
    }
}

/// A place in the namespace: a dentry as seen through one mount (Linux's `struct path`).
/// The same dentry under two bind mounts is two locations with different flags.
#[derive(Clone)]
pub struct Location {
    pub mount: Arc<Mount>,
    pub dentry: Arc<Dentry>,
}

impl Location {
    pub fn same_as(&self, other: &Location) -> bool {
        Arc::ptr_eq(&self.mount, &other.mount) && Arc::ptr_eq(&self.dentry, &other.dentry)
    }

    pub fn is_mount_root(&self) -> bool {
        Arc::ptr_eq(&self.dentry, &self.mount.root)
    }

    /// `EXDEV` unless `other` is on the same mount: Linux refuses `link` and `rename`
    /// across mounts, even two of one filesystem. (Inside one mount the filesystem makes
    /// the same check on the inodes it is handed: [`crate::inode::same_fs`].)
    pub fn check_same_mount(&self, other: &Location) -> Result<()> {
        if Arc::ptr_eq(&self.mount, &other.mount) {
            Ok(())
        } else {
            Err(Errno::EXDEV)
        }
    }
}

/// One mount: a filesystem (or a subtree of one, for a bind mount) attached at a place.
pub struct Mount {
    id: u64,
    fs: Arc<dyn FileSystem>,
    root: Arc<Dentry>,
    /// Where it is attached; `None` for the namespace root and for detached mounts.
    mountpoint: Mutex<Option<Location>>,
    flags: AtomicU32,
    /// Linux's `MNT_LOCKED` with `MNT_LOCK_READONLY`/`NODEV`/`NOSUID`/`NOEXEC`/`ATIME`:
    /// set on the mounts the container's spec made read-only or masked, which nobody
    /// inside may unmount or loosen ([`MountNamespace::lock`]).
    locked: AtomicBool,
    source: String,
    clock: ClockRef,
    /// [`MOUNT_COST`] and its source's bytes, charged to the namespace's budget.
    _charge: Charge,
}

/// What a mount costs the budget besides its source's name: the mount, its place in the
/// table's list and map, and the entry `/proc/self/mounts` prints for it.
const MOUNT_COST: u64 = heap_cost(core::mem::size_of::<Mount>()) + 256;

/// Linux's default `fs.mount-max`: mounts one namespace may hold; one more is `ENOSPC`.
pub const MOUNT_MAX: usize = 100_000;

/// The flags a locked mount keeps: none may be cleared, and the atime ones not changed.
const LOCKABLE: MountFlags = MountFlags::RDONLY
    .union(MountFlags::NOSUID)
    .union(MountFlags::NODEV)
    .union(MountFlags::NOEXEC);
const ATIME_FLAGS: MountFlags = MountFlags::NOATIME.union(MountFlags::NODIRATIME);

impl Mount {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn fs(&self) -> &Arc<dyn FileSystem> {
        &self.fs
    }

    pub fn root(&self) -> &Arc<Dentry> {
        &self.root
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn flags(&self) -> MountFlags {
        MountFlags::from_bits_truncate(self.flags.load(Ordering::Acquire))
    }

    pub fn mountpoint(&self) -> Option<Location> {
        self.mountpoint.lock().clone()
    }

    /// Whether the mount is locked ([`MountNamespace::lock`]).
    pub fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Acquire)
    }

    pub fn clock(&self) -> &ClockRef {
        &self.clock
    }

    /// A mount in no namespace (Linux's `kern_mount`): the home of files with no name, such
    /// as pipes ([`crate::anon::AnonFs`]). Its id is 0, which no namespace hands out.
    pub fn detached(fs: Arc<dyn FileSystem>, source: &str, clock: ClockRef) -> Arc<Mount> {
        Self::detached_charged(fs, source, clock, MemoryBudget::unlimited())
    }

    /// [`Mount::detached`] whose names are charged to `budget` (a container makes as many
    /// of them as it likes: the kernel's unnamed tmpfs for `memfd_create`).
    pub fn detached_charged(
        fs: Arc<dyn FileSystem>,
        source: &str,
        clock: ClockRef,
        budget: Arc<MemoryBudget>,
    ) -> Arc<Mount> {
        let root = Dentry::new_root(fs.root(), fs.cache_policy(), &budget);
        Arc::new(Mount {
            id: 0,
            fs,
            root,
            mountpoint: Mutex::new(None),
            flags: AtomicU32::new(0),
            locked: AtomicBool::new(false),
            source: String::from(source),
            clock,
            _charge: budget.empty_charge(),
        })
    }

    /// `mnt_want_write`: `EROFS` on a read-only mount.
    pub fn check_writable(&self) -> Result<()> {
        if self.flags().contains(MountFlags::RDONLY) {
            Err(Errno::EROFS)
        } else {
            Ok(())
        }
    }
}

struct Table {
    /// In mount order, as `/proc/self/mounts` lists them.
    in_order: Vec<Arc<Mount>>,
    /// The topmost mount on (parent mount id, mount-point dentry address).
    on: HashMap<(u64, usize), Arc<Mount>>,
}

/// A mount namespace: what one container sees.
pub struct MountNamespace {
    root: Arc<Mount>,
    table: RwLock<Table>,
    next_id: AtomicU64,
    clock: ClockRef,
    devices: RwLock<Option<Arc<dyn DeviceRegistry>>>,
    pub(crate) rename_lock: Mutex<()>,
    /// Root dentry of each filesystem instance mounted here, by the instance's address.
    fs_roots: Mutex<HashMap<usize, Weak<Dentry>>>,
    /// What the names cached here are charged to.
    budget: Arc<MemoryBudget>,
}

fn dentry_key(mount: &Mount, dentry: &Arc<Dentry>) -> (u64, usize) {
    (mount.id, Arc::as_ptr(dentry) as usize)
}

impl MountNamespace {
    /// A namespace whose cached names cost nothing (tests, host tools).
    pub fn new(
        root_fs: Arc<dyn FileSystem>,
        source: &str,
        flags: MountFlags,
        clock: ClockRef,
    ) -> Arc<MountNamespace> {
        Self::with_budget(root_fs, source, flags, clock, MemoryBudget::unlimited())
    }

    /// A namespace whose cached names are charged to `budget`.
    pub fn with_budget(
        root_fs: Arc<dyn FileSystem>,
        source: &str,
        flags: MountFlags,
        clock: ClockRef,
        budget: Arc<MemoryBudget>,
    ) -> Arc<MountNamespace> {
        let root_dentry = Dentry::new_root(root_fs.root(), root_fs.cache_policy(), &budget);
        let mut fs_roots = HashMap::new();
        fs_roots.insert(
            Arc::as_ptr(&root_fs) as *const () as usize,
            Arc::downgrade(&root_dentry),
        );
        let root = Arc::new(Mount {
            id: 1,
            fs: root_fs,
            root: root_dentry,
            mountpoint: Mutex::new(None),
            flags: AtomicU32::new(flags.bits()),
            locked: AtomicBool::new(false),
            source: String::from(source),
            clock: clock.clone(),
            _charge: budget.charge_anyway(MOUNT_COST),
        });
        Arc::new(MountNamespace {
            table: RwLock::new(Table {
                in_order: alloc::vec![root.clone()],
                on: HashMap::new(),
            }),
            root,
            next_id: AtomicU64::new(2),
            clock,
            devices: RwLock::new(None),
            rename_lock: Mutex::new(()),
            fs_roots: Mutex::new(fs_roots),
            budget,
        })
    }

    /// What the names cached here are charged to.
    pub fn budget(&self) -> &Arc<MemoryBudget> {
        &self.budget
    }

    pub fn root(&self) -> Location {
        Location {
            mount: self.root.clone(),
            dentry: self.root.root.clone(),
        }
    }

    pub fn clock(&self) -> &ClockRef {
        &self.clock
    }

    /// The kernel's hook for device nodes: opening a char/block device or FIFO goes here.
    pub fn set_device_registry(&self, registry: Arc<dyn DeviceRegistry>) {
        *self.devices.write() = Some(registry);
    }

    pub fn device_registry(&self) -> Option<Arc<dyn DeviceRegistry>> {
        self.devices.read().clone()
    }

    /// The mount stacked on `location`, if any: where the walk continues downwards.
    pub fn mounted_on(&self, location: &Location) -> Option<Location> {
        if !location.dentry.is_mount_point() {
            return None;
        }
        let table = self.table.read();
        let mount = table
            .on
            .get(&dentry_key(&location.mount, &location.dentry))?;
        Some(Location {
            mount: mount.clone(),
            dentry: mount.root.clone(),
        })
    }

    /// Follows mounts stacked on `location` down to the topmost one.
    pub fn follow_mounts(&self, mut location: Location) -> Location {
        while let Some(next) = self.mounted_on(&location) {
            location = next;
        }
        location
    }

    /// Attaches `fs` at `at` (already resolved, mounts followed). A directory can only
    /// cover a directory and a file only a file (`ENOTDIR`/`EISDIR` otherwise).
    pub fn mount(
        &self,
        at: &Location,
        fs: Arc<dyn FileSystem>,
        source: &str,
        flags: MountFlags,
    ) -> Result<Arc<Mount>> {
        let root = self.root_dentry_of(&fs);
        self.attach(at, fs, root, source, flags)
    }

    /// The one dentry tree of a filesystem instance in this namespace, so that mounting
    /// the same instance twice shares names and cache (Linux's per-superblock tree).
    fn root_dentry_of(&self, fs: &Arc<dyn FileSystem>) -> Arc<Dentry> {
        let key = Arc::as_ptr(fs) as *const () as usize;
        let mut roots = self.fs_roots.lock();
        if let Some(root) = roots.get(&key).and_then(Weak::upgrade) {
            return root;
        }
        roots.retain(|_, root| root.strong_count() > 0);
        let root = Dentry::new_root(fs.root(), fs.cache_policy(), &self.budget);
        roots.insert(key, Arc::downgrade(&root));
        root
    }

    /// Drops every cached dentry nothing uses, in every mount (memory pressure).
    pub fn prune_dentries(&self) {
        for mount in self.mounts() {
            mount.root.prune();
        }
    }

    /// A bind mount: the subtree at `source` (any location) appears at `at` too.
    ///
    /// `EINVAL` when a locked mount sits on the source mount: a non-recursive bind would
    /// show what the locked mount covers (Linux's `has_locked_children`).
    pub fn bind(&self, at: &Location, source: &Location, flags: MountFlags) -> Result<Arc<Mount>> {
        if self.has_locked_below(&source.mount) {
            return Err(Errno::EINVAL);
        }
        let name = String::from(source.mount.source());
        self.attach(
            at,
            source.mount.fs.clone(),
            source.dentry.clone(),
            &name,
            flags,
        )
    }

    fn attach(
        &self,
        at: &Location,
        fs: Arc<dyn FileSystem>,
        root: Arc<Dentry>,
        source: &str,
        flags: MountFlags,
    ) -> Result<Arc<Mount>> {
        let target_type = at.dentry.positive()?.file_type();
        let root_type = root.positive()?.file_type();
        match (
            target_type == FileType::Directory,
            root_type == FileType::Directory,
        ) {
            (true, false) => return Err(Errno::ENOTDIR),
            (false, true) => return Err(Errno::ENOTDIR),
            _ => {}
        }
        if self.table.read().in_order.len() >= MOUNT_MAX {
            return Err(Errno::ENOSPC);
        }
        let charge = self.budget.charge(MOUNT_COST + heap_cost(source.len()))?;
        let mount = Arc::new(Mount {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            fs,
            root,
            mountpoint: Mutex::new(Some(at.clone())),
            flags: AtomicU32::new(flags.bits()),
            locked: AtomicBool::new(false),
            source: String::from(source),
            clock: self.clock.clone(),
            _charge: charge,
        });
        let mut table = self.table.write();
        let key = dentry_key(&at.mount, &at.dentry);
        if table.on.contains_key(&key) {
            // `at` must be the topmost location: the walk always follows mounts.
            return Err(Errno::EBUSY);
        }
        at.dentry.add_mount();
        table.on.insert(key, mount.clone());
        table.in_order.push(mount.clone());
        Ok(mount)
    }

    /// Detaches the mount whose root is `at`. `EINVAL` if `at` is not a mount root,
    /// `EBUSY` for the namespace root, a mount with mounts below it, or (unless `lazy`,
    /// `MNT_DETACH`) one still in use by open files or working directories.
    ///
    /// A locked mount ([`MountNamespace::lock`]) is `EINVAL`, as Linux answers for
    /// `MNT_LOCKED`; so is a lazy unmount of a mount with a locked mount anywhere below
    /// it (stricter than Linux, which detaches the locked mounts along with it: here the
    /// parent stays, so the locked mount can never be taken away with it).
    pub fn unmount(&self, at: Location, lazy: bool) -> Result<()> {
        if !at.is_mount_root() {
            return Err(Errno::EINVAL);
        }
        let mount = at.mount.clone();
        drop(at);
        if mount.is_locked() {
            return Err(Errno::EINVAL);
        }
        if Arc::ptr_eq(&mount, &self.root) {
            return Err(Errno::EBUSY);
        }
        if lazy && self.has_locked_below(&mount) {
            return Err(Errno::EINVAL);
        }
        let mut table = self.table.write();
        let has_children = table.in_order.iter().any(|other| {
            other
                .mountpoint
                .lock()
                .as_ref()
                .is_some_and(|point| Arc::ptr_eq(&point.mount, &mount))
        });
        if has_children && !lazy {
            return Err(Errno::EBUSY);
        }
        // References: the table's two, ours, and one per child mount's mountpoint
        // (counted above); anything more is an open file or a working directory.
        if !lazy && !has_children && Arc::strong_count(&mount) > 3 {
            return Err(Errno::EBUSY);
        }
        let point = mount.mountpoint.lock().take().ok_or(Errno::EINVAL)?;
        table.on.remove(&dentry_key(&point.mount, &point.dentry));
        table.in_order.retain(|other| !Arc::ptr_eq(other, &mount));
        point.dentry.remove_mount();
        if lazy {
            self.detach_below(&mut table, &mount);
        }
        drop(table);
        // Break the parent/child reference cycles of the names nothing uses any more.
        mount.root.prune();
        Ok(())
    }

    /// Detaches every mount below `top`, however deep the mount tree (a work list).
    fn detach_below(&self, table: &mut Table, top: &Arc<Mount>) {
        let mut parents = alloc::vec![top.clone()];
        while let Some(parent) = parents.pop() {
            let children: Vec<Arc<Mount>> = table
                .in_order
                .iter()
                .filter(|other| {
                    other
                        .mountpoint
                        .lock()
                        .as_ref()
                        .is_some_and(|point| Arc::ptr_eq(&point.mount, &parent))
                })
                .cloned()
                .collect();
            for child in children {
                if let Some(point) = child.mountpoint.lock().take() {
                    table.on.remove(&dentry_key(&point.mount, &point.dentry));
                    point.dentry.remove_mount();
                }
                table.in_order.retain(|other| !Arc::ptr_eq(other, &child));
                parents.push(child);
            }
        }
    }

    /// Locks `mount` as Linux locks the mounts a less privileged namespace inherits: it
    /// cannot be unmounted (`EINVAL`), its flags cannot be loosened by a remount
    /// (`EPERM`), and it cannot be uncovered by a bind of its parent mount (`EINVAL`).
    /// The kernel's own [`MountNamespace::set_flags`] is not bound by it.
    pub fn lock(&self, mount: &Mount) {
        mount.locked.store(true, Ordering::Release);
    }

    /// `mount(2)` with `MS_REMOUNT`: the mount's new flags. On a locked mount none of
    /// `ro`, `nosuid`, `nodev`, `noexec` may be cleared nor the atime flags changed
    /// (`EPERM`, Linux's `can_change_locked_flags`); adding a flag is allowed.
    pub fn remount(&self, mount: &Mount, flags: MountFlags) -> Result<()> {
        if mount.is_locked() {
            let old = mount.flags();
            let cleared = (old & LOCKABLE) - flags;
            if !cleared.is_empty() || (old & ATIME_FLAGS) != (flags & ATIME_FLAGS) {
                return Err(Errno::EPERM);
            }
        }
        self.set_flags(mount, flags);
        Ok(())
    }

    /// Linux's `mount_too_revealing` for a new instance of a filesystem that shows the
    /// whole system (proc, sysfs): allowed only if a mount of that type is already fully
    /// visible here — mounted at its filesystem's root, with no locked mount on it (a
    /// masked or read-only path of the spec would be uncovered in the new instance), and
    /// not locked read-only when `flags` ask for read-write. Otherwise the new mount would
    /// show what the spec hid: `EPERM` for the caller.
    pub fn mount_too_revealing(&self, fs_type: &str, flags: MountFlags) -> bool {
        let mounts = self.mounts();
        let visible = mounts.iter().any(|mount| {
            mount.fs.fs_type() == fs_type
                && mount.root.parent().is_none()
                && !(mount.is_locked()
                    && mount.flags().contains(MountFlags::RDONLY)
                    && !flags.contains(MountFlags::RDONLY))
                && !mounts.iter().any(|child| {
                    child.is_locked()
                        && child
                            .mountpoint
                            .lock()
                            .as_ref()
                            .is_some_and(|point| Arc::ptr_eq(&point.mount, mount))
                })
        });
        !visible
    }

    /// Whether any mount below `parent` (its children, their children…) is locked.
    fn has_locked_below(&self, parent: &Arc<Mount>) -> bool {
        let table = self.table.read();
        // Iterative: a container shapes the mount tree.
        let mut pending: Vec<Arc<Mount>> = alloc::vec![parent.clone()];
        while let Some(current) = pending.pop() {
            for other in &table.in_order {
                let is_child = other
                    .mountpoint
                    .lock()
                    .as_ref()
                    .is_some_and(|point| Arc::ptr_eq(&point.mount, &current));
                if is_child {
                    if other.is_locked() {
                        return true;
                    }
                    pending.push(other.clone());
                }
            }
        }
        false
    }

    /// Changes a mount's flags (`MS_REMOUNT|MS_BIND`): how the namespace builder makes a
    /// read-only parent writable while it creates mount points, then restores it.
    pub fn set_flags(&self, mount: &Mount, flags: MountFlags) {
        mount.flags.store(flags.bits(), Ordering::Release);
    }

    /// Runs `build` with `mount` writable and puts its flags back afterwards, whatever
    /// `build` returns: the namespace builder creates mount points in a read-only parent
    /// this way (DESIGN.md, mount rule 5).
    pub fn with_writable<R>(&self, mount: &Mount, build: impl FnOnce() -> R) -> R {
        let saved = mount.flags();
        self.set_flags(mount, saved - MountFlags::RDONLY);
        let result = build();
        self.set_flags(mount, saved);
        result
    }

    pub fn mounts(&self) -> Vec<Arc<Mount>> {
        self.table.read().in_order.clone()
    }

    /// The text of `/proc/self/mounts` as seen from `root` (the reader's root):
    /// `source target fstype options 0 0`, with Linux's octal escapes. Charged to the
    /// budget as it grows (`ENOMEM` when it refuses): a container decides how many
    /// mounts there are and how long their paths.
    pub fn proc_mounts(&self, root: &Location) -> Result<Vec<u8>> {
        self.mount_listing(root, |text, mount, path| {
            write_escaped(text, mount.source.as_bytes());
            text.push(b' ');
            write_escaped(text, path);
            text.push(b' ');
            write_escaped(text, mount.fs.fs_type().as_bytes());
            text.push(b' ');
            text.extend_from_slice(mount_options(mount).as_bytes());
            text.extend_from_slice(b" 0 0\n");
        })
    }

    /// The text of `/proc/<pid>/mountinfo` as seen from `root`, Linux's `show_mountinfo`:
    /// `ID PARENT MAJOR:MINOR ROOT POINT PER-MOUNT-OPTIONS - FSTYPE SOURCE SUPER-OPTIONS`,
    /// ROOT being the mount's root within its filesystem (`/`, or a bind mount's
    /// directory), no optional fields (every mount is private), and the superblock's
    /// options `rw` or `ro` (the mount's, as gVisor writes them: the sandbox's
    /// filesystems keep no read-only state of their own) and the filesystem's options.
    /// A mount with no mount point (the namespace's root) is its own parent, as Linux
    /// shows the root of a namespace. Charged as [`Self::proc_mounts`].
    pub fn proc_mountinfo(&self, root: &Location) -> Result<Vec<u8>> {
        self.mount_listing(root, |text, mount, path| {
            let parent = mount.mountpoint().map_or(mount.id, |point| point.mount.id);
            let dev = mount.fs.dev();
            let head = format!(
                "{} {parent} {}:{} ",
                mount.id,
                crate::attr::dev_major(dev),
                crate::attr::dev_minor(dev)
            );
            text.extend_from_slice(head.as_bytes());
            write_escaped(text, &root_in_filesystem(&mount.root));
            text.push(b' ');
            write_escaped(text, path);
            text.push(b' ');
            text.extend_from_slice(per_mount_options(mount).as_bytes());
            text.extend_from_slice(b" - ");
            write_escaped(text, mount.fs.fs_type().as_bytes());
            text.push(b' ');
            write_escaped(text, mount.source.as_bytes());
            text.push(b' ');
            let read_only = mount.flags().contains(MountFlags::RDONLY);
            text.extend_from_slice(if read_only { b"ro" } else { b"rw" });
            let fs_options = mount.fs.mount_options();
            if !fs_options.is_empty() {
                text.push(b',');
                text.extend_from_slice(fs_options.as_bytes());
            }
            text.push(b'\n');
        })
    }

    /// One line per mount visible from `root`, in mount order, each written by `line`
    /// (given the mount and its path from `root`) and added to a charged buffer.
    fn mount_listing(
        &self,
        root: &Location,
        mut line: impl FnMut(&mut Vec<u8>, &Arc<Mount>, &[u8]),
    ) -> Result<Vec<u8>> {
        let mut text = ChargedBuffer::new(&self.budget);
        let mut one = Vec::new();
        for mount in self.mounts() {
            let mount_root = Location {
                mount: mount.clone(),
                dentry: mount.root.clone(),
            };
            let Some(path) = crate::path::absolute_path(&mount_root, root) else {
                continue;
            };
            one.clear();
            line(&mut one, &mount, &path);
            text.extend(&one)?;
        }
        Ok(text.into_bytes())
    }
}

/// The path of `dentry` from its filesystem's root (`/` for the root itself): a mount's
/// root field in `mountinfo`. Walks parents, which a filesystem's tree bounds, not mounts.
fn root_in_filesystem(dentry: &Arc<Dentry>) -> Vec<u8> {
    let mut names: Vec<Arc<[u8]>> = Vec::new();
    let mut here = dentry.clone();
    while let Some(parent) = here.parent() {
        names.push(here.name());
        here = parent;
    }
    if names.is_empty() {
        return b"/".to_vec();
    }
    let mut path = Vec::new();
    for name in names.iter().rev() {
        path.push(b'/');
        path.extend_from_slice(name);
    }
    path
}

/// `rw,nosuid,nodev,noexec,relatime` in Linux's `show_vfsmnt` order: the mount's own flags.
fn per_mount_options(mount: &Mount) -> String {
    let flags = mount.flags();
    let mut options = format!("{flags}");
    if !flags.contains(MountFlags::NOATIME) {
        options.push_str(",relatime");
    }
    options
}

/// `rw,nosuid,nodev,noexec,relatime,<fs options>` in Linux's `show_vfsmnt` order.
fn mount_options(mount: &Mount) -> String {
    let mut options = per_mount_options(mount);
    let fs_options = mount.fs.mount_options();
    if !fs_options.is_empty() {
        options.push(',');
        options.push_str(&fs_options);
    }
    options
}

/// `mangle()` of fs/proc_namespace.c: space, tab, newline and backslash as octal.
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &byte in bytes {
        match byte {
            b' ' | b'\t' | b'\n' | b'\\' => out.extend_from_slice(&[
                b'\\',
                b'0' + (byte >> 6),
                b'0' + ((byte >> 3) & 7),
                b'0' + (byte & 7),
            ]),
            _ => out.push(byte),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn flags_display_in_show_vfsmnt_order() {
        assert_eq!(MountFlags::empty().to_string(), "rw");
        assert_eq!(
            (MountFlags::RDONLY | MountFlags::NOSUID).to_string(),
            "ro,nosuid"
        );
        assert_eq!(
            (MountFlags::NOATIME | MountFlags::NOEXEC | MountFlags::NOSUID).to_string(),
            "rw,nosuid,noexec,noatime"
        );
    }

    #[test]
    fn mount_2_flags_keep_the_per_mount_ones() {
        const MS_BIND: u64 = 4096;
        const MS_REMOUNT: u64 = 32;
        assert_eq!(
            MountFlags::from_ms(1 | 2 | 8 | 1024 | MS_BIND | MS_REMOUNT | (1 << 40)),
            MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NOEXEC | MountFlags::NOATIME
        );
    }
}
