//! The host half of the 9p channel rule: which directory each virtio-9p device shares.
//!
//! DESIGN "9p channel assignment": the root takes `rootfs`; each bind mount (type `bind`, or
//! `bind`/`rbind` among its options) takes `m<i>`, i counting bind mounts in spec order.
//! Written here from the JSON on purpose, not borrowed from the kernel's plan compiler: the
//! agreement test in `tests` runs both on the same specs, which is only a test if they are
//! two implementations.
//!
//! QEMU's `local` fsdev shares directories only. A bind mount of a *file* shares the file's
//! directory, and the guest is told the file's name with `bind_file=m<i>:NAME` on the
//! command line; the guest mounts just that file (`kernel::container::BindMount::file`).

use std::path::{Path, PathBuf};

use kernel::container::{Channel, FileBind, ShareAlias};
use serde_json::Value;

use super::error::BundleError;
use crate::qemu::Share;

/// One channel as the spec states it, before the host filesystem is consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecChannel {
    pub channel: Channel,
    /// `mounts[index]` for a bind mount; `None` for the root.
    pub index: Option<usize>,
    /// `root.path` or `mounts[index].source`, as written.
    pub source: String,
    pub readonly: bool,
}

/// The channels a spec takes, root first, then bind mounts in spec order. Expects a spec
/// the kernel's checks accepted (so `root.path` and bind sources are strings).
pub fn spec_channels(spec: &Value) -> Vec<SpecChannel> {
    let root = SpecChannel {
        channel: Channel::Root,
        index: None,
        source: spec["root"]["path"].as_str().unwrap_or_default().to_owned(),
        readonly: spec["root"]["readonly"].as_bool().unwrap_or(false),
    };
    let mounts = spec["mounts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let binds = mounts
        .iter()
        .enumerate()
        .filter(|(_, mount)| is_bind(mount));
    let binds = binds
        .enumerate()
        .map(|(number, (index, mount))| SpecChannel {
            channel: Channel::Mount(number),
            index: Some(index),
            source: mount["source"].as_str().unwrap_or_default().to_owned(),
            readonly: last_of_ro_rw(mount) == Some("ro"),
        });
    std::iter::once(root).chain(binds).collect()
}

fn options(mount: &Value) -> impl Iterator<Item = &str> {
    mount["options"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn is_bind(mount: &Value) -> bool {
    mount["type"].as_str() == Some("bind")
        || options(mount).any(|option| option == "bind" || option == "rbind")
}

/// A read-only bind is shared read-only too: the guest could not write it anyway, and
/// QEMU then refuses writes even from a guest that tried.
fn last_of_ro_rw(mount: &Value) -> Option<&str> {
    options(mount)
        .filter(|option| matches!(*option, "ro" | "rw"))
        .last()
}

/// The devices to attach, and the `bind_file=` notes for file bind mounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shares {
    pub shares: Vec<Share>,
    pub file_binds: Vec<FileBind>,
}

/// Resolves each channel's source against the bundle directory and checks it exists.
pub fn resolve(bundle: &Path, channels: &[SpecChannel]) -> Result<Shares, BundleError> {
    let mut resolved = Shares::default();
    for spec_channel in channels {
        let path = bundle.join(&spec_channel.source);
        let share = |path: PathBuf| Share {
            tag: spec_channel.channel.tag(),
            path,
            readonly: spec_channel.readonly,
        };
        let Some(index) = spec_channel.index else {
            if !path.is_dir() {
                return Err(BundleError::RootNotDirectory { path });
            }
            resolved.shares.push(share(path));
            continue;
        };
        // Follow symlinks now: the guest cannot follow one that leads out of the share.
        let real = path
            .canonicalize()
            .map_err(|_| BundleError::SourceMissing {
                index,
                path: path.clone(),
            })?;
        if real.is_dir() {
            resolved.shares.push(share(real));
        } else if real.is_file() {
            let (Some(dir), Some(name)) = (real.parent(), real.file_name()) else {
                return Err(BundleError::SourceNotFileOrDirectory { index, path });
            };
            let name = name
                .to_str()
                .ok_or_else(|| BundleError::SourceNameNotUtf8 {
                    index,
                    path: real.clone(),
                })?;
            resolved.file_binds.push(FileBind {
                channel: spec_channel.channel,
                name: name.to_owned(),
            });
            resolved.shares.push(share(dir.to_owned()));
        } else {
            return Err(BundleError::SourceNotFileOrDirectory { index, path });
        }
    }
    Ok(resolved)
}

/// One device for each host directory the bind mounts share alike: a bind-mount share
/// with the same directory and read-only flag as an earlier one is dropped, and its
/// channel reads that one's device (`share_alias=`). podman binds `/etc/hosts`,
/// `/etc/hostname` and `/run/.containerenv` out of one directory, and every device is
/// work on every start (QEMU makes it, the kernel probes and attaches it). The root's
/// share stays its own: its cache policy (`file_access=`) may differ from the mounts'.
pub fn share_devices(shares: Vec<Share>) -> (Vec<Share>, Vec<ShareAlias>) {
    let mut kept: Vec<Share> = Vec::with_capacity(shares.len());
    let mut aliases = Vec::new();
    for share in shares {
        let mount = |share: &Share| {
            Channel::from_tag(&share.tag).filter(|channel| *channel != Channel::Root)
        };
        let alike = mount(&share).and_then(|channel| {
            kept.iter()
                .filter(|earlier| earlier.path == share.path && earlier.readonly == share.readonly)
                .find_map(mount)
                .map(|served_by| ShareAlias { channel, served_by })
        });
        match alike {
            Some(alias) => aliases.push(alias),
            None => kept.push(share),
        }
    }
    (kept, aliases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::container::{MountKind, Origin, SandboxOptions, Spec, compile};

    /// A channel as (tag, spec index of its bind mount).
    type Taken = (&'static str, Option<usize>);

    /// The shared table: name, the spec's `mounts`, and the channels the spec takes.
    const CASES: &[(&str, &str, &[Taken])] = &[
        ("no mounts", r#"[]"#, &[("rootfs", None)]),
        (
            "one bind",
            r#"[{"destination": "/d", "type": "bind", "source": "d"}]"#,
            &[("rootfs", None), ("m0", Some(0))],
        ),
        (
            "non-binds take no channel",
            r#"[{"destination": "/t", "type": "tmpfs"}, {"destination": "/p", "type": "proc"}, {"destination": "/s", "type": "none"}]"#,
            &[("rootfs", None)],
        ),
        (
            "binds by type or option, numbered in spec order before sorting",
            r#"[{"destination": "/a/b/c", "type": "bind", "source": "c"},
                {"destination": "/t", "type": "tmpfs"},
                {"destination": "/a", "type": "none", "source": "a", "options": ["rbind"]},
                {"destination": "/x", "source": "x", "options": ["ro", "bind"]},
                {"destination": "/weird", "type": "ext4", "source": "w", "options": ["bind"]}]"#,
            &[
                ("rootfs", None),
                ("m0", Some(0)),
                ("m1", Some(2)),
                ("m2", Some(3)),
                ("m3", Some(4)),
            ],
        ),
        (
            "an unknown type without bind takes nothing",
            r#"[{"destination": "/c", "type": "cgroup"}, {"destination": "/d", "type": "bind", "source": "d"}]"#,
            &[("rootfs", None), ("m0", Some(1))],
        ),
    ];

    fn spec_json(mounts: &str) -> String {
        format!(
            r#"{{"ociVersion": "1.0.2", "root": {{"path": "rootfs"}}, "process": {{"args": ["/sbin/init"]}}, "mounts": {mounts}}}"#
        )
    }

    fn host_view(json: &str) -> Vec<(String, Option<usize>)> {
        let value: Value = serde_json::from_str(json).unwrap();
        spec_channels(&value)
            .into_iter()
            .map(|channel| (channel.channel.tag(), channel.index))
            .collect()
    }

    fn kernel_view(json: &str) -> Vec<(String, Option<usize>)> {
        let plan = compile(
            &Spec::parse(json.as_bytes()).unwrap(),
            &SandboxOptions::default(),
            &[],
        )
        .unwrap();
        let index_of = |channel: Channel| {
            plan.mounts
                .iter()
                .find_map(|mount| match (&mount.kind, mount.origin) {
                    (MountKind::Bind(bind), Origin::Spec { index }) if bind.channel == channel => {
                        Some(index)
                    }
                    _ => None,
                })
        };
        plan.channels()
            .into_iter()
            .map(|channel| (channel.tag(), index_of(channel)))
            .collect()
    }

    #[test]
    fn host_and_kernel_assign_the_same_channels() {
        for (name, mounts, expected) in CASES {
            let json = spec_json(mounts);
            let expected: Vec<(String, Option<usize>)> = expected
                .iter()
                .map(|(tag, index)| ((*tag).to_owned(), *index))
                .collect();
            assert_eq!(host_view(&json), expected, "host: {name}");
            assert_eq!(kernel_view(&json), expected, "kernel: {name}");
        }
    }

    #[test]
    fn readonly_follows_root_and_the_last_of_ro_rw() {
        let json = r#"{"root": {"path": "r", "readonly": true}, "mounts": [
            {"destination": "/a", "type": "bind", "source": "a", "options": ["ro"]},
            {"destination": "/b", "type": "bind", "source": "b", "options": ["ro", "rw"]},
            {"destination": "/c", "type": "bind", "source": "c"}]}"#;
        let readonly: Vec<bool> = spec_channels(&serde_json::from_str(json).unwrap())
            .iter()
            .map(|c| c.readonly)
            .collect();
        assert_eq!(readonly, [true, true, false, false]);
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xtask-channels-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/hosts file"), "127.0.0.1 localhost\n").unwrap();
        dir
    }

    fn channel(channel: Channel, index: Option<usize>, source: &str) -> SpecChannel {
        SpecChannel {
            channel,
            index,
            source: source.to_owned(),
            readonly: false,
        }
    }

    #[test]
    fn sources_resolve_against_the_bundle_and_files_share_their_directory() {
        let dir = scratch("resolve");
        let absolute_data = dir.join("data").to_string_lossy().into_owned();
        let channels = [
            channel(Channel::Root, None, "rootfs"),
            channel(Channel::Mount(0), Some(1), &absolute_data),
            channel(Channel::Mount(1), Some(3), "etc/hosts file"),
        ];
        let resolved = resolve(&dir, &channels).unwrap();
        let real = dir.canonicalize().unwrap();
        let tags_paths: Vec<(&str, PathBuf)> = resolved
            .shares
            .iter()
            .map(|share| (share.tag.as_str(), share.path.clone()))
            .collect();
        assert_eq!(
            tags_paths,
            [
                ("rootfs", dir.join("rootfs")),
                ("m0", real.join("data")),
                ("m1", real.join("etc"))
            ]
        );
        assert_eq!(
            resolved.file_binds,
            [FileBind {
                channel: Channel::Mount(1),
                name: "hosts file".into()
            }]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_sources_name_their_field() {
        let dir = scratch("missing");
        let error = resolve(
            &dir,
            &[
                channel(Channel::Root, None, "rootfs"),
                channel(Channel::Mount(0), Some(4), "nope"),
            ],
        )
        .unwrap_err();
        assert!(
            error.to_string().starts_with("mounts[4].source: "),
            "{error}"
        );
        assert!(
            error.to_string().ends_with("nope does not exist"),
            "{error}"
        );
        let error = resolve(&dir, &[channel(Channel::Root, None, "no-root")]).unwrap_err();
        assert!(error.to_string().starts_with("root.path: "), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bind_mounts_of_one_directory_share_a_device() {
        let share = |tag: &str, path: &str, readonly: bool| Share {
            tag: tag.to_owned(),
            path: path.into(),
            readonly,
        };
        let (kept, aliases) = share_devices(vec![
            share("rootfs", "/u", false),
            share("m0", "/u", false),
            share("m1", "/shm", false),
            share("m2", "/u", false),
            share("m3", "/u", true),
            share("m4", "/u", false),
        ]);
        let tags: Vec<&str> = kept.iter().map(|share| share.tag.as_str()).collect();
        // The root keeps its own device even with the same directory; read-only differs.
        assert_eq!(tags, ["rootfs", "m0", "m1", "m3"]);
        let aliases: Vec<String> = aliases.iter().map(ShareAlias::to_option_value).collect();
        assert_eq!(aliases, ["m2:m0", "m4:m0"]);
    }
}
