//! Making sure QEMU is installed before anything tries to boot.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::host;
use crate::qemu::QEMU_BINARY;

const DEBIAN_PACKAGE: &str = "qemu-system-x86";

pub fn ensure_qemu() -> Result<()> {
    if host::find_in_path(QEMU_BINARY).is_some() {
        return Ok(());
    }
    if !(host::is_root() && host::is_debian_like()) {
        bail!(
            "{QEMU_BINARY} is not on PATH; install it with:\n    sudo apt-get install -y {DEBIAN_PACKAGE}"
        );
    }
    eprintln!("xtask: {QEMU_BINARY} not found; installing {DEBIAN_PACKAGE} with apt-get…");
    if !apt_get(&["install", "-y", DEBIAN_PACKAGE])? {
        // A fresh machine's package lists are often empty or stale.
        eprintln!("xtask: apt-get install failed; running apt-get update and trying again…");
        if !apt_get(&["update"])? || !apt_get(&["install", "-y", DEBIAN_PACKAGE])? {
            bail!("could not install {DEBIAN_PACKAGE} with apt-get (see its output above)");
        }
    }
    if host::find_in_path(QEMU_BINARY).is_none() {
        bail!("installed {DEBIAN_PACKAGE} but {QEMU_BINARY} is still not on PATH");
    }
    eprintln!("xtask: installed {DEBIAN_PACKAGE}");
    Ok(())
}

fn apt_get(args: &[&str]) -> Result<bool> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    Ok(status.success())
}
