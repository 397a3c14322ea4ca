//! The Linux guest the benchmarks compare against: Debian's generic kernel booted on the
//! same QEMU machine and accelerator, from a busybox initramfs that runs the same static
//! benchmark program (DESIGN "Machine facts" records how this was first done by hand).
//!
//! Everything is cached under `TARGET/linux-guest/`: the package is fetched with `apt-get
//! download` (the version `linux-image-amd64` points at), unpacked with `dpkg-deb -x`, and
//! the bzImage's xz/zstd/gzip payload is decompressed to `vmlinux`, an ELF with a PVH note
//! that `-kernel` boots directly. The 9p stack is modules on Debian's kernel; their load
//! order is worked out from each module's `.modinfo` `depends=`. Bench-only: `cargo xtask
//! test` never touches this.

mod cpio;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::qemu::{Accel, Invocation, Machine, MemorySize, Share};

/// The metapackage whose dependency names the current generic kernel image.
const META_PACKAGE: &str = "linux-image-amd64";
/// The first line `/init` prints: the host times QEMU launch → this line.
pub const INIT_MARKER: &str = "linux-guest: init";
/// Printed after the last command, before `poweroff -f`.
pub const DONE_MARKER: &str = "linux-guest: done";
/// What a 9p module load order must contain, transports for both machines first.
const MODULE_ROOTS: &[&str] = &["virtio_mmio", "virtio_pci", "9pnet_virtio", "9p"];
/// Busybox applets `/init` uses, as symlinks to `/bin/busybox`.
const APPLETS: &[&str] = &[
    "sh", "echo", "mount", "insmod", "poweroff", "rm", "mkdir", "cat", "sync", "date", "uname",
];

#[derive(Debug, Clone)]
pub struct LinuxGuest {
    /// `linux-image-6.1.0-N-amd64`.
    pub package: String,
    pub vmlinux: PathBuf,
    /// The 9p stack's modules, in load order (built-in ones left out).
    pub modules: Vec<PathBuf>,
}

/// Downloads and unpacks the kernel once; later calls reuse `TARGET/linux-guest/`.
pub fn prepare(target: &Path) -> Result<LinuxGuest> {
    let dir = target.join("linux-guest");
    let extract = dir.join("extract");
    let vmlinux = dir.join("vmlinux");
    let package_file = dir.join("package");
    let cached = std::fs::read_to_string(&package_file)
        .ok()
        .filter(|_| vmlinux.is_file() && extract.is_dir());
    let package = match cached {
        Some(package) => package.trim().to_owned(),
        None => {
            let package = fetch_and_unpack(&dir, &extract)?;
            let vmlinuz = find_file(&extract.join("boot"), "vmlinuz-")?;
            eprintln!(
                "xtask: linux guest: decompressing {} to vmlinux",
                vmlinuz.display()
            );
            write_vmlinux(&vmlinuz, &vmlinux)?;
            std::fs::write(&package_file, &package)
                .with_context(|| format!("writing {}", package_file.display()))?;
            package
        }
    };
    let config = find_file(&extract.join("boot"), "config-")?;
    let release = config
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_prefix("config-"))
        .context("config file name")?
        .to_owned();
    let modules_dir = extract.join("lib/modules").join(&release);
    let modules = module_load_order(&modules_dir, MODULE_ROOTS)?;
    Ok(LinuxGuest {
        package,
        vmlinux,
        modules,
    })
}

fn fetch_and_unpack(dir: &Path, extract: &Path) -> Result<String> {
    let package = image_package()?;
    let download = dir.join("download");
    std::fs::create_dir_all(&download)
        .with_context(|| format!("creating {}", download.display()))?;
    eprintln!("xtask: linux guest: apt-get download {package}");
    let output = Command::new("apt-get")
        .args(["download", &package])
        .current_dir(&download)
        .output()
        .context("running apt-get download")?;
    if !output.status.success() {
        bail!(
            "apt-get download {package} failed (no network?):\n{}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let deb = std::fs::read_dir(&download)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            name.starts_with(&format!("{package}_")) && name.ends_with(".deb")
        })
        .with_context(|| {
            format!(
                "apt-get download left no {package}_*.deb in {}",
                download.display()
            )
        })?;
    if extract.exists() {
        std::fs::remove_dir_all(extract)
            .with_context(|| format!("clearing {}", extract.display()))?;
    }
    eprintln!("xtask: linux guest: dpkg-deb -x {}", deb.display());
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(extract)
        .status()
        .context("running dpkg-deb")?;
    if !status.success() {
        bail!("dpkg-deb -x {} failed ({status})", deb.display());
    }
    // The unpacked tree is all we use; the .deb is 70 MB.
    let _ = std::fs::remove_file(&deb);
    Ok(package)
}

/// The generic image package `linux-image-amd64` depends on, e.g. `linux-image-6.1.0-57-amd64`.
/// Runs `apt-get update` once (as root) when apt knows no such package.
fn image_package() -> Result<String> {
    if let Some(package) = meta_dependency()? {
        return Ok(package);
    }
    if crate::host::is_root() {
        eprintln!("xtask: linux guest: apt-get update");
        let status = Command::new("apt-get")
            .args(["update", "-q"])
            .stdout(Stdio::null())
            .status()
            .context("running apt-get update")?;
        if !status.success() {
            bail!("apt-get update failed ({status}): no network?");
        }
        if let Some(package) = meta_dependency()? {
            return Ok(package);
        }
    }
    bail!("apt knows no {META_PACKAGE} (not Debian, or no package lists: run apt-get update)")
}

fn meta_dependency() -> Result<Option<String>> {
    let output = Command::new("apt-cache")
        .args(["depends", META_PACKAGE])
        .output()
        .context("running apt-cache (not Debian?)")?;
    Ok(parse_meta_dependency(&String::from_utf8_lossy(
        &output.stdout,
    )))
}

fn parse_meta_dependency(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("Depends:"))
        .map(str::trim)
        .find(|name| is_generic_image(name))
        .map(str::to_owned)
}

/// `linux-image-<version>-amd64`: not `-cloud-amd64` (no 9p), `-rt-`, `-dbg` or `-unsigned`.
fn is_generic_image(name: &str) -> bool {
    name.strip_prefix("linux-image-")
        .and_then(|rest| rest.strip_suffix("-amd64"))
        .is_some_and(|version| {
            version
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
                && !version.is_empty()
        })
}

fn find_file(dir: &Path, prefix: &str) -> Result<PathBuf> {
    std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .with_context(|| format!("no {prefix}* in {}", dir.display()))
}

/// Compressed-payload magics in a bzImage, with the CLI that decompresses each from stdin
/// (extract-vmlinux's approach; the first one that yields an ELF wins).
const PAYLOADS: &[(&[u8], &str, &[&str])] = &[
    (b"\xfd7zXZ\x00", "xz", &["-dc", "--single-stream"]),
    (b"\x28\xb5\x2f\xfd", "zstd", &["-dc"]),
    (b"\x1f\x8b\x08", "gzip", &["-dc"]),
];

fn write_vmlinux(bzimage: &Path, vmlinux: &Path) -> Result<()> {
    let image = std::fs::read(bzimage).with_context(|| format!("reading {}", bzimage.display()))?;
    for (magic, tool, args) in PAYLOADS {
        let Some(offset) = image
            .windows(magic.len())
            .position(|window| window == *magic)
        else {
            continue;
        };
        let elf = decompress(tool, args, &image[offset..])
            .with_context(|| format!("{tool} at offset {offset}"))?;
        if elf.starts_with(b"\x7fELF") {
            return std::fs::write(vmlinux, elf)
                .with_context(|| format!("writing {}", vmlinux.display()));
        }
    }
    bail!(
        "{}: no xz, zstd or gzip payload that decompresses to an ELF",
        bzimage.display()
    )
}

/// Trailing bytes after the stream make gzip and zstd complain; what they decoded is kept.
fn decompress(tool: &str, args: &[&str], input: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("running {tool} (apt-get install {tool})"))?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output()?;
    let _ = writer.join();
    Ok(output.stdout)
}

/// The modules `roots` need, dependencies first, from each module's `.modinfo` `depends=`;
/// built-in ones (`modules.builtin`) and ones this kernel lacks are left out.
fn module_load_order(modules_dir: &Path, roots: &[&str]) -> Result<Vec<PathBuf>> {
    let mut files = BTreeMap::new();
    collect_modules(&modules_dir.join("kernel"), &mut files)?;
    let builtin = std::fs::read_to_string(modules_dir.join("modules.builtin")).unwrap_or_default();
    let builtin: HashSet<String> = builtin
        .lines()
        .filter_map(|line| line.rsplit('/').next())
        .map(module_name)
        .collect();
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    for root in roots {
        visit(&module_name(root), &files, &builtin, &mut seen, &mut order)?;
    }
    if !order
        .iter()
        .any(|path: &PathBuf| path.file_name().is_some_and(|n| n == "9p.ko"))
        && !builtin.contains("9p")
    {
        bail!("{}: no 9p.ko", modules_dir.display());
    }
    Ok(order)
}

fn visit(
    name: &str,
    files: &BTreeMap<String, PathBuf>,
    builtin: &HashSet<String>,
    seen: &mut HashSet<String>,
    order: &mut Vec<PathBuf>,
) -> Result<()> {
    if builtin.contains(name) || !seen.insert(name.to_owned()) {
        return Ok(());
    }
    let Some(path) = files.get(name) else {
        return Ok(());
    };
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    for dependency in modinfo_depends(&bytes) {
        visit(&dependency, files, builtin, seen, order)?;
    }
    order.push(path.clone());
    Ok(())
}

fn collect_modules(dir: &Path, files: &mut BTreeMap<String, PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_modules(&path, files)?;
        } else if let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".ko"))
        {
            files.insert(module_name(name), path.clone());
        }
    }
    Ok(())
}

/// Module names compare with `-` and `_` equal, without `.ko`.
fn module_name(file: &str) -> String {
    file.trim_end_matches(".ko").replace('-', "_")
}

fn modinfo_depends(module: &[u8]) -> Vec<String> {
    const KEY: &[u8] = b"\0depends=";
    let Some(start) = module.windows(KEY.len()).position(|window| window == KEY) else {
        return Vec::new();
    };
    let value = &module[start + KEY.len()..];
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end])
        .split(',')
        .filter(|name| !name.is_empty())
        .map(module_name)
        .collect()
}

/// A 9p share as the Linux guest mounts it.
#[derive(Debug, Clone)]
pub struct GuestMount {
    pub tag: String,
    pub mount_point: String,
    /// `none`, `loose`, …
    pub cache: String,
}

impl GuestMount {
    /// The comparison the 9p benchmarks draw: the host directory behind tags `m0` and `m1`
    /// at `/data` uncached (`cache=none`, as our shared policy) and at `/data-loose` with
    /// Linux's fastest cache (`cache=loose`, as our exclusive policy).
    pub fn uncached_and_loose() -> Vec<GuestMount> {
        [("m0", "/data", "none"), ("m1", "/data-loose", "loose")]
            .into_iter()
            .map(|(tag, mount_point, cache)| GuestMount {
                tag: tag.into(),
                mount_point: mount_point.into(),
                cache: cache.into(),
            })
            .collect()
    }
}

/// What one initramfs holds besides busybox and the modules.
#[derive(Debug, Default)]
pub struct InitramfsContents {
    /// (path in the guest, host file), copied with mode 0755.
    pub programs: Vec<(String, PathBuf)>,
    /// (path in the guest, bytes), mode 0644.
    pub files: Vec<(String, Vec<u8>)>,
    pub mounts: Vec<GuestMount>,
    /// Loads the 9p modules (needed for `mounts`).
    pub load_modules: bool,
    /// Shell commands run after the mounts, before `poweroff -f`.
    pub commands: Vec<String>,
}

/// The `/init` script: the marker first (what boot time is measured to), then mounts, then
/// the commands, then power-off.
pub fn init_script(modules: &[String], contents: &InitramfsContents) -> String {
    let mut script = format!("#!/bin/sh\necho '{INIT_MARKER}'\nexport PATH=/bin\n");
    if !contents.mounts.is_empty() || !contents.commands.is_empty() {
        script.push_str("mount -t proc proc /proc\nmount -t sysfs sys /sys\nmount -t tmpfs -o mode=1777 tmpfs /tmp\n");
    }
    for module in modules {
        script.push_str(&format!(
            "insmod /lib/modules/{module} || echo 'linux-guest: insmod {module} failed'\n"
        ));
    }
    for mount in &contents.mounts {
        script.push_str(&format!(
            "mkdir -p {dir} && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache={cache} {tag} {dir} || echo 'linux-guest: mount {tag} failed'\n",
            dir = mount.mount_point,
            cache = mount.cache,
            tag = mount.tag
        ));
    }
    for command in &contents.commands {
        script.push_str(command);
        script.push('\n');
    }
    script.push_str(&format!("echo '{DONE_MARKER}'\npoweroff -f\n"));
    script
}

/// Writes the initramfs (uncompressed newc cpio) to `path`.
pub fn write_initramfs(
    guest: &LinuxGuest,
    contents: &InitramfsContents,
    path: &Path,
) -> Result<()> {
    use cpio::Entry;
    let busybox = std::fs::read(crate::setup::BUSYBOX)
        .context("reading /bin/busybox (apt-get install busybox-static)")?;
    let mut entries = Vec::new();
    let mut dirs: Vec<String> = [
        "bin",
        "dev",
        "proc",
        "sys",
        "tmp",
        "etc",
        "lib",
        "lib/modules",
    ]
    .map(str::to_owned)
    .to_vec();
    let parents = contents
        .programs
        .iter()
        .map(|(p, _)| p)
        .chain(contents.files.iter().map(|(p, _)| p));
    for path in parents.chain(contents.mounts.iter().map(|m| &m.mount_point)) {
        let mut parent = String::new();
        let path = path.trim_start_matches('/');
        let components: Vec<&str> = path.split('/').collect();
        // Mount points are directories themselves; files' parents only.
        let is_mount = contents
            .mounts
            .iter()
            .any(|m| m.mount_point.trim_start_matches('/') == path);
        let count = if is_mount {
            components.len()
        } else {
            components.len() - 1
        };
        for component in &components[..count] {
            parent = if parent.is_empty() {
                (*component).to_owned()
            } else {
                format!("{parent}/{component}")
            };
            if !dirs.contains(&parent) {
                dirs.push(parent.clone());
            }
        }
    }
    entries.extend(
        dirs.into_iter()
            .map(|path| Entry::Dir { path, mode: 0o755 }),
    );
    entries.push(Entry::CharDevice {
        path: "dev/console".into(),
        mode: 0o600,
        major: 5,
        minor: 1,
    });
    entries.push(Entry::CharDevice {
        path: "dev/null".into(),
        mode: 0o666,
        major: 1,
        minor: 3,
    });
    entries.push(Entry::File {
        path: "bin/busybox".into(),
        mode: 0o755,
        data: busybox,
    });
    entries.extend(APPLETS.iter().map(|applet| Entry::Symlink {
        path: format!("bin/{applet}"),
        target: "busybox".into(),
    }));
    let mut names = Vec::new();
    if contents.load_modules {
        for (index, module) in guest.modules.iter().enumerate() {
            let name = format!(
                "{index:02}-{}",
                module
                    .file_name()
                    .and_then(|n| n.to_str())
                    .context("module name")?
            );
            let data =
                std::fs::read(module).with_context(|| format!("reading {}", module.display()))?;
            entries.push(Entry::File {
                path: format!("lib/modules/{name}"),
                mode: 0o644,
                data,
            });
            names.push(name);
        }
    }
    for (guest_path, host) in &contents.programs {
        let data = std::fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        entries.push(Entry::File {
            path: guest_path.trim_start_matches('/').to_owned(),
            mode: 0o755,
            data,
        });
    }
    for (guest_path, data) in &contents.files {
        entries.push(Entry::File {
            path: guest_path.trim_start_matches('/').to_owned(),
            mode: 0o644,
            data: data.clone(),
        });
    }
    entries.push(Entry::File {
        path: "init".into(),
        mode: 0o755,
        data: init_script(&names, contents).into_bytes(),
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, cpio::archive(&entries))
        .with_context(|| format!("writing {}", path.display()))
}

/// The kernel command line: serial console, quiet (printk over a TCG serial port is slow),
/// and under TCG the TSC rate (`tsc_early_khz`), without which about one microvm boot in four
/// hangs calibrating it.
pub fn cmdline(accel: Accel, tsc_khz: Option<u64>) -> String {
    let mut line = "console=ttyS0 quiet panic=-1".to_owned();
    if let (Accel::Tcg, Some(khz)) = (accel, tsc_khz) {
        line.push_str(&format!(" tsc_early_khz={khz}"));
    }
    line
}

pub fn invocation(
    guest: &LinuxGuest,
    machine: Machine,
    accel: Accel,
    memory: MemorySize,
    initramfs: &Path,
    shares: Vec<Share>,
) -> Invocation {
    Invocation {
        machine,
        accel,
        memory,
        cpus: 1,
        kernel: guest.vmlinux.clone(),
        cmdline: cmdline(accel, crate::host::tsc_khz(&crate::host::cpuinfo())),
        initrd: Some(initramfs.to_owned()),
        shares,
    }
}

/// The QEMU arguments for the Linux guest: the invocation's, except that microvm keeps its
/// RTC (`rtc=on`). Our kernel reads no RTC; Linux without one spends about two seconds
/// probing for it under TCG ("Unable to read current time from RTC", "rtc_cmos: broken or
/// not accessible"), which is not what a Linux microVM would be configured to do.
pub fn qemu_args(invocation: &Invocation) -> Vec<std::ffi::OsString> {
    invocation
        .args()
        .into_iter()
        .map(|arg| match arg.to_str() {
            Some(value) if value.starts_with("microvm,") => {
                value.replace("rtc=off", "rtc=on").into()
            }
            _ => arg,
        })
        .collect()
}

fn shell_line(invocation: &Invocation) -> String {
    let args: Vec<String> = qemu_args(invocation)
        .iter()
        .map(|arg| format!("'{}'", arg.to_string_lossy()))
        .collect();
    format!("{} {}", crate::qemu::QEMU_BINARY, args.join(" "))
}

/// One boot of the Linux guest, its console lines stamped with their arrival time.
#[derive(Debug)]
pub struct GuestRun {
    pub console: String,
    /// QEMU launch → the `/init` marker line.
    pub init_at: Option<Duration>,
    pub wall: Duration,
}

/// Boots once, waiting at most `timeout`; an error when it timed out or never printed the
/// done marker (the console is in the message).
pub fn boot(invocation: &Invocation, timeout: Duration) -> Result<GuestRun> {
    let started = Instant::now();
    let mut child = Command::new(crate::qemu::QEMU_BINARY)
        .args(qemu_args(invocation))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    let lines: Arc<Mutex<Vec<(Duration, String)>>> = Arc::default();
    let sink = Arc::clone(&lines);
    let stdout = child.stdout.take().context("stdout")?;
    let reader = thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = Vec::new();
        while let Ok(1..) = stdout.read_until(b'\n', &mut line) {
            let text = String::from_utf8_lossy(&line).into_owned();
            sink.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((started.elapsed(), text));
            line.clear();
        }
    });
    let mut stderr = child.stderr.take().context("stderr")?;
    let stderr_reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() >= timeout {
            let _ = child.kill();
            timed_out = true;
            break child.wait()?;
        }
        thread::sleep(Duration::from_millis(1));
    };
    let wall = started.elapsed();
    let _ = reader.join();
    let stderr = stderr_reader.join().unwrap_or_default();
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(|p| p.into_inner()));
    let init_at = lines
        .iter()
        .find(|(_, line)| line.trim_end() == INIT_MARKER)
        .map(|(at, _)| *at);
    let console: String = lines.into_iter().map(|(_, line)| line).collect();
    let done = console.lines().any(|line| line.trim_end() == DONE_MARKER);
    if timed_out || !done || init_at.is_none() {
        bail!(
            "Linux guest {}: {} (QEMU {status})\n{}\nconsole:\n{console}{stderr}",
            invocation.machine,
            if timed_out {
                format!("timed out after {} s", timeout.as_secs())
            } else {
                "no done marker".to_owned()
            },
            shell_line(invocation)
        );
    }
    Ok(GuestRun {
        console,
        init_at,
        wall,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_keeps_the_microvm_rtc_and_nothing_else_changes() {
        let guest = LinuxGuest {
            package: "p".into(),
            vmlinux: "vmlinux".into(),
            modules: Vec::new(),
        };
        for machine in Machine::ALL {
            let invocation = invocation(
                &guest,
                machine,
                Accel::Tcg,
                MemorySize::from_mib(128),
                Path::new("i"),
                Vec::new(),
            );
            let ours = invocation.args();
            let linux = qemu_args(&invocation);
            let differing: Vec<_> = ours.iter().zip(&linux).filter(|(a, b)| a != b).collect();
            match machine {
                Machine::Microvm => {
                    assert_eq!(differing.len(), 1);
                    assert!(
                        linux[1].to_string_lossy().contains("rtc=on"),
                        "{:?}",
                        linux[1]
                    );
                }
                Machine::Q35 => assert!(differing.is_empty()),
            }
        }
    }

    #[test]
    fn meta_dependency_is_the_generic_image() {
        let text = "linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64\n";
        assert_eq!(
            parse_meta_dependency(text).as_deref(),
            Some("linux-image-6.1.0-57-amd64")
        );
        assert_eq!(
            parse_meta_dependency("  Depends: linux-image-6.1.0-57-cloud-amd64\n"),
            None
        );
        assert!(!is_generic_image("linux-image-6.1.0-57-amd64-dbg"));
    }

    #[test]
    fn modinfo_depends_splits_and_normalises() {
        let module = b"\x7fELF...\0license=GPL\0depends=virtio,virtio_ring,9pnet\0name=x\0";
        assert_eq!(modinfo_depends(module), ["virtio", "virtio_ring", "9pnet"]);
        assert!(modinfo_depends(b"\0depends=\0").is_empty());
        assert_eq!(module_name("virtio-pci.ko"), "virtio_pci");
    }

    #[test]
    fn init_prints_the_marker_first_and_powers_off_last() {
        let contents = InitramfsContents {
            mounts: vec![GuestMount {
                tag: "m0".into(),
                mount_point: "/data".into(),
                cache: "none".into(),
            }],
            load_modules: true,
            commands: vec!["/bin/syscall-bench /data/x".into()],
            ..InitramfsContents::default()
        };
        let script = init_script(&["00-virtio.ko".into()], &contents);
        let lines: Vec<&str> = script.lines().collect();
        assert_eq!(lines[1], format!("echo '{INIT_MARKER}'"));
        assert!(script.contains("insmod /lib/modules/00-virtio.ko"));
        assert!(script.contains("msize=512000,cache=none m0 /data"));
        assert!(script.find("insmod").unwrap() < script.find("mount -t 9p").unwrap());
        assert!(script.find("mount -t 9p").unwrap() < script.find("syscall-bench").unwrap());
        assert_eq!(lines.last(), Some(&"poweroff -f"));
    }
}
