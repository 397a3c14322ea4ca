//! The argument and environment strings of an `execve`, packed into one buffer: the kernel
//! holds them from the call until the new stack has them (across the program's reads from
//! 9p, while other processes run), and one buffer of a few megabytes is one large heap
//! allocation, whose pages go back to the frame allocator whole when the exec ends, where
//! a thousand small copies would scatter over the heap's spans and hold them.
//! Pure, host-tested.

use alloc::collections::TryReserveError;
use alloc::vec::Vec;

/// A list of byte strings, in order, packed end to end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Strings {
    bytes: Vec<u8>,
    /// Where each string ends in `bytes`.
    ends: Vec<usize>,
}

impl Strings {
    pub const fn new() -> Strings {
        Strings {
            bytes: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Appends `string`; an error, with nothing changed, when the heap has no room.
    pub fn try_push(&mut self, string: &[u8]) -> Result<(), TryReserveError> {
        self.bytes.try_reserve(string.len())?;
        self.ends.try_reserve(1)?;
        self.bytes.extend_from_slice(string);
        self.ends.push(self.bytes.len());
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = core::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.bytes[start..end])
    }

    /// The heap bytes the list holds, to charge for it.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * core::mem::size_of::<usize>()
    }
}

impl<'a> FromIterator<&'a [u8]> for Strings {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(strings: I) -> Strings {
        let mut list = Strings::new();
        for string in strings {
            list.bytes.extend_from_slice(string);
            list.ends.push(list.bytes.len());
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_come_back_in_order_empty_ones_included() {
        let mut list = Strings::new();
        assert!(list.is_empty());
        for string in [&b"/bin/sh"[..], b"", b"-c", b"echo hi"] {
            list.try_push(string).unwrap();
        }
        assert_eq!(list.len(), 4);
        let back: Vec<&[u8]> = list.iter().collect();
        assert_eq!(back, [&b"/bin/sh"[..], b"", b"-c", b"echo hi"]);
        assert!(list.heap_bytes() >= 16 + 4 * 8);
        let copy: Strings = list.iter().skip(2).collect();
        assert_eq!(copy.iter().collect::<Vec<_>>(), [&b"-c"[..], b"echo hi"]);
    }
}
