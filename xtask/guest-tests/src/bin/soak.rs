//! `soak --seconds N [--interval-secs S]`: the kernel under steady load for N seconds, as the
//! container's init (issue 12's soak). Each round: processes spawned (fork + exit, and
//! fork + exec of this program), a pipe carrying 256 KiB to a child and back, file work
//! (create, write, read back, rename, stat, list, remove) on tmpfs (`/tmp`), the overlay
//! root (`/root`) and a 9p bind mount (`/rw`), a tmpfs mounted, filled and unmounted, a bind
//! mount made and unmade, and memory pressure (32 MiB touched and unmapped, a 16 MiB tmpfs
//! file written and removed).
//!
//! Every S seconds (and once before the first round, and after the last) it prints a
//! sample taken between rounds, when nothing of a round is open:
//! `soak: sample seconds=T rounds=R memfree_kb=M fids=F quarantined_fids=Q errors=E`,
//! from `/proc/meminfo` and the kernel's 9p counters (`/sys/kernel/debug/9p/`). The host
//! (`cargo xtask soak`) judges whether memory and fids stayed flat. Ends with
//! `soak: done rounds=R errors=E`; exit 0 when no operation failed.
//!
//! `soak --exit` returns at once (the program it execs).

use std::ffi::CString;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
/// Errors printed one by one before only being counted.
const ERRORS_SHOWN: u64 = 20;

struct Soak {
    errors: u64,
    started: Instant,
}

impl Soak {
    fn fail(&mut self, what: &str, detail: impl std::fmt::Display) {
        self.errors += 1;
        if self.errors <= ERRORS_SHOWN {
            println!("soak: error: {what}: {detail}");
        }
    }

    /// `result`'s error, if any, as a failure of `what`.
    fn check<T, E: std::fmt::Display>(&mut self, what: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.fail(what, error);
                None
            }
        }
    }

    fn sample(&self, rounds: u64) {
        println!(
            "soak: sample seconds={:.1} rounds={rounds} memfree_kb={} fids={} quarantined_fids={} errors={}",
            self.started.elapsed().as_secs_f64(),
            memfree_kb().map_or_else(|| "?".to_owned(), |kb| kb.to_string()),
            counter("/sys/kernel/debug/9p/fids"),
            counter("/sys/kernel/debug/9p/quarantined_fids"),
            self.errors
        );
    }
}

fn memfree_kb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("MemFree:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

fn counter(path: &str) -> String {
    std::fs::read_to_string(path).map_or_else(|_| "?".to_owned(), |text| text.trim().to_owned())
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

fn c(path: &str) -> CString {
    CString::new(path).expect("no NUL in soak paths")
}

/// Waits for `pid`; its exit status, or why it did not exit normally.
fn wait(pid: i32) -> Result<i32, String> {
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child.
        let reaped = unsafe { libc::waitpid(pid, &mut status, 0) };
        if reaped == pid {
            break;
        }
        if reaped < 0 && errno().raw_os_error() != Some(libc::EINTR) {
            return Err(format!("waitpid: {}", errno()));
        }
    }
    if libc::WIFEXITED(status) {
        Ok(libc::WEXITSTATUS(status))
    } else {
        Err(format!("wait status {status:#x}"))
    }
}

fn spawns(soak: &mut Soak) {
    for _ in 0..4 {
        // SAFETY: the child only exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: ends the child.
            unsafe { libc::_exit(7) };
        }
        if pid < 0 {
            soak.fail("fork", errno());
            continue;
        }
        match wait(pid) {
            Ok(7) => {}
            Ok(status) => soak.fail("fork + exit", format!("status {status}")),
            Err(error) => soak.fail("fork + exit", error),
        }
    }
    for _ in 0..2 {
        match std::process::Command::new("/sbin/soak")
            .arg("--exit")
            .status()
        {
            Ok(status) if status.success() => {}
            other => soak.fail("spawn /sbin/soak --exit", format!("{other:?}")),
        }
    }
}

/// 256 KiB through a pipe to a child that sends it back over another.
fn pipes(soak: &mut Soak) {
    let mut to_child = [0; 2];
    let mut from_child = [0; 2];
    // SAFETY: each array has room for both ends.
    if unsafe { libc::pipe2(to_child.as_mut_ptr(), libc::O_CLOEXEC) } != 0
        || unsafe { libc::pipe2(from_child.as_mut_ptr(), libc::O_CLOEXEC) } != 0
    {
        soak.fail("pipe2", errno());
        return;
    }
    // SAFETY: the child copies one pipe to the other and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: the child's own descriptors.
        unsafe {
            libc::close(to_child[1]);
            libc::close(from_child[0]);
            let mut buffer = [0u8; 16384];
            loop {
                let count = libc::read(to_child[0], buffer.as_mut_ptr().cast(), buffer.len());
                if count <= 0 {
                    break;
                }
                libc::write(from_child[1], buffer.as_ptr().cast(), count as usize);
            }
            libc::_exit(0);
        }
    }
    // SAFETY: the parent's ends: it writes one pipe and reads the other.
    let (mut writer, mut reader) = unsafe {
        libc::close(to_child[0]);
        libc::close(from_child[1]);
        use std::os::fd::FromRawFd;
        (
            std::fs::File::from_raw_fd(to_child[1]),
            std::fs::File::from_raw_fd(from_child[0]),
        )
    };
    let data: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    // Write and read in turns, so neither pipe fills while the other waits.
    let mut back = Vec::with_capacity(data.len());
    for chunk in data.chunks(16384) {
        if soak.check("pipe write", writer.write_all(chunk)).is_none() {
            break;
        }
        let mut part = vec![0u8; chunk.len()];
        if soak
            .check("pipe read", reader.read_exact(&mut part))
            .is_none()
        {
            break;
        }
        back.extend_from_slice(&part);
    }
    drop(writer);
    if back != data {
        soak.fail(
            "pipe round trip",
            format!("{} of {} bytes back intact", back.len(), data.len()),
        );
    }
    drop(reader);
    if pid > 0 {
        let _ = wait(pid).map_err(|error| soak.fail("pipe child", error));
    }
}

/// Create, write, read back, rename, stat, list and remove files and a small tree in `dir`.
fn file_work(soak: &mut Soak, dir: &str) {
    let base = format!("{dir}/soak");
    let _ = std::fs::remove_dir_all(&base);
    if soak
        .check(
            &format!("mkdir {base}"),
            std::fs::create_dir_all(format!("{base}/a/b")),
        )
        .is_none()
    {
        return;
    }
    let data: Vec<u8> = (0..64 * 1024).map(|i| (i % 253) as u8).collect();
    for index in 0..8 {
        let path = format!("{base}/a/file{index}");
        soak.check(&format!("write {path}"), std::fs::write(&path, &data));
        match std::fs::read(&path) {
            Ok(bytes) if bytes == data => {}
            other => soak.fail(
                &format!("read back {path}"),
                format!("{:?}", other.map(|b| b.len())),
            ),
        }
        let renamed = format!("{base}/a/b/moved{index}");
        soak.check(&format!("rename {path}"), std::fs::rename(&path, &renamed));
        soak.check(&format!("stat {renamed}"), std::fs::metadata(&renamed));
    }
    match std::fs::read_dir(format!("{base}/a/b")).map(|entries| entries.count()) {
        Ok(8) => {}
        other => soak.fail(&format!("list {base}/a/b"), format!("{other:?}")),
    }
    soak.check(&format!("rm -r {base}"), std::fs::remove_dir_all(&base));
}

fn mount(
    source: &str,
    target: &str,
    fstype: &str,
    flags: libc::c_ulong,
) -> Result<(), std::io::Error> {
    // SAFETY: NUL-terminated strings that live across the call.
    let result = unsafe {
        libc::mount(
            c(source).as_ptr(),
            c(target).as_ptr(),
            c(fstype).as_ptr(),
            flags,
            std::ptr::null(),
        )
    };
    if result == 0 { Ok(()) } else { Err(errno()) }
}

fn umount(target: &str) -> Result<(), std::io::Error> {
    // SAFETY: a NUL-terminated path.
    if unsafe { libc::umount2(c(target).as_ptr(), 0) } == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// A tmpfs mounted, used and unmounted; a bind mount of the 9p scratch made and unmade.
fn mounts(soak: &mut Soak) {
    let point = "/tmp/soak-mount";
    let _ = std::fs::create_dir_all(point);
    if soak
        .check("mount tmpfs", mount("tmpfs", point, "tmpfs", 0))
        .is_some()
    {
        soak.check(
            "write on the mounted tmpfs",
            std::fs::write(format!("{point}/f"), vec![1u8; 4 * MIB]),
        );
        soak.check("umount tmpfs", umount(point));
    }
    let source = "/rw/soak-bind";
    let _ = std::fs::create_dir_all(source);
    let _ = std::fs::write(format!("{source}/seen"), b"through the bind\n");
    if soak
        .check("bind mount", mount(source, point, "", libc::MS_BIND))
        .is_some()
    {
        match std::fs::read(format!("{point}/seen")) {
            Ok(bytes) if bytes == b"through the bind\n" => {}
            other => soak.fail("read through the bind mount", format!("{other:?}")),
        }
        soak.check("umount bind", umount(point));
    }
}

/// 32 MiB of anonymous memory touched and unmapped; a 16 MiB tmpfs file written and
/// removed.
fn memory_pressure(soak: &mut Soak) {
    let len = 32 * MIB;
    // SAFETY: a fresh private anonymous mapping, unmapped below.
    let area = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if area == libc::MAP_FAILED {
        soak.fail("mmap 32 MiB", errno());
    } else {
        // SAFETY: inside the mapping made above.
        unsafe {
            for offset in (0..len).step_by(4096) {
                area.cast::<u8>().add(offset).write_volatile(offset as u8);
            }
            libc::munmap(area, len);
        }
    }
    let path = "/tmp/soak-big";
    soak.check(
        "write 16 MiB on tmpfs",
        std::fs::write(path, vec![5u8; 16 * MIB]),
    );
    soak.check("remove the 16 MiB file", std::fs::remove_file(path));
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut seconds = 60u64;
    let mut interval = 10u64;
    while let Some(flag) = args.next() {
        if flag == "--exit" {
            return ExitCode::SUCCESS;
        }
        let value = args.next().and_then(|value| value.parse().ok());
        match (flag.as_str(), value) {
            ("--seconds", Some(value)) => seconds = value,
            ("--interval-secs", Some(value)) if value > 0 => interval = value,
            _ => {
                eprintln!("usage: soak --seconds N [--interval-secs S] | soak --exit");
                return ExitCode::from(2);
            }
        }
    }
    println!("soak: seconds={seconds} interval={interval}");
    let mut soak = Soak {
        errors: 0,
        started: Instant::now(),
    };
    let duration = Duration::from_secs(seconds);
    let interval = Duration::from_secs(interval);
    let mut rounds = 0;
    soak.sample(rounds);
    let mut next_sample = soak.started + interval;
    while soak.started.elapsed() < duration {
        spawns(&mut soak);
        pipes(&mut soak);
        for dir in ["/tmp", "/root", "/rw"] {
            file_work(&mut soak, dir);
        }
        mounts(&mut soak);
        memory_pressure(&mut soak);
        rounds += 1;
        if Instant::now() >= next_sample {
            soak.sample(rounds);
            while next_sample <= Instant::now() {
                next_sample += interval;
            }
        }
    }
    soak.sample(rounds);
    println!("soak: done rounds={rounds} errors={}", soak.errors);
    if soak.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
