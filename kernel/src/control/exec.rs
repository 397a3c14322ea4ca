//! A process the host's runtime starts in the running container (`runc exec`): from an
//! OCI `process` object, in the init's mount namespace, with the identity, capabilities,
//! limits, working directory and environment the object gives (the init's rules: PATH
//! lookup as `execvpe`, `cwd` made if missing), its streams pumped over the channel.
//!
//! It is its own session's leader (runc's exec does `setsid`), with its terminal as the
//! controlling one when it has a terminal. Its parent is outside the container: pid 0 as
//! it sees it (`getppid`), as a process runc starts in a pid namespace sees; nobody inside
//! is told of its end, and the kernel reaps it once its status went to the host.

use alloc::format;
use alloc::string::String;

use arch::fpu::FpuState;
use arch::thread::Thread;

use super::streams::{self, Plumbing, Pumps};
use crate::container::ProcessPlan;
use crate::container::spec::Process as ProcessSpec;
use crate::exec::strings::Strings;
use crate::process::Process;
use crate::task::lifecycle;
use crate::task::table::{INIT_PID, TABLE};

/// What a failed exec reports: the status a shell gives (126, 127, or the spec's) and
/// the kernel's message.
pub type Failure = (u8, String);

/// Starts `process_json` as the process of stream id `id`; returns its pid, its streams,
/// and the thread to spawn once the caller has recorded it.
pub fn start(
    id: u32,
    process_json: &[u8],
) -> Result<(u32, Pumps, alloc::sync::Arc<Thread>), Failure> {
    let spec = ProcessSpec::parse(process_json)
        .map_err(|error| (error.exit_status(), format!("{error}")))?;
    let plan = ProcessPlan::from_spec(&spec, None);
    let pid = {
        let mut table = TABLE.lock();
        let pid = table
            .insert(0, 0, 0)
            .ok_or((126, String::from("no free pid")))?;
        if let Some(entry) = table.get_mut(pid) {
            entry.pgid = pid;
            entry.sid = pid;
            entry.exit_signal = 0;
        }
        pid
    };
    let built = load(pid, &plan);
    let (process, plumbing) = match built {
        Ok(built) => built,
        Err(failure) => {
            TABLE.lock().remove(pid);
            return Err(failure);
        }
    };
    let pumps = match plumbing.start(id) {
        Ok(pumps) => pumps,
        Err(errno) => {
            TABLE.lock().remove(pid);
            return Err((126, format!("streams: {errno:?}")));
        }
    };
    crate::task::oom::track(&process);
    let task = process.task.clone();
    let Some(thread) = Thread::new(move || run(id, process), FpuState::initial()) else {
        pumps.input.end();
        TABLE.lock().remove(pid);
        return Err((126, String::from("out of memory")));
    };
    thread.set_owner(pid);
    if let Some(entry) = TABLE.lock().get_mut(pid) {
        entry.thread = Some(thread.clone());
        entry.task = Some(task);
    }
    if let Some(terminal) = &pumps.terminal {
        crate::tty::session::give_to(pid, terminal);
    }
    Ok((pid, pumps, thread))
}

/// The process built and its program loaded (not yet running).
fn load(pid: u32, plan: &ProcessPlan) -> Result<(Process, Plumbing), Failure> {
    let ns = lifecycle::task_of(INIT_PID)
        .and_then(|task| task.parts().fs)
        .map(|fs| fs.lock().ns.clone())
        .ok_or((126, String::from("the container is not running")))?;
    let mut plumbing = None;
    let mut process = crate::sandbox::new_process(pid, plan, ns, |fs| {
        let (files, far_ends) = streams::open(fs, plan.terminal, plan.console_size)?;
        plumbing = Some(far_ends);
        Ok(files)
    })
    .map_err(|(what, errno)| (126, format!("{what}: {errno:?}")))?;
    let plumbing = plumbing.ok_or((126, String::from("no streams")))?;
    let path = plan
        .resolve(|path| crate::sandbox::lookup_kind(&process.fs_context(), path))
        .map_err(|error| (error.exit_status(), format!("{error}")))?;
    let argv: Strings = plan.args.iter().map(|arg| arg.as_bytes()).collect();
    let envp: Strings = plan.env.iter().map(|var| var.as_bytes()).collect();
    crate::process::exec::exec(&mut process, path.as_bytes(), argv, envp).map_err(|failure| {
        (
            failure.shell_status(),
            format!("cannot execute {path}: {failure}"),
        )
    })?;
    Ok((process, plumbing))
}

/// The process's thread: its run loop, its end, its status to the host.
fn run(id: u32, mut process: Process) {
    let pid = process.pid;
    let ending = crate::task::run::run(&mut process);
    let termination = lifecycle::end_and_wait(process, ending);
    super::service::exec_ended(id, pid, termination);
}
