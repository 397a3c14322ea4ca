//! Application processors: finding them (the ACPI MADT, [`crate::acpi`]) and starting them
//! (INIT, then start-up IPIs at a real-mode trampoline), each on its own stack, GDT, TSS,
//! interrupt stacks, per-CPU block and APIC timer, ending in the kernel's entry for it.
//!
//! The trampoline is copied to a fixed low page ([`TRAMPOLINE`], below 1 MiB as a start-up
//! IPI needs, and never handed to an allocator: low memory is kept out of the frame
//! allocator). It goes from real mode straight to long mode on the boot stub's page
//! tables, which identity map the low 4 GiB and map the kernel image in the higher half
//! (they stay in the image, untouched, for exactly this), jumps to `ap_long_entry` in the
//! higher half, which loads the kernel's own tables and the stack the boot CPU prepared,
//! and calls [`ap_rust_entry`]. Processors start one at a time, so the hand-over slots
//! (`AP_BOOT_*`) serve each in turn.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use spin::Once;

use crate::percpu::{self, MAX_CPUS};
use crate::{apic, cpu, gdt, idt, paging, user};

/// Physical address the trampoline runs at (page 8: start-up IPI vector 0x08).
const TRAMPOLINE: u64 = 0x8000;
/// Each application processor's first stack (its idle thread's, for good).
const AP_STACK_SIZE: usize = 64 * 1024;

/// Hand-over slots from the boot CPU to the processor starting now.
#[unsafe(no_mangle)]
static AP_BOOT_CR3: AtomicU64 = AtomicU64::new(0);
#[unsafe(no_mangle)]
static AP_BOOT_STACK: AtomicU64 = AtomicU64::new(0);
static AP_BOOT_INDEX: AtomicUsize = AtomicUsize::new(0);
static AP_STARTED: AtomicBool = AtomicBool::new(false);
/// What an application processor runs once it is up (the kernel's idle loop).
static AP_ENTRY: Once<fn() -> !> = Once::new();

unsafe extern "C" {
    static ap_trampoline_start: u8;
    static ap_trampoline_end: u8;
    static ap_trampoline_efer: u8;
}

core::arch::global_asm!(
    r#"
    .section .rodata.ap_trampoline, "a"
    .global ap_trampoline_start
    .global ap_trampoline_end
    .global ap_trampoline_efer
    .set TRAMP, {trampoline}
    .code16
ap_trampoline_start:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl TRAMP + (tr_gdt_pointer - ap_trampoline_start)
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl TRAMP + (tr_cr3 - ap_trampoline_start), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl TRAMP + (ap_trampoline_efer - ap_trampoline_start), %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax
    movl %eax, %cr0
    ljmpl $0x08, $(TRAMP + (tr_long - ap_trampoline_start))
    .code64
tr_long:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $ap_long_entry, %rax
    jmpq *%rax
    .p2align 3
tr_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
tr_gdt_pointer:
    .word 23
    .long TRAMP + (tr_gdt - ap_trampoline_start)
    .p2align 2
tr_cr3:
    .long boot_pml4
ap_trampoline_efer:
    .long 0
ap_trampoline_end:

    .section .text.ap_entry, "ax"
    .code64
ap_long_entry:
    movq AP_BOOT_CR3(%rip), %rax
    movq %rax, %cr3
    movq AP_BOOT_STACK(%rip), %rsp
    xorl %ebp, %ebp
    call {entry}
    ud2
"#,
    trampoline = const TRAMPOLINE,
    entry = sym ap_rust_entry,
    options(att_syntax)
);

/// An application processor's first Rust: its tables, its block, its APIC; then the
/// kernel's entry for it.
extern "C" fn ap_rust_entry() -> ! {
    let index = AP_BOOT_INDEX.load(Ordering::Acquire);
    let cpu = percpu::install(index);
    cpu::enable_features();
    gdt::load(cpu);
    idt::load();
    user::init(cpu);
    paging::note_kernel_tables_loaded();
    apic::init_this_cpu();
    percpu::set_online(cpu, apic::local_id());
    AP_STARTED.store(true, Ordering::Release);
    let entry = AP_ENTRY
        .get()
        .expect("start_application_processors sets the entry first");
    entry()
}

/// Busy-waits `us` microseconds of TSC time, or until `done` says so; whether `done` did.
fn wait_until(tsc_khz: u64, us: u64, done: impl Fn() -> bool) -> bool {
    let start = cpu::read_tsc();
    let ticks = tsc_khz.saturating_mul(us) / 1000;
    while cpu::read_tsc().wrapping_sub(start) < ticks {
        if done() {
            return true;
        }
        core::hint::spin_loop();
    }
    done()
}

/// Starts every processor the MADT lists besides this one, each running `entry` once it
/// is up, at most `limit` CPUs in all. Returns how many CPUs run (this one included).
/// Needs the APIC ([`apic::init`]) and the TSC's frequency (for INIT's wait).
pub fn start_application_processors(
    rsdp: Option<u64>,
    tsc_khz: Option<u64>,
    limit: usize,
    entry: fn() -> !,
) -> usize {
    let boot_cpu = percpu::this();
    percpu::set_online(boot_cpu, apic::local_id());
    let (Some(tsc_khz), true) = (tsc_khz, apic::timer_running()) else {
        return 1;
    };
    AP_ENTRY.call_once(|| entry);
    let ids: Vec<u32> = crate::acpi::processor_apic_ids(rsdp);
    let me = apic::local_id();
    if !copy_trampoline() {
        log::warn!(target: "smp", "no room for the start-up trampoline: one CPU");
        return 1;
    }
    AP_BOOT_CR3.store(paging::kernel_pml4(), Ordering::Relaxed);
    let mut online = 1;
    for id in ids.into_iter().filter(|&id| id != me) {
        if online >= limit.min(MAX_CPUS) {
            break;
        }
        let stack: &'static mut [u128] = alloc::vec![0u128; AP_STACK_SIZE / 16].leak();
        let top = stack.as_ptr() as u64 + AP_STACK_SIZE as u64;
        AP_BOOT_STACK.store(top, Ordering::Relaxed);
        AP_BOOT_INDEX.store(online, Ordering::Relaxed);
        AP_STARTED.store(false, Ordering::Release);
        let started = || AP_STARTED.load(Ordering::Acquire);
        apic::send_init(id);
        wait_until(tsc_khz, 10_000, || false);
        apic::send_startup(id, (TRAMPOLINE >> 12) as u8);
        if !wait_until(tsc_khz, 10_000, started) {
            apic::send_startup(id, (TRAMPOLINE >> 12) as u8);
            if !wait_until(tsc_khz, 1_000_000, started) {
                log::warn!(target: "smp", "CPU with APIC id {id} did not start");
                continue;
            }
        }
        online += 1;
    }
    online
}

/// Copies the trampoline to [`TRAMPOLINE`] with this CPU's EFER bits (long mode, and
/// no-execute when the kernel's tables use it).
fn copy_trampoline() -> bool {
    let start = &raw const ap_trampoline_start as u64;
    let end = &raw const ap_trampoline_end as u64;
    let efer_slot = &raw const ap_trampoline_efer as u64 - start;
    let len = (end - start) as usize;
    if len > crate::PAGE as usize
        || !crate::memory::inside_direct_map(TRAMPOLINE, TRAMPOLINE + crate::PAGE)
    {
        return false;
    }
    const LONG_MODE: u32 = 1 << 8;
    const NO_EXECUTE: u32 = 1 << 11;
    let efer = LONG_MODE | if cpu::has_no_execute() { NO_EXECUTE } else { 0 };
    let target = paging::phys_to_virt(TRAMPOLINE) as *mut u8;
    // SAFETY: the trampoline page is below 1 MiB, which no allocator hands out, and the direct map covers it (checked); the source is the image's read-only trampoline bytes, `len` long, not overlapping the target.
    unsafe {
        core::ptr::copy_nonoverlapping(&raw const ap_trampoline_start, target, len);
        core::ptr::write_unaligned(target.add(efer_slot as usize).cast::<u32>(), efer);
    }
    true
}
