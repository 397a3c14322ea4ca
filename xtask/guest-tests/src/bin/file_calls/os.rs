//! Raw system calls for the checks: every result is the value or `-errno`, so a check
//! compares with Linux's errno exactly. Calls go through `syscall(2)` rather than libc
//! wrappers, so the registers are the ABI's whatever musl does with them.

use std::ffi::CString;
use std::path::Path;

use libc::{c_int, c_long};

/// The value, or `-errno`, of a raw system call.
pub fn sys(number: c_long, args: [u64; 6]) -> i64 {
    // SAFETY: each caller passes arguments valid for `number` (live buffers, lengths
    // within them); invalid ones are exactly what some checks ask the kernel to refuse.
    let result =
        unsafe { libc::syscall(number, args[0], args[1], args[2], args[3], args[4], args[5]) };
    if result < 0 {
        -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        result
    }
}

pub fn cstring(path: &Path) -> CString {
    CString::new(path.as_os_str().as_encoded_bytes()).expect("no NUL in test paths")
}

pub fn open(path: &Path, flags: c_int, mode: u32) -> i64 {
    let path = cstring(path);
    sys(
        libc::SYS_openat,
        [
            libc::AT_FDCWD as u64,
            path.as_ptr() as u64,
            flags as u64,
            u64::from(mode),
            0,
            0,
        ],
    )
}

/// Opens `path` or panics: a check's setup, not what it checks.
pub fn must_open(path: &Path, flags: c_int) -> c_int {
    let fd = open(path, flags | libc::O_CLOEXEC, 0o644);
    assert!(fd >= 0, "open {}: {fd}", path.display());
    fd as c_int
}

pub fn close(fd: c_int) {
    sys(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
}

pub fn pwrite(fd: c_int, data: &[u8], offset: i64) -> i64 {
    sys(
        libc::SYS_pwrite64,
        [
            fd as u64,
            data.as_ptr() as u64,
            data.len() as u64,
            offset as u64,
            0,
            0,
        ],
    )
}

pub fn pread(fd: c_int, len: usize, offset: i64) -> Result<Vec<u8>, i64> {
    let mut buf = vec![0u8; len];
    let got = sys(
        libc::SYS_pread64,
        [
            fd as u64,
            buf.as_mut_ptr() as u64,
            len as u64,
            offset as u64,
            0,
            0,
        ],
    );
    if got < 0 {
        return Err(got);
    }
    buf.truncate(got as usize);
    Ok(buf)
}

pub fn write(fd: c_int, data: &[u8]) -> i64 {
    sys(
        libc::SYS_write,
        [fd as u64, data.as_ptr() as u64, data.len() as u64, 0, 0, 0],
    )
}

pub fn read(fd: c_int, len: usize) -> Result<Vec<u8>, i64> {
    let mut buf = vec![0u8; len];
    let got = sys(
        libc::SYS_read,
        [fd as u64, buf.as_mut_ptr() as u64, len as u64, 0, 0, 0],
    );
    if got < 0 {
        return Err(got);
    }
    buf.truncate(got as usize);
    Ok(buf)
}

pub fn lseek(fd: c_int, offset: i64, whence: c_int) -> i64 {
    sys(
        libc::SYS_lseek,
        [fd as u64, offset as u64, whence as u64, 0, 0, 0],
    )
}

pub fn position(fd: c_int) -> i64 {
    lseek(fd, 0, libc::SEEK_CUR)
}

pub fn fstat(fd: c_int) -> libc::stat {
    // SAFETY: an all-zero `stat` is valid; the kernel fills it.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    let result = sys(
        libc::SYS_fstat,
        [fd as u64, &mut stat as *mut _ as u64, 0, 0, 0, 0],
    );
    assert_eq!(result, 0, "fstat {fd}");
    stat
}

pub fn size(fd: c_int) -> i64 {
    fstat(fd).st_size
}

pub fn pipe(flags: c_int) -> (c_int, c_int) {
    let mut fds = [0 as c_int; 2];
    let result = sys(
        libc::SYS_pipe2,
        [fds.as_mut_ptr() as u64, flags as u64, 0, 0, 0, 0],
    );
    assert_eq!(result, 0, "pipe2");
    (fds[0], fds[1])
}

pub fn socketpair() -> (c_int, c_int) {
    let mut fds = [0 as c_int; 2];
    let result = sys(
        libc::SYS_socketpair,
        [
            libc::AF_UNIX as u64,
            (libc::SOCK_STREAM | libc::SOCK_CLOEXEC) as u64,
            0,
            fds.as_mut_ptr() as u64,
            0,
            0,
        ],
    );
    assert_eq!(result, 0, "socketpair");
    (fds[0], fds[1])
}

pub fn fallocate(fd: c_int, mode: c_int, offset: i64, len: i64) -> i64 {
    sys(
        libc::SYS_fallocate,
        [fd as u64, mode as u64, offset as u64, len as u64, 0, 0],
    )
}

/// `struct iovec`s over `buffers`, for the `*v` calls.
pub fn iovecs(buffers: &mut [&mut [u8]]) -> Vec<libc::iovec> {
    buffers
        .iter_mut()
        .map(|buffer| libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        })
        .collect()
}

pub fn const_iovecs(buffers: &[&[u8]]) -> Vec<libc::iovec> {
    buffers
        .iter()
        .map(|buffer| libc::iovec {
            iov_base: buffer.as_ptr() as *mut _,
            iov_len: buffer.len(),
        })
        .collect()
}

/// A test pattern: byte `i` of a file written with it is `(i * 7 + i / 251) % 256`, so a
/// misplaced range shows.
pub fn pattern(start: u64, len: usize) -> Vec<u8> {
    (start..start + len as u64)
        .map(|i| (i.wrapping_mul(7) + i / 251) as u8)
        .collect()
}

/// Writes `data` at 0 into a fresh file `name` in `dir`; returns it open read-write.
pub fn file_with(dir: &Path, name: &str, data: &[u8]) -> c_int {
    let fd = must_open(
        &dir.join(name),
        libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC,
    );
    if !data.is_empty() {
        assert_eq!(pwrite(fd, data, 0), data.len() as i64, "writing {name}");
    }
    fd
}

/// Whether the caller holds capability `cap` in its effective set.
pub fn has_capability(cap: u32) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << cap) != 0)
}
