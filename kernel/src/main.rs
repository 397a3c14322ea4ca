//! The bare-metal kernel binary: the boot layer's entry bound to [`kernel::start`].
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

kernel::entry_point!(kernel::start);
