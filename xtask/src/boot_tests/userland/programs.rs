//! The test programs of `xtask/guest-tests` and the default bundle's init.

use std::path::Path;

use anyhow::Result;
use kernel::container::SandboxOptions;

use super::{Builder, output};
use crate::boot_tests::Case;
use crate::boot_tests::checks::Check::{self, Line, Status};
use crate::boot_tests::container_checks::{ContainerCheck, HostState};
use crate::bundle;
use crate::qemu::MemorySize;

/// Linux's status for a process killed by SIGSEGV.
const KILLED_BY_SIGSEGV: u8 = 128 + 11;
/// Linux's status for a process killed by SIGKILL (the OOM killer's signal).
const KILLED_BY_SIGKILL: u8 = 128 + 9;

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
    // Issue 14's file calls (preadv2, SEEK_DATA, fallocate, copy_file_range, sendfile,
    // splice, tee, …) on each kind of filesystem, with another filesystem for EXDEV; on
    // the overlay also from a lower file that was never copied up.
    for (name, args) in [
        ("file-calls-tmpfs", &["/tmp", "--other", "/rw"][..]),
        (
            "file-calls-overlay",
            &["/root", "--other", "/tmp", "--lower-file", "/etc/passwd"][..],
        ),
        ("file-calls-9p", &["/rw", "--other", "/tmp"][..]),
    ] {
        let mut argv = vec!["/sbin/file-calls"];
        argv.extend_from_slice(args);
        let (case, _) = builder.run(name, &argv)?;
        cases.push(
            case.expect(Line(&["file-calls: ", " passed, 0 failed"]))
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

    // Issue 12: the 100,000-deep tree on a tmpfs mounted with mount(2) (about 15 s
    // under TCG; Linux's default tmpfs has inodes for it from 800 MiB of RAM on), brk(-1),
    // the top of the user half, /proc/self/fd amplification with 20,000 files open under
    // Docker's descriptor limit.
    let mut spec = builder
        .fixtures
        .spec(&["/sbin/containment", "--depth", "100000", "/tmp"]);
    spec["process"]["capabilities"] = super::fixtures::docker_caps_with(&["CAP_SYS_ADMIN"]);
    spec["process"]["rlimits"] = docker_nofile();
    let (case, _) = builder.with_spec("containment", spec)?;
    cases.push(
        case.memory(MemorySize::from_mib(1024))
            .expect(Line(&["# tree of 100000 on a tmpfs mounted at /tmp/deep"]))
            .expect(Line(&["ok   20000 files open"]))
            .expect(Line(&["containment: ", " passed, 0 failed"]))
            .expect(Status(0)),
    );
    cases.extend(memory_limits(builder)?);

    // Issue 12: 30,000 random calls with a fixed seed (about 10 s under TCG); the sandbox
    // must end with the fuzzer's own status, 0: no call misbehaved, the kernel still works.
    let mut spec =
        builder
            .fixtures
            .spec(&["/sbin/syscall-fuzz", "--calls", "30000", "--seed", "0x5eed"]);
    spec["process"]["capabilities"] = super::fixtures::docker_caps_with(&["CAP_SYS_ADMIN"]);
    let (case, _) = builder.with_spec("syscall-fuzz", spec)?;
    cases.push(
        case.expect(Line(&["syscall-fuzz: seed=0x5eed calls=30000"]))
            .expect(Line(&["syscall-fuzz: done calls=30000 ", " findings=0"]))
            .expect(Line(&[
                "syscall-fuzz: ok after the run, fork, wait and a file on tmpfs still work",
            ]))
            .expect(Status(0)),
    );

    // A short soak: every kind of work of `cargo xtask soak` for 20 s, without an error
    // (the trend of memory and fids is `cargo xtask soak`'s to judge, over minutes).
    let mut spec =
        builder
            .fixtures
            .spec(&["/sbin/soak", "--seconds", "20", "--interval-secs", "5"]);
    spec["process"]["capabilities"] = super::fixtures::docker_caps_with(&["CAP_SYS_ADMIN"]);
    let (case, _) = builder.with_spec("soak-20s", spec)?;
    cases.push(
        case.expect(Line(&["soak: sample seconds=", " fids="]))
            .expect(Line(&["soak: done rounds=", " errors=0"]))
            .expect(Status(0)),
    );

    let (case, _) = builder.run("pipes", &["/sbin/pipes", "/tmp"])?;
    cases.push(
        case.expect(Line(&["pipes: ", " passed, 0 failed"]))
            .expect(Status(0)),
    );
    // Issue 12: the per-user pipe limits, set low by `linux.sysctl`, met by uid 1000
    // without CAP_SYS_RESOURCE or CAP_SYS_ADMIN (Docker's default set).
    let mut spec = builder.fixtures.spec(&["/sbin/pipes", "--user-limits"]);
    spec["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
    spec["process"]["capabilities"] = super::fixtures::docker_caps_with(&[]);
    spec["linux"]["sysctl"] = serde_json::json!({
        "fs.pipe-user-pages-soft": "40",
        "fs.pipe-user-pages-hard": "64",
    });
    let (case, _) = builder.with_spec("pipes-user-limits", spec)?;
    cases.push(
        case.expect(Line(&["# pipe-user-pages-soft=40 pipe-user-pages-hard=64"]))
            .expect(Line(&["ok   past the hard limit: pipe2 is ENFILE"]))
            .expect(Line(&["pipes: ", " passed, 0 failed"]))
            .expect(Status(0)),
    );

    // Issue 13's event loops: epoll, eventfd, timerfd, signalfd, as Linux answers.
    let (case, _) = builder.run("events", &["/sbin/events", "/tmp"])?;
    cases.push(
        case.expect(Line(&["events: ", " passed, 0 failed"]))
            .expect(Status(0)),
    );
    // Issue 13: Unix sockets. Path names on the tmpfs at /tmp and on the overlay root;
    // on the 9p bind mount at /rw only tried, and what happens printed.
    let (case, _) = builder.run(
        "unix-sockets",
        &["/sbin/unix-sockets", "/tmp", "/root", "report:/rw"],
    )?;
    cases.push(
        case.expect(Line(&["unix-sockets: ", " passed, 0 failed"]))
            .expect(Status(0))
            .timeout(std::time::Duration::from_secs(300)),
    );
    // Issue 13: futexes between processes sharing memory (CLONE_VM children, fork
    // children on a file mapping or MAP_SHARED memory), robust lists, clear_child_tid.
    let (case, _) = builder.run("futex", &["/sbin/futex", "/tmp"])?;
    cases.push(
        case.expect(Line(&["futex: ", " passed, 0 failed"]))
            .expect(Status(0)),
    );
    // Issue 14: file locks (fcntl POSIX and OFD record locks, flock) between processes,
    // on the tmpfs at /tmp, the overlay root and the 9p bind mount at /rw;
    // CAP_SYS_ADMIN for the bind mount that shows one file under two paths.
    // /etc/group is a file of the overlay's lower layer: opened for writing, it is copied
    // up (into memory; the host's stays untouched) while another process holds a lock.
    // At the end, /proc/locks must be empty: nothing leaked in the kernel's table.
    let mut spec = builder.fixtures.spec(&[
        "/sbin/file-locks",
        "--no-locks-left",
        "copy-up=/etc/group",
        "/tmp",
        "/root",
        "/rw",
    ]);
    spec["process"]["capabilities"] = super::fixtures::docker_caps_with(&["CAP_SYS_ADMIN"]);
    let (case, _) = builder.with_spec("file-locks", spec)?;
    cases.push(
        case.expect(Line(&[
            "ok   /etc/group: a lock holds across the file's copy-up",
        ]))
        .expect(Line(&["ok   /tmp: a hard link is the same file"]))
        .expect(Line(&["ok   /root: a hard link is the same file"]))
        .expect(Line(&["ok   /rw: a hard link is the same file"]))
        .expect(Line(&["ok   /tmp: a bind mount is the same file"]))
        .expect(Line(&["ok   /rw: a bind mount is the same file"]))
        .expect(Line(&["ok   /tmp: execve keeps POSIX locks"]))
        .expect(Line(&["ok   /tmp: 2000 separate ranges"]))
        .expect(Line(&["ok   /proc/locks is empty once"]))
        .expect(Line(&["file-locks: ", " passed, 0 failed"]))
        .expect(Status(0)),
    );
    // Issue 13's shared memory: MAP_SHARED|MAP_ANONYMOUS across fork, memfd and seals,
    // a /dev/shm file mapped by two processes, mremap, madvise.
    let (case, _) = builder.run("shared-memory", &["/sbin/shared-memory"])?;
    cases.push(
        case.expect(Line(&["shared-memory: ", " passed, 0 failed"]))
            .expect(Status(0)),
    );
    // The same with /dev/shm mounted as Docker's spec mounts it (`--shm-size=256k`): the
    // spec's tmpfs holds shared pages, up to its size (SIGBUS past it through a mapping).
    let mut spec = builder
        .fixtures
        .spec(&["/sbin/shared-memory", "--dev-shm-size", "256"]);
    spec["mounts"]
        .as_array_mut()
        .expect("the fixture spec has mounts")
        .push(serde_json::json!({
            "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=256k"]
        }));
    let (case, _) = builder.with_spec("shared-memory-docker-dev-shm", spec)?;
    cases.push(
        case.expect(Line(&[
            "ok   /dev/shm: touching a page past the mount's size through a mapping is SIGBUS",
        ]))
        .expect(Line(&["shared-memory: ", " passed, 0 failed"]))
        .expect(Status(0)),
    );
    // Shared pages are charged like private ones: touching more than there is memory
    // ends in the OOM killer, and the memory comes back.
    let (case, _) = builder.run(
        "shared-memory-oom",
        &["/sbin/shared-memory", "--exhaust-shared"],
    )?;
    cases.push(
        case.memory(MemorySize::from_mib(128))
            .expect(Line(&[
                "ok   shared anonymous memory past all of memory: the toucher is OOM-killed",
            ]))
            .expect(Line(&["shared-memory: 2 passed, 0 failed"]))
            .expect(Status(0)),
    );

    cases.push(file_mappings(builder)?);
    // A 9p file larger than memory stored through one shared mapping: the kernel writes
    // pages back and drops them under pressure, and every store reaches the host.
    let (case, _) = builder.run(
        "file-mappings-pressure",
        &["/sbin/file-mappings", "--pressure", "/rw", "160"],
    )?;
    cases.push(
        case.memory(MemorySize::from_mib(128))
            .expect(Line(&[
                "ok   /rw/pressure: 160 MiB stored through one shared mapping",
            ]))
            .expect(Line(&["file-mappings: 1 passed, 0 failed"]))
            .expect(Status(0))
            .timeout(std::time::Duration::from_secs(600)),
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

/// The files `file-mappings` leaves behind, as both sides agree on them.
#[path = "../../../guest-tests/src/bin/file_mappings/persist.rs"]
#[allow(
    dead_code,
    reason = "the host checks the files' names and contents, not how they were written"
)]
mod file_mappings_persist;

/// Issue 14's file mappings: `file-mappings` on tmpfs (`/tmp`), the overlay root
/// (`/root`, and a lower-layer file mapped shared for writing) and the 9p bind mount
/// (`/rw`); then on the host, the files it changed only through shared mappings on `/rw`
/// hold what it stored (written back by `msync`, `munmap`, `fsync`, an exit) and no byte
/// past their ends.
fn file_mappings(builder: &Builder<'_>) -> Result<Case> {
    let (case, rw) = builder.run(
        "file-mappings",
        &[
            "/sbin/file-mappings",
            "--lower",
            "/etc/group",
            "/tmp",
            "/root",
            "/rw",
        ],
    )?;
    let mut case = case
        .expect(Line(&[
            "ok   /rw: a store through MAP_SHARED is what read()",
        ]))
        .expect(Line(&[
            "ok   /etc/group: a lower file opened for writing maps shared",
        ]))
        .expect(Line(&["file-mappings: ", " passed, 0 failed"]))
        .expect(Status(0));
    for file in file_mappings_persist::PERSISTED {
        case = case.expect(Check::Container(ContainerCheck::HostPath {
            path: rw.join(file.name),
            state: HostState::File {
                contents: file_mappings_persist::expected(file),
            },
        }));
    }
    Ok(case)
}

/// Docker's `--ulimit nofile` default, which every container it starts gets.
fn docker_nofile() -> serde_json::Value {
    serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 1_048_576, "hard": 1_048_576}])
}

/// The checks of `containment --memory`, one per limit, each of which must pass (not be
/// skipped) in the sandbox.
const MEMORY_CHECKS: &[&[&str]] = &[
    &["ok   mount(2) of a tmpfs with no size=: half of RAM"],
    &["ok   mount(2) of a tmpfs with no nr_inodes=: as many inodes as half of RAM has pages"],
    &["ok   filling it: ENOSPC at exactly half of RAM"],
    &["ok   /tmp filled: ENOSPC at its own limit"],
    &["ok   then the overlay root: ENOSPC once memory is full"],
    &["ok   the two together hold less than RAM"],
    &["ok   empty files with 200-byte names in /tmp: ENOSPC at the inode limit"],
    &["ok   48 execs at once with 2 MiB of arguments: each runs or gets ENOMEM"],
    &["ok   after them, their memory is back"],
    &["ok   /proc/self/maps of 20000 areas named by 3800-byte paths: read whole or ENOMEM"],
    &["ok   a private writable mapping of twice the RAM: ENOMEM (overcommit heuristic)"],
    &["ok   with MAP_NORESERVE, read-only, or of RAM's size: made"],
    &["ok   brk growing by twice the RAM: refused, the break stays"],
    &["ok   memory full of touched pages, then 64 KiB written to /tmp: ENOSPC"],
    &["ok   a process touching more than all of memory: OOM-killed (SIGKILL)"],
    &["ok   a smaller process lives on"],
    &["ok   a process made of page tables (a page every 2 MiB of 1 TiB): OOM-killed (SIGKILL)"],
    &["ok   pipes filled until the kernel refuses: ENOMEM (memory) or EMFILE (descriptors)"],
];

/// Issue 12's memory budget: every way a container makes the kernel hold memory reaches
/// a limit with Linux's errno (`containment --memory`, 128 MiB of RAM, each limit's check
/// named so a skip cannot pass for it), and the init killed by the OOM killer ends the
/// sandbox with 137.
fn memory_limits(builder: &Builder<'_>) -> Result<Vec<Case>> {
    let mut spec = builder
        .fixtures
        .spec(&["/sbin/containment", "--memory", "/tmp"]);
    spec["process"]["capabilities"] = super::fixtures::docker_caps_with(&["CAP_SYS_ADMIN"]);
    spec["process"]["rlimits"] = docker_nofile();
    let (case, _) = builder.with_spec("containment-memory", spec)?;
    let mut case = case.memory(MemorySize::from_mib(128));
    for check in MEMORY_CHECKS {
        case = case.expect(Line(check));
    }
    // About two minutes under TCG, most of it the 20,000 mappings of the maps check.
    let memory = case
        .expect(Line(&["containment: ", " passed, 0 failed"]))
        .expect(Status(0))
        .timeout(std::time::Duration::from_secs(300));
    let (oom_init, _) = builder.run("oom-init", &["/sbin/containment", "--exhaust"])?;
    let oom_init = oom_init
        .memory(MemorySize::from_mib(128))
        .expect(Line(&["out of memory", "killed pid 1"]))
        .expect(Status(KILLED_BY_SIGKILL));
    Ok(vec![memory, oom_init])
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
