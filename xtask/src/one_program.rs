//! A bundle whose init is one static guest program, for the long runs that are not boot
//! tests (`cargo xtask fuzz syscalls`, `cargo xtask soak`): a fresh root with the program
//! in `/sbin`, a writable 9p bind mount at `/rw`, Docker's capabilities plus the ones the
//! program needs; booted with the console streamed live and stopped if it falls silent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use crate::bundle::{self, Bundle};
use crate::cli::LogArg;
use crate::cmdline::{kernel_cmdline, with_sandbox_options};
use crate::console::ExitStatus;
use crate::host;
use crate::launch::{self, LaunchOptions, Outcome};
use crate::qemu::{Accel, Invocation, Machine, MemorySize};

pub struct Program<'a> {
    /// Its name in `/sbin`.
    pub name: &'a str,
    /// The static binary on the host.
    pub binary: &'a Path,
    /// Its arguments after `/sbin/NAME`.
    pub args: Vec<String>,
    /// Added to Docker's default capability set.
    pub extra_caps: &'a [&'a str],
}

/// Writes `dir/rootfs` (fresh), `dir/rw` (fresh) and `dir/config.json`, and loads the
/// bundle as `cargo xtask run --bundle` would.
pub fn write_bundle(dir: &Path, program: &Program<'_>) -> Result<Bundle> {
    let rootfs = dir.join("rootfs");
    let rw = dir.join("rw");
    for path in [&rootfs, &rw] {
        if path.exists() {
            std::fs::remove_dir_all(path)
                .with_context(|| format!("clearing {}", path.display()))?;
        }
    }
    for sub in ["dev", "proc", "sys", "tmp", "root", "etc", "sbin"] {
        std::fs::create_dir_all(rootfs.join(sub))
            .with_context(|| format!("creating {sub} in {}", rootfs.display()))?;
    }
    std::fs::create_dir_all(&rw).with_context(|| format!("creating {}", rw.display()))?;
    let installed: PathBuf = rootfs.join("sbin").join(program.name);
    std::fs::copy(program.binary, &installed)
        .with_context(|| format!("copying {} into the bundle", program.binary.display()))?;
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )
    .context("writing etc/passwd")?;
    let mut args = vec![format!("/sbin/{}", program.name)];
    args.extend(program.args.iter().cloned());
    let spec = json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "hostname": program.name,
        "process": {
            "args": args,
            "env": ["PATH=/sbin:/bin", "HOME=/root", "LANG=C"],
            "cwd": "/",
            "user": {"uid": 0, "gid": 0},
            "capabilities": crate::boot_tests::docker_caps_with(program.extra_caps),
        },
        "mounts": [
            {"destination": "/rw", "type": "bind", "source": "rw", "options": ["rbind", "rw"]}
        ]
    });
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&spec)?)
        .context("writing config.json")?;
    Ok(bundle::load(
        dir,
        &kernel::container::SandboxOptions::default(),
        &[],
        &dir.join("scratch"),
    )?)
}

/// How a long run ended, from the host's side.
pub enum RunEnd {
    /// The sandbox reached its exit line: the program's own status.
    Exited(u8),
    /// No exit line: a kernel panic (status 125 from the panic handler is still an exit
    /// line, see the README's table), a silent console past the idle limit, or a crash.
    NoExit { timed_out: bool },
}

/// Boots the bundle with the console echoed live; QEMU is stopped once the console has
/// been silent for `idle_limit`.
pub fn boot_live(
    kernel: &Path,
    bundle: &Bundle,
    (accel, memory, log): (Accel, MemorySize, LogArg),
    idle_limit: Duration,
) -> Result<(RunEnd, Outcome)> {
    let invocation = Invocation {
        machine: Machine::Microvm,
        accel,
        memory,
        cpus: 1,
        kernel: kernel.to_owned(),
        cmdline: kernel_cmdline(
            &with_sandbox_options("", &[("log", log.name().to_owned())]),
            host::tsc_khz(&host::cpuinfo()),
        ),
        initrd: Some(bundle.spec_file.clone()),
        shares: bundle.shares.clone(),
    };
    launch::announce(&invocation);
    let options = LaunchOptions::live(false);
    let outcome = launch::launch_with_idle_limit(&invocation, options, Some(idle_limit))?;
    let end = match outcome.exit_status() {
        ExitStatus::Reported(code) if !outcome.timed_out => RunEnd::Exited(code),
        _ => RunEnd::NoExit {
            timed_out: outcome.timed_out,
        },
    };
    Ok((end, outcome))
}
