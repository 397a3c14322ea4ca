//! The 9p filesystem against Google's `p9` server serving a temp directory: every inode
//! operation, errno mapping, large files, big directories, both cache policies, and after
//! every test the fid-leak check (the server holds no fid of ours once unmounted).

mod p9_harness;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::sync::Arc;

use p9_harness::{Fixture, is_root_user};
use vfs_core::attr::{FileType, RenameFlags, SetAttr, TimeChange, fs_magic, make_dev, mode};
use vfs_core::errno::Errno;
use vfs_core::inode::{CachePolicy, FileSystem, Inode, NewNode, NodeKind, read_to_end};
use vfs_core::p9::message::getattr_mask;
use vfs_core::time::Timespec;

const POLICIES: [CachePolicy; 2] = [CachePolicy::Exclusive, CachePolicy::Revalidate];

/// Runs `body` on a fresh mount for each cache policy, then the leak check.
fn for_each_policy(body: impl Fn(&Fixture)) {
    for policy in POLICIES {
        let fixture = Fixture::new(policy);
        body(&fixture);
        fixture.finish();
    }
}

fn node(kind: NodeKind<'_>, perm: u32) -> NewNode<'_> {
    NewNode {
        kind,
        perm,
        uid: 0,
        gid: 0,
    }
}

fn create_file(dir: &Arc<dyn Inode>, name: &str, contents: &[u8]) -> Arc<dyn Inode> {
    let file = dir
        .create(name.as_bytes(), &node(NodeKind::Regular, 0o644))
        .unwrap();
    assert_eq!(file.write_at(0, contents).unwrap(), contents.len());
    file
}

fn names(dir: &Arc<dyn Inode>) -> Vec<String> {
    let mut names = Vec::new();
    dir.readdir(0, &mut |entry| {
        names.push(String::from_utf8(entry.name.to_vec()).unwrap());
        true
    })
    .unwrap();
    names.sort();
    names
}

fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn mount_reports_root_statfs_options_and_policy() {
    for_each_policy(|f| {
        let root = f.root();
        let stat = root.getattr().unwrap();
        let host = fs::metadata(f.dir.path()).unwrap();
        assert_eq!(stat.ino, host.ino());
        assert_eq!(root.ino(), host.ino());
        assert_eq!(stat.dev, 0x900);
        assert!(stat.is_dir());
        assert_eq!(stat.mode, host.mode());
        let statfs = f.fs.statfs().unwrap();
        assert_eq!(statfs.fs_type, fs_magic::V9FS_MAGIC);
        assert_eq!(statfs.name_max, 255);
        assert!(statfs.block_size > 0 && statfs.blocks > 0);
        assert_eq!(f.fs.fs_type(), "9p");
        assert!(
            f.fs.mount_options().contains("msize=65560"),
            "{}",
            f.fs.mount_options()
        );
        let access = if f.fs.cache_policy() == CachePolicy::Exclusive {
            "exclusive"
        } else {
            "shared"
        };
        assert!(f.fs.mount_options().ends_with(access));
    });
}

#[test]
fn lookup_finds_host_files_and_maps_errors() {
    for_each_policy(|f| {
        fs::write(f.host("file"), b"hello").unwrap();
        fs::create_dir(f.host("dir")).unwrap();
        let root = f.root();
        let file = root.lookup(b"file").unwrap();
        assert_eq!(file.file_type(), FileType::Regular);
        assert_eq!(file.ino(), fs::metadata(f.host("file")).unwrap().ino());
        assert_eq!(file.getattr().unwrap().size, 5);
        assert_eq!(
            root.lookup(b"dir").unwrap().file_type(),
            FileType::Directory
        );
        assert_eq!(root.lookup(b"missing").err(), Some(Errno::ENOENT));
        assert_eq!(file.lookup(b"x").err(), Some(Errno::ENOTDIR));
        assert_eq!(root.lookup(b"..").err(), Some(Errno::EINVAL));
        assert_eq!(root.lookup(b"a/b").err(), Some(Errno::EINVAL));
        assert_eq!(root.lookup(&[b'n'; 256]).err(), Some(Errno::ENAMETOOLONG));
        drop(file);
        assert_eq!(f.channel.live_fids(), f.baseline());
    });
}

#[test]
fn create_makes_host_files_with_mode_and_owner_and_refuses_existing_names() {
    for_each_policy(|f| {
        let root = f.root();
        let file = root
            .create(
                b"new",
                &NewNode {
                    kind: NodeKind::Regular,
                    perm: 0o640,
                    uid: 1234,
                    gid: 5678,
                },
            )
            .unwrap();
        let host = fs::metadata(f.host("new")).unwrap();
        assert!(host.is_file());
        assert_eq!(host.mode() & 0o777, 0o640 & !umask());
        assert_eq!(file.ino(), host.ino());
        if is_root_user() {
            assert_eq!((host.uid(), host.gid()), (1234, 5678));
            let stat = file.getattr().unwrap();
            assert_eq!((stat.uid, stat.gid), (1234, 5678));
        }
        assert_eq!(
            root.create(b"new", &node(NodeKind::Regular, 0o644)).err(),
            Some(Errno::EEXIST)
        );
        let dir = root
            .create(b"sub", &node(NodeKind::Directory, 0o755))
            .unwrap();
        assert!(fs::metadata(f.host("sub")).unwrap().is_dir());
        assert_eq!(dir.file_type(), FileType::Directory);
        assert_eq!(
            root.create(b"sub", &node(NodeKind::Directory, 0o755)).err(),
            Some(Errno::EEXIST)
        );
        let nested = dir
            .create(b"inner", &node(NodeKind::Regular, 0o600))
            .unwrap();
        assert_eq!(dir.lookup(b"inner").unwrap().ino(), nested.ino());
        assert_eq!(
            file.create(b"x", &node(NodeKind::Regular, 0o644)).err(),
            Some(Errno::ENOTDIR)
        );
        // A new directory shows up in its parent's link count and the parent's own stat.
        assert_eq!(
            root.getattr().unwrap().nlink,
            fs::metadata(f.dir.path()).unwrap().nlink()
        );
    });
}

#[test]
fn an_unprivileged_server_keeps_its_owner_and_the_create_succeeds() {
    let f = Fixture::new(CachePolicy::Exclusive);
    f.channel.refuse_chown(true);
    let owner = NewNode {
        kind: NodeKind::Regular,
        perm: 0o644,
        uid: 1234,
        gid: 5678,
    };
    let file = f.root().create(b"f", &owner).unwrap();
    let host = fs::metadata(f.host("f")).unwrap();
    let stat = file.getattr().unwrap();
    assert_eq!((stat.uid, stat.gid), (host.uid(), host.gid()));
    assert_eq!(
        file.setattr(&SetAttr {
            uid: Some(1),
            ..SetAttr::default()
        })
        .err(),
        Some(Errno::EPERM)
    );
    drop(file);
    f.finish();
}

fn umask() -> u32 {
    // SAFETY: umask has no preconditions; it is restored at once.
    unsafe {
        let old = libc::umask(0o022);
        libc::umask(old);
        old
    }
}

#[test]
fn symlink_mknod_fifo_and_socket_reach_the_host() {
    for_each_policy(|f| {
        let root = f.root();
        let link = root
            .create(
                b"link",
                &node(
                    NodeKind::Symlink {
                        target: b"some/target",
                    },
                    0o777,
                ),
            )
            .unwrap();
        assert_eq!(link.file_type(), FileType::Symlink);
        assert_eq!(link.readlink().unwrap(), b"some/target");
        assert_eq!(
            fs::read_link(f.host("link")).unwrap().as_os_str(),
            "some/target"
        );
        assert_eq!(
            root.lookup(b"link").unwrap().readlink().unwrap(),
            b"some/target"
        );

        let fifo = root.create(b"fifo", &node(NodeKind::Fifo, 0o600)).unwrap();
        assert_eq!(fifo.file_type(), FileType::Fifo);
        assert!(
            fs::symlink_metadata(f.host("fifo"))
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert_eq!(fifo.read_at(0, &mut [0; 4]).err(), Some(Errno::EINVAL));
        let socket = root
            .create(b"socket", &node(NodeKind::Socket, 0o600))
            .unwrap();
        assert_eq!(
            socket.getattr().unwrap().file_type(),
            Some(FileType::Socket)
        );
        if is_root_user() {
            let kind = NodeKind::Device {
                file_type: FileType::CharDevice,
                rdev: make_dev(1, 3),
            };
            let device = root.create(b"null", &node(kind, 0o666)).unwrap();
            let stat = device.getattr().unwrap();
            assert_eq!(stat.file_type(), Some(FileType::CharDevice));
            assert_eq!(stat.rdev, make_dev(1, 3));
            assert!(
                fs::symlink_metadata(f.host("null"))
                    .unwrap()
                    .file_type()
                    .is_char_device()
            );
        }
        let bad = NodeKind::Device {
            file_type: FileType::Regular,
            rdev: 0,
        };
        assert_eq!(
            root.create(b"bad", &node(bad, 0o600)).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(
            root.lookup(b"fifo").unwrap().readlink().err(),
            Some(Errno::EINVAL)
        );
    });
}

#[test]
fn the_servers_refusal_of_symlinks_comes_through_as_its_errno() {
    let f = Fixture::with(CachePolicy::Exclusive, p9_harness::MSIZE_LIMIT, false);
    let root = f.root();
    assert_eq!(
        root.create(b"link", &node(NodeKind::Symlink { target: b"t" }, 0o777))
            .err(),
        Some(Errno::EACCES)
    );
    assert_eq!(
        root.create(b"fifo", &node(NodeKind::Fifo, 0o600)).err(),
        Some(Errno::EACCES)
    );
    std::os::unix::fs::symlink("host/made", f.host("hostlink")).unwrap();
    assert_eq!(
        root.lookup(b"hostlink").unwrap().readlink().unwrap(),
        b"host/made"
    );
    drop(root);
    f.finish();
}

#[test]
fn hard_links_share_the_inode_and_count_links() {
    for_each_policy(|f| {
        let root = f.root();
        let file = create_file(&root, "a", b"data");
        let dir = root
            .create(b"d", &node(NodeKind::Directory, 0o755))
            .unwrap();
        dir.link(b"b", &file).unwrap();
        assert_eq!(fs::read(f.host("d/b")).unwrap(), b"data");
        assert_eq!(file.getattr().unwrap().nlink, 2);
        assert_eq!(dir.lookup(b"b").unwrap().ino(), file.ino());
        assert_eq!(dir.link(b"b", &file).err(), Some(Errno::EEXIST));
        assert_eq!(root.link(b"dirlink", &dir).err(), Some(Errno::EPERM));
        root.unlink(b"a").unwrap();
        assert_eq!(file.getattr().unwrap().nlink, 1);

        let other = Fixture::new(f.fs.cache_policy());
        assert_eq!(other.root().link(b"x", &file).err(), Some(Errno::EXDEV));
        other.finish();
    });
}

#[test]
fn unlink_and_rmdir_follow_linux_errnos() {
    for_each_policy(|f| {
        let root = f.root();
        let file = create_file(&root, "file", b"kept open");
        let dir = root
            .create(b"dir", &node(NodeKind::Directory, 0o755))
            .unwrap();
        create_file(&dir, "child", b"");
        assert_eq!(root.unlink(b"dir").err(), Some(Errno::EISDIR));
        assert_eq!(root.rmdir(b"file").err(), Some(Errno::ENOTDIR));
        assert_eq!(root.rmdir(b"dir").err(), Some(Errno::ENOTEMPTY));
        assert_eq!(root.unlink(b"missing").err(), Some(Errno::ENOENT));
        dir.unlink(b"child").unwrap();
        root.rmdir(b"dir").unwrap();
        assert!(!f.host("dir").exists());
        root.unlink(b"file").unwrap();
        assert!(!f.host("file").exists());
        // Still open: reads its data, and its link count says it is gone.
        assert_eq!(read_to_end(&*file).unwrap(), b"kept open");
        assert_eq!(file.getattr().unwrap().nlink, 0);
        assert_eq!(root.lookup(b"file").err(), Some(Errno::ENOENT));
    });
}

#[test]
fn rename_moves_replaces_and_handles_flags() {
    for_each_policy(|f| {
        let root = f.root();
        let a = create_file(&root, "a", b"A");
        create_file(&root, "b", b"B");
        let dir = root
            .create(b"dir", &node(NodeKind::Directory, 0o755))
            .unwrap();

        assert_eq!(
            root.rename(b"a", &root, b"b", RenameFlags::NOREPLACE).err(),
            Some(Errno::EEXIST)
        );
        assert_eq!(
            root.rename(b"a", &root, b"b", RenameFlags::EXCHANGE).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(
            root.rename(b"a", &root, b"b", RenameFlags::WHITEOUT).err(),
            Some(Errno::EINVAL)
        );
        root.rename(b"a", &dir, b"moved", RenameFlags::NOREPLACE)
            .unwrap();
        assert_eq!(fs::read(f.host("dir/moved")).unwrap(), b"A");
        assert_eq!(dir.lookup(b"moved").unwrap().ino(), a.ino());
        // The moved inode keeps working through its own fid.
        a.write_at(1, b"+").unwrap();
        assert_eq!(fs::read(f.host("dir/moved")).unwrap(), b"A+");

        root.rename(b"b", &dir, b"moved", RenameFlags::empty())
            .unwrap();
        assert_eq!(fs::read(f.host("dir/moved")).unwrap(), b"B");
        assert_eq!(a.getattr().unwrap().nlink, 0);
        assert_eq!(
            root.rename(b"b", &dir, b"x", RenameFlags::empty()).err(),
            Some(Errno::ENOENT)
        );

        let full = root
            .create(b"full", &node(NodeKind::Directory, 0o755))
            .unwrap();
        create_file(&full, "f", b"");
        let empty = root
            .create(b"empty", &node(NodeKind::Directory, 0o755))
            .unwrap();
        assert_eq!(
            root.rename(b"empty", &root, b"full", RenameFlags::empty())
                .err(),
            Some(Errno::ENOTEMPTY)
        );
        assert_eq!(
            root.rename(b"dir", &root, b"full", RenameFlags::empty())
                .err(),
            Some(Errno::ENOTEMPTY)
        );
        root.rename(b"full", &root, b"empty", RenameFlags::empty())
            .unwrap();
        assert!(f.host("empty/f").exists());
        drop(empty);

        let other = Fixture::new(f.fs.cache_policy());
        assert_eq!(
            root.rename(b"empty", &other.root(), b"x", RenameFlags::empty())
                .err(),
            Some(Errno::EXDEV)
        );
        other.finish();
    });
}

#[test]
fn read_and_write_go_to_the_host_with_holes_and_eof() {
    for_each_policy(|f| {
        let root = f.root();
        let file = create_file(&root, "f", b"hello");
        assert_eq!(fs::read(f.host("f")).unwrap(), b"hello");
        let mut buf = [0u8; 16];
        assert_eq!(file.read_at(0, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        assert_eq!(file.read_at(5, &mut buf).unwrap(), 0);
        assert_eq!(file.read_at(100, &mut buf).unwrap(), 0);
        file.write_at(10, b"world").unwrap();
        assert_eq!(fs::read(f.host("f")).unwrap(), b"hello\0\0\0\0\0world");
        assert_eq!(file.getattr().unwrap().size, 15);
        assert_eq!(root.read_at(0, &mut buf).err(), Some(Errno::EISDIR));
        assert_eq!(root.write_at(0, b"x").err(), Some(Errno::EISDIR));

        fs::write(f.host("host"), b"from the host").unwrap();
        let host_file = root.lookup(b"host").unwrap();
        assert_eq!(read_to_end(&*host_file).unwrap(), b"from the host");
        host_file.fsync().unwrap();
        file.fsync().unwrap();
        root.fsync().unwrap();
    });
}

#[test]
fn files_larger_than_msize_round_trip_byte_for_byte() {
    for_each_policy(|f| {
        let root = f.root();
        let msize = f.fs.client().msize() as usize;
        let data = pseudo_random_bytes(16 * msize + 12_345, 7);
        let file = create_file(&root, "big", &data);
        assert_eq!(fs::read(f.host("big")).unwrap(), data);
        let mut back = vec![0u8; data.len() + 100];
        assert_eq!(file.read_at(0, &mut back).unwrap(), data.len());
        assert_eq!(&back[..data.len()], &data[..]);

        let host_data = pseudo_random_bytes(777_777, 11);
        fs::write(f.host("hostbig"), &host_data).unwrap();
        let host_file = root.lookup(b"hostbig").unwrap();
        let mut back = vec![0u8; host_data.len()];
        assert_eq!(host_file.read_at(0, &mut back).unwrap(), host_data.len());
        assert_eq!(back, host_data);
        // An unaligned window across several requests.
        let mut window = vec![0u8; 3 * msize];
        assert_eq!(host_file.read_at(1001, &mut window).unwrap(), window.len());
        assert_eq!(window, host_data[1001..1001 + window.len()]);
    });
}

#[test]
fn small_msize_still_moves_large_files_intact() {
    let f = Fixture::with(CachePolicy::Exclusive, 8192, true);
    assert_eq!(f.fs.client().msize(), 8192);
    let data = pseudo_random_bytes(300_000, 3);
    let file = create_file(&f.root(), "f", &data);
    assert_eq!(fs::read(f.host("f")).unwrap(), data);
    assert_eq!(read_to_end(&*file).unwrap(), data);
    assert!(f.channel.requests_of(118) >= (300_000 / 8192) as u64);
    drop(file);
    f.finish();
}

#[test]
fn setattr_truncates_chmods_chowns_and_sets_times() {
    for_each_policy(|f| {
        let root = f.root();
        let file = create_file(&root, "f", b"0123456789");
        file.setattr(&SetAttr {
            size: Some(4),
            ..SetAttr::default()
        })
        .unwrap();
        assert_eq!(fs::read(f.host("f")).unwrap(), b"0123");
        assert_eq!(file.getattr().unwrap().size, 4);
        file.setattr(&SetAttr {
            size: Some(6),
            ..SetAttr::default()
        })
        .unwrap();
        assert_eq!(fs::read(f.host("f")).unwrap(), b"0123\0\0");

        file.setattr(&SetAttr {
            mode: Some(0o4711),
            ..SetAttr::default()
        })
        .unwrap();
        assert_eq!(
            fs::metadata(f.host("f")).unwrap().permissions().mode() & 0o7777,
            0o4711
        );
        assert_eq!(file.getattr().unwrap().mode, mode::S_IFREG | 0o4711);

        if is_root_user() {
            file.setattr(&SetAttr {
                uid: Some(42),
                gid: Some(43),
                ..SetAttr::default()
            })
            .unwrap();
            let host = fs::metadata(f.host("f")).unwrap();
            assert_eq!((host.uid(), host.gid()), (42, 43));
            assert_eq!(file.getattr().unwrap().uid, 42);
        }

        let at = Timespec::new(1_000_000_000, 123_456_789);
        file.setattr(&SetAttr {
            atime: Some(TimeChange::At(at)),
            mtime: Some(TimeChange::At(at)),
            ..SetAttr::default()
        })
        .unwrap();
        let stat = file.getattr().unwrap();
        assert_eq!((stat.atime, stat.mtime), (at, at));
        let host = fs::metadata(f.host("f")).unwrap();
        assert_eq!(
            (host.mtime(), host.mtime_nsec()),
            (1_000_000_000, 123_456_789)
        );
        file.setattr(&SetAttr {
            mtime: Some(TimeChange::Now),
            ..SetAttr::default()
        })
        .unwrap();
        assert!(file.getattr().unwrap().mtime.sec > 1_600_000_000);

        file.setattr(&SetAttr::default()).unwrap();
        assert_eq!(
            root.setattr(&SetAttr {
                size: Some(0),
                ..SetAttr::default()
            })
            .err(),
            Some(Errno::EISDIR)
        );
    });
}

#[test]
fn readdir_resumes_from_any_offset_and_keeps_refused_entries() {
    for_each_policy(|f| {
        let root = f.root();
        for i in 0..50 {
            fs::write(f.host(&format!("file{i:02}")), b"").unwrap();
        }
        fs::create_dir(f.host("subdir")).unwrap();
        std::os::unix::fs::symlink("x", f.host("symlink")).unwrap();

        let mut all = Vec::new();
        root.readdir(0, &mut |entry| {
            all.push((
                entry.name.to_vec(),
                entry.ino,
                entry.file_type,
                entry.next_offset,
            ));
            true
        })
        .unwrap();
        assert_eq!(all.len(), 54);
        let find = |name: &[u8]| all.iter().find(|e| e.0 == name).unwrap().clone();
        assert_eq!(find(b"subdir").2, FileType::Directory);
        assert_eq!(find(b"symlink").2, FileType::Symlink);
        assert_eq!(find(b"file07").2, FileType::Regular);
        assert_eq!(
            find(b"file07").1,
            fs::metadata(f.host("file07")).unwrap().ino()
        );
        assert_eq!(find(b".").1, root.ino());
        assert_eq!(
            find(b"..").1,
            root.ino(),
            "the mount root's .. stays inside the mount"
        );
        // The VFS contract: `.` and `..` first, at offsets 0 and 1, and nowhere else, so an
        // overlay (which lists from offset 2) never shows them twice.
        assert_eq!((&all[0].0[..], all[0].3), (&b"."[..], 1));
        assert_eq!((&all[1].0[..], all[1].3), (&b".."[..], 2));
        assert!(all[2..].iter().all(|e| e.0 != b"." && e.0 != b".."));
        let subdir = root.lookup(b"subdir").unwrap();
        let mut sub_entries = Vec::new();
        subdir
            .readdir(0, &mut |entry| {
                sub_entries.push((entry.name.to_vec(), entry.ino));
                true
            })
            .unwrap();
        assert_eq!(
            sub_entries,
            vec![(b".".to_vec(), subdir.ino()), (b"..".to_vec(), root.ino())]
        );

        // Resuming from the 20th entry's offset yields exactly the rest, in order.
        let mut rest = Vec::new();
        root.readdir(all[19].3, &mut |entry| {
            rest.push(entry.name.to_vec());
            true
        })
        .unwrap();
        let expected: Vec<Vec<u8>> = all[20..].iter().map(|e| e.0.clone()).collect();
        assert_eq!(rest, expected);

        // A sink that is full after three entries: the fourth is not consumed.
        let mut taken = Vec::new();
        root.readdir(0, &mut |entry| {
            if taken.len() == 3 {
                return false;
            }
            taken.push((entry.name.to_vec(), entry.next_offset));
            true
        })
        .unwrap();
        let mut next = None;
        root.readdir(taken[2].1, &mut |entry| {
            next = Some(entry.name.to_vec());
            false
        })
        .unwrap();
        assert_eq!(next.as_deref(), Some(&all[3].0[..]));

        let file = root.lookup(b"file00").unwrap();
        assert_eq!(file.readdir(0, &mut |_| true).err(), Some(Errno::ENOTDIR));
    });
}

#[test]
fn a_ten_thousand_entry_directory_lists_completely() {
    let f = Fixture::new(CachePolicy::Exclusive);
    fs::create_dir(f.host("big")).unwrap();
    for i in 0..10_000 {
        fs::File::create(f.host(&format!("big/entry-{i:05}"))).unwrap();
    }
    let dir = f.root().lookup(b"big").unwrap();
    let listed = names(&dir);
    assert_eq!(listed.len(), 10_002);
    assert_eq!(listed[0], ".");
    assert_eq!(listed[1], "..");
    for (i, name) in listed[2..].iter().enumerate() {
        assert_eq!(name, &format!("entry-{i:05}"));
    }
    assert_eq!(
        dir.lookup(b"entry-09999").unwrap().file_type(),
        FileType::Regular
    );
    // Many entries per request: the listing took few round trips.
    assert!(
        f.channel.requests_of(40) < 40,
        "{} readdir requests",
        f.channel.requests_of(40)
    );
    drop(dir);
    f.finish();
}

/// QEMU's local backend answers a generation number by opening the file on the host and
/// asking its filesystem: a stat never needs it, so no `Tgetattr` asks for it, on any path
/// that fetches attributes (walk, listing prefetch, shared batch, create, the mount root).
#[test]
fn attribute_requests_never_ask_for_the_generation() {
    for policy in [CachePolicy::Exclusive, CachePolicy::Revalidate] {
        let f = Fixture::new(policy);
        fs::create_dir(f.host("d")).unwrap();
        for i in 0..10 {
            fs::write(f.host(&format!("d/f{i}")), b"12").unwrap();
        }
        let dir = f.root().lookup(b"d").unwrap();
        let listed = names(&dir);
        for name in &listed[2..] {
            let file = dir.lookup(name.as_bytes()).unwrap();
            assert_eq!(file.getattr().unwrap().size, 2);
        }
        let made = dir.create(b"new", &node(NodeKind::Regular, 0o644)).unwrap();
        assert_eq!(made.getattr().unwrap().size, 0);
        let masks = f.channel.getattr_masks();
        assert_ne!(masks & getattr_mask::BASIC, 0, "attributes were fetched");
        assert_eq!(
            masks & (getattr_mask::GEN | getattr_mask::DATA_VERSION),
            0,
            "{policy:?}: masks {masks:#x}"
        );
        drop((made, dir));
        f.finish();
    }
}

#[test]
fn exclusive_caches_attributes_and_shared_sees_host_changes() {
    let f = Fixture::new(CachePolicy::Exclusive);
    fs::write(f.host("f"), b"1234").unwrap();
    let file = f.root().lookup(b"f").unwrap();
    let before = f.fs.client().stats().requests;
    assert_eq!(file.getattr().unwrap().size, 4);
    assert_eq!(file.getattr().unwrap().size, 4);
    assert_eq!(
        f.fs.client().stats().requests,
        before,
        "exclusive getattr is served from the cache"
    );
    fs::write(f.host("f"), b"123456789").unwrap();
    assert_eq!(
        file.getattr().unwrap().size,
        4,
        "the sandbox owns the tree: host changes are not looked for"
    );
    file.write_at(0, b"x").unwrap();
    assert_eq!(
        file.getattr().unwrap().size,
        9,
        "a write drops the cached attributes"
    );
    drop(file);
    f.finish();

    let f = Fixture::new(CachePolicy::Revalidate);
    fs::write(f.host("f"), b"1234").unwrap();
    let file = f.root().lookup(b"f").unwrap();
    assert_eq!(file.getattr().unwrap().size, 4);
    fs::write(f.host("f"), b"123456789").unwrap();
    assert_eq!(file.getattr().unwrap().size, 9);
    fs::set_permissions(f.host("f"), fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(file.getattr().unwrap().mode & 0o777, 0o600);
    fs::remove_file(f.host("f")).unwrap();
    assert_eq!(f.root().lookup(b"f").err(), Some(Errno::ENOENT));
    drop(file);
    f.finish();
}

#[test]
fn failed_operations_leave_no_fid_behind() {
    for_each_policy(|f| {
        let root = f.root();
        let file = create_file(&root, "f", b"x");
        let baseline = f.channel.live_fids();
        for _ in 0..20 {
            assert_eq!(
                root.create(b"f", &node(NodeKind::Regular, 0o644)).err(),
                Some(Errno::EEXIST)
            );
            assert_eq!(root.lookup(b"missing").err(), Some(Errno::ENOENT));
            assert_eq!(
                root.rename(b"f", &root, b"f", RenameFlags::NOREPLACE).err(),
                Some(Errno::EEXIST)
            );
            assert_eq!(
                root.create(b"f", &node(NodeKind::Directory, 0o755)).err(),
                Some(Errno::EEXIST)
            );
        }
        // A walk that fails part way (the p9 server answers with the qids it got).
        let client_fid = f.fs.root_inode().fid().unwrap();
        assert_eq!(
            client_fid.walk(&[b"f", b"below-a-file"]).err(),
            Some(Errno::ENOENT)
        );
        let deep: Vec<&[u8]> = vec![b"missing"; 20];
        assert_eq!(client_fid.walk(&deep).err(), Some(Errno::ENOENT));
        assert_eq!(f.channel.live_fids(), baseline);
        drop(file);
        assert_eq!(f.channel.live_fids(), f.baseline());
    });
}

#[test]
fn fid_numbers_are_reused() {
    let f = Fixture::new(CachePolicy::Revalidate);
    fs::write(f.host("f"), b"x").unwrap();
    let root = f.root();
    for _ in 0..1000 {
        let file = root.lookup(b"f").unwrap();
        file.read_at(0, &mut [0; 1]).unwrap();
    }
    let file = root.lookup(b"f").unwrap();
    let p9 = (&*file as &dyn std::any::Any)
        .downcast_ref::<vfs_core::p9::P9Inode>()
        .unwrap();
    assert!(
        p9.fid().unwrap().id() < 8,
        "fid {} after 1000 lookups",
        p9.fid().unwrap().id()
    );
    drop(file);
    drop(root);
    f.finish();
}

#[test]
fn walks_longer_than_sixteen_names_are_split() {
    let f = Fixture::new(CachePolicy::Exclusive);
    let mut path = f.dir.path().to_path_buf();
    let names: Vec<Vec<u8>> = (0..40).map(|i| format!("d{i}").into_bytes()).collect();
    for name in &names {
        path.push(std::str::from_utf8(name).unwrap());
    }
    fs::create_dir_all(&path).unwrap();
    let refs: Vec<&[u8]> = names.iter().map(|n| &n[..]).collect();
    let (fid, qids) = f.fs.root_inode().fid().unwrap().walk(&refs).unwrap();
    assert_eq!(qids.len(), 40);
    assert_eq!(qids[39].path, fs::metadata(&path).unwrap().ino());
    assert_eq!(f.channel.requests_of(110), 3);
    drop(fid);
    f.finish();
}

#[test]
fn concurrent_readers_and_writers_share_one_mount() {
    let f = Fixture::new(CachePolicy::Exclusive);
    let root = f.root();
    std::thread::scope(|scope| {
        for t in 0..4u8 {
            let root = root.clone();
            scope.spawn(move || {
                let name = format!("t{t}");
                let data = pseudo_random_bytes(200_000, u64::from(t) + 1);
                let file = create_file(&root, &name, &data);
                for round in 0..5 {
                    let offset = round * 1000;
                    let mut back = vec![0u8; 50_000];
                    assert_eq!(file.read_at(offset as u64, &mut back).unwrap(), back.len());
                    assert_eq!(back, data[offset..offset + 50_000]);
                }
                root.unlink(name.as_bytes()).unwrap();
            });
        }
    });
    drop(root);
    f.finish();
}

#[test]
fn lookups_revalidate_on_shared_mounts_by_walking_again() {
    let f = Fixture::new(CachePolicy::Revalidate);
    fs::write(f.host("f"), b"x").unwrap();
    let root = f.root();
    let walks = f.channel.requests_of(110);
    let first = root.lookup(b"f").unwrap().ino();
    let second = root.lookup(b"f").unwrap().ino();
    assert_eq!(first, second);
    assert_eq!(f.channel.requests_of(110), walks + 2);
    fs::remove_file(f.host("f")).unwrap();
    fs::write(f.host("f"), b"new file").unwrap();
    assert_eq!(
        read_to_end(&*root.lookup(b"f").unwrap()).unwrap(),
        b"new file"
    );
    // Clunks are how the shared mount gives back each revalidation's fid.
    assert!(f.channel.requests_of(120) >= 2);
    drop(root);
    f.finish();
}

/// Creating a name in a memory overlay over a 9p share that lacks it asks the share for
/// the name once: the lookup that finds it absent also says no whiteout is needed (the
/// runtime's file bind mount points are made this way at every boot, and each question
/// to the host is a round trip).
#[test]
fn overlay_create_asks_the_9p_lower_for_a_missing_name_once() {
    use vfs_core::overlay::OverlayFs;
    use vfs_core::time::ManualClock;
    use vfs_core::tmpfs::{TmpfsMemory, TmpfsOptions};
    const TWALK: u8 = 110;
    for policy in [CachePolicy::Exclusive, CachePolicy::Revalidate] {
        let f = Fixture::new(policy);
        fs::create_dir(f.host("etc")).unwrap();
        let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
        let upper = vfs_core::tmpfs::new(
            &TmpfsOptions::parse("mode=755").unwrap(),
            &TmpfsMemory::unbudgeted(1 << 30),
            9,
            clock,
        )
        .unwrap();
        let lower: Arc<dyn FileSystem> = f.fs.clone();
        let overlay = OverlayFs::new(upper, vec![lower], 8, String::new()).unwrap();
        let etc = overlay.root().lookup(b"etc").unwrap();
        let walks = f.channel.requests_of(TWALK);
        etc.create(b"hosts", &node(NodeKind::Regular, 0o644))
            .unwrap();
        assert_eq!(
            f.channel.requests_of(TWALK) - walks,
            1,
            "{policy:?}: walks to create a name the lower lacks"
        );
        assert_eq!(names(&etc), [".", "..", "hosts"], "{policy:?}");
        // The file is the upper layer's alone; the share never saw it.
        assert!(!f.host("etc/hosts").exists());
        drop((etc, overlay));
        f.finish();
    }
}
