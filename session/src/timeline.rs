//! The aligned session: agenda item spans, interventions and every word with its speaker and item,
//! as the alignment makes it and corrections change it.

use serde::{Deserialize, Serialize};

use crate::{Intervention, Segment, SessionMs, Transcript, Word};

/// The session as the press office reads it: items, interventions and every word with its speaker.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub items: Vec<ItemSpan>,
    pub interventions: Vec<Intervention>,
    pub words: Vec<TimelineWord>,
}

/// The stretch of the session spent on one agenda item; an item taken up again appears again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemSpan {
    pub number: u32,
    pub title: String,
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
    /// 1 for a clerk's marker or a correction; lower for boundaries found in the transcript.
    pub confidence: f32,
}

/// A word with its speaker (`person` is a roster id, none when unknown) and agenda item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineWord {
    pub text: String,
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
    pub person: Option<String>,
    pub item: Option<u32>,
    /// Confidence of the speaker attribution (0 when unknown, 1 when set by a correction).
    pub confidence: f32,
    /// Whisper's confidence in the word itself.
    pub asr_confidence: f32,
    /// The transcript segment the word came from.
    pub segment: usize,
}

impl Timeline {
    /// The timeline without a word or an intervention of the session's closed parts, for everyone
    /// but the presidency's staff. Item spans stay (an agenda item's title is public).
    pub fn without_closed(&self, session: &crate::Session) -> Timeline {
        Timeline {
            items: self.items.clone(),
            interventions: self
                .interventions
                .iter()
                .filter(|i| !session.touches_closed(i.start_ms, i.end_ms.max(i.start_ms + 1)))
                .cloned()
                .collect(),
            words: self
                .words
                .iter()
                .filter(|w| !session.touches_closed(w.start_ms, w.end_ms.max(w.start_ms + 1)))
                .cloned()
                .collect(),
        }
    }

    /// The item whose span holds `at`, if any.
    pub fn item_at(&self, at: SessionMs) -> Option<u32> {
        self.items
            .iter()
            .find(|s| s.start_ms <= at && at < s.end_ms)
            .map(|s| s.number)
    }

    /// The transcript as corrected and attributed: segments split where the speaker or the item
    /// changes, each word carrying its person and item.
    pub fn transcript(&self, base: &Transcript) -> Transcript {
        let mut segments: Vec<Segment> = Vec::new();
        let mut key = None;
        for w in &self.words {
            let this = (w.segment, w.person.as_deref(), w.item);
            let word = Word {
                text: w.text.clone(),
                start_ms: w.start_ms,
                end_ms: w.end_ms,
                confidence: w.asr_confidence,
                person: w.person.clone(),
                item: w.item,
            };
            match segments.last_mut() {
                Some(s) if key == Some(this) => {
                    s.end_ms = s.end_ms.max(w.end_ms);
                    s.text.push(' ');
                    s.text.push_str(&w.text);
                    s.words.push(word);
                }
                _ => segments.push(Segment {
                    start_ms: w.start_ms,
                    end_ms: w.end_ms,
                    text: w.text.clone(),
                    words: vec![word],
                }),
            }
            key = Some(this);
        }
        Transcript {
            language: base.language.clone(),
            model: base.model.clone(),
            duration_ms: base.duration_ms,
            segments,
        }
    }

    /// Share of word time (0..=1) that carries a person.
    pub fn attributed_share(&self) -> f32 {
        let (named, total) = self.words.iter().fold((0u64, 0u64), |(n, t), w| {
            let d = w.start_ms.until(w.end_ms);
            (n + if w.person.is_some() { d } else { 0 }, t + d)
        });
        if total == 0 {
            0.0
        } else {
            named as f32 / total as f32
        }
    }
}
