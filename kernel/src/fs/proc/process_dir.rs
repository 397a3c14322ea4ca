//! proc, middle: `/proc/<pid>/`, its `fd/` and `fdinfo/` directories and `task/<tid>/` (each
//! thread of the process: the same files again, of that thread). Every node holds only the pid
//! and the [`ProcessSource`], and asks for the process again when read, so a node that
//! outlives its process answers `ESRCH` (files) or `ENOENT` (links) as Linux's do.
//!
//! Inode numbers: the pid (plus one) in the high 32 bits and the node's slot in the low
//! ones, descriptors from [`FD_SLOTS`] on, so every per-process node keeps its number for
//! the life of the pid and no two collide with each other or with the fixed tree.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use vfs_core::{Errno, Result};

use super::process_files;
use super::view::{OpenFd, ProcessSource, ProcessView};
use crate::fs::synthetic::{Directory, Entry, FIRST_COOKIE, FixedDir, Node};

const FD_SLOTS: u64 = 0x1_0000;
/// `fdinfo/N`'s slots: above every descriptor's `fd/N` slot (descriptors stay below
/// 2^30, far past `RLIMIT_NOFILE`'s ceiling).
const FDINFO_SLOTS: u64 = 0x4000_0000;
const DIR_SLOT: u64 = 0;
/// Set in the slots of the nodes under `task/<tid>/`, so they differ from the process's.
const THREAD_SLOTS: u64 = 1 << 31;

/// The inode number of node `slot` of process `pid`.
pub fn process_ino(pid: u32, slot: u64) -> u64 {
    ((u64::from(pid) + 1) << 32) | slot
}

/// A directory entry name that is a number as Linux's `name_to_int` accepts it: decimal
/// digits, no sign, no leading zero.
pub fn parse_number(name: &[u8]) -> Option<u32> {
    if name.is_empty()
        || name.len() > 10
        || (name.len() > 1 && name[0] == b'0')
        || !name.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    core::str::from_utf8(name).ok()?.parse().ok()
}

type Render = fn(&dyn ProcessView) -> Result<Vec<u8>>;
type LinkRender = fn(&dyn ProcessView) -> Result<Vec<u8>>;

/// The files and links of `/proc/<pid>/`: name, mode, contents. Files are owned by the
/// process; `environ` is private to it, as on Linux.
const FILES: &[(&str, u32, Render)] = &[
    ("environ", 0o400, |process| process.environ()),
    ("auxv", 0o400, |process| Ok(process.auxv())),
    ("status", 0o444, |process| {
        Ok(process_files::status(process))
    }),
    ("comm", 0o444, |process| {
        let mut comm = process.comm();
        comm.push(b'\n');
        Ok(comm)
    }),
    ("cmdline", 0o444, |process| process.cmdline()),
    ("stat", 0o444, |process| Ok(process_files::stat(process))),
    ("statm", 0o444, |process| Ok(process_files::statm(process))),
    ("mounts", 0o444, |process| process.mounts()),
    ("mountinfo", 0o444, |process| process.mountinfo()),
    ("maps", 0o444, process_files::maps),
];

const LINKS: &[(&str, LinkRender)] = &[
    ("cwd", |process| process.cwd_target()),
    ("root", |process| Ok(process.root())),
    ("exe", |process| Ok(process.exe())),
];

/// The node of `/proc/<pid>`, owned by the process's effective ids.
pub fn process_node(pid: u32, view: &dyn ProcessView, source: &Arc<dyn ProcessSource>) -> Node {
    let ids = view.ids();
    Node::directory(
        process_ino(pid, DIR_SLOT),
        0o555,
        ProcessDir {
            pid,
            source: source.clone(),
            thread: false,
        },
    )
    .owned_by(ids.effective_uid(), ids.effective_gid())
}

fn find(source: &dyn ProcessSource, pid: u32, gone: Errno) -> Result<Arc<dyn ProcessView>> {
    source.process(pid).ok_or(gone)
}

/// `/proc/<pid>/`: `fd/`, then [`FILES`], then [`LINKS`], then `task/`; or, with
/// `thread`, `/proc/<pid>/task/<tid>/`, the same without `task/`.
struct ProcessDir {
    pid: u32,
    source: Arc<dyn ProcessSource>,
    thread: bool,
}

impl ProcessDir {
    fn children(&self, view: &dyn ProcessView) -> FixedDir {
        let ids = view.ids();
        let (uid, gid) = (ids.effective_uid(), ids.effective_gid());
        let pid = self.pid;
        let flag = if self.thread { THREAD_SLOTS } else { 0 };
        let mut slot = DIR_SLOT;
        let mut next_ino = || {
            slot += 1;
            process_ino(pid, slot | flag)
        };
        let fd_dir = Node::directory(
            next_ino(),
            0o500,
            FdDir {
                pid,
                source: self.source.clone(),
                flag,
            },
        );
        let fdinfo_dir = Node::directory(
            next_ino(),
            0o500,
            FdInfoDir {
                pid,
                source: self.source.clone(),
                flag,
            },
        );
        let mut children = FixedDir::new()
            .with("fd", fd_dir.owned_by(uid, gid))
            .with("fdinfo", fdinfo_dir.owned_by(uid, gid));
        for &(name, perm, render) in FILES {
            let source = self.source.clone();
            let file = Node::file(next_ino(), perm, move || {
                render(&*find(&*source, pid, Errno::ESRCH)?)
            });
            children = children.with(name, file.owned_by(uid, gid));
        }
        for &(name, render) in LINKS {
            let source = self.source.clone();
            let link = Node::symlink(next_ino(), move || {
                render(&*find(&*source, pid, Errno::ENOENT)?)
            });
            children = children.with(name, link.owned_by(uid, gid));
        }
        if !self.thread {
            let task = Node::directory(
                next_ino(),
                0o555,
                TaskDir {
                    pid,
                    source: self.source.clone(),
                },
            );
            children = children.with("task", task.owned_by(uid, gid));
        }
        children
    }
}

/// `/proc/<pid>/task/`: one directory per thread, named by its tid (the first thread's
/// tid is the pid).
struct TaskDir {
    pid: u32,
    source: Arc<dyn ProcessSource>,
}

impl TaskDir {
    /// `task/<tid>/`: the thread's own view, its nodes numbered by its tid.
    fn thread_node(&self, tid: u32, view: &dyn ProcessView) -> Node {
        let ids = view.ids();
        Node::directory(
            process_ino(tid, THREAD_SLOTS | DIR_SLOT),
            0o555,
            ProcessDir {
                pid: tid,
                source: self.source.clone(),
                thread: true,
            },
        )
        .owned_by(ids.effective_uid(), ids.effective_gid())
    }
}

impl Directory for TaskDir {
    fn entries(&self) -> Vec<Entry> {
        let mut tids = self.source.threads(self.pid);
        tids.sort_unstable();
        tids.into_iter()
            .filter_map(|tid| {
                let view = self.source.process(tid)?;
                Some(Entry {
                    name: format!("{tid}").into_bytes(),
                    cookie: FIRST_COOKIE + u64::from(tid),
                    node: self.thread_node(tid, &*view),
                })
            })
            .collect()
    }

    fn lookup(&self, name: &[u8]) -> Option<Node> {
        let tid = parse_number(name)?;
        if !self.source.threads(self.pid).contains(&tid) {
            return None;
        }
        let view = self.source.process(tid)?;
        Some(self.thread_node(tid, &*view))
    }
}

impl Directory for ProcessDir {
    fn entries(&self) -> Vec<Entry> {
        match self.source.process(self.pid) {
            Some(view) => self.children(&*view).entries(),
            None => Vec::new(),
        }
    }

    fn lookup(&self, name: &[u8]) -> Option<Node> {
        let view = self.source.process(self.pid)?;
        self.children(&*view).lookup(name)
    }
}

/// `/proc/<pid>/fd/`: one symlink per open descriptor, named by its number, pointing at
/// the open file's path; its cookie is the number, so listings resume by descriptor.
struct FdDir {
    pid: u32,
    source: Arc<dyn ProcessSource>,
    /// [`THREAD_SLOTS`] under `task/<tid>/`, else 0.
    flag: u64,
}

impl FdDir {
    fn link(&self, open: &OpenFd, owner: (u32, u32)) -> Node {
        let (pid, fd, source) = (self.pid, open.fd, self.source.clone());
        let text_source = source.clone();
        let target = move || find(&*text_source, pid, Errno::ENOENT)?.fd_target(fd);
        let destination = move || find(&*source, pid, Errno::ENOENT)?.fd_location(fd);
        // `proc_fd_link`'s mode: read gives r-x, write gives -wx, for the owner only.
        let perm = if open.readable { 0o500 } else { 0 } | if open.writable { 0o300 } else { 0 };
        let mut node = Node::magic_link(
            process_ino(pid, (FD_SLOTS + u64::from(fd.unsigned_abs())) | self.flag),
            target,
            destination,
        )
        .owned_by(owner.0, owner.1);
        node.perm = perm;
        node
    }
}

impl Directory for FdDir {
    fn entries(&self) -> Vec<Entry> {
        let Some(process) = self.source.process(self.pid) else {
            return Vec::new();
        };
        let ids = process.ids();
        let owner = (ids.effective_uid(), ids.effective_gid());
        let mut fds: Vec<OpenFd> = process
            .fds()
            .into_iter()
            .filter(|open| open.fd >= 0)
            .collect();
        fds.sort_by_key(|open| open.fd);
        fds.iter()
            .map(|open| Entry {
                name: format!("{}", open.fd).into_bytes(),
                cookie: FIRST_COOKIE + open.fd as u64,
                node: self.link(open, owner),
            })
            .collect()
    }

    fn lookup(&self, name: &[u8]) -> Option<Node> {
        let fd = i32::try_from(parse_number(name)?).ok()?;
        let process = self.source.process(self.pid)?;
        let ids = process.ids();
        let open = process.fds().into_iter().find(|open| open.fd == fd)?;
        Some(self.link(&open, (ids.effective_uid(), ids.effective_gid())))
    }
}

/// `/proc/<pid>/fdinfo/`: one file per open descriptor, readable by the owner
/// ([`process_files::fd_info`]), read when opened.
struct FdInfoDir {
    pid: u32,
    source: Arc<dyn ProcessSource>,
    flag: u64,
}

impl FdInfoDir {
    fn file(&self, fd: i32, owner: (u32, u32)) -> Node {
        let (pid, source) = (self.pid, self.source.clone());
        let ino = process_ino(
            pid,
            (FDINFO_SLOTS + u64::from(fd.unsigned_abs())) | self.flag,
        );
        Node::file(ino, 0o400, move || {
            let info = find(&*source, pid, Errno::ESRCH)?.fd_info(fd)?;
            Ok(process_files::fd_info(&info))
        })
        .owned_by(owner.0, owner.1)
    }
}

impl Directory for FdInfoDir {
    fn entries(&self) -> Vec<Entry> {
        let Some(process) = self.source.process(self.pid) else {
            return Vec::new();
        };
        let ids = process.ids();
        let owner = (ids.effective_uid(), ids.effective_gid());
        let mut fds: Vec<i32> = process
            .fds()
            .into_iter()
            .map(|open| open.fd)
            .filter(|fd| *fd >= 0)
            .collect();
        fds.sort_unstable();
        fds.into_iter()
            .map(|fd| Entry {
                name: format!("{fd}").into_bytes(),
                cookie: FIRST_COOKIE + fd as u64,
                node: self.file(fd, owner),
            })
            .collect()
    }

    fn lookup(&self, name: &[u8]) -> Option<Node> {
        let fd = i32::try_from(parse_number(name)?).ok()?;
        let process = self.source.process(self.pid)?;
        process.fds().into_iter().find(|open| open.fd == fd)?;
        let ids = process.ids();
        Some(self.file(fd, (ids.effective_uid(), ids.effective_gid())))
    }
}
