//! The console as a controlling terminal: which session it belongs to (the init's, from
//! boot) and which of that session's process groups is in the foreground, as a shell's
//! job control sets it (`tcsetpgrp`). The line discipline itself (echo, `^C` to the
//! foreground group, `SIGTTIN` for background readers) belongs to the terminal layer.
//!
//! Lock order: `table::TABLE` → `CONSOLE`.

use spin::Mutex;
use vfs_core::Errno;

use super::table::{INIT_PID, TABLE};

struct ControllingTerminal {
    /// The session whose controlling terminal it is; 0 when none's.
    session: u32,
    foreground: u32,
}

static CONSOLE: Mutex<ControllingTerminal> = Mutex::new(ControllingTerminal {
    session: INIT_PID,
    foreground: INIT_PID,
});

fn session_of(pid: u32) -> Result<u32, Errno> {
    TABLE
        .lock()
        .get(pid)
        .map(|entry| entry.sid)
        .ok_or(Errno::ESRCH)
}

/// `TIOCGPGRP`: the foreground group, for a process of the terminal's session.
pub fn foreground_group(caller: u32) -> Result<u32, Errno> {
    let session = session_of(caller)?;
    let console = CONSOLE.lock();
    if console.session != session {
        return Err(Errno::ENOTTY);
    }
    Ok(console.foreground)
}

/// `TIOCSPGRP`: puts a group of the caller's session in the foreground.
pub fn set_foreground_group(caller: u32, group: i32) -> Result<(), Errno> {
    if group < 0 {
        return Err(Errno::EINVAL);
    }
    let group = group as u32;
    let table = TABLE.lock();
    let session = table.get(caller).ok_or(Errno::ESRCH)?.sid;
    let mut console = CONSOLE.lock();
    if console.session != session {
        return Err(Errno::ENOTTY);
    }
    let mut members = table.running().filter(|(_, entry)| entry.pgid == group);
    match members.next() {
        None => Err(Errno::ESRCH),
        Some((_, entry)) if entry.sid != session => Err(Errno::EPERM),
        Some(_) => {
            console.foreground = group;
            Ok(())
        }
    }
}

/// `TIOCGSID`: the terminal's session, for a process of it.
pub fn session(caller: u32) -> Result<u32, Errno> {
    let session = session_of(caller)?;
    let console = CONSOLE.lock();
    if console.session != session || session == 0 {
        return Err(Errno::ENOTTY);
    }
    Ok(console.session)
}

/// `TIOCSCTTY`: a session leader takes the console as its controlling terminal, if no
/// session has it (or, with `steal` and root, from the session that has it).
pub fn make_controlling(caller: u32, steal: bool, is_root: bool) -> Result<(), Errno> {
    let session = session_of(caller)?;
    if session != caller {
        return Err(Errno::EPERM);
    }
    let mut console = CONSOLE.lock();
    if console.session == session {
        return Ok(());
    }
    if console.session != 0 && !(steal && is_root) {
        return Err(Errno::EPERM);
    }
    console.session = session;
    console.foreground = session;
    Ok(())
}

/// `TIOCNOTTY`: a session leader gives the console up.
pub fn give_up(caller: u32) -> Result<(), Errno> {
    let session = session_of(caller)?;
    let mut console = CONSOLE.lock();
    if console.session != session {
        return Err(Errno::ENOTTY);
    }
    if session == caller {
        console.session = 0;
        console.foreground = 0;
    }
    Ok(())
}
