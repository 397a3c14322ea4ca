//! Differential test: random operation sequences on vfs-core's overlay (tmpfs upper
//! over a tmpfs lower) and on the host's overlayfs (`redirect_dir=off,index=off`, the
//! configuration we follow) must give the same results, errno values and merged trees,
//! and neither may change its lower. `#[ignore]`d: it needs root and a host that lets it
//! mount overlayfs; `cargo xtask test` runs it where it can and otherwise reports it
//! skipped. One test per binary: it chroots the whole process while a case runs.
mod common;

use common::oracle::*;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use vfs_core::overlay::OverlayFs;
use vfs_core::tmpfs::TmpfsOptions;
use vfs_core::*;

const OVERLAY_OPTIONS: &str = "redirect_dir=off,index=off,metacopy=off,xino=off";

fn cstring(path: &std::path::Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

fn lower_dir(base: &std::path::Path, index: usize) -> std::path::PathBuf {
    base.join(format!("lower{index}"))
}

/// Mounts an overlay of `base/lower0:…` (topmost first) and `base/upper` on `base/merged`.
fn mount_host_overlay(base: &std::path::Path, lowers: usize) -> std::io::Result<()> {
    for dir in ["upper", "work", "merged"] {
        std::fs::create_dir_all(base.join(dir))?;
    }
    let lowerdir: Vec<String> = (0..lowers)
        .map(|index| lower_dir(base, index).display().to_string())
        .collect();
    for dir in &lowerdir {
        std::fs::create_dir_all(dir)?;
    }
    let data = format!(
        "lowerdir={},upperdir={},workdir={},{OVERLAY_OPTIONS}",
        lowerdir.join(":"),
        base.join("upper").display(),
        base.join("work").display()
    );
    let data = CString::new(data).unwrap();
    let kind = CString::new("overlay").unwrap();
    let ret = unsafe {
        libc::mount(
            kind.as_ptr(),
            cstring(&base.join("merged")).as_ptr(),
            kind.as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn unmount(path: &std::path::Path) {
    unsafe { libc::umount2(cstring(path).as_ptr(), libc::MNT_DETACH) };
}

fn tmpfs_fs(clock: &Arc<ManualClock>, dev: u64) -> Arc<dyn FileSystem> {
    vfs_core::tmpfs::new(
        &TmpfsOptions {
            mode: Some(0o755),
            ..TmpfsOptions::default()
        },
        &vfs_core::tmpfs::TmpfsMemory::unbudgeted(1 << 30),
        dev,
        clock.clone(),
    )
    .unwrap()
}

fn context(fs: Arc<dyn FileSystem>, clock: &Arc<ManualClock>) -> FsContext {
    FsContext::new(
        MountNamespace::new(fs, "x", MountFlags::empty(), clock.clone()),
        Credentials::root(),
    )
}

#[test]
#[ignore = "needs root: mounts tmpfs/overlayfs on the host (cargo xtask test runs it when it can)"]
fn overlay_matches_the_host_overlayfs() {
    // Ignored unless asked for: asked for and impossible is a failure, never a silent pass.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "needs root to mount overlayfs and chroot into it"
    );
    let probe = HostMount::new("tmpfs", "mode=755").expect("cannot mount a host tmpfs");
    mount_host_overlay(probe.dir.path(), 2).expect("cannot mount the host's overlayfs here");
    unmount(&probe.dir.path().join("merged"));
    drop(probe);
    unsafe { libc::umask(0o022) };
    let mut runner = runner(128);
    let tally = std::cell::RefCell::new(std::collections::BTreeMap::<String, u32>::new());
    // One or two lowers, each filled by its own setup sequence (which may leave
    // whiteouts in the top lower, hiding names of the one below).
    let setup = proptest::collection::vec(proptest::collection::vec(setup_op(), 1..25), 1..=2);
    let strategy = (setup, proptest::collection::vec((who(), op()), 1..40));
    let result = runner.run(&strategy, |(setups, ops)| {
        let host = HostMount::new("tmpfs", "mode=755").expect("mount tmpfs");
        let base = host.dir.path().to_path_buf();
        let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
        let mut lowers = Vec::new();
        for (index, setup) in setups.iter().enumerate() {
            std::fs::create_dir_all(lower_dir(&base, index)).unwrap();
            let fs = tmpfs_fs(&clock, 10 + index as u64);
            let ctx = context(fs.clone(), &clock);
            let _chroot = Chroot::enter(&lower_dir(&base, index)).expect("chroot lower");
            for op in setup {
                let ours = run_vfs(&ctx, op);
                let linux = run_host(op);
                proptest::prop_assert_eq!(&ours, &linux, "setup of lower {} {:?}", index, op);
            }
            let before = snapshot_vfs(&ctx);
            proptest::prop_assert_eq!(
                &before,
                &snapshot_host(),
                "lower {} differs after setup",
                index
            );
            lowers.push((fs, ctx, before));
        }
        mount_host_overlay(&base, lowers.len()).expect("mount overlay");
        let overlay = OverlayFs::new(
            tmpfs_fs(&clock, 3),
            lowers.iter().map(|(fs, _, _)| fs.clone()).collect(),
            4,
            String::new(),
        )
        .unwrap();
        let merged = context(overlay, &clock);
        let outcome = (|| {
            let _chroot = Chroot::enter(&base.join("merged")).expect("chroot merged");
            for (index, (who, op)) in ops.iter().enumerate() {
                let ours = run_vfs_as(&merged, *who, op);
                let linux = run_host_as(*who, op);
                proptest::prop_assert_eq!(&ours, &linux, "op #{} {:?} as {:?}", index, op, who);
                *tally.borrow_mut().entry(outcome_kind(&ours)).or_default() += 1;
            }
            proptest::prop_assert_eq!(
                snapshot_vfs(&merged),
                snapshot_host(),
                "merged trees differ"
            );
            Ok(())
        })();
        unmount(&base.join("merged"));
        outcome?;
        for (index, (_, ctx, before)) in lowers.iter().enumerate() {
            proptest::prop_assert_eq!(
                &snapshot_vfs(ctx),
                before,
                "vfs-core wrote to lower {}",
                index
            );
            let _chroot = Chroot::enter(&lower_dir(&base, index)).expect("chroot lower");
            proptest::prop_assert_eq!(
                &snapshot_host(),
                before,
                "the host wrote to lower {}",
                index
            );
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let tally = tally.into_inner();
    println!("outcomes compared: {tally:?}");
    assert!(
        tally.get("ok").copied().unwrap_or(0) > 300,
        "too few successful operations to mean anything"
    );
}
