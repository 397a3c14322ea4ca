//! `cargo xtask`: the host-side tool that builds, boots, tests and benchmarks the kernel.

mod bench;
mod boot_tests;
mod bundle;
mod cargo;
mod cli;
use sandbox_runtime::cmdline;
mod console;
mod digest;
mod fuzz;
mod guest;
mod host;
mod launch;
mod oci;
mod one_program;
mod qemu;
mod rootfs;
mod run;
mod setup;
mod soak;
mod stdio;
mod test;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let is_run = matches!(cli.command, Command::Run(_));
    let result = match cli.command {
        Command::Build(args) => setup::for_build().and_then(|()| {
            let profile = cargo::Profile::from_debug_flag(args.debug);
            cargo::build_kernel(profile)?;
            cargo::build_runtime(profile).map(|_| 0)
        }),
        Command::Run(args) => run::run(args),
        Command::Test(args) => test::test(args),
        Command::Bench(args) => bench::bench(args),
        Command::Fuzz(args) => fuzz::fuzz(args),
        Command::Soak(args) => soak::soak(args),
        Command::Rootfs(args) => rootfs::rootfs(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            // `run` stands in for the container: its own failures must not look like the
            // container's statuses, so it uses docker's runtime-failure code.
            ExitCode::from(if is_run { run::RUNTIME_FAILURE } else { 1 })
        }
    }
}
