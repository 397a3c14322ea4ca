//! `__exec-wait`: the process `exec --detach` leaves behind for its caller to wait on
//! (conmon and containerd's shim are subreapers and read its exit status as the exec'd
//! process's). It follows the process's terminal size (its pty slave becomes our
//! controlling terminal, so the caller's resizes of the master arrive as `SIGWINCH`) and
//! passes on the signals it receives.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::sys::signal::{SigSet, Signal};

use super::ready_pipe;
use crate::cli::ExecWaitArgs;
use crate::console;
use crate::error::{Context, Result, RuntimeError};
use crate::monitor;
use crate::protocol::{self, Reply, Request};

/// The status reported when the sandbox ended under the process (it died with it).
const ENDED_WITH_SANDBOX: i32 = 128 + Signal::SIGKILL as i32;

pub fn exec_wait(args: ExecWaitArgs) -> Result<i32> {
    let mut ready = ready_pipe(args.ready_fd)?;
    let set_up = (|| {
        let signals = monitor::block_signals()?;
        nix::unistd::setsid().context(|| "setsid".to_owned())?;
        let tty = match &args.tty {
            Some(path) => {
                let tty: OwnedFd = File::options()
                    .read(true)
                    .write(true)
                    .open(path)
                    .context(|| format!("opening {}", path.display()))?
                    .into();
                console::take_as_controlling(&tty)?;
                Some(tty)
            }
            None => None,
        };
        let stream = monitor::connect(&args.state_dir)?;
        Ok::<_, RuntimeError>((signals, tty, stream))
    })();
    let (signals, tty, stream) = match set_up {
        Ok(parts) => parts,
        Err(error) => {
            let reply = Reply::Error {
                message: error.to_string(),
                status: None,
            };
            let _ = writeln!(
                ready,
                "{}",
                serde_json::to_string(&reply).expect("serializes")
            );
            return Err(error);
        }
    };
    let _ = writeln!(
        ready,
        "{}",
        serde_json::to_string(&Reply::Ok).expect("serializes")
    );
    drop(ready);
    let dir = args.state_dir.clone();
    let exec = args.exec;
    std::thread::spawn(move || forward_to_exec(&dir, exec, signals, tty));
    match protocol::call(&stream, &Request::WaitExec { exec }, &[]) {
        Ok(Reply::Exited { code }) => Ok(code),
        Ok(other) => {
            log::warn!("exec {exec}: {other:?}");
            Ok(ENDED_WITH_SANDBOX)
        }
        // The monitor went away: the sandbox, and the process with it, ended.
        Err(error) => {
            log::debug!("exec {exec}: {error}");
            Ok(ENDED_WITH_SANDBOX)
        }
    }
}

/// Forever: `SIGWINCH` → the terminal's size to the exec'd process, other signals → the
/// process itself.
pub fn forward_to_exec(dir: &Path, exec: u32, signals: SigSet, tty: Option<OwnedFd>) {
    loop {
        let Ok(signal) = signals.wait() else { continue };
        let request = if signal == Signal::SIGWINCH {
            match tty.as_ref().and_then(console::window_size) {
                Some((rows, cols)) => Request::Resize {
                    exec: Some(exec),
                    rows,
                    cols,
                },
                None => continue,
            }
        } else {
            Request::Signal {
                signal: signal as i32,
                all: false,
                exec: Some(exec),
            }
        };
        if let Err(error) = monitor::request(dir, &request, &[]) {
            log::debug!("exec {exec}: passing {signal} on: {error}");
        }
    }
}
