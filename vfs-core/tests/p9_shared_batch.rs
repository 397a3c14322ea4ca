//! Shared mounts, readdir-then-stat (`ls -l`, `du`): the `lstat` of each name a directory
//! read returned is answered from batches fetched with requests outstanding together, so
//! the waits are a small fraction of the names; answers match the host's; and the
//! coherence rule of `p9/batch.rs` holds: a batched answer is given once, and never after
//! a change went over the connection or (with a clock) once it is 100 ms old.

mod common;
mod p9_harness;

use std::fs;
use std::sync::Arc;

use p9_harness::Fixture;
use vfs_core::file::{OpenFile, OpenFlags};
use vfs_core::inode::CachePolicy;
use vfs_core::time::{ClockRef, ManualClock, Timespec};
use vfs_core::vfs::{At, FsContext};

/// `count` files in `dir` (made), file `i` holding `i % 7` bytes.
fn populate(fixture: &Fixture, dir: &str, count: usize) {
    fs::create_dir_all(fixture.host(dir)).unwrap();
    for i in 0..count {
        fs::write(fixture.host(&format!("{dir}/f{i}")), vec![b'x'; i % 7]).unwrap();
    }
}

/// What `du` does in the working directory: a page of at most `page` names at a time,
/// each `lstat`ed (relative to the directory) before the next page is read. Checks
/// every answer against the host and returns the names seen.
fn read_and_stat(fixture: &Fixture, ctx: &FsContext, dir: &str, page: usize) -> Vec<String> {
    let handle = ctx
        .open(At::Cwd, b".", OpenFlags::RDONLY | OpenFlags::DIRECTORY, 0)
        .unwrap();
    let mut seen = Vec::new();
    loop {
        let mut names = Vec::new();
        handle
            .read_dir(&mut |entry| {
                if names.len() == page {
                    return false;
                }
                names.push(String::from_utf8_lossy(entry.name).into_owned());
                true
            })
            .unwrap();
        if names.is_empty() {
            return seen;
        }
        for name in names.into_iter().filter(|name| name != "." && name != "..") {
            let ours = ctx.stat(At::Cwd, name.as_bytes(), false).unwrap();
            fixture.assert_matches_host(&ours, &format!("{dir}/{name}"));
            seen.push(name);
        }
    }
}

/// Back to the root, cached names dropped (they hold their parents), fids checked.
fn tear_down(fixture: Fixture, mut ctx: FsContext) {
    ctx.chdir(At::Cwd, b"/").unwrap();
    ctx.ns.root().dentry.prune();
    drop(ctx);
    fixture.finish();
}

/// A context in `/d`, the directory open, and its names from one read.
fn read_d(fixture: &Fixture) -> (FsContext, Arc<OpenFile>, Vec<Vec<u8>>) {
    let mut ctx = fixture.context();
    ctx.chdir(At::Cwd, b"/d").unwrap();
    let handle = ctx
        .open(At::Cwd, b".", OpenFlags::RDONLY | OpenFlags::DIRECTORY, 0)
        .unwrap();
    let mut names = Vec::new();
    handle
        .read_dir(&mut |entry| {
            if entry.name != b"." && entry.name != b".." {
                names.push(entry.name.to_vec());
            }
            true
        })
        .unwrap();
    (ctx, handle, names)
}

fn waits(fixture: &Fixture) -> u64 {
    fixture.fs.client().stats().submissions
}

#[test]
fn a_read_then_stat_of_every_name_waits_a_few_times_per_batch() {
    let fixture = Fixture::new(CachePolicy::Revalidate);
    populate(&fixture, "d", 2000);
    let mut ctx = fixture.context();
    ctx.chdir(At::Cwd, b"/d").unwrap();
    let before = waits(&fixture);
    let mut seen = read_and_stat(&fixture, &ctx, "d", 500);
    let waited = waits(&fixture) - before;
    seen.sort();
    let mut expected: Vec<String> = (0..2000).map(|i| format!("f{i}")).collect();
    expected.sort();
    assert_eq!(seen, expected);
    println!("shared read-then-stat: {waited} waits for 2,000 lstats");
    // One walk, getattr and clunk after another would be 3 waits a name (6,000).
    assert!(waited * 10 < 2000, "{waited} waits for 2,000 lstats");
    tear_down(fixture, ctx);
}

#[test]
fn a_batched_answer_goes_stale_with_any_change_and_serves_once() {
    let fixture = Fixture::new(CachePolicy::Revalidate);
    populate(&fixture, "d", 10);
    let (ctx, handle, names) = read_d(&fixture);
    let requests = || fixture.fs.client().stats().requests;
    let host_grow = |name: &[u8]| {
        let path = fixture.host(&format!("d/{}", String::from_utf8_lossy(name)));
        fs::write(path, vec![0; 100]).unwrap();
    };
    // The first lstat fetches the batch for the names after it too.
    ctx.stat(At::Cwd, &names[0], false).unwrap();
    // A read elsewhere on the mount (a request, no change) leaves it fresh: the next
    // name is answered from it.
    ctx.stat(At::Cwd, b"/", false).unwrap();
    let before = requests();
    ctx.stat(At::Cwd, &names[1], false).unwrap();
    assert_eq!(requests(), before, "answered from the batch");
    // The host grows two batched files and the container changes something on the
    // mount: neither batched answer may be used.
    host_grow(&names[2]);
    host_grow(&names[3]);
    ctx.open(
        At::Cwd,
        b"/d/made-here",
        OpenFlags::WRONLY | OpenFlags::CREAT,
        0o644,
    )
    .unwrap();
    assert_eq!(ctx.stat(At::Cwd, &names[2], false).unwrap().size, 100);
    assert_eq!(ctx.stat(At::Cwd, &names[3], false).unwrap().size, 100);
    // Served from the fresh batch: no request. A second lookup of the same name asks
    // the server again.
    let before = requests();
    ctx.stat(At::Cwd, &names[4], false).unwrap();
    assert_eq!(requests(), before);
    ctx.stat(At::Cwd, &names[4], false).unwrap();
    assert!(requests() > before);
    drop(handle);
    tear_down(fixture, ctx);
}

#[test]
fn a_batched_answer_older_than_its_lifetime_is_not_used() {
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let clock_ref: ClockRef = clock.clone();
    let fixture = Fixture::with_clock(CachePolicy::Revalidate, &clock_ref);
    populate(&fixture, "d", 10);
    let (ctx, handle, names) = read_d(&fixture);
    ctx.stat(At::Cwd, &names[0], false).unwrap();
    let requests = fixture.fs.client().stats().requests;
    clock.advance_nanos(50_000_000);
    ctx.stat(At::Cwd, &names[1], false).unwrap();
    assert_eq!(
        fixture.fs.client().stats().requests,
        requests,
        "still fresh"
    );
    fs::write(
        fixture.host(&format!("d/{}", String::from_utf8_lossy(&names[2]))),
        vec![0; 100],
    )
    .unwrap();
    clock.advance_nanos(50_000_000);
    assert_eq!(ctx.stat(At::Cwd, &names[2], false).unwrap().size, 100);
    assert!(
        fixture.fs.client().stats().requests > requests,
        "too old: asked again"
    );
    drop(handle);
    tear_down(fixture, ctx);
}

#[test]
fn a_walk_checks_search_permission_with_the_mode_its_lookup_fetched() {
    use std::os::unix::fs::PermissionsExt;
    let fixture = Fixture::new(CachePolicy::Revalidate);
    populate(&fixture, "d", 1);
    let mut ctx = fixture.context();
    ctx.cred = vfs_core::cred::Credentials::user(1000, 1000, &[]);
    assert_eq!(ctx.stat(At::Cwd, b"/d/f0", false).unwrap().size, 0);
    // The host takes search permission away: the next walk through /d looks /d up
    // again, and its check uses what that lookup fetched.
    fs::set_permissions(fixture.host("d"), fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(
        ctx.stat(At::Cwd, b"/d/f0", false).err(),
        Some(vfs_core::errno::Errno::EACCES)
    );
    fs::set_permissions(fixture.host("d"), fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(ctx.stat(At::Cwd, b"/d/f0", false).unwrap().size, 0);
    tear_down(fixture, ctx);
}
