//! The virtio-9p boot test (`test=9p`): a host directory shared twice (`rootfs` exclusive,
//! `m0` shared) on each machine; the guest lists it, hashes every file, writes a file
//! larger than one 9p message and creates files behind each mount's back.
//!
//! Host side: the tree is made fresh for each boot, every file's SHA-256 is computed here
//! and must appear in the guest's output, and what the guest wrote must be on the host
//! afterwards, byte for byte. For coherence the guest also waits (marker file) for the
//! host itself to add a file, which the shared mount must see.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::Case;
use super::checks::Check;
use crate::digest::sha256_hex;
use crate::qemu::{Accel, Machine, MemorySize};

/// What the guest writes (`kernel/src/nine_p_check.rs` makes the same bytes).
fn guest_file() -> Vec<u8> {
    (0..(1usize << 20) + 7)
        .map(|i| (i * 31 % 251) as u8)
        .collect()
}

/// The shared tree: a small file, one larger than a 512 KiB message, an empty file, a
/// symlink and a subdirectory. Returns the files' names and contents.
fn write_tree(dir: &Path) -> Result<Vec<(&'static str, Vec<u8>)>> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir.join("sub"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let big: Vec<u8> = (0..700_001u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let files = vec![
        ("small.txt", b"hello over 9p\n".to_vec()),
        ("big.bin", big),
        ("empty", Vec::new()),
    ];
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).with_context(|| format!("writing {name}"))?;
    }
    std::os::unix::fs::symlink("small.txt", dir.join("link")).context("making the symlink")?;
    Ok(files)
}

/// The host's part of the coherence check: once the guest's marker appears in `dir`, add
/// `late-from-host.txt` there, as another program on the host would. Runs beside the
/// boot (the thread gives up after 20 minutes, or ends with xtask).
fn add_host_file_when_asked(dir: PathBuf) {
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20 * 60);
        while std::time::Instant::now() < deadline {
            if dir.join("guest-waits-for-host").exists() {
                let _ = std::fs::write(dir.join("late-from-host.txt"), b"added by the host\n");
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
}

/// One case per machine, each with its own fresh directory under `fixtures`.
pub fn cases(accel: Accel, fixtures: &Path) -> Result<Vec<Case>> {
    Machine::ALL
        .into_iter()
        .map(|machine| {
            let dir: PathBuf = fixtures.join(format!("9p-{machine}"));
            let files = write_tree(&dir)?;
            add_host_file_when_asked(dir.clone());
            let mut case = Case::new("9p", machine, accel)
                .memory(MemorySize::from_mib(256))
                .options("test=9p")
                .share("rootfs", &dir)
                .share("m0", &dir);
            for (name, bytes) in files {
                case = case.expect(Check::Text(format!("9p: sha256 {name} {}", sha256_hex(&bytes))));
            }
            let written = sha256_hex(&guest_file());
            Ok(case
                .expect(Check::Line(&["9p: entry link symlink"]))
                .expect(Check::Line(&["9p: entry sub directory"]))
                .expect(Check::Text(format!("9p: wrote guest-wrote.bin 1048583 bytes sha256 {written} read back through m0: same")))
                .expect(Check::Line(&["shared mount sees a file created behind its back: yes"]))
                .expect(Check::Line(&["exclusive mount sees a file created behind its back: no (cached negative entry)"]))
                .expect(Check::Line(&["shared mount sees the file the host added: yes"]))
                .expect(Check::Line(&["exclusive mount sees the file the host added: no (cached negative entry)"]))
                .expect(Check::Line(&["9p: ok"]))
                .expect(Check::Status(0))
                .expect(Check::HostFileSha256 { path: dir.join("guest-wrote.bin"), sha256: written })
                .expect(Check::HostFileSha256 { path: dir.join("late-from-rootfs.txt"), sha256: sha256_hex(b"written through rootfs\n") })
                .expect(Check::HostFileSha256 { path: dir.join("late-from-m0.txt"), sha256: sha256_hex(b"written through m0\n") }))
        })
        .collect()
}
