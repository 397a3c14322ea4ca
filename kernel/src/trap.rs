//! What a trap in kernel mode means (the handler `arch::init_cpu` is given). Traps from user
//! mode never come here: they return from `arch::user::UserContext::execute` to the process
//! layer, which resolves page faults (demand paging) and turns the rest into signals (fatal for now:
//! user signal handlers are not delivered yet). A timer or spurious interrupt
//! only ends a `hlt`; any CPU exception in the kernel is a bug or a deliberate test (`test=`):
//! report the state and power off with a status naming the kind.

use crate::console::print_line;
use crate::exit::{KernelFailure, fail};
use arch::trap::{TrapFrame, page_fault_address};

const PAGE_FAULT: u64 = 14;
const DOUBLE_FAULT: u64 = 8;

fn exception_name(vector: u64) -> &'static str {
    const NAMES: [&str; 32] = [
        "divide error (#DE)",
        "debug (#DB)",
        "non-maskable interrupt (NMI)",
        "breakpoint (#BP)",
        "overflow (#OF)",
        "bound range exceeded (#BR)",
        "invalid opcode (#UD)",
        "device not available (#NM)",
        "double fault (#DF)",
        "coprocessor segment overrun",
        "invalid TSS (#TS)",
        "segment not present (#NP)",
        "stack-segment fault (#SS)",
        "general protection fault (#GP)",
        "page fault (#PF)",
        "reserved vector 15",
        "x87 floating-point exception (#MF)",
        "alignment check (#AC)",
        "machine check (#MC)",
        "SIMD floating-point exception (#XM)",
        "virtualization exception (#VE)",
        "control protection exception (#CP)",
        "reserved vector 22",
        "reserved vector 23",
        "reserved vector 24",
        "reserved vector 25",
        "reserved vector 26",
        "reserved vector 27",
        "hypervisor injection exception (#HV)",
        "VMM communication exception (#VC)",
        "security exception (#SX)",
        "reserved vector 31",
    ];
    NAMES
        .get(vector as usize)
        .copied()
        .unwrap_or("unexpected interrupt")
}

/// Page-fault error code bits, spelled out for the report.
fn describe_page_fault(error: u64) -> (&'static str, &'static str, &'static str) {
    let cause = if error & 1 != 0 {
        "protection violation"
    } else {
        "not present"
    };
    let access = if error & 0x10 != 0 {
        "instruction fetch"
    } else if error & 2 != 0 {
        "write"
    } else {
        "read"
    };
    let mode = if error & 4 != 0 { "user" } else { "kernel" };
    (cause, access, mode)
}

pub fn handle(frame: &mut TrapFrame) {
    // The timer (acknowledged by the trap entry) and spurious interrupts only end a `hlt`;
    // a tick also has the idle loop look at the console's port (in case its line is not
    // routed or an interrupt was lost).
    if frame.vector >= 32 {
        if frame.vector == u64::from(arch::trap::TIMER_VECTOR) {
            crate::tty::console::note_input_may_wait();
        }
        return;
    }
    let name = exception_name(frame.vector);
    print_line(format_args!(
        "kernel: {name} at rip={:#018x} error={:#x} cs={:#x} rflags={:#x} rsp={:#018x}",
        frame.rip, frame.error_code, frame.cs, frame.rflags, frame.rsp
    ));
    let failure = match frame.vector {
        PAGE_FAULT => {
            let (cause, access, mode) = describe_page_fault(frame.error_code);
            print_line(format_args!(
                "kernel: page fault cr2={:#018x}: {mode} {access}, {cause}",
                page_fault_address()
            ));
            KernelFailure::PageFault
        }
        DOUBLE_FAULT => KernelFailure::DoubleFault,
        _ => KernelFailure::CpuException,
    };
    print_registers(frame);
    fail(failure);
}

fn print_registers(f: &TrapFrame) {
    print_line(format_args!(
        "  rax={:#018x} rbx={:#018x} rcx={:#018x} rdx={:#018x}",
        f.rax, f.rbx, f.rcx, f.rdx
    ));
    print_line(format_args!(
        "  rsi={:#018x} rdi={:#018x} rbp={:#018x} r8 ={:#018x}",
        f.rsi, f.rdi, f.rbp, f.r8
    ));
    print_line(format_args!(
        "  r9 ={:#018x} r10={:#018x} r11={:#018x} r12={:#018x}",
        f.r9, f.r10, f.r11, f.r12
    ));
    print_line(format_args!(
        "  r13={:#018x} r14={:#018x} r15={:#018x} ss={:#x}",
        f.r13, f.r14, f.r15, f.ss
    ));
}
