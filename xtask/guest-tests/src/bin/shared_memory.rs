//! `shared-memory`: shared memory as a program sees it, each answer Linux's:
//! `MAP_SHARED | MAP_ANONYMOUS` shared across `fork` both ways (private memory copied on
//! write), a `memfd_create` file whose `write` and mapping see each other, file seals, a
//! `/dev/shm` file (`shm_open`'s way) shared by two processes that each map it, `mremap`
//! growing, shrinking and moving with the contents kept, `madvise` (`DONTNEED` zeroes
//! private memory and keeps shared data, `WIPEONFORK`, `DONTFORK`, `REMOVE`, unknown
//! advice), and `SIGBUS` past the end of a shrunk file.
//!
//! One line per check (`ok`/`FAIL`), then `shared-memory: N passed, M failed`; exit 0
//! only if all passed. Runs on the host too, to check the expectations against Linux.

use std::ffi::CString;
use std::process::ExitCode;
use std::ptr;

#[path = "../report.rs"]
mod report;
use report::{Report, errno};

const PAGE: usize = 4096;
const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;
/// Not in the libc crate: `<asm-generic/mman-common.h>`'s number.
const MADV_COLLAPSE: i32 = 25;

/// `mmap`, `Err(errno)` for `MAP_FAILED`.
fn map(
    addr: usize,
    len: usize,
    prot: i32,
    flags: i32,
    fd: i32,
    offset: i64,
) -> Result<*mut u8, i32> {
    // SAFETY: mmap with these arguments only creates or replaces mappings this program owns.
    let at = unsafe { libc::mmap(addr as *mut libc::c_void, len, prot, flags, fd, offset) };
    if at == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok(at.cast())
    }
}

fn anon(len: usize, flags: i32) -> *mut u8 {
    map(0, len, RW, flags | libc::MAP_ANONYMOUS, -1, 0).expect("anonymous mmap")
}

fn unmap(at: *mut u8, len: usize) {
    // SAFETY: unmapping memory this program mapped and no longer uses.
    unsafe { libc::munmap(at.cast(), len) };
}

fn protect(at: *mut u8, len: usize, prot: i32) -> Result<(), i32> {
    // SAFETY: changing the rights of this program's own mapping.
    if unsafe { libc::mprotect(at.cast(), len, prot) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// `mremap` as the raw system call (libc's wrapper looks at `new_addr` only with
/// `MREMAP_FIXED`): the new address or `Err(errno)`.
fn remap(
    old: *mut u8,
    old_len: usize,
    new_len: usize,
    flags: i32,
    new: usize,
) -> Result<*mut u8, i32> {
    // SAFETY: mremap moves or resizes mappings this program owns.
    let at = unsafe { libc::syscall(libc::SYS_mremap, old, old_len, new_len, flags, new) };
    if at == -1 {
        Err(errno())
    } else {
        Ok(at as *mut u8)
    }
}

/// `madvise`: 0 or the errno.
fn advise(at: *mut u8, len: usize, advice: i32) -> i32 {
    // SAFETY: advice about this program's own mappings (or about unmapped addresses).
    if unsafe { libc::madvise(at.cast(), len, advice) } == 0 {
        0
    } else {
        errno()
    }
}

fn read_at(at: *mut u8, offset: usize) -> u8 {
    // SAFETY: callers read inside mappings they made readable.
    unsafe { ptr::read_volatile(at.add(offset)) }
}

fn write_at(at: *mut u8, offset: usize, value: u8) {
    // SAFETY: callers write inside mappings they made writable.
    unsafe { ptr::write_volatile(at.add(offset), value) }
}

fn bytes(at: *mut u8, offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len)
        .map(|at_offset| read_at(at, at_offset))
        .collect()
}

fn fill(at: *mut u8, offset: usize, data: &[u8]) {
    for (index, &byte) in data.iter().enumerate() {
        write_at(at, offset + index, byte);
    }
}

/// Forks; the child runs `child` and exits with its result (0 for success).
fn spawn(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only touches memory and makes system calls, then _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = child();
        // SAFETY: leaving the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    pid
}

fn wait(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: waiting for a child of this process.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    status
}

fn in_child(child: impl FnOnce() -> i32) -> i32 {
    wait(spawn(child))
}

fn exited_ok(status: i32) -> bool {
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

fn describe(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("child exited {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("child killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("wait status {status:#x}")
    }
}

fn pipe() -> [i32; 2] {
    let mut fds = [0i32; 2];
    // SAFETY: fds is an array of two descriptors.
    unsafe { libc::pipe(fds.as_mut_ptr()) };
    fds
}

fn signal_pipe(fd: i32) {
    // SAFETY: writing one byte from a valid buffer.
    unsafe { libc::write(fd, b"!".as_ptr().cast(), 1) };
}

fn await_pipe(fd: i32) {
    let mut byte = [0u8];
    // SAFETY: reading one byte into a valid buffer.
    unsafe { libc::read(fd, byte.as_mut_ptr().cast(), 1) };
}

fn memfd(name: &str, flags: u32) -> Result<i32, i32> {
    let name = CString::new(name).expect("name");
    // SAFETY: a NUL-terminated name.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    if fd < 0 { Err(errno()) } else { Ok(fd) }
}

fn fcntl(fd: i32, command: i32, argument: i32) -> Result<i32, i32> {
    // SAFETY: fcntl on a descriptor this program owns.
    let result = unsafe { libc::fcntl(fd, command, argument) };
    if result == -1 {
        Err(errno())
    } else {
        Ok(result)
    }
}

fn write_fd(fd: i32, data: &[u8]) -> Result<usize, i32> {
    // SAFETY: data is a valid buffer.
    let written = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    if written < 0 {
        Err(errno())
    } else {
        Ok(written as usize)
    }
}

fn pwrite(fd: i32, data: &[u8], offset: i64) -> Result<usize, i32> {
    // SAFETY: data is a valid buffer.
    let written = unsafe { libc::pwrite(fd, data.as_ptr().cast(), data.len(), offset) };
    if written < 0 {
        Err(errno())
    } else {
        Ok(written as usize)
    }
}

fn pread(fd: i32, len: usize, offset: i64) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    // SAFETY: buf is a valid buffer of len bytes.
    let read = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), len, offset) };
    buf.truncate(read.max(0) as usize);
    buf
}

fn truncate_fd(fd: i32, len: i64) -> Result<(), i32> {
    // SAFETY: ftruncate on a descriptor this program owns.
    if unsafe { libc::ftruncate(fd, len) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

fn fstat(fd: i32) -> libc::stat {
    // SAFETY: a zeroed stat is a valid buffer for fstat to fill.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: stat is a valid buffer.
    unsafe { libc::fstat(fd, &mut stat) };
    stat
}

fn close(fd: i32) {
    // SAFETY: closing a descriptor this program owns.
    unsafe { libc::close(fd) };
}

/// Parent and child each write the other's page of a shared anonymous mapping, in turn
/// (a pipe each way orders them); private memory stays each one's own.
fn shared_anonymous(report: &mut Report) {
    let shared = anon(2 * PAGE, libc::MAP_SHARED);
    let private = anon(PAGE, libc::MAP_PRIVATE);
    write_at(shared, 0, b'P');
    write_at(private, 0, b'p');
    let (to_child, to_parent) = (pipe(), pipe());
    let child = spawn(|| {
        let inherited = read_at(shared, 0) == b'P';
        await_pipe(to_child[0]);
        let later = read_at(shared, PAGE) == b'L';
        write_at(shared, 1, b'C');
        write_at(private, 0, b'c');
        signal_pipe(to_parent[1]);
        match (inherited, later) {
            (true, true) => 0,
            (false, _) => 1,
            (true, false) => 2,
        }
    });
    write_at(shared, PAGE, b'L');
    signal_pipe(to_child[1]);
    await_pipe(to_parent[0]);
    let seen = read_at(shared, 1);
    let status = wait(child);
    report.check(
        "MAP_SHARED|MAP_ANONYMOUS: the child sees the parent's writes from before and after fork",
        exited_ok(status),
        describe(status),
    );
    report.check(
        "MAP_SHARED|MAP_ANONYMOUS: the parent sees the child's write",
        seen == b'C',
        format!("read {seen:#x}"),
    );
    report.check(
        "MAP_PRIVATE|MAP_ANONYMOUS: the child's write stays its own (copy-on-write)",
        read_at(private, 0) == b'p',
        format!("read {:#x}", read_at(private, 0)),
    );
    for fd in to_child.into_iter().chain(to_parent) {
        close(fd);
    }

    // mprotect and a partial munmap in the child leave the parent's mapping as it was,
    // and the pages stay shared.
    let status = in_child(|| {
        if protect(shared, PAGE, libc::PROT_READ).is_err() || read_at(shared, 0) != b'P' {
            return 1;
        }
        unmap(shared, PAGE);
        write_at(shared, PAGE + 2, b'Q');
        0
    });
    report.check(
        "shared anonymous: mprotect and partial munmap in the child, its write still shared",
        exited_ok(status) && read_at(shared, 0) == b'P' && read_at(shared, PAGE + 2) == b'Q',
        describe(status),
    );
    unmap(shared, 2 * PAGE);
    unmap(private, PAGE);
}

fn memfd_checks(report: &mut Report) {
    let fd = memfd("shm-test", libc::MFD_CLOEXEC).expect("memfd_create");
    write_fd(fd, b"written by write()").unwrap();
    let stat = fstat(fd);
    report.check(
        "memfd: a regular file, mode 0777, no links, the size written",
        stat.st_mode == libc::S_IFREG | 0o777 && stat.st_nlink == 0 && stat.st_size == 18,
        format!(
            "mode {:o} nlink {} size {}",
            stat.st_mode, stat.st_nlink, stat.st_size
        ),
    );
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}"));
    report.check(
        "memfd: /proc/self/fd/N reads /memfd:NAME (deleted)",
        link.as_ref()
            .is_ok_and(|path| path.as_os_str() == "/memfd:shm-test (deleted)"),
        format!("{link:?}"),
    );
    truncate_fd(fd, 2 * PAGE as i64).unwrap();
    let at = map(0, 2 * PAGE, RW, libc::MAP_SHARED, fd, 0).expect("mmap memfd");
    report.check(
        "memfd: write() then a shared mapping reads it",
        bytes(at, 0, 18) == b"written by write()",
        format!("{:?}", String::from_utf8_lossy(&bytes(at, 0, 18))),
    );
    fill(at, 11, b"mmap!!!");
    fill(at, PAGE + 5, b"second page");
    report.check(
        "memfd: a store through the mapping is what read() sees",
        pread(fd, 18, 0) == b"written by mmap!!!"
            && pread(fd, 11, (PAGE + 5) as i64) == b"second page",
        format!("{:?}", String::from_utf8_lossy(&pread(fd, 18, 0))),
    );
    // A private mapping copies on write: the file and the shared mapping keep theirs.
    let private = map(0, PAGE, RW, libc::MAP_PRIVATE, fd, 0).expect("private mmap");
    let before = read_at(private, 0);
    write_at(private, 0, b'X');
    report.check(
        "memfd: MAP_PRIVATE reads the file and copies on write",
        before == b'w' && read_at(at, 0) == b'w' && pread(fd, 1, 0) == b"w",
        format!("private read {before:#x}, shared {:#x}", read_at(at, 0)),
    );
    unmap(private, PAGE);
    // Shrunk under the mapping: the page past the end is SIGBUS, the one before still
    // the file's.
    truncate_fd(fd, PAGE as i64).unwrap();
    let status = in_child(|| {
        let _ = read_at(at, 0);
        let _ = read_at(at, PAGE);
        0
    });
    report.check(
        "memfd: touching a mapped page past a shrunk file's end is SIGBUS",
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGBUS,
        describe(status),
    );
    truncate_fd(fd, 2 * PAGE as i64).unwrap();
    report.check(
        "memfd: grown again, the cut page reads as zeros through the old mapping",
        bytes(at, PAGE + 5, 11) == vec![0; 11] && read_at(at, 11) == b'm',
        format!("{:?}", bytes(at, PAGE + 5, 11)),
    );
    unmap(at, 2 * PAGE);
    close(fd);

    report.check(
        "memfd_create: unknown flag is EINVAL",
        memfd("x", 0x100) == Err(libc::EINVAL),
        format!("{:?}", memfd("x", 0x100)),
    );
    let longest = "n".repeat(249);
    let too_long = "n".repeat(250);
    let ok = memfd(&longest, 0);
    report.check(
        "memfd_create: a 249-byte name is fine, 250 bytes EINVAL",
        ok.is_ok() && memfd(&too_long, 0) == Err(libc::EINVAL),
        format!("{ok:?} / {:?}", memfd(&too_long, 0)),
    );
    if let Ok(fd) = ok {
        close(fd);
    }
}

fn seal_checks(report: &mut Report) {
    let plain = memfd("plain", 0).expect("memfd_create");
    report.check(
        "seals: without MFD_ALLOW_SEALING the file is sealed against seals (EPERM)",
        fcntl(plain, libc::F_GET_SEALS, 0) == Ok(libc::F_SEAL_SEAL)
            && fcntl(plain, libc::F_ADD_SEALS, libc::F_SEAL_WRITE) == Err(libc::EPERM),
        format!("{:?}", fcntl(plain, libc::F_GET_SEALS, 0)),
    );
    close(plain);

    let fd = memfd("sealed", libc::MFD_ALLOW_SEALING).expect("memfd_create");
    write_fd(fd, &[7u8; 2 * PAGE]).unwrap();
    report.check(
        "seals: MFD_ALLOW_SEALING starts with none; an unknown seal is EINVAL",
        fcntl(fd, libc::F_GET_SEALS, 0) == Ok(0)
            && fcntl(fd, libc::F_ADD_SEALS, 0x100) == Err(libc::EINVAL),
        format!("{:?}", fcntl(fd, libc::F_GET_SEALS, 0)),
    );
    fcntl(
        fd,
        libc::F_ADD_SEALS,
        libc::F_SEAL_SHRINK | libc::F_SEAL_GROW,
    )
    .unwrap();
    report.check(
        "seals: F_SEAL_SHRINK and F_SEAL_GROW refuse ftruncate and writes past the end (EPERM)",
        truncate_fd(fd, PAGE as i64) == Err(libc::EPERM)
            && truncate_fd(fd, 3 * PAGE as i64) == Err(libc::EPERM)
            && pwrite(fd, b"x", 2 * PAGE as i64) == Err(libc::EPERM)
            && pwrite(fd, b"inside", 0) == Ok(6),
        format!("{:?}", truncate_fd(fd, PAGE as i64)),
    );
    let shared = map(0, PAGE, RW, libc::MAP_SHARED, fd, 0).expect("mmap");
    let busy = fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_WRITE);
    unmap(shared, PAGE);
    let sealed = fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_WRITE);
    report.check(
        "seals: F_SEAL_WRITE is EBUSY while a writable shared mapping exists, then granted",
        busy == Err(libc::EBUSY) && sealed == Ok(0),
        format!("{busy:?} then {sealed:?}"),
    );
    report.check(
        "seals: write-sealed, write() and a writable shared mapping are EPERM",
        pwrite(fd, b"x", 0) == Err(libc::EPERM)
            && map(0, PAGE, RW, libc::MAP_SHARED, fd, 0) == Err(libc::EPERM),
        format!("{:?}", pwrite(fd, b"x", 0)),
    );
    let read_only = map(0, PAGE, libc::PROT_READ, libc::MAP_SHARED, fd, 0);
    let widen = read_only.map(|at| protect(at, PAGE, RW));
    report.check(
        "seals: a read-only shared mapping is allowed and mprotect to writable is EACCES",
        widen == Ok(Err(libc::EACCES)),
        format!("{widen:?}"),
    );
    if let Ok(at) = read_only {
        unmap(at, PAGE);
    }
    let private = map(0, PAGE, RW, libc::MAP_PRIVATE, fd, 0);
    if let Ok(at) = private {
        write_at(at, 0, b'Z');
    }
    report.check(
        "seals: a private writable mapping is allowed and leaves the file alone",
        private.is_ok() && pread(fd, 1, 0) == b"i",
        format!("{:?} / {:?}", private.err(), pread(fd, 1, 0)),
    );
    if let Ok(at) = private {
        unmap(at, PAGE);
    }
    fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_SEAL).unwrap();
    report.check(
        "seals: after F_SEAL_SEAL no seal can be added (EPERM)",
        fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) == Err(libc::EPERM)
            && fcntl(fd, libc::F_GET_SEALS, 0)
                == Ok(libc::F_SEAL_SEAL
                    | libc::F_SEAL_SHRINK
                    | libc::F_SEAL_GROW
                    | libc::F_SEAL_WRITE),
        format!("{:?}", fcntl(fd, libc::F_GET_SEALS, 0)),
    );
    close(fd);
}

/// `shm_open` is `open("/dev/shm/NAME", O_CREAT)` + `ftruncate` + `mmap(MAP_SHARED)`:
/// two processes that each open and map it share its pages.
fn dev_shm(report: &mut Report) {
    // SAFETY: getpid has no preconditions.
    let name = format!("/dev/shm/shared-memory-test-{}", unsafe { libc::getpid() });
    let path = CString::new(name.clone()).unwrap();
    let open = || {
        // SAFETY: a NUL-terminated path.
        unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC,
                0o600,
            )
        }
    };
    let fd = open();
    if fd < 0 {
        report.check(
            "/dev/shm: a file can be created",
            false,
            format!("errno {}", errno()),
        );
        return;
    }
    truncate_fd(fd, 2 * PAGE as i64).unwrap();
    let at = map(0, 2 * PAGE, RW, libc::MAP_SHARED, fd, 0).expect("mmap /dev/shm file");
    fill(at, 0, b"parent");
    let status = in_child(|| {
        // The child maps it again on its own, by name, as a second process would.
        let fd = open();
        let Ok(mine) = map(0, 2 * PAGE, RW, libc::MAP_SHARED, fd, 0) else {
            return 1;
        };
        if bytes(mine, 0, 6) != b"parent" {
            return 2;
        }
        fill(mine, PAGE, b"child");
        fill(at, 10, b"inherited");
        0
    });
    report.check(
        "/dev/shm: a file mapped by two processes shares its pages (shm_open)",
        exited_ok(status) && bytes(at, PAGE, 5) == b"child" && bytes(at, 10, 9) == b"inherited",
        describe(status),
    );
    report.check(
        "/dev/shm: read() sees what the mappings wrote",
        pread(fd, 5, PAGE as i64) == b"child",
        format!("{:?}", pread(fd, 5, PAGE as i64)),
    );
    report.check(
        "/dev/shm: a tmpfs file is sealed against seals (F_GET_SEALS is F_SEAL_SEAL)",
        fcntl(fd, libc::F_GET_SEALS, 0) == Ok(libc::F_SEAL_SEAL),
        format!("{:?}", fcntl(fd, libc::F_GET_SEALS, 0)),
    );
    unmap(at, 2 * PAGE);
    close(fd);
    // SAFETY: a NUL-terminated path.
    unsafe { libc::unlink(path.as_ptr()) };
}

fn mremap_checks(report: &mut Report) {
    // Grow in place: reserve five pages, give back the third and fourth, grow into them;
    // the fifth then blocks growing further.
    let at = anon(5 * PAGE, libc::MAP_PRIVATE);
    let blocker = unsafe { at.add(4 * PAGE) };
    unmap(unsafe { at.add(2 * PAGE) }, 2 * PAGE);
    fill(at, PAGE, b"kept");
    let grown = remap(at, 2 * PAGE, 4 * PAGE, 0, 0);
    report.check(
        "mremap: grows in place into free space, contents kept",
        grown == Ok(at) && bytes(at, PAGE, 4) == b"kept" && read_at(at, 3 * PAGE) == 0,
        format!("{grown:?} (was {at:?})"),
    );
    // Blocked behind: ENOMEM without MREMAP_MAYMOVE, a move with it.
    protect(blocker, PAGE, libc::PROT_READ).unwrap();
    let refused = remap(at, 4 * PAGE, 8 * PAGE, 0, 0);
    let moved = remap(at, 4 * PAGE, 8 * PAGE, libc::MREMAP_MAYMOVE, 0);
    report.check(
        "mremap: blocked, ENOMEM without MREMAP_MAYMOVE; moved with it, contents kept",
        refused == Err(libc::ENOMEM)
            && moved.is_ok_and(|new| new != at && bytes(new, PAGE, 4) == b"kept"),
        format!("{refused:?} / {moved:?}"),
    );
    unmap(blocker, PAGE);
    let Ok(moved) = moved else {
        return;
    };
    let shrunk = remap(moved, 8 * PAGE, 2 * PAGE, 0, 0);
    report.check(
        "mremap: shrinks in place, the tail unmapped",
        shrunk == Ok(moved)
            && bytes(moved, PAGE, 4) == b"kept"
            && protect(unsafe { moved.add(2 * PAGE) }, PAGE, libc::PROT_READ) == Err(libc::ENOMEM),
        format!("{shrunk:?}"),
    );
    // MREMAP_FIXED to a chosen free place.
    let target = anon(2 * PAGE, libc::MAP_PRIVATE);
    unmap(target, 2 * PAGE);
    let fixed = remap(
        moved,
        2 * PAGE,
        2 * PAGE,
        libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
        target as usize,
    );
    report.check(
        "mremap: MREMAP_FIXED moves to the given address, contents kept",
        fixed == Ok(target) && bytes(target, PAGE, 4) == b"kept",
        format!("{fixed:?} (asked {target:?})"),
    );
    // MREMAP_DONTUNMAP: the old range stays mapped and reads zeros (private memory).
    let dont = remap(
        target,
        2 * PAGE,
        2 * PAGE,
        libc::MREMAP_MAYMOVE | libc::MREMAP_DONTUNMAP,
        0,
    );
    report.check(
        "mremap: MREMAP_DONTUNMAP moves the pages, the old range stays and reads zeros",
        dont.is_ok_and(|new| {
            bytes(new, PAGE, 4) == b"kept" && bytes(target, PAGE, 4) == vec![0; 4]
        }),
        format!("{dont:?}"),
    );
    if let Ok(new) = dont {
        unmap(new, 2 * PAGE);
    }
    unmap(target, 2 * PAGE);

    let bad_flags = remap(at, PAGE, PAGE, 8, 0);
    let fixed_alone = remap(at, PAGE, PAGE, libc::MREMAP_FIXED, 0);
    let dontunmap_resize = remap(
        at,
        PAGE,
        2 * PAGE,
        libc::MREMAP_MAYMOVE | libc::MREMAP_DONTUNMAP,
        0,
    );
    let unaligned = remap(unsafe { at.add(1) }, PAGE, PAGE, 0, 0);
    report.check(
        "mremap: unknown flag, MREMAP_FIXED alone, DONTUNMAP with a resize, unaligned: EINVAL",
        [bad_flags, fixed_alone, dontunmap_resize, unaligned]
            .iter()
            .all(|result| *result == Err(libc::EINVAL)),
        format!("{bad_flags:?} {fixed_alone:?} {dontunmap_resize:?} {unaligned:?}"),
    );
    let unmapped = remap(target, PAGE, 2 * PAGE, libc::MREMAP_MAYMOVE, 0);
    let unmapped_shrink = remap(target, 2 * PAGE, PAGE, 0, 0);
    report.check(
        "mremap: growing or shrinking an unmapped range is EFAULT",
        unmapped == Err(libc::EFAULT) && unmapped_shrink == Err(libc::EFAULT),
        format!("{unmapped:?} / {unmapped_shrink:?}"),
    );
    let area = anon(2 * PAGE, libc::MAP_PRIVATE);
    let overlap = remap(
        area,
        PAGE,
        PAGE,
        libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
        area as usize,
    );
    let private_dup = remap(area, 0, PAGE, libc::MREMAP_MAYMOVE, 0);
    report.check(
        "mremap: overlapping MREMAP_FIXED and duplicating private memory (old_size 0): EINVAL",
        overlap == Err(libc::EINVAL) && private_dup == Err(libc::EINVAL),
        format!("{overlap:?} / {private_dup:?}"),
    );
    unmap(area, 2 * PAGE);

    // A shared mapping moved by the parent still shares with a child that has it.
    let shared = anon(PAGE, libc::MAP_SHARED);
    let (to_child, to_parent) = (pipe(), pipe());
    let child = spawn(|| {
        await_pipe(to_child[0]);
        write_at(shared, 7, b'S');
        signal_pipe(to_parent[1]);
        0
    });
    let moved_shared = remap(shared, PAGE, 3 * PAGE, libc::MREMAP_MAYMOVE, 0);
    signal_pipe(to_child[1]);
    await_pipe(to_parent[0]);
    let status = wait(child);
    report.check(
        "mremap: a shared anonymous mapping moved by the parent still shares with the child",
        exited_ok(status) && moved_shared.is_ok_and(|new| read_at(new, 7) == b'S'),
        format!("{moved_shared:?}, {}", describe(status)),
    );
    for fd in to_child.into_iter().chain(to_parent) {
        close(fd);
    }
    // Grown past its file (the mapping's size at mmap): SIGBUS there, as Linux.
    if let Ok(new) = moved_shared {
        let status = in_child(|| {
            let _ = read_at(new, PAGE);
            0
        });
        report.check(
            "mremap: a grown shared anonymous mapping is SIGBUS past its original size",
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGBUS,
            describe(status),
        );
        unmap(new, 3 * PAGE);
    }
}

fn madvise_checks(report: &mut Report) {
    let private = anon(2 * PAGE, libc::MAP_PRIVATE);
    let shared = anon(2 * PAGE, libc::MAP_SHARED);
    fill(private, 0, b"private");
    fill(shared, 0, b"shared");
    let dropped = (
        advise(private, 2 * PAGE, libc::MADV_DONTNEED),
        advise(shared, 2 * PAGE, libc::MADV_DONTNEED),
    );
    report.check(
        "madvise: MADV_DONTNEED zeroes private memory",
        dropped.0 == 0 && bytes(private, 0, 7) == vec![0; 7],
        format!("{dropped:?} {:?}", bytes(private, 0, 7)),
    );
    report.check(
        "madvise: MADV_DONTNEED keeps shared memory's data",
        dropped.1 == 0 && bytes(shared, 0, 6) == b"shared",
        format!("{dropped:?} {:?}", bytes(shared, 0, 6)),
    );

    // Every advice Linux accepts here; unknown ones are EINVAL; holes are ENOMEM.
    let hints = [
        libc::MADV_NORMAL,
        libc::MADV_RANDOM,
        libc::MADV_SEQUENTIAL,
        libc::MADV_WILLNEED,
        libc::MADV_MERGEABLE,
        libc::MADV_UNMERGEABLE,
        libc::MADV_HUGEPAGE,
        libc::MADV_NOHUGEPAGE,
        libc::MADV_DONTDUMP,
        libc::MADV_DODUMP,
        libc::MADV_COLD,
        libc::MADV_PAGEOUT,
        libc::MADV_POPULATE_READ,
        libc::MADV_POPULATE_WRITE,
    ];
    let refused: Vec<_> = hints
        .iter()
        .map(|&advice| (advice, advise(private, 2 * PAGE, advice)))
        .filter(|&(_, error)| error != 0)
        .collect();
    report.check(
        "madvise: the hints Linux accepts are accepted",
        refused.is_empty(),
        format!("refused (advice, errno): {refused:?}"),
    );
    let hole = anon(3 * PAGE, libc::MAP_PRIVATE);
    unmap(unsafe { hole.add(PAGE) }, PAGE);
    report.check(
        "madvise: unknown advice EINVAL, a range with a hole ENOMEM, unaligned EINVAL",
        advise(private, PAGE, 7) == libc::EINVAL
            && advise(private, PAGE, MADV_COLLAPSE) == libc::EINVAL
            && advise(private, PAGE, 1000) == libc::EINVAL
            && advise(hole, 3 * PAGE, libc::MADV_NORMAL) == libc::ENOMEM
            && advise(unsafe { private.add(1) }, PAGE, libc::MADV_NORMAL) == libc::EINVAL,
        format!(
            "{} {} {}",
            advise(private, PAGE, 7),
            advise(hole, 3 * PAGE, libc::MADV_NORMAL),
            advise(unsafe { private.add(1) }, PAGE, libc::MADV_NORMAL)
        ),
    );
    unmap(hole, 3 * PAGE);
    report.check(
        "madvise: MADV_FREE and MADV_WIPEONFORK on shared memory, MADV_REMOVE on private: EINVAL",
        advise(shared, PAGE, libc::MADV_FREE) == libc::EINVAL
            && advise(shared, PAGE, libc::MADV_WIPEONFORK) == libc::EINVAL
            && advise(private, PAGE, libc::MADV_REMOVE) == libc::EINVAL,
        format!(
            "{} {} {}",
            advise(shared, PAGE, libc::MADV_FREE),
            advise(shared, PAGE, libc::MADV_WIPEONFORK),
            advise(private, PAGE, libc::MADV_REMOVE)
        ),
    );

    // MADV_WIPEONFORK: the child's copy is zeros, the parent keeps its data.
    fill(private, 0, b"wipe me");
    fill(private, PAGE, b"keep me");
    let wiped = advise(private, PAGE, libc::MADV_WIPEONFORK);
    let status = in_child(|| {
        let zero = bytes(private, 0, 7) == vec![0; 7];
        let kept = bytes(private, PAGE, 7) == b"keep me";
        match (zero, kept) {
            (true, true) => 0,
            (false, _) => 1,
            (true, false) => 2,
        }
    });
    report.check(
        "madvise: MADV_WIPEONFORK gives the child zeros, the parent keeps its data",
        wiped == 0 && exited_ok(status) && bytes(private, 0, 7) == b"wipe me",
        format!("{wiped}, {}", describe(status)),
    );
    advise(private, PAGE, libc::MADV_KEEPONFORK);
    let status = in_child(|| i32::from(bytes(private, 0, 7) != b"wipe me"));
    report.check(
        "madvise: MADV_KEEPONFORK undoes it",
        exited_ok(status),
        describe(status),
    );

    // MADV_DONTFORK: the child has no mapping there at all.
    let dontfork = advise(private, PAGE, libc::MADV_DONTFORK);
    let status = in_child(|| match protect(private, PAGE, libc::PROT_READ) {
        Err(libc::ENOMEM) => 0,
        _ => 1,
    });
    report.check(
        "madvise: MADV_DONTFORK leaves the range out of the child",
        dontfork == 0 && exited_ok(status),
        format!("{dontfork}, {}", describe(status)),
    );
    advise(private, PAGE, libc::MADV_DOFORK);

    // MADV_REMOVE punches the shared file: every mapping of it reads zeros there.
    fill(shared, PAGE, b"second");
    let (to_child, to_parent) = (pipe(), pipe());
    let child = spawn(|| {
        // Touch it first, so the child holds the page when the parent punches it.
        let before = bytes(shared, 0, 6) == b"shared";
        signal_pipe(to_parent[1]);
        await_pipe(to_child[0]);
        let after = bytes(shared, 0, 6) == vec![0; 6] && bytes(shared, PAGE, 6) == b"second";
        match (before, after) {
            (true, true) => 0,
            (false, _) => 1,
            (true, false) => 2,
        }
    });
    await_pipe(to_parent[0]);
    let removed = advise(shared, PAGE, libc::MADV_REMOVE);
    signal_pipe(to_child[1]);
    let status = wait(child);
    report.check(
        "madvise: MADV_REMOVE punches shared memory for every process mapping it",
        removed == 0 && exited_ok(status) && bytes(shared, 0, 6) == vec![0; 6],
        format!("{removed}, {}", describe(status)),
    );
    for fd in to_child.into_iter().chain(to_parent) {
        close(fd);
    }
    let read_only = anon(PAGE, libc::MAP_PRIVATE);
    protect(read_only, PAGE, libc::PROT_READ).unwrap();
    report.check(
        "madvise: MADV_POPULATE_WRITE on a read-only mapping is EINVAL",
        advise(read_only, PAGE, libc::MADV_POPULATE_WRITE) == libc::EINVAL,
        format!("{}", advise(read_only, PAGE, libc::MADV_POPULATE_WRITE)),
    );
    unmap(read_only, PAGE);
    unmap(private, 2 * PAGE);
    unmap(shared, 2 * PAGE);
}

/// With `--dev-shm-size KIB`, `/dev/shm` is a tmpfs mount of that size (a container
/// runtime's `--shm-size`): its pages, written or touched through a mapping, stop there:
/// `ENOSPC` for `write`, `SIGBUS` for a mapping (Linux's shmem fault).
fn dev_shm_limit(report: &mut Report, kib: usize) {
    // SAFETY: a zeroed statfs is a valid buffer; the path is NUL-terminated.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let found = unsafe { libc::statfs(c"/dev/shm".as_ptr(), &mut stat) };
    let size = stat.f_blocks as usize * stat.f_bsize as usize;
    report.check(
        "/dev/shm: a tmpfs mount of the size asked",
        found == 0 && stat.f_type as i64 == libc::TMPFS_MAGIC as i64 && size == kib * 1024,
        format!("statfs {found}, type {:#x}, {size} bytes", stat.f_type),
    );
    let path = c"/dev/shm/limit";
    // SAFETY: a NUL-terminated path.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC,
            0o600,
        )
    };
    let len = 2 * kib * 1024;
    if fd < 0 || truncate_fd(fd, len as i64).is_err() {
        report.check(
            "/dev/shm: a file past the mount's size can be made sparse",
            false,
            errno(),
        );
        return;
    }
    let at = map(0, len, RW, libc::MAP_SHARED, fd, 0).expect("mmap");
    let pages = kib * 1024 / PAGE;
    let status = in_child(|| {
        for page in 0..pages {
            write_at(at, page * PAGE, 1);
        }
        // One page more than the filesystem holds.
        write_at(at, pages * PAGE, 1);
        0
    });
    report.check(
        "/dev/shm: touching a page past the mount's size through a mapping is SIGBUS",
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGBUS,
        describe(status),
    );
    report.check(
        "/dev/shm: the full mount refuses write() with ENOSPC",
        pwrite(fd, b"x", (pages * PAGE) as i64) == Err(libc::ENOSPC),
        format!("{:?}", pwrite(fd, b"x", (pages * PAGE) as i64)),
    );
    unmap(at, len);
    close(fd);
    // SAFETY: a NUL-terminated path.
    unsafe { libc::unlink(path.as_ptr()) };
}

/// `MemTotal` from `/proc/meminfo`, in bytes.
fn mem_total() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// With `--exhaust-shared` (for a small machine: it touches all of its memory): shared
/// anonymous pages are charged like private ones, so a child touching more of them than
/// there is memory is ended by the OOM killer (`SIGKILL`), and once it is gone, with the
/// last mapping of its pages, shared memory works again.
fn exhaust_shared(report: &mut Report) {
    let Some(total) = mem_total() else {
        report.check("shared memory past all of memory", false, "no MemTotal");
        return;
    };
    let len = total.next_multiple_of(PAGE);
    let status = in_child(|| {
        let Ok(at) = map(0, len, RW, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0) else {
            return 1;
        };
        for offset in (0..len).step_by(PAGE) {
            write_at(at, offset, 1);
        }
        0
    });
    report.check(
        "shared anonymous memory past all of memory: the toucher is OOM-killed (SIGKILL)",
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL,
        describe(status),
    );
    let shared = anon(64 * PAGE, libc::MAP_SHARED);
    let status = in_child(|| {
        for offset in (0..64 * PAGE).step_by(PAGE) {
            write_at(shared, offset, 7);
        }
        0
    });
    report.check(
        "shared anonymous memory works again afterwards",
        exited_ok(status)
            && (0..64 * PAGE)
                .step_by(PAGE)
                .all(|at| read_at(shared, at) == 7),
        describe(status),
    );
    unmap(shared, 64 * PAGE);
}

fn main() -> ExitCode {
    let mut report = Report::default();
    let args: Vec<String> = std::env::args().collect();
    match args.as_slice() {
        [_, flag, kib] if flag == "--dev-shm-size" => {
            dev_shm_limit(&mut report, kib.parse().expect("--dev-shm-size KIB"));
        }
        [_, flag] if flag == "--exhaust-shared" => {
            exhaust_shared(&mut report);
            return report.finish("shared-memory");
        }
        _ => {}
    }
    shared_anonymous(&mut report);
    memfd_checks(&mut report);
    seal_checks(&mut report);
    dev_shm(&mut report);
    mremap_checks(&mut report);
    madvise_checks(&mut report);
    report.finish("shared-memory")
}
