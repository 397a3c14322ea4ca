//! The auxiliary vector: the `(key, value)` pairs exec leaves above `envp` for the C
//! library and the dynamic loader, in the order Linux's `create_elf_tables` writes them
//! on x86_64 (`ARCH_DLINFO` first), and as `/proc/<pid>/auxv` shows them (the pairs as
//! native words, `AT_NULL` included).

use alloc::vec::Vec;

/// Keys (`<linux/auxvec.h>`, `<asm/auxvec.h>`).
pub const AT_NULL: u64 = 0;
pub const AT_PHDR: u64 = 3;
pub const AT_PHENT: u64 = 4;
pub const AT_PHNUM: u64 = 5;
pub const AT_PAGESZ: u64 = 6;
pub const AT_BASE: u64 = 7;
pub const AT_FLAGS: u64 = 8;
pub const AT_ENTRY: u64 = 9;
pub const AT_UID: u64 = 11;
pub const AT_EUID: u64 = 12;
pub const AT_GID: u64 = 13;
pub const AT_EGID: u64 = 14;
pub const AT_PLATFORM: u64 = 15;
pub const AT_HWCAP: u64 = 16;
pub const AT_CLKTCK: u64 = 17;
pub const AT_SECURE: u64 = 23;
pub const AT_RANDOM: u64 = 25;
pub const AT_HWCAP2: u64 = 26;
pub const AT_EXECFN: u64 = 31;
pub const AT_SYSINFO_EHDR: u64 = 33;
pub const AT_MINSIGSTKSZ: u64 = 51;

/// `USER_HZ`, the unit of `times(2)` (`AT_CLKTCK`).
const CLOCK_TICKS: u64 = 100;
const PAGE_SIZE: u64 = vfs_core::PAGE_SIZE as u64;

/// What the vector says about one exec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuxInput {
    /// Where the vDSO's ELF header is mapped (`AT_SYSINFO_EHDR`), if there is one.
    pub vdso: Option<u64>,
    /// The largest signal frame the kernel builds ([`min_signal_stack_size`]).
    pub min_signal_stack: u64,
    /// CPUID leaf 1's EDX (`AT_HWCAP`) and the kernel's `HWCAP2_*` bits.
    pub hwcap: u64,
    pub hwcap2: u64,
    /// The program's (never the interpreter's) program headers and entry point.
    pub phdr: u64,
    pub phent: u64,
    pub phnum: u64,
    pub entry: u64,
    /// Where the interpreter was loaded; 0 for a program without one.
    pub base: u64,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    /// A set-id or capability-raising exec (the loader then ignores `LD_*` variables).
    pub secure: bool,
}

/// The pairs in Linux's order, `AT_NULL` not included. The three that point into the
/// stack (`AT_RANDOM`, `AT_EXECFN`, `AT_PLATFORM`) are 0 here: the stack builder
/// ([`super::stack::build`]) puts their addresses in.
pub fn vector(input: &AuxInput) -> Vec<(u64, u64)> {
    let mut pairs = Vec::with_capacity(22);
    if let Some(vdso) = input.vdso {
        pairs.push((AT_SYSINFO_EHDR, vdso));
    }
    pairs.extend([
        (AT_MINSIGSTKSZ, input.min_signal_stack),
        (AT_HWCAP, input.hwcap),
        (AT_PAGESZ, PAGE_SIZE),
        (AT_CLKTCK, CLOCK_TICKS),
        (AT_PHDR, input.phdr),
        (AT_PHENT, input.phent),
        (AT_PHNUM, input.phnum),
        (AT_BASE, input.base),
        (AT_FLAGS, 0),
        (AT_ENTRY, input.entry),
        (AT_UID, u64::from(input.uid)),
        (AT_EUID, u64::from(input.euid)),
        (AT_GID, u64::from(input.gid)),
        (AT_EGID, u64::from(input.egid)),
        (AT_SECURE, u64::from(input.secure)),
        (AT_RANDOM, 0),
        (AT_HWCAP2, input.hwcap2),
        (AT_EXECFN, 0),
        (AT_PLATFORM, 0),
    ]);
    pairs
}

/// `/proc/<pid>/auxv`: each pair as two little-endian words, up to and with `AT_NULL`.
pub fn to_bytes(pairs: &[(u64, u64)]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity((pairs.len() + 1) * 16);
    for &(key, value) in pairs.iter().take_while(|(key, _)| *key != AT_NULL) {
        bytes.extend_from_slice(&key.to_le_bytes());
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    bytes.extend_from_slice(&[0; 16]);
    bytes
}

/// `AT_MINSIGSTKSZ`: Linux's `get_sigframe_size()` for a signal frame whose `fpstate`
/// takes `fpstate_size` bytes (the XSAVE area of the components in use plus
/// `FP_XSTATE_MAGIC2`; FXSAVE's 512 without XSAVE). Linux (built with 32-bit emulation, as
/// distributions are) sizes the worst case: the larger `sigframe_ia32` (732 bytes) and
/// its alignment padding (15), the state, the legacy `fregs_state` (112) and the XSAVE
/// area's alignment padding (63), rounded up to 16. With AVX-512 and PKRU on AMD
/// (2,440 bytes of XSAVE) that is the 3,376 a Linux host shows.
pub fn min_signal_stack_size(fpstate_size: u64) -> u64 {
    const SIGFRAME_IA32: u64 = 732;
    const FRAME_PADDING: u64 = 15;
    const FREGS_STATE: u64 = 112;
    const XSAVE_PADDING: u64 = 63;
    (SIGFRAME_IA32 + FRAME_PADDING + fpstate_size + FREGS_STATE + XSAVE_PADDING)
        .next_multiple_of(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AuxInput {
        AuxInput {
            vdso: Some(0x7fff_f7fc_1000),
            min_signal_stack: 2048,
            hwcap: 0x178b_fbff,
            hwcap2: 2,
            phdr: 0x5555_5555_4040,
            phent: 56,
            phnum: 13,
            entry: 0x5555_5555_63d0,
            base: 0x7fff_f7fc_3000,
            uid: 1000,
            euid: 1000,
            gid: 100,
            egid: 100,
            secure: false,
        }
    }

    /// The order `LD_SHOW_AUXV=1 /bin/true` prints on a Linux host (6.x without the
    /// rseq entries, which this kernel does not offer).
    #[test]
    fn pairs_come_in_linuxs_order() {
        let keys: Vec<u64> = vector(&input()).iter().map(|&(key, _)| key).collect();
        assert_eq!(
            keys,
            [
                AT_SYSINFO_EHDR,
                AT_MINSIGSTKSZ,
                AT_HWCAP,
                AT_PAGESZ,
                AT_CLKTCK,
                AT_PHDR,
                AT_PHENT,
                AT_PHNUM,
                AT_BASE,
                AT_FLAGS,
                AT_ENTRY,
                AT_UID,
                AT_EUID,
                AT_GID,
                AT_EGID,
                AT_SECURE,
                AT_RANDOM,
                AT_HWCAP2,
                AT_EXECFN,
                AT_PLATFORM
            ]
        );
        let without_vdso = vector(&AuxInput {
            vdso: None,
            ..input()
        });
        assert_eq!(without_vdso[0], (AT_MINSIGSTKSZ, 2048));
        assert_eq!(without_vdso.len(), 19);
    }

    #[test]
    fn values_are_the_inputs() {
        let pairs = vector(&input());
        let find = |key| pairs.iter().find(|(k, _)| *k == key).unwrap().1;
        assert_eq!(find(AT_PAGESZ), 4096);
        assert_eq!(find(AT_CLKTCK), 100);
        assert_eq!(find(AT_BASE), 0x7fff_f7fc_3000);
        assert_eq!(find(AT_ENTRY), 0x5555_5555_63d0);
        assert_eq!(find(AT_PHDR), 0x5555_5555_4040);
        assert_eq!(find(AT_UID), 1000);
        assert_eq!(find(AT_EGID), 100);
        assert_eq!(find(AT_SECURE), 0);
        assert_eq!(find(AT_HWCAP2), 2);
    }

    #[test]
    fn proc_auxv_bytes_end_with_the_null_pair() {
        let bytes = to_bytes(&[(AT_PAGESZ, 4096), (AT_BASE, 0x1000), (AT_NULL, 0)]);
        assert_eq!(bytes.len(), 48);
        assert_eq!(&bytes[..8], &AT_PAGESZ.to_le_bytes());
        assert_eq!(&bytes[8..16], &4096u64.to_le_bytes());
        assert_eq!(&bytes[32..], &[0; 16]);
        // A list without its AT_NULL gets one.
        assert_eq!(to_bytes(&[(AT_PAGESZ, 4096)]).len(), 32);
    }

    #[test]
    fn min_signal_stack_size_is_linuxs_formula() {
        // AMD with AVX-512 and PKRU: XSAVE 2,440 bytes, + MAGIC2: the host's 3,376.
        assert_eq!(min_signal_stack_size(2440 + 4), 3376);
        // x87, SSE and AVX (832 bytes of XSAVE).
        assert_eq!(min_signal_stack_size(832 + 4), 1760);
    }
}
