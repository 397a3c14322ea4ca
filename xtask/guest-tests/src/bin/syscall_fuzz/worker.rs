//! The worker: a forked process that makes calls `start..end` of the run, telling the
//! supervisor the index of each call before making it, so a call that kills the worker or
//! never returns is known by its index.
//!
//! What keeps a worker alive through its own calls (each an exclusion or a neutralisation
//! the task names): calls that end or replace the process are never made
//! ([`table::FORBIDDEN`]); a child of `fork`/`vfork`/`clone` leaves at once
//! ([`raw::spawning_syscall6`]) and is reaped; memory calls only reach the arena or
//! addresses that are not the worker's ([`args`]); a periodic `SIGALRM` with a handler ends
//! any blocking call with `EINTR`, and is set up again after any call that could change
//! it; `SIGSTOP` to itself becomes `SIGCONT`; the worker's console and progress
//! descriptors are never closed or replaced; `prlimit64` never reaches the supervisor;
//! `arch_prctl` cannot keep a new `%fs` (Rust's thread-local storage). Everything else —
//! a random handler that faults, `kill(0, SIGKILL)`, a tiny `RLIMIT_CPU` — may end the
//! worker, and the supervisor starts another after that call.

use std::ffi::CString;

use libc::c_int;

use crate::args::{Context, Generator, Rng, long_paths};
use crate::layout::*;
use crate::raw::{self, spawning_syscall6, syscall6};
use crate::table::{self, FORBIDDEN, Ret, SPAWNING, SPECS, Spec};

/// Messages on the progress pipe: (tag | detail << 32, index) as two little-endian u64s;
/// a call's detail is its number (low 32 bits).
pub const TAG_CALL: u64 = 0x5346_0001;
pub const TAG_FINDING: u64 = 0x5346_0002;
pub const TAG_DONE: u64 = 0x5346_0003;
/// A call's outcomes in this worker: detail = number, index = ok << 32 | ENOSYS << 16 | other
/// errors (each saturating).
pub const TAG_STATS: u64 = 0x5346_0004;
/// Numbers at or above this share the last slot of the statistics.
pub const STATS_SLOTS: usize = 512;
/// The worker sends its statistics this often (and at its end), so a worker that dies
/// loses at most this many calls' worth.
const STATS_EVERY: u64 = 1000;
pub const MESSAGE_LEN: usize = 16;

/// The worker's exit status when it can no longer report (its progress pipe is gone).
pub const EXIT_PROGRESS_LOST: i32 = 3;
/// The worker's exit status when its scratch or arena cannot be mapped.
pub const EXIT_SETUP_FAILED: i32 = 4;

/// The periodic alarm that ends blocking calls.
const ALARM_MICROS: i64 = 10_000;
/// At most this many descriptors the worker got from calls are kept to draw from.
const MAX_FDS: usize = 48;
/// Signals whose disposition the worker keeps (a no-op handler): the alarm, and those
/// whose default action would stop it or end it without a kernel fault to blame.
const KEPT_SIGNALS: &[c_int] = &[
    libc::SIGALRM,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGPIPE,
    libc::SIGXFSZ,
];
/// Signals a fault raises: their handler ignores them when sent (`kill`, `tgkill`,
/// `rt_sigqueueinfo`: `si_code <= 0`) and lets a real fault end the worker.
const FAULT_SIGNALS: &[c_int] = &[
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
    libc::SIGSYS,
    libc::SIGABRT,
];

pub struct Config {
    pub seed: u64,
    pub start: u64,
    pub end: u64,
    /// Print each call from this index on, before making it.
    pub trace_from: Option<u64>,
}

/// One generated call.
pub struct Call {
    pub number: u64,
    pub args: [u64; 6],
    pub spec: Option<&'static Spec>,
}

impl Call {
    pub fn name(&self) -> String {
        match self.spec {
            Some(spec) if spec.number as u64 == self.number => spec.name.to_owned(),
            Some(spec) => format!("{}[nr={:#x}]", spec.name, self.number),
            None => table::name(self.number),
        }
    }

    pub fn describe(&self) -> String {
        let count = self.spec.map_or(6, |spec| spec.args.len());
        let args: Vec<String> = self.args[..count]
            .iter()
            .map(|arg| format!("{arg:#x}"))
            .collect();
        format!("{}({})", self.name(), args.join(", "))
    }

    /// For a trace: the first words of each argument slot a pointer argument names.
    fn slot_words(&self) -> String {
        let mut text = String::new();
        for (index, &arg) in self.args.iter().enumerate() {
            let slot = SCRATCH_BASE + index as u64 * SLOT_SIZE;
            if arg == slot {
                // SAFETY: the slot is inside the scratch area, mapped read-write.
                let words = unsafe { std::ptr::read_unaligned(slot as *const [u64; 4]) };
                text.push_str(&format!(" [arg{index}: {words:x?}]"));
            }
        }
        text
    }

    /// The call's number as the kernel reads it (Linux takes `eax`, sign-extended).
    fn low_number(&self) -> i64 {
        self.number as u32 as i32 as i64
    }
}

struct Worker {
    config: Config,
    fds: Vec<i32>,
    /// How many of `fds` are the setup's (never closed to make room).
    base_fds: usize,
    pid: i32,
    child: i32,
    brk: u64,
    fs_base: u64,
    long_paths: Vec<Vec<u8>>,
    /// Per call number (low 32 bits, capped): successes, ENOSYS, other errors.
    outcomes: Vec<[u16; 3]>,
}

pub fn run(config: Config) -> ! {
    let mut worker = Worker {
        pid: std::process::id() as i32,
        config,
        fds: Vec::new(),
        base_fds: 0,
        child: 0,
        brk: 0,
        fs_base: 0,
        long_paths: long_paths(),
        outcomes: vec![[0; 3]; STATS_SLOTS],
    };
    if !worker.setup() {
        exit(EXIT_SETUP_FAILED);
    }
    for index in worker.config.start..worker.config.end {
        let call = worker.generate(index);
        send(TAG_CALL | (call.number & 0xffff_ffff) << 32, index);
        if worker.config.trace_from.is_some_and(|from| index >= from) {
            console(&format!(
                "syscall-fuzz: call #{index} {}{}\n",
                call.describe(),
                call.slot_words()
            ));
        }
        let ret = if SPAWNING.contains(&call.low_number()) {
            spawning_syscall6(call.number, call.args)
        } else {
            syscall6(call.number, call.args)
        };
        worker.after(&call, ret);
        worker.count(&call, ret);
        if (index + 1 - worker.config.start).is_multiple_of(STATS_EVERY) {
            worker.send_stats();
        }
        if let Some(reason) = check(&call, ret) {
            console(&format!(
                "syscall-fuzz: FINDING call #{index} {} = {ret:#x}: {reason} (replay: --seed {:#x} --from {} --calls {})\n",
                call.describe(),
                worker.config.seed,
                worker.config.start,
                index + 1 - worker.config.start
            ));
            send(TAG_FINDING, index);
        }
    }
    worker.send_stats();
    send(TAG_DONE, worker.config.end);
    exit(0)
}

fn exit(status: i32) -> ! {
    // SAFETY: ends the process at once, without running anything the calls may have
    // disturbed (atexit handlers, stdio buffers).
    unsafe { libc::_exit(status) }
}

/// Sends one message to the supervisor; a worker that cannot is of no use and ends.
pub fn send(tag: u64, index: u64) {
    let mut message = [0u8; MESSAGE_LEN];
    message[..8].copy_from_slice(&tag.to_le_bytes());
    message[8..].copy_from_slice(&index.to_le_bytes());
    loop {
        // SAFETY: writes the 16-byte message from the stack.
        let written = unsafe { libc::write(PROGRESS_FD, message.as_ptr().cast(), MESSAGE_LEN) };
        if written == MESSAGE_LEN as isize {
            return;
        }
        if written < 0 && crate::errno() == libc::EINTR {
            continue;
        }
        exit(EXIT_PROGRESS_LOST);
    }
}

/// Writes a line to the worker's console descriptor (in one `write`).
pub fn console(text: &str) {
    // SAFETY: writes `text`'s bytes.
    unsafe { libc::write(CONSOLE_FD, text.as_ptr().cast(), text.len()) };
}

fn c(path: &str) -> CString {
    CString::new(path).expect("no NUL in the fuzzer's paths")
}

/// The outcome of a call as `-errno` or its value.
fn call_libc(result: c_int) -> c_int {
    if result < 0 { -crate::errno() } else { result }
}

fn write_file(path: &str, bytes: &[u8]) {
    let _ = std::fs::write(path, bytes);
}

impl Worker {
    /// A fresh process state: descriptors, playground files, scratch and arena, signal
    /// handlers and the alarm. False only if the scratch or arena cannot be mapped.
    fn setup(&mut self) -> bool {
        // SAFETY: plain calls on the worker's own process.
        unsafe {
            libc::setpgid(0, 0);
        }
        // Everything but the console and progress descriptors (the supervisor holds only
        // a few, all below 64).
        if syscall6(
            libc::SYS_close_range as u64,
            [0, CONSOLE_FD as u64 - 1, 0, 0, 0, 0],
        ) != 0
        {
            for fd in 0..64 {
                // SAFETY: closes an inherited descriptor.
                unsafe { libc::close(fd) };
            }
        }
        let null = c("/dev/null");
        // SAFETY: opens /dev/null as 0, 1, 2 (the lowest free descriptors).
        unsafe {
            for _ in 0..3 {
                libc::open(null.as_ptr(), libc::O_RDWR);
            }
        }
        if !map_areas() {
            return false;
        }
        let mut setup_rng = Rng::for_call(self.config.seed, u64::MAX - self.config.start);
        // SAFETY: the scratch data area was just mapped read-write.
        let data =
            unsafe { std::slice::from_raw_parts_mut(DATA_BASE as *mut u8, DATA_SIZE as usize) };
        setup_rng.fill(data);
        make_playground();
        // SAFETY: chdir to a path of ours.
        unsafe { libc::chdir(c("/tmp/fuzz").as_ptr()) };
        self.open_base_fds();
        self.brk = syscall6(libc::SYS_brk as u64, [0; 6]);
        let mut fs = 0u64;
        syscall6(
            libc::SYS_arch_prctl as u64,
            [0x1003, &raw mut fs as u64, 0, 0, 0, 0],
        );
        self.fs_base = fs;
        // Every signal but SIGKILL and SIGSTOP gets a handler (the calls may change them).
        for signal in 1..=64 {
            if FAULT_SIGNALS.contains(&signal) {
                set_fault_handler(signal);
            } else if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                set_handler(signal);
            }
        }
        restore_signals(true);
        true
    }

    fn open_base_fds(&mut self) {
        let opens: &[(&str, c_int)] = &[
            ("/tmp/fuzz/file", libc::O_RDWR),
            ("/tmp/fuzz/dir", libc::O_RDONLY | libc::O_DIRECTORY),
            ("/tmp/fuzz/fifo", libc::O_RDWR | libc::O_NONBLOCK),
            ("/", libc::O_RDONLY | libc::O_DIRECTORY),
            ("/proc", libc::O_RDONLY | libc::O_DIRECTORY),
            ("/proc/self/status", libc::O_RDONLY),
            ("/proc/meminfo", libc::O_RDONLY),
            ("/dev/zero", libc::O_RDWR),
            ("/dev/urandom", libc::O_RDONLY),
            ("/dev/full", libc::O_WRONLY),
            ("/rw/fuzz/file", libc::O_RDWR),
            ("/rw/fuzz/dir", libc::O_RDONLY | libc::O_DIRECTORY),
            ("/root/fuzz/file", libc::O_RDWR | libc::O_APPEND),
            ("/tmp/fuzz/dir", libc::O_PATH),
        ];
        self.fds.extend([0, 1, 2]);
        for &(path, flags) in opens {
            // SAFETY: opens a path of ours.
            let fd = unsafe { libc::open(c(path).as_ptr(), flags | libc::O_CLOEXEC) };
            if fd >= 0 {
                self.fds.push(fd);
            }
        }
        let mut pipe = [0 as c_int; 2];
        // SAFETY: `pipe` has room for both ends.
        if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } == 0 {
            self.fds.extend(pipe);
        }
        self.base_fds = self.fds.len();
    }

    fn generate(&mut self, index: u64) -> Call {
        let mut rng = Rng::for_call(self.config.seed, index);
        let (number, spec) = pick_call(&mut rng);
        let mut args = [0u64; 6];
        if let Some(spec) = spec {
            let cx = Context {
                fds: &self.fds,
                pid: self.pid,
                child: self.child,
            };
            // SAFETY: the scratch area is mapped read-write for the worker's whole life
            // (the calls never map, unmap or protect it), and no other reference to it
            // lives while the generator does.
            let scratch = unsafe {
                std::slice::from_raw_parts_mut(SCRATCH_BASE as *mut u8, SCRATCH_SIZE as usize)
            };
            let mut generator = Generator {
                rng: &mut rng,
                cx: &cx,
                scratch,
                long_paths: &self.long_paths,
            };
            for (index, &kind) in spec.args.iter().enumerate() {
                args[index] = generator.value(index, kind);
            }
        } else {
            // A call outside the table: random values, mostly boundary ones.
            for arg in args.iter_mut() {
                *arg = match rng.below(4) {
                    0 => rng.pick(crate::args::BAD_ADDRESSES),
                    1 => rng.below(1000),
                    2 => DATA_BASE + rng.below(DATA_SIZE),
                    _ => rng.next(),
                };
            }
        }
        if number == libc::SYS_brk as u64 && rng.percent(30) {
            // Growing the break (the drawn addresses are all far from it).
            args[0] = self.brk + rng.below(64) * PAGE;
        }
        let mut call = Call { number, args, spec };
        neutralise(&mut call, self.pid);
        call
    }

    /// What a call changed that the worker must know or undo.
    fn after(&mut self, call: &Call, ret: u64) {
        let number = call.low_number();
        let failed = (ret as i64) < 0 && (ret as i64) >= -4095;
        if SPAWNING.contains(&number) && !failed && ret != 0 {
            self.child = ret as i32;
            reap(self.child);
        }
        if !failed && call.spec.is_some_and(|spec| spec.ret == Ret::Fd) && ret < 1 << 20 {
            self.track_fd(ret as i32);
        }
        if !failed && (number == libc::SYS_pipe || number == libc::SYS_pipe2) {
            self.track_pair(call.args[0]);
        }
        if !failed && number == libc::SYS_socketpair {
            self.track_pair(call.args[3]);
        }
        if number == libc::SYS_arch_prctl {
            syscall6(
                libc::SYS_arch_prctl as u64,
                [0x1002, self.fs_base, 0, 0, 0, 0],
            );
            syscall6(libc::SYS_arch_prctl as u64, [0x1012, 1, 0, 0, 0, 0]); // ARCH_SET_CPUID
        }
        if touches_signals(number) {
            restore_signals(matches!(number, libc::SYS_setitimer | libc::SYS_alarm));
        }
    }

    fn count(&mut self, call: &Call, ret: u64) {
        let slot = (call.number as u32 as usize).min(STATS_SLOTS - 1);
        let kind = match ret as i64 {
            -38 => 1,
            -4095..=-1 => 2,
            _ => 0,
        };
        let counter = &mut self.outcomes[slot][kind];
        *counter = counter.saturating_add(1);
    }

    fn send_stats(&mut self) {
        for (number, counts) in self.outcomes.iter_mut().enumerate() {
            if counts.iter().any(|&count| count > 0) {
                let packed =
                    u64::from(counts[0]) << 32 | u64::from(counts[1]) << 16 | u64::from(counts[2]);
                send(TAG_STATS | (number as u64) << 32, packed);
                *counts = [0; 3];
            }
        }
    }

    fn track_fd(&mut self, fd: i32) {
        if fd == CONSOLE_FD || fd == PROGRESS_FD || self.fds.contains(&fd) {
            return;
        }
        if self.fds.len() >= MAX_FDS + self.base_fds {
            let old = self.fds.remove(self.base_fds);
            // SAFETY: closes a descriptor a call gave the worker.
            unsafe { libc::close(old) };
        }
        self.fds.push(fd);
    }

    fn track_pair(&mut self, address: u64) {
        if (DATA_BASE..SCRATCH_END - 8).contains(&address)
            || (SCRATCH_BASE..DATA_BASE).contains(&address)
        {
            // SAFETY: inside the scratch area, mapped read-write.
            let pair = unsafe { std::ptr::read_unaligned(address as *const [i32; 2]) };
            pair.iter().for_each(|&fd| self.track_fd(fd));
        }
    }
}

/// A call from the table (97%), or a number outside it: unknown ones, and the table's with
/// high bits set (the kernel reads `eax` only, as Linux does).
fn pick_call(rng: &mut Rng) -> (u64, Option<&'static Spec>) {
    if rng.percent(97) {
        let spec = &SPECS[rng.below(SPECS.len() as u64) as usize];
        return (spec.number as u64, Some(spec));
    }
    loop {
        let number = match rng.below(10) {
            0..=6 => rng.below(470),
            7 => (rng.below(8) << 32) | rng.below(470),
            8 => 0x4000_0000 | rng.below(550), // the x32 ABI's bit
            _ => rng.pick(&[
                u64::MAX,
                0x8000_0000,
                0xffff_ffff,
                1024,
                100_000,
                0x7fff_ffff,
            ]),
        };
        let low = number as u32 as i32 as i64;
        if FORBIDDEN.contains(&low) {
            continue;
        }
        let spec = SPECS.iter().find(|spec| spec.number == low);
        return (number, spec);
    }
}

/// The neutralisations that keep the worker (and the supervisor) alive; the call's other
/// values stay as drawn.
fn neutralise(call: &mut Call, pid: i32) {
    let number = call.low_number();
    let a = &mut call.args;
    let reserved = |fd: u64| fd as i32 == CONSOLE_FD || fd as i32 == PROGRESS_FD;
    match number {
        libc::SYS_kill | libc::SYS_tkill | libc::SYS_rt_sigqueueinfo => stop_to_cont(&mut a[1]),
        libc::SYS_tgkill | libc::SYS_rt_tgsigqueueinfo => stop_to_cont(&mut a[2]),
        libc::SYS_close if reserved(a[0]) => a[0] = 64,
        libc::SYS_dup2 | libc::SYS_dup3 if reserved(a[1]) => a[1] = 64,
        libc::SYS_close_range => {
            let (first, last) = (a[0] as u32, a[1] as u32);
            if first <= PROGRESS_FD as u32 && last >= CONSOLE_FD as u32 {
                if first < CONSOLE_FD as u32 {
                    a[1] = CONSOLE_FD as u64 - 1;
                } else {
                    a[0] = PROGRESS_FD as u64 + 1;
                }
            }
        }
        // A wait with SIGALRM blocked would wait forever (on Linux too): its mask is the
        // scratch slot's, SIGALRM cleared, when it would be arena memory of any content.
        libc::SYS_rt_sigsuspend => unblock_alarm_in(&mut a[0], 0),
        libc::SYS_ppoll => unblock_alarm_in(&mut a[3], 3),
        // The supervisor's limits are not the worker's to lower.
        libc::SYS_prlimit64 if a[0] as i32 == 1 => a[0] = pid as u64,
        libc::SYS_mmap
        | libc::SYS_munmap
        | libc::SYS_mprotect
        | libc::SYS_msync
        | libc::SYS_mincore
        | libc::SYS_madvise
        | libc::SYS_mlock
        | libc::SYS_munlock => {
            a[1] = clamp_to_arena(a[0], a[1]);
        }
        libc::SYS_mremap => {
            a[1] = clamp_to_arena(a[0], a[1]);
            a[2] = clamp_to_arena(a[4], a[2]);
            if !in_arena(a[4]) && a[3] & 2 != 0 && !crate::args::BAD_ADDRESSES.contains(&a[4]) {
                a[4] = ARENA_BASE;
            }
        }
        _ => {}
    }
}

/// Clears SIGALRM in the signal set at `*address` when that is the worker's scratch; an
/// arena address becomes argument `slot`'s scratch slot first. Other addresses are never
/// the worker's memory (`args::BAD_ADDRESSES`): the call fails with `EFAULT`.
fn unblock_alarm_in(address: &mut u64, slot: u64) {
    if in_arena(*address) {
        *address = SCRATCH_BASE + slot * SLOT_SIZE;
    }
    let address = *address;
    if (SCRATCH_BASE..SCRATCH_END - 8).contains(&address) {
        // SAFETY: inside the scratch area, mapped read-write.
        unsafe {
            let set = std::ptr::read_unaligned(address as *const u64);
            std::ptr::write_unaligned(address as *mut u64, set & !(1 << (libc::SIGALRM - 1)));
        }
    }
}

/// A stop of the worker would hold the run until the watchdog: `SIGSTOP` becomes
/// `SIGCONT` (the other stop signals have handlers).
fn stop_to_cont(signal: &mut u64) {
    if *signal as u32 == libc::SIGSTOP as u32 {
        *signal = libc::SIGCONT as u64;
    }
}

fn in_arena(address: u64) -> bool {
    (ARENA_BASE..ARENA_END).contains(&address)
}

/// A range that starts in the arena ends there too (it could reach the worker's own
/// mappings otherwise); huge lengths are kept for the addresses that are not the worker's.
fn clamp_to_arena(address: u64, len: u64) -> u64 {
    if in_arena(address) && len > ARENA_END - address {
        ARENA_END - address
    } else {
        len
    }
}

fn touches_signals(number: i64) -> bool {
    matches!(
        number,
        libc::SYS_rt_sigaction
            | libc::SYS_rt_sigprocmask
            | libc::SYS_setitimer
            | libc::SYS_alarm
            | libc::SYS_sigaltstack
            | libc::SYS_signalfd4
            | libc::SYS_rt_sigtimedwait
    )
}

/// A no-op handler for `signal` (raw `rt_sigaction`: libc refuses its own real-time
/// signals); `sa_mask` empty, no SA_RESTART, so blocking calls end with EINTR.
fn set_handler(signal: c_int) {
    let action: [u64; 4] = [
        raw::ignore_signal_address(),
        0x0400_0000,
        raw::restorer(),
        0,
    ];
    syscall6(
        libc::SYS_rt_sigaction as u64,
        [signal as u64, action.as_ptr() as u64, 0, 8, 0, 0],
    );
}

/// The handler of [`FAULT_SIGNALS`] (`SA_SIGINFO`, `SA_NODEFER` so a fault inside it
/// is not blocked): a sent signal is ignored; a fault resets the action to the default,
/// and the faulting instruction runs again and ends the worker.
fn set_fault_handler(signal: c_int) {
    let flags = 0x0400_0000 | libc::SA_SIGINFO as u64 | libc::SA_NODEFER as u64;
    let action: [u64; 4] = [fault_handler as *const () as u64, flags, raw::restorer(), 0];
    syscall6(
        libc::SYS_rt_sigaction as u64,
        [signal as u64, action.as_ptr() as u64, 0, 8, 0, 0],
    );
}

extern "C" fn fault_handler(
    signal: c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a siginfo for an SA_SIGINFO handler; only its code is read.
    let code = if info.is_null() {
        1
    } else {
        unsafe { (*info).si_code }
    };
    if code > 0 {
        let default: [u64; 4] = [0, 0, 0, 0];
        syscall6(
            libc::SYS_rt_sigaction as u64,
            [signal as u64, default.as_ptr() as u64, 0, 8, 0, 0],
        );
    }
}

/// Handlers for the kept signals and the fault signals, SIGALRM unblocked, and (when `rearm`, or when it is
/// not running) the periodic alarm.
fn restore_signals(rearm: bool) {
    for &signal in KEPT_SIGNALS {
        set_handler(signal);
    }
    // A fuzzed fault handler that returns into its fault loops forever, on Linux too.
    for &signal in FAULT_SIGNALS {
        set_fault_handler(signal);
    }
    // SAFETY: signal-mask and timer calls on the worker itself, with local structures.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGALRM);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        let mut current: libc::itimerval = std::mem::zeroed();
        libc::getitimer(libc::ITIMER_REAL, &mut current);
        let stopped = current.it_interval.tv_usec == 0 && current.it_interval.tv_sec == 0;
        if rearm || stopped || current.it_interval.tv_usec != ALARM_MICROS {
            let period = libc::timeval {
                tv_sec: 0,
                tv_usec: ALARM_MICROS,
            };
            let timer = libc::itimerval {
                it_interval: period,
                it_value: period,
            };
            libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut());
        }
    }
}

/// Waits for a child that leaves at once (the alarm may interrupt the wait).
fn reap(pid: i32) {
    for _ in 0..1000 {
        // SAFETY: waits for the worker's own child.
        let result = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL) };
        if result >= 0 || crate::errno() != libc::EINTR {
            return;
        }
    }
}

/// The scratch area and the arena: fixed addresses, read-write, with protected pages and
/// an unmapped end in the arena. False if either cannot be mapped.
fn map_areas() -> bool {
    let map = |address: u64, len: u64, prot: c_int, flags: c_int, fd: c_int| {
        // SAFETY: maps fixed ranges far from the program, its heap and its stack, which
        // no part of the Rust program uses.
        unsafe {
            libc::mmap(
                address as *mut _,
                len as usize,
                prot,
                flags | libc::MAP_FIXED,
                fd,
                0,
            ) as u64
                == address
        }
    };
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let anonymous = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    if !map(SCRATCH_BASE, SCRATCH_SIZE, rw, anonymous, -1)
        || !map(ARENA_BASE, ARENA_SIZE, rw, anonymous, -1)
    {
        return false;
    }
    // Every sixteenth arena page inaccessible, the last eight unmapped.
    for page in (0..ARENA_PAGES).step_by(16) {
        // SAFETY: inside the arena.
        unsafe {
            libc::mprotect(
                (ARENA_BASE + page * PAGE) as *mut _,
                PAGE as usize,
                libc::PROT_NONE,
            )
        };
    }
    // SAFETY: inside the arena.
    unsafe { libc::munmap((ARENA_END - 8 * PAGE) as *mut _, (8 * PAGE) as usize) };
    true
}

/// The playgrounds on tmpfs, 9p (`/rw`, when the spec has it) and the overlay root, each
/// with a file, a directory and a symbolic link; on tmpfs also a FIFO, a dangling link and
/// a link loop. The supervisor removed the previous worker's.
fn make_playground() {
    let content: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    for base in ["/tmp/fuzz", "/rw/fuzz", "/root/fuzz"] {
        let _ = std::fs::create_dir_all(format!("{base}/dir"));
        write_file(&format!("{base}/file"), &content);
        write_file(&format!("{base}/dir/x"), b"x\n");
        let _ = std::os::unix::fs::symlink("file", format!("{base}/link"));
    }
    let _ = std::os::unix::fs::symlink("nowhere", "/tmp/fuzz/dangling");
    let _ = std::os::unix::fs::symlink("loop", "/tmp/fuzz/loop");
    // SAFETY: makes a FIFO at a path of ours.
    call_libc(unsafe { libc::mkfifo(c("/tmp/fuzz/fifo").as_ptr(), 0o666) });
}

/// Whether a raw return value is one Linux could give: a valid `-errno`, or a success of
/// the call's kind. `None` when it is; otherwise why not.
pub fn check(call: &Call, ret: u64) -> Option<String> {
    let signed = ret as i64;
    if (-4095..0).contains(&signed) {
        let errno = -signed;
        // EHWPOISON (133) is Linux's last; 512–530 are its internal restart codes, which
        // must never reach a process.
        return (errno > 133).then(|| format!("-{errno} is not an errno a process may see"));
    }
    let spec = call.spec?;
    let ok = match spec.ret {
        Ret::Zero => ret == 0,
        Ret::Fd => ret < 1 << 20,
        Ret::AtMost(index) => ret <= call.args[index],
        Ret::NonNegative => signed >= 0,
        Ret::Pid => signed > 0 && signed < 4_194_304,
        Ret::Mapping => ret.is_multiple_of(PAGE) && ret < 0x7fff_ffff_f000,
        Ret::Any => true,
    };
    (!ok).then(|| format!("not a successful return of {} ({:?})", spec.name, spec.ret))
}
