//! Unix domain sockets (`AF_UNIX`): stream, datagram and sequenced-packet sockets between
//! the sandbox's processes, with Linux's semantics.
//!
//! Portable, host-tested parts: [`address`] (`sockaddr_un` and its rules), [`control`]
//! (`SCM_RIGHTS`/`SCM_CREDENTIALS` messages), [`queue`] (the receive queue and the stream
//! read rules), [`options`] (option values), [`registry`] (the tables names are found in).
//! On the target: `socket` (the socket object, its state and lifecycle: create, bind,
//! listen, connect, accept, shutdown, close, options, readiness), `stream` and `datagram`
//! (moving data, blocking by Linux's rules), `inflight` (descriptors in flight: their
//! bound, the collector of unreachable cycles, and the deferred drop that keeps closing
//! a chain of sockets from recursing), `file` (the socket as an open file of sockfs).
//!
//! Lock order: a socket's `state` lock is held for one step at a time, never across a
//! sleep or a filesystem call. At most two sockets' locks are held at once: a listener's
//! then the connecting socket's (`connect`), or any two in address order
//! (`lock_pair`: datagram sends and connects). The name table and the in-flight table
//! come after any socket lock; the deferred-drop list is a leaf. Wait queues are woken
//! and messages dropped only after the locks are released (a dropped message can close
//! a socket, whose release takes locks again).

pub mod address;
pub mod control;
pub mod options;
pub mod queue;
pub mod registry;

#[cfg(target_os = "none")]
mod datagram;
#[cfg(target_os = "none")]
mod file;
#[cfg(target_os = "none")]
mod inflight;
#[cfg(target_os = "none")]
mod socket;
#[cfg(target_os = "none")]
mod stream;

#[cfg(target_os = "none")]
pub use file::{SocketFile, is_socket_file, new_socket_file, socket_of};
#[cfg(target_os = "none")]
pub use inflight::InFlight;
#[cfg(target_os = "none")]
pub use socket::{Caller, Kind, Received, Receiving, Sending, Socket};
