//! A million-entry tree on an exclusive 9p mount neither fails nor fills memory: 1,000
//! directories of 1,000 files each, served by a synthetic read-only 9P2000.L server (a
//! host directory of a million files would take longer to make than to walk), are each
//! listed and every file stat'ed through the VFS, `du`-style, with the names and the
//! listings charged to one 16 MiB budget. Every answer is checked; the heap this process
//! holds (a counting allocator: its own test binary) is checked after every directory
//! against a cap far below what a million cached entries would take; the budget is never
//! passed; and every fid is given back at the end.

mod common;
mod counting;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use vfs_core::budget::MemoryBudget;
use vfs_core::cred::Credentials;
use vfs_core::errno::{Errno, Result};
use vfs_core::inode::{CachePolicy, FileSystem};
use vfs_core::mount::{MountFlags, MountNamespace};
use vfs_core::p9::message::{Attr, Dirent, Qid, Reply, Request, encode_dirents, qid_kind};
use vfs_core::p9::wire::Data;
use vfs_core::p9::{P9FileSystem, P9MountOptions, Transport};
use vfs_core::time::{ManualClock, Timespec};
use vfs_core::vfs::{At, FsContext};

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

const DIRS: u64 = 1000;
const FILES: u64 = 1000;
const BUDGET: u64 = 16 << 20;
/// What the walk may make the heap hold beyond where it started: the budget plus room
/// for what the budget does not see (the walk's own buffers, allocator slack). A million
/// entries cached at even 256 bytes each would be 256 MB.
const HEAP_CAP: isize = 40 << 20;

/// A file of the tree: the root, directory `d`, or file `f` of directory `d`.
#[derive(Clone, Copy)]
enum Node {
    Root,
    Dir(u64),
    File(u64, u64),
}

fn size_of_file(d: u64, f: u64) -> u64 {
    (d * 7 + f * 13) % 4096
}

impl Node {
    fn qid(self) -> Qid {
        match self {
            Node::Root => Qid {
                kind: qid_kind::DIR,
                version: 0,
                path: 1,
            },
            Node::Dir(d) => Qid {
                kind: qid_kind::DIR,
                version: 0,
                path: 2 + d,
            },
            Node::File(d, f) => Qid {
                kind: 0,
                version: 0,
                path: 10_000 + d * FILES + f,
            },
        }
    }

    fn attr(self) -> Attr {
        let (mode, size, nlink) = match self {
            Node::Root => (0o40755, 4096, 2 + DIRS),
            Node::Dir(_) => (0o40755, 4096, 2),
            Node::File(d, f) => (0o100644, size_of_file(d, f), 1),
        };
        Attr {
            valid: 0x7ff,
            qid: self.qid(),
            mode,
            nlink,
            size,
            blksize: 4096,
            mtime_sec: 1_700_000_000,
            ..Attr::default()
        }
    }

    fn child(self, name: &[u8]) -> Option<Node> {
        let name = std::str::from_utf8(name).ok()?;
        match self {
            Node::Root => name
                .strip_prefix('d')?
                .parse()
                .ok()
                .filter(|&d| d < DIRS && name.len() == 4)
                .map(Node::Dir),
            Node::Dir(d) => name
                .strip_prefix('f')?
                .parse()
                .ok()
                .filter(|&f| f < FILES && name.len() == 5)
                .map(|f| Node::File(d, f)),
            Node::File(..) => None,
        }
    }

    /// Entry `at` of a directory (in the server's order) and its name.
    fn entry(self, at: u64) -> Option<(Node, String)> {
        match self {
            Node::Root if at < DIRS => Some((Node::Dir(at), format!("d{at:03}"))),
            Node::Dir(d) if at < FILES => Some((Node::File(d, at), format!("f{at:04}"))),
            _ => None,
        }
    }
}

/// The synthetic server: the fid table is its only state.
struct TreeServer {
    fids: Mutex<HashMap<u32, Node>>,
}

impl TreeServer {
    fn answer(&self, request: &Request<'_>, out: &mut Vec<u8>, tag: u16) -> Result<()> {
        let mut fids = self.fids.lock().unwrap();
        let node = |fid: &u32| fids.get(fid).copied().ok_or(Errno::EBADF);
        let reply = match request {
            Request::Version { msize, .. } => Reply::Version {
                msize: *msize,
                version: b"9P2000.L",
            },
            Request::Attach { fid, .. } => {
                fids.insert(*fid, Node::Root);
                Reply::Attach {
                    qid: Node::Root.qid(),
                }
            }
            Request::Walk {
                fid,
                new_fid,
                names,
            } => {
                let mut at = node(fid)?;
                let mut qids = Vec::new();
                for name in names {
                    match at.child(name) {
                        Some(child) => {
                            at = child;
                            qids.push(at.qid());
                        }
                        None if qids.is_empty() => return Err(Errno::ENOENT),
                        None => break,
                    }
                }
                if qids.len() == names.len() {
                    fids.insert(*new_fid, at);
                }
                Reply::Walk { qids }
            }
            Request::GetAttr { fid, .. } => Reply::GetAttr {
                attr: node(fid)?.attr(),
            },
            Request::Lopen { fid, .. } => Reply::Lopen {
                qid: node(fid)?.qid(),
                iounit: 0,
            },
            Request::Readdir { fid, offset, count } => {
                let dir = node(fid)?;
                let mut at = *offset;
                let mut size = 0;
                let mut listed = Vec::new();
                // An entry is its qid (13 bytes), cookie (8), type (1) and name (2 + length).
                while let Some((child, name)) = dir.entry(at) {
                    if size + 24 + name.len() > *count as usize {
                        break;
                    }
                    size += 24 + name.len();
                    at += 1;
                    listed.push((child, name, at));
                }
                let entries: Vec<Dirent<'_>> = listed
                    .iter()
                    .map(|(child, name, next)| Dirent {
                        qid: child.qid(),
                        offset: *next,
                        kind: if matches!(child, Node::File(..)) {
                            8
                        } else {
                            4
                        },
                        name: name.as_bytes(),
                    })
                    .collect();
                let mut payload = Vec::new();
                encode_dirents(&entries, &mut payload)?;
                return Reply::Readdir {
                    data: Data(&payload),
                }
                .encode(tag, out);
            }
            Request::Clunk { fid } => {
                fids.remove(fid).ok_or(Errno::EBADF)?;
                Reply::Clunk {}
            }
            _ => return Err(Errno::EROFS),
        };
        reply.encode(tag, out)
    }
}

impl Transport for TreeServer {
    fn max_message_size(&self) -> u32 {
        64 * 1024
    }

    fn round_trip(&self, request: &[u8], reply: &mut [u8]) -> Result<usize> {
        let (tag, decoded) = Request::decode(request)?;
        let mut out = Vec::new();
        if let Err(errno) = self.answer(&decoded, &mut out, tag) {
            out.clear();
            Reply::Lerror {
                errno: errno.0 as u32,
            }
            .encode(tag, &mut out)?;
        }
        reply
            .get_mut(..out.len())
            .ok_or(Errno::EIO)?
            .copy_from_slice(&out);
        Ok(out.len())
    }
}

/// A directory's names in order (read a page at a time, as `getdents` does).
fn read_names(ctx: &FsContext, path: &str) -> Vec<String> {
    let mut names = common::list_dir(ctx, path);
    names.retain(|name| name != "." && name != "..");
    names
}

#[test]
fn a_million_entries_are_walked_within_a_fixed_memory_cap() {
    let server = Arc::new(TreeServer {
        fids: Mutex::new(HashMap::new()),
    });
    let budget = MemoryBudget::new(BUDGET);
    let options = P9MountOptions {
        policy: CachePolicy::Exclusive,
        page_budget: Some(&budget),
        ..P9MountOptions::default()
    };
    let start = counting::held();
    let fs = P9FileSystem::new(server.clone(), &options, 0x900).unwrap();
    let client = fs.client().clone();
    let root: Arc<dyn FileSystem> = fs;
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let ns = MountNamespace::with_budget(root, "tree", MountFlags::empty(), clock, budget.clone());
    let ctx = FsContext::new(ns, Credentials::root());

    let dirs = read_names(&ctx, "/");
    assert_eq!(dirs.len() as u64, DIRS);
    let mut files = 0u64;
    let mut peak = 0isize;
    for (d, dir) in dirs.iter().enumerate() {
        assert_eq!(dir, &format!("d{d:03}"));
        let names = read_names(&ctx, &format!("/{dir}"));
        assert_eq!(names.len() as u64, FILES, "{dir}");
        for (f, name) in names.iter().enumerate() {
            let stat = ctx
                .stat(At::Cwd, format!("/{dir}/{name}").as_bytes(), false)
                .unwrap();
            assert_eq!(
                (stat.size, stat.mode, stat.ino),
                (
                    size_of_file(d as u64, f as u64),
                    0o100644,
                    10_000 + d as u64 * FILES + f as u64
                ),
                "/{dir}/{name}"
            );
            files += 1;
        }
        assert!(budget.used() <= budget.limit());
        let held = counting::held() - start;
        peak = peak.max(held);
        assert!(held < HEAP_CAP, "after {dir}: {held} bytes held");
    }
    assert_eq!(files, DIRS * FILES);
    println!(
        "a million entries walked: heap held at most {} KiB, budget {} KiB of {} KiB used at the end",
        peak / 1024,
        budget.used() / 1024,
        BUDGET / 1024
    );
    ctx.ns.root().dentry.prune();
    drop(ctx);
    let stats = client.stats();
    assert_eq!(stats.clunk_errors, 0);
    assert_eq!(
        server.fids.lock().unwrap().len() as u64,
        stats.live_fids,
        "client and server disagree on live fids"
    );
}
