//! Reading the kernel's serial console: exit line, ready line, bootinfo lines.

use std::collections::HashMap;

const EXIT_LINE_PREFIX: &str = "sandbox: exit status ";

/// Where the sandbox's exit status came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The kernel's own `sandbox: exit status N` line: authoritative, all of 0..=255.
    Reported(u8),
    /// No exit line, but QEMU's status was odd, i.e. something wrote isa-debug-exit.
    /// QEMU keeps only 8 bits of `(N << 1) | 1`, so N ≥ 128 comes out as N - 128.
    FromDebugExit(u8),
    /// Neither: the guest reset, QEMU was killed, or it powered off some other way.
    Missing,
}

pub fn exit_status(console: &str, qemu_code: Option<i32>) -> ExitStatus {
    if let Some(code) = reported_exit_status(console) {
        return ExitStatus::Reported(code);
    }
    match qemu_code {
        Some(code) if (0..=255).contains(&code) && code % 2 == 1 => {
            ExitStatus::FromDebugExit(((code - 1) / 2) as u8)
        }
        _ => ExitStatus::Missing,
    }
}

/// The status on the last `sandbox: exit status N` line; earlier ones (there should be
/// none) lose to the last because that is what preceded power-off.
pub fn reported_exit_status(console: &str) -> Option<u8> {
    console
        .lines()
        .rev()
        .filter_map(|line| line.trim().strip_prefix(EXIT_LINE_PREFIX))
        .find_map(|number| number.trim().parse::<u8>().ok())
}

/// Splits `[  0.001234] rest` into (0.001234, "rest").
pub fn split_timestamp(line: &str) -> Option<(f64, &str)> {
    let inside = line.trim_start().strip_prefix('[')?;
    let (stamp, rest) = inside.split_once(']')?;
    let (whole, fraction) = stamp.trim().split_once('.')?;
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    Some((stamp.trim().parse().ok()?, rest.trim()))
}

/// Seconds from PVH entry to the kernel's `ready` line (printed at log=info and above).
pub fn ready_seconds(console: &str) -> Option<f64> {
    console
        .lines()
        .filter_map(split_timestamp)
        .find(|(_, text)| *text == "ready")
        .map(|(seconds, _)| seconds)
}

/// The `key=value` fields of a `bootinfo: …` line, found by its head: the text before the
/// first `=`. `bootinfo: module 0 crc32=X len=N` has head `module 0 crc32` and fields
/// `crc32=X`, `len=N`. The line may carry a log prefix.
pub fn bootinfo_fields<'a>(console: &'a str, head: &str) -> Option<HashMap<&'a str, &'a str>> {
    console.lines().find_map(|line| {
        let (_, record) = line.split_once("bootinfo: ")?;
        let (line_head, _) = record.split_once('=')?;
        if line_head.trim() != head {
            return None;
        }
        // Head words carry no `=`, so only the fields survive the split.
        Some(
            record
                .split_whitespace()
                .filter_map(|word| word.split_once('='))
                .collect(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOT: &str = "\
[  0.000100] INFO boot: hello
[  0.000812] ready
bootinfo: cmdline-crc32=0a1b2c3d len=27
bootinfo: module 0 crc32=deadbeef len=102403
bootinfo: usable-memory-kib=130428
sandbox: exit status 0
";

    #[test]
    fn exit_line_is_authoritative() {
        assert_eq!(exit_status(BOOT, Some(1)), ExitStatus::Reported(0));
        // QEMU truncates (200 << 1) | 1 to 8 bits: 145, which would say 72.
        assert_eq!(
            exit_status("sandbox: exit status 200\n", Some(145)),
            ExitStatus::Reported(200)
        );
    }

    #[test]
    fn last_exit_line_wins_and_crlf_is_tolerated() {
        let console = "sandbox: exit status 3\r\nnoise\r\nsandbox: exit status 125\r\n";
        assert_eq!(reported_exit_status(console), Some(125));
    }

    #[test]
    fn malformed_exit_lines_are_ignored() {
        assert_eq!(reported_exit_status("sandbox: exit status 256\n"), None);
        assert_eq!(reported_exit_status("sandbox: exit status x\n"), None);
        assert_eq!(
            reported_exit_status("the sandbox: exit status 1 was\n"),
            None
        );
    }

    #[test]
    fn falls_back_to_debug_exit_status() {
        assert_eq!(exit_status("", Some(245)), ExitStatus::FromDebugExit(122));
        assert_eq!(exit_status("", Some(1)), ExitStatus::FromDebugExit(0));
    }

    #[test]
    fn even_or_missing_qemu_status_means_no_exit_status() {
        assert_eq!(exit_status("", Some(0)), ExitStatus::Missing);
        assert_eq!(exit_status("", None), ExitStatus::Missing);
        assert_eq!(exit_status("", Some(-1)), ExitStatus::Missing);
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            split_timestamp("[  0.000812] ready"),
            Some((0.000812, "ready"))
        );
        assert_eq!(split_timestamp("[ 12.5] INFO x"), Some((12.5, "INFO x")));
        assert_eq!(split_timestamp("[abc] ready"), None);
        assert_eq!(split_timestamp("ready"), None);
    }

    #[test]
    fn ready_time() {
        assert_eq!(ready_seconds(BOOT), Some(0.000812));
        assert_eq!(ready_seconds("[  0.1] INFO boot: not ready\n"), None);
    }

    #[test]
    fn bootinfo_lines() {
        let cmdline = bootinfo_fields(BOOT, "cmdline-crc32").unwrap();
        assert_eq!(cmdline["cmdline-crc32"], "0a1b2c3d");
        assert_eq!(cmdline["len"], "27");
        let module = bootinfo_fields(BOOT, "module 0 crc32").unwrap();
        assert_eq!((module["crc32"], module["len"]), ("deadbeef", "102403"));
        assert_eq!(bootinfo_fields(BOOT, "module 1 crc32"), None);
        let timestamped = "[  0.2] INFO bootinfo: usable-memory-kib=5\n";
        assert_eq!(
            bootinfo_fields(timestamped, "usable-memory-kib").unwrap()["usable-memory-kib"],
            "5"
        );
    }
}
