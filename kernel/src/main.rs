//! The bare-metal kernel binary: the boot layer's entry bound to [`kernel::start`].
#![no_std]
#![no_main]

kernel::entry_point!(kernel::start);
