//! Making a fresh machine ready before anything builds or boots: the pinned Rust toolchain
//! with every target and component `rust-toolchain.toml` names, and the host packages each
//! command needs (QEMU, Debian's busybox-static, …).
//!
//! Why here and not in CI: the README's two commands are the contract. A new user on a
//! fresh Debian machine runs `cargo xtask run` or `cargo xtask test` and nothing else, so
//! each command sets up what it needs, prints a line for every step that takes time, and
//! names the exact command to run where it cannot act itself (not root, not Debian, no
//! rustup). `.ci/run` calls `cargo xtask test` alone, so every CI run proves this path.

mod packages;
mod toolchain;

use anyhow::Result;

pub use packages::{
    BASH_STATIC, BUSYBOX, CONTAINERD, CRUN, CTR, GO, HostPackage, MUSL_GCC, PODMAN, RUNC, TMUX,
    ensure_packages,
};
pub use toolchain::ensure_toolchain;

/// What `cargo xtask run` needs: the toolchain and QEMU. Debian's busybox-static is
/// optional for it (the default bundle leaves `/bin/busybox` out with a note).
pub fn for_run() -> Result<()> {
    ensure_toolchain()?;
    ensure_packages(&[HostPackage::Qemu])
}

/// What `cargo xtask build` needs: the toolchain alone.
pub fn for_build() -> Result<()> {
    ensure_toolchain()
}

/// What `cargo xtask test` needs: the toolchain, QEMU, and the static busybox and bash the
/// userland boot tests run in the sandbox and on the host to compare their output. It also
/// wants Go and musl-gcc for the thread tests' Go and C programs; where they cannot be
/// installed, those boot tests are reported skipped (see `guest::native`); likewise tmux,
/// the terminal of the interactive shell test.
pub fn for_test() -> Result<()> {
    ensure_toolchain()?;
    ensure_packages(&[
        HostPackage::Qemu,
        HostPackage::BusyboxStatic,
        HostPackage::BashStatic,
    ])?;
    if let Err(error) = ensure_packages(&[HostPackage::Go, HostPackage::MuslTools]) {
        eprintln!(
            "xtask: {error:#}\nxtask: the boot tests built from Go and C sources will be reported skipped"
        );
    }
    if let Err(error) = ensure_packages(&[HostPackage::Tmux]) {
        eprintln!(
            "xtask: {error:#}\nxtask: the interactive terminal test will be reported skipped"
        );
    }
    if let Err(error) = ensure_packages(&CONTAINER_TOOLS) {
        eprintln!("xtask: {error:#}\nxtask: the OCI runtime's tests will be reported skipped");
    }
    Ok(())
}

/// podman, containerd, runc and crun: what the OCI runtime's tests and bench drive it with
/// and compare it to (skipped, with the reason, where they cannot be installed).
pub const CONTAINER_TOOLS: [HostPackage; 4] = [
    HostPackage::Podman,
    HostPackage::Containerd,
    HostPackage::Runc,
    HostPackage::Crun,
];

/// What `cargo xtask bench` needs: as `test`, plus `xz` to unpack the Linux guest's kernel
/// (the reference the figures are compared with).
pub fn for_bench() -> Result<()> {
    ensure_toolchain()?;
    ensure_packages(&[
        HostPackage::Qemu,
        HostPackage::BusyboxStatic,
        HostPackage::Xz,
    ])
}

/// What `cargo xtask fuzz` needs: the toolchain and a C++ compiler for libFuzzer.
pub fn for_fuzz() -> Result<()> {
    ensure_toolchain()?;
    ensure_packages(&[HostPackage::CxxCompiler])
}
