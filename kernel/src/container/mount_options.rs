//! A spec mount's `options` → the flags the plan honours and the data options tmpfs takes.
//!
//! Sits under `plan` (DESIGN "Mount namespace" rules 3 and 4): `ro`, `rw`, `noatime`,
//! `noexec`, `nosuid` are honoured; `bind`, `rbind`, `atime`, `exec` accepted; for tmpfs-like
//! filesystems `mode`, `uid`, `gid`, `size` are read; anything else becomes a
//! [`PlanWarning`] and is ignored. A data option the sandbox reads but cannot understand
//! (`mode=9`) is an error naming it: honouring it wrongly would be worse than stopping.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use bitflags::bitflags;

use super::error::{FieldProblem, SpecError};

bitflags! {
    /// Per-mount flags the namespace enforces.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct MountFlags: u8 {
        const READONLY = 1 << 0;
        const NOATIME = 1 << 1;
        const NOEXEC = 1 << 2;
        const NOSUID = 1 << 3;
    }
}

/// tmpfs's own options (also the `dev` filesystem's, which is a tmpfs with device nodes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TmpfsOptions {
    /// Permission bits of the root directory (≤ 0o7777).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Bytes.
    pub size: Option<u64>,
}

/// Something in the spec the sandbox does not do, said once at boot and otherwise ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanWarning {
    /// `field` is the option's JSON path, e.g. `mounts[2].options[1]`.
    IgnoredOption { field: String, option: String },
    /// The mount is skipped.
    UnknownType {
        field: String,
        mount_type: String,
        destination: String,
    },
}

impl fmt::Display for PlanWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanWarning::IgnoredOption { field, option } => {
                write!(f, "{field}: option {option:?} not supported, ignored")
            }
            PlanWarning::UnknownType {
                field,
                mount_type,
                destination,
            } => {
                write!(
                    f,
                    "{field}: filesystem type {mount_type:?} not supported; mount at {destination} skipped"
                )
            }
        }
    }
}

/// Whether the filesystem takes tmpfs's data options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataOptions {
    None,
    Tmpfs,
}

/// A mount's options, read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedOptions {
    pub flags: MountFlags,
    pub tmpfs: TmpfsOptions,
}

/// Reads `options`, the JSON field `field` (e.g. `mounts[2].options`); later options win
/// over earlier ones (`ro,rw` is writable), as with mount(8).
pub fn parse(
    field: &str,
    options: &[String],
    data: DataOptions,
    warnings: &mut Vec<PlanWarning>,
) -> Result<ParsedOptions, SpecError> {
    let mut parsed = ParsedOptions::default();
    for (index, option) in options.iter().enumerate() {
        let field = || format!("{field}[{index}]");
        let flags = &mut parsed.flags;
        match option.as_str() {
            "ro" => flags.insert(MountFlags::READONLY),
            "rw" => flags.remove(MountFlags::READONLY),
            "noatime" => flags.insert(MountFlags::NOATIME),
            "atime" => flags.remove(MountFlags::NOATIME),
            "noexec" => flags.insert(MountFlags::NOEXEC),
            "exec" => flags.remove(MountFlags::NOEXEC),
            "nosuid" => flags.insert(MountFlags::NOSUID),
            // The channel rule already made these a bind mount; nothing more to do.
            "bind" | "rbind" => {}
            _ => {
                let tmpfs_option = option
                    .split_once('=')
                    .filter(|_| data == DataOptions::Tmpfs);
                let read = match tmpfs_option {
                    Some((key, value)) => read_tmpfs_option(&mut parsed.tmpfs, key, value)
                        .map_err(|expected| {
                            SpecError::field(
                                field(),
                                FieldProblem::BadValue {
                                    value: option.clone(),
                                    expected,
                                },
                            )
                        })?,
                    None => false,
                };
                if !read {
                    warnings.push(PlanWarning::IgnoredOption {
                        field: field(),
                        option: option.clone(),
                    });
                }
            }
        }
    }
    Ok(parsed)
}

/// Stores one `key=value`; `Ok(false)` for a key tmpfs does not take, `Err(expected)` for a
/// value it cannot read.
fn read_tmpfs_option(
    tmpfs: &mut TmpfsOptions,
    key: &str,
    value: &str,
) -> Result<bool, &'static str> {
    match key {
        "mode" => {
            let mode = u32::from_str_radix(value, 8)
                .ok()
                .filter(|mode| *mode <= 0o7777);
            tmpfs.mode = Some(mode.ok_or("mode=OCTAL, at most 7777")?);
        }
        "uid" => tmpfs.uid = Some(value.parse().map_err(|_| "uid=NUMBER")?),
        "gid" => tmpfs.gid = Some(value.parse().map_err(|_| "gid=NUMBER")?),
        "size" => {
            tmpfs.size =
                Some(parse_size(value).ok_or("size=BYTES with an optional k, m or g suffix")?)
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// `65536k` → 67108864. Suffixes are binary and case-blind, as tmpfs reads them.
fn parse_size(value: &str) -> Option<u64> {
    let (digits, shift) = match value.as_bytes().last()?.to_ascii_lowercase() {
        b'k' => (&value[..value.len() - 1], 10),
        b'm' => (&value[..value.len() - 1], 20),
        b'g' => (&value[..value.len() - 1], 30),
        _ => (value, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

impl TmpfsOptions {
    /// `/tmp`'s: world-writable with the sticky bit.
    pub fn tmp() -> TmpfsOptions {
        TmpfsOptions {
            mode: Some(0o1777),
            ..TmpfsOptions::default()
        }
    }
}

/// Linux's `/proc/mounts` style: `ro` or `rw`, then the others (`rw,nosuid`).
impl fmt::Display for MountFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.contains(MountFlags::READONLY) {
            "ro"
        } else {
            "rw"
        })?;
        for (flag, name) in [
            (MountFlags::NOATIME, "noatime"),
            (MountFlags::NOEXEC, "noexec"),
            (MountFlags::NOSUID, "nosuid"),
        ] {
            if self.contains(flag) {
                write!(f, ",{name}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(options: &[&str]) -> Vec<String> {
        options.iter().map(|option| (*option).to_owned()).collect()
    }

    fn read(
        options: &[&str],
        data: DataOptions,
    ) -> (Result<ParsedOptions, SpecError>, Vec<PlanWarning>) {
        let mut warnings = Vec::new();
        let parsed = parse("mounts[2].options", &strings(options), data, &mut warnings);
        (parsed, warnings)
    }

    #[test]
    fn flags_later_wins() {
        let (parsed, warnings) = read(
            &["ro", "noatime", "noexec", "nosuid", "bind", "rbind"],
            DataOptions::None,
        );
        assert_eq!(parsed.unwrap().flags, MountFlags::all());
        assert!(warnings.is_empty());
        let (parsed, _) = read(
            &["ro", "noatime", "noexec", "rw", "atime", "exec"],
            DataOptions::None,
        );
        assert_eq!(parsed.unwrap().flags, MountFlags::empty());
    }

    #[test]
    fn unknown_options_warn_with_their_field() {
        let (parsed, warnings) = read(&["ro", "strictatime", "mode=755"], DataOptions::None);
        assert_eq!(parsed.unwrap().flags, MountFlags::READONLY);
        assert_eq!(
            warnings,
            [
                PlanWarning::IgnoredOption {
                    field: "mounts[2].options[1]".into(),
                    option: "strictatime".into()
                },
                PlanWarning::IgnoredOption {
                    field: "mounts[2].options[2]".into(),
                    option: "mode=755".into()
                },
            ]
        );
        assert_eq!(
            warnings[0].to_string(),
            "mounts[2].options[1]: option \"strictatime\" not supported, ignored"
        );
    }

    #[test]
    fn tmpfs_options_are_read() {
        let (parsed, warnings) = read(
            &[
                "nosuid",
                "mode=1777",
                "uid=1000",
                "gid=5",
                "size=65536k",
                "nr_inodes=5",
            ],
            DataOptions::Tmpfs,
        );
        let parsed = parsed.unwrap();
        assert_eq!(parsed.flags, MountFlags::NOSUID);
        assert_eq!(
            parsed.tmpfs,
            TmpfsOptions {
                mode: Some(0o1777),
                uid: Some(1000),
                gid: Some(5),
                size: Some(64 << 20)
            }
        );
        assert_eq!(warnings.len(), 1, "nr_inodes is dropped with a warning");
    }

    #[test]
    fn sizes() {
        for (text, bytes) in [
            ("0", Some(0)),
            ("4096", Some(4096)),
            ("1K", Some(1024)),
            ("2m", Some(2 << 20)),
            ("3G", Some(3 << 30)),
        ] {
            assert_eq!(parse_size(text), bytes, "{text}");
        }
        for text in ["", "k", "1t", "-1", "1.5m", "50%", "99999999999999999999g"] {
            assert_eq!(parse_size(text), None, "{text}");
        }
    }

    #[test]
    fn unreadable_tmpfs_values_are_errors_naming_the_option() {
        for option in [
            "mode=9",
            "mode=17777",
            "mode=",
            "uid=x",
            "gid=-1",
            "size=lots",
        ] {
            let (parsed, _) = read(&["ro", option], DataOptions::Tmpfs);
            let error = parsed.unwrap_err();
            assert_eq!(error.field_name(), Some("mounts[2].options[1]"), "{option}");
            assert!(error.to_string().contains(option), "{error}");
        }
    }

    #[test]
    fn flags_display() {
        assert_eq!(MountFlags::empty().to_string(), "rw");
        assert_eq!(
            (MountFlags::READONLY | MountFlags::NOSUID).to_string(),
            "ro,nosuid"
        );
        assert_eq!(MountFlags::NOEXEC.to_string(), "rw,noexec");
    }
}
