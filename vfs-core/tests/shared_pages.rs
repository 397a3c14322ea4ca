//! tmpfs as Linux's shmem: the pages a mapping shares are the file's own, so what is
//! written through one is what the other reads; pages past the end are `ENXIO` (a
//! `SIGBUS` for the kernel), a full filesystem `ENOSPC`; file seals as `memfd_add_seals`
//! orders its checks; hole punching.
mod common;

use std::any::Any;
use std::sync::Arc;

use common::*;
use vfs_core::mapping::seal;
use vfs_core::ramfs::RamInode;
use vfs_core::*;

const RW: OpenFlags = OpenFlags::RDWR;
const PAGE: u64 = PAGE_SIZE as u64;

fn open_new(w: &World, path: &str) -> Arc<OpenFile> {
    w.ctx
        .open(At::Cwd, path.as_bytes(), RW | OpenFlags::CREAT, 0o644)
        .unwrap()
}

fn ram(inode: &Arc<dyn Inode>) -> Arc<RamInode> {
    let any: Arc<dyn Any + Send + Sync> = inode.clone();
    any.downcast::<RamInode>().unwrap()
}

fn read_page(page: &Arc<dyn budget::FilePage>, offset: usize, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    page.read(offset, &mut buf);
    buf
}

#[test]
fn a_mapped_page_is_the_files_own_both_ways() {
    let w = world();
    let file = open_new(&w, "/shm");
    file.write(b"written by write()").unwrap();
    let inode = file.inode();
    assert!(inode.shares_pages());
    let page = inode.mapped_page(0, false).unwrap().unwrap();
    assert_eq!(read_page(&page, 0, 18), b"written by write()");
    // A store through the mapping is what read() sees.
    page.write(11, b"mmap!!!");
    let mut buf = [0u8; 18];
    file.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"written by mmap!!!");
    // The same page whoever asks.
    let again = inode.mapped_page(0, true).unwrap().unwrap();
    assert!(Arc::ptr_eq(&page, &again));
}

#[test]
fn holes_are_made_on_demand_and_past_the_end_is_enxio() {
    let w = world();
    let file = open_new(&w, "/sparse");
    file.truncate(3 * PAGE).unwrap();
    let inode = file.inode();
    assert!(inode.mapped_page(1, false).unwrap().is_none());
    assert_eq!(file.stat().unwrap().blocks, 0);
    let page = inode.mapped_page(1, true).unwrap().unwrap();
    assert_eq!(read_page(&page, 0, PAGE_SIZE), vec![0; PAGE_SIZE]);
    assert_eq!(file.stat().unwrap().blocks, PAGE / 512);
    assert_eq!(inode.mapped_page(3, true).err(), Some(Errno::ENXIO));
    assert_eq!(inode.mapped_page(u64::MAX, true).err(), Some(Errno::ENXIO));
    // A partly used last page is still the file's.
    file.truncate(2 * PAGE + 1).unwrap();
    assert!(inode.mapped_page(2, true).unwrap().is_some());
    // Directories have no pages to share.
    let root = w.ctx.open(At::Cwd, b"/", OpenFlags::RDONLY, 0).unwrap();
    assert!(!root.inode().shares_pages());
    assert_eq!(root.inode().mapped_page(0, true).err(), Some(Errno::ENODEV));
}

#[test]
fn a_full_tmpfs_refuses_a_mapped_page_with_enospc() {
    let w = world();
    w.mount_tmpfs_at("/small", "tmpfs", "size=8k");
    let file = open_new(&w, "/small/f");
    file.truncate(4 * PAGE).unwrap();
    let inode = file.inode();
    assert!(inode.mapped_page(0, true).unwrap().is_some());
    assert!(inode.mapped_page(1, true).unwrap().is_some());
    assert_eq!(inode.mapped_page(2, true).err(), Some(Errno::ENOSPC));
    // The refused page was not counted: freeing one makes room for it.
    file.truncate(PAGE).unwrap();
    file.truncate(4 * PAGE).unwrap();
    assert!(inode.mapped_page(2, true).unwrap().is_some());
}

#[test]
fn truncate_cuts_pages_off_and_regrowing_reads_zeros() {
    let w = world();
    let file = open_new(&w, "/cut");
    file.write(&[7u8; 2 * PAGE_SIZE]).unwrap();
    let inode = file.inode();
    let second = inode.mapped_page(1, false).unwrap().unwrap();
    file.truncate(PAGE + 10).unwrap();
    // The tail of the cut page reads as zeros through a mapping too.
    assert_eq!(read_page(&second, 8, 4), [7, 7, 0, 0]);
    file.truncate(PAGE).unwrap();
    assert_eq!(inode.mapped_page(1, false).err(), Some(Errno::ENXIO));
    file.truncate(2 * PAGE).unwrap();
    let fresh = inode.mapped_page(1, true).unwrap().unwrap();
    assert!(!Arc::ptr_eq(&second, &fresh));
    assert_eq!(read_page(&fresh, 0, 16), vec![0; 16]);
}

#[test]
fn punching_a_hole_zeroes_the_range_and_frees_whole_pages() {
    let w = world();
    let file = open_new(&w, "/punch");
    file.write(&[1u8; 4 * PAGE_SIZE]).unwrap();
    let inode = file.inode();
    inode.punch_hole(PAGE - 100, 2 * PAGE + 200).unwrap();
    assert_eq!(file.stat().unwrap().size, 4 * PAGE);
    assert_eq!(file.stat().unwrap().blocks, 2 * PAGE / 512);
    let mut buf = vec![0u8; 4 * PAGE_SIZE];
    file.read_at(0, &mut buf).unwrap();
    let zeroed = (PAGE_SIZE - 100)..(3 * PAGE_SIZE + 100);
    for (at, &byte) in buf.iter().enumerate() {
        assert_eq!(byte, u8::from(!zeroed.contains(&at)), "byte {at}");
    }
    // Past the end: nothing to do.
    inode.punch_hole(10 * PAGE, PAGE).unwrap();
    assert_eq!(file.stat().unwrap().size, 4 * PAGE);
}

#[test]
fn a_tmpfs_file_starts_sealed_against_seals() {
    let w = world();
    let file = open_new(&w, "/plain");
    assert_eq!(file.inode().seals(), Ok(seal::SEAL));
    assert_eq!(file.inode().add_seals(seal::WRITE), Err(Errno::EPERM));
    let dir = w.ctx.open(At::Cwd, b"/", OpenFlags::RDONLY, 0).unwrap();
    assert_eq!(dir.inode().seals(), Err(Errno::EINVAL));
}

#[test]
fn seals_stop_writes_resizes_and_mode_changes_as_linux() {
    let w = world();
    let file = open_new(&w, "/memfd");
    let inode = file.inode().clone();
    ram(&inode).set_seals(0);
    file.write(&[5u8; 100]).unwrap();
    assert_eq!(inode.add_seals(0x40), Err(Errno::EINVAL));

    inode.add_seals(seal::SHRINK).unwrap();
    assert_eq!(file.truncate(10), Err(Errno::EPERM));
    file.truncate(200).unwrap();
    inode.add_seals(seal::GROW).unwrap();
    assert_eq!(file.truncate(300), Err(Errno::EPERM));
    assert_eq!(file.write_at(150, &[1u8; 100]), Err(Errno::EPERM));
    assert_eq!(file.write_at(0, b"inside"), Ok(6));

    // F_SEAL_WRITE waits for no writable shared mapping.
    let writer = inode.writable_mapping().unwrap();
    let split = writer.clone();
    assert_eq!(inode.add_seals(seal::WRITE), Err(Errno::EBUSY));
    drop(writer);
    assert_eq!(inode.add_seals(seal::WRITE), Err(Errno::EBUSY));
    drop(split);
    inode.add_seals(seal::WRITE).unwrap();
    assert_eq!(file.write_at(0, b"x"), Err(Errno::EPERM));
    assert!(matches!(inode.writable_mapping(), Err(Errno::EPERM)));
    assert_eq!(inode.punch_hole(0, 10), Err(Errno::EPERM));
    // Reading and read-only mapping go on.
    assert!(inode.mapped_page(0, false).unwrap().is_some());

    inode.add_seals(seal::SEAL).unwrap();
    assert_eq!(inode.add_seals(seal::SHRINK), Err(Errno::EPERM));
    assert_eq!(
        inode.seals(),
        Ok(seal::SEAL | seal::SHRINK | seal::GROW | seal::WRITE)
    );
}

#[test]
fn future_write_keeps_existing_writers_and_refuses_new_ones() {
    let w = world();
    let file = open_new(&w, "/future");
    let inode = file.inode().clone();
    ram(&inode).set_seals(0);
    let writer = inode.writable_mapping().unwrap();
    inode.add_seals(seal::FUTURE_WRITE).unwrap();
    assert!(matches!(inode.writable_mapping(), Err(Errno::EPERM)));
    assert_eq!(file.write(b"x"), Err(Errno::EPERM));
    drop(writer);
}

#[test]
fn exec_seal_freezes_the_execute_bits_and_implies_write_seals_on_executables() {
    let w = world();
    let file = open_new(&w, "/noexec");
    let inode = file.inode().clone();
    ram(&inode).set_seals(0);
    // 0o644: not executable, so only the mode is frozen.
    inode.add_seals(seal::EXEC).unwrap();
    assert_eq!(inode.seals(), Ok(seal::EXEC));
    assert_eq!(w.ctx.chmod(At::Cwd, b"/noexec", 0o755), Err(Errno::EPERM));
    w.ctx.chmod(At::Cwd, b"/noexec", 0o600).unwrap();

    let exe = open_new(&w, "/exe");
    w.ctx.chmod(At::Cwd, b"/exe", 0o755).unwrap();
    let inode = exe.inode().clone();
    ram(&inode).set_seals(0);
    let writer = inode.writable_mapping().unwrap();
    // Implied F_SEAL_WRITE is checked against writable mappings like a requested one.
    assert_eq!(inode.add_seals(seal::EXEC), Err(Errno::EBUSY));
    drop(writer);
    inode.add_seals(seal::EXEC).unwrap();
    assert_eq!(
        inode.seals(),
        Ok(seal::EXEC | seal::SHRINK | seal::GROW | seal::WRITE | seal::FUTURE_WRITE)
    );
}

#[test]
fn a_copied_up_overlay_file_maps_its_upper_files_pages() {
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let memory = tmpfs::TmpfsMemory::unbudgeted(1 << 30);
    let lower = tmpfs::new(&tmpfs::TmpfsOptions::default(), &memory, 1, clock.clone()).unwrap();
    {
        let ns = MountNamespace::new(lower.clone(), "lower", MountFlags::empty(), clock.clone());
        let ctx = FsContext::new(ns, Credentials::root());
        write_file(&ctx, "/lower-only", b"lower");
        write_file(&ctx, "/copied", b"lower");
    }
    let upper = tmpfs::new(&tmpfs::TmpfsOptions::default(), &memory, 2, clock.clone()).unwrap();
    let overlay = overlay::OverlayFs::new(upper, vec![lower], 3, String::new()).unwrap();
    let ns = MountNamespace::new(overlay, "overlay", MountFlags::empty(), clock);
    let ctx = FsContext::new(ns, Credentials::root());
    let untouched = ctx
        .open(At::Cwd, b"/lower-only", OpenFlags::RDONLY, 0)
        .unwrap();
    assert!(untouched.inode().data_inode().is_none());
    let written = ctx.open(At::Cwd, b"/copied", RW, 0).unwrap();
    let data = written.inode().data_inode().expect("copied up at open");
    assert!(data.shares_pages());
    written.write(b"upper").unwrap();
    let page = data.mapped_page(0, false).unwrap().unwrap();
    assert_eq!(read_page(&page, 0, 5), b"upper");
}
