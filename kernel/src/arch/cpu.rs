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
    if let Some(hv) = cpuid.get_hypervisor_info() {
        if let Some(khz) = hv.tsc_frequency().filter(|&khz| khz != 0) {
            return Some(u64::from(khz));
        }
    }
    if let Some(tsc) = cpuid.get_tsc_info() {
        if let Some(hz) = tsc.tsc_frequency().filter(|&hz| hz != 0) {
            return Some(hz / 1000);
        }
    }
    cpuid
        .get_processor_frequency_info()
        .map(|freq| u64::from(freq.processor_base_frequency()) * 1000)
        .filter(|&khz| khz != 0)
}

/// 64 bits from the CPU's hardware random generator, when it has one (RDRAND).
pub fn hardware_random() -> Option<u64> {
    if !CpuId::new().get_feature_info().is_some_and(|f| f.has_rdrand()) {
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

/// Whether the CPU can map 1 GiB pages (the direct map uses them when it can).
pub fn has_gigabyte_pages() -> bool {
    CpuId::new().get_extended_processor_and_feature_identifiers().is_some_and(|f| f.has_1gib_pages())
}

/// Whether the no-execute page bit exists (the boot stub enabled EFER.NXE if so).
pub fn has_no_execute() -> bool {
    CpuId::new().get_extended_processor_and_feature_identifiers().is_some_and(|f| f.has_execute_disable())
}

/// Global pages (kernel mappings survive address-space switches) and SSE for user code.
/// The kernel itself is soft-float and never touches SSE registers.
pub(super) fn enable_features() {
    // SAFETY: setting MP and clearing EM only makes SSE instructions legal; the kernel never
    // issues them. OSFXSR/OSXMMEXCPT tell the CPU we save SSE state (user tasks will).
    unsafe {
        Cr0::update(|cr0| {
            cr0.remove(Cr0Flags::EMULATE_COPROCESSOR);
            cr0.insert(Cr0Flags::MONITOR_COPROCESSOR);
        });
        Cr4::update(|cr4| {
            cr4.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE | Cr4Flags::PAGE_GLOBAL);
        });
    }
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
