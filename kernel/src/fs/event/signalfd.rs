//! signalfd: the caller's pending signals of a mask, read as `struct signalfd_siginfo`
//! records (128 bytes each) instead of delivered. The file holds only its mask; whose
//! signals it reports is the reader's and poller's, as on Linux. Reading needs the
//! reader's own signal state, so the system-call layer serves it (`syscall::events`) with
//! [`super::signal_source::take`]; [`encode`] is the record.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use vfs_core::file::DeviceFile;
use vfs_core::{Credentials, OpenFile, OpenFlags, Result};

use super::signal_source;
use crate::fs::poll::{POLLIN, Pollable};
use crate::process::signal::{SI_KERNEL, SI_USER, SigInfo, bit};
use crate::task::WaitQueue;

/// `sizeof(struct signalfd_siginfo)`.
pub const RECORD_SIZE: usize = 128;

pub struct SignalFd {
    /// The signals it reports (never `SIGKILL` or `SIGSTOP`).
    mask: AtomicU64,
}

/// What a mask may hold: all but `SIGKILL` and `SIGSTOP`, as Linux's `signalfd4` drops.
fn usable(mask: u64) -> u64 {
    mask & !(bit(9) | bit(19))
}

impl SignalFd {
    pub fn open(cred: &Credentials, mask: u64, flags: OpenFlags) -> Result<Arc<OpenFile>> {
        let signalfd = SignalFd {
            mask: AtomicU64::new(usable(mask)),
        };
        super::anon::open(cred, flags, Arc::new(signalfd))
    }

    pub fn mask(&self) -> u64 {
        self.mask.load(Ordering::Acquire)
    }

    /// `signalfd4` on an existing signalfd: a new mask (its flags stay).
    pub fn set_mask(&self, mask: u64) {
        self.mask.store(usable(mask), Ordering::Release);
        signal_source::mask_changed();
    }

    /// What `/proc/<pid>/fdinfo/N` adds for it (Linux's `signalfd_show_fdinfo`).
    pub fn fdinfo(&self) -> String {
        format!("sigmask:\t{:016x}\n", self.mask())
    }
}

impl DeviceFile for SignalFd {
    /// Reads come through the system-call layer, which has the reader's signal state; a
    /// path without it (none today) finds no read operation, as Linux's `EINVAL`.
    fn read(&self, _offset: u64, _buf: &mut [u8], _flags: OpenFlags) -> Result<usize> {
        super::anon::no_such_operation()
    }

    /// A signalfd has no write operation: `EINVAL`.
    fn write(&self, _offset: u64, _buf: &[u8], _flags: OpenFlags) -> Result<usize> {
        super::anon::no_such_operation()
    }
}

impl Pollable for SignalFd {
    fn poll(&self) -> u16 {
        if signal_source::pending() & self.mask() != 0 {
            POLLIN
        } else {
            0
        }
    }

    fn wait_queue(&self) -> &WaitQueue {
        signal_source::queue()
    }
}

/// The signalfd behind an open file, if it is one.
pub fn signalfd_of(file: &OpenFile) -> Option<&SignalFd> {
    let device: &dyn core::any::Any = &**file.device()?;
    device.downcast_ref::<SignalFd>()
}

/// `struct signalfd_siginfo` for a taken signal, its fields filled by the layout of its
/// `si_code`, as Linux's `signalfd_copyinfo` (fields this kernel does not record are 0).
pub fn encode(info: &SigInfo) -> [u8; RECORD_SIZE] {
    const SIGCHLD: u8 = 17;
    const FAULTS: [u8; 5] = [4, 5, 7, 8, 11]; // SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV
    const SI_TIMER: i32 = -2;
    let mut out = [0u8; RECORD_SIZE];
    let mut put =
        |offset: usize, bytes: &[u8]| out[offset..offset + bytes.len()].copy_from_slice(bytes);
    put(0, &u32::from(info.signo).to_le_bytes());
    put(8, &info.code.to_le_bytes());
    let (pid, uid, status) = (
        info.pid.to_le_bytes(),
        info.uid.to_le_bytes(),
        info.status.to_le_bytes(),
    );
    match info.code {
        code if code > SI_USER && code < SI_KERNEL => {
            if info.signo == SIGCHLD {
                put(12, &pid);
                put(16, &uid);
                put(40, &status);
            } else if FAULTS.contains(&info.signo) {
                put(72, &info.addr.to_le_bytes());
            }
        }
        SI_USER | SI_KERNEL => {
            put(12, &pid);
            put(16, &uid);
        }
        SI_TIMER => put(44, &status),
        _ => {
            // Queued by `sigqueue` (`SI_QUEUE` and the other negative codes): the value
            // travels as `ssi_int` and the low half of `ssi_ptr`.
            put(12, &pid);
            put(16, &uid);
            put(44, &status);
            put(48, &u64::from(info.status as u32).to_le_bytes());
        }
    }
    out
}
