//! A 9p mount: the `FileSystem` over one attached tree of a [`Client`].

use super::channel::Channel;
use super::client::Client;
use super::convert::statfs_from_stats;
use super::inode::P9Inode;
use super::message::getattr_mask;
use crate::attr::{FileType, StatFs};
use crate::errno::{Errno, Result};
use crate::inode::{CachePolicy, FileSystem, Inode};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;

/// How to attach a mount.
#[derive(Clone, Copy, Debug)]
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
}

impl Default for P9MountOptions<'_> {
    fn default() -> Self {
        P9MountOptions {
            aname: b"",
            uname: b"root",
            uid: 0,
            policy: CachePolicy::Exclusive,
        }
    }
}

/// What every inode of a mount shares.
pub(super) struct Mount {
    pub(super) client: Arc<Client>,
    pub(super) policy: CachePolicy,
    pub(super) dev: u64,
    /// Bumped by every link, unlink and rename (see `attr_cache`).
    pub(super) links: core::sync::atomic::AtomicU64,
}

pub struct P9FileSystem {
    mount: Arc<Mount>,
    root: Arc<P9Inode>,
}

impl P9FileSystem {
    /// Negotiates a connection over `channel` and attaches `options.aname`; every inode
    /// reports `dev` as its `st_dev`.
    pub fn mount(
        channel: Arc<dyn Channel>,
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
        let (fid, _) = client.attach(options.uname, options.aname, options.uid)?;
        let attr = fid.getattr(getattr_mask::ALL)?;
        let mount = Arc::new(Mount {
            client,
            policy: options.policy,
            dev,
            links: core::sync::atomic::AtomicU64::new(0),
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
        Ok(statfs_from_stats(&self.root.fid().statfs()?))
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
