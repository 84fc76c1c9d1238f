//! Evidence sent after the session was imported or during it: floor events from the conference
//! system and agenda markers from the clerk's console, checked against the session before they
//! are stored.

use serde::Serialize;
use session::{AgendaMarker, FloorEvent, Problem, Session, SessionId};

use super::ErrorKind;
use crate::catalogue::{Catalogue, CatalogueError};

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// Events or markers that name nobody in the roster, a seat nobody holds, an item not on the
    /// agenda or a time before the session's start, each by its index in the list.
    #[error("evidence refused: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Refused { problems: Vec<Problem> },
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
}

impl EvidenceError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            EvidenceError::Refused { .. } => ErrorKind::BadInput,
            EvidenceError::Catalogue(e) => e.kind(),
        }
    }

    /// The problems of refused evidence, with their paths (`floor_events[2].seat`).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            EvidenceError::Refused { problems } => problems.clone(),
            EvidenceError::Catalogue(_) => Vec::new(),
        }
    }
}

/// What to do with evidence that does not fit the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checks {
    /// Refuse it all (what arrives over the network).
    Refuse,
    /// Store it with a warning for each problem: the alignment skips what does not fit (the
    /// operator's own export of the conference system, read as it is).
    Warn,
}

/// How many of each the session now has, and the problems let through.
#[derive(Debug, Serialize)]
pub struct EvidenceReport {
    pub floor_events: usize,
    pub agenda_markers: usize,
    pub warnings: Vec<String>,
}

/// Checks the evidence against the session, then adds it to the session's.
pub async fn add(
    catalogue: &Catalogue,
    id: &SessionId,
    events: &[FloorEvent],
    markers: &[AgendaMarker],
    checks: Checks,
) -> Result<EvidenceReport, EvidenceError> {
    let session = catalogue.get(id).await?.session;
    let problems = check(&session, events, markers);
    if checks == Checks::Refuse && !problems.is_empty() {
        return Err(EvidenceError::Refused { problems });
    }
    let (floor_events, agenda_markers) = catalogue.add_evidence(id, events, markers).await?;
    Ok(EvidenceReport {
        floor_events,
        agenda_markers,
        warnings: problems.iter().map(ToString::to_string).collect(),
    })
}

/// The problems of `events` and `markers` as the session's own evidence would have them.
fn check(session: &Session, events: &[FloorEvent], markers: &[AgendaMarker]) -> Vec<Problem> {
    let mut probe = session.clone();
    probe.floor_events = events.to_vec();
    probe.agenda_markers = markers.to_vec();
    probe
        .validate()
        .into_iter()
        .filter(|p| p.path.starts_with("floor_events") || p.path.starts_with("agenda_markers"))
        .collect()
}
