//! Identity system calls: user and group ids (`set*uid`, `set*gid` with Linux's rules for
//! privileged and unprivileged callers), supplementary groups, process groups.

use alloc::vec::Vec;

use vfs_core::{Errno, cap};

use super::{SysResult, read_in, write_out};
use crate::process::Process;

/// Which call is asking: their rules for unprivileged callers differ.
#[derive(Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // named after the system calls
pub enum Call {
    SetUid,
    SetReUid,
    SetResUid,
}

const UNCHANGED: u32 = u32::MAX;
const NGROUPS_MAX: u64 = 65536;

/// Applies Linux's `setuid`/`setreuid`/`setresuid` rules to one (real, effective, saved)
/// triple. `requested` values of -1 leave a field alone.
fn set_ids(
    current: [u32; 3],
    requested: [u64; 3],
    privileged: bool,
    call: Call,
) -> Result<[u32; 3], Errno> {
    let [real, effective, saved] = current;
    let wanted = requested.map(|value| value as u32);
    if call == Call::SetUid {
        let id = wanted[1];
        if id == UNCHANGED {
            return Err(Errno::EINVAL);
        }
        return if privileged {
            Ok([id, id, id])
        } else if id == real || id == saved {
            Ok([real, id, saved])
        } else {
            Err(Errno::EPERM)
        };
    }
    let allowed = |id: u32, choices: &[u32]| id == UNCHANGED || privileged || choices.contains(&id);
    let [new_real, new_effective, new_saved] = wanted;
    let ok = match call {
        Call::SetReUid => {
            allowed(new_real, &[real, effective])
                && allowed(new_effective, &[real, effective, saved])
        }
        _ => [new_real, new_effective, new_saved]
            .iter()
            .all(|&id| allowed(id, &[real, effective, saved])),
    };
    if !ok {
        return Err(Errno::EPERM);
    }
    let pick = |new: u32, old: u32| if new == UNCHANGED { old } else { new };
    let (real2, effective2) = (pick(new_real, real), pick(new_effective, effective));
    let saved2 = match call {
        // setreuid: the saved id follows the effective one when the real id is set or the
        // effective id changes to something other than the old real id.
        Call::SetReUid
            if new_real != UNCHANGED || (new_effective != UNCHANGED && new_effective != real) =>
        {
            effective2
        }
        Call::SetReUid => saved,
        _ => pick(new_saved, saved),
    };
    Ok([real2, effective2, saved2])
}

pub fn setresuid(p: &mut Process, real: u64, effective: u64, saved: u64, call: Call) -> SysResult {
    let privileged = p.capable(cap::SETUID);
    let old = [p.ids.uid, p.ids.euid, p.ids.suid];
    let new = set_ids(old, [real, effective, saved], privileged, call)?;
    [p.ids.uid, p.ids.euid, p.ids.suid] = new;
    // Leaving uid 0 drops the capabilities (capabilities(7), "Effect of user ID changes").
    p.caps.after_setuid(old, new);
    p.sync_credentials();
    Ok(0)
}

pub fn setresgid(p: &mut Process, real: u64, effective: u64, saved: u64, call: Call) -> SysResult {
    let privileged = p.capable(cap::SETGID);
    let [gid, egid, sgid] = set_ids(
        [p.ids.gid, p.ids.egid, p.ids.sgid],
        [real, effective, saved],
        privileged,
        call,
    )?;
    (p.ids.gid, p.ids.egid, p.ids.sgid) = (gid, egid, sgid);
    p.sync_credentials();
    Ok(0)
}

pub fn getres(p: &mut Process, ids: [u32; 3], addresses: [u64; 3]) -> SysResult {
    for (id, address) in ids.iter().zip(addresses) {
        write_out(p, address, &id.to_le_bytes())?;
    }
    Ok(0)
}

pub fn getgroups(p: &mut Process, size: u64, address: u64) -> SysResult {
    let count = p.ids.groups.len() as u64;
    if size == 0 {
        return Ok(count);
    }
    if (size as i32) < 0 || size < count {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = p.ids.groups.iter().flat_map(|g| g.to_le_bytes()).collect();
    if !bytes.is_empty() {
        write_out(p, address, &bytes)?;
    }
    Ok(count)
}

pub fn setgroups(p: &mut Process, size: u64, address: u64) -> SysResult {
    if !p.capable(cap::SETGID) {
        return Err(Errno::EPERM);
    }
    if size > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    let raw = read_in(p, address, size as usize * 4)?;
    p.ids.groups = raw
        .chunks(4)
        .map(|g| u32::from_le_bytes([g[0], g[1], g[2], g[3]]))
        .collect();
    p.sync_credentials();
    Ok(0)
}
