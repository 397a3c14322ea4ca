//! Signal names and numbers as `runc kill` takes them: `9`, `KILL`, `SIGKILL`, `kill`,
//! and the real-time ones as `RTMIN+3`/`SIGRTMAX-1`. Numbers are Linux's on x86_64,
//! which are also the guest's.

use std::str::FromStr;

use nix::sys::signal::Signal;

use crate::error::RuntimeError;

/// Linux's `SIGRTMIN` as the kernel numbers it (glibc reserves the first two for itself
/// and calls 34 `SIGRTMIN`, as does Go's `unix.SIGRTMIN` which runc reads; we follow the
/// kernel, which is also what the guest numbers).
const RTMIN: i32 = 32;
const RTMAX: i32 = 64;

/// The signal number `text` names.
pub fn parse(text: &str) -> Result<i32, RuntimeError> {
    let bad = || RuntimeError::Usage(format!("invalid signal: {text}"));
    if let Ok(number) = text.parse::<i32>() {
        return if (1..=RTMAX).contains(&number) {
            Ok(number)
        } else {
            Err(bad())
        };
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return realtime(RTMIN, rest, 1).ok_or_else(bad);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return realtime(RTMAX, rest, -1).ok_or_else(bad);
    }
    Signal::from_str(&format!("SIG{name}"))
        .map(|signal| signal as i32)
        .map_err(|_| bad())
}

/// `RTMIN`, `RTMIN+N` (`sign` 1) or `RTMAX-N` (`sign` -1), within the real-time range.
fn realtime(base: i32, rest: &str, sign: i32) -> Option<i32> {
    let offset = if rest.is_empty() {
        0
    } else {
        let digits = rest.strip_prefix(if sign > 0 { '+' } else { '-' })?;
        digits.parse::<i32>().ok()?
    };
    let number = base + sign * offset;
    (RTMIN..=RTMAX).contains(&number).then_some(number)
}

/// The signal's name for messages (`SIGTERM`), or its number.
pub fn name(number: i32) -> String {
    Signal::try_from(number)
        .map(|signal| signal.as_str().to_owned())
        .unwrap_or_else(|_| number.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_spellings() {
        for text in ["9", "KILL", "SIGKILL", "kill", "sigkill"] {
            assert_eq!(parse(text).unwrap(), 9, "{text}");
        }
        assert_eq!(parse("TERM").unwrap(), 15);
        assert_eq!(parse("USR1").unwrap(), 10);
        assert_eq!(parse("SIGWINCH").unwrap(), 28);
        assert_eq!(parse("RTMIN").unwrap(), 32);
        assert_eq!(parse("RTMIN+3").unwrap(), 35);
        assert_eq!(parse("SIGRTMAX-1").unwrap(), 63);
        assert_eq!(parse("64").unwrap(), 64);
    }

    #[test]
    fn refused() {
        for text in [
            "0", "65", "-1", "NOPE", "RTMIN-1", "RTMAX+1", "RTMIN+40", "",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(name(15), "SIGTERM");
        assert_eq!(name(40), "40");
    }
}
