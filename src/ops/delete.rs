//! Deleting a session: its catalogue rows, then its folder under the data directory (and only that
//! folder: the checked id cannot name another), and its objects when an object store holds them.

use serde::Serialize;
use session::SessionId;

use crate::catalogue::{Catalogue, CatalogueError};
use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error("removing {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::storage::StorageError),
}

impl DeleteError {
    pub fn kind(&self) -> super::ErrorKind {
        match self {
            DeleteError::Catalogue(e) => e.kind(),
            DeleteError::Folder { .. } | DeleteError::Store(_) => super::ErrorKind::Internal,
        }
    }
}

/// What a delete removed.
#[derive(Clone, Debug, Serialize)]
pub struct DeleteReport {
    pub id: SessionId,
    /// Whether the session had a folder of outputs.
    pub removed_folder: bool,
    /// The session's objects removed from the object store (none without one).
    pub removed_objects: usize,
}

/// Deletes an imported session; an unknown id is an error and removes nothing.
pub async fn delete(
    config: &Config,
    catalogue: &Catalogue,
    id: &SessionId,
) -> Result<DeleteReport, DeleteError> {
    catalogue.delete(id).await?;
    let dir = config.session_dir(id);
    let removed_folder = match std::fs::symlink_metadata(&dir) {
        Ok(meta) if meta.is_dir() => {
            std::fs::remove_dir_all(&dir).map_err(|source| DeleteError::Folder {
                path: dir.display().to_string(),
                source,
            })?;
            true
        }
        Ok(_) => {
            std::fs::remove_file(&dir).map_err(|source| DeleteError::Folder {
                path: dir.display().to_string(),
                source,
            })?;
            false
        }
        Err(_) => false,
    };
    let removed_objects = match &config.storage {
        Some(settings) => {
            crate::storage::ObjectStorage::open(settings)?
                .delete_prefix(&format!("sessions/{id}/"))
                .await?
        }
        None => 0,
    };
    Ok(DeleteReport {
        id: id.clone(),
        removed_folder,
        removed_objects,
    })
}
