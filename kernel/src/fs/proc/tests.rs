//! proc through a real vfs-core namespace (tmpfs root, tmpfs mounts, proc on `/proc`),
//! with fake system and process views: the exact texts Linux writes, the links, the
//! descriptor directory, and what a reader sees when processes and descriptors change.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use spin::Mutex;
use vfs_core::attr::fs_magic::PROC_SUPER_MAGIC;
use vfs_core::{At, Errno, FileType, FsContext, Location, MountFlags, MountNamespace, OpenFlags};

use super::process_dir::{parse_number, process_ino};
use super::system_files;
use super::*;
use crate::fs::locks::range::{Kind, Span};
use crate::fs::locks::table::{Class, FileKey, LockLine};
use crate::fs::testing::{list_dir, mounted_at, names, read_file, read_text};

const MIB: u64 = 1024 * 1024;

struct FakeSystem;

impl SystemView for FakeSystem {
    fn memory(&self) -> MemoryInfo {
        MemoryInfo {
            total: 512 * MIB,
            free: 400 * MIB,
            available: 450 * MIB,
            buffers: 0,
            cached: 50 * MIB,
            shmem: 50 * MIB,
            swap_total: 0,
            swap_free: 0,
            slab: 2 * MIB,
        }
    }
    fn cpu(&self) -> CpuInfo {
        test_cpu()
    }
    fn uptime_ns(&self) -> u64 {
        12_345_678_901
    }
    fn idle_ns(&self) -> u64 {
        10_050_000_000
    }
    fn boot_time_secs(&self) -> u64 {
        1_700_000_000
    }
    fn hostname(&self) -> Vec<u8> {
        b"sandbox-host".to_vec()
    }
    fn release(&self) -> Vec<u8> {
        b"6.1.0-sandbox".to_vec()
    }
    fn version(&self) -> Vec<u8> {
        b"#1 SMP PREEMPT_DYNAMIC sandbox kernel".to_vec()
    }
    fn file_locks(&self) -> Vec<LockLine> {
        vec![LockLine {
            class: Class::Posix,
            kind: Kind::Write,
            pid: 7,
            file: FileKey {
                dev: vfs_core::attr::make_dev(0, 0x21),
                ino: 12,
            },
            span: Span { start: 0, end: 99 },
        }]
    }
}

fn test_cpu() -> CpuInfo {
    CpuInfo {
        vendor_id: b"GenuineIntel".to_vec(),
        family: 6,
        model: 85,
        model_name: b"Intel(R) Xeon(R) CPU @ 3.00GHz".to_vec(),
        stepping: 7,
        microcode: Some(0x1),
        khz: Some(2_999_998),
        cache_size_kb: Some(16384),
        cpuid_level: 13,
        flags: vec!["fpu", "vme", "de", "pse", "tsc"],
        bugs: Vec::new(),
        clflush_size: 64,
        cache_alignment: 64,
        physical_address_bits: 40,
        virtual_address_bits: 48,
    }
}

/// A process whose descriptors and mount table the test controls.
/// A descriptor of the fake process, with the path its link shows.
#[derive(Clone)]
struct FakeFd {
    fd: i32,
    target: Vec<u8>,
    readable: bool,
    writable: bool,
    /// Where the open file is, when the test says; else its target resolved as a path.
    location: Option<Location>,
}

struct FakeProcess {
    pid: u32,
    fds: Mutex<Vec<FakeFd>>,
    namespace: Mutex<Option<(Arc<MountNamespace>, Location)>>,
}

impl FakeProcess {
    fn new(pid: u32) -> Arc<FakeProcess> {
        let console = |fd, readable, writable| FakeFd {
            fd,
            target: b"/dev/console".to_vec(),
            readable,
            writable,
            location: None,
        };
        Arc::new(FakeProcess {
            pid,
            fds: Mutex::new(vec![
                console(0, true, false),
                console(1, false, true),
                console(2, true, true),
            ]),
            namespace: Mutex::new(None),
        })
    }
}

impl ProcessView for FakeProcess {
    fn pid(&self) -> u32 {
        self.pid
    }
    fn memory(&self) -> ProcessMemory {
        const KIB: u64 = 1024;
        ProcessMemory {
            virtual_size: 2400 * KIB,
            resident: 300 * KIB,
            peak_resident: 400 * KIB,
            peak_virtual_size: 2400 * KIB,
            data: 1000 * KIB,
            stack: 132 * KIB,
            text: 40 * KIB,
            libraries: 800 * KIB,
            page_tables: 16 * KIB,
        }
    }
    fn cpu_masks(&self) -> (u64, u64) {
        (0b1010, 0b1111)
    }
    fn process_cpu_times(&self) -> [u64; 4] {
        [15_000_000_000, 2_500_000_000, 0, 10_000_000]
    }
    fn parent_pid(&self) -> u32 {
        0
    }
    fn comm(&self) -> Vec<u8> {
        b"sh".to_vec()
    }
    fn cmdline(&self) -> Result<Vec<u8>, Errno> {
        Ok(b"/bin/sh\0-c\0echo hi\0".to_vec())
    }
    fn environ(&self) -> Result<Vec<u8>, Errno> {
        Ok(b"PATH=/bin\0HOME=/root\0".to_vec())
    }
    fn auxv(&self) -> Vec<u8> {
        crate::exec::auxv::to_bytes(&[(6, 4096), (7, 0x7fff_f000_0000), (0, 0)])
    }
    fn cwd(&self) -> Vec<u8> {
        b"/work".to_vec()
    }
    fn exe(&self) -> Vec<u8> {
        b"/bin/busybox".to_vec()
    }
    fn fds(&self) -> Vec<OpenFd> {
        self.fds
            .lock()
            .iter()
            .map(|open| OpenFd {
                fd: open.fd,
                readable: open.readable,
                writable: open.writable,
            })
            .collect()
    }
    fn fd_target(&self, fd: i32) -> Result<Vec<u8>, Errno> {
        self.fds
            .lock()
            .iter()
            .find(|open| open.fd == fd)
            .map(|open| open.target.clone())
            .ok_or(Errno::ENOENT)
    }
    fn fd_location(&self, fd: i32) -> Result<Location, Errno> {
        let (target, location) = self
            .fds
            .lock()
            .iter()
            .find(|open| open.fd == fd)
            .map(|open| (open.target.clone(), open.location.clone()))
            .ok_or(Errno::ENOENT)?;
        if let Some(location) = location {
            return Ok(location);
        }
        let (ns, _) = self.namespace.lock().clone().ok_or(Errno::ENOENT)?;
        FsContext::new(ns, vfs_core::Credentials::root()).resolve(At::Cwd, &target, true)
    }
    fn ids(&self) -> ProcessIds {
        ProcessIds {
            uid: [1000, 1000, 1000, 1000],
            gid: [1000, 1000, 1000, 1000],
            groups: vec![10, 1000],
            caps: [0, 0, 0, vfs_core::cap::ALL, 0],
            no_new_privs: false,
        }
    }
    fn maps(&self) -> Result<Vec<MapArea>, Errno> {
        Ok(vec![
            MapArea {
                start: 0x40_0000,
                end: 0x45_2000,
                read: true,
                execute: true,
                device: 0x802,
                ino: 173_521,
                name: b"/usr/bin/dbus-daemon".to_vec(),
                ..MapArea::default()
            },
            MapArea {
                start: 0x7f2c_4f4c_3000,
                end: 0x7f2c_4f4c_8000,
                read: true,
                write: true,
                ..MapArea::default()
            },
            MapArea {
                start: 0x7ffd_5e5a_0000,
                end: 0x7ffd_5e5c_1000,
                read: true,
                write: true,
                name: b"[stack]".to_vec(),
                ..MapArea::default()
            },
        ])
    }
    fn fd_info(&self, fd: i32) -> Result<FdInfo, Errno> {
        self.fds
            .lock()
            .iter()
            .find(|open| open.fd == fd)
            .map(|open| FdInfo {
                position: 12,
                flags: 0o100002 | if open.writable { 0o2_000_000 } else { 0 },
                mount_id: 26,
                ino: 4242,
                extra: String::new(),
            })
            .ok_or(Errno::ENOENT)
    }
    fn mounts(&self) -> Result<Vec<u8>, Errno> {
        match &*self.namespace.lock() {
            Some((namespace, root)) => namespace.proc_mounts(root),
            None => Ok(Vec::new()),
        }
    }
    fn mountinfo(&self) -> Result<Vec<u8>, Errno> {
        match &*self.namespace.lock() {
            Some((namespace, root)) => namespace.proc_mountinfo(root),
            None => Ok(Vec::new()),
        }
    }
}

/// The processes, and which one is "current".
#[derive(Default)]
struct FakeProcesses {
    all: Mutex<Vec<Arc<FakeProcess>>>,
    current: Mutex<Option<u32>>,
}

impl ProcessSource for FakeProcesses {
    fn current(&self) -> Option<Arc<dyn ProcessView>> {
        let pid = (*self.current.lock())?;
        self.process(pid)
    }
    fn process(&self, pid: u32) -> Option<Arc<dyn ProcessView>> {
        let found = self
            .all
            .lock()
            .iter()
            .find(|process| process.pid == pid)
            .cloned()?;
        Some(found)
    }
    fn pids(&self) -> Vec<u32> {
        self.all.lock().iter().map(|process| process.pid).collect()
    }
}

struct World {
    context: FsContext,
    processes: Arc<FakeProcesses>,
    init: Arc<FakeProcess>,
}

/// Pid 1 (current) in a namespace with proc on `/proc` (nosuid,nodev,noexec, as Docker
/// mounts it) and a file `/etc/passwd`.
fn world() -> World {
    world_of(Arc::new(FakeSystem))
}

fn world_of(system: Arc<dyn SystemView>) -> World {
    let processes = Arc::new(FakeProcesses::default());
    let init = FakeProcess::new(1);
    processes.all.lock().push(init.clone());
    *processes.current.lock() = Some(1);
    let sources = ProcSources {
        system,
        processes: processes.clone(),
    };
    let fs = super::new(sources, 3, crate::fs::testing::clock());
    let context = mounted_at(
        "/proc",
        fs,
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
    );
    context.mkdir(At::Cwd, b"/etc", 0o755).unwrap();
    let passwd = context
        .open(
            At::Cwd,
            b"/etc/passwd",
            OpenFlags::CREAT | OpenFlags::WRONLY,
            0o644,
        )
        .unwrap();
    passwd.write(b"root:x:0:0::/root:/bin/sh\n").unwrap();
    *init.namespace.lock() = Some((context.ns.clone(), context.root.clone()));
    World {
        context,
        processes,
        init,
    }
}

#[test]
fn meminfo_lines_use_linux_layout_label_15_value_8_kb() {
    let text = String::from_utf8(system_files::meminfo(&FakeSystem.memory())).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "MemTotal:         524288 kB");
    assert_eq!(lines[1], "MemFree:          409600 kB");
    assert_eq!(lines[2], "MemAvailable:     460800 kB");
    assert_eq!(lines[3], "Buffers:               0 kB");
    assert_eq!(lines[4], "Cached:            51200 kB");
    assert!(lines.contains(&"SwapTotal:             0 kB"));
    assert!(lines.contains(&"SwapFree:              0 kB"));
    assert!(lines.contains(&"Shmem:             51200 kB"));
    // The kernel heap is unreclaimable slab, and not anonymous memory.
    assert!(lines.contains(&"Slab:               2048 kB"));
    assert!(lines.contains(&"SUnreclaim:         2048 kB"));
    assert!(lines.contains(&"AnonPages:         61440 kB"), "{text}");
    assert!(lines.contains(&"HardwareCorrupted:     0 kB"));
    assert!(lines.contains(&"HugePages_Total:       0"));
    assert!(lines.contains(&"Hugepagesize:       2048 kB"));
    assert!(lines.iter().all(|line| line.len() >= 24), "{text}");
}

#[test]
fn cpuinfo_has_linux_x86_fields_for_processor_0() {
    let text = String::from_utf8(system_files::cpuinfo(&test_cpu(), 1)).unwrap();
    let expected = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\nmodel name\t: Intel(R) Xeon(R) CPU @ 3.00GHz\n\
        stepping\t: 7\nmicrocode\t: 0x1\ncpu MHz\t\t: 2999.998\ncache size\t: 16384 KB\nphysical id\t: 0\nsiblings\t: 1\ncore id\t\t: 0\n\
        cpu cores\t: 1\napicid\t\t: 0\ninitial apicid\t: 0\nfpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: 13\nwp\t\t: yes\n\
        flags\t\t: fpu vme de pse tsc\nbugs\t\t:\nbogomips\t: 5999.99\nclflush size\t: 64\ncache_alignment\t: 64\n\
        address sizes\t: 40 bits physical, 48 bits virtual\npower management:\n\n";
    assert_eq!(text, expected);
}

/// Several processors: a block each, numbered, each its own core of one package, as
/// Python's and glibc's parsers count them (`processor` lines, blank-line separated).
#[test]
fn cpuinfo_has_a_block_per_processor() {
    let text = String::from_utf8(system_files::cpuinfo(&test_cpu(), 2)).unwrap();
    let blocks: Vec<&str> = text
        .split("\n\n")
        .filter(|block| !block.is_empty())
        .collect();
    assert_eq!(blocks.len(), 2);
    for (index, block) in blocks.iter().enumerate() {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|line| {
                    let (key, value) = line.split_once(':')?;
                    (key.trim_end() == name).then(|| value.trim().to_owned())
                })
                .unwrap()
        };
        assert_eq!(field("processor"), index.to_string());
        assert_eq!(field("core id"), index.to_string());
        assert_eq!(field("apicid"), index.to_string());
        assert_eq!(field("siblings"), "2");
        assert_eq!(field("cpu cores"), "2");
        assert_eq!(field("flags"), "fpu vme de pse tsc");
    }
    assert!(text.ends_with("power management:\n\n"));
    // No count at all still describes the one processor there is.
    assert_eq!(
        system_files::cpuinfo(&test_cpu(), 0),
        system_files::cpuinfo(&test_cpu(), 1)
    );
}

#[test]
fn uptime_is_seconds_dot_centiseconds_twice() {
    assert_eq!(
        system_files::uptime(12_345_678_901, 10_050_000_000),
        b"12.34 10.05\n"
    );
    assert_eq!(system_files::uptime(0, 0), b"0.00 0.00\n");
}

#[test]
fn version_follows_linux_proc_banner() {
    let world = world();
    assert_eq!(
        read_text(&world.context, "/proc/version"),
        "Linux version 6.1.0-sandbox (sandbox@sandbox) (rustc) #1 SMP PREEMPT_DYNAMIC sandbox kernel\n"
    );
}

#[test]
fn filesystems_lists_nodev_types() {
    let world = world();
    assert_eq!(
        read_text(&world.context, "/proc/filesystems"),
        "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevpts\nnodev\tramfs\nnodev\t9p\nnodev\toverlay\n"
    );
}

#[test]
fn locks_lists_the_held_locks() {
    let world = world();
    assert_eq!(
        read_text(&world.context, "/proc/locks"),
        "1: POSIX  ADVISORY  WRITE 7 00:21:12 0 99\n"
    );
}

/// A system whose spec set `linux.sysctl`.
struct SystemWithSysctl(Vec<crate::container::spec::Sysctl>);

impl SystemView for SystemWithSysctl {
    fn memory(&self) -> MemoryInfo {
        FakeSystem.memory()
    }
    fn cpu(&self) -> CpuInfo {
        test_cpu()
    }
    fn uptime_ns(&self) -> u64 {
        FakeSystem.uptime_ns()
    }
    fn boot_time_secs(&self) -> u64 {
        FakeSystem.boot_time_secs()
    }
    fn hostname(&self) -> Vec<u8> {
        FakeSystem.hostname()
    }
    fn release(&self) -> Vec<u8> {
        FakeSystem.release()
    }
    fn version(&self) -> Vec<u8> {
        FakeSystem.version()
    }
    fn file_locks(&self) -> Vec<LockLine> {
        Vec::new()
    }
    fn sysctl(&self) -> Vec<crate::container::spec::Sysctl> {
        self.0.clone()
    }
}

#[test]
fn proc_sys_shows_the_spec_sysctl_settings() {
    let setting = |key: &str, value: &str| crate::container::spec::Sysctl {
        key: key.into(),
        value: value.into(),
    };
    let world = world_of(Arc::new(SystemWithSysctl(vec![
        setting("net.ipv4.ping_group_range", "0 0"),
        setting("vm.overcommit_memory", "2"),
        setting("kernel.hostname", "from-sysctl"),
        setting("kernel/osrelease/x", "through a file"),
        setting("vm", "a directory"),
    ])));
    let read = |path: &str| read_text(&world.context, path);
    assert_eq!(read("/proc/sys/net/ipv4/ping_group_range"), "0 0\n");
    assert_eq!(read("/proc/sys/vm/overcommit_memory"), "2\n");
    assert_eq!(read("/proc/sys/vm/max_map_count"), "65530\n");
    // The UTS names stay live: the kernel set them from the spec.
    assert_eq!(read("/proc/sys/kernel/hostname"), "sandbox-host\n");
    assert_eq!(read("/proc/sys/kernel/osrelease"), "6.1.0-sandbox\n");
    assert_eq!(
        names(&world.context, "/proc/sys"),
        [".", "..", "fs", "kernel", "vm", "net"]
    );
}

#[test]
fn loadavg_and_stat_count_the_processes() {
    let world = world();
    assert_eq!(
        read_text(&world.context, "/proc/loadavg"),
        "0.00 0.00 0.00 1/1 1\n"
    );
    let stat = read_text(&world.context, "/proc/stat");
    assert!(
        stat.starts_with("cpu  229 0 0 1005 0 0 0 0 0 0\ncpu0 229 0 0 1005 0 0 0 0 0 0\n"),
        "{stat}"
    );
    assert!(
        stat.contains("\nbtime 1700000000\nprocesses 1\nprocs_running 1\nprocs_blocked 0\n"),
        "{stat}"
    );
}

#[test]
fn proc_self_links_to_the_current_pid_and_mounts_to_self_mounts() {
    let world = world();
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/self").unwrap(),
        b"1"
    );
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/mounts").unwrap(),
        b"self/mounts"
    );
    *world.processes.current.lock() = None;
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/self"),
        Err(Errno::ENOENT)
    );
}

#[test]
fn proc_mounts_shows_the_namespace_table_in_linux_format() {
    let world = world();
    let tmpfs = vfs_core::tmpfs::new(
        &vfs_core::tmpfs::TmpfsOptions::parse("mode=1777,size=64m").unwrap(),
        &vfs_core::tmpfs::TmpfsMemory::unbudgeted(1 << 30),
        8,
        crate::fs::testing::clock(),
    )
    .unwrap();
    world.context.mkdir(At::Cwd, b"/tmp", 0o755).unwrap();
    world
        .context
        .mount(
            At::Cwd,
            b"/tmp",
            tmpfs,
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
        )
        .unwrap();
    let mounts = read_text(&world.context, "/proc/mounts");
    let lines: Vec<&str> = mounts.lines().collect();
    assert_eq!(lines.len(), 3, "{mounts}");
    assert_eq!(lines[0], "rootfs / ramfs rw,relatime 0 0");
    assert_eq!(
        lines[1],
        "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0"
    );
    assert!(
        lines[2].starts_with("tmpfs /tmp tmpfs rw,nosuid,nodev,relatime,"),
        "{mounts}"
    );
    assert_eq!(
        read_file(&world.context, "/proc/self/mounts").unwrap(),
        mounts.as_bytes()
    );
    assert_eq!(
        read_file(&world.context, "/proc/1/mounts").unwrap(),
        mounts.as_bytes()
    );
    // mountinfo: the same mounts, each with its id, its parent's and the per-mount and
    // superblock options apart.
    let info = read_text(&world.context, "/proc/self/mountinfo");
    let lines: Vec<&str> = info.lines().collect();
    assert_eq!(lines.len(), 3, "{info}");
    assert!(
        lines[0].ends_with(" / / rw,relatime - ramfs rootfs rw"),
        "{info}"
    );
    assert!(
        lines[1].ends_with(" / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw"),
        "{info}"
    );
    assert!(
        lines[2].contains(" / /tmp rw,nosuid,nodev,relatime - tmpfs tmpfs rw,"),
        "{info}"
    );
    let root_id = lines[0].split(' ').next().unwrap();
    for line in &lines {
        assert_eq!(line.split(' ').nth(1), Some(root_id), "{info}");
    }
}

#[test]
fn fd_links_lead_to_the_open_file_whatever_their_text() {
    let world = world();
    let passwd = world
        .context
        .resolve(At::Cwd, b"/etc/passwd", true)
        .unwrap();
    world.init.fds.lock().push(FakeFd {
        fd: 9,
        target: b"pipe:[77]".to_vec(),
        readable: true,
        writable: false,
        location: Some(passwd),
    });
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/self/fd/9").unwrap(),
        b"pipe:[77]"
    );
    // The text names nothing; following goes to the file, even once it is unlinked.
    world.context.unlink(At::Cwd, b"/etc/passwd").unwrap();
    assert_eq!(
        read_text(&world.context, "/proc/self/fd/9"),
        "root:x:0:0::/root:/bin/sh\n"
    );
    // Not followed with O_NOFOLLOW: the link itself.
    assert_eq!(
        world
            .context
            .open(At::Cwd, b"/proc/self/fd/9", OpenFlags::NOFOLLOW, 0)
            .err(),
        Some(Errno::ELOOP)
    );
}

#[test]
fn fd_directory_lists_descriptors_as_symlinks_to_their_paths() {
    let world = world();
    world.init.fds.lock().push(FakeFd {
        fd: 5,
        target: b"/etc/passwd".to_vec(),
        readable: true,
        writable: false,
        location: None,
    });
    let listing = list_dir(&world.context, "/proc/self/fd");
    let entries: Vec<(&str, FileType)> = listing
        .iter()
        .map(|(name, _, file_type)| (name.as_str(), *file_type))
        .collect();
    assert_eq!(
        entries,
        [
            (".", FileType::Directory),
            ("..", FileType::Directory),
            ("0", FileType::Symlink),
            ("1", FileType::Symlink),
            ("2", FileType::Symlink),
            ("5", FileType::Symlink)
        ]
    );
    assert_eq!(listing[2].1, process_ino(1, 0x1_0000));
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/self/fd/1").unwrap(),
        b"/dev/console"
    );
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/1/fd/5").unwrap(),
        b"/etc/passwd"
    );
    // Following the link opens the file by its path.
    assert_eq!(
        read_text(&world.context, "/proc/self/fd/5"),
        "root:x:0:0::/root:/bin/sh\n"
    );
    // `/dev/fd` is a link to `/proc/self/fd`, so `/dev/fd/5` resolves the same way.
    world.context.mkdir(At::Cwd, b"/dev", 0o755).unwrap();
    world
        .context
        .symlink(b"/proc/self/fd", At::Cwd, b"/dev/fd")
        .unwrap();
    assert_eq!(
        read_text(&world.context, "/dev/fd/5"),
        "root:x:0:0::/root:/bin/sh\n"
    );
}

#[test]
fn fd_links_have_linux_modes_from_the_access_mode() {
    let world = world();
    let mode = |path: &str| {
        world
            .context
            .stat(At::Cwd, path.as_bytes(), false)
            .unwrap()
            .mode
    };
    assert_eq!(mode("/proc/1/fd/0"), 0o120500);
    assert_eq!(mode("/proc/1/fd/1"), 0o120300);
    assert_eq!(mode("/proc/1/fd/2"), 0o120700);
    let fd_dir = world.context.stat(At::Cwd, b"/proc/1/fd", false).unwrap();
    assert_eq!(
        (fd_dir.mode, fd_dir.uid, fd_dir.gid),
        (0o040500, 1000, 1000)
    );
}

#[test]
fn closed_and_new_descriptors_show_at_once() {
    let world = world();
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/self/fd/2").unwrap(),
        b"/dev/console"
    );
    world.init.fds.lock().retain(|open| open.fd != 2);
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/self/fd/2"),
        Err(Errno::ENOENT)
    );
    world.init.fds.lock().push(FakeFd {
        fd: 2,
        target: b"/etc/passwd".to_vec(),
        readable: true,
        writable: true,
        location: None,
    });
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/self/fd/2").unwrap(),
        b"/etc/passwd"
    );
    assert_eq!(
        world.context.stat(At::Cwd, b"/proc/self/fd/01", false),
        Err(Errno::ENOENT)
    );
}

#[test]
fn cwd_exe_root_are_links_and_cmdline_environ_comm_are_linux_texts() {
    let world = world();
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/self/cwd").unwrap(),
        b"/work"
    );
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/self/exe").unwrap(),
        b"/bin/busybox"
    );
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/self/root").unwrap(),
        b"/"
    );
    assert_eq!(
        read_file(&world.context, "/proc/self/cmdline").unwrap(),
        b"/bin/sh\0-c\0echo hi\0"
    );
    assert_eq!(
        read_file(&world.context, "/proc/self/environ").unwrap(),
        b"PATH=/bin\0HOME=/root\0"
    );
    assert_eq!(read_text(&world.context, "/proc/self/comm"), "sh\n");
    let environ = world
        .context
        .stat(At::Cwd, b"/proc/1/environ", false)
        .unwrap();
    assert_eq!(
        (environ.mode, environ.uid, environ.size),
        (0o100400, 1000, 0)
    );
}

/// `/proc/<pid>/auxv`: the pairs as native words with `AT_NULL` last, readable by the
/// owner only (Linux's `S_IRUSR`).
#[test]
fn auxv_is_the_binary_vector_for_the_owner_only() {
    let world = world();
    let bytes = read_file(&world.context, "/proc/self/auxv").unwrap();
    let words: Vec<u64> = bytes
        .chunks(8)
        .map(|word| u64::from_le_bytes(word.try_into().unwrap()))
        .collect();
    assert_eq!(words, [6, 4096, 7, 0x7fff_f000_0000, 0, 0]);
    let auxv = world.context.stat(At::Cwd, b"/proc/1/auxv", false).unwrap();
    assert_eq!((auxv.mode, auxv.uid), (0o100400, 1000));
}

#[test]
fn status_has_linux_lines_with_tabs() {
    let world = world();
    let status = read_text(&world.context, "/proc/self/status");
    let lines: Vec<&str> = status.lines().collect();
    assert_eq!(
        &lines[..7],
        [
            "Name:\tsh",
            "Umask:\t0022",
            "State:\tR (running)",
            "Tgid:\t1",
            "Ngid:\t0",
            "Pid:\t1",
            "PPid:\t0"
        ]
    );
    assert!(lines.contains(&"Uid:\t1000\t1000\t1000\t1000"));
    assert!(lines.contains(&"Gid:\t1000\t1000\t1000\t1000"));
    assert!(lines.contains(&"Groups:\t10 1000 "));
    assert!(lines.contains(&"FDSize:\t64"));
    for line in [
        "VmPeak:\t    2400 kB",
        "VmSize:\t    2400 kB",
        "VmHWM:\t     400 kB",
        "VmRSS:\t     300 kB",
        "VmData:\t    1000 kB",
        "VmStk:\t     132 kB",
        "VmExe:\t      40 kB",
        "VmLib:\t     800 kB",
        "VmPTE:\t      16 kB",
        "Cpus_allowed:\ta",
        "Cpus_allowed_list:\t1,3",
    ] {
        assert!(lines.contains(&line), "{line:?} in {status}");
    }
    assert!(lines.contains(&"Threads:\t1"));
    assert!(lines.contains(&"CapEff:\t0000000000000000"));
}

#[test]
fn stat_is_one_line_of_52_fields_starting_pid_comm_state_ppid() {
    let world = world();
    let stat = read_text(&world.context, "/proc/1/stat");
    assert!(stat.starts_with("1 (sh) R 0 1 1 0 -1 "), "{stat}");
    assert!(stat.ends_with('\n') && stat.lines().count() == 1);
    assert_eq!(stat.split_whitespace().count(), 52, "{stat}");
    let fields: Vec<&str> = stat.split_whitespace().collect();
    assert_eq!(
        fields[13..17],
        ["1500", "250", "0", "1"],
        "utime, stime, cutime, cstime in USER_HZ ticks: {stat}"
    );
}

#[test]
fn statm_counts_pages() {
    let world = world();
    assert_eq!(
        read_text(&world.context, "/proc/self/statm"),
        "600 75 0 10 0 283 0\n"
    );
}

#[test]
fn a_read_only_bind_mount_over_proc_sys_survives_revalidation_like_dockers_readonly_paths() {
    let world = world();
    world
        .context
        .bind_mount(
            At::Cwd,
            b"/proc/sys",
            At::Cwd,
            b"/proc/sys",
            MountFlags::RDONLY,
        )
        .unwrap();
    let stats = world.context.statfs(At::Cwd, b"/proc/sys/kernel").unwrap();
    assert_eq!(
        (stats.fs_type, stats.flags & 1),
        (PROC_SUPER_MAGIC, 1),
        "the walk reaches the read-only bind mount"
    );
    assert_eq!(
        read_text(&world.context, "/proc/sys/kernel/osrelease"),
        "6.1.0-sandbox\n"
    );
    assert!(
        read_text(&world.context, "/proc/mounts").contains("proc /proc/sys proc ro,relatime 0 0\n")
    );
}

#[test]
fn ls_la_proc_shows_linux_modes_and_owners() {
    let world = world();
    let root = world.context.stat(At::Cwd, b"/proc", false).unwrap();
    assert_eq!((root.mode, root.uid, root.ino), (0o040555, 0, 1));
    let listing = names(&world.context, "/proc");
    assert_eq!(listing[..2], [".", ".."]);
    assert!(
        listing.iter().any(|name| name == "self") && listing.iter().any(|name| name == "meminfo")
    );
    assert_eq!(
        listing.last().map(String::as_str),
        Some("1"),
        "pids come after the fixed entries"
    );
    let meminfo = world
        .context
        .stat(At::Cwd, b"/proc/meminfo", false)
        .unwrap();
    assert_eq!(
        (
            meminfo.mode,
            meminfo.size,
            meminfo.nlink,
            meminfo.uid,
            meminfo.blksize
        ),
        (0o100444, 0, 1, 0, 1024)
    );
    let self_link = world.context.stat(At::Cwd, b"/proc/self", false).unwrap();
    assert_eq!(self_link.mode, 0o120777);
    let process = world.context.stat(At::Cwd, b"/proc/1", true).unwrap();
    assert_eq!(
        (process.mode, process.uid, process.gid, process.ino),
        (0o040555, 1000, 1000, process_ino(1, 0))
    );
    assert_eq!(
        world
            .context
            .stat(At::Cwd, b"/proc/self", true)
            .unwrap()
            .ino,
        process.ino
    );
}

#[test]
fn statfs_reports_proc_super_magic() {
    let world = world();
    let stats = world.context.statfs(At::Cwd, b"/proc/self/fd").unwrap();
    assert_eq!(stats.fs_type, PROC_SUPER_MAGIC);
}

#[test]
fn a_process_that_ends_disappears_and_its_open_files_read_esrch() {
    let world = world();
    let status = world
        .context
        .open(At::Cwd, b"/proc/1/status", OpenFlags::empty(), 0)
        .unwrap();
    world.processes.all.lock().clear();
    let mut buf = [0u8; 64];
    assert_eq!(status.read(&mut buf), Err(Errno::ESRCH));
    assert_eq!(
        world.context.stat(At::Cwd, b"/proc/1", true),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        names(&world.context, "/proc")
            .iter()
            .filter(|name| name.as_str() == "1")
            .count(),
        0
    );
}

#[test]
fn other_processes_appear_as_their_own_directories() {
    let world = world();
    world.processes.all.lock().push(FakeProcess::new(42));
    assert!(names(&world.context, "/proc").ends_with(&[String::from("1"), String::from("42")]));
    assert_eq!(
        read_text(&world.context, "/proc/42/stat").split(' ').next(),
        Some("42")
    );
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/self").unwrap(),
        b"1"
    );
}

#[test]
fn proc_sys_kernel_gives_host_name_and_release() {
    let world = world();
    for (path, value) in [
        ("/proc/sys/kernel/hostname", "sandbox-host\n"),
        ("/proc/sys/kernel/osrelease", "6.1.0-sandbox\n"),
        ("/proc/sys/fs/nr_open", "1048576\n"),
        // Linux's pipe limits: no hard one, the soft one 16 pages for 1024 descriptors.
        ("/proc/sys/fs/pipe-user-pages-soft", "16384\n"),
        ("/proc/sys/fs/pipe-user-pages-hard", "0\n"),
        ("/proc/sys/fs/pipe-max-size", "1048576\n"),
    ] {
        assert_eq!(read_text(&world.context, path), value, "{path}");
    }
}

#[test]
fn writing_a_proc_file_is_eio_and_creating_is_refused() {
    let world = world();
    let meminfo = world
        .context
        .open(At::Cwd, b"/proc/meminfo", OpenFlags::WRONLY, 0)
        .unwrap();
    assert_eq!(meminfo.write(b"1"), Err(Errno::EIO));
    assert_eq!(
        world.context.mkdir(At::Cwd, b"/proc/new", 0o755),
        Err(Errno::EPERM)
    );
    assert_eq!(
        world
            .context
            .open(
                At::Cwd,
                b"/proc/new",
                OpenFlags::CREAT | OpenFlags::WRONLY,
                0o644
            )
            .err(),
        Some(Errno::EACCES)
    );
}

#[test]
fn pid_names_parse_like_linux_name_to_int() {
    assert_eq!(parse_number(b"1"), Some(1));
    assert_eq!(parse_number(b"4194304"), Some(4_194_304));
    for bad in [&b""[..], b"01", b"+1", b"-1", b"1a", b"99999999999"] {
        assert_eq!(parse_number(bad), None, "{bad:?}");
    }
}

#[test]
fn make_builds_registered_proc_sysfs_and_devpts() {
    let processes: Arc<dyn ProcessSource> =
        Arc::new(|| -> Option<Arc<dyn ProcessView>> { Some(FakeProcess::new(7)) });
    register(ProcSources {
        system: Arc::new(FakeSystem),
        processes,
    });
    let clock = crate::fs::testing::clock();
    let proc = crate::fs::make_kernel_fs("proc", "hidepid=2", 5, clock.clone()).unwrap();
    assert_eq!(
        (proc.fs_type(), proc.statfs().unwrap().fs_type),
        ("proc", PROC_SUPER_MAGIC)
    );
    let context = mounted_at("/proc", proc, MountFlags::empty());
    assert_eq!(context.readlink(At::Cwd, b"/proc/self").unwrap(), b"7");
    assert_eq!(
        crate::fs::make_kernel_fs("sysfs", "", 5, clock.clone())
            .unwrap()
            .fs_type(),
        "sysfs"
    );
    assert_eq!(
        crate::fs::make_kernel_fs(
            "devpts",
            "newinstance,ptmxmode=0666,mode=0620,gid=5",
            5,
            clock.clone()
        )
        .unwrap()
        .mount_options(),
        "gid=5,mode=620,ptmxmode=666"
    );
    assert_eq!(
        crate::fs::make_kernel_fs("ext4", "", 5, clock).err(),
        Some(Errno::ENODEV)
    );
}

#[test]
fn task_holds_the_one_thread_with_the_same_files() {
    let world = world();
    let mut names = Vec::new();
    let dir = world
        .context
        .open(
            At::Cwd,
            b"/proc/1/task",
            OpenFlags::RDONLY | OpenFlags::DIRECTORY,
            0,
        )
        .unwrap();
    dir.read_dir(&mut |entry| {
        names.push(entry.name.to_vec());
        true
    })
    .unwrap();
    assert_eq!(names, [b".".to_vec(), b"..".to_vec(), b"1".to_vec()]);
    let read = |path: &[u8]| {
        let file = world
            .context
            .open(At::Cwd, path, OpenFlags::RDONLY, 0)
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = file.read(&mut buf).unwrap();
        buf.truncate(n);
        buf
    };
    assert_eq!(read(b"/proc/1/task/1/status"), read(b"/proc/1/status"));
    assert_eq!(
        world
            .context
            .readlink(At::Cwd, b"/proc/1/task/1/fd/2")
            .unwrap(),
        b"/dev/console"
    );
    let process = world
        .context
        .stat(At::Cwd, b"/proc/1/status", false)
        .unwrap();
    let thread = world
        .context
        .stat(At::Cwd, b"/proc/1/task/1/status", false)
        .unwrap();
    assert_ne!(
        process.ino, thread.ino,
        "each node has its own inode number"
    );
    assert_eq!(
        world
            .context
            .stat(At::Cwd, b"/proc/1/task/2", false)
            .map(|_| ()),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        world
            .context
            .stat(At::Cwd, b"/proc/1/task/1/task", false)
            .map(|_| ()),
        Err(Errno::ENOENT)
    );
}

#[test]
fn maps_lines_are_in_linuxs_format_with_names_at_column_73() {
    let world = world();
    // The first and last lines as Linux 6.1 prints them (`show_map_vma`).
    assert_eq!(
        read_text(&world.context, "/proc/self/maps"),
        "00400000-00452000 r-xp 00000000 08:02 173521                             /usr/bin/dbus-daemon\n\
         7f2c4f4c3000-7f2c4f4c8000 rw-p 00000000 00:00 0 \n\
         7ffd5e5a0000-7ffd5e5c1000 rw-p 00000000 00:00 0                          [stack]\n"
    );
}

#[test]
fn fdinfo_lists_each_descriptor_and_shows_offset_flags_mount_and_inode() {
    let world = world();
    let names: Vec<String> = list_dir(&world.context, "/proc/1/fdinfo")
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    assert_eq!(names, [".", "..", "0", "1", "2"]);
    assert_eq!(
        read_text(&world.context, "/proc/1/fdinfo/1"),
        "pos:\t12\nflags:\t02100002\nmnt_id:\t26\nino:\t4242\n"
    );
    assert_eq!(
        world
            .context
            .stat(At::Cwd, b"/proc/1/fdinfo/7", false)
            .err(),
        Some(Errno::ENOENT)
    );
    let info = world
        .context
        .stat(At::Cwd, b"/proc/1/fdinfo/0", false)
        .unwrap();
    assert_eq!(info.mode & 0o777, 0o400);
}

#[test]
fn dentries_of_ended_processes_do_not_pile_up_in_the_cache() {
    let world = world();
    // 5,000 processes, each reading its own /proc/self/exe once and then ending (what a
    // shell running programs does): the proc root must not keep a dentry per pid.
    for pid in 2..5002 {
        let process = FakeProcess::new(pid);
        world.processes.all.lock().push(process);
        *world.processes.current.lock() = Some(pid);
        world.context.readlink(At::Cwd, b"/proc/self/exe").unwrap();
        world
            .processes
            .all
            .lock()
            .retain(|process| process.pid != pid);
    }
    *world.processes.current.lock() = Some(1);
    let root = world.context.resolve(At::Cwd, b"/proc", true).unwrap();
    let cached = root.dentry.cached_children();
    assert!(cached < 200, "{cached} dentries cached under /proc");
    // What is alive still resolves, and a mount point inside proc would stay cached.
    assert_eq!(
        world.context.readlink(At::Cwd, b"/proc/1/exe").unwrap(),
        b"/bin/busybox"
    );
}
