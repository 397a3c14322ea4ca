//! Layer 2 (a filesystem): tmpfs, ramfs with Linux tmpfs's mount options (`size`,
//! `nr_inodes`, `mode`, `uid`, `gid`), `ENOSPC` when a limit is reached, and `statfs`
//! and `/proc/self/mounts` reporting them the way Linux does.

use crate::attr::fs_magic;
use crate::errno::{Errno, Result};
use crate::ramfs::{Limits, PAGE_SIZE, RamFs, RamFsConfig};
use crate::time::ClockRef;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use log::warn;

/// Parsed tmpfs options. `None` limits are unlimited (Linux's `size=0`/`nr_inodes=0`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TmpfsOptions {
    /// Bytes, rounded up to whole pages.
    pub size: Option<u64>,
    pub nr_inodes: Option<u64>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Default for TmpfsOptions {
    fn default() -> Self {
        TmpfsOptions {
            size: None,
            nr_inodes: None,
            mode: 0o1777,
            uid: 0,
            gid: 0,
        }
    }
}

/// `memparse`: a number with an optional k/m/g/t suffix, or a percentage of `total_memory`.
fn parse_size(text: &str, total_memory: u64) -> Result<u64> {
    if let Some(percent) = text.strip_suffix('%') {
        let percent: u64 = percent.parse().map_err(|_| Errno::EINVAL)?;
        return Ok(total_memory / 100 * percent);
    }
    let (digits, shift) = match text.as_bytes().last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 10),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 20),
        Some(b'g' | b'G') => (&text[..text.len() - 1], 30),
        Some(b't' | b'T') => (&text[..text.len() - 1], 40),
        _ => (text, 0),
    };
    let value: u64 = digits.parse().map_err(|_| Errno::EINVAL)?;
    value.checked_mul(1u64 << shift).ok_or(Errno::EINVAL)
}

impl TmpfsOptions {
    /// Parses `size=64m,mode=1777,uid=0,gid=0,nr_inodes=1k` (the `data` of `mount(2)`).
    /// Unknown options are `EINVAL`, as Linux's tmpfs says; the caller drops what the
    /// spec allows it to drop before calling. `total_memory` resolves `size=N%`.
    pub fn parse(data: &str, total_memory: u64) -> Result<TmpfsOptions> {
        let mut options = TmpfsOptions::default();
        for option in data.split(',').filter(|option| !option.is_empty()) {
            let (key, value) = option.split_once('=').ok_or(Errno::EINVAL)?;
            match key {
                "size" => {
                    options.size = Some(parse_size(value, total_memory)?).filter(|&size| size != 0)
                }
                "nr_inodes" => {
                    options.nr_inodes =
                        Some(parse_size(value, u64::MAX)?).filter(|&count| count != 0)
                }
                "mode" => {
                    options.mode =
                        u32::from_str_radix(value, 8).map_err(|_| Errno::EINVAL)? & 0o7777
                }
                "uid" => options.uid = value.parse().map_err(|_| Errno::EINVAL)?,
                "gid" => options.gid = value.parse().map_err(|_| Errno::EINVAL)?,
                _ => {
                    warn!("tmpfs: unknown option {option}");
                    return Err(Errno::EINVAL);
                }
            }
        }
        Ok(options)
    }

    /// The options part of `/proc/self/mounts`, as `shmem_show_options` prints it.
    pub fn to_mount_options(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(size) = self.size {
            parts.push(format!(
                "size={}k",
                size.div_ceil(PAGE_SIZE as u64) * (PAGE_SIZE as u64 / 1024)
            ));
        }
        if let Some(count) = self.nr_inodes {
            parts.push(format!("nr_inodes={count}"));
        }
        if self.mode != 0o1777 {
            parts.push(format!("mode={:03o}", self.mode));
        }
        if self.uid != 0 {
            parts.push(format!("uid={}", self.uid));
        }
        if self.gid != 0 {
            parts.push(format!("gid={}", self.gid));
        }
        parts.join(",")
    }
}

/// Makes a tmpfs instance.
pub fn new_tmpfs(options: &TmpfsOptions, dev: u64, clock: ClockRef) -> Result<Arc<RamFs>> {
    let config = RamFsConfig {
        fs_type: "tmpfs",
        magic: fs_magic::TMPFS_MAGIC,
        limits: Limits {
            max_pages: options.size.map(|size| size.div_ceil(PAGE_SIZE as u64)),
            max_inodes: options.nr_inodes,
        },
        root_mode: options.mode,
        root_uid: options.uid,
        root_gid: options.gid,
        mount_options: options.to_mount_options(),
    };
    RamFs::new(config, dev, clock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_linux_option_strings() {
        let options =
            TmpfsOptions::parse("size=64m,mode=755,uid=1000,gid=100,nr_inodes=1k", 0).unwrap();
        assert_eq!(
            options,
            TmpfsOptions {
                size: Some(64 << 20),
                nr_inodes: Some(1024),
                mode: 0o755,
                uid: 1000,
                gid: 100
            }
        );
        assert_eq!(
            options.to_mount_options(),
            "size=65536k,nr_inodes=1024,mode=755,uid=1000,gid=100"
        );
        assert_eq!(
            TmpfsOptions::parse("size=50%", 1000).unwrap().size,
            Some(500)
        );
        assert_eq!(TmpfsOptions::parse("", 0).unwrap().to_mount_options(), "");
    }

    #[test]
    fn rejects_unknown_or_malformed_options() {
        assert_eq!(TmpfsOptions::parse("huge=always", 0), Err(Errno::EINVAL));
        assert_eq!(TmpfsOptions::parse("size=lots", 0), Err(Errno::EINVAL));
        assert_eq!(TmpfsOptions::parse("mode", 0), Err(Errno::EINVAL));
    }
}
