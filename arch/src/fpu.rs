//! User code's x87/SSE/AVX registers as a thread keeps them while another has the CPU
//! ([`FpuState`]), and the signal-frame image of them. When they are saved and loaded is
//! [`crate::fpu_switch`]'s business. The kernel is soft-float and never touches them, so a
//! thread's registers are exactly its user program's.
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

/// What [`crate::cpu`] set up, the same on every CPU: whether XSAVE is on, and the bytes
/// it needs for the components XCR0 enables. Asked once (CPUID and control-register reads
/// are slow to emulate, and `fork` needs the size every time).
struct AreaLayout {
    xsave: bool,
    size: usize,
}

static LAYOUT: spin::Once<AreaLayout> = spin::Once::new();

fn layout() -> &'static AreaLayout {
    LAYOUT.call_once(|| {
        use x86_64::registers::control::{Cr4, Cr4Flags};
        let xsave = Cr4::read().contains(Cr4Flags::OSXSAVE);
        let size = if xsave {
            CpuId::new()
                .get_extended_state_info()
                .map(|info| info.xsave_area_size_enabled_features() as usize)
                .unwrap_or(LEGACY_AREA)
                .max(LEGACY_AREA + 64)
        } else {
            LEGACY_AREA
        };
        AreaLayout { xsave, size }
    })
}

/// Fixes the layout from what the boot CPU enabled (called right after it did; every CPU
/// enables the same).
pub(crate) fn settle_layout() {
    layout();
}

fn has_xsave() -> bool {
    layout().xsave
}

fn area_size() -> usize {
    layout().size
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

    fn area_mut(&mut self) -> &mut [u8] {
        &mut self.buffer[self.offset..self.offset + self.len]
    }

    /// Stores the CPU's registers here. CR0.TS must be clear (see [`crate::fpu_switch`]).
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

    /// Loads the CPU's registers from here. CR0.TS must be clear.
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

/// Linux's `struct _fpx_sw_bytes`, in the software-reserved bytes 464..512 of the FXSAVE
/// area of a signal frame's `fpstate`: `magic1`, `extended_size` (the XSAVE area plus the
/// trailing `MAGIC2`), `xfeatures` (XCR0), `xstate_size` (the XSAVE area).
const SW_BYTES: usize = 464;
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
/// The XSAVE header after the legacy area: `XSTATE_BV`, `XCOMP_BV`, then 48 reserved bytes.
const XSAVE_HEADER: usize = LEGACY_AREA;
const XSAVE_HEADER_SIZE: usize = 64;
/// `XSTATE_BV` bits of the x87 and SSE components: what a legacy (FXSAVE-only) frame holds.
const LEGACY_COMPONENTS: u64 = 0b11;
/// MXCSR's writable bits when FXSAVE reports a mask of 0 (Intel SDM 11.6.6).
const MXCSR_MASK_DEFAULT: u32 = 0xffbf;

fn enabled_components() -> u64 {
    x86_64::registers::xcontrol::XCr0::read_raw()
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from(read_u32(bytes, at)) | (u64::from(read_u32(bytes, at + 4)) << 32)
}

/// Whether the user half of a signal frame carries XSAVE state (`UC_FP_XSTATE`).
pub fn signal_frame_has_xstate() -> bool {
    has_xsave()
}

impl FpuState {
    /// What a signal frame's `fpstate` holds, as Linux lays it out: the XSAVE area with
    /// `_fpx_sw_bytes` filled in and `FP_XSTATE_MAGIC2` after it; FXSAVE's 512 bytes on a
    /// CPU without XSAVE.
    pub fn signal_frame_image(&self) -> Vec<u8> {
        let area = &self.buffer[self.offset..self.offset + self.len];
        let mut image = area.to_vec();
        if has_xsave() {
            let put = |image: &mut Vec<u8>, at: usize, bytes: &[u8]| {
                image[at..at + bytes.len()].copy_from_slice(bytes);
            };
            image[SW_BYTES..LEGACY_AREA].fill(0);
            put(&mut image, SW_BYTES, &FP_XSTATE_MAGIC1.to_le_bytes());
            put(
                &mut image,
                SW_BYTES + 4,
                &(self.len as u32 + 4).to_le_bytes(),
            );
            put(
                &mut image,
                SW_BYTES + 8,
                &enabled_components().to_le_bytes(),
            );
            put(&mut image, SW_BYTES + 16, &(self.len as u32).to_le_bytes());
            image.extend_from_slice(&FP_XSTATE_MAGIC2.to_le_bytes());
        }
        image
    }

    /// How many bytes [`signal_frame_image`](Self::signal_frame_image) gives.
    pub fn signal_frame_size() -> usize {
        area_size() + if has_xsave() { 4 } else { 0 }
    }

    /// Takes back the registers a signal frame's `fpstate` holds (`rt_sigreturn`), which
    /// the program may have changed. `legacy` is its first 512 bytes; `extended`, read
    /// only when `legacy` announces it ([`extended_size`](Self::extended_size)), the whole
    /// area with `MAGIC2`. A frame without the XSAVE magic is a legacy one: x87 and SSE
    /// from it, the other components at their initial values, as Linux restores it.
    ///
    /// `None` for an image XRSTOR or FXRSTOR would fault on (reserved MXCSR bits, state
    /// components XCR0 does not enable, a compacted or non-zero reserved header): Linux
    /// answers such a frame with `SIGSEGV`, and the kernel must never execute a faulting
    /// restore.
    pub fn from_signal_frame(legacy: &[u8], extended: Option<&[u8]>) -> Option<FpuState> {
        if legacy.len() < LEGACY_AREA {
            return None;
        }
        let mask = match read_u32(legacy, MXCSR_OFFSET + 4) {
            0 => MXCSR_MASK_DEFAULT,
            mask => mask,
        };
        if read_u32(legacy, MXCSR_OFFSET) & !mask != 0 {
            return None;
        }
        let mut state = FpuState::initial();
        let len = state.len;
        match extended {
            Some(image) if has_xsave() => {
                if image.len() != len + 4
                    || image[..LEGACY_AREA] != legacy[..LEGACY_AREA]
                    || read_u32(image, len) != FP_XSTATE_MAGIC2
                {
                    return None;
                }
                let header = &image[XSAVE_HEADER..XSAVE_HEADER + XSAVE_HEADER_SIZE];
                let components = read_u64(header, 0);
                if components & !enabled_components() != 0
                    || read_u64(header, 8) != 0
                    || header[16..].iter().any(|&byte| byte != 0)
                {
                    return None;
                }
                state.area_mut().copy_from_slice(&image[..len]);
            }
            Some(_) => return None,
            None => {
                let area = state.area_mut();
                area[..LEGACY_AREA].copy_from_slice(&legacy[..LEGACY_AREA]);
                if has_xsave() {
                    area[XSAVE_HEADER..XSAVE_HEADER + XSAVE_HEADER_SIZE].fill(0);
                    area[XSAVE_HEADER..XSAVE_HEADER + 8]
                        .copy_from_slice(&LEGACY_COMPONENTS.to_le_bytes());
                }
            }
        }
        // The software bytes are the kernel's note to itself, not register state.
        state.area_mut()[SW_BYTES..LEGACY_AREA].fill(0);
        Some(state)
    }

    /// How many bytes of extended state a frame's legacy part announces (`extended_size`
    /// of its `_fpx_sw_bytes`), or `None` for a legacy frame. A size other than this CPU's
    /// is an invalid frame (`Some(0)`).
    pub fn extended_size(legacy: &[u8]) -> Option<usize> {
        if !has_xsave()
            || legacy.len() < LEGACY_AREA
            || read_u32(legacy, SW_BYTES) != FP_XSTATE_MAGIC1
        {
            return None;
        }
        let expected = area_size();
        let extended = read_u32(legacy, SW_BYTES + 4) as usize;
        let xstate = read_u32(legacy, SW_BYTES + 16) as usize;
        Some(if extended == expected + 4 && xstate == expected {
            extended
        } else {
            0
        })
    }
}

/// The registers a new program starts with, kept for [`scrub_registers`].
static INITIAL: spin::Once<FpuState> = spin::Once::new();

/// Puts every FPU/SIMD register at its initial value, so the CPU holds nothing of any
/// program. With XSAVE this is nearly free: the initial image's header marks every
/// component as in its initial state, so `XRSTOR` reads only MXCSR from it (a full load
/// reads every register). CR0.TS must be clear.
pub(crate) fn scrub_registers() {
    INITIAL.call_once(FpuState::initial).restore();
}

impl Clone for FpuState {
    /// A copy in a buffer of its own, aligned anew (a plain copy of the buffer could land
    /// at another offset from the 64-byte boundary).
    fn clone(&self) -> FpuState {
        let mut copy = FpuState::initial();
        copy.area_mut()
            .copy_from_slice(&self.buffer[self.offset..self.offset + self.len]);
        copy
    }
}
