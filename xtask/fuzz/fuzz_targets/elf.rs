//! The ELF loader's parser (`kernel::exec::elf`): a whole file, read the way `execve` reads
//! it (the first page, then the program header table if it lies further on), as a program
//! or as an interpreter, then placed where exec would put it.
#![no_main]

use kernel::exec::elf::{self, HEADER_READ_SIZE};
use kernel::mm::vma::USER_END;
use libfuzzer_sys::fuzz_target;
use vfs_core::PAGE_SIZE;

fuzz_target!(|file: &[u8]| {
    let head = &file[..file.len().min(HEADER_READ_SIZE)];
    let size = file.len() as u64;
    let read_at = |offset: u64, buffer: &mut [u8]| {
        let start = usize::try_from(offset).ok()?.min(file.len());
        let bytes = &file[start..file.len().min(start.saturating_add(buffer.len()))];
        buffer[..bytes.len()].copy_from_slice(bytes);
        Some(bytes.len())
    };
    // Read as a program, or (the first byte's low bit) as the interpreter a PT_INTERP names.
    let role = if file.first().is_some_and(|byte| byte & 1 == 1) {
        elf::Role::Interpreter
    } else {
        elf::Role::Program
    };
    let Ok(headers) = elf::parse_file(head, size, role, read_at) else {
        return;
    };
    let bias = match role {
        elf::Role::Program => headers.program_bias(),
        // Where exec places an interpreter: the mmap area's top, less its span.
        elf::Role::Interpreter => match headers.span() {
            Some((_, length)) => {
                headers.interpreter_bias(0x7fff_f000_0000u64.saturating_sub(length))
            }
            None => return,
        },
    };
    // `place` checks the layout; only what it accepts is loaded.
    let Ok(image) = headers.place(bias) else {
        return;
    };
    // What the kernel's loader (`process::exec::load`) computes without checking.
    let page = PAGE_SIZE as u64;
    for segment in &image.segments {
        let (page_start, page_offset) = segment.page_start();
        assert!(page_start <= segment.vaddr && page_offset <= segment.file_offset);
        assert!(segment.file_size <= segment.mem_size);
        assert!(segment.file_offset + segment.file_size <= size);
        let memory_end = segment.vaddr + segment.mem_size;
        assert!(page_start >= page && memory_end <= USER_END);
        assert!(memory_end.next_multiple_of(page) <= USER_END.next_multiple_of(page));
    }
    assert!(
        image
            .segments
            .iter()
            .any(|s| s.vaddr <= image.entry && image.entry < s.vaddr + s.mem_size)
    );
});
