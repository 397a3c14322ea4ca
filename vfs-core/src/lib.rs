//! vfs-core: the sandbox's virtual file system, portable and host-tested.
//!
//! Layers, bottom up (each module's first line says where it sits):
//! 0. `errno`, `time`, `cred`, `attr`: plain data shared by everything;
//! 1. `inode`: the `FileSystem`/`Inode` traits every filesystem implements;
//! 2. filesystems: `ramfs`, `tmpfs`, `overlay` (and, in the kernel crate, proc/sys/dev);
//! 3. `permission`, `dentry`, `mount`: the cache of names, the mount tree;
//! 4. `path`: the walk; 5. `file` and `vfs`: open files and the syscall-shaped operations.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod attr;
pub mod cred;
pub mod dentry;
pub mod errno;
pub mod file;
pub mod inode;
pub mod mount;
pub mod overlay;
pub mod p9;
pub mod path;
pub mod permission;
pub mod ramfs;
pub mod time;
pub mod tmpfs;
pub mod vfs;

pub use attr::{DirEntry, FileType, RenameFlags, SetAttr, Stat, StatFs, TimeChange};
pub use cred::Credentials;
pub use file::{DeviceFile, DeviceRegistry, OpenFile, OpenFlags, Whence};
pub use inode::{CachePolicy, FileSystem, Inode, NewNode, NodeKind};
pub use mount::{Location, Mount, MountFlags, MountNamespace};
pub use time::{Clock, ClockRef, ManualClock, Timespec};
pub use vfs::{At, FsContext};

pub use errno::{Errno, Result};
