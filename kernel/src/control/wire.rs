//! The control channel's codec: every message between a host runtime and the kernel on
//! the one virtio-console port `stdio=control` uses (issue 16's host ↔ guest channel).
//! One byte stream carries, multiplexed, the lifecycle (created, start, exit statuses),
//! signals, exec, window sizes, pause/resume, the pid list, and the standard streams of
//! the init and of every exec'd process, each stream apart.
//!
//! Framing: a little-endian `u32` length (of what follows it, at most [`MAX_FRAME`]),
//! then a kind byte, then the kind's fields: integers little-endian, byte strings as a
//! `u32` length and the bytes. Host → guest kinds are below `0x80`, guest → host kinds
//! from `0x80` up, so a frame sent the wrong way is refused by kind.
//!
//! Processes are named by a stream id: [`INIT`] (0) for the container's init, the host's
//! own [`ExecId`] numbers (from 1) for exec'd processes.
//!
//! Flow control (credits, as SSH's channel windows): each direction of each stream may
//! have at most [`WINDOW`] bytes in flight. The host sends a stdin stream at most
//! `WINDOW` bytes beyond what the guest has acknowledged with [`GuestMessage::InputCredit`]
//! (sent as the program consumes them); the guest sends an output stream at most `WINDOW`
//! bytes beyond what the host has granted back with [`HostMessage::Credit`] (sent once it
//! wrote them to its file). Neither end holds more than a window per stream, however
//! fast the other writes.
//!
//! Requests (start, signal, exec, resize, pause, resume, pids) carry a sequence number the
//! guest's [`Reply`] repeats.
//!
//! Portable: the kernel decodes host messages and encodes its own; the host runtime
//! (`sandbox-runtime`'s `sandbox` module) does the reverse, with this one module.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The stream id of the container's init.
pub const INIT: u32 = 0;
/// Bytes each stream may have in flight in each direction (see the module's doc).
pub const WINDOW: u32 = 64 * 1024;
/// The largest frame (after its length): room for an exec's `process` JSON.
pub const MAX_FRAME: usize = 1024 * 1024;
/// The most data one input or output frame carries.
pub const MAX_DATA: usize = 16 * 1024;

/// Whom a signal is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The container's init.
    Init,
    /// Every process of the container.
    All,
    /// An exec'd process, by the host's id for it.
    Exec(u32),
}

/// An output stream of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output, or the terminal's output for a process with a terminal.
    Stdout,
    Stderr,
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Exited(u8),
    Killed(u8),
}

impl Status {
    /// A shell's `$?`: the code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            Status::Exited(code) => i32::from(code),
            Status::Killed(signal) => 128 + i32::from(signal),
        }
    }
}

/// A request from the host; the guest answers each with one [`Reply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Releases the init, held since [`GuestMessage::Created`].
    Start,
    Signal {
        target: Target,
        signal: u8,
    },
    /// Starts `process` (an OCI `process` object, JSON) in the container; its streams and
    /// status go by `id`. Answered by [`Reply::ExecStarted`] or [`Reply::ExecFailed`].
    Exec {
        id: u32,
        process: Vec<u8>,
    },
    /// A new window size for the terminal of the process `id`.
    Resize {
        id: u32,
        rows: u16,
        cols: u16,
    },
    /// Every container task stops being scheduled (the freezer, not `SIGSTOP`).
    Pause,
    Resume,
    /// Answered by [`Reply::Pids`].
    Pids,
}

/// Host → guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMessage {
    Request {
        seq: u32,
        request: Request,
    },
    /// Bytes for the standard input (or the terminal) of the process `id`.
    Input {
        id: u32,
        data: Vec<u8>,
    },
    /// The host's input for `id` ended: the program reads end of file after what came.
    InputEnd {
        id: u32,
    },
    /// The host wrote `bytes` more of the stream: the guest may send that many more.
    Credit {
        id: u32,
        stream: Stream,
        bytes: u32,
    },
}

/// The guest's answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Done,
    /// The request failed with this Linux errno (`ESRCH`: no such process, …).
    Failed {
        errno: i32,
    },
    /// The exec'd process runs, with this guest pid.
    ExecStarted {
        pid: u32,
    },
    /// The exec failed before the program ran: the status a shell gives (126, 127) and
    /// the kernel's message.
    ExecFailed {
        status: u8,
        message: String,
    },
    Pids(Vec<u32>),
}

/// Guest → host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestMessage {
    /// The namespace is built and the init (guest pid `pid`) loaded, held until
    /// [`Request::Start`].
    Created {
        pid: u32,
    },
    Reply {
        seq: u32,
        reply: Reply,
    },
    Output {
        id: u32,
        stream: Stream,
        data: Vec<u8>,
    },
    /// Nothing more will come on this stream.
    OutputEnd {
        id: u32,
        stream: Stream,
    },
    /// The program took `bytes` of its input: the host may send that many more.
    InputCredit {
        id: u32,
        bytes: u32,
    },
    /// The process `id` ended; its output streams ended before this.
    Exited {
        id: u32,
        status: Status,
    },
}

/// What a frame that cannot be decoded is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// A frame longer than [`MAX_FRAME`], or empty.
    BadLength(u32),
    UnknownKind(u8),
    /// The frame ended inside its fields, or had bytes after them.
    Truncated,
    Trailing,
    /// A field's value is out of its range (a stream or target number, a string).
    BadField(&'static str),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::BadLength(length) => write!(f, "frame length {length} out of range"),
            WireError::UnknownKind(kind) => write!(f, "unknown frame kind {kind:#x}"),
            WireError::Truncated => f.write_str("frame ends inside its fields"),
            WireError::Trailing => f.write_str("frame has bytes after its fields"),
            WireError::BadField(field) => write!(f, "bad value in field `{field}`"),
        }
    }
}

// Host → guest kinds.
const START: u8 = 0x01;
const SIGNAL: u8 = 0x02;
const EXEC: u8 = 0x03;
const RESIZE: u8 = 0x04;
const PAUSE: u8 = 0x05;
const RESUME: u8 = 0x06;
const PIDS: u8 = 0x07;
const INPUT: u8 = 0x10;
const INPUT_END: u8 = 0x11;
const CREDIT: u8 = 0x12;
// Guest → host kinds.
const CREATED: u8 = 0x81;
const DONE: u8 = 0x82;
const FAILED: u8 = 0x83;
const EXEC_STARTED: u8 = 0x84;
const EXEC_FAILED: u8 = 0x85;
const PID_LIST: u8 = 0x86;
const OUTPUT: u8 = 0x90;
const OUTPUT_END: u8 = 0x91;
const INPUT_CREDIT: u8 = 0x92;
const EXITED: u8 = 0x93;

/// Builds one frame: its length is filled in by [`Frame::finish`].
struct Frame(Vec<u8>);

impl Frame {
    fn new(kind: u8) -> Frame {
        let mut bytes = Vec::with_capacity(16);
        bytes.extend_from_slice(&[0; 4]);
        bytes.push(kind);
        Frame(bytes)
    }

    fn u8(mut self, value: u8) -> Frame {
        self.0.push(value);
        self
    }

    fn u16(mut self, value: u16) -> Frame {
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    fn u32(mut self, value: u32) -> Frame {
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    fn i32(self, value: i32) -> Frame {
        self.u32(value as u32)
    }

    fn bytes(mut self, value: &[u8]) -> Frame {
        self = self.u32(value.len() as u32);
        self.0.extend_from_slice(value);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let length = (self.0.len() - 4) as u32;
        self.0[..4].copy_from_slice(&length.to_le_bytes());
        self.0
    }
}

/// Reads one frame's fields in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < count {
            return Err(WireError::Truncated);
        }
        let (head, rest) = self.0.split_at(count);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        let bytes = self.take(2)?;
        Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn i32(&mut self) -> Result<i32, WireError> {
        Ok(self.u32()? as i32)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, WireError> {
        let length = self.u32()? as usize;
        Ok(self.take(length)?.to_vec())
    }

    fn string(&mut self, field: &'static str) -> Result<String, WireError> {
        String::from_utf8(self.bytes()?).map_err(|_| WireError::BadField(field))
    }

    fn stream(&mut self) -> Result<Stream, WireError> {
        match self.u8()? {
            1 => Ok(Stream::Stdout),
            2 => Ok(Stream::Stderr),
            _ => Err(WireError::BadField("stream")),
        }
    }

    fn end<T>(self, value: T) -> Result<T, WireError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(WireError::Trailing)
        }
    }
}

fn stream_number(stream: Stream) -> u8 {
    match stream {
        Stream::Stdout => 1,
        Stream::Stderr => 2,
    }
}

/// Splits a frame (without its length) into its kind and fields.
fn open(frame: &[u8]) -> Result<(u8, Fields<'_>), WireError> {
    let (&kind, fields) = frame.split_first().ok_or(WireError::BadLength(0))?;
    Ok((kind, Fields(fields)))
}

impl HostMessage {
    /// The frame, length first.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            HostMessage::Request { seq, request } => match request {
                Request::Start => Frame::new(START).u32(*seq),
                Request::Signal { target, signal } => {
                    let (tag, id) = match target {
                        Target::Init => (0, 0),
                        Target::All => (1, 0),
                        Target::Exec(id) => (2, *id),
                    };
                    Frame::new(SIGNAL).u32(*seq).u8(tag).u32(id).u8(*signal)
                }
                Request::Exec { id, process } => Frame::new(EXEC).u32(*seq).u32(*id).bytes(process),
                Request::Resize { id, rows, cols } => {
                    Frame::new(RESIZE).u32(*seq).u32(*id).u16(*rows).u16(*cols)
                }
                Request::Pause => Frame::new(PAUSE).u32(*seq),
                Request::Resume => Frame::new(RESUME).u32(*seq),
                Request::Pids => Frame::new(PIDS).u32(*seq),
            },
            HostMessage::Input { id, data } => Frame::new(INPUT).u32(*id).bytes(data),
            HostMessage::InputEnd { id } => Frame::new(INPUT_END).u32(*id),
            HostMessage::Credit { id, stream, bytes } => Frame::new(CREDIT)
                .u32(*id)
                .u8(stream_number(*stream))
                .u32(*bytes),
        }
        .finish()
    }

    /// One frame's message (the frame without its length, as [`Decoder`] yields it).
    pub fn decode(frame: &[u8]) -> Result<HostMessage, WireError> {
        let (kind, mut f) = open(frame)?;
        let message = match kind {
            START | SIGNAL | EXEC | RESIZE | PAUSE | RESUME | PIDS => {
                let seq = f.u32()?;
                let request = match kind {
                    START => Request::Start,
                    SIGNAL => {
                        let target = match (f.u8()?, f.u32()?) {
                            (0, _) => Target::Init,
                            (1, _) => Target::All,
                            (2, id) => Target::Exec(id),
                            _ => return Err(WireError::BadField("target")),
                        };
                        Request::Signal {
                            target,
                            signal: f.u8()?,
                        }
                    }
                    EXEC => Request::Exec {
                        id: f.u32()?,
                        process: f.bytes()?,
                    },
                    RESIZE => Request::Resize {
                        id: f.u32()?,
                        rows: f.u16()?,
                        cols: f.u16()?,
                    },
                    PAUSE => Request::Pause,
                    RESUME => Request::Resume,
                    _ => Request::Pids,
                };
                HostMessage::Request { seq, request }
            }
            INPUT => HostMessage::Input {
                id: f.u32()?,
                data: f.bytes()?,
            },
            INPUT_END => HostMessage::InputEnd { id: f.u32()? },
            CREDIT => HostMessage::Credit {
                id: f.u32()?,
                stream: f.stream()?,
                bytes: f.u32()?,
            },
            other => return Err(WireError::UnknownKind(other)),
        };
        f.end(message)
    }
}

impl GuestMessage {
    /// The frame, length first.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            GuestMessage::Created { pid } => Frame::new(CREATED).u32(*pid),
            GuestMessage::Reply { seq, reply } => match reply {
                Reply::Done => Frame::new(DONE).u32(*seq),
                Reply::Failed { errno } => Frame::new(FAILED).u32(*seq).i32(*errno),
                Reply::ExecStarted { pid } => Frame::new(EXEC_STARTED).u32(*seq).u32(*pid),
                Reply::ExecFailed { status, message } => Frame::new(EXEC_FAILED)
                    .u32(*seq)
                    .u8(*status)
                    .bytes(message.as_bytes()),
                Reply::Pids(pids) => {
                    let mut frame = Frame::new(PID_LIST).u32(*seq).u32(pids.len() as u32);
                    for &pid in pids {
                        frame = frame.u32(pid);
                    }
                    frame
                }
            },
            GuestMessage::Output { id, stream, data } => Frame::new(OUTPUT)
                .u32(*id)
                .u8(stream_number(*stream))
                .bytes(data),
            GuestMessage::OutputEnd { id, stream } => {
                Frame::new(OUTPUT_END).u32(*id).u8(stream_number(*stream))
            }
            GuestMessage::InputCredit { id, bytes } => {
                Frame::new(INPUT_CREDIT).u32(*id).u32(*bytes)
            }
            GuestMessage::Exited { id, status } => {
                let (tag, value) = match status {
                    Status::Exited(code) => (0, *code),
                    Status::Killed(signal) => (1, *signal),
                };
                Frame::new(EXITED).u32(*id).u8(tag).u8(value)
            }
        }
        .finish()
    }

    /// One frame's message (the frame without its length, as [`Decoder`] yields it).
    pub fn decode(frame: &[u8]) -> Result<GuestMessage, WireError> {
        let (kind, mut f) = open(frame)?;
        let message = match kind {
            CREATED => GuestMessage::Created { pid: f.u32()? },
            DONE | FAILED | EXEC_STARTED | EXEC_FAILED | PID_LIST => {
                let seq = f.u32()?;
                let reply = match kind {
                    DONE => Reply::Done,
                    FAILED => Reply::Failed { errno: f.i32()? },
                    EXEC_STARTED => Reply::ExecStarted { pid: f.u32()? },
                    EXEC_FAILED => Reply::ExecFailed {
                        status: f.u8()?,
                        message: f.string("message")?,
                    },
                    _ => {
                        let count = f.u32()? as usize;
                        if count > f.0.len() / 4 {
                            return Err(WireError::Truncated);
                        }
                        Reply::Pids((0..count).map(|_| f.u32()).collect::<Result<_, _>>()?)
                    }
                };
                GuestMessage::Reply { seq, reply }
            }
            OUTPUT => GuestMessage::Output {
                id: f.u32()?,
                stream: f.stream()?,
                data: f.bytes()?,
            },
            OUTPUT_END => GuestMessage::OutputEnd {
                id: f.u32()?,
                stream: f.stream()?,
            },
            INPUT_CREDIT => GuestMessage::InputCredit {
                id: f.u32()?,
                bytes: f.u32()?,
            },
            EXITED => {
                let id = f.u32()?;
                let status = match (f.u8()?, f.u8()?) {
                    (0, code) => Status::Exited(code),
                    (1, signal) => Status::Killed(signal),
                    _ => return Err(WireError::BadField("status")),
                };
                GuestMessage::Exited { id, status }
            }
            other => return Err(WireError::UnknownKind(other)),
        };
        f.end(message)
    }
}

/// Cuts the byte stream into frames (without their lengths), whatever pieces it arrives
/// in. A bad length is an error the stream cannot recover from: the channel is broken.
#[derive(Debug, Default)]
pub struct Decoder {
    buffer: Vec<u8>,
    /// Where the next unconsumed frame starts in `buffer`.
    start: usize,
}

impl Decoder {
    pub const fn new() -> Decoder {
        Decoder {
            buffer: Vec::new(),
            start: 0,
        }
    }

    /// Adds bytes as they came.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole frame, if one has come.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, WireError> {
        let pending = &self.buffer[self.start..];
        if pending.len() < 4 {
            self.compact();
            return Ok(None);
        }
        let length = u32::from_le_bytes([pending[0], pending[1], pending[2], pending[3]]);
        if length == 0 || length as usize > MAX_FRAME {
            return Err(WireError::BadLength(length));
        }
        let end = 4 + length as usize;
        if pending.len() < end {
            self.compact();
            return Ok(None);
        }
        let frame = pending[4..end].to_vec();
        self.start += end;
        Ok(Some(frame))
    }

    /// Bytes held for a frame not yet complete.
    pub fn buffered(&self) -> usize {
        self.buffer.len() - self.start
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn host_round_trip(message: HostMessage) {
        let frame = message.encode();
        let mut decoder = Decoder::new();
        decoder.push(&frame);
        let body = decoder.next_frame().unwrap().unwrap();
        assert_eq!(HostMessage::decode(&body).unwrap(), message);
        assert_eq!(decoder.next_frame().unwrap(), None);
    }

    fn guest_round_trip(message: GuestMessage) {
        let frame = message.encode();
        let mut decoder = Decoder::new();
        decoder.push(&frame);
        let body = decoder.next_frame().unwrap().unwrap();
        assert_eq!(GuestMessage::decode(&body).unwrap(), message);
    }

    #[test]
    fn every_host_message_round_trips() {
        let requests = [
            Request::Start,
            Request::Signal {
                target: Target::Init,
                signal: 15,
            },
            Request::Signal {
                target: Target::All,
                signal: 9,
            },
            Request::Signal {
                target: Target::Exec(7),
                signal: 10,
            },
            Request::Exec {
                id: 3,
                process: br#"{"args":["sh"]}"#.to_vec(),
            },
            Request::Resize {
                id: 0,
                rows: 50,
                cols: 0xffff,
            },
            Request::Pause,
            Request::Resume,
            Request::Pids,
        ];
        for (seq, request) in requests.into_iter().enumerate() {
            host_round_trip(HostMessage::Request {
                seq: seq as u32 * 0x0101_0101,
                request,
            });
        }
        host_round_trip(HostMessage::Input {
            id: 0,
            data: vec![0, 0xff, 1, 2],
        });
        host_round_trip(HostMessage::Input {
            id: 2,
            data: Vec::new(),
        });
        host_round_trip(HostMessage::InputEnd { id: 4 });
        host_round_trip(HostMessage::Credit {
            id: 1,
            stream: Stream::Stderr,
            bytes: WINDOW,
        });
    }

    #[test]
    fn every_guest_message_round_trips() {
        let replies = [
            Reply::Done,
            Reply::Failed { errno: 3 },
            Reply::ExecStarted { pid: 42 },
            Reply::ExecFailed {
                status: 127,
                message: "cannot execute nope: not found".into(),
            },
            Reply::Pids(vec![1, 5, 32767]),
            Reply::Pids(Vec::new()),
        ];
        for (seq, reply) in replies.into_iter().enumerate() {
            guest_round_trip(GuestMessage::Reply {
                seq: seq as u32,
                reply,
            });
        }
        guest_round_trip(GuestMessage::Created { pid: 1 });
        guest_round_trip(GuestMessage::Output {
            id: 0,
            stream: Stream::Stdout,
            data: b"out\n".to_vec(),
        });
        guest_round_trip(GuestMessage::OutputEnd {
            id: 9,
            stream: Stream::Stderr,
        });
        guest_round_trip(GuestMessage::InputCredit { id: 0, bytes: 4096 });
        guest_round_trip(GuestMessage::Exited {
            id: 0,
            status: Status::Exited(7),
        });
        guest_round_trip(GuestMessage::Exited {
            id: 3,
            status: Status::Killed(9),
        });
    }

    #[test]
    fn frames_split_anywhere_come_out_whole_and_in_order() {
        let messages = [
            HostMessage::Input {
                id: 0,
                data: (0..=255).collect(),
            },
            HostMessage::InputEnd { id: 0 },
            HostMessage::Request {
                seq: 1,
                request: Request::Pids,
            },
        ];
        let stream: Vec<u8> = messages.iter().flat_map(HostMessage::encode).collect();
        for piece in [1, 2, 3, 7, 100, stream.len()] {
            let mut decoder = Decoder::new();
            let mut out = Vec::new();
            for chunk in stream.chunks(piece) {
                decoder.push(chunk);
                while let Some(frame) = decoder.next_frame().unwrap() {
                    out.push(HostMessage::decode(&frame).unwrap());
                }
            }
            assert_eq!(out, messages, "pieces of {piece}");
            assert_eq!(decoder.buffered(), 0);
        }
    }

    #[test]
    fn a_bad_length_breaks_the_stream() {
        let mut decoder = Decoder::new();
        decoder.push(&0u32.to_le_bytes());
        assert_eq!(decoder.next_frame(), Err(WireError::BadLength(0)));
        let mut decoder = Decoder::new();
        decoder.push(&(MAX_FRAME as u32 + 1).to_le_bytes());
        assert_eq!(
            decoder.next_frame(),
            Err(WireError::BadLength(MAX_FRAME as u32 + 1))
        );
    }

    #[test]
    fn malformed_frames_are_refused_by_name() {
        assert_eq!(
            HostMessage::decode(&[0x7f]),
            Err(WireError::UnknownKind(0x7f))
        );
        // A guest message sent to the guest.
        assert_eq!(
            HostMessage::decode(&[CREATED, 1, 0, 0, 0]),
            Err(WireError::UnknownKind(CREATED))
        );
        assert_eq!(
            HostMessage::decode(&[INPUT_END, 1, 0]),
            Err(WireError::Truncated)
        );
        assert_eq!(
            HostMessage::decode(&[INPUT_END, 1, 0, 0, 0, 9]),
            Err(WireError::Trailing)
        );
        assert_eq!(
            HostMessage::decode(&[CREDIT, 0, 0, 0, 0, 3, 0, 0, 0, 0]),
            Err(WireError::BadField("stream"))
        );
        assert_eq!(
            HostMessage::decode(&[SIGNAL, 0, 0, 0, 0, 5, 0, 0, 0, 0, 9]),
            Err(WireError::BadField("target"))
        );
        // A byte string claiming more than the frame holds.
        assert_eq!(
            HostMessage::decode(&[INPUT, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1]),
            Err(WireError::Truncated)
        );
        assert_eq!(
            GuestMessage::decode(&[PID_LIST, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
            Err(WireError::Truncated)
        );
        assert_eq!(
            GuestMessage::decode(&[EXITED, 0, 0, 0, 0, 2, 1]),
            Err(WireError::BadField("status"))
        );
    }

    #[test]
    fn statuses_read_as_a_shell_reads_them() {
        assert_eq!(Status::Exited(7).code(), 7);
        assert_eq!(Status::Killed(9).code(), 137);
        assert_eq!(Status::Killed(15).code(), 143);
    }
}
