//! `cargo xtask run`: build, boot once, exit with the sandbox's status.

use std::path::PathBuf;

use anyhow::Result;

use crate::bundle::{self, Bundle, Overrides};
use crate::cargo::{self, Profile};
use crate::cli::RunArgs;
use crate::cmdline::{kernel_cmdline, with_sandbox_options};
use crate::console::ExitStatus;
use crate::guest;
use crate::host;
use crate::launch;
use crate::qemu::{self, Invocation};
use crate::setup;
use crate::stdio::{self, Streams};

/// Docker's status for "the runtime failed", as opposed to the container's own status.
pub const RUNTIME_FAILURE: u8 = 125;

pub fn run(args: RunArgs) -> Result<u8> {
    setup::for_run()?;
    // The bundle first: a spec the guest would refuse stops here, before a build or QEMU.
    let bundle = load_bundle(&args)?;
    let kernel = cargo::build_kernel(Profile::from_debug_flag(args.build.debug))?;
    let mut sandbox: Vec<(&str, String)> = args
        .sandbox
        .cmdline_words()
        .into_iter()
        .map(|(key, value)| (key, value.to_owned()))
        .collect();
    // The container's streams on ports of their own, apart from the kernel's lines.
    let (key, value) = stdio::KERNEL_OPTION;
    sandbox.push((key, value.to_owned()));
    let cpus = args.cpus.unwrap_or_else(|| {
        bundle
            .as_ref()
            .and_then(|bundle| std::fs::read(&bundle.spec_file).ok())
            .and_then(|spec| sandbox_runtime::spec::cpus_for_quota(&spec))
            .unwrap_or(1)
    });
    let (initrd, shares) = match bundle {
        Some(bundle) => {
            sandbox.extend(
                bundle
                    .file_binds
                    .iter()
                    .map(|bind| ("bind_file", bind.to_option_value())),
            );
            (Some(bundle.spec_file), bundle.shares)
        }
        None => (args.initrd, Vec::new()),
    };
    let invocation = Invocation {
        machine: args.machine,
        accel: qemu::choose_accel(args.accel.accel),
        memory: args.memory,
        cpus,
        kernel,
        cmdline: kernel_cmdline(
            &with_sandbox_options(&args.append, &sandbox),
            host::tsc_khz(&host::cpuinfo()),
        ),
        initrd,
        shares,
    };
    launch::announce(&invocation);
    let streams = Streams {
        interactive: args.interactive,
        tty: args.tty,
    };
    let outcome = stdio::launch(&invocation, streams, &cargo::target_dir()?.join("xtask"))?;
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

/// `--bundle DIR`, or the default bundle when neither it nor `--initrd` is given.
fn load_bundle(args: &RunArgs) -> Result<Option<Bundle>> {
    if args.initrd.is_some() {
        return Ok(None);
    }
    let target = cargo::target_dir()?;
    let dir: PathBuf = match &args.bundle {
        Some(dir) => dir.clone(),
        None => {
            let init = guest::build_init(&target)?;
            let (dir, notes) = bundle::prepare_default_bundle(&target, &init)?;
            eprintln!(
                "xtask: default bundle ({}) at {}",
                bundle::DEFAULT_BUNDLE,
                dir.display()
            );
            notes.iter().for_each(|note| eprintln!("xtask: {note}"));
            dir
        }
    };
    // `-t` is `docker run -t`: the spec gets a terminal, the size of ours if we have one.
    let overrides = Overrides {
        args: &args.args,
        terminal: args.tty.then_some(true),
        console_size: args.tty.then(stdio::terminal_size).flatten(),
    };
    let loaded = bundle::load_with(
        &dir,
        &args.sandbox.sandbox_options(),
        &overrides,
        &target.join("xtask").join("run"),
    )?;
    loaded
        .warnings
        .iter()
        .for_each(|warning| eprintln!("xtask: warning: {warning}"));
    let tags: Vec<&str> = loaded
        .shares
        .iter()
        .map(|share| share.tag.as_str())
        .collect();
    eprintln!("xtask: bundle {}: 9p {}", dir.display(), tags.join(", "));
    Ok(Some(loaded))
}

pub fn describe_qemu_end(code: Option<i32>) -> String {
    code.map_or_else(
        || "killed by a signal".to_owned(),
        |code| format!("exit status {code}"),
    )
}
