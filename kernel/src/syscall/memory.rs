//! Memory system calls: `brk`, `mmap`, `munmap`, `mprotect`, `madvise`.

use vfs_core::PAGE_SIZE;
use vfs_core::{Errno, FileType};

use super::SysResult;
use crate::mm::address_space::PageSource;
use crate::mm::vma::{Protection, TASK_SIZE};
use crate::process::Process;

const MAP_SHARED: u64 = 0x1;
const MAP_PRIVATE: u64 = 0x2;
const MAP_SHARED_VALIDATE: u64 = 0x3;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_FIXED_NOREPLACE: u64 = 0x100000;
const PROT_ALL: u64 = 0x7;

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
    len.checked_next_multiple_of(PAGE_SIZE as u64)
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
    if !offset.is_multiple_of(PAGE_SIZE as u64) {
        return Err(Errno::EINVAL);
    }
    let source = if flags & MAP_ANONYMOUS != 0 {
        PageSource::Anonymous
    } else {
        let file = p.files.lock().get(fd)?.clone();
        if !file.flags().readable() {
            return Err(Errno::EACCES);
        }
        if file.inode().file_type() != FileType::Regular {
            return Err(Errno::ENODEV);
        }
        let stat = file.stat()?;
        crate::mm::page_cache::check_version(file.inode(), &stat);
        let size = stat.size;
        PageSource::File {
            inode: file.inode().clone(),
            location: file.location().clone(),
            offset,
            file_bytes: size.saturating_sub(offset),
        }
    };
    match flags & MAP_SHARED_VALIDATE {
        MAP_PRIVATE => {}
        // Shared anonymous memory behaves as private with one process; shared file writes
        // would need write-back, which this kernel does not do.
        MAP_SHARED | MAP_SHARED_VALIDATE if matches!(source, PageSource::Anonymous) => {}
        MAP_SHARED | MAP_SHARED_VALIDATE if !rights.contains(Protection::WRITE) => {}
        MAP_SHARED | MAP_SHARED_VALIDATE => return Err(Errno::ENODEV),
        _ => return Err(Errno::EINVAL),
    }
    // `get_unmapped_area`: a fixed range must end at or below `TASK_SIZE` (the last page
    // of the user half is never mapped), `ENOMEM` otherwise, before alignment is checked.
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 && address > TASK_SIZE - len {
        return Err(Errno::ENOMEM);
    }
    if flags & MAP_FIXED_NOREPLACE != 0 {
        return p.mm.lock().map_no_replace(address, len, rights, source);
    }
    if flags & MAP_FIXED != 0 {
        if !address.is_multiple_of(PAGE_SIZE as u64) {
            return Err(Errno::EINVAL);
        }
        return p.mm.lock().map_fixed(address, len, rights, source);
    }
    p.mm.lock()
        .map_anywhere(address & !(PAGE_SIZE as u64 - 1), len, rights, source)
}

pub fn munmap(p: &mut Process, address: u64, len: u64) -> SysResult {
    if !address.is_multiple_of(PAGE_SIZE as u64) {
        return Err(Errno::EINVAL);
    }
    let len = page_length(len).map_err(|_| Errno::EINVAL)?;
    p.mm.lock().unmap(address, len).map(|()| 0)
}

pub fn mprotect(p: &mut Process, address: u64, len: u64, prot: u64) -> SysResult {
    const PROT_GROWSDOWN: u64 = 0x0100_0000;
    const PROT_GROWSUP: u64 = 0x0200_0000;
    if !address.is_multiple_of(PAGE_SIZE as u64) {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let rights = protection(prot & !(PROT_GROWSDOWN | PROT_GROWSUP))?;
    let len = page_length(len)?;
    p.mm.lock().protect(address, len, rights).map(|()| 0)
}

/// `madvise`: advice only; `MADV_DONTNEED` on private anonymous memory must read back as
/// zeros, which dropping the pages gives.
pub fn madvise(p: &mut Process, address: u64, len: u64, advice: u64) -> SysResult {
    const MADV_DONTNEED: u64 = 4;
    if !address.is_multiple_of(PAGE_SIZE as u64) {
        return Err(Errno::EINVAL);
    }
    if advice == MADV_DONTNEED && len > 0 {
        p.mm.lock().discard(address, page_length(len)?)?;
    }
    Ok(0)
}
