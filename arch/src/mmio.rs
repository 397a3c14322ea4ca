//! Device registers: an [`MmioRegion`] is an uncached mapping of a device's register window,
//! checked before it is mapped, read and written with bounds-checked volatile accesses.
//!
//! The checks are what make mapping an address from outside (the kernel command line's
//! `virtio_mmio.device=`, a PCI BAR) safe to offer: the range must not wrap, must lie inside
//! the MMIO window (the first 512 GiB of physical address space, one kernel PML4 entry, made
//! before any user address space copies the kernel half) and within the CPU's physical
//! address width, and must not touch RAM (an uncached alias of memory the direct map caches,
//! or a device told to write over kernel memory, would break everything else).

use core::fmt;

use crate::PAGE;
use crate::paging::{self, MMIO_BASE, PagingError};

/// Largest register window mapped at once (PCI BARs of virtio devices are a few pages).
pub const MAX_REGION: u64 = 64 << 20;
/// The MMIO window covers physical addresses below this.
const WINDOW_END: u64 = 512 << 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmioError {
    /// Zero bytes, or more than [`MAX_REGION`].
    BadSize(u64),
    /// The range wraps around or ends past the MMIO window or the CPU's address width.
    OutOfRange { start: u64, len: u64 },
    /// The range overlaps RAM (or a boot module).
    Ram { start: u64, len: u64 },
    /// The page tables could not be extended.
    Paging(PagingError),
}

impl fmt::Display for MmioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadSize(len) => write!(f, "bad register window size {len:#x}"),
            Self::OutOfRange { start, len } => write!(
                f,
                "{start:#x}+{len:#x} lies outside device-register address space"
            ),
            Self::Ram { start, len } => write!(f, "{start:#x}+{len:#x} overlaps RAM"),
            Self::Paging(error) => write!(f, "cannot map: {error:?}"),
        }
    }
}

/// A mapped register window `[phys, phys + len)`. Mappings stay for the kernel's lifetime
/// (they are shared: mapping the same registers twice is fine), so the handle is cheap.
#[derive(Debug)]
pub struct MmioRegion {
    phys: u64,
    virt: u64,
    len: u64,
}

/// Checks that `[phys, phys + len)` may be mapped as device registers.
pub fn check_range(phys: u64, len: u64) -> Result<(), MmioError> {
    if len == 0 || len > MAX_REGION {
        return Err(MmioError::BadSize(len));
    }
    let out_of_range = MmioError::OutOfRange { start: phys, len };
    let end = phys.checked_add(len).ok_or(out_of_range)?;
    let address_limit = 1u64 << crate::cpu::physical_address_bits().min(63);
    if end > WINDOW_END || end > address_limit {
        return Err(out_of_range);
    }
    let (first, last) = (phys / PAGE * PAGE, end.next_multiple_of(PAGE));
    if crate::memory::overlaps_direct_map(first, last) {
        return Err(MmioError::Ram { start: phys, len });
    }
    Ok(())
}

impl MmioRegion {
    /// Checks and maps the registers `[phys, phys + len)` uncached.
    pub fn map(phys: u64, len: u64) -> Result<Self, MmioError> {
        check_range(phys, len)?;
        let virt = paging::map_mmio(phys, len).map_err(MmioError::Paging)?;
        debug_assert_eq!(virt, MMIO_BASE + phys);
        Ok(Self { phys, virt, len })
    }

    pub fn phys(&self) -> u64 {
        self.phys
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The virtual address of the window's start, for `virtio_drivers::Hal`.
    pub(crate) fn virt(&self) -> u64 {
        self.virt
    }

    fn register<T>(&self, offset: usize) -> *mut T {
        let size = core::mem::size_of::<T>();
        assert!(
            offset.is_multiple_of(size) && (offset + size) as u64 <= self.len,
            "register offset {offset:#x} outside the {:#x}-byte window at {:#x}",
            self.len,
            self.phys
        );
        (self.virt as usize + offset) as *mut T
    }

    pub fn read_u32(&self, offset: usize) -> u32 {
        let register = self.register::<u32>(offset);
        // SAFETY: `register` checked the offset is aligned and inside the window, which `map` mapped uncached for the kernel's lifetime.
        unsafe { core::ptr::read_volatile(register) }
    }

    pub fn write_u32(&self, offset: usize, value: u32) {
        let register = self.register::<u32>(offset);
        // SAFETY: as in `read_u32`.
        unsafe { core::ptr::write_volatile(register, value) }
    }

    pub fn write_u8(&self, offset: usize, value: u8) {
        let register = self.register::<u8>(offset);
        // SAFETY: as in `read_u32`.
        unsafe { core::ptr::write_volatile(register, value) }
    }
}
