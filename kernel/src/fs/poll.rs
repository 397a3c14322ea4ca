//! Readiness: what `poll`, `select` and `epoll` ask of a file. A file that can make its
//! caller wait (a pipe end, a socket, an eventfd…) is [`Pollable`]: it says what it is ready
//! for now, as `poll` bits, and names the queue woken whenever that may have changed.
//! Files that never block (regular files, directories, most devices) are not pollable and
//! count as always ready for reading and writing, as Linux's `DEFAULT_POLLMASK`.
//!
//! Where it sits: above the kernel's file kinds (`pipe`, and the event and socket files),
//! below the system calls that wait on them.

use vfs_core::OpenFile;

use crate::task::WaitQueue;

pub const POLLIN: u16 = 0x1;
pub const POLLPRI: u16 = 0x2;
pub const POLLOUT: u16 = 0x4;
pub const POLLERR: u16 = 0x8;
pub const POLLHUP: u16 = 0x10;
pub const POLLNVAL: u16 = 0x20;
pub const POLLRDNORM: u16 = 0x40;
pub const POLLRDBAND: u16 = 0x80;
pub const POLLWRNORM: u16 = 0x100;
pub const POLLWRBAND: u16 = 0x200;
pub const POLLMSG: u16 = 0x400;
pub const POLLRDHUP: u16 = 0x2000;

/// What a file that never blocks reports.
pub const DEFAULT_POLLMASK: u16 = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

/// A file whose readiness changes.
pub trait Pollable {
    /// What it is ready for now (`POLL*` bits; `POLLERR` and `POLLHUP` whether asked or not).
    fn poll(&self) -> u16;
    /// The queue woken whenever what [`Pollable::poll`] says may have changed.
    fn wait_queue(&self) -> &WaitQueue;
}

/// The file as a [`Pollable`], if its kind is one. Each kind of file that can block is
/// named here.
pub fn pollable(file: &OpenFile) -> Option<&dyn Pollable> {
    let device: &dyn core::any::Any = &**file.device()?;
    if let Some(end) = device.downcast_ref::<crate::fs::pipe::PipeEnd>() {
        return Some(end);
    }
    if let Some(epoll) = device.downcast_ref::<crate::fs::event::epoll::EpollFile>() {
        return Some(epoll);
    }
    if let Some(eventfd) = device.downcast_ref::<crate::fs::event::eventfd::EventFd>() {
        return Some(eventfd);
    }
    if let Some(timerfd) = device.downcast_ref::<crate::fs::event::timerfd::TimerFd>() {
        return Some(timerfd);
    }
    if let Some(signalfd) = device.downcast_ref::<crate::fs::event::signalfd::SignalFd>() {
        return Some(signalfd);
    }
    if let Some(socket) = device.downcast_ref::<crate::net::unix::SocketFile>() {
        return Some(socket);
    }
    if let Some(terminal) = device.downcast_ref::<crate::tty::file::TtyFile>() {
        return Some(terminal);
    }
    if let Some(stdin) = device.downcast_ref::<crate::tty::console::StdinFile>() {
        return Some(stdin);
    }
    None
}

/// What `file` is ready for now.
pub fn readiness(file: &OpenFile) -> u16 {
    pollable(file).map_or(DEFAULT_POLLMASK, Pollable::poll)
}
