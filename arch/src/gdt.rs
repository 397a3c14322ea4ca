//! The GDT and the TSS. The TSS's interrupt stack table gives the faults that can strike
//! with a broken stack (double fault, NMI, page fault) stacks of their own, so a kernel
//! stack overflow ends in a report instead of a triple fault; its `rsp0` is the stack a
//! trap from user mode lands on (set by [`super::user`] before every entry to user mode).
//!
//! Segment order is fixed by `SYSRET`: user data must sit right below user code.

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// Interrupt-stack-table slots (the IDT names them 1-based; the TSS array is 0-based).
pub const DOUBLE_FAULT_IST: u16 = 0;
pub const NMI_IST: u16 = 1;
pub const PAGE_FAULT_IST: u16 = 2;

const IST_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct IstStacks([[u8; IST_STACK_SIZE]; 3]);

/// Written only by the CPU when it switches to an IST stack. In `.stack`, which the boot
/// stub does not bother to zero.
#[unsafe(link_section = ".stack")]
static mut IST_STACKS: IstStacks = IstStacks([[0; IST_STACK_SIZE]; 3]);

pub struct Selectors {
    pub kernel_code: SegmentSelector,
    pub kernel_data: SegmentSelector,
    pub user_data: SegmentSelector,
    pub user_code: SegmentSelector,
    pub tss: SegmentSelector,
}

/// Written by the CPU (nothing) and by `user` (`rsp0`), read by the CPU on traps.
static mut TSS: TaskStateSegment = TaskStateSegment::new();
static GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

fn build_gdt() -> (GlobalDescriptorTable, Selectors) {
    let tss = &raw mut TSS;
    let stacks = &raw mut IST_STACKS;
    for slot in [DOUBLE_FAULT_IST, NMI_IST, PAGE_FAULT_IST] {
        let stack_start = VirtAddr::from_ptr(stacks) + (usize::from(slot) * IST_STACK_SIZE) as u64;
        // SAFETY: runs once (inside `Once`) before the TSS is loaded; nothing else holds it.
        unsafe {
            (*tss).interrupt_stack_table[usize::from(slot)] = stack_start + IST_STACK_SIZE as u64
        };
    }
    let mut gdt = GlobalDescriptorTable::new();
    let kernel_code = gdt.append(Descriptor::kernel_code_segment());
    let kernel_data = gdt.append(Descriptor::kernel_data_segment());
    let user_data = gdt.append(Descriptor::user_data_segment());
    let user_code = gdt.append(Descriptor::user_code_segment());
    // SAFETY: the TSS is a static that lives forever and is never moved.
    let tss = gdt.append(unsafe { Descriptor::tss_segment_unchecked(tss) });
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

/// Where the CPU finds the stack for traps from user mode.
pub(super) fn rsp0_slot() -> *mut u64 {
    let tss = &raw mut TSS;
    // SAFETY: only the address of the field is taken.
    unsafe { (&raw mut (*tss).privilege_stack_table[0]).cast::<u64>() }
}

pub fn selectors() -> &'static Selectors {
    &GDT.call_once(build_gdt).1
}

pub(super) fn load() {
    let (gdt, selectors) = GDT.call_once(build_gdt);
    gdt.load();
    // SAFETY: the selectors index the GDT just loaded, which lives for 'static; the TSS descriptor is marked available, as `ltr` requires.
    unsafe {
        CS::set_reg(selectors.kernel_code);
        DS::set_reg(selectors.kernel_data);
        ES::set_reg(selectors.kernel_data);
        SS::set_reg(selectors.kernel_data);
        load_tss(selectors.tss);
    }
}
