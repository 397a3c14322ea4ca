//! ramfs, bottom: a directory's entries, findable by name in O(1) and listable in a
//! stable order from any offset in O(log n), so cost stays flat as a directory grows.
//! Each entry is charged to the memory budget while it is here.

use super::node::RamInode;
use crate::budget::{Charge, OverBudget, heap_cost};
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
    /// [`entry_cost`] of every entry.
    charge: Charge,
}

/// What an entry costs the budget: its name (one allocation the two maps share) and a slot
/// in each map.
pub fn entry_cost(name: &[u8]) -> u64 {
    heap_cost(name.len()) + 96
}

impl DirEntries {
    /// An empty directory whose entries will be charged to `charge`'s budget.
    pub fn new(charge: Charge) -> DirEntries {
        DirEntries {
            by_name: HashMap::new(),
            by_cookie: BTreeMap::new(),
            next_cookie: FIRST_COOKIE,
            dead: false,
            charge,
        }
    }

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

    /// Adds an entry, charging it first.
    pub fn insert(&mut self, name: &[u8], node: Arc<RamInode>) -> Result<(), OverBudget> {
        self.charge.grow(entry_cost(name))?;
        self.place(name, node);
        Ok(())
    }

    /// Adds an entry whatever the budget says: for a rename, which moves an entry that
    /// was charged where it came from (given back there).
    pub fn insert_anyway(&mut self, name: &[u8], node: Arc<RamInode>) {
        self.charge.grow_anyway(entry_cost(name));
        self.place(name, node);
    }

    fn place(&mut self, name: &[u8], node: Arc<RamInode>) {
        let name: Arc<[u8]> = Arc::from(name);
        let cookie = self.next_cookie;
        self.next_cookie += 1;
        self.by_cookie.insert(cookie, (name.clone(), node.clone()));
        self.by_name.insert(name, (cookie, node));
    }

    /// Empties the directory, handing back its nodes (each held here once less).
    pub fn take_all(&mut self) -> alloc::vec::Vec<Arc<RamInode>> {
        self.charge.shrink(u64::MAX);
        self.by_cookie.clear();
        self.by_name.drain().map(|(_, (_, node))| node).collect()
    }

    pub fn remove(&mut self, name: &[u8]) -> Option<Arc<RamInode>> {
        let (cookie, node) = self.by_name.remove(name)?;
        self.by_cookie.remove(&cookie);
        self.charge.shrink(entry_cost(name));
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
