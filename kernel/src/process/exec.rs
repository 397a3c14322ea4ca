//! `execve`: replace a process's image with an executable file (an ELF program, static or
//! dynamically linked, or a `#!` script whose interpreter is one), as Linux's
//! `load_elf_binary` and `load_script` do.
//!
//! A dynamically linked program names its interpreter (`PT_INTERP`, e.g.
//! `/lib64/ld-linux-x86-64.so.2`): the interpreter is opened in the caller's mount
//! namespace with its root and working directory, as the program was, mapped below the
//! stack where `mmap` would put it, and run first; the program's own headers and entry go
//! to it in the auxiliary vector (`AT_PHDR`, `AT_ENTRY`, `AT_BASE` the interpreter's base).
//! Segments are file mappings, so their pages come from the page cache.

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
use crate::exec::auxv::{self, AuxInput};
use crate::exec::elf::{self, ElfHeaders, ElfImage, HEADER_READ_SIZE, Role};
use crate::exec::stack::{self, StackRequest};
use crate::exec::strings::Strings;
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

/// `SIGSEGV`: what a process dies of when its exec fails past the point of no return.
const SIGSEGV: u8 = 11;

impl ExecFailure {
    pub fn errno(&self) -> Errno {
        match self {
            ExecFailure::Errno(errno) => *errno,
            ExecFailure::Format(error) => error.errno(),
        }
    }

    /// Linux meets this failure past its point of no return (`begin_new_exec`): the old
    /// image is gone and the process is killed with [`fatal_signal`](Self::fatal_signal)
    /// instead of `execve` returning.
    pub fn is_fatal(&self) -> bool {
        matches!(self, ExecFailure::Format(error) if error.is_fatal())
    }

    /// The signal a fatal failure kills the process with.
    pub fn fatal_signal(&self) -> u8 {
        SIGSEGV
    }

    /// The status a shell gives when it cannot run a command: 127 when the file is not
    /// there, 126 when it is there but cannot be executed; a process killed by its exec
    /// ends as killed by `SIGSEGV` (128 + 11).
    pub fn shell_status(&self) -> u8 {
        if self.is_fatal() {
            return 128 + SIGSEGV;
        }
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

/// Reads the executable's bytes at `offset` through the page cache (its version was
/// checked when it was opened): a program run again costs no read of its file.
fn read_exact_at(inode: &Arc<dyn Inode>, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    crate::mm::page_cache::read(inode, offset, buf)
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
    mut argv: Strings,
    envp: Strings,
) -> Result<(), ExecFailure> {
    // `AT_EXECFN` is the name `execve` was given, a script's own rather than its
    // interpreter's (Linux's `bprm->exec`).
    let execfn = path.to_vec();
    let mut path = path.to_vec();
    for _ in 0..=MAX_SCRIPT_DEPTH {
        let (inode, location) = open_executable(process, &path)?;
        let stat = inode.getattr()?;
        crate::mm::page_cache::check_version(&inode, &stat);
        let size = stat.size;
        let mut head = vec![0u8; HEADER_READ_SIZE];
        let head_len = read_exact_at(&inode, 0, &mut head)?;
        head.truncate(head_len);
        if let Some(shebang) = script::parse(&head) {
            // argv becomes: interpreter, [its argument], the script's path, argv[1..].
            argv = core::iter::once(shebang.interpreter)
                .chain(shebang.argument)
                .chain([&path[..]])
                .chain(argv.iter().skip(1))
                .collect();
            path = shebang.interpreter.to_vec();
            continue;
        }
        let headers = parse_elf(&inode, &head, size, Role::Program).map_err(ExecFailure::Format)?;
        let interpreter = match headers.interpreter {
            Some(reference) => Some(open_interpreter(process, &inode, reference)?),
            None => None,
        };
        let credentials = exec_credentials(process, &inode, &location, &stat)?;
        let executable = Executable {
            file: MappedFile { inode, location },
            headers,
            interpreter,
            credentials,
        };
        let names = Names {
            path: &path,
            execfn: &execfn,
        };
        return load(process, &executable, names, &argv, &envp);
    }
    Err(ExecFailure::Errno(Errno::ELOOP))
}

fn parse_elf(
    inode: &Arc<dyn Inode>,
    head: &[u8],
    size: u64,
    role: Role,
) -> Result<ElfHeaders, ExecFormatError> {
    elf::parse_file(head, size, role, |offset, table| {
        read_exact_at(inode, offset, table).ok()
    })
}

/// The interpreter a program's `PT_INTERP` names, opened and its headers read, with
/// Linux's errors: the path read whole from the program (`EIO` if the file ends first)
/// and NUL-terminated (`ENOEXEC`), the file opened as an executable is (`ENOENT`,
/// `EACCES`…), its header read whole (`EIO`) and an ELF for this machine with usable
/// program headers (`ELIBBAD`).
fn open_interpreter(
    process: &Process,
    program: &Arc<dyn Inode>,
    reference: elf::InterpreterRef,
) -> Result<Interpreter, ExecFailure> {
    // At most `PATH_MAX` bytes: `parse` checked the size.
    let mut bytes = vec![0u8; reference.size as usize];
    if read_exact_at(program, reference.offset, &mut bytes)? < bytes.len() {
        return Err(ExecFailure::Format(ExecFormatError::Truncated(
            "the PT_INTERP path lies past the end of the file",
        )));
    }
    let name = elf::interpreter_path(&bytes).map_err(ExecFailure::Format)?;
    if name.is_empty() {
        return Err(ExecFailure::Errno(Errno::ENOENT));
    }
    let (inode, location) = open_executable(process, name)?;
    let stat = inode.getattr()?;
    crate::mm::page_cache::check_version(&inode, &stat);
    let mut head = vec![0u8; HEADER_READ_SIZE];
    let head_len = read_exact_at(&inode, 0, &mut head)?;
    head.truncate(head_len);
    let headers =
        parse_elf(&inode, &head, stat.size, Role::Interpreter).map_err(ExecFailure::Format)?;
    log::debug!(target: "exec", "interpreter {}", String::from_utf8_lossy(name));
    Ok(Interpreter {
        file: MappedFile { inode, location },
        headers,
    })
}

/// A file whose segments are mapped: its inode, and where it was opened (the name
/// `/proc/<pid>/maps` shows).
struct MappedFile {
    inode: Arc<dyn Inode>,
    location: Location,
}

/// A program's interpreter, opened and its headers read.
struct Interpreter {
    file: MappedFile,
    headers: ElfHeaders,
}

/// The names of one exec: the file run (for `/proc/<pid>/exe` and `comm`), and the name
/// `execve` was given (`AT_EXECFN`; a script's, where `path` is its interpreter's).
struct Names<'a> {
    path: &'a [u8],
    execfn: &'a [u8],
}

/// The program exec runs: its file and headers, its interpreter if it names one, and
/// the identity the process takes with it.
struct Executable {
    file: MappedFile,
    headers: ElfHeaders,
    interpreter: Option<Interpreter>,
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

/// Maps `image`'s segments from `file`: the file's pages for the bytes the file holds
/// (the last page's tail zeroed), anonymous zeros past them up to the memory size.
fn map_segments(mm: &mut AddressSpace, file: &MappedFile, image: &ElfImage) -> Result<(), Errno> {
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
                inode: file.inode.clone(),
                location: file.location.clone(),
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
    }
    Ok(())
}

/// Places and maps the interpreter: an `ET_DYN` one where `mmap` would put its whole
/// span (the highest free range below the mmap base, as Linux's `load_elf_interp` maps
/// it with no address), an `ET_EXEC` one at its own addresses. Returns its image.
fn map_interpreter(
    mm: &mut AddressSpace,
    interpreter: &Interpreter,
) -> Result<ElfImage, ExecFailure> {
    let headers = &interpreter.headers;
    let (_, span) = headers
        .span()
        .ok_or(ExecFailure::Format(ExecFormatError::BadLayout(
            "the interpreter has no loadable segment",
        )))?;
    let start = match headers.kind {
        elf::Kind::SharedObject => {
            // Found as `mmap` finds room, and let go at once: the segments take it.
            let start = mm.map_anywhere(0, span, Protection::empty(), PageSource::Anonymous)?;
            mm.unmap(start, span)?;
            start
        }
        elf::Kind::Executable => 0,
    };
    let image = headers
        .place(headers.interpreter_bias(start))
        .map_err(ExecFailure::Format)?;
    map_segments(mm, &interpreter.file, &image)?;
    Ok(image)
}

fn load(
    process: &mut Process,
    executable: &Executable,
    names: Names<'_>,
    argv: &Strings,
    envp: &Strings,
) -> Result<(), ExecFailure> {
    let path = names.path;
    let image = executable
        .headers
        .place(executable.headers.program_bias())
        .map_err(ExecFailure::Format)?;
    let mut mm = AddressSpace::new()?;
    map_segments(&mut mm, &executable.file, &image)?;
    // The break starts right after the program (not its interpreter), as Linux's does
    // with randomization off.
    mm.set_brk_start(image.memory_end());
    mm.set_code_range(image.code_range());

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
    let interpreter_image = match &executable.interpreter {
        Some(interpreter) => Some(map_interpreter(&mut mm, interpreter)?),
        None => None,
    };
    // After the interpreter, as Linux's `arch_setup_additional_pages`.
    let vdso = super::vdso::map(&mut mm)?;
    // The interpreter runs first, and starts the program itself.
    let entry = interpreter_image
        .as_ref()
        .map_or(image.entry, |interp| interp.entry);

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
    let aux = auxv::vector(&AuxInput {
        vdso: Some(vdso),
        min_signal_stack: auxv::min_signal_stack_size(
            arch::fpu::FpuState::signal_frame_size() as u64
        ),
        hwcap: arch::cpu::hardware_capabilities(),
        hwcap2: arch::cpu::hardware_capabilities2(),
        phdr: image.phdr_address,
        phent: u64::from(image.phdr_entry_size),
        phnum: u64::from(image.phdr_count),
        entry: image.entry,
        base: interpreter_image
            .as_ref()
            .map_or(0, |interp| interp.load_bias),
        uid: ids.uid,
        euid: ids.euid,
        gid: ids.gid,
        egid: ids.egid,
        secure,
    });
    let mut random = [0u8; 16];
    crate::random::fill(&mut random);
    let argv_slices: Vec<&[u8]> = argv.iter().collect();
    let envp_slices: Vec<&[u8]> = envp.iter().collect();
    let request = StackRequest {
        top: STACK_TOP,
        argv: &argv_slices,
        envp: &envp_slices,
        execfn: names.execfn,
        random,
        aux: &aux,
    };
    let initial = stack::build(&request).map_err(|_| Errno::E2BIG)?;
    // The new stack's area is the new image's own: the write can fail only for want of
    // memory for its pages (Linux's `copy_strings` failing to get one), `ENOMEM`.
    mm.write(initial.sp, &initial.image)
        .map_err(|_| Errno::ENOMEM)?;
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
        rip: entry,
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
    // The file opened above (its symlinks followed), named from the root: not a second
    // walk of `path`.
    let exe = vfs_core::path::absolute_path(&executable.file.location, &process.fs.lock().root)
        .unwrap_or_else(|| path.to_vec());
    process.task.set_image(Image {
        name: name[..name.len().min(15)].to_vec(),
        exe,
        args: initial.args.clone(),
        env: initial.env.clone(),
        auxv: initial.auxv.into(),
    });
    process.publish_parts();
    log::debug!(target: "exec", "{} entry={entry:#x} sp={:#x}", String::from_utf8_lossy(path), initial.sp);
    Ok(())
}
