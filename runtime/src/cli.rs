//! runc's command line (youki's `liboci-cli` structs for the subcommands and global flags),
//! plus our `--kernel`, runc's other global flags accepted, and two hidden subcommands the
//! runtime runs itself: the monitor `create` leaves behind and the waiter `exec --detach`
//! leaves behind.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use liboci_cli::{
    Create, Delete, Exec, Features, GlobalOpts, Kill, List, Pause, Ps, Resume, Start, State,
};

#[derive(Debug, Parser)]
#[command(
    name = "sandbox-runtime",
    about = "An OCI runtime (runc's command line) that runs each container in its own sandbox-kernel VM",
    disable_version_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    /// Print the version (runc's form: name, version, spec).
    #[arg(short = 'v', long)]
    pub version: bool,
    /// The sandbox kernel ELF; default: $SANDBOX_RUNTIME_KERNEL, `sandbox-kernel` beside
    /// this binary, or the workspace's build.
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// Accepted as runc does (rootless or not follows from the user running us).
    #[arg(long, value_name = "true|false|auto", hide = true)]
    pub rootless: Option<String>,
    /// Accepted as runc does (no checkpoints here).
    #[arg(long, value_name = "PATH", hide = true)]
    pub criu: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container: its sandbox is built and its init loaded, not started.
    Create(Create),
    /// Start the init of a created container.
    Start(Start),
    /// The container's state (runtime-spec JSON).
    State(State),
    /// Send a signal to the container's init (or every process with --all).
    Kill(Kill),
    /// Tear the container down.
    Delete(Delete),
    /// Run another process in a running container.
    Exec(Exec),
    /// The container's processes (guest pids).
    Ps(Ps),
    /// Stop scheduling every process of the container.
    Pause(Pause),
    /// Undo pause.
    Resume(Resume),
    /// What this runtime supports (runtime-spec features JSON).
    Features(Features),
    /// The containers under --root.
    List(List),
    #[command(name = "__monitor", hide = true)]
    Monitor(MonitorArgs),
    #[command(name = "__exec-wait", hide = true)]
    ExecWait(ExecWaitArgs),
}

/// The monitor `create` spawns (see `monitor.rs`).
#[derive(Debug, Args)]
pub struct MonitorArgs {
    #[arg(long)]
    pub state_dir: PathBuf,
    #[arg(long)]
    pub bundle: PathBuf,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    #[arg(long)]
    pub terminal: bool,
    #[arg(long)]
    pub kernel_path: PathBuf,
    #[arg(long)]
    pub memory_mib: Option<u64>,
    /// vCPUs (from the spec's CPU quota).
    #[arg(long, default_value_t = 1)]
    pub cpus: u32,
    /// The inherited descriptor `create` reads our readiness from.
    #[arg(long)]
    pub ready_fd: i32,
}

/// The process `exec --detach` leaves: it waits for the exec'd process and exits with its
/// status, passing signals and terminal sizes on meanwhile.
#[derive(Debug, Args)]
pub struct ExecWaitArgs {
    #[arg(long)]
    pub state_dir: PathBuf,
    #[arg(long)]
    pub exec: u32,
    /// The exec's pty slave (`/dev/pts/N`), to follow its size.
    #[arg(long)]
    pub tty: Option<PathBuf>,
    #[arg(long)]
    pub ready_fd: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command lines conmon, podman and containerd's shim were seen to use.
    #[test]
    fn callers_command_lines() {
        let cli = Cli::parse_from([
            "rt",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "--console-socket",
            "/s",
            "id1",
        ]);
        let Some(Command::Create(create)) = cli.command else {
            panic!("not create")
        };
        assert_eq!(create.container_id, "id1");
        assert_eq!(create.pid_file.as_deref(), Some(std::path::Path::new("/p")));

        let cli = Cli::parse_from([
            "rt",
            "--root",
            "/run/containerd/runc/k8s.io",
            "--log",
            "/b/log.json",
            "--log-format",
            "json",
            "--systemd-cgroup",
            "kill",
            "--all",
            "id1",
            "9",
        ]);
        assert_eq!(cli.global.log_format.as_deref(), Some("json"));
        assert!(cli.global.systemd_cgroup);
        let Some(Command::Kill(kill)) = cli.command else {
            panic!("not kill")
        };
        assert!(kill.all);
        assert_eq!(
            (kill.container_id.as_str(), kill.signal.as_str()),
            ("id1", "9")
        );

        let cli = Cli::parse_from([
            "rt",
            "exec",
            "--pid-file",
            "/x/exec_pid",
            "--process",
            "/x/exec-process-1",
            "--detach",
            "--console-socket",
            "/x/sock",
            "id1",
        ]);
        let Some(Command::Exec(exec)) = cli.command else {
            panic!("not exec")
        };
        assert!(exec.detach && exec.command.is_empty());

        let cli = Cli::parse_from(["rt", "exec", "-t", "id1", "sh", "-c", "echo hi"]);
        let Some(Command::Exec(exec)) = cli.command else {
            panic!("not exec")
        };
        assert!(exec.tty);
        assert_eq!(exec.command, ["sh", "-c", "echo hi"]);

        let cli = Cli::parse_from(["rt", "ps", "--format", "json", "id1"]);
        assert!(matches!(cli.command, Some(Command::Ps(ps)) if ps.format == "json"));
        assert!(Cli::parse_from(["rt", "--version"]).version);
        assert!(
            Cli::parse_from(["rt", "--rootless", "false", "list"])
                .rootless
                .is_some()
        );
    }
}
