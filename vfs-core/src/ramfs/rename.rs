//! ramfs, middle: `renameat2` on ramfs directories: the entry moves with both
//! directories locked, then the moved, swapped and replaced nodes are updated. Lock
//! order: see the top of `ramfs/mod.rs`.

use super::node::{Body, NodeState, RamInode};
use crate::attr::{FileType, RenameFlags};
use crate::errno::{Errno, Result};
use crate::inode::{Inode, check_name};
use crate::time::Timespec;
use alloc::sync::Arc;
use core::sync::atomic::Ordering;
use spin::MutexGuard;

impl RamInode {
    /// `renameat2` within this ramfs (the `Inode::rename` implementation).
    pub(super) fn rename_entry(
        &self,
        old_name: &[u8],
        new_parent: &Arc<dyn Inode>,
        new_name: &[u8],
        flags: RenameFlags,
    ) -> Result<()> {
        let new_parent = self.ours(new_parent)?;
        check_name(new_name)?;
        let now = self.shared.now();
        let outcome = if core::ptr::eq(self, new_parent) {
            let mut state = self.lock();
            rename_locked(&mut state, None, old_name, new_name, flags, now)?
        } else {
            let _rename_guard = self.shared.rename_lock.lock();
            let (mut old_state, mut new_state) = lock_two(self, new_parent);
            rename_locked(
                &mut old_state,
                Some(&mut new_state),
                old_name,
                new_name,
                flags,
                now,
            )?
        };
        // Children's own fields are updated after the directories are unlocked (lock order).
        let moved_parent_ino = new_parent.ino;
        if let Some(moved) = outcome.moved {
            moved.parent_ino.store(moved_parent_ino, Ordering::Relaxed);
            moved.lock().meta.ctime = now;
        }
        if let Some(swapped) = outcome.swapped_back {
            swapped.parent_ino.store(self.ino, Ordering::Relaxed);
            swapped.lock().meta.ctime = now;
        }
        match outcome.victim {
            Some(victim) if victim.file_type == FileType::Directory => {
                let mut victim_state = victim.lock();
                victim_state.meta.nlink = 0;
                victim_state.meta.ctime = now;
                if let Body::Dir(entries) = &mut victim_state.body {
                    entries.dead = true;
                }
            }
            Some(victim) => victim.drop_link(now),
            None => {}
        }
        Ok(())
    }
}

/// The two directories of a cross-directory rename, locked in inode order.
fn lock_two<'a>(
    a: &'a RamInode,
    b: &'a RamInode,
) -> (MutexGuard<'a, NodeState>, MutexGuard<'a, NodeState>) {
    if a.ino < b.ino {
        let first = a.lock();
        (first, b.lock())
    } else {
        let first = b.lock();
        (a.lock(), first)
    }
}

/// What a rename did to nodes other than the two directories.
struct RenameOutcome {
    moved: Option<Arc<RamInode>>,
    swapped_back: Option<Arc<RamInode>>,
    victim: Option<Arc<RamInode>>,
}

/// The directory-entry part of `renameat2`, with both directories locked; `new_dir` is
/// `None` when source and destination are the same directory.
fn rename_locked(
    old_dir: &mut NodeState,
    mut new_dir: Option<&mut NodeState>,
    old_name: &[u8],
    new_name: &[u8],
    flags: RenameFlags,
    now: Timespec,
) -> Result<RenameOutcome> {
    macro_rules! new_dir {
        () => {
            match new_dir.as_deref_mut() {
                Some(dir) => dir,
                None => &mut *old_dir,
            }
        };
    }
    let cross = new_dir.is_some();
    let source = old_dir.dir()?.get(old_name).cloned().ok_or(Errno::ENOENT)?;
    let target = new_dir!().dir()?.get(new_name).cloned();
    let none = RenameOutcome {
        moved: None,
        swapped_back: None,
        victim: None,
    };
    if flags.contains(RenameFlags::EXCHANGE) {
        let target = target.ok_or(Errno::ENOENT)?;
        if Arc::ptr_eq(&source, &target) {
            return Ok(none);
        }
        let source_is_dir = source.file_type == FileType::Directory;
        let target_is_dir = target.file_type == FileType::Directory;
        old_dir.dir()?.replace(old_name, target.clone());
        new_dir!().dir()?.replace(new_name, source.clone());
        if cross && source_is_dir != target_is_dir {
            if source_is_dir {
                new_dir!().meta.nlink += 1;
                old_dir.meta.nlink -= 1;
            } else {
                old_dir.meta.nlink += 1;
                new_dir!().meta.nlink -= 1;
            }
        }
        old_dir.touch_modified(now);
        new_dir!().touch_modified(now);
        return Ok(RenameOutcome {
            moved: Some(source),
            swapped_back: Some(target),
            victim: None,
        });
    }
    let source_is_dir = source.file_type == FileType::Directory;
    if let Some(target) = &target {
        if flags.contains(RenameFlags::NOREPLACE) {
            return Err(Errno::EEXIST);
        }
        if Arc::ptr_eq(&source, target) {
            return Ok(none);
        }
        let target_is_dir = target.file_type == FileType::Directory;
        match (source_is_dir, target_is_dir) {
            (true, false) => return Err(Errno::ENOTDIR),
            (false, true) => return Err(Errno::EISDIR),
            (true, true) => {
                let target_state = target.lock();
                if matches!(&target_state.body, Body::Dir(entries) if !entries.is_empty()) {
                    return Err(Errno::ENOTEMPTY);
                }
            }
            (false, false) => {}
        }
    }
    old_dir.dir()?.remove(old_name);
    let victim = match &target {
        Some(_) => new_dir!().dir()?.replace(new_name, source.clone()),
        None => {
            new_dir!().dir()?.insert_anyway(new_name, source.clone());
            None
        }
    };
    if source_is_dir {
        old_dir.meta.nlink -= 1;
        new_dir!().meta.nlink += 1;
    }
    if victim
        .as_ref()
        .is_some_and(|victim| victim.file_type == FileType::Directory)
    {
        new_dir!().meta.nlink -= 1;
    }
    old_dir.touch_modified(now);
    new_dir!().touch_modified(now);
    Ok(RenameOutcome {
        moved: Some(source),
        swapped_back: None,
        victim,
    })
}
