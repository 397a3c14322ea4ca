//! A terminal as processes meet it: the line discipline ([`super::ldisc`]) between a
//! driver and the files that read and write the terminal, with the queues on each side,
//! the session and foreground group it belongs to, its window size, and the sleeping:
//! reads that wait for a line or for `VMIN` bytes within `VTIME`, writes that wait while
//! output is stopped or full, `EAGAIN` for non-blocking files, `EINTR` when a signal
//! arrives.
//!
//! Two kinds: the console (its driver is a serial port: output leaves the moment it is
//! made, input comes from the port's poller) and a pseudo-terminal pair, whose master
//! side is the driver — what the slave side writes waits in `output` for the master to
//! read, what the master writes waits in `pending` for the line discipline to take it.
//! One lock covers the pair, so the two sides never wait on each other's lock.
//!
//! Signals the terminal raises (`^C`, `SIGWINCH`, hang-ups) are returned to the caller,
//! which sends them once the lock is released (`super::session`).
//!
//! Lock order: `task::table::TABLE` → a terminal's `state` → its wait queue; the console
//! port's lock is taken under `state` when output leaves.

use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::{Mutex, MutexGuard};
use vfs_core::{Charge, Errno, Result};

use super::ldisc::{LineDiscipline, Receive, event};
use super::termios::{Termios, Winsize, cc, lflag};
use crate::fs::devpts::Instance;
use crate::task::{WaitQueue, lifecycle, scheduler};

/// Output waiting for the driver (a pseudo-terminal master's unread bytes), at most.
pub const OUTPUT_MAX: usize = 8192;
/// Received bytes waiting for room in the line discipline, at most.
pub const PENDING_MAX: usize = 8192;
/// Echoes made while output is stopped, kept until it starts; more are dropped.
const HELD_ECHO_MAX: usize = 4096;
/// `VTIME` counts tenths of a second.
const DECISECOND_NS: i64 = 100_000_000;

/// `TIOCPKT_*`: what a pseudo-terminal master in packet mode reads before data.
pub mod packet {
    pub const DATA: u8 = 0;
    pub const FLUSHREAD: u8 = 1;
    pub const FLUSHWRITE: u8 = 2;
    pub const STOP: u8 = 4;
    pub const START: u8 = 8;
    pub const NOSTOP: u8 = 16;
    pub const DOSTOP: u8 = 32;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Console,
    /// A pseudo-terminal pair, by its number in its devpts.
    Pty(u32),
}

/// A signal for a process group, to send once the terminal's lock is released.
pub type GroupSignal = (u32, u8);

pub struct Terminal {
    id: u64,
    kind: Kind,
    state: Mutex<State>,
    events: WaitQueue,
    /// The console: where its output goes.
    sink: Option<fn(&[u8])>,
    /// A pseudo-terminal: the devpts that holds its node.
    devpts: Option<Weak<Instance>>,
}

pub struct State {
    pub ldisc: LineDiscipline,
    pub winsize: Winsize,
    /// The session it is the controlling terminal of, and that session's foreground
    /// group (0: none).
    pub session: u32,
    pub pgrp: u32,
    pending: VecDeque<u8>,
    output: VecDeque<u8>,
    held_echo: Vec<u8>,
    /// How many hang-ups it has had: a file opened before the last one is hung up.
    pub hangups: u64,
    /// `TIOCEXCL`: new opens need `CAP_SYS_ADMIN`.
    pub exclusive: bool,
    /// No input will ever come (the console when the host sends none): a read finding
    /// nothing returns end of file at once.
    input_closed: bool,
    /// Pseudo-terminal: the master side is open; open files of the slave side; the slave
    /// was open and is now closed (`TTY_OTHER_CLOSED` on the master).
    pub master_open: bool,
    pub slave_files: usize,
    pub other_closed: bool,
    /// `TIOCSPTLCK`: the slave cannot be opened (set by every open of `ptmx`).
    pub locked: bool,
    /// `TIOCPKT` and the status the master reads next in packet mode.
    pub packet: bool,
    pub pktstatus: u8,
    /// `TCOOFF` on the master: its writes wait.
    pub master_stopped: bool,
    /// The buffers' memory, charged for the life of the pair.
    _charge: Option<Charge>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Terminal {
    fn new(
        kind: Kind,
        sink: Option<fn(&[u8])>,
        devpts: Option<Weak<Instance>>,
        charge: Option<Charge>,
    ) -> Arc<Terminal> {
        let terminal = Arc::new(Terminal {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            kind,
            state: Mutex::new(State {
                ldisc: LineDiscipline::new(Termios::slave_default()),
                winsize: Winsize::default(),
                session: 0,
                pgrp: 0,
                pending: VecDeque::new(),
                output: VecDeque::new(),
                held_echo: Vec::new(),
                hangups: 0,
                exclusive: false,
                input_closed: false,
                master_open: true,
                slave_files: 0,
                other_closed: false,
                locked: true,
                packet: false,
                pktstatus: 0,
                master_stopped: false,
                _charge: charge,
            }),
            events: WaitQueue::new(),
            sink,
            devpts,
        });
        super::session::register(&terminal);
        terminal
    }

    /// The console: output to `sink`; `input_closed` when nothing will ever be typed.
    pub fn new_console(sink: fn(&[u8]), input_closed: bool, winsize: Winsize) -> Arc<Terminal> {
        let terminal = Terminal::new(Kind::Console, Some(sink), None, None);
        {
            let mut state = terminal.state.lock();
            state.input_closed = input_closed;
            state.winsize = winsize;
            state.locked = false;
        }
        terminal
    }

    /// Pseudo-terminal pair number `index` of `devpts`; `charge` pays for its buffers.
    pub fn new_pty(index: u32, devpts: Weak<Instance>, charge: Charge) -> Arc<Terminal> {
        Terminal::new(Kind::Pty(index), None, Some(devpts), Some(charge))
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn devpts(&self) -> Option<Arc<Instance>> {
        self.devpts.as_ref().and_then(Weak::upgrade)
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    pub fn events(&self) -> &WaitQueue {
        &self.events
    }

    /// Wakes everything sleeping on the terminal (each checks its condition again).
    pub fn wake(&self) {
        self.events.wake_all();
    }

    /// Takes bytes the driver received (the console's keys, the master's writes) into
    /// `pending` as far as it has room, and moves what the line discipline has room for
    /// through it. Returns how many were taken and the signals they raise.
    pub fn receive(&self, bytes: &[u8]) -> (usize, Vec<GroupSignal>) {
        let (taken, signals) = {
            let mut state = self.state.lock();
            let room = PENDING_MAX.saturating_sub(state.pending.len());
            let taken = bytes.len().min(room);
            state.pending.extend(&bytes[..taken]);
            let signals = self.refill(&mut state);
            (taken, signals)
        };
        self.wake();
        (taken, signals)
    }

    /// Whether the console could take another byte now.
    pub fn has_input_room(&self) -> bool {
        self.state.lock().pending.len() < PENDING_MAX
    }

    /// Feeds `pending` into the line discipline while it has room; echoes and the
    /// line discipline's events are dealt with as they come.
    fn refill(&self, state: &mut State) -> Vec<GroupSignal> {
        let mut signals = Vec::new();
        let mut echo = Vec::new();
        while let Some(&byte) = state.pending.front() {
            match state.ldisc.receive(byte, &mut echo) {
                Receive::Full => break,
                Receive::Taken(signal) => {
                    state.pending.pop_front();
                    if let Some(signal) = signal
                        && state.pgrp != 0
                    {
                        signals.push((state.pgrp, signal));
                    }
                }
            }
            self.after_ldisc(state, &mut echo);
        }
        signals
    }

    /// What follows any line-discipline call: its events (flow, flushes) and its echo.
    pub fn after_ldisc(&self, state: &mut State, echo: &mut Vec<u8>) {
        let events = state.ldisc.take_events();
        let report = |state: &mut State, set: u8, clear: u8| {
            if state.packet {
                state.pktstatus = (state.pktstatus & !clear) | set;
            }
        };
        if events & event::STOPPED != 0 {
            report(state, packet::STOP, packet::START);
        }
        if events & event::STARTED != 0 {
            report(state, packet::START, packet::STOP);
            let held = core::mem::take(&mut state.held_echo);
            self.emit(state, &held);
        }
        if events & event::FLUSHED_INPUT != 0 {
            report(state, packet::FLUSHREAD, 0);
        }
        if events & event::FLUSH_OUTPUT != 0 {
            self.flush_output(state);
        }
        if !echo.is_empty() {
            if state.ldisc.is_stopped() {
                let room = HELD_ECHO_MAX.saturating_sub(state.held_echo.len());
                let kept = echo.len().min(room);
                state.held_echo.extend_from_slice(&echo[..kept]);
            } else {
                self.emit(state, echo);
            }
            echo.clear();
        }
    }

    /// `tty_driver_flush_buffer`: the console drops what it has not sent; a master in
    /// packet mode is told (`pty_flush_buffer` drops nothing it could read).
    pub fn flush_output(&self, state: &mut State) {
        match self.kind {
            Kind::Console => state.output.clear(),
            Kind::Pty(_) => {
                if state.packet {
                    state.pktstatus |= packet::FLUSHWRITE;
                }
            }
        }
    }

    /// Processed output to the driver: the console's port at once (unless stopped),
    /// else the master's queue. Echoes past the queue's bound are dropped, as Linux's
    /// echo buffer drops them.
    fn emit(&self, state: &mut State, bytes: &[u8]) {
        let room = (OUTPUT_MAX + HELD_ECHO_MAX).saturating_sub(state.output.len());
        let kept = bytes.len().min(room);
        state.output.extend(&bytes[..kept]);
        self.drain_console(state);
    }

    /// The console sends its queued output unless output is stopped.
    fn drain_console(&self, state: &mut State) {
        if let Some(sink) = self.sink
            && !state.ldisc.is_stopped()
            && !state.output.is_empty()
        {
            let (first, second) = state.output.as_slices();
            sink(first);
            sink(second);
            state.output.clear();
        }
    }

    /// A byte written around output processing (`tty_send_xchar`: `TCIOFF`/`TCION`).
    pub fn send_char(&self, state: &mut State, byte: u8) {
        state.output.push_back(byte);
        if let Some(sink) = self.sink {
            let (first, second) = state.output.as_slices();
            sink(first);
            sink(second);
            state.output.clear();
        }
    }

    /// New settings (`tty_set_termios`): a pseudo-terminal keeps `CS8 | CREAD` and no
    /// parity (`pty_set_termios`), and a master in packet mode learns whether `^S`/`^Q`
    /// flow control is on.
    pub fn set_termios(&self, state: &mut State, mut new: Termios) {
        use super::termios::{cflag, iflag};
        new.cflag = (new.cflag & !(cflag::CSIZE | cflag::PARENB)) | cflag::CS8 | cflag::CREAD;
        let old = *state.ldisc.termios();
        if state.packet {
            let flow = |t: &Termios| {
                t.has_i(iflag::IXON) && t.cc[cc::VSTOP] == 0o23 && t.cc[cc::VSTART] == 0o21
            };
            if flow(&old) != flow(&new) {
                state.pktstatus &= !(packet::DOSTOP | packet::NOSTOP);
                state.pktstatus |= if flow(&new) {
                    packet::DOSTOP
                } else {
                    packet::NOSTOP
                };
            }
        }
        state.ldisc.set_termios(new);
        let mut echo = Vec::new();
        self.after_ldisc(state, &mut echo);
        // A change out of canonical mode may make bytes readable, and the line
        // discipline may have room again.
        drop(self.refill(state));
    }

    /// Whether the file opened at hang-up count `opened` is hung up.
    pub fn hung_up(&self, opened: u64) -> bool {
        self.state.lock().hangups != opened
    }

    /// A read on the slave side or the console (`n_tty_read`), after the job-control
    /// check: at most one line in canonical mode; otherwise by `VMIN` and `VTIME`.
    pub fn read(
        &self,
        opened: u64,
        max: usize,
        nonblock: bool,
    ) -> Result<(Vec<u8>, Vec<GroupSignal>)> {
        let mut out = Vec::new();
        let mut signals = Vec::new();
        if max == 0 {
            return Ok((out, signals));
        }
        let (canonical, vmin, vtime) = {
            let state = self.state.lock();
            let termios = state.ldisc.termios();
            (
                termios.has_l(lflag::ICANON) && !termios.has_l(lflag::EXTPROC),
                usize::from(termios.cc[cc::VMIN]),
                i64::from(termios.cc[cc::VTIME]) * DECISECOND_NS,
            )
        };
        // Linux's `minimum`, `time` (the gap allowed between bytes once some came) and
        // `timeout` (how long to wait now; `None`: for ever).
        let (minimum, time, mut timeout) = if canonical {
            (0, 0, None)
        } else if vmin > 0 {
            (vmin, vtime, None)
        } else {
            (1, 0, Some(vtime))
        };
        let mut deadline = timeout.map(|ns| crate::clock::monotonic_ns().saturating_add(ns));
        loop {
            let took = {
                let mut state = self.state.lock();
                if state.hangups != opened {
                    break;
                }
                if state.ldisc.input_available(false) {
                    let chunk = state.ldisc.read(max - out.len());
                    out.extend_from_slice(&chunk);
                    signals.extend(self.refill(&mut state));
                    true
                } else if state.input_closed {
                    break;
                } else {
                    false
                }
            };
            if took {
                // Room in the line discipline: a master waiting to write may go on.
                self.wake();
                if canonical || out.len() >= minimum || out.len() == max {
                    break;
                }
                if time > 0 {
                    timeout = Some(time);
                    deadline = timeout.map(|ns| crate::clock::monotonic_ns().saturating_add(ns));
                }
                continue;
            }
            if deadline.is_some_and(|at| crate::clock::monotonic_ns() >= at) {
                break;
            }
            if let Err(errno) = self.wait(nonblock, deadline) {
                if out.is_empty() {
                    return Err(errno);
                }
                break;
            }
        }
        Ok((out, signals))
    }

    /// A write on the slave side or the console (`n_tty_write`), after the `TOSTOP`
    /// check: processed output as the driver takes it, waiting while output is stopped
    /// or its queue is full. `EIO` once hung up.
    pub fn write(&self, opened: u64, data: &[u8], nonblock: bool) -> Result<usize> {
        let mut done = 0;
        loop {
            let progress = {
                let mut state = self.state.lock();
                if state.hangups != opened {
                    return if done > 0 { Ok(done) } else { Err(Errno::EIO) };
                }
                let before = done;
                if !state.ldisc.is_stopped() {
                    let room = OUTPUT_MAX.saturating_sub(state.output.len());
                    let mut out = Vec::new();
                    done += state.ldisc.write(&data[done..], room, &mut out);
                    state.output.extend(&out);
                    self.drain_console(&mut state);
                }
                done > before
            };
            if progress {
                // Output for a master to read.
                self.wake();
            }
            if done == data.len() {
                return Ok(done);
            }
            if let Err(errno) = self.wait(nonblock, None) {
                return if done > 0 { Ok(done) } else { Err(errno) };
            }
        }
    }

    /// Sleeps until the terminal changes or `deadline` (monotonic ns) passes; `EAGAIN`
    /// instead for a non-blocking file, `EINTR` if a signal waits. The caller holds no
    /// lock and has woken whoever its own progress concerns.
    fn wait(&self, nonblock: bool, deadline: Option<i64>) -> Result<()> {
        if nonblock {
            return Err(Errno::EAGAIN);
        }
        if interrupted() {
            return Err(Errno::EINTR);
        }
        self.events.prepare();
        match deadline {
            Some(at) => scheduler::sleep_until(at),
            None => scheduler::block(),
        }
        self.events.cancel();
        Ok(())
    }

    /// What `poll` sees on the slave side or the console (`n_tty_poll`).
    pub fn poll(&self, opened: u64) -> u16 {
        use crate::fs::poll::*;
        let state = self.state.lock();
        if state.hangups != opened {
            // `hung_up_tty_poll`.
            return POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDNORM | POLLWRNORM;
        }
        let mut mask = 0;
        if state.ldisc.input_available(true) || state.input_closed {
            mask |= POLLIN | POLLRDNORM;
        }
        if !state.ldisc.is_stopped() && state.output.len() < OUTPUT_MAX {
            mask |= POLLOUT | POLLWRNORM;
        }
        mask
    }

    /// `FIONREAD` on the slave side or the console.
    pub fn readable(&self) -> usize {
        self.state.lock().ldisc.readable()
    }

    /// `TIOCOUTQ`: output not yet taken by the driver.
    pub fn unsent(&self) -> usize {
        self.state.lock().output.len()
    }

    /// `tcdrain`: waits until the driver took every byte (the console's queue fills only
    /// while output is stopped; a master's reads do not count, as Linux's pty reports
    /// nothing in its buffer).
    pub fn drain(&self) -> Result<()> {
        if self.kind != Kind::Console {
            return Ok(());
        }
        loop {
            if self.state.lock().output.is_empty() {
                return Ok(());
            }
            self.wait(false, None)?;
        }
    }

    /// The master's read (`n_tty_read` on the master, raw with `VMIN` 1): what the slave
    /// side wrote, the packet-mode status first; `EIO` once the slave side was opened and
    /// every file of it closed, after what is queued.
    pub fn master_read(&self, max: usize, nonblock: bool) -> Result<Vec<u8>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        loop {
            {
                let mut state = self.state.lock();
                if state.packet && state.pktstatus != 0 {
                    let status = core::mem::take(&mut state.pktstatus);
                    return Ok(alloc::vec![status]);
                }
                if !state.output.is_empty() {
                    let mut out = Vec::new();
                    let mut room = max;
                    if state.packet {
                        out.push(packet::DATA);
                        room -= 1;
                    }
                    let count = room.min(state.output.len());
                    out.extend(state.output.drain(..count));
                    drop(state);
                    // Room for the slave side's writers.
                    self.wake();
                    return Ok(out);
                }
                if state.other_closed {
                    return Err(Errno::EIO);
                }
            }
            self.wait(nonblock, None)?;
        }
    }

    /// The master's write: input for the slave side's line discipline, waiting while its
    /// queues are full (or the master is stopped by `TCOOFF`).
    pub fn master_write(&self, data: &[u8], nonblock: bool) -> Result<(usize, Vec<GroupSignal>)> {
        let mut done = 0;
        let mut signals = Vec::new();
        loop {
            let progress = {
                let mut state = self.state.lock();
                let before = done;
                if !state.master_stopped {
                    let room = PENDING_MAX.saturating_sub(state.pending.len());
                    let count = room.min(data.len() - done);
                    state.pending.extend(&data[done..done + count]);
                    done += count;
                    signals.extend(self.refill(&mut state));
                }
                done > before
            };
            if progress {
                // Input (and echo) for the slave side's readers and the master's.
                self.wake();
            }
            if done == data.len() {
                return Ok((done, signals));
            }
            // Signals raised so far go now: the reader they stop may be the one to wait for.
            super::session::send_group_signals(core::mem::take(&mut signals));
            if let Err(errno) = self.wait(nonblock, None) {
                return if done > 0 {
                    Ok((done, signals))
                } else {
                    Err(errno)
                };
            }
        }
    }

    /// What `poll` sees on the master.
    pub fn master_poll(&self) -> u16 {
        use crate::fs::poll::*;
        let state = self.state.lock();
        let mut mask = 0;
        if !state.output.is_empty() {
            mask |= POLLIN | POLLRDNORM;
        }
        if state.packet && state.pktstatus != 0 {
            mask |= POLLPRI | POLLIN | POLLRDNORM;
        }
        if state.other_closed {
            mask |= POLLHUP;
        }
        if !state.master_stopped && state.pending.len() < PENDING_MAX {
            mask |= POLLOUT | POLLWRNORM;
        }
        mask
    }

    /// `FIONREAD` on the master: the slave side's output not yet read.
    pub fn master_readable(&self) -> usize {
        self.state.lock().output.len()
    }

    /// `TCFLSH` on the master: `TCIFLUSH` drops what the master has not read,
    /// `TCOFLUSH` what it wrote that the line discipline has not taken.
    pub fn master_flush(&self, input: bool, output: bool) {
        {
            let mut state = self.state.lock();
            if input {
                state.output.clear();
            }
            if output {
                state.pending.clear();
            }
        }
        self.wake();
    }

    /// `TIOCSTI` (for `CAP_SYS_ADMIN`): `byte` as if received — by the line discipline on
    /// the slave side, as if written by the slave on the master side.
    pub fn insert(&self, byte: u8, master: bool) -> Vec<GroupSignal> {
        let signals = {
            let mut state = self.state.lock();
            if master {
                state.output.push_back(byte);
                Vec::new()
            } else {
                let mut echo = Vec::new();
                let signal = match state.ldisc.receive(byte, &mut echo) {
                    Receive::Taken(Some(signal)) if state.pgrp != 0 => {
                        alloc::vec![(state.pgrp, signal)]
                    }
                    _ => Vec::new(),
                };
                self.after_ldisc(&mut state, &mut echo);
                signal
            }
        };
        self.wake();
        signals
    }

    /// A new window size; `SIGWINCH` for the foreground group if it changed (`pty_resize`).
    pub fn resize(&self, size: Winsize) -> Option<GroupSignal> {
        let mut state = self.state.lock();
        if state.winsize == size {
            return None;
        }
        state.winsize = size;
        (state.pgrp != 0).then_some((state.pgrp, SIGWINCH))
    }

    /// The hang-up itself (`__tty_hangup`): every file open now is hung up, the input is
    /// dropped, and the terminal belongs to no session. Returns the session and
    /// foreground group it had, for the signals.
    pub fn hang_up(&self) -> (u32, u32) {
        let had = {
            let mut state = self.state.lock();
            state.hangups += 1;
            state.ldisc.flush_input();
            let _ = state.ldisc.take_events();
            state.pending.clear();
            let had = (state.session, state.pgrp);
            state.session = 0;
            state.pgrp = 0;
            had
        };
        self.wake();
        had
    }

    /// The host's input ended (the console without a terminal never reads it; one with
    /// a terminal keeps waiting for keys that will not come, as a pty whose master stays
    /// open does).
    pub fn close_input(&self) {
        self.state.lock().input_closed = true;
        self.wake();
    }
}

/// `SIGWINCH` on x86_64.
pub const SIGWINCH: u8 = 28;

/// Whether a signal waits for the running thread (its blocking call gives up).
pub fn interrupted() -> bool {
    lifecycle::current_tid().is_some_and(lifecycle::has_pending_signal)
}
