//! tmpfs's options, the one type and parser for every way a tmpfs is asked for: the
//! `data` of `mount(2)`, the container spec's mount options (kernel `container::plan`),
//! and the kernel's own tmpfs mounts. Sizes read as Linux's `shmem_parse_one` reads them
//! (`memparse`: decimal, `0x` hex or `0` octal, an optional `k`/`m`/`g`/`t`/`p`/`e`
//! suffix in either case; for `size`, also `N%` of the machine's memory).

use crate::errno::{Errno, Result};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A tmpfs's size limit as written: bytes, or a percentage of memory (`size=50%`), which
/// the constructor resolves against the machine's memory, as Linux does at mount time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TmpfsSize {
    Bytes(u64),
    PercentOfMemory(u64),
}

impl TmpfsSize {
    /// `64m`, `0x1000`, `1G`, `50%`; `EINVAL` for anything else or an overflow.
    pub fn parse(text: &str) -> Result<TmpfsSize> {
        match text.strip_suffix('%') {
            Some(percent) => memparse(percent).map(TmpfsSize::PercentOfMemory),
            None => memparse(text).map(TmpfsSize::Bytes),
        }
    }

    /// Bytes, with a percentage taken of `total_memory` (bytes).
    pub fn bytes(self, total_memory: u64) -> u64 {
        match self {
            TmpfsSize::Bytes(bytes) => bytes,
            TmpfsSize::PercentOfMemory(percent) => {
                let bytes = u128::from(percent) * u128::from(total_memory) / 100;
                u64::try_from(bytes).unwrap_or(u64::MAX)
            }
        }
    }
}

impl fmt::Display for TmpfsSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TmpfsSize::Bytes(bytes) => write!(f, "{bytes}"),
            TmpfsSize::PercentOfMemory(percent) => write!(f, "{percent}%"),
        }
    }
}

/// Linux's `memparse`, strictly: a number (`simple_strtoull` base 0) and an optional
/// binary suffix, nothing after it; `EINVAL` without digits or on overflow.
pub fn memparse(text: &str) -> Result<u64> {
    let (digits, shift) = match text.as_bytes().last().map(u8::to_ascii_lowercase) {
        Some(b'k') => (&text[..text.len() - 1], 10),
        Some(b'm') => (&text[..text.len() - 1], 20),
        Some(b'g') => (&text[..text.len() - 1], 30),
        Some(b't') => (&text[..text.len() - 1], 40),
        Some(b'p') => (&text[..text.len() - 1], 50),
        Some(b'e') => (&text[..text.len() - 1], 60),
        _ => (text, 0),
    };
    let (digits, radix) = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (hex, 16)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (&digits[1..], 8)
    } else {
        (digits, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(Errno::EINVAL);
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .and_then(|value| value.checked_mul(1u64 << shift))
        .ok_or(Errno::EINVAL)
}

/// tmpfs's options; `None` is "not given": `mode` 01777, uid and gid 0, and Linux's
/// default limits (half of memory, and as many inodes as half of memory has pages), for
/// `mount(2)` and the container's mounts alike. `size=0` and `nr_inodes=0` are given, and
/// mean unlimited, as on Linux.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TmpfsOptions {
    pub size: Option<TmpfsSize>,
    pub nr_inodes: Option<u64>,
    /// Permission bits of the root directory.
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl TmpfsOptions {
    /// `/tmp`'s: world-writable with the sticky bit.
    pub fn tmp() -> TmpfsOptions {
        TmpfsOptions {
            mode: Some(0o1777),
            ..TmpfsOptions::default()
        }
    }

    /// Parses `size=64m,mode=1777,uid=0,gid=0,nr_inodes=1k` (the `data` of `mount(2)`).
    /// Unknown options are `EINVAL`, as Linux's tmpfs says.
    pub fn parse(data: &str) -> Result<TmpfsOptions> {
        let mut options = TmpfsOptions::default();
        for option in data.split(',').filter(|option| !option.is_empty()) {
            let (key, value) = option.split_once('=').ok_or(Errno::EINVAL)?;
            if !options.set(key, value)? {
                log::warn!("tmpfs: unknown option {option}");
                return Err(Errno::EINVAL);
            }
        }
        Ok(options)
    }

    /// Stores one `key=value`: `Ok(false)` for a key tmpfs does not take, `EINVAL` for a
    /// value it cannot read. `mode` keeps its permission bits (`& 0o7777`), as Linux does.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        match key {
            "size" => self.size = Some(TmpfsSize::parse(value)?),
            "nr_inodes" => self.nr_inodes = Some(memparse(value)?),
            "mode" => {
                self.mode = Some(u32::from_str_radix(value, 8).map_err(|_| Errno::EINVAL)? & 0o7777)
            }
            "uid" => self.uid = Some(value.parse().map_err(|_| Errno::EINVAL)?),
            "gid" => self.gid = Some(value.parse().map_err(|_| Errno::EINVAL)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The options part of `/proc/self/mounts`, as `shmem_show_options` prints it: the
    /// limits (`max_pages` pages, `max_inodes`) only where they differ from the defaults
    /// (`None` where they are the default), then the root's mode and owner.
    pub(super) fn mount_options(
        &self,
        max_pages: Option<u64>,
        max_inodes: Option<u64>,
        page_size: u64,
    ) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(pages) = max_pages {
            parts.push(format!("size={}k", pages * (page_size / 1024)));
        }
        if let Some(count) = max_inodes {
            parts.push(format!("nr_inodes={count}"));
        }
        if let Some(mode) = self.mode.filter(|&mode| mode != 0o1777) {
            parts.push(format!("mode={mode:03o}"));
        }
        if let Some(uid) = self.uid.filter(|&uid| uid != 0) {
            parts.push(format!("uid={uid}"));
        }
        if let Some(gid) = self.gid.filter(|&gid| gid != 0) {
            parts.push(format!("gid={gid}"));
        }
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_linux_option_strings() {
        let options =
            TmpfsOptions::parse("size=64m,mode=755,uid=1000,gid=100,nr_inodes=1k").unwrap();
        assert_eq!(
            options,
            TmpfsOptions {
                size: Some(TmpfsSize::Bytes(64 << 20)),
                nr_inodes: Some(1024),
                mode: Some(0o755),
                uid: Some(1000),
                gid: Some(100)
            }
        );
        assert_eq!(
            options.mount_options(Some(16384), Some(1024), 4096),
            "size=65536k,nr_inodes=1024,mode=755,uid=1000,gid=100"
        );
        let half = TmpfsOptions::parse("size=50%").unwrap();
        assert_eq!(half.size, Some(TmpfsSize::PercentOfMemory(50)));
        assert_eq!(half.size.unwrap().bytes(1000), 500);
        let empty = TmpfsOptions::parse("").unwrap();
        assert_eq!(empty.mount_options(None, None, 4096), "");
    }

    #[test]
    fn rejects_unknown_or_malformed_options() {
        assert_eq!(TmpfsOptions::parse("huge=always"), Err(Errno::EINVAL));
        assert_eq!(TmpfsOptions::parse("size=lots"), Err(Errno::EINVAL));
        assert_eq!(TmpfsOptions::parse("mode"), Err(Errno::EINVAL));
        assert_eq!(TmpfsOptions::parse("nr_inodes=5%"), Err(Errno::EINVAL));
    }

    #[test]
    fn sizes_read_as_memparse() {
        for (text, bytes) in [
            ("0", 0),
            ("4096", 4096),
            ("1K", 1024),
            ("2m", 2 << 20),
            ("3G", 3 << 30),
            ("1t", 1 << 40),
            ("1P", 1 << 50),
            ("2e", 2 << 60),
            ("0x10", 16),
            ("0x10k", 16 << 10),
            ("010", 8),
        ] {
            assert_eq!(
                TmpfsSize::parse(text),
                Ok(TmpfsSize::Bytes(bytes)),
                "{text}"
            );
        }
        assert_eq!(TmpfsSize::parse("50%"), Ok(TmpfsSize::PercentOfMemory(50)));
        for text in [
            "",
            "k",
            "%",
            "-1",
            "1.5m",
            "1x",
            "0x",
            "09",
            "99999999999999999999g",
            "16e",
            "1k2",
        ] {
            assert_eq!(TmpfsSize::parse(text), Err(Errno::EINVAL), "{text}");
        }
        assert_eq!(TmpfsSize::PercentOfMemory(200).bytes(u64::MAX), u64::MAX);
    }
}
