//! The sandbox kernel: from the boot layer's hand-off to a running container.
//!
//! The machine is below this crate, in `arch` (CPU tables, paging, physical memory and the
//! heap, traps, user mode, device memory), which is where all `unsafe` lives; this crate
//! forbids it and uses `arch`'s safe API only.
//!
//! Modules, bottom up:
//! - plain data and encodings: [`abi`] (Linux structure layouts), [`options`] (the kernel
//!   command line);
//! - what the kernel says and when: `console`, `timeline`, `clock` (monotonic and real
//!   time), `random` (`getrandom`), `exit` (power off with a status), `panic`;
//! - `trap` (what a trap in kernel mode means), `devices` (the virtio devices found at boot);
//! - [`mm`] (a process's areas and address space), [`futex`] (futex commands, the wait
//!   table and the robust-list walk, portable), [`exec`] (ELF, `#!`, the initial stack),
//!   [`fs`] (proc, sys, dev, devpts over vfs-core), [`net`] (Unix sockets), `views` (what
//!   `/proc` shows of the kernel and of each task, read live);
//! - [`process`] (a running program as its thread holds it, signal delivery, exec),
//!   `syscall` (the Linux system-call layer, which takes the process), `task` (the shared
//!   task object, the run loop above the system calls, the scheduler, wait queues, the
//!   process table; fork, exit, wait, kill);
//! - [`tty`] (terminals: the line discipline, pseudo-terminals, the console, job control;
//!   its rules portable, its objects on the target);
//! - [`container`] (OCI spec → mount plan → namespace and init process), `sandbox` (the run,
//!   from spec to exit status), [`control`] (the host runtime's channel, `stdio=control`:
//!   the init held until started, signals, exec, each process's streams, pause, statuses);
//! - `selftest` and `nine_p_check` (the boot tests' `test=` hooks), and [`start`] (the order
//!   things start in).
//!
//! Several CPUs (issue 17): every CPU the machine's ACPI tables list runs threads
//! (`arch::smp` starts them, `task::scheduler` gives each a run queue). Kernel code runs with
//! interrupts off on every CPU (only an idle CPU's `hlt` opens them) and a thread leaves a
//! CPU only when it blocks, yields or ends, so no lock is ever taken by an interrupt
//! handler (kernel-mode interrupts only acknowledge; the fault report uses its own console
//! handle) and none needs to be interrupt-safe; spin locks serialise the CPUs. No lock is
//! held while waiting for another CPU: a TLB shoot-down waits only for CPUs in user mode
//! (`arch::paging`), a switch waits only for a thread's last CPU to leave its stack
//! (`arch::thread`), and the scheduler never takes a thread that is still being left.
//!
//! Global state and its locks (all spin locks; no CPU sleeps holding one):
//! `console::CONSOLE` (the serial port), `timeline::PHASES`, `random::GENERATOR`,
//! `syscall::{UNIMPLEMENTED_SEEN, system::HOSTNAME, system::DOMAINNAME}`, the task layer's
//! `task::futex::FUTEXES`, `task::table::TABLE`, the terminals' (`tty`),
//! `task::scheduler::{CPUS[i].queue, SLEEPERS}` and each wait queue's list (their order is
//! written in `task`), the Unix sockets' name table, in-flight table and deferred drops
//! with each socket's state (their order is written in `net::unix`), the file-lock table
//! `fs::locks::LOCKS` (taken under a descriptor table's lock when a description's last
//! reference drops there; under it only the budget's atomics: sleepers are woken after
//! it is released), and the `Once`s
//! `fs::proc::REGISTERED` and `mm::budget::BUDGET` (set once, then read without a lock; the
//! budget's counters are atomics, as are the OOM killer's reclaim marks in `task::oom`). Nesting, outermost first:
//! `PHASES` → `CONSOLE` (timeline); `FUTEXES` → an address space, `FUTEXES` → `TABLE`
//! (futexes); `TABLE` → a wait queue → a CPU's run queue → `SLEEPERS`, `TABLE` → a terminal's
//! state → the console's port (`tty`),
//! `TABLE` → a task's identity (task; a task's parts are leaves); a socket's state → another
//! socket's state → the name table or the in-flight table (`net::unix`); every other lock
//! is a leaf. Any of them may allocate, so all come before `arch`'s heap → frame-allocator order
//! (see `arch`). A panic or fault report never waits for `CONSOLE` (it uses a second handle).
//!
//! Why a library: the modules that are pure logic (command-line options, the container
//! spec and mount plan, ELF parsing, VMAs, proc's files) build for the host too and are
//! unit-tested there with `cargo test -p kernel --lib`; the modules that need the machine
//! build only for `target_os = "none"`. `src/main.rs` is just the entry point.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod abi;
pub mod container;
pub mod control;
pub mod exec;
pub mod fs;
pub mod futex;
pub mod mm;
pub mod net;
pub mod options;
pub mod process;
pub mod tty;

#[cfg(target_os = "none")]
mod clock;
#[cfg(target_os = "none")]
mod console;
#[cfg(target_os = "none")]
mod device_wait;
#[cfg(target_os = "none")]
mod devices;
#[cfg(target_os = "none")]
mod exit;
#[cfg(target_os = "none")]
mod nine_p_check;
#[cfg(target_os = "none")]
mod panic;
#[cfg(target_os = "none")]
mod random;
#[cfg(target_os = "none")]
mod sandbox;
#[cfg(target_os = "none")]
mod selftest;
#[cfg(target_os = "none")]
mod syscall;
#[cfg(target_os = "none")]
mod task;
#[cfg(target_os = "none")]
mod timeline;
#[cfg(target_os = "none")]
mod trap;
#[cfg(target_os = "none")]
mod views;

#[cfg(target_os = "none")]
pub use arch::entry_point;

/// The heap could not grow for `size` bytes before the container started: too little RAM
/// for the kernel itself. Called with the heap locked: prints and powers off, allocating
/// nothing.
#[cfg(target_os = "none")]
fn boot_out_of_memory(size: usize) -> ! {
    let (total, free) = arch::memory::memory_totals();
    console::print_line(format_args!(
        "memory: out of memory during boot: no room for {size} more bytes of kernel heap \
         ({} KiB of RAM, {} KiB free)",
        total / 1024,
        free / 1024
    ));
    exit::fail(exit::KernelFailure::OutOfMemory)
}

/// The kernel's entry, called by the boot layer through `arch` (see `src/main.rs`).
#[cfg(target_os = "none")]
pub fn start(boot: arch::BootInfo) -> ! {
    use crate::exit::{KernelFailure, exit};
    use crate::options::Options;

    timeline::start(boot.entry_tsc());
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
    clock::set_realtime_at_boot(options.wallclock_ns.unwrap_or(0));
    timeline::phase("console");
    if let Some(problem) = boot.problem() {
        log::warn!(target: "boot", "{problem}");
    }

    arch::init_cpu(trap::handle);
    timeline::phase("cpu tables");
    let memory = match arch::memory::init(&boot, &mut timeline::phase) {
        Ok(memory) => memory,
        Err(error) => {
            console::print_line(format_args!("memory: {error}"));
            exit::fail(KernelFailure::OutOfMemory);
        }
    };
    // Until the container's init starts, a heap that cannot grow means the machine has too
    // little RAM for the kernel: say so and end with the README's status.
    arch::heap::on_exhaustion_during_boot(boot_out_of_memory);
    timeline::phase("memory");
    // Ready: CPU, memory and console are up. What follows is the sandbox's start-up (the
    // timer user code needs, the devices the container needs), timed as phases of its own.
    timeline::ready();
    if let Err(why) = arch::apic::init(timeline::tsc_khz()) {
        log::warn!(target: "timer", "no timer interrupts ({why}): a spinning program keeps the CPU");
    }
    match arch::ioapic::init(boot.rsdp()) {
        Ok(count) => log::debug!(target: "irq", "{count} I/O APIC(s)"),
        Err(why) => log::info!(target: "irq", "device input polled on timer ticks only: {why}"),
    }
    timeline::phase("timer");
    task::scheduler::init();
    let cpus = arch::smp::start_application_processors(
        boot.rsdp(),
        timeline::tsc_khz(),
        arch::percpu::MAX_CPUS,
        task::scheduler::run_application_processor,
    );
    fs::sysfs::set_cpu_count(cpus as u32);
    log::info!(target: "smp", "{cpus} CPUs online");
    timeline::phase("cpus");
    random::init(&options::decode_hex(options.entropy.unwrap_or("")));
    let devices = devices::discover(boot.cmdline_bytes());
    timeline::phase("devices");
    log::info!(target: "memory", "{memory}");

    if let Some(test) = options.test {
        timeline::flush();
        selftest::run(test, boot, &devices);
    }
    match mm::budget::init() {
        Ok(plan) => log::info!(
            target: "memory",
            "budget {} KiB for the container: {} KiB free after boot, {} KiB kept in reserve",
            plan.limit / 1024,
            plan.free / 1024,
            plan.reserve / 1024
        ),
        Err(too_little) => {
            console::print_line(format_args!(
                "memory: out of memory during boot: {too_little}"
            ));
            exit::fail(KernelFailure::OutOfMemory);
        }
    }
    match boot.modules().next() {
        Some(spec) => sandbox::run(
            spec.bytes().unwrap_or_default(),
            boot.cmdline_bytes(),
            &options,
            &devices,
        ),
        None => {
            log::info!(target: "sandbox", "no container spec (boot module 0): nothing to run");
            exit(0)
        }
    }
}
