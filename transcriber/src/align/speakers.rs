//! Speaker attribution: who had the floor when each word was said, from the conference system's
//! mic on/off events and from the voice activity of remote streams and microphone channels. When
//! several people's evidence covers a word (the chair's mic stays on while a councillor speaks),
//! the person whose turn matches the speaking turn best wins. A word without evidence stays unknown.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use session::{MicAction, Session, SessionMs};

use super::Settings;

/// Where evidence of someone speaking comes from, in the order it is trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    Floor,
    Remote,
    Channel,
}

impl EvidenceKind {
    fn weight(self) -> f32 {
        match self {
            EvidenceKind::Floor => 1.0,
            EvidenceKind::Remote => 0.9,
            EvidenceKind::Channel => 0.85,
        }
    }
}

/// Voice activity of one person's own audio: a remote stream or a microphone channel of the room.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// The session source it was measured on (with `#channel` for a microphone channel).
    pub source: String,
    pub person: String,
    pub kind: EvidenceKind,
    pub spans: Vec<(SessionMs, SessionMs)>,
}

/// A stretch of session time in which one person may have spoken.
#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    pub person: String,
    pub kind: EvidenceKind,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// Mic-on intervals per person from the floor events; bad events are warned about and skipped.
pub fn floor_turns(session: &Session, end: SessionMs, warnings: &mut Vec<String>) -> Vec<Turn> {
    let clock = session.clock();
    let mut events = Vec::new();
    let mut latest = None;
    for (index, e) in session.floor_events.iter().enumerate() {
        let at = clock.to_session(e.at);
        let label = format!(
            "floor_events[{index}] ({} {} at {})",
            e.action.as_str(),
            match (&e.person, e.seat) {
                (Some(p), _) => format!("person {p}"),
                (None, Some(seat)) => format!("seat {seat}"),
                (None, None) => "no seat".to_owned(),
            },
            at.map_or_else(|| e.at.to_rfc3339(), |ms| ms.to_string())
        );
        if latest.is_some_and(|l| e.at < l) {
            warnings.push(format!(
                "{label} is earlier than the event before it; events are taken in time order"
            ));
        }
        latest = latest.max(Some(e.at));
        let person = match (&e.person, e.seat) {
            (Some(id), _) if session.person(id).is_some() => id.clone(),
            (Some(id), _) => {
                warnings.push(format!("{label}: {id} is not in the roster; ignored"));
                continue;
            }
            (None, Some(seat)) => match session.roster.iter().find(|p| p.seat == Some(seat)) {
                Some(p) => p.id.clone(),
                None => {
                    warnings.push(format!(
                        "{label}: nobody in the roster sits at seat {seat}; ignored"
                    ));
                    continue;
                }
            },
            (None, None) => {
                warnings.push(format!(
                    "{label} names neither a seat nor a person; ignored"
                ));
                continue;
            }
        };
        let at_ms = match at {
            Some(ms) => ms.0,
            None => {
                warnings.push(format!(
                    "{label} is before the session's start; taken as the start"
                ));
                0
            }
        };
        events.push((index, at_ms, person, e.action));
    }
    events.sort_by_key(|e| e.1);

    let mut open: BTreeMap<String, u64> = BTreeMap::new();
    let mut turns = Vec::new();
    for (index, at_ms, person, action) in events {
        match action {
            MicAction::MicOn => match open.entry(person) {
                std::collections::btree_map::Entry::Occupied(e) => warnings.push(format!(
                    "floor_events[{index}]: mic_on for {}, whose mic is already on; ignored",
                    e.key()
                )),
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(at_ms);
                }
            },
            MicAction::MicOff => match open.remove(&person) {
                Some(since) => turns.push(Turn {
                    person,
                    kind: EvidenceKind::Floor,
                    start_ms: since,
                    end_ms: at_ms,
                }),
                None => warnings.push(format!(
                    "floor_events[{index}]: mic_off for {person}, whose mic is not on; ignored"
                )),
            },
        }
    }
    // A mic still on at the end (often the chair's) stays on to the end of the session.
    turns.extend(open.into_iter().map(|(person, since)| Turn {
        person,
        kind: EvidenceKind::Floor,
        start_ms: since,
        end_ms: end.0.max(since),
    }));
    turns
}

/// Voice-activity turns; activity for people not in the roster, reversed spans and remote turns of
/// different people that overlap are warned about (microphone channels hear each other by nature).
pub fn activity_turns(
    session: &Session,
    activity: &[Activity],
    warnings: &mut Vec<String>,
) -> Vec<Turn> {
    const MAX_OVERLAP_WARNINGS: usize = 10;
    let mut turns = Vec::new();
    let mut labelled = Vec::new();
    for a in activity {
        if session.person(&a.person).is_none() {
            warnings.push(format!(
                "source {}: {} is not in the roster; its voice activity is ignored",
                a.source, a.person
            ));
            continue;
        }
        for &(start, end) in &a.spans {
            if end < start {
                warnings.push(format!(
                    "source {}: activity span {start}-{end} ends before it starts; ignored",
                    a.source
                ));
                continue;
            }
            turns.push(Turn {
                person: a.person.clone(),
                kind: a.kind,
                start_ms: start.0,
                end_ms: end.0,
            });
            if a.kind == EvidenceKind::Remote {
                labelled.push((start.0, end.0, &a.person, &a.source));
            }
        }
    }
    labelled.sort();
    let mut overlaps = 0;
    for (k, &(start, end, person, source)) in labelled.iter().enumerate() {
        for &(other_start, other_end, other_person, other_source) in &labelled[k + 1..] {
            if other_start >= end {
                break;
            }
            if other_person != person {
                overlaps += 1;
                if overlaps <= MAX_OVERLAP_WARNINGS {
                    warnings.push(format!(
                        "remote turns overlap: {source} ({person}) {}-{} and {other_source} \
                         ({other_person}) {}-{}; the words there go to the better-matching turn",
                        SessionMs(start),
                        SessionMs(end),
                        SessionMs(other_start),
                        SessionMs(other_end.min(end))
                    ));
                }
            }
        }
    }
    if overlaps > MAX_OVERLAP_WARNINGS {
        warnings.push(format!(
            "... and {} more overlapping remote turns",
            overlaps - MAX_OVERLAP_WARNINGS
        ));
    }
    turns
}

/// A person and a confidence for every word (`(start_ms, end_ms)`, sorted by start); `None` where
/// no evidence covers the word.
pub fn attribute(
    words: &[(u64, u64)],
    turns: &[Turn],
    settings: &Settings,
) -> Vec<(Option<String>, f32)> {
    let mut by_person: BTreeMap<&str, Vec<&Turn>> = BTreeMap::new();
    for t in turns {
        by_person.entry(&t.person).or_default().push(t);
    }
    let tolerance = |kind| match kind {
        EvidenceKind::Floor => settings.floor_tolerance_ms,
        _ => settings.activity_tolerance_ms,
    };
    let mut out = Vec::with_capacity(words.len());
    for group in speaking_turns(words, settings.turn_gap_ms) {
        let group_start = words[group.start].0;
        let group_end = group
            .clone()
            .map(|i| words[i].1)
            .max()
            .unwrap_or(group_start);
        // How well each person's evidence matches this speaking turn as a whole.
        let mut specificity: HashMap<&str, f32> = HashMap::new();
        for (person, person_turns) in &by_person {
            let best = person_turns
                .iter()
                .filter(|t| {
                    t.start_ms < group_end + tolerance(t.kind)
                        && group_start < t.end_ms + tolerance(t.kind)
                })
                .map(|t| closeness((t.start_ms, t.end_ms), (group_start, group_end)))
                .fold(None, |acc: Option<f32>, v| {
                    Some(acc.map_or(v, |a| a.max(v)))
                });
            if let Some(best) = best {
                specificity.insert(person, best);
            }
        }
        for i in group {
            let (start, end) = words[i];
            let mut scores: Vec<(f32, &str)> = Vec::new();
            for (person, spec) in &specificity {
                let dilated: Vec<(u64, u64, f32)> = by_person[person]
                    .iter()
                    .map(|t| {
                        let tol = tolerance(t.kind);
                        (
                            t.start_ms.saturating_sub(tol),
                            t.end_ms + tol,
                            t.kind.weight(),
                        )
                    })
                    .filter(|&(a, b, _)| a <= end && start <= b)
                    .collect();
                let coverage = coverage((start, end), &dilated);
                if coverage < settings.min_coverage {
                    continue;
                }
                let weight = dilated.iter().map(|d| d.2).fold(0.0, f32::max);
                scores.push((coverage * weight * (0.5 + 0.5 * spec), person));
            }
            scores.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
            out.push(match scores.as_slice() {
                [] => (None, 0.0),
                [(best, person), rest @ ..] => {
                    let second = rest.first().map_or(0.0, |r| r.0);
                    let confidence = (best - 0.5 * second).clamp(0.0, 1.0);
                    (
                        Some((*person).to_owned()),
                        (confidence * 100.0).round() / 100.0,
                    )
                }
            });
        }
    }
    out
}

/// Runs of words with no pause of `gap_ms` or more inside, as index ranges.
fn speaking_turns(words: &[(u64, u64)], gap_ms: u64) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut reach = 0;
    for (i, &(s, e)) in words.iter().enumerate() {
        if i > start && s >= reach + gap_ms {
            out.push(start..i);
            start = i;
        }
        reach = if i == start { e } else { reach.max(e) };
    }
    if start < words.len() {
        out.push(start..words.len());
    }
    out
}

/// How closely an evidence turn frames a speaking turn: 1 when both edges match, falling with the
/// distance between the starts plus the distance between the ends (half at 5 s). A mic left on
/// for minutes frames a 10-second turn poorly; the councillor's own mic-on frames it well.
fn closeness(turn: (u64, u64), speech: (u64, u64)) -> f32 {
    const HALF_AT_MS: f32 = 5000.0;
    let distance = turn.0.abs_diff(speech.0) + turn.1.abs_diff(speech.1);
    HALF_AT_MS / (HALF_AT_MS + distance as f32)
}

/// Share of `word` inside the union of `spans`; a zero-length word counts as covered when inside.
fn coverage(word: (u64, u64), spans: &[(u64, u64, f32)]) -> f32 {
    let (start, end) = word;
    if end <= start {
        return if spans.iter().any(|s| s.0 <= start && start <= s.1) {
            1.0
        } else {
            0.0
        };
    }
    let mut pieces: Vec<(u64, u64)> = spans
        .iter()
        .map(|s| (s.0.max(start), s.1.min(end)))
        .filter(|p| p.0 < p.1)
        .collect();
    pieces.sort();
    let mut covered = 0;
    let mut reach = start;
    for (a, b) in pieces {
        let a = a.max(reach);
        if b > a {
            covered += b - a;
            reach = b;
        }
    }
    covered as f32 / (end - start) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(person: &str, kind: EvidenceKind, start_ms: u64, end_ms: u64) -> Turn {
        Turn {
            person: person.into(),
            kind,
            start_ms,
            end_ms,
        }
    }

    fn names(out: &[(Option<String>, f32)]) -> Vec<Option<&str>> {
        out.iter().map(|(p, _)| p.as_deref()).collect()
    }

    #[test]
    fn no_evidence_no_name() {
        let out = attribute(&[(0, 300), (400, 700)], &[], &Settings::default());
        assert_eq!(names(&out), [None, None]);
    }

    #[test]
    fn open_chair_mic_loses_to_the_councillor_whose_turn_matches() {
        // The chair's mic is on all along; the councillor's from 5 s to 9 s (with jitter).
        let turns = [
            turn("chair", EvidenceKind::Floor, 0, 60_000),
            turn("rossi", EvidenceKind::Floor, 5_250, 8_800),
        ];
        let words = [
            (1_000, 1_400),
            (1_450, 2_000),
            (5_000, 5_400),
            (5_500, 6_000),
            (8_600, 9_000),
            (10_500, 11_000),
        ];
        let out = attribute(&words, &turns, &Settings::default());
        assert_eq!(
            names(&out),
            [
                Some("chair"),
                Some("chair"),
                Some("rossi"),
                Some("rossi"),
                Some("rossi"),
                Some("chair")
            ]
        );
        assert!(out[3].1 > out[0].1 * 0.5, "{out:?}");
    }

    #[test]
    fn remote_activity_names_the_remote_participant() {
        let turns = [
            turn("chair", EvidenceKind::Floor, 0, 30_000),
            turn("remote", EvidenceKind::Remote, 10_000, 14_000),
        ];
        let out = attribute(
            &[(10_100, 10_500), (13_500, 13_900)],
            &turns,
            &Settings::default(),
        );
        assert_eq!(names(&out), [Some("remote"), Some("remote")]);
    }

    #[test]
    fn words_outside_any_turn_stay_unknown() {
        let turns = [turn("rossi", EvidenceKind::Floor, 5_000, 8_000)];
        let out = attribute(
            &[(1_000, 1_500), (8_300, 8_600), (9_000, 9_500)],
            &turns,
            &Settings::default(),
        );
        assert_eq!(names(&out), [None, Some("rossi"), None]);
    }

    #[test]
    fn speaking_turns_split_at_pauses() {
        let words = [(0, 100), (150, 300), (900, 1000), (1000, 1100)];
        assert_eq!(speaking_turns(&words, 350), vec![0..2, 2..4]);
        assert_eq!(
            speaking_turns(&[], 350),
            Vec::<std::ops::Range<usize>>::new()
        );
    }

    #[test]
    fn coverage_counts_overlapping_spans_once() {
        let spans = [(0, 50, 1.0), (25, 75, 1.0)];
        assert!((coverage((0, 100), &spans) - 0.75).abs() < 1e-6);
        assert_eq!(coverage((60, 60), &spans), 1.0);
    }
}
