//! `state ID` (the runtime-spec state JSON, as runc prints it) and `ps ID` (the container's
//! processes: guest pids, since no host process stands for them).

use liboci_cli::Ps;

use super::Global;
use crate::error::{Result, RuntimeError};
use crate::monitor;
use crate::protocol::{Reply, Request};
use crate::state::{Lock, Status};

pub fn state(global: &Global, id: &str) -> Result<()> {
    let container = global.root.lock(id, Lock::Shared)?;
    let state = container.read()?.oci_state();
    println!(
        "{}",
        serde_json::to_string_pretty(&state).expect("state serializes")
    );
    Ok(())
}

pub fn ps(global: &Global, args: &Ps) -> Result<()> {
    if args.format != "json" && args.format != "table" {
        return Err(RuntimeError::Usage(format!(
            "invalid format option {:?} (json or table)",
            args.format
        )));
    }
    let container = global.root.lock(&args.container_id, Lock::Shared)?;
    let pids = match container.read()?.effective_status() {
        // runc answers an empty list for a container with no processes left.
        Status::Stopped | Status::Creating => Vec::new(),
        _ => match monitor::request(&container.dir, &Request::Pids, &[])? {
            Reply::Pids { pids } => pids,
            other => {
                return Err(RuntimeError::Monitor(format!("unexpected reply {other:?}")));
            }
        },
    };
    print!("{}", render_pids(&pids, &args.format));
    Ok(())
}

/// `json`: the array runc prints (containerd's shim reads it); `table`: one pid a line under
/// a `PID` header.
pub fn render_pids(pids: &[u32], format: &str) -> String {
    if format == "json" {
        return format!("{}\n", serde_json::to_string(pids).expect("pids serialize"));
    }
    let mut table = String::from("PID\n");
    for pid in pids {
        table.push_str(&format!("{pid}\n"));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_formats() {
        assert_eq!(render_pids(&[1, 12], "json"), "[1,12]\n");
        assert_eq!(render_pids(&[], "json"), "[]\n");
        assert_eq!(render_pids(&[1, 12], "table"), "PID\n1\n12\n");
    }
}
