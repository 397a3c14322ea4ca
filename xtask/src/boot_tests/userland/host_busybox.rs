//! The same busybox applet on the host, over the same files: what the sandbox must print.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::fixtures::{ENV, Fixtures, TREE_IN_GUEST};

pub use crate::setup::BUSYBOX;

/// The output of `busybox ARGS` run on the host. An argument that is an absolute path is
/// a guest path: the host gets the file behind it (`/data/…` in the test tree, anything
/// else in the root filesystem), and those host paths in the output turn back into
/// guest paths.
pub fn expected_output(fixtures: &Fixtures, args: &[&str]) -> Result<String> {
    expected_output_of(BUSYBOX, fixtures, args)
}

/// [`expected_output`] of another static program of the host's (`/bin/bash-static`).
pub fn expected_output_of(program: &str, fixtures: &Fixtures, args: &[&str]) -> Result<String> {
    let host_args: Vec<String> = args
        .iter()
        .map(|arg| match arg.starts_with('/') {
            true => fixtures.host_path(arg).to_string_lossy().into_owned(),
            false => (*arg).to_owned(),
        })
        .collect();
    let mut command = Command::new(program);
    command
        .args(&host_args)
        .env_clear()
        .envs(ENV.iter().filter_map(|pair| pair.split_once('=')))
        .current_dir(Path::new("/"));
    let stdout = host_stdout(command, &format!("{program} {host_args:?}"))?;
    let tree = fixtures.tree.to_string_lossy().into_owned();
    let rootfs = fixtures.rootfs.to_string_lossy().into_owned();
    Ok(stdout.replace(&tree, TREE_IN_GUEST).replace(&rootfs, ""))
}

/// What `command` prints on stdout when run on the host, which must succeed (its status
/// and stderr in the error otherwise): the output a boot test expects of the sandbox.
pub fn host_stdout(mut command: Command, what: &str) -> Result<String> {
    let output = command
        .output()
        .with_context(|| format!("running {what} on the host"))?;
    if !output.status.success() {
        bail!(
            "{what} on the host: {} ({})",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
