//! System-wide and process-control calls: `execve`, `uname` and host names, resource
//! limits, random numbers, CPU affinity, `sysinfo`, `arch_prctl`, `prctl`.
//!
//! Locks: `HOSTNAME` and `DOMAINNAME` (spin), each taken alone and released before the other
//! (`uname` copies one, then the other); `random`'s generator is taken alone too.

use alloc::vec::Vec;

use spin::Mutex;
use vfs_core::Errno;

use super::{SysResult, read_in, read_path, write_out};
use crate::abi::{self, Encoder, read_u64};
use crate::exec::strings::Strings;
use crate::process::Process;

/// The UTS names the container sees (`uname -n`, `hostname`).
static HOSTNAME: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static DOMAINNAME: Mutex<Vec<u8>> = Mutex::new(Vec::new());
const HOST_NAME_MAX: u64 = 64;

/// What `uname` reports: a Linux the programs we run know how to talk to.
pub const SYSNAME: &[u8] = b"Linux";
pub const RELEASE: &[u8] = b"6.1.0-sandbox";
pub const VERSION: &[u8] = b"#1 SMP PREEMPT_DYNAMIC sandbox kernel";
pub const MACHINE: &[u8] = b"x86_64";

pub fn set_hostname(name: &[u8]) {
    *HOSTNAME.lock() = name[..name.len().min(HOST_NAME_MAX as usize)].to_vec();
}

pub fn hostname() -> Vec<u8> {
    HOSTNAME.lock().clone()
}

pub fn set_domainname(name: &[u8]) {
    *DOMAINNAME.lock() = name[..name.len().min(HOST_NAME_MAX as usize)].to_vec();
}

pub fn domainname() -> Vec<u8> {
    DOMAINNAME.lock().clone()
}

pub fn execve(p: &mut Process, path: u64, argv: u64, envp: u64) -> Result<(), Errno> {
    let path = read_path(p, path)?;
    execve_path(p, path, argv, envp)
}

/// `execveat`: the program is `path` relative to `dirfd`, or with `AT_EMPTY_PATH` and an
/// empty path the file `dirfd` is open on; `AT_SYMLINK_NOFOLLOW` refuses a final symlink
/// (`ELOOP`). The program is run by its absolute path in the namespace (what
/// `/proc/self/exe` then shows).
pub fn execveat(
    p: &mut Process,
    dirfd: i32,
    path: u64,
    argv: u64,
    envp: u64,
    flags: u64,
) -> Result<(), Errno> {
    const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
    const AT_EMPTY_PATH: u64 = 0x1000;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = if path == 0 && flags & AT_EMPTY_PATH != 0 {
        Vec::new()
    } else {
        read_path(p, path)?
    };
    let location = if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        p.files.lock().get(dirfd)?.location().clone()
    } else if path.starts_with(b"/") && flags & AT_SYMLINK_NOFOLLOW == 0 {
        return execve_path(p, path, argv, envp);
    } else {
        let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
        let location = super::with_at(p, dirfd, |at| p.fs_context().resolve(at, &path, follow))?;
        if location.dentry.positive()?.file_type() == vfs_core::FileType::Symlink {
            return Err(Errno::ELOOP);
        }
        location
    };
    let absolute =
        vfs_core::path::absolute_path(&location, &p.fs.lock().root).ok_or(Errno::ENOENT)?;
    execve_path(p, absolute, argv, envp)
}

fn execve_path(p: &mut Process, path: Vec<u8>, argv: u64, envp: u64) -> Result<(), Errno> {
    // The copies live until the new stack holds them, across the program's reads from
    // 9p where other processes run: many execs at once must meet the budget (ENOMEM),
    // not the end of the heap. Dropped at the end of the call.
    let mut charge = crate::mm::budget::budget().empty_charge();
    let argv = read_string_array(p, argv, &mut charge)?;
    let envp = read_string_array(p, envp, &mut charge)?;
    // What the old image leaves behind for futexes (its robust list, `clear_child_tid`)
    // is released in its memory once the exec has succeeded, as Linux's
    // `exec_mm_release`.
    let (old_mm, robust_list, clear_child_tid) = (p.mm.clone(), p.robust_list.0, p.clear_child_tid);
    match crate::process::exec::exec(p, &path, argv, envp) {
        Ok(()) => {}
        // Linux's loader meets this past its point of no return, where `execve` can no
        // longer fail: the process is killed (on the way back to user mode).
        Err(failure) if failure.is_fatal() => {
            log::info!(target: "exec", "pid {}: {}: {failure}", p.pid, alloc::string::String::from_utf8_lossy(&path));
            p.pending_termination = Some(failure.fatal_signal());
            return Ok(());
        }
        Err(failure) => return Err(failure.errno()),
    }
    crate::task::futex::release_at_exec(p, &old_mm, robust_list, clear_child_tid);
    Ok(())
}

/// A NULL-terminated array of string pointers (argv, envp); NULL itself is an empty array.
/// The kernel's copy is charged to `charge` (on top of what it held) as it grows.
fn read_string_array(
    p: &mut Process,
    address: u64,
    charge: &mut vfs_core::budget::Charge,
) -> Result<Strings, Errno> {
    const MAX_STRINGS: usize = 0x7fff_ffff;
    let mut strings = Strings::new();
    let charged_before = charge.bytes();
    if address == 0 {
        return Ok(strings);
    }
    let mut total = 0;
    for index in 0..MAX_STRINGS {
        let pointer = p.mm.lock().read_u64(address + index as u64 * 8)?;
        if pointer == 0 {
            break;
        }
        let string =
            p.mm.lock()
                .read_c_string(pointer, crate::exec::stack::MAX_STRINGS)?;
        // Each string costs its bytes, its NUL and its pointer on the new stack: counting
        // the pointer too bounds the number of (even empty) strings, and so the kernel
        // memory this takes.
        total += string.len() + 1 + 8;
        if total > crate::exec::stack::MAX_STRINGS {
            return Err(Errno::E2BIG);
        }
        // Charged before the heap grows (by as much as the growth may take: the buffers
        // at most double, plus the string), so many execs at once meet the budget, not
        // an empty frame allocator; then fitted to what the list holds.
        let growth = strings.heap_bytes() + string.len() + 2 * core::mem::size_of::<usize>();
        charge.resize(charged_before + (strings.heap_bytes() + growth) as u64)?;
        strings.try_push(&string).map_err(|_| Errno::ENOMEM)?;
        charge.resize(charged_before + strings.heap_bytes() as u64)?;
    }
    Ok(strings)
}

pub fn uname(p: &mut Process, address: u64) -> SysResult {
    let (host, domain) = (hostname(), DOMAINNAME.lock().clone());
    let domain: &[u8] = if domain.is_empty() {
        b"(none)"
    } else {
        &domain
    };
    write_out(
        p,
        address,
        &abi::encode_utsname([SYSNAME, &host, RELEASE, VERSION, MACHINE, domain]),
    )
    .map(|()| 0)
}

fn read_name(p: &mut Process, address: u64, len: u64) -> Result<Vec<u8>, Errno> {
    if !p.capable(vfs_core::cap::SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    if len > HOST_NAME_MAX {
        return Err(Errno::EINVAL);
    }
    read_in(p, address, len as usize)
}

pub fn sethostname(p: &mut Process, address: u64, len: u64) -> SysResult {
    let name = read_name(p, address, len)?;
    *HOSTNAME.lock() = name;
    Ok(0)
}

pub fn setdomainname(p: &mut Process, address: u64, len: u64) -> SysResult {
    let name = read_name(p, address, len)?;
    *DOMAINNAME.lock() = name;
    Ok(0)
}

pub fn prlimit64(p: &mut Process, pid: u64, resource: u64, new: u64, old: u64) -> SysResult {
    use crate::process::fd_table::NR_OPEN;
    const RLIMIT_NOFILE: usize = 7;
    if pid != 0 && pid != u64::from(p.pid) {
        return Err(Errno::ESRCH);
    }
    let index = usize::try_from(resource)
        .ok()
        .filter(|&r| r < p.limits.values.len())
        .ok_or(Errno::EINVAL)?;
    let previous = p.limits.values[index];
    if new != 0 {
        let raw = read_in(p, new, 16)?;
        let (current, maximum) = (read_u64(&raw, 0), read_u64(&raw, 8));
        if current > maximum {
            return Err(Errno::EINVAL);
        }
        if maximum > previous.1 && !p.capable(vfs_core::cap::SYS_RESOURCE) {
            return Err(Errno::EPERM);
        }
        // No descriptor limit past `fs.nr_open`, whoever asks (Linux's `do_prlimit`).
        if index == RLIMIT_NOFILE && maximum > NR_OPEN {
            return Err(Errno::EPERM);
        }
        p.limits.values[index] = (current, maximum);
        if index == RLIMIT_NOFILE {
            p.files.lock().set_limit(current as usize);
        }
    }
    if old != 0 {
        write_out(p, old, &abi::encode_rlimit(previous.0, previous.1))?;
    }
    Ok(0)
}

pub fn getrandom(p: &mut Process, address: u64, len: u64, flags: u64) -> SysResult {
    const GRND_NONBLOCK: u64 = 1;
    const GRND_RANDOM: u64 = 2;
    const GRND_INSECURE: u64 = 4;
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == GRND_RANDOM | GRND_INSECURE
    {
        return Err(Errno::EINVAL);
    }
    // Like Linux, one call returns at most 32 MiB; it is produced a page at a time so the
    // kernel's memory use does not follow the caller's request.
    let len = len.min(32 << 20);
    p.mm.lock()
        .check_range(address, len, crate::mm::address_space::Access::Write)?;
    let mut chunk = [0u8; 4096];
    let mut done = 0;
    while done < len {
        let take = (len - done).min(chunk.len() as u64) as usize;
        crate::random::fill(&mut chunk[..take]);
        write_out(p, address + done, &chunk[..take])?;
        done += take as u64;
    }
    Ok(len)
}

pub fn sysinfo(p: &mut Process, address: u64) -> SysResult {
    let uptime = crate::clock::monotonic_ns() / 1_000_000_000;
    let (total, _) = arch::memory::memory_totals();
    let free = crate::mm::budget::available_to_container();
    let mut out = Encoder::with_capacity(112);
    out.i64(uptime).u64(0).u64(0).u64(0); // uptime, loads[3]
    out.u64(total).u64(free).u64(0).u64(0).u64(0).u64(0); // totalram freeram sharedram bufferram totalswap freeswap
    out.u16(1).u16(0).u32(0); // procs, pad
    out.u64(0).u64(0).u32(1); // totalhigh freehigh mem_unit
    out.zeros(112 - out.len());
    write_out(p, address, &out.finish()).map(|()| 0)
}

pub fn arch_prctl(p: &mut Process, code: u64, address: u64) -> SysResult {
    const ARCH_SET_GS: u64 = 0x1001;
    const ARCH_SET_FS: u64 = 0x1002;
    const ARCH_GET_FS: u64 = 0x1003;
    const ARCH_GET_GS: u64 = 0x1004;
    let canonical = address < crate::mm::vma::USER_END;
    match code {
        ARCH_SET_FS | ARCH_SET_GS if canonical => {
            if code == ARCH_SET_FS {
                p.context.fs_base = address;
            } else {
                p.context.gs_base = address;
            }
            // The program may have changed the register since the CPU last wrote it.
            arch::user::forget_loaded_bases_here();
        }
        ARCH_SET_FS | ARCH_SET_GS => return Err(Errno::EPERM),
        ARCH_GET_FS => write_out(p, address, &p.context.fs_base.to_le_bytes())?,
        ARCH_GET_GS => write_out(p, address, &p.context.gs_base.to_le_bytes())?,
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}

const CAP_V1: u32 = 0x1998_0330;
const CAP_V2: u32 = 0x2007_1026;
const CAP_V3: u32 = 0x2008_0522;

/// The header of `capget`/`capset`: the words per set its version has (1 for version 1,
/// 2 for versions 2 and 3) and the pid. An unknown version is `EINVAL`, with version 3
/// written back as the one the kernel prefers (what libcap probes with).
fn read_cap_header(p: &mut Process, header: u64) -> Result<(usize, i32), Errno> {
    let raw = read_in(p, header, 8)?;
    let version = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let pid = i32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]);
    match version {
        CAP_V1 => Ok((1, pid)),
        CAP_V2 | CAP_V3 => Ok((2, pid)),
        _ => {
            write_out(p, header, &CAP_V3.to_le_bytes())?;
            Err(Errno::EINVAL)
        }
    }
}

/// `capget`: the effective, permitted and inheritable sets of the caller (pid 0 or its
/// own) or of another process; a NULL data pointer only asks for the version: 0 even
/// for an unknown one, with the preferred version written back (how libcap and busybox
/// probe).
pub fn capget(p: &mut Process, header: u64, data: u64) -> SysResult {
    let (words, pid) = match read_cap_header(p, header) {
        Err(Errno::EINVAL) if data == 0 => return Ok(0),
        other => other?,
    };
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let (effective, permitted, inheritable) = if pid == 0 || pid as u32 == p.pid {
        (p.caps.effective, p.caps.permitted, p.caps.inheritable)
    } else {
        let theirs = crate::task::lifecycle::credentials_of(pid as u32)?;
        (
            theirs.caps.effective,
            theirs.caps.permitted,
            theirs.caps.inheritable,
        )
    };
    if data == 0 {
        return Ok(0);
    }
    let mut out = Vec::with_capacity(12 * words);
    for word in 0..words {
        for set in [effective, permitted, inheritable] {
            out.extend_from_slice(&((set >> (32 * word)) as u32).to_le_bytes());
        }
    }
    write_out(p, data, &out).map(|()| 0)
}

/// `capset`: only on the caller itself (`EPERM` for another pid), by Linux's rules
/// ([`crate::process::caps::Capabilities::capset`]).
pub fn capset(p: &mut Process, header: u64, data: u64) -> SysResult {
    let (words, pid) = read_cap_header(p, header)?;
    if pid != 0 && pid as u32 != p.pid {
        return Err(Errno::EPERM);
    }
    let raw = read_in(p, data, 12 * words)?;
    let mut sets = [0u64; 3];
    for word in 0..words {
        for (index, set) in sets.iter_mut().enumerate() {
            let at = word * 12 + index * 4;
            let value = u32::from_le_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
            *set |= u64::from(value) << (32 * word);
        }
    }
    let [effective, permitted, inheritable] = sets;
    p.caps.capset(effective, permitted, inheritable)?;
    p.sync_credentials();
    Ok(0)
}

pub fn prctl(p: &mut Process, option: u64, args: [u64; 4]) -> SysResult {
    use crate::process::caps::AmbientOp;
    const PR_SET_PDEATHSIG: u64 = 1;
    const PR_GET_DUMPABLE: u64 = 3;
    const PR_SET_DUMPABLE: u64 = 4;
    const PR_GET_KEEPCAPS: u64 = 7;
    const PR_SET_KEEPCAPS: u64 = 8;
    const PR_SET_NAME: u64 = 15;
    const PR_GET_NAME: u64 = 16;
    const PR_CAPBSET_READ: u64 = 23;
    const PR_CAPBSET_DROP: u64 = 24;
    const PR_GET_SECUREBITS: u64 = 27;
    const PR_SET_SECUREBITS: u64 = 28;
    const PR_SET_NO_NEW_PRIVS: u64 = 38;
    const PR_GET_NO_NEW_PRIVS: u64 = 39;
    const PR_SET_CHILD_SUBREAPER: u64 = 36;
    const PR_GET_CHILD_SUBREAPER: u64 = 37;
    const PR_CAP_AMBIENT: u64 = 47;
    let argument = args[0];
    let changed = |p: &mut Process| {
        p.sync_credentials();
        Ok(0)
    };
    match option {
        PR_CAPBSET_READ => p.caps.bounding_has(argument).map(u64::from),
        PR_CAPBSET_DROP => {
            p.caps.drop_bounding(argument)?;
            changed(p)
        }
        PR_CAP_AMBIENT => {
            let op = match argument {
                1 => AmbientOp::IsSet,
                2 => AmbientOp::Raise,
                3 => AmbientOp::Lower,
                4 => AmbientOp::ClearAll,
                _ => return Err(Errno::EINVAL),
            };
            if args[2] != 0 || args[3] != 0 || (op == AmbientOp::ClearAll && args[1] != 0) {
                return Err(Errno::EINVAL);
            }
            let answer = p.caps.ambient(op, args[1])?;
            changed(p)?;
            Ok(answer)
        }
        PR_GET_KEEPCAPS => Ok(u64::from(
            p.caps.securebits & crate::process::caps::securebits::KEEP_CAPS != 0,
        )),
        PR_SET_KEEPCAPS => {
            p.caps.set_keep_caps(argument)?;
            Ok(0)
        }
        PR_GET_SECUREBITS => Ok(u64::from(p.caps.securebits)),
        PR_SET_SECUREBITS => {
            p.caps.set_securebits(argument)?;
            Ok(0)
        }
        PR_SET_NO_NEW_PRIVS => {
            if argument != 1 || args[1..].iter().any(|&a| a != 0) {
                return Err(Errno::EINVAL);
            }
            p.caps.no_new_privs = true;
            Ok(0)
        }
        PR_GET_NO_NEW_PRIVS => {
            if args.iter().any(|&a| a != 0) {
                return Err(Errno::EINVAL);
            }
            Ok(u64::from(p.caps.no_new_privs))
        }
        PR_SET_NAME => {
            let mut name = read_in(p, argument, 16)?;
            let end = name.iter().position(|&b| b == 0).unwrap_or(15).min(15);
            name.truncate(end);
            p.task.set_name(name);
            Ok(0)
        }
        PR_GET_NAME => {
            let mut name = p.task.image().name;
            name.resize(16, 0);
            write_out(p, argument, &name).map(|()| 0)
        }
        PR_SET_CHILD_SUBREAPER => {
            crate::task::lifecycle::set_subreaper(p.pid, argument != 0);
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => {
            let value = u32::from(crate::task::lifecycle::is_subreaper(p.pid));
            write_out(p, argument, &value.to_le_bytes()).map(|()| 0)
        }
        PR_GET_DUMPABLE => Ok(1),
        PR_SET_DUMPABLE | PR_SET_PDEATHSIG => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}
