//! The fuzz targets `cargo xtask fuzz` knows, and how each one is run.

use std::path::PathBuf;

use crate::cargo::workspace_root;

/// One fuzz target: its name on the command line and what runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub name: &'static str,
    /// What it feeds, and to which code (one line for `--list`).
    pub about: &'static str,
    pub engine: Engine,
}

/// How a target is run. Every target today is a libFuzzer binary of the `xtask/fuzz`
/// crate; a target of another kind (a guest program that throws system calls at the
/// kernel under QEMU, say) gets its own variant and runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    LibFuzzer(LibFuzzerTarget),
    /// The guest program `syscall-fuzz` as a sandbox's init (`super::syscalls`).
    GuestSyscalls,
}

/// A `[[bin]]` of `xtask/fuzz` built around `libfuzzer_sys::fuzz_target!`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LibFuzzerTarget {
    /// The binary's name (its seeds are in `xtask/fuzz/seeds/<bin>`).
    pub bin: &'static str,
    /// A libFuzzer dictionary in `xtask/fuzz/dicts/`.
    pub dictionary: Option<&'static str>,
    /// Longest input libFuzzer makes: past what the code under test ever reads, and no
    /// further, so mutations are not spent on bytes nothing looks at.
    pub max_len: usize,
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "spec",
        about: "OCI config.json → kernel::container spec parser and mount plan compiler",
        engine: Engine::LibFuzzer(LibFuzzerTarget {
            bin: "spec",
            dictionary: Some("spec.dict"),
            max_len: 16 * 1024,
        }),
    },
    Target {
        name: "elf",
        about: "an executable file → kernel::exec::elf (the ELF loader's header parsing)",
        engine: Engine::LibFuzzer(LibFuzzerTarget {
            bin: "elf",
            dictionary: None,
            max_len: 16 * 1024,
        }),
    },
    Target {
        name: "shebang",
        about: "a file's first bytes → kernel::exec::script (the #! line parser)",
        engine: Engine::LibFuzzer(LibFuzzerTarget {
            bin: "shebang",
            dictionary: None,
            max_len: 512,
        }),
    },
    Target {
        name: "p9-reply",
        about: "one 9P2000.L message → vfs_core::p9::message decoders (replies, requests, dirents)",
        engine: Engine::LibFuzzer(LibFuzzerTarget {
            bin: "p9-reply",
            dictionary: None,
            max_len: 8 * 1024,
        }),
    },
    Target {
        name: "p9-client",
        about: "a hostile 9p server's replies → vfs_core::p9 client and filesystem",
        engine: Engine::LibFuzzer(LibFuzzerTarget {
            bin: "p9-client",
            dictionary: None,
            max_len: 32 * 1024,
        }),
    },
    Target {
        name: "syscalls",
        about: "random system calls (seeded) from a guest program run as the init → the whole kernel under QEMU (--calls N --seed S)",
        engine: Engine::GuestSyscalls,
    },
];

/// The libFuzzer targets, with their binaries.
pub fn libfuzzer_targets() -> impl Iterator<Item = (&'static Target, LibFuzzerTarget)> {
    TARGETS.iter().filter_map(|target| match target.engine {
        Engine::LibFuzzer(libfuzzer) => Some((target, libfuzzer)),
        Engine::GuestSyscalls => None,
    })
}

pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|target| target.name == name)
}

/// The fuzz crate: `xtask/fuzz`.
pub fn fuzz_crate() -> PathBuf {
    workspace_root().join("xtask").join("fuzz")
}

impl LibFuzzerTarget {
    pub fn seeds(&self) -> PathBuf {
        fuzz_crate().join("seeds").join(self.bin)
    }

    pub fn dictionary_path(&self) -> Option<PathBuf> {
        self.dictionary
            .map(|name| fuzz_crate().join("dicts").join(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every target's binary, seeds and dictionary exist in the fuzz crate.
    #[test]
    fn targets_match_the_fuzz_crate() {
        let manifest = std::fs::read_to_string(fuzz_crate().join("Cargo.toml")).unwrap();
        for (target, libfuzzer) in libfuzzer_targets() {
            assert!(
                manifest.contains(&format!("name = \"{}\"", libfuzzer.bin)),
                "{} is not a [[bin]] of xtask/fuzz",
                libfuzzer.bin
            );
            let seeds = std::fs::read_dir(libfuzzer.seeds()).unwrap().count();
            assert!(seeds > 0, "no seeds for {}", target.name);
            if let Some(dictionary) = libfuzzer.dictionary_path() {
                assert!(dictionary.is_file(), "{}", dictionary.display());
            }
        }
        let mut names: Vec<&str> = TARGETS.iter().map(|target| target.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TARGETS.len());
    }
}
