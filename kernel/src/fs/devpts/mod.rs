//! Kernel filesystems: `devpts`, the pseudo-terminal filesystem mounted on `/dev/pts`.
//! Each mount is its own instance (Linux's `newinstance`): `ptmx` (5:2), which
//! `/dev/ptmx` links to and whose every open makes a new terminal pair, and one node per
//! live terminal, `N` (136:N, inode N + 3), made by the open of `ptmx` with the mount's
//! `mode`/`uid`/`gid` and removed when the master side closes. The terminals themselves
//! are the terminal layer's (`crate::tty::pty`); this module holds only names, numbers
//! and attributes, so it stays portable and host-tested.
//!
//! Lock order: `INSTANCES` → an instance's table (each a leaf otherwise).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Mutex;
use vfs_core::attr::make_dev;
use vfs_core::{CachePolicy, ClockRef, Errno, FileSystem, FileType, Result};

use super::dev::PTMX;
use super::synthetic::{
    Attributes, Directory, Entry, FIRST_COOKIE, LiveAttributes, Node, Rules, SyntheticFs,
};

/// `statfs`'s `f_type` for devpts (`DEVPTS_SUPER_MAGIC`).
pub const DEVPTS_SUPER_MAGIC: u64 = 0x1cd1;
/// `NR_UNIX98_PTY_MAX`: the default and the largest `max=`.
const PTY_MAX: u32 = 1 << 20;
/// Linux's `kernel.pty.max` less `kernel.pty.reserve` (4096 - 1024): how many terminals
/// all instances mounted without `reserve` (every container's) may hold together.
const PTY_LIMIT: usize = 3072;
/// The major number of pseudo-terminal slaves (`UNIX98_PTY_SLAVE_MAJOR`).
pub const PTS_MAJOR: u32 = 136;
/// The root's and `ptmx`'s inode numbers, as Linux numbers them; terminal N is N + 3.
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
            if !options.set(option)? {
                log::warn!(target: "devpts", "ignoring unsupported mount option {option:?}");
            }
        }
        Ok(options)
    }

    /// What Docker and runc mount: `newinstance,ptmxmode=0666,mode=0620,gid=5` (the
    /// sandbox's `/dev/pts` when the spec has none).
    pub fn docker() -> DevptsOptions {
        DevptsOptions {
            gid: Some(5),
            mode: 0o620,
            ptmx_mode: 0o666,
            ..DevptsOptions::default()
        }
    }

    /// Reads one `key=value` (or bare `key`) option; `Ok(false)` for one devpts does not
    /// know, `Err(EINVAL)` for a bad value.
    pub fn set(&mut self, option: &str) -> Result<bool> {
        let (key, value) = option
            .split_once('=')
            .map_or((option, None), |(key, value)| (key, Some(value)));
        match (key, value) {
            ("newinstance", None) => {}
            ("uid", Some(value)) => self.uid = Some(parse_number(value, 10)?),
            ("gid", Some(value)) => self.gid = Some(parse_number(value, 10)?),
            ("mode", Some(value)) => self.mode = parse_number(value, 8)? & 0o7777,
            ("ptmxmode", Some(value)) => self.ptmx_mode = parse_number(value, 8)? & 0o7777,
            ("max", Some(value)) => {
                self.max = parse_number(value, 10)?;
                if self.max > PTY_MAX {
                    return Err(Errno::EINVAL);
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
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

/// Terminals in all instances (Linux's `pty_count`).
static PTY_COUNT: AtomicUsize = AtomicUsize::new(0);

/// One terminal's node: its attributes, and the terminal layer's object behind it.
struct Pts {
    attributes: Arc<LiveAttributes>,
    terminal: Weak<dyn Any + Send + Sync>,
}

/// One mounted devpts: its options and its terminals by number.
pub struct Instance {
    options: DevptsOptions,
    dev: u64,
    clock: ClockRef,
    ptys: Mutex<BTreeMap<u32, Pts>>,
}

/// Every instance by device number (`st_dev`), so an open of one of its nodes finds it.
static INSTANCES: Mutex<BTreeMap<u64, Weak<Instance>>> = Mutex::new(BTreeMap::new());

impl Instance {
    pub fn dev(&self) -> u64 {
        self.dev
    }

    /// A new terminal's number (`devpts_new_index`: the lowest free one) and its node
    /// (`devpts_pty_new`): owned by the mount's `uid=`/`gid=` or else by `uid`/`gid` (the
    /// opener's), with the mount's `mode=`. `ENOSPC` past `max=` or the system's limit.
    /// The node leads nowhere until [`Instance::attach`] names the terminal.
    pub fn allocate(&self, uid: u32, gid: u32) -> Result<u32> {
        let mut ptys = self.ptys.lock();
        if PTY_COUNT.load(Ordering::Relaxed) >= PTY_LIMIT {
            return Err(Errno::ENOSPC);
        }
        let index = (0..self.options.max)
            .find(|index| !ptys.contains_key(index))
            .ok_or(Errno::ENOSPC)?;
        let now = self.clock.now();
        let attributes = Attributes {
            perm: self.options.mode,
            uid: self.options.uid.unwrap_or(uid),
            gid: self.options.gid.unwrap_or(gid),
            atime: now,
            mtime: now,
            ctime: now,
        };
        let nothing: Weak<dyn Any + Send + Sync> = Weak::<()>::new();
        ptys.insert(
            index,
            Pts {
                attributes: Arc::new(Mutex::new(attributes)),
                terminal: nothing,
            },
        );
        PTY_COUNT.fetch_add(1, Ordering::Relaxed);
        Ok(index)
    }

    /// Names the terminal behind node `index`.
    pub fn attach(&self, index: u32, terminal: Weak<dyn Any + Send + Sync>) {
        if let Some(pts) = self.ptys.lock().get_mut(&index) {
            pts.terminal = terminal;
        }
    }

    /// Removes node `index` and frees its number (`devpts_pty_kill`, `devpts_kill_index`).
    pub fn remove(&self, index: u32) {
        if self.ptys.lock().remove(&index).is_some() {
            PTY_COUNT.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The terminal behind node `index`, while it lives.
    pub fn terminal(&self, index: u32) -> Option<Arc<dyn Any + Send + Sync>> {
        self.ptys.lock().get(&index)?.terminal.upgrade()
    }

    fn node(index: u32, pts: &Pts) -> Node {
        Node::device(
            u64::from(index) + 3,
            0,
            FileType::CharDevice,
            make_dev(PTS_MAJOR, index),
        )
        .with_live_attributes(pts.attributes.clone())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        PTY_COUNT.fetch_sub(self.ptys.lock().len(), Ordering::Relaxed);
    }
}

/// The instance whose filesystem has device number `dev`.
pub fn instance_by_dev(dev: u64) -> Option<Arc<Instance>> {
    let mut instances = INSTANCES.lock();
    instances.retain(|_, instance| instance.strong_count() > 0);
    instances.get(&dev).and_then(Weak::upgrade)
}

/// The oldest instance still mounted: the container's `/dev/pts`, where an open of a
/// `ptmx` node outside any devpts makes its terminal (Linux's fallback to the initial
/// instance).
pub fn first_instance() -> Option<Arc<Instance>> {
    let mut instances = INSTANCES.lock();
    instances.retain(|_, instance| instance.strong_count() > 0);
    instances.values().find_map(Weak::upgrade)
}

/// The root: `ptmx`, then the live terminals in number order.
struct Root {
    instance: Arc<Instance>,
    ptmx: Node,
}

impl Directory for Root {
    fn entries(&self) -> Vec<Entry> {
        let mut entries = alloc::vec![Entry {
            name: b"ptmx".to_vec(),
            cookie: FIRST_COOKIE,
            node: self.ptmx.clone(),
        }];
        let ptys = self.instance.ptys.lock();
        entries.extend(ptys.iter().map(|(&index, pts)| Entry {
            name: format!("{index}").into_bytes(),
            cookie: FIRST_COOKIE + 1 + u64::from(index),
            node: Instance::node(index, pts),
        }));
        entries
    }

    fn lookup(&self, name: &[u8]) -> Option<Node> {
        if name == b"ptmx" {
            return Some(self.ptmx.clone());
        }
        let text = core::str::from_utf8(name).ok()?;
        // The names are canonical decimals: "07" is no terminal's.
        if text.is_empty() || (text.len() > 1 && text.starts_with('0')) {
            return None;
        }
        let index: u32 = text.parse().ok()?;
        let ptys = self.instance.ptys.lock();
        ptys.get(&index).map(|pts| Instance::node(index, pts))
    }
}

/// A new devpts instance: the root (0755) holding `ptmx`, a root-owned character node
/// 5:2 with `ptmxmode`'s permissions, and the terminals opened through it.
pub fn new(options: &DevptsOptions, dev: u64, clock: ClockRef) -> Arc<dyn FileSystem> {
    new_instance(options, dev, clock).1
}

/// As [`new`], with the instance.
pub fn new_instance(
    options: &DevptsOptions,
    dev: u64,
    clock: ClockRef,
) -> (Arc<Instance>, Arc<dyn FileSystem>) {
    let rules = Rules {
        fs_type: "devpts",
        magic: DEVPTS_SUPER_MAGIC,
        // Terminals come and go: the walk asks the directory again.
        cache_policy: CachePolicy::Revalidate,
        file_size: 0,
        block_size: 1024,
        refuse_write_open: None,
        write_without_writer: Errno::EIO,
    };
    let instance = Arc::new(Instance {
        options: options.clone(),
        dev,
        clock: clock.clone(),
        ptys: Mutex::new(BTreeMap::new()),
    });
    INSTANCES.lock().insert(dev, Arc::downgrade(&instance));
    let ptmx = Node::device(PTMX_INO, options.ptmx_mode, FileType::CharDevice, PTMX);
    let root = Node::directory(
        ROOT_INO,
        0o755,
        Root {
            instance: instance.clone(),
            ptmx,
        },
    );
    let fs = SyntheticFs::new(rules, root, options.to_mount_options(), dev, clock);
    (instance, fs)
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
        assert_eq!(options, DevptsOptions::docker());
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
        let mounts = String::from_utf8(context.ns.proc_mounts(&context.root).unwrap()).unwrap();
        assert!(
            mounts.contains(
                "devpts /dev/pts devpts rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=666 0 0\n"
            ),
            "{mounts}"
        );
    }

    #[test]
    fn a_terminal_appears_with_the_mount_mode_and_gid_and_goes() {
        let (instance, fs) = new_instance(
            &DevptsOptions::parse(DOCKER).unwrap(),
            9,
            crate::fs::testing::clock(),
        );
        let context = mounted_at("/pts", fs, MountFlags::empty());
        let index = instance.allocate(1000, 1000).unwrap();
        assert_eq!(index, 0);
        let owner: Arc<dyn Any + Send + Sync> = Arc::new(42u32);
        instance.attach(index, Arc::downgrade(&owner));
        assert!(instance.terminal(0).is_some());
        assert_eq!(names(&context, "/pts"), [".", "..", "ptmx", "0"]);
        let stat = context.stat(At::Cwd, b"/pts/0", false).unwrap();
        assert_eq!(stat.mode, 0o020620);
        assert_eq!((stat.uid, stat.gid, stat.ino), (1000, 5, 3));
        assert_eq!((dev_major(stat.rdev), dev_minor(stat.rdev)), (136, 0));
        assert!(context.stat(At::Cwd, b"/pts/00", false).is_err());
        instance.remove(index);
        assert_eq!(names(&context, "/pts"), [".", "..", "ptmx"]);
        assert_eq!(
            context.stat(At::Cwd, b"/pts/0", false).map(|_| ()),
            Err(Errno::ENOENT)
        );
        assert!(instance.terminal(0).is_none());
    }

    #[test]
    fn numbers_are_the_lowest_free_and_max_is_enforced() {
        let (instance, _fs) = new_instance(
            &DevptsOptions::parse("max=2").unwrap(),
            10,
            crate::fs::testing::clock(),
        );
        assert_eq!(instance.allocate(0, 0), Ok(0));
        assert_eq!(instance.allocate(0, 0), Ok(1));
        assert_eq!(instance.allocate(0, 0), Err(Errno::ENOSPC));
        instance.remove(0);
        assert_eq!(instance.allocate(0, 0), Ok(0));
        assert!(instance_by_dev(10).is_some());
    }

    #[test]
    fn a_terminal_node_takes_chmod_and_chown() {
        let (instance, fs) =
            new_instance(&DevptsOptions::default(), 11, crate::fs::testing::clock());
        let context = mounted_at("/pts", fs, MountFlags::empty());
        instance.allocate(0, 0).unwrap();
        context.chmod(At::Cwd, b"/pts/0", 0o620).unwrap();
        context
            .chown(At::Cwd, b"/pts/0", Some(7), Some(5), true)
            .unwrap();
        let stat = context.stat(At::Cwd, b"/pts/0", false).unwrap();
        assert_eq!((stat.mode, stat.uid, stat.gid), (0o020620, 7, 5));
        // ptmx stays as the mount made it.
        assert!(context.chmod(At::Cwd, b"/pts/ptmx", 0o666).is_err());
    }
}
