//! The host end of the channel against a fake kernel on a socket pair: replies matched by
//! sequence number, stream data to its writer with its credit given back, input held to
//! the kernel's credit, and every wait ended when the channel closes. The real kernel is
//! met by the `control-*` boot tests in xtask.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread;

use kernel::control::wire::{
    Decoder, GuestMessage, HostMessage, Reply, Request, Status, Stream, WINDOW,
};

use super::link::Link;
use super::pumps;

/// The fake kernel's side: frames it reads, and a way to send its own.
struct FakeGuest {
    socket: UnixStream,
    decoder: Decoder,
}

impl FakeGuest {
    fn send(&mut self, message: GuestMessage) {
        self.socket.write_all(&message.encode()).unwrap();
    }

    fn receive(&mut self) -> HostMessage {
        loop {
            if let Some(frame) = self.decoder.next_frame().unwrap() {
                return HostMessage::decode(&frame).unwrap();
            }
            let mut chunk = [0u8; 4096];
            let count = self.socket.read(&mut chunk).unwrap();
            assert!(count > 0, "the host closed the channel");
            self.decoder.push(&chunk[..count]);
        }
    }
}

fn pair() -> (std::sync::Arc<Link>, FakeGuest) {
    let (host, guest) = UnixStream::pair().unwrap();
    let (link, _reader) = Link::start(host).unwrap();
    (
        link,
        FakeGuest {
            socket: guest,
            decoder: Decoder::new(),
        },
    )
}

#[test]
fn requests_are_answered_by_sequence_number() {
    let (link, mut guest) = pair();
    let kernel = thread::spawn(move || {
        for _ in 0..2 {
            let HostMessage::Request { seq, request } = guest.receive() else {
                panic!("not a request");
            };
            let reply = match request {
                Request::Pids => Reply::Pids(vec![1, 7]),
                _ => Reply::Failed { errno: 3 },
            };
            guest.send(GuestMessage::Reply { seq, reply });
        }
        guest
    });
    assert_eq!(link.request(Request::Pids), Some(Reply::Pids(vec![1, 7])));
    assert_eq!(
        link.request(Request::Pause),
        Some(Reply::Failed { errno: 3 })
    );
    drop(kernel.join().unwrap());
}

#[test]
fn output_reaches_its_fd_and_its_credit_goes_back() {
    let (link, mut guest) = pair();
    let (reader, writer) = std::io::pipe().unwrap();
    let writer = std::fs::File::from(std::os::fd::OwnedFd::from(writer));
    let writer_thread = pumps::output(&link, 4, Stream::Stderr, writer).unwrap();
    guest.send(GuestMessage::Output {
        id: 4,
        stream: Stream::Stderr,
        data: b"abc".to_vec(),
    });
    assert_eq!(
        guest.receive(),
        HostMessage::Credit {
            id: 4,
            stream: Stream::Stderr,
            bytes: 3
        }
    );
    // Another process's stream nobody routed: its credit comes back at once.
    guest.send(GuestMessage::Output {
        id: 9,
        stream: Stream::Stdout,
        data: b"xy".to_vec(),
    });
    assert_eq!(
        guest.receive(),
        HostMessage::Credit {
            id: 9,
            stream: Stream::Stdout,
            bytes: 2
        }
    );
    guest.send(GuestMessage::OutputEnd {
        id: 4,
        stream: Stream::Stderr,
    });
    writer_thread.join().unwrap();
    let mut text = String::new();
    let mut reader = reader;
    reader.read_to_string(&mut text).unwrap();
    assert_eq!(text, "abc");
}

#[test]
fn input_keeps_to_the_kernels_credit() {
    let (link, mut guest) = pair();
    assert_eq!(
        link.take_credit(0, WINDOW as usize + 10),
        Some(WINDOW as usize)
    );
    let (got_tx, got_rx) = mpsc::channel();
    let waiting = link.clone();
    let taker = thread::spawn(move || got_tx.send(waiting.take_credit(0, 100)).unwrap());
    // Nothing until the kernel gives some back.
    assert!(got_rx.try_recv().is_err());
    guest.send(GuestMessage::InputCredit { id: 0, bytes: 5 });
    assert_eq!(got_rx.recv().unwrap(), Some(5));
    taker.join().unwrap();
    // The process's status ends the wait: nobody will read more.
    guest.send(GuestMessage::Exited {
        id: 0,
        status: Status::Exited(0),
    });
    assert_eq!(link.take_credit(0, 1), None);
}

#[test]
fn the_channel_closing_ends_every_wait() {
    let (link, guest) = pair();
    drop(guest);
    assert_eq!(link.request(Request::Pids), None);
    link.wait_for(|state| state.ended.then_some(()));
    assert!(link.finished(3));
    assert_eq!(link.take_credit(3, 1), None);
}

#[test]
fn a_sandbox_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<super::Sandbox>();
}

#[test]
fn stdio_must_fit_the_processs_terminal() {
    use super::{ProcessStdio, SandboxError, check_stdio};
    let (a, b) = UnixStream::pair().unwrap();
    let terminal = ProcessStdio::Terminal { io: a.into() };
    assert!(check_stdio(true, &terminal).is_ok());
    assert!(matches!(
        check_stdio(false, &terminal),
        Err(SandboxError::StdioMismatch {
            terminal: false,
            ..
        })
    ));
    let (out, err) = (b.try_clone().unwrap(), b);
    let streams = ProcessStdio::Streams {
        stdin: None,
        stdout: out.into(),
        stderr: err.into(),
    };
    assert!(check_stdio(false, &streams).is_ok());
    assert!(check_stdio(true, &streams).is_err());
}
