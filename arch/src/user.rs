//! User mode: entering ring 3 with a saved register context and coming back to the kernel on
//! the next system call, exception or interrupt.
//!
//! The model (as in Asterinas' `UserMode`): a kernel task calls [`UserContext::execute`],
//! which runs user code until something needs the kernel and then *returns* the reason. So
//! the kernel's handling of a system call is ordinary Rust on the task's own kernel stack,
//! and scheduling later is a matter of which task calls `execute` next.
//!
//! Mechanics: `execute` saves the kernel's callee-saved registers and stack pointer in the
//! per-CPU block (reached through GS), points the TSS's `rsp0` at the same stack, and
//! enters user mode by `sysretq` when that restores the context exactly (`rcx` and `r11`
//! hold `rip` and `rflags`: a system call's return), else by `iretq`. `SYSCALL` lands in `syscall_entry`, which stores the user registers
//! straight into the context and returns from `execute`. A trap from user mode goes through
//! the common trap path; [`trap_from_user`] copies its frame into the context and returns
//! from `execute` the same way.

use core::mem::offset_of;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use x86_64::VirtAddr;
use x86_64::registers::model_specific::{
    Efer, EferFlags, FsBase, KernelGsBase, LStar, SFMask, Star,
};
use x86_64::registers::rflags::RFlags;

use super::gdt;
use super::trap::TrapFrame;
use crate::percpu::{AsmBlock, CpuLocal};

/// A user thread's registers while the kernel runs, plus why user mode was left.
#[repr(C)]
#[derive(Clone, Debug, Default)]
pub struct UserContext {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rip: u64,
    pub rsp: u64,
    pub rflags: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    /// Set when user mode was left by a trap: vector, error code, faulting address (CR2).
    pub trap_vector: u64,
    pub trap_error: u64,
    pub fault_address: u64,
}

/// Why [`UserContext::execute`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserExit {
    /// `SYSCALL`: number in `rax`, arguments in `rdi, rsi, rdx, r10, r8, r9`.
    Syscall,
    /// A CPU exception (page fault, #GP, #UD, divide error…) in user code.
    Exception {
        vector: u8,
        error: u64,
        address: u64,
    },
    /// A hardware interrupt arrived while user code ran.
    Interrupt { vector: u8 },
}

const USER_SS: u16 = 0x1b;
const USER_CS: u16 = 0x23;
const EXIT_SYSCALL: u64 = 0;
/// The first address past the user half (non-canonical up to the kernel half).
pub const USER_END: u64 = 0x0000_8000_0000_0000;
/// `#GP`.
const GENERAL_PROTECTION: u64 = 13;
const EXIT_TRAP: u64 = 1;

/// Reserved bit 1 and IF: user code always runs interruptible, so the kernel's timer can
/// always take the CPU back.
const ALWAYS_SET_RFLAGS: u64 = (1 << 1) | (1 << 9);

impl UserContext {
    /// Runs user code from this context until it needs the kernel.
    pub fn execute(&mut self) -> UserExit {
        // Keep only arithmetic flags, DF, TF and AC; never IOPL, NT, VM or the like.
        let allowed = RFlags::CARRY_FLAG
            | RFlags::PARITY_FLAG
            | RFlags::AUXILIARY_CARRY_FLAG
            | RFlags::ZERO_FLAG
            | RFlags::SIGN_FLAG
            | RFlags::TRAP_FLAG
            | RFlags::DIRECTION_FLAG
            | RFlags::OVERFLOW_FLAG
            | RFlags::ALIGNMENT_CHECK
            | RFlags::ID;
        self.rflags = (self.rflags & allowed.bits()) | ALWAYS_SET_RFLAGS;
        // The one check of where user mode resumes, whatever set `rip` (a `syscall` from
        // the last page, `rt_sigreturn`, `ptrace`-like changes): `iretq` to a
        // non-canonical address faults in kernel mode, so none is attempted. Like Linux's
        // bad-`iret` fixup, the thread gets the general-protection fault (`SIGSEGV`) it
        // would have taken in user mode; kernel-half addresses are refused the same way.
        if self.rip >= USER_END {
            left_user_mode();
            self.trap_vector = GENERAL_PROTECTION;
            self.trap_error = 0;
            self.fault_address = 0;
            return UserExit::Exception {
                vector: GENERAL_PROTECTION as u8,
                error: 0,
                address: 0,
            };
        }
        let cpu = crate::percpu::this();
        cpu.user_bases.load(self.fs_base, self.gs_base);
        crate::fpu_switch::before_user_entry();
        // `SYSRET` loads `rip` from `rcx` and `rflags` from `r11`: exact whenever the context
        // already holds those (the return of every plain system call), and much cheaper to
        // emulate than `IRETQ`, which reads its frame and two descriptors. `rip` is canonical
        // (checked above), so it cannot fault in kernel mode; a single-step flag goes the
        // `IRETQ` way, as in Linux.
        let sysret = self.rcx == self.rip
            && self.r11 == self.rflags
            && self.rflags & RFlags::TRAP_FLAG.bits() == 0;
        // SAFETY: `user_execute` saves and restores every callee-saved register and returns on this stack; the context stays borrowed (and so alive) for the whole call.
        let reason = unsafe { user_execute(self, u64::from(sysret)) };
        left_user_mode();
        if reason == EXIT_SYSCALL {
            UserExit::Syscall
        } else if self.trap_vector < 32 {
            UserExit::Exception {
                vector: self.trap_vector as u8,
                error: self.trap_error,
                address: self.fault_address,
            }
        } else {
            UserExit::Interrupt {
                vector: self.trap_vector as u8,
            }
        }
    }
}

unsafe extern "C" {
    /// Runs user code from `context`, entering by `SYSRET` when `sysret` is 1 (the
    /// context's `rcx` and `r11` are its `rip` and `rflags`), else by `IRETQ`.
    fn user_execute(context: *mut UserContext, sysret: u64) -> u64;
    fn user_trap_return() -> !;
    fn syscall_entry();
}

/// Out of user mode (or not entering it after all): a TLB shoot-down waiting for this CPU
/// may go on (see [`crate::paging`]).
/// The user FS and GS bases a CPU's MSRs hold, and for which thread. Each `WRMSR` ends a
/// translated block under TCG (QEMU then leaves its fast path), and a thread's bases
/// change only by `arch_prctl`, a new thread or `execve`: a system call's return to the
/// same thread with the same bases writes nothing.
///
/// Not kept across a switch, even to a thread with the same values: a program may have
/// changed its base by loading a segment selector, which the kernel does not see, and
/// that must not reach another thread. Within one thread it stays as the program left
/// it, as on Linux, until the kernel sets a base again ([`forget_loaded_bases`]).
pub(crate) struct LoadedBases {
    thread: AtomicUsize,
    fs: AtomicU64,
    gs: AtomicU64,
}

impl LoadedBases {
    pub(crate) const fn new() -> Self {
        LoadedBases {
            thread: AtomicUsize::new(0),
            fs: AtomicU64::new(0),
            gs: AtomicU64::new(0),
        }
    }

    fn load(&self, fs: u64, gs: u64) {
        let thread = crate::thread::current_id();
        if self.thread.load(Relaxed) == thread
            && self.fs.load(Relaxed) == fs
            && self.gs.load(Relaxed) == gs
        {
            return;
        }
        FsBase::write(VirtAddr::try_new(fs).unwrap_or(VirtAddr::zero()));
        // While the kernel runs, the user's GS base waits in KERNEL_GS_BASE for `swapgs`.
        KernelGsBase::write(VirtAddr::try_new(gs).unwrap_or(VirtAddr::zero()));
        self.thread.store(thread, Relaxed);
        self.fs.store(fs, Relaxed);
        self.gs.store(gs, Relaxed);
    }
}

/// Makes the next entry to user mode on this CPU write the FS and GS bases from the
/// context: after a switch, and when the kernel sets a base (`arch_prctl`) that may equal
/// the last one written while the program has since changed the register itself.
pub fn forget_loaded_bases_here() {
    forget_loaded_bases(crate::percpu::this());
}

pub(crate) fn forget_loaded_bases(cpu: &CpuLocal) {
    cpu.user_bases.thread.store(0, Relaxed);
}

fn left_user_mode() {
    use core::sync::atomic::Ordering::SeqCst;
    let cpu = crate::percpu::this();
    cpu.user_pml4.store(0, SeqCst);
    cpu.user_exits.fetch_add(1, SeqCst);
}

/// Sets up `SYSCALL`/`SYSRET` on the running CPU, whose GS already points at its block.
pub(super) fn init(cpu: &'static CpuLocal) {
    let asm = cpu.asm.get();
    // SAFETY: runs once per CPU as it starts, before any user code; the block is this CPU's own.
    unsafe { (*asm).tss_rsp0 = gdt::rsp0_slot(cpu) };
    KernelGsBase::write(VirtAddr::zero());
    let selectors = gdt::selectors();
    assert_eq!(
        (selectors.user_data.0, selectors.user_code.0),
        (USER_SS, USER_CS),
        "user selectors baked into the entry code"
    );
    Star::write(
        selectors.user_code,
        selectors.user_data,
        selectors.kernel_code,
        selectors.kernel_data,
    )
    .expect("GDT order suits SYSRET (user data right below user code)");
    LStar::write(VirtAddr::new(syscall_entry as *const () as u64));
    // Entering the kernel with interrupts off, a clean direction flag and no single-step.
    SFMask::write(
        RFlags::INTERRUPT_FLAG
            | RFlags::DIRECTION_FLAG
            | RFlags::TRAP_FLAG
            | RFlags::ALIGNMENT_CHECK,
    );
    // SAFETY: enabling SYSCALL only adds the instruction; LSTAR/STAR are set above.
    unsafe { Efer::update(|flags| flags.insert(EferFlags::SYSTEM_CALL_EXTENSIONS)) };
}

/// Called by the trap path for a trap that interrupted user mode: records it in the running
/// context and returns from `execute`.
pub(super) fn trap_from_user(frame: &TrapFrame) -> ! {
    let asm = crate::percpu::this().asm.get();
    // SAFETY: user mode only runs inside `execute`, which set this CPU's `context` to a live context that nothing else touches until `execute` returns.
    let context = unsafe { &mut *(*asm).context };
    context.rax = frame.rax;
    context.rbx = frame.rbx;
    context.rcx = frame.rcx;
    context.rdx = frame.rdx;
    context.rsi = frame.rsi;
    context.rdi = frame.rdi;
    context.rbp = frame.rbp;
    context.r8 = frame.r8;
    context.r9 = frame.r9;
    context.r10 = frame.r10;
    context.r11 = frame.r11;
    context.r12 = frame.r12;
    context.r13 = frame.r13;
    context.r14 = frame.r14;
    context.r15 = frame.r15;
    context.rip = frame.rip;
    context.rsp = frame.rsp;
    context.rflags = frame.rflags;
    context.trap_vector = frame.vector;
    context.trap_error = frame.error_code;
    context.fault_address = if frame.vector == 14 {
        super::trap::page_fault_address()
    } else {
        0
    };
    // SAFETY: we are on the trap stack below `execute`'s frame; `user_trap_return` drops this frame and resumes `execute` as if it returned EXIT_TRAP.
    unsafe { user_trap_return() }
}

core::arch::global_asm!(
    r#"
    .section .text.user, "ax"
    .global user_execute
user_execute:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov gs:[{kernel_rsp}], rsp
    mov gs:[{context}], rdi
    mov rax, gs:[{tss_rsp0}]
    mov [rax], rsp
    // ZF says which way (`sysret` is 0: IRETQ); nothing below up to the second branch
    // (pushes and moves) changes the flags. SYSRET's way needs no frame, and its `rcx`
    // and `r11` are the context's `rip` and `rflags` (the caller checked), so the same
    // loads serve both ways.
    test rsi, rsi
    jnz 3f
    push {user_ss}
    push qword ptr [rdi + {rsp}]
    push qword ptr [rdi + {rflags}]
    push {user_cs}
    push qword ptr [rdi + {rip}]
3:
    mov rax, [rdi + {rax}]
    mov rbx, [rdi + {rbx}]
    mov rcx, [rdi + {rcx}]
    mov rdx, [rdi + {rdx}]
    mov rsi, [rdi + {rsi}]
    mov rbp, [rdi + {rbp}]
    mov r8, [rdi + {r8}]
    mov r9, [rdi + {r9}]
    mov r10, [rdi + {r10}]
    mov r11, [rdi + {r11}]
    mov r12, [rdi + {r12}]
    mov r13, [rdi + {r13}]
    mov r14, [rdi + {r14}]
    mov r15, [rdi + {r15}]
    jnz 4f
    mov rdi, [rdi + {rdi}]
    swapgs
    iretq
4:
    mov rsp, [rdi + {rsp}]
    mov rdi, [rdi + {rdi}]
    swapgs
    sysretq

    .global syscall_entry
syscall_entry:
    swapgs
    mov gs:[{scratch}], rsp
    mov rsp, gs:[{context}]
    mov [rsp + {rax}], rax
    mov [rsp + {rbx}], rbx
    mov [rsp + {rcx}], rcx
    mov [rsp + {rdx}], rdx
    mov [rsp + {rsi}], rsi
    mov [rsp + {rdi}], rdi
    mov [rsp + {rbp}], rbp
    mov [rsp + {r8}], r8
    mov [rsp + {r9}], r9
    mov [rsp + {r10}], r10
    mov [rsp + {r11}], r11
    mov [rsp + {r12}], r12
    mov [rsp + {r13}], r13
    mov [rsp + {r14}], r14
    mov [rsp + {r15}], r15
    mov [rsp + {rip}], rcx
    mov [rsp + {rflags}], r11
    mov rax, gs:[{scratch}]
    mov [rsp + {rsp}], rax
    mov rsp, gs:[{kernel_rsp}]
    mov eax, {exit_syscall}
    jmp 2f

    .global user_trap_return
user_trap_return:
    mov rsp, gs:[{kernel_rsp}]
    mov eax, {exit_trap}
2:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret
"#,
    kernel_rsp = const offset_of!(CpuLocal, asm) + offset_of!(AsmBlock, kernel_rsp),
    context = const offset_of!(CpuLocal, asm) + offset_of!(AsmBlock, context),
    scratch = const offset_of!(CpuLocal, asm) + offset_of!(AsmBlock, scratch),
    tss_rsp0 = const offset_of!(CpuLocal, asm) + offset_of!(AsmBlock, tss_rsp0),
    user_ss = const USER_SS,
    user_cs = const USER_CS,
    exit_syscall = const EXIT_SYSCALL,
    exit_trap = const EXIT_TRAP,
    rax = const offset_of!(UserContext, rax),
    rbx = const offset_of!(UserContext, rbx),
    rcx = const offset_of!(UserContext, rcx),
    rdx = const offset_of!(UserContext, rdx),
    rsi = const offset_of!(UserContext, rsi),
    rdi = const offset_of!(UserContext, rdi),
    rbp = const offset_of!(UserContext, rbp),
    r8 = const offset_of!(UserContext, r8),
    r9 = const offset_of!(UserContext, r9),
    r10 = const offset_of!(UserContext, r10),
    r11 = const offset_of!(UserContext, r11),
    r12 = const offset_of!(UserContext, r12),
    r13 = const offset_of!(UserContext, r13),
    r14 = const offset_of!(UserContext, r14),
    r15 = const offset_of!(UserContext, r15),
    rip = const offset_of!(UserContext, rip),
    rsp = const offset_of!(UserContext, rsp),
    rflags = const offset_of!(UserContext, rflags),
);
