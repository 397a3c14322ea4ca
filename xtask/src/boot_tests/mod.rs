//! Boot tests: each case boots the kernel once under QEMU and checks its console and
//! exit status.

mod cases;
mod checks;
mod container_checks;
mod nine_p;
mod runtime;
pub(crate) mod userland;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kernel::container::SandboxOptions;

use crate::bundle::{self, Bundle};
use crate::cmdline::kernel_cmdline;
use crate::launch::{self, Echo, LaunchOptions, Outcome};
use crate::qemu::{Accel, Invocation, Machine, MemorySize, Share};

pub use cases::{cases, filtered};
use checks::Check;
pub use nine_p::cases as nine_p_cases;
pub use runtime::cases as runtime_cases;
pub use userland::cases as userland_cases;
pub use userland::debian_cases;
pub use userland::docker_caps_with;

/// Generous: a case boots in well under a second under TCG; a hang must still end.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    machine: Machine,
    accel: Accel,
    memory: MemorySize,
    /// vCPUs the case boots with; `None`: the run's default ([`Host::cpus`]).
    cpus: Option<u32>,
    /// Kernel options before xtask adds host facts such as `tsc_khz=`.
    options: String,
    initrd: Option<PathBuf>,
    shares: Vec<Share>,
    checks: Vec<Check>,
    /// Fails today because of a kernel bug or gap (said here): reported as a known failure,
    /// not counted as failed; kept so it shows the day it passes.
    known_failure: Option<&'static str>,
    /// Cannot run on this host (a compiler its program needs is missing: said here): not
    /// booted, reported skipped, counted neither passed nor failed.
    skip: Option<String>,
    /// How long it may run before it counts as hung ([`CASE_TIMEOUT`] unless a case that
    /// does a lot on purpose says more).
    timeout: Duration,
    /// A case the host drives itself instead of one boot whose console the checks read
    /// (`cargo xtask run` with piped streams, a shell in a terminal).
    driver: Option<HostDriver>,
}

/// What a host-driven case runs: its failures, none when it passed.
type DriveCase = dyn Fn(&Case, Host<'_>) -> Vec<String> + Send + Sync;

/// Runs a host-driven case: its failures, none when it passed.
#[derive(Clone)]
pub struct HostDriver(Arc<DriveCase>);

impl HostDriver {
    pub fn new(run: impl Fn(&Case, Host<'_>) -> Vec<String> + Send + Sync + 'static) -> Self {
        HostDriver(Arc::new(run))
    }
}

impl std::fmt::Debug for HostDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostDriver")
    }
}

/// Host facts every case's command line shares.
#[derive(Debug, Clone, Copy)]
pub struct Host<'a> {
    pub kernel: &'a Path,
    pub tsc_khz: Option<u64>,
    /// vCPUs for the cases that do not ask for a number (`cargo xtask test --cpus`).
    pub cpus: u32,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub passed: usize,
    pub failed: Vec<String>,
    pub known_failures: Vec<String>,
    pub skipped: Vec<String>,
}

pub fn run_cases(cases: &[Case], host: Host<'_>) -> Summary {
    let mut summary = Summary::default();
    for (index, case) in cases.iter().enumerate() {
        let position = format!("{}/{}", index + 1, cases.len());
        if let Some(why) = &case.skip {
            summary.skipped.push(case.name.clone());
            println!(
                "xtask: boot test {position} {} … SKIPPED ({why})",
                case.name
            );
            continue;
        }
        if let Some(driver) = &case.driver {
            let started = Instant::now();
            let failures = (driver.0)(case, host);
            let wall = started.elapsed().as_secs_f64();
            if failures.is_empty() {
                summary.passed += 1;
                println!(
                    "xtask: boot test {position} {} … ok ({wall:.2} s)",
                    case.name
                );
            } else {
                summary.failed.push(case.name.clone());
                println!(
                    "xtask: boot test {position} {} … FAILED: {}",
                    case.name,
                    failures.join("; ")
                );
            }
            continue;
        }
        let invocation = case.invocation(host);
        let options = LaunchOptions {
            echo: Echo::Quiet,
            timeout: Some(case.timeout),
            inherit_stdin: false,
        };
        let outcome = launch::launch(&invocation, options);
        let failures = match &outcome {
            Err(error) => vec![error.to_string()],
            Ok(outcome) => case.failures(&invocation, outcome),
        };
        let wall = outcome
            .as_ref()
            .map_or(0.0, |outcome| outcome.wall.as_secs_f64());
        match (failures.is_empty(), case.known_failure) {
            (true, None) => {
                summary.passed += 1;
                println!(
                    "xtask: boot test {position} {} … ok ({wall:.2} s)",
                    case.name
                );
            }
            (true, Some(why)) => {
                summary.passed += 1;
                println!(
                    "xtask: boot test {position} {} … ok ({wall:.2} s), though marked a known failure ({why}): remove the mark",
                    case.name
                );
            }
            (false, Some(why)) => {
                summary.known_failures.push(case.name.clone());
                println!(
                    "xtask: boot test {position} {} … KNOWN FAILURE ({why}): {}",
                    case.name,
                    failures.join("; ")
                );
            }
            (false, None) => {
                summary.failed.push(case.name.clone());
                println!(
                    "xtask: boot test {position} {} … FAILED: {}",
                    case.name,
                    failures.join("; ")
                );
                report_failure(&invocation, outcome.as_ref().ok());
            }
        }
    }
    if !summary.failed.is_empty() {
        println!("xtask: failed boot tests: {}", summary.failed.join(", "));
    }
    if !summary.known_failures.is_empty() {
        println!(
            "xtask: known failures: {}",
            summary.known_failures.join(", ")
        );
    }
    if !summary.skipped.is_empty() {
        println!("xtask: skipped boot tests: {}", summary.skipped.join(", "));
    }
    let skipped = match summary.skipped.len() {
        0 => String::new(),
        count => format!(", {count} skipped"),
    };
    println!(
        "boot-tests: {} passed, {} failed, {} known failures{skipped}",
        summary.passed,
        summary.failed.len(),
        summary.known_failures.len()
    );
    summary
}

/// Enough to reproduce the failure by hand: the command line and all the output.
fn report_failure(invocation: &Invocation, outcome: Option<&Outcome>) {
    println!("---- {}", invocation.shell_line());
    let Some(outcome) = outcome else { return };
    println!("     console ({} bytes):", outcome.console.len());
    for line in outcome.console.lines() {
        println!("     | {line}");
    }
    for line in outcome.stderr.lines() {
        println!("     stderr| {line}");
    }
    println!("----");
}

impl Case {
    fn new(name: &str, machine: Machine, accel: Accel) -> Self {
        let suffix = if accel == Accel::Tcg {
            String::new()
        } else {
            format!("-{accel}")
        };
        Self {
            name: format!("{machine}-{name}{suffix}"),
            machine,
            accel,
            memory: MemorySize::from_mib(128),
            cpus: None,
            options: String::new(),
            initrd: None,
            shares: Vec::new(),
            checks: Vec::new(),
            known_failure: None,
            skip: None,
            timeout: CASE_TIMEOUT,
            driver: None,
        }
    }

    /// A case that runs long on purpose (thousands of processes, deep trees under TCG).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn memory(mut self, memory: MemorySize) -> Self {
        self.memory = memory;
        self
    }

    /// Boots the case with `cpus` vCPUs whatever the run's default.
    pub(crate) fn cpus(mut self, cpus: u32) -> Self {
        self.cpus = Some(cpus);
        self
    }

    fn options(mut self, options: &str) -> Self {
        self.options = options.to_owned();
        self
    }

    fn initrd(mut self, initrd: &Path) -> Self {
        self.initrd = Some(initrd.to_owned());
        self
    }

    fn share(mut self, tag: &str, path: &Path) -> Self {
        self.shares.push(Share {
            tag: tag.to_owned(),
            path: path.to_owned(),
            readonly: false,
        });
        self
    }

    fn shares(mut self, shares: &[Share]) -> Self {
        self.shares.extend_from_slice(shares);
        self
    }

    /// Boots `bundle` as `cargo xtask run --bundle` does: its spec as the initrd, its
    /// shares, and `bind_file=` for its file bind mounts.
    fn bundle(mut self, bundle: &Bundle) -> Self {
        self.initrd = Some(bundle.spec_file.clone());
        self.shares.extend_from_slice(&bundle.shares);
        for bind in &bundle.file_binds {
            self.options = format!("{} bind_file={}", self.options, bind.to_option_value())
                .trim_start()
                .to_owned();
        }
        self
    }

    /// Makes the host drive the case (see `driver`).
    pub(crate) fn driven_by(mut self, driver: HostDriver) -> Self {
        self.driver = Some(driver);
        self
    }

    pub(crate) fn accel(&self) -> Accel {
        self.accel
    }

    pub(crate) fn time_limit(&self) -> Duration {
        self.timeout
    }

    /// Marks the case as failing today for a reason outside the test (see `known_failure`).
    pub(crate) fn known_failure(mut self, why: &'static str) -> Self {
        self.known_failure = Some(why);
        self
    }

    /// Marks the case as one this host cannot run (see `skip`).
    pub(crate) fn skipped(mut self, why: String) -> Self {
        self.skip = Some(why);
        self
    }

    fn expect(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }

    fn invocation(&self, host: Host<'_>) -> Invocation {
        Invocation {
            machine: self.machine,
            accel: self.accel,
            memory: self.memory,
            cpus: self.cpus.unwrap_or(host.cpus),
            kernel: host.kernel.to_owned(),
            cmdline: kernel_cmdline(&self.options, host.tsc_khz),
            initrd: self.initrd.clone(),
            shares: self.shares.clone(),
        }
    }

    fn failures(&self, invocation: &Invocation, outcome: &Outcome) -> Vec<String> {
        let timeout = outcome
            .timed_out
            .then(|| format!("timed out after {} s", self.timeout.as_secs()));
        let checks = self
            .checks
            .iter()
            .filter_map(|check| check.verify(invocation, outcome).err());
        timeout.into_iter().chain(checks).collect()
    }
}

/// Directories the boot tests share with the guest over virtio-9p.
#[derive(Debug, Clone)]
pub struct TestShares {
    pub root: PathBuf,
    pub extra: PathBuf,
    /// A bundle with a directory and a file bind mount, loaded the way `run` loads one.
    pub bundle: Bundle,
}

/// The test bundle's spec: `/data` binds a directory (m0), `/etc/hosts` a file (m1).
const TEST_BUNDLE_SPEC: &str = r#"{
  "ociVersion": "1.0.2",
  "root": {"path": "rootfs"},
  "process": {"args": ["/bin/busybox", "true"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]},
  "mounts": [
    {"destination": "/data", "type": "bind", "source": "data"},
    {"destination": "/run", "type": "tmpfs", "options": ["mode=755"]},
    {"destination": "/etc/hosts", "type": "bind", "source": "hosts", "options": ["rbind", "ro"]}
  ]
}"#;

fn write_test_bundle(dir: &Path) -> Result<Bundle> {
    let bundle_dir = dir.join("bundle");
    for sub in ["rootfs", "data"] {
        let path = bundle_dir.join(sub);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
    }
    for (name, contents) in [
        ("hosts", "127.0.0.1 localhost\n"),
        ("config.json", TEST_BUNDLE_SPEC),
    ] {
        let path = bundle_dir.join(name);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(bundle::load(
        &bundle_dir,
        &SandboxOptions::default(),
        &[],
        &dir.join("bundle-run"),
    )?)
}

/// Makes (or refreshes) the shared directories, each with one file naming it.
pub fn write_test_shares(dir: &Path) -> Result<TestShares> {
    let shares = TestShares {
        root: dir.join("share-rootfs"),
        extra: dir.join("share-m0"),
        bundle: write_test_bundle(dir)?,
    };
    for (path, name) in [(&shares.root, "rootfs"), (&shares.extra, "m0")] {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        std::fs::write(path.join("share-name"), name)
            .with_context(|| format!("writing in {}", path.display()))?;
    }
    Ok(shares)
}

/// Writes the boot tests' PVH module: pseudo-random bytes, an odd length so that
/// nothing (loader, kernel copy, CRC) can lean on alignment.
pub fn write_test_module(dir: &Path) -> Result<TestModule> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("module.bin");
    let bytes = test_module_bytes();
    std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(TestModule {
        path,
        crc32: crc32fast::hash(&bytes),
        len: bytes.len(),
    })
}

/// The module file as written, with what the kernel must report about it.
#[derive(Debug, Clone)]
pub struct TestModule {
    pub path: PathBuf,
    pub crc32: u32,
    pub len: usize,
}

const TEST_MODULE_LEN: usize = 100 * 1024 + 3;

fn test_module_bytes() -> Vec<u8> {
    pseudo_random_bytes(0x9e37_79b9_7f4a_7c15, TEST_MODULE_LEN)
}

/// `len` bytes of xorshift64 from `seed`: deterministic, so a failure reproduces byte for
/// byte, and no two pages alike, so a lost or repeated page shows.
fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipped_case_is_neither_booted_nor_passed() {
        let case = Case::new("needs-a-compiler", Machine::Microvm, Accel::Tcg)
            .skipped("cc not found (apt-get install cc)".to_owned());
        // No kernel at this path: a boot would fail, so a pass or failure would show.
        let host = Host {
            kernel: Path::new("/nonexistent/kernel"),
            tsc_khz: None,
            cpus: 1,
        };
        let summary = run_cases(&[case], host);
        assert_eq!(summary.passed, 0);
        assert!(summary.failed.is_empty());
        assert_eq!(summary.skipped, ["microvm-needs-a-compiler"]);
    }

    #[test]
    fn test_module_is_unaligned_and_stable() {
        let bytes = test_module_bytes();
        assert_eq!(bytes.len() % 4, 3);
        assert_eq!(bytes, test_module_bytes());
        // Not a constant fill: a loader that drops or repeats a page would change the CRC.
        assert!(bytes.windows(2).any(|pair| pair[0] != pair[1]));
    }
}
