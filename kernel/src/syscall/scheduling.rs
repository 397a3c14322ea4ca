//! Scheduling calls as Linux answers them for a `SCHED_OTHER` system: `sched_yield`, the
//! affinity mask (kept on the thread, honoured by the scheduler's placement), `getcpu`,
//! the policy and its parameters, the priority ranges and the round-robin interval. The
//! policy a thread sets is recorded in its task table entry and reported back; this
//! scheduler runs every thread the same way (round-robin queues per CPU), which Linux
//! permits for the normal policies.

use vfs_core::Errno;

use super::{SysResult, read_in, write_out};
use crate::process::Process;
use crate::task::table::TABLE;

const SCHED_OTHER: u64 = 0;
const SCHED_FIFO: u64 = 1;
const SCHED_RR: u64 = 2;
const SCHED_BATCH: u64 = 3;
const SCHED_IDLE: u64 = 5;
/// `sched_setscheduler`'s flag that resets the policy in children.
const SCHED_RESET_ON_FORK: u64 = 0x4000_0000;
/// Bytes of the kernel's `cpumask` (what `sched_getaffinity` returns on success).
const CPUMASK_BYTES: u64 = 8;
/// The online CPUs as a mask.
pub(crate) fn online_cpus() -> u64 {
    arch::percpu::online_mask().max(1)
}

/// The kernel thread of `tid`, if it has one yet.
pub(crate) fn thread_of(tid: u32) -> Option<alloc::sync::Arc<arch::thread::Thread>> {
    TABLE.lock().get(tid).and_then(|entry| entry.thread.clone())
}

/// The CPUs thread `tid` may run on, as Linux reports them: those of its mask that are
/// online (all online ones for a thread with no kernel thread yet).
pub(crate) fn affinity_of(tid: u32) -> u64 {
    let online = online_cpus();
    let mask = thread_of(tid).map_or(online, |thread| {
        thread.affinity.load(core::sync::atomic::Ordering::Relaxed) & online
    });
    if mask == 0 { online } else { mask }
}

/// The thread `pid` names (0: the caller), which must exist.
fn target(p: &Process, pid: u64) -> Result<u32, Errno> {
    let pid = pid as i64 as i32;
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid == 0 {
        return Ok(p.tid);
    }
    let table = TABLE.lock();
    table
        .get(pid as u32)
        .filter(|entry| entry.alive)
        .map(|_| pid as u32)
        .ok_or(Errno::ESRCH)
}

/// Whether the caller may change `tid`'s scheduling: itself, a thread of the same user,
/// or with `CAP_SYS_NICE` (Linux's `check_same_owner`).
fn may_change(p: &Process, tid: u32) -> Result<(), Errno> {
    if tid == p.tid || p.capable(vfs_core::cap::SYS_NICE) {
        return Ok(());
    }
    let theirs = crate::task::lifecycle::credentials_of_thread(tid)?;
    if theirs.ids.uid == p.ids.euid || theirs.ids.euid == p.ids.euid {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// The thread's mask as Linux reports it: the CPUs it may run on that are online.
pub fn sched_getaffinity(p: &mut Process, pid: u64, size: u64, address: u64) -> SysResult {
    let tid = target(p, pid)?;
    let online = online_cpus();
    let highest = u64::from(64 - online.leading_zeros());
    if size * 8 < highest || !size.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    write_out(p, address, &affinity_of(tid).to_le_bytes())?;
    Ok(CPUMASK_BYTES)
}

/// The mask is read (a short one is padded with zeros, a long one's extra bytes ignored)
/// and must name a CPU that is online; the thread moves off CPUs it leaves out at its next
/// yield (the calling thread at once).
pub fn sched_setaffinity(p: &mut Process, pid: u64, size: u64, address: u64) -> SysResult {
    let tid = target(p, pid)?;
    let bytes = read_in(p, address, size.min(CPUMASK_BYTES) as usize)?;
    let mut mask = [0u8; 8];
    mask[..bytes.len()].copy_from_slice(&bytes);
    may_change(p, tid)?;
    let mask = u64::from_le_bytes(mask);
    if mask & online_cpus() == 0 {
        return Err(Errno::EINVAL);
    }
    if let Some(thread) = thread_of(tid) {
        crate::task::scheduler::set_affinity(&thread, mask);
    }
    if tid == p.tid && mask & (1 << arch::percpu::cpu_index()) == 0 {
        crate::task::scheduler::yield_now();
    }
    Ok(0)
}

/// `getcpu`: the CPU the caller runs on, node 0 (the third argument is unused since
/// Linux 2.6.24).
pub fn getcpu(p: &mut Process, cpu: u64, node: u64) -> SysResult {
    let here = arch::percpu::cpu_index() as u32;
    for (address, value) in [(cpu, here), (node, 0)] {
        if address != 0 {
            write_out(p, address, &value.to_le_bytes())?;
        }
    }
    Ok(0)
}

/// The policy and priority the table records for `tid`.
fn policy_of(tid: u32) -> (u64, u32) {
    TABLE
        .lock()
        .get(tid)
        .map_or((SCHED_OTHER, 0), |entry| entry.sched_policy)
}

pub fn sched_getscheduler(p: &mut Process, pid: u64) -> SysResult {
    let tid = target(p, pid)?;
    Ok(policy_of(tid).0)
}

pub fn sched_getparam(p: &mut Process, pid: u64, param: u64) -> SysResult {
    if param == 0 {
        return Err(Errno::EINVAL);
    }
    let tid = target(p, pid)?;
    write_out(p, param, &policy_of(tid).1.to_le_bytes())?;
    Ok(0)
}

/// `sched_setscheduler` (`policy` Some) and `sched_setparam` (the current policy).
pub fn sched_setscheduler(p: &mut Process, pid: u64, policy: Option<u64>, param: u64) -> SysResult {
    if param == 0 || (pid as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let priority = u32::from_le_bytes(
        read_in(p, param, 4)?
            .try_into()
            .map_err(|_| Errno::EFAULT)?,
    );
    let tid = target(p, pid)?;
    let policy = match policy {
        Some(policy) => policy & !SCHED_RESET_ON_FORK,
        None => policy_of(tid).0,
    };
    let (low, high) = priority_range(policy)?;
    if !(low..=high).contains(&u64::from(priority)) {
        return Err(Errno::EINVAL);
    }
    may_change(p, tid)?;
    // Real-time policies need `CAP_SYS_NICE` or an `RLIMIT_RTPRIO` that covers the
    // priority (Linux's `__sched_setscheduler`).
    const RLIMIT_RTPRIO: usize = 14;
    let realtime = matches!(policy, SCHED_FIFO | SCHED_RR);
    if realtime
        && !p.capable(vfs_core::cap::SYS_NICE)
        && u64::from(priority) > p.limits.values[RLIMIT_RTPRIO].0
    {
        return Err(Errno::EPERM);
    }
    if let Some(entry) = TABLE.lock().get_mut(tid) {
        entry.sched_policy = (policy, priority);
    }
    Ok(0)
}

fn priority_range(policy: u64) -> Result<(u64, u64), Errno> {
    match policy {
        SCHED_FIFO | SCHED_RR => Ok((1, 99)),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE => Ok((0, 0)),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sched_get_priority_max(policy: u64) -> SysResult {
    priority_range(policy).map(|(_, high)| high)
}

pub fn sched_get_priority_min(policy: u64) -> SysResult {
    priority_range(policy).map(|(low, _)| low)
}

/// `sched_rr_get_interval`: the time slice, one timer tick here (0 for `SCHED_FIFO`,
/// which has none).
pub fn sched_rr_get_interval(p: &mut Process, pid: u64, address: u64) -> SysResult {
    let tid = target(p, pid)?;
    let slice_ns = if policy_of(tid).0 == SCHED_FIFO {
        0
    } else {
        1_000_000_000 / arch::apic::TICK_HZ
    };
    let mut out = [0u8; 16];
    out[8..].copy_from_slice(&slice_ns.to_le_bytes());
    write_out(p, address, &out)?;
    Ok(0)
}
