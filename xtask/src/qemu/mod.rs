//! QEMU command lines: the runtime library's (`sandbox_runtime::qemu`, shared with the
//! runtime's sandboxes), plus what only xtask says about them.

use std::process::Command;

pub use sandbox_runtime::qemu::*;

/// The first line of `qemu-system-x86_64 --version`, for logs (CI prints it before tests).
pub fn version() -> anyhow::Result<String> {
    use anyhow::Context;
    let output = Command::new(QEMU_BINARY)
        .arg("--version")
        .output()
        .with_context(|| format!("running {QEMU_BINARY} --version"))?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or("QEMU (no version line)")
        .to_owned())
}

/// Resolves `--accel` on this host, saying on stderr why `auto` fell back to TCG.
pub fn choose_accel(request: AccelRequest) -> Accel {
    let decision = decide_accel_here(request);
    if let Some(reason) = &decision.fallback_reason {
        eprintln!("xtask: accel auto → tcg: {reason}");
    }
    decision.accel
}
