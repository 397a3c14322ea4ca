//! Exclusive mounts answer from the guest once a directory has been read: lookups of
//! names it lacks and the directory read itself cost no request, and once a scan of its
//! entries fetched their attributes (in batches), neither do their stats; a
//! change this kernel makes is seen at once; a file the host adds behind an exclusive
//! mount's back is not (the documented rule: `file_access=exclusive` means the sandbox
//! owns the tree). Shared mounts ask the server every time and see it. Listings are
//! charged to the mount's budget and evicted when it is short, without wrong answers.
//! Every test ends with the server holding only the root fid.

mod common;
mod p9_harness;

use std::collections::BTreeMap;
use std::fs;

use p9_harness::Fixture;
use vfs_core::budget::MemoryBudget;
use vfs_core::errno::Errno;
use vfs_core::file::OpenFlags;
use vfs_core::inode::CachePolicy;
use vfs_core::p9::listing_scan::{SCAN_RUN, scan_misses};
use vfs_core::vfs::{At, FsContext};

fn context(fixture: &Fixture) -> FsContext {
    fixture.context()
}

fn tear_down(ctx: FsContext) {
    ctx.ns.root().dentry.prune();
}

fn requests(fixture: &Fixture) -> u64 {
    fixture.fs.client().stats().requests
}

/// `count` files in `dir` (made), file `i` holding `i % 7` bytes.
fn populate(fixture: &Fixture, dir: &str, count: usize) {
    fs::create_dir_all(fixture.host(dir)).unwrap();
    for i in 0..count {
        fs::write(fixture.host(&format!("{dir}/f{i}")), vec![b'x'; i % 7]).unwrap();
    }
}

/// The names in `path` but `.` and `..`, in the directory read's order.
fn in_order(ctx: &FsContext, path: &str) -> Vec<String> {
    let mut names = common::list_dir_in_order(ctx, path);
    names.retain(|name| name != "." && name != "..");
    names
}

/// The names in `path` but `.` and `..`, sorted.
fn list(ctx: &FsContext, path: &str) -> Vec<String> {
    let mut names = common::list_dir(ctx, path);
    names.retain(|name| name != "." && name != "..");
    names
}

fn host_list(fixture: &Fixture, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(fixture.host(dir))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Every entry's lstat against the host's.
fn check_stats(fixture: &Fixture, ctx: &FsContext, dir: &str, names: &[String]) {
    for name in names {
        let path = format!("/{dir}/{name}");
        let ours = ctx.stat(At::Cwd, path.as_bytes(), false).unwrap();
        fixture.assert_matches_host(&ours, &format!("{dir}/{name}"));
    }
}

#[test]
fn a_listed_directory_answers_stats_misses_and_reads_without_the_server() {
    let fixture = Fixture::new(CachePolicy::Exclusive);
    populate(&fixture, "d", 300);
    fs::create_dir(fixture.host("d/sub")).unwrap();
    std::os::unix::fs::symlink("f1", fixture.host("d/link")).unwrap();
    let ctx = context(&fixture);

    let names = list(&ctx, "/d");
    assert_eq!(names, host_list(&fixture, "d"));
    let after_listing = requests(&fixture);
    assert_eq!(
        ctx.stat(At::Cwd, b"/d/missing", false).err(),
        Some(Errno::ENOENT)
    );
    assert_eq!(list(&ctx, "/d"), names);
    assert_eq!(
        requests(&fixture),
        after_listing,
        "a miss and a second read answered from the listing"
    );
    // Sorted order is not the listing's: single walks until the lookups show a scan, then
    // the rest of the attributes in batches.
    let submissions = fixture.fs.client().stats().submissions;
    check_stats(&fixture, &ctx, "d", &names);
    let walked = scan_misses(names.len()) as usize;
    assert!(
        fixture.fs.client().stats().submissions - submissions
            <= (2 * walked + names.len() / 16) as u64,
        "the scan's attributes came in batches"
    );
    let after_scan = requests(&fixture);
    check_stats(&fixture, &ctx, "d", &names);
    assert_eq!(list(&ctx, "/d"), names);
    assert_eq!(
        requests(&fixture),
        after_scan,
        "stats after the scan and a third read answered from the listing"
    );
    assert!(
        fixture.channel.live_fids() <= fixture.baseline() + 2 + walked,
        "the root's and /d's open fid, and the fids of the names walked before the scan"
    );

    // What this kernel changes shows at once.
    drop(
        ctx.open(
            At::Cwd,
            b"/d/new",
            OpenFlags::CREAT | OpenFlags::WRONLY,
            0o644,
        )
        .unwrap(),
    );
    ctx.unlink(At::Cwd, b"/d/f0").unwrap();
    let names = list(&ctx, "/d");
    assert!(names.contains(&"new".to_owned()) && !names.contains(&"f0".to_owned()));
    assert_eq!(names, host_list(&fixture, "d"));
    check_stats(&fixture, &ctx, "d", &names);

    // The exclusive rule: what the host adds to a directory the sandbox has read is not
    // seen (the sandbox owns the tree).
    fs::write(fixture.host("d/from-host"), b"late").unwrap();
    assert_eq!(
        ctx.stat(At::Cwd, b"/d/from-host", false).err(),
        Some(Errno::ENOENT)
    );

    tear_down(ctx);
    fixture.finish();
}

#[test]
fn a_few_lookups_after_a_listing_walk_their_own_names_only() {
    let fixture = Fixture::new(CachePolicy::Exclusive);
    populate(&fixture, "d", 300);
    let ctx = context(&fixture);
    let order = in_order(&ctx, "/d");
    assert_eq!(order.len(), 300);
    let before = requests(&fixture);
    // Against the listing's order (as a program opening the few names it wants does):
    // each lookup walks its name and fetches its attributes, nothing more.
    let few: Vec<&String> = order.iter().rev().step_by(37).collect();
    check_stats(
        &fixture,
        &ctx,
        "d",
        &few.iter().map(|name| (*name).clone()).collect::<Vec<_>>(),
    );
    assert_eq!(requests(&fixture) - before, 2 * few.len() as u64);
    tear_down(ctx);
    fixture.finish();
}

#[test]
fn a_scan_in_the_listings_order_fetches_the_attributes_in_batches() {
    let fixture = Fixture::new(CachePolicy::Exclusive);
    populate(&fixture, "d", 1000);
    let ctx = context(&fixture);
    let order = in_order(&ctx, "/d");
    let (requests_before, submissions_before) = {
        let stats = fixture.fs.client().stats();
        (stats.requests, stats.submissions)
    };
    check_stats(&fixture, &ctx, "d", &order);
    let stats = fixture.fs.client().stats();
    let walked = SCAN_RUN as u64 - 1;
    let batched = order.len() as u64 - walked;
    assert_eq!(
        stats.requests - requests_before,
        2 * walked + 3 * batched,
        "single walks until the lookups showed a scan, then walk, getattr and clunk for each"
    );
    assert!(
        stats.submissions - submissions_before <= 2 * walked + batched / 16,
        "{} submissions",
        stats.submissions - submissions_before
    );
    let after = stats.requests;
    check_stats(&fixture, &ctx, "d", &order);
    assert_eq!(requests(&fixture), after, "then answered from the listing");
    tear_down(ctx);
    fixture.finish();
}

#[test]
fn a_shared_mount_sees_what_the_host_adds_after_a_listing() {
    let fixture = Fixture::new(CachePolicy::Revalidate);
    populate(&fixture, "d", 20);
    let ctx = context(&fixture);
    let names = list(&ctx, "/d");
    check_stats(&fixture, &ctx, "d", &names);
    fs::write(fixture.host("d/from-host"), b"late").unwrap();
    assert_eq!(ctx.stat(At::Cwd, b"/d/from-host", false).unwrap().size, 4);
    assert!(list(&ctx, "/d").contains(&"from-host".to_owned()));
    fs::remove_file(fixture.host("d/f3")).unwrap();
    assert_eq!(
        ctx.stat(At::Cwd, b"/d/f3", false).err(),
        Some(Errno::ENOENT)
    );
    tear_down(ctx);
    fixture.finish();
}

#[test]
fn a_file_renamed_before_its_first_walk_is_found_where_it_went() {
    let fixture = Fixture::new(CachePolicy::Exclusive);
    populate(&fixture, "a/b", 3);
    fs::create_dir(fixture.host("c")).unwrap();
    let ctx = context(&fixture);
    list(&ctx, "/a");
    list(&ctx, "/a/b");
    // Known from the listings only: no fid walked for /a/b or /a/b/f2 yet.
    assert_eq!(ctx.stat(At::Cwd, b"/a/b/f2", false).unwrap().size, 2);
    ctx.rename(
        At::Cwd,
        b"/a/b",
        At::Cwd,
        b"/c/moved",
        vfs_core::attr::RenameFlags::empty(),
    )
    .unwrap();
    let file = ctx
        .open(At::Cwd, b"/c/moved/f2", OpenFlags::RDONLY, 0)
        .unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(file.read(&mut buf).unwrap(), 2);
    drop(file);
    tear_down(ctx);
    fixture.finish();
}

#[test]
fn a_hundred_thousand_entries_are_listed_and_stated_right_in_both_modes() {
    for policy in [CachePolicy::Exclusive, CachePolicy::Revalidate] {
        let fixture = Fixture::new(policy);
        populate(&fixture, "big", 100_000);
        let ctx = context(&fixture);
        let names = list(&ctx, "/big");
        assert_eq!(names.len(), 100_000);
        assert_eq!(names, host_list(&fixture, "big"));
        let mut sizes = BTreeMap::new();
        for name in &names {
            let stat = ctx
                .stat(At::Cwd, format!("/big/{name}").as_bytes(), false)
                .unwrap();
            *sizes.entry(stat.size).or_insert(0u32) += 1;
        }
        let mut expected = BTreeMap::new();
        for i in 0..100_000u64 {
            *expected.entry(i % 7).or_insert(0u32) += 1;
        }
        assert_eq!(sizes, expected, "{policy:?}");
        check_stats(&fixture, &ctx, "big", &names[..500]);
        tear_down(ctx);
        fixture.finish();
    }
}

#[test]
fn listings_the_budget_cannot_hold_are_evicted_and_answers_stay_right() {
    // Room for about one listing of 400 entries at a time.
    let budget = MemoryBudget::new(150 * 1024);
    let fixture = Fixture::with_budget(CachePolicy::Exclusive, &budget);
    for dir in ["a", "b", "c", "d"] {
        populate(&fixture, dir, 400);
    }
    let ctx = context(&fixture);
    for _ in 0..2 {
        for dir in ["a", "b", "c", "d"] {
            let names = list(&ctx, &format!("/{dir}"));
            assert_eq!(names, host_list(&fixture, dir));
            assert!(budget.used() <= budget.limit());
            assert_eq!(
                ctx.stat(At::Cwd, format!("/{dir}/nope").as_bytes(), false)
                    .err(),
                Some(Errno::ENOENT)
            );
        }
        // Stats after the lists: most listings were evicted by the later ones.
        for dir in ["a", "b", "c", "d"] {
            let names = host_list(&fixture, dir);
            check_stats(&fixture, &ctx, dir, &names[..50]);
        }
        ctx.ns.root().dentry.prune();
    }
    tear_down(ctx);
    fixture.finish();
}

#[test]
fn stats_the_listing_answers_cache_no_names_and_say_what_a_lookup_says() {
    let fixture = Fixture::new(CachePolicy::Exclusive);
    populate(&fixture, "d", 200);
    std::os::unix::fs::symlink("f1", fixture.host("d/link")).unwrap();
    let ctx = context(&fixture);
    let names = in_order(&ctx, "/d");
    // In the listing's order: a scan, which fetches every entry's attributes.
    check_stats(&fixture, &ctx, "d", &names);
    let dir = ctx.resolve(At::Cwd, b"/d", true).unwrap();
    dir.dentry.prune();
    assert_eq!(dir.dentry.cached_children(), 0);

    // The names looked up before the lookups showed a scan were walked, and their
    // inodes hold attributes the listing never had; every later one is the listing's.
    let listed = &names[SCAN_RUN as usize..];
    let before = requests(&fixture);
    check_stats(&fixture, &ctx, "d", listed);
    assert_eq!(requests(&fixture), before, "answered from the listing");
    assert_eq!(
        dir.dentry.cached_children(),
        0,
        "no dentry made for a stat the listing answered"
    );
    // What a lookup and its inode's getattr say, field for field.
    for name in [&listed[0], &listed[listed.len() - 1], "link"] {
        let path = format!("/d/{name}");
        let peeked = ctx.stat(At::Cwd, path.as_bytes(), false).unwrap();
        let looked_up = ctx.resolve(At::Cwd, path.as_bytes(), false).unwrap();
        assert_eq!(
            peeked,
            looked_up.dentry.positive().unwrap().getattr().unwrap()
        );
    }
    dir.dentry.prune();
    // A symlink followed goes through the lookup, to its target's attributes.
    let followed = ctx.stat(At::Cwd, b"/d/link", true).unwrap();
    fixture.assert_matches_host(&followed, "d/f1");
    // A change this kernel makes shows at once, through the listing or past it.
    ctx.truncate(At::Cwd, b"/d/f3", 1000).unwrap();
    dir.dentry.prune();
    assert_eq!(ctx.stat(At::Cwd, b"/d/f3", false).unwrap().size, 1000);
    fixture.assert_matches_host(&ctx.stat(At::Cwd, b"/d/f3", false).unwrap(), "d/f3");
    ctx.unlink(At::Cwd, b"/d/f4").unwrap();
    dir.dentry.prune();
    assert_eq!(
        ctx.stat(At::Cwd, b"/d/f4", false).err(),
        Some(Errno::ENOENT)
    );
    drop(dir);
    tear_down(ctx);
    fixture.finish();
}
