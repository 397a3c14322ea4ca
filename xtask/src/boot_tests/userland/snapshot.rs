//! A host directory tree as it is now: every entry's type, mode, size, times and contents
//! (SHA-256), to prove a boot left it byte for byte alone.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::digest::sha256_hex;

#[derive(Debug, Clone)]
pub struct TreeSnapshot {
    pub root: PathBuf,
    /// Relative path → what it is.
    entries: BTreeMap<PathBuf, Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    /// File contents' SHA-256, or the symlink's target; empty for directories.
    contents: String,
}

impl TreeSnapshot {
    pub fn take(root: &Path) -> std::io::Result<TreeSnapshot> {
        let mut entries = BTreeMap::new();
        walk(root, Path::new(""), &mut entries)?;
        Ok(TreeSnapshot {
            root: root.to_owned(),
            entries,
        })
    }

    /// What changed from `self` to `after`, said in a few words; `None` when nothing did.
    pub fn differences(&self, after: &TreeSnapshot) -> Option<String> {
        let mut changes = Vec::new();
        for (path, entry) in &self.entries {
            match after.entries.get(path) {
                None => changes.push(format!("{} removed", path.display())),
                Some(now) if now != entry => {
                    changes.push(format!("{} changed ({entry:?} → {now:?})", path.display()))
                }
                Some(_) => {}
            }
        }
        changes.extend(
            after
                .entries
                .keys()
                .filter(|path| !self.entries.contains_key(*path))
                .map(|path| format!("{} added", path.display())),
        );
        (!changes.is_empty()).then(|| changes.join("; "))
    }
}

fn walk(
    root: &Path,
    relative: &Path,
    entries: &mut BTreeMap<PathBuf, Entry>,
) -> std::io::Result<()> {
    let path = root.join(relative);
    let meta = std::fs::symlink_metadata(&path)?;
    let contents = if meta.is_symlink() {
        std::fs::read_link(&path)?.to_string_lossy().into_owned()
    } else if meta.is_file() {
        sha256_hex(&std::fs::read(&path)?)
    } else {
        String::new()
    };
    let nanos = |seconds: i64, nanos: i64| i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    entries.insert(
        relative.to_owned(),
        Entry {
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
            size: meta.size(),
            mtime_ns: nanos(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: nanos(meta.ctime(), meta.ctime_nsec()),
            contents,
        },
    );
    if meta.is_dir() {
        for entry in std::fs::read_dir(&path)? {
            walk(root, &relative.join(entry?.file_name()), entries)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_content_mode_and_new_entries() {
        let dir = std::env::temp_dir().join(format!("xtask-snapshot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/file"), "one").unwrap();
        let before = TreeSnapshot::take(&dir).unwrap();
        assert_eq!(before.differences(&TreeSnapshot::take(&dir).unwrap()), None);
        std::fs::write(dir.join("sub/file"), "two").unwrap();
        std::fs::write(dir.join("new"), "").unwrap();
        let changes = before
            .differences(&TreeSnapshot::take(&dir).unwrap())
            .unwrap();
        assert!(
            changes.contains("sub/file changed") && changes.contains("new added"),
            "{changes}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
