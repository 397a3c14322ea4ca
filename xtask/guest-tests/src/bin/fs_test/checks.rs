//! The checks, each in its own directory. Errno values are Linux's (x86_64).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt, symlink};
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::Check;
use crate::failure::{Context, Failure, expect_eq, expect_errno};

const EEXIST: i32 = 17;
const ENOENT: i32 = 2;
const ENOTDIR: i32 = 20;
const EISDIR: i32 = 21;
const ENOTEMPTY: i32 = 39;
const ENAMETOOLONG: i32 = 36;

pub const ALL: &[(&str, Check)] = &[
    ("create-write-read", create_write_read),
    ("append", append),
    ("metadata", metadata),
    ("permissions", permissions),
    ("read-dir", read_dir),
    ("rename", rename),
    ("hard-link", hard_link),
    ("symlink", symlinks),
    ("remove", remove),
    ("large-file-8MiB", large_file),
    ("seek", seek),
    ("truncate-set-len", truncate),
    ("create-new-eexist", create_new),
    ("not-found", not_found),
    ("not-a-directory", not_a_directory),
    ("create-dir-all", create_dir_all),
    ("copy", copy),
    ("modified-time", modified_time),
    ("canonicalize", canonicalize),
    ("name-length", name_length),
];

fn create_write_read(dir: &Path) -> Result<(), Failure> {
    let path = dir.join("hello.txt");
    let mut file = File::create(&path).op("create", &path)?;
    file.write_all(b"hello, sandbox\n").op("write", &path)?;
    drop(file);
    expect_eq("contents", "hello, sandbox\n".to_owned(), fs::read_to_string(&path).op("read", &path)?)?;
    // fs::write truncates what was there.
    fs::write(&path, "short").op("write", &path)?;
    expect_eq("rewritten contents", b"short".to_vec(), fs::read(&path).op("read", &path)?)
}

fn append(dir: &Path) -> Result<(), Failure> {
    let path = dir.join("log");
    fs::write(&path, "one\n").op("write", &path)?;
    let mut file = OpenOptions::new().append(true).open(&path).op("open append", &path)?;
    file.write_all(b"two\n").op("append", &path)?;
    // O_APPEND writes at the end whatever the offset says.
    file.seek(SeekFrom::Start(0)).op("seek", &path)?;
    file.write_all(b"three\n").op("append", &path)?;
    expect_eq("contents", "one\ntwo\nthree\n".to_owned(), fs::read_to_string(&path).op("read", &path)?)
}

fn metadata(dir: &Path) -> Result<(), Failure> {
    let path = dir.join("data");
    fs::write(&path, [7u8; 1234]).op("write", &path)?;
    let meta = fs::metadata(&path).op("metadata", &path)?;
    expect_eq("len", 1234, meta.len())?;
    expect_eq("is_file", true, meta.is_file())?;
    expect_eq("is_dir", false, meta.is_dir())?;
    expect_eq("nlink", 1, meta.nlink())?;
    expect_eq("file type bits", libc::S_IFREG, meta.mode() & libc::S_IFMT)?;
    let dir_meta = fs::metadata(dir).op("metadata", dir)?;
    expect_eq("dir is_dir", true, dir_meta.is_dir())?;
    expect_eq("dir type bits", libc::S_IFDIR, dir_meta.mode() & libc::S_IFMT)?;
    // fstat on an open file agrees with stat on its path.
    let open_meta = File::open(&path).op("open", &path)?.metadata().op("fstat", &path)?;
    expect_eq("fstat ino", meta.ino(), open_meta.ino())?;
    expect_eq("fstat dev", meta.dev(), open_meta.dev())
}

fn permissions(dir: &Path) -> Result<(), Failure> {
    let path = dir.join("secret");
    fs::write(&path, "x").op("write", &path)?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).op("chmod", &path)?;
    let mode = fs::metadata(&path).op("metadata", &path)?.permissions().mode();
    expect_eq("mode after chmod 640", 0o640, mode & 0o7777)?;
    let mut readonly = fs::metadata(&path).op("metadata", &path)?.permissions();
    readonly.set_readonly(true);
    fs::set_permissions(&path, readonly).op("chmod readonly", &path)?;
    let perms = fs::metadata(&path).op("metadata", &path)?.permissions();
    expect_eq("readonly()", true, perms.readonly())?;
    expect_eq("mode after set_readonly", 0o440, perms.mode() & 0o7777)?;
    // The mode of a new file is the requested one less the umask (022 in both worlds).
    let created = dir.join("created-0777");
    OpenOptions::new().write(true).create_new(true).mode(0o777).open(&created).op("create mode 0777", &created)?;
    expect_eq("new file mode under umask 022", 0o755, fs::metadata(&created).op("metadata", &created)?.mode() & 0o7777)
}

fn read_dir(dir: &Path) -> Result<(), Failure> {
    for name in ["b", "a", "c"] {
        fs::write(dir.join(name), name).op("write", &dir.join(name))?;
    }
    fs::create_dir(dir.join("sub")).op("mkdir", &dir.join("sub"))?;
    symlink("a", dir.join("link")).op("symlink", &dir.join("link"))?;
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).op("read_dir", dir)? {
        let entry = entry.op("read_dir entry", dir)?;
        let kind = entry.file_type().op("file_type", &entry.path())?;
        let kind = if kind.is_dir() { "dir" } else if kind.is_symlink() { "symlink" } else { "file" };
        entries.push((entry.file_name().to_string_lossy().into_owned(), kind));
    }
    entries.sort();
    let expected = [("a", "file"), ("b", "file"), ("c", "file"), ("link", "symlink"), ("sub", "dir")];
    let expected: Vec<(String, &str)> = expected.iter().map(|(name, kind)| ((*name).to_owned(), *kind)).collect();
    expect_eq("entries (no . or ..)", expected, entries)?;
    let empty = fs::read_dir(dir.join("sub")).op("read_dir", &dir.join("sub"))?.count();
    expect_eq("entries of an empty directory", 0, empty)
}

fn rename(dir: &Path) -> Result<(), Failure> {
    let (from, to) = (dir.join("from"), dir.join("to"));
    fs::write(&from, "moved").op("write", &from)?;
    fs::rename(&from, &to).op("rename", &from)?;
    expect_errno("open the old name", &from, ENOENT, File::open(&from))?;
    expect_eq("contents under the new name", "moved".to_owned(), fs::read_to_string(&to).op("read", &to)?)?;
    // Renaming over an existing file replaces it.
    let other = dir.join("other");
    fs::write(&other, "replaced").op("write", &other)?;
    fs::rename(&other, &to).op("rename over", &other)?;
    expect_eq("contents after replacing rename", "replaced".to_owned(), fs::read_to_string(&to).op("read", &to)?)?;
    // A directory moves with its contents.
    let (tree, moved) = (dir.join("tree"), dir.join("moved-tree"));
    fs::create_dir_all(tree.join("inner")).op("mkdir -p", &tree)?;
    fs::write(tree.join("inner/file"), "deep").op("write", &tree)?;
    fs::rename(&tree, &moved).op("rename dir", &tree)?;
    expect_eq("file in a moved directory", "deep".to_owned(), fs::read_to_string(moved.join("inner/file")).op("read", &moved)?)?;
    // A directory cannot replace a non-empty one.
    fs::create_dir(&tree).op("mkdir", &tree)?;
    expect_errno("rename dir over non-empty dir", &tree, ENOTEMPTY, fs::rename(&tree, &moved))
}

fn hard_link(dir: &Path) -> Result<(), Failure> {
    let (original, link) = (dir.join("original"), dir.join("link"));
    fs::write(&original, "shared").op("write", &original)?;
    fs::hard_link(&original, &link).op("link", &link)?;
    let (a, b) = (fs::metadata(&original).op("stat", &original)?, fs::metadata(&link).op("stat", &link)?);
    expect_eq("same inode", a.ino(), b.ino())?;
    expect_eq("nlink after link", 2, b.nlink())?;
    OpenOptions::new().append(true).open(&link).op("open", &link)?.write_all(b" data").op("write", &link)?;
    expect_eq("write through one name, read through the other", "shared data".to_owned(), fs::read_to_string(&original).op("read", &original)?)?;
    fs::remove_file(&original).op("unlink", &original)?;
    expect_eq("nlink after unlinking one name", 1, fs::metadata(&link).op("stat", &link)?.nlink())?;
    expect_errno("link over an existing name", &link, EEXIST, fs::hard_link(&link, &link))?;
    expect_errno("link to a directory", dir, libc::EPERM, fs::hard_link(dir, dir.join("dirlink")))
}

fn symlinks(dir: &Path) -> Result<(), Failure> {
    let (target, link) = (dir.join("target"), dir.join("link"));
    fs::write(&target, "pointed at").op("write", &target)?;
    symlink("target", &link).op("symlink", &link)?;
    expect_eq("read_link", Path::new("target").to_owned(), fs::read_link(&link).op("readlink", &link)?)?;
    let lmeta = fs::symlink_metadata(&link).op("lstat", &link)?;
    expect_eq("lstat is_symlink", true, lmeta.file_type().is_symlink())?;
    expect_eq("lstat size is the target's length", 6, lmeta.len())?;
    let meta = fs::metadata(&link).op("stat", &link)?;
    expect_eq("stat follows the link", true, meta.is_file())?;
    expect_eq("read through the link", "pointed at".to_owned(), fs::read_to_string(&link).op("read", &link)?)?;
    // Dangling: lstat works, stat and open do not.
    let dangling = dir.join("dangling");
    symlink("nowhere", &dangling).op("symlink", &dangling)?;
    fs::symlink_metadata(&dangling).op("lstat dangling", &dangling)?;
    expect_errno("stat dangling", &dangling, ENOENT, fs::metadata(&dangling))?;
    // A link to a directory walks into it; an absolute target works too.
    fs::create_dir(dir.join("real-dir")).op("mkdir", dir)?;
    fs::write(dir.join("real-dir/inside"), "in").op("write", dir)?;
    let dir_link = dir.join("dir-link");
    symlink(dir.join("real-dir"), &dir_link).op("symlink", &dir_link)?;
    expect_eq("read through a directory link", "in".to_owned(), fs::read_to_string(dir_link.join("inside")).op("read", &dir_link)?)?;
    // A loop ends in ELOOP.
    let (x, y) = (dir.join("loop-x"), dir.join("loop-y"));
    symlink("loop-y", &x).op("symlink", &x)?;
    symlink("loop-x", &y).op("symlink", &y)?;
    expect_errno("open a symlink loop", &x, libc::ELOOP, File::open(&x))?;
    expect_errno("symlink over an existing name", &link, EEXIST, symlink("x", &link))?;
    // Removing the link leaves the target.
    fs::remove_file(&link).op("unlink", &link)?;
    expect_eq("target survives", true, target.exists())
}

fn remove(dir: &Path) -> Result<(), Failure> {
    let file = dir.join("file");
    fs::write(&file, "x").op("write", &file)?;
    fs::remove_file(&file).op("unlink", &file)?;
    expect_eq("file gone", false, file.exists())?;
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join("a/b/c")).op("mkdir -p", &tree)?;
    for leaf in ["a/1", "a/b/2", "a/b/c/3"] {
        fs::write(tree.join(leaf), leaf).op("write", &tree.join(leaf))?;
    }
    symlink("/", tree.join("a/root-link")).op("symlink", &tree)?;
    expect_errno("rmdir a non-empty dir", &tree, ENOTEMPTY, fs::remove_dir(&tree))?;
    expect_errno("unlink a directory", &tree, EISDIR, fs::remove_file(&tree))?;
    expect_errno("rmdir a file", &tree.join("a/1"), ENOTDIR, fs::remove_dir(tree.join("a/1")))?;
    fs::remove_dir_all(&tree).op("remove_dir_all", &tree)?;
    expect_eq("tree gone", false, tree.exists())?;
    // remove_dir_all must not follow the symlink to `/`.
    expect_eq("/ survives", true, Path::new("/").is_dir())?;
    expect_eq("directory left empty", 0, fs::read_dir(dir).op("read_dir", dir)?.count())
}

const LARGE_FILE_LEN: usize = 8 << 20;

/// FNV-1a, 64-bit: enough to catch a lost, repeated or zeroed chunk.
fn fnv1a(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3))
}
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Pseudo-random bytes (xorshift64), so no two pages are alike.
fn pattern(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

fn large_file(dir: &Path) -> Result<(), Failure> {
    let path = dir.join("large");
    let bytes = pattern(LARGE_FILE_LEN);
    let expected = fnv1a(FNV_OFFSET, &bytes);
    let mut file = File::create(&path).op("create", &path)?;
    // Odd-sized writes: pages and 9p messages must not need aligned requests.
    for chunk in bytes.chunks(65_537) {
        file.write_all(chunk).op("write", &path)?;
    }
    file.sync_all().op("fsync", &path)?;
    drop(file);
    expect_eq("size", LARGE_FILE_LEN as u64, fs::metadata(&path).op("stat", &path)?.len())?;
    let mut file = File::open(&path).op("open", &path)?;
    let (mut hash, mut total, mut buffer) = (FNV_OFFSET, 0usize, vec![0u8; 40_000]);
    loop {
        let count = file.read(&mut buffer).op("read", &path)?;
        if count == 0 {
            break;
        }
        hash = fnv1a(hash, &buffer[..count]);
        total += count;
    }
    expect_eq("bytes read back", LARGE_FILE_LEN, total)?;
    expect_eq("checksum read back (fnv1a-64)", format!("{expected:016x}"), format!("{hash:016x}"))?;
    fs::remove_file(&path).op("unlink", &path)
}

fn seek(dir: &Path) -> Result<(), Failure> {
    let path = dir.join("seek");
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).op("open", &path)?;
    file.write_all(b"0123456789").op("write", &path)?;
    expect_eq("seek from end", 7, file.seek(SeekFrom::End(-3)).op("seek", &path)?)?;
    let mut three = [0u8; 3];
    file.read_exact(&mut three).op("read", &path)?;
    expect_eq("bytes at end-3", *b"789", three)?;
    expect_eq("seek from current", 5, file.seek(SeekFrom::Current(-5)).op("seek", &path)?)?;
    file.write_all(b"ab").op("write at 5", &path)?;
    // Writing past the end leaves a hole that reads as zeros.
    expect_eq("seek past end", 20, file.seek(SeekFrom::Start(20)).op("seek", &path)?)?;
    file.write_all(b"Z").op("write at 20", &path)?;
    expect_eq("contents", b"01234ab789\0\0\0\0\0\0\0\0\0\0Z".to_vec(), fs::read(&path).op("read", &path)?)?;
    expect_errno("seek before the start", &path, libc::EINVAL, file.seek(SeekFrom::Current(-100)))
}

fn truncate(dir: &Path) -> Result<(), Failure> {
    let path = dir.join("trunc");
    fs::write(&path, "0123456789").op("write", &path)?;
    let file = OpenOptions::new().write(true).open(&path).op("open", &path)?;
    file.set_len(4).op("ftruncate 4", &path)?;
    expect_eq("after shrinking", b"0123".to_vec(), fs::read(&path).op("read", &path)?)?;
    file.set_len(8).op("ftruncate 8", &path)?;
    expect_eq("after growing", b"0123\0\0\0\0".to_vec(), fs::read(&path).op("read", &path)?)?;
    drop(file);
    OpenOptions::new().write(true).truncate(true).open(&path).op("open O_TRUNC", &path)?;
    expect_eq("after O_TRUNC", 0, fs::metadata(&path).op("stat", &path)?.len())?;
    expect_errno("ftruncate of a read-only fd", &path, libc::EINVAL, File::open(&path).op("open", &path)?.set_len(1))
}

fn create_new(dir: &Path) -> Result<(), Failure> {
    let path = dir.join("only-once");
    OpenOptions::new().write(true).create_new(true).open(&path).op("create_new", &path)?;
    expect_errno("create_new an existing file", &path, EEXIST, OpenOptions::new().write(true).create_new(true).open(&path))?;
    let error = OpenOptions::new().write(true).create_new(true).open(&path).err();
    expect_eq("error kind", Some(std::io::ErrorKind::AlreadyExists), error.map(|e| e.kind()))?;
    expect_errno("mkdir an existing name", &path, EEXIST, fs::create_dir(&path))?;
    expect_errno("create_new over a dangling symlink", &path, EEXIST, {
        symlink("missing-target", dir.join("dangling")).op("symlink", dir)?;
        OpenOptions::new().write(true).create_new(true).open(dir.join("dangling"))
    })
}

fn not_found(dir: &Path) -> Result<(), Failure> {
    let missing = dir.join("missing");
    expect_errno("open", &missing, ENOENT, File::open(&missing))?;
    expect_errno("metadata", &missing, ENOENT, fs::metadata(&missing))?;
    expect_errno("remove_file", &missing, ENOENT, fs::remove_file(&missing))?;
    expect_errno("read_dir", &missing, ENOENT, fs::read_dir(&missing))?;
    expect_errno("rename", &missing, ENOENT, fs::rename(&missing, dir.join("elsewhere")))?;
    expect_errno("create in a missing dir", &missing, ENOENT, File::create(missing.join("file")))?;
    let kind = File::open(&missing).err().map(|error| error.kind());
    expect_eq("error kind", Some(std::io::ErrorKind::NotFound), kind)
}

fn not_a_directory(dir: &Path) -> Result<(), Failure> {
    let file = dir.join("plain");
    fs::write(&file, "x").op("write", &file)?;
    expect_errno("open file/child", &file, ENOTDIR, File::open(file.join("child")))?;
    expect_errno("read_dir of a file", &file, ENOTDIR, fs::read_dir(&file))?;
    expect_errno("mkdir under a file", &file, ENOTDIR, fs::create_dir(file.join("d")))?;
    // Reading a directory as a file.
    let mut handle = File::open(dir).op("open dir", dir)?;
    expect_errno("read a directory", dir, EISDIR, handle.read(&mut [0u8; 8]))?;
    expect_errno("open a directory for writing", dir, EISDIR, OpenOptions::new().write(true).open(dir))
}

fn create_dir_all(dir: &Path) -> Result<(), Failure> {
    let deep = dir.join("a/b/c/d/e");
    fs::create_dir_all(&deep).op("create_dir_all", &deep)?;
    expect_eq("deep dir exists", true, deep.is_dir())?;
    // Again: already there is fine.
    fs::create_dir_all(&deep).op("create_dir_all again", &deep)?;
    expect_errno("create_dir an existing dir", &deep, EEXIST, fs::create_dir(&deep))?;
    expect_eq("nlink of a dir with one subdir (2 + 1)", 3, fs::metadata(dir.join("a/b")).op("stat", dir)?.nlink())
}

fn copy(dir: &Path) -> Result<(), Failure> {
    let (from, to) = (dir.join("from"), dir.join("to"));
    let bytes = pattern(300_000);
    fs::write(&from, &bytes).op("write", &from)?;
    fs::set_permissions(&from, fs::Permissions::from_mode(0o600)).op("chmod", &from)?;
    let copied = fs::copy(&from, &to).op("copy", &from)?;
    expect_eq("bytes copied", bytes.len() as u64, copied)?;
    expect_eq("copy's contents", true, fs::read(&to).op("read", &to)? == bytes)?;
    expect_eq("copy keeps the mode", 0o600, fs::metadata(&to).op("stat", &to)?.mode() & 0o7777)
}

fn modified_time(dir: &Path) -> Result<(), Failure> {
    let path = dir.join("stamped");
    let file = File::create(&path).op("create", &path)?;
    let stamp = SystemTime::UNIX_EPOCH + Duration::new(1_500_000_000, 123_456_789);
    file.set_modified(stamp).op("futimens", &path)?;
    expect_eq("mtime", stamp, fs::metadata(&path).op("stat", &path)?.modified().op("modified", &path)?)?;
    let accessed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    file.set_times(fs::FileTimes::new().set_accessed(accessed)).op("futimens atime", &path)?;
    let meta = fs::metadata(&path).op("stat", &path)?;
    expect_eq("atime", accessed, meta.accessed().op("accessed", &path)?)?;
    expect_eq("mtime kept when only atime is set", stamp, meta.modified().op("modified", &path)?)
}

fn canonicalize(dir: &Path) -> Result<(), Failure> {
    fs::create_dir_all(dir.join("real/inner")).op("mkdir -p", dir)?;
    symlink("real", dir.join("alias")).op("symlink", dir)?;
    let real_dir = fs::canonicalize(dir).op("realpath", dir)?;
    let through = fs::canonicalize(dir.join("alias/./inner/../inner")).op("realpath", dir)?;
    expect_eq("realpath through a link, . and ..", real_dir.join("real/inner"), through)?;
    expect_errno("realpath of a missing path", dir, ENOENT, fs::canonicalize(dir.join("nope")))
}

fn name_length(dir: &Path) -> Result<(), Failure> {
    let longest = dir.join("n".repeat(255));
    fs::write(&longest, "x").op("create a 255-byte name", dir)?;
    expect_errno("create a 256-byte name", dir, ENAMETOOLONG, File::create(dir.join("n".repeat(256))))?;
    // A UTF-8 name round-trips through read_dir byte for byte.
    let unicode = dir.join("grüße-✓");
    fs::write(&unicode, "").op("create a UTF-8 name", dir)?;
    let found = fs::read_dir(dir).op("read_dir", dir)?.filter_map(Result::ok).any(|entry| entry.file_name() == "grüße-✓");
    expect_eq("UTF-8 name listed", true, found)
}
