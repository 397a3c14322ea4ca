//! eventfd: a 64-bit counter as a file. A read of 8 bytes or more takes the counter (or 1,
//! `EFD_SEMAPHORE`) and sleeps while it is 0; a write adds an 8-byte value and sleeps while
//! the sum would pass `0xffff_ffff_ffff_fffe`; `O_NONBLOCK` makes both `EAGAIN`, a signal
//! makes a sleeping one `EINTR`. The rules are [`super::counter`]'s.
//!
//! Lock order: the counter's lock is a leaf; the queue is woken after it is released.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

use spin::Mutex;
use vfs_core::file::DeviceFile;
use vfs_core::{Credentials, Errno, OpenFile, OpenFlags, Result};

use super::blocking::sleep_on;
use super::counter::Counter;
use crate::fs::poll::{POLLERR, POLLIN, POLLOUT, Pollable};
use crate::task::WaitQueue;

/// `EFD_SEMAPHORE`.
pub const EFD_SEMAPHORE: u32 = 1;

pub struct EventFd {
    counter: Mutex<Counter>,
    /// Readers and writers waiting, and `poll`/`epoll`: woken by every read and write.
    events: WaitQueue,
    /// `eventfd-id` in `/proc/<pid>/fdinfo`.
    id: u32,
}

impl EventFd {
    /// `eventfd2(initial, flags)`: the new file; `flags` are already checked (`O_NONBLOCK`
    /// for the description, `EFD_SEMAPHORE` for the counter).
    pub fn open(cred: &Credentials, initial: u32, flags: u32) -> Result<Arc<OpenFile>> {
        static NEXT_ID: AtomicU32 = AtomicU32::new(0);
        let eventfd = EventFd {
            counter: Mutex::new(Counter::new(initial, flags & EFD_SEMAPHORE != 0)),
            events: WaitQueue::new(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        };
        super::anon::open(
            cred,
            OpenFlags::from_bits_truncate(flags),
            Arc::new(eventfd),
        )
    }

    /// What `/proc/<pid>/fdinfo/N` adds for it (Linux 6.1's `eventfd_show_fdinfo`).
    pub fn fdinfo(&self) -> String {
        format!(
            "eventfd-count: {:16x}\neventfd-id: {}\n",
            self.counter.lock().count(),
            self.id
        )
    }
}

impl DeviceFile for EventFd {
    fn read(&self, _offset: u64, buf: &mut [u8], flags: OpenFlags) -> Result<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        loop {
            let taken = self.counter.lock().take();
            if let Some(value) = taken {
                self.events.wake_all();
                buf[..8].copy_from_slice(&value.to_le_bytes());
                return Ok(8);
            }
            if flags.contains(OpenFlags::NONBLOCK) {
                return Err(Errno::EAGAIN);
            }
            sleep_on(&self.events)?;
        }
    }

    fn write(&self, _offset: u64, buf: &[u8], flags: OpenFlags) -> Result<usize> {
        let raw: [u8; 8] = buf
            .get(..8)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(Errno::EINVAL)?;
        let value = u64::from_le_bytes(raw);
        Counter::check(value)?;
        loop {
            let added = self.counter.lock().add(value);
            if added {
                self.events.wake_all();
                return Ok(8);
            }
            if flags.contains(OpenFlags::NONBLOCK) {
                return Err(Errno::EAGAIN);
            }
            sleep_on(&self.events)?;
        }
    }
}

/// The eventfd behind an open file, if it is one.
pub fn eventfd_of(file: &OpenFile) -> Option<&EventFd> {
    let device: &dyn core::any::Any = &**file.device()?;
    device.downcast_ref::<EventFd>()
}

impl Pollable for EventFd {
    /// Linux's `eventfd_poll`: `POLLIN` with a count, `POLLOUT` while 1 more fits (no
    /// `POLLRDNORM`/`POLLWRNORM`), `POLLERR` at `u64::MAX`, which only the kernel's own
    /// signalling could reach.
    fn poll(&self) -> u16 {
        let counter = self.counter.lock();
        let mut mask = 0;
        if counter.readable() {
            mask |= POLLIN;
        }
        if counter.writable() {
            mask |= POLLOUT;
        }
        if counter.count() == u64::MAX {
            mask |= POLLERR;
        }
        mask
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.events
    }
}
