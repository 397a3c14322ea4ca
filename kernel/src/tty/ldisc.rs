//! The line discipline: Linux's `N_TTY` (drivers/tty/n_tty.c) as pure logic over bytes.
//!
//! Input: each byte a driver receives ([`LineDiscipline::receive`]) is mapped (`ISTRIP`,
//! `IUCLC`, `IGNCR`/`ICRNL`/`INLCR`), may be a flow-control character (`IXON`: `VSTOP`,
//! `VSTART`, `IXANY`), a signal character (`ISIG`: `VINTR`, `VQUIT`, `VSUSP` — reported
//! to the caller, which signals the foreground group), or, in canonical mode (`ICANON`),
//! an editing character (`VERASE`, `VKILL`, `VWERASE`, `VLNEXT`, `VREPRINT`) or a line
//! end (`\n`, `VEOL`, `VEOL2`, `VEOF`); everything else is queued, at most
//! [`INPUT_MAX`] bytes. Echo (`ECHO`, `ECHOE`, `ECHOK`, `ECHOKE`, `ECHONL`, `ECHOCTL`,
//! `ECHOPRT`) is produced as it happens, with the column bookkeeping Linux uses to erase
//! a tab.
//!
//! Output ([`LineDiscipline::write`]): `OPOST` with `ONLCR`, `OCRNL`, `ONOCR`, `ONLRET`,
//! `OLCUC` and `XTABS`, each byte written only when its expansion fits the room the
//! driver has.
//!
//! Reading: canonical reads take at most one line (its `VEOF` is not copied, so `^D` at
//! the start of a line reads as end of file); non-canonical reads take what is there,
//! and the caller applies `VMIN`/`VTIME` with [`LineDiscipline::input_available`].
//!
//! No locks and no sleeping here: the terminal object that owns this (`super::terminal`)
//! holds its lock around every call and does the waiting and the signalling.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::termios::{Termios, cc, iflag, lflag, oflag};

/// Linux's `N_TTY_BUF_SIZE`: the input queue holds at most this many bytes.
pub const INPUT_MAX: usize = 4096;

/// Signals the line discipline asks for (their numbers on x86_64).
pub const SIGINT: u8 = 2;
pub const SIGQUIT: u8 = 3;
pub const SIGTSTP: u8 = 20;

/// Happenings the owner reacts to (a pseudo-terminal master in packet mode reports them;
/// writers blocked on a stopped terminal wake when it starts). Bits of [`LineDiscipline::take_events`].
pub mod event {
    /// Output stopped (`VSTOP`, `TCOOFF`).
    pub const STOPPED: u8 = 1;
    /// Output started again.
    pub const STARTED: u8 = 2;
    /// The input queue was discarded (a signal character without `NOFLSH`, `TCIFLUSH`).
    pub const FLUSHED_INPUT: u8 = 4;
    /// Pending output should be discarded (a signal character without `NOFLSH`).
    pub const FLUSH_OUTPUT: u8 = 8;
}

/// What a queued byte is besides its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    Plain,
    /// Ends a line: a canonical read stops after it.
    LineEnd,
    /// `VEOF`: ends a line and is not copied out (Linux queues `__DISABLED_CHAR`).
    Eof,
}

/// The result of offering one byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receive {
    /// Taken; the foreground process group is to get this signal.
    Taken(Option<u8>),
    /// No room: the driver keeps the byte and offers it again after a read.
    Full,
}

pub struct LineDiscipline {
    termios: Termios,
    input: VecDeque<(u8, Mark)>,
    /// How many bytes at the front form complete lines (Linux's `canon_head`).
    canon_len: usize,
    /// Output column, for tab expansion and erasing (`ldata->column`).
    column: u32,
    /// The column where the line being edited began (`ldata->canon_column`).
    canon_column: u32,
    /// Inside an `ECHOPRT` erase run (`\` printed, `/` to come).
    erasing: bool,
    /// The previous byte was `VLNEXT`: this one is taken literally.
    lnext: bool,
    /// Output stopped by `VSTOP` (`tty->flow.stopped`) or by `TCOOFF` (`tco_stopped`).
    stopped: bool,
    tco_stopped: bool,
    events: u8,
}

impl LineDiscipline {
    pub fn new(termios: Termios) -> LineDiscipline {
        LineDiscipline {
            termios,
            input: VecDeque::new(),
            canon_len: 0,
            column: 0,
            canon_column: 0,
            erasing: false,
            lnext: false,
            stopped: false,
            tco_stopped: false,
            events: 0,
        }
    }

    pub fn termios(&self) -> &Termios {
        &self.termios
    }

    fn canonical(&self) -> bool {
        self.termios.has_l(lflag::ICANON)
    }

    /// The events since the last call, cleared.
    pub fn take_events(&mut self) -> u8 {
        core::mem::take(&mut self.events)
    }

    /// Output is stopped (`^S`, `TCOOFF`): writes wait and echoes are held back.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// New settings (`n_tty_set_termios`). Switching canonical mode keeps the queued bytes:
    /// into canonical mode they become one line readable at once, out of it every byte is
    /// readable. Turning `IXON` off restarts output stopped by `VSTOP`.
    pub fn set_termios(&mut self, new: Termios) {
        let old = self.termios;
        self.termios = new;
        if old.has_l(lflag::ICANON) != new.has_l(lflag::ICANON)
            || old.has_l(lflag::EXTPROC) != new.has_l(lflag::EXTPROC)
        {
            for slot in self.input.iter_mut() {
                if slot.1 == Mark::Eof {
                    // Linux's EOF placeholder is a NUL byte, readable as one out of canonical mode.
                    slot.0 = 0;
                }
                slot.1 = Mark::Plain;
            }
            if !self.canonical() || self.input.is_empty() {
                self.canon_len = 0;
            } else {
                if let Some(last) = self.input.back_mut() {
                    last.1 = Mark::LineEnd;
                }
                self.canon_len = self.input.len();
            }
            self.erasing = false;
            self.lnext = false;
        }
        if old.has_i(iflag::IXON) && !new.has_i(iflag::IXON) && !self.tco_stopped {
            self.start();
        }
    }

    /// Discards the input queue (`TCIFLUSH`, `TCSETSF`, a signal character).
    pub fn flush_input(&mut self) {
        self.input.clear();
        self.canon_len = 0;
        self.erasing = false;
        self.events |= event::FLUSHED_INPUT;
    }

    /// Whether a byte could be taken now (room in the queue, or a canonical line being
    /// edited in a full queue, where the last byte gives way as on Linux).
    pub fn has_room(&self) -> bool {
        self.input.len() < INPUT_MAX - 1 || (self.canonical() && self.canon_len == 0)
    }

    /// `input_available_p`: a complete line (canonical) or enough bytes (`VMIN` when
    /// `poll` asks and `VTIME` is 0, else one).
    pub fn input_available(&self, poll: bool) -> bool {
        if self.canonical() && !self.termios.has_l(lflag::EXTPROC) {
            return self.canon_len > 0;
        }
        let min = usize::from(self.termios.cc[cc::VMIN]);
        let wanted = if poll && self.termios.cc[cc::VTIME] == 0 && min > 0 {
            min
        } else {
            1
        };
        self.input.len() >= wanted
    }

    /// `FIONREAD`: in canonical mode the bytes of complete lines, not counting `VEOF`s.
    pub fn readable(&self) -> usize {
        if self.canonical() && !self.termios.has_l(lflag::EXTPROC) {
            return self
                .input
                .iter()
                .take(self.canon_len)
                .filter(|slot| slot.1 != Mark::Eof)
                .count();
        }
        self.input.len()
    }

    /// Takes up to `max` bytes for a read: in canonical mode from the first complete line
    /// only, up to its end (`canon_copy_from_read_buf`), else whatever is queued.
    pub fn read(&mut self, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        if self.canonical() && !self.termios.has_l(lflag::EXTPROC) {
            let limit = max.min(self.canon_len);
            let mut taken = 0;
            while taken < limit {
                let Some((byte, mark)) = self.input.pop_front() else {
                    break;
                };
                taken += 1;
                match mark {
                    Mark::Plain => out.push(byte),
                    Mark::LineEnd => {
                        out.push(byte);
                        break;
                    }
                    Mark::Eof => break,
                }
            }
            self.canon_len -= taken;
        } else {
            let count = max.min(self.input.len());
            out.extend(self.input.drain(..count).map(|slot| slot.0));
            self.canon_len = self.canon_len.saturating_sub(count);
        }
        out
    }

    /// Offers one received byte; echo goes to `echo` (what the terminal shows back).
    pub fn receive(&mut self, byte: u8, echo: &mut Vec<u8>) -> Receive {
        if self.input.len() >= INPUT_MAX - 1 {
            if !(self.canonical() && self.canon_len == 0) {
                return Receive::Full;
            }
            // A line longer than the queue: the last byte gives way, so the line can still
            // be ended or edited (`n_tty_receive_buf_common`'s overflow).
            if self.input.len() >= INPUT_MAX {
                self.input.pop_back();
            }
        }
        Receive::Taken(self.receive_byte(byte, echo))
    }

    fn receive_byte(&mut self, mut c: u8, echo: &mut Vec<u8>) -> Option<u8> {
        if self.termios.has_i(iflag::ISTRIP) {
            c &= 0x7f;
        }
        if self.termios.has_i(iflag::IUCLC) && self.termios.has_l(lflag::IEXTEN) {
            c = to_lower(c);
        }
        if self.lnext {
            self.lnext = false;
            self.receive_plain(c, echo);
            return None;
        }
        if self.termios.has_l(lflag::EXTPROC) {
            self.queue(c, Mark::Plain);
            return None;
        }
        if self.is_raw() || !self.is_special(c) {
            if self.is_raw() {
                self.queue(c, Mark::Plain);
            } else {
                self.receive_plain(c, echo);
            }
            return None;
        }
        self.receive_special(c, echo)
    }

    /// None of the flags that make any byte special (Linux's `ldata->raw`): bytes go
    /// straight into the queue.
    fn is_raw(&self) -> bool {
        let t = &self.termios;
        !t.has_i(
            iflag::ISTRIP
                | iflag::IUCLC
                | iflag::IGNCR
                | iflag::ICRNL
                | iflag::INLCR
                | iflag::IXON
                | iflag::PARMRK,
        ) && !t.has_l(lflag::ICANON | lflag::ISIG | lflag::ECHO)
    }

    /// Linux's `char_map`: the bytes `n_tty_receive_char_special` must look at.
    fn is_special(&self, c: u8) -> bool {
        let t = &self.termios;
        let is = |index: usize| t.control(index) == Some(c);
        if c == b'\r' && t.has_i(iflag::IGNCR | iflag::ICRNL) {
            return true;
        }
        if c == b'\n' && t.has_i(iflag::INLCR) {
            return true;
        }
        if t.has_l(lflag::ICANON) {
            if c == b'\n' || is(cc::VERASE) || is(cc::VKILL) || is(cc::VEOF) || is(cc::VEOL) {
                return true;
            }
            if t.has_l(lflag::IEXTEN)
                && (is(cc::VWERASE)
                    || is(cc::VLNEXT)
                    || is(cc::VEOL2)
                    || (t.has_l(lflag::ECHO) && is(cc::VREPRINT)))
            {
                return true;
            }
        }
        if t.has_i(iflag::IXON) && (is(cc::VSTART) || is(cc::VSTOP)) {
            return true;
        }
        t.has_l(lflag::ISIG) && (is(cc::VINTR) || is(cc::VQUIT) || is(cc::VSUSP))
    }

    /// `n_tty_receive_char`: an ordinary byte (or one after `VLNEXT`).
    fn receive_plain(&mut self, c: u8, echo: &mut Vec<u8>) {
        self.restart_on_any_key();
        if self.termios.has_l(lflag::ECHO) {
            self.finish_erasing(echo);
            if self.canon_len == self.input.len() {
                self.canon_column = self.column;
            }
            self.echo_char(c, echo);
        }
        if c == 0xff && self.termios.has_i(iflag::PARMRK) {
            self.queue(c, Mark::Plain);
        }
        self.queue(c, Mark::Plain);
    }

    /// `IXANY`: any key restarts output stopped by `VSTOP`.
    fn restart_on_any_key(&mut self) {
        let both = iflag::IXON | iflag::IXANY;
        if self.stopped && !self.tco_stopped && self.termios.iflag & both == both {
            self.start();
        }
    }

    /// `n_tty_receive_char_special`.
    fn receive_special(&mut self, mut c: u8, echo: &mut Vec<u8>) -> Option<u8> {
        let t = self.termios;
        let is = |index: usize| t.control(index) == Some(c);
        if t.has_i(iflag::IXON) {
            if is(cc::VSTART) {
                self.start();
                return None;
            }
            if is(cc::VSTOP) {
                self.stop();
                return None;
            }
        }
        if t.has_l(lflag::ISIG) {
            let signal = if is(cc::VINTR) {
                Some(SIGINT)
            } else if is(cc::VQUIT) {
                Some(SIGQUIT)
            } else if is(cc::VSUSP) {
                Some(SIGTSTP)
            } else {
                None
            };
            if let Some(signal) = signal {
                self.signal_char(c, echo);
                return Some(signal);
            }
        }
        self.restart_on_any_key();
        if c == b'\r' {
            if t.has_i(iflag::IGNCR) {
                return None;
            }
            if t.has_i(iflag::ICRNL) {
                c = b'\n';
            }
        } else if c == b'\n' && t.has_i(iflag::INLCR) {
            c = b'\r';
        }
        if t.has_l(lflag::ICANON) && self.receive_canonical(c, echo) {
            return None;
        }
        if t.has_l(lflag::ECHO) {
            self.finish_erasing(echo);
            if c == b'\n' {
                self.output_echo(b'\n', echo);
            } else {
                if self.canon_len == self.input.len() {
                    self.canon_column = self.column;
                }
                self.echo_char(c, echo);
            }
        }
        if c == 0xff && t.has_i(iflag::PARMRK) {
            self.queue(c, Mark::Plain);
        }
        self.queue(c, Mark::Plain);
        None
    }

    /// `n_tty_receive_signal_char` after `isig`: the queue is flushed unless `NOFLSH`,
    /// output restarts, and the character is echoed.
    fn signal_char(&mut self, c: u8, echo: &mut Vec<u8>) {
        if !self.termios.has_l(lflag::NOFLSH) {
            self.flush_input();
            self.events |= event::FLUSH_OUTPUT;
            echo.clear();
        }
        if self.termios.has_i(iflag::IXON) {
            self.start();
        }
        if self.termios.has_l(lflag::ECHO) {
            self.echo_char(c, echo);
        }
    }

    /// `n_tty_receive_char_canon`: editing and line ends; false for an ordinary byte.
    fn receive_canonical(&mut self, c: u8, echo: &mut Vec<u8>) -> bool {
        let t = self.termios;
        let is = |index: usize| t.control(index) == Some(c);
        let extended = t.has_l(lflag::IEXTEN);
        if is(cc::VERASE) || is(cc::VKILL) || (is(cc::VWERASE) && extended) {
            self.erase(c, echo);
            return true;
        }
        if is(cc::VLNEXT) && extended {
            self.lnext = true;
            if t.has_l(lflag::ECHO) {
                self.finish_erasing(echo);
                if t.has_l(lflag::ECHOCTL) {
                    self.output_echo(b'^', echo);
                    self.output_echo(b'\x08', echo);
                }
            }
            return true;
        }
        if is(cc::VREPRINT) && t.has_l(lflag::ECHO) && extended {
            self.finish_erasing(echo);
            self.echo_char(c, echo);
            self.output_echo(b'\n', echo);
            let line: Vec<u8> = self
                .input
                .iter()
                .skip(self.canon_len)
                .map(|slot| slot.0)
                .collect();
            for byte in line {
                self.echo_char(byte, echo);
            }
            return true;
        }
        if c == b'\n' {
            if t.has_l(lflag::ECHO) || t.has_l(lflag::ECHONL) {
                self.output_echo(b'\n', echo);
            }
            self.end_line(c, Mark::LineEnd);
            return true;
        }
        if is(cc::VEOF) {
            self.end_line(0, Mark::Eof);
            return true;
        }
        if is(cc::VEOL) || (is(cc::VEOL2) && extended) {
            if t.has_l(lflag::ECHO) {
                if self.canon_len == self.input.len() {
                    self.canon_column = self.column;
                }
                self.echo_char(c, echo);
            }
            if c == 0xff && t.has_i(iflag::PARMRK) {
                self.queue(c, Mark::Plain);
            }
            self.end_line(c, Mark::LineEnd);
            return true;
        }
        false
    }

    fn end_line(&mut self, c: u8, mark: Mark) {
        self.queue(c, mark);
        self.canon_len = self.input.len();
    }

    fn queue(&mut self, c: u8, mark: Mark) {
        if self.input.len() < INPUT_MAX {
            self.input.push_back((c, mark));
        }
    }

    /// `eraser`: `VERASE` takes one character, `VWERASE` a word, `VKILL` the line, each
    /// shown by `ECHOE`/`ECHOK`/`ECHOKE`/`ECHOPRT` as Linux shows it.
    fn erase(&mut self, c: u8, echo: &mut Vec<u8>) {
        #[derive(PartialEq)]
        enum Kind {
            Erase,
            Word,
            Kill,
        }
        if self.input.len() == self.canon_len {
            return;
        }
        let t = self.termios;
        let kind = if t.control(cc::VERASE) == Some(c) {
            Kind::Erase
        } else if t.control(cc::VWERASE) == Some(c) {
            Kind::Word
        } else {
            if !t.has_l(lflag::ECHO) {
                self.input.truncate(self.canon_len);
                return;
            }
            if !t.has_l(lflag::ECHOK) || !t.has_l(lflag::ECHOKE) || !t.has_l(lflag::ECHOE) {
                self.input.truncate(self.canon_len);
                self.finish_erasing(echo);
                self.echo_char(c, echo);
                if t.has_l(lflag::ECHOK) {
                    self.output_echo(b'\n', echo);
                }
                return;
            }
            Kind::Kill
        };
        let utf8 = t.has_i(iflag::IUTF8);
        let continuation = |byte: u8| utf8 && byte & 0xc0 == 0x80;
        let mut seen_alnums = 0;
        while self.input.len() > self.canon_len {
            // One character, with its UTF-8 continuation bytes.
            let mut head = self.input.len();
            let mut byte;
            loop {
                head -= 1;
                byte = self.input[head].0;
                if !(continuation(byte) && head > self.canon_len) {
                    break;
                }
            }
            if continuation(byte) {
                break;
            }
            if kind == Kind::Word {
                if is_alnum(byte) || byte == b'_' {
                    seen_alnums += 1;
                } else if seen_alnums > 0 {
                    break;
                }
            }
            let removed: Vec<u8> = self.input.drain(head..).map(|slot| slot.0).collect();
            if t.has_l(lflag::ECHO) {
                if t.has_l(lflag::ECHOPRT) {
                    if !self.erasing {
                        self.output_echo(b'\\', echo);
                        self.erasing = true;
                    }
                    self.echo_char(byte, echo);
                    for &extra in &removed[1..] {
                        self.output_echo(extra, echo);
                        self.column = self.column.saturating_sub(1);
                    }
                } else if kind == Kind::Erase && !t.has_l(lflag::ECHOE) {
                    self.echo_char(t.cc[cc::VERASE], echo);
                } else if byte == b'\t' {
                    self.erase_tab(echo);
                } else {
                    let rubout = if is_control(byte) {
                        if t.has_l(lflag::ECHOCTL) { 2 } else { 0 }
                    } else {
                        1
                    };
                    for _ in 0..rubout {
                        self.output_echo(b'\x08', echo);
                        self.output_echo(b' ', echo);
                        self.output_echo(b'\x08', echo);
                    }
                }
            }
            if kind == Kind::Erase {
                break;
            }
        }
        if self.input.len() == self.canon_len && t.has_l(lflag::ECHO) {
            self.finish_erasing(echo);
        }
    }

    /// Backs up over an erased tab: as many columns as it took, counted from the previous
    /// tab or from where the line began (`echo_erase_tab` and `ECHO_OP_ERASE_TAB`).
    fn erase_tab(&mut self, echo: &mut Vec<u8>) {
        let echoctl = self.termios.has_l(lflag::ECHOCTL);
        let utf8 = self.termios.has_i(iflag::IUTF8);
        let mut columns: u32 = 0;
        let mut after_tab = false;
        for index in (self.canon_len..self.input.len()).rev() {
            let byte = self.input[index].0;
            if byte == b'\t' {
                after_tab = true;
                break;
            } else if is_control(byte) {
                if echoctl {
                    columns += 2;
                }
            } else if !(utf8 && byte & 0xc0 == 0x80) {
                columns += 1;
            }
        }
        let mut columns = columns & 7;
        if !after_tab {
            columns += self.canon_column;
        }
        for _ in 0..8 - (columns & 7) {
            echo.push(b'\x08');
            self.column = self.column.saturating_sub(1);
        }
    }

    fn finish_erasing(&mut self, echo: &mut Vec<u8>) {
        if self.erasing {
            self.output_echo(b'/', echo);
            self.erasing = false;
        }
    }

    /// `echo_char`: a control character (not tab) as `^X` with `ECHOCTL`, anything else
    /// through output processing.
    fn echo_char(&mut self, c: u8, echo: &mut Vec<u8>) {
        if c == 0xff {
            // Linux's ECHO_OP_START escape: written as it is, no column counted.
            echo.push(c);
        } else if self.termios.has_l(lflag::ECHOCTL) && is_control(c) && c != b'\t' {
            echo.extend_from_slice(&[b'^', c ^ 0o100]);
            self.column += 2;
        } else {
            self.output_echo(c, echo);
        }
    }

    /// One echoed byte, through `OPOST` processing when it is on (`__process_echoes`).
    fn output_echo(&mut self, c: u8, echo: &mut Vec<u8>) {
        if self.termios.has_o(oflag::OPOST) {
            // Echoes are never refused for room: the owner bounds what it keeps.
            self.output_char(c, usize::MAX, echo);
        } else {
            echo.push(c);
        }
    }

    /// `do_output_char`: one byte of `OPOST` output into `out` if its expansion fits in
    /// `room`; how many bytes it made (`Some(0)`: dropped by `ONOCR`), `None` if it does
    /// not fit.
    fn output_char(&mut self, mut c: u8, room: usize, out: &mut Vec<u8>) -> Option<usize> {
        if room == 0 {
            return None;
        }
        let t = self.termios;
        match c {
            b'\n' => {
                if t.has_o(oflag::ONLRET) {
                    self.column = 0;
                }
                if t.has_o(oflag::ONLCR) {
                    if room < 2 {
                        return None;
                    }
                    self.column = 0;
                    self.canon_column = 0;
                    out.extend_from_slice(b"\r\n");
                    return Some(2);
                }
                self.canon_column = self.column;
            }
            b'\r' => {
                if t.has_o(oflag::ONOCR) && self.column == 0 {
                    return Some(0);
                }
                if t.has_o(oflag::OCRNL) {
                    c = b'\n';
                    if t.has_o(oflag::ONLRET) {
                        self.column = 0;
                        self.canon_column = 0;
                    }
                } else {
                    self.column = 0;
                    self.canon_column = 0;
                }
            }
            b'\t' => {
                let spaces = 8 - (self.column & 7);
                if t.oflag & oflag::TABDLY == oflag::XTABS {
                    if room < spaces as usize {
                        return None;
                    }
                    self.column += spaces;
                    out.extend(core::iter::repeat_n(b' ', spaces as usize));
                    return Some(spaces as usize);
                }
                self.column += spaces;
            }
            b'\x08' => self.column = self.column.saturating_sub(1),
            _ => {
                if !is_control(c) {
                    if t.has_o(oflag::OLCUC) {
                        c = to_upper(c);
                    }
                    if !(t.has_i(iflag::IUTF8) && c & 0xc0 == 0x80) {
                        self.column += 1;
                    }
                }
            }
        }
        out.push(c);
        Some(1)
    }

    /// A program's write (`n_tty_write`): as many bytes of `data` as fit in `room` once
    /// processed, into `out`; returns how many of `data` were taken.
    pub fn write(&mut self, data: &[u8], room: usize, out: &mut Vec<u8>) -> usize {
        if !self.termios.has_o(oflag::OPOST) {
            let count = data.len().min(room);
            out.extend_from_slice(&data[..count]);
            return count;
        }
        let mut left = room;
        for (index, &byte) in data.iter().enumerate() {
            match self.output_char(byte, left, out) {
                Some(made) => left -= made,
                None => return index,
            }
        }
        data.len()
    }

    /// `stop_tty` (`VSTOP`).
    fn stop(&mut self) {
        if !self.stopped {
            self.stopped = true;
            self.events |= event::STOPPED;
        }
    }

    /// `start_tty`: no effect while `TCOOFF` holds output.
    fn start(&mut self) {
        if self.stopped && !self.tco_stopped {
            self.stopped = false;
            self.events |= event::STARTED;
        }
    }

    /// `TCXONC` `TCOOFF`.
    pub fn output_off(&mut self) {
        if !self.tco_stopped {
            self.tco_stopped = true;
            self.stop();
        }
    }

    /// `TCXONC` `TCOON`.
    pub fn output_on(&mut self) {
        if self.tco_stopped {
            self.tco_stopped = false;
            self.start();
        }
    }
}

/// The kernel's `iscntrl`: C0 controls and DEL (its Latin-1 table has no C1 controls).
fn is_control(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

/// The kernel's `isalnum` over its Latin-1 `_ctype` table.
fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric() || (c >= 0xc0 && c != 0xd7 && c != 0xf7)
}

/// The kernel's `tolower`/`toupper`: ASCII and Latin-1 letters by its table.
fn to_lower(c: u8) -> u8 {
    if c.is_ascii_uppercase() || (0xc0..=0xde).contains(&c) && c != 0xd7 {
        c + 32
    } else {
        c
    }
}

fn to_upper(c: u8) -> u8 {
    if c.is_ascii_lowercase() || (c >= 0xdf && c != 0xf7) {
        c - 32
    } else {
        c
    }
}

#[cfg(test)]
mod tests;
