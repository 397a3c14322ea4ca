//! Finding the sandbox kernel (the `x86_64-unknown-none` ELF QEMU boots). podman and
//! containerd call the runtime with runc's flags only, so the rule must work without ours;
//! the first that applies wins:
//!
//! 1. `--kernel PATH` (a global flag of ours);
//! 2. the `SANDBOX_RUNTIME_KERNEL` environment variable;
//! 3. `sandbox-kernel` next to the runtime binary (an installed pair:
//!    `/usr/local/bin/sandbox-runtime` and `/usr/local/bin/sandbox-kernel`);
//! 4. the workspace build: the binary is `TARGET/{release,debug}/sandbox-runtime`, so the
//!    kernel is `TARGET/x86_64-unknown-none/release/kernel` (what `cargo xtask build`
//!    makes), or `…/debug/kernel`.

use std::path::{Path, PathBuf};

use crate::error::{Result, RuntimeError};

pub const ENV: &str = "SANDBOX_RUNTIME_KERNEL";
pub const NEXT_TO_BINARY: &str = "sandbox-kernel";

pub fn find(flag: Option<&Path>) -> Result<PathBuf> {
    let exe = std::env::current_exe().ok();
    let env = std::env::var_os(ENV).map(PathBuf::from);
    find_with(flag, env.as_deref(), exe.as_deref())
}

/// The rule with its inputs given (testable without touching the environment).
pub fn find_with(flag: Option<&Path>, env: Option<&Path>, exe: Option<&Path>) -> Result<PathBuf> {
    // An explicit choice must exist; it is never silently passed over.
    for (source, path) in [("--kernel", flag), (ENV, env)] {
        if let Some(path) = path.filter(|path| !path.as_os_str().is_empty()) {
            return if path.is_file() {
                Ok(path.to_owned())
            } else {
                Err(RuntimeError::KernelNotFound(format!(
                    "{source} names {}, which is not a file",
                    path.display()
                )))
            };
        }
    }
    let mut tried = Vec::new();
    if let Some(dir) = exe.and_then(Path::parent) {
        let mut candidates = vec![dir.join(NEXT_TO_BINARY)];
        if let Some(target) = dir.parent() {
            for profile in ["release", "debug"] {
                candidates.push(
                    target
                        .join("x86_64-unknown-none")
                        .join(profile)
                        .join("kernel"),
                );
            }
        }
        for candidate in candidates {
            if candidate.is_file() {
                return Ok(candidate);
            }
            tried.push(candidate.display().to_string());
        }
    }
    Err(RuntimeError::KernelNotFound(format!(
        "no --kernel, no {ENV}, and none of {} (build it with `cargo xtask build`)",
        tried.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_in_order() {
        let dir = std::env::temp_dir().join(format!("sandbox-kernel-find-{}", std::process::id()));
        let release = dir.join("target/release");
        let kernel_dir = dir.join("target/x86_64-unknown-none/release");
        std::fs::create_dir_all(&release).unwrap();
        std::fs::create_dir_all(&kernel_dir).unwrap();
        let exe = release.join("sandbox-runtime");
        let built = kernel_dir.join("kernel");
        std::fs::write(&built, b"elf").unwrap();
        assert_eq!(find_with(None, None, Some(&exe)).unwrap(), built);
        let beside = release.join(NEXT_TO_BINARY);
        std::fs::write(&beside, b"elf").unwrap();
        assert_eq!(find_with(None, None, Some(&exe)).unwrap(), beside);
        assert_eq!(find_with(None, Some(&built), Some(&exe)).unwrap(), built);
        assert_eq!(
            find_with(Some(&beside), Some(&built), Some(&exe)).unwrap(),
            beside
        );
        let missing = dir.join("nope");
        let error = find_with(None, Some(&missing), Some(&exe))
            .unwrap_err()
            .to_string();
        assert!(error.contains(ENV), "{error}");
        std::fs::remove_file(&beside).unwrap();
        std::fs::remove_file(&built).unwrap();
        let error = find_with(None, None, Some(&exe)).unwrap_err().to_string();
        assert!(error.contains("cargo xtask build"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
