//! Static Linux programs for the guest, built for x86_64-unknown-linux-musl: the default
//! bundle's init (`qemu/bundle/init`) and the boot tests' programs (`xtask/guest-tests`).
//! Each is its own cargo workspace (the root one builds for the host and the kernel
//! target); they share `TARGET/guest` as their target directory. The thread tests' C and
//! Go programs are built by `native`.

pub mod native;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cargo::{cargo_command, workspace_root};

pub const GUEST_TARGET: &str = "x86_64-unknown-linux-musl";

const INIT_PACKAGE: &str = "qemu/bundle/init";
const TEST_PACKAGE: &str = "xtask/guest-tests";

/// The boot tests' programs (`xtask/guest-tests`), as built.
#[derive(Debug, Clone)]
pub struct TestPrograms {
    pub fs_test: PathBuf,
    pub null_deref: PathBuf,
    pub efault: PathBuf,
    pub timeouts: PathBuf,
    pub processes: PathBuf,
    pub pipes: PathBuf,
    pub events: PathBuf,
    pub unix_sockets: PathBuf,
    pub futex: PathBuf,
    pub file_locks: PathBuf,
    pub shared_memory: PathBuf,
    pub file_mappings: PathBuf,
    pub containment: PathBuf,
    pub syscall_bench: PathBuf,
    pub process_bench: PathBuf,
    pub syscall_fuzz: PathBuf,
    pub soak: PathBuf,
    pub threads: PathBuf,
    pub tokio_check: PathBuf,
    pub unix_socket_workloads: PathBuf,
    pub runtime_calls: PathBuf,
    pub thread_bench: PathBuf,
    pub file_calls: PathBuf,
    pub exec_bench: PathBuf,
    pub smp_check: PathBuf,
}

/// Builds the default bundle's init; returns the path of the static binary.
pub fn build_init(target_dir: &Path) -> Result<PathBuf> {
    let dir = build(target_dir, INIT_PACKAGE)?;
    Ok(dir.join("init"))
}

pub fn build_test_programs(target_dir: &Path) -> Result<TestPrograms> {
    let dir = build(target_dir, TEST_PACKAGE)?;
    Ok(TestPrograms {
        fs_test: dir.join("fs-test"),
        null_deref: dir.join("null-deref"),
        efault: dir.join("efault"),
        timeouts: dir.join("timeouts"),
        processes: dir.join("processes"),
        pipes: dir.join("pipes"),
        events: dir.join("events"),
        unix_sockets: dir.join("unix-sockets"),
        futex: dir.join("futex"),
        file_locks: dir.join("file-locks"),
        shared_memory: dir.join("shared-memory"),
        file_mappings: dir.join("file-mappings"),
        containment: dir.join("containment"),
        syscall_bench: dir.join("syscall-bench"),
        process_bench: dir.join("process-bench"),
        syscall_fuzz: dir.join("syscall-fuzz"),
        soak: dir.join("soak"),
        threads: dir.join("threads"),
        tokio_check: dir.join("tokio-check"),
        unix_socket_workloads: dir.join("unix-socket-workloads"),
        runtime_calls: dir.join("runtime-calls"),
        thread_bench: dir.join("thread-bench"),
        file_calls: dir.join("file-calls"),
        exec_bench: dir.join("exec-bench"),
        smp_check: dir.join("smp-check"),
    })
}

/// `cargo build --release` of one package for the guest target; returns the directory its
/// binaries land in.
fn build(target_dir: &Path, package: &str) -> Result<PathBuf> {
    eprintln!("xtask: building {package} ({GUEST_TARGET})…");
    let started = Instant::now();
    let guest_target_dir = target_dir.join("guest");
    let manifest = workspace_root().join(package).join("Cargo.toml");
    let status = cargo_command()
        .args([
            "build",
            "--release",
            "--target",
            GUEST_TARGET,
            "--manifest-path",
        ])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &guest_target_dir)
        .status()
        .with_context(|| format!("running cargo build for {package}"))?;
    if !status.success() {
        bail!("building {package} for {GUEST_TARGET} failed ({status})");
    }
    eprintln!(
        "xtask: built {package} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(guest_target_dir.join(GUEST_TARGET).join("release"))
}
