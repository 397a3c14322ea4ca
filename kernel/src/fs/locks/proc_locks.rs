//! File locks, top: `/proc/locks` in Linux's format (`lock_get_status`), one line per
//! held lock, numbered from 1:
//!
//! ```text
//! 1: POSIX  ADVISORY  WRITE 42 00:1a:1234 0 EOF
//! 2: OFDLCK ADVISORY  READ -1 00:1a:1234 10 19
//! 3: FLOCK  ADVISORY  WRITE 43 00:05:77 0 EOF
//! ```
//!
//! The device is the file's filesystem's, as `major:minor` in two-digit hex at least.
//! Waiters (Linux's ` -> ` lines under the lock they wait behind) are not listed.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use vfs_core::attr::{dev_major, dev_minor};

use super::range::{Kind, OFFSET_MAX};
use super::table::{Class, LockLine};

pub fn render(lines: &[LockLine]) -> Vec<u8> {
    let mut text = String::new();
    for (index, line) in lines.iter().enumerate() {
        let class = match line.class {
            Class::Posix => "POSIX  ADVISORY  ",
            Class::Ofd => "OFDLCK ADVISORY  ",
            Class::Flock => "FLOCK  ADVISORY  ",
        };
        let kind = match line.kind {
            Kind::Read => "READ",
            Kind::Write => "WRITE",
        };
        let _ = write!(
            text,
            "{}: {class}{kind} {} {:02x}:{:02x}:{} ",
            index + 1,
            line.pid,
            dev_major(line.file.dev),
            dev_minor(line.file.dev),
            line.file.ino
        );
        // `flock` locks always show `0 EOF`; record locks their range.
        if line.class == Class::Flock || line.span.end == OFFSET_MAX {
            let start = if line.class == Class::Flock {
                0
            } else {
                line.span.start
            };
            let _ = writeln!(text, "{start} EOF");
        } else {
            let _ = writeln!(text, "{} {}", line.span.start, line.span.end);
        }
    }
    text.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::locks::range::Span;
    use crate::fs::locks::table::FileKey;
    use vfs_core::attr::make_dev;

    #[test]
    fn lines_in_linux_format() {
        let file = FileKey {
            dev: make_dev(0, 0x1a),
            ino: 1234,
        };
        let lines = [
            LockLine {
                class: Class::Posix,
                kind: Kind::Write,
                pid: 42,
                file,
                span: Span::from(0),
            },
            LockLine {
                class: Class::Ofd,
                kind: Kind::Read,
                pid: -1,
                file,
                span: Span { start: 10, end: 19 },
            },
            LockLine {
                class: Class::Flock,
                kind: Kind::Write,
                pid: 43,
                file: FileKey {
                    dev: make_dev(0xfe, 0),
                    ino: 77,
                },
                span: Span::from(0),
            },
        ];
        assert_eq!(
            String::from_utf8(render(&lines)).unwrap(),
            "1: POSIX  ADVISORY  WRITE 42 00:1a:1234 0 EOF\n\
             2: OFDLCK ADVISORY  READ -1 00:1a:1234 10 19\n\
             3: FLOCK  ADVISORY  WRITE 43 fe:00:77 0 EOF\n"
        );
        assert!(render(&[]).is_empty());
    }
}
