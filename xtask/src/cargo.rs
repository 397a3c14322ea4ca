//! Cargo invocations: building the kernel, running host tests, finding the target dir.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

pub const KERNEL_TARGET: &str = "x86_64-unknown-none";

/// Crates whose unit tests run on the host. `boot` has nothing to test there; `arch` builds
/// on the host for its portable unit tests (range set, frame allocator) and its doctests,
/// among them the `compile_fail` one for the frame-ownership rule (`arch::paging`).
pub const HOST_TESTED_CRATES: &[&str] = &["vfs-core", "drivers", "arch", "xtask", RUNTIME_PACKAGE];
/// Crates whose library (not binary) is tested on the host: the kernel's binary needs the
/// bare-metal target, its library's portable modules do not.
pub const HOST_TESTED_LIBRARIES: &[&str] = &["kernel"];
/// vfs-core's differential tests against the host's own tmpfs and overlayfs: `#[ignore]`d
/// because they mount; [`host_tests`] runs them (`--include-ignored`) when it can mount
/// both here, and otherwise says how many it skipped and why.
pub const DIFFERENTIAL_TESTS: &[&str] = &["differential_tmpfs", "differential_overlay"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Release,
    Debug,
}

impl Profile {
    pub fn from_debug_flag(debug: bool) -> Self {
        if debug {
            Profile::Debug
        } else {
            Profile::Release
        }
    }

    fn output_dir(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Debug => "debug",
        }
    }
}

pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
}

pub fn cargo_command() -> Command {
    // `cargo xtask` sets CARGO to the cargo that ran us; reuse it so toolchains agree.
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// The workspace's target directory as cargo resolves it (CARGO_TARGET_DIR, config, default).
pub fn target_dir() -> Result<PathBuf> {
    let output = cargo_command()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("parsing cargo metadata")?;
    let dir = metadata["target_directory"]
        .as_str()
        .context("cargo metadata has no target_directory")?;
    Ok(PathBuf::from(dir))
}

/// Builds the kernel and returns the path of its ELF.
pub fn build_kernel(profile: Profile) -> Result<PathBuf> {
    let label = profile.output_dir();
    eprintln!("xtask: building kernel ({label})…");
    let started = Instant::now();
    let mut command = cargo_command();
    command.args(["build", "-p", "kernel", "--target", KERNEL_TARGET]);
    if profile == Profile::Release {
        command.arg("--release");
    }
    let status = command.status().context("running cargo build")?;
    if !status.success() {
        bail!("kernel build failed ({status})");
    }
    let kernel = target_dir()?.join(KERNEL_TARGET).join(label).join("kernel");
    if !kernel.is_file() {
        bail!("cargo built the kernel but {} is missing", kernel.display());
    }
    eprintln!(
        "xtask: built {} in {:.1} s",
        kernel.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(kernel)
}

/// The OCI runtime's package and binary (issue 16).
pub const RUNTIME_PACKAGE: &str = "sandbox-runtime";

/// Builds `sandbox-runtime` for the host (`TARGET/PROFILE/sandbox-runtime`); its rule for
/// finding the kernel looks in `TARGET/x86_64-unknown-none/{release,debug}/kernel`, so it
/// finds the one `build_kernel` made beside it. Returns the binary's path.
pub fn build_runtime(profile: Profile) -> Result<PathBuf> {
    let label = profile.output_dir();
    eprintln!("xtask: building {RUNTIME_PACKAGE} ({label})…");
    let started = Instant::now();
    let mut command = cargo_command();
    command.args(["build", "-p", RUNTIME_PACKAGE, "--bin", RUNTIME_PACKAGE]);
    if profile == Profile::Release {
        command.arg("--release");
    }
    let status = command.status().context("running cargo build")?;
    if !status.success() {
        bail!("{RUNTIME_PACKAGE} build failed ({status})");
    }
    let binary = target_dir()?.join(label).join(RUNTIME_PACKAGE);
    if !binary.is_file() {
        bail!(
            "cargo built {RUNTIME_PACKAGE} but {} is missing",
            binary.display()
        );
    }
    eprintln!(
        "xtask: built {} in {:.1} s",
        binary.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(binary)
}

/// Runs the host unit tests of the portable crates with their output streaming through.
pub fn host_tests() -> Result<()> {
    eprintln!(
        "xtask: host unit tests ({}, {} library)…",
        HOST_TESTED_CRATES.join(", "),
        HOST_TESTED_LIBRARIES.join(", ")
    );
    let started = Instant::now();
    let mut command = cargo_command();
    command.arg("test");
    for krate in HOST_TESTED_CRATES {
        command.args(["-p", krate]);
    }
    let skipped = match crate::host::can_mount_tmpfs_and_overlay() {
        Ok(()) => {
            command.args(["--", "--include-ignored"]);
            None
        }
        Err(reason) => Some(reason),
    };
    let mut libraries = cargo_command();
    libraries.args(["test", "--lib"]);
    for krate in HOST_TESTED_LIBRARIES {
        libraries.args(["-p", krate]);
    }
    for mut run in [command, libraries] {
        let status = run.status().context("running cargo test")?;
        if !status.success() {
            bail!("host unit tests failed ({status})");
        }
    }
    eprintln!(
        "xtask: host unit tests passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(reason) = skipped {
        eprintln!(
            "xtask: skipped: {} differential tests ({reason}): {}",
            DIFFERENTIAL_TESTS.len(),
            DIFFERENTIAL_TESTS.join(", ")
        );
    }
    Ok(())
}
