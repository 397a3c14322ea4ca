//! `file-calls DIR [--other DIR2] [--lower-file PATH]`: the file system calls unmodified
//! programs use beyond `read` and `write`, each value and errno compared with Linux's:
//! `preadv`/`pwritev` and their `*2` forms with `RWF_*` flags, `lseek`'s `SEEK_DATA`/
//! `SEEK_HOLE`, `fallocate`, `copy_file_range`, `sendfile` into files, pipes and sockets,
//! `splice`/`tee`/`vmsplice` round trips through pipes, `sync_file_range`, `syncfs`,
//! `fsync`, `name_to_handle_at`/`open_by_handle_at`.
//!
//! DIR is the filesystem under test (a scratch directory is made in it). Where Linux's
//! filesystems legitimately differ the filesystem type `statfs` reports decides:
//! tmpfs (and an overlay, whose upper layer is tmpfs here) keeps real holes and has
//! `fallocate`; 9p has no `fallocate` and is all data to `SEEK_DATA`; another disk
//! filesystem (the host's ext4) has holes too but its block counts are its own.
//! `--other DIR2` names a directory on another filesystem, for `copy_file_range`'s
//! `EXDEV`; `--lower-file PATH` a file in an overlay's lower layer, never written.
//!
//! One line per check (`ok`/`FAIL`/`SKIP`), then `file-calls: N passed, M failed`; exit
//! status 0 only if everything matched. Runs on the host too (`/dev/shm` is tmpfs there),
//! where the expectations are checked against Linux itself.

mod handles;
mod os;
mod seek_alloc;
mod transfer;
mod vectored;

#[path = "../../report.rs"]
mod report;

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The filesystem under test, from `statfs`'s `f_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsKind {
    Tmpfs,
    Overlay,
    NineP,
    /// Any other (the host's ext4 when run there).
    Disk,
}

impl FsKind {
    fn of(path: &Path) -> FsKind {
        const TMPFS_MAGIC: i64 = 0x0102_1994;
        const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
        const V9FS_MAGIC: i64 = 0x0102_1997;
        // SAFETY: an all-zero `statfs` is valid; the kernel fills it.
        let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
        let path = os::cstring(path);
        // SAFETY: a NUL-terminated path and a live `statfs`.
        assert_eq!(
            unsafe { libc::statfs(path.as_ptr(), &mut stat) },
            0,
            "statfs"
        );
        match stat.f_type as i64 {
            TMPFS_MAGIC => FsKind::Tmpfs,
            OVERLAYFS_SUPER_MAGIC => FsKind::Overlay,
            V9FS_MAGIC => FsKind::NineP,
            _ => FsKind::Disk,
        }
    }

    /// Whether `fallocate` exists (Linux's 9p has none).
    pub fn allocates(self) -> bool {
        self != FsKind::NineP
    }

    /// Whether holes are real: only unwritten ranges read as holes (9p: all data).
    pub fn has_holes(self) -> bool {
        self != FsKind::NineP
    }

    /// Whether the block counts are tmpfs's, one page per page held.
    pub fn counts_pages(self) -> bool {
        matches!(self, FsKind::Tmpfs | FsKind::Overlay)
    }
}

pub struct Ctx {
    pub dir: PathBuf,
    pub kind: FsKind,
    pub other: Option<PathBuf>,
    pub lower_file: Option<PathBuf>,
    /// Inside this sandbox (its `uname` release), where a few answers are ours by design.
    pub sandbox: bool,
    pub report: report::Report,
}

impl Ctx {
    /// Checks that `got` is `want`.
    pub fn eq<T: PartialEq + Debug>(&mut self, name: &str, got: T, want: T) {
        let ok = got == want;
        self.report
            .check(name, ok, format!("got {got:?}, want {want:?}"));
    }

    pub fn check(&mut self, name: &str, ok: bool, detail: impl std::fmt::Display) {
        self.report.check(name, ok, detail);
    }

    pub fn skip(&mut self, name: &str, why: &str) {
        self.report.skip(name, why);
    }

    /// A fresh path in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// `-errno` for an errno constant.
pub const fn e(errno: i32) -> i64 {
    -(errno as i64)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let base = PathBuf::from(args.next().unwrap_or_else(|| "/tmp".to_owned()));
    let (mut other, mut lower_file) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--other" => other = args.next().map(PathBuf::from),
            "--lower-file" => lower_file = args.next().map(PathBuf::from),
            _ => {
                println!("file-calls: unknown argument {arg}");
                return ExitCode::FAILURE;
            }
        }
    }
    // A write to a pipe with no reader must be EPIPE, not the end of this program.
    // SAFETY: ignoring a signal.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let dir = base.join(format!("file-calls-{}", std::process::id()));
    if let Err(error) = std::fs::create_dir(&dir) {
        println!("file-calls: cannot create {}: {error}", dir.display());
        return ExitCode::FAILURE;
    }
    let kind = FsKind::of(&dir);
    let sandbox = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .is_ok_and(|release| release.trim().ends_with("-sandbox"));
    println!(
        "# {} is {kind:?}{}",
        base.display(),
        if sandbox { " (sandbox)" } else { "" }
    );
    let mut ctx = Ctx {
        dir: dir.clone(),
        kind,
        other: other.map(|other| other.join(format!("file-calls-other-{}", std::process::id()))),
        lower_file,
        sandbox,
        report: report::Report::default(),
    };
    if let Some(other) = &ctx.other {
        std::fs::create_dir(other).expect("creating the other directory");
    }
    vectored::run(&mut ctx);
    seek_alloc::run(&mut ctx);
    transfer::run(&mut ctx);
    handles::run(&mut ctx);
    if let Err(error) = std::fs::remove_dir_all(&dir) {
        ctx.check(
            "cleanup",
            false,
            format!("remove_dir_all {}: {error}", dir.display()),
        );
    }
    if let Some(other) = &ctx.other {
        let _ = std::fs::remove_dir_all(other);
    }
    ctx.report.finish("file-calls")
}
