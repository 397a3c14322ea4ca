//! `kill ID SIGNAL [--all]`: the signal goes to the container's init in the guest (every
//! container process with `--all`), through the monitor.

use liboci_cli::Kill;

use super::Global;
use crate::error::{Result, RuntimeError};
use crate::monitor;
use crate::protocol::Request;
use crate::signals;
use crate::state::{Lock, Status};

pub fn kill(global: &Global, args: &Kill) -> Result<()> {
    let signal = signals::parse(&args.signal)?;
    // Shared: a kill may go alongside others, never alongside a delete.
    let container = global.root.lock(&args.container_id, Lock::Shared)?;
    match container.read()?.effective_status() {
        Status::Stopped | Status::Creating => {
            Err(RuntimeError::BadState("container not running".into()))
        }
        Status::Created | Status::Running | Status::Paused => monitor::request(
            &container.dir,
            &Request::Signal {
                signal,
                all: args.all,
                exec: None,
            },
            &[],
        )
        .map(drop),
    }
}
