//! The initial user stack, laid out as Linux's `create_elf_tables` does, so libc's start-up
//! code finds `argc`, `argv`, `envp` and the auxiliary vector where it expects them.
//!
//! From the top down: the executable's path (`AT_EXECFN`), the environment strings, the
//! argument strings, the platform string, 16 random bytes (`AT_RANDOM`); then, 16-byte
//! aligned at the bottom: `argc`, `argv[]` + NULL, `envp[]` + NULL, the auxv pairs + AT_NULL.

use alloc::vec::Vec;

/// The keys, where the stack's users have always found them.
pub use super::auxv;

/// Most bytes of argument and environment strings accepted (Linux allows a quarter of the
/// stack limit; with the default 8 MiB stack that is 2 MiB).
pub const MAX_STRINGS: usize = 2 << 20;
const PLATFORM: &[u8] = b"x86_64\0";

pub struct StackRequest<'a> {
    /// Address just past the stack's highest byte.
    pub top: u64,
    pub argv: &'a [&'a [u8]],
    pub envp: &'a [&'a [u8]],
    /// The path exec was given.
    pub execfn: &'a [u8],
    pub random: [u8; 16],
    /// The auxiliary vector in its order ([`auxv::vector`]), without `AT_NULL`. The
    /// entries that point into the stack (`AT_PLATFORM`, `AT_RANDOM`, `AT_EXECFN`) get
    /// their addresses here, wherever they are in the list; one that is missing is added
    /// at the end.
    pub aux: &'a [(u64, u64)],
}

#[derive(Debug, PartialEq, Eq)]
pub struct InitialStack {
    /// The user stack pointer: where `argc` is.
    pub sp: u64,
    /// The bytes of `[sp, top)`.
    pub image: Vec<u8>,
    /// Where the argument strings and the environment strings lie, each string with its
    /// NUL (Linux's `arg_start..arg_end`, `env_start..env_end`: `/proc/<pid>/cmdline`).
    pub args: core::ops::Range<u64>,
    pub env: core::ops::Range<u64>,
    /// The auxiliary vector as written, `AT_NULL` last (`/proc/<pid>/auxv`).
    pub auxv: Vec<(u64, u64)>,
}

/// `E2BIG`: the strings do not fit.
#[derive(Debug, PartialEq, Eq)]
pub struct TooBig;

pub fn build(request: &StackRequest<'_>) -> Result<InitialStack, TooBig> {
    let string_bytes: usize = request
        .argv
        .iter()
        .chain(request.envp)
        .map(|s| s.len() + 1)
        .sum::<usize>()
        + request.execfn.len()
        + 1;
    if string_bytes > MAX_STRINGS
        || request
            .argv
            .iter()
            .chain(request.envp)
            .any(|s| s.contains(&0))
    {
        return Err(TooBig);
    }
    // Strings, top down, remembering where each starts.
    let mut cursor = request.top;
    let mut strings: Vec<(u64, &[u8])> = Vec::new();
    let mut place = |bytes: &[u8], with_nul: bool| -> u64 {
        cursor -= bytes.len() as u64 + u64::from(with_nul);
        cursor
    };
    let execfn_at = place(request.execfn, true);
    strings.push((execfn_at, request.execfn));
    let mut envp_at = Vec::with_capacity(request.envp.len());
    for env in request.envp.iter().rev() {
        let at = place(env, true);
        strings.push((at, env));
        envp_at.push(at);
    }
    envp_at.reverse();
    let mut argv_at = Vec::with_capacity(request.argv.len());
    for arg in request.argv.iter().rev() {
        let at = place(arg, true);
        strings.push((at, arg));
        argv_at.push(at);
    }
    argv_at.reverse();
    let platform_at = place(PLATFORM, false);
    let random_at = place(&request.random, false);

    let mut aux: Vec<(u64, u64)> = request.aux.to_vec();
    for (key, at) in [
        (auxv::AT_RANDOM, random_at),
        (auxv::AT_EXECFN, execfn_at),
        (auxv::AT_PLATFORM, platform_at),
    ] {
        match aux.iter_mut().find(|(k, _)| *k == key) {
            Some(pair) => pair.1 = at,
            None => aux.push((key, at)),
        }
    }
    aux.push((auxv::AT_NULL, 0));
    let words = 1 + (argv_at.len() + 1) + (envp_at.len() + 1) + 2 * aux.len();
    let sp = (random_at - words as u64 * 8) & !15;

    let mut image = alloc::vec![0u8; (request.top - sp) as usize];
    let mut put = |address: u64, bytes: &[u8]| {
        let offset = (address - sp) as usize;
        image[offset..offset + bytes.len()].copy_from_slice(bytes);
    };
    for (at, bytes) in strings {
        put(at, bytes); // the NUL is already there: the image starts zeroed
    }
    put(platform_at, PLATFORM);
    put(random_at, &request.random);
    let mut word_at = sp;
    let mut put_word = |value: u64| {
        put(word_at, &value.to_le_bytes());
        word_at += 8;
    };
    put_word(argv_at.len() as u64);
    argv_at.iter().chain(&[0]).for_each(|&p| put_word(p));
    envp_at.iter().chain(&[0]).for_each(|&p| put_word(p));
    for &(key, value) in &aux {
        put_word(key);
        put_word(value);
    }
    let env_start = envp_at.first().copied().unwrap_or(execfn_at);
    let args_start = argv_at.first().copied().unwrap_or(env_start);
    Ok(InitialStack {
        sp,
        image,
        args: args_start..env_start,
        env: env_start..execfn_at,
        auxv: aux,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: u64 = 0x7fff_ffff_f000;

    fn word(stack: &InitialStack, address: u64) -> u64 {
        let offset = (address - stack.sp) as usize;
        u64::from_le_bytes(stack.image[offset..offset + 8].try_into().unwrap())
    }

    fn c_string(stack: &InitialStack, address: u64) -> Vec<u8> {
        let offset = (address - stack.sp) as usize;
        stack.image[offset..]
            .iter()
            .take_while(|&&b| b != 0)
            .copied()
            .collect()
    }

    fn build_example() -> InitialStack {
        build(&StackRequest {
            top: TOP,
            argv: &[b"/bin/busybox", b"ls", b"-la"],
            envp: &[b"PATH=/bin", b"HOME=/root"],
            execfn: b"/bin/busybox",
            random: [7; 16],
            aux: &[(auxv::AT_PAGESZ, 4096), (auxv::AT_ENTRY, 0x401000)],
        })
        .unwrap()
    }

    #[test]
    fn the_argument_and_environment_ranges_hold_the_strings_nul_ended() {
        let stack = build_example();
        let bytes = |range: &core::ops::Range<u64>| {
            let start = (range.start - stack.sp) as usize;
            stack.image[start..start + (range.end - range.start) as usize].to_vec()
        };
        assert_eq!(bytes(&stack.args), b"/bin/busybox\0ls\0-la\0");
        assert_eq!(bytes(&stack.env), b"PATH=/bin\0HOME=/root\0");
    }

    #[test]
    fn argc_argv_envp_and_auxv_are_where_libc_looks() {
        let stack = build_example();
        assert_eq!(stack.sp % 16, 0);
        assert_eq!(stack.sp + stack.image.len() as u64, TOP);
        let sp = stack.sp;
        assert_eq!(word(&stack, sp), 3);
        let argv: Vec<Vec<u8>> = (0..3)
            .map(|i| c_string(&stack, word(&stack, sp + 8 + 8 * i)))
            .collect();
        assert_eq!(
            argv,
            [b"/bin/busybox".to_vec(), b"ls".to_vec(), b"-la".to_vec()]
        );
        assert_eq!(word(&stack, sp + 32), 0);
        assert_eq!(c_string(&stack, word(&stack, sp + 40)), b"PATH=/bin");
        assert_eq!(c_string(&stack, word(&stack, sp + 48)), b"HOME=/root");
        assert_eq!(word(&stack, sp + 56), 0);
        let mut aux = Vec::new();
        let mut at = sp + 64;
        loop {
            let (key, value) = (word(&stack, at), word(&stack, at + 8));
            aux.push((key, value));
            at += 16;
            if key == auxv::AT_NULL {
                break;
            }
        }
        let find = |key| {
            aux.iter()
                .find(|(k, _)| *k == key)
                .map(|&(_, v)| v)
                .unwrap()
        };
        assert_eq!(find(auxv::AT_PAGESZ), 4096);
        assert_eq!(find(auxv::AT_ENTRY), 0x401000);
        assert_eq!(c_string(&stack, find(auxv::AT_PLATFORM)), b"x86_64");
        assert_eq!(c_string(&stack, find(auxv::AT_EXECFN)), b"/bin/busybox");
        let random = find(auxv::AT_RANDOM);
        assert_eq!(&stack.image[(random - sp) as usize..][..16], &[7; 16]);
        assert_eq!(aux.last(), Some(&(auxv::AT_NULL, 0)));
    }

    /// The whole vector of an exec, in Linux's order: the stack holds it in that order,
    /// with the three addresses filled in, and the returned copy is what is on the stack.
    #[test]
    fn a_full_vector_keeps_its_order_and_gets_its_addresses() {
        let input = auxv::AuxInput {
            phdr: 0x5555_5555_4040,
            phent: 56,
            phnum: 13,
            entry: 0x5555_5555_5000,
            base: 0x7fff_efff_0000,
            min_signal_stack: 1760,
            ..auxv::AuxInput::default()
        };
        let pairs = auxv::vector(&input);
        let stack = build(&StackRequest {
            top: TOP,
            argv: &[b"/bin/true"],
            envp: &[],
            execfn: b"/bin/true",
            random: [9; 16],
            aux: &pairs,
        })
        .unwrap();
        let keys: Vec<u64> = stack.auxv.iter().map(|&(key, _)| key).collect();
        let mut expected: Vec<u64> = pairs.iter().map(|&(key, _)| key).collect();
        expected.push(auxv::AT_NULL);
        assert_eq!(keys, expected);
        // argc, argv[0], NULL, envp's NULL, then the pairs.
        let mut at = stack.sp + 8 * 4;
        for &(key, value) in &stack.auxv {
            assert_eq!((word(&stack, at), word(&stack, at + 8)), (key, value));
            at += 16;
        }
        let find = |key| stack.auxv.iter().find(|(k, _)| *k == key).unwrap().1;
        assert_eq!(c_string(&stack, find(auxv::AT_EXECFN)), b"/bin/true");
        assert_eq!(c_string(&stack, find(auxv::AT_PLATFORM)), b"x86_64");
        assert_eq!(
            &stack.image[(find(auxv::AT_RANDOM) - stack.sp) as usize..][..16],
            &[9; 16]
        );
        assert_eq!(find(auxv::AT_BASE), 0x7fff_efff_0000);
    }

    #[test]
    fn execfn_is_the_highest_string() {
        let stack = build_example();
        assert_eq!(&stack.image[stack.image.len() - 13..], b"/bin/busybox\0");
    }

    #[test]
    fn too_many_strings_or_embedded_nul_is_e2big() {
        let huge = alloc::vec![b'x'; MAX_STRINGS];
        let request = StackRequest {
            top: TOP,
            argv: &[&huge],
            envp: &[],
            execfn: b"/x",
            random: [0; 16],
            aux: &[],
        };
        assert_eq!(build(&request), Err(TooBig));
        let request = StackRequest {
            top: TOP,
            argv: &[b"a\0b"],
            envp: &[],
            execfn: b"/x",
            random: [0; 16],
            aux: &[],
        };
        assert_eq!(build(&request), Err(TooBig));
    }
}
