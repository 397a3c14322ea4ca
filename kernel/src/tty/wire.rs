//! The console's input as the host sends it: the keystrokes or piped bytes, framed so
//! that facts a serial line cannot carry travel in the same stream, in order with the
//! data — the end of the host's input (`echo hi | cargo xtask run -i -- cat` must see end
//! of file after `hi`, never before), a new window size, the host terminal going away.
//!
//! Framing: byte `0xff` escapes. `ff ff` is a data byte `0xff`; `ff 45` (`E`) ends the
//! input; `ff 57` (`W`) is followed by four bytes, rows and columns as little-endian
//! `u16`s; `ff 48` (`H`) is a hang-up. Everything else is data. An unknown escape is
//! dropped with the byte after it.
//!
//! The host waits for the kernel's [`READY_LINE`] on its console before it sends anything:
//! programming the port (enabling its FIFO) drops a byte that came earlier.
//!
//! Portable: the kernel decodes ([`Decoder`]) and `xtask` encodes ([`encode_data`],
//! [`winsize`], [`END_OF_INPUT`], [`HANG_UP`]) with this one module.

use alloc::vec::Vec;

const ESCAPE: u8 = 0xff;
const END: u8 = b'E';
const WINSIZE: u8 = b'W';
const HANGUP: u8 = b'H';

/// The line the kernel prints on its console once COM2 takes input: the host sends
/// nothing before it, since the port's setup drops what it holds.
pub const READY_LINE: &str = "sandbox: stdio ready";

/// The host's input has ended.
pub const END_OF_INPUT: [u8; 2] = [ESCAPE, END];
/// The host's terminal went away.
pub const HANG_UP: [u8; 2] = [ESCAPE, HANGUP];

/// One thing the host said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    Data(u8),
    EndOfInput,
    Winsize { rows: u16, cols: u16 },
    HangUp,
}

/// `data` with every `0xff` doubled.
pub fn encode_data(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for &byte in data {
        out.push(byte);
        if byte == ESCAPE {
            out.push(ESCAPE);
        }
    }
    out
}

/// A window-size frame.
pub fn winsize(rows: u16, cols: u16) -> [u8; 6] {
    let [r0, r1] = rows.to_le_bytes();
    let [c0, c1] = cols.to_le_bytes();
    [ESCAPE, WINSIZE, r0, r1, c0, c1]
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Data,
    Escape,
    /// Inside a window-size frame: how many of its four bytes came, and them.
    Winsize(u8, [u8; 4]),
}

/// Turns the stream back into [`Item`]s, one byte at a time (a frame may straddle reads).
#[derive(Debug, Default)]
pub struct Decoder {
    state: State,
}

impl Decoder {
    pub const fn new() -> Decoder {
        Decoder { state: State::Data }
    }

    pub fn push(&mut self, byte: u8) -> Option<Item> {
        match self.state {
            State::Data if byte == ESCAPE => {
                self.state = State::Escape;
                None
            }
            State::Data => Some(Item::Data(byte)),
            State::Escape => {
                self.state = State::Data;
                match byte {
                    ESCAPE => Some(Item::Data(ESCAPE)),
                    END => Some(Item::EndOfInput),
                    HANGUP => Some(Item::HangUp),
                    WINSIZE => {
                        self.state = State::Winsize(0, [0; 4]);
                        None
                    }
                    _ => None,
                }
            }
            State::Winsize(count, mut bytes) => {
                bytes[usize::from(count)] = byte;
                if count < 3 {
                    self.state = State::Winsize(count + 1, bytes);
                    return None;
                }
                self.state = State::Data;
                Some(Item::Winsize {
                    rows: u16::from_le_bytes([bytes[0], bytes[1]]),
                    cols: u16::from_le_bytes([bytes[2], bytes[3]]),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(stream: &[u8]) -> Vec<Item> {
        let mut decoder = Decoder::new();
        stream.iter().filter_map(|&b| decoder.push(b)).collect()
    }

    #[test]
    fn data_round_trips_with_escapes() {
        let data = [0u8, 0xff, b'a', 0xff, 0xff];
        let items = decode(&encode_data(&data));
        let back: Vec<u8> = items
            .iter()
            .map(|item| match item {
                Item::Data(byte) => *byte,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(back, data);
    }

    #[test]
    fn control_frames_keep_their_place_in_the_stream() {
        let mut stream = encode_data(b"hi");
        stream.extend_from_slice(&winsize(50, 0x1ff));
        stream.extend_from_slice(&encode_data(b"\xff"));
        stream.extend_from_slice(&END_OF_INPUT);
        stream.extend_from_slice(&HANG_UP);
        assert_eq!(
            decode(&stream),
            [
                Item::Data(b'h'),
                Item::Data(b'i'),
                Item::Winsize {
                    rows: 50,
                    cols: 0x1ff
                },
                Item::Data(0xff),
                Item::EndOfInput,
                Item::HangUp,
            ]
        );
    }

    #[test]
    fn a_window_size_whose_bytes_are_ff_is_not_mistaken_for_escapes() {
        assert_eq!(
            decode(&winsize(0xffff, 0xff)),
            [Item::Winsize {
                rows: 0xffff,
                cols: 0xff
            }]
        );
    }

    #[test]
    fn an_unknown_escape_is_dropped() {
        assert_eq!(decode(b"a\xffzb"), [Item::Data(b'a'), Item::Data(b'b')]);
    }
}
