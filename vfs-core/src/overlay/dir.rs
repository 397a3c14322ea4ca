//! overlay, middle: merged directory listings. Entries come from the upper, then each
//! lower, skipping names already listed and names a higher layer whited out.
//!
//! A directory that lives in one layer only is listed as that layer lists it, as Linux
//! does (`ovl_iterate` reads such a directory "real"): a whiteout left in the only
//! layer of a directory shows in its listing although looking it up gives `ENOENT`.
//!
//! Offsets are a hash of the name (as ext4's `dir_index` does), not a position in the
//! merged list, so an offset stays meaningful when entries come and go between two
//! `getdents64` calls on a directory assembled from several layers.

use super::node::OverlayInode;
use super::{ORIGIN_XATTR, is_whiteout, layer_ino};
use crate::attr::{DirEntry, FileType};
use crate::errno::{Errno, Result};
use crate::inode::{Inode, readdir_dots};
use alloc::vec::Vec;
use hashbrown::HashSet;

struct MergedEntry {
    key: u64,
    name: Vec<u8>,
    ino: u64,
    file_type: FileType,
}

/// FNV-1a folded into 2..2^62: 0 and 1 are `.` and `..`.
fn offset_key(name: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in name {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash >> 2).max(2)
}

/// One layer's entries (without `.` and `..`), copied out so that the layer's directory
/// lock is not held while the merge looks entries up.
fn layer_entries(dir: &dyn Inode) -> Result<Vec<(Vec<u8>, u64, FileType)>> {
    let mut entries = Vec::new();
    dir.readdir(2, &mut |entry| {
        entries.push((entry.name.to_vec(), entry.ino, entry.file_type));
        true
    })?;
    Ok(entries)
}

impl OverlayInode {
    fn merged_entries(&self, hide_whiteouts: bool) -> Result<Vec<MergedEntry>> {
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut entries = Vec::new();
        if let Some(upper) = self.upper() {
            for (name, ino, file_type) in layer_entries(&*upper)? {
                let child = match upper.lookup(&name) {
                    Ok(child) => child,
                    Err(Errno::ENOENT) => continue,
                    Err(errno) => return Err(errno),
                };
                seen.insert(name.clone());
                if hide_whiteouts && is_whiteout(&*child) {
                    continue;
                }
                let origin = child
                    .get_xattr(ORIGIN_XATTR)
                    .ok()
                    .and_then(|bytes| bytes.try_into().ok())
                    .map(u64::from_le_bytes);
                let ino = origin.unwrap_or_else(|| layer_ino(0, ino));
                entries.push(MergedEntry {
                    key: offset_key(&name),
                    name,
                    ino,
                    file_type,
                });
            }
        }
        for (layer, dir) in self.lowers() {
            for (name, ino, file_type) in layer_entries(&**dir)? {
                if !seen.insert(name.clone()) {
                    continue;
                }
                if hide_whiteouts
                    && file_type == FileType::CharDevice
                    && dir.lookup(&name).is_ok_and(|child| is_whiteout(&*child))
                {
                    continue;
                }
                entries.push(MergedEntry {
                    key: offset_key(&name),
                    name,
                    ino: layer_ino(*layer, ino),
                    file_type,
                });
            }
        }
        entries.sort_by_key(|entry| entry.key);
        Ok(entries)
    }

    /// Whether the merged directory lists nothing (whiteouts do not count).
    pub(crate) fn merged_is_empty(&self) -> Result<bool> {
        Ok(self.merged_entries(true)?.is_empty())
    }

    pub(crate) fn readdir_merged(
        &self,
        offset: u64,
        sink: &mut dyn FnMut(DirEntry<'_>) -> bool,
    ) -> Result<()> {
        if self.file_type() != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let entries = self.merged_entries(self.is_merged_dir())?;
        if !readdir_dots(offset, self.ino(), || Ok(self.parent_ino()), sink)? {
            return Ok(());
        }
        let start = entries.partition_point(|entry| entry.key < offset);
        for entry in &entries[start..] {
            if !sink(DirEntry {
                name: &entry.name,
                ino: entry.ino,
                file_type: entry.file_type,
                next_offset: entry.key + 1,
            }) {
                break;
            }
        }
        Ok(())
    }
}
