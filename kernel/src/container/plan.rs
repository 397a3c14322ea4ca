//! The mount plan: a checked [`Spec`] and the sandbox options compiled into the ordered list
//! of mounts the builder makes, plus what the init starts with.
//!
//! Sits on top of `spec`, `mount_options`, `channel` and `process`; the builder (which owns a
//! vfs-core namespace) is the plan's only consumer. The plan is pure: where a rule depends
//! on the image (is `/tmp` empty? does a masked path exist?), the entry carries a
//! [`Condition`] the builder evaluates. Rules (DESIGN "Mount namespace"):
//!
//! 1. Root: 9p on `rootfs`, read-only if `root.readonly`, memory overlay unless read-only or
//!    `overlay=none`; file access per `file_access=`.
//! 2. `/proc`, `/sys`, `/dev`, `/dev/pts` prepended when the spec has no mount there; `/tmp`
//!    tmpfs 01777 when the spec has none and the image's `/tmp` is missing or empty.
//! 3. Types: bind → 9p (overlay with `overlay=all` unless `ro`, file access per
//!    `file_access_mounts=`); `tmpfs`; `proc`; `sysfs` and `none` (not a bind) → sysfs;
//!    `devpts`; `dev`/`devtmpfs`; anything else warned about and skipped. As gVisor does,
//!    a non-bind spec mount at `/dev` is the dev filesystem and one at `/dev/pts` is devpts,
//!    whatever its type says (docker mounts a plain tmpfs at `/dev`).
//! 4. Flags and options: see `mount_options`.
//! 5. Stable sort by destination length: parents first, spec order among equals.
//!
//! Then, as runc does after all mounts: each `linux.readonlyPaths` entry is bound onto
//! itself read-only, each `linux.maskedPaths` entry is hidden; both only if the path exists.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::channel::{Channel, FileBind};
use super::error::PlanError;
use super::mount_options::{self, DataOptions, PlanWarning};
use super::options::{FileAccess, Overlay, SandboxOptions};
use super::process::ProcessPlan;
use super::spec::{Mount, Spec, Sysctl};
use vfs_core::MountFlags;
use vfs_core::tmpfs::TmpfsOptions;

use crate::fs::devpts::DevptsOptions;

/// Everything the builder and the init need, in the order to do it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountPlan {
    pub root: RootPlan,
    /// After the root, in the order to mount them.
    pub mounts: Vec<PlannedMount>,
    /// To log once at boot (`log=warn`).
    pub warnings: Vec<PlanWarning>,
    pub process: ProcessPlan,
    pub hostname: Option<String>,
    /// `linux.sysctl`, for `/proc/sys` and the UTS names.
    pub sysctl: Vec<Sysctl>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootPlan {
    /// Always [`Channel::Root`]; kept so every 9p mount names its channel the same way.
    pub channel: Channel,
    pub readonly: bool,
    /// A tmpfs upper layer takes the writes; the 9p lower is then used read-only.
    pub overlay: bool,
    pub file_access: FileAccess,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedMount {
    /// Absolute and normalised; symlinks in it are followed inside the root when building.
    pub destination: String,
    pub kind: MountKind,
    pub flags: MountFlags,
    pub condition: Condition,
    /// Where the entry comes from, for the builder's error messages.
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// A host directory (or one file in it) over 9p.
    Bind(BindMount),
    Tmpfs(TmpfsOptions),
    Proc,
    Sysfs,
    /// With its data options (`ptmxmode`, `mode`, `uid`, `gid`, `max`): the spec's, or
    /// Docker's when the spec has no devpts mount.
    Devpts(DevptsOptions),
    /// A tmpfs holding the device nodes.
    Dev(TmpfsOptions),
    /// `linux.readonlyPaths`: what is already at the destination, bound onto itself read-only.
    ReadonlyRebind,
    /// `linux.maskedPaths`: a directory gets an empty read-only tmpfs over it, anything else
    /// a bind of `/dev/null` (runc's choice; which one is known only when building).
    Mask,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindMount {
    pub channel: Channel,
    /// `Some(name)`: the channel shares the directory holding the bind-mounted file `name`
    /// (the host's `bind_file=`); the mount point is then a file.
    pub file: Option<String>,
    /// A tmpfs upper layer takes the writes (`overlay=all`, writable mounts only).
    pub overlay: bool,
    pub file_access: FileAccess,
}

/// When the builder makes a planned mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    Always,
    /// Only if the destination exists in the namespace built so far (readonly and masked paths).
    IfExists,
    /// Only if the destination is missing, or an empty directory (`/tmp`); anything else
    /// there is the image's and is kept.
    IfImageDirMissingOrEmpty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `mounts[index]`.
    Spec { index: usize },
    /// Added by rule 2.
    Mandatory,
    /// `linux.readonlyPaths[index]`.
    ReadonlyPath { index: usize },
    /// `linux.maskedPaths[index]`.
    MaskedPath { index: usize },
}

impl Origin {
    /// The JSON field the entry comes from (`mounts[3]`), or `None` for a mandatory mount.
    pub fn field(self) -> Option<String> {
        match self {
            Origin::Spec { index } => Some(format!("mounts[{index}]")),
            Origin::Mandatory => None,
            Origin::ReadonlyPath { index } => Some(format!("linux.readonlyPaths[{index}]")),
            Origin::MaskedPath { index } => Some(format!("linux.maskedPaths[{index}]")),
        }
    }
}

impl MountPlan {
    /// The 9p channels the plan takes: `rootfs`, then `m0`, `m1`, … in spec order.
    pub fn channels(&self) -> Vec<Channel> {
        let mut binds: Vec<Channel> = self
            .mounts
            .iter()
            .filter_map(|mount| match &mount.kind {
                MountKind::Bind(bind) => Some(bind.channel),
                _ => None,
            })
            .collect();
        binds.sort();
        core::iter::once(self.root.channel).chain(binds).collect()
    }
}

/// Compiles the plan. `file_binds` are the host's `bind_file=` notes from the command line.
pub fn compile(
    spec: &Spec,
    options: &SandboxOptions,
    file_binds: &[FileBind],
) -> Result<MountPlan, PlanError> {
    let mut warnings = Vec::new();
    let readonly = spec.root.readonly;
    let root = RootPlan {
        channel: Channel::Root,
        readonly,
        overlay: !readonly && options.overlay != Overlay::None,
        file_access: options.file_access,
    };

    let mut from_spec = Vec::new();
    let mut binds = 0;
    for (index, mount) in spec.mounts.iter().enumerate() {
        let channel = mount.is_bind().then(|| {
            binds += 1;
            Channel::Mount(binds - 1)
        });
        let planned = match channel {
            Some(channel) => Some(plan_bind(
                index,
                mount,
                channel,
                options,
                file_binds,
                &mut warnings,
            )?),
            None => plan_filesystem(index, mount, &mut warnings)?,
        };
        from_spec.extend(planned);
    }
    if let Some(stray) = file_binds
        .iter()
        .find(|bind| !matches!(bind.channel, Channel::Mount(i) if i < binds))
    {
        return Err(PlanError::FileBindWithoutMount {
            tag: stray.channel.tag(),
        });
    }

    let mut mounts = mandatory_mounts(&from_spec);
    mounts.extend(from_spec);
    // Stable: equal lengths keep the order above (mandatory first, then spec order).
    mounts.sort_by_key(|mount| mount.destination.len());
    mounts.extend(path_rules(spec));

    Ok(MountPlan {
        root,
        mounts,
        warnings,
        process: ProcessPlan::from_spec(&spec.process, spec.linux.pids_limit),
        hostname: spec.hostname.clone(),
        sysctl: spec.linux.sysctl.clone(),
    })
}

fn plan_bind(
    index: usize,
    mount: &Mount,
    channel: Channel,
    options: &SandboxOptions,
    file_binds: &[FileBind],
    warnings: &mut Vec<PlanWarning>,
) -> Result<PlannedMount, PlanError> {
    let parsed = mount_options::parse(
        &format!("mounts[{index}].options"),
        &mount.options,
        DataOptions::None,
        warnings,
    )?;
    let writable = !parsed.flags.contains(MountFlags::RDONLY);
    let bind = BindMount {
        channel,
        file: file_binds
            .iter()
            .find(|bind| bind.channel == channel)
            .map(|bind| bind.name.clone()),
        overlay: writable && options.overlay == Overlay::All,
        file_access: options.file_access_mounts,
    };
    Ok(PlannedMount {
        destination: mount.destination.clone(),
        kind: MountKind::Bind(bind),
        flags: parsed.flags,
        condition: Condition::Always,
        origin: Origin::Spec { index },
    })
}

/// A mount that is not a bind; `None` (with a warning) for a type the sandbox lacks.
fn plan_filesystem(
    index: usize,
    mount: &Mount,
    warnings: &mut Vec<PlanWarning>,
) -> Result<Option<PlannedMount>, PlanError> {
    let mount_type = match mount.destination.as_str() {
        "/dev" => "dev",
        "/dev/pts" => "devpts",
        _ => mount.mount_type.as_str(),
    };
    let data = match mount_type {
        "tmpfs" | "dev" | "devtmpfs" => DataOptions::Tmpfs,
        "devpts" => DataOptions::Devpts,
        _ => DataOptions::None,
    };
    let kind_of = |tmpfs, devpts: DevptsOptions| {
        Some(match mount_type {
            "tmpfs" => MountKind::Tmpfs(tmpfs),
            "proc" => MountKind::Proc,
            "sysfs" | "none" => MountKind::Sysfs,
            "devpts" => MountKind::Devpts(devpts),
            "dev" | "devtmpfs" => MountKind::Dev(tmpfs),
            _ => return None,
        })
    };
    if kind_of(TmpfsOptions::default(), DevptsOptions::default()).is_none() {
        warnings.push(PlanWarning::UnknownType {
            field: format!("mounts[{index}].type"),
            mount_type: mount.mount_type.clone(),
            destination: mount.destination.clone(),
        });
        return Ok(None);
    }
    let parsed = mount_options::parse(
        &format!("mounts[{index}].options"),
        &mount.options,
        data,
        warnings,
    )?;
    Ok(
        kind_of(parsed.tmpfs, parsed.devpts).map(|kind| PlannedMount {
            destination: mount.destination.clone(),
            kind,
            flags: parsed.flags,
            condition: Condition::Always,
            origin: Origin::Spec { index },
        }),
    )
}

/// Rule 2, for the destinations the spec's (supported) mounts leave open.
fn mandatory_mounts(from_spec: &[PlannedMount]) -> Vec<PlannedMount> {
    let taken = |destination: &str| {
        from_spec
            .iter()
            .any(|mount| mount.destination == destination)
    };
    let mandatory = [
        ("/proc", MountKind::Proc, Condition::Always),
        ("/sys", MountKind::Sysfs, Condition::Always),
        (
            "/dev",
            MountKind::Dev(TmpfsOptions::default()),
            Condition::Always,
        ),
        (
            "/dev/pts",
            MountKind::Devpts(DevptsOptions::docker()),
            Condition::Always,
        ),
        (
            "/tmp",
            MountKind::Tmpfs(TmpfsOptions::tmp()),
            Condition::IfImageDirMissingOrEmpty,
        ),
    ];
    mandatory
        .into_iter()
        .filter(|(destination, _, _)| !taken(destination))
        .map(|(destination, kind, condition)| PlannedMount {
            destination: destination.into(),
            kind,
            flags: MountFlags::empty(),
            condition,
            origin: Origin::Mandatory,
        })
        .collect()
}

/// `linux.readonlyPaths` then `linux.maskedPaths`, in spec order, after every mount.
fn path_rules(spec: &Spec) -> impl Iterator<Item = PlannedMount> + '_ {
    let readonly = spec
        .linux
        .readonly_paths
        .iter()
        .enumerate()
        .map(|(index, path)| {
            (
                path,
                MountKind::ReadonlyRebind,
                Origin::ReadonlyPath { index },
            )
        });
    let masked = spec
        .linux
        .masked_paths
        .iter()
        .enumerate()
        .map(|(index, path)| (path, MountKind::Mask, Origin::MaskedPath { index }));
    readonly
        .chain(masked)
        .map(|(path, kind, origin)| PlannedMount {
            destination: path.clone(),
            kind,
            flags: MountFlags::RDONLY,
            condition: Condition::IfExists,
            origin,
        })
}

#[cfg(test)]
mod tests;
