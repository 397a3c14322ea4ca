//! File locks: `fcntl` record locks (POSIX locks owned by a process, OFD locks owned by
//! an open file description) and `flock` locks, with Linux's semantics (`fs/locks.c`).
//! SQLite, dpkg and apt rely on them.
//!
//! - [`range`]: what a `struct flock` says and how an owner's byte ranges split and
//!   merge (portable, host-tested);
//! - [`table`]: every lock and waiter keyed by file identity, conflicts, the waits-for
//!   graph for `EDEADLK`, what is released when (portable, host-tested);
//! - [`proc_locks`]: `/proc/locks` in Linux's format (portable);
//! - this module: the tokens whose drop releases locks (a descriptor table's for POSIX
//!   locks, an open file description's for OFD and `flock` locks);
//! - `blocking` (target only): the one table of the machine, sleeping on a conflict
//!   (`EINTR` on a signal), and the hooks the descriptor and exec paths call.
//!
//! Where it sits: a kernel filesystem service under the system calls
//! (`syscall::locks`), beside the VFS rather than inside vfs-core, because locks are
//! about owners (descriptor tables, processes, sleeping threads) that vfs-core does not
//! know; vfs-core only carries, on each open file description, the token whose drop at
//! the last close releases that description's locks (`OpenFile::lock_state`).
//!
//! Identity: a file is its filesystem's device number and its inode number
//! ([`table::FileKey`]), so two opens of one path, hard links and bind mounts of one
//! filesystem all meet; 9p files are locked in the guest only (the sandbox owns its
//! files: no `Tlock` goes to the host).
//!
//! When locks go (Linux's rules):
//! - POSIX locks belong to the descriptor table (Linux's `files_struct`): closing *any*
//!   descriptor of the file releases all the table's locks on it (POSIX's rule), and the
//!   table's end (the process's exit) releases the rest. A `fork` child has a new table:
//!   no locks are inherited. `execve` keeps them: the new image's table takes over the
//!   owner (unlike Linux, also when the old table was shared with a `CLONE_FILES`
//!   process that did not exec; Linux leaves them with the old table then).
//! - OFD and `flock` locks belong to the open file description: inherited across `fork`
//!   and `dup` (same description), released when its last descriptor closes.
//!
//! Lock order: `blocking::LOCKS` (the table) is taken with no other lock of this module
//! held, and under it only a wait queue's or the scheduler's locks (waking sleepers is
//! done after it is released anyway) and the budget's atomics. It may be taken while a
//! descriptor table's lock is held (a description dropped by `close_on_exec_all`
//! releases its locks), so nothing here takes a descriptor table's lock, the task table
//! or any filesystem lock while holding it.

#[cfg(target_os = "none")]
mod blocking;
pub mod proc_locks;
pub mod range;
pub mod table;

#[cfg(target_os = "none")]
pub use blocking::*;

use core::sync::atomic::{AtomicU64, Ordering};

use table::FileKey;

/// A fresh owner id: never reused, so a lock can never be taken for another owner's.
fn next_owner_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The owner of a descriptor table's POSIX locks, kept in the table (made at its first
/// lock; a `fork` copy has none). Dropped with the table, it releases them.
pub struct OwnerToken {
    id: u64,
    release: fn(u64),
}

impl OwnerToken {
    /// A new owner whose drop calls `release` with its id.
    pub fn new(release: fn(u64)) -> OwnerToken {
        OwnerToken {
            id: next_owner_id(),
            release,
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for OwnerToken {
    fn drop(&mut self) {
        (self.release)(self.id);
    }
}

/// An open file description's identity as an owner of OFD and `flock` locks, attached
/// to the description at its first lock. Dropped with it (the last close), it releases
/// them.
pub struct DescriptionToken {
    id: u64,
    file: FileKey,
    release: fn(FileKey, u64),
}

impl DescriptionToken {
    /// A new description owner for a description of `file`, whose drop calls `release`.
    pub fn new(file: FileKey, release: fn(FileKey, u64)) -> DescriptionToken {
        DescriptionToken {
            id: next_owner_id(),
            file,
            release,
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for DescriptionToken {
    fn drop(&mut self) {
        (self.release)(self.file, self.id);
    }
}

#[cfg(test)]
mod tests;
