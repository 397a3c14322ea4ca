//! pipes: pipe and FIFO semantics at the system-call level, each answer compared with
//! Linux's: `pipe2` flags, `EAGAIN`, end of file, `EPIPE` with `SIGPIPE` ignored, pipe
//! sizes, atomic writes, `O_DIRECT` packets, `FIONREAD`, `ESPIPE`, `fstat`, `poll` and
//! `select` readiness and timeouts, a read woken by another process's write, a blocked
//! reader killed by a signal, and FIFO opens (non-blocking `ENXIO`, blocking rendezvous).
//!
//! `pipes --user-limits`: the per-user pipe limits of `/proc/sys/fs/pipe-user-pages-soft`
//! and `-hard` (set low by the test's spec) as an unprivileged process meets them: past the
//! soft limit new pipes get two pages and `F_SETPIPE_SZ` cannot grow one (`EPERM`), past
//! the hard limit `pipe2` is `ENFILE`, and closing pipes gives their pages back.
//!
//! One line per check (`ok`/`FAIL`), then `pipes: N passed, M failed`; exit status 0 only
//! if everything matched. Runs on the host too, where the expectations are checked.

use std::ffi::CString;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use libc::c_int;

/// The raw result: the value, or `-errno`.
fn raw(result: i64) -> i64 {
    if result < 0 {
        -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        result
    }
}

fn pipe2(flags: c_int) -> Result<(c_int, c_int), i64> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` has room for the two descriptors.
    let result = raw(i64::from(unsafe { libc::pipe2(fds.as_mut_ptr(), flags) }));
    if result < 0 {
        Err(result)
    } else {
        Ok((fds[0], fds[1]))
    }
}

fn read(fd: c_int, len: usize) -> (i64, Vec<u8>) {
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` is live and `len` bytes long.
    let got = raw(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), len) } as i64);
    buf.truncate(got.max(0) as usize);
    (got, buf)
}

fn write(fd: c_int, data: &[u8]) -> i64 {
    // SAFETY: `data` is live for the call.
    raw(unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) } as i64)
}

fn fcntl(fd: c_int, command: c_int, argument: c_int) -> i64 {
    // SAFETY: no pointer arguments.
    raw(i64::from(unsafe { libc::fcntl(fd, command, argument) }))
}

fn close(fd: c_int) {
    // SAFETY: closing a descriptor this program owns.
    unsafe { libc::close(fd) };
}

/// `revents` of one descriptor, or `-errno`.
fn poll(fd: c_int, events: i16, timeout_ms: c_int) -> i64 {
    let mut entry = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one live entry.
    let result = raw(i64::from(unsafe { libc::poll(&mut entry, 1, timeout_ms) }));
    if result < 0 {
        result
    } else {
        i64::from(entry.revents)
    }
}

/// `select` for reading one descriptor: its result.
fn select_read(fd: c_int, timeout_ms: i64) -> i64 {
    // SAFETY: an fd_set on the stack, zeroed then set through libc's macros.
    unsafe {
        let mut set: libc::fd_set = std::mem::zeroed();
        libc::FD_SET(fd, &mut set);
        let mut timeout = libc::timeval {
            tv_sec: timeout_ms / 1000,
            tv_usec: (timeout_ms % 1000) * 1000,
        };
        raw(i64::from(libc::select(
            fd + 1,
            &mut set,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut timeout,
        )))
    }
}

fn fork() -> c_int {
    // SAFETY: this program is single-threaded; the child only makes system calls.
    unsafe { libc::fork() }
}

fn child_exit(code: c_int) -> ! {
    // SAFETY: ends the child without running the parent's exit handlers.
    unsafe { libc::_exit(code) }
}

/// The child's wait status.
fn wait(pid: c_int) -> c_int {
    let mut status = 0;
    // SAFETY: `status` is live.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    status
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn open(path: &str, flags: c_int) -> i64 {
    let path = CString::new(path).unwrap();
    // SAFETY: `path` is a live C string.
    raw(i64::from(unsafe { libc::open(path.as_ptr(), flags) }))
}

/// A `/proc/sys/fs` number.
fn sysctl(name: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/sys/fs/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `--user-limits`: see the module comment. Expects soft and hard limits of a few dozen
/// pages and none of this user's pipes open.
fn user_limits() -> ExitCode {
    let (Some(soft), Some(hard)) = (sysctl("pipe-user-pages-soft"), sysctl("pipe-user-pages-hard"))
    else {
        println!("pipes: no /proc/sys/fs/pipe-user-pages-*");
        return ExitCode::FAILURE;
    };
    println!("# pipe-user-pages-soft={soft} pipe-user-pages-hard={hard}");
    if hard == 0 || soft == 0 || soft > hard || hard > 4096 {
        println!("pipes: skipped, the limits must be small, soft under hard");
        return ExitCode::FAILURE;
    }
    let eperm = -i64::from(libc::EPERM);
    let mut checks: Vec<(&str, i64, i64)> = Vec::new();
    let mut pipes = Vec::new();
    // Full-size pipes while the account stays within the soft limit.
    let mut held = 0;
    while held + 16 <= soft {
        let (r, w) = pipe2(0).expect("pipe2 under the soft limit");
        checks.push(("under the soft limit: 16 pages", fcntl(r, libc::F_GETPIPE_SZ, 0), 65536));
        pipes.push((r, w));
        held += 16;
    }
    let (r, w) = pipe2(0).expect("pipe2 past the soft limit");
    checks.push(("past the soft limit: 2 pages", fcntl(r, libc::F_GETPIPE_SZ, 0), 8192));
    checks.push((
        "past the soft limit: F_SETPIPE_SZ growing is EPERM",
        fcntl(r, libc::F_SETPIPE_SZ, 65536),
        eperm,
    ));
    checks.push(("and the pipe keeps its size", fcntl(r, libc::F_GETPIPE_SZ, 0), 8192));
    checks.push((
        "shrinking is allowed",
        fcntl(w, libc::F_SETPIPE_SZ, 4096),
        4096,
    ));
    pipes.push((r, w));
    held += 1;
    // Two pages each until the next would pass the hard limit.
    while held + 2 <= hard {
        match pipe2(0) {
            Ok((r, w)) => {
                if fcntl(r, libc::F_GETPIPE_SZ, 0) != 8192 {
                    checks.push(("past the soft limit: every new pipe 2 pages", 0, 1));
                }
                pipes.push((r, w));
                held += 2;
            }
            Err(errno) => {
                checks.push(("pipe2 below the hard limit", errno, 0));
                break;
            }
        }
    }
    println!("# {} pipes hold {held} pages", pipes.len());
    checks.push((
        "past the hard limit: pipe2 is ENFILE",
        pipe2(0).err().unwrap_or(0),
        -i64::from(libc::ENFILE),
    ));
    let (first_r, first_w) = pipes.remove(0);
    checks.push((
        "past the hard limit: F_SETPIPE_SZ growing is EPERM",
        fcntl(first_r, libc::F_SETPIPE_SZ, 131072),
        eperm,
    ));
    close(first_r);
    close(first_w);
    for (r, w) in pipes {
        close(r);
        close(w);
    }
    let again = pipe2(0);
    checks.push((
        "all closed: a new pipe has 16 pages again",
        again.map_or_else(|errno| errno, |(r, _)| fcntl(r, libc::F_GETPIPE_SZ, 0)),
        65536,
    ));
    report(checks)
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--user-limits") {
        return user_limits();
    }
    let mut checks: Vec<(&str, i64, i64)> = Vec::new();
    let (eagain, ebadf, einval, epipe, espipe, enxio) = (
        -i64::from(libc::EAGAIN),
        -i64::from(libc::EBADF),
        -i64::from(libc::EINVAL),
        -i64::from(libc::EPIPE),
        -i64::from(libc::ESPIPE),
        -i64::from(libc::ENXIO),
    );
    let (pollin, pollout, pollerr, pollhup) = (
        i64::from(libc::POLLIN),
        i64::from(libc::POLLOUT),
        i64::from(libc::POLLERR),
        i64::from(libc::POLLHUP),
    );

    checks.push((
        "pipe2(O_APPEND) is refused",
        pipe2(libc::O_APPEND).err().unwrap_or(0),
        einval,
    ));
    let (r, w) = pipe2(libc::O_CLOEXEC | libc::O_NONBLOCK).expect("pipe2");
    checks.push((
        "pipe2(O_CLOEXEC): FD_CLOEXEC",
        fcntl(r, libc::F_GETFD, 0),
        1,
    ));
    checks.push((
        "read end flags",
        fcntl(r, libc::F_GETFL, 0) & 0o4003,
        i64::from(libc::O_NONBLOCK),
    ));
    checks.push((
        "write end flags",
        fcntl(w, libc::F_GETFL, 0) & 0o4003,
        i64::from(libc::O_NONBLOCK | libc::O_WRONLY),
    ));
    checks.push(("empty non-blocking read", read(r, 10).0, eagain));
    checks.push(("F_GETPIPE_SZ", fcntl(r, libc::F_GETPIPE_SZ, 0), 65536));
    checks.push((
        "F_SETPIPE_SZ 5000",
        fcntl(w, libc::F_SETPIPE_SZ, 5000),
        8192,
    ));
    checks.push(("F_GETPIPE_SZ after", fcntl(r, libc::F_GETPIPE_SZ, 0), 8192));
    let root = open("/", libc::O_RDONLY);
    checks.push((
        "F_GETPIPE_SZ on a directory",
        fcntl(root as c_int, libc::F_GETPIPE_SZ, 0),
        ebadf,
    ));
    close(root as c_int);
    checks.push(("poll write end, empty", poll(w, libc::POLLOUT, 0), pollout));
    checks.push(("poll read end, empty", poll(r, libc::POLLIN, 0), 0));
    checks.push((
        "non-blocking write takes what fits",
        write(w, &[1u8; 10000]),
        8192,
    ));
    checks.push(("full: write 1 byte", write(w, b"x"), eagain));
    let mut waiting: c_int = 0;
    // SAFETY: `waiting` is live.
    unsafe { libc::ioctl(r, libc::FIONREAD, &mut waiting) };
    checks.push(("FIONREAD", i64::from(waiting), 8192));
    checks.push(("poll write end, full", poll(w, libc::POLLOUT, 0), 0));
    checks.push(("poll read end, data", poll(r, libc::POLLIN, 0), pollin));
    // SAFETY: lseek takes no pointers.
    checks.push((
        "lseek",
        raw(unsafe { libc::lseek(r, 0, libc::SEEK_CUR) }),
        espipe,
    ));
    // SAFETY: `stat` is live.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    unsafe { libc::fstat(r, &mut stat) };
    checks.push((
        "fstat: S_IFIFO",
        i64::from(stat.st_mode & libc::S_IFMT),
        i64::from(libc::S_IFIFO),
    ));
    checks.push(("fstat: mode 0600", i64::from(stat.st_mode & 0o777), 0o600));
    let link =
        std::fs::read_link(format!("/proc/self/fd/{r}")).map(|target| target.into_os_string());
    let expected = std::ffi::OsString::from(format!("pipe:[{}]", stat.st_ino));
    checks.push((
        "/proc/self/fd link is pipe:[ino]",
        i64::from(link.ok() == Some(expected)),
        1,
    ));
    checks.push(("drain", read(r, 20000).0, 8192));
    close(w);
    checks.push(("EOF after the writer closed", read(r, 10).0, 0));
    checks.push((
        "poll read end, no writer",
        poll(r, libc::POLLIN, 0),
        pollhup,
    ));
    close(r);

    // Atomic writes: up to PIPE_BUF all or nothing.
    let (r, w) = pipe2(libc::O_NONBLOCK).expect("pipe2");
    fcntl(w, libc::F_SETPIPE_SZ, 4096);
    write(w, &[0u8; 100]);
    checks.push((
        "PIPE_BUF write without room",
        write(w, &[0u8; 4096]),
        eagain,
    ));
    checks.push(("write that fits", write(w, &[0u8; 3996]), 3996));
    close(r);
    // SAFETY: ignoring SIGPIPE for this process.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    checks.push((
        "write with no reader, SIGPIPE ignored",
        write(w, b"x"),
        epipe,
    ));
    checks.push((
        "poll write end, no reader",
        poll(w, libc::POLLOUT, 0),
        pollerr,
    ));
    close(w);

    // Packets.
    let (r, w) = pipe2(libc::O_DIRECT | libc::O_NONBLOCK).expect("pipe2");
    write(w, b"abc");
    write(w, b"defgh");
    checks.push(("packet 1", read(r, 100).0, 3));
    checks.push(("packet 2, short buffer", read(r, 2).0, 2));
    checks.push(("the rest of packet 2 is gone", read(r, 100).0, eagain));
    close(r);
    close(w);

    // Timeouts and wake-ups.
    let (r, w) = pipe2(0).expect("pipe2");
    let start = Instant::now();
    checks.push(("poll times out", poll(r, libc::POLLIN, 50), 0));
    checks.push((
        "poll waited its timeout",
        i64::from(start.elapsed() >= Duration::from_millis(45)),
        1,
    ));
    checks.push(("select times out", select_read(r, 30), 0));
    let child = fork();
    if child == 0 {
        sleep_ms(30);
        write(w, b"hi");
        sleep_ms(30);
        write(w, b"there");
        child_exit(0);
    }
    let (got, data) = read(r, 100);
    checks.push(("blocking read woken by a writer", got, 2));
    checks.push(("its data", i64::from(data == b"hi"), 1));
    checks.push(("select woken by a writer", select_read(r, 5000), 1));
    checks.push(("poll after the writer", poll(r, libc::POLLIN, 5000), pollin));
    checks.push(("writer's status", i64::from(wait(child)), 0));
    read(r, 100);
    let child = fork();
    if child == 0 {
        close(w);
        read(r, 1);
        child_exit(3);
    }
    sleep_ms(30);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child, libc::SIGTERM) };
    let status = wait(child);
    checks.push((
        "blocked reader killed by SIGTERM",
        i64::from(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGTERM),
        1,
    ));
    close(r);
    close(w);

    // FIFOs.
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/tmp".to_owned());
    let path = format!("{dir}/pipes-fifo-{}", std::process::id());
    let c_path = CString::new(path.clone()).unwrap();
    // SAFETY: `c_path` is a live C string.
    checks.push((
        "mkfifo",
        raw(i64::from(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) })),
        0,
    ));
    checks.push((
        "non-blocking write open, no reader",
        open(&path, libc::O_WRONLY | libc::O_NONBLOCK),
        enxio,
    ));
    let reader = open(&path, libc::O_RDONLY | libc::O_NONBLOCK);
    checks.push(("non-blocking read open", i64::from(reader >= 0), 1));
    checks.push((
        "poll FIFO reader, no writer yet",
        poll(reader as c_int, libc::POLLIN, 0),
        0,
    ));
    checks.push(("read FIFO, no writer yet", read(reader as c_int, 10).0, 0));
    let writer = open(&path, libc::O_WRONLY | libc::O_NONBLOCK);
    checks.push((
        "non-blocking write open, with reader",
        i64::from(writer >= 0),
        1,
    ));
    write(writer as c_int, b"z");
    checks.push(("FIFO carries a byte", read(reader as c_int, 10).0, 1));
    close(writer as c_int);
    checks.push((
        "poll FIFO reader, writer gone",
        poll(reader as c_int, libc::POLLIN, 0),
        pollhup,
    ));
    close(reader as c_int);
    let child = fork();
    if child == 0 {
        let writer = open(&path, libc::O_WRONLY);
        write(writer as c_int, b"ok");
        child_exit(0);
    }
    sleep_ms(20);
    let reader = open(&path, libc::O_RDONLY);
    checks.push(("blocking FIFO opens meet", read(reader as c_int, 10).0, 2));
    checks.push(("FIFO writer's status", i64::from(wait(child)), 0));
    close(reader as c_int);
    // SAFETY: `c_path` is a live C string.
    unsafe { libc::unlink(c_path.as_ptr()) };
    report(checks)
}

/// Prints each check and the totals: success only if every one matched Linux.
fn report(checks: Vec<(&str, i64, i64)>) -> ExitCode {
    let (mut passed, mut failed) = (0, 0);
    for (name, got, linux) in checks {
        if got == linux {
            passed += 1;
            println!("ok   {name}: {got}");
        } else {
            failed += 1;
            println!("FAIL {name}: {got} (Linux: {linux})");
        }
    }
    println!("pipes: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
