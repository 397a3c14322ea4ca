//! The cached attributes of one inode of an exclusive mount. Fetching happens without the
//! lock held (a round trip can be slow); a generation number makes sure a fetch that raced
//! with a change (write, setattr, link…) does not store what it saw before the change.
//!
//! Shared mounts keep nothing, except for one moment: the attributes a lookup fetched are
//! handed to the `getattr` that follows it (a `stat` walks, then asks for attributes), as
//! long as no other request went over the connection in between ([`AttrCache::fill_fresh`]).
//!
//! A second, mount-wide number (`links`, bumped by link, unlink and rename) retires every
//! inode's cache at once: a file reached by two names is two inode objects here (a fid
//! is tied to the name it was walked through), so a change to one name's link count
//! cannot be pushed to the other object and is picked up by refetching instead.

use crate::attr::Stat;
use spin::Mutex;

#[derive(Default)]
pub struct AttrCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    generation: u64,
    /// The mount's `links` number when `stat` was fetched.
    links: u64,
    stat: Option<Stat>,
    /// Shared mounts: the connection's request count just after `stat` was fetched.
    fresh_at: u64,
    /// The mode, owner and group last fetched (mode 0: none yet), for permission checks
    /// on shared mounts (see `Inode::search_attrs`).
    seen: (u32, u32, u32),
}

/// Proof of when a fetch started, to hand back to [`AttrCache::fill`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchTicket(u64, u64);

impl AttrCache {
    /// The cached attributes, or a ticket to fetch them with; `links` is the mount's
    /// current link-change number.
    pub fn get(&self, links: u64) -> Result<Stat, FetchTicket> {
        let state = self.state.lock();
        state
            .stat
            .filter(|_| state.links == links)
            .ok_or(FetchTicket(state.generation, links))
    }

    /// Stores fetched attributes unless something invalidated them since the ticket.
    pub fn fill(&self, ticket: FetchTicket, stat: Stat) {
        let mut state = self.state.lock();
        state.seen = (stat.mode, stat.uid, stat.gid);
        if state.generation == ticket.0 {
            state.stat = Some(stat);
            state.links = ticket.1;
        }
    }

    /// Shared mounts: `stat`, fetched when the connection had sent `requests` requests.
    pub fn fill_fresh(&self, stat: Stat, requests: u64) {
        let mut state = self.state.lock();
        state.seen = (stat.mode, stat.uid, stat.gid);
        state.stat = Some(stat);
        state.fresh_at = requests;
    }

    /// Shared mounts: the attributes of [`AttrCache::fill_fresh`], once, if the connection
    /// has sent nothing since (its count is still `requests`).
    pub fn take_fresh(&self, requests: u64) -> Option<Stat> {
        let mut state = self.state.lock();
        let stat = state.stat.take()?;
        (state.fresh_at == requests).then_some(stat)
    }

    /// The cached attributes and the `links` number they date from, for an inode that is
    /// going (no lock: it is the last holder).
    pub fn cached_mut(&mut self) -> Option<(Stat, u64)> {
        let state = self.state.get_mut();
        state.stat.map(|stat| (stat, state.links))
    }

    /// Notes attributes fetched and not kept (shared mounts), for [`AttrCache::seen`].
    pub fn saw(&self, stat: &Stat) {
        self.state.lock().seen = (stat.mode, stat.uid, stat.gid);
    }

    /// The mode, owner and group last fetched, if any.
    pub fn seen(&self) -> Option<(u32, u32, u32)> {
        let seen = self.state.lock().seen;
        (seen.0 != 0).then_some(seen)
    }

    /// Forgets the attributes after a change the server made to them.
    pub fn invalidate(&self) {
        let mut state = self.state.lock();
        state.generation += 1;
        state.stat = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timespec;

    fn stat(size: u64) -> Stat {
        let t = Timespec::default();
        Stat {
            dev: 0,
            ino: 1,
            mode: 0o100644,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            size,
            blksize: 0,
            blocks: 0,
            atime: t,
            mtime: t,
            ctime: t,
            btime: t,
        }
    }

    #[test]
    fn a_fetch_that_raced_an_invalidation_is_not_stored() {
        let cache = AttrCache::default();
        let ticket = cache.get(0).unwrap_err();
        cache.invalidate();
        cache.fill(ticket, stat(1));
        let ticket = cache.get(0).unwrap_err();
        cache.fill(ticket, stat(2));
        assert_eq!(cache.get(0).map(|s| s.size), Ok(2));
    }

    #[test]
    fn fresh_attributes_serve_once_and_only_with_no_request_in_between() {
        let cache = AttrCache::default();
        cache.fill_fresh(stat(5), 10);
        assert_eq!(cache.take_fresh(10).map(|s| s.size), Some(5));
        assert_eq!(cache.take_fresh(10), None);
        cache.fill_fresh(stat(6), 10);
        assert_eq!(cache.take_fresh(11), None);
        assert_eq!(cache.take_fresh(10), None, "a stale one is dropped");
    }

    #[test]
    fn a_link_change_anywhere_on_the_mount_retires_the_cache() {
        let cache = AttrCache::default();
        let ticket = cache.get(3).unwrap_err();
        cache.fill(ticket, stat(1));
        assert_eq!(cache.get(3).map(|s| s.size), Ok(1));
        assert!(cache.get(4).is_err());
    }
}
