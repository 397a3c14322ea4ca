//! `ioctl` on a terminal (tty_ioctl(4), pty(7)): the requests' arguments read from and
//! written to the caller's memory, their semantics in the terminal layer
//! (`crate::tty`). On a pseudo-terminal's master, the settings, window size and groups
//! are the slave side's, as Linux's `tty_pair_get_tty` makes them; the master alone has
//! `TIOCGPTN`, `TIOCSPTLCK`, `TIOCGPTLCK`, `TIOCPKT`, `TIOCGPKT`, `TIOCSIG` and
//! `TIOCGPTPEER`. A file whose terminal hung up after it was opened answers `EIO` (and
//! `ENOTTY` to `TIOCSPGRP`), as Linux's `hung_up_tty_ioctl`.

use alloc::sync::Arc;

use vfs_core::attr::{dev_major, dev_minor};
use vfs_core::{Errno, OpenFile, OpenFlags};

use super::{SysResult, read_in, write_out};
use crate::process::Process;
use crate::tty::file::{Side, TtyFile};
use crate::tty::job_control::SIGTTOU;
use crate::tty::session;
use crate::tty::terminal::{Kind, Terminal};
use crate::tty::termios::{TERMIO_SIZE, TERMIOS_SIZE, TERMIOS2_SIZE, Termios, Winsize, cc, cflag};

const TCGETS: u64 = 0x5401;
const TCSETS: u64 = 0x5402;
const TCSETSW: u64 = 0x5403;
const TCSETSF: u64 = 0x5404;
const TCGETA: u64 = 0x5405;
const TCSETA: u64 = 0x5406;
const TCSETAW: u64 = 0x5407;
const TCSETAF: u64 = 0x5408;
const TCSBRK: u64 = 0x5409;
const TCXONC: u64 = 0x540a;
const TCFLSH: u64 = 0x540b;
const TIOCEXCL: u64 = 0x540c;
const TIOCNXCL: u64 = 0x540d;
const TIOCSCTTY: u64 = 0x540e;
const TIOCGPGRP: u64 = 0x540f;
const TIOCSPGRP: u64 = 0x5410;
const TIOCOUTQ: u64 = 0x5411;
const TIOCSTI: u64 = 0x5412;
const TIOCGWINSZ: u64 = 0x5413;
const TIOCSWINSZ: u64 = 0x5414;
const TIOCGSOFTCAR: u64 = 0x5419;
const TIOCSSOFTCAR: u64 = 0x541a;
const FIONREAD: u64 = 0x541b;
const TIOCPKT: u64 = 0x5420;
const TIOCNOTTY: u64 = 0x5422;
const TIOCSETD: u64 = 0x5423;
const TIOCGETD: u64 = 0x5424;
const TCSBRKP: u64 = 0x5425;
const TIOCSBRK: u64 = 0x5427;
const TIOCCBRK: u64 = 0x5428;
const TIOCGSID: u64 = 0x5429;
const TCGETS2: u64 = 0x802c_542a;
const TCSETS2: u64 = 0x402c_542b;
const TCSETSW2: u64 = 0x402c_542c;
const TCSETSF2: u64 = 0x402c_542d;
const TIOCGPTN: u64 = 0x8004_5430;
const TIOCSPTLCK: u64 = 0x4004_5431;
const TIOCGDEV: u64 = 0x8004_5432;
const TIOCSIG: u64 = 0x4004_5436;
const TIOCVHANGUP: u64 = 0x5437;
const TIOCGPKT: u64 = 0x8004_5438;
const TIOCGPTLCK: u64 = 0x8004_5439;
const TIOCGEXCL: u64 = 0x8004_5440;
const TIOCGPTPEER: u64 = 0x5441;

/// `TCXONC` and `TCFLSH` arguments.
const TCOOFF: u64 = 0;
const TCOON: u64 = 1;
const TCIOFF: u64 = 2;
const TCION: u64 = 3;
const TCIFLUSH: u64 = 0;
const TCOFLUSH: u64 = 1;
const TCIOFLUSH: u64 = 2;

fn put_int(p: &mut Process, address: u64, value: i32) -> SysResult {
    write_out(p, address, &value.to_le_bytes()).map(|()| 0)
}

fn get_int(p: &mut Process, address: u64) -> Result<i32, Errno> {
    let raw = read_in(p, address, 4)?;
    Ok(i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
}

/// The ioctl `request` on the terminal file `tty` (the open file `file`).
pub(super) fn ioctl(
    p: &mut Process,
    file: &OpenFile,
    tty: &TtyFile,
    request: u64,
    argument: u64,
) -> SysResult {
    if tty.side() == Side::Slave && tty.hung_up() {
        return Err(if request == TIOCSPGRP {
            Errno::ENOTTY
        } else {
            Errno::EIO
        });
    }
    let terminal = tty.terminal().clone();
    let master = tty.side() == Side::Master;
    let admin = p.capable(vfs_core::cap::SYS_ADMIN);
    match request {
        TCGETS => write_out(p, argument, &termios(&terminal).encode()).map(|()| 0),
        TCGETS2 => write_out(p, argument, &termios(&terminal).encode2()).map(|()| 0),
        TCGETA => write_out(p, argument, &termios(&terminal).encode_termio()).map(|()| 0),
        TCSETS | TCSETSW | TCSETSF | TCSETS2 | TCSETSW2 | TCSETSF2 | TCSETA | TCSETAW | TCSETAF => {
            set_termios(p, &terminal, request, argument)
        }
        TCSBRK | TCSBRKP | TIOCSBRK => {
            session::check_change(&terminal, SIGTTOU)?;
            // Every byte sent first; a pseudo-terminal (and the console, one to the
            // container) has no line to send a break on.
            terminal.drain()?;
            Ok(0)
        }
        TIOCCBRK => session::check_change(&terminal, SIGTTOU).map(|()| 0),
        TCXONC => flow(&terminal, master, argument),
        TCFLSH => flush(&terminal, master, argument),
        TIOCGWINSZ => {
            let size = terminal.lock().winsize;
            write_out(p, argument, &size.encode()).map(|()| 0)
        }
        TIOCSWINSZ => {
            let raw = read_in(p, argument, Winsize::SIZE)?;
            let mut bytes = [0u8; Winsize::SIZE];
            bytes.copy_from_slice(&raw);
            if let Some(signal) = terminal.resize(Winsize::decode(&bytes)) {
                session::send_group_signals(alloc::vec![signal]);
            }
            Ok(0)
        }
        TIOCGPGRP => {
            let group = session::foreground_group(&terminal, master)?;
            put_int(p, argument, group as i32)
        }
        TIOCSPGRP => {
            match session::check_change(&terminal, SIGTTOU) {
                Err(Errno::EIO) => return Err(Errno::ENOTTY),
                result => result?,
            }
            let group = get_int(p, argument)?;
            session::set_foreground_group(&terminal, group).map(|()| 0)
        }
        TIOCGSID => {
            let sid = session::session_of(&terminal, master)?;
            put_int(p, argument, sid as i32)
        }
        TIOCSCTTY => {
            let readable = file.flags().readable();
            session::make_controlling(&terminal, readable, argument as i32 == 1, admin).map(|()| 0)
        }
        TIOCNOTTY if master => Err(Errno::ENOTTY),
        TIOCNOTTY => session::give_up(&terminal, p.ids.uid).map(|()| 0),
        FIONREAD => {
            let waiting = if master {
                terminal.master_readable()
            } else {
                terminal.readable()
            };
            put_int(p, argument, waiting as i32)
        }
        TIOCOUTQ => {
            // A pseudo-terminal reports nothing in its buffer (Linux's pty has no
            // `chars_in_buffer`); the console what output stopped holds back.
            let unsent = if master || terminal.kind() != Kind::Console {
                0
            } else {
                terminal.unsent()
            };
            put_int(p, argument, unsent as i32)
        }
        TIOCSTI => {
            // Refused as modern Linux refuses it (`dev.tty.legacy_tiocsti` off) to all
            // but `CAP_SYS_ADMIN`.
            if !admin {
                return Err(Errno::EIO);
            }
            let byte = read_in(p, argument, 1)?[0];
            session::send_group_signals(terminal.insert(byte, master));
            Ok(0)
        }
        TIOCGETD => put_int(p, argument, 0),
        TIOCSETD => {
            session::check_change(&terminal, SIGTTOU)?;
            // N_TTY is the only line discipline there is.
            match get_int(p, argument)? {
                0 => Ok(0),
                _ => Err(Errno::EINVAL),
            }
        }
        TIOCEXCL | TIOCNXCL => {
            terminal.lock().exclusive = request == TIOCEXCL;
            Ok(0)
        }
        TIOCGEXCL => {
            let exclusive = terminal.lock().exclusive;
            put_int(p, argument, i32::from(exclusive))
        }
        TIOCGSOFTCAR => {
            let clocal = termios(&terminal).cflag & cflag::CLOCAL != 0;
            put_int(p, argument, i32::from(clocal))
        }
        TIOCSSOFTCAR => {
            let on = get_int(p, argument)? != 0;
            let mut state = terminal.lock();
            let mut new = *state.ldisc.termios();
            new.cflag = (new.cflag & !cflag::CLOCAL) | if on { cflag::CLOCAL } else { 0 };
            terminal.set_termios(&mut state, new);
            Ok(0)
        }
        TIOCGDEV => {
            let rdev = match terminal.kind() {
                Kind::Console => crate::fs::dev::CONSOLE,
                Kind::Pty(index) => vfs_core::attr::make_dev(crate::fs::devpts::PTS_MAJOR, index),
            };
            // `new_encode_dev`.
            let (major, minor) = (dev_major(rdev), dev_minor(rdev));
            let encoded = (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12);
            put_int(p, argument, encoded as i32)
        }
        TIOCVHANGUP => {
            if !admin {
                return Err(Errno::EPERM);
            }
            session::hang_up(&terminal);
            Ok(0)
        }
        TIOCGPTN | TIOCSPTLCK | TIOCGPTLCK | TIOCPKT | TIOCGPKT | TIOCSIG | TIOCGPTPEER
            if master =>
        {
            master_ioctl(p, file, &terminal, request, argument)
        }
        _ => Err(Errno::ENOTTY),
    }
}

fn termios(terminal: &Terminal) -> Termios {
    *terminal.lock().ldisc.termios()
}

/// `set_termios`: the job-control check, the new settings read (`EFAULT`), the speeds
/// made to match `c_cflag`, then for the `W` and `F` forms every byte sent first and
/// for the `F` forms the input dropped.
fn set_termios(p: &mut Process, terminal: &Terminal, request: u64, argument: u64) -> SysResult {
    session::check_change(terminal, SIGTTOU)?;
    let current = termios(terminal);
    let new = match request {
        TCSETS | TCSETSW | TCSETSF => {
            let mut bytes = [0u8; TERMIOS_SIZE];
            bytes.copy_from_slice(&read_in(p, argument, TERMIOS_SIZE)?);
            current.with_termios(&bytes)
        }
        TCSETS2 | TCSETSW2 | TCSETSF2 => {
            let mut bytes = [0u8; TERMIOS2_SIZE];
            bytes.copy_from_slice(&read_in(p, argument, TERMIOS2_SIZE)?);
            current.with_termios2(&bytes)
        }
        _ => {
            let mut bytes = [0u8; TERMIO_SIZE];
            bytes.copy_from_slice(&read_in(p, argument, TERMIO_SIZE)?);
            current.with_termio(&bytes)
        }
    }
    .with_speeds_from_cflag();
    let waits = matches!(
        request,
        TCSETSW | TCSETSF | TCSETSW2 | TCSETSF2 | TCSETAW | TCSETAF
    );
    let flushes = matches!(request, TCSETSF | TCSETSF2 | TCSETAF);
    if waits {
        terminal.drain()?;
    }
    let mut state = terminal.lock();
    if flushes {
        state.ldisc.flush_input();
    }
    terminal.set_termios(&mut state, new);
    drop(state);
    terminal.wake();
    Ok(0)
}

/// `TCXONC`: output stopped or started; `TCIOFF`/`TCION` send the stop or start
/// character to the other side.
fn flow(terminal: &Terminal, master: bool, argument: u64) -> SysResult {
    if !master {
        session::check_change(terminal, SIGTTOU)?;
    }
    if !matches!(argument, TCOOFF | TCOON | TCIOFF | TCION) {
        return Err(Errno::EINVAL);
    }
    if master {
        match argument {
            TCOOFF | TCOON => terminal.lock().master_stopped = argument == TCOOFF,
            _ => {
                // The master's own settings are raw with Linux's default characters.
                let byte = if argument == TCIOFF { 0o23 } else { 0o21 };
                let (_, signals) = terminal.receive(&[byte]);
                session::send_group_signals(signals);
            }
        }
        terminal.wake();
        return Ok(0);
    }
    {
        let mut state = terminal.lock();
        match argument {
            TCOOFF => state.ldisc.output_off(),
            TCOON => state.ldisc.output_on(),
            _ => {
                let index = if argument == TCIOFF {
                    cc::VSTOP
                } else {
                    cc::VSTART
                };
                if let Some(byte) = state.ldisc.termios().control(index) {
                    terminal.send_char(&mut state, byte);
                }
            }
        }
        let mut echo = alloc::vec::Vec::new();
        terminal.after_ldisc(&mut state, &mut echo);
    }
    terminal.wake();
    Ok(0)
}

/// `TCFLSH`.
fn flush(terminal: &Terminal, master: bool, argument: u64) -> SysResult {
    if !master {
        session::check_change(terminal, SIGTTOU)?;
    }
    let (input, output) = match argument {
        TCIFLUSH => (true, false),
        TCOFLUSH => (false, true),
        TCIOFLUSH => (true, true),
        _ => return Err(Errno::EINVAL),
    };
    if master {
        terminal.master_flush(input, output);
        return Ok(0);
    }
    {
        let mut state = terminal.lock();
        if input {
            state.ldisc.flush_input();
        }
        let mut echo = alloc::vec::Vec::new();
        terminal.after_ldisc(&mut state, &mut echo);
        if output {
            terminal.flush_output(&mut state);
        }
    }
    terminal.wake();
    Ok(0)
}

/// The master's own requests (`pty_unix98_ioctl`).
fn master_ioctl(
    p: &mut Process,
    file: &OpenFile,
    terminal: &Arc<Terminal>,
    request: u64,
    argument: u64,
) -> SysResult {
    let Kind::Pty(index) = terminal.kind() else {
        return Err(Errno::ENOTTY);
    };
    match request {
        TIOCGPTN => put_int(p, argument, index as i32),
        TIOCSPTLCK => {
            let lock = get_int(p, argument)? != 0;
            terminal.lock().locked = lock;
            Ok(0)
        }
        TIOCGPTLCK => {
            let locked = terminal.lock().locked;
            put_int(p, argument, i32::from(locked))
        }
        TIOCPKT => {
            let on = get_int(p, argument)? != 0;
            let mut state = terminal.lock();
            if on && !state.packet {
                state.pktstatus = 0;
            }
            state.packet = on;
            Ok(0)
        }
        TIOCGPKT => {
            let packet = terminal.lock().packet;
            put_int(p, argument, i32::from(packet))
        }
        TIOCSIG => {
            const SIGINT: u64 = 2;
            const SIGQUIT: u64 = 3;
            const SIGTSTP: u64 = 20;
            if !matches!(argument, SIGINT | SIGQUIT | SIGTSTP) {
                return Err(Errno::EINVAL);
            }
            let pgrp = terminal.lock().pgrp;
            if pgrp != 0 {
                session::send_group_signals(alloc::vec![(pgrp, argument as u8)]);
            }
            Ok(0)
        }
        _ => open_peer(p, file, terminal, index, argument),
    }
}

/// `TIOCGPTPEER`: the slave side opened through the master, at its node in the master's
/// devpts, with the open flags in `argument`; a new descriptor.
fn open_peer(
    p: &mut Process,
    file: &OpenFile,
    terminal: &Arc<Terminal>,
    index: u32,
    argument: u64,
) -> SysResult {
    let flags = OpenFlags::from_bits_truncate(argument as u32);
    let directory = file.location().dentry.parent().ok_or(Errno::EIO)?;
    let name = alloc::format!("{index}");
    let dentry = directory.lookup_child(name.as_bytes())?;
    let location = vfs_core::Location {
        mount: file.location().mount.clone(),
        dentry,
    };
    let device = crate::tty::pty::open_slave_of(terminal, flags)?;
    let cred = p.fs.lock().cred.clone();
    let status = flags & !(OpenFlags::CLOEXEC | OpenFlags::NOCTTY);
    let slave = OpenFile::anonymous(location, cred, status, Some(device))?;
    let close_on_exec = flags.contains(OpenFlags::CLOEXEC);
    p.files
        .lock()
        .insert(slave, close_on_exec)
        .map(|fd| fd as u64)
}
