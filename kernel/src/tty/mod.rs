//! Terminals: the layer between a terminal's driver (the console's serial port, the
//! master side of a pseudo-terminal) and the processes that read and write it.
//!
//! Portable and host-tested: [`termios`] (the settings and their layouts), [`ldisc`]
//! (Linux's `N_TTY` line discipline as pure logic), [`job_control`] (who may read or
//! change a terminal), [`wire`] (how the host frames the console's input).

pub mod job_control;
pub mod ldisc;
pub mod termios;
pub mod wire;
