//! A `Transport` to Google's `p9` server running in-process over a temp directory, which
//! also keeps the books the tests check: which fids the server holds (to prove the client
//! leaks none) and which host path each fid names.
//!
//! The p9 crate refuses `Tsymlink` and `Tmknod` by design (`EACCES`); with `emulate_nodes`
//! the harness performs those two on the host itself, at the path it tracked for the
//! directory fid, and answers like a server would, so the client's side of both messages
//! is exercised end to end. Without it, the server's refusal is what the client sees.

#![allow(dead_code)]

pub mod queued;

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::io::Cursor;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use vfs_core::budget::MemoryBudget;
use vfs_core::errno::{Errno, Result};
use vfs_core::inode::{CachePolicy, FileSystem};
use vfs_core::p9::message::{Qid, Reply, Request};
use vfs_core::p9::{P9FileSystem, P9MountOptions, Transport};

pub struct ServerChannel {
    server: Mutex<p9::Server>,
    max_message_size: u32,
    emulate_nodes: bool,
    /// Answer ownership changes with `EPERM`, as a server running unprivileged does.
    refuse_chown: std::sync::atomic::AtomicBool,
    books: Mutex<Books>,
}

#[derive(Default)]
struct Books {
    live_fids: HashSet<u32>,
    paths: HashMap<u32, PathBuf>,
    root: PathBuf,
    requests_by_type: HashMap<u8, u64>,
    /// Every `Tgetattr` request mask seen, or'ed together.
    getattr_masks: u64,
}

impl ServerChannel {
    pub fn new(root: &Path, max_message_size: u32, emulate_nodes: bool) -> Arc<ServerChannel> {
        let server =
            p9::Server::new(root, Default::default(), Default::default()).expect("p9 server");
        Arc::new(ServerChannel {
            server: Mutex::new(server),
            max_message_size,
            emulate_nodes,
            refuse_chown: Default::default(),
            books: Mutex::new(Books {
                root: root.to_path_buf(),
                ..Books::default()
            }),
        })
    }

    /// Fids the server holds right now.
    pub fn live_fids(&self) -> usize {
        self.books.lock().unwrap().live_fids.len()
    }

    /// How many requests of a type code were sent.
    pub fn requests_of(&self, type_code: u8) -> u64 {
        self.books
            .lock()
            .unwrap()
            .requests_by_type
            .get(&type_code)
            .copied()
            .unwrap_or(0)
    }

    /// The union of the request masks of every `Tgetattr` sent.
    pub fn getattr_masks(&self) -> u64 {
        self.books.lock().unwrap().getattr_masks
    }

    pub fn refuse_chown(&self, refuse: bool) {
        self.refuse_chown
            .store(refuse, std::sync::atomic::Ordering::Relaxed);
    }

    fn emulate(&self, request: &Request<'_>) -> Option<Reply<'static>> {
        if let Request::SetAttr { fields, .. } = request
            && fields.valid & 0x6 != 0
            && self.refuse_chown.load(std::sync::atomic::Ordering::Relaxed)
        {
            return Some(Reply::Lerror {
                errno: libc::EPERM as u32,
            });
        }
        if !self.emulate_nodes {
            return None;
        }
        let books = self.books.lock().unwrap();
        let (dir_fid, name) = match request {
            Request::Symlink { dir_fid, name, .. } | Request::Mknod { dir_fid, name, .. } => {
                (*dir_fid, *name)
            }
            _ => return None,
        };
        let path = books
            .paths
            .get(&dir_fid)?
            .join(std::ffi::OsStr::from_bytes(name));
        let made = match request {
            Request::Symlink { target, gid, .. } => {
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), &path)
                    .and_then(|()| std::os::unix::fs::lchown(&path, None, Some(*gid)))
            }
            Request::Mknod {
                mode,
                major,
                minor,
                gid,
                ..
            } => mknod(&path, *mode, *major, *minor)
                .and_then(|()| std::os::unix::fs::lchown(&path, None, Some(*gid))),
            _ => unreachable!(),
        };
        Some(match made.and_then(|()| std::fs::symlink_metadata(&path)) {
            Ok(metadata) => {
                let qid = qid_of(&metadata);
                match request {
                    Request::Symlink { .. } => Reply::Symlink { qid },
                    _ => Reply::Mknod { qid },
                }
            }
            Err(error) => Reply::Lerror {
                errno: error.raw_os_error().unwrap_or(libc::EIO) as u32,
            },
        })
    }

    fn keep_books(&self, request: &Request<'_>, reply: &Reply<'_>) {
        let mut books = self.books.lock().unwrap();
        *books
            .requests_by_type
            .entry(request.type_code())
            .or_default() += 1;
        if let Request::GetAttr { request_mask, .. } = request {
            books.getattr_masks |= request_mask;
        }
        let succeeded = !matches!(reply, Reply::Lerror { .. });
        match request {
            Request::Version { .. } => {
                books.live_fids.clear();
                books.paths.clear();
            }
            Request::Clunk { fid } => {
                books.live_fids.remove(fid);
                books.paths.remove(fid);
            }
            Request::Attach { fid, .. } if succeeded => {
                books.live_fids.insert(*fid);
                let root = books.root.clone();
                books.paths.insert(*fid, root);
            }
            Request::Walk {
                fid,
                new_fid,
                names,
            } => {
                if let Reply::Walk { qids } = reply
                    && qids.len() == names.len()
                {
                    books.live_fids.insert(*new_fid);
                    let mut path = books.paths.get(fid).cloned().unwrap_or_default();
                    for name in names {
                        path.push(std::ffi::OsStr::from_bytes(name));
                    }
                    books.paths.insert(*new_fid, path);
                }
            }
            Request::XattrWalk { new_fid, .. } if succeeded => {
                books.live_fids.insert(*new_fid);
            }
            Request::Lcreate { fid, name, .. } if succeeded => {
                if let Some(path) = books.paths.get_mut(fid) {
                    path.push(std::ffi::OsStr::from_bytes(name));
                }
            }
            Request::RenameAt {
                old_dir_fid,
                old_name,
                new_dir_fid,
                new_name,
            } if succeeded => {
                let old = books.paths[old_dir_fid].join(std::ffi::OsStr::from_bytes(old_name));
                let new = books.paths[new_dir_fid].join(std::ffi::OsStr::from_bytes(new_name));
                for path in books.paths.values_mut() {
                    if let Ok(rest) = path.strip_prefix(&old) {
                        *path = new.join(rest);
                    }
                }
            }
            _ => {}
        }
    }
}

impl Transport for ServerChannel {
    fn max_message_size(&self) -> u32 {
        self.max_message_size
    }

    fn round_trip(&self, request: &[u8], reply: &mut [u8]) -> Result<usize> {
        let (tag, decoded) = Request::decode(request).expect("the client sent a malformed request");
        let mut out = Vec::new();
        if let Some(emulated) = self.emulate(&decoded) {
            emulated.encode(tag, &mut out).unwrap();
        } else {
            let mut server = self.server.lock().unwrap();
            server
                .handle_message(&mut Cursor::new(request), &mut out)
                .map_err(|_| Errno::EIO)?;
        }
        let (reply_tag, decoded_reply) =
            Reply::decode(&out).expect("the server sent a reply we cannot parse");
        assert_eq!(reply_tag, tag);
        self.keep_books(&decoded, &decoded_reply);
        let target = reply.get_mut(..out.len()).ok_or(Errno::EIO)?;
        target.copy_from_slice(&out);
        Ok(out.len())
    }
}

fn mknod(path: &Path, mode: u32, major: u32, minor: u32) -> std::io::Result<()> {
    let path = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mknod reads nothing else.
    let result = unsafe { libc::mknod(path.as_ptr(), mode, libc::makedev(major, minor)) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

pub fn qid_of(metadata: &std::fs::Metadata) -> Qid {
    let kind = if metadata.is_dir() {
        0x80
    } else if metadata.file_type().is_symlink() {
        0x02
    } else {
        0
    };
    Qid {
        kind,
        version: metadata.mtime() as u32,
        path: metadata.ino(),
    }
}

pub const MSIZE_LIMIT: u32 = 512 * 1024;

/// A temp directory served by the p9 server and mounted through the client.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub channel: Arc<ServerChannel>,
    pub fs: Arc<P9FileSystem>,
}

impl Fixture {
    pub fn new(policy: CachePolicy) -> Fixture {
        Fixture::with(policy, MSIZE_LIMIT, true)
    }

    pub fn with(policy: CachePolicy, max_message_size: u32, emulate_nodes: bool) -> Fixture {
        Fixture::over(policy, max_message_size, emulate_nodes, |channel| channel)
    }

    /// Mounted over the [`queued::QueuedChannel`] in front of the server (returned too).
    pub fn queued(policy: CachePolicy) -> (Fixture, Arc<queued::QueuedChannel>) {
        let mut queue = None;
        let fixture = Fixture::over(policy, MSIZE_LIMIT, true, |channel| {
            let made = queued::QueuedChannel::new(channel);
            queue = Some(made.clone());
            made
        });
        (fixture, queue.unwrap())
    }

    /// Mounted with the listings and page caches charged to `budget`.
    pub fn with_budget(policy: CachePolicy, budget: &Arc<MemoryBudget>) -> Fixture {
        Fixture::over_with(policy, MSIZE_LIMIT, true, Some(budget), None, |channel| {
            channel
        })
    }

    /// Mounted with `clock` bounding how long batched attributes stay good.
    pub fn with_clock(policy: CachePolicy, clock: &vfs_core::time::ClockRef) -> Fixture {
        Fixture::over_with(policy, MSIZE_LIMIT, true, None, Some(clock), |channel| {
            channel
        })
    }

    fn over(
        policy: CachePolicy,
        max_message_size: u32,
        emulate_nodes: bool,
        transport: impl FnOnce(Arc<ServerChannel>) -> Arc<dyn Transport>,
    ) -> Fixture {
        Fixture::over_with(
            policy,
            max_message_size,
            emulate_nodes,
            None,
            None,
            transport,
        )
    }

    fn over_with(
        policy: CachePolicy,
        max_message_size: u32,
        emulate_nodes: bool,
        budget: Option<&Arc<MemoryBudget>>,
        clock: Option<&vfs_core::time::ClockRef>,
        transport: impl FnOnce(Arc<ServerChannel>) -> Arc<dyn Transport>,
    ) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let channel = ServerChannel::new(dir.path(), max_message_size, emulate_nodes);
        let options = P9MountOptions {
            policy,
            page_budget: budget,
            clock,
            ..P9MountOptions::default()
        };
        let fs = P9FileSystem::new(transport(channel.clone()), &options, 0x900).unwrap();
        Fixture { dir, channel, fs }
    }

    pub fn host(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Checks what a `stat` said of `relative` against the host's `lstat` of it.
    pub fn assert_matches_host(&self, ours: &vfs_core::attr::Stat, relative: &str) {
        let host = std::fs::symlink_metadata(self.host(relative)).unwrap();
        assert_eq!(
            (ours.ino, ours.size, ours.mode, ours.nlink, ours.mtime.sec),
            (
                host.ino(),
                host.size(),
                host.mode(),
                host.nlink(),
                host.mtime()
            ),
            "{relative}"
        );
    }

    /// Unmounts and checks that the server holds no fid of ours any more and that no
    /// clunk failed: the fid-leak check every test ends with.
    pub fn finish(self) {
        let client = self.fs.client().clone();
        assert_eq!(
            self.channel.live_fids() as u64,
            client.stats().live_fids,
            "client and server disagree on live fids"
        );
        drop(self.fs);
        let stats = client.stats();
        assert_eq!(self.channel.live_fids(), 0, "fids leaked on the server");
        assert_eq!(stats.live_fids, 0);
        assert_eq!(stats.clunk_errors, 0);
        assert_eq!(stats.quarantined_fids, 0);
        assert_eq!(stats.tags_in_use, 0, "tags leaked");
    }

    /// Fids held with only the root inode alive: what every test returns to.
    pub fn baseline(&self) -> usize {
        1
    }

    pub fn root(&self) -> Arc<dyn vfs_core::inode::Inode> {
        self.fs.root()
    }

    /// A namespace with this mount as its root, for root.
    pub fn context(&self) -> vfs_core::vfs::FsContext {
        let clock = Arc::new(vfs_core::time::ManualClock::new(
            vfs_core::time::Timespec::new(1_700_000_000, 0),
        ));
        let fs: Arc<dyn FileSystem> = self.fs.clone();
        let ns = vfs_core::mount::MountNamespace::new(
            fs,
            "rootfs",
            vfs_core::mount::MountFlags::empty(),
            clock,
        );
        vfs_core::vfs::FsContext::new(ns, vfs_core::cred::Credentials::root())
    }
}

pub fn is_root_user() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
