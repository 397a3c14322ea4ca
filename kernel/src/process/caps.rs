//! A process's capability state and Linux's rules for changing it (capabilities(7)):
//! the five sets, the securebits and `no_new_privs`; the transitions of `execve` (a file
//! without file capabilities: the sandbox honours no setuid bits or xattrs) and of the
//! `set*uid` calls; the rules of `capset` and of `prctl`'s capability operations.
//!
//! Portable (host-tested): the syscall layer decodes the arguments and calls these.

use vfs_core::Errno;
use vfs_core::cap::{self, bit};

/// `SECBIT_*` of `prctl(PR_SET_SECUREBITS)`: each flag and its lock one bit above.
pub mod securebits {
    pub const NOROOT: u32 = 1 << 0;
    pub const NOROOT_LOCKED: u32 = 1 << 1;
    pub const NO_SETUID_FIXUP: u32 = 1 << 2;
    pub const NO_SETUID_FIXUP_LOCKED: u32 = 1 << 3;
    pub const KEEP_CAPS: u32 = 1 << 4;
    pub const KEEP_CAPS_LOCKED: u32 = 1 << 5;
    pub const NO_CAP_AMBIENT_RAISE: u32 = 1 << 6;
    pub const NO_CAP_AMBIENT_RAISE_LOCKED: u32 = 1 << 7;
    /// The flags and locks Linux knows.
    pub const ALL: u32 = 0xff;
}

/// The capability sets of one process (each a bit per `CAP_*` number).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
    pub securebits: u32,
    pub no_new_privs: bool,
}

/// A file's capabilities: its `security.capability` extended attribute (Linux's
/// `vfs_cap_data`, revisions 1 to 3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileCapabilities {
    pub permitted: u64,
    pub inheritable: u64,
    /// `VFS_CAP_FLAGS_EFFECTIVE`: P'(effective) = P'(permitted) after exec.
    pub effective: bool,
}

/// The extended attribute that holds them.
pub const FILE_CAPABILITIES_XATTR: &[u8] = b"security.capability";

impl FileCapabilities {
    /// Decodes `vfs_cap_data`; `None` for a value Linux would refuse (an unknown revision
    /// or a size that does not match it), which makes the exec fail with `EPERM` there.
    /// A revision-3 value's root id is the namespace root's (0) here: the sandbox has one
    /// user namespace.
    pub fn parse(value: &[u8]) -> Option<FileCapabilities> {
        const REVISION_MASK: u32 = 0xff00_0000;
        const FLAGS_EFFECTIVE: u32 = 0x0000_0001;
        let word = |index: usize| -> Option<u32> {
            let bytes = value.get(index * 4..index * 4 + 4)?;
            Some(u32::from_le_bytes(bytes.try_into().ok()?))
        };
        let magic = word(0)?;
        let (words, size) = match magic & REVISION_MASK {
            0x0100_0000 => (1, 12),
            0x0200_0000 => (2, 20),
            0x0300_0000 => (2, 24),
            _ => return None,
        };
        if value.len() != size || (size == 24 && word(5)? != 0) {
            return None;
        }
        let mut capabilities = FileCapabilities {
            effective: magic & FLAGS_EFFECTIVE != 0,
            ..FileCapabilities::default()
        };
        for index in 0..words {
            capabilities.permitted |= u64::from(word(1 + 2 * index)?) << (32 * index);
            capabilities.inheritable |= u64::from(word(2 + 2 * index)?) << (32 * index);
        }
        Some(capabilities)
    }
}

/// `PR_CAP_AMBIENT`'s operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmbientOp {
    IsSet,
    Raise,
    Lower,
    ClearAll,
}

fn valid(capability: u64) -> Result<u64, Errno> {
    if capability <= u64::from(cap::LAST_CAP) {
        Ok(bit(capability as u32))
    } else {
        Err(Errno::EINVAL)
    }
}

impl Capabilities {
    /// Every capability in every set but ambient and inheritable: the kernel's own.
    pub fn full() -> Self {
        Capabilities {
            bounding: cap::ALL,
            effective: cap::ALL,
            permitted: cap::ALL,
            ..Capabilities::default()
        }
    }

    pub fn has(&self, capability: u32) -> bool {
        self.effective & bit(capability) != 0
    }

    /// `execve` of a file without file capabilities (and no setuid bit honoured):
    /// `ruid`/`euid` are the ids the new image runs with.
    ///
    /// Linux's formula: P'(ambient) = P(ambient); P'(permitted) = (P(inheritable) &
    /// F(inheritable)) | (F(permitted) & P(bounding)) | P'(ambient), where a root
    /// process (real or effective uid 0, unless `SECBIT_NOROOT`) treats the file as
    /// having every capability in F(inheritable) and F(permitted), and an effective uid 0
    /// gets P'(effective) = P'(permitted); otherwise P'(effective) = P'(ambient). With
    /// `no_new_privs` nothing is gained: P'(permitted) is capped by P(permitted).
    /// `SECBIT_KEEP_CAPS` is cleared.
    pub fn exec(&mut self, ruid: u32, euid: u32) {
        self.exec_file(ruid, euid, None, false);
    }

    /// [`exec`](Self::exec) of a file that may carry capabilities (`security.capability`)
    /// or have made the process set-id (`setid`: the effective uid or gid changed), as
    /// Linux's `cap_bprm_creds_from_file`. `euid` is the effective uid after the file's
    /// set-user-ID bit. The file's sets give P'(permitted) = (F(permitted) & bounding) |
    /// (F(inheritable) & P(inheritable)) and its effective bit P'(effective); a root
    /// process is given the full sets unless the file has capabilities and is set-user-ID
    /// root run by another user (Linux's `handle_privileged_root`). File capabilities or
    /// a set-id exec clear the ambient set.
    pub fn exec_file(
        &mut self,
        ruid: u32,
        euid: u32,
        file: Option<&FileCapabilities>,
        setid: bool,
    ) {
        let mut permitted = file.map_or(0, |file| {
            (file.permitted & self.bounding) | (file.inheritable & self.inheritable)
        });
        let mut effective = file.is_some_and(|file| file.effective);
        let root_rules = self.securebits & securebits::NOROOT == 0;
        let setuid_root_with_file_caps = file.is_some() && euid == 0 && ruid != 0;
        if root_rules && (euid == 0 || ruid == 0) && !setuid_root_with_file_caps {
            permitted = self.bounding | self.inheritable;
            effective |= euid == 0;
        }
        let ambient = if file.is_some() || setid {
            0
        } else {
            self.ambient
        };
        permitted |= ambient;
        // Gaining permitted capabilities is what `no_new_privs` refuses.
        if self.no_new_privs && permitted & !self.permitted != 0 {
            permitted &= self.permitted;
        }
        self.ambient = ambient & permitted;
        self.permitted = permitted;
        self.effective = if effective { permitted } else { self.ambient };
        self.securebits &= !securebits::KEEP_CAPS;
    }

    /// `cap_emulate_setxuid`: the effect of a `set*uid` call (old and new real,
    /// effective and saved uids) unless `SECBIT_NO_SETUID_FIXUP`.
    pub fn after_setuid(&mut self, old: [u32; 3], new: [u32; 3]) {
        if self.securebits & securebits::NO_SETUID_FIXUP != 0 {
            return;
        }
        if old.contains(&0) && !new.contains(&0) {
            if self.securebits & securebits::KEEP_CAPS == 0 {
                self.permitted = 0;
                self.effective = 0;
            }
            self.ambient = 0;
        }
        let (old_euid, new_euid) = (old[1], new[1]);
        if old_euid == 0 && new_euid != 0 {
            self.effective = 0;
        }
        if old_euid != 0 && new_euid == 0 {
            self.effective = self.permitted;
        }
    }

    /// `capset` on the caller itself (`cap_capset`): `EPERM` when the new inheritable
    /// set is not within the old inheritable and permitted sets (unless `CAP_SETPCAP`)
    /// or within inheritable and bounding, the permitted set grows, or the effective set
    /// is not within the new permitted set. Ambient keeps only what stays permitted and
    /// inheritable.
    pub fn capset(
        &mut self,
        effective: u64,
        permitted: u64,
        inheritable: u64,
    ) -> Result<(), Errno> {
        let (effective, permitted, inheritable) = (
            effective & cap::ALL,
            permitted & cap::ALL,
            inheritable & cap::ALL,
        );
        if !self.has(cap::SETPCAP) && inheritable & !(self.inheritable | self.permitted) != 0 {
            return Err(Errno::EPERM);
        }
        if inheritable & !(self.inheritable | self.bounding) != 0
            || permitted & !self.permitted != 0
            || effective & !permitted != 0
        {
            return Err(Errno::EPERM);
        }
        self.effective = effective;
        self.permitted = permitted;
        self.inheritable = inheritable;
        self.ambient &= permitted & inheritable;
        Ok(())
    }

    /// `PR_CAPBSET_READ`.
    pub fn bounding_has(&self, capability: u64) -> Result<bool, Errno> {
        Ok(self.bounding & valid(capability)? != 0)
    }

    /// `PR_CAPBSET_DROP`: needs `CAP_SETPCAP`.
    pub fn drop_bounding(&mut self, capability: u64) -> Result<(), Errno> {
        let bit = valid(capability)?;
        if !self.has(cap::SETPCAP) {
            return Err(Errno::EPERM);
        }
        self.bounding &= !bit;
        Ok(())
    }

    /// `PR_CAP_AMBIENT`: `IS_SET` answers 0 or 1; `RAISE` needs the capability permitted
    /// and inheritable and no `SECBIT_NO_CAP_AMBIENT_RAISE` (`EPERM`).
    pub fn ambient(&mut self, op: AmbientOp, capability: u64) -> Result<u64, Errno> {
        if op == AmbientOp::ClearAll {
            self.ambient = 0;
            return Ok(0);
        }
        let bit = valid(capability)?;
        match op {
            AmbientOp::IsSet => return Ok(u64::from(self.ambient & bit != 0)),
            AmbientOp::Raise => {
                if self.permitted & self.inheritable & bit == 0
                    || self.securebits & securebits::NO_CAP_AMBIENT_RAISE != 0
                {
                    return Err(Errno::EPERM);
                }
                self.ambient |= bit;
            }
            AmbientOp::Lower => self.ambient &= !bit,
            AmbientOp::ClearAll => unreachable!(),
        }
        Ok(0)
    }

    /// `PR_SET_SECUREBITS`: needs `CAP_SETPCAP`; a locked flag cannot change and a lock
    /// cannot be released (`EPERM`); unknown bits are `EINVAL`.
    pub fn set_securebits(&mut self, bits: u64) -> Result<(), Errno> {
        if bits & !u64::from(securebits::ALL) != 0 {
            return Err(Errno::EINVAL);
        }
        let bits = bits as u32;
        let old = self.securebits;
        let locks = old & 0xaa;
        let locked_flags = locks >> 1;
        if !self.has(cap::SETPCAP) || (bits ^ old) & locked_flags != 0 || old & locks & !bits != 0 {
            return Err(Errno::EPERM);
        }
        self.securebits = bits;
        Ok(())
    }

    /// `PR_SET_KEEPCAPS`: 0 or 1; `EPERM` when the flag is locked.
    pub fn set_keep_caps(&mut self, on: u64) -> Result<(), Errno> {
        if on > 1 {
            return Err(Errno::EINVAL);
        }
        if self.securebits & securebits::KEEP_CAPS_LOCKED != 0 {
            return Err(Errno::EPERM);
        }
        if on == 1 {
            self.securebits |= securebits::KEEP_CAPS;
        } else {
            self.securebits &= !securebits::KEEP_CAPS;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(caps: &[u32]) -> u64 {
        caps.iter().fold(0, |s, &c| s | bit(c))
    }

    fn docker() -> Capabilities {
        let default = set(&[
            cap::CHOWN,
            cap::DAC_OVERRIDE,
            cap::KILL,
            cap::SETUID,
            cap::SETPCAP,
        ]);
        Capabilities {
            bounding: default,
            effective: default,
            permitted: default,
            ..Capabilities::default()
        }
    }

    #[test]
    fn root_exec_gets_the_bounding_set() {
        let mut caps = Capabilities {
            permitted: 0,
            effective: 0,
            ..docker()
        };
        caps.exec(0, 0);
        assert_eq!(caps.permitted, docker().bounding);
        assert_eq!(caps.effective, docker().bounding);
        // Real uid 0 alone: permitted, not effective.
        let mut caps = docker();
        caps.exec(0, 1000);
        assert_eq!((caps.permitted, caps.effective), (docker().bounding, 0));
    }

    #[test]
    fn no_new_privs_and_noroot_stop_root_from_gaining() {
        let mut caps = Capabilities {
            permitted: bit(cap::KILL),
            effective: 0,
            no_new_privs: true,
            ..docker()
        };
        caps.exec(0, 0);
        assert_eq!(
            (caps.permitted, caps.effective),
            (bit(cap::KILL), bit(cap::KILL))
        );
        let mut caps = Capabilities {
            securebits: securebits::NOROOT,
            ..docker()
        };
        caps.exec(0, 0);
        assert_eq!((caps.permitted, caps.effective), (0, 0));
    }

    #[test]
    fn a_non_root_exec_keeps_only_ambient() {
        let mut caps = docker();
        caps.inheritable = bit(cap::KILL);
        caps.ambient(AmbientOp::Raise, u64::from(cap::KILL))
            .unwrap();
        caps.exec(1000, 1000);
        assert_eq!(caps.permitted, bit(cap::KILL));
        assert_eq!(caps.effective, bit(cap::KILL));
        assert_eq!(caps.ambient, bit(cap::KILL));
        assert_eq!(caps.bounding, docker().bounding);
    }

    #[test]
    fn setuid_away_from_root_drops_permitted_effective_and_ambient() {
        let mut caps = docker();
        caps.after_setuid([0, 0, 0], [1000, 1000, 1000]);
        assert_eq!((caps.permitted, caps.effective, caps.ambient), (0, 0, 0));
        // KEEP_CAPS keeps permitted; effective still goes with the effective uid.
        let mut caps = docker();
        caps.set_keep_caps(1).unwrap();
        caps.after_setuid([0, 0, 0], [1000, 1000, 1000]);
        assert_eq!((caps.permitted, caps.effective), (docker().permitted, 0));
        // seteuid(1000) then back to 0: effective comes back from permitted.
        let mut caps = docker();
        caps.after_setuid([0, 0, 0], [0, 1000, 0]);
        assert_eq!((caps.permitted, caps.effective), (docker().permitted, 0));
        caps.after_setuid([0, 1000, 0], [0, 0, 0]);
        assert_eq!(caps.effective, docker().permitted);
    }

    #[test]
    fn capset_never_grows_permitted() {
        let mut caps = docker();
        assert_eq!(caps.capset(0, set(&[cap::SYS_ADMIN]), 0), Err(Errno::EPERM));
        assert_eq!(caps.capset(bit(cap::KILL), 0, 0), Err(Errno::EPERM));
        assert_eq!(caps.capset(bit(cap::KILL), bit(cap::KILL), 0), Ok(()));
        // Inheritable beyond permitted without CAP_SETPCAP (now dropped): EPERM.
        assert_eq!(
            caps.capset(0, bit(cap::KILL), bit(cap::CHOWN)),
            Err(Errno::EPERM)
        );
        assert_eq!(caps.capset(0, bit(cap::KILL), bit(cap::KILL)), Ok(()));
    }

    #[test]
    fn bounding_drop_needs_setpcap_and_ambient_needs_permitted_and_inheritable() {
        let mut caps = docker();
        assert_eq!(caps.bounding_has(u64::from(cap::KILL)), Ok(true));
        assert_eq!(caps.bounding_has(99), Err(Errno::EINVAL));
        caps.drop_bounding(u64::from(cap::KILL)).unwrap();
        assert_eq!(caps.bounding_has(u64::from(cap::KILL)), Ok(false));
        assert_eq!(
            caps.ambient(AmbientOp::Raise, u64::from(cap::CHOWN)),
            Err(Errno::EPERM)
        );
        caps.effective &= !bit(cap::SETPCAP);
        assert_eq!(caps.drop_bounding(u64::from(cap::CHOWN)), Err(Errno::EPERM));
        assert_eq!(
            caps.set_securebits(u64::from(securebits::NOROOT)),
            Err(Errno::EPERM)
        );
    }

    #[test]
    fn locked_securebits_stay() {
        let mut caps = docker();
        caps.set_securebits(u64::from(
            securebits::KEEP_CAPS | securebits::KEEP_CAPS_LOCKED,
        ))
        .unwrap();
        assert_eq!(caps.set_keep_caps(0), Err(Errno::EPERM));
        assert_eq!(caps.set_securebits(0), Err(Errno::EPERM));
        caps.exec(0, 0);
        assert_eq!(caps.securebits, securebits::KEEP_CAPS_LOCKED);
    }

    #[test]
    fn file_capabilities_decode_revisions_1_to_3_and_refuse_the_rest() {
        // setcap cap_net_raw,cap_sys_time+ep: permitted bits 13 and 25, effective.
        let mut v2 = alloc::vec::Vec::new();
        for word in [0x0200_0001u32, (1 << 13) | (1 << 25), 0, 0, 0] {
            v2.extend_from_slice(&word.to_le_bytes());
        }
        assert_eq!(
            FileCapabilities::parse(&v2),
            Some(FileCapabilities {
                permitted: (1 << 13) | (1 << 25),
                inheritable: 0,
                effective: true
            })
        );
        let mut v3 = v2.clone();
        v3[3] = 0x03;
        v3.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(FileCapabilities::parse(&v3), FileCapabilities::parse(&v2));
        let mut other_root = v3.clone();
        other_root[20] = 1;
        assert_eq!(FileCapabilities::parse(&other_root), None);
        assert_eq!(FileCapabilities::parse(&v2[..16]), None, "short");
        let mut unknown = v2.clone();
        unknown[3] = 0x04;
        assert_eq!(FileCapabilities::parse(&unknown), None);
    }

    #[test]
    fn file_capabilities_raise_an_unprivileged_process_and_clear_ambient() {
        let mut caps = Capabilities {
            bounding: vfs_core::cap::ALL,
            inheritable: 1 << 10,
            permitted: 1 << 10,
            ambient: 1 << 10,
            ..Capabilities::default()
        };
        let file = FileCapabilities {
            permitted: 1 << 13,
            inheritable: 0,
            effective: true,
        };
        caps.exec_file(1000, 1000, Some(&file), false);
        assert_eq!(
            (caps.permitted, caps.effective, caps.ambient),
            (1 << 13, 1 << 13, 0)
        );
        // Without the effective bit, permitted only.
        let mut caps = Capabilities {
            bounding: vfs_core::cap::ALL,
            ..Capabilities::default()
        };
        caps.exec_file(
            1000,
            1000,
            Some(&FileCapabilities {
                effective: false,
                ..file
            }),
            false,
        );
        assert_eq!((caps.permitted, caps.effective), (1 << 13, 0));
        // The bounding set limits what the file grants; no_new_privs refuses the gain.
        let mut caps = Capabilities::default();
        caps.exec_file(1000, 1000, Some(&file), false);
        assert_eq!(caps.permitted, 0);
        let mut caps = Capabilities {
            bounding: vfs_core::cap::ALL,
            no_new_privs: true,
            ..Capabilities::default()
        };
        caps.exec_file(1000, 1000, Some(&file), false);
        assert_eq!(caps.permitted, 0);
    }

    #[test]
    fn a_set_user_id_root_program_run_by_a_user_gets_roots_sets_and_no_ambient() {
        let mut caps = Capabilities {
            bounding: vfs_core::cap::ALL,
            ambient: 0,
            ..Capabilities::default()
        };
        caps.exec_file(1000, 0, None, true);
        assert_eq!(
            (caps.permitted, caps.effective),
            (vfs_core::cap::ALL, vfs_core::cap::ALL)
        );
        // A set-user-ID root file with file capabilities run by a user: the file's sets only.
        let mut caps = Capabilities {
            bounding: vfs_core::cap::ALL,
            ..Capabilities::default()
        };
        let file = FileCapabilities {
            permitted: 1 << 13,
            inheritable: 0,
            effective: true,
        };
        caps.exec_file(1000, 0, Some(&file), true);
        assert_eq!(caps.permitted, 1 << 13);
    }
}
