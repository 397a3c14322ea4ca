//! Facts about the host machine that shape how we launch QEMU.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub use sandbox_runtime::qemu::host::{cpuinfo, tsc_khz};

pub fn is_root() -> bool {
    // /proc/self is owned by the process's effective uid; this avoids a libc dependency.
    fs::metadata("/proc/self")
        .map(|meta| meta.uid() == 0)
        .unwrap_or(false)
}

/// Whether the differential tests can run here: root, and a tmpfs and an overlayfs over
/// it mount (a container may say no even to root). `Err` says why not, for the skip line.
/// Uses mount(8) and umount(8), to keep xtask free of libc.
pub fn can_mount_tmpfs_and_overlay() -> Result<(), String> {
    if !is_root() {
        return Err("not root".into());
    }
    let probe = std::env::temp_dir().join(format!("xtask-mount-probe-{}", std::process::id()));
    let result = (|| {
        fs::create_dir_all(&probe)
            .map_err(|error| format!("mkdir {}: {error}", probe.display()))?;
        mount(&["-t", "tmpfs", "-o", "size=64k", "tmpfs"], &probe)?;
        let mut overlay = Ok(());
        for dir in ["lower", "upper", "work", "merged"] {
            if let Err(error) = fs::create_dir(probe.join(dir)) {
                overlay = Err(format!("mkdir in the probe tmpfs: {error}"));
            }
        }
        if overlay.is_ok() {
            let data = format!(
                "lowerdir={},upperdir={},workdir={}",
                probe.join("lower").display(),
                probe.join("upper").display(),
                probe.join("work").display()
            );
            overlay = mount(
                &["-t", "overlay", "-o", &data, "overlay"],
                &probe.join("merged"),
            );
            if overlay.is_ok() {
                unmount(&probe.join("merged"));
            }
        }
        unmount(&probe);
        overlay
    })();
    let _ = fs::remove_dir(&probe);
    result
}

fn mount(args: &[&str], target: &std::path::Path) -> Result<(), String> {
    let output = std::process::Command::new("mount")
        .args(args)
        .arg(target)
        .output()
        .map_err(|error| format!("running mount(8): {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cannot mount {}: {}",
            args[1],
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn unmount(target: &std::path::Path) {
    let _ = std::process::Command::new("umount").arg(target).status();
}

pub fn is_debian_like() -> bool {
    Path::new("/etc/debian_version").exists() && find_in_path("apt-get").is_some()
}

pub fn find_in_path(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
