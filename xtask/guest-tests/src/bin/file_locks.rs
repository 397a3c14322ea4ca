//! file-locks: `fcntl` record locks (POSIX and open-file-description) and `flock`
//! between processes, each answer compared with Linux's: conflicts and `F_GETLK` with
//! the holder's pid, blocking and non-blocking requests, splitting and merging seen by
//! another process, POSIX's close-any-descriptor rule, release at exit, no inheritance
//! across `fork` but survival across `execve`, OFD locks shared by a `fork` child and
//! released at the last close, `flock` sharing, exclusion and conversion, `EDEADLK`
//! between two processes, `EINTR` and `SA_RESTART` for a blocked request, the argument
//! errors, locks meeting across hard links and bind mounts, and `/proc/locks`.
//!
//! `file-locks DIR…` runs everything in each directory (the boot test: a tmpfs, the
//! overlay root and a 9p bind mount). One line per check (`ok`/`FAIL`/`SKIP`), then
//! `file-locks: N passed, M failed`; exit status 0 only if everything matched. Runs on
//! the host too, where the expectations are checked against Linux.

#[path = "../report.rs"]
mod report;
#[path = "../sys.rs"]
mod sys;

use std::ffi::CString;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use libc::c_int;

use report::Report;
use sys::{describe, raw};

const F_OFD_GETLK: c_int = 36;
const F_OFD_SETLK: c_int = 37;
const F_OFD_SETLKW: c_int = 38;
const RD: i16 = libc::F_RDLCK as i16;
const WR: i16 = libc::F_WRLCK as i16;
const UN: i16 = libc::F_UNLCK as i16;
const EAGAIN: i64 = -(libc::EAGAIN as i64);
const EBADF: i64 = -(libc::EBADF as i64);
const EINVAL: i64 = -(libc::EINVAL as i64);
const EINTR: i64 = -(libc::EINTR as i64);
const EDEADLK: i64 = -(libc::EDEADLK as i64);
const EOVERFLOW: i64 = -(libc::EOVERFLOW as i64);
/// How long a child may take before the check fails (a lost wake-up must not hang).
const DEADLINE: Duration = Duration::from_secs(20);
/// How long to wait to be sure another process is asleep in the kernel.
const SETTLE: Duration = Duration::from_millis(300);
/// How a child says its check could not run here.
const SKIPPED: &str = "skipped: ";

type Check = Result<(), String>;

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Check {
    if ok { Ok(()) } else { Err(what()) }
}

fn expect(got: i64, want: i64, what: &str) -> Check {
    ensure(got == want, || {
        format!("{what}: got {}, want {}", describe(got), describe(want))
    })
}

fn cstr(path: &str) -> CString {
    CString::new(path).expect("paths have no NUL")
}

fn open(path: &str, flags: c_int) -> Result<c_int, String> {
    // SAFETY: a valid C string.
    let fd = raw(i64::from(unsafe {
        libc::open(cstr(path).as_ptr(), flags, 0o644)
    }));
    if fd < 0 {
        Err(format!("open {path}: {}", describe(fd)))
    } else {
        Ok(fd as c_int)
    }
}

/// A fresh 100-byte file at `path`, open read-write.
fn fresh(path: &str) -> Result<c_int, String> {
    unlink(path);
    let fd = open(path, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL)?;
    sys::write_all(fd, &[b'x'; 100]).map_err(|e| format!("write {path}: {}", describe(e)))?;
    Ok(fd)
}

fn unlink(path: &str) {
    // SAFETY: a valid C string.
    unsafe { libc::unlink(cstr(path).as_ptr()) };
}

fn flock_struct(l_type: i16, whence: i16, start: i64, len: i64, pid: i32) -> libc::flock {
    // SAFETY: a zeroed flock is a valid value.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = l_type;
    lock.l_whence = whence;
    lock.l_start = start;
    lock.l_len = len;
    lock.l_pid = pid;
    lock
}

/// `fcntl(fd, command, &flock)` with the given fields: the raw result.
fn fcntl_lock(
    fd: c_int,
    command: c_int,
    l_type: i16,
    whence: i16,
    start: i64,
    len: i64,
    pid: i32,
) -> i64 {
    let mut lock = flock_struct(l_type, whence, start, len, pid);
    // SAFETY: `lock` is live for the call.
    raw(i64::from(unsafe { libc::fcntl(fd, command, &mut lock) }))
}

/// A POSIX lock (or unlock) of `start`/`len` from the start of the file.
fn setlk(fd: c_int, command: c_int, l_type: i16, start: i64, len: i64) -> i64 {
    fcntl_lock(fd, command, l_type, libc::SEEK_SET as i16, start, len, 0)
}

/// `F_GETLK`-style query: what stands in the way, or `-errno`.
fn getlk(fd: c_int, command: c_int, l_type: i16, start: i64, len: i64) -> Result<libc::flock, i64> {
    let mut lock = flock_struct(l_type, libc::SEEK_SET as i16, start, len, 0);
    // SAFETY: `lock` is live for the call.
    let result = raw(i64::from(unsafe { libc::fcntl(fd, command, &mut lock) }));
    if result < 0 { Err(result) } else { Ok(lock) }
}

/// Checks an `F_GETLK` answer: `(type, start, len, pid)`.
fn expect_getlk(got: Result<libc::flock, i64>, want: (i16, i64, i64, i32), what: &str) -> Check {
    match got {
        Ok(lock) => {
            let seen = if lock.l_type == UN {
                (UN, want.1, want.2, want.3)
            } else {
                (lock.l_type, lock.l_start, lock.l_len, lock.l_pid)
            };
            ensure(
                seen == want && (lock.l_type == UN || lock.l_whence == 0),
                || {
                    format!(
                        "{what}: got type {} start {} len {} pid {} whence {}, want {want:?}",
                        lock.l_type, lock.l_start, lock.l_len, lock.l_pid, lock.l_whence
                    )
                },
            )
        }
        Err(errno) => Err(format!("{what}: {}", describe(errno))),
    }
}

fn flock(fd: c_int, operation: c_int) -> i64 {
    // SAFETY: no pointer arguments.
    raw(i64::from(unsafe { libc::flock(fd, operation) }))
}

fn close(fd: c_int) {
    sys::close(fd);
}

fn sleep(duration: Duration) {
    std::thread::sleep(duration);
}

/// A pipe for one process to tell another something happened.
struct Signal {
    read: c_int,
    write: c_int,
}

impl Signal {
    fn new() -> Signal {
        let mut fds = [0 as c_int; 2];
        // SAFETY: `fds` has room for the two descriptors.
        unsafe { libc::pipe(fds.as_mut_ptr()) };
        Signal {
            read: fds[0],
            write: fds[1],
        }
    }

    fn send(&self, byte: u8) {
        let _ = sys::write(self.write, &[byte]);
    }

    /// The next byte sent, or `None` if nothing came within `limit`.
    fn receive(&self, limit: Duration) -> Option<u8> {
        let mut entry = libc::pollfd {
            fd: self.read,
            events: libc::POLLIN,
            revents: 0,
        };
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // SAFETY: one live entry.
            let ready = unsafe { libc::poll(&mut entry, 1, left.as_millis() as c_int) };
            if ready > 0 {
                let (got, bytes) = sys::read(self.read, 1);
                return (got == 1).then(|| bytes[0]);
            }
            if ready == 0 || (ready < 0 && sys::errno() != libc::EINTR) {
                return None;
            }
        }
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        close(self.read);
        close(self.write);
    }
}

/// A forked child running a check; its verdict comes back through a pipe.
struct Child {
    pid: i32,
    verdict: Signal,
}

/// Runs `body` in a child process.
fn spawn(body: impl FnOnce() -> Check) -> Child {
    let verdict = Signal::new();
    let pid = sys::fork();
    if pid == 0 {
        let message = match body() {
            Ok(()) => String::new(),
            Err(message) => message,
        };
        let _ = sys::write_all(verdict.write, format!("{message}\n").as_bytes());
        sys::child_exit(0);
    }
    Child { pid, verdict }
}

impl Child {
    /// The child's verdict, once it has ended (killed if it takes too long).
    fn join(self) -> Check {
        let deadline = Instant::now() + DEADLINE;
        let mut message = Vec::new();
        while !message.ends_with(b"\n") {
            match self
                .verdict
                .receive(deadline.saturating_duration_since(Instant::now()))
            {
                Some(byte) => message.push(byte),
                None => break,
            }
        }
        let waited =
            sys::wait_with_deadline(self.pid, deadline.saturating_duration_since(Instant::now()));
        if !message.ends_with(b"\n") {
            return Err(format!(
                "child gave no verdict: {}",
                sys::describe_wait(&waited)
            ));
        }
        message.pop();
        if !message.is_empty() {
            return Err(String::from_utf8_lossy(&message).into_owned());
        }
        ensure(sys::exited_with(&waited, 0), || {
            format!("child: {}", sys::describe_wait(&waited))
        })
    }
}

fn in_child(body: impl FnOnce() -> Check) -> Check {
    spawn(body).join()
}

/// Runs a check that needs cleaning up after, whatever its outcome.
fn with_file(path: &str, body: impl FnOnce(c_int) -> Check) -> Check {
    let fd = fresh(path)?;
    let result = body(fd);
    close(fd);
    unlink(path);
    result
}

fn pid() -> i32 {
    sys::getpid()
}

/// Conflicts between two processes and what `F_GETLK` says of them.
fn posix_conflicts(dir: &str) -> Check {
    with_file(&format!("{dir}/posix"), |fd| {
        expect(setlk(fd, libc::F_SETLK, WR, 0, 10), 0, "write lock 0..10")?;
        expect(setlk(fd, libc::F_SETLK, RD, 20, 10), 0, "read lock 20..30")?;
        let me = pid();
        in_child(|| {
            expect(
                setlk(fd, libc::F_SETLK, WR, 5, 1),
                EAGAIN,
                "another's write lock over a write lock",
            )?;
            expect(
                setlk(fd, libc::F_SETLK, RD, 9, 1),
                EAGAIN,
                "a read lock over a write lock",
            )?;
            expect(setlk(fd, libc::F_SETLK, RD, 25, 10), 0, "read locks share")?;
            expect(
                setlk(fd, libc::F_SETLK, WR, 29, 1),
                EAGAIN,
                "a write lock over a read lock",
            )?;
            expect(
                setlk(fd, libc::F_SETLK, WR, 10, 10),
                0,
                "the bytes between are free",
            )?;
            expect_getlk(
                getlk(fd, libc::F_GETLK, RD, 0, 1),
                (WR, 0, 10, me),
                "F_GETLK names the holder",
            )?;
            expect_getlk(
                getlk(fd, libc::F_GETLK, WR, 28, 0),
                (RD, 20, 10, me),
                "F_GETLK of a range to EOF",
            )?;
            expect_getlk(
                getlk(fd, libc::F_GETLK, WR, 10, 10),
                (UN, 0, 0, 0),
                "F_GETLK of one's own range",
            )?;
            expect_getlk(
                getlk(fd, libc::F_GETLK, RD, 20, 15),
                (UN, 0, 0, 0),
                "a reader meets no read lock",
            )
        })?;
        // The child's locks went with it.
        expect_getlk(
            getlk(fd, libc::F_GETLK, WR, 10, 10),
            (UN, 0, 0, 0),
            "locks gone at the holder's exit",
        )?;
        // SEEK_CUR and SEEK_END.
        // SAFETY: plain lseek on our descriptor.
        unsafe { libc::lseek(fd, 30, libc::SEEK_SET) };
        expect(
            fcntl_lock(fd, libc::F_SETLK, WR, libc::SEEK_CUR as i16, 5, 5, 0),
            0,
            "SEEK_CUR lock",
        )?;
        expect(
            fcntl_lock(fd, libc::F_SETLK, RD, libc::SEEK_END as i16, -10, 0, 0),
            0,
            "SEEK_END lock",
        )?;
        expect(
            fcntl_lock(fd, libc::F_SETLK, WR, 0, 60, -10, 0),
            0,
            "negative length lock",
        )?;
        in_child(|| {
            expect_getlk(
                getlk(fd, libc::F_GETLK, RD, 37, 1),
                (WR, 35, 5, me),
                "SEEK_CUR range",
            )?;
            expect_getlk(
                getlk(fd, libc::F_GETLK, WR, 95, 1),
                (RD, 90, 0, me),
                "SEEK_END range runs to EOF",
            )?;
            expect_getlk(
                getlk(fd, libc::F_GETLK, RD, 55, 1),
                (WR, 50, 10, me),
                "negative length covers before",
            )
        })
    })
}

/// Splits and merges of one process's ranges, as another sees them.
fn splits_and_merges(dir: &str) -> Check {
    with_file(&format!("{dir}/split"), |fd| {
        let me = pid();
        expect(setlk(fd, libc::F_SETLK, RD, 0, 100), 0, "read 0..100")?;
        expect(
            setlk(fd, libc::F_SETLK, WR, 40, 20),
            0,
            "write 40..60 inside it",
        )?;
        in_child(|| {
            expect_getlk(
                getlk(fd, libc::F_GETLK, WR, 10, 1),
                (RD, 0, 40, me),
                "left piece",
            )?;
            expect_getlk(
                getlk(fd, libc::F_GETLK, RD, 50, 1),
                (WR, 40, 20, me),
                "middle piece",
            )?;
            expect_getlk(
                getlk(fd, libc::F_GETLK, WR, 70, 1),
                (RD, 60, 40, me),
                "right piece",
            )
        })?;
        expect(setlk(fd, libc::F_SETLK, RD, 40, 20), 0, "back to read")?;
        expect(
            setlk(fd, libc::F_SETLK, RD, 100, 10),
            0,
            "an adjacent read range",
        )?;
        in_child(|| {
            expect_getlk(
                getlk(fd, libc::F_GETLK, WR, 50, 1),
                (RD, 0, 110, me),
                "merged into one",
            )
        })?;
        expect(setlk(fd, libc::F_SETLK, UN, 20, 10), 0, "unlock a hole")?;
        in_child(|| {
            expect_getlk(
                getlk(fd, libc::F_GETLK, WR, 20, 10),
                (UN, 0, 0, 0),
                "the hole is free",
            )?;
            expect_getlk(
                getlk(fd, libc::F_GETLK, WR, 35, 1),
                (RD, 30, 80, me),
                "the rest stays",
            )
        })
    })
}

/// `F_SETLKW` sleeps until the holder lets go.
fn blocking_wait(dir: &str) -> Check {
    with_file(&format!("{dir}/wait"), |fd| {
        expect(setlk(fd, libc::F_SETLK, WR, 0, 0), 0, "write lock the file")?;
        let got = Signal::new();
        let child = spawn(|| {
            expect(
                setlk(fd, libc::F_SETLKW, WR, 10, 1),
                0,
                "F_SETLKW after the holder unlocked",
            )?;
            got.send(1);
            Ok(())
        });
        let early = got.receive(SETTLE);
        expect(setlk(fd, libc::F_SETLK, UN, 0, 0), 0, "unlock")?;
        let late = got.receive(DEADLINE);
        child.join()?;
        ensure(early.is_none(), || {
            "F_SETLKW did not wait for the holder".into()
        })?;
        ensure(late.is_some(), || {
            "F_SETLKW was not woken by the unlock".into()
        })
    })
}

/// POSIX's rule: closing any descriptor of the file releases the process's locks on it,
/// whichever descriptor or name (a hard link) it was opened by.
fn close_any_descriptor(dir: &str) -> Check {
    let path = format!("{dir}/close-rule");
    with_file(&path, |fd| {
        let free = |what: &'static str| {
            in_child(move || expect(setlk(fd, libc::F_SETLK, WR, 0, 0), 0, what))
        };
        let held = |what: &'static str| {
            in_child(move || expect(setlk(fd, libc::F_SETLK, WR, 0, 0), EAGAIN, what))
        };
        expect(setlk(fd, libc::F_SETLK, WR, 0, 10), 0, "lock")?;
        let other = open(&path, libc::O_RDONLY)?;
        held("locked before the close")?;
        close(other);
        free("closing another descriptor of the file released the lock")?;
        expect(setlk(fd, libc::F_SETLK, WR, 0, 10), 0, "lock again")?;
        // SAFETY: plain dup of our descriptor.
        let copy = unsafe { libc::dup(fd) };
        close(copy);
        free("closing a dup released the lock")?;
        expect(setlk(fd, libc::F_SETLK, WR, 0, 10), 0, "lock again")?;
        // dup2 over a descriptor of the file closes it too.
        let spare = open(&path, libc::O_RDONLY)?;
        let unrelated = open("/dev/null", libc::O_RDONLY)?;
        // SAFETY: plain dup2 between our descriptors.
        unsafe { libc::dup2(unrelated, spare) };
        close(unrelated);
        close(spare);
        free("dup2 over a descriptor of the file released the lock")?;
        Ok(())
    })
}

/// The same through a hard link: one inode, one set of locks.
fn hard_link(report: &mut Report, dir: &str) {
    let path = format!("{dir}/linked");
    let link = format!("{dir}/linked-2");
    let name =
        format!("{dir}: a hard link is the same file: its locks conflict, its close releases");
    let fd = match fresh(&path) {
        Ok(fd) => fd,
        Err(message) => return report.check(&name, false, message),
    };
    unlink(&link);
    // SAFETY: valid C strings.
    let linked = raw(i64::from(unsafe {
        libc::link(cstr(&path).as_ptr(), cstr(&link).as_ptr())
    }));
    if linked < 0 {
        close(fd);
        unlink(&path);
        return report.skip(&name, format!("link: {}", describe(linked)));
    }
    let result = (|| {
        expect(
            setlk(fd, libc::F_SETLK, WR, 0, 0),
            0,
            "lock through the first name",
        )?;
        let link_in_child = link.clone();
        in_child(move || {
            let other = open(&link_in_child, libc::O_RDWR)?;
            let result = expect(
                setlk(other, libc::F_SETLK, RD, 0, 1),
                EAGAIN,
                "lock through the link",
            );
            close(other);
            result
        })?;
        let other = open(&link, libc::O_RDONLY)?;
        close(other);
        in_child(|| {
            expect(
                setlk(fd, libc::F_SETLK, WR, 0, 0),
                0,
                "closing the link's descriptor released",
            )
        })
    })();
    close(fd);
    unlink(&path);
    unlink(&link);
    report.check(&name, result.is_ok(), result.err().unwrap_or_default());
}

/// A `fork` child inherits no POSIX lock; `exit` releases the process's locks.
fn fork_and_exit(dir: &str) -> Check {
    with_file(&format!("{dir}/fork"), |fd| {
        expect(setlk(fd, libc::F_SETLK, WR, 0, 10), 0, "parent locks")?;
        in_child(|| {
            expect(
                setlk(fd, libc::F_SETLK, WR, 0, 10),
                EAGAIN,
                "the child does not hold the parent's lock",
            )?;
            expect(
                setlk(fd, libc::F_SETLK, UN, 0, 0),
                0,
                "its unlock releases nothing of the parent's",
            )
        })?;
        in_child(|| {
            expect(
                setlk(fd, libc::F_SETLK, RD, 0, 1),
                EAGAIN,
                "still the parent's",
            )
        })?;
        expect(setlk(fd, libc::F_SETLK, UN, 0, 0), 0, "parent unlocks")?;
        // A child locks and exits without unlocking: the lock goes with it.
        let held = Signal::new();
        let child = spawn(|| {
            expect(setlk(fd, libc::F_SETLK, WR, 0, 0), 0, "child locks")?;
            held.send(1);
            Ok(())
        });
        ensure(held.receive(DEADLINE).is_some(), || {
            "the child never locked".into()
        })?;
        child.join()?;
        expect(
            setlk(fd, libc::F_SETLK, WR, 0, 0),
            0,
            "the dead child's lock is gone",
        )
    })
}

/// Threads of one process are one owner.
fn threads_share_the_owner(dir: &str) -> Check {
    with_file(&format!("{dir}/threads"), |fd| {
        expect(setlk(fd, libc::F_SETLK, WR, 0, 10), 0, "main thread locks")?;
        let seen = std::thread::spawn(move || {
            (
                setlk(fd, libc::F_SETLK, RD, 0, 10),
                getlk(fd, libc::F_GETLK, WR, 0, 10).map(|lock| lock.l_type),
            )
        })
        .join()
        .map_err(|_| "the thread panicked".to_string())?;
        expect(seen.0, 0, "another thread converts the process's lock")?;
        ensure(seen.1 == Ok(UN), || {
            format!("F_GETLK in another thread: {:?}", seen.1)
        })?;
        let me = pid();
        in_child(|| {
            expect_getlk(
                getlk(fd, libc::F_GETLK, WR, 0, 1),
                (RD, 0, 10, me),
                "the thread's conversion",
            )
        })
    })
}

/// OFD locks: the description owns them; a `fork` child shares it; the last close
/// releases them; they conflict with other descriptions and with POSIX locks.
fn ofd_locks(dir: &str) -> Check {
    let path = format!("{dir}/ofd");
    with_file(&path, |fd| {
        expect(
            fcntl_lock(fd, F_OFD_SETLK, WR, 0, 0, 10, 1),
            EINVAL,
            "F_OFD_SETLK with l_pid set",
        )?;
        let mut query = flock_struct(RD, 0, 0, 1, 5);
        // SAFETY: `query` is live for the call.
        let bad = raw(i64::from(unsafe {
            libc::fcntl(fd, F_OFD_GETLK, &mut query)
        }));
        expect(bad, EINVAL, "F_OFD_GETLK with l_pid set")?;
        expect(setlk(fd, F_OFD_SETLK, WR, 0, 10), 0, "OFD write lock")?;
        let second = open(&path, libc::O_RDWR)?;
        let result = (|| {
            expect(
                setlk(second, F_OFD_SETLK, RD, 5, 1),
                EAGAIN,
                "another description of the same process conflicts",
            )?;
            expect_getlk(
                getlk(second, F_OFD_GETLK, RD, 0, 1),
                (WR, 0, 10, -1),
                "F_OFD_GETLK reports pid -1",
            )?;
            expect_getlk(
                getlk(second, libc::F_GETLK, RD, 0, 1),
                (WR, 0, 10, -1),
                "F_GETLK meets the OFD lock, pid -1",
            )?;
            expect(
                setlk(second, libc::F_SETLK, RD, 0, 1),
                EAGAIN,
                "a POSIX lock of the same process conflicts",
            )?;
            // Linux 6.6: F_OFD_GETLK with F_UNLCK reports the description's own lock.
            expect_getlk(
                getlk(fd, F_OFD_GETLK, UN, 0, 1),
                (WR, 0, 10, -1),
                "F_OFD_GETLK F_UNLCK finds its own",
            )?;
            expect_getlk(
                getlk(second, F_OFD_GETLK, UN, 0, 1),
                (UN, 0, 0, 0),
                "…and not another's",
            )?;
            in_child(|| {
                expect(
                    setlk(fd, F_OFD_SETLK, WR, 0, 20),
                    0,
                    "the fork child shares the description and its lock",
                )?;
                expect(
                    setlk(second, F_OFD_SETLK, RD, 0, 1),
                    EAGAIN,
                    "still conflicts with the other description",
                )
            })?;
            // The parent still sees the lock the child extended: it is the description's.
            in_child(|| {
                let mine = open(&path, libc::O_RDWR)?;
                let result = expect_getlk(
                    getlk(mine, F_OFD_GETLK, RD, 15, 1),
                    (WR, 0, 20, -1),
                    "the child's change stays",
                );
                close(mine);
                result
            })?;
            // A dup shares it; closing the dup releases nothing (not the last close).
            // SAFETY: plain dup.
            let copy = unsafe { libc::dup(fd) };
            close(copy);
            expect(
                setlk(second, F_OFD_SETLK, RD, 0, 1),
                EAGAIN,
                "closing a dup keeps the OFD lock",
            )?;
            // A child holding a description keeps its lock past the parent's close.
            let third = open(&path, libc::O_RDWR)?;
            expect(
                setlk(third, F_OFD_SETLK, WR, 30, 10),
                0,
                "OFD lock of a third description",
            )?;
            let go = Signal::new();
            let holder = spawn(|| {
                go.receive(DEADLINE);
                close(third);
                Ok(())
            });
            close(third);
            let still = setlk(second, F_OFD_SETLK, RD, 35, 1);
            go.send(1);
            holder.join()?;
            expect(
                still,
                EAGAIN,
                "the child's descriptor keeps the description's lock",
            )?;
            expect(
                setlk(second, F_OFD_SETLK, WR, 30, 10),
                0,
                "the last close released it",
            )?;
            // F_OFD_SETLKW sleeps until the holding description lets go.
            let got = Signal::new();
            let child = spawn(|| {
                let mine = open(&path, libc::O_RDONLY)?;
                let result = expect(setlk(mine, F_OFD_SETLKW, RD, 35, 1), 0, "F_OFD_SETLKW");
                got.send(1);
                close(mine);
                result
            });
            let early = got.receive(SETTLE);
            expect(setlk(second, F_OFD_SETLK, UN, 30, 10), 0, "OFD unlock")?;
            let late = got.receive(DEADLINE);
            child.join()?;
            ensure(early.is_none(), || "F_OFD_SETLKW did not wait".into())?;
            ensure(late.is_some(), || "F_OFD_SETLKW was not woken".into())
        })();
        close(second);
        result
    })
}

/// `flock`: sharing, exclusion, conversion, blocking, `fork` sharing, and independence
/// from record locks.
fn flock_locks(dir: &str) -> Check {
    let path = format!("{dir}/flock");
    with_file(&path, |fd| {
        let second = open(&path, libc::O_RDONLY)?;
        let result = (|| {
            expect(flock(fd, libc::LOCK_SH), 0, "shared")?;
            expect(
                flock(second, libc::LOCK_SH | libc::LOCK_NB),
                0,
                "a second shared lock",
            )?;
            expect(
                flock(second, libc::LOCK_EX | libc::LOCK_NB),
                EAGAIN,
                "conversion to exclusive while shared",
            )?;
            // The failed conversion dropped the shared lock: the first converts now.
            expect(
                flock(fd, libc::LOCK_EX | libc::LOCK_NB),
                0,
                "exclusive after the other's failed conversion",
            )?;
            expect(
                flock(second, libc::LOCK_SH | libc::LOCK_NB),
                EAGAIN,
                "shared while exclusive",
            )?;
            expect(
                flock(fd, libc::LOCK_EX | libc::LOCK_NB),
                0,
                "exclusive again by its holder",
            )?;
            expect(flock(fd, libc::LOCK_SH), 0, "downgrade")?;
            expect(
                flock(second, libc::LOCK_SH | libc::LOCK_NB),
                0,
                "shared beside the downgraded",
            )?;
            expect(flock(second, libc::LOCK_UN), 0, "unlock")?;
            expect(flock(fd, libc::LOCK_EX), 0, "exclusive")?;
            // Same description in a fork child: its lock is the child's too.
            in_child(|| {
                expect(
                    flock(fd, libc::LOCK_EX | libc::LOCK_NB),
                    0,
                    "the child's inherited description holds it",
                )?;
                expect(
                    flock(second, libc::LOCK_SH | libc::LOCK_NB),
                    EAGAIN,
                    "another description does not",
                )
            })?;
            // Record locks are another world.
            expect(
                setlk(second, libc::F_SETLK, RD, 0, 0),
                0,
                "fcntl lock beside flock",
            )?;
            in_child(|| {
                expect(
                    setlk(second, libc::F_SETLK, RD, 0, 0),
                    0,
                    "fcntl lock by another process beside flock",
                )
            })?;
            // A blocking LOCK_SH waits for the holder.
            let got = Signal::new();
            let child = spawn(|| {
                let mine = open(&path, libc::O_RDONLY)?;
                let result = expect(flock(mine, libc::LOCK_SH), 0, "blocking flock");
                got.send(1);
                close(mine);
                result
            });
            let early = got.receive(SETTLE);
            expect(flock(fd, libc::LOCK_UN), 0, "unlock")?;
            let late = got.receive(DEADLINE);
            child.join()?;
            ensure(early.is_none(), || "flock did not wait".into())?;
            ensure(late.is_some(), || "flock was not woken".into())?;
            // The last close of a description releases its flock lock.
            let third = open(&path, libc::O_RDONLY)?;
            expect(flock(third, libc::LOCK_EX | libc::LOCK_NB), 0, "exclusive")?;
            expect(
                flock(fd, libc::LOCK_SH | libc::LOCK_NB),
                EAGAIN,
                "held by the other description",
            )?;
            close(third);
            expect(
                flock(fd, libc::LOCK_EX | libc::LOCK_NB),
                0,
                "the closed description's lock is gone",
            )
        })();
        close(second);
        result
    })
}

/// Two processes each waiting for the other's byte: the one that would close the circle
/// gets `EDEADLK` (the child, which waits a while first so that the parent sleeps
/// already), gives its byte up, and the other gets it.
fn deadlock(dir: &str) -> Check {
    with_file(&format!("{dir}/deadlock"), |fd| {
        expect(setlk(fd, libc::F_SETLK, WR, 0, 1), 0, "parent locks byte 0")?;
        let ready = Signal::new();
        let outcome = Signal::new();
        let child = spawn(|| {
            expect(setlk(fd, libc::F_SETLK, WR, 1, 1), 0, "child locks byte 1")?;
            ready.send(1);
            sleep(SETTLE);
            let result = setlk(fd, libc::F_SETLKW, WR, 0, 1);
            if result == EDEADLK {
                expect(
                    setlk(fd, libc::F_SETLK, UN, 1, 1),
                    0,
                    "child unlocks byte 1",
                )?;
            }
            outcome.send(match result {
                0 => b'G',
                EDEADLK => b'D',
                _ => b'E',
            });
            Ok(())
        });
        ensure(ready.receive(DEADLINE).is_some(), || {
            "the child never locked".into()
        })?;
        let mine = setlk(fd, libc::F_SETLKW, WR, 1, 1);
        if mine == EDEADLK {
            // The parent closed the circle after all: it gives byte 0 up.
            setlk(fd, libc::F_SETLK, UN, 0, 1);
        }
        let theirs = outcome.receive(DEADLINE);
        child.join()?;
        ensure(
            (mine == 0 && theirs == Some(b'D')) || (mine == EDEADLK && theirs == Some(b'G')),
            || {
                format!(
                    "parent's F_SETLKW {}, child's {:?}: want one EDEADLK and one granted",
                    describe(mine),
                    theirs.map(char::from)
                )
            },
        )?;
        expect(setlk(fd, libc::F_SETLK, UN, 0, 0), 0, "parent unlocks")
    })
}

static HANDLED: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_alarm(_: c_int) {
    HANDLED.fetch_add(1, Ordering::SeqCst);
}

/// Arms `ITIMER_REAL` to fire once after `after`.
fn alarm_in(after: Duration) {
    let timer = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: after.as_secs() as _,
            tv_usec: after.subsec_micros() as _,
        },
    };
    // SAFETY: `timer` is live for the call.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) };
}

/// A signal ends a blocked `F_SETLKW` or `flock` with `EINTR`; with `SA_RESTART` the
/// call goes on and gets the lock.
fn interrupted(dir: &str) -> Check {
    with_file(&format!("{dir}/eintr"), |fd| {
        expect(setlk(fd, libc::F_SETLK, WR, 0, 0), 0, "parent locks")?;
        expect(flock(fd, libc::LOCK_EX), 0, "parent flocks")?;
        in_child(|| {
            sys::install(libc::SIGALRM, on_alarm, 0);
            alarm_in(Duration::from_millis(200));
            expect(
                setlk(fd, libc::F_SETLKW, RD, 0, 1),
                EINTR,
                "F_SETLKW interrupted",
            )?;
            let mine = open(&format!("{dir}/eintr"), libc::O_RDONLY)?;
            alarm_in(Duration::from_millis(200));
            let result = expect(flock(mine, libc::LOCK_SH), EINTR, "flock interrupted");
            close(mine);
            result?;
            ensure(HANDLED.load(Ordering::SeqCst) == 2, || {
                "the handler ran not twice".into()
            })
        })?;
        // The interrupted waiters left nothing behind: the parent's locks are intact and
        // nobody else holds one.
        in_child(|| {
            expect(
                setlk(fd, libc::F_SETLK, RD, 0, 1),
                EAGAIN,
                "the parent's lock stays",
            )
        })?;
        let restarted = spawn(|| {
            sys::install(libc::SIGALRM, on_alarm, libc::SA_RESTART);
            alarm_in(Duration::from_millis(100));
            expect(
                setlk(fd, libc::F_SETLKW, RD, 0, 1),
                0,
                "F_SETLKW restarted after the handler",
            )?;
            ensure(HANDLED.load(Ordering::SeqCst) == 1, || {
                "the handler did not run".into()
            })
        });
        sleep(SETTLE * 2);
        expect(setlk(fd, libc::F_SETLK, UN, 0, 0), 0, "parent unlocks")?;
        restarted.join()?;
        expect(flock(fd, libc::LOCK_UN), 0, "parent unflocks")
    })
}

/// The errors Linux gives for bad requests.
fn argument_errors(dir: &str) -> Check {
    let path = format!("{dir}/args");
    with_file(&path, |fd| {
        expect(setlk(fd, libc::F_SETLK, 7, 0, 1), EINVAL, "unknown l_type")?;
        expect(
            fcntl_lock(fd, libc::F_SETLK, WR, 3, 0, 1, 0),
            EINVAL,
            "unknown l_whence",
        )?;
        expect(
            setlk(fd, libc::F_SETLK, WR, -1, 1),
            EINVAL,
            "negative start",
        )?;
        expect(
            setlk(fd, libc::F_SETLK, WR, 5, -6),
            EINVAL,
            "negative length before 0",
        )?;
        expect(
            setlk(fd, libc::F_SETLK, WR, i64::MAX, 2),
            EOVERFLOW,
            "length past OFFSET_MAX",
        )?;
        expect(
            setlk(fd, libc::F_SETLK, 7, i64::MAX, 2),
            EOVERFLOW,
            "the range is checked before the type",
        )?;
        expect(
            setlk(fd, libc::F_SETLK, WR, i64::MAX, 1),
            0,
            "the last byte",
        )?;
        expect(
            getlk(fd, libc::F_GETLK, UN, 0, 1)
                .map(|_| 0)
                .unwrap_or_else(|e| e),
            EINVAL,
            "F_GETLK with F_UNLCK",
        )?;
        // SAFETY: a pointer no program maps.
        let fault = raw(i64::from(unsafe {
            libc::fcntl(fd, libc::F_SETLK, 8usize as *mut libc::flock)
        }));
        expect(fault, -(libc::EFAULT as i64), "a bad pointer")?;
        let reader = open(&path, libc::O_RDONLY)?;
        let writer = open(&path, libc::O_WRONLY)?;
        let opath = open(&path, libc::O_PATH)?;
        // Access mode 3 (not musl's O_ACCMODE, which has O_PATH in it): neither reading
        // nor writing (Linux's ioctl-only opens).
        let neither = open(&path, 3)?;
        let result = (|| {
            expect(
                flock(neither, libc::LOCK_SH),
                EBADF,
                "flock on a descriptor open for neither",
            )?;
            expect(flock(neither, libc::LOCK_UN), 0, "flock unlock on it")?;
            expect(
                setlk(neither, libc::F_SETLK, RD, 0, 1),
                EBADF,
                "read lock on it",
            )?;
            expect(
                setlk(reader, libc::F_SETLK, WR, 0, 1),
                EBADF,
                "write lock on a read-only descriptor",
            )?;
            expect(
                setlk(writer, libc::F_SETLK, RD, 0, 1),
                EBADF,
                "read lock on a write-only descriptor",
            )?;
            expect(
                setlk(reader, libc::F_SETLK, UN, 0, 1),
                0,
                "unlock on a read-only descriptor",
            )?;
            expect_getlk(
                getlk(writer, libc::F_GETLK, RD, 0, 1),
                (UN, 0, 0, 0),
                "F_GETLK needs no access",
            )?;
            expect(
                setlk(opath, libc::F_SETLK, RD, 0, 1),
                EBADF,
                "O_PATH descriptor",
            )?;
            expect(flock(opath, libc::LOCK_SH), EBADF, "flock on O_PATH")?;
            expect(
                flock(reader, libc::LOCK_EX | libc::LOCK_NB),
                0,
                "flock LOCK_EX on a read-only descriptor",
            )?;
            expect(
                flock(reader, libc::LOCK_SH | libc::LOCK_EX),
                EINVAL,
                "flock with two operations",
            )?;
            expect(flock(reader, 0), EINVAL, "flock with no operation")?;
            expect(
                flock(-1, 64),
                EINVAL,
                "flock's operation is checked before the descriptor",
            )?;
            expect(
                flock(9999, libc::LOCK_SH),
                EBADF,
                "flock on a closed descriptor",
            )?;
            expect(
                setlk(9999, libc::F_SETLK, RD, 0, 1),
                EBADF,
                "fcntl lock on a closed descriptor",
            )?;
            expect(flock(9999, 32), 0, "LOCK_MAND is ignored")
        })();
        close(reader);
        close(writer);
        close(opath);
        close(neither);
        result
    })
}

/// `/proc/locks` lists POSIX, OFD and `flock` locks in Linux's format.
fn proc_locks(dir: &str) -> Check {
    with_file(&format!("{dir}/proc-locks"), |fd| {
        expect(setlk(fd, libc::F_SETLK, WR, 0, 10), 0, "posix lock")?;
        expect(setlk(fd, F_OFD_SETLK, RD, 50, 0), 0, "ofd lock")?;
        expect(flock(fd, libc::LOCK_EX), 0, "flock")?;
        // SAFETY: a zeroed stat filled by fstat.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `stat` is live for the call.
        unsafe { libc::fstat(fd, &mut stat) };
        let file = format!(
            "{:02x}:{:02x}:{}",
            libc::major(stat.st_dev),
            libc::minor(stat.st_dev),
            stat.st_ino
        );
        let text = std::fs::read_to_string("/proc/locks")
            .map_err(|e| format!("reading /proc/locks: {e}"))?;
        let me = pid();
        for want in [
            format!("POSIX  ADVISORY  WRITE {me} {file} 0 9"),
            format!("OFDLCK ADVISORY  READ -1 {file} 50 EOF"),
            format!("FLOCK  ADVISORY  WRITE {me} {file} 0 EOF"),
        ] {
            let found = text.lines().any(|line| {
                line.split_once(": ")
                    .is_some_and(|(number, rest)| number.parse::<u32>().is_ok() && rest == want)
            });
            ensure(found, || {
                format!("no line {want:?} in /proc/locks:\n{text}")
            })?;
        }
        Ok(())
    })
}

/// A bind mount shows the same file: locks through either path meet. Skipped where
/// bind mounts are not allowed (no `CAP_SYS_ADMIN`).
fn bind_mount(report: &mut Report, dir: &str) {
    let name = format!("{dir}: a bind mount is the same file: its locks conflict");
    let source = format!("{dir}/bind-source");
    let alias = format!("{dir}/bind-alias");
    for path in [&source, &alias] {
        // SAFETY: a valid C string.
        unsafe { libc::mkdir(cstr(path).as_ptr(), 0o755) };
    }
    // In a child with a mount namespace of its own where it can have one (on a host,
    // so that the mount stays out of the host's namespace); the sandbox's mount is
    // undone at the end.
    let result = in_child(|| {
        // SAFETY: plain unshare and a propagation change of the child's own namespace.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) == 0 {
                let root = cstr("/");
                libc::mount(
                    std::ptr::null(),
                    root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                );
            }
        }
        // SAFETY: valid C strings; MS_BIND of one directory onto another.
        let mounted = raw(i64::from(unsafe {
            libc::mount(
                cstr(&source).as_ptr(),
                cstr(&alias).as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        }));
        if mounted < 0 {
            return Err(format!("{SKIPPED}mount --bind: {}", describe(mounted)));
        }
        let result = with_file(&format!("{source}/f"), |fd| {
            expect(
                setlk(fd, libc::F_SETLK, WR, 0, 0),
                0,
                "lock through the source",
            )?;
            expect(flock(fd, libc::LOCK_EX), 0, "flock through the source")?;
            in_child(|| {
                let other = open(&format!("{alias}/f"), libc::O_RDWR)?;
                let result = expect(
                    setlk(other, libc::F_SETLK, RD, 0, 1),
                    EAGAIN,
                    "fcntl through the alias",
                )
                .and_then(|()| {
                    expect(
                        flock(other, libc::LOCK_SH | libc::LOCK_NB),
                        EAGAIN,
                        "flock through the alias",
                    )
                });
                close(other);
                result
            })
        });
        // SAFETY: a valid C string.
        unsafe { libc::umount2(cstr(&alias).as_ptr(), libc::MNT_DETACH) };
        result
    });
    match result {
        Err(message) if message.starts_with(SKIPPED) => {
            report.skip(&name, &message[SKIPPED.len()..])
        }
        result => report.check(&name, result.is_ok(), result.err().unwrap_or_default()),
    }
    for path in [&alias, &source] {
        // SAFETY: a valid C string.
        unsafe { libc::rmdir(cstr(path).as_ptr()) };
    }
}

/// `execve` keeps the process's POSIX locks, but close-on-exec descriptors close as
/// `close` does and take their file's locks with them.
fn exec_keeps_locks(dir: &str) -> Check {
    let kept_path = format!("{dir}/exec-kept");
    let dropped_path = format!("{dir}/exec-dropped");
    let kept = fresh(&kept_path)?;
    let dropped = fresh(&dropped_path)?;
    let ready = Signal::new();
    let go = Signal::new();
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let pid = sys::fork();
    if pid == 0 {
        let ok = setlk(kept, libc::F_SETLK, WR, 0, 0) == 0
            && setlk(dropped, libc::F_SETLK, WR, 0, 0) == 0
            // SAFETY: plain fcntl.
            && unsafe { libc::fcntl(dropped, libc::F_SETFD, libc::FD_CLOEXEC) } == 0;
        if !ok {
            sys::child_exit(2);
        }
        let program = cstr(&exe.to_string_lossy());
        let args = [
            cstr("file-locks"),
            cstr("--exec-holder"),
            cstr(&ready.write.to_string()),
            cstr(&go.read.to_string()),
        ];
        let mut argv: Vec<*const libc::c_char> = args.iter().map(|arg| arg.as_ptr()).collect();
        argv.push(std::ptr::null());
        let envp: [*const libc::c_char; 1] = [std::ptr::null()];
        // SAFETY: NUL-terminated argument and environment arrays of live strings.
        unsafe { libc::execve(program.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        sys::child_exit(3);
    }
    let started = ready.receive(DEADLINE);
    let result = (|| {
        ensure(started == Some(b'r'), || {
            "the exec'd holder never said it was ready".into()
        })?;
        expect_getlk(
            getlk(kept, libc::F_GETLK, RD, 0, 1),
            (WR, 0, 0, pid),
            "the lock survives execve",
        )?;
        expect_getlk(
            getlk(dropped, libc::F_GETLK, RD, 0, 1),
            (UN, 0, 0, 0),
            "close-on-exec released its file's lock",
        )
    })();
    go.send(1);
    let waited = sys::wait_with_deadline(pid, DEADLINE);
    let after = expect_getlk(
        getlk(kept, libc::F_GETLK, RD, 0, 1),
        (UN, 0, 0, 0),
        "released when it exited",
    );
    close(kept);
    close(dropped);
    unlink(&kept_path);
    unlink(&dropped_path);
    result?;
    ensure(sys::exited_with(&waited, 0), || {
        format!("holder: {}", sys::describe_wait(&waited))
    })?;
    after
}

/// A lock taken on a file of an overlay's lower layer still holds once another opener
/// copies the file up by opening it for writing: the file keeps its identity.
fn copy_up(path: &str) -> Check {
    let fd = open(path, libc::O_RDONLY)?;
    let result = (|| {
        expect(
            setlk(fd, libc::F_SETLK, RD, 0, 0),
            0,
            "read lock on the lower file",
        )?;
        let me = pid();
        in_child(|| {
            let writer = open(path, libc::O_RDWR)?;
            let result = expect(
                setlk(writer, libc::F_SETLK, WR, 0, 1),
                EAGAIN,
                "write lock through the copied-up file",
            )
            .and_then(|()| {
                expect_getlk(
                    getlk(writer, libc::F_GETLK, WR, 0, 1),
                    (RD, 0, 0, me),
                    "F_GETLK after copy-up",
                )
            });
            close(writer);
            result
        })
    })();
    close(fd);
    result
}

/// Many ranges of one process: every other byte of 2000 locked one by one, each seen by
/// another process, then all unlocked at once.
fn many_ranges(report: &mut Report, dir: &str) {
    const RANGES: i64 = 2000;
    let result = with_file(&format!("{dir}/many"), |fd| {
        for index in 0..RANGES {
            expect(
                setlk(fd, libc::F_SETLK, WR, index * 2, 1),
                0,
                "lock one more byte",
            )?;
        }
        let me = pid();
        in_child(|| {
            for index in [0, 1, RANGES - 1] {
                expect_getlk(
                    getlk(fd, libc::F_GETLK, RD, index * 2, 2),
                    (WR, index * 2, 1, me),
                    "one range",
                )?;
            }
            Ok(())
        })?;
        expect(setlk(fd, libc::F_SETLK, UN, 0, 0), 0, "unlock everything")?;
        in_child(|| expect(setlk(fd, libc::F_SETLK, WR, 0, 0), 0, "all gone"))
    });
    report.check(
        &format!("{dir}: {RANGES} separate ranges locked and unlocked at once"),
        result.is_ok(),
        result.err().unwrap_or_default(),
    );
}

/// After `execve`: says it is ready, waits to be told to go, exits.
fn exec_holder(ready: c_int, go: c_int) -> ExitCode {
    let _ = sys::write(ready, b"r");
    let mut byte = [0u8; 1];
    // SAFETY: one byte into a live buffer.
    unsafe { libc::read(go, byte.as_mut_ptr().cast(), 1) };
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--exec-holder") {
        let fd = |index: usize| {
            args.get(index)
                .and_then(|arg| arg.parse().ok())
                .unwrap_or(-1)
        };
        return exec_holder(fd(1), fd(2));
    }
    // `copy-up=PATH`: a file of an overlay's lower layer to lock across its copy-up (the
    // boot test's; never a host file, which would be opened for writing).
    let leak_check = args.iter().any(|arg| arg == "--no-locks-left");
    let (copy_up_paths, dirs): (Vec<String>, Vec<String>) = args
        .into_iter()
        .filter(|arg| arg != "--no-locks-left")
        .partition(|arg| arg.starts_with("copy-up="));
    let dirs = if dirs.is_empty() {
        vec!["/tmp".to_string()]
    } else {
        dirs
    };
    let mut report = Report::default();
    for arg in &copy_up_paths {
        let path = &arg["copy-up=".len()..];
        let result = copy_up(path);
        report.check(
            &format!("{path}: a lock holds across the file's copy-up"),
            result.is_ok(),
            result.err().unwrap_or_default(),
        );
    }
    for (index, dir) in dirs.iter().enumerate() {
        let checks: [(&str, fn(&str) -> Check); 12] = [
            (
                "POSIX locks conflict between processes; F_GETLK names the holder",
                posix_conflicts,
            ),
            (
                "a process's ranges split and merge as another sees them",
                splits_and_merges,
            ),
            ("F_SETLKW sleeps until the holder unlocks", blocking_wait),
            (
                "closing any descriptor of the file releases the process's locks",
                close_any_descriptor,
            ),
            (
                "fork inherits no POSIX lock; exit releases them",
                fork_and_exit,
            ),
            (
                "threads of a process are one lock owner",
                threads_share_the_owner,
            ),
            (
                "OFD locks: owned by the description, shared by fork, released at the last close",
                ofd_locks,
            ),
            (
                "flock: shared, exclusive, conversion, blocking, fork, apart from fcntl",
                flock_locks,
            ),
            ("EDEADLK between two processes", deadlock),
            (
                "EINTR of a blocked F_SETLKW and flock; SA_RESTART restarts",
                interrupted,
            ),
            ("argument errors", argument_errors),
            ("/proc/locks in Linux's format", proc_locks),
        ];
        for (name, check) in checks {
            let started = Instant::now();
            let result = check(dir);
            let name = format!("{dir}: {name} ({} ms)", started.elapsed().as_millis());
            report.check(&name, result.is_ok(), result.err().unwrap_or_default());
        }
        hard_link(&mut report, dir);
        bind_mount(&mut report, dir);
        if index == 0 {
            let result = exec_keeps_locks(dir);
            report.check(
                &format!("{dir}: execve keeps POSIX locks; close-on-exec releases its file's"),
                result.is_ok(),
                result.err().unwrap_or_default(),
            );
        }
    }
    many_ranges(&mut report, &dirs[0]);
    if leak_check {
        // Every lock above was released by its unlock, close or exit: the kernel's table
        // is empty again (only on a machine where nothing else holds a lock).
        let text = std::fs::read_to_string("/proc/locks").unwrap_or_else(|e| format!("error: {e}"));
        report.check(
            "/proc/locks is empty once every lock is released",
            text.is_empty(),
            &text,
        );
    }
    report.finish("file-locks")
}
