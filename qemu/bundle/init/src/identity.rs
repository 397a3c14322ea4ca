//! Who and where the init is: hostname, user and group, working directory.

use crate::{StepError, io};

pub fn show() -> Result<(), StepError> {
    let hostname = hostname().map_err(io("uname"))?;
    // SAFETY: getuid and getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let cwd = std::env::current_dir().map_err(io("getcwd"))?;
    println!("init: hostname={hostname} uid={uid} gid={gid} cwd={}", cwd.display());
    Ok(())
}

/// The UTS node name, as `uname -n` shows it.
fn hostname() -> std::io::Result<String> {
    // SAFETY: an all-zero utsname is valid to overwrite; uname fills NUL-terminated fields.
    let mut names: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `names` is writable and the right size.
    if unsafe { libc::uname(&mut names) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let bytes: Vec<u8> = names.nodename.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
