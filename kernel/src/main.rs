//! The sandbox kernel: from the boot layer's hand-off to a running system.
//!
//! Layers, bottom up: `arch` (the only unsafe code: CPU tables, paging, heap, ports),
//! `console` + `timeline` (what the kernel says and when), `mm` (physical memory),
//! `trap` (what a CPU exception means), and `main` (the order things start in).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

#[allow(unsafe_code)]
mod arch;
mod console;
mod devices;
mod exit;
mod mm;
mod options;
mod panic;
mod selftest;
mod timeline;
mod trap;

use boot::BootInfo;

use crate::exit::{KernelFailure, exit};
use crate::options::Options;

boot::entry_point!(kernel_main);

fn kernel_main(boot: &'static BootInfo) -> ! {
    timeline::start(boot.entry_tsc);
    timeline::phase("boot stub");
    console::init();
    let options = match Options::parse(boot.cmdline_bytes()) {
        Ok(options) => options,
        Err(error) => {
            console::print_line(format_args!("kernel command line: {error}"));
            exit::fail(KernelFailure::BadCommandLine);
        }
    };
    console::set_max_level(options.log);
    timeline::set_tsc_khz(options.tsc_khz.or_else(arch::cpu::tsc_khz_from_cpuid));
    timeline::phase("console");
    if let Some(problem) = boot.problem {
        log::warn!(target: "boot", "{problem}");
    }

    arch::init_cpu();
    timeline::phase("cpu tables");
    let memory = match mm::init(boot) {
        Ok(memory) => memory,
        Err(error) => {
            console::print_line(format_args!("memory: {error}"));
            exit::fail(KernelFailure::OutOfMemory);
        }
    };
    timeline::phase("memory");
    let devices = devices::discover(boot.cmdline_bytes());
    timeline::phase("devices");
    timeline::ready();
    log::info!(target: "memory", "{memory}");

    if let Some(test) = options.test {
        selftest::run(test, boot, &devices);
    }
    exit(0)
}
