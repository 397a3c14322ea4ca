//! abi: the byte layouts of the Linux x86_64 structures system calls exchange with user
//! space (`struct stat`, `statx`, `statfs`, `linux_dirent64`, `utsname`, `termios`…).
//! Pure encoding and decoding, host-tested against the sizes and offsets glibc and musl use,
//! so the syscall layer only moves bytes in and out of user memory.

pub mod io_args;
mod structs;
pub mod syscall_numbers;

pub use structs::*;

/// Appends little-endian fields to a buffer: the one way structures are built here.
#[derive(Default)]
pub struct Encoder {
    bytes: alloc::vec::Vec<u8>,
}

impl Encoder {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            bytes: alloc::vec::Vec::with_capacity(capacity),
        }
    }
    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes.push(value);
        self
    }
    pub fn u16(&mut self, value: u16) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }
    pub fn u32(&mut self, value: u32) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }
    pub fn i64(&mut self, value: i64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, value: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(value);
        self
    }
    pub fn zeros(&mut self, count: usize) -> &mut Self {
        self.bytes.resize(self.bytes.len() + count, 0);
        self
    }
    /// Pads with zeros to a multiple of `align`.
    pub fn align(&mut self, align: usize) -> &mut Self {
        let padded = self.bytes.len().next_multiple_of(align);
        self.bytes.resize(padded, 0);
        self
    }
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    pub fn finish(&mut self) -> alloc::vec::Vec<u8> {
        core::mem::take(&mut self.bytes)
    }
}

/// Reads little-endian fields from user-supplied bytes; short input reads as zeros, since
/// callers always copy in exactly the structure's size first.
pub fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    let mut word = [0u8; 8];
    if let Some(slice) = bytes.get(offset..offset + 8) {
        word.copy_from_slice(slice);
    }
    u64::from_le_bytes(word)
}

pub fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(slice) = bytes.get(offset..offset + 4) {
        word.copy_from_slice(slice);
    }
    u32::from_le_bytes(word)
}
