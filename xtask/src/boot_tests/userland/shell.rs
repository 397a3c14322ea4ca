//! Busybox `sh` as the container's init running scripts that need processes: external
//! commands, subshells, `sh -c`, background jobs and `wait`, `kill` (default actions and
//! `trap` handlers), orphans. Each script's output is compared with the same script run
//! by the same busybox on the host (scripts print no pids and touch no files, so both
//! runs must agree line for line).

use anyhow::Result;

use super::host_busybox::{BUSYBOX, expected_output, expected_output_of};
use super::{Builder, output};
use crate::boot_tests::Case;
use crate::boot_tests::checks::Check::{Status, Text};
use crate::setup::BASH_STATIC;

const SCRIPTS: &[(&str, &str)] = &[
    (
        "sh-exit-statuses",
        r#"busybox true; echo "true $?"
busybox false; echo "false $?"
(exit 7); echo "subshell $?"
sh -c 'exit 3'; echo "sh -c $?"
for i in 1 2 3 4 5; do sh -c "exit $i"; printf '%s ' $?; done; echo
x=`sh -c 'exit 9'`; echo "backticks $?"
"#,
    ),
    (
        "sh-jobs-and-wait",
        r#"sleep 0.1 & wait $!; echo "waited $?"
i=0; while [ $i -lt 20 ]; do sh -c "exit $((i % 4))" & i=$((i + 1)); done; wait; echo "20 jobs done"
sh -c 'exit 6' & wait $!; echo "job status $?"
sh -c 'sleep 0.2 & echo spawned an orphan'; sleep 0.3; echo "orphan reaped"
"#,
    ),
    (
        "sh-signals",
        // The shell reports killed jobs on stderr ("Killed"), which the host run does not
        // capture: only stdout is compared.
        r#"exec 2>/dev/null
sleep 5 & pid=$!; kill -9 $pid; wait $pid; echo "kill -9: $?"
sleep 5 & pid=$!; kill $pid; wait $pid; echo "kill: $?"
trap 'echo got USR1' USR1; kill -USR1 $$; echo "after USR1"
trap 'echo got TERM' TERM; kill -TERM $$; echo "after TERM"
sh -c 'trap "echo child got HUP; exit 4" HUP; kill -HUP $$; sleep 1'; echo "child trap: $?"
sh -c 'kill -KILL $$'; echo "self kill: $?"
trap 'echo exit trap ran' EXIT
"#,
    ),
    (
        // Tools that start processes of their own: tar's gzip filter (tar runs `gzip` from
        // PATH: the test root has it as a link to busybox), xargs, timeout. Every tool is
        // named as a busybox applet so the host runs the same code.
        "sh-tools",
        r#"exec 2>/dev/null
d=/tmp/sh-tools-$$; rm -rf $d; mkdir -p $d/src/sub; cd $d
echo alpha > src/a.txt; echo beta > src/sub/b.txt; busybox seq 1 1000 > src/numbers
busybox tar -czf archive.tgz src && mkdir out && busybox tar -xzf archive.tgz -C out && busybox cmp src/numbers out/src/numbers && echo "tar round trip ok"
busybox find src -type f | busybox sort | busybox xargs busybox cat | busybox wc -l
busybox find src -name '*.txt' | busybox sort | busybox xargs busybox grep -l beta
echo one two three | busybox xargs -n 1 echo item
busybox timeout 1 busybox sleep 5; echo "timeout status $?"
cd /; rm -rf $d
"#,
    ),
];

/// Debian's `bash-static` (as `/bin/bash` in the sandbox): functions, pipelines, command
/// substitution, here-documents and here-strings, `wait -n`, a job's status. Tools are
/// named as busybox applets: the sandbox's root has no others.
const BASH_SCRIPT: &str = r#"f() { echo "f got $1"; return 3; }
f arg; echo "f status $?"
x=$(echo sub | busybox tr a-z A-Z); echo "cmdsub $x"
busybox cat <<END
heredoc with $x
END
read -r w rest <<< "here string"; echo "read $w / $rest"
echo a b c | while read -r one others; do echo "$one|$others"; done
busybox sleep 0.3 & busybox sleep 0.1 & wait -n; echo "wait -n $?"; wait
(exit 5) & wait $!; echo "job status $?"
for i in 1 2 3; do echo $i; done | busybox sort -r | busybox tr '\n' ' '; echo
"#;

pub fn cases(builder: &Builder<'_>) -> Result<Vec<Case>> {
    let mut cases = compared_with_host(builder)?;
    cases.push(pids_limit(builder)?);
    let expected = expected_output_of(BASH_STATIC, builder.fixtures, &["-c", BASH_SCRIPT])?;
    let (case, _) = builder.run("bash-script", &["/bin/bash", "-c", BASH_SCRIPT])?;
    cases.push(case.expect(output(expected)).expect(Status(0)));
    Ok(cases)
}

/// `linux.resources.pids.limit` of 6: the shell, a subshell and four jobs fit; the fifth
/// fork is refused (`EAGAIN`: busybox says "can't fork" and the subshell gives up with 2),
/// and the shell itself still forks afterwards.
fn pids_limit(builder: &Builder<'_>) -> Result<Case> {
    let script = r#"(for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait); echo "subshell: $?"; sh -c 'exit 4'; echo "after the jobs: $?""#;
    let mut spec = builder.fixtures.spec(&[BUSYBOX, "sh", "-c", script]);
    spec["linux"] = serde_json::json!({"resources": {"pids": {"limit": 6}}});
    let (case, _) = builder.with_spec("sh-pids-limit", spec)?;
    Ok(case
        .expect(Text("can't fork".into()))
        .expect(Text("subshell: 2".into()))
        .expect(Text("after the jobs: 4".into()))
        .expect(Status(0)))
}

fn compared_with_host(builder: &Builder<'_>) -> Result<Vec<Case>> {
    SCRIPTS
        .iter()
        .map(|(name, script)| {
            let args = ["sh", "-c", script];
            let expected = expected_output(builder.fixtures, &args)?;
            let mut full = vec![BUSYBOX];
            full.extend_from_slice(&args);
            let (case, _) = builder.run(name, &full)?;
            Ok(case.expect(output(expected)).expect(Status(0)))
        })
        .collect()
}
