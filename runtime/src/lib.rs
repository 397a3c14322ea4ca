//! `sandbox-runtime`: an OCI runtime with runc's command line, for podman, containerd and
//! Kubernetes, that runs each container in its own sandbox-kernel VM (as gVisor's `runsc`
//! runs each in its sentry).
//!
//! - [`sandbox`]: one VM and the channel to its kernel — launch to the point where the
//!   namespace is built and the init is loaded, then start, signals, exec, stdio, exit
//!   status (the channel helper's library).
//! - [`qemu`], [`bundle`], [`cmdline`]: how a bundle becomes a QEMU command line (shared
//!   with `xtask`, which boots the kernel the same way for its runs, tests and benchmarks).
//! - [`cli`] and [`commands`]: runc's command line; [`state`]: the state under `--root` and
//!   its locking; [`monitor`]: the process `create` leaves, whose exit status is the
//!   container's, serving the other commands over [`protocol`]; [`console`]: ptys and the
//!   console socket; [`hooks`], [`spec`], [`logging`], [`kernel_path`].
//! - [`vm`]: what the monitor needs of a sandbox, as a trait over the sandbox's types (tests
//!   drive a fake);
//!   [`backend`] implements it with [`sandbox::Sandbox`].

pub mod backend;
pub mod bundle;
pub mod cli;
pub mod cmdline;
pub mod commands;
pub mod console;
pub mod error;
pub mod hooks;
pub mod kernel_path;
pub mod logging;
pub mod monitor;
pub mod protocol;
pub mod qemu;
pub mod rfc3339;
pub mod sandbox;
pub mod signals;
pub mod spec;
pub mod state;
pub mod vm;

/// The runtime-spec version we implement (state JSON, features).
pub const OCI_VERSION: &str = "1.0.2";
