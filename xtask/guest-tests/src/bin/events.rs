//! `events`: the event-loop system calls as a program sees them, each answer Linux's:
//! `epoll_create`/`epoll_create1`, `epoll_ctl` (its errors in Linux's order, `EPOLLET`,
//! `EPOLLONESHOT`, `EPOLLEXCLUSIVE`'s rules, `EPERM` for files that cannot be polled,
//! `ELOOP` for loops and chains too deep), `epoll_wait`/`epoll_pwait`/`epoll_pwait2` over
//! pipes, a FIFO, eventfd, timerfd, signalfd, the console and nested epolls (woken by
//! other processes, by timers nobody reads, interrupted by signals, masks held for the
//! wait); `eventfd` counters and semaphores; `timerfd` clocks, intervals and absolute
//! times; `signalfd` records, masks and wake-ups; `FIONBIO`, `FIONREAD`, `ppoll`'s mask.
//!
//! One line per check (`ok`/`FAIL`/`SKIP`), then `events: N passed, M failed`; exit 0
//! only if every check passed. Runs as the container's init in the boot test and on the
//! host, where every expectation is checked against Linux.

use std::ffi::CString;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use libc::c_int;

#[path = "../report.rs"]
mod report;
use report::Report;

const SYS_EPOLL_PWAIT2: i64 = 441;
const EPOLLEXCLUSIVE: u32 = 1 << 28;
const EPOLLONESHOT: u32 = 1 << 30;
const EPOLLET: u32 = 1 << 31;
const EPOLLIN: u32 = libc::EPOLLIN as u32;
const EPOLLOUT: u32 = libc::EPOLLOUT as u32;
const EPOLLERR: u32 = libc::EPOLLERR as u32;
const EPOLLHUP: u32 = libc::EPOLLHUP as u32;
const MS: i64 = 1_000_000;

static USR1: AtomicU32 = AtomicU32::new(0);
static USR2: AtomicU32 = AtomicU32::new(0);

extern "C" fn count_usr1(_signo: c_int) {
    USR1.fetch_add(1, Ordering::SeqCst);
}

extern "C" fn count_usr2(_signo: c_int) {
    USR2.fetch_add(1, Ordering::SeqCst);
}

/// A raw system call: its result, or `-errno`.
fn sys(number: i64, args: &[i64]) -> i64 {
    let mut a = [0i64; 6];
    a[..args.len()].copy_from_slice(args);
    // SAFETY: every call here passes pointers to live buffers of the sizes the calls take
    // (or deliberately bad addresses the kernel must refuse with EFAULT).
    let result = unsafe { libc::syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if result < 0 {
        -i64::from(report::errno())
    } else {
        result
    }
}

fn check(report: &mut Report, name: &str, got: i64, want: i64) {
    report.check(name, got == want, format!("got {got}, want {want}"));
}

fn check_u64(report: &mut Report, name: &str, got: u64, want: u64) {
    report.check(name, got == want, format!("got {got:#x}, want {want:#x}"));
}

fn err(errno: c_int) -> i64 {
    -i64::from(errno)
}

fn close(fd: i64) {
    sys(libc::SYS_close, &[fd]);
}

fn pipe(flags: c_int) -> (i64, i64) {
    let mut fds = [0 as c_int; 2];
    let result = sys(
        libc::SYS_pipe2,
        &[fds.as_mut_ptr() as i64, i64::from(flags)],
    );
    assert_eq!(result, 0, "pipe2");
    (i64::from(fds[0]), i64::from(fds[1]))
}

fn write(fd: i64, data: &[u8]) -> i64 {
    sys(
        libc::SYS_write,
        &[fd, data.as_ptr() as i64, data.len() as i64],
    )
}

fn read(fd: i64, len: usize) -> (i64, Vec<u8>) {
    let mut buf = vec![0u8; len];
    let got = sys(libc::SYS_read, &[fd, buf.as_mut_ptr() as i64, len as i64]);
    buf.truncate(got.max(0) as usize);
    (got, buf)
}

fn write_u64(fd: i64, value: u64) -> i64 {
    write(fd, &value.to_le_bytes())
}

/// Reads a `u64` (an eventfd's count, a timerfd's expirations): the value, or `-errno`.
fn read_u64(fd: i64) -> i64 {
    let (got, bytes) = read(fd, 8);
    if got == 8 {
        u64::from_le_bytes(bytes.try_into().unwrap()) as i64
    } else {
        got
    }
}

fn open(path: &str, flags: c_int) -> i64 {
    let path = CString::new(path).unwrap();
    sys(
        libc::SYS_open,
        &[path.as_ptr() as i64, i64::from(flags), 0o600],
    )
}

fn fcntl(fd: i64, command: c_int, argument: i64) -> i64 {
    sys(libc::SYS_fcntl, &[fd, i64::from(command), argument])
}

fn readlink_fd(fd: i64) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|target| target.to_string_lossy().into_owned())
        .unwrap_or_else(|error| format!("error {error}"))
}

fn fdinfo(fd: i64) -> String {
    std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default()
}

/// The value after `key` on its `fdinfo` line, trimmed.
fn fdinfo_field(fd: i64, key: &str) -> String {
    fdinfo(fd)
        .lines()
        .find_map(|line| line.strip_prefix(key).map(|rest| rest.trim().to_string()))
        .unwrap_or_else(|| "(missing)".to_string())
}

fn st_mode(fd: i64) -> i64 {
    // SAFETY: `stat` is written by the kernel.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    let result = sys(libc::SYS_fstat, &[fd, &mut stat as *mut libc::stat as i64]);
    if result < 0 {
        result
    } else {
        i64::from(stat.st_mode)
    }
}

fn epoll_create1(flags: c_int) -> i64 {
    sys(libc::SYS_epoll_create1, &[i64::from(flags)])
}

fn ctl(epfd: i64, op: c_int, fd: i64, events: u32, data: u64) -> i64 {
    let mut event = libc::epoll_event { events, u64: data };
    sys(
        libc::SYS_epoll_ctl,
        &[
            epfd,
            i64::from(op),
            fd,
            &mut event as *mut libc::epoll_event as i64,
        ],
    )
}

fn add(epfd: i64, fd: i64, events: u32, data: u64) -> i64 {
    ctl(epfd, libc::EPOLL_CTL_ADD, fd, events, data)
}

/// `epoll_wait`: (result, the events as (events, data)).
fn wait(epfd: i64, max: usize, timeout_ms: i64) -> (i64, Vec<(u32, u64)>) {
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; max.max(1)];
    let got = sys(
        libc::SYS_epoll_wait,
        &[epfd, events.as_mut_ptr() as i64, max as i64, timeout_ms],
    );
    let list = events
        .iter()
        .take(got.max(0) as usize)
        .map(|event| (event.events, event.u64))
        .collect();
    (got, list)
}

/// `epoll_wait` that expects exactly one event: (events, data), or (0, result).
fn wait_one(epfd: i64, timeout_ms: i64) -> (u32, u64) {
    match wait(epfd, 8, timeout_ms) {
        (1, list) => list[0],
        (got, _) => (0, got as u64),
    }
}

fn fork() -> i64 {
    // SAFETY: the children here only make system calls and `_exit`.
    i64::from(unsafe { libc::fork() })
}

fn child_exit(code: c_int) -> ! {
    // SAFETY: ends the child without the parent's exit handlers.
    unsafe { libc::_exit(code) }
}

fn wait_child(pid: i64) -> c_int {
    let mut status = 0;
    // SAFETY: `status` is live.
    unsafe { libc::waitpid(pid as c_int, &mut status, 0) };
    status
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// A child that waits `ms`, then runs `action`, then ends.
fn later(ms: u64, action: impl FnOnce()) -> i64 {
    let pid = fork();
    if pid == 0 {
        sleep_ms(ms);
        action();
        child_exit(0);
    }
    pid
}

fn getpid() -> i64 {
    sys(libc::SYS_getpid, &[])
}

fn kill(pid: i64, signo: c_int) -> i64 {
    sys(libc::SYS_kill, &[pid, i64::from(signo)])
}

fn monotonic_ns() -> i64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn clock_ns(clock: c_int) -> i64 {
    // SAFETY: `ts` is written by the kernel.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    sys(
        libc::SYS_clock_gettime,
        &[i64::from(clock), &mut ts as *mut libc::timespec as i64],
    );
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

fn install(signo: c_int, handler: extern "C" fn(c_int), flags: c_int) {
    // SAFETY: a zeroed sigaction with a handler and flags is a valid argument.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as usize;
        action.sa_flags = flags;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signo, &action, std::ptr::null_mut());
    }
}

/// The blocked mask, after `how` with `set` (as a 64-bit mask; `bit(n)` is `1 << (n-1)`).
fn sigprocmask(how: c_int, set: u64) -> u64 {
    let mut old = 0u64;
    sys(
        libc::SYS_rt_sigprocmask,
        &[
            i64::from(how),
            &set as *const u64 as i64,
            &mut old as *mut u64 as i64,
            8,
        ],
    );
    let mut now = 0u64;
    sys(
        libc::SYS_rt_sigprocmask,
        &[libc::SIG_BLOCK as i64, 0, &mut now as *mut u64 as i64, 8],
    );
    now
}

fn bit(signo: c_int) -> u64 {
    1 << (signo - 1)
}

fn sigpending() -> u64 {
    let mut set = 0u64;
    sys(libc::SYS_rt_sigpending, &[&mut set as *mut u64 as i64, 8]);
    set
}

/// Whether the caller holds capability `cap` in its effective set (from
/// `/proc/self/status`).
fn has_capability(cap: u32) -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << cap) != 0)
}

/// Whether the running kernel's release is at least `major.minor` (`uname -r`).
fn kernel_at_least(major: u32, minor: u32) -> bool {
    // SAFETY: `names` is written by the kernel.
    let mut names: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a live utsname.
    unsafe { libc::uname(&mut names) };
    let release: String = names
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|part| part.parse::<u32>().ok());
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

fn poll_one(fd: i64, events: i16, timeout_ms: i64) -> i64 {
    let mut entry = libc::pollfd {
        fd: fd as c_int,
        events,
        revents: 0,
    };
    let result = sys(
        libc::SYS_poll,
        &[&mut entry as *mut libc::pollfd as i64, 1, timeout_ms],
    );
    if result < 0 {
        result
    } else {
        i64::from(entry.revents)
    }
}

fn ioctl_int(fd: i64, request: u64, value: &mut c_int) -> i64 {
    sys(
        libc::SYS_ioctl,
        &[fd, request as i64, value as *mut c_int as i64],
    )
}

// ---------------------------------------------------------------------------------------
// epoll: creating, the interest list's errors, the harvest's rules.

fn epoll_basics(report: &mut Report) {
    check(
        report,
        "epoll_create(0): EINVAL",
        sys(libc::SYS_epoll_create, &[0]),
        err(libc::EINVAL),
    );
    check(
        report,
        "epoll_create(-1): EINVAL",
        sys(libc::SYS_epoll_create, &[-1]),
        err(libc::EINVAL),
    );
    let old = sys(libc::SYS_epoll_create, &[1]);
    report.check("epoll_create(1) gives a descriptor", old >= 0, old);
    check(
        report,
        "epoll_create(1): no FD_CLOEXEC",
        fcntl(old, libc::F_GETFD, 0),
        0,
    );
    close(old);
    check(
        report,
        "epoll_create1(O_NONBLOCK): EINVAL",
        epoll_create1(libc::O_NONBLOCK),
        err(libc::EINVAL),
    );
    let epfd = epoll_create1(libc::EPOLL_CLOEXEC);
    report.check(
        "epoll_create1(EPOLL_CLOEXEC) gives a descriptor",
        epfd >= 0,
        epfd,
    );
    check(
        report,
        "epoll_create1(EPOLL_CLOEXEC): FD_CLOEXEC",
        fcntl(epfd, libc::F_GETFD, 0),
        1,
    );
    check(
        report,
        "epoll: F_GETFL is O_RDWR",
        fcntl(epfd, libc::F_GETFL, 0),
        i64::from(libc::O_RDWR),
    );
    report.check(
        "epoll: /proc/self/fd names anon_inode:[eventpoll]",
        readlink_fd(epfd) == "anon_inode:[eventpoll]",
        readlink_fd(epfd),
    );
    check(
        report,
        "epoll: fstat mode 0600, no type",
        st_mode(epfd),
        0o600,
    );
    check(
        report,
        "epoll: read is EINVAL",
        read(epfd, 16).0,
        err(libc::EINVAL),
    );
    check(
        report,
        "epoll: write is EINVAL",
        write(epfd, b"12345678"),
        err(libc::EINVAL),
    );
    check(
        report,
        "epoll: empty, timeout 0: 0 events",
        wait(epfd, 4, 0).0,
        0,
    );
    let start = Instant::now();
    let got = wait(epfd, 4, 60).0;
    let waited = start.elapsed();
    report.check(
        "epoll: empty, timeout 60 ms: 0 events after the timeout",
        got == 0 && waited >= Duration::from_millis(55),
        format!("{got} after {waited:?}"),
    );
    close(epfd);
}

fn ctl_errors(report: &mut Report) {
    let epfd = epoll_create1(0);
    let (r, w) = pipe(libc::O_NONBLOCK);
    check(
        report,
        "ctl: bad epoll descriptor: EBADF",
        add(999, r, EPOLLIN, 0),
        err(libc::EBADF),
    );
    check(
        report,
        "ctl: bad target descriptor: EBADF",
        add(epfd, 999, EPOLLIN, 0),
        err(libc::EBADF),
    );
    check(
        report,
        "ctl: a pipe as the epoll: EINVAL",
        add(r, w, EPOLLIN, 0),
        err(libc::EINVAL),
    );
    check(
        report,
        "ctl: an epoll in itself: EINVAL",
        add(epfd, epfd, EPOLLIN, 0),
        err(libc::EINVAL),
    );
    let file = open("/proc/self/exe", libc::O_RDONLY);
    check(
        report,
        "ctl: a regular file: EPERM",
        add(epfd, file, EPOLLIN, 0),
        err(libc::EPERM),
    );
    close(file);
    let dir = open("/", libc::O_RDONLY | libc::O_DIRECTORY);
    check(
        report,
        "ctl: a directory: EPERM",
        add(epfd, dir, EPOLLIN, 0),
        err(libc::EPERM),
    );
    close(dir);
    let null = open("/dev/null", libc::O_RDWR);
    check(
        report,
        "ctl: /dev/null: EPERM",
        add(epfd, null, EPOLLIN, 0),
        err(libc::EPERM),
    );
    close(null);
    let path = open("/", libc::O_PATH);
    check(
        report,
        "ctl: an O_PATH descriptor: EBADF",
        add(epfd, path, EPOLLIN, 0),
        err(libc::EBADF),
    );
    close(path);
    check(
        report,
        "ctl: ADD with a NULL event: EFAULT",
        sys(
            libc::SYS_epoll_ctl,
            &[epfd, libc::EPOLL_CTL_ADD as i64, r, 0],
        ),
        err(libc::EFAULT),
    );
    check(
        report,
        "ctl: MOD of what is not there: ENOENT",
        ctl(epfd, libc::EPOLL_CTL_MOD, r, EPOLLIN, 0),
        err(libc::ENOENT),
    );
    check(
        report,
        "ctl: DEL of what is not there: ENOENT",
        ctl(epfd, libc::EPOLL_CTL_DEL, r, 0, 0),
        err(libc::ENOENT),
    );
    check(report, "ctl: ADD", add(epfd, r, EPOLLIN, 1), 0);
    check(
        report,
        "ctl: ADD again: EEXIST",
        add(epfd, r, EPOLLIN, 1),
        err(libc::EEXIST),
    );
    check(
        report,
        "ctl: op 99: EINVAL",
        ctl(epfd, 99, r, EPOLLIN, 0),
        err(libc::EINVAL),
    );
    check(
        report,
        "ctl: DEL with a NULL event",
        sys(
            libc::SYS_epoll_ctl,
            &[epfd, libc::EPOLL_CTL_DEL as i64, r, 0],
        ),
        0,
    );
    check(
        report,
        "ctl: DEL again: ENOENT",
        ctl(epfd, libc::EPOLL_CTL_DEL, r, 0, 0),
        err(libc::ENOENT),
    );
    // EPOLLEXCLUSIVE: ADD only, plain events only, not on an epoll.
    check(
        report,
        "ctl: EPOLLEXCLUSIVE|EPOLLONESHOT: EINVAL",
        add(epfd, r, EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 0),
        err(libc::EINVAL),
    );
    check(
        report,
        "ctl: EPOLLEXCLUSIVE|EPOLLRDHUP: EINVAL",
        add(
            epfd,
            r,
            EPOLLIN | EPOLLEXCLUSIVE | libc::EPOLLRDHUP as u32,
            0,
        ),
        err(libc::EINVAL),
    );
    let inner = epoll_create1(0);
    check(
        report,
        "ctl: EPOLLEXCLUSIVE on an epoll: EINVAL",
        add(epfd, inner, EPOLLIN | EPOLLEXCLUSIVE, 0),
        err(libc::EINVAL),
    );
    close(inner);
    check(
        report,
        "ctl: EPOLLEXCLUSIVE|EPOLLIN|EPOLLET",
        add(epfd, r, EPOLLIN | EPOLLET | EPOLLEXCLUSIVE, 2),
        0,
    );
    check(
        report,
        "ctl: MOD with EPOLLEXCLUSIVE: EINVAL",
        ctl(epfd, libc::EPOLL_CTL_MOD, r, EPOLLIN | EPOLLEXCLUSIVE, 0),
        err(libc::EINVAL),
    );
    check(
        report,
        "ctl: MOD of an exclusive item: EINVAL",
        ctl(epfd, libc::EPOLL_CTL_MOD, r, EPOLLIN, 0),
        err(libc::EINVAL),
    );
    write(w, b"x");
    check_u64(
        report,
        "ctl: the exclusive item reports",
        wait_one(epfd, 0).0 as u64,
        u64::from(EPOLLIN),
    );
    check(
        report,
        "wait: maxevents 0: EINVAL",
        wait(epfd, 0, 0).0,
        err(libc::EINVAL),
    );
    check(
        report,
        "wait: maxevents -1: EINVAL",
        sys(libc::SYS_epoll_wait, &[epfd, 0, -1, 0]),
        err(libc::EINVAL),
    );
    check(
        report,
        "wait: not an epoll: EINVAL",
        wait(r, 4, 0).0,
        err(libc::EINVAL),
    );
    check(
        report,
        "wait: bad descriptor: EBADF",
        wait(999, 4, 0).0,
        err(libc::EBADF),
    );
    check(
        report,
        "wait: events at a kernel address: EFAULT",
        sys(libc::SYS_epoll_wait, &[epfd, -4096, 1, 0]),
        err(libc::EFAULT),
    );
    // The exclusive item was edge-triggered and reported: nothing ready now, so a NULL
    // array is never written.
    check(
        report,
        "wait: NULL events with nothing ready: 0",
        sys(libc::SYS_epoll_wait, &[epfd, 0, 1, 0]),
        0,
    );
    write(w, b"y");
    check(
        report,
        "wait: NULL events with an event ready: EFAULT",
        sys(libc::SYS_epoll_wait, &[epfd, 0, 1, 0]),
        err(libc::EFAULT),
    );
    close(r);
    close(w);
    close(epfd);
}

fn nesting_limits(report: &mut Report) {
    let a = epoll_create1(0);
    let b = epoll_create1(0);
    check(report, "nesting: b in a", add(a, b, EPOLLIN, 0), 0);
    check(
        report,
        "nesting: a in b closes a loop: ELOOP",
        add(b, a, EPOLLIN, 0),
        err(libc::ELOOP),
    );
    close(a);
    close(b);
    // A chain grown upward: each new epoll watches the last one.
    let chain: Vec<i64> = (0..7).map(|_| epoll_create1(0)).collect();
    let mut results = Vec::new();
    for pair in chain.windows(2) {
        results.push(add(pair[1], pair[0], EPOLLIN, 0));
    }
    check(
        report,
        "nesting: 4 links upward",
        results[..4].iter().filter(|&&r| r == 0).count() as i64,
        4,
    );
    check(
        report,
        "nesting: a 5th link upward: ELOOP",
        results[4],
        err(libc::ELOOP),
    );
    for fd in chain {
        close(fd);
    }
    // A chain grown downward: each new epoll is watched by the last one.
    let chain: Vec<i64> = (0..7).map(|_| epoll_create1(0)).collect();
    let mut results = Vec::new();
    for pair in chain.windows(2) {
        results.push(add(pair[0], pair[1], EPOLLIN, 0));
    }
    check(
        report,
        "nesting: 4 links downward",
        results[..4].iter().filter(|&&r| r == 0).count() as i64,
        4,
    );
    check(
        report,
        "nesting: a 5th link downward: ELOOP",
        results[4],
        err(libc::ELOOP),
    );
    for fd in chain {
        close(fd);
    }
}

fn triggering(report: &mut Report) {
    let epfd = epoll_create1(0);
    let (r, w) = pipe(libc::O_NONBLOCK);
    add(epfd, r, EPOLLIN, 0xdead_beef_0000_0001);
    check(
        report,
        "level: nothing written: 0 events",
        wait(epfd, 4, 0).0,
        0,
    );
    write(w, b"ab");
    let (events, data) = wait_one(epfd, 0);
    check_u64(
        report,
        "level: readable: EPOLLIN",
        u64::from(events),
        u64::from(EPOLLIN),
    );
    check_u64(
        report,
        "level: the data word comes back",
        data,
        0xdead_beef_0000_0001,
    );
    check_u64(
        report,
        "level: still readable: reported again",
        u64::from(wait_one(epfd, 0).0),
        u64::from(EPOLLIN),
    );
    read(r, 2);
    check(report, "level: drained: 0 events", wait(epfd, 4, 0).0, 0);

    check(
        report,
        "edge: MOD to EPOLLET",
        ctl(epfd, libc::EPOLL_CTL_MOD, r, EPOLLIN | EPOLLET, 2),
        0,
    );
    write(w, b"abc");
    check_u64(
        report,
        "edge: a write: reported",
        u64::from(wait_one(epfd, 0).0),
        u64::from(EPOLLIN),
    );
    check(
        report,
        "edge: no new write: not reported again",
        wait(epfd, 4, 0).0,
        0,
    );
    write(w, b"d");
    check_u64(
        report,
        "edge: another write: reported again",
        u64::from(wait_one(epfd, 0).0),
        u64::from(EPOLLIN),
    );
    read(r, 16);

    check(
        report,
        "oneshot: MOD to EPOLLONESHOT",
        ctl(epfd, libc::EPOLL_CTL_MOD, r, EPOLLIN | EPOLLONESHOT, 3),
        0,
    );
    write(w, b"e");
    check_u64(report, "oneshot: reported once", wait_one(epfd, 0).1, 3);
    write(w, b"f");
    check(
        report,
        "oneshot: disabled after one report",
        wait(epfd, 4, 0).0,
        0,
    );
    check(
        report,
        "oneshot: re-armed by MOD",
        ctl(epfd, libc::EPOLL_CTL_MOD, r, EPOLLIN | EPOLLONESHOT, 4),
        0,
    );
    check_u64(
        report,
        "oneshot: ready again after MOD",
        wait_one(epfd, 0).1,
        4,
    );
    read(r, 16);
    ctl(epfd, libc::EPOLL_CTL_DEL, r, 0, 0);

    // The write end: writable; with the reader gone, EPOLLERR too.
    add(epfd, w, EPOLLOUT, 5);
    check_u64(
        report,
        "write end: EPOLLOUT",
        u64::from(wait_one(epfd, 0).0),
        u64::from(EPOLLOUT),
    );
    close(r);
    check_u64(
        report,
        "write end, reader closed: EPOLLOUT|EPOLLERR",
        u64::from(wait_one(epfd, 0).0),
        u64::from(EPOLLOUT | EPOLLERR),
    );
    close(w);
    check(
        report,
        "write end closed: its item is gone",
        wait(epfd, 4, 0).0,
        0,
    );

    // The read end after the writer left: EPOLLHUP whether asked or not, with data first.
    let (r, w) = pipe(libc::O_NONBLOCK);
    add(epfd, r, EPOLLIN, 6);
    write(w, b"z");
    close(w);
    check_u64(
        report,
        "read end, writer gone, data: EPOLLIN|EPOLLHUP",
        u64::from(wait_one(epfd, 0).0),
        u64::from(EPOLLIN | EPOLLHUP),
    );
    read(r, 4);
    check_u64(
        report,
        "read end, writer gone, drained: EPOLLHUP",
        u64::from(wait_one(epfd, 0).0),
        u64::from(EPOLLHUP),
    );
    ctl(epfd, libc::EPOLL_CTL_MOD, r, EPOLLOUT, 7);
    check_u64(
        report,
        "EPOLLHUP comes unasked",
        u64::from(wait_one(epfd, 0).0),
        u64::from(EPOLLHUP),
    );
    close(r);
    close(epfd);
}

fn closing_and_order(report: &mut Report) {
    let epfd = epoll_create1(0);
    // An item lasts as long as its open file: closing the last descriptor removes it.
    let (r, w) = pipe(libc::O_NONBLOCK);
    add(epfd, r, EPOLLIN, 1);
    write(w, b"x");
    close(r);
    check(
        report,
        "closed: the last descriptor closed: never reported",
        wait(epfd, 4, 0).0,
        0,
    );
    let (r2, w2) = pipe(libc::O_NONBLOCK);
    report.check(
        "closed: the number comes back for a new pipe",
        r2 == r,
        format!("{r2} vs {r}"),
    );
    check(
        report,
        "closed: the new file under the old number can be added",
        add(epfd, r2, EPOLLIN, 2),
        0,
    );
    close(w);
    // A duplicate keeps the file open: the item stays, reported under the closed number.
    let dup = sys(libc::SYS_dup, &[r2]);
    close(r2);
    write(w2, b"y");
    check_u64(
        report,
        "dup: the item outlives its descriptor",
        wait_one(epfd, 0).1,
        2,
    );
    check(
        report,
        "dup: DEL by the closed number: EBADF",
        ctl(epfd, libc::EPOLL_CTL_DEL, r2, 0, 0),
        err(libc::EBADF),
    );
    check(
        report,
        "dup: DEL by the new number: ENOENT",
        ctl(epfd, libc::EPOLL_CTL_DEL, dup, 0, 0),
        err(libc::ENOENT),
    );
    check(
        report,
        "dup: the same file under another number is another item",
        add(epfd, dup, EPOLLIN, 3),
        0,
    );
    check(report, "dup: both items report", wait(epfd, 8, 0).0, 2);
    close(dup);
    check(
        report,
        "dup: all its descriptors closed: gone",
        wait(epfd, 8, 0).0,
        0,
    );
    close(w2);
    close(epfd);

    // Three ready level-triggered items, two at a time: the third comes first next.
    let epfd = epoll_create1(0);
    let pipes: Vec<(i64, i64)> = (0..3).map(|_| pipe(libc::O_NONBLOCK)).collect();
    for (index, &(r, w)) in pipes.iter().enumerate() {
        add(epfd, r, EPOLLIN, index as u64);
        write(w, b"!");
    }
    let first: Vec<u64> = wait(epfd, 2, 0).1.iter().map(|e| e.1).collect();
    let second: Vec<u64> = wait(epfd, 2, 0).1.iter().map(|e| e.1).collect();
    report.check(
        "order: maxevents 2 of 3 ready, then the third first",
        first == [0, 1] && second == [2, 0],
        format!("{first:?} then {second:?}"),
    );
    for (r, w) in pipes {
        close(r);
        close(w);
    }
    close(epfd);
}

fn fifo_and_console(report: &mut Report, dir: &str) {
    let path = format!("{dir}/events-fifo");
    let c_path = CString::new(path.clone()).unwrap();
    // SAFETY: a live C string.
    unsafe { libc::unlink(c_path.as_ptr()) };
    // SAFETY: a live C string.
    let made = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    if made != 0 {
        report.skip(
            "fifo: readable through epoll",
            format!("mkfifo {path}: errno {}", report::errno()),
        );
    } else {
        let fifo = open(&path, libc::O_RDWR | libc::O_NONBLOCK);
        let epfd = epoll_create1(0);
        add(epfd, fifo, EPOLLIN, 9);
        check(report, "fifo: empty: 0 events", wait(epfd, 4, 0).0, 0);
        write(fifo, b"hello");
        check_u64(
            report,
            "fifo: written: EPOLLIN",
            u64::from(wait_one(epfd, 0).0),
            u64::from(EPOLLIN),
        );
        close(fifo);
        close(epfd);
        // SAFETY: a live C string.
        unsafe { libc::unlink(c_path.as_ptr()) };
    }
    // The console: a terminal has a poll that reports it writable.
    let console = open("/dev/console", libc::O_WRONLY | libc::O_NOCTTY);
    if console < 0 {
        report.skip(
            "console: EPOLLOUT through epoll",
            format!("open /dev/console: {console}"),
        );
        return;
    }
    let epfd = epoll_create1(0);
    check(report, "console: added", add(epfd, console, EPOLLOUT, 1), 0);
    check_u64(
        report,
        "console: EPOLLOUT",
        u64::from(wait_one(epfd, 0).0 & EPOLLOUT),
        u64::from(EPOLLOUT),
    );
    close(console);
    close(epfd);
}

fn nested(report: &mut Report) {
    let outer = epoll_create1(0);
    let inner = epoll_create1(0);
    let (r, w) = pipe(libc::O_NONBLOCK);
    add(inner, r, EPOLLIN, 1);
    add(outer, inner, EPOLLIN | EPOLLET, 2);
    check(report, "nested: nothing ready: 0", wait(outer, 4, 0).0, 0);
    check(
        report,
        "nested: poll of the inner epoll: 0",
        poll_one(inner, libc::POLLIN, 0),
        0,
    );
    write(w, b"x");
    check_u64(
        report,
        "nested: the outer reports the inner",
        wait_one(outer, 0).1,
        2,
    );
    check(
        report,
        "nested: poll of the inner epoll: POLLIN",
        poll_one(inner, libc::POLLIN | libc::POLLOUT, 0),
        i64::from(libc::POLLIN),
    );
    check_u64(
        report,
        "nested: the inner still has the pipe",
        wait_one(inner, 0).1,
        1,
    );
    read(r, 4);
    // A blocking wait on the outer, woken by another process writing the pipe.
    let child = later(50, || {
        write(w, b"y");
    });
    let start = Instant::now();
    let (events, data) = wait_one(outer, 5000);
    report.check(
        "nested: a blocked outer wait woken by another process's write",
        events == EPOLLIN && data == 2 && start.elapsed() < Duration::from_millis(4000),
        format!("events {events:#x} data {data} after {:?}", start.elapsed()),
    );
    wait_child(child);
    close(r);
    close(w);
    close(inner);
    close(outer);
}

fn wakeups_and_signals(report: &mut Report) {
    install(libc::SIGUSR1, count_usr1, 0);
    install(libc::SIGUSR2, count_usr2, libc::SA_RESTART);
    let epfd = epoll_create1(0);
    let (r, w) = pipe(libc::O_NONBLOCK);
    add(epfd, r, EPOLLIN, 1);
    let child = later(50, || {
        write(w, b"x");
    });
    let (events, _) = wait_one(epfd, -1);
    check_u64(
        report,
        "wait(-1): woken by another process's write",
        u64::from(events),
        u64::from(EPOLLIN),
    );
    wait_child(child);
    read(r, 4);

    // A signal ends a blocked wait with EINTR, even with SA_RESTART.
    let parent = getpid();
    let child = later(50, move || {
        kill(parent, libc::SIGUSR2);
    });
    let before = USR2.load(Ordering::SeqCst);
    check(
        report,
        "wait(-1): a signal (SA_RESTART) makes it EINTR",
        wait(epfd, 4, -1).0,
        err(libc::EINTR),
    );
    check(
        report,
        "wait(-1): the handler ran",
        i64::from(USR2.load(Ordering::SeqCst) - before),
        1,
    );
    wait_child(child);

    // epoll_pwait: the mask holds for the wait; the blocked signal comes after it.
    let before = USR1.load(Ordering::SeqCst);
    let mask = bit(libc::SIGUSR1);
    let child = later(20, move || {
        kill(parent, libc::SIGUSR1);
    });
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    let got = sys(
        libc::SYS_epoll_pwait,
        &[
            epfd,
            events.as_mut_ptr() as i64,
            4,
            300,
            &mask as *const u64 as i64,
            8,
        ],
    );
    check(
        report,
        "pwait: a signal blocked by its mask does not interrupt it",
        got,
        0,
    );
    check(
        report,
        "pwait: the signal is delivered once the mask is gone",
        i64::from(USR1.load(Ordering::SeqCst) - before),
        1,
    );
    wait_child(child);
    check(
        report,
        "pwait: sigsetsize 4: EINVAL",
        sys(
            libc::SYS_epoll_pwait,
            &[
                epfd,
                events.as_mut_ptr() as i64,
                4,
                0,
                &mask as *const u64 as i64,
                4,
            ],
        ),
        err(libc::EINVAL),
    );
    check(
        report,
        "pwait: a bad mask pointer: EFAULT",
        sys(
            libc::SYS_epoll_pwait,
            &[epfd, events.as_mut_ptr() as i64, 4, 0, 8, 8],
        ),
        err(libc::EFAULT),
    );
    // A pending blocked signal its mask lets through: EINTR at once, then the old mask.
    sigprocmask(libc::SIG_BLOCK, bit(libc::SIGUSR1));
    kill(parent, libc::SIGUSR1);
    let before = USR1.load(Ordering::SeqCst);
    let empty = 0u64;
    let got = sys(
        libc::SYS_epoll_pwait,
        &[
            epfd,
            events.as_mut_ptr() as i64,
            4,
            5000,
            &empty as *const u64 as i64,
            8,
        ],
    );
    check(
        report,
        "pwait: a pending signal its mask unblocks: EINTR",
        got,
        err(libc::EINTR),
    );
    check(
        report,
        "pwait: its handler ran",
        i64::from(USR1.load(Ordering::SeqCst) - before),
        1,
    );
    let now = sigprocmask(libc::SIG_BLOCK, 0);
    check_u64(
        report,
        "pwait: the old mask is back",
        now & bit(libc::SIGUSR1),
        bit(libc::SIGUSR1),
    );
    sigprocmask(libc::SIG_UNBLOCK, bit(libc::SIGUSR1));

    // epoll_pwait2: a timespec timeout.
    let timeout = libc::timespec {
        tv_sec: 0,
        tv_nsec: 40 * MS,
    };
    let start = Instant::now();
    let got = sys(
        SYS_EPOLL_PWAIT2,
        &[
            epfd,
            events.as_mut_ptr() as i64,
            4,
            &timeout as *const libc::timespec as i64,
            0,
            8,
        ],
    );
    report.check(
        "pwait2: a 40 ms timeout",
        got == 0 && start.elapsed() >= Duration::from_millis(35),
        format!("{got} after {:?}", start.elapsed()),
    );
    let bad = libc::timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000_000,
    };
    check(
        report,
        "pwait2: tv_nsec of 1e9: EINVAL",
        sys(
            SYS_EPOLL_PWAIT2,
            &[
                epfd,
                events.as_mut_ptr() as i64,
                4,
                &bad as *const libc::timespec as i64,
                0,
                8,
            ],
        ),
        err(libc::EINVAL),
    );
    check(
        report,
        "pwait2: a bad timeout pointer: EFAULT",
        sys(
            SYS_EPOLL_PWAIT2,
            &[epfd, events.as_mut_ptr() as i64, 4, 8, 0, 8],
        ),
        err(libc::EFAULT),
    );
    write(w, b"z");
    check(
        report,
        "pwait2: a NULL timeout with an event ready",
        sys(
            SYS_EPOLL_PWAIT2,
            &[epfd, events.as_mut_ptr() as i64, 4, 0, 0, 8],
        ),
        1,
    );
    // ppoll's mask holds for its wait too.
    sigprocmask(libc::SIG_BLOCK, bit(libc::SIGUSR1));
    kill(parent, libc::SIGUSR1);
    let before = USR1.load(Ordering::SeqCst);
    let mut entry = libc::pollfd {
        fd: w as c_int,
        events: 0,
        revents: 0,
    };
    let long = libc::timespec {
        tv_sec: 5,
        tv_nsec: 0,
    };
    let got = sys(
        libc::SYS_ppoll,
        &[
            &mut entry as *mut libc::pollfd as i64,
            1,
            &long as *const libc::timespec as i64,
            &empty as *const u64 as i64,
            8,
        ],
    );
    check(
        report,
        "ppoll: a pending signal its mask unblocks: EINTR",
        got,
        err(libc::EINTR),
    );
    check(
        report,
        "ppoll: its handler ran",
        i64::from(USR1.load(Ordering::SeqCst) - before),
        1,
    );
    check_u64(
        report,
        "ppoll: the old mask is back",
        sigprocmask(libc::SIG_BLOCK, 0) & bit(libc::SIGUSR1),
        bit(libc::SIGUSR1),
    );
    sigprocmask(libc::SIG_UNBLOCK, bit(libc::SIGUSR1));
    close(r);
    close(w);
    close(epfd);
}

// ---------------------------------------------------------------------------------------
// eventfd

fn eventfd(report: &mut Report) {
    check(
        report,
        "eventfd2: unknown flag: EINVAL",
        sys(libc::SYS_eventfd2, &[0, 0o10]),
        err(libc::EINVAL),
    );
    let fd = sys(
        libc::SYS_eventfd2,
        &[3, i64::from(libc::EFD_CLOEXEC | libc::EFD_NONBLOCK)],
    );
    report.check("eventfd2 gives a descriptor", fd >= 0, fd);
    report.check(
        "eventfd: anon_inode:[eventfd]",
        readlink_fd(fd) == "anon_inode:[eventfd]",
        readlink_fd(fd),
    );
    check(report, "eventfd: fstat mode 0600", st_mode(fd), 0o600);
    check(
        report,
        "eventfd: EFD_CLOEXEC",
        fcntl(fd, libc::F_GETFD, 0),
        1,
    );
    check(
        report,
        "eventfd: F_GETFL O_RDWR|O_NONBLOCK",
        fcntl(fd, libc::F_GETFL, 0),
        i64::from(libc::O_RDWR | libc::O_NONBLOCK),
    );
    check(
        report,
        "eventfd: fdinfo eventfd-count",
        i64::from_str_radix(&fdinfo_field(fd, "eventfd-count:"), 16).unwrap_or(-1),
        3,
    );
    check(
        report,
        "eventfd: poll with a count: POLLIN|POLLOUT",
        poll_one(fd, libc::POLLIN | libc::POLLOUT, 0),
        i64::from(libc::POLLIN | libc::POLLOUT),
    );
    check(
        report,
        "eventfd: a 4-byte read: EINVAL",
        read(fd, 4).0,
        err(libc::EINVAL),
    );
    check(report, "eventfd: a read takes the count", read_u64(fd), 3);
    check(
        report,
        "eventfd: empty, non-blocking: EAGAIN",
        read_u64(fd),
        err(libc::EAGAIN),
    );
    check(
        report,
        "eventfd: poll empty: POLLOUT",
        poll_one(fd, libc::POLLIN | libc::POLLOUT, 0),
        i64::from(libc::POLLOUT),
    );
    check(
        report,
        "eventfd: a 4-byte write: EINVAL",
        write(fd, &[1, 0, 0, 0]),
        err(libc::EINVAL),
    );
    check(
        report,
        "eventfd: writing u64::MAX: EINVAL",
        write_u64(fd, u64::MAX),
        err(libc::EINVAL),
    );
    // Linux takes the first 8 bytes of a longer write until 6.9, which refuses it.
    let long = write(fd, &[2, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9]);
    if kernel_at_least(6, 9) {
        check(
            report,
            "eventfd: a 16-byte write (Linux 6.9 on): EINVAL",
            long,
            err(libc::EINVAL),
        );
        write_u64(fd, 2);
    } else {
        check(
            report,
            "eventfd: a 16-byte write (Linux before 6.9): takes 8",
            long,
            8,
        );
    }
    check(report, "eventfd: writes add", write_u64(fd, 5), 8);
    check(report, "eventfd: the sum", read_u64(fd), 7);
    check(
        report,
        "eventfd: the largest count",
        write_u64(fd, 0xffff_ffff_ffff_fffe),
        8,
    );
    check(
        report,
        "eventfd: full, non-blocking write of 1: EAGAIN",
        write_u64(fd, 1),
        err(libc::EAGAIN),
    );
    check(
        report,
        "eventfd: full, a write of 0 fits",
        write_u64(fd, 0),
        8,
    );
    check(
        report,
        "eventfd: poll full: POLLIN",
        poll_one(fd, libc::POLLIN | libc::POLLOUT, 0),
        i64::from(libc::POLLIN),
    );
    check_u64(
        report,
        "eventfd: read the largest count",
        read_u64(fd) as u64,
        0xffff_ffff_ffff_fffe,
    );
    check(
        report,
        "eventfd: lseek answers 0",
        sys(libc::SYS_lseek, &[fd, 5, 0]),
        0,
    );
    let mut buf = [0u8; 8];
    check(
        report,
        "eventfd: pread: ESPIPE",
        sys(libc::SYS_pread64, &[fd, buf.as_mut_ptr() as i64, 8, 0]),
        err(libc::ESPIPE),
    );
    let mut value: c_int = 0;
    check(
        report,
        "eventfd: FIONREAD: ENOTTY",
        ioctl_int(fd, libc::FIONREAD as u64, &mut value),
        err(libc::ENOTTY),
    );
    // FIONBIO clears and sets O_NONBLOCK on the description.
    let mut off: c_int = 0;
    check(
        report,
        "eventfd: FIONBIO 0",
        ioctl_int(fd, libc::FIONBIO as u64, &mut off),
        0,
    );
    check(
        report,
        "eventfd: FIONBIO 0 cleared O_NONBLOCK",
        fcntl(fd, libc::F_GETFL, 0) & i64::from(libc::O_NONBLOCK),
        0,
    );
    let mut on: c_int = 7;
    check(
        report,
        "eventfd: FIONBIO 7",
        ioctl_int(fd, libc::FIONBIO as u64, &mut on),
        0,
    );
    check(
        report,
        "eventfd: FIONBIO set O_NONBLOCK",
        read_u64(fd),
        err(libc::EAGAIN),
    );
    close(fd);

    let sem = sys(
        libc::SYS_eventfd2,
        &[2, i64::from(libc::EFD_SEMAPHORE | libc::EFD_NONBLOCK)],
    );
    check(report, "semaphore: a read takes 1", read_u64(sem), 1);
    check(report, "semaphore: and 1 again", read_u64(sem), 1);
    check(
        report,
        "semaphore: then EAGAIN",
        read_u64(sem),
        err(libc::EAGAIN),
    );
    close(sem);
    let plain = sys(libc::SYS_eventfd, &[4]);
    check(
        report,
        "eventfd(4): the old call, no flags",
        fcntl(plain, libc::F_GETFL, 0),
        i64::from(libc::O_RDWR),
    );
    check(report, "eventfd(4): its count", read_u64(plain), 4);

    // Blocking: a read woken by another process's write, a write woken by a read.
    let child = later(50, || {
        write_u64(plain, 9);
    });
    check(
        report,
        "eventfd: a blocked read woken by another process",
        read_u64(plain),
        9,
    );
    wait_child(child);
    write_u64(plain, 0xffff_ffff_ffff_fff0);
    let child = later(50, || {
        read_u64(plain);
    });
    check(
        report,
        "eventfd: a blocked write woken by another process's read",
        write_u64(plain, 0x20),
        8,
    );
    wait_child(child);
    check(
        report,
        "eventfd: what the blocked write left",
        read_u64(plain),
        0x20,
    );
    // A signal without SA_RESTART interrupts a blocked read.
    let parent = getpid();
    let child = later(50, move || {
        kill(parent, libc::SIGUSR1);
    });
    check(
        report,
        "eventfd: a blocked read interrupted: EINTR",
        read_u64(plain),
        err(libc::EINTR),
    );
    wait_child(child);

    // Through epoll, edge-triggered: every write is a new edge, a write of 0 too.
    let epfd = epoll_create1(0);
    add(epfd, plain, EPOLLIN | EPOLLET, 11);
    check(report, "eventfd+epoll: empty: 0", wait(epfd, 4, 0).0, 0);
    write_u64(plain, 1);
    check_u64(
        report,
        "eventfd+epoll: a write: EPOLLIN",
        u64::from(wait_one(epfd, 0).0),
        u64::from(EPOLLIN),
    );
    check(
        report,
        "eventfd+epoll: no new edge: 0",
        wait(epfd, 4, 0).0,
        0,
    );
    write_u64(plain, 0);
    check_u64(
        report,
        "eventfd+epoll: a write of 0 is an edge",
        u64::from(wait_one(epfd, 0).0),
        u64::from(EPOLLIN),
    );
    // select and poll sleep on it too.
    read_u64(plain);
    let child = later(50, || {
        write_u64(plain, 1);
    });
    check(
        report,
        "eventfd: poll(-1) woken by another process",
        poll_one(plain, libc::POLLIN, -1),
        i64::from(libc::POLLIN),
    );
    wait_child(child);
    close(epfd);
    close(plain);
}

// ---------------------------------------------------------------------------------------
// timerfd

fn settime(fd: i64, flags: i64, value_ns: i64, interval_ns: i64) -> (i64, i64, i64) {
    let spec = [
        interval_ns / 1_000_000_000,
        interval_ns % 1_000_000_000,
        value_ns / 1_000_000_000,
        value_ns % 1_000_000_000,
    ];
    let mut old = [0i64; 4];
    let result = sys(
        libc::SYS_timerfd_settime,
        &[fd, flags, spec.as_ptr() as i64, old.as_mut_ptr() as i64],
    );
    (
        result,
        old[2] * 1_000_000_000 + old[3],
        old[0] * 1_000_000_000 + old[1],
    )
}

/// `timerfd_gettime`: (result, value ns, interval ns).
fn gettime(fd: i64) -> (i64, i64, i64) {
    let mut spec = [0i64; 4];
    let result = sys(libc::SYS_timerfd_gettime, &[fd, spec.as_mut_ptr() as i64]);
    (
        result,
        spec[2] * 1_000_000_000 + spec[3],
        spec[0] * 1_000_000_000 + spec[1],
    )
}

fn timerfd(report: &mut Report) {
    let create = |clock: c_int, flags: c_int| {
        sys(
            libc::SYS_timerfd_create,
            &[i64::from(clock), i64::from(flags)],
        )
    };
    check(
        report,
        "timerfd_create: CLOCK_REALTIME_COARSE: EINVAL",
        create(libc::CLOCK_REALTIME_COARSE, 0),
        err(libc::EINVAL),
    );
    check(
        report,
        "timerfd_create: clock -1: EINVAL",
        create(-1, 0),
        err(libc::EINVAL),
    );
    check(
        report,
        "timerfd_create: unknown flag: EINVAL",
        create(libc::CLOCK_MONOTONIC, 1),
        err(libc::EINVAL),
    );
    let wake_alarm = has_capability(35);
    for (name, clock) in [
        ("CLOCK_REALTIME_ALARM", libc::CLOCK_REALTIME_ALARM),
        ("CLOCK_BOOTTIME_ALARM", libc::CLOCK_BOOTTIME_ALARM),
    ] {
        let fd = create(clock, 0);
        if wake_alarm {
            report.check(
                &format!("timerfd_create: {name} with CAP_WAKE_ALARM"),
                fd >= 0,
                fd,
            );
            close(fd);
        } else {
            check(
                report,
                &format!("timerfd_create: {name} without CAP_WAKE_ALARM: EPERM"),
                fd,
                err(libc::EPERM),
            );
        }
    }
    let fd = create(
        libc::CLOCK_MONOTONIC,
        libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
    );
    report.check("timerfd_create: CLOCK_MONOTONIC", fd >= 0, fd);
    report.check(
        "timerfd: anon_inode:[timerfd]",
        readlink_fd(fd) == "anon_inode:[timerfd]",
        readlink_fd(fd),
    );
    check(
        report,
        "timerfd: TFD_CLOEXEC",
        fcntl(fd, libc::F_GETFD, 0),
        1,
    );
    let fresh = gettime(fd);
    report.check(
        "timerfd: a new timer is disarmed",
        fresh == (0, 0, 0),
        format!("{fresh:?}"),
    );
    check(
        report,
        "timerfd: empty, non-blocking read: EAGAIN",
        read_u64(fd),
        err(libc::EAGAIN),
    );
    check(
        report,
        "timerfd: a 4-byte read: EINVAL",
        read(fd, 4).0,
        err(libc::EINVAL),
    );
    check(
        report,
        "timerfd: write: EINVAL",
        write_u64(fd, 1),
        err(libc::EINVAL),
    );
    check(
        report,
        "settime: unknown flag: EINVAL",
        settime(fd, 4, MS, 0).0,
        err(libc::EINVAL),
    );
    let bad = [0i64, 0, 0, 1_000_000_000];
    check(
        report,
        "settime: it_value.tv_nsec 1e9: EINVAL",
        sys(libc::SYS_timerfd_settime, &[fd, 0, bad.as_ptr() as i64, 0]),
        err(libc::EINVAL),
    );
    check(
        report,
        "settime: NULL new value: EFAULT",
        sys(libc::SYS_timerfd_settime, &[fd, 0, 0, 0]),
        err(libc::EFAULT),
    );
    let (r, w) = pipe(0);
    check(
        report,
        "settime: not a timerfd: EINVAL",
        settime(r, 0, MS, 0).0,
        err(libc::EINVAL),
    );
    check(
        report,
        "gettime: not a timerfd: EINVAL",
        gettime(r).0,
        err(libc::EINVAL),
    );
    close(r);
    close(w);
    check(
        report,
        "settime: bad descriptor: EBADF",
        settime(999, 0, MS, 0).0,
        err(libc::EBADF),
    );
    settime(fd, 0, 0, 0);

    // A one-shot timer: not yet, then one expiration, then disarmed.
    let start = monotonic_ns();
    check(
        report,
        "one-shot: armed for 50 ms",
        settime(fd, 0, 50 * MS, 0).0,
        0,
    );
    check(
        report,
        "one-shot: not yet: EAGAIN",
        read_u64(fd),
        err(libc::EAGAIN),
    );
    let (_, value, interval) = gettime(fd);
    report.check(
        "one-shot: gettime counts down",
        value > 0 && value <= 50 * MS && interval == 0,
        format!("{value} {interval}"),
    );
    check(
        report,
        "one-shot: poll before: 0",
        poll_one(fd, libc::POLLIN, 0),
        0,
    );
    check(
        report,
        "one-shot: poll(-1) wakes at its time",
        poll_one(fd, libc::POLLIN, -1),
        i64::from(libc::POLLIN),
    );
    let waited = monotonic_ns() - start;
    report.check(
        "one-shot: not before its time",
        waited >= 50 * MS,
        format!("{waited} ns"),
    );
    check(report, "one-shot: one expiration", read_u64(fd), 1);
    check(
        report,
        "one-shot: then none",
        read_u64(fd),
        err(libc::EAGAIN),
    );
    let after = gettime(fd);
    report.check(
        "one-shot: gettime after it expired: 0",
        after == (0, 0, 0),
        format!("{after:?}"),
    );

    // A periodic timer: the read counts the periods passed.
    let before_set = monotonic_ns();
    settime(fd, 0, 10 * MS, 10 * MS);
    let after_set = monotonic_ns();
    sleep_ms(55);
    let before_read = monotonic_ns();
    let ticks = read_u64(fd);
    let after_read = monotonic_ns();
    let (least, most) = (
        (before_read - after_set) / (10 * MS),
        (after_read - before_set) / (10 * MS),
    );
    report.check(
        "periodic: a read counts every period passed",
        ticks >= least && ticks <= most && ticks >= 5,
        format!("{ticks} expirations, expected {least}..={most}"),
    );
    let (_, value, interval) = gettime(fd);
    report.check(
        "periodic: gettime: the next period, the interval",
        value > 0 && value <= 10 * MS && interval == 10 * MS,
        format!("{value} {interval}"),
    );
    let (result, old_value, old_interval) = settime(fd, 0, 0, 0);
    report.check(
        "periodic: disarming gives the old setting",
        result == 0 && old_value > 0 && old_value <= 10 * MS && old_interval == 10 * MS,
        format!("{result} {old_value} {old_interval}"),
    );
    check(
        report,
        "periodic: disarmed, unread expirations dropped",
        read_u64(fd),
        err(libc::EAGAIN),
    );

    // Absolute times: in the past at once, in the future when due.
    let now = clock_ns(libc::CLOCK_MONOTONIC);
    check(
        report,
        "absolute: in the past",
        settime(fd, libc::TFD_TIMER_ABSTIME as i64, now - MS, 0).0,
        0,
    );
    check(
        report,
        "absolute: in the past: expired at once",
        read_u64(fd),
        1,
    );
    let blocking = create(libc::CLOCK_MONOTONIC, 0);
    let start = monotonic_ns();
    settime(blocking, libc::TFD_TIMER_ABSTIME as i64, start + 40 * MS, 0);
    check(
        report,
        "absolute: a blocking read waits for it",
        read_u64(blocking),
        1,
    );
    report.check(
        "absolute: not before its time",
        monotonic_ns() - start >= 40 * MS,
        monotonic_ns() - start,
    );
    close(blocking);
    let real = create(libc::CLOCK_REALTIME, 0);
    let start = monotonic_ns();
    let flags = (libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET) as i64;
    check(
        report,
        "realtime: absolute with TFD_TIMER_CANCEL_ON_SET",
        settime(real, flags, clock_ns(libc::CLOCK_REALTIME) + 40 * MS, 0).0,
        0,
    );
    check(report, "realtime: it expires", read_u64(real), 1);
    report.check(
        "realtime: not before its time",
        monotonic_ns() - start >= 35 * MS,
        monotonic_ns() - start,
    );
    close(real);
    let boot = create(libc::CLOCK_BOOTTIME, libc::TFD_NONBLOCK);
    settime(boot, 0, MS, 0);
    sleep_ms(5);
    check(report, "boottime: it expires", read_u64(boot), 1);
    close(boot);

    // Through epoll, with nobody reading: the expiry itself wakes the waiter.
    let epfd = epoll_create1(0);
    add(epfd, fd, EPOLLIN, 77);
    let start = Instant::now();
    settime(fd, 0, 30 * MS, 0);
    let (events, data) = wait_one(epfd, 3000);
    report.check(
        "timerfd+epoll: the expiry wakes a blocked epoll_wait",
        events == EPOLLIN
            && data == 77
            && start.elapsed() >= Duration::from_millis(28)
            && start.elapsed() < Duration::from_millis(2500),
        format!("{events:#x} {data} after {:?}", start.elapsed()),
    );
    check(
        report,
        "timerfd: fdinfo clockid",
        fdinfo_field(fd, "clockid:").parse().unwrap_or(-1),
        1,
    );
    check(
        report,
        "timerfd: fdinfo ticks",
        fdinfo_field(fd, "ticks:").parse().unwrap_or(-1),
        1,
    );
    close(epfd);
    close(fd);

    // A signal interrupts a blocked read.
    let fd = create(libc::CLOCK_MONOTONIC, 0);
    settime(fd, 0, 10_000 * MS, 0);
    let parent = getpid();
    let child = later(50, move || {
        kill(parent, libc::SIGUSR1);
    });
    check(
        report,
        "timerfd: a blocked read interrupted: EINTR",
        read_u64(fd),
        err(libc::EINTR),
    );
    wait_child(child);
    close(fd);
}

// ---------------------------------------------------------------------------------------
// signalfd

/// A `struct signalfd_siginfo`'s fields by offset.
fn field_u32(record: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(record[offset..offset + 4].try_into().unwrap())
}

fn signalfd4(fd: i64, mask: u64, flags: c_int) -> i64 {
    sys(
        libc::SYS_signalfd4,
        &[fd, &mask as *const u64 as i64, 8, i64::from(flags)],
    )
}

fn signalfd(report: &mut Report) {
    let usr1 = bit(libc::SIGUSR1);
    let usr2 = bit(libc::SIGUSR2);
    check(
        report,
        "signalfd4: sizemask 4: EINVAL",
        sys(libc::SYS_signalfd4, &[-1, &usr1 as *const u64 as i64, 4, 0]),
        err(libc::EINVAL),
    );
    check(
        report,
        "signalfd4: NULL mask: EFAULT",
        sys(libc::SYS_signalfd4, &[-1, 0, 8, 0]),
        err(libc::EFAULT),
    );
    check(
        report,
        "signalfd4: unknown flag: EINVAL",
        signalfd4(-1, usr1, 1),
        err(libc::EINVAL),
    );
    check(
        report,
        "signalfd4: bad descriptor: EBADF",
        signalfd4(999, usr1, 0),
        err(libc::EBADF),
    );
    let (r, w) = pipe(0);
    check(
        report,
        "signalfd4: not a signalfd: EINVAL",
        signalfd4(r, usr1, 0),
        err(libc::EINVAL),
    );
    close(r);
    close(w);

    let old_mask = sigprocmask(libc::SIG_BLOCK, 0);
    sigprocmask(libc::SIG_BLOCK, usr1 | usr2 | bit(libc::SIGCHLD));
    let fd = signalfd4(
        -1,
        usr1 | usr2 | bit(libc::SIGKILL),
        libc::SFD_NONBLOCK | libc::SFD_CLOEXEC,
    );
    report.check("signalfd4 gives a descriptor", fd >= 0, fd);
    report.check(
        "signalfd: anon_inode:[signalfd]",
        readlink_fd(fd) == "anon_inode:[signalfd]",
        readlink_fd(fd),
    );
    check(
        report,
        "signalfd: SFD_CLOEXEC",
        fcntl(fd, libc::F_GETFD, 0),
        1,
    );
    report.check(
        "signalfd: fdinfo sigmask, SIGKILL dropped",
        fdinfo_field(fd, "sigmask:") == format!("{:016x}", usr1 | usr2),
        fdinfo_field(fd, "sigmask:"),
    );
    check(
        report,
        "signalfd: nothing pending: EAGAIN",
        read(fd, 128).0,
        err(libc::EAGAIN),
    );
    check(
        report,
        "signalfd: a 127-byte read: EINVAL",
        read(fd, 127).0,
        err(libc::EINVAL),
    );
    check(
        report,
        "signalfd: write: EINVAL",
        write(fd, &[0u8; 128]),
        err(libc::EINVAL),
    );
    check(
        report,
        "signalfd: poll, nothing pending: 0",
        poll_one(fd, libc::POLLIN, 0),
        0,
    );
    let me = getpid();
    kill(me, libc::SIGUSR1);
    check(
        report,
        "signalfd: poll, SIGUSR1 pending: POLLIN",
        poll_one(fd, libc::POLLIN, 0),
        i64::from(libc::POLLIN),
    );
    let (got, record) = read(fd, 128);
    check(report, "signalfd: a record", got, 128);
    if got == 128 {
        check(
            report,
            "signalfd: ssi_signo",
            i64::from(field_u32(&record, 0)),
            i64::from(libc::SIGUSR1),
        );
        check(
            report,
            "signalfd: ssi_code SI_USER",
            i64::from(field_u32(&record, 8) as i32),
            i64::from(libc::SI_USER),
        );
        check(
            report,
            "signalfd: ssi_pid",
            i64::from(field_u32(&record, 12)),
            me,
        );
        // SAFETY: getuid has no arguments.
        check(
            report,
            "signalfd: ssi_uid",
            i64::from(field_u32(&record, 16)),
            i64::from(unsafe { libc::getuid() }),
        );
    }
    check_u64(
        report,
        "signalfd: the signal was taken",
        sigpending() & usr1,
        0,
    );
    check(
        report,
        "signalfd: poll after: 0",
        poll_one(fd, libc::POLLIN, 0),
        0,
    );

    // Two pending, one read of two records: lowest first.
    kill(me, libc::SIGUSR2);
    kill(me, libc::SIGUSR1);
    let (got, records) = read(fd, 300);
    report.check(
        "signalfd: two records in one read, lowest signal first",
        got == 256
            && field_u32(&records, 0) == libc::SIGUSR1 as u32
            && field_u32(&records, 128) == libc::SIGUSR2 as u32,
        format!("{got} bytes"),
    );

    // sigqueue's value.
    // SAFETY: a zeroed siginfo with the fields sigqueue fills.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    info.si_signo = libc::SIGUSR1;
    info.si_code = libc::SI_QUEUE;
    let raw = &mut info as *mut libc::siginfo_t as *mut u8;
    // SAFETY: si_pid at 16, si_uid at 20, si_value at 24 in the 128-byte siginfo.
    unsafe {
        (raw.add(16) as *mut i32).write_unaligned(me as i32);
        (raw.add(24) as *mut i32).write_unaligned(42);
    }
    sys(
        libc::SYS_rt_sigqueueinfo,
        &[me, i64::from(libc::SIGUSR1), raw as i64],
    );
    let (got, record) = read(fd, 128);
    report.check(
        "signalfd: sigqueue's SI_QUEUE and ssi_int",
        got == 128
            && field_u32(&record, 8) as i32 == libc::SI_QUEUE
            && field_u32(&record, 44) == 42,
        format!(
            "{got} bytes, code {} int {}",
            field_u32(&record, 8) as i32,
            field_u32(&record, 44)
        ),
    );

    // A new mask for the same file.
    check(
        report,
        "signalfd4: a new mask returns the descriptor",
        signalfd4(fd, usr2, 0),
        fd,
    );
    kill(me, libc::SIGUSR1);
    check(
        report,
        "signalfd: outside the new mask: not readable",
        poll_one(fd, libc::POLLIN, 0),
        0,
    );
    kill(me, libc::SIGUSR2);
    check(
        report,
        "signalfd: inside the new mask: readable",
        poll_one(fd, libc::POLLIN, 0),
        i64::from(libc::POLLIN),
    );
    let (_, record) = read(fd, 128);
    check(
        report,
        "signalfd: the new mask's signal",
        i64::from(field_u32(&record, 0)),
        i64::from(libc::SIGUSR2),
    );
    check(
        report,
        "signalfd: flags kept by the new mask",
        fcntl(fd, libc::F_GETFL, 0) & i64::from(libc::O_NONBLOCK),
        i64::from(libc::O_NONBLOCK),
    );
    // Leave SIGUSR1 pending-blocked no more: take it through a signalfd of its own.
    let usr1_fd = signalfd4(-1, usr1, libc::SFD_NONBLOCK);
    read(usr1_fd, 128);
    close(usr1_fd);

    // SIGCHLD from a child's exit, read blocking.
    let chld = signalfd4(-1, bit(libc::SIGCHLD), 0);
    let child = fork();
    if child == 0 {
        child_exit(7);
    }
    let (got, record) = read(chld, 128);
    report.check(
        "signalfd: SIGCHLD of an exit: CLD_EXITED, pid, status",
        got == 128
            && field_u32(&record, 0) == libc::SIGCHLD as u32
            && field_u32(&record, 8) as i32 == libc::CLD_EXITED
            && i64::from(field_u32(&record, 12)) == child
            && field_u32(&record, 40) == 7,
        format!(
            "{got} bytes, signo {} code {} pid {} status {}",
            field_u32(&record, 0),
            field_u32(&record, 8) as i32,
            field_u32(&record, 12),
            field_u32(&record, 40)
        ),
    );
    wait_child(child);

    // A blocking read woken by another process's signal.
    signalfd4(chld, usr1, 0);
    let child = later(50, move || {
        kill(me, libc::SIGUSR1);
    });
    let (got, record) = read(chld, 128);
    report.check(
        "signalfd: a blocked read woken by another process's kill",
        got == 128
            && field_u32(&record, 0) == libc::SIGUSR1 as u32
            && i64::from(field_u32(&record, 12)) == child,
        format!("{got} bytes"),
    );
    wait_child(child);
    // Drain the child's SIGCHLD.
    signalfd4(chld, bit(libc::SIGCHLD), libc::SFD_NONBLOCK);
    read(chld, 128);

    // Through epoll: a blocked epoll_wait woken by a signal another process sends.
    let epfd = epoll_create1(0);
    add(epfd, fd, EPOLLIN, 55);
    check(
        report,
        "signalfd+epoll: nothing pending: 0",
        wait(epfd, 4, 0).0,
        0,
    );
    let child = later(50, move || {
        kill(me, libc::SIGUSR2);
    });
    let start = Instant::now();
    let (events, data) = wait_one(epfd, 5000);
    report.check(
        "signalfd+epoll: woken by another process's signal",
        events == EPOLLIN && data == 55 && start.elapsed() < Duration::from_millis(4000),
        format!("{events:#x} {data} after {:?}", start.elapsed()),
    );
    wait_child(child);
    read(fd, 128);
    check(report, "signalfd+epoll: taken: 0", wait(epfd, 4, 0).0, 0);
    kill(me, libc::SIGUSR2);
    check_u64(report, "signalfd+epoll: a signal the process sent itself", wait_one(epfd, 1000).1, 55);
    read(fd, 128);
    // Pending before it was added: reported at once.
    ctl(epfd, libc::EPOLL_CTL_DEL, fd, 0, 0);
    kill(me, libc::SIGUSR2);
    add(epfd, fd, EPOLLIN | EPOLLET, 56);
    check_u64(report, "signalfd+epoll: pending when added", wait_one(epfd, 0).1, 56);
    read(fd, 128);
    signalfd4(chld, bit(libc::SIGCHLD), libc::SFD_NONBLOCK);
    read(chld, 128);
    close(chld);
    close(epfd);
    close(fd);
    let mut restore = old_mask;
    sys(
        libc::SYS_rt_sigprocmask,
        &[
            libc::SIG_SETMASK as i64,
            &mut restore as *mut u64 as i64,
            0,
            8,
        ],
    );
}

// ---------------------------------------------------------------------------------------
// FIONBIO and FIONREAD on other files.

fn ioctls(report: &mut Report, dir: &str) {
    let (r, w) = pipe(0);
    let mut on: c_int = 1;
    check(
        report,
        "FIONBIO on a pipe",
        ioctl_int(r, libc::FIONBIO as u64, &mut on),
        0,
    );
    check(
        report,
        "FIONBIO: O_NONBLOCK set",
        fcntl(r, libc::F_GETFL, 0) & i64::from(libc::O_NONBLOCK),
        i64::from(libc::O_NONBLOCK),
    );
    check(
        report,
        "FIONBIO: an empty pipe read is EAGAIN",
        read(r, 4).0,
        err(libc::EAGAIN),
    );
    check(
        report,
        "FIONBIO: a bad pointer: EFAULT",
        sys(libc::SYS_ioctl, &[r, libc::FIONBIO as i64, 8]),
        err(libc::EFAULT),
    );
    close(r);
    close(w);
    let path = format!("{dir}/events-fionread");
    let fd = open(&path, libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC);
    write(fd, b"0123456789");
    sys(libc::SYS_lseek, &[fd, 3, 0]);
    let mut waiting: c_int = -1;
    check(
        report,
        "FIONREAD on a regular file: size less offset",
        ioctl_int(fd, libc::FIONREAD as u64, &mut waiting),
        0,
    );
    check(report, "FIONREAD: 7 bytes", i64::from(waiting), 7);
    close(fd);
    let c_path = CString::new(path).unwrap();
    // SAFETY: a live C string.
    unsafe { libc::unlink(c_path.as_ptr()) };
}

fn main() -> ExitCode {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp".to_string());
    let mut report = Report::default();
    epoll_basics(&mut report);
    ctl_errors(&mut report);
    nesting_limits(&mut report);
    triggering(&mut report);
    closing_and_order(&mut report);
    fifo_and_console(&mut report, &dir);
    nested(&mut report);
    wakeups_and_signals(&mut report);
    eventfd(&mut report);
    timerfd(&mut report);
    signalfd(&mut report);
    ioctls(&mut report, &dir);
    report.finish("events")
}
