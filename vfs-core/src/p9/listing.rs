//! Exclusive mounts: a directory's listing, read whole the first time the directory is
//! read from its start. Until this kernel changes the directory (which drops the
//! listing), it answers `readdir`, lookups of names it lacks (`ENOENT`), and the first
//! lookup of each entry whose attributes it holds, without a round trip.
//!
//! The entries' attributes are fetched when the lookups show a scan (what `ls -l`, `du`,
//! `find -ls` and `tar` do): once [`SCAN_RUN`] lookups in a row came in the listing's
//! order (each at most [`SCAN_GAP`] names past the one before), or [`scan_misses`] lookups in any order needed attributes it lacked, the
//! attributes of every entry still without them are fetched in batches (walks, getattrs
//! and clunks outstanding together, pipelined: see `Client::getattr_names`), starting at
//! the name looked up. Before that a lookup walks its own name, as a directory without a
//! listing does: a program that reads a directory and then opens a few of its names (a
//! `PATH` search, Python's import system listing each `sys.path` directory) does not pay
//! for the attributes of all the others. The attributes move out of the listing into
//! the inode the lookup makes, so a listing never holds attributes an inode could have
//! changed since; they are also ignored once a link count anywhere on the mount may have
//! changed (the mount's `links` number, as in `attr_cache.rs`).
//!
//! Memory: a listing is charged to the mount's budget, [`ENTRY_COST`] per entry plus its
//! name. When a new listing does not fit, others are evicted in least-recently-used order
//! (second chance: a listing used since the last pass is passed over once); one that still
//! does not fit is not kept, and the directory is read from the server as before.
//!
//! Locks: a directory's listing slot and the mount's list of listings are leaves, never
//! held together (eviction takes one slot at a time, after letting go of the list).

use super::convert::stat_from_attr;
use super::message::{Dirent, getattr_mask};
use super::node::{Access, P9Inode};
use super::packed::PackedStat;
use crate::attr::{DirEntry, FileType, Stat, mode};
use crate::budget::{Charge, MemoryBudget, heap_cost};
use crate::errno::{Errno, Result};
use crate::inode::{FIRST_ENTRY_OFFSET, Inode};
use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use hashbrown::HashTable;
use spin::Mutex;

/// What one cached entry costs besides its name's bytes: the entry, its slot in the
/// index (a `u32` and a control byte, at a load of at least a half), and its packed
/// attributes' slot.
pub const ENTRY_COST: u64 =
    core::mem::size_of::<Entry>() as u64 + 10 + core::mem::size_of::<PackedStat>() as u64;

/// One name of the directory, in the server's order. The name itself sits in the
/// listing's one buffer of names (no allocation per name).
pub struct Entry {
    /// The server's cookie for reading on after this entry.
    pub cookie: u64,
    pub ino: u64,
    /// Where the name starts in the listing's names.
    name_at: u32,
    name_len: u8,
    pub file_type: FileType,
    /// Whether the entry's slot in the listing's attributes holds them (no live inode
    /// does): fetched by a scan, taken by a lookup, given back when the inode made
    /// from them goes. Slots rather than boxes: a warm `du` takes and gives back every
    /// entry's attributes, with no allocation.
    has_stat: bool,
}

/// A directory's entries as read from the server, before they become a [`Listing`].
#[derive(Default)]
pub struct Entries {
    entries: Vec<Entry>,
    names: Vec<u8>,
    stats: Vec<PackedStat>,
}

impl Entries {
    /// Adds a name the server listed (not `.` or `..`); names longer than `NAME_MAX` are
    /// the server's error and are left out.
    pub fn push(&mut self, dirent: &Dirent<'_>) {
        let (Ok(name_at), Ok(name_len)) = (
            u32::try_from(self.names.len()),
            u8::try_from(dirent.name.len()),
        ) else {
            return;
        };
        self.names.extend_from_slice(dirent.name);
        self.entries.push(Entry {
            cookie: dirent.offset,
            ino: dirent.qid.path,
            name_at,
            name_len,
            file_type: super::convert::dirent_file_type(dirent.kind, dirent.qid.kind),
            has_stat: false,
        });
        self.stats.push(PackedStat::default());
    }

    /// What a listing of these entries costs.
    pub fn cost(&self) -> u64 {
        self.entries.len() as u64 * ENTRY_COST + self.names.len() as u64 + 4 * heap_cost(0)
    }
}

fn name_in<'a>(names: &'a [u8], entry: &Entry) -> &'a [u8] {
    let at = entry.name_at as usize;
    &names[at..at + usize::from(entry.name_len)]
}

pub struct Listing {
    entries: Vec<Entry>,
    names: Vec<u8>,
    stats: Vec<PackedStat>,
    /// Positions in `entries`, hashed by name.
    index: HashTable<u32>,
    /// The mount's `links` number when the attributes were fetched.
    links: u64,
    /// Where the last `readdir` stopped: the next one usually goes on from there.
    resume: usize,
    /// Scan detection (see the module comment): the position of the last name looked up,
    /// how many lookups in a row followed the listing's order, how many needed
    /// attributes the listing lacked, and whether the rest were fetched already.
    last_lookup: Option<u32>,
    run: u32,
    misses: u32,
    fetched: bool,
    used: AtomicBool,
    _charge: Charge,
}

/// What a listing says about a name.
pub enum Found {
    Missing,
    /// There, with its attributes if the listing still had them.
    Present {
        ino: u64,
        file_type: FileType,
        stat: Option<PackedStat>,
    },
}

fn hash(name: &[u8]) -> u64 {
    // FNV-1a: names come from the server, and a listing lives only as long as the
    // directory is unchanged, so a simple hash does.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in name {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl Listing {
    /// A listing of `entries` (names without `.` and `..`), charged as `charge`.
    pub fn new(entries: Entries, links: u64, charge: Charge) -> Listing {
        let Entries {
            mut entries,
            mut names,
            mut stats,
        } = entries;
        entries.shrink_to_fit();
        names.shrink_to_fit();
        stats.shrink_to_fit();
        let mut index = HashTable::with_capacity(entries.len());
        for (position, entry) in entries.iter().enumerate() {
            index.insert_unique(hash(name_in(&names, entry)), position as u32, |&at| {
                hash(name_in(&names, &entries[at as usize]))
            });
        }
        Listing {
            entries,
            names,
            stats,
            index,
            links,
            resume: 0,
            last_lookup: None,
            run: 0,
            misses: 0,
            fetched: false,
            used: AtomicBool::new(true),
            _charge: charge,
        }
    }

    fn position(&self, name: &[u8]) -> Option<usize> {
        let (entries, names) = (&self.entries, &self.names);
        self.index
            .find(hash(name), |&at| {
                name_in(names, &entries[at as usize]) == name
            })
            .map(|&at| at as usize)
    }

    /// What the listing knows of `name`; attributes are handed out once (until given
    /// back), and only while the mount's `links` number is still `links`.
    pub fn lookup(&mut self, name: &[u8], links: u64) -> Found {
        self.used.store(true, Ordering::Relaxed);
        let fresh = self.links == links;
        let Some(position) = self.position(name) else {
            return Found::Missing;
        };
        let entry = &mut self.entries[position];
        let stat = core::mem::take(&mut entry.has_stat).then(|| self.stats[position].clone());
        Found::Present {
            ino: entry.ino,
            file_type: entry.file_type,
            stat: stat.filter(|_| fresh),
        }
    }

    /// The attributes of `name` if the listing holds them and they are still good,
    /// without handing them out (a `stat` that makes no inode): its inode number, and
    /// the attributes as they would be unpacked into that inode.
    pub fn peek(&self, name: &[u8], links: u64) -> Option<(u64, &PackedStat)> {
        if self.links != links {
            return None;
        }
        let position = self.position(name)?;
        let entry = &self.entries[position];
        if !entry.has_stat {
            return None;
        }
        self.used.store(true, Ordering::Relaxed);
        Some((entry.ino, &self.stats[position]))
    }

    /// Notes a lookup of `name`; when it shows a scan and `name` has no attributes here,
    /// the names whose attributes to fetch now, starting with `name`'s (each once in the
    /// listing's life). Empty when nothing is to be fetched.
    pub fn scan_wanted(&mut self, name: &[u8]) -> Wanted {
        let mut wanted = Wanted::default();
        let Some(at) = self.position(name) else {
            return wanted;
        };
        // A little ahead of the last one counts as in order: names the VFS still caches
        // (looked up before the directory was read) are not asked for again.
        let in_order = self
            .last_lookup
            .is_some_and(|last| (last as usize + 1..=last as usize + SCAN_GAP).contains(&at));
        self.run = if in_order {
            self.run.saturating_add(1)
        } else {
            1
        };
        self.last_lookup = Some(at as u32);
        if self.fetched || self.entries[at].has_stat {
            return wanted;
        }
        self.misses = self.misses.saturating_add(1);
        if self.run < SCAN_RUN && self.misses < scan_misses(self.entries.len()) {
            return wanted;
        }
        self.fetched = true;
        let count = self.entries.len();
        for position in (at..count).chain(0..at) {
            let entry = &self.entries[position];
            if !entry.has_stat {
                wanted.push(position, name_in(&self.names, entry));
            }
        }
        wanted
    }

    /// Stores attributes fetched for the entries at `fetched` (position, inode number,
    /// type, attributes), fetched while the mount's `links` number was `links` throughout.
    /// An entry no longer at its position (the listing was read again meanwhile) or
    /// holding attributes already is left alone.
    pub fn fill(&mut self, fetched: Vec<(usize, u64, FileType, PackedStat)>, links: u64) {
        if links != self.links {
            // What the listing holds dates from before a link count changed somewhere
            // (`lookup` ignores it): start the listing's attributes afresh from these.
            for entry in &mut self.entries {
                entry.has_stat = false;
            }
            self.links = links;
        }
        for (position, ino, file_type, stat) in fetched {
            if let Some(entry) = self.entries.get_mut(position)
                && entry.ino == ino
                && entry.file_type == file_type
                && !entry.has_stat
            {
                entry.has_stat = true;
                self.stats[position] = stat;
            }
        }
    }

    /// Takes back the attributes of `name`'s inode `ino` as it goes, if they date from
    /// this listing's `links` number (`stat_links`): the next lookup is served from them.
    pub fn give_back(&mut self, name: &[u8], ino: u64, stat: &Stat, stat_links: u64) {
        if stat_links != self.links {
            return;
        }
        let Some(position) = self.position(name) else {
            return;
        };
        let entry = &mut self.entries[position];
        if entry.ino == ino && !entry.has_stat {
            entry.has_stat = true;
            self.stats[position] = PackedStat::pack(stat);
        }
    }

    /// Hands the entries after the server cookie `cookie` (0: from the start) to `sink`
    /// until it returns false; `None` when no entry has that cookie (an offset the
    /// listing cannot place: the caller asks the server).
    pub fn read_from(
        &mut self,
        cookie: u64,
        sink: &mut dyn FnMut(&Entry, &[u8]) -> bool,
    ) -> Option<()> {
        self.used.store(true, Ordering::Relaxed);
        let start = if cookie == 0 {
            0
        } else if self.resume > 0
            && self
                .entries
                .get(self.resume - 1)
                .is_some_and(|entry| entry.cookie == cookie)
        {
            self.resume
        } else {
            self.entries
                .iter()
                .position(|entry| entry.cookie == cookie)?
                + 1
        };
        let mut next = start;
        for entry in &self.entries[start..] {
            if !sink(entry, name_in(&self.names, entry)) {
                break;
            }
            next += 1;
        }
        self.resume = next;
        Some(())
    }
}

/// Lookups in a row in the listing's order that show a scan.
pub const SCAN_RUN: u32 = 4;
/// How far past the last name looked up the next may be and still count as in order.
const SCAN_GAP: usize = 8;

/// Lookups in any order needing attributes that show a scan of a directory of `entries`
/// names: a quarter of them, at least 8 and at most 64 (a sorted walk over a large
/// directory, whose order is not the listing's, pays for 64 single walks at most).
pub fn scan_misses(entries: usize) -> u32 {
    (entries / 4).clamp(8, 64) as u32
}

/// Names whose attributes a scan fetches, copied out of the listing (the fetch is done
/// without its lock).
#[derive(Default)]
pub struct Wanted {
    positions: Vec<usize>,
    names: Vec<u8>,
    ends: Vec<usize>,
}

impl Wanted {
    fn push(&mut self, position: usize, name: &[u8]) {
        self.positions.push(position);
        self.names.extend_from_slice(name);
        self.ends.push(self.names.len());
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// `(position, name)` of each, in the order they were added.
    fn iter(&self) -> impl Iterator<Item = (usize, &[u8])> {
        let starts = core::iter::once(0).chain(self.ends.iter().copied());
        self.positions
            .iter()
            .zip(starts.zip(self.ends.iter()))
            .map(|(&position, (start, &end))| (position, &self.names[start..end]))
    }
}

/// Names one fetch of a scan asks about before storing what came back: bounds the
/// memory the replies take (a reply's attributes are larger than their packed form).
const SCAN_CHUNK: usize = 4096;

/// A directory's listing slot.
pub type Slot = Mutex<SlotState>;

#[derive(Default)]
pub struct SlotState {
    /// Bumped by every change this kernel makes to the directory, so a listing read
    /// while one happened is not kept.
    pub generation: u64,
    pub listing: Option<Listing>,
}

/// The listings of one mount, oldest first, for eviction.
#[derive(Default)]
pub struct Listings {
    slots: Mutex<VecDeque<Weak<Slot>>>,
}

impl Listings {
    pub fn register(&self, slot: &Arc<Slot>) {
        let mut slots = self.slots.lock();
        slots.retain(|slot| slot.strong_count() > 0);
        slots.push_back(Arc::downgrade(slot));
    }

    /// Charges `bytes` to `budget`, evicting other listings (second chance) while it is
    /// refused; `None` if even that does not make room.
    pub fn charge(
        &self,
        budget: &Arc<MemoryBudget>,
        bytes: u64,
        keep: &Arc<Slot>,
    ) -> Option<Charge> {
        if let Ok(charge) = budget.charge(bytes) {
            return Some(charge);
        }
        // Two passes at most: the first may only clear the "used" marks.
        let mut turns = 2 * self.slots.lock().len();
        while turns > 0 {
            turns -= 1;
            let Some(candidate) = self.slots.lock().pop_front() else {
                break;
            };
            let Some(slot) = candidate.upgrade() else {
                continue;
            };
            if Arc::ptr_eq(&slot, keep) {
                self.slots.lock().push_back(candidate);
                continue;
            }
            let evicted = {
                let mut state = slot.lock();
                match state.listing.as_ref() {
                    Some(current) if current.used.swap(false, Ordering::Relaxed) => false,
                    Some(_) => {
                        state.listing = None;
                        true
                    }
                    None => true,
                }
            };
            if !evicted {
                self.slots.lock().push_back(candidate);
                continue;
            }
            if let Ok(charge) = budget.charge(bytes) {
                return Some(charge);
            }
        }
        None
    }
}

impl P9Inode {
    /// Exclusive mounts: what the listing says of `name` as an inode (a live one, or one
    /// made from the listing's entry); `ENOENT` for a name it lacks; `None` when there
    /// is no listing.
    pub(super) fn lookup_listed(&self, name: &[u8]) -> Result<Option<Arc<P9Inode>>> {
        let Some(slot) = self.extra_made().and_then(|extra| extra.listing.get()) else {
            return Ok(None);
        };
        let wanted = match slot.lock().listing.as_mut() {
            Some(listing) => listing.scan_wanted(name),
            None => return Ok(None),
        };
        if !wanted.is_empty() {
            self.fetch_listed(slot, &wanted)?;
        }
        let links = self.mount.links.load(Ordering::Acquire);
        let found = match slot.lock().listing.as_mut() {
            Some(listing) => listing.lookup(name, links),
            None => return Ok(None),
        };
        match found {
            Found::Missing => Err(Errno::ENOENT),
            Found::Present {
                ino,
                file_type,
                stat,
            } => {
                if let Some(live) = self.live_child(name)
                    && live.ino() == ino
                {
                    return Ok(Some(live));
                }
                let parent = self.me.upgrade().ok_or(Errno::EIO)?;
                let stat = stat.map(|stat| stat.unpack(self.mount.dev, ino));
                let child = P9Inode::listed(parent, name, ino, file_type, stat, links);
                self.remember_child(name, &child);
                Ok(Some(child))
            }
        }
    }

    /// Exclusive mounts: `name`'s attributes from the listing when no inode of it lives
    /// (a live one's attributes are its own, and may be newer), without making one.
    pub(super) fn peek_listed(&self, name: &[u8]) -> Option<Stat> {
        let slot = self.extra_made()?.listing.get()?;
        if self.live_child(name).is_some() {
            return None;
        }
        let links = self.mount.links.load(Ordering::Acquire);
        let state = slot.lock();
        let (ino, stat) = state.listing.as_ref()?.peek(name, links)?;
        Some(stat.unpack(self.mount.dev, ino))
    }

    /// Exclusive mounts: whether this directory holds its listing now.
    pub(super) fn has_listing(&self) -> bool {
        self.extra_made()
            .and_then(|extra| extra.listing.get())
            .is_some_and(|slot| slot.lock().listing.is_some())
    }

    /// Exclusive mounts: the attributes of the inode `ino` that `name` made from the
    /// listing, as that inode goes (see [`Listing::give_back`]).
    pub(super) fn take_back(&self, name: &[u8], ino: u64, stat: &Stat, links: u64) {
        if let Some(slot) = self.extra_made().and_then(|extra| extra.listing.get())
            && let Some(listing) = slot.lock().listing.as_mut()
        {
            listing.give_back(name, ino, stat, links);
        }
    }

    /// Exclusive mounts: serves `readdir` from the listing (reading it first when the
    /// read starts at the beginning); `false` when the caller must ask the server.
    pub(super) fn readdir_listed(
        &self,
        cookie: u64,
        sink: &mut dyn FnMut(DirEntry<'_>) -> bool,
    ) -> Result<bool> {
        let slot = self
            .extra()
            .listing
            .call_once(|| Arc::new(Mutex::new(SlotState::default())))
            .clone();
        let generation = {
            let mut state = slot.lock();
            if let Some(listing) = state.listing.as_mut() {
                return Ok(serve(listing, cookie, sink));
            }
            state.generation
        };
        if cookie != 0 {
            return Ok(false);
        }
        let Some(listing) = self.read_listing(&slot)? else {
            return Ok(false);
        };
        let mut state = slot.lock();
        if state.generation != generation {
            return Ok(false);
        }
        let served = serve(state.listing.insert(listing), cookie, sink);
        drop(state);
        self.mount.listings.register(&slot);
        Ok(served)
    }

    /// The whole directory from the server (names, inode numbers, types); `None`
    /// when the budget has no room for it.
    fn read_listing(&self, slot: &Arc<Slot>) -> Result<Option<Listing>> {
        let links = self.mount.links.load(Ordering::Acquire);
        let mut entries = Entries::default();
        self.open_fid(Access::Read)?.readdir(0, &mut |dirent| {
            if dirent.name != b"." && dirent.name != b".." {
                entries.push(dirent);
            }
            true
        })?;
        let bytes = entries.cost();
        let Some(charge) = self
            .mount
            .listings
            .charge(&self.mount.page_budget, bytes, slot)
        else {
            return Ok(None);
        };
        Ok(Some(Listing::new(entries, links, charge)))
    }

    /// Fetches the attributes of the `wanted` entries of this directory's listing through
    /// the client's pipeline (walk, getattr, clunk: see
    /// [`super::client::Client::getattr_names`]), a chunk at a time, and stores them in
    /// the listing. Entries a live inode already stands for are skipped (its attributes
    /// are its own), and so are any the server answers oddly (they are walked for when
    /// looked up). What came back while a link count on the mount changed is dropped.
    fn fetch_listed(&self, slot: &Arc<Slot>, wanted: &Wanted) -> Result<()> {
        let dir = self.fid()?;
        let client = dir.client().clone();
        let mut chunk: Vec<(usize, &[u8])> = Vec::with_capacity(SCAN_CHUNK);
        let mut entries = wanted.iter().peekable();
        while entries.peek().is_some() {
            chunk.clear();
            chunk.extend(
                entries
                    .by_ref()
                    .take(SCAN_CHUNK)
                    .filter(|(_, name)| self.live_child(name).is_none()),
            );
            let links = self.mount.links.load(Ordering::Acquire);
            let names: Vec<&[u8]> = chunk.iter().map(|&(_, name)| name).collect();
            let attrs = client.getattr_names(dir, &names, getattr_mask::STAT);
            let fetched: Vec<(usize, u64, FileType, PackedStat)> = chunk
                .iter()
                .zip(attrs)
                .filter_map(|(&(position, _), attr)| {
                    let mut stat = attr
                        .and_then(|attr| stat_from_attr(&attr, self.mount.dev))
                        .ok()?;
                    let file_type = stat.file_type()?;
                    stat.mode = file_type.mode_bits() | (stat.mode & mode::S_IALLUGO);
                    Some((position, stat.ino, file_type, PackedStat::pack(&stat)))
                })
                .collect();
            if self.mount.links.load(Ordering::Acquire) != links {
                continue;
            }
            match slot.lock().listing.as_mut() {
                Some(listing) => listing.fill(fetched, links),
                None => return Ok(()),
            }
        }
        Ok(())
    }
}

fn serve(listing: &mut Listing, cookie: u64, sink: &mut dyn FnMut(DirEntry<'_>) -> bool) -> bool {
    listing
        .read_from(cookie, &mut |entry, name| {
            sink(DirEntry {
                name,
                ino: entry.ino,
                file_type: entry.file_type,
                next_offset: entry.cookie.saturating_add(FIRST_ENTRY_OFFSET),
            })
        })
        .is_some()
}
