//! The calls: one template per (system call, pointer argument). `args` builds the six
//! arguments around the bad pointer `b`; every other argument is valid, so the bad one is
//! the only reason to fail.

use std::fmt;

use libc::c_long;

use crate::fixture::Fixture;

/// What Linux answers (checked by running this program on the host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Errno(i32),
    Returns(i64),
    /// Any non-negative result (`time(NULL)` returns the time).
    Succeeds,
}

impl Expected {
    pub fn matches(self, raw: i64) -> bool {
        match self {
            Expected::Errno(errno) => raw == -i64::from(errno),
            Expected::Returns(value) => raw == value,
            Expected::Succeeds => raw >= 0,
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |errno| match errno {
            libc::EFAULT => "EFAULT",
            libc::EINVAL => "EINVAL",
            libc::ENOENT => "ENOENT",
            libc::EBADF => "EBADF",
            libc::ENOSYS => "ENOSYS",
            libc::EPERM => "EPERM",
            libc::ERANGE => "ERANGE",
            libc::ENAMETOOLONG => "ENAMETOOLONG",
            libc::EEXIST => "EEXIST",
            libc::EISDIR => "EISDIR",
            libc::ENOTDIR => "ENOTDIR",
            _ => "",
        };
        match *self {
            Expected::Errno(errno) if !name(errno).is_empty() => write!(f, "{}", name(errno)),
            Expected::Errno(errno) => write!(f, "errno {errno}"),
            Expected::Returns(value) => write!(f, "{value}"),
            Expected::Succeeds => write!(f, "success"),
        }
    }
}

pub struct Template {
    /// `name(argument)`: the argument that gets the bad pointer.
    pub call: &'static str,
    pub number: c_long,
    pub args: fn(&mut Fixture, usize) -> [usize; 6],
    /// Linux's answer for each of `BadPointer::all()`: null, low, kernel, no-access.
    pub expected: [Expected; 4],
}

const EFAULT: Expected = Expected::Errno(libc::EFAULT);
const AT_FDCWD: usize = libc::AT_FDCWD as usize;
const SIGSET_SIZE: usize = 8;
const STATX_BASIC_STATS: usize = 0x7ff;

const fn t(call: &'static str, number: c_long, args: fn(&mut Fixture, usize) -> [usize; 6]) -> Template {
    Template { call, number, args, expected: [EFAULT; 4] }
}

/// An optional pointer: Linux takes NULL as "not given" and the call succeeds.
const fn optional(call: &'static str, number: c_long, args: fn(&mut Fixture, usize) -> [usize; 6]) -> Template {
    Template { call, number, args, expected: [Expected::Succeeds, EFAULT, EFAULT, EFAULT] }
}

/// Zero bytes to move: Linux never touches a user pointer, but its `access_ok` still
/// refuses a kernel address.
const fn zero_length(call: &'static str, number: c_long, args: fn(&mut Fixture, usize) -> [usize; 6]) -> Template {
    Template { call, number, args, expected: [Expected::Returns(0), Expected::Returns(0), EFAULT, Expected::Returns(0)] }
}

pub const TEMPLATES: &[Template] = &[
    // Files.
    t("read(buf)", libc::SYS_read, |f, b| [f.data(), b, 16, 0, 0, 0]),
    zero_length("read(buf, count=0)", libc::SYS_read, |f, b| [f.data(), b, 0, 0, 0, 0]),
    t("write(buf)", libc::SYS_write, |f, b| [f.write(), b, 16, 0, 0, 0]),
    zero_length("write(buf, count=0)", libc::SYS_write, |f, b| [f.write(), b, 0, 0, 0, 0]),
    t("readv(iov)", libc::SYS_readv, |f, b| [f.data(), b, 1, 0, 0, 0]),
    t("readv(iov[0].base)", libc::SYS_readv, |f, b| [f.data(), f.iovec_with_base(b), 1, 0, 0, 0]),
    t("writev(iov)", libc::SYS_writev, |f, b| [f.write(), b, 1, 0, 0, 0]),
    t("writev(iov[0].base)", libc::SYS_writev, |f, b| [f.write(), f.iovec_with_base(b), 1, 0, 0, 0]),
    t("pread64(buf)", libc::SYS_pread64, |f, b| [f.data(), b, 16, 0, 0, 0]),
    t("pwrite64(buf)", libc::SYS_pwrite64, |f, b| [f.write(), b, 16, 0, 0, 0]),
    t("fstat(statbuf)", libc::SYS_fstat, |f, b| [f.data(), b, 0, 0, 0, 0]),
    t("fstatfs(buf)", libc::SYS_fstatfs, |f, b| [f.data(), b, 0, 0, 0, 0]),
    t("getdents64(dirp)", libc::SYS_getdents64, |f, b| [f.directory(), b, 4096, 0, 0, 0]),
    t("poll(fds)", libc::SYS_poll, |_, b| [b, 1, 0, 0, 0, 0]),
    zero_length("poll(fds, nfds=0)", libc::SYS_poll, |_, b| [b, 0, 0, 0, 0, 0]),
    t("ppoll(fds)", libc::SYS_ppoll, |f, b| [b, 1, f.zero_timespec(), 0, SIGSET_SIZE, 0]),
    optional("ppoll(tmo)", libc::SYS_ppoll, |f, b| [f.pollfd(), 1, b, 0, SIGSET_SIZE, 0]),
    optional("ppoll(sigmask)", libc::SYS_ppoll, |f, b| [f.pollfd(), 1, f.zero_timespec(), b, SIGSET_SIZE, 0]),
    // Paths.
    t("open(path)", libc::SYS_open, |_, b| [b, libc::O_RDONLY as usize, 0, 0, 0, 0]),
    t("openat(path)", libc::SYS_openat, |_, b| [AT_FDCWD, b, libc::O_RDONLY as usize, 0, 0, 0]),
    t("creat(path)", libc::SYS_creat, |_, b| [b, 0o644, 0, 0, 0, 0]),
    t("stat(path)", libc::SYS_stat, |f, b| [b, f.out(), 0, 0, 0, 0]),
    t("stat(statbuf)", libc::SYS_stat, |f, b| [f.data_path.as_ptr() as usize, b, 0, 0, 0, 0]),
    t("lstat(path)", libc::SYS_lstat, |f, b| [b, f.out(), 0, 0, 0, 0]),
    t("lstat(statbuf)", libc::SYS_lstat, |f, b| [f.link_path.as_ptr() as usize, b, 0, 0, 0, 0]),
    t("newfstatat(path)", libc::SYS_newfstatat, |f, b| [AT_FDCWD, b, f.out(), 0, 0, 0]),
    t("newfstatat(statbuf)", libc::SYS_newfstatat, |f, b| [AT_FDCWD, f.data_path.as_ptr() as usize, b, 0, 0, 0]),
    t("statx(path)", libc::SYS_statx, |f, b| [AT_FDCWD, b, 0, STATX_BASIC_STATS, f.out(), 0]),
    t("statx(statxbuf)", libc::SYS_statx, |f, b| [AT_FDCWD, f.data_path.as_ptr() as usize, 0, STATX_BASIC_STATS, b, 0]),
    t("statfs(path)", libc::SYS_statfs, |f, b| [b, f.out(), 0, 0, 0, 0]),
    t("statfs(buf)", libc::SYS_statfs, |f, b| [f.root_path.as_ptr() as usize, b, 0, 0, 0, 0]),
    t("mkdir(path)", libc::SYS_mkdir, |_, b| [b, 0o755, 0, 0, 0, 0]),
    t("mkdirat(path)", libc::SYS_mkdirat, |_, b| [AT_FDCWD, b, 0o755, 0, 0, 0]),
    t("mknod(path)", libc::SYS_mknod, |_, b| [b, (libc::S_IFIFO | 0o644) as usize, 0, 0, 0, 0]),
    t("unlink(path)", libc::SYS_unlink, |_, b| [b, 0, 0, 0, 0, 0]),
    t("unlinkat(path)", libc::SYS_unlinkat, |_, b| [AT_FDCWD, b, 0, 0, 0, 0]),
    t("rmdir(path)", libc::SYS_rmdir, |_, b| [b, 0, 0, 0, 0, 0]),
    t("rename(oldpath)", libc::SYS_rename, |f, b| [b, f.new_path.as_ptr() as usize, 0, 0, 0, 0]),
    t("rename(newpath)", libc::SYS_rename, |f, b| [f.data_path.as_ptr() as usize, b, 0, 0, 0, 0]),
    t("renameat2(newpath)", libc::SYS_renameat2, |f, b| [AT_FDCWD, f.data_path.as_ptr() as usize, AT_FDCWD, b, 0, 0]),
    t("link(oldpath)", libc::SYS_link, |f, b| [b, f.new_path.as_ptr() as usize, 0, 0, 0, 0]),
    t("link(newpath)", libc::SYS_link, |f, b| [f.data_path.as_ptr() as usize, b, 0, 0, 0, 0]),
    t("symlink(target)", libc::SYS_symlink, |f, b| [b, f.new_path.as_ptr() as usize, 0, 0, 0, 0]),
    t("symlink(linkpath)", libc::SYS_symlink, |f, b| [f.data_path.as_ptr() as usize, b, 0, 0, 0, 0]),
    t("readlink(path)", libc::SYS_readlink, |f, b| [b, f.out(), 64, 0, 0, 0]),
    t("readlink(buf)", libc::SYS_readlink, |f, b| [f.link_path.as_ptr() as usize, b, 64, 0, 0, 0]),
    t("readlinkat(buf)", libc::SYS_readlinkat, |f, b| [AT_FDCWD, f.link_path.as_ptr() as usize, b, 64, 0, 0]),
    t("access(path)", libc::SYS_access, |_, b| [b, libc::F_OK as usize, 0, 0, 0, 0]),
    t("faccessat(path)", libc::SYS_faccessat, |_, b| [AT_FDCWD, b, libc::F_OK as usize, 0, 0, 0]),
    t("chmod(path)", libc::SYS_chmod, |_, b| [b, 0o644, 0, 0, 0, 0]),
    t("chown(path)", libc::SYS_chown, |_, b| [b, 0, 0, 0, 0, 0]),
    t("truncate(path)", libc::SYS_truncate, |_, b| [b, 0, 0, 0, 0, 0]),
    t("utimensat(path)", libc::SYS_utimensat, |_, b| [AT_FDCWD, b, 0, 0, 0, 0]),
    optional("utimensat(times)", libc::SYS_utimensat, |f, b| [AT_FDCWD, f.data_path.as_ptr() as usize, b, 0, 0, 0]),
    t("chdir(path)", libc::SYS_chdir, |_, b| [b, 0, 0, 0, 0, 0]),
    t("chroot(path)", libc::SYS_chroot, |_, b| [b, 0, 0, 0, 0, 0]),
    t("getcwd(buf)", libc::SYS_getcwd, |_, b| [b, 4096, 0, 0, 0, 0]),
    t("execve(path)", libc::SYS_execve, |_, b| [b, 0, 0, 0, 0, 0]),
    // System, time, identity.
    t("uname(buf)", libc::SYS_uname, |_, b| [b, 0, 0, 0, 0, 0]),
    t("sethostname(name)", libc::SYS_sethostname, |_, b| [b, 4, 0, 0, 0, 0]),
    t("setdomainname(name)", libc::SYS_setdomainname, |_, b| [b, 4, 0, 0, 0, 0]),
    t("sysinfo(info)", libc::SYS_sysinfo, |_, b| [b, 0, 0, 0, 0, 0]),
    t("getrandom(buf)", libc::SYS_getrandom, |_, b| [b, 16, 0, 0, 0, 0]),
    t("sched_getaffinity(mask)", libc::SYS_sched_getaffinity, |_, b| [0, 128, b, 0, 0, 0]),
    optional("prlimit64(new_limit)", libc::SYS_prlimit64, |_, b| [0, libc::RLIMIT_NOFILE as usize, b, 0, 0, 0]),
    optional("prlimit64(old_limit)", libc::SYS_prlimit64, |_, b| [0, libc::RLIMIT_NOFILE as usize, 0, b, 0, 0]),
    t("getrlimit(rlim)", libc::SYS_getrlimit, |_, b| [libc::RLIMIT_NOFILE as usize, b, 0, 0, 0, 0]),
    t("setrlimit(rlim)", libc::SYS_setrlimit, |_, b| [libc::RLIMIT_NOFILE as usize, b, 0, 0, 0, 0]),
    t("getresuid(ruid)", libc::SYS_getresuid, |f, b| [b, f.out(), f.out() + 8, 0, 0, 0]),
    t("getresgid(sgid)", libc::SYS_getresgid, |f, b| [f.out(), f.out() + 8, b, 0, 0, 0]),
    t("arch_prctl(ARCH_GET_FS, addr)", libc::SYS_arch_prctl, |_, b| [ARCH_GET_FS, b, 0, 0, 0, 0]),
    // Linux checks the futex word's alignment before touching it: 0x1 is EINVAL.
    Template {
        call: "futex(uaddr)",
        number: libc::SYS_futex,
        args: |_, b| [b, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0],
        expected: [EFAULT, Expected::Errno(libc::EINVAL), EFAULT, EFAULT],
    },
    t("clock_gettime(tp)", libc::SYS_clock_gettime, |_, b| [libc::CLOCK_MONOTONIC as usize, b, 0, 0, 0, 0]),
    optional("clock_getres(res)", libc::SYS_clock_getres, |_, b| [libc::CLOCK_MONOTONIC as usize, b, 0, 0, 0, 0]),
    optional("gettimeofday(tv)", libc::SYS_gettimeofday, |_, b| [b, 0, 0, 0, 0, 0]),
    optional("gettimeofday(tz)", libc::SYS_gettimeofday, |f, b| [f.out(), b, 0, 0, 0, 0]),
    optional("time(tloc)", libc::SYS_time, |_, b| [b, 0, 0, 0, 0, 0]),
    t("nanosleep(req)", libc::SYS_nanosleep, |_, b| [b, 0, 0, 0, 0, 0]),
    t("clock_nanosleep(request)", libc::SYS_clock_nanosleep, |_, b| [libc::CLOCK_MONOTONIC as usize, 0, b, 0, 0, 0]),
    // Signals.
    optional("rt_sigaction(act)", libc::SYS_rt_sigaction, |_, b| [libc::SIGUSR1 as usize, b, 0, SIGSET_SIZE, 0, 0]),
    optional("rt_sigaction(oldact)", libc::SYS_rt_sigaction, |_, b| [libc::SIGUSR1 as usize, 0, b, SIGSET_SIZE, 0, 0]),
    optional("rt_sigprocmask(set)", libc::SYS_rt_sigprocmask, |_, b| [libc::SIG_BLOCK as usize, b, 0, SIGSET_SIZE, 0, 0]),
    optional("rt_sigprocmask(oldset)", libc::SYS_rt_sigprocmask, |_, b| [libc::SIG_BLOCK as usize, 0, b, SIGSET_SIZE, 0, 0]),
    optional("sigaltstack(ss)", libc::SYS_sigaltstack, |_, b| [b, 0, 0, 0, 0, 0]),
    optional("sigaltstack(old_ss)", libc::SYS_sigaltstack, |_, b| [0, b, 0, 0, 0, 0]),
];

const ARCH_GET_FS: usize = 0x1003;
const FUTEX_WAIT_PRIVATE: usize = 128;

