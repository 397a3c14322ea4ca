//! Specs the kernel must refuse, and inits it must refuse to run, each with its status
//! (README "Exit statuses") and a message naming what is wrong.

use anyhow::Result;

use super::Builder;
use super::fixtures::{ELF32, NOT_ELF, WRONG_ARCH_ELF};
use crate::boot_tests::Case;
use crate::boot_tests::checks::Check::{Line, Status};

const MALFORMED_SPEC: u8 = 110;
const INVALID_SPEC_FIELD: u8 = 111;
const NOT_EXECUTABLE: u8 = 126;
const NOT_FOUND: u8 = 127;

pub fn cases(builder: &Builder<'_>) -> Result<Vec<Case>> {
    let rootfs = builder.fixtures.rootfs.to_string_lossy().into_owned();
    let with_mounts = |mounts: &str| {
        format!(
            r#"{{"ociVersion": "1.0.2", "root": {{"path": "{rootfs}"}}, "process": {{"args": ["/bin/busybox", "true"], "env": ["PATH=/bin"], "cwd": "/"}}, "mounts": {mounts}}}"#
        )
    };
    let mut cases = vec![
        builder.raw_spec("spec-malformed-json", r#"{"ociVersion": "1.0.2", "root": "#)?.expect(Status(MALFORMED_SPEC)),
        builder
            .raw_spec("spec-no-root", r#"{"ociVersion": "1.0.2", "process": {"args": ["/bin/busybox", "true"], "cwd": "/"}}"#)?
            .expect(Line(&["root"]))
            .expect(Status(INVALID_SPEC_FIELD)),
        builder
            .raw_spec("spec-relative-destination", &with_mounts(r#"[{"destination": "data", "type": "tmpfs"}]"#))?
            .expect(Line(&["mounts[0].destination", "absolute"]))
            .expect(Status(INVALID_SPEC_FIELD)),
        builder
            .raw_spec("spec-dotdot-escape", &with_mounts(r#"[{"destination": "/tmp/../../etc", "type": "tmpfs"}]"#))?
            .expect(Line(&["mounts[0].destination", "escapes"]))
            .expect(Status(INVALID_SPEC_FIELD)),
    ];
    for (name, init, status) in [
        ("init-missing", "/bin/no-such-program", NOT_FOUND),
        ("init-text-without-x-bit", "/etc/passwd", NOT_EXECUTABLE),
        ("init-directory", "/etc", NOT_EXECUTABLE),
        ("init-not-elf", NOT_ELF, NOT_EXECUTABLE),
        ("init-wrong-arch-elf", WRONG_ARCH_ELF, NOT_EXECUTABLE),
        ("init-elf32", ELF32, NOT_EXECUTABLE),
    ] {
        let (case, _) = builder.run(name, &[init])?;
        cases.push(case.expect(Status(status)));
    }
    Ok(cases)
}
