//! Importing a session document: the one validated path for the CLI and the API. Everything is
//! checked before anything is written, and a refused import leaves the catalogue and the disk as
//! they were.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use session::{DocumentError, FloorEvent, Format, Problem, Session, SessionId};

use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::media::{resolve, Location};

/// Where a document's file sources may point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaPolicy {
    /// Anywhere on this machine (a document the operator imports from the command line).
    Anywhere,
    /// Only inside the data directory (a document that came over the network).
    InsideHome,
}

/// A session document to import.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    /// The document's text.
    pub text: String,
    pub format: Format,
    /// The folder relative file sources are resolved against.
    pub base_dir: PathBuf,
    /// Floor events sent beside the document (the conference system's export).
    pub floor_events: Vec<FloorEvent>,
    /// Replace a session already imported with the same id.
    pub replace: bool,
    pub media: MediaPolicy,
}

/// What an import did.
#[derive(Clone, Debug, Serialize)]
pub struct ImportReport {
    pub id: SessionId,
    pub persons: usize,
    pub agenda_items: usize,
    pub floor_events: usize,
    pub replaced: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The document is not one: bad syntax, a field of the wrong type, or problems found by
    /// validation (each with its field path).
    #[error("not a valid session document")]
    Document(#[from] DocumentError),
    #[error(transparent)]
    Catalogue(#[from] crate::catalogue::CatalogueError),
    #[error("creating the session's folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
}

impl ImportError {
    pub fn kind(&self) -> super::ErrorKind {
        match self {
            ImportError::Document(e) => e.kind(),
            ImportError::Catalogue(e) => e.kind(),
            ImportError::Folder { .. } => super::ErrorKind::Internal,
        }
    }

    /// Each problem with its field path, for a caller that shows them one by one.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            ImportError::Document(DocumentError::Invalid(problems)) => problems.clone(),
            ImportError::Document(DocumentError::Field { path, reason }) => vec![Problem {
                path: path.clone(),
                reason: reason.clone(),
            }],
            _ => Vec::new(),
        }
    }
}

/// Parses, merges and validates a document: every problem (including missing media files, and
/// for a network document files outside the data directory) is reported at once.
pub fn check(config: &Config, request: &ImportRequest) -> Result<Session, DocumentError> {
    let mut session: Session = match request.format {
        Format::Json => session::from_json(&request.text)?,
        Format::Toml => session::doc::from_toml(&request.text)?,
    };
    session
        .floor_events
        .extend(request.floor_events.iter().cloned());
    session.floor_events.sort_by_key(|e| e.at);
    let mut problems = session.validate();
    if request.media == MediaPolicy::InsideHome {
        problems.extend(outside_home(&session, &config.home));
    }
    if problems.is_empty() {
        problems.extend(crate::media::missing_media(&session, &request.base_dir));
    }
    if problems.is_empty() {
        Ok(session)
    } else {
        Err(DocumentError::Invalid(problems))
    }
}

/// File sources that would read outside the data directory: absolute paths, `file://` uris and
/// relative paths that climb out with `..`.
fn outside_home(session: &Session, home: &Path) -> Vec<Problem> {
    session
        .sources
        .iter()
        .enumerate()
        .filter(|(_, source)| match resolve(home, &source.uri) {
            Location::Network(_) => false,
            Location::File(_) => {
                session::uri_scheme(&source.uri).is_some()
                    || !Path::new(&source.uri)
                        .components()
                        .all(|c| matches!(c, Component::Normal(_)))
            }
        })
        .map(|(i, source)| Problem {
            path: format!("sources[{i}].uri"),
            reason: format!(
                "{:?} is outside the data directory (a document sent over the network may name only files under it, by a relative path)",
                source.uri
            ),
        })
        .collect()
}

/// Imports a document into the catalogue and makes the session's folder; nothing stays behind
/// when any step fails.
pub async fn import(
    config: &Config,
    catalogue: &Catalogue,
    request: &ImportRequest,
) -> Result<ImportReport, ImportError> {
    let session = check(config, request)?;
    let dir = config.session_dir(&session.id);
    let made_dir = !dir.exists();
    std::fs::create_dir_all(&dir).map_err(|source| ImportError::Folder {
        path: dir.display().to_string(),
        source,
    })?;
    let replaced = match catalogue
        .import(&session, &request.base_dir, request.replace)
        .await
    {
        Ok(replaced) => replaced,
        Err(e) => {
            if made_dir {
                let _ = std::fs::remove_dir(&dir);
            }
            return Err(e.into());
        }
    };
    Ok(ImportReport {
        persons: session.roster.len(),
        agenda_items: session.agenda.len(),
        floor_events: session.floor_events.len(),
        id: session.id,
        replaced,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(home: &Path) -> Config {
        Config::resolve(Some(home.to_owned()), Some("sqlite::memory:".into())).unwrap()
    }

    fn request(text: &str) -> ImportRequest {
        ImportRequest {
            text: text.to_owned(),
            format: Format::Json,
            base_dir: PathBuf::from("/nonexistent"),
            floor_events: Vec::new(),
            replace: false,
            media: MediaPolicy::InsideHome,
        }
    }

    const HEAD: &str =
        r#""body":"Consiglio","title":"Seduta","start":"2024-03-15T17:00:00Z","mode":"in_person""#;

    #[test]
    fn a_network_document_may_not_read_outside_the_data_directory() {
        let home = Path::new("/data/aula");
        for uri in [
            "/etc/passwd",
            "../secret.mp4",
            "file:///etc/passwd",
            "a/../../b.mp4",
        ] {
            let text = format!(
                r#"{{"id":"s1",{HEAD},"sources":[{{"id":"cam","kind":"camera","uri":"{uri}"}}]}}"#
            );
            let err = check(&config(home), &request(&text)).unwrap_err();
            assert!(
                err.to_string().contains("sources[0].uri") && err.to_string().contains("outside"),
                "{uri}: {err}"
            );
        }
    }

    #[test]
    fn a_hostile_id_is_refused_with_its_field() {
        for id in [
            "../../tmp/x",
            "..",
            ".",
            "",
            "/abs",
            "a/b",
            "a\\nb",
            "<script>",
        ] {
            let text = format!(r#"{{"id":"{id}",{HEAD}}}"#);
            let err = check(&config(Path::new("/data")), &request(&text)).unwrap_err();
            assert!(err.to_string().starts_with("id: "), "{id:?}: {err}");
        }
    }
}
