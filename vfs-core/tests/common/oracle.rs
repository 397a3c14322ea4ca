//! The differential harness: one operation vocabulary run both on vfs-core and on the
//! host kernel (through libc, inside a chroot so absolute paths and symlinks mean the
//! same on both sides), with results compared operation by operation and the final
//! trees compared entry by entry.
#![allow(dead_code)]

use proptest::prelude::*;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use vfs_core::*;

/// Operations of the random sequences. Paths are byte strings valid on both sides.
#[derive(Clone, Debug)]
pub enum Op {
    Mkdir(String, u32),
    Open(String, u32, u32),
    Write {
        path: String,
        offset: u64,
        len: u16,
        byte: u8,
        append: bool,
    },
    Read(String, u64, u16),
    Truncate(String, u64),
    Unlink(String),
    Rmdir(String),
    Rename(String, String, u32),
    Link(String, String),
    Symlink(String, String),
    MknodSocket(String),
    /// A 0/0 character device: an overlay whiteout when it sits in a lower layer.
    MknodWhiteout(String),
    Readlink(String),
    Chmod(String, u32),
    Chown(String, Option<u32>, Option<u32>),
    /// `utimensat`: `None` is `UTIME_NOW` for both, `Some` sets both to that second.
    Utimens(String, Option<i64>, bool),
    /// `faccessat(…, AT_EACCESS)` with a `R_OK|W_OK|X_OK` mask.
    Access(String, u32),
    Stat(String, bool),
    List(String),
    /// `open(O_RDONLY)` then `lseek(offset, whence)` with whence 0..=4 (SET, CUR, END,
    /// DATA, HOLE).
    Seek(String, i64, u8),
}

/// What an operation returned, in a form both sides produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Value(u64),
    Bytes(Vec<u8>),
    /// File contents in snapshots: length and a hash, so a failure report stays readable.
    Contents(usize, u64),
    Stat {
        kind: u32,
        perm: u32,
        size: u64,
        nlink: u64,
        blocks: u64,
        uid: u32,
        gid: u32,
    },
    Names(Vec<Vec<u8>>),
    Failed(i32),
}

const NAMES: &[&str] = &["a", "b", "c", "a", "b", "a", "b", "a", ".", "..", "m"];

fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        20 => proptest::sample::select(NAMES).prop_map(String::from),
        1 => Just("n".repeat(256)),
    ]
}

pub fn path() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        proptest::collection::vec(component(), 0..3),
        0u8..8,
    )
        .prop_map(|(absolute, parts, slash)| {
            let mut path = parts.join("/");
            if absolute || path.is_empty() {
                path.insert(0, '/');
            }
            if slash == 0 && !path.ends_with('/') {
                path.push('/');
            }
            path
        })
}

fn symlink_target() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => path(),
        1 => Just("a/".repeat(70)),
        1 => Just(String::from("missing/x")),
    ]
}

const OPEN_FLAGS: &[u32] = &[
    0,
    0o1,
    0o2,
    0o1 | 0o100,
    0o2 | 0o100 | 0o200,
    0o1 | 0o1000,
    0o200000,
    0o400000,
    0o1 | 0o100 | 0o1000,
    0o100 | 0o200000,
    0o10000000,
    0o10000000 | 0o400000,
    0o1000,
    0o1 | 0o2000 | 0o100,
    0o2 | 0o200000,
    0o100 | 0o400000,
    0o1000000,
    0o1 | 0o100 | 0o1000000,
];

pub fn op() -> impl Strategy<Value = Op> {
    let mode = proptest::sample::select(
        &[
            0o755u32, 0o644, 0o700, 0o1777, 0o2755, 0o4755, 0, 0o777, 0o666, 0o2777,
        ][..],
    );
    let id = proptest::option::of(proptest::sample::select(&[0u32, 1000, 1001, 50][..]));
    prop_oneof![
        4 => (path(), mode.clone()).prop_map(|(p, m)| Op::Mkdir(p, m)),
        4 => (path(), proptest::sample::select(OPEN_FLAGS), mode.clone()).prop_map(|(p, f, m)| Op::Open(p, f, m)),
        6 => (path(), 0u64..20000, 0u16..9000, any::<u8>(), any::<bool>())
            .prop_map(|(path, offset, len, byte, append)| Op::Write { path, offset, len, byte, append }),
        2 => (path(), 0u64..20000, 0u16..9000).prop_map(|(p, o, l)| Op::Read(p, o, l)),
        2 => (path(), 0u64..30000).prop_map(|(p, l)| Op::Truncate(p, l)),
        2 => path().prop_map(Op::Unlink),
        2 => path().prop_map(Op::Rmdir),
        3 => (path(), path(), proptest::sample::select(&[0u32, 0, 1, 2, 3][..])).prop_map(|(a, b, f)| Op::Rename(a, b, f)),
        2 => (path(), path()).prop_map(|(a, b)| Op::Link(a, b)),
        2 => (symlink_target(), path()).prop_map(|(t, p)| Op::Symlink(t, p)),
        1 => path().prop_map(Op::MknodSocket),
        1 => path().prop_map(Op::Readlink),
        2 => (path(), mode).prop_map(|(p, m)| Op::Chmod(p, m)),
        1 => (path(), id.clone(), id).prop_map(|(p, u, g)| Op::Chown(p, u, g)),
        1 => (path(), proptest::option::of(0i64..100), any::<bool>()).prop_map(|(p, t, f)| Op::Utimens(p, t, f)),
        1 => (path(), 0u32..8).prop_map(|(p, m)| Op::Access(p, m)),
        2 => (path(), any::<bool>()).prop_map(|(p, f)| Op::Stat(p, f)),
        2 => path().prop_map(Op::List),
        2 => (path(), -5i64..30000, 0u8..5).prop_map(|(p, o, w)| Op::Seek(p, o, w)),
    ]
}

fn stat_outcome(stat: &Stat) -> Outcome {
    Outcome::Stat {
        kind: stat.mode & 0o170000,
        perm: stat.mode & 0o7777,
        size: stat.size,
        nlink: stat.nlink,
        blocks: stat.blocks,
        uid: stat.uid,
        gid: stat.gid,
    }
}

fn fail(errno: Errno) -> Outcome {
    Outcome::Failed(errno.0)
}

/// Runs one operation on vfs-core.
pub fn run_vfs(ctx: &FsContext, op: &Op) -> Outcome {
    let outcome = (|| -> Result<Outcome> {
        Ok(match op {
            Op::Mkdir(path, mode) => ctx
                .mkdir(At::Cwd, path.as_bytes(), *mode)
                .map(|_| Outcome::Done)?,
            Op::Open(path, flags, mode) => {
                ctx.open(
                    At::Cwd,
                    path.as_bytes(),
                    OpenFlags::from_bits_retain(*flags),
                    *mode,
                )?;
                Outcome::Done
            }
            Op::Write {
                path,
                offset,
                len,
                byte,
                append,
            } => {
                let flags = if *append {
                    OpenFlags::WRONLY | OpenFlags::APPEND
                } else {
                    OpenFlags::WRONLY
                };
                let file = ctx.open(At::Cwd, path.as_bytes(), flags | OpenFlags::CREAT, 0o644)?;
                let data = vec![*byte; *len as usize];
                Outcome::Value(file.write_at(*offset, &data)? as u64)
            }
            Op::Read(path, offset, len) => {
                let file = ctx.open(At::Cwd, path.as_bytes(), OpenFlags::RDONLY, 0)?;
                let mut data = vec![0u8; *len as usize];
                let read = file.read_at(*offset, &mut data)?;
                data.truncate(read);
                digest(Outcome::Bytes(data))
            }
            Op::Truncate(path, len) => ctx
                .truncate(At::Cwd, path.as_bytes(), *len)
                .map(|_| Outcome::Done)?,
            Op::Unlink(path) => ctx
                .unlink(At::Cwd, path.as_bytes())
                .map(|_| Outcome::Done)?,
            Op::Rmdir(path) => ctx.rmdir(At::Cwd, path.as_bytes()).map(|_| Outcome::Done)?,
            Op::Rename(from, to, flags) => ctx
                .rename(
                    At::Cwd,
                    from.as_bytes(),
                    At::Cwd,
                    to.as_bytes(),
                    RenameFlags::from_bits_retain(*flags),
                )
                .map(|_| Outcome::Done)?,
            Op::Link(from, to) => ctx
                .link(At::Cwd, from.as_bytes(), At::Cwd, to.as_bytes(), false)
                .map(|_| Outcome::Done)?,
            Op::Symlink(target, path) => ctx
                .symlink(target.as_bytes(), At::Cwd, path.as_bytes())
                .map(|_| Outcome::Done)?,
            Op::MknodSocket(path) => ctx
                .mknod(At::Cwd, path.as_bytes(), 0o140644, 0)
                .map(|_| Outcome::Done)?,
            Op::MknodWhiteout(path) => ctx
                .mknod(At::Cwd, path.as_bytes(), 0o020000, 0)
                .map(|_| Outcome::Done)?,
            Op::Readlink(path) => Outcome::Bytes(ctx.readlink(At::Cwd, path.as_bytes())?),
            Op::Chmod(path, mode) => ctx
                .chmod(At::Cwd, path.as_bytes(), *mode)
                .map(|_| Outcome::Done)?,
            Op::Chown(path, uid, gid) => ctx
                .chown(At::Cwd, path.as_bytes(), *uid, *gid, true)
                .map(|_| Outcome::Done)?,
            Op::Utimens(path, time, follow) => {
                let time =
                    time.map_or(TimeChange::Now, |sec| TimeChange::At(Timespec::new(sec, 0)));
                ctx.utimens(At::Cwd, path.as_bytes(), Some(time), Some(time), *follow)
                    .map(|_| Outcome::Done)?
            }
            Op::Access(path, mask) => ctx
                .access(
                    At::Cwd,
                    path.as_bytes(),
                    vfs_core::permission::Access::from_bits_truncate(*mask),
                )
                .map(|_| Outcome::Done)?,
            Op::Stat(path, follow) => stat_outcome(&ctx.stat(At::Cwd, path.as_bytes(), *follow)?),
            Op::Seek(path, offset, whence) => {
                let file = ctx.open(At::Cwd, path.as_bytes(), OpenFlags::RDONLY, 0)?;
                let whence = [
                    Whence::Set,
                    Whence::Current,
                    Whence::End,
                    Whence::Data,
                    Whence::Hole,
                ][*whence as usize];
                Outcome::Value(file.seek(*offset, whence)?)
            }
            Op::List(path) => {
                let dir = ctx.open(
                    At::Cwd,
                    path.as_bytes(),
                    OpenFlags::RDONLY | OpenFlags::DIRECTORY,
                    0,
                )?;
                let mut names = Vec::new();
                dir.read_dir(&mut |entry| {
                    names.push(entry.name.to_vec());
                    true
                })?;
                names.sort();
                Outcome::Names(names)
            }
        })
    })();
    outcome.unwrap_or_else(fail)
}

fn c(path: &str) -> CString {
    CString::new(path).unwrap()
}

fn last_errno() -> Outcome {
    Outcome::Failed(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

fn check(ret: libc::c_int) -> Outcome {
    if ret < 0 { last_errno() } else { Outcome::Done }
}

struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        unsafe { libc::close(self.0) };
    }
}

fn open_fd(path: &str, flags: libc::c_int, mode: u32) -> std::result::Result<Fd, Outcome> {
    let fd = unsafe { libc::open(c(path).as_ptr(), flags | libc::O_CLOEXEC, mode) };
    if fd < 0 {
        Err(last_errno())
    } else {
        Ok(Fd(fd))
    }
}

fn host_stat(path: &str, follow: bool) -> Outcome {
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    let ret = unsafe {
        if follow {
            libc::stat(c(path).as_ptr(), &mut stat)
        } else {
            libc::lstat(c(path).as_ptr(), &mut stat)
        }
    };
    if ret < 0 {
        return last_errno();
    }
    Outcome::Stat {
        kind: stat.st_mode & 0o170000,
        perm: stat.st_mode & 0o7777,
        size: stat.st_size as u64,
        nlink: stat.st_nlink,
        blocks: stat.st_blocks as u64,
        uid: stat.st_uid,
        gid: stat.st_gid,
    }
}

/// Runs one operation on the host kernel (the caller has chrooted into a fresh tmpfs).
pub fn run_host(op: &Op) -> Outcome {
    let result = (|| -> std::result::Result<Outcome, Outcome> {
        Ok(match op {
            Op::Mkdir(path, mode) => check(unsafe { libc::mkdir(c(path).as_ptr(), *mode) }),
            Op::Open(path, flags, mode) => {
                open_fd(path, *flags as libc::c_int, *mode).map(|_| Outcome::Done)?
            }
            Op::Write {
                path,
                offset,
                len,
                byte,
                append,
            } => {
                let flags = if *append {
                    libc::O_WRONLY | libc::O_APPEND
                } else {
                    libc::O_WRONLY
                };
                let fd = open_fd(path, flags | libc::O_CREAT, 0o644)?;
                let data = vec![*byte; *len as usize];
                let written =
                    unsafe { libc::pwrite(fd.0, data.as_ptr().cast(), data.len(), *offset as i64) };
                if written < 0 {
                    last_errno()
                } else {
                    Outcome::Value(written as u64)
                }
            }
            Op::Read(path, offset, len) => {
                let fd = open_fd(path, libc::O_RDONLY, 0)?;
                let mut data = vec![0u8; *len as usize];
                let read = unsafe {
                    libc::pread(fd.0, data.as_mut_ptr().cast(), data.len(), *offset as i64)
                };
                if read < 0 {
                    return Ok(last_errno());
                }
                data.truncate(read as usize);
                digest(Outcome::Bytes(data))
            }
            Op::Truncate(path, len) => {
                check(unsafe { libc::truncate(c(path).as_ptr(), *len as i64) })
            }
            Op::Unlink(path) => check(unsafe { libc::unlink(c(path).as_ptr()) }),
            Op::Rmdir(path) => check(unsafe { libc::rmdir(c(path).as_ptr()) }),
            Op::Rename(from, to, flags) => check(unsafe {
                libc::renameat2(
                    libc::AT_FDCWD,
                    c(from).as_ptr(),
                    libc::AT_FDCWD,
                    c(to).as_ptr(),
                    *flags,
                )
            }),
            Op::Link(from, to) => check(unsafe { libc::link(c(from).as_ptr(), c(to).as_ptr()) }),
            Op::Symlink(target, path) => {
                check(unsafe { libc::symlink(c(target).as_ptr(), c(path).as_ptr()) })
            }
            Op::MknodSocket(path) => check(unsafe { libc::mknod(c(path).as_ptr(), 0o140644, 0) }),
            Op::MknodWhiteout(path) => check(unsafe { libc::mknod(c(path).as_ptr(), 0o020000, 0) }),
            Op::Readlink(path) => {
                let mut buf = vec![0u8; 8192];
                let len =
                    unsafe { libc::readlink(c(path).as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
                if len < 0 {
                    return Ok(last_errno());
                }
                buf.truncate(len as usize);
                Outcome::Bytes(buf)
            }
            Op::Chmod(path, mode) => check(unsafe { libc::chmod(c(path).as_ptr(), *mode) }),
            Op::Chown(path, uid, gid) => check(unsafe {
                libc::chown(
                    c(path).as_ptr(),
                    uid.unwrap_or(u32::MAX),
                    gid.unwrap_or(u32::MAX),
                )
            }),
            Op::Utimens(path, time, follow) => {
                let spec = match time {
                    None => libc::timespec {
                        tv_sec: 0,
                        tv_nsec: libc::UTIME_NOW,
                    },
                    Some(sec) => libc::timespec {
                        tv_sec: *sec,
                        tv_nsec: 0,
                    },
                };
                let times = [spec, spec];
                let flags = if *follow {
                    0
                } else {
                    libc::AT_SYMLINK_NOFOLLOW
                };
                check(unsafe {
                    libc::utimensat(libc::AT_FDCWD, c(path).as_ptr(), times.as_ptr(), flags)
                })
            }
            Op::Access(path, mask) => check(unsafe {
                libc::faccessat(
                    libc::AT_FDCWD,
                    c(path).as_ptr(),
                    *mask as i32,
                    libc::AT_EACCESS,
                )
            }),
            Op::Stat(path, follow) => host_stat(path, *follow),
            Op::Seek(path, offset, whence) => {
                let fd = open_fd(path, libc::O_RDONLY, 0)?;
                let position = unsafe { libc::lseek(fd.0, *offset, i32::from(*whence)) };
                if position < 0 {
                    last_errno()
                } else {
                    Outcome::Value(position as u64)
                }
            }
            Op::List(path) => {
                let _dir = open_fd(path, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
                let entries = std::fs::read_dir(path)
                    .map_err(|error| Outcome::Failed(error.raw_os_error().unwrap_or(0)))?;
                let mut names: Vec<Vec<u8>> = vec![b".".to_vec(), b"..".to_vec()];
                for entry in entries {
                    names.push(
                        entry
                            .map_err(|_| Outcome::Failed(0))?
                            .file_name()
                            .as_bytes()
                            .to_vec(),
                    );
                }
                names.sort();
                Outcome::Names(names)
            }
        })
    })();
    result.unwrap_or_else(|outcome| outcome)
}

/// Every entry under `/` with its stat, symlink target and contents, on vfs-core.
pub fn snapshot_vfs(ctx: &FsContext) -> Vec<(String, Outcome, Outcome)> {
    let mut out = Vec::new();
    let mut pending = vec![String::from("/")];
    while let Some(dir) = pending.pop() {
        let Outcome::Names(names) = run_vfs(ctx, &Op::List(dir.clone())) else {
            continue;
        };
        for name in names
            .into_iter()
            .filter(|name| name != b"." && name != b"..")
        {
            let path = format!("{}{}", dir, String::from_utf8(name).unwrap());
            let stat = run_vfs(ctx, &Op::Stat(path.clone(), false));
            let content = match &stat {
                Outcome::Stat { kind: 0o040000, .. } => {
                    pending.push(format!("{path}/"));
                    Outcome::Done
                }
                Outcome::Stat { kind: 0o120000, .. } => run_vfs(ctx, &Op::Readlink(path.clone())),
                Outcome::Stat {
                    kind: 0o100000,
                    size,
                    ..
                } => run_vfs(ctx, &Op::Read(path.clone(), 0, (*size).min(60000) as u16)),
                _ => Outcome::Done,
            };
            out.push((path, stat, content));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The same snapshot of the host tree.
pub fn snapshot_host() -> Vec<(String, Outcome, Outcome)> {
    let mut out = Vec::new();
    let mut pending = vec![String::from("/")];
    while let Some(dir) = pending.pop() {
        let Outcome::Names(names) = run_host(&Op::List(dir.clone())) else {
            continue;
        };
        for name in names
            .into_iter()
            .filter(|name| name != b"." && name != b"..")
        {
            let path = format!("{}{}", dir, String::from_utf8(name).unwrap());
            let stat = run_host(&Op::Stat(path.clone(), false));
            let content = match &stat {
                Outcome::Stat { kind: 0o040000, .. } => {
                    pending.push(format!("{path}/"));
                    Outcome::Done
                }
                Outcome::Stat { kind: 0o120000, .. } => run_host(&Op::Readlink(path.clone())),
                Outcome::Stat {
                    kind: 0o100000,
                    size,
                    ..
                } => run_host(&Op::Read(path.clone(), 0, (*size).min(60000) as u16)),
                _ => Outcome::Done,
            };
            out.push((path, stat, content));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Number of cases: `VFS_PROPTEST_CASES`, or `default`.
pub fn case_count(default: u32) -> u32 {
    std::env::var("VFS_PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Proptest runner with a fixed seed (`VFS_PROPTEST_SEED` to vary it) and no failure
/// files written into the tree.
pub fn runner(default_cases: u32) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{
        Config, FileFailurePersistence, RngAlgorithm, TestRng, TestRunner,
    };
    let seed: u64 = std::env::var("VFS_PROPTEST_SEED")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(0x5eed_f00d);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases: case_count(default_cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        max_shrink_iters: 2000,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    )
}

/// While alive, the process is chrooted into `dir`; dropping it (also on panic)
/// returns to the original root and working directory.
pub struct Chroot {
    old_root: libc::c_int,
}

impl Chroot {
    pub fn enter(dir: &std::path::Path) -> std::io::Result<Chroot> {
        let old_root = unsafe {
            libc::open(
                c("/").as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if old_root < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let dir = CString::new(dir.as_os_str().as_bytes()).unwrap();
        if unsafe { libc::chroot(dir.as_ptr()) } < 0 || unsafe { libc::chdir(c("/").as_ptr()) } < 0
        {
            let error = std::io::Error::last_os_error();
            unsafe { libc::close(old_root) };
            return Err(error);
        }
        Ok(Chroot { old_root })
    }
}

impl Drop for Chroot {
    fn drop(&mut self) {
        unsafe {
            libc::fchdir(self.old_root);
            libc::chroot(c(".").as_ptr());
            libc::chdir(c("/").as_ptr());
            libc::close(self.old_root);
        }
    }
}

/// Mounts a filesystem of type `fstype` on `path` (the caller unmounts, or a lazy
/// unmount of a parent takes it along).
pub fn mount_at(fstype: &str, path: &std::path::Path, options: &str) -> std::io::Result<()> {
    let target = CString::new(path.as_os_str().as_bytes()).unwrap();
    let ret = unsafe {
        libc::mount(
            c(fstype).as_ptr(),
            target.as_ptr(),
            c(fstype).as_ptr(),
            0,
            c(options).as_ptr().cast(),
        )
    };
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A fresh host tmpfs mounted on a temporary directory, unmounted on drop.
pub struct HostMount {
    pub dir: tempfile::TempDir,
}

impl HostMount {
    pub fn new(fstype: &str, options: &str) -> std::io::Result<HostMount> {
        let dir = tempfile::tempdir()?;
        mount_at(fstype, dir.path(), options)?;
        Ok(HostMount { dir })
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let target = CString::new(self.dir.path().as_os_str().as_bytes()).unwrap();
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

/// A coarse label of an outcome for the run's summary: "ok" or the errno name.
pub fn outcome_kind(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed(errno) => format!("{:?}", Errno(*errno)),
        _ => String::from("ok"),
    }
}

/// Who runs an operation: root, or one of two users (alice is in group 50).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Root,
    Alice,
    Bob,
}

impl Who {
    pub fn credentials(self) -> Credentials {
        match self {
            Who::Root => Credentials::root(),
            Who::Alice => Credentials::user(1000, 1000, &[50]),
            Who::Bob => Credentials::user(1001, 1001, &[]),
        }
    }
}

pub fn who() -> impl Strategy<Value = Who> {
    prop_oneof![2 => Just(Who::Root), 1 => Just(Who::Alice), 1 => Just(Who::Bob)]
}

/// Runs `op` on the host as `who`: the thread's fsuid, fsgid and groups are switched
/// with raw per-thread system calls (glibc would switch every thread), which also drops
/// the filesystem capabilities exactly as for a non-root user.
pub fn run_host_as(who: Who, op: &Op) -> Outcome {
    let cred = who.credentials();
    unsafe {
        libc::syscall(libc::SYS_setgroups, cred.groups.len(), cred.groups.as_ptr());
        libc::syscall(libc::SYS_setfsgid, cred.gid);
        libc::syscall(libc::SYS_setfsuid, cred.uid);
    }
    let outcome = run_host(op);
    unsafe {
        libc::syscall(libc::SYS_setfsuid, 0);
        libc::syscall(libc::SYS_setfsgid, 0);
        libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<u32>());
    }
    outcome
}

pub fn run_vfs_as(ctx: &FsContext, who: Who, op: &Op) -> Outcome {
    let mut as_who = ctx.clone();
    as_who.cred = who.credentials();
    run_vfs(&as_who, op)
}

fn digest(outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Bytes(bytes) => {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut hasher);
            Outcome::Contents(bytes.len(), hasher.finish())
        }
        other => other,
    }
}

/// Operations that fill a small tmpfs: big writes, links and long symlinks on a few
/// names, so `ENOSPC` (pages and inodes) is reached often.
pub fn space_op() -> impl Strategy<Value = Op> {
    let name =
        proptest::sample::select(&["/a", "/b", "/c", "/d", "/e", "/f"][..]).prop_map(String::from);
    prop_oneof![
        6 => (name.clone(), 0u64..40000, 0u16..20000, any::<u8>(), any::<bool>())
            .prop_map(|(path, offset, len, byte, append)| Op::Write { path, offset, len, byte, append }),
        2 => (name.clone(), 0u64..40000).prop_map(|(p, l)| Op::Truncate(p, l)),
        2 => name.clone().prop_map(Op::Unlink),
        1 => (name.clone(), name.clone()).prop_map(|(a, b)| Op::Link(a, b)),
        1 => name.clone().prop_map(|p| Op::Symlink("a/".repeat(70), p)),
        1 => name.clone().prop_map(|p| Op::Mkdir(p, 0o755)),
        1 => name.clone().prop_map(Op::Rmdir),
        1 => (name.clone(), name.clone()).prop_map(|(a, b)| Op::Rename(a, b, 0)),
        1 => name.clone().prop_map(|p| Op::Stat(p, false)),
        2 => (name, 0i64..40000, 3u8..5).prop_map(|(p, o, w)| Op::Seek(p, o, w)),
    ]
}

/// Operations that fill an overlay's lower layer: the usual ones plus whiteouts.
pub fn setup_op() -> impl Strategy<Value = Op> {
    prop_oneof![9 => op(), 1 => path().prop_map(Op::MknodWhiteout)]
}
