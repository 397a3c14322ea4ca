//! `cargo xtask bench …`: one submodule per benchmark, sharing the report writers.

mod boot;
mod container;
mod floor_kernel;
mod linux_guest;
mod nine_p;
mod report;
mod syscalls;

use anyhow::Result;

use crate::cli::{Bench, BenchArgs};

pub fn bench(args: BenchArgs) -> Result<u8> {
    match args.bench {
        Bench::Boot(args) => boot::bench(args),
        Bench::Syscalls(args) => syscalls::bench(args),
        Bench::NineP(args) => nine_p::bench(args),
        Bench::Container(args) => container::bench(args),
    }?;
    Ok(0)
}
