//! Kernel filesystems: `devpts`, the pseudo-terminal filesystem mounted on `/dev/pts`.
//! Today it holds only `ptmx` (5:2), the multiplexer `/dev/ptmx` links to; terminals
//! appear here once the kernel has them. Built on the synthetic filesystem.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use vfs_core::{CachePolicy, ClockRef, Errno, FileSystem, FileType, Result};

use super::dev::PTMX;
use super::synthetic::{FixedDir, Node, Rules, SyntheticFs};

/// `statfs`'s `f_type` for devpts (`DEVPTS_SUPER_MAGIC`).
pub const DEVPTS_SUPER_MAGIC: u64 = 0x1cd1;
/// `NR_UNIX98_PTY_MAX`: the default and the largest `max=`.
const PTY_MAX: u32 = 1 << 20;
/// The root's and `ptmx`'s inode numbers, as Linux numbers them.
const ROOT_INO: u64 = 1;
const PTMX_INO: u64 = 2;

/// The mount options Linux's devpts understands (Docker passes
/// `newinstance,ptmxmode=0666,mode=0620,gid=5`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevptsOptions {
    /// Owner of new terminals; `None`: the opener's.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Permissions of new terminals (default 0600).
    pub mode: u32,
    /// Permissions of `ptmx` (default 0000: unusable until a `ptmxmode=` says otherwise).
    pub ptmx_mode: u32,
    pub max: u32,
}

impl Default for DevptsOptions {
    fn default() -> Self {
        DevptsOptions {
            uid: None,
            gid: None,
            mode: 0o600,
            ptmx_mode: 0,
            max: PTY_MAX,
        }
    }
}

impl DevptsOptions {
    /// Parses `mount(2)` data. A bad value for a known option is `EINVAL`, as on Linux;
    /// `newinstance` is how every devpts behaves here (each mount is its own instance);
    /// options we do not know are ignored with a warning.
    pub fn parse(data: &str) -> Result<DevptsOptions> {
        let mut options = DevptsOptions::default();
        for option in data.split(',').filter(|option| !option.is_empty()) {
            let (key, value) = option
                .split_once('=')
                .map_or((option, None), |(key, value)| (key, Some(value)));
            match (key, value) {
                ("newinstance", None) => {}
                ("uid", Some(value)) => options.uid = Some(parse_number(value, 10)?),
                ("gid", Some(value)) => options.gid = Some(parse_number(value, 10)?),
                ("mode", Some(value)) => options.mode = parse_number(value, 8)? & 0o7777,
                ("ptmxmode", Some(value)) => options.ptmx_mode = parse_number(value, 8)? & 0o7777,
                ("max", Some(value)) => {
                    options.max = parse_number(value, 10)?;
                    if options.max > PTY_MAX {
                        return Err(Errno::EINVAL);
                    }
                }
                _ => log::warn!(target: "devpts", "ignoring unsupported mount option {option:?}"),
            }
        }
        Ok(options)
    }

    /// The filesystem's part of its `/proc/self/mounts` line, as `devpts_show_options`
    /// writes it: `uid=`/`gid=` only when given, modes always, `max=` when lowered.
    pub fn to_mount_options(&self) -> String {
        let mut parts = Vec::new();
        if let Some(uid) = self.uid {
            parts.push(format!("uid={uid}"));
        }
        if let Some(gid) = self.gid {
            parts.push(format!("gid={gid}"));
        }
        parts.push(format!("mode={:03o}", self.mode));
        parts.push(format!("ptmxmode={:03o}", self.ptmx_mode));
        if self.max < PTY_MAX {
            parts.push(format!("max={}", self.max));
        }
        parts.join(",")
    }
}

fn parse_number(text: &str, radix: u32) -> Result<u32> {
    u32::from_str_radix(text, radix).map_err(|_| Errno::EINVAL)
}

/// A new devpts instance: the root (0755) holding `ptmx`, a root-owned character node
/// 5:2 with `ptmxmode`'s permissions.
pub fn new(options: &DevptsOptions, dev: u64, clock: ClockRef) -> Arc<dyn FileSystem> {
    let rules = Rules {
        fs_type: "devpts",
        magic: DEVPTS_SUPER_MAGIC,
        cache_policy: CachePolicy::Exclusive,
        file_size: 0,
        block_size: 1024,
        refuse_write_open: None,
        write_without_writer: Errno::EIO,
    };
    let ptmx = Node::device(PTMX_INO, options.ptmx_mode, FileType::CharDevice, PTMX);
    let root = Node::directory(ROOT_INO, 0o755, FixedDir::new().with("ptmx", ptmx));
    SyntheticFs::new(rules, root, options.to_mount_options(), dev, clock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::testing::{mounted_at, names};
    use vfs_core::attr::{dev_major, dev_minor};
    use vfs_core::{At, MountFlags};

    const DOCKER: &str = "newinstance,ptmxmode=0666,mode=0620,gid=5";

    #[test]
    fn docker_options_parse_and_show_as_linux_shows_them() {
        let options = DevptsOptions::parse(DOCKER).unwrap();
        assert_eq!(
            options,
            DevptsOptions {
                uid: None,
                gid: Some(5),
                mode: 0o620,
                ptmx_mode: 0o666,
                max: PTY_MAX
            }
        );
        assert_eq!(options.to_mount_options(), "gid=5,mode=620,ptmxmode=666");
    }

    #[test]
    fn defaults_show_mode_600_and_ptmxmode_000() {
        assert_eq!(
            DevptsOptions::parse("").unwrap().to_mount_options(),
            "mode=600,ptmxmode=000"
        );
        assert_eq!(
            DevptsOptions::parse("uid=1000,max=64")
                .unwrap()
                .to_mount_options(),
            "uid=1000,mode=600,ptmxmode=000,max=64"
        );
    }

    #[test]
    fn bad_values_are_einval_and_unknown_options_are_ignored() {
        assert_eq!(DevptsOptions::parse("mode=0999"), Err(Errno::EINVAL));
        assert_eq!(DevptsOptions::parse("gid=staff"), Err(Errno::EINVAL));
        assert_eq!(DevptsOptions::parse("max=2000000"), Err(Errno::EINVAL));
        assert_eq!(
            DevptsOptions::parse("nosuchoption,gid=5").unwrap().gid,
            Some(5)
        );
    }

    #[test]
    fn ptmx_is_char_5_2_with_ptmxmode_and_root_owned() {
        let fs = new(
            &DevptsOptions::parse(DOCKER).unwrap(),
            7,
            crate::fs::testing::clock(),
        );
        let context = mounted_at("/pts", fs, MountFlags::NOSUID | MountFlags::NOEXEC);
        let stat = context.stat(At::Cwd, b"/pts/ptmx", false).unwrap();
        assert_eq!(stat.mode, 0o020666);
        assert_eq!((dev_major(stat.rdev), dev_minor(stat.rdev)), (5, 2));
        assert_eq!((stat.uid, stat.gid, stat.ino), (0, 0, 2));
        assert_eq!(names(&context, "/pts"), [".", "..", "ptmx"]);
        assert_eq!(
            context.stat(At::Cwd, b"/pts", false).unwrap().mode,
            0o040755
        );
    }

    #[test]
    fn default_ptmx_is_mode_0000_like_linux() {
        let fs = new(&DevptsOptions::default(), 7, crate::fs::testing::clock());
        let context = mounted_at("/pts", fs, MountFlags::empty());
        assert_eq!(
            context.stat(At::Cwd, b"/pts/ptmx", false).unwrap().mode,
            0o020000
        );
    }

    #[test]
    fn statfs_and_mounts_line_identify_devpts() {
        let fs = new(
            &DevptsOptions::parse(DOCKER).unwrap(),
            7,
            crate::fs::testing::clock(),
        );
        let context = mounted_at("/dev/pts", fs, MountFlags::NOSUID | MountFlags::NOEXEC);
        assert_eq!(
            context.statfs(At::Cwd, b"/dev/pts").unwrap().fs_type,
            0x1cd1
        );
        let mounts = String::from_utf8(context.ns.proc_mounts(&context.root)).unwrap();
        assert!(
            mounts.contains(
                "devpts /dev/pts devpts rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=666 0 0\n"
            ),
            "{mounts}"
        );
    }
}
