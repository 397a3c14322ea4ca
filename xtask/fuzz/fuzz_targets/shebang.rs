//! The `#!` line parser (`kernel::exec::script`): any file's first bytes, as exec reads them.
#![no_main]

use kernel::exec::elf::HEADER_READ_SIZE;
use kernel::exec::script::{self, MAX_LINE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Exec hands the parser at most the first page of the file.
    let head = &data[..data.len().min(HEADER_READ_SIZE)];
    let Some(shebang) = script::parse(head) else {
        return;
    };
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    // What exec relies on: a non-empty interpreter path without blanks or a newline, and
    // an argument that is trimmed, both from the first line within Linux's limit.
    assert!(!shebang.interpreter.is_empty());
    assert!(
        !shebang
            .interpreter
            .iter()
            .any(|b| is_blank(b) || *b == b'\n')
    );
    if let Some(argument) = shebang.argument {
        assert!(!argument.is_empty() && !argument.contains(&b'\n'));
        assert!(!is_blank(&argument[0]) && !is_blank(&argument[argument.len() - 1]));
    }
    let line_end = head.len().min(MAX_LINE);
    for part in [Some(shebang.interpreter), shebang.argument]
        .into_iter()
        .flatten()
    {
        let offset = part.as_ptr() as usize - head.as_ptr() as usize;
        assert!(offset + part.len() <= line_end);
    }
});
