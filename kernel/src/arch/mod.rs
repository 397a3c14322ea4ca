//! arch: every piece of the kernel that must talk to the x86_64 hardware directly, and so the
//! only module allowed `unsafe` (the crate root denies it everywhere else).
//!
//! Why one module: as in Asterinas' OSTD, the rest of the kernel is written against the safe
//! types exported here (serial port, page tables, heap, traps, power), so a reviewer looking
//! for memory-safety bugs reads this folder and nothing else. Each `unsafe` block carries a
//! `// SAFETY:` line saying why it holds.

pub mod apic;
pub mod cpu;
pub mod dma;
pub mod frame;
pub mod gdt;
pub mod heap;
pub mod idt;
pub mod paging;
pub mod power;
pub mod selftest;
pub mod serial;
pub mod trap;
pub mod user;

/// Loads the kernel's own GDT (with the TSS and its interrupt stacks) and IDT. After this,
/// CPU exceptions reach [`crate::trap::handle`].
pub fn init_cpu() {
    cpu::enable_features();
    cpu::mask_legacy_pic();
    gdt::load();
    idt::load();
    user::init();
}
