//! Job control's rules, as decisions over facts the caller gathers from the process table
//! (portable and host-tested; `super::session` applies them).
//!
//! - [`check`] is Linux's `__tty_check_change`: a process of a background group that
//!   reads its controlling terminal gets `SIGTTIN`, one that changes its settings (or
//!   writes with `TOSTOP`) gets `SIGTTOU` — unless it blocks or ignores the signal (then a
//!   read is `EIO` and a change is allowed) or its group is orphaned (`EIO`: nobody would
//!   ever continue it).
//! - [`is_orphaned`] is `will_become_orphaned_pgrp`: a group none of whose members has a
//!   parent in another group of the same session.

/// `SIGTTIN` and `SIGTTOU` on x86_64.
pub const SIGTTIN: u8 = 21;
pub const SIGTTOU: u8 = 22;

/// The caller, as far as the check needs it.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    /// The terminal is its controlling terminal.
    pub controlling: bool,
    pub pgrp: u32,
    /// It blocks or ignores the signal the check would send.
    pub blocks_or_ignores: bool,
    /// Its process group is orphaned.
    pub orphaned: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refused with `EIO`.
    Refuse,
    /// Send the signal to the caller's process group and fail the call with a restart
    /// (Linux's `-ERESTARTSYS`): it runs again once the group is continued.
    Stop(u8),
}

/// `__tty_check_change(tty, signal)` with the terminal's foreground group `foreground`
/// (0: none).
pub fn check(caller: Caller, foreground: u32, signal: u8) -> Verdict {
    if !caller.controlling || foreground == 0 || caller.pgrp == foreground {
        return Verdict::Allow;
    }
    if caller.blocks_or_ignores {
        return if signal == SIGTTIN {
            Verdict::Refuse
        } else {
            Verdict::Allow
        };
    }
    if caller.orphaned {
        return Verdict::Refuse;
    }
    Verdict::Stop(signal)
}

/// One member of a process group, with its parent's group and session.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    pub sid: u32,
    /// `None` when it has no parent inside the sandbox (the init's is outside).
    pub parent: Option<(u32, u32)>,
}

/// Whether group `pgrp` is orphaned: no member's parent is in a different group of the
/// member's own session. (Linux skips children of the global init; the sandbox's init is
/// a container's, which Linux does not skip.)
pub fn is_orphaned(pgrp: u32, members: impl IntoIterator<Item = Member>) -> bool {
    !members.into_iter().any(|member| {
        member.parent.is_some_and(|(parent_pgrp, parent_sid)| {
            parent_pgrp != pgrp && parent_sid == member.sid
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(pgrp: u32) -> Caller {
        Caller {
            controlling: true,
            pgrp,
            blocks_or_ignores: false,
            orphaned: false,
        }
    }

    #[test]
    fn foreground_and_strangers_pass() {
        assert_eq!(check(caller(5), 5, SIGTTIN), Verdict::Allow);
        let stranger = Caller {
            controlling: false,
            ..caller(6)
        };
        assert_eq!(check(stranger, 5, SIGTTIN), Verdict::Allow);
        assert_eq!(check(caller(6), 0, SIGTTOU), Verdict::Allow);
    }

    #[test]
    fn background_is_stopped_unless_it_ignores_or_is_orphaned() {
        assert_eq!(check(caller(6), 5, SIGTTIN), Verdict::Stop(SIGTTIN));
        assert_eq!(check(caller(6), 5, SIGTTOU), Verdict::Stop(SIGTTOU));
        let ignoring = Caller {
            blocks_or_ignores: true,
            ..caller(6)
        };
        assert_eq!(check(ignoring, 5, SIGTTIN), Verdict::Refuse);
        assert_eq!(check(ignoring, 5, SIGTTOU), Verdict::Allow);
        let orphan = Caller {
            orphaned: true,
            ..caller(6)
        };
        assert_eq!(check(orphan, 5, SIGTTOU), Verdict::Refuse);
    }

    #[test]
    fn a_group_with_a_parent_elsewhere_in_the_session_is_not_orphaned() {
        let child_of_shell = Member {
            sid: 1,
            parent: Some((1, 1)),
        };
        assert!(!is_orphaned(7, [child_of_shell]));
        // The init's group: its parent is outside the sandbox, its children share it.
        let init = Member {
            sid: 1,
            parent: None,
        };
        let child_in_same_group = Member {
            sid: 1,
            parent: Some((1, 1)),
        };
        assert!(is_orphaned(1, [init, child_in_same_group]));
        // A parent in another session does not count.
        let after_setsid = Member {
            sid: 9,
            parent: Some((1, 1)),
        };
        assert!(is_orphaned(9, [after_setsid]));
    }
}
