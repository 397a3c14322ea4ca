//! `containment --memory [DIR]`: every way a container can make the kernel hold memory
//! meets a limit, with Linux's errno, and the kernel lives on (issue 12):
//! - a tmpfs mounted with `mount(2)` and no options gets Linux's defaults (half of RAM,
//!   and as many inodes as half of RAM has pages) and filling it ends in `ENOSPC`;
//! - `/tmp` filled to its limit, then the overlay root: `ENOSPC`, the two together under RAM;
//! - empty files with 200-byte names in `/tmp` until `ENOSPC` at the inode limit;
//! - all memory taken by touched anonymous pages, then 64 KiB written to `/tmp`: `ENOSPC`;
//! - a process touching more than all memory is OOM-killed (`SIGKILL`), a small one lives;
//! - page tables (a page touched every 2 MiB of a 1 TiB mapping): OOM-killed too;
//! - pipes filled until the kernel refuses (`ENOMEM`, or `EMFILE` at the descriptor limit);
//! - `/proc/self/maps` of 20,000 areas each named by a 3,800-byte path (76 MiB of text,
//!   as much again for the names listed): read whole, or `ENOMEM` where the budget cannot hold it;
//! - 48 processes `execve` at once with 2 MiB of arguments each (the kernel copies them
//!   while the program loads): each runs or gets `ENOMEM`, and the memory comes back, to
//!   the point that the checks filling memory after it still meet the budget's errno.
//!
//! `containment --exhaust` touches memory until the kernel kills it: as the init, the
//! sandbox then ends with 137.
//!
//! On the host the checks that fill memory run only on a machine of at most 2 GiB (they
//! are skipped, and said to be, on a larger one), and those about the sandbox's overlay
//! root only where the root is one.

use super::{c, close, mkdir, mount_tmpfs, raw, rmdir, umount};
use crate::report::{Report, errno};

const PAGE: u64 = 4096;
const TMPFS_MAGIC: u64 = 0x0102_1994;
const OVERLAYFS_MAGIC: u64 = 0x794c_7630;
/// Filling memory is for the sandbox's small guests, not a host with gigabytes.
const MAX_FILLABLE: u64 = 2 << 30;

/// A `/proc/meminfo` figure in bytes (`MemTotal`, `MemAvailable`). Allocates nothing, so
/// a process that filled memory can still ask.
fn meminfo(field: &str) -> Option<u64> {
    let mut buf = [0u8; 4096];
    let fd = unsafe { libc::open(c"/proc/meminfo".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    close(fd as i64);
    let text = buf.get(..usize::try_from(n).ok()?)?;
    let line = text
        .split(|&b| b == b'\n')
        .find(|line| line.starts_with(field.as_bytes()) && line.get(field.len()) == Some(&b':'))?;
    let kb = line[field.len() + 1..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |kb, &digit| kb * 10 + u64::from(digit - b'0'));
    Some(kb * 1024)
}

fn statfs(path: &str) -> Option<libc::statfs> {
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statfs(c(path).as_ptr(), &mut st) } == 0).then_some(st)
}

fn unlink(path: &str) -> i64 {
    raw(unsafe { libc::unlink(c(path).as_ptr()) } as i64)
}

/// Writes `path` in 64 KiB chunks until a write fails: the bytes written and the errno.
/// Nothing here allocates once it starts, so a full memory cannot stop the program itself.
fn fill(path: &str) -> (u64, i32) {
    let chunk = vec![0x5au8; 64 << 10];
    let fd = unsafe {
        libc::open(
            c(path).as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
            0o644,
        )
    };
    if fd < 0 {
        return (0, errno());
    }
    let mut written = 0u64;
    let why = loop {
        let n = unsafe { libc::write(fd, chunk.as_ptr().cast(), chunk.len()) };
        if n < 0 {
            break errno();
        }
        written += n as u64;
    };
    close(fd as i64);
    (written, why)
}

fn mounts_line(dir: &str) -> String {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .find(|line| line.split(' ').nth(1) == Some(dir))
        .unwrap_or("")
        .to_string()
}

fn fork() -> i32 {
    unsafe { libc::fork() }
}

/// Waits for `pid`: its raw wait status.
fn wait_for(pid: i32) -> i32 {
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    status
}

fn killed_by(status: i32, signal: i32) -> bool {
    libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == signal
}

/// A private anonymous mapping of `len` bytes that is never reserved up front.
fn map(len: u64) -> *mut u8 {
    let address = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if address == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        address.cast()
    }
}

/// Touches every `stride`-th byte of `len` bytes at `base`, in a child of its own; never
/// comes back (it ends, or the kernel ends it).
fn touch_forever(base: *mut u8, len: u64, stride: u64) -> ! {
    let mut at = 0;
    while at < len {
        unsafe { base.add(at as usize).write_volatile(1) };
        at += stride;
    }
    unsafe { libc::_exit(0) }
}

/// The checks by name, for `--only NAME` (one case at a time, say on a kernel that does
/// not survive the others).
pub const CASES: &[&str] = &[
    "defaults",
    "tmp-then-root",
    "files",
    "touch-then-write",
    "oom",
    "page-tables",
    "pipes",
    "exec-args",
    "proc-maps",
    "overcommit",
];

pub fn run(report: &mut Report, base: &str, only: Option<&str>) {
    let total = meminfo("MemTotal").unwrap_or(0);
    println!(
        "# {} KiB of RAM, {} KiB available",
        total / 1024,
        meminfo("MemAvailable").unwrap_or(0) / 1024
    );
    let fillable = total <= MAX_FILLABLE;
    let wanted = |name: &str| only.is_none_or(|only| only == name);
    if wanted("defaults") {
        tmpfs_defaults(report, base, total, fillable);
    }
    if wanted("tmp-then-root") {
        tmp_then_root(report, total, fillable);
    }
    if wanted("files") {
        many_files(report);
    }
    // Before the checks that fill memory: the kernel's copies of the arguments (large
    // heap blocks) go back to the frame allocator when the execs end, so the touched
    // pages below must meet the budget (ENOSPC), not an empty frame allocator (OOM kill).
    if wanted("exec-args") {
        exec_with_huge_arguments(report);
    }
    if wanted("proc-maps") {
        huge_proc_maps(report);
    }
    if wanted("overcommit") {
        obvious_overcommit(report, total);
    }
    let filling: [(&str, &str, &dyn Fn(&mut Report)); 4] = [
        (
            "touch-then-write",
            "memory full of touched pages, then a 64 KiB write to /tmp",
            &touch_all_then_write,
        ),
        ("oom", "OOM kill of the largest process", &|report| {
            oom_kills_the_largest(report, total)
        }),
        (
            "page-tables",
            "OOM kill of a process made of page tables",
            &page_tables,
        ),
        ("pipes", "pipes filled until refused", &pipes_until_refused),
    ];
    for (case, name, check) in filling {
        if !wanted(case) {
            continue;
        }
        if fillable {
            check(report);
        } else {
            report.skip(
                name,
                format!("{} MiB of RAM is too much to fill here", total >> 20),
            );
        }
    }
}

fn tmpfs_defaults(report: &mut Report, base: &str, total: u64, fillable: bool) {
    let dir = format!("{base}/defaults");
    if !mount_tmpfs(&dir) {
        report.skip(
            "a tmpfs mounted with mount(2) and no size=",
            format!("mount: errno {}", errno()),
        );
        rmdir(&dir);
        return;
    }
    let half = total / PAGE / 2;
    let st = statfs(&dir).expect("statfs of a fresh mount");
    report.check(
        "mount(2) of a tmpfs with no size=: half of RAM",
        st.f_blocks == half && st.f_bsize as u64 == PAGE,
        format!(
            "{} blocks of {}, half of RAM is {half}",
            st.f_blocks, st.f_bsize
        ),
    );
    report.check(
        "mount(2) of a tmpfs with no nr_inodes=: as many inodes as half of RAM has pages",
        st.f_files == half,
        format!("{} inodes", st.f_files),
    );
    let line = mounts_line(&dir);
    report.check(
        "/proc/self/mounts shows no size= or nr_inodes= for the defaults",
        line.contains(" tmpfs ") && !line.contains("size=") && !line.contains("nr_inodes="),
        &line,
    );
    if fillable {
        let (written, why) = fill(&format!("{dir}/fill"));
        report.check(
            "filling it: ENOSPC at exactly half of RAM",
            why == libc::ENOSPC && written == half * PAGE,
            format!("{written} bytes, errno {why}"),
        );
    } else {
        report.skip(
            "filling a default tmpfs to half of RAM",
            format!("{} MiB of RAM is too much to fill here", total >> 20),
        );
    }
    umount(&dir);
    rmdir(&dir);
}

fn tmp_then_root(report: &mut Report, total: u64, fillable: bool) {
    let name = "/tmp filled to its limit, then the overlay root";
    let (Some(tmp), Some(root)) = (statfs("/tmp"), statfs("/")) else {
        report.skip(name, "statfs failed");
        return;
    };
    if tmp.f_type as u64 != TMPFS_MAGIC || root.f_type as u64 != OVERLAYFS_MAGIC || !fillable {
        report.skip(
            name,
            "the root is not the sandbox's memory overlay, or /tmp no tmpfs",
        );
        return;
    }
    let (in_tmp, tmp_why) = fill("/tmp/fill");
    let (in_root, root_why) = fill("/fill");
    // Memory is full: give it back before anything else (printing included) needs some.
    unlink("/tmp/fill");
    unlink("/fill");
    println!(
        "# /tmp took {} KiB (errno {tmp_why}), then the root {} KiB (errno {root_why})",
        in_tmp >> 10,
        in_root >> 10
    );
    report.check(
        "/tmp filled: ENOSPC at its own limit",
        tmp_why == libc::ENOSPC && in_tmp == tmp.f_bavail * PAGE,
        format!(
            "{in_tmp} bytes (limit {}), errno {tmp_why}",
            tmp.f_bavail * PAGE
        ),
    );
    report.check(
        "then the overlay root: ENOSPC once memory is full",
        root_why == libc::ENOSPC && in_root > 0,
        format!("{in_root} bytes, errno {root_why}"),
    );
    report.check(
        "the two together hold less than RAM",
        in_tmp + in_root < total,
        format!("{} of {total} bytes", in_tmp + in_root),
    );
    let (again, _) = fill_up_to("/fill", 16 << 20);
    unlink("/fill");
    report.check(
        "removed, their memory is back: 16 MiB writes again",
        again == 16 << 20,
        format!("{again} bytes"),
    );
}

/// Writes up to `limit` bytes to `path`: the bytes written and the errno that stopped it.
fn fill_up_to(path: &str, limit: u64) -> (u64, i32) {
    let chunk = vec![0x33u8; 64 << 10];
    let fd = unsafe {
        libc::open(
            c(path).as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_CLOEXEC,
            0o644,
        )
    };
    if fd < 0 {
        return (0, errno());
    }
    let mut written = 0;
    let mut why = 0;
    while written < limit {
        let n = unsafe { libc::write(fd, chunk.as_ptr().cast(), chunk.len()) };
        if n < 0 {
            why = errno();
            break;
        }
        written += n as u64;
    }
    close(fd as i64);
    (written, why)
}

fn many_files(report: &mut Report) {
    const MOST: u64 = 200_000;
    let dir = "/tmp/many";
    let name = "empty files with 200-byte names in /tmp: ENOSPC at the inode limit";
    match statfs("/tmp") {
        Some(st) if st.f_type as u64 == TMPFS_MAGIC => {}
        _ => {
            report.skip(name, "/tmp is no tmpfs here");
            return;
        }
    }
    mkdir(dir);
    let free_before = statfs(dir).map_or(0, |st| st.f_ffree);
    let mut made = 0u64;
    let mut why = 0;
    while made < MOST {
        let fd = super::open(
            &format!("{dir}/{made:0>200}"),
            libc::O_CREAT | libc::O_WRONLY,
        );
        if fd < 0 {
            why = -fd as i32;
            break;
        }
        close(fd);
        made += 1;
    }
    for index in 0..made {
        unlink(&format!("{dir}/{index:0>200}"));
    }
    let free_after = statfs(dir).map_or(0, |st| st.f_ffree);
    rmdir(dir);
    println!("# {made} files made of {free_before} inodes free");
    let expected = if free_before < MOST {
        why == libc::ENOSPC && made == free_before
    } else {
        made == MOST
    };
    report.check(
        name,
        expected,
        format!("{made} made, errno {why}, {free_before} inodes were free"),
    );
    report.check(
        "removing them gives every inode back",
        free_after == free_before,
        format!("{free_after} free, {free_before} before"),
    );
}

fn touch_all_then_write(report: &mut Report) {
    let name = "memory full of touched pages, then 64 KiB written to /tmp: ENOSPC";
    let pid = fork();
    if pid == 0 {
        // Everything this child needs is made before memory runs out.
        let available = meminfo("MemAvailable").unwrap_or(0);
        let len = available + (64 << 20);
        let base = map(len);
        let chunk = vec![0x77u8; 64 << 10];
        let path = c("/tmp/after-touch");
        let mut at = 0u64;
        while at < len {
            let left = meminfo("MemAvailable").unwrap_or(0);
            if left < 48 << 10 {
                break;
            }
            // Large steps while there is plenty, page by page near the end.
            let step = if left > 8 << 20 { 256 } else { 1 };
            for _ in 0..step {
                if at >= len {
                    break;
                }
                unsafe { base.add(at as usize).write_volatile(1) };
                at += PAGE;
            }
        }
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            )
        };
        let mut why = if fd < 0 { errno() } else { 0 };
        while why == 0 {
            if unsafe { libc::write(fd, chunk.as_ptr().cast(), chunk.len()) } < 0 {
                why = errno();
            }
        }
        unsafe { libc::_exit(why) };
    }
    let status = wait_for(pid);
    let written = std::fs::metadata("/tmp/after-touch").map_or(0, |meta| meta.len());
    println!("# with memory full, {written} bytes of the 64 KiB landed in /tmp before the error");
    unlink("/tmp/after-touch");
    report.check(
        name,
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == libc::ENOSPC,
        format!("wait status {status:#x}"),
    );
}

/// `vm.overcommit_memory` 0 (Linux's default heuristic): one private writable mapping
/// of more than all of RAM is `ENOMEM` at once; `MAP_NORESERVE`, a read-only mapping or
/// one of RAM's size are made (their pages are charged only when touched).
fn obvious_overcommit(report: &mut Report, total: u64) {
    let attempt = |len: u64, prot: i32, extra: i32| {
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len as usize,
                prot,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | extra,
                -1,
                0,
            )
        };
        if address == libc::MAP_FAILED {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            unsafe { libc::munmap(address, len as usize) };
            Ok(())
        }
    };
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let too_much = 2 * total;
    let refused = attempt(too_much, rw, 0);
    report.check(
        "a private writable mapping of twice the RAM: ENOMEM (overcommit heuristic)",
        refused == Err(libc::ENOMEM),
        format!("{refused:?}"),
    );
    let made = [
        attempt(too_much, rw, libc::MAP_NORESERVE),
        attempt(too_much, libc::PROT_NONE, 0),
        attempt(total, rw, 0),
    ];
    report.check(
        "with MAP_NORESERVE, read-only, or of RAM's size: made",
        made.iter().all(Result::is_ok),
        format!("{made:?}"),
    );
    let brk_start = unsafe { libc::sbrk(0) } as u64;
    let moved = unsafe { libc::brk((brk_start + too_much) as *mut libc::c_void) };
    let after = unsafe { libc::sbrk(0) } as u64;
    report.check(
        "brk growing by twice the RAM: refused, the break stays",
        moved != 0 && after == brk_start,
        format!("brk returned {moved}, break {brk_start:#x} -> {after:#x}"),
    );
}

fn oom_kills_the_largest(report: &mut Report, total: u64) {
    let before = meminfo("MemAvailable").unwrap_or(0);
    let mut ends = [0i32; 2];
    unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) };
    let small = fork();
    if small == 0 {
        // A megabyte of its own, then it waits for the parent to close the pipe.
        close(ends[1] as i64);
        let base = map(1 << 20);
        for at in (0..1 << 20).step_by(PAGE as usize) {
            unsafe { base.add(at).write_volatile(1) };
        }
        let mut byte = 0u8;
        unsafe { libc::read(ends[0], (&mut byte as *mut u8).cast(), 1) };
        unsafe { libc::_exit(0) };
    }
    close(ends[0] as i64);
    let big = fork();
    if big == 0 {
        let len = 2 * total;
        touch_forever(map(len), len, PAGE);
    }
    let status = wait_for(big);
    report.check(
        "a process touching more than all of memory: OOM-killed (SIGKILL)",
        killed_by(status, libc::SIGKILL),
        format!("wait status {status:#x}"),
    );
    let mut small_status = 0;
    let still_running = unsafe { libc::waitpid(small, &mut small_status, libc::WNOHANG) } == 0;
    report.check(
        "a smaller process lives on",
        still_running,
        format!("wait status {small_status:#x}"),
    );
    close(ends[1] as i64);
    let small_status = if still_running {
        wait_for(small)
    } else {
        small_status
    };
    report.check(
        "and ends normally",
        libc::WIFEXITED(small_status) && libc::WEXITSTATUS(small_status) == 0,
        format!("wait status {small_status:#x}"),
    );
    let after = meminfo("MemAvailable").unwrap_or(0);
    report.check(
        "their memory is back",
        after + (4 << 20) >= before,
        format!("{} KiB available, {} before", after / 1024, before / 1024),
    );
}

fn page_tables(report: &mut Report) {
    let pid = fork();
    if pid == 0 {
        // One page touched per 2 MiB: each needs a page table of its own.
        let len = 1u64 << 40;
        touch_forever(map(len), len, 2 << 20);
    }
    let status = wait_for(pid);
    report.check(
        "a process made of page tables (a page every 2 MiB of 1 TiB): OOM-killed (SIGKILL)",
        killed_by(status, libc::SIGKILL),
        format!("wait status {status:#x}"),
    );
}

fn pipes_until_refused(report: &mut Report) {
    const MOST: usize = 20_000;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    let saved = limit;
    limit.rlim_cur = limit.rlim_max.min(2 * MOST as u64 + 64);
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    let before = meminfo("MemAvailable").unwrap_or(0);
    // Made before memory runs out: nothing below allocates.
    let mut pipes: Vec<[i32; 2]> = Vec::with_capacity(MOST);
    let chunk = vec![0x11u8; 64 << 10];
    let mut why = 0;
    'pipes: while pipes.len() < MOST {
        let mut ends = [0i32; 2];
        if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            why = errno();
            break;
        }
        pipes.push(ends);
        loop {
            if unsafe { libc::write(ends[1], chunk.as_ptr().cast(), chunk.len()) } < 0 {
                match errno() {
                    libc::EAGAIN => break,
                    other => {
                        why = other;
                        break 'pipes;
                    }
                }
            }
        }
    }
    let made = pipes.len();
    for [read, write] in pipes.drain(..) {
        close(read as i64);
        close(write as i64);
    }
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &saved) };
    let after = meminfo("MemAvailable").unwrap_or(0);
    println!("# {made} pipes of 64 KiB, then errno {why}");
    report.check(
        "pipes filled until the kernel refuses: ENOMEM (memory) or EMFILE (descriptors)",
        why == libc::ENOMEM || why == libc::EMFILE,
        format!("{made} pipes, errno {why}"),
    );
    report.check(
        "closed, their memory is back",
        after + (1 << 20) >= before,
        format!("{} KiB available, {} before", after / 1024, before / 1024),
    );
}

/// Many processes exec with the most arguments Linux takes (2 MiB of strings and
/// pointers each, shared with the parent copy-on-write, so only the kernel's copies cost).
fn exec_with_huge_arguments(report: &mut Report) {
    const PROCESSES: usize = 48;
    const STRINGS: usize = 999;
    const LENGTH: usize = 2000;
    let before = meminfo("MemAvailable").unwrap_or(0);
    let slab_before = meminfo("Slab").unwrap_or(0);
    let text: Vec<std::ffi::CString> = (0..STRINGS)
        .map(|index| std::ffi::CString::new(vec![b'a' + (index % 26) as u8; LENGTH]).unwrap())
        .collect();
    // This program again, told to end at once (`--exit`).
    let program = c("/proc/self/exe");
    let exit_flag = c("--exit");
    let mut argv: Vec<*const libc::c_char> = vec![program.as_ptr(), exit_flag.as_ptr()];
    argv.extend(text.iter().map(|string| string.as_ptr()));
    argv.push(std::ptr::null());
    let environment: [*const libc::c_char; 1] = [std::ptr::null()];
    let children: Vec<i32> = (0..PROCESSES)
        .map(|_| match fork() {
            0 => unsafe {
                libc::execve(program.as_ptr(), argv.as_ptr(), environment.as_ptr());
                libc::_exit(100 + errno())
            },
            pid => pid,
        })
        .collect();
    // While the children exec (some at least): the kernel's copies of their arguments.
    let slab_during = meminfo("Slab").unwrap_or(0);
    let mut ran = 0;
    let mut refused = 0;
    let mut other = Vec::new();
    for pid in children {
        let status = wait_for(pid);
        match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
            Some(0) => ran += 1,
            Some(code) if code == 100 + libc::ENOMEM => refused += 1,
            _ => other.push(status),
        }
    }
    drop((argv, text));
    let after = meminfo("MemAvailable").unwrap_or(0);
    let slab_after = meminfo("Slab").unwrap_or(0);
    println!(
        "# {ran} execs with 2 MiB of arguments ran, {refused} got ENOMEM; {} KiB available \
         before, {} KiB after; kernel heap (Slab) {} KiB before, {} KiB during, {} KiB after",
        before / 1024,
        after / 1024,
        slab_before / 1024,
        slab_during / 1024,
        slab_after / 1024
    );
    report.check(
        "48 execs at once with 2 MiB of arguments: each runs or gets ENOMEM",
        other.is_empty() && ran > 0,
        format!("{ran} ran, {refused} ENOMEM, other wait statuses {other:?}"),
    );
    let total = meminfo("MemTotal").unwrap_or(0);
    if total > MAX_FILLABLE {
        // A big host's MemAvailable moves by megabytes with its other work.
        report.skip(
            "after them, their memory is back",
            format!("{} MiB of RAM: too busy a figure to compare", total >> 20),
        );
        return;
    }
    report.check(
        "after them, their memory is back",
        after + (1 << 20) >= before,
        format!("{} KiB available, {} before", after / 1024, before / 1024),
    );
}

/// A child maps one file 20,000 times under a path of 3,800 bytes and reads its own
/// `/proc/self/maps`: it exits 0 if it read every line, with the errno if a read failed.
fn huge_proc_maps(report: &mut Report) {
    // Twice 3,800 bytes an area (its name listed, then its line) passes a 128 MiB
    // machine's budget well before 20,000.
    const AREAS: usize = 20_000;
    const LEVELS: usize = 15;
    let name = "/proc/self/maps of 20000 areas named by 3800-byte paths: read whole or ENOMEM";
    let pid = fork();
    if pid == 0 {
        let top = c("/tmp/long-paths");
        unsafe { libc::mkdir(top.as_ptr(), 0o755) };
        if unsafe { libc::chdir(top.as_ptr()) } != 0 {
            unsafe { libc::_exit(100) };
        }
        for level in 0..LEVELS {
            let part = c(&String::from_utf8(vec![b'a' + level as u8; 250]).unwrap());
            unsafe { libc::mkdir(part.as_ptr(), 0o755) };
            if unsafe { libc::chdir(part.as_ptr()) } != 0 {
                unsafe { libc::_exit(101) };
            }
        }
        let fd = super::open("file", libc::O_CREAT | libc::O_RDWR);
        if fd < 0 || unsafe { libc::ftruncate(fd as i32, PAGE as i64) } != 0 {
            unsafe { libc::_exit(102) };
        }
        let mut mapped = 0;
        while mapped < AREAS {
            let address = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    PAGE as usize,
                    libc::PROT_READ,
                    libc::MAP_SHARED,
                    fd as i32,
                    0,
                )
            };
            if address == libc::MAP_FAILED {
                break;
            }
            mapped += 1;
        }
        println!("# {mapped} areas of one file mapped");
        let maps = c("/proc/self/maps");
        let maps_fd = unsafe { libc::open(maps.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        let mut buf = vec![0u8; 64 << 10];
        let (mut lines, mut bytes) = (0usize, 0usize);
        let why = loop {
            let n = unsafe { libc::read(maps_fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                break errno();
            }
            if n == 0 {
                break 0;
            }
            bytes += n as usize;
            lines += buf[..n as usize].iter().filter(|&&b| b == b'\n').count();
        };
        println!("# read {lines} lines, {bytes} bytes of /proc/self/maps, then errno {why}");
        unsafe { libc::_exit(if why == 0 && lines > mapped { 0 } else { why }) };
    }
    let status = wait_for(pid);
    // The tree is the parent's to remove: the child ended without cleaning up.
    let mut path = String::from("/tmp/long-paths");
    let mut levels = Vec::new();
    for level in 0..15u8 {
        path.push('/');
        path.push_str(&String::from_utf8(vec![b'a' + level; 250]).unwrap());
        levels.push(path.clone());
    }
    let _ = std::env::set_current_dir("/");
    unlink(&format!("{}/file", levels.last().unwrap()));
    for dir in levels.iter().rev() {
        // Relative steps keep each call's path short of PATH_MAX.
        let (parent, leaf) = dir.rsplit_once('/').unwrap();
        if std::env::set_current_dir(parent).is_ok() {
            rmdir(leaf);
        }
    }
    let _ = std::env::set_current_dir("/");
    rmdir("/tmp/long-paths");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    report.check(
        name,
        code == Some(0) || code == Some(libc::ENOMEM),
        format!("wait status {status:#x}"),
    );
}

/// `containment --exhaust`: touches memory until the kernel ends it.
pub fn exhaust() -> ! {
    let total = meminfo("MemTotal").unwrap_or(1 << 30);
    println!(
        "containment: touching {} MiB, more than all of memory",
        2 * total >> 20
    );
    let len = 2 * total;
    touch_forever(map(len), len, PAGE)
}
