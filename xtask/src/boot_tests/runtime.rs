//! Issue 16's tests: `sandbox-runtime` driven as podman, containerd and a person drive runc,
//! each check's answer the one runc gives. Every case is host-driven (it runs the tools, which
//! run the runtime, which boots our kernel under QEMU); without root, podman, containerd or
//! runc the cases are reported skipped with the reason.
//!
//! - podman (`--runtime sandbox-runtime`): stdout and stderr apart with the status (7);
//!   `-i` with piped stdin; `-it` under `script` (a prompt, a command, `exit 4`); `run -d`
//!   then `stop` with a TERM trap (its status) and without one (runc's status for an
//!   untrapped init: it ignores TERM, as a pid-namespace init does, and is killed);
//!   `kill -s USR1` reaching a trap; `exec` (streams, status, `-i`, a missing program: 127);
//!   a missing command: 127.
//! - containerd: its own daemon (own root, state and socket, started and stopped by the
//!   case), `ctr run --runc-binary`: streams and status, `task exec`, `task ps`, `task kill`
//!   reaching a trap, a missing command's error.
//! - against runc, the same bundle (from `runc spec`) under both: the pid file, the state
//!   JSON's keys and statuses through the lifecycle, the container's exit status (the test
//!   becomes a subreaper to wait for it, as conmon is), the commands' exit codes for the usual
//!   mistakes, and `--log-format json` lines.

mod against_runc;
mod containerd;
mod podman;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use super::Case;
use crate::host;
use crate::oci::{self, BusyboxRoot};
use crate::qemu::{Accel, Machine};
use crate::setup::{CONTAINERD, CTR, PODMAN, RUNC};

/// One podman or ctr command (a boot under TCG, QEMU's start, the tools' own work).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// What every case needs.
#[derive(Debug, Clone)]
struct Setup {
    runtime: PathBuf,
    root: BusyboxRoot,
    dir: PathBuf,
}

pub fn cases(accel: Accel, fixtures_dir: &Path, runtime: &Path) -> Result<Vec<Case>> {
    let dir = fixtures_dir.join("runtime");
    std::fs::create_dir_all(&dir)?;
    let root = oci::busybox_root(&dir)?;
    let setup = Setup {
        runtime: runtime.to_owned(),
        root,
        dir,
    };
    let new = |name: &str| Case::new(name, Machine::Microvm, accel);
    let mut cases = Vec::new();
    let missing = |tools: &[&str]| -> Option<String> {
        if !host::is_root() {
            return Some("needs root (rootful podman and containerd)".to_owned());
        }
        let absent: Vec<&str> = tools
            .iter()
            .copied()
            .filter(|tool| host::find_in_path(tool).is_none())
            .collect();
        (!absent.is_empty()).then(|| {
            format!(
                "{} not found (apt-get install podman containerd runc)",
                absent.join(", ")
            )
        })
    };
    let image: Result<&'static str, String> = match missing(&[PODMAN, RUNC]) {
        Some(why) => Err(why),
        None => Ok(oci::podman_image(&setup.root)?),
    };
    for (name, check) in podman::CHECKS {
        cases.push(match &image {
            Err(why) => new(name).skipped(why.clone()),
            Ok(image) => {
                let podman = podman::Podman::new(&setup.runtime, image);
                new(name).driven_by(super::HostDriver::new(move |_, _| check(&podman)))
            }
        });
    }
    cases.push(match missing(&[CONTAINERD, CTR]) {
        Some(why) => new("containerd-ctr").skipped(why),
        None => {
            let setup = setup.clone();
            new("containerd-ctr").driven_by(super::HostDriver::new(move |_, _| {
                containerd::check(&setup)
            }))
        }
    });
    cases.push(match missing(&[RUNC]) {
        Some(why) => new("runtime-against-runc").skipped(why),
        None => {
            let setup = setup.clone();
            new("runtime-against-runc").driven_by(super::HostDriver::new(move |_, _| {
                against_runc::check(&setup)
            }))
        }
    });
    Ok(cases)
}
