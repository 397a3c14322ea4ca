//! One QEMU process for a sandbox: its command line (the bundle's spec as the initrd, its
//! 9p shares by the channel rule, bind mounts of one directory on one device, the kernel
//! in `stdio=control` mode, the control port), the socket its control port connects to,
//! and its console (COM1, the kernel's log), copied to the log file and read for the
//! kernel's last word.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use kernel::container::SandboxOptions;

use super::{LaunchConfig, SandboxError};
use crate::bundle;
use crate::cmdline::{kernel_cmdline, with_sandbox_options};
use crate::qemu::{self, Invocation, Machine, MemorySize};

/// Guest memory when neither the caller nor the spec says (xtask's default too).
const DEFAULT_MEMORY_MIB: u64 = 128;

/// What the kernel's console said that the host acts on.
#[derive(Debug, Default)]
pub(super) struct ConsoleFacts {
    /// `sandbox: exit status N`.
    pub exit_status: Option<i32>,
    /// The last other `sandbox: ` line (a spec, mount or exec error names its cause there).
    pub last_message: Option<String>,
}

pub(super) struct Vm {
    pub child: Child,
    pub control: UnixStream,
    pub console: Arc<Mutex<ConsoleFacts>>,
    pub console_threads: Vec<JoinHandle<()>>,
}

/// A directory of our own for the control socket (a Unix socket path must be short).
fn socket_dir() -> io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sandbox-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The guest's memory: the caller's, else the spec's `linux.resources.memory.limit`
/// (rounded up to whole MiB), else the default.
fn memory_mib(config: &LaunchConfig, spec: &serde_json::Value) -> u64 {
    config.memory_mib.unwrap_or_else(|| {
        spec["linux"]["resources"]["memory"]["limit"]
            .as_i64()
            .filter(|&limit| limit > 0)
            .map_or(DEFAULT_MEMORY_MIB, |limit| {
                (limit as u64).div_ceil(1024 * 1024).max(16)
            })
    })
}

/// The QEMU command line for `config`, with the control port on a socket chardev that
/// connects to `socket`.
fn invocation(
    config: &LaunchConfig,
    scratch: &Path,
) -> Result<(Invocation, Vec<OsString>), SandboxError> {
    let loaded = bundle::load(&config.bundle, &SandboxOptions::default(), &[], scratch)?;
    for warning in &loaded.warnings {
        log::warn!("{warning}");
    }
    let spec_bytes = std::fs::read(&loaded.spec_file).map_err(SandboxError::Launch)?;
    let spec: serde_json::Value = serde_json::from_slice(&spec_bytes).unwrap_or_default();
    let mut sandbox: Vec<(&str, String)> = vec![
        ("stdio", "control".to_owned()),
        ("log", config.log_level.as_str().to_ascii_lowercase()),
    ];
    sandbox.extend(
        loaded
            .file_binds
            .iter()
            .map(|bind| ("bind_file", bind.to_option_value())),
    );
    let (shares, aliases) = bundle::channels::share_devices(loaded.shares);
    sandbox.extend(
        aliases
            .iter()
            .map(|alias| ("share_alias", alias.to_option_value())),
    );
    // Read once: it is slow to produce on some hosts, and both the accelerator and the
    // TSC frequency come from it.
    let cpuinfo = qemu::host::cpuinfo();
    let decision = qemu::decide_accel(config.accel, &cpuinfo, &qemu::host::kvm_device());
    if let Some(reason) = &decision.fallback_reason {
        log::info!("accel auto → tcg: {reason}");
    }
    let machine = Machine::Microvm;
    let invocation = Invocation {
        machine,
        accel: decision.accel,
        memory: MemorySize::from_mib(memory_mib(config, &spec)),
        cpus: config.cpus,
        kernel: config.kernel.clone(),
        cmdline: kernel_cmdline(
            &with_sandbox_options("", &sandbox),
            qemu::host::tsc_khz(&cpuinfo),
        ),
        initrd: Some(loaded.spec_file),
        shares,
    };
    let mut extra: Vec<OsString> = Vec::new();
    extra.extend(["-device".into(), machine.serial_device().into()]);
    Ok((invocation, extra))
}

/// `-chardev` and `-device` for the control port (port 0, a `virtconsole`) on `socket`.
pub(super) fn control_port_args(socket: &Path) -> Vec<OsString> {
    let mut chardev = OsString::from("socket,id=control,path=");
    chardev.push(socket.to_string_lossy().replace(',', ",,"));
    vec![
        "-chardev".into(),
        chardev,
        "-device".into(),
        "virtconsole,chardev=control,nr=0".into(),
    ]
}

/// Starts QEMU and takes its control connection.
pub(super) fn start(config: &LaunchConfig) -> Result<Vm, SandboxError> {
    let dir = socket_dir().map_err(SandboxError::Launch)?;
    let result = start_in(config, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn start_in(config: &LaunchConfig, dir: &Path) -> Result<Vm, SandboxError> {
    let (invocation, extra) = invocation(config, &dir.join("scratch"))?;
    let socket = dir.join("control.sock");
    let listener = UnixListener::bind(&socket).map_err(SandboxError::Launch)?;
    let log = File::create(&config.kernel_log).map_err(SandboxError::Launch)?;
    let mut command = invocation.command();
    command
        .args(extra)
        .args(control_port_args(&socket))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    log::debug!("{}", invocation.shell_line());
    let mut child = command.spawn().map_err(SandboxError::Launch)?;
    log::debug!("phase: QEMU spawned (pid {})", child.id());
    let console = Arc::new(Mutex::new(ConsoleFacts::default()));
    let log = Arc::new(Mutex::new(log));
    let mut console_threads = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        console_threads.push(copy_console(stdout, log.clone(), Some(console.clone())));
    }
    if let Some(stderr) = child.stderr.take() {
        console_threads.push(copy_console(stderr, log, None));
    }
    let control = match accept(&listener, &mut child) {
        Ok(control) => {
            log::debug!("phase: QEMU connected the control port");
            control
        }
        Err(error) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(error);
        }
    };
    Ok(Vm {
        child,
        control,
        console,
        console_threads,
    })
}

/// The one connection QEMU makes to `listener`; an error if QEMU ended first. Waits in
/// `poll(2)`, so the connection is taken the moment it comes (a sleep between tries would
/// add its length to every launch); QEMU's end is looked for between waits.
fn accept(listener: &UnixListener, child: &mut Child) -> Result<UnixStream, SandboxError> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    listener
        .set_nonblocking(true)
        .map_err(SandboxError::Launch)?;
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: 20_000_000,
    };
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream
                    .set_nonblocking(false)
                    .map_err(SandboxError::Launch)?;
                return Ok(stream);
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(SandboxError::Launch(io::Error::other(format!(
                        "QEMU ended before connecting its control port ({status})"
                    ))));
                }
                let mut fds = [PollFd::new(listener, PollFlags::IN)];
                match poll(&mut fds, Some(&timeout)) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(error) => return Err(SandboxError::Launch(error.into())),
                }
            }
            Err(error) => return Err(SandboxError::Launch(error)),
        }
    }
}

/// Copies one of QEMU's output streams into the log, line by line, noting the kernel's
/// `sandbox:` lines when `facts` is given (the console).
fn copy_console(
    from: impl io::Read + Send + 'static,
    log: Arc<Mutex<File>>,
    facts: Option<Arc<Mutex<ConsoleFacts>>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(from);
        let mut line = Vec::new();
        while let Ok(count @ 1..) = reader.read_until(b'\n', &mut line) {
            let _ = log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .write_all(&line[..count]);
            if let Some(facts) = &facts {
                note(facts, &String::from_utf8_lossy(&line));
            }
            line.clear();
        }
    })
}

fn note(facts: &Mutex<ConsoleFacts>, line: &str) {
    let Some(said) = line.trim_end().strip_prefix("sandbox: ") else {
        return;
    };
    let mut facts = facts.lock().unwrap_or_else(|p| p.into_inner());
    match said
        .strip_prefix("exit status ")
        .and_then(|status| status.parse().ok())
    {
        Some(status) => facts.exit_status = Some(status),
        None => facts.last_message = Some(said.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_last_word_and_status_are_noted() {
        let facts = Mutex::new(ConsoleFacts::default());
        for line in [
            "[    0.1] virtio: found\n",
            "sandbox: cannot execute /nope: not found\n",
            "sandbox: exit status 127\n",
        ] {
            note(&facts, line);
        }
        let facts = facts.into_inner().unwrap();
        assert_eq!(facts.exit_status, Some(127));
        assert_eq!(
            facts.last_message.as_deref(),
            Some("cannot execute /nope: not found")
        );
    }

    #[test]
    fn the_control_port_is_port_0_of_a_socket_chardev() {
        let args: Vec<String> = control_port_args(Path::new("/tmp/a,b/c.sock"))
            .into_iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "-chardev",
                "socket,id=control,path=/tmp/a,,b/c.sock",
                "-device",
                "virtconsole,chardev=control,nr=0"
            ]
        );
    }
}
