//! `madvise`: what each piece of advice does to the areas of a range, area by area in
//! address order as Linux's `madvise_walk_vmas` visits them (an area that refuses the
//! advice ends the call with its errno; holes in the range are `ENOMEM` once the mapped
//! parts have been advised).
//!
//! The hints about access patterns, page merging, huge pages, core dumps and reclaim
//! (`MADV_NORMAL`, `RANDOM`, `SEQUENTIAL`, `WILLNEED`, `MERGEABLE`, `UNMERGEABLE`,
//! `HUGEPAGE`, `NOHUGEPAGE`, `DONTDUMP`, `DODUMP`, `COLD`, `PAGEOUT`) are accepted and
//! change nothing here: there is no read-ahead, no page merging, no huge page, no core
//! dump and no swap for them to steer. `MADV_COLLAPSE` is `EINVAL` on every area, as
//! Linux answers where transparent huge pages are off.

#[cfg(target_os = "none")]
use alloc::{sync::Arc, vec::Vec};

#[cfg(target_os = "none")]
use vfs_core::{Errno, Inode, PAGE_SIZE};

#[cfg(target_os = "none")]
use super::address_space::{Access, AddressSpace, FaultError, PageSource};
#[cfg(target_os = "none")]
use super::vma::{AreaFlags, Protection};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advice {
    /// A hint with nothing to steer here (see the module doc).
    Hint,
    /// `MADV_DONTNEED` (and `MADV_DONTNEED_LOCKED`): this mapping's pages go; anonymous
    /// memory reads zeros again, a file's mapping refills from the file (whose data stay).
    DontNeed,
    /// `MADV_FREE`: private anonymous memory only; its pages may go, and here they do.
    Free,
    /// `MADV_REMOVE`: punches the range out of the file behind a shared mapping that may
    /// write it; every mapping of it then reads zeros there.
    Remove,
    DontFork,
    DoFork,
    /// `MADV_WIPEONFORK`: private anonymous memory only.
    WipeOnFork,
    KeepOnFork,
    /// `MADV_POPULATE_READ` / `MADV_POPULATE_WRITE`: fault the pages in now.
    Populate {
        write: bool,
    },
    /// `MADV_COLLAPSE`: no area can be made of huge pages here.
    Collapse,
}

impl Advice {
    /// Linux's advice number, as a kernel with KSM, transparent huge pages (set to
    /// `never`) and no memory failure injection accepts it (`madvise_behavior_valid`);
    /// `None` is `EINVAL`.
    pub fn from_linux(advice: u64) -> Option<Advice> {
        Some(match advice {
            // NORMAL, RANDOM, SEQUENTIAL, WILLNEED
            0..=3 => Advice::Hint,
            4 | 24 => Advice::DontNeed,
            8 => Advice::Free,
            9 => Advice::Remove,
            10 => Advice::DontFork,
            11 => Advice::DoFork,
            // MERGEABLE, UNMERGEABLE, HUGEPAGE, NOHUGEPAGE, DONTDUMP, DODUMP
            12..=17 => Advice::Hint,
            18 => Advice::WipeOnFork,
            19 => Advice::KeepOnFork,
            // COLD, PAGEOUT
            20 | 21 => Advice::Hint,
            22 => Advice::Populate { write: false },
            23 => Advice::Populate { write: true },
            25 => Advice::Collapse,
            _ => return None,
        })
    }
}

#[cfg(target_os = "none")]
impl AddressSpace {
    /// Applies `advice` to the areas of `[start, end)` (page aligned, `start < end`).
    /// Files punched by `MADV_REMOVE` are added to `punched`, for the caller to drop their
    /// old pages from every other address space once this one's lock is released.
    pub fn advise(
        &mut self,
        start: u64,
        end: u64,
        advice: Advice,
        punched: &mut Vec<Arc<dyn Inode>>,
    ) -> Result<(), Errno> {
        let mut cursor = start;
        let mut hole = false;
        while cursor < end {
            let Some((area_start, area_end)) = self
                .areas
                .overlapping(cursor, end)
                .next()
                .map(|area| (area.start, area.end))
            else {
                return Err(Errno::ENOMEM);
            };
            if area_start > cursor {
                hole = true;
                cursor = area_start;
            }
            let piece_end = area_end.min(end);
            self.advise_piece(cursor, piece_end, advice, punched)?;
            cursor = piece_end;
        }
        if hole { Err(Errno::ENOMEM) } else { Ok(()) }
    }

    /// One area's part of the range, `[start, end)`.
    fn advise_piece(
        &mut self,
        start: u64,
        end: u64,
        advice: Advice,
        punched: &mut Vec<Arc<dyn Inode>>,
    ) -> Result<(), Errno> {
        let area = self.areas.find(start).ok_or(Errno::ENOMEM)?;
        let (area_start, protection) = (area.start, area.protection);
        let backing = area.backing.clone();
        let anonymous = matches!(backing, PageSource::Anonymous);
        match advice {
            Advice::Hint => Ok(()),
            Advice::Collapse => Err(Errno::EINVAL),
            Advice::DontNeed => {
                self.drop_pages(start, end);
                self.sync_pages();
                Ok(())
            }
            Advice::Free if !anonymous => Err(Errno::EINVAL),
            Advice::Free => {
                self.drop_pages(start, end);
                self.sync_pages();
                Ok(())
            }
            Advice::Remove => {
                let mapping = match &backing {
                    PageSource::Anonymous => return Err(Errno::EINVAL),
                    PageSource::File { .. } => return Err(Errno::EACCES),
                    PageSource::Shared(mapping) if !mapping.shared || !mapping.may_write() => {
                        return Err(Errno::EACCES);
                    }
                    PageSource::Shared(mapping) => mapping,
                };
                let offset = mapping.offset + (start - area_start);
                mapping.inode.punch_hole(offset, end - start)?;
                self.forget_file_pages(&mapping.inode);
                punched.push(mapping.inode.clone());
                Ok(())
            }
            Advice::DontFork => self.change_flags(start, end, AreaFlags::DONT_FORK, true),
            Advice::DoFork => self.change_flags(start, end, AreaFlags::DONT_FORK, false),
            Advice::WipeOnFork if !anonymous => Err(Errno::EINVAL),
            Advice::WipeOnFork => self.change_flags(start, end, AreaFlags::WIPE_ON_FORK, true),
            Advice::KeepOnFork => self.change_flags(start, end, AreaFlags::WIPE_ON_FORK, false),
            Advice::Populate { write } => {
                let (needed, access) = if write {
                    (Protection::WRITE, Access::Write)
                } else {
                    (Protection::READ, Access::Read)
                };
                if !protection.contains(needed) {
                    return Err(Errno::EINVAL);
                }
                for page in (start..end).step_by(PAGE_SIZE) {
                    self.handle_fault(page, access)
                        .map_err(|error| match error {
                            FaultError::OutOfMemory => Errno::ENOMEM,
                            FaultError::Segv | FaultError::Bus => Errno::EFAULT,
                        })?;
                }
                Ok(())
            }
        }
    }

    fn change_flags(
        &mut self,
        start: u64,
        end: u64,
        flag: AreaFlags,
        set: bool,
    ) -> Result<(), Errno> {
        let (set, clear) = if set {
            (flag, AreaFlags::empty())
        } else {
            (AreaFlags::empty(), flag)
        };
        self.change_areas(|this| Ok(this.areas.set_flags(start, end - start, set, clear)?))
    }
}

#[cfg(test)]
mod tests {
    use super::Advice;

    #[test]
    fn every_advice_linux_knows_is_accepted_and_no_other() {
        let accepted: alloc::vec::Vec<u64> = (0..200)
            .filter(|&n| Advice::from_linux(n).is_some())
            .collect();
        let linux: alloc::vec::Vec<u64> = (0..=4).chain(8..=25).collect();
        assert_eq!(accepted, linux);
        assert_eq!(Advice::from_linux(4), Some(Advice::DontNeed));
        assert_eq!(Advice::from_linux(24), Some(Advice::DontNeed));
        assert_eq!(
            Advice::from_linux(23),
            Some(Advice::Populate { write: true })
        );
        // MADV_HWPOISON and MADV_SOFT_OFFLINE inject memory failures: not here.
        assert_eq!(Advice::from_linux(100), None);
        assert_eq!(Advice::from_linux(101), None);
    }
}
