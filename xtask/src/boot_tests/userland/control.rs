//! Issue 16's boot tests of the host ↔ guest control channel: each case drives the
//! runtime library's `Sandbox` API (`sandbox_runtime::sandbox`) against a real boot of
//! the kernel in `stdio=control` mode, with busybox as the container's programs.
//!
//! - `control-lifecycle`: the init held until `start` (its marker file absent, only pid 1
//!   listed), stdout and stderr apart with no kernel line in either, exit status 7, the
//!   kernel's log in its own file.
//! - `control-kill-held`: `SIGKILL` to an init held before `start` ends it unstarted
//!   (137, its marker never written); `start` then finds the sandbox ended.
//! - `control-stdin`: 1 MiB of pseudo-random bytes piped through `tee /tmp/copy |
//!   sha256sum`: the digest on stdout is the host's, and the copy comes back whole on
//!   stderr; the credits keep both ends bounded both ways.
//! - `control-signals`: `SIGUSR1` reaching a shell's `trap` in the init; an exec'd `sleep`
//!   killed by `SIGKILL` (137); `SIGTERM` ignored by the untrapped init (Linux's rule for
//!   a namespace's init signalled from outside); `SIGKILL` to all ending it (137).
//! - `control-exec`: exec into the running container with its own streams and status
//!   (5), its user and working directory from the process object, a directory (126), a
//!   missing command (127 and the kernel's message), `pids` with the exec'd
//!   process in it, pause/resume (the init echoes nothing while paused, all of it after).
//! - `control-launch-error`: a bundle whose command is missing fails `launch` with the
//!   kernel's status (127) and message, as `runc create` reports it.
//! - `control-terminal`: the init on a terminal, `stty size` before and after a resize,
//!   and an exec'd process with a terminal of its own and its `consoleSize`.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sandbox_runtime::qemu::AccelRequest;
use sandbox_runtime::sandbox::{
    ExecId, ExitStatus, LaunchConfig, ProcessStdio, Sandbox, SandboxError, Target,
};
use serde_json::Value;

use super::Builder;
use crate::boot_tests::{Case, Host, HostDriver};
use crate::qemu::Accel;

/// How long a case waits for output it expects: a hang guard, never a measurement.
const PATIENCE: Duration = Duration::from_secs(120);

pub fn cases(builder: &Builder<'_>) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    let specs: [(&str, Value, Driver); 7] = [
        (
            "control-kill-held",
            with_args(builder, &["sh", "-c", "echo started > /rw/marker"]),
            kill_held,
        ),
        (
            "control-launch-error",
            builder.fixtures.spec(&["no-such-init"]),
            launch_error,
        ),
        (
            "control-lifecycle",
            with_args(
                builder,
                &[
                    "sh",
                    "-c",
                    "echo started > /rw/marker; echo out; echo err >&2; exit 7",
                ],
            ),
            lifecycle,
        ),
        (
            "control-stdin",
            with_args(
                builder,
                &[
                    "sh",
                    "-c",
                    "busybox tee /tmp/copy | busybox sha256sum; busybox cat /tmp/copy >&2",
                ],
            ),
            stdin_piped,
        ),
        (
            "control-signals",
            with_args(
                builder,
                &[
                    "sh",
                    "-c",
                    "trap 'echo got USR1' USR1; echo ready; while :; do sleep 1 & wait $!; done",
                ],
            ),
            signals,
        ),
        ("control-exec", with_args(builder, &["cat"]), exec),
        (
            "control-terminal",
            {
                let mut spec = with_args(
                    builder,
                    &["sh", "-c", "stty size; read line; stty size; read line"],
                );
                spec["process"]["terminal"] = true.into();
                spec["process"]["consoleSize"] = serde_json::json!({"height": 24, "width": 80});
                spec
            },
            terminal,
        ),
    ];
    for (name, spec, driver) in specs {
        let dir = builder.fixtures.bundle_dir(name)?;
        let config = dir.join("config.json");
        std::fs::write(&config, serde_json::to_vec_pretty(&spec)?)
            .with_context(|| format!("writing {}", config.display()))?;
        cases.push(builder.new_case(name).driven_by(HostDriver::new(
            move |case, host| match driver(&Boot::new(case, host, &dir)) {
                Ok(failures) => failures,
                Err(error) => vec![format!("{error:#}")],
            },
        )));
    }
    Ok(cases)
}

type Driver = fn(&Boot) -> Result<Vec<String>>;

fn with_args(builder: &Builder<'_>, args: &[&str]) -> Value {
    let mut full = vec!["/bin/busybox"];
    full.extend_from_slice(args);
    builder.fixtures.spec(&full)
}

/// What a case needs to launch its sandbox.
struct Boot {
    kernel: PathBuf,
    bundle: PathBuf,
    accel: AccelRequest,
}

impl Boot {
    fn new(case: &Case, host: Host<'_>, bundle: &Path) -> Boot {
        Boot {
            kernel: host.kernel.to_owned(),
            bundle: bundle.to_owned(),
            accel: match case.accel {
                Accel::Kvm => AccelRequest::Kvm,
                Accel::Tcg => AccelRequest::Tcg,
            },
        }
    }

    fn kernel_log(&self) -> PathBuf {
        self.bundle.join("kernel.log")
    }

    fn launch(&self, init_stdio: ProcessStdio) -> Result<Sandbox> {
        Sandbox::launch(LaunchConfig {
            kernel: self.kernel.clone(),
            bundle: self.bundle.clone(),
            memory_mib: None,
            cpus: 1,
            accel: self.accel,
            kernel_log: self.kernel_log(),
            log_level: sandbox_runtime::sandbox::LevelFilter::Warn,
            init_stdio,
        })
        .context("launching the sandbox")
    }
}

/// What came so far and whether the stream ended, and its change.
type Received = (Mutex<(Vec<u8>, bool)>, Condvar);

/// A stream the host reads as it comes, for waiting on what a program printed.
#[derive(Clone)]
struct Collected(Arc<Received>);

impl Collected {
    fn from(mut from: impl Read + Send + 'static) -> Collected {
        let collected = Collected(Arc::new((Mutex::new((Vec::new(), false)), Condvar::new())));
        let filling = collected.clone();
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                let count = from.read(&mut chunk).unwrap_or(0);
                let (lock, changed) = &*filling.0;
                let mut state = lock.lock().unwrap();
                if count == 0 {
                    state.1 = true;
                    changed.notify_all();
                    return;
                }
                state.0.extend_from_slice(&chunk[..count]);
                changed.notify_all();
            }
        });
        collected
    }

    fn bytes(&self) -> Vec<u8> {
        self.0.0.lock().unwrap().0.clone()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.0.lock().unwrap().0).into_owned()
    }

    /// Waits until the text holds `wanted` (true) or the stream ended without it.
    fn wait_for(&self, wanted: &str) -> bool {
        let (lock, changed) = &*self.0;
        let deadline = Instant::now() + PATIENCE;
        let mut state = lock.lock().unwrap();
        loop {
            if String::from_utf8_lossy(&state.0).contains(wanted) {
                return true;
            }
            let now = Instant::now();
            if state.1 || now >= deadline {
                return false;
            }
            state = changed.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    /// Waits for the stream's end; its whole text.
    fn finish(&self) -> String {
        let (lock, changed) = &*self.0;
        let deadline = Instant::now() + PATIENCE;
        let mut state = lock.lock().unwrap();
        while !state.1 && Instant::now() < deadline {
            state = changed.wait_timeout(state, PATIENCE).unwrap().0;
        }
        String::from_utf8_lossy(&state.0).into_owned()
    }
}

/// Pipes for a process without a terminal: (its stdio, our stdin writer, its stdout, its
/// stderr).
fn pipes(
    with_stdin: bool,
) -> Result<(
    ProcessStdio,
    Option<std::io::PipeWriter>,
    Collected,
    Collected,
)> {
    let (out_r, out_w) = std::io::pipe()?;
    let (err_r, err_w) = std::io::pipe()?;
    let (stdin, writer) = if with_stdin {
        let (in_r, in_w) = std::io::pipe()?;
        (Some(OwnedFd::from(in_r)), Some(in_w))
    } else {
        (None, None)
    };
    Ok((
        ProcessStdio::Streams {
            stdin,
            stdout: out_w.into(),
            stderr: err_w.into(),
        },
        writer,
        Collected::from(out_r),
        Collected::from(err_r),
    ))
}

fn expect(failures: &mut Vec<String>, what: &str, ok: bool) {
    if !ok {
        failures.push(what.to_owned());
    }
}

fn expect_status(
    failures: &mut Vec<String>,
    what: &str,
    got: Result<ExitStatus, SandboxError>,
    wanted: ExitStatus,
) {
    match got {
        Ok(status) if status == wanted => {}
        other => failures.push(format!("{what}: {other:?}, expected {wanted:?}")),
    }
}

fn process(args: &[&str], terminal: Option<(u16, u16)>) -> Result<oci_spec::runtime::Process> {
    let mut value = serde_json::json!({
        "args": args,
        "env": super::fixtures::ENV,
        "cwd": "/",
        "user": {"uid": 0, "gid": 0},
    });
    if let Some((rows, cols)) = terminal {
        value["terminal"] = true.into();
        value["consoleSize"] = serde_json::json!({"height": rows, "width": cols});
    }
    Ok(serde_json::from_value(value)?)
}

fn lifecycle(boot: &Boot) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    let marker = boot.bundle.join("rw/marker");
    let _ = std::fs::remove_file(&marker);
    let (stdio, _, stdout, stderr) = pipes(false)?;
    let sandbox = boot.launch(stdio)?;
    // Held: a round trip to the guest, and still nothing of the init has run.
    let pids = sandbox.pids()?;
    expect(
        &mut failures,
        &format!("pids before start are {pids:?}, expected [1]"),
        pids == [1],
    );
    expect(
        &mut failures,
        "the init ran before start (its marker exists)",
        !marker.exists(),
    );
    sandbox.start()?;
    expect_status(
        &mut failures,
        "the init",
        sandbox.wait(),
        ExitStatus::Code(7),
    );
    let (out, err) = (stdout.finish(), stderr.finish());
    expect(
        &mut failures,
        &format!("stdout {out:?}, expected \"out\\n\""),
        out == "out\n",
    );
    expect(
        &mut failures,
        &format!("stderr {err:?}, expected \"err\\n\""),
        err == "err\n",
    );
    expect(
        &mut failures,
        "the init's marker is missing after it ran",
        marker.exists(),
    );
    let log = std::fs::read_to_string(boot.kernel_log()).unwrap_or_default();
    expect(
        &mut failures,
        &format!("the kernel log lacks its exit line: {log:?}"),
        log.contains("sandbox: exit status 7"),
    );
    expect(
        &mut failures,
        "a kernel line reached a container stream",
        !out.contains("sandbox:") && !err.contains("sandbox:"),
    );
    Ok(failures)
}

fn stdin_piped(boot: &Boot) -> Result<Vec<String>> {
    use sha2::Digest;
    let mut failures = Vec::new();
    let (stdio, writer, stdout, stderr) = pipes(true)?;
    // xorshift: the same 1 MiB each run, every byte value in it.
    let mut data = Vec::with_capacity(1 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while data.len() < 1 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    let expected = format!("{:x}  -\n", sha2::Sha256::digest(&data));
    let sent = data.clone();
    let sandbox = boot.launch(stdio)?;
    sandbox.start()?;
    let mut writer = writer.context("no stdin writer")?;
    let feeder = thread::spawn(move || writer.write_all(&data));
    expect_status(
        &mut failures,
        "sha256sum",
        sandbox.wait(),
        ExitStatus::Code(0),
    );
    let fed = feeder
        .join()
        .map_err(|_| anyhow::anyhow!("the feeder panicked"))?;
    expect(
        &mut failures,
        &format!("writing stdin: {fed:?}"),
        fed.is_ok(),
    );
    let out = stdout.finish();
    expect(
        &mut failures,
        &format!("sha256sum printed {out:?}, expected {expected:?}"),
        out == expected,
    );
    stderr.finish();
    let echoed = stderr.bytes();
    expect(
        &mut failures,
        &format!(
            "stderr brought back {} bytes, not the 1 MiB sent: {:?}",
            echoed.len(),
            String::from_utf8_lossy(&echoed[..echoed.len().min(200)])
        ),
        echoed == sent,
    );
    Ok(failures)
}

fn signals(boot: &Boot) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    let (stdio, _, stdout, _stderr) = pipes(false)?;
    let sandbox = boot.launch(stdio)?;
    sandbox.start()?;
    if !stdout.wait_for("ready\n") {
        return Ok(vec![format!(
            "the init never said ready: {:?}",
            stdout.text()
        )]);
    }
    sandbox.signal(Target::Init, 10)?;
    expect(
        &mut failures,
        &format!("SIGUSR1 did not reach the trap: {:?}", stdout.text()),
        stdout.wait_for("got USR1\n"),
    );
    // An exec'd process killed from the host: 128 + 9.
    let (stdio, _, _, _) = pipes(false)?;
    let id = sandbox.exec(&process(&["/bin/busybox", "sleep", "1000"], None)?, stdio)?;
    sandbox.signal(Target::Exec(id), 9)?;
    let status = sandbox.wait_exec(id);
    expect(
        &mut failures,
        &format!("the exec'd sleep: {status:?}, expected 137"),
        matches!(status, Ok(status) if status.code() == 137),
    );
    // Untrapped, SIGTERM is ignored as a namespace's init ignores it from outside (the
    // shell still answers the next SIGUSR1); SIGKILL to every process ends it.
    sandbox.signal(Target::Init, 15)?;
    sandbox.signal(Target::Init, 10)?;
    expect(
        &mut failures,
        &format!("the init did not outlive SIGTERM: {:?}", stdout.text()),
        stdout.wait_for("got USR1\ngot USR1\n"),
    );
    sandbox.signal(Target::All, 9)?;
    expect_status(
        &mut failures,
        "the init",
        sandbox.wait(),
        ExitStatus::Signal(9),
    );
    Ok(failures)
}

fn exec(boot: &Boot) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    let (stdio, writer, stdout, _stderr) = pipes(true)?;
    let mut writer = writer.context("no stdin writer")?;
    let sandbox = boot.launch(stdio)?;
    sandbox.start()?;
    writer.write_all(b"one\n")?;
    if !stdout.wait_for("one\n") {
        return Ok(vec![format!("cat did not echo: {:?}", stdout.text())]);
    }
    // Its own streams and status.
    let (stdio, _, out, err) = pipes(false)?;
    let script = "echo exec-out; echo exec-err >&2; exit 5";
    let id = sandbox.exec(
        &process(&["/bin/busybox", "sh", "-c", script], None)?,
        stdio,
    )?;
    expect_status(
        &mut failures,
        "the exec'd sh",
        sandbox.wait_exec(id),
        ExitStatus::Code(5),
    );
    let (o, e) = (out.finish(), err.finish());
    expect(
        &mut failures,
        &format!("exec stdout {o:?}"),
        o == "exec-out\n",
    );
    expect(
        &mut failures,
        &format!("exec stderr {e:?}"),
        e == "exec-err\n",
    );
    // The process object's identity and working directory (made if missing), PATH lookup.
    let (stdio, _, out, _) = pipes(false)?;
    let mut who = process(&["busybox", "sh", "-c", "id -u; id -g; pwd"], None)?;
    who.set_cwd("/tmp/exec-cwd".into());
    who.set_user(serde_json::from_value(
        serde_json::json!({"uid": 1000, "gid": 1001}),
    )?);
    let id = sandbox.exec(&who, stdio)?;
    expect_status(
        &mut failures,
        "the exec'd id",
        sandbox.wait_exec(id),
        ExitStatus::Code(0),
    );
    let o = out.finish();
    expect(
        &mut failures,
        &format!("exec'd as {o:?}, expected uid 1000, gid 1001 in /tmp/exec-cwd"),
        o == "1000\n1001\n/tmp/exec-cwd\n",
    );
    // A missing command.
    let (stdio, _, _, _) = pipes(false)?;
    match sandbox.exec(&process(&["no-such-command"], None)?, stdio) {
        Err(SandboxError::Exec {
            status: 127,
            message,
        }) => expect(
            &mut failures,
            &format!("the 127's message does not name the command: {message}"),
            message.contains("no-such-command"),
        ),
        other => failures.push(format!(
            "exec of a missing command: {other:?}, expected status 127"
        )),
    }
    // Something that is not a program: 126, as a shell says.
    let (stdio, _, _, _) = pipes(false)?;
    match sandbox.exec(&process(&["/tmp"], None)?, stdio) {
        Err(SandboxError::Exec { status: 126, .. }) => {}
        other => failures.push(format!(
            "exec of a directory: {other:?}, expected status 126"
        )),
    }
    // pids: the init and an exec'd sleep.
    let (stdio, _, _, _) = pipes(false)?;
    let sleeper: ExecId =
        sandbox.exec(&process(&["/bin/busybox", "sleep", "1000"], None)?, stdio)?;
    let pids = sandbox.pids()?;
    expect(
        &mut failures,
        &format!("pids {pids:?}: expected pid 1 and the sleep"),
        pids.len() == 2 && pids[0] == 1,
    );
    sandbox.signal(Target::Exec(sleeper), 9)?;
    let _ = sandbox.wait_exec(sleeper);
    // Paused, the init takes no input; every round trip to the guest gives it the chance.
    sandbox.pause()?;
    writer.write_all(b"two\n")?;
    for _ in 0..20 {
        sandbox.pids()?;
    }
    expect(
        &mut failures,
        &format!("cat ran while paused: {:?}", stdout.text()),
        !stdout.text().contains("two"),
    );
    sandbox.resume()?;
    expect(
        &mut failures,
        &format!("cat did not go on after resume: {:?}", stdout.text()),
        stdout.wait_for("two\n"),
    );
    drop(writer);
    expect_status(&mut failures, "cat", sandbox.wait(), ExitStatus::Code(0));
    Ok(failures)
}

fn terminal(boot: &Boot) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    let (ours, theirs) = UnixStream::pair()?;
    let output = Collected::from(ours.try_clone()?);
    let mut keys = ours;
    let sandbox = boot.launch(ProcessStdio::Terminal { io: theirs.into() })?;
    sandbox.start()?;
    expect(
        &mut failures,
        &format!("stty size before: {:?}", output.text()),
        output.wait_for("24 80"),
    );
    // Resized before the line that lets the script go on: the reply means the guest has it.
    if let Err(error) = sandbox.resize(Target::Init, 50, 132) {
        failures.push(format!(
            "resize: {error}; the terminal showed {:?}",
            output.text()
        ));
        return Ok(failures);
    }
    keys.write_all(b"\n")?;
    expect(
        &mut failures,
        &format!("stty size after the resize: {:?}", output.text()),
        output.wait_for("50 132"),
    );
    // An exec'd process with a terminal of its own.
    let (ours, theirs) = UnixStream::pair()?;
    let exec_output = Collected::from(ours);
    let id = sandbox.exec(
        &process(
            &["/bin/busybox", "sh", "-c", "stty size; tty"],
            Some((33, 99)),
        )?,
        ProcessStdio::Terminal { io: theirs.into() },
    )?;
    expect_status(
        &mut failures,
        "the exec'd stty",
        sandbox.wait_exec(id),
        ExitStatus::Code(0),
    );
    let seen = exec_output.wait_for("/dev/pts/");
    let text = exec_output.text();
    expect(
        &mut failures,
        &format!("exec'd terminal: {text:?}"),
        seen && text.contains("33 99"),
    );
    keys.write_all(b"\n")?;
    expect_status(
        &mut failures,
        "the init",
        sandbox.wait(),
        ExitStatus::Code(0),
    );
    Ok(failures)
}

fn launch_error(boot: &Boot) -> Result<Vec<String>> {
    let (stdio, _, _, _) = pipes(false)?;
    Ok(
        match boot
            .launch(stdio)
            .map_err(|error| error.downcast::<SandboxError>())
        {
            Err(Ok(SandboxError::Guest {
                status: 127,
                message,
            })) if message.contains("no-such-init") => Vec::new(),
            Err(Ok(other)) => vec![format!(
                "launch: {other:?}, expected status 127 naming the command"
            )],
            Err(Err(other)) => vec![format!("launch: {other:#}")],
            Ok(_) => vec!["launch succeeded with a missing command".to_owned()],
        },
    )
}

fn kill_held(boot: &Boot) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    let marker = boot.bundle.join("rw/marker");
    let _ = std::fs::remove_file(&marker);
    let (stdio, _, stdout, _) = pipes(false)?;
    let sandbox = boot.launch(stdio)?;
    sandbox.signal(Target::Init, 9)?;
    expect_status(
        &mut failures,
        "the held init",
        sandbox.wait(),
        ExitStatus::Signal(9),
    );
    expect(
        &mut failures,
        "the killed init ran (its marker exists)",
        !marker.exists(),
    );
    expect(
        &mut failures,
        &format!("the killed init printed {:?}", stdout.text()),
        stdout.finish().is_empty(),
    );
    let start = sandbox.start();
    expect(
        &mut failures,
        &format!("start after the end: {start:?}, expected Ended"),
        matches!(start, Err(SandboxError::Ended)),
    );
    Ok(failures)
}
