//! Recording sources as received: each file source is demuxed and parsed (parsebin), H.264 video
//! and AAC audio go untouched into `splitmuxsink`, which writes self-contained MP4 segments; the
//! segments' spans go to the source's `index.json` as each one closes. Finalizing joins a source's
//! segments into one MP4 with `splitmuxsrc` and `mp4mux`, without re-encoding.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;
use serde::Serialize;

use crate::index::{RecordingIndex, Segment};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("GStreamer: {0}")]
    Gst(String),
    #[error("GStreamer error from {element}: {message} ({debug})")]
    Element {
        element: String,
        message: String,
        debug: String,
    },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}: no segments to finalize")]
    NothingRecorded(String),
}

impl PipelineError {
    /// Whether the input (a broken or unreadable file) is at fault rather than the system.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            PipelineError::Element { .. } | PipelineError::NothingRecorded(_)
        )
    }
}

fn gst_error(e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Gst(e.to_string())
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// A source to record: a media file, or a network stream (`srt://`, `rtsp://`, `rtmp://`,
/// `http(s)://` HLS) opened by GStreamer's `urisourcebin`.
#[derive(Clone, Debug)]
pub struct SourceInput {
    pub id: String,
    pub input: Input,
}

#[derive(Clone, Debug)]
pub enum Input {
    File(PathBuf),
    Uri(String),
}

impl Input {
    fn describe(&self) -> String {
        match self {
            Input::File(path) => path.display().to_string(),
            Input::Uri(uri) => uri.clone(),
        }
    }
}

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
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            dir: PathBuf::from("recordings"),
            segment_ms: 10_000,
            realtime: false,
            offset_ms: 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    Connecting,
    Live,
    Lost,
    Ended,
}

/// A change of a source's state, in session time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceEvent {
    pub source: String,
    pub state: SourceState,
    pub at_ms: u64,
    pub detail: String,
}

fn make(factory: &str, name: &str) -> Result<gst::Element, PipelineError> {
    gst::ElementFactory::make(factory)
        .name(name)
        .build()
        .map_err(|e| {
            PipelineError::Gst(format!(
                "cannot create {factory} ({e}); is its plugin installed?"
            ))
        })
}

/// Links a parsed stream to the segment writer through a queue (H.264 to its video pad, AAC to an
/// audio pad); any other stream goes to a fakesink with a warning, so that it cannot stall the rest.
fn link_stream(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    sink: &gst::Element,
    source: &str,
    realtime: bool,
) {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let name = caps
        .structure(0)
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    let target = match name.as_str() {
        "video/x-h264" => sink.request_pad_simple("video"),
        "audio/mpeg" => sink.request_pad_simple("audio_%u"),
        _ => None,
    };
    let factory = if target.is_some() {
        "queue"
    } else {
        "fakesink"
    };
    if target.is_none() {
        tracing::warn!(
            "source {source}: a {name} stream is not recorded (only H.264 and AAC are passed through)"
        );
    }
    let Ok(element) = gst::ElementFactory::make(factory).build() else {
        return;
    };
    if pipeline.add(&element).is_err() || element.sync_state_with_parent().is_err() {
        return;
    }
    // Paced: an identity element holds each buffer until its time on the pipeline clock.
    let pace = realtime
        .then(|| {
            gst::ElementFactory::make("identity")
                .property("sync", true)
                .build()
                .ok()
        })
        .flatten()
        .filter(|p| pipeline.add(p).is_ok() && p.sync_state_with_parent().is_ok());
    let first = pace.as_ref().unwrap_or(&element);
    if let (Some(p), Some(sink_pad)) = (&pace, element.static_pad("sink")) {
        let _ = p.static_pad("src").map(|src| src.link(&sink_pad));
    }
    if let Some(sink_pad) = first.static_pad("sink") {
        let _ = pad.link(&sink_pad);
    }
    if let (Some(target), Some(src)) = (target, element.static_pad("src")) {
        let _ = src.link(&target);
    }
}

/// Records `sources` until they end or `cancelled` says so (then EOS through every branch, so
/// the segment being written is closed properly). Returns each source's index.
pub fn record(
    sources: &[SourceInput],
    opts: &RecordOptions,
    cancelled: &dyn Fn() -> bool,
    on_event: &mut dyn FnMut(&SourceEvent),
) -> Result<Vec<RecordingIndex>, PipelineError> {
    gst::init().map_err(gst_error)?;
    let pipeline = gst::Pipeline::new();
    let indexes: Arc<Mutex<Vec<RecordingIndex>>> = Arc::new(Mutex::new(Vec::new()));
    for src in sources {
        let dir = opts.dir.join(&src.id);
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        let input = match &src.input {
            Input::File(path) => {
                if !path.is_file() {
                    return Err(io_error(path, "no such file"));
                }
                let filesrc = make("filesrc", &format!("{}-src", src.id))?;
                filesrc.set_property("location", path.to_string_lossy().to_string());
                filesrc
            }
            Input::Uri(uri) => {
                let bin = make("urisourcebin", &format!("{}-src", src.id))?;
                bin.set_property("uri", uri);
                let id = src.id.clone();
                bin.connect("source-setup", false, move |args| {
                    let element = args.get(1).and_then(|v| v.get::<gst::Element>().ok());
                    if let Some(element) = element.filter(|e| e.has_property("passphrase")) {
                        let id = id.clone();
                        element.connect("caller-rejected", false, move |args| {
                            tracing::warn!(
                                "source {id}: a caller was refused ({:?})",
                                args.get(2).and_then(|v| v.get::<String>().ok())
                            );
                            None
                        });
                    }
                    None
                });
                bin
            }
        };
        let parse = make("parsebin", &format!("{}-parse", src.id))?;
        let sink = make("splitmuxsink", &format!("{}-rec", src.id))?;
        sink.set_property(
            "location",
            dir.join("segment-%05d.mp4").to_string_lossy().to_string(),
        );
        sink.set_property("max-size-time", opts.segment_ms * 1_000_000);
        pipeline
            .add_many([&input, &parse, &sink])
            .map_err(gst_error)?;
        match &src.input {
            Input::File(_) => input.link(&parse).map_err(gst_error)?,
            Input::Uri(_) => {
                let parse_c = parse.clone();
                input.connect_pad_added(move |_, pad| {
                    if let Some(sink_pad) = parse_c.static_pad("sink").filter(|p| !p.is_linked()) {
                        let _ = pad.link(&sink_pad);
                    }
                });
            }
        }
        let weak = pipeline.downgrade();
        let id = src.id.clone();
        let realtime = opts.realtime;
        parse.connect_pad_added(move |_, pad| {
            if let Some(pipeline) = weak.upgrade() {
                link_stream(&pipeline, pad, &sink, &id, realtime);
            }
        });
        indexes.lock().expect("index lock").push(RecordingIndex {
            source: src.id.clone(),
            segments: Vec::new(),
            finalized: None,
        });
        on_event(&SourceEvent {
            source: src.id.clone(),
            state: SourceState::Connecting,
            at_ms: 0,
            detail: src.input.describe(),
        });
    }
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| PipelineError::Gst("the recording pipeline does not start".into()))?;
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let mut eos_sent: Option<std::time::Instant> = None;
    let mut opened: Vec<Option<(String, u64)>> = vec![None; sources.len()];
    let result = loop {
        if cancelled() && eos_sent.is_none() {
            pipeline.send_event(gst::event::Eos::new());
            eos_sent = Some(std::time::Instant::now());
        }
        // A network source waiting for a caller may not pass the end on: stop without it.
        if eos_sent.is_some_and(|at| at.elapsed() > std::time::Duration::from_secs(5)) {
            tracing::warn!(
                "the sources did not stop within 5 s; the segments being written are dropped"
            );
            break Ok(());
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break Ok(()),
            gst::MessageView::Error(err) => {
                break Err(PipelineError::Element {
                    element: msg
                        .src()
                        .map_or_else(|| "pipeline".to_owned(), |s| s.path_string().to_string()),
                    message: err.error().to_string(),
                    debug: err.debug().map(|d| d.to_string()).unwrap_or_default(),
                })
            }
            gst::MessageView::Element(e) => {
                let Some(s) = e.structure() else { continue };
                let Some(k) = msg.src().and_then(|src| {
                    sources
                        .iter()
                        .position(|x| src.name() == format!("{}-rec", x.id))
                }) else {
                    continue;
                };
                let location = s.get::<String>("location").unwrap_or_default();
                let at_ms = s.get::<u64>("running-time").unwrap_or(0) / 1_000_000 + opts.offset_ms;
                let file = Path::new(&location)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                match s.name().as_str() {
                    "splitmuxsink-fragment-opened" => {
                        if opened[k].is_none()
                            && indexes.lock().expect("index lock")[k].segments.is_empty()
                        {
                            on_event(&SourceEvent {
                                source: sources[k].id.clone(),
                                state: SourceState::Live,
                                at_ms,
                                detail: "recording".into(),
                            });
                        }
                        opened[k] = Some((file, at_ms));
                    }
                    "splitmuxsink-fragment-closed" => {
                        let start_ms = opened[k].take().map_or(at_ms, |o| o.1);
                        let mut all = indexes.lock().expect("index lock");
                        all[k].segments.push(Segment {
                            file,
                            start_ms,
                            end_ms: at_ms,
                        });
                        let dir = opts.dir.join(&sources[k].id);
                        all[k].save(&dir).map_err(|e| io_error(&dir, e))?;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    for (k, s) in sources.iter().enumerate() {
        let last = indexes.lock().expect("index lock")[k]
            .segments
            .last()
            .map(|x| x.end_ms);
        let event = match last {
            Some(at_ms) => SourceEvent {
                source: s.id.clone(),
                state: SourceState::Ended,
                at_ms,
                detail: if eos_sent.is_some() {
                    "stopped".into()
                } else {
                    "end of input".into()
                },
            },
            None => {
                tracing::warn!(
                    "source {}: nothing received from {} (refused connection, wrong passphrase, or no sender)",
                    s.id,
                    s.input.describe()
                );
                SourceEvent {
                    source: s.id.clone(),
                    state: SourceState::Lost,
                    at_ms: opts.offset_ms,
                    detail: "nothing received".into(),
                }
            }
        };
        on_event(&event);
    }
    let all = indexes.lock().expect("index lock").clone();
    Ok(all)
}

/// Joins the segments in `dir` (one source) into `output`, without re-encoding.
pub fn finalize(dir: &Path, output: &Path) -> Result<(), PipelineError> {
    gst::init().map_err(gst_error)?;
    let index = RecordingIndex::load(dir).map_err(|e| io_error(dir, e))?;
    if index.segments.is_empty() {
        return Err(PipelineError::NothingRecorded(dir.display().to_string()));
    }
    let part = output.with_extension("mp4.part");
    let pipeline = gst::Pipeline::new();
    let src = make("splitmuxsrc", "segments")?;
    // Only the segments in the index: one being written when the recorder died is left out.
    let files: Vec<String> = index
        .segments
        .iter()
        .map(|s| dir.join(&s.file).to_string_lossy().into_owned())
        .collect();
    src.connect("format-location", false, move |_| Some(files.to_value()));
    let mux = make("mp4mux", "mux")?;
    let sink = make("filesink", "file")?;
    sink.set_property("location", part.to_string_lossy().to_string());
    pipeline.add_many([&src, &mux, &sink]).map_err(gst_error)?;
    mux.link(&sink).map_err(gst_error)?;
    let weak = pipeline.downgrade();
    let mux_c = mux.clone();
    src.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let name = caps
            .structure(0)
            .map(|s| s.name().to_string())
            .unwrap_or_default();
        let template = if name.starts_with("video/") {
            "video_%u"
        } else {
            "audio_%u"
        };
        let (Ok(queue), Some(target)) = (
            gst::ElementFactory::make("queue").build(),
            mux_c.request_pad_simple(template),
        ) else {
            return;
        };
        if pipeline.add(&queue).is_ok() {
            let _ = queue.sync_state_with_parent();
            if let (Some(sink_pad), Some(src_pad)) =
                (queue.static_pad("sink"), queue.static_pad("src"))
            {
                let _ = pad.link(&sink_pad);
                let _ = src_pad.link(&target);
            }
        }
    });
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| PipelineError::Gst("the finalizing pipeline does not start".into()))?;
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let result = match bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(3600),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .as_ref()
        .map(|m| (m.view(), m.src().map(|s| s.path_string().to_string())))
    {
        Some((gst::MessageView::Eos(_), _)) => Ok(()),
        Some((gst::MessageView::Error(err), element)) => Err(PipelineError::Element {
            element: element.unwrap_or_else(|| "pipeline".into()),
            message: err.error().to_string(),
            debug: err.debug().map(|d| d.to_string()).unwrap_or_default(),
        }),
        _ => Err(PipelineError::Gst("finalizing timed out".into())),
    };
    let _ = pipeline.set_state(gst::State::Null);
    match result {
        Ok(()) => std::fs::rename(&part, output).map_err(|e| io_error(output, e)),
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}
