//! `runtime-calls`: the event and shared-memory system calls event loops and runtimes are built
//! on, each answer Linux's. `epoll` (level- and edge-triggered, `EPOLLONESHOT` and its
//! re-arming, `EPERM` for a regular file, `EEXIST`/`ENOENT`/`EINVAL`/`EBADF`, hang-ups,
//! `EPOLLRDHUP`, timeouts, a closed descriptor leaving the set, nesting, a wake-up from
//! another process), `eventfd` (counter, `EFD_SEMAPHORE`, `EAGAIN`, `EINVAL`, overflow),
//! `timerfd` (relative, absolute on both clocks, interval, `timerfd_gettime`, disarming,
//! invalid values, with `epoll`), `signalfd` (`SI_USER`, `SI_QUEUE` with its value, a child's
//! `SIGCHLD` with its status, `EINVAL`, with `epoll`), `memfd_create` (name, size, a shared
//! mapping, seals), `MAP_SHARED|MAP_ANONYMOUS` across `fork` (data, atomics, a shared futex)
//! and `mremap` (grow moving, shrink in place, `ENOMEM` in place, `MREMAP_FIXED`, a memfd
//! mapping, invalid arguments).
//!
//! One line per check (`ok`/`FAIL`), then `runtime-calls: N passed, M failed`; exit status 0 only
//! if every check passed. Runs on the host too, where the expectations are checked.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use libc::{c_int, c_void};

#[path = "../report.rs"]
mod report;
#[path = "../sys.rs"]
mod sys;
use report::Report;
use sys::{close, describe, describe_wait, exited_with, raw, read, write};

const CHILD_DEADLINE: Duration = Duration::from_secs(60);
const PAGE: usize = 4096;

fn err(code: c_int) -> i64 {
    -i64::from(code)
}

fn fd_flags(fd: c_int) -> c_int {
    // SAFETY: no pointer arguments.
    unsafe { libc::fcntl(fd, libc::F_GETFD) }
}

fn pipe() -> (c_int, c_int) {
    let mut fds = [-1 as c_int; 2];
    // SAFETY: `fds` has room for two descriptors.
    unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    (fds[0], fds[1])
}

fn epoll_create() -> c_int {
    // SAFETY: no pointer arguments.
    unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }
}

fn epoll_ctl(epoll: c_int, op: c_int, fd: c_int, events: u32, cookie: u64) -> i64 {
    let mut event = libc::epoll_event {
        events,
        u64: cookie,
    };
    // SAFETY: `event` is live for the call.
    raw(i64::from(unsafe {
        libc::epoll_ctl(epoll, op, fd, &mut event)
    }))
}

/// `epoll_wait` for up to 8 events: the result and the (events, cookie) pairs.
fn epoll_wait(epoll: c_int, timeout_ms: c_int) -> (i64, Vec<(u32, u64)>) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];
    // SAFETY: `events` has room for 8 entries.
    let got = raw(i64::from(unsafe {
        libc::epoll_wait(epoll, events.as_mut_ptr(), 8, timeout_ms)
    }));
    let seen = events[..got.max(0) as usize]
        .iter()
        .map(|event| (event.events, event.u64))
        .collect();
    (got, seen)
}

fn epoll(report: &mut Report) {
    let epoll = epoll_create();
    report.check(
        "epoll_create1(EPOLL_CLOEXEC): closes on exec",
        epoll >= 0 && fd_flags(epoll) == libc::FD_CLOEXEC,
        format!("fd {epoll}, flags {}", fd_flags(epoll)),
    );
    // SAFETY: no pointer arguments.
    let zero = raw(i64::from(unsafe { libc::epoll_create(0) }));
    report.check(
        "epoll_create(0): EINVAL",
        zero == err(libc::EINVAL),
        describe(zero),
    );

    let file = std::fs::File::open("/proc/self/exe")
        .or_else(|_| std::fs::File::open(std::env::args().next().unwrap_or_default()));
    match file {
        Ok(file) => {
            let regular = epoll_ctl(
                epoll,
                libc::EPOLL_CTL_ADD,
                std::os::fd::AsRawFd::as_raw_fd(&file),
                libc::EPOLLIN as u32,
                0,
            );
            report.check(
                "EPOLL_CTL_ADD of a regular file: EPERM",
                regular == err(libc::EPERM),
                describe(regular),
            );
        }
        Err(error) => report.check(
            "EPOLL_CTL_ADD of a regular file: EPERM",
            false,
            format!("could not open a regular file: {error}"),
        ),
    }
    let (read_end, write_end) = pipe();
    let first = epoll_ctl(
        epoll,
        libc::EPOLL_CTL_ADD,
        read_end,
        libc::EPOLLIN as u32,
        41,
    );
    let again = epoll_ctl(
        epoll,
        libc::EPOLL_CTL_ADD,
        read_end,
        libc::EPOLLIN as u32,
        41,
    );
    let modify_missing = epoll_ctl(
        epoll,
        libc::EPOLL_CTL_MOD,
        write_end,
        libc::EPOLLOUT as u32,
        0,
    );
    let delete_missing = epoll_ctl(epoll, libc::EPOLL_CTL_DEL, write_end, 0, 0);
    let itself = epoll_ctl(epoll, libc::EPOLL_CTL_ADD, epoll, libc::EPOLLIN as u32, 0);
    let bad = epoll_ctl(epoll, libc::EPOLL_CTL_ADD, 9999, libc::EPOLLIN as u32, 0);
    report.check(
        "EPOLL_CTL_ADD twice: EEXIST; MOD and DEL of a descriptor not in the set: ENOENT; the epoll itself: EINVAL; a bad descriptor: EBADF",
        first == 0 && again == err(libc::EEXIST) && modify_missing == err(libc::ENOENT) && delete_missing == err(libc::ENOENT) && itself == err(libc::EINVAL) && bad == err(libc::EBADF),
        format!("{} {} {} {} {} {}", describe(first), describe(again), describe(modify_missing), describe(delete_missing), describe(itself), describe(bad)),
    );
    let (none, _) = epoll_wait(epoll, 0);
    write(write_end, b"x");
    let (one, seen) = epoll_wait(epoll, 0);
    let (still, seen_again) = epoll_wait(epoll, 0);
    report.check(
        "level-triggered: nothing, then EPOLLIN with the cookie, and again while the byte is unread",
        none == 0 && one == 1 && seen == [(libc::EPOLLIN as u32, 41)] && still == 1 && seen_again == seen,
        format!("{none}, {one} {seen:?}, {still} {seen_again:?}"),
    );
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 1];
    // SAFETY: `events` has room for one entry; maxevents 0 is refused before it is used.
    let no_room = raw(i64::from(unsafe {
        libc::epoll_wait(epoll, events.as_mut_ptr(), 0, 0)
    }));
    report.check(
        "epoll_wait with maxevents 0: EINVAL",
        no_room == err(libc::EINVAL),
        describe(no_room),
    );

    let modified = epoll_ctl(
        epoll,
        libc::EPOLL_CTL_MOD,
        read_end,
        (libc::EPOLLIN | libc::EPOLLET) as u32,
        42,
    );
    let (edge, edge_seen) = epoll_wait(epoll, 0);
    let (quiet, _) = epoll_wait(epoll, 0);
    write(write_end, b"y");
    let (edge_again, _) = epoll_wait(epoll, 0);
    report.check(
        "EPOLLET: one event for the data there, none while it stays unread, one more for new data",
        modified == 0
            && edge == 1
            && edge_seen == [(libc::EPOLLIN as u32, 42)]
            && quiet == 0
            && edge_again == 1,
        format!(
            "MOD {}, {edge} {edge_seen:?}, {quiet}, {edge_again}",
            describe(modified)
        ),
    );
    read(read_end, 16);

    let oneshot = epoll_ctl(
        epoll,
        libc::EPOLL_CTL_MOD,
        read_end,
        (libc::EPOLLIN | libc::EPOLLONESHOT) as u32,
        43,
    );
    write(write_end, b"z");
    let (once, _) = epoll_wait(epoll, 0);
    write(write_end, b"z");
    let (disarmed, _) = epoll_wait(epoll, 0);
    let rearmed = epoll_ctl(
        epoll,
        libc::EPOLL_CTL_MOD,
        read_end,
        (libc::EPOLLIN | libc::EPOLLONESHOT) as u32,
        44,
    );
    let (after, after_seen) = epoll_wait(epoll, 0);
    report.check(
        "EPOLLONESHOT: one event, then none despite more data, until EPOLL_CTL_MOD re-arms it",
        oneshot == 0
            && once == 1
            && disarmed == 0
            && rearmed == 0
            && after == 1
            && after_seen == [(libc::EPOLLIN as u32, 44)],
        format!(
            "{once}, {disarmed}, re-arm {}, {after} {after_seen:?}",
            describe(rearmed)
        ),
    );
    read(read_end, 16);
    epoll_ctl(
        epoll,
        libc::EPOLL_CTL_MOD,
        read_end,
        libc::EPOLLIN as u32,
        45,
    );
    epoll_ctl(
        epoll,
        libc::EPOLL_CTL_ADD,
        write_end,
        libc::EPOLLOUT as u32,
        46,
    );
    let (writable, writable_seen) = epoll_wait(epoll, 0);
    report.check(
        "an empty pipe's write end: EPOLLOUT alone",
        writable == 1 && writable_seen == [(libc::EPOLLOUT as u32, 46)],
        format!("{writable} {writable_seen:?}"),
    );
    epoll_ctl(epoll, libc::EPOLL_CTL_DEL, write_end, 0, 0);
    close(write_end);
    let (hung, hung_seen) = epoll_wait(epoll, 0);
    report.check(
        "the write end closed: EPOLLHUP on the read end",
        hung == 1 && hung_seen == [(libc::EPOLLHUP as u32, 45)],
        format!("{hung} {hung_seen:?}"),
    );
    close(read_end);
    let (gone, _) = epoll_wait(epoll, 0);
    report.check("a closed descriptor leaves the set", gone == 0, gone);

    let (read_end, write_end) = pipe();
    epoll_ctl(
        epoll,
        libc::EPOLL_CTL_ADD,
        write_end,
        libc::EPOLLOUT as u32,
        47,
    );
    close(read_end);
    let (error, error_seen) = epoll_wait(epoll, 0);
    report.check(
        "the read end closed: EPOLLOUT|EPOLLERR on the write end",
        error == 1 && error_seen == [((libc::EPOLLOUT | libc::EPOLLERR) as u32, 47)],
        format!("{error} {error_seen:?}"),
    );
    close(write_end);

    let mut pair = [0 as c_int; 2];
    // SAFETY: `pair` has room for two descriptors.
    unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, pair.as_mut_ptr()) };
    epoll_ctl(
        epoll,
        libc::EPOLL_CTL_ADD,
        pair[0],
        (libc::EPOLLIN | libc::EPOLLRDHUP) as u32,
        48,
    );
    // SAFETY: no pointer arguments.
    unsafe { libc::shutdown(pair[1], libc::SHUT_WR) };
    let (rdhup, rdhup_seen) = epoll_wait(epoll, 0);
    report.check(
        "the peer's SHUT_WR on a Unix socket: EPOLLIN|EPOLLRDHUP",
        rdhup == 1 && rdhup_seen == [((libc::EPOLLIN | libc::EPOLLRDHUP) as u32, 48)],
        format!("{rdhup} {rdhup_seen:?}"),
    );
    close(pair[0]);
    close(pair[1]);

    let started = Instant::now();
    let (timed_out, _) = epoll_wait(epoll, 50);
    let waited = started.elapsed();
    report.check(
        "epoll_wait(50 ms) with nothing ready: 0 after at least 50 ms",
        timed_out == 0 && waited >= Duration::from_millis(50),
        format!("{timed_out} after {waited:?}"),
    );

    // Nesting: an epoll whose set holds another epoll is readable when the inner one is.
    let inner = epoll_create();
    // SAFETY: no pointer arguments.
    let event = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    epoll_ctl(inner, libc::EPOLL_CTL_ADD, event, libc::EPOLLIN as u32, 1);
    let nested = epoll_ctl(epoll, libc::EPOLL_CTL_ADD, inner, libc::EPOLLIN as u32, 49);
    let (before, _) = epoll_wait(epoll, 0);
    write(event, &1u64.to_ne_bytes());
    let (after, after_seen) = epoll_wait(epoll, 0);
    report.check(
        "nested epoll: the outer one reports the inner one readable once its eventfd is",
        nested == 0 && before == 0 && after == 1 && after_seen == [(libc::EPOLLIN as u32, 49)],
        format!("ADD {}, {before}, {after} {after_seen:?}", describe(nested)),
    );
    close(event);
    close(inner);

    // A wake-up from another process: the child writes an eventfd 20 ms later.
    // SAFETY: no pointer arguments.
    let event = unsafe { libc::eventfd(0, 0) };
    epoll_ctl(epoll, libc::EPOLL_CTL_DEL, inner, 0, 0);
    epoll_ctl(epoll, libc::EPOLL_CTL_ADD, event, libc::EPOLLIN as u32, 50);
    let pid = sys::fork();
    if pid == 0 {
        std::thread::sleep(Duration::from_millis(20));
        write(event, &7u64.to_ne_bytes());
        sys::child_exit(0);
    }
    let (woken, woken_seen) = epoll_wait(epoll, 10_000);
    let (_, value) = read(event, 8);
    let waited = sys::wait_with_deadline(pid, CHILD_DEADLINE);
    report.check(
        "a blocked epoll_wait woken by another process's eventfd write",
        woken == 1
            && woken_seen == [(libc::EPOLLIN as u32, 50)]
            && value == 7u64.to_ne_bytes()
            && exited_with(&waited, 0),
        format!(
            "{woken} {woken_seen:?}, read {value:?}, child {}",
            describe_wait(&waited)
        ),
    );
    close(event);
    close(epoll);
}

fn read_u64(fd: c_int) -> Result<u64, i64> {
    let (got, bytes) = read(fd, 8);
    if got == 8 {
        Ok(u64::from_ne_bytes(bytes.try_into().unwrap_or_default()))
    } else {
        Err(got)
    }
}

fn poll_events(fd: c_int) -> i16 {
    let mut entry = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one live pollfd.
    unsafe { libc::poll(&mut entry, 1, 0) };
    entry.revents
}

fn eventfd(report: &mut Report) {
    // SAFETY: no pointer arguments.
    let fd = unsafe { libc::eventfd(3, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    let initial = read_u64(fd);
    let empty = read_u64(fd);
    report.check(
        "eventfd(3): read gives 3 and resets; then EAGAIN; EFD_CLOEXEC honoured",
        initial == Ok(3) && empty == Err(err(libc::EAGAIN)) && fd_flags(fd) == libc::FD_CLOEXEC,
        format!("{initial:?} {empty:?} flags {}", fd_flags(fd)),
    );
    let writable_only = poll_events(fd);
    write(fd, &2u64.to_ne_bytes());
    write(fd, &5u64.to_ne_bytes());
    let both = poll_events(fd);
    let sum = read_u64(fd);
    report.check(
        "writes add up (2 + 5 = 7); poll: POLLOUT when zero, POLLIN|POLLOUT when not",
        sum == Ok(7) && writable_only == libc::POLLOUT && both == libc::POLLIN | libc::POLLOUT,
        format!("{sum:?}, poll {writable_only:#x} then {both:#x}"),
    );
    let (short, _) = read(fd, 4);
    let short_write = write(fd, &[1, 0, 0, 0]);
    let max = write(fd, &u64::MAX.to_ne_bytes());
    report.check(
        "a read or write of less than 8 bytes: EINVAL; a write of 0xffffffffffffffff: EINVAL",
        short == err(libc::EINVAL) && short_write == err(libc::EINVAL) && max == err(libc::EINVAL),
        format!(
            "{} {} {}",
            describe(short),
            describe(short_write),
            describe(max)
        ),
    );
    write(fd, &1u64.to_ne_bytes());
    let overflow = write(fd, &(u64::MAX - 1).to_ne_bytes());
    let kept = read_u64(fd);
    report.check(
        "a write past 0xfffffffffffffffe (non-blocking): EAGAIN, the count kept",
        overflow == err(libc::EAGAIN) && kept == Ok(1),
        format!("{} then {kept:?}", describe(overflow)),
    );
    close(fd);

    // SAFETY: no pointer arguments.
    let fd = unsafe { libc::eventfd(3, libc::EFD_SEMAPHORE | libc::EFD_NONBLOCK) };
    let reads: Vec<Result<u64, i64>> = (0..4).map(|_| read_u64(fd)).collect();
    report.check(
        "EFD_SEMAPHORE: a count of 3 reads as 1, 1, 1, then EAGAIN",
        reads == [Ok(1), Ok(1), Ok(1), Err(err(libc::EAGAIN))],
        format!("{reads:?}"),
    );
    close(fd);
    // SAFETY: no pointer arguments.
    let bad = raw(i64::from(unsafe { libc::eventfd(0, 0x7fff_0000) }));
    report.check(
        "eventfd with unknown flags: EINVAL",
        bad == err(libc::EINVAL),
        describe(bad),
    );
}

fn timespec(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000) as _,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}

fn settime(fd: c_int, flags: c_int, value_ns: u64, interval_ns: u64) -> i64 {
    let spec = libc::itimerspec {
        it_interval: timespec(interval_ns),
        it_value: timespec(value_ns),
    };
    // SAFETY: `spec` is live; no old value asked for.
    raw(i64::from(unsafe {
        libc::timerfd_settime(fd, flags, &spec, std::ptr::null_mut())
    }))
}

fn now_ns(clock: libc::clockid_t) -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a live out-parameter.
    unsafe { libc::clock_gettime(clock, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

fn timerfd(report: &mut Report) {
    // SAFETY: no pointer arguments.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_CLOEXEC | libc::TFD_NONBLOCK,
        )
    };
    let unarmed = read_u64(fd);
    report.check(
        "an unarmed non-blocking timerfd: EAGAIN; TFD_CLOEXEC honoured",
        unarmed == Err(err(libc::EAGAIN)) && fd_flags(fd) == libc::FD_CLOEXEC,
        format!("{unarmed:?}"),
    );
    close(fd);

    // SAFETY: no pointer arguments.
    let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, 0) };
    let started = Instant::now();
    let set = settime(fd, 0, 30_000_000, 0);
    let fired = read_u64(fd);
    let waited = started.elapsed();
    report.check(
        "relative one-shot of 30 ms: a blocking read gives 1 after at least 30 ms",
        set == 0 && fired == Ok(1) && waited >= Duration::from_millis(30),
        format!("settime {}, read {fired:?} after {waited:?}", describe(set)),
    );

    let started = Instant::now();
    let deadline = now_ns(libc::CLOCK_MONOTONIC) + 30_000_000;
    let set = settime(fd, libc::TFD_TIMER_ABSTIME, deadline, 0);
    let fired = read_u64(fd);
    let late = now_ns(libc::CLOCK_MONOTONIC) >= deadline;
    report.check(
        "absolute (TFD_TIMER_ABSTIME) CLOCK_MONOTONIC deadline 30 ms ahead: 1, read at or after it",
        set == 0 && fired == Ok(1) && late,
        format!(
            "settime {}, read {fired:?} after {:?}, at or after the deadline: {late}",
            describe(set),
            started.elapsed()
        ),
    );
    let set = settime(fd, libc::TFD_TIMER_ABSTIME, 1, 0);
    let past = read_u64(fd);
    report.check(
        "an absolute deadline already past: fires at once (1)",
        set == 0 && past == Ok(1),
        format!("{} {past:?}", describe(set)),
    );

    let started = Instant::now();
    settime(fd, 0, 10_000_000, 10_000_000);
    std::thread::sleep(Duration::from_millis(55));
    let first = read_u64(fd);
    let first_at = started.elapsed();
    let second = read_u64(fd);
    let second_at = started.elapsed();
    let bound = |at: Duration| at.as_millis() as u64 / 10;
    let fair = |count: Result<u64, i64>, at: Duration, least: u64| matches!(count, Ok(n) if n >= least && n <= bound(at));
    report.check(
        "interval of 10 ms: after 55 ms at least 5 expirations, then at least 1 more, never more than time allows",
        fair(first, first_at, 5) && fair(second, second_at, 1) && first.unwrap_or(0) + second.unwrap_or(0) <= bound(second_at),
        format!("{first:?} at {first_at:?}, {second:?} at {second_at:?}"),
    );
    let mut current = libc::itimerspec {
        it_interval: timespec(0),
        it_value: timespec(0),
    };
    settime(fd, 0, 5_000_000_000, 250_000_000);
    // SAFETY: `current` is a live out-parameter.
    let got = raw(i64::from(unsafe {
        libc::timerfd_gettime(fd, &mut current)
    }));
    let remaining =
        current.it_value.tv_sec as u64 * 1_000_000_000 + current.it_value.tv_nsec as u64;
    report.check(
        "timerfd_gettime: the interval as set, the time left at most the 5 s set",
        got == 0
            && current.it_interval.tv_sec == 0
            && current.it_interval.tv_nsec == 250_000_000
            && remaining > 0
            && remaining <= 5_000_000_000,
        format!(
            "{}, interval {}.{:09}, left {remaining} ns",
            describe(got),
            current.it_interval.tv_sec,
            current.it_interval.tv_nsec
        ),
    );
    settime(fd, 0, 0, 0);
    // SAFETY: `current` is a live out-parameter.
    unsafe { libc::timerfd_gettime(fd, &mut current) };
    // SAFETY: no pointer arguments.
    unsafe { libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK) };
    let disarmed = read_u64(fd);
    report.check(
        "a zero value disarms: gettime all zero, read EAGAIN",
        current.it_value.tv_sec == 0
            && current.it_value.tv_nsec == 0
            && disarmed == Err(err(libc::EAGAIN)),
        format!(
            "value {}.{:09}, read {disarmed:?}",
            current.it_value.tv_sec, current.it_value.tv_nsec
        ),
    );
    let spec = libc::itimerspec {
        it_interval: timespec(0),
        it_value: libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000_000,
        },
    };
    // SAFETY: `spec` is live.
    let bad_ns = raw(i64::from(unsafe {
        libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut())
    }));
    let bad_flags = settime(fd, 0x40, 1_000_000, 0);
    // SAFETY: no pointer arguments.
    let bad_clock = raw(i64::from(unsafe { libc::timerfd_create(12345, 0) }));
    report.check(
        "tv_nsec of 1e9, unknown settime flags, an unknown clock: EINVAL",
        bad_ns == err(libc::EINVAL)
            && bad_flags == err(libc::EINVAL)
            && bad_clock == err(libc::EINVAL),
        format!(
            "{} {} {}",
            describe(bad_ns),
            describe(bad_flags),
            describe(bad_clock)
        ),
    );
    close(fd);

    // SAFETY: no pointer arguments.
    let fd = unsafe { libc::timerfd_create(libc::CLOCK_REALTIME, libc::TFD_NONBLOCK) };
    let epoll = epoll_create();
    epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32, 7);
    let deadline = now_ns(libc::CLOCK_REALTIME) + 20_000_000;
    let set = settime(fd, libc::TFD_TIMER_ABSTIME, deadline, 0);
    let (woken, seen) = epoll_wait(epoll, 10_000);
    let count = read_u64(fd);
    report.check(
        "CLOCK_REALTIME absolute deadline 20 ms ahead, waited for with epoll: EPOLLIN, then 1",
        set == 0 && woken == 1 && seen == [(libc::EPOLLIN as u32, 7)] && count == Ok(1),
        format!(
            "settime {}, epoll {woken} {seen:?}, read {count:?}",
            describe(set)
        ),
    );
    close(epoll);
    close(fd);
}

/// Reads one `signalfd_siginfo`; `Err(-errno)` on failure.
fn read_siginfo(fd: c_int) -> Result<libc::signalfd_siginfo, i64> {
    // SAFETY: all-zero is a valid signalfd_siginfo.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: `info` is live and `size` bytes long.
    let got = raw(unsafe { libc::read(fd, (&raw mut info).cast(), size) } as i64);
    if got == size as i64 {
        Ok(info)
    } else {
        Err(got)
    }
}

fn signal_set(signals: &[c_int]) -> libc::sigset_t {
    // SAFETY: the set is initialised before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signo in signals {
            libc::sigaddset(&mut set, signo);
        }
        set
    }
}

fn signalfd(report: &mut Report) {
    sys::mask(libc::SIG_BLOCK, &[libc::SIGUSR1, libc::SIGCHLD]);
    let set = signal_set(&[libc::SIGUSR1]);
    // SAFETY: `set` is live.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
    let empty = read_siginfo(fd).map(|_| ());
    report.check(
        "signalfd with nothing pending: EAGAIN; SFD_CLOEXEC honoured",
        empty == Err(err(libc::EAGAIN)) && fd_flags(fd) == libc::FD_CLOEXEC,
        format!("{empty:?}"),
    );
    let epoll = epoll_create();
    epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32, 9);
    let (quiet, _) = epoll_wait(epoll, 0);
    // SAFETY: plain system calls.
    let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    // SAFETY: plain system call.
    unsafe { libc::kill(pid, libc::SIGUSR1) };
    let (ready, _) = epoll_wait(epoll, 1000);
    let info = read_siginfo(fd);
    report.check(
        "kill(self, SIGUSR1) blocked: epoll sees the signalfd readable; it reads SIGUSR1, SI_USER, our pid and uid",
        quiet == 0 && ready == 1 && matches!(info, Ok(info) if info.ssi_signo == libc::SIGUSR1 as u32 && info.ssi_code == libc::SI_USER && info.ssi_pid == pid as u32 && info.ssi_uid == uid),
        format!("epoll {quiet} then {ready}, {:?}", info.map(|info| (info.ssi_signo, info.ssi_code, info.ssi_pid, info.ssi_uid))),
    );
    // SAFETY: `pending` is a live out-parameter.
    let still_pending = unsafe {
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        libc::sigismember(&pending, libc::SIGUSR1)
    };
    report.check(
        "the signal read from the signalfd is no longer pending",
        still_pending == 0,
        still_pending,
    );

    // SAFETY: plain system call with a sigval.
    let queued = raw(i64::from(unsafe {
        libc::sigqueue(
            pid,
            libc::SIGUSR1,
            libc::sigval {
                sival_ptr: 4242 as *mut c_void,
            },
        )
    }));
    let info = read_siginfo(fd);
    report.check(
        "sigqueue(SIGUSR1, 4242): SI_QUEUE and the value",
        queued == 0 && matches!(info, Ok(info) if info.ssi_code == libc::SI_QUEUE && info.ssi_int == 4242 && info.ssi_ptr == 4242),
        format!("sigqueue {}, {:?}", describe(queued), info.map(|info| (info.ssi_code, info.ssi_int, info.ssi_ptr))),
    );
    let mut small = [0u8; 64];
    // SAFETY: `small` is live and 64 bytes long.
    let short = raw(unsafe { libc::read(fd, small.as_mut_ptr().cast(), small.len()) } as i64);
    report.check(
        "a read of less than one signalfd_siginfo: EINVAL",
        short == err(libc::EINVAL),
        describe(short),
    );

    // The same descriptor, now for SIGCHLD as well: a child's exit status arrives.
    let both = signal_set(&[libc::SIGUSR1, libc::SIGCHLD]);
    // SAFETY: `both` is live.
    let same = unsafe { libc::signalfd(fd, &both, 0) };
    let child = sys::fork();
    if child == 0 {
        sys::child_exit(5);
    }
    let (ready, _) = epoll_wait(epoll, 10_000);
    let info = read_siginfo(fd);
    let waited = sys::wait_with_deadline(child, CHILD_DEADLINE);
    report.check(
        "signalfd's mask changed to add SIGCHLD: a child's exit reads as SIGCHLD, CLD_EXITED, its pid and status 5",
        same == fd && ready == 1 && matches!(info, Ok(info) if info.ssi_signo == libc::SIGCHLD as u32 && info.ssi_code == libc::CLD_EXITED && info.ssi_pid == child as u32 && info.ssi_status == 5) && exited_with(&waited, 5),
        format!("signalfd {same}, epoll {ready}, {:?}, child {}", info.map(|info| (info.ssi_signo, info.ssi_code, info.ssi_pid, info.ssi_status)), describe_wait(&waited)),
    );
    close(epoll);
    close(fd);
    // SAFETY: `set` is live; flags that do not exist.
    let bad = raw(i64::from(unsafe { libc::signalfd(-1, &set, 0x7) }));
    report.check(
        "signalfd with unknown flags: EINVAL",
        bad == err(libc::EINVAL),
        describe(bad),
    );
    // Whatever no signalfd read (a kernel without it) is discarded, not delivered: SIG_IGN
    // drops pending signals, then the defaults come back.
    sys::disposition(libc::SIGUSR1, libc::SIG_IGN);
    sys::disposition(libc::SIGCHLD, libc::SIG_IGN);
    sys::mask(libc::SIG_UNBLOCK, &[libc::SIGUSR1, libc::SIGCHLD]);
    sys::disposition(libc::SIGUSR1, libc::SIG_DFL);
    sys::disposition(libc::SIGCHLD, libc::SIG_DFL);
}

fn memfd_create(name: &std::ffi::CStr, flags: u32) -> i64 {
    // SAFETY: a NUL-terminated name.
    raw(unsafe { libc::syscall(libc::SYS_memfd_create, name.as_ptr(), flags) })
}

fn fcntl(fd: c_int, command: c_int, argument: c_int) -> i64 {
    // SAFETY: no pointer arguments.
    raw(i64::from(unsafe { libc::fcntl(fd, command, argument) }))
}

fn ftruncate(fd: c_int, len: i64) -> i64 {
    // SAFETY: no pointer arguments.
    raw(i64::from(unsafe { libc::ftruncate(fd, len) }))
}

fn mmap(addr: usize, len: usize, prot: c_int, flags: c_int, fd: c_int) -> Result<*mut u8, i64> {
    // SAFETY: the callers map fresh ranges or ranges they own.
    let got = unsafe { libc::mmap(addr as *mut c_void, len, prot, flags, fd, 0) };
    if got == libc::MAP_FAILED {
        Err(-i64::from(sys::errno()))
    } else {
        Ok(got.cast())
    }
}

fn munmap(addr: *mut u8, len: usize) {
    // SAFETY: unmapping a range this program mapped and no longer uses.
    unsafe { libc::munmap(addr.cast(), len) };
}

fn file_size(fd: c_int) -> i64 {
    // SAFETY: all-zero is a valid stat to fill.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `stat` is a live out-parameter.
    if unsafe { libc::fstat(fd, &mut stat) } == 0 {
        stat.st_size
    } else {
        -1
    }
}

fn memfd(report: &mut Report) {
    let fd = memfd_create(c"events-memfd", libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING);
    if fd < 0 {
        report.check("memfd_create", false, describe(fd));
        return;
    }
    let fd = fd as c_int;
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|path| path.to_string_lossy().into_owned());
    report.check(
        "memfd_create(MFD_CLOEXEC): closes on exec, named /memfd:NAME (deleted)",
        fd_flags(fd) == libc::FD_CLOEXEC
            && matches!(link.as_deref(), Ok("/memfd:events-memfd (deleted)")),
        format!("flags {}, link {link:?}", fd_flags(fd)),
    );
    let data: Vec<u8> = (0..10_000u32).map(|at| (at % 253) as u8).collect();
    let wrote = write(fd, &data);
    let size = file_size(fd);
    // SAFETY: no pointer arguments.
    unsafe { libc::lseek(fd, 0, libc::SEEK_SET) };
    let (got, back) = read(fd, 20_000);
    report.check(
        "10000 bytes written, fstat size 10000, read back equal",
        wrote == 10_000 && size == 10_000 && got == 10_000 && back == data,
        format!("{wrote} {size} {got}"),
    );

    let grown = ftruncate(fd, 1 << 20);
    match mmap(
        0,
        1 << 20,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED,
        fd,
    ) {
        Ok(map) => {
            // SAFETY: the mapping is 1 MiB long.
            let view = unsafe { std::slice::from_raw_parts_mut(map, 1 << 20) };
            let mapped_data = view[..10_000] == data[..];
            view[(1 << 20) - 1] = 0xa5;
            let mut last = [0u8; 1];
            // SAFETY: `last` is one byte.
            let got = unsafe { libc::pread(fd, last.as_mut_ptr().cast(), 1, (1 << 20) - 1) };
            let busy = fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_WRITE);
            report.check(
                "ftruncate to 1 MiB, MAP_SHARED: the mapping shows the file, a store shows in pread; F_SEAL_WRITE while mapped writable: EBUSY",
                grown == 0 && mapped_data && got == 1 && last == [0xa5] && busy == err(libc::EBUSY),
                format!("ftruncate {}, mapped data equal {mapped_data}, pread {got} {last:?}, seal {}", describe(grown), describe(busy)),
            );
            munmap(map, 1 << 20);
        }
        Err(error) => report.check("a MAP_SHARED mapping of the memfd", false, describe(error)),
    }
    let sealed = fcntl(
        fd,
        libc::F_ADD_SEALS,
        libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK,
    );
    let seals = fcntl(fd, libc::F_GET_SEALS, 0);
    let blocked_write = write(fd, b"x");
    let shrink = ftruncate(fd, 4096);
    let grow = ftruncate(fd, 2 << 20);
    let writable_map = mmap(
        0,
        4096,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED,
        fd,
    )
    .map(|map| munmap(map, 4096));
    report.check(
        "F_SEAL_WRITE|F_SEAL_SHRINK: F_GET_SEALS says so; write EPERM, shrink EPERM, grow allowed, a writable shared mapping EPERM",
        sealed == 0 && seals == i64::from(libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK) && blocked_write == err(libc::EPERM) && shrink == err(libc::EPERM) && grow == 0 && writable_map == Err(err(libc::EPERM)),
        format!("add {}, seals {seals:#x}, write {}, shrink {}, grow {}, map {writable_map:?}", describe(sealed), describe(blocked_write), describe(shrink), describe(grow)),
    );
    fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_SEAL);
    let after_seal = fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_GROW);
    report.check(
        "after F_SEAL_SEAL, adding a seal: EPERM",
        after_seal == err(libc::EPERM),
        describe(after_seal),
    );
    close(fd);

    let plain = memfd_create(c"no-sealing", 0) as c_int;
    let seals = fcntl(plain, libc::F_GET_SEALS, 0);
    let refused = fcntl(plain, libc::F_ADD_SEALS, libc::F_SEAL_WRITE);
    report.check(
        "without MFD_ALLOW_SEALING: F_GET_SEALS gives F_SEAL_SEAL, adding one EPERM",
        seals == i64::from(libc::F_SEAL_SEAL) && refused == err(libc::EPERM),
        format!("{seals:#x} {}", describe(refused)),
    );

    // A memfd mapped shared before fork: the child's stores reach the parent's mapping.
    ftruncate(plain, PAGE as i64);
    if let Ok(map) = mmap(
        0,
        PAGE,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED,
        plain,
    ) {
        let pid = sys::fork();
        if pid == 0 {
            // SAFETY: the page is mapped for the child too.
            unsafe { map.add(100).write_volatile(77) };
            sys::child_exit(0);
        }
        let waited = sys::wait_with_deadline(pid, CHILD_DEADLINE);
        // SAFETY: the page is mapped.
        let seen = unsafe { map.add(100).read_volatile() };
        let mut through_fd = [0u8; 1];
        // SAFETY: one byte.
        unsafe { libc::pread(plain, through_fd.as_mut_ptr().cast(), 1, 100) };
        report.check("a memfd mapping shared across fork: the child's store seen in the mapping and through the file", exited_with(&waited, 0) && seen == 77 && through_fd == [77], format!("{seen} {through_fd:?}, child {}", describe_wait(&waited)));
        munmap(map, PAGE);
    } else {
        report.check(
            "a memfd mapping shared across fork: mmap",
            false,
            "could not be set up: the call it needs failed",
        );
    }
    close(plain);
    let long = std::ffi::CString::new(vec![b'n'; 250]).unwrap_or_default();
    let too_long = memfd_create(&long, 0);
    let bad_flags = memfd_create(c"flags", 0x100);
    report.check(
        "memfd_create with a 250-byte name or unknown flags: EINVAL",
        too_long == err(libc::EINVAL) && bad_flags == err(libc::EINVAL),
        format!("{} {}", describe(too_long), describe(bad_flags)),
    );
}

fn shared_anonymous(report: &mut Report) {
    const LEN: usize = 1 << 20;
    let Ok(map) = mmap(
        0,
        LEN,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED | libc::MAP_ANONYMOUS,
        -1,
    ) else {
        report.check("mmap(MAP_SHARED|MAP_ANONYMOUS)", false, "failed");
        return;
    };
    let Ok(private) = mmap(
        0,
        PAGE,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        -1,
    ) else {
        report.check("mmap(MAP_PRIVATE|MAP_ANONYMOUS)", false, "failed");
        return;
    };
    // SAFETY: the mapping is LEN bytes, page aligned; its first words are used as atomics
    // by both processes (shared memory), the rest as bytes.
    let counter = unsafe { &*map.cast::<AtomicU64>() };
    // SAFETY: as above.
    let futex_word = unsafe { &*map.add(64).cast::<AtomicU32>() };
    const EACH: u64 = 100_000;
    let pid = sys::fork();
    if pid == 0 {
        for page in 1..LEN / PAGE {
            // SAFETY: inside the mapping.
            unsafe { map.add(page * PAGE).write_volatile(page as u8) };
        }
        // SAFETY: inside the private page.
        unsafe { private.write_volatile(99) };
        for _ in 0..EACH {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        // A shared futex (no FUTEX_PRIVATE_FLAG): sleep until the parent's wake; the word
        // stays 0, so only a wake (never EAGAIN) ends the wait. Exit 0 when woken, else
        // 10 + errno.
        let result = loop {
            // SAFETY: the word is live shared memory.
            let result = sys::raw(unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    futex_word.as_ptr(),
                    libc::FUTEX_WAIT,
                    0,
                    std::ptr::null::<libc::timespec>(),
                )
            });
            if result != err(libc::EINTR) {
                break result;
            }
        };
        sys::child_exit(if result == 0 {
            0
        } else {
            10 + (-result).min(200) as i32
        });
    }
    for _ in 0..EACH {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    // Wake the child through the shared futex, again until a wake finds it asleep (it may
    // not have reached its wait yet).
    let started = Instant::now();
    let mut woke = 0;
    while woke == 0 && started.elapsed() < CHILD_DEADLINE {
        // SAFETY: the word is live shared memory.
        woke = sys::raw(unsafe {
            libc::syscall(libc::SYS_futex, futex_word.as_ptr(), libc::FUTEX_WAKE, 1)
        });
        if woke == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let waited = sys::wait_with_deadline(pid, CHILD_DEADLINE);
    // SAFETY: inside the mapping.
    let pages_ok =
        (1..LEN / PAGE).all(|page| unsafe { map.add(page * PAGE).read_volatile() } == page as u8);
    // SAFETY: inside the private page.
    let private_kept = unsafe { private.read_volatile() } == 0;
    let total = counter.load(Ordering::SeqCst);
    report.check(
        "MAP_SHARED|MAP_ANONYMOUS across fork: the child's stores to 255 pages seen by the parent",
        pages_ok,
        format!("pages equal {pages_ok}, child {}", describe_wait(&waited)),
    );
    report.check(
        "atomic increments from both processes on shared memory: exactly 200000",
        total == 2 * EACH,
        total,
    );
    report.check(
        "a shared futex (no private flag) across processes: the parent's FUTEX_WAKE wakes the child's FUTEX_WAIT (1 woken, the wait returns 0)",
        exited_with(&waited, 0) && woke == 1,
        format!("woke {woke}, child {}", describe_wait(&waited)),
    );
    report.check(
        "MAP_PRIVATE|MAP_ANONYMOUS across fork: the child's store stays in the child",
        private_kept,
        "the parent saw it",
    );
    munmap(map, LEN);
    munmap(private, PAGE);
}

/// `mremap` as the raw call: the new address or `-errno`.
fn mremap(
    old: *mut u8,
    old_len: usize,
    new_len: usize,
    flags: c_int,
    new_addr: usize,
) -> Result<*mut u8, i64> {
    // SAFETY: the callers pass ranges they own; the kernel checks the rest.
    let got = unsafe { libc::syscall(libc::SYS_mremap, old, old_len, new_len, flags, new_addr) };
    if got < 0 {
        Err(-i64::from(sys::errno()))
    } else {
        Ok(got as *mut u8)
    }
}

/// Whether `[addr, addr + len)` is mapped: `mprotect` answers ENOMEM for a hole.
fn mapped(addr: *mut u8, len: usize) -> bool {
    // SAFETY: PROT_READ|PROT_WRITE on pages this program owns keeps them as they were.
    unsafe { libc::mprotect(addr.cast(), len, libc::PROT_READ | libc::PROT_WRITE) == 0 }
}

fn fill_pages(map: *mut u8, pages: usize) {
    for page in 0..pages {
        // SAFETY: the callers' mappings are at least `pages` long.
        unsafe { map.add(page * PAGE).write_volatile(0x10 + page as u8) };
    }
}

fn pages_hold(map: *mut u8, pages: usize) -> bool {
    // SAFETY: as in `fill_pages`.
    (0..pages).all(|page| unsafe { map.add(page * PAGE).read_volatile() } == 0x10 + page as u8)
}

fn mremap_checks(report: &mut Report) {
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let private = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    let Ok(map) = mmap(0, 4 * PAGE, rw, private, -1) else {
        report.check("mmap for mremap", false, "failed");
        return;
    };
    fill_pages(map, 4);
    match mremap(map, 4 * PAGE, 64 * PAGE, libc::MREMAP_MAYMOVE, 0) {
        Ok(grown) => {
            // SAFETY: the new mapping is 64 pages.
            let new_zero =
                (4..64).all(|page| unsafe { grown.add(page * PAGE).read_volatile() } == 0);
            let old_gone = grown == map || !mapped(map, PAGE);
            report.check(
                "mremap MAYMOVE 4 -> 64 pages: the 4 pages' contents kept, the new ones zero",
                pages_hold(grown, 4) && new_zero && old_gone,
                format!(
                    "kept {}, new zero {new_zero}, old range gone {old_gone}",
                    pages_hold(grown, 4)
                ),
            );
            let shrunk = mremap(grown, 64 * PAGE, 2 * PAGE, 0, 0);
            let tail_gone = !mapped(grown.wrapping_add(2 * PAGE), PAGE);
            report.check(
                "mremap 64 -> 2 pages: in place, the first 2 pages kept, the rest unmapped",
                shrunk == Ok(grown) && pages_hold(grown, 2) && tail_gone,
                format!("{shrunk:?} (was {grown:?}), tail unmapped {tail_gone}"),
            );
            let in_place = mremap(grown, PAGE, 2 * PAGE, 0, 0);
            report.check(
                "growing the first page in place over the second (same mapping): ENOMEM",
                in_place == Err(err(libc::ENOMEM)),
                format!("{in_place:?}"),
            );
            if let Ok(target) = mmap(0, 2 * PAGE, libc::PROT_READ, private, -1) {
                let moved = mremap(
                    grown,
                    2 * PAGE,
                    2 * PAGE,
                    libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                    target as usize,
                );
                report.check(
                    "MREMAP_FIXED onto a mapping of ours: moved there with its contents, the old range unmapped",
                    moved == Ok(target) && pages_hold(target, 2) && !mapped(grown, PAGE),
                    format!("{moved:?} (target {target:?})"),
                );
                munmap(target, 2 * PAGE);
            } else {
                report.check(
                    "MREMAP_FIXED: mmap of the target",
                    false,
                    "could not be set up: the call it needs failed",
                );
            }
        }
        Err(error) => report.check("mremap MAYMOVE 4 -> 64 pages", false, describe(error)),
    }
    let misaligned = mremap(map.wrapping_add(1), PAGE, 2 * PAGE, libc::MREMAP_MAYMOVE, 0);
    let zero = mremap(map, PAGE, 0, libc::MREMAP_MAYMOVE, 0);
    let fixed_alone = mremap(map, PAGE, PAGE, libc::MREMAP_FIXED, 0x7000_0000);
    let unknown = mremap(map, PAGE, PAGE, 0x100, 0);
    report.check(
        "mremap of a misaligned address, to size 0, MREMAP_FIXED without MAYMOVE, unknown flags: EINVAL",
        [misaligned, zero, fixed_alone, unknown].iter().all(|result| *result == Err(err(libc::EINVAL))),
        format!("{misaligned:?} {zero:?} {fixed_alone:?} {unknown:?}"),
    );
    let Ok(hole) = mmap(0, 3 * PAGE, rw, private, -1) else {
        return;
    };
    munmap(hole, 3 * PAGE);
    let unmapped = mremap(hole, PAGE, 2 * PAGE, libc::MREMAP_MAYMOVE, 0);
    report.check(
        "mremap of an unmapped range: EFAULT",
        unmapped == Err(err(libc::EFAULT)),
        format!("{unmapped:?}"),
    );

    // A shared memfd mapping grown with mremap: still the file, both ways.
    let fd = memfd_create(c"mremap", 0) as c_int;
    ftruncate(fd, 16 * PAGE as i64);
    if let Ok(map) = mmap(0, 4 * PAGE, rw, libc::MAP_SHARED, fd) {
        fill_pages(map, 4);
        match mremap(map, 4 * PAGE, 16 * PAGE, libc::MREMAP_MAYMOVE, 0) {
            Ok(grown) => {
                // SAFETY: the new mapping is 16 pages.
                unsafe { grown.add(12 * PAGE).write_volatile(0xee) };
                let mut byte = [0u8; 1];
                // SAFETY: one byte.
                unsafe { libc::pread(fd, byte.as_mut_ptr().cast(), 1, (12 * PAGE) as i64) };
                report.check("a shared memfd mapping grown 4 -> 16 pages: contents kept, a store in the new part reaches the file", pages_hold(grown, 4) && byte == [0xee], format!("kept {}, file byte {byte:?}", pages_hold(grown, 4)));
                munmap(grown, 16 * PAGE);
            }
            Err(error) => report.check("mremap of a shared memfd mapping", false, describe(error)),
        }
    } else {
        report.check(
            "a shared memfd mapping grown with mremap: mmap",
            false,
            "could not be set up: the call it needs failed",
        );
    }
    close(fd);
}

fn main() -> ExitCode {
    let mut report = Report::default();
    epoll(&mut report);
    eventfd(&mut report);
    timerfd(&mut report);
    signalfd(&mut report);
    memfd(&mut report);
    shared_anonymous(&mut report);
    mremap_checks(&mut report);
    report.finish("runtime-calls")
}
