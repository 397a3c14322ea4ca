//! The vDSO, mapped into each process at exec (`AT_SYSINFO_EHDR`): the image
//! ([`crate::exec::vdso::IMAGE`]) and its `[vvar]` data page, each held in a file of the
//! kernel's shmem instance, whose pages every process maps: the same frames, so the data
//! page the kernel writes is the one every process reads. They are placed as `mmap` would
//! place them, the data page right below the image (the vDSO reaches it RIP-relative),
//! read-only: the image read and execute (private, as any program text), the data page
//! read only and never writable (`mprotect` to write is `EACCES`, as Linux's `[vvar]`).
//! `/proc/<pid>/maps` names them through [`name_of`].
//!
//! The data page is written once, when the first exec makes the files: the clock's scale
//! (the TSC at entry, its frequency, the real time at boot) is fixed during boot, before
//! any program runs. [`publish`] writes it under the page's sequence lock, so a kernel
//! that changes the clock later rewrites it the same way while programs read it.

use alloc::sync::Arc;

use vfs_core::{Errno, Inode, Location};

use crate::exec::vdso::{self, IMAGE, VvarData};
use crate::mm::address_space::{AddressSpace, PageSource, SharedMapping};
use crate::mm::vma::Protection;

const PAGE: u64 = vfs_core::PAGE_SIZE as u64;

/// The two files, made on the first exec.
struct Pages {
    image: Location,
    image_inode: Arc<dyn Inode>,
    data: Location,
    data_inode: Arc<dyn Inode>,
}

static PAGES: spin::Once<Pages> = spin::Once::new();

/// The files, made (and the data page written) on first use; a failure (no memory) is
/// the exec's, and the next exec tries again.
fn pages() -> Result<&'static Pages, Errno> {
    PAGES.try_call_once(|| {
        let shmem = crate::fs::shmem::instance()?;
        let image = shmem.new_file(b"vdso", 0o555, 0, 0)?;
        let image_inode = image.dentry.positive()?.clone();
        write_all(&*image_inode, 0, IMAGE)?;
        let data = shmem.new_file(b"vvar", 0o444, 0, 0)?;
        let data_inode = data.dentry.positive()?.clone();
        let pages = Pages {
            image,
            image_inode,
            data,
            data_inode,
        };
        publish(&pages.data_inode, clock_data())?;
        Ok(pages)
    })
}

fn write_all(inode: &dyn Inode, offset: u64, bytes: &[u8]) -> Result<(), Errno> {
    let mut written = 0;
    while written < bytes.len() {
        match inode.write_at(offset + written as u64, &bytes[written..])? {
            0 => return Err(Errno::EIO),
            count => written += count,
        }
    }
    Ok(())
}

/// What the data page says now: the kernel's clock scale and its processors.
fn clock_data() -> VvarData {
    let (tsc_base, mult) = crate::timeline::tsc_scale();
    VvarData {
        seq: 0,
        clock_mode: 1,
        tsc_base,
        mult,
        realtime_offset_ns: crate::clock::realtime_offset_ns(),
        cpu_count: crate::fs::sysfs::cpu_count(),
        reserved: 0,
    }
}

/// Writes `data` into the page under its sequence lock: the count made odd first (readers
/// wait), the fields, then the count made even again, one more than before.
fn publish(page: &Arc<dyn Inode>, mut data: VvarData) -> Result<(), Errno> {
    let mut current = [0u8; 4];
    page.read_at(0, &mut current)?;
    let seq = u32::from_le_bytes(current) | 1;
    write_all(&**page, 0, &seq.to_le_bytes())?;
    data.seq = seq;
    // Everything but the count, then the count, even.
    let bytes = vdso::encode(&data);
    write_all(&**page, 4, &bytes[4..])?;
    write_all(&**page, 0, &seq.wrapping_add(1).to_le_bytes())
}

/// Maps the data page and the image into `mm`; returns the image's address, the program's
/// `AT_SYSINFO_EHDR`.
pub fn map(mm: &mut AddressSpace) -> Result<u64, Errno> {
    let pages = pages()?;
    let image_len = vdso::image_pages() as u64 * PAGE;
    // Room for both, found as `mmap` finds it and let go at once: the two take it.
    let start = mm.map_anywhere(
        0,
        PAGE + image_len,
        Protection::empty(),
        PageSource::Anonymous,
    )?;
    mm.unmap(start, PAGE + image_len)?;
    mm.map_fixed(
        start,
        PAGE,
        Protection::READ,
        PageSource::Shared(SharedMapping {
            inode: pages.data_inode.clone(),
            location: pages.data.clone(),
            offset: 0,
            shared: true,
            writer: None,
        }),
    )?;
    mm.map_fixed(
        start + PAGE,
        image_len,
        Protection::READ | Protection::EXEC,
        PageSource::Shared(SharedMapping {
            inode: pages.image_inode.clone(),
            location: pages.image.clone(),
            offset: 0,
            shared: false,
            writer: None,
        }),
    )?;
    Ok(start + PAGE)
}

/// `[vdso]` or `[vvar]` for an area over one of the two files, as `/proc/<pid>/maps`
/// names them.
pub fn name_of(inode: &Arc<dyn Inode>) -> Option<&'static [u8]> {
    let pages = PAGES.get()?;
    if Arc::ptr_eq(inode, &pages.image_inode) {
        Some(b"[vdso]")
    } else if Arc::ptr_eq(inode, &pages.data_inode) {
        Some(b"[vvar]")
    } else {
        None
    }
}
