//! The podman checks: `podman --runtime sandbox-runtime …` as a person types it, each
//! answer the one podman gives with runc (the untrapped `stop` is run under both).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::COMMAND_TIMEOUT;
use crate::oci::{self, PODMAN_RUN_FLAGS};
use crate::setup::{PODMAN, RUNC};

/// Each check: its case name and what it does; failures are returned.
pub type Check = fn(&Podman) -> Vec<String>;

pub const CHECKS: [(&str, Check); 8] = [
    ("podman-streams", streams),
    ("podman-stdin", stdin),
    ("podman-tty", tty),
    ("podman-stop", stop),
    ("podman-kill-usr1", kill_usr1),
    ("podman-exec", exec),
    ("podman-missing-command", missing_command),
    ("podman-cpus", cpus),
];

#[derive(Debug, Clone)]
pub struct Podman {
    runtime: PathBuf,
    image: &'static str,
}

impl Podman {
    pub fn new(runtime: &Path, image: &'static str) -> Self {
        Podman {
            runtime: runtime.to_owned(),
            image,
        }
    }

    fn command(&self, runtime: &Path) -> Command {
        let mut command = Command::new(PODMAN);
        command.arg("--runtime").arg(runtime);
        command
    }

    /// `podman --runtime OURS ARGS` (with `stdin`).
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Output, String> {
        oci::run(
            self.command(&self.runtime).args(args),
            stdin,
            COMMAND_TIMEOUT,
        )
    }

    /// `podman run FLAGS [extra] IMAGE command…`'s arguments.
    fn run_args<'a>(&'a self, extra: &[&'a str], command: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["run"];
        args.extend(PODMAN_RUN_FLAGS);
        args.extend(extra);
        args.push(self.image);
        args.extend(command);
        args
    }

    /// `podman run -d …`: the container's id.
    fn detached(&self, runtime: &Path, command: &[&str]) -> Result<String, String> {
        let args = self.run_args(&["-d"], command);
        let output = oci::run(self.command(runtime).args(&args), None, COMMAND_TIMEOUT)?;
        if !output.status.success() {
            return Err(format!("podman run -d: {}", oci::describe(&output)));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    fn exit_code(&self, id: &str) -> Result<String, String> {
        let output = self.run(&["inspect", id, "--format", "{{.State.ExitCode}}"], None)?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    fn logs(&self, id: &str) -> String {
        self.run(&["logs", id], None)
            .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
            .unwrap_or_default()
    }

    fn remove(&self, id: &str) {
        let _ = self.run(&["rm", "-f", "-t", "0", id], None);
    }
}

fn expect_status(failures: &mut Vec<String>, what: &str, output: &Output, status: i32) {
    if output.status.code() != Some(status) {
        failures.push(format!(
            "{what}: expected status {status}, got {}",
            oci::describe(output)
        ));
    }
}

fn streams(podman: &Podman) -> Vec<String> {
    let args = podman.run_args(&["--rm"], &["sh", "-c", "echo out; echo err >&2; exit 7"]);
    let output = match podman.run(&args, None) {
        Ok(output) => output,
        Err(error) => return vec![error],
    };
    let mut failures = Vec::new();
    expect_status(&mut failures, "run", &output, 7);
    if output.stdout != b"out\n"
        || !String::from_utf8_lossy(&output.stderr)
            .lines()
            .any(|line| line == "err")
    {
        failures.push(format!("streams mixed or lost: {}", oci::describe(&output)));
    }
    failures
}

fn stdin(podman: &Podman) -> Vec<String> {
    let args = podman.run_args(&["--rm", "-i"], &["cat"]);
    match podman.run(&args, Some(b"hello\nworld\n")) {
        Ok(output) => {
            let mut failures = Vec::new();
            expect_status(&mut failures, "run -i", &output, 0);
            if output.stdout != b"hello\nworld\n" {
                failures.push(format!("run -i cat: {}", oci::describe(&output)));
            }
            failures
        }
        Err(error) => vec![error],
    }
}

/// `script` gives podman a terminal; the lines are typed after the container had time to
/// show its prompt (anything typed sooner waits in the terminal anyway).
fn tty(podman: &Podman) -> Vec<String> {
    let mut line = format!(
        "{PODMAN} --runtime {} run --rm -it",
        podman.runtime.display()
    );
    for flag in PODMAN_RUN_FLAGS {
        line.push(' ');
        line.push_str(flag);
    }
    line.push_str(&format!(" {} sh", podman.image));
    let mut child = match Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) => return vec![format!("script: {error}")],
    };
    let mut input = child.stdin.take().expect("piped");
    let typist = std::thread::spawn(move || {
        for text in ["echo hi-$((40+2))\n", "exit 4\n"] {
            std::thread::sleep(Duration::from_secs(3));
            let _ = input.write_all(text.as_bytes());
        }
        // Held open until the shell has exited: script passes an end of input on.
        std::thread::sleep(Duration::from_secs(60));
    });
    let started = Instant::now();
    let output = loop {
        match child.try_wait() {
            Ok(Some(_)) => break child.wait_with_output(),
            Ok(None) if started.elapsed() > COMMAND_TIMEOUT => {
                let _ = child.kill();
                return vec!["podman run -it under script did not end".into()];
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(error) => return vec![error.to_string()],
        }
    };
    drop(typist);
    let output = match output {
        Ok(output) => output,
        Err(error) => return vec![error.to_string()],
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let mut failures = Vec::new();
    expect_status(&mut failures, "run -it", &output, 4);
    if !text.contains("/ # ") || !text.lines().any(|line| line.trim_end() == "hi-42") {
        failures.push(format!("no prompt or no hi-42 in the terminal: {text:?}"));
    }
    failures
}

fn stop(podman: &Podman) -> Vec<String> {
    let mut failures = Vec::new();
    let script = "trap 'echo got-term; exit 3' TERM; while :; do sleep 0.1; done";
    match podman.detached(&podman.runtime, &["sh", "-c", script]) {
        Ok(id) => {
            // The trap is set once the shell runs its loop: wait for the container to run.
            std::thread::sleep(Duration::from_secs(2));
            if let Err(error) = podman.run(&["stop", "-t", "20", &id], None) {
                failures.push(error);
            }
            match podman.exit_code(&id) {
                Ok(code) if code == "3" => {}
                other => failures.push(format!("trapped TERM: exit code {other:?}, expected 3")),
            }
            if !podman.logs(&id).contains("got-term") {
                failures.push("the TERM trap did not run".into());
            }
            podman.remove(&id);
        }
        Err(error) => failures.push(error),
    }
    // An init without a handler: compared with runc's answer.
    let mut codes = Vec::new();
    for runtime in [podman.runtime.clone(), PathBuf::from(RUNC)] {
        let runtime = crate::host::find_in_path(&runtime.to_string_lossy()).unwrap_or(runtime);
        match podman.detached(&runtime, &["sleep", "1000"]) {
            Ok(id) => {
                let _ = oci::run(
                    podman.command(&runtime).args(["stop", "-t", "2", &id]),
                    None,
                    COMMAND_TIMEOUT,
                );
                codes.push(podman.exit_code(&id).unwrap_or_else(|error| error));
                podman.remove(&id);
            }
            Err(error) => failures.push(error),
        }
    }
    if codes.len() == 2 && codes[0] != codes[1] {
        failures.push(format!(
            "untrapped stop: ours {}, runc's {}",
            codes[0], codes[1]
        ));
    }
    failures
}

fn kill_usr1(podman: &Podman) -> Vec<String> {
    let script = "trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.1; done";
    let id = match podman.detached(&podman.runtime, &["sh", "-c", script]) {
        Ok(id) => id,
        Err(error) => return vec![error],
    };
    let mut failures = Vec::new();
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    while !podman.logs(&id).contains("ready") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    match podman.run(&["kill", "-s", "USR1", &id], None) {
        Ok(output) if output.status.success() => {}
        Ok(output) => failures.push(format!("podman kill: {}", oci::describe(&output))),
        Err(error) => failures.push(error),
    }
    while !podman.logs(&id).contains("got-usr1") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    if !podman.logs(&id).contains("got-usr1") {
        failures.push(format!(
            "USR1 never reached the trap: logs {:?}",
            podman.logs(&id)
        ));
    }
    podman.remove(&id);
    failures
}

fn exec(podman: &Podman) -> Vec<String> {
    let id = match podman.detached(&podman.runtime, &["sleep", "1000"]) {
        Ok(id) => id,
        Err(error) => return vec![error],
    };
    let mut failures = Vec::new();
    match podman.run(
        &[
            "exec",
            &id,
            "sh",
            "-c",
            "echo exec-out; echo exec-err >&2; exit 5",
        ],
        None,
    ) {
        Ok(output) => {
            expect_status(&mut failures, "exec", &output, 5);
            if output.stdout != b"exec-out\n"
                || !String::from_utf8_lossy(&output.stderr).contains("exec-err")
            {
                failures.push(format!("exec streams: {}", oci::describe(&output)));
            }
        }
        Err(error) => failures.push(error),
    }
    match podman.run(&["exec", "-i", &id, "cat"], Some(b"piped\n")) {
        Ok(output) => {
            expect_status(&mut failures, "exec -i", &output, 0);
            if output.stdout != b"piped\n" {
                failures.push(format!("exec -i cat: {}", oci::describe(&output)));
            }
        }
        Err(error) => failures.push(error),
    }
    match podman.run(&["exec", &id, "nosuch-program"], None) {
        Ok(output) => expect_status(&mut failures, "exec of a missing program", &output, 127),
        Err(error) => failures.push(error),
    }
    podman.remove(&id);
    failures
}

/// `--cpus 2` (a CPU quota of two periods) gives the VM two vCPUs, and the container
/// sees them (`nproc`, `/sys/devices/system/cpu/online`), the sysctls podman sets by
/// default read back in `/proc/sys`, and `/dev/stdout` reaches the container's stdout.
fn cpus(podman: &Podman) -> Vec<String> {
    let script = "nproc; cat /sys/devices/system/cpu/online; \
        cat /proc/sys/net/ipv4/ping_group_range; echo logged > /dev/stdout";
    let args = podman.run_args(&["--rm", "--cpus", "2"], &["sh", "-c", script]);
    match podman.run(&args, None) {
        Ok(output) => {
            let mut failures = Vec::new();
            expect_status(&mut failures, "run --cpus 2", &output, 0);
            if output.stdout != b"2\n0-1\n0 0\nlogged\n" {
                failures.push(format!("run --cpus 2: {}", oci::describe(&output)));
            }
            failures
        }
        Err(error) => vec![error],
    }
}

fn missing_command(podman: &Podman) -> Vec<String> {
    let args = podman.run_args(&["--rm"], &["nosuch-program"]);
    match podman.run(&args, None) {
        Ok(output) => {
            let mut failures = Vec::new();
            expect_status(&mut failures, "run of a missing program", &output, 127);
            failures
        }
        Err(error) => vec![error],
    }
}
