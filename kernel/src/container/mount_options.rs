//! A spec mount's `options` → the flags the plan honours and the data options tmpfs takes.
//!
//! Sits under `plan` (DESIGN "Mount namespace" rules 3 and 4): `ro`, `rw`, `noatime`,
//! `noexec`, `nosuid`, `nodev`, `nodiratime` are honoured (`nodev` as Linux: device nodes
//! on the mount cannot be opened); `bind`, `rbind`, `atime`, `exec`, `dev`, `diratime` and
//! `relatime` (how atime is kept here anyway) accepted; for tmpfs-like
//! filesystems `mode`, `uid`, `gid`, `size`, `nr_inodes` are read (runc hands them to the
//! kernel's tmpfs as mount data, so a spec that limits inodes expects the limit); anything
//! else becomes a
//! [`PlanWarning`] and is ignored. A data option the sandbox reads but cannot understand
//! (`mode=9`) is an error naming it: honouring it wrongly would be worse than stopping.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use vfs_core::MountFlags;
use vfs_core::tmpfs::TmpfsOptions;

use super::error::{FieldProblem, SpecError};
use crate::fs::devpts::DevptsOptions;

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
    /// devpts's: `newinstance`, `ptmxmode`, `mode`, `uid`, `gid`, `max` (runc hands them
    /// to the kernel's devpts).
    Devpts,
}

/// A mount's options, read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedOptions {
    pub flags: MountFlags,
    pub tmpfs: TmpfsOptions,
    /// Linux's defaults unless the options say otherwise (`ptmxmode=000`: a devpts
    /// mounted without `ptmxmode` has an unusable `ptmx`, as on Linux).
    pub devpts: DevptsOptions,
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
            "ro" => flags.insert(MountFlags::RDONLY),
            "rw" => flags.remove(MountFlags::RDONLY),
            "noatime" => flags.insert(MountFlags::NOATIME),
            "atime" => flags.remove(MountFlags::NOATIME),
            "noexec" => flags.insert(MountFlags::NOEXEC),
            "exec" => flags.remove(MountFlags::NOEXEC),
            "nosuid" => flags.insert(MountFlags::NOSUID),
            "suid" => flags.remove(MountFlags::NOSUID),
            "nodev" => flags.insert(MountFlags::NODEV),
            "dev" => flags.remove(MountFlags::NODEV),
            "nodiratime" => flags.insert(MountFlags::NODIRATIME),
            "diratime" => flags.remove(MountFlags::NODIRATIME),
            // Linux's default, and how this kernel keeps atime: relatime clears noatime.
            "relatime" => flags.remove(MountFlags::NOATIME),
            // The channel rule already made these a bind mount; nothing more to do.
            "bind" | "rbind" => {}
            _ => {
                let tmpfs_option = option
                    .split_once('=')
                    .filter(|_| data == DataOptions::Tmpfs);
                let devpts_option = (data == DataOptions::Devpts).then_some(option.as_str());
                let read = match (tmpfs_option, devpts_option) {
                    (_, Some(option)) => parsed.devpts.set(option).map_err(|_| {
                        SpecError::field(
                            field(),
                            FieldProblem::BadValue {
                                value: option.into(),
                                expected: "ptmxmode=OCTAL, mode=OCTAL, uid=NUMBER, gid=NUMBER or max=NUMBER",
                            },
                        )
                    })?,
                    (tmpfs_option, None) => match tmpfs_option {
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
                    },
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

/// Stores one `key=value` of the five the spec may give (DESIGN rule 3) with tmpfs's own
/// parser; `Ok(false)` for another key (warned about and dropped), `Err(expected)` for a
/// value it cannot read. Stricter than `mount(2)` on `mode`: a mode beyond 7777 is refused
/// rather than masked, as a spec that says it means something we would not do.
fn read_tmpfs_option(
    tmpfs: &mut TmpfsOptions,
    key: &str,
    value: &str,
) -> Result<bool, &'static str> {
    let expected = match key {
        "mode" => "mode=OCTAL, at most 7777",
        "uid" => "uid=NUMBER",
        "gid" => "gid=NUMBER",
        "size" => "size=BYTES with an optional k, m, g, t, p or e suffix, or N% of memory",
        "nr_inodes" => "nr_inodes=COUNT with an optional k, m, g, t, p or e suffix",
        _ => return Ok(false),
    };
    if key == "mode" && !u32::from_str_radix(value, 8).is_ok_and(|mode| mode <= 0o7777) {
        return Err(expected);
    }
    tmpfs.set(key, value).map_err(|_| expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfs_core::tmpfs::TmpfsSize;

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
        assert_eq!(
            parsed.unwrap().flags,
            MountFlags::RDONLY | MountFlags::NOATIME | MountFlags::NOEXEC | MountFlags::NOSUID
        );
        assert!(warnings.is_empty());
        let (parsed, _) = read(
            &["ro", "noatime", "noexec", "rw", "atime", "exec"],
            DataOptions::None,
        );
        assert_eq!(parsed.unwrap().flags, MountFlags::empty());
    }

    #[test]
    fn device_and_directory_atime_flags_are_honoured() {
        let (parsed, warnings) = read(
            &["nodev", "nodiratime", "noatime", "relatime", "nosuid"],
            DataOptions::None,
        );
        assert_eq!(
            parsed.unwrap().flags,
            MountFlags::NODEV | MountFlags::NODIRATIME | MountFlags::NOSUID
        );
        assert!(warnings.is_empty());
        let (parsed, _) = read(
            &["nodev", "nodiratime", "nosuid", "dev", "diratime", "suid"],
            DataOptions::None,
        );
        assert_eq!(parsed.unwrap().flags, MountFlags::empty());
    }

    #[test]
    fn unknown_options_warn_with_their_field() {
        let (parsed, warnings) = read(&["ro", "strictatime", "mode=755"], DataOptions::None);
        assert_eq!(parsed.unwrap().flags, MountFlags::RDONLY);
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
                size: Some(TmpfsSize::Bytes(64 << 20)),
                nr_inodes: Some(5),
            }
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn sizes_read_as_tmpfs_reads_them() {
        for (option, size) in [
            ("size=2m", TmpfsSize::Bytes(2 << 20)),
            ("size=1t", TmpfsSize::Bytes(1 << 40)),
            ("size=50%", TmpfsSize::PercentOfMemory(50)),
        ] {
            let (parsed, warnings) = read(&[option], DataOptions::Tmpfs);
            assert_eq!(parsed.unwrap().tmpfs.size, Some(size), "{option}");
            assert!(warnings.is_empty());
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
            "nr_inodes=5%",
        ] {
            let (parsed, _) = read(&["ro", option], DataOptions::Tmpfs);
            let error = parsed.unwrap_err();
            assert_eq!(error.field_name(), Some("mounts[2].options[1]"), "{option}");
            assert!(error.to_string().contains(option), "{error}");
        }
    }
}
