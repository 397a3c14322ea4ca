//! Container state under `--root`: one directory per container holding `state.json` (our
//! record, replaced atomically so a reader never sees half of it), a copy of the spec the
//! container was created from (hooks at `start` and `delete` read it), the monitor's socket
//! and the logs.
//!
//! Locking: every command that acts on a container holds `flock` on its directory for the
//! whole check-then-act (exclusive) or read (shared), so two `start`s, or a `kill` racing a
//! `delete`, see each other's result. Only one lock per container is ever taken, so there is
//! no lock order. The monitor writes the record without the lock: its writes follow requests
//! made by a lock holder, or are its last one (stopped), and the rename keeps them whole.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::error::{Context, Result, RuntimeError};

/// Where state lives when `--root` is not given (runc's is `/run/runc`).
pub fn default_root() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/run/sandbox-runtime");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("sandbox-runtime"),
        _ => std::env::temp_dir().join(format!(
            "sandbox-runtime-{}",
            nix::unistd::geteuid().as_raw()
        )),
    }
}

/// runc's rule: `^[\w+-\.]+$`, and not a path element that walks.
pub fn check_id(id: &str) -> Result<()> {
    let fine = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
    if fine {
        Ok(())
    } else {
        Err(RuntimeError::BadId(id.to_owned()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// A process on the host, named by pid and the start time `/proc/PID/stat` gives, so a
/// recycled pid is never taken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HostProcess {
    pub pid: u32,
    pub start_time: u64,
}

impl HostProcess {
    pub fn of(pid: u32) -> Option<Self> {
        Some(HostProcess {
            pid,
            start_time: start_time(pid)?,
        })
    }

    /// Still the same process, and not a zombie.
    pub fn is_alive(&self) -> bool {
        self.pid != 0 && start_time(self.pid) == Some(self.start_time)
    }
}

/// Field 22 of `/proc/PID/stat`, or None when the process is gone or a zombie.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // after[0] is field 3 (state); field 22 is after[19].
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    pub status: Status,
    /// The monitor: the pid `create` wrote to `--pid-file`, whose exit status is the
    /// container's.
    #[serde(default)]
    pub monitor: HostProcess,
    /// QEMU, so `delete` can end it if the monitor could not.
    #[serde(default)]
    pub vmm: HostProcess,
    /// The container's status once it has ended (128+N for a signal).
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl Record {
    /// The status as the world sees it: a record still saying created/running/paused whose
    /// monitor is gone has stopped (killed with SIGKILL, say, before it could write).
    pub fn effective_status(&self) -> Status {
        match self.status {
            Status::Creating | Status::Stopped => self.status,
            _ if self.monitor.is_alive() => self.status,
            _ => Status::Stopped,
        }
    }

    /// The runtime-spec state (`runc state`): pid 0 once stopped, as runc.
    pub fn oci_state(&self) -> serde_json::Value {
        let status = self.effective_status();
        let pid = match status {
            Status::Created | Status::Running | Status::Paused => self.monitor.pid,
            Status::Creating | Status::Stopped => 0,
        };
        let mut state = serde_json::json!({
            "ociVersion": crate::OCI_VERSION,
            "id": self.id,
            "pid": pid,
            "status": status.as_str(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            state["annotations"] = serde_json::json!(self.annotations);
        }
        state
    }
}

/// The state root (`--root`).
#[derive(Debug, Clone)]
pub struct Root {
    pub path: PathBuf,
}

/// One container's directory, locked.
#[derive(Debug)]
pub struct Container {
    pub id: String,
    pub dir: PathBuf,
    _lock: Flock<File>,
}

pub const RECORD: &str = "state.json";
pub const SPEC_COPY: &str = "config.json";
pub const SOCKET: &str = "monitor.sock";
pub const KERNEL_LOG: &str = "kernel.log";
pub const MONITOR_LOG: &str = "monitor.log";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    Shared,
    Exclusive,
}

impl Root {
    pub fn new(path: PathBuf) -> Self {
        Root { path }
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.path.join(id)
    }

    /// Makes the container's directory (refused when it exists) and locks it.
    pub fn create(&self, id: &str) -> Result<Container> {
        check_id(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.path)
            .context(|| format!("creating the state root {}", self.path.display()))?;
        let dir = self.container_dir(id);
        match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {
                return Err(RuntimeError::Exists(id.to_owned()));
            }
            Err(error) => {
                return Err(RuntimeError::io(
                    format!("creating {}", dir.display()),
                    error,
                ));
            }
        }
        self.lock(id, Lock::Exclusive)
    }

    /// Locks an existing container's directory; "does not exist" when it is not there (or
    /// a `delete` removed it while we waited for the lock).
    pub fn lock(&self, id: &str, kind: Lock) -> Result<Container> {
        check_id(id)?;
        let dir = self.container_dir(id);
        let file = match File::open(&dir) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => {
                return Err(RuntimeError::NotExist(id.to_owned()));
            }
            Err(error) => {
                return Err(RuntimeError::io(
                    format!("opening {}", dir.display()),
                    error,
                ));
            }
        };
        let arg = match kind {
            Lock::Shared => FlockArg::LockShared,
            Lock::Exclusive => FlockArg::LockExclusive,
        };
        let lock = Flock::lock(file, arg)
            .map_err(|(_, errno)| RuntimeError::sys(format!("locking {}", dir.display()), errno))?;
        // The directory we locked must still be the one at the path.
        let locked = lock
            .metadata()
            .context(|| format!("stat {}", dir.display()))?;
        match fs::metadata(&dir) {
            Ok(now) if now.ino() == locked.ino() && now.dev() == locked.dev() => {}
            _ => return Err(RuntimeError::NotExist(id.to_owned())),
        }
        Ok(Container {
            id: id.to_owned(),
            dir,
            _lock: lock,
        })
    }

    /// The ids of every container, sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.path) {
            Ok(entries) => entries,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(RuntimeError::io(
                    format!("reading {}", self.path.display()),
                    error,
                ));
            }
        };
        let mut ids: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().join(RECORD).is_file())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

impl Container {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn read(&self) -> Result<Record> {
        read_record(&self.dir)
    }

    pub fn write(&self, record: &Record) -> Result<()> {
        write_record(&self.dir, record)
    }

    /// Removes the directory and everything in it (the lock goes with it).
    pub fn remove(self) -> Result<()> {
        fs::remove_dir_all(&self.dir).context(|| format!("removing {}", self.dir.display()))
    }
}

pub fn read_record(dir: &Path) -> Result<Record> {
    let path = dir.join(RECORD);
    let bytes = fs::read(&path).context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .map_err(|error| RuntimeError::BadState(format!("{}: {error}", path.display())))
}

/// Writes the record beside the old one and renames it over, so readers see either.
pub fn write_record(dir: &Path, record: &Record) -> Result<()> {
    let path = dir.join(RECORD);
    let temporary = dir.join(format!(".{RECORD}.{}", std::process::id()));
    let bytes = serde_json::to_vec(record).expect("a record serializes");
    fs::write(&temporary, bytes).context(|| format!("writing {}", temporary.display()))?;
    fs::rename(&temporary, &path).context(|| format!("renaming to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sandbox-runtime-state-test-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn record(id: &str) -> Record {
        Record {
            id: id.to_owned(),
            bundle: PathBuf::from("/b"),
            rootfs: PathBuf::from("/b/rootfs"),
            created: "2026-12-03T07:00:00Z".to_owned(),
            owner: String::new(),
            status: Status::Created,
            monitor: HostProcess::of(std::process::id()).unwrap(),
            vmm: HostProcess::default(),
            exit_code: None,
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn ids() {
        for good in ["a", "abc-1.2_3+x", "8f2790bb4e2d2f12"] {
            check_id(good).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "é"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn create_twice_is_exists_and_missing_is_not_exist() {
        let root = Root::new(scratch("exists"));
        let first = root.create("c1").unwrap();
        first.write(&record("c1")).unwrap();
        drop(first);
        assert!(matches!(root.create("c1"), Err(RuntimeError::Exists(_))));
        let message = root.lock("nope", Lock::Shared).unwrap_err().to_string();
        assert!(message.contains("does not exist"), "{message}");
        assert_eq!(root.ids().unwrap(), ["c1"]);
        let locked = root.lock("c1", Lock::Exclusive).unwrap();
        assert_eq!(locked.read().unwrap().id, "c1");
        locked.remove().unwrap();
        assert!(root.ids().unwrap().is_empty());
        fs::remove_dir_all(&root.path).unwrap();
    }

    /// A lock holder excludes the others; a waiter that finds the directory deleted under
    /// it reports "does not exist" rather than acting on a dead directory.
    #[test]
    fn waiters_see_a_delete() {
        let root = Root::new(scratch("waiters"));
        let held = root.create("c").unwrap();
        held.write(&record("c")).unwrap();
        let other = root.clone();
        let waiter = std::thread::spawn(move || other.lock("c", Lock::Exclusive).map(|_| ()));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "the lock did not exclude");
        held.remove().unwrap();
        let result = waiter.join().unwrap();
        assert!(
            matches!(result, Err(RuntimeError::NotExist(_))),
            "{result:?}"
        );
        fs::remove_dir_all(&root.path).unwrap();
    }

    #[test]
    fn state_json_is_the_runtime_specs() {
        let mut record = record("c");
        record.annotations.insert("k".into(), "v".into());
        let state = record.oci_state();
        assert_eq!(state["status"], "created");
        assert_eq!(state["pid"], std::process::id());
        assert_eq!(state["annotations"]["k"], "v");
        assert_eq!(state["ociVersion"], crate::OCI_VERSION);
        // A monitor that is gone means stopped, pid 0.
        record.monitor = HostProcess {
            pid: std::process::id(),
            start_time: 1,
        };
        let state = record.oci_state();
        assert_eq!(
            (state["status"].as_str(), state["pid"].as_u64()),
            (Some("stopped"), Some(0))
        );
    }
}
