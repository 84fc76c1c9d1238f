//! The review of a session's record by the presidency's staff: the transcript in lines with every
//! word and its confidence, where the recording's file sits in session time, and the "reviewed"
//! mark of each agenda item.

use anyhow::Result;
use serde::Serialize;
use session::{Session, SessionId, Timeline};

use crate::catalogue::{Catalogue, ItemReview};
use crate::media::MediaFile;
use crate::BadInput;

/// Below this Whisper confidence a word is highlighted for a second look.
pub const LOW_CONFIDENCE: f32 = 0.5;

/// The most words in one line.
const MAX_LINE_WORDS: usize = 20;

/// A pause that starts a new line.
const LINE_PAUSE_MS: u64 = 2_000;

/// One word of a line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReviewWord {
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Whisper's confidence, 0 to 1.
    pub confidence: f32,
    pub low: bool,
}

/// A line of the transcript: one speaker, one agenda item, wholly inside or outside a closed part.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReviewLine {
    pub start_ms: u64,
    pub end_ms: u64,
    /// The roster id of the speaker; none when unknown.
    pub person: Option<String>,
    pub item: Option<u32>,
    pub closed: bool,
    pub words: Vec<ReviewWord>,
}

/// The timeline's words in lines. A line never spans a change of speaker or item, the edge of a
/// closed part, or a pause of 2 s; the words of closed parts are left out unless `with_closed`.
pub fn lines(session: &Session, timeline: &Timeline, with_closed: bool) -> Vec<ReviewLine> {
    let mut lines: Vec<ReviewLine> = Vec::new();
    for w in &timeline.words {
        let closed = session.touches_closed(w.start_ms, w.end_ms.max(w.start_ms + 1));
        if closed && !with_closed {
            continue;
        }
        let word = ReviewWord {
            text: w.text.trim().to_owned(),
            start_ms: w.start_ms.0,
            end_ms: w.end_ms.0,
            confidence: w.asr_confidence,
            low: w.asr_confidence < LOW_CONFIDENCE,
        };
        match lines.last_mut() {
            Some(l)
                if l.person == w.person
                    && l.item == w.item
                    && l.closed == closed
                    && l.words.len() < MAX_LINE_WORDS
                    && word.start_ms.saturating_sub(l.end_ms) < LINE_PAUSE_MS =>
            {
                l.end_ms = l.end_ms.max(word.end_ms);
                l.words.push(word);
            }
            _ => lines.push(ReviewLine {
                start_ms: word.start_ms,
                end_ms: word.end_ms,
                person: w.person.clone(),
                item: w.item,
                closed,
                words: vec![word],
            }),
        }
    }
    lines
}

/// A stretch of the recording's file and where it sits in session time, for a player to follow.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Placement {
    pub file_ms: u64,
    pub session_ms: u64,
    pub len_ms: u64,
}

/// Where the file's stretches sit in session time: one stretch at 0 when the file's time is
/// session time, else one per recorded segment (a recording started late, a source lost).
pub fn placements(media: &MediaFile) -> Vec<Placement> {
    match &media.index {
        None => vec![Placement {
            file_ms: 0,
            session_ms: 0,
            len_ms: u64::MAX / 2,
        }],
        Some(index) => index
            .in_file()
            .map(|(s, file_ms)| Placement {
                file_ms,
                session_ms: s.start_ms,
                len_ms: s.end_ms.saturating_sub(s.start_ms),
            })
            .collect(),
    }
}

/// Marks item `item` of session `id` as reviewed by `reviewer` (or takes the mark away); the
/// session's marks after the change.
pub async fn mark(
    catalogue: &Catalogue,
    id: &SessionId,
    item: u32,
    reviewer: &str,
    reviewed: bool,
) -> Result<Vec<ItemReview>> {
    let session = catalogue.get(id).await?.session;
    if !session.agenda.iter().any(|i| i.number == item) {
        let numbers: Vec<String> = session
            .agenda
            .iter()
            .map(|i| i.number.to_string())
            .collect();
        return Err(BadInput(format!(
            "session {id} has no agenda item {item} (its items: {})",
            if numbers.is_empty() {
                "none".to_owned()
            } else {
                numbers.join(", ")
            }
        ))
        .into());
    }
    catalogue.set_review(id, item, reviewer, reviewed).await?;
    Ok(catalogue.reviews(id).await?)
}

/// The start times of the words of `timeline` that the staff corrected: words whose text, time
/// or speaker is not as the alignment (`base`) had them.
pub fn corrected_words(base: &Timeline, timeline: &Timeline) -> std::collections::HashSet<u64> {
    let aligned: std::collections::HashSet<_> = base
        .words
        .iter()
        .map(|w| (w.start_ms, w.text.trim(), w.person.as_deref()))
        .collect();
    timeline
        .words
        .iter()
        .filter(|w| !aligned.contains(&(w.start_ms, w.text.trim(), w.person.as_deref())))
        .map(|w| w.start_ms.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use session::{SessionMs, TimelineWord};

    use super::*;

    #[test]
    fn a_word_changed_in_text_or_speaker_is_corrected() {
        let base = Timeline {
            words: vec![
                word("bilancio", 1_000, "rossi", 1, 0.9),
                word("aprovato", 1_500, "rossi", 1, 0.9),
                word("grazie", 3_000, "rossi", 1, 0.9),
            ],
            ..Timeline::default()
        };
        let mut corrected = base.clone();
        corrected.words[1].text = "approvato".into();
        corrected.words[2].person = Some("chair".into());
        let changed = corrected_words(&base, &corrected);
        assert_eq!(changed, [1_500, 3_000].into_iter().collect());
        assert!(corrected_words(&base, &base).is_empty());
    }

    fn word(text: &str, start_ms: u64, person: &str, item: u32, asr: f32) -> TimelineWord {
        TimelineWord {
            text: text.to_owned(),
            start_ms: SessionMs(start_ms),
            end_ms: SessionMs(start_ms + 400),
            person: Some(person.to_owned()),
            item: Some(item),
            confidence: 1.0,
            asr_confidence: asr,
            segment: 0,
        }
    }

    #[test]
    fn a_line_ends_at_a_new_speaker_item_pause_or_closed_part() {
        // The closed part is 50-55 s.
        let session = crate::ops::testing::session();
        let timeline = Timeline {
            words: vec![
                word("buongiorno", 45_000, "chair", 1, 0.9),
                word("a", 45_500, "chair", 1, 0.9),
                word("tutti", 46_000, "rossi", 1, 0.3),
                word("punto", 46_500, "rossi", 2, 0.9),
                word("dopo", 49_000, "rossi", 2, 0.9),
                word("segreto", 50_500, "rossi", 2, 0.9),
            ],
            ..Timeline::default()
        };
        let all = lines(&session, &timeline, true);
        let texts: Vec<Vec<&str>> = all
            .iter()
            .map(|l| l.words.iter().map(|w| w.text.as_str()).collect())
            .collect();
        assert_eq!(
            texts,
            [
                vec!["buongiorno", "a"],
                vec!["tutti"],
                vec!["punto"],
                vec!["dopo"],
                vec!["segreto"]
            ]
        );
        assert!(all[1].words[0].low && !all[0].words[0].low);
        assert!(all[4].closed && !all[3].closed);
        let public = lines(&session, &timeline, false);
        assert_eq!(public.len(), 4, "the closed word is left out");
    }
}
