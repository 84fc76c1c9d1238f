//! Who spoke, and on which agenda item. Speaker attribution from floor events and from the voice
//! activity of remote streams and microphone channels; agenda items from the clerk's markers or
//! from the chair's announcements; interventions; corrections that can be undone.
//! Pure logic, fed with plain data (the session document, the transcript, activity spans).

pub mod agenda;
pub mod corrections;
pub mod interventions;
pub mod speakers;
pub mod words;

use serde::{Deserialize, Serialize};
use session::{Intervention, Person, Segment, Session, SessionMs, Transcript, Word};

pub use corrections::{Correction, CorrectionError, Edit};
pub use speakers::{Activity, EvidenceKind};

/// Tuning of the alignment; the defaults suit conference systems with up to ~300 ms of jitter.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How far outside a mic-on interval a word may lie and still be that person's.
    pub floor_tolerance_ms: u64,
    /// The same for voice activity of a remote stream or a microphone channel.
    pub activity_tolerance_ms: u64,
    /// A pause at least this long between two words separates speaking turns.
    pub turn_gap_ms: u64,
    /// Below this share of a word covered by someone's evidence the word stays unknown.
    pub min_coverage: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            floor_tolerance_ms: 450,
            activity_tolerance_ms: 200,
            turn_gap_ms: 350,
            min_coverage: 0.5,
        }
    }
}

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

/// A timeline and what was wrong with the evidence it was built from.
#[derive(Clone, Debug, PartialEq)]
pub struct Alignment {
    pub timeline: Timeline,
    pub warnings: Vec<String>,
    /// Where the item boundaries came from.
    pub agenda_source: AgendaSource,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgendaSource {
    Markers,
    Transcript,
}

/// Attributes every word of `transcript` to a person (or none) and to an agenda item.
pub fn align(
    session: &Session,
    transcript: &Transcript,
    activity: &[Activity],
    settings: &Settings,
) -> Alignment {
    let mut warnings = Vec::new();
    let mut words: Vec<TimelineWord> = transcript
        .segments
        .iter()
        .enumerate()
        .flat_map(|(segment, s)| {
            s.words.iter().map(move |w| TimelineWord {
                text: w.text.clone(),
                start_ms: w.start_ms,
                end_ms: w.end_ms.max(w.start_ms),
                person: None,
                item: None,
                confidence: 0.0,
                asr_confidence: w.confidence,
                segment,
            })
        })
        .collect();
    words.sort_by_key(|w| w.start_ms);
    let end_ms = transcript
        .duration_ms
        .max(words.last().map_or(SessionMs::ZERO, |w| w.end_ms));

    let mut turns = speakers::floor_turns(session, end_ms, &mut warnings);
    turns.extend(speakers::activity_turns(session, activity, &mut warnings));
    let spans: Vec<(u64, u64)> = words.iter().map(|w| (w.start_ms.0, w.end_ms.0)).collect();
    for (word, (person, confidence)) in words
        .iter_mut()
        .zip(speakers::attribute(&spans, &turns, settings))
    {
        word.person = person;
        word.confidence = confidence;
    }

    let (items, agenda_source) = if session.agenda_markers.is_empty() {
        (
            agenda::find_items(session, &words, end_ms, &mut warnings),
            AgendaSource::Transcript,
        )
    } else {
        (
            agenda::from_markers(session, end_ms, &mut warnings),
            AgendaSource::Markers,
        )
    };
    let mut timeline = Timeline {
        items,
        interventions: Vec::new(),
        words,
    };
    timeline.derive(&session.roster);
    Alignment {
        timeline,
        warnings,
        agenda_source,
    }
}

impl Timeline {
    /// Re-derives what follows from the words and the item spans: each word's item and the
    /// interventions.
    pub fn derive(&mut self, roster: &[Person]) {
        for word in &mut self.words {
            let mid = (word.start_ms.0 + word.end_ms.0) / 2;
            word.item = self
                .items
                .iter()
                .find(|s| s.start_ms.0 <= mid && mid < s.end_ms.0)
                .map(|s| s.number);
        }
        self.interventions = interventions::derive(&self.words, roster);
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
