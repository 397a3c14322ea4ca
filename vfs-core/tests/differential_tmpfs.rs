//! Differential test: random operation sequences on vfs-core's tmpfs and on a real
//! tmpfs of the host must give the same results, errno values, sizes and trees.
//! `#[ignore]`d: it needs root and a host that lets it mount tmpfs; `cargo xtask test`
//! runs it where it can and otherwise reports it skipped. One test per binary: it chroots
//! the whole process while a case runs.
mod common;

use common::oracle::*;
use std::sync::Arc;
use vfs_core::tmpfs::TmpfsOptions;
use vfs_core::*;

const OPTIONS: &str = "size=48k,nr_inodes=12,mode=755";
/// Small enough that the space phase runs out of pages and inodes all the time.
const SMALL: &str = "size=32k,nr_inodes=6,mode=755";

fn fresh_vfs(options: &str) -> FsContext {
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let fs = vfs_core::tmpfs::new(
        &TmpfsOptions::parse(options).unwrap(),
        &vfs_core::tmpfs::TmpfsMemory::unbudgeted(1 << 30),
        1,
        clock.clone(),
    )
    .unwrap();
    let ns = MountNamespace::new(fs, "tmpfs", MountFlags::empty(), clock);
    FsContext::new(ns, Credentials::root())
}

#[test]
#[ignore = "needs root: mounts tmpfs on the host (cargo xtask test runs it when it can)"]
fn tmpfs_matches_the_host_tmpfs() {
    // Ignored unless asked for: asked for and impossible is a failure, never a silent pass.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "needs root to mount a tmpfs and chroot into it"
    );
    drop(HostMount::new("tmpfs", OPTIONS).expect("cannot mount a host tmpfs"));
    unsafe { libc::umask(0o022) };
    let mut main_runner = runner(256);
    let tally = std::cell::RefCell::new(std::collections::BTreeMap::<String, u32>::new());
    let result = main_runner.run(&proptest::collection::vec((who(), op()), 1..60), |ops| {
        let host = HostMount::new("tmpfs", OPTIONS).expect("mount tmpfs");
        let ctx = fresh_vfs(OPTIONS);
        // A second tmpfs on /m on both sides: renames and links across it, `..` out of
        // it and removing its mount point must fail or work as on Linux.
        std::fs::create_dir(host.dir.path().join("m")).unwrap();
        mount_at("tmpfs", &host.dir.path().join("m"), OPTIONS).expect("mount tmpfs on m");
        ctx.mkdir(At::Cwd, b"/m", 0o755).unwrap();
        let inner = vfs_core::tmpfs::new(
            &TmpfsOptions::parse(OPTIONS).unwrap(),
            &vfs_core::tmpfs::TmpfsMemory::unbudgeted(1 << 30),
            2,
            ctx.ns.clock().clone(),
        )
        .unwrap();
        ctx.mount(At::Cwd, b"/m", inner, "tmpfs", MountFlags::empty())
            .unwrap();
        let chroot = Chroot::enter(host.dir.path()).expect("chroot");
        for (index, (who, op)) in ops.iter().enumerate() {
            let ours = run_vfs_as(&ctx, *who, op);
            let linux = run_host_as(*who, op);
            proptest::prop_assert_eq!(&ours, &linux, "op #{} {:?} as {:?}", index, op, who);
            *tally.borrow_mut().entry(outcome_kind(&ours)).or_default() += 1;
        }
        let ours = snapshot_vfs(&ctx);
        let linux = snapshot_host();
        drop(chroot);
        proptest::prop_assert_eq!(ours, linux, "final trees differ");
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let tally = tally.into_inner();
    println!("outcomes compared: {tally:?}");
    assert!(
        tally.get("ok").copied().unwrap_or(0) > 1000,
        "too few successful operations to mean anything"
    );

    let mut space_runner = runner(128);
    let enospc = std::cell::Cell::new(0u32);
    let result = space_runner.run(&proptest::collection::vec(space_op(), 1..40), |ops| {
        let host = HostMount::new("tmpfs", SMALL).expect("mount tmpfs");
        let ctx = fresh_vfs(SMALL);
        let chroot = Chroot::enter(host.dir.path()).expect("chroot");
        for (index, op) in ops.iter().enumerate() {
            let ours = run_vfs(&ctx, op);
            let linux = run_host(op);
            proptest::prop_assert_eq!(&ours, &linux, "space op #{} {:?}", index, op);
            enospc.set(enospc.get() + u32::from(ours == Outcome::Failed(Errno::ENOSPC.0)));
        }
        let statfs = ctx.statfs(At::Cwd, b"/").unwrap();
        let mut host_statfs: libc::statfs = unsafe { std::mem::zeroed() };
        unsafe { libc::statfs(c"/".as_ptr(), &mut host_statfs) };
        let ours = (
            statfs.blocks,
            statfs.blocks_free,
            statfs.files,
            statfs.files_free,
        );
        let linux = (
            host_statfs.f_blocks,
            host_statfs.f_bfree,
            host_statfs.f_files,
            host_statfs.f_ffree,
        );
        proptest::prop_assert_eq!(ours, linux, "statfs differs");
        let (ours, linux) = (snapshot_vfs(&ctx), snapshot_host());
        drop(chroot);
        proptest::prop_assert_eq!(ours, linux, "final trees differ");
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    println!("ENOSPC outcomes compared: {}", enospc.get());
    assert!(
        enospc.get() > 20,
        "the space phase must actually run out of space"
    );
    limits_match_the_host_defaults();
}

/// Linux's defaults (half of RAM, as many inodes as half of RAM has pages) and how
/// `/proc/self/mounts` shows the limits, against a host tmpfs mounted with each option
/// string: our tmpfs made on a machine of the host's RAM must say the same.
fn limits_match_the_host_defaults() {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kb: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("MemTotal in /proc/meminfo");
    let memory = vfs_core::tmpfs::TmpfsMemory::unbudgeted(total_kb * 1024);
    for options in [
        "",
        "size=0",
        "nr_inodes=0",
        "size=50%",
        "size=1m,nr_inodes=100",
        "mode=700",
    ] {
        let host = HostMount::new("tmpfs", options).expect("mount tmpfs");
        let mut host_statfs: libc::statfs = unsafe { std::mem::zeroed() };
        let path = std::ffi::CString::new(host.dir.path().to_str().unwrap()).unwrap();
        unsafe { libc::statfs(path.as_ptr(), &mut host_statfs) };
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let line = mounts
            .lines()
            .find(|line| line.split(' ').nth(1) == host.dir.path().to_str())
            .expect("the host mount in /proc/self/mounts");
        let linux_options = line
            .split(' ')
            .nth(3)
            .unwrap()
            .trim_start_matches("rw,relatime");
        let clock = Arc::new(ManualClock::new(Timespec::new(0, 0)));
        let ours = vfs_core::tmpfs::new(&TmpfsOptions::parse(options).unwrap(), &memory, 9, clock)
            .unwrap();
        let statfs = ours.statfs().unwrap();
        assert_eq!(
            (statfs.blocks, statfs.files),
            (host_statfs.f_blocks, host_statfs.f_files),
            "limits of a tmpfs mounted with {options:?}"
        );
        let ours_options = ours.mount_options();
        let ours_options = if ours_options.is_empty() {
            String::new()
        } else {
            format!(",{ours_options}")
        };
        assert_eq!(ours_options, linux_options, "mount options of {options:?}");
    }
}
