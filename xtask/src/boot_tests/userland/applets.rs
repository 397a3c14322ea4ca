//! Busybox applets as the container's init, one boot each.

use std::path::PathBuf;

use anyhow::Result;

use super::fixtures::{BIG_FILE, ENV, HOSTNAME, PASSWD, big_file_bytes, write_file};
use super::host_busybox::{BUSYBOX, expected_output};
use super::snapshot::TreeSnapshot;
use super::{Builder, output};
use crate::boot_tests::Case;
use crate::boot_tests::checks::Check::{self, Container, Line, Status, Text};
use crate::boot_tests::container_checks::{ContainerCheck, HostState};
use crate::digest::sha256_hex;

/// `busybox false` and a refused `touch`.
const FAILURE: u8 = 1;

pub fn cases(builder: &Builder<'_>) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    // Same output as on the host, over the same files.
    for (name, args) in [
        ("busybox-ls-la", &["ls", "-lAn", "/data"][..]),
        (
            "busybox-ls-recursive",
            &["ls", "-Rn", "/data/sub", "/data/empty-dir"],
        ),
        (
            "busybox-stat",
            &[
                "stat",
                "-c",
                "%s %a %u %g %F %h %n",
                "/etc/passwd",
                "/data/private",
                "/data/link-to-words",
            ],
        ),
        ("busybox-wc", &["wc", "/data/words.txt", "/etc/passwd"]),
        ("busybox-readlink", &["readlink", "/data/link-to-words"]),
        (
            "busybox-cat",
            &["cat", "/data/words.txt", "/data/sub/nested/deep.txt"],
        ),
    ] {
        let expected = expected_output(builder.fixtures, args)?;
        cases.push(
            applet(builder, name, args)?
                .0
                .expect(output(expected))
                .expect(Status(0)),
        );
    }
    // `find` lists in readdir order, which the sandbox need not share with the host.
    let find = ["find", "/data", "/etc"];
    let expected = expected_output(builder.fixtures, &find)?;
    cases.push(
        applet(builder, "busybox-find", &find)?
            .0
            .expect(Container(ContainerCheck::OutputUnordered(expected)))
            .expect(Status(0)),
    );

    let sha = format!("{}  /data/{BIG_FILE}\n", sha256_hex(&big_file_bytes()));
    cases.push(
        applet(
            builder,
            "busybox-sha256sum-10MiB",
            &["sha256sum", &format!("/data/{BIG_FILE}")],
        )?
        .0
        .expect(output(sha))
        .expect(Status(0)),
    );

    cases.extend([
        applet(builder, "busybox-true", &["true"])?
            .0
            .expect(output(""))
            .expect(Status(0)),
        applet(builder, "busybox-false", &["false"])?
            .0
            .expect(output(""))
            .expect(Status(FAILURE)),
        applet(builder, "busybox-hostname", &["hostname"])?
            .0
            .expect(output(format!("{HOSTNAME}\n")))
            .expect(Status(0)),
        applet(builder, "busybox-env", &["env"])?
            .0
            .expect(output(
                ENV.iter()
                    .map(|pair| format!("{pair}\n"))
                    .collect::<String>(),
            ))
            .expect(Status(0)),
        applet(builder, "busybox-uname", &["uname", "-a"])?
            .0
            .expect(Text(format!("Linux {HOSTNAME} ")))
            .expect(Status(0)),
        applet(builder, "busybox-df", &["df"])?
            .0
            .expect(Line(&["Filesystem", "Mounted on"]))
            .expect(Line(&["/data"]))
            .expect(Line(&["/tmp"]))
            .expect(Status(0)),
        mount_table(builder)?,
        id(builder)?,
        reopened_descriptors(builder)?,
    ]);
    cases.extend(writes(builder)?);
    Ok(cases)
}

/// `busybox ARGS` with the usual spec; also the host directory behind `/rw`.
/// `/dev/stdin`, `/dev/stdout` and `/proc/self/fd/N` open what the descriptor has open,
/// as Linux's magic links do: a pipe's other end, a file already deleted. Images point
/// their logs at `/dev/stdout`, and shells read `/dev/stdin`.
fn reopened_descriptors(builder: &Builder<'_>) -> Result<Case> {
    let script = "echo piped | cat /dev/stdin; \
        x=$(echo via-dev-stdout > /dev/stdout); echo \"subst: $x\"; \
        echo fd-reopen | cat /proc/self/fd/0; \
        echo kept > /tmp/doomed; exec 3</tmp/doomed; rm /tmp/doomed; \
        echo \"deleted: $(cat /proc/self/fd/3)\"; \
        (echo -n a; sleep 0.1; echo b) | (read -r line < /dev/stdin; echo \"read: $line\")";
    Ok(
        applet(builder, "busybox-reopen-stdio", &["sh", "-c", script])?
            .0
            .expect(Line(&["piped"]))
            .expect(Line(&["subst: via-dev-stdout"]))
            .expect(Line(&["fd-reopen"]))
            .expect(Line(&["deleted: kept"]))
            .expect(Line(&["read: ab"]))
            .expect(Status(0)),
    )
}

fn applet(builder: &Builder<'_>, name: &str, args: &[&str]) -> Result<(Case, PathBuf)> {
    let mut full = vec![BUSYBOX];
    full.extend_from_slice(args);
    builder.run(name, &full)
}

/// `cat /proc/mounts` against the table DESIGN's mount rules give for the usual spec: the
/// root (9p under a memory overlay), the mandatory mounts, a `/tmp` (the image's is
/// empty), then the spec's two bind mounts (9p, their channel tag as the device, as
/// Linux shows a 9p mount's tag); sorted by destination length, stable.
fn mount_table(builder: &Builder<'_>) -> Result<Case> {
    let expected = [
        ["overlay", "/", "overlay", "rw"],
        ["m1", "/rw", "9p", "rw"],
        ["sysfs", "/sys", "sysfs", "rw"],
        ["dev", "/dev", "tmpfs", "rw"],
        ["tmpfs", "/tmp", "tmpfs", "rw"],
        ["proc", "/proc", "proc", "rw"],
        ["m0", "/data", "9p", "ro"],
        ["devpts", "/dev/pts", "devpts", "rw"],
    ];
    let table = expected
        .iter()
        .map(|fields| fields.map(str::to_owned))
        .collect();
    Ok(
        applet(builder, "busybox-cat-proc-mounts", &["cat", "/proc/mounts"])?
            .0
            .expect(Container(ContainerCheck::MountTable(table)))
            .expect(Status(0)),
    )
}

/// `id` as uid/gid 1000, named by the image's /etc/passwd and /etc/group.
fn id(builder: &Builder<'_>) -> Result<Case> {
    assert!(
        PASSWD.contains(":1000:1000:"),
        "the id case needs user 1000 in /etc/passwd"
    );
    let mut spec = builder.fixtures.spec(&[BUSYBOX, "id"]);
    spec["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
    Ok(builder
        .with_spec("busybox-id", spec)?
        .0
        .expect(Text("uid=1000(tester) gid=1000(tester)".to_owned()))
        .expect(Status(0)))
}

fn host(path: PathBuf, state: HostState) -> Check {
    Container(ContainerCheck::HostPath { path, state })
}

/// Writes: through the rw bind mount they reach the host; the ro bind mount refuses them;
/// the overlay root keeps them from the host.
fn writes(builder: &Builder<'_>) -> Result<Vec<Case>> {
    let mut cases = Vec::new();

    let (case, rw) = applet(builder, "busybox-mkdir-p", &["mkdir", "-p", "/rw/a/b/c"])?;
    cases.push(
        case.expect(Status(0))
            .expect(host(rw.join("a/b/c"), HostState::Directory)),
    );

    let (case, rw) = applet(builder, "busybox-touch", &["touch", "/rw/new-file"])?;
    cases.push(case.expect(Status(0)).expect(host(
        rw.join("new-file"),
        HostState::File {
            contents: Vec::new(),
        },
    )));

    let (case, rw) = applet(builder, "busybox-rm-r", &["rm", "-r", "/rw/doomed"])?;
    write_file(&rw.join("doomed/x/y/file"), b"bye\n", 0o644)?;
    write_file(&rw.join("doomed/top"), b"bye\n", 0o644)?;
    cases.push(
        case.expect(Status(0))
            .expect(host(rw.join("doomed"), HostState::Absent)),
    );

    let (case, rw) = applet(
        builder,
        "busybox-ln-s",
        &["ln", "-s", "/data/words.txt", "/rw/link"],
    )?;
    cases.push(case.expect(Status(0)).expect(host(
        rw.join("link"),
        HostState::Symlink {
            target: "/data/words.txt".into(),
        },
    )));

    let (case, rw) = applet(
        builder,
        "busybox-mv",
        &["mv", "/rw/before.txt", "/rw/after.txt"],
    )?;
    write_file(&rw.join("before.txt"), b"moving\n", 0o644)?;
    cases.push(
        case.expect(Status(0))
            .expect(host(rw.join("before.txt"), HostState::Absent))
            .expect(host(
                rw.join("after.txt"),
                HostState::File {
                    contents: b"moving\n".to_vec(),
                },
            )),
    );

    let (case, _) = applet(
        builder,
        "ro-bind-refuses-writes",
        &["touch", "/data/new-file"],
    )?;
    cases.push(
        case.expect(Line(&["/data/new-file", "Read-only file system"]))
            .expect(Status(FAILURE))
            .expect(host(
                builder.fixtures.tree.join("new-file"),
                HostState::Absent,
            )),
    );

    // The root is a memory overlay over the 9p root: whatever happens inside, the host
    // tree stays byte for byte what it was.
    let rootfs = TreeSnapshot::take(&builder.fixtures.rootfs)?;
    for (name, args) in [
        (
            "overlay-root-touch",
            &["touch", "/etc/passwd", "/etc/new-file", "/bin/busybox"][..],
        ),
        ("overlay-root-rm-r", &["rm", "-r", "/etc", "/sbin"]),
        ("overlay-root-mv", &["mv", "/etc/group", "/root/group"]),
    ] {
        let (case, _) = applet(builder, name, args)?;
        cases.push(
            case.expect(output(""))
                .expect(Status(0))
                .expect(Container(ContainerCheck::HostTreeUnchanged(rootfs.clone()))),
        );
    }
    let (case, _) = applet(
        builder,
        "overlay-root-cp",
        &["cp", "/etc/passwd", "/etc/passwd-copy"],
    )?;
    cases.push(
        case.expect(Status(0))
            .expect(Container(ContainerCheck::HostTreeUnchanged(rootfs))),
    );
    Ok(cases)
}
