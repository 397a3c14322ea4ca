//! File locks in the running kernel: the one lock table of the machine, the owners the
//! system calls lock for (a descriptor table's token, an open file description's),
//! sleeping while a lock is in the way, and the hooks that release locks when a
//! descriptor closes, a description's last reference goes, or a table ends.
//!
//! A sleeper queues itself in the table under [`LOCKS`], lets go of it, and blocks; the
//! owner whose locks were in its way marks it woken under the lock and makes it runnable
//! after letting go; the sleeper takes itself off the table and tries again. A signal
//! pending for the sleeper ends the wait with `EINTR` (restarted by the signal layer
//! under `SA_RESTART`, as Linux restarts `F_SETLKW` and `flock`).
//!
//! Lock order: see the module above; [`LOCKS`] is a leaf but for the scheduler, which
//! is only entered after it is released.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use arch::thread::{self, Thread};
use spin::Mutex;
use vfs_core::{Errno, OpenFile};

use super::range::Kind;
use super::table::{FileKey, LockLine, LockTable, Request, WaiterId};
use super::{DescriptionToken, OwnerToken};
use crate::task::shared::{Files, Shared};
use crate::task::{lifecycle, scheduler};

static LOCKS: Mutex<LockTable<Arc<Thread>>> = Mutex::new(LockTable::new());

/// The identity locks are kept under: the file's filesystem's device and its inode.
pub fn file_key(file: &OpenFile) -> FileKey {
    FileKey {
        dev: file.location().mount.fs().dev(),
        ino: file.inode().ino(),
    }
}

fn wake(sleepers: Vec<Arc<Thread>>) {
    for sleeper in &sleepers {
        scheduler::wake(sleeper);
    }
}

/// Runs `change` on the table, then wakes whoever it woke.
fn with_table<R>(change: impl FnOnce(&mut LockTable<Arc<Thread>>) -> R) -> R {
    let (result, woken) = {
        let mut table = LOCKS.lock();
        let result = change(&mut table);
        (result, table.drain_wakes())
    };
    wake(woken);
    result
}

fn release_process(id: u64) {
    with_table(|table| table.release_process(id));
}

fn release_description(file: FileKey, id: u64) {
    with_table(|table| table.release_description(file, id));
}

/// The POSIX lock owner of a descriptor table, made at its first use.
pub fn process_owner(files: &Shared<Files>) -> u64 {
    files
        .lock()
        .lock_owner_or_insert_with(|| OwnerToken::new(release_process))
}

/// The lock owner an open file description is, attached to it at its first use. (Only
/// this module attaches lock state, so the `ENOLCK` for anything else cannot happen.)
pub fn description_owner(file: &OpenFile) -> Result<u64, Errno> {
    let state =
        file.lock_state(|| Box::new(DescriptionToken::new(file_key(file), release_description)));
    state
        .downcast_ref::<DescriptionToken>()
        .map(DescriptionToken::id)
        .ok_or(Errno::ENOLCK)
}

/// A descriptor of `file` was closed in a table whose lock owner is `owner` (`None`:
/// it never locked): its POSIX locks on the file go (POSIX's rule; Linux's
/// `locks_remove_posix` from `filp_close`).
pub fn descriptor_closed(owner: Option<u64>, file: &OpenFile) {
    if let Some(owner) = owner {
        let key = file_key(file);
        with_table(|table| table.release_records(key, super::table::Owner::Process(owner)));
    }
}

/// `F_GETLK`/`F_OFD_GETLK`.
pub fn test_record(file: FileKey, request: &Request) -> Option<super::table::Conflict> {
    LOCKS.lock().test_record(file, request)
}

/// Sleeps until waiter `id` is woken, or a signal is pending for thread `tid`
/// (`EINTR`); either way the waiter is still on the table for the caller to cancel.
fn wait(id: WaiterId, tid: u32) -> Result<(), Errno> {
    loop {
        if LOCKS.lock().is_woken(id) {
            return Ok(());
        }
        if lifecycle::has_pending_signal(tid) {
            return Err(Errno::EINTR);
        }
        scheduler::block();
    }
}

/// Tries `attempt` (queuing the caller when `blocking` and a lock is in the way) until
/// it succeeds or fails; sleeps between tries.
fn until_done(
    tid: u32,
    blocking: bool,
    mut attempt: impl FnMut(
        &mut LockTable<Arc<Thread>>,
        Option<Arc<Thread>>,
    ) -> Result<Option<WaiterId>, Errno>,
) -> Result<(), Errno> {
    let mut waiting: Option<WaiterId> = None;
    loop {
        let queued = with_table(|table| {
            if let Some(id) = waiting.take() {
                table.cancel(id);
            }
            attempt(table, blocking.then(thread::current))
        })?;
        let Some(id) = queued else {
            return Ok(());
        };
        if let Err(errno) = wait(id, tid) {
            with_table(|table| table.cancel(id));
            return Err(errno);
        }
        waiting = Some(id);
    }
}

/// `F_SETLK`/`F_SETLKW` and the OFD forms, for thread `tid`.
pub fn set_record(file: FileKey, request: &Request, blocking: bool, tid: u32) -> Result<(), Errno> {
    let budget = crate::mm::budget::budget();
    until_done(tid, blocking, |table, sleeper| {
        table.set_record(budget, file, request, sleeper)
    })
}

/// `flock` for description `owner` of `file`, by process `pid`'s thread `tid`.
pub fn set_flock(
    file: FileKey,
    owner: u64,
    pid: i32,
    kind: Option<Kind>,
    blocking: bool,
    tid: u32,
) -> Result<(), Errno> {
    let budget = crate::mm::budget::budget();
    until_done(tid, blocking, |table, sleeper| {
        table.set_flock(budget, file, owner, pid, kind, sleeper)
    })
}

/// Every held lock, for `/proc/locks`.
pub fn lines() -> Vec<LockLine> {
    LOCKS.lock().lines()
}
