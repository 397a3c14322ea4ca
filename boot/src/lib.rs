//! boot: the first layer. QEMU (or any PVH-capable VMM) jumps here in 32-bit protected mode;
//! this crate gets the CPU to 64-bit long mode with the kernel mapped in the higher half,
//! copies what the VMM handed over (`hvm_start_info`) into a [`BootInfo`], and calls the
//! kernel's entry, declared with [`entry_point!`].
//!
//! Layering: `boot` knows nothing of the kernel; the kernel knows `boot` only through
//! [`BootInfo`] and [`entry_point!`]. Everything here runs before the kernel has a console,
//! so nothing in it may fail loudly: problems are recorded in [`BootInfo::problem`] for the
//! kernel to report.
#![no_std]
// A host build (for the unit tests and doctests of the crates above) has no entry code, so
// the start-info parser it would call is unused there.
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

mod boot_info;
mod pvh;
mod start_info;

pub use boot_info::{
    BootInfo, BootModule, MAX_CMDLINE, MAX_MEMORY_REGIONS, MAX_MODULES, MemoryKind, MemoryRegion,
};
pub use pvh::{ImageRange, KERNEL_VIRTUAL_BASE, KernelImage, early_identity_limit, kernel_image};

/// Declares the kernel's entry function: `fn(&'static BootInfo) -> !`.
///
/// Why a macro: the boot stub calls a fixed symbol, and the macro is the one place that binds
/// that symbol to a normal, type-checked Rust function in the kernel crate.
#[macro_export]
macro_rules! entry_point {
    ($path:path) => {
        #[unsafe(export_name = "__boot_kernel_main")]
        fn __boot_kernel_main(info: &'static $crate::BootInfo) -> ! {
            let kernel_main: fn(&'static $crate::BootInfo) -> ! = $path;
            kernel_main(info)
        }
    };
}
