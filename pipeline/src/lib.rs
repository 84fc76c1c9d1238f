//! aula's live side with GStreamer: each source recorded as received (H.264 and AAC passed through,
//! no re-encoding) in self-contained MP4 segments of about ten seconds, so that a crash loses at
//! most the segment being written; a recording index with each segment's span in session time; and
//! the segments of a source joined into one file without re-encoding; live HLS of the program feed
//! in several renditions, with live captions as a WebVTT rendition.
//!
//! Modules depend downwards only: `gst`, `source`, `closed`, `watchdog`; then `hls`, `captions`, `index`,
//! `director`; then `live`, `program`, `ingest`, `record`, `join` (tests/architecture.rs checks).

pub mod captions;
pub mod card;
pub mod closed;
pub mod director;
pub mod gst;
pub mod hls;
pub mod index;
pub mod ingest;
pub mod join;
pub mod live;
pub mod lower_third;
pub mod program;
pub mod record;
pub mod source;
pub mod watchdog;

pub use gst::PipelineError;
pub use index::{RecordingIndex, Segment};
pub use join::{finalize, FinalizeOptions};
pub use record::{record, RecordOptions, RecordReport};
pub use source::{Input, SourceEvent, SourceInput, SourceState};
