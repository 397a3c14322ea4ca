//! Layer 2 (a filesystem): the 9P2000.L client and the 9p filesystem built on it, how the
//! sandbox reaches the container's root and bind mounts on the host.
//!
//! Bottom up, each module one job:
//! - `transport`: the transport trait (the kernel's virtio-9p driver, a test server);
//! - `wire`: integers, strings, data and lists on the wire, decoded without panics;
//! - `message`: every T- and R-message the filesystem uses, framed;
//! - `ids`: tag and fid numbers, reused;
//! - `client`: version/msize negotiation, self-clunking fids (also walked, asked and
//!   clunked in batches), requests split to fit msize;
//! - `queue`: tags, and requests outstanding together, their replies taken as they come
//!   (an interrupted one flushed);
//! - `counts`: requests sent by type and bytes read, over every client (a debug file);
//! - `convert`: 9P attributes ⇄ the VFS's `Stat`, `SetAttr`, `StatFs`;
//! - `attr_cache`: cached attributes of an exclusive mount;
//! - `listing`: an exclusive mount's directory listings, their entries' attributes
//!   fetched in batches once lookups show a scan, evicted least-recently-used under memory pressure;
//! - `pages`: a regular file's page cache (for `MAP_SHARED`), kept coherent with its
//!   reads, writes and truncations, and written back;
//! - `node`: the `Inode` implementation; this file: the `FileSystem` (a 9p mount: the
//!   `FileSystem` over one attached tree of a [`Client`]) and its constructor.
//!
//! The kernel makes a mount with [`P9FileSystem::new`] from the device's [`Transport`].
//! Lock order: at the top of `client.rs` (every lock of the client and filesystem is a
//! leaf).

mod attr_cache;
mod batch;
pub mod client;
mod convert;
pub mod counts;
mod ids;
mod listing;
pub mod message;
mod node;
mod packed;
mod pages;
mod queue;
pub mod transport;
pub mod wire;

pub use client::{AllClientsFids, ClientStats, Fid, all_clients_fids};
pub use listing::ENTRY_COST as LISTING_ENTRY_COST;
/// When an exclusive listing fetches its entries' attributes (see `listing.rs`).
pub mod listing_scan {
    pub use super::listing::{SCAN_RUN, scan_misses};
}
pub use node::P9Inode;
pub use transport::{Completion, Exchange, Ticket, Transport};

use crate::attr::{FileType, StatFs};
use crate::budget::MemoryBudget;
use crate::errno::{Errno, Result};
use crate::inode::{CachePolicy, FileSystem, Inode};
use crate::time::ClockRef;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
pub use client::Client;
use convert::statfs_from_stats;
use message::getattr_mask;

/// How to attach a mount.
#[derive(Clone, Copy)]
pub struct P9MountOptions<'a> {
    /// The tree to attach on the server (QEMU ignores it; empty is the export's root).
    pub aname: &'a [u8],
    /// The attaching user's name and number (`Tattach`'s uname and n_uname).
    pub uname: &'a [u8],
    pub uid: u32,
    /// `Exclusive` for gVisor's `--file-access=exclusive` (the sandbox owns the tree:
    /// attributes and, in the VFS, dentries are cached); `Revalidate` for `shared` (every
    /// lookup and getattr asks the server, so host changes show up).
    pub policy: CachePolicy,
    /// The budget the files' page caches (what `MAP_SHARED` mappings map, see
    /// [`crate::page_cache`]) charge and take their pages from: the kernel's, whose pages
    /// are frames it can map. `None`: a budget that never refuses, with heap pages (host
    /// tools and tests).
    pub page_budget: Option<&'a Arc<MemoryBudget>>,
    /// Shared mounts: bounds how long a batched answer to a directory read's `lstat`s
    /// stays good (see `batch.rs`). `None`: only the connection's traffic bounds it.
    pub clock: Option<&'a ClockRef>,
}

impl Default for P9MountOptions<'_> {
    fn default() -> Self {
        P9MountOptions {
            aname: b"",
            uname: b"root",
            uid: 0,
            policy: CachePolicy::Exclusive,
            page_budget: None,
            clock: None,
        }
    }
}

/// What every inode of a mount shares.
pub(crate) struct Mount {
    pub(crate) client: Arc<Client>,
    pub(crate) policy: CachePolicy,
    pub(crate) dev: u64,
    /// Bumped by every link, unlink and rename (see `attr_cache`).
    pub(crate) links: core::sync::atomic::AtomicU64,
    /// What the files' page caches and the directories' listings are charged to.
    pub(crate) page_budget: Arc<MemoryBudget>,
    /// Every directory listing, for eviction.
    pub(crate) listings: listing::Listings,
    /// See [`P9MountOptions::clock`].
    pub(crate) clock: Option<ClockRef>,
}

pub struct P9FileSystem {
    mount: Arc<Mount>,
    root: Arc<P9Inode>,
}

impl P9FileSystem {
    /// Negotiates a connection over `channel` and attaches `options.aname`; every inode
    /// reports `dev` as its `st_dev`.
    pub fn new(
        channel: Arc<dyn Transport>,
        options: &P9MountOptions<'_>,
        dev: u64,
    ) -> Result<Arc<P9FileSystem>> {
        Self::attach(Client::connect(channel)?, options, dev)
    }

    /// Attaches over an existing connection (several trees may share one channel).
    pub fn attach(
        client: Arc<Client>,
        options: &P9MountOptions<'_>,
        dev: u64,
    ) -> Result<Arc<P9FileSystem>> {
        if let Some(budget) = options.page_budget {
            client.charge_to(budget);
        }
        let (fid, _) = client.attach(options.uname, options.aname, options.uid)?;
        let attr = fid.getattr(getattr_mask::STAT)?;
        let mount = Arc::new(Mount {
            client,
            policy: options.policy,
            dev,
            links: core::sync::atomic::AtomicU64::new(0),
            page_budget: options
                .page_budget
                .cloned()
                .unwrap_or_else(MemoryBudget::unlimited),
            listings: listing::Listings::default(),
            clock: options.clock.cloned(),
        });
        let root = P9Inode::new(&mount, fid, &attr, true)?;
        if root.file_type() != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        Ok(Arc::new(P9FileSystem { mount, root }))
    }

    pub fn client(&self) -> &Arc<Client> {
        &self.mount.client
    }

    pub fn root_inode(&self) -> &Arc<P9Inode> {
        &self.root
    }
}

impl FileSystem for P9FileSystem {
    fn fs_type(&self) -> &str {
        "9p"
    }

    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }

    fn dev(&self) -> u64 {
        self.mount.dev
    }

    fn statfs(&self) -> Result<StatFs> {
        Ok(statfs_from_stats(&self.root.fid()?.statfs()?))
    }

    fn mount_options(&self) -> String {
        let access = match self.mount.policy {
            CachePolicy::Exclusive => "exclusive",
            CachePolicy::Revalidate => "shared",
        };
        format!(
            "version=9p2000.L,msize={},file_access={}",
            self.mount.client.msize(),
            access
        )
    }

    fn cache_policy(&self) -> CachePolicy {
        self.mount.policy
    }

    fn stamps_atime_itself(&self) -> bool {
        true
    }
}
