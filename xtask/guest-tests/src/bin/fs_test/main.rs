//! `fs-test [DIR]`: exercises `std::fs` in a fresh scratch directory under DIR (default
//! `/tmp`), one line per check (`ok NAME` or `FAIL NAME: why`), then
//! `fs-test: N passed, M failed`; exit status 1 if any check failed.
//!
//! Written against Linux's behaviour: run it on the host first (`cargo run --bin fs-test
//! -- /tmp`), where every check must pass.

mod checks;
mod failure;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use failure::Failure;

/// A check gets its own empty directory.
pub type Check = fn(&Path) -> Result<(), Failure>;

fn main() -> ExitCode {
    let base = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/tmp".to_owned()));
    let scratch = base.join(format!("fs-test-{}", std::process::id()));
    if let Err(error) = std::fs::create_dir(&scratch) {
        println!("fs-test: cannot create the scratch directory {}: {error}", scratch.display());
        return ExitCode::FAILURE;
    }
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in checks::ALL {
        let dir = scratch.join(name);
        let outcome = std::fs::create_dir(&dir)
            .map_err(|source| Failure::io("create_dir", &dir, source))
            .and_then(|()| check(&dir));
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("ok   {name}");
            }
            Err(failure) => {
                failed += 1;
                println!("FAIL {name}: {failure}");
            }
        }
    }
    if let Err(error) = std::fs::remove_dir_all(&scratch) {
        failed += 1;
        println!("FAIL cleanup: remove_dir_all {}: {error}", scratch.display());
    }
    println!("fs-test: {passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
