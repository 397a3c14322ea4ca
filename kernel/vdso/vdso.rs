//! The vDSO: the small ELF shared object the kernel maps into every process
//! (`AT_SYSINFO_EHDR`), whose functions answer the clock calls in user mode, as Linux's
//! do: `__vdso_clock_gettime`, `__vdso_gettimeofday`, `__vdso_time`, `__vdso_getcpu`,
//! `__vdso_clock_getres` (and the plain names as weak aliases), version `LINUX_2.6`, which
//! is what glibc, musl and Go look up.
//!
//! Where it sits: below the C library, beside the kernel. It is built by the kernel's
//! build script (`kernel/build.rs`): this file compiled alone by rustc for
//! `x86_64-unknown-linux-gnu` (the user-mode target it runs as) into an object, then
//! linked by rust-lld with `vdso.lds` and `vdso.map` into `vdso.so`, which the kernel
//! includes. It must be position independent
//! with no relocations at all (it is mapped read-only wherever the kernel finds room), so
//! it calls nothing outside itself: a call into `core` that was not inlined fails the link.
//!
//! Time comes from the TSC and the `[vvar]` page the kernel maps right below the image
//! ([`vvar::VvarData`]): the same arithmetic as the kernel's clock. Clocks it does not
//! keep (the CPU-time clocks, unknown ids) and a page the kernel marks unusable go to the
//! system call, whose result (`-errno` included) is returned as Linux's vDSO returns it.

#![no_std]

#[path = "vvar.rs"]
mod vvar;

use core::ptr::{addr_of, read_volatile};
use core::sync::atomic::{Ordering, compiler_fence};

use vvar::{SHIFT, VvarData};

const CLOCK_REALTIME: i32 = 0;
const CLOCK_MONOTONIC: i32 = 1;
const CLOCK_MONOTONIC_RAW: i32 = 4;
const CLOCK_REALTIME_COARSE: i32 = 5;
const CLOCK_MONOTONIC_COARSE: i32 = 6;
const CLOCK_BOOTTIME: i32 = 7;

const SYS_GETTIMEOFDAY: u64 = 96;
const SYS_TIME: u64 = 201;
const SYS_CLOCK_GETTIME: u64 = 228;
const SYS_CLOCK_GETRES: u64 = 229;
const SYS_GETCPU: u64 = 309;

const NANOS_PER_SEC: i64 = 1_000_000_000;

#[repr(C)]
pub struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

#[repr(C)]
pub struct Timeval {
    tv_sec: i64,
    tv_usec: i64,
}

#[repr(C)]
pub struct Timezone {
    tz_minuteswest: i32,
    tz_dsttime: i32,
}

/// The `[vvar]` page: where the linker script puts it, just below the image.
#[inline(always)]
fn data() -> *const VvarData {
    let address: *const VvarData;
    // SAFETY: computes an address only (RIP-relative, so no relocation is needed); the
    // kernel maps the data page there before any of these functions can run.
    unsafe {
        core::arch::asm!(
            "lea {}, [rip + __vdso_vvar]",
            out(reg) address,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    address
}

/// The TSC, ordered after the loads before it (`lfence; rdtsc`, Linux's
/// `rdtsc_ordered`), so it is not read before the sequence number.
#[inline(always)]
fn rdtsc_ordered() -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: LFENCE and RDTSC only read the counter; CR4.TSD is clear for user mode.
    unsafe {
        core::arch::asm!(
            "lfence",
            "rdtsc",
            out("eax") low,
            out("edx") high,
            options(nomem, nostack, preserves_flags)
        );
    }
    (u64::from(high) << 32) | u64::from(low)
}

/// A system call with two arguments, as the C library would make it.
#[inline(always)]
unsafe fn syscall2(number: u64, first: u64, second: u64) -> i64 {
    let result: i64;
    // SAFETY: the caller passes the call's own arguments; the kernel checks them.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number as i64 => result,
            in("rdi") first,
            in("rsi") second,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    result
}

#[inline(always)]
unsafe fn syscall3(number: u64, first: u64, second: u64, third: u64) -> i64 {
    let result: i64;
    // SAFETY: as `syscall2`.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number as i64 => result,
            in("rdi") first,
            in("rsi") second,
            in("rdx") third,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    result
}

/// The page's fields read consistently (the sequence lock), or `None` if the kernel
/// marked it unusable.
#[inline(always)]
fn snapshot() -> Option<(u64, u64, i64, u32, u64)> {
    let page = data();
    loop {
        // SAFETY: the page is mapped readable for the life of the process.
        let seq = unsafe { read_volatile(addr_of!((*page).seq)) };
        if seq & 1 == 0 {
            compiler_fence(Ordering::Acquire);
            // SAFETY: as above.
            let fields = unsafe {
                (
                    read_volatile(addr_of!((*page).clock_mode)),
                    read_volatile(addr_of!((*page).tsc_base)),
                    read_volatile(addr_of!((*page).mult)),
                    read_volatile(addr_of!((*page).realtime_offset_ns)),
                    read_volatile(addr_of!((*page).cpu_count)),
                )
            };
            let tsc = rdtsc_ordered();
            compiler_fence(Ordering::Acquire);
            // SAFETY: as above.
            if unsafe { read_volatile(addr_of!((*page).seq)) } == seq {
                let (mode, base, mult, offset, cpus) = fields;
                if mode != 1 {
                    return None;
                }
                return Some((base, mult, offset, cpus, tsc));
            }
        }
        core::hint::spin_loop();
    }
}

/// Nanoseconds on the monotonic clock and the real-time offset, or `None`.
#[inline(always)]
fn clocks() -> Option<(i64, i64)> {
    let (base, mult, offset, _, tsc) = snapshot()?;
    let cycles = tsc.saturating_sub(base);
    let nanos = ((u128::from(cycles) * u128::from(mult)) >> SHIFT) as u64;
    Some((nanos as i64, offset))
}

/// Nanoseconds on `clock`, for the clocks the page keeps.
#[inline(always)]
fn nanos_on(clock: i32) -> Option<i64> {
    let (monotonic, offset) = clocks()?;
    match clock {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE => Some(offset.wrapping_add(monotonic)),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME => {
            Some(monotonic)
        }
        _ => None,
    }
}

#[inline(always)]
fn split(nanos: i64) -> (i64, i64) {
    (
        nanos.div_euclid(NANOS_PER_SEC),
        nanos.rem_euclid(NANOS_PER_SEC),
    )
}

/// `clock_gettime(2)`.
///
/// # Safety
/// `ts` must be writable, as for the system call (a bad one faults here: Linux's vDSO
/// does not turn it into `EFAULT` either).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __vdso_clock_gettime(clock: i32, ts: *mut Timespec) -> i32 {
    let Some(nanos) = nanos_on(clock) else {
        // SAFETY: the call's own arguments.
        return unsafe { syscall2(SYS_CLOCK_GETTIME, clock as i64 as u64, ts as u64) } as i32;
    };
    let (tv_sec, tv_nsec) = split(nanos);
    // SAFETY: the caller's pointer, as the system call would take it.
    unsafe { ts.write(Timespec { tv_sec, tv_nsec }) };
    0
}

/// `gettimeofday(2)`: the real-time clock in microseconds; the time zone is UTC.
///
/// # Safety
/// `tv` and `tz` must each be null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __vdso_gettimeofday(tv: *mut Timeval, tz: *mut Timezone) -> i32 {
    let Some(nanos) = nanos_on(CLOCK_REALTIME) else {
        // SAFETY: the call's own arguments.
        return unsafe { syscall2(SYS_GETTIMEOFDAY, tv as u64, tz as u64) } as i32;
    };
    if !tv.is_null() {
        let (tv_sec, nsec) = split(nanos);
        // SAFETY: the caller's pointer, checked non-null.
        unsafe {
            tv.write(Timeval {
                tv_sec,
                tv_usec: nsec / 1000,
            })
        };
    }
    if !tz.is_null() {
        // SAFETY: as above.
        unsafe {
            tz.write(Timezone {
                tz_minuteswest: 0,
                tz_dsttime: 0,
            })
        };
    }
    0
}

/// `time(2)`: seconds of the real-time clock, also stored at `t` unless it is null.
///
/// # Safety
/// `t` must be null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __vdso_time(t: *mut i64) -> i64 {
    let Some(nanos) = nanos_on(CLOCK_REALTIME) else {
        // SAFETY: the call's own argument.
        return unsafe { syscall2(SYS_TIME, t as u64, 0) };
    };
    let seconds = nanos.div_euclid(NANOS_PER_SEC);
    if !t.is_null() {
        // SAFETY: the caller's pointer, checked non-null.
        unsafe { t.write(seconds) };
    }
    seconds
}

/// `getcpu(2)`: with one processor, processor 0 of node 0; otherwise the system call.
///
/// # Safety
/// `cpu` and `node` must each be null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __vdso_getcpu(cpu: *mut u32, node: *mut u32, cache: *mut u8) -> i32 {
    match snapshot() {
        Some((_, _, _, 1, _)) => {
            for out in [cpu, node] {
                if !out.is_null() {
                    // SAFETY: the caller's pointer, checked non-null.
                    unsafe { out.write(0) };
                }
            }
            0
        }
        // SAFETY: the call's own arguments.
        _ => unsafe { syscall3(SYS_GETCPU, cpu as u64, node as u64, cache as u64) as i32 },
    }
}

/// `clock_getres(2)`: 1 ns for the clocks the page keeps, as the kernel answers.
///
/// # Safety
/// `res` must be null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __vdso_clock_getres(clock: i32, res: *mut Timespec) -> i32 {
    if snapshot().is_none() || nanos_on(clock).is_none() {
        // SAFETY: the call's own arguments.
        return unsafe { syscall2(SYS_CLOCK_GETRES, clock as i64 as u64, res as u64) } as i32;
    }
    if !res.is_null() {
        // SAFETY: the caller's pointer, checked non-null.
        unsafe {
            res.write(Timespec {
                tv_sec: 0,
                tv_nsec: 1,
            })
        };
    }
    0
}

// The plain names, weak, as Linux's vDSO has them; and the note that says which Linux
// this is (`LINUX_VERSION_CODE` of the release `uname` gives, 6.1.0).
core::arch::global_asm!(
    ".weak clock_gettime",
    ".type clock_gettime, @function",
    ".set clock_gettime, __vdso_clock_gettime",
    ".weak gettimeofday",
    ".type gettimeofday, @function",
    ".set gettimeofday, __vdso_gettimeofday",
    ".weak time",
    ".type time, @function",
    ".set time, __vdso_time",
    ".weak getcpu",
    ".type getcpu, @function",
    ".set getcpu, __vdso_getcpu",
    ".weak clock_getres",
    ".type clock_getres, @function",
    ".set clock_getres, __vdso_clock_getres",
    ".pushsection .note.Linux, \"a\", @note",
    ".balign 4",
    ".long 6",
    ".long 4",
    ".long 0",
    ".asciz \"Linux\"",
    ".balign 4",
    ".long 0x060100",
    ".balign 4",
    ".popsection",
);
