//! The `sandbox-runtime` command (runc's command line): parse, set up logging, run the
//! subcommand, and report a failure as runc does — on stderr, and as an `error` line in
//! `--log` (where containerd's shim reads it) — with exit status 1.

use std::process::ExitCode;

use clap::Parser;
use sandbox_runtime::cli::{Cli, Command};
use sandbox_runtime::commands::{self, Global};
use sandbox_runtime::logging::{self, Format};
use sandbox_runtime::state::{self, Root};
use sandbox_runtime::{backend, commands::info_version_text};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        print!("{}", info_version_text());
        return ExitCode::SUCCESS;
    }
    let log_format = match Format::parse(cli.global.log_format.as_deref()) {
        Ok(format) => format,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    // The monitor's stderr is the container's: without --log it logs beside its state.
    let log_path = match (&cli.global.log, &cli.command) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(Command::Monitor(args))) => Some(args.state_dir.join(state::MONITOR_LOG)),
        _ => None,
    };
    if let Err(error) = logging::init(log_path.as_deref(), log_format, cli.global.debug) {
        eprintln!("{error}");
        return ExitCode::FAILURE;
    }
    let global = Global {
        root: Root::new(cli.global.root.clone().unwrap_or_else(state::default_root)),
        log: cli.global.log.clone(),
        log_format,
        debug: cli.global.debug,
        kernel: cli.kernel.clone(),
    };
    let has_log_file = cli.global.log.is_some();
    match commands::run(cli, &global, backend::launch) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(255)),
        Err(error) => {
            if has_log_file {
                log::error!("{error}");
            }
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
