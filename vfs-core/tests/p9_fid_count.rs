//! The kernel-wide fid count (`all_clients_fids`, shown at `/sys/kernel/debug/9p/fids`)
//! follows the fids the server holds across mounts, opens, walks and unmounts. Its own
//! test binary: the count is process-wide, and other tests' mounts would move it.

mod p9_harness;

use std::sync::Arc;

use p9_harness::Fixture;
use vfs_core::cred::Credentials;
use vfs_core::file::OpenFlags;
use vfs_core::inode::{CachePolicy, FileSystem};
use vfs_core::mount::{MountFlags, MountNamespace};
use vfs_core::p9::all_clients_fids;
use vfs_core::time::{ManualClock, Timespec};
use vfs_core::vfs::{At, FsContext};

fn context(fixture: &Fixture) -> FsContext {
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let fs: Arc<dyn FileSystem> = fixture.fs.clone();
    FsContext::new(
        MountNamespace::new(fs, "rootfs", MountFlags::empty(), clock),
        Credentials::root(),
    )
}

/// An unmount: the namespace's cached dentries (and the fids their inodes hold) go.
fn tear_down(context: FsContext) {
    context.ns.root().dentry.prune();
}

#[test]
fn the_count_of_all_clients_is_what_the_servers_hold() {
    assert_eq!(all_clients_fids().in_use, 0, "no client yet");
    let first = Fixture::new(CachePolicy::Exclusive);
    let second = Fixture::new(CachePolicy::Revalidate);
    std::fs::write(first.host("a"), b"a").unwrap();
    std::fs::create_dir(second.host("d")).unwrap();
    let held = || (first.channel.live_fids() + second.channel.live_fids()) as u64;
    assert_eq!(all_clients_fids().in_use, held());
    assert_eq!(held(), 2, "one root fid per mount");

    let first_context = context(&first);
    let file = first_context
        .open(At::Cwd, b"/a", OpenFlags::RDONLY, 0)
        .unwrap();
    assert!(held() > 2, "an open file holds fids");
    assert_eq!(all_clients_fids().in_use, held());
    drop(file);
    tear_down(first_context);

    let second_context = context(&second);
    assert!(second_context.stat(At::Cwd, b"/d", true).unwrap().is_dir());
    assert_eq!(all_clients_fids().in_use, held());
    tear_down(second_context);

    first.finish();
    second.finish();
    assert_eq!(
        all_clients_fids(),
        Default::default(),
        "unmounted: nothing held"
    );
}
