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
