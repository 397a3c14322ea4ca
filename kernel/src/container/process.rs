//! What the container's init is started with, and how `process.args[0]` becomes a file
//! (DESIGN "Mount namespace" rule 6).
//!
//! Sits beside `plan` (which carries a [`ProcessPlan`]); [`resolve_executable`] is pure: the
//! kernel passes a closure that looks paths up in the finished namespace.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use super::error::ResolveError;
use super::path::join;
use super::spec::{DEFAULT_UMASK, Process};

/// The init's identity and environment, from `process`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessPlan {
    /// Never empty; `args[0]` is what [`resolve_executable`] looks up.
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// Absolute, normalised; the builder creates it when missing.
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: u32,
    pub terminal: bool,
    /// `process.consoleSize` (rows, columns), with `terminal` only.
    pub console_size: Option<(u16, u16)>,
    /// `process.rlimits`: applied to the init, inherited by everything it starts.
    pub rlimits: Vec<crate::container::spec::Rlimit>,
    /// `linux.resources.pids.limit`: processes at most, for the whole container.
    pub pids_limit: Option<u64>,
    /// `process.capabilities`, or every set empty when the spec has none: what runc
    /// gives then (it clears all five sets), so a spec is never more privileged than it
    /// says. Docker, podman and containerd always write the member.
    pub capabilities: crate::container::spec::CapabilitySets,
    pub no_new_privileges: bool,
}

impl ProcessPlan {
    pub fn from_spec(process: &Process, pids_limit: Option<u64>) -> ProcessPlan {
        ProcessPlan {
            args: process.args.clone(),
            env: process.env.clone(),
            cwd: process.cwd.clone(),
            uid: process.user.uid,
            gid: process.user.gid,
            additional_gids: process.user.additional_gids.clone(),
            umask: process.user.umask.unwrap_or(DEFAULT_UMASK),
            terminal: process.terminal,
            console_size: process.console_size.map(|size| (size.height, size.width)),
            rlimits: process.rlimits.clone(),
            pids_limit,
            capabilities: process.capabilities.unwrap_or_default(),
            no_new_privileges: process.no_new_privileges,
        }
    }

    /// [`resolve_executable`] for this process's `args[0]`, `cwd` and `env`.
    pub fn resolve(
        &self,
        exists: impl Fn(&str) -> Option<FileKind>,
    ) -> Result<String, ResolveError> {
        resolve_executable(&self.args[0], &self.cwd, &self.env, exists)
    }
}

/// What a lookup found at a path (after following symlinks, as execve does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    /// A regular file or anything else execve may try; whether it can run is the caller's
    /// to find out (126 if not).
    NotDirectory,
}

/// The file `args0` names, glibc `execvpe`'s way: an absolute name as is; a name with a `/`
/// joined to `cwd`; a bare name searched in `PATH` from `env` (the first `PATH=` entry),
/// where an empty element means `cwd` and a relative one is taken from `cwd`. A directory
/// found on the way is remembered and reported only if nothing better turns up, as
/// `execvpe` does with EACCES.
pub fn resolve_executable(
    args0: &str,
    cwd: &str,
    env: &[String],
    exists: impl Fn(&str) -> Option<FileKind>,
) -> Result<String, ResolveError> {
    let candidates: Vec<String> = if args0.starts_with('/') {
        Vec::from([args0.to_owned()])
    } else if args0.contains('/') {
        Vec::from([join(cwd, args0)])
    } else {
        let search = env.iter().find_map(|entry| entry.strip_prefix("PATH="));
        let search = search.ok_or_else(|| ResolveError::NoPath {
            name: args0.to_owned(),
        })?;
        search
            .split(':')
            .map(|dir| match dir {
                "" => cwd.to_owned(),
                absolute if absolute.starts_with('/') => absolute.to_owned(),
                relative => join(cwd, relative),
            })
            .map(|dir| join(&dir, args0))
            .collect()
    };
    let mut directory = None;
    for candidate in candidates {
        match exists(&candidate) {
            Some(FileKind::NotDirectory) => return Ok(candidate),
            Some(FileKind::Directory) => directory = directory.or(Some(candidate)),
            None => {}
        }
    }
    Err(match directory {
        Some(path) => ResolveError::IsDirectory { path },
        None => ResolveError::NotFound {
            name: args0.to_owned(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::error::{EXEC_NOT_EXECUTABLE, EXEC_NOT_FOUND};

    /// A small image: files and directories by absolute path (`.` resolved, as a walk does).
    fn image(path: &str) -> Option<FileKind> {
        match crate::container::path::normalize(path).ok()?.as_str() {
            "/bin/sh" | "/usr/bin/env" | "/work/tool" | "/work/bin/run" | "/work/local"
            | "/sbin/init" => Some(FileKind::NotDirectory),
            "/usr/bin/sh" | "/bin/lib" | "/usr/bin/lib" | "/opt" | "/work/dir" => {
                Some(FileKind::Directory)
            }
            _ => None,
        }
    }

    fn env(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|entry| (*entry).to_owned()).collect()
    }

    #[test]
    fn resolution_table() {
        let path = env(&["HOME=/root", "PATH=/usr/bin:/bin", "PATH=/nowhere"]);
        // args[0], cwd, env, and what it resolves to.
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a [String],
            Result<&'a str, ResolveError>,
        );
        let cases: &[Case] = &[
            ("/sbin/init", "/", &path, Ok("/sbin/init")),
            ("/sbin/init", "/", &[], Ok("/sbin/init")),
            (
                "/missing",
                "/",
                &path,
                Err(ResolveError::NotFound {
                    name: "/missing".into(),
                }),
            ),
            (
                "/opt",
                "/",
                &path,
                Err(ResolveError::IsDirectory {
                    path: "/opt".into(),
                }),
            ),
            ("./tool", "/work", &[], Ok("/work/./tool")),
            ("bin/run", "/work", &[], Ok("/work/bin/run")),
            (
                "bin/run",
                "/",
                &[],
                Err(ResolveError::NotFound {
                    name: "bin/run".into(),
                }),
            ),
            // First PATH= wins; a directory earlier in PATH does not hide a file later.
            ("sh", "/", &path, Ok("/bin/sh")),
            ("env", "/", &path, Ok("/usr/bin/env")),
            (
                "lib",
                "/",
                &path,
                Err(ResolveError::IsDirectory {
                    path: "/usr/bin/lib".into(),
                }),
            ),
            (
                "nope",
                "/",
                &path,
                Err(ResolveError::NotFound {
                    name: "nope".into(),
                }),
            ),
            (
                "sh",
                "/",
                &env(&["HOME=/"]),
                Err(ResolveError::NoPath { name: "sh".into() }),
            ),
            // Empty element is cwd; relative elements are taken from cwd.
            ("local", "/work", &env(&["PATH=/bin:"]), Ok("/work/local")),
            ("run", "/work", &env(&["PATH=bin"]), Ok("/work/bin/run")),
            (
                "dir",
                "/work",
                &env(&["PATH="]),
                Err(ResolveError::IsDirectory {
                    path: "/work/dir".into(),
                }),
            ),
        ];
        for (args0, cwd, env, expected) in cases {
            let resolved = resolve_executable(args0, cwd, env, image);
            assert_eq!(
                resolved.as_deref().map_err(Clone::clone),
                expected.clone(),
                "{args0} in {cwd} with {env:?}"
            );
        }
    }

    #[test]
    fn statuses_and_messages() {
        let not_found = ResolveError::NotFound {
            name: "nope".into(),
        };
        assert_eq!(not_found.exit_status(), EXEC_NOT_FOUND);
        let no_path = ResolveError::NoPath { name: "sh".into() };
        assert_eq!(no_path.exit_status(), EXEC_NOT_FOUND);
        assert!(
            no_path.to_string().starts_with("process.env: "),
            "{no_path}"
        );
        assert_eq!(
            ResolveError::IsDirectory {
                path: "/opt".into()
            }
            .exit_status(),
            EXEC_NOT_EXECUTABLE
        );
    }
}
