//! `create`: check the bundle, make the state directory, spawn the monitor (which boots the
//! sandbox to "init loaded") and wait for its report, write the pid file, run the
//! `prestart` and `createRuntime` hooks. Any failure after the directory exists takes the
//! sandbox and the directory away again.

use std::ffi::OsString;

use liboci_cli::Create;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{Global, spawn_helper, write_pid_file};
use crate::cli::MonitorArgs;
use crate::error::{Context, Result, RuntimeError, guest_exec_error};
use crate::hooks;
use crate::kernel_path;
use crate::monitor::{self, MonitorConfig};
use crate::rfc3339;
use crate::spec::{self, Bundle, HookKind};
use crate::state::{self, Container, HostProcess, Record, Status};
use crate::vm::Launcher;

pub fn create(global: &Global, args: &Create) -> Result<()> {
    log::debug!("phase: create");
    state::check_id(&args.container_id)?;
    let bundle = Bundle::load(&args.bundle)?;
    for line in spec::ignored_fields(&bundle.spec) {
        log::debug!("accepted, no meaning in a VM: {line}");
    }
    let terminal = bundle.terminal();
    match (terminal, &args.console_socket) {
        (true, None) => {
            return Err(RuntimeError::Usage(
                "cannot allocate tty if runc will detach without setting console socket".into(),
            ));
        }
        (false, Some(_)) => {
            return Err(RuntimeError::Usage(
                "cannot use console socket if runc will not detach or allocate tty".into(),
            ));
        }
        _ => {}
    }
    let kernel = kernel_path::find(global.kernel.as_deref())?;
    let container = global.root.create(&args.container_id)?;
    match bring_up(global, args, &bundle, &kernel, terminal, &container) {
        Ok(()) => Ok(()),
        Err(error) => {
            rollback(container);
            Err(error)
        }
    }
}

fn bring_up(
    global: &Global,
    args: &Create,
    bundle: &Bundle,
    kernel: &std::path::Path,
    terminal: bool,
    container: &Container,
) -> Result<()> {
    std::fs::copy(bundle.config_path(), container.path(state::SPEC_COPY))
        .context(|| format!("copying {}", bundle.config_path().display()))?;
    let record = Record {
        id: args.container_id.clone(),
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs(),
        created: rfc3339::now(),
        owner: owner(),
        status: Status::Creating,
        monitor: HostProcess::default(),
        vmm: HostProcess::default(),
        exit_code: None,
        annotations: bundle
            .spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
    };
    container.write(&record)?;
    let mut monitor_args: Vec<OsString> = vec![
        "--state-dir".into(),
        container.dir.clone().into(),
        "--bundle".into(),
        bundle.dir.clone().into(),
        "--kernel-path".into(),
        kernel.into(),
    ];
    if terminal {
        monitor_args.push("--terminal".into());
    }
    if let Some(socket) = &args.console_socket {
        let socket = std::path::absolute(socket).context(|| socket.display().to_string())?;
        monitor_args.extend(["--console-socket".into(), socket.into()]);
    }
    if let Some(mib) = spec::memory_mib(&bundle.spec) {
        monitor_args.extend(["--memory-mib".into(), mib.to_string().into()]);
    }
    // `podman run --cpus N` sets a CPU quota: the VM gets that many vCPUs.
    let config = std::fs::read(bundle.config_path())
        .context(|| bundle.config_path().display().to_string())?;
    if let Some(cpus) = spec::cpus_for_quota(&config) {
        monitor_args.extend(["--cpus".into(), cpus.to_string().into()]);
    }
    let program = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|process| process.args().as_ref()?.first().cloned())
        .unwrap_or_default();
    let child =
        spawn_helper(global, "__monitor", monitor_args, false).map_err(|error| match error {
            RuntimeError::Guest { message, status } => guest_exec_error(message, status, &program),
            other => other,
        })?;
    log::debug!("phase: create: the monitor is ready");
    // The monitor is our child, and so a descendant of our caller (conmon, the shim), which
    // waits for it; we never do.
    if let Some(pid_file) = &args.pid_file {
        write_pid_file(pid_file, child.id())?;
    }
    let mut state = container.read()?.oci_state();
    state["status"] = "creating".into();
    hooks::run_all(&bundle.spec, HookKind::Prestart, &state)?;
    hooks::run_all(&bundle.spec, HookKind::CreateRuntime, &state)?;
    hooks::run_all(&bundle.spec, HookKind::CreateContainer, &state)?;
    log::debug!("phase: create done");
    Ok(())
}

/// The user we run as, by name (runc's `owner`).
fn owner() -> String {
    let uid = nix::unistd::geteuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|user| user.name)
        .unwrap_or_else(|| uid.to_string())
}

/// Ends whatever of the container exists (QEMU, the monitor) and removes its directory.
pub fn rollback(container: Container) {
    if let Ok(record) = container.read() {
        for process in [record.vmm, record.monitor] {
            if process.is_alive() {
                let _ = kill(Pid::from_raw(process.pid as i32), Signal::SIGKILL);
            }
        }
    }
    if let Err(error) = container.remove() {
        log::warn!("{error}");
    }
}

/// `__monitor`: becomes the container's monitor; returns its exit status.
pub fn monitor(global: &Global, args: MonitorArgs, launcher: Launcher) -> Result<i32> {
    let ready = super::ready_pipe(args.ready_fd)?;
    let config = MonitorConfig {
        state_dir: args.state_dir,
        bundle: args.bundle,
        console_socket: args.console_socket,
        terminal: args.terminal,
        kernel: args.kernel_path,
        memory_mib: args.memory_mib,
        cpus: args.cpus,
        kernel_log_level: kernel_log_level(global.debug),
    };
    Ok(monitor::run(config, ready, launcher))
}

/// The kernel's `log=` for a sandbox. Without `--debug`, errors only: every byte the kernel
/// logs is one emulated UART write (a VM exit and a `write(2)` in QEMU), and podman's
/// ordinary bundles draw about ten warnings (mount options a VM ignores), which cost
/// milliseconds of every `create` though nobody reads `kernel.log` unless debugging.
/// The kernel's own failure lines (`sandbox: ...`) are printed at every level.
fn kernel_log_level(debug: bool) -> log::LevelFilter {
    if debug {
        log::LevelFilter::Info
    } else {
        log::LevelFilter::Error
    }
}

#[cfg(test)]
mod tests {
    use super::kernel_log_level;

    #[test]
    fn the_kernel_logs_errors_only_unless_debugging() {
        assert_eq!(kernel_log_level(false), log::LevelFilter::Error);
        assert_eq!(kernel_log_level(true), log::LevelFilter::Info);
    }
}
