//! Waiting for a device by halting the CPU instead of spinning: the wait hook the
//! virtio-9p driver sleeps through, and the device interrupt's handler that ends those
//! sleeps on every CPU.
//!
//! A device's line is routed to the boot CPU only, but its waiter may run on any CPU:
//! each waiting CPU sets its bit in [`WAITING`] before its last look at the device, and
//! the handler (on whichever CPU took the interrupt) kicks every CPU whose bit is set.
//! The kernel runs with interrupts off, so a kick sent between a waiter's last look and
//! its `hlt` stays pending and ends that `hlt` at once (`sti; hlt` takes it only after
//! the `hlt` starts). The handler takes no lock: it may interrupt any `hlt`.
//!
//! Without a running timer a lost interrupt would halt a CPU forever, so then waits
//! spin as before.

use core::sync::atomic::{AtomicU64, Ordering};

use arch::percpu;

/// CPUs (bit = index) halted, or about to halt, until a device has something for them.
static WAITING: AtomicU64 = AtomicU64::new(0);

/// The virtio-9p driver's wait hook: halts until an interrupt unless `ready` says the
/// device already has something.
pub fn wait(ready: &dyn Fn() -> bool) {
    if !arch::apic::timer_running() {
        core::hint::spin_loop();
        return;
    }
    let bit = 1u64 << percpu::cpu_index();
    WAITING.fetch_or(bit, Ordering::SeqCst);
    if !ready() {
        arch::apic::wait_for_interrupt();
    }
    WAITING.fetch_and(!bit, Ordering::SeqCst);
}

/// The device interrupt's hook: wakes every other CPU waiting for a device (this one is
/// out of its `hlt` already).
pub fn on_device_interrupt() {
    crate::tty::console::note_input_may_wait();
    let mut others = WAITING.load(Ordering::SeqCst) & !(1u64 << percpu::cpu_index());
    while others != 0 {
        let cpu = others.trailing_zeros() as usize;
        others &= others - 1;
        arch::apic::kick(percpu::apic_id(cpu));
    }
}
