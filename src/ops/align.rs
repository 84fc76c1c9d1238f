//! Aligning a session: who spoke when and on which agenda item, from the transcript and every
//! piece of evidence (floor events, remote streams' and microphone channels' voice activity, the
//! clerk's markers or the chair's announcements), with the corrections in effect applied again.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use session::{Session, SessionId, SourceKind};
use transcriber::activity::{self, ActivityError};
use transcriber::align::{self, Activity, EvidenceKind};
use transcriber::audio::{AudioDecoder, Selection};
use transcriber::vad::VadSettings;

use crate::cancel::{Cancel, Cancelled};
use crate::catalogue::{Catalogue, CatalogueError};
use crate::config::Config;
use crate::media;

/// What aligning a session did.
#[derive(Debug, Serialize)]
pub struct AlignReport {
    pub session: String,
    pub words: usize,
    /// Share of word time with a named speaker, in percent.
    pub attributed_percent: f32,
    pub items: usize,
    pub interventions: usize,
    pub agenda_source: align::AgendaSource,
    pub corrections_applied: usize,
    pub warnings: Vec<String>,
}

/// Aligns a session's transcript with its evidence, re-applies the corrections in effect, stores
/// the timeline and rewrites the transcript files from it.
pub async fn align(
    config: &Config,
    catalogue: &Catalogue,
    id: &SessionId,
    cancel: &Cancel,
) -> Result<AlignReport> {
    let stored = catalogue.get(id).await?;
    let transcript = catalogue
        .transcript(id)
        .await?
        .ok_or_else(|| CatalogueError::NoTranscript(id.to_string()))?;
    let session = stored.session.clone();
    let base_dir = stored.base_dir.clone();
    let recordings_dir = config.recordings_dir(id);
    let worker_cancel = cancel.clone();
    let (activity, mut warnings) = tokio::task::spawn_blocking(move || {
        gather_activity(&session, &base_dir, &recordings_dir, &worker_cancel)
    })
    .await??;
    let session = stored.session;
    let alignment = align::align(
        &session,
        &transcript,
        &activity,
        &align::Settings::default(),
    );
    warnings.extend(alignment.warnings);
    let revisions = catalogue.revisions(id).await?;
    let (timeline, applied) =
        super::correct::replay(&alignment.timeline, &revisions, &session, &mut warnings);
    catalogue
        .put_timeline(
            id,
            &alignment.timeline,
            &timeline,
            alignment.agenda_source,
            &warnings,
        )
        .await?;
    super::outputs::write_timeline_files(config, id, &session, &transcript, &timeline)?;
    Ok(AlignReport {
        session: id.to_string(),
        words: timeline.words.len(),
        attributed_percent: (timeline.attributed_share() * 1000.0).round() / 10.0,
        items: timeline.items.len(),
        interventions: timeline.interventions.len(),
        agenda_source: alignment.agenda_source,
        corrections_applied: applied,
        warnings,
    })
}

/// The voice activity of every remote stream, and which microphone channel of the room audio
/// dominates when, from their files or `aula record`'s recordings of them. A source that cannot be
/// read is a warning, not a failure: the alignment goes on without it.
fn gather_activity(
    session: &Session,
    base_dir: &Path,
    recordings_dir: &Path,
    cancel: &Cancel,
) -> Result<(Vec<Activity>, Vec<String>)> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let cancelled = || cancel.is_cancelled();
    for source in &session.sources {
        let file = match media::source_media(base_dir, recordings_dir, source) {
            Ok(file) => file,
            Err(uri) => {
                if source.kind == SourceKind::Remote || !source.channel_seats.is_empty() {
                    warnings.push(format!(
                        "source {}: {uri} is a live stream not recorded; its voice activity needs its recording (aula record)",
                        source.id
                    ));
                }
                continue;
            }
        };
        let open = |channel| {
            AudioDecoder::open_file(&file.path, Selection { track: 0, channel })
                .map_err(ActivityError::from)
        };
        let result = match (source.kind, &source.person) {
            (SourceKind::Remote, Some(person)) => open(None)
                .and_then(|mut d| {
                    activity::speech_spans(&mut d, &VadSettings::default(), cancelled)
                })
                .map(|spans| {
                    vec![Activity {
                        source: source.id.clone(),
                        person: person.clone(),
                        kind: EvidenceKind::Remote,
                        spans,
                    }]
                }),
            (SourceKind::RoomAudio, _) if !source.channel_seats.is_empty() => {
                channel_activity(session, source, &open, &cancelled, &mut warnings)
            }
            _ => continue,
        };
        match result {
            Ok(mut found) => {
                for a in &mut found {
                    for span in &mut a.spans {
                        *span = file.session_span(span.0, span.1);
                    }
                    tracing::info!(
                        "source {}: {} speech spans for {}",
                        a.source,
                        a.spans.len(),
                        a.person
                    );
                }
                out.extend(found);
            }
            Err(ActivityError::Cancelled) => return Err(Cancelled.into()),
            Err(ActivityError::Audio(e)) => warnings.push(format!(
                "source {}: no voice activity ({e}); its words rely on other evidence",
                source.id
            )),
        }
    }
    Ok((out, warnings))
}

/// Which seat's microphone dominates when, from the levels of each channel of a room recording.
fn channel_activity(
    session: &Session,
    source: &session::Source,
    open: &dyn Fn(Option<u32>) -> Result<AudioDecoder, ActivityError>,
    cancelled: &dyn Fn() -> bool,
    warnings: &mut Vec<String>,
) -> Result<Vec<Activity>, ActivityError> {
    /// How much louder than every other mic the speaker's own mic is.
    const MARGIN_DB: f32 = 10.0;
    let mut levels = Vec::new();
    for channel in 0..source.channel_seats.len() as u32 {
        let mut decoder = open(Some(channel))?;
        levels.push(activity::frame_levels_db(&mut decoder, cancelled)?);
    }
    let mut out = Vec::new();
    for (channel, spans) in activity::dominant_spans(&levels, MARGIN_DB)
        .into_iter()
        .enumerate()
    {
        let seat = source.channel_seats[channel];
        match session.roster.iter().find(|p| p.seat == Some(seat)) {
            Some(p) => out.push(Activity {
                source: format!("{}#{channel}", source.id),
                person: p.id.clone(),
                kind: EvidenceKind::Channel,
                spans,
            }),
            None => warnings.push(format!(
                "source {} channel {channel}: nobody sits at seat {seat}; ignored",
                source.id
            )),
        }
    }
    Ok(out)
}
