//! Kernel filesystems: `sysfs`, mounted on `/sys`. A minimal, read-only tree with the
//! top-level directories Linux has and the few attributes programs probe: the CPU lists
//! glibc's `get_nprocs` and language runtimes read, transparent-hugepage settings, and
//! `/sys/fs/cgroup` as a mount point. Built on the synthetic filesystem with kernfs's
//! rules: attributes report size 4096, and opening a read-only one for writing is
//! `EACCES` even for root.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;

use vfs_core::attr::fs_magic::SYSFS_MAGIC;
use vfs_core::{CachePolicy, ClockRef, Errno, FileSystem};

use super::synthetic::{FixedDir, InoCounter, Node, Rules, SyntheticFs};

/// The kernel runs its tasks on one CPU.
pub const ONE_CPU: u32 = 1;

/// CPUs the kernel runs on (set once the application processors are up).
static ONLINE_CPUS: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(ONE_CPU);

/// Records how many CPUs run, for sysfs, proc and the vDSO data page.
pub fn set_cpu_count(count: u32) {
    ONLINE_CPUS.store(count.max(1), core::sync::atomic::Ordering::Relaxed);
}

/// How many CPUs run.
pub fn cpu_count() -> u32 {
    ONLINE_CPUS.load(core::sync::atomic::Ordering::Relaxed)
}

const DIRECTORY_MODE: u32 = 0o755;
const ATTRIBUTE_MODE: u32 = 0o444;

/// Linux's CPU list format for CPUs `0..count`: `"0\n"`, `"0-3\n"`.
pub fn cpu_list(count: u32) -> String {
    match count {
        0 | 1 => String::from("0\n"),
        _ => format!("0-{}\n", count - 1),
    }
}

/// A new sysfs instance for a machine with `cpus` CPUs.
pub fn new(cpus: u32, dev: u64, clock: ClockRef) -> Arc<dyn FileSystem> {
    let rules = Rules {
        fs_type: "sysfs",
        magic: SYSFS_MAGIC,
        cache_policy: CachePolicy::Exclusive,
        file_size: 4096,
        block_size: 4096,
        refuse_write_open: Some(Errno::EACCES),
        write_without_writer: Errno::EACCES,
    };
    let mut inos = InoCounter::starting_at(1);
    let root_ino = inos.allocate();
    let root = FixedDir::new()
        .with("block", empty_directory(&mut inos))
        .with("bus", empty_directory(&mut inos))
        .with("class", empty_directory(&mut inos))
        .with("dev", empty_directory(&mut inos))
        .with("devices", devices(&mut inos, cpus))
        .with("firmware", empty_directory(&mut inos))
        .with("fs", filesystems(&mut inos))
        .with("kernel", kernel(&mut inos))
        .with("module", empty_directory(&mut inos))
        .with("power", empty_directory(&mut inos));
    SyntheticFs::new(
        rules,
        Node::directory(root_ino, DIRECTORY_MODE, root),
        String::new(),
        dev,
        clock,
    )
}

fn directory(inos: &mut InoCounter, children: FixedDir) -> Node {
    Node::directory(inos.allocate(), DIRECTORY_MODE, children)
}

fn empty_directory(inos: &mut InoCounter) -> Node {
    directory(inos, FixedDir::new())
}

fn attribute(inos: &mut InoCounter, text: &str) -> Node {
    Node::constant(inos.allocate(), ATTRIBUTE_MODE, text)
}

/// `devices/system/cpu`: `online`, `possible`, `present` and one `cpuN` per CPU.
fn devices(inos: &mut InoCounter, cpus: u32) -> Node {
    let list = cpu_list(cpus);
    let mut cpu = FixedDir::new()
        .with("online", attribute(inos, &list))
        .with("possible", attribute(inos, &list))
        .with("present", attribute(inos, &list));
    for index in 0..cpus.max(1) {
        cpu = cpu.with(&format!("cpu{index}"), empty_directory(inos));
    }
    let system = FixedDir::new().with("cpu", directory(inos, cpu));
    let devices = FixedDir::new().with("system", directory(inos, system));
    directory(inos, devices)
}

/// `fs/cgroup`: an empty directory, the mount point the container's spec may use.
fn filesystems(inos: &mut InoCounter) -> Node {
    let filesystems = FixedDir::new().with("cgroup", empty_directory(inos));
    directory(inos, filesystems)
}

/// `kernel/mm/transparent_hugepage`: the kernel has no huge pages, so `never` is the
/// selected policy; runtimes (Go, jemalloc) read these before using `madvise`.
fn kernel(inos: &mut InoCounter) -> Node {
    let hugepages = FixedDir::new()
        .with("enabled", attribute(inos, "always madvise [never]\n"))
        .with(
            "defrag",
            attribute(inos, "always defer defer+madvise madvise [never]\n"),
        )
        .with("hpage_pmd_size", attribute(inos, "2097152\n"));
    let mm = FixedDir::new().with("transparent_hugepage", directory(inos, hugepages));
    let kernel = FixedDir::new()
        .with("debug", debug(inos))
        .with("mm", directory(inos, mm));
    directory(inos, kernel)
}

/// `kernel/debug` (where Linux mounts debugfs): this kernel's own debugging facts, read
/// live. `9p/fids`: fids the 9p servers hold for the sandbox now; `9p/quarantined_fids`:
/// fid numbers given up on after a failed clunk. A long run watches both stay flat.
/// `9p/requests`: requests sent so far by type and the bytes reads brought back (read it
/// before and after a program to see what its start cost).
fn debug(inos: &mut InoCounter) -> Node {
    let count = |inos: &mut InoCounter, read: fn(vfs_core::p9::AllClientsFids) -> u64| {
        Node::file(inos.allocate(), ATTRIBUTE_MODE, move || {
            Ok(format!("{}\n", read(vfs_core::p9::all_clients_fids())).into_bytes())
        })
    };
    let nine_p = FixedDir::new()
        .with("fids", count(inos, |fids| fids.in_use))
        .with("quarantined_fids", count(inos, |fids| fids.quarantined))
        .with(
            "requests",
            Node::file(inos.allocate(), ATTRIBUTE_MODE, || {
                Ok(vfs_core::p9::counts::report().into_bytes())
            }),
        );
    let nine_p = directory(inos, nine_p);
    directory(inos, FixedDir::new().with("9p", nine_p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::testing::{mounted_at, names, read_text};
    use alloc::vec::Vec;
    use vfs_core::{At, FsContext, MountFlags, OpenFlags};

    fn sys() -> FsContext {
        mounted_at(
            "/sys",
            new(ONE_CPU, 9, crate::fs::testing::clock()),
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        )
    }

    #[test]
    fn cpu_online_and_possible_read_0_for_one_cpu() {
        let context = sys();
        assert_eq!(read_text(&context, "/sys/devices/system/cpu/online"), "0\n");
        assert_eq!(
            read_text(&context, "/sys/devices/system/cpu/possible"),
            "0\n"
        );
        assert_eq!(
            names(&context, "/sys/devices/system/cpu"),
            [".", "..", "online", "possible", "present", "cpu0"]
        );
    }

    #[test]
    fn cpu_list_uses_linux_range_format() {
        assert_eq!(cpu_list(1), "0\n");
        assert_eq!(cpu_list(4), "0-3\n");
        let context = mounted_at(
            "/sys",
            new(2, 9, crate::fs::testing::clock()),
            MountFlags::empty(),
        );
        assert_eq!(
            read_text(&context, "/sys/devices/system/cpu/online"),
            "0-1\n"
        );
        assert!(
            context
                .stat(At::Cwd, b"/sys/devices/system/cpu/cpu1", true)
                .unwrap()
                .is_dir()
        );
    }

    #[test]
    fn top_level_has_linux_directories_and_an_empty_cgroup_mount_point() {
        let context = sys();
        assert_eq!(
            names(&context, "/sys"),
            [
                ".", "..", "block", "bus", "class", "dev", "devices", "firmware", "fs", "kernel",
                "module", "power"
            ]
        );
        assert_eq!(names(&context, "/sys/fs/cgroup"), [".", ".."]);
        let root = context.stat(At::Cwd, b"/sys", true).unwrap();
        assert_eq!((root.mode, root.nlink, root.uid), (0o040755, 12, 0));
    }

    #[test]
    fn debug_shows_the_9p_fid_counts() {
        let context = sys();
        assert_eq!(
            names(&context, "/sys/kernel/debug/9p"),
            [".", "..", "fids", "quarantined_fids", "requests"]
        );
        let fids = vfs_core::p9::all_clients_fids();
        assert_eq!(
            read_text(&context, "/sys/kernel/debug/9p/quarantined_fids"),
            format!("{}\n", fids.quarantined)
        );
        let text = read_text(&context, "/sys/kernel/debug/9p/fids");
        assert!(
            text.ends_with('\n') && text.trim().parse::<u64>().is_ok(),
            "{text:?}"
        );
        let requests = read_text(&context, "/sys/kernel/debug/9p/requests");
        let keys: Vec<&str> = requests
            .lines()
            .map(|line| {
                let (key, value) = line.split_once(' ').unwrap();
                assert!(value.parse::<u64>().is_ok(), "{line:?}");
                key
            })
            .collect();
        assert_eq!(keys.first(), Some(&"walk"));
        assert_eq!(keys[keys.len() - 3..], ["other", "total", "read_bytes"]);
    }

    #[test]
    fn attributes_report_mode_0444_and_size_4096_like_kernfs() {
        let context = sys();
        let stat = context
            .stat(At::Cwd, b"/sys/devices/system/cpu/online", true)
            .unwrap();
        assert_eq!((stat.mode, stat.size, stat.nlink), (0o100444, 4096, 1));
    }

    #[test]
    fn opening_an_attribute_for_writing_is_eacces_even_for_root() {
        let context = sys();
        for flags in [
            OpenFlags::WRONLY,
            OpenFlags::RDWR,
            OpenFlags::WRONLY | OpenFlags::TRUNC,
        ] {
            assert_eq!(
                context
                    .open(At::Cwd, b"/sys/devices/system/cpu/online", flags, 0)
                    .err(),
                Some(Errno::EACCES)
            );
        }
    }

    #[test]
    fn directories_refuse_changes_like_kernfs() {
        let context = sys();
        assert_eq!(
            context.mkdir(At::Cwd, b"/sys/fs/cgroup/x", 0o755),
            Err(Errno::EPERM)
        );
        assert_eq!(
            context
                .open(
                    At::Cwd,
                    b"/sys/new",
                    OpenFlags::CREAT | OpenFlags::WRONLY,
                    0o644
                )
                .err(),
            Some(Errno::EACCES)
        );
        assert_eq!(context.rmdir(At::Cwd, b"/sys/fs/cgroup"), Err(Errno::EPERM));
        assert_eq!(
            context.unlink(At::Cwd, b"/sys/devices/system/cpu/online"),
            Err(Errno::EPERM)
        );
    }

    #[test]
    fn read_only_mount_reports_erofs_first_as_dockers_sys_does() {
        let context = mounted_at(
            "/sys",
            new(ONE_CPU, 9, crate::fs::testing::clock()),
            MountFlags::RDONLY,
        );
        assert_eq!(
            context.mkdir(At::Cwd, b"/sys/fs/x", 0o755),
            Err(Errno::EROFS)
        );
    }

    #[test]
    fn statfs_reports_sysfs_magic() {
        let context = sys();
        assert_eq!(
            context.statfs(At::Cwd, b"/sys/kernel").unwrap().fs_type,
            0x6265_6572
        );
    }

    #[test]
    fn inode_numbers_are_distinct_and_stable() {
        let context = sys();
        let first: Vec<u64> = [
            "/sys",
            "/sys/fs/cgroup",
            "/sys/devices/system/cpu/online",
            "/sys/kernel/mm",
        ]
        .iter()
        .map(|path| context.stat(At::Cwd, path.as_bytes(), true).unwrap().ino)
        .collect();
        let mut unique = first.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), first.len());
        let again = context
            .stat(At::Cwd, b"/sys/devices/system/cpu/online", true)
            .unwrap()
            .ino;
        assert_eq!(again, first[2]);
    }
}
