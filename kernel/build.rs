//! Links the kernel with the layout the boot stub expects (boot/linker.ld), and builds the
//! vDSO (kernel/vdso): its source compiled alone into an object, linked by the toolchain's
//! rust-lld into the shared object `OUT_DIR/vdso.so`, which the kernel includes
//! (`kernel/src/exec/vdso.rs`).
//!
//! The vDSO is compiled for `x86_64-unknown-linux-gnu`, the Linux user-mode target it
//! runs as, whose `core` every x86_64 Linux toolchain has: `xtask` links this crate for
//! the host, so this script runs before `cargo xtask` can add `x86_64-unknown-none` on a
//! fresh machine, and must not need it.
use std::path::{Path, PathBuf};
use std::process::Command;

/// Always installed beside an x86_64 Linux host's toolchain (see the module comment).
const VDSO_TARGET: &str = "x86_64-unknown-linux-gnu";

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let script = std::path::Path::new(&manifest_dir).join("../boot/linker.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    println!("cargo:rustc-link-arg-bins=--no-pie");
    build_vdso(&Path::new(&manifest_dir).join("vdso"));
}

/// The vDSO: position independent (it is mapped wherever there is room), no relocations
/// (it is mapped read-only), nothing undefined (`-z defs`: a call into `core` that was
/// not inlined would be one), `DT_HASH` and `DT_GNU_HASH` (musl reads the first, glibc
/// either), the symbol versions of `vdso.map`.
fn build_vdso(dir: &Path) {
    for file in ["vdso.rs", "vvar.rs", "vdso.lds", "vdso.map"] {
        println!("cargo:rerun-if-changed={}", dir.join(file).display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let host = std::env::var("HOST").expect("cargo sets HOST");
    let object = out.join("vdso.o");
    run(Command::new(&rustc)
        .args([
            "--edition",
            "2024",
            "--crate-type",
            "lib",
            "--crate-name",
            "vdso",
        ])
        .arg(format!("--emit=obj={}", object.display()))
        .args(["--target", VDSO_TARGET])
        .args([
            "-C",
            "opt-level=2",
            "-C",
            "panic=abort",
            "-C",
            "relocation-model=pic",
        ])
        .args(["-C", "code-model=small", "-C", "debuginfo=0"])
        .args(["-C", "debug-assertions=off", "-C", "overflow-checks=off"])
        .arg(dir.join("vdso.rs")));
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("running rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    let lld = sysroot.join("lib/rustlib").join(&host).join("bin/rust-lld");
    run(Command::new(&lld)
        .args(["-flavor", "gnu", "-shared", "--hash-style=both"])
        .args([
            "-soname",
            "linux-vdso.so.1",
            "-z",
            "defs",
            "-z",
            "max-page-size=4096",
        ])
        .args(["-z", "noexecstack", "--build-id=none", "--strip-all"])
        .arg("-T")
        .arg(dir.join("vdso.lds"))
        .arg("--version-script")
        .arg(dir.join("vdso.map"))
        .arg("-o")
        .arg(out.join("vdso.so"))
        .arg(&object));
}

fn run(command: &mut Command) {
    let status = command
        .status()
        .unwrap_or_else(|error| panic!("running {command:?}: {error}"));
    assert!(status.success(), "{command:?} failed: {status}");
}
