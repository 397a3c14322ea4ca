//! Shared mounts: the `stat` of each name a directory read just returned (what `ls -l`,
//! `du`, `find` and `tar` do) in batches. The names a read from the server hands out are
//! remembered; the first lookup of one of them fetches the attributes of it and of the
//! names after it together (walks, getattrs and clunks outstanding at once, see
//! `Client::getattr_names`), and the lookups that follow take theirs from the batch.
//!
//! Coherence: a batched answer is what a `getattr` sent when the batch was sent would
//! have said. It is given out once (to one lookup of its name), only while this kernel
//! has sent no request on the mount's connection that may change anything on the server
//! (a write, setattr, create, link, unlink, rename or truncating open: see
//! `Request::changes_server`), so the container's own changes are always seen, and, on a
//! mount with a clock, for at most [`LIFETIME_NANOS`], which bounds how late a change
//! the host makes is seen (Linux's NFS client holds such answers for 3 s, `acregmin`).
//! Reads in between do not retire a batch: the walk of every `lstat` asks the server
//! about the directory itself (its permissions), so such a rule would retire each batch
//! at once. A batch that went stale with answers unused halves the next one, and one
//! used up doubles it, so interleaved changes cost little wasted work.
//!
//! Locks: the directory's `recent` slot is a leaf, never held across a request.

use super::client::Fid;
use super::convert::stat_from_attr;
use super::message::{Attr, getattr_mask};
use super::node::P9Inode;
use crate::errno::{Errno, Result};
use crate::time::Timespec;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Most names one batch asks about.
const MAX_BATCH: usize = 64;
/// The first batch of a directory read (grown by use).
const FIRST_BATCH: usize = 16;
/// How long a batched answer stays good on a mount with a clock: long enough for a
/// program to get through a batch's `lstat`s under an emulated CPU, short against
/// anything a person would notice.
pub const LIFETIME_NANOS: i64 = 100_000_000;

/// The names the last directory read handed out, and the batch being served.
#[derive(Default)]
pub struct Recent {
    /// Every name, one after another; `ends[i]` is where name `i` stops.
    names: Vec<u8>,
    ends: Vec<u32>,
    /// The position after the last name a lookup found (lookups usually go in order).
    cursor: usize,
    /// Attributes of the names from `batch_start` on, each taken once.
    batch: Vec<Option<Attr>>,
    batch_start: usize,
    /// The connection's count of changing requests when the batch was sent, and when.
    fresh_at: u64,
    sent_at: Option<Timespec>,
    /// Names the next batch asks about.
    size: usize,
}

impl Recent {
    /// Starts a new directory read's record (dropping the old one and its batch).
    pub fn restart(&mut self) {
        self.names.clear();
        self.ends.clear();
        self.cursor = 0;
        self.batch.clear();
        if self.size == 0 {
            self.size = FIRST_BATCH;
        }
    }

    pub fn push(&mut self, name: &[u8]) {
        let Ok(end) = u32::try_from(self.names.len() + name.len()) else {
            return;
        };
        self.names.extend_from_slice(name);
        self.ends.push(end);
    }

    fn name(&self, at: usize) -> &[u8] {
        let start = at.checked_sub(1).map_or(0, |before| self.ends[before]) as usize;
        &self.names[start..self.ends[at] as usize]
    }

    fn position(&self, name: &[u8]) -> Option<usize> {
        if self.cursor < self.ends.len() && self.name(self.cursor) == name {
            return Some(self.cursor);
        }
        (0..self.ends.len()).find(|&at| self.name(at) == name)
    }

    fn fresh(&self, changes: u64, now: Option<Timespec>) -> bool {
        self.fresh_at == changes
            && match (self.sent_at, now) {
                (Some(sent), Some(now)) => {
                    let age = (now.sec - sent.sec)
                        .saturating_mul(1_000_000_000)
                        .saturating_add(i64::from(now.nsec) - i64::from(sent.nsec));
                    (0..LIFETIME_NANOS).contains(&age)
                }
                _ => true,
            }
    }

    /// The batched attributes of the name at `at`, once, if the batch is still fresh.
    /// A stale batch is dropped (and the next one made smaller if it went unused).
    fn take(&mut self, at: usize, changes: u64, now: Option<Timespec>) -> Option<Attr> {
        if self.batch.is_empty() {
            return None;
        }
        if !self.fresh(changes, now) {
            if self.batch.iter().any(Option::is_some) {
                self.size = (self.size / 2).max(1);
            }
            self.batch.clear();
            return None;
        }
        let attr = self
            .batch
            .get_mut(at.checked_sub(self.batch_start)?)?
            .take();
        if attr.is_some() {
            self.cursor = at + 1;
            if self.batch.iter().all(Option::is_none) {
                self.size = (self.size * 2).min(MAX_BATCH);
                self.batch.clear();
            }
        }
        attr
    }
}

impl P9Inode {
    /// Shared mounts: remembers the names a directory read from the server is handing out
    /// (`names` is called with a recorder while the read runs).
    pub(super) fn record_read(
        &self,
        read: impl FnOnce(&mut dyn FnMut(&[u8])) -> Result<()>,
    ) -> Result<()> {
        let mut recent = Recent::default();
        let result = read(&mut |name| recent.push(name));
        let mut slot = self.extra().recent.lock();
        let kept = slot.get_or_insert_with(Default::default);
        kept.restart();
        kept.names = recent.names;
        kept.ends = recent.ends;
        if kept.ends.is_empty() {
            *slot = None;
        }
        result
    }

    /// Shared mounts: the inode for `name` from a batch of the last directory read's
    /// names (fetching one if `name` is among them and none is fresh); `None` when the
    /// read did not list it.
    pub(super) fn lookup_batched(&self, name: &[u8]) -> Result<Option<Arc<P9Inode>>> {
        let Some(extra) = self.extra_made() else {
            return Ok(None);
        };
        let client = self.mount.client.clone();
        let now = || self.mount.clock.as_ref().map(|clock| clock.now());
        let (at, names) = {
            let mut slot = extra.recent.lock();
            let Some(recent) = slot.as_mut() else {
                return Ok(None);
            };
            let Some(at) = recent.position(name) else {
                return Ok(None);
            };
            if let Some(attr) = recent.take(at, client.changes_sent(), now()) {
                drop(slot);
                return self.adopt_batched(name, &attr).map(Some);
            }
            // A fresh batch that holds the name gave its answer out already (a second
            // lookup of the same name, as `open` after `lstat`): that one walks.
            if (recent.batch_start..recent.batch_start + recent.batch.len()).contains(&at) {
                return Ok(None);
            }
            let end = (at + recent.size.max(1)).min(recent.ends.len());
            let names: Vec<Vec<u8>> = (at..end).map(|at| recent.name(at).to_vec()).collect();
            (at, names)
        };
        let dir: &Fid = self.fid()?;
        let sent_at = now();
        let before = client.changes_sent();
        let wanted: Vec<&[u8]> = names.iter().map(|name| &name[..]).collect();
        let mut attrs = client.getattr_names(dir, &wanted, getattr_mask::STAT);
        let after = client.changes_sent();
        let first = core::mem::replace(&mut attrs[0], Err(Errno::EIO));
        // Kept only if no change went over the connection while it was out: another
        // process's write could have changed what it answers for.
        if after == before && attrs.len() > 1 {
            let mut slot = extra.recent.lock();
            if let Some(recent) = slot.as_mut()
                && recent.position(name) == Some(at)
            {
                recent.batch = attrs.into_iter().map(Result::ok).collect();
                recent.batch_start = at;
                recent.fresh_at = before;
                recent.sent_at = sent_at;
                recent.cursor = at + 1;
            }
        }
        self.adopt_batched(name, &first?).map(Some)
    }

    /// The inode for `name` from its batched attributes: the live one when it is still
    /// the same file, else a new one walked when first needed (as from a listing).
    fn adopt_batched(&self, name: &[u8], attr: &Attr) -> Result<Arc<P9Inode>> {
        let stat = stat_from_attr(attr, self.mount.dev)?;
        let file_type = stat.file_type().ok_or(Errno::EIO)?;
        let parent = self.me.upgrade().ok_or(Errno::EIO)?;
        let child = P9Inode::listed(parent, name, attr.qid.path, file_type, None, 0);
        Ok(self.adopt_shared(name, child, stat))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recent(names: &[&[u8]]) -> Recent {
        let mut recent = Recent::default();
        recent.restart();
        for name in names {
            recent.push(name);
        }
        recent
    }

    #[test]
    fn names_are_found_in_order_and_out_of_order() {
        let recent = recent(&[b"a", b"bb", b"", b"ccc"]);
        assert_eq!(recent.name(1), b"bb");
        assert_eq!(recent.name(3), b"ccc");
        assert_eq!(recent.position(b"ccc"), Some(3));
        assert_eq!(recent.position(b"zz"), None);
    }

    #[test]
    fn a_batched_answer_is_given_once_and_only_while_fresh() {
        let mut recent = recent(&[b"a", b"b", b"c"]);
        recent.batch = alloc::vec![Some(Attr::default()), Some(Attr::default()), None];
        recent.batch_start = 0;
        recent.fresh_at = 7;
        let start = Timespec::new(10, 0);
        recent.sent_at = Some(start);
        assert!(recent.take(0, 7, Some(start)).is_some());
        assert!(recent.take(0, 7, Some(start)).is_none(), "once");
        let late = Timespec::new(10, LIFETIME_NANOS as u32);
        assert!(recent.take(1, 7, Some(late)).is_none(), "too old");
        assert!(recent.batch.is_empty());
        assert_eq!(
            recent.size,
            FIRST_BATCH / 2,
            "a wasted batch shrinks the next"
        );
    }

    #[test]
    fn a_change_in_between_retires_the_batch() {
        let mut recent = recent(&[b"a", b"b"]);
        recent.batch = alloc::vec![Some(Attr::default()), Some(Attr::default())];
        recent.fresh_at = 3;
        assert!(recent.take(1, 4, None).is_none());
        assert!(recent.take(0, 3, None).is_none());
    }

    #[test]
    fn a_batch_used_up_doubles_the_next() {
        let mut recent = recent(&[b"a", b"b"]);
        recent.batch = alloc::vec![Some(Attr::default()), Some(Attr::default())];
        assert!(recent.take(0, 0, None).is_some());
        assert!(recent.take(1, 0, None).is_some());
        assert_eq!(recent.size, 2 * FIRST_BATCH);
        assert_eq!(recent.cursor, 2);
    }
}
