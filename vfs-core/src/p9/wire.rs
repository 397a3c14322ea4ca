//! 9P wire primitives: little-endian integers, `u16`-length strings, `u32`-length data and
//! `u16`-counted lists, written into a growable buffer and read back from untrusted bytes.
//!
//! Decoding never panics and never allocates more than the input could describe: every
//! shortfall, overrun or leftover byte is `EIO`, the errno a malformed reply turns into.

use crate::errno::{Errno, Result};
use alloc::vec::Vec;

/// Appends fields to a message under construction. A field that cannot be represented (a
/// string longer than 65535 bytes) poisons the encoder instead of panicking; `finish`
/// reports it, so encode paths stay infallible until the end.
pub struct Encoder<'b> {
    out: &'b mut Vec<u8>,
    unrepresentable: bool,
}

impl<'b> Encoder<'b> {
    pub fn new(out: &'b mut Vec<u8>) -> Self {
        Encoder {
            out,
            unrepresentable: false,
        }
    }

    pub fn put_u8(&mut self, value: u8) {
        self.out.push(value);
    }

    pub fn put_u16(&mut self, value: u16) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    pub fn put_u32(&mut self, value: u32) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    pub fn put_u64(&mut self, value: u64) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    /// A 9P string: `len[2]` then the bytes (no terminator; names are byte strings).
    pub fn put_string(&mut self, bytes: &[u8]) {
        match u16::try_from(bytes.len()) {
            Ok(len) => {
                self.put_u16(len);
                self.out.extend_from_slice(bytes);
            }
            Err(_) => self.unrepresentable = true,
        }
    }

    /// A data payload: `count[4]` then the bytes (read/write/readdir bodies).
    pub fn put_data(&mut self, bytes: &[u8]) {
        match u32::try_from(bytes.len()) {
            Ok(len) => {
                self.put_u32(len);
                self.out.extend_from_slice(bytes);
            }
            Err(_) => self.unrepresentable = true,
        }
    }

    /// A list count (`nwname`, `nwqid`).
    pub fn put_count(&mut self, count: usize) {
        match u16::try_from(count) {
            Ok(count) => self.put_u16(count),
            Err(_) => self.unrepresentable = true,
        }
    }

    /// `ENAMETOOLONG` when a string or list did not fit its length field: the only way a
    /// caller-supplied value can be unencodable.
    pub fn finish(self) -> Result<()> {
        if self.unrepresentable {
            Err(Errno::ENAMETOOLONG)
        } else {
            Ok(())
        }
    }
}

/// Reads fields from untrusted bytes; every method returns `EIO` rather than reading past
/// the end.
pub struct Decoder<'a> {
    input: &'a [u8],
}

impl<'a> Decoder<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Decoder { input }
    }

    pub fn remaining(&self) -> usize {
        self.input.len()
    }

    pub fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        if len > self.input.len() {
            return Err(Errno::EIO);
        }
        let (head, tail) = self.input.split_at(len);
        self.input = tail;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        let mut array = [0u8; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take_array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take_array()?))
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take_array()?))
    }

    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take_array()?))
    }

    pub fn string(&mut self) -> Result<&'a [u8]> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    pub fn data(&mut self) -> Result<&'a [u8]> {
        let len = self.u32()?;
        self.take(usize::try_from(len).map_err(|_| Errno::EIO)?)
    }

    /// Succeeds only when every byte was consumed: trailing garbage means the two sides
    /// disagree about the message layout.
    pub fn finish(self) -> Result<()> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(Errno::EIO)
        }
    }
}

/// A value with a fixed 9P layout, borrowed from the message bytes where it can be.
pub trait Wire<'a>: Sized {
    fn encode(&self, out: &mut Encoder<'_>);
    fn decode(input: &mut Decoder<'a>) -> Result<Self>;
}

macro_rules! wire_integer {
    ($($ty:ty => $put:ident, $get:ident;)*) => {$(
        impl<'a> Wire<'a> for $ty {
            fn encode(&self, out: &mut Encoder<'_>) {
                out.$put(*self);
            }
            fn decode(input: &mut Decoder<'a>) -> Result<Self> {
                input.$get()
            }
        }
    )*};
}

wire_integer! {
    u8 => put_u8, u8;
    u16 => put_u16, u16;
    u32 => put_u32, u32;
    u64 => put_u64, u64;
}

/// A borrowed byte slice is a 9P string (`len[2]` prefix): names, targets, versions.
impl<'a> Wire<'a> for &'a [u8] {
    fn encode(&self, out: &mut Encoder<'_>) {
        out.put_string(self);
    }
    fn decode(input: &mut Decoder<'a>) -> Result<Self> {
        input.string()
    }
}

/// A bulk payload (`count[4]` prefix), kept apart from strings by its type so a message
/// definition says which length field it uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Data<'a>(pub &'a [u8]);

impl<'a> Wire<'a> for Data<'a> {
    fn encode(&self, out: &mut Encoder<'_>) {
        out.put_data(self.0);
    }
    fn decode(input: &mut Decoder<'a>) -> Result<Self> {
        input.data().map(Data)
    }
}

/// A `u16`-counted list (walk names, walk qids).
impl<'a, T: Wire<'a>> Wire<'a> for Vec<T> {
    fn encode(&self, out: &mut Encoder<'_>) {
        out.put_count(self.len());
        for item in self {
            item.encode(out);
        }
    }
    fn decode(input: &mut Decoder<'a>) -> Result<Self> {
        let count = usize::from(input.u16()?);
        // Every element takes at least one byte, so the input bounds the allocation even
        // when the count field lies.
        let mut items = Vec::with_capacity(count.min(input.remaining()));
        for _ in 0..count {
            items.push(T::decode(input)?);
        }
        Ok(items)
    }
}

/// Defines a plain struct whose fields go on the wire in declaration order.
macro_rules! wire_struct {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$field_meta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name { $($(#[$field_meta])* pub $field: $ty,)* }

        impl<'a> $crate::p9::wire::Wire<'a> for $name {
            fn encode(&self, out: &mut $crate::p9::wire::Encoder<'_>) {
                $($crate::p9::wire::Wire::encode(&self.$field, out);)*
            }
            fn decode(input: &mut $crate::p9::wire::Decoder<'a>) -> $crate::errno::Result<Self> {
                Ok($name { $($field: $crate::p9::wire::Wire::decode(input)?,)* })
            }
        }
    };
}
pub(crate) use wire_struct;

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn integers_are_little_endian() {
        let mut buf = Vec::new();
        let mut out = Encoder::new(&mut buf);
        out.put_u16(0x0102);
        out.put_u32(0x0304_0506);
        out.put_u64(0x0708_090a_0b0c_0d0e);
        out.finish().unwrap();
        assert_eq!(buf, [2, 1, 6, 5, 4, 3, 0xe, 0xd, 0xc, 0xb, 0xa, 9, 8, 7]);
        let mut input = Decoder::new(&buf);
        assert_eq!(input.u16(), Ok(0x0102));
        assert_eq!(input.u32(), Ok(0x0304_0506));
        assert_eq!(input.u64(), Ok(0x0708_090a_0b0c_0d0e));
        assert_eq!(input.finish(), Ok(()));
    }

    #[test]
    fn short_input_and_leftovers_are_eio() {
        assert_eq!(Decoder::new(&[1, 2, 3]).u32(), Err(Errno::EIO));
        assert_eq!(Decoder::new(&[5, 0, b'a']).string(), Err(Errno::EIO));
        assert_eq!(
            Decoder::new(&[0xff, 0xff, 0xff, 0xff]).data(),
            Err(Errno::EIO)
        );
        assert_eq!(Decoder::new(&[0]).finish(), Err(Errno::EIO));
    }

    #[test]
    fn lying_list_count_does_not_allocate_or_panic() {
        let bytes = [0xff, 0xff, 1, 2];
        assert_eq!(
            <Vec<u64>>::decode(&mut Decoder::new(&bytes)),
            Err(Errno::EIO)
        );
    }

    #[test]
    fn oversized_string_poisons_the_encoder() {
        let long = vec![b'x'; 70_000];
        let mut buf = Vec::new();
        let mut out = Encoder::new(&mut buf);
        out.put_string(&long);
        assert_eq!(out.finish(), Err(Errno::ENAMETOOLONG));
    }
}
