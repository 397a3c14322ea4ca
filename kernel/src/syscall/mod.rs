//! The Linux system-call layer: decodes a call from the user registers, runs it against the
//! process, and puts the result (or `-errno`) back in `rax`.
//!
//! Families live in their own files (`files`, `paths`, `memory`, `identity`, `system`,
//! `time`, `signals`, `events`, `sockets`, `futex`); each handler takes the process and its raw arguments and returns
//! `Result<u64, Errno>`. User memory is touched only through the process's address space
//! (`Process::mm`), so every bad pointer is `EFAULT`. Vectored I/O is `vectored`'s,
//! transfers between descriptors (`sendfile`, `splice`, …) `transfer`'s, `fallocate` and
//! the sync calls `storage`'s.

mod events;
mod files;
mod futex;
mod identity;
mod locks;
mod memory;
mod paths;
mod process;
pub(crate) mod scheduling;
mod signals;
mod sockets;
mod storage;
mod system;
mod time;
mod transfer;
mod tty;
mod vectored;
mod xattr;

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use spin::Mutex;
use vfs_core::{At, Errno, Location};

use crate::abi::syscall_numbers as nr;
use crate::process::{Flow, Process, Termination};

pub use futex::{restartable as futex_restartable, restarts_always as futex_restarts_always};
pub use system::{RELEASE, VERSION, domainname, hostname, set_domainname, set_hostname};

pub type SysResult = Result<u64, Errno>;

/// Which file an xattr call names: a path (its `l` form does not follow a final
/// symlink) or a descriptor (its `f` form).
fn xattr_target(number: u64, first: u64) -> xattr::Target {
    match number {
        nr::FSETXATTR | nr::FGETXATTR | nr::FLISTXATTR | nr::FREMOVEXATTR => {
            xattr::Target::Descriptor(first as i32)
        }
        nr::LSETXATTR | nr::LGETXATTR | nr::LLISTXATTR | nr::LREMOVEXATTR => xattr::Target::Path {
            address: first,
            follow: false,
        },
        _ => xattr::Target::Path {
            address: first,
            follow: true,
        },
    }
}

/// `AT_FDCWD`: a relative path starts at the working directory.
const AT_FDCWD: i32 = -100;
/// Longest path accepted from user memory, NUL included (`PATH_MAX`).
const PATH_MAX: usize = 4096;

/// Calls that returned ENOSYS, each logged once.
static UNIMPLEMENTED_SEEN: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());

pub fn dispatch(p: &mut Process) -> Flow {
    let c = &p.context;
    let (number, a) = (c.rax, [c.rdi, c.rsi, c.rdx, c.r10, c.r8, c.r9]);
    let result = match number {
        nr::EXIT => return Flow::ExitThread(a[0] as u8),
        nr::EXIT_GROUP => return Flow::Exit(Termination::Exited(a[0] as u8)),
        nr::RT_SIGRETURN => {
            return match crate::process::deliver::sigreturn(p) {
                Some(termination) => Flow::Exit(termination),
                None => Flow::Continue,
            };
        }
        nr::EXECVE | nr::EXECVEAT => match if number == nr::EXECVE {
            system::execve(p, a[0], a[1], a[2])
        } else {
            system::execveat(p, a[0] as i32, a[1], a[2], a[3], a[4])
        } {
            // On success the registers are the new image's: nothing to return into.
            Ok(()) => {
                crate::task::lifecycle::exec_done(p.pid);
                return Flow::Continue;
            }
            Err(errno) => Err(errno),
        },
        _ => call(p, number, a),
    };
    log::trace!(target: "syscall", "{}({:#x}, {:#x}, {:#x}) = {result:?}", nr::name(number).unwrap_or("?"), a[0], a[1], a[2]);
    p.context.rax = match result {
        Ok(value) => value,
        Err(errno) => errno.as_neg_isize() as u64,
    };
    Flow::Continue
}

fn call(p: &mut Process, number: u64, a: [u64; 6]) -> SysResult {
    let fd = a[0] as i32;
    match number {
        nr::READ => files::read(p, fd, a[1], a[2]),
        nr::WRITE => files::write(p, fd, a[1], a[2]),
        nr::READV => vectored::readv(p, fd, a[1], a[2]),
        nr::WRITEV => vectored::writev(p, fd, a[1], a[2]),
        nr::PREADV => vectored::preadv(p, fd, a[1], a[2], a[3]),
        nr::PWRITEV => vectored::pwritev(p, fd, a[1], a[2], a[3]),
        nr::PREADV2 => vectored::preadv2(p, fd, a[1], a[2], a[3], a[5]),
        nr::PWRITEV2 => vectored::pwritev2(p, fd, a[1], a[2], a[3], a[5]),
        nr::SENDFILE => transfer::sendfile(p, fd, a[1] as i32, a[2], a[3]),
        nr::SPLICE => transfer::splice(p, fd, a[1], a[2] as i32, a[3], a[4], a[5]),
        nr::TEE => transfer::tee(p, fd, a[1] as i32, a[2], a[3]),
        nr::VMSPLICE => transfer::vmsplice(p, fd, a[1], a[2], a[3]),
        nr::COPY_FILE_RANGE => {
            transfer::copy_file_range(p, fd, a[1], a[2] as i32, a[3], a[4], a[5])
        }
        nr::FALLOCATE => storage::fallocate(p, fd, a[1], a[2], a[3]),
        nr::SYNC_FILE_RANGE => storage::sync_file_range(p, fd, a[1], a[2], a[3]),
        nr::SYNCFS => storage::syncfs(p, fd),
        nr::SYNC => storage::sync(),
        nr::NAME_TO_HANDLE_AT => paths::name_to_handle_at(p, fd, a[1], a[2], a[3], a[4]),
        nr::OPEN_BY_HANDLE_AT => paths::open_by_handle_at(p, fd, a[1], a[2]),
        nr::PREAD64 => files::pread(p, fd, a[1], a[2], a[3]),
        nr::PWRITE64 => files::pwrite(p, fd, a[1], a[2], a[3]),
        nr::LSEEK => files::lseek(p, fd, a[1], a[2]),
        nr::CLOSE => files::close(p, fd),
        nr::DUP => files::dup(p, fd),
        nr::DUP2 => files::dup3(p, fd, a[1] as i32, 0, false),
        nr::DUP3 => files::dup3(p, fd, a[1] as i32, a[2], true),
        nr::FCNTL => files::fcntl(p, fd, a[1], a[2]),
        nr::FLOCK => locks::flock(p, fd, a[1]),
        nr::IOCTL => files::ioctl(p, fd, a[1], a[2]),
        nr::GETDENTS64 => files::getdents64(p, fd, a[1], a[2]),
        nr::FSTAT => files::fstat(p, fd, a[1]),
        nr::FSYNC | nr::FDATASYNC => storage::fsync(p, fd),
        nr::FTRUNCATE => files::ftruncate(p, fd, a[1]),
        nr::FSTATFS => files::fstatfs(p, fd, a[1]),
        nr::FCHMOD => files::fchmod(p, fd, a[1]),
        nr::FCHOWN => files::fchown(p, fd, a[1], a[2]),
        nr::FCHDIR => files::fchdir(p, fd),
        nr::POLL => files::poll(p, a[0], a[1], a[2] as i32 as i64),
        nr::PPOLL => files::ppoll(p, a[0], a[1], a[2], a[3], a[4]),
        nr::SELECT => files::select(p, a[0], [a[1], a[2], a[3]], a[4]),
        nr::PSELECT6 => files::pselect6(p, a[0], [a[1], a[2], a[3]], a[4], a[5]),
        nr::PIPE => files::pipe2(p, a[0], 0),
        nr::PIPE2 => files::pipe2(p, a[0], a[1]),

        nr::EPOLL_CREATE => events::epoll_create(p, a[0]),
        nr::EPOLL_CREATE1 => events::epoll_create1(p, a[0]),
        nr::EPOLL_CTL => events::epoll_ctl(p, a[0], a[1], a[2], a[3]),
        nr::EPOLL_WAIT => events::epoll_wait(p, a[0], a[1], a[2], a[3]),
        nr::EPOLL_PWAIT => events::epoll_pwait(p, a[0], a[1], a[2], a[3], a[4], a[5]),
        nr::EPOLL_PWAIT2 => events::epoll_pwait2(p, a[0], a[1], a[2], a[3], a[4], a[5]),
        nr::EVENTFD => events::eventfd2(p, a[0], 0),
        nr::EVENTFD2 => events::eventfd2(p, a[0], a[1]),
        nr::TIMERFD_CREATE => events::timerfd_create(p, a[0], a[1]),
        nr::TIMERFD_SETTIME => events::timerfd_settime(p, a[0], a[1], a[2], a[3]),
        nr::TIMERFD_GETTIME => events::timerfd_gettime(p, a[0], a[1]),
        nr::SIGNALFD => events::signalfd4(p, a[0], a[1], a[2], 0),
        nr::SIGNALFD4 => events::signalfd4(p, a[0], a[1], a[2], a[3]),

        nr::OPEN => paths::openat(p, AT_FDCWD, a[0], a[1], a[2]),
        nr::OPENAT => paths::openat(p, fd, a[1], a[2], a[3]),
        nr::CREAT => paths::openat(p, AT_FDCWD, a[0], 0o1101, a[1]),
        nr::STAT => paths::fstatat(p, AT_FDCWD, a[0], a[1], 0),
        nr::LSTAT => paths::fstatat(p, AT_FDCWD, a[0], a[1], paths::AT_SYMLINK_NOFOLLOW),
        nr::NEWFSTATAT => paths::fstatat(p, fd, a[1], a[2], a[3]),
        nr::STATX => paths::statx(p, fd, a[1], a[2], a[3], a[4]),
        nr::SETXATTR | nr::LSETXATTR | nr::FSETXATTR => {
            xattr::set(p, xattr_target(number, a[0]), a[1], a[2], a[3], a[4])
        }
        nr::GETXATTR | nr::LGETXATTR | nr::FGETXATTR => {
            xattr::get(p, xattr_target(number, a[0]), a[1], a[2], a[3])
        }
        nr::LISTXATTR | nr::LLISTXATTR | nr::FLISTXATTR => {
            xattr::list(p, xattr_target(number, a[0]), a[1], a[2])
        }
        nr::REMOVEXATTR | nr::LREMOVEXATTR | nr::FREMOVEXATTR => {
            xattr::remove(p, xattr_target(number, a[0]), a[1])
        }
        nr::MKDIR => paths::mkdirat(p, AT_FDCWD, a[0], a[1]),
        nr::MKDIRAT => paths::mkdirat(p, fd, a[1], a[2]),
        nr::MKNOD => paths::mknodat(p, AT_FDCWD, a[0], a[1], a[2]),
        nr::MKNODAT => paths::mknodat(p, fd, a[1], a[2], a[3]),
        nr::UNLINK => paths::unlinkat(p, AT_FDCWD, a[0], 0),
        nr::RMDIR => paths::unlinkat(p, AT_FDCWD, a[0], paths::AT_REMOVEDIR),
        nr::UNLINKAT => paths::unlinkat(p, fd, a[1], a[2]),
        nr::RENAME => paths::renameat2(p, AT_FDCWD, a[0], AT_FDCWD, a[1], 0),
        nr::RENAMEAT => paths::renameat2(p, fd, a[1], a[2] as i32, a[3], 0),
        nr::RENAMEAT2 => paths::renameat2(p, fd, a[1], a[2] as i32, a[3], a[4]),
        nr::LINK => paths::linkat(p, AT_FDCWD, a[0], AT_FDCWD, a[1], 0),
        nr::LINKAT => paths::linkat(p, fd, a[1], a[2] as i32, a[3], a[4]),
        nr::SYMLINK => paths::symlinkat(p, a[0], AT_FDCWD, a[1]),
        nr::SYMLINKAT => paths::symlinkat(p, a[0], a[1] as i32, a[2]),
        nr::READLINK => paths::readlinkat(p, AT_FDCWD, a[0], a[1], a[2]),
        nr::READLINKAT => paths::readlinkat(p, fd, a[1], a[2], a[3]),
        nr::ACCESS => paths::faccessat(p, AT_FDCWD, a[0], a[1], 0),
        nr::FACCESSAT => paths::faccessat(p, fd, a[1], a[2], 0),
        nr::FACCESSAT2 => paths::faccessat(p, fd, a[1], a[2], a[3]),
        nr::CHMOD => paths::fchmodat(p, AT_FDCWD, a[0], a[1]),
        nr::FCHMODAT => paths::fchmodat(p, fd, a[1], a[2]),
        nr::CHOWN => paths::fchownat(p, AT_FDCWD, a[0], a[1], a[2], 0),
        nr::LCHOWN => paths::fchownat(p, AT_FDCWD, a[0], a[1], a[2], paths::AT_SYMLINK_NOFOLLOW),
        nr::FCHOWNAT => paths::fchownat(p, fd, a[1], a[2], a[3], a[4]),
        nr::UTIMENSAT => paths::utimensat(p, fd, a[1], a[2], a[3]),
        nr::TRUNCATE => paths::truncate(p, a[0], a[1]),
        nr::STATFS => paths::statfs(p, a[0], a[1]),
        nr::GETCWD => paths::getcwd(p, a[0], a[1]),
        nr::CHDIR => paths::chdir(p, a[0]),
        nr::CHROOT => paths::chroot(p, a[0]),
        nr::UMASK => paths::umask(p, a[0]),
        nr::MOUNT => paths::mount(p, a[0], a[1], a[2], a[3], a[4]),
        nr::UMOUNT2 => paths::umount2(p, a[0], a[1]),

        nr::BRK => memory::brk(p, a[0]),
        nr::MMAP => memory::mmap(p, a[0], a[1], a[2], a[3], a[4] as i32, a[5]),
        nr::MUNMAP => memory::munmap(p, a[0], a[1]),
        nr::MPROTECT => memory::mprotect(p, a[0], a[1], a[2]),
        nr::MADVISE => memory::madvise(p, a[0], a[1], a[2]),
        nr::MREMAP => memory::mremap(p, a[0], a[1], a[2], a[3], a[4]),
        nr::MEMFD_CREATE => memory::memfd_create(p, a[0], a[1]),
        nr::MSYNC => memory::msync(p, a[0], a[1], a[2]),
        nr::MINCORE => memory::mincore(p, a[0], a[1], a[2]),

        nr::GETPID => Ok(u64::from(p.pid)),
        nr::GETTID => Ok(u64::from(p.tid)),
        nr::GETPPID => process::getppid(p),
        nr::GETPGRP => process::getpgid(p, 0),
        nr::GETPGID => process::getpgid(p, a[0]),
        nr::GETSID => process::getsid(p, a[0]),
        nr::SETPGID => process::setpgid(p, a[0], a[1]),
        nr::SETSID => process::setsid(p),
        nr::FORK => process::fork(p),
        nr::VFORK => process::vfork(p),
        nr::CLONE => process::clone(p, a),
        nr::CLONE3 => process::clone3(p, a[0], a[1]),
        nr::WAIT4 => process::wait4(p, a[0], a[1], a[2], a[3]),
        nr::GETRUSAGE => process::getrusage(p, a[0], a[1]),
        nr::TIMES => process::times(p, a[0]),
        nr::SETITIMER => process::setitimer(p, a[0], a[1], a[2]),
        nr::GETITIMER => process::getitimer(p, a[0], a[1]),
        nr::ALARM => process::alarm(p, a[0]),
        nr::WAITID => process::waitid(p, a[0], a[1], a[2], a[3]),
        nr::GETUID => Ok(u64::from(p.ids.uid)),
        nr::GETEUID => Ok(u64::from(p.ids.euid)),
        nr::GETGID => Ok(u64::from(p.ids.gid)),
        nr::GETEGID => Ok(u64::from(p.ids.egid)),
        nr::GETGROUPS => identity::getgroups(p, a[0], a[1]),
        nr::SETGROUPS => identity::setgroups(p, a[0], a[1]),
        nr::SETUID => identity::setresuid(p, u64::MAX, a[0], u64::MAX, identity::Call::SetUid),
        nr::SETGID => identity::setresgid(p, u64::MAX, a[0], u64::MAX, identity::Call::SetUid),
        nr::SETREUID => identity::setresuid(p, a[0], a[1], u64::MAX, identity::Call::SetReUid),
        nr::SETREGID => identity::setresgid(p, a[0], a[1], u64::MAX, identity::Call::SetReUid),
        nr::SETRESUID => identity::setresuid(p, a[0], a[1], a[2], identity::Call::SetResUid),
        nr::SETRESGID => identity::setresgid(p, a[0], a[1], a[2], identity::Call::SetResUid),
        nr::GETRESUID => {
            identity::getres(p, [p.ids.uid, p.ids.euid, p.ids.suid], [a[0], a[1], a[2]])
        }
        nr::GETRESGID => {
            identity::getres(p, [p.ids.gid, p.ids.egid, p.ids.sgid], [a[0], a[1], a[2]])
        }
        nr::SETFSUID | nr::SETFSGID => Ok(u64::from(p.ids.euid)),

        nr::UNAME => system::uname(p, a[0]),
        nr::SETHOSTNAME => system::sethostname(p, a[0], a[1]),
        nr::SETDOMAINNAME => system::setdomainname(p, a[0], a[1]),
        nr::PRLIMIT64 => system::prlimit64(p, a[0], a[1], a[2], a[3]),
        // Unlike prlimit64, whose NULL pointers mean "not this half", these need theirs.
        nr::GETRLIMIT if a[1] == 0 => Err(Errno::EFAULT),
        nr::SETRLIMIT if a[1] == 0 => Err(Errno::EFAULT),
        nr::GETRLIMIT => system::prlimit64(p, 0, a[0], 0, a[1]),
        nr::SETRLIMIT => system::prlimit64(p, 0, a[0], a[1], 0),
        nr::GETRANDOM => system::getrandom(p, a[0], a[1], a[2]),
        nr::SCHED_GETAFFINITY => scheduling::sched_getaffinity(p, a[0], a[1], a[2]),
        nr::SCHED_SETAFFINITY => scheduling::sched_setaffinity(p, a[0], a[1], a[2]),
        nr::GETCPU => scheduling::getcpu(p, a[0], a[1]),
        nr::SCHED_GETSCHEDULER => scheduling::sched_getscheduler(p, a[0]),
        nr::SCHED_GETPARAM => scheduling::sched_getparam(p, a[0], a[1]),
        nr::SCHED_SETSCHEDULER => scheduling::sched_setscheduler(p, a[0], Some(a[1]), a[2]),
        nr::SCHED_SETPARAM => scheduling::sched_setscheduler(p, a[0], None, a[1]),
        nr::SCHED_GET_PRIORITY_MAX => scheduling::sched_get_priority_max(a[0]),
        nr::SCHED_GET_PRIORITY_MIN => scheduling::sched_get_priority_min(a[0]),
        nr::SCHED_RR_GET_INTERVAL => scheduling::sched_rr_get_interval(p, a[0], a[1]),
        nr::SCHED_YIELD => {
            crate::task::scheduler::yield_now();
            Ok(0)
        }
        nr::SYSINFO => system::sysinfo(p, a[0]),
        nr::ARCH_PRCTL => system::arch_prctl(p, a[0], a[1]),
        nr::SET_TID_ADDRESS => {
            p.clear_child_tid = a[0];
            Ok(u64::from(p.tid))
        }
        nr::SET_ROBUST_LIST => futex::set_robust_list(p, a[0], a[1]),
        nr::GET_ROBUST_LIST => futex::get_robust_list(p, a[0], a[1], a[2]),
        nr::PRCTL => system::prctl(p, a[0], [a[1], a[2], a[3], a[4]]),
        nr::CAPGET => system::capget(p, a[0], a[1]),
        nr::CAPSET => system::capset(p, a[0], a[1]),
        nr::FUTEX => futex::futex(p, a[0], a[1], a[2], a[3], a[4], a[5]),
        nr::FUTEX_WAITV => futex::futex_waitv(p, a[0], a[1], a[2], a[3], a[4]),
        nr::RSEQ => Err(Errno::ENOSYS),

        nr::CLOCK_GETTIME => time::clock_gettime(p, a[0], a[1]),
        nr::CLOCK_GETRES => time::clock_getres(p, a[0], a[1]),
        nr::GETTIMEOFDAY => time::gettimeofday(p, a[0], a[1]),
        nr::TIME => time::time(p, a[0]),
        nr::NANOSLEEP => time::nanosleep(p, a[0], a[1]),
        nr::CLOCK_NANOSLEEP => time::clock_nanosleep(p, a[0], a[1], a[2], a[3]),

        nr::RT_SIGACTION => signals::rt_sigaction(p, a[0], a[1], a[2], a[3]),
        nr::RT_SIGPROCMASK => signals::rt_sigprocmask(p, a[0], a[1], a[2], a[3]),
        nr::SIGALTSTACK => signals::sigaltstack(p, a[0], a[1]),
        nr::KILL => signals::kill(p, a[0] as i32, a[1]),
        nr::TKILL => signals::tgkill(p, None, a[0] as i32, a[1]),
        nr::TGKILL => signals::tgkill(p, Some(a[0] as i32), a[1] as i32, a[2]),
        nr::RT_SIGSUSPEND => signals::rt_sigsuspend(p, a[0], a[1]),
        nr::PAUSE => signals::pause(p),
        nr::RT_SIGPENDING => signals::rt_sigpending(p, a[0], a[1]),
        nr::RT_SIGTIMEDWAIT => signals::rt_sigtimedwait(p, a[0], a[1], a[2], a[3]),
        nr::RT_SIGQUEUEINFO => signals::rt_sigqueueinfo(p, a[0], a[1], a[2]),
        nr::RT_TGSIGQUEUEINFO => signals::rt_sigqueueinfo(p, a[0], a[2], a[3]),

        nr::SOCKET => sockets::socket(p, a[0], a[1], a[2]),
        nr::SOCKETPAIR => sockets::socketpair(p, a[0], a[1], a[2], a[3]),
        nr::BIND => sockets::bind(p, fd, a[1], a[2]),
        nr::LISTEN => sockets::listen(p, fd, a[1]),
        nr::ACCEPT => sockets::accept4(p, fd, a[1], a[2], 0),
        nr::ACCEPT4 => sockets::accept4(p, fd, a[1], a[2], a[3]),
        nr::CONNECT => sockets::connect(p, fd, a[1], a[2]),
        nr::GETSOCKNAME => sockets::name(p, fd, a[1], a[2], false),
        nr::GETPEERNAME => sockets::name(p, fd, a[1], a[2], true),
        nr::SENDTO => sockets::sendto(p, fd, a[1], a[2], a[3], a[4], a[5]),
        nr::RECVFROM => sockets::recvfrom(p, fd, a[1], a[2], a[3], a[4], a[5]),
        nr::SENDMSG => sockets::sendmsg(p, fd, a[1], a[2]),
        nr::RECVMSG => sockets::recvmsg(p, fd, a[1], a[2]),
        nr::SENDMMSG => sockets::sendmmsg(p, fd, a[1], a[2], a[3]),
        nr::RECVMMSG => sockets::recvmmsg(p, fd, a[1], a[2], a[3], a[4]),
        nr::SHUTDOWN => sockets::shutdown(p, fd, a[1]),
        nr::SETSOCKOPT => sockets::setsockopt(p, fd, a[1], a[2], a[3], a[4]),
        nr::GETSOCKOPT => sockets::getsockopt(p, fd, a[1], a[2], a[3], a[4]),

        _ => unimplemented(number),
    }
}

fn unimplemented(number: u64) -> SysResult {
    if UNIMPLEMENTED_SEEN.lock().insert(number) {
        let name = nr::name(number).unwrap_or("unknown");
        log::info!(target: "syscall", "unimplemented system call {name} ({number}): ENOSYS");
    }
    Err(Errno::ENOSYS)
}

/// A path argument: a NUL-terminated string in user memory.
pub(super) fn read_path(p: &mut Process, address: u64) -> Result<Vec<u8>, Errno> {
    if address == 0 {
        return Err(Errno::EFAULT);
    }
    p.mm.lock().read_c_string(address, PATH_MAX - 1)
}

/// Where a `*at` call's relative path starts: the working directory or a directory fd.
pub(super) fn start_of(p: &Process, dirfd: i32) -> Result<Option<Location>, Errno> {
    if dirfd == AT_FDCWD {
        return Ok(None);
    }
    Ok(Some(p.files.lock().get(dirfd)?.location().clone()))
}

/// Runs `f` with the `At` for `dirfd` (the location must outlive the borrow).
pub(super) fn with_at<T>(
    p: &Process,
    dirfd: i32,
    f: impl FnOnce(At<'_>) -> Result<T, Errno>,
) -> Result<T, Errno> {
    match start_of(p, dirfd)? {
        None => f(At::Cwd),
        Some(location) => f(At::Dir(&location)),
    }
}

/// Copies `bytes` to user memory at `address` if it is not NULL.
pub(super) fn write_out(p: &mut Process, address: u64, bytes: &[u8]) -> Result<(), Errno> {
    if address == 0 {
        return Err(Errno::EFAULT);
    }
    p.mm.lock().write(address, bytes)
}

/// Working memory a call may use without charging it: every process's charge includes
/// this much ([`crate::task::lifecycle`]'s process cost), as a call that sleeps holds its
/// buffers and every process may be sleeping.
pub const PREPAID_SCRATCH: usize = 64 * 1024;

/// Charges `bytes` of a call's working memory to the budget, as long as the charge is
/// held, past what every process has paid for already: `ENOMEM` when the budget has no
/// room.
pub(super) fn scratch(bytes: usize) -> Result<Option<vfs_core::Charge>, Errno> {
    if bytes <= PREPAID_SCRATCH {
        return Ok(None);
    }
    Ok(Some(crate::mm::budget::budget().charge(bytes as u64)?))
}

/// A bounce buffer of `wanted` bytes if the budget has room for it, else the prepaid
/// size: the size to use, and its charge.
pub(super) fn bounce_size(wanted: usize) -> (usize, Option<vfs_core::Charge>) {
    match scratch(wanted) {
        Ok(charge) => (wanted, charge),
        Err(_) => (PREPAID_SCRATCH, None),
    }
}

/// Reads `len` bytes of user memory.
pub(super) fn read_in(p: &mut Process, address: u64, len: usize) -> Result<Vec<u8>, Errno> {
    if address == 0 && len > 0 {
        return Err(Errno::EFAULT);
    }
    let mut buf = alloc::vec![0u8; len];
    p.mm.lock().read(address, &mut buf)?;
    Ok(buf)
}
