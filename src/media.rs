//! Where a source's media is: a local file (resolved against the session document's folder) or a
//! network stream; after `aula record`, its finalized recording, placed in session time.

use std::path::{Path, PathBuf};

use pipeline::RecordingIndex;
use session::{Problem, Session, SessionMs, Source, Transcript};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Network(String),
}

/// Resolves a source uri: `file://` uris and plain paths become files, relative ones against `base`.
pub fn resolve(base: &Path, uri: &str) -> Location {
    match session::uri_scheme(uri) {
        Some("file") => Location::File(PathBuf::from(percent_decode(&uri["file://".len()..]))),
        Some(_) => Location::Network(uri.to_owned()),
        None => Location::File(base.join(uri)),
    }
}

/// A media file in session time: a file source's own, or `aula record`'s finalized recording.
#[derive(Clone, Debug)]
pub struct MediaFile {
    pub path: PathBuf,
    /// The recording's segments, which place the finalized file in session time (a recording
    /// started late, a source lost for a while). `None`: the file's time is session time.
    pub index: Option<RecordingIndex>,
}

impl MediaFile {
    /// Where session time `at` is in the file; `None` outside the recording or in one of its gaps.
    pub fn media_ms(&self, at: SessionMs) -> Option<u64> {
        match &self.index {
            Some(index) => index.file_ms(at.0),
            None => Some(at.0),
        }
    }

    /// The session time of the file's `media_ms`.
    pub fn session_ms(&self, media_ms: u64) -> SessionMs {
        SessionMs(match &self.index {
            Some(index) => index.session_ms(media_ms),
            None => media_ms,
        })
    }

    /// The session time of the file's span `[start, end)`: the end is where its last millisecond
    /// is, so a span that ends at a gap does not stretch across it.
    pub fn session_span(&self, start: SessionMs, end: SessionMs) -> (SessionMs, SessionMs) {
        let last = self.session_ms(end.0.saturating_sub(1).max(start.0));
        (
            self.session_ms(start.0),
            SessionMs(last.0 + u64::from(end > start)),
        )
    }

    /// Moves a transcript of this file into session time.
    pub fn place(&self, transcript: &mut Transcript) {
        if self.index.is_none() {
            return;
        }
        for segment in &mut transcript.segments {
            (segment.start_ms, segment.end_ms) =
                self.session_span(segment.start_ms, segment.end_ms);
            for word in &mut segment.words {
                (word.start_ms, word.end_ms) = self.session_span(word.start_ms, word.end_ms);
            }
        }
        transcript.duration_ms = self.session_ms(transcript.duration_ms.0);
    }

    /// The session time the recording spans, and its gaps, for messages.
    pub fn describe_span(&self) -> String {
        let Some(index) = &self.index else {
            return "the whole file".into();
        };
        let (Some(first), Some(last)) = (index.segments.first(), index.segments.last()) else {
            return "nothing".into();
        };
        let mut text = format!(
            "{} to {}",
            SessionMs(first.start_ms),
            SessionMs(last.end_ms)
        );
        for (from, to) in index.gaps() {
            text.push_str(&format!(
                ", except {} to {} (source lost)",
                SessionMs(from),
                SessionMs(to)
            ));
        }
        text
    }
}

/// A source's media after the session: its finalized recording in `recordings_dir` when `aula
/// record` made one, else its own file; `Err(uri)` for a live stream nobody recorded.
pub fn source_media(
    base: &Path,
    recordings_dir: &Path,
    source: &Source,
) -> Result<MediaFile, String> {
    if let Ok(index) = RecordingIndex::load(&recordings_dir.join(&source.id)) {
        if let Some(path) = index.finalized.as_deref().map(|f| recordings_dir.join(f)) {
            return Ok(MediaFile {
                path,
                index: Some(index),
            });
        }
    }
    match resolve(base, &source.uri) {
        Location::File(path) => Ok(MediaFile { path, index: None }),
        Location::Network(uri) => Err(uri),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A problem for every file source whose media file is missing.
pub fn missing_media(session: &Session, base: &Path) -> Vec<Problem> {
    session
        .sources
        .iter()
        .enumerate()
        .filter_map(|(i, source)| match resolve(base, &source.uri) {
            Location::File(path) if !path.is_file() => Some(Problem {
                path: format!("sources[{i}].uri"),
                reason: format!("media file not found: {}", path.display()),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_paths_and_file_uris() {
        let base = Path::new("/data/s1");
        assert_eq!(
            resolve(base, "camera.mp4"),
            Location::File("/data/s1/camera.mp4".into())
        );
        assert_eq!(
            resolve(base, "file:///media/a%20b.mp4"),
            Location::File("/media/a b.mp4".into())
        );
        assert_eq!(
            resolve(base, "srt://0.0.0.0:9000"),
            Location::Network("srt://0.0.0.0:9000".into())
        );
    }
}
