//! The 9p client and filesystem (`vfs_core::p9`) against a hostile server: a script of
//! filesystem operations and the replies to every request they send (see `src/lib.rs`).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use sandbox_fuzz::{Script, ScriptedTransport};

fuzz_target!(|data: &[u8]| {
    let Some(script) = Script::parse(data) else {
        return;
    };
    let transport = Arc::new(ScriptedTransport::new(
        script.max_message_size(),
        script.frames,
    ));
    sandbox_fuzz::run(transport, script.shared, &script.ops);
});
