//! The caller's file descriptors and the channel's streams, joined by threads: one per
//! input (the fd read, sent within the kernel's credit, its end said) and one per output
//! (the stream's data written to the fd, the credit given back once written).
//!
//! An output whose fd stops taking data (a closed pipe) is still read to its end and
//! credited, so the guest's writer is never left waiting; an input thread stops once
//! the process's status came (nobody will read more).

use std::fs::File;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use kernel::control::wire::{HostMessage, MAX_DATA, Stream};

use super::link::Link;

/// Routes output `stream` of process `id` into `to`; returns the writer thread, which
/// ends (closing `to`) when the stream ends or the channel closes.
pub(super) fn output(
    link: &Arc<Link>,
    id: u32,
    stream: Stream,
    mut to: File,
) -> std::io::Result<JoinHandle<()>> {
    let (sender, receiver) = mpsc::channel::<Vec<u8>>();
    link.route(id, stream, sender);
    let link = link.clone();
    thread::Builder::new()
        .name(format!("sandbox-out-{id}"))
        .spawn(move || {
            let mut open = true;
            for data in receiver {
                if open && to.write_all(&data).and_then(|()| to.flush()).is_err() {
                    open = false;
                }
                link.send(&HostMessage::Credit {
                    id,
                    stream,
                    bytes: data.len() as u32,
                });
            }
        })
}

/// Sends what `from` reads as process `id`'s input, then its end (`None`: the end at once).
pub(super) fn input(link: &Arc<Link>, id: u32, from: Option<File>) -> std::io::Result<()> {
    let Some(mut from) = from else {
        link.send(&HostMessage::InputEnd { id });
        return Ok(());
    };
    let link = link.clone();
    thread::Builder::new()
        .name(format!("sandbox-in-{id}"))
        .spawn(move || {
            let mut chunk = vec![0u8; MAX_DATA];
            loop {
                // Looked at now and then, so the thread (and its copy of the fd, which
                // may be a terminal the caller waits to see closed) ends with the process.
                match readable(&from) {
                    Ok(false) if link.finished(id) => return,
                    Ok(false) => continue,
                    Ok(true) | Err(_) => {}
                }
                let count = match from.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(count) => count,
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                    // EIO: a terminal whose other side closed.
                    Err(_) => break,
                };
                let mut sent = 0;
                while sent < count {
                    let Some(allowed) = link.take_credit(id, count - sent) else {
                        return;
                    };
                    let data = chunk[sent..sent + allowed].to_vec();
                    if !link.send(&HostMessage::Input { id, data }) {
                        return;
                    }
                    sent += allowed;
                }
            }
            link.send(&HostMessage::InputEnd { id });
        })?;
    Ok(())
}

/// Whether `file` has something to read (or its end), waiting a little.
fn readable(file: &File) -> std::io::Result<bool> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(file, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    match poll(&mut fds, Some(&timeout)) {
        Ok(ready) => Ok(ready > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(error) => Err(error.into()),
    }
}
