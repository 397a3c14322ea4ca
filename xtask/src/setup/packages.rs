//! Host packages the commands need, installed with apt-get when we may (root on
//! Debian/Ubuntu) and otherwise named in the exact command to run.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::host;
use crate::qemu::QEMU_BINARY;

/// The static busybox the userland boot tests and the Linux guest's initramfs use.
pub const BUSYBOX: &str = "/bin/busybox";
/// Debian's static bash, which the userland boot tests run in the sandbox and on the host.
pub const BASH_STATIC: &str = "/bin/bash-static";
/// The Go toolchain's command and musl's C compiler wrapper, looked up in `PATH`.
pub const GO: &str = "go";
pub const MUSL_GCC: &str = "musl-gcc";
pub const TMUX: &str = "tmux";
/// The container tools of the runtime's tests and bench, looked up in `PATH`.
pub const PODMAN: &str = "podman";
pub const CONTAINERD: &str = "containerd";
pub const CTR: &str = "ctr";
pub const RUNC: &str = "runc";
pub const CRUN: &str = "crun";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostPackage {
    /// `qemu-system-x86_64` boots the kernel.
    Qemu,
    /// `/bin/busybox` as a static ELF: it runs in the sandbox (which runs static programs
    /// only, so far) and on the host, and the two outputs are compared. Debian's plain
    /// `busybox` package is dynamically linked; busybox-static replaces it.
    BusyboxStatic,
    /// `xz` unpacks the Linux guest's kernel for the benchmarks' reference figures.
    Xz,
    /// `/bin/bash-static`: a second real shell for the process tests.
    BashStatic,
    /// A C++ compiler: `libfuzzer-sys` builds libFuzzer from its C++ sources for the fuzz
    /// targets (`cargo xtask fuzz`).
    CxxCompiler,
    /// `go` (Debian's golang-go): builds the static Go program of the thread tests.
    Go,
    /// `musl-gcc` (Debian's musl-tools): builds the static C programs of the thread tests.
    MuslTools,
    /// `mmdebstrap`: builds the Debian root filesystems (`cargo xtask rootfs debian`, the
    /// Debian boot tests, `bench images`).
    Mmdebstrap,
    /// `tmux`: the terminal the interactive boot test types into (`cargo xtask run -it`).
    Tmux,
    /// The container tools the runtime's tests drive `sandbox-runtime` with (issue 16):
    /// podman (with conmon), containerd (with `ctr` and its runc shim), and runc and crun,
    /// the runtimes its answers and speed are compared with.
    Podman,
    Containerd,
    Runc,
    Crun,
}

impl HostPackage {
    pub fn debian_name(self) -> &'static str {
        match self {
            HostPackage::Qemu => "qemu-system-x86",
            HostPackage::BusyboxStatic => "busybox-static",
            HostPackage::Xz => "xz-utils",
            HostPackage::BashStatic => "bash-static",
            HostPackage::CxxCompiler => "g++",
            HostPackage::Go => "golang-go",
            HostPackage::MuslTools => "musl-tools",
            HostPackage::Mmdebstrap => "mmdebstrap",
            HostPackage::Tmux => "tmux",
            HostPackage::Podman => "podman",
            HostPackage::Containerd => "containerd",
            HostPackage::Runc => "runc",
            HostPackage::Crun => "crun",
        }
    }

    fn purpose(self) -> &'static str {
        match self {
            HostPackage::Qemu => "QEMU boots the kernel",
            HostPackage::BusyboxStatic => "a static /bin/busybox for the userland tests",
            HostPackage::Xz => "xz unpacks the Linux guest's kernel",
            HostPackage::BashStatic => "a static bash for the process tests",
            HostPackage::CxxCompiler => "a C++ compiler builds libFuzzer for the fuzz targets",
            HostPackage::Go => "go builds the Go program of the thread tests",
            HostPackage::MuslTools => "musl-gcc builds the C programs of the thread tests",
            HostPackage::Mmdebstrap => "mmdebstrap builds Debian root filesystems",
            HostPackage::Tmux => "tmux is the terminal of the interactive shell test",
            HostPackage::Podman => "podman runs containers with the OCI runtime in its tests",
            HostPackage::Containerd => {
                "containerd runs containers with the OCI runtime in its tests"
            }
            HostPackage::Runc => "runc is the OCI runtime's reference in its tests and bench",
            HostPackage::Crun => "crun is compared with the OCI runtime in its bench",
        }
    }

    pub fn is_present(self) -> bool {
        match self {
            HostPackage::Qemu => host::find_in_path(QEMU_BINARY).is_some(),
            HostPackage::BusyboxStatic => is_static_elf(Path::new(BUSYBOX)),
            HostPackage::Xz => host::find_in_path("xz").is_some(),
            HostPackage::BashStatic => is_static_elf(Path::new(BASH_STATIC)),
            // The `cc` crate's default C++ compiler on Linux, or the one CXX names.
            HostPackage::CxxCompiler => std::env::var_os("CXX").map_or_else(
                || host::find_in_path("c++").is_some(),
                |cxx| !cxx.is_empty(),
            ),
            HostPackage::Go => host::find_in_path(GO).is_some(),
            HostPackage::MuslTools => host::find_in_path(MUSL_GCC).is_some(),
            HostPackage::Mmdebstrap => host::find_in_path("mmdebstrap").is_some(),
            HostPackage::Tmux => host::find_in_path(TMUX).is_some(),
            HostPackage::Podman => host::find_in_path(PODMAN).is_some(),
            HostPackage::Containerd => {
                host::find_in_path(CONTAINERD).is_some() && host::find_in_path(CTR).is_some()
            }
            HostPackage::Runc => host::find_in_path(RUNC).is_some(),
            HostPackage::Crun => host::find_in_path(CRUN).is_some(),
        }
    }
}

/// Installs whichever of `packages` are missing, in one apt-get call with a progress line;
/// or fails naming the command to run.
pub fn ensure_packages(packages: &[HostPackage]) -> Result<()> {
    let missing: Vec<HostPackage> = packages
        .iter()
        .copied()
        .filter(|package| !package.is_present())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing
        .iter()
        .map(|package| package.debian_name())
        .collect();
    let purposes: Vec<&str> = missing.iter().map(|package| package.purpose()).collect();
    if !host::is_debian_like() {
        bail!(
            "missing {} ({}); this is not a Debian-like host, so install them with your \
             package manager (QEMU's x86_64 system emulator; busybox as a static binary at {BUSYBOX})",
            names.join(", "),
            purposes.join("; ")
        );
    }
    if !host::is_root() {
        bail!(
            "missing {} ({}); install with:\n    sudo apt-get install -y {}",
            names.join(", "),
            purposes.join("; "),
            names.join(" ")
        );
    }
    eprintln!(
        "xtask: installing {} with apt-get ({}); a minute or two on a fresh machine…",
        names.join(", "),
        purposes.join("; ")
    );
    let started = Instant::now();
    let mut install = vec!["install", "-y", "-q"];
    install.extend(&names);
    if !apt_get(&install)? {
        // A fresh machine's package lists are often empty or stale.
        eprintln!("xtask: apt-get install failed; running apt-get update and trying again…");
        if !apt_get(&["update", "-q"])? || !apt_get(&install)? {
            bail!(
                "could not install {} with apt-get (see its output above)",
                names.join(" ")
            );
        }
    }
    let still_missing: Vec<&str> = missing
        .iter()
        .filter(|package| !package.is_present())
        .map(|package| package.debian_name())
        .collect();
    if !still_missing.is_empty() {
        bail!(
            "apt-get installed {} but they are still not usable ({} missing or not static)",
            names.join(" "),
            still_missing.join(", ")
        );
    }
    eprintln!(
        "xtask: installed {} in {:.0} s",
        names.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn apt_get(args: &[&str]) -> Result<bool> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    Ok(status.success())
}

/// An ELF with no program interpreter (`PT_INTERP`): it runs without a dynamic loader.
fn is_static_elf(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| elf_interpreter(&bytes) == Some(false))
}

/// Whether a 64-bit ELF names a program interpreter; `None` if `bytes` is not one.
fn elf_interpreter(bytes: &[u8]) -> Option<bool> {
    use object::elf::{FileHeader64, PT_INTERP};
    use object::read::elf::{FileHeader, ProgramHeader};
    let header = FileHeader64::<object::Endianness>::parse(bytes).ok()?;
    let endian = header.endian().ok()?;
    let headers = header.program_headers(endian, bytes).ok()?;
    Some(headers.iter().any(|ph| ph.p_type(endian) == PT_INTERP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_binary_is_an_elf_we_can_read() {
        // The test binary itself: a host ELF (dynamic or static-PIE), never "not an ELF".
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(elf_interpreter(&me).is_some());
    }

    #[test]
    fn a_non_elf_is_neither_static_nor_dynamic() {
        assert_eq!(elf_interpreter(b"#!/bin/sh\necho hi\n"), None);
        assert_eq!(elf_interpreter(&[]), None);
        assert!(!is_static_elf(Path::new("/nonexistent/busybox")));
    }

    /// A minimal little-endian ELF64 executable: its header and one program header.
    fn elf_with_program_header(p_type: u32) -> Vec<u8> {
        let mut elf = vec![0u8; 64 + 56];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2; // ELFCLASS64
        elf[5] = 1; // little-endian
        elf[6] = 1; // EV_CURRENT
        elf[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        elf[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        elf[20..24].copy_from_slice(&1u32.to_le_bytes());
        elf[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        elf[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        elf[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        elf[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        elf[64..68].copy_from_slice(&p_type.to_le_bytes());
        elf
    }

    #[test]
    fn pt_interp_makes_an_elf_dynamic() {
        assert_eq!(
            elf_interpreter(&elf_with_program_header(object::elf::PT_INTERP)),
            Some(true)
        );
        assert_eq!(
            elf_interpreter(&elf_with_program_header(object::elf::PT_LOAD)),
            Some(false)
        );
    }
}
