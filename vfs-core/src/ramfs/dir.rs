//! ramfs, bottom: a directory's entries, findable by name in O(1) and listable in a
//! stable order from any offset in O(log n), so cost stays flat as a directory grows.

use super::node::RamInode;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use hashbrown::HashMap;

/// Offsets 0 and 1 are `.` and `..`; real entries get cookies from here on, never reused,
/// so an offset handed out by `readdir` keeps meaning "after that entry".
pub const FIRST_COOKIE: u64 = 2;

/// Linux's tmpfs reports a directory's size as 20 bytes per entry plus 40
/// (`BOGO_DIRENT_SIZE`); reproduced so `st_size` matches.
pub const BOGO_DIRENT_SIZE: u64 = 20;

pub struct DirEntries {
    by_name: HashMap<Arc<[u8]>, (u64, Arc<RamInode>)>,
    by_cookie: BTreeMap<u64, (Arc<[u8]>, Arc<RamInode>)>,
    next_cookie: u64,
    /// Set by rmdir: a removed directory accepts no new entries (Linux's `IS_DEADDIR`).
    pub dead: bool,
}

impl Default for DirEntries {
    fn default() -> Self {
        DirEntries {
            by_name: HashMap::new(),
            by_cookie: BTreeMap::new(),
            next_cookie: FIRST_COOKIE,
            dead: false,
        }
    }
}

impl DirEntries {
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn size_bytes(&self) -> u64 {
        (self.len() as u64 + 2) * BOGO_DIRENT_SIZE
    }

    pub fn get(&self, name: &[u8]) -> Option<&Arc<RamInode>> {
        self.by_name.get(name).map(|(_, node)| node)
    }

    pub fn insert(&mut self, name: &[u8], node: Arc<RamInode>) {
        let name: Arc<[u8]> = Arc::from(name);
        let cookie = self.next_cookie;
        self.next_cookie += 1;
        self.by_cookie.insert(cookie, (name.clone(), node.clone()));
        self.by_name.insert(name, (cookie, node));
    }

    /// Empties the directory, handing back its nodes (each held here once less).
    pub fn take_all(&mut self) -> alloc::vec::Vec<Arc<RamInode>> {
        self.by_cookie.clear();
        self.by_name.drain().map(|(_, (_, node))| node).collect()
    }

    pub fn remove(&mut self, name: &[u8]) -> Option<Arc<RamInode>> {
        let (cookie, node) = self.by_name.remove(name)?;
        self.by_cookie.remove(&cookie);
        Some(node)
    }

    /// Points an existing name at another node, keeping its place in the listing
    /// (what `RENAME_EXCHANGE` and rename-over-target need).
    pub fn replace(&mut self, name: &[u8], node: Arc<RamInode>) -> Option<Arc<RamInode>> {
        let (cookie, slot) = self.by_name.get_mut(name)?;
        let old = core::mem::replace(slot, node.clone());
        if let Some(entry) = self.by_cookie.get_mut(cookie) {
            entry.1 = node;
        }
        Some(old)
    }

    /// Entries whose cookie is at least `offset`, in cookie order.
    pub fn entries_from(&self, offset: u64) -> impl Iterator<Item = (u64, &[u8], &Arc<RamInode>)> {
        self.by_cookie
            .range(offset.max(FIRST_COOKIE)..)
            .map(|(cookie, (name, node))| (*cookie, &name[..], node))
    }
}
