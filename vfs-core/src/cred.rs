//! Layer 0: who is asking. Credentials are passed into every VFS operation explicitly
//! (never read from a global "current task"), so the crate stays testable and the
//! syscall layer decides which task's identity applies.

use alloc::vec::Vec;

/// The filesystem identity of a caller: Linux's fsuid, fsgid and supplementary groups.
/// Root (uid 0) is treated as holding `CAP_DAC_OVERRIDE`, `CAP_FOWNER`, `CAP_CHOWN` and
/// `CAP_FSETID`, which is what a container's root has by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

impl Credentials {
    pub fn root() -> Self {
        Credentials {
            uid: 0,
            gid: 0,
            groups: Vec::new(),
        }
    }

    pub fn user(uid: u32, gid: u32, groups: &[u32]) -> Self {
        Credentials {
            uid,
            gid,
            groups: groups.to_vec(),
        }
    }

    /// Capabilities are all-or-nothing here: root has them all, everyone else none.
    pub fn is_privileged(&self) -> bool {
        self.uid == 0
    }

    /// Linux's `in_group_p`: the primary gid or any supplementary group.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}
