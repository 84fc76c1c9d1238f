//! A session's transcript files (`transcript.{json,srt,vtt,txt}`, `timeline.json`), written from
//! its transcript or its corrected timeline.

use std::path::Path;

use anyhow::{Context, Result};
use session::{Session, SessionId, Transcript};
use transcriber::align::Timeline;

use crate::config::Config;
use crate::fsutil::write_atomic;

/// `transcript.{json,srt,vtt,txt}` in `dir`; the text names the speaker of each passage when known.
pub fn write_transcript_files(
    dir: &Path,
    transcript: &Transcript,
    session: &Session,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let files = [
        ("transcript.json", session::to_json(transcript)),
        ("transcript.srt", session::subtitles::to_srt(transcript)),
        ("transcript.vtt", session::subtitles::to_vtt(transcript)),
        ("transcript.txt", text_with_speakers(transcript, session)),
    ];
    for (name, text) in files {
        write_atomic(&dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

/// `transcripts/timeline.json` and the transcript files, from the corrected timeline.
pub fn write_timeline_files(
    config: &Config,
    id: &SessionId,
    session: &Session,
    transcript: &Transcript,
    timeline: &Timeline,
) -> Result<()> {
    let dir = config.transcripts_dir(id);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_atomic(
        &dir.join("timeline.json"),
        session::to_json(timeline).as_bytes(),
    )?;
    write_transcript_files(&dir, &timeline.transcript(transcript), session)
}

/// One paragraph per change of speaker, headed by the time and the speaker's name; a transcript
/// without speakers is one segment a line.
pub fn text_with_speakers(transcript: &Transcript, session: &Session) -> String {
    if transcript.words().all(|w| w.person.is_none()) {
        return transcript.text();
    }
    let mut out = String::new();
    let mut current: Option<Option<&str>> = None;
    for segment in &transcript.segments {
        let person = segment.words.first().and_then(|w| w.person.as_deref());
        if current == Some(person) {
            out.push(' ');
        } else {
            if current.is_some() {
                out.push_str("\n\n");
            }
            let name = person.map_or("(unknown)", |id| session.name_of(id));
            out.push_str(&format!("[{}] {name}: ", segment.start_ms));
            current = Some(person);
        }
        out.push_str(segment.text.trim());
    }
    out.push('\n');
    out
}
