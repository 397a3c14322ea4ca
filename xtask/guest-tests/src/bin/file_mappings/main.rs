//! `file-mappings`: file mappings as a program sees them, each answer Linux's, in every
//! directory named on the command line (in the sandbox: tmpfs, the overlay root, a 9p
//! bind mount):
//! - a store through a `MAP_SHARED` mapping is what `read` sees at once, through another
//!   descriptor and in another process (forked, and exec'd), before any `msync`;
//! - `write`/`pwrite`/`writev` and `ftruncate` through a descriptor are what the mapping
//!   sees;
//! - stores go back to the file on `msync(MS_SYNC)`, `msync(MS_ASYNC)`, `munmap`, `fsync`
//!   and the end of the process that made them (the files of `persist.rs`, which the boot
//!   test also checks on the host for the 9p mount), and never extend it: a store past the
//!   end in the last page stays out of the file, a page wholly past the end is `SIGBUS`,
//!   also after a truncate;
//! - `MAP_PRIVATE` copies on write; `mremap` and `madvise(MADV_DONTNEED)` of file
//!   mappings; `mincore` and `MAP_POPULATE`;
//! and once: `/dev/zero` mappings shared and private across `fork`, `MAP_NORESERVE`, and
//! `msync`/`mincore` errors. With `--lower FILE`, a file of the overlay's lower layer
//! opened for writing and mapped shared (copied up at open) takes stores and shows them.
//!
//! `file-mappings --expect PATH OFFSET TEXT` is the exec'd reader: exit 0 if `PATH` holds
//! `TEXT` at `OFFSET`. `file-mappings --pressure DIR MIB` stores through a shared mapping
//! of a file larger than memory (see [`pressure`]).
//!
//! One line per check (`ok`/`FAIL`), then `file-mappings: N passed, M failed`; exit 0
//! only if all passed. Runs on the host too, to check the expectations against Linux.

mod persist;

use std::ffi::CString;
use std::process::ExitCode;
use std::ptr;

use persist::{How, PERSISTED, Persisted};

#[path = "../../report.rs"]
mod report;
use report::{Report, errno};

const PAGE: usize = 4096;
const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;

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

fn unmap(at: *mut u8, len: usize) -> Result<(), i32> {
    // SAFETY: unmapping memory this program mapped and no longer uses.
    if unsafe { libc::munmap(at.cast(), len) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

fn msync(at: usize, len: usize, flags: i32) -> Result<(), i32> {
    // SAFETY: msync only reads the page tables of the given range (or fails).
    if unsafe { libc::msync(at as *mut libc::c_void, len, flags) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// `mincore` into a vector of `pages` bytes.
fn mincore(at: usize, len: usize, pages: usize) -> Result<Vec<u8>, i32> {
    let mut vec = vec![0xffu8; pages];
    // SAFETY: `vec` has room for one byte per page of `len`.
    if unsafe { libc::mincore(at as *mut libc::c_void, len, vec.as_mut_ptr()) } == 0 {
        Ok(vec.iter().map(|byte| byte & 1).collect())
    } else {
        Err(errno())
    }
}

/// `mincore` with a raw vector address (for the error checks).
fn mincore_raw(at: usize, len: usize, vec: usize) -> Result<(), i32> {
    // SAFETY: the kernel checks `vec`; a bad one is EFAULT, not a crash.
    if unsafe { libc::syscall(libc::SYS_mincore, at, len, vec) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

fn remap(old: *mut u8, old_len: usize, new_len: usize, flags: i32) -> Result<*mut u8, i32> {
    // SAFETY: mremap moves or resizes mappings this program owns.
    let at = unsafe { libc::syscall(libc::SYS_mremap, old, old_len, new_len, flags, 0usize) };
    if at == -1 {
        Err(errno())
    } else {
        Ok(at as *mut u8)
    }
}

fn advise(at: *mut u8, len: usize, advice: i32) -> Result<(), i32> {
    // SAFETY: advice about this program's own mappings.
    if unsafe { libc::madvise(at.cast(), len, advice) } == 0 {
        Ok(())
    } else {
        Err(errno())
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

fn open(path: &str, flags: i32) -> Result<i32, i32> {
    let name = CString::new(path).expect("path");
    // SAFETY: a NUL-terminated path.
    let fd = unsafe { libc::open(name.as_ptr(), flags | libc::O_CLOEXEC, 0o644) };
    if fd < 0 { Err(errno()) } else { Ok(fd) }
}

/// A new file at `path` holding `contents`, open for reading and writing.
fn create(path: &str, contents: &[u8]) -> i32 {
    let fd = open(path, libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC)
        .unwrap_or_else(|e| panic!("creating {path}: errno {e}"));
    assert_eq!(
        pwrite(fd, contents, 0),
        Ok(contents.len()),
        "writing {path}"
    );
    fd
}

fn pwrite(fd: i32, data: &[u8], offset: usize) -> Result<usize, i32> {
    // SAFETY: data is a valid buffer.
    let written = unsafe { libc::pwrite(fd, data.as_ptr().cast(), data.len(), offset as i64) };
    if written < 0 {
        Err(errno())
    } else {
        Ok(written as usize)
    }
}

fn pread(fd: i32, len: usize, offset: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    // SAFETY: buf is a valid buffer of len bytes.
    let read = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), len, offset as i64) };
    buf.truncate(read.max(0) as usize);
    buf
}

fn truncate_fd(fd: i32, len: usize) -> Result<(), i32> {
    // SAFETY: ftruncate on a descriptor this program owns.
    if unsafe { libc::ftruncate(fd, len as i64) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

fn fsync(fd: i32) -> Result<(), i32> {
    // SAFETY: fsync on a descriptor this program owns.
    if unsafe { libc::fsync(fd) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

fn size_of(fd: i32) -> i64 {
    // SAFETY: a zeroed stat is a valid buffer for fstat to fill.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: stat is a valid buffer.
    unsafe { libc::fstat(fd, &mut stat) };
    stat.st_size
}

fn inode_of(fd: i32) -> u64 {
    // SAFETY: as in `size_of`.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: stat is a valid buffer.
    unsafe { libc::fstat(fd, &mut stat) };
    stat.st_ino
}

fn close(fd: i32) {
    // SAFETY: closing a descriptor this program owns.
    unsafe { libc::close(fd) };
}

/// Forks; the child runs `child` and exits with its result; returns the wait status.
fn in_child(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only touches memory and makes system calls, then _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = child();
        // SAFETY: leaving the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for a child of this process.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    status
}

fn exited_ok(status: i32) -> bool {
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

fn killed_by(status: i32, signal: i32) -> bool {
    libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == signal
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

/// Runs this program again (fork and exec) to check that `path` holds `text` at `offset`
/// through `read`; returns the wait status.
fn exec_expect(path: &str, offset: usize, text: &str) -> i32 {
    let exe = std::env::current_exe().expect("current_exe");
    let exe = CString::new(exe.into_os_string().into_encoded_bytes()).expect("exe path");
    let args: Vec<CString> = ["file-mappings", "--expect", path, &offset.to_string(), text]
        .iter()
        .map(|arg| CString::new(*arg).expect("argument"))
        .collect();
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|arg| arg.as_ptr()).collect();
    argv.push(ptr::null());
    in_child(|| {
        // SAFETY: argv is a NULL-terminated array of NUL-terminated strings.
        unsafe { libc::execv(exe.as_ptr(), argv.as_ptr()) };
        127
    })
}

/// The exec'd reader (`--expect PATH OFFSET TEXT`).
fn expect_mode(args: &[String]) -> ExitCode {
    let [path, offset, text] = args else {
        eprintln!("usage: file-mappings --expect PATH OFFSET TEXT");
        return ExitCode::from(2);
    };
    let offset: usize = offset.parse().expect("offset");
    let Ok(fd) = open(path, libc::O_RDONLY) else {
        eprintln!("file-mappings --expect: cannot open {path}");
        return ExitCode::from(3);
    };
    let seen = pread(fd, text.len(), offset);
    if seen == text.as_bytes() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "file-mappings --expect: {path} holds {:?} at {offset}, not {text:?}",
            String::from_utf8_lossy(&seen)
        );
        ExitCode::from(1)
    }
}

fn shared(fd: i32, len: usize) -> *mut u8 {
    map(0, len, RW, libc::MAP_SHARED, fd, 0).expect("mmap MAP_SHARED")
}

/// Stores, `read` through another descriptor, a forked child and an exec'd one.
fn coherence(report: &mut Report, dir: &str) {
    let path = format!("{dir}/coherence");
    let fd = create(&path, &vec![b'c'; 2 * PAGE]);
    let other = open(&path, libc::O_RDONLY).expect("second descriptor");
    let at = shared(fd, 2 * PAGE);
    fill(at, 100, b"stored through the mapping");
    fill(at, PAGE + 5, b"page two");
    report.check(
        &format!("{dir}: a store through MAP_SHARED is what read() on another descriptor sees, before msync"),
        pread(other, 26, 100) == b"stored through the mapping" && pread(other, 8, PAGE + 5) == b"page two",
        format!("{:?}", String::from_utf8_lossy(&pread(other, 26, 100))),
    );
    let status = exec_expect(&path, 100, "stored through the mapping");
    report.check(
        &format!("{dir}: an exec'd process reads the stored bytes with read()"),
        exited_ok(status),
        describe(status),
    );
    let status = in_child(|| {
        let inherited = bytes(at, PAGE + 5, 8) == b"page two";
        fill(at, 200, b"from the child");
        if inherited { 0 } else { 1 }
    });
    report.check(
        &format!("{dir}: a forked child shares the mapping both ways"),
        exited_ok(status)
            && bytes(at, 200, 14) == b"from the child"
            && pread(other, 14, 200) == b"from the child",
        format!(
            "{}; parent reads {:?}",
            describe(status),
            String::from_utf8_lossy(&bytes(at, 200, 14))
        ),
    );
    // A second mapping from a page into the file: the same page as the first's second.
    let second = map(0, PAGE, RW, libc::MAP_SHARED, fd, PAGE as i64).expect("mmap at an offset");
    fill(second, 40, b"second mapping");
    report.check(
        &format!("{dir}: two mappings at different offsets share the file's page"),
        bytes(at, PAGE + 40, 14) == b"second mapping"
            && pread(other, 14, PAGE + 40) == b"second mapping"
            && bytes(second, 5, 8) == b"page two",
        format!("{:?}", String::from_utf8_lossy(&bytes(at, PAGE + 40, 14))),
    );
    let _ = unmap(second, PAGE);
    let synced = msync(at as usize, 2 * PAGE, libc::MS_SYNC);
    let status = exec_expect(&path, PAGE + 5, "page two");
    report.check(
        &format!("{dir}: msync(MS_SYNC) succeeds and the bytes stay"),
        synced.is_ok() && exited_ok(status),
        format!("{synced:?}, {}", describe(status)),
    );
    // Written back, the pages are clean: the next stores must be seen all the same, the
    // parent's and a child's.
    fill(at, 100, b"STORED AGAIN");
    let status = in_child(|| {
        fill(at, PAGE + 5, b"PAGE TWO");
        0
    });
    report.check(
        &format!("{dir}: stores after msync, the parent's and a forked child's, are read() too"),
        exited_ok(status)
            && pread(other, 12, 100) == b"STORED AGAIN"
            && pread(other, 8, PAGE + 5) == b"PAGE TWO",
        format!(
            "{:?} {:?}",
            String::from_utf8_lossy(&pread(other, 12, 100)),
            String::from_utf8_lossy(&pread(other, 8, PAGE + 5))
        ),
    );
    let _ = unmap(at, 2 * PAGE);
    close(other);
    close(fd);
}

/// Descriptor writes and size changes as the mapping sees them.
fn descriptor_writes(report: &mut Report, dir: &str) {
    let path = format!("{dir}/descriptor-writes");
    let fd = create(&path, &vec![b'w'; 2 * PAGE]);
    let at = shared(fd, 3 * PAGE);
    let before = read_at(at, 50);
    let wrote = pwrite(fd, b"pwrite!", 50);
    report.check(
        &format!("{dir}: pwrite() is what a mapped page read before shows"),
        before == b'w' && wrote == Ok(7) && bytes(at, 50, 7) == b"pwrite!",
        format!("{:?}", String::from_utf8_lossy(&bytes(at, 50, 7))),
    );
    let parts = [b"wri".as_slice(), b"tev".as_slice()];
    let iov: Vec<libc::iovec> = parts
        .iter()
        .map(|part| libc::iovec {
            iov_base: part.as_ptr() as *mut _,
            iov_len: part.len(),
        })
        .collect();
    // SAFETY: the iovecs point at live buffers; the offset is set first.
    let written = unsafe {
        libc::lseek(fd, (PAGE + 10) as i64, libc::SEEK_SET);
        libc::writev(fd, iov.as_ptr(), iov.len() as i32)
    };
    report.check(
        &format!("{dir}: writev() reaches the mapping"),
        written == 6 && bytes(at, PAGE + 10, 6) == b"writev",
        format!(
            "{written}, {:?}",
            String::from_utf8_lossy(&bytes(at, PAGE + 10, 6))
        ),
    );
    // Grown by ftruncate: the new page reads zeros and takes stores.
    let grown = truncate_fd(fd, 3 * PAGE);
    let zeros = bytes(at, 2 * PAGE, 16) == vec![0; 16];
    fill(at, 2 * PAGE + 1, b"grown");
    report.check(
        &format!(
            "{dir}: ftruncate() growing the file: the new page reads zeros, a store there is read()"
        ),
        grown.is_ok() && zeros && pread(fd, 5, 2 * PAGE + 1) == b"grown",
        format!("{grown:?}, zeros {zeros}"),
    );
    let _ = unmap(at, 3 * PAGE);
    close(fd);
}

/// The files the host checks afterwards (see `persist.rs`).
fn persisted(report: &mut Report, dir: &str) {
    for file in PERSISTED {
        let path = format!("{dir}/{}", file.name);
        let fd = create(&path, &vec![b'.'; file.size]);
        let len = file.size.next_multiple_of(PAGE);
        let done = match file.how {
            How::Exit => {
                let status = in_child(|| {
                    let Ok(fd) = open(&path, libc::O_RDWR) else {
                        return 3;
                    };
                    let Ok(at) = map(0, len, RW, libc::MAP_SHARED, fd, 0) else {
                        return 4;
                    };
                    store_all(at, file);
                    0 // no msync, no munmap: the exit writes back
                });
                if exited_ok(status) {
                    Ok(())
                } else {
                    Err(status)
                }
            }
            How::StoreAfterMsync => {
                let at = shared(fd, len);
                let (first, rest) = file.stores.split_at(1);
                fill(at, first[0].0, first[0].1);
                let synced = msync(at as usize, len, libc::MS_SYNC);
                for &(offset, data) in rest {
                    fill(at, offset, data);
                }
                synced.and_then(|()| unmap(at, len))
            }
            how => {
                let at = shared(fd, len);
                store_all(at, file);
                match how {
                    How::MsyncSync => {
                        msync(at as usize, len, libc::MS_SYNC).and_then(|()| unmap(at, len))
                    }
                    How::MsyncAsync => {
                        msync(at as usize, len, libc::MS_ASYNC).and_then(|()| unmap(at, len))
                    }
                    How::Munmap => unmap(at, len),
                    // The mapping stays until the program ends.
                    How::Fsync => fsync(fd),
                    How::Exit | How::StoreAfterMsync => unreachable!(),
                }
            }
        };
        let expected = persist::expected(file);
        let seen = pread(fd, file.size + 100, 0);
        report.check(
            &format!(
                "{dir}/{}: written back ({:?}), read() gives the stores, the size unchanged",
                file.name, file.how
            ),
            done.is_ok() && seen == expected && size_of(fd) == file.size as i64,
            format!("{done:?}, {} bytes read, size {}", seen.len(), size_of(fd)),
        );
        close(fd);
    }
}

fn store_all(at: *mut u8, file: &Persisted) {
    for &(offset, data) in file.stores {
        fill(at, offset, data);
    }
}

/// Stores past the end, pages past the end, truncation under a mapping.
fn end_of_file(report: &mut Report, dir: &str) {
    let path = format!("{dir}/short");
    let fd = create(&path, &[b's'; 100]);
    let at = shared(fd, 2 * PAGE);
    let status = in_child(|| {
        let _ = read_at(at, PAGE);
        0
    });
    report.check(
        &format!("{dir}: touching a mapped page wholly past the end is SIGBUS"),
        killed_by(status, libc::SIGBUS),
        describe(status),
    );
    write_at(at, 99, b'Z');
    write_at(at, 150, b'Q');
    let synced = msync(at as usize, PAGE, libc::MS_SYNC);
    let seen = pread(fd, 200, 0);
    report.check(
        &format!("{dir}: a store past the end in the last page never reaches the file"),
        synced.is_ok() && seen.len() == 100 && seen[99] == b'Z' && size_of(fd) == 100,
        format!("{synced:?}, {} bytes, size {}", seen.len(), size_of(fd)),
    );
    let _ = unmap(at, 2 * PAGE);
    close(fd);

    let path = format!("{dir}/truncated");
    let fd = create(&path, &vec![b't'; 3 * PAGE]);
    let other = open(&path, libc::O_RDWR).expect("second descriptor");
    let at = shared(fd, 3 * PAGE);
    fill(at, 2 * PAGE, b"cut off");
    fill(at, PAGE + 20, b"tail");
    let cut = truncate_fd(other, PAGE + 10);
    let status = in_child(|| {
        let _ = read_at(at, 2 * PAGE);
        0
    });
    report.check(
        &format!("{dir}: truncated under a mapping, a page past the new end is SIGBUS"),
        cut.is_ok() && killed_by(status, libc::SIGBUS),
        format!("{cut:?}, {}", describe(status)),
    );
    report.check(
        &format!("{dir}: the last page still maps, zeros past the new end"),
        read_at(at, 0) == b't'
            && read_at(at, PAGE + 9) == b't'
            && bytes(at, PAGE + 20, 4) == vec![0; 4],
        format!("{:?}", bytes(at, PAGE + 20, 4)),
    );
    let grown = truncate_fd(other, 3 * PAGE);
    report.check(
        &format!("{dir}: grown again, the cut page reads zeros through the old mapping"),
        grown.is_ok()
            && bytes(at, 2 * PAGE, 7) == vec![0; 7]
            && pread(fd, 7, 2 * PAGE) == vec![0; 7],
        format!("{:?}", bytes(at, 2 * PAGE, 7)),
    );
    let _ = unmap(at, 3 * PAGE);
    close(other);
    close(fd);
}

/// `mremap` and `madvise(MADV_DONTNEED)` of shared file mappings, and a private one.
fn remap_and_advice(report: &mut Report, dir: &str) {
    let path = format!("{dir}/remapped");
    let fd = create(&path, &vec![b'r'; 2 * PAGE]);
    let at = shared(fd, PAGE);
    fill(at, 0, b"before");
    // A mapping right after it keeps the growth from happening in place.
    let blocker = map(
        at as usize + PAGE,
        PAGE,
        libc::PROT_READ,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
        -1,
        0,
    );
    let moved = remap(at, PAGE, 2 * PAGE, libc::MREMAP_MAYMOVE);
    let ok = match moved {
        Ok(new) => {
            fill(new, PAGE + 1, b"after the move");
            let kept = bytes(new, 0, 6) == b"before";
            let _ = unmap(new, 2 * PAGE);
            kept && pread(fd, 14, PAGE + 1) == b"after the move"
        }
        Err(_) => false,
    };
    report.check(
        &format!(
            "{dir}: mremap moves a shared file mapping with its bytes; stores after reach the file"
        ),
        ok,
        format!("{moved:?}"),
    );
    if let Ok(blocker) = blocker {
        let _ = unmap(blocker, PAGE);
    }

    let at = shared(fd, PAGE);
    fill(at, 0, b"kept");
    let dropped = advise(at, PAGE, libc::MADV_DONTNEED);
    let kept = bytes(at, 0, 4) == b"kept";
    let _ = pwrite(fd, b"fresh", 0);
    let dropped_again = advise(at, PAGE, libc::MADV_DONTNEED);
    report.check(
        &format!("{dir}: MADV_DONTNEED on a shared file mapping keeps what was stored and reads the file again"),
        dropped.is_ok() && dropped_again.is_ok() && kept && bytes(at, 0, 5) == b"fresh",
        format!("kept {kept}, then {:?}", String::from_utf8_lossy(&bytes(at, 0, 5))),
    );
    let _ = unmap(at, PAGE);

    let private = map(0, 2 * PAGE, RW, libc::MAP_PRIVATE, fd, 0).expect("MAP_PRIVATE");
    let view = shared(fd, PAGE);
    write_at(private, 0, b'X');
    let _ = pwrite(fd, b"Q", 1);
    report.check(
        &format!(
            "{dir}: MAP_PRIVATE copies on write: the file and a shared mapping keep their bytes"
        ),
        read_at(private, 0) == b'X'
            && read_at(private, 1) == b'r'
            && pread(fd, 2, 0) == b"fQ"
            && bytes(view, 0, 2) == b"fQ",
        format!(
            "private {:?}, file {:?}",
            String::from_utf8_lossy(&bytes(private, 0, 2)),
            String::from_utf8_lossy(&pread(fd, 2, 0))
        ),
    );
    let moved = remap(private, 2 * PAGE, 3 * PAGE, libc::MREMAP_MAYMOVE);
    report.check(
        &format!("{dir}: mremap of a private file mapping keeps its copy"),
        moved.is_ok_and(|new| read_at(new, 0) == b'X' && read_at(new, PAGE) == b'r'),
        format!("{moved:?}"),
    );
    if let Ok(new) = moved {
        let _ = unmap(new, 3 * PAGE);
    }
    let _ = unmap(view, PAGE);
    close(fd);
}

/// `MAP_POPULATE` and `mincore` on a file mapping.
fn residency(report: &mut Report, dir: &str) {
    let path = format!("{dir}/resident");
    let fd = create(&path, &vec![b'm'; 4 * PAGE]);
    let at = map(
        0,
        4 * PAGE,
        libc::PROT_READ,
        libc::MAP_SHARED | libc::MAP_POPULATE,
        fd,
        0,
    );
    let seen = at.map(|at| mincore(at as usize, 4 * PAGE, 4));
    report.check(
        &format!(
            "{dir}: MAP_POPULATE of a shared file mapping: mincore reports every page resident"
        ),
        matches!(&seen, Ok(Ok(vec)) if vec == &[1, 1, 1, 1]),
        format!("{seen:?}"),
    );
    if let Ok(at) = at {
        let _ = unmap(at, 4 * PAGE);
    }
    let at = map(
        0,
        4 * PAGE,
        RW,
        libc::MAP_PRIVATE | libc::MAP_POPULATE,
        fd,
        0,
    )
    .expect("private populate");
    let seen = mincore(at as usize, 4 * PAGE, 4);
    report.check(
        &format!("{dir}: MAP_POPULATE of a private writable file mapping: every page resident, the file unchanged"),
        seen == Ok(vec![1, 1, 1, 1]) && read_at(at, 3 * PAGE) == b'm',
        format!("{seen:?}"),
    );
    let _ = unmap(at, 4 * PAGE);
    close(fd);
}

/// A lower-layer file of the overlay, opened for writing and mapped shared.
fn overlay_lower(report: &mut Report, path: &str) {
    let Ok(fd) = open(path, libc::O_RDWR) else {
        report.check(&format!("{path}: opened for writing"), false, errno());
        return;
    };
    let inode = inode_of(fd);
    let size = size_of(fd) as usize;
    let original = pread(fd, 5.min(size), 0);
    let at = shared(fd, size.next_multiple_of(PAGE).max(PAGE));
    fill(at, 0, &b"LOWER"[..original.len()]);
    let reader = open(path, libc::O_RDONLY).expect("reader");
    let seen = pread(reader, original.len(), 0);
    let synced = msync(at as usize, PAGE, libc::MS_SYNC);
    fill(at, 0, &original);
    let _ = unmap(at, size.next_multiple_of(PAGE).max(PAGE));
    report.check(
        &format!("{path}: a lower file opened for writing maps shared (copied up): stores are read() through a new descriptor, the inode number kept"),
        seen == &b"LOWER"[..original.len()] && synced.is_ok() && inode_of(reader) == inode && pread(reader, original.len(), 0) == original,
        format!("{:?}, {synced:?}", String::from_utf8_lossy(&seen)),
    );
    close(reader);
    close(fd);
}

/// `/dev/zero` mappings across fork.
fn dev_zero(report: &mut Report) {
    let fd = open("/dev/zero", libc::O_RDWR).expect("/dev/zero");
    let shared_zero = map(0, 2 * PAGE, RW, libc::MAP_SHARED, fd, 0).expect("MAP_SHARED /dev/zero");
    let private_zero = map(0, PAGE, RW, libc::MAP_PRIVATE, fd, 0).expect("MAP_PRIVATE /dev/zero");
    let zeros =
        bytes(shared_zero, 0, 64) == vec![0; 64] && bytes(private_zero, 0, 64) == vec![0; 64];
    fill(shared_zero, 0, b"parent");
    let status = in_child(|| {
        let seen = bytes(shared_zero, 0, 6) == b"parent";
        fill(shared_zero, PAGE + 3, b"from the child");
        write_at(private_zero, 0, b'c');
        if seen { 0 } else { 1 }
    });
    report.check(
        "/dev/zero MAP_SHARED: zeros, shared between fork parent and child both ways",
        zeros && exited_ok(status) && bytes(shared_zero, PAGE + 3, 14) == b"from the child",
        format!("zeros {zeros}, {}", describe(status)),
    );
    report.check(
        "/dev/zero MAP_PRIVATE: the child's store stays its own",
        read_at(private_zero, 0) == 0,
        read_at(private_zero, 0),
    );
    let _ = unmap(shared_zero, 2 * PAGE);
    let _ = unmap(private_zero, PAGE);
    close(fd);
}

/// Anonymous memory: `MAP_POPULATE`, `mincore`, `MAP_NORESERVE`.
fn anonymous(report: &mut Report) {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    let populated = map(0, 8 * PAGE, RW, flags | libc::MAP_POPULATE, -1, 0).expect("populate");
    let seen = mincore(populated as usize, 8 * PAGE, 8);
    report.check(
        "MAP_POPULATE: every anonymous page resident at once",
        seen == Ok(vec![1; 8]),
        format!("{seen:?}"),
    );
    let _ = unmap(populated, 8 * PAGE);
    let lazy = map(0, 8 * PAGE, RW, flags, -1, 0).expect("anonymous");
    let untouched = mincore(lazy as usize, 8 * PAGE, 8);
    write_at(lazy, 3 * PAGE, 1);
    let touched = mincore(lazy as usize, 8 * PAGE, 8);
    report.check(
        "mincore: untouched anonymous pages are not resident, a written one is",
        untouched == Ok(vec![0; 8]) && touched == Ok(vec![0, 0, 0, 1, 0, 0, 0, 0]),
        format!("{untouched:?} then {touched:?}"),
    );
    // A length that is not a page multiple counts the partial page.
    let partial = mincore(lazy as usize, 3 * PAGE + 1, 4);
    report.check(
        "mincore: a partial last page is counted",
        partial == Ok(vec![0, 0, 0, 1]),
        format!("{partial:?}"),
    );
    let _ = unmap(lazy, 8 * PAGE);
    let noreserve = map(0, 4 * PAGE, RW, flags | libc::MAP_NORESERVE, -1, 0);
    let ok = noreserve.is_ok_and(|at| {
        write_at(at, PAGE, 7);
        let back = read_at(at, PAGE) == 7;
        let _ = unmap(at, 4 * PAGE);
        back
    });
    report.check("MAP_NORESERVE is accepted", ok, format!("{noreserve:?}"));
}

/// `msync` and `mincore` errors, as Linux orders them.
fn errors(report: &mut Report) {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    let at = map(0, 3 * PAGE, RW, flags, -1, 0).expect("anonymous") as usize;
    report.check(
        "msync: an unaligned address, an unknown flag, MS_ASYNC with MS_SYNC are EINVAL",
        msync(at + 1, PAGE, libc::MS_SYNC) == Err(libc::EINVAL)
            && msync(at, PAGE, 8) == Err(libc::EINVAL)
            && msync(at, PAGE, libc::MS_ASYNC | libc::MS_SYNC) == Err(libc::EINVAL),
        format!("{:?}", msync(at, PAGE, 8)),
    );
    report.check(
        "msync: anonymous memory, MS_INVALIDATE and a zero length are fine",
        msync(at, 3 * PAGE, libc::MS_SYNC).is_ok()
            && msync(at, PAGE, libc::MS_INVALIDATE).is_ok()
            && msync(at, 0, libc::MS_SYNC).is_ok()
            && msync(at, PAGE, 0).is_ok(),
        format!("{:?}", msync(at, PAGE, libc::MS_INVALIDATE)),
    );
    let _ = unmap((at + PAGE) as *mut u8, PAGE);
    report.check(
        "msync: a range with a hole is ENOMEM (MS_SYNC, MS_ASYNC, MS_INVALIDATE)",
        msync(at, 3 * PAGE, libc::MS_SYNC) == Err(libc::ENOMEM)
            && msync(at, 3 * PAGE, libc::MS_ASYNC) == Err(libc::ENOMEM)
            && msync(at, 3 * PAGE, libc::MS_INVALIDATE) == Err(libc::ENOMEM)
            && msync(at + PAGE, PAGE, libc::MS_SYNC) == Err(libc::ENOMEM),
        format!("{:?}", msync(at, 3 * PAGE, libc::MS_SYNC)),
    );
    let mut vec = [0u8; 4];
    let vec_at = vec.as_mut_ptr() as usize;
    report.check(
        "mincore: an unaligned address is EINVAL, a hole ENOMEM, a range past the user half ENOMEM",
        mincore_raw(at + 1, PAGE, vec_at) == Err(libc::EINVAL)
            && mincore_raw(at, 3 * PAGE, vec_at) == Err(libc::ENOMEM)
            && mincore_raw(at + PAGE, PAGE, vec_at) == Err(libc::ENOMEM)
            && mincore_raw(at, usize::MAX / 2, vec_at) == Err(libc::ENOMEM),
        format!("{:?}", mincore_raw(at, 3 * PAGE, vec_at)),
    );
    report.check(
        "mincore: a vector nobody mapped or in the kernel's half is EFAULT",
        mincore_raw(at, PAGE, at + PAGE) == Err(libc::EFAULT)
            && mincore_raw(at, PAGE, 0xffff_8000_0000_0000) == Err(libc::EFAULT),
        format!("{:?}", mincore_raw(at, PAGE, at + PAGE)),
    );
    report.check(
        "mincore: a zero length is fine",
        mincore_raw(at, 0, vec_at).is_ok(),
        format!("{:?}", mincore_raw(at, 0, vec_at)),
    );
    let _ = unmap(at as *mut u8, 3 * PAGE);
}

/// `--pressure DIR MIB`: a file of `MIB` MiB in `DIR` (more than the machine's memory in
/// the boot test), every page stored through one shared mapping, so the kernel must write
/// pages back and drop them to go on; then `munmap`, and every page's stores read back
/// with `read`.
fn pressure(report: &mut Report, dir: &str, mib: usize) {
    let path = format!("{dir}/pressure");
    let fd = create(&path, b"");
    let len = mib << 20;
    let grown = truncate_fd(fd, len);
    let at = map(0, len, RW, libc::MAP_SHARED, fd, 0);
    let Ok(at) = at else {
        report.check(
            &format!("{path}: {mib} MiB mapped shared"),
            false,
            format!("{grown:?}, {at:?}"),
        );
        return;
    };
    let pages = len / PAGE;
    for page in 0..pages {
        let mark = (page as u32).to_le_bytes();
        fill(at, page * PAGE, &mark);
        fill(at, page * PAGE + PAGE - 4, &mark);
    }
    let unmapped = unmap(at, len);
    let mut wrong = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    for first in (0..pages).step_by(chunk.len() / PAGE) {
        // SAFETY: chunk is a valid buffer of its length.
        let read = unsafe {
            libc::pread(
                fd,
                chunk.as_mut_ptr().cast(),
                chunk.len(),
                (first * PAGE) as i64,
            )
        };
        if read != chunk.len() as isize {
            wrong.push(format!("read {read} at page {first}"));
            break;
        }
        for (at_page, bytes) in chunk.chunks(PAGE).enumerate() {
            let mark = ((first + at_page) as u32).to_le_bytes();
            if bytes[..4] != mark
                || bytes[PAGE - 4..] != mark
                || bytes[4..PAGE - 4].iter().any(|&b| b != 0)
            {
                wrong.push(format!("page {}", first + at_page));
            }
        }
        if wrong.len() > 3 {
            break;
        }
    }
    report.check(
        &format!("{path}: {mib} MiB stored through one shared mapping, then munmap: read() gives every page's stores"),
        grown.is_ok() && unmapped.is_ok() && wrong.is_empty() && size_of(fd) == len as i64,
        format!("{unmapped:?}, wrong: {wrong:?}"),
    );
    close(fd);
    let name = CString::new(path).expect("path");
    // SAFETY: a NUL-terminated path; the file is this program's own.
    unsafe { libc::unlink(name.as_ptr()) };
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|arg| arg == "--expect") {
        return expect_mode(&args[1..]);
    }
    if let [flag, dir, mib] = args.as_slice()
        && flag == "--pressure"
    {
        let mut report = Report::default();
        pressure(&mut report, dir, mib.parse().expect("MiB"));
        return report.finish("file-mappings");
    }
    let mut report = Report::default();
    let mut dirs = Vec::new();
    let mut lower = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--lower" => lower = args.next(),
            _ => dirs.push(arg),
        }
    }
    if dirs.is_empty() {
        eprintln!("usage: file-mappings [--lower FILE] DIR...");
        return ExitCode::from(2);
    }
    for dir in &dirs {
        coherence(&mut report, dir);
        descriptor_writes(&mut report, dir);
        persisted(&mut report, dir);
        end_of_file(&mut report, dir);
        remap_and_advice(&mut report, dir);
        residency(&mut report, dir);
    }
    if let Some(lower) = lower {
        overlay_lower(&mut report, &lower);
    }
    dev_zero(&mut report);
    anonymous(&mut report);
    errors(&mut report);
    report.finish("file-mappings")
}
