//! Issue 13's boot tests: threads, futexes, event loops and Unix sockets, through the
//! programs that use them. Rust (`threads`: std threads and sync primitives; `tokio-check`:
//! a multi-thread tokio runtime with a `UnixListener`), C (`pthreads`, musl), Go (`go-check`,
//! whose output must equal the same binary's on the host), and the system-call checks
//! `unix-socket-workloads` (with the 100 MiB stream) and `runtime-calls` (epoll, eventfd, timerfd, signalfd,
//! memfd, shared mappings, mremap). Each program checks its own answers and ends with
//! `NAME: N passed, M failed`.
//!
//! The C and Go programs need host compilers (see `guest::native`); without one the case
//! is reported skipped. Timeouts are generous: under TCG the Go and tokio runtimes start
//! slowly and the 100 MiB stream is checksummed byte by byte at both ends.

use std::time::Duration;

use anyhow::{Context, Result};

use super::fixtures::write_file;
use super::host_busybox::expected_output_of;
use super::{Builder, output};
use crate::boot_tests::Case;
use crate::boot_tests::checks::Check::{Line, Status};
use crate::guest::native::{Native, NativePrograms};

/// Where the programs keep their sockets and scratch files in the guest: a tmpfs.
const SCRATCH: &str = "/tmp";

/// A program's case: its name, arguments, the summary line that says nothing failed, a
/// check that must be among the passed ones (or none), and its timeout in seconds.
type Program = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    Option<&'static [&'static str]>,
    u64,
);

const RUST_PROGRAMS: &[Program] = &[
    (
        "threads",
        &["/sbin/threads"],
        &["threads: ", " passed, 0 failed"],
        None,
        300,
    ),
    (
        "tokio-check",
        &["/sbin/tokio-check", SCRATCH],
        &["tokio-check: ", " passed, 0 failed"],
        None,
        300,
    ),
    (
        "unix-socket-workloads",
        &[
            "/sbin/unix-socket-workloads",
            "--stream-mib",
            "100",
            SCRATCH,
        ],
        &["unix-socket-workloads: ", " passed, 0 failed"],
        // The 100 MiB stream must have been checked whole, not merely ended.
        Some(&["ok   a 100 MiB stream from a forked child: every byte, the same checksum"]),
        300,
    ),
    (
        "runtime-calls",
        &["/sbin/runtime-calls"],
        &["runtime-calls: ", " passed, 0 failed"],
        None,
        180,
    ),
];

const PTHREADS: Program = (
    "pthreads",
    &["/sbin/pthreads"],
    &["pthreads: ", " passed, 0 failed"],
    Some(&["ok   pthread mutex stress: 8 threads x 100000 increments give exactly 800000"]),
    300,
);

const GO_CHECK: Program = (
    "go-check",
    &["/sbin/go-check", SCRATCH],
    &["go-check: ", " passed, 0 failed"],
    None,
    300,
);

pub fn cases(builder: &Builder<'_>, native: &NativePrograms) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for program in RUST_PROGRAMS {
        cases.push(case(builder, program)?);
    }
    cases.push(match &native.pthreads {
        Native::Built(path) => {
            install(builder, path, "pthreads")?;
            case(builder, &PTHREADS)?
        }
        Native::Skipped(why) => builder.new_case(PTHREADS.0).skipped(why.clone()),
    });
    cases.push(match &native.go_check {
        Native::Built(path) => {
            install(builder, path, "go-check")?;
            // The same binary on the host, over the same root's /tmp, says what to expect.
            let expected =
                expected_output_of(&path.to_string_lossy(), builder.fixtures, &[SCRATCH])
                    .context("running go-check on the host (the output the sandbox must match)")?;
            case(builder, &GO_CHECK)?.expect(output(expected))
        }
        Native::Skipped(why) => builder.new_case(GO_CHECK.0).skipped(why.clone()),
    });
    Ok(cases)
}

/// The program's own verdict: its summary line with no failure (and the named check
/// passed), exit status 0, within its timeout.
fn case(builder: &Builder<'_>, program: &Program) -> Result<Case> {
    let &(name, args, summary, must_pass, timeout) = program;
    let (case, _) = builder.run(name, args)?;
    let case = case
        .expect(Line(summary))
        .expect(Status(0))
        .timeout(Duration::from_secs(timeout));
    Ok(match must_pass {
        Some(line) => case.expect(Line(line)),
        None => case,
    })
}

/// Copies a C or Go program into the shared root's `/sbin`.
pub(super) fn install(builder: &Builder<'_>, program: &std::path::Path, name: &str) -> Result<()> {
    let bytes = std::fs::read(program).with_context(|| format!("reading {}", program.display()))?;
    write_file(
        &builder.fixtures.rootfs.join("sbin").join(name),
        &bytes,
        0o755,
    )
}
