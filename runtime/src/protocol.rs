//! The monitor's socket (`monitor.sock` in the container's state directory): how `start`,
//! `kill`, `exec`, `pause`, `resume`, `ps` and the resize forwarders talk to the process
//! that holds the sandbox. One request, one reply, on a Unix stream; `exec` sends the new
//! process's streams (or its terminal) along with the request as `SCM_RIGHTS`, and may then
//! wait on the same connection for the process's exit.
//!
//! A frame is a little-endian u32 length and that many bytes of JSON. Descriptors travel
//! with the frame's first bytes, so a reader that takes the length with `recvmsg` has them.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use oci_spec::runtime::Process;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// At most this many descriptors travel with one frame (stdin, stdout, stderr).
pub const MAX_FDS: usize = 3;
/// A request or reply larger than this is refused (a process with a huge environment is
/// still far below it).
const MAX_FRAME: u32 = 16 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    Start,
    /// To the init, every process (`all`), or an exec'd process (`exec`).
    Signal {
        signal: i32,
        all: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exec: Option<u32>,
    },
    /// Descriptors: [stdin, stdout, stderr], or [terminal] when `terminal`.
    Exec {
        process: Box<Process>,
        terminal: bool,
    },
    /// A new terminal size for the init (`exec` None) or an exec'd process.
    Resize {
        exec: Option<u32>,
        rows: u16,
        cols: u16,
    },
    Pause,
    Resume,
    Pids,
    WaitExec {
        exec: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum Reply {
    Ok,
    Pids {
        pids: Vec<u32>,
    },
    ExecStarted {
        exec: u32,
    },
    Exited {
        code: i32,
    },
    Error {
        message: String,
        status: Option<i32>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("bad message: {0}")]
    Json(#[from] serde_json::Error),
    #[error("message of {0} bytes is too large")]
    TooLarge(u32),
    #[error("{0} descriptors sent with one message (at most {MAX_FDS})")]
    TooManyFds(usize),
    #[error("the peer closed the connection")]
    Closed,
}

/// Sends one frame with `fds` attached.
pub fn send<T: Serialize>(
    stream: &UnixStream,
    message: &T,
    fds: &[BorrowedFd<'_>],
) -> Result<(), ProtocolError> {
    if fds.len() > MAX_FDS {
        return Err(ProtocolError::TooManyFds(fds.len()));
    }
    let body = serde_json::to_vec(message)?;
    let length = u32::try_from(body.len())
        .ok()
        .filter(|length| *length <= MAX_FRAME)
        .ok_or(ProtocolError::TooLarge(u32::MAX))?;
    let mut frame = length.to_le_bytes().to_vec();
    frame.extend_from_slice(&body);
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() {
        control.push(SendAncillaryMessage::ScmRights(fds));
    }
    let sent = rustix::net::sendmsg(
        stream,
        &[IoSlice::new(&frame)],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .map_err(std::io::Error::from)?;
    // A stream may take a long frame in pieces; the descriptors went with the first.
    (&*stream).write_all(&frame[sent..])?;
    Ok(())
}

/// Receives one frame and the descriptors that came with it.
pub fn receive<T: DeserializeOwned>(
    stream: &UnixStream,
) -> Result<(T, Vec<OwnedFd>), ProtocolError> {
    let mut header = [0u8; 4];
    let mut fds = Vec::new();
    let mut got = 0;
    while got < header.len() {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let message = rustix::net::recvmsg(
            stream,
            &mut [IoSliceMut::new(&mut header[got..])],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )
        .map_err(std::io::Error::from)?;
        for part in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = part {
                fds.extend(received);
            }
        }
        if message.bytes == 0 {
            return Err(ProtocolError::Closed);
        }
        got += message.bytes;
    }
    let length = u32::from_le_bytes(header);
    if length > MAX_FRAME {
        return Err(ProtocolError::TooLarge(length));
    }
    let mut body = vec![0u8; length as usize];
    (&*stream).read_exact(&mut body)?;
    Ok((serde_json::from_slice(&body)?, fds))
}

/// One request and its reply, on a connection of its own.
pub fn call(
    stream: &UnixStream,
    request: &Request,
    fds: &[BorrowedFd<'_>],
) -> Result<Reply, ProtocolError> {
    send(stream, request, fds)?;
    let (reply, _) = receive::<Reply>(stream)?;
    Ok(reply)
}

/// Borrows each descriptor (for [`send`]).
pub fn borrow_all<T: AsFd>(fds: &[T]) -> Vec<BorrowedFd<'_>> {
    fds.iter().map(AsFd::as_fd).collect()
}

#[cfg(test)]
mod tests {
    use std::io::Seek;

    use super::*;

    #[test]
    fn requests_round_trip_with_descriptors() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut file = tempfile();
        file.write_all(b"through the socket").unwrap();
        let process: Process = serde_json::from_str(
            r#"{"args": ["sh", "-c", "echo hi"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}"#,
        )
        .unwrap();
        let request = Request::Exec {
            process: Box::new(process),
            terminal: false,
        };
        send(&a, &request, &[file.as_fd()]).unwrap();
        let (got, fds): (Request, _) = receive(&b).unwrap();
        assert_eq!(got, request);
        assert_eq!(fds.len(), 1);
        let mut received = std::fs::File::from(fds.into_iter().next().unwrap());
        received.rewind().unwrap();
        let mut text = String::new();
        received.read_to_string(&mut text).unwrap();
        assert_eq!(text, "through the socket");
    }

    #[test]
    fn large_frames_and_eof() {
        let (a, b) = UnixStream::pair().unwrap();
        let env: Vec<String> = (0..20_000)
            .map(|i| format!("VARIABLE_{i}=value {i}"))
            .collect();
        let process: Process = serde_json::from_value(serde_json::json!({
            "args": ["true"], "cwd": "/", "env": env, "user": {"uid": 0, "gid": 0},
        }))
        .unwrap();
        let request = Request::Exec {
            process: Box::new(process),
            terminal: true,
        };
        let writer = {
            let request = request.clone();
            std::thread::spawn(move || send(&a, &request, &[]).unwrap())
        };
        let (got, fds): (Request, _) = receive(&b).unwrap();
        writer.join().unwrap();
        assert_eq!(got, request);
        assert!(fds.is_empty());
        assert!(matches!(receive::<Request>(&b), Err(ProtocolError::Closed)));
    }

    #[test]
    fn replies_are_tagged_json() {
        let text = serde_json::to_string(&Reply::Exited { code: 143 }).unwrap();
        assert_eq!(text, r#"{"reply":"exited","code":143}"#);
        let text = serde_json::to_string(&Request::Signal {
            signal: 15,
            all: false,
            exec: None,
        })
        .unwrap();
        assert_eq!(text, r#"{"op":"signal","signal":15,"all":false}"#);
    }

    fn tempfile() -> std::fs::File {
        let path = std::env::temp_dir().join(format!("protocol-test-{}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }
}
