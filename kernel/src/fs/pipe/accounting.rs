//! Linux's per-user pipe accounting (`fs.pipe-user-pages-soft` and `-hard`): every pipe
//! charges its capacity, in pages, to the user who made it. Past the soft limit a new pipe
//! of an unprivileged user gets two pages instead of sixteen, past the hard limit none is
//! made (`ENFILE`), and past either an unprivileged `F_SETPIPE_SZ` that grows a pipe is
//! `EPERM`. Privileged is `CAP_SYS_RESOURCE` or `CAP_SYS_ADMIN` (Linux's
//! `pipe_is_unprivileged_user`). The limits are the spec's `linux.sysctl` values when it
//! sets them; `/proc/sys/fs` shows them.
//!
//! The minimum is two pages as in Linux since 5.16 (`PIPE_MIN_DEF_BUFFERS`), the kernel
//! this one reports being; pipe(7)'s "one page" describes older kernels.
//!
//! Pure bookkeeping, host-tested; one lock, a leaf (nothing is locked or allocated from
//! the budget under it).

use alloc::collections::BTreeMap;

use spin::Mutex;
use vfs_core::Errno;

/// Pages of a new pipe (`PIPE_DEF_BUFFERS`).
pub const DEFAULT_PAGES: u64 = 16;
/// Pages of a new pipe past the soft limit (`PIPE_MIN_DEF_BUFFERS`).
pub const MIN_PAGES: u64 = 2;
/// Linux's default soft limit: 16 pages for each of 1024 descriptors.
pub const DEFAULT_SOFT_LIMIT: u64 = 16 * 1024;
/// Linux's default hard limit: none (0).
pub const DEFAULT_HARD_LIMIT: u64 = 0;

/// Who makes a pipe, and whether the limits bind them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The real user id (Linux's `current_user()`).
    pub uid: u32,
    /// Holds `CAP_SYS_RESOURCE` or `CAP_SYS_ADMIN`.
    pub privileged: bool,
}

struct Inner {
    soft: u64,
    hard: u64,
    pages: BTreeMap<u32, u64>,
}

impl Inner {
    fn over(limit: u64, pages: u64) -> bool {
        limit != 0 && pages > limit
    }

    fn add(&mut self, uid: u32, pages: u64) -> u64 {
        let user = self.pages.entry(uid).or_insert(0);
        *user += pages;
        *user
    }

    fn remove(&mut self, uid: u32, pages: u64) {
        if let Some(user) = self.pages.get_mut(&uid) {
            *user = user.saturating_sub(pages);
            if *user == 0 {
                self.pages.remove(&uid);
            }
        }
    }
}

/// The pages each user's pipes hold, and the limits.
pub struct PipeUsers {
    inner: Mutex<Inner>,
}

/// The kernel's one account book.
pub static PIPE_USERS: PipeUsers = PipeUsers::new();

impl PipeUsers {
    pub const fn new() -> PipeUsers {
        PipeUsers {
            inner: Mutex::new(Inner {
                soft: DEFAULT_SOFT_LIMIT,
                hard: DEFAULT_HARD_LIMIT,
                pages: BTreeMap::new(),
            }),
        }
    }

    /// Sets `fs.pipe-user-pages-soft` and `-hard` (0: no limit).
    pub fn set_limits(&self, soft: u64, hard: u64) {
        let mut inner = self.inner.lock();
        inner.soft = soft;
        inner.hard = hard;
    }

    /// `(soft, hard)`.
    pub fn limits(&self) -> (u64, u64) {
        let inner = self.inner.lock();
        (inner.soft, inner.hard)
    }

    /// The pages `uid`'s pipes hold.
    pub fn pages_of(&self, uid: u32) -> u64 {
        self.inner.lock().pages.get(&uid).copied().unwrap_or(0)
    }

    /// A new pipe's account (Linux's `alloc_pipe_info`): sixteen pages, two past the soft
    /// limit, `ENFILE` past the hard one (for an unprivileged owner).
    pub fn open(&'static self, owner: Owner) -> Result<PipeAccount, Errno> {
        let mut inner = self.inner.lock();
        let mut pages = DEFAULT_PAGES;
        let mut held = inner.add(owner.uid, pages);
        if Inner::over(inner.soft, held) && !owner.privileged {
            inner.remove(owner.uid, pages - MIN_PAGES);
            held -= pages - MIN_PAGES;
            pages = MIN_PAGES;
        }
        if Inner::over(inner.hard, held) && !owner.privileged {
            inner.remove(owner.uid, pages);
            return Err(Errno::ENFILE);
        }
        Ok(PipeAccount {
            users: self,
            uid: owner.uid,
            pages,
        })
    }
}

impl Default for PipeUsers {
    fn default() -> Self {
        Self::new()
    }
}

/// One pipe's pages on its owner's account, given back when dropped.
pub struct PipeAccount {
    users: &'static PipeUsers,
    uid: u32,
    pages: u64,
}

impl core::fmt::Debug for PipeAccount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PipeAccount")
            .field("uid", &self.uid)
            .field("pages", &self.pages)
            .finish()
    }
}

impl PipeAccount {
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// `F_SETPIPE_SZ`'s accounting (Linux's `pipe_set_size`): the account moves to
    /// `pages`; growing it past either limit is `EPERM` unless the caller is
    /// `privileged`, with nothing changed.
    pub fn resize(&mut self, pages: u64, privileged: bool) -> Result<(), Errno> {
        let mut inner = self.users.inner.lock();
        inner.remove(self.uid, self.pages);
        let held = inner.add(self.uid, pages);
        let over = Inner::over(inner.hard, held) || Inner::over(inner.soft, held);
        if pages > self.pages && over && !privileged {
            inner.remove(self.uid, pages);
            inner.add(self.uid, self.pages);
            return Err(Errno::EPERM);
        }
        self.pages = pages;
        Ok(())
    }
}

impl Drop for PipeAccount {
    fn drop(&mut self) {
        self.users.inner.lock().remove(self.uid, self.pages);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::vec::Vec;

    fn book(soft: u64, hard: u64) -> &'static PipeUsers {
        let users = Box::leak(Box::new(PipeUsers::new()));
        users.set_limits(soft, hard);
        users
    }

    const USER: Owner = Owner {
        uid: 1000,
        privileged: false,
    };
    const ROOT: Owner = Owner {
        uid: 0,
        privileged: true,
    };

    #[test]
    fn past_the_soft_limit_new_pipes_get_two_pages() {
        let users = book(40, 0);
        let pipes: Vec<PipeAccount> = (0..4).map(|_| users.open(USER).unwrap()).collect();
        let pages: Vec<u64> = pipes.iter().map(PipeAccount::pages).collect();
        // 16 + 16 = 32 fits; a third would make 48 > 40: two pages, then two more.
        assert_eq!(pages, [16, 16, 2, 2]);
        assert_eq!(users.pages_of(1000), 36);
        // The limits bind each user alone, and not the privileged.
        assert_eq!(users.open(Owner { uid: 1001, ..USER }).unwrap().pages(), 16);
        assert_eq!(users.open(ROOT).unwrap().pages(), 16);
        drop(pipes);
        assert_eq!(
            users.pages_of(1000),
            0,
            "closed pipes give their pages back"
        );
        assert_eq!(users.pages_of(0), 0);
    }

    #[test]
    fn past_the_hard_limit_no_pipe_is_made() {
        let users = book(0, 33);
        let first = users.open(USER).unwrap();
        let second = users.open(USER).unwrap();
        assert_eq!(users.open(USER).unwrap_err(), Errno::ENFILE);
        assert_eq!(users.pages_of(1000), 32, "the refused pipe took nothing");
        assert_eq!(users.open(ROOT).unwrap().pages(), 16);
        drop((first, second));
        assert!(users.open(USER).is_ok());
    }

    #[test]
    fn growing_past_a_limit_is_eperm_shrinking_always_works() {
        let users = book(64, 0);
        let mut pipe = users.open(USER).unwrap();
        assert_eq!(pipe.resize(64, false), Ok(()));
        assert_eq!(pipe.resize(128, false), Err(Errno::EPERM));
        assert_eq!(users.pages_of(1000), 64, "nothing changed");
        assert_eq!(pipe.resize(1, false), Ok(()));
        assert_eq!(users.pages_of(1000), 1);
        assert_eq!(pipe.resize(256, true), Ok(()), "CAP_SYS_RESOURCE passes");
        let hard = book(0, 16);
        let mut pipe = hard.open(USER).unwrap();
        assert_eq!(pipe.resize(32, false), Err(Errno::EPERM));
        assert_eq!(pipe.resize(8, false), Ok(()));
        assert_eq!(hard.pages_of(1000), 8);
    }
}
