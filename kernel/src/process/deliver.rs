//! Signal delivery: on the way back to user mode, a pending signal the process does not
//! block either takes its default action or runs the program's handler, on a frame laid
//! out as Linux's `rt_sigframe` (so `SA_SIGINFO` handlers read `siginfo_t` and `ucontext_t`
//! where libc expects them); `rt_sigreturn` takes the frame back down.
//!
//! The FPU/SIMD registers of the interrupted code travel in the frame, as Linux's: the
//! XSAVE area with its `_fpx_sw_bytes` and `FP_XSTATE_MAGIC2` (`UC_FP_XSTATE`), and
//! `rt_sigreturn` loads what the frame holds then, edits included. `arch` checks the
//! image before it is loaded ([`FpuState::from_signal_frame`]): a frame XRSTOR would
//! fault on ends the process with `SIGSEGV`, as Linux's does.

use arch::fpu::FpuState;
use vfs_core::Errno;

use super::signal::{
    DefaultAction, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART, SA_RESTORER, SIG_DFL, SIG_IGN,
    SS_DISABLE, SigAction, SigInfo, bit, default_action,
};
use super::{Process, Termination};
use crate::abi::syscall_numbers as nr;
use crate::task::lifecycle::{self, Ending};

/// `struct rt_sigframe`: the return address (`sa_restorer`), `struct ucontext`, `siginfo`.
const UCONTEXT_OFFSET: u64 = 8;
const UCONTEXT_SIZE: u64 = 304;
const SIGINFO_OFFSET: u64 = UCONTEXT_OFFSET + UCONTEXT_SIZE;
const FRAME_SIZE: u64 = SIGINFO_OFFSET + 128;
/// Inside `struct ucontext`: `uc_stack` at 16, `uc_mcontext` at 40, `uc_sigmask` at 296.
const UC_STACK: usize = 16;
const UC_MCONTEXT: usize = 40;
const UC_SIGMASK: usize = 296;
const UC_FP_XSTATE: u64 = 1;
const UC_SIGCONTEXT_SS: u64 = 2;
const UC_STRICT_RESTORE_SS: u64 = 4;
/// The x86_64 red zone below the stack pointer that a handler's frame must not overwrite.
const RED_ZONE: u64 = 128;
/// The legacy (FXSAVE) part of a frame's `fpstate`, read first at `rt_sigreturn`.
const FXSAVE_SIZE: usize = 512;
/// `fpstate` in `uc_mcontext` (the last of its 24 words).
const MCONTEXT_FPSTATE: usize = 23;
const SS_ONSTACK: u32 = 1;
const USER_CS: u64 = 0x23;
const USER_SS: u64 = 0x1b;

/// Calls that a signal interrupts and that `SA_RESTART` (or an ignored signal) restarts
/// (`futex` by its command and timeout, still in the call's registers).
fn restartable(number: u64, context: &arch::user::UserContext) -> bool {
    if number == nr::FUTEX {
        return crate::syscall::futex_restartable(context.rsi, context.r10);
    }
    matches!(
        number,
        nr::READ
            | nr::WRITE
            | nr::READV
            | nr::WRITEV
            | nr::PREAD64
            | nr::PWRITE64
            | nr::WAIT4
            | nr::WAITID
            | nr::IOCTL
            | nr::OPEN
            | nr::OPENAT
            | nr::FUTEX_WAITV
            | nr::FLOCK
            | nr::FCNTL
    )
}

/// What the run loop does after a system call (`syscall` names it) or an interrupt:
/// `Some` when a signal ends the process, or the thread must end (its process is ending,
/// or another thread exec'd).
pub fn deliver_pending(p: &mut Process, syscall: Option<u64>) -> Option<Ending> {
    if let Some(signal) = p.pending_termination {
        return Some(Ending::Group(Termination::Killed(signal)));
    }
    // One look at the table on the way out of every call, unless nothing came to it since
    // the last look found nothing (most of the time).
    let accept = !p.signals.blocked;
    let generation = lifecycle::arrivals_generation();
    // Nothing came, nothing waits, no mask to put back, no call to restart and nothing
    // new to publish: the common return, which the rest below would also leave as is.
    if p.quiet_since == Some((p.tid, accept, generation))
        && p.signals.pending.is_empty()
        && p.signals.saved_mask.is_none()
        && (syscall.is_none() || p.context.rax as i64 != -i64::from(Errno::EINTR.0))
        && p.signals.published == Some(p.signals.publication())
    {
        return None;
    }
    let arrivals = if p.quiet_since == Some((p.tid, accept, generation)) {
        lifecycle::Arrivals::default()
    } else {
        lifecycle::arrivals(p.tid, accept)
    };
    let quiet = !arrivals.must_end && !arrivals.stopped && arrivals.signals.is_empty();
    p.quiet_since = quiet.then_some((p.tid, accept, generation));
    if arrivals.must_end {
        return Some(Ending::Thread(0));
    }
    for info in arrivals.signals {
        p.signals.raise(info);
    }
    if arrivals.stopped {
        lifecycle::park_while_stopped(p.tid, p.pid);
        if lifecycle::must_end(p.tid) {
            return Some(Ending::Thread(0));
        }
        for info in lifecycle::take_pending_signals(p.tid, !p.signals.blocked) {
            p.signals.raise(info);
        }
    }
    let interrupted = syscall.filter(|_| p.context.rax as i64 == -i64::from(Errno::EINTR.0));
    let mut handled = false;
    while let Some(info) = p.signals.take_deliverable() {
        let action = p.signals.action(info.signo);
        match action.handler {
            SIG_IGN => {}
            // The init takes no default action but for SIGKILL and SIGSTOP, even of a
            // signal queued while blocked (Linux's `SIGNAL_UNKILLABLE` in `get_signal`).
            SIG_DFL if p.pid == crate::task::table::INIT_PID && !matches!(info.signo, 9 | 19) => {}
            SIG_DFL => match default_action(info.signo) {
                DefaultAction::Terminate | DefaultAction::Core => {
                    return Some(Ending::Group(Termination::Killed(info.signo)));
                }
                DefaultAction::Stop => {
                    lifecycle::stop_current(p.tid, p.pid, info.signo);
                    if lifecycle::must_end(p.tid) {
                        return Some(Ending::Thread(0));
                    }
                    for info in lifecycle::take_pending_signals(p.tid, !p.signals.blocked) {
                        p.signals.raise(info);
                    }
                }
                DefaultAction::Ignore | DefaultAction::Continue => {}
            },
            _ => {
                if let Some(number) = interrupted
                    && ((action.flags & SA_RESTART != 0 && restartable(number, &p.context))
                        || (number == nr::FUTEX
                            && crate::syscall::futex_restarts_always(p.context.rsi)))
                {
                    restart(p, number);
                }
                if push_frame(p, info, action).is_err()
                    && let Some(ending) = frame_failed(p, info.signo)
                {
                    return Some(Ending::Group(ending));
                }
                handled = true;
                break;
            }
        }
    }
    if !handled {
        if let Some(saved) = p.signals.saved_mask.take() {
            p.signals.blocked = saved;
        }
        // Nothing ran in between: the interrupted call goes on as if nothing happened.
        if let Some(number) = interrupted.filter(|&number| restartable(number, &p.context))
            && !p.signals.has_deliverable()
            && p.signals.pending.is_empty()
        {
            restart(p, number);
        }
    }
    publish_if_changed(p);
    None
}

/// Shows the task table this thread's signal state if it changed since it last did.
fn publish_if_changed(p: &mut Process) {
    let now = p.signals.publication();
    if p.signals.published != Some(now) {
        lifecycle::publish_signal_state(p.tid, &p.signals);
        p.signals.published = Some(now);
    }
}

/// A fault's signal (`SIGSEGV` at `address`…): to the program's handler if it has one and
/// does not block it, else the end of the process.
pub fn deliver_fault(p: &mut Process, signo: u8, address: u64) -> Option<Termination> {
    let action = p.signals.action(signo);
    let blocked = p.signals.blocked & bit(signo) != 0;
    if action.handler == SIG_DFL || action.handler == SIG_IGN || blocked {
        return Some(Termination::Killed(signo));
    }
    let info = SigInfo {
        signo,
        code: super::signal::SEGV_MAPERR,
        addr: address,
        ..SigInfo::default()
    };
    match push_frame(p, info, action) {
        Ok(()) => None,
        Err(_) => Some(Termination::Killed(11)),
    }
}

/// A handler's frame could not be written (a bad or full stack, no `SA_RESTORER`): Linux's
/// `force_sigsegv`. For any signal but `SIGSEGV`, a `SIGSEGV` (`SI_KERNEL`) goes to the
/// program's own `SIGSEGV` handler when it has one it does not block, as a program that
/// catches stack overflow on an alternate stack expects; otherwise, or when the frame that
/// failed was already `SIGSEGV`'s, the process ends with `SIGSEGV`.
fn frame_failed(p: &mut Process, failed: u8) -> Option<Termination> {
    const SIGSEGV: u8 = 11;
    let action = p.signals.action(SIGSEGV);
    let blocked = p.signals.blocked & bit(SIGSEGV) != 0;
    if failed == SIGSEGV || action.handler == SIG_DFL || action.handler == SIG_IGN || blocked {
        return Some(Termination::Killed(SIGSEGV));
    }
    let info = SigInfo {
        signo: SIGSEGV,
        code: super::signal::SI_KERNEL,
        ..SigInfo::default()
    };
    match push_frame(p, info, action) {
        Ok(()) => None,
        Err(_) => Some(Termination::Killed(SIGSEGV)),
    }
}

/// Back to the `syscall` instruction, with the call's number in `rax` again.
fn restart(p: &mut Process, number: u64) {
    p.context.rip -= 2;
    p.context.rax = number;
}

/// Lays out the frame and points the registers at the handler. A handler without
/// `SA_RESTORER` has nothing to return through: `EFAULT`, as Linux's x86_64 frame setup
/// (the caller ends the process with `SIGSEGV`; a handler that returned to where it
/// faulted would fault again forever).
fn push_frame(p: &mut Process, info: SigInfo, action: SigAction) -> Result<(), Errno> {
    if action.flags & SA_RESTORER == 0 {
        return Err(Errno::EFAULT);
    }
    let (alt_base, alt_flags, alt_size) = p.signals.alt_stack;
    let context = p.context.clone();
    let on_alt_stack = alt_flags & SS_DISABLE == 0
        && (alt_base..alt_base.saturating_add(alt_size)).contains(&context.rsp);
    let mut sp = context.rsp.wrapping_sub(RED_ZONE);
    if action.flags & SA_ONSTACK != 0 && alt_flags & SS_DISABLE == 0 && !on_alt_stack {
        sp = alt_base.wrapping_add(alt_size);
    }
    let fpu_image = arch::fpu_switch::current_state().signal_frame_image();
    let fpstate = (sp.wrapping_sub(fpu_image.len() as u64)) & !63;
    let frame = ((fpstate.wrapping_sub(FRAME_SIZE)) & !15).wrapping_sub(8);
    p.mm.lock().write(fpstate, &fpu_image)?;

    let mut uc = [0u8; UCONTEXT_SIZE as usize];
    let mut put = |offset: usize, value: u64| {
        uc[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
    };
    let xstate = if arch::fpu::signal_frame_has_xstate() {
        UC_FP_XSTATE
    } else {
        0
    };
    put(0, xstate | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS);
    put(UC_STACK, alt_base);
    let stack_flags = if alt_flags & SS_DISABLE != 0 {
        u64::from(SS_DISABLE)
    } else if on_alt_stack {
        u64::from(SS_ONSTACK)
    } else {
        0
    };
    put(UC_STACK + 8, stack_flags);
    put(UC_STACK + 16, alt_size);
    let registers = [
        context.r8,
        context.r9,
        context.r10,
        context.r11,
        context.r12,
        context.r13,
        context.r14,
        context.r15,
        context.rdi,
        context.rsi,
        context.rbp,
        context.rbx,
        context.rdx,
        context.rax,
        context.rcx,
        context.rsp,
        context.rip,
        context.rflags,
        USER_CS | (USER_SS << 48),
        context.trap_error,
        context.trap_vector,
        p.signals.blocked,
        context.fault_address,
        fpstate,
    ];
    for (index, value) in registers.into_iter().enumerate() {
        put(UC_MCONTEXT + index * 8, value);
    }
    let old_mask = p.signals.saved_mask.take().unwrap_or(p.signals.blocked);
    put(UC_SIGMASK, old_mask);

    let mut image = alloc::vec![0u8; (FRAME_SIZE) as usize];
    image[0..8].copy_from_slice(&action.restorer.to_le_bytes());
    image[UCONTEXT_OFFSET as usize..SIGINFO_OFFSET as usize].copy_from_slice(&uc);
    image[SIGINFO_OFFSET as usize..].copy_from_slice(&info.encode());
    p.mm.lock().write(frame, &image)?;

    p.signals.blocked |= action.mask;
    if action.flags & SA_NODEFER == 0 {
        p.signals.blocked |= bit(info.signo);
    }
    p.signals.blocked &= !(bit(9) | bit(19));
    if action.flags & SA_RESETHAND != 0 {
        p.signals.set_action(info.signo, SigAction::default());
    }
    p.context.rip = action.handler;
    p.context.rsp = frame;
    p.context.rdi = u64::from(info.signo);
    p.context.rsi = frame + SIGINFO_OFFSET;
    p.context.rdx = frame + UCONTEXT_OFFSET;
    p.context.rax = 0;
    // The handler starts with a clear direction flag and no single-stepping, as on Linux.
    p.context.rflags &= !((1 << 10) | (1 << 8));
    arch::thread::reset_fpu();
    Ok(())
}

/// `rt_sigreturn`: the registers, mask and alternate stack from the frame the handler
/// returned through. A frame that cannot be read ends the process with `SIGSEGV`; one
/// that would resume at a kernel or non-canonical address gets `SIGSEGV` on the way
/// back to user mode (`UserContext::execute`), as Linux's bad-`iret` fixup gives it.
pub fn sigreturn(p: &mut Process) -> Option<Termination> {
    let uc_address = p.context.rsp.wrapping_sub(8).wrapping_add(UCONTEXT_OFFSET);
    let mut uc = [0u8; UCONTEXT_SIZE as usize];
    if p.mm.lock().read(uc_address, &mut uc).is_err() {
        return Some(Termination::Killed(11));
    }
    let get =
        |offset: usize| u64::from_le_bytes(uc[offset..offset + 8].try_into().unwrap_or([0; 8]));
    let register = |index: usize| get(UC_MCONTEXT + index * 8);
    // A `rip` in the kernel half or non-canonical is refused where every return to
    // user mode is checked (`arch::user::UserContext::execute`): `SIGSEGV`.
    let rip = register(16);
    let context = &mut p.context;
    context.r8 = register(0);
    context.r9 = register(1);
    context.r10 = register(2);
    context.r11 = register(3);
    context.r12 = register(4);
    context.r13 = register(5);
    context.r14 = register(6);
    context.r15 = register(7);
    context.rdi = register(8);
    context.rsi = register(9);
    context.rbp = register(10);
    context.rbx = register(11);
    context.rdx = register(12);
    context.rax = register(13);
    context.rcx = register(14);
    context.rsp = register(15);
    context.rip = rip;
    context.rflags = register(17);
    p.signals.blocked = get(UC_SIGMASK) & !(bit(9) | bit(19));
    let (base, flags, size) = (get(UC_STACK), get(UC_STACK + 8) as u32, get(UC_STACK + 16));
    if flags & SS_DISABLE != 0 {
        p.signals.alt_stack = (0, SS_DISABLE, 0);
    } else if size >= 2048 {
        p.signals.alt_stack = (base, flags & !SS_ONSTACK, size);
    }
    lifecycle::publish_signal_state(p.tid, &p.signals);
    match register(MCONTEXT_FPSTATE) {
        // No FPU state in the frame: the registers start afresh, as Linux's `fpu__clear`.
        0 => arch::thread::reset_fpu(),
        fpstate => match frame_fpu(p, fpstate) {
            Some(fpu) => arch::fpu_switch::set_current_state(fpu),
            None => return Some(Termination::Killed(11)),
        },
    }
    None
}

/// The FPU state at `fpstate` in the program's memory, checked by `arch`; `None` when it
/// cannot be read or would not load.
fn frame_fpu(p: &mut Process, fpstate: u64) -> Option<FpuState> {
    let mut legacy = [0u8; FXSAVE_SIZE];
    p.mm.lock().read(fpstate, &mut legacy).ok()?;
    let extended = match FpuState::extended_size(&legacy) {
        None => None,
        Some(0) => return None,
        Some(size) => {
            let mut image = alloc::vec![0u8; size];
            p.mm.lock().read(fpstate, &mut image).ok()?;
            Some(image)
        }
    };
    FpuState::from_signal_frame(&legacy, extended.as_deref())
}
