//! The PVH entry: from the VMM's 32-bit protected mode to 64-bit Rust.
//!
//! The PVH boot protocol (Xen's `XEN_ELFNOTE_PHYS32_ENTRY`, also used by QEMU's `-kernel`,
//! Firecracker and Cloud Hypervisor) starts us with paging off, flat 32-bit segments, no
//! stack and `%ebx` pointing at `hvm_start_info`. The stub below reads the TSC first (the zero
//! of the boot timeline), builds nothing at run time (the early page tables are assembled as
//! data), enables long mode and jumps to [`boot_rust_entry`] in the higher half.
//!
//! Early page tables: the low 4 GiB identity mapped with 2 MiB pages (the VMM's tables, the
//! modules and the stub itself live there) and the low 2 GiB again at
//! [`KERNEL_VIRTUAL_BASE`]. The kernel replaces them with its own tables once it can allocate.

#[cfg(target_os = "none")]
use crate::boot_info::BootInfo;

/// Where the kernel image is linked: physical address + this.
pub const KERNEL_VIRTUAL_BASE: u64 = 0xffff_ffff_8000_0000;

const EARLY_IDENTITY_LIMIT: u64 = 4 << 30;

/// Physical memory below this is identity mapped while the early page tables are live.
pub const fn early_identity_limit() -> u64 {
    EARLY_IDENTITY_LIMIT
}

// The entry code exists only in the kernel image: a host build of the crates above (their
// unit tests and doctests) has types and constants but nothing to enter.
#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .p2align 2
    .long 4                         /* name size: "Xen\0" */
    .long 8                         /* descriptor size */
    .long 18                        /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .p2align 2
    .quad pvh_start32
    .p2align 2

    .section .boot.text, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    mov esi, ebx                    /* cpuid below clobbers ebx */
    rdtsc
    mov [boot_entry_tsc], eax
    mov [boot_entry_tsc + 4], edx
    mov [boot_start_info], esi

    mov eax, cr4
    or eax, (1 << 5)                /* PAE */
    mov cr4, eax
    mov eax, offset boot_pml4
    mov cr3, eax

    mov eax, 0x80000001             /* NX is optional: set EFER.NXE only when present */
    cpuid
    xor edi, edi
    bt edx, 20
    jnc 2f
    mov edi, (1 << 11)
2:
    mov ecx, 0xC0000080             /* EFER */
    rdmsr
    or eax, (1 << 8)                /* LME */
    or eax, edi
    wrmsr

    mov eax, cr0
    or eax, (1 << 31) | (1 << 16) | 1   /* PG, WP, PE */
    mov cr0, eax

    lgdt [boot_gdt_pointer]
    push 0x08
    mov eax, offset pvh_start64
    push eax
    retf

    .code64
pvh_start64:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax

    movabs rdi, offset __bss_start
    movabs rcx, offset __bss_end
    sub rcx, rdi
    shr rcx, 3
    rep stosq

    movabs rsp, offset boot_stack_top
    xor ebp, ebp
    mov edi, dword ptr [rip + boot_start_info]
    mov rsi, qword ptr [rip + boot_entry_tsc]
    movabs rax, offset boot_rust_entry
    call rax
    ud2

    .section .boot.data, "aw"
    .p2align 12
    .global boot_pml4
boot_pml4:
    .quad boot_pdpt_low + 0x3
    .fill 510, 8, 0
    .quad boot_pdpt_high + 0x3
boot_pdpt_low:
    .quad boot_pd + 0x0000 + 0x3
    .quad boot_pd + 0x1000 + 0x3
    .quad boot_pd + 0x2000 + 0x3
    .quad boot_pd + 0x3000 + 0x3
    .fill 508, 8, 0
boot_pdpt_high:
    .fill 510, 8, 0
    .quad boot_pd + 0x0000 + 0x3
    .quad boot_pd + 0x1000 + 0x3
boot_pd:
    .set page, 0
    .rept 2048
    .quad (page << 21) + 0x83       /* present, writable, 2 MiB */
    .set page, page + 1
    .endr

    .p2align 3
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
boot_gdt_pointer:
    .word boot_gdt_pointer - boot_gdt - 1
    .quad boot_gdt
boot_entry_tsc:
    .quad 0
boot_start_info:
    .long 0

    .section .stack, "aw", @nobits
    .p2align 12
    .global boot_stack_guard
boot_stack_guard:
    .skip 4096
    .global boot_stack_bottom
boot_stack_bottom:
    .skip 0x20000
    .global boot_stack_top
boot_stack_top:
    "#
);

/// The one [`BootInfo`]; written once by [`boot_rust_entry`] before the kernel runs.
#[cfg(target_os = "none")]
static mut BOOT_INFO: BootInfo = BootInfo::empty();

#[cfg(target_os = "none")]
unsafe extern "Rust" {
    /// Defined by the kernel through [`entry_point!`](crate::entry_point).
    fn __boot_kernel_main(info: &'static BootInfo) -> !;
}

#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
extern "C" fn boot_rust_entry(start_info: u64, entry_tsc: u64) -> ! {
    // SAFETY: this runs once, on the only CPU, before any other code can see BOOT_INFO; after it, BOOT_INFO is only ever shared immutably.
    let info = unsafe { &mut *core::ptr::addr_of_mut!(BOOT_INFO) };
    info.entry_tsc = entry_tsc;
    crate::start_info::parse(start_info, info);
    // SAFETY: the kernel's entry has exactly this signature (the macro defines it).
    unsafe { __boot_kernel_main(info) }
}

/// A virtual address range `[start, end)` of the kernel image; physical = virtual −
/// [`KERNEL_VIRTUAL_BASE`].
#[derive(Clone, Copy, Debug)]
pub struct ImageRange {
    pub start: u64,
    pub end: u64,
}

impl ImageRange {
    pub const fn phys_start(&self) -> u64 {
        self.start - KERNEL_VIRTUAL_BASE
    }
    pub const fn phys_end(&self) -> u64 {
        self.end - KERNEL_VIRTUAL_BASE
    }
}

/// The kernel image's sections, as the linker placed them, for the kernel's page tables.
#[derive(Clone, Copy, Debug)]
pub struct KernelImage {
    /// The identity-mapped boot stub and early tables (physical = virtual).
    pub boot: ImageRange,
    pub text: ImageRange,
    pub rodata: ImageRange,
    /// `.data` and `.bss` (the boot stack included).
    pub data: ImageRange,
    /// One unmapped page below the boot stack, so an overflow faults instead of corrupting.
    pub stack_guard: ImageRange,
}

impl KernelImage {
    /// Physical range the whole image occupies, boot stub included.
    pub const fn phys_range(&self) -> (u64, u64) {
        (self.boot.start, self.data.phys_end())
    }
}

pub fn kernel_image() -> KernelImage {
    unsafe extern "C" {
        static __boot_start: u8;
        static __boot_end: u8;
        static __text_start: u8;
        static __text_end: u8;
        static __rodata_start: u8;
        static __rodata_end: u8;
        static __data_start: u8;
        static __data_end: u8;
        static boot_stack_guard: u8;
    }
    let addr = |symbol: *const u8| symbol as u64;
    let range = |start: *const u8, end: *const u8| ImageRange {
        start: addr(start),
        end: addr(end),
    };
    // Only the symbols' addresses are taken; nothing is read through them.
    let guard = addr(&raw const boot_stack_guard);
    KernelImage {
        boot: range(&raw const __boot_start, &raw const __boot_end),
        text: range(&raw const __text_start, &raw const __text_end),
        rodata: range(&raw const __rodata_start, &raw const __rodata_end),
        data: range(&raw const __data_start, &raw const __data_end),
        stack_guard: ImageRange {
            start: guard,
            end: guard + 4096,
        },
    }
}
