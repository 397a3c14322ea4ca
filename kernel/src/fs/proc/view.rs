//! proc, bottom: what `/proc` needs to know about the system and its processes, as two
//! small traits the kernel implements. proc never sees the kernel's `Process` type (it
//! is target-only); it asks these views, afresh on every read, so what a reader sees is
//! the state at that moment. Every method returns owned data and must not block.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use vfs_core::Errno;

/// The running system, for `/proc/meminfo`, `cpuinfo`, `uptime`, `version`, `stat`,
/// `loadavg`, `locks` and `/proc/sys/kernel`.
pub trait SystemView: Send + Sync {
    fn memory(&self) -> MemoryInfo;
    /// The CPU as `cpuinfo` describes it (every processor is the same model).
    fn cpu(&self) -> CpuInfo;
    /// How many processors the tasks run on: `cpuinfo` has a block for each.
    fn cpu_count(&self) -> u32 {
        1
    }
    /// Nanoseconds since boot (`CLOCK_BOOTTIME`).
    fn uptime_ns(&self) -> u64;
    /// Nanoseconds the CPU spent idle since boot; by default all of it.
    fn idle_ns(&self) -> u64 {
        self.uptime_ns()
    }
    /// Each online CPU's time since boot, in ns, by CPU index (`/proc/stat`); by default
    /// one CPU, busy (as user time) whenever it was not idle.
    fn cpu_times(&self) -> Vec<CpuTimes> {
        let idle_ns = self.idle_ns().min(self.uptime_ns());
        alloc::vec![CpuTimes {
            user_ns: self.uptime_ns() - idle_ns,
            system_ns: 0,
            idle_ns,
        }]
    }
    /// Context switches since boot (`ctxt` in `/proc/stat`).
    fn context_switches(&self) -> u64 {
        0
    }
    /// Threads running or ready to run (`procs_running`).
    fn running_threads(&self) -> usize {
        1
    }
    /// The real time of boot, seconds since the epoch (`btime` in `/proc/stat`).
    fn boot_time_secs(&self) -> u64;
    /// The UTS host name (`uname -n`).
    fn hostname(&self) -> Vec<u8>;
    /// The UTS domain name (`setdomainname`); none by default.
    fn domainname(&self) -> Vec<u8> {
        Vec::new()
    }
    /// The spec's `linux.sysctl`, for `/proc/sys`; none by default.
    fn sysctl(&self) -> Vec<crate::container::spec::Sysctl> {
        Vec::new()
    }
    /// `uname -r`, e.g. `6.1.0-sandbox`.
    fn release(&self) -> Vec<u8>;
    /// `uname -v`, e.g. `#1 SMP PREEMPT_DYNAMIC …`.
    fn version(&self) -> Vec<u8>;
    /// Every file lock held, newest first (`/proc/locks`).
    fn file_locks(&self) -> Vec<crate::fs::locks::table::LockLine>;
    /// Load averages over 1, 5 and 15 minutes, in hundredths; none by default.
    fn load_average_centis(&self) -> [u64; 3] {
        [0; 3]
    }
}

/// One CPU's time since boot, in ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user_ns: u64,
    pub system_ns: u64,
    pub idle_ns: u64,
}

/// Memory figures in bytes (`/proc/meminfo` shows them in kB).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryInfo {
    pub total: u64,
    pub free: u64,
    /// What could be given to programs without swapping: free plus reclaimable.
    pub available: u64,
    pub buffers: u64,
    /// Page cache, tmpfs included (Linux counts shmem in `Cached`).
    pub cached: u64,
    /// tmpfs and shared anonymous memory.
    pub shmem: u64,
    pub swap_total: u64,
    pub swap_free: u64,
    /// The kernel heap's objects (`Slab`, all unreclaimable): what its allocations hold.
    pub slab: u64,
}

/// One processor as `/proc/cpuinfo` describes it (values from CPUID, supplied by the
/// kernel's arch code).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuInfo {
    /// `GenuineIntel`, `AuthenticAMD`.
    pub vendor_id: Vec<u8>,
    pub family: u32,
    pub model: u32,
    /// The brand string, e.g. `Intel(R) Xeon(R) CPU @ 2.20GHz`.
    pub model_name: Vec<u8>,
    pub stepping: u32,
    /// Microcode revision; the line is left out when `None` (as Linux does for 0).
    pub microcode: Option<u32>,
    /// TSC frequency in kHz; the `cpu MHz` line is left out when unknown.
    pub khz: Option<u64>,
    /// Last-level cache in KiB; left out when unknown.
    pub cache_size_kb: Option<u32>,
    /// Highest standard CPUID leaf.
    pub cpuid_level: u32,
    /// Linux's names of the CPU's features, in Linux's order (`fpu vme de pse tsc …`).
    pub flags: Vec<&'static str>,
    /// Known hardware bugs, Linux's names (`spectre_v1 …`); often empty under a VM.
    pub bugs: Vec<&'static str>,
    pub clflush_size: u32,
    pub cache_alignment: u32,
    pub physical_address_bits: u32,
    pub virtual_address_bits: u32,
}

/// The processes, by pid: how `/proc/self` and `/proc/<pid>` find a process.
pub trait ProcessSource: Send + Sync {
    /// The process making the current system call, if any.
    fn current(&self) -> Option<Arc<dyn ProcessView>>;
    /// Process `pid`. The default knows only the current process.
    fn process(&self, pid: u32) -> Option<Arc<dyn ProcessView>> {
        self.current().filter(|process| process.pid() == pid)
    }
    /// All pids, in any order. The default knows only the current process.
    fn pids(&self) -> Vec<u32> {
        self.current()
            .map(|process| process.pid())
            .into_iter()
            .collect()
    }
    /// The thread making the current system call (its tid); the default: the process's.
    fn current_tid(&self) -> Option<u32> {
        self.current().map(|process| process.pid())
    }
    /// The thread ids of process `pid` (`/proc/<pid>/task/`); each is found as
    /// [`ProcessSource::process`] of its tid. The default: one thread, the process.
    fn threads(&self, pid: u32) -> Vec<u32> {
        self.process(pid).map(|_| pid).into_iter().collect()
    }
}

/// A closure returning the current process's view is a whole source for a kernel with
/// one process.
impl<F> ProcessSource for F
where
    F: Fn() -> Option<Arc<dyn ProcessView>> + Send + Sync,
{
    fn current(&self) -> Option<Arc<dyn ProcessView>> {
        self()
    }
}

/// One process as `/proc/<pid>` shows it. The optional methods have defaults that are
/// true of a freshly started single-threaded process.
pub trait ProcessView: Send + Sync {
    /// Its id: a process's pid, or a thread's tid (`/proc/<pid>/task/<tid>`).
    fn pid(&self) -> u32;
    /// The process it belongs to (`Tgid:`): itself unless it is a thread of another.
    fn tgid(&self) -> u32 {
        self.pid()
    }
    /// 0 for the container's init (its parent is outside the namespace).
    fn parent_pid(&self) -> u32;
    /// The command name (`comm`): the executable's base name, at most 15 bytes.
    fn comm(&self) -> Vec<u8>;
    /// The argument strings, each ending in NUL, as `/proc/<pid>/cmdline` shows them
    /// (`ENOMEM` when the memory budget cannot hold their copy: up to `ARG_MAX`).
    fn cmdline(&self) -> Result<Vec<u8>, Errno>;
    /// The environment strings, each ending in NUL (`ENOMEM` as for `cmdline`).
    fn environ(&self) -> Result<Vec<u8>, Errno>;
    /// The auxiliary vector its exec wrote, as `/proc/<pid>/auxv` shows it: the pairs as
    /// little-endian words, `AT_NULL` included; empty for a process that has none.
    fn auxv(&self) -> Vec<u8> {
        Vec::new()
    }
    /// Absolute paths of the working directory, the executable and the root.
    fn cwd(&self) -> Vec<u8>;
    fn exe(&self) -> Vec<u8>;
    fn root(&self) -> Vec<u8> {
        b"/".to_vec()
    }
    /// What `/proc/<pid>/cwd` reads: [`cwd`](Self::cwd), or `ENAMETOOLONG` for a path
    /// longer than `PATH_MAX`.
    fn cwd_target(&self) -> Result<Vec<u8>, Errno> {
        Ok(self.cwd())
    }
    /// The open descriptors, in any order.
    fn fds(&self) -> Vec<OpenFd>;
    /// What `/proc/<pid>/fd/N` reads, built when read: the open file's path
    /// (`ENAMETOOLONG` past `PATH_MAX`, as Linux's `d_path`) or `pipe:[ino]`; `ENOENT`
    /// once `fd` is closed.
    fn fd_target(&self, fd: i32) -> Result<Vec<u8>, Errno>;
    /// Where descriptor `fd`'s open file is: what following `/proc/<pid>/fd/N` reaches.
    fn fd_location(&self, fd: i32) -> Result<vfs_core::Location, Errno>;
    fn ids(&self) -> ProcessIds;
    /// The mount table as seen from this process's root: vfs-core's
    /// `MountNamespace::proc_mounts(&fs_context.root)` (`ENOMEM` when the budget cannot
    /// hold the text).
    fn mounts(&self) -> Result<Vec<u8>, Errno>;
    /// The same table in `mountinfo`'s format: `MountNamespace::proc_mountinfo`.
    fn mountinfo(&self) -> Result<Vec<u8>, Errno>;

    fn state(&self) -> ProcessState {
        ProcessState::Running
    }
    fn umask(&self) -> u32 {
        0o022
    }
    fn threads(&self) -> u32 {
        1
    }
    /// CPU time in nanoseconds: the process's own `[user, system]` (all its threads'),
    /// then its reaped children's.
    fn process_cpu_times(&self) -> [u64; 4] {
        [0; 4]
    }
    /// The CPUs the thread may run on and the CPUs online, as masks.
    fn cpu_masks(&self) -> (u64, u64) {
        (1, 1)
    }
    fn memory(&self) -> ProcessMemory {
        ProcessMemory::default()
    }
    /// Nanoseconds after boot at which the process started.
    fn start_time_ns(&self) -> u64 {
        0
    }
    /// Process-group and session ids; by default the process leads both.
    fn process_group(&self) -> u32 {
        self.pid()
    }
    fn session(&self) -> u32 {
        self.pid()
    }
    /// Signal masks (bit `n - 1` for signal `n`).
    fn signals(&self) -> SignalMasks {
        SignalMasks::default()
    }
    /// The areas of its memory, lowest first (`/proc/<pid>/maps`); none once it ended.
    /// `ENOMEM` when the memory budget cannot hold the list (a container can make it
    /// 65530 areas, each named by a path of up to `PATH_MAX`).
    fn maps(&self) -> Result<Vec<MapArea>, Errno> {
        Ok(Vec::new())
    }
    /// What `/proc/<pid>/fdinfo/N` shows of descriptor `fd` (`ENOENT` once it is closed).
    fn fd_info(&self, fd: i32) -> Result<FdInfo, Errno> {
        let _ = fd;
        Err(Errno::ENOENT)
    }
}

/// One area of a process's memory, as a line of `/proc/<pid>/maps`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapArea {
    pub start: u64,
    pub end: u64,
    pub read: bool,
    pub write: bool,
    pub execute: bool,
    pub shared: bool,
    /// Offset into the file, for a file's area.
    pub offset: u64,
    /// The file's device (`st_dev`) and inode number; 0 for anonymous memory.
    pub device: u64,
    pub ino: u64,
    /// The file's path, `[heap]`, `[stack]`, or empty.
    pub name: Vec<u8>,
}

/// An open descriptor's `fdinfo`: its offset, open flags (with `O_CLOEXEC` when the
/// descriptor has it), mount id and inode number, and the lines its kind of file adds
/// (an eventfd's count, an epoll's items…).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FdInfo {
    pub position: u64,
    pub flags: u32,
    pub mount_id: u64,
    pub ino: u64,
    pub extra: String,
}

/// One open descriptor: its number and its access mode, which sets the link's
/// permissions as on Linux (its path is [`ProcessView::fd_target`], built on demand).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenFd {
    pub fd: i32,
    pub readable: bool,
    pub writable: bool,
}

/// Real, effective, saved and filesystem ids, and the supplementary groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessIds {
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub groups: Vec<u32>,
    /// Capability sets as `/proc/<pid>/status` lists them: inheritable, permitted,
    /// effective, bounding, ambient.
    pub caps: [u64; 5],
    pub no_new_privs: bool,
}

impl ProcessIds {
    /// Every id the same, no supplementary groups.
    pub fn single(uid: u32, gid: u32) -> ProcessIds {
        let all = vfs_core::cap::ALL;
        let held = if uid == 0 { all } else { 0 };
        ProcessIds {
            uid: [uid; 4],
            gid: [gid; 4],
            groups: Vec::new(),
            caps: [0, held, held, all, 0],
            no_new_privs: false,
        }
    }

    pub fn effective_uid(&self) -> u32 {
        self.uid[1]
    }

    pub fn effective_gid(&self) -> u32 {
        self.gid[1]
    }
}

/// What `State:` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessState {
    Running,
    Sleeping,
    DiskSleep,
    Stopped,
    Zombie,
    Dead,
}

impl ProcessState {
    /// The letter of `/proc/<pid>/stat` and the text of `status`, as `task_state_array`.
    pub fn letter_and_name(self) -> (char, &'static str) {
        match self {
            ProcessState::Running => ('R', "running"),
            ProcessState::Sleeping => ('S', "sleeping"),
            ProcessState::DiskSleep => ('D', "disk sleep"),
            ProcessState::Stopped => ('T', "stopped"),
            ProcessState::Zombie => ('Z', "zombie"),
            ProcessState::Dead => ('X', "dead"),
        }
    }
}

/// Address-space figures in bytes, classed as Linux's `vm_stat_account` classes areas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessMemory {
    /// Mapped virtual memory (`VmSize`, `vsize`).
    pub virtual_size: u64,
    /// Resident memory (`VmRSS`, `rss` in pages).
    pub resident: u64,
    /// The most resident memory so far (`VmHWM`).
    pub peak_resident: u64,
    /// The highest `virtual_size` so far (`VmPeak`).
    pub peak_virtual_size: u64,
    /// Private writable areas other than the stack (`VmData`).
    pub data: u64,
    /// The stack area (`VmStk`).
    pub stack: u64,
    /// The program's text (`VmExe`, `end_code - start_code`).
    pub text: u64,
    /// Executable, unwritable areas beyond the program's text (`VmLib`).
    pub libraries: u64,
    /// Page tables (`VmPTE`).
    pub page_tables: u64,
}

/// Pending, blocked, ignored and caught signals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignalMasks {
    pub pending: u64,
    pub blocked: u64,
    pub ignored: u64,
    pub caught: u64,
}
