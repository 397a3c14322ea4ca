//! 9p costs against the in-process Google `p9` server: a stat and an open of a depth-4
//! path through the VFS on exclusive and shared mounts, one bare round trip, and
//! sequential reads. `cargo bench -p vfs-core --bench p9`.

#[path = "../tests/p9_harness/mod.rs"]
mod p9_harness;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use p9_harness::Fixture;
use vfs_core::cred::Credentials;
use vfs_core::file::OpenFlags;
use vfs_core::inode::{CachePolicy, FileSystem};
use vfs_core::mount::{MountFlags, MountNamespace};
use vfs_core::p9::message::Request;
use vfs_core::time::{ManualClock, Timespec};
use vfs_core::vfs::{At, FsContext};

const DEEP: &[u8] = b"/a/b/c/file";

fn mounted(policy: CachePolicy) -> (Fixture, FsContext) {
    let fixture = Fixture::new(policy);
    std::fs::create_dir_all(fixture.host("a/b/c")).unwrap();
    std::fs::write(fixture.host("a/b/c/file"), vec![7u8; 8 << 20]).unwrap();
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let fs: Arc<dyn FileSystem> = fixture.fs.clone();
    let ctx = FsContext::new(
        MountNamespace::new(fs, "rootfs", MountFlags::empty(), clock),
        Credentials::root(),
    );
    (fixture, ctx)
}

fn path_costs(c: &mut Criterion) {
    for (policy, name) in [
        (CachePolicy::Exclusive, "exclusive"),
        (CachePolicy::Revalidate, "shared"),
    ] {
        let (fixture, ctx) = mounted(policy);
        let mut group = c.benchmark_group(format!("p9/{name}"));
        group.bench_function("stat depth-4", |b| {
            b.iter(|| black_box(ctx.stat(At::Cwd, DEEP, true).unwrap()))
        });
        group.bench_function("open+close depth-4", |b| {
            b.iter(|| {
                drop(black_box(
                    ctx.open(At::Cwd, DEEP, OpenFlags::RDONLY, 0).unwrap(),
                ))
            })
        });
        let file = ctx.open(At::Cwd, DEEP, OpenFlags::RDONLY, 0).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        group.throughput(Throughput::Bytes(buf.len() as u64));
        group.bench_function("read 1 MiB", |b| {
            let mut offset = 0u64;
            b.iter(|| {
                offset = (offset + (1 << 20)) % (8 << 20);
                black_box(file.read_at(offset, &mut buf).unwrap())
            })
        });
        group.finish();
        drop(file);
        ctx.ns.root().dentry.prune();
        drop(fixture);
    }
}

fn round_trip(c: &mut Criterion) {
    let fixture = Fixture::new(CachePolicy::Revalidate);
    let root = fixture.fs.root_inode().fid().unwrap();
    c.bench_function("p9/one round trip (Tgetattr)", |b| {
        b.iter(|| {
            let request = Request::GetAttr {
                fid: root.id(),
                request_mask: 0x7ff,
            };
            fixture
                .fs
                .client()
                .call(&request, |reply| Ok(black_box(reply.type_code())))
                .unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2)).sample_size(30);
    targets = path_costs, round_trip
}
criterion_main!(benches);
