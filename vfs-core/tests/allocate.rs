//! `fallocate` and `SEEK_DATA`/`SEEK_HOLE` as Linux's tmpfs has them, on tmpfs, ramfs (the
//! same engine), an overlay (copied up first) and 9p (none: `EOPNOTSUPP`, the whole file
//! data), through [`OpenFile::allocate`] and [`OpenFile::seek`]. The expectations were
//! checked against Linux 6.18's tmpfs (`/dev/shm`) with the same calls.
mod common;
mod p9_harness;

use std::sync::Arc;

use common::*;
use vfs_core::file::falloc::*;
use vfs_core::overlay::OverlayFs;
use vfs_core::ramfs::RamFs;
use vfs_core::*;

const PAGE: u64 = PAGE_SIZE as u64;
const RW: OpenFlags = OpenFlags::RDWR;

fn open_new(ctx: &FsContext, path: &str) -> Arc<OpenFile> {
    ctx.open(At::Cwd, path.as_bytes(), RW | OpenFlags::CREAT, 0o644)
        .unwrap()
}

fn seek(file: &OpenFile, offset: i64, whence: Whence) -> Result<u64> {
    file.seek(offset, whence)
}

/// What every filesystem that keeps holes (tmpfs, ramfs, an overlay's tmpfs upper) must
/// do with a fresh file `path` in `ctx`.
fn allocation_and_holes(ctx: &FsContext, path: &str) {
    let file = open_new(ctx, path);
    // Mode 0 sets the size and holds the pages, which are still holes to SEEK_DATA.
    file.allocate(0, 0, 2 * PAGE as i64).unwrap();
    let stat = file.stat().unwrap();
    assert_eq!((stat.size, stat.blocks), (2 * PAGE, 2 * PAGE / 512));
    assert_eq!(seek(&file, 0, Whence::Data), Err(Errno::ENXIO));
    assert_eq!(seek(&file, 0, Whence::Hole), Ok(0));
    let mut buf = [1u8; 16];
    assert_eq!(file.read_at(PAGE, &mut buf).unwrap(), 16);
    assert_eq!(buf, [0; 16]);
    // A written page is data; the unwritten one next to it stays a hole.
    file.write_at(PAGE + 5, b"data").unwrap();
    assert_eq!(seek(&file, 0, Whence::Data), Ok(PAGE));
    assert_eq!(seek(&file, PAGE as i64 + 100, Whence::Data), Ok(PAGE + 100));
    assert_eq!(seek(&file, PAGE as i64, Whence::Hole), Ok(2 * PAGE));
    assert_eq!(file.position(), 2 * PAGE, "the seek moved the offset");
    // A second fallocate over the unwritten page makes it data (Linux initialises it).
    file.allocate(0, 0, PAGE as i64).unwrap();
    assert_eq!(seek(&file, 0, Whence::Data), Ok(0));
    // KEEP_SIZE allocates past the end without moving it.
    file.allocate(KEEP_SIZE, 2 * PAGE as i64, 2 * PAGE as i64)
        .unwrap();
    let stat = file.stat().unwrap();
    assert_eq!((stat.size, stat.blocks), (2 * PAGE, 4 * PAGE / 512));
    // Punching frees whole pages and zeroes the edges; the size stays.
    file.write_at(0, &[7u8; 2 * PAGE_SIZE]).unwrap();
    file.allocate(PUNCH_HOLE | KEEP_SIZE, 100, PAGE as i64)
        .unwrap();
    let stat = file.stat().unwrap();
    assert_eq!(stat.size, 2 * PAGE);
    let mut page = vec![0u8; 2 * PAGE_SIZE];
    file.read_at(0, &mut page).unwrap();
    assert!(page[..100].iter().all(|&b| b == 7));
    assert!(page[100..PAGE_SIZE + 100].iter().all(|&b| b == 0));
    assert!(page[PAGE_SIZE + 100..].iter().all(|&b| b == 7));
    // Nothing whole was in the punched range: both pages stay, plus the two kept ones.
    assert_eq!(stat.blocks, 4 * PAGE / 512);
    file.allocate(PUNCH_HOLE | KEEP_SIZE, 0, 4 * PAGE as i64)
        .unwrap();
    assert_eq!(file.stat().unwrap().blocks, 0);
    assert_eq!(seek(&file, 0, Whence::Data), Err(Errno::ENXIO));
    assert_eq!(
        seek(&file, 2 * PAGE as i64, Whence::Hole),
        Err(Errno::ENXIO)
    );
    assert_eq!(seek(&file, -1, Whence::Data), Err(Errno::ENXIO));
}

/// The checks `vfs_fallocate` makes before any filesystem is asked, in its order.
fn argument_errors(ctx: &FsContext, path: &str) {
    let file = open_new(ctx, path);
    assert_eq!(file.allocate(0, -1, 10), Err(Errno::EINVAL));
    assert_eq!(file.allocate(0, 0, 0), Err(Errno::EINVAL));
    assert_eq!(file.allocate(0x80, 0, 10), Err(Errno::EOPNOTSUPP));
    assert_eq!(file.allocate(PUNCH_HOLE, 0, 10), Err(Errno::EOPNOTSUPP));
    assert_eq!(
        file.allocate(PUNCH_HOLE | ZERO_RANGE | KEEP_SIZE, 0, 10),
        Err(Errno::EOPNOTSUPP)
    );
    // Linux 6.1's order, the release this kernel reports (6.13 reordered the mode
    // checks: EOPNOTSUPP there).
    assert_eq!(
        file.allocate(COLLAPSE_RANGE | KEEP_SIZE, 0, 10),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        file.allocate(UNSHARE_RANGE | ZERO_RANGE, 0, 10),
        Err(Errno::EINVAL)
    );
    // Modes tmpfs does not have.
    for mode in [ZERO_RANGE, COLLAPSE_RANGE, INSERT_RANGE, UNSHARE_RANGE] {
        assert_eq!(
            file.allocate(mode, 0, 10),
            Err(Errno::EOPNOTSUPP),
            "{mode:#x}"
        );
    }
    assert_eq!(file.allocate(0, i64::MAX, 1), Err(Errno::EFBIG));
    assert_eq!(file.allocate(0, i64::MAX - 5, 10), Err(Errno::EFBIG));
    let read_only = ctx
        .open(At::Cwd, path.as_bytes(), OpenFlags::RDONLY, 0)
        .unwrap();
    assert_eq!(read_only.allocate(0, 0, 10), Err(Errno::EBADF));
    // Argument errors come before the descriptor's.
    assert_eq!(read_only.allocate(0, 0, 0), Err(Errno::EINVAL));
    let dir = ctx.open(At::Cwd, b"/", OpenFlags::RDONLY, 0).unwrap();
    assert_eq!(dir.allocate(0, 0, 10), Err(Errno::EBADF));
}

#[test]
fn tmpfs_allocates_and_reports_its_holes() {
    let w = world();
    allocation_and_holes(&w.ctx, "/f");
    argument_errors(&w.ctx, "/g");
}

#[test]
fn a_full_tmpfs_refuses_the_whole_range_and_keeps_nothing() {
    let w = world();
    w.mount_tmpfs_at("/small", "tmpfs", "size=12k");
    let file = open_new(&w.ctx, "/small/f");
    let free = || w.ctx.statfs(At::Cwd, b"/small").unwrap().blocks_free;
    assert_eq!(free(), 3);
    assert_eq!(file.allocate(0, 0, 4 * PAGE as i64), Err(Errno::ENOSPC));
    assert_eq!(free(), 3);
    assert_eq!(file.stat().unwrap().size, 0);
    file.allocate(0, 0, 3 * PAGE as i64).unwrap();
    assert_eq!(free(), 0);
    // The pages are there: writing into them needs no more room.
    assert_eq!(
        file.write_at(0, &[1u8; 3 * PAGE_SIZE]).unwrap(),
        3 * PAGE_SIZE
    );
    assert_eq!(file.write_at(3 * PAGE, b"x"), Err(Errno::ENOSPC));
}

#[test]
fn seals_guard_growing_and_punching() {
    let w = world();
    let file = open_new(&w.ctx, "/sealed");
    file.write(b"0123456789").unwrap();
    let node: Arc<dyn std::any::Any + Send + Sync> = file.inode().clone();
    let node = node.downcast::<vfs_core::ramfs::RamInode>().unwrap();
    node.set_seals(mapping::seal::GROW);
    // Growing is refused even with KEEP_SIZE, as shmem_fallocate does; inside is fine.
    assert_eq!(file.allocate(KEEP_SIZE, 0, 20), Err(Errno::EPERM));
    file.allocate(0, 0, 10).unwrap();
    node.set_seals(mapping::seal::WRITE);
    assert_eq!(
        file.allocate(PUNCH_HOLE | KEEP_SIZE, 0, 5),
        Err(Errno::EPERM)
    );
}

#[test]
fn ramfs_is_the_same_engine() {
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let fs: Arc<dyn FileSystem> = RamFs::new_default(3, clock.clone());
    let ns = MountNamespace::new(fs, "ramfs", MountFlags::empty(), clock);
    let ctx = FsContext::new(ns, Credentials::root());
    allocation_and_holes(&ctx, "/f");
    argument_errors(&ctx, "/g");
}

fn overlay_over(lower_fill: impl Fn(&FsContext)) -> (FsContext, FsContext, FsContext) {
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let lower = tmpfs(&clock, 10, "mode=755");
    let upper = tmpfs(&clock, 9, "mode=755");
    let context = |fs: &Arc<dyn FileSystem>| {
        FsContext::new(
            MountNamespace::new(fs.clone(), "layer", MountFlags::empty(), clock.clone()),
            Credentials::root(),
        )
    };
    let (lower_ctx, upper_ctx) = (context(&lower), context(&upper));
    lower_fill(&lower_ctx);
    let overlay: Arc<dyn FileSystem> =
        OverlayFs::new(upper, vec![lower], 8, String::from("lowerdir=l,upperdir=u")).unwrap();
    (context(&overlay), lower_ctx, upper_ctx)
}

#[test]
fn overlay_allocates_on_the_copied_up_file() {
    let (merged, lower, upper) = overlay_over(|ctx| write_file(ctx, "/old", b"lower"));
    allocation_and_holes(&merged, "/new");
    argument_errors(&merged, "/other");
    // A lower file opened for writing is copied up; the lower never changes.
    let file = merged.open(At::Cwd, b"/old", RW, 0).unwrap();
    file.allocate(0, 0, 3 * PAGE as i64).unwrap();
    assert_eq!(file.stat().unwrap().size, 3 * PAGE);
    assert_eq!(upper.stat(At::Cwd, b"/old", true).unwrap().size, 3 * PAGE);
    assert_eq!(read_file(&lower, "/old"), b"lower");
    // The copied-up data is data; the fallocated rest is a hole.
    assert_eq!(seek(&file, 0, Whence::Data), Ok(0));
    assert_eq!(seek(&file, 0, Whence::Hole), Ok(PAGE));
    file.allocate(PUNCH_HOLE | KEEP_SIZE, 0, PAGE as i64)
        .unwrap();
    assert_eq!(seek(&file, 0, Whence::Data), Err(Errno::ENXIO));
    assert_eq!(read_file(&lower, "/old"), b"lower");
}

#[test]
fn a_lower_file_not_copied_up_seeks_as_its_layer_does() {
    let (merged, _lower, _upper) = overlay_over(|ctx| {
        let file = open_new(ctx, "/sparse");
        file.write_at(3 * PAGE, b"end").unwrap();
    });
    let file = merged
        .open(At::Cwd, b"/sparse", OpenFlags::RDONLY, 0)
        .unwrap();
    assert_eq!(seek(&file, 0, Whence::Data), Ok(3 * PAGE));
    assert_eq!(seek(&file, 0, Whence::Hole), Ok(0));
    assert_eq!(seek(&file, 3 * PAGE as i64, Whence::Hole), Ok(3 * PAGE + 3));
}

#[test]
fn nine_p_has_no_fallocate_and_no_holes() {
    let fixture = p9_harness::Fixture::new(CachePolicy::Exclusive);
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let fs: Arc<dyn FileSystem> = fixture.fs.clone();
    let ctx = FsContext::new(
        MountNamespace::new(fs, "rootfs", MountFlags::empty(), clock),
        Credentials::root(),
    );
    let file = open_new(&ctx, "/f");
    file.write_at(3 * PAGE, b"end").unwrap();
    assert_eq!(file.allocate(0, 0, 10), Err(Errno::EOPNOTSUPP));
    assert_eq!(
        file.allocate(PUNCH_HOLE | KEEP_SIZE, 0, 10),
        Err(Errno::EOPNOTSUPP)
    );
    // The checks before the filesystem's still come first.
    assert_eq!(file.allocate(0, 0, 0), Err(Errno::EINVAL));
    // Linux's 9p seeks as generic_file_llseek: all data, the hole at the end.
    assert_eq!(seek(&file, 0, Whence::Data), Ok(0));
    assert_eq!(seek(&file, 0, Whence::Hole), Ok(3 * PAGE + 3));
    assert_eq!(
        seek(&file, 3 * PAGE as i64 + 3, Whence::Data),
        Err(Errno::ENXIO)
    );
    drop(file);
    ctx.ns.root().dentry.prune();
}
