//! The 9P2000.L reply decoder (`vfs_core::p9::message`): one framed R-message as a server
//! sends it. A reply that decodes must encode back to the same bytes, and a readdir
//! payload's entries must decode without reading past it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vfs_core::p9::message::{Dirents, Reply, Request, encode_dirents};

fuzz_target!(|data: &[u8]| {
    if let Ok((tag, reply)) = Reply::decode(data) {
        let mut again = Vec::new();
        reply
            .encode(tag, &mut again)
            .expect("a decoded reply encodes");
        assert_eq!(again, data, "{reply:?}");
        if let Reply::Readdir { data: payload } = reply {
            let entries: Vec<_> = Dirents::new(payload.0).collect();
            if let Ok(entries) = entries.into_iter().collect::<Result<Vec<_>, _>>() {
                let mut encoded = Vec::new();
                encode_dirents(&entries, &mut encoded).expect("decoded entries encode");
                assert_eq!(encoded, payload.0);
            }
        }
    }
    // The same bytes as a T-message (what a test server decodes).
    if let Ok((tag, request)) = Request::decode(data) {
        let mut again = Vec::new();
        request
            .encode(tag, &mut again)
            .expect("a decoded request encodes");
        assert_eq!(again, data, "{request:?}");
    }
});
