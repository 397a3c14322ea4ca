//! Path-walk rules, each checked against what Linux returns.
mod common;

use common::*;
use vfs_core::*;

#[test]
fn relative_paths_start_at_the_working_directory() {
    let mut w = world();
    w.ctx.mkdir(At::Cwd, b"/a", 0o755).unwrap();
    write_file(&w.ctx, "/a/f", b"x");
    w.ctx.chdir(At::Cwd, b"/a").unwrap();
    assert_eq!(w.ctx.stat(At::Cwd, b"f", true).unwrap().size, 1);
    assert_eq!(w.ctx.getcwd().unwrap(), b"/a");
    let dir = w.ctx.resolve(At::Cwd, b"/", true).unwrap();
    assert_eq!(w.ctx.stat(At::Dir(&dir), b"a/f", true).unwrap().size, 1);
}

#[test]
fn dot_and_dotdot_and_repeated_slashes() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/a", 0o755).unwrap();
    w.ctx.mkdir(At::Cwd, b"/a/b", 0o755).unwrap();
    let a = w.ctx.stat(At::Cwd, b"/a", true).unwrap().ino;
    assert_eq!(w.ctx.stat(At::Cwd, b"/a/b/..", true).unwrap().ino, a);
    assert_eq!(w.ctx.stat(At::Cwd, b"//a/./b/../", true).unwrap().ino, a);
    // `..` of the root is the root (Linux: never above the namespace root).
    let root = w.ctx.stat(At::Cwd, b"/", true).unwrap().ino;
    assert_eq!(w.ctx.stat(At::Cwd, b"/../../..", true).unwrap().ino, root);
}

#[test]
fn empty_path_is_enoent_and_file_as_directory_is_enotdir() {
    let w = world();
    write_file(&w.ctx, "/f", b"");
    assert_eq!(err(w.ctx.stat(At::Cwd, b"", true)), Errno::ENOENT);
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/f/x", true)), Errno::ENOTDIR);
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/f/", true)), Errno::ENOTDIR);
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/f/.", true)), Errno::ENOTDIR);
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/missing/x", true)), Errno::ENOENT);
}

#[test]
fn name_and_path_length_limits() {
    let w = world();
    let long = "n".repeat(256);
    assert_eq!(
        err(w.ctx.stat(At::Cwd, format!("/{long}").as_bytes(), true)),
        Errno::ENAMETOOLONG
    );
    assert_eq!(
        err(w.ctx.mkdir(At::Cwd, format!("/{long}").as_bytes(), 0o755)),
        Errno::ENAMETOOLONG
    );
    let max = "n".repeat(255);
    w.ctx
        .mkdir(At::Cwd, format!("/{max}").as_bytes(), 0o755)
        .unwrap();
    // 4095 bytes is fine (a path of 4096 with its NUL); 4096 is ENAMETOOLONG.
    let ok_path = format!("/{}", "./".repeat(2046)) + "x";
    assert_eq!(ok_path.len(), 4094);
    assert_eq!(
        err(w.ctx.stat(At::Cwd, ok_path.as_bytes(), true)),
        Errno::ENOENT
    );
    let too_long = "/".repeat(4096);
    assert_eq!(
        err(w.ctx.stat(At::Cwd, too_long.as_bytes(), true)),
        Errno::ENAMETOOLONG
    );
    assert!(
        w.ctx
            .stat(At::Cwd, "/".repeat(4095).as_bytes(), true)
            .is_ok()
    );
}

#[test]
fn symlinks_absolute_relative_and_dangling() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
    write_file(&w.ctx, "/d/f", b"hello");
    w.ctx.symlink(b"/d/f", At::Cwd, b"/abs").unwrap();
    w.ctx.symlink(b"d/f", At::Cwd, b"/rel").unwrap();
    w.ctx.symlink(b"../d", At::Cwd, b"/d/up").unwrap();
    w.ctx.symlink(b"nowhere", At::Cwd, b"/dangling").unwrap();
    assert_eq!(read_file(&w.ctx, "/abs"), b"hello");
    assert_eq!(read_file(&w.ctx, "/rel"), b"hello");
    assert_eq!(read_file(&w.ctx, "/d/up/up/up/f"), b"hello");
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/dangling", true)), Errno::ENOENT);
    let link = w.ctx.stat(At::Cwd, b"/dangling", false).unwrap();
    assert_eq!(link.file_type(), Some(FileType::Symlink));
    assert_eq!(link.size, 7);
    assert_eq!(w.ctx.readlink(At::Cwd, b"/rel").unwrap(), b"d/f");
    assert_eq!(err(w.ctx.readlink(At::Cwd, b"/d")), Errno::EINVAL);
    // A trailing slash makes even lstat follow a symlink to a directory.
    w.ctx.symlink(b"d", At::Cwd, b"/dirlink").unwrap();
    assert!(w.ctx.stat(At::Cwd, b"/dirlink/", false).unwrap().is_dir());
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/abs/", false)), Errno::ENOTDIR);
}

#[test]
fn symlink_limit_is_40_then_eloop() {
    let w = world();
    write_file(&w.ctx, "/target", b"t");
    w.ctx.symlink(b"target", At::Cwd, b"/l0").unwrap();
    for i in 1..=41 {
        w.ctx
            .symlink(
                format!("l{}", i - 1).as_bytes(),
                At::Cwd,
                format!("/l{i}").as_bytes(),
            )
            .unwrap();
    }
    // l39 needs 40 links: allowed. l40 needs 41: ELOOP.
    assert!(w.ctx.stat(At::Cwd, b"/l39", true).is_ok());
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/l40", true)), Errno::ELOOP);
    w.ctx.symlink(b"self", At::Cwd, b"/self").unwrap();
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/self", true)), Errno::ELOOP);
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/self/x", false)), Errno::ELOOP);
}

#[test]
fn search_permission_is_needed_on_every_directory() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/locked", 0o700).unwrap();
    write_file(&w.ctx, "/locked/f", b"");
    let alice = user(&w.ctx, 1000, 1000, &[]);
    assert_eq!(err(alice.stat(At::Cwd, b"/locked/f", true)), Errno::EACCES);
    assert_eq!(
        err(alice.stat(At::Cwd, b"/locked/missing", true)),
        Errno::EACCES
    );
    // Stat of the directory itself only needs search on its parent.
    assert!(alice.stat(At::Cwd, b"/locked", true).is_ok());
    w.ctx.chmod(At::Cwd, b"/locked", 0o711).unwrap();
    assert!(alice.stat(At::Cwd, b"/locked/f", true).is_ok());
}

#[test]
fn dotdot_crosses_mounts_back_into_the_parent() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/mnt", 0o755).unwrap();
    w.ctx.mkdir(At::Cwd, b"/mnt/hidden", 0o755).unwrap();
    w.ctx
        .mount(
            At::Cwd,
            b"/mnt",
            tmpfs(&w.clock, 2, ""),
            "tmpfs",
            MountFlags::empty(),
        )
        .unwrap();
    w.ctx.mkdir(At::Cwd, b"/mnt/inner", 0o755).unwrap();
    assert_eq!(
        err(w.ctx.stat(At::Cwd, b"/mnt/hidden", true)),
        Errno::ENOENT
    );
    assert_eq!(w.ctx.stat(At::Cwd, b"/mnt", true).unwrap().dev, 2);
    assert_eq!(
        w.ctx.stat(At::Cwd, b"/mnt/inner/../..", true).unwrap().ino,
        w.ctx.stat(At::Cwd, b"/", true).unwrap().ino
    );
    assert_eq!(w.ctx.stat(At::Cwd, b"/mnt/..", true).unwrap().dev, 1);
    let mut ctx = w.ctx.clone();
    ctx.chdir(At::Cwd, b"/mnt/inner").unwrap();
    assert_eq!(ctx.getcwd().unwrap(), b"/mnt/inner");
    assert_eq!(ctx.stat(At::Cwd, b"../../mnt", true).unwrap().dev, 2);
}

#[test]
fn chroot_stops_dotdot_and_absolute_paths_at_the_new_root() {
    let mut w = world();
    w.ctx.mkdir(At::Cwd, b"/jail", 0o755).unwrap();
    write_file(&w.ctx, "/jail/inside", b"");
    write_file(&w.ctx, "/outside", b"");
    w.ctx.chroot(At::Cwd, b"/jail").unwrap();
    w.ctx.chdir(At::Cwd, b"/").unwrap();
    assert!(w.ctx.stat(At::Cwd, b"/../../inside", true).is_ok());
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/outside", true)), Errno::ENOENT);
    assert_eq!(w.ctx.getcwd().unwrap(), b"/");
}

#[test]
fn negative_dentries_are_cached_but_bounded() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
    write_file(&w.ctx, "/d/real", b"");
    let dir = w.ctx.resolve(At::Cwd, b"/d", true).unwrap();
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/d/missing", true)), Errno::ENOENT);
    assert_eq!(
        dir.dentry.lock_children().negative_count(),
        1,
        "a miss is remembered"
    );
    write_file(&w.ctx, "/d/missing", b"now here");
    assert_eq!(
        read_file(&w.ctx, "/d/missing"),
        b"now here",
        "creation replaces the negative entry"
    );
    for index in 0..5000 {
        assert_eq!(
            err(w
                .ctx
                .stat(At::Cwd, format!("/d/probe{index}").as_bytes(), true)),
            Errno::ENOENT
        );
    }
    let children = dir.dentry.lock_children();
    assert!(
        children.negative_count() <= dentry::MAX_NEGATIVE_PER_DIRECTORY,
        "{}",
        children.negative_count()
    );
    assert!(
        children
            .get(b"real")
            .is_some_and(|real| !real.is_negative()),
        "positive entries survive the pruning"
    );
}
