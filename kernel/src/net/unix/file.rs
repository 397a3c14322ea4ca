//! A Unix socket as an open file: the `DeviceFile` behind the descriptor (`read` and
//! `write` receive and send without control data), its inode in the kernel's nameless
//! sockfs (`fstat` shows `S_IFSOCK`, `/proc/self/fd` shows `socket:[ino]`), and its
//! readiness for `poll`. Closing the last description releases the socket.

use alloc::sync::Arc;
use core::any::Any;

use spin::Once;
use vfs_core::anon::AnonFs;
use vfs_core::file::DeviceFile;
use vfs_core::{Credentials, Errno, NewNode, NodeKind, OpenFile, OpenFlags, Result};

use super::socket::{Caller, Receiving, Sending, Socket};
use crate::fs::poll::Pollable;
use crate::task::WaitQueue;

pub struct SocketFile {
    socket: Arc<Socket>,
}

impl SocketFile {
    pub fn socket(&self) -> &Arc<Socket> {
        &self.socket
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        self.socket.release();
    }
}

/// The caller of a `read`/`write` that reached the file without its process (the system
/// calls pass their own; this is for any other path to the file).
fn current_caller() -> Caller {
    let pid = crate::task::lifecycle::current_pid().unwrap_or(0);
    let identity = crate::task::lifecycle::credentials_of(pid).ok();
    let ids = identity
        .as_ref()
        .map(|identity| identity.ids.clone())
        .unwrap_or_default();
    Caller {
        pid,
        tid: crate::task::lifecycle::current_tid().unwrap_or(0),
        uid: ids.uid,
        gid: ids.gid,
        euid: ids.euid,
        egid: ids.egid,
        fd_limit: crate::process::fd_table::DEFAULT_MAX_FILES,
        unbounded_in_flight: false,
    }
}

impl DeviceFile for SocketFile {
    fn read(&self, _offset: u64, buf: &mut [u8], flags: OpenFlags) -> Result<usize> {
        let mut at = 0;
        let len = buf.len();
        let received = self.socket.receive(
            Receiving {
                len,
                peek: false,
                wait_all: false,
                nonblock: flags.contains(OpenFlags::NONBLOCK),
                oob: false,
                sink: &mut |chunk| {
                    buf[at..at + chunk.len()].copy_from_slice(chunk);
                    at += chunk.len();
                    Ok(())
                },
            },
            &current_caller(),
        )?;
        Ok(received.copied)
    }

    fn write(&self, _offset: u64, buf: &[u8], flags: OpenFlags) -> Result<usize> {
        let mut at = 0;
        self.socket.send(
            Sending {
                len: buf.len(),
                source: &mut |n| {
                    let chunk = buf[at..at + n].to_vec();
                    at += n;
                    Ok(chunk)
                },
                files: None,
                credentials: None,
                to: None,
                nonblock: flags.contains(OpenFlags::NONBLOCK),
                oob: false,
            },
            None,
            &current_caller(),
        )
    }
}

impl Pollable for SocketFile {
    fn poll(&self) -> u16 {
        self.socket.readiness()
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.socket.events
    }
}

/// The socket behind an open file, if it is one.
pub fn socket_of(file: &OpenFile) -> Option<&Arc<Socket>> {
    let device: &dyn Any = &**file.device()?;
    device.downcast_ref::<SocketFile>().map(SocketFile::socket)
}

/// Whether `file` is a socket (`/proc/self/fd` shows `socket:[ino]`).
pub fn is_socket_file(file: &OpenFile) -> bool {
    socket_of(file).is_some()
}

static SOCKFS: Once<AnonFs> = Once::new();

fn sockfs() -> &'static AnonFs {
    SOCKFS.call_once(|| {
        AnonFs::new(
            "sockfs",
            crate::fs::anonymous_dev(),
            Arc::new(crate::clock::RealTimeClock),
        )
    })
}

/// An open file for `socket`, owned by `cred`: read-write, non-blocking if asked, on a
/// new sockfs inode of mode `S_IFSOCK | 0777` (Linux's `sock_alloc`). On failure the
/// socket is released, as a closed file's would be.
pub fn new_socket_file(
    socket: Arc<Socket>,
    cred: &Credentials,
    nonblock: bool,
) -> core::result::Result<Arc<OpenFile>, Errno> {
    let device: Arc<dyn DeviceFile> = Arc::new(SocketFile { socket });
    let location = sockfs().new_location(&NewNode {
        kind: NodeKind::Socket,
        perm: 0o777,
        uid: cred.uid,
        gid: cred.gid,
    })?;
    let mut flags = OpenFlags::RDWR;
    if nonblock {
        flags |= OpenFlags::NONBLOCK;
    }
    OpenFile::anonymous(location, cred.clone(), flags, Some(device))
}
