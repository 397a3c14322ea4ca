//! A process's standard streams as the host's runtime holds them: real pipes (or a
//! pseudo-terminal) inside the guest, whose far ends kernel threads pump over the control
//! channel — so the program sees what it would under runc (`pipe:[N]` descriptors, or
//! `/dev/pts/N` as its controlling terminal) and the kernel holds at most a pipe's or a
//! terminal's buffer plus one window per stream, however fast either side writes.
//!
//! - Output: a thread reads the pipe's read end (the terminal's master) and sends what it
//!   read while the host's credit lasts; at end of file (`EIO` for a master whose slave
//!   side all closed) it says the stream ended.
//! - Input: what the host sends waits in a queue of at most a window (the host keeps to
//!   its credit); a thread writes it into the pipe (the master), blocking as a writer does
//!   when the program does not read, and gives the credit back once written. The end of
//!   the host's input closes the pipe's write end (the program reads end of file); a
//!   terminal is left open.
//!
//! Lock order: each stream's state is a leaf.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use arch::fpu::FpuState;
use arch::thread::Thread;
use spin::Mutex;
use vfs_core::{At, Errno, FsContext, OpenFile, OpenFlags};

use super::channel::send;
use super::wire::{GuestMessage, MAX_DATA, Stream, WINDOW};
use crate::task::{WaitQueue, scheduler};
use crate::tty::terminal::{Kind, Terminal};
use crate::tty::termios::Winsize;

/// Woken whenever an output stream ends (the end of a process waits for its streams).
pub static ENDED: WaitQueue = WaitQueue::new();

/// One output stream: the host's credit and whether it ended.
pub struct Output {
    credit: Mutex<u32>,
    events: WaitQueue,
    done: AtomicBool,
}

impl Output {
    /// The host wrote `bytes` more: that many more may go.
    pub fn grant(&self, bytes: u32) {
        {
            let mut credit = self.credit.lock();
            *credit = credit.saturating_add(bytes);
        }
        self.events.wake_all();
    }

    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Waits for credit; returns how much may go now.
    fn wait_credit(&self) -> usize {
        loop {
            let credit = *self.credit.lock();
            if credit > 0 {
                return credit as usize;
            }
            self.events.prepare();
            if *self.credit.lock() == 0 {
                scheduler::block();
            }
            self.events.cancel();
        }
    }

    fn spend(&self, bytes: usize) {
        let mut credit = self.credit.lock();
        *credit = credit.saturating_sub(bytes as u32);
    }
}

/// One input stream: what the host sent and the program has not been given yet.
pub struct Input {
    queue: Mutex<(VecDeque<u8>, bool)>,
    events: WaitQueue,
}

impl Input {
    /// Bytes from the host: at most a window waits (the host keeps to its credit; a host
    /// that does not loses what is past it, with a warning, rather than the kernel its
    /// memory).
    pub fn push(&self, data: &[u8]) {
        {
            let mut queue = self.queue.lock();
            let room = (WINDOW as usize).saturating_sub(queue.0.len());
            if data.len() > room {
                log::warn!(target: "control", "the host sent {} bytes past its credit; dropped", data.len() - room);
            }
            queue.0.extend(&data[..data.len().min(room)]);
        }
        self.events.wake_all();
    }

    /// The host's input ended.
    pub fn end(&self) {
        self.queue.lock().1 = true;
        self.events.wake_all();
    }

    /// The next piece to write, waiting for one; `None` once the input ended and all of
    /// it went.
    fn next(&self) -> Option<Vec<u8>> {
        loop {
            {
                let mut queue = self.queue.lock();
                if !queue.0.is_empty() {
                    let count = queue.0.len().min(MAX_DATA);
                    return Some(queue.0.drain(..count).collect());
                }
                if queue.1 {
                    return None;
                }
            }
            self.events.prepare();
            let idle = {
                let queue = self.queue.lock();
                queue.0.is_empty() && !queue.1
            };
            if idle {
                scheduler::block();
            }
            self.events.cancel();
        }
    }
}

/// A process's streams on the host's side: started once the process exists.
pub struct Plumbing {
    /// Read by the output threads: stdout (or the terminal's master) and stderr.
    outputs: Vec<(Stream, Arc<OpenFile>)>,
    /// Written by the input thread: the stdin pipe's write end, or the master.
    input: Arc<OpenFile>,
    pub terminal: Option<Arc<Terminal>>,
}

/// The threads of a process's streams, running.
pub struct Pumps {
    pub input: Arc<Input>,
    pub outputs: Vec<(Stream, Arc<Output>)>,
    pub terminal: Option<Arc<Terminal>>,
}

impl Pumps {
    pub fn output(&self, stream: Stream) -> Option<&Arc<Output>> {
        self.outputs
            .iter()
            .find(|(which, _)| *which == stream)
            .map(|(_, output)| output)
    }

    /// Every output stream ended.
    pub fn outputs_done(&self) -> bool {
        self.outputs.iter().all(|(_, output)| output.is_done())
    }
}

/// The descriptors 0, 1 and 2 of a new process and the far ends the host's side keeps.
/// With `terminal`, a new pseudo-terminal pair of the container's devpts (through
/// `/dev/ptmx`, so its slave is `/dev/pts/N` as runc's console is), sized `size` (or
/// 24x80); without, three pipes.
pub fn open(
    fs: &FsContext,
    terminal: bool,
    size: Option<(u16, u16)>,
) -> Result<([Arc<OpenFile>; 3], Plumbing), Errno> {
    if terminal {
        let master = fs.open(
            At::Cwd,
            b"/dev/ptmx",
            OpenFlags::RDWR | OpenFlags::NOCTTY,
            0,
        )?;
        let tty = crate::tty::file::tty_file(&master)
            .ok_or(Errno::ENOTTY)?
            .terminal()
            .clone();
        let Kind::Pty(index) = tty.kind() else {
            return Err(Errno::ENOTTY);
        };
        tty.lock().locked = false;
        let (rows, cols) = size.unwrap_or((24, 80));
        let _ = tty.resize(Winsize {
            rows,
            cols,
            ..Winsize::default()
        });
        let path = format!("/dev/pts/{index}");
        let slave = fs.open(
            At::Cwd,
            path.as_bytes(),
            OpenFlags::RDWR | OpenFlags::NOCTTY,
            0,
        )?;
        return Ok((
            [slave.clone(), slave.clone(), slave],
            Plumbing {
                outputs: vec![(Stream::Stdout, master.clone())],
                input: master,
                terminal: Some(tty),
            },
        ));
    }
    // The kernel's own: charged to no user.
    let pipe = || crate::fs::pipe::new_pipe(&fs.cred, OpenFlags::empty(), None);
    let (stdin, to_stdin) = pipe()?;
    let (from_stdout, stdout) = pipe()?;
    let (from_stderr, stderr) = pipe()?;
    Ok((
        [stdin, stdout, stderr],
        Plumbing {
            outputs: vec![(Stream::Stdout, from_stdout), (Stream::Stderr, from_stderr)],
            input: to_stdin,
            terminal: None,
        },
    ))
}

impl Plumbing {
    /// Starts the threads of stream id `id`. `Err` if a thread could not be made (memory).
    pub fn start(self, id: u32) -> Result<Pumps, Errno> {
        let input = Arc::new(Input {
            queue: Mutex::new((VecDeque::new(), false)),
            events: WaitQueue::new(),
        });
        let mut outputs = Vec::new();
        for (stream, source) in self.outputs {
            let output = Arc::new(Output {
                credit: Mutex::new(WINDOW),
                events: WaitQueue::new(),
                done: AtomicBool::new(false),
            });
            let pumped = output.clone();
            spawn(move || pump_out(id, stream, &source, &pumped))?;
            outputs.push((stream, output));
        }
        let queue = input.clone();
        let sink = self.input;
        spawn(move || pump_in(id, &queue, sink))?;
        Ok(Pumps {
            input,
            outputs,
            terminal: self.terminal,
        })
    }
}

fn spawn(entry: impl FnOnce() + Send + 'static) -> Result<(), Errno> {
    let thread = Thread::new(entry, FpuState::initial()).ok_or(Errno::ENOMEM)?;
    scheduler::spawn(thread);
    Ok(())
}

fn pump_out(id: u32, stream: Stream, source: &OpenFile, output: &Output) {
    let mut buffer = vec![0u8; MAX_DATA];
    loop {
        let room = output.wait_credit().min(MAX_DATA);
        match source.read(&mut buffer[..room]) {
            Ok(0) => break,
            Ok(count) => {
                output.spend(count);
                send(&GuestMessage::Output {
                    id,
                    stream,
                    data: buffer[..count].to_vec(),
                });
            }
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => continue,
            // `EIO`: the terminal's slave side all closed.
            Err(_) => break,
        }
    }
    send(&GuestMessage::OutputEnd { id, stream });
    output.done.store(true, Ordering::Release);
    ENDED.wake_all();
}

fn pump_in(id: u32, input: &Input, sink: Arc<OpenFile>) {
    // Once the program's side is gone (`EPIPE`, `EIO`), the rest is dropped, its credit
    // still given back so the host's writer does not wait forever.
    let mut open = true;
    while let Some(chunk) = input.next() {
        let mut written = 0;
        while open && written < chunk.len() {
            match sink.write(&chunk[written..]) {
                Ok(count) => written += count,
                Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
                Err(_) => open = false,
            }
        }
        send(&GuestMessage::InputCredit {
            id,
            bytes: chunk.len() as u32,
        });
    }
    drop(sink);
}
