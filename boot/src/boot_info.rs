//! What the boot layer hands the kernel: a self-contained copy of the VMM's start-of-day
//! data, so the kernel never has to read firmware-owned memory that it may later reuse.

/// Longest kernel command line kept; the rest is cut and [`BootInfo::problem`] says so.
pub const MAX_CMDLINE: usize = 4096;
/// Memory-map entries kept (QEMU gives fewer than ten).
pub const MAX_MEMORY_REGIONS: usize = 128;
/// Boot modules kept (module 0 is the container spec).
pub const MAX_MODULES: usize = 8;

/// A memory-map entry's type, as E820 and `hvm_memmap_table_entry` number them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    Usable,
    Reserved,
    AcpiReclaimable,
    AcpiNvs,
    Unusable,
    Other(u32),
}

impl MemoryKind {
    pub(crate) fn from_e820(kind: u32) -> Self {
        match kind {
            1 => Self::Usable,
            2 => Self::Reserved,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            5 => Self::Unusable,
            other => Self::Other(other),
        }
    }
}

/// A physical address range `[start, start + len)` and its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    pub start: u64,
    pub len: u64,
    pub kind: MemoryKind,
}

impl MemoryRegion {
    pub const fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// A module the VMM loaded (QEMU: `-initrd`), by physical address. Its bytes stay where the
/// VMM put them; the kernel keeps that range out of its allocators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootModule {
    pub start: u64,
    pub len: u64,
}

/// Everything the kernel learns from the boot layer.
pub struct BootInfo {
    /// TSC value at the first instruction of the PVH entry: the zero of the boot timeline.
    pub entry_tsc: u64,
    pub(crate) cmdline: [u8; MAX_CMDLINE],
    pub(crate) cmdline_len: usize,
    pub(crate) memory: [MemoryRegion; MAX_MEMORY_REGIONS],
    pub(crate) memory_len: usize,
    pub(crate) modules: [BootModule; MAX_MODULES],
    pub(crate) modules_len: usize,
    /// Physical address of the ACPI RSDP, when the VMM gave one.
    pub rsdp: Option<u64>,
    /// The first thing that was wrong with the start info, for the kernel to report.
    pub problem: Option<&'static str>,
}

impl BootInfo {
    pub(crate) const fn empty() -> Self {
        const NO_REGION: MemoryRegion = MemoryRegion {
            start: 0,
            len: 0,
            kind: MemoryKind::Reserved,
        };
        const NO_MODULE: BootModule = BootModule { start: 0, len: 0 };
        Self {
            entry_tsc: 0,
            cmdline: [0; MAX_CMDLINE],
            cmdline_len: 0,
            memory: [NO_REGION; MAX_MEMORY_REGIONS],
            memory_len: 0,
            modules: [NO_MODULE; MAX_MODULES],
            modules_len: 0,
            rsdp: None,
            problem: None,
        }
    }

    /// The kernel command line, byte for byte as the VMM passed it.
    pub fn cmdline_bytes(&self) -> &[u8] {
        &self.cmdline[..self.cmdline_len]
    }

    /// The memory map, sorted by address, without empty entries.
    pub fn memory_map(&self) -> &[MemoryRegion] {
        &self.memory[..self.memory_len]
    }

    pub fn modules(&self) -> &[BootModule] {
        &self.modules[..self.modules_len]
    }

    pub(crate) fn note_problem(&mut self, problem: &'static str) {
        self.problem.get_or_insert(problem);
    }
}
