//! The calls about a file's storage rather than its bytes: `fallocate`, `fsync` and
//! `fdatasync`, `sync_file_range`, `syncfs` and `sync`.
//!
//! The only data the kernel still has to write is what `MAP_SHARED` mappings stored in
//! 9p files' page caches ([`crate::mm::writeback`]): tmpfs is memory, and 9p writes go to
//! the server as they are made (its `fsync` asks the server to sync, `Tfsync`). So the
//! sync calls check their arguments as Linux does, write those pages back, and sync what
//! there is to sync; `fallocate` is the filesystem's ([`vfs_core::OpenFile::allocate`]).

use alloc::sync::Arc;

use vfs_core::{Errno, FileType, OpenFile, OpenFlags};

use super::SysResult;
use super::files;
use crate::abi::io_args;
use crate::process::Process;

/// The descriptor as `fdget` gives it: an `O_PATH` one is `EBADF` for these calls.
fn plain_file(p: &Process, fd: i32) -> Result<Arc<OpenFile>, Errno> {
    let file = files::file(p, fd)?;
    if file.flags().contains(OpenFlags::PATH) {
        return Err(Errno::EBADF);
    }
    Ok(file)
}

/// `fallocate(fd, mode, offset, len)`.
pub fn fallocate(p: &mut Process, fd: i32, mode: u64, offset: u64, len: u64) -> SysResult {
    let file = plain_file(p, fd)?;
    let mode = mode as u32;
    file.allocate(mode, offset as i64, len as i64)?;
    files::changed(&file);
    // Punched pages leave the mappings that held them, as after a truncate.
    if mode & vfs_core::file::falloc::PUNCH_HOLE != 0 {
        super::memory::file_pages_changed(file.inode());
    }
    Ok(0)
}

/// `fsync` and `fdatasync`: a pipe, socket or character device has no `fsync` in Linux
/// (`EINVAL`); for anything else, first what shared mappings stored in the file is written
/// back (with any earlier write-back error of the file), then its filesystem syncs it.
pub fn fsync(p: &mut Process, fd: i32) -> SysResult {
    let file = plain_file(p, fd)?;
    if matches!(
        file.inode().file_type(),
        FileType::Fifo | FileType::Socket | FileType::CharDevice
    ) {
        return Err(Errno::EINVAL);
    }
    crate::mm::writeback::sync_file(file.inode())?;
    file.inode().fsync().map(|()| 0)
}

/// `sync_file_range(fd, offset, nbytes, flags)`: starts or waits for the writeback of
/// dirty pages in the range. Once the arguments pass Linux's checks (`EINVAL`) and the
/// file is one that has pages (`ESPIPE` for a pipe, socket or device), a regular file's
/// mapped stores are written back (all of the file's: write-back is synchronous here).
pub fn sync_file_range(
    p: &mut Process,
    fd: i32,
    offset: u64,
    nbytes: u64,
    flags: u64,
) -> SysResult {
    let file = plain_file(p, fd)?;
    io_args::check_sync_range(offset as i64, nbytes as i64, flags)?;
    match file.inode().file_type() {
        FileType::Regular => crate::mm::writeback::sync_file(file.inode()).map(|()| 0),
        FileType::Directory | FileType::Symlink => Ok(0),
        _ => Err(Errno::ESPIPE),
    }
}

/// `syncfs(fd)`: for a valid descriptor, every file's mapped stores are written back.
pub fn syncfs(p: &mut Process, fd: i32) -> SysResult {
    plain_file(p, fd)?;
    crate::mm::writeback::sync_all();
    Ok(0)
}

/// `sync`: every file's mapped stores go back to their files. Never fails.
pub fn sync() -> SysResult {
    crate::mm::writeback::sync_all();
    Ok(0)
}
