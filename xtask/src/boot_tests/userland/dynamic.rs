//! Issue 14's boot tests of dynamic ELF loading: dynamically linked programs run with their
//! interpreter and libraries copied from the host into the shared root at the paths the
//! host has them (symbolic links kept, so `/proc/self/maps` names the same files), and their
//! output must equal the same binary's on the host:
//!
//! - `dynamic-glibc`, `dynamic-musl`: `c/dynamic.c` against glibc and against musl, which
//!   checks its auxiliary vector, `/proc/self/auxv`, `/proc/self/maps` and `/proc/self/exe`;
//! - `dynamic-interpreter-direct`: glibc's `ld.so` run as the program, with `dynamic-glibc`
//!   as its argument;
//! - `dynamic-interpreter-errors`: busybox `sh` runs programs whose interpreter is not ELF,
//!   shorter than an ELF header, or missing, and a static program whose bss cannot fit the
//!   address space, and prints what each gave; the last (missing) makes `sh` exit 127.
//!
//! Without the host compilers (`guest::native`) a case is reported skipped.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::fixtures::{ENV, Fixtures, write_file};
use super::host_busybox::{BUSYBOX, expected_output_of};
use super::{Builder, output};
use crate::boot_tests::Case;
use crate::boot_tests::checks::Check::{Line, Status};
use crate::guest::native::{self, BAD_INTERPRETERS, Native, NativePrograms};

/// glibc's interpreter, as its programs name it on x86_64.
const GLIBC_INTERPRETER: &str = "/lib64/ld-linux-x86-64.so.2";
/// Where the interpreter-error programs and their bad interpreters are in the guest.
const ERRORS_DIR: &str = "opt/interp-errors";
/// A copy of the static busybox whose last segment asks for more memory than the user
/// address range has: Linux kills it with SIGSEGV past its point of no return.
const HUGE_BSS: &str = "huge-bss";
/// The programs' summary line when nothing failed.
const SUMMARY: &[&str] = &["dynamic: ", " passed, 0 failed"];

pub fn cases(builder: &Builder<'_>, native: &NativePrograms) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for (name, program, args) in [
        ("dynamic-glibc", &native.dynamic_glibc, &["a", "b c"][..]),
        ("dynamic-musl", &native.dynamic_musl, &["x"][..]),
    ] {
        cases.push(match program {
            Native::Built(path) => {
                let guest = install_dynamic(builder.fixtures, path, name)?;
                let expected = expected_output_of(&path.to_string_lossy(), builder.fixtures, args)
                    .with_context(|| format!("running {name} on the host"))?;
                let mut guest_args = vec![guest.as_str()];
                guest_args.extend_from_slice(args);
                let (case, _) = builder.run(name, &guest_args)?;
                case.expect(Line(SUMMARY))
                    .expect(Status(0))
                    .expect(output(expected))
            }
            Native::Skipped(why) => builder.new_case(name).skipped(why.clone()),
        });
    }
    cases.push(direct_case(builder, native)?);
    cases.push(errors_case(builder, native)?);
    Ok(cases)
}

/// Copies `program` into the root's `/sbin` as `name`, with the files it needs; returns
/// its path in the guest.
fn install_dynamic(fixtures: &Fixtures, program: &Path, name: &str) -> Result<String> {
    for needed in native::needed_files(program)? {
        install_host_file(&fixtures.rootfs, &needed)?;
    }
    let bytes = std::fs::read(program).with_context(|| format!("reading {}", program.display()))?;
    write_file(&fixtures.rootfs.join("sbin").join(name), &bytes, 0o755)?;
    Ok(format!("/sbin/{name}"))
}

/// Puts the host file at `path` into `rootfs` at the same path. A symbolic link is made
/// again as a link (its target as it is: an absolute one is resolved in the guest's root)
/// and its target installed too; a file is copied. Directories on the way are made as
/// directories, whatever they are on the host (`/lib` is a link to `usr/lib` on a merged
/// `/usr`), which changes no name a program sees through the links.
fn install_host_file(rootfs: &Path, path: &Path) -> Result<()> {
    // Links followed at most this deep, as a path walk would.
    const MAX_LINKS: usize = 40;
    let mut path = path.to_owned();
    for _ in 0..MAX_LINKS {
        let inside = rootfs.join(path.strip_prefix("/").unwrap_or(&path));
        let metadata = std::fs::symlink_metadata(&path)
            .with_context(|| format!("looking at {}", path.display()))?;
        if !metadata.file_type().is_symlink() {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            return write_file(&inside, &bytes, 0o755);
        }
        let target = std::fs::read_link(&path)
            .with_context(|| format!("reading the link {}", path.display()))?;
        if let Some(parent) = inside.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        if std::fs::symlink_metadata(&inside).is_ok() {
            std::fs::remove_file(&inside)
                .with_context(|| format!("replacing {}", inside.display()))?;
        }
        std::os::unix::fs::symlink(&target, &inside)
            .with_context(|| format!("linking {}", inside.display()))?;
        path = match path.parent() {
            Some(parent) if target.is_relative() => parent.join(target),
            _ => target,
        };
    }
    bail!("{}: too many levels of symbolic links", path.display())
}

/// glibc's loader run directly, with the program as its argument: the kernel runs the
/// loader as an ordinary position-independent program.
fn direct_case(builder: &Builder<'_>, native: &NativePrograms) -> Result<Case> {
    const NAME: &str = "dynamic-interpreter-direct";
    let Native::Built(program) = &native.dynamic_glibc else {
        return Ok(builder.new_case(NAME).skipped(match &native.dynamic_glibc {
            Native::Skipped(why) => why.clone(),
            Native::Built(_) => unreachable!(),
        }));
    };
    let guest = install_dynamic(builder.fixtures, program, "dynamic-glibc")?;
    let args = [guest.as_str(), "x", "--direct"];
    let expected = expected_output_of(GLIBC_INTERPRETER, builder.fixtures, &args)
        .context("running glibc's loader with dynamic-glibc on the host")?;
    let mut guest_args = vec![GLIBC_INTERPRETER];
    guest_args.extend_from_slice(&args);
    let (case, _) = builder.run(NAME, &guest_args)?;
    Ok(case
        .expect(Line(SUMMARY))
        .expect(Status(0))
        .expect(output(expected)))
}

/// The shell script the errors case runs: from its own directory (the interpreters' paths
/// are relative), each program with what the shell made of it.
const ERRORS_SCRIPT: &str = "\
cd \"${0%/*}\" || exit 1
exec 2>&1
./interp-not-elf; echo \"interp-not-elf: $?\"
./interp-short; echo \"interp-short: $?\"
./huge-bss true; echo \"huge-bss: $?\"
./interp-missing
";

fn errors_case(builder: &Builder<'_>, native: &NativePrograms) -> Result<Case> {
    const NAME: &str = "dynamic-interpreter-errors";
    let dir = builder.fixtures.rootfs.join(ERRORS_DIR);
    for (name, program) in &native.bad_interpreters {
        match program {
            Native::Built(path) => {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                write_file(&dir.join(name), &bytes, 0o755)?;
            }
            Native::Skipped(why) => return Ok(builder.new_case(NAME).skipped(why.clone())),
        }
    }
    debug_assert_eq!(native.bad_interpreters.len(), BAD_INTERPRETERS.len());
    // Not ELF, though longer than an ELF header (ELIBBAD); shorter than one (EIO).
    write_file(
        &dir.join("not-an-interpreter"),
        format!("#!/bin/sh\n{}\n", "#".repeat(100)).as_bytes(),
        0o755,
    )?;
    write_file(&dir.join("short-interpreter"), b"#!/bin/sh\n", 0o755)?;
    let busybox = std::fs::read(BUSYBOX).with_context(|| format!("reading {BUSYBOX}"))?;
    write_file(
        &dir.join(HUGE_BSS),
        &with_huge_last_segment(&busybox)?,
        0o755,
    )?;
    let script = dir.join("run.sh");
    write_file(&script, ERRORS_SCRIPT.as_bytes(), 0o644)?;

    let (expected, status) = host_shell(&script)?;
    // The shell names the script in its messages: by its guest path in the guest.
    let host_root = builder.fixtures.rootfs.to_string_lossy().into_owned();
    let expected = expected.replace(&host_root, "");
    let guest_script = format!("/{ERRORS_DIR}/run.sh");
    let (case, _) = builder.run(NAME, &["/bin/busybox", "sh", &guest_script])?;
    Ok(case.expect(Status(status)).expect(output(expected)))
}

/// busybox `sh SCRIPT` on the host: its output (stdout and stderr, the script joins them)
/// and exit status, which must be 127: the last program's interpreter is missing.
fn host_shell(script: &Path) -> Result<(String, u8)> {
    let result = Command::new(BUSYBOX)
        .arg("sh")
        .arg(script)
        .env_clear()
        .envs(ENV.iter().filter_map(|pair| pair.split_once('=')))
        .current_dir("/")
        .output()
        .with_context(|| format!("running {BUSYBOX} sh {} on the host", script.display()))?;
    let status = result.status.code().unwrap_or(-1);
    if status != 127 {
        bail!(
            "{BUSYBOX} sh {} on the host: {} (expected 127)\n{}",
            script.display(),
            result.status,
            String::from_utf8_lossy(&result.stdout)
        );
    }
    Ok((String::from_utf8_lossy(&result.stdout).into_owned(), 127))
}

/// `elf` with its last `PT_LOAD` segment's memory size set past anything the user address
/// range holds (Linux's loader refuses it only once the old image is gone).
fn with_huge_last_segment(elf: &[u8]) -> Result<Vec<u8>> {
    const PT_LOAD: u32 = 1;
    let read = |at: usize, len: usize| -> Result<u64> {
        let bytes = elf.get(at..at + len).context("ELF header cut short")?;
        let mut word = [0u8; 8];
        word[..len].copy_from_slice(bytes);
        Ok(u64::from_le_bytes(word))
    };
    if elf.get(..5) != Some(b"\x7fELF\x02") {
        bail!("not a 64-bit ELF");
    }
    let phoff = read(32, 8)? as usize;
    let phnum = read(56, 2)? as usize;
    let last_load = (0..phnum)
        .map(|i| phoff + 56 * i)
        .rfind(|&at| read(at, 4).is_ok_and(|kind| kind == u64::from(PT_LOAD)))
        .context("no PT_LOAD segment")?;
    let mut patched = elf.to_vec();
    // p_memsz, at offset 40 of a 64-bit program header.
    patched[last_load + 40..last_load + 48].copy_from_slice(&0x7fff_ffff_ffffu64.to_le_bytes());
    Ok(patched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_huge_segment_is_the_last_load() {
        // Header, then two PT_LOADs and a PT_GNU_STACK.
        let mut elf = vec![0u8; 64 + 3 * 56];
        elf[..5].copy_from_slice(b"\x7fELF\x02");
        elf[32..40].copy_from_slice(&64u64.to_le_bytes());
        elf[56..58].copy_from_slice(&3u16.to_le_bytes());
        for (i, kind) in [1u32, 1, 0x6474_e551].iter().enumerate() {
            elf[64 + 56 * i..][..4].copy_from_slice(&kind.to_le_bytes());
        }
        let patched = with_huge_last_segment(&elf).unwrap();
        let memsz =
            |i: usize| u64::from_le_bytes(patched[64 + 56 * i + 40..][..8].try_into().unwrap());
        assert_eq!((memsz(0), memsz(1), memsz(2)), (0, 0x7fff_ffff_ffff, 0));
        assert!(with_huge_last_segment(b"#!/bin/sh\n").is_err());
    }

    #[test]
    fn host_files_are_installed_with_their_links() {
        let dir = std::env::temp_dir().join(format!("xtask-install-{}", std::process::id()));
        let host = dir.join("host");
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(host.join("lib/real")).unwrap();
        std::fs::write(host.join("lib/real/libc.so"), b"library").unwrap();
        std::os::unix::fs::symlink("real/libc.so", host.join("lib/ld.so")).unwrap();
        install_host_file(&rootfs, &host.join("lib/ld.so")).unwrap();
        let inside = rootfs.join(host.strip_prefix("/").unwrap());
        assert_eq!(
            std::fs::read_link(inside.join("lib/ld.so")).unwrap(),
            Path::new("real/libc.so")
        );
        assert_eq!(
            std::fs::read(inside.join("lib/real/libc.so")).unwrap(),
            b"library"
        );
        // Installing again replaces what is there.
        install_host_file(&rootfs, &host.join("lib/ld.so")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
