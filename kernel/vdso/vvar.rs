//! The vDSO's data page, `[vvar]`: what the kernel writes (`kernel/src/vdso.rs`) and the
//! vDSO's functions read (`kernel/vdso/vdso.rs`). Both include this one file, so they agree
//! on the layout; the kernel writes the fields little-endian at their `offset_of!` places.

/// The fixed-point scale of the TSC-to-nanoseconds factor: nanoseconds since boot are
/// `((tsc - tsc_base) * mult) >> SHIFT`, in 128-bit arithmetic. The kernel's own clock
/// uses the same formula, so the vDSO and a system call give the same time. With 40 bits
/// the factor fits 64 bits for any TSC of 1 kHz or more and is off by under 0.01 ns a
/// second at 10 GHz.
pub const SHIFT: u32 = 40;

/// The page's contents.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VvarData {
    /// A sequence lock: even when the fields are consistent, odd while the kernel
    /// rewrites them; a reader retries until it reads the same even value before and after.
    pub seq: u32,
    /// 1 when the fields below are valid and the TSC is the clock; otherwise every call
    /// is made as a system call.
    pub clock_mode: u32,
    /// The TSC at the kernel's entry: time 0 of the monotonic clock.
    pub tsc_base: u64,
    /// Nanoseconds per TSC cycle, times `2^SHIFT`.
    pub mult: u64,
    /// The real-time clock less the monotonic one, in nanoseconds.
    pub realtime_offset_ns: i64,
    /// How many processors run the tasks: with one, `getcpu` answers 0 without asking.
    pub cpu_count: u32,
    pub reserved: u32,
}
