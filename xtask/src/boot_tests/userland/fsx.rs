//! Issue 14's `fsx` run: xfstests' file-operation exerciser (see `guest::native`), a few
//! thousand random operations with fixed seeds on each kind of filesystem, the file
//! checked against fsx's own model of it after every one: the tmpfs at `/tmp`, the
//! overlay root (`/root`) and the 9p bind mount at `/rw`, with fsx's whole mix: reads and
//! writes through `mmap` (msync'd), truncates, `fallocate`'s modes, `copy_file_range`.
//! Without an xfstests checkout the case is reported skipped.

use std::time::Duration;

use anyhow::Result;

use super::Builder;
use crate::boot_tests::Case;
use crate::boot_tests::checks::Check::{Line, Status};
use crate::guest::native::Native;

/// Operations per filesystem, and what fsx says when each passed.
const OPERATIONS: &str = "3000";
const ALL_OK: &[&str] = &["All 3000 operations completed A-OK!"];

/// The filesystems: name, directory, seed, and the line the script prints for a pass.
type Run = (&'static str, &'static str, u32, &'static [&'static str]);

const RUNS: &[Run] = &[
    ("tmpfs", "/tmp", 1, &["fsx tmpfs: status 0"]),
    ("overlay", "/root", 2, &["fsx overlay: status 0"]),
    ("9p", "/rw", 3, &["fsx 9p: status 0"]),
];

pub fn case(builder: &Builder<'_>, fsx: &Native) -> Result<Case> {
    let path = match fsx {
        Native::Built(path) => path,
        Native::Skipped(why) => return Ok(builder.new_case("fsx").skipped(why.clone())),
    };
    super::threads::install(builder, path, "fsx")?;
    // Each run says how it ended; the script fails if any did.
    let mut script = String::from("failed=0\n");
    for (name, dir, seed, _) in RUNS {
        script.push_str(&format!(
            "/sbin/fsx -q -N {OPERATIONS} -S {seed} -P {dir} {dir}/fsx-{name}; status=$?\n\
             echo \"fsx {name}: status $status\"\n\
             [ $status = 0 ] || failed=1\n"
        ));
    }
    script.push_str("exit $failed\n");
    let (mut case, _) = builder.run("fsx", &["/bin/busybox", "sh", "-c", &script])?;
    for (_, _, _, passed) in RUNS {
        case = case.expect(Line(passed));
    }
    Ok(case
        .expect(Line(ALL_OK))
        .expect(Status(0))
        .timeout(Duration::from_secs(300)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_lines_match_the_script() {
        assert!(ALL_OK[0].contains(&format!(" {OPERATIONS} ")));
        for (name, _, _, passed) in RUNS {
            assert_eq!(passed[0], format!("fsx {name}: status 0"));
        }
    }
}
