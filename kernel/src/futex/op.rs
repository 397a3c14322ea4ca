//! What a futex call asks for: the command and flags of `futex(2)`'s `op` word, the
//! operation `FUTEX_WAKE_OP` encodes in its last argument, the word's owner bits that PI
//! and robust futexes use, and the entries of `futex_waitv(2)`. Values and checks as
//! Linux's `include/uapi/linux/futex.h` and `kernel/futex/{syscalls,futex}.c`.

use vfs_core::Errno;

pub const FUTEX_WAIT: u32 = 0;
pub const FUTEX_WAKE: u32 = 1;
pub const FUTEX_REQUEUE: u32 = 3;
pub const FUTEX_CMP_REQUEUE: u32 = 4;
pub const FUTEX_WAKE_OP: u32 = 5;
pub const FUTEX_LOCK_PI: u32 = 6;
pub const FUTEX_UNLOCK_PI: u32 = 7;
pub const FUTEX_TRYLOCK_PI: u32 = 8;
pub const FUTEX_WAIT_BITSET: u32 = 9;
pub const FUTEX_WAKE_BITSET: u32 = 10;
pub const FUTEX_WAIT_REQUEUE_PI: u32 = 11;
pub const FUTEX_CMP_REQUEUE_PI: u32 = 12;
pub const FUTEX_LOCK_PI2: u32 = 13;

pub const FUTEX_PRIVATE_FLAG: u32 = 128;
pub const FUTEX_CLOCK_REALTIME: u32 = 256;
const FUTEX_CMD_MASK: u32 = !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);

/// A bitset that matches every waiter (`FUTEX_WAIT`/`FUTEX_WAKE` use it).
pub const BITSET_MATCH_ANY: u32 = u32::MAX;

/// The futex word's bits for PI and robust futexes: a waiter is (or may be) sleeping, the
/// owner died holding it, and the owner's thread id.
pub const FUTEX_WAITERS: u32 = 0x8000_0000;
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

/// What a `futex` call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Wait,
    Wake,
    Requeue,
    CmpRequeue,
    WakeOp,
    LockPi,
    UnlockPi,
    TrylockPi,
    WaitBitset,
    WakeBitset,
    WaitRequeuePi,
    CmpRequeuePi,
    LockPi2,
}

/// Which clock an absolute timeout is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    Monotonic,
    Realtime,
}

/// How the call's timeout argument is to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    /// `FUTEX_WAIT`: a duration from now, measured on the monotonic clock.
    Relative,
    /// A deadline on this clock.
    Absolute(Clock),
}

/// A decoded `op` word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    pub command: Command,
    /// `FUTEX_PRIVATE_FLAG`: the futex is keyed by address space and address only.
    pub private: bool,
    pub realtime: bool,
}

impl Op {
    /// The command bits of `op` as Linux's `sys_futex` sees them before it checks
    /// anything else: whether the fourth argument is a timeout to read (and how), which
    /// it reads (`EFAULT`/`EINVAL`) before [`Op::decode`]'s `ENOSYS`.
    pub fn timeout_kind(op: u32) -> Option<TimeoutKind> {
        match op & FUTEX_CMD_MASK {
            FUTEX_WAIT => Some(TimeoutKind::Relative),
            // `FUTEX_LOCK_PI`'s deadline is always on the real-time clock.
            FUTEX_LOCK_PI => Some(TimeoutKind::Absolute(Clock::Realtime)),
            FUTEX_LOCK_PI2 | FUTEX_WAIT_BITSET | FUTEX_WAIT_REQUEUE_PI => {
                Some(TimeoutKind::Absolute(if op & FUTEX_CLOCK_REALTIME != 0 {
                    Clock::Realtime
                } else {
                    Clock::Monotonic
                }))
            }
            _ => None,
        }
    }

    /// `do_futex`'s checks: `FUTEX_CLOCK_REALTIME` with a command that takes no absolute
    /// timeout, and an unknown command, are `ENOSYS`.
    pub fn decode(op: u32) -> Result<Op, Errno> {
        let realtime = op & FUTEX_CLOCK_REALTIME != 0;
        let cmd = op & FUTEX_CMD_MASK;
        if realtime
            && !matches!(
                cmd,
                FUTEX_WAIT_BITSET | FUTEX_WAIT_REQUEUE_PI | FUTEX_LOCK_PI2
            )
        {
            return Err(Errno::ENOSYS);
        }
        let command = match cmd {
            FUTEX_WAIT => Command::Wait,
            FUTEX_WAKE => Command::Wake,
            FUTEX_REQUEUE => Command::Requeue,
            FUTEX_CMP_REQUEUE => Command::CmpRequeue,
            FUTEX_WAKE_OP => Command::WakeOp,
            FUTEX_LOCK_PI => Command::LockPi,
            FUTEX_UNLOCK_PI => Command::UnlockPi,
            FUTEX_TRYLOCK_PI => Command::TrylockPi,
            FUTEX_WAIT_BITSET => Command::WaitBitset,
            FUTEX_WAKE_BITSET => Command::WakeBitset,
            FUTEX_WAIT_REQUEUE_PI => Command::WaitRequeuePi,
            FUTEX_CMP_REQUEUE_PI => Command::CmpRequeuePi,
            FUTEX_LOCK_PI2 => Command::LockPi2,
            _ => return Err(Errno::ENOSYS),
        };
        Ok(Op {
            command,
            private: op & FUTEX_PRIVATE_FLAG != 0,
            realtime,
        })
    }
}

/// How many waiters a wake may wake for a count of `value` (an `int` in Linux): its loop
/// wakes one and then stops once the count is reached, so 0 and negative counts wake one
/// and `INT_MAX` every waiter there is.
pub fn wake_limit(value: u32) -> usize {
    (value as i32).max(1) as usize
}

/// `FUTEX_REQUEUE`'s counts: how many to wake and how many to move. Negative is `EINVAL`
/// (Linux's `futex_requeue`); 0 wakes (or moves) none.
pub fn requeue_counts(wake: u32, requeue: u32) -> Result<(usize, usize), Errno> {
    let (wake, requeue) = (wake as i32, requeue as i32);
    if wake < 0 || requeue < 0 {
        return Err(Errno::EINVAL);
    }
    Ok((wake as usize, requeue as usize))
}

// FUTEX_WAKE_OP's operations and comparisons.
pub const FUTEX_OP_SET: u32 = 0;
pub const FUTEX_OP_ADD: u32 = 1;
pub const FUTEX_OP_OR: u32 = 2;
pub const FUTEX_OP_ANDN: u32 = 3;
pub const FUTEX_OP_XOR: u32 = 4;
/// With the operation: its argument is a shift count, the operand `1 << oparg`.
pub const FUTEX_OP_OPARG_SHIFT: u32 = 8;
pub const FUTEX_OP_CMP_EQ: u32 = 0;
pub const FUTEX_OP_CMP_NE: u32 = 1;
pub const FUTEX_OP_CMP_LT: u32 = 2;
pub const FUTEX_OP_CMP_LE: u32 = 3;
pub const FUTEX_OP_CMP_GT: u32 = 4;
pub const FUTEX_OP_CMP_GE: u32 = 5;

/// `FUTEX_WAKE_OP`'s encoded operation: `*uaddr2 = *uaddr2 OP oparg`, then wake on
/// `uaddr2` too if `old CMP cmparg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakeOp {
    op: u32,
    cmp: u32,
    oparg: i32,
    cmparg: i32,
}

/// Sign-extends the low 12 bits.
fn sign_extend_12(value: u32) -> i32 {
    ((value << 20) as i32) >> 20
}

impl WakeOp {
    /// Decodes as Linux's `futex_atomic_op_inuser`: 4 bits of operation (the top one the
    /// shift flag), 4 of comparison, two signed 12-bit arguments. A shift count outside
    /// 0..=31 is taken modulo 32, as Linux does (with a warning) rather than refusing it.
    pub fn decode(encoded: u32) -> WakeOp {
        let op = (encoded & 0x7000_0000) >> 28;
        let cmp = (encoded & 0x0f00_0000) >> 24;
        let mut oparg = sign_extend_12((encoded & 0x00ff_f000) >> 12);
        let cmparg = sign_extend_12(encoded & 0x0000_0fff);
        if encoded & (FUTEX_OP_OPARG_SHIFT << 28) != 0 {
            oparg = 1i32.wrapping_shl((oparg & 31) as u32);
        }
        WakeOp {
            op,
            cmp,
            oparg,
            cmparg,
        }
    }

    /// The new value of the word that held `old`; `ENOSYS` for an unknown operation
    /// (checked before the word is written, as Linux's `arch_futex_atomic_op_inuser`).
    pub fn apply(&self, old: u32) -> Result<u32, Errno> {
        let oparg = self.oparg as u32;
        Ok(match self.op {
            FUTEX_OP_SET => oparg,
            FUTEX_OP_ADD => old.wrapping_add(oparg),
            FUTEX_OP_OR => old | oparg,
            FUTEX_OP_ANDN => old & !oparg,
            FUTEX_OP_XOR => old ^ oparg,
            _ => return Err(Errno::ENOSYS),
        })
    }

    /// Whether the old value passes the comparison (signed, as Linux's `int` compares);
    /// `ENOSYS` for an unknown comparison (after the word was written, as on Linux).
    pub fn compare(&self, old: u32) -> Result<bool, Errno> {
        let old = old as i32;
        let arg = self.cmparg;
        Ok(match self.cmp {
            FUTEX_OP_CMP_EQ => old == arg,
            FUTEX_OP_CMP_NE => old != arg,
            FUTEX_OP_CMP_LT => old < arg,
            FUTEX_OP_CMP_LE => old <= arg,
            FUTEX_OP_CMP_GT => old > arg,
            FUTEX_OP_CMP_GE => old >= arg,
            _ => return Err(Errno::ENOSYS),
        })
    }
}

/// `futex_waitv`: the most futexes one call waits on.
pub const FUTEX_WAITV_MAX: usize = 128;
/// `struct futex_waitv`: `u64 val; u64 uaddr; u32 flags; u32 __reserved`.
pub const WAITV_ENTRY_SIZE: usize = 24;
const FUTEX2_SIZE_MASK: u32 = 0x3;
const FUTEX2_SIZE_U32: u32 = 0x2;
const FUTEX2_PRIVATE: u32 = FUTEX_PRIVATE_FLAG;

/// One decoded `struct futex_waitv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitvEntry {
    pub value: u32,
    pub address: u64,
    pub private: bool,
}

/// Decodes one entry as Linux's `futex_parse_waitv`: flags other than a size and
/// `FUTEX2_PRIVATE`, a nonzero reserved word, a size other than 32 bits, or a value that
/// does not fit 32 bits are `EINVAL`.
pub fn decode_waitv_entry(bytes: &[u8; WAITV_ENTRY_SIZE]) -> Result<WaitvEntry, Errno> {
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4]));
    let (value, address, flags, reserved) = (u64_at(0), u64_at(8), u32_at(16), u32_at(20));
    if flags & !(FUTEX2_SIZE_MASK | FUTEX2_PRIVATE) != 0 || reserved != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & FUTEX2_SIZE_MASK != FUTEX2_SIZE_U32 {
        return Err(Errno::EINVAL);
    }
    let value = u32::try_from(value).map_err(|_| Errno::EINVAL)?;
    Ok(WaitvEntry {
        value,
        address,
        private: flags & FUTEX2_PRIVATE != 0,
    })
}

/// What a dying owner's robust futex word becomes (Linux's `handle_futex_death`): the
/// owner-died bit set, the waiters bit kept, the owner's id cleared.
pub fn owner_died(word: u32) -> u32 {
    (word & FUTEX_WAITERS) | FUTEX_OWNER_DIED
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(op: u32, cmp: u32, oparg: u32, cmparg: u32) -> u32 {
        ((op & 0xf) << 28) | ((cmp & 0xf) << 24) | ((oparg & 0xfff) << 12) | (cmparg & 0xfff)
    }

    #[test]
    fn op_word_flags_and_commands() {
        let op = Op::decode(FUTEX_WAIT | FUTEX_PRIVATE_FLAG).unwrap();
        assert_eq!(op.command, Command::Wait);
        assert!(op.private && !op.realtime);
        assert_eq!(Op::decode(FUTEX_WAKE).unwrap().command, Command::Wake);
        assert!(!Op::decode(FUTEX_WAKE).unwrap().private);
        // CLOCK_REALTIME only with the commands that take an absolute timeout.
        assert_eq!(
            Op::decode(FUTEX_WAIT | FUTEX_CLOCK_REALTIME),
            Err(Errno::ENOSYS)
        );
        assert_eq!(
            Op::decode(FUTEX_WAKE | FUTEX_CLOCK_REALTIME),
            Err(Errno::ENOSYS)
        );
        assert_eq!(
            Op::decode(FUTEX_LOCK_PI | FUTEX_CLOCK_REALTIME),
            Err(Errno::ENOSYS)
        );
        for cmd in [FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2] {
            assert!(Op::decode(cmd | FUTEX_CLOCK_REALTIME).unwrap().realtime);
        }
        // FUTEX_FD (2, gone since 2.6.26) and anything past LOCK_PI2.
        assert_eq!(Op::decode(2), Err(Errno::ENOSYS));
        assert_eq!(Op::decode(14), Err(Errno::ENOSYS));
        assert_eq!(Op::decode(0x1000), Err(Errno::ENOSYS));
    }

    #[test]
    fn timeout_kinds() {
        assert_eq!(Op::timeout_kind(FUTEX_WAIT), Some(TimeoutKind::Relative));
        // Even with the (refused) realtime flag: the timeout is read first.
        assert_eq!(
            Op::timeout_kind(FUTEX_WAIT | FUTEX_CLOCK_REALTIME),
            Some(TimeoutKind::Relative)
        );
        assert_eq!(
            Op::timeout_kind(FUTEX_WAIT_BITSET),
            Some(TimeoutKind::Absolute(Clock::Monotonic))
        );
        assert_eq!(
            Op::timeout_kind(FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME | FUTEX_PRIVATE_FLAG),
            Some(TimeoutKind::Absolute(Clock::Realtime))
        );
        assert_eq!(
            Op::timeout_kind(FUTEX_LOCK_PI),
            Some(TimeoutKind::Absolute(Clock::Realtime))
        );
        assert_eq!(
            Op::timeout_kind(FUTEX_LOCK_PI2),
            Some(TimeoutKind::Absolute(Clock::Monotonic))
        );
        for cmd in [
            FUTEX_WAKE,
            FUTEX_REQUEUE,
            FUTEX_CMP_REQUEUE,
            FUTEX_WAKE_OP,
            FUTEX_UNLOCK_PI,
            FUTEX_TRYLOCK_PI,
        ] {
            assert_eq!(Op::timeout_kind(cmd), None, "{cmd}");
        }
    }

    #[test]
    fn wake_counts() {
        assert_eq!(wake_limit(0), 1);
        assert_eq!(wake_limit(u32::MAX), 1); // -1
        assert_eq!(wake_limit(3), 3);
        assert_eq!(wake_limit(i32::MAX as u32), i32::MAX as usize);
        assert_eq!(wake_limit(0x8000_0000), 1); // INT_MIN
        assert_eq!(requeue_counts(0, 0), Ok((0, 0)));
        assert_eq!(
            requeue_counts(1, i32::MAX as u32),
            Ok((1, i32::MAX as usize))
        );
        assert_eq!(requeue_counts(u32::MAX, 0), Err(Errno::EINVAL));
        assert_eq!(requeue_counts(0, 0x8000_0000), Err(Errno::EINVAL));
    }

    #[test]
    fn wake_op_operations() {
        let apply = |op, oparg, old| WakeOp::decode(encode(op, 0, oparg, 0)).apply(old);
        assert_eq!(apply(FUTEX_OP_SET, 5, 9), Ok(5));
        assert_eq!(apply(FUTEX_OP_ADD, 5, 9), Ok(14));
        assert_eq!(apply(FUTEX_OP_ADD, 0xfff, 9), Ok(8)); // -1
        assert_eq!(apply(FUTEX_OP_OR, 6, 9), Ok(15));
        assert_eq!(apply(FUTEX_OP_ANDN, 1, 9), Ok(8));
        assert_eq!(apply(FUTEX_OP_XOR, 3, 9), Ok(10));
        // A negative SET argument is sign-extended to the whole word.
        assert_eq!(apply(FUTEX_OP_SET, 0x800, 0), Ok(0xffff_f800));
        for op in 5..8 {
            assert_eq!(apply(op, 1, 0), Err(Errno::ENOSYS));
        }
        // The shift flag: the operand is 1 << oparg.
        let shifted = |oparg, old| {
            WakeOp::decode(encode(FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT, 0, oparg, 0)).apply(old)
        };
        assert_eq!(shifted(4, 1), Ok(0x11));
        assert_eq!(shifted(31, 0), Ok(0x8000_0000));
        // Out-of-range shifts are taken modulo 32 (Linux warns and masks).
        assert_eq!(shifted(33, 0), Ok(2));
        assert_eq!(shifted(0xfff, 0), Ok(0x8000_0000)); // -1 & 31
        let set_shift =
            WakeOp::decode(encode(FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT, 0, 3, 0)).apply(0);
        assert_eq!(set_shift, Ok(8));
    }

    #[test]
    fn wake_op_comparisons() {
        let cmp = |cmp, cmparg, old| WakeOp::decode(encode(0, cmp, 0, cmparg)).compare(old);
        assert_eq!(cmp(FUTEX_OP_CMP_EQ, 3, 3), Ok(true));
        assert_eq!(cmp(FUTEX_OP_CMP_EQ, 3, 4), Ok(false));
        assert_eq!(cmp(FUTEX_OP_CMP_NE, 3, 4), Ok(true));
        assert_eq!(cmp(FUTEX_OP_CMP_LT, 3, 2), Ok(true));
        assert_eq!(cmp(FUTEX_OP_CMP_LT, 3, 3), Ok(false));
        assert_eq!(cmp(FUTEX_OP_CMP_LE, 3, 3), Ok(true));
        assert_eq!(cmp(FUTEX_OP_CMP_GT, 3, 4), Ok(true));
        assert_eq!(cmp(FUTEX_OP_CMP_GT, 3, 3), Ok(false));
        assert_eq!(cmp(FUTEX_OP_CMP_GE, 3, 3), Ok(true));
        // Signed: a word with the top bit set is negative, and so is cmparg 0xfff.
        assert_eq!(cmp(FUTEX_OP_CMP_LT, 0, 0x8000_0000), Ok(true));
        assert_eq!(cmp(FUTEX_OP_CMP_EQ, 0xfff, u32::MAX), Ok(true));
        for bad in 6..16 {
            assert_eq!(cmp(bad, 0, 0), Err(Errno::ENOSYS));
        }
    }

    fn waitv(value: u64, address: u64, flags: u32, reserved: u32) -> [u8; WAITV_ENTRY_SIZE] {
        let mut bytes = [0; WAITV_ENTRY_SIZE];
        bytes[..8].copy_from_slice(&value.to_le_bytes());
        bytes[8..16].copy_from_slice(&address.to_le_bytes());
        bytes[16..20].copy_from_slice(&flags.to_le_bytes());
        bytes[20..].copy_from_slice(&reserved.to_le_bytes());
        bytes
    }

    #[test]
    fn waitv_entries() {
        assert_eq!(
            decode_waitv_entry(&waitv(7, 0x1000, 2 | 128, 0)),
            Ok(WaitvEntry {
                value: 7,
                address: 0x1000,
                private: true
            })
        );
        assert!(!decode_waitv_entry(&waitv(7, 0x1000, 2, 0)).unwrap().private);
        for size in [0, 1, 3] {
            assert_eq!(
                decode_waitv_entry(&waitv(0, 0, size, 0)),
                Err(Errno::EINVAL)
            );
        }
        assert_eq!(
            decode_waitv_entry(&waitv(0, 0, 2 | 4, 0)),
            Err(Errno::EINVAL)
        );
        assert_eq!(decode_waitv_entry(&waitv(0, 0, 2, 1)), Err(Errno::EINVAL));
        assert_eq!(
            decode_waitv_entry(&waitv(1 << 32, 0, 2, 0)),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn owner_died_word() {
        assert_eq!(owner_died(1234), FUTEX_OWNER_DIED);
        assert_eq!(
            owner_died(FUTEX_WAITERS | 1234),
            FUTEX_WAITERS | FUTEX_OWNER_DIED
        );
        assert_eq!(owner_died(FUTEX_OWNER_DIED | 5), FUTEX_OWNER_DIED);
    }
}
