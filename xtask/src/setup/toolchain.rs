//! The pinned Rust toolchain, completed: rustup installs a toolchain's targets and
//! components from `rust-toolchain.toml` only when it installs the toolchain itself, so a
//! machine that already had that version (a CI image, a second checkout) lacks the kernel's
//! `x86_64-unknown-none` and the guest programs' `x86_64-unknown-linux-musl`.
//!
//! We ask rustup which toolchain is active in the workspace (the file's pin, or the user's
//! `RUSTUP_TOOLCHAIN`/`+toolchain` override: that is the one that will build) and add what
//! it lacks. Without rustup we check the compiler's sysroot and name what to install.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::cargo::workspace_root;
use crate::host;

pub const TOOLCHAIN_FILE: &str = "rust-toolchain.toml";

/// The `[toolchain]` table of `rust-toolchain.toml`: what the build needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Pin {
    pub channel: String,
    #[serde(default)]
    pub components: Vec<String>,
    #[serde(default)]
    pub targets: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ToolchainFile {
    toolchain: Pin,
}

impl Pin {
    pub fn parse(text: &str) -> Result<Pin> {
        let file: ToolchainFile = toml::from_str(text)?;
        Ok(file.toolchain)
    }

    pub fn read(workspace: &Path) -> Result<Pin> {
        let path = workspace.join(TOOLCHAIN_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Pin::parse(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// What a toolchain lacks of a pin.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Missing {
    pub targets: Vec<String>,
    pub components: Vec<String>,
}

impl Missing {
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.components.is_empty()
    }

    /// `installed_components` as rustup lists them: `clippy-x86_64-unknown-linux-gnu` (the
    /// name, then the host's triple, which is always among the installed targets), or a bare
    /// name for the few that carry no triple (`rust-src`).
    pub fn of(pin: &Pin, installed_targets: &[&str], installed_components: &[&str]) -> Missing {
        let has_component = |name: &str| {
            installed_components.iter().any(|installed| {
                *installed == name
                    || installed
                        .strip_prefix(name)
                        .and_then(|rest| rest.strip_prefix('-'))
                        .is_some_and(|triple| installed_targets.contains(&triple))
            })
        };
        Missing {
            targets: pin
                .targets
                .iter()
                .filter(|target| !installed_targets.contains(&target.as_str()))
                .cloned()
                .collect(),
            components: pin
                .components
                .iter()
                .filter(|component| !has_component(component))
                .cloned()
                .collect(),
        }
    }
}

/// Makes sure the toolchain that will build has every target and component the pin names.
/// Prints one line when it installs something, nothing when all is there.
pub fn ensure_toolchain() -> Result<()> {
    let workspace = workspace_root();
    let pin = Pin::read(workspace)?;
    if host::find_in_path("rustup").is_none() {
        return check_without_rustup(&pin);
    }
    let toolchain = active_toolchain(workspace)?;
    let targets = rustup_lines(
        workspace,
        &["target", "list", "--installed", "--toolchain", &toolchain],
    )?;
    let components = rustup_lines(
        workspace,
        &[
            "component",
            "list",
            "--installed",
            "--toolchain",
            &toolchain,
        ],
    )?;
    let missing = Missing::of(
        &pin,
        &targets.iter().map(String::as_str).collect::<Vec<_>>(),
        &components.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    if missing.is_empty() {
        return Ok(());
    }
    let wanted: Vec<&str> = missing
        .targets
        .iter()
        .chain(&missing.components)
        .map(String::as_str)
        .collect();
    eprintln!(
        "xtask: toolchain {toolchain} lacks {} ({TOOLCHAIN_FILE}); adding with rustup…",
        wanted.join(", ")
    );
    let started = Instant::now();
    if !missing.targets.is_empty() {
        rustup_add(workspace, "target", &toolchain, &missing.targets)?;
    }
    if !missing.components.is_empty() {
        rustup_add(workspace, "component", &toolchain, &missing.components)?;
    }
    eprintln!(
        "xtask: toolchain {toolchain} ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The toolchain rustup resolves in the workspace (first word of `rustup show
/// active-toolchain`, e.g. `1.95.0-x86_64-unknown-linux-gnu`).
fn active_toolchain(workspace: &Path) -> Result<String> {
    let output = Command::new("rustup")
        .args(["show", "active-toolchain"])
        .current_dir(workspace)
        .output()
        .context("running rustup show active-toolchain")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.split_whitespace().next() {
        Some(name) if output.status.success() => Ok(name.to_owned()),
        _ => bail!(
            "rustup has no active toolchain here: {}\n    run: rustup toolchain install (in {})",
            String::from_utf8_lossy(&output.stderr).trim(),
            workspace.display()
        ),
    }
}

fn rustup_lines(workspace: &Path, args: &[&str]) -> Result<Vec<String>> {
    let output = Command::new("rustup")
        .args(args)
        .current_dir(workspace)
        .output()
        .with_context(|| format!("running rustup {}", args.join(" ")))?;
    if !output.status.success() {
        bail!(
            "rustup {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.split_whitespace().next().unwrap_or("").to_owned())
        .filter(|name| !name.is_empty())
        .collect())
}

fn rustup_add(workspace: &Path, kind: &str, toolchain: &str, names: &[String]) -> Result<()> {
    let status = Command::new("rustup")
        .args([kind, "add", "--toolchain", toolchain])
        .args(names)
        .current_dir(workspace)
        .status()
        .with_context(|| format!("running rustup {kind} add"))?;
    if !status.success() {
        bail!(
            "rustup {kind} add --toolchain {toolchain} {} failed ({status}); no network?",
            names.join(" ")
        );
    }
    Ok(())
}

/// A compiler installed without rustup (a distribution's rustc): the targets must already be
/// in its sysroot, or we say what to do. Components (rustfmt, clippy) are for developers and
/// are not checked.
fn check_without_rustup(pin: &Pin) -> Result<()> {
    let output = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .context("running rustc --print sysroot (is Rust installed?)")?;
    let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let absent: Vec<&str> = pin
        .targets
        .iter()
        .filter(|target| {
            !Path::new(&sysroot)
                .join("lib/rustlib")
                .join(target)
                .is_dir()
        })
        .map(String::as_str)
        .collect();
    if absent.is_empty() {
        return Ok(());
    }
    bail!(
        "this Rust has no standard library for {} and rustup is not on PATH; install rustup \
         (https://rustup.rs: curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh), \
         then run `rustup toolchain install` in {}",
        absent.join(", "),
        workspace_root().display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"[toolchain]
channel = "1.95.0"
components = ["rustfmt", "clippy"]
targets = ["x86_64-unknown-none", "x86_64-unknown-linux-musl"]
profile = "minimal"
"#;

    #[test]
    fn the_workspace_pin_parses() {
        let pin = Pin::read(workspace_root()).unwrap();
        assert!(!pin.channel.is_empty());
        assert!(
            pin.targets
                .iter()
                .any(|target| target == crate::cargo::KERNEL_TARGET)
        );
        assert!(
            pin.targets
                .iter()
                .any(|target| target == crate::guest::GUEST_TARGET)
        );
    }

    #[test]
    fn a_pin_reads_every_field() {
        let pin = Pin::parse(FILE).unwrap();
        assert_eq!(pin.channel, "1.95.0");
        assert_eq!(pin.components, ["rustfmt", "clippy"]);
        assert_eq!(
            pin.targets,
            ["x86_64-unknown-none", "x86_64-unknown-linux-musl"]
        );
        assert!(Pin::parse("[toolchain]\n").is_err(), "channel is required");
    }

    #[test]
    fn missing_lists_only_what_rustup_lacks() {
        let pin = Pin::parse(FILE).unwrap();
        let missing = Missing::of(
            &pin,
            &["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl"],
            &[
                "cargo-x86_64-unknown-linux-gnu",
                "rustfmt-x86_64-unknown-linux-gnu",
            ],
        );
        assert_eq!(missing.targets, ["x86_64-unknown-none"]);
        assert_eq!(missing.components, ["clippy"]);
        let complete = Missing::of(
            &pin,
            &[
                "x86_64-unknown-linux-gnu",
                "x86_64-unknown-none",
                "x86_64-unknown-linux-musl",
            ],
            &[
                "clippy-x86_64-unknown-linux-gnu",
                "rustfmt-x86_64-unknown-linux-gnu",
            ],
        );
        assert!(complete.is_empty());
    }

    #[test]
    fn a_component_is_not_mistaken_for_a_longer_name() {
        let pin = Pin {
            channel: "1.95.0".into(),
            components: vec!["rust".into(), "rust-src".into()],
            targets: Vec::new(),
        };
        let missing = Missing::of(
            &pin,
            &["x86_64-unknown-linux-gnu"],
            &["rust-docs-x86_64-unknown-linux-gnu", "rust-src"],
        );
        assert_eq!(missing.components, ["rust"]);
    }
}
