//! aula's publisher: clips of a session's recording per agenda item, intervention, person or range,
//! in the formats of the output presets, with subtitles and name captions; posters, press packages,
//! the press feed and the clip report. FFmpeg (ffmpeg-next) does the media work; cue layout,
//! ranges, documents and reports are pure functions.
//!
//! ```
//! use publisher::cues::{self, CueLayout, CueWord};
//! let word = |text: &str, start_ms, end_ms| CueWord {
//!     text: text.into(),
//!     start_ms,
//!     end_ms,
//!     speaker: None,
//! };
//! let words = [word("Buonasera", 0, 600), word("consiglieri.", 650, 1400)];
//! let srt = cues::to_srt(&cues::layout(&words, &CueLayout::new(42, 2)));
//! assert!(srt.starts_with("1\n00:00:00,000 --> "), "{srt}");
//! assert!(srt.contains("Buonasera consiglieri."));
//! ```

pub mod clip;
pub mod cues;
pub mod package;
pub mod probe;
pub mod request;
pub mod vod;
