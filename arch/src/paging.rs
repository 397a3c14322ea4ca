//! The kernel's page tables: a direct map of physical memory, the kernel image with W^X
//! permissions, and uncached windows onto device registers.
//!
//! Virtual layout (kernel half):
//! - `DIRECT_MAP_BASE + phys`: all RAM, 1 GiB pages where the CPU has them, else 2 MiB;
//!   read-write, never executable. Everything that needs to touch a physical frame (page
//!   tables, the heap, boot modules) goes through it.
//! - `MMIO_BASE + phys`: device registers, 4 KiB pages, uncached, mapped on demand.
//! - `KERNEL_VIRTUAL_BASE + phys`: the image: text RX, rodata R, data RW; the page below the
//!   boot stack left unmapped as a guard.
//!
//! Before [`switch_to_kernel_tables`] the boot stub's tables are live and physical memory
//! below 4 GiB is identity mapped; table frames are reached through whichever map is live
//! ([`phys_to_virt`]).
//!
//! Several CPUs (Linux's TLB shoot-down, without waiting on CPUs in the kernel): the kernel
//! never reads or writes user memory through user addresses (it goes through the frames, in
//! the direct map), so a stale user TLB entry matters only to a CPU running user code.
//! Every change that takes a right away (unmap, write-protect, a new frame at a mapped
//! address) bumps the table's TLB generation; a CPU entering user mode ([`UserPageTable::activate`])
//! announces the table it enters and flushes its TLB if the generation moved since it last
//! did; and the change interrupts (kicks) every other CPU that announced this table and
//! waits until each has left user mode. No CPU is waited for while it runs kernel code, so
//! a CPU spinning on a lock the changing CPU holds can never deadlock it.
//!
//! A table's frames go back to the allocator only once no CPU's CR3 holds its PML4: a CPU
//! may still stand on the tables of an address space whose last thread it ran
//! ([`UserPageTable`]'s drop retires them; [`reap_retired`] frees them later).
//!
//! Lock order: `TABLE_LOCK` → the frame allocator; `RETIRED` → the frame allocator (and the
//! heap, for its list). Neither is held while waiting for another CPU.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use boot::KernelImage;
use spin::Mutex;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::{PageTable, PageTableFlags as Flags, PhysFrame};
use x86_64::{PhysAddr, VirtAddr};

use crate::PAGE;
use crate::frame::{Frame, SharedFrame};
use crate::memory::{allocate_frame, free_frame};
use crate::percpu;

pub const DIRECT_MAP_BASE: u64 = 0xffff_8000_0000_0000;
pub const MMIO_BASE: u64 = 0xffff_c000_0000_0000;
const KERNEL_TABLE_FLAGS: Flags = Flags::PRESENT.union(Flags::WRITABLE);
const USER_TABLE_FLAGS: Flags = Flags::PRESENT
    .union(Flags::WRITABLE)
    .union(Flags::USER_ACCESSIBLE);
const LARGE: u64 = 2 << 20;
/// An entry's physical address bits (12 to 51).
const ENTRY_ADDRESS: u64 = 0x000f_ffff_ffff_f000;
const HUGE: u64 = 1 << 30;

/// Offset from a physical address to the virtual address that reaches it right now.
static PHYS_OFFSET: AtomicU64 = AtomicU64::new(0);
/// Physical address of the kernel's PML4, once it is live.
static KERNEL_PML4: AtomicU64 = AtomicU64::new(0);
/// Serialises changes to the live kernel tables (MMIO mappings).
static TABLE_LOCK: Mutex<()> = Mutex::new(());
/// Dropped user tables some CPU's CR3 still held: (PML4, every table frame).
static RETIRED: Mutex<Vec<(u64, Vec<u64>)>> = Mutex::new(Vec::new());

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingError {
    OutOfFrames,
    /// The range is already mapped differently (e.g. inside a huge page).
    Conflict(u64),
    /// A physical address the live map cannot reach.
    Unreachable(u64),
    /// Not the start of a page in the user half (user page tables map nothing else).
    NotUserPage(u64),
}

/// The virtual address at which a physical address can be read right now.
pub(crate) fn phys_to_virt(phys: u64) -> u64 {
    phys + PHYS_OFFSET.load(Ordering::Relaxed)
}

/// Whether the kernel's own tables, with the direct map of all RAM, are live.
pub(crate) fn direct_map_live() -> bool {
    KERNEL_PML4.load(Ordering::Relaxed) != 0
}

#[derive(Clone, Copy)]
enum PageSize {
    Small,
    Large,
    Huge,
}

impl PageSize {
    const fn bytes(self) -> u64 {
        match self {
            Self::Small => PAGE,
            Self::Large => LARGE,
            Self::Huge => HUGE,
        }
    }
    /// The level whose entry maps a page of this size (4 = PML4 … 1 = PT).
    const fn leaf_level(self) -> u32 {
        match self {
            Self::Small => 1,
            Self::Large => 2,
            Self::Huge => 3,
        }
    }
}

struct Mapper<'a> {
    pml4: u64,
    allocate_frame: &'a mut dyn FnMut() -> Option<u64>,
    no_execute: Flags,
    /// Flags of the intermediate tables it creates: user mappings need USER_ACCESSIBLE at
    /// every level, kernel ones must not have it.
    table_flags: Flags,
}

impl Mapper<'_> {
    fn table(&mut self, phys: u64) -> Result<&mut PageTable, PagingError> {
        let offset = PHYS_OFFSET.load(Ordering::Relaxed);
        if offset == 0 && phys >= boot::early_identity_limit() {
            return Err(PagingError::Unreachable(phys));
        }
        // SAFETY: `phys` is a page-table frame this module allocated (or the live PML4), it is reachable at phys + offset in the live map (checked above for the identity map; the direct map covers all RAM), and `&mut self` keeps the reference unique.
        Ok(unsafe { &mut *((phys + offset) as *mut PageTable) })
    }

    fn new_table(&mut self) -> Result<u64, PagingError> {
        let phys = (self.allocate_frame)().ok_or(PagingError::OutOfFrames)?;
        *self.table(phys)? = PageTable::new();
        Ok(phys)
    }

    /// Walks from the PML4 to the table at `level` for `virt`, creating tables on the way.
    fn walk_to(&mut self, virt: u64, level: u32) -> Result<u64, PagingError> {
        let mut table = self.pml4;
        for current in ((level + 1)..=4).rev() {
            let index = ((virt >> (12 + 9 * (current - 1))) & 511) as usize;
            let entry = &self.table(table)?[index];
            table = if entry.is_unused() {
                let child = self.new_table()?;
                let table_flags = self.table_flags;
                self.table(table)?[index].set_addr(PhysAddr::new(child), table_flags);
                child
            } else if entry.flags().contains(Flags::HUGE_PAGE) {
                return Err(PagingError::Conflict(virt));
            } else {
                entry.addr().as_u64()
            };
        }
        Ok(table)
    }

    fn map(
        &mut self,
        virt: u64,
        phys: u64,
        size: PageSize,
        flags: Flags,
    ) -> Result<(), PagingError> {
        let level = size.leaf_level();
        let table = self.walk_to(virt, level)?;
        let index = ((virt >> (12 + 9 * (level - 1))) & 511) as usize;
        let huge = if level > 1 {
            Flags::HUGE_PAGE
        } else {
            Flags::empty()
        };
        let entry = &mut self.table(table)?[index];
        if !entry.is_unused() {
            return Err(PagingError::Conflict(virt));
        }
        entry.set_addr(PhysAddr::new(phys), flags | huge | Flags::PRESENT);
        Ok(())
    }

    /// Maps `[phys, phys + len)` at `virt_base + phys` with the largest pages that fit.
    fn map_range(
        &mut self,
        virt_base: u64,
        phys: u64,
        len: u64,
        flags: Flags,
        huge_ok: bool,
    ) -> Result<(), PagingError> {
        let end = phys + len;
        let mut at = phys;
        while at < end {
            let size = if huge_ok && at.is_multiple_of(HUGE) && end - at >= HUGE {
                PageSize::Huge
            } else if at.is_multiple_of(LARGE) && end - at >= LARGE {
                PageSize::Large
            } else {
                PageSize::Small
            };
            self.map(virt_base + at, at, size, flags)?;
            at += size.bytes();
        }
        Ok(())
    }
}

/// Builds the kernel's tables (direct map of `ram`, the image, no identity map) and makes
/// them live. `ram` ranges must be 2 MiB aligned; `allocate_frame` must return frames the
/// boot identity map reaches (below 4 GiB).
pub(crate) fn switch_to_kernel_tables(
    image: &KernelImage,
    ram: &[(u64, u64)],
    allocate_frame: &mut dyn FnMut() -> Option<u64>,
) -> Result<(), PagingError> {
    let no_execute = if crate::cpu::has_no_execute() {
        Flags::NO_EXECUTE
    } else {
        Flags::empty()
    };
    let huge_ok = crate::cpu::has_gigabyte_pages();
    let mut mapper = Mapper {
        pml4: 0,
        allocate_frame,
        no_execute,
        table_flags: KERNEL_TABLE_FLAGS,
    };
    mapper.pml4 = mapper.new_table()?;

    let data = Flags::WRITABLE | Flags::GLOBAL | mapper.no_execute;
    for &(start, end) in ram {
        mapper.map_range(DIRECT_MAP_BASE, start, end - start, data, huge_ok)?;
    }
    let sections = [
        (image.text, Flags::GLOBAL),
        (image.rodata, Flags::GLOBAL | mapper.no_execute),
        (image.data, data),
    ];
    for (section, flags) in sections {
        let mut virt = section.start;
        while virt < section.end {
            if !(image.stack_guard.start..image.stack_guard.end).contains(&virt) {
                mapper.map(
                    virt,
                    virt - boot::KERNEL_VIRTUAL_BASE,
                    PageSize::Small,
                    flags,
                )?;
            }
            virt += PAGE;
        }
    }

    // Every kernel-half PML4 entry exists before any user address space copies the kernel
    // half, so later kernel mappings (MMIO) show up in every address space.
    mapper.walk_to(MMIO_BASE, 3)?;

    let pml4 = mapper.pml4;
    // SAFETY: the new tables map everything the kernel touches from here on: the image (code, statics, the boot stack) and, through the direct map, all RAM. The offset is switched in the same breath so later table walks use the direct map.
    unsafe {
        Cr3::write(
            PhysFrame::containing_address(PhysAddr::new(pml4)),
            Cr3Flags::empty(),
        );
    }
    PHYS_OFFSET.store(DIRECT_MAP_BASE, Ordering::Relaxed);
    KERNEL_PML4.store(pml4, Ordering::Relaxed);
    note_kernel_tables_loaded();
    Ok(())
}

/// Physical address of the kernel's PML4 (0 before [`switch_to_kernel_tables`]).
pub(crate) fn kernel_pml4() -> u64 {
    KERNEL_PML4.load(Ordering::Relaxed)
}

/// Records that the running CPU's CR3 holds the kernel's tables (it just loaded them).
pub(crate) fn note_kernel_tables_loaded() {
    percpu::this()
        .loaded_cr3
        .store(kernel_pml4(), Ordering::SeqCst);
}

/// Puts the kernel's own tables in this CPU's CR3 (the idle loop, so no user address space
/// stays pinned by an idle CPU), and frees retired tables no CPU holds any more.
pub fn use_kernel_tables() {
    let kernel = kernel_pml4();
    let cpu = percpu::this();
    if kernel != 0 && cpu.loaded_cr3.load(Ordering::Relaxed) != kernel {
        // SAFETY: the kernel's tables map everything the kernel uses.
        unsafe {
            Cr3::write(
                PhysFrame::containing_address(PhysAddr::new(kernel)),
                Cr3Flags::empty(),
            )
        };
        cpu.loaded_cr3.store(kernel, Ordering::SeqCst);
    }
    reap_retired();
}

/// Whether some CPU other than this one has `pml4` in its CR3.
fn loaded_elsewhere(pml4: u64) -> bool {
    let me = percpu::this().index();
    percpu::CPUS
        .iter()
        .enumerate()
        .any(|(index, cpu)| index != me && cpu.loaded_cr3.load(Ordering::SeqCst) == pml4)
}

/// Frees the retired tables that no CPU's CR3 holds any more.
pub fn reap_retired() {
    if RETIRED.lock().is_empty() {
        return;
    }
    let free: Vec<Vec<u64>> = {
        let mut retired = RETIRED.lock();
        let mut free = Vec::new();
        retired.retain_mut(|(pml4, frames)| {
            if loaded_elsewhere(*pml4) || percpu::this().loaded_cr3.load(Ordering::SeqCst) == *pml4
            {
                true
            } else {
                free.push(core::mem::take(frames));
                false
            }
        });
        free
    };
    for frame in free.into_iter().flatten() {
        free_frame(frame);
    }
}

/// Maps device registers `[phys, phys + len)` uncached and returns the virtual address of
/// `phys`. Mapping the same registers twice is fine. Callers check the range first
/// ([`crate::mmio::MmioRegion::map`]): not RAM, inside the MMIO window.
pub(crate) fn map_mmio(phys: u64, len: u64) -> Result<u64, PagingError> {
    let pml4 = KERNEL_PML4.load(Ordering::Relaxed);
    if pml4 == 0 {
        return Err(PagingError::Unreachable(phys));
    }
    let _guard = TABLE_LOCK.lock();
    let mut allocate = allocate_frame;
    let no_execute = if crate::cpu::has_no_execute() {
        Flags::NO_EXECUTE
    } else {
        Flags::empty()
    };
    let mut mapper = Mapper {
        pml4,
        allocate_frame: &mut allocate,
        no_execute,
        table_flags: KERNEL_TABLE_FLAGS,
    };
    let flags = Flags::WRITABLE | Flags::NO_CACHE | Flags::WRITE_THROUGH | no_execute;
    let first = phys & !(PAGE - 1);
    let mut page = first;
    while page < phys + len.max(1) {
        match mapper.map(MMIO_BASE + page, page, PageSize::Small, flags) {
            Ok(()) => x86_64::instructions::tlb::flush(VirtAddr::new(MMIO_BASE + page)),
            Err(PagingError::Conflict(_)) => {} // already mapped by an earlier call
            Err(other) => return Err(other),
        }
        page += PAGE;
    }
    Ok(MMIO_BASE + phys)
}

bitflags::bitflags! {
    /// What user code may do with a page.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct UserAccess: u8 {
        const WRITE = 1;
        const EXECUTE = 2;
    }
}

/// The page tables of one user address space: the user half its own, the kernel half shared
/// with every other address space (the PML4's upper 256 entries are copied at creation and
/// never change afterwards). Maps 4 KiB pages only.
///
/// The table owns the frames it maps: [`UserPageTable::map`] takes a [`Frame`] by value and
/// keeps it until the page is unmapped ([`UserPageTable::unmap`] hands it back after the
/// entry is gone and the TLB flushed) or the table is dropped (after it stopped being live).
/// So a frame user code can reach is never freed, and no safe code can map memory it does
/// not own. The rule, checked by the compiler:
///
/// ```compile_fail,E0382
/// use arch::frame::Frame;
/// use arch::paging::{UserAccess, UserPageTable};
///
/// fn map_then_free(table: &mut UserPageTable, frame: Frame) {
///     table.map(0x40_0000, frame, UserAccess::WRITE).unwrap();
///     drop(frame); // error[E0382]: use of moved value: the table owns the frame now
/// }
/// ```
///
/// Getting the frame back means unmapping it first:
///
/// ```
/// use arch::frame::Frame;
/// use arch::paging::{UserAccess, UserPage, UserPageTable};
///
/// fn map_then_free(table: &mut UserPageTable, frame: Frame) {
///     table.map(0x40_0000, frame, UserAccess::WRITE).unwrap();
///     let page: Option<UserPage> = table.unmap(0x40_0000); // no longer mapped
///     drop(page);
/// }
/// ```
///
/// Several tables may map one frame (`fork`'s copy-on-write): each holds an `Arc`, and the
/// kernel writes a frame ([`UserPageTable::frame_mut`]) only while one table alone holds
/// it. A file's page ([`UserPage::File`]) is held by the file too: writable only through a
/// shared mapping of it, and then written by copying ([`UserPageTable::write`]).
/// What a table holds at one user page.
#[derive(Clone, Debug)]
pub enum UserPage {
    /// Anonymous memory or a private copy: this address space's, copy-on-write while
    /// another table (or the kernel's page cache) holds the frame too.
    Private(Arc<Frame>),
    /// A page of a file's data. `shared`: a `MAP_SHARED` mapping, writable as its area
    /// allows, stores reaching the file; otherwise a `MAP_PRIVATE` view, never writable
    /// (a write copies it into a [`UserPage::Private`] first).
    File {
        frame: Arc<SharedFrame>,
        shared: bool,
    },
}

impl UserPage {
    fn phys(&self) -> u64 {
        match self {
            UserPage::Private(frame) => frame.phys(),
            UserPage::File { frame, .. } => frame.phys(),
        }
    }

    /// Whether a write must copy the page first (a frame another holder has, or a file's
    /// page seen privately).
    fn copy_on_write(&self) -> bool {
        match self {
            UserPage::Private(frame) => Arc::strong_count(frame) > 1,
            UserPage::File { shared, .. } => !shared,
        }
    }
}

pub struct UserPageTable {
    pml4: u64,
    /// Names this address space for as long as the kernel runs (a PML4's frame is reused,
    /// this never is): the FPU switching (`fpu_switch`) may leave registers a program
    /// wrote readable only to code of the same address space.
    space_id: u64,
    /// Bumped by every change that takes a right away (see the module's notes on SMP).
    generation: AtomicU64,
    /// Inside a [`Batch`]: shoot-downs that free no frame wait for the batch's end.
    batching: bool,
    /// A shoot-down a batch put off.
    pending: bool,
    /// Every user page this table holds, by virtual address. A page may be held but not
    /// present (see [`UserPageTable::hide`]).
    frames: BTreeMap<u64, UserPage>,
    /// Frames holding the user half's tables (the PML4 included): what the tables
    /// themselves cost, for the memory budget above.
    table_frames: usize,
}

/// The next [`UserPageTable::space_id`]; 0 means "no address space" to the per-CPU state.
static NEXT_SPACE_ID: AtomicU64 = AtomicU64::new(1);

const KERNEL_HALF_FIRST_ENTRY: usize = 256;
/// The end of the user half (exclusive): the canonical-address limit.
const USER_END: u64 = 0x0000_8000_0000_0000;

impl UserPageTable {
    pub fn new() -> Result<Self, PagingError> {
        let kernel_pml4 = KERNEL_PML4.load(Ordering::Relaxed);
        if kernel_pml4 == 0 {
            return Err(PagingError::Unreachable(0));
        }
        let mut allocate = allocate_frame;
        let mut mapper = Mapper {
            pml4: kernel_pml4,
            allocate_frame: &mut allocate,
            no_execute: Flags::empty(),
            table_flags: USER_TABLE_FLAGS,
        };
        let pml4 = mapper.new_table()?;
        let kernel_half: [_; 256] = core::array::from_fn(|i| {
            mapper
                .table(kernel_pml4)
                .map(|t| t[KERNEL_HALF_FIRST_ENTRY + i].clone())
        });
        let table = mapper.table(pml4)?;
        for (i, entry) in kernel_half.into_iter().enumerate() {
            table[KERNEL_HALF_FIRST_ENTRY + i] = entry?;
        }
        Ok(Self {
            pml4,
            space_id: NEXT_SPACE_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            batching: false,
            pending: false,
            frames: BTreeMap::new(),
            table_frames: 1,
        })
    }

    /// How many times a right was taken away from this table's pages so far (unmapped,
    /// write-protected, replaced): a fault that comes again at an unchanged generation
    /// met the same tables, one at a new generation may have met a change another thread
    /// made in between (its `fork` write-protecting the page again, an `munmap`).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Pages held (mapped or hidden): the address space's resident set.
    pub fn page_count(&self) -> usize {
        self.frames.len()
    }

    /// Frames the user half's tables take, the PML4 included.
    pub fn table_frame_count(&self) -> usize {
        self.table_frames
    }

    fn mapper<'a>(&self, allocate: &'a mut dyn FnMut() -> Option<u64>) -> Mapper<'a> {
        Mapper {
            pml4: self.pml4,
            allocate_frame: allocate,
            no_execute: no_execute_flag(),
            table_flags: USER_TABLE_FLAGS,
        }
    }

    fn leaf_flags(access: UserAccess, no_execute: Flags) -> Flags {
        let mut flags = Flags::PRESENT | Flags::USER_ACCESSIBLE;
        if access.contains(UserAccess::WRITE) {
            flags |= Flags::WRITABLE;
        }
        if !access.contains(UserAccess::EXECUTE) {
            flags |= no_execute;
        }
        flags
    }

    fn check_user_page(virt: u64) -> Result<(), PagingError> {
        if virt >= USER_END || !virt.is_multiple_of(PAGE) {
            return Err(PagingError::NotUserPage(virt));
        }
        Ok(())
    }

    /// Maps the page at `virt` (a page-aligned user address) to `frame`, which the table
    /// keeps; a frame mapped there before is unmapped and freed. On error the frame is freed
    /// and nothing changes.
    pub fn map(&mut self, virt: u64, frame: Frame, access: UserAccess) -> Result<(), PagingError> {
        self.map_shared(virt, Arc::new(frame), access)
    }

    /// [`UserPageTable::map`] for a frame other tables may hold too (copy-on-write after
    /// `fork`: it is mapped without [`UserAccess::WRITE`] while shared).
    pub fn map_shared(
        &mut self,
        virt: u64,
        frame: Arc<Frame>,
        access: UserAccess,
    ) -> Result<(), PagingError> {
        self.map_page(virt, UserPage::Private(frame), access)
    }

    /// Maps `page` at `virt` with at most `access`: write access only where a write need
    /// not copy first (see [`UserPage`]). A page mapped there before is unmapped and
    /// dropped; on error nothing changes.
    pub fn map_page(
        &mut self,
        virt: u64,
        page: UserPage,
        access: UserAccess,
    ) -> Result<(), PagingError> {
        Self::check_user_page(virt)?;
        let access = if page.copy_on_write() {
            access - UserAccess::WRITE
        } else {
            access
        };
        let flags = Self::leaf_flags(access, no_execute_flag());
        // The tables down to the page, counting the frames made for them.
        let mut made = 0;
        let walked = {
            let mut allocate = || {
                let frame = allocate_frame();
                made += usize::from(frame.is_some());
                frame
            };
            self.mapper(&mut allocate).walk_to(virt, 1)
        };
        self.table_frames += made;
        let table = walked?;
        let mut no_allocation = || None;
        let mut mapper = self.mapper(&mut no_allocation);
        let entry = &mut mapper.table(table)?[((virt >> 12) & 511) as usize];
        let was_present = !entry.is_unused();
        let old_flags = entry.flags();
        let moved = was_present && entry.addr().as_u64() != page.phys();
        entry.set_addr(PhysAddr::new(page.phys()), flags);
        if was_present {
            x86_64::instructions::tlb::flush(VirtAddr::new(virt));
            if moved {
                // The old frame goes below: no CPU may reach it by then.
                self.shoot_down();
            } else if takes_away(old_flags, flags) {
                self.shoot_down_or_defer();
            }
        }
        // The old page (if any) is dropped only now, with no entry left pointing at it.
        self.frames.insert(virt, page);
        Ok(())
    }

    /// The last-level entry for `virt`, if the tables down to it exist.
    fn leaf(
        &mut self,
        virt: u64,
    ) -> Option<&mut x86_64::structures::paging::page_table::PageTableEntry> {
        let mut no_allocation = || None;
        let mut mapper = self.mapper(&mut no_allocation);
        let mut table = self.pml4;
        for level in (2..=4).rev() {
            let entry =
                &mapper.table(table).ok()?[((virt >> (12 + 9 * (level - 1))) & 511) as usize];
            if entry.is_unused() || entry.flags().contains(Flags::HUGE_PAGE) {
                return None;
            }
            table = entry.addr().as_u64();
        }
        let leaf_table = mapper.table(table).ok()? as *mut PageTable;
        // SAFETY: the table frame belongs to this address space; `&mut self` makes the returned entry the only live reference into these tables.
        let leaf_table = unsafe { &mut *leaf_table };
        Some(&mut leaf_table[((virt >> 12) & 511) as usize])
    }

    /// Clears the entry for `virt` (if present) and flushes it from the TLB, here and (at
    /// once, or at a batch's end when `keeps_frame`) on every other CPU.
    fn clear_entry(&mut self, virt: u64, keeps_frame: bool) {
        if let Some(entry) = self.leaf(virt).filter(|entry| !entry.is_unused()) {
            entry.set_unused();
            x86_64::instructions::tlb::flush(VirtAddr::new(virt));
            if keeps_frame {
                self.shoot_down_or_defer();
            } else {
                self.shoot_down();
            }
        }
    }

    /// Removes every page in `[start, end)` and hands them back, with one shoot-down for
    /// all of them (`munmap` of a large range costs other CPUs one interruption, not one per
    /// page); the pages are returned only after no CPU can reach them.
    pub fn unmap_range(&mut self, start: u64, end: u64) -> Vec<UserPage> {
        let pages = self.pages_in(start, end);
        let mut removed = Vec::with_capacity(pages.len());
        let mut cleared = false;
        for virt in pages {
            let Some(page) = self.frames.remove(&virt) else {
                continue;
            };
            if let Some(entry) = self.leaf(virt).filter(|entry| !entry.is_unused()) {
                entry.set_unused();
                x86_64::instructions::tlb::flush(VirtAddr::new(virt));
                cleared = true;
            }
            removed.push(page);
        }
        if cleared {
            self.shoot_down();
        }
        removed
    }

    /// Removes the page at `virt` and hands it back; this table no longer maps it.
    pub fn unmap(&mut self, virt: u64) -> Option<UserPage> {
        let frame = self.frames.remove(&virt)?;
        self.clear_entry(virt, false);
        Some(frame)
    }

    /// Makes the page at `virt` inaccessible to user code (`PROT_NONE`) but keeps its frame
    /// and contents; [`UserPageTable::protect`] makes it accessible again.
    pub fn hide(&mut self, virt: u64) {
        if self.frames.contains_key(&virt) {
            self.clear_entry(virt, true);
        }
    }

    /// Sets what user code may do with a page this table holds (present again if hidden).
    pub fn protect(&mut self, virt: u64, access: UserAccess) {
        let Some(page) = self.frames.get(&virt) else {
            return;
        };
        let phys = page.phys();
        // A frame another table (or the kernel's page cache) holds too, or a file's page
        // seen privately, is never writable through this one: a write must fault, so the
        // owner copies it first. A shared mapping of a file's page writes the file.
        let access = if page.copy_on_write() {
            access - UserAccess::WRITE
        } else {
            access
        };
        let flags = Self::leaf_flags(access, no_execute_flag());
        let mut allocate = allocate_frame;
        let mut mapper = self.mapper(&mut allocate);
        let Ok(table) = mapper.walk_to(virt, 1) else {
            return; // tables exist for every held page: `map` made them
        };
        if let Ok(table) = mapper.table(table) {
            let entry = &mut table[((virt >> 12) & 511) as usize];
            let old_flags = entry.flags();
            let was_present = !entry.is_unused();
            // Already so (the kernel's copy into a page it owns asks each time): no
            // TLB entry can be stale, and under emulation a flush is not free.
            // (The CPU's accessed and dirty bits are nobody's business here.)
            let hardware = Flags::ACCESSED | Flags::DIRTY;
            if was_present && old_flags - hardware == flags && entry.addr().as_u64() == phys {
                return;
            }
            entry.set_addr(PhysAddr::new(phys), flags);
            x86_64::instructions::tlb::flush(VirtAddr::new(virt));
            if was_present && takes_away(old_flags, flags) {
                self.shoot_down_or_defer();
            }
        }
    }

    /// Whether the table holds a page at `virt`.
    pub fn holds(&self, virt: u64) -> bool {
        self.frames.contains_key(&virt)
    }

    /// What the table holds at `virt` (another handle on it: to map it in a second table
    /// for `fork`, or at another address for `mremap`).
    pub fn page(&self, virt: u64) -> Option<UserPage> {
        self.frames.get(&virt).cloned()
    }

    /// Whether a write to the page at `virt` must copy it first: its frame is held
    /// elsewhere too (`fork`, the page cache) or it is a file's page mapped privately.
    pub fn is_shared(&self, virt: u64) -> bool {
        self.frames.get(&virt).is_some_and(UserPage::copy_on_write)
    }

    /// The frame behind a private page at `virt`, to write (user code is stopped while the
    /// kernel runs, so this borrow is the only access); `None` while it is shared
    /// ([`UserPageTable::is_shared`]: copy it first) or a file's page.
    pub fn frame_mut(&mut self, virt: u64) -> Option<&mut Frame> {
        match self.frames.get_mut(&virt)? {
            UserPage::Private(frame) => Arc::get_mut(frame),
            UserPage::File { .. } => None,
        }
    }

    /// The frame (physical address) behind the page at `virt` when its entries let user
    /// code read it, or with `write` also store to it. A system call's copy to or from user
    /// memory asks this first: an entry that is present for user code is one the address
    /// space above made so, where its area allows the access (a `PROT_NONE` page is
    /// hidden, a copy-on-write or clean write-back page read-only), so the kernel may copy
    /// as the program's own load or store would, through the direct map, without looking
    /// the page up in the areas or in `frames`. `None` sends the caller the full way.
    fn user_frame(&self, virt: u64, write: bool) -> Option<u64> {
        let offset = PHYS_OFFSET.load(Ordering::Relaxed);
        if virt >= USER_END || offset == 0 {
            return None;
        }
        let mut needed = Flags::PRESENT | Flags::USER_ACCESSIBLE;
        if write {
            needed |= Flags::WRITABLE;
        }
        let mut table = self.pml4;
        for level in (1..=4).rev() {
            let index = ((virt >> (12 + 9 * (level - 1))) & 511) as usize;
            // SAFETY: `table` is this address space's PML4 or a table frame its entries name (the tables are changed only through `&mut self`, which the caller's `&self` rules out), reached through the live direct map (`offset` is set); `index` < 512 stays inside the 4 KiB table; the entry is copied out, no reference kept.
            let entry = unsafe { ((table + offset) as *const u64).add(index).read() };
            let flags = Flags::from_bits_truncate(entry);
            if !flags.contains(needed) || (level > 1 && flags.contains(Flags::HUGE_PAGE)) {
                return None;
            }
            table = entry & ENTRY_ADDRESS;
        }
        Some(table)
    }

    /// Whether user code could read (with `write`, also store to) the page at `virt`
    /// (page-aligned) now, by its entries (see `user_frame`).
    pub fn user_may(&self, virt: u64, write: bool) -> bool {
        self.user_frame(virt, write).is_some()
    }

    /// Where the bytes from `offset` (at most `len`) of the page at `virt` (page-aligned)
    /// are in the direct map, and how many the page holds, if user code could make the
    /// access now (see `user_frame`).
    fn user_bytes(
        &self,
        virt: u64,
        offset: usize,
        len: usize,
        write: bool,
    ) -> Option<(*mut u8, usize)> {
        let phys = self.user_frame(virt, write)?;
        let offset = offset.min(PAGE as usize);
        let len = len.min(PAGE as usize - offset);
        Some(((phys_to_virt(phys) as *mut u8).wrapping_add(offset), len))
    }

    /// Copies from the page at `virt` (page-aligned), from `offset`, into `buf` (as much
    /// as the page holds) if user code could read it now (see `user_frame`); false
    /// otherwise, copying nothing.
    pub fn read_present(&self, virt: u64, offset: usize, buf: &mut [u8]) -> bool {
        let Some((bytes, len)) = self.user_bytes(virt, offset, buf.len(), false) else {
            return false;
        };
        // SAFETY: `user_bytes` gives `len` bytes inside the frame, reached through the direct map; a raw copy forms no reference to memory user code may be writing concurrently (as `SharedFrame::read`).
        unsafe { core::ptr::copy_nonoverlapping(bytes, buf.as_mut_ptr(), len) };
        true
    }

    /// Copies `data` into the page at `virt` (page-aligned) at `offset` (as much as the
    /// page holds) if user code could store to it now (see `user_frame`); false otherwise,
    /// writing nothing.
    pub fn write_present(&self, virt: u64, offset: usize, data: &[u8]) -> bool {
        let Some((bytes, len)) = self.user_bytes(virt, offset, data.len(), true) else {
            return false;
        };
        // SAFETY: as in `read_present`: inside the frame, through the direct map, by raw copy, as every writer of a page user code may touch writes it.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), bytes, len) };
        true
    }

    /// Copies bytes of the page at `virt` from `offset` into `buf`; false if no page is
    /// held there.
    pub fn read(&self, virt: u64, offset: usize, buf: &mut [u8]) -> bool {
        match self.frames.get(&virt) {
            Some(UserPage::Private(frame)) => {
                let offset = offset.min(PAGE as usize);
                let len = buf.len().min(PAGE as usize - offset);
                buf[..len].copy_from_slice(&frame.bytes()[offset..offset + len]);
                true
            }
            Some(UserPage::File { frame, .. }) => {
                frame.read(offset, buf);
                true
            }
            None => false,
        }
    }

    /// Copies `data` into the page at `virt` at `offset`: a private page this table alone
    /// holds, or a file's page mapped shared. False otherwise (not held, or it must be
    /// copied first).
    pub fn write(&mut self, virt: u64, offset: usize, data: &[u8]) -> bool {
        match self.frames.get_mut(&virt) {
            Some(UserPage::Private(frame)) => write_owned(frame, offset, data),
            Some(UserPage::File {
                frame,
                shared: true,
            }) => {
                frame.write(offset, data);
                true
            }
            _ => false,
        }
    }

    /// [`UserPageTable::write`] into a private page this table alone holds, and nothing
    /// else (false for any other page): such a page needs no copy and no dirty mark
    /// first, which the kernel's copy into user memory can then skip.
    pub fn write_private(&mut self, virt: u64, offset: usize, data: &[u8]) -> bool {
        match self.frames.get_mut(&virt) {
            Some(UserPage::Private(frame)) => write_owned(frame, offset, data),
            _ => false,
        }
    }

    /// The pages held in `[start, end)`, lowest first.
    pub fn pages_in(&self, start: u64, end: u64) -> Vec<u64> {
        if start >= end {
            return Vec::new();
        }
        self.frames
            .range(start..end)
            .map(|(&page, _)| page)
            .collect()
    }

    /// Makes this address space the CPU's current one, for user code to run in next: the
    /// CPU announces it (a shoot-down now waits for this CPU to leave user mode) and brings
    /// its TLB up to the table's generation.
    pub fn activate(&self) {
        let cpu = percpu::this();
        cpu.user_pml4.store(self.pml4, Ordering::SeqCst);
        cpu.user_space.store(self.space_id, Ordering::Relaxed);
        let generation = self.generation.load(Ordering::SeqCst);
        // What this CPU's CR3 holds, as recorded at every write of it (reading CR3 back
        // is slow to emulate, and this runs on every return to user mode); the boot
        // tables' load is not recorded, which only costs one write more.
        let loaded = cpu.loaded_cr3.load(Ordering::Relaxed) == self.pml4;
        if !loaded || cpu.flushed_generation.load(Ordering::Relaxed) != generation {
            // SAFETY: the kernel half is shared with the kernel's own tables, so the code and data running now stay mapped across the switch (or the reload, which flushes the user half's TLB entries).
            unsafe {
                Cr3::write(
                    PhysFrame::containing_address(PhysAddr::new(self.pml4)),
                    Cr3Flags::empty(),
                )
            };
            cpu.loaded_cr3.store(self.pml4, Ordering::SeqCst);
        }
        cpu.flushed_generation.store(generation, Ordering::Relaxed);
    }

    /// Starts a batch of changes that free no frame ([`UserPageTable::protect`],
    /// [`UserPageTable::hide`], a write-protecting [`UserPageTable::map_page`]): their
    /// shoot-downs become one, when the batch ends (its guard drops, on every path out).
    /// Changes that free a frame still shoot down at once. `fork` write-protecting a
    /// parent's pages and `mprotect` of a range cost other CPUs one interruption.
    pub fn batch(&mut self) -> Batch<'_> {
        let outer = core::mem::replace(&mut self.batching, true);
        Batch { table: self, outer }
    }

    /// [`Self::shoot_down`] now, or at the end of the batch this change is part of.
    fn shoot_down_or_defer(&mut self) {
        if self.batching {
            self.pending = true;
        } else {
            self.shoot_down();
        }
    }

    /// Takes stale entries of this table out of every other CPU's user mode: bumps the
    /// generation, then kicks each CPU that announced this table and waits until it has
    /// left user mode (it flushes before it enters again). This CPU flushed the page
    /// itself; its own TLB stays current if it was.
    fn shoot_down(&mut self) {
        self.pending = false;
        let before = self.generation.fetch_add(1, Ordering::SeqCst);
        let me = percpu::this();
        if me.loaded_cr3.load(Ordering::Relaxed) == self.pml4 {
            let _ = me.flushed_generation.compare_exchange(
                before,
                before + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        let mut waiting = [(usize::MAX, 0u64); percpu::MAX_CPUS];
        for (index, cpu) in percpu::CPUS.iter().enumerate() {
            if index == me.index() || cpu.user_pml4.load(Ordering::SeqCst) != self.pml4 {
                continue;
            }
            waiting[index] = (index, cpu.user_exits.load(Ordering::SeqCst));
            crate::apic::kick(cpu.apic_id.load(Ordering::Relaxed));
        }
        for &(index, exits) in waiting.iter().filter(|(index, _)| *index != usize::MAX) {
            let cpu = &percpu::CPUS[index];
            while cpu.user_pml4.load(Ordering::SeqCst) == self.pml4
                && cpu.user_exits.load(Ordering::SeqCst) == exits
            {
                core::hint::spin_loop();
            }
        }
    }
}

/// Copies `data` into a private frame at `offset` if no other table holds it.
fn write_owned(frame: &mut Arc<Frame>, offset: usize, data: &[u8]) -> bool {
    let Some(frame) = Arc::get_mut(frame) else {
        return false;
    };
    let offset = offset.min(PAGE as usize);
    let len = data.len().min(PAGE as usize - offset);
    frame.bytes_mut()[offset..offset + len].copy_from_slice(&data[..len]);
    true
}

fn no_execute_flag() -> Flags {
    if crate::cpu::has_no_execute() {
        Flags::NO_EXECUTE
    } else {
        Flags::empty()
    }
}

/// A batch of changes to a [`UserPageTable`] (see [`UserPageTable::batch`]); the table
/// through it.
pub struct Batch<'a> {
    table: &'a mut UserPageTable,
    /// Whether a batch was open already (this one then ends with it).
    outer: bool,
}

impl core::ops::Deref for Batch<'_> {
    type Target = UserPageTable;
    fn deref(&self) -> &UserPageTable {
        self.table
    }
}

impl core::ops::DerefMut for Batch<'_> {
    fn deref_mut(&mut self) -> &mut UserPageTable {
        self.table
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.table.batching = self.outer;
        if !self.outer && self.table.pending {
            self.table.shoot_down();
        }
    }
}

/// Whether going from `old` to `new` takes a right away (present, writable, executable),
/// so other CPUs' cached entries must go.
fn takes_away(old: Flags, new: Flags) -> bool {
    let lost_write = old.contains(Flags::WRITABLE) && !new.contains(Flags::WRITABLE);
    let lost_execute = !old.contains(Flags::NO_EXECUTE) && new.contains(Flags::NO_EXECUTE);
    let lost_user = old.contains(Flags::USER_ACCESSIBLE) && !new.contains(Flags::USER_ACCESSIBLE);
    lost_write || lost_execute || lost_user || !new.contains(Flags::PRESENT)
}

impl Drop for UserPageTable {
    /// Frees the user half's table frames; the mapped frames (the `frames` field) are freed
    /// right after, when no table maps them and no CPU runs user code in these tables.
    /// Switches to the kernel's tables first if this address space is live here; if another
    /// CPU's CR3 still holds it (it ran this address space last and has not entered
    /// another), the table frames are retired until it lets go ([`reap_retired`]).
    fn drop(&mut self) {
        let kernel_pml4 = KERNEL_PML4.load(Ordering::Relaxed);
        let (current, _) = Cr3::read_raw();
        if current.start_address().as_u64() == self.pml4 {
            // SAFETY: the kernel's tables map everything the kernel uses.
            unsafe {
                Cr3::write(
                    PhysFrame::containing_address(PhysAddr::new(kernel_pml4)),
                    Cr3Flags::empty(),
                )
            };
            percpu::this()
                .loaded_cr3
                .store(kernel_pml4, Ordering::SeqCst);
        }
        fn collect_level(table: u64, level: u32, frames: &mut Vec<u64>) {
            if level > 1 {
                let entries: Vec<u64> = {
                    // SAFETY: a table frame of this address space, reached through the direct map.
                    let table = unsafe { &*(phys_to_virt(table) as *const PageTable) };
                    table
                        .iter()
                        .filter(|e| !e.is_unused())
                        .map(|e| e.addr().as_u64())
                        .collect()
                };
                for child in entries {
                    collect_level(child, level - 1, frames);
                }
            }
            frames.push(table);
        }
        let children: Vec<u64> = {
            // SAFETY: as above, for the PML4.
            let pml4 = unsafe { &*(phys_to_virt(self.pml4) as *const PageTable) };
            pml4.iter()
                .take(KERNEL_HALF_FIRST_ENTRY)
                .filter(|e| !e.is_unused())
                .map(|e| e.addr().as_u64())
                .collect()
        };
        let mut frames = Vec::with_capacity(self.table_frames);
        for child in children {
            collect_level(child, 3, &mut frames);
        }
        frames.push(self.pml4);
        if loaded_elsewhere(self.pml4) {
            RETIRED.lock().push((self.pml4, frames));
        } else {
            for frame in frames {
                free_frame(frame);
            }
        }
    }
}
