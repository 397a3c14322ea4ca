//! The guest programs' shared report: one `ok`/`FAIL` line per check, then
//! `NAME: N passed, M failed`, and an exit status of 0 only if every check passed.
//! Included by each program with `#[path = "../report.rs"] mod report;`.

use std::process::ExitCode;

#[derive(Default)]
pub struct Report {
    pub passed: u32,
    pub failed: u32,
}

impl Report {
    pub fn check(&mut self, name: &str, ok: bool, detail: impl std::fmt::Display) {
        if ok {
            self.passed += 1;
            println!("ok   {name}");
        } else {
            self.failed += 1;
            println!("FAIL {name}: {detail}");
        }
    }

    /// Prints the summary line for `program` and gives the exit status.
    pub fn finish(&self, program: &str) -> ExitCode {
        println!("{program}: {} passed, {} failed", self.passed, self.failed);
        if self.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
    }
}

/// The `errno` of the last failed call.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}
