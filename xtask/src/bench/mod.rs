//! `cargo xtask bench …`: one submodule per benchmark, sharing the report writers.

mod boot;
mod floor_kernel;
mod linux_guest;
mod report;

use anyhow::Result;

use crate::cli::{Bench, BenchArgs};

pub fn bench(args: BenchArgs) -> Result<u8> {
    match args.bench {
        Bench::Boot(args) => boot::bench(args),
    }?;
    Ok(0)
}
