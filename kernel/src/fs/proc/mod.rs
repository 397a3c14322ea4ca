//! Kernel filesystems: `proc`, mounted on `/proc`. A synthetic tree whose contents come
//! from two views the kernel implements ([`SystemView`], [`ProcessSource`]) and are
//! generated on every read:
//!
//! - system files (`system_files.rs`): `meminfo`, `cpuinfo`, `uptime`, `version`,
//!   `filesystems`, `loadavg`, `stat`; `locks` (`crate::fs::locks::proc_locks`); `sys/`
//!   (`sys.rs`);
//! - `self` (a link to the reader's pid), `thread-self` (to its `<pid>/task/<tid>`), `mounts` (a link to `self/mounts`);
//! - one directory per process (`process_dir.rs`, texts in `process_files.rs`).
//!
//! The kernel registers its views once with [`register`]; `mount -t proc` then makes
//! instances through `crate::fs::make`. Tests build instances with [`new`].

mod process_dir;
mod process_files;
mod sys;
mod system_files;
mod view;

#[cfg(test)]
mod tests;

pub use system_files::FILESYSTEMS;
pub use view::{
    CpuInfo, CpuTimes, FdInfo, MapArea, MemoryInfo, OpenFd, ProcessIds, ProcessMemory,
    ProcessSource, ProcessState, ProcessView, SignalMasks, SystemView,
};

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Once;
use vfs_core::attr::fs_magic::PROC_SUPER_MAGIC;
use vfs_core::{CachePolicy, ClockRef, Errno, FileSystem};

use crate::fs::synthetic::{Directory, Entry, FixedDir, InoCounter, Node, Rules, SyntheticFs};
use process_dir::{parse_number, process_node};

/// Where proc gets its information: the system, and the processes.
#[derive(Clone)]
pub struct ProcSources {
    pub system: Arc<dyn SystemView>,
    pub processes: Arc<dyn ProcessSource>,
}

static REGISTERED: Once<ProcSources> = Once::new();

/// Called once by the kernel before the container's namespace is built; later calls
/// change nothing and return false.
pub fn register(sources: ProcSources) -> bool {
    let mut first = false;
    REGISTERED.call_once(|| {
        first = true;
        sources
    });
    first
}

/// The sources [`register`] recorded, if it has been called.
pub fn registered() -> Option<ProcSources> {
    REGISTERED.get().cloned()
}

/// proc's mount options (`hidepid=`, `gid=`, `subset=`) are not supported: they are
/// ignored with a warning, and the mount goes ahead as Docker's does without them.
pub fn warn_unsupported_options(data: &str) {
    for option in data.split(',').filter(|option| !option.is_empty()) {
        log::warn!(target: "proc", "ignoring unsupported mount option {option:?}");
    }
}

/// Readdir cookies of the pid directories: after every fixed entry, in pid order.
const PID_COOKIES: u64 = 1 << 32;

/// A new proc instance over `sources`.
pub fn new(sources: ProcSources, dev: u64, clock: ClockRef) -> Arc<dyn FileSystem> {
    let rules = Rules {
        fs_type: "proc",
        magic: PROC_SUPER_MAGIC,
        // Processes and descriptors come and go without the VFS seeing it.
        cache_policy: CachePolicy::Revalidate,
        file_size: 0,
        block_size: 1024,
        refuse_write_open: None,
        write_without_writer: Errno::EIO,
    };
    let mut inos = InoCounter::starting_at(1);
    let root_ino = inos.allocate();
    let root = ProcRoot {
        fixed: fixed_entries(&mut inos, &sources),
        processes: sources.processes,
    };
    SyntheticFs::new(
        rules,
        Node::directory(root_ino, 0o555, root),
        String::new(),
        dev,
        clock,
    )
}

/// Everything in `/proc` except the pid directories.
fn fixed_entries(inos: &mut InoCounter, sources: &ProcSources) -> FixedDir {
    let system_file = |inos: &mut InoCounter, render: fn(&dyn SystemView) -> Vec<u8>| {
        let system = sources.system.clone();
        Node::file(inos.allocate(), 0o444, move || Ok(render(&*system)))
    };
    let counted_file = |inos: &mut InoCounter, render: fn(&dyn SystemView, &[u32]) -> Vec<u8>| {
        let (system, processes) = (sources.system.clone(), sources.processes.clone());
        Node::file(inos.allocate(), 0o444, move || {
            Ok(render(&*system, &processes.pids()))
        })
    };
    let processes = sources.processes.clone();
    let current_pid = move || {
        processes
            .current()
            .map(|process| format!("{}", process.pid()).into_bytes())
            .ok_or(Errno::ENOENT)
    };
    let processes = sources.processes.clone();
    let current_thread = move || {
        let process = processes.current().ok_or(Errno::ENOENT)?;
        let tid = processes.current_tid().unwrap_or(process.pid());
        Ok(format!("{}/task/{tid}", process.pid()).into_bytes())
    };
    FixedDir::new()
        .with("self", Node::symlink(inos.allocate(), current_pid))
        .with(
            "thread-self",
            Node::symlink(inos.allocate(), current_thread),
        )
        .with(
            "mounts",
            Node::symlink(inos.allocate(), || Ok(b"self/mounts".to_vec())),
        )
        .with(
            "meminfo",
            system_file(inos, |system| system_files::meminfo(&system.memory())),
        )
        .with(
            "cpuinfo",
            system_file(inos, |system| {
                system_files::cpuinfo(&system.cpu(), system.cpu_count())
            }),
        )
        .with(
            "uptime",
            system_file(inos, |system| {
                system_files::uptime(system.uptime_ns(), system.idle_ns())
            }),
        )
        .with(
            "version",
            system_file(inos, |system| {
                system_files::version(&system.release(), &system.version())
            }),
        )
        .with(
            "filesystems",
            system_file(inos, |_| system_files::filesystems()),
        )
        .with(
            "loadavg",
            counted_file(inos, |system, pids| {
                let last_pid = pids.iter().copied().max().unwrap_or(0);
                system_files::loadavg(system.load_average_centis(), 1, pids.len(), last_pid)
            }),
        )
        .with(
            "stat",
            counted_file(inos, |system, pids| system_files::stat(system, pids.len())),
        )
        .with("sys", sys::sys_tree(inos, &sources.system))
        // Last, so the entries before keep their inode numbers.
        .with(
            "locks",
            system_file(inos, |system| {
                crate::fs::locks::proc_locks::render(&system.file_locks())
            }),
        )
}

/// `/proc` itself: the fixed entries, then one directory per process.
struct ProcRoot {
    fixed: FixedDir,
    processes: Arc<dyn ProcessSource>,
}

impl Directory for ProcRoot {
    fn entries(&self) -> Vec<Entry> {
        let mut entries = self.fixed.entries();
        let mut pids = self.processes.pids();
        pids.sort_unstable();
        pids.dedup();
        for pid in pids {
            if let Some(view) = self.processes.process(pid) {
                let node = process_node(pid, &*view, &self.processes);
                entries.push(Entry {
                    name: format!("{pid}").into_bytes(),
                    cookie: PID_COOKIES + u64::from(pid),
                    node,
                });
            }
        }
        entries
    }

    fn lookup(&self, name: &[u8]) -> Option<Node> {
        if let Some(node) = self.fixed.lookup(name) {
            return Some(node);
        }
        let pid = parse_number(name)?;
        let view = self.processes.process(pid)?;
        Some(process_node(pid, &*view, &self.processes))
    }
}
