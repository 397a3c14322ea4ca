//! Layer 0: who is asking. Credentials are passed into every VFS operation explicitly
//! (never read from a global "current task"), so the crate stays testable and the
//! syscall layer decides which task's identity applies.

use alloc::vec::Vec;

/// Linux's capability numbers (`include/uapi/linux/capability.h`), as bits of a set.
pub mod cap {
    pub const CHOWN: u32 = 0;
    pub const DAC_OVERRIDE: u32 = 1;
    pub const DAC_READ_SEARCH: u32 = 2;
    pub const FOWNER: u32 = 3;
    pub const FSETID: u32 = 4;
    pub const KILL: u32 = 5;
    pub const SETGID: u32 = 6;
    pub const SETUID: u32 = 7;
    pub const SETPCAP: u32 = 8;
    pub const LINUX_IMMUTABLE: u32 = 9;
    pub const NET_BIND_SERVICE: u32 = 10;
    pub const NET_BROADCAST: u32 = 11;
    pub const NET_ADMIN: u32 = 12;
    pub const NET_RAW: u32 = 13;
    pub const IPC_LOCK: u32 = 14;
    pub const IPC_OWNER: u32 = 15;
    pub const SYS_MODULE: u32 = 16;
    pub const SYS_RAWIO: u32 = 17;
    pub const SYS_CHROOT: u32 = 18;
    pub const SYS_PTRACE: u32 = 19;
    pub const SYS_PACCT: u32 = 20;
    pub const SYS_ADMIN: u32 = 21;
    pub const SYS_BOOT: u32 = 22;
    pub const SYS_NICE: u32 = 23;
    pub const SYS_RESOURCE: u32 = 24;
    pub const SYS_TIME: u32 = 25;
    pub const SYS_TTY_CONFIG: u32 = 26;
    pub const MKNOD: u32 = 27;
    pub const LEASE: u32 = 28;
    pub const AUDIT_WRITE: u32 = 29;
    pub const AUDIT_CONTROL: u32 = 30;
    pub const SETFCAP: u32 = 31;
    pub const MAC_OVERRIDE: u32 = 32;
    pub const MAC_ADMIN: u32 = 33;
    pub const SYSLOG: u32 = 34;
    pub const WAKE_ALARM: u32 = 35;
    pub const BLOCK_SUSPEND: u32 = 36;
    pub const AUDIT_READ: u32 = 37;
    pub const PERFMON: u32 = 38;
    pub const BPF: u32 = 39;
    pub const CHECKPOINT_RESTORE: u32 = 40;
    /// `/proc/sys/kernel/cap_last_cap`.
    pub const LAST_CAP: u32 = CHECKPOINT_RESTORE;
    /// Every capability Linux 6.1 knows.
    pub const ALL: u64 = (1u64 << (LAST_CAP + 1)) - 1;

    /// The names, by number, as the OCI spec and `capsh` spell them.
    pub const NAMES: [&str; LAST_CAP as usize + 1] = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];

    /// The bit of one capability.
    pub const fn bit(cap: u32) -> u64 {
        1u64 << cap
    }

    /// A capability by its `CAP_*` name.
    pub fn by_name(name: &str) -> Option<u32> {
        NAMES
            .iter()
            .position(|known| *known == name)
            .map(|n| n as u32)
    }
}

/// The filesystem identity of a caller: Linux's fsuid, fsgid, supplementary groups and
/// effective capability set (the capabilities the permission checks consult:
/// `CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH`, `CAP_FOWNER`, `CAP_CHOWN`, `CAP_FSETID`,
/// `CAP_MKNOD`, `CAP_SYS_CHROOT`, `CAP_SYS_ADMIN`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// Effective capabilities, one bit per [`cap`] number.
    pub caps: u64,
}

impl Credentials {
    /// The kernel's own identity: uid 0 with every capability.
    pub fn root() -> Self {
        Credentials {
            uid: 0,
            gid: 0,
            groups: Vec::new(),
            caps: cap::ALL,
        }
    }

    /// An ordinary user: no capabilities.
    pub fn user(uid: u32, gid: u32, groups: &[u32]) -> Self {
        Credentials {
            uid,
            gid,
            groups: groups.to_vec(),
            caps: 0,
        }
    }

    /// `capable(cap)`: whether the effective set holds `cap`.
    pub fn has_cap(&self, cap: u32) -> bool {
        self.caps & cap::bit(cap) != 0
    }

    /// Linux's `in_group_p`: the primary gid or any supplementary group.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}
