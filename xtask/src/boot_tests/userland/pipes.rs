//! Pipes and FIFOs under busybox's shell: pipelines, command substitution, a reader that
//! leaves early (`SIGPIPE`), a FIFO. (The system-call details are the `pipes` guest
//! program's, in `programs.rs`.) Where the output
//! is deterministic on the host too, the host's busybox says what to expect.
//!
//! No `wait` builtin or `&` job control (they need `rt_sigsuspend` and `SIGCHLD`
//! delivery): pipelines and `$(…)` reap their children with `waitpid` alone.

use anyhow::Result;

use super::fixtures::{BIG_FILE, big_file_bytes};
use super::host_busybox::{BUSYBOX, expected_output};
use super::{Builder, output};
use crate::boot_tests::Case;
use crate::boot_tests::checks::Check::Status;
use crate::digest::sha256_hex;

pub fn cases(builder: &Builder<'_>) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    // Same stdout as `busybox sh -c SCRIPT` on the host.
    for (name, script) in [
        ("pipe-echo-tr", "echo a | tr a b"),
        ("pipe-command-substitution", "x=$(echo hi); echo $x"),
        ("pipe-seq-sort-head", "seq 1 100000 | sort -rn | head -3"),
        // The reader leaves early: `yes` dies of SIGPIPE (128 + 13).
        (
            "pipe-sigpipe-kills-writer",
            "set -o pipefail; yes | head -1; echo status=$?",
        ),
        // SIGPIPE ignored: `yes` sees EPIPE and fails on its own.
        (
            "pipe-sigpipe-ignored-epipe",
            "set -o pipefail; trap '' PIPE; yes 2>/dev/null | head -1; echo status=$?",
        ),
        (
            "pipe-dd-4MiB",
            "dd if=/dev/zero bs=65536 count=64 2>/dev/null | wc -c",
        ),
    ] {
        let expected = expected_output(builder.fixtures, &["sh", "-c", script])?;
        cases.push(
            shell(builder, name, script)?
                .expect(output(expected))
                .expect(Status(0)),
        );
    }
    let sha = format!("{}  -\n", sha256_hex(&big_file_bytes()));
    cases.push(
        shell(
            builder,
            "pipe-cat-10MiB-sha256sum",
            &format!("cat /data/{BIG_FILE} | sha256sum"),
        )?
        .expect(output(sha))
        .expect(Status(0)),
    );
    cases.push(
        shell(
            builder,
            "fifo-round-trip",
            "mkfifo /tmp/f && stat -c %F /tmp/f && (echo x > /tmp/f &) && cat /tmp/f",
        )?
        .expect(output("fifo\nx\n"))
        .expect(Status(0)),
    );
    // The FIFO's node lives on the host (a 9p bind, and the overlay root); its pipe lives in
    // the guest.
    for (name, dir) in [
        ("fifo-round-trip-9p", "/rw"),
        ("fifo-round-trip-overlay", "/root"),
    ] {
        let case = shell(
            builder,
            name,
            &format!("mkfifo {dir}/f && stat -c %F {dir}/f && (echo x > {dir}/f &) && cat {dir}/f && rm {dir}/f"),
        )?
        .expect(output("fifo\nx\n"))
        .expect(Status(0));
        cases.push(if dir == "/rw" {
            // QEMU 7.2's local backend makes the node, then sets its mode through an
            // open that its CVE-2023-2861 check refuses for special files ("9p: broken or
            // compromised client detected"), and answers Tmknod with ENXIO.
            case.known_failure("QEMU 7.2's 9p server refuses mknod of a FIFO (security_model=none)")
        } else {
            case
        });
    }
    Ok(cases)
}

/// `busybox sh -c SCRIPT` with the usual spec.
fn shell(builder: &Builder<'_>, name: &str, script: &str) -> Result<Case> {
    Ok(builder.run(name, &[BUSYBOX, "sh", "-c", script])?.0)
}
