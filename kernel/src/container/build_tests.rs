//! The builder against tmpfs stand-ins for 9p, one case per DESIGN "Mount namespace" rule
//! that needs a real namespace: the table that results (`/proc/self/mounts` format) and the
//! paths that exist afterwards.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use vfs_core::file::OpenFlags;
use vfs_core::{
    At, ClockRef, Credentials, DirEntry, Errno, FileSystem, FileType, FsContext, Inode,
    ManualClock, MountNamespace, NewNode, Stat,
};

use crate::container::FileBind;
use crate::container::build::{FilesystemSource, build, mounts_text};
use crate::container::channel::Channel;
use crate::container::options::{FileAccess, SandboxOptions};
use crate::container::plan::compile;
use crate::container::spec::Spec;
use crate::fs::devpts::DevptsOptions;
use vfs_core::tmpfs::TmpfsOptions;

/// What a share holds before the boot: directories (ending in `/`), files, and symlinks
/// (`name -> target`).
type Tree = &'static [&'static str];

struct StandIns {
    clock: ClockRef,
    shares: BTreeMap<String, Arc<dyn FileSystem>>,
    readonly_root: bool,
}

fn tmpfs(clock: &ClockRef) -> Arc<dyn FileSystem> {
    vfs_core::tmpfs::new(
        &vfs_core::tmpfs::TmpfsOptions::default(),
        &vfs_core::tmpfs::TmpfsMemory::unbudgeted(1 << 30),
        0,
        clock.clone(),
    )
    .unwrap()
}

fn populate(fs: Arc<dyn FileSystem>, clock: &ClockRef, tree: Tree) -> Arc<dyn FileSystem> {
    let ns = MountNamespace::new(
        fs.clone(),
        "share",
        vfs_core::MountFlags::empty(),
        clock.clone(),
    );
    let context = FsContext::new(ns.clone(), Credentials::root());
    for entry in tree {
        if let Some((name, target)) = entry.split_once(" -> ") {
            context
                .symlink(target.as_bytes(), At::Cwd, name.as_bytes())
                .unwrap();
        } else if let Some(dir) = entry.strip_suffix('/') {
            context.mkdir(At::Cwd, dir.as_bytes(), 0o755).unwrap();
        } else {
            let file = context
                .open(
                    At::Cwd,
                    entry.as_bytes(),
                    OpenFlags::CREAT | OpenFlags::WRONLY,
                    0o644,
                )
                .unwrap();
            // `null` stands in for /dev/null: empty.
            if *entry != "null" {
                file.write(b"data").unwrap();
            }
        }
    }
    fs
}

impl StandIns {
    fn new(root: Tree, readonly_root: bool) -> Self {
        let clock: ClockRef = Arc::new(ManualClock::default());
        let mut shares = BTreeMap::new();
        shares.insert("rootfs".to_string(), populate(tmpfs(&clock), &clock, root));
        StandIns {
            clock,
            shares,
            readonly_root,
        }
    }

    fn share(mut self, tag: &str, tree: Tree) -> Self {
        let fs = populate(tmpfs(&self.clock), &self.clock, tree);
        self.shares.insert(tag.to_string(), fs);
        self
    }
}

impl FilesystemSource for StandIns {
    fn nine_p(
        &self,
        channel: Channel,
        _file_access: FileAccess,
    ) -> Result<Arc<dyn FileSystem>, Errno> {
        let fs = self
            .shares
            .get(&channel.tag())
            .cloned()
            .ok_or(Errno::ENODEV)?;
        if channel == Channel::Root && self.readonly_root {
            return Ok(Arc::new(ReadOnlyFs(fs)));
        }
        Ok(fs)
    }
    fn tmpfs(&self, options: &TmpfsOptions) -> Result<Arc<dyn FileSystem>, Errno> {
        Ok(vfs_core::tmpfs::new(
            options,
            &vfs_core::tmpfs::TmpfsMemory::unbudgeted(1 << 30),
            0,
            self.clock.clone(),
        )?)
    }
    fn overlay(&self, lower: Arc<dyn FileSystem>) -> Result<Arc<dyn FileSystem>, Errno> {
        Ok(vfs_core::overlay::OverlayFs::new(
            tmpfs(&self.clock),
            alloc::vec![lower],
            0,
            String::new(),
        )?)
    }
    fn proc(&self) -> Result<Arc<dyn FileSystem>, Errno> {
        self.tmpfs(&TmpfsOptions::default())
    }
    fn sysfs(&self) -> Result<Arc<dyn FileSystem>, Errno> {
        self.tmpfs(&TmpfsOptions::default())
    }
    fn devpts(&self, _options: &DevptsOptions) -> Result<Arc<dyn FileSystem>, Errno> {
        self.tmpfs(&TmpfsOptions::default())
    }
    fn dev(&self, options: &TmpfsOptions) -> Result<Arc<dyn FileSystem>, Errno> {
        let fs = self.tmpfs(options)?;
        Ok(populate(fs, &self.clock, &["null"]))
    }
    fn clock(&self) -> ClockRef {
        self.clock.clone()
    }
}

/// A read-only view of a filesystem, as a read-only 9p export behaves: every change is
/// `EROFS` from the filesystem itself, whatever the mount flags say.
struct ReadOnlyFs(Arc<dyn FileSystem>);
struct ReadOnlyInode(Arc<dyn Inode>);

impl FileSystem for ReadOnlyFs {
    fn fs_type(&self) -> &str {
        "9p"
    }
    fn root(&self) -> Arc<dyn Inode> {
        Arc::new(ReadOnlyInode(self.0.root()))
    }
    fn dev(&self) -> u64 {
        self.0.dev()
    }
    fn statfs(&self) -> vfs_core::Result<vfs_core::StatFs> {
        self.0.statfs()
    }
}

impl Inode for ReadOnlyInode {
    fn ino(&self) -> u64 {
        self.0.ino()
    }
    fn file_type(&self) -> FileType {
        self.0.file_type()
    }
    fn getattr(&self) -> vfs_core::Result<Stat> {
        self.0.getattr()
    }
    fn lookup(&self, name: &[u8]) -> vfs_core::Result<Arc<dyn Inode>> {
        Ok(Arc::new(ReadOnlyInode(self.0.lookup(name)?)))
    }
    fn create(&self, _name: &[u8], _node: &NewNode<'_>) -> vfs_core::Result<Arc<dyn Inode>> {
        Err(Errno::EROFS)
    }
    fn readdir(
        &self,
        offset: u64,
        sink: &mut dyn FnMut(DirEntry<'_>) -> bool,
    ) -> vfs_core::Result<()> {
        self.0.readdir(offset, sink)
    }
    fn readlink(&self) -> vfs_core::Result<Vec<u8>> {
        self.0.readlink()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> vfs_core::Result<usize> {
        self.0.read_at(offset, buf)
    }
}

fn spec(members: &str) -> Spec {
    let base = r#""ociVersion": "1.0.2", "process": {"args": ["/sbin/init"]}"#;
    let root = if members.contains("\"root\"") {
        ""
    } else {
        r#""root": {"path": "rootfs"}, "#
    };
    Spec::parse(
        alloc::format!(
            "{{{root}{base}{}{members}}}",
            if members.is_empty() { "" } else { ", " }
        )
        .as_bytes(),
    )
    .unwrap()
}

fn built(
    spec: &Spec,
    options: SandboxOptions,
    file_binds: &[FileBind],
    source: &StandIns,
) -> Arc<MountNamespace> {
    let plan = compile(spec, &options, file_binds).unwrap();
    build(&plan, source).unwrap_or_else(|error| panic!("{error}"))
}

/// The table without the options column's fs-specific tail: `source target type flags`.
fn table(ns: &MountNamespace) -> Vec<String> {
    mounts_text(ns)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let generic: Vec<&str> = fields[3]
                .split(',')
                .filter(|o| ["rw", "ro", "nosuid", "noexec", "noatime"].contains(o))
                .collect();
            alloc::format!(
                "{} {} {} {}",
                fields[0],
                fields[1],
                fields[2],
                generic.join(",")
            )
        })
        .collect()
}

fn exists(ns: &Arc<MountNamespace>, path: &str) -> Result<FileType, Errno> {
    let context = FsContext::new(ns.clone(), Credentials::root());
    Ok(context
        .resolve(At::Cwd, path.as_bytes(), false)?
        .dentry
        .positive()?
        .file_type())
}

#[test]
fn default_spec_gets_overlay_root_and_mandatory_mounts() {
    let source = StandIns::new(&["etc/", "etc/passwd"], false);
    let ns = built(&spec(""), SandboxOptions::default(), &[], &source);
    assert_eq!(
        table(&ns),
        // Parents first, by destination length; the plan's order among equals.
        [
            "overlay / overlay rw",
            "sysfs /sys tmpfs rw",
            "dev /dev tmpfs rw",
            "tmpfs /tmp tmpfs rw",
            "proc /proc tmpfs rw",
            "devpts /dev/pts tmpfs rw",
        ]
    );
    assert_eq!(exists(&ns, "/etc/passwd"), Ok(FileType::Regular));
    assert_eq!(exists(&ns, "/dev/null"), Ok(FileType::Regular));
}

#[test]
fn tmp_from_the_image_is_kept_when_it_has_files() {
    let source = StandIns::new(&["tmp/", "tmp/keep"], false);
    let ns = built(&spec(""), SandboxOptions::default(), &[], &source);
    assert!(!table(&ns).iter().any(|line| line.contains(" /tmp ")));
    assert_eq!(exists(&ns, "/tmp/keep"), Ok(FileType::Regular));
}

#[test]
fn empty_tmp_in_the_image_gets_a_tmpfs() {
    let source = StandIns::new(&["tmp/"], false);
    let ns = built(&spec(""), SandboxOptions::default(), &[], &source);
    assert!(table(&ns).contains(&"tmpfs /tmp tmpfs rw".to_string()));
}

#[test]
fn readonly_root_with_its_mount_points_stays_plain_9p() {
    let source = StandIns::new(&["proc/", "sys/", "dev/", "tmp/"], true);
    let ns = built(
        &spec(r#""root": {"path": "rootfs", "readonly": true}"#),
        SandboxOptions::default(),
        &[],
        &source,
    );
    assert_eq!(table(&ns)[0], "rootfs / 9p ro");
}

#[test]
fn readonly_root_without_mount_points_gets_synthetic_directories() {
    let source = StandIns::new(&["bin/", "bin/sh"], true);
    let ns = built(
        &spec(r#""root": {"path": "rootfs", "readonly": true}"#),
        SandboxOptions::default(),
        &[],
        &source,
    );
    let lines = table(&ns);
    assert_eq!(lines[0], "rootfs / overlay ro");
    for path in ["/proc", "/sys", "/dev", "/dev/pts", "/tmp"] {
        assert_eq!(exists(&ns, path), Ok(FileType::Directory), "{path}");
    }
    // The image still shows through, and stays read-only.
    assert_eq!(exists(&ns, "/bin/sh"), Ok(FileType::Regular));
    let context = FsContext::new(ns.clone(), Credentials::root());
    assert_eq!(context.mkdir(At::Cwd, b"/new", 0o755), Err(Errno::EROFS));
}

#[test]
fn bind_mounts_take_channels_in_spec_order_and_honour_ro() {
    let source = StandIns::new(&[], false)
        .share("m0", &["a"])
        .share("m1", &["b"]);
    let spec = spec(
        r#""mounts": [
            {"destination": "/data/ro", "type": "bind", "source": "/host/a", "options": ["rbind", "ro"]},
            {"destination": "/data", "type": "bind", "source": "/host/b", "options": ["rbind", "rw"]}
        ]"#,
    );
    let ns = built(&spec, SandboxOptions::default(), &[], &source);
    let lines = table(&ns);
    // Sorted parents first: /data (m1) before /data/ro (m0).
    let data = lines.iter().position(|l| l == "m1 /data tmpfs rw").unwrap();
    let data_ro = lines
        .iter()
        .position(|l| l == "m0 /data/ro tmpfs ro")
        .unwrap();
    assert!(data < data_ro, "{lines:?}");
    assert_eq!(exists(&ns, "/data/b"), Ok(FileType::Regular));
    assert_eq!(exists(&ns, "/data/ro/a"), Ok(FileType::Regular));
    let context = FsContext::new(ns.clone(), Credentials::root());
    assert_eq!(
        context.mkdir(At::Cwd, b"/data/ro/x", 0o755),
        Err(Errno::EROFS)
    );
    assert_eq!(context.mkdir(At::Cwd, b"/data/x", 0o755), Ok(()));
}

#[test]
fn readonly_parent_still_gets_child_mount_points() {
    let source = StandIns::new(&[], false);
    let spec = spec(
        r#""mounts": [
            {"destination": "/ro/inner", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/ro", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]}
        ]"#,
    );
    let ns = built(&spec, SandboxOptions::default(), &[], &source);
    let lines = table(&ns);
    assert!(
        lines.contains(&"tmpfs /ro tmpfs ro".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"tmpfs /ro/inner tmpfs rw".to_string()),
        "{lines:?}"
    );
}

#[test]
fn destination_under_a_symlink_lands_inside_the_root() {
    let source = StandIns::new(
        &[
            "run/",
            "var/",
            "var/run -> /run",
            "escape -> ../../../outside",
        ],
        false,
    );
    let spec = spec(
        r#""mounts": [
            {"destination": "/var/run/app", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/escape/x", "type": "tmpfs", "source": "tmpfs"}
        ]"#,
    );
    let ns = built(&spec, SandboxOptions::default(), &[], &source);
    let lines = table(&ns);
    assert!(
        lines.contains(&"tmpfs /run/app tmpfs rw".to_string()),
        "{lines:?}"
    );
    // `../../../outside` from / stays at /outside: `..` never leaves the root.
    assert!(
        lines.contains(&"tmpfs /outside/x tmpfs rw".to_string()),
        "{lines:?}"
    );
}

#[test]
fn a_file_where_a_directory_is_needed_names_the_field() {
    let source = StandIns::new(&["opt"], false);
    let spec =
        spec(r#""mounts": [{"destination": "/opt/data", "type": "tmpfs", "source": "tmpfs"}]"#);
    let plan = compile(&spec, &SandboxOptions::default(), &[]).unwrap();
    let Err(error) = build(&plan, &source) else {
        panic!("a file at /opt must stop the build")
    };
    assert_eq!(error.errno, Errno::ENOTDIR);
    assert_eq!(error.field.as_deref(), Some("mounts[0]"));
    assert!(error.to_string().contains("mounts[0]"));
}

#[test]
fn file_bind_mount_gets_a_file_mount_point() {
    let source = StandIns::new(&["etc/"], false).share("m0", &["resolv.conf"]);
    let spec = spec(
        r#""mounts": [{"destination": "/etc/resolv.conf", "type": "bind", "source": "/host/resolv.conf", "options": ["rbind", "ro"]}]"#,
    );
    let binds = [FileBind {
        channel: Channel::Mount(0),
        name: "resolv.conf".to_string(),
    }];
    let ns = built(&spec, SandboxOptions::default(), &binds, &source);
    assert_eq!(exists(&ns, "/etc/resolv.conf"), Ok(FileType::Regular));
    let context = FsContext::new(ns.clone(), Credentials::root());
    let file = context
        .open(At::Cwd, b"/etc/resolv.conf", OpenFlags::RDONLY, 0)
        .unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(file.read(&mut buf), Ok(4));
    assert_eq!(&buf[..4], b"data");
}

#[test]
fn masked_and_readonly_paths_apply_only_where_they_exist() {
    let source = StandIns::new(
        &["secret/", "secret/key", "etc/", "etc/shadow", "conf/"],
        false,
    );
    let spec = spec(
        r#""linux": {"maskedPaths": ["/secret", "/etc/shadow", "/missing"], "readonlyPaths": ["/conf", "/nothing"]}"#,
    );
    let ns = built(&spec, SandboxOptions::default(), &[], &source);
    assert_eq!(exists(&ns, "/secret/key"), Err(Errno::ENOENT));
    let context = FsContext::new(ns.clone(), Credentials::root());
    let shadow = context
        .open(At::Cwd, b"/etc/shadow", OpenFlags::RDONLY, 0)
        .unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(
        shadow.read(&mut buf),
        Ok(0),
        "a masked file reads as /dev/null"
    );
    assert_eq!(context.mkdir(At::Cwd, b"/conf/x", 0o755), Err(Errno::EROFS));
    assert_eq!(exists(&ns, "/missing"), Err(Errno::ENOENT));
    assert_eq!(exists(&ns, "/nothing"), Err(Errno::ENOENT));
}

#[test]
fn readonly_masked_and_ro_mounts_are_locked_and_nothing_else() {
    let source = StandIns::new(
        &["secret/", "etc/", "etc/shadow", "conf/", "scratch/"],
        true,
    );
    let spec = spec(
        r#""root": {"path": "rootfs", "readonly": true}, "mounts": [{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs"}, {"destination": "/ro", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]}], "linux": {"maskedPaths": ["/secret", "/etc/shadow"], "readonlyPaths": ["/conf"]}"#,
    );
    let ns = built(&spec, SandboxOptions::default(), &[], &source);
    let context = FsContext::new(ns.clone(), Credentials::root());
    let mount_at = |path: &str| {
        context
            .resolve(At::Cwd, path.as_bytes(), true)
            .unwrap()
            .mount
    };
    for path in ["/", "/secret", "/etc/shadow", "/conf", "/ro"] {
        assert!(mount_at(path).is_locked(), "{path} should be locked");
    }
    for path in ["/scratch", "/proc", "/tmp"] {
        assert!(!mount_at(path).is_locked(), "{path} should not be locked");
    }
    // Even the kernel's own all-capabilities identity cannot undo them.
    assert_eq!(
        context.unmount(At::Cwd, b"/conf", false),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        context.unmount(At::Cwd, b"/secret", true),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        ns.remount(&mount_at("/ro"), vfs_core::MountFlags::empty()),
        Err(Errno::EPERM)
    );
    assert_eq!(context.unmount(At::Cwd, b"/scratch", false), Ok(()));
}

#[test]
fn nodev_mounts_refuse_to_open_their_device_nodes() {
    let source = StandIns::new(&[], false);
    let spec = spec(
        r#""mounts": [
            {"destination": "/nodev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}
        ]"#,
    );
    let ns = built(&spec, SandboxOptions::default(), &[], &source);
    let context = FsContext::new(ns.clone(), Credentials::root());
    const CHAR_DEVICE_NULL: (u32, u64) = (0o020666, (1 << 8) | 3);
    for path in [&b"/nodev/null"[..], b"/dev/another-null"] {
        assert_eq!(
            context.mknod(At::Cwd, path, CHAR_DEVICE_NULL.0, CHAR_DEVICE_NULL.1),
            Ok(()),
            "mknod is allowed on a nodev mount, as on Linux"
        );
    }
    let open = |path: &[u8]| {
        context
            .open(At::Cwd, path, OpenFlags::RDONLY, 0)
            .map(|_| ())
    };
    assert_eq!(open(b"/nodev/null"), Err(Errno::EACCES));
    // Past the nodev check, only the missing driver registry of this host test refuses.
    assert_eq!(open(b"/dev/another-null"), Err(Errno::ENXIO));
    assert!(
        table(&ns)
            .iter()
            .any(|l| l == "tmpfs /nodev tmpfs rw,nosuid")
    );
    assert!(mounts_text(&ns).contains(" /nodev tmpfs rw,nosuid,nodev,"));
}
