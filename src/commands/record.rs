//! `aula record ID`, `aula record finalize ID`, `aula record status ID`: each source recorded as
//! received in self-contained segments under `$AULA_HOME/sessions/ID/recordings/<source>/`, and
//! joined into `recordings/<source>.mp4`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use pipeline::director::FloorTurn;
use pipeline::program::{ProgramInput, ProgramOptions};
use pipeline::{Input, RecordOptions, RecordingIndex, SourceInput};
use serde::Serialize;

use super::{open_catalogue, print_json};
use crate::cancel::{Cancel, Cancelled};
use crate::config::Config;
use crate::fsutil::write_atomic;
use crate::media::{self, Location};
use crate::BadInput;
use session::{Session, SessionId, SourceKind};

/// `aula record ID [--duration S]`, or one of the subcommands.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RecordArgs {
    #[command(subcommand)]
    pub command: Option<RecordCommand>,
    /// The session whose sources to record until they end, --duration passes or Ctrl-C (each
    /// source stops cleanly: its last segment is closed).
    #[arg(required = true)]
    pub id: Option<SessionId>,
    /// Stop after this many seconds of wall-clock time.
    #[arg(long)]
    pub duration: Option<u64>,
    /// Longest segment, in seconds (cut at the next keyframe after it).
    #[arg(long, default_value_t = 10)]
    pub segment_seconds: u64,
    /// Pace file sources at their own speed, as a live capture (for rehearsals and tests).
    #[arg(long)]
    pub realtime: bool,
    /// Also stream the program (else the first camera) as live HLS under sessions/ID/live/, in the
    /// live-720p and live-360p presets.
    #[arg(long)]
    pub live: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Join each source's segments into recordings/<source>.mp4, without re-encoding.
    Finalize {
        id: SessionId,
        /// Fail a join that makes no progress for this many seconds.
        #[arg(long, default_value_t = 30)]
        stall_seconds: u64,
        #[arg(long)]
        json: bool,
    },
    /// Each source's segments, recorded length and finalized file.
    Status {
        id: SessionId,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Serialize)]
struct SourceStatus {
    source: String,
    segments: usize,
    recorded_ms: u64,
    finalized: Option<PathBuf>,
}

pub async fn run(config: &Config, mut args: RecordArgs, cancel: Cancel) -> Result<()> {
    let cmd = match (args.command.take(), args.id.clone()) {
        (Some(cmd), _) => cmd,
        (None, Some(id)) => return start(config, &id, &args, cancel).await,
        (None, None) => return Err(BadInput("give a session id".into()).into()),
    };
    match cmd {
        RecordCommand::Finalize {
            id,
            stall_seconds,
            json,
        } => {
            let catalogue = open_catalogue(config).await?;
            let session = catalogue.get(&id).await?.session;
            let dir = config.session_dir(&id).join("recordings");
            let opts = pipeline::FinalizeOptions {
                stall_ms: stall_seconds.max(1) * 1000,
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
                    joined => {
                        joined.with_context(|| format!("joining {}", source_dir.display()))?
                    }
                }
                let mut index = RecordingIndex::load(&source_dir)?;
                index.finalized = Some(format!("{name}.mp4"));
                index.save(&source_dir)?;
                done.push(output);
            }
            if done.is_empty() {
                return Err(BadInput(format!(
                    "session {id} has no recordings (run aula record start {id})"
                ))
                .into());
            }
            if json {
                return print_json(&done);
            }
            for path in done {
                println!("{}", path.display());
            }
            Ok(())
        }
        RecordCommand::Status { id, json } => {
            let catalogue = open_catalogue(config).await?;
            let session = catalogue.get(&id).await?.session;
            let dir = config.session_dir(&id).join("recordings");
            let status: Vec<SourceStatus> = session
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
                .collect();
            if json {
                return print_json(&status);
            }
            for s in status {
                println!(
                    "{:<20} {:>4} segment(s) {:>10} ms  {}",
                    s.source,
                    s.segments,
                    s.recorded_ms,
                    s.finalized
                        .map_or_else(|| "not finalized".to_owned(), |p| p.display().to_string())
                );
            }
            Ok(())
        }
    }
}

async fn start(config: &Config, id: &SessionId, args: &RecordArgs, cancel: Cancel) -> Result<()> {
    let (duration, segment_seconds, json) = (args.duration, args.segment_seconds, args.json);
    let catalogue = open_catalogue(config).await?;
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
    let opts = RecordOptions {
        dir: config.session_dir(id).join("recordings"),
        segment_ms: segment_seconds.clamp(1, 600) * 1000,
        realtime: args.realtime,
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
    let deadline = duration.map(|s| Instant::now() + Duration::from_secs(s));
    let mut opts = opts;
    if args.live {
        // The program is composed live: file sources arrive at their own pace.
        opts.realtime = true;
        opts.program = Some(program_options(config, &stored.session, id, &opts)?);
    }
    // Closed parts declared during the session (aula serve's API) reach the program within a
    // quarter of a second, floor events its director.
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
    let (report, events) = tokio::task::spawn_blocking(move || {
        let mut events = Vec::new();
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
        })
        .map(|report| (report, events))
    })
    .await??;
    if let Some(task) = follow {
        task.abort();
    }
    let indexes = &report.indexes;
    let renditions: Vec<serde_json::Value> = report
        .program
        .iter()
        .flat_map(|p| &p.renditions)
        .map(
            |(name, segments)| serde_json::json!({ "rendition": name, "segments": segments.len() }),
        )
        .collect();
    // Who the program showed speaking when, for the editors (recordings/program/shots.json).
    let shots = report.program.as_ref().map_or(&[][..], |p| &p.shots[..]);
    if let Some(program) = &report.program {
        let dir = config.session_dir(id).join("recordings").join("program");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        write_atomic(
            &dir.join("shots.json"),
            &serde_json::to_vec_pretty(&program.shots)?,
        )?;
    }
    if json {
        return print_json(&serde_json::json!({
            "sources": indexes,
            "events": events,
            "live": renditions,
            "shots": shots,
        }));
    }
    if !shots.is_empty() {
        println!("program: {} change(s) of speaker shown", shots.len());
    }
    for r in &renditions {
        println!("live {}: {} segment(s)", r["rendition"], r["segments"]);
    }
    for index in indexes {
        println!(
            "{}: {} segment(s), {} ms",
            index.source,
            index.segments.len(),
            index.duration_ms()
        );
    }
    Ok(())
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
    let captions = session
        .roster
        .iter()
        .map(|p| {
            (
                p.id.clone(),
                format!("{}\n{}", p.name, publisher::request::detail(session, p)),
            )
        })
        .collect();
    let set = super::presets::load(config)?;
    Ok(ProgramOptions {
        live: pipeline::live::LiveOptions {
            dir: config.session_dir(id).join("live"),
            renditions: vec![set.get("live-720p")?.clone(), set.get("live-360p")?.clone()],
            segment_ms: 2000,
        },
        inputs,
        turns,
        closed: Arc::new(Mutex::new(closed_spans(session))),
        captions,
        canvas: (1280, 720),
        record_dir: Some(opts.dir.join("program")),
        segment_ms: opts.segment_ms,
        slate_text: if session.language == "it" {
            "Collegamento interrotto".into()
        } else {
            "Connection lost".into()
        },
        tap: None,
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
