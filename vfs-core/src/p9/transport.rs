//! The transport below the 9P client: anything that carries one request to a 9P server and
//! brings its reply back. The kernel's virtio-9p driver implements it; host tests implement
//! it over an in-process server.

use crate::errno::Result;

/// One 9P transport: a virtio-9p device in the kernel, a socket to a server in tests.
pub trait Transport: Send + Sync {
    /// Largest message (request or reply) the transport can carry; the client negotiates
    /// msize no larger than this.
    fn max_message_size(&self) -> u32;
    /// Sends one whole request message and waits for its reply, written into `reply`;
    /// returns the reply's length. Transport failures are `EIO`.
    fn round_trip(&self, request: &[u8], reply: &mut [u8]) -> Result<usize>;

    /// Like `round_trip`, with the reply split: its first `header.len()` bytes go to
    /// `header` and the rest to `payload`, so a read's data lands straight in the caller's
    /// buffer. Returns the reply's whole length. A transport that can scatter (virtio) does
    /// it in place; this default goes through a bounce buffer.
    fn round_trip_split(
        &self,
        request: &[u8],
        header: &mut [u8],
        payload: &mut [u8],
    ) -> Result<usize> {
        // Room for any reply, so an overlong one is caught here as EIO, not cut short.
        let room = (self.max_message_size() as usize).max(header.len() + payload.len());
        let mut reply = alloc::vec![0u8; room];
        let length = self.round_trip(request, &mut reply)?;
        if length > header.len() + payload.len() {
            return Err(crate::errno::Errno::EIO);
        }
        let in_header = length.min(header.len());
        header[..in_header].copy_from_slice(&reply[..in_header]);
        if length > header.len() {
            let rest = length - header.len();
            payload
                .get_mut(..rest)
                .ok_or(crate::errno::Errno::EIO)?
                .copy_from_slice(&reply[header.len()..length]);
        }
        Ok(length)
    }

    /// Like `round_trip`, with the request in two pieces sent as one message: a write's
    /// data goes out from the caller's buffer without being copied behind its header. The
    /// default joins the pieces first.
    fn round_trip_gather(&self, header: &[u8], payload: &[u8], reply: &mut [u8]) -> Result<usize> {
        let mut request = alloc::vec::Vec::with_capacity(header.len() + payload.len());
        request.extend_from_slice(header);
        request.extend_from_slice(payload);
        self.round_trip(&request, reply)
    }
}
