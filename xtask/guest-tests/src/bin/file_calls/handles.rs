//! The sync calls (`fsync`, `fdatasync`, `sync_file_range`, `syncfs`, `sync`) and file
//! handles (`name_to_handle_at`, `open_by_handle_at`).

use libc::c_int;

use crate::os::*;
use crate::{Ctx, FsKind, e};

const AT_EMPTY_PATH: u64 = 0x1000;
const AT_SYMLINK_FOLLOW: u64 = 0x400;
const CAP_DAC_READ_SEARCH: u32 = 2;

fn sync_file_range(fd: c_int, offset: i64, nbytes: i64, flags: u64) -> i64 {
    sys(
        libc::SYS_sync_file_range,
        [fd as u64, offset as u64, nbytes as u64, flags, 0, 0],
    )
}

pub fn run(ctx: &mut Ctx) {
    syncing(ctx);
    handles(ctx);
}

fn syncing(ctx: &mut Ctx) {
    let fd = file_with(&ctx.dir, "sync", b"to be synced");
    let one = |number, fd: c_int| sys(number, [fd as u64, 0, 0, 0, 0, 0]);
    ctx.eq("fsync", one(libc::SYS_fsync, fd), 0);
    ctx.eq("fdatasync", one(libc::SYS_fdatasync, fd), 0);
    ctx.eq("syncfs", one(libc::SYS_syncfs, fd), 0);
    ctx.eq("sync", sys(libc::SYS_sync, [0; 6]), 0);
    ctx.eq(
        "syncfs on a bad descriptor is EBADF",
        one(libc::SYS_syncfs, 999),
        e(libc::EBADF),
    );
    ctx.eq(
        "fsync on a bad descriptor is EBADF",
        one(libc::SYS_fsync, 999),
        e(libc::EBADF),
    );
    let (r, w) = pipe(0);
    ctx.eq(
        "fsync on a pipe is EINVAL",
        one(libc::SYS_fsync, w),
        e(libc::EINVAL),
    );
    ctx.eq(
        "fdatasync on a pipe is EINVAL",
        one(libc::SYS_fdatasync, r),
        e(libc::EINVAL),
    );
    let (s1, s2) = socketpair();
    ctx.eq(
        "fsync on a socket is EINVAL",
        one(libc::SYS_fsync, s1),
        e(libc::EINVAL),
    );
    let dir = must_open(&ctx.dir, libc::O_RDONLY | libc::O_DIRECTORY);
    ctx.eq("fsync on a directory", one(libc::SYS_fsync, dir), 0);
    ctx.eq("sync_file_range", sync_file_range(fd, 0, 0, 7), 0);
    ctx.eq(
        "sync_file_range of a range",
        sync_file_range(fd, 4, 4, 2),
        0,
    );
    ctx.eq(
        "sync_file_range with an unknown flag is EINVAL",
        sync_file_range(fd, 0, 0, 8),
        e(libc::EINVAL),
    );
    ctx.eq(
        "sync_file_range at a negative offset is EINVAL",
        sync_file_range(fd, -1, 0, 0),
        e(libc::EINVAL),
    );
    ctx.eq(
        "sync_file_range with a negative length is EINVAL",
        sync_file_range(fd, 0, -1, 0),
        e(libc::EINVAL),
    );
    ctx.eq(
        "sync_file_range past the largest offset is EINVAL",
        sync_file_range(fd, i64::MAX, 1, 0),
        e(libc::EINVAL),
    );
    ctx.eq(
        "sync_file_range on a pipe is ESPIPE",
        sync_file_range(w, 0, 0, 0),
        e(libc::ESPIPE),
    );
    ctx.eq(
        "sync_file_range on a socket is ESPIPE",
        sync_file_range(s1, 0, 0, 0),
        e(libc::ESPIPE),
    );
    ctx.eq(
        "sync_file_range on a bad descriptor is EBADF",
        sync_file_range(999, 0, 0, 8),
        e(libc::EBADF),
    );
    ctx.eq(
        "sync_file_range on a directory",
        sync_file_range(dir, 0, 0, 0),
        0,
    );
    for fd in [fd, r, w, s1, s2, dir] {
        close(fd);
    }
}

fn handles(ctx: &mut Ctx) {
    let path = ctx.path("handled");
    close(file_with(&ctx.dir, "handled", b"x"));
    let name = cstring(&path);
    // struct file_handle: handle_bytes, handle_type, then up to MAX_HANDLE_SZ bytes.
    let mut handle = [0u8; 8 + 128];
    handle[..4].copy_from_slice(&128u32.to_le_bytes());
    let mut mount_id = 0i32;
    let name_to_handle = |name: u64, handle: &mut [u8], mount_id: &mut i32, flags: u64| {
        sys(
            libc::SYS_name_to_handle_at,
            [
                libc::AT_FDCWD as u64,
                name,
                handle.as_mut_ptr() as u64,
                mount_id as *mut i32 as u64,
                flags,
                0,
            ],
        )
    };
    ctx.eq(
        "name_to_handle_at with an unknown flag is EINVAL",
        name_to_handle(name.as_ptr() as u64, &mut handle, &mut mount_id, 0x10),
        e(libc::EINVAL),
    );
    let missing = cstring(&ctx.path("missing"));
    ctx.eq(
        "name_to_handle_at of a missing file is ENOENT",
        name_to_handle(
            missing.as_ptr() as u64,
            &mut handle,
            &mut mount_id,
            AT_SYMLINK_FOLLOW,
        ),
        e(libc::ENOENT),
    );
    let got = name_to_handle(name.as_ptr() as u64, &mut handle, &mut mount_id, 0);
    // Linux's tmpfs and disk filesystems give handles; its 9p has no export operations,
    // and none of this sandbox's filesystems has them.
    let want = if ctx.sandbox || ctx.kind == FsKind::NineP {
        e(libc::EOPNOTSUPP)
    } else {
        0
    };
    ctx.eq("name_to_handle_at of a file", got, want);
    let empty = c"";
    let dirfd = must_open(&ctx.dir, libc::O_RDONLY | libc::O_DIRECTORY);
    let by_fd = sys(
        libc::SYS_name_to_handle_at,
        [
            dirfd as u64,
            empty.as_ptr() as u64,
            handle.as_mut_ptr() as u64,
            &mut mount_id as *mut i32 as u64,
            AT_EMPTY_PATH,
            0,
        ],
    );
    ctx.eq(
        "name_to_handle_at of a descriptor (AT_EMPTY_PATH)",
        by_fd,
        want,
    );
    // open_by_handle_at needs CAP_DAC_READ_SEARCH before it reads the handle.
    let mut bad = [0u8; 8 + 128];
    let open_by_handle = |handle: &mut [u8]| {
        sys(
            libc::SYS_open_by_handle_at,
            [
                dirfd as u64,
                handle.as_mut_ptr() as u64,
                libc::O_RDONLY as u64,
                0,
                0,
                0,
            ],
        )
    };
    if has_capability(CAP_DAC_READ_SEARCH) {
        ctx.eq(
            "open_by_handle_at with handle_bytes 0 is EINVAL",
            open_by_handle(&mut bad),
            e(libc::EINVAL),
        );
        bad[..4].copy_from_slice(&129u32.to_le_bytes());
        ctx.eq(
            "open_by_handle_at with handle_bytes past 128 is EINVAL",
            open_by_handle(&mut bad),
            e(libc::EINVAL),
        );
    } else {
        ctx.eq(
            "open_by_handle_at without CAP_DAC_READ_SEARCH is EPERM",
            open_by_handle(&mut bad),
            e(libc::EPERM),
        );
    }
    close(dirfd);
}
