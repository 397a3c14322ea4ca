//! Pseudo-terminals: opening `ptmx` makes a pair (its number the lowest free in the
//! devpts it belongs to, its node `/dev/pts/N` made there, the slave locked until
//! `TIOCSPTLCK` 0), opening `/dev/pts/N` (or `TIOCGPTPEER`) opens its slave side, and
//! closing the master hangs the slave up and removes the node (`ptmx_open`,
//! `pty_open`, `pty_close` in Linux's drivers/tty/pty.c).

use alloc::sync::Arc;
use core::any::Any;

use vfs_core::attr::dev_minor;
use vfs_core::file::DeviceFile;
use vfs_core::{Errno, OpenFlags, Result, Stat};

use super::file::{Side, TtyFile};
use super::session;
use super::terminal::{Kind, OUTPUT_MAX, PENDING_MAX, Terminal};
use crate::fs::devpts::{self, Instance};
use crate::task::lifecycle;

/// What a pair may hold, charged when it is made: its two queues (the output one with
/// room for echoes, each queue's capacity a power of two), the line discipline's input
/// (two bytes a slot), held echoes, and the objects themselves.
const PAIR_COST: u64 =
    (2 * OUTPUT_MAX + PENDING_MAX + 2 * super::ldisc::INPUT_MAX + 2 * 4096 + 1024) as u64;

/// The running process's effective ids and whether it holds `CAP_SYS_ADMIN`.
fn opener() -> (u32, u32, bool) {
    lifecycle::current_pid()
        .and_then(|pid| lifecycle::credentials_of(pid).ok())
        .map_or((0, 0, false), |identity| {
            (
                identity.ids.euid,
                identity.ids.egid,
                identity.caps.has(vfs_core::cap::SYS_ADMIN),
            )
        })
}

/// `TIOCEXCL`: a terminal opened exclusively refuses other opens without `CAP_SYS_ADMIN`.
pub fn check_exclusive(terminal: &Terminal) -> Result<()> {
    if terminal.lock().exclusive && !opener().2 {
        return Err(Errno::EBUSY);
    }
    Ok(())
}

/// Opening `ptmx` (5:2) whose node is `stat`: a new pair in the node's devpts (or, for
/// a node outside any devpts, in the container's).
pub fn open_ptmx(stat: &Stat) -> Result<Arc<dyn DeviceFile>> {
    let instance = devpts::instance_by_dev(stat.dev)
        .or_else(devpts::first_instance)
        .ok_or(Errno::ENODEV)?;
    let (uid, gid, _) = opener();
    let charge = crate::mm::budget::budget()
        .charge(PAIR_COST)
        .map_err(|_| Errno::ENOMEM)?;
    let index = instance.allocate(uid, gid)?;
    let terminal = Terminal::new_pty(index, Arc::downgrade(&instance), charge);
    let owner: Arc<dyn Any + Send + Sync> = terminal.clone();
    instance.attach(index, Arc::downgrade(&owner));
    Ok(Arc::new(TtyFile::new(terminal, Side::Master, false)))
}

/// Opening `/dev/pts/N` (136:N) whose node is `stat`: `EIO` unless it is a live pair of
/// that devpts whose master is open and whose slave is unlocked; `EBUSY` if opened
/// exclusively. A session leader without a controlling terminal takes it unless
/// `O_NOCTTY`.
pub fn open_slave(stat: &Stat, flags: OpenFlags) -> Result<Arc<dyn DeviceFile>> {
    let instance = devpts::instance_by_dev(stat.dev).ok_or(Errno::EIO)?;
    let terminal = terminal_of(&instance, dev_minor(stat.rdev)).ok_or(Errno::EIO)?;
    open_slave_of(&terminal, flags)
}

fn terminal_of(instance: &Instance, index: u32) -> Option<Arc<Terminal>> {
    instance.terminal(index)?.downcast::<Terminal>().ok()
}

/// The slave side of `terminal` (an open of its node, or `TIOCGPTPEER`).
pub fn open_slave_of(terminal: &Arc<Terminal>, flags: OpenFlags) -> Result<Arc<dyn DeviceFile>> {
    check_exclusive(terminal)?;
    {
        let state = terminal.lock();
        if state.locked || !state.master_open {
            return Err(Errno::EIO);
        }
    }
    let file = TtyFile::new(terminal.clone(), Side::Slave, false);
    if !flags.contains(OpenFlags::NOCTTY) {
        session::acquire_on_open(terminal, flags.readable());
    }
    Ok(Arc::new(file))
}

/// The master's last file closed: the slave side hangs up (its session leader gets
/// `SIGHUP`), and its node and number go.
pub fn master_closed(terminal: &Terminal) {
    terminal.lock().master_open = false;
    session::hang_up(terminal);
    if let (Kind::Pty(index), Some(instance)) = (terminal.kind(), terminal.devpts()) {
        instance.remove(index);
    }
}
