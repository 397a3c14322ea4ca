//! The smallest PVH ELF QEMU will boot: it writes 0 to isa-debug-exit at once. Booting
//! it measures QEMU's own start-up and tear-down, the floor under any kernel's boot time.

/// Where the image loads; PVH enters in 32-bit protected mode with paging off.
const LOAD_ADDRESS: u64 = 0x10_0000;
const ELF_HEADER_LEN: usize = 64;
const PROGRAM_HEADER_LEN: usize = 56;
const NOTE_OFFSET: usize = ELF_HEADER_LEN + 2 * PROGRAM_HEADER_LEN;
/// Xen's note type for the 32-bit PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY).
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;
const NOTE_LEN: usize = 12 + 4 + 8;
const CODE_OFFSET: usize = (NOTE_OFFSET + NOTE_LEN).next_multiple_of(8);

/// `mov al, 0; out 0xf4, al; 1: hlt; jmp 1b`
const CODE: [u8; 7] = [0xb0, 0x00, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd];

pub fn image() -> Vec<u8> {
    let entry = LOAD_ADDRESS + CODE_OFFSET as u64;
    let file_len = CODE_OFFSET + CODE.len();
    let mut elf = Vec::with_capacity(file_len);

    // ELF header: 64-bit, little endian, executable, x86-64.
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    push_u16(&mut elf, 2); // ET_EXEC
    push_u16(&mut elf, 62); // EM_X86_64
    push_u32(&mut elf, 1);
    push_u64(&mut elf, entry);
    push_u64(&mut elf, ELF_HEADER_LEN as u64); // program headers follow at once
    push_u64(&mut elf, 0); // no section headers
    push_u32(&mut elf, 0);
    push_u16(&mut elf, ELF_HEADER_LEN as u16);
    push_u16(&mut elf, PROGRAM_HEADER_LEN as u16);
    push_u16(&mut elf, 2);
    push_u16(&mut elf, 64);
    push_u16(&mut elf, 0);
    push_u16(&mut elf, 0);

    // PT_LOAD of the whole file, read + execute.
    push_program_header(&mut elf, 1, 5, 0, LOAD_ADDRESS, file_len as u64, 0x1000);
    // PT_NOTE over the Xen note, read.
    push_program_header(
        &mut elf,
        4,
        4,
        NOTE_OFFSET as u64,
        LOAD_ADDRESS + NOTE_OFFSET as u64,
        NOTE_LEN as u64,
        4,
    );

    // QEMU reads the entry as a 64-bit value on 64-bit ELFs.
    push_u32(&mut elf, 4);
    push_u32(&mut elf, 8);
    push_u32(&mut elf, XEN_ELFNOTE_PHYS32_ENTRY);
    elf.extend_from_slice(b"Xen\0");
    push_u64(&mut elf, entry);

    elf.resize(CODE_OFFSET, 0);
    elf.extend_from_slice(&CODE);
    elf
}

fn push_program_header(
    elf: &mut Vec<u8>,
    kind: u32,
    flags: u32,
    offset: u64,
    address: u64,
    len: u64,
    align: u64,
) {
    push_u32(elf, kind);
    push_u32(elf, flags);
    push_u64(elf, offset);
    push_u64(elf, address); // virtual
    push_u64(elf, address); // physical: what QEMU loads by
    push_u64(elf, len); // in file
    push_u64(elf, len); // in memory
    push_u64(elf, align);
}

fn push_u16(elf: &mut Vec<u8>, value: u16) {
    elf.extend_from_slice(&value.to_le_bytes());
}

fn push_u32(elf: &mut Vec<u8>, value: u32) {
    elf.extend_from_slice(&value.to_le_bytes());
}

fn push_u64(elf: &mut Vec<u8>, value: u64) {
    elf.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_consistent() {
        let elf = image();
        assert_eq!(&elf[..4], b"\x7fELF");
        assert_eq!(elf.len(), CODE_OFFSET + CODE.len());
        assert_eq!(&elf[NOTE_OFFSET + 12..NOTE_OFFSET + 16], b"Xen\0");
        let entry = u64::from_le_bytes(elf[24..32].try_into().unwrap());
        let note_entry =
            u64::from_le_bytes(elf[NOTE_OFFSET + 16..NOTE_OFFSET + 24].try_into().unwrap());
        assert_eq!(entry, note_entry);
        assert_eq!(&elf[(entry - LOAD_ADDRESS) as usize..], &CODE);
    }
}
