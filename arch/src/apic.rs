//! The local APIC: its timer gives the kernel the CPU back from user code at a steady beat
//! (so a spinning program cannot keep the kernel from its duties) and wakes the kernel from
//! `hlt` when it sleeps.
//!
//! xAPIC mode through its MMIO page, which every VMM we target provides (microvm and q35,
//! TCG and KVM). Periodic mode at [`TICK_HZ`]; the count is calibrated against the TSC once,
//! on the boot CPU, and every other CPU's timer uses the same count.
//!
//! Every CPU sees its own local APIC at the same physical address, so the one mapping
//! serves all of them. Inter-processor interrupts (the kick of [`kick`], and INIT/SIPI for
//! [`crate::smp`]) go through this CPU's interrupt command register; the kernel runs with
//! interrupts off, so nothing on this CPU interleaves two sends.

use core::sync::atomic::{AtomicU32, Ordering};

use spin::Once;
use x86_64::registers::model_specific::Msr;

use crate::mmio::MmioRegion;

use super::trap::{KICK_VECTOR, SPURIOUS_VECTOR, TIMER_VECTOR};

/// Timer interrupts per second.
pub const TICK_HZ: u64 = 250;

const APIC_BASE_MSR: u32 = 0x1b;
const APIC_ENABLE: u64 = 1 << 11;
const SPURIOUS_REGISTER: usize = 0xf0;
const END_OF_INTERRUPT: usize = 0xb0;
const TIMER_LVT: usize = 0x320;
const TIMER_INITIAL_COUNT: usize = 0x380;
const TIMER_CURRENT_COUNT: usize = 0x390;
const TIMER_DIVIDE: usize = 0x3e0;
const DIVIDE_BY_16: u32 = 0b0011;
const PERIODIC: u32 = 1 << 17;
const MASKED: u32 = 1 << 16;
const ID_REGISTER: usize = 0x20;
const ICR_LOW: usize = 0x300;
const ICR_HIGH: usize = 0x310;
const DELIVERY_PENDING: u32 = 1 << 12;
const LEVEL_ASSERT: u32 = 1 << 14;
const DELIVERY_INIT: u32 = 0b101 << 8;
const DELIVERY_STARTUP: u32 = 0b110 << 8;

/// The timer count per tick the boot CPU measured (0: no timer).
static PER_TICK: AtomicU32 = AtomicU32::new(0);

/// The APIC's register page, once [`init`] mapped it.
static REGISTERS: Once<MmioRegion> = Once::new();

fn write(register: usize, value: u32) {
    if let Some(registers) = REGISTERS.get() {
        registers.write_u32(register, value);
    }
}

fn read(register: usize) -> u32 {
    REGISTERS
        .get()
        .map_or(0, |registers| registers.read_u32(register))
}

/// Sets this CPU's APIC global-enable bit; its physical base.
fn enable_this_cpu() -> u64 {
    // SAFETY: IA32_APIC_BASE exists when CPUID reports an APIC; setting the global enable bit keeps the base address.
    unsafe {
        let mut msr = Msr::new(APIC_BASE_MSR);
        let value = msr.read() | APIC_ENABLE;
        msr.write(value);
        value & 0x000f_ffff_ffff_f000
    }
}

/// This CPU's local APIC id.
pub fn local_id() -> u32 {
    read(ID_REGISTER) >> 24
}

/// Starts an application processor's APIC and its timer with the boot CPU's calibration.
pub(crate) fn init_this_cpu() {
    if REGISTERS.get().is_none() {
        return;
    }
    enable_this_cpu();
    write(SPURIOUS_REGISTER, 0x100 | u32::from(SPURIOUS_VECTOR));
    write(TIMER_DIVIDE, DIVIDE_BY_16);
    let per_tick = PER_TICK.load(Ordering::Relaxed);
    if per_tick != 0 {
        write(TIMER_LVT, PERIODIC | u32::from(TIMER_VECTOR));
        write(TIMER_INITIAL_COUNT, per_tick);
    }
}

/// Sends `value` (vector and delivery mode) to the APIC `apic_id`, once the previous
/// send has left.
fn send(apic_id: u32, value: u32) {
    while read(ICR_LOW) & DELIVERY_PENDING != 0 {
        core::hint::spin_loop();
    }
    write(ICR_HIGH, apic_id << 24);
    write(ICR_LOW, value);
}

/// Interrupts the CPU whose APIC is `apic_id` with the kick vector.
pub fn kick(apic_id: u32) {
    send(apic_id, u32::from(KICK_VECTOR));
}

/// INIT to an application processor: it resets and waits for a start-up IPI.
pub(crate) fn send_init(apic_id: u32) {
    send(apic_id, DELIVERY_INIT | LEVEL_ASSERT);
}

/// Start-up IPI: the processor starts in real mode at `page << 12`.
pub(crate) fn send_startup(apic_id: u32, page: u8) {
    send(apic_id, DELIVERY_STARTUP | LEVEL_ASSERT | u32::from(page));
}

/// Enables the APIC and starts the periodic timer. `tsc_khz` calibrates it; without it
/// (or without an APIC) the kernel runs with no timer.
pub fn init(tsc_khz: Option<u64>) -> Result<(), &'static str> {
    let tsc_khz = tsc_khz.ok_or("TSC frequency unknown")?;
    if !raw_cpuid::CpuId::new()
        .get_feature_info()
        .is_some_and(|f| f.has_apic())
    {
        return Err("no local APIC");
    }
    let base_phys = enable_this_cpu();
    let registers = MmioRegion::map(base_phys, crate::PAGE).map_err(|_| "cannot map the APIC")?;
    REGISTERS.call_once(|| registers);
    write(SPURIOUS_REGISTER, 0x100 | u32::from(SPURIOUS_VECTOR));
    write(TIMER_DIVIDE, DIVIDE_BY_16);

    // Count how far the timer runs in 250 us of TSC time, with the timer masked.
    write(TIMER_LVT, MASKED | u32::from(TIMER_VECTOR));
    write(TIMER_INITIAL_COUNT, u32::MAX);
    let start = super::cpu::read_tsc();
    while super::cpu::read_tsc() - start < tsc_khz / 4 {
        core::hint::spin_loop();
    }
    let per_ms = (u32::MAX - read(TIMER_CURRENT_COUNT)).saturating_mul(4);
    let per_tick = (u64::from(per_ms) * 1000 / TICK_HZ).clamp(1, u64::from(u32::MAX)) as u32;
    PER_TICK.store(per_tick, Ordering::Relaxed);
    write(TIMER_LVT, PERIODIC | u32::from(TIMER_VECTOR));
    write(TIMER_INITIAL_COUNT, per_tick);
    Ok(())
}

pub fn end_of_interrupt() {
    write(END_OF_INTERRUPT, 0);
}

/// Whether the timer runs (so `hlt` is sure to end).
pub fn timer_running() -> bool {
    REGISTERS.get().is_some()
}

/// Sleeps until the next interrupt: interrupts on, `hlt`, interrupts off again.
pub fn wait_for_interrupt() {
    x86_64::instructions::interrupts::enable_and_hlt();
    x86_64::instructions::interrupts::disable();
}
