//! Deliberate CPU faults for the boot tests (`test=pagefault`, `test=doublefault`): proof
//! that each fault path reports and powers off instead of hanging or triple-faulting.

/// An address in the kernel half that nothing maps (between the direct map and MMIO windows).
const UNMAPPED: u64 = 0xffff_a000_dead_0000;

/// `int3`: the breakpoint exception, which the kernel's trap handler reports.
pub fn breakpoint() {
    x86_64::instructions::interrupts::int3();
}

pub fn trigger_page_fault() -> ! {
    // SAFETY: the read faults by design; the page-fault handler powers the machine off.
    let value = unsafe { core::ptr::read_volatile(UNMAPPED as *const u64) };
    panic!("read of unmapped {UNMAPPED:#x} returned {value:#x}");
}

/// Divide error → #GP on delivery (null selector in its gate) → double fault, delivered on
/// the double-fault IST stack. The stack pointer is also pointed at unmapped memory first,
/// so only a handler with its own stack can report it.
pub fn trigger_double_fault() -> ! {
    super::idt::load_with_broken_divide_error_gate();
    // SAFETY: nothing returns from here: the double-fault handler powers the machine off.
    unsafe {
        core::arch::asm!(
            "mov rsp, {unmapped}",
            "xor edx, edx",
            "xor eax, eax",
            "xor ecx, ecx",
            "div rcx",
            "ud2",
            unmapped = in(reg) UNMAPPED,
            options(noreturn)
        );
    }
}
