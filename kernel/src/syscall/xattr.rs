//! Extended attributes: `setxattr`, `getxattr`, `listxattr`, `removexattr`, each by path
//! (following symlinks), by `l` path (not following) and by descriptor (`f`).
//!
//! Linux's namespace rules (`xattr_permission` and the capability module): `user.*` only
//! on regular files and directories, with write permission to set and read permission to
//! get (a sticky directory's only by its owner); `trusted.*` only with `CAP_SYS_ADMIN`
//! (others neither read nor list them); `security.*` readable by all, set with
//! `CAP_SYS_ADMIN`, or `CAP_SETFCAP` for `security.capability` (file capabilities);
//! `system.*` (ACLs) and unknown prefixes are `EOPNOTSUPP`. Names are at most 255 bytes
//! (`ERANGE`), values 64 KiB (`E2BIG`); a buffer too small for the answer is `ERANGE`,
//! and a size of 0 asks for the answer's size.

use alloc::sync::Arc;
use alloc::vec::Vec;

use vfs_core::attr::mode::{S_IFDIR, S_IFMT, S_IFREG, S_ISVTX};
use vfs_core::permission::Access as FileAccess;
use vfs_core::{Errno, Inode, Location, MountFlags, cap};

use super::{SysResult, read_in, read_path, write_out};
use crate::process::Process;

const XATTR_NAME_MAX: usize = 255;
const XATTR_SIZE_MAX: usize = 65536;
const XATTR_LIST_MAX: usize = 65536;

/// Which file a call names.
#[derive(Clone, Copy)]
pub enum Target {
    Path { address: u64, follow: bool },
    Descriptor(i32),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Namespace {
    User,
    Trusted,
    Security,
}

fn namespace(name: &[u8]) -> Result<Namespace, Errno> {
    let (namespace, rest) = if let Some(rest) = name.strip_prefix(b"user.") {
        (Namespace::User, rest)
    } else if let Some(rest) = name.strip_prefix(b"trusted.") {
        (Namespace::Trusted, rest)
    } else if let Some(rest) = name.strip_prefix(b"security.") {
        (Namespace::Security, rest)
    } else {
        return Err(Errno::EOPNOTSUPP);
    };
    if rest.is_empty() {
        return Err(Errno::EINVAL);
    }
    Ok(namespace)
}

fn locate(p: &mut Process, target: Target) -> Result<Location, Errno> {
    match target {
        Target::Descriptor(fd) => Ok(p.files.lock().get(fd)?.location().clone()),
        Target::Path { address, follow } => {
            let path = read_path(p, address)?;
            if path.is_empty() {
                return Err(Errno::ENOENT);
            }
            p.fs_context().resolve(vfs_core::At::Cwd, &path, follow)
        }
    }
}

fn read_name(p: &mut Process, address: u64) -> Result<Vec<u8>, Errno> {
    if address == 0 {
        return Err(Errno::EFAULT);
    }
    let name = p.mm.lock().read_c_string(address, XATTR_NAME_MAX + 1)?;
    if name.is_empty() || name.len() > XATTR_NAME_MAX {
        return Err(Errno::ERANGE);
    }
    Ok(name)
}

/// `xattr_permission` plus the capability checks, for `name` on `inode`.
fn check(p: &Process, inode: &Arc<dyn Inode>, name: &[u8], write: bool) -> Result<(), Errno> {
    let stat = inode.getattr()?;
    match namespace(name)? {
        Namespace::Security => {
            let needed = if name == b"security.capability" {
                cap::SETFCAP
            } else {
                cap::SYS_ADMIN
            };
            if write && !p.capable(needed) {
                return Err(Errno::EPERM);
            }
            Ok(())
        }
        Namespace::Trusted if !p.capable(cap::SYS_ADMIN) => {
            Err(if write { Errno::EPERM } else { Errno::ENODATA })
        }
        Namespace::Trusted => Ok(()),
        Namespace::User => {
            let kind = stat.mode & S_IFMT;
            if kind != S_IFREG && kind != S_IFDIR {
                return Err(if write { Errno::EPERM } else { Errno::ENODATA });
            }
            let owner = stat.uid == p.ids.euid || p.capable(cap::FOWNER);
            if write && kind == S_IFDIR && stat.mode & S_ISVTX != 0 && !owner {
                return Err(Errno::EPERM);
            }
            let access = if write {
                FileAccess::WRITE
            } else {
                FileAccess::READ
            };
            vfs_core::permission::check_access(&p.fs.lock().cred, &stat, access)
        }
    }
}

fn writable(location: &Location) -> Result<(), Errno> {
    if location.mount.flags().contains(MountFlags::RDONLY) {
        return Err(Errno::EROFS);
    }
    Ok(())
}

pub fn set(
    p: &mut Process,
    target: Target,
    name: u64,
    value: u64,
    size: u64,
    flags: u64,
) -> SysResult {
    if flags & !u64::from(vfs_core::inode::XATTR_CREATE | vfs_core::inode::XATTR_REPLACE) != 0 {
        return Err(Errno::EINVAL);
    }
    let name = read_name(p, name)?;
    if size as usize > XATTR_SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let value = read_in(p, value, size as usize)?;
    let location = locate(p, target)?;
    writable(&location)?;
    let inode = location.dentry.positive()?.clone();
    check(p, &inode, &name, true)?;
    if name == b"security.capability"
        && crate::process::caps::FileCapabilities::parse(&value).is_none()
    {
        return Err(Errno::EINVAL);
    }
    inode.set_xattr(&name, &value, flags as u32)?;
    Ok(0)
}

pub fn get(p: &mut Process, target: Target, name: u64, value: u64, size: u64) -> SysResult {
    let name = read_name(p, name)?;
    let location = locate(p, target)?;
    let inode = location.dentry.positive()?.clone();
    check(p, &inode, &name, false)?;
    let data = inode.get_xattr(&name)?;
    answer(p, &data, value, size)
}

pub fn list(p: &mut Process, target: Target, list: u64, size: u64) -> SysResult {
    let location = locate(p, target)?;
    let inode = location.dentry.positive()?.clone();
    let names = match inode.list_xattr() {
        Ok(names) => names,
        Err(Errno::EOPNOTSUPP) => Vec::new(),
        Err(errno) => return Err(errno),
    };
    let privileged = p.capable(cap::SYS_ADMIN);
    let mut data = Vec::new();
    for name in names {
        if name.starts_with(b"trusted.") && !privileged {
            continue;
        }
        data.extend_from_slice(&name);
        data.push(0);
    }
    if data.len() > XATTR_LIST_MAX {
        return Err(Errno::E2BIG);
    }
    answer(p, &data, list, size)
}

pub fn remove(p: &mut Process, target: Target, name: u64) -> SysResult {
    let name = read_name(p, name)?;
    let location = locate(p, target)?;
    writable(&location)?;
    let inode = location.dentry.positive()?.clone();
    check(p, &inode, &name, true)?;
    inode.remove_xattr(&name)?;
    Ok(0)
}

/// Copies `data` out, or says how long it is (`size` 0), or `ERANGE` if it does not fit.
fn answer(p: &mut Process, data: &[u8], address: u64, size: u64) -> SysResult {
    if size == 0 {
        return Ok(data.len() as u64);
    }
    if (size as usize) < data.len() {
        return Err(Errno::ERANGE);
    }
    write_out(p, address, data)?;
    Ok(data.len() as u64)
}
