//! The sandbox's one job, from spec to exit status: parse the spec handed in at boot,
//! compile the mount plan, check it against the 9p devices found, build the namespace,
//! start the container's init and run it until it ends.
//!
//! Every failure here is the container's, not the kernel's: it ends the run with one line
//! naming the spec field or the path at fault and the status the container module assigns
//! (110–113 spec and mount problems, 126/127 exec problems).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Mutex;
use vfs_core::p9::{P9FileSystem, P9MountOptions};
use vfs_core::{At, CachePolicy, ClockRef, Credentials, Errno, FileSystem, FsContext};

use crate::console::print_line;
use crate::container::build::{FilesystemSource, build, mounts_text};
use crate::container::{
    self, Channel, FileAccess, FileKind, MountPlan, ShareAlias, Spec, device_tag, tags_with_aliases,
};
use crate::devices::Devices;
use crate::exec::strings::Strings;
use crate::exit::exit;
use crate::fs::devpts::DevptsOptions;
use crate::process::fd_table::FdTable;
use crate::process::{Ids, Limits, Process, SignalState};
use crate::task::shared::{Identity, Image, Parts, Task, shared};
use crate::task::table::INIT_PID;
use vfs_core::tmpfs::TmpfsOptions;

/// The kernel's filesystems for the builder: 9p shares by channel, and its own.
struct KernelFilesystems<'a> {
    devices: &'a Devices,
    clock: ClockRef,
    /// The host's `share_alias=` notes: channels that read another channel's device.
    aliases: Vec<ShareAlias>,
    /// Each device is attached once (a second `Tversion` would end the first session),
    /// however many mounts and channels read it; by device tag, with the access the
    /// attach was made for.
    attached: Mutex<BTreeMap<String, Attached>>,
}

/// A 9p device's filesystem and the access it was attached for.
type Attached = (FileAccess, Arc<dyn FileSystem>);

impl FilesystemSource for KernelFilesystems<'_> {
    fn nine_p(
        &self,
        channel: Channel,
        file_access: FileAccess,
    ) -> Result<Arc<dyn FileSystem>, Errno> {
        let tag = device_tag(channel, &self.aliases);
        if let Some((access, fs)) = self.attached.lock().get(&tag) {
            if *access != file_access {
                // Never from our runtime (it aliases bind mounts only, which all take
                // `file_access_mounts`); a hand-written command line could ask it.
                log::error!(target: "sandbox", "channel {channel} shares device `{tag}` but asks another file_access");
                return Err(Errno::EINVAL);
            }
            return Ok(fs.clone());
        }
        let device = self
            .devices
            .nine_p_by_tag(&tag)
            .ok_or(Errno::ENODEV)?
            .clone();
        let policy = match file_access {
            FileAccess::Exclusive => CachePolicy::Exclusive,
            FileAccess::Shared => CachePolicy::Revalidate,
        };
        let options = P9MountOptions {
            policy,
            // The files' page caches (for MAP_SHARED) take frames, charged to the budget.
            page_budget: Some(crate::mm::budget::budget()),
            // Shared mounts: bounds the age of batched `lstat` answers (`p9/batch.rs`).
            clock: Some(&self.clock),
            ..P9MountOptions::default()
        };
        let fs: Arc<dyn FileSystem> =
            P9FileSystem::new(device, &options, crate::fs::anonymous_dev())?;
        crate::timeline::phase("9p attach");
        self.attached.lock().insert(tag, (file_access, fs.clone()));
        Ok(fs)
    }

    fn tmpfs(&self, options: &TmpfsOptions) -> Result<Arc<dyn FileSystem>, Errno> {
        Ok(vfs_core::tmpfs::new(
            options,
            &crate::mm::budget::tmpfs_memory(),
            crate::fs::anonymous_dev(),
            self.clock.clone(),
        )?)
    }

    fn overlay(&self, lower: Arc<dyn FileSystem>) -> Result<Arc<dyn FileSystem>, Errno> {
        // The merged root shows the upper root's attributes: give it the lower root's, as
        // a runtime creating an overlay's upper directory does.
        let root = lower.root().getattr()?;
        let like_lower = TmpfsOptions {
            mode: Some(root.mode & 0o7777),
            uid: Some(root.uid),
            gid: Some(root.gid),
            ..TmpfsOptions::default()
        };
        let upper = self.tmpfs(&like_lower)?;
        Ok(vfs_core::overlay::OverlayFs::new(
            upper,
            alloc::vec![lower],
            crate::fs::anonymous_dev(),
            String::new(),
        )?)
    }

    fn proc(&self) -> Result<Arc<dyn FileSystem>, Errno> {
        let proc = crate::fs::make("proc", "");
        crate::timeline::phase("proc made");
        proc
    }

    fn sysfs(&self) -> Result<Arc<dyn FileSystem>, Errno> {
        let sysfs = crate::fs::make("sysfs", "");
        crate::timeline::phase("sysfs made");
        sysfs
    }

    fn devpts(&self, options: &DevptsOptions) -> Result<Arc<dyn FileSystem>, Errno> {
        Ok(crate::fs::devpts::new(
            options,
            crate::fs::anonymous_dev(),
            self.clock.clone(),
        ))
    }

    fn dev(&self, options: &TmpfsOptions) -> Result<Arc<dyn FileSystem>, Errno> {
        let mut options = *options;
        options.mode = options.mode.or(Some(0o755));
        let fs = self.tmpfs(&options)?;
        crate::fs::dev::populate(&fs, &self.clock)?;
        crate::timeline::phase("dev made");
        Ok(fs)
    }

    fn clock(&self) -> ClockRef {
        self.clock.clone()
    }

    fn budget(&self) -> Arc<vfs_core::MemoryBudget> {
        crate::mm::budget::budget().clone()
    }
}

/// Runs the container described by the spec in boot module 0. Never returns.
pub fn run(
    spec_bytes: &[u8],
    cmdline: &[u8],
    options: &crate::options::Options<'_>,
    devices: &Devices,
) -> ! {
    let started = crate::clock::monotonic_ns();
    let control = options.stdio == crate::options::Stdio::Control;
    if control && let Err(why) = crate::control::init(devices) {
        print_line(format_args!("sandbox: {why}"));
        exit(container::error::MOUNT_FAILED)
    }
    crate::timeline::phase("control port");
    let spec = Spec::parse(spec_bytes).unwrap_or_else(|error| {
        print_line(format_args!("sandbox: spec: {error}"));
        exit(error.exit_status())
    });
    crate::timeline::phase("spec parsed");
    let file_binds: Vec<_> = crate::options::file_binds(cmdline).collect();
    let plan = container::compile(&spec, &options.sandbox, &file_binds).unwrap_or_else(|error| {
        print_line(format_args!("sandbox: spec: {error}"));
        exit(error.exit_status())
    });
    crate::timeline::phase("spec compiled");
    for warning in &plan.warnings {
        log::warn!(target: "sandbox", "{warning}");
    }
    crate::timeline::phase("warnings");
    let aliases: Vec<ShareAlias> = crate::options::share_aliases(cmdline).collect();
    let found: Vec<&str> = devices.nine_p.iter().map(|channel| channel.tag()).collect();
    let tags = tags_with_aliases(&found, &aliases);
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    if let Err(error) = container::check_channels(&plan, &tags) {
        print_line(format_args!("sandbox: {error}"));
        exit(error.exit_status());
    }
    crate::views::register();
    if let Some(hostname) = &plan.hostname {
        crate::syscall::set_hostname(hostname.as_bytes());
    }
    crate::views::apply_sysctl(&plan.sysctl);
    let clock: ClockRef = Arc::new(crate::clock::RealTimeClock);
    let source = KernelFilesystems {
        devices,
        clock,
        aliases,
        attached: Mutex::new(BTreeMap::new()),
    };
    crate::timeline::phase("plan");
    let ns = build(&plan, &source).unwrap_or_else(|error| {
        print_line(format_args!("sandbox: {error}"));
        exit(container::error::MOUNT_FAILED)
    });
    crate::timeline::phase("namespace");
    ns.set_device_registry(Arc::new(crate::fs::dev::Devices));
    let elapsed_us = (crate::clock::monotonic_ns() - started) / 1000;

    let spec_process = &plan.process;
    // Under the host's control channel the console stays the kernel's (what a program
    // writes to `/dev/console` joins the kernel's log, never a container stream).
    let console_stdio = if control {
        crate::options::Stdio::Console
    } else {
        options.stdio
    };
    if let Err(why) = crate::tty::console::setup(
        console_stdio,
        spec_process.terminal,
        spec_process.console_size,
    ) {
        print_line(format_args!("sandbox: {why}"));
        exit(container::error::MOUNT_FAILED)
    }
    crate::timeline::phase("console set up");
    let mut process = init_process(&plan, ns, control).unwrap_or_else(|(what, errno)| {
        print_line(format_args!("sandbox: {what}: {errno:?}"));
        exit(container::error::MOUNT_FAILED)
    });
    crate::timeline::phase("init process");
    let path = plan
        .process
        .resolve(|path| lookup_kind(&process.fs_context(), path))
        .unwrap_or_else(|error| {
            print_line(format_args!("sandbox: {error}"));
            exit(error.exit_status())
        });
    let argv: Strings = plan.process.args.iter().map(|arg| arg.as_bytes()).collect();
    let envp: Strings = plan.process.env.iter().map(|var| var.as_bytes()).collect();
    crate::timeline::phase("path resolved");
    if let Err(failure) = crate::process::exec::exec(&mut process, path.as_bytes(), argv, envp) {
        print_line(format_args!("sandbox: cannot execute {path}: {failure}"));
        exit(failure.shell_status());
    }
    crate::timeline::phase("exec");
    // The boot is over: the budget is what is left, and from here on the heap running dry
    // is not the machine's size.
    match crate::mm::budget::settle() {
        Ok(plan) => log::info!(
            target: "memory",
            "budget settled at {} KiB: {} KiB free once booted, {} KiB kept in reserve",
            plan.limit / 1024,
            plan.free / 1024,
            plan.reserve / 1024
        ),
        Err(too_little) => {
            print_line(format_args!(
                "memory: out of memory during boot: {too_little}"
            ));
            crate::exit::fail(crate::exit::KernelFailure::OutOfMemory);
        }
    }
    arch::heap::exhaustion_is_an_error();
    crate::timeline::phase("init started");
    crate::timeline::flush();
    log::info!(target: "sandbox", "init {path} started; {} 9p requests so far", devices.nine_p_requests());
    if log::log_enabled!(target: "sandbox", log::Level::Info) {
        let namespace = process.fs.lock().ns.clone();
        for line in mounts_text(&namespace).lines() {
            log::info!(target: "mounts", "{line}");
        }
    }
    log::info!(target: "sandbox", "namespace built: {} mounts in {elapsed_us} us", process.fs.lock().ns.mounts().len());
    crate::task::lifecycle::register_init(plan.process.pids_limit, process.task.clone());
    crate::task::oom::track(&process);
    let ending = if control {
        // Held until the host says start; a signal meanwhile may end it unstarted.
        match crate::control::hold_until_start(&mut process) {
            Some(ending) => ending,
            None => crate::task::run::run(&mut process),
        }
    } else {
        crate::tty::console::attach_init(plan.process.terminal);
        crate::task::run::run(&mut process)
    };
    crate::timeline::phase("init ran");
    let termination = crate::task::lifecycle::end_init(process, ending);
    crate::timeline::phase("init ended");
    log::info!(target: "sandbox", "init ended: {termination:?}");
    if control {
        crate::control::init_ended(termination);
        crate::timeline::phase("status sent");
    }
    // What shared mappings stored and nobody wrote back yet reaches the host's files
    // before the machine goes.
    crate::mm::writeback::sync_all();
    crate::timeline::phase("synced");
    exit(termination.shell_status())
}

/// What exec's path lookup sees at `path` (symlinks followed, as execve does).
pub(crate) fn lookup_kind(fs: &FsContext, path: &str) -> Option<FileKind> {
    let location = fs.resolve(At::Cwd, path.as_bytes(), true).ok()?;
    let kind = location.dentry.positive().ok()?.file_type();
    Some(if kind == vfs_core::FileType::Directory {
        FileKind::Directory
    } else {
        FileKind::NotDirectory
    })
}

/// The init before exec: identity, working directory (made if missing), umask, and its
/// standard streams on descriptors 0, 1 and 2 (the console, or the host's streams: see
/// `tty::console` and `control`).
fn init_process(
    plan: &MountPlan,
    ns: Arc<vfs_core::MountNamespace>,
    control: bool,
) -> Result<Process, (&'static str, Errno)> {
    let spec = &plan.process;
    new_process(INIT_PID, spec, ns, |fs| {
        if control {
            crate::control::init_stdio(fs, spec.terminal, spec.console_size)
        } else {
            crate::tty::console::init_stdio(fs, spec.terminal)
        }
    })
}

/// A process `pid` of the container before exec, as `spec` describes it, in the mount
/// namespace `ns`, its descriptors 0-2 from `stdio` (opened in its context): the init,
/// or a process the host's runtime starts in the running container (`control`).
pub(crate) fn new_process(
    pid: u32,
    spec: &crate::container::ProcessPlan,
    ns: Arc<vfs_core::MountNamespace>,
    stdio: impl FnOnce(&FsContext) -> Result<[Arc<vfs_core::OpenFile>; 3], Errno>,
) -> Result<Process, (&'static str, Errno)> {
    let mut fs = FsContext::new(ns, Credentials::root());
    make_directories(&fs, &spec.cwd).map_err(|errno| ("process.cwd", errno))?;
    fs.chdir(At::Cwd, spec.cwd.as_bytes())
        .map_err(|errno| ("process.cwd", errno))?;
    fs.umask = spec.umask;
    let ids = Ids {
        uid: spec.uid,
        euid: spec.uid,
        suid: spec.uid,
        gid: spec.gid,
        egid: spec.gid,
        sgid: spec.gid,
        groups: spec.additional_gids.clone(),
    };
    let mut files = FdTable::with_budget(crate::mm::budget::budget());
    let stdio = stdio(&fs).map_err(|errno| ("/dev/console", errno))?;
    for file in stdio {
        files
            .insert(file, false)
            .map_err(|errno| ("/dev/console", errno))?;
    }
    let caps = crate::process::caps::Capabilities {
        bounding: spec.capabilities.bounding,
        effective: spec.capabilities.effective,
        permitted: spec.capabilities.permitted,
        inheritable: spec.capabilities.inheritable,
        ambient: spec.capabilities.ambient,
        securebits: 0,
        no_new_privs: spec.no_new_privileges,
    };
    let mm = shared(
        crate::mm::address_space::AddressSpace::new().map_err(|errno| ("address space", errno))?,
    );
    let (fs, files) = (shared(fs), shared(files));
    let task = Task::new(
        pid,
        Parts {
            mm: Some(mm.clone()),
            files: Some(files.clone()),
            fs: Some(fs.clone()),
        },
        Image::default(),
        Identity {
            ids: ids.clone(),
            caps,
        },
    );
    let mut process = Process {
        pid,
        tid: pid,
        task,
        mm,
        fs,
        files,
        context: Default::default(),
        ids,
        caps,
        signals: SignalState::default(),
        limits: Limits::default(),
        clear_child_tid: 0,
        robust_list: (0, 0),
        pending_termination: None,
        quiet_since: None,
        started_ns: crate::clock::monotonic_ns(),
        scratch: alloc::vec::Vec::new(),
        epoll_harvest: Default::default(),
    };
    for limit in &spec.rlimits {
        process.limits.values[limit.resource] = (limit.soft, limit.hard);
    }
    if let Some(&(soft, _)) = process.limits.values.get(7) {
        let ceiling = crate::process::fd_table::NR_OPEN;
        process.files.lock().set_limit(soft.min(ceiling) as usize);
    }
    process.sync_credentials();
    Ok(process)
}

/// `mkdir -p` as root (the working directory is made before the init's identity applies).
fn make_directories(fs: &FsContext, path: &str) -> Result<(), Errno> {
    let mut prefix = String::new();
    for component in path.split('/').filter(|c| !c.is_empty()) {
        prefix.push('/');
        prefix.push_str(component);
        match fs.mkdir(At::Cwd, prefix.as_bytes(), 0o755) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}
