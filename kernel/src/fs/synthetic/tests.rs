//! The synthetic filesystem through a real vfs-core namespace: attributes, listings,
//! generated contents, and Linux's errnos for what a kernel filesystem refuses.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;
use vfs_core::attr::{fs_magic, make_dev};
use vfs_core::{
    At, CachePolicy, Errno, FileType, FsContext, MountFlags, OpenFlags, RenameFlags, Timespec,
};

use super::*;
use crate::fs::testing::{list_dir, mounted_at, names, read_file, read_text};

fn proc_like_rules() -> Rules {
    Rules {
        fs_type: "proc",
        magic: fs_magic::PROC_SUPER_MAGIC,
        cache_policy: CachePolicy::Revalidate,
        file_size: 0,
        block_size: 1024,
        refuse_write_open: None,
        write_without_writer: Errno::EIO,
    }
}

/// `/t`: `counter` (a file counting its reads), `sub/` (with `leaf`), `link` → `sub/leaf`,
/// `changing/` (whose children the test sets).
fn sample(rules: Rules, changing: Arc<Mutex<Vec<&'static str>>>) -> FsContext {
    let reads = Arc::new(AtomicU64::new(0));
    let counter = Node::file(2, 0o444, move || {
        Ok(alloc::format!("read {}\n", reads.fetch_add(1, Ordering::Relaxed)).into_bytes())
    });
    let sub = Node::directory(
        3,
        0o555,
        FixedDir::new().with("leaf", Node::constant(4, 0o444, "leaf\n")),
    );
    let link = Node::symlink(5, || Ok(b"sub/leaf".to_vec()));
    let changing = Node::directory(6, 0o555, Changing(changing));
    let root = FixedDir::new()
        .with("counter", counter)
        .with("sub", sub)
        .with("link", link)
        .with("changing", changing);
    let fs = SyntheticFs::new(
        rules,
        Node::directory(1, 0o555, root),
        String::new(),
        make_dev(0, 50),
        crate::fs::testing::clock(),
    );
    mounted_at("/t", fs, MountFlags::empty())
}

/// A directory whose children (named files, cookie = position + 10) a test changes.
struct Changing(Arc<Mutex<Vec<&'static str>>>);

impl Directory for Changing {
    fn entries(&self) -> Vec<Entry> {
        let mut entries = Vec::new();
        for (index, name) in self.0.lock().iter().enumerate() {
            let cookie = 10 + index as u64;
            entries.push(Entry {
                name: name.as_bytes().to_vec(),
                cookie,
                node: Node::constant(100 + cookie, 0o444, name),
            });
        }
        entries
    }
}

fn plain() -> FsContext {
    sample(proc_like_rules(), Arc::new(Mutex::new(Vec::new())))
}

#[test]
fn generated_file_reports_size_zero_mode_0444_owner_root_like_procfs() {
    let context = plain();
    let stat = context.stat(At::Cwd, b"/t/counter", true).unwrap();
    assert_eq!(stat.file_type(), Some(FileType::Regular));
    assert_eq!(stat.permission_bits(), 0o444);
    assert_eq!(
        (
            stat.size,
            stat.nlink,
            stat.uid,
            stat.gid,
            stat.ino,
            stat.blksize
        ),
        (0, 1, 0, 0, 2, 1024)
    );
    assert_eq!(stat.dev, make_dev(0, 50));
    assert_eq!(stat.mtime, Timespec::new(1_700_000_000, 0));
}

#[test]
fn directory_nlink_is_two_plus_subdirectories_like_procfs() {
    let context = plain();
    let root = context.stat(At::Cwd, b"/t", true).unwrap();
    assert_eq!((root.mode, root.nlink, root.ino), (0o040555, 4, 1));
    assert_eq!(context.stat(At::Cwd, b"/t/sub", true).unwrap().nlink, 2);
}

#[test]
fn contents_are_generated_afresh_for_every_pass_through_the_file() {
    let context = plain();
    assert_eq!(read_text(&context, "/t/counter"), "read 0\n");
    assert_eq!(read_text(&context, "/t/counter"), "read 1\n");
}

#[test]
fn a_reader_going_through_in_pieces_sees_one_version_like_seq_file() {
    let version = Arc::new(AtomicU64::new(0));
    let source = version.clone();
    // Each version is longer than the last, so stitching two would show.
    let node = Node::file(2, 0o444, move || {
        Ok(alloc::format!(
            "{}\n",
            "v".repeat(100 + source.load(Ordering::Relaxed) as usize)
        )
        .into_bytes())
    });
    let fs = SyntheticFs::new(
        proc_like_rules(),
        Node::directory(1, 0o555, FixedDir::new().with("grows", node)),
        String::new(),
        1,
        crate::fs::testing::clock(),
    );
    let context = mounted_at("/t", fs, MountFlags::empty());
    let file = context
        .open(At::Cwd, b"/t/grows", OpenFlags::empty(), 0)
        .unwrap();
    let mut piece = [0u8; 60];
    let mut text = Vec::new();
    loop {
        let count = file.read(&mut piece).unwrap();
        if count == 0 {
            break;
        }
        text.extend_from_slice(&piece[..count]);
        version.fetch_add(1, Ordering::Relaxed);
    }
    assert_eq!(text.len(), 101, "one version of 100 v's and a newline");
    // A read that does not continue the last one (here: from the start) is fresh.
    assert_eq!(file.read_at(0, &mut piece).unwrap(), 60);
    assert_eq!(
        read_file(&context, "/t/grows").unwrap().len(),
        100 + version.load(Ordering::Relaxed) as usize + 1
    );
}

#[test]
fn symlink_target_is_generated_and_followed_by_the_walk() {
    let context = plain();
    assert_eq!(context.readlink(At::Cwd, b"/t/link").unwrap(), b"sub/leaf");
    assert_eq!(read_text(&context, "/t/link"), "leaf\n");
    let stat = context.stat(At::Cwd, b"/t/link", false).unwrap();
    assert_eq!((stat.mode, stat.size), (0o120777, 0));
}

#[test]
fn readdir_lists_dot_dotdot_then_children_with_their_inode_numbers() {
    let context = plain();
    let listing = list_dir(&context, "/t/sub");
    assert_eq!(
        listing,
        vec![
            (String::from("."), 3, FileType::Directory),
            (String::from(".."), 1, FileType::Directory),
            (String::from("leaf"), 4, FileType::Regular),
        ]
    );
    assert_eq!(
        names(&context, "/t"),
        [".", "..", "counter", "sub", "link", "changing"]
    );
}

#[test]
fn readdir_resumes_after_the_last_entry_even_when_earlier_children_vanish() {
    let children = Arc::new(Mutex::new(vec!["a", "b", "c"]));
    let context = sample(proc_like_rules(), children.clone());
    let dir = context
        .open(At::Cwd, b"/t/changing", OpenFlags::DIRECTORY, 0)
        .unwrap();
    let mut seen = Vec::new();
    // Take ".", "..", "a" and stop, as a full getdents buffer does.
    dir.read_dir(&mut |entry| {
        if seen.len() == 3 {
            return false;
        }
        seen.push(String::from_utf8_lossy(entry.name).into_owned());
        true
    })
    .unwrap();
    // "a" goes away and "b" moves to a's cookie: a cookie is a place, not a name, so the
    // listing goes on from after a's place (Linux's fd and pid listings behave so too).
    *children.lock() = vec!["b", "c"];
    dir.read_dir(&mut |entry| {
        seen.push(String::from_utf8_lossy(entry.name).into_owned());
        true
    })
    .unwrap();
    assert_eq!(seen, [".", "..", "a", "c"]);
}

#[test]
fn revalidating_tree_sees_children_appear_after_a_failed_lookup() {
    let children = Arc::new(Mutex::new(Vec::new()));
    let context = sample(proc_like_rules(), children.clone());
    assert_eq!(
        context.stat(At::Cwd, b"/t/changing/new", true),
        Err(Errno::ENOENT)
    );
    children.lock().push("new");
    assert_eq!(read_text(&context, "/t/changing/new"), "new");
    children.lock().clear();
    assert_eq!(
        context.stat(At::Cwd, b"/t/changing/new", true),
        Err(Errno::ENOENT)
    );
}

#[test]
fn tree_changing_calls_fail_like_linux_proc_and_kernfs() {
    let context = plain();
    assert_eq!(context.mkdir(At::Cwd, b"/t/new", 0o755), Err(Errno::EPERM));
    assert_eq!(
        context.mknod(At::Cwd, b"/t/node", 0o020644, make_dev(1, 3)),
        Err(Errno::EPERM)
    );
    assert_eq!(context.symlink(b"x", At::Cwd, b"/t/sym"), Err(Errno::EPERM));
    assert_eq!(
        context
            .open(
                At::Cwd,
                b"/t/new",
                OpenFlags::CREAT | OpenFlags::WRONLY,
                0o644
            )
            .err(),
        Some(Errno::EACCES)
    );
    assert_eq!(context.unlink(At::Cwd, b"/t/counter"), Err(Errno::EPERM));
    assert_eq!(context.rmdir(At::Cwd, b"/t/sub"), Err(Errno::EPERM));
    assert_eq!(
        context.rename(
            At::Cwd,
            b"/t/counter",
            At::Cwd,
            b"/t/other",
            RenameFlags::empty()
        ),
        Err(Errno::EPERM)
    );
    assert_eq!(
        context.link(At::Cwd, b"/t/counter", At::Cwd, b"/t/other", false),
        Err(Errno::EPERM)
    );
    assert_eq!(
        context.chmod(At::Cwd, b"/t/counter", 0o666),
        Err(Errno::EPERM)
    );
}

#[test]
fn unknown_names_are_enoent_and_names_under_files_enotdir() {
    let context = plain();
    assert_eq!(
        context.stat(At::Cwd, b"/t/missing", true),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        context.stat(At::Cwd, b"/t/counter/x", true),
        Err(Errno::ENOTDIR)
    );
}

#[test]
fn writing_a_file_without_writer_fails_with_the_filesystem_rule() {
    // proc: the open succeeds (root), O_TRUNC is accepted, the write is EIO (`pde_write`).
    let context = plain();
    let file = context
        .open(
            At::Cwd,
            b"/t/counter",
            OpenFlags::WRONLY | OpenFlags::TRUNC,
            0,
        )
        .unwrap();
    assert_eq!(file.write(b"x"), Err(Errno::EIO));
    // kernfs: opening a read-only attribute for writing is EACCES, even for root.
    let sysfs_like = Rules {
        refuse_write_open: Some(Errno::EACCES),
        ..proc_like_rules()
    };
    let context = sample(sysfs_like, Arc::new(Mutex::new(Vec::new())));
    assert_eq!(
        context
            .open(At::Cwd, b"/t/counter", OpenFlags::RDWR, 0)
            .err(),
        Some(Errno::EACCES)
    );
    assert!(read_file(&context, "/t/counter").is_ok());
}

#[test]
fn a_file_with_a_writer_takes_writes() {
    let written = Arc::new(Mutex::new(Vec::new()));
    let sink = written.clone();
    let node = Node::constant(2, 0o644, "").accepting_writes(move |_, data| {
        sink.lock().extend_from_slice(data);
        Ok(data.len())
    });
    let fs = SyntheticFs::new(
        proc_like_rules(),
        Node::directory(1, 0o555, FixedDir::new().with("knob", node)),
        String::new(),
        1,
        crate::fs::testing::clock(),
    );
    let context = mounted_at("/t", fs, MountFlags::empty());
    let file = context
        .open(At::Cwd, b"/t/knob", OpenFlags::WRONLY, 0)
        .unwrap();
    assert_eq!(file.write(b"on\n"), Ok(3));
    assert_eq!(&written.lock()[..], b"on\n");
}

#[test]
fn statfs_reports_the_magic_and_a_page_block_size_like_simple_statfs() {
    let context = plain();
    let stats = context.statfs(At::Cwd, b"/t/sub").unwrap();
    assert_eq!(
        (
            stats.fs_type,
            stats.block_size,
            stats.blocks,
            stats.name_max
        ),
        (fs_magic::PROC_SUPER_MAGIC, 4096, 0, 255)
    );
}

#[test]
fn reading_past_the_end_returns_nothing() {
    let context = plain();
    let file = context
        .open(At::Cwd, b"/t/sub/leaf", OpenFlags::empty(), 0)
        .unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(file.read_at(3, &mut buf), Ok(2));
    assert_eq!(file.read_at(5, &mut buf), Ok(0));
    assert_eq!(file.read_at(u64::MAX, &mut buf), Ok(0));
}
