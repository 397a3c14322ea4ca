//! Helpers shared by the integration tests: a namespace over a fresh tmpfs and a root
//! context in it, with a manual clock.
#![allow(dead_code)]

pub mod oracle;

use std::sync::Arc;
use vfs_core::tmpfs::TmpfsOptions;
use vfs_core::*;

pub struct World {
    pub clock: Arc<ManualClock>,
    pub ns: Arc<MountNamespace>,
    pub ctx: FsContext,
}

pub fn world() -> World {
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let fs = vfs_core::tmpfs::new(
        &TmpfsOptions {
            mode: Some(0o755),
            ..TmpfsOptions::default()
        },
        &vfs_core::tmpfs::TmpfsMemory::unbudgeted(1 << 30),
        1,
        clock.clone(),
    )
    .unwrap();
    let ns = MountNamespace::new(fs, "rootfs", MountFlags::empty(), clock.clone());
    let ctx = FsContext::new(ns.clone(), Credentials::root());
    World { clock, ns, ctx }
}

impl World {
    /// `mkdir PATH` in the root, then a fresh tmpfs (device 2, tmpfs `options`) mounted on
    /// it, its `/proc/self/mounts` source `source`: the start of most mount tests.
    pub fn mount_tmpfs_at(&self, path: &str, source: &str, options: &str) {
        self.ctx.mkdir(At::Cwd, path.as_bytes(), 0o755).unwrap();
        self.ctx
            .mount(
                At::Cwd,
                path.as_bytes(),
                tmpfs(&self.clock, 2, options),
                source,
                MountFlags::empty(),
            )
            .unwrap();
    }
}

pub fn tmpfs(clock: &Arc<ManualClock>, dev: u64, options: &str) -> Arc<dyn FileSystem> {
    vfs_core::tmpfs::new(
        &TmpfsOptions::parse(options).unwrap(),
        &vfs_core::tmpfs::TmpfsMemory::unbudgeted(1 << 30),
        dev,
        clock.clone(),
    )
    .unwrap()
}

pub fn user(ctx: &FsContext, uid: u32, gid: u32, groups: &[u32]) -> FsContext {
    let mut user = ctx.clone();
    user.cred = Credentials::user(uid, gid, groups);
    user
}

pub fn write_file(ctx: &FsContext, path: &str, data: &[u8]) {
    let file = ctx
        .open(
            At::Cwd,
            path.as_bytes(),
            OpenFlags::WRONLY | OpenFlags::CREAT | OpenFlags::TRUNC,
            0o644,
        )
        .unwrap();
    assert_eq!(file.write(data).unwrap(), data.len());
}

pub fn read_file(ctx: &FsContext, path: &str) -> Vec<u8> {
    let file = ctx
        .open(At::Cwd, path.as_bytes(), OpenFlags::RDONLY, 0)
        .unwrap();
    let mut data = Vec::new();
    let mut chunk = [0u8; 1000];
    loop {
        let n = file.read(&mut chunk).unwrap();
        if n == 0 {
            return data;
        }
        data.extend_from_slice(&chunk[..n]);
    }
}

/// The names in `path` (with `.` and `..`) in the order the directory read returns them.
pub fn list_dir_in_order(ctx: &FsContext, path: &str) -> Vec<String> {
    let dir = ctx
        .open(
            At::Cwd,
            path.as_bytes(),
            OpenFlags::RDONLY | OpenFlags::DIRECTORY,
            0,
        )
        .unwrap();
    let mut names = Vec::new();
    // A small buffer at a time, as getdents reads: many calls, each going on from the
    // last; an entry refused is handed out again by the next call.
    loop {
        let before = names.len();
        dir.read_dir(&mut |entry| {
            if names.len() - before == 100 {
                return false;
            }
            names.push(String::from_utf8_lossy(entry.name).into_owned());
            true
        })
        .unwrap();
        if names.len() == before {
            break;
        }
    }
    names
}

/// The names in `path` (with `.` and `..`), sorted.
pub fn list_dir(ctx: &FsContext, path: &str) -> Vec<String> {
    let mut names = list_dir_in_order(ctx, path);
    names.sort();
    names
}

pub fn err<T>(result: Result<T>) -> Errno {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(errno) => errno,
    }
}
