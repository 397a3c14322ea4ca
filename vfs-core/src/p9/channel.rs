//! The transport below the 9P client: anything that carries one request to a 9P server and
//! brings its reply back. The kernel's virtio-9p driver implements it; host tests implement
//! it over an in-process server.

use crate::errno::Result;

/// One 9P transport: a virtio-9p device in the kernel, a socket to a server in tests.
pub trait Channel: Send + Sync {
    /// Largest message (request or reply) the transport can carry; the client negotiates
    /// msize no larger than this.
    fn max_message_size(&self) -> u32;
    /// Sends one whole request message and waits for its reply, written into `reply`;
    /// returns the reply's length. Transport failures are `EIO`.
    fn round_trip(&self, request: &[u8], reply: &mut [u8]) -> Result<usize>;
}
