//! Reading what exec needs from an ELF file's headers, and placing its segments.
//!
//! Two steps, as Linux's `load_elf_binary` has them. [`parse`] reads the header and the
//! program headers: the loadable segments, the `PT_INTERP` path's place in the file,
//! whether the stack is executable. What it refuses makes `execve` fail (`ENOEXEC`, or
//! `ELIBBAD` for an interpreter: [`Role`]). [`ElfHeaders::place`] then moves the segments
//! by a load bias and checks that they fit the user address range; what it refuses Linux
//! meets past its point of no return ([`ExecFormatError::BadLayout`]).
//!
//! Where things go, as Linux without address-space randomization puts them: an `ET_EXEC`
//! at its own addresses; a position-independent program at `ELF_ET_DYN_BASE`, aligned down
//! to its largest segment alignment ([`ElfHeaders::program_bias`]); an `ET_DYN` interpreter
//! wherever the caller found room for its whole span ([`ElfHeaders::interpreter_bias`]).
//!
//! Parsing is the `object` crate's checked reader plus checked arithmetic, so a malformed
//! file gives an error, never a panic.

use alloc::vec::Vec;
use vfs_core::PAGE_SIZE;

use object::elf::{self, FileHeader64, ProgramHeader64};
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Endianness, LittleEndian};

use super::ExecFormatError;
use crate::mm::vma::{Protection, TASK_SIZE};

const PAGE: u64 = PAGE_SIZE as u64;

/// Offsets in `e_ident`.
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;

/// The size of an ELF64 file header: what Linux reads of an interpreter before anything
/// else (`EIO` when the file is shorter).
pub const ELF_HEADER_SIZE: usize = 64;

/// Linux's `ELF_ET_DYN_BASE` on x86_64: two thirds of the user address range.
pub const ELF_ET_DYN_BASE: u64 = TASK_SIZE / 3 * 2;

/// Where a position-independent executable whose segments are page aligned is placed:
/// [`ELF_ET_DYN_BASE`] rounded down to a page, so addresses look as they do under Linux
/// with randomization off.
pub const PIE_LOAD_BASE: u64 = ELF_ET_DYN_BASE & !(PAGE - 1);

/// Bytes of the file exec reads first; enough for the header and any sane program header
/// table. A table beyond it is read separately.
pub const HEADER_READ_SIZE: usize = 4096;

/// The longest `PT_INTERP` path Linux accepts, its NUL included (`PATH_MAX`).
pub const PATH_MAX: u64 = 4096;

/// The largest program header table exec reads past [`HEADER_READ_SIZE`] (a sane table is
/// a few hundred bytes; this bounds what a hostile file can make the kernel allocate).
pub const MAX_PROGRAM_HEADER_TABLE: u64 = 64 * 1024;

/// Which file of an exec is being read: the program itself, or the interpreter its
/// `PT_INTERP` names. They differ in how a bad file is reported (Linux: `ENOEXEC` for
/// the program, `ELIBBAD` for the interpreter) and in what is read (an interpreter's own
/// `PT_INTERP` is ignored, as Linux's `load_elf_interp` ignores it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Program,
    Interpreter,
}

/// `e_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `ET_EXEC`: loaded at the addresses in the file.
    Executable,
    /// `ET_DYN`: a position-independent executable or a shared object (an interpreter),
    /// loaded wherever exec chooses.
    SharedObject,
}

/// One `PT_LOAD` program header as the file states it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LoadHeader {
    vaddr: u64,
    mem_size: u64,
    file_size: u64,
    offset: u64,
    flags: u32,
    align: u64,
}

/// Where the `PT_INTERP` path lies in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterpreterRef {
    pub offset: u64,
    /// Bytes, the NUL included: between 2 and [`PATH_MAX`].
    pub size: u64,
}

/// What [`parse`] read: the headers, not yet placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfHeaders {
    pub kind: Kind,
    entry: u64,
    loads: Vec<LoadHeader>,
    phoff: u64,
    pub phdr_count: u16,
    pub phdr_entry_size: u16,
    pub executable_stack: bool,
    /// The program's `PT_INTERP` (never set for an interpreter).
    pub interpreter: Option<InterpreterRef>,
    file_size: u64,
}

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
        let skew = self.vaddr % PAGE;
        (self.vaddr - skew, self.file_offset - skew)
    }
}

/// A placed image: every address is where it is in memory.
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

impl ElfImage {
    /// The program's text as Linux's `load_elf_binary` records it (`start_code`,
    /// `end_code`): from the lowest executable segment's page to the end of the highest
    /// one's file bytes, rounded up to a page. `VmExe` in `/proc/<pid>/status`.
    pub fn code_range(&self) -> (u64, u64) {
        let executable = self
            .segments
            .iter()
            .filter(|segment| segment.protection.contains(Protection::EXEC));
        let start = executable.clone().map(|s| s.page_start().0).min();
        let end = executable
            .map(|s| (s.vaddr + s.file_size).next_multiple_of(PAGE))
            .max();
        start.zip(end).unwrap_or((0, 0))
    }

    /// The end of the highest segment, rounded up to a page: where the program break
    /// starts after the program.
    pub fn memory_end(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| (s.vaddr + s.mem_size).next_multiple_of(PAGE))
            .max()
            .unwrap_or(0)
    }
}

/// Where the program header table is in the file, to read it if it lies past the first
/// [`HEADER_READ_SIZE`] bytes. `None` when the header itself is unusable.
pub fn program_header_range(header_bytes: &[u8]) -> Option<(u64, u64)> {
    let header = FileHeader64::<Endianness>::parse(header_bytes).ok()?;
    let endian = header.endian().ok()?;
    let size = u64::from(header.e_phnum(endian)) * u64::from(header.e_phentsize(endian));
    Some((header.e_phoff(endian), size))
}

/// Parses a file of `file_size` bytes whose first bytes are `head` (as many as
/// [`HEADER_READ_SIZE`], fewer if the file is shorter). A program header table that lies
/// past `head` is fetched with `read_at(offset, buffer)`, which returns how many bytes it
/// read or `None` when the file cannot be read.
pub fn parse_file(
    head: &[u8],
    file_size: u64,
    role: Role,
    read_at: impl FnOnce(u64, &mut [u8]) -> Option<usize>,
) -> Result<ElfHeaders, ExecFormatError> {
    let checks = Checks { role };
    if role == Role::Interpreter && head.len() < ELF_HEADER_SIZE {
        return Err(ExecFormatError::Truncated(
            "the interpreter is shorter than an ELF header",
        ));
    }
    let Some((phoff, phsize)) = program_header_range(head) else {
        // Not even a header: say why, as `parse` would.
        return parse(head, &[], file_size, role);
    };
    let end = phoff
        .checked_add(phsize)
        .ok_or(checks.malformed("program header table overflows"))?;
    if end <= head.len() as u64 {
        return parse(head, &head[phoff as usize..], file_size, role);
    }
    if phsize > MAX_PROGRAM_HEADER_TABLE {
        return Err(checks.malformed("program header table too large"));
    }
    let mut table = alloc::vec![0u8; phsize as usize];
    let read = read_at(phoff, &mut table).ok_or(checks.malformed("cannot read program headers"))?;
    parse(head, &table[..read.min(table.len())], file_size, role)
}

/// How a failed check is reported for a [`Role`].
struct Checks {
    role: Role,
}

impl Checks {
    /// The program's error, or `ELIBBAD` for the interpreter.
    fn fail(&self, program: ExecFormatError, what: &'static str) -> ExecFormatError {
        match self.role {
            Role::Program => program,
            Role::Interpreter => ExecFormatError::BadInterpreter(what),
        }
    }

    fn malformed(&self, what: &'static str) -> ExecFormatError {
        self.fail(ExecFormatError::Malformed(what), what)
    }

    fn wrong_architecture(&self, what: &'static str) -> ExecFormatError {
        self.fail(ExecFormatError::WrongArchitecture(what), what)
    }
}

/// Parses the header (`header_bytes` starts at file offset 0) and the program header table
/// (`program_headers`: the bytes at `e_phoff`, at least `e_phnum * e_phentsize` long), in
/// the order of Linux's checks for `role`.
pub fn parse(
    header_bytes: &[u8],
    program_headers: &[u8],
    file_size: u64,
    role: Role,
) -> Result<ElfHeaders, ExecFormatError> {
    let checks = Checks { role };
    if header_bytes.get(..4) != Some(&elf::ELFMAG[..]) {
        return Err(checks.fail(ExecFormatError::NotExecutableFormat, "not an ELF file"));
    }
    match header_bytes.get(EI_CLASS) {
        Some(&elf::ELFCLASS64) => {}
        _ => return Err(checks.wrong_architecture("not a 64-bit ELF")),
    }
    if header_bytes.get(EI_DATA) != Some(&elf::ELFDATA2LSB) {
        return Err(checks.wrong_architecture("not little-endian"));
    }
    let header = FileHeader64::<LittleEndian>::parse(header_bytes)
        .map_err(|_| checks.malformed("truncated header"))?;
    let endian = LittleEndian;
    let kind = match header.e_type(endian) {
        elf::ET_EXEC => Some(Kind::Executable),
        elf::ET_DYN => Some(Kind::SharedObject),
        _ => None,
    };
    // The program's type is checked first; an interpreter's only once it is being
    // mapped, past the point of no return (`load_elf_interp`).
    if kind.is_none() && role == Role::Program {
        return Err(ExecFormatError::NotExecutableFormat);
    }
    if header.e_machine(endian) != elf::EM_X86_64 {
        return Err(checks.wrong_architecture("not x86_64"));
    }
    let entry_size = header.e_phentsize(endian);
    if usize::from(entry_size) != core::mem::size_of::<ProgramHeader64<LittleEndian>>() {
        return Err(checks.malformed("unexpected program header size"));
    }
    let count = usize::from(header.e_phnum(endian));
    if count == 0 {
        return Err(checks.malformed("no program headers"));
    }
    let table: &[ProgramHeader64<LittleEndian>] =
        object::pod::slice_from_bytes(program_headers, count)
            .map(|(table, _)| table)
            .map_err(|_| checks.malformed("program header table outside the file"))?;

    let mut loads = Vec::new();
    let mut executable_stack = false;
    let mut interpreter = None;
    for ph in table {
        match ph.p_type(endian) {
            // Linux reads the first `PT_INTERP` of a program and no other.
            elf::PT_INTERP if role == Role::Program && interpreter.is_none() => {
                let size = ph.p_filesz(endian);
                if !(2..=PATH_MAX).contains(&size) {
                    return Err(ExecFormatError::Malformed(
                        "PT_INTERP path shorter than 2 bytes or longer than PATH_MAX",
                    ));
                }
                interpreter = Some(InterpreterRef {
                    offset: ph.p_offset(endian),
                    size,
                });
            }
            elf::PT_GNU_STACK => executable_stack = ph.p_flags(endian) & elf::PF_X != 0,
            elf::PT_LOAD => loads.push(LoadHeader {
                vaddr: ph.p_vaddr(endian),
                mem_size: ph.p_memsz(endian),
                file_size: ph.p_filesz(endian),
                offset: ph.p_offset(endian),
                flags: ph.p_flags(endian),
                align: ph.p_align(endian),
            }),
            _ => {}
        }
    }
    let kind = kind.ok_or(ExecFormatError::BadLayout(
        "the interpreter is neither an executable nor a shared object",
    ))?;
    Ok(ElfHeaders {
        kind,
        entry: header.e_entry(endian),
        loads,
        phoff: header.e_phoff(endian),
        phdr_count: count as u16,
        phdr_entry_size: entry_size,
        executable_stack,
        interpreter,
        file_size,
    })
}

/// The interpreter's path from the `PT_INTERP` bytes: they must end in NUL (Linux:
/// `ENOEXEC` otherwise), and the path is the C string they start with (up to the first
/// NUL; an empty one names no file: `ENOENT` when it is opened).
pub fn interpreter_path(bytes: &[u8]) -> Result<&[u8], ExecFormatError> {
    if bytes.last() != Some(&0) {
        return Err(ExecFormatError::Malformed(
            "the PT_INTERP path does not end in NUL",
        ));
    }
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    Ok(&bytes[..end])
}

impl ElfHeaders {
    /// The load bias of a program (Linux's `load_elf_binary`): none for `ET_EXEC`;
    /// for `ET_DYN`, [`ELF_ET_DYN_BASE`] rounded down to the largest power-of-two
    /// segment alignment (at least a page), less the first segment's address.
    pub fn program_bias(&self) -> u64 {
        match self.kind {
            Kind::Executable => 0,
            Kind::SharedObject => {
                let alignment = self
                    .loads
                    .iter()
                    .map(|load| load.align)
                    .filter(|align| align.is_power_of_two())
                    .max()
                    .map_or(0, |align| align.max(PAGE));
                let mut base = ELF_ET_DYN_BASE;
                if alignment != 0 {
                    base &= !(alignment - 1);
                }
                let first = self.loads.first().map_or(0, |load| load.vaddr);
                base.wrapping_sub(first) & !(PAGE - 1)
            }
        }
    }

    /// The page-aligned range the loadable segments span in the file's addresses: its
    /// lowest page and its length (Linux's `total_mapping_size`, rounded up to a page).
    /// `None` without a loadable segment or for a span that overflows.
    pub fn span(&self) -> Option<(u64, u64)> {
        let start = self
            .loads
            .iter()
            .map(|load| load.vaddr & !(PAGE - 1))
            .min()?;
        let mut end = 0u64;
        for load in &self.loads {
            end = end.max(load.vaddr.checked_add(load.mem_size)?);
        }
        let len = end.checked_sub(start)?.checked_next_multiple_of(PAGE)?;
        (len > 0).then_some((start, len))
    }

    /// The load bias of an interpreter whose span ([`span`](Self::span)) is to start at
    /// `start`: `ET_EXEC` interpreters stay where they are.
    pub fn interpreter_bias(&self, start: u64) -> u64 {
        match (self.kind, self.span()) {
            (Kind::SharedObject, Some((lowest, _))) => start.wrapping_sub(lowest),
            _ => 0,
        }
    }

    /// Moves every segment by `bias` and checks that the image fits the user address
    /// range, with Linux's checks (and a few of ours for files Linux would map and then
    /// crash on): every failure is [`ExecFormatError::BadLayout`].
    pub fn place(&self, bias: u64) -> Result<ElfImage, ExecFormatError> {
        if self.loads.is_empty() {
            return Err(ExecFormatError::BadLayout("no loadable segment"));
        }
        let segments = self
            .loads
            .iter()
            .map(|load| self.place_segment(load, bias))
            .collect::<Result<Vec<_>, _>>()?;
        // `AT_PHDR` is where the segment holding file offset `e_phoff` puts it (Linux 5.18
        // and later; `PT_PHDR` says the same for any sane file), or the bias alone.
        let phdr_address = self
            .loads
            .iter()
            .find(|load| self.phoff >= load.offset && self.phoff - load.offset < load.file_size)
            .map_or(bias, |load| {
                (self.phoff - load.offset)
                    .wrapping_add(load.vaddr)
                    .wrapping_add(bias)
            });
        let entry = self.entry.wrapping_add(bias);
        if entry >= TASK_SIZE {
            return Err(ExecFormatError::BadLayout(
                "entry point outside the user address range",
            ));
        }
        // Linux would jump there and fault: the process dies of SIGSEGV either way.
        if !segments
            .iter()
            .any(|s| entry >= s.vaddr && entry - s.vaddr < s.mem_size)
        {
            return Err(ExecFormatError::BadLayout(
                "entry point outside every segment",
            ));
        }
        Ok(ElfImage {
            entry,
            load_bias: bias,
            segments,
            phdr_address,
            phdr_count: self.phdr_count,
            phdr_entry_size: self.phdr_entry_size,
            executable_stack: self.executable_stack,
        })
    }

    fn place_segment(&self, load: &LoadHeader, bias: u64) -> Result<Segment, ExecFormatError> {
        let vaddr = load.vaddr.wrapping_add(bias);
        // Linux's check: an address past the user range, or a size that would take
        // the segment (or the break after it) past it.
        if vaddr >= TASK_SIZE || load.mem_size > TASK_SIZE || TASK_SIZE - load.mem_size < vaddr {
            return Err(ExecFormatError::BadLayout(
                "segment outside the user address range",
            ));
        }
        if load.file_size > load.mem_size {
            return Err(ExecFormatError::BadLayout(
                "segment has more file bytes than memory",
            ));
        }
        if vaddr < PAGE {
            return Err(ExecFormatError::BadLayout(
                "segment in the first page, which is never mapped",
            ));
        }
        if load
            .offset
            .checked_add(load.file_size)
            .is_none_or(|end| end > self.file_size)
        {
            return Err(ExecFormatError::BadLayout(
                "segment data past the end of the file",
            ));
        }
        if vaddr % PAGE != load.offset % PAGE {
            return Err(ExecFormatError::BadLayout(
                "segment address and file offset disagree modulo the page size",
            ));
        }
        let mut protection = Protection::empty();
        for (bit, right) in [
            (elf::PF_R, Protection::READ),
            (elf::PF_W, Protection::WRITE),
            (elf::PF_X, Protection::EXEC),
        ] {
            if load.flags & bit != 0 {
                protection |= right;
            }
        }
        Ok(Segment {
            vaddr,
            mem_size: load.mem_size,
            file_size: load.file_size,
            file_offset: load.offset,
            protection,
        })
    }
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
            self,
            kind: u32,
            flags: u32,
            offset: u64,
            vaddr: u64,
            filesz: u64,
            memsz: u64,
        ) -> Self {
            self.aligned(kind, flags, offset, vaddr, filesz, memsz, 0x1000)
        }
        #[allow(clippy::too_many_arguments)]
        fn aligned(
            mut self,
            kind: u32,
            flags: u32,
            offset: u64,
            vaddr: u64,
            filesz: u64,
            memsz: u64,
            align: u64,
        ) -> Self {
            self.headers.push([
                u64::from(kind) | u64::from(flags) << 32,
                offset,
                vaddr,
                vaddr,
                filesz,
                memsz,
                align,
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
        fn headers_as(&self, file_size: u64, role: Role) -> Result<ElfHeaders, ExecFormatError> {
            let bytes = self.bytes();
            parse(&bytes, &bytes[64..], file_size, role)
        }
        /// Parsed as a program and placed at its own bias, as exec does.
        fn parse(&self, file_size: u64) -> Result<ElfImage, ExecFormatError> {
            let headers = self.headers_as(file_size, Role::Program)?;
            headers.place(headers.program_bias())
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

    /// A position-independent program that asks for an interpreter, laid out as gcc's
    /// are: PT_PHDR, PT_INTERP, then the loads from address 0.
    fn dynamic_pie(interp_size: u64) -> Builder {
        let mut builder = Builder::new()
            .segment(elf::PT_PHDR, elf::PF_R, 64, 64, 5 * 56, 5 * 56)
            .segment(
                elf::PT_INTERP,
                elf::PF_R,
                0x318,
                0x318,
                interp_size,
                interp_size,
            )
            .segment(elf::PT_LOAD, elf::PF_R, 0, 0, 0x1000, 0x1000)
            .segment(
                elf::PT_LOAD,
                elf::PF_R | elf::PF_X,
                0x1000,
                0x1000,
                0x800,
                0x800,
            )
            .segment(
                elf::PT_LOAD,
                elf::PF_R | elf::PF_W,
                0x2000,
                0x3000,
                0x100,
                0x2000,
            );
        builder.kind = elf::ET_DYN;
        builder.entry = 0x1040;
        builder
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
        assert_eq!(image.memory_end(), 0x409000);
        let headers = static_exec().headers_as(0x4000, Role::Program).unwrap();
        assert_eq!(headers.interpreter, None);
        assert_eq!(headers.kind, Kind::Executable);
    }

    #[test]
    fn static_pie_is_moved_to_the_pie_base() {
        let mut builder = Builder::new()
            .segment(elf::PT_PHDR, elf::PF_R, 64, 64, 0xe0, 0xe0)
            .segment(elf::PT_LOAD, elf::PF_R | elf::PF_X, 0, 0, 0x2000, 0x2000);
        builder.kind = elf::ET_DYN;
        builder.entry = 0x1100;
        let image = builder.parse(0x2000).unwrap();
        assert_eq!(PIE_LOAD_BASE, 0x5555_5555_4000);
        assert_eq!(image.load_bias, PIE_LOAD_BASE);
        assert_eq!(image.entry, PIE_LOAD_BASE + 0x1100);
        assert_eq!(image.phdr_address, PIE_LOAD_BASE + 64);
        assert_eq!(image.segments[0].vaddr, PIE_LOAD_BASE);
    }

    /// Linux aligns a PIE's base down to its largest segment alignment (a power of two,
    /// at least a page): 2 MiB segments start at 0x555555400000.
    #[test]
    fn a_pie_base_follows_its_segment_alignment() {
        let mut builder = Builder::new()
            .aligned(
                elf::PT_LOAD,
                elf::PF_R | elf::PF_X,
                0,
                0,
                0x2000,
                0x2000,
                0x20_0000,
            )
            .aligned(elf::PT_LOAD, elf::PF_R, 0x2000, 0x20_2000, 0x10, 0x10, 3);
        builder.kind = elf::ET_DYN;
        builder.entry = 0x100;
        let headers = builder.headers_as(0x3000, Role::Program).unwrap();
        assert_eq!(headers.program_bias(), 0x5555_5540_0000);
        // No usable alignment at all: the page-rounded base.
        let mut builder = Builder::new().aligned(elf::PT_LOAD, elf::PF_R, 0, 0, 0x10, 0x10, 0);
        builder.kind = elf::ET_DYN;
        builder.entry = 0;
        let headers = builder.headers_as(0x10, Role::Program).unwrap();
        assert_eq!(headers.program_bias(), PIE_LOAD_BASE);
    }

    #[test]
    fn executable_stack_flag_is_read() {
        let builder = Builder::new()
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
            );
        assert!(builder.parse(0x2000).unwrap().executable_stack);
    }

    #[test]
    fn wrong_formats_are_named() {
        assert_eq!(
            parse(b"#!/bin/sh\n", b"", 10, Role::Program),
            Err(ExecFormatError::NotExecutableFormat)
        );
        assert_eq!(
            parse(b"", b"", 0, Role::Program),
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
            parse(&bytes, &bytes[64..], 0x4000, Role::Program),
            Err(ExecFormatError::WrongArchitecture(_))
        ));
        let mut relocatable = static_exec();
        relocatable.kind = elf::ET_REL;
        assert_eq!(
            relocatable.parse(0x4000),
            Err(ExecFormatError::NotExecutableFormat)
        );
        assert_eq!(
            ExecFormatError::NotExecutableFormat.errno(),
            vfs_core::Errno::ENOEXEC
        );
    }

    /// A program's PT_INTERP is found where the file says, and the program is placed at
    /// the PIE base; the path comes out of its bytes without the NUL.
    #[test]
    fn pt_interp_is_read_and_the_program_placed() {
        let headers = dynamic_pie(28).headers_as(0x3000, Role::Program).unwrap();
        assert_eq!(
            headers.interpreter,
            Some(InterpreterRef {
                offset: 0x318,
                size: 28
            })
        );
        let image = headers.place(headers.program_bias()).unwrap();
        assert_eq!(image.load_bias, PIE_LOAD_BASE);
        assert_eq!(image.entry, PIE_LOAD_BASE + 0x1040);
        assert_eq!(image.phdr_address, PIE_LOAD_BASE + 64);
        assert_eq!(image.memory_end(), PIE_LOAD_BASE + 0x5000);
        assert_eq!(
            interpreter_path(b"/lib64/ld-linux-x86-64.so.2\0"),
            Ok(&b"/lib64/ld-linux-x86-64.so.2"[..])
        );
    }

    /// Linux's rules for the path: 2 to PATH_MAX bytes, the last a NUL (ENOEXEC
    /// otherwise); the name is the C string, so bytes after an earlier NUL are ignored.
    #[test]
    fn bad_interpreter_paths_are_enoexec() {
        for size in [0, 1, PATH_MAX + 1, u64::MAX] {
            let error = dynamic_pie(size)
                .headers_as(0x3000, Role::Program)
                .unwrap_err();
            assert!(
                matches!(error, ExecFormatError::Malformed(_)),
                "{size}: {error:?}"
            );
            assert_eq!(error.errno(), vfs_core::Errno::ENOEXEC);
        }
        assert!(
            dynamic_pie(PATH_MAX)
                .headers_as(0x3000, Role::Program)
                .is_ok()
        );
        let unterminated = interpreter_path(b"/lib/ld-musl-x86_64.so.1").unwrap_err();
        assert_eq!(unterminated.errno(), vfs_core::Errno::ENOEXEC);
        assert_eq!(
            interpreter_path(b"/lib/ld.so\0junk\0"),
            Ok(&b"/lib/ld.so"[..])
        );
        assert_eq!(interpreter_path(b"\0\0"), Ok(&b""[..]));
        assert!(interpreter_path(b"").is_err());
    }

    /// Only the first PT_INTERP counts, as in Linux.
    #[test]
    fn the_first_pt_interp_is_the_one() {
        let builder = dynamic_pie(28).segment(elf::PT_INTERP, elf::PF_R, 0x900, 0x900, 1, 1);
        let headers = builder.headers_as(0x3000, Role::Program).unwrap();
        assert_eq!(headers.interpreter.unwrap().offset, 0x318);
    }

    /// An interpreter is read with ELIBBAD for what would be ENOEXEC in a program, EIO
    /// for a file shorter than a header, its own PT_INTERP ignored (Linux's
    /// `load_elf_interp` never looks at it), and a wrong type found only when it is
    /// mapped, past the point of no return.
    #[test]
    fn interpreter_errors_are_elibbad() {
        let interp = |builder: &Builder| {
            let bytes = builder.bytes();
            parse_file(&bytes, 0x3000, Role::Interpreter, |_, _| None)
        };
        let mut ld_so = dynamic_pie(28);
        ld_so.headers.remove(1); // no PT_INTERP of its own
        let headers = interp(&ld_so).unwrap();
        assert_eq!(headers.kind, Kind::SharedObject);
        // One with a PT_INTERP of its own is loaded all the same.
        assert_eq!(interp(&dynamic_pie(28)).unwrap().interpreter, None);

        let not_elf = parse_file(&[b'#'; 100], 100, Role::Interpreter, |_, _| None).unwrap_err();
        assert!(matches!(not_elf, ExecFormatError::BadInterpreter(_)));
        assert_eq!(not_elf.errno(), vfs_core::Errno::ELIBBAD);
        let short = parse_file(b"\x7fELF", 4, Role::Interpreter, |_, _| None).unwrap_err();
        assert_eq!(short.errno(), vfs_core::Errno::EIO);
        let mut arm = ld_so.clone_builder();
        arm.machine = elf::EM_AARCH64;
        assert_eq!(interp(&arm).unwrap_err().errno(), vfs_core::Errno::ELIBBAD);
        let mut bytes = ld_so.bytes();
        bytes[EI_CLASS] = elf::ELFCLASS32;
        assert_eq!(
            parse_file(&bytes, 0x3000, Role::Interpreter, |_, _| None)
                .unwrap_err()
                .errno(),
            vfs_core::Errno::ELIBBAD
        );
        let mut bytes = ld_so.bytes();
        bytes[54] = 32; // e_phentsize
        assert_eq!(
            parse_file(&bytes, 0x3000, Role::Interpreter, |_, _| None)
                .unwrap_err()
                .errno(),
            vfs_core::Errno::ELIBBAD
        );
        let mut relocatable = ld_so.clone_builder();
        relocatable.kind = elf::ET_REL;
        let error = interp(&relocatable).unwrap_err();
        assert!(error.is_fatal(), "{error:?}");
    }

    impl Builder {
        fn clone_builder(&self) -> Builder {
            Builder {
                kind: self.kind,
                machine: self.machine,
                entry: self.entry,
                headers: self.headers.clone(),
            }
        }
    }

    /// An ET_DYN interpreter goes wherever its whole span fits; an ET_EXEC one stays put.
    #[test]
    fn interpreter_placement() {
        let mut ld_so = dynamic_pie(28);
        ld_so.headers.remove(1);
        let headers = ld_so.headers_as(0x3000, Role::Interpreter).unwrap();
        assert_eq!(headers.span(), Some((0, 0x5000)));
        let start = 0x7fff_effe_b000;
        let image = headers.place(headers.interpreter_bias(start)).unwrap();
        assert_eq!(image.segments[0].vaddr, start);
        assert_eq!(image.entry, start + 0x1040);
        assert_eq!(image.memory_end(), start + 0x5000);
        let exec = static_exec().headers_as(0x4000, Role::Interpreter).unwrap();
        assert_eq!(exec.interpreter_bias(start), 0);
        assert_eq!(exec.span(), Some((0x400000, 0x9000)));
    }

    /// What Linux finds past its point of no return: a segment past the user range, one
    /// whose size would wrap, more file bytes than memory, no loadable segment. Each is
    /// a fatal layout error (SIGSEGV), never a panic.
    #[test]
    fn bad_layouts_are_fatal_not_panics() {
        let fatal = |builder: Builder, file_size| {
            let error = builder.parse(file_size).unwrap_err();
            assert!(error.is_fatal(), "{error:?}");
        };
        // Huge p_memsz, at a fixed address and in a PIE.
        fatal(
            Builder::new().segment(
                elf::PT_LOAD,
                elf::PF_R,
                0,
                0x400000,
                0x100,
                u64::MAX - 0x1000,
            ),
            0x1000,
        );
        fatal(
            Builder::new().segment(elf::PT_LOAD, elf::PF_R, 0, 0x400000, 0x100, TASK_SIZE),
            0x1000,
        );
        let mut pie = Builder::new().segment(elf::PT_LOAD, elf::PF_R, 0, 0, 0x100, 1 << 46);
        pie.kind = elf::ET_DYN;
        pie.entry = 0;
        fatal(pie, 0x1000);
        // An address past the user range.
        fatal(
            Builder::new().segment(
                elf::PT_LOAD,
                elf::PF_R,
                0,
                0xffff_8000_0000_0000,
                0x100,
                0x100,
            ),
            0x1000,
        );
        // File bytes larger than memory.
        fatal(
            Builder::new().segment(elf::PT_LOAD, elf::PF_R, 0, 0x400000, 0x2000, 0x1000),
            0x4000,
        );
        // Segment data past the end of the file.
        fatal(static_exec(), 0x3000);
        // Misaligned offset versus address.
        fatal(
            Builder::new().segment(
                elf::PT_LOAD,
                elf::PF_R | elf::PF_X,
                0x10,
                0x401000,
                0x100,
                0x100,
            ),
            0x4000,
        );
        // Entry outside every segment.
        let mut bad = static_exec();
        bad.entry = 0x900000;
        fatal(bad, 0x4000);
        // No loadable segment.
        let only_stack = Builder::new().segment(elf::PT_GNU_STACK, elf::PF_R, 0, 0, 0, 0);
        fatal(only_stack, 0x1000);
        // Overlapping segments are mapped in order, as Linux's MAP_FIXED does.
        let overlapping = Builder::new()
            .segment(
                elf::PT_LOAD,
                elf::PF_R | elf::PF_X,
                0,
                0x401000,
                0x2000,
                0x2000,
            )
            .segment(
                elf::PT_LOAD,
                elf::PF_R | elf::PF_W,
                0x1000,
                0x402000,
                0x1000,
                0x3000,
            );
        assert_eq!(overlapping.parse(0x3000).unwrap().segments.len(), 2);
    }

    #[test]
    fn malformed_headers_are_enoexec_not_panics() {
        // Program header table cut short.
        let bytes = static_exec().bytes();
        assert!(matches!(
            parse(&bytes, &bytes[64..100], 0x4000, Role::Program),
            Err(ExecFormatError::Malformed(_))
        ));
        // No program headers at all.
        let mut none = bytes[..64].to_vec();
        none[56..58].copy_from_slice(&0u16.to_le_bytes());
        assert!(matches!(
            parse(&none, &[], 0x4000, Role::Program),
            Err(ExecFormatError::Malformed(_))
        ));
        // Every truncation of a valid header is handled, in both roles.
        for role in [Role::Program, Role::Interpreter] {
            for cut in 0..bytes.len() {
                let _ = parse(&bytes[..cut], &bytes[64.min(cut)..cut], 0x4000, role);
                let _ = parse_file(&bytes[..cut], 0x4000, role, |_, _| None);
            }
        }
        // Random bytes behind a valid-looking header never panic either.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut fuzzed = dynamic_pie(28).bytes();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % fuzzed.len() as u64) as usize;
                fuzzed[at] = (state >> 40) as u8;
            }
            for role in [Role::Program, Role::Interpreter] {
                if let Ok(headers) = parse_file(&fuzzed, 0x3000, role, |_, _| None) {
                    let _ = headers.place(headers.program_bias());
                    let _ = headers.place(headers.interpreter_bias(0x7fff_0000_0000));
                    let _ = headers.span();
                }
            }
        }
    }

    /// `parse_file` takes the program headers from the head when they are in it and reads
    /// them otherwise; a table it cannot read, or an oversized one, is refused.
    #[test]
    fn parse_file_reads_a_table_past_the_head() {
        let bytes = static_exec().bytes();
        let file_size = 0x4000;
        let whole = parse_file(&bytes, file_size, Role::Program, |_, _| {
            panic!("all in the head")
        })
        .unwrap();
        assert_eq!(
            whole,
            static_exec().headers_as(file_size, Role::Program).unwrap()
        );
        let mut reads = Vec::new();
        let split = parse_file(&bytes[..64], file_size, Role::Program, |offset, table| {
            reads.push((offset, table.len()));
            let part = &bytes[offset as usize..][..table.len()];
            table.copy_from_slice(part);
            Some(table.len())
        })
        .unwrap();
        assert_eq!(split, whole);
        assert_eq!(reads, [(64, static_exec().headers.len() * 56)]);
        assert_eq!(
            parse_file(&bytes[..64], file_size, Role::Program, |_, _| None),
            Err(ExecFormatError::Malformed("cannot read program headers"))
        );
        let mut huge = bytes[..64].to_vec();
        huge[56..58].copy_from_slice(&u16::MAX.to_le_bytes()); // e_phnum
        assert_eq!(
            parse_file(&huge, file_size, Role::Program, |_, _| unreachable!()),
            Err(ExecFormatError::Malformed("program header table too large"))
        );
    }
}
