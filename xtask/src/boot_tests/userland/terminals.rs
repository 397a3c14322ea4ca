//! Issue 15's boot tests: terminals.
//!
//! - `pty-check` (C, musl): pseudo-terminals through `posix_openpt`/`openpty`, a shell
//!   on one as its controlling terminal (`stty -a; tty; echo $$`), `^C` to a `sleep` and
//!   to its foreground group only, echo and canonical editing, raw mode, flow control,
//!   packet mode, job control's `SIGTTIN`/`SIGTTOU`, `SIGWINCH`, the hang-up when the
//!   master closes. It passes on the host's Linux too.
//! - Four that drive `cargo xtask run` itself (this very xtask, as a child process), as
//!   a person does: `echo hello | … run -i -- cat` prints hello; 256 KiB piped into
//!   `sha256sum` arrive whole (many receive interrupts); `… run -- sh -c 'echo
//!   out; echo err >&2'` keeps stdout and stderr apart (and apart from the kernel's
//!   lines); and `… run -it -- sh` in a tmux terminal: a prompt, `echo hi`, `^C` to a
//!   `sleep`, `cat` ended by `^D`, `jobs`/`fg`/`^Z`/`bg`, busybox `vi` saving a file the
//!   host then reads through the writable bind mount, `stty size` after the pane is
//!   resized, and the terminal back in its own mode afterwards. Without tmux (not
//!   installable here) that case is reported skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::fixtures::write_file;
use super::{Builder, Fixtures};
use crate::boot_tests::checks::Check::{Line, Status};
use crate::boot_tests::{Case, HostDriver};
use crate::guest::native::{Native, NativePrograms};
use crate::setup::TMUX;

/// How long one `cargo xtask run` may take (it checks the kernel is built, then boots).
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

pub fn cases(builder: &Builder<'_>, native: &NativePrograms) -> Result<Vec<Case>> {
    let mut cases = vec![match &native.pty_check {
        Native::Built(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            write_file(
                &builder.fixtures.rootfs.join("sbin").join("pty-check"),
                &bytes,
                0o755,
            )?;
            let (case, _) = builder.run("pty-check", &["/sbin/pty-check", "/bin/busybox"])?;
            case.expect(Line(&["pty-check: ", " passed, 0 failed"]))
                .expect(Line(&[
                    "ok   ^C ends the foreground group (sh and its sleep) with SIGINT",
                ]))
                .expect(Line(&[
                    "ok   canonical editing: abc^H^Hd\\n reads as ad\\n",
                ]))
                .expect(Status(0))
                .timeout(Duration::from_secs(300))
        }
        Native::Skipped(why) => builder.new_case("pty-check").skipped(why.clone()),
    }];

    let bundle = shell_bundle(builder, "run-stdin-pipe")?;
    cases.push(
        builder
            .new_case("run-stdin-pipe")
            .driven_by(HostDriver::new(move |case, _| {
                // `echo hello | cargo xtask run -i -- cat`.
                let output = match xtask_run(
                    case,
                    &bundle,
                    &["-i"],
                    &["/bin/busybox", "cat"],
                    Some(b"hello\n"),
                ) {
                    Ok(output) => output,
                    Err(error) => return vec![error],
                };
                let mut failures = expect_status(&output, 0);
                if output.stdout != b"hello\n" {
                    failures.push(format!(
                        "stdout {:?}, expected \"hello\\n\"",
                        String::from_utf8_lossy(&output.stdout)
                    ));
                }
                failures
            })),
    );

    // A stream of every byte value, far more than the serial port's FIFO holds: it comes
    // in over many receive interrupts (and through the framing's escapes) intact.
    let bundle = shell_bundle(builder, "run-stdin-pipe-256KiB")?;
    cases.push(
        builder
            .new_case("run-stdin-pipe-256KiB")
            .driven_by(HostDriver::new(move |case, _| {
                let input = crate::boot_tests::pseudo_random_bytes(0x5eed_c0a2, 256 << 10);
                let expected = format!("{}  -\n", crate::digest::sha256_hex(&input));
                let output = match xtask_run(
                    case,
                    &bundle,
                    &["-i"],
                    &["/bin/busybox", "sha256sum"],
                    Some(&input),
                ) {
                    Ok(output) => output,
                    Err(error) => return vec![error],
                };
                let mut failures = expect_status(&output, 0);
                if output.stdout != expected.as_bytes() {
                    failures.push(format!(
                        "stdout {:?}, expected {expected:?}",
                        String::from_utf8_lossy(&output.stdout)
                    ));
                }
                failures
            })),
    );

    let bundle = shell_bundle(builder, "run-stdout-stderr")?;
    cases.push(
        builder
            .new_case("run-stdout-stderr")
            .driven_by(HostDriver::new(move |case, _| {
                // Without -i the container's stdin is at end of file at once.
                let script = "echo out; echo err >&2; cat; echo \"cat ended $?\"";
                let output = match xtask_run(
                    case,
                    &bundle,
                    &[],
                    &["/bin/busybox", "sh", "-c", script],
                    None,
                ) {
                    Ok(output) => output,
                    Err(error) => return vec![error],
                };
                let mut failures = expect_status(&output, 0);
                if output.stdout != b"out\ncat ended 0\n" {
                    failures.push(format!(
                        "stdout {:?}, expected \"out\\ncat ended 0\\n\"",
                        String::from_utf8_lossy(&output.stdout)
                    ));
                }
                let stderr = String::from_utf8_lossy(&output.stderr);
                if !stderr.lines().any(|line| line == "err")
                    || stderr.lines().any(|line| line == "out")
                {
                    failures.push(format!(
                        "stderr has no line \"err\" or has \"out\": {stderr:?}"
                    ));
                }
                // The kernel's lines are on stderr, never in the container's stdout.
                if !stderr.contains("sandbox: exit status 0") {
                    failures.push(format!("stderr lacks the kernel's exit line: {stderr:?}"));
                }
                failures
            })),
    );

    cases.push(if crate::host::find_in_path(TMUX).is_none() {
        builder
            .new_case("run-tty-shell")
            .skipped(format!("{TMUX} not found (apt-get install tmux)"))
    } else {
        let bundle = shell_bundle(builder, "run-tty-shell")?;
        builder
            .new_case("run-tty-shell")
            .driven_by(HostDriver::new(move |case, _| tmux_shell(case, &bundle)))
    });
    Ok(cases)
}

/// A bundle for `cargo xtask run --bundle` over the usual spec, its `rw/` at `/rw`.
fn shell_bundle(builder: &Builder<'_>, name: &str) -> Result<PathBuf> {
    let fixtures: &Fixtures = builder.fixtures;
    let dir = fixtures.bundle_dir(name)?;
    let config = dir.join("config.json");
    let spec = fixtures.spec(&["/bin/busybox", "sh"]);
    std::fs::write(&config, serde_json::to_vec_pretty(&spec)?)
        .with_context(|| format!("writing {}", config.display()))?;
    Ok(dir)
}

/// `cargo xtask run [flags] --bundle DIR -- args` with `stdin` piped in (or none), the
/// way a person runs it, within [`RUN_TIMEOUT`].
fn xtask_run(
    case: &Case,
    bundle: &Path,
    flags: &[&str],
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Result<Output, String> {
    let xtask = std::env::current_exe().map_err(|error| format!("finding xtask: {error}"))?;
    let mut command = Command::new(xtask);
    command
        .args(["run", "--accel", case.accel().name()])
        .args(flags)
        .arg("--bundle")
        .arg(bundle)
        .arg("--")
        .args(args);
    crate::oci::run(&mut command, stdin, RUN_TIMEOUT.max(case.time_limit()))
}

fn expect_status(output: &Output, status: i32) -> Vec<String> {
    if output.status.code() == Some(status) {
        return Vec::new();
    }
    vec![format!(
        "xtask run ended with {}, expected {status}; stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    )]
}

/// A tmux session running `cargo xtask run -it -- /bin/busybox sh`.
struct Terminal {
    session: String,
}

impl Terminal {
    fn tmux(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new(TMUX)
            .args(args)
            .output()
            .map_err(|error| format!("tmux {}: {error}", args.join(" ")))?;
        if !output.status.success() {
            return Err(format!(
                "tmux {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Types `text` (as it is), then Enter.
    fn line(&self, text: &str) -> Result<(), String> {
        self.tmux(&["send-keys", "-t", &self.session, "-l", text])?;
        self.key("Enter")
    }

    fn key(&self, key: &str) -> Result<(), String> {
        self.tmux(&["send-keys", "-t", &self.session, key])
            .map(drop)
    }

    /// The pane's lines (and its history), wrapped lines joined, trailing blanks cut.
    fn lines(&self) -> Result<Vec<String>, String> {
        let text = self.tmux(&[
            "capture-pane",
            "-p",
            "-J",
            "-S",
            "-2000",
            "-t",
            &self.session,
        ])?;
        Ok(text
            .lines()
            .map(|line| line.trim_end().to_owned())
            .collect())
    }

    /// Waits until at least `count` lines satisfy `wanted`.
    fn wait_for(
        &self,
        what: &str,
        count: usize,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let lines = self.lines()?;
            if lines.iter().filter(|line| wanted(line)).count() >= count {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no {what} in the terminal after 60 s; it shows:\n{}",
                    lines.join("\n")
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits for a line that is exactly `text`.
    fn wait_line(&self, text: &str) -> Result<(), String> {
        self.wait_for(&format!("line {text:?}"), 1, |line| line == text)
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Command::new(TMUX)
            .args(["kill-session", "-t", &self.session])
            .output();
    }
}

/// The interactive session, step by step; the first step that fails is the
/// failure.
fn tmux_shell(case: &Case, bundle: &Path) -> Vec<String> {
    match tmux_steps(case, bundle) {
        Ok(()) => Vec::new(),
        Err(error) => vec![error],
    }
}

fn tmux_steps(case: &Case, bundle: &Path) -> Result<(), String> {
    let xtask = std::env::current_exe().map_err(|error| error.to_string())?;
    let after = bundle.join("after.txt");
    let note = bundle.join("rw").join("note.txt");
    for stale in [&after, &note] {
        let _ = std::fs::remove_file(stale);
    }
    // After xtask: its status and the terminal's settings, which must be ours again.
    let command = format!(
        "'{}' run -it --accel {} --bundle '{}' -- /bin/busybox sh; echo \"xtask-exit=$?\" > '{}'; stty -a >> '{}'",
        xtask.display(),
        case.accel().name(),
        bundle.display(),
        after.display(),
        after.display()
    );
    let terminal = Terminal {
        session: format!("xtask-tty-{}", std::process::id()),
    };
    terminal.tmux(&[
        "new-session",
        "-d",
        "-s",
        &terminal.session,
        "-x",
        "80",
        "-y",
        "24",
        "sh",
        "-c",
        &command,
    ])?;
    let prompt = |line: &str| line == "/ #";
    terminal.wait_for("prompt \"/ #\"", 1, prompt)?;

    terminal.line("echo hi")?;
    terminal.wait_line("hi")?;

    terminal.line("sleep 100")?;
    std::thread::sleep(Duration::from_secs(2));
    terminal.key("C-c")?;
    terminal.wait_line("^C")?;
    terminal.line("echo after-interrupt")?;
    terminal.wait_line("after-interrupt")?;

    terminal.line("cat")?;
    std::thread::sleep(Duration::from_secs(1));
    terminal.line("abc")?;
    // Echoed by the terminal, then written back by cat.
    terminal.wait_for("\"abc\" twice", 2, |line| line == "abc")?;
    terminal.key("C-d")?;
    terminal.line("echo after-eof")?;
    terminal.wait_line("after-eof")?;

    let running = |line: &str| line.contains("Running") && line.contains("sleep 100");
    terminal.line("sleep 100 &")?;
    terminal.line("jobs")?;
    terminal.wait_for("a running job", 1, running)?;
    terminal.line("fg")?;
    std::thread::sleep(Duration::from_secs(2));
    terminal.key("C-z")?;
    terminal.wait_for("a stopped job", 1, |line| {
        line.contains("Stopped") && line.contains("sleep 100")
    })?;
    terminal.line("bg")?;
    terminal.line("jobs")?;
    terminal.wait_for("the job running again", 2, running)?;
    terminal.line("fg")?;
    std::thread::sleep(Duration::from_secs(2));
    terminal.key("C-c")?;
    terminal.line("echo after-jobs")?;
    terminal.wait_line("after-jobs")?;

    terminal.line("vi /rw/note.txt")?;
    std::thread::sleep(Duration::from_secs(3));
    terminal.key("i")?;
    terminal.tmux(&["send-keys", "-t", &terminal.session, "-l", "hello from vi"])?;
    terminal.key("Escape")?;
    std::thread::sleep(Duration::from_secs(1));
    terminal.line(":wq")?;
    terminal.line("echo after-vi")?;
    terminal.wait_line("after-vi")?;
    let saved =
        std::fs::read(&note).map_err(|error| format!("reading {}: {error}", note.display()))?;
    if saved != b"hello from vi\n" {
        return Err(format!(
            "vi saved {:?}, expected \"hello from vi\\n\"",
            String::from_utf8_lossy(&saved)
        ));
    }

    terminal.tmux(&[
        "resize-window",
        "-t",
        &terminal.session,
        "-x",
        "100",
        "-y",
        "30",
    ])?;
    std::thread::sleep(Duration::from_secs(2));
    terminal.line("stty size")?;
    terminal.wait_line("30 100")?;

    terminal.line("exit 3")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = std::fs::read_to_string(&after).unwrap_or_default();
        if text.contains("speed") {
            break text;
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "xtask did not end after `exit 3`; {}:\n{text}",
                after.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if !text.starts_with("xtask-exit=3\n") {
        return Err(format!("xtask's status was not 3: {text}"));
    }
    let settings: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ';')
        .collect();
    let restored = ["icanon", "echo", "isig", "opost"]
        .iter()
        .all(|setting| settings.contains(setting));
    if !restored {
        return Err(format!(
            "the terminal was not put back in its own mode: {text}"
        ));
    }
    Ok(())
}
