//! The monitor: the process `create` leaves behind, whose pid goes to `--pid-file` and whose
//! exit status is the container's (128+N when a signal ended the init), as the init's is with
//! runc. conmon and containerd's shim are subreapers and wait for it. It holds the sandbox
//! (QEMU and the control channel), serves `start`, `kill`, `exec`, `pause`, `resume`, `ps` and
//! resizes on `monitor.sock` in the state directory, passes on the signals it receives to the
//! init (whoever signals the pid means the container), and follows the terminal's size.
//!
//! Threads: the main one waits for the sandbox to end; one accepts connections and serves
//! each on a thread of its own; one takes the signals (blocked everywhere else). Lock order:
//! `status` is the only lock, held while the record on disk is rewritten.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};

use crate::console;
use crate::error::{Context, Result, RuntimeError};
use crate::protocol::{self, Reply, Request};
use crate::state::{self, HostProcess, Status};
use crate::vm::{ExecId, LaunchRequest, Launcher, Stdio, Target, Vm, VmError};

/// The status `create`'s caller sees when the sandbox ended without one (QEMU died): docker's
/// "the runtime failed", as `cargo xtask run` uses.
pub const NO_STATUS: i32 = 125;

/// Signals that reach the init when sent to the monitor (runc's pid is the init itself).
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// What `create` passes to the monitor it spawns.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    pub state_dir: PathBuf,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub terminal: bool,
    pub kernel: PathBuf,
    pub memory_mib: Option<u64>,
    pub cpus: u32,
    pub kernel_log_level: log::LevelFilter,
}

/// The signals the monitor (and the `exec` waiter) take on a thread of their own: the
/// forwarded ones and `SIGWINCH`. Blocked before any thread starts, so all inherit it.
pub fn block_signals() -> Result<SigSet> {
    let mut set = SigSet::empty();
    for signal in FORWARDED {
        set.add(signal);
    }
    set.add(Signal::SIGWINCH);
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .context(|| "blocking signals".to_owned())?;
    Ok(set)
}

/// Runs the monitor to the end; returns the container's status (the process's exit code).
/// `ready` is the pipe `create` reads one line from: `Reply::Ok` or the error.
pub fn run(config: MonitorConfig, mut ready: File, launcher: Launcher) -> i32 {
    match bring_up(&config, launcher) {
        Ok((monitor, listener, signals)) => {
            let _ = report(&mut ready, &Reply::Ok);
            log::debug!("phase: monitor ready");
            drop(ready);
            let server = Arc::clone(&monitor);
            std::thread::spawn(move || server.serve(listener));
            let forwarder = Arc::clone(&monitor);
            std::thread::spawn(move || forwarder.forward_signals(signals));
            monitor.finish()
        }
        Err(error) => {
            log::error!("{error}");
            let status = match &error {
                RuntimeError::Guest { status, .. } => *status,
                _ => None,
            };
            let _ = report(
                &mut ready,
                &Reply::Error {
                    message: error.to_string(),
                    status,
                },
            );
            1
        }
    }
}

fn report(ready: &mut File, reply: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).expect("a reply serializes");
    line.push(b'\n');
    ready.write_all(&line)
}

/// Everything up to "init loaded": the terminal or streams, the sandbox, the record, the
/// socket.
fn bring_up(
    config: &MonitorConfig,
    launcher: Launcher,
) -> Result<(Arc<Monitor>, UnixListener, SigSet)> {
    log::debug!("phase: monitor started");
    let signals = block_signals()?;
    // A session of our own: a ^C at the caller's terminal is not for us, and a pty slave can
    // become our controlling terminal.
    nix::unistd::setsid().context(|| "setsid".to_owned())?;
    let (stdio, tty) = if config.terminal {
        let socket = config.console_socket.as_deref().ok_or_else(|| {
            RuntimeError::Usage(
                "cannot allocate tty if runc will detach without setting console socket".into(),
            )
        })?;
        let pty = console::open_raw_pty()?;
        console::take_as_controlling(&pty.slave)?;
        console::send_master(socket, &pty.master)?;
        drop(pty.master);
        let io = pty.slave.try_clone().context(|| "dup pty".to_owned())?;
        (Stdio::Terminal { io }, Some(pty.slave))
    } else {
        (own_streams()?, None)
    };
    let request = LaunchRequest {
        kernel: config.kernel.clone(),
        bundle: config.bundle.clone(),
        memory_mib: config.memory_mib,
        cpus: config.cpus,
        kernel_log: config.state_dir.join(state::KERNEL_LOG),
        log_level: config.kernel_log_level,
        stdio,
    };
    let vm = launcher(request).map_err(|error| RuntimeError::Guest {
        message: error.message,
        status: error.status,
    })?;
    // The sandbox has its own copies of the streams; ours must not keep the caller's pipes
    // open or take stray writes.
    detach_own_streams()?;
    let mut record = state::read_record(&config.state_dir)?;
    record.status = Status::Created;
    record.monitor = HostProcess::of(std::process::id()).unwrap_or_default();
    record.vmm = HostProcess::of(vm.vmm_pid()).unwrap_or_default();
    state::write_record(&config.state_dir, &record)?;
    let socket = config.state_dir.join(state::SOCKET);
    let _ = std::fs::remove_file(&socket);
    let listener =
        UnixListener::bind(&socket).context(|| format!("binding {}", socket.display()))?;
    let monitor = Monitor {
        vm,
        dir: config.state_dir.clone(),
        status: Mutex::new(Status::Created),
        tty,
    };
    Ok((Arc::new(monitor), listener, signals))
}

/// The container init's streams are the monitor's own fds 0-2, as conmon set them up.
fn own_streams() -> Result<Stdio> {
    let dup = |fd: std::os::fd::BorrowedFd<'_>, name: &str| {
        fd.try_clone_to_owned().context(|| format!("dup {name}"))
    };
    Ok(Stdio::Streams {
        stdin: Some(dup(std::io::stdin().as_fd(), "stdin")?),
        stdout: dup(std::io::stdout().as_fd(), "stdout")?,
        stderr: dup(std::io::stderr().as_fd(), "stderr")?,
    })
}

fn detach_own_streams() -> Result<()> {
    let null = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context(|| "/dev/null".to_owned())?;
    nix::unistd::dup2_stdin(&null).context(|| "dup2 stdin".to_owned())?;
    nix::unistd::dup2_stdout(&null).context(|| "dup2 stdout".to_owned())?;
    nix::unistd::dup2_stderr(&null).context(|| "dup2 stderr".to_owned())
}

pub struct Monitor {
    vm: Box<dyn Vm>,
    dir: PathBuf,
    status: Mutex<Status>,
    /// The init's pty slave (our controlling terminal), for its size.
    tty: Option<OwnedFd>,
}

impl Monitor {
    #[cfg(test)]
    pub fn for_test(vm: Box<dyn Vm>, dir: &Path, status: Status) -> Self {
        Monitor {
            vm,
            dir: dir.to_owned(),
            status: Mutex::new(status),
            tty: None,
        }
    }

    fn status(&self) -> Status {
        *self
            .status
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Moves to `to` if the status is one of `from` (checked and set under the lock, so two
    /// racing requests cannot both pass), rewriting the record; `act` runs in between and
    /// may refuse.
    fn transition(
        &self,
        from: &[Status],
        to: Status,
        refuse: impl FnOnce(Status) -> String,
        act: impl FnOnce() -> Result<(), VmError>,
    ) -> Reply {
        let mut status = self
            .status
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if !from.contains(&status) {
            return error_reply(refuse(*status), None);
        }
        if let Err(error) = act() {
            return Reply::from(error);
        }
        *status = to;
        self.write_status(to, None);
        Reply::Ok
    }

    fn write_status(&self, status: Status, exit_code: Option<i32>) {
        let result = state::read_record(&self.dir).and_then(|mut record| {
            record.status = status;
            if exit_code.is_some() {
                record.exit_code = exit_code;
            }
            state::write_record(&self.dir, &record)
        });
        if let Err(error) = result {
            log::warn!("updating the state record: {error}");
        }
    }

    /// One request; `fds` came with it.
    pub fn handle(&self, request: Request, fds: Vec<OwnedFd>) -> Reply {
        match request {
            Request::Start => self.transition(
                &[Status::Created],
                Status::Running,
                |status| match status {
                    Status::Stopped => "cannot start a container that has stopped".to_owned(),
                    _ => "cannot start an already running container".to_owned(),
                },
                || self.vm.start(),
            ),
            Request::Pause => self.transition(
                &[Status::Running],
                Status::Paused,
                |status| format!("container not running (it is {})", status.as_str()),
                || self.vm.pause(),
            ),
            Request::Resume => self.transition(
                &[Status::Paused],
                Status::Running,
                |_| "container not paused".to_owned(),
                || self.vm.resume(),
            ),
            Request::Signal { signal, all, exec } => {
                if self.status() == Status::Stopped {
                    return error_reply("container not running".to_owned(), None);
                }
                let target = match (exec, all) {
                    (Some(exec), _) => Target::Exec(ExecId(exec)),
                    (None, true) => Target::All,
                    (None, false) => Target::Init,
                };
                reply_unit(self.vm.signal(target, signal))
            }
            Request::Exec { process, terminal } => {
                match self.status() {
                    Status::Running => {}
                    Status::Paused => {
                        return error_reply("cannot exec in a paused container".into(), None);
                    }
                    Status::Created | Status::Creating => {
                        return error_reply(
                            "cannot exec in a container that has not started".into(),
                            None,
                        );
                    }
                    Status::Stopped => {
                        return error_reply("cannot exec in a stopped container".into(), None);
                    }
                }
                let stdio = match stdio_from(fds, terminal) {
                    Ok(stdio) => stdio,
                    Err(message) => return error_reply(message, None),
                };
                match self.vm.exec(&process, stdio) {
                    Ok(exec) => Reply::ExecStarted { exec },
                    Err(error) => Reply::from(error),
                }
            }
            Request::Resize { exec, rows, cols } => {
                let target = exec.map_or(Target::Init, |exec| Target::Exec(ExecId(exec)));
                reply_unit(self.vm.resize(target, rows, cols))
            }
            Request::Pids => match self.vm.pids() {
                Ok(pids) => Reply::Pids { pids },
                Err(error) => Reply::from(error),
            },
            Request::WaitExec { exec } => match self.vm.wait_exec(exec) {
                Ok(exit) => Reply::Exited { code: exit.code() },
                Err(error) => Reply::from(error),
            },
        }
    }

    /// Accepts connections until the process ends; each gets a thread (a `WaitExec` blocks
    /// for as long as its process runs).
    pub fn serve(self: Arc<Self>, listener: UnixListener) {
        for stream in listener.incoming() {
            match stream {
                Ok(stream) => {
                    let monitor = Arc::clone(&self);
                    std::thread::spawn(move || monitor.connection(stream));
                }
                Err(error) => log::warn!("monitor socket: {error}"),
            }
        }
    }

    fn connection(&self, stream: UnixStream) {
        loop {
            let (request, fds) = match protocol::receive::<Request>(&stream) {
                Ok(received) => received,
                Err(protocol::ProtocolError::Closed) => return,
                Err(error) => {
                    log::warn!("monitor socket: {error}");
                    return;
                }
            };
            log::debug!("monitor: {request:?}");
            let reply = self.handle(request, fds);
            log::debug!("monitor: replied {reply:?}");
            if let Err(error) = protocol::send(&stream, &reply, &[]) {
                log::debug!("monitor socket: the caller left before the reply: {error}");
                return;
            }
        }
    }

    /// Passes the forwarded signals to the init and `SIGWINCH` to its terminal's size.
    fn forward_signals(&self, set: SigSet) {
        loop {
            let Ok(signal) = set.wait() else { continue };
            if signal == Signal::SIGWINCH {
                if let Some((rows, cols)) = self.tty.as_ref().and_then(console::window_size)
                    && let Err(error) = self.vm.resize(Target::Init, rows, cols)
                {
                    log::debug!("resize: {error}");
                }
                continue;
            }
            log::debug!("passing {signal} on to the init");
            if let Err(error) = self.vm.signal(Target::Init, signal as i32) {
                log::warn!("passing {signal} on: {error}");
            }
        }
    }

    /// Waits for the sandbox to end, records it, and returns the exit code.
    fn finish(&self) -> i32 {
        let code = match self.vm.wait() {
            Ok(exit) => exit.code(),
            Err(error) => {
                log::error!("the sandbox ended without a status: {error}");
                NO_STATUS
            }
        };
        log::debug!("phase: the sandbox ended ({code})");
        let mut status = self
            .status
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *status = Status::Stopped;
        self.write_status(Status::Stopped, Some(code));
        let _ = std::fs::remove_file(self.dir.join(state::SOCKET));
        code
    }
}

fn stdio_from(fds: Vec<OwnedFd>, terminal: bool) -> Result<Stdio, String> {
    let count = fds.len();
    let mut fds = fds.into_iter();
    match (terminal, count) {
        (true, 1) => Ok(Stdio::Terminal {
            io: fds.next().expect("one"),
        }),
        (false, 3) => Ok(Stdio::Streams {
            stdin: fds.next(),
            stdout: fds.next().expect("three"),
            stderr: fds.next().expect("three"),
        }),
        _ => Err(format!(
            "exec needs {} descriptors, got {count}",
            if terminal { 1 } else { 3 }
        )),
    }
}

fn error_reply(message: String, status: Option<i32>) -> Reply {
    Reply::Error { message, status }
}

fn reply_unit(result: Result<(), VmError>) -> Reply {
    match result {
        Ok(()) => Reply::Ok,
        Err(error) => Reply::from(error),
    }
}

impl From<VmError> for Reply {
    fn from(error: VmError) -> Self {
        Reply::Error {
            message: error.message,
            status: error.status,
        }
    }
}

/// Connects to a container's monitor.
pub fn connect(state_dir: &Path) -> Result<UnixStream> {
    let path = state_dir.join(state::SOCKET);
    UnixStream::connect(&path).map_err(|error| {
        RuntimeError::Monitor(format!("cannot reach it at {}: {error}", path.display()))
    })
}

/// One request to the monitor: its reply, or its error as ours.
pub fn request(
    state_dir: &Path,
    request: &Request,
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> Result<Reply> {
    let stream = connect(state_dir)?;
    let reply = protocol::call(&stream, request, fds)
        .map_err(|error| RuntimeError::Monitor(error.to_string()))?;
    match reply {
        Reply::Error { message, status } => Err(RuntimeError::Guest { message, status }),
        reply => Ok(reply),
    }
}

/// The exit of an `Exited` reply.
pub fn exited(reply: Reply) -> Result<i32> {
    match reply {
        Reply::Exited { code } => Ok(code),
        other => Err(RuntimeError::Monitor(format!("unexpected reply {other:?}"))),
    }
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
