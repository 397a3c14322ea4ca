//! The system calls the fuzzer makes: each with the kinds of its arguments (so a call
//! gets plausible values most of the time and boundary or random ones otherwise) and what
//! a successful return may look like. The kernel implements most of them; the rest must
//! answer `ENOSYS` (or whatever they do) and never misbehave.
//!
//! Calls that would end the fuzzer or the sandbox are not here and never drawn as a random
//! number: see [`FORBIDDEN`].

use libc::*;

/// What one argument is, for the generator ([`crate::args`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// A descriptor: one the worker holds, or an invalid one.
    Fd,
    /// `AT_FDCWD` or a descriptor.
    DirFd,
    /// A path from the pool (any file, including the system's), or a bad pointer.
    Path,
    /// A path that may be created, removed, renamed, changed or mounted on: only the
    /// fuzzer's own playground (or a bad pointer), so the system stays usable.
    PathW,
    /// A pointer to memory with random content (for the kernel to read or write).
    Buf,
    /// A length, often the size of the preceding buffer.
    Len,
    /// A small count (iovecs, fds, groups).
    Count,
    /// A bit set drawn from these flags, sometimes with random bits.
    Flags(&'static [u64]),
    /// One of these values, sometimes a random one.
    Choice(&'static [u64]),
    /// Any integer, mostly boundary values.
    Int,
    /// A file mode (permission bits, sometimes a type).
    Mode,
    /// A process id: the worker's own, its child's, 0, -1, init's, absent ones.
    Pid,
    /// A signal number.
    Signal,
    /// A user or group id.
    Id,
    /// A file offset.
    Offset,
    /// An address for a memory call: inside the arena, or one that is never the worker's
    /// own memory (NULL, the last user page, non-canonical, kernel).
    Addr,
    /// A length for a memory call.
    MemLen,
    /// A pointer to an array of `struct iovec` over valid and invalid buffers.
    Iovec,
    /// A pointer to a `struct timespec` (valid, zero, out of range, huge) or a bad one.
    Timespec,
    /// A pointer to a `struct timeval`.
    Timeval,
    /// A pointer to a `struct itimerval`.
    Itimerval,
    /// A pointer to a signal set (SIGALRM mostly left out: it bounds blocking calls).
    SigSet,
    /// A signal set's size (8), or another.
    SigSetSize,
    /// A pointer to a `struct sigaction`.
    SigAction,
    /// A pointer to a `struct rlimit`.
    Rlimit,
    /// A pointer to an array of `struct pollfd` over the worker's descriptors.
    PollFds,
    /// A pointer to an `fd_set`.
    FdSet,
    /// A pointer to a `struct clone_args` (clone3).
    CloneArgs,
    /// A pointer to a capability header (`cap_user_header_t`).
    CapHeader,
    /// A pointer to a `stack_t`.
    StackT,
    /// A pointer to a `struct open_how` (openat2).
    OpenHow,
    /// A pointer to a file system type name.
    FsType,
}

/// What a successful return may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// 0 on success.
    Zero,
    /// A new descriptor.
    Fd,
    /// At most the length in argument `n`.
    AtMost(usize),
    /// Not negative.
    NonNegative,
    /// A process id (> 0).
    Pid,
    /// A mapping's address: page-aligned, in the user half.
    Mapping,
    /// Anything but an invalid `-errno`.
    Any,
}

#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub number: i64,
    pub name: &'static str,
    pub args: &'static [Arg],
    pub ret: Ret,
}

/// Calls that end the process or the sandbox, or replace the program, and those that
/// could reach into the supervisor (pid 1, same user): never made, not even as a random
/// number. Their behaviour under attack is the boot tests' business (`containment` for
/// `rt_sigreturn`, `processes` for `exit` and `execve`).
pub const FORBIDDEN: &[i64] = &[
    SYS_exit,
    SYS_exit_group,
    SYS_execve,
    SYS_execveat,
    SYS_rt_sigreturn,
    SYS_reboot,
    SYS_kexec_load,
    SYS_kexec_file_load,
    SYS_ptrace,
    SYS_process_vm_writev,
];

/// Calls that may start a process: made through [`crate::raw::spawning_syscall6`].
pub const SPAWNING: &[i64] = &[SYS_fork, SYS_vfork, SYS_clone, SYS_clone3];

pub const OPEN_FLAGS: &[u64] = &[
    O_WRONLY as u64,
    O_RDWR as u64,
    O_CREAT as u64,
    O_EXCL as u64,
    O_NOCTTY as u64,
    O_TRUNC as u64,
    O_APPEND as u64,
    O_NONBLOCK as u64,
    O_DSYNC as u64,
    O_DIRECT as u64,
    O_LARGEFILE as u64,
    O_DIRECTORY as u64,
    O_NOFOLLOW as u64,
    O_NOATIME as u64,
    O_CLOEXEC as u64,
    O_PATH as u64,
    O_TMPFILE as u64,
    O_SYNC as u64,
];
const AT_FLAGS: &[u64] = &[
    AT_SYMLINK_NOFOLLOW as u64,
    AT_REMOVEDIR as u64,
    AT_SYMLINK_FOLLOW as u64,
    AT_NO_AUTOMOUNT as u64,
    AT_EMPTY_PATH as u64,
    AT_EACCESS as u64,
    AT_STATX_FORCE_SYNC as u64,
    AT_STATX_DONT_SYNC as u64,
];
const PROT: &[u64] = &[
    PROT_READ as u64,
    PROT_WRITE as u64,
    PROT_EXEC as u64,
    PROT_GROWSDOWN as u64,
    PROT_GROWSUP as u64,
];
const MAP_FLAGS: &[u64] = &[
    MAP_SHARED as u64,
    MAP_PRIVATE as u64,
    MAP_FIXED as u64,
    MAP_ANONYMOUS as u64,
    MAP_GROWSDOWN as u64,
    MAP_DENYWRITE as u64,
    MAP_EXECUTABLE as u64,
    MAP_LOCKED as u64,
    MAP_NORESERVE as u64,
    MAP_POPULATE as u64,
    MAP_NONBLOCK as u64,
    MAP_STACK as u64,
    MAP_HUGETLB as u64,
    MAP_FIXED_NOREPLACE as u64,
    MAP_SHARED_VALIDATE as u64,
];
const MREMAP_FLAGS: &[u64] = &[1, 2, 4]; // MAYMOVE, FIXED, DONTUNMAP
const MSYNC_FLAGS: &[u64] = &[MS_ASYNC as u64, MS_INVALIDATE as u64, MS_SYNC as u64];
const ADVICE: &[u64] = &[
    0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 21, 100,
];
const WHENCE: &[u64] = &[0, 1, 2, 3, 4, 5];
const SIGPROCMASK_HOW: &[u64] = &[0, 1, 2, 3];
const PIPE_FLAGS: &[u64] = &[O_CLOEXEC as u64, O_NONBLOCK as u64, O_DIRECT as u64];
const WAIT_FLAGS: &[u64] = &[
    WNOHANG as u64,
    WUNTRACED as u64,
    WCONTINUED as u64,
    WEXITED as u64,
    WSTOPPED as u64,
    WNOWAIT as u64,
    0x2000_0000, // __WNOTHREAD
    0x4000_0000, // __WALL
    0x8000_0000, // __WCLONE
];
const IDTYPE: &[u64] = &[0, 1, 2, 3]; // P_ALL, P_PID, P_PGID, P_PIDFD
const FCNTL_CMDS: &[u64] = &[
    F_DUPFD as u64,
    F_GETFD as u64,
    F_SETFD as u64,
    F_GETFL as u64,
    F_SETFL as u64,
    F_GETLK as u64,
    F_SETLK as u64,
    F_SETLKW as u64,
    F_SETOWN as u64,
    F_GETOWN as u64,
    10, // F_SETSIG
    11, // F_GETSIG
    F_DUPFD_CLOEXEC as u64,
    F_SETPIPE_SZ as u64,
    F_GETPIPE_SZ as u64,
    F_ADD_SEALS as u64,
    F_GET_SEALS as u64,
    F_OFD_GETLK as u64,
    F_OFD_SETLK as u64,
    F_NOTIFY as u64,
    F_SETLEASE as u64,
];
const IOCTL_CMDS: &[u64] = &[
    TCGETS as u64,
    TCSETS as u64,
    TIOCGWINSZ as u64,
    TIOCSWINSZ as u64,
    TIOCGPGRP as u64,
    TIOCSPGRP as u64,
    TIOCSCTTY as u64,
    TIOCNOTTY as u64,
    FIONREAD as u64,
    FIONBIO as u64,
    FIOCLEX as u64,
    FIONCLEX as u64,
    FIOASYNC as u64,
    TIOCGPTN as u64,
    TIOCSPTLCK as u64,
    0x8008_6601, // FS_IOC_GETFLAGS
    0xc020_660b, // FS_IOC_FIEMAP
];
const FLOCK_OPS: &[u64] = &[
    LOCK_SH as u64,
    LOCK_EX as u64,
    LOCK_UN as u64,
    LOCK_NB as u64,
];
const RESOURCES: &[u64] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
const RUSAGE_WHO: &[u64] = &[0, u64::MAX, (-2i64) as u64, 1];
const CLOCKS: &[u64] = &[
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    (-2i64) as u64,
    (-6i64) as u64,
];
const TIMER_FLAGS: &[u64] = &[TIMER_ABSTIME as u64];
const ITIMERS: &[u64] = &[0, 1, 2, 3];
const PRIORITY_WHICH: &[u64] = &[0, 1, 2, 3];
const PRCTL_OPTIONS: &[u64] = &[
    PR_SET_PDEATHSIG as u64,
    PR_GET_PDEATHSIG as u64,
    PR_GET_DUMPABLE as u64,
    PR_SET_DUMPABLE as u64,
    PR_GET_KEEPCAPS as u64,
    PR_SET_KEEPCAPS as u64,
    PR_SET_NAME as u64,
    PR_GET_NAME as u64,
    PR_CAPBSET_READ as u64,
    PR_CAPBSET_DROP as u64,
    PR_GET_SECUREBITS as u64,
    PR_SET_SECUREBITS as u64,
    PR_SET_CHILD_SUBREAPER as u64,
    PR_GET_CHILD_SUBREAPER as u64,
    PR_SET_NO_NEW_PRIVS as u64,
    PR_GET_NO_NEW_PRIVS as u64,
    PR_CAP_AMBIENT as u64,
    PR_GET_TIMERSLACK as u64,
    PR_SET_TIMERSLACK as u64,
    PR_SET_MM as u64,
    PR_GET_TID_ADDRESS as u64,
    PR_SET_VMA as u64,
];
// ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS, ARCH_GET_CPUID, ARCH_SET_CPUID.
const ARCH_PRCTL_CODES: &[u64] = &[0x1001, 0x1002, 0x1003, 0x1004, 0x1011, 0x1012];
const FUTEX_OPS: &[u64] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 128, 129, 137, 256];
pub const CLONE_FLAGS: &[u64] = &[
    CLONE_VM as u64,
    CLONE_FS as u64,
    CLONE_FILES as u64,
    CLONE_SIGHAND as u64,
    CLONE_PIDFD as u64,
    CLONE_PTRACE as u64,
    CLONE_VFORK as u64,
    CLONE_PARENT as u64,
    CLONE_THREAD as u64,
    CLONE_NEWNS as u64,
    CLONE_SYSVSEM as u64,
    CLONE_SETTLS as u64,
    CLONE_PARENT_SETTID as u64,
    CLONE_CHILD_CLEARTID as u64,
    CLONE_DETACHED as u64,
    CLONE_UNTRACED as u64,
    CLONE_CHILD_SETTID as u64,
    CLONE_NEWUTS as u64,
    CLONE_NEWPID as u64,
    CLONE_IO as u64,
    17, // SIGCHLD as the exit signal
];
const MOUNT_FLAGS: &[u64] = &[
    MS_RDONLY,
    MS_NOSUID,
    MS_NODEV,
    MS_NOEXEC,
    MS_SYNCHRONOUS,
    MS_REMOUNT,
    MS_MANDLOCK,
    MS_DIRSYNC,
    MS_NOATIME,
    MS_NODIRATIME,
    MS_BIND,
    MS_MOVE,
    MS_REC,
    MS_SILENT,
    MS_UNBINDABLE,
    MS_PRIVATE,
    MS_SLAVE,
    MS_SHARED,
    MS_RELATIME,
    MS_STRICTATIME,
    MS_LAZYTIME,
];
const UMOUNT_FLAGS: &[u64] = &[MNT_FORCE as u64, MNT_DETACH as u64, MNT_EXPIRE as u64, 8];
const STATX_MASK: &[u64] = &[0xfff, 0x1000, 0x2000, 0x8000_0000];
const GRND_FLAGS: &[u64] = &[1, 2, 4];
const SOCKET_DOMAINS: &[u64] = &[1, 2, 10, 16, 17, 40];
const SOCKET_TYPES: &[u64] = &[1, 2, 3, 5, 0x800, 0x80000];
const FALLOCATE_MODES: &[u64] = &[1, 2, 8, 0x10, 0x20, 0x40];
const MEMFD_FLAGS: &[u64] = &[1, 2, 4, 8];
const EVENTFD_FLAGS: &[u64] = &[1, 0x800, 0x80000];
const CLOSE_RANGE_FLAGS: &[u64] = &[2, 4];
const PERSONALITIES: &[u64] = &[0, 0xffff_ffff, 0x0040_0000, 0x0008];

macro_rules! spec {
    ($number:expr, $name:literal, [$($arg:expr),*], $ret:expr) => {
        Spec { number: $number, name: $name, args: &[$($arg),*], ret: $ret }
    };
}

use Arg::*;
use Ret::{Any, AtMost, Mapping, NonNegative, Pid as RetPid, Zero};

pub const SPECS: &[Spec] = &[
    // Files and descriptors.
    spec!(SYS_read, "read", [Fd, Buf, Len], AtMost(2)),
    spec!(SYS_write, "write", [Fd, Buf, Len], AtMost(2)),
    spec!(SYS_open, "open", [Path, Flags(OPEN_FLAGS), Mode], Ret::Fd),
    spec!(SYS_close, "close", [Fd], Zero),
    spec!(SYS_stat, "stat", [Path, Buf], Zero),
    spec!(SYS_fstat, "fstat", [Fd, Buf], Zero),
    spec!(SYS_lstat, "lstat", [Path, Buf], Zero),
    spec!(SYS_poll, "poll", [PollFds, Count, Int], AtMost(1)),
    spec!(
        SYS_lseek,
        "lseek",
        [Fd, Offset, Choice(WHENCE)],
        NonNegative
    ),
    spec!(SYS_ioctl, "ioctl", [Fd, Choice(IOCTL_CMDS), Buf], Any),
    spec!(SYS_pread64, "pread64", [Fd, Buf, Len, Offset], AtMost(2)),
    spec!(SYS_pwrite64, "pwrite64", [Fd, Buf, Len, Offset], AtMost(2)),
    spec!(SYS_readv, "readv", [Fd, Iovec, Count], NonNegative),
    spec!(SYS_writev, "writev", [Fd, Iovec, Count], NonNegative),
    spec!(
        SYS_preadv,
        "preadv",
        [Fd, Iovec, Count, Offset, Int],
        NonNegative
    ),
    spec!(
        SYS_pwritev,
        "pwritev",
        [Fd, Iovec, Count, Offset, Int],
        NonNegative
    ),
    spec!(
        SYS_access,
        "access",
        [Path, Choice(&[0, 1, 2, 4, 7, 8])],
        Zero
    ),
    spec!(SYS_pipe, "pipe", [Buf], Zero),
    spec!(SYS_pipe2, "pipe2", [Buf, Flags(PIPE_FLAGS)], Zero),
    spec!(
        SYS_select,
        "select",
        [Count, FdSet, FdSet, FdSet, Timeval],
        NonNegative
    ),
    spec!(
        SYS_pselect6,
        "pselect6",
        [Count, FdSet, FdSet, FdSet, Timespec, Buf],
        NonNegative
    ),
    spec!(
        SYS_ppoll,
        "ppoll",
        [PollFds, Count, Timespec, SigSet, SigSetSize],
        AtMost(1)
    ),
    spec!(SYS_dup, "dup", [Fd], Ret::Fd),
    spec!(SYS_dup2, "dup2", [Fd, Fd], Ret::Fd),
    spec!(
        SYS_dup3,
        "dup3",
        [Fd, Fd, Flags(&[O_CLOEXEC as u64])],
        Ret::Fd
    ),
    spec!(SYS_fcntl, "fcntl", [Fd, Choice(FCNTL_CMDS), Int], Any),
    spec!(SYS_flock, "flock", [Fd, Flags(FLOCK_OPS)], Zero),
    spec!(SYS_fsync, "fsync", [Fd], Zero),
    spec!(SYS_fdatasync, "fdatasync", [Fd], Zero),
    spec!(SYS_truncate, "truncate", [PathW, Offset], Zero),
    spec!(SYS_ftruncate, "ftruncate", [Fd, Offset], Zero),
    spec!(SYS_getdents, "getdents", [Fd, Buf, Len], AtMost(2)),
    spec!(SYS_getdents64, "getdents64", [Fd, Buf, Len], AtMost(2)),
    spec!(SYS_getcwd, "getcwd", [Buf, Len], AtMost(1)),
    spec!(SYS_chdir, "chdir", [Path], Zero),
    spec!(SYS_fchdir, "fchdir", [Fd], Zero),
    spec!(SYS_rename, "rename", [PathW, PathW], Zero),
    spec!(SYS_mkdir, "mkdir", [PathW, Mode], Zero),
    spec!(SYS_rmdir, "rmdir", [PathW], Zero),
    spec!(SYS_creat, "creat", [PathW, Mode], Ret::Fd),
    spec!(SYS_link, "link", [PathW, PathW], Zero),
    spec!(SYS_unlink, "unlink", [PathW], Zero),
    spec!(SYS_symlink, "symlink", [Path, PathW], Zero),
    spec!(SYS_readlink, "readlink", [Path, Buf, Len], AtMost(2)),
    spec!(SYS_chmod, "chmod", [PathW, Mode], Zero),
    spec!(SYS_fchmod, "fchmod", [Fd, Mode], Zero),
    spec!(SYS_chown, "chown", [PathW, Id, Id], Zero),
    spec!(SYS_fchown, "fchown", [Fd, Id, Id], Zero),
    spec!(SYS_lchown, "lchown", [PathW, Id, Id], Zero),
    spec!(SYS_umask, "umask", [Mode], Any),
    spec!(SYS_mknod, "mknod", [PathW, Mode, Int], Zero),
    spec!(SYS_utime, "utime", [PathW, Buf], Zero),
    spec!(SYS_utimes, "utimes", [PathW, Buf], Zero),
    spec!(SYS_statfs, "statfs", [Path, Buf], Zero),
    spec!(SYS_fstatfs, "fstatfs", [Fd, Buf], Zero),
    spec!(SYS_chroot, "chroot", [Path], Zero),
    spec!(SYS_sync, "sync", [], Zero),
    spec!(SYS_syncfs, "syncfs", [Fd], Zero),
    spec!(
        SYS_openat,
        "openat",
        [DirFd, Path, Flags(OPEN_FLAGS), Mode],
        Ret::Fd
    ),
    spec!(SYS_openat2, "openat2", [DirFd, Path, OpenHow, Len], Ret::Fd),
    spec!(SYS_mkdirat, "mkdirat", [DirFd, PathW, Mode], Zero),
    spec!(SYS_mknodat, "mknodat", [DirFd, PathW, Mode, Int], Zero),
    spec!(
        SYS_fchownat,
        "fchownat",
        [DirFd, PathW, Id, Id, Flags(AT_FLAGS)],
        Zero
    ),
    spec!(
        SYS_newfstatat,
        "newfstatat",
        [DirFd, Path, Buf, Flags(AT_FLAGS)],
        Zero
    ),
    spec!(
        SYS_unlinkat,
        "unlinkat",
        [DirFd, PathW, Flags(AT_FLAGS)],
        Zero
    ),
    spec!(SYS_renameat, "renameat", [DirFd, PathW, DirFd, PathW], Zero),
    spec!(
        SYS_renameat2,
        "renameat2",
        [DirFd, PathW, DirFd, PathW, Flags(&[1, 2, 4])],
        Zero
    ),
    spec!(
        SYS_linkat,
        "linkat",
        [DirFd, PathW, DirFd, PathW, Flags(AT_FLAGS)],
        Zero
    ),
    spec!(SYS_symlinkat, "symlinkat", [Path, DirFd, PathW], Zero),
    spec!(
        SYS_readlinkat,
        "readlinkat",
        [DirFd, Path, Buf, Len],
        AtMost(3)
    ),
    spec!(SYS_fchmodat, "fchmodat", [DirFd, PathW, Mode], Zero),
    spec!(
        SYS_faccessat,
        "faccessat",
        [DirFd, Path, Choice(&[0, 1, 2, 4, 7])],
        Zero
    ),
    spec!(
        SYS_faccessat2,
        "faccessat2",
        [DirFd, Path, Choice(&[0, 1, 2, 4, 7]), Flags(AT_FLAGS)],
        Zero
    ),
    spec!(
        SYS_utimensat,
        "utimensat",
        [DirFd, PathW, Buf, Flags(AT_FLAGS)],
        Zero
    ),
    spec!(
        SYS_statx,
        "statx",
        [DirFd, Path, Flags(AT_FLAGS), Flags(STATX_MASK), Buf],
        Zero
    ),
    spec!(
        SYS_fallocate,
        "fallocate",
        [Fd, Flags(FALLOCATE_MODES), Offset, Offset],
        Zero
    ),
    spec!(SYS_sendfile, "sendfile", [Fd, Fd, Buf, Len], AtMost(3)),
    spec!(
        SYS_splice,
        "splice",
        [Fd, Buf, Fd, Buf, Len, Int],
        AtMost(4)
    ),
    spec!(SYS_tee, "tee", [Fd, Fd, Len, Int], AtMost(2)),
    spec!(
        SYS_copy_file_range,
        "copy_file_range",
        [Fd, Buf, Fd, Buf, Len, Int],
        AtMost(4)
    ),
    spec!(
        SYS_close_range,
        "close_range",
        [Fd, Fd, Flags(CLOSE_RANGE_FLAGS)],
        Zero
    ),
    spec!(
        SYS_memfd_create,
        "memfd_create",
        [Buf, Flags(MEMFD_FLAGS)],
        Ret::Fd
    ),
    spec!(
        SYS_eventfd2,
        "eventfd2",
        [Int, Flags(EVENTFD_FLAGS)],
        Ret::Fd
    ),
    spec!(
        SYS_epoll_create1,
        "epoll_create1",
        [Flags(&[O_CLOEXEC as u64])],
        Ret::Fd
    ),
    spec!(
        SYS_inotify_init1,
        "inotify_init1",
        [Flags(PIPE_FLAGS)],
        Ret::Fd
    ),
    spec!(
        SYS_timerfd_create,
        "timerfd_create",
        [Choice(CLOCKS), Flags(PIPE_FLAGS)],
        Ret::Fd
    ),
    spec!(
        SYS_signalfd4,
        "signalfd4",
        [Fd, SigSet, SigSetSize, Flags(PIPE_FLAGS)],
        Ret::Fd
    ),
    spec!(
        SYS_socket,
        "socket",
        [Choice(SOCKET_DOMAINS), Flags(SOCKET_TYPES), Int],
        Ret::Fd
    ),
    spec!(
        SYS_socketpair,
        "socketpair",
        [Choice(SOCKET_DOMAINS), Flags(SOCKET_TYPES), Int, Buf],
        Zero
    ),
    spec!(
        SYS_mount,
        "mount",
        [PathW, PathW, FsType, Flags(MOUNT_FLAGS), Buf],
        Zero
    ),
    spec!(SYS_umount2, "umount2", [PathW, Flags(UMOUNT_FLAGS)], Zero),
    // Memory.
    spec!(
        SYS_mmap,
        "mmap",
        [Addr, MemLen, Flags(PROT), Flags(MAP_FLAGS), Fd, Offset],
        Mapping
    ),
    spec!(SYS_mprotect, "mprotect", [Addr, MemLen, Flags(PROT)], Zero),
    spec!(SYS_munmap, "munmap", [Addr, MemLen], Zero),
    spec!(SYS_brk, "brk", [Addr], Any),
    spec!(
        SYS_mremap,
        "mremap",
        [Addr, MemLen, MemLen, Flags(MREMAP_FLAGS), Addr],
        Mapping
    ),
    spec!(SYS_msync, "msync", [Addr, MemLen, Flags(MSYNC_FLAGS)], Zero),
    spec!(SYS_mincore, "mincore", [Addr, MemLen, Buf], Zero),
    spec!(SYS_madvise, "madvise", [Addr, MemLen, Choice(ADVICE)], Zero),
    spec!(SYS_mlock, "mlock", [Addr, MemLen], Zero),
    spec!(SYS_munlock, "munlock", [Addr, MemLen], Zero),
    // Processes.
    spec!(SYS_getpid, "getpid", [], RetPid),
    spec!(SYS_gettid, "gettid", [], RetPid),
    spec!(SYS_getppid, "getppid", [], NonNegative),
    spec!(SYS_getpgrp, "getpgrp", [], NonNegative),
    spec!(SYS_getpgid, "getpgid", [Pid], NonNegative),
    spec!(SYS_getsid, "getsid", [Pid], NonNegative),
    spec!(SYS_setpgid, "setpgid", [Pid, Pid], Zero),
    spec!(SYS_setsid, "setsid", [], RetPid),
    spec!(SYS_fork, "fork", [], RetPid),
    spec!(SYS_vfork, "vfork", [], RetPid),
    spec!(
        SYS_clone,
        "clone",
        [Flags(CLONE_FLAGS), Buf, Buf, Buf, Buf],
        RetPid
    ),
    spec!(SYS_clone3, "clone3", [CloneArgs, Len], RetPid),
    spec!(
        SYS_wait4,
        "wait4",
        [Pid, Buf, Flags(WAIT_FLAGS), Buf],
        NonNegative
    ),
    spec!(
        SYS_waitid,
        "waitid",
        [Choice(IDTYPE), Pid, Buf, Flags(WAIT_FLAGS), Buf],
        Zero
    ),
    spec!(SYS_getrusage, "getrusage", [Choice(RUSAGE_WHO), Buf], Zero),
    spec!(SYS_times, "times", [Buf], Any),
    spec!(
        SYS_setitimer,
        "setitimer",
        [Choice(ITIMERS), Itimerval, Buf],
        Zero
    ),
    spec!(SYS_getitimer, "getitimer", [Choice(ITIMERS), Buf], Zero),
    spec!(SYS_alarm, "alarm", [Int], NonNegative),
    spec!(
        SYS_prlimit64,
        "prlimit64",
        [Pid, Choice(RESOURCES), Rlimit, Buf],
        Zero
    ),
    spec!(SYS_getrlimit, "getrlimit", [Choice(RESOURCES), Buf], Zero),
    spec!(
        SYS_setrlimit,
        "setrlimit",
        [Choice(RESOURCES), Rlimit],
        Zero
    ),
    spec!(
        SYS_getpriority,
        "getpriority",
        [Choice(PRIORITY_WHICH), Pid],
        Any
    ),
    spec!(
        SYS_setpriority,
        "setpriority",
        [Choice(PRIORITY_WHICH), Pid, Int],
        Zero
    ),
    spec!(SYS_sched_yield, "sched_yield", [], Zero),
    spec!(
        SYS_sched_getaffinity,
        "sched_getaffinity",
        [Pid, Len, Buf],
        AtMost(1)
    ),
    spec!(
        SYS_sched_setaffinity,
        "sched_setaffinity",
        [Pid, Len, Buf],
        Zero
    ),
    spec!(SYS_set_tid_address, "set_tid_address", [Buf], RetPid),
    spec!(SYS_set_robust_list, "set_robust_list", [Buf, Len], Zero),
    spec!(
        SYS_get_robust_list,
        "get_robust_list",
        [Pid, Buf, Buf],
        Zero
    ),
    spec!(
        SYS_futex,
        "futex",
        [Buf, Choice(FUTEX_OPS), Int, Timespec, Buf, Int],
        Any
    ),
    spec!(
        SYS_prctl,
        "prctl",
        [Choice(PRCTL_OPTIONS), Int, Buf, Int, Int],
        Any
    ),
    spec!(
        SYS_arch_prctl,
        "arch_prctl",
        [Choice(ARCH_PRCTL_CODES), Buf],
        Zero
    ),
    spec!(SYS_personality, "personality", [Choice(PERSONALITIES)], Any),
    spec!(SYS_unshare, "unshare", [Flags(CLONE_FLAGS)], Zero),
    spec!(
        SYS_pidfd_open,
        "pidfd_open",
        [Pid, Flags(&[O_NONBLOCK as u64])],
        Ret::Fd
    ),
    // Identity.
    spec!(SYS_getuid, "getuid", [], Any),
    spec!(SYS_geteuid, "geteuid", [], Any),
    spec!(SYS_getgid, "getgid", [], Any),
    spec!(SYS_getegid, "getegid", [], Any),
    spec!(SYS_setuid, "setuid", [Id], Zero),
    spec!(SYS_setgid, "setgid", [Id], Zero),
    spec!(SYS_setreuid, "setreuid", [Id, Id], Zero),
    spec!(SYS_setregid, "setregid", [Id, Id], Zero),
    spec!(SYS_setresuid, "setresuid", [Id, Id, Id], Zero),
    spec!(SYS_setresgid, "setresgid", [Id, Id, Id], Zero),
    spec!(SYS_getresuid, "getresuid", [Buf, Buf, Buf], Zero),
    spec!(SYS_getresgid, "getresgid", [Buf, Buf, Buf], Zero),
    spec!(SYS_getgroups, "getgroups", [Count, Buf], NonNegative),
    spec!(SYS_setgroups, "setgroups", [Count, Buf], Zero),
    spec!(SYS_setfsuid, "setfsuid", [Id], Any),
    spec!(SYS_setfsgid, "setfsgid", [Id], Any),
    spec!(SYS_capget, "capget", [CapHeader, Buf], Zero),
    spec!(SYS_capset, "capset", [CapHeader, Buf], Zero),
    // System.
    spec!(SYS_uname, "uname", [Buf], Zero),
    spec!(SYS_sethostname, "sethostname", [Buf, Len], Zero),
    spec!(SYS_setdomainname, "setdomainname", [Buf, Len], Zero),
    spec!(SYS_sysinfo, "sysinfo", [Buf], Zero),
    spec!(
        SYS_getrandom,
        "getrandom",
        [Buf, Len, Flags(GRND_FLAGS)],
        AtMost(1)
    ),
    spec!(SYS_getcpu, "getcpu", [Buf, Buf, Buf], Zero),
    spec!(SYS_rseq, "rseq", [Buf, Len, Int, Int], Zero),
    // Time.
    spec!(
        SYS_clock_gettime,
        "clock_gettime",
        [Choice(CLOCKS), Buf],
        Zero
    ),
    spec!(
        SYS_clock_getres,
        "clock_getres",
        [Choice(CLOCKS), Buf],
        Zero
    ),
    spec!(
        SYS_clock_nanosleep,
        "clock_nanosleep",
        [Choice(CLOCKS), Flags(TIMER_FLAGS), Timespec, Buf],
        Zero
    ),
    spec!(SYS_gettimeofday, "gettimeofday", [Buf, Buf], Zero),
    spec!(SYS_time, "time", [Buf], Any),
    spec!(SYS_nanosleep, "nanosleep", [Timespec, Buf], Zero),
    // Signals.
    spec!(
        SYS_rt_sigaction,
        "rt_sigaction",
        [Signal, SigAction, Buf, SigSetSize],
        Zero
    ),
    spec!(
        SYS_rt_sigprocmask,
        "rt_sigprocmask",
        [Choice(SIGPROCMASK_HOW), SigSet, Buf, SigSetSize],
        Zero
    ),
    spec!(SYS_rt_sigpending, "rt_sigpending", [Buf, SigSetSize], Zero),
    spec!(
        SYS_rt_sigtimedwait,
        "rt_sigtimedwait",
        [SigSet, Buf, Timespec, SigSetSize],
        NonNegative
    ),
    spec!(
        SYS_rt_sigqueueinfo,
        "rt_sigqueueinfo",
        [Pid, Signal, Buf],
        Zero
    ),
    spec!(
        SYS_rt_tgsigqueueinfo,
        "rt_tgsigqueueinfo",
        [Pid, Pid, Signal, Buf],
        Zero
    ),
    spec!(
        SYS_rt_sigsuspend,
        "rt_sigsuspend",
        [SigSet, SigSetSize],
        Any
    ),
    spec!(SYS_sigaltstack, "sigaltstack", [StackT, Buf], Zero),
    spec!(SYS_kill, "kill", [Pid, Signal], Zero),
    spec!(SYS_tkill, "tkill", [Pid, Signal], Zero),
    spec!(SYS_tgkill, "tgkill", [Pid, Pid, Signal], Zero),
    spec!(SYS_pause, "pause", [], Any),
];

/// A call's name by number, for reports (`sys_N` for numbers outside the table).
pub fn name(number: u64) -> String {
    SPECS
        .iter()
        .find(|spec| spec.number as u64 == number)
        .map_or_else(|| format!("sys_{number}"), |spec| spec.name.to_owned())
}
