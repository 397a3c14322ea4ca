//! System calls that name files by path: open, stat, the directory operations, links,
//! attributes, the working directory, and mount/umount2.

use alloc::vec::Vec;

use vfs_core::file::OpenFlags;
use vfs_core::permission::Access;
use vfs_core::{At, Errno, FileType, Location, MountFlags, RenameFlags, StatFs, TimeChange};

use super::{SysResult, read_in, read_path, with_at, write_out};
use crate::abi;
use crate::process::Process;

pub const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
pub const AT_REMOVEDIR: u64 = 0x200;
const AT_SYMLINK_FOLLOW: u64 = 0x400;
const AT_NO_AUTOMOUNT: u64 = 0x800;
const AT_EMPTY_PATH: u64 = 0x1000;
const AT_EACCESS: u64 = 0x200;
const AT_STATX_SYNC_TYPE: u64 = 0x6000;

/// A path argument, with `AT_EMPTY_PATH` meaning "the file `dirfd` names".
enum Target {
    Path(Vec<u8>),
    Descriptor,
}

fn target(p: &mut Process, address: u64, flags: u64) -> Result<Target, Errno> {
    let path = if address == 0 && flags & AT_EMPTY_PATH != 0 {
        Vec::new()
    } else {
        read_path(p, address)?
    };
    if path.is_empty() {
        return if flags & AT_EMPTY_PATH != 0 {
            Ok(Target::Descriptor)
        } else {
            Err(Errno::ENOENT)
        };
    }
    Ok(Target::Path(path))
}

fn locate(p: &mut Process, dirfd: i32, address: u64, flags: u64) -> Result<Location, Errno> {
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    match target(p, address, flags)? {
        Target::Descriptor => locate_descriptor(p, dirfd),
        Target::Path(path) => with_at(p, dirfd, |at| p.fs_context().resolve(at, &path, follow)),
    }
}

/// What `AT_EMPTY_PATH` names: the working directory or `dirfd`'s file.
fn locate_descriptor(p: &Process, dirfd: i32) -> Result<Location, Errno> {
    if dirfd == -100 {
        Ok(p.fs.lock().cwd.clone())
    } else {
        Ok(p.files.lock().get(dirfd)?.location().clone())
    }
}

pub fn openat(p: &mut Process, dirfd: i32, path: u64, flags: u64, mode: u64) -> SysResult {
    let path = read_path(p, path)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let flags = OpenFlags::from_bits_truncate(flags as u32);
    let file = with_at(p, dirfd, |at| {
        p.fs_context().open(at, &path, flags, mode as u32)
    })?;
    // `O_TRUNC` emptied a file that mappings may hold pages of.
    if flags.contains(OpenFlags::TRUNC) && file.inode().file_type() == FileType::Regular {
        super::memory::file_pages_changed(file.inode());
    }
    p.files
        .lock()
        .insert(file, flags.contains(OpenFlags::CLOEXEC))
        .map(|fd| fd as u64)
}

pub fn fstatat(p: &mut Process, dirfd: i32, path: u64, address: u64, flags: u64) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let stat = match target(p, path, flags)? {
        // A path goes through the context's `stat`, which answers a name an exclusive
        // filesystem holds the attributes of without caching a dentry for it.
        Target::Path(path) => {
            let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
            with_at(p, dirfd, |at| p.fs_context().stat(at, &path, follow))?
        }
        Target::Descriptor => locate_descriptor(p, dirfd)?.dentry.positive()?.getattr()?,
    };
    write_out(p, address, &abi::encode_stat(&stat)).map(|()| 0)
}

pub fn statx(
    p: &mut Process,
    dirfd: i32,
    path: u64,
    flags: u64,
    _mask: u64,
    address: u64,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0
        || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
    {
        return Err(Errno::EINVAL);
    }
    let location = locate(p, dirfd, path, flags)?;
    let stat = location.dentry.positive()?.getattr()?;
    write_out(p, address, &abi::encode_statx(&stat, location.mount.id())).map(|()| 0)
}

pub fn mkdirat(p: &mut Process, dirfd: i32, path: u64, mode: u64) -> SysResult {
    let path = read_path(p, path)?;
    with_at(p, dirfd, |at| p.fs_context().mkdir(at, &path, mode as u32)).map(|()| 0)
}

pub fn mknodat(p: &mut Process, dirfd: i32, path: u64, mode: u64, device: u64) -> SysResult {
    let path = read_path(p, path)?;
    let mode = if mode as u32 & vfs_core::attr::mode::S_IFMT == 0 {
        mode as u32 | vfs_core::attr::mode::S_IFREG
    } else {
        mode as u32
    };
    with_at(p, dirfd, |at| p.fs_context().mknod(at, &path, mode, device)).map(|()| 0)
}

pub fn unlinkat(p: &mut Process, dirfd: i32, path: u64, flags: u64) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let path = read_path(p, path)?;
    if flags & AT_REMOVEDIR != 0 {
        with_at(p, dirfd, |at| p.fs_context().rmdir(at, &path)).map(|()| 0)
    } else {
        with_at(p, dirfd, |at| p.fs_context().unlink(at, &path)).map(|()| 0)
    }
}

pub fn renameat2(
    p: &mut Process,
    old_dirfd: i32,
    old: u64,
    new_dirfd: i32,
    new: u64,
    flags: u64,
) -> SysResult {
    let flags = RenameFlags::from_bits(flags as u32).ok_or(Errno::EINVAL)?;
    let (old, new) = (read_path(p, old)?, read_path(p, new)?);
    let old_start = super::start_of(p, old_dirfd)?;
    let new_start = super::start_of(p, new_dirfd)?;
    let old_at = old_start.as_ref().map_or(At::Cwd, At::Dir);
    let new_at = new_start.as_ref().map_or(At::Cwd, At::Dir);
    p.fs_context()
        .rename(old_at, &old, new_at, &new, flags)
        .map(|()| 0)
}

pub fn linkat(
    p: &mut Process,
    old_dirfd: i32,
    old: u64,
    new_dirfd: i32,
    new: u64,
    flags: u64,
) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let (old, new) = (read_path(p, old)?, read_path(p, new)?);
    let old_start = super::start_of(p, old_dirfd)?;
    let new_start = super::start_of(p, new_dirfd)?;
    let old_at = old_start.as_ref().map_or(At::Cwd, At::Dir);
    let new_at = new_start.as_ref().map_or(At::Cwd, At::Dir);
    p.fs_context()
        .link(old_at, &old, new_at, &new, flags & AT_SYMLINK_FOLLOW != 0)
        .map(|()| 0)
}

pub fn symlinkat(p: &mut Process, target: u64, dirfd: i32, path: u64) -> SysResult {
    let (target, path) = (read_path(p, target)?, read_path(p, path)?);
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    with_at(p, dirfd, |at| p.fs_context().symlink(&target, at, &path)).map(|()| 0)
}

pub fn readlinkat(p: &mut Process, dirfd: i32, path: u64, buf: u64, size: u64) -> SysResult {
    if (size as i64) <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = read_path(p, path)?;
    let target = with_at(p, dirfd, |at| p.fs_context().readlink(at, &path))?;
    let kept = &target[..target.len().min(size as usize)];
    write_out(p, buf, kept)?;
    Ok(kept.len() as u64)
}

pub fn faccessat(p: &mut Process, dirfd: i32, path: u64, mode: u64, flags: u64) -> SysResult {
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = read_path(p, path)?;
    // access(2) checks with the real ids unless AT_EACCESS asks for the effective ones.
    let mut context = p.fs_context();
    if flags & AT_EACCESS == 0 {
        context.cred.uid = p.ids.uid;
        context.cred.gid = p.ids.gid;
        // `access_override_creds`: a real uid 0 checks with its permitted set, any
        // other real uid with no capabilities.
        if p.caps.securebits & crate::process::caps::securebits::NO_SETUID_FIXUP == 0 {
            context.cred.caps = if p.ids.uid == 0 { p.caps.permitted } else { 0 };
        }
    }
    let start = super::start_of(p, dirfd)?;
    let at = start.as_ref().map_or(At::Cwd, At::Dir);
    if mode == 0 {
        return context
            .resolve(at, &path, flags & AT_SYMLINK_NOFOLLOW == 0)
            .map(|_| 0);
    }
    let wanted = Access::from_bits_truncate(mode as u32);
    context.access(at, &path, wanted).map(|()| 0)
}

pub fn fchmodat(p: &mut Process, dirfd: i32, path: u64, mode: u64) -> SysResult {
    let path = read_path(p, path)?;
    with_at(p, dirfd, |at| p.fs_context().chmod(at, &path, mode as u32)).map(|()| 0)
}

pub fn fchownat(
    p: &mut Process,
    dirfd: i32,
    path: u64,
    uid: u64,
    gid: u64,
    flags: u64,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let location = locate(p, dirfd, path, flags)?;
    p.fs_context()
        .chown_location(
            &location,
            super::files::owner_id(uid),
            super::files::owner_id(gid),
        )
        .map(|()| 0)
}

const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

fn time_change(sec: i64, nsec: i64) -> Result<Option<TimeChange>, Errno> {
    match nsec {
        UTIME_NOW => Ok(Some(TimeChange::Now)),
        UTIME_OMIT => Ok(None),
        0..=999_999_999 => Ok(Some(TimeChange::At(vfs_core::Timespec::new(
            sec,
            nsec as u32,
        )))),
        _ => Err(Errno::EINVAL),
    }
}

pub fn utimensat(p: &mut Process, dirfd: i32, path: u64, times: u64, flags: u64) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let (atime, mtime) = if times == 0 {
        (Some(TimeChange::Now), Some(TimeChange::Now))
    } else {
        let raw = read_in(p, times, 32)?;
        let field = |offset| abi::read_u64(&raw, offset) as i64;
        (
            time_change(field(0), field(8))?,
            time_change(field(16), field(24))?,
        )
    };
    if path == 0 && dirfd != -100 {
        // utimensat(fd, NULL, ...) is futimens; with AT_FDCWD the NULL is a bad path.
        return super::files::futimens(p, dirfd, (atime, mtime));
    }
    let location = locate(p, dirfd, path, flags)?;
    if atime.is_none() && mtime.is_none() {
        return Ok(0);
    }
    p.fs_context()
        .utimens_location(&location, atime, mtime)
        .map(|()| 0)
}

pub fn truncate(p: &mut Process, path: u64, length: u64) -> SysResult {
    if (length as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let path = read_path(p, path)?;
    let context = p.fs_context();
    context.truncate(At::Cwd, &path, length)?;
    // Pages cut off the end leave the mappings that hold them.
    if let Ok(location) = context.resolve(At::Cwd, &path, true) {
        super::memory::file_pages_changed(location.dentry.positive()?);
    }
    Ok(0)
}

/// `statfs` of the filesystem holding `location`, with the mount's flags.
pub fn statfs_of(location: &Location) -> Result<StatFs, Errno> {
    const ST_RELATIME: u64 = 4096;
    let mut stats = location.mount.fs().statfs()?;
    let flags = location.mount.flags();
    stats.flags = u64::from(flags.bits())
        | if flags.contains(MountFlags::NOATIME) {
            0
        } else {
            ST_RELATIME
        };
    Ok(stats)
}

pub fn statfs(p: &mut Process, path: u64, address: u64) -> SysResult {
    let path = read_path(p, path)?;
    let location = p.fs_context().resolve(At::Cwd, &path, true)?;
    let stats = statfs_of(&location)?;
    write_out(
        p,
        address,
        &abi::encode_statfs(&stats, location.mount.fs().dev()),
    )
    .map(|()| 0)
}

pub fn getcwd(p: &mut Process, buf: u64, size: u64) -> SysResult {
    let mut cwd = p.fs_context().getcwd()?;
    cwd.push(0);
    if (size as usize) < cwd.len() {
        return Err(Errno::ERANGE);
    }
    write_out(p, buf, &cwd)?;
    Ok(cwd.len() as u64)
}

pub fn chdir(p: &mut Process, path: u64) -> SysResult {
    let path = read_path(p, path)?;
    let mut fs = p.fs_context();
    fs.chdir(At::Cwd, &path)?;
    p.fs.lock().cwd = fs.cwd;
    Ok(0)
}

pub fn chroot(p: &mut Process, path: u64) -> SysResult {
    let path = read_path(p, path)?;
    let mut fs = p.fs_context();
    fs.chroot(At::Cwd, &path)?;
    p.fs.lock().root = fs.root;
    Ok(0)
}

pub fn umask(p: &mut Process, mask: u64) -> SysResult {
    let mut fs = p.fs.lock();
    let old = fs.umask;
    fs.umask = mask as u32 & 0o777;
    Ok(u64::from(old))
}

const MS_REMOUNT: u64 = 32;
const MS_BIND: u64 = 4096;
const MS_REC: u64 = 16384;

/// `mount(2)`, with `CAP_SYS_ADMIN` only: bind mounts, and new instances of the filesystems the kernel
/// can make (`tmpfs`, `proc`, `sysfs`…; see `crate::fs::make`).
pub fn mount(
    p: &mut Process,
    source: u64,
    target: u64,
    fs_type: u64,
    flags: u64,
    data: u64,
) -> SysResult {
    if !p.capable(vfs_core::cap::SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    let target = read_path(p, target)?;
    let location = p.fs_context().resolve(At::Cwd, &target, true)?;
    if flags & MS_REMOUNT != 0 {
        if !location.is_mount_root() {
            return Err(Errno::EINVAL);
        }
        // A locked mount (read-only or masked by the spec) keeps its flags: EPERM.
        p.fs.lock()
            .ns
            .remount(&location.mount, MountFlags::from_ms(flags))?;
        return Ok(0);
    }
    if flags & MS_BIND != 0 {
        let source = read_path(p, source)?;
        let _recursive = flags & MS_REC != 0;
        return p
            .fs_context()
            .bind_mount(
                At::Cwd,
                &source,
                At::Cwd,
                &target,
                MountFlags::from_ms(flags),
            )
            .map(|_| 0);
    }
    let fs_type = read_path(p, fs_type)?;
    let source = if source == 0 {
        b"none".to_vec()
    } else {
        read_path(p, source)?
    };
    let data = if data == 0 {
        Vec::new()
    } else {
        p.mm.lock().read_c_string(data, 4095)?
    };
    let data = core::str::from_utf8(&data).map_err(|_| Errno::EINVAL)?;
    let fs_type = core::str::from_utf8(&fs_type).map_err(|_| Errno::ENODEV)?;
    let filesystem = crate::fs::make(fs_type, data)?;
    // A fresh proc or sysfs would show what the spec's masked and read-only paths hide
    // (Linux's `mount_too_revealing` for a namespace that inherited locked mounts).
    let whole_system = matches!(filesystem.fs_type(), "proc" | "sysfs");
    if whole_system
        && p.fs
            .lock()
            .ns
            .mount_too_revealing(filesystem.fs_type(), MountFlags::from_ms(flags))
    {
        return Err(Errno::EPERM);
    }
    let source = core::str::from_utf8(&source).unwrap_or("none");
    p.fs_context()
        .mount(
            At::Cwd,
            &target,
            filesystem,
            source,
            MountFlags::from_ms(flags),
        )
        .map(|_| 0)
}

pub fn umount2(p: &mut Process, target: u64, flags: u64) -> SysResult {
    const MNT_FORCE: u64 = 1;
    const MNT_DETACH: u64 = 2;
    const MNT_EXPIRE: u64 = 4;
    const UMOUNT_NOFOLLOW: u64 = 8;
    if !p.capable(vfs_core::cap::SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    if flags & !(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0
        || (flags & MNT_EXPIRE != 0 && flags & (MNT_FORCE | MNT_DETACH) != 0)
    {
        return Err(Errno::EINVAL);
    }
    let target = read_path(p, target)?;
    p.fs_context()
        .unmount(At::Cwd, &target, flags & MNT_DETACH != 0)
        .map(|()| 0)
}

/// `name_to_handle_at(dirfd, path, handle, mount_id, flags)`: the flags (`EINVAL`) and
/// the path are checked as Linux checks them; then `EOPNOTSUPP`, Linux's answer for a
/// filesystem with no export operations, which none of ours has (no handle could be
/// opened again: see `open_by_handle_at`).
pub fn name_to_handle_at(
    p: &mut Process,
    dirfd: i32,
    path: u64,
    _handle: u64,
    _mount_id: u64,
    flags: u64,
) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let follow = if flags & AT_SYMLINK_FOLLOW != 0 {
        0
    } else {
        AT_SYMLINK_NOFOLLOW
    };
    locate(p, dirfd, path, follow | (flags & AT_EMPTY_PATH))?;
    Err(Errno::EOPNOTSUPP)
}

/// `MAX_HANDLE_SZ`: the longest `f_handle` `open_by_handle_at` reads.
const MAX_HANDLE_SZ: u32 = 128;

/// `open_by_handle_at(mount_fd, handle, flags)`, as Linux's `handle_to_path` orders its
/// checks: `CAP_DAC_READ_SEARCH` (`EPERM`), the `struct file_handle` (`EFAULT`, and
/// `EINVAL` for a `handle_bytes` of 0 or past `MAX_HANDLE_SZ`), the mount descriptor
/// (`EBADF`); then `ESTALE`, what `exportfs_decode_fh` says on a filesystem without export
/// operations: no handle names a file here.
pub fn open_by_handle_at(p: &mut Process, mount_fd: i32, handle: u64, _flags: u64) -> SysResult {
    if !p.capable(vfs_core::cap::DAC_READ_SEARCH) {
        return Err(Errno::EPERM);
    }
    let header = read_in(p, handle, 8)?;
    let bytes = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    if bytes == 0 || bytes > MAX_HANDLE_SZ {
        return Err(Errno::EINVAL);
    }
    read_in(p, handle + 8, bytes as usize)?;
    if mount_fd != -100 {
        p.files.lock().get(mount_fd)?;
    }
    Err(Errno::ESTALE)
}
