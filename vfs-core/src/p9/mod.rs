//! Layer 2 (a filesystem): the 9P2000.L client and the 9p filesystem built on it, how the
//! sandbox reaches the container's root and bind mounts on the host.
//!
//! Bottom up, each module one job:
//! - `channel`: the transport trait (the kernel's virtio-9p driver, a test server);
//! - `wire`: integers, strings, data and lists on the wire, decoded without panics;
//! - `message`: every T- and R-message the filesystem uses, framed;
//! - `ids`: tag and fid numbers, reused;
//! - `client`: version/msize negotiation, tags, self-clunking fids, requests split to fit
//!   msize;
//! - `convert`: 9P attributes ⇄ the VFS's `Stat`, `SetAttr`, `StatFs`;
//! - `attr_cache`: cached attributes of an exclusive mount;
//! - `inode`, `fs`: the `Inode` and `FileSystem` implementations.
//!
//! The kernel makes a mount with [`P9FileSystem::mount`] from the device's [`Channel`].

mod attr_cache;
pub mod channel;
pub mod client;
mod convert;
mod fs;
mod ids;
mod inode;
pub mod message;
pub mod wire;

pub use channel::Channel;
pub use client::{Client, ClientStats, Fid};
pub use fs::{P9FileSystem, P9MountOptions};
pub use inode::P9Inode;
