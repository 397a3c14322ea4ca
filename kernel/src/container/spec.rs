//! The part of the OCI runtime spec (`config.json`) the sandbox uses, parsed from the bytes
//! the VMM hands in as PVH module 0.
//!
//! Sits between the raw bytes and `plan`: [`Spec::parse`] checks shapes and types (serde)
//! and then every value the plan relies on, so a spec that parses is one the plan compiler
//! can take without re-checking paths. Each error names the JSON field (`mounts[3].destination`).
//! Fields the sandbox does not use are ignored; optional ones it does use take OCI's defaults.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Deserialize;

use super::error::{FieldProblem, SpecError};
use super::path;

/// Linux's `HOST_NAME_MAX`.
const HOST_NAME_MAX: usize = 64;
/// A umask has the nine permission bits and nothing else.
const UMASK_BITS: u32 = 0o777;
/// Used when `process.user.umask` is absent, as runc and gVisor do.
pub const DEFAULT_UMASK: u32 = 0o022;

/// A spec that passed every check; paths are normalised (see [`path::normalize`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub oci_version: String,
    pub root: Root,
    /// In spec order: channel numbers and error messages count from here.
    pub mounts: Vec<Mount>,
    pub process: Process,
    pub hostname: Option<String>,
    pub linux: Linux,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// As written: the host resolves it against the bundle; the guest only sees channel `rootfs`.
    pub path: String,
    pub readonly: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Normalised, absolute, never `/`.
    pub destination: String,
    /// Empty when the spec gives none (OCI allows that for bind mounts).
    pub mount_type: String,
    /// Host path of a bind mount; required for those, informational otherwise.
    pub source: Option<String>,
    pub options: Vec<String>,
}

impl Mount {
    /// The channel rule's notion of a bind mount: type `bind`, or `bind`/`rbind` among the
    /// options whatever the type (runc's test, which gVisor follows).
    pub fn is_bind(&self) -> bool {
        self.mount_type == "bind"
            || self
                .options
                .iter()
                .any(|option| option == "bind" || option == "rbind")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Never empty; `args[0]` is never empty.
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// Normalised and absolute; `/` when the spec gives none.
    pub cwd: String,
    pub user: User,
    pub terminal: bool,
    /// `process.consoleSize`: the terminal's rows and columns at start (runc sets them on
    /// the container's pseudo-terminal); only with `terminal`.
    pub console_size: Option<ConsoleSize>,
    /// `process.rlimits`, checked: a known `RLIMIT_*` each, soft ≤ hard, no repeats.
    pub rlimits: Vec<Rlimit>,
    /// `process.capabilities`, each set as a bit per `CAP_*` number; `None` when the spec
    /// has no such member (the init then gets no capabilities at all, as runc gives).
    pub capabilities: Option<CapabilitySets>,
    /// `process.noNewPrivileges`.
    pub no_new_privileges: bool,
}

/// `process.consoleSize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct ConsoleSize {
    pub height: u16,
    pub width: u16,
}

/// `process.capabilities`: the five sets, as bits per `CAP_*` number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapabilitySets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// One `process.rlimits` entry: `RLIMIT_*` by its Linux number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: usize,
    pub soft: u64,
    pub hard: u64,
}

/// Linux's resource names, by number.
pub const RLIMIT_NAMES: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// Checked to fit in 0o777; [`DEFAULT_UMASK`] applies when absent.
    pub umask: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Linux {
    /// Normalised; each becomes a read-only bind of itself.
    pub readonly_paths: Vec<String>,
    /// Normalised; each is hidden.
    pub masked_paths: Vec<String>,
    /// `linux.resources.pids.limit`: the most processes the container may have at once;
    /// `None` when absent or not positive (no limit, as runc reads 0 and -1).
    pub pids_limit: Option<u64>,
}

/// The JSON's shape: everything the sandbox requires is optional here so that its absence
/// is reported by our checks, naming the field, rather than by serde's "missing field".
mod raw {
    use alloc::string::String;
    use alloc::vec::Vec;

    use serde::Deserialize;

    use super::User;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Spec {
        pub oci_version: Option<String>,
        pub root: Option<Root>,
        #[serde(default)]
        pub mounts: Vec<Mount>,
        pub process: Option<Process>,
        pub hostname: Option<String>,
        #[serde(default)]
        pub linux: Linux,
    }

    #[derive(Deserialize)]
    pub struct Root {
        pub path: Option<String>,
        #[serde(default)]
        pub readonly: bool,
    }

    #[derive(Deserialize)]
    pub struct Mount {
        pub destination: Option<String>,
        #[serde(rename = "type")]
        pub mount_type: Option<String>,
        pub source: Option<String>,
        #[serde(default)]
        pub options: Vec<String>,
    }

    #[derive(Deserialize)]
    pub struct Process {
        #[serde(default)]
        pub args: Vec<String>,
        #[serde(default)]
        pub env: Vec<String>,
        pub cwd: Option<String>,
        #[serde(default)]
        pub user: User,
        #[serde(default)]
        pub terminal: bool,
        #[serde(rename = "consoleSize")]
        pub console_size: Option<super::ConsoleSize>,
        #[serde(default)]
        pub rlimits: Vec<Rlimit>,
        pub capabilities: Option<Capabilities>,
        #[serde(default, rename = "noNewPrivileges")]
        pub no_new_privileges: bool,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Capabilities {
        pub bounding: Vec<String>,
        pub effective: Vec<String>,
        pub permitted: Vec<String>,
        pub inheritable: Vec<String>,
        pub ambient: Vec<String>,
    }

    #[derive(Deserialize)]
    pub struct Rlimit {
        #[serde(rename = "type")]
        pub resource: Option<String>,
        pub hard: Option<u64>,
        pub soft: Option<u64>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub struct Resources {
        pub pids: Option<Pids>,
    }

    #[derive(Deserialize)]
    pub struct Pids {
        pub limit: i64,
    }

    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct Linux {
        pub readonly_paths: Vec<String>,
        pub masked_paths: Vec<String>,
        pub resources: Resources,
    }
}

impl Spec {
    /// Parses and checks the spec as handed in (the initrd's bytes).
    pub fn parse(bytes: &[u8]) -> Result<Spec, SpecError> {
        Spec::check(deserialize(bytes)?)
    }

    fn check(raw: raw::Spec) -> Result<Spec, SpecError> {
        let oci_version = raw.oci_version.ok_or_else(|| missing("ociVersion"))?;
        let root = check_root(raw.root)?;
        let mounts = raw
            .mounts
            .into_iter()
            .enumerate()
            .map(|(index, mount)| check_mount(index, mount))
            .collect::<Result<_, _>>()?;
        let process = check_process(raw.process)?;
        if let Some(hostname) = &raw.hostname
            && hostname.len() > HOST_NAME_MAX
        {
            return Err(bad_value("hostname", hostname, "at most 64 bytes"));
        }
        let linux = Linux {
            readonly_paths: check_paths("linux.readonlyPaths", raw.linux.readonly_paths)?,
            masked_paths: check_paths("linux.maskedPaths", raw.linux.masked_paths)?,
            pids_limit: raw
                .linux
                .resources
                .pids
                .map(|pids| pids.limit)
                .filter(|&limit| limit > 0)
                .map(|limit| limit as u64),
        };
        Ok(Spec {
            oci_version,
            root,
            mounts,
            process,
            hostname: raw.hostname,
            linux,
        })
    }
}

impl Process {
    /// Parses and checks a `process` object on its own (what a runtime's `exec` passes:
    /// `runc exec --process FILE`), with the spec's rules and field names
    /// (`process.args`).
    pub fn parse(bytes: &[u8]) -> Result<Process, SpecError> {
        let raw: raw::Process = serde_json::from_slice(bytes)
            .map_err(|error| json_error(error, Some("process".to_owned())))?;
        check_process(Some(raw))
    }
}

fn deserialize(bytes: &[u8]) -> Result<raw::Spec, SpecError> {
    // A loader may pad a module to a page with zeros; they are not part of the spec.
    let end = bytes
        .iter()
        .rposition(|&byte| byte != 0)
        .map_or(0, |last| last + 1);
    // The common case, a good spec, takes serde_json's own path; only a spec that fails is
    // read again through serde_path_to_error to name the field at fault. Its wrappers
    // double the code a parse runs, which is what dominates a cold boot under emulation.
    if let Ok(spec) = serde_json::from_slice::<raw::Spec>(&bytes[..end]) {
        return Ok(spec);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes[..end]);
    let spec = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = match error.path().to_string().as_str() {
            "." => "spec".to_owned(),
            path => path.to_owned(),
        };
        json_error(error.into_inner(), Some(field))
    })?;
    deserializer
        .end()
        .map_err(|error| json_error(error, None))?;
    Ok(spec)
}

/// Syntax errors are "not JSON"; data errors (wrong type, out of range) belong to `field`.
fn json_error(error: serde_json::Error, field: Option<String>) -> SpecError {
    let text = error.to_string();
    // serde_json appends the position; we place it ourselves (or drop it for a named field).
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
    match (error.classify(), field) {
        (serde_json::error::Category::Data, Some(field)) => {
            SpecError::field(field, FieldProblem::WrongType(message))
        }
        _ => SpecError::Malformed {
            line: error.line(),
            column: error.column(),
            message,
        },
    }
}

fn missing(field: &str) -> SpecError {
    SpecError::field(field, FieldProblem::Missing)
}

fn bad_value(field: impl Into<String>, value: &str, expected: &'static str) -> SpecError {
    SpecError::field(
        field,
        FieldProblem::BadValue {
            value: value.to_owned(),
            expected,
        },
    )
}

fn check_root(root: Option<raw::Root>) -> Result<Root, SpecError> {
    let root = root.ok_or_else(|| missing("root"))?;
    let path = root.path.ok_or_else(|| missing("root.path"))?;
    if path.is_empty() {
        return Err(SpecError::field("root.path", FieldProblem::Empty));
    }
    Ok(Root {
        path,
        readonly: root.readonly,
    })
}

fn check_mount(index: usize, mount: raw::Mount) -> Result<Mount, SpecError> {
    let field = |name: &str| format!("mounts[{index}].{name}");
    let destination = mount
        .destination
        .ok_or_else(|| missing(&field("destination")))?;
    let destination = check_path(&field("destination"), &destination)?;
    let mount = Mount {
        destination,
        mount_type: mount.mount_type.unwrap_or_default(),
        source: mount.source,
        options: mount.options,
    };
    if mount.is_bind() {
        match mount.source.as_deref() {
            None => return Err(missing(&field("source"))),
            Some("") => return Err(SpecError::field(field("source"), FieldProblem::Empty)),
            Some(_) => {}
        }
    }
    Ok(mount)
}

/// Normalises an absolute path that must not be `/` itself.
fn check_path(field: &str, value: &str) -> Result<String, SpecError> {
    match path::normalize(value) {
        Ok(normal) if normal == "/" => Err(SpecError::field(field, FieldProblem::IsRoot)),
        Ok(normal) => Ok(normal),
        Err(problem) => Err(SpecError::field(field, problem)),
    }
}

fn check_paths(field: &str, paths: Vec<String>) -> Result<Vec<String>, SpecError> {
    paths
        .iter()
        .enumerate()
        .map(|(index, value)| check_path(&format!("{field}[{index}]"), value))
        .collect()
}

fn check_process(process: Option<raw::Process>) -> Result<Process, SpecError> {
    let process = process.ok_or_else(|| missing("process"))?;
    match process.args.first().map(String::as_str) {
        None => return Err(SpecError::field("process.args", FieldProblem::Empty)),
        Some("") => return Err(SpecError::field("process.args[0]", FieldProblem::Empty)),
        Some(_) => {}
    }
    let cwd = match process.cwd.as_deref() {
        None => "/".to_owned(),
        Some(cwd) => {
            path::normalize(cwd).map_err(|problem| SpecError::field("process.cwd", problem))?
        }
    };
    if let Some(umask) = process.user.umask
        && umask & !UMASK_BITS != 0
    {
        return Err(bad_value(
            "process.user.umask",
            &format!("{umask:#o}"),
            "permission bits within 0o777",
        ));
    }
    let rlimits = check_rlimits(process.rlimits)?;
    let capabilities = process.capabilities.map(check_capabilities).transpose()?;
    Ok(Process {
        args: process.args,
        env: process.env,
        cwd,
        user: process.user,
        terminal: process.terminal,
        console_size: process.console_size.filter(|_| process.terminal),
        rlimits,
        capabilities,
        no_new_privileges: process.no_new_privileges,
    })
}

/// Each set's names must be `CAP_*` names Linux knows (runc only warns and drops an
/// unknown one; a typo here would silently change what the container may do).
fn check_capabilities(raw: raw::Capabilities) -> Result<CapabilitySets, SpecError> {
    let set = |name: &str, names: Vec<String>| -> Result<u64, SpecError> {
        let mut bits = 0u64;
        for (index, capability) in names.iter().enumerate() {
            let number = vfs_core::cap::by_name(capability).ok_or_else(|| {
                bad_value(
                    format!("process.capabilities.{name}[{index}]"),
                    capability,
                    "a CAP_* name Linux knows",
                )
            })?;
            bits |= vfs_core::cap::bit(number);
        }
        Ok(bits)
    };
    Ok(CapabilitySets {
        bounding: set("bounding", raw.bounding)?,
        effective: set("effective", raw.effective)?,
        permitted: set("permitted", raw.permitted)?,
        inheritable: set("inheritable", raw.inheritable)?,
        ambient: set("ambient", raw.ambient)?,
    })
}

fn check_rlimits(raw: Vec<raw::Rlimit>) -> Result<Vec<Rlimit>, SpecError> {
    let mut rlimits: Vec<Rlimit> = Vec::new();
    for (index, limit) in raw.into_iter().enumerate() {
        let field = |name: &str| format!("process.rlimits[{index}].{name}");
        let name = limit.resource.ok_or_else(|| missing(&field("type")))?;
        let resource = RLIMIT_NAMES
            .iter()
            .position(|known| *known == name)
            .ok_or_else(|| bad_value(field("type"), &name, "an RLIMIT_* name Linux knows"))?;
        let hard = limit.hard.ok_or_else(|| missing(&field("hard")))?;
        let soft = limit.soft.ok_or_else(|| missing(&field("soft")))?;
        if soft > hard {
            return Err(bad_value(
                field("soft"),
                &format!("{soft}"),
                "at most the hard limit",
            ));
        }
        if rlimits.iter().any(|earlier| earlier.resource == resource) {
            return Err(bad_value(field("type"), &name, "each resource once"));
        }
        rlimits.push(Rlimit {
            resource,
            soft,
            hard,
        });
    }
    Ok(rlimits)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["/sbin/init"]}}"#;

    /// `MINIMAL` with one top-level member replaced or added.
    fn with(member: &str, value: &str) -> String {
        let mut spec: serde_json::Value = serde_json::from_str(MINIMAL).unwrap();
        spec[member] = serde_json::from_str(value).unwrap();
        spec.to_string()
    }

    fn error_of(json: &str) -> SpecError {
        Spec::parse(json.as_bytes()).expect_err(json)
    }

    #[test]
    fn a_process_object_parses_alone_with_the_specs_rules() {
        let process = Process::parse(
            br#"{"args":["sh","-c","id"],"env":["PATH=/bin"],"cwd":"/tmp/","terminal":true,
                "consoleSize":{"height":30,"width":100},"user":{"uid":1000,"gid":100}}"#,
        )
        .unwrap();
        assert_eq!(process.args, ["sh", "-c", "id"]);
        assert_eq!(process.cwd, "/tmp");
        assert_eq!((process.user.uid, process.user.gid), (1000, 100));
        assert!(process.terminal);
        assert_eq!(process.console_size.map(|size| size.height), Some(30));
        let error = Process::parse(br#"{"args":[]}"#).unwrap_err();
        assert!(error.to_string().contains("process.args"), "{error}");
        assert!(Process::parse(br#"{"args":"sh"}"#).is_err());
        assert!(Process::parse(b"not json").is_err());
    }

    #[test]
    fn minimal_spec_takes_oci_defaults() {
        let spec = Spec::parse(MINIMAL.as_bytes()).unwrap();
        assert_eq!(
            spec.root,
            Root {
                path: "rootfs".into(),
                readonly: false
            }
        );
        assert!(spec.mounts.is_empty());
        assert_eq!(spec.process.cwd, "/");
        assert_eq!(spec.process.user, User::default());
        assert!(!spec.process.terminal);
        assert_eq!(spec.hostname, None);
        assert_eq!(spec.linux, Linux::default());
    }

    #[test]
    fn full_spec_is_read_and_unknown_fields_ignored() {
        let json = r#"{
            "ociVersion": "1.1.0",
            "annotations": {"x": "y"},
            "root": {"path": "/srv/root", "readonly": true},
            "mounts": [
                {"destination": "//data/./in/", "type": "bind", "source": "data", "options": ["rbind", "ro"]},
                {"destination": "/run", "type": "tmpfs", "options": ["mode=755"], "uidMappings": []}
            ],
            "process": {
                "terminal": true,
                "consoleSize": {"height": 50, "width": 132},
                "user": {"uid": 1000, "gid": 100, "additionalGids": [5, 6], "umask": 63},
                "args": ["sh", "-c", "true"],
                "env": ["PATH=/bin"],
                "cwd": "/home/./u/",
                "capabilities": {}
            },
            "hostname": "box",
            "linux": {"readonlyPaths": ["/proc/sys"], "maskedPaths": ["/proc/kcore"], "namespaces": []}
        }"#;
        let spec = Spec::parse(json.as_bytes()).unwrap();
        assert_eq!(
            spec.root,
            Root {
                path: "/srv/root".into(),
                readonly: true
            }
        );
        assert_eq!(spec.mounts[0].destination, "/data/in");
        assert!(spec.mounts[0].is_bind());
        assert_eq!(spec.mounts[1].mount_type, "tmpfs");
        assert_eq!(spec.process.cwd, "/home/u");
        assert_eq!(
            spec.process.user,
            User {
                uid: 1000,
                gid: 100,
                additional_gids: vec![5, 6],
                umask: Some(0o77)
            }
        );
        assert!(spec.process.terminal);
        assert_eq!(
            spec.process.console_size,
            Some(ConsoleSize {
                height: 50,
                width: 132
            })
        );
        assert_eq!(spec.hostname.as_deref(), Some("box"));
        assert_eq!(spec.linux.readonly_paths, ["/proc/sys"]);
        assert_eq!(spec.linux.masked_paths, ["/proc/kcore"]);
    }

    #[test]
    fn trailing_zero_padding_is_ignored() {
        let mut bytes = MINIMAL.as_bytes().to_vec();
        bytes.extend([0; 100]);
        assert!(Spec::parse(&bytes).is_ok());
    }

    #[test]
    fn bind_is_a_type_or_an_option() {
        let mount = |mount_type: &str, options: &[&str]| Mount {
            destination: "/m".into(),
            mount_type: mount_type.into(),
            source: Some("s".into()),
            options: options.iter().map(|option| (*option).to_owned()).collect(),
        };
        assert!(mount("bind", &[]).is_bind());
        assert!(mount("none", &["rbind"]).is_bind());
        assert!(mount("", &["ro", "bind"]).is_bind());
        assert!(!mount("none", &[]).is_bind());
        assert!(!mount("tmpfs", &["binding"]).is_bind());
    }

    #[test]
    fn not_json_is_malformed() {
        for bytes in [&b""[..], b"{", b"{\"root\": }", b"\xff\xfe", b"{} {}"] {
            let error = Spec::parse(bytes).unwrap_err();
            assert!(
                matches!(error, SpecError::Malformed { .. }),
                "{bytes:?}: {error:?}"
            );
            assert_eq!(error.exit_status(), crate::container::error::MALFORMED_SPEC);
        }
        assert!(error_of("{\n\"root\": }").to_string().contains("line 2"));
    }

    /// One case per check: the spec, the field the error must name, and a piece of its message.
    #[test]
    fn each_bad_field_is_named() {
        let mount = |json: &str| {
            with(
                "mounts",
                &format!("[{{\"destination\": \"/ok\", \"type\": \"tmpfs\"}}, {json}]"),
            )
        };
        let process = |json: &str| with("process", json);
        let cases: Vec<(String, &str, &str)> = vec![
            (
                r#"{"root": {"path": "r"}, "process": {"args": ["a"]}}"#.into(),
                "ociVersion",
                "missing",
            ),
            (
                r#"{"ociVersion": "1", "process": {"args": ["a"]}}"#.into(),
                "root",
                "missing",
            ),
            (with("root", "{}"), "root.path", "missing"),
            (with("root", r#"{"path": ""}"#), "root.path", "empty"),
            (
                with("root", r#"{"path": "r", "readonly": "yes"}"#),
                "root.readonly",
                "expected a boolean",
            ),
            (with("mounts", "{}"), "mounts", "expected a sequence"),
            (
                mount(r#"{"type": "tmpfs"}"#),
                "mounts[1].destination",
                "missing",
            ),
            (
                mount(r#"{"destination": "tmp"}"#),
                "mounts[1].destination",
                "must be an absolute path",
            ),
            (
                mount(r#"{"destination": "/a/../../etc"}"#),
                "mounts[1].destination",
                "\"..\" escapes the root",
            ),
            (
                mount(r#"{"destination": "/a/.."}"#),
                "mounts[1].destination",
                "cannot be \"/\"",
            ),
            (
                mount(r#"{"destination": ""}"#),
                "mounts[1].destination",
                "empty",
            ),
            (
                mount(r#"{"destination": 7}"#),
                "mounts[1].destination",
                "expected a string",
            ),
            (
                mount(r#"{"destination": "/b", "type": "bind"}"#),
                "mounts[1].source",
                "missing",
            ),
            (
                mount(r#"{"destination": "/b", "options": ["rbind"], "source": ""}"#),
                "mounts[1].source",
                "empty",
            ),
            (
                mount(r#"{"destination": "/b", "options": [1]}"#),
                "mounts[1].options[0]",
                "expected a string",
            ),
            (
                r#"{"ociVersion": "1", "root": {"path": "r"}}"#.into(),
                "process",
                "missing",
            ),
            (process("{}"), "process.args", "empty"),
            (process(r#"{"args": []}"#), "process.args", "empty"),
            (process(r#"{"args": [""]}"#), "process.args[0]", "empty"),
            (
                process(r#"{"args": "sh"}"#),
                "process.args",
                "expected a sequence",
            ),
            (
                process(r#"{"args": ["a"], "cwd": "home"}"#),
                "process.cwd",
                "must be an absolute path",
            ),
            (
                process(r#"{"args": ["a"], "env": [1]}"#),
                "process.env[0]",
                "expected a string",
            ),
            (
                process(r#"{"args": ["a"], "user": {"uid": -1}}"#),
                "process.user.uid",
                "expected u32",
            ),
            (
                process(r#"{"args": ["a"], "user": {"umask": 4095}}"#),
                "process.user.umask",
                "0o7777",
            ),
            (
                with("hostname", &format!("\"{}\"", "h".repeat(65))),
                "hostname",
                "at most 64 bytes",
            ),
            (
                with("linux", r#"{"readonlyPaths": ["/ok", "rel"]}"#),
                "linux.readonlyPaths[1]",
                "absolute",
            ),
            (
                with("linux", r#"{"maskedPaths": ["/../x"]}"#),
                "linux.maskedPaths[0]",
                "escapes",
            ),
            ("[]".into(), "spec", "expected struct"),
            (
                process(
                    r#"{"args": ["a"], "rlimits": [{"type": "RLIMIT_NOPE", "hard": 1, "soft": 1}]}"#,
                ),
                "process.rlimits[0].type",
                "RLIMIT_",
            ),
            (
                process(
                    r#"{"args": ["a"], "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 20}]}"#,
                ),
                "process.rlimits[0].soft",
                "at most the hard limit",
            ),
            (
                process(r#"{"args": ["a"], "rlimits": [{"type": "RLIMIT_CORE", "soft": 1}]}"#),
                "process.rlimits[0].hard",
                "missing",
            ),
            (
                process(
                    r#"{"args": ["a"], "rlimits": [{"type": "RLIMIT_CORE", "hard": 1, "soft": 1}, {"type": "RLIMIT_CORE", "hard": 2, "soft": 2}]}"#,
                ),
                "process.rlimits[1].type",
                "each resource once",
            ),
            (
                process(
                    r#"{"args": ["a"], "capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL", "CAP_NOPE"]}}"#,
                ),
                "process.capabilities.permitted[1]",
                "CAP_NOPE",
            ),
            (
                process(r#"{"args": ["a"], "capabilities": {"ambient": ["kill"]}}"#),
                "process.capabilities.ambient[0]",
                "a CAP_* name Linux knows",
            ),
            (
                process(r#"{"args": ["a"], "capabilities": {"effective": "CAP_KILL"}}"#),
                "process.capabilities.effective",
                "expected a sequence",
            ),
            (
                process(r#"{"args": ["a"], "noNewPrivileges": "yes"}"#),
                "process.noNewPrivileges",
                "expected a boolean",
            ),
        ];
        for (json, field, words) in cases {
            let error = error_of(&json);
            assert_eq!(error.field_name(), Some(field), "{json}: {error}");
            let message = error.to_string();
            assert!(message.starts_with(&format!("{field}: ")), "{message}");
            assert!(
                message.contains(words),
                "{json}: {message:?} lacks {words:?}"
            );
            assert_eq!(error.exit_status(), crate::container::error::INVALID_SPEC);
        }
    }

    #[test]
    fn capabilities_and_no_new_privileges_are_read() {
        let spec = Spec::parse(MINIMAL.as_bytes()).unwrap();
        assert_eq!(spec.process.capabilities, None);
        assert!(!spec.process.no_new_privileges);
        let json = with(
            "process",
            r#"{"args": ["a"], "noNewPrivileges": true, "capabilities": {"bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"], "inheritable": [], "ambient": ["CAP_KILL"]}}"#,
        );
        let spec = Spec::parse(json.as_bytes()).unwrap();
        assert!(spec.process.no_new_privileges);
        assert_eq!(
            spec.process.capabilities,
            Some(CapabilitySets {
                bounding: 1 | 1 << 21 | 1 << 40,
                effective: 1 << 5,
                permitted: 1 << 5,
                inheritable: 0,
                ambient: 1 << 5,
            })
        );
        // A member with no sets: every set empty (not the same as no member).
        let json = with("process", r#"{"args": ["a"], "capabilities": {}}"#);
        let spec = Spec::parse(json.as_bytes()).unwrap();
        assert_eq!(spec.process.capabilities, Some(CapabilitySets::default()));
    }

    #[test]
    fn rlimits_and_the_pids_limit_are_read() {
        let json = with(
            "process",
            r#"{"args": ["a"], "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 1024}, {"type": "RLIMIT_NPROC", "hard": 64, "soft": 32}]}"#,
        );
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["linux"] = serde_json::from_str(
            r#"{"resources": {"pids": {"limit": 100}, "memory": {"limit": 1}}}"#,
        )
        .unwrap();
        let spec = Spec::parse(value.to_string().as_bytes()).unwrap();
        assert_eq!(
            spec.process.rlimits,
            [
                Rlimit {
                    resource: 7,
                    soft: 1024,
                    hard: 2048
                },
                Rlimit {
                    resource: 6,
                    soft: 32,
                    hard: 64
                },
            ]
        );
        assert_eq!(spec.linux.pids_limit, Some(100));
        for unlimited in ["0", "-1"] {
            value["linux"]["resources"]["pids"]["limit"] = serde_json::from_str(unlimited).unwrap();
            let spec = Spec::parse(value.to_string().as_bytes()).unwrap();
            assert_eq!(
                spec.linux.pids_limit, None,
                "limit {unlimited} means none, as runc"
            );
        }
    }
}
