//! sandbox-runtime against runc on the same bundle (`runc spec`'s, running busybox): each
//! scenario is run under both and what a caller sees is compared — the container's exit
//! status (waited for as a subreaper, as conmon and containerd's shim do), the pid file,
//! the state JSON's keys and status at each step, the commands' own exit codes for the
//! usual mistakes, the `--log-format json` error line, and which hooks ran, told what.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rustix::process::{Pid, WaitOptions};
use serde_json::Value;

use super::{COMMAND_TIMEOUT, Setup};
use crate::oci;
use crate::setup::RUNC;

/// What one runtime showed in one scenario, for comparison.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    /// (step, the command's exit code, the state's status after it, "-" where that is a
    /// race)
    steps: Vec<(String, Option<i32>, String)>,
    /// The container's status as its waiter sees it (code, or 128 + signal).
    exit: Option<i32>,
    /// The state JSON's keys.
    keys: BTreeSet<String>,
}

struct Scenario {
    name: &'static str,
    args: &'static [&'static str],
    /// Between `start` and the wait: a signal to send (after the init had time to set traps).
    kill: Option<&'static str>,
}

const SCENARIOS: [Scenario; 3] = [
    Scenario {
        name: "exit 7",
        args: &["sh", "-c", "exit 7"],
        kill: None,
    },
    Scenario {
        name: "kill KILL",
        args: &["sleep", "100"],
        kill: Some("KILL"),
    },
    Scenario {
        name: "kill TERM with a trap",
        args: &[
            "sh",
            "-c",
            "trap 'exit 3' TERM; while :; do sleep 0.1; done",
        ],
        kill: Some("TERM"),
    },
];

pub fn check(setup: &Setup) -> Vec<String> {
    let runc = crate::host::find_in_path(RUNC).unwrap_or_else(|| PathBuf::from(RUNC));
    let dir = setup.dir.join("against-runc");
    let _ = std::fs::remove_dir_all(&dir);
    let mut failures = Vec::new();
    if let Err(error) = std::fs::create_dir_all(&dir) {
        return vec![error.to_string()];
    }
    let spec = match base_spec(&runc, &dir, &setup.root.rootfs) {
        Ok(spec) => spec,
        Err(error) => return vec![error],
    };
    // We wait for the containers as conmon does: as their subreaper.
    if let Err(error) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        return vec![format!("PR_SET_CHILD_SUBREAPER: {error}")];
    }
    for scenario in &SCENARIOS {
        let ours = run_scenario(&setup.runtime, &dir.join("ours"), &spec, scenario);
        let theirs = run_scenario(&runc, &dir.join("runc"), &spec, scenario);
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) if ours == theirs => {}
            (Ok(ours), Ok(theirs)) => failures.push(format!(
                "{}: ours {ours:?}, runc's {theirs:?}",
                scenario.name
            )),
            (ours, theirs) => failures.push(format!(
                "{}: ours {ours:?}, runc's {theirs:?}",
                scenario.name
            )),
        }
    }
    failures.extend(hooks(&setup.runtime, &runc, &dir, &spec));
    let _ = rustix::process::set_child_subreaper(None);
    reap_orphans();
    failures.extend(mistakes(&setup.runtime, &runc, &dir, &spec));
    failures
}

/// `runc spec`'s config with the busybox root (absolute, read-only as runc writes it) and
/// no terminal.
fn base_spec(runc: &Path, dir: &Path, rootfs: &Path) -> Result<Value, String> {
    let output = oci::run(
        Command::new(runc).arg("spec").arg("--bundle").arg(dir),
        None,
        COMMAND_TIMEOUT,
    )?;
    if !output.status.success() {
        return Err(format!("runc spec: {}", oci::describe(&output)));
    }
    let path = dir.join("config.json");
    let mut spec: Value = std::fs::read(&path)
        .map_err(|error| error.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|error| error.to_string()))?;
    spec["root"]["path"] = Value::from(rootfs.display().to_string());
    spec["process"]["terminal"] = Value::Bool(false);
    Ok(spec)
}

fn write_bundle(dir: &Path, spec: &Value, args: &[&str]) -> Result<(), String> {
    let mut spec = spec.clone();
    spec["process"]["args"] = Value::from(args.to_vec());
    std::fs::create_dir_all(dir).map_err(|error| error.to_string())?;
    std::fs::write(dir.join("config.json"), spec.to_string()).map_err(|error| error.to_string())
}

/// `RUNTIME --root DIR/state ARGS`.
fn runtime(runtime: &Path, dir: &Path, args: &[&str]) -> Result<Output, String> {
    oci::run(
        Command::new(runtime)
            .arg("--root")
            .arg(dir.join("state"))
            .args(args),
        None,
        COMMAND_TIMEOUT,
    )
}

fn state(program: &Path, dir: &Path, id: &str) -> Option<Value> {
    let output = runtime(program, dir, &["state", id]).ok()?;
    serde_json::from_slice(&output.stdout).ok()
}

fn run_scenario(
    program: &Path,
    dir: &Path,
    spec: &Value,
    scenario: &Scenario,
) -> Result<Seen, String> {
    let _ = std::fs::remove_dir_all(dir);
    let bundle = dir.join("bundle");
    write_bundle(&bundle, spec, scenario.args)?;
    let id = "against-runc";
    let pid_file = dir.join("pid");
    let bundle_arg = bundle.display().to_string();
    let pid_arg = pid_file.display().to_string();
    let mut seen = Seen {
        steps: Vec::new(),
        exit: None,
        keys: BTreeSet::new(),
    };
    let step = |seen: &mut Seen, name: &str, args: &[&str]| -> Result<(), String> {
        let code = if name == "create" {
            // The container keeps create's stdout and stderr (they are its own), so they
            // cannot be pipes we read to their end.
            Command::new(program)
                .arg("--root")
                .arg(dir.join("state"))
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|error| format!("{}: {error}", program.display()))?
                .code()
        } else {
            runtime(program, dir, args)?.status.code()
        };
        // Right after `start` or `kill` the init may or may not have ended yet (runc's
        // sooner than ours): the status there is a race, not an answer, and is not compared.
        let status = if matches!(name, "start" | "kill") {
            "-".to_owned()
        } else {
            state(program, dir, id)
                .map(|state| state["status"].as_str().unwrap_or("?").to_owned())
                .unwrap_or_else(|| "none".into())
        };
        seen.steps.push((name.to_owned(), code, status));
        Ok(())
    };
    let _cleanup = ForceDelete { program, dir, id };
    step(
        &mut seen,
        "create",
        &[
            "create",
            "--bundle",
            &bundle_arg,
            "--pid-file",
            &pid_arg,
            id,
        ],
    )?;
    let pid_text =
        std::fs::read_to_string(&pid_file).map_err(|error| format!("pid file: {error}"))?;
    let created = state(program, dir, id).ok_or("no state after create")?;
    seen.keys = created
        .as_object()
        .map(|object| object.keys().cloned().collect())
        .unwrap_or_default();
    let pid: i32 = pid_text
        .parse()
        .map_err(|_| format!("pid file {pid_text:?} is not a bare decimal"))?;
    if created["pid"].as_i64() != Some(i64::from(pid)) {
        return Err(format!(
            "state pid {} differs from the pid file's {pid}",
            created["pid"]
        ));
    }
    step(&mut seen, "start", &["start", id])?;
    if let Some(signal) = scenario.kill {
        std::thread::sleep(Duration::from_secs(1));
        step(&mut seen, "kill", &["kill", id, signal])?;
    }
    seen.exit = wait_status(pid);
    step(&mut seen, "kill after the end", &["kill", id, "TERM"])?;
    step(&mut seen, "start again", &["start", id])?;
    step(&mut seen, "delete", &["delete", id])?;
    Ok(seen)
}

/// Deletes the container however a scenario ends, so a check that fails half-way leaves
/// no VM (or runc container) running; after the scenario's own `delete` it finds nothing.
struct ForceDelete<'a> {
    program: &'a Path,
    dir: &'a Path,
    id: &'a str,
}

impl Drop for ForceDelete<'_> {
    fn drop(&mut self) {
        let _ = runtime(self.program, self.dir, &["delete", "--force", self.id]);
    }
}

/// The waiter's view of `pid`'s end: its code, or 128 + the signal.
fn wait_status(pid: i32) -> Option<i32> {
    let pid = Pid::from_raw(pid)?;
    let (_, status) = rustix::process::waitpid(Some(pid), WaitOptions::empty()).ok()??;
    status
        .exit_status()
        .or_else(|| status.terminating_signal().map(|signal| 128 + signal))
}

/// Processes orphaned to us while we were a subreaper (runc's helpers) are reaped.
fn reap_orphans() {
    while let Ok(Some(_)) = rustix::process::waitpid(None, WaitOptions::NOHANG) {}
}

/// `createRuntime`, `poststart` and `poststop` hooks (host programs that save the state
/// they get on stdin): which ran, and the status and id each was told, as runc's.
fn hooks(ours: &Path, runc: &Path, dir: &Path, spec: &Value) -> Vec<String> {
    let out = dir.join("hooks-out");
    let mut with_hooks = spec.clone();
    let hook = |name: &str| {
        serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("/bin/cat > {}/{name}", out.display())],
            "timeout": 60,
        })
    };
    with_hooks["hooks"] = serde_json::json!({
        "createRuntime": [hook("createRuntime")],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")],
    });
    let scenario = Scenario {
        name: "hooks",
        args: &["true"],
        kill: None,
    };
    let mut seen = Vec::new();
    for program in [ours, runc] {
        let _ = std::fs::remove_dir_all(&out);
        if let Err(error) = std::fs::create_dir_all(&out) {
            return vec![error.to_string()];
        }
        if let Err(error) = run_scenario(program, &dir.join("hooks"), &with_hooks, &scenario) {
            return vec![format!("hooks under {}: {error}", program.display())];
        }
        let ran: Vec<(String, String, String)> = ["createRuntime", "poststart", "poststop"]
            .iter()
            .map(|name| {
                let state: Value = std::fs::read(out.join(name))
                    .ok()
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                    .unwrap_or(Value::Null);
                (
                    (*name).to_owned(),
                    state["status"].as_str().unwrap_or("not run").to_owned(),
                    state["id"].as_str().unwrap_or("-").to_owned(),
                )
            })
            .collect();
        seen.push(ran);
    }
    if seen[0] == seen[1] {
        Vec::new()
    } else {
        vec![format!("hooks: ours {:?}, runc's {:?}", seen[0], seen[1])]
    }
}

/// The usual mistakes' exit codes, and the JSON log line an error leaves.
fn mistakes(ours: &Path, runc: &Path, dir: &Path, spec: &Value) -> Vec<String> {
    let mut failures = Vec::new();
    let calls: [&[&str]; 5] = [
        &["start", "nosuch"],
        &["state", "nosuch"],
        &["delete", "nosuch"],
        &["delete", "--force", "nosuch"],
        &["kill", "nosuch", "TERM"],
    ];
    for call in calls {
        let codes: Vec<Option<i32>> = [ours, runc]
            .iter()
            .map(|program| {
                runtime(program, dir, call)
                    .ok()
                    .and_then(|output| output.status.code())
            })
            .collect();
        if codes[0] != codes[1] {
            failures.push(format!(
                "{call:?}: ours {:?}, runc's {:?}",
                codes[0], codes[1]
            ));
        }
    }
    for program in [ours, runc] {
        let log = dir.join(format!(
            "log-{}.json",
            program.file_name().unwrap_or_default().to_string_lossy()
        ));
        let _ = std::fs::remove_file(&log);
        let log_arg = log.display().to_string();
        let _ = runtime(
            program,
            dir,
            &["--log", &log_arg, "--log-format", "json", "start", "nosuch"],
        );
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let error_line = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|line| {
                line["level"] == "error"
                    && line["msg"]
                        .as_str()
                        .is_some_and(|msg| msg.contains("does not exist"))
            });
        if error_line.is_none() {
            failures.push(format!(
                "{}: no JSON error line saying \"does not exist\" in {text:?}",
                program.display()
            ));
        }
    }
    // A missing program: refused at create by both, in words podman maps to 127.
    let bundle = dir.join("missing");
    if let Err(error) = write_bundle(&bundle, spec, &["nosuch-program"]) {
        failures.push(error);
        return failures;
    }
    let bundle_arg = bundle.display().to_string();
    for program in [ours, runc] {
        match runtime(
            program,
            dir,
            &["create", "--bundle", &bundle_arg, "missing"],
        ) {
            Ok(output) => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                if output.status.code() != Some(1) || !stderr.contains("executable file not found")
                {
                    failures.push(format!(
                        "{} create of a missing program: {}",
                        program.display(),
                        oci::describe(&output)
                    ));
                }
            }
            Err(error) => failures.push(error),
        }
        let _ = runtime(program, dir, &["delete", "--force", "missing"]);
    }
    failures
}
