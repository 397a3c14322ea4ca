//! `processes`: fork, exec, wait and signal delivery as a program sees them, each answer
//! Linux's: copy-on-write after `fork` (64 MiB touched, no data page copied until written,
//! memory back after the child ends), `SA_SIGINFO` fields of a `kill` and of `SIGCHLD`, a
//! handler interrupted by another, `sigaltstack`, SIMD registers kept across a handler,
//! `EINTR` versus `SA_RESTART` for a blocked `waitpid`, a fault caught by a handler, kills
//! by default action, orphans passed to the init, process groups, `waitid`, `ECHILD`.
//!
//! Meant to run as the container's init (pid 1: orphans come back to it). One line per
//! check (`ok`/`FAIL`), then `processes: N passed, M failed`; exit 0 only if all passed.
//! Runs on the host too (as a child, orphans then go elsewhere: that check is skipped).

use std::process::ExitCode;

#[path = "../report.rs"]
mod report;
use report::{Report, errno};
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};

static LAST_SIGNO: AtomicI32 = AtomicI32::new(0);
static LAST_CODE: AtomicI32 = AtomicI32::new(0);
static LAST_PID: AtomicI32 = AtomicI32::new(0);
static LAST_STATUS: AtomicI32 = AtomicI32::new(0);
static LAST_STACK: AtomicU64 = AtomicU64::new(0);
static ORDER: AtomicUsize = AtomicUsize::new(0);
static TRACE: [AtomicI32; 8] = [const { AtomicI32::new(0) }; 8];



extern "C" fn record_info(signo: i32, info: *mut libc::siginfo_t, _uc: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let info = unsafe { &*info };
    LAST_SIGNO.store(signo, Ordering::SeqCst);
    LAST_CODE.store(info.si_code, Ordering::SeqCst);
    // SAFETY: si_pid/si_status are valid union members for kill and SIGCHLD.
    unsafe {
        LAST_PID.store(info.si_pid(), Ordering::SeqCst);
        LAST_STATUS.store(info.si_status(), Ordering::SeqCst);
    }
    let local = 0u8;
    LAST_STACK.store(&local as *const u8 as u64, Ordering::SeqCst);
}

extern "C" fn trace(signo: i32) {
    let at = ORDER.fetch_add(1, Ordering::SeqCst);
    if at < TRACE.len() {
        TRACE[at].store(signo, Ordering::SeqCst);
    }
    if signo == libc::SIGUSR1 {
        // SAFETY: raising a signal from a handler is async-signal-safe.
        unsafe { libc::raise(libc::SIGUSR2) };
        let at = ORDER.fetch_add(1, Ordering::SeqCst);
        if at < TRACE.len() {
            TRACE[at].store(-signo, Ordering::SeqCst);
        }
    }
}

extern "C" fn clobber_simd(_signo: i32) {
    // SAFETY: writes xmm0 only; the handler's caller-saved registers are the kernel's to restore.
    unsafe { std::arch::asm!("pcmpeqd xmm0, xmm0", out("xmm0") _) };
}

extern "C" fn exit_from_handler(_signo: i32) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(0) };
}

extern "C" fn nothing(_signo: i32) {}

fn install(signo: i32, handler: usize, flags: i32) {
    // SAFETY: a zeroed sigaction with a handler and flags is a valid argument.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = flags;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signo, &action, std::ptr::null_mut());
    }
}

fn mem_free_kib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("MemFree:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|value| value.parse().ok())
        })
        .unwrap_or(0)
}

fn fork() -> i32 {
    // SAFETY: the child only calls async-signal-safe functions and _exit.
    unsafe { libc::fork() }
}

fn wait_for(pid: i32) -> (i32, i32) {
    let mut status = 0;
    // SAFETY: status is a live out-parameter.
    let got = unsafe { libc::waitpid(pid, &mut status, 0) };
    (got, status)
}

fn child_exit(code: i32) -> ! {
    // SAFETY: ends the child without running the parent's atexit handlers.
    unsafe { libc::_exit(code) }
}

fn copy_on_write(report: &mut Report) {
    const SIZE: usize = 64 << 20;
    let mut memory = vec![1u8; SIZE];
    let before = mem_free_kib();
    let pid = fork();
    if pid == 0 {
        let after_fork = mem_free_kib();
        let same = memory.iter().step_by(4096).all(|&b| b == 1);
        // Less than 4 MiB gone: page tables and a kernel stack, no copied data pages.
        let no_copy = before == 0 || before.saturating_sub(after_fork) < 4096;
        // One page in 16 written: 4 MiB of copies. All of them would need 128 MiB, more
        // than a 128 MiB machine has: the OOM killer would end one of the two, as Linux's.
        for page in memory.chunks_mut(4096).step_by(16) {
            page[0] = 2;
        }
        child_exit(if same && no_copy { 0 } else if same { 2 } else { 3 });
    }
    let (_, status) = wait_for(pid);
    // Killed (say by the OOM killer) is a failure too, not an exit status of 0.
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) };
    report.check("fork copies no data page (child sees the parent's 64 MiB, memory barely moves)", code == 0, format!("child status {code} (2: pages copied at fork, 3: wrong data)"));
    let kept = memory.iter().step_by(4096).all(|&b| b == 1);
    report.check("the child's writes stay in the child", kept, "parent saw a 2");
    let after = mem_free_kib();
    // SAFETY: plain system call.
    if unsafe { libc::getpid() } == 1 {
        report.check("memory comes back after the child ends", before == 0 || after + 2048 >= before, format!("MemFree {before} KiB before, {after} KiB after"));
    } else {
        println!("skip memory comes back (not the init: other processes move MemFree here)");
    }
    drop(memory);
}

fn siginfo_of_kill(report: &mut Report) {
    install(libc::SIGUSR1, record_info as *const () as usize, libc::SA_SIGINFO);
    // SAFETY: plain system calls.
    let (me, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    unsafe { libc::kill(me, libc::SIGUSR1) };
    let ok = LAST_SIGNO.load(Ordering::SeqCst) == libc::SIGUSR1
        && LAST_CODE.load(Ordering::SeqCst) == libc::SI_USER
        && LAST_PID.load(Ordering::SeqCst) == me;
    report.check("kill(self, SIGUSR1): SA_SIGINFO handler sees si_signo, SI_USER, si_pid", ok, format!("signo {} code {} pid {} (me {me}, uid {uid})", LAST_SIGNO.load(Ordering::SeqCst), LAST_CODE.load(Ordering::SeqCst), LAST_PID.load(Ordering::SeqCst)));
}

fn sigchld_info(report: &mut Report) {
    install(libc::SIGCHLD, record_info as *const () as usize, libc::SA_SIGINFO);
    LAST_SIGNO.store(0, Ordering::SeqCst);
    // SAFETY: a sigset on the stack; blocking SIGCHLD until sigsuspend avoids a lost wake-up.
    unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &block, &mut old);
        let pid = fork();
        if pid == 0 {
            child_exit(42);
        }
        while LAST_SIGNO.load(Ordering::SeqCst) != libc::SIGCHLD {
            libc::sigsuspend(&old);
        }
        libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        let ok = LAST_CODE.load(Ordering::SeqCst) == libc::CLD_EXITED
            && LAST_PID.load(Ordering::SeqCst) == pid
            && LAST_STATUS.load(Ordering::SeqCst) == 42;
        report.check("SIGCHLD through sigsuspend: CLD_EXITED, si_pid, si_status 42", ok, format!("code {} pid {} (child {pid}) status {}", LAST_CODE.load(Ordering::SeqCst), LAST_PID.load(Ordering::SeqCst), LAST_STATUS.load(Ordering::SeqCst)));
        let (got, status) = wait_for(pid);
        report.check("waitpid after SIGCHLD: the child, exit status 42", got == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 42, format!("got {got} status {status:#x}"));
    }
    install(libc::SIGCHLD, libc::SIG_DFL, 0);
}

fn nested_handlers(report: &mut Report) {
    ORDER.store(0, Ordering::SeqCst);
    install(libc::SIGUSR1, trace as *const () as usize, 0);
    install(libc::SIGUSR2, trace as *const () as usize, 0);
    // SAFETY: plain system call.
    unsafe { libc::raise(libc::SIGUSR1) };
    let seen: Vec<i32> = TRACE.iter().take(ORDER.load(Ordering::SeqCst)).map(|t| t.load(Ordering::SeqCst)).collect();
    report.check("a handler interrupted by another: USR1, USR2, USR1 ends", seen == [libc::SIGUSR1, libc::SIGUSR2, -libc::SIGUSR1], format!("{seen:?}"));
}

fn alternate_stack(report: &mut Report) {
    let mut stack = vec![0u8; 64 * 1024];
    let base = stack.as_mut_ptr() as u64;
    // SAFETY: the stack outlives the handler's use of it (restored below).
    unsafe {
        let ss = libc::stack_t { ss_sp: stack.as_mut_ptr().cast(), ss_flags: 0, ss_size: stack.len() };
        libc::sigaltstack(&ss, std::ptr::null_mut());
    }
    install(libc::SIGUSR1, record_info as *const () as usize, libc::SA_SIGINFO | libc::SA_ONSTACK);
    // SAFETY: plain system calls.
    unsafe { libc::raise(libc::SIGUSR1) };
    let at = LAST_STACK.load(Ordering::SeqCst);
    report.check("SA_ONSTACK: the handler runs on the sigaltstack", (base..base + stack.len() as u64).contains(&at), format!("handler local at {at:#x}, stack {base:#x}+64K"));
    // SAFETY: disabling the alternate stack before freeing it.
    unsafe {
        let ss = libc::stack_t { ss_sp: std::ptr::null_mut(), ss_flags: libc::SS_DISABLE, ss_size: 0 };
        libc::sigaltstack(&ss, std::ptr::null_mut());
    }
}

fn simd_preserved(report: &mut Report) {
    install(libc::SIGUSR2, clobber_simd as *const () as usize, 0);
    let before: u64 = 0x1234_5678_9abc_def0;
    let after = xmm0_across_kill(before, libc::SIGUSR2);
    report.check("SIMD registers survive a signal handler", after == before, format!("xmm0 {after:#x}"));
}

static FRAME_HAD_XSTATE: AtomicI32 = AtomicI32::new(0);

/// Edits the interrupted code's xmm0 in the frame: `rt_sigreturn` must load it.
extern "C" fn edit_frame_xmm0(_signo: i32, _info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    const UC_FP_XSTATE: u64 = 1;
    const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
    // SAFETY: an SA_SIGINFO handler's third argument is the frame's ucontext, whose
    // fpregs point at the frame's fpstate (512 bytes at least).
    unsafe {
        // musl's mcontext_t hides `fpregs` after the 23 general registers; xmm0 sits at
        // byte 160 of the FXSAVE layout, the XSAVE magic at byte 464.
        let uc = &mut *(uc as *mut libc::ucontext_t);
        let fpregs = *(uc.uc_mcontext.gregs.as_ptr().add(23) as *const *mut u8);
        let magic = *(fpregs.add(464) as *const u32);
        let xstate = uc.uc_flags & UC_FP_XSTATE != 0 && magic == FP_XSTATE_MAGIC1;
        FRAME_HAD_XSTATE.store(i32::from(xstate), Ordering::SeqCst);
        *(fpregs.add(160) as *mut u64) = 0x0bad_cafe_feed_f00d;
    }
}

/// Writes reserved bits into the frame's MXCSR and XSAVE header: a restore of that would
/// fault, so `rt_sigreturn` must refuse it (`SIGSEGV`), never try it.
extern "C" fn poison_frame_fpstate(_signo: i32, _info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: as in edit_frame_xmm0; byte 24 is MXCSR, 512 the XSAVE header's XSTATE_BV.
    unsafe {
        let uc = &mut *(uc as *mut libc::ucontext_t);
        let fpregs = *(uc.uc_mcontext.gregs.as_ptr().add(23) as *const *mut u8);
        *(fpregs.add(24) as *mut u32) = 0xffff_ffff;
        *(fpregs.add(512) as *mut u64) = u64::MAX;
    }
}

fn frame_fp_state(report: &mut Report) {
    let pid = fork();
    if pid == 0 {
        install(libc::SIGUSR2, poison_frame_fpstate as *const () as usize, libc::SA_SIGINFO);
        // Rust's runtime catches SIGSEGV (stack-overflow detection) and would swallow the
        // one Linux sends for a bad frame: the default action here.
        install(libc::SIGSEGV, libc::SIG_DFL, 0);
        // SAFETY: plain system calls in the child.
        unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
        child_exit(0);
    }
    let (_, status) = wait_for(pid);
    report.check("rt_sigreturn of a frame whose FP state would fault: SIGSEGV", libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV, format!("status {status:#x}"));

    install(libc::SIGUSR2, edit_frame_xmm0 as *const () as usize, libc::SA_SIGINFO);
    let after = xmm0_across_kill(1, libc::SIGUSR2);
    report.check("the frame's fpstate is XSAVE's, with UC_FP_XSTATE and FP_XSTATE_MAGIC1", FRAME_HAD_XSTATE.load(Ordering::SeqCst) == 1, "no XSAVE magic in the frame");
    report.check("a handler's edit of xmm0 in the frame is loaded by rt_sigreturn", after == 0x0bad_cafe_feed_f00d, format!("xmm0 {after:#x}"));
}

/// Puts `value` in xmm0, sends `signal` to this process with a raw `kill` (its handler
/// runs on the way back from the call), and returns what xmm0 holds after it: the
/// interrupted code's registers as `rt_sigreturn` gave them back.
fn xmm0_across_kill(value: u64, signal: i32) -> u64 {
    let me = std::process::id() as i64;
    let after: u64;
    // SAFETY: xmm0 carries a value across the kill system call; nothing else is touched.
    unsafe {
        std::arch::asm!(
            "movq xmm0, {value}",
            "syscall",
            "movq {out}, xmm0",
            value = in(reg) value,
            out = lateout(reg) after,
            inlateout("rax") libc::SYS_kill => _,
            in("rdi") me,
            in("rsi") signal as i64,
            out("rcx") _, out("r11") _, out("xmm0") _,
        );
    }
    after
}

fn eintr_and_restart(report: &mut Report) {
    for (flags, name) in [(0, "without SA_RESTART a blocked waitpid gives EINTR"), (libc::SA_RESTART, "with SA_RESTART a blocked waitpid goes on")] {
        install(libc::SIGUSR1, nothing as *const () as usize, flags);
        // SAFETY: plain system calls.
        let parent = unsafe { libc::getpid() };
        let pid = fork();
        if pid == 0 {
            // SAFETY: plain system calls in the child.
            unsafe {
                libc::usleep(200_000);
                libc::kill(parent, libc::SIGUSR1);
                libc::usleep(200_000);
            }
            child_exit(0);
        }
        let mut status = 0;
        // SAFETY: status is a live out-parameter.
        let got = unsafe { libc::waitpid(pid, &mut status, 0) };
        let err = errno();
        if flags == 0 {
            report.check(name, got == -1 && err == libc::EINTR, format!("waitpid {got}, errno {err}"));
            wait_for(pid);
        } else {
            report.check(name, got == pid, format!("waitpid {got}, errno {err}"));
        }
    }
}

fn interrupted_sleep(report: &mut Report) {
    install(libc::SIGUSR1, nothing as *const () as usize, libc::SA_RESTART);
    // SAFETY: plain system calls.
    let parent = unsafe { libc::getpid() };
    let pid = fork();
    if pid == 0 {
        // SAFETY: plain system calls in the child.
        unsafe {
            libc::usleep(100_000);
            libc::kill(parent, libc::SIGUSR1);
        }
        child_exit(0);
    }
    let request = libc::timespec { tv_sec: 5, tv_nsec: 0 };
    let mut left = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: live arguments.
    let result = unsafe { libc::nanosleep(&request, &mut left) };
    let err = errno();
    wait_for(pid);
    report.check("nanosleep interrupted by a handled signal: EINTR (even with SA_RESTART) and the time left", result == -1 && err == libc::EINTR && left.tv_sec >= 3 && left.tv_sec <= 5, format!("{result}, errno {err}, left {}s", left.tv_sec));
}

fn waiting_for_signals(report: &mut Report) {
    // SAFETY: sigsets on the stack and plain system calls with live arguments.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signo in [libc::SIGUSR1, libc::SIGUSR2, libc::SIGCHLD] {
            libc::sigaddset(&mut set, signo);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        libc::kill(libc::getpid(), libc::SIGUSR1);
        let got = libc::sigtimedwait(&set, &mut info, &zero);
        report.check("sigtimedwait takes a pending blocked SIGUSR1 (SI_USER)", got == libc::SIGUSR1 && info.si_code == libc::SI_USER, format!("{got}, code {}", info.si_code));
        let short = libc::timespec { tv_sec: 0, tv_nsec: 50_000_000 };
        let got = libc::sigtimedwait(&set, &mut info, &short);
        let err = errno();
        report.check("sigtimedwait with nothing pending: EAGAIN at the timeout", got == -1 && err == libc::EAGAIN, format!("{got}, errno {err}"));
        let value = libc::sigval { sival_ptr: 42 as *mut libc::c_void };
        libc::sigqueue(libc::getpid(), libc::SIGUSR2, value);
        let got = libc::sigtimedwait(&set, &mut info, &zero);
        let carried = info.si_value().sival_ptr as usize as u32;
        report.check("sigqueue: SI_QUEUE and the value arrive", got == libc::SIGUSR2 && info.si_code == libc::SI_QUEUE && carried == 42, format!("{got}, code {}, value {carried}", info.si_code));
        let pid = fork();
        if pid == 0 {
            child_exit(7);
        }
        let got = libc::sigtimedwait(&set, &mut info, std::ptr::null());
        report.check("sigtimedwait for a blocked SIGCHLD with its default (ignore) action", got == libc::SIGCHLD && info.si_pid() == pid && info.si_status() == 7, format!("{got}, pid {} status {}", info.si_pid(), info.si_status()));
        wait_for(pid);
        libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

fn fault_handler(report: &mut Report) {
    let pid = fork();
    if pid == 0 {
        install(libc::SIGSEGV, exit_from_handler as *const () as usize, 0);
        // SAFETY: deliberately faults; the handler ends the child.
        unsafe { std::ptr::read_volatile(8 as *const u8) };
        child_exit(1);
    }
    let (_, status) = wait_for(pid);
    report.check("a SIGSEGV handler catches a fault", libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, format!("status {status:#x}"));
}

extern "C" fn exit_with_segv_code(_signo: i32, info: *mut libc::siginfo_t, _uc: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers; _exit is async-signal-safe.
    unsafe { libc::_exit(if (*info).si_code == libc::SI_KERNEL { 3 } else { 4 }) };
}

/// A signal whose frame cannot be written (the stack pointer is garbage) becomes a
/// `SIGSEGV` (`SI_KERNEL`) for the program's own handler on its alternate stack, as Linux's
/// `force_sigsegv`; without such a handler the process dies of `SIGSEGV`.
fn frame_on_a_bad_stack(report: &mut Report) {
    for with_handler in [true, false] {
        let pid = fork();
        if pid == 0 {
            let stack = vec![0u8; 64 * 1024].leak();
            // SAFETY: the alternate stack is leaked, so it outlives every handler.
            unsafe {
                let ss = libc::stack_t { ss_sp: stack.as_mut_ptr().cast(), ss_flags: 0, ss_size: stack.len() };
                libc::sigaltstack(&ss, std::ptr::null_mut());
            }
            // Without ours, SIG_DFL: Rust's runtime has its own SIGSEGV handler installed.
            let handler = if with_handler { exit_with_segv_code as *const () as usize } else { libc::SIG_DFL };
            install(libc::SIGSEGV, handler, libc::SA_SIGINFO | libc::SA_ONSTACK);
            install(libc::SIGUSR1, nothing as *const () as usize, 0);
            // SAFETY: an empty mask, so SIGUSR1 (blocked by an earlier check) arrives.
            unsafe {
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            }
            // SAFETY: the stack pointer is made unusable, then kill(self, SIGUSR1) is made
            // with the raw instruction; the handler's frame cannot be pushed, and nothing
            // after the call runs (the process ends in a handler or by the signal).
            unsafe {
                std::arch::asm!("mov rsp, {bad}", "syscall", "ud2", bad = in(reg) 0x1000u64, in("rax") libc::SYS_kill, in("rdi") libc::getpid(), in("rsi") libc::SIGUSR1, options(noreturn));
            }
        }
        let (_, status) = wait_for(pid);
        if with_handler {
            report.check("a frame that cannot be pushed: SIGSEGV (SI_KERNEL) to the handler on the alternate stack", libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 3, format!("status {status:#x}"));
        } else {
            report.check("a frame that cannot be pushed, no SIGSEGV handler: killed by SIGSEGV", libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV, format!("status {status:#x}"));
        }
    }
}

fn default_kill(report: &mut Report) {
    let pid = fork();
    if pid == 0 {
        // SAFETY: plain system call.
        unsafe { libc::pause() };
        child_exit(1);
    }
    // SAFETY: plain system calls.
    unsafe {
        libc::usleep(50_000);
        libc::kill(pid, libc::SIGTERM);
    }
    let (got, status) = wait_for(pid);
    report.check("SIGTERM's default action ends a paused child", got == pid && libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGTERM, format!("status {status:#x}"));
}

fn orphans(report: &mut Report) {
    // SAFETY: plain system call.
    if unsafe { libc::getpid() } != 1 {
        println!("skip orphans pass to the init (not pid 1 here)");
        return;
    }
    let pid = fork();
    if pid == 0 {
        let grandchild = fork();
        if grandchild == 0 {
            // SAFETY: plain system calls.
            unsafe { libc::usleep(100_000) };
            child_exit(if unsafe { libc::getppid() } == 1 { 0 } else { 1 });
        }
        child_exit(0);
    }
    let mut codes = Vec::new();
    for _ in 0..2 {
        let mut status = 0;
        // SAFETY: status is a live out-parameter.
        let got = unsafe { libc::waitpid(-1, &mut status, 0) };
        codes.push((got > 0, libc::WEXITSTATUS(status)));
    }
    report.check("an orphan passes to the init, which reaps it", codes == [(true, 0), (true, 0)], format!("{codes:?}"));
}

fn groups_and_waitid(report: &mut Report) {
    let pid = fork();
    if pid == 0 {
        // SAFETY: plain system calls.
        unsafe {
            libc::setpgid(0, 0);
            libc::usleep(100_000);
        }
        child_exit(5);
    }
    // SAFETY: plain system calls.
    unsafe { libc::setpgid(pid, pid) };
    let group = unsafe { libc::getpgid(pid) };
    report.check("setpgid puts a child in its own group", group == pid, format!("getpgid {group}"));
    // SAFETY: a zeroed siginfo is a valid out-parameter.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let early = unsafe { libc::waitid(libc::P_PID, pid as u32, &mut info, libc::WEXITED | libc::WNOHANG) };
    let early_pid = unsafe { info.si_pid() };
    report.check("waitid WNOHANG before the child ends: 0 and si_pid 0", early == 0 && early_pid == 0, format!("{early}, si_pid {early_pid}"));
    let done = unsafe { libc::waitid(libc::P_PGID, pid as u32, &mut info, libc::WEXITED) };
    let (got_pid, got_status) = unsafe { (info.si_pid(), info.si_status()) };
    report.check("waitid P_PGID: CLD_EXITED with the child's pid and status", done == 0 && got_pid == pid && got_status == 5 && info.si_code == libc::CLD_EXITED, format!("{done}, pid {got_pid}, status {got_status}, code {}", info.si_code));
    let none = unsafe { libc::waitpid(-1, std::ptr::null_mut(), 0) };
    let err = errno();
    report.check("waitpid with no children: ECHILD", none == -1 && err == libc::ECHILD, format!("{none}, errno {err}"));
}

/// The console is the init session's controlling terminal: a shell's job control moves a
/// child's group to the foreground and back.
fn terminal_job_control(report: &mut Report) {
    // SAFETY: plain system calls.
    if unsafe { libc::isatty(0) } == 0 || unsafe { libc::getpid() } != 1 {
        println!("skip terminal job control (stdin is not the init's console here)");
        return;
    }
    // SAFETY: plain system calls on fd 0, the console.
    unsafe {
        let me = libc::getpgrp();
        report.check("tcgetpgrp on the console: the init's group", libc::tcgetpgrp(0) == me, format!("{}", libc::tcgetpgrp(0)));
        report.check("tcgetsid on the console: the init's session", libc::tcgetsid(0) == libc::getsid(0), format!("{}", libc::tcgetsid(0)));
        let pid = fork();
        if pid == 0 {
            libc::setpgid(0, 0);
            libc::usleep(200_000);
            child_exit(0);
        }
        libc::setpgid(pid, pid);
        let moved = libc::tcsetpgrp(0, pid) == 0 && libc::tcgetpgrp(0) == pid;
        // Now in the background, the init takes the terminal back as a shell does: with
        // SIGTTOU blocked (else, its group being orphaned, Linux refuses with ENOTTY).
        let mut ttou: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut ttou);
        libc::sigaddset(&mut ttou, libc::SIGTTOU);
        libc::sigprocmask(libc::SIG_BLOCK, &ttou, &mut old);
        let back = libc::tcsetpgrp(0, me) == 0 && libc::tcgetpgrp(0) == me;
        let missing = libc::tcsetpgrp(0, 31_999);
        let err = errno();
        libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        report.check("tcsetpgrp moves a child's group to the foreground and back; a missing group is ESRCH", moved && back && missing == -1 && err == libc::ESRCH, format!("{moved} {back} {missing} {err}"));
        wait_for(pid);
    }
}

fn exec_at(report: &mut Report) {
    for (name, empty_path) in [("execveat(dirfd /bin, \"busybox\") runs it", false), ("execveat(fd, \"\", AT_EMPTY_PATH) runs the open file", true)] {
        let pid = fork();
        if pid == 0 {
            let args = [c"busybox".as_ptr(), c"false".as_ptr(), std::ptr::null()];
            let env: [*const libc::c_char; 1] = [std::ptr::null()];
            // SAFETY: NUL-terminated C strings and arrays that live until exec.
            unsafe {
                if empty_path {
                    let fd = libc::open(c"/bin/busybox".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                    libc::syscall(libc::SYS_execveat, fd, c"".as_ptr(), args.as_ptr(), env.as_ptr(), libc::AT_EMPTY_PATH);
                } else {
                    let dir = libc::open(c"/bin".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
                    libc::syscall(libc::SYS_execveat, dir, c"busybox".as_ptr(), args.as_ptr(), env.as_ptr(), 0);
                }
            }
            child_exit(99);
        }
        let (_, status) = wait_for(pid);
        report.check(name, libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 1, format!("status {status:#x}"));
    }
}

/// As the end of [`file_changes_reach_mappings`], on the root (an overlay over 9p, whose
/// programs the kernel keeps cached pages and headers of) and back again: a program run,
/// rewritten as a script and then as the program again, runs what the file holds each
/// time. Inside the sandbox only (the host's root is not ours to write).
fn exec_after_rewrite(report: &mut Report) {
    // SAFETY: plain system call.
    if unsafe { libc::getpid() } != 1 {
        println!("skip exec after a rewrite on the root (only inside the sandbox)");
        return;
    }
    let program = "/rewritten-program";
    let copied = std::fs::copy("/bin/busybox", program).is_ok();
    let _ = std::fs::set_permissions(program, std::os::unix::fs::PermissionsExt::from_mode(0o755));
    let first = run_status(program);
    let script = std::fs::write(program, b"#!/bin/busybox sh\nexit 7\n").is_ok();
    let second = run_status(program);
    let back = std::fs::copy("/bin/busybox", program).is_ok();
    let third = run_status(program);
    report.check(
        "on the root: exec of a program, of a script written over it, of the program again",
        copied && script && back && [first, second, third] == [0, 7, 0],
        format!("written {copied} {script} {back}, statuses {first}, {second}, {third}"),
    );
    let _ = std::fs::remove_file(program);
}

fn stop_and_continue(report: &mut Report) {
    let pid = fork();
    if pid == 0 {
        loop {
            // SAFETY: plain system call.
            unsafe { libc::pause() };
        }
    }
    let mut status = 0;
    // SAFETY: plain system calls with live out-parameters.
    unsafe {
        libc::kill(pid, libc::SIGSTOP);
        let got = libc::waitpid(pid, &mut status, libc::WUNTRACED);
        report.check("SIGSTOP: waitpid(WUNTRACED) sees the stop", got == pid && libc::WIFSTOPPED(status) && libc::WSTOPSIG(status) == libc::SIGSTOP, format!("{got}, status {status:#x}"));
        libc::kill(pid, libc::SIGCONT);
        let got = libc::waitpid(pid, &mut status, libc::WCONTINUED);
        report.check("SIGCONT: waitpid(WCONTINUED) sees the continue", got == pid && libc::WIFCONTINUED(status), format!("{got}, status {status:#x}"));
        libc::kill(pid, libc::SIGKILL);
        let got = libc::waitpid(pid, &mut status, 0);
        report.check("SIGKILL after a continue ends it", got == pid && libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL, format!("{got}, status {status:#x}"));
    }
    // With the default core size limit of 0 no core is dumped, so no core flag; with a
    // limit, the flag (the sandbox writes no core file, so only there is this run: on the
    // host it would write one).
    // SAFETY: plain system call.
    let in_sandbox = unsafe { libc::getpid() } == 1;
    for core_limit in [0, 1 << 20] {
        if core_limit > 0 && !in_sandbox {
            println!("skip the core flag with a core limit (would write a core file here)");
            continue;
        }
        let pid = fork();
        if pid == 0 {
            let limit = libc::rlimit { rlim_cur: core_limit, rlim_max: libc::RLIM_INFINITY };
            // SAFETY: deliberately faults after setting the limit; SIGSEGV dumps core.
            unsafe {
                libc::setrlimit(libc::RLIMIT_CORE, &limit);
                std::ptr::read_volatile(8 as *const u8);
            }
            child_exit(1);
        }
        let (_, status) = wait_for(pid);
        let want_core = core_limit > 0;
        report.check(&format!("SIGSEGV death, core limit {core_limit}: core flag {want_core}"), libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV && libc::WCOREDUMP(status) == want_core, format!("status {status:#x}"));
    }
}

extern "C" fn alarm_rang(_signo: i32) {
    ORDER.store(99, Ordering::SeqCst);
}

fn alarm_and_times(report: &mut Report) {
    install(libc::SIGALRM, alarm_rang as *const () as usize, 0);
    ORDER.store(0, Ordering::SeqCst);
    // SAFETY: plain system calls with live arguments.
    unsafe {
        let timer = libc::itimerval {
            it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
            it_value: libc::timeval { tv_sec: 0, tv_usec: 100_000 },
        };
        libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut());
        while ORDER.load(Ordering::SeqCst) != 99 {
            libc::pause();
        }
    }
    report.check("setitimer(ITIMER_REAL) delivers SIGALRM to a paused process", true, "");
    // SAFETY: plain system call.
    let left = unsafe { libc::alarm(100) };
    let previous = unsafe { libc::alarm(0) };
    report.check("alarm returns the seconds left of the previous one", left == 0 && previous == 100, format!("{left}, {previous}"));
    let pid = fork();
    if pid == 0 {
        // Spin on the CPU for 100 ms of wall time, in user mode.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(100) {
            x = std::hint::black_box(x.wrapping_mul(3).wrapping_add(1));
        }
        child_exit(0);
    }
    wait_for(pid);
    // SAFETY: a zeroed rusage is a valid out-parameter.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let child_cpu_ms = usage.ru_utime.tv_sec * 1000 + usage.ru_utime.tv_usec / 1000 + usage.ru_stime.tv_sec * 1000 + usage.ru_stime.tv_usec / 1000;
    report.check("getrusage(RUSAGE_CHILDREN) counts a child's 100 ms of spinning", child_cpu_ms >= 50, format!("{child_cpu_ms} ms"));
    // SAFETY: a zeroed tms is a valid out-parameter.
    let mut tms: libc::tms = unsafe { std::mem::zeroed() };
    let ticks = unsafe { libc::times(&mut tms) };
    report.check("times: children's ticks and a clock that runs", ticks > 0 && tms.tms_cutime + tms.tms_cstime >= 5, format!("ticks {ticks}, cutime {} cstime {}", tms.tms_cutime, tms.tms_cstime));
}

fn exec_in_child(report: &mut Report) {
    let pid = fork();
    if pid == 0 {
        let path = c"/bin/busybox";
        let args = [path.as_ptr(), c"false".as_ptr(), std::ptr::null()];
        let env = [std::ptr::null()];
        // SAFETY: NUL-terminated arrays of C strings that live until exec.
        unsafe { libc::execve(path.as_ptr(), args.as_ptr(), env.as_ptr()) };
        child_exit(99);
    }
    let (_, status) = wait_for(pid);
    report.check("fork + execve busybox false: status 1", libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 1, format!("status {status:#x}"));
}

/// Forks paused children until `fork` refuses (`EAGAIN`), then ends them all: the
/// kernel must refuse before it runs out of memory, and stay usable.
fn fork_until_refused(report: &mut Report) {
    // SAFETY: plain system call.
    if unsafe { libc::getpid() } != 1 {
        println!("skip fork until refused (only inside the sandbox: the host's limit is the host's)");
        return;
    }
    let mut children = Vec::new();
    let refused = loop {
        let pid = fork();
        if pid == 0 {
            loop {
                // SAFETY: plain system call.
                unsafe { libc::pause() };
            }
        }
        if pid < 0 {
            break errno();
        }
        children.push(pid);
        if children.len() > 100_000 {
            break 0;
        }
    };
    let started = children.len();
    for &pid in &children {
        // SAFETY: plain system call.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let reaped = children.iter().filter(|&&pid| wait_for(pid).0 == pid).count();
    report.check("fork until refused: EAGAIN, then every child killed and reaped", refused == libc::EAGAIN && reaped == started && started > 10, format!("{started} started, errno {refused}, {reaped} reaped"));
    let pid = fork();
    if pid == 0 {
        child_exit(0);
    }
    let (got, _) = wait_for(pid);
    report.check("fork works again afterwards", got == pid, format!("{got}"));
}

/// `processes --spawns N`: N sequential fork + exec + wait of `busybox true`; the free
/// memory after them must be what it was after the first hundred (no leak per process).
fn spawns(report: &mut Report, count: usize) {
    let spawn = || {
        let pid = fork();
        if pid == 0 {
            let args = [c"busybox".as_ptr(), c"true".as_ptr(), std::ptr::null()];
            let env: [*const libc::c_char; 1] = [std::ptr::null()];
            // SAFETY: NUL-terminated C strings and arrays that live until exec.
            unsafe { libc::execve(c"/bin/busybox".as_ptr(), args.as_ptr(), env.as_ptr()) };
            child_exit(99);
        }
        let (_, status) = wait_for(pid);
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    };
    let warmup = 100.min(count);
    let mut failures = (0..warmup).filter(|_| !spawn()).count();
    let before = mem_free_kib();
    failures += (warmup..count).filter(|_| !spawn()).count();
    let after = mem_free_kib();
    report.check(&format!("{count} sequential fork + exec + wait all succeed"), failures == 0, format!("{failures} failed"));
    // SAFETY: plain system call.
    if unsafe { libc::getpid() } == 1 {
        report.check("free memory is flat across them (within 256 KiB)", after + 256 >= before, format!("MemFree {before} KiB after {warmup}, {after} KiB after {count}"));
    }
}

/// After `fork`, `mprotect(PROT_READ|PROT_WRITE)` of a page both share must not make it
/// writable in place: the parent's write after it stays the parent's.
fn mprotect_after_fork(report: &mut Report) {
    // SAFETY: an anonymous private mapping, a pipe, and plain system calls; the child
    // reads the page after the parent wrote and exits with what it saw.
    unsafe {
        let page = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) as *mut u8;
        *page = 1;
        let mut pipe = [0i32; 2];
        libc::pipe(pipe.as_mut_ptr());
        let pid = fork();
        if pid == 0 {
            let mut byte = 0u8;
            libc::read(pipe[0], &mut byte as *mut u8 as *mut libc::c_void, 1);
            child_exit(i32::from(*page));
        }
        libc::mprotect(page as *mut libc::c_void, 4096, libc::PROT_READ | libc::PROT_WRITE);
        *page = 2;
        libc::write(pipe[1], b"x".as_ptr() as *const libc::c_void, 1);
        let (_, status) = wait_for(pid);
        libc::close(pipe[0]);
        libc::close(pipe[1]);
        libc::munmap(page as *mut libc::c_void, 4096);
        report.check("mprotect RW of a copy-on-write page after fork: the parent's write stays its own", libc::WEXITSTATUS(status) == 1, format!("child saw {}", libc::WEXITSTATUS(status)));
    }
}

/// `--ids`: what exec made of the caller (real and effective uid, AT_SECURE, the
/// effective capability set), one line on standard output.
fn print_ids() {
    let cap_eff = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| status.lines().find_map(|line| line.strip_prefix("CapEff:\t").map(str::to_owned)))
        .unwrap_or_default();
    // SAFETY: plain queries.
    let (uid, euid, secure) = unsafe { (libc::getuid(), libc::geteuid(), libc::getauxval(libc::AT_SECURE)) };
    println!("ids {uid} {euid} {secure} {cap_eff}");
}

/// Runs `program --ids` in a child that first calls `prepare`, and returns its line.
fn ids_after_exec(program: &str, prepare: impl FnOnce()) -> String {
    let mut pipe = [0i32; 2];
    // SAFETY: a pipe for the child's standard output.
    unsafe { libc::pipe(pipe.as_mut_ptr()) };
    let pid = fork();
    if pid == 0 {
        prepare();
        let path = std::ffi::CString::new(program).unwrap_or_default();
        let args = [path.as_ptr(), c"--ids".as_ptr(), std::ptr::null()];
        let env: [*const libc::c_char; 1] = [std::ptr::null()];
        // SAFETY: the pipe's write end becomes stdout; C strings live until exec.
        unsafe {
            libc::dup2(pipe[1], 1);
            libc::execve(path.as_ptr(), args.as_ptr(), env.as_ptr());
        }
        child_exit(99);
    }
    // SAFETY: the parent keeps the read end only.
    unsafe { libc::close(pipe[1]) };
    let mut output = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        // SAFETY: reading into a live buffer.
        let got = unsafe { libc::read(pipe[0], buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if got <= 0 {
            break;
        }
        output.extend_from_slice(&buf[..got as usize]);
    }
    // SAFETY: closing our descriptor.
    unsafe { libc::close(pipe[0]) };
    wait_for(pid);
    String::from_utf8_lossy(&output).trim().to_owned()
}

fn become_user_1000() {
    // SAFETY: plain system calls in the child.
    unsafe {
        libc::setgid(1000);
        libc::setuid(1000);
    }
}

/// A set-user-ID program runs with its owner's effective uid (saved too, `AT_SECURE` set),
/// not under `no_new_privs`; a file's `security.capability` gives its capabilities.
fn set_id_exec(report: &mut Report) {
    use std::os::unix::fs::MetadataExt;
    let program = "/sbin/processes-setuid";
    let Ok(meta) = std::fs::metadata(program) else {
        println!("skip set-user-ID exec (no {program} here)");
        return;
    };
    // SAFETY: plain query.
    if unsafe { libc::getuid() } != 0 {
        println!("skip set-user-ID exec (not root here)");
        return;
    }
    let owner = meta.uid();
    let secure = u32::from(owner != 1000);
    let got = ids_after_exec(program, become_user_1000);
    report.check("exec of a set-user-ID file: the owner's effective uid, AT_SECURE", got.starts_with(&format!("ids 1000 {owner} {secure} ")), got.clone());
    let got = ids_after_exec(program, || {
        // SAFETY: plain system call in the child.
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        become_user_1000();
    });
    report.check("no_new_privs: the set-user-ID bit is ignored", got.starts_with("ids 1000 1000 0 "), got);

    // setcap cap_net_raw+ep on a copy (CAP_NET_RAW is 13): revision 2 of vfs_cap_data.
    let copy = "/tmp/processes-fcaps";
    let mut value = Vec::new();
    for word in [0x0200_0001u32, 1 << 13, 0, 0, 0] {
        value.extend_from_slice(&word.to_le_bytes());
    }
    let copied = std::fs::copy("/sbin/processes", copy).is_ok();
    let path = std::ffi::CString::new(copy).unwrap_or_default();
    // SAFETY: a NUL-terminated path and name and a live value buffer.
    let set = unsafe { libc::setxattr(path.as_ptr(), c"security.capability".as_ptr(), value.as_ptr() as *const libc::c_void, value.len(), 0) };
    let nosuid_tmp = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default().lines().any(|line| line.split(' ').nth(1) == Some("/tmp") && line.contains("nosuid"));
    if !copied || set != 0 || nosuid_tmp {
        println!("skip file capabilities (copy {copied}, setxattr {set} errno {}, /tmp nosuid {nosuid_tmp})", errno());
    } else {
        let got = ids_after_exec(copy, become_user_1000);
        report.check("file capabilities: cap_net_raw+ep gives a uid-1000 process CapEff 0x2000", got == "ids 1000 1000 1 0000000000002000", got);
    }
    let _ = std::fs::remove_file(copy);
}

/// Extended attributes as Linux answers them on a file in /tmp.
fn extended_attributes(report: &mut Report) {
    let path = c"/tmp/xattr-check";
    let _ = std::fs::write("/tmp/xattr-check", b"x");
    // SAFETY: NUL-terminated names and live buffers throughout.
    unsafe {
        let set = |name: &std::ffi::CStr, value: &[u8], flags: i32| {
            if libc::setxattr(path.as_ptr(), name.as_ptr(), value.as_ptr() as *const libc::c_void, value.len(), flags) == 0 { 0 } else { errno() }
        };
        let results = [
            set(c"user.colour", b"blue", 0),
            set(c"user.colour", b"red", libc::XATTR_CREATE),
            set(c"user.shape", b"round", libc::XATTR_REPLACE),
            set(c"bogus.name", b"1", 0),
        ];
        let size = libc::getxattr(path.as_ptr(), c"user.colour".as_ptr(), std::ptr::null_mut(), 0);
        let mut small = [0u8; 2];
        let too_small = libc::getxattr(path.as_ptr(), c"user.colour".as_ptr(), small.as_mut_ptr() as *mut libc::c_void, 2);
        let too_small_errno = errno();
        let mut value = [0u8; 16];
        let got = libc::getxattr(path.as_ptr(), c"user.colour".as_ptr(), value.as_mut_ptr() as *mut libc::c_void, 16);
        let mut names = [0u8; 256];
        let listed = libc::listxattr(path.as_ptr(), names.as_mut_ptr() as *mut libc::c_char, 256);
        let names = &names[..listed.max(0) as usize];
        let has_colour = names.split(|&b| b == 0).any(|name| name == b"user.colour");
        let removed = libc::removexattr(path.as_ptr(), c"user.colour".as_ptr());
        let after = libc::getxattr(path.as_ptr(), c"user.colour".as_ptr(), std::ptr::null_mut(), 0);
        let after_errno = errno();
        let ok = results == [0, libc::EEXIST, libc::ENODATA, libc::EOPNOTSUPP]
            && size == 4
            && too_small == -1 && too_small_errno == libc::ERANGE
            && got == 4 && &value[..4] == b"blue"
            && has_colour && removed == 0
            && after == -1 && after_errno == libc::ENODATA;
        report.check("xattrs: set/create/replace, size query, ERANGE, list, remove, unknown namespace", ok, format!("{results:?} size {size} small {too_small}/{too_small_errno} got {got} listed {listed} removed {removed} after {after}/{after_errno}"));
    }
    let _ = std::fs::remove_file("/tmp/xattr-check");
}

/// The first byte of `path` through a fresh private mapping.
fn first_mapped_byte(path: &str) -> u8 {
    use std::os::fd::AsRawFd;
    let Ok(file) = std::fs::File::open(path) else {
        return 0;
    };
    // SAFETY: a private read-only mapping of an open file, read once and unmapped.
    unsafe {
        let at = libc::mmap(std::ptr::null_mut(), 8192, libc::PROT_READ, libc::MAP_PRIVATE, file.as_raw_fd(), 0);
        if at == libc::MAP_FAILED {
            return 0;
        }
        let byte = *(at as *const u8);
        libc::munmap(at, 8192);
        byte
    }
}

fn run_status(path: &str) -> i32 {
    let pid = fork();
    if pid == 0 {
        let path = std::ffi::CString::new(path).unwrap_or_default();
        let args = [c"true".as_ptr(), std::ptr::null()];
        let env: [*const libc::c_char; 1] = [std::ptr::null()];
        // SAFETY: NUL-terminated strings and arrays that live until exec.
        unsafe { libc::execve(path.as_ptr(), args.as_ptr(), env.as_ptr()) };
        child_exit(99);
    }
    let (_, status) = wait_for(pid);
    libc::WEXITSTATUS(status)
}

/// Mappings and exec see a file as it is now, whatever was mapped or run from it before
/// (the page cache drops what a write or a truncate made stale).
fn file_changes_reach_mappings(report: &mut Report) {
    use std::io::{Seek, SeekFrom, Write};
    let path = "/tmp/page-cache-check";
    let _ = std::fs::write(path, vec![b'a'; 8192]);
    let first = first_mapped_byte(path);
    if let Ok(mut file) = std::fs::OpenOptions::new().write(true).open(path) {
        let _ = file.seek(SeekFrom::Start(0));
        let _ = file.write_all(b"b");
    }
    let rewritten = first_mapped_byte(path);
    let _ = std::fs::write(path, vec![b'c'; 8192]);
    let truncated = first_mapped_byte(path);
    report.check("a file rewritten in place, then truncated and written: each new mapping sees it", [first, rewritten, truncated] == *b"abc", format!("{:?}", String::from_utf8_lossy(&[first, rewritten, truncated])));

    let program = "/tmp/page-cache-program";
    let copied = std::fs::copy("/bin/busybox", program).is_ok();
    let _ = std::fs::set_permissions(program, std::os::unix::fs::PermissionsExt::from_mode(0o755));
    let before = run_status(program);
    let _ = std::fs::write(program, b"#!/bin/busybox sh\nexit 7\n");
    let after = run_status(program);
    report.check("exec of a program, then of a script written over it: the script runs", copied && before == 0 && after == 7, format!("copied {copied}, statuses {before} then {after}"));
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(program);
}

static VFORK_WRITE: AtomicI32 = AtomicI32::new(0);

/// What `clone` shares: a vfork child runs in its parent's memory, a `CLONE_FILES` child
/// in its descriptor table.
fn shared_parts(report: &mut Report) {
    // SAFETY: the vfork child writes one atomic and calls _exit, touching nothing else
    // (musl's vfork keeps its return address in a register, so the parent's stack is
    // intact; libc deprecates it for Rust code that does more in the child).
    #[allow(deprecated)]
    let pid = unsafe { libc::vfork() };
    if pid == 0 {
        VFORK_WRITE.store(42, Ordering::SeqCst);
        child_exit(0);
    }
    wait_for(pid);
    report.check("vfork: the child runs in the parent's memory (its write is seen)", VFORK_WRITE.load(Ordering::SeqCst) == 42, format!("{}", VFORK_WRITE.load(Ordering::SeqCst)));

    // SAFETY: clone without CLONE_VM and without a new stack is a fork that shares the
    // descriptor table; the child only opens a file and calls _exit.
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::CLONE_FILES | libc::SIGCHLD, 0, 0, 0, 0) } as i32;
    if pid == 0 {
        // SAFETY: a NUL-terminated path.
        let fd = unsafe { libc::open(c"/proc/self/cmdline".as_ptr(), libc::O_RDONLY) };
        child_exit(fd.clamp(0, 255));
    }
    let (_, status) = wait_for(pid);
    let fd = libc::WEXITSTATUS(status);
    // SAFETY: F_GETFD on a descriptor number.
    let open_here = fd > 2 && unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0;
    report.check("clone(CLONE_FILES): the child's open is in the parent's table", open_here, format!("child opened {fd}"));
    if open_here {
        // SAFETY: closing the descriptor the child opened.
        unsafe { libc::close(fd) };
    }
}

/// `RLIMIT_NPROC` counts the processes of the caller's real user: a uid-1000 process with
/// a limit of 3 (and one process of its own) forks twice, then gets `EAGAIN`.
fn nproc_per_user(report: &mut Report) {
    let pid = fork();
    if pid == 0 {
        // SAFETY: plain system calls in the child; it exits with what it saw.
        unsafe {
            if libc::setgid(1000) != 0 || libc::setuid(1000) != 0 {
                child_exit(100);
            }
            let limit = libc::rlimit { rlim_cur: 3, rlim_max: 3 };
            libc::setrlimit(libc::RLIMIT_NPROC, &limit);
            let mut children = Vec::new();
            let mut refused = 0;
            for _ in 0..10 {
                let child = libc::fork();
                if child == 0 {
                    libc::pause();
                    libc::_exit(0);
                }
                if child < 0 {
                    refused = errno();
                    break;
                }
                children.push(child);
            }
            for &child in &children {
                libc::kill(child, libc::SIGKILL);
                libc::waitpid(child, std::ptr::null_mut(), 0);
            }
            child_exit(if refused == libc::EAGAIN { children.len() as i32 } else { 99 });
        }
    }
    let (_, status) = wait_for(pid);
    let code = libc::WEXITSTATUS(status);
    if code == 100 {
        println!("skip RLIMIT_NPROC per user (cannot become uid 1000 here)");
        return;
    }
    report.check("RLIMIT_NPROC 3 for uid 1000: two forks, then EAGAIN", code == 2, format!("{code} forks before EAGAIN (99: another error)"));
}

/// `/proc/self/maps`, `fdinfo/N` and `cmdline`, read from the live process.
fn proc_of_self(report: &mut Report) {
    const LEN: usize = 3 * 4096;
    // SAFETY: an anonymous private read-only mapping.
    let area = unsafe { libc::mmap(std::ptr::null_mut(), LEN, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) } as usize;
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let wanted = format!("{:08x}-{:08x} r--p 00000000 00:00 0 ", area, area + LEN);
    report.check("maps: a new anonymous mapping, in Linux's format", maps.lines().any(|line| line == wanted), format!("no line {wanted:?}"));
    report.check("maps: the stack is named [stack]", maps.lines().any(|line| line.ends_with(" [stack]") && line.contains(" rw-p ")), "no [stack] line");
    let exe = std::fs::read_link("/proc/self/exe").map(|path| path.display().to_string()).unwrap_or_default();
    let exe_line = maps.lines().find(|line| line.ends_with(&format!(" {exe}")) && line.contains("r-xp"));
    let name_at_73 = exe_line.is_some_and(|line| line.len() == 73 + exe.len() && line.as_bytes()[72] == b' ');
    report.check("maps: the program's code is r-xp and named by its path at column 73", !exe.is_empty() && name_at_73, format!("exe {exe}: {exe_line:?}"));
    // SAFETY: unmapping what was mapped above.
    unsafe { libc::munmap(area as *mut libc::c_void, LEN) };

    use std::io::{Seek, SeekFrom};
    use std::os::fd::AsRawFd;
    let mut file = std::fs::File::open("/proc/self/status").expect("open status");
    let _ = file.seek(SeekFrom::Start(100));
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd())).unwrap_or_default();
    let head: Vec<&str> = info.lines().take(2).collect();
    report.check("fdinfo: position and flags (O_RDONLY|O_LARGEFILE|O_CLOEXEC)", head == ["pos:\t100", "flags:\t02100000"], format!("{head:?}"));
    let mount_id = info.lines().find_map(|line| line.strip_prefix("mnt_id:\t")).and_then(|id| id.parse::<u64>().ok());
    report.check("fdinfo: mnt_id and ino lines", mount_id.is_some() && info.lines().any(|line| line.starts_with("ino:\t")), info.clone());

    let cmdline = std::fs::read("/proc/self/cmdline").unwrap_or_default();
    let expected: Vec<u8> = std::env::args().flat_map(|arg| arg.into_bytes().into_iter().chain([0])).collect();
    report.check("cmdline: the arguments, each NUL-ended", cmdline == expected, format!("{:?}", String::from_utf8_lossy(&cmdline)));
}

fn main() -> ExitCode {
    let mut report = Report::default();
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag] = args.as_slice()
        && flag == "--ids"
    {
        print_ids();
        return ExitCode::SUCCESS;
    }
    if let [_, flag, count] = args.as_slice() {
        if flag == "--spawns" {
            spawns(&mut report, count.parse().unwrap_or(10_000));
            return report.finish("processes");
        }
    }
    copy_on_write(&mut report);
    siginfo_of_kill(&mut report);
    sigchld_info(&mut report);
    nested_handlers(&mut report);
    alternate_stack(&mut report);
    simd_preserved(&mut report);
    frame_fp_state(&mut report);
    eintr_and_restart(&mut report);
    interrupted_sleep(&mut report);
    waiting_for_signals(&mut report);
    fault_handler(&mut report);
    frame_on_a_bad_stack(&mut report);
    default_kill(&mut report);
    orphans(&mut report);
    groups_and_waitid(&mut report);
    exec_in_child(&mut report);
    exec_at(&mut report);
    exec_after_rewrite(&mut report);
    shared_parts(&mut report);
    proc_of_self(&mut report);
    file_changes_reach_mappings(&mut report);
    mprotect_after_fork(&mut report);
    set_id_exec(&mut report);
    extended_attributes(&mut report);
    nproc_per_user(&mut report);
    terminal_job_control(&mut report);
    stop_and_continue(&mut report);
    alarm_and_times(&mut report);
    fork_until_refused(&mut report);
    report.finish("processes")
}
