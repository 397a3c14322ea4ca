//! proc, middle: the texts of `/proc/<pid>/status`, `stat`, `statm`, `maps` and
//! `fdinfo/N` in Linux 6.1's formats (`proc_pid_status`, `do_task_stat`,
//! `proc_pid_statm`, `show_map_vma`, `seq_show`), as pure functions of a [`ProcessView`].

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use vfs_core::{Errno, PAGE_SIZE};

use super::view::{FdInfo, MapArea, ProcessView};

/// `CAP_LAST_CAP` 40 in Linux 6.1: the full capability set is 41 bits.
/// `SIGCHLD`, the signal a process's parent gets when it ends.
const EXIT_SIGNAL: u32 = 17;
/// `PF_RANDOMIZE`: address-space randomisation, the one task flag a user process shows.
const TASK_FLAGS: u64 = 0x0040_0000;
/// `RLIM_INFINITY`, shown as `rsslim`.
const NO_LIMIT: u64 = u64::MAX;
/// The signal-queue limit `SigQ` shows (`RLIMIT_SIGPENDING`).
const SIGNAL_QUEUE_LIMIT: u32 = 4096;

/// The command name as `status` shows it: `\n` and `\\` escaped (`proc_task_name`).
fn escaped_name(comm: &[u8]) -> String {
    let mut name = String::new();
    for character in String::from_utf8_lossy(comm).chars() {
        match character {
            '\n' => name.push_str("\\n"),
            '\\' => name.push_str("\\\\"),
            other => name.push(other),
        }
    }
    name
}

/// `FDSize`: the descriptor table's size, a power of two of at least 64.
fn fd_table_size(process: &dyn ProcessView) -> u64 {
    let highest = process.fds().iter().map(|open| open.fd).max().unwrap_or(0);
    (u64::try_from(highest).unwrap_or(0) + 1)
        .max(64)
        .next_power_of_two()
}

/// `/proc/<pid>/status`.
pub fn status(process: &dyn ProcessView) -> Vec<u8> {
    let ids = process.ids();
    let (letter, state) = process.state().letter_and_name();
    let pid = process.pid();
    let mut text = String::new();
    let _ = write!(
        text,
        "Name:\t{}\nUmask:\t{:04o}\nState:\t{letter} ({state})\n",
        escaped_name(&process.comm()),
        process.umask()
    );
    let _ = write!(
        text,
        "Tgid:\t{}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{}\nTracerPid:\t0\n",
        process.tgid(),
        process.parent_pid()
    );
    let [uid, euid, suid, fsuid] = ids.uid;
    let [gid, egid, sgid, fsgid] = ids.gid;
    let _ = write!(
        text,
        "Uid:\t{uid}\t{euid}\t{suid}\t{fsuid}\nGid:\t{gid}\t{egid}\t{sgid}\t{fsgid}\n"
    );
    let _ = write!(text, "FDSize:\t{}\nGroups:\t", fd_table_size(process));
    let groups: Vec<String> = ids
        .groups
        .iter()
        .map(|group| alloc::format!("{group}"))
        .collect();
    // Linux ends the list with a space, kept "for compatibility" (see `task_state`).
    let _ = writeln!(text, "{} ", groups.join(" "));
    let _ = write!(
        text,
        "NStgid:\t{pid}\nNSpid:\t{pid}\nNSpgid:\t{}\nNSsid:\t{}\n",
        process.process_group(),
        process.session()
    );
    let memory = process.memory();
    let kb = |bytes: u64| bytes / 1024;
    for (label, bytes) in [
        ("VmPeak:", memory.peak_virtual_size.max(memory.virtual_size)),
        ("VmSize:", memory.virtual_size),
        ("VmLck:", 0),
        ("VmPin:", 0),
        ("VmHWM:", memory.peak_resident.max(memory.resident)),
        ("VmRSS:", memory.resident),
        // Pages are not told apart by what fills them: all count as anonymous.
        ("RssAnon:", memory.resident),
        ("RssFile:", 0),
        ("RssShmem:", 0),
        ("VmData:", memory.data),
        ("VmStk:", memory.stack),
        ("VmExe:", memory.text),
        ("VmLib:", memory.libraries),
        ("VmPTE:", memory.page_tables),
        ("VmSwap:", 0),
        ("HugetlbPages:", 0),
    ] {
        let _ = writeln!(text, "{label}\t{:>8} kB", kb(bytes));
    }
    let _ = write!(
        text,
        "CoreDumping:\t0\nTHP_enabled:\t0\nThreads:\t{}\nSigQ:\t0/{SIGNAL_QUEUE_LIMIT}\n",
        process.threads()
    );
    let signals = process.signals();
    let _ = write!(
        text,
        "SigPnd:\t{:016x}\nShdPnd:\t{:016x}\nSigBlk:\t{:016x}\nSigIgn:\t{:016x}\nSigCgt:\t{:016x}\n",
        signals.pending, 0, signals.blocked, signals.ignored, signals.caught
    );
    let [inheritable, permitted, effective, bounding, ambient] = ids.caps;
    let _ = write!(
        text,
        "CapInh:\t{inheritable:016x}\nCapPrm:\t{permitted:016x}\nCapEff:\t{effective:016x}\nCapBnd:\t{bounding:016x}\nCapAmb:\t{ambient:016x}\nNoNewPrivs:\t{}\n",
        u8::from(ids.no_new_privs)
    );
    text.push_str("Seccomp:\t0\nSeccomp_filters:\t0\n");
    let (allowed, online) = process.cpu_masks();
    let _ = write!(
        text,
        "Cpus_allowed:\t{}\nCpus_allowed_list:\t{}\nMems_allowed:\t1\nMems_allowed_list:\t0\n",
        cpu_mask_hex(allowed, online),
        cpu_list(allowed)
    );
    text.push_str("voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
    text.into_bytes()
}

/// A CPU mask as Linux's `%*pb` prints a `cpumask`: hex digits for as many CPUs as can
/// be online (`nr_cpu_ids`, here the highest online CPU + 1), a comma between 32-bit
/// groups.
fn cpu_mask_hex(mask: u64, online: u64) -> String {
    let cpus = (64 - online.leading_zeros()).max(1) as usize;
    let digits = cpus.div_ceil(4);
    let hex = alloc::format!("{mask:0digits$x}");
    let hex = &hex[hex.len() - digits..];
    let mut text = String::new();
    for (index, digit) in hex.chars().enumerate() {
        if index > 0 && (digits - index).is_multiple_of(8) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// A CPU mask as Linux's `%*pbl`: ranges, `0-3,5`.
fn cpu_list(mask: u64) -> String {
    let mut parts = Vec::new();
    let mut cpu = 0;
    while cpu < 64 {
        if mask >> cpu & 1 == 0 {
            cpu += 1;
            continue;
        }
        let first = cpu;
        while cpu < 64 && mask >> cpu & 1 == 1 {
            cpu += 1;
        }
        parts.push(if cpu - 1 == first {
            alloc::format!("{first}")
        } else {
            alloc::format!("{first}-{}", cpu - 1)
        });
    }
    parts.join(",")
}

/// `/proc/<pid>/stat`: the 52 fields of `do_task_stat` on one line. Times are in
/// `USER_HZ` ticks; addresses the kernel does not expose are 0.
pub fn stat(process: &dyn ProcessView) -> Vec<u8> {
    let (letter, _) = process.state().letter_and_name();
    let memory = process.memory();
    let signals = process.signals();
    // `do_task_stat` shows only the classic 31 signals of each mask.
    let classic = |mask: u64| mask & 0x7fff_ffff;
    // `USER_HZ` (100) ticks, as `nsec_to_clock_t`.
    let ticks = |ns: u64| ns / 10_000_000;
    let start_ticks = ticks(process.start_time_ns());
    let [user, system, children_user, children_system] = process.process_cpu_times();
    let mut text = String::new();
    let _ = write!(
        text,
        "{} ({}) {letter} {} {} {} 0 -1 {TASK_FLAGS} 0 0 0 0 {} {} {} {} 20 0 {} 0 {start_ticks} {} {} {NO_LIMIT} 0 0 0 0 0 ",
        process.pid(),
        String::from_utf8_lossy(&process.comm()),
        process.parent_pid(),
        process.process_group(),
        process.session(),
        ticks(user),
        ticks(system),
        ticks(children_user),
        ticks(children_system),
        process.threads(),
        memory.virtual_size,
        memory.resident / PAGE_SIZE as u64,
    );
    let _ = writeln!(
        text,
        "{} {} {} {} 0 0 0 {EXIT_SIGNAL} 0 0 0 0 0 0 0 0 0 0 0 0 0 0",
        classic(signals.pending),
        classic(signals.blocked),
        classic(signals.ignored),
        classic(signals.caught)
    );
    text.into_bytes()
}

/// `/proc/<pid>/statm`: size, resident, shared, text, lib, data, dirty, in pages (as
/// Linux's `task_statm`: `lib` is always 0 since 2.6, data counts the stack too); no
/// resident page is counted as shared, as `RssFile`/`RssShmem` in `status`.
pub fn statm(process: &dyn ProcessView) -> Vec<u8> {
    let memory = process.memory();
    let pages = |bytes: u64| bytes / PAGE_SIZE as u64;
    alloc::format!(
        "{} {} 0 {} 0 {} 0\n",
        pages(memory.virtual_size),
        pages(memory.resident),
        pages(memory.text),
        pages(memory.data + memory.stack)
    )
    .into_bytes()
}

/// `/proc/<pid>/maps`: `start-end perms offset major:minor inode`, then, for a named
/// area, spaces to column 73 and the name (`show_map_vma`'s `seq_pad`).
///
/// The list and the text are charged to the memory budget as they grow, and grown
/// fallibly: the budget refusing (a container's 65530 areas of long paths) is `ENOMEM`,
/// never the heap's end.
pub fn maps(process: &dyn ProcessView) -> Result<Vec<u8>, Errno> {
    let areas = process.maps()?;
    let listed = areas.capacity() * core::mem::size_of::<MapArea>()
        + areas.iter().map(|area| area.name.capacity()).sum::<usize>();
    let budget = crate::mm::budget::budget();
    let _list = budget.charge(listed as u64)?;
    let mut text = vfs_core::ChargedBuffer::new(budget);
    let mut line = String::new();
    for area in &areas {
        line.clear();
        map_line(&mut line, area);
        text.extend(line.as_bytes())?;
    }
    Ok(text.into_bytes())
}

fn map_line(text: &mut String, area: &MapArea) {
    // Linux's `MAJOR`/`MINOR` of a `dev_t` as `new_encode_dev` lays it out in `st_dev`.
    let major = ((area.device >> 8) & 0xfff) | ((area.device >> 32) & !0xfff);
    let minor = (area.device & 0xff) | ((area.device >> 12) & !0xff);
    let flag = |on: bool, letter: char| if on { letter } else { '-' };
    let line_start = text.len();
    let _ = write!(
        text,
        "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
        area.start,
        area.end,
        flag(area.read, 'r'),
        flag(area.write, 'w'),
        flag(area.execute, 'x'),
        if area.shared { 's' } else { 'p' },
        area.offset,
        major,
        minor,
        area.ino,
    );
    if !area.name.is_empty() {
        const NAME_COLUMN: usize = 25 + 6 * 8 - 1;
        while text.len() - line_start < NAME_COLUMN {
            text.push(' ');
        }
        text.push(' ');
        text.push_str(&String::from_utf8_lossy(&area.name));
    }
    text.push('\n');
}

/// `/proc/<pid>/fdinfo/N`.
pub fn fd_info(info: &FdInfo) -> Vec<u8> {
    alloc::format!(
        "pos:\t{}\nflags:\t0{:o}\nmnt_id:\t{}\nino:\t{}\n{}",
        info.position,
        info.flags,
        info.mount_id,
        info.ino,
        info.extra
    )
    .into_bytes()
}

#[cfg(test)]
mod cpu_mask_tests {
    use super::{cpu_list, cpu_mask_hex};

    #[test]
    fn masks_print_as_linux_prints_a_cpumask() {
        assert_eq!(cpu_mask_hex(1, 1), "1");
        assert_eq!(cpu_mask_hex(0b1111, 0b1111), "f");
        assert_eq!(cpu_mask_hex(0b0001, 0b1111), "1");
        assert_eq!(cpu_mask_hex(1, 0xff), "01");
        assert_eq!(cpu_mask_hex(0x1_0000_0001, (1 << 36) - 1), "1,00000001");
        assert_eq!(cpu_list(0b1111), "0-3");
        assert_eq!(cpu_list(0b101101), "0,2-3,5");
        assert_eq!(cpu_list(1), "0");
    }
}
