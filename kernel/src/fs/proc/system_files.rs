//! proc, middle: the texts of the system-wide files (`meminfo`, `cpuinfo`, `uptime`,
//! `version`, `filesystems`, `loadavg`, `stat`) in exactly Linux's formats, as pure
//! functions of the figures a [`SystemView`] supplies.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use super::view::{CpuInfo, MemoryInfo, SystemView};

/// `USER_HZ`: the tick `/proc/stat` counts in.
const USER_HZ: u64 = 100;
const NANOS_PER_SEC: u64 = 1_000_000_000;
/// `VMALLOC_TOTAL` on x86-64 with 4-level paging, in kB, as every such Linux shows it.
const VMALLOC_TOTAL_KB: u64 = 34_359_738_367;
const HUGE_PAGE_KB: u64 = 2048;

/// The filesystem types this kernel can mount, in Linux's registration order; none needs
/// a block device, so every line is `nodev`.
pub const FILESYSTEMS: &[&str] = &["sysfs", "tmpfs", "proc", "devpts", "ramfs", "9p", "overlay"];

/// One `kB` line of `/proc/meminfo`: the label padded to 15, a space, the value
/// right-aligned in 8 (`show_val_kb`).
fn meminfo_line(text: &mut String, label: &str, kilobytes: u64) {
    let _ = writeln!(text, "{label:<15} {kilobytes:>8} kB");
}

/// `/proc/meminfo`, Linux 6.1's lines in Linux's order. Figures the kernel does not
/// track are 0; `AnonPages` (and the active lists) are what is neither free nor cache.
pub fn meminfo(memory: &MemoryInfo) -> Vec<u8> {
    let kb = |bytes: u64| bytes / 1024;
    let anon = memory
        .total
        .saturating_sub(memory.free)
        .saturating_sub(memory.buffers)
        .saturating_sub(memory.cached)
        .saturating_sub(memory.slab);
    let commit_limit = memory.total / 2 + memory.swap_total;
    let mut text = String::new();
    for (label, bytes) in [
        ("MemTotal:", memory.total),
        ("MemFree:", memory.free),
        ("MemAvailable:", memory.available),
        ("Buffers:", memory.buffers),
        ("Cached:", memory.cached),
        ("SwapCached:", 0),
        ("Active:", anon + memory.cached),
        ("Inactive:", 0),
        ("Active(anon):", anon),
        ("Inactive(anon):", 0),
        ("Active(file):", memory.cached),
        ("Inactive(file):", 0),
        ("Unevictable:", 0),
        ("Mlocked:", 0),
        ("SwapTotal:", memory.swap_total),
        ("SwapFree:", memory.swap_free),
        ("Dirty:", 0),
        ("Writeback:", 0),
        ("AnonPages:", anon),
        ("Mapped:", 0),
        ("Shmem:", memory.shmem),
        ("KReclaimable:", 0),
        ("Slab:", memory.slab),
        ("SReclaimable:", 0),
        ("SUnreclaim:", memory.slab),
        ("KernelStack:", 0),
        ("PageTables:", 0),
        ("NFS_Unstable:", 0),
        ("Bounce:", 0),
        ("WritebackTmp:", 0),
        ("CommitLimit:", commit_limit),
        ("Committed_AS:", anon),
    ] {
        meminfo_line(&mut text, label, kb(bytes));
    }
    meminfo_line(&mut text, "VmallocTotal:", VMALLOC_TOTAL_KB);
    for label in ["VmallocUsed:", "VmallocChunk:", "Percpu:"] {
        meminfo_line(&mut text, label, 0);
    }
    // Linux prints this one with `%5lu`, which keeps its long label in the column.
    let _ = writeln!(text, "HardwareCorrupted: {:>5} kB", 0);
    for label in [
        "AnonHugePages:",
        "ShmemHugePages:",
        "ShmemPmdMapped:",
        "FileHugePages:",
        "FilePmdMapped:",
    ] {
        meminfo_line(&mut text, label, 0);
    }
    // The huge-page counts are plain numbers, right-aligned to the same column.
    for label in [
        "HugePages_Total:",
        "HugePages_Free:",
        "HugePages_Rsvd:",
        "HugePages_Surp:",
    ] {
        let _ = writeln!(text, "{label:<19}{:>5}", 0);
    }
    meminfo_line(&mut text, "Hugepagesize:", HUGE_PAGE_KB);
    meminfo_line(&mut text, "Hugetlb:", 0);
    meminfo_line(&mut text, "DirectMap4k:", 0);
    meminfo_line(&mut text, "DirectMap2M:", kb(memory.total));
    text.into_bytes()
}

/// `/proc/cpuinfo`: one block per processor (`count` of them, all `cpu`'s model, each its
/// own core of one package), field by field as x86's `show_cpuinfo` prints them, a blank
/// line after each.
pub fn cpuinfo(cpu: &CpuInfo, count: u32) -> Vec<u8> {
    let mut text = String::new();
    for processor in 0..count.max(1) {
        processor_block(&mut text, cpu, processor, count.max(1));
    }
    text.into_bytes()
}

fn processor_block(text: &mut String, cpu: &CpuInfo, processor: u32, count: u32) {
    let _ = write!(
        text,
        "processor\t: {processor}\nvendor_id\t: {}\ncpu family\t: {}\nmodel\t\t: {}\nmodel name\t: {}\nstepping\t: {}\n",
        String::from_utf8_lossy(&cpu.vendor_id),
        cpu.family,
        cpu.model,
        String::from_utf8_lossy(&cpu.model_name),
        cpu.stepping
    );
    if let Some(microcode) = cpu.microcode {
        let _ = writeln!(text, "microcode\t: {microcode:#x}");
    }
    if let Some(khz) = cpu.khz {
        let _ = writeln!(text, "cpu MHz\t\t: {}.{:03}", khz / 1000, khz % 1000);
    }
    if let Some(cache) = cpu.cache_size_kb {
        let _ = writeln!(text, "cache size\t: {cache} KB");
    }
    let _ = write!(
        text,
        "physical id\t: 0\nsiblings\t: {count}\ncore id\t\t: {processor}\ncpu cores\t: {count}\napicid\t\t: {processor}\ninitial apicid\t: {processor}\n"
    );
    let _ = write!(
        text,
        "fpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: {}\nwp\t\t: yes\n",
        cpu.cpuid_level
    );
    text.push_str("flags\t\t:");
    for flag in &cpu.flags {
        text.push(' ');
        text.push_str(flag);
    }
    text.push_str("\nbugs\t\t:");
    for bug in &cpu.bugs {
        text.push(' ');
        text.push_str(bug);
    }
    // With a TSC-calibrated delay loop Linux's BogoMIPS come out at twice the MHz.
    let bogomips_centis = cpu.khz.unwrap_or(0) / 5;
    let _ = write!(
        text,
        "\nbogomips\t: {}.{:02}\nclflush size\t: {}\ncache_alignment\t: {}\naddress sizes\t: {} bits physical, {} bits virtual\npower management:\n\n",
        bogomips_centis / 100,
        bogomips_centis % 100,
        cpu.clflush_size,
        cpu.cache_alignment,
        cpu.physical_address_bits,
        cpu.virtual_address_bits
    );
}

/// Seconds and hundredths, as `uptime_proc_show` prints a duration.
fn seconds_and_centis(nanos: u64) -> String {
    format!(
        "{}.{:02}",
        nanos / NANOS_PER_SEC,
        (nanos % NANOS_PER_SEC) / (NANOS_PER_SEC / 100)
    )
}

/// `/proc/uptime`: `"%lu.%02lu %lu.%02lu\n"`, uptime then idle time.
pub fn uptime(uptime_ns: u64, idle_ns: u64) -> Vec<u8> {
    format!(
        "{} {}\n",
        seconds_and_centis(uptime_ns),
        seconds_and_centis(idle_ns)
    )
    .into_bytes()
}

/// `/proc/version`: `linux_proc_banner`, `"%s version %s (%s@%s) (%s) %s\n"`.
pub fn version(release: &[u8], version: &[u8]) -> Vec<u8> {
    format!(
        "Linux version {} (sandbox@sandbox) (rustc) {}\n",
        String::from_utf8_lossy(release),
        String::from_utf8_lossy(version)
    )
    .into_bytes()
}

/// `/proc/filesystems`: `nodev\t<type>` per line.
pub fn filesystems() -> Vec<u8> {
    FILESYSTEMS
        .iter()
        .map(|name| format!("nodev\t{name}\n"))
        .collect::<String>()
        .into_bytes()
}

/// `/proc/loadavg`: three averages, running/total tasks, the last pid handed out.
pub fn loadavg(centis: [u64; 3], running: usize, total: usize, last_pid: u32) -> Vec<u8> {
    let [one, five, fifteen] = centis.map(|value| format!("{}.{:02}", value / 100, value % 100));
    format!("{one} {five} {fifteen} {running}/{total} {last_pid}\n").into_bytes()
}

/// `/proc/stat`: the aggregate and per-CPU time lines in `USER_HZ` ticks (user, nice,
/// system, idle, then six columns this kernel has nothing for), then the counters.
/// `processes` is how many processes exist.
pub fn stat(system: &dyn SystemView, processes: usize) -> Vec<u8> {
    let ticks = |nanos: u64| nanos / (NANOS_PER_SEC / USER_HZ);
    let line = |name: &str, user: u64, system: u64, idle: u64| {
        format!(
            "{name} {} 0 {} {} 0 0 0 0 0 0\n",
            ticks(user),
            ticks(system),
            ticks(idle)
        )
    };
    let cpus = system.cpu_times();
    let total = cpus.iter().fold((0, 0, 0), |(u, s, i), cpu| {
        (u + cpu.user_ns, s + cpu.system_ns, i + cpu.idle_ns)
    });
    let mut text = line("cpu ", total.0, total.1, total.2);
    for (index, cpu) in cpus.iter().enumerate() {
        text += &line(
            &format!("cpu{index}"),
            cpu.user_ns,
            cpu.system_ns,
            cpu.idle_ns,
        );
    }
    text += &format!(
        "intr 0\nctxt {}\nbtime {}\nprocesses {processes}\nprocs_running {}\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
        system.context_switches(),
        system.boot_time_secs(),
        system.running_threads().max(1),
    );
    text.into_bytes()
}
