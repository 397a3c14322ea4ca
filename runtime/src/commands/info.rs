//! `features` (the runtime-spec features document: what this runtime accepts) and the
//! `--version` text (runc's layout: the name and version, then `spec:`).

use crate::error::Result;

/// The hooks run, the namespaces and mount options the guest kernel implements, and the
/// annotations we set (none of ours read yet: the spec's own are passed on).
pub fn features_json() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "poststart", "poststop"],
        "mountOptions": [
            "ro", "rw", "noatime", "noexec", "nosuid", "bind", "rbind", "atime", "exec",
            "mode", "uid", "gid", "size"
        ],
        "linux": {
            // The VM is every namespace; the guest runs one container.
            "namespaces": ["mount", "pid", "uts", "ipc", "network"],
            "capabilities": kernel_capabilities(),
            "cgroup": {"v1": false, "v2": false, "systemd": false, "systemdUser": false},
            "seccomp": {"enabled": false},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.sandbox": "vm",
            "io.github.sandbox-kernel.runtime.version": env!("CARGO_PKG_VERSION"),
        }
    })
}

/// The capability names the guest's `process.capabilities` parser knows.
fn kernel_capabilities() -> Vec<&'static str> {
    vfs_core::cap::NAMES.to_vec()
}

pub fn features() -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(&features_json()).expect("features serialize")
    );
    Ok(())
}

pub fn version_text() -> String {
    format!(
        "sandbox-runtime version {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        crate::OCI_VERSION
    )
}
