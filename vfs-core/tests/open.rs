//! Open-file-description semantics, checked against Linux's open(2)/read(2)/write(2).
mod common;

use common::*;
use vfs_core::*;

const RW: OpenFlags = OpenFlags::RDWR;

#[test]
fn offset_is_shared_and_advances() {
    let w = world();
    let file = w
        .ctx
        .open(At::Cwd, b"/f", RW | OpenFlags::CREAT, 0o644)
        .unwrap();
    assert_eq!(file.write(b"hello world").unwrap(), 11);
    assert_eq!(file.position(), 11);
    assert_eq!(file.seek(0, Whence::Set).unwrap(), 0);
    let mut buf = [0u8; 5];
    assert_eq!(file.read(&mut buf).unwrap(), 5);
    assert_eq!(&buf, b"hello");
    assert_eq!(file.seek(-5, Whence::End).unwrap(), 6);
    assert_eq!(file.read(&mut buf).unwrap(), 5);
    assert_eq!(&buf, b"world");
    assert_eq!(file.read(&mut buf).unwrap(), 0);
    assert_eq!(err(file.seek(-100, Whence::Current)), Errno::EINVAL);
    assert_eq!(file.read_at(6, &mut buf).unwrap(), 5);
    assert_eq!(file.position(), 11);
}

#[test]
fn o_append_writes_at_the_end_even_after_seek() {
    let w = world();
    write_file(&w.ctx, "/log", b"one\n");
    let file = w
        .ctx
        .open(At::Cwd, b"/log", OpenFlags::WRONLY | OpenFlags::APPEND, 0)
        .unwrap();
    file.seek(0, Whence::Set).unwrap();
    file.write(b"two\n").unwrap();
    file.write_at(0, b"three\n").unwrap();
    assert_eq!(read_file(&w.ctx, "/log"), b"one\ntwo\nthree\n");
    assert_eq!(file.position(), 8);
}

#[test]
fn o_trunc_empties_and_o_creat_excl_refuses_existing() {
    let w = world();
    write_file(&w.ctx, "/f", b"data");
    w.ctx
        .open(At::Cwd, b"/f", OpenFlags::WRONLY | OpenFlags::TRUNC, 0)
        .unwrap();
    assert_eq!(w.ctx.stat(At::Cwd, b"/f", true).unwrap().size, 0);
    assert_eq!(
        err(w.ctx.open(
            At::Cwd,
            b"/f",
            RW | OpenFlags::CREAT | OpenFlags::EXCL,
            0o644
        )),
        Errno::EEXIST
    );
    // O_EXCL does not follow a symlink, even a dangling one.
    w.ctx.symlink(b"/nothing", At::Cwd, b"/dangling").unwrap();
    assert_eq!(
        err(w.ctx.open(
            At::Cwd,
            b"/dangling",
            RW | OpenFlags::CREAT | OpenFlags::EXCL,
            0o644
        )),
        Errno::EEXIST
    );
    // Without O_EXCL, O_CREAT through a dangling symlink creates its target.
    w.ctx
        .open(At::Cwd, b"/dangling", RW | OpenFlags::CREAT, 0o600)
        .unwrap();
    assert_eq!(
        w.ctx.stat(At::Cwd, b"/nothing", true).unwrap().mode & 0o7777,
        0o600
    );
}

#[test]
fn creation_mode_has_umask_applied() {
    let mut w = world();
    w.ctx.umask = 0o027;
    w.ctx
        .open(At::Cwd, b"/f", RW | OpenFlags::CREAT, 0o666)
        .unwrap();
    w.ctx.mkdir(At::Cwd, b"/d", 0o777).unwrap();
    assert_eq!(w.ctx.stat(At::Cwd, b"/f", true).unwrap().mode, 0o100640);
    assert_eq!(w.ctx.stat(At::Cwd, b"/d", true).unwrap().mode, 0o040750);
}

#[test]
fn access_mode_is_enforced_per_description() {
    let w = world();
    write_file(&w.ctx, "/f", b"abc");
    let read_only = w.ctx.open(At::Cwd, b"/f", OpenFlags::RDONLY, 0).unwrap();
    assert_eq!(err(read_only.write(b"x")), Errno::EBADF);
    assert_eq!(err(read_only.truncate(0)), Errno::EINVAL);
    let write_only = w.ctx.open(At::Cwd, b"/f", OpenFlags::WRONLY, 0).unwrap();
    let mut buf = [0u8; 3];
    assert_eq!(err(write_only.read(&mut buf)), Errno::EBADF);
    write_only.truncate(1).unwrap();
    assert_eq!(read_only.read(&mut buf).unwrap(), 1);
}

#[test]
fn directories_open_read_only_and_only_with_o_directory_on_dirs() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
    write_file(&w.ctx, "/f", b"");
    assert_eq!(
        err(w.ctx.open(At::Cwd, b"/d", OpenFlags::WRONLY, 0)),
        Errno::EISDIR
    );
    assert_eq!(err(w.ctx.open(At::Cwd, b"/d", RW, 0)), Errno::EISDIR);
    assert_eq!(
        err(w.ctx.open(At::Cwd, b"/d", RW | OpenFlags::CREAT, 0o644)),
        Errno::EISDIR
    );
    assert_eq!(
        err(w.ctx.open(At::Cwd, b"/f", OpenFlags::DIRECTORY, 0)),
        Errno::ENOTDIR
    );
    assert_eq!(
        err(w.ctx.open(At::Cwd, b"/f/", OpenFlags::RDONLY, 0)),
        Errno::ENOTDIR
    );
    assert_eq!(
        err(w.ctx.open(At::Cwd, b"/new/", RW | OpenFlags::CREAT, 0o644)),
        Errno::EISDIR
    );
    assert_eq!(
        err(w.ctx.open(
            At::Cwd,
            b"/d2",
            OpenFlags::CREAT | OpenFlags::DIRECTORY,
            0o644
        )),
        Errno::EINVAL
    );
    let dir = w.ctx.open(At::Cwd, b"/d", OpenFlags::RDONLY, 0).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(err(dir.read(&mut buf)), Errno::EISDIR);
}

#[test]
fn o_nofollow_and_o_path_on_symlinks() {
    let w = world();
    write_file(&w.ctx, "/f", b"");
    w.ctx.symlink(b"f", At::Cwd, b"/l").unwrap();
    assert_eq!(
        err(w
            .ctx
            .open(At::Cwd, b"/l", OpenFlags::RDONLY | OpenFlags::NOFOLLOW, 0)),
        Errno::ELOOP
    );
    let path = w
        .ctx
        .open(At::Cwd, b"/l", OpenFlags::PATH | OpenFlags::NOFOLLOW, 0)
        .unwrap();
    assert_eq!(path.stat().unwrap().file_type(), Some(FileType::Symlink));
    let mut buf = [0u8; 1];
    assert_eq!(err(path.read(&mut buf)), Errno::EBADF);
    assert_eq!(err(path.write(b"x")), Errno::EBADF);
    // O_NOFOLLOW only concerns the last component.
    w.ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
    w.ctx.symlink(b"d", At::Cwd, b"/dl").unwrap();
    write_file(&w.ctx, "/d/g", b"");
    assert!(
        w.ctx
            .open(
                At::Cwd,
                b"/dl/g",
                OpenFlags::RDONLY | OpenFlags::NOFOLLOW,
                0
            )
            .is_ok()
    );
}

#[test]
fn o_path_needs_no_permission_on_the_file() {
    let w = world();
    write_file(&w.ctx, "/secret", b"");
    w.ctx.chmod(At::Cwd, b"/secret", 0).unwrap();
    let alice = user(&w.ctx, 1000, 1000, &[]);
    assert_eq!(
        err(alice.open(At::Cwd, b"/secret", OpenFlags::RDONLY, 0)),
        Errno::EACCES
    );
    assert!(alice.open(At::Cwd, b"/secret", OpenFlags::PATH, 0).is_ok());
}

#[test]
fn sparse_files_read_zeros_in_holes() {
    let w = world();
    let file = w
        .ctx
        .open(At::Cwd, b"/sparse", RW | OpenFlags::CREAT, 0o644)
        .unwrap();
    file.write_at(1 << 20, b"end").unwrap();
    let stat = file.stat().unwrap();
    assert_eq!(stat.size, (1 << 20) + 3);
    assert_eq!(stat.blocks, 8, "one 4 KiB page, as tmpfs reports it");
    let mut buf = vec![1u8; 4096];
    assert_eq!(file.read_at(4096, &mut buf).unwrap(), 4096);
    assert!(buf.iter().all(|&b| b == 0));
    file.truncate(10 << 20).unwrap();
    assert_eq!(file.stat().unwrap().blocks, 8);
}

#[test]
fn readdir_offsets_survive_changes_between_calls() {
    let w = world();
    w.ctx.mkdir(At::Cwd, b"/d", 0o755).unwrap();
    for i in 0..10 {
        write_file(&w.ctx, &format!("/d/f{i}"), b"");
    }
    let dir = w
        .ctx
        .open(At::Cwd, b"/d", OpenFlags::RDONLY | OpenFlags::DIRECTORY, 0)
        .unwrap();
    let mut seen = Vec::new();
    let take = |count: usize, seen: &mut Vec<String>| {
        let mut taken = 0;
        dir.read_dir(&mut |entry| {
            if taken == count {
                return false;
            }
            taken += 1;
            seen.push(String::from_utf8_lossy(entry.name).into_owned());
            true
        })
        .unwrap();
    };
    take(5, &mut seen);
    assert_eq!(seen[..2], [".", ".."]);
    // Remove one already listed and one not yet listed, add a new one.
    w.ctx.unlink(At::Cwd, b"/d/f0").unwrap();
    w.ctx.unlink(At::Cwd, b"/d/f9").unwrap();
    write_file(&w.ctx, "/d/new", b"");
    take(100, &mut seen);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "no entry listed twice: {seen:?}");
    assert!(!seen.contains(&"f9".to_string()));
    assert!(seen.contains(&"new".to_string()));
    assert_eq!(seen.len(), 2 + 10 - 1 + 1);
}

#[test]
fn device_nodes_open_through_the_kernels_registry() {
    use std::sync::Arc;
    struct Zero;
    impl DeviceFile for Zero {
        fn read(&self, _offset: u64, buf: &mut [u8], _flags: OpenFlags) -> Result<usize> {
            buf.fill(0);
            Ok(buf.len())
        }
        fn write(&self, _offset: u64, buf: &[u8], _flags: OpenFlags) -> Result<usize> {
            Ok(buf.len())
        }
    }
    struct Registry;
    impl DeviceRegistry for Registry {
        fn open(
            &self,
            file_type: FileType,
            stat: &Stat,
            _flags: OpenFlags,
        ) -> Result<Arc<dyn DeviceFile>> {
            if file_type == FileType::CharDevice && stat.rdev == attr::make_dev(1, 5) {
                Ok(Arc::new(Zero))
            } else {
                Err(Errno::ENXIO)
            }
        }
    }
    let w = world();
    w.ctx
        .mknod(
            At::Cwd,
            b"/zero",
            attr::mode::S_IFCHR | 0o666,
            attr::make_dev(1, 5),
        )
        .unwrap();
    w.ctx
        .mknod(
            At::Cwd,
            b"/other",
            attr::mode::S_IFCHR | 0o666,
            attr::make_dev(9, 9),
        )
        .unwrap();
    assert_eq!(
        err(w.ctx.open(At::Cwd, b"/zero", RW, 0)),
        Errno::ENXIO,
        "no registry yet"
    );
    w.ns.set_device_registry(Arc::new(Registry));
    let zero = w.ctx.open(At::Cwd, b"/zero", RW, 0).unwrap();
    let mut buf = [7u8; 16];
    assert_eq!(zero.read(&mut buf).unwrap(), 16);
    assert_eq!(buf, [0u8; 16]);
    assert_eq!(err(w.ctx.open(At::Cwd, b"/other", RW, 0)), Errno::ENXIO);
    let stat = w.ctx.stat(At::Cwd, b"/zero", true).unwrap();
    assert_eq!(
        (stat.mode, stat.rdev),
        (attr::mode::S_IFCHR | 0o644, attr::make_dev(1, 5))
    );
    let alice = user(&w.ctx, 1000, 1000, &[]);
    assert_eq!(
        err(alice.mknod(At::Cwd, b"/mine", attr::mode::S_IFCHR | 0o666, 0)),
        Errno::EACCES
    );
    assert_eq!(
        err(w
            .ctx
            .mknod(At::Cwd, b"/dir", attr::mode::S_IFDIR | 0o755, 0)),
        Errno::EPERM
    );
}

#[test]
fn timestamps_follow_the_injected_clock() {
    let w = world();
    let file = w
        .ctx
        .open(At::Cwd, b"/f", RW | OpenFlags::CREAT, 0o644)
        .unwrap();
    let created = file.stat().unwrap();
    assert_eq!(created.mtime, Timespec::new(1_700_000_000, 0));
    w.clock.advance_nanos(1_500);
    file.write(b"x").unwrap();
    let written = file.stat().unwrap();
    assert_eq!(written.mtime, Timespec::new(1_700_000_000, 1_500));
    assert_eq!(written.ctime, written.mtime);
    w.clock.advance_nanos(1);
    let mut buf = [0u8; 1];
    file.read_at(0, &mut buf).unwrap();
    let read = file.stat().unwrap();
    assert_eq!(
        read.atime,
        Timespec::new(1_700_000_000, 1_501),
        "relatime: atime was older than mtime"
    );
    assert_eq!(
        read.ctime, written.ctime,
        "an atime update does not touch ctime"
    );
    w.ctx
        .utimens(
            At::Cwd,
            b"/f",
            Some(TimeChange::At(Timespec::new(5, 6))),
            None,
            true,
        )
        .unwrap();
    assert_eq!(
        w.ctx.stat(At::Cwd, b"/f", true).unwrap().atime,
        Timespec::new(5, 6)
    );
}

#[test]
fn appends_through_different_descriptions_never_overwrite_each_other() {
    let w = world();
    write_file(&w.ctx, "/log", b"");
    let threads: Vec<_> = (0..4u8)
        .map(|index| {
            let file = w
                .ctx
                .open(At::Cwd, b"/log", OpenFlags::WRONLY | OpenFlags::APPEND, 0)
                .unwrap();
            std::thread::spawn(move || {
                for _ in 0..500 {
                    assert_eq!(file.write(&[b'a' + index; 10]).unwrap(), 10);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let data = read_file(&w.ctx, "/log");
    assert_eq!(data.len(), 4 * 500 * 10);
    assert!(
        data.chunks(10)
            .all(|record| record.iter().all(|&b| b == record[0])),
        "records interleaved"
    );
}

#[test]
fn an_empty_append_leaves_the_offset_alone() {
    let w = world();
    write_file(&w.ctx, "/f", b"0123456789");
    let file = w
        .ctx
        .open(At::Cwd, b"/f", OpenFlags::RDWR | OpenFlags::APPEND, 0)
        .unwrap();
    file.seek(3, Whence::Set).unwrap();
    assert_eq!(file.write(b"").unwrap(), 0);
    assert_eq!(file.position(), 3);
    file.write(b"x").unwrap();
    assert_eq!(file.position(), 11);
}

/// A device whose read and write look back at their own description: through its offset
/// (which must not be locked meanwhile: a blocking pipe read holding it would make another
/// process sharing the description spin forever) and its status flags, as they are now.
#[test]
fn device_files_run_without_the_offset_lock_and_see_current_flags() {
    use std::sync::{Arc, Mutex, Weak};
    #[derive(Default)]
    struct Reentrant {
        file: Mutex<Weak<OpenFile>>,
        seen: Mutex<Vec<(u64, bool)>>,
    }
    impl Reentrant {
        fn look(&self, flags: OpenFlags) {
            let file = self.file.lock().unwrap().upgrade().unwrap();
            // `seek` takes the offset lock: a hang here means read/write still hold it.
            let position = file.seek(0, Whence::Current).unwrap();
            self.seen
                .lock()
                .unwrap()
                .push((position, flags.contains(OpenFlags::NONBLOCK)));
        }
    }
    impl DeviceFile for Reentrant {
        fn read(&self, _offset: u64, buf: &mut [u8], flags: OpenFlags) -> Result<usize> {
            self.look(flags);
            Ok(buf.len())
        }
        fn write(&self, _offset: u64, buf: &[u8], flags: OpenFlags) -> Result<usize> {
            self.look(flags);
            Ok(buf.len())
        }
    }
    struct Registry(Arc<Reentrant>);
    impl DeviceRegistry for Registry {
        fn open(&self, _: FileType, _: &Stat, _: OpenFlags) -> Result<Arc<dyn DeviceFile>> {
            Ok(self.0.clone())
        }
    }
    let w = world();
    let device = Arc::new(Reentrant::default());
    w.ns.set_device_registry(Arc::new(Registry(device.clone())));
    w.ctx
        .mknod(At::Cwd, b"/fifo", attr::mode::S_IFIFO | 0o666, 0)
        .unwrap();
    let file = w.ctx.open(At::Cwd, b"/fifo", RW, 0).unwrap();
    *device.file.lock().unwrap() = Arc::downgrade(&file);
    assert_eq!(file.read(&mut [0u8; 3]).unwrap(), 3);
    file.set_status_flags(OpenFlags::NONBLOCK);
    assert_eq!(file.write(b"abcd").unwrap(), 4);
    assert_eq!(*device.seen.lock().unwrap(), [(0, false), (3, true)]);
    assert_eq!(file.position(), 7);
}

#[test]
fn anonymous_files_have_a_type_an_inode_and_no_name() {
    use std::sync::Arc;
    let fs = anon::AnonFs::new(
        "pipefs",
        77,
        Arc::new(ManualClock::new(Timespec::new(1, 0))),
    );
    let node = NewNode {
        kind: NodeKind::Fifo,
        perm: 0o600,
        uid: 1000,
        gid: 1000,
    };
    let one = fs.new_location(&node).unwrap();
    let two = fs.new_location(&node).unwrap();
    let cred = Credentials::root();
    let reader = OpenFile::anonymous(one.clone(), cred.clone(), OpenFlags::RDONLY, None).unwrap();
    let writer = OpenFile::anonymous(one, cred.clone(), OpenFlags::WRONLY, None).unwrap();
    let (a, b) = (reader.stat().unwrap(), writer.stat().unwrap());
    assert_eq!(a.mode, attr::mode::S_IFIFO | 0o600);
    assert_eq!(
        (a.ino, a.dev, a.uid),
        (b.ino, 77, 1000),
        "both ends share one inode"
    );
    assert_ne!(two.dentry.positive().unwrap().ino(), a.ino);
    assert!(fs.contains(reader.location()));
    let w = world();
    let elsewhere = w.ctx.open(At::Cwd, b"/", OpenFlags::RDONLY, 0).unwrap();
    assert!(!fs.contains(elsewhere.location()));
}
