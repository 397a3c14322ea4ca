//! The 9p filesystem as the root of a mount namespace, driven through the VFS's
//! syscall-shaped operations: path walks over both cache policies, the dentry cache's
//! revalidation on shared mounts, open files, and the fid-leak check once it all drops.

mod common;
mod p9_harness;

use std::fs;

use p9_harness::Fixture;
use vfs_core::attr::RenameFlags;
use vfs_core::errno::Errno;
use vfs_core::file::OpenFlags;
use vfs_core::inode::CachePolicy;
use vfs_core::vfs::{At, FsContext};

fn context(fixture: &Fixture) -> FsContext {
    fixture.context()
}

/// Drops a namespace and its cached dentries. Dentries and their parents reference each
/// other, so a namespace that goes away without pruning keeps its cached inodes (and
/// their fids) alive: pruning first is what an unmount does.
fn tear_down(ctx: FsContext) {
    ctx.ns.root().dentry.prune();
}

#[test]
fn path_operations_reach_the_host_on_both_policies() {
    for policy in [CachePolicy::Exclusive, CachePolicy::Revalidate] {
        let fixture = Fixture::new(policy);
        let ctx = context(&fixture);
        ctx.mkdir(At::Cwd, b"/a", 0o755).unwrap();
        ctx.mkdir(At::Cwd, b"/a/b", 0o755).unwrap();
        ctx.mkdir(At::Cwd, b"/a/b/c", 0o755).unwrap();
        let file = ctx
            .open(
                At::Cwd,
                b"/a/b/c/d",
                OpenFlags::CREAT | OpenFlags::WRONLY,
                0o644,
            )
            .unwrap();
        assert_eq!(file.write(b"deep file").unwrap(), 9);
        drop(file);
        assert_eq!(fs::read(fixture.host("a/b/c/d")).unwrap(), b"deep file");
        assert_eq!(ctx.stat(At::Cwd, b"/a/b/c/d", true).unwrap().size, 9);
        assert_eq!(ctx.stat(At::Cwd, b"/a/b/c/d", true).unwrap().dev, 0x900);

        ctx.symlink(b"b/c", At::Cwd, b"/a/link").unwrap();
        assert_eq!(common::read_file(&ctx, "/a/link/d"), b"deep file");
        assert_eq!(ctx.readlink(At::Cwd, b"/a/link").unwrap(), b"b/c");

        ctx.rename(At::Cwd, b"/a/b/c/d", At::Cwd, b"/a/e", RenameFlags::empty())
            .unwrap();
        assert_eq!(
            ctx.stat(At::Cwd, b"/a/b/c/d", true).err(),
            Some(Errno::ENOENT)
        );
        assert_eq!(fs::read(fixture.host("a/e")).unwrap(), b"deep file");
        ctx.truncate(At::Cwd, b"/a/e", 4).unwrap();
        assert_eq!(common::read_file(&ctx, "/a/e"), b"deep");

        let dir = ctx
            .open(At::Cwd, b"/a", OpenFlags::RDONLY | OpenFlags::DIRECTORY, 0)
            .unwrap();
        let mut names = Vec::new();
        dir.read_dir(&mut |entry| {
            names.push(entry.name.to_vec());
            true
        })
        .unwrap();
        names.sort();
        assert_eq!(names, [&b"."[..], b"..", b"b", b"e", b"link"]);
        drop(dir);

        assert_eq!(ctx.rmdir(At::Cwd, b"/a").err(), Some(Errno::ENOTEMPTY));
        ctx.unlink(At::Cwd, b"/a/e").unwrap();
        ctx.unlink(At::Cwd, b"/a/link").unwrap();
        ctx.rmdir(At::Cwd, b"/a/b/c").unwrap();
        assert!(!fixture.host("a/b/c").exists());
        assert!(ctx.statfs(At::Cwd, b"/a").unwrap().blocks > 0);
        tear_down(ctx);
        fixture.finish();
    }
}

#[test]
fn shared_mounts_see_host_changes_and_exclusive_mounts_trust_their_cache() {
    let fixture = Fixture::new(CachePolicy::Revalidate);
    let ctx = context(&fixture);
    assert_eq!(
        ctx.stat(At::Cwd, b"/later", true).err(),
        Some(Errno::ENOENT)
    );
    fs::write(fixture.host("later"), b"appeared").unwrap();
    assert_eq!(
        common::read_file(&ctx, "/later"),
        b"appeared",
        "a negative dentry is revalidated"
    );
    fs::remove_file(fixture.host("later")).unwrap();
    fs::create_dir(fixture.host("later")).unwrap();
    assert!(
        ctx.stat(At::Cwd, b"/later", true).unwrap().is_dir(),
        "a replaced file is noticed"
    );
    tear_down(ctx);
    fixture.finish();

    let fixture = Fixture::new(CachePolicy::Exclusive);
    let ctx = context(&fixture);
    assert_eq!(
        ctx.stat(At::Cwd, b"/later", true).err(),
        Some(Errno::ENOENT)
    );
    let requests = fixture.fs.client().stats().requests;
    fs::write(fixture.host("later"), b"appeared").unwrap();
    assert_eq!(
        ctx.stat(At::Cwd, b"/later", true).err(),
        Some(Errno::ENOENT),
        "negative dentry cached"
    );
    assert_eq!(
        fixture.fs.client().stats().requests,
        requests,
        "answered without the server"
    );
    tear_down(ctx);
    fixture.finish();
}

/// The host stamps a 9p file's atime when the server reads it, so reading through a shared
/// mount costs one `Tread` and nothing more: no `Tgetattr` to apply relatime, no `Tsetattr`.
#[test]
fn reads_leave_atime_to_the_host() {
    const TGETATTR: u8 = 24;
    const TSETATTR: u8 = 26;
    const TREAD: u8 = 116;
    let fixture = Fixture::new(CachePolicy::Revalidate);
    fs::write(fixture.host("data"), b"0123456789").unwrap();
    let ctx = context(&fixture);
    let file = ctx.open(At::Cwd, b"/data", OpenFlags::RDONLY, 0).unwrap();
    let before = |code| fixture.channel.requests_of(code);
    let (getattrs, setattrs, reads) = (before(TGETATTR), before(TSETATTR), before(TREAD));
    let mut buf = [0u8; 4];
    for offset in 0..5u64 {
        assert_eq!(file.read_at(offset, &mut buf).unwrap(), 4);
    }
    assert_eq!(fixture.channel.requests_of(TREAD) - reads, 5);
    assert_eq!(fixture.channel.requests_of(TGETATTR), getattrs);
    assert_eq!(fixture.channel.requests_of(TSETATTR), setattrs);
    drop(file);
    tear_down(ctx);
    fixture.finish();
}

#[test]
fn open_files_keep_working_and_release_their_fids() {
    let fixture = Fixture::new(CachePolicy::Exclusive);
    let ctx = context(&fixture);
    let baseline = fixture.channel.live_fids();
    let files: Vec<_> = (0..20)
        .map(|i| {
            let path = format!("/f{i}");
            let file = ctx
                .open(
                    At::Cwd,
                    path.as_bytes(),
                    OpenFlags::CREAT | OpenFlags::RDWR,
                    0o600,
                )
                .unwrap();
            file.write(path.as_bytes()).unwrap();
            file
        })
        .collect();
    for (i, file) in files.iter().enumerate() {
        let mut buf = [0u8; 8];
        let read = file.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf[..read], format!("/f{i}").as_bytes());
        ctx.unlink(At::Cwd, format!("/f{i}").as_bytes()).unwrap();
    }
    assert!(fixture.channel.live_fids() > baseline);
    drop(files);
    // The unlinked files' dentries are gone from the cache, so their inodes and fids went
    // with the last open file.
    assert_eq!(fixture.channel.live_fids(), baseline);
    tear_down(ctx);
    fixture.finish();
}

/// A hard link's new name must stand on its own: on 9p an inode's fid names a path, so the
/// link must not share the source's inode object (whose fid dies with the old name).
#[test]
fn a_hard_link_outlives_the_name_it_was_made_from() {
    for policy in [CachePolicy::Exclusive, CachePolicy::Revalidate] {
        let fixture = Fixture::new(policy);
        let ctx = context(&fixture);
        let file = ctx
            .open(
                At::Cwd,
                b"/original",
                OpenFlags::CREAT | OpenFlags::WRONLY,
                0o644,
            )
            .unwrap();
        assert_eq!(file.write(b"two names").unwrap(), 9);
        drop(file);
        ctx.link(At::Cwd, b"/original", At::Cwd, b"/link", false)
            .unwrap();
        assert_eq!(ctx.stat(At::Cwd, b"/link", true).unwrap().nlink, 2);
        ctx.unlink(At::Cwd, b"/original").unwrap();
        let stat = ctx.stat(At::Cwd, b"/link", true).unwrap();
        assert_eq!((stat.size, stat.nlink), (9, 1), "{policy:?}");
        assert_eq!(common::read_file(&ctx, "/link"), b"two names");
        ctx.unlink(At::Cwd, b"/link").unwrap();
        assert!(fs::read_dir(fixture.host("")).unwrap().next().is_none());
        tear_down(ctx);
    }
}
