//! A Unix socket's receive queue: the messages its peers sent and nobody has read yet,
//! with what each carries besides its bytes (the sender's credentials, descriptors in
//! flight, the sender's name). Datagram and sequenced-packet sockets take one message per
//! read (the socket layer pops it); a stream reads bytes across messages by Linux's
//! rules, [`ReceiveQueue::read_stream`].
//!
//! Generic over the descriptors in flight (`F`) and the sender's accounting token (`T`,
//! dropped with the message: it gives the sender its buffer space back), so it is
//! host-tested without a kernel. Nothing here blocks or locks: the socket holds the queue
//! under its lock.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::address::UnixAddress;
use super::control::Ucred;

/// One message (a datagram, or a stretch of a stream from one `send`).
#[derive(Debug)]
pub struct Message<F, T> {
    data: Vec<u8>,
    /// Stream: how many of `data`'s bytes were read already.
    consumed: usize,
    /// The sender's credentials, when they were added (see the socket layer).
    pub credentials: Option<Ucred>,
    /// Descriptors in flight; taken by the first read of the message.
    pub files: Option<F>,
    /// The sender's name when it sent.
    pub from: Option<UnixAddress>,
    pub token: T,
}

impl<F, T> Message<F, T> {
    pub fn new(
        data: Vec<u8>,
        credentials: Option<Ucred>,
        files: Option<F>,
        from: Option<UnixAddress>,
        token: T,
    ) -> Message<F, T> {
        Message {
            data,
            consumed: 0,
            credentials,
            files,
            from,
            token,
        }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.consumed
    }

    /// A datagram's bytes (all of them: datagrams are read whole).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The datagram's bytes, moved out.
    pub fn take_data(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.data)
    }
}

/// What a stream read has met so far, kept across the chunks and sleeps of one call.
#[derive(Debug)]
pub struct StreamCursor<X> {
    /// With `SO_PASSCRED`: the credentials of the first message read; a message with
    /// others ends the read ("never glue messages from different writers").
    pub credentials: Option<Option<Ucred>>,
    /// Descriptors that came with the bytes (the read ends after their message).
    pub files: Option<X>,
    /// The sender's name (of the first message read).
    pub from: Option<Option<UnixAddress>>,
    /// The read must end here: descriptors came, or the next writer differs.
    pub stop: bool,
}

impl<X> Default for StreamCursor<X> {
    fn default() -> Self {
        StreamCursor {
            credentials: None,
            files: None,
            from: None,
            stop: false,
        }
    }
}

/// One stretch of a stream read: from `skip` bytes in (a peek going on), at most `max`
/// bytes, copying rather than taking (`peek`), with `SO_PASSCRED` on (`passcred`).
#[derive(Clone, Copy, Debug)]
pub struct StreamRead {
    pub skip: usize,
    pub max: usize,
    pub peek: bool,
    pub passcred: bool,
}

#[derive(Debug)]
pub struct ReceiveQueue<F, T> {
    messages: VecDeque<Message<F, T>>,
    /// Bytes not read yet, over every message.
    unread: usize,
}

impl<F, T> Default for ReceiveQueue<F, T> {
    fn default() -> Self {
        ReceiveQueue {
            messages: VecDeque::new(),
            unread: 0,
        }
    }
}

impl<F, T> ReceiveQueue<F, T> {
    pub fn push(&mut self, message: Message<F, T>) {
        self.unread += message.remaining();
        self.messages.push_back(message);
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Messages queued (a datagram socket's backlog counts these).
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Bytes not read yet (a stream's `SIOCINQ`).
    pub fn unread(&self) -> usize {
        self.unread
    }

    pub fn front(&self) -> Option<&Message<F, T>> {
        self.messages.front()
    }

    /// Takes the first message (a datagram read).
    pub fn pop(&mut self) -> Option<Message<F, T>> {
        let message = self.messages.pop_front()?;
        self.unread -= message.remaining();
        Some(message)
    }

    /// Takes every message (the socket closed, or its peer changed).
    pub fn purge(&mut self) -> VecDeque<Message<F, T>> {
        self.unread = 0;
        core::mem::take(&mut self.messages)
    }

    /// Every message, oldest first (the collector walks descriptors in flight).
    pub fn iter(&self) -> impl Iterator<Item = &Message<F, T>> {
        self.messages.iter()
    }

    /// Linux's `unix_stream_read_generic`, one stretch of it: reads (or with `peek`,
    /// copies from `skip` bytes in) up to `max` bytes across messages, and at least looks
    /// at the first message even for `max == 0` ([`StreamRead`]). With `passcred` the first message's
    /// credentials are noted and a message with other ones ends the read; a message
    /// with descriptors hands them to `cursor` through `attach` (a read takes them, a
    /// peek copies them) and ends the read after it. Fully read messages go to `spent`,
    /// to be dropped once the socket's lock is released. A message read whole from its
    /// start is handed over as it is, not copied, and ends the stretch: the caller asks
    /// again while it wants more. Returns the bytes.
    pub fn read_stream<X>(
        &mut self,
        cursor: &mut StreamCursor<X>,
        how: StreamRead,
        spent: &mut Vec<Message<F, T>>,
        mut attach: impl FnMut(&mut Option<F>) -> Option<X>,
    ) -> Vec<u8> {
        let StreamRead {
            skip,
            max,
            peek,
            passcred,
        } = how;
        let mut out = Vec::new();
        let mut index = 0;
        let mut skip = skip;
        while !cursor.stop {
            let Some(message) = self.messages.get_mut(index) else {
                break;
            };
            if skip >= message.remaining() {
                skip -= message.remaining();
                index += 1;
                continue;
            }
            match &cursor.credentials {
                Some(first) if *first != message.credentials => {
                    cursor.stop = true;
                    break;
                }
                Some(_) => {}
                None if passcred => cursor.credentials = Some(message.credentials),
                None => {}
            }
            if cursor.from.is_none() {
                cursor.from = Some(message.from.clone());
            }
            let start = message.consumed + skip;
            let take = (message.remaining() - skip).min(max - out.len());
            let moved = out.is_empty() && start == 0 && take == message.data.len() && !peek;
            if moved {
                out = core::mem::take(&mut message.data);
                message.consumed = 0;
            } else {
                out.extend_from_slice(&message.data[start..start + take]);
                if !peek {
                    message.consumed += take;
                }
            }
            if peek {
                if message.files.is_some() {
                    cursor.files = attach(&mut message.files);
                    cursor.stop = true;
                    break;
                }
                skip = 0;
                index += 1;
            } else {
                self.unread -= take;
                if message.files.is_some() {
                    cursor.files = attach(&mut message.files);
                }
                if message.remaining() > 0 {
                    break;
                }
                if let Some(done) = self.messages.pop_front() {
                    spent.push(done);
                }
                if cursor.files.is_some() {
                    cursor.stop = true;
                }
                if moved {
                    // Handed over whole, uncopied: the caller asks again for more.
                    break;
                }
            }
            if out.len() >= max {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Queue = ReceiveQueue<Vec<i32>, ()>;

    fn message(bytes: &[u8], pid: u32, files: Option<Vec<i32>>) -> Message<Vec<i32>, ()> {
        let credentials = Some(Ucred {
            pid,
            uid: 0,
            gid: 0,
        });
        Message::new(bytes.to_vec(), credentials, files, None, ())
    }

    fn peek(skip: usize, max: usize) -> StreamRead {
        StreamRead {
            skip,
            max,
            peek: true,
            passcred: false,
        }
    }

    fn read(
        queue: &mut Queue,
        cursor: &mut StreamCursor<Vec<i32>>,
        max: usize,
        passcred: bool,
    ) -> Vec<u8> {
        // As the socket's read does: stretches until `max`, an empty queue or a stop.
        let mut out = Vec::new();
        loop {
            let mut spent = Vec::new();
            let how = StreamRead {
                skip: 0,
                max: max - out.len(),
                peek: false,
                passcred,
            };
            let was_empty = queue.is_empty();
            let chunk = queue.read_stream(cursor, how, &mut spent, |files| files.take());
            out.extend_from_slice(&chunk);
            if cursor.stop || out.len() >= max || was_empty || chunk.is_empty() {
                return out;
            }
        }
    }

    #[test]
    fn a_whole_message_is_handed_over_alone() {
        let mut queue = Queue::default();
        queue.push(message(b"first", 1, None));
        queue.push(message(b"second", 1, None));
        let mut spent = Vec::new();
        let how = StreamRead {
            skip: 0,
            max: 100,
            peek: false,
            passcred: false,
        };
        let mut cursor = StreamCursor::default();
        let chunk = queue.read_stream(&mut cursor, how, &mut spent, |f| f.take());
        assert_eq!(chunk, b"first");
        assert_eq!(spent.len(), 1);
        // Once partly read, the rest of a message is copied, and the next follows.
        let mut cursor = StreamCursor::default();
        let how = StreamRead { max: 2, ..how };
        assert_eq!(
            queue.read_stream(&mut cursor, how, &mut spent, |f| f.take()),
            b"se"
        );
        let how = StreamRead { max: 100, ..how };
        queue.push(message(b"third", 1, None));
        assert_eq!(
            queue.read_stream(&mut cursor, how, &mut spent, |f| f.take()),
            b"condthird"
        );
    }

    #[test]
    fn a_stream_reads_across_messages() {
        let mut queue = Queue::default();
        queue.push(message(b"hello ", 1, None));
        queue.push(message(b"world", 1, None));
        assert_eq!(queue.unread(), 11);
        let mut cursor = StreamCursor::default();
        assert_eq!(read(&mut queue, &mut cursor, 8, false), b"hello wo");
        assert_eq!(queue.unread(), 3);
        assert_eq!(queue.len(), 1);
        assert_eq!(read(&mut queue, &mut cursor, 100, false), b"rld");
        assert!(queue.is_empty());
        assert!(!cursor.stop);
    }

    #[test]
    fn a_peek_leaves_the_bytes_and_can_skip() {
        let mut queue = Queue::default();
        queue.push(message(b"abc", 1, None));
        queue.push(message(b"def", 1, None));
        let mut spent = Vec::new();
        let mut cursor = StreamCursor::default();
        let peeked = queue.read_stream(&mut cursor, peek(0, 100), &mut spent, |f| f.clone());
        assert_eq!(peeked, b"abcdef");
        let mut cursor = StreamCursor::default();
        let peeked = queue.read_stream(&mut cursor, peek(4, 100), &mut spent, |f| f.clone());
        assert_eq!(peeked, b"ef");
        assert_eq!(queue.unread(), 6);
        assert!(spent.is_empty());
    }

    #[test]
    fn descriptors_end_the_read_after_their_message() {
        let mut queue = Queue::default();
        queue.push(message(b"ab", 1, None));
        queue.push(message(b"cd", 1, Some(vec![7])));
        queue.push(message(b"ef", 1, None));
        let mut cursor = StreamCursor::default();
        assert_eq!(read(&mut queue, &mut cursor, 100, false), b"abcd");
        assert_eq!(cursor.files, Some(vec![7]));
        assert!(cursor.stop);
        let mut cursor = StreamCursor::default();
        assert_eq!(read(&mut queue, &mut cursor, 100, false), b"ef");
        assert_eq!(cursor.files, None);
    }

    #[test]
    fn a_partial_read_takes_the_descriptors_at_once() {
        let mut queue = Queue::default();
        queue.push(message(b"abcd", 1, Some(vec![3])));
        let mut cursor = StreamCursor::default();
        assert_eq!(read(&mut queue, &mut cursor, 1, false), b"a");
        assert_eq!(cursor.files, Some(vec![3]));
        let mut cursor = StreamCursor::default();
        assert_eq!(read(&mut queue, &mut cursor, 10, false), b"bcd");
        assert_eq!(cursor.files, None, "only the first read gets them");
    }

    #[test]
    fn a_zero_byte_read_still_takes_the_first_messages_descriptors() {
        let mut queue = Queue::default();
        queue.push(message(b"xy", 1, Some(vec![5])));
        let mut cursor = StreamCursor::default();
        assert_eq!(read(&mut queue, &mut cursor, 0, false), b"");
        assert_eq!(cursor.files, Some(vec![5]));
        assert_eq!(queue.unread(), 2);
    }

    #[test]
    fn with_passcred_writers_are_not_glued() {
        let mut queue = Queue::default();
        queue.push(message(b"one", 1, None));
        queue.push(message(b"two", 1, None));
        queue.push(message(b"three", 2, None));
        let mut cursor = StreamCursor::default();
        assert_eq!(read(&mut queue, &mut cursor, 100, true), b"onetwo");
        assert!(cursor.stop);
        assert_eq!(cursor.credentials.unwrap().unwrap().pid, 1);
        // Without it they are.
        let mut queue = Queue::default();
        queue.push(message(b"one", 1, None));
        queue.push(message(b"two", 2, None));
        let mut cursor = StreamCursor::default();
        assert_eq!(read(&mut queue, &mut cursor, 100, false), b"onetwo");
    }

    #[test]
    fn a_peek_copies_descriptors_and_stops_there() {
        let mut queue = Queue::default();
        queue.push(message(b"a", 1, Some(vec![4])));
        queue.push(message(b"b", 1, None));
        let mut spent = Vec::new();
        let mut cursor = StreamCursor::default();
        let peeked = queue.read_stream(&mut cursor, peek(0, 10), &mut spent, |f| f.clone());
        assert_eq!(peeked, b"a");
        assert_eq!(cursor.files, Some(vec![4]));
        assert_eq!(
            queue.front().unwrap().files,
            Some(vec![4]),
            "still in flight"
        );
    }

    #[test]
    fn datagrams_pop_whole_and_purge_empties() {
        let mut queue = Queue::default();
        queue.push(message(b"first", 1, None));
        queue.push(message(b"second", 1, None));
        let mut first = queue.pop().unwrap();
        assert_eq!(first.take_data(), b"first");
        assert_eq!(queue.unread(), 6);
        assert_eq!(queue.purge().len(), 1);
        assert_eq!((queue.len(), queue.unread()), (0, 0));
    }
}
