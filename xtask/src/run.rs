//! `cargo xtask run`: build, boot once, exit with the sandbox's status.

use anyhow::Result;

use crate::cargo::{self, Profile};
use crate::cli::RunArgs;
use crate::cmdline::kernel_cmdline;
use crate::console::ExitStatus;
use crate::host;
use crate::launch::{self, Echo, LaunchOptions};
use crate::qemu::{self, Invocation};
use crate::setup;

/// Docker's status for "the runtime failed", as opposed to the container's own status.
pub const RUNTIME_FAILURE: u8 = 125;

pub fn run(args: RunArgs) -> Result<u8> {
    setup::ensure_qemu()?;
    let kernel = cargo::build_kernel(Profile::from_debug_flag(args.build.debug))?;
    let invocation = Invocation {
        machine: args.machine,
        accel: qemu::choose_accel(args.accel.accel),
        memory: args.memory,
        kernel,
        cmdline: kernel_cmdline(&args.append, host::tsc_khz(&host::cpuinfo())),
        initrd: args.initrd,
        shares: Vec::new(),
    };
    eprintln!(
        "xtask: booting {} ({}, {}): {}",
        invocation.machine, invocation.accel, invocation.memory, invocation.cmdline
    );
    let options = LaunchOptions {
        echo: Echo::Live,
        timeout: None,
        inherit_stdin: true,
    };
    let outcome = launch::launch(&invocation, options)?;
    Ok(match outcome.exit_status() {
        ExitStatus::Reported(code) => code,
        ExitStatus::FromDebugExit(code) => {
            eprintln!("xtask: no exit line on the console; status {code} from isa-debug-exit");
            code
        }
        ExitStatus::Missing => {
            eprintln!(
                "xtask: sandbox died without an exit status (QEMU {})",
                describe_qemu_end(outcome.qemu_code)
            );
            RUNTIME_FAILURE
        }
    })
}

pub fn describe_qemu_end(code: Option<i32>) -> String {
    code.map_or_else(
        || "killed by a signal".to_owned(),
        |code| format!("exit status {code}"),
    )
}
