//! `execve`: replace a process's image with an executable file (a static ELF, or a `#!`
//! script whose interpreter is one), as Linux's `load_elf_binary` and `load_script` do.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use vfs_core::PAGE_SIZE;

use vfs_core::file::OpenFlags;
use vfs_core::permission::Access as FileAccess;
use vfs_core::{At, Errno, FileType, Inode, Location, MountFlags, OpenFile};

use super::Process;
use super::caps::{FILE_CAPABILITIES_XATTR, FileCapabilities};
use crate::exec::elf::{self, ElfImage, HEADER_READ_SIZE};
use crate::exec::stack::{self, StackRequest, auxv};
use crate::exec::{ExecFormatError, script};
use crate::mm::address_space::{AddressSpace, PageSource};
use crate::mm::vma::Protection;
use crate::task::shared::{Image, shared};
use arch::user::UserContext;

/// Highest stack address (exclusive): the top page of the user half is left unmapped.
pub const STACK_TOP: u64 = 0x7fff_ffff_f000;
/// The stack area's size: Linux's default `RLIMIT_STACK`.
pub const STACK_SIZE: u64 = 8 << 20;
/// `#!` interpreters that are themselves scripts, followed this deep (Linux: 4).
const MAX_SCRIPT_DEPTH: usize = 4;

/// Why exec failed: an errno for `execve`, with the format problem when there is one.
#[derive(Debug)]
pub enum ExecFailure {
    Errno(Errno),
    Format(ExecFormatError),
}

impl From<Errno> for ExecFailure {
    fn from(errno: Errno) -> Self {
        ExecFailure::Errno(errno)
    }
}

impl ExecFailure {
    pub fn errno(&self) -> Errno {
        match self {
            ExecFailure::Errno(errno) => *errno,
            ExecFailure::Format(error) => error.errno(),
        }
    }

    /// The status a shell gives when it cannot run a command: 127 when the file is not
    /// there, 126 when it is there but cannot be executed.
    pub fn shell_status(&self) -> u8 {
        match self.errno() {
            Errno::ENOENT | Errno::ENOTDIR => 127,
            _ => 126,
        }
    }
}

impl core::fmt::Display for ExecFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ExecFailure::Errno(errno) => write!(f, "{errno:?}"),
            ExecFailure::Format(error) => write!(f, "{error}"),
        }
    }
}

fn read_exact_at(inode: &dyn Inode, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut filled = 0;
    while filled < buf.len() {
        let read = inode.read_at(offset + filled as u64, &mut buf[filled..])?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    Ok(filled)
}

/// The executable file at `path`: opened, a regular file, executable by the caller, on a
/// mount that allows exec.
fn open_executable(process: &Process, path: &[u8]) -> Result<(Arc<dyn Inode>, Location), Errno> {
    let file = process
        .fs_context()
        .open(At::Cwd, path, OpenFlags::RDONLY, 0)?;
    if file.inode().file_type() != FileType::Regular {
        return Err(Errno::EACCES);
    }
    if file.location().mount.flags().contains(MountFlags::NOEXEC) {
        return Err(Errno::EACCES);
    }
    let stat = file.stat()?;
    vfs_core::permission::check_access(&process.fs.lock().cred, &stat, FileAccess::EXEC)?;
    Ok((file.inode().clone(), file.location().clone()))
}

/// Replaces `process`'s image with the program at `path`.
pub fn exec(
    process: &mut Process,
    path: &[u8],
    mut argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<(), ExecFailure> {
    let mut path = path.to_vec();
    for _ in 0..=MAX_SCRIPT_DEPTH {
        let (inode, location) = open_executable(process, &path)?;
        let stat = inode.getattr()?;
        crate::mm::page_cache::check_version(&inode, &stat);
        let size = stat.size;
        let mut head = vec![0u8; HEADER_READ_SIZE];
        let head_len = read_exact_at(&*inode, 0, &mut head)?;
        head.truncate(head_len);
        if let Some(shebang) = script::parse(&head) {
            // argv becomes: interpreter, [its argument], the script's path, argv[1..].
            let mut new_argv = vec![shebang.interpreter.to_vec()];
            new_argv.extend(shebang.argument.map(<[u8]>::to_vec));
            new_argv.push(path.clone());
            new_argv.extend(argv.into_iter().skip(1));
            argv = new_argv;
            path = shebang.interpreter.to_vec();
            continue;
        }
        let image = parse_elf(&*inode, &head, size).map_err(ExecFailure::Format)?;
        let credentials = exec_credentials(process, &inode, &location, &stat)?;
        let executable = Executable {
            inode,
            location,
            credentials,
        };
        return load(process, &executable, &image, &path, &argv, &envp);
    }
    Err(ExecFailure::Errno(Errno::ELOOP))
}

fn parse_elf(inode: &dyn Inode, head: &[u8], size: u64) -> Result<ElfImage, ExecFormatError> {
    elf::parse_file(head, size, |offset, table| {
        read_exact_at(inode, offset, table).ok()
    })
}

/// The program exec runs: its file, and the identity the process takes with it.
struct Executable {
    inode: Arc<dyn Inode>,
    location: Location,
    credentials: ExecCredentials,
}

/// Who the process is after exec: the effective ids a set-user-ID or set-group-ID file
/// gives, and the file's capabilities.
struct ExecCredentials {
    euid: u32,
    egid: u32,
    file_capabilities: Option<FileCapabilities>,
}

/// Linux's `bprm_fill_uid` and `get_file_caps`: a set-user-ID file makes the effective
/// uid its owner's, a set-group-ID one (with group execute) the effective gid its group's,
/// and `security.capability` gives capabilities; none of it on a `nosuid` mount, and the
/// set-id bits not under `no_new_privs`. A capability attribute Linux would refuse fails
/// the exec with `EINVAL`, as there.
fn exec_credentials(
    process: &Process,
    inode: &Arc<dyn Inode>,
    location: &Location,
    stat: &vfs_core::attr::Stat,
) -> Result<ExecCredentials, Errno> {
    use vfs_core::attr::mode::{S_ISGID, S_ISUID, S_IXGRP};
    let mut credentials = ExecCredentials {
        euid: process.ids.euid,
        egid: process.ids.egid,
        file_capabilities: None,
    };
    if location.mount.flags().contains(MountFlags::NOSUID) {
        return Ok(credentials);
    }
    if !process.caps.no_new_privs {
        if stat.mode & S_ISUID != 0 {
            credentials.euid = stat.uid;
        }
        if stat.mode & (S_ISGID | S_IXGRP) == S_ISGID | S_IXGRP {
            credentials.egid = stat.gid;
        }
    }
    credentials.file_capabilities = match inode.get_xattr(FILE_CAPABILITIES_XATTR) {
        Ok(value) => Some(FileCapabilities::parse(&value).ok_or(Errno::EINVAL)?),
        Err(_) => None, // no attribute (ENODATA), or a filesystem without them
    };
    Ok(credentials)
}

fn load(
    process: &mut Process,
    executable: &Executable,
    image: &ElfImage,
    path: &[u8],
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
) -> Result<(), ExecFailure> {
    let mut mm = AddressSpace::new()?;
    let mut image_end = 0;
    for segment in &image.segments {
        let (page_start, page_offset) = segment.page_start();
        let file_end = segment.vaddr + segment.file_size;
        let file_area_end = if segment.file_size > 0 {
            file_end.next_multiple_of(PAGE_SIZE as u64)
        } else {
            page_start
        };
        let memory_end = (segment.vaddr + segment.mem_size).next_multiple_of(PAGE_SIZE as u64);
        if file_area_end > page_start {
            let source = PageSource::File {
                inode: executable.inode.clone(),
                location: executable.location.clone(),
                offset: page_offset,
                file_bytes: file_end - page_start,
            };
            mm.map_fixed(
                page_start,
                file_area_end - page_start,
                segment.protection,
                source,
            )?;
        }
        if memory_end > file_area_end {
            mm.map_fixed(
                file_area_end,
                memory_end - file_area_end,
                segment.protection,
                PageSource::Anonymous,
            )?;
        }
        image_end = image_end.max(memory_end);
    }
    mm.set_brk_start(image_end);

    let mut stack_rights = Protection::READ | Protection::WRITE;
    if image.executable_stack {
        stack_rights |= Protection::EXEC;
    }
    mm.map_fixed(
        STACK_TOP - STACK_SIZE,
        STACK_SIZE,
        stack_rights,
        PageSource::Anonymous,
    )?;

    // The identity the new image runs with (Linux's `cap_bprm_creds_from_file`): the
    // saved ids follow the effective ones, and a set-id or capability-raising exec is
    // marked secure (`AT_SECURE`: the dynamic loader then ignores `LD_*` variables).
    let credentials = &executable.credentials;
    let setid = credentials.euid != process.ids.euid || credentials.egid != process.ids.egid;
    let mut caps = process.caps;
    caps.exec_file(
        process.ids.uid,
        credentials.euid,
        credentials.file_capabilities.as_ref(),
        setid,
    );
    let raised = credentials
        .file_capabilities
        .is_some_and(|file| file.effective)
        || caps.permitted & !process.caps.permitted != 0;
    let secure = setid
        || credentials.euid != process.ids.uid
        || credentials.egid != process.ids.gid
        || (process.ids.uid != 0 && raised);
    let mut ids = process.ids.clone();
    ids.euid = credentials.euid;
    ids.suid = credentials.euid;
    ids.egid = credentials.egid;
    ids.sgid = credentials.egid;
    let aux = [
        (auxv::AT_PHDR, image.phdr_address),
        (auxv::AT_PHENT, u64::from(image.phdr_entry_size)),
        (auxv::AT_PHNUM, u64::from(image.phdr_count)),
        (auxv::AT_PAGESZ, PAGE_SIZE as u64),
        (auxv::AT_BASE, 0),
        (auxv::AT_FLAGS, 0),
        (auxv::AT_ENTRY, image.entry),
        (auxv::AT_UID, u64::from(ids.uid)),
        (auxv::AT_EUID, u64::from(ids.euid)),
        (auxv::AT_GID, u64::from(ids.gid)),
        (auxv::AT_EGID, u64::from(ids.egid)),
        (auxv::AT_HWCAP, arch::cpu::hardware_capabilities()),
        (auxv::AT_HWCAP2, 0),
        (auxv::AT_CLKTCK, 100),
        (auxv::AT_SECURE, u64::from(secure)),
    ];
    let mut random = [0u8; 16];
    crate::random::fill(&mut random);
    let argv_slices: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    let envp_slices: Vec<&[u8]> = envp.iter().map(Vec::as_slice).collect();
    let request = StackRequest {
        top: STACK_TOP,
        argv: &argv_slices,
        envp: &envp_slices,
        execfn: path,
        random,
        aux: &aux,
    };
    let initial = stack::build(&request).map_err(|_| Errno::E2BIG)?;
    mm.write(initial.sp, &initial.image)?;
    mm.set_start_stack(initial.sp);

    // The point of no return: the other threads of the process end first, and a thread
    // that is not the leader takes the process's id (Linux's `de_thread`).
    crate::task::lifecycle::end_other_threads(process)?;
    // The new image has an address space and a descriptor table of its own, whoever
    // shared the old ones (a vfork parent, a `CLONE_FILES` sibling): Linux's exec unshares
    // the files too, so close-on-exec closes nothing of theirs. The process's page count
    // (what the OOM killer weighs) follows it to the new image.
    let mut files = process.files.lock().try_clone()?;
    // POSIX record locks survive exec: the new table owns them now.
    files.set_lock_owner(process.files.lock().take_lock_owner());
    if let Some(counter) = crate::task::oom::counter_of(process.pid) {
        mm.count_resident_in(counter);
    }
    process.mm = shared(mm);
    process.files = shared(files);
    arch::thread::reset_fpu();
    process.context = UserContext {
        rip: image.entry,
        rsp: initial.sp,
        rflags: 0x202,
        ..UserContext::default()
    };
    // The close-on-exec descriptors close as `close` would: their files' record locks
    // go (POSIX's rule).
    let lock_owner = process.files.lock().lock_owner();
    let closing: Vec<Arc<OpenFile>> = match lock_owner {
        Some(_) => {
            let files = process.files.lock();
            files
                .descriptors()
                .filter(|&fd| files.close_on_exec(fd) == Ok(true))
                .filter_map(|fd| files.get(fd).ok().cloned())
                .collect()
        }
        None => Vec::new(),
    };
    process.files.lock().close_on_exec_all();
    for file in &closing {
        crate::fs::locks::descriptor_closed(lock_owner, file);
    }
    drop(closing);
    process.signals.reset_on_exec();
    // The capability and id transition computed above (the init's own exec too, as runc's
    // init execs it after setting the spec's sets).
    process.caps = caps;
    process.ids = ids;
    process.sync_credentials();
    process.clear_child_tid = 0;
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let fs = process.fs_context();
    let exe = fs
        .resolve(At::Cwd, path, true)
        .ok()
        .and_then(|l| vfs_core::path::absolute_path(&l, &fs.root))
        .unwrap_or_else(|| path.to_vec());
    process.task.set_image(Image {
        name: name[..name.len().min(15)].to_vec(),
        exe,
        args: initial.args.clone(),
        env: initial.env.clone(),
    });
    process.publish_parts();
    log::debug!(target: "exec", "{} entry={:#x} sp={:#x}", String::from_utf8_lossy(path), image.entry, initial.sp);
    Ok(())
}
