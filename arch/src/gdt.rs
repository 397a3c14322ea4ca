//! The GDT and the TSS, one pair per CPU. The TSS's interrupt stack table gives the faults
//! that can strike with a broken stack (double fault, NMI, page fault) stacks of their own,
//! so a kernel stack overflow ends in a report instead of a triple fault; its `rsp0` is the
//! stack a trap from user mode lands on (set by [`super::user`] before every entry to user
//! mode). Each CPU needs its own: the CPU marks its TSS busy when it loads it, and `rsp0`
//! and the interrupt stacks are that CPU's alone.
//!
//! Segment order is fixed by `SYSRET`: user data must sit right below user code. Every
//! CPU's GDT has the same layout, so the selectors are one set ([`selectors`]).

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};

use crate::percpu::CpuLocal;

/// Interrupt-stack-table slots (the IDT names them 1-based; the TSS array is 0-based).
pub const DOUBLE_FAULT_IST: u16 = 0;
pub const NMI_IST: u16 = 1;
pub const PAGE_FAULT_IST: u16 = 2;

const IST_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct IstStacks([[u8; IST_STACK_SIZE]; 3]);

/// The boot CPU's interrupt stacks (it starts before the heap exists; the others get
/// theirs from the heap). Written only by the CPU when it switches to an IST stack. In
/// `.stack`, which the boot stub does not bother to zero.
#[unsafe(link_section = ".stack")]
static mut BOOT_IST_STACKS: IstStacks = IstStacks([[0; IST_STACK_SIZE]; 3]);

pub struct Selectors {
    pub kernel_code: SegmentSelector,
    pub kernel_data: SegmentSelector,
    pub user_data: SegmentSelector,
    pub user_code: SegmentSelector,
    pub tss: SegmentSelector,
}

static SELECTORS: Once<Selectors> = Once::new();

fn build_gdt(cpu: &'static CpuLocal) -> (GlobalDescriptorTable, Selectors) {
    let mut gdt = GlobalDescriptorTable::new();
    let kernel_code = gdt.append(Descriptor::kernel_code_segment());
    let kernel_data = gdt.append(Descriptor::kernel_data_segment());
    let user_data = gdt.append(Descriptor::user_data_segment());
    let user_code = gdt.append(Descriptor::user_code_segment());
    // SAFETY: the TSS is in a static per-CPU block that lives forever and is never moved.
    let tss = gdt.append(unsafe { Descriptor::tss_segment_unchecked(cpu.tss.get()) });
    (
        gdt,
        Selectors {
            kernel_code,
            kernel_data,
            user_data,
            user_code,
            tss,
        },
    )
}

/// Where `cpu`'s CPU finds the stack for traps from user mode.
pub(super) fn rsp0_slot(cpu: &'static CpuLocal) -> *mut u64 {
    let tss = cpu.tss.get();
    // SAFETY: only the address of the field is taken.
    unsafe { (&raw mut (*tss).privilege_stack_table[0]).cast::<u64>() }
}

/// The selectors every CPU's GDT has (the boot CPU's [`load`] sets them).
pub fn selectors() -> &'static Selectors {
    SELECTORS.get().expect("the boot CPU loads its GDT first")
}

/// Interrupt stacks for an application processor, from the heap (kept forever).
fn heap_ist_stacks() -> *mut IstStacks {
    let layout = core::alloc::Layout::new::<IstStacks>();
    // SAFETY: the layout has a non-zero size; the memory is never freed (the CPU uses it for as long as the machine runs).
    let stacks = unsafe { alloc::alloc::alloc_zeroed(layout) }.cast::<IstStacks>();
    if stacks.is_null() {
        alloc::alloc::handle_alloc_error(layout);
    }
    stacks
}

/// Builds and loads the running CPU's GDT and TSS (with its interrupt stacks).
pub(super) fn load(cpu: &'static CpuLocal) {
    let stacks = if cpu.index() == 0 {
        &raw mut BOOT_IST_STACKS
    } else {
        heap_ist_stacks()
    };
    let tss = cpu.tss.get();
    for slot in [DOUBLE_FAULT_IST, NMI_IST, PAGE_FAULT_IST] {
        let stack_start = VirtAddr::from_ptr(stacks) + (usize::from(slot) * IST_STACK_SIZE) as u64;
        // SAFETY: this CPU has not loaded its TSS yet, so nothing else reads or writes it.
        unsafe {
            (*tss).interrupt_stack_table[usize::from(slot)] = stack_start + IST_STACK_SIZE as u64
        };
    }
    let mut built = None;
    let gdt = cpu.gdt.call_once(|| {
        let (gdt, selectors) = build_gdt(cpu);
        built = Some(selectors);
        gdt
    });
    let selectors = match built {
        Some(selectors) => SELECTORS.call_once(|| selectors),
        None => selectors(),
    };
    gdt.load();
    // SAFETY: the selectors index the GDT just loaded, which lives for 'static; the TSS descriptor is marked available, as `ltr` requires (each CPU loads its own once).
    unsafe {
        CS::set_reg(selectors.kernel_code);
        DS::set_reg(selectors.kernel_data);
        ES::set_reg(selectors.kernel_data);
        SS::set_reg(selectors.kernel_data);
        load_tss(selectors.tss);
    }
}
