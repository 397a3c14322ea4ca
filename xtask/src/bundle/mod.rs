//! OCI bundles: loading and checking one is the runtime library's
//! (`sandbox_runtime::bundle`, shared with the runtime's sandboxes); `default` assembles
//! xtask's default bundle from `qemu/bundle/`.

mod default;

pub use default::{DEFAULT_BUNDLE, prepare_default_bundle, prepare_default_bundle_in};
pub use sandbox_runtime::bundle::*;
