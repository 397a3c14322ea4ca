//! The budget's estimates against what the heap really gives: a counting allocator
//! measures the bytes a workload keeps, and the budget must have been charged at least
//! that much (the reserve may only have to absorb allocator overhead), and not wildly
//! more (or a container would be refused memory it could have had).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use vfs_core::file::OpenFlags;
use vfs_core::tmpfs::{TmpfsMemory, TmpfsOptions};
use vfs_core::{
    At, Credentials, FsContext, ManualClock, MemoryBudget, MountFlags, MountNamespace, Timespec,
};

struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn machine() -> (FsContext, Arc<MemoryBudget>) {
    let memory = TmpfsMemory {
        total: 1 << 40,
        budget: MemoryBudget::new(1 << 40),
    };
    let clock = Arc::new(ManualClock::new(Timespec::new(0, 0)));
    let fs = vfs_core::tmpfs::new(&TmpfsOptions::default(), &memory, 1, clock.clone()).unwrap();
    let ns = MountNamespace::with_budget(
        fs,
        "rootfs",
        MountFlags::empty(),
        clock,
        memory.budget.clone(),
    );
    (FsContext::new(ns, Credentials::root()), memory.budget)
}

/// Runs `work`, returning (bytes the heap kept, bytes the budget was charged).
fn measure(work: impl FnOnce(&mut FsContext)) -> (i64, i64) {
    let (mut ctx, budget) = machine();
    let heap = LIVE.load(Ordering::Relaxed);
    let charged = budget.used() as i64;
    work(&mut ctx);
    let result = (
        LIVE.load(Ordering::Relaxed) - heap,
        budget.used() as i64 - charged,
    );
    drop(ctx);
    result
}

fn check(what: &str, (kept, charged): (i64, i64)) {
    println!("{what}: heap kept {kept} bytes, budget charged {charged}");
    assert!(charged >= kept, "{what}: charged {charged} < kept {kept}");
    assert!(
        charged <= 3 * kept,
        "{what}: charged {charged} > 3 × kept {kept}"
    );
}

// One test, so no other test's allocations are counted in between.
#[test]
fn charges_cover_what_the_heap_keeps() {
    check(
        "10,000 nested directories, walked into",
        measure(|ctx| {
            for _ in 0..10_000 {
                ctx.mkdir(At::Cwd, b"d", 0o755).unwrap();
                ctx.chdir(At::Cwd, b"d").unwrap();
            }
        }),
    );
    check(
        "10,000 empty files with 200-byte names",
        measure(|ctx| {
            for i in 0..10_000 {
                let name = format!("/{i:0>200}");
                ctx.open(
                    At::Cwd,
                    name.as_bytes(),
                    OpenFlags::CREAT | OpenFlags::WRONLY,
                    0o644,
                )
                .unwrap();
            }
        }),
    );
    check(
        "a 16 MiB file",
        measure(|ctx| {
            let file = ctx
                .open(
                    At::Cwd,
                    b"/big",
                    OpenFlags::CREAT | OpenFlags::WRONLY,
                    0o644,
                )
                .unwrap();
            let chunk = vec![1u8; 1 << 20];
            for _ in 0..16 {
                file.write(&chunk).unwrap();
            }
        }),
    );
    check(
        "5,000 symlinks with 300-byte targets",
        measure(|ctx| {
            for i in 0..5_000 {
                ctx.symlink(&[b'x'; 300], At::Cwd, format!("/l{i}").as_bytes())
                    .unwrap();
            }
        }),
    );
}

#[test]
fn sizes() {
    println!(
        "Dentry {} RamInode {}",
        std::mem::size_of::<vfs_core::dentry::Dentry>(),
        std::mem::size_of::<vfs_core::ramfs::RamInode>()
    );
}
