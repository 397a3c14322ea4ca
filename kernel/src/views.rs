//! What `/proc` shows, from the kernel's side: the system ([`KernelSystem`]) and each
//! process ([`ProcessSnapshot`]).
//!
//! A process's `Process` belongs to its own kernel thread, so a process publishes a
//! snapshot of what proc shows of it at the points where that changes (fork, exec, and
//! the calls that change descriptors, directory, identity or name); what the task table
//! knows (parent, group, session, state) is read live from it.
//!
//! Publishing costs what the call changed, never what the process holds: the snapshot
//! keeps weak references to the open files (`Weak<OpenFile>`) and the working directory's
//! location, updated descriptor by descriptor from the table's change record
//! ([`FdTable::take_changes`](crate::process::fd_table::FdTable::take_changes)); paths
//! are built only when `/proc/<pid>/fd/N` or `cwd` is read, and one longer than
//! `PATH_MAX` is not built at all (`ENAMETOOLONG`, as Linux's `d_path` gives there).
//! The command line and environment are copied at fork and exec only.
//!
//! Locks: `SNAPSHOTS` (spin: the published snapshots by pid) → a snapshot's own mutex
//! ([`publish`] replaces the contents under both). proc's readers clone an `Arc` out of
//! `SNAPSHOTS` and release it before locking the snapshot or the task table; no vfs-core
//! lock is held across any of them.

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use spin::Mutex;
use vfs_core::{Errno, Location, MountNamespace, OpenFile};

use crate::fs::proc::{
    self, CpuInfo, MemoryInfo, OpenFd, ProcSources, ProcessIds, ProcessSource, ProcessState,
    ProcessView, SystemView,
};
use crate::process::Process;

struct KernelSystem;

impl SystemView for KernelSystem {
    fn memory(&self) -> MemoryInfo {
        let (total, _) = arch::memory::memory_totals();
        // What the container may still take: its budget's room (never more than is free).
        let free = crate::mm::budget::available_to_container();
        MemoryInfo {
            total,
            free,
            available: free,
            ..MemoryInfo::default()
        }
    }

    fn cpu(&self) -> CpuInfo {
        let cpu = arch::cpu::describe();
        CpuInfo {
            vendor_id: cpu.vendor_id,
            family: cpu.family,
            model: cpu.model,
            model_name: cpu.model_name,
            stepping: cpu.stepping,
            microcode: None,
            khz: crate::timeline::tsc_khz(),
            cache_size_kb: None,
            cpuid_level: cpu.cpuid_level,
            flags: cpu.flags,
            bugs: Vec::new(),
            clflush_size: cpu.clflush_size,
            cache_alignment: cpu.clflush_size,
            physical_address_bits: cpu.physical_address_bits,
            virtual_address_bits: cpu.virtual_address_bits,
        }
    }

    fn uptime_ns(&self) -> u64 {
        crate::clock::monotonic_ns() as u64
    }

    fn boot_time_secs(&self) -> u64 {
        ((crate::clock::realtime_ns() - crate::clock::monotonic_ns()) / 1_000_000_000).max(0) as u64
    }

    fn hostname(&self) -> Vec<u8> {
        crate::syscall::hostname()
    }

    fn release(&self) -> Vec<u8> {
        crate::syscall::RELEASE.to_vec()
    }

    fn version(&self) -> Vec<u8> {
        crate::syscall::VERSION.to_vec()
    }
}

/// What proc shows of one process, as last published.
struct Snapshot {
    pid: u32,
    comm: Vec<u8>,
    cmdline: Vec<u8>,
    environ: Vec<u8>,
    cwd: Location,
    exe: Vec<u8>,
    /// Weak: a snapshot must never keep a file open (a pipe's writer, say) after the
    /// process closed it or ended.
    fds: BTreeMap<i32, Weak<OpenFile>>,
    ids: ProcessIds,
    umask: u32,
    namespace: Arc<MountNamespace>,
    root: Location,
}

pub struct ProcessSnapshot(Mutex<Snapshot>);

impl ProcessSnapshot {
    /// `d_path` of `location` from the process's root, into `PATH_MAX`.
    fn path_of(&self, location: impl FnOnce(&Snapshot) -> Location) -> Result<Vec<u8>, Errno> {
        let (location, root) = {
            let snapshot = self.0.lock();
            (location(&snapshot), snapshot.root.clone())
        };
        Ok(vfs_core::path::absolute_path_max(&location, &root)?.unwrap_or_else(|| b"/".to_vec()))
    }
}

impl ProcessView for ProcessSnapshot {
    fn pid(&self) -> u32 {
        self.0.lock().pid
    }
    fn parent_pid(&self) -> u32 {
        // The init's parent is outside the container: 0, as Linux shows it there.
        match self.pid() {
            1 => 0,
            pid => crate::task::lifecycle::parent_of(pid),
        }
    }
    fn comm(&self) -> Vec<u8> {
        self.0.lock().comm.clone()
    }
    fn cmdline(&self) -> Vec<u8> {
        self.0.lock().cmdline.clone()
    }
    fn environ(&self) -> Vec<u8> {
        self.0.lock().environ.clone()
    }
    fn cwd(&self) -> Vec<u8> {
        self.cwd_target().unwrap_or_default()
    }
    fn cwd_target(&self) -> Result<Vec<u8>, Errno> {
        self.path_of(|snapshot| snapshot.cwd.clone())
    }
    fn exe(&self) -> Vec<u8> {
        self.0.lock().exe.clone()
    }
    fn fds(&self) -> Vec<OpenFd> {
        self.0
            .lock()
            .fds
            .iter()
            .filter_map(|(&fd, file)| {
                let flags = file.upgrade()?.flags();
                Some(OpenFd {
                    fd,
                    readable: flags.readable(),
                    writable: flags.writable(),
                })
            })
            .collect()
    }
    fn fd_target(&self, fd: i32) -> Result<Vec<u8>, Errno> {
        let (file, root) = {
            let snapshot = self.0.lock();
            let file = snapshot
                .fds
                .get(&fd)
                .and_then(Weak::upgrade)
                .ok_or(Errno::ENOENT)?;
            (file, snapshot.root.clone())
        };
        if crate::fs::pipe::is_anonymous_pipe(&file) {
            return Ok(alloc::format!("pipe:[{}]", file.inode().ino()).into_bytes());
        }
        Ok(vfs_core::path::absolute_path_max(file.location(), &root)?
            .unwrap_or_else(|| b"/".to_vec()))
    }
    fn ids(&self) -> ProcessIds {
        self.0.lock().ids.clone()
    }
    fn umask(&self) -> u32 {
        self.0.lock().umask
    }
    fn state(&self) -> ProcessState {
        use crate::task::lifecycle::{ProcessRunState, run_state};
        let pid = self.pid();
        match run_state(pid) {
            ProcessRunState::Zombie => ProcessState::Zombie,
            ProcessRunState::Stopped => ProcessState::Stopped,
            ProcessRunState::Running if crate::task::lifecycle::current_pid() == Some(pid) => {
                ProcessState::Running
            }
            ProcessRunState::Running => ProcessState::Sleeping,
        }
    }
    fn process_group(&self) -> u32 {
        crate::task::lifecycle::group_and_session(self.pid()).0
    }
    fn session(&self) -> u32 {
        crate::task::lifecycle::group_and_session(self.pid()).1
    }
    fn mounts(&self) -> Vec<u8> {
        let (namespace, root) = {
            let snapshot = self.0.lock();
            (snapshot.namespace.clone(), snapshot.root.clone())
        };
        namespace.proc_mounts(&root)
    }
}

static SNAPSHOTS: Mutex<BTreeMap<u32, Arc<ProcessSnapshot>>> = Mutex::new(BTreeMap::new());

/// The processes for proc: snapshots by pid, the caller found through the task table.
struct Processes;

impl ProcessSource for Processes {
    fn current(&self) -> Option<Arc<dyn ProcessView>> {
        self.process(crate::task::lifecycle::current_pid()?)
    }

    fn process(&self, pid: u32) -> Option<Arc<dyn ProcessView>> {
        let snapshot = SNAPSHOTS.lock().get(&pid).cloned()?;
        Some(snapshot as Arc<dyn ProcessView>)
    }

    fn pids(&self) -> Vec<u32> {
        SNAPSHOTS.lock().keys().copied().collect()
    }
}

/// Registers the views with proc; call once before the container's namespace is built.
pub fn register() {
    proc::register(ProcSources {
        system: Arc::new(KernelSystem),
        processes: Arc::new(Processes),
    });
}

/// A reaped process leaves `/proc`.
pub fn forget(pid: u32) {
    SNAPSHOTS.lock().remove(&pid);
}

fn nul_joined(strings: &[Vec<u8>]) -> Vec<u8> {
    strings
        .iter()
        .flat_map(|s| s.iter().copied().chain([0]))
        .collect()
}

/// Publishes everything proc shows of `process` (at fork and exec).
pub fn publish(process: &mut Process) {
    let snapshot = Snapshot {
        pid: process.pid,
        comm: process.name.clone(),
        cmdline: nul_joined(&process.argv),
        environ: nul_joined(&process.envp),
        cwd: process.fs.cwd.clone(),
        exe: process.exe.clone(),
        fds: BTreeMap::new(),
        ids: process_ids(process),
        umask: process.fs.umask,
        namespace: process.fs.ns.clone(),
        root: process.fs.root.clone(),
    };
    let view = {
        let mut snapshots = SNAPSHOTS.lock();
        match snapshots.get(&process.pid) {
            Some(view) => {
                *view.0.lock() = snapshot;
                view.clone()
            }
            None => {
                let view = Arc::new(ProcessSnapshot(Mutex::new(snapshot)));
                snapshots.insert(process.pid, view.clone());
                view
            }
        }
    };
    process.files.take_changes();
    let fds = all_files(process);
    view.0.lock().fds = fds;
}

fn all_files(process: &Process) -> BTreeMap<i32, Weak<OpenFile>> {
    process
        .files
        .descriptors()
        .filter_map(|fd| Some((fd, Arc::downgrade(process.files.get(fd).ok()?))))
        .collect()
}

/// The ids and capability sets `/proc/<pid>/status` shows.
fn process_ids(process: &Process) -> ProcessIds {
    let ids = &process.ids;
    ProcessIds {
        uid: [ids.uid, ids.euid, ids.suid, ids.euid],
        gid: [ids.gid, ids.egid, ids.sgid, ids.egid],
        groups: ids.groups.clone(),
        caps: [
            process.caps.inheritable,
            process.caps.permitted,
            process.caps.effective,
            process.caps.bounding,
            process.caps.ambient,
        ],
        no_new_privs: process.caps.no_new_privs,
    }
}

/// After a call that may change descriptors, directory, identity, name or umask: the
/// descriptors the call touched, and the small fields. Nothing here grows with the
/// number of open files or the length of any path.
pub fn publish_changes(process: &mut Process) {
    let Some(view) = SNAPSHOTS.lock().get(&process.pid).cloned() else {
        return publish(process);
    };
    let changes = process.files.take_changes();
    let all = changes.all.then(|| all_files(process));
    let ids = process_ids(process);
    let mut snapshot = view.0.lock();
    match all {
        Some(all) => snapshot.fds = all,
        None => {
            for fd in changes.fds {
                match process.files.get(fd) {
                    Ok(file) => snapshot.fds.insert(fd, Arc::downgrade(file)),
                    Err(_) => snapshot.fds.remove(&fd),
                };
            }
        }
    }
    snapshot.comm.clone_from(&process.name);
    snapshot.cwd = process.fs.cwd.clone();
    snapshot.root = process.fs.root.clone();
    snapshot.umask = process.fs.umask;
    snapshot.ids = ids;
}
