//! A terminal's open files: [`TtyFile`] is the `DeviceFile` behind every open of the
//! console, of `/dev/tty`, of a pseudo-terminal's slave (`/dev/pts/N`) or master
//! (`/dev/ptmx`). It routes reads, writes and `poll` to its side of the terminal, does
//! job control's checks first, and knows when its terminal hung up after it was opened
//! (from then on reads see end of file and writes `EIO`, as Linux's
//! `hung_up_tty_fops`). Dropping it is the file's close.

use alloc::sync::Arc;
use core::any::Any;

use vfs_core::file::DeviceFile;
use vfs_core::{Errno, OpenFile, OpenFlags, Result};

use super::job_control::{SIGTTIN, SIGTTOU};
use super::session;
use super::terminal::{Kind, Terminal};
use super::termios::lflag;
use crate::fs::poll::Pollable;
use crate::task::WaitQueue;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The terminal as programs use it: the console, `/dev/tty`, `/dev/pts/N`.
    Slave,
    /// A pseudo-terminal's master (`/dev/ptmx`).
    Master,
}

pub struct TtyFile {
    terminal: Arc<Terminal>,
    side: Side,
    /// Opened as `/dev/console` (5:1): never stopped by job control (Linux's
    /// `redirected_tty_write` files).
    console: bool,
    /// The terminal's hang-up count at open.
    opened: u64,
}

impl TtyFile {
    /// A new open file of `terminal`'s `side` (the caller did the open's checks).
    pub fn new(terminal: Arc<Terminal>, side: Side, console: bool) -> TtyFile {
        let opened = {
            let mut state = terminal.lock();
            if side == Side::Slave && matches!(terminal.kind(), Kind::Pty(_)) {
                state.slave_files += 1;
                state.other_closed = false;
            }
            state.hangups
        };
        TtyFile {
            terminal,
            side,
            console,
            opened,
        }
    }

    pub fn terminal(&self) -> &Arc<Terminal> {
        &self.terminal
    }

    pub fn side(&self) -> Side {
        self.side
    }

    /// Hung up since it was opened.
    pub fn hung_up(&self) -> bool {
        self.terminal.hung_up(self.opened)
    }

    /// Job control applies to this file (not to `/dev/console` opens).
    pub fn job_controlled(&self) -> bool {
        self.side == Side::Slave && !self.console
    }
}

impl DeviceFile for TtyFile {
    fn read(&self, _offset: u64, buf: &mut [u8], flags: OpenFlags) -> Result<usize> {
        let nonblock = flags.contains(OpenFlags::NONBLOCK);
        let data = match self.side {
            Side::Master => self.terminal.master_read(buf.len(), nonblock)?,
            Side::Slave => {
                if self.hung_up() {
                    return Ok(0);
                }
                if self.job_controlled() {
                    session::check_change(&self.terminal, SIGTTIN)?;
                }
                let (data, signals) = self.terminal.read(self.opened, buf.len(), nonblock)?;
                session::send_group_signals(signals);
                data
            }
        };
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    fn write(&self, _offset: u64, buf: &[u8], flags: OpenFlags) -> Result<usize> {
        let nonblock = flags.contains(OpenFlags::NONBLOCK);
        match self.side {
            Side::Master => {
                let (written, signals) = self.terminal.master_write(buf, nonblock)?;
                session::send_group_signals(signals);
                Ok(written)
            }
            Side::Slave => {
                if self.hung_up() {
                    return Err(Errno::EIO);
                }
                let tostop = self.terminal.lock().ldisc.termios().has_l(lflag::TOSTOP);
                if tostop && self.job_controlled() {
                    session::check_change(&self.terminal, SIGTTOU)?;
                }
                self.terminal.write(self.opened, buf, nonblock)
            }
        }
    }
}

impl Pollable for TtyFile {
    fn poll(&self) -> u16 {
        match self.side {
            Side::Master => self.terminal.master_poll(),
            Side::Slave => self.terminal.poll(self.opened),
        }
    }

    fn wait_queue(&self) -> &WaitQueue {
        self.terminal.events()
    }
}

impl Drop for TtyFile {
    fn drop(&mut self) {
        match (self.side, self.terminal.kind()) {
            (Side::Master, _) => super::pty::master_closed(&self.terminal),
            (Side::Slave, Kind::Pty(_)) => {
                {
                    let mut state = self.terminal.lock();
                    state.slave_files = state.slave_files.saturating_sub(1);
                    if state.slave_files == 0 {
                        state.other_closed = true;
                    }
                }
                self.terminal.wake();
            }
            (Side::Slave, Kind::Console) => {}
        }
    }
}

/// The terminal file behind an open file, if it is one.
pub fn tty_file(file: &OpenFile) -> Option<&TtyFile> {
    let device: &dyn Any = &**file.device()?;
    device.downcast_ref::<TtyFile>()
}
