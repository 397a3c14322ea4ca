//! The thread tests' programs written in C and Go (issue 13: "Go, Rust async and pthread
//! programs run"), built from `xtask/guest-tests/c` with `musl-gcc -static` and from
//! `xtask/guest-tests/go` with `go build` (`CGO_ENABLED=0`: static) into `TARGET/guest/native`;
//! and the dynamic-loading tests' programs (issue 14), dynamically linked: `c/dynamic.c`
//! with `gcc` against glibc and with `musl-gcc` against musl's shared libc, and `c/exits.c`
//! linked with interpreters that are missing or bad. [`needed_files`] lists what a
//! dynamically linked program needs copied into a root to run there.
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

/// The host's C compiler, for programs linked against the host's glibc.
const GCC: &str = "gcc";

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
    /// `c/dynamic.c`, dynamically linked against glibc (`gcc`) and musl (`musl-gcc`).
    pub dynamic_glibc: Native,
    pub dynamic_musl: Native,
    /// `c/exits.c` linked with each of [`BAD_INTERPRETERS`]' interpreters, by name.
    pub bad_interpreters: Vec<(&'static str, Native)>,
    /// xfstests' `fsx` (issue 14), from the checkout `XFSTESTS_SRC` names.
    pub fsx: Native,
    /// `c/pty-check.c`: pseudo-terminals and job control (the terminal issue's C program).
    pub pty_check: Native,
}

/// Programs whose interpreter (`PT_INTERP`) exec cannot use: the program's name and its
/// interpreter's path. Relative paths are opened from the working directory, as Linux
/// opens them: the boot test puts the bad interpreters beside the programs and runs them
/// from there.
pub const BAD_INTERPRETERS: &[(&str, &str)] = &[
    ("interp-missing", "/lib/ld-missing-x86-64.so.2"),
    ("interp-not-elf", "./not-an-interpreter"),
    ("interp-short", "./short-interpreter"),
];

/// Builds both into `TARGET/guest/native`.
pub fn build_native_programs(target_dir: &Path) -> Result<NativePrograms> {
    let out = target_dir.join("guest").join("native");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut bad_interpreters = Vec::new();
    for &(name, interpreter) in BAD_INTERPRETERS {
        bad_interpreters.push((name, build_with_interpreter(&out, name, interpreter)?));
    }
    Ok(NativePrograms {
        pthreads: build_c(&out, "pthreads")?,
        go_check: build_go(target_dir, &out, "go-check")?,
        dynamic_glibc: build_dynamic(&out, GCC, "gcc", "dynamic-glibc")?,
        dynamic_musl: build_dynamic(&out, MUSL_GCC, "musl-tools", "dynamic-musl")?,
        bad_interpreters,
        fsx: build_fsx(&out)?,
        pty_check: build_c(&out, "pty-check")?,
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

/// `COMPILER -O2` of `c/dynamic.c` into `out/NAME`, dynamically linked (a PIE, as both
/// compilers make by default on Debian).
fn build_dynamic(out: &Path, compiler: &str, package: &str, name: &str) -> Result<Native> {
    if let Some(why) = missing(compiler, package) {
        return Ok(Native::Skipped(why));
    }
    let source = workspace_root().join(C_SOURCES).join("dynamic.c");
    let binary = out.join(name);
    let mut command = Command::new(compiler);
    command
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&binary)
        .arg(&source);
    run(command, &format!("{compiler} {}", source.display()))?;
    Ok(Native::Built(binary))
}

/// `gcc` of `c/exits.c` into `out/NAME`, with `interpreter` as its `PT_INTERP`.
fn build_with_interpreter(out: &Path, name: &str, interpreter: &str) -> Result<Native> {
    if let Some(why) = missing(GCC, "gcc") {
        return Ok(Native::Skipped(why));
    }
    let source = workspace_root().join(C_SOURCES).join("exits.c");
    let binary = out.join(name);
    let mut command = Command::new(GCC);
    command
        .args(["-O2", "-Wall", "-Wextra", "-Werror"])
        .arg(format!("-Wl,--dynamic-linker={interpreter}"))
        .arg("-o")
        .arg(&binary)
        .arg(&source);
    run(
        command,
        &format!("{GCC} {} for {interpreter}", source.display()),
    )?;
    Ok(Native::Built(binary))
}

/// The host files a dynamically linked `program` needs: its interpreter and the shared
/// libraries it loads, as `ldd` finds them. `ldd` is the interpreter run with `--list`;
/// that is asked directly, so a musl program is listed by musl's loader (glibc's `ldd`
/// cannot list it). The kernel's vDSO (`linux-vdso.so.1`, no path) is not a file.
pub fn needed_files(program: &Path) -> Result<Vec<PathBuf>> {
    let bytes = std::fs::read(program).with_context(|| format!("reading {}", program.display()))?;
    let interpreter = interpreter_of(&bytes)
        .with_context(|| format!("{} names no interpreter (PT_INTERP)", program.display()))?;
    let output = Command::new(&interpreter)
        .arg("--list")
        .arg(program)
        .output()
        .with_context(|| format!("running {interpreter} --list {}", program.display()))?;
    if !output.status.success() {
        bail!(
            "{interpreter} --list {}: {} ({})",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(parse_library_list(
        &String::from_utf8_lossy(&output.stdout),
        &interpreter,
    ))
}

/// The path a 64-bit ELF's `PT_INTERP` names, without its NUL.
fn interpreter_of(bytes: &[u8]) -> Option<String> {
    use object::elf::{FileHeader64, PT_INTERP};
    use object::read::elf::{FileHeader, ProgramHeader};
    let header = FileHeader64::<object::Endianness>::parse(bytes).ok()?;
    let endian = header.endian().ok()?;
    let headers = header.program_headers(endian, bytes).ok()?;
    let interp = headers.iter().find(|ph| ph.p_type(endian) == PT_INTERP)?;
    let path = interp.data(endian, bytes).ok()?;
    let path = path.split(|&b| b == 0).next()?;
    Some(String::from_utf8_lossy(path).into_owned())
}

/// The paths in a loader's `--list` output (`ldd`'s format: `NAME => PATH (ADDRESS)` or
/// `PATH (ADDRESS)`), the interpreter first, each once.
fn parse_library_list(text: &str, interpreter: &str) -> Vec<PathBuf> {
    let mut paths = vec![PathBuf::from(interpreter)];
    for line in text.lines() {
        let entry = line.split_once("=>").map_or(line, |(_, path)| path).trim();
        let path = entry.split(" (").next().unwrap_or(entry).trim();
        if path.starts_with('/') && !paths.iter().any(|known| known == Path::new(path)) {
            paths.push(PathBuf::from(path));
        }
    }
    paths
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

    /// glibc's and musl's `--list` output, as `ldd` prints it.
    #[test]
    fn library_lists_give_each_path_once_interpreter_first() {
        let glibc = "\tlinux-vdso.so.1 (0x00007ffd4f3f2000)\n\
                     \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f5c1d200000)\n\
                     \t/lib64/ld-linux-x86-64.so.2 (0x00007f5c1d42e000)\n";
        assert_eq!(
            parse_library_list(glibc, "/lib64/ld-linux-x86-64.so.2"),
            [
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6")
            ]
        );
        let musl = "\t/lib/ld-musl-x86_64.so.1 (0x7f7e6cdfa000)\n\
                    \tlibc.so => /lib/ld-musl-x86_64.so.1 (0x7f7e6cdfa000)\n";
        assert_eq!(
            parse_library_list(musl, "/lib/ld-musl-x86_64.so.1"),
            [PathBuf::from("/lib/ld-musl-x86_64.so.1")]
        );
    }

    /// The test binary itself is a dynamically linked host program: its interpreter is a
    /// path; a non-ELF names none.
    #[test]
    fn the_interpreter_is_read_from_pt_interp() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        if let Some(path) = interpreter_of(&me) {
            assert!(path.starts_with('/') && !path.contains('\0'), "{path:?}");
        }
        assert_eq!(interpreter_of(b"#!/bin/sh\n"), None);
    }

    #[test]
    fn the_sources_are_where_the_builder_looks() {
        let root = workspace_root();
        assert!(root.join(C_SOURCES).join("pthreads.c").is_file());
        assert!(root.join(C_SOURCES).join("dynamic.c").is_file());
        assert!(root.join(C_SOURCES).join("exits.c").is_file());
        assert!(root.join(GO_MODULE).join("go.mod").is_file());
        assert!(root.join(GO_MODULE).join("main.go").is_file());
        assert!(root.join(FSX_SHIMS).join("config.h").is_file());
        assert!(root.join(FSX_SHIMS).join("prelude.h").is_file());
    }
}
