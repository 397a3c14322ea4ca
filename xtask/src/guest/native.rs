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
    /// xfstests' `fsx` (issue 14), from the checkout `XFSTESTS_SRC` names.
    pub fsx: Native,
}

/// Builds both into `TARGET/guest/native`.
pub fn build_native_programs(target_dir: &Path) -> Result<NativePrograms> {
    let out = target_dir.join("guest").join("native");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    Ok(NativePrograms {
        pthreads: build_c(&out, "pthreads")?,
        go_check: build_go(target_dir, &out, "go-check")?,
        fsx: build_fsx(&out)?,
    })
}

/// Shims for building `fsx` against musl: a `config.h` and a prelude header.
const FSX_SHIMS: &str = "xtask/guest-tests/fsx";
/// The environment variable naming an xfstests checkout.
pub const XFSTESTS_SRC: &str = "XFSTESTS_SRC";

/// xfstests' `fsx`, the file-operation exerciser (random reads, writes, truncates,
/// `fallocate`, hole punching, `copy_file_range`, mapped reads, checked against a model
/// of the file after every step). Its source is GPL-2.0 and stays out of this repository:
/// it is built from the xfstests checkout that `XFSTESTS_SRC` names (`ltp/fsx.c`,
/// `src/global.h`, `src/statx.h`), with `musl-gcc -static`, our shims in
/// `xtask/guest-tests/fsx` in place of what xfstests' configure makes, and the host's
/// Linux UAPI headers (`linux/*.h`, which musl does not ship). Without the checkout or
/// the headers the program is skipped, saying which; a build that fails is an error.
fn build_fsx(out: &Path) -> Result<Native> {
    if let Some(why) = missing(MUSL_GCC, "musl-tools") {
        return Ok(Native::Skipped(why));
    }
    let Some(source) = std::env::var_os(XFSTESTS_SRC).map(PathBuf::from) else {
        return Ok(Native::Skipped(format!(
            "{XFSTESTS_SRC} not set (fsx is built from an xfstests checkout it names)"
        )));
    };
    let fsx_c = source.join("ltp/fsx.c");
    if !fsx_c.is_file() || !source.join("src/global.h").is_file() {
        return Ok(Native::Skipped(format!(
            "{} has no ltp/fsx.c and src/global.h (is {XFSTESTS_SRC} an xfstests checkout?)",
            source.display()
        )));
    }
    // musl-gcc searches only musl's headers: the kernel's UAPI ones come in through a
    // directory of links to the host's.
    let uapi = Path::new("/usr/include");
    let arch_asm = uapi.join("x86_64-linux-gnu/asm");
    if !uapi.join("linux/falloc.h").is_file() || !arch_asm.is_dir() {
        return Ok(Native::Skipped(
            "Linux UAPI headers not found (apt-get install linux-libc-dev)".to_owned(),
        ));
    }
    let headers = out.join("fsx-uapi");
    std::fs::create_dir_all(&headers).with_context(|| format!("creating {}", headers.display()))?;
    for (name, target) in [
        ("linux", uapi.join("linux")),
        ("asm-generic", uapi.join("asm-generic")),
        ("asm", arch_asm),
    ] {
        let link = headers.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(&target, &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
    }
    let shims = workspace_root().join(FSX_SHIMS);
    let binary = out.join("fsx");
    let mut command = Command::new(MUSL_GCC);
    command
        .args([
            "-static",
            "-O2",
            "-D_GNU_SOURCE",
            "-DFALLOCATE",
            "-DHAVE_COPY_FILE_RANGE",
        ])
        .arg("-I")
        .arg(&shims)
        .arg("-I")
        .arg(source.join("src"))
        .arg("-isystem")
        .arg(&headers)
        .arg("-include")
        .arg(shims.join("prelude.h"))
        .arg("-o")
        .arg(&binary)
        .arg(&fsx_c);
    run(command, &format!("{MUSL_GCC} {}", fsx_c.display()))?;
    Ok(Native::Built(binary))
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
        assert!(root.join(FSX_SHIMS).join("config.h").is_file());
        assert!(root.join(FSX_SHIMS).join("prelude.h").is_file());
    }
}
