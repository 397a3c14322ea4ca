//! Event files: the descriptors event loops are made of — `epoll` instances, `eventfd`
//! counters, `timerfd` timers and `signalfd` signal readers — each a `DeviceFile` on the
//! one anonymous inode (`/proc/self/fd/N` reads `anon_inode:[eventpoll]` and so on, as on
//! Linux), each `Pollable` so `poll`, `select` and `epoll`
//! see it.
//!
//! Linux's rules for each are pure bookkeeping, host-tested: [`counter`] (eventfd),
//! [`timer`] (timerfd's expiry arithmetic), [`interest`] (an epoll's interest and ready
//! lists). On the target, the files themselves: who sleeps and who is woken.
//!
//! Where it sits: beside `pipe`, above the task layer's wait queues and timers, below the
//! system calls (`syscall::events`) that make and use these files.

pub mod counter;
pub mod interest;
pub mod timer;

#[cfg(target_os = "none")]
mod anon;
#[cfg(target_os = "none")]
pub mod epoll;
#[cfg(target_os = "none")]
pub mod eventfd;
#[cfg(target_os = "none")]
pub mod signal_source;
#[cfg(target_os = "none")]
pub mod signalfd;
#[cfg(target_os = "none")]
pub mod timerfd;

#[cfg(target_os = "none")]
pub use anon::{anon_name, is_event_file};

/// The lines `/proc/<pid>/fdinfo/N` adds for an event file (empty for other files).
#[cfg(target_os = "none")]
pub fn fdinfo(file: &vfs_core::OpenFile) -> alloc::string::String {
    if !is_event_file(file) {
        return alloc::string::String::new();
    }
    if let Some(epoll) = epoll::Epoll::of(file) {
        return epoll.fdinfo();
    }
    if let Some(eventfd) = eventfd::eventfd_of(file) {
        return eventfd.fdinfo();
    }
    if let Some(timerfd) = timerfd::timerfd_of(file) {
        return timerfd.fdinfo();
    }
    signalfd::signalfd_of(file).map_or_else(alloc::string::String::new, signalfd::SignalFd::fdinfo)
}

#[cfg(target_os = "none")]
mod blocking {
    use vfs_core::{Errno, Result};

    use crate::task::{WaitQueue, lifecycle, scheduler};

    /// Sleeps on `queue` until it is woken (the caller saw its condition unmet and holds no
    /// lock); `EINTR` if a signal is pending, before sleeping or on waking — as a pipe's
    /// reader does.
    pub fn sleep_on(queue: &WaitQueue) -> Result<()> {
        if interrupted() {
            return Err(Errno::EINTR);
        }
        queue.prepare();
        scheduler::block();
        queue.cancel();
        if interrupted() {
            return Err(Errno::EINTR);
        }
        Ok(())
    }

    fn interrupted() -> bool {
        lifecycle::current_pid().is_some_and(lifecycle::has_pending_signal)
    }
}
