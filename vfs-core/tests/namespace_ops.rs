//! Directory operations (mkdir, unlink, rmdir, link, rename, chmod, chown) and their
//! errno in every case Linux distinguishes.
mod common;

use common::*;
use vfs_core::*;

#[test]
fn mkdir_errors() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
    write_file(&w.ctx, "/f", b"");
    assert_eq!(err(w.ctx.mkdir(At::Cwd, b"/d", 0o755)), Errno::EEXIST);
    assert_eq!(err(w.ctx.mkdir(At::Cwd, b"/f/", 0o755)), Errno::EEXIST);
    assert_eq!(err(w.ctx.mkdir(At::Cwd, b"/", 0o755)), Errno::EEXIST);
    assert_eq!(err(w.ctx.mkdir(At::Cwd, b"/d/..", 0o755)), Errno::EEXIST);
    assert_eq!(err(w.ctx.mkdir(At::Cwd, b"/no/d", 0o755)), Errno::ENOENT);
    assert_eq!(err(w.ctx.mkdir(At::Cwd, b"/f/d", 0o755)), Errno::ENOTDIR);
    w.ctx.mkdir(At::Cwd, b"/e/", 0o755).unwrap();
    assert_eq!(w.ctx.stat(At::Cwd, b"/", true).unwrap().nlink, 4);
}

#[test]
fn trailing_slash_on_a_non_directory_create_is_enoent() {
    let w = world();
    assert_eq!(err(w.ctx.symlink(b"x", At::Cwd, b"/s/")), Errno::ENOENT);
    assert_eq!(
        err(w.ctx.mknod(At::Cwd, b"/n/", attr::mode::S_IFIFO | 0o644, 0)),
        Errno::ENOENT
    );
    write_file(&w.ctx, "/f", b"");
    assert_eq!(
        err(w.ctx.link(At::Cwd, b"/f", At::Cwd, b"/g/", false)),
        Errno::ENOENT
    );
    assert_eq!(err(w.ctx.symlink(b"", At::Cwd, b"/empty")), Errno::ENOENT);
}

#[test]
fn unlink_errors() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
    write_file(&w.ctx, "/f", b"");
    assert_eq!(err(w.ctx.unlink(At::Cwd, b"/d")), Errno::EISDIR);
    assert_eq!(err(w.ctx.unlink(At::Cwd, b"/d/")), Errno::EISDIR);
    assert_eq!(err(w.ctx.unlink(At::Cwd, b"/f/")), Errno::ENOTDIR);
    assert_eq!(err(w.ctx.unlink(At::Cwd, b"/missing/")), Errno::ENOENT);
    assert_eq!(err(w.ctx.unlink(At::Cwd, b"/missing")), Errno::ENOENT);
    assert_eq!(err(w.ctx.unlink(At::Cwd, b"/d/.")), Errno::EISDIR);
    assert_eq!(err(w.ctx.unlink(At::Cwd, b"/")), Errno::EISDIR);
    w.ctx.unlink(At::Cwd, b"/f").unwrap();
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/f", true)), Errno::ENOENT);
}

#[test]
fn rmdir_errors() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
    write_file(&w.ctx, "/d/f", b"");
    write_file(&w.ctx, "/f", b"");
    assert_eq!(err(w.ctx.rmdir(At::Cwd, b"/d")), Errno::ENOTEMPTY);
    assert_eq!(err(w.ctx.rmdir(At::Cwd, b"/f")), Errno::ENOTDIR);
    assert_eq!(err(w.ctx.rmdir(At::Cwd, b"/d/.")), Errno::EINVAL);
    assert_eq!(err(w.ctx.rmdir(At::Cwd, b"/d/..")), Errno::ENOTEMPTY);
    assert_eq!(err(w.ctx.rmdir(At::Cwd, b"/")), Errno::EBUSY);
    w.ctx.unlink(At::Cwd, b"/d/f").unwrap();
    w.ctx.rmdir(At::Cwd, b"/d/").unwrap();
    assert_eq!(w.ctx.stat(At::Cwd, b"/", true).unwrap().nlink, 2);
}

#[test]
fn removed_working_directory_accepts_no_new_entries() {
    let mut w = world();
    w.ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
    w.ctx.chdir(At::Cwd, b"/d").unwrap();
    w.ctx.rmdir(At::Cwd, b"/d").unwrap();
    assert_eq!(
        err(w
            .ctx
            .open(At::Cwd, b"f", OpenFlags::CREAT | OpenFlags::WRONLY, 0o644)),
        Errno::ENOENT
    );
    assert_eq!(err(w.ctx.mkdir(At::Cwd, b"sub", 0o755)), Errno::ENOENT);
    assert_eq!(w.ctx.stat(At::Cwd, b".", true).unwrap().nlink, 0);
    assert_eq!(
        err(w.ctx.getcwd()),
        Errno::ENOENT,
        "getcwd of a removed directory"
    );
    assert_eq!(
        w.ctx.stat(At::Cwd, b"..", true).unwrap().ino,
        w.ctx.stat(At::Cwd, b"/", true).unwrap().ino
    );
}

#[test]
fn hard_links_share_the_inode() {
    let w = world();
    write_file(&w.ctx, "/f", b"data");
    w.ctx.link(At::Cwd, b"/f", At::Cwd, b"/g", false).unwrap();
    let stat = w.ctx.stat(At::Cwd, b"/g", true).unwrap();
    assert_eq!(
        (stat.nlink, stat.ino),
        (2, w.ctx.stat(At::Cwd, b"/f", true).unwrap().ino)
    );
    w.ctx.unlink(At::Cwd, b"/f").unwrap();
    assert_eq!(read_file(&w.ctx, "/g"), b"data");
    assert_eq!(w.ctx.stat(At::Cwd, b"/g", true).unwrap().nlink, 1);
    w.ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
    assert_eq!(
        err(w.ctx.link(At::Cwd, b"/d", At::Cwd, b"/d2", false)),
        Errno::EPERM
    );
    assert_eq!(
        err(w.ctx.link(At::Cwd, b"/g", At::Cwd, b"/d", false)),
        Errno::EEXIST
    );
    // linkat without AT_SYMLINK_FOLLOW links the symlink itself.
    w.ctx.symlink(b"g", At::Cwd, b"/s").unwrap();
    w.ctx.link(At::Cwd, b"/s", At::Cwd, b"/s2", false).unwrap();
    assert_eq!(
        w.ctx.stat(At::Cwd, b"/s2", false).unwrap().file_type(),
        Some(FileType::Symlink)
    );
    w.ctx.link(At::Cwd, b"/s", At::Cwd, b"/g2", true).unwrap();
    assert_eq!(w.ctx.stat(At::Cwd, b"/g", true).unwrap().nlink, 2);
}

#[test]
fn rename_replaces_and_moves() {
    let w = world();
    write_file(&w.ctx, "/a", b"a");
    write_file(&w.ctx, "/b", b"b");
    w.ctx
        .rename(At::Cwd, b"/a", At::Cwd, b"/b", RenameFlags::empty())
        .unwrap();
    assert_eq!(read_file(&w.ctx, "/b"), b"a");
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/a", true)), Errno::ENOENT);
    w.ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
    w.ctx.mkdir(At::Cwd, b"/d/sub", 0o755).unwrap();
    w.ctx.mkdir(At::Cwd, b"/e", 0o755).unwrap();
    w.ctx
        .rename(At::Cwd, b"/d/sub", At::Cwd, b"/e/sub", RenameFlags::empty())
        .unwrap();
    assert_eq!(w.ctx.stat(At::Cwd, b"/d", true).unwrap().nlink, 2);
    assert_eq!(w.ctx.stat(At::Cwd, b"/e", true).unwrap().nlink, 3);
    assert_eq!(
        w.ctx.stat(At::Cwd, b"/e/sub/..", true).unwrap().ino,
        w.ctx.stat(At::Cwd, b"/e", true).unwrap().ino
    );
    // Renaming a file onto itself (or a hard link of itself) does nothing.
    w.ctx.link(At::Cwd, b"/b", At::Cwd, b"/b2", false).unwrap();
    w.ctx
        .rename(At::Cwd, b"/b", At::Cwd, b"/b2", RenameFlags::empty())
        .unwrap();
    assert!(w.ctx.stat(At::Cwd, b"/b", true).is_ok());
}

#[test]
fn rename_errors() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
    w.ctx.mkdir(At::Cwd, b"/d/sub", 0o755).unwrap();
    w.ctx.mkdir(At::Cwd, b"/full", 0o755).unwrap();
    write_file(&w.ctx, "/full/x", b"");
    write_file(&w.ctx, "/f", b"");
    let none = RenameFlags::empty();
    assert_eq!(
        err(w.ctx.rename(At::Cwd, b"/missing", At::Cwd, b"/x", none)),
        Errno::ENOENT
    );
    assert_eq!(
        err(w.ctx.rename(At::Cwd, b"/d", At::Cwd, b"/f", none)),
        Errno::ENOTDIR
    );
    assert_eq!(
        err(w.ctx.rename(At::Cwd, b"/f", At::Cwd, b"/d", none)),
        Errno::EISDIR
    );
    assert_eq!(
        err(w.ctx.rename(At::Cwd, b"/d", At::Cwd, b"/full", none)),
        Errno::ENOTEMPTY
    );
    assert_eq!(
        err(w.ctx.rename(At::Cwd, b"/d", At::Cwd, b"/d/sub/x", none)),
        Errno::EINVAL
    );
    assert_eq!(
        err(w.ctx.rename(At::Cwd, b"/d/sub", At::Cwd, b"/d", none)),
        Errno::ENOTEMPTY
    );
    assert_eq!(
        err(w.ctx.rename(At::Cwd, b"/f/", At::Cwd, b"/g", none)),
        Errno::ENOTDIR
    );
    assert_eq!(
        err(w.ctx.rename(At::Cwd, b"/f", At::Cwd, b"/g/", none)),
        Errno::ENOTDIR
    );
    assert_eq!(
        err(w.ctx.rename(At::Cwd, b"/d/.", At::Cwd, b"/g", none)),
        Errno::EBUSY
    );
    assert_eq!(
        err(w.ctx.rename(At::Cwd, b"/f", At::Cwd, b"/d/..", none)),
        Errno::EBUSY
    );
    assert_eq!(
        err(w
            .ctx
            .rename(At::Cwd, b"/f", At::Cwd, b"/d", RenameFlags::NOREPLACE)),
        Errno::EEXIST
    );
    assert_eq!(
        err(w
            .ctx
            .rename(At::Cwd, b"/f", At::Cwd, b"/nope", RenameFlags::EXCHANGE)),
        Errno::ENOENT
    );
    assert_eq!(
        err(w.ctx.rename(
            At::Cwd,
            b"/f",
            At::Cwd,
            b"/d",
            RenameFlags::EXCHANGE | RenameFlags::NOREPLACE
        )),
        Errno::EINVAL
    );
    w.ctx
        .rename(At::Cwd, b"/d/", At::Cwd, b"/renamed/", none)
        .unwrap();
}

#[test]
fn rename_exchange_swaps_entries_of_any_type() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
    w.ctx.mkdir(At::Cwd, b"/p", 0o755).unwrap();
    write_file(&w.ctx, "/p/f", b"file");
    let dir_ino = w.ctx.stat(At::Cwd, b"/d", true).unwrap().ino;
    w.ctx
        .rename(At::Cwd, b"/d", At::Cwd, b"/p/f", RenameFlags::EXCHANGE)
        .unwrap();
    assert_eq!(w.ctx.stat(At::Cwd, b"/p/f", true).unwrap().ino, dir_ino);
    assert_eq!(read_file(&w.ctx, "/d"), b"file");
    assert_eq!(
        w.ctx.stat(At::Cwd, b"/", true).unwrap().nlink,
        3,
        "root lost a subdirectory"
    );
    assert_eq!(
        w.ctx.stat(At::Cwd, b"/p", true).unwrap().nlink,
        3,
        "p gained one"
    );
}

#[test]
fn sticky_directories_and_write_permission_guard_removal() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/tmp", 0o777).unwrap();
    w.ctx.chmod(At::Cwd, b"/tmp", 0o1777).unwrap();
    let alice = user(&w.ctx, 1000, 1000, &[]);
    let bob = user(&w.ctx, 1001, 1001, &[]);
    write_file(&alice, "/tmp/alice", b"");
    assert_eq!(err(bob.unlink(At::Cwd, b"/tmp/alice")), Errno::EPERM);
    assert_eq!(
        err(bob.rename(
            At::Cwd,
            b"/tmp/alice",
            At::Cwd,
            b"/tmp/mine",
            RenameFlags::empty()
        )),
        Errno::EPERM
    );
    write_file(&bob, "/tmp/bob", b"");
    assert_eq!(
        err(bob.rename(
            At::Cwd,
            b"/tmp/bob",
            At::Cwd,
            b"/tmp/alice",
            RenameFlags::empty()
        )),
        Errno::EPERM
    );
    alice.unlink(At::Cwd, b"/tmp/alice").unwrap();
    assert_eq!(err(alice.mkdir(At::Cwd, b"/nope", 0o755)), Errno::EACCES);
    write_file(&w.ctx, "/rootfile", b"");
    assert_eq!(err(alice.unlink(At::Cwd, b"/rootfile")), Errno::EACCES);
}

#[test]
fn chmod_chown_and_times_need_ownership() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/home", 0o777).unwrap();
    w.ctx.chmod(At::Cwd, b"/home", 0o777).unwrap();
    let alice = user(&w.ctx, 1000, 1000, &[50]);
    write_file(&alice, "/home/f", b"");
    let bob = user(&w.ctx, 1001, 1001, &[]);
    assert_eq!(err(bob.chmod(At::Cwd, b"/home/f", 0o777)), Errno::EPERM);
    assert_eq!(
        err(alice.chown(At::Cwd, b"/home/f", Some(1001), None, true)),
        Errno::EPERM
    );
    alice
        .chown(At::Cwd, b"/home/f", None, Some(50), true)
        .unwrap();
    assert_eq!(w.ctx.stat(At::Cwd, b"/home/f", true).unwrap().gid, 50);
    assert_eq!(
        err(bob.utimens(
            At::Cwd,
            b"/home/f",
            Some(TimeChange::At(Timespec::new(1, 0))),
            None,
            true
        )),
        Errno::EPERM
    );
    assert_eq!(
        err(bob.utimens(
            At::Cwd,
            b"/home/f",
            Some(TimeChange::Now),
            Some(TimeChange::Now),
            true
        )),
        Errno::EACCES
    );
    alice.chmod(At::Cwd, b"/home/f", 0o666).unwrap();
    bob.utimens(
        At::Cwd,
        b"/home/f",
        Some(TimeChange::Now),
        Some(TimeChange::Now),
        true,
    )
    .unwrap();
    w.ctx.chmod(At::Cwd, b"/home/f", 0o4755).unwrap();
    w.ctx
        .chown(At::Cwd, b"/home/f", Some(7), None, true)
        .unwrap();
    assert_eq!(
        w.ctx.stat(At::Cwd, b"/home/f", true).unwrap().mode & 0o7777,
        0o755,
        "chown clears setuid"
    );
    assert_eq!(err(bob.truncate(At::Cwd, b"/home/f", 0)), Errno::EACCES);
}

#[test]
fn protected_hardlinks_stop_linking_unreadable_foreign_files() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/pub", 0o777).unwrap();
    w.ctx.chmod(At::Cwd, b"/pub", 0o777).unwrap();
    write_file(&w.ctx, "/pub/rootfile", b"");
    let alice = user(&w.ctx, 1000, 1000, &[]);
    assert_eq!(
        err(alice.link(At::Cwd, b"/pub/rootfile", At::Cwd, b"/pub/mine", false)),
        Errno::EPERM
    );
}
