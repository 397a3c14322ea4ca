//! What one cached entry of an exclusive 9p mount costs in heap bytes, measured: a
//! directory of 20,000 files is listed and every entry stat'ed through the VFS, and the
//! heap this process holds grows by the figure printed here per entry. A cached entry is
//! what answers `readdir`, a lookup and a `stat` of the name with no round trip: the
//! test proves that by stat'ing every name again and counting requests (none), and
//! checks the aim of 256 bytes. Its own test binary: the counting allocator sees
//! only this test.

mod counting;
mod p9_harness;

use std::sync::Arc;

use p9_harness::Fixture;
use vfs_core::cred::Credentials;
use vfs_core::file::OpenFlags;
use vfs_core::inode::{CachePolicy, FileSystem};
use vfs_core::mount::{MountFlags, MountNamespace};
use vfs_core::time::{ManualClock, Timespec};
use vfs_core::vfs::{At, FsContext};

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

const FILES: usize = 20_000;

#[test]
fn bytes_per_cached_entry() {
    let fixture = Fixture::new(CachePolicy::Exclusive);
    std::fs::create_dir(fixture.host("d")).unwrap();
    for i in 0..FILES {
        std::fs::write(fixture.host(&format!("d/file-{i:05}")), b"").unwrap();
    }
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let fs: Arc<dyn FileSystem> = fixture.fs.clone();
    let ctx = FsContext::new(
        MountNamespace::new(fs, "rootfs", MountFlags::empty(), clock),
        Credentials::root(),
    );
    // The directory's own dentry, inode and fids first, so only the entries are counted.
    ctx.stat(At::Cwd, b"/d", false).unwrap();
    let names: Vec<String> = (0..FILES).map(|i| format!("/d/file-{i:05}")).collect();
    let before = counting::held();
    let dir = ctx
        .open(At::Cwd, b"/d", OpenFlags::RDONLY | OpenFlags::DIRECTORY, 0)
        .unwrap();
    let mut listed = 0;
    dir.read_dir(&mut |_| {
        listed += 1;
        true
    })
    .unwrap();
    drop(dir);
    for name in &names {
        ctx.stat(At::Cwd, name.as_bytes(), false).unwrap();
    }
    let per_entry = (counting::held() - before) as f64 / FILES as f64;
    let requests = fixture.fs.client().stats().requests;
    for name in &names {
        let stat = ctx.stat(At::Cwd, name.as_bytes(), false).unwrap();
        assert_eq!(stat.size, 0);
    }
    assert_eq!(
        fixture.fs.client().stats().requests,
        requests,
        "the second pass is answered from the cache"
    );
    let charged = vfs_core::dentry::DENTRY_COST + vfs_core::p9::LISTING_ENTRY_COST;
    println!(
        "9p exclusive: {per_entry:.0} heap bytes per cached entry (its listing entry and \
         attributes, and the dentries and inodes the lookups left cached); \
         P9Inode {} B, listing entry charged {} B, with a dentry {charged} B",
        std::mem::size_of::<vfs_core::p9::P9Inode>(),
        vfs_core::p9::LISTING_ENTRY_COST,
    );
    assert_eq!(listed, FILES + 2);
    assert!(per_entry < charged as f64, "{per_entry} > {charged}");
    assert!(
        per_entry <= 256.0,
        "{per_entry} bytes per cached entry: the aim is 256"
    );
    ctx.ns.root().dentry.prune();
    drop(ctx);
    fixture.finish();
}
