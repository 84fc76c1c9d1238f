//! Recording a session: each source recorded as received in self-contained segments under
//! `recordings/<source>/` (with the live program and its HLS ladder when asked), joined into
//! `recordings/<source>.mp4`, and the state of each source's recording.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use pipeline::director::FloorTurn;
use pipeline::program::{ProgramInput, ProgramOptions};
use pipeline::{Input, RecordOptions, RecordingIndex, SourceEvent, SourceInput};
use serde::Serialize;
use session::{Session, SessionId, SourceKind};

use super::captions::{self, CaptionsChoice};
use crate::cancel::{Cancel, Cancelled};
use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::fsutil::write_atomic;
use crate::media::{self, Location};
use crate::BadInput;

/// What to record, and how.
#[derive(Clone, Debug)]
pub struct RecordRequest {
    pub id: SessionId,
    /// Stop after this much wall-clock time (none: until the sources end or the work is cancelled).
    pub duration: Option<Duration>,
    /// Longest segment (cut at the next keyframe after it), 1 s to 10 min.
    pub segment_ms: u64,
    /// Pace file sources at their own speed, as a live capture (rehearsals and tests).
    pub realtime: bool,
    /// Also compose the program and stream it as live HLS in the live presets.
    pub live: bool,
    /// Caption the live stream (none: no captions).
    pub captions: Option<CaptionsChoice>,
}

/// What a recording made: each source's index, what happened to the sources, the live
/// renditions' segment counts and who the program showed speaking when.
#[derive(Debug, Serialize)]
pub struct RecordReport {
    pub sources: Vec<RecordingIndex>,
    pub events: Vec<SourceEvent>,
    pub live: Vec<LiveRendition>,
    pub shots: Vec<pipeline::program::Shot>,
}

#[derive(Debug, Serialize)]
pub struct LiveRendition {
    pub rendition: String,
    pub segments: usize,
}

/// One source's recording.
#[derive(Debug, Serialize)]
pub struct SourceStatus {
    pub source: String,
    pub segments: usize,
    pub recorded_ms: u64,
    pub finalized: Option<PathBuf>,
}

/// Records the session's sources until they end, `request.duration` passes or `cancel` is raised
/// (each source then closes its last segment). Closed parts and floor events declared meanwhile
/// reach the live program within a quarter of a second.
pub async fn record(
    config: &Config,
    catalogue: &Catalogue,
    request: &RecordRequest,
    cancel: Cancel,
) -> Result<RecordReport> {
    let id = &request.id;
    let stored = catalogue.get(id).await?;
    let mut sources = Vec::new();
    let mut network = false;
    for s in &stored.session.sources {
        let input = match media::resolve(&stored.base_dir, &s.uri) {
            Location::File(path) => Input::File(path),
            Location::Network(uri) => {
                network = true;
                Input::Uri(uri)
            }
        };
        sources.push(SourceInput {
            id: s.id.clone(),
            input,
        });
    }
    if sources.is_empty() {
        return Err(BadInput(format!("session {id} has no sources to record")).into());
    }
    let mut opts = RecordOptions {
        dir: config.recordings_dir(id),
        segment_ms: request.segment_ms.clamp(1000, 600_000),
        realtime: request.realtime,
        // Network sources arrive now: their session time is the time since the session's start.
        offset_ms: if network {
            u64::try_from((chrono::Utc::now() - stored.session.start).num_milliseconds())
                .unwrap_or(0)
        } else {
            0
        },
        program: None,
        // A live session's recorder started again (after a crash, a power cut) adds to what was
        // recorded; recording file sources again replaces it.
        resume: network,
    };
    let deadline = request.duration.map(|d| Instant::now() + d);
    let mut captioner = None;
    if request.live {
        // The program is composed live: file sources arrive at their own pace.
        opts.realtime = true;
        let mut program = program_options(config, &stored.session, id, &opts)?;
        if let Some(running) = request
            .captions
            .as_ref()
            .and_then(|choice| captions::start(config, &stored.session, choice))
        {
            program.live.captions = Some(running.options);
            program.captions_feed = Some(running.feed);
            captioner = Some(running.thread);
        }
        opts.program = Some(program);
    }
    let follow = opts.program.as_ref().map(|p| {
        let (turns, closed) = (Arc::clone(&p.turns), Arc::clone(&p.closed));
        let (catalogue, id) = (catalogue.clone(), id.clone());
        let mut known = stored.session.floor_events.len();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let Ok(now) = catalogue.get(&id).await else {
                    continue;
                };
                *closed.lock().expect("closed lock") = closed_spans(&now.session);
                if now.session.floor_events.len() != known {
                    known = now.session.floor_events.len();
                    *turns.lock().expect("turns lock") = floor_turns(&now.session);
                }
            }
        })
    });
    // With an object store, the live HLS goes there as it is made.
    let mirrored = Cancel::default();
    let mirror = match (&config.storage, request.live) {
        (Some(settings), true) => {
            let store = crate::storage::ObjectStorage::open(settings)?;
            let (dir, prefix) = (config.live_dir(id), format!("sessions/{id}/live/"));
            let stop = mirrored.clone();
            Some(tokio::spawn(async move {
                store.mirror(dir, prefix, stop).await
            }))
        }
        _ => None,
    };
    let states_path = config.live_sources(id);
    let recorded = tokio::task::spawn_blocking(move || {
        let mut events = Vec::new();
        let mut states = Vec::new();
        let stop = || cancel.is_cancelled() || deadline.is_some_and(|d| Instant::now() >= d);
        pipeline::record(&sources, &opts, &stop, &mut |e| {
            tracing::info!(
                "source {}: {:?} at {} ms ({})",
                e.source,
                e.state,
                e.at_ms,
                e.detail
            );
            events.push(e.clone());
            note_state(&mut states, e);
            let written = serde_json::to_vec_pretty(&states)
                .map_err(anyhow::Error::from)
                .and_then(|json| write_atomic(&states_path, &json));
            if let Err(e) = written {
                tracing::warn!("the sources' states are not written: {e:#}");
            }
        })
        .map(|report| (report, events))
    })
    .await;
    if let Some(task) = follow {
        task.abort();
    }
    mirrored.cancel();
    if let Some(task) = mirror {
        let _ = task.await;
    }
    let stream_stats = match captioner {
        Some(thread) => {
            let joined = tokio::time::timeout(
                Duration::from_secs(30),
                tokio::task::spawn_blocking(move || thread.join()),
            )
            .await;
            match joined {
                Ok(Ok(Ok(stats))) => Some(stats),
                _ => {
                    tracing::warn!("live captions: the transcriber did not end cleanly");
                    None
                }
            }
        }
        None => None,
    };
    let (report, events) = recorded??;
    if let (Some(stats), Some(program)) = (stream_stats, &report.program) {
        captions::write_report(&config.recordings_dir(id).join("program"), stats, program)?;
    }
    let live = report
        .program
        .iter()
        .flat_map(|p| &p.renditions)
        .map(|(name, segments)| LiveRendition {
            rendition: name.clone(),
            segments: segments.len(),
        })
        .collect();
    let shots = report
        .program
        .as_ref()
        .map_or_else(Vec::new, |p| p.shots.clone());
    // Who the program showed speaking when, for the editors (recordings/program/shots.json).
    if report.program.is_some() {
        let dir = config.recordings_dir(id).join("program");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        write_atomic(&dir.join("shots.json"), &serde_json::to_vec_pretty(&shots)?)?;
    }
    Ok(RecordReport {
        sources: report.indexes,
        events,
        live,
        shots,
    })
}

/// Each source's state now, from its events: the last event of each source, a refused caller
/// only noted (the source stays as it was).
pub fn note_state(states: &mut Vec<SourceEvent>, event: &SourceEvent) {
    let known = states.iter_mut().find(|s| s.source == event.source);
    match (known, event.state) {
        (Some(known), pipeline::SourceState::Refused) => {
            known.detail = format!("refused: {}", event.detail);
        }
        (Some(known), _) => *known = event.clone(),
        (None, _) => states.push(event.clone()),
    }
}

/// What a recording run from the workspace made.
#[derive(Debug, Serialize)]
pub struct LiveReport {
    pub sources: Vec<SourceStatus>,
    pub joined: Vec<PathBuf>,
    pub live: Vec<LiveRendition>,
}

/// The workspace's "start" and "stop": records the session with its live program until `stop`
/// is raised, then joins what each source recorded.
pub async fn run_live(
    config: &Config,
    catalogue: &Catalogue,
    id: &SessionId,
    stop: Cancel,
) -> Result<LiveReport> {
    let request = RecordRequest {
        id: id.clone(),
        duration: None,
        segment_ms: 10_000,
        realtime: true,
        live: true,
        captions: Some(CaptionsChoice::default()),
    };
    let report = record(config, catalogue, &request, stop).await?;
    let joined = finalize(config, catalogue, id, 30_000, &Cancel::default()).await?;
    Ok(LiveReport {
        sources: status(config, catalogue, id).await?,
        joined,
        live: report.live,
    })
}

/// Joins each source's segments (and the live program's) into `recordings/<source>.mp4` without
/// re-encoding; a join that makes no progress for `stall_ms` fails. Returns the joined files.
pub async fn finalize(
    config: &Config,
    catalogue: &Catalogue,
    id: &SessionId,
    stall_ms: u64,
    cancel: &Cancel,
) -> Result<Vec<PathBuf>> {
    let session = catalogue.get(id).await?.session;
    let dir = config.recordings_dir(id);
    let opts = pipeline::FinalizeOptions {
        stall_ms: stall_ms.max(1000),
    };
    let mut done = Vec::new();
    // Every source, and the program feed composed during a live recording.
    let names = session
        .sources
        .iter()
        .map(|s| s.id.as_str())
        .chain(["program"]);
    for name in names {
        let source_dir = dir.join(name);
        if !source_dir.join(RecordingIndex::FILE).is_file() {
            continue;
        }
        let output = dir.join(format!("{name}.mp4"));
        let (d, o, opts, cancel) = (
            source_dir.clone(),
            output.clone(),
            opts.clone(),
            cancel.clone(),
        );
        let joined = tokio::task::spawn_blocking(move || {
            pipeline::finalize(&d, &o, &opts, &|| cancel.is_cancelled())
        })
        .await?;
        match joined {
            Err(pipeline::PipelineError::Cancelled) => return Err(Cancelled.into()),
            joined => joined.with_context(|| format!("joining {}", source_dir.display()))?,
        }
        let mut index = RecordingIndex::load(&source_dir)?;
        index.finalized = Some(format!("{name}.mp4"));
        index.save(&source_dir)?;
        done.push(output);
    }
    if done.is_empty() {
        return Err(BadInput(format!(
            "session {id} has no recordings (run aula record {id})"
        ))
        .into());
    }
    Ok(done)
}

/// Whether the session streams live now: its live playlist exists and has not ended.
pub fn is_live(config: &Config, id: &SessionId) -> bool {
    std::fs::read_to_string(config.live_media_playlist(id))
        .is_ok_and(|media| !media.contains("#EXT-X-ENDLIST"))
}

/// Each source's segments, recorded length and joined file.
pub async fn status(
    config: &Config,
    catalogue: &Catalogue,
    id: &SessionId,
) -> Result<Vec<SourceStatus>> {
    let session = catalogue.get(id).await?.session;
    let dir = config.recordings_dir(id);
    Ok(session
        .sources
        .iter()
        .map(|s| {
            let index = RecordingIndex::load(&dir.join(&s.id)).unwrap_or_default();
            SourceStatus {
                source: s.id.clone(),
                segments: index.segments.len(),
                recorded_ms: index.duration_ms(),
                finalized: index.finalized.map(|f| dir.join(f)),
            }
        })
        .collect())
}

/// The program feed of a session: its program source alone when it has one, else the cameras and
/// remote participants (pictures) with the room's sound (room audio, else the first camera's) and
/// each remote participant's own; chamber turns from the floor events; live-720p and live-360p.
fn program_options(
    config: &Config,
    session: &Session,
    id: &SessionId,
    opts: &RecordOptions,
) -> Result<ProgramOptions> {
    let program_source = session
        .sources
        .iter()
        .find(|s| s.kind == SourceKind::Program);
    let room_audio = session
        .sources
        .iter()
        .find(|s| s.kind == SourceKind::RoomAudio)
        .or_else(|| {
            session
                .sources
                .iter()
                .find(|s| s.kind == SourceKind::Camera)
        })
        .map(|s| s.id.clone());
    let inputs: Vec<ProgramInput> = match program_source {
        Some(p) => vec![ProgramInput {
            source: p.id.clone(),
            video: true,
            audio: true,
            person: None,
        }],
        None => session
            .sources
            .iter()
            .filter(|s| s.kind != SourceKind::Program)
            .map(|s| ProgramInput {
                source: s.id.clone(),
                video: matches!(s.kind, SourceKind::Camera | SourceKind::Remote),
                audio: s.kind == SourceKind::Remote || room_audio.as_deref() == Some(&s.id),
                person: s.person.clone(),
            })
            .filter(|i| i.video || i.audio)
            .collect(),
    };
    if !inputs.iter().any(|i| i.video) {
        return Err(BadInput(format!(
            "session {id} has no camera, remote or program source to stream live"
        ))
        .into());
    }
    let turns = Arc::new(Mutex::new(floor_turns(session)));
    let names = session
        .roster
        .iter()
        .map(|p| {
            let name = pipeline::lower_third::Name {
                name: p.name.clone(),
                detail: publisher::request::detail(session, p),
            };
            (p.id.clone(), name)
        })
        .collect();
    let set = super::load_presets(config)?;
    Ok(ProgramOptions {
        live: pipeline::live::LiveOptions {
            dir: config.live_dir(id),
            renditions: vec![set.get("live-720p")?.clone(), set.get("live-360p")?.clone()],
            segment_ms: 2000,
            captions: None,
        },
        inputs,
        turns,
        closed: Arc::new(Mutex::new(closed_spans(session))),
        names,
        canvas: (1280, 720),
        record_dir: Some(opts.dir.join("program")),
        segment_ms: opts.segment_ms,
        slate_text: if session.language == "it" {
            "Collegamento interrotto".into()
        } else {
            "Connection lost".into()
        },
        captions_feed: None,
    })
}

/// The session's closed parts as the program takes them (an open one without an end).
fn closed_spans(session: &Session) -> Vec<pipeline::closed::ClosedSpan> {
    session
        .closed_ranges
        .iter()
        .map(|r| {
            let (start, end) = r.bounds();
            pipeline::closed::ClosedSpan {
                start_ms: start.0,
                end_ms: (!r.is_open()).then_some(end.0),
            }
        })
        .collect()
}

/// The chamber's microphone turns from a session's floor events (bad events skipped).
fn floor_turns(session: &Session) -> Vec<FloorTurn> {
    let mut warnings = Vec::new();
    transcriber::align::speakers::floor_turns(
        session,
        session::SessionMs(u64::MAX / 2),
        &mut warnings,
    )
    .into_iter()
    .map(|t| FloorTurn {
        person: t.person,
        start_ms: t.start_ms,
        end_ms: t.end_ms,
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use pipeline::SourceState;

    use super::*;

    fn event(source: &str, state: SourceState, at_ms: u64, detail: &str) -> SourceEvent {
        SourceEvent {
            source: source.into(),
            state,
            at_ms,
            detail: detail.into(),
        }
    }

    #[test]
    fn each_source_shows_its_last_state_and_a_refused_caller_is_only_noted() {
        let mut states = Vec::new();
        for e in [
            event("cam1", SourceState::Connecting, 0, "rtsp://cam1"),
            event("remote", SourceState::Connecting, 0, "srt://:9000"),
            event("cam1", SourceState::Live, 400, "recording"),
            event("remote", SourceState::Refused, 900, "wrong passphrase"),
            event("cam1", SourceState::Lost, 5_000, "nothing received for 2 s"),
        ] {
            note_state(&mut states, &e);
        }
        assert_eq!(
            states,
            vec![
                event("cam1", SourceState::Lost, 5_000, "nothing received for 2 s"),
                event(
                    "remote",
                    SourceState::Connecting,
                    0,
                    "refused: wrong passphrase"
                ),
            ]
        );
    }
}
