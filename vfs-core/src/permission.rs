//! Layer 3: Linux's discretionary access rules (`generic_permission`, sticky directories,
//! `chown`/`chmod`/`utimensat` ownership rules, protected hard links), as pure functions
//! of credentials and a `Stat`, so every filesystem gets the same answers.

use crate::attr::{Stat, mode};
use crate::cred::{Credentials, cap};
use crate::errno::{Errno, Result};
use bitflags::bitflags;

bitflags! {
    /// What an access needs, Linux's `MAY_*` values.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Access: u32 {
        const EXEC = 1;
        const WRITE = 2;
        const READ = 4;
    }
}

/// `generic_permission`: the owner, group or other class bits decide; `CAP_DAC_OVERRIDE`
/// passes read and write always, and execute on a directory or on a file with any
/// execute bit; `CAP_DAC_READ_SEARCH` passes reading any file and reading or searching
/// any directory.
pub fn check_access(cred: &Credentials, stat: &Stat, wanted: Access) -> Result<()> {
    let class_bits = if cred.uid == stat.uid {
        stat.mode >> 6
    } else if cred.in_group(stat.gid) {
        stat.mode >> 3
    } else {
        stat.mode
    } & 0o7;
    if class_bits & wanted.bits() == wanted.bits() {
        return Ok(());
    }
    if cred.has_cap(cap::DAC_OVERRIDE)
        && (!wanted.contains(Access::EXEC) || stat.is_dir() || stat.mode & 0o111 != 0)
    {
        return Ok(());
    }
    let read_search = if stat.is_dir() {
        !wanted.contains(Access::WRITE)
    } else {
        wanted == Access::READ
    };
    if read_search && cred.has_cap(cap::DAC_READ_SEARCH) {
        return Ok(());
    }
    Err(Errno::EACCES)
}

/// Whether the caller may act as the owner (`inode_owner_or_capable`: `CAP_FOWNER`).
pub fn is_owner_or_privileged(cred: &Credentials, stat: &Stat) -> bool {
    cred.uid == stat.uid || cred.has_cap(cap::FOWNER)
}

/// The sticky-directory rule of `may_delete`: in a directory with `S_ISVTX`, only the
/// entry's owner, the directory's owner or a holder of `CAP_FOWNER` may remove or rename the entry.
pub fn check_sticky(cred: &Credentials, dir: &Stat, victim: &Stat) -> Result<()> {
    if dir.mode & mode::S_ISVTX == 0
        || cred.uid == victim.uid
        || cred.uid == dir.uid
        || cred.has_cap(cap::FOWNER)
    {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// `may_linkat` with `fs.protected_hardlinks = 1` (the default on every distribution):
/// linking someone else's file needs read and write access to it, and it must be a
/// regular file that is neither setuid nor executable-setgid.
pub fn check_hardlink(cred: &Credentials, source: &Stat) -> Result<()> {
    if is_owner_or_privileged(cred, source) {
        return Ok(());
    }
    let is_regular = source.mode & mode::S_IFMT == mode::S_IFREG;
    let setuid = source.mode & mode::S_ISUID != 0;
    let exec_setgid =
        source.mode & (mode::S_ISGID | mode::S_IXGRP) == (mode::S_ISGID | mode::S_IXGRP);
    if is_regular
        && !setuid
        && !exec_setgid
        && check_access(cred, source, Access::READ | Access::WRITE).is_ok()
    {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// `chmod`: only the owner or `CAP_FOWNER`; a caller outside the file's group without
/// `CAP_FSETID` loses the setgid bit (`setattr_prepare`).
pub fn chmod_bits(cred: &Credentials, stat: &Stat, requested: u32) -> Result<u32> {
    if !is_owner_or_privileged(cred, stat) {
        return Err(Errno::EPERM);
    }
    let mut bits = requested & mode::S_IALLUGO;
    if !cred.has_cap(cap::FSETID) && !cred.in_group(stat.gid) {
        bits &= !mode::S_ISGID;
    }
    Ok(bits)
}

/// `chown_ok`/`chgrp_ok`: changing the owner needs `CAP_CHOWN`; the owner may change the group
/// to one of their own groups. Returns the permission bits after Linux's clearing of
/// setuid/setgid on a non-directory, if they change.
pub fn chown_check(
    cred: &Credentials,
    stat: &Stat,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Result<Option<u32>> {
    let uid_ok =
        uid.is_none_or(|uid| cred.has_cap(cap::CHOWN) || (uid == stat.uid && cred.uid == stat.uid));
    let gid_ok = gid.is_none_or(|gid| {
        cred.has_cap(cap::CHOWN)
            || (cred.uid == stat.uid && (gid == stat.gid || cred.in_group(gid)))
    });
    if !uid_ok || !gid_ok {
        return Err(Errno::EPERM);
    }
    if stat.is_dir() {
        return Ok(None);
    }
    let mut bits = stat.permission_bits() & !mode::S_ISUID;
    if stat.mode & mode::S_ISGID != 0
        && (stat.mode & mode::S_IXGRP != 0
            || !(cred.has_cap(cap::FSETID) || cred.in_group(gid.unwrap_or(stat.gid))))
    {
        bits &= !mode::S_ISGID;
    }
    if bits == stat.permission_bits() {
        return Ok(None);
    }
    // Clearing the bits is a mode change, which `setattr_prepare` allows only the owner.
    if !is_owner_or_privileged(cred, stat) {
        return Err(Errno::EPERM);
    }
    Ok(Some(bits))
}

/// `may_create_in_sticky` with `fs.protected_regular` and `fs.protected_fifos` at the
/// kernel's default of 0: `O_CREAT` opening an existing node that is neither a regular
/// file nor a FIFO, in a world-writable sticky directory, is refused (even to root)
/// unless the caller or the directory's owner owns it.
pub fn check_open_existing_in_sticky(
    cred: &Credentials,
    dir: &Stat,
    existing: &Stat,
) -> Result<()> {
    if dir.mode & mode::S_ISVTX == 0 {
        return Ok(());
    }
    let file_type = existing.mode & mode::S_IFMT;
    if file_type == mode::S_IFREG || file_type == mode::S_IFIFO {
        return Ok(());
    }
    if existing.uid == dir.uid || existing.uid == cred.uid || dir.mode & 0o002 == 0 {
        return Ok(());
    }
    Err(Errno::EACCES)
}

/// `file_remove_privs`/`should_remove_suid`: writing to or truncating a file as
/// someone without `CAP_FSETID` drops setuid, and setgid when group-execute is set.
/// Returns the new permission bits when something must go.
pub fn bits_after_modification(cred: &Credentials, stat: &Stat) -> Option<u32> {
    if cred.has_cap(cap::FSETID) || stat.mode & mode::S_IFMT != mode::S_IFREG {
        return None;
    }
    let mut bits = stat.permission_bits() & !mode::S_ISUID;
    if stat.mode & mode::S_IXGRP != 0 {
        bits &= !mode::S_ISGID;
    }
    (bits != stat.permission_bits()).then_some(bits)
}

/// `utimensat`: setting both times to "now" needs ownership or write access; setting
/// any explicit time needs ownership.
pub fn check_set_times(cred: &Credentials, stat: &Stat, only_now: bool) -> Result<()> {
    if is_owner_or_privileged(cred, stat) {
        return Ok(());
    }
    if only_now {
        check_access(cred, stat, Access::WRITE)
    } else {
        Err(Errno::EPERM)
    }
}

/// Permission bits and group of a new object (`inode_init_owner` and `mode_strip_sgid`):
/// a setgid directory hands down its group, and its setgid bit to subdirectories.
pub fn new_node_owner(cred: &Credentials, parent: &Stat, perm: u32, is_dir: bool) -> (u32, u32) {
    let mut perm = perm & mode::S_IALLUGO;
    if parent.mode & mode::S_ISGID == 0 {
        return (perm, cred.gid);
    }
    let gid = parent.gid;
    if is_dir {
        perm |= mode::S_ISGID;
    } else if perm & (mode::S_ISGID | mode::S_IXGRP) == (mode::S_ISGID | mode::S_IXGRP)
        && !cred.in_group(gid)
        && !cred.has_cap(cap::FSETID)
    {
        perm &= !mode::S_ISGID;
    }
    (perm, gid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timespec;

    fn stat(mode: u32, uid: u32, gid: u32) -> Stat {
        let t = Timespec::default();
        Stat {
            dev: 0,
            ino: 1,
            mode,
            nlink: 1,
            uid,
            gid,
            rdev: 0,
            size: 0,
            blksize: 4096,
            blocks: 0,
            atime: t,
            mtime: t,
            ctime: t,
            btime: t,
        }
    }

    #[test]
    fn owner_class_decides_even_when_other_bits_would_allow() {
        // Linux checks only the first matching class: an owner with 0o077 is refused.
        let file = stat(mode::S_IFREG | 0o077, 1000, 1000);
        assert_eq!(
            check_access(&Credentials::user(1000, 1000, &[]), &file, Access::READ),
            Err(Errno::EACCES)
        );
        assert_eq!(
            check_access(&Credentials::user(1001, 1000, &[]), &file, Access::READ),
            Ok(())
        );
    }

    #[test]
    fn supplementary_groups_grant_group_class() {
        let file = stat(mode::S_IFREG | 0o640, 0, 50);
        assert_eq!(
            check_access(&Credentials::user(1000, 1000, &[50]), &file, Access::READ),
            Ok(())
        );
        assert_eq!(
            check_access(&Credentials::user(1000, 1000, &[]), &file, Access::READ),
            Err(Errno::EACCES)
        );
    }

    #[test]
    fn root_bypasses_rw_but_needs_an_exec_bit_on_files() {
        let root = Credentials::root();
        assert_eq!(
            check_access(
                &root,
                &stat(mode::S_IFREG, 5, 5),
                Access::READ | Access::WRITE
            ),
            Ok(())
        );
        assert_eq!(
            check_access(&root, &stat(mode::S_IFREG | 0o600, 5, 5), Access::EXEC),
            Err(Errno::EACCES)
        );
        assert_eq!(
            check_access(&root, &stat(mode::S_IFREG | 0o001, 5, 5), Access::EXEC),
            Ok(())
        );
        assert_eq!(
            check_access(&root, &stat(mode::S_IFDIR, 5, 5), Access::EXEC),
            Ok(())
        );
    }

    #[test]
    fn sticky_directory_protects_other_users_entries() {
        let tmp = stat(mode::S_IFDIR | 0o1777, 0, 0);
        let theirs = stat(mode::S_IFREG | 0o666, 2000, 2000);
        assert_eq!(
            check_sticky(&Credentials::user(1000, 1000, &[]), &tmp, &theirs),
            Err(Errno::EPERM)
        );
        assert_eq!(
            check_sticky(&Credentials::user(2000, 2000, &[]), &tmp, &theirs),
            Ok(())
        );
        assert_eq!(check_sticky(&Credentials::root(), &tmp, &theirs), Ok(()));
    }

    #[test]
    fn chown_rules_follow_linux() {
        let file = stat(mode::S_IFREG | 0o6755, 1000, 1000);
        let user = Credentials::user(1000, 1000, &[7]);
        assert_eq!(chown_check(&user, &file, Some(0), None), Err(Errno::EPERM));
        assert_eq!(chown_check(&user, &file, None, Some(8)), Err(Errno::EPERM));
        // chgrp to an own group is allowed and clears setuid and (group-exec) setgid.
        assert_eq!(chown_check(&user, &file, None, Some(7)), Ok(Some(0o755)));
        assert_eq!(
            chown_check(&Credentials::root(), &file, Some(5), None),
            Ok(Some(0o755))
        );
    }

    #[test]
    fn chmod_by_non_member_drops_setgid() {
        let file = stat(mode::S_IFREG | 0o644, 1000, 50);
        assert_eq!(
            chmod_bits(&Credentials::user(1000, 1000, &[]), &file, 0o2755),
            Ok(0o755)
        );
        assert_eq!(
            chmod_bits(&Credentials::user(1000, 1000, &[50]), &file, 0o2755),
            Ok(0o2755)
        );
        assert_eq!(
            chmod_bits(&Credentials::user(1001, 1000, &[]), &file, 0o755),
            Err(Errno::EPERM)
        );
    }

    #[test]
    fn setgid_directory_passes_group_and_bit_down() {
        let dir = stat(mode::S_IFDIR | 0o2775, 0, 50);
        let user = Credentials::user(1000, 1000, &[]);
        assert_eq!(new_node_owner(&user, &dir, 0o755, true), (0o2755, 50));
        assert_eq!(new_node_owner(&user, &dir, 0o2755, false), (0o755, 50));
        assert_eq!(
            new_node_owner(&user, &stat(mode::S_IFDIR | 0o755, 0, 50), 0o644, false),
            (0o644, 1000)
        );
    }

    /// Root without capabilities is an ordinary user to the permission checks.
    fn bare_root() -> Credentials {
        Credentials {
            caps: 0,
            ..Credentials::root()
        }
    }

    fn with_caps(caps: &[u32]) -> Credentials {
        Credentials {
            caps: caps.iter().fold(0, |set, &c| set | cap::bit(c)),
            ..Credentials::root()
        }
    }

    #[test]
    fn uid_0_without_capabilities_gets_no_override() {
        let theirs = stat(mode::S_IFREG | 0o600, 5, 5);
        assert_eq!(
            check_access(&bare_root(), &theirs, Access::READ),
            Err(Errno::EACCES)
        );
        assert_eq!(
            chown_check(&bare_root(), &theirs, Some(0), None),
            Err(Errno::EPERM)
        );
        assert_eq!(chmod_bits(&bare_root(), &theirs, 0o644), Err(Errno::EPERM));
        assert_eq!(
            check_set_times(&bare_root(), &theirs, false),
            Err(Errno::EPERM)
        );
        let tmp = stat(mode::S_IFDIR | 0o1777, 7, 7);
        assert_eq!(check_sticky(&bare_root(), &tmp, &theirs), Err(Errno::EPERM));
        // Docker's default set (no CAP_DAC_READ_SEARCH) still overrides via DAC_OVERRIDE.
        assert_eq!(
            check_access(&with_caps(&[cap::DAC_OVERRIDE]), &theirs, Access::WRITE),
            Ok(())
        );
    }

    #[test]
    fn each_capability_grants_only_its_own_override() {
        let theirs = stat(mode::S_IFREG | 0o6700, 5, 5);
        let dir = stat(mode::S_IFDIR | 0o700, 5, 5);
        let read_search = with_caps(&[cap::DAC_READ_SEARCH]);
        assert_eq!(check_access(&read_search, &theirs, Access::READ), Ok(()));
        assert_eq!(
            check_access(&read_search, &theirs, Access::WRITE),
            Err(Errno::EACCES)
        );
        assert_eq!(
            check_access(&read_search, &dir, Access::READ | Access::EXEC),
            Ok(())
        );
        assert_eq!(
            check_access(&read_search, &dir, Access::WRITE),
            Err(Errno::EACCES)
        );
        let chown = with_caps(&[cap::CHOWN]);
        assert!(chown_check(&chown, &stat(mode::S_IFREG | 0o644, 5, 5), Some(7), Some(7)).is_ok());
        // CAP_CHOWN without CAP_FOWNER cannot clear the setuid bit of a foreign file.
        assert_eq!(
            chown_check(&chown, &theirs, Some(7), None),
            Err(Errno::EPERM)
        );
        let fowner = with_caps(&[cap::FOWNER]);
        assert_eq!(
            chown_check(&fowner, &theirs, Some(7), None),
            Err(Errno::EPERM)
        );
        assert_eq!(chmod_bits(&fowner, &theirs, 0o2755), Ok(0o755));
        assert_eq!(
            chmod_bits(&with_caps(&[cap::FOWNER, cap::FSETID]), &theirs, 0o2755),
            Ok(0o2755)
        );
        assert_eq!(bits_after_modification(&fowner, &theirs), Some(0o2700));
        assert_eq!(
            bits_after_modification(&with_caps(&[cap::FSETID]), &theirs),
            None
        );
    }

    #[test]
    fn protected_hardlinks_need_read_write_on_foreign_files() {
        let user = Credentials::user(1000, 1000, &[]);
        assert_eq!(
            check_hardlink(&user, &stat(mode::S_IFREG | 0o644, 0, 0)),
            Err(Errno::EPERM)
        );
        assert_eq!(
            check_hardlink(&user, &stat(mode::S_IFREG | 0o666, 0, 0)),
            Ok(())
        );
        assert_eq!(
            check_hardlink(&user, &stat(mode::S_IFREG | 0o4666, 0, 0)),
            Err(Errno::EPERM)
        );
    }
}
