//! The test programs of `xtask/guest-tests` and the default bundle's init.

use std::path::Path;

use anyhow::Result;
use kernel::container::SandboxOptions;

use super::{Builder, output};
use crate::boot_tests::Case;
use crate::boot_tests::checks::Check::{Line, Status};
use crate::bundle;

/// Linux's status for a process killed by SIGSEGV.
const KILLED_BY_SIGSEGV: u8 = 128 + 11;

pub fn cases(builder: &Builder<'_>, dir: &Path, init: &Path) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    // fs-test on each kind of filesystem: tmpfs, the overlay root, a 9p bind mount.
    for (name, scratch) in [
        ("fs-test-tmpfs", "/tmp"),
        ("fs-test-overlay", "/root"),
        ("fs-test-9p", "/rw"),
    ] {
        let (case, _) = builder.run(name, &["/sbin/fs-test", scratch])?;
        cases.push(
            case.expect(Line(&["fs-test: ", " passed, 0 failed"]))
                .expect(Status(0)),
        );
    }
    let (case, _) = builder.run("null-deref", &["/sbin/null-deref"])?;
    cases.push(
        case.expect(output("null-deref: reading address 0\n"))
            .expect(Status(KILLED_BY_SIGSEGV)),
    );

    // Linux's answers (EFAULT for sethostname's name) are those of a root allowed to
    // make the call: CAP_SYS_ADMIN is checked before the pointer.
    let mut spec = builder.fixtures.spec(&["/sbin/efault", "/tmp"]);
    spec["process"]["capabilities"] = super::fixtures::docker_caps_with(&["CAP_SYS_ADMIN"]);
    let (case, _) = builder.with_spec("efault", spec)?;
    cases.push(
        case.expect(Line(&["efault: ", " passed, 0 failed"]))
            .expect(Line(&[
                "ok   after the bad pointers, a file still writes and reads back",
            ]))
            .expect(Status(0)),
    );

    let (case, _) = builder.run("processes", &["/sbin/processes"])?;
    cases.push(
        case.expect(Line(&["processes: ", " passed, 0 failed"]))
            .expect(Status(0)),
    );

    // The 10,000 sequential spawns of busybox (about 40 s under TCG here, with the
    // page cache; each exec read busybox over 9p again before it).
    let (case, _) = builder.run(
        "processes-10000-spawns",
        &["/sbin/processes", "--spawns", "10000"],
    )?;
    cases.push(
        case.expect(Line(&["processes: ", " passed, 0 failed"]))
            .expect(Status(0))
            .timeout(std::time::Duration::from_secs(300)),
    );

    let (case, _) = builder.run("timeouts", &["/sbin/timeouts"])?;
    cases.push(
        case.expect(Line(&["timeouts: ", " passed, 0 failed"]))
            .expect(Status(0)),
    );

    // Issue 12: the 100,000-deep tree (about 15 s under TCG), brk(-1), the top
    // of the user half, /proc/self/fd amplification.
    let (case, _) = builder.run(
        "containment",
        &["/sbin/containment", "--depth", "100000", "/tmp"],
    )?;
    cases.push(
        case.expect(Line(&["containment: ", " passed, 0 failed"]))
            .expect(Status(0)),
    );

    let (case, _) = builder.run("pipes", &["/sbin/pipes", "/tmp"])?;
    cases.push(
        case.expect(Line(&["pipes: ", " passed, 0 failed"]))
            .expect(Status(0)),
    );

    let (case, _) = builder.run(
        "syscall-bench",
        &[
            "/sbin/syscall-bench",
            "--iterations",
            "1000",
            "/tmp",
            "/",
            "/data",
        ],
    )?;
    cases.push(
        case.expect(Line(&["bench getppid ns="]))
            .expect(Line(&["bench stat path=/tmp ns="]))
            .expect(Line(&["bench stat path=/ ns="]))
            .expect(Line(&["bench stat path=/data ns="]))
            .expect(Status(0)),
    );
    cases.push(default_init(builder, dir, init)?);
    Ok(cases)
}

/// The default bundle exactly as `cargo xtask run` assembles it, in a copy of its own.
fn default_init(builder: &Builder<'_>, dir: &Path, init: &Path) -> Result<Case> {
    let (bundle_dir, _notes) =
        bundle::prepare_default_bundle_in(&dir.join("default-bundle"), init)?;
    let loaded = bundle::load(
        &bundle_dir,
        &SandboxOptions::default(),
        &[],
        &bundle_dir.join("scratch"),
    )?;
    Ok(builder
        .new_case("default-init")
        .bundle(&loaded)
        .expect(Line(&["init: hostname=sandbox uid=0 gid=0 cwd=/"]))
        .expect(Line(&["init:   overlay / overlay rw"]))
        .expect(Line(&["init:   ", " /mnt/readonly tmpfs ro"]))
        .expect(Line(&["init: / holds: ", "bin/", "mnt/", "sbin/", "tmp/"]))
        .expect(Line(&[
            "init: wrote ",
            " bytes to /tmp/init-was-here and read them back",
        ]))
        .expect(Line(&[
            "init: writing /mnt/readonly/attempt refused: ",
            "(EROFS), as it should",
        ]))
        .expect(Line(&["init: all checks passed, exiting 0"]))
        .expect(Status(0)))
}
