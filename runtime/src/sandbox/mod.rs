//! One sandbox VM and the control channel to the kernel inside it (issue 16's host side):
//! [`Sandbox::launch`] boots QEMU with the kernel in `stdio=control` mode, the bundle's
//! spec and 9p shares, and a virtio-console port on a socket; the kernel builds the
//! namespace, loads the init and holds it, and says so. Every other method is a message
//! on that channel (`kernel::control::wire`, the codec both ends share), answered by
//! the kernel: start, signals, exec, window sizes, pause/resume, the pid list; and the
//! streams of the init and of each exec'd process are pumped between the caller's file
//! descriptors and the channel, each apart, with the kernel's console (its log) going
//! to a file of its own.
//!
//! - `vm`: the QEMU process, its command line, its console copied to the log file.
//! - `link`: the channel's host end (frames out, one reader thread filing what comes).
//! - `pumps`: the threads between the caller's fds and the channel's streams.
//!
//! Lock order: `Sandbox::vm` → nothing; `Sandbox::threads` → nothing; the link's state is
//! a leaf (see `link`).

mod link;
mod pumps;
mod vm;

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use kernel::control::wire::{self, INIT, Reply, Request, Status, Stream};

use crate::bundle::BundleError;

pub use crate::qemu::AccelRequest as Accel;
pub use log::LevelFilter;

/// What to boot and how.
#[derive(Debug)]
pub struct LaunchConfig {
    /// The kernel ELF (the `x86_64-unknown-none` build).
    pub kernel: PathBuf,
    /// The OCI bundle: `config.json`, and `root.path` relative to it.
    pub bundle: PathBuf,
    /// Guest RAM; `None`: `linux.resources.memory.limit`, else 128 MiB.
    pub memory_mib: Option<u64>,
    /// vCPUs (the kernel uses one until SMP lands; passed on anyway).
    pub cpus: u32,
    /// `Auto` never picks a software KVM (see `qemu::decide_accel`).
    pub accel: Accel,
    /// Receives the kernel's console (COM1) and QEMU's own messages; never a container's
    /// streams.
    pub kernel_log: PathBuf,
    /// The kernel's `log=`.
    pub log_level: LevelFilter,
    /// The container init's streams.
    pub init_stdio: ProcessStdio,
}

/// A process's streams as the caller holds them.
#[derive(Debug)]
pub enum ProcessStdio {
    /// No terminal: the process's fd 0 reads `stdin` until its end (`None`: end of file
    /// at once), fds 1 and 2 write `stdout` and `stderr`, kept apart.
    Streams {
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    /// `process.terminal`: the process gets a guest pseudo-terminal (fds 0-2, its
    /// controlling terminal); its bytes both ways go to and from `io`; its size comes from
    /// `process.consoleSize` and [`Sandbox::resize`].
    Terminal { io: OwnedFd },
}

/// Whom a signal (or a resize) is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Init,
    /// Every process of the container (`kill --all`); not for `resize`.
    All,
    Exec(ExecId),
}

/// An exec'd process, as [`Sandbox::exec`] named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExecId(pub u32);

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(u8),
    Signal(u8),
}

impl ExitStatus {
    /// A shell's `$?`: the code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Code(code) => i32::from(code),
            ExitStatus::Signal(signal) => 128 + i32::from(signal),
        }
    }
}

impl From<Status> for ExitStatus {
    fn from(status: Status) -> ExitStatus {
        match status {
            Status::Exited(code) => ExitStatus::Code(code),
            Status::Killed(signal) => ExitStatus::Signal(signal),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{0}")]
    Bundle(#[from] BundleError),
    #[error("launching the sandbox: {0}")]
    Launch(#[source] std::io::Error),
    /// The kernel stopped the sandbox (a spec, mount or exec problem, or its own failure):
    /// its status and its message.
    #[error("the sandbox failed (status {status}): {message}")]
    Guest { status: i32, message: String },
    /// An exec failed before the program ran: 126/127 as a shell gives, the kernel's message.
    #[error("exec failed (status {status}): {message}")]
    Exec { status: u8, message: String },
    #[error("the control channel: {0}")]
    Channel(String),
    /// The kernel refused a request with this errno (`ESRCH`: no such process).
    #[error("{request} refused: errno {errno}")]
    Refused { request: &'static str, errno: i32 },
    #[error("resize needs one process, not Target::All")]
    NotOneProcess,
    /// The streams given do not fit the process: a terminal for a process without
    /// `terminal`, or streams for one with it.
    #[error("the process's `terminal` is {terminal} but its stdio is {given}")]
    StdioMismatch { terminal: bool, given: &'static str },
    /// The sandbox ended before the request could be answered.
    #[error("the sandbox has ended")]
    Ended,
}

/// A running sandbox. `Send + Sync`: every method takes `&self`.
pub struct Sandbox {
    vm: Mutex<vm::Vm>,
    vmm_pid: u32,
    link: Arc<link::Link>,
    next_exec: AtomicU32,
    /// The exec ids whose process started.
    started: Mutex<std::collections::HashSet<u32>>,
    /// The output writers of each process, joined before its status is returned.
    outputs: Mutex<HashMap<u32, Vec<JoinHandle<()>>>>,
    /// The init's status once `wait` saw it.
    ended: Mutex<Option<Result<ExitStatus, (i32, String)>>>,
}

impl Sandbox {
    /// Starts QEMU and returns once the kernel says the namespace is built and the init
    /// loaded but not started — or the kernel's error (its message and status: 127 for a
    /// missing command, 110-113 for spec and mount problems).
    pub fn launch(config: LaunchConfig) -> Result<Sandbox, SandboxError> {
        let spec = config.bundle.join("config.json");
        let spec: serde_json::Value = std::fs::read(&spec)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        let terminal = spec["process"]["terminal"].as_bool().unwrap_or(false);
        check_stdio(terminal, &config.init_stdio)?;
        let vm = vm::start(&config)?;
        let control = vm.control.try_clone().map_err(SandboxError::Launch)?;
        let (link, _reader) = link::Link::start(control).map_err(SandboxError::Launch)?;
        let vmm_pid = vm.child.id();
        let sandbox = Sandbox {
            vm: Mutex::new(vm),
            vmm_pid,
            link,
            next_exec: AtomicU32::new(1),
            started: Mutex::new(std::collections::HashSet::new()),
            outputs: Mutex::new(HashMap::new()),
            ended: Mutex::new(None),
        };
        let input = sandbox
            .plumb(INIT, config.init_stdio)
            .map_err(SandboxError::Launch)?;
        let created = sandbox
            .link
            .wait_for(|state| (state.created || state.ended).then_some(state.created));
        log::debug!("phase: the kernel says the init is loaded (created: {created})");
        if !created {
            return Err(match sandbox.finish() {
                Ok(status) => SandboxError::Guest {
                    status: status.code(),
                    message: "the init ended before it was created".into(),
                },
                Err((status, message)) => SandboxError::Guest { status, message },
            });
        }
        pumps::input(&sandbox.link, INIT, input).map_err(SandboxError::Launch)?;
        Ok(sandbox)
    }

    /// QEMU's pid (the process to watch; its end is the sandbox's).
    pub fn vmm_pid(&self) -> u32 {
        self.vmm_pid
    }

    /// Releases the init.
    pub fn start(&self) -> Result<(), SandboxError> {
        self.done("start", Request::Start)
    }

    /// Sends `signal` (1-64; 0 checks the target exists) to `target`. The init takes only
    /// the signals it handles, plus `SIGKILL` and `SIGSTOP` (Linux's rule for a pid
    /// namespace's init signalled from outside, which runc follows).
    pub fn signal(&self, target: Target, signal: i32) -> Result<(), SandboxError> {
        let signal = u8::try_from(signal)
            .ok()
            .filter(|&signal| signal <= 64)
            .ok_or(SandboxError::Refused {
                request: "signal",
                errno: 22,
            })?;
        let target = match target {
            Target::Init => wire::Target::Init,
            Target::All => wire::Target::All,
            Target::Exec(ExecId(id)) => wire::Target::Exec(id),
        };
        self.done("signal", Request::Signal { target, signal })
    }

    /// Starts another process in the running container; returns once it runs in the guest,
    /// or [`SandboxError::Exec`] (126/127 and the kernel's message).
    pub fn exec(
        &self,
        process: &oci_spec::runtime::Process,
        stdio: ProcessStdio,
    ) -> Result<ExecId, SandboxError> {
        check_stdio(process.terminal().unwrap_or(false), &stdio)?;
        let json = serde_json::to_vec(process)
            .map_err(|error| SandboxError::Channel(error.to_string()))?;
        let id = self.next_exec.fetch_add(1, Ordering::Relaxed);
        let input = self.plumb(id, stdio).map_err(SandboxError::Launch)?;
        let reply = self.link.request(Request::Exec { id, process: json });
        match reply {
            Some(Reply::ExecStarted { .. }) => {
                self.started
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id);
                pumps::input(&self.link, id, input).map_err(SandboxError::Launch)?;
                Ok(ExecId(id))
            }
            other => {
                self.link.unroute(id);
                self.outputs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                Err(match other {
                    Some(Reply::ExecFailed { status, message }) => {
                        SandboxError::Exec { status, message }
                    }
                    None => SandboxError::Ended,
                    Some(other) => unexpected(other),
                })
            }
        }
    }

    /// A new window size for the terminal of `target`.
    pub fn resize(&self, target: Target, rows: u16, cols: u16) -> Result<(), SandboxError> {
        let id = match target {
            Target::Init => INIT,
            Target::Exec(ExecId(id)) => id,
            Target::All => return Err(SandboxError::NotOneProcess),
        };
        self.done("resize", Request::Resize { id, rows, cols })
    }

    /// Every container task stops being scheduled (not a `SIGSTOP`: nothing inside sees it).
    pub fn pause(&self) -> Result<(), SandboxError> {
        self.done("pause", Request::Pause)
    }

    pub fn resume(&self) -> Result<(), SandboxError> {
        self.done("resume", Request::Resume)
    }

    /// The guest pids of the container's live processes, in order.
    pub fn pids(&self) -> Result<Vec<u32>, SandboxError> {
        match self.link.request(Request::Pids) {
            Some(Reply::Pids(pids)) => Ok(pids),
            Some(other) => Err(unexpected(other)),
            None => Err(SandboxError::Ended),
        }
    }

    /// The status of an exec'd process, once it ended and its output reached its fds.
    /// [`SandboxError::Ended`] if the sandbox ended without one; `Refused` with `ESRCH`
    /// for an id no exec started.
    pub fn wait_exec(&self, id: ExecId) -> Result<ExitStatus, SandboxError> {
        let known = self
            .started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id.0);
        if !known {
            return Err(SandboxError::Refused {
                request: "wait_exec",
                errno: 3,
            });
        }
        let status = self
            .link
            .wait_for(|state| match state.statuses.get(&id.0) {
                Some(status) => Some(Some(*status)),
                None => state.ended.then_some(None),
            })
            .ok_or(SandboxError::Ended)?;
        self.join_outputs(id.0);
        Ok(status.into())
    }

    /// The init's status; returns once the VM has ended and all output reached its fds.
    /// [`SandboxError::Guest`] when the kernel ended without an init status (its own
    /// failure, named by its console's last word).
    pub fn wait(&self) -> Result<ExitStatus, SandboxError> {
        self.finish()
            .map_err(|(status, message)| SandboxError::Guest { status, message })
    }

    fn finish(&self) -> Result<ExitStatus, (i32, String)> {
        let mut ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(result) = &*ended {
            return result.clone();
        }
        let (qemu_status, facts) = {
            let mut vm = self.vm.lock().unwrap_or_else(|p| p.into_inner());
            let status = vm.child.wait();
            log::debug!("phase: QEMU exited ({status:?})");
            for thread in vm.console_threads.drain(..) {
                let _ = thread.join();
            }
            let facts = vm.console.lock().unwrap_or_else(|p| p.into_inner());
            (status, (facts.exit_status, facts.last_message.clone()))
        };
        // QEMU is gone, so the channel closes and the reader files everything it sent.
        self.link.wait_for(|state| state.ended.then_some(()));
        self.join_outputs(INIT);
        let status = self.link.lock().statuses.get(&INIT).copied();
        let result = match (status, facts) {
            (Some(status), _) => Ok(status.into()),
            (None, (Some(status), message)) => Err((
                status,
                message.unwrap_or_else(|| "the kernel gave no reason".into()),
            )),
            (None, (None, message)) => Err((
                qemu_status
                    .as_ref()
                    .ok()
                    .and_then(|status| status.code())
                    .unwrap_or(-1),
                message.unwrap_or_else(|| {
                    format!(
                        "QEMU ended without the kernel's status ({})",
                        qemu_status.map_or_else(|error| error.to_string(), |s| s.to_string())
                    )
                }),
            )),
        };
        *ended = Some(result.clone());
        result
    }

    /// Routes the output streams of process `id` to the caller's fds; returns its input.
    fn plumb(&self, id: u32, stdio: ProcessStdio) -> std::io::Result<Option<File>> {
        let (outputs, input) = match stdio {
            ProcessStdio::Streams {
                stdin,
                stdout,
                stderr,
            } => (
                vec![
                    (Stream::Stdout, File::from(stdout)),
                    (Stream::Stderr, File::from(stderr)),
                ],
                stdin.map(File::from),
            ),
            ProcessStdio::Terminal { io } => {
                let io = File::from(io);
                let input = io.try_clone()?;
                (vec![(Stream::Stdout, io)], Some(input))
            }
        };
        let mut threads = Vec::new();
        for (stream, to) in outputs {
            threads.push(pumps::output(&self.link, id, stream, to)?);
        }
        self.outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, threads);
        Ok(input)
    }

    fn join_outputs(&self, id: u32) {
        let threads = self
            .outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
            .unwrap_or_default();
        for thread in threads {
            let _ = thread.join();
        }
    }

    /// A request answered by `Done` or an errno.
    fn done(&self, name: &'static str, request: Request) -> Result<(), SandboxError> {
        match self.link.request(request) {
            Some(Reply::Done) => Ok(()),
            Some(Reply::Failed { errno }) => Err(SandboxError::Refused {
                request: name,
                errno,
            }),
            Some(other) => Err(unexpected(other)),
            None => Err(SandboxError::Ended),
        }
    }
}

/// The kernel gives a process with `terminal` one stream both ways, and three without.
fn check_stdio(terminal: bool, stdio: &ProcessStdio) -> Result<(), SandboxError> {
    let given = match stdio {
        ProcessStdio::Streams { .. } if terminal => "streams",
        ProcessStdio::Terminal { .. } if !terminal => "a terminal",
        _ => return Ok(()),
    };
    Err(SandboxError::StdioMismatch { terminal, given })
}

fn unexpected(reply: Reply) -> SandboxError {
    SandboxError::Channel(format!("unexpected reply {reply:?}"))
}

impl Drop for Sandbox {
    /// A sandbox dropped before it ended takes its VM with it.
    fn drop(&mut self) {
        let vm = self.vm.get_mut().unwrap_or_else(|p| p.into_inner());
        if matches!(vm.child.try_wait(), Ok(None)) {
            let _ = vm.child.kill();
            let _ = vm.child.wait();
        }
    }
}

#[cfg(test)]
mod tests;
