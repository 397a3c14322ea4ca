//! Kernel filesystems: shmem, the kernel's unnamed tmpfs (Linux's `shm_mnt`), home of the
//! files nobody named: each `memfd_create` file, and the file behind each shared anonymous
//! mapping (`MAP_SHARED | MAP_ANONYMOUS`, which Linux backs with a shmem file called
//! `dev/zero`).
//!
//! Every tmpfs in this kernel is already Linux's shmem (vfs-core's ramfs keeps file data in
//! pages that mappings share, from the frame allocator the kernel's budget gives it; see
//! `vfs_core::mapping`), so a `/dev/shm` file, `shm_open`'s, works as it does on Linux with
//! nothing from here. What this adds is the unmounted instance and the names Linux shows
//! for its files: `/proc/<pid>/fd/N` and `/proc/<pid>/maps` read `/memfd:NAME (deleted)`
//! and `/dev/zero (deleted)`.
//!
//! Each file is made under a throwaway name in the instance's root and unlinked at once
//! (`st_nlink` 0, as Linux's); the name it shows lives in a dentry of its own that no
//! directory lists. Portable and host-tested; the kernel's one instance is [`instance`].

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use vfs_core::attr::fs_magic;
use vfs_core::dentry::Dentry;
use vfs_core::mapping::seal;
use vfs_core::ramfs::{RamFs, RamFsConfig, RamInode};
use vfs_core::{
    ClockRef, Errno, FileSystem, Location, MemoryBudget, Mount, NewNode, NodeKind, Result, SetAttr,
};

/// `memfd_create` flags, as `<linux/memfd.h>` numbers them.
pub mod memfd_flags {
    pub const CLOEXEC: u32 = 0x1;
    pub const ALLOW_SEALING: u32 = 0x2;
    pub const HUGETLB: u32 = 0x4;
    pub const NOEXEC_SEAL: u32 = 0x8;
    pub const EXEC: u32 = 0x10;
    pub const ALL: u32 = CLOEXEC | ALLOW_SEALING | HUGETLB | NOEXEC_SEAL | EXEC;
    /// A huge page size may be encoded in bits 26..32 with `MFD_HUGETLB`.
    pub const HUGE_SIZES: u32 = 0x3f << 26;
}

/// The longest `memfd_create` name (`NAME_MAX` less the `memfd:` prefix); longer is
/// `EINVAL`.
pub const MEMFD_NAME_MAX: usize = 249;

/// What a `memfd_create` call asks for, from its flags (checked in Linux's order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemfdPlan {
    pub close_on_exec: bool,
    /// The file's permission bits: 0777, or 0666 with `MFD_NOEXEC_SEAL`.
    pub perm: u32,
    /// Its seals to begin with.
    pub seals: u32,
}

impl MemfdPlan {
    /// `EINVAL` for unknown flags, or `MFD_EXEC` with `MFD_NOEXEC_SEAL`; `ENOSYS` for
    /// `MFD_HUGETLB`, as a Linux built without hugetlbfs answers (this kernel has no huge
    /// pages to give).
    pub fn from_flags(flags: u32) -> Result<MemfdPlan> {
        use memfd_flags::*;
        let allowed = if flags & HUGETLB == 0 {
            ALL
        } else {
            ALL | HUGE_SIZES
        };
        if flags & !allowed != 0 || (flags & EXEC != 0 && flags & NOEXEC_SEAL != 0) {
            return Err(Errno::EINVAL);
        }
        if flags & HUGETLB != 0 {
            return Err(Errno::ENOSYS);
        }
        let (perm, seals) = if flags & NOEXEC_SEAL != 0 {
            (0o666, seal::EXEC)
        } else if flags & ALLOW_SEALING != 0 {
            (0o777, 0)
        } else {
            (0o777, seal::SEAL)
        };
        Ok(MemfdPlan {
            close_on_exec: flags & CLOEXEC != 0,
            perm,
            seals,
        })
    }
}

/// The unnamed tmpfs instance.
pub struct ShmemFs {
    fs: Arc<RamFs>,
    mount: Arc<Mount>,
    next_name: AtomicU64,
}

impl ShmemFs {
    /// An instance whose files and names are charged to `budget` (the kernel's: then its
    /// pages are frames that mappings share); `dev` is its `st_dev`.
    pub fn new(budget: Arc<MemoryBudget>, dev: u64, clock: ClockRef) -> Result<ShmemFs> {
        let config = RamFsConfig {
            fs_type: "tmpfs",
            magic: fs_magic::TMPFS_MAGIC,
            root_mode: 0o1777,
            budget: budget.clone(),
            ..RamFsConfig::default()
        };
        let fs = RamFs::new(config, dev, clock.clone())?;
        let mount = Mount::detached_charged(fs.clone(), "shmem", clock, budget);
        Ok(ShmemFs {
            fs,
            mount,
            next_name: AtomicU64::new(0),
        })
    }

    /// A new empty regular file, in no directory, that shows as `/NAME (deleted)`.
    pub fn new_file(&self, name: &[u8], perm: u32, uid: u32, gid: u32) -> Result<Location> {
        let root = self.fs.root();
        let unique = format!("{}", self.next_name.fetch_add(1, Ordering::Relaxed));
        let inode = root.create(
            unique.as_bytes(),
            &NewNode {
                kind: NodeKind::Regular,
                perm,
                uid,
                gid,
            },
        )?;
        root.unlink(unique.as_bytes())?;
        let root_dentry = self.mount.root();
        // A dentry naming it, charged like any name, taken straight back out of the
        // root's cache: no lookup finds it, and another file may show the same name.
        let dentry: Arc<Dentry> = {
            let mut children = root_dentry.lock_children();
            let dentry = root_dentry.bind_locked(&mut children, name, Some(inode));
            children.remove(name);
            dentry
        };
        Ok(Location {
            mount: self.mount.clone(),
            dentry,
        })
    }

    /// `memfd_create(name, flags)`'s file, for a caller whose filesystem ids are
    /// `uid`/`gid`.
    pub fn memfd(&self, name: &[u8], plan: &MemfdPlan, uid: u32, gid: u32) -> Result<Location> {
        let mut shown = b"memfd:".to_vec();
        shown.extend_from_slice(name);
        let location = self.new_file(&shown, plan.perm, uid, gid)?;
        let any: Arc<dyn core::any::Any + Send + Sync> = location.dentry.positive()?.clone();
        if let Ok(node) = any.downcast::<RamInode>() {
            node.set_seals(plan.seals);
        }
        Ok(location)
    }

    /// The file behind a shared anonymous mapping of `len` bytes (`dev/zero`, mode 0777).
    pub fn anonymous(&self, len: u64, uid: u32, gid: u32) -> Result<Location> {
        let location = self.new_file(b"dev/zero", 0o777, uid, gid)?;
        location.dentry.positive()?.setattr(&SetAttr {
            size: Some(len),
            ..SetAttr::default()
        })?;
        Ok(location)
    }

    /// Whether `location` is one of this instance's files.
    pub fn contains(&self, location: &Location) -> bool {
        Arc::ptr_eq(&location.mount, &self.mount)
    }

    /// The name Linux shows for one of this instance's files: `/NAME (deleted)`.
    pub fn display_name(&self, location: &Location) -> Option<Vec<u8>> {
        if !self.contains(location) {
            return None;
        }
        let mut shown = b"/".to_vec();
        shown.extend_from_slice(&location.dentry.name());
        shown.extend_from_slice(b" (deleted)");
        Some(shown)
    }
}

/// The kernel's instance, made on first use (on the kernel's budget, whose pages are
/// frames).
#[cfg(target_os = "none")]
pub fn instance() -> Result<&'static ShmemFs> {
    static INSTANCE: spin::Once<ShmemFs> = spin::Once::new();
    if let Some(instance) = INSTANCE.get() {
        return Ok(instance);
    }
    let made = ShmemFs::new(
        crate::mm::budget::budget().clone(),
        super::anonymous_dev(),
        Arc::new(crate::clock::RealTimeClock),
    )?;
    Ok(INSTANCE.call_once(|| made))
}

/// `/proc/<pid>/fd` and `/proc/<pid>/maps` name of an unnamed shmem file, `None` for any
/// other location.
#[cfg(target_os = "none")]
pub fn display_name(location: &Location) -> Option<Vec<u8>> {
    instance().ok()?.display_name(location)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfs_core::{Credentials, ManualClock, OpenFile, OpenFlags, Timespec};

    fn shmem() -> ShmemFs {
        let clock: ClockRef = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
        ShmemFs::new(MemoryBudget::unlimited(), 7, clock).unwrap()
    }

    #[test]
    fn memfd_flags_follow_linux() {
        use memfd_flags::*;
        let plain = MemfdPlan::from_flags(0).unwrap();
        assert_eq!((plain.perm, plain.seals), (0o777, seal::SEAL));
        let sealing = MemfdPlan::from_flags(CLOEXEC | ALLOW_SEALING).unwrap();
        assert!(sealing.close_on_exec);
        assert_eq!(sealing.seals, 0);
        let noexec = MemfdPlan::from_flags(NOEXEC_SEAL).unwrap();
        assert_eq!((noexec.perm, noexec.seals), (0o666, seal::EXEC));
        assert_eq!(MemfdPlan::from_flags(0x20), Err(Errno::EINVAL));
        assert_eq!(
            MemfdPlan::from_flags(EXEC | NOEXEC_SEAL),
            Err(Errno::EINVAL)
        );
        // A huge page size without MFD_HUGETLB is an unknown flag.
        assert_eq!(MemfdPlan::from_flags(21 << 26), Err(Errno::EINVAL));
        assert_eq!(
            MemfdPlan::from_flags(HUGETLB | (21 << 26)),
            Err(Errno::ENOSYS)
        );
    }

    #[test]
    fn a_memfd_is_an_unlinked_tmpfs_file_named_as_linux_names_it() {
        let shmem = shmem();
        let plan = MemfdPlan::from_flags(memfd_flags::ALLOW_SEALING).unwrap();
        let location = shmem.memfd(b"my buffer", &plan, 1000, 100).unwrap();
        assert_eq!(
            shmem.display_name(&location).unwrap(),
            b"/memfd:my buffer (deleted)"
        );
        let file =
            OpenFile::anonymous(location, Credentials::root(), OpenFlags::RDWR, None).unwrap();
        let stat = file.stat().unwrap();
        assert_eq!(stat.nlink, 0);
        assert_eq!(stat.permission_bits(), 0o777);
        assert_eq!((stat.uid, stat.gid), (1000, 100));
        assert_eq!(file.inode().seals(), Ok(0));
        assert!(file.inode().shares_pages());
        file.write(b"data").unwrap();
        // Two memfds may share a name; each is its own file.
        let other = shmem.memfd(b"my buffer", &plan, 0, 0).unwrap();
        assert_eq!(other.dentry.positive().unwrap().getattr().unwrap().size, 0);
    }

    #[test]
    fn shared_anonymous_memory_is_a_dev_zero_file_of_the_mapping_size() {
        let shmem = shmem();
        let location = shmem.anonymous(3 * 4096, 0, 0).unwrap();
        assert_eq!(
            shmem.display_name(&location).unwrap(),
            b"/dev/zero (deleted)"
        );
        let inode = location.dentry.positive().unwrap();
        assert_eq!(inode.getattr().unwrap().size, 3 * 4096);
        assert!(inode.mapped_page(2, true).unwrap().is_some());
        assert_eq!(inode.mapped_page(3, true).err(), Some(Errno::ENXIO));
    }

    #[test]
    fn other_locations_are_not_ours() {
        let shmem = shmem();
        let elsewhere = self::shmem().new_file(b"x", 0o600, 0, 0).unwrap();
        assert!(!shmem.contains(&elsewhere));
        assert_eq!(shmem.display_name(&elsewhere), None);
    }
}
