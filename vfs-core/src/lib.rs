//! vfs-core: the sandbox's virtual file system, portable and host-tested.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
