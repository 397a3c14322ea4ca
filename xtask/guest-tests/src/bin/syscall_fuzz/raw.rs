//! The system call instruction itself, without libc: the fuzzer passes arguments libc's
//! wrappers would refuse or fix up, and reads the kernel's raw return value.

use std::arch::{asm, global_asm};

/// `syscall` with six arguments; the raw `rax` (a value, or `-errno`).
pub fn syscall6(number: u64, args: [u64; 6]) -> u64 {
    let ret: u64;
    // SAFETY: the fuzzer's calls can do anything the kernel lets a process do to itself.
    // The worker only passes addresses inside its scratch and arena areas or addresses
    // that are not its own (see `args::Addr`), never its code, stack or heap, so the
    // calls cannot change memory the Rust code relies on, except in ways the worker
    // survives or dies of (the supervisor then starts another).
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => ret,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// `syscall` for a call that may start a new process (`fork`, `vfork`, `clone`,
/// `clone3`): in the child (`rax == 0`) the very next instructions are `exit(0)`, before
/// any memory is touched, so a child on a random stack, sharing the parent's memory, or
/// with a random TLS never runs fuzzer code. The parent gets the raw return value.
pub fn spawning_syscall6(number: u64, args: [u64; 6]) -> u64 {
    let ret: u64;
    // SAFETY: as `syscall6`; the child leaves through `exit` without touching memory or
    // the stack (its registers may point anywhere).
    unsafe {
        asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov eax, 60",
            "xor edi, edi",
            "syscall",
            "ud2",
            "2:",
            inlateout("rax") number => ret,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

// A signal-return trampoline for the handlers the fuzzer itself installs with random
// `sigaction`s (x86_64 needs `SA_RESTORER`): `rt_sigreturn`, as libc's own.
global_asm!(
    ".globl syscall_fuzz_restorer",
    "syscall_fuzz_restorer:",
    "mov eax, 15",
    "syscall",
    "ud2",
);

unsafe extern "C" {
    fn syscall_fuzz_restorer();
}

/// The address of the `rt_sigreturn` trampoline.
pub fn restorer() -> u64 {
    syscall_fuzz_restorer as *const () as u64
}

/// A handler that does nothing: signals interrupt blocking calls (`EINTR`) and are gone.
pub extern "C" fn ignore_signal(_signal: i32) {}

pub fn ignore_signal_address() -> u64 {
    ignore_signal as *const () as u64
}
