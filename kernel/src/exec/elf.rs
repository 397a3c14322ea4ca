//! Reading what exec needs from an ELF file's headers: the loadable segments, the entry
//! point, where the program headers sit in memory (for `AT_PHDR`), and whether the stack is
//! executable. Parsing is the `object` crate's checked reader, so a malformed file gives an
//! error, never a panic.

use alloc::vec::Vec;
use vfs_core::PAGE_SIZE;

use object::elf::{self, FileHeader64, ProgramHeader64};
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Endianness, LittleEndian};

use super::ExecFormatError;
use crate::mm::vma::{Protection, USER_END};

/// Offsets in `e_ident`.
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;

/// Where a position-independent executable is placed: Linux's `ELF_ET_DYN_BASE` on x86_64
/// (two thirds of the user half), so addresses look as they do under Linux.
pub const PIE_LOAD_BASE: u64 = 0x5555_5555_4000;

/// Bytes of the file exec reads first; enough for the header and any sane program header
/// table. A table beyond it is read separately.
pub const HEADER_READ_SIZE: usize = 4096;

/// One `PT_LOAD` segment, already moved by the load bias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub mem_size: u64,
    pub file_size: u64,
    pub file_offset: u64,
    pub protection: Protection,
}

impl Segment {
    /// The first page of the segment and the file offset that lands on it.
    pub fn page_start(&self) -> (u64, u64) {
        let skew = self.vaddr % PAGE_SIZE as u64;
        (self.vaddr - skew, self.file_offset - skew)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfImage {
    pub entry: u64,
    /// Added to every address in the file (0 for `ET_EXEC`).
    pub load_bias: u64,
    pub segments: Vec<Segment>,
    /// In-memory address of the program headers (`AT_PHDR`).
    pub phdr_address: u64,
    pub phdr_count: u16,
    pub phdr_entry_size: u16,
    pub executable_stack: bool,
}

/// Where the program header table is in the file, to read it if it lies past the first
/// [`HEADER_READ_SIZE`] bytes. `None` when the header itself is unusable.
pub fn program_header_range(header_bytes: &[u8]) -> Option<(u64, u64)> {
    let header = FileHeader64::<Endianness>::parse(header_bytes).ok()?;
    let endian = header.endian().ok()?;
    let size = u64::from(header.e_phnum(endian)) * u64::from(header.e_phentsize(endian));
    Some((header.e_phoff(endian), size))
}

/// The largest program header table exec reads past [`HEADER_READ_SIZE`] (a sane table is
/// a few hundred bytes; this bounds what a hostile file can make the kernel allocate).
pub const MAX_PROGRAM_HEADER_TABLE: u64 = 64 * 1024;

/// Parses an executable of `file_size` bytes whose first bytes are `head` (as many as
/// [`HEADER_READ_SIZE`], fewer if the file is shorter). A program header table that lies
/// past `head` is fetched with `read_at(offset, buffer)`, which returns how many bytes it
/// read or `None` when the file cannot be read.
pub fn parse_file(
    head: &[u8],
    file_size: u64,
    read_at: impl FnOnce(u64, &mut [u8]) -> Option<usize>,
) -> Result<ElfImage, ExecFormatError> {
    let (phoff, phsize) = program_header_range(head).ok_or(ExecFormatError::NotExecutableFormat)?;
    let end = phoff
        .checked_add(phsize)
        .ok_or(ExecFormatError::Malformed("program header table overflows"))?;
    if end <= head.len() as u64 {
        return parse(head, &head[phoff as usize..], file_size);
    }
    if phsize > MAX_PROGRAM_HEADER_TABLE {
        return Err(ExecFormatError::Malformed("program header table too large"));
    }
    let mut table = alloc::vec![0u8; phsize as usize];
    let read = read_at(phoff, &mut table)
        .ok_or(ExecFormatError::Malformed("cannot read program headers"))?;
    parse(head, &table[..read.min(table.len())], file_size)
}

/// Parses the header (`header_bytes` starts at file offset 0) and the program header table
/// (`program_headers`: the bytes at `e_phoff`, at least `e_phnum * e_phentsize` long).
pub fn parse(
    header_bytes: &[u8],
    program_headers: &[u8],
    file_size: u64,
) -> Result<ElfImage, ExecFormatError> {
    if header_bytes.get(..4) != Some(&elf::ELFMAG[..]) {
        return Err(ExecFormatError::NotExecutableFormat);
    }
    match header_bytes.get(EI_CLASS) {
        Some(&elf::ELFCLASS64) => {}
        _ => return Err(ExecFormatError::WrongArchitecture("not a 64-bit ELF")),
    }
    if header_bytes.get(EI_DATA) != Some(&elf::ELFDATA2LSB) {
        return Err(ExecFormatError::WrongArchitecture("not little-endian"));
    }
    let header = FileHeader64::<LittleEndian>::parse(header_bytes)
        .map_err(|_| ExecFormatError::Malformed("truncated header"))?;
    let endian = LittleEndian;
    if header.e_machine(endian) != elf::EM_X86_64 {
        return Err(ExecFormatError::WrongArchitecture("not x86_64"));
    }
    let kind = header.e_type(endian);
    let load_bias = match kind {
        elf::ET_EXEC => 0,
        elf::ET_DYN => PIE_LOAD_BASE,
        _ => return Err(ExecFormatError::NotExecutableFormat),
    };
    let entry_size = header.e_phentsize(endian);
    if usize::from(entry_size) != core::mem::size_of::<ProgramHeader64<LittleEndian>>() {
        return Err(ExecFormatError::Malformed("unexpected program header size"));
    }
    let count = usize::from(header.e_phnum(endian));
    let table: &[ProgramHeader64<LittleEndian>] =
        object::pod::slice_from_bytes(program_headers, count)
            .map(|(table, _)| table)
            .map_err(|_| ExecFormatError::Malformed("program header table outside the file"))?;

    let mut segments = Vec::new();
    let mut executable_stack = false;
    let mut phdr_address = None;
    let phoff = header.e_phoff(endian);
    for ph in table {
        match ph.p_type(endian) {
            elf::PT_INTERP => return Err(ExecFormatError::NeedsInterpreter),
            elf::PT_GNU_STACK => executable_stack = ph.p_flags(endian) & elf::PF_X != 0,
            elf::PT_PHDR => phdr_address = Some(ph.p_vaddr(endian)),
            elf::PT_LOAD => segments.push(load_segment(ph, endian, load_bias, file_size)?),
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(ExecFormatError::Malformed("no loadable segment"));
    }
    // Without PT_PHDR, the headers are wherever the segment holding file offset e_phoff is.
    let phdr_address = match phdr_address {
        Some(vaddr) => vaddr.checked_add(load_bias),
        None => segments
            .iter()
            .find(|s| phoff >= s.file_offset && phoff < s.file_offset + s.file_size)
            .map(|s| s.vaddr + (phoff - s.file_offset)),
    }
    .ok_or(ExecFormatError::Malformed(
        "program headers are not in a loaded segment",
    ))?;
    let entry = header
        .e_entry(endian)
        .checked_add(load_bias)
        .ok_or(ExecFormatError::Malformed("entry point overflows"))?;
    if !segments
        .iter()
        .any(|s| entry >= s.vaddr && entry < s.vaddr + s.mem_size)
    {
        return Err(ExecFormatError::Malformed(
            "entry point outside every segment",
        ));
    }
    Ok(ElfImage {
        entry,
        load_bias,
        segments,
        phdr_address,
        phdr_count: count as u16,
        phdr_entry_size: entry_size,
        executable_stack,
    })
}

fn load_segment(
    ph: &ProgramHeader64<LittleEndian>,
    endian: LittleEndian,
    bias: u64,
    file_size: u64,
) -> Result<Segment, ExecFormatError> {
    let vaddr = ph
        .p_vaddr(endian)
        .checked_add(bias)
        .ok_or(ExecFormatError::Malformed("segment address overflows"))?;
    let (mem_size, file_bytes, offset) =
        (ph.p_memsz(endian), ph.p_filesz(endian), ph.p_offset(endian));
    let mem_end = vaddr
        .checked_add(mem_size)
        .ok_or(ExecFormatError::Malformed("segment size overflows"))?;
    if file_bytes > mem_size {
        return Err(ExecFormatError::Malformed(
            "segment has more file bytes than memory",
        ));
    }
    if offset
        .checked_add(file_bytes)
        .is_none_or(|end| end > file_size)
    {
        return Err(ExecFormatError::Malformed(
            "segment data past the end of the file",
        ));
    }
    if vaddr % PAGE_SIZE as u64 != offset % PAGE_SIZE as u64 {
        return Err(ExecFormatError::Malformed(
            "segment address and file offset disagree modulo the page size",
        ));
    }
    if mem_end > USER_END || vaddr < PAGE_SIZE as u64 {
        return Err(ExecFormatError::Malformed(
            "segment outside the user address range",
        ));
    }
    let flags = ph.p_flags(endian);
    let mut protection = Protection::empty();
    for (bit, right) in [
        (elf::PF_R, Protection::READ),
        (elf::PF_W, Protection::WRITE),
        (elf::PF_X, Protection::EXEC),
    ] {
        if flags & bit != 0 {
            protection |= right;
        }
    }
    Ok(Segment {
        vaddr,
        mem_size,
        file_size: file_bytes,
        file_offset: offset,
        protection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header plus program headers, built field by field.
    struct Builder {
        kind: u16,
        machine: u16,
        entry: u64,
        headers: Vec<[u64; 7]>, // type|flags, offset, vaddr, paddr, filesz, memsz, align
    }

    impl Builder {
        fn new() -> Self {
            Self {
                kind: elf::ET_EXEC,
                machine: elf::EM_X86_64,
                entry: 0x401000,
                headers: Vec::new(),
            }
        }
        fn segment(
            mut self,
            kind: u32,
            flags: u32,
            offset: u64,
            vaddr: u64,
            filesz: u64,
            memsz: u64,
        ) -> Self {
            self.headers.push([
                u64::from(kind) | u64::from(flags) << 32,
                offset,
                vaddr,
                vaddr,
                filesz,
                memsz,
                0x1000,
            ]);
            self
        }
        fn bytes(&self) -> Vec<u8> {
            let mut out = Vec::new();
            out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(&self.kind.to_le_bytes());
            out.extend_from_slice(&self.machine.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            out.extend_from_slice(&self.entry.to_le_bytes());
            out.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
            out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
            out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
            out.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
            out.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
            out.extend_from_slice(&(self.headers.len() as u16).to_le_bytes());
            out.extend_from_slice(&[0; 6]); // shentsize, shnum, shstrndx
            for h in &self.headers {
                out.extend_from_slice(&(h[0] as u32).to_le_bytes());
                out.extend_from_slice(&((h[0] >> 32) as u32).to_le_bytes());
                for field in &h[1..] {
                    out.extend_from_slice(&field.to_le_bytes());
                }
            }
            out
        }
        fn parse(&self, file_size: u64) -> Result<ElfImage, ExecFormatError> {
            let bytes = self.bytes();
            parse(&bytes, &bytes[64..], file_size)
        }
    }

    fn static_exec() -> Builder {
        Builder::new()
            .segment(elf::PT_LOAD, elf::PF_R, 0, 0x400000, 0x1000, 0x1000)
            .segment(
                elf::PT_LOAD,
                elf::PF_R | elf::PF_X,
                0x1000,
                0x401000,
                0x2000,
                0x2000,
            )
            .segment(
                elf::PT_LOAD,
                elf::PF_R | elf::PF_W,
                0x3100,
                0x403100,
                0x100,
                0x5000,
            )
            .segment(elf::PT_GNU_STACK, elf::PF_R | elf::PF_W, 0, 0, 0, 0)
    }

    #[test]
    fn static_executable_segments_entry_and_phdr() {
        let image = static_exec().parse(0x4000).unwrap();
        assert_eq!(image.load_bias, 0);
        assert_eq!(image.entry, 0x401000);
        assert_eq!(image.phdr_address, 0x400040);
        assert_eq!(image.phdr_count, 4);
        assert!(!image.executable_stack);
        assert_eq!(
            image.segments[2].protection,
            Protection::READ | Protection::WRITE
        );
        assert_eq!(image.segments[2].page_start(), (0x403000, 0x3000));
    }

    #[test]
    fn static_pie_is_moved_to_the_pie_base() {
        let mut builder = Builder::new()
            .segment(elf::PT_PHDR, elf::PF_R, 64, 64, 0xe0, 0xe0)
            .segment(elf::PT_LOAD, elf::PF_R | elf::PF_X, 0, 0, 0x2000, 0x2000);
        builder.kind = elf::ET_DYN;
        builder.entry = 0x1100;
        let image = builder.parse(0x2000).unwrap();
        assert_eq!(image.load_bias, PIE_LOAD_BASE);
        assert_eq!(image.entry, PIE_LOAD_BASE + 0x1100);
        assert_eq!(image.phdr_address, PIE_LOAD_BASE + 64);
        assert_eq!(image.segments[0].vaddr, PIE_LOAD_BASE);
    }

    #[test]
    fn executable_stack_flag_is_read() {
        let image = Builder::new()
            .segment(
                elf::PT_LOAD,
                elf::PF_R | elf::PF_X,
                0,
                0x400000,
                0x2000,
                0x2000,
            )
            .segment(
                elf::PT_GNU_STACK,
                elf::PF_R | elf::PF_W | elf::PF_X,
                0,
                0,
                0,
                0,
            )
            .parse(0x2000)
            .unwrap();
        assert!(image.executable_stack);
    }

    #[test]
    fn wrong_formats_are_named() {
        assert_eq!(
            parse(b"#!/bin/sh\n", b"", 10),
            Err(ExecFormatError::NotExecutableFormat)
        );
        assert_eq!(
            parse(b"", b"", 0),
            Err(ExecFormatError::NotExecutableFormat)
        );
        let mut arm = static_exec();
        arm.machine = elf::EM_AARCH64;
        assert!(matches!(
            arm.parse(0x4000),
            Err(ExecFormatError::WrongArchitecture(_))
        ));
        let mut bytes = static_exec().bytes();
        bytes[EI_CLASS] = elf::ELFCLASS32;
        assert!(matches!(
            parse(&bytes, &bytes[64..], 0x4000),
            Err(ExecFormatError::WrongArchitecture(_))
        ));
        let mut relocatable = static_exec();
        relocatable.kind = elf::ET_REL;
        assert_eq!(
            relocatable.parse(0x4000),
            Err(ExecFormatError::NotExecutableFormat)
        );
    }

    #[test]
    fn dynamic_executables_are_refused() {
        let builder = static_exec().segment(elf::PT_INTERP, elf::PF_R, 0x200, 0x400200, 0x1c, 0x1c);
        assert_eq!(
            builder.parse(0x4000),
            Err(ExecFormatError::NeedsInterpreter)
        );
    }

    #[test]
    fn malformed_headers_are_errors_not_panics() {
        // Segment data past the end of the file.
        assert!(matches!(
            static_exec().parse(0x3000),
            Err(ExecFormatError::Malformed(_))
        ));
        // File bytes larger than memory.
        let bad = Builder::new().segment(elf::PT_LOAD, elf::PF_R, 0, 0x400000, 0x2000, 0x1000);
        assert!(matches!(
            bad.parse(0x4000),
            Err(ExecFormatError::Malformed(_))
        ));
        // Misaligned offset versus address.
        let bad = Builder::new().segment(
            elf::PT_LOAD,
            elf::PF_R | elf::PF_X,
            0x10,
            0x401000,
            0x100,
            0x100,
        );
        assert!(matches!(
            bad.parse(0x4000),
            Err(ExecFormatError::Malformed(_))
        ));
        // Entry outside every segment.
        let mut bad = static_exec();
        bad.entry = 0x900000;
        assert!(matches!(
            bad.parse(0x4000),
            Err(ExecFormatError::Malformed(_))
        ));
        // Program header table cut short.
        let bytes = static_exec().bytes();
        assert!(matches!(
            parse(&bytes, &bytes[64..100], 0x4000),
            Err(ExecFormatError::Malformed(_))
        ));
        // Every truncation of a valid header is handled.
        for cut in 0..bytes.len() {
            let _ = parse(&bytes[..cut], &bytes[64.min(cut)..cut], 0x4000);
        }
    }

    /// `parse_file` takes the program headers from the head when they are in it and reads
    /// them otherwise; a table it cannot read, or an oversized one, is refused.
    #[test]
    fn parse_file_reads_a_table_past_the_head() {
        let bytes = static_exec().bytes();
        let file_size = 0x4000;
        let whole = parse_file(&bytes, file_size, |_, _| panic!("all in the head")).unwrap();
        assert_eq!(whole, static_exec().parse(file_size).unwrap());
        let mut reads = Vec::new();
        let split = parse_file(&bytes[..64], file_size, |offset, table| {
            reads.push((offset, table.len()));
            let part = &bytes[offset as usize..][..table.len()];
            table.copy_from_slice(part);
            Some(table.len())
        })
        .unwrap();
        assert_eq!(split, whole);
        assert_eq!(reads, [(64, static_exec().headers.len() * 56)]);
        assert_eq!(
            parse_file(&bytes[..64], file_size, |_, _| None),
            Err(ExecFormatError::Malformed("cannot read program headers"))
        );
        let mut huge = bytes[..64].to_vec();
        huge[56..58].copy_from_slice(&u16::MAX.to_le_bytes()); // e_phnum
        assert_eq!(
            parse_file(&huge, file_size, |_, _| unreachable!()),
            Err(ExecFormatError::Malformed("program header table too large"))
        );
    }
}
