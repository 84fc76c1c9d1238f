//! Recording sources as received: each file source is demuxed and parsed (parsebin), H.264 video
//! and AAC audio go untouched into `splitmuxsink`, which writes self-contained MP4 segments; the
//! segments' spans go to the source's `index.json` as each one closes. Finalizing (joining a
//! source's segments into one MP4) is in [`crate::join`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;

use crate::gst::{gst_error, io_error, PipelineError};
use crate::index::RecordingIndex;
use crate::ingest::{supervise, IngestOptions};
use crate::program::{Program, ProgramOptions, ProgramResult};
use crate::source::{Input, SessionTime, SourceEvent, SourceInput, SourceState};

#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// Each source's segments go to `dir/<source id>/`.
    pub dir: PathBuf,
    /// The longest a segment gets (cut at the next keyframe after it).
    pub segment_ms: u64,
    /// Pace file sources at their own speed, as a live capture would arrive.
    pub realtime: bool,
    /// Session time at the recording's start (0 for files holding the whole session).
    pub offset_ms: u64,
    /// Compose the program feed from the sources and stream it live.
    pub program: Option<ProgramOptions>,
    /// Add to the recordings already in `dir` (a recorder started again during a live session)
    /// instead of replacing them.
    pub resume: bool,
}

impl RecordOptions {
    fn ingest(&self) -> IngestOptions {
        IngestOptions {
            dir: self.dir.clone(),
            segment_ms: self.segment_ms,
            realtime: self.realtime,
            offset_ms: self.offset_ms,
            resume: self.resume,
        }
    }
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            dir: PathBuf::from("recordings"),
            segment_ms: 10_000,
            realtime: false,
            offset_ms: 0,
            program: None,
            resume: false,
        }
    }
}

/// What a recording run produced.
#[derive(Debug)]
pub struct RecordReport {
    pub indexes: Vec<RecordingIndex>,
    pub program: Option<ProgramResult>,
}

/// Records `sources` until they end or `cancelled` says so (then EOS through every branch, so
/// the segments being written are closed properly), each source in its own pipeline so that one
/// failing cannot stop the others; with `opts.program`, the program feed is composed from them
/// and streamed live. Every event also goes to `dir/events.jsonl`.
pub fn record(
    sources: &[SourceInput],
    opts: &RecordOptions,
    cancelled: &dyn Fn() -> bool,
    on_event: &mut dyn FnMut(&SourceEvent),
) -> Result<RecordReport, PipelineError> {
    gst::init().map_err(gst_error)?;
    std::fs::create_dir_all(&opts.dir).map_err(|e| io_error(&opts.dir, e))?;
    for src in sources {
        if let Input::File(path) = &src.input {
            if !path.is_file() {
                return Err(io_error(path, "no such file"));
            }
        }
    }
    let clock = SessionTime {
        offset_ms: opts.offset_ms,
        started: Instant::now(),
    };
    let mut program = opts
        .program
        .clone()
        .map(|p| Program::build(p, opts.resume))
        .transpose()?;
    if let Some(p) = &mut program {
        p.start(clock.now_ms())?;
    }
    let (tx, rx) = mpsc::channel::<SourceEvent>();
    let refusals = watch_srt_refusals(sources, clock, tx.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let ingest = opts.ingest();
    let handles: Vec<_> = sources
        .iter()
        .map(|src| {
            let (src, opts, stop, tx) = (src.clone(), ingest.clone(), stop.clone(), tx.clone());
            let outputs = program.as_ref().and_then(|p| p.outputs(&src.id));
            std::thread::spawn(move || supervise(&src, &opts, clock, outputs, &stop, &tx))
        })
        .collect();
    drop(tx);
    let log = opts.dir.join("events.jsonl");
    let mut emit = |e: &SourceEvent| {
        append_event(&log, e);
        on_event(e);
    };
    let mut failure = None;
    loop {
        if cancelled() || failure.is_some() {
            stop.store(true, Ordering::SeqCst);
        }
        match &mut program {
            Some(p) => {
                if let Err(e) = p.poll(clock.now_ms()) {
                    failure.get_or_insert(e);
                }
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
        while let Ok(e) = rx.try_recv() {
            emit(&e);
        }
        if handles.iter().all(|h| h.is_finished()) {
            break;
        }
    }
    if let Some(handle) = refusals {
        gst::log::remove_log_function(handle);
    }
    while let Ok(e) = rx.try_recv() {
        emit(&e);
    }
    let mut indexes = Vec::new();
    for (src, handle) in sources.iter().zip(handles) {
        match handle.join() {
            Ok(Ok(done)) => {
                if !done.received {
                    tracing::warn!(
                        "source {}: nothing received from {} (refused connection, wrong passphrase, or no sender)",
                        src.id,
                        src.input.describe()
                    );
                    emit(&SourceEvent {
                        source: src.id.clone(),
                        state: SourceState::Lost,
                        at_ms: clock.offset_ms,
                        detail: "nothing received".into(),
                    });
                }
                indexes.push(done.index);
            }
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(_) => {
                failure.get_or_insert(PipelineError::Gst(format!(
                    "the recorder of source {} panicked",
                    src.id
                )));
            }
        }
    }
    let program = program.map(Program::stop).transpose();
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(RecordReport {
        indexes,
        program: program?,
    })
}

fn append_event(log: &Path, e: &SourceEvent) {
    use std::io::Write;
    let line = serde_json::to_string(e).expect("plain data serializes");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .and_then(|mut f| writeln!(f, "{line}"));
    if let Err(err) = written {
        tracing::warn!("{}: {err}", log.display());
    }
}

/// libsrt refuses a caller with a wrong passphrase inside its handshake and only says so in its
/// log: that log is watched and each refusal becomes an event of the SRT listener sources.
fn watch_srt_refusals(
    sources: &[SourceInput],
    clock: SessionTime,
    tx: mpsc::Sender<SourceEvent>,
) -> Option<gst::log::DebugLogFunction> {
    let listeners: Vec<String> = sources
        .iter()
        .filter(|s| matches!(&s.input, Input::Uri(u) if u.starts_with("srt://") && u.contains("mode=listener")))
        .map(|s| s.id.clone())
        .collect();
    if listeners.is_empty() {
        return None;
    }
    if std::env::var_os("GST_DEBUG").is_none() {
        gst::log::remove_default_log_function();
    }
    gst::log::set_active(true);
    gst::log::set_threshold_for_name("srtlib", gst::DebugLevel::Info);
    let tx = Mutex::new(tx);
    Some(gst::log::add_log_function(
        move |category, _, _, _, _, _, message| {
            if category.name() != "srtlib" {
                return;
            }
            let Some(text) = message.get() else { return };
            let text = text.to_string();
            let Some(at) = text
                .find("rejected due to:")
                .or_else(|| text.find("rsp(REJECT)"))
            else {
                return;
            };
            let reason = text[at..].trim().to_owned();
            tracing::warn!("SRT caller refused: {reason}");
            for source in &listeners {
                let _ = tx.lock().expect("event sender").send(SourceEvent {
                    source: source.clone(),
                    state: SourceState::Refused,
                    at_ms: clock.now_ms(),
                    detail: format!("caller refused: {reason}"),
                });
            }
        },
    ))
}
