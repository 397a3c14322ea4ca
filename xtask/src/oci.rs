//! What the OCI runtime's tests and its benchmark share (issue 16): a busybox root
//! filesystem (Debian's static `/bin/busybox` and a link per applet), the same as a tar and
//! as a podman image made with `podman import` (no registry), the flags rootful podman needs
//! here, and running a host command with a deadline.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::setup::{BUSYBOX, PODMAN};

/// The podman image the tests and the bench run.
pub const IMAGE: &str = "localhost/sandbox-runtime-busybox:test";

/// `podman run` flags every run here needs: root lacks `CAP_SYS_RESOURCE` on this machine,
/// so podman's default rlimits (above the host's hard ones) would fail with any runtime,
/// and a container without a network starts ~150 ms sooner.
pub const PODMAN_RUN_FLAGS: [&str; 6] = [
    "--network",
    "none",
    "--ulimit",
    "nofile=20000:20000",
    "--ulimit",
    "nproc=32768:32768",
];

/// A busybox root filesystem and its tar.
#[derive(Debug, Clone)]
pub struct BusyboxRoot {
    pub rootfs: PathBuf,
    pub tar: PathBuf,
}

/// Makes `dir/rootfs` (busybox and its applets in `/bin`, the usual empty directories) and
/// `dir/rootfs.tar`, afresh.
pub fn busybox_root(dir: &Path) -> Result<BusyboxRoot> {
    let rootfs = dir.join("rootfs");
    if rootfs.exists() {
        std::fs::remove_dir_all(&rootfs)
            .with_context(|| format!("removing {}", rootfs.display()))?;
    }
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).with_context(|| format!("creating {}", bin.display()))?;
    for sub in ["proc", "sys", "dev", "tmp", "etc", "run", "root"] {
        std::fs::create_dir_all(rootfs.join(sub))?;
    }
    std::fs::copy(BUSYBOX, bin.join("busybox")).with_context(|| format!("copying {BUSYBOX}"))?;
    let list = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .with_context(|| format!("{BUSYBOX} --list"))?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.contains('/') && !applet.is_empty() {
            std::os::unix::fs::symlink("busybox", bin.join(applet))
                .with_context(|| format!("linking {applet}"))?;
        }
    }
    let tar = dir.join("rootfs.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .context("running tar")?;
    if !status.success() {
        bail!("tar of {} failed ({status})", rootfs.display());
    }
    Ok(BusyboxRoot { rootfs, tar })
}

/// Imports the tar as [`IMAGE`] (replacing an older one).
pub fn podman_image(root: &BusyboxRoot) -> Result<&'static str> {
    let output = Command::new(PODMAN)
        .arg("import")
        .arg(&root.tar)
        .arg(IMAGE)
        .output()
        .context("running podman import")?;
    if !output.status.success() {
        bail!(
            "podman import failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(IMAGE)
}

/// Runs `command` with `stdin` piped in (or /dev/null), capturing stdout and stderr; kills
/// it and says so past `timeout`.
pub fn run(
    command: &mut Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, String> {
    let shown = format!("{command:?}");
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|error| format!("starting {shown}: {error}"))?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let _ = pipe.write_all(bytes);
    }
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    match done_rx.recv_timeout(timeout) {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(error)) => Err(format!("waiting for {shown}: {error}")),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            Err(format!(
                "{shown} still running after {} s",
                timeout.as_secs()
            ))
        }
    }
}

/// "status 7, stdout "…", stderr "…"" for failure messages.
pub fn describe(output: &Output) -> String {
    format!(
        "{}, stdout {:?}, stderr {:?}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
