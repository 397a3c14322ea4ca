//! `smp-check CPUS [--stress]`: the kernel's processors as a program sees them, and work
//! spread over them (issue 17).
//!
//! Always: `sched_getaffinity`, `sysconf(_SC_NPROCESSORS_ONLN)`, `/sys/devices/system/cpu/
//! online` and `possible`, `/proc/cpuinfo` and `/proc/stat` all say `CPUS`; every CPU can
//! be pinned to (`sched_setaffinity`, then `getcpu` agrees); two CPU-bound threads, and two
//! CPU-bound processes, get more than 1.2 CPUs' worth of user time per unit of elapsed
//! time on two or more CPUs, at most one CPU's worth on one (asserted on `/proc/stat`'s
//! per-CPU times, never on the program's own clock; up to three tries on several CPUs,
//! since a busy host may not run the vCPUs in parallel).
//!
//! `--stress`: 8 CPU-bound threads that start pinned to CPU 0 and then allow every CPU
//! make even progress (busy CPUs balance their queues, not only idle ones steal); threads
//! that `mmap`/touch/`munmap` while others read memory that stays
//! (fresh anonymous memory must read zero: a stale TLB entry on another CPU writing into a
//! freed frame would show); `fork` while another thread keeps writing (the child's copy
//! must not change: the parent's write access must have been shot down on every CPU); a
//! mutex counter of 8 threads x 100000; a pipe ping-pong between processes pinned to
//! different CPUs; a fork storm from four threads at once.
//!
//! One line per check (`ok`/`FAIL`), then `smp-check: N passed, M failed`.
//!
//! `smp-check --storm ROUNDS`: the fork storm alone, ROUNDS times (a reproducer for races
//! it once hit: a sibling's `fork` write-protecting a page between a thread's
//! copy-on-write fault and its store retried).
//!
//! `smp-check --bench WORKERS` (for `cargo xtask bench smp`, in our sandbox and in a Linux
//! guest alike): a fixed amount of arithmetic split over WORKERS threads (`bench
//! parallel-burn ns=…`, the wall time of the whole), and 160 fork + exec of this program
//! (`--noop`, which exits at once) + wait split over WORKERS processes (`bench
//! fork-exec-storm ns=…`, the wall time of the whole storm).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

#[path = "../report.rs"]
mod report;
#[path = "../sys.rs"]
mod sys;
use report::Report;
use sys::{child_exit, describe_wait, exited_with, fork, wait_blocking, wait_with_deadline};

const CHILD_DEADLINE: Duration = Duration::from_secs(120);

fn affinity_count() -> usize {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the call writes at most its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return 0;
        }
        libc::CPU_COUNT(&set) as usize
    }
}

fn pin_to(cpu: usize) -> bool {
    // SAFETY: as above; CPU_SET writes one bit of the local set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

fn unpin(cpus: usize) -> bool {
    // SAFETY: as above.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in 0..cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

fn current_cpu() -> i32 {
    // SAFETY: sched_getcpu takes no arguments.
    unsafe { libc::sched_getcpu() }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn expected_list(cpus: usize) -> String {
    if cpus == 1 {
        "0\n".to_owned()
    } else {
        format!("0-{}\n", cpus - 1)
    }
}

/// Per-CPU (user, system, idle) ticks from `/proc/stat`.
fn cpu_ticks() -> Vec<(u64, u64, u64)> {
    read("/proc/stat")
        .lines()
        .filter(|line| line.starts_with("cpu") && !line.starts_with("cpu "))
        .map(|line| {
            let fields: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .map(|field| field.parse().unwrap_or(0))
                .collect();
            (
                fields.first().copied().unwrap_or(0),
                fields.get(2).copied().unwrap_or(0),
                fields.get(3).copied().unwrap_or(0),
            )
        })
        .collect()
}

fn reporting(report: &mut Report, cpus: usize) {
    report.check(
        "sched_getaffinity names every CPU",
        affinity_count() == cpus,
        format!("{} CPUs in the mask", affinity_count()),
    );
    // SAFETY: sysconf has no memory effects.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    report.check(
        "sysconf(_SC_NPROCESSORS_ONLN) counts every CPU",
        online == cpus as i64,
        format!("{online}"),
    );
    for file in ["online", "possible"] {
        let text = read(&format!("/sys/devices/system/cpu/{file}"));
        report.check(
            &format!("/sys/devices/system/cpu/{file} lists every CPU"),
            text == expected_list(cpus),
            format!("{text:?}"),
        );
    }
    let processors = read("/proc/cpuinfo")
        .lines()
        .filter(|line| line.starts_with("processor"))
        .count();
    report.check(
        "/proc/cpuinfo has a block per CPU",
        processors == cpus,
        format!("{processors} blocks"),
    );
    report.check(
        "/proc/stat has a line per CPU",
        cpu_ticks().len() == cpus,
        format!("{} lines", cpu_ticks().len()),
    );
}

fn pinning(report: &mut Report, cpus: usize) {
    let mut seen = Vec::new();
    for cpu in 0..cpus {
        let pinned = pin_to(cpu);
        // The move happens at once for the caller; a few yields more cost nothing.
        for _ in 0..3 {
            thread::yield_now();
        }
        seen.push((pinned, current_cpu()));
    }
    let ok = seen
        .iter()
        .enumerate()
        .all(|(cpu, &(pinned, at))| pinned && at == cpu as i32);
    report.check(
        "sched_setaffinity moves the caller to each CPU in turn (getcpu agrees)",
        ok,
        format!("(pinned, cpu) per target: {seen:?}"),
    );
    unpin(cpus);
    // SAFETY: a zeroed set names no CPU; the kernel must refuse it.
    let empty = unsafe {
        let set: libc::cpu_set_t = std::mem::zeroed();
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    report.check(
        "an empty affinity mask is EINVAL",
        empty == -1 && report::errno() == libc::EINVAL,
        format!("{empty}, errno {}", report::errno()),
    );
}

/// Spins for `rounds` of arithmetic the optimiser cannot drop.
fn burn(rounds: u64) -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..rounds {
        x = x.rotate_left(7) ^ i.wrapping_mul(0x2545_f491_4f6c_dd1d);
    }
    std::hint::black_box(x)
}

/// Runs `work` and returns (user ticks summed over CPUs, elapsed ticks of CPU 0 in all
/// columns): how many CPUs' worth of user time the work got per unit of elapsed time.
fn parallelism(work: impl FnOnce()) -> (u64, u64) {
    let before = cpu_ticks();
    work();
    let after = cpu_ticks();
    let user: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.0.saturating_sub(b.0))
        .sum();
    let elapsed = after.first().zip(before.first()).map_or(0, |(a, b)| {
        (a.0 + a.1 + a.2).saturating_sub(b.0 + b.1 + b.2)
    });
    (user, elapsed)
}

/// Two CPU-bound threads, or two processes, at once.
fn two_threads(rounds: u64) {
    let handles: Vec<_> = (0..2)
        .map(|_| thread::spawn(move || burn(rounds)))
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
}

fn two_processes(rounds: u64) {
    let children: Vec<i32> = (0..2)
        .map(|_| {
            let pid = fork();
            if pid == 0 {
                burn(rounds);
                child_exit(0);
            }
            pid
        })
        .collect();
    for pid in children {
        let _ = wait_with_deadline(pid, CHILD_DEADLINE);
    }
}

/// Whether `ratio` (user time over elapsed time) shows what `cpus` CPUs should give two
/// CPU-bound workers: clearly more than one CPU's worth on two or more, at most one on one.
fn ratio_ok(cpus: usize, ratio: f64) -> bool {
    if cpus >= 2 {
        ratio > 1.2
    } else {
        ratio <= 1.05
    }
}

fn scaling(report: &mut Report, cpus: usize) {
    const ROUNDS: u64 = 500_000_000;
    // The vCPUs run in parallel only while the host gives each its own core; on a busy
    // host a vCPU may wait, and its work is then taken by the other. So a measurement that
    // shows no parallelism is repeated (three at most): a kernel that does not spread the
    // work fails all three, a busy host rarely starves every one.
    let workloads: [(&str, fn(u64)); 2] = [("threads", two_threads), ("processes", two_processes)];
    for (what, work) in workloads {
        let mut tries = Vec::new();
        let mut passed = false;
        for _ in 0..3 {
            let (user, elapsed) = parallelism(|| work(ROUNDS));
            let ratio = user as f64 / elapsed.max(1) as f64;
            tries.push(format!(
                "{user} user ticks over {elapsed} elapsed ({ratio:.2})"
            ));
            // Ticks are 10 ms: demand enough of them that the ratio means something.
            passed = elapsed >= 20 && ratio_ok(cpus, ratio);
            if passed || cpus < 2 {
                break;
            }
        }
        report.check(
            &format!(
                "two CPU-bound {what} get {} CPU's worth of user time per elapsed time (/proc/stat)",
                if cpus >= 2 { "more than one" } else { "at most one" }
            ),
            passed,
            tries.join("; "),
        );
    }
}

/// Busy CPUs even out, not only idle ones: 8 CPU-bound threads start pinned to CPU 0 and
/// then allow every CPU. Idle CPUs take one thread each at once; after that every CPU is
/// busy, and without balancing between busy CPUs CPU 0 keeps five threads that each get
/// a fifth of the time the others get. Judged on the threads' own progress (rounds of
/// work done in the same window), never on the clock; up to three tries, as a busy host
/// may starve one vCPU for a while.
fn busy_balance(report: &mut Report, cpus: usize) {
    const THREADS: usize = 8;
    // Fairness is judged by the threads that progressed least and most: with balancing
    // each CPU runs two of them, without it CPU 0's five get a fifth of the others' share.
    const MOST_OVER_LEAST: f64 = 3.0;
    let mut tries = Vec::new();
    let mut passed = false;
    for _ in 0..3 {
        let progress: Arc<Vec<AtomicU64>> =
            Arc::new((0..THREADS).map(|_| AtomicU64::new(0)).collect());
        let stop = Arc::new(AtomicBool::new(false));
        let start = Arc::new(Barrier::new(THREADS + 1));
        let handles: Vec<_> = (0..THREADS)
            .map(|index| {
                let (progress, stop, start) = (progress.clone(), stop.clone(), start.clone());
                thread::spawn(move || {
                    let pinned = pin_to(0);
                    start.wait();
                    let unpinned = unpin(cpus);
                    while !stop.load(Ordering::Relaxed) {
                        burn(200_000);
                        progress[index].fetch_add(1, Ordering::Relaxed);
                    }
                    pinned && unpinned
                })
            })
            .collect();
        start.wait();
        thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
        let affinity_ok = handles
            .into_iter()
            .all(|handle| handle.join().unwrap_or(false));
        let done: Vec<u64> = progress.iter().map(|p| p.load(Ordering::Relaxed)).collect();
        let least = done.iter().copied().min().unwrap_or(0);
        let most = done.iter().copied().max().unwrap_or(0);
        tries.push(format!("rounds per thread {done:?}"));
        passed = affinity_ok && least > 0 && (most as f64) < MOST_OVER_LEAST * least as f64;
        if passed {
            break;
        }
    }
    report.check(
        "8 CPU-bound threads leaving a pin to CPU 0 even out over busy CPUs: the most progress is under 3x the least",
        passed,
        tries.join("; "),
    );
}

fn map_churn(report: &mut Report) {
    const THREADS: usize = 4;
    const ROUNDS: usize = 300;
    const LEN: usize = 64 * 1024;
    let stable: Arc<Vec<AtomicU64>> = Arc::new((0..4096).map(|i| AtomicU64::new(i)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (stable, stop) = (stable.clone(), stop.clone());
            thread::spawn(move || {
                let mut bad = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for (i, word) in stable.iter().enumerate() {
                        if word.load(Ordering::Relaxed) != i as u64 {
                            bad += 1;
                        }
                    }
                }
                bad
            })
        })
        .collect();
    let churners: Vec<_> = (0..THREADS)
        .map(|tag| {
            thread::spawn(move || {
                let mut dirty = 0usize;
                for round in 0..ROUNDS {
                    // SAFETY: a fresh private anonymous mapping, used only here.
                    let region = unsafe {
                        libc::mmap(
                            std::ptr::null_mut(),
                            LEN,
                            libc::PROT_READ | libc::PROT_WRITE,
                            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                            -1,
                            0,
                        )
                    };
                    if region == libc::MAP_FAILED {
                        return usize::MAX;
                    }
                    // SAFETY: the mapping is LEN bytes, readable and writable, and ours.
                    let bytes = unsafe { std::slice::from_raw_parts_mut(region.cast::<u8>(), LEN) };
                    dirty += bytes.iter().filter(|&&b| b != 0).count();
                    bytes.fill((tag * 31 + round) as u8 | 1);
                    dirty += bytes
                        .iter()
                        .filter(|&&b| b != ((tag * 31 + round) as u8 | 1))
                        .count();
                    // SAFETY: unmapping exactly what was mapped above.
                    unsafe { libc::munmap(region, LEN) };
                }
                dirty
            })
        })
        .collect();
    let dirty: Vec<usize> = churners
        .into_iter()
        .map(|handle| handle.join().unwrap_or(usize::MAX))
        .collect();
    stop.store(true, Ordering::Relaxed);
    let bad: Vec<u64> = readers
        .into_iter()
        .map(|handle| handle.join().unwrap_or(u64::MAX))
        .collect();
    report.check(
        "4 threads mmap/touch/munmap 300 x 64 KiB each while 2 read: fresh memory is zero, writes stay",
        dirty.iter().all(|&d| d == 0) && bad.iter().all(|&b| b == 0),
        format!("wrong bytes per churner {dirty:?}, wrong reads per reader {bad:?}"),
    );
}

fn fork_while_writing(report: &mut Report) {
    let word = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (word, stop) = (word.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                word.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while word.load(Ordering::Relaxed) < 1000 {
        thread::yield_now();
    }
    let mut results = Vec::new();
    for _ in 0..5 {
        let pid = fork();
        if pid == 0 {
            let first = word.load(Ordering::Relaxed);
            burn(5_000_000);
            let second = word.load(Ordering::Relaxed);
            child_exit(if first == second { 0 } else { 1 });
        }
        results.push(wait_with_deadline(pid, CHILD_DEADLINE));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = writer.join();
    report.check(
        "fork while another thread writes: the child's copy never changes",
        results.iter().all(|waited| exited_with(waited, 0)),
        results
            .iter()
            .map(describe_wait)
            .collect::<Vec<_>>()
            .join(", "),
    );
}

fn mutex_counter(report: &mut Report) {
    const THREADS: u64 = 8;
    const EACH: u64 = 100_000;
    let counter = Arc::new(Mutex::new(0u64));
    let start = Arc::new(Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (counter, start) = (counter.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                for _ in 0..EACH {
                    *counter.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                }
            })
        })
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
    let total = *counter.lock().unwrap_or_else(|e| e.into_inner());
    report.check(
        "mutex counter: 8 threads x 100000 give exactly 800000",
        total == THREADS * EACH,
        format!("{total}"),
    );
}

fn pipe_ping_pong(report: &mut Report, cpus: usize) {
    const ROUNDS: u32 = 2000;
    let mut there = [0; 2];
    let mut back = [0; 2];
    // SAFETY: pipe writes two descriptors into each array.
    unsafe {
        libc::pipe(there.as_mut_ptr());
        libc::pipe(back.as_mut_ptr());
    }
    let pid = fork();
    if pid == 0 {
        pin_to(1 % cpus);
        let mut ok = true;
        for round in 0..ROUNDS {
            let mut value = 0u32;
            // SAFETY: reading and writing 4 bytes of a local through pipe descriptors.
            unsafe {
                ok &= libc::read(there[0], (&raw mut value).cast(), 4) == 4 && value == round;
                value += 1;
                ok &= libc::write(back[1], (&raw const value).cast(), 4) == 4;
            }
        }
        child_exit(if ok { 0 } else { 1 });
    }
    pin_to(0);
    let mut ok = true;
    for round in 0..ROUNDS {
        let mut value = round;
        // SAFETY: as in the child.
        unsafe {
            ok &= libc::write(there[1], (&raw const value).cast(), 4) == 4;
            ok &= libc::read(back[0], (&raw mut value).cast(), 4) == 4 && value == round + 1;
        }
    }
    let waited = wait_with_deadline(pid, CHILD_DEADLINE);
    unpin(cpus);
    report.check(
        "2000 round trips through pipes between processes pinned to CPUs 0 and 1",
        ok && exited_with(&waited, 0),
        format!("parent saw all: {ok}; child {}", describe_wait(&waited)),
    );
}

fn fork_storm(report: &mut Report) {
    const THREADS: usize = 4;
    const EACH: usize = 50;
    let handles: Vec<_> = (0..THREADS)
        .map(|tag| {
            thread::spawn(move || {
                let mut good = 0;
                for round in 0..EACH {
                    let code = ((tag * EACH + round) % 200) as i32;
                    let pid = fork();
                    if pid == 0 {
                        child_exit(code);
                    }
                    if exited_with(&wait_with_deadline(pid, CHILD_DEADLINE), code) {
                        good += 1;
                    }
                }
                good
            })
        })
        .collect();
    let good: Vec<usize> = handles
        .into_iter()
        .map(|handle| handle.join().unwrap_or(0))
        .collect();
    report.check(
        "fork storm: 4 threads x 50 children, each status reaped exactly",
        good.iter().all(|&g| g == EACH),
        format!("children reaped right per thread {good:?}"),
    );
}

/// Total rounds of `burn` the parallel benchmark splits over its workers.
const BENCH_ROUNDS: u64 = 2_000_000_000;
/// fork + exec + wait in the whole storm, split over the workers.
const STORM_TOTAL: usize = 160;

fn now_ns() -> u128 {
    sys::monotonic_ns()
}

fn bench(workers: usize, program: &str) -> ExitCode {
    let workers = workers.max(1);
    let started = now_ns();
    let handles: Vec<_> = (0..workers)
        .map(|_| thread::spawn(move || burn(BENCH_ROUNDS / workers as u64)))
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
    println!("bench parallel-burn ns={} iterations=1", now_ns() - started);

    let Ok(program) = std::ffi::CString::new(program) else {
        return ExitCode::from(2);
    };
    let noop = c"--noop";
    let each = STORM_TOTAL / workers;
    let started = now_ns();
    let children: Vec<i32> = (0..workers)
        .map(|_| {
            let pid = fork();
            if pid == 0 {
                let mut failed = 0;
                for _ in 0..each {
                    let child = fork();
                    if child == 0 {
                        let argv = [program.as_ptr(), noop.as_ptr(), std::ptr::null()];
                        // SAFETY: argv is a null-terminated array of C strings that outlive the call.
                        unsafe { libc::execv(program.as_ptr(), argv.as_ptr()) };
                        child_exit(127);
                    }
                    if !exited_with(&wait_blocking(child), 0) {
                        failed += 1;
                    }
                }
                child_exit(if failed == 0 { 0 } else { 1 });
            }
            pid
        })
        .collect();
    let mut ok = true;
    for pid in children {
        ok &= exited_with(&wait_blocking(pid), 0);
    }
    let elapsed = now_ns() - started;
    if ok {
        println!(
            "bench fork-exec-storm ns={elapsed} iterations={}",
            workers * each
        );
        ExitCode::SUCCESS
    } else {
        println!("bench fork-exec-storm unavailable=execve:EIO");
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--noop") {
        return ExitCode::SUCCESS;
    }
    if args.get(1).map(String::as_str) == Some("--storm") {
        let rounds = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1);
        let mut report = Report::default();
        for _ in 0..rounds {
            fork_storm(&mut report);
        }
        return report.finish("smp-check");
    }
    if args.get(1).map(String::as_str) == Some("--bench") {
        let workers = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1);
        return bench(workers, &args[0]);
    }
    let Some(cpus) = args.get(1).and_then(|count| count.parse::<usize>().ok()) else {
        eprintln!("usage: smp-check CPUS [--stress]");
        return ExitCode::from(2);
    };
    let stress = args.iter().any(|arg| arg == "--stress");
    let mut report = Report::default();
    reporting(&mut report, cpus);
    pinning(&mut report, cpus);
    scaling(&mut report, cpus);
    if stress {
        if cpus >= 2 {
            busy_balance(&mut report, cpus);
        }
        map_churn(&mut report);
        fork_while_writing(&mut report);
        mutex_counter(&mut report);
        pipe_ping_pong(&mut report, cpus);
        fork_storm(&mut report);
    }
    report.finish("smp-check")
}
