//! Terminals and sessions: which terminal is a process's controlling terminal (the
//! process table's `ctty`, passed on by `fork`, dropped by `setsid`), how a session
//! leader takes one (`TIOCSCTTY`, or opening a terminal) and gives it up (`TIOCNOTTY`,
//! or ending), the foreground group (`TIOCSPGRP`), job control's checks for processes of
//! background groups ([`super::job_control`]), and the signals a terminal sends to a
//! group: `^C`, `SIGWINCH`, `SIGHUP` when it hangs up.
//!
//! Lock order: `task::table::TABLE` → `TERMINALS`; `TABLE` → a terminal's state. No
//! signal is sent while a terminal's lock is held.

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use spin::Mutex;
use vfs_core::Errno;

use super::job_control::{self, Caller, Member, Verdict};
use super::terminal::{GroupSignal, Terminal};
use crate::process::signal::{SI_KERNEL, SigInfo, bit};
use crate::task::lifecycle;
use crate::task::table::{TABLE, Table};

const SIGHUP: u8 = 1;
const SIGCONT: u8 = 18;

/// Every terminal by id, for the process table's `ctty`.
static TERMINALS: Mutex<BTreeMap<u64, Weak<Terminal>>> = Mutex::new(BTreeMap::new());

pub fn register(terminal: &Arc<Terminal>) {
    let mut terminals = TERMINALS.lock();
    terminals.retain(|_, terminal| terminal.strong_count() > 0);
    terminals.insert(terminal.id(), Arc::downgrade(terminal));
}

fn by_id(id: u64) -> Option<Arc<Terminal>> {
    if id == 0 {
        return None;
    }
    TERMINALS.lock().get(&id).and_then(Weak::upgrade)
}

/// The running thread and its process.
fn caller(table: &Table) -> Option<(u32, u32)> {
    let tid = lifecycle::current_tid()?;
    Some((tid, table.tgid_of(tid)?))
}

/// The controlling terminal of the running process (`/dev/tty`).
pub fn current_terminal() -> Option<Arc<Terminal>> {
    let id = {
        let table = TABLE.lock();
        let (_, pid) = caller(&table)?;
        table.get(pid)?.ctty
    };
    by_id(id)
}

/// A signal from the terminal itself (`kill_pgrp(pgrp, sig, 1)`: `SI_KERNEL`).
fn from_terminal(signo: u8) -> SigInfo {
    SigInfo {
        signo,
        code: SI_KERNEL,
        ..SigInfo::default()
    }
}

/// Sends `info` to every process of group `pgrp`.
fn signal_group(table: &mut Table, pgrp: u32, info: SigInfo) {
    let members: Vec<u32> = table
        .running()
        .filter(|(_, entry)| entry.pgid == pgrp)
        .map(|(pid, _)| pid)
        .collect();
    for pid in members {
        table.send(pid, info);
    }
}

/// Sends the signals a terminal raised (`^C`, `SIGWINCH`) to their groups.
pub fn send_group_signals(signals: Vec<GroupSignal>) {
    if signals.is_empty() {
        return;
    }
    let mut table = TABLE.lock();
    for (pgrp, signo) in signals {
        signal_group(&mut table, pgrp, from_terminal(signo));
    }
}

/// `will_become_orphaned_pgrp(pgrp, NULL)` over the table.
fn orphaned(table: &Table, pgrp: u32) -> bool {
    let members: Vec<Member> = table
        .running()
        .filter(|(_, entry)| entry.pgid == pgrp)
        .map(|(_, entry)| Member {
            sid: entry.sid,
            parent: table
                .get(entry.parent)
                .filter(|parent| parent.tgid == entry.parent)
                .map(|parent| (parent.pgid, parent.sid)),
        })
        .collect();
    job_control::is_orphaned(pgrp, members)
}

/// `__tty_check_change(terminal, signal)` for the running process: a process of a
/// background group of the terminal's session is stopped (`EINTR` now, the call runs
/// again once it is continued: Linux's `-ERESTARTSYS`) or refused (`EIO`).
pub fn check_change(terminal: &Terminal, signal: u8) -> Result<(), Errno> {
    let mut table = TABLE.lock();
    let Some((tid, pid)) = caller(&table) else {
        return Ok(());
    };
    let (Some(thread), Some(process)) = (table.get(tid), table.get(pid)) else {
        return Ok(());
    };
    let blocks_or_ignores = (thread.blocked | thread.ignored) & bit(signal) != 0;
    let (controlling, pgrp) = (process.ctty == terminal.id(), process.pgid);
    let foreground = terminal.lock().pgrp;
    let facts = Caller {
        controlling,
        pgrp,
        blocks_or_ignores,
        orphaned: controlling && foreground != pgrp && orphaned(&table, pgrp),
    };
    match job_control::check(facts, foreground, signal) {
        Verdict::Allow => Ok(()),
        Verdict::Refuse => Err(Errno::EIO),
        Verdict::Stop(signal) => {
            signal_group(&mut table, pgrp, from_terminal(signal));
            Err(Errno::EINTR)
        }
    }
}

/// Opening a terminal (`tty_open_proc_set_tty`): a session leader without a
/// controlling terminal takes it, if no session has it and the open can read it.
pub fn acquire_on_open(terminal: &Terminal, readable: bool) {
    let mut table = TABLE.lock();
    let Some((_, pid)) = caller(&table) else {
        return;
    };
    let Some(process) = table.get_mut(pid) else {
        return;
    };
    if process.sid != pid || process.ctty != 0 || !readable {
        return;
    }
    let mut state = terminal.lock();
    if state.session == 0 {
        state.session = pid;
        state.pgrp = process.pgid;
        process.ctty = terminal.id();
    }
}

/// `TIOCSCTTY` (`tiocsctty`): a session leader with no controlling terminal takes this
/// one, from another session too with `steal` and `CAP_SYS_ADMIN`.
pub fn make_controlling(
    terminal: &Terminal,
    readable: bool,
    steal: bool,
    admin: bool,
) -> Result<(), Errno> {
    let mut table = TABLE.lock();
    let (_, pid) = caller(&table).ok_or(Errno::ESRCH)?;
    let process = table.get(pid).ok_or(Errno::ESRCH)?;
    let (leader, sid, pgid, has_ctty) = (
        process.sid == pid,
        process.sid,
        process.pgid,
        process.ctty != 0,
    );
    let mut state = terminal.lock();
    if leader && state.session == sid {
        return Ok(());
    }
    if !leader || has_ctty {
        return Err(Errno::EPERM);
    }
    if state.session != 0 {
        if !(steal && admin) {
            return Err(Errno::EPERM);
        }
        clear_session(&mut table, state.session);
    }
    if !readable && !admin {
        return Err(Errno::EPERM);
    }
    state.session = sid;
    state.pgrp = pgid;
    drop(state);
    if let Some(process) = table.get_mut(pid) {
        process.ctty = terminal.id();
    }
    Ok(())
}

/// `session_clear_tty`: no process of `session` has a controlling terminal any more.
fn clear_session(table: &mut Table, session: u32) {
    let members: Vec<u32> = table
        .running()
        .filter(|(_, entry)| entry.sid == session)
        .map(|(pid, _)| pid)
        .collect();
    for pid in members {
        if let Some(entry) = table.get_mut(pid) {
            entry.ctty = 0;
        }
    }
}

/// `TIOCNOTTY` (`tiocnotty`): the caller drops its controlling terminal; a session
/// leader takes it from the whole session, and the foreground group gets `SIGHUP` and
/// `SIGCONT` (`disassociate_ctty(0)`).
pub fn give_up(terminal: &Terminal, uid: u32) -> Result<(), Errno> {
    let mut table = TABLE.lock();
    let (_, pid) = caller(&table).ok_or(Errno::ESRCH)?;
    let process = table.get(pid).ok_or(Errno::ESRCH)?;
    if process.ctty != terminal.id() {
        return Err(Errno::ENOTTY);
    }
    if process.sid == pid {
        let foreground = {
            let mut state = terminal.lock();
            let foreground = state.pgrp;
            state.session = 0;
            state.pgrp = 0;
            foreground
        };
        if foreground != 0 {
            signal_group(&mut table, foreground, SigInfo::user(SIGHUP, pid, uid));
            signal_group(&mut table, foreground, SigInfo::user(SIGCONT, pid, uid));
        }
        clear_session(&mut table, pid);
    }
    if let Some(process) = table.get_mut(pid) {
        process.ctty = 0;
    }
    Ok(())
}

/// `TIOCGPGRP`: the foreground group (0: none). Through the slave side only for a
/// process whose controlling terminal it is; the master may always ask.
pub fn foreground_group(terminal: &Terminal, via_master: bool) -> Result<u32, Errno> {
    let table = TABLE.lock();
    if !via_master && !is_controlling(&table, terminal) {
        return Err(Errno::ENOTTY);
    }
    Ok(terminal.lock().pgrp)
}

/// `TIOCGSID`: the session whose controlling terminal it is.
pub fn session_of(terminal: &Terminal, via_master: bool) -> Result<u32, Errno> {
    let table = TABLE.lock();
    if !via_master && !is_controlling(&table, terminal) {
        return Err(Errno::ENOTTY);
    }
    match terminal.lock().session {
        0 => Err(Errno::ENOTTY),
        session => Ok(session),
    }
}

fn is_controlling(table: &Table, terminal: &Terminal) -> bool {
    caller(table)
        .and_then(|(_, pid)| table.get(pid))
        .is_some_and(|process| process.ctty == terminal.id())
}

/// `TIOCSPGRP` after its job-control check: group `pgrp` of the caller's session becomes
/// the foreground (`tiocspgrp`; a number that is no group but a process of the session
/// is taken too, as Linux's `session_of_pgrp` allows).
pub fn set_foreground_group(terminal: &Terminal, pgrp: i32) -> Result<(), Errno> {
    if pgrp < 0 {
        return Err(Errno::EINVAL);
    }
    let pgrp = pgrp as u32;
    let table = TABLE.lock();
    let (_, pid) = caller(&table).ok_or(Errno::ESRCH)?;
    let process = table.get(pid).ok_or(Errno::ESRCH)?;
    let mut state = terminal.lock();
    if process.ctty != terminal.id() || state.session != process.sid {
        return Err(Errno::ENOTTY);
    }
    let session_of_group = table
        .running()
        .find(|(_, entry)| entry.pgid == pgrp)
        .map(|(_, entry)| entry.sid)
        .or_else(|| {
            table
                .get(pgrp)
                .filter(|entry| entry.tgid == pgrp)
                .map(|entry| entry.sid)
        })
        .ok_or(Errno::ESRCH)?;
    if session_of_group != process.sid {
        return Err(Errno::EPERM);
    }
    state.pgrp = pgrp;
    Ok(())
}

/// A hang-up (`tty_vhangup`: the master closed, `TIOCVHANGUP`, the host's terminal went
/// away): every open file of the terminal is hung up, its session's processes lose it,
/// and the session leader gets `SIGHUP` and `SIGCONT` (`tty_signal_session_leader`).
pub fn hang_up(terminal: &Terminal) {
    let (session, _) = terminal.hang_up();
    if session == 0 {
        return;
    }
    let mut table = TABLE.lock();
    let members: Vec<(u32, bool)> = table
        .running()
        .filter(|(_, entry)| entry.sid == session)
        .map(|(pid, entry)| (pid, entry.ctty == terminal.id()))
        .collect();
    for (pid, had_it) in members {
        if had_it && let Some(entry) = table.get_mut(pid) {
            entry.ctty = 0;
        }
        if pid == session {
            table.send(pid, from_terminal(SIGHUP));
            table.send(pid, from_terminal(SIGCONT));
        }
    }
}

/// A process ended (`do_exit`'s `disassociate_ctty(1)`): if it led a session with a
/// controlling terminal, the terminal's foreground group gets `SIGHUP`, the terminal
/// belongs to no session, and no process of the session keeps it.
pub fn process_ended(pid: u32) {
    let mut table = TABLE.lock();
    let Some(process) = table.get(pid) else {
        return;
    };
    if process.sid != pid || process.ctty == 0 {
        return;
    }
    if let Some(terminal) = by_id(process.ctty) {
        let foreground = {
            let mut state = terminal.lock();
            let foreground = state.pgrp;
            state.session = 0;
            state.pgrp = 0;
            foreground
        };
        if foreground != 0 {
            signal_group(&mut table, foreground, from_terminal(SIGHUP));
        }
    }
    clear_session(&mut table, pid);
}

/// Before process `pid` ends: the groups its end may orphan (its own, its children's)
/// that are not orphaned now (`kill_orphaned_pgrp`'s candidates).
pub fn groups_at_risk(pid: u32) -> Vec<u32> {
    let table = TABLE.lock();
    let Some(process) = table.get(pid) else {
        return Vec::new();
    };
    let mut groups = alloc::vec![process.pgid];
    for (_, pgid, _) in table.children(pid) {
        if !groups.contains(&pgid) {
            groups.push(pgid);
        }
    }
    groups.retain(|&pgrp| !orphaned(&table, pgrp));
    groups
}

/// After a process ended (a zombie now, its children passed on): each group of `groups`
/// that its end orphaned and that has a stopped member gets `SIGHUP` and `SIGCONT`, so
/// no job stays stopped with nobody left to continue it (POSIX; Linux's
/// `kill_orphaned_pgrp`).
pub fn hang_up_orphaned(groups: Vec<u32>) {
    let mut table = TABLE.lock();
    for pgrp in groups {
        let stopped = table
            .running()
            .any(|(_, entry)| entry.pgid == pgrp && entry.stopped);
        if stopped && orphaned(&table, pgrp) {
            signal_group(&mut table, pgrp, from_terminal(SIGHUP));
            signal_group(&mut table, pgrp, from_terminal(SIGCONT));
        }
    }
}

/// The console as the init's controlling terminal, with the init's group in the
/// foreground (as the container's process gets its terminal from the runtime).
pub fn give_to_init(terminal: &Terminal) {
    give_to(crate::task::table::INIT_PID, terminal);
}

/// Makes `terminal` the controlling terminal of the session `pid` leads, its group the
/// foreground (a process the host's runtime started with a terminal, as the init).
pub fn give_to(pid: u32, terminal: &Terminal) {
    let mut table = TABLE.lock();
    if let Some(leader) = table.get_mut(pid) {
        leader.ctty = terminal.id();
        let mut state = terminal.lock();
        state.session = leader.sid;
        state.pgrp = leader.pgid;
    }
}
