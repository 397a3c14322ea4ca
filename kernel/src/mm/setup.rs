//! Physical memory at boot: the memory map in, page tables, heap and frame allocator out.

use core::fmt;

use boot::{BootInfo, MemoryKind};
use spin::{Mutex, Once};

use super::frame::{FRAME_SIZE, FrameAllocator};
use super::regions::{RangeSet, TooManyRanges};
use crate::arch::{heap, paging};

const LOW_MEMORY_END: u64 = 1 << 20;
const LARGE_PAGE: u64 = 2 << 20;
/// The first heap span: enough for boot; the heap grows from the frame allocator after.
const INITIAL_HEAP_MAX: u64 = 8 << 20;

static FRAMES: Once<Mutex<FrameAllocator>> = Once::new();

#[derive(Debug)]
pub enum MemoryError {
    NoMemoryMap,
    TooManyRanges(TooManyRanges),
    Paging(paging::PagingError),
    NoRoomForHeap,
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoMemoryMap => write!(f, "the VMM gave no usable memory in its memory map"),
            Self::TooManyRanges(error) => write!(f, "{error}"),
            Self::Paging(error) => write!(f, "cannot build the kernel page tables: {error:?}"),
            Self::NoRoomForHeap => write!(f, "no room for the kernel heap"),
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
        let start = region.start.next_multiple_of(FRAME_SIZE);
        let end = region.end() / FRAME_SIZE * FRAME_SIZE;
        free.insert(start, end)?;
    }
    free.remove(0, LOW_MEMORY_END)?;
    let (image_start, image_end) = boot::kernel_image().phys_range();
    free.remove(image_start, image_end)?;
    for module in boot.modules() {
        let start = module.start / FRAME_SIZE * FRAME_SIZE;
        free.remove(
            start,
            (module.start + module.len).next_multiple_of(FRAME_SIZE),
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
    let modules = boot.modules().iter().map(|m| (m.start, m.start + m.len));
    for (start, end) in regions.chain(modules) {
        ram.insert(
            start / LARGE_PAGE * LARGE_PAGE,
            end.next_multiple_of(LARGE_PAGE),
        )?;
    }
    Ok(ram)
}

pub fn init(boot: &BootInfo) -> Result<MemorySummary, MemoryError> {
    let mut free = free_ranges(boot)?;
    let ram = direct_map_ranges(boot)?;

    let mut take_table_frame = || {
        free.take(FRAME_SIZE, FRAME_SIZE)
            .filter(|&frame| frame < boot::early_identity_limit())
    };
    paging::switch_to_kernel_tables(&boot::kernel_image(), ram.as_slice(), &mut take_table_frame)
        .map_err(MemoryError::Paging)?;
    crate::timeline::phase("page tables");

    let heap_bytes = (free.total() / 4).min(INITIAL_HEAP_MAX) / FRAME_SIZE * FRAME_SIZE;
    let heap_start = free
        .take(heap_bytes, FRAME_SIZE)
        .ok_or(MemoryError::NoRoomForHeap)?;
    heap::init(heap_start, heap_bytes as usize, grow_heap)
        .map_err(|()| MemoryError::NoRoomForHeap)?;
    crate::timeline::phase("heap");

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
    crate::arch::frame::set_source(crate::arch::frame::FrameSource {
        allocate: allocate_frame,
        free: free_frame,
    });
    crate::arch::dma::init(crate::arch::dma::DmaFrames {
        allocate_contiguous: |pages| FRAMES.get()?.lock().allocate_contiguous(pages as u64),
        free_contiguous: |phys, pages| {
            if let Some(frames) = FRAMES.get() {
                frames.lock().free_contiguous(phys, pages as u64);
            }
        },
    });

    TOTAL_USABLE.store(usable_bytes(boot), core::sync::atomic::Ordering::Relaxed);
    Ok(MemorySummary {
        usable_bytes: usable_bytes(boot),
        direct_map_bytes: ram.total(),
        heap_bytes,
        free_frames,
    })
}

fn allocate_frame() -> Option<u64> {
    FRAMES.get()?.lock().allocate()
}

fn free_frame(phys: u64) {
    if let Some(frames) = FRAMES.get() {
        frames.lock().free_contiguous(phys, 1);
    }
}

fn grow_heap(bytes: usize) -> Option<u64> {
    FRAMES
        .get()?
        .lock()
        .allocate_contiguous((bytes as u64).div_ceil(FRAME_SIZE))
}

/// Total and free RAM in bytes, for `sysinfo` and `/proc/meminfo`.
pub fn memory_totals() -> (u64, u64) {
    let free = FRAMES.get().map_or(0, |frames| frames.lock().free_frames()) * FRAME_SIZE;
    (
        TOTAL_USABLE.load(core::sync::atomic::Ordering::Relaxed),
        free,
    )
}

static TOTAL_USABLE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
