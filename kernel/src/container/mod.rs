//! The container: from the OCI spec handed in at boot to the mount namespace and the plan
//! the kernel starts the init from.
//!
//! Portable and host-tested (`cargo test -p kernel --lib`); no unsafe, no hardware. Layers,
//! bottom up: `error` (what can go wrong, exit statuses), `path` (lexical path clean-up),
//! `options` (sandbox options), `spec` (the JSON model and its checks), `mount_options`
//! (a spec mount's option strings → vfs-core's `MountFlags` and tmpfs's `TmpfsOptions`),
//! `channel` (9p channel rule), `process` (the init's identity and `args[0]` lookup),
//! `plan` (the compiler), and on top `build` (the builder: applies a plan to a vfs-core
//! namespace, taking each filesystem from a [`build::FilesystemSource`] that the kernel
//! backs with virtio-9p and its own filesystems, the host tests with tmpfs stand-ins).
//!
//! At boot: [`Spec::parse`] the initrd → [`compile`] with the command line's
//! [`SandboxOptions`] and [`FileBind`]s → [`check_channels`] against the 9p devices found →
//! [`build::build`] → [`ProcessPlan::resolve`] → exec.

pub mod build;
pub mod channel;
pub mod error;
pub mod mount_options;
pub mod options;
pub mod path;
pub mod plan;
pub mod process;
pub mod spec;

pub use channel::{Channel, FileBind, ShareAlias, check_channels, device_tag, tags_with_aliases};
pub use error::{FieldProblem, PlanError, ResolveError, SpecError};
pub use mount_options::PlanWarning;
pub use options::{FileAccess, Overlay, SandboxOptions};
pub use plan::{
    BindMount, Condition, MountKind, MountPlan, Origin, PlannedMount, RootPlan, compile,
};
pub use process::{FileKind, ProcessPlan, resolve_executable};
pub use spec::Spec;
