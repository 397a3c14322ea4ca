//! The panic handler: report, then power off with the panic status. Never unwinds.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::exit::{KernelFailure, fail};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if PANICKING.swap(true, Ordering::Relaxed) {
        // A panic while reporting a panic: say nothing more that could panic again.
        arch::power::power_off(KernelFailure::Panic as u8);
    }
    crate::console::print_line(format_args!("kernel panic: {info}"));
    fail(KernelFailure::Panic)
}
