//! Running one QEMU boot: stream or capture the console, enforce a timeout, time it.

use std::io::{self, Read, Write};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::console::{self, ExitStatus};
use crate::qemu::{Invocation, QEMU_BINARY};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Copy the console to our stdout and QEMU's stderr to ours as they arrive.
    Live,
    /// Only capture (tests and benchmarks report what matters themselves).
    Quiet,
}

#[derive(Debug, Clone, Copy)]
pub struct LaunchOptions {
    pub echo: Echo,
    pub timeout: Option<Duration>,
    /// `run` hands the terminal to the guest; tests must never wait on one.
    pub inherit_stdin: bool,
}

impl LaunchOptions {
    /// A boot a person watches (`run`, `fuzz syscalls`, `soak`): the console echoed as it
    /// comes, no time limit; `inherit_stdin` hands the terminal to the guest.
    pub fn live(inherit_stdin: bool) -> LaunchOptions {
        LaunchOptions {
            echo: Echo::Live,
            timeout: None,
            inherit_stdin,
        }
    }
}

/// The line a watched boot starts with: machine, accelerator, memory, command line.
pub fn announce(invocation: &Invocation) {
    eprintln!(
        "xtask: booting {} ({}, {}): {}",
        invocation.machine, invocation.accel, invocation.memory, invocation.cmdline
    );
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("could not start {QEMU_BINARY}: {0}")]
    Spawn(#[source] io::Error),
    /// `stderr` is empty when it was already echoed live.
    #[error(
        "{QEMU_BINARY} failed to start the machine (status {status}){}",
        quoted_stderr(stderr)
    )]
    QemuFailed { status: i32, stderr: String },
    #[error("waiting for {QEMU_BINARY}: {0}")]
    Wait(#[source] io::Error),
}

#[derive(Debug)]
pub struct Outcome {
    /// The console's text, line ends as `\n`.
    pub console: String,
    pub stderr: String,
    /// None when QEMU died from a signal (including our own kill on timeout).
    pub qemu_code: Option<i32>,
    pub wall: Duration,
    pub timed_out: bool,
}

impl Outcome {
    pub fn exit_status(&self) -> ExitStatus {
        console::exit_status(&self.console, self.qemu_code)
    }
}

// Short enough not to blur boot wall times measured in tens of milliseconds.
const POLL_INTERVAL: Duration = Duration::from_micros(250);

pub fn launch(invocation: &Invocation, options: LaunchOptions) -> Result<Outcome, LaunchError> {
    launch_with_idle_limit(invocation, options, None)
}

/// As [`launch`], and QEMU is also killed (`timed_out`) when the console has been silent
/// for `idle_limit`: how a long run (a fuzzer, a soak) tells a hung kernel from a slow one.
pub fn launch_with_idle_limit(
    invocation: &Invocation,
    options: LaunchOptions,
    idle_limit: Option<Duration>,
) -> Result<Outcome, LaunchError> {
    let mut command = invocation.command();
    command
        .stdin(if options.inherit_stdin {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());

    let started = Instant::now();
    let mut child = command.spawn().map_err(LaunchError::Spawn)?;
    let live = options.echo == Echo::Live;
    let console = capture(
        child.stdout.take().expect("stdout is piped"),
        live.then(|| Box::new(io::stdout()) as _),
    );
    let stderr = capture(
        child.stderr.take().expect("stderr is piped"),
        live.then(|| Box::new(io::stderr()) as _),
    );

    let (status, timed_out) = wait_with_timeout(
        &mut child,
        options.timeout,
        idle_limit.map(|limit| (limit, &*console.last_output)),
    )
    .map_err(LaunchError::Wait)?;
    let wall = started.elapsed();
    let outcome = Outcome {
        // The container writes to the console through a terminal, whose `ONLCR` ends
        // each line with `\r\n` (as a Linux console's does): read back as text lines.
        console: console.finish().replace("\r\n", "\n"),
        stderr: stderr.finish(),
        qemu_code: status.code(),
        wall,
        timed_out,
    };
    if is_start_failure(&outcome) {
        let stderr = if live { String::new() } else { outcome.stderr };
        return Err(LaunchError::QemuFailed {
            status: outcome.qemu_code.unwrap_or(-1),
            stderr,
        });
    }
    Ok(outcome)
}

fn quoted_stderr(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(":\n{}", stderr.trim_end())
    }
}

/// QEMU reports a bad command line or a missing file with status 1 and a message on
/// stderr before any guest code runs. Status 1 is also what a guest writing 0 to
/// isa-debug-exit produces, but that guest prints its exit line first.
fn is_start_failure(outcome: &Outcome) -> bool {
    !outcome.timed_out
        && outcome.qemu_code == Some(1)
        && outcome.console.is_empty()
        && !outcome.stderr.trim().is_empty()
}

fn wait_with_timeout(
    child: &mut Child,
    timeout: Option<Duration>,
    idle: Option<(Duration, &Mutex<Instant>)>,
) -> io::Result<(std::process::ExitStatus, bool)> {
    let deadline = timeout.map(|limit| Instant::now() + limit);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, false));
        }
        let silent_too_long = idle.is_some_and(|(limit, last_output)| {
            last_output
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .elapsed()
                >= limit
        });
        if silent_too_long || deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            // Already exited between the two checks is fine: kill then reports an error.
            let _ = child.kill();
            return Ok((child.wait()?, true));
        }
        thread::sleep(POLL_INTERVAL);
    }
}

pub(crate) struct Capture {
    buffer: Arc<Mutex<Vec<u8>>>,
    /// When the source last gave bytes (or the capture started).
    last_output: Arc<Mutex<Instant>>,
    reader: JoinHandle<()>,
}

impl Capture {
    pub(crate) fn finish(self) -> String {
        // The pipe closes when QEMU exits, so the reader ends on its own.
        let _ = self.reader.join();
        let bytes = std::mem::take(
            &mut *self
                .buffer
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        );
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

pub(crate) fn capture(
    mut source: impl Read + Send + 'static,
    mut echo: Option<Box<dyn Write + Send>>,
) -> Capture {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&buffer);
    let last_output = Arc::new(Mutex::new(Instant::now()));
    let heard = Arc::clone(&last_output);
    let reader = thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(count @ 1..) = source.read(&mut chunk) {
            if let Some(out) = echo.as_mut() {
                let _ = out.write_all(&chunk[..count]);
                let _ = out.flush();
            }
            sink.lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .extend_from_slice(&chunk[..count]);
            *heard.lock().unwrap_or_else(|poison| poison.into_inner()) = Instant::now();
        }
    });
    Capture {
        buffer,
        last_output,
        reader,
    }
}
