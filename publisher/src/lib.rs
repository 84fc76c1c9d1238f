//! aula's publisher: clips of a session's recording per agenda item, intervention, person or range,
//! in the formats of the output presets, with subtitles and name captions; posters, press packages,
//! the press feed and the clip report. FFmpeg (ffmpeg-next) does the media work; cue layout,
//! ranges, documents and reports are pure functions.

pub mod clip;
pub mod cues;
pub mod package;
pub mod probe;
pub mod request;
