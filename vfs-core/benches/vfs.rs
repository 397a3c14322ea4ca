//! VFS operation costs (`cargo bench -p vfs-core --bench vfs`), each next to the same
//! operation on the host kernel's tmpfs/overlayfs (group `host`) and an empty system
//! call, so "in-kernel cost" = host − empty syscall can be compared with ours.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::ffi::CString;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;
use vfs_core::overlay::OverlayFs;
use vfs_core::tmpfs::TmpfsOptions;
use vfs_core::*;

const DEPTH8: &[u8] = b"/d1/d2/d3/d4/d5/d6/d7/d8";

fn tmpfs(clock: &Arc<ManualClock>, dev: u64) -> Arc<dyn FileSystem> {
    vfs_core::tmpfs::new(
        &TmpfsOptions::default(),
        &vfs_core::tmpfs::TmpfsMemory::unbudgeted(1 << 30),
        dev,
        clock.clone(),
    )
    .unwrap()
}

fn world() -> FsContext {
    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let ns = MountNamespace::new(tmpfs(&clock, 1), "tmpfs", MountFlags::empty(), clock);
    let ctx = FsContext::new(ns, Credentials::root());
    let mut path = Vec::new();
    for level in 1..=8 {
        path.extend_from_slice(format!("/d{level}").as_bytes());
        ctx.mkdir(At::Cwd, &path, 0o755).unwrap();
    }
    ctx
}

fn user_context(ctx: &FsContext) -> FsContext {
    let mut user = ctx.clone();
    user.cred = Credentials::user(1000, 1000, &[]);
    user
}

fn fill_dir(ctx: &FsContext, dir: &str, count: usize) {
    ctx.mkdir(At::Cwd, dir.as_bytes(), 0o755).unwrap();
    for index in 0..count {
        ctx.open(
            At::Cwd,
            format!("{dir}/entry{index}").as_bytes(),
            OpenFlags::CREAT | OpenFlags::WRONLY,
            0o644,
        )
        .unwrap();
    }
}

fn vfs_benches(c: &mut Criterion) {
    let ctx = world();
    let user = user_context(&ctx);
    let mut group = c.benchmark_group("vfs");
    group.bench_function("walk depth-8 (root)", |b| {
        b.iter(|| ctx.resolve(At::Cwd, black_box(DEPTH8), true).unwrap())
    });
    group.bench_function("walk depth-8 (uid 1000)", |b| {
        b.iter(|| user.resolve(At::Cwd, black_box(DEPTH8), true).unwrap())
    });
    group.bench_function("stat depth-8", |b| {
        b.iter(|| ctx.stat(At::Cwd, black_box(DEPTH8), true).unwrap())
    });
    group.bench_function("create+unlink", |b| {
        b.iter(|| {
            ctx.open(
                At::Cwd,
                b"/d1/new",
                OpenFlags::CREAT | OpenFlags::EXCL | OpenFlags::WRONLY,
                0o644,
            )
            .unwrap();
            ctx.unlink(At::Cwd, b"/d1/new").unwrap();
        })
    });
    fill_dir(&ctx, "/big", 1000);
    group.bench_function("readdir 1000 entries", |b| {
        b.iter(|| {
            let dir = ctx
                .open(
                    At::Cwd,
                    b"/big",
                    OpenFlags::RDONLY | OpenFlags::DIRECTORY,
                    0,
                )
                .unwrap();
            let mut count = 0;
            dir.read_dir(&mut |entry| {
                count += entry.name.len();
                true
            })
            .unwrap();
            count
        })
    });
    let file = ctx
        .open(At::Cwd, b"/data", OpenFlags::CREAT | OpenFlags::RDWR, 0o644)
        .unwrap();
    let page = vec![7u8; 4096];
    file.write_at(0, &page).unwrap();
    group.bench_function("pwrite 4 KiB", |b| {
        b.iter(|| file.write_at(0, black_box(&page)).unwrap())
    });
    let mut buf = vec![0u8; 4096];
    group.bench_function("pread 4 KiB", |b| {
        b.iter(|| file.read_at(0, black_box(&mut buf)).unwrap())
    });
    group.finish();

    let mut growth = c.benchmark_group("vfs directory growth");
    for size in [10usize, 1000, 100_000] {
        let dir = format!("/grow{size}");
        fill_dir(&ctx, &dir, size);
        let new = format!("{dir}/new");
        growth.bench_with_input(BenchmarkId::new("create+unlink", size), &new, |b, new| {
            b.iter(|| {
                ctx.open(
                    At::Cwd,
                    new.as_bytes(),
                    OpenFlags::CREAT | OpenFlags::EXCL | OpenFlags::WRONLY,
                    0o644,
                )
                .unwrap();
                ctx.unlink(At::Cwd, new.as_bytes()).unwrap();
            })
        });
        let existing = format!("{dir}/entry{}", size / 2);
        growth.bench_with_input(BenchmarkId::new("stat", size), &existing, |b, path| {
            b.iter(|| ctx.stat(At::Cwd, path.as_bytes(), true).unwrap())
        });
    }
    growth.finish();

    let clock = Arc::new(ManualClock::new(Timespec::new(1_700_000_000, 0)));
    let top = tmpfs(&clock, 2);
    let bottom = tmpfs(&clock, 3);
    let bottom_ctx = FsContext::new(
        MountNamespace::new(bottom.clone(), "b", MountFlags::empty(), clock.clone()),
        Credentials::root(),
    );
    bottom_ctx
        .open(
            At::Cwd,
            b"/deep",
            OpenFlags::CREAT | OpenFlags::WRONLY,
            0o644,
        )
        .unwrap();
    let overlay = OverlayFs::new(tmpfs(&clock, 4), vec![top, bottom], 5, String::new()).unwrap();
    let overlay_root = overlay.root();
    let merged = FsContext::new(
        MountNamespace::new(overlay, "overlay", MountFlags::empty(), clock),
        Credentials::root(),
    );
    let mut group = c.benchmark_group("overlay");
    group.bench_function("lookup through two layers (uncached)", |b| {
        b.iter(|| overlay_root.lookup(black_box(b"deep")).unwrap())
    });
    group.bench_function("stat through two layers (dentry cached)", |b| {
        b.iter(|| merged.stat(At::Cwd, black_box(b"/deep"), true).unwrap())
    });
    group.finish();
}

fn cstr(text: &str) -> CString {
    CString::new(text).unwrap()
}

fn host_benches(c: &mut Criterion) {
    let base = tempfile::tempdir_in("/dev/shm").unwrap();
    let root = base.path().to_str().unwrap().to_string();
    let depth8 = cstr(&format!("{root}{}", std::str::from_utf8(DEPTH8).unwrap()));
    std::fs::create_dir_all(depth8.to_str().unwrap()).unwrap();
    let mut group = c.benchmark_group("host");
    group.bench_function("empty syscall (getppid)", |b| {
        b.iter(|| unsafe { libc::getppid() })
    });
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    group.bench_function("stat depth-8", |b| {
        b.iter(|| unsafe { libc::stat(depth8.as_ptr(), &mut stat) })
    });
    let new = cstr(&format!("{root}/d1/new"));
    group.bench_function("create+unlink", |b| {
        b.iter(|| unsafe {
            let fd = libc::open(
                new.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            );
            libc::close(fd);
            libc::unlink(new.as_ptr());
        })
    });
    let big = format!("{root}/big");
    std::fs::create_dir(&big).unwrap();
    for index in 0..1000 {
        std::fs::write(format!("{big}/entry{index}"), b"").unwrap();
    }
    group.bench_function("readdir 1000 entries", |b| {
        b.iter(|| std::fs::read_dir(&big).unwrap().count())
    });
    let data = cstr(&format!("{root}/data"));
    let fd = unsafe {
        libc::open(
            data.as_ptr(),
            libc::O_CREAT | libc::O_RDWR | libc::O_CLOEXEC,
            0o644,
        )
    };
    let page = vec![7u8; 4096];
    let mut buf = vec![0u8; 4096];
    group.bench_function("pwrite 4 KiB", |b| {
        b.iter(|| unsafe { libc::pwrite(fd, page.as_ptr().cast(), 4096, 0) })
    });
    group.bench_function("pread 4 KiB", |b| {
        b.iter(|| unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), 4096, 0) })
    });
    for size in [10usize, 1000, 100_000] {
        let dir = format!("{root}/grow{size}");
        std::fs::create_dir(&dir).unwrap();
        for index in 0..size {
            std::fs::write(format!("{dir}/entry{index}"), b"").unwrap();
        }
        let new = cstr(&format!("{dir}/new"));
        group.bench_with_input(BenchmarkId::new("create+unlink", size), &new, |b, new| {
            b.iter(|| unsafe {
                let fd = libc::open(
                    new.as_ptr(),
                    libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o644,
                );
                libc::close(fd);
                libc::unlink(new.as_ptr());
            })
        });
    }
    host_overlay_bench(&mut group, &root);
    unsafe { libc::close(fd) };
    group.finish();
}

/// `stat` through a host overlay of two lowers (root only; skipped with a note otherwise).
fn host_overlay_bench(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    root: &str,
) {
    for dir in ["top", "bottom", "upper", "work", "merged"] {
        std::fs::create_dir(format!("{root}/{dir}")).unwrap();
    }
    std::fs::write(format!("{root}/bottom/deep"), b"").unwrap();
    let options = cstr(&format!(
        "lowerdir={root}/top:{root}/bottom,upperdir={root}/upper,workdir={root}/work"
    ));
    let merged = cstr(&format!("{root}/merged"));
    let kind = cstr("overlay");
    if unsafe {
        libc::mount(
            kind.as_ptr(),
            merged.as_ptr(),
            kind.as_ptr(),
            0,
            options.as_ptr().cast(),
        )
    } < 0
    {
        eprintln!(
            "host overlay bench skipped: {}",
            std::io::Error::last_os_error()
        );
        return;
    }
    let deep = cstr(&format!("{root}/merged/deep"));
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    group.bench_function("overlay stat through two layers", |b| {
        b.iter(|| unsafe { libc::stat(deep.as_ptr(), &mut stat) })
    });
    unsafe { libc::umount2(merged.as_ptr(), libc::MNT_DETACH) };
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! { name = benches; config = config(); targets = vfs_benches, host_benches }
criterion_main!(benches);
