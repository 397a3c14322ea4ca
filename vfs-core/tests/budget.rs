//! The memory budget across filesystems: every tmpfs (and an overlay's upper) charges the
//! one budget, so together they never pass it; what they hold is given back to the byte
//! when it goes; tmpfs's own limits are Linux's defaults when not given.

mod common;

use std::sync::Arc;

use vfs_core::file::OpenFlags;
use vfs_core::overlay::OverlayFs;
use vfs_core::ramfs::RamFs;
use vfs_core::tmpfs::{TmpfsMemory, TmpfsOptions};
use vfs_core::{
    At, Credentials, Errno, FileSystem, FsContext, ManualClock, MemoryBudget, MountFlags,
    MountNamespace, Timespec,
};

use common::err;

const MIB: u64 = 1 << 20;

struct Machine {
    memory: TmpfsMemory,
    clock: Arc<ManualClock>,
    ctx: FsContext,
}

/// A machine with `total` bytes of RAM and a budget of `budget` bytes: a tmpfs root with
/// `/tmp` (tmpfs) and `/root` (an overlay whose upper is a tmpfs over a ramfs lower), all
/// made with default options, as the kernel makes them.
fn machine(total: u64, budget: u64) -> Machine {
    let memory = TmpfsMemory {
        total,
        budget: MemoryBudget::new(budget),
    };
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let tmpfs = |dev| -> Arc<dyn FileSystem> {
        vfs_core::tmpfs::new(&TmpfsOptions::default(), &memory, dev, clock.clone()).unwrap()
    };
    let ns = MountNamespace::with_budget(
        tmpfs(1),
        "rootfs",
        MountFlags::empty(),
        clock.clone(),
        memory.budget.clone(),
    );
    let ctx = FsContext::new(ns, Credentials::root());
    ctx.mkdir(At::Cwd, b"/tmp", 0o1777).unwrap();
    ctx.mount(At::Cwd, b"/tmp", tmpfs(2), "tmpfs", MountFlags::empty())
        .unwrap();
    let lower: Arc<dyn FileSystem> = RamFs::new_default(3, clock.clone());
    let overlay = OverlayFs::new(tmpfs(4), vec![lower], 5, String::new()).unwrap();
    ctx.mkdir(At::Cwd, b"/root", 0o700).unwrap();
    ctx.mount(At::Cwd, b"/root", overlay, "overlay", MountFlags::empty())
        .unwrap();
    Machine { memory, clock, ctx }
}

/// Writes `path` in 64 KiB chunks until the filesystem refuses; the bytes written and the
/// error that stopped it.
fn fill(ctx: &FsContext, path: &str) -> (u64, Errno) {
    let file = ctx
        .open(
            At::Cwd,
            path.as_bytes(),
            OpenFlags::WRONLY | OpenFlags::CREAT,
            0o644,
        )
        .unwrap();
    let chunk = vec![0x5a; 64 << 10];
    let mut written = 0;
    loop {
        match file.write(&chunk) {
            Ok(n) => written += n as u64,
            Err(errno) => return (written, errno),
        }
    }
}

#[test]
fn two_tmpfs_mounts_together_stop_at_the_budget_not_at_twice_half_of_ram() {
    // 64 MiB of RAM: each tmpfs alone may hold 32 MiB, the budget only 40 MiB in all.
    let m = machine(64 * MIB, 40 * MIB);
    let (in_tmp, why) = fill(&m.ctx, "/tmp/fill");
    assert_eq!(why, Errno::ENOSPC);
    assert!(
        (31 * MIB..=32 * MIB).contains(&in_tmp),
        "/tmp stops at its own half of RAM: {in_tmp}"
    );
    let (in_root, why) = fill(&m.ctx, "/root/fill");
    assert_eq!(why, Errno::ENOSPC, "the overlay root meets the budget");
    assert!(
        in_root < 9 * MIB,
        "the overlay got only what the budget had left: {in_root}"
    );
    assert!(m.memory.budget.used() <= m.memory.budget.limit());
    // Room comes back as soon as the data goes.
    m.ctx.unlink(At::Cwd, b"/tmp/fill").unwrap();
    let (again, _) = fill(&m.ctx, "/root/more");
    assert!(again > 20 * MIB, "freed space is usable again: {again}");
}

#[test]
fn everything_charged_is_given_back() {
    let m = machine(256 * MIB, 128 * MIB);
    let baseline = m.memory.budget.used();
    for dir in ["/tmp", "/root"] {
        for i in 0..200 {
            let path = format!("{dir}/d{i}");
            m.ctx.mkdir(At::Cwd, path.as_bytes(), 0o755).unwrap();
            common::write_file(&m.ctx, &format!("{path}/f"), &vec![1; 10_000]);
            m.ctx
                .symlink(&[b'x'; 200], At::Cwd, format!("{path}/l").as_bytes())
                .unwrap();
            m.ctx
                .rename(
                    At::Cwd,
                    format!("{path}/f").as_bytes(),
                    At::Cwd,
                    format!("{path}/a-much-longer-name-than-before").as_bytes(),
                    vfs_core::RenameFlags::empty(),
                )
                .unwrap();
        }
    }
    assert!(m.memory.budget.used() > baseline + 400 * 12_288);
    for dir in ["/tmp", "/root"] {
        for i in 0..200 {
            let path = format!("{dir}/d{i}");
            m.ctx
                .unlink(
                    At::Cwd,
                    format!("{path}/a-much-longer-name-than-before").as_bytes(),
                )
                .unwrap();
            m.ctx
                .unlink(At::Cwd, format!("{path}/l").as_bytes())
                .unwrap();
            m.ctx.rmdir(At::Cwd, path.as_bytes()).unwrap();
        }
    }
    // The overlay keeps whiteouts of nothing and its upper keeps nothing: with the cached
    // names pruned, every byte is back.
    m.ctx.ns.prune_dentries();
    assert_eq!(m.memory.budget.used(), baseline);
}

#[test]
fn tmpfs_defaults_are_linux_s_half_of_ram_and_its_pages_in_inodes() {
    // 16 MiB of RAM: 2,048 pages of data and 2,048 inodes (the root is one).
    let m = machine(16 * MIB, 64 * MIB);
    let statfs = m.ctx.statfs(At::Cwd, b"/tmp").unwrap();
    assert_eq!((statfs.blocks, statfs.files), (2048, 2048));
    let mounts = String::from_utf8(m.ctx.ns.proc_mounts(&m.ctx.root).unwrap()).unwrap();
    assert!(
        mounts.contains("tmpfs /tmp tmpfs rw,relatime 0 0"),
        "defaults are not shown, as on Linux: {mounts}"
    );
    let mut made = 0;
    let stopped = loop {
        let name = format!("/tmp/{made:0>200}");
        match m.ctx.open(
            At::Cwd,
            name.as_bytes(),
            OpenFlags::CREAT | OpenFlags::WRONLY,
            0o644,
        ) {
            Ok(_) => made += 1,
            Err(errno) => break errno,
        }
    };
    assert_eq!((made, stopped), (2047, Errno::ENOSPC));
    assert_eq!(m.ctx.statfs(At::Cwd, b"/tmp").unwrap().files_free, 0);
}

#[test]
fn limits_given_as_zero_are_off_and_shown() {
    let m = machine(16 * MIB, 64 * MIB);
    let unlimited = vfs_core::tmpfs::new(
        &TmpfsOptions::parse("size=0,nr_inodes=0").unwrap(),
        &m.memory,
        9,
        m.clock.clone(),
    )
    .unwrap();
    m.ctx.mkdir(At::Cwd, b"/u", 0o755).unwrap();
    m.ctx
        .mount(At::Cwd, b"/u", unlimited, "x", MountFlags::empty())
        .unwrap();
    let mounts = String::from_utf8(m.ctx.ns.proc_mounts(&m.ctx.root).unwrap()).unwrap();
    assert!(
        mounts.contains("x /u tmpfs rw,relatime,size=0k,nr_inodes=0 0 0"),
        "{mounts}"
    );
    // No limit of its own: the budget is what stops it.
    let (written, why) = fill(&m.ctx, "/u/fill");
    assert_eq!(why, Errno::ENOSPC);
    assert!(written > 40 * MIB && m.memory.budget.used() <= 64 * MIB);
}

#[test]
fn a_lookup_the_budget_refuses_is_enomem_and_pruning_makes_room() {
    let m = machine(64 * MIB, 64 * MIB);
    let mut held = Vec::new();
    for i in 0..50 {
        let path = format!("/tmp/{i}");
        m.ctx.mkdir(At::Cwd, path.as_bytes(), 0o755).unwrap();
        held.push(
            m.ctx
                .open(
                    At::Cwd,
                    path.as_bytes(),
                    OpenFlags::RDONLY | OpenFlags::DIRECTORY,
                    0,
                )
                .unwrap(),
        );
    }
    // Take what is left of the budget, leaving less than one cached name.
    let rest = m.memory.budget.available();
    let hog = m.memory.budget.charge(rest - 100).unwrap();
    // A name not cached yet cannot be cached while every cached name is in use: ENOMEM,
    // as Linux's d_alloc failing.
    assert_eq!(
        err(m.ctx.stat(At::Cwd, b"/tmp/nothing-here", true)),
        Errno::ENOMEM
    );
    // Once they are unused, the refused lookup drops them (Linux's dcache shrinker)
    // and goes on.
    drop(held);
    assert_eq!(
        err(m.ctx.stat(At::Cwd, b"/tmp/nothing-here", true)),
        Errno::ENOENT
    );
    assert!(m.memory.budget.available() > 40 * vfs_core::dentry::DENTRY_COST);
    // And pruning by hand gives back the charge of what is cached and unused.
    let available = m.memory.budget.available();
    m.ctx.ns.prune_dentries();
    assert!(m.memory.budget.available() > available);
    drop(hog);
}

#[test]
fn extended_attributes_are_charged() {
    let m = machine(64 * MIB, 2 * MIB);
    common::write_file(&m.ctx, "/tmp/x", b"");
    let location = m.ctx.resolve(At::Cwd, b"/tmp/x", true).unwrap();
    let inode = location.dentry.positive().unwrap().clone();
    let value = vec![7u8; 65536];
    let mut set = 0;
    let why = loop {
        match inode.set_xattr(format!("user.{set}").as_bytes(), &value, 0) {
            Ok(()) => set += 1,
            Err(errno) => break errno,
        }
    };
    assert_eq!(why, Errno::ENOSPC);
    assert!(
        (20..32).contains(&set),
        "{set} values of 64 KiB in a 2 MiB budget"
    );
    let before = m.memory.budget.used();
    inode.remove_xattr(b"user.0").unwrap();
    assert!(before - m.memory.budget.used() >= 65536);
}

#[test]
fn mount_listings_are_charged_and_refused_with_enomem_past_the_budget() {
    // Deep mount points whose listing would take more than what is left of the budget.
    let m = machine(16 * MIB, 4 * MIB);
    let mut path = String::from("/tmp");
    for level in 0..15 {
        path.push('/');
        path.push_str(&format!("{level:0>250}"));
        m.ctx.mkdir(At::Cwd, path.as_bytes(), 0o755).unwrap();
    }
    let mut mounted = 0;
    while mounted < 2000 {
        let point = format!("{path}/{mounted:0>50}");
        let made = m
            .ctx
            .mkdir(At::Cwd, point.as_bytes(), 0o755)
            .and_then(|()| {
                let fs = RamFs::new_default(100 + mounted, m.clock.clone());
                m.ctx
                    .mount(At::Cwd, point.as_bytes(), fs, "m", MountFlags::empty())
                    .map(|_| ())
            });
        if made.is_err() {
            break;
        }
        mounted += 1;
    }
    assert!(mounted > 200, "{mounted} mounts made");
    // Each line holds a 3.8 KiB path: what is left of the budget cannot hold them all.
    let left = m.memory.budget.available();
    assert!(mounted * 3800 > left, "{mounted} mounts, {left} bytes left");
    assert_eq!(m.ctx.ns.proc_mounts(&m.ctx.root), Err(Errno::ENOMEM));
    assert_eq!(m.ctx.ns.proc_mountinfo(&m.ctx.root), Err(Errno::ENOMEM));
    assert_eq!(
        m.memory.budget.available(),
        left,
        "a refused listing keeps nothing"
    );
    // With room for it, the same listing is whole.
    m.memory.budget.set_limit(64 * MIB);
    let text = m.ctx.ns.proc_mounts(&m.ctx.root).unwrap();
    assert_eq!(
        text.split(|&byte| byte == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
        mounted as usize + 3
    );
}
