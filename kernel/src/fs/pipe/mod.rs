//! Pipes and FIFOs: [`buffer`] holds the bytes and Linux's rules for moving them
//! (portable, host-tested); on the target, the pipe itself (who reads and writes it, who
//! sleeps on it), its open ends as `DeviceFile`s, `pipe2`'s nameless files in pipefs, and
//! the registry that gives every opener of one FIFO inode the same pipe.

pub mod accounting;
#[cfg(target_os = "none")]
mod blocking;
pub mod buffer;

#[cfg(target_os = "none")]
pub use blocking::*;
