//! What a session produces: the transcript with timed words, interventions and clips.

use serde::{Deserialize, Serialize};

use crate::time::SessionMs;

/// The text of a session with a time for every word, in session time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub language: String,
    pub model: String,
    pub duration_ms: SessionMs,
    pub segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
    pub text: String,
    pub words: Vec<Word>,
}

/// One spoken word; `person` is a roster id (none when unknown), `item` an agenda number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
    pub confidence: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
}

impl Word {
    /// A word as the transcriber hears it, with no person or item yet.
    pub fn heard(
        text: impl Into<String>,
        start_ms: SessionMs,
        end_ms: SessionMs,
        confidence: f32,
    ) -> Word {
        Word {
            text: text.into(),
            start_ms,
            end_ms,
            confidence,
            person: None,
            item: None,
        }
    }
}

impl Segment {
    /// The segment these words make: their span, and their texts joined by spaces; `None` for
    /// no words.
    pub fn from_words(words: Vec<Word>) -> Option<Segment> {
        let start_ms = words.first()?.start_ms;
        let end_ms = words.iter().map(|w| w.end_ms).max()?;
        Some(Segment {
            start_ms,
            end_ms,
            text: words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            words,
        })
    }
}

impl Transcript {
    pub fn words(&self) -> impl Iterator<Item = &Word> {
        self.segments.iter().flat_map(|s| s.words.iter())
    }

    /// The plain text, one segment a line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            out.push_str(segment.text.trim());
            out.push('\n');
        }
        out
    }
}

/// One person's contiguous speaking turn on one agenda item (intervento).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intervention {
    pub person: Option<String>,
    pub item: Option<u32>,
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
    pub text: String,
}

/// A published excerpt of the session's recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clip {
    pub id: String,
    pub session: String,
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    pub preset: String,
    /// Path of the media file, relative to the session's folder.
    pub path: String,
}
