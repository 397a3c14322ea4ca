//! The guest programs' shared report: one `ok`/`FAIL` line per check, then
//! `NAME: N passed, M failed`, and an exit status of 0 only if every check passed.
//! Included by each program with `#[path = "../report.rs"] mod report;`.

use std::process::ExitCode;

#[derive(Default)]
pub struct Report {
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
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

    /// A check that cannot run here (no privilege, too much memory to fill): said, and
    /// counted apart, never as passed.
    #[allow(dead_code, reason = "not every program has checks that may not run")]
    pub fn skip(&mut self, name: &str, why: impl std::fmt::Display) {
        self.skipped += 1;
        println!("SKIP {name}: {why}");
    }

    /// Prints the summary line for `program` and gives the exit status.
    pub fn finish(&self, program: &str) -> ExitCode {
        if self.skipped > 0 {
            println!(
                "{program}: {} passed, {} failed, {} skipped",
                self.passed, self.failed, self.skipped
            );
        } else {
            println!("{program}: {} passed, {} failed", self.passed, self.failed);
        }
        if self.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
    }
}

/// The `errno` of the last failed call.
#[allow(dead_code, reason = "some programs read errno through their own helpers")]
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}
