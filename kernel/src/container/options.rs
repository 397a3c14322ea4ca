//! The sandbox options of the kernel command line (`overlay=`, `file_access=`,
//! `file_access_mounts=`): their values, defaults and names.
//!
//! Sits under `plan`, which reads them; `crate::options` parses the command line and stores
//! a [`SandboxOptions`]. Kept apart from that parser because the plan is about containers,
//! not about command lines.

/// `overlay=`: where a memory (tmpfs) upper layer goes, so the container's writes never
/// reach the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    /// Writes go to the host (read-only mounts stay read-only).
    None,
    /// Over a writable root (the default).
    Root,
    /// Over a writable root and every writable bind mount.
    All,
}

/// `file_access=` / `file_access_mounts=`: may the kernel trust its caches of the host's files?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileAccess {
    /// Only this sandbox changes the files: cache attributes and dentries.
    Exclusive,
    /// Others may change them too: revalidate against the host.
    Shared,
}

impl Overlay {
    pub const EXPECTED: &'static str = "none|root|all";

    pub fn from_name(name: &str) -> Option<Overlay> {
        Some(match name {
            "none" => Overlay::None,
            "root" => Overlay::Root,
            "all" => Overlay::All,
            _ => return None,
        })
    }
}

impl FileAccess {
    pub const EXPECTED: &'static str = "exclusive|shared";

    pub fn from_name(name: &str) -> Option<FileAccess> {
        Some(match name {
            "exclusive" => FileAccess::Exclusive,
            "shared" => FileAccess::Shared,
            _ => return None,
        })
    }
}

/// What the plan compiler needs from the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SandboxOptions {
    pub overlay: Overlay,
    /// For the root.
    pub file_access: FileAccess,
    /// For bind mounts.
    pub file_access_mounts: FileAccess,
}

impl Default for SandboxOptions {
    /// gVisor's defaults: the root is the sandbox's own, bind mounts are shared with the host.
    fn default() -> Self {
        SandboxOptions {
            overlay: Overlay::Root,
            file_access: FileAccess::Exclusive,
            file_access_mounts: FileAccess::Shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_expected() {
        for name in Overlay::EXPECTED.split('|') {
            assert!(Overlay::from_name(name).is_some(), "{name}");
        }
        for name in FileAccess::EXPECTED.split('|') {
            assert!(FileAccess::from_name(name).is_some(), "{name}");
        }
        assert_eq!(Overlay::from_name("ALL"), None);
        assert_eq!(FileAccess::from_name(""), None);
    }
}
