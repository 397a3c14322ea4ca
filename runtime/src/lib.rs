//! `sandbox-runtime`: an OCI runtime with runc's command line, for podman, containerd and
//! Kubernetes, that runs each container in its own sandbox-kernel VM (as gVisor's `runsc`
//! runs each in its sentry).
//!
//! - [`sandbox`]: one VM and the channel to its kernel — launch to the point where the
//!   namespace is built and the init is loaded, then start, signals, exec, stdio, exit
//!   status.
//! - [`qemu`], [`bundle`], [`cmdline`]: how a bundle becomes a QEMU command line (shared
//!   with `xtask`, which boots the kernel the same way for its runs, tests and benchmarks).
//! - The command line, the state kept under `--root`, and the monitor process whose wait
//!   status is the container's are built on it (`src/main.rs` and the modules it names).

pub mod bundle;
pub mod cmdline;
pub mod qemu;
pub mod sandbox;
