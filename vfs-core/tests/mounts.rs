//! Mount namespace behaviour and tmpfs limits, against Linux's mount(2)/umount2(2),
//! statfs(2) and /proc/self/mounts.
mod common;

use common::*;
use vfs_core::*;

#[test]
fn proc_mounts_lists_in_linux_format_and_order() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/tmp", 0o755).unwrap();
    w.ctx.mkdir(At::Cwd, b"/my dir", 0o755).unwrap();
    w.ctx
        .mount(
            At::Cwd,
            b"/tmp",
            tmpfs(&w.clock, 2, "size=64m,mode=1777"),
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
        )
        .unwrap();
    w.ctx
        .mount(
            At::Cwd,
            b"/my dir",
            tmpfs(&w.clock, 3, "mode=755,uid=1000"),
            "none",
            MountFlags::RDONLY | MountFlags::NOEXEC | MountFlags::NOATIME,
        )
        .unwrap();
    let text = String::from_utf8(w.ns.proc_mounts(&w.ctx.root).unwrap()).unwrap();
    assert_eq!(
        text,
        "rootfs / tmpfs rw,relatime,mode=755 0 0\n\
         tmpfs /tmp tmpfs rw,nosuid,nodev,relatime,size=65536k 0 0\n\
         none /my\\040dir tmpfs ro,noexec,noatime,mode=755,uid=1000 0 0\n"
    );
}

#[test]
fn read_only_mounts_refuse_writes_with_erofs() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/ro", 0o755).unwrap();
    let fs = tmpfs(&w.clock, 2, "");
    let mount = w
        .ctx
        .mount(At::Cwd, b"/ro", fs, "tmpfs", MountFlags::empty())
        .unwrap();
    write_file(&w.ctx, "/ro/f", b"data");
    w.ctx.mkdir(At::Cwd, b"/ro/d", 0o755).unwrap();
    w.ns.set_flags(&mount, MountFlags::RDONLY);
    assert_eq!(
        err(w.ctx.open(At::Cwd, b"/ro/f", OpenFlags::WRONLY, 0)),
        Errno::EROFS
    );
    assert_eq!(
        err(w
            .ctx
            .open(At::Cwd, b"/ro/f", OpenFlags::RDONLY | OpenFlags::TRUNC, 0)),
        Errno::EROFS
    );
    assert_eq!(
        err(w.ctx.open(
            At::Cwd,
            b"/ro/new",
            OpenFlags::WRONLY | OpenFlags::CREAT,
            0o644
        )),
        Errno::EROFS
    );
    assert_eq!(
        err(w.ctx.mkdir(At::Cwd, b"/ro/d", 0o755)),
        Errno::EEXIST,
        "EEXIST wins over EROFS"
    );
    assert_eq!(err(w.ctx.mkdir(At::Cwd, b"/ro/e", 0o755)), Errno::EROFS);
    assert_eq!(
        err(w.ctx.unlink(At::Cwd, b"/ro/missing")),
        Errno::EROFS,
        "EROFS before the lookup"
    );
    assert_eq!(err(w.ctx.rmdir(At::Cwd, b"/ro/d")), Errno::EROFS);
    assert_eq!(err(w.ctx.chmod(At::Cwd, b"/ro/f", 0o600)), Errno::EROFS);
    assert_eq!(err(w.ctx.truncate(At::Cwd, b"/ro/f", 0)), Errno::EROFS);
    assert_eq!(
        err(w
            .ctx
            .rename(At::Cwd, b"/ro/f", At::Cwd, b"/ro/g", RenameFlags::empty())),
        Errno::EROFS
    );
    assert_eq!(read_file(&w.ctx, "/ro/f"), b"data");
    assert_eq!(
        w.ctx.statfs(At::Cwd, b"/ro").unwrap().flags & 1,
        1,
        "ST_RDONLY"
    );
    // The builder's trick: make it writable, add a mount point, restore.
    w.ns.with_writable(&mount, || w.ctx.mkdir(At::Cwd, b"/ro/mnt", 0o755))
        .unwrap();
    assert_eq!(mount.flags(), MountFlags::RDONLY);
    w.ctx
        .mount(
            At::Cwd,
            b"/ro/mnt",
            tmpfs(&w.clock, 3, ""),
            "tmpfs",
            MountFlags::empty(),
        )
        .unwrap();
    write_file(&w.ctx, "/ro/mnt/writable", b"ok");
}

#[test]
fn cross_mount_rename_and_link_are_exdev() {
    let w = world();
    w.mount_tmpfs_at("/m", "tmpfs", "");
    write_file(&w.ctx, "/f", b"");
    assert_eq!(
        err(w
            .ctx
            .rename(At::Cwd, b"/f", At::Cwd, b"/m/f", RenameFlags::empty())),
        Errno::EXDEV
    );
    assert_eq!(
        err(w.ctx.link(At::Cwd, b"/f", At::Cwd, b"/m/f", false)),
        Errno::EXDEV
    );
}

#[test]
fn mount_points_are_busy_and_unmount_rules() {
    let w = world();
    w.mount_tmpfs_at("/m", "tmpfs", "");
    assert_eq!(err(w.ctx.rmdir(At::Cwd, b"/m")), Errno::EBUSY);
    assert_eq!(
        err(w
            .ctx
            .rename(At::Cwd, b"/m", At::Cwd, b"/n", RenameFlags::empty())),
        Errno::EBUSY
    );
    w.ctx.mkdir(At::Cwd, b"/m/sub", 0o755).unwrap();
    assert_eq!(
        err(w.ctx.unmount(At::Cwd, b"/m/sub", false)),
        Errno::EINVAL,
        "not a mount root"
    );
    assert_eq!(err(w.ctx.unmount(At::Cwd, b"/", false)), Errno::EBUSY);
    let open = w
        .ctx
        .open(At::Cwd, b"/m/sub", OpenFlags::RDONLY, 0)
        .unwrap();
    assert_eq!(
        err(w.ctx.unmount(At::Cwd, b"/m", false)),
        Errno::EBUSY,
        "an open file pins it"
    );
    drop(open);
    w.ctx
        .mount(
            At::Cwd,
            b"/m/sub",
            tmpfs(&w.clock, 3, ""),
            "tmpfs",
            MountFlags::empty(),
        )
        .unwrap();
    assert_eq!(
        err(w.ctx.unmount(At::Cwd, b"/m", false)),
        Errno::EBUSY,
        "a child mount pins it"
    );
    w.ctx.unmount(At::Cwd, b"/m/sub", false).unwrap();
    w.ctx.unmount(At::Cwd, b"/m", false).unwrap();
    assert_eq!(w.ctx.stat(At::Cwd, b"/m", true).unwrap().dev, 1);
    w.ctx.rmdir(At::Cwd, b"/m").unwrap();
    let alice = user(&w.ctx, 1000, 1000, &[]);
    assert_eq!(err(alice.unmount(At::Cwd, b"/", false)), Errno::EPERM);
}

#[test]
fn mounts_stack_and_unmount_reveals_the_one_below() {
    let w = world();
    w.mount_tmpfs_at("/m", "first", "");
    w.ctx
        .mount(
            At::Cwd,
            b"/m",
            tmpfs(&w.clock, 3, ""),
            "second",
            MountFlags::empty(),
        )
        .unwrap();
    assert_eq!(w.ctx.stat(At::Cwd, b"/m", true).unwrap().dev, 3);
    assert_eq!(w.ctx.stat(At::Cwd, b"/m/..", true).unwrap().dev, 1);
    w.ctx.unmount(At::Cwd, b"/m", false).unwrap();
    assert_eq!(w.ctx.stat(At::Cwd, b"/m", true).unwrap().dev, 2);
    let text = String::from_utf8(w.ns.proc_mounts(&w.ctx.root).unwrap()).unwrap();
    assert!(
        text.contains("first /m tmpfs") && !text.contains("second"),
        "{text}"
    );
}

#[test]
fn bind_mounts_show_a_subtree_with_their_own_flags() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/data", 0o755).unwrap();
    w.ctx.mkdir(At::Cwd, b"/data/sub", 0o755).unwrap();
    write_file(&w.ctx, "/data/sub/f", b"shared");
    w.ctx.mkdir(At::Cwd, b"/view", 0o755).unwrap();
    w.ctx
        .bind_mount(At::Cwd, b"/data/sub", At::Cwd, b"/view", MountFlags::RDONLY)
        .unwrap();
    assert_eq!(read_file(&w.ctx, "/view/f"), b"shared");
    assert_eq!(
        err(w.ctx.open(At::Cwd, b"/view/f", OpenFlags::WRONLY, 0)),
        Errno::EROFS
    );
    write_file(&w.ctx, "/data/sub/f", b"changed");
    assert_eq!(read_file(&w.ctx, "/view/f"), b"changed");
    assert_eq!(
        w.ctx.stat(At::Cwd, b"/view/..", true).unwrap().ino,
        w.ctx.stat(At::Cwd, b"/", true).unwrap().ino
    );
    // A file bind-mounted on a file.
    write_file(&w.ctx, "/target", b"");
    w.ctx
        .bind_mount(
            At::Cwd,
            b"/data/sub/f",
            At::Cwd,
            b"/target",
            MountFlags::empty(),
        )
        .unwrap();
    assert_eq!(read_file(&w.ctx, "/target"), b"changed");
    assert_eq!(
        err(w
            .ctx
            .bind_mount(At::Cwd, b"/data", At::Cwd, b"/target", MountFlags::empty())),
        Errno::ENOTDIR
    );
}

#[test]
fn lazy_unmount_detaches_while_in_use() {
    let w = world();
    w.mount_tmpfs_at("/m", "tmpfs", "");
    write_file(&w.ctx, "/m/f", b"still here");
    let open = w.ctx.open(At::Cwd, b"/m/f", OpenFlags::RDONLY, 0).unwrap();
    w.ctx.unmount(At::Cwd, b"/m", true).unwrap();
    let mut buf = [0u8; 10];
    assert_eq!(open.read(&mut buf).unwrap(), 10);
    assert_eq!(err(w.ctx.stat(At::Cwd, b"/m/f", true)), Errno::ENOENT);
}

#[test]
fn tmpfs_size_limit_gives_enospc_and_statfs_reports_it() {
    let w = world();
    w.mount_tmpfs_at("/small", "tmpfs", "size=16k,nr_inodes=4");
    let file = w
        .ctx
        .open(
            At::Cwd,
            b"/small/f",
            OpenFlags::RDWR | OpenFlags::CREAT,
            0o644,
        )
        .unwrap();
    assert_eq!(file.write(&[1u8; 10000]).unwrap(), 10000);
    // Partial write up to the limit, then ENOSPC.
    assert_eq!(file.write(&[2u8; 10000]).unwrap(), 16384 - 10000);
    assert_eq!(err(file.write(b"x")), Errno::ENOSPC);
    let stats = w.ctx.statfs(At::Cwd, b"/small").unwrap();
    assert_eq!(
        (
            stats.fs_type,
            stats.block_size,
            stats.blocks,
            stats.blocks_free
        ),
        (0x01021994, 4096, 4, 0)
    );
    assert_eq!((stats.files, stats.files_free), (4, 2));
    // Holes cost nothing, even past the size limit.
    file.truncate(1 << 30).unwrap();
    file.truncate(0).unwrap();
    assert_eq!(w.ctx.statfs(At::Cwd, b"/small").unwrap().blocks_free, 4);
    w.ctx.mkdir(At::Cwd, b"/small/a", 0o755).unwrap();
    w.ctx.mkdir(At::Cwd, b"/small/b", 0o755).unwrap();
    assert_eq!(err(w.ctx.mkdir(At::Cwd, b"/small/c", 0o755)), Errno::ENOSPC);
    // Space comes back when the last reference goes, not at unlink.
    w.ctx.rmdir(At::Cwd, b"/small/b").unwrap();
    w.ctx.mkdir(At::Cwd, b"/small/c", 0o755).unwrap();
}

#[test]
fn tmpfs_root_takes_mode_uid_gid_options() {
    let w = world();
    w.mount_tmpfs_at("/t", "tmpfs", "mode=1777,uid=5,gid=6");
    let stat = w.ctx.stat(At::Cwd, b"/t", true).unwrap();
    assert_eq!((stat.mode, stat.uid, stat.gid), (0o41777, 5, 6));
}

#[test]
fn mounts_inside_a_renamed_or_exchanged_directory_move_with_it() {
    let w = world();
    for dir in ["/a", "/a/m", "/b", "/b/other"] {
        w.ctx.mkdir(At::Cwd, dir.as_bytes(), 0o755).unwrap();
    }
    w.ctx
        .mount(
            At::Cwd,
            b"/a/m",
            tmpfs(&w.clock, 2, ""),
            "inner",
            MountFlags::empty(),
        )
        .unwrap();
    write_file(&w.ctx, "/a/m/f", b"mounted");
    w.ctx
        .rename(At::Cwd, b"/a", At::Cwd, b"/b", RenameFlags::EXCHANGE)
        .unwrap();
    assert_eq!(read_file(&w.ctx, "/b/m/f"), b"mounted");
    assert!(w.ctx.stat(At::Cwd, b"/a/other", true).is_ok());
    w.ctx
        .rename(At::Cwd, b"/b", At::Cwd, b"/c", RenameFlags::empty())
        .unwrap();
    assert_eq!(read_file(&w.ctx, "/c/m/f"), b"mounted");
    let text = String::from_utf8(w.ns.proc_mounts(&w.ctx.root).unwrap()).unwrap();
    assert!(text.contains("inner /c/m tmpfs"), "{text}");
}

#[test]
fn noatime_mounts_keep_atime_and_nodev_mounts_refuse_devices() {
    let w = world();
    for dir in ["/fast", "/plain"] {
        w.ctx.mkdir(At::Cwd, dir.as_bytes(), 0o755).unwrap();
    }
    w.ctx
        .mount(
            At::Cwd,
            b"/fast",
            tmpfs(&w.clock, 2, ""),
            "tmpfs",
            MountFlags::NOATIME | MountFlags::NODEV,
        )
        .unwrap();
    w.ctx
        .mount(
            At::Cwd,
            b"/plain",
            tmpfs(&w.clock, 3, ""),
            "tmpfs",
            MountFlags::empty(),
        )
        .unwrap();
    for dir in ["/fast", "/plain"] {
        write_file(&w.ctx, &format!("{dir}/f"), b"x");
    }
    w.clock.advance_nanos(1_000_000_000);
    let before = w.ctx.stat(At::Cwd, b"/fast/f", true).unwrap().atime;
    assert_eq!(read_file(&w.ctx, "/fast/f"), b"x");
    assert_eq!(read_file(&w.ctx, "/plain/f"), b"x");
    assert_eq!(
        w.ctx.stat(At::Cwd, b"/fast/f", true).unwrap().atime,
        before,
        "noatime"
    );
    assert!(
        w.ctx.stat(At::Cwd, b"/plain/f", true).unwrap().atime > before,
        "relatime updates a stale atime"
    );
    w.ctx
        .mknod(
            At::Cwd,
            b"/fast/null",
            attr::mode::S_IFCHR | 0o666,
            attr::make_dev(1, 3),
        )
        .unwrap();
    assert_eq!(
        err(w.ctx.open(At::Cwd, b"/fast/null", OpenFlags::RDWR, 0)),
        Errno::EACCES
    );
    let text = String::from_utf8(w.ns.proc_mounts(&w.ctx.root).unwrap()).unwrap();
    assert!(
        text.contains("tmpfs /fast tmpfs rw,nodev,noatime 0 0"),
        "{text}"
    );
}

#[test]
fn one_filesystem_mounted_twice_shares_its_names() {
    let w = world();
    for dir in ["/a", "/b"] {
        w.ctx.mkdir(At::Cwd, dir.as_bytes(), 0o755).unwrap();
    }
    let fs = tmpfs(&w.clock, 2, "");
    w.ctx
        .mount(At::Cwd, b"/a", fs.clone(), "tmpfs", MountFlags::empty())
        .unwrap();
    w.ctx
        .mount(At::Cwd, b"/b", fs, "tmpfs", MountFlags::RDONLY)
        .unwrap();
    assert_eq!(
        err(w.ctx.stat(At::Cwd, b"/b/late", true)),
        Errno::ENOENT,
        "caches a negative entry"
    );
    write_file(&w.ctx, "/a/late", b"seen");
    assert_eq!(
        read_file(&w.ctx, "/b/late"),
        b"seen",
        "the negative entry was the same one"
    );
    assert_eq!(err(w.ctx.unlink(At::Cwd, b"/b/late")), Errno::EROFS);
}

#[test]
fn pruning_the_dentry_cache_keeps_what_is_in_use() {
    let mut w = world();
    for dir in ["/x", "/x/y", "/x/y/z", "/m"] {
        w.ctx.mkdir(At::Cwd, dir.as_bytes(), 0o755).unwrap();
    }
    w.ctx
        .mount(
            At::Cwd,
            b"/x/y/z",
            tmpfs(&w.clock, 2, ""),
            "inner",
            MountFlags::empty(),
        )
        .unwrap();
    write_file(&w.ctx, "/x/y/z/f", b"inner");
    for index in 0..50 {
        write_file(&w.ctx, &format!("/m/f{index}"), b"");
    }
    w.ctx.chdir(At::Cwd, b"/x/y").unwrap();
    let root = w.ctx.resolve(At::Cwd, b"/", true).unwrap();
    let m = w.ctx.resolve(At::Cwd, b"/m", true).unwrap();
    assert_eq!(m.dentry.cached_children(), 50);
    w.ns.prune_dentries();
    assert_eq!(m.dentry.cached_children(), 0, "unused names are dropped");
    assert!(
        root.dentry.lock_children().get(b"x").is_some(),
        "the working directory's chain stays"
    );
    assert_eq!(
        read_file(&w.ctx, "/x/y/z/f"),
        b"inner",
        "the mount point stays"
    );
    w.ctx
        .rename(At::Cwd, b"/x", At::Cwd, b"/renamed", RenameFlags::empty())
        .unwrap();
    assert_eq!(
        w.ctx.getcwd().unwrap(),
        b"/renamed/y",
        "the working directory follows the rename"
    );
    assert_eq!(
        list_dir(&w.ctx, "/m").len(),
        52,
        "pruned names come back from the filesystem"
    );
}

#[test]
fn locked_mounts_cannot_be_unmounted_loosened_or_uncovered() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/proc", 0o755).unwrap();
    let parent = w
        .ctx
        .mount(
            At::Cwd,
            b"/proc",
            tmpfs(&w.clock, 2, ""),
            "proc",
            MountFlags::empty(),
        )
        .unwrap();
    w.ctx.mkdir(At::Cwd, b"/proc/sys", 0o755).unwrap();
    let locked = w
        .ctx
        .mount(
            At::Cwd,
            b"/proc/sys",
            tmpfs(&w.clock, 3, ""),
            "proc",
            MountFlags::RDONLY | MountFlags::NOSUID,
        )
        .unwrap();
    w.ns.lock(&locked);
    // Not even a holder of every capability (the kernel's own Credentials::root).
    assert_eq!(
        w.ctx.unmount(At::Cwd, b"/proc/sys", false),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        w.ctx.unmount(At::Cwd, b"/proc/sys", true),
        Err(Errno::EINVAL)
    );
    // The parent: busy, and lazily it would take the locked mount with it.
    assert_eq!(w.ctx.unmount(At::Cwd, b"/proc", false), Err(Errno::EBUSY));
    assert_eq!(w.ctx.unmount(At::Cwd, b"/proc", true), Err(Errno::EINVAL));
    // Remounts may add flags but not clear a locked one.
    assert_eq!(w.ns.remount(&locked, MountFlags::NOSUID), Err(Errno::EPERM));
    assert_eq!(w.ns.remount(&locked, MountFlags::RDONLY), Err(Errno::EPERM));
    assert_eq!(
        w.ns.remount(
            &locked,
            MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NOATIME
        ),
        Err(Errno::EPERM)
    );
    assert_eq!(
        w.ns.remount(
            &locked,
            MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NOEXEC
        ),
        Ok(())
    );
    assert_eq!(w.ns.remount(&parent, MountFlags::RDONLY), Ok(()));
    assert_eq!(w.ns.remount(&parent, MountFlags::empty()), Ok(()));
    // A (non-recursive) bind of the parent would show what the locked mount covers.
    w.ctx.mkdir(At::Cwd, b"/view", 0o755).unwrap();
    assert_eq!(
        err(w
            .ctx
            .bind_mount(At::Cwd, b"/proc", At::Cwd, b"/view", MountFlags::empty())),
        Errno::EINVAL
    );
    // Binding the locked mount itself (read-only as it is) is fine.
    assert!(
        w.ctx
            .bind_mount(At::Cwd, b"/proc/sys", At::Cwd, b"/view", MountFlags::RDONLY)
            .is_ok()
    );
    assert!(locked.is_locked() && !parent.is_locked());
}

#[test]
fn a_new_instance_is_too_revealing_only_when_every_visible_one_hides_something() {
    let w = world();
    // The root (a tmpfs, mounted at its own root, nothing locked on it) is fully visible.
    assert!(!w.ns.mount_too_revealing("tmpfs", MountFlags::empty()));
    assert!(
        w.ns.mount_too_revealing("sysfs", MountFlags::empty()),
        "none mounted"
    );
    // A locked read-only tmpfs on the root: the root now hides something, and the new
    // mount is visible only to read-only requests.
    w.ctx.mkdir(At::Cwd, b"/hidden", 0o755).unwrap();
    let locked = w
        .ctx
        .mount(
            At::Cwd,
            b"/hidden",
            tmpfs(&w.clock, 2, ""),
            "tmpfs",
            MountFlags::RDONLY,
        )
        .unwrap();
    w.ns.lock(&locked);
    assert!(w.ns.mount_too_revealing("tmpfs", MountFlags::empty()));
    assert!(!w.ns.mount_too_revealing("tmpfs", MountFlags::RDONLY));
}

#[test]
fn mount_calls_need_cap_sys_admin_not_uid_0() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/m", 0o755).unwrap();
    let mut bare = w.ctx.clone();
    bare.cred.caps = 0;
    assert_eq!(
        err(bare.mount(
            At::Cwd,
            b"/m",
            tmpfs(&w.clock, 2, ""),
            "tmpfs",
            MountFlags::empty()
        )),
        Errno::EPERM
    );
    bare.cred.caps = cap::bit(cap::SYS_ADMIN);
    bare.mount(
        At::Cwd,
        b"/m",
        tmpfs(&w.clock, 2, ""),
        "tmpfs",
        MountFlags::empty(),
    )
    .unwrap();
    bare.cred.caps = cap::ALL & !cap::bit(cap::SYS_ADMIN);
    assert_eq!(bare.unmount(At::Cwd, b"/m", false), Err(Errno::EPERM));
    assert_eq!(bare.chroot(At::Cwd, b"/m"), Ok(()));
    bare.cred.caps = 0;
    assert_eq!(bare.chroot(At::Cwd, b"/"), Err(Errno::EPERM));
}

/// `/proc/<pid>/mountinfo`: Linux's fields, each mount's parent, the filesystem's device
/// numbers, a bind mount's root within its filesystem, the per-mount and superblock
/// options apart.
#[test]
fn proc_mountinfo_lists_ids_parents_devices_and_roots() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/tmp", 0o755).unwrap();
    w.ctx.mkdir(At::Cwd, b"/my dir", 0o755).unwrap();
    let tmp = w
        .ctx
        .mount(
            At::Cwd,
            b"/tmp",
            tmpfs(&w.clock, attr::make_dev(0, 34), "size=64m,mode=1777"),
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
        )
        .unwrap();
    w.ctx.mkdir(At::Cwd, b"/tmp/sub", 0o755).unwrap();
    w.ctx.mkdir(At::Cwd, b"/tmp/sub/deeper", 0o755).unwrap();
    let source = w.ctx.resolve(At::Cwd, b"/tmp/sub/deeper", true).unwrap();
    let at = w.ctx.resolve(At::Cwd, b"/my dir", true).unwrap();
    let bound = w.ns.bind(&at, &source, MountFlags::RDONLY).unwrap();
    let root_id = w.ctx.root.mount.id();
    let text = String::from_utf8(w.ns.proc_mountinfo(&w.ctx.root).unwrap()).unwrap();
    let root_dev = w.ctx.stat(At::Cwd, b"/", true).unwrap().dev;
    assert_eq!(
        text,
        format!(
            "{root_id} {root_id} {}:{} / / rw,relatime - tmpfs rootfs rw,mode=755\n\
             {tmp} {root_id} 0:34 / /tmp rw,nosuid,nodev,relatime - tmpfs tmpfs rw,size=65536k\n\
             {bound} {root_id} 0:34 /sub/deeper /my\\040dir ro,relatime - tmpfs tmpfs ro,size=65536k\n",
            attr::dev_major(root_dev),
            attr::dev_minor(root_dev),
            tmp = tmp.id(),
            bound = bound.id(),
        )
    );
    // From a root inside /tmp, only what is below it shows, with paths from there.
    let inner = w.ctx.resolve(At::Cwd, b"/tmp", true).unwrap();
    let seen = String::from_utf8(w.ns.proc_mountinfo(&inner).unwrap()).unwrap();
    assert_eq!(seen.lines().count(), 1, "{seen}");
    assert!(
        seen.contains(" / / rw,nosuid,nodev,relatime - tmpfs"),
        "{seen}"
    );
}
