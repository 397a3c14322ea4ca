//! The host's control channel (`stdio=control`): how a host runtime drives the container
//! (issue 16) — the init held until started, signals, exec, the standard streams of every
//! process apart from each other and from the kernel's console, window sizes,
//! pause/resume, the pid list and exit statuses — over one virtio-console port.
//!
//! Portable and host-tested: [`wire`] (the frames both ends speak; the host runtime uses
//! it too). On the target: `channel` (the port: frames in and out), `streams` (the kernel
//! threads that pump each process's pipes or terminal to and from the host, with credits),
//! `freeze` (pause/resume), `exec` (a process started in the running container), `service`
//! (the thread that acts on the host's messages, and the init's start and end).
//!
//! Lock order: every lock here is a leaf — `service::PROCESSES` (released before a
//! process's streams are touched), each stream's state, `channel`'s port, decoder and
//! inbox; a frame is sent with no other lock held.

pub mod wire;

#[cfg(target_os = "none")]
mod channel;
#[cfg(target_os = "none")]
mod exec;
#[cfg(target_os = "none")]
pub mod freeze;
#[cfg(target_os = "none")]
mod service;
#[cfg(target_os = "none")]
mod streams;

#[cfg(target_os = "none")]
pub use channel::poll;
#[cfg(target_os = "none")]
pub use service::{hold_until_start, init, init_ended, init_stdio};
