//! arch: every piece of the sandbox kernel that must talk to the x86_64 hardware directly, and
//! so the only crate besides `boot` (and `drivers`' device registers) with `unsafe` code. The
//! `kernel` crate above it says `#![forbid(unsafe_code)]`.
//!
//! Why a crate of its own (as Asterinas' OSTD): a module's safe functions are sound only if
//! the rest of the crate uses them right; a crate's public API must be sound against *any*
//! safe caller. So nothing exported here takes a raw physical address it would dereference,
//! map or free:
//! - physical memory is owned by this crate ([`memory`]: the boot memory map, the frame
//!   allocator, the heap's spans); the kernel sees frames only as owned [`frame::Frame`]
//!   handles, freed on drop;
//! - a user page table ([`paging::UserPageTable`]) maps a page by taking the `Frame` and
//!   keeping it until the page is unmapped, so a mapped frame cannot be freed (see the
//!   `compile_fail` example there);
//! - boot modules ([`boot_info::BootModule`]) are built only from the boot layer's list;
//! - device registers are an owned [`mmio::MmioRegion`] checked against RAM and the MMIO
//!   window; DMA memory goes to virtio devices through [`dma::KernelHal`] only (its
//!   `virtio_drivers::Dma` regions are owned handles freed on drop).
//!
//! Nothing here reaches up into the kernel: what the kernel decides is passed down as plain
//! data or a function (the trap handler given to [`init_cpu`], the phase callback of
//! [`memory::init`]); what the CPU reports comes back as data ([`cpu::CpuDescription`]).
//!
//! Lock order (all spin locks; nothing here sleeps): the heap (`heap::HEAP`) → the frame
//! allocator (`memory::FRAMES`, taken by the heap's grow hook); the kernel-table lock
//! (`paging::TABLE_LOCK`, MMIO mappings) → the frame allocator; the retired user tables
//! (`paging::RETIRED`) → the heap → the frame allocator; a CPU's thread slots
//! (`percpu`) alone. No lock is held while waiting for another CPU (a TLB shoot-down waits
//! only for CPUs in user mode, see `paging`). The frame allocator is a leaf:
//! nothing is locked or allocated from the heap while it is held. The `Once` cells (GDT, IDT,
//! the trap handler, the RAM map, the APIC registers) are written once at boot and read
//! without locks after.
//!
//! Each `unsafe` block carries a `// SAFETY:` comment right above it saying why it holds.
//!
//! Host builds: the crate compiles on the host too, so `cargo test -p arch` runs the portable
//! unit tests (range set, frame allocator) and the `compile_fail` doctests; nothing that
//! touches the machine runs there, and the global allocator is only installed on the kernel
//! target.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

pub mod acpi;
pub mod apic;
pub mod boot_info;
pub mod cpu;
pub mod dma;
pub mod fpu;
pub mod fpu_switch;
pub mod frame;
mod frame_allocator;
mod gdt;
pub mod heap;
mod idt;
pub mod ioapic;
pub mod memory;
pub mod mmio;
pub mod paging;
pub mod percpu;
pub mod power;
mod regions;
pub mod selftest;
pub mod serial;
pub mod smp;
pub mod thread;
pub mod trap;
pub mod user;

pub use boot_info::{BootInfo, BootModule};
/// The page size, defined once in `vfs_core` (see there for why).
pub use vfs_core::PAGE_SIZE;

/// Page size for physical address arithmetic.
const PAGE: u64 = PAGE_SIZE as u64;

/// Sets up the boot CPU: its per-CPU block (GS), the kernel's own GDT (with this CPU's TSS
/// and interrupt stacks) and IDT, and `SYSCALL`. After this, traps in the kernel (CPU
/// exceptions, the timer) call `handler`; traps from user mode return from
/// [`user::UserContext::execute`] instead. The other CPUs do the same in [`smp`].
pub fn init_cpu(handler: fn(&mut trap::TrapFrame)) {
    trap::set_handler(handler);
    let cpu = percpu::install(0);
    cpu::enable_features();
    cpu::mask_legacy_pic();
    gdt::load(cpu);
    idt::load();
    user::init(cpu);
}

/// Declares the kernel's entry function: `fn(arch::BootInfo) -> !`.
///
/// Wraps `boot::entry_point!`, so the kernel binary names only `arch`: the boot layer's raw
/// hand-off becomes an [`BootInfo`] on the way in.
#[macro_export]
macro_rules! entry_point {
    ($path:path) => {
        fn __arch_kernel_main(info: &'static $crate::__boot::BootInfo) -> ! {
            let kernel_main: fn($crate::BootInfo) -> ! = $path;
            kernel_main($crate::BootInfo::__from_boot(info))
        }
        $crate::__boot::entry_point!(__arch_kernel_main);
    };
}

#[doc(hidden)]
pub use boot as __boot;
