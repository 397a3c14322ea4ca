//! The containerd check: a daemon of its own (root, state and socket under the fixtures,
//! the CRI plugin off), `ctr run --runc-binary sandbox-runtime` through containerd's
//! `containerd-shim-runc-v2`, which adds `--root`, `--log` and `--log-format json` to every
//! call and reads `ps --format json`.

use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{COMMAND_TIMEOUT, Setup};
use crate::oci;
use crate::setup::{CONTAINERD, CTR};

pub fn check(setup: &Setup) -> Vec<String> {
    let dir = setup.dir.join("containerd");
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(error) = std::fs::create_dir_all(&dir) {
        return vec![format!("creating {}: {error}", dir.display())];
    }
    let socket = dir.join("containerd.sock");
    let config = dir.join("config.toml");
    let text = format!(
        "version = 2\nroot = \"{}\"\nstate = \"{}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{}\"\n",
        dir.join("root").display(),
        dir.join("state").display(),
        socket.display()
    );
    if let Err(error) = std::fs::write(&config, text) {
        return vec![format!("writing {}: {error}", config.display())];
    }
    let log = match std::fs::File::create(dir.join("containerd.log")) {
        Ok(log) => log,
        Err(error) => return vec![error.to_string()],
    };
    let mut daemon = match Command::new(CONTAINERD)
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
    {
        Ok(daemon) => daemon,
        Err(error) => return vec![format!("starting containerd: {error}")],
    };
    let ctr = Ctr {
        socket: socket.clone(),
        runtime: setup.runtime.clone(),
        rootfs: setup.root.rootfs.clone(),
    };
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let failures = loop {
        if ctr
            .plain(&["version"])
            .is_ok_and(|output| output.status.success())
        {
            break checks(&ctr);
        }
        if Instant::now() > deadline {
            break vec![format!("containerd did not answer on {}", socket.display())];
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = Command::new("kill").arg(daemon.id().to_string()).status();
    let _ = daemon.wait();
    failures
}

struct Ctr {
    socket: std::path::PathBuf,
    runtime: std::path::PathBuf,
    rootfs: std::path::PathBuf,
}

impl Ctr {
    fn command(&self) -> Command {
        let mut command = Command::new(CTR);
        command.arg("--address").arg(&self.socket);
        command
    }

    fn plain(&self, args: &[&str]) -> Result<std::process::Output, String> {
        oci::run(self.command().args(args), None, COMMAND_TIMEOUT)
    }

    /// `ctr run --rm --runc-binary OURS --rootfs ROOT [-d] ID ARGS…`.
    fn run_command(&self, id: &str, args: &[&str]) -> Command {
        let mut command = self.command();
        command
            .args(["run", "--rm", "--env", "PATH=/bin", "--runc-binary"])
            .arg(&self.runtime)
            .arg("--rootfs")
            .arg(&self.rootfs)
            .arg(id)
            .args(args);
        command
    }

    fn task_running(&self, id: &str) -> bool {
        self.plain(&["task", "ls"]).is_ok_and(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .any(|line| line.starts_with(id) && line.contains("RUNNING"))
        })
    }
}

fn checks(ctr: &Ctr) -> Vec<String> {
    let mut failures = Vec::new();
    match oci::run(
        &mut ctr.run_command("streams", &["sh", "-c", "echo out; echo err >&2; exit 7"]),
        None,
        COMMAND_TIMEOUT,
    ) {
        Ok(output) => {
            if output.status.code() != Some(7)
                || output.stdout != b"out\n"
                || !String::from_utf8_lossy(&output.stderr).contains("err")
            {
                failures.push(format!("ctr run: {}", oci::describe(&output)));
            }
        }
        Err(error) => failures.push(error),
    }
    failures.extend(exec_and_kill(ctr));
    match oci::run(
        &mut ctr.run_command("missing", &["nosuch-program"]),
        None,
        COMMAND_TIMEOUT,
    ) {
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if output.status.success() || !stderr.contains("executable file not found") {
                failures.push(format!(
                    "ctr run of a missing program: {}",
                    oci::describe(&output)
                ));
            }
        }
        Err(error) => failures.push(error),
    }
    failures
}

/// A container in the foreground of its own `ctr run`, reached meanwhile by `task exec`,
/// `task ps` and `task kill` (TERM, which its trap turns into status 3).
fn exec_and_kill(ctr: &Ctr) -> Vec<String> {
    let script = "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.1; done";
    let child = match ctr
        .run_command("trapped", &["sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) => return vec![format!("ctr run: {error}")],
    };
    let mut failures = Vec::new();
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    while !ctr.task_running("trapped") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // The shell sets its trap right after it starts.
    std::thread::sleep(Duration::from_secs(1));
    match ctr.plain(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "trapped",
        "sh",
        "-c",
        "echo exec-out; exit 5",
    ]) {
        Ok(output) if output.status.code() == Some(5) && output.stdout == b"exec-out\n" => {}
        Ok(output) => failures.push(format!("ctr task exec: {}", oci::describe(&output))),
        Err(error) => failures.push(error),
    }
    match ctr.plain(&["task", "ps", "trapped"]) {
        Ok(output)
            if output.status.success()
                && String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .any(|line| line.starts_with("1 ")) => {}
        Ok(output) => failures.push(format!(
            "ctr task ps (pid 1 expected): {}",
            oci::describe(&output)
        )),
        Err(error) => failures.push(error),
    }
    match ctr.plain(&["task", "kill", "trapped"]) {
        Ok(output) if output.status.success() => {}
        Ok(output) => failures.push(format!("ctr task kill: {}", oci::describe(&output))),
        Err(error) => failures.push(error),
    }
    match wait_child(child, COMMAND_TIMEOUT) {
        Ok(output) => {
            if output.status.code() != Some(3)
                || !String::from_utf8_lossy(&output.stdout).contains("got-term")
            {
                failures.push(format!(
                    "ctr run after task kill: {}",
                    oci::describe(&output)
                ));
            }
        }
        Err(error) => failures.push(error),
    }
    failures
}

fn wait_child(child: Child, timeout: Duration) -> Result<std::process::Output, String> {
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    match done_rx.recv_timeout(timeout) {
        Ok(result) => result.map_err(|error| error.to_string()),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            Err("ctr run did not end after task kill".into())
        }
    }
}
