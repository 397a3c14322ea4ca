//! What the boot layer handed over, as the kernel may see it: the command line, the memory
//! map (plain data), and the boot modules as [`BootModule`]s, which only this crate builds.

pub use boot::{MemoryKind, MemoryRegion};

/// The boot layer's hand-off (`boot::BootInfo`), read-only.
#[derive(Clone, Copy)]
pub struct BootInfo {
    raw: &'static boot::BootInfo,
}

impl BootInfo {
    /// Used by [`crate::entry_point!`] only; the boot layer is the one source of a
    /// `&'static boot::BootInfo`.
    #[doc(hidden)]
    pub fn __from_boot(raw: &'static boot::BootInfo) -> Self {
        Self { raw }
    }

    pub(crate) fn raw(&self) -> &'static boot::BootInfo {
        self.raw
    }

    /// TSC value at the first instruction of the PVH entry: the zero of the boot timeline.
    pub fn entry_tsc(&self) -> u64 {
        self.raw.entry_tsc
    }

    /// The kernel command line, byte for byte as the VMM passed it.
    pub fn cmdline_bytes(&self) -> &'static [u8] {
        self.raw.cmdline_bytes()
    }

    /// The memory map, sorted by address, without empty entries.
    pub fn memory_map(&self) -> &'static [MemoryRegion] {
        self.raw.memory_map()
    }

    /// The modules the VMM loaded (QEMU: `-initrd`); module 0 is the container spec.
    pub fn modules(&self) -> impl Iterator<Item = BootModule> + use<> {
        self.raw.modules().iter().map(|module| BootModule {
            start: module.start,
            len: module.len,
        })
    }

    /// Physical address of the ACPI RSDP, when the VMM gave one.
    pub fn rsdp(&self) -> Option<u64> {
        self.raw.rsdp
    }

    /// The first thing that was wrong with the start info, for the kernel to report.
    pub fn problem(&self) -> Option<&'static str> {
        self.raw.problem
    }
}

/// A module the VMM loaded. Built only from the boot layer's list (the fields are private),
/// so [`BootModule::bytes`] reads memory the VMM really filled and [`crate::memory`] keeps
/// out of every allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootModule {
    start: u64,
    len: u64,
}

impl BootModule {
    /// Where the module lies: `(physical start, length)`.
    pub fn phys_range(&self) -> (u64, u64) {
        (self.start, self.len)
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The module's bytes, read through the direct map; `None` before [`crate::memory::init`]
    /// has made the direct map live (or for a range that wraps around).
    pub fn bytes(&self) -> Option<&'static [u8]> {
        self.start.checked_add(self.len)?;
        if !crate::paging::direct_map_live() {
            return None;
        }
        let len = usize::try_from(self.len).ok()?;
        let virt = crate::paging::phys_to_virt(self.start) as *const u8;
        // SAFETY: the range is a boot module the boot layer reported (this type is built from its list alone); `memory::init` mapped it in the direct map (it includes the modules) and never hands its frames to an allocator, so nothing writes it for the kernel's lifetime.
        Some(unsafe { core::slice::from_raw_parts(virt, len) })
    }
}
