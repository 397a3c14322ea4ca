//! The vDSO's portable half: the image the build made (`kernel/vdso`, linked by
//! `kernel/build.rs`), the contents of its `[vvar]` data page, and the clock arithmetic
//! the kernel's clock and the vDSO share. Mapping both into a process is the kernel's
//! `process::vdso`; `AT_SYSINFO_EHDR` tells the program where.

use alloc::vec::Vec;
use core::mem::offset_of;

#[path = "../../vdso/vvar.rs"]
mod vvar;

pub use vvar::{SHIFT, VvarData};

/// Page-aligned bytes: an ELF reader wants its headers aligned, and a page is what the
/// image is copied in.
#[repr(C, align(4096))]
struct PageAligned<T: ?Sized>(T);

static ALIGNED: &PageAligned<[u8]> =
    &PageAligned(*include_bytes!(concat!(env!("OUT_DIR"), "/vdso.so")));

/// The vDSO, a little ELF shared object (see `kernel/vdso/vdso.rs`).
pub static IMAGE: &[u8] = &ALIGNED.0;

const PAGE: usize = vfs_core::PAGE_SIZE;

/// How many pages the image takes once mapped.
pub fn image_pages() -> usize {
    IMAGE.len().div_ceil(PAGE)
}

/// The factor that turns TSC cycles of a `khz` TSC into nanoseconds:
/// `10^6 * 2^SHIFT / khz` (a TSC of 0 kHz counts as 1).
pub fn mult_for_khz(khz: u64) -> u64 {
    let mult = (1_000_000u128 << SHIFT) / u128::from(khz.max(1));
    u64::try_from(mult).unwrap_or(u64::MAX)
}

/// Nanoseconds in `cycles` at `mult` ([`mult_for_khz`]): the kernel's clock and the
/// vDSO's compute time this one way, so they agree to the nanosecond.
pub fn cycles_to_nanos(cycles: u64, mult: u64) -> u64 {
    ((u128::from(cycles) * u128::from(mult)) >> SHIFT) as u64
}

/// The `[vvar]` page's bytes for `data`: each field little-endian at its offset in
/// [`VvarData`], the rest of the page zero.
pub fn encode(data: &VvarData) -> Vec<u8> {
    let mut page = alloc::vec![0u8; PAGE];
    let mut put = |at: usize, bytes: &[u8]| page[at..at + bytes.len()].copy_from_slice(bytes);
    put(offset_of!(VvarData, seq), &data.seq.to_le_bytes());
    put(
        offset_of!(VvarData, clock_mode),
        &data.clock_mode.to_le_bytes(),
    );
    put(offset_of!(VvarData, tsc_base), &data.tsc_base.to_le_bytes());
    put(offset_of!(VvarData, mult), &data.mult.to_le_bytes());
    put(
        offset_of!(VvarData, realtime_offset_ns),
        &data.realtime_offset_ns.to_le_bytes(),
    );
    put(
        offset_of!(VvarData, cpu_count),
        &data.cpu_count.to_le_bytes(),
    );
    put(offset_of!(VvarData, reserved), &data.reserved.to_le_bytes());
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::LittleEndian as LE;
    use object::elf;
    use object::elf::FileHeader64;
    use object::read::elf::{Dyn, FileHeader, ProgramHeader, Sym};

    type Header = FileHeader64<LE>;

    /// The dynamic section's entries, by tag.
    fn dynamic(header: &Header) -> Vec<(u64, u64)> {
        let segments = header.program_headers(LE, IMAGE).unwrap();
        let dynamic = segments
            .iter()
            .find(|ph| ph.p_type(LE) == elf::PT_DYNAMIC)
            .expect("a PT_DYNAMIC");
        dynamic
            .dynamic(LE, IMAGE)
            .unwrap()
            .unwrap()
            .iter()
            .map(|entry| (entry.d_tag(LE), entry.d_val(LE)))
            .take_while(|&(tag, _)| tag != u64::from(elf::DT_NULL))
            .collect()
    }

    /// What every loader needs: a shared object linked at 0 in one read-and-execute
    /// segment, which it can use where it is mapped without relocating anything.
    #[test]
    fn the_image_is_a_position_independent_shared_object_without_relocations() {
        let header = Header::parse(IMAGE).unwrap();
        assert_eq!(header.e_type(LE), elf::ET_DYN);
        assert_eq!(header.e_machine(LE), elf::EM_X86_64);
        let segments = header.program_headers(LE, IMAGE).unwrap();
        let loads: Vec<_> = segments
            .iter()
            .filter(|ph| ph.p_type(LE) == elf::PT_LOAD)
            .collect();
        assert_eq!(loads.len(), 1);
        assert_eq!(loads[0].p_vaddr(LE), 0);
        assert_eq!(loads[0].p_offset(LE), 0);
        assert_eq!(loads[0].p_flags(LE), elf::PF_R | elf::PF_X);
        assert!(loads[0].p_filesz(LE) as usize <= IMAGE.len());
        assert_eq!(loads[0].p_memsz(LE), loads[0].p_filesz(LE));
        assert!(!segments.iter().any(|ph| ph.p_type(LE) == elf::PT_TLS));
        let tags: Vec<u32> = dynamic(&header)
            .iter()
            .map(|&(tag, _)| tag as u32)
            .collect();
        for relocation in [
            elf::DT_REL,
            elf::DT_RELA,
            elf::DT_JMPREL,
            elf::DT_TEXTREL,
            elf::DT_NEEDED,
        ] {
            assert!(!tags.contains(&relocation), "dynamic tag {relocation:#x}");
        }
        for needed in [
            elf::DT_HASH,
            elf::DT_GNU_HASH,
            elf::DT_SYMTAB,
            elf::DT_STRTAB,
            elf::DT_VERSYM,
            elf::DT_VERDEF,
            elf::DT_SONAME,
        ] {
            assert!(tags.contains(&needed), "no dynamic tag {needed:#x}");
        }
    }

    /// The symbols glibc, musl and Go look up, each a function in the image with version
    /// `LINUX_2.6`, as the loaders check it (`.gnu.version` index → `.gnu.version_d`).
    #[test]
    fn the_clock_functions_are_exported_as_linux_2_6() {
        let header = Header::parse(IMAGE).unwrap();
        let sections = header.sections(LE, IMAGE).unwrap();
        let symbols = sections.symbols(LE, IMAGE, elf::SHT_DYNSYM).unwrap();
        let versions = sections
            .versions(LE, IMAGE)
            .unwrap()
            .expect("symbol versions");
        let text_end = IMAGE.len() as u64;
        for name in [
            "__vdso_clock_gettime",
            "__vdso_gettimeofday",
            "__vdso_time",
            "__vdso_getcpu",
            "__vdso_clock_getres",
            "clock_gettime",
            "gettimeofday",
            "time",
            "getcpu",
        ] {
            let (index, symbol) = symbols
                .iter()
                .enumerate()
                .find(|(_, symbol)| symbol.name(LE, symbols.strings()) == Ok(name.as_bytes()))
                .unwrap_or_else(|| panic!("{name} is not exported"));
            assert_eq!(symbol.st_type(), elf::STT_FUNC, "{name}");
            assert_ne!(symbol.st_shndx(LE), elf::SHN_UNDEF, "{name}");
            assert!(
                symbol.st_value(LE) > 0 && symbol.st_value(LE) < text_end,
                "{name}"
            );
            let version = versions
                .version(versions.version_index(LE, object::SymbolIndex(index)))
                .unwrap()
                .expect("a version");
            assert_eq!(version.name(), b"LINUX_2.6", "{name}");
        }
        let (_, soname) = dynamic(&header)
            .into_iter()
            .find(|&(tag, _)| tag == u64::from(elf::DT_SONAME))
            .unwrap();
        let strings = symbols.strings();
        assert_eq!(strings.get(soname as u32), Ok(&b"linux-vdso.so.1"[..]));
    }

    /// The page's layout is the struct's, field for field.
    #[test]
    fn the_data_page_holds_each_field_at_its_offset() {
        let data = VvarData {
            seq: 2,
            clock_mode: 1,
            tsc_base: 0x1122_3344_5566_7788,
            mult: 0x0102_0304_0506_0708,
            realtime_offset_ns: -5,
            cpu_count: 1,
            reserved: 0,
        };
        let page = encode(&data);
        assert_eq!(page.len(), PAGE);
        let word = |at: usize| u64::from_le_bytes(page[at..at + 8].try_into().unwrap());
        assert_eq!(&page[0..4], &2u32.to_le_bytes());
        assert_eq!(&page[4..8], &1u32.to_le_bytes());
        assert_eq!(word(8), 0x1122_3344_5566_7788);
        assert_eq!(word(16), 0x0102_0304_0506_0708);
        assert_eq!(word(24) as i64, -5);
        assert_eq!(&page[32..36], &1u32.to_le_bytes());
        assert_eq!(core::mem::size_of::<VvarData>(), 40);
        assert!(page[40..].iter().all(|&b| b == 0));
    }

    /// The fixed-point clock is the exact one to within a nanosecond per second (and
    /// exact at whole multiples it can represent), for TSCs from 1 MHz to 10 GHz.
    #[test]
    fn the_fixed_point_clock_is_close_to_exact() {
        for khz in [
            1_000, 1_000_000, 2_445_404, 2_999_998, 3_000_000, 10_000_000,
        ] {
            let mult = mult_for_khz(khz);
            for seconds in [0u64, 1, 60, 3600, 86_400 * 365] {
                let cycles = seconds * khz * 1000;
                let nanos = cycles_to_nanos(cycles, mult);
                let exact = seconds * 1_000_000_000;
                assert!(nanos <= exact, "{khz} kHz, {seconds} s: {nanos}");
                assert!(
                    exact - nanos <= seconds + 1,
                    "{khz} kHz, {seconds} s: {nanos}"
                );
            }
            // Monotonic: one more cycle never goes back.
            assert!(cycles_to_nanos(1_000_001, mult) >= cycles_to_nanos(1_000_000, mult));
        }
        assert_eq!(mult_for_khz(0), mult_for_khz(1));
        // The largest counts do not overflow.
        let _ = cycles_to_nanos(u64::MAX, mult_for_khz(1));
    }
}
