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
use session::{Person, Session, SessionMs, Transcript};

pub use session::{ItemSpan, Timeline, TimelineWord};

pub use corrections::{apply, Correction, CorrectionError, Edit};
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
    derive(&mut timeline, &session.roster);
    Alignment {
        timeline,
        warnings,
        agenda_source,
    }
}

/// Re-derives what follows from the words and the item spans: each word's item and the
/// interventions.
pub fn derive(timeline: &mut Timeline, roster: &[Person]) {
    let items: Vec<Option<u32>> = timeline
        .words
        .iter()
        .map(|w| timeline.item_at(SessionMs((w.start_ms.0 + w.end_ms.0) / 2)))
        .collect();
    for (word, item) in timeline.words.iter_mut().zip(items) {
        word.item = item;
    }
    timeline.interventions = interventions::derive(&timeline.words, roster);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use session::{AgendaItem, AgendaMarker, FloorEvent, ItemKind, MicAction, Role, Segment, Word};

    fn session() -> Session {
        let mut s: Session = session::from_json(
            r#"{"id":"s","body":"b","title":"t","start":"2021-03-15T17:00:00Z","mode":"hybrid"}"#,
        )
        .unwrap();
        for (k, (id, role, seat)) in [
            ("chair", Role::Chair, Some(1)),
            ("rossi", Role::Councillor, Some(2)),
            ("verdi", Role::Councillor, Some(3)),
            ("neri", Role::Councillor, None),
        ]
        .into_iter()
        .enumerate()
        {
            s.roster.push(Person {
                id: id.into(),
                name: format!("P{k}"),
                role,
                group: None,
                seat,
            });
        }
        for number in 1..=3 {
            s.agenda.push(AgendaItem {
                number,
                title: format!("Titolo numero {number}"),
                kind: ItemKind::Other,
                act: None,
                rapporteur: None,
                proposer_group: None,
            });
        }
        s
    }

    fn transcript(words: &[(u64, u64, &str)]) -> Transcript {
        Transcript {
            language: "it".into(),
            model: "test".into(),
            duration_ms: SessionMs(words.iter().map(|w| w.1).max().unwrap_or(0) + 1000),
            segments: words
                .chunks(4)
                .filter_map(|chunk| {
                    Segment::from_words(
                        chunk
                            .iter()
                            .map(|&(start, end, text)| {
                                Word::heard(text, SessionMs(start), SessionMs(end), 0.9)
                            })
                            .collect(),
                    )
                })
                .collect(),
        }
    }

    fn event(
        s: &Session,
        ms: i64,
        seat: Option<u32>,
        person: Option<&str>,
        on: bool,
    ) -> FloorEvent {
        FloorEvent {
            at: s.start + chrono::Duration::milliseconds(ms),
            seat,
            person: person.map(String::from),
            action: if on {
                MicAction::MicOn
            } else {
                MicAction::MicOff
            },
        }
    }

    #[test]
    fn bad_evidence_is_named_in_warnings_and_still_aligned() {
        let mut s = session();
        s.floor_events = vec![
            event(&s, 5_000, Some(2), None, true),
            event(&s, 1_000, Some(1), None, true),
            event(&s, 6_000, Some(31), None, true),
            event(&s, 7_000, None, Some("ghost"), true),
            event(&s, 8_000, Some(2), None, true),
            event(&s, 9_000, Some(2), None, false),
            event(&s, -2_000, Some(3), None, true),
            event(&s, 9_500, None, None, true),
            event(&s, 9_600, Some(2), None, false),
        ];
        s.agenda_markers = vec![AgendaMarker {
            at: s.start + chrono::Duration::milliseconds(4_000),
            item: 9,
        }];
        let activity = [
            Activity {
                source: "remote-neri".into(),
                person: "neri".into(),
                kind: EvidenceKind::Remote,
                spans: vec![(SessionMs(10_000), SessionMs(12_000))],
            },
            Activity {
                source: "remote-x".into(),
                person: "rossi".into(),
                kind: EvidenceKind::Remote,
                spans: vec![(SessionMs(11_000), SessionMs(11_500))],
            },
            Activity {
                source: "remote-y".into(),
                person: "bianchi".into(),
                kind: EvidenceKind::Remote,
                spans: vec![(SessionMs(1), SessionMs(2))],
            },
        ];
        let t = transcript(&[(5_100, 5_400, "Grazie"), (10_100, 10_400, "Buonasera")]);
        let a = align(&s, &t, &activity, &Settings::default());
        let all = a.warnings.join("\n");
        for expected in [
            "floor_events[1] (mic_on seat 1 at 00:00:01.000) is earlier than the event before it",
            "floor_events[2] (mic_on seat 31 at 00:00:06.000): nobody in the roster sits at seat 31",
            "floor_events[3] (mic_on person ghost at 00:00:07.000): ghost is not in the roster",
            "floor_events[4]: mic_on for rossi, whose mic is already on",
            "floor_events[8]: mic_off for rossi, whose mic is not on",
            "floor_events[6] (mic_on seat 3 at 2021-03-15T16:59:58+00:00) is before the session's start",
            "floor_events[7] (mic_on no seat at 00:00:09.500) names neither a seat nor a person",
            "agenda_markers[0] (item 9 at 00:00:04.000): there is no item 9 on the agenda",
            "remote turns overlap: remote-neri (neri) 00:00:10.000-00:00:12.000 and remote-x (rossi)",
            "source remote-y: bianchi is not in the roster",
        ] {
            assert!(all.contains(expected), "{expected:?} not in\n{all}");
        }
        assert_eq!(a.timeline.words.len(), 2);
        assert_eq!(a.timeline.words[0].person.as_deref(), Some("rossi"));
        assert_eq!(a.timeline.words[1].person.as_deref(), Some("neri"));
        assert!(a.timeline.items.is_empty());
    }

    const VOCABULARY: [&str; 14] = [
        "punto",
        "tre",
        "2",
        "primo",
        "passiamo",
        "rinviato",
        "riprendiamo",
        "titolo",
        "numero",
        "item",
        "the",
        "grazie.",
        "all'ordine",
        "giorno",
    ];

    proptest! {
        #[test]
        fn every_word_is_assigned_once_and_items_stay_in_order(
            words in prop::collection::vec((0u64..3_000, 0u64..900, 0usize..VOCABULARY.len()), 0..80),
            events in prop::collection::vec((-1_000i64..120_000, 0u32..5, any::<bool>()), 0..30),
            remote in prop::collection::vec((0u64..120_000, 0u64..10_000), 0..6),
        ) {
            let mut s = session();
            s.floor_events = events
                .iter()
                .map(|&(ms, seat, on)| event(&s, ms, Some(seat), None, on))
                .collect();
            let mut at = 0;
            let timed: Vec<(u64, u64, &str)> = words
                .iter()
                .map(|&(gap, len, w)| {
                    at += gap;
                    let word = (at, at + len, VOCABULARY[w]);
                    at += len;
                    word
                })
                .collect();
            let activity = [Activity {
                source: "remote-neri".into(),
                person: "neri".into(),
                kind: EvidenceKind::Remote,
                spans: remote.iter().map(|&(a, len)| (SessionMs(a), SessionMs(a + len))).collect(),
            }];
            let t = transcript(&timed);
            let a = align(&s, &t, &activity, &Settings::default());
            let tl = &a.timeline;
            // Every word exactly once, each with at most one person from the roster.
            let mut given: Vec<(u64, &str)> = timed.iter().map(|w| (w.0, w.2)).collect();
            let mut got: Vec<(u64, &str)> = tl.words.iter().map(|w| (w.start_ms.0, w.text.as_str())).collect();
            given.sort();
            got.sort();
            prop_assert_eq!(given, got);
            for w in &tl.words {
                if let Some(p) = &w.person {
                    prop_assert!(s.person(p).is_some());
                }
                prop_assert!((0.0..=1.0).contains(&w.confidence));
            }
            for pair in tl.items.windows(2) {
                prop_assert!(pair[0].start_ms < pair[1].start_ms);
                prop_assert!(pair[0].end_ms <= pair[1].start_ms);
            }
            for span in &tl.items {
                prop_assert!(s.item(span.number).is_some());
            }
            for pair in tl.interventions.windows(2) {
                prop_assert!(pair[0].end_ms <= pair[1].start_ms);
            }
        }
    }
}
