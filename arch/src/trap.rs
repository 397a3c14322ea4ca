//! Trap entry: the assembly that saves a trapped context into a [`TrapFrame`] and hands it to
//! the kernel's handler (given to [`crate::init_cpu`]), and the way back with `iretq`. A trap
//! from user mode never reaches that handler: it returns from
//! [`crate::user::UserContext::execute`] instead.
//!
//! One stub per vector pushes a uniform (error code, vector) pair, whether or not the CPU
//! pushed an error code, so one common path and one Rust type describe every trap.

/// The state saved on a trap, in stack order (lowest address first).
#[repr(C)]
#[derive(Clone, Debug)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// The faulting address of the last page fault.
pub fn page_fault_address() -> u64 {
    x86_64::registers::control::Cr2::read_raw()
}

/// `#NM`: an FPU/SIMD instruction while CR0.TS is set.
const DEVICE_NOT_AVAILABLE: u64 = 7;

/// Number of exception vectors with a stub.
pub const EXCEPTION_VECTORS: usize = 32;
/// The local APIC timer's vector, the first after the exceptions.
pub const TIMER_VECTOR: u8 = 32;
/// The inter-processor "look at your state" interrupt: it ends a `hlt` (a thread was
/// queued on an idle CPU) or takes a CPU out of user mode (a TLB shoot-down, a thread
/// that must move). Its handler only acknowledges it; what to do is in shared state.
pub const KICK_VECTOR: u8 = 33;
/// A device line the I/O APIC routes (see [`crate::ioapic`]): its handler acknowledges
/// it and calls the kernel's device hook ([`set_device_handler`]), which must take no
/// lock (it may interrupt a `hlt` anywhere); the kernel then looks at its devices.
pub const DEVICE_VECTOR: u8 = 34;
/// The local APIC's spurious-interrupt vector (never acknowledged).
pub const SPURIOUS_VECTOR: u8 = 0xff;

/// Entry stubs of the interrupt vectors in use: the timer, the kick, device lines and the
/// spurious vector.
pub(super) fn interrupt_stubs() -> [(u8, u64); 4] {
    unsafe extern "C" {
        fn trap_stub_timer();
        fn trap_stub_kick();
        fn trap_stub_device();
        fn trap_stub_spurious();
    }
    [
        (TIMER_VECTOR, trap_stub_timer as *const () as u64),
        (KICK_VECTOR, trap_stub_kick as *const () as u64),
        (DEVICE_VECTOR, trap_stub_device as *const () as u64),
        (SPURIOUS_VECTOR, trap_stub_spurious as *const () as u64),
    ]
}

/// Addresses of the per-vector entry stubs, for the IDT.
pub(super) fn stub_addresses() -> &'static [u64; EXCEPTION_VECTORS] {
    unsafe extern "C" {
        static trap_stub_table: [u64; EXCEPTION_VECTORS];
    }
    // SAFETY: the table is immutable data emitted below with exactly EXCEPTION_VECTORS entries.
    unsafe { &trap_stub_table }
}

/// What the kernel does with a trap in kernel mode.
static HANDLER: spin::Once<fn(&mut TrapFrame)> = spin::Once::new();

pub(crate) fn set_handler(handler: fn(&mut TrapFrame)) {
    HANDLER.call_once(|| handler);
}

/// What the kernel does on a device interrupt, from user or kernel mode.
static DEVICE_HANDLER: spin::Once<fn()> = spin::Once::new();

/// Sets the device hook (once; later calls are ignored).
pub fn set_device_handler(handler: fn()) {
    DEVICE_HANDLER.call_once(|| handler);
}

// SAFETY: `trap_dispatch` is called only by `trap_common` below, with a pointer to the frame it just pushed; no other symbol has this name.
#[unsafe(no_mangle)]
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    if u8::try_from(frame.vector)
        .is_ok_and(|vector| [TIMER_VECTOR, KICK_VECTOR, DEVICE_VECTOR].contains(&vector))
    {
        super::apic::end_of_interrupt();
    }
    if frame.vector == u64::from(DEVICE_VECTOR)
        && let Some(handler) = DEVICE_HANDLER.get()
    {
        handler();
    }
    if frame.cs & 3 == 3 {
        // A program's first FPU instruction in its time slice: its registers are loaded and
        // the instruction runs again, without the kernel above hearing of it.
        if frame.vector == DEVICE_NOT_AVAILABLE && super::fpu_switch::device_not_available() {
            return;
        }
        super::user::trap_from_user(frame);
    }
    match HANDLER.get() {
        Some(handler) => handler(frame),
        // Before `init_cpu` no IDT of ours is loaded, so this cannot happen; stop quietly.
        None => super::cpu::halt_forever(),
    }
}

core::arch::global_asm!(
    r#"
    .section .text.trap, "ax"
    .p2align 4
trap_common:
    /* From user mode, switch to the kernel's GS base (used once tasks exist). */
    test byte ptr [rsp + 24], 3
    jz 3f
    swapgs
3:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    cld
    call trap_dispatch
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    test byte ptr [rsp + 24], 3
    jz 4f
    swapgs
4:
    add rsp, 16
    iretq

trap_stub_0:
    push 0
    push 0
    jmp trap_common
trap_stub_1:
    push 0
    push 1
    jmp trap_common
trap_stub_2:
    push 0
    push 2
    jmp trap_common
trap_stub_3:
    push 0
    push 3
    jmp trap_common
trap_stub_4:
    push 0
    push 4
    jmp trap_common
trap_stub_5:
    push 0
    push 5
    jmp trap_common
trap_stub_6:
    push 0
    push 6
    jmp trap_common
trap_stub_7:
    push 0
    push 7
    jmp trap_common
trap_stub_8:
    push 8
    jmp trap_common
trap_stub_9:
    push 0
    push 9
    jmp trap_common
trap_stub_10:
    push 10
    jmp trap_common
trap_stub_11:
    push 11
    jmp trap_common
trap_stub_12:
    push 12
    jmp trap_common
trap_stub_13:
    push 13
    jmp trap_common
trap_stub_14:
    push 14
    jmp trap_common
trap_stub_15:
    push 0
    push 15
    jmp trap_common
trap_stub_16:
    push 0
    push 16
    jmp trap_common
trap_stub_17:
    push 17
    jmp trap_common
trap_stub_18:
    push 0
    push 18
    jmp trap_common
trap_stub_19:
    push 0
    push 19
    jmp trap_common
trap_stub_20:
    push 0
    push 20
    jmp trap_common
trap_stub_21:
    push 21
    jmp trap_common
trap_stub_22:
    push 0
    push 22
    jmp trap_common
trap_stub_23:
    push 0
    push 23
    jmp trap_common
trap_stub_24:
    push 0
    push 24
    jmp trap_common
trap_stub_25:
    push 0
    push 25
    jmp trap_common
trap_stub_26:
    push 0
    push 26
    jmp trap_common
trap_stub_27:
    push 0
    push 27
    jmp trap_common
trap_stub_28:
    push 0
    push 28
    jmp trap_common
trap_stub_29:
    push 29
    jmp trap_common
trap_stub_30:
    push 30
    jmp trap_common
trap_stub_31:
    push 0
    push 31
    jmp trap_common

    .global trap_stub_timer
trap_stub_timer:
    push 0
    push 32
    jmp trap_common
    .global trap_stub_kick
trap_stub_kick:
    push 0
    push 33
    jmp trap_common
    .global trap_stub_device
trap_stub_device:
    push 0
    push 34
    jmp trap_common
    .global trap_stub_spurious
trap_stub_spurious:
    push 0
    push 255
    jmp trap_common

    .section .rodata.trap, "a"
    .p2align 3
    .global trap_stub_table
trap_stub_table:
    .quad trap_stub_0
    .quad trap_stub_1
    .quad trap_stub_2
    .quad trap_stub_3
    .quad trap_stub_4
    .quad trap_stub_5
    .quad trap_stub_6
    .quad trap_stub_7
    .quad trap_stub_8
    .quad trap_stub_9
    .quad trap_stub_10
    .quad trap_stub_11
    .quad trap_stub_12
    .quad trap_stub_13
    .quad trap_stub_14
    .quad trap_stub_15
    .quad trap_stub_16
    .quad trap_stub_17
    .quad trap_stub_18
    .quad trap_stub_19
    .quad trap_stub_20
    .quad trap_stub_21
    .quad trap_stub_22
    .quad trap_stub_23
    .quad trap_stub_24
    .quad trap_stub_25
    .quad trap_stub_26
    .quad trap_stub_27
    .quad trap_stub_28
    .quad trap_stub_29
    .quad trap_stub_30
    .quad trap_stub_31
"#
);
