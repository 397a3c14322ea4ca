//! The thread tests' programs written in C and Go (issue 13: "Go, Rust async and pthread
//! programs run"), built from `xtask/guest-tests/c` with `musl-gcc -static` and from
//! `xtask/guest-tests/go` with `go build` (`CGO_ENABLED=0`: static) into `TARGET/guest/native`.
//!
//! The compilers are host tools that `setup::for_test` installs where it may. Where one is
//! still missing the program is [`Native::Skipped`] with the reason, and its boot test is
//! reported skipped, never passed. A compiler that is there but fails is an error: the
//! sources are ours.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cargo::workspace_root;
use crate::host;
use crate::setup::{GO, MUSL_GCC};

const C_SOURCES: &str = "xtask/guest-tests/c";
const GO_MODULE: &str = "xtask/guest-tests/go";

/// A program built from C or Go sources, or why it could not be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Native {
    Built(PathBuf),
    /// The sentence the boot test reports, e.g. "musl-gcc not found (apt-get install musl-tools)".
    Skipped(String),
}

/// The C and Go programs of the thread tests.
#[derive(Debug, Clone)]
pub struct NativePrograms {
    /// `c/pthreads.c`: POSIX threads under musl.
    pub pthreads: Native,
    /// `go/`: goroutines, timers, os/exec, os/signal and Unix sockets under Go's runtime.
    pub go_check: Native,
    /// `c/pty-check.c`: pseudo-terminals and job control (the terminal issue's C program).
    pub pty_check: Native,
}

/// Builds both into `TARGET/guest/native`.
pub fn build_native_programs(target_dir: &Path) -> Result<NativePrograms> {
    let out = target_dir.join("guest").join("native");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    Ok(NativePrograms {
        pthreads: build_c(&out, "pthreads")?,
        go_check: build_go(target_dir, &out, "go-check")?,
        pty_check: build_c(&out, "pty-check")?,
    })
}

/// Why `tool` cannot be used, naming the Debian package that has it; `None` when it is in `PATH`.
fn missing(tool: &str, package: &str) -> Option<String> {
    match host::find_in_path(tool) {
        Some(_) => None,
        None => Some(format!("{tool} not found (apt-get install {package})")),
    }
}

/// `musl-gcc -static -O2 -pthread` of `c/NAME.c` into `out/NAME`.
fn build_c(out: &Path, name: &str) -> Result<Native> {
    if let Some(why) = missing(MUSL_GCC, "musl-tools") {
        return Ok(Native::Skipped(why));
    }
    let source = workspace_root().join(C_SOURCES).join(format!("{name}.c"));
    let binary = out.join(name);
    let mut command = Command::new(MUSL_GCC);
    command
        .args([
            "-static", "-O2", "-pthread", "-Wall", "-Wextra", "-Werror", "-o",
        ])
        .arg(&binary)
        .arg(&source);
    run(command, &format!("{MUSL_GCC} {}", source.display()))?;
    Ok(Native::Built(binary))
}

/// `go build` of the module in `go/` into `out/NAME`: static (`CGO_ENABLED=0`), offline
/// (`GOPROXY=off`: the module uses the standard library alone), with its build cache and
/// module directory under the target directory rather than the user's home.
fn build_go(target_dir: &Path, out: &Path, name: &str) -> Result<Native> {
    if let Some(why) = missing(GO, "golang-go") {
        return Ok(Native::Skipped(why));
    }
    let module = workspace_root().join(GO_MODULE);
    let binary = out.join(name);
    let go_dir = target_dir.join("guest").join("go");
    let mut command = Command::new(GO);
    command
        .args(["build", "-trimpath", "-o"])
        .arg(&binary)
        .arg(".")
        .current_dir(&module)
        .env("CGO_ENABLED", "0")
        .env("GOOS", "linux")
        .env("GOARCH", "amd64")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", go_dir.join("cache"))
        .env("GOPATH", go_dir.join("path"));
    run(command, &format!("go build in {}", module.display()))?;
    Ok(Native::Built(binary))
}

fn run(mut command: Command, what: &str) -> Result<()> {
    eprintln!("xtask: {what}…");
    let started = Instant::now();
    let output = command
        .output()
        .with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    eprintln!(
        "xtask: {what}: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_names_its_package() {
        assert_eq!(
            missing("surely-no-such-compiler-here", "some-package"),
            Some(
                "surely-no-such-compiler-here not found (apt-get install some-package)".to_owned()
            )
        );
    }

    #[test]
    fn the_sources_are_where_the_builder_looks() {
        let root = workspace_root();
        assert!(root.join(C_SOURCES).join("pthreads.c").is_file());
        assert!(root.join(GO_MODULE).join("go.mod").is_file());
        assert!(root.join(GO_MODULE).join("main.go").is_file());
    }
}
