//! One sandbox VM and the control channel to the kernel inside it.
