//! Terminals: the layer between a terminal's driver (the console's serial port, the
//! master side of a pseudo-terminal) and the processes that read and write it.
//!
//! Portable and host-tested: [`termios`] (the settings and their layouts), [`ldisc`]
//! (Linux's `N_TTY` line discipline as pure logic), [`job_control`] (who may read or
//! change a terminal), [`wire`] (how the host frames the console's input).
//!
//! On the target: `terminal` (a terminal object: its line discipline, queues, session,
//! sleeping readers and writers), `file` (the open files of either side), `session`
//! (controlling terminals, foreground groups, job control, hang-ups), `pty` (pairs made
//! by `ptmx`, their devpts nodes), `console` (the console on a serial port and the
//! container's standard streams). The `ioctl`s are decoded in `syscall::tty`.
//!
//! Lock order: `task::table::TABLE` → `session::TERMINALS`; `TABLE` → a terminal's
//! state → the console's port; a devpts instance's table is a leaf.

pub mod job_control;
pub mod ldisc;
pub mod termios;
pub mod wire;

#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
pub mod file;
#[cfg(target_os = "none")]
pub mod pty;
#[cfg(target_os = "none")]
pub mod session;
#[cfg(target_os = "none")]
pub mod terminal;

/// Opening a terminal's device node (`stat` is the node's): `/dev/tty` (5:0) is the
/// caller's controlling terminal (`ENXIO` without one), `/dev/console` (5:1) the
/// console, `ptmx` (5:2) a new pseudo-terminal pair, 136:N a pair's slave side. `None`
/// for other numbers.
#[cfg(target_os = "none")]
pub fn open(
    stat: &vfs_core::Stat,
    flags: vfs_core::OpenFlags,
) -> Option<vfs_core::Result<alloc::sync::Arc<dyn vfs_core::file::DeviceFile>>> {
    use crate::fs::dev::{CONSOLE, PTMX, TTY};
    Some(match stat.rdev {
        TTY => open_controlling(),
        CONSOLE => console::open_console(flags),
        PTMX => pty::open_ptmx(stat),
        rdev if vfs_core::attr::dev_major(rdev) == crate::fs::devpts::PTS_MAJOR => {
            pty::open_slave(stat, flags)
        }
        _ => return None,
    })
}

/// `/dev/tty`: the caller's controlling terminal (Linux's `tty_open_current_tty`).
#[cfg(target_os = "none")]
fn open_controlling() -> vfs_core::Result<alloc::sync::Arc<dyn vfs_core::file::DeviceFile>> {
    let terminal = session::current_terminal().ok_or(vfs_core::Errno::ENXIO)?;
    pty::check_exclusive(&terminal)?;
    Ok(alloc::sync::Arc::new(file::TtyFile::new(
        terminal,
        file::Side::Slave,
        false,
    )))
}
