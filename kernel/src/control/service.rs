//! The kernel's side of the host's control: the init held until the host starts it, a
//! service thread that acts on each message from the host, and the statuses that go back
//! when processes end.
//!
//! The init's start: once its namespace is built and its program loaded, the boot thread
//! (the init's own) says `Created` and waits; the service thread releases it on `Start`.
//! Signals that come meanwhile wait for it as for any process; `SIGKILL` ends it there,
//! unstarted (runc's `kill` of a created container), before its first instruction.
//!
//! The init's end: every other process is killed (its pid namespace goes, as under
//! runc), the init's streams are read to their end (every writer gone), its status goes
//! to the host, and the kernel powers off as in every mode.
//!
//! Lock order: `PROCESSES` is a leaf (a process's entry is cloned out before its streams
//! are touched); the channel's locks are leaves taken with nothing else held.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use arch::fpu::FpuState;
use arch::thread::Thread;
use spin::Mutex;
use vfs_core::{Errno, FsContext, OpenFile};

use super::channel::{self, send};
use super::streams::{self, ENDED, Pumps};
use super::wire::{GuestMessage, HostMessage, INIT, Reply, Request, Status, Target};
use crate::process::{Process, Termination};
use crate::task::lifecycle::{self, Ending};
use crate::task::table::{INIT_PID, TABLE};
use crate::task::{WaitQueue, scheduler};
use crate::tty::termios::Winsize;

/// A process whose streams and status the host holds, by stream id.
struct Managed {
    pid: u32,
    pumps: Pumps,
}

static PROCESSES: Mutex<BTreeMap<u32, Arc<Managed>>> = Mutex::new(BTreeMap::new());
static STARTED: AtomicBool = AtomicBool::new(false);
static START_EVENTS: WaitQueue = WaitQueue::new();
/// How long the init's streams may take to drain once everything was killed: a stream
/// whose writer the kernel cannot end (none is known) must not keep the VM up.
const DRAIN_LIMIT_NS: i64 = 5_000_000_000;

/// Opens the channel on the machine's virtio-console port.
pub fn init(devices: &crate::devices::Devices) -> Result<(), &'static str> {
    let port = devices
        .control
        .lock()
        .take()
        .ok_or("stdio=control: the machine has no virtio-console port")?;
    channel::open(port);
    Ok(())
}

/// The init's descriptors 0-2 (pipes, or a terminal), their far ends pumped to the host.
pub fn init_stdio(
    fs: &FsContext,
    terminal: bool,
    size: Option<(u16, u16)>,
) -> Result<[Arc<OpenFile>; 3], Errno> {
    let (files, plumbing) = streams::open(fs, terminal, size)?;
    let pumps = plumbing.start(INIT)?;
    PROCESSES.lock().insert(
        INIT,
        Arc::new(Managed {
            pid: INIT_PID,
            pumps,
        }),
    );
    Ok(files)
}

/// The init is loaded and in the process table: tells the host, starts serving it, and
/// waits for its `Start`. `Some` if the init was ended meanwhile.
pub fn hold_until_start(process: &mut Process) -> Option<Ending> {
    if let Some(terminal) = managed(INIT).and_then(|init| init.pumps.terminal.clone()) {
        crate::tty::session::give_to_init(&terminal);
    }
    match Thread::new(serve, FpuState::initial()) {
        Some(thread) => scheduler::spawn(thread),
        None => {
            log::error!(target: "control", "no memory for the service thread");
            return Some(Ending::Group(Termination::Killed(9)));
        }
    }
    send(&GuestMessage::Created { pid: INIT_PID });
    // A `SIGKILL` while held ends the init unstarted (its sender wakes this thread).
    let released = || STARTED.load(Ordering::SeqCst) || lifecycle::must_end(INIT_PID);
    while !released() {
        START_EVENTS.prepare();
        if !released() {
            scheduler::block();
        }
        START_EVENTS.cancel();
    }
    crate::timeline::phase("started");
    crate::process::deliver::deliver_pending(process, None)
}

/// The init ended with `termination` (see the module's doc); returns once its status went.
pub fn init_ended(termination: Termination) {
    super::freeze::thaw();
    for pid in lifecycle::live_pids() {
        let _ = lifecycle::signal_from_host(pid, 9);
    }
    if let Some(init) = managed(INIT) {
        let deadline = crate::clock::monotonic_ns() + DRAIN_LIMIT_NS;
        wait_for_outputs(&init.pumps, Some(deadline));
        init.pumps.input.end();
    }
    send(&GuestMessage::Exited {
        id: INIT,
        status: status_of(termination),
    });
}

/// An exec'd process (stream id `id`, pid `pid`) ended: its streams are read to their
/// end, its status goes to the host, and it is reaped.
pub fn exec_ended(id: u32, pid: u32, termination: Termination) {
    if let Some(process) = managed(id) {
        process.pumps.input.end();
        wait_for_outputs(&process.pumps, None);
    }
    send(&GuestMessage::Exited {
        id,
        status: status_of(termination),
    });
    PROCESSES.lock().remove(&id);
    TABLE.lock().remove(pid);
}

fn status_of(termination: Termination) -> Status {
    match termination {
        Termination::Exited(code) => Status::Exited(code),
        Termination::Killed(signal) => Status::Killed(signal),
    }
}

/// Waits until every output stream of `pumps` ended, or the monotonic clock passes
/// `deadline`.
fn wait_for_outputs(pumps: &Pumps, deadline: Option<i64>) {
    loop {
        if pumps.outputs_done() {
            return;
        }
        if deadline.is_some_and(|deadline| crate::clock::monotonic_ns() >= deadline) {
            log::warn!(target: "control", "the init's streams did not end; not waiting longer");
            return;
        }
        ENDED.prepare();
        if !pumps.outputs_done() {
            match deadline {
                Some(deadline) => scheduler::sleep_until(deadline),
                None => scheduler::block(),
            }
        }
        ENDED.cancel();
    }
}

fn managed(id: u32) -> Option<Arc<Managed>> {
    PROCESSES.lock().get(&id).cloned()
}

/// The service thread: every message from the host, in order.
fn serve() {
    loop {
        match channel::receive() {
            HostMessage::Request { seq, request } => {
                let reply = answer(request);
                send(&GuestMessage::Reply { seq, reply });
            }
            HostMessage::Input { id, data } => {
                if let Some(process) = managed(id) {
                    process.pumps.input.push(&data);
                }
            }
            HostMessage::InputEnd { id } => {
                if let Some(process) = managed(id) {
                    process.pumps.input.end();
                }
            }
            HostMessage::Credit { id, stream, bytes } => {
                if let Some(output) = managed(id)
                    .as_ref()
                    .and_then(|process| process.pumps.output(stream).cloned())
                {
                    output.grant(bytes);
                }
            }
        }
    }
}

fn answer(request: Request) -> Reply {
    let done = |result: Result<(), Errno>| match result {
        Ok(()) => Reply::Done,
        Err(errno) => Reply::Failed { errno: errno.0 },
    };
    match request {
        Request::Start => {
            if STARTED.swap(true, Ordering::SeqCst) {
                return done(Err(Errno::EBUSY));
            }
            START_EVENTS.wake_all();
            Reply::Done
        }
        Request::Signal { target, signal } => done(signal_target(target, signal)),
        Request::Exec { id, process } => {
            if managed(id).is_some() {
                return Reply::ExecFailed {
                    status: 126,
                    message: alloc::format!("exec id {id} is in use"),
                };
            }
            match super::exec::start(id, &process) {
                Ok((pid, pumps, thread)) => {
                    PROCESSES
                        .lock()
                        .insert(id, Arc::new(Managed { pid, pumps }));
                    scheduler::spawn(thread);
                    Reply::ExecStarted { pid }
                }
                Err((status, message)) => Reply::ExecFailed { status, message },
            }
        }
        Request::Resize { id, rows, cols } => done(resize(id, rows, cols)),
        Request::Pause => {
            super::freeze::freeze();
            Reply::Done
        }
        Request::Resume => {
            super::freeze::thaw();
            Reply::Done
        }
        Request::Pids => Reply::Pids(lifecycle::live_pids()),
    }
}

fn signal_target(target: Target, signal: u8) -> Result<(), Errno> {
    if signal > 64 {
        return Err(Errno::EINVAL);
    }
    match target {
        Target::Init => lifecycle::signal_from_host(INIT_PID, signal),
        Target::Exec(id) => {
            lifecycle::signal_from_host(managed(id).ok_or(Errno::ESRCH)?.pid, signal)
        }
        // runc's `kill --all`: each process that still runs (one may end meanwhile).
        Target::All => {
            let pids: Vec<u32> = lifecycle::live_pids();
            if pids.is_empty() {
                return Err(Errno::ESRCH);
            }
            for pid in pids {
                let _ = lifecycle::signal_from_host(pid, signal);
            }
            Ok(())
        }
    }
}

fn resize(id: u32, rows: u16, cols: u16) -> Result<(), Errno> {
    let process = managed(id).ok_or(Errno::ESRCH)?;
    let terminal = process.pumps.terminal.as_ref().ok_or(Errno::ENOTTY)?;
    let size = Winsize {
        rows,
        cols,
        ..Winsize::default()
    };
    if let Some(signal) = terminal.resize(size) {
        crate::tty::session::send_group_signals(alloc::vec![signal]);
    }
    Ok(())
}
