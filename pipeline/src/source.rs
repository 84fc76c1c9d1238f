//! The inputs of a recording and what they report: sources and their states in session time, and
//! where a source's decoded pictures and sound go when the program feed takes it.

use std::path::PathBuf;
use std::time::Instant;

use gstreamer as gst;
use gstreamer_app as gst_app;
use serde::Serialize;

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
    pub(crate) fn describe(&self) -> String {
        match self {
            Input::File(path) => path.display().to_string(),
            Input::Uri(uri) => uri.clone(),
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
    /// A caller was turned away (wrong passphrase); the source's state does not change.
    Refused,
}

/// A change of a source's state, in session time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceEvent {
    pub source: String,
    pub state: SourceState,
    pub at_ms: u64,
    pub detail: String,
}

/// Session time now, for sources that arrive live.
#[derive(Clone, Copy)]
pub struct SessionTime {
    pub offset_ms: u64,
    pub started: Instant,
}

impl SessionTime {
    pub fn now_ms(&self) -> u64 {
        self.offset_ms + self.started.elapsed().as_millis() as u64
    }
}

/// Where a source's decoded pictures and sound go (the program feed's inputs), with the program
/// pipeline whose running time their timestamps are put in.
#[derive(Clone)]
pub struct DecodedOutputs {
    pub program: gst::Pipeline,
    pub video: Option<gst_app::AppSrc>,
    pub audio: Option<gst_app::AppSrc>,
}

/// The program's sound format inside aula (ingests convert to it).
pub fn audio_caps() -> gst::Caps {
    gst::Caps::builder("audio/x-raw")
        .field("format", "F32LE")
        .field("layout", "interleaved")
        .field("rate", 48_000i32)
        .field("channels", 2i32)
        .build()
}
