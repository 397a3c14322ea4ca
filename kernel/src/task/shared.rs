//! The task object: the half of a process that others reach — `/proc` readers, `kill`,
//! `capget` of another pid, and (with threads) the other threads of its group.
//!
//! Linux's `task_struct` points at parts that `clone` shares or copies: the address space
//! (`CLONE_VM`), the descriptor table (`CLONE_FILES`), the fs context (`CLONE_FS`). Here
//! each part is an `Arc<Mutex<…>>` ([`Shared`]); the running thread keeps its own handles
//! to them in its [`Process`](crate::process::Process), and the task lists the same
//! handles in [`Parts`] so that a reader elsewhere finds them. The thread swaps a part
//! (exec gives a new address space; exit lets them all go) through [`Task::set_parts`],
//! as Linux's `task_lock` guards `task->mm` and `task->files`.
//!
//! The signal handlers are such a part too (`CLONE_SIGHAND`: Linux's `sighand_struct`),
//! held in the thread's [`SignalState`](crate::process::signal::SignalState). What is
//! the thread's own stays with it, as in Linux's `task_struct`: registers, the blocked
//! mask, pending signals and the alternate stack; other processes reach those through
//! the task table (a sent signal is queued there, the masks are mirrored there).
//!
//! Lock order: `table::TABLE` → `Task::identity`; `Task::parts` and `Task::image` are
//! leaves: a reader clones the handle it needs out of [`Parts`], releases `parts`, then
//! locks the part. A part's lock is held for one operation and never across a block (a
//! sleeping thread holding a spin lock would stop every reader), and never inside another
//! part's lock.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Range;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;
use vfs_core::{FsContext, OpenFile};

use crate::mm::address_space::AddressSpace;
use crate::process::Ids;
use crate::process::caps::Capabilities;
use crate::process::fd_table::FdTable;

/// A part `clone` may share between tasks.
pub type Shared<T> = Arc<Mutex<T>>;
/// A process's descriptor table.
pub type Files = FdTable<Arc<OpenFile>>;

pub fn shared<T>(value: T) -> Shared<T> {
    Arc::new(Mutex::new(value))
}

/// The parts a task holds; `None` once it has ended (a zombie holds no memory or files).
#[derive(Clone, Default)]
pub struct Parts {
    pub mm: Option<Shared<AddressSpace>>,
    pub files: Option<Shared<Files>>,
    pub fs: Option<Shared<FsContext>>,
}

/// What the running image is, as `/proc/<pid>/{comm,exe,cmdline,environ}` show it.
#[derive(Clone, Debug, Default)]
pub struct Image {
    /// `comm`: the executable's base name, at most 15 bytes (`PR_SET_NAME` changes it).
    pub name: Vec<u8>,
    /// The executable's absolute path.
    pub exe: Vec<u8>,
    /// Where exec put the argument and environment strings on the stack: `cmdline` and
    /// `environ` read them there, so a program that rewrites its arguments is seen as it
    /// is (Linux reads `mm->arg_start..arg_end` too).
    pub args: Range<u64>,
    pub env: Range<u64>,
    /// The auxiliary vector exec wrote on the stack, `AT_NULL` last (`/proc/<pid>/auxv`,
    /// Linux's `mm->saved_auxv`); shared, as the image is copied on every read.
    pub auxv: Arc<[(u64, u64)]>,
}

/// Who a task is: its ids and capability sets, as its thread last set them.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    pub ids: Ids,
    pub caps: Capabilities,
}

pub struct Task {
    pid: u32,
    /// Monotonic ns when it was forked (`/proc/<pid>/stat`'s start time).
    started_ns: i64,
    parts: Mutex<Parts>,
    image: Mutex<Image>,
    identity: Mutex<Identity>,
    /// The robust futex list head its thread registered (`set_robust_list`), which
    /// `get_robust_list` of this pid reads.
    robust_list: AtomicU64,
}

impl Task {
    pub fn new(pid: u32, parts: Parts, image: Image, identity: Identity) -> Arc<Task> {
        Arc::new(Task {
            pid,
            started_ns: crate::clock::monotonic_ns(),
            parts: Mutex::new(parts),
            image: Mutex::new(image),
            identity: Mutex::new(identity),
            robust_list: AtomicU64::new(0),
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn started_ns(&self) -> i64 {
        self.started_ns
    }

    /// The parts as they are now (handles: lock each one after this returns).
    pub fn parts(&self) -> Parts {
        self.parts.lock().clone()
    }

    pub fn set_parts(&self, parts: Parts) {
        // The old handles drop outside the lock: the last one may free an address space.
        let old = core::mem::replace(&mut *self.parts.lock(), parts);
        drop(old);
    }

    pub fn image(&self) -> Image {
        self.image.lock().clone()
    }

    pub fn set_image(&self, image: Image) {
        *self.image.lock() = image;
    }

    pub fn set_name(&self, name: Vec<u8>) {
        self.image.lock().name = name;
    }

    pub fn identity(&self) -> Identity {
        self.identity.lock().clone()
    }

    pub fn with_identity<R>(&self, read: impl FnOnce(&Identity) -> R) -> R {
        read(&self.identity.lock())
    }

    pub fn set_identity(&self, identity: Identity) {
        *self.identity.lock() = identity;
    }

    pub fn robust_list(&self) -> u64 {
        self.robust_list.load(Ordering::Relaxed)
    }

    pub fn set_robust_list(&self, head: u64) {
        self.robust_list.store(head, Ordering::Relaxed);
    }
}
