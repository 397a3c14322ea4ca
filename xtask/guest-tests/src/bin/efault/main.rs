//! `efault [DIR]`: hands bad pointers to every pointer-taking system call of the kernel's
//! table through raw `syscall()` and checks each answers as Linux does: `-EFAULT`, except
//! where Linux itself answers otherwise (NULL for an optional pointer, zero lengths, the
//! futex word's alignment: see `calls.rs`). Bad pointers: NULL, 0x1, the
//! first kernel address 0xffff800000000000, and a user page mapped `PROT_NONE`.
//!
//! One line per call and argument (`ok`/`FAIL`), then `efault: N passed, M failed`, and a
//! last check that the system still works. Exit status 0 only if everything matched.
//! Scratch files go in a fresh directory under DIR (default `/tmp`).

mod calls;
mod fixture;

use std::process::ExitCode;

use calls::{Expected, Template};
use fixture::{BadPointer, Fixture};

fn main() -> ExitCode {
    let base = std::env::args().nth(1).unwrap_or_else(|| "/tmp".to_owned());
    let mut fixture = match Fixture::new(&base) {
        Ok(fixture) => fixture,
        Err(error) => {
            println!("efault: setup failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    let bad_pointers = BadPointer::all();
    let (mut passed, mut failed) = (0usize, 0usize);
    for template in calls::TEMPLATES {
        let results: Vec<String> = bad_pointers
            .iter()
            .zip(template.expected)
            .map(|(bad, expected)| {
                let got = invoke(template, &mut fixture, bad.address);
                // Linux checks the buffer before it moves the offset: a failed read loses no data.
                let offset = fixture.data_offset();
                let offset_note = match got < 0 && offset != 0 {
                    true => format!(", moved the file offset to {offset}"),
                    false => String::new(),
                };
                if expected.matches(got) && offset_note.is_empty() {
                    passed += 1;
                    format!("{}={}", bad.name, describe(got))
                } else {
                    failed += 1;
                    format!("{}={}{offset_note} (Linux: {expected})", bad.name, describe(got))
                }
            })
            .collect();
        let verdict = if results.iter().any(|result| result.contains("(Linux")) { "FAIL" } else { "ok  " };
        println!("{verdict} {}: {}", template.call, results.join(" "));
    }
    let still_working = fixture.round_trip();
    match &still_working {
        Ok(()) => println!("ok   after the bad pointers, a file still writes and reads back"),
        Err(error) => println!("FAIL after the bad pointers: {error}"),
    }
    fixture.remove();
    println!("efault: {passed} passed, {failed} failed");
    if failed == 0 && still_working.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// The raw return value: negative errno on failure, as the kernel gives it.
fn invoke(template: &Template, fixture: &mut Fixture, bad: usize) -> i64 {
    // Each call starts at offset 0 of the data file and directory, so one call's result
    // never depends on what an earlier one consumed.
    fixture.rewind();
    let [a, b, c, d, e, f] = (template.args)(fixture, bad);
    // SAFETY: the arguments are deliberately bad *user* pointers: the kernel must refuse
    // them. Valid ones point into `fixture`, which outlives the call.
    let result = unsafe { libc::syscall(template.number, a, b, c, d, e, f) };
    if result == -1 {
        -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        result
    }
}

fn describe(result: i64) -> String {
    if result < 0 { Expected::Errno(-result as i32).to_string() } else { result.to_string() }
}
