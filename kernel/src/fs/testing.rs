//! Test support for the kernel filesystems: a real vfs-core namespace (tmpfs root) to
//! mount them in, and whole-file reads and directory listings through `FsContext`, so the
//! tests see exactly what a system call would.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use vfs_core::attr::make_dev;
use vfs_core::ramfs::RamFs;
use vfs_core::{
    At, ClockRef, Credentials, FileSystem, FileType, FsContext, ManualClock, MountFlags,
    MountNamespace, OpenFlags, Result, Timespec,
};

/// The clock every test filesystem uses: a fixed, recognisable moment.
pub fn clock() -> ClockRef {
    Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)))
}

/// A namespace on an empty tmpfs with `fs` mounted at `mount_point` (made with its
/// parents) under its type name as source, seen by root.
pub fn mounted_at(mount_point: &str, fs: Arc<dyn FileSystem>, flags: MountFlags) -> FsContext {
    let root: Arc<dyn FileSystem> = RamFs::new_default(make_dev(0, 99), clock());
    let context = FsContext::new(
        MountNamespace::new(root, "rootfs", MountFlags::empty(), clock()),
        Credentials::root(),
    );
    let mut path = String::new();
    for component in mount_point
        .split('/')
        .filter(|component| !component.is_empty())
    {
        path.push('/');
        path.push_str(component);
        context.mkdir(At::Cwd, path.as_bytes(), 0o755).unwrap();
    }
    let source = String::from(fs.fs_type());
    context
        .mount(At::Cwd, mount_point.as_bytes(), fs, &source, flags)
        .unwrap();
    context
}

/// `cat PATH`: the whole file, read through an open file in 100-byte pieces so that
/// offsets inside generated contents are exercised.
pub fn read_file(context: &FsContext, path: &str) -> Result<Vec<u8>> {
    let file = context.open(At::Cwd, path.as_bytes(), OpenFlags::empty(), 0)?;
    let mut data = Vec::new();
    let mut piece = [0u8; 100];
    loop {
        let count = file.read(&mut piece)?;
        if count == 0 {
            return Ok(data);
        }
        data.extend_from_slice(&piece[..count]);
    }
}

pub fn read_text(context: &FsContext, path: &str) -> String {
    String::from_utf8(read_file(context, path).unwrap()).unwrap()
}

/// `ls -a PATH` in listing order: names with inode numbers and types.
pub fn list_dir(context: &FsContext, path: &str) -> Vec<(String, u64, FileType)> {
    let dir = context
        .open(At::Cwd, path.as_bytes(), OpenFlags::DIRECTORY, 0)
        .unwrap();
    let mut entries = Vec::new();
    dir.read_dir(&mut |entry| {
        entries.push((
            String::from_utf8_lossy(entry.name).into_owned(),
            entry.ino,
            entry.file_type,
        ));
        true
    })
    .unwrap();
    entries
}

/// Just the names of [`list_dir`].
pub fn names(context: &FsContext, path: &str) -> Vec<String> {
    list_dir(context, path)
        .into_iter()
        .map(|(name, _, _)| name)
        .collect()
}
