//! Signals: the numbers, the dispositions `rt_sigaction` records, the blocked mask, the
//! alternate stack, the signals waiting to be delivered with their `siginfo`, and what
//! each one does by default. Delivery (the frame on the user stack, `rt_sigreturn`) is
//! [`super::deliver`].

/// Linux's signal numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[allow(clippy::upper_case_acronyms)]
pub enum Signal {
    SIGHUP = 1,
    SIGINT = 2,
    SIGQUIT = 3,
    SIGILL = 4,
    SIGTRAP = 5,
    SIGABRT = 6,
    SIGBUS = 7,
    SIGFPE = 8,
    SIGKILL = 9,
    SIGUSR1 = 10,
    SIGSEGV = 11,
    SIGUSR2 = 12,
    SIGPIPE = 13,
    SIGALRM = 14,
    SIGTERM = 15,
}

/// Number of signals (1..=64).
pub const SIGNAL_COUNT: usize = 64;
const SIGKILL: usize = 9;
const SIGSTOP: usize = 19;

/// `struct sigaction` as the kernel stores it (x86_64 `kernel_sigaction` layout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;
pub const SA_SIGINFO: u64 = 0x4;
/// The handler returns through `sa_restorer`; on x86_64 a handler without it cannot be
/// given a frame (Linux's `__setup_rt_frame`), and the process gets `SIGSEGV`.
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;
pub const SIGCHLD: u8 = 17;

/// `si_code` values.
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;
pub const SEGV_MAPERR: i32 = 1;

/// What a pending signal carries to a `SA_SIGINFO` handler (`siginfo_t`'s fields that the
/// signals sent here use).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: u8,
    pub code: i32,
    /// The sender (`kill`) or the child (`SIGCHLD`).
    pub pid: u32,
    pub uid: u32,
    /// `SIGCHLD`: the exit code or the signal.
    pub status: i32,
    /// Faults: the address.
    pub addr: u64,
}

impl SigInfo {
    pub fn user(signo: u8, pid: u32, uid: u32) -> SigInfo {
        SigInfo {
            signo,
            code: SI_USER,
            pid,
            uid,
            ..SigInfo::default()
        }
    }

    /// Linux's 128-byte `siginfo_t` for x86_64.
    pub fn encode(&self) -> [u8; 128] {
        let mut out = [0u8; 128];
        out[0..4].copy_from_slice(&i32::from(self.signo).to_le_bytes());
        out[8..12].copy_from_slice(&self.code.to_le_bytes());
        let is_fault = matches!(self.signo, 4 | 7 | 8 | 11) && self.code > 0;
        if is_fault {
            out[16..24].copy_from_slice(&self.addr.to_le_bytes());
        } else {
            out[16..20].copy_from_slice(&self.pid.to_le_bytes());
            out[20..24].copy_from_slice(&self.uid.to_le_bytes());
            out[24..28].copy_from_slice(&self.status.to_le_bytes());
        }
        out
    }
}

/// What a signal does when its action is `SIG_DFL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    /// Terminate with a core dump (reported as a kill by that signal).
    Core,
    Ignore,
    /// Stop (`SIGSTOP`, `SIGTSTP`, `SIGTTIN`, `SIGTTOU`).
    Stop,
    Continue,
}

pub fn default_action(signo: u8) -> DefaultAction {
    match signo {
        3 | 4 | 5 | 6 | 7 | 8 | 11 | 24 | 25 | 31 => DefaultAction::Core,
        17 | 23 | 28 => DefaultAction::Ignore,
        18 => DefaultAction::Continue,
        19..=22 => DefaultAction::Stop,
        _ => DefaultAction::Terminate,
    }
}

/// Whether `action` drops signal `signo`: `SIG_IGN`, or `SIG_DFL` with a default of
/// ignoring (never `SIGKILL`).
fn ignored(action: &SigAction, signo: u8) -> bool {
    signo != 9
        && (action.handler == SIG_IGN
            || (action.handler == SIG_DFL && default_action(signo) == DefaultAction::Ignore))
}

pub const fn bit(signo: u8) -> u64 {
    1u64 << (signo - 1)
}

/// What each signal does: Linux's `sighand_struct`, the part `clone` shares with
/// `CLONE_SIGHAND` (threads) and copies otherwise; `execve` gives the process its own.
#[derive(Clone, Copy)]
pub struct Handlers {
    pub actions: [SigAction; SIGNAL_COUNT],
    /// How many times an action changed: whether the masks the task table mirrors are
    /// stale is one comparison, not a scan of every action.
    pub changes: u64,
}

impl Default for Handlers {
    fn default() -> Self {
        Handlers {
            actions: [SigAction::default(); SIGNAL_COUNT],
            changes: 0,
        }
    }
}

/// What the task table last saw of a thread's signal state: its blocked mask, and which
/// handlers (by address) after how many changes.
pub type Publication = (u64, usize, u64);

/// A thread's signal state: the handlers (shared, locked one operation at a time) and
/// what is the thread's own, as in Linux's `task_struct`: the blocked mask, the pending
/// signals, the alternate stack, the mask `rt_sigsuspend` saved.
pub struct SignalState {
    pub handlers: crate::task::shared::Shared<Handlers>,
    pub blocked: u64,
    /// `sigaltstack`: base, flags, size.
    pub alt_stack: (u64, u32, u64),
    /// Signals raised and not yet delivered (one each, as Linux queues standard signals).
    pub pending: alloc::vec::Vec<SigInfo>,
    /// The mask to restore when the handler `rt_sigsuspend` woke for returns.
    pub saved_mask: Option<u64>,
    /// What was last published to the task table (`None`: nothing yet).
    pub published: Option<Publication>,
}

impl Default for SignalState {
    fn default() -> Self {
        Self {
            handlers: crate::task::shared::shared(Handlers::default()),
            blocked: 0,
            alt_stack: (0, SS_DISABLE, 0),
            pending: alloc::vec::Vec::new(),
            saved_mask: None,
            published: None,
        }
    }
}

pub const SS_DISABLE: u32 = 2;

impl SignalState {
    /// Whether `number` names a signal whose action may be read (1..=64).
    pub fn valid(number: u64) -> bool {
        (1..=SIGNAL_COUNT as u64).contains(&number)
    }

    /// Whether its action may be changed: SIGKILL and SIGSTOP may not.
    pub fn changeable(number: u64) -> bool {
        Self::valid(number) && number as usize != SIGKILL && number as usize != SIGSTOP
    }

    /// The new blocked mask after `rt_sigprocmask`, never blocking SIGKILL or SIGSTOP.
    pub fn apply_mask(&mut self, how: u64, set: u64) -> Result<(), vfs_core::Errno> {
        let unblockable = (1u64 << (SIGKILL - 1)) | (1u64 << (SIGSTOP - 1));
        self.blocked = match how {
            0 => self.blocked | set,  // SIG_BLOCK
            1 => self.blocked & !set, // SIG_UNBLOCK
            2 => set,                 // SIG_SETMASK
            _ => return Err(vfs_core::Errno::EINVAL),
        } & !unblockable;
        Ok(())
    }

    /// Whether sending `number` now ends the process: its action is the default, that
    /// default is to terminate, and it is not blocked (SIGKILL always ends it).
    pub fn terminates(&self, number: u64) -> bool {
        const SIG_DFL: u64 = 0;
        // Default action "ignore" or "stop/continue": SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP,
        // SIGTTIN, SIGTTOU, SIGURG, SIGWINCH.
        const NOT_FATAL: [u64; 8] = [17, 18, 19, 20, 21, 22, 23, 28];
        if number as usize == SIGKILL {
            return true;
        }
        let blocked = self.blocked & (1 << (number - 1)) != 0;
        Self::valid(number)
            && !blocked
            && self.action(number as u8).handler == SIG_DFL
            && !NOT_FATAL.contains(&number)
    }

    /// Queues `info` unless its signal is ignored and not blocked (a blocked one is kept:
    /// its handler may change before it is unblocked, and `sigtimedwait` takes it); a
    /// pending standard signal is not queued twice.
    pub fn raise(&mut self, info: SigInfo) {
        if !Self::valid(u64::from(info.signo)) {
            return;
        }
        let blocked = self.blocked & bit(info.signo) != 0;
        if self.ignores(info.signo) && !blocked {
            return;
        }
        if !self
            .pending
            .iter()
            .any(|pending| pending.signo == info.signo)
        {
            self.pending.push(info);
        }
    }

    /// The action of signal `signo` (1..=64).
    pub fn action(&self, signo: u8) -> SigAction {
        self.handlers.lock().actions[usize::from(signo) - 1]
    }

    pub fn set_action(&self, signo: u8, action: SigAction) {
        let mut handlers = self.handlers.lock();
        handlers.actions[usize::from(signo) - 1] = action;
        handlers.changes += 1;
    }

    /// What the task table should show of this state now (see [`Publication`]).
    pub fn publication(&self) -> Publication {
        let changes = self.handlers.lock().changes;
        (
            self.blocked,
            alloc::sync::Arc::as_ptr(&self.handlers) as usize,
            changes,
        )
    }

    /// Whether a signal sent now would be dropped: `SIG_IGN`, or a default of ignoring.
    pub fn ignores(&self, signo: u8) -> bool {
        ignored(&self.action(signo), signo)
    }

    /// Signals with a handler of the program's, as a mask.
    pub fn handled_mask(&self) -> u64 {
        let handlers = self.handlers.lock();
        (1..=SIGNAL_COUNT as u8)
            .filter(|&signo| handlers.actions[usize::from(signo) - 1].handler > SIG_IGN)
            .fold(0, |mask, signo| mask | bit(signo))
    }

    /// Signals dropped when sent, as a mask.
    pub fn ignored_mask(&self) -> u64 {
        let handlers = self.handlers.lock();
        (1..=SIGNAL_COUNT as u8)
            .filter(|&signo| ignored(&handlers.actions[usize::from(signo) - 1], signo))
            .fold(0, |mask, signo| mask | bit(signo))
    }

    /// The state a new process starts with (`fork`): a copy of the handlers (or the same
    /// ones, `share`d, for `CLONE_SIGHAND`), the same mask and alternate stack, nothing
    /// pending.
    pub fn for_child(&self, share: bool) -> SignalState {
        let handlers = if share {
            self.handlers.clone()
        } else {
            crate::task::shared::shared(*self.handlers.lock())
        };
        SignalState {
            handlers,
            blocked: self.blocked,
            alt_stack: self.alt_stack,
            pending: alloc::vec::Vec::new(),
            saved_mask: None,
            published: None,
        }
    }

    /// The next pending signal not blocked (the lowest number first, as Linux), taken.
    pub fn take_deliverable(&mut self) -> Option<SigInfo> {
        let blocked = self.blocked;
        let index = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, info)| info.signo == 9 || blocked & bit(info.signo) == 0)
            .min_by_key(|(_, info)| info.signo)
            .map(|(index, _)| index)?;
        Some(self.pending.remove(index))
    }

    pub fn has_deliverable(&self) -> bool {
        self.pending
            .iter()
            .any(|info| info.signo == 9 || self.blocked & bit(info.signo) == 0)
    }

    /// At `execve`: handled signals go back to their default action, in handlers of the
    /// process's own (Linux's `unshare_sighand`: a sharer keeps its handlers).
    pub fn reset_on_exec(&mut self) {
        const SIG_IGN: u64 = 1;
        let mut handlers = *self.handlers.lock();
        for action in &mut handlers.actions {
            if action.handler != SIG_IGN {
                *action = SigAction::default();
            }
        }
        self.handlers = crate::task::shared::shared(handlers);
        self.alt_stack = (0, SS_DISABLE, 0);
    }
}
