//! `aula session align | timeline | fix | history | evidence`: who spoke on which item, the
//! corrections of the presidency's staff with their history, and evidence sent after the fact.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use session::{
    AgendaMarker, FloorEvent, Person, Session, SessionId, SessionMs, SourceKind, Transcript,
};
use transcriber::activity::{self, ActivityError};
use transcriber::align::{self, Activity, Correction, EvidenceKind, Timeline};
use transcriber::audio::{AudioDecoder, Selection};
use transcriber::vad::VadSettings;

use super::{open_catalogue, print_json};
use crate::cancel::{Cancel, Cancelled};
use crate::catalogue::{Catalogue, NewRevision, Revision};
use crate::config::Config;
use crate::fsutil::write_atomic;
use crate::media;
use crate::BadInput;

/// A correction, as typed on the command line.
#[derive(Debug, Subcommand)]
pub enum FixCommand {
    /// The words starting between --from and --to were said by --person (a roster id, or `unknown`).
    Reassign {
        #[arg(long, value_name = "TIME")]
        from: SessionMs,
        #[arg(long, value_name = "TIME")]
        to: SessionMs,
        #[arg(long)]
        person: String,
    },
    /// Agenda item N starts at --start (the span of N nearest that time moves).
    MoveItem {
        item: u32,
        #[arg(long, value_name = "TIME")]
        start: SessionMs,
    },
    /// The words starting between --from and --to read --text.
    ReplaceText {
        #[arg(long, value_name = "TIME")]
        from: SessionMs,
        #[arg(long, value_name = "TIME")]
        to: SessionMs,
        #[arg(long)]
        text: String,
    },
    /// Reverts the latest correction still in effect.
    Undo,
}

/// What `session align` reports.
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

/// A revision's request: a correction, or the revert of an earlier revision.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Request {
    Correction(Correction),
    Revert { op: Revert, revision: u64 },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Revert {
    Revert,
}

/// Aligns a session's transcript with its evidence, re-applies the corrections in effect, stores
/// the timeline and rewrites the transcript files from it.
pub async fn align_session(
    config: &Config,
    id: &SessionId,
    cancel: &Cancel,
) -> Result<AlignReport> {
    let catalogue = open_catalogue(config).await?;
    let stored = catalogue.get(id).await?;
    let transcript = catalogue
        .transcript(id)
        .await?
        .ok_or_else(|| crate::catalogue::CatalogueError::NoTranscript(id.to_string()))?;
    let session = stored.session.clone();
    let base_dir = stored.base_dir.clone();
    let recordings_dir = config.session_dir(id).join("recordings");
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
    let (timeline, applied) = replay(&alignment.timeline, &revisions, &session, &mut warnings);
    catalogue
        .put_timeline(
            id,
            &alignment.timeline,
            &timeline,
            alignment.agenda_source,
            &warnings,
        )
        .await?;
    write_outputs(config, id, &session, &transcript, &timeline)?;
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

/// The corrections in effect (not reverted), in order, applied to `base`; those that no longer fit
/// (after a new transcription, say) become warnings.
fn replay(
    base: &Timeline,
    revisions: &[Revision],
    session: &Session,
    warnings: &mut Vec<String>,
) -> (Timeline, usize) {
    let mut timeline = base.clone();
    let mut applied = 0;
    for revision in revisions.iter().filter(|r| r.reverted_by.is_none()) {
        let Ok(Request::Correction(correction)) =
            serde_json::from_value::<Request>(revision.correction.clone())
        else {
            continue;
        };
        match correction
            .edit(&timeline, &session.roster)
            .and_then(|edit| align::apply(&mut timeline, &edit, &session.roster))
        {
            Ok(_) => applied += 1,
            Err(e) => warnings.push(format!(
                "revision {} no longer applies: {e}",
                revision.number
            )),
        }
    }
    (timeline, applied)
}

/// `transcripts/timeline.json` and the transcript files, from the corrected timeline.
fn write_outputs(
    config: &Config,
    id: &SessionId,
    session: &Session,
    transcript: &Transcript,
    timeline: &Timeline,
) -> Result<()> {
    let dir = config.session_dir(id).join("transcripts");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_atomic(
        &dir.join("timeline.json"),
        session::to_json(timeline).as_bytes(),
    )?;
    super::transcribe::write_transcript_files(
        &dir,
        &timeline.transcript(transcript),
        &session.roster,
    )
}

pub async fn timeline(config: &Config, id: &SessionId, json: bool) -> Result<()> {
    let catalogue = open_catalogue(config).await?;
    let session = catalogue.get(id).await?.session;
    let stored = catalogue.timeline(id).await?;
    if json {
        return print_json(&stored.timeline);
    }
    let t = &stored.timeline;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} - {} ({} words, {:.1}% of word time attributed; items from the {})",
        session.id,
        session.title,
        t.words.len(),
        t.attributed_share() * 100.0,
        match stored.agenda_source {
            align::AgendaSource::Markers => "clerk's markers",
            align::AgendaSource::Transcript => "chair's announcements",
        }
    )?;
    writeln!(out, "items:")?;
    for s in &t.items {
        writeln!(
            out,
            "  {:>3}  {} - {}  ({:.2})  {}",
            s.number, s.start_ms, s.end_ms, s.confidence, s.title
        )?;
    }
    writeln!(out, "interventions:")?;
    for i in &t.interventions {
        let item = i.item.map_or_else(|| "-".to_owned(), |n| n.to_string());
        writeln!(
            out,
            "  {} - {}  {:<24} {:>3}  {}",
            i.start_ms,
            i.end_ms,
            name(&session.roster, i.person.as_deref()),
            item,
            shorten(&i.text, 60)
        )?;
    }
    for w in &stored.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}

fn name<'a>(roster: &'a [Person], person: Option<&'a str>) -> &'a str {
    match person {
        None => "(unknown)",
        Some(id) => roster
            .iter()
            .find(|p| p.id == id)
            .map_or(id, |p| p.name.as_str()),
    }
}

fn shorten(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_owned()
    } else {
        text.chars().take(chars - 1).collect::<String>() + "…"
    }
}

impl FixCommand {
    /// The correction asked for; none for an undo.
    fn correction(self) -> Option<Correction> {
        match self {
            FixCommand::Reassign { from, to, person } => Some(Correction::Reassign {
                start_ms: from,
                end_ms: to,
                person: (person != "unknown").then_some(person),
            }),
            FixCommand::MoveItem { item, start } => Some(Correction::MoveBoundary {
                item,
                start_ms: start,
            }),
            FixCommand::ReplaceText { from, to, text } => Some(Correction::ReplaceText {
                start_ms: from,
                end_ms: to,
                text,
            }),
            FixCommand::Undo => None,
        }
    }
}

pub async fn fix(
    config: &Config,
    id: &SessionId,
    command: FixCommand,
    author: String,
    json: bool,
) -> Result<()> {
    let (revision, description) = apply_fix(config, id, command, author).await?;
    if json {
        return print_json(&revision);
    }
    println!("revision {}: {description}", revision["revision"]);
    Ok(())
}

/// Applies a correction and stores it as a revision; returns the revision (number, correction,
/// before, after) and its description.
pub async fn apply_fix(
    config: &Config,
    id: &SessionId,
    command: FixCommand,
    author: String,
) -> Result<(serde_json::Value, String)> {
    let catalogue = open_catalogue(config).await?;
    let stored_session = catalogue.get(id).await?;
    let session = &stored_session.session;
    let stored = catalogue.timeline(id).await?;
    let revisions = catalogue.revisions(id).await?;
    let last_seen = revisions.last().map_or(0, |r| r.number);
    let mut timeline = stored.timeline.clone();

    let revision = match command.correction() {
        None => {
            let target = revisions
                .iter()
                .rev()
                .find_map(
                    |r| match serde_json::from_value::<Request>(r.correction.clone()) {
                        Ok(Request::Correction(c)) if r.reverted_by.is_none() => Some((r, c)),
                        _ => None,
                    },
                )
                .ok_or_else(|| BadInput(format!("session {id} has no correction to undo")))?;
            let (target, correction) = target;
            let remaining: Vec<Revision> = revisions
                .iter()
                .filter(|r| r.number != target.number)
                .cloned()
                .collect();
            let mut warnings = Vec::new();
            let (reverted, _) = replay(&stored.base, &remaining, session, &mut warnings);
            // The edit that takes the reverted timeline back is the correction made again.
            let undo = correction.edit(&reverted, &session.roster).map_err(|e| {
                BadInput(format!("revision {} cannot be undone: {e}", target.number))
            })?;
            timeline = reverted;
            NewRevision {
                author,
                correction: serde_json::to_value(Request::Revert {
                    op: Revert::Revert,
                    revision: target.number,
                })?,
                before: target.after.clone(),
                after: target.before.clone(),
                undo,
                reverts: Some(target.number),
            }
        }
        Some(correction) => {
            let edit = correction
                .edit(&timeline, &session.roster)
                .map_err(|e| BadInput(e.to_string()))?;
            let before = edit.region(&timeline);
            let undo = align::apply(&mut timeline, &edit, &session.roster)
                .map_err(|e| BadInput(e.to_string()))?;
            NewRevision {
                author,
                correction: serde_json::to_value(&correction)?,
                before,
                after: undo.region(&timeline),
                undo,
                reverts: None,
            }
        }
    };
    let number = catalogue
        .add_revision(id, last_seen, &revision, &timeline)
        .await?;
    let transcript = catalogue
        .transcript(id)
        .await?
        .ok_or_else(|| crate::catalogue::CatalogueError::NoTranscript(id.to_string()))?;
    write_outputs(config, id, session, &transcript, &timeline)?;
    Ok((
        serde_json::json!({
            "revision": number,
            "correction": revision.correction,
            "before": revision.before,
            "after": revision.after,
        }),
        describe(&revision.correction, &session.roster),
    ))
}

fn describe(correction: &serde_json::Value, roster: &[Person]) -> String {
    match serde_json::from_value::<Request>(correction.clone()) {
        Ok(Request::Correction(Correction::Reassign {
            start_ms,
            end_ms,
            person,
        })) => format!(
            "words {start_ms} - {end_ms} reassigned to {}",
            name(roster, person.as_deref())
        ),
        Ok(Request::Correction(Correction::MoveBoundary { item, start_ms })) => {
            format!("item {item} now starts at {start_ms}")
        }
        Ok(Request::Correction(Correction::ReplaceText {
            start_ms,
            end_ms,
            text,
        })) => format!("words {start_ms} - {end_ms} now read {text:?}"),
        Ok(Request::Revert { revision, .. }) => format!("revision {revision} reverted"),
        Err(_) => correction.to_string(),
    }
}

pub async fn history(config: &Config, id: &SessionId, json: bool) -> Result<()> {
    let catalogue = open_catalogue(config).await?;
    let session = catalogue.get(id).await?.session;
    let revisions = catalogue.revisions(id).await?;
    if json {
        return print_json(&revisions);
    }
    if revisions.is_empty() {
        println!("no corrections");
    }
    for r in &revisions {
        let reverted = r
            .reverted_by
            .map_or_else(String::new, |n| format!("  [reverted by {n}]"));
        println!(
            "{:>3}  {}  {:<12} {}{reverted}",
            r.number,
            r.created_at.format("%Y-%m-%d %H:%M:%S"),
            r.author,
            describe(&r.correction, &session.roster)
        );
        println!("       before: {}", r.before);
        println!("       after:  {}", r.after);
    }
    Ok(())
}

/// Floor events and agenda markers sent after the session was imported.
pub async fn evidence(
    config: &Config,
    id: &SessionId,
    floor_events: Option<PathBuf>,
    agenda_markers: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    fn read<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<Vec<T>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BadInput(format!("cannot read {}: {e}", path.display())))?;
        session::from_json(&text).map_err(|e| {
            anyhow::Error::new(e).context(format!("{} is not a valid {what} list", path.display()))
        })
    }
    if floor_events.is_none() && agenda_markers.is_none() {
        return Err(
            BadInput("give --floor-events FILE and/or --agenda-markers FILE".into()).into(),
        );
    }
    let events: Vec<FloorEvent> = match &floor_events {
        Some(path) => read(path, "floor event")?,
        None => Vec::new(),
    };
    let markers: Vec<AgendaMarker> = match &agenda_markers {
        Some(path) => read(path, "agenda marker")?,
        None => Vec::new(),
    };
    let catalogue: Catalogue = open_catalogue(config).await?;
    let (event_count, marker_count) = catalogue.add_evidence(id, &events, &markers).await?;
    if json {
        return print_json(&serde_json::json!({
            "floor_events": event_count,
            "agenda_markers": marker_count,
        }));
    }
    println!(
        "session {id}: {event_count} floor event(s), {marker_count} agenda marker(s); \
         run `aula session align {id}` to use them"
    );
    Ok(())
}

/// The report in one line, then its warnings, to `out` (warnings always to standard error).
pub fn print_report(report: &AlignReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "aligned {}: {} words, {:.1}% of word time attributed, {} item span(s) from the {}, \
         {} intervention(s), {} correction(s) re-applied",
        report.session,
        report.words,
        report.attributed_percent,
        report.items,
        match report.agenda_source {
            align::AgendaSource::Markers => "clerk's markers",
            align::AgendaSource::Transcript => "transcript",
        },
        report.interventions,
        report.corrections_applied
    )?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    Ok(())
}
