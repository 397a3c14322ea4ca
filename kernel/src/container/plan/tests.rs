//! The plan compiler, one case per DESIGN "Mount namespace" rule, in the style of gVisor's
//! `TestCreateMountNamespace`: a spec in, the expected mounts out.
//!
//! Each mount is written as one line, `DESTINATION KIND FLAGS [CONDITION]`, with KIND
//! `9p(TAG,ACCESS[,overlay][,file=NAME])`, `tmpfs(OPTIONS)`, `dev(OPTIONS)`, `proc`, `sysfs`,
//! `devpts`, `ro-rebind` or `mask`, and CONDITION `if-exists` or `if-missing-or-empty`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::*;
use crate::container::check_channels;
use crate::container::error::{CHANNEL_MISMATCH, INVALID_SPEC};
use crate::container::{FieldProblem, SpecError};

/// A spec: the minimal one with `members` (a JSON object's members) merged over it.
fn spec(members: &str) -> Spec {
    let mut json: serde_json::Value =
        serde_json::from_str(r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["/sbin/init"]}}"#).unwrap();
    let extra: serde_json::Value = serde_json::from_str(&format!("{{{members}}}")).unwrap();
    for (key, value) in extra.as_object().unwrap() {
        json[key] = value.clone();
    }
    Spec::parse(json.to_string().as_bytes()).unwrap()
}

fn describe_access(access: FileAccess) -> &'static str {
    match access {
        FileAccess::Exclusive => "exclusive",
        FileAccess::Shared => "shared",
    }
}

fn describe_tmpfs(tmpfs: &TmpfsOptions) -> String {
    let mut parts = Vec::new();
    if let Some(mode) = tmpfs.mode {
        parts.push(format!("mode={mode:o}"));
    }
    for (name, value) in [
        ("uid", tmpfs.uid.map(u64::from)),
        ("gid", tmpfs.gid.map(u64::from)),
    ] {
        if let Some(value) = value {
            parts.push(format!("{name}={value}"));
        }
    }
    if let Some(size) = tmpfs.size {
        parts.push(format!("size={size}"));
    }
    if let Some(count) = tmpfs.nr_inodes {
        parts.push(format!("nr_inodes={count}"));
    }
    parts.join(",")
}

fn describe_kind(kind: &MountKind) -> String {
    match kind {
        MountKind::Bind(bind) => {
            let mut text = format!("9p({},{}", bind.channel, describe_access(bind.file_access));
            if bind.overlay {
                text.push_str(",overlay");
            }
            if let Some(file) = &bind.file {
                text.push_str(&format!(",file={file}"));
            }
            text + ")"
        }
        MountKind::Tmpfs(tmpfs) => format!("tmpfs({})", describe_tmpfs(tmpfs)),
        MountKind::Dev(tmpfs) => format!("dev({})", describe_tmpfs(tmpfs)),
        MountKind::Proc => "proc".into(),
        MountKind::Sysfs => "sysfs".into(),
        // Docker's options (the mandatory mount's) go unsaid.
        MountKind::Devpts(options) if *options == crate::fs::devpts::DevptsOptions::docker() => {
            "devpts".into()
        }
        MountKind::Devpts(options) => format!("devpts({})", options.to_mount_options()),
        MountKind::ReadonlyRebind => "ro-rebind".into(),
        MountKind::Mask => "mask".into(),
    }
}

fn describe(mount: &PlannedMount) -> String {
    let condition = match mount.condition {
        Condition::Always => "",
        Condition::IfExists => " if-exists",
        Condition::IfImageDirMissingOrEmpty => " if-missing-or-empty",
    };
    format!(
        "{} {} {}{condition}",
        mount.destination,
        describe_kind(&mount.kind),
        mount.flags
    )
}

fn describe_root(root: &RootPlan) -> String {
    let overlay = if root.overlay { ",overlay" } else { "" };
    let flags = if root.readonly { "ro" } else { "rw" };
    format!(
        "/ 9p({},{}{overlay}) {flags}",
        root.channel,
        describe_access(root.file_access)
    )
}

/// What the minimal spec gets, sorted (rule 2 then rule 5).
const MANDATORY: [&str; 5] = [
    "/sys sysfs rw",
    "/dev dev() rw",
    "/tmp tmpfs(mode=1777) rw if-missing-or-empty",
    "/proc proc rw",
    "/dev/pts devpts rw",
];

struct Case {
    name: &'static str,
    /// Members merged into the minimal spec.
    spec: &'static str,
    options: SandboxOptions,
    file_binds: Vec<FileBind>,
    root: &'static str,
    mounts: Vec<&'static str>,
    /// How many warnings, and a piece of each, in order.
    warnings: Vec<&'static str>,
}

fn case(name: &'static str, spec: &'static str) -> Case {
    Case {
        name,
        spec,
        options: SandboxOptions::default(),
        file_binds: Vec::new(),
        root: "/ 9p(rootfs,exclusive,overlay) rw",
        mounts: Vec::new(),
        warnings: Vec::new(),
    }
}

impl Case {
    fn options(mut self, options: SandboxOptions) -> Self {
        self.options = options;
        self
    }
    fn file_bind(mut self, channel: usize, name: &str) -> Self {
        self.file_binds.push(FileBind {
            channel: Channel::Mount(channel),
            name: name.into(),
        });
        self
    }
    fn root(mut self, root: &'static str) -> Self {
        self.root = root;
        self
    }
    fn mounts(mut self, mounts: &[&'static str]) -> Self {
        self.mounts = mounts.to_vec();
        self
    }
    fn warnings(mut self, warnings: &[&'static str]) -> Self {
        self.warnings = warnings.to_vec();
        self
    }
}

fn options(
    overlay: Overlay,
    file_access: FileAccess,
    file_access_mounts: FileAccess,
) -> SandboxOptions {
    SandboxOptions {
        overlay,
        file_access,
        file_access_mounts,
    }
}

fn cases() -> Vec<Case> {
    use FileAccess::{Exclusive, Shared};
    // Mounts shorter than "/sys" come before the mandatory ones, longer than "/dev/pts" after.
    let around_mandatory = |before: &[&'static str], after: &[&'static str]| -> Vec<&'static str> {
        before
            .iter()
            .copied()
            .chain(MANDATORY)
            .chain(after.iter().copied())
            .collect()
    };
    vec![
        // Rule 1: the root.
        case("root: writable, overlaid, exclusive by default", "").mounts(&MANDATORY),
        case("root: read-only is never overlaid", r#""root": {"path": "r", "readonly": true}"#)
            .root("/ 9p(rootfs,exclusive) ro")
            .mounts(&MANDATORY),
        case("root: overlay=none", "").options(options(Overlay::None, Exclusive, Shared)).root("/ 9p(rootfs,exclusive) rw").mounts(&MANDATORY),
        case("root: file_access=shared", "").options(options(Overlay::Root, Shared, Shared)).root("/ 9p(rootfs,shared,overlay) rw").mounts(&MANDATORY),
        // Rule 2: mandatory mounts give way to the spec's, and /tmp is conditional.
        case(
            "mandatory: spec's /proc and /sys are used instead",
            r#""mounts": [{"destination": "/sys", "type": "sysfs", "options": ["ro"]}, {"destination": "/proc/", "type": "proc"}]"#,
        )
        .mounts(&["/dev dev() rw", "/tmp tmpfs(mode=1777) rw if-missing-or-empty", "/sys sysfs ro", "/proc proc rw", "/dev/pts devpts rw"]),
        case("mandatory: a spec /tmp replaces the conditional one", r#""mounts": [{"destination": "/tmp", "type": "tmpfs", "options": ["size=1m"]}]"#)
            .mounts(&["/sys sysfs rw", "/dev dev() rw", "/tmp tmpfs(size=1048576) rw", "/proc proc rw", "/dev/pts devpts rw"]),
        case("mandatory: a bind at /tmp replaces it too", r#""mounts": [{"destination": "/tmp", "type": "bind", "source": "t"}]"#)
            .mounts(&["/sys sysfs rw", "/dev dev() rw", "/tmp 9p(m0,shared) rw", "/proc proc rw", "/dev/pts devpts rw"]),
        case("mandatory: a skipped mount does not count", r#""mounts": [{"destination": "/proc", "type": "ext4"}]"#)
            .mounts(&MANDATORY)
            .warnings(&["mounts[0].type: filesystem type \"ext4\" not supported; mount at /proc skipped"]),
        // Rule 3: types.
        case(
            "types: docker's /dev tmpfs is the dev filesystem, its /dev/pts is devpts",
            r#""mounts": [
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}
            ]"#,
        )
        .mounts(&["/sys sysfs rw", "/tmp tmpfs(mode=1777) rw if-missing-or-empty", "/dev dev(mode=755,size=67108864) rw,nosuid", "/proc proc rw", "/dev/pts devpts rw,nosuid,noexec"])
        .warnings(&["options[1]: option \"strictatime\""]),
        case(
            "types: a devpts's own options are its data (a missing ptmxmode is Linux's 000)",
            r#""mounts": [{"destination": "/dev/pts", "type": "devpts", "options": ["mode=0600", "uid=7", "max=16", "bogus"]}]"#,
        )
        .mounts(&["/sys sysfs rw", "/dev dev() rw", "/tmp tmpfs(mode=1777) rw if-missing-or-empty", "/proc proc rw", "/dev/pts devpts(uid=7,mode=600,ptmxmode=000,max=16) rw"])
        .warnings(&["options[3]: option \"bogus\""]),
        case(
            "types: tmpfs options, none → sysfs, devtmpfs → dev, unknown skipped",
            r#""mounts": [
                {"destination": "/run", "type": "tmpfs", "options": ["mode=0700", "uid=1", "gid=2", "size=2g", "nr_inodes=10"]},
                {"destination": "/sys/fs", "type": "none"},
                {"destination": "/xdev", "type": "devtmpfs"},
                {"destination": "/cg", "type": "cgroup"},
                {"destination": "/bare"}
            ]"#,
        )
        .mounts(&[
            "/sys sysfs rw",
            "/dev dev() rw",
            "/tmp tmpfs(mode=1777) rw if-missing-or-empty",
            "/run tmpfs(mode=700,uid=1,gid=2,size=2147483648,nr_inodes=10) rw",
            "/proc proc rw",
            "/xdev dev() rw",
            "/sys/fs sysfs rw",
            "/dev/pts devpts rw",
        ])
        .warnings(&["mounts[3].type: filesystem type \"cgroup\"", "mounts[4].type: filesystem type \"\""]),
        // 9p channels: counted in spec order before sorting; `bind`/`rbind` make any type a bind.
        case(
            "channels: m<i> in spec order, mounted parents first",
            r#""mounts": [
                {"destination": "/a/b/c", "type": "bind", "source": "c"},
                {"destination": "/x", "type": "tmpfs"},
                {"destination": "/a", "type": "none", "source": "a", "options": ["rbind"]},
                {"destination": "/a/b", "source": "b", "options": ["bind", "ro"]}
            ]"#,
        )
        .mounts(&[
            "/x tmpfs() rw",
            "/a 9p(m1,shared) rw",
            "/sys sysfs rw",
            "/dev dev() rw",
            "/tmp tmpfs(mode=1777) rw if-missing-or-empty",
            "/a/b 9p(m2,shared) ro",
            "/proc proc rw",
            "/a/b/c 9p(m0,shared) rw",
            "/dev/pts devpts rw",
        ]),
        case(
            "channels: overlay=all overlays writable binds only; file_access_mounts=exclusive",
            r#""mounts": [{"destination": "/w", "type": "bind", "source": "w"}, {"destination": "/r", "type": "bind", "source": "r", "options": ["ro"]}]"#,
        )
        .options(options(Overlay::All, Exclusive, Exclusive))
        .mounts(&around_mandatory(&["/w 9p(m0,exclusive,overlay) rw", "/r 9p(m1,exclusive) ro"], &[])),
        case(
            "channels: a file bind names its file",
            r#""mounts": [{"destination": "/d", "type": "bind", "source": "d"}, {"destination": "/etc/hosts", "type": "bind", "source": "hosts", "options": ["ro"]}]"#,
        )
        .file_bind(1, "hosts")
        .mounts(&around_mandatory(&["/d 9p(m0,shared) rw"], &["/etc/hosts 9p(m1,shared,file=hosts) ro"])),
        // Rule 4: flags.
        case(
            "flags: honoured, accepted and warned about",
            r#""mounts": [{"destination": "/b", "type": "bind", "source": "b", "options": ["rbind", "ro", "noatime", "noexec", "nosuid", "exec", "atime", "rprivate"]}]"#,
        )
        .mounts(&around_mandatory(&["/b 9p(m0,shared) ro,nosuid"], &[]))
        .warnings(&["mounts[0].options[7]: option \"rprivate\" not supported, ignored"]),
        // Rule 5: stable sort by length.
        case(
            "sort: equal lengths keep spec order",
            r#""mounts": [{"destination": "/bb", "type": "tmpfs"}, {"destination": "/aa", "type": "tmpfs"}, {"destination": "/bb/c", "type": "tmpfs"}, {"destination": "/c", "type": "tmpfs"}]"#,
        )
        .mounts(&[
            "/c tmpfs() rw",
            "/bb tmpfs() rw",
            "/aa tmpfs() rw",
            "/sys sysfs rw",
            "/dev dev() rw",
            "/tmp tmpfs(mode=1777) rw if-missing-or-empty",
            "/proc proc rw",
            "/bb/c tmpfs() rw",
            "/dev/pts devpts rw",
        ]),
        // readonlyPaths and maskedPaths: after every mount, spec order, if the path exists.
        case(
            "linux: readonly then masked paths, after all mounts",
            r#""linux": {"maskedPaths": ["/proc/kcore", "/sys/firmware"], "readonlyPaths": ["/proc/sys", "/proc/bus"]}"#,
        )
        .mounts(&around_mandatory(
            &[],
            &["/proc/sys ro-rebind ro if-exists", "/proc/bus ro-rebind ro if-exists", "/proc/kcore mask ro if-exists", "/sys/firmware mask ro if-exists"],
        )),
    ]
}

#[test]
fn create_mount_namespace_table() {
    for case in cases() {
        let plan = compile(&spec(case.spec), &case.options, &case.file_binds)
            .unwrap_or_else(|error| panic!("{}: {error}", case.name));
        assert_eq!(describe_root(&plan.root), case.root, "{}", case.name);
        let mounts: Vec<String> = plan.mounts.iter().map(describe).collect();
        assert_eq!(mounts, case.mounts, "{}", case.name);
        let warnings: Vec<String> = plan.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings.len(),
            case.warnings.len(),
            "{}: {warnings:#?}",
            case.name
        );
        for (warning, piece) in warnings.iter().zip(&case.warnings) {
            assert!(
                warning.contains(piece),
                "{}: {warning:?} lacks {piece:?}",
                case.name
            );
        }
    }
}

#[test]
fn origins_name_their_fields() {
    let plan = compile(
        &spec(r#""mounts": [{"destination": "/a", "type": "tmpfs"}], "linux": {"readonlyPaths": ["/r"], "maskedPaths": ["/m"]}"#),
        &SandboxOptions::default(),
        &[],
    )
    .unwrap();
    let fields: Vec<Option<String>> = plan
        .mounts
        .iter()
        .map(|mount| mount.origin.field())
        .collect();
    assert_eq!(fields[0].as_deref(), Some("mounts[0]"));
    assert!(
        fields[1..6].iter().all(Option::is_none),
        "mandatory: {fields:?}"
    );
    assert_eq!(fields[6].as_deref(), Some("linux.readonlyPaths[0]"));
    assert_eq!(fields[7].as_deref(), Some("linux.maskedPaths[0]"));
}

#[test]
fn bad_tmpfs_value_is_an_error_naming_the_option() {
    let spec = spec(
        r#""mounts": [{"destination": "/b", "type": "bind", "source": "b"}, {"destination": "/t", "type": "tmpfs", "options": ["ro", "mode=888"]}]"#,
    );
    let error = compile(&spec, &SandboxOptions::default(), &[]).unwrap_err();
    assert_eq!(error.exit_status(), INVALID_SPEC);
    assert_eq!(
        error,
        PlanError::Spec(SpecError::field(
            "mounts[1].options[1]",
            FieldProblem::BadValue {
                value: "mode=888".into(),
                expected: "mode=OCTAL, at most 7777"
            }
        ))
    );
}

#[test]
fn file_bind_for_a_channel_no_bind_takes_is_an_error() {
    let spec = spec(
        r#""mounts": [{"destination": "/b", "type": "bind", "source": "b"}, {"destination": "/t", "type": "tmpfs"}]"#,
    );
    let stray = [FileBind {
        channel: Channel::Mount(1),
        name: "x".into(),
    }];
    let error = compile(&spec, &SandboxOptions::default(), &stray).unwrap_err();
    assert_eq!(error, PlanError::FileBindWithoutMount { tag: "m1".into() });
    assert_eq!(error.exit_status(), CHANNEL_MISMATCH);
}

#[test]
fn process_and_hostname_are_carried() {
    let spec = spec(
        r#""hostname": "box", "process": {"args": ["sh", "-c", "exit 3"], "env": ["PATH=/bin"], "cwd": "/w",
            "user": {"uid": 1, "gid": 2, "additionalGids": [3]}, "terminal": true}"#,
    );
    let plan = compile(&spec, &SandboxOptions::default(), &[]).unwrap();
    assert_eq!(plan.hostname.as_deref(), Some("box"));
    let process = &plan.process;
    assert_eq!(process.args, ["sh", "-c", "exit 3"]);
    assert_eq!(process.env, ["PATH=/bin"]);
    assert_eq!(
        (process.cwd.as_str(), process.uid, process.gid),
        ("/w", 1, 2)
    );
    assert_eq!(process.additional_gids, [3]);
    assert_eq!(process.umask, 0o022, "OCI's default umask");
    assert!(process.terminal);
    let resolved = process
        .resolve(|path| (path == "/bin/sh").then_some(crate::container::FileKind::NotDirectory));
    assert_eq!(resolved.as_deref(), Ok("/bin/sh"));
}

#[test]
fn channels_are_root_then_binds_in_spec_order() {
    let spec = spec(
        r#""mounts": [{"destination": "/z/long/path", "type": "bind", "source": "a"}, {"destination": "/t", "type": "tmpfs"}, {"destination": "/y", "source": "b", "options": ["rbind"]}]"#,
    );
    let plan = compile(&spec, &SandboxOptions::default(), &[]).unwrap();
    assert_eq!(
        plan.channels(),
        [Channel::Root, Channel::Mount(0), Channel::Mount(1)]
    );
}

#[test]
fn check_channels_names_the_first_disagreement() {
    let spec = spec(
        r#""mounts": [{"destination": "/a", "type": "bind", "source": "a"}, {"destination": "/b", "type": "bind", "source": "b"}]"#,
    );
    let plan = compile(&spec, &SandboxOptions::default(), &[]).unwrap();
    let cases: &[(&[&str], Result<(), PlanError>)] = &[
        (&["rootfs", "m0", "m1"], Ok(())),
        (&["m1", "rootfs", "m0"], Ok(())),
        (
            &["rootfs", "m0"],
            Err(PlanError::ChannelMissing { tag: "m1".into() }),
        ),
        (
            &["m0", "m1"],
            Err(PlanError::ChannelMissing {
                tag: "rootfs".into(),
            }),
        ),
        (
            &["rootfs", "m0", "m1", "m2"],
            Err(PlanError::ChannelLeftOver { tag: "m2".into() }),
        ),
        (
            &["rootfs", "m0", "m1", "extra"],
            Err(PlanError::ChannelLeftOver {
                tag: "extra".into(),
            }),
        ),
        (
            &["rootfs", "m0", "m0", "m1"],
            Err(PlanError::ChannelTwice { tag: "m0".into() }),
        ),
    ];
    for (found, expected) in cases {
        assert_eq!(&check_channels(&plan, found), expected, "{found:?}");
    }
    let missing = check_channels(&plan, &["rootfs", "m0"]).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "9p channel m1 missing: the spec's mounts need a device tagged \"m1\""
    );
    assert_eq!(missing.exit_status(), CHANNEL_MISMATCH);
    let left_over = check_channels(&plan, &["rootfs", "m0", "m1", "m3"]).unwrap_err();
    assert_eq!(
        left_over.to_string(),
        "9p channel m3 left over: no mount in the spec takes it"
    );
}
