//! The interrupt descriptor table.
//!
//! Why not `x86_64::structures::idt`: its typed entries are filled from `extern
//! "x86-interrupt"` functions, an unstable ABI; our handlers are assembly stubs with one
//! common frame (see [`super::trap`]), so a plain array of gates is the simpler fit.

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::tables::lidt;
use x86_64::structures::DescriptorTablePointer;

use super::gdt;
use super::trap::{EXCEPTION_VECTORS, interrupt_stubs, stub_addresses};

const DOUBLE_FAULT: usize = 8;
const NMI: usize = 2;
const PAGE_FAULT: usize = 14;

/// One 64-bit interrupt gate.
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    /// Bits 0..3: IST slot + 1 (0 = stay on the current stack).
    ist: u8,
    /// Present, DPL 0, type 0xE (interrupt gate: IF cleared on entry).
    attributes: u8,
    offset_middle: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    const PRESENT_INTERRUPT_GATE: u8 = 0x8e;

    fn new(handler: u64, selector: u16, ist_slot: Option<u16>) -> Self {
        Self {
            offset_low: handler as u16,
            selector,
            ist: ist_slot.map_or(0, |slot| slot as u8 + 1),
            attributes: Self::PRESENT_INTERRUPT_GATE,
            offset_middle: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[derive(Clone)]
#[repr(C, align(16))]
pub struct Idt([Gate; 256]);

static IDT: Once<Idt> = Once::new();

fn ist_slot_for(vector: usize) -> Option<u16> {
    match vector {
        DOUBLE_FAULT => Some(gdt::DOUBLE_FAULT_IST),
        NMI => Some(gdt::NMI_IST),
        PAGE_FAULT => Some(gdt::PAGE_FAULT_IST),
        _ => None,
    }
}

fn build() -> Idt {
    let selector = gdt::selectors().kernel_code.0;
    let mut gates = [Gate::default(); 256];
    for (vector, &stub) in stub_addresses().iter().enumerate().take(EXCEPTION_VECTORS) {
        gates[vector] = Gate::new(stub, selector, ist_slot_for(vector));
    }
    for (vector, stub) in interrupt_stubs() {
        gates[usize::from(vector)] = Gate::new(stub, selector, None);
    }
    Idt(gates)
}

fn load_table(idt: &'static Idt) {
    let pointer = DescriptorTablePointer {
        limit: (core::mem::size_of::<Idt>() - 1) as u16,
        base: VirtAddr::from_ptr(idt),
    };
    // SAFETY: the table is 'static and every present gate points at a trap stub in the kernel code segment.
    unsafe { lidt(&pointer) };
}

pub(super) fn load() {
    load_table(IDT.call_once(build));
}

/// Test support: loads a copy of the IDT whose divide-error gate names the null code
/// selector, so a divide error raises #GP while being delivered: two contributory
/// exceptions in a row, which the CPU turns into a double fault.
pub(super) fn load_with_broken_divide_error_gate() {
    let mut broken = IDT.call_once(build).clone();
    broken.0[0].selector = 0;
    load_table(alloc::boxed::Box::leak(alloc::boxed::Box::new(broken)));
}
