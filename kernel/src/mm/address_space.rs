//! A process's address space: its areas ([`VmaSet`]), the frames behind the pages touched so
//! far, and the page tables that map them. Pages are filled on first touch (demand paging):
//! zeros for anonymous memory, file bytes for file-backed areas, and for a file whose pages
//! mappings share (tmpfs, `memfd`, shared anonymous memory: [`PageSource::Shared`]) the
//! file's own page, writable through a `MAP_SHARED` area and copied on the first write
//! through a `MAP_PRIVATE` one; for a file whose data lives elsewhere (9p), `MAP_SHARED`
//! maps the pages of its page cache, write-protected until a store marks them dirty
//! ([`super::dirty`]) and written back later ([`super::writeback`]). `fork` shares
//! private pages copy-on-write and `MAP_SHARED` ones as they are, and honours
//! `MADV_DONTFORK` and `MADV_WIPEONFORK`. `mremap` is in
//! [`super::remap`], `madvise` in [`super::advice`].
//!
//! The kernel reads and writes user memory only through [`AddressSpace::read`] and
//! [`AddressSpace::write`], which translate through the frames this struct owns and fault
//! pages in on the way. A bad user pointer is therefore `EFAULT`, never a kernel page fault,
//! whatever the pointer.
//!
//! Memory: every user page is charged to the kernel's budget by its frame (once, however
//! many address spaces or the page cache share it; a file's page by the file that holds
//! it, as tmpfs data); the areas, the page-table frames and
//! each mapping's place in the table are charged here. An area the budget refuses is
//! `ENOMEM`; a page it refuses, once the page cache has let go of its pages, is
//! [`FaultError::OutOfMemory`], which the run loop takes to the OOM killer. The pages held
//! are counted where the OOM killer can read them ([`AddressSpace::count_resident_in`]).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};
use vfs_core::PAGE_SIZE;

use vfs_core::budget::{Charge, heap_cost};
use vfs_core::mapping::MappingWriter;
use vfs_core::{Errno, Inode, Location};

use super::vma::{AreaFlags, Backing, Protection, TASK_SIZE, Vma, VmaError, VmaSet};
use arch::frame::{Frame, SharedFrame};
use arch::paging::{UserAccess, UserPage, UserPageTable};

const PAGE: u64 = PAGE_SIZE as u64;
/// What a user page costs the budget: the frame and its shared handle.
const USER_PAGE_COST: u64 = PAGE + heap_cost(core::mem::size_of::<Frame>() + 16);
/// What one mapping of a page costs besides the page: its slot in the table's map.
const MAPPING_COST: u64 = 48;
/// What an area costs: the area and its slot in the set.
const AREA_COST: u64 = heap_cost(core::mem::size_of::<Vma<PageSource>>()) + 48;
/// The most areas one change adds: two splits and the new area.
const AREAS_ONE_CHANGE_ADDS: u64 = 3;
/// Room a new page may need besides itself: its mapping and three new table frames.
const PAGE_ROOM: u64 = MAPPING_COST + 3 * PAGE;

/// What fills an area's pages.
#[derive(Clone)]
pub enum PageSource {
    Anonymous,
    /// `file_bytes` bytes of `inode` from `offset`, then zeros (the tail of an ELF segment's
    /// last file page, or a mapping past the end of a file), copied into pages of the
    /// area's own (whole file pages through the page cache). Files whose pages cannot be
    /// shared (9p) are mapped this way.
    File {
        inode: Arc<dyn Inode>,
        /// Where the file was opened (the name `/proc/<pid>/maps` shows).
        location: Location,
        offset: u64,
        file_bytes: u64,
    },
    /// The pages of a file that shares them with its mappings.
    Shared(SharedMapping),
}

/// An area over a file whose pages mappings share (`Inode::shares_pages`: tmpfs, `memfd`,
/// shared anonymous memory, which is an unnamed tmpfs file), or a `MAP_SHARED` area over
/// a file's page cache (`Inode::page_cache`: 9p), whose stores are written back.
#[derive(Clone)]
pub struct SharedMapping {
    /// The file holding the data (an overlay file's upper file).
    pub inode: Arc<dyn Inode>,
    /// The name `/proc/<pid>/maps` shows.
    pub location: Location,
    /// Byte offset into the file of the area's first page (page aligned).
    pub offset: u64,
    /// `MAP_SHARED`: the file's pages themselves, writable as the area allows.
    /// Otherwise `MAP_PRIVATE`: mapped read-only, copied on the first write.
    pub shared: bool,
    /// For a `MAP_SHARED` area of a file opened for writing: the file counts it
    /// (`F_SEAL_WRITE` waits for none), and `mprotect` may make it writable. Without it
    /// a shared area never becomes writable (`EACCES`), as Linux's `VM_MAYWRITE`.
    pub writer: Option<MappingWriter>,
}

impl SharedMapping {
    /// Whether the area may be made writable (`VM_MAYWRITE`).
    pub fn may_write(&self) -> bool {
        !self.shared || self.writer.is_some()
    }

    /// Whether stores through the area must be written back to the file: a `MAP_SHARED`
    /// mapping of a file with a page cache of its own (9p), whose pages are mapped
    /// read-only until a write fault marks them dirty (see [`super::dirty`]).
    pub fn writes_back(&self) -> bool {
        self.shared && self.inode.page_cache().is_some()
    }
}

impl PageSource {
    /// A `MAP_SHARED` mapping of a file's own pages (`VM_SHARED`).
    pub fn is_shared(&self) -> bool {
        matches!(self, PageSource::Shared(mapping) if mapping.shared)
    }

    /// The shared-pages mapping behind the area, if it is one.
    pub fn shared_mapping(&self) -> Option<&SharedMapping> {
        match self {
            PageSource::Shared(mapping) => Some(mapping),
            _ => None,
        }
    }
}

impl Backing for PageSource {
    fn advanced_by(&self, bytes: u64) -> Self {
        match self {
            Self::Anonymous => Self::Anonymous,
            Self::File {
                inode,
                location,
                offset,
                file_bytes,
            } => Self::File {
                inode: inode.clone(),
                location: location.clone(),
                offset: offset + bytes,
                file_bytes: file_bytes.saturating_sub(bytes),
            },
            Self::Shared(mapping) => Self::Shared(SharedMapping {
                offset: mapping.offset + bytes,
                ..mapping.clone()
            }),
        }
    }

    fn continues_into(&self, bytes: u64, next: &Self) -> bool {
        match (self, next) {
            (Self::Anonymous, Self::Anonymous) => true,
            (
                Self::File {
                    inode: a,
                    offset: a_offset,
                    file_bytes: a_bytes,
                    ..
                },
                Self::File {
                    inode: b,
                    offset: b_offset,
                    file_bytes: b_bytes,
                    ..
                },
            ) => {
                Arc::ptr_eq(a, b)
                    && a_offset + bytes == *b_offset
                    && a_bytes.saturating_sub(bytes) == *b_bytes
            }
            (Self::Shared(a), Self::Shared(b)) => {
                Arc::ptr_eq(&a.inode, &b.inode)
                    && a.shared == b.shared
                    && a.writer.is_some() == b.writer.is_some()
                    && a.offset + bytes == b.offset
            }
            _ => false,
        }
    }
}

/// What a shared futex's word lives in ([`AddressSpace::futex_page`]).
pub enum FutexPage {
    /// A page only this address space maps (its copy-on-write sharers have their own
    /// futexes): keyed by the address space and the address.
    Private,
    /// A page of `inode`, `offset` bytes into the file.
    File { inode: Arc<dyn Inode>, offset: u64 },
}

/// How user code touched a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Execute,
}

/// The fault could not be resolved: the signal it raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No area, or the area forbids the access (`SIGSEGV`).
    Segv,
    /// Reading the backing file failed (`SIGBUS`).
    Bus,
    /// No memory for the page (the kernel's OOM: the process is killed).
    OutOfMemory,
}

impl From<VmaError> for Errno {
    fn from(error: VmaError) -> Self {
        match error {
            VmaError::InvalidRange => Errno::EINVAL,
            VmaError::NotMapped | VmaError::NoSpace | VmaError::TooManyAreas => Errno::ENOMEM,
            VmaError::Occupied => Errno::EEXIST,
        }
    }
}

/// Pages a file-backed fault fills at once (64 KiB, Linux's `fault_around_bytes`).
pub const FAULT_AROUND_PAGES: u64 = 16;
/// Pages a file-backed fault that misses the page cache reads at once (256 KiB, one 9p
/// request), the ones past the fault-around window kept in the page cache for the faults
/// to come: Linux's mmap read-around (its v9fs reads up to msize per request). A
/// program's text is touched a few pages here and there; reading it 64 KiB at a time
/// cost a request per window (a cold `python3` made 260 reads for 5 MiB).
pub const READ_AROUND_PAGES: u64 = 64;

/// Where `mmap` without a hint places memory: below the stack, like Linux's
/// `mmap_base` with the default 8 MiB stack limit plus a guard gap.
pub const MMAP_TOP: u64 = 0x7fff_f000_0000;
/// Lowest address `mmap` will choose (Linux's default `mmap_min_addr`).
pub const MMAP_BOTTOM: u64 = 0x1_0000;

pub struct AddressSpace {
    /// The page tables, which own the frames of the pages touched so far.
    pub(super) table: UserPageTable,
    pub(super) areas: VmaSet<PageSource>,
    /// The program break: `brk_start` is the end of the data segment, `brk` the current end.
    brk_start: u64,
    pub(super) brk: u64,
    /// Where exec left the stack pointer (Linux's `start_stack`): `/proc/<pid>/maps`
    /// names the area holding it `[stack]`.
    start_stack: u64,
    /// [`AREA_COST`] for each area.
    area_charge: Charge,
    /// The table frames and [`MAPPING_COST`] for each page held.
    mapping_charge: Charge,
    /// Pages held, where the OOM killer reads them.
    resident: Arc<AtomicU64>,
    /// The most pages held at once (`VmHWM`).
    peak_resident: u64,
    /// The program's text, `[start, end)` (Linux's `start_code`/`end_code`).
    code_range: (u64, u64),
}

/// A zeroed frame for a user page, charged to the budget, with the room its mapping may
/// take held beside it until it is installed. When memory runs out (the budget's or the
/// frames), the page cache's pages go first (they can be read again), and only then is
/// the fault an out-of-memory one.
pub(super) fn new_frame() -> Result<(Frame, Charge), FaultError> {
    let attempt = || {
        let mut room = super::budget::budget()
            .charge(USER_PAGE_COST + PAGE_ROOM)
            .ok()?;
        let frame = Frame::new_zeroed_charged(room.split(USER_PAGE_COST))?;
        Some((frame, room))
    };
    attempt()
        .or_else(|| {
            super::page_cache::reclaim();
            attempt()
        })
        .ok_or(FaultError::OutOfMemory)
}

/// A zeroed, charged frame for a page read ahead of need: none when the budget or the
/// frames are short (nothing is reclaimed for a page nobody asked for).
fn spare_frame() -> Option<Frame> {
    let room = super::budget::budget().charge(USER_PAGE_COST).ok()?;
    Frame::new_zeroed_charged(room)
}

pub(super) fn user_access(protection: Protection) -> UserAccess {
    let mut access = UserAccess::empty();
    if protection.contains(Protection::WRITE) {
        access |= UserAccess::WRITE;
    }
    if protection.contains(Protection::EXEC) {
        access |= UserAccess::EXECUTE;
    }
    access
}

impl AddressSpace {
    pub fn new() -> Result<Self, Errno> {
        let mapping_charge = super::budget::budget().charge(PAGE)?;
        let table = UserPageTable::new().map_err(|_| Errno::ENOMEM)?;
        Ok(Self {
            table,
            areas: VmaSet::new(),
            brk_start: 0,
            brk: 0,
            start_stack: 0,
            area_charge: super::budget::budget().empty_charge(),
            mapping_charge,
            resident: Arc::new(AtomicU64::new(0)),
            peak_resident: 0,
            code_range: (0, 0),
        })
    }

    /// From now on the pages held are counted in `counter` (the process's, in the task
    /// table), which this address space keeps up to date.
    pub fn count_resident_in(&mut self, counter: Arc<AtomicU64>) {
        counter.store(self.table.page_count() as u64, Ordering::Relaxed);
        self.resident = counter;
    }

    /// Brings the mapping charge and the resident count in line with the table. Never
    /// refused: the memory is taken already, checked against the budget beforehand.
    pub(super) fn sync_pages(&mut self) {
        let pages = self.table.page_count() as u64;
        self.resident.store(pages, Ordering::Relaxed);
        self.peak_resident = self.peak_resident.max(pages);
        let wanted = self.table.table_frame_count() as u64 * PAGE + pages * MAPPING_COST;
        fit(&mut self.mapping_charge, wanted);
    }

    /// Makes sure the budget has room for the areas one change may add: `ENOMEM` if not.
    fn room_for_areas(&mut self) -> Result<(), Errno> {
        let wanted = (self.areas.len() as u64 + AREAS_ONE_CHANGE_ADDS) * AREA_COST;
        self.area_charge.resize(wanted).map_err(|_| Errno::ENOMEM)
    }

    /// Charges exactly the areas there are.
    fn sync_areas(&mut self) {
        fit(&mut self.area_charge, self.areas.len() as u64 * AREA_COST);
    }

    /// Runs a change of the areas with the budget's room for it checked first and the
    /// charge fitted after, whatever the change did.
    pub(super) fn change_areas<T>(
        &mut self,
        change: impl FnOnce(&mut Self) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        self.room_for_areas()?;
        let result = change(self);
        self.sync_areas();
        self.sync_pages();
        result
    }

    pub fn activate(&self) {
        self.table.activate();
    }

    /// The page tables' generation ([`UserPageTable::generation`]): it moves whenever a
    /// page loses a right, so the run loop can tell a fault that met the same tables
    /// again from one that met another thread's change.
    pub fn mapping_generation(&self) -> u64 {
        self.table.generation()
    }

    pub fn areas(&self) -> impl Iterator<Item = &super::vma::Vma<PageSource>> {
        self.areas.iter()
    }

    /// Drops the pages of `[start, end)`: unmaps them and frees their frames (a file's
    /// page stays with the file).
    pub(super) fn drop_pages(&mut self, start: u64, end: u64) {
        drop(self.table.unmap_range(start, end));
    }

    /// `mmap` with `MAP_FIXED`: replaces anything in the range.
    pub fn map_fixed(
        &mut self,
        start: u64,
        len: u64,
        protection: Protection,
        source: PageSource,
    ) -> Result<u64, Errno> {
        let end = start.checked_add(len).ok_or(Errno::ENOMEM)?;
        self.change_areas(|this| {
            this.drop_pages(start, end);
            this.areas.map(start, len, protection, source)?;
            Ok(start)
        })
    }

    /// `mmap` with `MAP_FIXED_NOREPLACE`.
    pub fn map_no_replace(
        &mut self,
        start: u64,
        len: u64,
        protection: Protection,
        source: PageSource,
    ) -> Result<u64, Errno> {
        self.change_areas(|this| {
            this.areas.map_no_replace(start, len, protection, source)?;
            Ok(start)
        })
    }

    /// `mmap` without `MAP_FIXED`: at `hint` if that range is free, else the highest free
    /// range below [`MMAP_TOP`].
    pub fn map_anywhere(
        &mut self,
        hint: u64,
        len: u64,
        protection: Protection,
        source: PageSource,
    ) -> Result<u64, Errno> {
        let hint_free = hint >= MMAP_BOTTOM
            && hint.is_multiple_of(PAGE_SIZE as u64)
            && hint
                .checked_add(len)
                .is_some_and(|end| end <= TASK_SIZE && !self.areas.overlaps(hint, end));
        let start = if hint_free {
            hint
        } else {
            self.areas
                .find_free(len, MMAP_BOTTOM.max(self.brk), MMAP_TOP)?
        };
        self.change_areas(|this| {
            this.areas.map(start, len, protection, source)?;
            Ok(start)
        })
    }

    pub fn unmap(&mut self, start: u64, len: u64) -> Result<(), Errno> {
        self.change_areas(|this| {
            let removed = this.areas.unmap(start, len)?;
            for (from, to) in removed {
                this.drop_pages(from, to);
            }
            Ok(())
        })
    }

    /// `MADV_DONTNEED`: drops the pages of `[start, start + len)` so they refill from their
    /// source (zeros, or the file) on the next touch. The areas stay.
    pub fn discard(&mut self, start: u64, len: u64) -> Result<(), Errno> {
        let end = start.checked_add(len).ok_or(Errno::EINVAL)?;
        self.drop_pages(start, end);
        self.sync_pages();
        Ok(())
    }

    pub fn protect(&mut self, start: u64, len: u64, protection: Protection) -> Result<(), Errno> {
        // In address order, as Linux's `mprotect` meets them: a hole is `ENOMEM`, a shared
        // area of a file it may not write (opened read-only, or sealed) `EACCES`.
        if protection.contains(Protection::WRITE) {
            let end = start.checked_add(len).ok_or(Errno::ENOMEM)?;
            let mut cursor = start;
            while cursor < end {
                let area = self.areas.find(cursor).ok_or(Errno::ENOMEM)?;
                if area
                    .backing
                    .shared_mapping()
                    .is_some_and(|mapping| !mapping.may_write())
                {
                    return Err(Errno::EACCES);
                }
                cursor = area.end;
            }
        }
        self.change_areas(|this| {
            this.areas.protect(start, len, protection)?;
            // PROT_NONE: no access at all, so the page must not be mapped; keep the frame.
            let changes: Vec<(u64, Option<UserAccess>)> = this
                .table
                .pages_in(start, start.saturating_add(len))
                .into_iter()
                .map(|page| {
                    let access = (!protection.is_empty()).then(|| this.resting_access(page));
                    (page, access)
                })
                .collect();
            // One shoot-down for the range (see `UserPageTable::batch`).
            let mut table = this.table.batch();
            for (page, access) in changes {
                match access {
                    None => table.hide(page),
                    Some(access) => table.protect(page, access),
                }
            }
            Ok(())
        })
    }

    /// The program break's start and current end.
    pub fn brk_range(&self) -> (u64, u64) {
        (self.brk_start, self.brk)
    }

    pub fn set_start_stack(&mut self, address: u64) {
        self.start_stack = address;
    }

    pub fn set_code_range(&mut self, range: (u64, u64)) {
        self.code_range = range;
    }

    pub fn code_range(&self) -> (u64, u64) {
        self.code_range
    }

    /// Pages held now, the most held at once, and the page-table frames holding them.
    pub fn page_counts(&self) -> (u64, u64, u64) {
        let pages = self.table.page_count() as u64;
        (
            pages,
            self.peak_resident.max(pages),
            self.table.table_frame_count() as u64,
        )
    }

    pub fn start_stack(&self) -> u64 {
        self.start_stack
    }

    /// Sets up the program break right after the loaded image.
    pub fn set_brk_start(&mut self, start: u64) {
        let start = start.next_multiple_of(PAGE_SIZE as u64);
        self.brk_start = start;
        self.brk = start;
    }

    /// `brk(2)`: moves the break if it can and returns the (possibly unchanged) break.
    /// A break below its start, or past the top of the user half (`brk(-1)`, which must
    /// not wrap to 0), changes nothing, as on Linux.
    pub fn set_brk(&mut self, requested: u64) -> u64 {
        if requested < self.brk_start {
            return self.brk;
        }
        let old_end = self.brk.next_multiple_of(PAGE_SIZE as u64);
        let Some(new_end) = requested
            .checked_next_multiple_of(PAGE_SIZE as u64)
            .filter(|&end| end <= TASK_SIZE)
        else {
            return self.brk;
        };
        let moved = if new_end > old_end {
            !self.areas.overlaps(old_end, new_end)
                && self
                    .change_areas(|this| {
                        this.areas
                            .map(
                                old_end,
                                new_end - old_end,
                                Protection::READ | Protection::WRITE,
                                PageSource::Anonymous,
                            )
                            .map_err(Errno::from)
                    })
                    .is_ok()
        } else {
            new_end == old_end || self.unmap(new_end, old_end - new_end).is_ok()
        };
        if moved {
            self.brk = requested;
        }
        self.brk
    }

    /// Resolves a fault at `address`: fills the page if the area allows the access, and on
    /// a write gives this address space its own copy of a page `fork` left shared.
    pub fn handle_fault(&mut self, address: u64, access: Access) -> Result<(), FaultError> {
        let page = self.page_for(address, access)?;
        if access == Access::Write {
            self.own_page(page)?;
        }
        Ok(())
    }

    /// `MAP_POPULATE`: faults the pages of `[start, start + len)` in now (Linux's
    /// `mm_populate`): for writing where a write would copy (a private writable area),
    /// else for reading. Stops at the first page that cannot be had (past a file's end,
    /// no memory, `PROT_NONE`) and leaves the mapping as it is: populating never fails
    /// the `mmap`.
    pub fn populate(&mut self, start: u64, len: u64) {
        let end = start.saturating_add(len);
        let mut page = start;
        while page < end {
            let Some(area) = self.areas.find(page) else {
                break;
            };
            if area.protection.is_empty() {
                break;
            }
            let access = if !area.backing.is_shared() && area.protection.contains(Protection::WRITE)
            {
                Access::Write
            } else {
                Access::Read
            };
            if self.handle_fault(page, access).is_err() {
                break;
            }
            page += PAGE;
        }
    }

    /// A copy of this address space for `fork`: the same areas, and every page shared
    /// copy-on-write (mapped without write access in both until one of them writes it), so
    /// no data page is copied now.
    pub fn fork(&mut self) -> Result<AddressSpace, Errno> {
        let mut child = AddressSpace::new()?;
        // The same areas and as many mappings and tables: checked against the budget
        // before anything is copied. The pages themselves are shared, charged once.
        child
            .area_charge
            .grow(self.area_charge.bytes())
            .map_err(|_| Errno::ENOMEM)?;
        let mut room = super::budget::budget()
            .charge(self.mapping_charge.bytes())
            .map_err(|_| Errno::ENOMEM)?;
        child.areas = self.areas.clone();
        child.brk_start = self.brk_start;
        child.brk = self.brk;
        child.start_stack = self.start_stack;
        child.code_range = self.code_range;
        let areas: Vec<(u64, u64, Protection, AreaFlags, bool)> = self
            .areas
            .iter()
            .map(|area| {
                let writes_back = area
                    .backing
                    .shared_mapping()
                    .is_some_and(SharedMapping::writes_back);
                (
                    area.start,
                    area.end,
                    area.protection,
                    area.flags,
                    writes_back,
                )
            })
            .collect();
        // The parent's pages lose write access as one batch: the other CPUs running its
        // threads are interrupted once, not once per page.
        let mut table = self.table.batch();
        for (start, end, protection, flags, writes_back) in areas {
            if flags.contains(AreaFlags::DONT_FORK) {
                // Unmapping a whole area never splits one: it cannot be refused.
                child.areas.unmap(start, end - start)?;
                continue;
            }
            if flags.contains(AreaFlags::WIPE_ON_FORK) {
                continue; // the child's area starts empty: zeros on its first touch
            }
            let access = user_access(protection);
            let read_only = access - UserAccess::WRITE;
            for page in table.pages_in(start, end) {
                let Some(held) = table.page(page) else {
                    continue;
                };
                // A shared mapping's page stays one page for both; any other is shared
                // copy-on-write, read-only in both until one of them writes it. A page
                // that writes back starts read-only in the child: its store must fault
                // to mark the page dirty.
                let shared = matches!(held, UserPage::File { shared: true, .. });
                let child_access = if shared && !writes_back {
                    access
                } else {
                    read_only
                };
                child
                    .table
                    .map_page(page, held, child_access)
                    .map_err(|_| Errno::ENOMEM)?;
                if protection.is_empty() {
                    child.table.hide(page);
                } else if !shared && protection.contains(Protection::WRITE) {
                    table.protect(page, read_only);
                }
            }
        }
        drop(table);
        child.sync_areas();
        // The child's own charge takes over from the room set aside for it.
        room.shrink(u64::MAX);
        child.sync_pages();
        Ok(child)
    }

    /// Makes the page at `page` (held, in a writable area) writable: copies it first if
    /// another address space still shares it or it is a file's page seen privately; a
    /// shared mapping's page is written in place.
    fn own_page(&mut self, page: u64) -> Result<(), FaultError> {
        let area = self.areas.find(page).ok_or(FaultError::Segv)?;
        let rights = area.protection;
        let written_back = area
            .backing
            .shared_mapping()
            .filter(|mapping| mapping.writes_back())
            .map(|mapping| {
                (
                    mapping.clone(),
                    (mapping.offset + (page - area.start)) / PAGE,
                )
            });
        if self.table.is_shared(page) {
            let (mut copy, _room) = new_frame()?;
            if !self.table.read(page, 0, copy.bytes_mut()) {
                return Err(FaultError::Segv);
            }
            self.install(page, copy, rights)?;
        } else {
            if let Some((mapping, index)) = written_back {
                self.mark_dirty(page, rights, &mapping, index)?;
            }
            self.table.protect(page, user_access(rights));
        }
        Ok(())
    }

    /// Whether the page at `page` lies in a shared mapping that writes back (whose
    /// writes must mark the page dirty first).
    fn writes_back(&self, page: u64) -> bool {
        self.areas
            .find(page)
            .and_then(|area| area.backing.shared_mapping())
            .is_some_and(|mapping| mapping.writes_back())
    }

    /// The page (address) holding `address`, filled and mapped if it was not yet, after
    /// checking the area allows `access`.
    fn page_for(&mut self, address: u64, access: Access) -> Result<u64, FaultError> {
        let page = address & !(PAGE_SIZE as u64 - 1);
        let area = self.areas.find(address).ok_or(FaultError::Segv)?;
        let needed = match access {
            Access::Read => Protection::READ,
            Access::Write => Protection::WRITE,
            Access::Execute => Protection::EXEC,
        };
        // x86 cannot map write-only or execute-only pages: any right implies read.
        let readable_anyway = access == Access::Read && !area.protection.is_empty();
        if !area.protection.contains(needed) && !readable_anyway {
            return Err(FaultError::Segv);
        }
        if !self.table.holds(page) {
            let (area_start, area_end, rights, backing) =
                (area.start, area.end, area.protection, area.backing.clone());
            match backing {
                PageSource::Anonymous => {
                    let (frame, _room) = new_frame()?;
                    self.install(page, frame, rights)?;
                }
                PageSource::File {
                    inode,
                    offset,
                    file_bytes,
                    ..
                } => {
                    let filled = self.fill_from_file(
                        page, area_start, area_end, rights, &inode, offset, file_bytes,
                    );
                    // Pages mapped from the page cache cost their places in the table too.
                    self.sync_pages();
                    filled?;
                }
                PageSource::Shared(mapping) => {
                    let index = (mapping.offset + (page - area_start)) / PAGE;
                    self.fill_shared(page, rights, &mapping, index)?;
                }
            }
        }
        Ok(page)
    }

    /// Maps the file's page `index` at `page`: writable through a shared area (as its
    /// rights allow; read-only while clean if it writes back, see [`super::dirty`]),
    /// read-only through a private one. A hole gets its page in the file either way
    /// (Linux's `shmem_fault`), so a private mapping sees later writes to the file until
    /// it writes the page itself.
    pub(super) fn fill_shared(
        &mut self,
        page: u64,
        rights: Protection,
        mapping: &SharedMapping,
        index: u64,
    ) -> Result<(), FaultError> {
        match file_page(&mapping.inode, index, true)? {
            Some(frame) => {
                let held = UserPage::File {
                    frame,
                    shared: mapping.shared,
                };
                let mut access = user_access(rights);
                if mapping.writes_back() {
                    access -= UserAccess::WRITE;
                }
                let mapped = self
                    .table
                    .map_page(page, held, access)
                    .map_err(|_| FaultError::OutOfMemory);
                self.sync_pages();
                mapped
            }
            None => {
                let (frame, _room) = new_frame()?;
                self.install(page, frame, rights)
            }
        }
    }

    /// A file lost pages (truncated, a hole punched): drops the pages this address space
    /// maps from it that are no longer the file's (and, past its new end, private copies
    /// too), so the next touch finds what the file holds now: zeros for a hole, `SIGBUS`
    /// past the end. Linux's `unmap_mapping_range`.
    pub fn forget_file_pages(&mut self, inode: &Arc<dyn Inode>) {
        let areas: Vec<(u64, u64, u64)> = self
            .areas
            .iter()
            .filter_map(|area| {
                let mapping = area.backing.shared_mapping()?;
                Arc::ptr_eq(&mapping.inode, inode).then_some((area.start, area.end, mapping.offset))
            })
            .collect();
        for (start, end, offset) in areas {
            for page in self.table.pages_in(start, end) {
                let index = (offset + (page - start)) / PAGE;
                let keep = match (self.table.page(page), inode.mapped_page(index, false)) {
                    (None, _) => true,
                    (Some(_), Err(_)) => false,
                    (Some(UserPage::File { frame, .. }), Ok(Some(current))) => {
                        Arc::as_ptr(&frame).cast::<()>() == Arc::as_ptr(&current).cast::<()>()
                    }
                    (Some(UserPage::File { .. }), Ok(None)) => false,
                    (Some(UserPage::Private(_)), Ok(_)) => true,
                };
                if !keep {
                    drop(self.table.unmap(page));
                }
            }
        }
        self.sync_pages();
    }

    fn install(&mut self, page: u64, frame: Frame, rights: Protection) -> Result<(), FaultError> {
        let mapped = self
            .table
            .map(page, frame, user_access(rights))
            .map_err(|_| FaultError::OutOfMemory);
        self.sync_pages();
        mapped
    }

    /// Fills `page` and the missing pages next to it in the same area and the same
    /// aligned window of [`FAULT_AROUND_PAGES`] from the file's pages in the page cache
    /// ([`super::page_cache`]): a page the area shows whole is the cached page itself,
    /// mapped read-only and shared; one it shows in part (a segment's last page: file
    /// bytes, then zeros) a private copy of the part. Pages the cache lacks are read
    /// with one request for the window and kept, so a program touching its code page by
    /// page costs one request per window at most, and nothing once it is cached. That
    /// read goes on past the window (up to [`READ_AROUND_PAGES`], the area's end, or the
    /// first page the cache holds) and the whole file pages past it go to the page cache
    /// unmapped, for the next faults.
    #[allow(clippy::too_many_arguments)]
    fn fill_from_file(
        &mut self,
        page: u64,
        area_start: u64,
        area_end: u64,
        rights: Protection,
        inode: &Arc<dyn Inode>,
        offset: u64,
        file_bytes: u64,
    ) -> Result<(), FaultError> {
        // The run of missing pages around `page` within its aligned window (Linux's
        // `do_fault_around`): a program's code is touched backwards as well as forwards.
        let window = FAULT_AROUND_PAGES * PAGE;
        let window_start = (page - page % window).max(area_start);
        let window_limit = (page - page % window + window).min(area_end);
        let mut run_start = page;
        while run_start > window_start && !self.table.holds(run_start - PAGE) {
            run_start -= PAGE;
        }
        let mut window_end = page + PAGE;
        while window_end < window_limit && !self.table.holds(window_end) {
            window_end += PAGE;
        }
        let page = run_start;
        let into_area = page - area_start;
        // The file's page behind the window's first page, when the area maps whole pages
        // of the file (an ELF segment's and `mmap`'s offsets are page-aligned).
        let first_index = (offset + into_area)
            .is_multiple_of(PAGE)
            .then_some((offset + into_area) / PAGE);
        let pages: Vec<u64> = (page..window_end).step_by(PAGE_SIZE).collect();
        // The bytes of the file the area shows in the page at `at`.
        let shown = |at: u64| file_bytes.saturating_sub(at - area_start).min(PAGE) as usize;
        let mut cached: Vec<Option<Arc<Frame>>> = match first_index {
            Some(first) => {
                super::page_cache::lookup_run(inode, first, pages.iter().map(|&at| shown(at) > 0))
            }
            None => alloc::vec![None; pages.len()],
        };
        let mut data = Vec::new();
        if pages
            .iter()
            .zip(&cached)
            .any(|(&at, cached)| cached.is_none() && shown(at) > 0)
        {
            // Read ahead past the window while the area shows whole pages of the file
            // that the cache lacks.
            let mut read_end = window_end;
            if let Some(first) = first_index {
                while read_end < area_end
                    && read_end - page < READ_AROUND_PAGES * PAGE
                    && shown(read_end) == PAGE_SIZE
                    && super::page_cache::lookup(inode, first + (read_end - page) / PAGE).is_none()
                {
                    read_end += PAGE;
                }
            }
            // Whole pages, past what the area shows, so that they can be kept.
            let wanted = match first_index {
                Some(_) => (read_end - page) as usize,
                None => file_bytes.saturating_sub(into_area).min(window_end - page) as usize,
            };
            data = alloc::vec![0u8; wanted];
            let filled = super::page_cache::read_file(&**inode, offset + into_area, &mut data)
                .map_err(|_| FaultError::Bus)?;
            if let Some(first) = first_index {
                let window_bytes = ((window_end - page) as usize).min(data.len());
                let kept = super::page_cache::keep_read_pages(
                    inode,
                    first,
                    &data[..window_bytes],
                    filled.min(window_bytes),
                );
                for (slot, kept) in cached.iter_mut().zip(kept) {
                    if slot.is_none() {
                        *slot = kept;
                    }
                }
                // The pages read ahead: whole ones only, into the cache, mapped by no
                // one yet, and only while memory is to spare (nothing is reclaimed).
                let ahead = first + (window_end - page) / PAGE;
                for (n, bytes) in data[window_bytes..filled.max(window_bytes)]
                    .chunks_exact(PAGE_SIZE)
                    .enumerate()
                {
                    let Some(mut frame) = spare_frame() else {
                        break;
                    };
                    frame.bytes_mut().copy_from_slice(bytes);
                    drop(super::page_cache::insert(inode, ahead + n as u64, frame));
                }
            }
            // The file is shorter than the mapping: the rest reads as zeros.
            data.truncate(filled);
        }
        let shared_access = user_access(rights) - UserAccess::WRITE;
        for (n, (&at, cached)) in pages.iter().zip(cached).enumerate() {
            let shown = shown(at);
            if let Some(frame) = cached.as_ref().filter(|_| shown == PAGE_SIZE) {
                self.table
                    .map_shared(at, frame.clone(), shared_access)
                    .map_err(|_| FaultError::OutOfMemory)?;
                continue;
            }
            let (mut frame, _room) = new_frame()?;
            let source = match &cached {
                Some(cached) => &cached.bytes()[..shown],
                None => {
                    let start = (n * PAGE_SIZE).min(data.len());
                    &data[start..(start + shown).min(data.len())]
                }
            };
            frame.bytes_mut()[..source.len()].copy_from_slice(source);
            self.install(at, frame, rights)?;
        }
        Ok(())
    }

    /// Maps an already-filled page again with its area's current rights: the fix for a
    /// fault on a present page whose page-table entry lags behind its area.
    pub fn refresh_mapping(&mut self, address: u64) {
        let page = address & !(PAGE_SIZE as u64 - 1);
        if self.areas.find(address).is_some() {
            self.table.protect(page, self.resting_access(page));
        }
    }

    /// What the page at `page` (in an area) may be mapped with when nothing says it is
    /// dirty: its area's rights, less write access for a page that writes back (a store
    /// must fault first, to mark it dirty: [`super::dirty`]).
    pub(super) fn resting_access(&self, page: u64) -> UserAccess {
        let Some(area) = self.areas.find(page) else {
            return UserAccess::empty();
        };
        let access = user_access(area.protection);
        match area.backing.shared_mapping() {
            Some(mapping) if mapping.writes_back() => access - UserAccess::WRITE,
            _ => access,
        }
    }

    /// Linux's `access_ok` and then some: `[address, address + len)` lies below the top of
    /// the user half (checked even for `len` 0, so a kernel address is refused whatever
    /// the length) and inside areas that allow `access`. Checked before a system call has
    /// side effects, so a bad buffer fails it with `EFAULT` before, say, a file offset moves.
    pub fn check_range(&self, address: u64, len: u64, access: Access) -> Result<(), Errno> {
        let end = address.checked_add(len).ok_or(Errno::EFAULT)?;
        if end > TASK_SIZE {
            return Err(Errno::EFAULT);
        }
        if self.reachable_now(address, end, access) {
            return Ok(());
        }
        let mut at = address;
        while at < end {
            let area = self.areas.find(at).ok_or(Errno::EFAULT)?;
            let allowed = match access {
                Access::Read => !area.protection.is_empty(),
                Access::Write => area.protection.contains(Protection::WRITE),
                Access::Execute => area.protection.contains(Protection::EXEC),
            };
            if !allowed {
                return Err(Errno::EFAULT);
            }
            at = area.end;
        }
        Ok(())
    }

    /// Whether user code could make `access` (a read or a write) to every page of the
    /// short range `[address, end)` right now, by the page tables alone: a present entry
    /// exists only where its area allows reading, a writable one only where it allows
    /// writing (see `UserPageTable::read_present`). False sends [`Self::check_range`] to the
    /// areas, which decide.
    fn reachable_now(&self, address: u64, end: u64, access: Access) -> bool {
        const MOST_PAGES: u64 = 2;
        let page = PAGE_SIZE as u64;
        let write = match access {
            Access::Read => false,
            Access::Write => true,
            Access::Execute => return false,
        };
        let first = address & !(page - 1);
        if end <= address || end - first > MOST_PAGES * page {
            return false;
        }
        (first..end)
            .step_by(PAGE_SIZE)
            .all(|at| self.table.user_may(at, write))
    }

    /// Copies user memory at `address` into `buf` (`copy_from_user`).
    pub fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let mut done = 0;
        while done < buf.len() {
            let at = address.checked_add(done as u64).ok_or(Errno::EFAULT)?;
            let in_page = (at % PAGE_SIZE as u64) as usize;
            let chunk = (PAGE_SIZE - in_page).min(buf.len() - done);
            let target = &mut buf[done..done + chunk];
            // A page user code can read now needs no lookup (the common case: a system
            // call's argument); anything else takes the fault path's checks.
            if self
                .table
                .read_present(at - in_page as u64, in_page, target)
            {
                done += chunk;
                continue;
            }
            let page = self.page_for(at, Access::Read).map_err(|_| Errno::EFAULT)?;
            if !self.table.read(page, in_page, target) {
                return Err(Errno::EFAULT);
            }
            done += chunk;
        }
        Ok(())
    }

    /// Copies user memory at `address` into `buf` (within one page) if user code could
    /// read it right now, without faulting anything in: false otherwise (the caller
    /// faults it in with [`AddressSpace::read`] where it may sleep, and tries again).
    pub fn read_resident(&self, address: u64, buf: &mut [u8]) -> bool {
        let in_page = (address % PAGE_SIZE as u64) as usize;
        in_page + buf.len() <= PAGE_SIZE
            && self
                .table
                .read_present(address - in_page as u64, in_page, buf)
    }

    /// Copies `data` into user memory at `address` (`copy_to_user`).
    pub fn write(&mut self, address: u64, data: &[u8]) -> Result<(), Errno> {
        let mut done = 0;
        while done < data.len() {
            let at = address.checked_add(done as u64).ok_or(Errno::EFAULT)?;
            let in_page = (at % PAGE_SIZE as u64) as usize;
            let chunk = (PAGE_SIZE - in_page).min(data.len() - done);
            // A page user code can store to now is the program's own already (copied on
            // write, marked dirty): no lookup, as for a read.
            if self
                .table
                .write_present(at - in_page as u64, in_page, &data[done..done + chunk])
            {
                done += chunk;
                continue;
            }
            let page = self
                .page_for(at, Access::Write)
                .map_err(|_| Errno::EFAULT)?;
            let piece = &data[done..done + chunk];
            // A private page this address space alone holds, in no mapping that writes
            // back, needs nothing of `own_page` (no copy, no dirty mark; its rights change
            // only spares user code a fault on its next write): every `stat` copies out
            // this way, and `own_page` costs three more page lookups and a table walk.
            let plain = !self.writes_back(page);
            if !(plain && self.table.write_private(page, in_page, piece)) {
                self.own_page(page).map_err(|_| Errno::EFAULT)?;
                if !self.table.write(page, in_page, piece) {
                    return Err(Errno::EFAULT);
                }
            }
            done += chunk;
        }
        Ok(())
    }

    /// A NUL-terminated string from user memory, without its NUL; `ENAMETOOLONG` past
    /// `max` bytes.
    pub fn read_c_string(&mut self, address: u64, max: usize) -> Result<Vec<u8>, Errno> {
        // Read a piece at a time: the page may be a file's that a shared mapping writes,
        // which the kernel only copies, never borrows.
        const PIECE: usize = 256;
        let mut out = Vec::new();
        let mut at = address;
        loop {
            let in_page = (at % PAGE_SIZE as u64) as usize;
            let len = PIECE.min(PAGE_SIZE - in_page);
            let page = self.page_for(at, Access::Read).map_err(|_| Errno::EFAULT)?;
            let mut piece = [0u8; PIECE];
            if !self.table.read(page, in_page, &mut piece[..len]) {
                return Err(Errno::EFAULT);
            }
            match piece[..len].iter().position(|&b| b == 0) {
                Some(nul) => {
                    out.extend_from_slice(&piece[..nul]);
                    return if out.len() > max {
                        Err(Errno::ENAMETOOLONG)
                    } else {
                        Ok(out)
                    };
                }
                None => out.extend_from_slice(&piece[..len]),
            }
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            at = at.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        }
    }

    /// What a shared futex (no `FUTEX_PRIVATE_FLAG`) at `address` is keyed by, as Linux's
    /// `get_futex_key`: a page of a file (shared memory is a file too) by the file and
    /// offset, so every process that maps it finds the same futex; a page private to
    /// this address space (anonymous memory, a private file page once copied on write)
    /// by the address space and address. Faults the page in for reading; `EFAULT` if it
    /// cannot be read. The caller checked alignment and the user half.
    pub fn futex_page(&mut self, address: u64) -> Result<FutexPage, Errno> {
        let page = self
            .page_for(address, Access::Read)
            .map_err(|_| Errno::EFAULT)?;
        let area = self.areas.find(address).ok_or(Errno::EFAULT)?;
        // Every kind of backing is decided here (a new one must say how it is keyed).
        let mapped = self.table.page(page);
        let (inode, file_offset, is_files) = match &area.backing {
            PageSource::Anonymous => return Ok(FutexPage::Private),
            // A shared mapping (shared anonymous memory too: an unnamed tmpfs file) is the
            // file's pages; a private one is until written, then a copy.
            PageSource::Shared(mapping) => {
                let file_offset = mapping.offset + (page - area.start);
                let is_files =
                    mapping.shared || matches!(mapped, Some(arch::paging::UserPage::File { .. }));
                (&mapping.inode, file_offset, is_files)
            }
            // A private mapping's page is the page cache's until written: then a copy.
            PageSource::File { inode, offset, .. } => {
                let file_offset = offset + (page - area.start);
                let is_files = file_offset.is_multiple_of(PAGE)
                    && super::page_cache::lookup(inode, file_offset / PAGE)
                        .zip(mapped)
                        .is_some_and(|(cached, mapped)| {
                            matches!(mapped, arch::paging::UserPage::Private(frame) if Arc::ptr_eq(&cached, &frame))
                        });
                (inode, file_offset, is_files)
            }
        };
        Ok(if is_files {
            FutexPage::File {
                inode: inode.clone(),
                offset: file_offset + address % PAGE,
            }
        } else {
            FutexPage::Private
        })
    }

    pub fn read_u64(&mut self, address: u64) -> Result<u64, Errno> {
        let mut bytes = [0; 8];
        self.read(address, &mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }
}

/// The file's page `index` as a frame to map, made if missing and `create` (else `None`
/// for a hole). Past the end of the file, or on a full filesystem, the access is a
/// `SIGBUS` (Linux's shmem); out of memory, once the page cache has let go, the OOM path.
fn file_page(
    inode: &Arc<dyn Inode>,
    index: u64,
    create: bool,
) -> Result<Option<Arc<SharedFrame>>, FaultError> {
    let found = match inode.mapped_page(index, create) {
        Err(Errno::ENOMEM) => {
            super::page_cache::reclaim();
            inode.mapped_page(index, create)
        }
        other => other,
    };
    match found {
        Ok(Some(page)) => {
            let page: Arc<dyn Any + Send + Sync> = page;
            // Every page source the kernel gives a budget is the frame allocator's; a
            // heap page (a filesystem made without it) cannot be mapped.
            page.downcast::<SharedFrame>()
                .map(Some)
                .map_err(|_| FaultError::Bus)
        }
        Ok(None) => Ok(None),
        Err(Errno::ENOMEM) => Err(FaultError::OutOfMemory),
        Err(_) => Err(FaultError::Bus),
    }
}

/// Makes `charge` hold exactly `bytes`, growing past the budget if it must (the memory
/// it stands for is taken already).
fn fit(charge: &mut Charge, bytes: u64) {
    if bytes > charge.bytes() {
        charge.grow_anyway(bytes - charge.bytes());
    } else {
        charge.shrink(charge.bytes() - bytes);
    }
}
