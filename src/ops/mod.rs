//! The application layer: the operations both the command line and `aula serve` run, on the
//! catalogue and the configuration, with plain requests in and reports out. Nothing here prints,
//! draws progress or knows about clap or HTTP.

pub mod align;
pub mod clip;
pub mod correct;
pub mod delete;
pub mod evidence;
pub mod import;
pub mod outputs;
pub mod publish;
pub mod record;
pub mod report;
#[cfg(test)]
mod testing;
pub mod transcribe;

use presets::PresetSet;

use crate::catalogue::CatalogueError;
use crate::config::Config;

/// The built-in presets and the user's, from `$AULA_HOME/presets/*.toml`.
pub fn load_presets(config: &Config) -> Result<PresetSet, presets::PresetError> {
    PresetSet::load(&config.presets_dir())
}

/// What kind of failure an error is: the exit code and the HTTP status both come from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's input is wrong (a refused document, an option out of range).
    BadInput,
    /// What the caller named does not exist.
    NotFound,
    /// The request clashes with the state (an id taken, a closed part open already).
    Conflict,
    /// Ctrl-C, SIGTERM or a job's cancel stopped the work.
    Cancelled,
    /// A failure of the system.
    Internal,
}

impl CatalogueError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CatalogueError::NotFound(_) => ErrorKind::NotFound,
            CatalogueError::AlreadyExists(_)
            | CatalogueError::Conflict(_)
            | CatalogueError::ClosedPart(_) => ErrorKind::Conflict,
            e if e.is_bad_input() => ErrorKind::BadInput,
            _ => ErrorKind::Internal,
        }
    }
}

impl import::ImportError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            import::ImportError::Document(_) => ErrorKind::BadInput,
            import::ImportError::Catalogue(e) => e.kind(),
            import::ImportError::Folder { .. } => ErrorKind::Internal,
        }
    }
}

impl delete::DeleteError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            delete::DeleteError::Catalogue(e) => e.kind(),
            delete::DeleteError::Folder { .. } => ErrorKind::Internal,
        }
    }
}

/// The kind of the first cause in `err`'s chain that has one; `Internal` when none does.
pub fn kind_of(err: &anyhow::Error) -> ErrorKind {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<CatalogueError>() {
            return e.kind();
        }
        if let Some(e) = cause.downcast_ref::<import::ImportError>() {
            return e.kind();
        }
        if let Some(e) = cause.downcast_ref::<delete::DeleteError>() {
            return e.kind();
        }
        if let Some(e) = cause.downcast_ref::<evidence::EvidenceError>() {
            return e.kind();
        }
        if cause.is::<crate::cancel::Cancelled>() {
            return ErrorKind::Cancelled;
        }
        if crate::is_bad_input(cause) {
            return ErrorKind::BadInput;
        }
    }
    ErrorKind::Internal
}
