//! `#!` scripts: the interpreter line, read as Linux's `binfmt_script` reads it: up to the
//! first newline, the interpreter path, then at most one argument (the rest of the line,
//! trimmed, spaces included).

/// The longest `#!` line Linux reads (`BINPRM_BUF_SIZE`).
pub const MAX_LINE: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shebang<'a> {
    pub interpreter: &'a [u8],
    pub argument: Option<&'a [u8]>,
}

/// The interpreter named by a script's first bytes, if they start with `#!`.
pub fn parse(head: &[u8]) -> Option<Shebang<'_>> {
    let rest = head.strip_prefix(b"#!")?;
    let line = &rest[..rest.len().min(MAX_LINE - 2)];
    let line = line.split(|&b| b == b'\n').next().unwrap_or(line);
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !is_blank(b))?;
    let line = &line[start..];
    let end = line.iter().position(is_blank).unwrap_or(line.len());
    let (interpreter, rest) = line.split_at(end);
    let rest = rest.trim_ascii();
    Some(Shebang {
        interpreter,
        argument: (!rest.is_empty()).then_some(rest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_and_one_argument() {
        assert_eq!(
            parse(b"#!/bin/sh\necho hi"),
            Some(Shebang {
                interpreter: b"/bin/sh",
                argument: None
            })
        );
        assert_eq!(
            parse(b"#! /usr/bin/env  python3 -u \n"),
            Some(Shebang {
                interpreter: b"/usr/bin/env",
                argument: Some(b"python3 -u")
            })
        );
        assert_eq!(
            parse(b"#!/bin/busybox\tsh"),
            Some(Shebang {
                interpreter: b"/bin/busybox",
                argument: Some(b"sh")
            })
        );
    }

    #[test]
    fn not_a_script_or_no_interpreter() {
        assert_eq!(parse(b"\x7fELF"), None);
        assert_eq!(parse(b"#!   \n/bin/sh"), None);
        assert_eq!(parse(b"#"), None);
    }
}
