//! Why a bundle cannot be run: each message names the spec field or the file at fault.

use std::io;
use std::path::PathBuf;

use kernel::container::{PlanError, SpecError};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BundleError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    /// The guest's own checks (`kernel::container::Spec::parse`), run on the host.
    #[error("{config}: {error}")]
    Spec { config: PathBuf, error: SpecError },
    #[error("{config}: {error}")]
    Plan { config: PathBuf, error: PlanError },
    #[error("root.path: {path} is not a directory")]
    RootNotDirectory { path: PathBuf },
    #[error("mounts[{index}].source: {path} does not exist")]
    SourceMissing { index: usize, path: PathBuf },
    #[error("mounts[{index}].source: {path} is neither a directory nor a regular file")]
    SourceNotFileOrDirectory { index: usize, path: PathBuf },
    #[error("mounts[{index}].source: the file name of {path} is not UTF-8")]
    SourceNameNotUtf8 { index: usize, path: PathBuf },
}
