//! Trees as deep as a container cares to make them: 100,000 nested directories on a
//! tmpfs mounted inside the namespace are walked, unmounted, pruned, dropped and removed
//! on a thread with a 256 KiB stack, which only iterative code survives (one frame per
//! level of any recursion would need tens of megabytes).
mod common;

use common::*;
use vfs_core::*;

const DEPTH: usize = 100_000;
const SMALL_STACK: usize = 256 * 1024;

fn on_small_stack(test: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(test)
        .unwrap()
        .join()
        .unwrap();
}

/// `/t` (a fresh tmpfs) holding `d/d/…/d`, DEPTH levels; the context's cwd is left at
/// the deepest one.
fn deep_world() -> World {
    let mut w = world();
    w.ctx.mkdir(At::Cwd, b"/t", 0o755).unwrap();
    w.ctx
        .mount(
            At::Cwd,
            b"/t",
            tmpfs(&w.clock, 2, "nr_inodes=0"),
            "tmpfs",
            MountFlags::empty(),
        )
        .unwrap();
    w.ctx.chdir(At::Cwd, b"/t").unwrap();
    for _ in 0..DEPTH {
        w.ctx.mkdir(At::Cwd, b"d", 0o755).unwrap();
        w.ctx.chdir(At::Cwd, b"d").unwrap();
    }
    w
}

#[test]
fn a_deep_tmpfs_tree_is_unmounted_pruned_and_dropped_iteratively() {
    on_small_stack(|| {
        let mut w = deep_world();
        // Its path is 200,000 bytes: getcwd says ENAMETOOLONG, as Linux does.
        assert_eq!(err(w.ctx.getcwd()), Errno::ENAMETOOLONG);
        // A long relative walk still reaches what is below.
        w.ctx.mkdir(At::Cwd, b"leaf", 0o755).unwrap();
        assert!(w.ctx.stat(At::Cwd, b"./leaf/.", true).is_ok());
        w.ctx.chdir(At::Cwd, b"/").unwrap();
        // Pruning the whole cache (memory pressure) walks every level.
        w.ns.prune_dentries();
        w.ctx.unmount(At::Cwd, b"/t", false).unwrap();
        // The filesystem and every node of it are gone now.
        drop(w);
    });
}

#[test]
fn a_deep_tree_under_a_lazily_detached_mount_is_released_with_its_last_user() {
    on_small_stack(|| {
        let mut w = deep_world();
        // The cwd keeps the deepest dentry (and so its ancestors) alive past the unmount.
        w.ctx.unmount(At::Cwd, b"/t", true).unwrap();
        w.ctx.chdir(At::Cwd, b"/").unwrap();
        drop(w);
    });
}

#[test]
fn a_deep_tree_is_removed_bottom_up_like_rm_r() {
    on_small_stack(|| {
        let mut w = deep_world();
        for _ in 0..DEPTH {
            w.ctx.chdir(At::Cwd, b"..").unwrap();
            w.ctx.rmdir(At::Cwd, b"d").unwrap();
        }
        assert_eq!(w.ctx.getcwd().unwrap(), b"/t".to_vec());
        w.ctx.chdir(At::Cwd, b"/").unwrap();
        w.ctx.unmount(At::Cwd, b"/t", false).unwrap();
    });
}

mod p9_harness;

/// The same over 9p: a tree 1,500 directories deep made through the client and cached
/// by it (deep enough that a recursive prune would need far more than the 64 KiB stack
/// it runs on here; the host's own path limit keeps it from going deeper), released by
/// an unmount's prune, with every fid given back to the server.
#[test]
fn a_deep_cached_9p_tree_is_pruned_iteratively_and_gives_back_every_fid() {
    const P9_DEPTH: usize = 1_500;
    let fixture = p9_harness::Fixture::new(CachePolicy::Exclusive);
    let clock = std::sync::Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let fs: std::sync::Arc<dyn FileSystem> = fixture.fs.clone();
    let ns = MountNamespace::new(fs, "rootfs", MountFlags::empty(), clock);
    let mut ctx = FsContext::new(ns, Credentials::root());
    for _ in 0..P9_DEPTH {
        ctx.mkdir(At::Cwd, b"d", 0o755).unwrap();
        ctx.chdir(At::Cwd, b"d").unwrap();
    }
    let depth = std::fs::read_dir(fixture.host("")).unwrap().count();
    assert_eq!(depth, 1, "one directory at the top of the host tree");
    ctx.chdir(At::Cwd, b"/").unwrap();
    let root = ctx.ns.root().dentry.clone();
    drop(ctx);
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            root.prune();
        })
        .unwrap()
        .join()
        .unwrap();
    fixture.finish();
}
