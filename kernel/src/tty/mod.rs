//! Terminals: the layer between a terminal's driver (the console's serial port, the
//! master side of a pseudo-terminal) and the processes that read and write it.
//!
//! Portable and host-tested: [`termios`] (the settings and their layouts), [`ldisc`]
//! (Linux's `N_TTY` line discipline as pure logic), [`wire`] (how the host frames the
//! console's input: end of input, window sizes).

pub mod ldisc;
pub mod termios;
