//! The console: the terminal the container's init gets, bound to a serial port, and
//! the container's standard streams.
//!
//! - `stdio=console` (the default; the boot tests): the kernel's console port (COM1)
//!   carries the container's output among the kernel's own lines; nothing is ever typed,
//!   so a read finds end of file. The init's descriptors 0–2 are `/dev/console`, its
//!   controlling terminal the console.
//! - `stdio=ports` (`cargo xtask run`): COM2 carries what the host sends (framed by
//!   [`super::wire`]) and the container's output, COM3 its standard error. With
//!   `process.terminal` the console is a terminal on COM2 — the init's descriptors 0–2
//!   and its controlling terminal, as the pseudo-terminal a runtime gives a container —
//!   and the host's keys go through its line discipline. Without it, the init's
//!   descriptors are pipe-like streams, as Docker's: 0 reads what the host sends until it
//!   says the input ended, 1 writes COM2, 2 writes COM3; the init has no controlling
//!   terminal.
//!
//! Input: COM2's receive interrupt (ISA line 3, through the I/O APIC) ends a halt or
//! takes the CPU from user code, and the scheduler then calls [`poll_input`], as it does on
//! every timer tick and idle pass: it takes what the port holds (its 16-byte FIFO; the host
//! side waits while it is full). Without an I/O APIC the ticks alone poll, about 4 KB/s.
//!
//! Lock order: a terminal's state → `DATA_PORT` (output leaving); `DECODER`, `STDIN`'s
//! queue and `ERROR_PORT` are leaves.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicBool, Ordering};

use arch::serial::{Com, SerialPort};
use spin::{Mutex, Once};
use vfs_core::file::DeviceFile;
use vfs_core::{At, Credentials, Errno, FsContext, OpenFile, OpenFlags, Result};

use super::file::{Side, TtyFile};
use super::session;
use super::terminal::Terminal;
use super::termios::Winsize;
use super::wire::{Decoder, Item};
use crate::fs::poll::Pollable;
use crate::options::Stdio;
use crate::task::WaitQueue;

static CONSOLE: Once<Arc<Terminal>> = Once::new();
static DATA_PORT: Mutex<Option<SerialPort>> = Mutex::new(None);
static ERROR_PORT: Mutex<Option<SerialPort>> = Mutex::new(None);
static DECODER: Mutex<Decoder> = Mutex::new(Decoder::new());
/// Input is read from COM2 (`stdio=ports`).
static INPUT_ON: AtomicBool = AtomicBool::new(false);
/// Where the host's bytes go: the console's line discipline, or else [`STDIN`].
static TO_TERMINAL: AtomicBool = AtomicBool::new(false);
static STDIN: Once<Arc<InputStream>> = Once::new();
static STDIO: Once<Stdio> = Once::new();
/// COM2's ISA interrupt line.
const COM2_IRQ: u8 = 3;

/// The window size a terminal starts with when the spec gives none: Linux's is all
/// zeros, which full-screen programs cannot use; 24x80 is what they assume.
const DEFAULT_SIZE: Winsize = Winsize {
    rows: 24,
    cols: 80,
    xpixel: 0,
    ypixel: 0,
};

/// Sets the console up for `stdio` and the spec's `terminal`/`consoleSize`. `Err` names
/// a port the host promised and the machine lacks.
pub fn setup(
    stdio: Stdio,
    terminal: bool,
    size: Option<(u16, u16)>,
) -> core::result::Result<(), &'static str> {
    STDIO.call_once(|| stdio);
    let winsize = size.map_or(DEFAULT_SIZE, |(rows, cols)| Winsize {
        rows,
        cols,
        ..Winsize::default()
    });
    match stdio {
        // Under `control` the container's streams are elsewhere (`crate::control`).
        Stdio::Console | Stdio::Control => {
            CONSOLE.call_once(|| Terminal::new_console(crate::console::write_bytes, true, winsize));
        }
        Stdio::Ports => {
            *DATA_PORT.lock() = Some(arch::serial::open(Com::Com2).ok_or("stdio=ports: no COM2")?);
            *ERROR_PORT.lock() = Some(arch::serial::open(Com::Com3).ok_or("stdio=ports: no COM3")?);
            CONSOLE.call_once(|| Terminal::new_console(write_data, !terminal, winsize));
            if !terminal {
                STDIN.call_once(|| Arc::new(InputStream::new()));
            }
            TO_TERMINAL.store(terminal, Ordering::Relaxed);
            INPUT_ON.store(true, Ordering::Relaxed);
            if let Err(why) = arch::ioapic::route_isa_irq(COM2_IRQ) {
                log::info!(target: "console", "COM2 input polled on timer ticks only: {why}");
            }
            crate::console::print_line(format_args!("{}", super::wire::READY_LINE));
        }
    }
    Ok(())
}

/// The console terminal, once set up.
pub fn console() -> Option<&'static Arc<Terminal>> {
    CONSOLE.get()
}

fn write_to(port: &Mutex<Option<SerialPort>>, bytes: &[u8]) {
    if let Some(port) = port.lock().as_mut() {
        for &byte in bytes {
            port.send_raw(byte);
        }
    }
}

fn write_data(bytes: &[u8]) {
    write_to(&DATA_PORT, bytes);
}

fn write_error(bytes: &[u8]) {
    write_to(&ERROR_PORT, bytes);
}

/// Whether COM2 may hold input no pass has looked at: set by any device interrupt (COM2's
/// line is routed, see [`setup`]), every timer tick (in case that route is missing or an
/// interrupt was lost), and a pass that found data or no room for it.
static INPUT_MAY_WAIT: AtomicBool = AtomicBool::new(true);

/// A device interrupt or a timer tick came: the next pass reads COM2. Takes no lock (it
/// runs in the device interrupt's hook).
pub fn note_input_may_wait() {
    INPUT_MAY_WAIT.store(true, Ordering::Release);
}

/// Takes what COM2 holds, as far as its destination has room, and acts on it: bytes to
/// the console's line discipline (its signals sent) or the init's standard input; the
/// end of input, a window size, a hang-up.
///
/// The port is read only when something may be there ([`INPUT_MAY_WAIT`]): reading it
/// takes QEMU's global lock under TCG, and the scheduler calls this on every pass.
pub fn poll_input() {
    if !INPUT_ON.load(Ordering::Relaxed) || !INPUT_MAY_WAIT.swap(false, Ordering::AcqRel) {
        return;
    }
    let to_terminal = TO_TERMINAL.load(Ordering::Relaxed);
    let (Some(console), stdin) = (CONSOLE.get(), STDIN.get()) else {
        return;
    };
    let mut data = Vec::new();
    loop {
        let room = if to_terminal {
            console.has_input_room()
        } else {
            stdin.is_some_and(|stdin| stdin.has_room(data.len()))
        };
        if !room {
            // The reader makes room later; the UART will not interrupt again for bytes it
            // already holds, so the next pass looks.
            INPUT_MAY_WAIT.store(true, Ordering::Release);
            break;
        }
        let Some(byte) = DATA_PORT
            .lock()
            .as_mut()
            .and_then(|port| port.try_receive().ok())
        else {
            break;
        };
        // More may follow at once (a paste, piped input): look again on the next pass
        // rather than wait for the UART's interrupt, which comes only after its FIFO's
        // trigger level or a pause.
        INPUT_MAY_WAIT.store(true, Ordering::Release);
        let Some(item) = DECODER.lock().push(byte) else {
            continue;
        };
        match item {
            Item::Data(byte) => data.push(byte),
            other => {
                deliver(console, stdin, to_terminal, core::mem::take(&mut data));
                act(console, stdin, to_terminal, other);
            }
        }
    }
    deliver(console, stdin, to_terminal, data);
}

fn deliver(
    console: &Arc<Terminal>,
    stdin: Option<&Arc<InputStream>>,
    to_terminal: bool,
    data: Vec<u8>,
) {
    if data.is_empty() {
        return;
    }
    if to_terminal {
        let (_, signals) = console.receive(&data);
        session::send_group_signals(signals);
    } else if let Some(stdin) = stdin {
        stdin.push(&data);
    }
}

fn act(console: &Arc<Terminal>, stdin: Option<&Arc<InputStream>>, to_terminal: bool, item: Item) {
    match item {
        Item::Data(_) => {}
        Item::EndOfInput => {
            if let Some(stdin) = stdin {
                stdin.end();
            }
        }
        Item::Winsize { rows, cols } => {
            let size = Winsize {
                rows,
                cols,
                ..Winsize::default()
            };
            if let Some(signal) = console.resize(size) {
                session::send_group_signals(alloc::vec![signal]);
            }
        }
        Item::HangUp => {
            if to_terminal {
                session::hang_up(console);
            }
        }
    }
}

/// Opening `/dev/console` (5:1): the console terminal, never a controlling terminal by
/// this open and never stopped by job control (Linux's console files).
pub fn open_console(flags: OpenFlags) -> Result<Arc<dyn DeviceFile>> {
    let console = CONSOLE.get().ok_or(Errno::ENXIO)?;
    super::pty::check_exclusive(console)?;
    let _ = flags;
    Ok(Arc::new(TtyFile::new(console.clone(), Side::Slave, true)))
}

/// The init's descriptors 0, 1 and 2 (see the module's doc), opened in `fs`.
pub fn init_stdio(fs: &FsContext, terminal: bool) -> Result<[Arc<OpenFile>; 3]> {
    let console = CONSOLE.get().ok_or(Errno::ENXIO)?;
    let stdio = STDIO.get().copied().unwrap_or_default();
    if stdio == Stdio::Console {
        let file = fs.open(At::Cwd, b"/dev/console", OpenFlags::RDWR, 0)?;
        return Ok([file.clone(), file.clone(), file]);
    }
    if terminal {
        // The console itself, as the runtime's pseudo-terminal, at `/dev/console`.
        let location = fs.resolve(At::Cwd, b"/dev/console", true)?;
        let device: Arc<dyn DeviceFile> =
            Arc::new(TtyFile::new(console.clone(), Side::Slave, false));
        let file = OpenFile::anonymous(location, fs.cred.clone(), OpenFlags::RDWR, Some(device))?;
        return Ok([file.clone(), file.clone(), file]);
    }
    let stdin = STDIN.get().ok_or(Errno::ENXIO)?;
    let stream = |cred: &Credentials, flags: OpenFlags, device: Arc<dyn DeviceFile>| {
        let location = crate::fs::pipe::new_pipefs_stream(cred, &device)?;
        OpenFile::anonymous(location, cred.clone(), flags, Some(device))
    };
    Ok([
        stream(
            &fs.cred,
            OpenFlags::RDONLY,
            Arc::new(StdinFile(stdin.clone())),
        )?,
        stream(
            &fs.cred,
            OpenFlags::WRONLY,
            Arc::new(PortWriter(write_data)),
        )?,
        stream(
            &fs.cred,
            OpenFlags::WRONLY,
            Arc::new(PortWriter(write_error)),
        )?,
    ])
}

/// Once the init is in the process table: the console becomes its controlling terminal
/// when its streams are the console's (not for an init without a terminal, which Docker
/// starts with none).
pub fn attach_init(terminal: bool) {
    let stdio = STDIO.get().copied().unwrap_or_default();
    if let Some(console) = CONSOLE.get()
        && (stdio == Stdio::Console || terminal)
    {
        session::give_to_init(console);
    }
}

/// The host's input for an init without a terminal: bytes until the host says it ended.
pub struct InputStream {
    queue: Mutex<(VecDeque<u8>, bool)>,
    events: WaitQueue,
}

/// Bytes the init's standard input holds before the port is left to wait.
const STDIN_MAX: usize = 4096;

impl InputStream {
    fn new() -> InputStream {
        InputStream {
            queue: Mutex::new((VecDeque::new(), false)),
            events: WaitQueue::new(),
        }
    }

    fn has_room(&self, more: usize) -> bool {
        self.queue.lock().0.len() + more < STDIN_MAX
    }

    fn push(&self, data: &[u8]) {
        self.queue.lock().0.extend(data);
        self.events.wake_all();
    }

    fn end(&self) {
        self.queue.lock().1 = true;
        self.events.wake_all();
    }
}

/// Descriptor 0 of an init without a terminal: reads as a pipe's read end does.
pub struct StdinFile(Arc<InputStream>);

impl StdinFile {
    /// `FIONREAD`: bytes waiting.
    pub fn waiting(&self) -> usize {
        self.0.queue.lock().0.len()
    }
}

impl DeviceFile for StdinFile {
    fn read(&self, _offset: u64, buf: &mut [u8], flags: OpenFlags) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            {
                let mut queue = self.0.queue.lock();
                if !queue.0.is_empty() {
                    let count = buf.len().min(queue.0.len());
                    for (slot, byte) in buf.iter_mut().zip(queue.0.drain(..count)) {
                        *slot = byte;
                    }
                    return Ok(count);
                }
                if queue.1 {
                    return Ok(0);
                }
            }
            if flags.contains(OpenFlags::NONBLOCK) {
                return Err(Errno::EAGAIN);
            }
            if super::terminal::interrupted() {
                return Err(Errno::EINTR);
            }
            self.0.events.prepare();
            crate::task::scheduler::block();
            self.0.events.cancel();
        }
    }

    fn write(&self, _offset: u64, _buf: &[u8], _flags: OpenFlags) -> Result<usize> {
        Err(Errno::EBADF)
    }
}

impl Pollable for StdinFile {
    fn poll(&self) -> u16 {
        use crate::fs::poll::{POLLHUP, POLLIN, POLLRDNORM};
        let queue = self.0.queue.lock();
        let mut mask = 0;
        if !queue.0.is_empty() {
            mask |= POLLIN | POLLRDNORM;
        }
        if queue.1 {
            mask |= POLLHUP;
        }
        mask
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.0.events
    }
}

/// Descriptors 1 and 2 of an init without a terminal: each writes its port.
pub struct PortWriter(fn(&[u8]));

impl DeviceFile for PortWriter {
    fn read(&self, _offset: u64, _buf: &mut [u8], _flags: OpenFlags) -> Result<usize> {
        Err(Errno::EBADF)
    }

    fn write(&self, _offset: u64, buf: &[u8], _flags: OpenFlags) -> Result<usize> {
        (self.0)(buf);
        Ok(buf.len())
    }
}

/// The init's standard input stream behind an open file, if it is one.
pub fn stdin_file(file: &OpenFile) -> Option<&StdinFile> {
    let device: &dyn Any = &**file.device()?;
    device.downcast_ref::<StdinFile>()
}
