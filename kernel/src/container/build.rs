//! The builder: applies a [`MountPlan`] to a new vfs-core mount namespace.
//!
//! Sits on top of the plan (pure) and vfs-core; the filesystems themselves come from a
//! [`FilesystemSource`], which the kernel backs with virtio-9p and its own filesystems and
//! the host tests back with tmpfs stand-ins. Rules carried out here (DESIGN "Mount
//! namespace" 5): every destination is made with `mkdir -p` that follows symlinks *inside*
//! the container root; where a read-only filesystem cannot hold a mount point, a synthetic
//! in-memory directory is laid over the parent (an overlay with a memory upper layer, as
//! gVisor's "submount overlay"); read-only mounts are made writable while mount points are
//! created under them and made read-only once everything is mounted; a file bind mount
//! gets an empty regular file as its mount point.

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use vfs_core::file::OpenFlags;
use vfs_core::{
    At, ClockRef, Credentials, Errno, FileSystem, FileType, FsContext, Inode, Location,
    MemoryBudget, MountFlags, MountNamespace,
};

use super::channel::Channel;
use super::options::FileAccess;
use super::plan::{Condition, MountKind, MountPlan, PlannedMount};
use crate::fs::devpts::DevptsOptions;
use vfs_core::tmpfs::TmpfsOptions;

/// Where the builder gets each filesystem it mounts.
pub trait FilesystemSource {
    /// The share on 9p `channel`, with the mount's cache policy.
    fn nine_p(
        &self,
        channel: Channel,
        file_access: FileAccess,
    ) -> Result<Arc<dyn FileSystem>, Errno>;
    fn tmpfs(&self, options: &TmpfsOptions) -> Result<Arc<dyn FileSystem>, Errno>;
    /// A memory upper layer over `lower` (which is never written).
    fn overlay(&self, lower: Arc<dyn FileSystem>) -> Result<Arc<dyn FileSystem>, Errno>;
    fn proc(&self) -> Result<Arc<dyn FileSystem>, Errno>;
    fn sysfs(&self) -> Result<Arc<dyn FileSystem>, Errno>;
    fn devpts(&self, options: &DevptsOptions) -> Result<Arc<dyn FileSystem>, Errno>;
    /// A tmpfs holding the standard device nodes.
    fn dev(&self, options: &TmpfsOptions) -> Result<Arc<dyn FileSystem>, Errno>;
    fn clock(&self) -> ClockRef;
    /// What the namespace's cached names are charged to (by default nothing refuses).
    fn budget(&self) -> Arc<MemoryBudget> {
        MemoryBudget::unlimited()
    }
}

/// A mount that could not be made: the destination, the spec field it came from, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    pub destination: String,
    pub field: Option<String>,
    pub errno: Errno,
    pub what: &'static str,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: ")?,
            None => f.write_str("mandatory mount: ")?,
        }
        write!(f, "{} {}: {:?}", self.what, self.destination, self.errno)
    }
}

/// A filesystem whose root is a directory inside another filesystem: the lower layer of a
/// synthetic mount-point overlay laid over that directory.
struct Subtree {
    fs: Arc<dyn FileSystem>,
    root: Arc<dyn Inode>,
}

impl FileSystem for Subtree {
    fn fs_type(&self) -> &str {
        self.fs.fs_type()
    }
    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }
    fn dev(&self) -> u64 {
        self.fs.dev()
    }
    fn statfs(&self) -> vfs_core::Result<vfs_core::StatFs> {
        self.fs.statfs()
    }
    fn cache_policy(&self) -> vfs_core::CachePolicy {
        self.fs.cache_policy()
    }
}

struct Builder<'a> {
    source: &'a dyn FilesystemSource,
    ns: Arc<MountNamespace>,
    context: FsContext,
    /// Mounts to make read-only once everything is mounted, with their final flags.
    /// Each mount's final flags, and whether to lock it.
    finish_flags: Vec<(Arc<vfs_core::Mount>, MountFlags, bool)>,
}

/// Builds the namespace the plan describes.
pub fn build(
    plan: &MountPlan,
    source: &dyn FilesystemSource,
) -> Result<Arc<MountNamespace>, BuildError> {
    let root_error = |errno, what| BuildError {
        destination: "/".to_string(),
        field: Some("root".to_string()),
        errno,
        what,
    };
    let lower = source
        .nine_p(plan.root.channel, plan.root.file_access)
        .map_err(|e| root_error(e, "cannot attach the root share for"))?;
    // A read-only root that lacks a top-level mount point cannot hold it, and nothing can
    // be stacked on the namespace root itself: such a root gets a memory upper layer for
    // its synthetic mount points, and stays read-only to the container.
    let synthetic_root =
        plan.root.readonly && !plan.root.overlay && misses_a_mount_point(&*lower, plan);
    let (root_fs, root_source): (Arc<dyn FileSystem>, String) = if plan.root.overlay {
        (
            source
                .overlay(lower)
                .map_err(|e| root_error(e, "cannot lay the memory overlay over"))?,
            "overlay".to_string(),
        )
    } else if synthetic_root {
        let overlay = source
            .overlay(lower)
            .map_err(|e| root_error(e, "cannot lay synthetic mount points over"))?;
        (overlay, plan.root.channel.tag())
    } else {
        (lower, plan.root.channel.tag())
    };
    let root_flags = if plan.root.readonly {
        MountFlags::RDONLY
    } else {
        MountFlags::empty()
    };
    let ns = MountNamespace::with_budget(
        root_fs,
        &root_source,
        MountFlags::empty(),
        source.clock(),
        source.budget(),
    );
    let context = FsContext::new(ns.clone(), Credentials::root());
    let mut builder = Builder {
        source,
        ns: ns.clone(),
        context,
        finish_flags: Vec::new(),
    };
    let root_mount = ns.root().mount.clone();
    builder
        .finish_flags
        .push((root_mount, root_flags, plan.root.readonly));
    for planned in &plan.mounts {
        let started = source.clock().now();
        builder.apply(planned)?;
        let took = source.clock().now();
        let micros = (took.sec - started.sec) * 1_000_000
            + (i64::from(took.nsec) - i64::from(started.nsec)) / 1000;
        log::debug!(target: "namespace", "{} took {micros} us", planned.destination);
    }
    // The spec's read-only and masked mounts are locked, as Linux locks the mounts a
    // less privileged namespace inherits: not even CAP_SYS_ADMIN inside can unmount them
    // or make them writable.
    for (mount, flags, lock) in &builder.finish_flags {
        ns.set_flags(mount, *flags);
        if *lock {
            ns.lock(mount);
        }
    }
    Ok(ns)
}

/// Whether some mount's first path component is missing from `root` (symlinks there are
/// followed by the builder later, so only a plain absence counts).
fn misses_a_mount_point(root: &dyn FileSystem, plan: &MountPlan) -> bool {
    let root_inode = root.root();
    plan.mounts
        .iter()
        .filter(|m| m.condition != Condition::IfExists)
        .any(|mount| {
            components(&mount.destination).next().is_some_and(|first| {
                matches!(root_inode.lookup(first.as_bytes()), Err(Errno::ENOENT))
            })
        })
}

impl Builder<'_> {
    fn error(&self, planned: &PlannedMount, errno: Errno, what: &'static str) -> BuildError {
        BuildError {
            destination: planned.destination.clone(),
            field: planned.origin.field(),
            errno,
            what,
        }
    }

    fn resolve(&self, path: &str) -> Result<Location, Errno> {
        self.context.resolve(At::Cwd, path.as_bytes(), true)
    }

    fn apply(&mut self, planned: &PlannedMount) -> Result<(), BuildError> {
        let existing = self.resolve(&planned.destination);
        match planned.condition {
            Condition::Always => {}
            Condition::IfExists if existing.is_err() => return Ok(()),
            Condition::IfExists => {}
            Condition::IfImageDirMissingOrEmpty => {
                if let Ok(location) = &existing
                    && !self.is_empty_directory(location)
                {
                    return Ok(());
                }
            }
        }
        let (filesystem, source_name) = match self.filesystem_for(planned, existing.as_ref().ok()) {
            Ok(Some(pair)) => pair,
            Ok(None) => return Ok(()),
            Err(errno) => return Err(self.error(planned, errno, "cannot make the filesystem for")),
        };
        let wants_file = match &filesystem {
            Mountable::Fresh(fs) => fs.root().file_type() != FileType::Directory,
            Mountable::Bind(location) => location
                .dentry
                .positive()
                .is_ok_and(|i| i.file_type() != FileType::Directory),
        };
        let at = self
            .mount_point(&planned.destination, wants_file)
            .map_err(|errno| self.error(planned, errno, "cannot make the mount point"))?;
        let final_flags = planned.flags;
        // Mounted writable; read-only ones are switched over at the end, so mount points for
        // later mounts can still be made inside them.
        let building_flags = final_flags - MountFlags::RDONLY;
        let mount = match filesystem {
            Mountable::Fresh(fs) => self.ns.mount(&at, fs, &source_name, building_flags),
            Mountable::Bind(location) => self.ns.bind(&at, &location, building_flags),
        }
        .map_err(|errno| self.error(planned, errno, "cannot mount at"))?;
        let lock = final_flags.contains(MountFlags::RDONLY)
            || matches!(planned.kind, crate::container::plan::MountKind::Mask);
        self.finish_flags.push((mount, final_flags, lock));
        Ok(())
    }

    fn is_empty_directory(&self, location: &Location) -> bool {
        let Ok(inode) = location.dentry.positive() else {
            return true;
        };
        if inode.file_type() != FileType::Directory {
            return false;
        }
        let mut empty = true;
        let _ = inode.readdir(0, &mut |entry| {
            if entry.name != b"." && entry.name != b".." {
                empty = false;
                return false;
            }
            true
        });
        empty
    }

    /// What to mount, and the source name `/proc/self/mounts` shows. `None`: nothing to do.
    fn filesystem_for(
        &self,
        planned: &PlannedMount,
        existing: Option<&Location>,
    ) -> Result<Option<(Mountable, String)>, Errno> {
        let fresh = |fs: Arc<dyn FileSystem>, name: &str| {
            Ok(Some((Mountable::Fresh(fs), name.to_string())))
        };
        match &planned.kind {
            MountKind::Bind(bind) => {
                let share = self.source.nine_p(bind.channel, bind.file_access)?;
                let tag = bind.channel.tag();
                if let Some(file) = &bind.file {
                    // The share is the file's directory; the mount is the file in it.
                    let staging =
                        MountNamespace::new(share, &tag, MountFlags::empty(), self.source.clock());
                    let staging_context = FsContext::new(staging.clone(), Credentials::root());
                    let location = staging_context.resolve(At::Cwd, file.as_bytes(), false)?;
                    return Ok(Some((Mountable::Bind(location), tag)));
                }
                let share = if bind.overlay {
                    self.source.overlay(share)?
                } else {
                    share
                };
                fresh(share, &tag)
            }
            MountKind::Tmpfs(options) => fresh(self.source.tmpfs(options)?, "tmpfs"),
            MountKind::Proc => fresh(self.source.proc()?, "proc"),
            MountKind::Sysfs => fresh(self.source.sysfs()?, "sysfs"),
            MountKind::Devpts(options) => fresh(self.source.devpts(options)?, "devpts"),
            MountKind::Dev(options) => fresh(self.source.dev(options)?, "dev"),
            MountKind::ReadonlyRebind => match existing {
                Some(location) => Ok(Some((Mountable::Bind(location.clone()), String::new()))),
                None => Ok(None),
            },
            MountKind::Mask => {
                let Some(location) = existing else {
                    return Ok(None);
                };
                if location.dentry.positive()?.file_type() == FileType::Directory {
                    // runc's: no options, so the default size.
                    fresh(self.source.tmpfs(&TmpfsOptions::default())?, "tmpfs")
                } else {
                    let null = self.resolve("/dev/null")?;
                    Ok(Some((Mountable::Bind(null), String::new())))
                }
            }
        }
    }

    /// The location to mount on, made if missing: `mkdir -p` (or an empty file last, for a
    /// file mount) that follows symlinks, dangling ones included, without ever leaving the
    /// root: absolute targets restart at the root and `..` stops there.
    fn mount_point(&mut self, destination: &str, file: bool) -> Result<Location, Errno> {
        const MAX_SYMLINKS: usize = 40;
        let mut pending: VecDeque<String> = components(destination).collect();
        let mut current = String::from("/");
        let mut links = 0;
        while let Some(component) = pending.pop_front() {
            match component.as_str() {
                "." => continue,
                ".." => {
                    current = parent_of(&current).to_string();
                    continue;
                }
                _ => {}
            }
            let candidate = join(&current, &component);
            let last = pending.is_empty();
            match self.context.resolve(At::Cwd, candidate.as_bytes(), false) {
                Ok(location) => match location.dentry.positive()?.file_type() {
                    FileType::Symlink => {
                        links += 1;
                        if links > MAX_SYMLINKS {
                            return Err(Errno::ELOOP);
                        }
                        let target = location.dentry.positive()?.readlink()?;
                        let target = String::from_utf8(target).map_err(|_| Errno::EINVAL)?;
                        if target.starts_with('/') {
                            current = String::from("/");
                        }
                        for (index, part) in components(&target).enumerate() {
                            pending.insert(index, part);
                        }
                    }
                    FileType::Directory => current = candidate,
                    _ if last => current = candidate,
                    _ => return Err(Errno::ENOTDIR),
                },
                Err(Errno::ENOENT) => {
                    self.create(&candidate, last && file)?;
                    current = candidate;
                }
                Err(other) => return Err(other),
            }
        }
        self.resolve(&current)
    }

    /// Creates `path` (its parent exists), working around read-only parents.
    fn create(&mut self, path: &str, file: bool) -> Result<(), Errno> {
        let make = |context: &FsContext| -> Result<(), Errno> {
            if file {
                context
                    .open(
                        At::Cwd,
                        path.as_bytes(),
                        OpenFlags::CREAT | OpenFlags::WRONLY,
                        0o644,
                    )
                    .map(|_| ())
            } else {
                context.mkdir(At::Cwd, path.as_bytes(), 0o755)
            }
        };
        match make(&self.context) {
            Err(Errno::EROFS) => {
                self.lay_synthetic_overlay(parent_of(path))?;
                make(&self.context)
            }
            other => other,
        }
    }

    /// Covers the directory `parent` with an overlay whose memory upper layer can hold new
    /// mount points, while its lower layer (the read-only directory) still shows through.
    fn lay_synthetic_overlay(&mut self, parent: &str) -> Result<(), Errno> {
        let at = self.resolve(parent)?;
        let lower = Arc::new(Subtree {
            fs: at.mount.fs().clone(),
            root: at.dentry.positive()?.clone(),
        });
        let overlay = self.source.overlay(lower)?;
        let flags = at.mount.flags() - MountFlags::RDONLY;
        let final_flags = at.mount.flags() | MountFlags::RDONLY;
        let mount = self.ns.mount(&at, overlay, "none", flags)?;
        self.finish_flags.push((mount, final_flags, true));
        Ok(())
    }
}

enum Mountable {
    Fresh(Arc<dyn FileSystem>),
    Bind(Location),
}

fn components(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/').filter(|c| !c.is_empty()).map(String::from)
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        alloc::format!("/{name}")
    } else {
        alloc::format!("{dir}/{name}")
    }
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(index) => &path[..index],
    }
}

/// Used by tests and the boot log: the table in `/proc/self/mounts` format.
pub fn mounts_text(ns: &MountNamespace) -> String {
    String::from_utf8_lossy(&ns.proc_mounts(&ns.root()).unwrap_or_default()).into_owned()
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
