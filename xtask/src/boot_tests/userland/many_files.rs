//! Issue 18's boot tests: `du -s`, `ls -l | wc -l` and `find -type f | wc -l` over 40,000
//! files on a bind mount, with `file_access_mounts=shared` and `=exclusive`, must print
//! what the same busybox prints on the host over the same directory. Then the host adds a
//! file behind the mount's back while the container waits for it: `shared` sees it;
//! `exclusive` follows its documented rule (README, "9p file access"): the sandbox owns the
//! tree, so a directory it has read keeps answering from what it read, and the file is
//! not seen.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::json;

use super::fixtures::{ENV, RW_IN_GUEST, docker_caps_with};
use super::host_busybox::{BUSYBOX, host_stdout};
use super::{Builder, output};
use crate::boot_tests::Case;

/// Files in the bind mount: one flat directory, the case the issue measures.
pub const FILES: usize = 40_000;
const MANY_IN_GUEST: &str = "/many";

/// The listing commands, run in the directory listed (so host and guest print the same).
const LISTINGS: &str = "du -s .; ls -l | wc -l; find . -type f | wc -l";

/// `count` files in a fresh `dir`: every third is empty, the others hold a few bytes (so
/// `du` counts blocks), names of varied length.
pub fn write_many_files(dir: &Path, count: usize) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for i in 0..count {
        let name = format!("file-{i}{}", "x".repeat(i % 13));
        let bytes = vec![b'a'; i % 3 * (i % 50)];
        std::fs::write(dir.join(&name), bytes).with_context(|| format!("writing {name}"))?;
    }
    Ok(())
}

/// Adds `late` to `many` once the guest wrote `waiting` into `flag`, then writes `go`
/// there (a file's contents, which every read fetches from the host on both modes).
fn add_late_file_when_asked(flag: PathBuf, many: PathBuf) {
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30 * 60);
        while std::time::Instant::now() < deadline {
            if std::fs::read(&flag).is_ok_and(|bytes| bytes.starts_with(b"waiting")) {
                let _ = std::fs::write(many.join("late"), b"added by the host\n");
                let _ = std::fs::write(&flag, b"go\n");
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
}

pub(super) fn cases(builder: &Builder<'_>, fixtures_dir: &Path) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for (mode, seen) in [("shared", "40001 seen"), ("exclusive", "40000 not-seen")] {
        let name = format!("many-files-{mode}");
        let many = fixtures_dir.join(format!("many-files-{mode}"));
        write_many_files(&many, FILES)?;
        let mut command = Command::new(BUSYBOX);
        command
            .args(["sh", "-c", LISTINGS])
            .env_clear()
            .current_dir(&many);
        let expected = host_stdout(command, &format!("busybox sh -c {LISTINGS:?}"))?;
        let script = format!(
            "cd {MANY_IN_GUEST} && {LISTINGS}\n\
             echo waiting > {RW_IN_GUEST}/flag\n\
             while [ \"$(cat {RW_IN_GUEST}/flag)\" != go ]; do sleep 0.05; done\n\
             n=$(ls | wc -l); if [ -e late ]; then echo \"$n seen\"; else echo \"$n not-seen\"; fi\n"
        );
        let spec = json!({
            "ociVersion": "1.0.2",
            "root": {"path": builder.fixtures.rootfs},
            "process": {"args": ["/bin/busybox", "sh", "-c", script], "env": ENV, "cwd": "/",
                "user": {"uid": 0, "gid": 0}, "capabilities": docker_caps_with(&[])},
            "mounts": [
                {"destination": MANY_IN_GUEST, "type": "bind", "source": many, "options": ["rbind", "ro"]},
                {"destination": RW_IN_GUEST, "type": "bind", "source": "rw", "options": ["rbind", "rw"]}
            ]
        });
        let (case, rw) = builder.with_spec(&name, spec)?;
        std::fs::write(rw.join("flag"), b"").context("writing the flag file")?;
        add_late_file_when_asked(rw.join("flag"), many.clone());
        cases.push(
            case.options(&format!("file_access_mounts={mode}"))
                .timeout(std::time::Duration::from_secs(600))
                .expect(output(format!("{expected}{seen}\n"))),
        );
    }
    Ok(cases)
}
