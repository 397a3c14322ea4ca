//! User code's x87/SSE/AVX registers, saved when a CPU switches threads and restored when it
//! switches back. The kernel is soft-float and never touches them, so a thread's registers
//! are exactly its user program's between two switches.
//!
//! The area is XSAVE's (size from CPUID leaf 0xD for the components `cpu` enabled in XCR0),
//! or FXSAVE's 512 bytes on a CPU without XSAVE; either way 64-byte aligned, as XSAVE needs.

use alloc::vec::Vec;

use raw_cpuid::CpuId;

/// FXSAVE's layout: the MXCSR register's offset, and its power-on value (all exceptions
/// masked, round to nearest).
const MXCSR_OFFSET: usize = 24;
const MXCSR_DEFAULT: u32 = 0x1f80;
/// x87 control word at offset 0: all exceptions masked, 64-bit precision (FNINIT's value).
const FCW_DEFAULT: u16 = 0x37f;
const LEGACY_AREA: usize = 512;
const ALIGN: usize = 64;

fn has_xsave() -> bool {
    use x86_64::registers::control::{Cr4, Cr4Flags};
    Cr4::read().contains(Cr4Flags::OSXSAVE)
}

/// Bytes XSAVE needs for the components XCR0 enables now.
fn area_size() -> usize {
    if !has_xsave() {
        return LEGACY_AREA;
    }
    CpuId::new()
        .get_extended_state_info()
        .map(|info| info.xsave_area_size_enabled_features() as usize)
        .unwrap_or(LEGACY_AREA)
        .max(LEGACY_AREA + 64)
}

/// One thread's saved FPU/SIMD registers.
pub struct FpuState {
    /// Over-allocated by `ALIGN` so an aligned window of `len` bytes fits inside.
    buffer: Vec<u8>,
    offset: usize,
    len: usize,
}

impl FpuState {
    /// The state a new program starts with (what `execve` gives): x87 and SSE at their
    /// reset values, upper AVX halves zero (XSTATE_BV 0: every component in its init state).
    pub fn initial() -> FpuState {
        let len = area_size();
        let buffer = alloc::vec![0u8; len + ALIGN];
        let offset = buffer.as_ptr().align_offset(ALIGN);
        let mut state = FpuState {
            buffer,
            offset,
            len,
        };
        let area = state.area_mut();
        area[..2].copy_from_slice(&FCW_DEFAULT.to_le_bytes());
        area[MXCSR_OFFSET..MXCSR_OFFSET + 4].copy_from_slice(&MXCSR_DEFAULT.to_le_bytes());
        state
    }

    /// A copy of the registers the CPU holds right now (the running thread's, as `fork`
    /// gives the child).
    pub fn of_this_cpu() -> FpuState {
        let mut state = FpuState::initial();
        state.save();
        state
    }

    fn area_mut(&mut self) -> &mut [u8] {
        &mut self.buffer[self.offset..self.offset + self.len]
    }

    /// Stores the CPU's registers here.
    pub(crate) fn save(&mut self) {
        let area = self.area_mut().as_mut_ptr();
        if has_xsave() {
            // SAFETY: `area` is 64-byte aligned and as large as XSAVE needs for the enabled components (CPUID 0xD); we hold `&mut self`, so nothing else reads or writes it meanwhile.
            unsafe {
                core::arch::asm!("xsave64 [{}]", in(reg) area, in("eax") u32::MAX, in("edx") u32::MAX, options(nostack));
            }
        } else {
            // SAFETY: `area` is 16-byte aligned (64 in fact) and at least 512 bytes; exclusive through `&mut self`.
            unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) area, options(nostack)) };
        }
    }

    /// Loads the CPU's registers from here.
    pub(crate) fn restore(&self) {
        let area = self.buffer[self.offset..self.offset + self.len].as_ptr();
        if has_xsave() {
            // SAFETY: `area` holds either `initial()`'s valid image (XSTATE_BV 0, legal MXCSR) or what XSAVE stored on this CPU; aligned and sized as XRSTOR needs.
            unsafe {
                core::arch::asm!("xrstor64 [{}]", in(reg) area, in("eax") u32::MAX, in("edx") u32::MAX, options(nostack, readonly));
            }
        } else {
            // SAFETY: as above, for FXRSTOR's 512-byte image.
            unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) area, options(nostack, readonly)) };
        }
    }
}

impl FpuState {
    /// The x87/SSE part in FXSAVE's 512-byte layout (the first 512 bytes of an XSAVE area
    /// are the same), for the `fpstate` of a signal frame.
    pub fn legacy_image(&self) -> [u8; LEGACY_AREA] {
        let mut image = [0u8; LEGACY_AREA];
        image.copy_from_slice(&self.buffer[self.offset..self.offset + LEGACY_AREA]);
        image
    }

    /// Loads these registers into the CPU for the running thread's program (the end of a
    /// signal handler: the registers from before it).
    pub fn load(&self) {
        self.restore();
    }
}
