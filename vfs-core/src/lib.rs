//! vfs-core: the sandbox's virtual file system, portable and host-tested.
//!
//! Layers, bottom up (each module's first line says where it sits):
//! 0. [`errno`], [`time`], [`cred`], [`attr`]: plain data shared by everything; [`budget`]:
//!    the memory budget everything a container makes the kernel hold is charged to;
//! 1. [`inode`]: the [`FileSystem`]/[`Inode`] traits every filesystem implements
//!    (object-safe: `Arc<dyn FileSystem>`, `Arc<dyn Inode>`), and [`mapping`]: what a
//!    file whose pages mappings share offers (seals, writable-mapping counts), and
//!    [`page_cache`]: the cached pages of a file whose data lives elsewhere (9p), which
//!    shared mappings map and which are written back;
//! 2. filesystems: [`ramfs`], [`tmpfs`], [`overlay`], `p9` (and, in the kernel crate,
//!    proc, sys, dev);
//! 3. [`permission`], [`dentry`], [`mount`]: Linux's access rules, the cache of names,
//!    the mount tree;
//! 4. [`path`]: the walk;
//! 5. [`file`](mod@file) and [`vfs`]: open file descriptions and the syscall-shaped operations.
//!
//! How the kernel uses it:
//! ```
//! use std::sync::Arc;
//! use vfs_core::tmpfs::{TmpfsMemory, TmpfsOptions};
//! use vfs_core::*;
//!
//! let clock = Arc::new(ManualClock::new(Timespec::new(0, 0))); // the kernel passes its timer
//! // 1 GiB of RAM, 512 MiB of it for the container: the kernel passes guest RAM and its budget
//! let memory = TmpfsMemory { total: 1 << 30, budget: MemoryBudget::new(512 << 20) };
//! let root = vfs_core::tmpfs::new(&TmpfsOptions::parse("mode=755")?, &memory, 1, clock.clone())?;
//! let ns = MountNamespace::with_budget(root, "rootfs", MountFlags::empty(), clock.clone(), memory.budget.clone());
//! let ctx = FsContext::new(ns.clone(), Credentials::root()); // one per task: cwd, root, umask, ids
//! ctx.mkdir(At::Cwd, b"/tmp", 0o1777)?;
//! ctx.mount(At::Cwd, b"/tmp", vfs_core::tmpfs::new(&TmpfsOptions::default(), &memory, 2, clock)?, "tmpfs", MountFlags::NOSUID)?;
//! let file = ctx.open(At::Cwd, b"/tmp/x", OpenFlags::CREAT | OpenFlags::RDWR, 0o644)?;
//! file.write(b"hello")?;
//! assert_eq!(ctx.stat(At::Cwd, b"/tmp/x", true)?.size, 5);
//! assert!(String::from_utf8(ns.proc_mounts(&ctx.root).unwrap()).unwrap().contains("tmpfs /tmp tmpfs rw,nosuid,relatime 0 0"));
//! assert!(memory.budget.used() > 0); // the nodes, the name and the page are charged
//! # Ok::<(), Errno>(())
//! ```
//!
//! Lock orders are documented where the locks live: `dentry.rs` (the VFS layers),
//! `ramfs/mod.rs`, `overlay/mod.rs`, `p9/client.rs` (the 9p client), `file.rs`.
//!
//! # How a filesystem is laid out
//!
//! Every filesystem, here (ramfs, tmpfs, overlay, p9) and in the kernel crate (proc,
//! sysfs, devpts, dev, synthetic), is a directory module with the same file names for the
//! same roles:
//! - `mod.rs`: the filesystem type (its [`FileSystem`] impl, or, for one that is another's
//!   configuration — tmpfs and dev over ramfs, proc/sysfs/devpts over synthetic — just
//!   what it configures), its options, and its constructor `new`. A constructor that can
//!   fail returns `Result<_, Errno>` (`RamFs::new`, `tmpfs::new`, `OverlayFs::new`,
//!   `P9FileSystem::new`); one that cannot returns the filesystem (`proc::new`,
//!   `sysfs::new`, `devpts::new`, `SyntheticFs::new`). The module doc says the lock order
//!   when the filesystem takes more than one lock;
//! - `node.rs`: the [`Inode`] implementation;
//! - `dir.rs`: directory contents and their listing;
//! - `options.rs`: mount options, when they need more than a few lines;
//! - other files named for their one job (`pages.rs`, `rename.rs`, `copy_up.rs`,
//!   `client.rs`, `tree.rs`…), and `tests.rs` for unit tests kept out of line.
//!
//! What every filesystem does the same way is written once, in [`inode`]: names a
//! directory may hold ([`inode::check_name`]), recognising its own inodes or `EXDEV`
//! ([`inode::same_fs`], upcasting through `Any`, a supertrait of [`Inode`]), and the `.`
//! and `..` that start every directory listing ([`inode::readdir_dots`]).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod anon;
pub mod attr;
pub mod budget;
pub mod cred;
pub mod dentry;
pub mod errno;
pub mod file;
pub mod inode;
pub mod mapping;
pub mod mount;
pub mod overlay;
pub mod p9;
pub mod page_cache;
pub mod path;
pub mod permission;
pub mod ramfs;
pub mod time;
pub mod tmpfs;
pub mod vfs;

pub use attr::{DirEntry, FileType, RenameFlags, SetAttr, Stat, StatFs, TimeChange};
pub use budget::{Charge, ChargedBuffer, MemoryBudget, OverBudget};
pub use cred::{Credentials, cap};
pub use file::{DeviceFile, DeviceRegistry, OpenFile, OpenFlags, Whence};
pub use inode::{CachePolicy, FileSystem, Inode, NewNode, NodeKind};
pub use mount::{Location, Mount, MountFlags, MountNamespace};
pub use time::{Clock, ClockRef, ManualClock, Timespec};
pub use vfs::{At, FsContext};

pub use errno::{Errno, Result};

/// The size of a page: of memory the kernel maps (`arch`'s frames, a process's areas), of a
/// ramfs/tmpfs file's data blocks, and the block size `statfs` reports. The one definition in
/// the workspace.
///
/// Why here: vfs-core is the bottom crate every other one depends on (the kernel, `arch`,
/// `drivers`), portable and host-tested, and it needs the value itself (ramfs pages), while it
/// must not depend on `arch` (which is `unsafe` and machine-bound). So `arch` takes it from
/// here rather than the other way round. A `usize` because it sizes buffers; address
/// arithmetic in `u64` converts with `PAGE_SIZE as u64` (lossless on every target we build).
pub const PAGE_SIZE: usize = 4096;
