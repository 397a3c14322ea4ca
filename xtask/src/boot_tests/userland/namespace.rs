//! The mount-namespace rules (DESIGN "Mount namespace") end to end with real 9p shares:
//! tmpfs options and their size limit, a destination under a symlink, nested mounts given
//! in the wrong order, an unknown type, masked and read-only paths, and the spec errors
//! only the guest can find (channels, a file where a directory is needed, a bad option).

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::fixtures::{capabilities, docker_caps_with};
use super::{Builder, output};
use crate::boot_tests::Case;
use crate::boot_tests::checks::Check::{Line, Status, Text, TextsInOrder};

const INVALID_SPEC_FIELD: u8 = 111;
const CHANNEL_MISMATCH: u8 = 112;
const MOUNT_FAILED: u8 = 113;

/// The usual spec with `extra` mounts after the usual two and `linux` set when given.
fn spec_with(builder: &Builder<'_>, args: &[&str], extra: Value, linux: Option<Value>) -> Value {
    let mut spec = builder.fixtures.spec(args);
    if let (Some(mounts), Some(extra)) = (spec["mounts"].as_array_mut(), extra.as_array()) {
        mounts.extend(extra.iter().cloned());
    }
    if let Some(linux) = linux {
        spec["linux"] = linux;
    }
    spec
}

pub fn cases(builder: &Builder<'_>) -> Result<Vec<Case>> {
    let scratch = json!([{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
        "options": ["mode=1777", "uid=1000", "gid=1000", "size=1m"]}]);
    let mut cases = Vec::new();

    let spec = spec_with(
        builder,
        &["/bin/busybox", "stat", "-c", "%a %u %g %F", "/scratch"],
        scratch.clone(),
        None,
    );
    cases.push(
        builder
            .with_spec("ns-tmpfs-options", spec)?
            .0
            .expect(output("1777 1000 1000 directory\n"))
            .expect(Status(0)),
    );

    let fill = [
        "/bin/busybox",
        "dd",
        "if=/dev/zero",
        "of=/scratch/fill",
        "bs=4096",
        "count=512",
    ];
    let spec = spec_with(builder, &fill, scratch, None);
    cases.push(
        builder
            .with_spec("ns-tmpfs-size-enospc", spec)?
            .0
            .expect(Line(&["No space left on device"]))
            .expect(Status(1)),
    );

    // `/rw/varrun` is a symlink to `/run` on the host side of the /rw bind: the tmpfs must
    // land at /run/app inside the container, as `/var/run` → `/run` does in real images.
    let symlinked = json!([{"destination": "/rw/varrun/app", "type": "tmpfs", "source": "tmpfs"}]);
    let spec = spec_with(
        builder,
        &["/bin/busybox", "cat", "/proc/mounts"],
        symlinked,
        None,
    );
    let (case, rw) = builder.with_spec("ns-destination-under-symlink", spec)?;
    if rw.join("varrun").symlink_metadata().is_err() {
        std::os::unix::fs::symlink("/run", rw.join("varrun"))
            .context("making the /rw/varrun symlink")?;
    }
    cases.push(
        case.expect(Text("tmpfs /run/app tmpfs rw".into()))
            .expect(Status(0)),
    );

    let nested = json!([
        {"destination": "/nest/a/b", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/nest", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/nest/a", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]}
    ]);
    let spec = spec_with(
        builder,
        &["/bin/busybox", "cat", "/proc/mounts"],
        nested,
        None,
    );
    let order = vec![
        "tmpfs /nest tmpfs rw".into(),
        "tmpfs /nest/a tmpfs ro".into(),
        "tmpfs /nest/a/b tmpfs rw".into(),
    ];
    cases.push(
        builder
            .with_spec("ns-nested-wrong-order", spec)?
            .0
            .expect(TextsInOrder(order))
            .expect(Status(0)),
    );

    let unknown = json!([{"destination": "/remote", "type": "fuse.sshfs", "source": "host:/x"}]);
    let spec = spec_with(builder, &["/bin/busybox", "true"], unknown, None);
    cases.push(
        builder
            .with_spec("ns-unknown-type-skipped", spec)?
            .0
            .expect(Line(&[
                "mounts[2]",
                "fuse.sshfs",
                "not supported",
                "/remote skipped",
            ]))
            .expect(Status(0)),
    );

    let linux = json!({"maskedPaths": ["/data/sub", "/data/words.txt", "/no/such/path"], "readonlyPaths": ["/rw"]});
    for (name, args, expect_output, status) in [
        (
            "ns-masked-dir-is-empty",
            vec!["/bin/busybox", "ls", "-A", "/data/sub"],
            Some(""),
            0,
        ),
        (
            "ns-masked-file-reads-empty",
            vec!["/bin/busybox", "cat", "/data/words.txt"],
            Some(""),
            0,
        ),
        (
            "ns-readonly-path-refuses-writes",
            vec!["/bin/busybox", "touch", "/rw/x"],
            None,
            1,
        ),
    ] {
        let spec = spec_with(builder, &args, json!([]), Some(linux.clone()));
        let mut case = builder.with_spec(name, spec)?.0.expect(Status(status));
        case = match expect_output {
            Some(text) => case.expect(output(text)),
            None => case.expect(Line(&["Read-only file system"])),
        };
        cases.push(case);
    }

    // mount(2) and umount2(2) from inside the container: with CAP_SYS_ADMIN
    // (`docker run --cap-add SYS_ADMIN`).
    let sys_admin = |args: &[&str]| {
        let mut spec = builder.fixtures.spec(args);
        spec["process"]["capabilities"] = docker_caps_with(&["CAP_SYS_ADMIN"]);
        spec
    };
    let spec = sys_admin(&[
        "/bin/busybox",
        "mount",
        "-t",
        "tmpfs",
        "-o",
        "size=1m,mode=700",
        "scratch",
        "/root",
    ]);
    cases.push(
        builder
            .with_spec("ns-mount-syscall", spec)?
            .0
            .expect(Status(0)),
    );
    let spec = sys_admin(&["/bin/busybox", "umount", "/tmp"]);
    cases.push(
        builder
            .with_spec("ns-umount-syscall", spec)?
            .0
            .expect(Status(0)),
    );
    cases.extend(capability_cases(builder, &sys_admin)?);
    let mut spec =
        builder
            .fixtures
            .spec(&["/bin/busybox", "mount", "-t", "tmpfs", "scratch", "/root"]);
    spec["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    cases.push(
        builder
            .with_spec("ns-mount-needs-root", spec)?
            .0
            .expect(Line(&["mount", "permission denied"]))
            .expect(Status(1)),
    );

    // Errors only the guest can see: the host would refuse these specs, so they go in raw.
    let rootfs = builder.fixtures.rootfs.to_string_lossy().into_owned();
    let with_mounts = |mounts: &str| {
        format!(
            r#"{{"ociVersion": "1.0.2", "root": {{"path": "{rootfs}"}}, "process": {{"args": ["/bin/busybox", "true"], "env": ["PATH=/bin"], "cwd": "/"}}, "mounts": {mounts}}}"#
        )
    };
    let bind =
        r#"[{"destination": "/data", "type": "bind", "source": "/x", "options": ["rbind"]}]"#;
    cases.push(
        builder
            .raw_spec("ns-channel-missing", &with_mounts(bind))?
            .expect(Line(&["m0", "missing"]))
            .expect(Status(CHANNEL_MISMATCH)),
    );
    cases.push(
        builder
            .raw_spec("ns-channel-left-over", &with_mounts("[]"))?
            .share("m0", &builder.fixtures.tree)
            .expect(Line(&["m0", "left over"]))
            .expect(Status(CHANNEL_MISMATCH)),
    );
    let under_file =
        r#"[{"destination": "/etc/passwd/inside", "type": "tmpfs", "source": "tmpfs"}]"#;
    cases.push(
        builder
            .raw_spec("ns-file-where-directory-needed", &with_mounts(under_file))?
            .expect(Line(&["mounts[0]", "/etc/passwd/inside", "ENOTDIR"]))
            .expect(Status(MOUNT_FAILED)),
    );
    let bad_option =
        r#"[{"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["mode=9x"]}]"#;
    cases.push(
        builder
            .raw_spec("ns-bad-option-value", &with_mounts(bad_option))?
            .expect(Line(&["mounts[0].options[0]"]))
            .expect(Status(INVALID_SPEC_FIELD)),
    );
    Ok(cases)
}

/// Capabilities (issue 12, point 6): Docker's default set cannot mount; with
/// CAP_SYS_ADMIN the spec's read-only and masked mounts are still locked; the sets the
/// spec gives, and how `su` (setgid/setuid) and exec change them; permission checks
/// between uids.
fn capability_cases(
    builder: &Builder<'_>,
    sys_admin: &dyn Fn(&[&str]) -> Value,
) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    let docker = |name: &str, args: &[&str]| builder.run(name, args).map(|(case, _)| case);
    cases.push(
        docker(
            "caps-default-mount-eperm",
            &["/bin/busybox", "mount", "-t", "tmpfs", "scratch", "/root"],
        )?
        .expect(Line(&["mount", "permission denied"]))
        .expect(Status(1)),
    );
    cases.push(
        docker(
            "caps-default-umount-eperm",
            &["/bin/busybox", "umount", "/tmp"],
        )?
        .expect(Line(&["umount", "Operation not permitted"]))
        .expect(Status(1)),
    );
    let linux = json!({"maskedPaths": ["/data/sub"], "readonlyPaths": ["/rw"]});
    for (name, args, words) in [
        (
            "caps-sysadmin-umount-readonly-path",
            vec!["/bin/busybox", "umount", "/rw"],
            &["umount", "Invalid argument"][..],
        ),
        (
            "caps-sysadmin-umount-masked-path",
            vec!["/bin/busybox", "umount", "-l", "/data/sub"],
            &["umount", "Invalid argument"][..],
        ),
        (
            "caps-sysadmin-remount-ro-mount-rw",
            vec!["/bin/busybox", "mount", "-o", "remount,rw", "/data"],
            &["mount", "permission denied"][..],
        ),
    ] {
        let mut spec = sys_admin(&args);
        spec["linux"] = linux.clone();
        cases.push(
            builder
                .with_spec(name, spec)?
                .0
                .expect(Line(words))
                .expect(Status(1)),
        );
    }
    // A fresh proc would uncover the spec's read-only /proc/sys: EPERM even with
    // CAP_SYS_ADMIN (Linux's mount_too_revealing); with nothing hidden it mounts.
    let mut spec = sys_admin(&["/bin/busybox", "mount", "-t", "proc", "proc", "/root"]);
    spec["linux"] = json!({"readonlyPaths": ["/proc/sys"]});
    cases.push(
        builder
            .with_spec("caps-sysadmin-mount-proc-too-revealing", spec)?
            .0
            .expect(Line(&["mount", "permission denied"]))
            .expect(Status(1)),
    );
    let mut spec = sys_admin(&[
        "/bin/busybox",
        "sh",
        "-c",
        "mount -t proc proc /root && cat /root/self/comm",
    ]);
    spec["linux"] = json!({});
    cases.push(
        builder
            .with_spec("caps-sysadmin-mount-proc-nothing-hidden", spec)?
            .0
            .expect(Line(&["cat"]))
            .expect(Status(0)),
    );
    // The spec's sets as capget and prctl report them (busybox `setpriv -d`).
    let mut spec = builder.fixtures.spec(&["/bin/busybox", "setpriv", "-d"]);
    spec["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"],
        "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"]});
    spec["process"]["noNewPrivileges"] = json!(true);
    cases.push(
        builder
            .with_spec("caps-setpriv-dump", spec)?
            .0
            .expect(Line(&["no_new_privs: 1"]))
            .expect(Line(&["Inheritable capabilities: kill"]))
            .expect(Line(&["Capability bounding set: chown,kill,setuid"]))
            .expect(Status(0)),
    );
    // uid 0's exec: permitted and effective become the bounding set.
    let status = ["/bin/busybox", "grep", "^Cap[PEB]", "/proc/self/status"];
    let mut spec = builder.fixtures.spec(&status);
    spec["process"]["capabilities"] = json!({"bounding": ["CAP_CHOWN", "CAP_KILL"]});
    cases.push(
        builder
            .with_spec("caps-root-exec-gets-bounding", spec)?
            .0
            .expect(output(
                "CapPrm:\t0000000000000021\nCapEff:\t0000000000000021\nCapBnd:\t0000000000000021\n",
            ))
            .expect(Status(0)),
    );
    // uid 1000: only ambient capabilities survive exec.
    let mut spec = builder.fixtures.spec(&status);
    spec["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    spec["process"]["capabilities"] = capabilities(&["CAP_KILL", "CAP_CHOWN"]);
    spec["process"]["capabilities"]["inheritable"] = json!(["CAP_KILL"]);
    spec["process"]["capabilities"]["ambient"] = json!(["CAP_KILL"]);
    cases.push(
        builder
            .with_spec("caps-uid1000-keeps-ambient", spec)?
            .0
            .expect(output(
                "CapPrm:\t0000000000000020\nCapEff:\t0000000000000020\nCapBnd:\t0000000000000021\n",
            ))
            .expect(Status(0)),
    );
    // su (setgroups, setgid, setuid to 1000) drops permitted and effective.
    let su = |command: &str| {
        vec![
            "/bin/busybox".to_string(),
            "sh".to_string(),
            "-c".to_string(),
            // su runs the user's shell by path: give the image a /bin/sh.
            format!("/bin/busybox ln -s busybox /bin/sh; {command}"),
        ]
    };
    let run_su = |name: &str, command: &str| -> Result<Case> {
        let args = su(command);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(name, &args)
    };
    cases.push(
        run_su(
            "caps-setuid-drops-caps",
            "su -s /bin/sh -c 'grep ^Cap[PEB] /proc/self/status' tester",
        )?
        .expect(output(
            "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n",
        ))
        .expect(Status(0)),
    );
    cases.push(
        run_su(
            "caps-uid1000-cannot-kill-root",
            "sleep 20 & su -s /bin/sh -c \"kill $!\" tester; echo status=$?; kill $!",
        )?
        .expect(Line(&["kill", "Operation not permitted"]))
        .expect(Line(&["status=1"]))
        .expect(Status(0)),
    );
    cases.push(
        run_su(
            "caps-uid1000-cannot-chown",
            "touch /tmp/f && su -s /bin/sh -c 'chown 1000 /tmp/f' tester; echo status=$?",
        )?
        .expect(Line(&["chown", "Operation not permitted"]))
        .expect(Line(&["status=1"]))
        .expect(Status(0)),
    );
    Ok(cases)
}
