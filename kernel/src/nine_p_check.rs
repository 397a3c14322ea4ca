//! `test=9p` and `test=9p-bench`: the virtio-9p client end to end against QEMU's server.
//!
//! Expects two shares of the *same* host directory: `rootfs`, mounted with the exclusive
//! cache policy, and `m0`, mounted shared. Each is its own 9p connection, so a change made
//! through one is, to the other, a change made on the host behind its back: that is how
//! the check shows `shared` revalidating and `exclusive` trusting its cache.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use sha2::{Digest, Sha256};
use vfs_core::file::OpenFlags;
use vfs_core::p9::{P9FileSystem, P9MountOptions};
use vfs_core::{
    At, CachePolicy, ClockRef, Credentials, Errno, FileType, FsContext, MountFlags, MountNamespace,
};

use crate::console::print_line;
use crate::devices::Devices;

/// The bytes the guest writes: longer than one 512 KiB message so writes are split.
pub const GUEST_FILE_LEN: usize = (1 << 20) + 7;

pub fn guest_file_byte(index: usize) -> u8 {
    (index * 31 % 251) as u8
}

fn mount(devices: &Devices, tag: &str, policy: CachePolicy) -> Result<FsContext, Errno> {
    let channel = devices.nine_p_by_tag(tag).ok_or(Errno::ENODEV)?.clone();
    let options = P9MountOptions {
        policy,
        ..P9MountOptions::default()
    };
    let fs = P9FileSystem::new(channel, &options, crate::fs::anonymous_dev())?;
    let clock: ClockRef = Arc::new(crate::clock::RealTimeClock);
    let ns = MountNamespace::new(fs, tag, MountFlags::empty(), clock);
    Ok(FsContext::new(ns, Credentials::root()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| alloc::format!("{b:02x}")).collect()
}

fn read_all(context: &FsContext, path: &[u8]) -> Result<Vec<u8>, Errno> {
    let file = context.open(At::Cwd, path, OpenFlags::RDONLY, 0)?;
    let mut data = Vec::new();
    let mut chunk = alloc::vec![0u8; 256 * 1024];
    loop {
        let read = file.read(&mut chunk)?;
        if read == 0 {
            return Ok(data);
        }
        data.extend_from_slice(&chunk[..read]);
    }
}

fn write_all(context: &FsContext, path: &[u8], data: &[u8]) -> Result<(), Errno> {
    let file = context.open(
        At::Cwd,
        path,
        OpenFlags::CREAT | OpenFlags::WRONLY | OpenFlags::TRUNC,
        0o644,
    )?;
    let mut written = 0;
    while written < data.len() {
        written += file.write(&data[written..])?;
    }
    file.inode().fsync()
}

/// Runs the check; returns the exit status.
pub fn check(devices: &Devices) -> u8 {
    match run_check(devices) {
        Ok(()) => {
            print_line(format_args!("9p: ok"));
            0
        }
        Err((what, errno)) => {
            print_line(format_args!("9p: FAILED {what}: {errno:?}"));
            1
        }
    }
}

fn run_check(devices: &Devices) -> Result<(), (&'static str, Errno)> {
    let exclusive = mount(devices, "rootfs", CachePolicy::Exclusive)
        .map_err(|e| ("mount rootfs (exclusive)", e))?;
    let shared =
        mount(devices, "m0", CachePolicy::Revalidate).map_err(|e| ("mount m0 (shared)", e))?;

    let root = exclusive
        .resolve(At::Cwd, b"/", true)
        .map_err(|e| ("resolve /", e))?;
    let mut entries: Vec<(Vec<u8>, FileType)> = Vec::new();
    root.dentry
        .positive()
        .map_err(|e| ("root", e))?
        .readdir(0, &mut |entry| {
            if entry.name != b"." && entry.name != b".." {
                entries.push((entry.name.to_vec(), entry.file_type));
            }
            true
        })
        .map_err(|e| ("readdir /", e))?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, kind) in &entries {
        let stat = exclusive
            .stat(At::Cwd, name, false)
            .map_err(|e| ("stat", e))?;
        let name_text = String::from_utf8_lossy(name);
        print_line(format_args!("9p: entry {name_text} {kind:?} {}", stat.size));
        if *kind == FileType::Regular {
            let data = read_all(&exclusive, name).map_err(|e| ("read", e))?;
            print_line(format_args!(
                "9p: sha256 {name_text} {}",
                hex(&Sha256::digest(&data))
            ));
        }
    }

    let data: Vec<u8> = (0..GUEST_FILE_LEN).map(guest_file_byte).collect();
    write_all(&exclusive, b"guest-wrote.bin", &data).map_err(|e| ("write guest-wrote.bin", e))?;
    let back =
        read_all(&shared, b"guest-wrote.bin").map_err(|e| ("read back guest-wrote.bin", e))?;
    let same = back == data;
    print_line(format_args!(
        "9p: wrote guest-wrote.bin {} bytes sha256 {} read back through m0: {}",
        data.len(),
        hex(&Sha256::digest(&data)),
        if same { "same" } else { "DIFFERENT" }
    ));
    if !same {
        return Err(("read back differs", Errno::EIO));
    }

    // Both mounts look the names up (and the exclusive one caches the misses)…
    for name in [&b"late-from-rootfs.txt"[..], b"late-from-m0.txt"] {
        for context in [&exclusive, &shared] {
            if context.stat(At::Cwd, name, false) != Err(Errno::ENOENT) {
                return Err(("a late file exists before the check", Errno::EEXIST));
            }
        }
    }
    // …then each creates one behind the other's back.
    write_all(
        &exclusive,
        b"late-from-rootfs.txt",
        b"written through rootfs\n",
    )
    .map_err(|e| ("write late-from-rootfs.txt", e))?;
    write_all(&shared, b"late-from-m0.txt", b"written through m0\n")
        .map_err(|e| ("write late-from-m0.txt", e))?;
    let shared_sees = shared.stat(At::Cwd, b"late-from-rootfs.txt", false).is_ok();
    let exclusive_sees = exclusive.stat(At::Cwd, b"late-from-m0.txt", false).is_ok();
    print_line(format_args!(
        "9p: shared mount sees a file created behind its back: {}",
        if shared_sees { "yes" } else { "no" }
    ));
    print_line(format_args!(
        "9p: exclusive mount sees a file created behind its back: {}",
        if exclusive_sees {
            "yes"
        } else {
            "no (cached negative entry)"
        }
    ));
    if !shared_sees {
        return Err((
            "shared mount missed a change behind its back",
            Errno::ESTALE,
        ));
    }
    host_adds_a_file(&exclusive, &shared)
}

/// How long the guest waits for the host to add its file.
const HOST_WAIT_NS: i64 = 30_000_000_000;

/// The host's own change: both mounts look `late-from-host.txt` up (the exclusive one
/// caches the miss), the guest leaves a marker the host test waits for, and the host adds
/// the file; the shared mount must then see it.
fn host_adds_a_file(
    exclusive: &FsContext,
    shared: &FsContext,
) -> Result<(), (&'static str, Errno)> {
    const NAME: &[u8] = b"late-from-host.txt";
    for context in [exclusive, shared] {
        if context.stat(At::Cwd, NAME, false) != Err(Errno::ENOENT) {
            return Err((
                "late-from-host.txt exists before the guest asked for it",
                Errno::EEXIST,
            ));
        }
    }
    write_all(exclusive, b"guest-waits-for-host", b"").map_err(|e| ("write the marker", e))?;
    print_line(format_args!(
        "9p: waiting for the host to add late-from-host.txt"
    ));
    let deadline = crate::clock::monotonic_ns() + HOST_WAIT_NS;
    let shared_sees = loop {
        if shared.stat(At::Cwd, NAME, false).is_ok() {
            break true;
        }
        if crate::clock::monotonic_ns() > deadline {
            break false;
        }
        crate::clock::spin_for(10_000_000);
    };
    let exclusive_sees = exclusive.stat(At::Cwd, NAME, false).is_ok();
    print_line(format_args!(
        "9p: shared mount sees the file the host added: {}",
        if shared_sees { "yes" } else { "no" }
    ));
    print_line(format_args!(
        "9p: exclusive mount sees the file the host added: {}",
        if exclusive_sees {
            "yes"
        } else {
            "no (cached negative entry)"
        }
    ));
    if shared_sees {
        Ok(())
    } else {
        Err(("shared mount missed the host's file", Errno::ESTALE))
    }
}

/// Size of the file `test=9p-bench` streams through 9p.
const BENCH_FILE_BYTES: usize = 256 << 20;
const BENCH_CHUNK: usize = 512 << 10;
const BENCH_LOOKUPS: u32 = 2000;

/// `test=9p-bench`: sequential write and read throughput of a 256 MiB file in 512 KiB
/// requests, then the cost of `stat` and `open`+close of a depth-4 path on the exclusive
/// and the shared mount. Prints `9p-bench: NAME VALUE UNIT` lines; returns the exit status.
pub fn bench(devices: &Devices) -> u8 {
    match run_bench(devices) {
        Ok(()) => 0,
        Err((what, errno)) => {
            print_line(format_args!("9p-bench: FAILED {what}: {errno:?}"));
            1
        }
    }
}

fn mib_per_second(bytes: usize, ns: i64) -> u64 {
    (bytes as u128 * 1_000_000_000 / (1 << 20) / ns.max(1) as u128) as u64
}

fn run_bench(devices: &Devices) -> Result<(), (&'static str, Errno)> {
    use crate::clock::monotonic_ns;
    let exclusive =
        mount(devices, "rootfs", CachePolicy::Exclusive).map_err(|e| ("mount rootfs", e))?;
    let shared = mount(devices, "m0", CachePolicy::Revalidate).map_err(|e| ("mount m0", e))?;

    let chunk: Vec<u8> = (0..BENCH_CHUNK).map(guest_file_byte).collect();
    let file = exclusive
        .open(
            At::Cwd,
            b"bench.bin",
            OpenFlags::CREAT | OpenFlags::RDWR | OpenFlags::TRUNC,
            0o644,
        )
        .map_err(|e| ("create bench.bin", e))?;
    let started = monotonic_ns();
    let mut written = 0;
    while written < BENCH_FILE_BYTES {
        written += file.write(&chunk).map_err(|e| ("write", e))?;
    }
    file.inode().fsync().map_err(|e| ("fsync", e))?;
    let write_ns = monotonic_ns() - started;
    print_line(format_args!(
        "9p-bench: write {} MiB/s",
        mib_per_second(written, write_ns)
    ));

    let mut buffer = alloc::vec![0u8; BENCH_CHUNK];
    let started = monotonic_ns();
    let mut read = 0;
    loop {
        let got = file
            .read_at(read as u64, &mut buffer)
            .map_err(|e| ("read", e))?;
        if got == 0 {
            break;
        }
        read += got;
    }
    let read_ns = monotonic_ns() - started;
    print_line(format_args!(
        "9p-bench: read {} MiB/s",
        mib_per_second(read, read_ns)
    ));
    drop(file);
    exclusive
        .unlink(At::Cwd, b"bench.bin")
        .map_err(|e| ("unlink bench.bin", e))?;

    for dir in [&b"d1"[..], b"d1/d2", b"d1/d2/d3"] {
        match exclusive.mkdir(At::Cwd, dir, 0o755) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(("mkdir", e)),
        }
    }
    write_all(&exclusive, b"d1/d2/d3/leaf", b"leaf\n").map_err(|e| ("write leaf", e))?;
    for (name, context) in [("exclusive", &exclusive), ("shared", &shared)] {
        let started = monotonic_ns();
        for _ in 0..BENCH_LOOKUPS {
            context
                .stat(At::Cwd, b"/d1/d2/d3/leaf", true)
                .map_err(|e| ("stat", e))?;
        }
        let stat_ns = (monotonic_ns() - started) / i64::from(BENCH_LOOKUPS);
        let started = monotonic_ns();
        for _ in 0..BENCH_LOOKUPS {
            drop(
                context
                    .open(At::Cwd, b"/d1/d2/d3/leaf", OpenFlags::RDONLY, 0)
                    .map_err(|e| ("open", e))?,
            );
        }
        let open_ns = (monotonic_ns() - started) / i64::from(BENCH_LOOKUPS);
        print_line(format_args!("9p-bench: stat-{name} {stat_ns} ns"));
        print_line(format_args!("9p-bench: open-{name} {open_ns} ns"));
    }
    Ok(())
}
