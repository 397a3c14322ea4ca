//! What `/proc` shows, from the kernel's side: the system ([`KernelSystem`]) and each
//! process (its [`Task`]).
//!
//! Everything is read when `/proc` is read, from the live objects: the task table for
//! parent, group, session and state; the task's parts for descriptors, directories,
//! memory and the argument strings (read from the process's own memory, as Linux does).
//! Nothing is published per system call. Paths are built only when `/proc/<pid>/fd/N`
//! or `cwd` is read, and one longer than `PATH_MAX` is not built at all (`ENAMETOOLONG`,
//! as Linux's `d_path` gives there).
//!
//! Locks: the task table is released before a task's locks are taken, and a task's part
//! is locked only for the one read (see [`crate::task::shared`]); no vfs-core lock is
//! held across any of them.

use alloc::sync::Arc;
use alloc::vec::Vec;

use vfs_core::{Errno, Location};

use crate::exec::stack::MAX_STRINGS;
use crate::fs::proc::{
    self, CpuInfo, FdInfo, MapArea, MemoryInfo, OpenFd, ProcSources, ProcessIds, ProcessMemory,
    ProcessSource, ProcessState, ProcessView, SignalMasks, SystemView,
};
use crate::mm::address_space::PageSource;
use crate::mm::vma::Protection;
use crate::task::shared::Task;

struct KernelSystem;

/// The spec's `linux.sysctl`, set once before the namespace (and its `/proc`) is built.
static SYSCTL: spin::Once<Vec<crate::container::spec::Sysctl>> = spin::Once::new();

/// Applies the spec's `linux.sysctl`: `/proc/sys` shows each key (proc is built after
/// this), `kernel.hostname`/`kernel.domainname` set the UTS names, after the spec's
/// `hostname` as runc writes them, and `fs.pipe-user-pages-soft`/`-hard` the pipe user
/// limits (a value that is not a number leaves the default, as Linux's write refuses it).
pub fn apply_sysctl(settings: &[crate::container::spec::Sysctl]) {
    SYSCTL.call_once(|| settings.to_vec());
    let pipes = &crate::fs::pipe::accounting::PIPE_USERS;
    for setting in settings {
        let names: Vec<&str> = setting.path().collect();
        let number = || {
            let parsed = setting.value.trim().parse::<u64>();
            if parsed.is_err() {
                log::warn!(
                    "sysctl {}: {:?} is not a number",
                    setting.key,
                    setting.value
                );
            }
            parsed.ok()
        };
        match names[..] {
            ["kernel", "hostname"] => crate::syscall::set_hostname(setting.value.as_bytes()),
            ["kernel", "domainname"] => crate::syscall::set_domainname(setting.value.as_bytes()),
            ["fs", "pipe-user-pages-soft"] => {
                if let Some(soft) = number() {
                    pipes.set_limits(soft, pipes.limits().1);
                }
            }
            ["vm", "overcommit_memory"] => {
                if let Some(mode) = number().and_then(|mode| u8::try_from(mode).ok()) {
                    crate::mm::overcommit::set_mode(mode);
                }
            }
            ["fs", "pipe-user-pages-hard"] => {
                if let Some(hard) = number() {
                    pipes.set_limits(pipes.limits().0, hard);
                }
            }
            _ => {}
        }
    }
}

impl SystemView for KernelSystem {
    fn memory(&self) -> MemoryInfo {
        let (total, _) = arch::memory::memory_totals();
        // Free is what the container may still take: its budget's room.
        let free = crate::mm::budget::available_to_container();
        // Cached file pages can be read again, so they count as available (an upper
        // bound: pages also mapped by a program are not freed by dropping the cache).
        let cached = (crate::mm::page_cache::cached_pages() + crate::mm::writeback::cached_pages())
            as u64
            * vfs_core::PAGE_SIZE as u64;
        MemoryInfo {
            total,
            free,
            available: free + cached,
            cached,
            slab: arch::heap::stats().allocated_bytes as u64,
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

    fn cpu_count(&self) -> u32 {
        crate::fs::sysfs::cpu_count()
    }

    fn uptime_ns(&self) -> u64 {
        crate::clock::monotonic_ns() as u64
    }

    fn idle_ns(&self) -> u64 {
        crate::task::scheduler::cpu_times()
            .iter()
            .map(|cpu| cpu.idle_ns)
            .sum()
    }

    fn cpu_times(&self) -> Vec<crate::fs::proc::CpuTimes> {
        crate::task::scheduler::cpu_times()
    }

    fn context_switches(&self) -> u64 {
        crate::task::scheduler::context_switches()
    }

    fn running_threads(&self) -> usize {
        crate::task::scheduler::runnable_threads()
    }

    fn boot_time_secs(&self) -> u64 {
        ((crate::clock::realtime_ns() - crate::clock::monotonic_ns()) / 1_000_000_000).max(0) as u64
    }

    fn hostname(&self) -> Vec<u8> {
        crate::syscall::hostname()
    }

    fn domainname(&self) -> Vec<u8> {
        crate::syscall::domainname()
    }

    fn sysctl(&self) -> Vec<crate::container::spec::Sysctl> {
        SYSCTL.get().cloned().unwrap_or_default()
    }

    fn release(&self) -> Vec<u8> {
        crate::syscall::RELEASE.to_vec()
    }

    fn version(&self) -> Vec<u8> {
        crate::syscall::VERSION.to_vec()
    }

    fn file_locks(&self) -> Vec<crate::fs::locks::table::LockLine> {
        crate::fs::locks::lines()
    }
}

/// What proc shows of a process, read from its task when proc asks: nothing is kept up
/// to date per system call. A part is looked up through the task's handles and locked
/// for the one read ([`crate::task::shared`]'s lock rules); an ended process (a zombie)
/// has no parts and shows empty contents, as Linux's zombies do.
impl ProcessView for Task {
    fn pid(&self) -> u32 {
        Task::pid(self)
    }
    fn tgid(&self) -> u32 {
        crate::task::lifecycle::tgid_of(Task::pid(self)).unwrap_or(Task::pid(self))
    }
    fn threads(&self) -> u32 {
        let count = crate::task::lifecycle::threads_of(ProcessView::tgid(self)).len();
        u32::try_from(count.max(1)).unwrap_or(u32::MAX)
    }
    fn process_cpu_times(&self) -> [u64; 4] {
        use crate::task::lifecycle::{children_cpu_time, cpu_time_of};
        let tgid = ProcessView::tgid(self);
        let own = cpu_time_of(tgid);
        let children = children_cpu_time(tgid);
        [
            own.user_ns,
            own.system_ns,
            children.user_ns,
            children.system_ns,
        ]
    }
    fn cpu_masks(&self) -> (u64, u64) {
        use crate::syscall::scheduling::{affinity_of, online_cpus};
        (affinity_of(Task::pid(self)), online_cpus())
    }
    fn parent_pid(&self) -> u32 {
        // The init's parent is outside the container: 0, as Linux shows it there.
        match ProcessView::tgid(self) {
            1 => 0,
            pid => crate::task::lifecycle::parent_of(pid),
        }
    }
    fn comm(&self) -> Vec<u8> {
        self.image().name
    }
    fn cmdline(&self) -> Result<Vec<u8>, Errno> {
        read_strings(self, self.image().args)
    }
    fn environ(&self) -> Result<Vec<u8>, Errno> {
        read_strings(self, self.image().env)
    }
    fn auxv(&self) -> Vec<u8> {
        // A zombie has no address space, and Linux shows it no vector.
        let auxv = self.image().auxv;
        if self.parts().mm.is_none() || auxv.is_empty() {
            return Vec::new();
        }
        crate::exec::auxv::to_bytes(&auxv)
    }
    fn cwd(&self) -> Vec<u8> {
        self.cwd_target().unwrap_or_default()
    }
    fn cwd_target(&self) -> Result<Vec<u8>, Errno> {
        let (cwd, root) = directories(self).ok_or(Errno::ENOENT)?;
        Ok(vfs_core::path::absolute_path_max(&cwd, &root)?.unwrap_or_else(|| b"/".to_vec()))
    }
    fn root(&self) -> Vec<u8> {
        // The root's path in the namespace: `/` unless the process called `chroot`.
        let Some(fs) = self.parts().fs else {
            return b"/".to_vec();
        };
        let (root, top) = {
            let fs = fs.lock();
            (fs.root.clone(), fs.ns.root())
        };
        vfs_core::path::absolute_path_max(&root, &top)
            .ok()
            .flatten()
            .unwrap_or_else(|| b"/".to_vec())
    }
    fn exe(&self) -> Vec<u8> {
        self.image().exe
    }
    fn fds(&self) -> Vec<OpenFd> {
        let Some(files) = self.parts().files else {
            return Vec::new();
        };
        let files = files.lock();
        files
            .descriptors()
            .filter_map(|fd| {
                let flags = files.get(fd).ok()?.flags();
                Some(OpenFd {
                    fd,
                    readable: flags.readable(),
                    writable: flags.writable(),
                })
            })
            .collect()
    }
    fn fd_target(&self, fd: i32) -> Result<Vec<u8>, Errno> {
        let parts = self.parts();
        let file = parts
            .files
            .and_then(|files| files.lock().get(fd).ok().cloned())
            .ok_or(Errno::ENOENT)?;
        if crate::fs::pipe::is_anonymous_pipe(&file) {
            return Ok(alloc::format!("pipe:[{}]", file.inode().ino()).into_bytes());
        }
        if let Some(name) = crate::fs::event::anon_name(&file) {
            return Ok(alloc::format!("anon_inode:{name}").into_bytes());
        }
        if crate::net::unix::is_socket_file(&file) {
            return Ok(alloc::format!("socket:[{}]", file.inode().ino()).into_bytes());
        }
        if let Some(name) = crate::fs::shmem::display_name(file.location()) {
            return Ok(name);
        }
        let (_, root) = directories(self).ok_or(Errno::ENOENT)?;
        Ok(vfs_core::path::absolute_path_max(file.location(), &root)?
            .unwrap_or_else(|| b"/".to_vec()))
    }
    fn fd_location(&self, fd: i32) -> Result<Location, Errno> {
        let parts = self.parts();
        let file = parts
            .files
            .and_then(|files| files.lock().get(fd).ok().cloned())
            .ok_or(Errno::ENOENT)?;
        // A socket has no node to open again: Linux's open of it is `ENXIO`.
        if crate::net::unix::is_socket_file(&file) {
            return Err(Errno::ENXIO);
        }
        Ok(file.location().clone())
    }
    fn ids(&self) -> ProcessIds {
        self.with_identity(|identity| {
            let (ids, caps) = (&identity.ids, &identity.caps);
            ProcessIds {
                uid: [ids.uid, ids.euid, ids.suid, ids.euid],
                gid: [ids.gid, ids.egid, ids.sgid, ids.egid],
                groups: ids.groups.clone(),
                caps: [
                    caps.inheritable,
                    caps.permitted,
                    caps.effective,
                    caps.bounding,
                    caps.ambient,
                ],
                no_new_privs: caps.no_new_privs,
            }
        })
    }
    fn umask(&self) -> u32 {
        self.parts().fs.map_or(0o022, |fs| fs.lock().umask)
    }
    fn state(&self) -> ProcessState {
        use crate::task::lifecycle::{ProcessRunState, run_state};
        let pid = Task::pid(self);
        match run_state(pid) {
            ProcessRunState::Zombie => ProcessState::Zombie,
            ProcessRunState::Stopped => ProcessState::Stopped,
            ProcessRunState::Running if crate::task::lifecycle::current_tid() == Some(pid) => {
                ProcessState::Running
            }
            ProcessRunState::Running => ProcessState::Sleeping,
        }
    }
    fn memory(&self) -> ProcessMemory {
        let Some(mm) = self.parts().mm else {
            return ProcessMemory::default();
        };
        let mm = mm.lock();
        // Linux's `vm_stat_account` classes: the stack is the area exec left the stack
        // pointer in (`VM_GROWSDOWN`), text and libraries are executable areas nobody
        // writes, data the private writable ones.
        let stack_pointer = mm.start_stack();
        let mut memory = ProcessMemory::default();
        let mut executable = 0;
        for area in mm.areas() {
            let size = area.end - area.start;
            memory.virtual_size += size;
            let writable = area.protection.contains(Protection::WRITE);
            if (area.start..area.end).contains(&stack_pointer) {
                memory.stack += size;
            } else if writable && !area.backing.is_shared() {
                memory.data += size;
            } else if area.protection.contains(Protection::EXEC) && !writable {
                executable += size;
            }
        }
        let (start_code, end_code) = mm.code_range();
        let (pages, peak_pages, table_frames) = mm.page_counts();
        let page = vfs_core::PAGE_SIZE as u64;
        memory.text = end_code - start_code;
        memory.libraries = executable.saturating_sub(memory.text);
        memory.resident = pages * page;
        memory.peak_resident = peak_pages * page;
        memory.page_tables = table_frames * page;
        memory.peak_virtual_size = memory.virtual_size;
        memory
    }
    fn signals(&self) -> SignalMasks {
        let [pending, _shared, blocked, ignored, caught] =
            crate::task::lifecycle::signal_masks(Task::pid(self)).unwrap_or_default();
        SignalMasks {
            pending,
            blocked,
            ignored,
            caught,
        }
    }
    fn start_time_ns(&self) -> u64 {
        self.started_ns().max(0) as u64
    }
    fn process_group(&self) -> u32 {
        crate::task::lifecycle::group_and_session(Task::pid(self)).0
    }
    fn session(&self) -> u32 {
        crate::task::lifecycle::group_and_session(Task::pid(self)).1
    }
    fn maps(&self) -> Result<Vec<MapArea>, Errno> {
        let Some(mm) = self.parts().mm else {
            return Ok(Vec::new());
        };
        // What the copies below hold is charged as they grow, and they grow fallibly:
        // 65530 areas named by long paths must meet the budget, not the heap's end.
        let mut charge = crate::mm::budget::budget().empty_charge();
        // The areas are copied out under the lock; the files' names and attributes are
        // looked up after it is released (a 9p `getattr` may be a round trip).
        let (areas, (brk_start, brk), start_stack) = {
            let mm = mm.lock();
            let (brk_start, brk) = mm.brk_range();
            // At most two entries an area (the break splits one).
            let most = 2 * mm.areas().count();
            charge
                .grow((most * core::mem::size_of::<(u64, u64, Protection, PageSource)>()) as u64)?;
            let mut areas = Vec::new();
            areas.try_reserve_exact(most).map_err(|_| Errno::ENOMEM)?;
            for area in mm.areas() {
                // The break's memory joins an anonymous area that ends where it starts
                // (a program's bss) into one area here; Linux keeps them apart, the
                // heap alone named `[heap]`, and so does this listing.
                let heap_inside = matches!(area.backing, PageSource::Anonymous)
                    && brk > brk_start
                    && area.start < brk_start
                    && brk_start < area.end;
                if heap_inside {
                    areas.push((
                        area.start,
                        brk_start,
                        area.protection,
                        PageSource::Anonymous,
                    ));
                    areas.push((brk_start, area.end, area.protection, PageSource::Anonymous));
                } else {
                    areas.push((area.start, area.end, area.protection, area.backing.clone()));
                }
            }
            (areas, (brk_start, brk), mm.start_stack())
        };
        let root = directories(self).map(|(_, root)| root);
        charge.grow((areas.len() * core::mem::size_of::<MapArea>()) as u64)?;
        let mut listed = Vec::new();
        listed
            .try_reserve_exact(areas.len())
            .map_err(|_| Errno::ENOMEM)?;
        let described = areas.into_iter().map(|(start, end, protection, backing)| {
            let mut area = MapArea {
                start,
                end,
                read: protection.contains(Protection::READ),
                write: protection.contains(Protection::WRITE),
                execute: protection.contains(Protection::EXEC),
                ..MapArea::default()
            };
            match backing {
                PageSource::File {
                    inode,
                    location,
                    offset,
                    ..
                } => {
                    area.offset = offset;
                    area.ino = inode.ino();
                    area.device = inode.getattr().map_or(0, |stat| stat.dev);
                    area.name = root
                        .as_ref()
                        .and_then(|root| vfs_core::path::absolute_path_max(&location, root).ok()?)
                        .unwrap_or_default();
                }
                PageSource::Shared(mapping) => {
                    // The vDSO's areas: named, private, of no file (Linux's
                    // special mappings).
                    if let Some(name) = crate::process::vdso::name_of(&mapping.inode) {
                        area.name = name.to_vec();
                        return area;
                    }
                    area.offset = mapping.offset;
                    area.shared = mapping.shared;
                    area.ino = mapping.inode.ino();
                    area.device = mapping.inode.getattr().map_or(0, |stat| stat.dev);
                    area.name = crate::fs::shmem::display_name(&mapping.location)
                        .or_else(|| {
                            root.as_ref().and_then(|root| {
                                vfs_core::path::absolute_path_max(&mapping.location, root).ok()?
                            })
                        })
                        .unwrap_or_default();
                }
                // Linux's `vma_is_initial_heap`.
                PageSource::Anonymous if start < brk && end > brk_start => {
                    area.name = b"[heap]".to_vec();
                }
                PageSource::Anonymous if start <= start_stack && end >= start_stack => {
                    area.name = b"[stack]".to_vec();
                }
                PageSource::Anonymous => {}
            }
            area
        });
        for area in described {
            // A name is at most `PATH_MAX`: made before it is charged, within the
            // working memory every call has paid for.
            charge.grow(area.name.capacity() as u64)?;
            listed.push(area);
        }
        Ok(listed)
    }
    fn fd_info(&self, fd: i32) -> Result<FdInfo, Errno> {
        const O_CLOEXEC: u32 = 0o2_000_000;
        const O_LARGEFILE: u32 = 0o100_000;
        let files = self.parts().files.ok_or(Errno::ENOENT)?;
        let (file, close_on_exec) = {
            let files = files.lock();
            let file = files.get(fd).map_err(|_| Errno::ENOENT)?.clone();
            (file, files.close_on_exec(fd).unwrap_or(false))
        };
        // Linux opens every file with `O_LARGEFILE` on 64-bit; pipes, sockets and event
        // files are made without it, and an event file has no position.
        let event_file = crate::fs::event::is_event_file(&file);
        let mut flags = file.flags().bits();
        if !crate::fs::pipe::is_anonymous_pipe(&file)
            && !event_file
            && !crate::net::unix::is_socket_file(&file)
        {
            flags |= O_LARGEFILE;
        }
        if close_on_exec {
            flags |= O_CLOEXEC;
        }
        Ok(FdInfo {
            position: if event_file { 0 } else { file.position() },
            flags,
            mount_id: file.location().mount.id(),
            ino: file.inode().ino(),
            extra: crate::fs::event::fdinfo(&file),
        })
    }
    fn mounts(&self) -> Result<Vec<u8>, Errno> {
        let Some(fs) = self.parts().fs else {
            return Ok(Vec::new());
        };
        let (namespace, root) = {
            let fs = fs.lock();
            (fs.ns.clone(), fs.root.clone())
        };
        namespace.proc_mounts(&root)
    }
    fn mountinfo(&self) -> Result<Vec<u8>, Errno> {
        let Some(fs) = self.parts().fs else {
            return Ok(Vec::new());
        };
        let (namespace, root) = {
            let fs = fs.lock();
            (fs.ns.clone(), fs.root.clone())
        };
        namespace.proc_mountinfo(&root)
    }
}

/// The working directory and root of `task`, if it has not ended.
fn directories(task: &Task) -> Option<(Location, Location)> {
    let fs = task.parts().fs?;
    let fs = fs.lock();
    Some((fs.cwd.clone(), fs.root.clone()))
}

/// The bytes of `range` in `task`'s memory (its argument or environment strings); empty
/// once it has ended or if the memory is gone (unmapped by the program).
/// The strings in `range` of the task's memory (its arguments or environment): charged to
/// the budget while the copy is made, and allocated fallibly (`ENOMEM`).
fn read_strings(task: &Task, range: core::ops::Range<u64>) -> Result<Vec<u8>, Errno> {
    let Some(mm) = task.parts().mm else {
        return Ok(Vec::new());
    };
    let len = (range.end.saturating_sub(range.start) as usize).min(MAX_STRINGS);
    let _charge = crate::mm::budget::budget().charge(len as u64)?;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(len).map_err(|_| Errno::ENOMEM)?;
    bytes.resize(len, 0);
    match mm.lock().read(range.start, &mut bytes) {
        Ok(()) => Ok(bytes),
        Err(_) => Ok(Vec::new()),
    }
}

/// The processes for proc: the task table's tasks, the caller found through it.
struct Processes;

impl ProcessSource for Processes {
    fn current(&self) -> Option<Arc<dyn ProcessView>> {
        self.process(crate::task::lifecycle::current_pid()?)
    }

    fn process(&self, pid: u32) -> Option<Arc<dyn ProcessView>> {
        let task = crate::task::lifecycle::task_of(pid)?;
        Some(task as Arc<dyn ProcessView>)
    }

    fn pids(&self) -> Vec<u32> {
        crate::task::lifecycle::pids()
    }

    fn threads(&self, pid: u32) -> Vec<u32> {
        crate::task::lifecycle::threads_of(pid)
    }

    fn current_tid(&self) -> Option<u32> {
        crate::task::lifecycle::current_tid()
    }
}

/// Registers the views with proc; call once before the container's namespace is built.
pub fn register() {
    proc::register(ProcSources {
        system: Arc::new(KernelSystem),
        processes: Arc::new(Processes),
    });
}
