//! Memory system calls: `brk`, `mmap`, `munmap`, `mprotect`, `mremap`, `madvise`,
//! `msync`, `mincore`, and `memfd_create` (a file whose reason to be is `mmap`).
//!
//! Shared memory: a `MAP_SHARED` mapping of a file whose pages can be shared (every tmpfs,
//! so `/dev/shm` and `shm_open`; `memfd_create`'s files; the unnamed file behind
//! `MAP_SHARED | MAP_ANONYMOUS`) maps the file's own pages, which `fork` leaves shared.
//! A `MAP_SHARED` mapping of a file whose data lives elsewhere but that has a page cache
//! (9p) maps the cache's pages, and what it stores is written back (`crate::mm::dirty`,
//! `crate::mm::writeback`): on `msync`, `munmap`, `fsync`, exit and memory pressure.
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
use crate::mm::dirty::{FileRange, MS_ASYNC, MS_INVALIDATE, MS_SYNC};
use crate::mm::overcommit;
use crate::mm::remap::RemapFlags;
use crate::mm::vma::{Protection, TASK_SIZE};
use crate::process::Process;

const MAP_SHARED: u64 = 0x1;
const MAP_PRIVATE: u64 = 0x2;
const MAP_SHARED_VALIDATE: u64 = 0x3;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_LOCKED: u64 = 0x2000;
const MAP_NORESERVE: u64 = 0x4000;
const MAP_POPULATE: u64 = 0x8000;
const MAP_NONBLOCK: u64 = 0x10000;
const MAP_FIXED_NOREPLACE: u64 = 0x100000;
const PROT_ALL: u64 = 0x7;
const PAGE: u64 = PAGE_SIZE as u64;

/// `brk`: a growth of more than all of RAM at once is refused as Linux's overcommit
/// heuristic refuses it (the break stays where it is).
pub fn brk(p: &mut Process, address: u64) -> SysResult {
    let mut mm = p.mm.lock();
    let growth = address.saturating_sub(mm.brk_range().1);
    if !overcommit::may_commit(growth, arch::memory::memory_totals().0) {
        return Ok(mm.brk_range().1);
    }
    Ok(mm.set_brk(address))
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
    // Linux's `accountable_mapping` (and shared anonymous memory's `shmem_acct_size`):
    // memory that only this mapping can hold is judged against RAM now.
    let accountable = flags & MAP_NORESERVE == 0
        && if shared {
            file.is_none()
        } else {
            rights.contains(Protection::WRITE)
        };
    if accountable && !overcommit::may_commit(len, arch::memory::memory_totals().0) {
        return Err(Errno::ENOMEM);
    }
    let source = match file {
        None => anonymous_source(p, len, shared)?,
        Some(file) => file_source(p, &file, offset, len, rights, shared)?,
    };
    // `get_unmapped_area`: a fixed range must end at or below `TASK_SIZE` (the last page
    // of the user half is never mapped), `ENOMEM` otherwise, before alignment is checked.
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 && address > TASK_SIZE - len {
        return Err(Errno::ENOMEM);
    }
    let mapped = if flags & MAP_FIXED_NOREPLACE != 0 {
        p.mm.lock().map_no_replace(address, len, rights, source)?
    } else if flags & MAP_FIXED != 0 {
        if !address.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        // What it replaces is unmapped: written back as `munmap` would.
        let replaced = p.mm.lock().written_back_in(address, address + len);
        let mapped = p.mm.lock().map_fixed(address, len, rights, source)?;
        write_back_ranges(&replaced);
        mapped
    } else {
        p.mm.lock()
            .map_anywhere(address & !(PAGE - 1), len, rights, source)?
    };
    // `MAP_POPULATE` (without `MAP_NONBLOCK`) and `MAP_LOCKED` fault the pages in now,
    // as Linux's `mm_populate`: for writing only where a write would copy (a private
    // writable mapping), and the mapping stands whatever the faults say.
    if flags & (MAP_POPULATE | MAP_NONBLOCK) == MAP_POPULATE || flags & MAP_LOCKED != 0 {
        p.mm.lock().populate(mapped, len);
    }
    Ok(mapped)
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
/// pages can be shared maps them; a file with a page cache (9p) maps its cached pages
/// shared and copies them for a private mapping; another is copied, and shared writable
/// is `ENODEV`. An overlay file opened for writing was copied up at `open`, so a writable
/// shared mapping of it always maps its upper file.
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
    // A file whose data lives elsewhere (9p) gives a shared mapping the pages of its page
    // cache, whose stores are written back; a private one copies, as below.
    if shared && data.page_cache().is_some() {
        let writer = if writable_fd {
            Some(data.writable_mapping()?)
        } else {
            None
        };
        crate::mm::writeback::note_cached(&data);
        return Ok(PageSource::Shared(SharedMapping {
            inode: data,
            location: file.location().clone(),
            offset,
            shared,
            writer,
        }));
    }
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
    // Writing through a shared mapping of a file copied into private pages would need a
    // page cache to write back from, which the file does not have (a kernel file).
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

/// `munmap`: what the range's shared mappings stored is written back once it is
/// unmapped (an error there is the file's, for its next `fsync`, as Linux reports it).
pub fn munmap(p: &mut Process, address: u64, len: u64) -> SysResult {
    if !address.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let len = page_length(len).map_err(|_| Errno::EINVAL)?;
    let end = address.checked_add(len).ok_or(Errno::EINVAL)?;
    let unmapped = p.mm.lock().written_back_in(address, end);
    p.mm.lock().unmap(address, len)?;
    write_back_ranges(&unmapped);
    Ok(0)
}

/// Writes back `ranges` (with no lock held); errors stay with their files.
fn write_back_ranges(ranges: &[FileRange]) {
    for range in ranges {
        let _ = crate::mm::writeback::write_back(&range.inode, range.first, range.last);
    }
}

/// `msync(address, len, flags)`: Linux's checks in its order (flags, alignment, both
/// `MS_ASYNC` and `MS_SYNC`, a range that wraps), then each shared file mapping of the
/// range written back (`MS_SYNC` also syncs the file, as `vfs_fsync_range`), then
/// `ENOMEM` if the range had holes.
pub fn msync(p: &mut Process, address: u64, len: u64, flags: u64) -> SysResult {
    // `flags` is an `int`: the upper half of the register is not looked at.
    let flags = u64::from(flags as u32);
    if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || !address.is_multiple_of(PAGE)
        || (flags & MS_ASYNC != 0 && flags & MS_SYNC != 0)
    {
        return Err(Errno::EINVAL);
    }
    let len = len.wrapping_add(PAGE - 1) & !(PAGE - 1);
    let end = address.checked_add(len).ok_or(Errno::ENOMEM)?;
    if end == address {
        return Ok(0);
    }
    let (ranges, error) = p.mm.lock().msync_ranges(address, end, flags);
    for range in &ranges {
        let written = crate::mm::writeback::write_back(&range.inode, range.first, range.last);
        if flags & MS_SYNC == 0 {
            written?;
            continue;
        }
        // As `fsync`: with any write-back error of the file not yet reported (this one's
        // too, reported once).
        let data = range
            .inode
            .data_inode()
            .unwrap_or_else(|| range.inode.clone());
        let earlier = data.page_cache().map_or(Ok(()), |cache| cache.take_error());
        written.and(earlier)?;
        data.fsync()?;
    }
    error.map_or(Ok(0), Err)
}

/// `mincore(address, len, vec)`: Linux's checks in its order (alignment `EINVAL`, a range
/// past the user half `ENOMEM`, a vector past it `EFAULT`), then one byte per page, 1 if
/// resident, written a chunk at a time; a page no area holds ends the call with `ENOMEM`
/// (after the bytes before it were written).
pub fn mincore(p: &mut Process, address: u64, len: u64, vec: u64) -> SysResult {
    /// Pages answered per chunk (Linux's: one page of bytes).
    const CHUNK: u64 = PAGE;
    if !address.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    if address.checked_add(len).is_none_or(|end| end > TASK_SIZE) {
        return Err(Errno::ENOMEM);
    }
    let pages = len.div_ceil(PAGE);
    if vec.checked_add(pages).is_none_or(|end| end > TASK_SIZE) {
        return Err(Errno::EFAULT);
    }
    let mut done = 0;
    let mut answers = Vec::new();
    while done < pages {
        let count = (pages - done).min(CHUNK);
        answers.clear();
        let whole =
            p.mm.lock()
                .residency(address + done * PAGE, count as usize, &mut answers);
        p.mm.lock().write(vec + done, &answers)?;
        if !whole {
            return Err(Errno::ENOMEM);
        }
        done += count;
    }
    Ok(0)
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
/// Every call that takes pages away from a file (`ftruncate`, `truncate`, `O_TRUNC`,
/// `MADV_REMOVE`, and `fallocate`'s hole punching or range collapsing) calls it after
/// the filesystem changed the file; the filesystem keeps its own page cache right itself
/// (see `vfs_core::page_cache`).
pub fn file_pages_changed(inode: &Arc<dyn Inode>) {
    let data = inode.data_inode().unwrap_or_else(|| inode.clone());
    if !data.shares_pages() && data.page_cache().is_none() {
        return;
    }
    for mm in crate::mm::writeback::address_spaces() {
        mm.lock().forget_file_pages(&data);
    }
}
