//! The host terminal in raw mode while `cargo xtask run -t` hands it to the container,
//! and put back as it was however xtask ends: normally (the guard's drop), by a panic
//! (the panic hook: xtask is built with `panic = "abort"`, so no destructor runs), or
//! by a signal that ends it (`restore` from the signal thread).

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::Mutex;

use rustix::termios::{OptionalActions, Termios, tcgetattr, tcsetattr};

/// The settings to put back, while raw mode is on.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

/// Raw mode on standard input until dropped.
pub struct RawTerminal;

impl RawTerminal {
    /// Saves the terminal's settings and makes it raw (`cfmakeraw`): every key goes to
    /// the container as typed, `^C` included; the container's terminal echoes.
    pub fn enter() -> io::Result<RawTerminal> {
        let stdin = io::stdin();
        let saved = tcgetattr(stdin.as_fd())?;
        let mut raw = saved.clone();
        raw.make_raw();
        *SAVED.lock().unwrap_or_else(|poison| poison.into_inner()) = Some(saved);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        tcsetattr(stdin.as_fd(), OptionalActions::Flush, &raw)?;
        Ok(RawTerminal)
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the saved settings back, if raw mode is on (any thread, once).
pub fn restore() {
    let saved = SAVED
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .take();
    if let Some(saved) = saved {
        let _ = tcsetattr(io::stdin().as_fd(), OptionalActions::Now, &saved);
    }
}

/// Whether raw mode is on (lines xtask writes then need `\r\n`).
pub fn is_on() -> bool {
    SAVED
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .is_some()
}

/// A writer that turns each `\n` not already after a `\r` into `\r\n` while raw mode is
/// on, so the kernel's lines still start at the left margin.
pub struct CrLf<W> {
    inner: W,
    last: u8,
}

impl<W: Write> CrLf<W> {
    pub fn new(inner: W) -> CrLf<W> {
        CrLf { inner, last: 0 }
    }
}

impl<W: Write> Write for CrLf<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !is_on() {
            return self.inner.write(buf);
        }
        let out = with_crlf(&mut self.last, buf);
        self.inner.write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `buf` with `\r` before each `\n` that lacks one; `last` is the byte before `buf`.
fn with_crlf(last: &mut u8, buf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len() + 8);
    for &byte in buf {
        if byte == b'\n' && *last != b'\r' {
            out.push(b'\r');
        }
        out.push(byte);
        *last = byte;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_passes_bytes_through_when_raw_mode_is_off() {
        let mut out = CrLf::new(Vec::new());
        out.write_all(b"a\nb\r\n").unwrap();
        assert_eq!(out.inner, b"a\nb\r\n");
    }

    #[test]
    fn crlf_adds_carriage_returns_once_even_across_writes() {
        let mut last = 0;
        assert_eq!(with_crlf(&mut last, b"a\nb\r"), b"a\r\nb\r");
        assert_eq!(with_crlf(&mut last, b"\nc\n"), b"\nc\r\n");
    }
}
