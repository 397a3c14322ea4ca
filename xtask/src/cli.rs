//! Command-line surface of `cargo xtask`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use kernel::container::{FileAccess, Overlay, SandboxOptions};

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
    /// Build the kernel ELF for x86_64-unknown-none and the OCI runtime (`sandbox-runtime`).
    Build(BuildArgs),
    /// Build the kernel and boot it; exits with the sandbox's exit status.
    Run(RunArgs),
    /// Host unit tests of the portable crates, then the boot tests under QEMU.
    Test(TestArgs),
    /// Benchmarks.
    Bench(BenchArgs),
    /// Fuzzing: coverage-guided (libFuzzer) of the kernel's parsers and the 9p client, and
    /// `syscalls`: random system calls from a guest program run as the init.
    Fuzz(FuzzArgs),
    /// The kernel under steady load for N minutes; free memory and 9p fids must stay flat.
    Soak(crate::soak::SoakArgs),
    /// A distribution's root filesystem as an OCI bundle (`rootfs debian DIR`).
    Rootfs(crate::rootfs::RootfsArgs),
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
    /// vCPUs (`-smp`); by default the bundle spec's CPU quota
    /// (`linux.resources.cpu.quota / period`, rounded up) when it has one, else 1.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub cpus: Option<u32>,
    /// Kernel command line options, e.g. "log=info test=heap"; they win over the sandbox
    /// flags below.
    #[arg(long, default_value = "")]
    pub append: String,
    /// File handed to the kernel as PVH module 0, instead of a bundle's spec (no shares).
    #[arg(long)]
    pub initrd: Option<PathBuf>,
    /// OCI bundle directory (`config.json` and the root it names); default: `qemu/bundle`.
    #[arg(long, conflicts_with = "initrd")]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// Keep stdin open and pass it to the container (`docker run -i`); without it the
    /// container's stdin is at end of file.
    #[arg(short = 'i', long, conflicts_with = "initrd")]
    pub interactive: bool,
    /// Give the container a terminal (`docker run -t`: the spec's `process.terminal`);
    /// with `-i` the host terminal is put in raw mode and its size follows along.
    #[arg(short = 't', long, conflicts_with = "initrd")]
    pub tty: bool,
    /// The container's arguments, replacing the spec's `process.args` (after `--`).
    #[arg(last = true, conflicts_with = "initrd")]
    pub args: Vec<String>,
}

/// The sandbox options (kernel command line `overlay=`, `file_access=`,
/// `file_access_mounts=`, `log=`).
#[derive(Debug, Clone, Copy, Args)]
pub struct SandboxArgs {
    /// Memory overlay over the root (`root`), also over writable bind mounts (`all`), or none.
    #[arg(long, value_enum, default_value_t = OverlayArg::Root)]
    pub overlay: OverlayArg,
    /// The root's files: `exclusive` lets the kernel cache them.
    #[arg(long, value_enum, default_value_t = FileAccessArg::Exclusive)]
    pub file_access: FileAccessArg,
    /// Bind mounts' files: `shared` revalidates against the host.
    #[arg(long, value_enum, default_value_t = FileAccessArg::Shared)]
    pub file_access_mounts: FileAccessArg,
    /// Kernel log level.
    #[arg(long, value_enum, default_value_t = LogArg::Warn)]
    pub log: LogArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OverlayArg {
    None,
    Root,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileAccessArg {
    Exclusive,
    Shared,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogArg {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl SandboxArgs {
    /// As the kernel's plan compiler takes them (the host checks the spec with these).
    pub fn sandbox_options(self) -> SandboxOptions {
        SandboxOptions {
            overlay: self.overlay.kernel(),
            file_access: self.file_access.kernel(),
            file_access_mounts: self.file_access_mounts.kernel(),
        }
    }

    /// `key=value` words for the kernel command line, in the kernel's spelling.
    pub fn cmdline_words(self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("overlay", self.overlay.name()),
            ("file_access", self.file_access.name()),
            ("file_access_mounts", self.file_access_mounts.name()),
            ("log", self.log.name()),
        ]
    }
}

impl OverlayArg {
    fn kernel(self) -> Overlay {
        match self {
            OverlayArg::None => Overlay::None,
            OverlayArg::Root => Overlay::Root,
            OverlayArg::All => Overlay::All,
        }
    }

    fn name(self) -> &'static str {
        match self {
            OverlayArg::None => "none",
            OverlayArg::Root => "root",
            OverlayArg::All => "all",
        }
    }
}

impl FileAccessArg {
    fn kernel(self) -> FileAccess {
        match self {
            FileAccessArg::Exclusive => FileAccess::Exclusive,
            FileAccessArg::Shared => FileAccess::Shared,
        }
    }

    fn name(self) -> &'static str {
        match self {
            FileAccessArg::Exclusive => "exclusive",
            FileAccessArg::Shared => "shared",
        }
    }
}

impl LogArg {
    pub fn name(self) -> &'static str {
        match self {
            LogArg::Off => "off",
            LogArg::Error => "error",
            LogArg::Warn => "warn",
            LogArg::Info => "info",
            LogArg::Debug => "debug",
            LogArg::Trace => "trace",
        }
    }
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
    /// vCPUs for every boot test that does not ask for its own number (`-smp`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub cpus: u32,
}

/// `cargo xtask fuzz TARGET [--seconds N]`; exit status 3 when an input fails.
#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// The target to fuzz (`--list` names them).
    #[arg(required_unless_present = "list")]
    pub target: Option<String>,
    /// List the targets and what each one feeds to which code.
    #[arg(long, conflicts_with = "target")]
    pub list: bool,
    /// How long to fuzz.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: u64,
    /// Stop after this many executions (if that comes before `--seconds`).
    #[arg(long)]
    pub runs: Option<u64>,
    /// Run the target once on this input (a reproducer the fuzzer saved) instead of fuzzing.
    #[arg(long, conflicts_with_all = ["seconds", "runs"])]
    pub reproduce: Option<PathBuf>,
    /// Further libFuzzer flags (after `--`), e.g. `-- -seed=1 -only_ascii=1`.
    #[arg(last = true)]
    pub libfuzzer_args: Vec<String>,
    /// The `syscalls` target's options (`--seconds`, `--runs`, `--reproduce` are
    /// libFuzzer's).
    #[command(flatten, next_help_heading = "The syscalls target")]
    pub syscalls: crate::fuzz::SyscallFuzzArgs,
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
    /// 9p throughput and lookup cost (the kernel's `test=9p-bench`), and a Linux guest's.
    #[command(name = "9p")]
    NineP(CompareBenchArgs),
    /// getppid and stat (tmpfs, root, 9p bind mount) cost: our sandbox against a Linux guest.
    Syscalls(CompareBenchArgs),
    /// Container start: PVH entry → init and the namespace build, for the default bundle and
    /// one with 100 mounts (`--no-linux` has no effect: there is no Linux side).
    Container(CompareBenchArgs),
    /// fork+exit+wait, fork+exec+wait, pipe round trip and pipe throughput: our sandbox
    /// against a Linux guest, with the aims (times ≤ half Linux's, throughput ≥ 2×).
    Processes(CompareBenchArgs),
    /// pthread_create+join, futex and eventfd+epoll round trips between threads, Unix socket
    /// round trip and throughput: our sandbox against a Linux guest, with `processes`' aims.
    Threads(CompareBenchArgs),
    /// Scaling over 1, 2 and 4 vCPUs of a CPU-bound parallel program and a fork+exec
    /// storm: our sandbox against a Linux guest with the same vCPUs.
    Smp(CompareBenchArgs),
    /// Debian programs (python3 -c pass, ls -la /usr/bin, bash -c true) on a Debian root
    /// over 9p: our sandbox against a Linux guest, first run and warm runs.
    Images(CompareBenchArgs),
    /// `podman run --rm --network none IMAGE true` with sandbox-runtime, runc and crun as
    /// podman's runtime, side by side (needs root, podman, runc, crun).
    Runtime(RuntimeBenchArgs),
}

#[derive(Debug, Args)]
pub struct RuntimeBenchArgs {
    /// `podman run`s per runtime (after one warm-up each).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
}

/// A benchmark run on both our kernel and a Linux guest.
#[derive(Debug, Args)]
pub struct CompareBenchArgs {
    #[command(flatten)]
    pub accel: AccelArgs,
    /// Boots per machine and guest.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Which machines to measure (default: all).
    #[arg(long, value_enum)]
    pub machine: Vec<Machine>,
    /// Skip the Linux guest (no download, our figures alone).
    #[arg(long)]
    pub no_linux: bool,
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
    /// Also boot Debian's Linux kernel on the same QEMU (downloaded once into
    /// TARGET/linux-guest) and report the ratio.
    #[arg(long)]
    pub linux: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words xtask writes are the ones the kernel reads, meaning the same thing.
    #[test]
    fn sandbox_words_are_the_kernels() {
        for overlay in OverlayArg::value_variants() {
            assert_eq!(Overlay::from_name(overlay.name()), Some(overlay.kernel()));
        }
        for access in FileAccessArg::value_variants() {
            assert_eq!(FileAccess::from_name(access.name()), Some(access.kernel()));
        }
        for log in LogArg::value_variants() {
            let line = format!("log={}", log.name());
            assert!(
                kernel::options::Options::parse(line.as_bytes()).is_ok(),
                "{line}"
            );
        }
    }

    #[test]
    fn defaults_are_the_kernels() {
        let cli = Cli::parse_from(["xtask", "run"]);
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.sandbox.sandbox_options(), SandboxOptions::default());
        assert_eq!(run.sandbox.log, LogArg::Warn);
        assert!(run.bundle.is_none() && run.args.is_empty());
    }

    #[test]
    fn fuzz_takes_a_target_or_list() {
        let cli = Cli::parse_from(["xtask", "fuzz", "spec", "--seconds", "30", "--", "-seed=1"]);
        let Command::Fuzz(fuzz) = cli.command else {
            panic!("not fuzz")
        };
        assert_eq!(fuzz.target.as_deref(), Some("spec"));
        assert_eq!((fuzz.seconds, fuzz.runs), (30, None));
        assert_eq!(fuzz.libfuzzer_args, ["-seed=1"]);
        let Command::Fuzz(list) = Cli::parse_from(["xtask", "fuzz", "--list"]).command else {
            panic!("not fuzz")
        };
        assert!(list.list && list.target.is_none());
        assert!(Cli::try_parse_from(["xtask", "fuzz"]).is_err());
        assert!(Cli::try_parse_from(["xtask", "fuzz", "elf", "--seconds", "0"]).is_err());
    }

    #[test]
    fn container_args_follow_the_double_dash() {
        let cli = Cli::parse_from([
            "xtask",
            "run",
            "--bundle",
            "b",
            "--overlay",
            "all",
            "--",
            "sh",
            "-c",
            "exit 3",
        ]);
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.bundle.as_deref(), Some(std::path::Path::new("b")));
        assert_eq!(run.sandbox.overlay, OverlayArg::All);
        assert_eq!(run.args, ["sh", "-c", "exit 3"]);
        assert!(Cli::try_parse_from(["xtask", "run", "--bundle", "b", "--initrd", "f"]).is_err());
    }
}
