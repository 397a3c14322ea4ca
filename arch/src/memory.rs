//! Physical memory, owned by `arch`: the boot memory map in; the kernel's page tables, the
//! heap and the frame allocator out. The kernel above sees none of it as addresses: it gets
//! [`crate::frame::Frame`]s, heap allocations and the summary below.
//!
//! Lock order: the heap → [`FRAMES`] (the heap's grow hook and its release of free pages);
//! the kernel-table lock → [`FRAMES`] (MMIO mappings), and → the heap when a frame for a
//! table makes the heap give pages back. [`FRAMES`] is a leaf: nothing allocates from the
//! heap, or releases into it, while holding it.

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use boot::MemoryKind;
use spin::{Mutex, Once};

use crate::PAGE;
use crate::boot_info::BootInfo;
use crate::frame_allocator::FrameAllocator;
use crate::regions::{RangeSet, TooManyRanges};
use crate::{heap, paging};

const LOW_MEMORY_END: u64 = 1 << 20;
const LARGE_PAGE: u64 = 2 << 20;
/// The first heap span: enough for boot; the heap grows from the frame allocator after.
const INITIAL_HEAP_MAX: u64 = 8 << 20;

/// The frame allocator: every frame of RAM not in the image, the modules, low memory, the
/// page tables or the heap's spans.
static FRAMES: Once<Mutex<FrameAllocator>> = Once::new();
/// The physical ranges the direct map covers (RAM and the modules, widened to 2 MiB): what
/// an MMIO mapping must never alias.
static DIRECT_MAPPED: Once<RangeSet> = Once::new();
static TOTAL_USABLE: AtomicU64 = AtomicU64::new(0);
static STARTED: AtomicBool = AtomicBool::new(false);

#[derive(Debug)]
pub enum MemoryError {
    NoMemoryMap,
    TooManyRanges(TooManyRanges),
    Paging(paging::PagingError),
    NoRoomForHeap,
    /// [`init`] ran before.
    AlreadyInitialised,
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoMemoryMap => write!(f, "the VMM gave no usable memory in its memory map"),
            Self::TooManyRanges(error) => write!(f, "{error}"),
            Self::Paging(error) => write!(f, "cannot build the kernel page tables: {error:?}"),
            Self::NoRoomForHeap => write!(f, "no room for the kernel heap"),
            Self::AlreadyInitialised => write!(f, "memory set up twice"),
        }
    }
}

impl From<TooManyRanges> for MemoryError {
    fn from(error: TooManyRanges) -> Self {
        Self::TooManyRanges(error)
    }
}

/// What [`init`] found and set up, for the boot log.
pub struct MemorySummary {
    pub usable_bytes: u64,
    pub direct_map_bytes: u64,
    pub heap_bytes: u64,
    pub free_frames: u64,
}

impl fmt::Display for MemorySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
        write!(
            f,
            "{} KiB usable, {:.0} MiB direct-mapped, {:.1} MiB heap, {} frames free",
            self.usable_bytes / 1024,
            mib(self.direct_map_bytes),
            mib(self.heap_bytes),
            self.free_frames
        )
    }
}

/// Bytes the VMM reported as usable RAM (before the kernel takes any).
pub fn usable_bytes(boot: &BootInfo) -> u64 {
    boot.memory_map()
        .iter()
        .filter(|r| r.kind == MemoryKind::Usable)
        .map(|r| r.len)
        .sum()
}

/// Free RAM: usable regions minus low memory, the kernel image and the boot modules.
fn free_ranges(boot: &BootInfo) -> Result<RangeSet, MemoryError> {
    let mut free = RangeSet::new();
    for region in boot
        .memory_map()
        .iter()
        .filter(|r| r.kind == MemoryKind::Usable)
    {
        let start = region.start.next_multiple_of(PAGE);
        let end = region.end() / PAGE * PAGE;
        free.insert(start, end)?;
    }
    free.remove(0, LOW_MEMORY_END)?;
    let (image_start, image_end) = boot::kernel_image().phys_range();
    free.remove(image_start, image_end)?;
    for module in boot.raw().modules() {
        let start = module.start / PAGE * PAGE;
        free.remove(
            start,
            module
                .start
                .saturating_add(module.len)
                .next_multiple_of(PAGE),
        )?;
    }
    if free.total() == 0 {
        return Err(MemoryError::NoMemoryMap);
    }
    Ok(free)
}

/// Physical memory the direct map covers: all RAM the VMM described plus the modules,
/// widened to 2 MiB pages.
fn direct_map_ranges(boot: &BootInfo) -> Result<RangeSet, MemoryError> {
    let mut ram = RangeSet::new();
    let ram_kinds = [
        MemoryKind::Usable,
        MemoryKind::AcpiReclaimable,
        MemoryKind::AcpiNvs,
    ];
    let regions = boot
        .memory_map()
        .iter()
        .filter(|r| ram_kinds.contains(&r.kind))
        .map(|r| (r.start, r.end()));
    let modules = boot
        .raw()
        .modules()
        .iter()
        .map(|m| (m.start, m.start.saturating_add(m.len)));
    for (start, end) in regions.chain(modules) {
        ram.insert(
            start / LARGE_PAGE * LARGE_PAGE,
            end.next_multiple_of(LARGE_PAGE),
        )?;
    }
    Ok(ram)
}

/// Sets up physical memory once: builds and loads the kernel's page tables, gives the heap
/// its first span and the rest of RAM to the frame allocator. `phase` is called with the
/// name of each step as it ends ("page tables", "heap"), for the boot timeline.
pub fn init(
    boot: &BootInfo,
    phase: &mut dyn FnMut(&'static str),
) -> Result<MemorySummary, MemoryError> {
    if STARTED.swap(true, Ordering::AcqRel) {
        return Err(MemoryError::AlreadyInitialised);
    }
    let mut free = free_ranges(boot)?;
    let ram = direct_map_ranges(boot)?;

    let mut take_table_frame = || {
        free.take(PAGE, PAGE)
            .filter(|&frame| frame < boot::early_identity_limit())
    };
    paging::switch_to_kernel_tables(&boot::kernel_image(), ram.as_slice(), &mut take_table_frame)
        .map_err(MemoryError::Paging)?;
    DIRECT_MAPPED.call_once(|| ram.clone());
    phase("page tables");

    let heap_bytes = (free.total() / 4).min(INITIAL_HEAP_MAX) / PAGE * PAGE;
    let heap_start = free
        .take(heap_bytes, PAGE)
        .ok_or(MemoryError::NoRoomForHeap)?;
    heap::init(heap_start, heap_bytes as usize).map_err(|()| MemoryError::NoRoomForHeap)?;
    phase("heap");

    let ranges = free.as_slice();
    let (lowest, highest) = (
        ranges.first().map_or(0, |r| r.0),
        ranges.last().map_or(0, |r| r.1),
    );
    let mut frames = FrameAllocator::new(lowest, highest);
    for &(start, end) in ranges {
        frames.add_free_range(start, end);
    }
    let free_frames = frames.free_frames();
    FRAMES.call_once(|| Mutex::new(frames));

    TOTAL_USABLE.store(usable_bytes(boot), Ordering::Relaxed);
    Ok(MemorySummary {
        usable_bytes: usable_bytes(boot),
        direct_map_bytes: ram.total(),
        heap_bytes,
        free_frames,
    })
}

/// One free frame (physical address), for [`crate::frame::Frame`] and page tables. With
/// none free, the heap is asked for the pages it holds free first.
pub(crate) fn allocate_frame() -> Option<u64> {
    let frames = FRAMES.get()?;
    if let Some(frame) = frames.lock().allocate() {
        return Some(frame);
    }
    if heap::release_free_memory() == 0 {
        return None;
    }
    frames.lock().allocate()
}

/// Returns a frame [`allocate_frame`] gave.
pub(crate) fn free_frame(phys: u64) {
    if let Some(frames) = FRAMES.get() {
        frames.lock().free_contiguous(phys, 1);
    }
}

/// `pages` physically contiguous free frames (the heap's growth, DMA memory).
pub(crate) fn allocate_contiguous(pages: usize) -> Option<u64> {
    FRAMES.get()?.lock().allocate_contiguous(pages as u64)
}

/// Returns frames [`allocate_contiguous`] gave.
pub(crate) fn free_contiguous(phys: u64, pages: usize) {
    if let Some(frames) = FRAMES.get() {
        frames.lock().free_contiguous(phys, pages as u64);
    }
}

/// A block of `pages` frames for one of the heap's large allocations (physical address of
/// the first); with no run that long free, the heap is asked for the pages it holds free
/// first. `None` before [`init`] has made the frame allocator. Called without the heap
/// locked.
pub(crate) fn allocate_block(pages: usize) -> Option<u64> {
    let frames = FRAMES.get()?;
    if let Some(phys) = frames.lock().allocate_block(pages as u64) {
        return Some(phys);
    }
    if heap::release_free_memory() == 0 {
        return None;
    }
    frames.lock().allocate_block(pages as u64)
}

/// Whether `phys` starts a block [`allocate_block`] gave.
pub(crate) fn is_block(phys: u64) -> bool {
    FRAMES
        .get()
        .is_some_and(|frames| frames.lock().is_block(phys))
}

/// Returns the block of `pages` frames at `phys` if [`allocate_block`] gave it; `false`
/// (nothing done) if not.
pub(crate) fn free_block(phys: u64, pages: usize) -> bool {
    FRAMES
        .get()
        .is_some_and(|frames| frames.lock().free_block(phys, pages as u64))
}

/// Whether `[start, end)` touches memory the direct map covers (RAM, modules).
pub(crate) fn overlaps_direct_map(start: u64, end: u64) -> bool {
    DIRECT_MAPPED.get().is_some_and(|ram| {
        ram.as_slice()
            .iter()
            .any(|&(ram_start, ram_end)| start < ram_end && ram_start < end)
    })
}

/// Whether the direct map covers all of `[start, end)`.
pub(crate) fn inside_direct_map(start: u64, end: u64) -> bool {
    DIRECT_MAPPED.get().is_some_and(|ram| {
        ram.as_slice()
            .iter()
            .any(|&(ram_start, ram_end)| ram_start <= start && end <= ram_end)
    })
}

/// Total and free RAM in bytes, for `sysinfo` and `/proc/meminfo`.
pub fn memory_totals() -> (u64, u64) {
    let free = FRAMES.get().map_or(0, |frames| frames.lock().free_frames()) * PAGE;
    (TOTAL_USABLE.load(Ordering::Relaxed), free)
}
