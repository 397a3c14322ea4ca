//! OCI bundles on the host: a directory with `config.json` (the OCI runtime spec) and the
//! root filesystem it names, turned into what QEMU needs: the spec as the initrd, one
//! virtio-9p share per channel, and `bind_file=` notes. Shared by the runtime's sandboxes
//! and `xtask` (`cargo xtask run --bundle DIR`, the tests, the benchmarks).
//!
//! Sits between the callers and `qemu`: `load` checks the spec (the kernel's own checks via
//! the `kernel` library, then oci-spec's model as a second opinion), `channels` maps it to
//! shares (DESIGN "9p channel assignment").

pub mod channels;
mod error;

use std::path::{Path, PathBuf};

use kernel::container::{FileBind, SandboxOptions, Spec, SpecError, compile};
use serde_json::Value;

pub use error::BundleError;

use crate::qemu::Share;

/// A bundle ready to boot.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The file QEMU hands in as the initrd: `DIR/config.json` itself, or a rewritten copy
    /// when `run` was given the container's arguments.
    pub spec_file: PathBuf,
    pub shares: Vec<Share>,
    /// For the kernel command line (`bind_file=`).
    pub file_binds: Vec<FileBind>,
    /// Said on stderr, not fatal.
    pub warnings: Vec<String>,
}

/// Reads and checks `DIR/config.json` and the paths it names. With `args`, the container
/// runs them instead of `process.args` (like `docker run IMAGE ARGS`), from a copy of the
/// spec written under `scratch`.
pub fn load(
    dir: &Path,
    options: &SandboxOptions,
    args: &[String],
    scratch: &Path,
) -> Result<Bundle, BundleError> {
    load_with(
        dir,
        options,
        &Overrides {
            args,
            ..Overrides::default()
        },
        scratch,
    )
}

/// What `cargo xtask run` changes in a bundle's spec, as `docker run` writes them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides<'a> {
    /// `process.args` (when not empty).
    pub args: &'a [String],
    /// `process.terminal` (`-t`).
    pub terminal: Option<bool>,
    /// `process.consoleSize` (rows, columns): the host terminal's.
    pub console_size: Option<(u16, u16)>,
}

impl Overrides<'_> {
    fn is_empty(&self) -> bool {
        self.args.is_empty() && self.terminal.is_none() && self.console_size.is_none()
    }
}

/// [`load`] with the spec changed by `overrides` (written to `scratch/config.json`).
pub fn load_with(
    dir: &Path,
    options: &SandboxOptions,
    overrides: &Overrides<'_>,
    scratch: &Path,
) -> Result<Bundle, BundleError> {
    let config = dir.join("config.json");
    let mut bytes = std::fs::read(&config).map_err(|source| BundleError::Read {
        path: config.clone(),
        source,
    })?;
    let mut spec_file = config.clone();
    if !overrides.is_empty() {
        bytes = with_overrides(&config, &bytes, overrides)?;
        spec_file = scratch.join("config.json");
        std::fs::create_dir_all(scratch)
            .and_then(|()| std::fs::write(&spec_file, &bytes))
            .map_err(|source| BundleError::Write {
                path: spec_file.clone(),
                source,
            })?;
    }
    let spec = Spec::parse(&bytes).map_err(|error| BundleError::Spec {
        config: config.clone(),
        error,
    })?;
    let mut warnings = Vec::new();
    if let Err(disagreement) = oci_spec_reads(&bytes) {
        warnings.push(format!(
            "{}: oci-spec cannot read it ({disagreement}); relying on the sandbox's own checks",
            config.display()
        ));
    }
    let value = json_value(&config, &bytes)?;
    let resolved = channels::resolve(dir, &channels::spec_channels(&value))?;
    // Everything the guest will check, checked here first, in the guest's words.
    compile(&spec, options, &resolved.file_binds)
        .map_err(|error| BundleError::Plan { config, error })?;
    Ok(Bundle {
        spec_file,
        shares: resolved.shares,
        file_binds: resolved.file_binds,
        warnings,
    })
}

/// oci-spec's reading of the spec, with the JSON path of what it could not read.
fn oci_spec_reads(bytes: &[u8]) -> Result<(), String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, oci_spec::runtime::Spec>(&mut deserializer)
        .map(drop)
        .map_err(|error| format!("{}: {}", error.path(), error.inner()))
}

/// The spec with `overrides` applied. Shapes are checked afterwards by `Spec::parse`.
fn with_overrides(
    config: &Path,
    bytes: &[u8],
    overrides: &Overrides<'_>,
) -> Result<Vec<u8>, BundleError> {
    let spec_error = |error| BundleError::Spec {
        config: config.to_owned(),
        error,
    };
    // Parse with the kernel first so a broken spec is reported the same way with or without args.
    Spec::parse(bytes).map_err(spec_error)?;
    let mut value = json_value(config, bytes)?;
    if !overrides.args.is_empty() {
        value["process"]["args"] = Value::from(overrides.args.to_vec());
    }
    if let Some(terminal) = overrides.terminal {
        value["process"]["terminal"] = Value::from(terminal);
    }
    if let Some((rows, cols)) = overrides.console_size {
        value["process"]["consoleSize"] = serde_json::json!({"height": rows, "width": cols});
    }
    serde_json::to_vec_pretty(&value).map_err(|error| spec_error(malformed(&error)))
}

/// The spec as a JSON tree. `Spec::parse` has accepted the bytes, but it forgives trailing
/// zero padding and serde_json does not, so this can still fail.
fn json_value(config: &Path, bytes: &[u8]) -> Result<Value, BundleError> {
    serde_json::from_slice(bytes).map_err(|error| BundleError::Spec {
        config: config.to_owned(),
        error: malformed(&error),
    })
}

fn malformed(error: &serde_json::Error) -> SpecError {
    SpecError::Malformed {
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_dir(name: &str, config: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-bundle-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(dir.join("hosts"), "").unwrap();
        std::fs::write(dir.join("config.json"), config).unwrap();
        dir
    }

    fn spec_with_mounts(mounts: &str) -> String {
        format!(
            r#"{{"ociVersion": "1.0.2", "root": {{"path": "rootfs"}}, "process": {{"args": ["/sbin/init"], "cwd": "/", "user": {{"uid": 0, "gid": 0}}}}, "mounts": {mounts}}}"#
        )
    }

    fn load_error(name: &str, config: &str) -> String {
        let dir = bundle_dir(name, config);
        let error = load(&dir, &SandboxOptions::default(), &[], &dir.join("scratch"))
            .unwrap_err()
            .to_string();
        std::fs::remove_dir_all(dir).unwrap();
        error
    }

    #[test]
    fn a_good_bundle_gives_shares_and_file_binds() {
        let config = spec_with_mounts(
            r#"[{"destination": "/data", "type": "bind", "source": "data"}, {"destination": "/etc/hosts", "type": "bind", "source": "hosts", "options": ["ro"]}]"#,
        );
        let dir = bundle_dir("good", &config);
        let bundle = load(&dir, &SandboxOptions::default(), &[], &dir.join("scratch")).unwrap();
        assert_eq!(bundle.spec_file, dir.join("config.json"));
        let tags: Vec<(&str, bool)> = bundle
            .shares
            .iter()
            .map(|share| (share.tag.as_str(), share.readonly))
            .collect();
        assert_eq!(tags, [("rootfs", false), ("m0", false), ("m1", true)]);
        assert_eq!(bundle.file_binds.len(), 1);
        assert_eq!(bundle.file_binds[0].name, "hosts");
        assert!(bundle.warnings.is_empty(), "{:?}", bundle.warnings);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// One case per kind of host-side error: the spec, and how the message starts after the
    /// config path (or, for filesystem errors, the field it names).
    #[test]
    fn errors_name_the_field() {
        let cases: &[(&str, String, &str)] = &[
            ("not-json", "{".into(), "spec is not JSON"),
            (
                "no-root",
                r#"{"ociVersion": "1", "process": {"args": ["a"]}}"#.into(),
                "root: missing",
            ),
            (
                "relative",
                spec_with_mounts(r#"[{"destination": "data", "type": "tmpfs"}]"#),
                "mounts[0].destination: must be an absolute path",
            ),
            (
                "escape",
                spec_with_mounts(r#"[{"destination": "/../x", "type": "tmpfs"}]"#),
                "mounts[0].destination: \"..\" escapes the root",
            ),
            (
                "bad-mode",
                spec_with_mounts(
                    r#"[{"destination": "/t", "type": "tmpfs", "options": ["mode=99"]}]"#,
                ),
                "mounts[0].options[0]: bad value",
            ),
            (
                "no-source",
                spec_with_mounts(
                    r#"[{"destination": "/t", "type": "tmpfs"}, {"destination": "/b", "type": "bind", "source": "gone"}]"#,
                ),
                "mounts[1].source: ",
            ),
            (
                "root-missing",
                r#"{"ociVersion": "1", "root": {"path": "nothere"}, "process": {"args": ["a"]}}"#
                    .into(),
                "root.path: ",
            ),
            (
                "args-type",
                r#"{"ociVersion": "1", "root": {"path": "rootfs"}, "process": {"args": "sh"}}"#
                    .into(),
                "process.args: invalid type",
            ),
        ];
        for (name, config, start) in cases {
            let error = load_error(name, config);
            let message = error
                .split_once("config.json: ")
                .map_or(error.as_str(), |(_, rest)| rest);
            assert!(message.starts_with(start), "{name}: {error}");
        }
    }

    #[test]
    fn args_replace_process_args_in_a_copy() {
        let config = spec_with_mounts("[]");
        let dir = bundle_dir("args", &config);
        let args = ["sh".to_owned(), "-c".to_owned(), "exit 3".to_owned()];
        let bundle = load(
            &dir,
            &SandboxOptions::default(),
            &args,
            &dir.join("scratch"),
        )
        .unwrap();
        assert_eq!(bundle.spec_file, dir.join("scratch/config.json"));
        let copy = Spec::parse(&std::fs::read(&bundle.spec_file).unwrap()).unwrap();
        assert_eq!(copy.process.args, args);
        assert_eq!(
            std::fs::read_to_string(dir.join("config.json")).unwrap(),
            config,
            "the bundle is untouched"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn oci_spec_disagreement_is_a_warning() {
        // Valid for the sandbox, which ignores `linux.resources`; oci-spec wants a number.
        let config = r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["/sbin/init"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
                        "linux": {"resources": {"memory": {"limit": "lots"}}}}"#;
        let dir = bundle_dir("oci-warning", config);
        let bundle = load(&dir, &SandboxOptions::default(), &[], &dir.join("scratch")).unwrap();
        assert_eq!(bundle.warnings.len(), 1);
        assert!(
            bundle.warnings[0].contains("linux.resources.memory.limit"),
            "{}",
            bundle.warnings[0]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
