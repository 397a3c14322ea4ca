//! CPU identification, control-register features and the time-stamp counter.

use raw_cpuid::CpuId;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};

/// The time-stamp counter: the boot timeline's clock.
pub fn read_tsc() -> u64 {
    // SAFETY: RDTSC has no side effects; CR4.TSD is never set, so it works at any privilege.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// TSC frequency in kHz as the CPU or hypervisor reports it through CPUID, if it does.
/// Sources, most exact first: the hypervisor timing leaf (KVM, VMware: 0x4000_0010),
/// the TSC/crystal ratio leaf (0x15), the nominal base frequency leaf (0x16).
pub fn tsc_khz_from_cpuid() -> Option<u64> {
    let cpuid = CpuId::new();
    if let Some(hv) = cpuid.get_hypervisor_info()
        && let Some(khz) = hv.tsc_frequency().filter(|&khz| khz != 0)
    {
        return Some(u64::from(khz));
    }
    if let Some(tsc) = cpuid.get_tsc_info()
        && let Some(hz) = tsc.tsc_frequency().filter(|&hz| hz != 0)
    {
        return Some(hz / 1000);
    }
    cpuid
        .get_processor_frequency_info()
        .map(|freq| u64::from(freq.processor_base_frequency()) * 1000)
        .filter(|&khz| khz != 0)
}

/// 64 bits from the CPU's hardware random generator, when it has one (RDRAND).
pub fn hardware_random() -> Option<u64> {
    if !CpuId::new()
        .get_feature_info()
        .is_some_and(|f| f.has_rdrand())
    {
        return None;
    }
    for _ in 0..10 {
        let mut value = 0u64;
        // SAFETY: RDRAND exists (checked above) and only writes `value`.
        if unsafe { core::arch::x86_64::_rdrand64_step(&mut value) } == 1 {
            return Some(value);
        }
    }
    None
}

/// `AT_HWCAP` on x86_64: CPUID leaf 1's EDX feature bits, as Linux reports them.
pub fn hardware_capabilities() -> u64 {
    u64::from(core::arch::x86_64::__cpuid(1).edx)
}

/// `AT_HWCAP2` on x86_64: `HWCAP2_FSGSBASE` (bit 1) when user code may use the
/// `RDFSBASE` family (CR4.FSGSBASE set), as Linux reports it; nothing else applies here
/// (`HWCAP2_RING3MWAIT` is a Xeon Phi feature this kernel never enables).
pub fn hardware_capabilities2() -> u64 {
    const HWCAP2_FSGSBASE: u64 = 1 << 1;
    if Cr4::read().contains(Cr4Flags::FSGSBASE) {
        HWCAP2_FSGSBASE
    } else {
        0
    }
}

/// Whether the CPU can map 1 GiB pages (the direct map uses them when it can).
pub fn has_gigabyte_pages() -> bool {
    CpuId::new()
        .get_extended_processor_and_feature_identifiers()
        .is_some_and(|f| f.has_1gib_pages())
}

/// Whether the no-execute page bit exists (the boot stub enabled EFER.NXE if so).
pub fn has_no_execute() -> bool {
    // Asked on every change of a user page's rights: `cpuid` is a VM exit under KVM and
    // a helper call under TCG, and the answer never changes, so it is asked once.
    static NO_EXECUTE: spin::Once<bool> = spin::Once::new();
    *NO_EXECUTE.call_once(|| {
        CpuId::new()
            .get_extended_processor_and_feature_identifiers()
            .is_some_and(|f| f.has_execute_disable())
    })
}

/// Global pages (kernel mappings survive address-space switches) and SSE for user code.
/// The kernel itself is soft-float and never touches SSE registers.
pub(super) fn enable_features() {
    // SAFETY: setting MP and clearing EM only makes SSE instructions legal; the kernel never issues them. OSFXSR/OSXMMEXCPT tell the CPU we save SSE state (user tasks will).
    unsafe {
        Cr0::update(|cr0| {
            cr0.remove(Cr0Flags::EMULATE_COPROCESSOR);
            cr0.insert(Cr0Flags::MONITOR_COPROCESSOR);
        });
        Cr4::update(|cr4| {
            cr4.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE | Cr4Flags::PAGE_GLOBAL);
        });
    }
    enable_extended_state();
    crate::fpu::settle_layout();
}

/// XSAVE-managed state for user code: x87 and SSE always, AVX when the CPU has it, so
/// programs that check `XGETBV` (glibc, musl's string functions) may use it. The kernel is
/// soft-float and never touches these registers, so user state survives every trip
/// through the kernel untouched.
fn enable_extended_state() {
    use x86_64::registers::xcontrol::{XCr0, XCr0Flags};
    let Some(features) = CpuId::new().get_feature_info() else {
        return;
    };
    if !features.has_xsave() {
        return;
    }
    // SAFETY: XSAVE exists (checked); setting OSXSAVE only makes XGETBV/XSETBV legal.
    unsafe { Cr4::update(|cr4| cr4.insert(Cr4Flags::OSXSAVE)) };
    let mut state = XCr0Flags::X87 | XCr0Flags::SSE;
    if features.has_avx() {
        state |= XCr0Flags::AVX;
    }
    // SAFETY: only components the CPU supports are enabled; x87 is always required.
    unsafe { XCr0::write(state) };
}

/// Masks both 8259 PICs. Firmware (SeaBIOS on q35) leaves them mapped at vectors 8–15,
/// where the timer's IRQ 0 would look like a double fault once user code runs with
/// interrupts on. On machines without a PIC (microvm) the writes go nowhere.
pub(super) fn mask_legacy_pic() {
    // SAFETY: writing 0xff to the PICs' data ports only sets their interrupt masks.
    unsafe {
        x86_64::instructions::port::Port::<u8>::new(0x21).write(0xff);
        x86_64::instructions::port::Port::<u8>::new(0xa1).write(0xff);
    }
}

/// Stops this CPU for good: interrupts off, then halt forever.
pub fn halt_forever() -> ! {
    x86_64::instructions::interrupts::disable();
    loop {
        x86_64::instructions::hlt();
    }
}

/// Linux's names for CPUID feature bits, in the order `/proc/cpuinfo` lists them:
/// (leaf, register index 0=EAX..3=EDX, bit, name).
const FEATURE_NAMES: &[(u32, usize, u32, &str)] = &[
    (1, 3, 0, "fpu"),
    (1, 3, 1, "vme"),
    (1, 3, 2, "de"),
    (1, 3, 3, "pse"),
    (1, 3, 4, "tsc"),
    (1, 3, 5, "msr"),
    (1, 3, 6, "pae"),
    (1, 3, 7, "mce"),
    (1, 3, 8, "cx8"),
    (1, 3, 9, "apic"),
    (1, 3, 11, "sep"),
    (1, 3, 12, "mtrr"),
    (1, 3, 13, "pge"),
    (1, 3, 14, "mca"),
    (1, 3, 15, "cmov"),
    (1, 3, 16, "pat"),
    (1, 3, 17, "pse36"),
    (1, 3, 19, "clflush"),
    (1, 3, 23, "mmx"),
    (1, 3, 24, "fxsr"),
    (1, 3, 25, "sse"),
    (1, 3, 26, "sse2"),
    (1, 3, 27, "ss"),
    (1, 3, 28, "ht"),
    (0x8000_0001, 3, 11, "syscall"),
    (0x8000_0001, 3, 20, "nx"),
    (0x8000_0001, 3, 22, "mmxext"),
    (0x8000_0001, 3, 25, "fxsr_opt"),
    (0x8000_0001, 3, 26, "pdpe1gb"),
    (0x8000_0001, 3, 27, "rdtscp"),
    (0x8000_0001, 3, 29, "lm"),
    (1, 2, 0, "pni"),
    (1, 2, 1, "pclmulqdq"),
    (1, 2, 9, "ssse3"),
    (1, 2, 12, "fma"),
    (1, 2, 13, "cx16"),
    (1, 2, 19, "sse4_1"),
    (1, 2, 20, "sse4_2"),
    (1, 2, 21, "x2apic"),
    (1, 2, 22, "movbe"),
    (1, 2, 23, "popcnt"),
    (1, 2, 25, "aes"),
    (1, 2, 26, "xsave"),
    (1, 2, 28, "avx"),
    (1, 2, 29, "f16c"),
    (1, 2, 30, "rdrand"),
    (1, 2, 31, "hypervisor"),
    (0x8000_0001, 2, 0, "lahf_lm"),
    (0x8000_0001, 2, 5, "abm"),
    (0x8000_0001, 2, 6, "sse4a"),
    (0x8000_0001, 2, 8, "3dnowprefetch"),
    (7, 1, 0, "fsgsbase"),
    (7, 1, 3, "bmi1"),
    (7, 1, 5, "avx2"),
    (7, 1, 7, "smep"),
    (7, 1, 8, "bmi2"),
    (7, 1, 9, "erms"),
    (7, 1, 10, "invpcid"),
    (7, 1, 16, "avx512f"),
    (7, 1, 18, "rdseed"),
    (7, 1, 19, "adx"),
    (7, 1, 20, "smap"),
    (7, 1, 23, "clflushopt"),
    (7, 1, 29, "sha_ni"),
];

/// Whether a feature the CPU has is one user code may use here: Linux leaves out of
/// `/proc/cpuinfo` what it has not enabled, so a program that reads the flags does not
/// try an instruction that faults. State components need their XCR0 bit (AVX's YMM state,
/// AVX-512's opmask and ZMM state), `fsgsbase` needs CR4.FSGSBASE.
fn usable_by_user_code(name: &str) -> bool {
    use x86_64::registers::xcontrol::{XCr0, XCr0Flags};
    let xcr0 = || {
        if Cr4::read().contains(Cr4Flags::OSXSAVE) {
            XCr0::read()
        } else {
            XCr0Flags::empty()
        }
    };
    match name {
        "avx" | "avx2" | "fma" | "f16c" => xcr0().contains(XCr0Flags::AVX),
        name if name.starts_with("avx512") => xcr0().contains(
            XCr0Flags::AVX | XCr0Flags::OPMASK | XCr0Flags::ZMM_HI256 | XCr0Flags::HI16_ZMM,
        ),
        "fsgsbase" => Cr4::read().contains(Cr4Flags::FSGSBASE),
        _ => true,
    }
}

fn cpuid(leaf: u32) -> [u32; 4] {
    let r = core::arch::x86_64::__cpuid_count(leaf, 0);
    [r.eax, r.ebx, r.ecx, r.edx]
}

/// What CPUID says about the CPU, in the terms `/proc/cpuinfo` uses.
#[derive(Clone, Debug)]
pub struct CpuDescription {
    /// `GenuineIntel`, `AuthenticAMD`.
    pub vendor_id: alloc::vec::Vec<u8>,
    pub family: u32,
    pub model: u32,
    /// The brand string, trimmed.
    pub model_name: alloc::vec::Vec<u8>,
    pub stepping: u32,
    /// Highest standard CPUID leaf.
    pub cpuid_level: u32,
    /// Linux's names of the CPU's features, in Linux's order.
    pub flags: alloc::vec::Vec<&'static str>,
    pub clflush_size: u32,
    pub physical_address_bits: u32,
    pub virtual_address_bits: u32,
}

/// The CPU's physical address width (CPUID 0x8000_0008), 36 when it does not say.
pub fn physical_address_bits() -> u32 {
    if cpuid(0x8000_0000)[0] >= 0x8000_0008 {
        cpuid(0x8000_0008)[0] & 0xff
    } else {
        36
    }
}

/// The CPU as `/proc/cpuinfo` describes it.
pub fn describe() -> CpuDescription {
    let max_leaf = cpuid(0)[0];
    let max_extended = cpuid(0x8000_0000)[0];
    let vendor = cpuid(0);
    let mut vendor_id = alloc::vec::Vec::with_capacity(12);
    for register in [vendor[1], vendor[3], vendor[2]] {
        vendor_id.extend_from_slice(&register.to_le_bytes());
    }
    let signature = cpuid(1)[0];
    let base_family = (signature >> 8) & 0xf;
    let family = if base_family == 0xf {
        base_family + ((signature >> 20) & 0xff)
    } else {
        base_family
    };
    let model = ((signature >> 4) & 0xf)
        | if base_family >= 6 {
            ((signature >> 16) & 0xf) << 4
        } else {
            0
        };
    let mut model_name = alloc::vec::Vec::new();
    if max_extended >= 0x8000_0004 {
        for leaf in 0x8000_0002..=0x8000_0004 {
            for register in cpuid(leaf) {
                model_name.extend_from_slice(&register.to_le_bytes());
            }
        }
    }
    let end = model_name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(model_name.len());
    model_name.truncate(end);
    let trimmed = model_name.trim_ascii().to_vec();
    let flags = FEATURE_NAMES
        .iter()
        .filter(|&&(leaf, _, _, _)| {
            if leaf >= 0x8000_0000 {
                leaf <= max_extended
            } else {
                leaf <= max_leaf
            }
        })
        .filter(|&&(leaf, register, bit, _)| cpuid(leaf)[register] & (1 << bit) != 0)
        .map(|&(_, _, _, name)| name)
        .filter(|name| usable_by_user_code(name))
        .collect();
    let address_bits = if max_extended >= 0x8000_0008 {
        cpuid(0x8000_0008)[0]
    } else {
        0x3024
    };
    let clflush = ((cpuid(1)[1] >> 8) & 0xff) * 8;
    CpuDescription {
        vendor_id,
        family,
        model,
        model_name: trimmed,
        stepping: signature & 0xf,
        cpuid_level: max_leaf,
        flags,
        clflush_size: clflush,
        physical_address_bits: address_bits & 0xff,
        virtual_address_bits: (address_bits >> 8) & 0xff,
    }
}
