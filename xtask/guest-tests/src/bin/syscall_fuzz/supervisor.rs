//! The supervisor: the container's init, which never makes a fuzzed call itself. It runs
//! the calls in chunks, one forked worker per chunk, follows each worker's progress
//! messages, starts the next worker after the call that ended the last one, kills a worker
//! whose call has not returned within the watchdog's time (a finding: the periodic alarm
//! should have ended any wait), and reports.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::layout::{CONSOLE_FD, PROGRESS_FD};
use crate::worker::{self, MESSAGE_LEN, STATS_SLOTS, TAG_CALL, TAG_DONE, TAG_FINDING, TAG_STATS};

/// The playgrounds the workers make and the supervisor clears between them.
const PLAYGROUNDS: &[&str] = &["/tmp/fuzz", "/rw/fuzz", "/root/fuzz"];
/// Deaths described one by one before only being counted.
const DEATHS_DESCRIBED: u32 = 20;
const REPORT_INTERVAL: Duration = Duration::from_secs(30);

pub struct Options {
    pub seed: u64,
    pub from: u64,
    pub calls: u64,
    pub per_worker: u64,
    pub watchdog: Duration,
    pub trace_from: Option<u64>,
}

#[derive(Default)]
pub struct Summary {
    pub calls: u64,
    pub workers: u64,
    pub deaths: u64,
    pub deaths_by: BTreeMap<String, u64>,
    pub findings: Vec<String>,
    /// Per call number, over the workers that finished their chunk: successes, ENOSYS,
    /// other errors.
    pub outcomes: BTreeMap<u64, [u64; 3]>,
}

/// How one worker ended.
enum End {
    /// Made every call of its chunk.
    Completed,
    /// Ended (killed, or exited early) after starting call `last`.
    Died { last: u64, how: String },
    /// Made no call at all.
    SetupFailed(String),
    /// Its call `last` did not return within the watchdog's time.
    Hung { last: u64, state: String },
}

pub fn run(options: &Options) -> Summary {
    let mut summary = Summary::default();
    let end = options.from + options.calls;
    let started = Instant::now();
    let report_every = (options.calls / 20).clamp(1000, 50_000);
    let mut next_report = options.from + report_every;
    let mut next = options.from;
    let mut setup_failures = 0;
    let mut last_report = Instant::now();
    while next < end {
        clear_playgrounds();
        let chunk_end = (next + options.per_worker).min(end);
        summary.workers += 1;
        let (outcome, findings, outcomes) = run_worker(options, next, chunk_end);
        for (number, counts) in outcomes {
            let total = summary.outcomes.entry(number).or_default();
            total
                .iter_mut()
                .zip(counts)
                .for_each(|(sum, count)| *sum += count);
        }
        summary.findings.extend(
            findings.into_iter().map(|index| {
                format!("call #{index} returned a value Linux never gives (line above)")
            }),
        );
        next = match outcome {
            End::Completed => chunk_end,
            End::Died { last, how } => {
                summary.deaths += 1;
                if summary.deaths <= u64::from(DEATHS_DESCRIBED) {
                    println!("syscall-fuzz: worker from #{next} ended at call #{last} ({how})");
                }
                let cause = how.split(" in ").next().unwrap_or(&how).to_owned();
                *summary.deaths_by.entry(cause).or_default() += 1;
                last + 1
            }
            End::Hung { last, state } => {
                let finding = format!(
                    "call #{last} did not return within {} s despite SIGALRM every 10 ms \
                     (worker {state}; replay: --seed {:#x} --from {next} --calls {} --trace-from {last})",
                    options.watchdog.as_secs(),
                    options.seed,
                    last + 1 - next
                );
                println!("syscall-fuzz: FINDING {finding}");
                summary.findings.push(finding);
                last + 1
            }
            End::SetupFailed(how) => {
                setup_failures += 1;
                println!("syscall-fuzz: a worker failed to start ({how})");
                if setup_failures >= 3 {
                    summary
                        .findings
                        .push(format!("workers fail to start ({how})"));
                    break;
                }
                next
            }
        };
        // By count, and at least every half minute (the host takes a silent console for a
        // hung kernel).
        if next >= next_report || next >= end || last_report.elapsed() > REPORT_INTERVAL {
            last_report = Instant::now();
            println!(
                "syscall-fuzz: progress {}/{} calls, {} workers, {} ended early, {:.1} s",
                next - options.from,
                options.calls,
                summary.workers,
                summary.deaths,
                started.elapsed().as_secs_f64()
            );
            while next_report <= next {
                next_report += report_every;
            }
        }
    }
    summary.calls = next - options.from;
    summary
}

type Outcomes = Vec<(u64, [u64; 3])>;

fn run_worker(options: &Options, start: u64, end: u64) -> (End, Vec<u64>, Outcomes) {
    let mut pipe = [0i32; 2];
    // SAFETY: `pipe` has room for both ends.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return (
            End::SetupFailed(format!("pipe2: errno {}", crate::errno())),
            Vec::new(),
            Vec::new(),
        );
    }
    let [read_end, write_end] = pipe;
    // SAFETY: the supervisor is single-threaded; the child only sets up descriptors and
    // runs the worker, which never returns.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: the worker's descriptors: the progress pipe's write end and the console.
        unsafe {
            libc::dup2(write_end, PROGRESS_FD);
            libc::dup2(1, CONSOLE_FD);
        }
        worker::run(worker::Config {
            seed: options.seed,
            start,
            end,
            trace_from: options.trace_from,
        });
    }
    // SAFETY: the supervisor's copy of the write end, so the pipe reports the worker's end.
    unsafe { libc::close(write_end) };
    if pid < 0 {
        // SAFETY: closes our read end.
        unsafe { libc::close(read_end) };
        return (
            End::SetupFailed(format!("fork: errno {}", crate::errno())),
            Vec::new(),
            Vec::new(),
        );
    }
    let mut follower = Follower::default();
    let mut last_heard = Instant::now();
    let mut killed_for_hang: Option<(u64, String)> = None;
    let status = loop {
        if follower.poll(read_end) {
            last_heard = Instant::now();
        }
        if let Some(status) = reap_children(pid) {
            follower.poll(read_end);
            break status;
        }
        if killed_for_hang.is_none() && last_heard.elapsed() > options.watchdog {
            let (last, number) = follower.last_call.unwrap_or((start, 0));
            let state = format!(
                "{}, in {}, {}",
                process_state(pid),
                crate::table::name(number),
                signal_state(pid)
            );
            // SAFETY: kills the worker, which is our child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed_for_hang = Some((last, state));
            last_heard = Instant::now();
        } else if killed_for_hang.is_some() && last_heard.elapsed() > options.watchdog {
            // SIGKILL did not end it either: leave it and go on.
            println!("syscall-fuzz: FINDING worker {pid} survives SIGKILL");
            break -1;
        }
    };
    // SAFETY: ends what the worker's children left behind in its group, closes our end.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::close(read_end);
    }
    let findings = follower.findings.clone();
    let outcomes = std::mem::take(&mut follower.outcomes);
    if let Some((last, state)) = killed_for_hang {
        return (End::Hung { last, state }, findings, outcomes);
    }
    let end_state = if follower.done {
        End::Completed
    } else if let Some((last, number)) = follower.last_call {
        End::Died {
            last,
            how: format!(
                "{} in {}",
                describe_status(status),
                crate::table::name(number)
            ),
        }
    } else {
        End::SetupFailed(describe_status(status))
    };
    (end_state, findings, outcomes)
}

/// The progress messages read so far.
#[derive(Default)]
struct Follower {
    pending: Vec<u8>,
    /// The index and number of the call last started.
    last_call: Option<(u64, u64)>,
    findings: Vec<u64>,
    outcomes: Outcomes,
    done: bool,
}

impl Follower {
    /// Waits up to 200 ms for messages and takes them; whether any came.
    fn poll(&mut self, fd: i32) -> bool {
        let mut poll_fd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd on the stack.
        if unsafe { libc::poll(&mut poll_fd, 1, 200) } <= 0 || poll_fd.revents & libc::POLLIN == 0 {
            return false;
        }
        let mut buffer = [0u8; 16 * 1024];
        // SAFETY: reads into the stack buffer; the pipe is readable, so this does not block.
        let count = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
        if count <= 0 {
            return false;
        }
        self.pending.extend_from_slice(&buffer[..count as usize]);
        let whole = self.pending.len() / MESSAGE_LEN * MESSAGE_LEN;
        for message in self.pending[..whole].chunks_exact(MESSAGE_LEN) {
            let tag = u64::from_le_bytes(message[..8].try_into().expect("8 bytes"));
            let index = u64::from_le_bytes(message[8..].try_into().expect("8 bytes"));
            match tag & 0xffff_ffff {
                TAG_CALL => self.last_call = Some((index, tag >> 32)),
                TAG_FINDING => self.findings.push(index),
                TAG_DONE => self.done = true,
                TAG_STATS if (tag >> 32) < STATS_SLOTS as u64 => self.outcomes.push((
                    tag >> 32,
                    [index >> 32, index >> 16 & 0xffff, index & 0xffff],
                )),
                _ => {}
            }
        }
        self.pending.drain(..whole);
        true
    }
}

/// Reaps every child that has ended (orphans come to the init); the worker's wait status
/// once it has ended.
fn reap_children(worker: i32) -> Option<i32> {
    let mut worker_status = None;
    loop {
        let mut status = 0;
        // SAFETY: waits without blocking for any child.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
        if pid <= 0 {
            return worker_status;
        }
        if pid == worker {
            worker_status = Some(status);
        }
    }
}

fn describe_status(status: i32) -> String {
    if libc::WIFSIGNALED(status) {
        signal_name(libc::WTERMSIG(status))
    } else if libc::WIFEXITED(status) {
        match libc::WEXITSTATUS(status) {
            worker::EXIT_PROGRESS_LOST => "progress pipe lost".to_owned(),
            worker::EXIT_SETUP_FAILED => "scratch or arena not mapped".to_owned(),
            code => format!("exit {code}"),
        }
    } else {
        format!("wait status {status:#x}")
    }
}

fn signal_name(signal: i32) -> String {
    let names = [
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGSYS, "SIGSYS"),
        (libc::SIGCHLD, "SIGCHLD"),
        (libc::SIGCONT, "SIGCONT"),
        (libc::SIGWINCH, "SIGWINCH"),
        (libc::SIGURG, "SIGURG"),
    ];
    names
        .iter()
        .find(|(number, _)| *number == signal)
        .map_or_else(|| format!("signal {signal}"), |(_, name)| name.to_string())
}

/// The state letter of `/proc/PID/stat` (R, S, T, Z…), for a hang's report.
fn process_state(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after_name = stat.rfind(')')?;
            stat[after_name + 1..]
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The signal lines of `/proc/PID/status` (pending, blocked, ignored, caught), for a
/// hang's report.
fn signal_state(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|status| {
            status
                .lines()
                .filter(|line| line.starts_with("Sig") || line.starts_with("ShdPnd"))
                .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|error| format!("no /proc/{pid}/status: {error}"))
}

/// Unmounts whatever the workers mounted in the playgrounds (deepest first, detached),
/// then removes them: the next worker starts from fresh files.
fn clear_playgrounds() {
    for _ in 0..64 {
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|line| line.split_whitespace().nth(1))
            .filter(|point| {
                PLAYGROUNDS
                    .iter()
                    .any(|base| *point == *base || point.starts_with(&format!("{base}/")))
            })
            .collect();
        if points.is_empty() {
            break;
        }
        points.sort_by_key(|point| std::cmp::Reverse(point.len()));
        for point in points {
            let path = std::ffi::CString::new(point.replace("\\040", " ")).unwrap_or_default();
            // SAFETY: unmounts a mount point under the playground.
            unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
        }
    }
    for base in PLAYGROUNDS {
        let _ = std::fs::remove_dir_all(base);
    }
}
