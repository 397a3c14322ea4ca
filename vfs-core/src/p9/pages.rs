//! 9p, beside `node`: a regular file's page cache ([`crate::page_cache`]), what a
//! `MAP_SHARED` mapping of a host file maps. Pages are read from the host on first touch
//! (none past the file's end: that access is `SIGBUS`), and what mappings store goes back
//! to the host when the kernel writes them back (`msync`, `munmap`, `fsync`, exit,
//! memory pressure). `read_at`, `write_at` and `setattr` in `node.rs` keep the cache
//! coherent with the host file through this kernel.
//!
//! The host's own changes to a file this kernel holds pages of are not seen by those
//! pages (as in Linux's v9fs with `cache=mmap`): on a shared mount the host and the
//! container should not both write one mapped file.

use alloc::boxed::Box;
use alloc::sync::Arc;

use super::node::{Access, P9Inode};
use crate::attr::FileType;
use crate::budget::FilePage;
use crate::errno::{Errno, Result};
use crate::inode::Inode;
use crate::page_cache::{DirtyPage, PageCache};

const PAGE: u64 = crate::PAGE_SIZE as u64;

impl P9Inode {
    /// A regular file's page cache, made on first use.
    pub(super) fn cache_made(&self) -> Option<&PageCache> {
        (self.file_type() == FileType::Regular).then(|| {
            &**self
                .extra()
                .cache
                .call_once(|| Box::new(PageCache::new(self.mount.page_budget.clone())))
        })
    }

    /// The file's size before a change of its data or size, when the cache needs it to
    /// keep its pages right (it holds some); `None` when it holds none.
    pub(super) fn size_for_cache(&self) -> Result<Option<u64>> {
        match self.extra_made().and_then(|extra| extra.cache.get()) {
            Some(cache) if !cache.is_empty() => Ok(Some(self.getattr()?.size)),
            _ => Ok(None),
        }
    }

    /// `Inode::mapped_page`: the cached page `index`, read from the host when missing
    /// and `create` (`ENXIO` wholly past the end); without `create`, only a cached one.
    pub(super) fn cached_page(
        &self,
        index: u64,
        create: bool,
    ) -> Result<Option<Arc<dyn FilePage>>> {
        let cache = self.cache_made().ok_or(Errno::ENODEV)?;
        if !create {
            return Ok(cache.lookup(index));
        }
        if let Some(page) = cache.lookup(index) {
            return Ok(Some(page));
        }
        let size = self.getattr()?.size;
        let page = cache.get_or_fill(index, size, |buf| {
            let fid = self.open_fid(Access::Read)?;
            let mut filled = 0;
            while filled < buf.len() {
                let read = fid.read_at(index * PAGE + filled as u64, &mut buf[filled..])?;
                if read == 0 {
                    break; // shorter on the host than it said: zeros, as a hole
                }
                filled += read;
            }
            Ok(())
        })?;
        Ok(Some(page))
    }

    /// `Inode::write_back`: the pages to the host, up to the file's end there.
    pub(super) fn write_back_pages(&self, pages: &[DirtyPage]) -> Result<()> {
        let cache = self
            .extra_made()
            .and_then(|extra| extra.cache.get())
            .ok_or(Errno::ENODEV)?;
        if pages.is_empty() {
            return Ok(());
        }
        let result = (|| {
            let size = self.getattr()?.size;
            let fid = self.open_fid(Access::Write)?;
            cache.write_back(pages, size, |offset, bytes| fid.write_at(offset, bytes))
        })();
        self.attrs.invalidate();
        if let Err(error) = result {
            // The pages are clean now and what they held is lost: said at the next fsync.
            cache.note_error(error);
        }
        result
    }
}
