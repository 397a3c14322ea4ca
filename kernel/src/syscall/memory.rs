//! Memory system calls: `brk`, `mmap`, `munmap`, `mprotect`, `mremap`, `madvise`, and
//! `memfd_create` (a file whose reason to be is `mmap`).
//!
//! Shared memory: a `MAP_SHARED` mapping of a file whose pages can be shared (every tmpfs,
//! so `/dev/shm` and `shm_open`; `memfd_create`'s files; the unnamed file behind
//! `MAP_SHARED | MAP_ANONYMOUS`) maps the file's own pages, which `fork` leaves shared.
//! When a file loses pages (a truncate, `MADV_REMOVE`), every address space drops the
//! ones it still maps ([`file_pages_changed`]), as Linux's `unmap_mapping_range`.

use alloc::sync::Arc;
use alloc::vec::Vec;

use vfs_core::PAGE_SIZE;
use vfs_core::{Errno, FileType, Inode, OpenFile, OpenFlags};

use super::SysResult;
use crate::fs::shmem::{MEMFD_NAME_MAX, MemfdPlan};
use crate::mm::address_space::{PageSource, SharedMapping};
use crate::mm::advice::Advice;
use crate::mm::remap::RemapFlags;
use crate::mm::vma::{Protection, TASK_SIZE};
use crate::process::Process;

const MAP_SHARED: u64 = 0x1;
const MAP_PRIVATE: u64 = 0x2;
const MAP_SHARED_VALIDATE: u64 = 0x3;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_FIXED_NOREPLACE: u64 = 0x100000;
const PROT_ALL: u64 = 0x7;
const PAGE: u64 = PAGE_SIZE as u64;

pub fn brk(p: &mut Process, address: u64) -> SysResult {
    Ok(p.mm.lock().set_brk(address))
}

fn protection(prot: u64) -> Result<Protection, Errno> {
    if prot & !PROT_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Protection::from_bits_truncate(prot as u32))
}

fn page_length(len: u64) -> Result<u64, Errno> {
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    len.checked_next_multiple_of(PAGE)
        .filter(|&len| len <= TASK_SIZE)
        .ok_or(Errno::ENOMEM)
}

pub fn mmap(
    p: &mut Process,
    address: u64,
    len: u64,
    prot: u64,
    flags: u64,
    fd: i32,
    offset: u64,
) -> SysResult {
    let len = page_length(len)?;
    let rights = protection(prot)?;
    if !offset.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let file = match flags & MAP_ANONYMOUS {
        0 => Some(p.files.lock().get(fd)?.clone()),
        _ => None,
    };
    // `MAP_SHARED_VALIDATE` is for files only (an anonymous mapping knows no flag to
    // validate), as in Linux's `do_mmap`.
    let shared = match (flags & MAP_SHARED_VALIDATE, &file) {
        (MAP_PRIVATE, _) => false,
        (MAP_SHARED, _) | (MAP_SHARED_VALIDATE, Some(_)) => true,
        _ => return Err(Errno::EINVAL),
    };
    let source = match file {
        None => anonymous_source(p, len, shared)?,
        Some(file) => file_source(p, &file, offset, len, rights, shared)?,
    };
    // `get_unmapped_area`: a fixed range must end at or below `TASK_SIZE` (the last page
    // of the user half is never mapped), `ENOMEM` otherwise, before alignment is checked.
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 && address > TASK_SIZE - len {
        return Err(Errno::ENOMEM);
    }
    if flags & MAP_FIXED_NOREPLACE != 0 {
        return p.mm.lock().map_no_replace(address, len, rights, source);
    }
    if flags & MAP_FIXED != 0 {
        if !address.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        return p.mm.lock().map_fixed(address, len, rights, source);
    }
    p.mm.lock()
        .map_anywhere(address & !(PAGE - 1), len, rights, source)
}

/// Anonymous memory: private, or shared (`MAP_SHARED`: an unnamed tmpfs file of the
/// mapping's size, which `fork` leaves shared, as Linux's `shmem_zero_setup`).
fn anonymous_source(p: &Process, len: u64, shared: bool) -> Result<PageSource, Errno> {
    if !shared {
        return Ok(PageSource::Anonymous);
    }
    let (uid, gid) = fs_ids(p);
    let location = crate::fs::shmem::instance()?.anonymous(len, uid, gid)?;
    let inode = location.dentry.positive()?.clone();
    let writer = Some(inode.writable_mapping()?);
    Ok(PageSource::Shared(SharedMapping {
        inode,
        location,
        offset: 0,
        shared: true,
        writer,
    }))
}

/// The filesystem uid and gid new files get.
fn fs_ids(p: &Process) -> (u32, u32) {
    let fs = p.fs.lock();
    (fs.cred.uid, fs.cred.gid)
}

/// A file mapping, with Linux's `do_mmap` checks in its order: a shared writable mapping
/// needs the file open for writing and a private one reading (`EACCES`); `/dev/zero` is
/// anonymous memory; other non-regular files cannot be mapped (`ENODEV`). A file whose
/// pages can be shared maps them; another (9p) is copied, and shared writable is `ENODEV`.
fn file_source(
    p: &Process,
    file: &Arc<OpenFile>,
    offset: u64,
    len: u64,
    rights: Protection,
    shared: bool,
) -> Result<PageSource, Errno> {
    let writable_fd = file.flags().writable();
    if shared && rights.contains(Protection::WRITE) && !writable_fd {
        return Err(Errno::EACCES);
    }
    if !file.flags().readable() {
        return Err(Errno::EACCES);
    }
    let inode = file.inode();
    if inode.file_type() == FileType::CharDevice && inode.getattr()?.rdev == crate::fs::dev::ZERO {
        return anonymous_source(p, len, shared);
    }
    if inode.file_type() != FileType::Regular {
        return Err(Errno::ENODEV);
    }
    // `file_mmap_ok`: the mapping's end must be a file offset.
    if offset
        .checked_add(len)
        .is_none_or(|end| end > i64::MAX as u64)
    {
        return Err(Errno::EOVERFLOW);
    }
    let data = inode.data_inode().unwrap_or_else(|| inode.clone());
    if data.shares_pages() {
        // Through a descriptor open for writing, a shared mapping may write (now or after
        // an mprotect) and is counted against `F_SEAL_WRITE`; sealed, only a read-only
        // mapping is allowed, and it stays one (Linux's `memfd_check_seals_mmap`).
        let writer = match (shared && writable_fd, data.writable_mapping()) {
            (false, _) => None,
            (true, Ok(writer)) => Some(writer),
            (true, Err(Errno::EPERM)) if !rights.contains(Protection::WRITE) => None,
            (true, Err(error)) => return Err(error),
        };
        return Ok(PageSource::Shared(SharedMapping {
            inode: data,
            location: file.location().clone(),
            offset,
            shared,
            writer,
        }));
    }
    // Writing through a shared mapping of a file copied into private pages would need
    // write-back, which this kernel does not do.
    if shared && rights.contains(Protection::WRITE) {
        return Err(Errno::ENODEV);
    }
    let stat = file.stat()?;
    crate::mm::page_cache::check_version(inode, &stat);
    Ok(PageSource::File {
        inode: inode.clone(),
        location: file.location().clone(),
        offset,
        file_bytes: stat.size.saturating_sub(offset),
    })
}

pub fn munmap(p: &mut Process, address: u64, len: u64) -> SysResult {
    if !address.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let len = page_length(len).map_err(|_| Errno::EINVAL)?;
    p.mm.lock().unmap(address, len).map(|()| 0)
}

pub fn mprotect(p: &mut Process, address: u64, len: u64, prot: u64) -> SysResult {
    const PROT_GROWSDOWN: u64 = 0x0100_0000;
    const PROT_GROWSUP: u64 = 0x0200_0000;
    if !address.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let rights = protection(prot & !(PROT_GROWSDOWN | PROT_GROWSUP))?;
    let len = page_length(len)?;
    p.mm.lock().protect(address, len, rights).map(|()| 0)
}

/// `mremap(old, old_len, new_len, flags, new_addr)`: the checks of the arguments alone,
/// in the order of Linux's `check_mremap_params`; the rest is `AddressSpace::remap`.
pub fn mremap(
    p: &mut Process,
    old: u64,
    old_len: u64,
    new_len: u64,
    flags: u64,
    new_addr: u64,
) -> SysResult {
    const MREMAP_MAYMOVE: u64 = 1;
    const MREMAP_FIXED: u64 = 2;
    const MREMAP_DONTUNMAP: u64 = 4;
    // `PAGE_ALIGN`, which wraps: a length within a page of the top is 0.
    let align = |len: u64| len.wrapping_add(PAGE - 1) & !(PAGE - 1);
    let (old_len, new_len) = (align(old_len), align(new_len));
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
        || !old.is_multiple_of(PAGE)
        || new_len == 0
        // The new range must fit below `TASK_SIZE`, whether or not it is asked for.
        || new_len > TASK_SIZE
        || new_addr > TASK_SIZE - new_len
    {
        return Err(Errno::EINVAL);
    }
    let flags = RemapFlags {
        may_move: flags & MREMAP_MAYMOVE != 0,
        fixed: flags & MREMAP_FIXED != 0,
        dont_unmap: flags & MREMAP_DONTUNMAP != 0,
    };
    if flags.fixed || flags.dont_unmap {
        // A move to `new_addr` (a hint for `MREMAP_DONTUNMAP` alone) needs it aligned,
        // permission to move, no resize with `MREMAP_DONTUNMAP`, and no overlap.
        let overlaps = old.wrapping_add(old_len) > new_addr && new_addr + new_len > old;
        if !new_addr.is_multiple_of(PAGE)
            || !flags.may_move
            || (flags.dont_unmap && old_len != new_len)
            || overlaps
        {
            return Err(Errno::EINVAL);
        }
    }
    p.mm.lock().remap(old, old_len, new_len, flags, new_addr)
}

/// `madvise`: Linux's checks in its order (the advice, then the start's alignment, then
/// the length), then the advice area by area (`AddressSpace::advise`).
pub fn madvise(p: &mut Process, address: u64, len: u64, advice: u64) -> SysResult {
    let advice = Advice::from_linux(advice).ok_or(Errno::EINVAL)?;
    if !address.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let aligned = len.wrapping_add(PAGE - 1) & !(PAGE - 1);
    // A length rounded up from near the top to zero.
    if len != 0 && aligned == 0 {
        return Err(Errno::EINVAL);
    }
    let end = address.checked_add(aligned).ok_or(Errno::EINVAL)?;
    if end == address {
        return Ok(0);
    }
    let mut punched = Vec::new();
    let result = p.mm.lock().advise(address, end, advice, &mut punched);
    for inode in &punched {
        file_pages_changed(inode);
    }
    result.map(|()| 0)
}

/// `memfd_create(name, flags)`: a new file in the kernel's unnamed tmpfs, open for
/// reading and writing, shown as `/memfd:NAME (deleted)`.
pub fn memfd_create(p: &mut Process, name: u64, flags: u64) -> SysResult {
    // `flags` is an `unsigned int`: the upper half of the register is not looked at.
    let plan = MemfdPlan::from_flags(flags as u32)?;
    if name == 0 {
        return Err(Errno::EFAULT);
    }
    let name =
        p.mm.lock()
            .read_c_string(name, MEMFD_NAME_MAX)
            .map_err(|error| match error {
                Errno::ENAMETOOLONG => Errno::EINVAL,
                other => other,
            })?;
    let cred = p.fs.lock().cred.clone();
    let location = crate::fs::shmem::instance()?.memfd(&name, &plan, cred.uid, cred.gid)?;
    let file = OpenFile::anonymous(location, cred, OpenFlags::RDWR, None)?;
    p.files
        .lock()
        .insert(file, plan.close_on_exec)
        .map(|fd| fd as u64)
}

/// A file lost pages (truncated, a hole punched): every address space drops the pages
/// it maps from the file that are no longer the file's, so the next touch sees the file
/// as it is now. Called with no lock held: the address spaces are locked one at a time.
pub fn file_pages_changed(inode: &Arc<dyn Inode>) {
    let data = inode.data_inode().unwrap_or_else(|| inode.clone());
    if !data.shares_pages() {
        return;
    }
    let tasks: Vec<_> = {
        let table = crate::task::table::TABLE.lock();
        table
            .pids_with_tasks()
            .into_iter()
            .filter_map(|pid| table.get(pid).and_then(|entry| entry.task.clone()))
            .collect()
    };
    let mut seen: Vec<*const ()> = Vec::new();
    for task in tasks {
        let Some(mm) = task.parts().mm else {
            continue;
        };
        // Threads share one address space: visit it once.
        let key = Arc::as_ptr(&mm).cast::<()>();
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        mm.lock().forget_file_pages(&data);
    }
}
