//! Boot tests with a real userland: busybox applets as the container's init, compared with
//! the same applet on the host over the same files; the test programs of
//! `xtask/guest-tests` (fs-test, null-deref, efault, timeouts, syscall-bench); the default bundle's
//! init; bad specs and bad inits with their exit statuses; the overlay and bind mounts
//! seen from the host afterwards; busybox `sh` scripts that start processes and signal
//! them, compared with the host; issue 13's thread, event and socket programs in Rust, C
//! and Go (`threads`); issue 14's dynamically linked programs (`dynamic`); issue 15's terminals (`terminals`: a C pty program, and
//! `cargo xtask run` driven with piped streams and in a tmux terminal); issue 16's control
//! channel driven through the runtime's `Sandbox` API (`control`); issue 17's
//! several-CPU cases (`smp`).

mod applets;
mod bad_bundles;
mod control;
mod debian;
mod dynamic;
mod fixtures;
mod fsx;
mod host_busybox;
pub mod many_files;
mod namespace;
mod pipes;
mod programs;
mod shell;
mod smp;
pub mod snapshot;
mod terminals;
mod threads;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use kernel::container::SandboxOptions;
use serde_json::Value;

use super::Case;
use super::checks::Check;
use super::container_checks::ContainerCheck;
use crate::bundle;
use crate::guest::TestPrograms;
use crate::guest::native::NativePrograms;
use crate::qemu::{Accel, Machine};
pub use debian::cases as debian_cases;
use fixtures::Fixtures;
pub use fixtures::docker_caps_with;

/// Every userland case; their files go under `fixtures_dir/userland`.
pub fn cases(
    accel: Accel,
    fixtures_dir: &Path,
    programs: &TestPrograms,
    native: &NativePrograms,
    init: &Path,
) -> Result<Vec<Case>> {
    let dir = fixtures_dir.join("userland");
    let fixtures = Fixtures::write(&dir, programs)?;
    let builder = Builder {
        fixtures: &fixtures,
        accel,
    };
    // Made first, run last: making them installs the C and Go programs in the shared root
    // and runs go-check on the host over its /tmp, and the cases below that check the
    // root is left unchanged take their snapshot of it when they are made.
    let thread_cases = threads::cases(&builder, native)?;
    // The same for issue 14's dynamically linked programs and their libraries.
    let dynamic_cases = dynamic::cases(&builder, native)?;
    let fsx_case = fsx::case(&builder, &native.fsx)?;
    let terminal_cases = terminals::cases(&builder, native)?;
    let smp_cases = smp::cases(&builder)?;
    let mut cases = applets::cases(&builder)?;
    cases.extend(programs::cases(&builder, &dir, init)?);
    cases.extend(bad_bundles::cases(&builder)?);
    cases.extend(namespace::cases(&builder)?);
    cases.extend(shell::cases(&builder)?);
    cases.extend(pipes::cases(&builder)?);
    cases.extend(thread_cases);
    cases.extend(dynamic_cases);
    cases.push(fsx_case);
    cases.extend(terminal_cases);
    cases.extend(smp_cases);
    let again = smp::again_at_4(&cases);
    cases.extend(again);
    cases.extend(control::cases(&builder)?);
    cases.extend(many_files::cases(&builder, &dir)?);
    Ok(cases)
}

/// Makes cases over the shared fixtures, each with its own bundle directory.
struct Builder<'a> {
    fixtures: &'a Fixtures,
    accel: Accel,
}

impl Builder<'_> {
    fn new_case(&self, name: &str) -> Case {
        Case::new(name, Machine::Microvm, self.accel)
    }

    /// A case running `args` with the usual spec (see [`Fixtures::spec`]); also returns the
    /// host directory behind the case's `/rw`.
    fn run(&self, name: &str, args: &[&str]) -> Result<(Case, PathBuf)> {
        self.with_spec(name, self.fixtures.spec(args))
    }

    /// A case booting `spec`, loaded as `cargo xtask run --bundle` loads it.
    fn with_spec(&self, name: &str, spec: Value) -> Result<(Case, PathBuf)> {
        let dir = self.fixtures.bundle_dir(name)?;
        let config = dir.join("config.json");
        std::fs::write(&config, serde_json::to_vec_pretty(&spec)?)
            .with_context(|| format!("writing {}", config.display()))?;
        let loaded = bundle::load(&dir, &SandboxOptions::default(), &[], &dir.join("scratch"))
            .with_context(|| format!("loading the bundle of boot test {name}"))?;
        Ok((self.new_case(name).bundle(&loaded), dir.join("rw")))
    }

    /// A case whose spec the host would refuse: the file goes in verbatim, with the root
    /// filesystem shared as `rootfs`, so the kernel's own checks meet it.
    fn raw_spec(&self, name: &str, config: &str) -> Result<Case> {
        let dir = self.fixtures.bundle_dir(name)?;
        let path = dir.join("config.json");
        std::fs::write(&path, config).with_context(|| format!("writing {}", path.display()))?;
        Ok(self
            .new_case(name)
            .initrd(&path)
            .share("rootfs", &self.fixtures.rootfs))
    }
}

fn output(expected: impl Into<String>) -> Check {
    Check::Container(ContainerCheck::Output(expected.into()))
}
