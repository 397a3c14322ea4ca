//! `delete [--force] ID`: ends the sandbox if it still runs (a created container is ended
//! without `--force`, as runc does; a running or paused one needs it), runs the `poststop`
//! hooks, and removes the state. The init is sent SIGKILL through the monitor first, so the
//! monitor's status is the usual 137; QEMU and then the monitor are killed outright if they
//! do not end soon after.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Global;
use crate::error::{Result, RuntimeError};
use crate::hooks;
use crate::monitor;
use crate::protocol::Request;
use crate::spec::{self, HookKind};
use crate::state::{self, HostProcess, Lock, Record, Status};

/// How long each step of a teardown may take before the next, harder one.
const GRACE: Duration = Duration::from_secs(2);

pub fn delete(global: &Global, id: &str, force: bool) -> Result<()> {
    log::debug!("phase: delete");
    let container = match global.root.lock(id, Lock::Exclusive) {
        Ok(container) => container,
        // runc: `delete --force` of a container that is not there succeeds.
        Err(RuntimeError::NotExist(_)) if force => return Ok(()),
        Err(error) => return Err(error),
    };
    let record = match container.read() {
        Ok(record) => record,
        // A create that died before its first record: nothing runs, nothing to hook.
        Err(_) => return container.remove(),
    };
    let status = record.effective_status();
    if matches!(status, Status::Running | Status::Paused | Status::Creating) && !force {
        return Err(RuntimeError::BadState(format!(
            "cannot delete container {id} that is not stopped: {}",
            status.as_str()
        )));
    }
    if status != Status::Stopped || record.vmm.is_alive() {
        tear_down(&container.dir, &record);
        log::debug!("phase: delete: torn down");
    }
    let mut state = record.oci_state();
    state["status"] = "stopped".into();
    state["pid"] = 0.into();
    match std::fs::read(container.path(state::SPEC_COPY)).map(|bytes| spec::parse(&bytes)) {
        Ok(Ok(spec)) => hooks::run_all_warn(&spec, HookKind::Poststop, &state),
        _ => log::warn!("the container's spec copy is unreadable; poststop hooks not run"),
    }
    let removed = container.remove();
    log::debug!("phase: delete done");
    removed
}

fn tear_down(dir: &std::path::Path, record: &Record) {
    if record.monitor.is_alive() {
        let killed = Request::Signal {
            signal: Signal::SIGKILL as i32,
            all: true,
            exec: None,
        };
        if let Err(error) = monitor::request(dir, &killed, &[]) {
            log::debug!("SIGKILL through the monitor: {error}");
        }
        if wait_gone(&record.monitor) {
            return end_vmm(record);
        }
    }
    end_vmm(record);
    if !wait_gone(&record.monitor) {
        log::warn!(
            "the monitor (pid {}) outlived its sandbox; killing it",
            record.monitor.pid
        );
        signal(&record.monitor, Signal::SIGKILL);
        wait_gone(&record.monitor);
    }
}

fn end_vmm(record: &Record) {
    if record.vmm.is_alive() {
        signal(&record.vmm, Signal::SIGKILL);
        wait_gone(&record.vmm);
    }
}

fn signal(process: &HostProcess, signal: Signal) {
    if process.is_alive() {
        let _ = kill(Pid::from_raw(process.pid as i32), signal);
    }
}

/// Waits up to [`GRACE`] for the process to end; whether it did.
fn wait_gone(process: &HostProcess) -> bool {
    let deadline = Instant::now() + GRACE;
    while process.is_alive() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}
