//! Overlay behaviour, each test naming the Linux overlayfs rule it checks.
mod common;

use common::*;
use std::sync::Arc;
use vfs_core::overlay::OverlayFs;
use vfs_core::*;

struct Layers {
    clock: Arc<ManualClock>,
    lowers: Vec<(Arc<dyn FileSystem>, FsContext)>,
    upper: (Arc<dyn FileSystem>, FsContext),
    merged: FsContext,
}

fn context_on(fs: &Arc<dyn FileSystem>, clock: &Arc<ManualClock>) -> FsContext {
    FsContext::new(
        MountNamespace::new(fs.clone(), "layer", MountFlags::empty(), clock.clone()),
        Credentials::root(),
    )
}

/// Lowers are filled by `fill` (index 0 = topmost), then the overlay is mounted.
fn layers(count: usize, fill: impl Fn(usize, &FsContext)) -> Layers {
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let lowers: Vec<_> = (0..count)
        .map(|index| {
            let fs = tmpfs(&clock, 10 + index as u64, "mode=755");
            let ctx = context_on(&fs, &clock);
            fill(index, &ctx);
            (fs, ctx)
        })
        .collect();
    let upper_fs = tmpfs(&clock, 9, "mode=755");
    let upper = (upper_fs.clone(), context_on(&upper_fs, &clock));
    let overlay = OverlayFs::new(
        upper_fs,
        lowers.iter().map(|(fs, _)| fs.clone()).collect(),
        8,
        String::from("lowerdir=l,upperdir=u,workdir=w"),
    )
    .unwrap();
    let ns = MountNamespace::new(overlay, "overlay", MountFlags::empty(), clock.clone());
    let merged = FsContext::new(ns, Credentials::root());
    Layers {
        clock,
        lowers,
        upper,
        merged,
    }
}

fn basic() -> Layers {
    layers(1, |_, ctx| {
        ctx.mkdir(At::Cwd, b"/dir", 0o755).unwrap();
        ctx.mkdir(At::Cwd, b"/dir/sub", 0o755).unwrap();
        write_file(ctx, "/dir/file", b"lower data");
        write_file(ctx, "/top", b"top");
        ctx.symlink(b"dir/file", At::Cwd, b"/link").unwrap();
    })
}

#[test]
fn writes_copy_up_and_never_touch_the_lower() {
    let l = basic();
    let before = l.merged.stat(At::Cwd, b"/dir/file", true).unwrap();
    assert_eq!(before.dev, 8);
    let file = l
        .merged
        .open(At::Cwd, b"/dir/file", OpenFlags::RDWR, 0)
        .unwrap();
    file.write_at(0, b"UPPER").unwrap();
    assert_eq!(read_file(&l.merged, "/dir/file"), b"UPPER data");
    assert_eq!(read_file(&l.lowers[0].1, "/dir/file"), b"lower data");
    assert_eq!(
        read_file(&l.upper.1, "/dir/file"),
        b"UPPER data",
        "copied up with its parent chain"
    );
    let after = l.merged.stat(At::Cwd, b"/dir/file", true).unwrap();
    assert_eq!(
        (after.ino, after.dev),
        (before.ino, before.dev),
        "st_ino and st_dev survive copy-up"
    );
}

#[test]
fn inode_number_is_stable_after_the_cache_is_gone() {
    let l = basic();
    let before = l.merged.stat(At::Cwd, b"/top", true).unwrap().ino;
    l.merged.chmod(At::Cwd, b"/top", 0o600).unwrap();
    // A second overlay over the same layers has a cold cache: the origin mark gives the number.
    let again = OverlayFs::new(
        l.upper.0.clone(),
        vec![l.lowers[0].0.clone()],
        8,
        String::new(),
    )
    .unwrap();
    let ctx = FsContext::new(
        MountNamespace::new(again, "overlay", MountFlags::empty(), l.clock.clone()),
        Credentials::root(),
    );
    let stat = ctx.stat(At::Cwd, b"/top", true).unwrap();
    assert_eq!((stat.ino, stat.mode & 0o7777), (before, 0o600));
}

#[test]
fn setattr_and_truncate_copy_up_metadata_and_data() {
    let l = basic();
    l.merged
        .chown(At::Cwd, b"/top", Some(5), Some(6), true)
        .unwrap();
    l.merged.truncate(At::Cwd, b"/dir/file", 5).unwrap();
    let stat = l.merged.stat(At::Cwd, b"/top", true).unwrap();
    assert_eq!((stat.uid, stat.gid), (5, 6));
    assert_eq!(read_file(&l.merged, "/dir/file"), b"lower");
    assert_eq!(l.lowers[0].1.stat(At::Cwd, b"/top", true).unwrap().uid, 0);
}

#[test]
fn unlink_of_a_lower_file_leaves_a_whiteout() {
    let l = basic();
    l.merged.unlink(At::Cwd, b"/dir/file").unwrap();
    assert_eq!(
        err(l.merged.stat(At::Cwd, b"/dir/file", true)),
        Errno::ENOENT
    );
    assert_eq!(list_dir(&l.merged, "/dir"), [".", "..", "sub"]);
    let whiteout = l.upper.1.stat(At::Cwd, b"/dir/file", false).unwrap();
    assert_eq!(
        (whiteout.mode & attr::mode::S_IFMT, whiteout.rdev),
        (attr::mode::S_IFCHR, 0)
    );
    assert!(l.lowers[0].1.stat(At::Cwd, b"/dir/file", true).is_ok());
    write_file(&l.merged, "/dir/file", b"new");
    assert_eq!(read_file(&l.merged, "/dir/file"), b"new");
}

#[test]
fn rmdir_then_mkdir_gives_an_opaque_directory() {
    let l = basic();
    assert_eq!(err(l.merged.rmdir(At::Cwd, b"/dir")), Errno::ENOTEMPTY);
    l.merged.unlink(At::Cwd, b"/dir/file").unwrap();
    l.merged.rmdir(At::Cwd, b"/dir/sub").unwrap();
    l.merged.rmdir(At::Cwd, b"/dir").unwrap();
    assert_eq!(err(l.merged.stat(At::Cwd, b"/dir", true)), Errno::ENOENT);
    l.merged.mkdir(At::Cwd, b"/dir", 0o755).unwrap();
    assert_eq!(
        list_dir(&l.merged, "/dir"),
        [".", ".."],
        "the lower's entries stay hidden"
    );
    assert_eq!(
        err(l.merged.stat(At::Cwd, b"/dir/file", true)),
        Errno::ENOENT
    );
}

#[test]
fn merged_readdir_has_no_duplicates_or_whited_out_names() {
    let l = layers(2, |index, ctx| {
        ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
        write_file(ctx, &format!("/d/only{index}"), b"");
        write_file(ctx, "/d/both", format!("{index}").as_bytes());
    });
    write_file(&l.merged, "/d/new", b"");
    l.merged.unlink(At::Cwd, b"/d/only1").unwrap();
    assert_eq!(
        list_dir(&l.merged, "/d"),
        [".", "..", "both", "new", "only0"]
    );
    assert_eq!(
        read_file(&l.merged, "/d/both"),
        b"0",
        "the topmost lower wins"
    );
    assert_eq!(
        l.merged.stat(At::Cwd, b"/d", true).unwrap().nlink,
        1,
        "merged dirs report nlink 1"
    );
}

#[test]
fn lookup_goes_through_two_lowers_and_whiteouts_in_a_lower_hide_the_next() {
    let l = layers(2, |index, ctx| {
        if index == 0 {
            ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
            ctx.mknod(At::Cwd, b"/d/gone", attr::mode::S_IFCHR, 0)
                .unwrap();
        } else {
            ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
            write_file(ctx, "/d/gone", b"");
            write_file(ctx, "/d/deep", b"bottom");
        }
    });
    assert_eq!(read_file(&l.merged, "/d/deep"), b"bottom");
    assert_eq!(err(l.merged.stat(At::Cwd, b"/d/gone", true)), Errno::ENOENT);
    assert_eq!(list_dir(&l.merged, "/d"), [".", "..", "deep"]);
}

#[test]
fn renaming_a_lower_directory_is_exdev_but_files_and_upper_dirs_move() {
    let l = basic();
    assert_eq!(
        err(l
            .merged
            .rename(At::Cwd, b"/dir", At::Cwd, b"/moved", RenameFlags::empty())),
        Errno::EXDEV
    );
    l.merged.mkdir(At::Cwd, b"/fresh", 0o755).unwrap();
    write_file(&l.merged, "/fresh/x", b"x");
    l.merged
        .rename(
            At::Cwd,
            b"/fresh",
            At::Cwd,
            b"/renamed",
            RenameFlags::empty(),
        )
        .unwrap();
    assert_eq!(read_file(&l.merged, "/renamed/x"), b"x");
    let ino = l.merged.stat(At::Cwd, b"/top", true).unwrap().ino;
    l.merged
        .rename(At::Cwd, b"/top", At::Cwd, b"/dir/top", RenameFlags::empty())
        .unwrap();
    assert_eq!(
        err(l.merged.stat(At::Cwd, b"/top", true)),
        Errno::ENOENT,
        "whiteout at the old name"
    );
    assert_eq!(l.merged.stat(At::Cwd, b"/dir/top", true).unwrap().ino, ino);
    assert_eq!(read_file(&l.lowers[0].1, "/top"), b"top");
}

#[test]
fn rename_over_a_whiteout_and_exchange() {
    let l = basic();
    l.merged.unlink(At::Cwd, b"/top").unwrap();
    write_file(&l.merged, "/a", b"a");
    l.merged
        .rename(At::Cwd, b"/a", At::Cwd, b"/top", RenameFlags::empty())
        .unwrap();
    assert_eq!(read_file(&l.merged, "/top"), b"a");
    l.merged
        .rename(At::Cwd, b"/top", At::Cwd, b"/link", RenameFlags::EXCHANGE)
        .unwrap();
    assert_eq!(l.merged.readlink(At::Cwd, b"/top").unwrap(), b"dir/file");
    assert_eq!(read_file(&l.merged, "/link"), b"a");
}

#[test]
fn hard_link_of_a_lower_file_copies_it_up_once() {
    let l = basic();
    l.merged
        .link(At::Cwd, b"/top", At::Cwd, b"/top2", false)
        .unwrap();
    let (a, b) = (
        l.merged.stat(At::Cwd, b"/top", true).unwrap(),
        l.merged.stat(At::Cwd, b"/top2", true).unwrap(),
    );
    assert_eq!((a.ino, a.nlink), (b.ino, 2));
    write_file(&l.merged, "/top2", b"shared");
    assert_eq!(read_file(&l.merged, "/top"), b"shared");
}

#[test]
fn sparse_files_stay_sparse_through_copy_up() {
    let l = layers(1, |_, ctx| {
        let file = ctx
            .open(
                At::Cwd,
                b"/sparse",
                OpenFlags::RDWR | OpenFlags::CREAT,
                0o644,
            )
            .unwrap();
        file.write_at(10 << 20, b"x").unwrap();
    });
    l.merged.chmod(At::Cwd, b"/sparse", 0o600).unwrap();
    let stat = l.upper.1.stat(At::Cwd, b"/sparse", true).unwrap();
    assert_eq!((stat.size, stat.blocks), ((10 << 20) + 1, 8));
}

#[test]
fn create_over_existing_lower_name_is_eexist_and_statfs_is_overlay() {
    let l = basic();
    assert_eq!(err(l.merged.mkdir(At::Cwd, b"/top", 0o755)), Errno::EEXIST);
    assert_eq!(
        err(l.merged.open(
            At::Cwd,
            b"/top",
            OpenFlags::CREAT | OpenFlags::EXCL | OpenFlags::WRONLY,
            0o644
        )),
        Errno::EEXIST
    );
    assert_eq!(l.merged.statfs(At::Cwd, b"/").unwrap().fs_type, 0x794c7630);
    let text = String::from_utf8(l.merged.ns.proc_mounts(&l.merged.root).unwrap()).unwrap();
    assert_eq!(
        text,
        "overlay / overlay rw,relatime,lowerdir=l,upperdir=u,workdir=w 0 0\n"
    );
}

#[test]
fn renaming_between_hard_links_follows_linux_object_identity() {
    let l = layers(1, |_, ctx| {
        write_file(ctx, "/a", b"linked");
        ctx.link(At::Cwd, b"/a", At::Cwd, b"/b", false).unwrap();
    });
    // Lower-only hard links are two overlay inodes (no index=on): the rename happens.
    l.merged
        .rename(At::Cwd, b"/a", At::Cwd, b"/b", RenameFlags::empty())
        .unwrap();
    assert_eq!(err(l.merged.stat(At::Cwd, b"/a", true)), Errno::ENOENT);
    assert_eq!(l.merged.stat(At::Cwd, b"/b", true).unwrap().nlink, 1);
    // Hard links made in the upper are one inode: renaming one onto the other does nothing.
    l.merged
        .link(At::Cwd, b"/b", At::Cwd, b"/c", false)
        .unwrap();
    l.merged
        .rename(At::Cwd, b"/b", At::Cwd, b"/c", RenameFlags::empty())
        .unwrap();
    assert_eq!(l.merged.stat(At::Cwd, b"/b", true).unwrap().nlink, 2);
    assert_eq!(read_file(&l.merged, "/c"), b"linked");
}

#[test]
fn a_single_layer_directory_lists_its_whiteouts_like_linux_real_iterate() {
    let l = layers(1, |_, ctx| {
        ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
        ctx.mknod(At::Cwd, b"/d/ghost", attr::mode::S_IFCHR, 0)
            .unwrap();
    });
    // Linux reads a one-layer directory "real": the whiteout is listed, yet not found.
    assert_eq!(list_dir(&l.merged, "/d"), [".", "..", "ghost"]);
    assert_eq!(
        err(l.merged.stat(At::Cwd, b"/d/ghost", false)),
        Errno::ENOENT
    );
    // Emptiness is judged on the merged view: the directory can be removed.
    l.merged.rmdir(At::Cwd, b"/d").unwrap();
}
