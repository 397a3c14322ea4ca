//! The files the userland boot tests run on, made fresh for each `cargo xtask test`:
//!
//! - `tree/`: a fixed test tree, bind-mounted read-only at `/data` (files, a 10 MiB file, a
//!   symlink, nested and empty directories, several modes);
//! - `rootfs/`: the root filesystem, with the host's `/bin/busybox`, the test programs in
//!   `/sbin`, `/etc/passwd` and `/etc/group`, and the bad inits of the exec tests;
//! - `bundles/NAME/`: one spec per case, and `rw/`, the case's own writable bind mount.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::guest::TestPrograms;

pub const HOSTNAME: &str = "boxy";
/// Docker's default capability set, as `docker run` writes it into a spec (bounding,
/// effective and permitted): the kernel gives a spec without `process.capabilities` no
/// capabilities at all, as runc does.
pub const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// `process.capabilities` with `caps` in bounding, effective and permitted (as Docker
/// writes them; `--cap-add` adds to all three).
pub fn capabilities(caps: &[&str]) -> Value {
    json!({"bounding": caps, "effective": caps, "permitted": caps})
}

/// Docker's default set plus `extra` (`docker run --cap-add`).
pub fn docker_caps_with(extra: &[&str]) -> Value {
    let mut caps: Vec<&str> = DOCKER_CAPS.to_vec();
    caps.extend_from_slice(extra);
    capabilities(&caps)
}

pub const ENV: &[&str] = &["PATH=/sbin:/bin", "HOME=/root", "TZ=UTC", "LANG=C"];
/// Where the test tree appears inside the sandbox, and the case's writable bind mount.
pub const TREE_IN_GUEST: &str = "/data";
pub const RW_IN_GUEST: &str = "/rw";
pub const BIG_FILE: &str = "big-10MiB.bin";
pub const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:tester:/home/tester:/bin/sh\n";
const GROUP: &str = "root:x:0:\ntester:x:1000:\n";

/// The bad inits in the root filesystem: (path in the guest, contents, mode).
pub const NOT_ELF: &str = "/bin/not-elf";
pub const WRONG_ARCH_ELF: &str = "/bin/aarch64-elf";
pub const ELF32: &str = "/bin/i386-elf";

#[derive(Debug, Clone)]
pub struct Fixtures {
    pub tree: PathBuf,
    pub rootfs: PathBuf,
    bundles: PathBuf,
}

impl Fixtures {
    pub fn write(dir: &Path, programs: &TestPrograms) -> Result<Fixtures> {
        let fixtures = Fixtures {
            tree: dir.join("tree"),
            rootfs: dir.join("rootfs"),
            bundles: dir.join("bundles"),
        };
        for path in [&fixtures.tree, &fixtures.rootfs, &fixtures.bundles] {
            if path.exists() {
                std::fs::remove_dir_all(path)
                    .with_context(|| format!("clearing {}", path.display()))?;
            }
        }
        write_tree(&fixtures.tree)?;
        write_rootfs(&fixtures.rootfs, programs)?;
        Ok(fixtures)
    }

    /// A case's bundle directory with its (empty) writable bind mount source `rw/`.
    pub fn bundle_dir(&self, case: &str) -> Result<PathBuf> {
        let dir = self.bundles.join(case);
        std::fs::create_dir_all(dir.join("rw"))
            .with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    /// The usual spec: the shared root (overlaid by the kernel's default), the tree at
    /// `/data` read-only, the case's `rw/` at `/rw`.
    pub fn spec(&self, args: &[&str]) -> Value {
        json!({
            "ociVersion": "1.0.2",
            "root": {"path": self.rootfs},
            "hostname": HOSTNAME,
            "process": {"args": args, "env": ENV, "cwd": "/", "user": {"uid": 0, "gid": 0},
                "capabilities": docker_caps_with(&[])},
            "mounts": [
                {"destination": TREE_IN_GUEST, "type": "bind", "source": self.tree, "options": ["rbind", "ro"]},
                {"destination": RW_IN_GUEST, "type": "bind", "source": "rw", "options": ["rbind", "rw"]}
            ]
        })
    }

    pub fn host_path(&self, guest: &str) -> PathBuf {
        let (base, rest) = match guest.strip_prefix(TREE_IN_GUEST) {
            Some(rest) => (&self.tree, rest),
            None => (&self.rootfs, guest),
        };
        match rest.trim_start_matches('/') {
            "" => base.clone(),
            rest => base.join(rest),
        }
    }
}

pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

fn write_tree(tree: &Path) -> Result<()> {
    write_file(
        &tree.join("words.txt"),
        b"the quick brown fox\njumps over\nthe lazy dog\n",
        0o644,
    )?;
    write_file(&tree.join(BIG_FILE), &big_file_bytes(), 0o644)?;
    write_file(&tree.join("private"), b"secret\n", 0o600)?;
    write_file(
        &tree.join("tool.sh"),
        b"#!/bin/busybox sh\necho tool\n",
        0o755,
    )?;
    write_file(&tree.join("sub/nested/deep.txt"), b"deep\n", 0o640)?;
    std::fs::create_dir_all(tree.join("empty-dir")).context("creating empty-dir")?;
    std::os::unix::fs::symlink("words.txt", tree.join("link-to-words"))
        .context("making the symlink")?;
    Ok(())
}

const BIG_FILE_LEN: usize = 10 << 20;

pub fn big_file_bytes() -> Vec<u8> {
    crate::boot_tests::pseudo_random_bytes(0x1234_5678_9abc_def1, BIG_FILE_LEN)
}

fn write_rootfs(rootfs: &Path, programs: &TestPrograms) -> Result<()> {
    for dir in ["dev", "proc", "sys", "tmp", "root", "etc"] {
        std::fs::create_dir_all(rootfs.join(dir))
            .with_context(|| format!("creating {dir} in {}", rootfs.display()))?;
    }
    let busybox = std::fs::read(crate::setup::BUSYBOX)
        .context("reading the host's /bin/busybox (apt-get install busybox-static)")?;
    write_file(&rootfs.join("bin/busybox"), &busybox, 0o755)?;
    // `tar -z` runs `gzip` from PATH, as an external program: busybox's applet by its name.
    let gzip = rootfs.join("bin/gzip");
    if std::fs::symlink_metadata(&gzip).is_err() {
        std::os::unix::fs::symlink("busybox", &gzip)
            .with_context(|| format!("linking {}", gzip.display()))?;
    }
    let bash = std::fs::read(crate::setup::BASH_STATIC)
        .context("reading the host's /bin/bash-static (apt-get install bash-static)")?;
    write_file(&rootfs.join("bin/bash"), &bash, 0o755)?;
    for (name, program) in [
        ("fs-test", &programs.fs_test),
        ("null-deref", &programs.null_deref),
        ("efault", &programs.efault),
        ("timeouts", &programs.timeouts),
        ("processes", &programs.processes),
        ("pipes", &programs.pipes),
        ("events", &programs.events),
        ("unix-sockets", &programs.unix_sockets),
        ("futex", &programs.futex),
        ("file-locks", &programs.file_locks),
        ("shared-memory", &programs.shared_memory),
        ("file-mappings", &programs.file_mappings),
        ("containment", &programs.containment),
        ("syscall-bench", &programs.syscall_bench),
        ("syscall-fuzz", &programs.syscall_fuzz),
        ("soak", &programs.soak),
        ("threads", &programs.threads),
        ("tokio-check", &programs.tokio_check),
        ("unix-socket-workloads", &programs.unix_socket_workloads),
        ("runtime-calls", &programs.runtime_calls),
        ("file-calls", &programs.file_calls),
        ("smp-check", &programs.smp_check),
    ] {
        let bytes =
            std::fs::read(program).with_context(|| format!("reading {}", program.display()))?;
        write_file(&rootfs.join("sbin").join(name), &bytes, 0o755)?;
    }
    // A set-user-ID copy (owned by whoever runs the tests; the guest compares with the
    // owner it sees): exec must give its owner's effective uid.
    let setuid = std::fs::read(&programs.processes)
        .with_context(|| format!("reading {}", programs.processes.display()))?;
    write_file(&rootfs.join("sbin/processes-setuid"), &setuid, 0o4755)?;
    write_file(&rootfs.join("etc/passwd"), PASSWD.as_bytes(), 0o644)?;
    write_file(&rootfs.join("etc/group"), GROUP.as_bytes(), 0o644)?;
    write_file(
        &rootfs.join(NOT_ELF.trim_start_matches('/')),
        b"just text, no #! line\n",
        0o755,
    )?;
    write_file(
        &rootfs.join(WRONG_ARCH_ELF.trim_start_matches('/')),
        &elf_header(ElfKind::Aarch64),
        0o755,
    )?;
    write_file(
        &rootfs.join(ELF32.trim_start_matches('/')),
        &elf_header(ElfKind::I386),
        0o755,
    )
}

#[derive(Debug, Clone, Copy)]
enum ElfKind {
    /// 64-bit, little-endian, EM_AARCH64: the right class, the wrong machine.
    Aarch64,
    /// 32-bit, EM_386: the wrong class.
    I386,
}

/// A minimal but well-formed ELF executable header (no program headers), enough for a
/// loader to read the class and machine and refuse it.
fn elf_header(kind: ElfKind) -> Vec<u8> {
    let (class, machine, header_size): (u8, u16, u16) = match kind {
        ElfKind::Aarch64 => (2, 183, 64),
        ElfKind::I386 => (1, 3, 52),
    };
    let mut bytes = vec![0x7f, b'E', b'L', b'F', class, 1, 1, 0];
    bytes.resize(16, 0);
    bytes.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    bytes.extend_from_slice(&machine.to_le_bytes());
    bytes.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    // Entry, phoff, shoff (word-sized), flags, then the header's own size; the rest zero.
    let word = if class == 2 { 8 } else { 4 };
    bytes.resize(bytes.len() + 3 * word + 4, 0);
    bytes.extend_from_slice(&header_size.to_le_bytes());
    bytes.resize(usize::from(header_size), 0);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crafted_elf_headers_have_their_class_machine_and_size() {
        let aarch64 = elf_header(ElfKind::Aarch64);
        assert_eq!(
            (
                aarch64.len(),
                aarch64[4],
                u16::from_le_bytes([aarch64[18], aarch64[19]])
            ),
            (64, 2, 183)
        );
        assert_eq!(
            u16::from_le_bytes([aarch64[52], aarch64[53]]),
            64,
            "e_ehsize"
        );
        let i386 = elf_header(ElfKind::I386);
        assert_eq!(
            (
                i386.len(),
                i386[4],
                u16::from_le_bytes([i386[18], i386[19]])
            ),
            (52, 1, 3)
        );
        assert_eq!(u16::from_le_bytes([i386[40], i386[41]]), 52, "e_ehsize");
    }
}
