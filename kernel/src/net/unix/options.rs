//! Socket options (`SOL_SOCKET`) of a Unix socket as Linux's `sk_setsockopt` and
//! `sk_getsockopt` keep them: buffer sizes (doubled, within `wmem_max`/`rmem_max`),
//! timeouts (`struct timeval`; zero means for ever), `SO_LINGER`, and the flags that are
//! only remembered (`SO_REUSEADDR`, `SO_KEEPALIVE`). Pure and host-tested; options that
//! need the socket's state (`SO_TYPE`, `SO_PEERCRED`, `SO_ERROR`…) are answered by it.

use vfs_core::Errno;

use crate::abi::read_u64;

/// `net.core.wmem_default`/`rmem_default` and `wmem_max`/`rmem_max`.
pub const DEFAULT_BUFFER: u32 = 212_992;
pub const MAX_BUFFER: u32 = 212_992;
/// Linux's `SOCK_MIN_SNDBUF` and `SOCK_MIN_RCVBUF` (2 KiB plus an `sk_buff`).
pub const MIN_SNDBUF: u32 = 4608;
pub const MIN_RCVBUF: u32 = 2304;
/// `sizeof(struct timeval)` and `sizeof(struct linger)`.
pub const TIMEVAL_LEN: usize = 16;
pub const LINGER_LEN: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub sndbuf: u32,
    pub rcvbuf: u32,
    pub passcred: bool,
    pub reuseaddr: bool,
    pub keepalive: bool,
    pub linger_on: bool,
    pub linger_secs: i32,
    /// Timeouts in microseconds: `None` waits for ever, `Some(0)` not at all.
    pub rcvtimeo_us: Option<u64>,
    pub sndtimeo_us: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sndbuf: DEFAULT_BUFFER,
            rcvbuf: DEFAULT_BUFFER,
            passcred: false,
            reuseaddr: false,
            keepalive: false,
            linger_on: false,
            linger_secs: 0,
            rcvtimeo_us: None,
            sndtimeo_us: None,
        }
    }
}

/// `SO_SNDBUF`/`SO_RCVBUF`: the value asked for (an `int`) is capped at the maximum unless
/// `forced` (the `*FORCE` forms), doubled for the kernel's bookkeeping, and kept above
/// the minimum: what `getsockopt` then reports.
pub fn buffer_size(requested: i32, forced: bool, minimum: u32) -> u32 {
    let value = if forced {
        requested.max(0) as u32
    } else {
        (requested as u32).min(MAX_BUFFER)
    };
    let value = value.min(i32::MAX as u32 / 2);
    (value * 2).max(minimum)
}

/// `sock_set_timeout`: a `struct timeval` of at least 16 bytes (`EINVAL`), microseconds
/// in range (`EDOM`); a negative time means "do not wait", zero "for ever".
pub fn parse_timeout(raw: &[u8]) -> Result<Option<u64>, Errno> {
    if raw.len() < TIMEVAL_LEN {
        return Err(Errno::EINVAL);
    }
    let (sec, usec) = (read_u64(raw, 0) as i64, read_u64(raw, 8) as i64);
    if !(0..1_000_000).contains(&usec) {
        return Err(Errno::EDOM);
    }
    if sec < 0 {
        return Ok(Some(0));
    }
    if sec == 0 && usec == 0 {
        return Ok(None);
    }
    Ok(Some(
        (sec as u64)
            .saturating_mul(1_000_000)
            .saturating_add(usec as u64),
    ))
}

/// The `struct timeval` `getsockopt` reports for a timeout.
pub fn encode_timeout(timeout_us: Option<u64>) -> [u8; TIMEVAL_LEN] {
    let us = timeout_us.unwrap_or(0);
    let mut out = [0u8; TIMEVAL_LEN];
    out[..8].copy_from_slice(&(us / 1_000_000).to_le_bytes());
    out[8..].copy_from_slice(&(us % 1_000_000).to_le_bytes());
    out
}

/// The `int` of an option: at least four bytes (`EINVAL`), the first four read.
pub fn parse_int(raw: &[u8]) -> Result<i32, Errno> {
    match raw {
        [a, b, c, d, ..] => Ok(i32::from_le_bytes([*a, *b, *c, *d])),
        _ => Err(Errno::EINVAL),
    }
}

impl Options {
    /// `SO_LINGER`: `l_onoff` turns it on or off; the time changes only when on.
    pub fn set_linger(&mut self, raw: &[u8]) -> Result<(), Errno> {
        if raw.len() < LINGER_LEN {
            return Err(Errno::EINVAL);
        }
        let on = parse_int(raw)? != 0;
        let secs = parse_int(&raw[4..])?;
        self.linger_on = on;
        if on {
            self.linger_secs = secs;
        }
        Ok(())
    }

    pub fn linger(&self) -> [u8; LINGER_LEN] {
        let mut out = [0u8; LINGER_LEN];
        out[..4].copy_from_slice(&i32::from(self.linger_on).to_le_bytes());
        out[4..].copy_from_slice(&self.linger_secs.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeval(sec: i64, usec: i64) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&sec.to_le_bytes());
        out[8..].copy_from_slice(&usec.to_le_bytes());
        out
    }

    #[test]
    fn buffers_are_doubled_within_limits() {
        assert_eq!(buffer_size(100_000, false, MIN_SNDBUF), 200_000);
        assert_eq!(buffer_size(1 << 20, false, MIN_SNDBUF), 425_984);
        assert_eq!(buffer_size(1, false, MIN_SNDBUF), MIN_SNDBUF);
        assert_eq!(buffer_size(1, false, MIN_RCVBUF), MIN_RCVBUF);
        // A negative int is a huge unsigned one: the maximum.
        assert_eq!(buffer_size(-1, false, MIN_SNDBUF), 425_984);
        assert_eq!(buffer_size(1 << 20, true, MIN_SNDBUF), 2 << 20);
        assert_eq!(buffer_size(-1, true, MIN_SNDBUF), MIN_SNDBUF);
        assert_eq!(buffer_size(i32::MAX, true, MIN_SNDBUF), i32::MAX as u32 - 1);
    }

    #[test]
    fn timeouts_follow_sock_set_timeout() {
        assert_eq!(parse_timeout(&timeval(1, 500_000)), Ok(Some(1_500_000)));
        assert_eq!(parse_timeout(&timeval(0, 0)), Ok(None));
        assert_eq!(parse_timeout(&timeval(-5, 0)), Ok(Some(0)));
        assert_eq!(parse_timeout(&timeval(0, 1_000_000)), Err(Errno::EDOM));
        assert_eq!(parse_timeout(&timeval(0, -1)), Err(Errno::EDOM));
        assert_eq!(parse_timeout(&[0u8; 8]), Err(Errno::EINVAL));
        assert_eq!(encode_timeout(Some(1_500_000)), timeval(1, 500_000));
        assert_eq!(encode_timeout(None), timeval(0, 0));
    }

    #[test]
    fn linger_keeps_its_time_when_turned_off() {
        let mut options = Options::default();
        let mut raw = [0u8; 8];
        raw[..4].copy_from_slice(&1i32.to_le_bytes());
        raw[4..].copy_from_slice(&30i32.to_le_bytes());
        options.set_linger(&raw).unwrap();
        assert_eq!(options.linger(), raw);
        raw[..4].copy_from_slice(&0i32.to_le_bytes());
        raw[4..].copy_from_slice(&5i32.to_le_bytes());
        options.set_linger(&raw).unwrap();
        let mut expected = [0u8; 8];
        expected[4..].copy_from_slice(&30i32.to_le_bytes());
        assert_eq!(options.linger(), expected);
        assert_eq!(options.set_linger(&raw[..7]), Err(Errno::EINVAL));
        assert_eq!(parse_int(&[1, 0, 0]), Err(Errno::EINVAL));
    }
}
