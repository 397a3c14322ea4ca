//! `cargo xtask fuzz TARGET …`: one module per fuzz target.
//!
//! - `syscalls`: the guest program `syscall-fuzz` as the container's init, making random
//!   system calls with random and mutated arguments (issue 12).

mod syscalls;

use anyhow::Result;
use clap::{Args, Subcommand};

pub use syscalls::SyscallFuzzArgs;

#[derive(Debug, Args)]
pub struct FuzzArgs {
    #[command(subcommand)]
    pub target: FuzzTarget,
}

#[derive(Debug, Subcommand)]
pub enum FuzzTarget {
    /// Random system calls from a guest program run as the init; the kernel must survive
    /// them and the sandbox exit with the fuzzer's status.
    Syscalls(SyscallFuzzArgs),
}

pub fn fuzz(args: FuzzArgs) -> Result<u8> {
    match args.target {
        FuzzTarget::Syscalls(args) => syscalls::fuzz(args),
    }
}
