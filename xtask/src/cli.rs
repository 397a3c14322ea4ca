//! Command-line surface of `cargo xtask`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::qemu::{AccelRequest, Machine, MemorySize};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Build, run, test and bench the sandbox kernel under QEMU"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the kernel ELF for x86_64-unknown-none.
    Build(BuildArgs),
    /// Build the kernel and boot it; exits with the sandbox's exit status.
    Run(RunArgs),
    /// Host unit tests of the portable crates, then the boot tests under QEMU.
    Test(TestArgs),
    /// Benchmarks.
    Bench(BenchArgs),
}

#[derive(Debug, Clone, Copy, Args)]
pub struct BuildArgs {
    /// Build with the dev profile instead of release.
    #[arg(long)]
    pub debug: bool,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct AccelArgs {
    /// Accelerator: `auto` uses KVM only on hosts with hardware virtualization.
    #[arg(long, value_enum, default_value_t = AccelRequest::Auto)]
    pub accel: AccelRequest,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub accel: AccelArgs,
    /// QEMU machine profile.
    #[arg(long, value_enum, default_value_t = Machine::Microvm)]
    pub machine: Machine,
    /// Guest memory, QEMU syntax (`64M`, `4G`).
    #[arg(long, default_value = "128M")]
    pub memory: MemorySize,
    /// Kernel command line options, e.g. "log=info test=heap".
    #[arg(long, default_value = "")]
    pub append: String,
    /// File handed to the kernel as PVH module 0.
    #[arg(long)]
    pub initrd: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub accel: AccelArgs,
    /// Only run the boot tests whose name contains this.
    #[arg(long)]
    pub filter: Option<String>,
    /// Skip the host unit tests (`cargo test`) and go straight to the boot tests.
    #[arg(long)]
    pub boot_only: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub bench: Bench,
}

#[derive(Debug, Subcommand)]
pub enum Bench {
    /// Guest time from PVH entry to `ready`, and host wall time of a whole boot.
    Boot(BootBenchArgs),
}

#[derive(Debug, Args)]
pub struct BootBenchArgs {
    #[command(flatten)]
    pub accel: AccelArgs,
    /// Boots per machine.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Which machines to measure (default: all).
    #[arg(long, value_enum)]
    pub machine: Vec<Machine>,
}
