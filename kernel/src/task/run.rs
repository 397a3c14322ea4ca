//! The run loop: a process's thread runs it in user mode until it makes a system call,
//! faults or is interrupted, serves that, delivers pending signals, and goes back, until
//! the process ends. gVisor's `Task.run` and Linux's return-to-user path.
//!
//! Where it sits: above the system-call families ([`crate::syscall::dispatch`]), signal
//! delivery ([`crate::process::deliver`]) and the address space's fault handling; below
//! the task's life ([`super::lifecycle`] starts a child's thread on [`run`] and ends it
//! with `exit`).

use super::lifecycle::Ending;
use crate::mm::address_space::{Access, FaultError};
use crate::process::deliver;
use crate::process::{Flow, Process, Signal, Termination};
use arch::user::UserExit;

/// Runs `process` until its thread ends, alone or with its whole process.
pub fn run(process: &mut Process) -> Ending {
    // The same fault (instruction, address, error) twice in a row with nothing between
    // means the page tables disagree with the areas: the mapping is refreshed once;
    // a third time it is the program's fault. Any system call or interrupt in between
    // resets this (the program may have unmapped and mapped the page again), and so does
    // a change another thread made to the tables meanwhile (their generation moved): on
    // several CPUs a sibling's `fork` may write-protect a page again between the fault
    // that made it writable and the store retried, which is progress, not a stuck fault.
    let mut last_fault: Option<LastFault> = None;
    let mut repeats = 0;
    // This loop runs on the thread's own kernel thread, for its whole life.
    let thread = arch::thread::current();
    loop {
        // A paused container's threads wait here (the host's `pause`).
        crate::control::freeze::checkpoint();
        process.mm.lock().activate();
        let entered = crate::clock::monotonic_ns();
        let exit = process.context.execute();
        let user_ns = (crate::clock::monotonic_ns() - entered).max(0) as u64;
        thread.add_user_ns(user_ns);
        crate::task::scheduler::account_user(user_ns);
        match exit {
            UserExit::Syscall => {
                last_fault = None;
                let number = process.context.rax;
                match crate::syscall::dispatch(process) {
                    Flow::Continue => {}
                    Flow::Exit(termination) => return Ending::Group(termination),
                    Flow::ExitThread(code) => return Ending::Thread(code),
                }
                super::oom::reclaim_after_refusals(process);
                // What an address space that went (exec) left dirty goes to its files.
                crate::mm::writeback::write_back_pending();
                // A call that returned `EINTR` may be restarted; `rt_sigreturn` put back
                // registers of its own, which are not a call's result.
                let returned =
                    (number != crate::abi::syscall_numbers::RT_SIGRETURN).then_some(number);
                if let Some(ending) = deliver::deliver_pending(process, returned) {
                    return ending;
                }
            }
            UserExit::Exception {
                vector,
                error,
                address,
            } => {
                log::trace!(target: "process", "exception {vector} error={error:#x} address={address:#x} rip={:#x}", process.context.rip);
                let this_fault = (process.context.rip, address, error);
                let again = vector == PAGE_FAULT
                    && last_fault.is_some_and(|last| {
                        last.fault == this_fault
                            && last.generation == process.mm.lock().mapping_generation()
                    });
                repeats = if again { repeats + 1 } else { 0 };
                last_fault = None;
                if repeats == 1 {
                    let mut mm = process.mm.lock();
                    mm.refresh_mapping(address);
                    last_fault = Some(LastFault {
                        fault: this_fault,
                        generation: mm.mapping_generation(),
                    });
                    continue;
                }
                let stuck = (repeats > 1).then_some(Signal::SIGSEGV);
                let raised = match stuck {
                    Some(signal) => Some(signal),
                    None => match handle_exception(process, vector, error, address) {
                        Handled::Resolved { generation } => {
                            last_fault = Some(LastFault {
                                fault: this_fault,
                                generation,
                            });
                            None
                        }
                        Handled::Raise(signal) => Some(signal),
                        // Memory was freed for it: the same fault again is news.
                        Handled::Retry => None,
                    },
                };
                if let Some(signal) = raised {
                    // A handler may catch a fault's signal (not an out-of-memory kill,
                    // not a fault repeating on the same instruction).
                    if stuck.is_none() && signal != Signal::SIGKILL {
                        let Some(termination) =
                            deliver::deliver_fault(process, signal as u8, address)
                        else {
                            continue;
                        };
                        log::info!(target: "process", "pid {} ended by {termination:?}: {} at rip={:#x} address={address:#x}", process.pid, exception_name(vector), process.context.rip);
                        return Ending::Group(termination);
                    }
                    log::info!(
                        target: "process",
                        "pid {} killed by {signal:?}: {} at rip={:#x} address={address:#x}",
                        process.pid,
                        exception_name(vector),
                        process.context.rip
                    );
                    return Ending::Group(Termination::Killed(signal as u8));
                }
            }
            UserExit::Interrupt { .. } => {
                last_fault = None;
                crate::task::scheduler::tick();
                if let Some(ending) = deliver::deliver_pending(process, None) {
                    return ending;
                }
            }
        }
    }
}

/// The page fault a thread took last: (instruction, address, error code), and the page
/// tables' generation once it was dealt with.
#[derive(Clone, Copy)]
struct LastFault {
    fault: (u64, u64, u64),
    generation: u64,
}

const PAGE_FAULT: u8 = 14;

/// What became of an exception.
enum Handled {
    /// A page fault resolved; the tables' generation right after.
    Resolved {
        generation: u64,
    },
    /// Out of memory, and the OOM killer freed some: run the instruction again.
    Retry,
    Raise(Signal),
}

/// Resolves a fault if it can (demand paging, the OOM killer); otherwise the signal it
/// raises.
fn handle_exception(process: &mut Process, vector: u8, error: u64, address: u64) -> Handled {
    let signal = match vector {
        PAGE_FAULT => {
            let access = if error & 0x10 != 0 {
                Access::Execute
            } else if error & 0x2 != 0 {
                Access::Write
            } else {
                Access::Read
            };
            let (result, generation) = {
                let mut mm = process.mm.lock();
                let result = mm.handle_fault(address, access);
                (result, mm.mapping_generation())
            };
            match result {
                Ok(()) => {
                    return Handled::Resolved { generation };
                }
                Err(FaultError::Segv) => Signal::SIGSEGV,
                Err(FaultError::Bus) => Signal::SIGBUS,
                // The address space's lock is free again here: the OOM killer may look
                // at every process.
                Err(FaultError::OutOfMemory) => match super::oom::out_of_memory(process) {
                    super::oom::Verdict::Retry => return Handled::Retry,
                    super::oom::Verdict::KillSelf => Signal::SIGKILL,
                },
            }
        }
        0 | 16 | 19 => Signal::SIGFPE, // divide error, x87 and SIMD floating point
        1 | 3 => Signal::SIGTRAP,
        6 => Signal::SIGILL,
        17 => Signal::SIGBUS, // alignment check
        _ => Signal::SIGSEGV, // #GP, #SS, #NP and the rest
    };
    Handled::Raise(signal)
}

fn exception_name(vector: u8) -> &'static str {
    match vector {
        0 => "divide error",
        3 => "breakpoint",
        6 => "invalid opcode",
        13 => "general protection fault",
        PAGE_FAULT => "page fault",
        _ => "CPU exception",
    }
}
