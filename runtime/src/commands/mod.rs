//! The subcommands, one module each, and what they share: the global options, pid files,
//! and spawning the runtime's own helper processes (the monitor, the exec waiter) with a
//! pipe that tells when they are ready.

mod create;
mod delete;
mod exec;
mod exec_wait;
pub mod info;
mod kill;
mod lifecycle;
mod list;
mod state;

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};

use crate::cli::{Cli, Command};
use crate::error::{Context, Result, RuntimeError};
use crate::logging::Format;
use crate::protocol::Reply;
use crate::state::Root;
use crate::vm::Launcher;

pub use info::version_text as info_version_text;

/// The global options every subcommand sees.
#[derive(Debug, Clone)]
pub struct Global {
    pub root: Root,
    pub log: Option<PathBuf>,
    pub log_format: Format,
    pub debug: bool,
    pub kernel: Option<PathBuf>,
}

impl Global {
    /// The flags a helper process needs to log where we do.
    fn helper_flags(&self) -> Vec<OsString> {
        let mut flags: Vec<OsString> = vec!["--root".into(), self.root.path.clone().into()];
        if let Some(log) = &self.log {
            flags.extend(["--log".into(), log.clone().into()]);
        }
        flags.extend(["--log-format".into(), self.log_format.name().into()]);
        if self.debug {
            flags.push("--debug".into());
        }
        flags
    }
}

/// Runs one subcommand; returns the exit code (`exec` without `--detach` gives its
/// process's).
pub fn run(cli: Cli, global: &Global, launcher: Launcher) -> Result<i32> {
    let Some(command) = cli.command else {
        return Err(RuntimeError::Usage(
            "no command given (see --help)".to_owned(),
        ));
    };
    match command {
        Command::Create(args) => create::create(global, &args).map(|()| 0),
        Command::Start(args) => lifecycle::start(global, &args.container_id).map(|()| 0),
        Command::State(args) => state::state(global, &args.container_id).map(|()| 0),
        Command::Kill(args) => kill::kill(global, &args).map(|()| 0),
        Command::Delete(args) => delete::delete(global, &args.container_id, args.force).map(|()| 0),
        Command::Exec(args) => exec::exec(global, &args),
        Command::Ps(args) => state::ps(global, &args).map(|()| 0),
        Command::Pause(args) => lifecycle::pause(global, &args.container_id).map(|()| 0),
        Command::Resume(args) => lifecycle::resume(global, &args.container_id).map(|()| 0),
        Command::Features(_) => info::features().map(|()| 0),
        Command::List(args) => list::list(global, &args).map(|()| 0),
        Command::Monitor(args) => create::monitor(global, args, launcher),
        Command::ExecWait(args) => exec_wait::exec_wait(args),
    }
}

/// Writes `pid` to `path` as runc does: decimal, no newline, renamed into place so a reader
/// never sees it half written.
pub fn write_pid_file(path: &Path, pid: u32) -> Result<()> {
    let path = std::path::absolute(path).context(|| format!("{}", path.display()))?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.{}", std::process::id()));
    std::fs::write(&temporary, pid.to_string())
        .context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, &path).context(|| format!("writing {}", path.display()))
}

/// Starts `sandbox-runtime GLOBAL SUBCOMMAND ARGS --ready-fd N` with our stdio (or none), and waits
/// for its one-line report on the pipe N: `Reply::Ok`, or its error. On an error (or if it
/// ends without a report) it is reaped and the error returned.
fn spawn_helper(
    global: &Global,
    subcommand: &str,
    args: Vec<OsString>,
    null_stdio: bool,
) -> Result<Child> {
    let (reader, writer) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context(|| "pipe".to_owned())?;
    // The writing end alone crosses exec (we are single-threaded here: no other spawn can
    // inherit it).
    fcntl(&writer, FcntlArg::F_SETFD(FdFlag::empty())).context(|| "fcntl".to_owned())?;
    let exe = std::env::current_exe().context(|| "finding our own binary".to_owned())?;
    let mut command = Process::new(exe);
    command
        .args(global.helper_flags())
        .arg(subcommand)
        .args(args)
        .arg("--ready-fd")
        .arg(writer.as_raw_fd().to_string());
    if null_stdio {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    let mut child = command
        .spawn()
        .context(|| format!("starting the {subcommand} process"))?;
    drop(writer);
    let mut line = String::new();
    BufReader::new(File::from(reader))
        .read_line(&mut line)
        .context(|| format!("reading the {subcommand} process's report"))?;
    let reply = if line.trim().is_empty() {
        let status = child.wait().context(|| "wait".to_owned())?;
        let how = status
            .code()
            .map(|code| format!("exit status {code}"))
            .or_else(|| status.signal().map(crate::signals::name))
            .unwrap_or_default();
        return Err(RuntimeError::Monitor(format!(
            "the {subcommand} process ended before it was ready ({how})"
        )));
    } else {
        serde_json::from_str::<Reply>(&line)
            .map_err(|error| RuntimeError::Monitor(format!("bad report {line:?}: {error}")))?
    };
    match reply {
        Reply::Ok => Ok(child),
        Reply::Error { message, status } => {
            let _ = child.wait();
            Err(RuntimeError::Guest { message, status })
        }
        other => {
            let _ = child.wait();
            Err(RuntimeError::Monitor(format!(
                "unexpected report {other:?}"
            )))
        }
    }
}

/// In a helper: the pipe its parent reads the report from, by the inherited descriptor
/// number (reopened through /proc, so no descriptor is adopted unchecked).
pub fn ready_pipe(fd: i32) -> Result<File> {
    let path = format!("/proc/self/fd/{fd}");
    let file = File::options()
        .write(true)
        .open(&path)
        .context(|| format!("opening the report pipe {path}"))?;
    nix::unistd::close(fd).context(|| format!("closing fd {fd}"))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_files_are_bare_decimal() {
        let path = std::env::temp_dir().join(format!("pidfile-test-{}", std::process::id()));
        write_pid_file(&path, 12345).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"12345");
        write_pid_file(&path, 7).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"7");
        std::fs::remove_file(&path).unwrap();
    }
}
