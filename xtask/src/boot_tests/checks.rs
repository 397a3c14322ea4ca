//! What a boot test can assert about one boot.

use super::container_checks::ContainerCheck;
use crate::console::{self, ExitStatus};
use crate::launch::Outcome;
use crate::qemu::{Invocation, Machine, MemorySize};

#[derive(Debug, Clone)]
pub enum Check {
    /// The kernel's `sandbox: exit status N` line says N.
    Status(u8),
    /// The `[  s.micros] ready` line is there.
    Ready,
    /// Some single line contains every needle, ignoring ASCII case.
    Line(&'static [&'static str]),
    /// Some single line contains this text (made at run time, e.g. a digest).
    Text(String),
    /// Lines containing these texts come in this order (e.g. parents before children in
    /// a mount table).
    TextsInOrder(Vec<String>),
    /// After the boot, this host file has this SHA-256 (what the guest wrote reached the host).
    HostFileSha256 {
        path: std::path::PathBuf,
        sha256: String,
    },
    /// What the container printed or left on the host.
    Container(ContainerCheck),
    /// `bootinfo: cmdline-crc32=… len=…` matches the exact `-append` string.
    CmdlineSeen,
    /// `bootinfo: module 0 crc32=… len=…` matches these bytes.
    ModuleSeen { crc32: u32, len: usize },
    /// `bootinfo: usable-memory-kib=N` is within what firmware plausibly keeps of `-m`.
    UsableMemory {
        machine: Machine,
        memory: MemorySize,
    },
}

impl Check {
    pub fn verify(&self, invocation: &Invocation, outcome: &Outcome) -> Result<(), String> {
        let console = outcome.console.as_str();
        match self {
            Check::Status(expected) => match outcome.exit_status() {
                ExitStatus::Reported(code) if code == *expected => Ok(()),
                ExitStatus::Reported(code) => {
                    Err(format!("exit status {code}, expected {expected}"))
                }
                ExitStatus::FromDebugExit(code) => Err(format!(
                    "no `sandbox: exit status` line (isa-debug-exit said {code}), expected {expected}"
                )),
                ExitStatus::Missing => Err(format!(
                    "sandbox died without an exit status (QEMU {}), expected {expected}",
                    crate::run::describe_qemu_end(outcome.qemu_code)
                )),
            },
            Check::Ready => match console::ready_seconds(console) {
                Some(_) => Ok(()),
                None => Err("no `[  s.micros] ready` line".to_owned()),
            },
            Check::Line(needles) => {
                let wanted: Vec<String> = needles
                    .iter()
                    .map(|needle| needle.to_ascii_lowercase())
                    .collect();
                let found = console.lines().any(|line| {
                    let line = line.to_ascii_lowercase();
                    wanted.iter().all(|needle| line.contains(needle.as_str()))
                });
                if found {
                    Ok(())
                } else {
                    Err(format!("no line containing all of {needles:?}"))
                }
            }
            Check::Text(text) => match console.lines().any(|line| line.contains(text.as_str())) {
                true => Ok(()),
                false => Err(format!("no line containing {text:?}")),
            },
            Check::TextsInOrder(texts) => {
                let mut lines = console.lines();
                for text in texts {
                    if !lines.any(|line| line.contains(text.as_str())) {
                        return Err(format!(
                            "no line containing {text:?} after the previous ones in {texts:?}"
                        ));
                    }
                }
                Ok(())
            }
            Check::HostFileSha256 { path, sha256 } => match std::fs::read(path) {
                Ok(bytes) if crate::digest::sha256_hex(&bytes) == *sha256 => Ok(()),
                Ok(_) => Err(format!(
                    "{} on the host does not have SHA-256 {sha256}",
                    path.display()
                )),
                Err(error) => Err(format!("{} on the host: {error}", path.display())),
            },
            Check::Container(check) => check.verify(console),
            Check::CmdlineSeen => {
                let cmdline = invocation.cmdline.as_bytes();
                expect_crc(
                    console,
                    "cmdline-crc32",
                    crc32fast::hash(cmdline),
                    cmdline.len(),
                )
            }
            Check::ModuleSeen { crc32, len } => expect_crc(console, "module 0 crc32", *crc32, *len),
            Check::UsableMemory { machine, memory } => {
                let usable = bootinfo_number(console, "usable-memory-kib")?;
                let floor = memory.kib().saturating_sub(firmware_reserve_kib(*machine));
                if (floor..=memory.kib()).contains(&usable) {
                    Ok(())
                } else {
                    Err(format!(
                        "usable-memory-kib={usable}, expected {floor}..={} for -m {memory}",
                        memory.kib()
                    ))
                }
            }
        }
    }
}

/// The most RAM below `-m` that the memory map may withhold from the kernel. Measured on
/// QEMU 7.2 at 64M, 128M, 3G, 3.5G and 4G: microvm withholds exactly the legacy hole
/// 0x9fc00–0x100000 (385 KiB); q35 with SeaBIOS also keeps the top 128 KiB of low RAM
/// (513 KiB). The bounds leave slack for other QEMU builds, not for lost megabytes.
pub fn firmware_reserve_kib(machine: Machine) -> u64 {
    match machine {
        Machine::Microvm => 512,
        Machine::Q35 => 1024,
    }
}

fn expect_crc(console: &str, head: &str, crc32: u32, len: usize) -> Result<(), String> {
    let fields = console::bootinfo_fields(console, head)
        .ok_or_else(|| format!("no `bootinfo: {head}=` line"))?;
    let key = head.rsplit(' ').next().unwrap_or(head);
    let seen = (fields.get(key).copied(), fields.get("len").copied());
    let expected_crc = format!("{crc32:08x}");
    let expected_len = len.to_string();
    if seen == (Some(expected_crc.as_str()), Some(expected_len.as_str())) {
        Ok(())
    } else {
        Err(format!(
            "bootinfo {head}: saw {}={} len={}, expected {expected_crc} len={expected_len}",
            key,
            seen.0.unwrap_or("?"),
            seen.1.unwrap_or("?")
        ))
    }
}

fn bootinfo_number(console: &str, key: &str) -> Result<u64, String> {
    console::bootinfo_fields(console, key)
        .and_then(|fields| fields.get(key)?.parse().ok())
        .ok_or_else(|| format!("no `bootinfo: {key}=N` line"))
}
