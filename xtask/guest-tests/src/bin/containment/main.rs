//! `containment [--depth N] [DIR]`: what a hostile container tries against the kernel
//! (issue 12), each answer compared with Linux's (`--memory [--only CASE]` and
//! `--exhaust`: the memory limits instead, see `memory.rs`):
//! - a tree N directories deep (default and in the boot test: 100,000) on a tmpfs
//!   mounted with mount(2) at DIR/deep (default
//!   `/tmp`): getcwd, `/proc/self/cwd` and `/proc/self/fd/N` there are `ENAMETOOLONG`, the
//!   deepest entry is reached by relative walks, then `umount` and, on a second tree,
//!   `rm -r`-style removal; the kernel must survive (its stack once overflowed at ~600);
//! - `brk(-1)` returns the current break and changes nothing;
//! - no mapping reaches the last page of the user half; `rt_sigreturn` to a
//!   non-canonical `rip` ends the process with `SIGSEGV`;
//! - `/proc/self/fd` with a 100 KiB deep path, hundreds of `dup`s and 20,000 open files
//!   (when `RLIMIT_NOFILE` allows): opening and closing them all finishes; a descriptor
//!   at the top of the limit; no limit past `fs.nr_open` (`EPERM`).
//!
//! Without the privilege to mount (the host as a user), the trees are built in DIR itself.
//! One line per check (`ok`/`FAIL`), then `containment: N passed, M failed`.

use std::ffi::CString;
use std::process::ExitCode;

#[path = "../../report.rs"]
mod report;
mod memory;
use report::{Report, errno};
use std::time::Instant;



fn c(path: &str) -> CString {
    CString::new(path).unwrap()
}

/// The raw result of a libc call: the value, or `-errno`.
fn raw(result: i64) -> i64 {
    if result < 0 { -i64::from(errno()) } else { result }
}

fn mkdir(path: &str) -> i64 {
    raw(unsafe { libc::mkdir(c(path).as_ptr(), 0o755) } as i64)
}

fn chdir(path: &str) -> i64 {
    raw(unsafe { libc::chdir(c(path).as_ptr()) } as i64)
}

fn rmdir(path: &str) -> i64 {
    raw(unsafe { libc::rmdir(c(path).as_ptr()) } as i64)
}

fn open(path: &str, flags: i32) -> i64 {
    raw(unsafe { libc::open(c(path).as_ptr(), flags | libc::O_CLOEXEC, 0o644) } as i64)
}

fn close(fd: i64) -> i64 {
    raw(unsafe { libc::close(fd as i32) } as i64)
}

fn readlink(path: &str) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; 8192];
    let n = unsafe { libc::readlink(c(path).as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(errno());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

fn getcwd_errno() -> i64 {
    let mut buf = vec![0u8; 4096];
    raw(unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) })
}

/// Mounts a fresh tmpfs at `dir` if we may; whether it did.
fn mount_tmpfs(dir: &str) -> bool {
    let _ = mkdir(dir);
    let source = c("tmpfs");
    let fstype = c("tmpfs");
    unsafe { libc::mount(source.as_ptr(), c(dir).as_ptr(), fstype.as_ptr(), 0, std::ptr::null()) == 0 }
}

fn umount(dir: &str) -> i64 {
    raw(unsafe { libc::umount2(c(dir).as_ptr(), 0) } as i64)
}

/// `mkdir name; cd name`, `depth` times from the cwd; the count made.
fn build_chain(name: &str, depth: usize) -> usize {
    for made in 0..depth {
        if mkdir(name) != 0 || chdir(name) != 0 {
            return made;
        }
    }
    depth
}

fn deep_tree(report: &mut Report, base: &str, depth: usize) {
    let dir = format!("{base}/deep");
    let mounted = mount_tmpfs(&dir);
    println!("# tree of {depth} on {} {dir}", if mounted { "a tmpfs mounted at" } else { "the directory" });
    chdir(&dir);
    let started = Instant::now();
    let made = build_chain("d", depth);
    report.check("a tree as deep as asked is made", made == depth, format!("{made} of {depth}"));
    println!("# built in {:?}", started.elapsed());
    let enametoolong = -i64::from(libc::ENAMETOOLONG);
    report.check("getcwd at the bottom: ENAMETOOLONG", getcwd_errno() == enametoolong, getcwd_errno());
    let cwd = readlink("/proc/self/cwd");
    report.check("readlink /proc/self/cwd at the bottom: ENAMETOOLONG", cwd == Err(libc::ENAMETOOLONG), format!("{cwd:?}"));
    let here = open(".", libc::O_RDONLY | libc::O_DIRECTORY);
    let link = readlink(&format!("/proc/self/fd/{here}"));
    report.check("readlink /proc/self/fd/N of the bottom: ENAMETOOLONG", here >= 0 && link == Err(libc::ENAMETOOLONG), format!("{here} {link:?}"));
    close(here);
    let leaf = open("leaf", libc::O_CREAT | libc::O_WRONLY);
    report.check("a file at the bottom", leaf >= 0, errno());
    close(leaf);
    // Back to the top, then down again by relative walks of 1,000 components each.
    chdir(&dir);
    let chunk = "d/".repeat(1000);
    let mut walked = 0;
    while walked + 1000 <= made && chdir(&chunk) == 0 {
        walked += 1000;
    }
    let rest = "d/".repeat(made - walked);
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let stat = raw(unsafe { libc::stat(c(&format!("./{rest}leaf")).as_ptr(), &mut st) } as i64);
    report.check("stat of the deepest file through long relative walks", stat == 0 && st.st_mode & libc::S_IFMT == libc::S_IFREG, stat);
    chdir("/");
    if mounted {
        let started = Instant::now();
        report.check("umount of the deep tmpfs", umount(&dir) == 0, errno());
        println!("# unmounted in {:?}", started.elapsed());
        mount_tmpfs(&dir);
    } else {
        // Without mount, the tree is removed below instead.
        chdir(&dir);
        let mut removed = 0;
        while removed < made && chdir(&chunk[..2]) == 0 {
            removed += 1;
        }
        unsafe { libc::unlink(c("leaf").as_ptr()) };
        for _ in 0..removed {
            chdir("..");
            rmdir("d");
        }
        chdir("/");
    }
    // `rm -r`: a second tree, removed bottom up.
    chdir(&dir);
    let made = build_chain("d", depth);
    let mut removed = 0;
    for _ in 0..made {
        if chdir("..") != 0 || rmdir("d") != 0 {
            break;
        }
        removed += 1;
    }
    report.check("rm -r of a deep tree, bottom up", made == depth && removed == made, format!("{removed} of {made}"));
    chdir("/");
    if mounted {
        report.check("umount after rm -r", umount(&dir) == 0, errno());
    }
    let _ = rmdir(&dir);
}

fn brk_minus_one(report: &mut Report) {
    let current = unsafe { libc::syscall(libc::SYS_brk, 0usize) };
    let answer = unsafe { libc::syscall(libc::SYS_brk, u64::MAX) };
    report.check("brk(-1) returns the current break", answer == current, format!("{answer:#x} vs {current:#x}"));
    let near_top = unsafe { libc::syscall(libc::SYS_brk, 0x7fff_ffff_ff00u64) };
    report.check("brk into the last user page changes nothing", near_top == current, format!("{near_top:#x}"));
    let after = unsafe { libc::syscall(libc::SYS_brk, 0usize) };
    report.check("the break is where it was", after == current, format!("{after:#x}"));
    // Still mapped: the heap and the program go on working.
    let v: Vec<u8> = vec![7; 1 << 20];
    report.check("memory still works after brk(-1)", v.iter().all(|&b| b == 7), "");
}

const LAST_PAGE: usize = 0x7fff_ffff_f000;

fn mmap(address: usize, len: usize, flags: i32) -> i64 {
    let result = unsafe {
        libc::mmap(address as *mut libc::c_void, len, libc::PROT_READ | libc::PROT_WRITE, flags | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    if result == libc::MAP_FAILED { -i64::from(errno()) } else { result as i64 }
}

fn top_of_user_half(report: &mut Report) {
    let enomem = -i64::from(libc::ENOMEM);
    let fixed = mmap(LAST_PAGE, 4096, libc::MAP_FIXED);
    report.check("mmap MAP_FIXED of the last user page: ENOMEM", fixed == enomem, fixed);
    let noreplace = mmap(LAST_PAGE, 4096, libc::MAP_FIXED_NOREPLACE);
    report.check("mmap MAP_FIXED_NOREPLACE of the last user page: ENOMEM", noreplace == enomem, noreplace);
    let across = mmap(LAST_PAGE - 4096, 8192, libc::MAP_FIXED_NOREPLACE);
    report.check("mmap MAP_FIXED_NOREPLACE ending in the last page: ENOMEM", across == enomem, across);
    let hinted = mmap(LAST_PAGE, 4096, 0);
    report.check(
        "mmap hinted at the last user page lands below it",
        hinted > 0 && (hinted as usize) + 4096 <= LAST_PAGE,
        format!("{hinted:#x}"),
    );
    if hinted > 0 {
        unsafe { libc::munmap(hinted as *mut libc::c_void, 4096) };
    }
    // rt_sigreturn to a non-canonical rip: SIGSEGV for the process, the kernel survives.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        sigreturn_to(0x0000_8000_0000_0000);
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    report.check(
        "rt_sigreturn to a non-canonical rip: killed by SIGSEGV",
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV,
        format!("status {status:#x}"),
    );
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        sigreturn_to(0xffff_ffff_8000_0000);
    }
    unsafe { libc::waitpid(pid, &mut status, 0) };
    report.check(
        "rt_sigreturn to a kernel-half rip: killed by SIGSEGV",
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV,
        format!("status {status:#x}"),
    );
}

/// A signal frame resuming at `rip`, then `rt_sigreturn` (in a child: never returns).
fn sigreturn_to(rip: u64) -> ! {
    // The kernel reads the ucontext at the stack pointer (the handler's `ret` popped the
    // frame's return address): uc_flags, uc_link, uc_stack (24), then the registers.
    let frame: &'static mut [u64] = Box::leak(vec![0u64; 1024].into_boxed_slice());
    const GREGS: usize = 5;
    let stack_top = frame.as_ptr() as u64 + 8 * 1000;
    frame[GREGS + 15] = stack_top; // rsp
    frame[GREGS + 16] = rip;
    frame[GREGS + 17] = 0x202; // eflags
    frame[GREGS + 18] = 0x33 | (0x2b << 48); // cs, gs, fs, ss
    let uc = frame.as_ptr() as u64;
    unsafe {
        core::arch::asm!("mov rsp, {uc}", "mov eax, 15", "syscall", uc = in(reg) uc, options(noreturn));
    }
}

fn proc_fd_amplification(report: &mut Report, base: &str) {
    let dir = format!("{base}/fdamp");
    let _ = mkdir(&dir);
    chdir(&dir);
    // 2,000 levels of 50-byte names: a path over 100 KiB.
    let name = "n".repeat(50);
    let made = build_chain(&name, 2000);
    report.check("a 100 KiB deep path is made", made == 2000, made);
    let started = Instant::now();
    let deep = open(".", libc::O_RDONLY | libc::O_DIRECTORY);
    let mut fds = vec![deep];
    for _ in 0..400 {
        let fd = raw(unsafe { libc::dup(deep as i32) } as i64);
        if fd < 0 {
            break;
        }
        fds.push(fd);
    }
    report.check("400 dups of the deep directory", fds.len() == 401, fds.len());
    let link = readlink(&format!("/proc/self/fd/{deep}"));
    report.check("its /proc/self/fd link: ENAMETOOLONG", link == Err(libc::ENAMETOOLONG), format!("{link:?}"));
    let listed = std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0);
    report.check("/proc/self/fd lists them all", listed >= fds.len(), format!("{listed} listed"));
    for fd in fds.drain(..) {
        close(fd);
    }
    chdir("/");
    println!("# deep path with dups: {:?}", started.elapsed());
    // 20,000 open files, beside the few already open.
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    let wanted = 20_064u64.min(limit.rlim_max);
    limit.rlim_cur = wanted;
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    let file = format!("{dir}/f");
    let count = (wanted as usize).saturating_sub(64);
    let started = Instant::now();
    for _ in 0..count {
        let fd = open(&file, libc::O_CREAT | libc::O_RDONLY);
        if fd < 0 {
            break;
        }
        fds.push(fd);
    }
    report.check(&format!("{count} files open"), fds.len() == count, fds.len());
    let last = fds.last().copied().unwrap_or(-1);
    let link = readlink(&format!("/proc/self/fd/{last}"));
    report.check("the last one's link is its path", link.as_deref() == Ok(file.as_bytes()), format!("{link:?}"));
    let mut closed = 0;
    for fd in fds.drain(..) {
        if close(fd) == 0 {
            closed += 1;
        }
    }
    let elapsed = started.elapsed();
    println!("# {count} opened and closed in {elapsed:?}");
    report.check("all closed, in under a minute", closed == count && elapsed.as_secs() < 60, format!("{closed} in {elapsed:?}"));
    let link = readlink(&format!("/proc/self/fd/{last}"));
    report.check("a closed descriptor's link is gone: ENOENT", link == Err(libc::ENOENT), format!("{link:?}"));
    // Tidy up the deep path.
    let _ = std::fs::remove_dir_all(&dir);
    descriptor_limits(report);
}

/// Linux's `fs.nr_open`: no `RLIMIT_NOFILE` above it, even for root.
const NR_OPEN: u64 = 1 << 20;

fn descriptor_limits(report: &mut Report) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    let saved = limit;
    let past = libc::rlimit { rlim_cur: NR_OPEN + 1, rlim_max: NR_OPEN + 1 };
    let refused = raw(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &past) } as i64);
    report.check("RLIMIT_NOFILE past fs.nr_open: EPERM", refused == -i64::from(libc::EPERM), refused);
    // The highest descriptor the limit allows: the table grows to it (and is charged).
    limit.rlim_cur = limit.rlim_max.min(NR_OPEN);
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    let top = limit.rlim_cur as i32 - 1;
    let got = raw(unsafe { libc::dup2(1, top) } as i64);
    report.check(&format!("dup2 to descriptor {top}, the top of the limit"), got == i64::from(top), got);
    close(got);
    let over = raw(unsafe { libc::dup2(1, top + 1) } as i64);
    report.check("dup2 past the limit: EBADF", over == -i64::from(libc::EBADF), over);
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &saved) };
}

/// `mprotect` of every other page of a large mapping makes one area per page: past
/// `vm.max_map_count` (65530) the call is `ENOMEM`, before the kernel's heap runs dry, and
/// the program goes on.
fn many_areas(report: &mut Report) {
    const PAGE: usize = 4096;
    let pages = 140_000usize;
    // SAFETY: a fresh anonymous mapping, never touched; unmapped below.
    let base = unsafe {
        libc::mmap(std::ptr::null_mut(), pages * PAGE, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    if base == libc::MAP_FAILED {
        report.check("many areas: the mapping", false, errno());
        return;
    }
    let mut refused = None;
    for index in (1..pages).step_by(2) {
        // SAFETY: a page inside the mapping made above.
        let result = unsafe { libc::mprotect(base.cast::<u8>().add(index * PAGE).cast(), PAGE, libc::PROT_READ | libc::PROT_WRITE) };
        if result != 0 {
            refused = Some((index, errno()));
            break;
        }
    }
    // SAFETY: the whole mapping made above.
    let unmapped = unsafe { libc::munmap(base, pages * PAGE) };
    let ok = matches!(refused, Some((index, libc::ENOMEM)) if index > 60_000) && unmapped == 0;
    report.check("mprotect of every other page: ENOMEM past vm.max_map_count, then munmap of it all", ok, format!("{refused:?}, munmap {unmapped}"));
}

/// A child whose SIGSEGV handler is a non-canonical address, with `SA_NODEFER` (so the
/// fault at the handler is not blocked) and maybe `SA_ONSTACK`, touches NULL. Each
/// delivery faults again and pushes another frame; Linux kills it with SIGSEGV once a
/// frame no longer fits (the stack limit, or the bottom of the alternate stack). The
/// kernel once delivered forever, the child spinning at the handler's address.
fn faulting_handler(report: &mut Report, on_alt_stack: bool) {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut flags = libc::SA_NODEFER | libc::SA_SIGINFO;
        if on_alt_stack {
            let stack = Box::leak(vec![0u8; 64 * 1024].into_boxed_slice());
            let alt = libc::stack_t { ss_sp: stack.as_mut_ptr().cast(), ss_flags: 0, ss_size: stack.len() };
            unsafe { libc::sigaltstack(&alt, std::ptr::null_mut()) };
            flags |= libc::SA_ONSTACK;
        }
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = 0xe372_33d6_440b_65e1;
            action.sa_flags = flags;
            libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut());
            std::ptr::write_volatile(std::ptr::null_mut::<u8>(), 1);
            libc::_exit(0);
        }
    }
    let started = Instant::now();
    let mut status = 0;
    while unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == 0 {
        if started.elapsed().as_secs() >= 60 {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            unsafe { libc::waitpid(pid, &mut status, 0) };
            status = -1;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let stack = if on_alt_stack { "the alternate stack" } else { "the stack" };
    report.check(
        &format!("a SIGSEGV handler at a non-canonical address, SA_NODEFER, on {stack}: killed by SIGSEGV"),
        status != -1 && libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV,
        if status == -1 { "still running after 60 s".to_owned() } else { format!("status {status:#x}") },
    );
}

extern "C" fn do_nothing(_: i32) {}

// An `rt_sigreturn` trampoline: a restorer that works, so only the missing flag can end
// the process.
std::arch::global_asm!(".globl containment_restorer", "containment_restorer:", "mov eax, 15", "syscall", "ud2");
unsafe extern "C" {
    fn containment_restorer();
}

/// A handler installed without `SA_RESTORER` (raw `rt_sigaction`: libc always adds it):
/// on x86_64 the kernel has no return path for it, and the signal's arrival ends the
/// process with SIGSEGV. The kernel once returned through the restorer field anyway, and
/// a fault handler so installed returned into its fault forever (found by syscall-fuzz).
fn handler_without_restorer(report: &mut Report) {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let action: [u64; 4] = [do_nothing as *const () as u64, 0, containment_restorer as *const () as u64, 0];
        unsafe {
            // Rust's runtime catches SIGSEGV (stack overflows); the forced one must kill.
            libc::signal(libc::SIGSEGV, libc::SIG_DFL);
            libc::syscall(libc::SYS_rt_sigaction, libc::SIGUSR1, action.as_ptr(), 0usize, 8usize);
            libc::kill(libc::getpid(), libc::SIGUSR1);
            libc::_exit(0);
        }
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    report.check(
        "a handler without SA_RESTORER: killed by SIGSEGV when its signal arrives",
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV,
        format!("status {status:#x}"),
    );
}

/// As the init (pid 1), signals it has no handler for never reach it, whoever sends
/// them: a child made with `CLONE_PARENT` asking for exit signal 32 (Linux gives it its
/// creator's exit signal, SIGCHLD, so a plain `waitpid` reaps it), and the init's own
/// alarm. Either once ended the sandbox (found by syscall-fuzz: status 160 = signal 32).
fn init_ignores_unhandled_signals(report: &mut Report) {
    if std::process::id() != 1 {
        println!("# not the init: its signal checks are skipped");
        return;
    }
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // The new process is the init's child, not ours; both leave at once.
        unsafe {
            libc::syscall(libc::SYS_clone, libc::CLONE_PARENT as libc::c_long | 32, 0usize, 0usize, 0usize, 0usize);
            libc::_exit(0);
        }
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let mut sibling_status = -1;
    let started = Instant::now();
    while started.elapsed().as_secs() < 10 {
        let reaped = unsafe { libc::waitpid(-1, &mut sibling_status, libc::WNOHANG) };
        if reaped > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    report.check(
        "the init survives a CLONE_PARENT child asking for exit signal 32, and reaps it with a plain waitpid",
        libc::WIFEXITED(status) && sibling_status == 0,
        format!("child {status:#x}, sibling {sibling_status:#x}"),
    );
    let timer = libc::itimerval {
        it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
        it_value: libc::timeval { tv_sec: 0, tv_usec: 20_000 },
    };
    unsafe {
        libc::signal(libc::SIGALRM, libc::SIG_DFL);
        libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut());
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    report.check("the init outlives its own alarm, with no handler for it", true, "");
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut depth = 100_000usize;
    let mut base = String::from("/tmp");
    let mut memory_only = false;
    let mut only = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--depth" => depth = args.next().and_then(|n| n.parse().ok()).unwrap_or(depth),
            "--memory" => memory_only = true,
            "--only" => only = args.next().filter(|name| memory::CASES.contains(&name.as_str())),
            "--exhaust" => memory::exhaust(),
            // What `memory.rs`'s exec storm runs: the arguments after it are ballast.
            "--exit" => return ExitCode::SUCCESS,
            _ => base = arg,
        }
    }
    let mut report = Report::default();
    if memory_only {
        memory::run(&mut report, &base, only.as_deref());
        return report.finish("containment");
    }
    brk_minus_one(&mut report);
    many_areas(&mut report);
    top_of_user_half(&mut report);
    faulting_handler(&mut report, false);
    faulting_handler(&mut report, true);
    handler_without_restorer(&mut report);
    init_ignores_unhandled_signals(&mut report);
    proc_fd_amplification(&mut report, &base);
    deep_tree(&mut report, &base, depth);
    report.finish("containment")
}
