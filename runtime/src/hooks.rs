//! OCI hooks, run on the host: `createRuntime` and `prestart` in `create` once the sandbox
//! is built (namespace made, init loaded), `poststart` in `start` once the init runs,
//! `poststop` in `delete` after the sandbox is gone. Each gets the container's state JSON on
//! stdin, its own `args` (args[0] as argv[0]) and `env` only, and is killed at its `timeout`.
//! `createContainer` and `startContainer` name programs in the container's namespace, which
//! lives in the guest: they are not run, and a warning says so.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, Spec};

use crate::error::{Result, RuntimeError};
use crate::spec::{self, HookKind};

/// Runs every hook of `kind` in order; the first failure stops them and is returned.
pub fn run_all(spec: &Spec, kind: HookKind, state: &serde_json::Value) -> Result<()> {
    let hooks = spec::hooks(spec, kind);
    if matches!(kind, HookKind::CreateContainer | HookKind::StartContainer) {
        if !hooks.is_empty() {
            log::warn!(
                "{} hooks run in the container's namespace, which is inside the VM: {} not run",
                kind.name(),
                hooks.len()
            );
        }
        return Ok(());
    }
    let input = state.to_string();
    for hook in &hooks {
        log::debug!("running {} hook {}", kind.name(), hook.path().display());
        run(hook, input.as_bytes()).map_err(|message| RuntimeError::Hook {
            path: hook.path().clone(),
            message: format!("{} hook: {message}", kind.name()),
        })?;
    }
    Ok(())
}

/// Runs every hook of `kind`, logging failures as warnings (poststart, poststop: the spec
/// says the lifecycle goes on).
pub fn run_all_warn(spec: &Spec, kind: HookKind, state: &serde_json::Value) {
    if let Err(error) = run_all(spec, kind, state) {
        log::warn!("{error}");
    }
}

/// One hook; Err(message) on a failure to start, a non-zero status or the timeout.
pub fn run(hook: &Hook, state: &[u8]) -> Result<(), String> {
    let mut command = Command::new(hook.path());
    if let Some(args) = hook.args()
        && let Some((first, rest)) = args.split_first()
    {
        command.arg0(first).args(rest);
    }
    command.env_clear();
    for pair in hook.env().as_deref().unwrap_or_default() {
        if let Some((key, value)) = pair.split_once('=') {
            command.env(key, value);
        }
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|error| error.to_string())?;
    // The state is small; a hook that never reads it must not block us (EPIPE is fine).
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state);
    }
    let deadline = hook
        .timeout()
        .filter(|seconds| *seconds > 0)
        .map(|seconds| Instant::now() + Duration::from_secs(seconds as u64));
    let output_readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|out| Box::new(out) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|err| Box::new(err) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut stream| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stream.read_to_end(&mut text);
            text
        })
    })
    .collect();
    let status = loop {
        match child.try_wait().map_err(|error| error.to_string())? {
            Some(status) => break status,
            None if deadline.is_some_and(|deadline| Instant::now() >= deadline) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "timed out after {} s (killed)",
                    hook.timeout().unwrap_or_default()
                ));
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let output: Vec<String> = output_readers
        .into_iter()
        .filter_map(|reader| reader.join().ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .filter(|text| !text.is_empty())
        .collect();
    if status.success() {
        if !output.is_empty() {
            log::debug!(
                "hook {} said: {}",
                hook.path().display(),
                output.join(" | ")
            );
        }
        return Ok(());
    }
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by {}", crate::signals::name(signal)),
        _ => status.to_string(),
    };
    Err(if output.is_empty() {
        how
    } else {
        format!("{how}: {}", output.join(" | "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    /// The state arrives on stdin, args[0] is argv[0], and the environment is the hook's.
    #[test]
    fn state_args_and_env() {
        let out = std::env::temp_dir().join(format!("sandbox-hook-{}", std::process::id()));
        let script = format!(
            "read -r state; head -c 9 /proc/$$/cmdline > {0}; echo \"|$GREETING|$HOME|$state\" >> {0}",
            out.display()
        );
        let hook = hook(
            &serde_json::json!({
                "path": "/bin/sh",
                "args": ["hook-name", "-c", script],
                "env": ["GREETING=hi"],
            })
            .to_string(),
        );
        run(&hook, b"{\"id\":\"c\"}\n").unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        assert_eq!(written, "hook-name|hi||{\"id\":\"c\"}\n");
        std::fs::remove_file(&out).unwrap();
    }

    #[test]
    fn failures_say_why() {
        let failing =
            hook(r#"{"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 3"]}"#);
        let error = run(&failing, b"{}").unwrap_err();
        assert_eq!(error, "exit status 3: broken");
        let missing = hook(r#"{"path": "/nonexistent/hook"}"#);
        assert!(run(&missing, b"{}").unwrap_err().contains("No such file"));
        let slow = hook(r#"{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}"#);
        assert!(
            run(&slow, b"{}")
                .unwrap_err()
                .contains("timed out after 1 s")
        );
    }
}
