//! `exec`: another process in a running container, from `--process FILE` (what conmon and
//! containerd's shim pass) or from arguments over the container's own `process` (runc's
//! `exec ID CMD…` with `--env`, `--cwd`, `--user`, `-t`…). Its streams are ours (sent to the
//! monitor as descriptors), or a new pty whose master goes to `--console-socket`, or with
//! `-t` in the foreground our own terminal. With `--detach` a waiter process is left behind,
//! written to `--pid-file`, whose exit status is the process's; without it we wait and exit
//! with that status ourselves.

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};

use liboci_cli::Exec;
use nix::sys::termios::{SetArg, tcgetattr, tcsetattr};
use oci_spec::runtime::{Process, User};

use super::exec_wait::forward_to_exec;
use super::{Global, spawn_helper, write_pid_file};
use crate::console;
use crate::error::{Context, Result, RuntimeError, guest_exec_error};
use crate::monitor;
use crate::protocol::{self, Reply, Request};
use crate::spec;
use crate::state::{self, Lock, Status};

pub fn exec(global: &Global, args: &Exec) -> Result<i32> {
    let container = global.root.lock(&args.container_id, Lock::Shared)?;
    match container.read()?.effective_status() {
        Status::Running => {}
        Status::Paused if !args.ignore_paused => {
            return Err(RuntimeError::BadState(
                "cannot exec in a paused container (use --ignore-paused to override)".into(),
            ));
        }
        Status::Paused => {}
        Status::Created | Status::Creating => {
            return Err(RuntimeError::BadState(
                "cannot exec in a container that has not been started".into(),
            ));
        }
        Status::Stopped => {
            return Err(RuntimeError::BadState(
                "cannot exec in a stopped container".into(),
            ));
        }
    }
    let process = build_process(&container.path(state::SPEC_COPY), args)?;
    let dir = container.dir.clone();
    drop(container);

    let terminal = process.terminal().unwrap_or(false);
    let mut own_terminal = None;
    let mut slave_path = None;
    let fds: Vec<OwnedFd> = match (terminal, &args.console_socket) {
        (true, Some(socket)) => {
            let pty = console::open_raw_pty()?;
            console::send_master(socket, &pty.master)?;
            slave_path = Some(pty.slave_path);
            vec![pty.slave]
        }
        (true, None) if args.detach => {
            return Err(RuntimeError::Usage(
                "cannot allocate tty if runc will detach without setting console socket".into(),
            ));
        }
        (true, None) => {
            let stdin = std::io::stdin();
            let saved = tcgetattr(stdin.as_fd()).map_err(|_| {
                RuntimeError::Usage("exec -t needs a terminal on stdin, or --console-socket".into())
            })?;
            console::make_raw(stdin.as_fd())?;
            own_terminal = Some(saved);
            vec![
                stdin
                    .as_fd()
                    .try_clone_to_owned()
                    .context(|| "dup stdin".into())?,
            ]
        }
        (false, Some(_)) => {
            return Err(RuntimeError::Usage(
                "cannot use console socket if runc will not detach or allocate tty".into(),
            ));
        }
        (false, None) => vec![
            std::io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .context(|| "dup stdin".into())?,
            std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .context(|| "dup stdout".into())?,
            std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .context(|| "dup stderr".into())?,
        ],
    };
    let result = run(
        global,
        args,
        &dir,
        process,
        terminal,
        fds,
        slave_path,
        own_terminal.is_some(),
    );
    if let Some(saved) = own_terminal {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &saved);
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn run(
    global: &Global,
    args: &Exec,
    dir: &std::path::Path,
    process: Process,
    terminal: bool,
    fds: Vec<OwnedFd>,
    slave_path: Option<std::path::PathBuf>,
    own_terminal: bool,
) -> Result<i32> {
    let signals = own_terminal.then(monitor::block_signals).transpose()?;
    let stream = monitor::connect(dir)?;
    let program = process
        .args()
        .as_ref()
        .and_then(|args| args.first().cloned())
        .unwrap_or_default();
    let request = Request::Exec {
        process: Box::new(process),
        terminal,
    };
    let reply = protocol::call(&stream, &request, &protocol::borrow_all(&fds))
        .map_err(|error| RuntimeError::Monitor(error.to_string()))?;
    // The monitor has its own copies now; ours would keep the caller's pipes open.
    drop(fds);
    let exec = match reply {
        Reply::ExecStarted { exec } => exec,
        Reply::Error { message, status } => {
            return Err(guest_exec_error(message, status, &program));
        }
        other => return Err(RuntimeError::Monitor(format!("unexpected reply {other:?}"))),
    };
    if args.detach {
        let mut waiter_args: Vec<OsString> = vec![
            "--state-dir".into(),
            dir.into(),
            "--exec".into(),
            exec.to_string().into(),
        ];
        if let Some(path) = slave_path {
            waiter_args.extend(["--tty".into(), path.into()]);
        }
        let child = spawn_helper(global, "__exec-wait", waiter_args, true)?;
        if let Some(pid_file) = &args.pid_file {
            write_pid_file(pid_file, child.id())?;
        }
        return Ok(0);
    }
    if let Some(pid_file) = &args.pid_file {
        write_pid_file(pid_file, std::process::id())?;
    }
    if let Some(signals) = signals {
        let dir = dir.to_owned();
        let tty = std::io::stdin().as_fd().try_clone_to_owned().ok();
        std::thread::spawn(move || forward_to_exec(&dir, exec, signals, tty));
    }
    let reply = protocol::call(&stream, &Request::WaitExec { exec }, &[])
        .map_err(|error| RuntimeError::Monitor(error.to_string()))?;
    match reply {
        Reply::Error { message, status } => Err(RuntimeError::Guest { message, status }),
        reply => monitor::exited(reply),
    }
}

/// The process to run: `--process FILE` as it is, or the container's own process with the
/// command line's overrides.
fn build_process(spec_copy: &std::path::Path, args: &Exec) -> Result<Process> {
    if let Some(path) = &args.process {
        let bytes = std::fs::read(path).context(|| format!("reading {}", path.display()))?;
        return serde_json::from_slice(&bytes).map_err(|error| {
            RuntimeError::Usage(format!("{}: not an OCI process: {error}", path.display()))
        });
    }
    if args.command.is_empty() {
        return Err(RuntimeError::Usage(
            "exec needs a command to run, or --process".into(),
        ));
    }
    let bytes = std::fs::read(spec_copy).context(|| format!("reading {}", spec_copy.display()))?;
    let spec = spec::parse(&bytes).map_err(RuntimeError::BadState)?;
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(args.command.clone()));
    process.set_terminal(Some(args.tty));
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.clone());
    }
    if !args.env.is_empty() {
        let mut env = process.env().clone().unwrap_or_default();
        for (key, value) in &args.env {
            env.retain(|pair| pair.split_once('=').map(|(k, _)| k) != Some(key.as_str()));
            env.push(format!("{key}={value}"));
        }
        process.set_env(Some(env));
    }
    if let Some((uid, gid)) = args.user {
        let mut user = User::default();
        user.set_uid(uid);
        user.set_gid(gid.unwrap_or(0));
        process.set_user(user);
    }
    if !args.additional_gids.is_empty() {
        let mut user = process.user().clone();
        user.set_additional_gids(Some(args.additional_gids.clone()));
        process.set_user(user);
    }
    if args.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    if !args.cap.is_empty() {
        let mut caps = process.capabilities().clone().unwrap_or_default();
        for name in &args.cap {
            let name = if name.starts_with("CAP_") {
                name.clone()
            } else {
                format!("CAP_{name}")
            };
            let capability = serde_json::from_value(name.clone().into())
                .map_err(|_| RuntimeError::Usage(format!("unknown capability {name}")))?;
            for set in [
                caps.bounding().clone(),
                caps.effective().clone(),
                caps.permitted().clone(),
            ]
            .iter()
            .enumerate()
            {
                let mut set_with = set.1.clone().unwrap_or_default();
                set_with.insert(capability);
                match set.0 {
                    0 => caps.set_bounding(Some(set_with)),
                    1 => caps.set_effective(Some(set_with)),
                    _ => caps.set_permitted(Some(set_with)),
                };
            }
        }
        process.set_capabilities(Some(caps));
    }
    if args.apparmor.is_some() || args.process_label.is_some() {
        log::debug!("exec --apparmor/--process-label: no host LSM applies inside the VM");
    }
    Ok(process)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn exec_args(line: &[&str]) -> Exec {
        let Some(Command::Exec(exec)) = Cli::parse_from(line).command else {
            panic!("not exec")
        };
        exec
    }

    #[test]
    fn arguments_over_the_containers_process() {
        let dir = std::env::temp_dir().join(format!("exec-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec_copy = dir.join("config.json");
        std::fs::write(
            &spec_copy,
            r#"{"ociVersion": "1.0.2", "process": {"args": ["sleep", "100"], "cwd": "/",
                "env": ["PATH=/bin", "A=1"], "user": {"uid": 0, "gid": 0},
                "capabilities": {"bounding": ["CAP_KILL"]}}}"#,
        )
        .unwrap();
        let args = exec_args(&[
            "rt",
            "exec",
            "-t",
            "--cwd",
            "/tmp",
            "-e",
            "A=2",
            "-e",
            "B=3",
            "--user",
            "5:6",
            "--cap",
            "SYS_ADMIN",
            "c",
            "sh",
            "-c",
            "echo hi",
        ]);
        let process = build_process(&spec_copy, &args).unwrap();
        assert_eq!(process.args().as_deref().unwrap(), ["sh", "-c", "echo hi"]);
        assert_eq!(process.terminal(), Some(true));
        assert_eq!(process.cwd(), std::path::Path::new("/tmp"));
        assert_eq!(
            process.env().as_deref().unwrap(),
            ["PATH=/bin", "A=2", "B=3"]
        );
        assert_eq!((process.user().uid(), process.user().gid()), (5, 6));
        let bounding = process
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .clone()
            .unwrap();
        assert_eq!(bounding.len(), 2);

        let process_file = dir.join("process.json");
        std::fs::write(
            &process_file,
            r#"{"args": ["ls"], "cwd": "/", "terminal": false, "user": {"uid": 0, "gid": 0}}"#,
        )
        .unwrap();
        let file_arg = process_file.to_str().unwrap();
        let args = exec_args(&["rt", "exec", "--process", file_arg, "--detach", "c"]);
        let process = build_process(&spec_copy, &args).unwrap();
        assert_eq!(process.args().as_deref().unwrap(), ["ls"]);

        let args = exec_args(&["rt", "exec", "c"]);
        assert!(build_process(&spec_copy, &args).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
