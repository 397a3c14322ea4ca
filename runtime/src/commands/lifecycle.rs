//! `start`, `pause` and `resume`: one request to the monitor each, under the container's
//! exclusive lock; `start` then runs the `poststart` hooks, as runc does before it returns.

use super::Global;
use crate::error::{Result, RuntimeError};
use crate::hooks;
use crate::monitor;
use crate::protocol::Request;
use crate::spec::{self, HookKind};
use crate::state::{self, Lock, Status};

pub fn start(global: &Global, id: &str) -> Result<()> {
    let container = global.root.lock(id, Lock::Exclusive)?;
    let record = container.read()?;
    match record.effective_status() {
        Status::Created => {}
        Status::Stopped => {
            return Err(RuntimeError::BadState(
                "cannot start a container that has stopped".into(),
            ));
        }
        Status::Creating => {
            return Err(RuntimeError::BadState(
                "cannot start a container that is still being created".into(),
            ));
        }
        Status::Running | Status::Paused => {
            return Err(RuntimeError::BadState(
                "cannot start an already running container".into(),
            ));
        }
    }
    monitor::request(&container.dir, &Request::Start, &[])?;
    let spec_path = container.path(state::SPEC_COPY);
    match std::fs::read(&spec_path).map(|bytes| spec::parse(&bytes)) {
        Ok(Ok(spec)) => {
            // runc hands the start hooks the state it read before the start: "created"
            // (hooks written for runc read that).
            let mut state = record.oci_state();
            state["status"] = "created".into();
            hooks::run_all(&spec, HookKind::StartContainer, &state)?;
            hooks::run_all_warn(&spec, HookKind::Poststart, &state);
        }
        _ => log::warn!(
            "{}: unreadable; poststart hooks not run",
            spec_path.display()
        ),
    }
    Ok(())
}

pub fn pause(global: &Global, id: &str) -> Result<()> {
    let container = global.root.lock(id, Lock::Exclusive)?;
    match container.read()?.effective_status() {
        Status::Running => monitor::request(&container.dir, &Request::Pause, &[]).map(drop),
        Status::Paused => Err(RuntimeError::BadState("container already paused".into())),
        _ => Err(RuntimeError::BadState("container not running".into())),
    }
}

pub fn resume(global: &Global, id: &str) -> Result<()> {
    let container = global.root.lock(id, Lock::Exclusive)?;
    match container.read()?.effective_status() {
        Status::Paused => monitor::request(&container.dir, &Request::Resume, &[]).map(drop),
        _ => Err(RuntimeError::BadState("container not paused".into())),
    }
}
