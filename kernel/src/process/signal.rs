//! Signals, as far as a single process needs them today: the numbers, the dispositions
//! `rt_sigaction` records, the blocked mask and the alternate stack. Delivery to user
//! handlers comes with multiple processes; until then a fault's signal is fatal.

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

#[derive(Clone)]
pub struct SignalState {
    pub actions: [SigAction; SIGNAL_COUNT],
    pub blocked: u64,
    /// `sigaltstack`: base, flags, size.
    pub alt_stack: (u64, u32, u64),
}

impl Default for SignalState {
    fn default() -> Self {
        Self {
            actions: [SigAction::default(); SIGNAL_COUNT],
            blocked: 0,
            alt_stack: (0, SS_DISABLE, 0),
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
            && self.actions[number as usize - 1].handler == SIG_DFL
            && !NOT_FATAL.contains(&number)
    }

    /// At `execve`: handled signals go back to their default action.
    pub fn reset_on_exec(&mut self) {
        const SIG_IGN: u64 = 1;
        for action in &mut self.actions {
            if action.handler != SIG_IGN {
                *action = SigAction::default();
            }
        }
        self.alt_stack = (0, SS_DISABLE, 0);
    }
}
