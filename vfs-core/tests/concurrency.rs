//! Many threads changing one tree at once: no deadlock (a watchdog fails the test), no
//! panic, and afterwards the tree is consistent: every directory's link count is 2 plus
//! its subdirectories, every file's link count is the number of names it has.
mod common;

use common::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;
use vfs_core::overlay::OverlayFs;
use vfs_core::*;

const DIRS: &[&str] = &["/x", "/y", "/x/z"];
const NAMES: &[&str] = &["a", "b", "c", "d"];

/// A tiny deterministic generator, so each thread's sequence is reproducible.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound
    }
}

fn random_path(rng: &mut Lcg) -> String {
    format!(
        "{}/{}",
        DIRS[rng.next(DIRS.len())],
        NAMES[rng.next(NAMES.len())]
    )
}

fn churn(ctx: FsContext, seed: u64, rounds: usize) {
    let mut rng = Lcg(seed);
    for _ in 0..rounds {
        let (a, b) = (random_path(&mut rng), random_path(&mut rng));
        let flags = [
            RenameFlags::empty(),
            RenameFlags::NOREPLACE,
            RenameFlags::EXCHANGE,
        ][rng.next(3)];
        // Errors are expected (names come and go under us); only panics and hangs fail.
        let _ = match rng.next(8) {
            0 => ctx.mkdir(At::Cwd, a.as_bytes(), 0o755),
            1 => ctx.rmdir(At::Cwd, a.as_bytes()),
            2 => ctx
                .open(
                    At::Cwd,
                    a.as_bytes(),
                    OpenFlags::CREAT | OpenFlags::WRONLY,
                    0o644,
                )
                .and_then(|f| f.write(b"data").map(drop)),
            3 => ctx.unlink(At::Cwd, a.as_bytes()),
            4 | 5 => ctx.rename(At::Cwd, a.as_bytes(), At::Cwd, b.as_bytes(), flags),
            6 => ctx.link(At::Cwd, a.as_bytes(), At::Cwd, b.as_bytes(), false),
            _ => ctx.stat(At::Cwd, a.as_bytes(), false).map(drop),
        };
    }
}

fn run_threads(ctx: &FsContext, threads: u64, rounds: usize) {
    for dir in DIRS {
        ctx.mkdir(At::Cwd, dir.as_bytes(), 0o755).unwrap();
    }
    let (done, finished) = mpsc::channel();
    for seed in 0..threads {
        let (ctx, done) = (ctx.clone(), done.clone());
        std::thread::spawn(move || {
            churn(ctx, seed + 1, rounds);
            done.send(()).unwrap();
        });
    }
    for _ in 0..threads {
        finished
            .recv_timeout(Duration::from_secs(60))
            .expect("a thread hung or panicked: deadlock?");
    }
}

/// Walks the tree checking link counts against what the listings show.
fn check_consistent(ctx: &FsContext, merged_dirs_report_one: bool) {
    let mut names_per_ino: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut pending = vec![String::from("/")];
    while let Some(dir) = pending.pop() {
        let mut subdirs = 0;
        for name in list_dir(ctx, &dir)
            .into_iter()
            .filter(|name| name != "." && name != "..")
        {
            let path = format!("{}/{}", dir.trim_end_matches('/'), name);
            let stat = ctx.stat(At::Cwd, path.as_bytes(), false).unwrap();
            if stat.is_dir() {
                subdirs += 1;
                pending.push(path);
            } else {
                names_per_ino.entry(stat.ino).or_insert((stat.nlink, 0)).1 += 1;
            }
        }
        let nlink = ctx.stat(At::Cwd, dir.as_bytes(), false).unwrap().nlink;
        assert!(
            nlink == 2 + subdirs || (merged_dirs_report_one && nlink == 1),
            "{dir}: nlink {nlink}, {subdirs} subdirectories"
        );
    }
    for (ino, (nlink, names)) in names_per_ino {
        assert_eq!(nlink, names, "inode {ino}: nlink {nlink} but {names} names");
    }
}

#[test]
fn tmpfs_survives_concurrent_changes_and_stays_consistent() {
    let w = world();
    run_threads(&w.ctx, 4, 4000);
    check_consistent(&w.ctx, false);
}

#[test]
fn overlay_survives_concurrent_changes_and_stays_consistent() {
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let lower = tmpfs(&clock, 2, "mode=755");
    let lower_ctx = FsContext::new(
        MountNamespace::new(lower.clone(), "l", MountFlags::empty(), clock.clone()),
        Credentials::root(),
    );
    lower_ctx.mkdir(At::Cwd, b"/x", 0o755).unwrap();
    write_file(&lower_ctx, "/x/a", b"lower");
    let overlay =
        OverlayFs::new(tmpfs(&clock, 3, "mode=755"), vec![lower], 4, String::new()).unwrap();
    let ctx = FsContext::new(
        MountNamespace::new(overlay, "overlay", MountFlags::empty(), clock),
        Credentials::root(),
    );
    // /x exists in the lower: the helper's mkdir of it fails, so make the others here.
    ctx.mkdir(At::Cwd, b"/y", 0o755).unwrap();
    ctx.mkdir(At::Cwd, b"/x/z", 0o755).unwrap();
    let (done, finished) = mpsc::channel();
    for seed in 0..4 {
        let (ctx, done) = (ctx.clone(), done.clone());
        std::thread::spawn(move || {
            churn(ctx, seed + 10, 3000);
            done.send(()).unwrap();
        });
    }
    for _ in 0..4 {
        finished
            .recv_timeout(Duration::from_secs(60))
            .expect("a thread hung or panicked: deadlock?");
    }
    check_consistent(&ctx, true);
    assert_eq!(
        read_file(&lower_ctx, "/x/a"),
        b"lower",
        "the lower is never written"
    );
}
