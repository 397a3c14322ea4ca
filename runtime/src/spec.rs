//! The bundle's spec as the host side of the runtime reads it: what it needs itself (the
//! root's path, `process.terminal`, hooks, annotations, the guest RAM from
//! `linux.resources.memory.limit`) and a debug line for each field that has no meaning
//! in a VM (cgroups, seccomp, AppArmor, SELinux, host namespace paths, devices, ID
//! mappings). Everything else — mounts, process, rlimits, capabilities, sysctls — is the
//! guest kernel's to honour, and it refuses what it cannot.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Hook, Spec};

use crate::error::{Result, RuntimeError};

/// Guest RAM below which the kernel cannot run a container (it says so with status 121);
/// a memory limit under it is raised to it with a warning rather than failing the boot.
pub const MIN_GUEST_MIB: u64 = 16;

pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Spec,
}

impl Bundle {
    /// Reads `DIR/config.json`; `dir` is made absolute (the state JSON reports it).
    pub fn load(dir: &Path) -> Result<Bundle> {
        let dir = std::path::absolute(dir).map_err(|error| RuntimeError::Bundle {
            path: dir.to_owned(),
            message: error.to_string(),
        })?;
        let config = dir.join("config.json");
        let bytes = std::fs::read(&config).map_err(|error| RuntimeError::Bundle {
            path: dir.clone(),
            message: format!("config.json: {error}"),
        })?;
        let spec = parse(&bytes).map_err(|message| RuntimeError::Bundle {
            path: dir.clone(),
            message,
        })?;
        Ok(Bundle { dir, spec })
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// `root.path`, resolved against the bundle when relative.
    pub fn rootfs(&self) -> PathBuf {
        let root = self
            .spec
            .root()
            .as_ref()
            .map(|root| root.path().clone())
            .unwrap_or_else(|| PathBuf::from("rootfs"));
        self.dir.join(root)
    }

    pub fn terminal(&self) -> bool {
        self.spec
            .process()
            .as_ref()
            .and_then(|process| process.terminal())
            .unwrap_or(false)
    }
}

/// Reads a spec. `process.user` may be left out, as the guest kernel allows (uid and gid
/// 0); oci-spec's model requires it, so it is filled in first.
pub fn parse(bytes: &[u8]) -> Result<Spec, String> {
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|error| format!("config.json: {error}"))?;
    let Some(process) = value
        .get_mut("process")
        .and_then(|process| process.as_object_mut())
    else {
        return Err("config.json: process: missing (the container has nothing to run)".into());
    };
    process
        .entry("user")
        .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    serde_json::from_value(value).map_err(|error| format!("config.json: {error}"))
}

/// Guest RAM in MiB from `linux.resources.memory.limit` (bytes, rounded up), or None
/// when the spec sets none (the sandbox's default then).
pub fn memory_mib(spec: &Spec) -> Option<u64> {
    let limit = spec
        .linux()
        .as_ref()?
        .resources()
        .as_ref()?
        .memory()
        .as_ref()?
        .limit()?;
    // -1 (and any negative) is "unlimited" in the runtime spec.
    let bytes = u64::try_from(limit).ok().filter(|bytes| *bytes > 0)?;
    let mib = bytes.div_ceil(1 << 20);
    if mib < MIN_GUEST_MIB {
        log::warn!(
            "linux.resources.memory.limit {bytes} is below the sandbox's minimum; the guest gets {MIN_GUEST_MIB} MiB"
        );
        return Some(MIN_GUEST_MIB);
    }
    Some(mib)
}

/// The vCPUs a spec's CPU quota asks for: `linux.resources.cpu.quota / period` rounded
/// up (period 100 ms when unset, as runc's default), within 1–64; `None` when the spec sets
/// no positive quota (`-1` is "no limit").
pub fn cpus_for_quota(spec: &[u8]) -> Option<u32> {
    let spec: serde_json::Value = serde_json::from_slice(spec).ok()?;
    let cpu = spec.get("linux")?.get("resources")?.get("cpu")?;
    let quota = cpu.get("quota")?.as_i64().filter(|&quota| quota > 0)?;
    let period = cpu
        .get("period")
        .and_then(serde_json::Value::as_u64)
        .filter(|&period| period > 0)
        .unwrap_or(100_000);
    let cpus = (quota as u64).div_ceil(period);
    Some(cpus.clamp(1, 64) as u32)
}

/// The spec's fields that mean nothing to a VM, as `path: why` lines (logged at debug).
pub fn ignored_fields(spec: &Spec) -> Vec<String> {
    let mut ignored = Vec::new();
    let mut note = |field: &str, why: &str| ignored.push(format!("{field}: {why}"));
    if let Some(process) = spec.process() {
        if process.apparmor_profile().is_some() {
            note(
                "process.apparmorProfile",
                "no host LSM applies inside the VM",
            );
        }
        if process.selinux_label().is_some() {
            note("process.selinuxLabel", "no host LSM applies inside the VM");
        }
        if process.oom_score_adj().is_some() {
            note("process.oomScoreAdj", "the VM has its own OOM killer");
        }
    }
    if let Some(linux) = spec.linux() {
        if linux.cgroups_path().is_some() {
            note(
                "linux.cgroupsPath",
                "the VM is the container's resource boundary",
            );
        }
        if let Some(resources) = linux.resources() {
            if resources.cpu().is_some() {
                note("linux.resources.cpu", "no cgroups in the VM");
            }
            if resources.devices().is_some() {
                note(
                    "linux.resources.devices",
                    "the guest has only its own devices",
                );
            }
            if resources.block_io().is_some() {
                note("linux.resources.blockIO", "no cgroups in the VM");
            }
            if resources.hugepage_limits().is_some() {
                note("linux.resources.hugepageLimits", "no cgroups in the VM");
            }
            if resources.network().is_some() {
                note("linux.resources.network", "no cgroups in the VM");
            }
        }
        if linux.seccomp().is_some() {
            note(
                "linux.seccomp",
                "the guest kernel is the system-call boundary; no host filter applies",
            );
        }
        if let Some(namespaces) = linux.namespaces() {
            for namespace in namespaces {
                if let Some(path) = namespace.path() {
                    note(
                        &format!("linux.namespaces[{:?}].path", namespace.typ()),
                        &format!("{}: the VM has its own namespaces", path.display()),
                    );
                }
            }
        }
        if linux.uid_mappings().is_some() || linux.gid_mappings().is_some() {
            note("linux.uidMappings/gidMappings", "ids are the guest's own");
        }
        if linux.devices().is_some() {
            note("linux.devices", "the guest has only its own devices");
        }
        if linux.mount_label().is_some() {
            note("linux.mountLabel", "no host LSM applies inside the VM");
        }
        if linux.intel_rdt().is_some() {
            note("linux.intelRdt", "no host resource control inside the VM");
        }
        if linux.personality().is_some() {
            note("linux.personality", "the guest is x86_64 only");
        }
    }
    ignored
}

/// The hooks of one kind, in order (none when the spec has none).
pub fn hooks(spec: &Spec, kind: HookKind) -> Vec<Hook> {
    let Some(hooks) = spec.hooks() else {
        return Vec::new();
    };
    #[allow(deprecated)]
    let list = match kind {
        HookKind::Prestart => hooks.prestart(),
        HookKind::CreateRuntime => hooks.create_runtime(),
        HookKind::CreateContainer => hooks.create_container(),
        HookKind::StartContainer => hooks.start_container(),
        HookKind::Poststart => hooks.poststart(),
        HookKind::Poststop => hooks.poststop(),
    };
    list.clone().unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PODMAN_LIKE: &str = r#"{
      "ociVersion": "1.0.2-dev",
      "process": {"user": {"uid": 0, "gid": 0, "umask": 18}, "args": ["sleep", "100"],
        "env": ["PATH=/bin"], "cwd": "/",
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 20000, "soft": 20000}]},
      "root": {"path": "/var/lib/containers/storage/overlay/x/merged"},
      "hostname": "h",
      "annotations": {"io.container.manager": "libpod"},
      "hooks": {"createRuntime": [{"path": "/bin/true", "timeout": 5}],
                "poststop": [{"path": "/bin/echo", "args": ["echo", "x"]}]},
      "linux": {
        "resources": {"devices": [{"allow": false, "access": "rwm"}], "pids": {"limit": 2048},
                      "memory": {"limit": 268435456}},
        "cgroupsPath": "/libpod_parent/libpod-x",
        "namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}],
        "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38}
      }
    }"#;

    #[test]
    fn podman_spec_fields() {
        let spec = parse(PODMAN_LIKE.as_bytes()).unwrap();
        assert_eq!(memory_mib(&spec), Some(256));
        let ignored = ignored_fields(&spec);
        for field in [
            "linux.cgroupsPath",
            "linux.seccomp",
            "linux.resources.devices",
            "/proc/1/ns/net",
        ] {
            assert!(
                ignored.iter().any(|line| line.contains(field)),
                "{field} not in {ignored:?}"
            );
        }
        assert_eq!(hooks(&spec, HookKind::CreateRuntime).len(), 1);
        assert_eq!(
            hooks(&spec, HookKind::Poststop)[0].path(),
            Path::new("/bin/echo")
        );
        assert!(hooks(&spec, HookKind::Prestart).is_empty());
    }

    #[test]
    fn memory_limits() {
        let with = |limit: &str| {
            let text = format!(
                r#"{{"ociVersion": "1.0.2", "process": {{"args": ["x"], "cwd": "/"}},
                "linux": {{"resources": {{"memory": {{"limit": {limit}}}}}}}}}"#
            );
            memory_mib(&parse(text.as_bytes()).unwrap())
        };
        assert_eq!(with("1048577"), Some(2.max(MIN_GUEST_MIB)));
        assert_eq!(with("536870912"), Some(512));
        assert_eq!(with("-1"), None);
        assert_eq!(with("1073741825"), Some(1025));
    }

    #[test]
    fn a_spec_without_process_is_refused() {
        let error = parse(br#"{"ociVersion": "1.0.2"}"#).unwrap_err();
        assert!(error.contains("process"), "{error}");
    }

    #[test]
    fn cpu_quota_becomes_a_vcpu_count() {
        let spec = |cpu: &str| format!(r#"{{"linux":{{"resources":{{"cpu":{cpu}}}}}}}"#);
        assert_eq!(
            cpus_for_quota(spec(r#"{"quota":200000,"period":100000}"#).as_bytes()),
            Some(2)
        );
        assert_eq!(
            cpus_for_quota(spec(r#"{"quota":150000}"#).as_bytes()),
            Some(2)
        );
        assert_eq!(
            cpus_for_quota(spec(r#"{"quota":50000,"period":100000}"#).as_bytes()),
            Some(1)
        );
        assert_eq!(cpus_for_quota(spec(r#"{"quota":-1}"#).as_bytes()), None);
        assert_eq!(cpus_for_quota(spec(r#"{"shares":1024}"#).as_bytes()), None);
        assert_eq!(cpus_for_quota(b"{}"), None);
    }
}
