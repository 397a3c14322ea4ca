//! The default bundle's init (`/sbin/init`): says who and where it is, shows the mount
//! table and `/`, proves `/tmp` is writable and the read-only mount is not, and exits 0.
//! Each line starts with `init:`; a step that fails says so and makes the exit status 1.
//!
//! Edit `qemu/bundle/config.json` and see the difference here with `cargo xtask run`.

mod identity;

use std::io::ErrorKind;
use std::path::Path;
use std::process::ExitCode;

/// A read-only tmpfs mount in `qemu/bundle/config.json`.
const READ_ONLY_DIR: &str = "/mnt/readonly";
const SCRATCH_FILE: &str = "/tmp/init-was-here";
const EROFS: i32 = 30;

/// A step that did not go as it should.
#[derive(Debug)]
enum StepError {
    Io { what: String, error: std::io::Error },
    ReadBackDiffers { path: &'static str },
    WriteNotRefused { path: String, outcome: String },
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Io { what, error } => write!(f, "{what}: {error}"),
            StepError::ReadBackDiffers { path } => write!(f, "{path} read back differs from what was written"),
            StepError::WriteNotRefused { path, outcome } => write!(f, "writing {path}: {outcome}, expected EROFS"),
        }
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StepError {
    let what = what.into();
    move |error| StepError::Io { what, error }
}

fn main() -> ExitCode {
    println!("init: hello from pid {} in the sandbox", std::process::id());
    let steps: [(&str, fn() -> Result<(), StepError>); 5] = [
        ("identity", identity::show),
        ("mounts", show_mounts),
        ("root", list_root),
        ("tmp", write_and_read_tmp),
        ("read-only", read_only_refuses),
    ];
    let mut failed = 0;
    for (name, step) in steps {
        if let Err(error) = step() {
            failed += 1;
            println!("init: {name} FAILED: {error}");
        }
    }
    if failed == 0 {
        println!("init: all checks passed, exiting 0");
        ExitCode::SUCCESS
    } else {
        println!("init: {failed} check(s) failed, exiting 1");
        ExitCode::FAILURE
    }
}

fn show_mounts() -> Result<(), StepError> {
    let table = std::fs::read_to_string("/proc/self/mounts").map_err(io("reading /proc/self/mounts"))?;
    println!("init: mounts (/proc/self/mounts):");
    for line in table.lines() {
        println!("init:   {line}");
    }
    Ok(())
}

fn list_root() -> Result<(), StepError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir("/").map_err(io("listing /"))? {
        let entry = entry.map_err(io("listing /"))?;
        let kind = entry.file_type().map_err(io(format!("type of {:?}", entry.path())))?;
        let suffix = if kind.is_dir() { "/" } else if kind.is_symlink() { "@" } else { "" };
        names.push(format!("{}{suffix}", entry.file_name().to_string_lossy()));
    }
    names.sort();
    println!("init: / holds: {}", names.join(" "));
    Ok(())
}

fn write_and_read_tmp() -> Result<(), StepError> {
    let message = format!("written by pid {}\n", std::process::id());
    std::fs::write(SCRATCH_FILE, &message).map_err(io(format!("writing {SCRATCH_FILE}")))?;
    let back = std::fs::read_to_string(SCRATCH_FILE).map_err(io(format!("reading {SCRATCH_FILE}")))?;
    if back != message {
        return Err(StepError::ReadBackDiffers { path: SCRATCH_FILE });
    }
    println!("init: wrote {} bytes to {SCRATCH_FILE} and read them back", message.len());
    Ok(())
}

fn read_only_refuses() -> Result<(), StepError> {
    let path = Path::new(READ_ONLY_DIR).join("attempt");
    let outcome = match std::fs::write(&path, "must not land") {
        Err(error) if error.raw_os_error() == Some(EROFS) => {
            println!("init: writing {} refused: {error} (EROFS), as it should", path.display());
            return Ok(());
        }
        Err(error) if error.kind() == ErrorKind::NotFound => format!("{error} (is {READ_ONLY_DIR} in config.json?)"),
        Err(error) => error.to_string(),
        Ok(()) => "it worked".to_owned(),
    };
    Err(StepError::WriteNotRefused { path: path.display().to_string(), outcome })
}
