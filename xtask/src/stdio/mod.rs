//! `cargo xtask run`'s streams, as `docker run` has them: the container's standard
//! streams on serial ports of their own (the kernel's `stdio=ports`), apart from the
//! kernel's console.
//!
//! - COM1, the kernel's console (QEMU's stdout): captured for the exit status and
//!   echoed on our stderr, like the `xtask:` lines.
//! - COM2 (a Unix socket QEMU connects to): the container's output to our stdout; our
//!   stdin to it with `-i`, framed by the kernel's `tty::wire` — its end of input after
//!   the last byte, or at once without `-i`.
//! - COM3 (another socket): the container's stderr to our stderr.
//!
//! With `-t` the spec says `process.terminal`, the console is the container's terminal
//! on COM2 (stdout and stderr both), and with `-i` on a terminal ours is put in raw mode
//! ([`raw`]) so every key reaches the container's line discipline; its size goes along
//! at the start and on every `SIGWINCH`. When our stdin ends then (the terminal went
//! away) the container's terminal hangs up.

pub mod raw;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kernel::tty::wire;

use crate::launch::{Outcome, capture};
use crate::qemu::Invocation;

/// `-i` and `-t`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Streams {
    pub interactive: bool,
    pub tty: bool,
}

/// The kernel option that moves the container's streams to COM2 and COM3.
pub const KERNEL_OPTION: (&str, &str) = ("stdio", "ports");

/// `-device isa-serial` for COM2 and COM3, each on a socket chardev that connects to
/// our listener at `data` / `errors` (COM2 at 0x2f8, IRQ 3; COM3 at 0x3e8, IRQ 4: the
/// PC's; the kernel polls them and takes no interrupt).
pub fn qemu_args(data: &Path, errors: &Path) -> Vec<OsString> {
    let mut args = Vec::new();
    for (id, path, iobase, irq) in [("stdio", data, "0x2f8", 3), ("stderr", errors, "0x3e8", 4)] {
        let mut chardev = OsString::from(format!("socket,id={id},path="));
        chardev.push(path.as_os_str().to_string_lossy().replace(',', ",,"));
        args.extend([
            "-chardev".into(),
            chardev,
            "-device".into(),
            format!("isa-serial,chardev={id},iobase={iobase},irq={irq}").into(),
        ]);
    }
    args
}

/// The host terminal's size, if stdin or stdout is one.
pub fn terminal_size() -> Option<(u16, u16)> {
    use std::os::fd::AsFd;
    let size = rustix::termios::tcgetwinsize(io::stdin().as_fd())
        .or_else(|_| rustix::termios::tcgetwinsize(io::stdout().as_fd()))
        .ok()?;
    (size.ws_row > 0 && size.ws_col > 0).then_some((size.ws_row, size.ws_col))
}

/// Boots `invocation` with the streams on their ports and relays them until QEMU ends.
pub fn launch(invocation: &Invocation, streams: Streams, scratch: &Path) -> Result<Outcome> {
    let stdin_terminal = io::stdin().is_terminal();
    if streams.tty && streams.interactive && !stdin_terminal {
        // Docker's refusal, in its words.
        bail!("the input device is not a TTY");
    }
    let dir = scratch.join(format!("stdio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (data_path, errors_path) = (dir.join("data.sock"), dir.join("errors.sock"));
    let listen = |path: &PathBuf| {
        let _ = std::fs::remove_file(path);
        UnixListener::bind(path).with_context(|| format!("listening on {}", path.display()))
    };
    let (data_listener, errors_listener) = (listen(&data_path)?, listen(&errors_path)?);

    let mut command = invocation.command();
    command
        .args(qemu_args(&data_path, &errors_path))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", crate::qemu::QEMU_BINARY))?;
    let raw_mode = (streams.tty && streams.interactive)
        .then(raw::RawTerminal::enter)
        .transpose()
        .context("putting the terminal in raw mode")?;
    let (ready_tx, ready_rx) = mpsc::channel();
    let console = capture(
        child.stdout.take().expect("stdout is piped"),
        Some(Box::new(ConsoleEcho::new(ready_tx)) as _),
    );
    let qemu_stderr = capture(
        child.stderr.take().expect("stderr is piped"),
        Some(Box::new(raw::CrLf::new(io::stderr())) as _),
    );
    // QEMU connects to both while it starts; if it fails first, there is nobody to wait for.
    let connected = accept(&data_listener, &mut child)
        .and_then(|data| accept(&errors_listener, &mut child).map(|errors| (data, errors)));
    let _ = std::fs::remove_dir_all(&dir);
    let mut relays = Vec::new();
    if let Some((data, errors)) = connected {
        let to_guest = Arc::new(Mutex::new(data.try_clone()?));
        relays.push(copy_out(data, io::stdout()));
        relays.push(copy_out(errors, io::stderr()));
        let (interactive, tty, qemu) = (streams.interactive, streams.tty, child.id());
        // Nothing goes to the guest before its port is ready (see `wire::READY_LINE`); a
        // guest that ends first closes the channel.
        thread::spawn(move || {
            if ready_rx.recv().is_err() {
                return;
            }
            if interactive {
                forward_stdin(to_guest.clone(), tty);
            } else if !tty {
                send(&to_guest, &wire::END_OF_INPUT);
            }
            if tty && stdin_terminal {
                if let Some((rows, cols)) = terminal_size() {
                    send(&to_guest, &wire::winsize(rows, cols));
                }
                watch_signals(to_guest, qemu);
            }
        });
    }
    let status = child.wait().context("waiting for QEMU")?;
    for relay in relays {
        let _ = relay.join();
    }
    drop(raw_mode);
    Ok(Outcome {
        console: console.finish(),
        stderr: qemu_stderr.finish(),
        qemu_code: status.code(),
        wall: started.elapsed(),
        timed_out: false,
    })
}

/// The kernel's console echoed on our stderr line by line, but for its ready line,
/// which is news for us alone.
struct ConsoleEcho {
    line: Vec<u8>,
    ready: Option<mpsc::Sender<()>>,
    out: raw::CrLf<io::Stderr>,
}

impl ConsoleEcho {
    fn new(ready: mpsc::Sender<()>) -> ConsoleEcho {
        ConsoleEcho {
            line: Vec::new(),
            ready: Some(ready),
            out: raw::CrLf::new(io::stderr()),
        }
    }
}

impl Write for ConsoleEcho {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &byte in buf {
            self.line.push(byte);
            if byte != b'\n' {
                continue;
            }
            let line = std::mem::take(&mut self.line);
            if line.trim_ascii_end() == wire::READY_LINE.as_bytes() {
                if let Some(ready) = self.ready.take() {
                    let _ = ready.send(());
                }
                continue;
            }
            self.out.write_all(&line)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Drop for ConsoleEcho {
    fn drop(&mut self) {
        let _ = self.out.write_all(&self.line);
    }
}

/// The one connection QEMU makes to `listener`, or `None` if QEMU ended first.
fn accept(listener: &UnixListener, child: &mut Child) -> Option<UnixStream> {
    listener.set_nonblocking(true).ok()?;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).ok()?;
                return Some(stream);
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                if !matches!(child.try_wait(), Ok(None)) {
                    return None;
                }
                thread::sleep(Duration::from_millis(5));
            }
            Err(_) => return None,
        }
    }
}

/// Copies what the guest writes on a port to one of our streams until QEMU closes it.
fn copy_out(mut from: UnixStream, mut to: impl Write + Send + 'static) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(count @ 1..) = from.read(&mut chunk) {
            if to
                .write_all(&chunk[..count])
                .and_then(|()| to.flush())
                .is_err()
            {
                break;
            }
        }
    })
}

fn send(to_guest: &Mutex<UnixStream>, frame: &[u8]) {
    let mut stream = to_guest.lock().unwrap_or_else(|poison| poison.into_inner());
    let _ = stream.write_all(frame);
}

/// Our stdin to the guest, framed; at its end the end of input (or, for a terminal, a
/// hang-up). The thread is left blocked in `read` when QEMU ends first.
fn forward_stdin(to_guest: Arc<Mutex<UnixStream>>, tty: bool) {
    thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut chunk = [0u8; 4096];
        loop {
            match stdin.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(count) => send(&to_guest, &wire::encode_data(&chunk[..count])),
            }
        }
        send(
            &to_guest,
            if tty {
                &wire::HANG_UP
            } else {
                &wire::END_OF_INPUT
            },
        );
    });
}

/// `SIGWINCH`: the new size to the guest. `SIGTERM`, `SIGHUP`, `SIGQUIT`: the terminal
/// put back and QEMU ended with us, as it would be by the terminal's own signals.
fn watch_signals(to_guest: Arc<Mutex<UnixStream>>, qemu: u32) {
    use signal_hook::consts::{SIGHUP, SIGQUIT, SIGTERM, SIGWINCH};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGWINCH, SIGTERM, SIGHUP, SIGQUIT])
    else {
        return;
    };
    thread::spawn(move || {
        for signal in signals.forever() {
            if signal == SIGWINCH {
                if let Some((rows, cols)) = terminal_size() {
                    send(&to_guest, &wire::winsize(rows, cols));
                }
                continue;
            }
            raw::restore();
            if let Some(pid) = rustix::process::Pid::from_raw(qemu as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            std::process::exit(128 + signal);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn com2_and_com3_are_isa_serial_ports_on_client_sockets() {
        let args: Vec<String> = qemu_args(Path::new("/tmp/a,b/data.sock"), Path::new("/e.sock"))
            .into_iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "-chardev",
                "socket,id=stdio,path=/tmp/a,,b/data.sock",
                "-device",
                "isa-serial,chardev=stdio,iobase=0x2f8,irq=3",
                "-chardev",
                "socket,id=stderr,path=/e.sock",
                "-device",
                "isa-serial,chardev=stderr,iobase=0x3e8,irq=4",
            ]
        );
    }
}
