//! overlay, bottom: copy-up, bringing a lower object (and every missing directory above
//! it) into the upper layer with its data, holes, mode, owner and times.

use super::ORIGIN_XATTR;
use super::node::OverlayInode;
use crate::attr::{FileType, SetAttr, TimeChange};
use crate::errno::{Errno, Result};
use crate::inode::{Inode, NewNode, NodeKind};
use alloc::sync::Arc;
use alloc::vec;

impl OverlayInode {
    /// The upper object, copying this one (and its parents) up first if needed.
    /// The caller holds `Shared::op_lock`.
    pub(crate) fn copy_up_locked(self: &Arc<Self>) -> Result<Arc<dyn Inode>> {
        if let Some(upper) = self.upper() {
            return Ok(upper);
        }
        // The ancestors still without an upper object, nearest first: gathered and copied
        // up top-down in a loop, never by recursion, however deep the lower tree is.
        let mut missing = alloc::vec![self.clone()];
        loop {
            let (parent, _) = missing
                .last()
                .and_then(|node| node.parent_and_name())
                .ok_or(Errno::EIO)?;
            if parent.upper().is_some() {
                break;
            }
            missing.push(parent);
        }
        let mut upper = None;
        while let Some(node) = missing.pop() {
            upper = Some(node.copy_up_one()?);
        }
        upper.ok_or(Errno::EIO)
    }

    /// Copies this object up; its parent already has its upper object.
    fn copy_up_one(self: &Arc<Self>) -> Result<Arc<dyn Inode>> {
        if let Some(upper) = self.upper() {
            return Ok(upper);
        }
        let (parent, name) = self.parent_and_name().ok_or(Errno::EIO)?;
        let parent_upper = parent.upper().ok_or(Errno::EIO)?;
        let lower = self.top_lower().ok_or(Errno::EIO)?;
        let stat = lower.getattr()?;
        let target;
        let kind = match self.file_type() {
            FileType::Regular => NodeKind::Regular,
            FileType::Directory => NodeKind::Directory,
            FileType::Symlink => {
                target = lower.readlink()?;
                NodeKind::Symlink { target: &target }
            }
            file_type @ (FileType::CharDevice | FileType::BlockDevice) => NodeKind::Device {
                file_type,
                rdev: stat.rdev,
            },
            FileType::Fifo => NodeKind::Fifo,
            FileType::Socket => NodeKind::Socket,
        };
        let perm = stat.permission_bits();
        let upper = parent_upper.create(
            &name,
            &NewNode {
                kind,
                perm,
                uid: stat.uid,
                gid: stat.gid,
            },
        )?;
        let copied = (|| {
            if self.file_type() == FileType::Regular {
                copy_data(&*lower, &*upper, stat.size)?;
            }
            upper.set_xattr(ORIGIN_XATTR, &self.ino().to_le_bytes(), 0)?;
            upper.setattr(&SetAttr {
                mode: Some(perm),
                atime: Some(TimeChange::At(stat.atime)),
                mtime: Some(TimeChange::At(stat.mtime)),
                ..SetAttr::default()
            })
        })();
        if let Err(errno) = copied {
            // Leave no half-copied object behind to shadow the lower one.
            let _ = if self.file_type() == FileType::Directory {
                parent_upper.rmdir(&name)
            } else {
                parent_upper.unlink(&name)
            };
            return Err(errno);
        }
        self.set_upper(upper.clone());
        if self.file_type() != FileType::Directory {
            self.shared().register_upper(&upper, self);
        }
        Ok(upper)
    }
}

/// Linux's `OVL_COPY_UP_CHUNK_SIZE`.
const CHUNK: u64 = 1 << 20;

/// Copies `size` bytes the way `ovl_copy_up_data` does: a hole is skipped only where a
/// chunk would start in it; from a data position on, whole 1 MiB chunks are copied,
/// zeros included, so `st_blocks` after copy-up matches Linux.
fn copy_data(from: &dyn Inode, to: &dyn Inode, size: u64) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut position = 0u64;
    let mut data_position: Option<u64> = None;
    let mut skip_holes = true;
    while position < size {
        if skip_holes && data_position.is_none_or(|data| data < position) {
            match from.seek_data(position) {
                Ok(data) if data > position => {
                    position = data;
                    data_position = Some(data);
                    continue;
                }
                Ok(data) => data_position = Some(data),
                Err(Errno::ENXIO) => break,
                Err(_) => skip_holes = false,
            }
        }
        let chunk_end = (position + CHUNK).min(size);
        while position < chunk_end {
            let want = buf.len().min((chunk_end - position) as usize);
            let read = from.read_at(position, &mut buf[..want])?;
            if read == 0 {
                break;
            }
            let mut written = 0;
            while written < read {
                written += to.write_at(position + written as u64, &buf[written..read])?;
            }
            position += read as u64;
        }
        if position < chunk_end {
            break;
        }
    }
    to.setattr(&SetAttr {
        size: Some(size),
        ..SetAttr::default()
    })
}
