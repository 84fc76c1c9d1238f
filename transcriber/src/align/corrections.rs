//! Corrections: what a person asks for ("these words were said by Rossi", "item 3 starts at
//! 00:12:05", "this passage reads ...") becomes an exact edit of the timeline, and applying an edit
//! returns the edit that undoes it, so every revision can be shown before and after and reverted.

use serde::{Deserialize, Serialize};
use session::{Person, SessionMs};

use super::{Timeline, TimelineWord};

/// A correction as the presidency's staff asks for it, in session time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Correction {
    /// The words starting between the two times were said by `person` (none: unknown).
    Reassign {
        start_ms: SessionMs,
        end_ms: SessionMs,
        person: Option<String>,
    },
    /// The span of `item` that starts nearest `start_ms` starts at `start_ms` instead.
    MoveBoundary { item: u32, start_ms: SessionMs },
    /// The words starting between the two times read `text`.
    ReplaceText {
        start_ms: SessionMs,
        end_ms: SessionMs,
        text: String,
    },
}

/// An exact change of a timeline, by position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Edit {
    SetPersons {
        first: usize,
        persons: Vec<(Option<String>, f32)>,
    },
    SetBoundary {
        span: usize,
        start_ms: SessionMs,
        /// The end of the span before, which normally follows the start.
        previous_end_ms: Option<SessionMs>,
        confidence: f32,
    },
    SetWords {
        first: usize,
        count: usize,
        words: Vec<TimelineWord>,
    },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CorrectionError {
    #[error("{0} is not in the session's roster")]
    UnknownPerson(String),
    #[error("the range {start_ms}-{end_ms} is empty or reversed (expected start before end)")]
    BadRange {
        start_ms: SessionMs,
        end_ms: SessionMs,
    },
    #[error("no word starts between {start_ms} and {end_ms}")]
    NoWords {
        start_ms: SessionMs,
        end_ms: SessionMs,
    },
    #[error("item {0} has no span in the timeline")]
    UnknownItem(u32),
    #[error(
        "item {item} cannot start at {start_ms}: it must start after {after} and before {before}"
    )]
    BoundaryOutOfOrder {
        item: u32,
        start_ms: SessionMs,
        after: SessionMs,
        before: SessionMs,
    },
    #[error("the replacement text is empty")]
    EmptyText,
    #[error("the edit does not fit this timeline ({0})")]
    Stale(String),
}

impl Correction {
    /// The exact edit this correction makes to `timeline`.
    pub fn edit(&self, timeline: &Timeline, roster: &[Person]) -> Result<Edit, CorrectionError> {
        match self {
            Correction::Reassign {
                start_ms,
                end_ms,
                person,
            } => {
                if let Some(p) = person {
                    if !roster.iter().any(|r| &r.id == p) {
                        return Err(CorrectionError::UnknownPerson(p.clone()));
                    }
                }
                let range = word_range(timeline, *start_ms, *end_ms)?;
                Ok(Edit::SetPersons {
                    first: range.start,
                    persons: vec![(person.clone(), 1.0); range.len()],
                })
            }
            Correction::MoveBoundary { item, start_ms } => {
                let span = timeline
                    .items
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.number == *item)
                    .min_by_key(|(_, s)| s.start_ms.0.abs_diff(start_ms.0))
                    .map(|(k, _)| k)
                    .ok_or(CorrectionError::UnknownItem(*item))?;
                let after = span
                    .checked_sub(1)
                    .map_or(SessionMs::ZERO, |k| timeline.items[k].start_ms);
                let before = timeline.items[span].end_ms;
                if !((span == 0 || after < *start_ms) && *start_ms < before) {
                    return Err(CorrectionError::BoundaryOutOfOrder {
                        item: *item,
                        start_ms: *start_ms,
                        after,
                        before,
                    });
                }
                Ok(Edit::SetBoundary {
                    span,
                    start_ms: *start_ms,
                    previous_end_ms: (span > 0).then_some(*start_ms),
                    confidence: 1.0,
                })
            }
            Correction::ReplaceText {
                start_ms,
                end_ms,
                text,
            } => {
                let range = word_range(timeline, *start_ms, *end_ms)?;
                let old = &timeline.words[range.clone()];
                let pieces: Vec<&str> = text.split_whitespace().collect();
                if pieces.is_empty() {
                    return Err(CorrectionError::EmptyText);
                }
                Ok(Edit::SetWords {
                    first: range.start,
                    count: range.len(),
                    words: spread(old, &pieces),
                })
            }
        }
    }
}

/// The indices of the words starting in `[start_ms, end_ms)`.
fn word_range(
    timeline: &Timeline,
    start_ms: SessionMs,
    end_ms: SessionMs,
) -> Result<std::ops::Range<usize>, CorrectionError> {
    if end_ms <= start_ms {
        return Err(CorrectionError::BadRange { start_ms, end_ms });
    }
    let first = timeline.words.partition_point(|w| w.start_ms < start_ms);
    let last = timeline.words.partition_point(|w| w.start_ms < end_ms);
    if first == last {
        return Err(CorrectionError::NoWords { start_ms, end_ms });
    }
    Ok(first..last)
}

/// New words over the time of `old`, each as long as its share of the characters, each said by
/// whoever said the old word at its middle.
fn spread(old: &[TimelineWord], pieces: &[&str]) -> Vec<TimelineWord> {
    let start = old[0].start_ms.0;
    let end = old.iter().map(|w| w.end_ms.0).max().unwrap_or(start);
    let weights: Vec<u64> = pieces
        .iter()
        .map(|p| p.chars().count() as u64 + 1)
        .collect();
    let total: u64 = weights.iter().sum();
    let mut at = start;
    let mut before = 0;
    pieces
        .iter()
        .zip(&weights)
        .map(|(text, weight)| {
            before += weight;
            let word_end = start + (end - start) * before / total;
            let mid = (at + word_end) / 2;
            let speaker = old
                .iter()
                .min_by_key(|w| {
                    if w.start_ms.0 <= mid && mid <= w.end_ms.0 {
                        0
                    } else {
                        w.start_ms.0.abs_diff(mid).min(w.end_ms.0.abs_diff(mid))
                    }
                })
                .unwrap_or(&old[0]);
            let word = TimelineWord {
                text: (*text).to_owned(),
                start_ms: SessionMs(at),
                end_ms: SessionMs(word_end),
                person: speaker.person.clone(),
                item: speaker.item,
                confidence: speaker.confidence,
                asr_confidence: 1.0,
                segment: old[0].segment,
            };
            at = word_end;
            word
        })
        .collect()
}

impl Edit {
    /// The part of `timeline` this edit touches, for a revision's before and after.
    pub fn region(&self, timeline: &Timeline) -> serde_json::Value {
        let words = |first: usize, count: usize| {
            let words: Vec<_> = timeline.words.iter().skip(first).take(count).collect();
            serde_json::json!({
                "text": words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "),
                "start_ms": words.first().map(|w| w.start_ms),
                "end_ms": words.iter().map(|w| w.end_ms).max(),
                "persons": words.iter().map(|w| w.person.as_deref()).collect::<Vec<_>>(),
            })
        };
        match self {
            Edit::SetPersons { first, persons } => words(*first, persons.len()),
            Edit::SetWords { first, count, .. } => words(*first, *count),
            Edit::SetBoundary { span, .. } => serde_json::json!({
                "item": timeline.items.get(*span),
                "previous_end_ms": span.checked_sub(1).and_then(|k| timeline.items.get(k)).map(|s| s.end_ms),
            }),
        }
    }
}

/// Applies an edit to a timeline, re-derives the items of words and the interventions, and returns
/// the edit that undoes it.
pub fn apply(
    timeline: &mut Timeline,
    edit: &Edit,
    roster: &[Person],
) -> Result<Edit, CorrectionError> {
    let undo = match edit {
        Edit::SetPersons { first, persons } => {
            let len = timeline.words.len();
            let words = timeline
                .words
                .get_mut(*first..first + persons.len())
                .ok_or_else(|| stale("words", first + persons.len(), len))?;
            let old = words
                .iter()
                .map(|w| (w.person.clone(), w.confidence))
                .collect();
            for (w, (person, confidence)) in words.iter_mut().zip(persons) {
                w.person = person.clone();
                w.confidence = *confidence;
            }
            Edit::SetPersons {
                first: *first,
                persons: old,
            }
        }
        Edit::SetBoundary {
            span,
            start_ms,
            previous_end_ms,
            confidence,
        } => {
            let count = timeline.items.len();
            let this = timeline
                .items
                .get(*span)
                .ok_or_else(|| stale("item spans", *span + 1, count))?;
            let undo = Edit::SetBoundary {
                span: *span,
                start_ms: this.start_ms,
                previous_end_ms: span.checked_sub(1).map(|k| timeline.items[k].end_ms),
                confidence: this.confidence,
            };
            timeline.items[*span].start_ms = *start_ms;
            timeline.items[*span].confidence = *confidence;
            if let (Some(k), Some(end)) = (span.checked_sub(1), previous_end_ms) {
                timeline.items[k].end_ms = *end;
            }
            undo
        }
        Edit::SetWords {
            first,
            count,
            words,
        } => {
            let len = timeline.words.len();
            if first + count > len {
                return Err(stale("words", first + count, len));
            }
            let old: Vec<TimelineWord> = timeline
                .words
                .splice(*first..first + count, words.iter().cloned())
                .collect();
            Edit::SetWords {
                first: *first,
                count: words.len(),
                words: old,
            }
        }
    };
    super::derive(timeline, roster);
    Ok(undo)
}

fn stale(what: &str, needed: usize, have: usize) -> CorrectionError {
    CorrectionError::Stale(format!("needs {needed} {what}, the timeline has {have}"))
}

impl CorrectionError {
    /// A correction that does not fit the timeline is the caller's.
    pub fn kind(&self) -> session::ErrorKind {
        session::ErrorKind::BadInput
    }
}

#[cfg(test)]
mod tests {
    use super::super::ItemSpan;
    use super::*;
    use proptest::prelude::*;

    fn roster() -> Vec<Person> {
        ["chair", "rossi", "verdi"]
            .iter()
            .map(|id| Person {
                id: (*id).into(),
                name: id.to_uppercase(),
                role: if *id == "chair" {
                    session::Role::Chair
                } else {
                    session::Role::Councillor
                },
                group: None,
                seat: None,
            })
            .collect()
    }

    /// A timeline of words (gap, length, speaker) and items starting at the given word indices.
    fn timeline(words: &[(u64, u64, Option<usize>)], item_starts: &[usize]) -> Timeline {
        let people = roster();
        let mut at = 0;
        let words: Vec<TimelineWord> = words
            .iter()
            .enumerate()
            .map(|(k, &(gap, len, speaker))| {
                at += gap;
                let w = TimelineWord {
                    text: format!("w{k}"),
                    start_ms: SessionMs(at),
                    end_ms: SessionMs(at + len),
                    person: speaker.map(|s| people[s].id.clone()),
                    item: None,
                    confidence: 0.5,
                    asr_confidence: 0.9,
                    segment: k / 5,
                };
                at += len;
                w
            })
            .collect();
        let end = at + 1000;
        let mut starts: Vec<u64> = item_starts
            .iter()
            .filter_map(|&k| words.get(k).map(|w| w.start_ms.0))
            .collect();
        starts.sort();
        starts.dedup();
        let items = starts
            .iter()
            .enumerate()
            .map(|(k, &s)| ItemSpan {
                number: k as u32 + 1,
                title: format!("item {}", k + 1),
                start_ms: SessionMs(s),
                end_ms: SessionMs(starts.get(k + 1).copied().unwrap_or(end)),
                confidence: 0.8,
            })
            .collect();
        let mut t = Timeline {
            items,
            interventions: Vec::new(),
            words,
        };
        super::super::derive(&mut t, &people);
        t
    }

    fn sample() -> Timeline {
        timeline(
            &[
                (100, 300, Some(0)),
                (50, 300, Some(0)),
                (900, 300, Some(1)),
                (50, 300, Some(1)),
                (50, 300, None),
                (900, 300, Some(2)),
                (50, 300, Some(2)),
            ],
            &[0, 2],
        )
    }

    #[test]
    fn reassigning_words_changes_speakers_and_interventions() {
        let mut t = sample();
        let before = t.clone();
        let edit = Correction::Reassign {
            start_ms: SessionMs(1700),
            end_ms: SessionMs(2500),
            person: Some("rossi".into()),
        }
        .edit(&t, &roster())
        .unwrap();
        let undo = apply(&mut t, &edit, &roster()).unwrap();
        assert_eq!(t.words[4].person.as_deref(), Some("rossi"));
        assert_eq!(t.words[4].confidence, 1.0);
        assert_eq!(t.interventions.len(), 3);
        apply(&mut t, &undo, &roster()).unwrap();
        assert_eq!(t, before);
    }

    #[test]
    fn bad_corrections_are_refused_with_the_reason() {
        let t = sample();
        let err = |c: Correction| c.edit(&t, &roster()).unwrap_err().to_string();
        assert_eq!(
            err(Correction::Reassign {
                start_ms: SessionMs(0),
                end_ms: SessionMs(5000),
                person: Some("bianchi".into())
            }),
            "bianchi is not in the session's roster"
        );
        assert!(err(Correction::Reassign {
            start_ms: SessionMs(90_000),
            end_ms: SessionMs(95_000),
            person: None
        })
        .starts_with("no word starts between 00:01:30.000"));
        assert!(err(Correction::MoveBoundary {
            item: 2,
            start_ms: SessionMs(10)
        })
        .contains("must start after"));
        assert_eq!(
            err(Correction::MoveBoundary {
                item: 7,
                start_ms: SessionMs(10)
            }),
            "item 7 has no span in the timeline"
        );
        assert_eq!(
            err(Correction::ReplaceText {
                start_ms: SessionMs(0),
                end_ms: SessionMs(1000),
                text: "  ".into()
            }),
            "the replacement text is empty"
        );
    }

    #[test]
    fn replaced_text_keeps_the_time_and_the_speaker() {
        let mut t = sample();
        let edit = Correction::ReplaceText {
            start_ms: SessionMs(1600),
            end_ms: SessionMs(2300),
            text: "Grazie presidente, bene".into(),
        }
        .edit(&t, &roster())
        .unwrap();
        apply(&mut t, &edit, &roster()).unwrap();
        let texts: Vec<&str> = t.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts[2..5], ["Grazie", "presidente,", "bene"]);
        assert_eq!(t.words[2].start_ms, SessionMs(1650));
        assert_eq!(t.words[2].person.as_deref(), Some("rossi"));
        assert!(t.words.windows(2).all(|p| p[0].start_ms <= p[1].start_ms));
    }

    fn correction() -> impl Strategy<Value = Correction> {
        let person = prop::option::of(prop::sample::select(vec!["chair", "rossi", "verdi"]))
            .prop_map(|p| p.map(String::from));
        prop_oneof![
            (0u64..20_000, 1u64..8_000, person).prop_map(|(s, len, person)| {
                Correction::Reassign {
                    start_ms: SessionMs(s),
                    end_ms: SessionMs(s + len),
                    person,
                }
            }),
            (1u32..5, 0u64..20_000).prop_map(|(item, s)| Correction::MoveBoundary {
                item,
                start_ms: SessionMs(s)
            }),
            (0u64..20_000, 1u64..8_000, "[a-z]{1,6}( [a-z]{1,6}){0,4}").prop_map(
                |(s, len, text)| Correction::ReplaceText {
                    start_ms: SessionMs(s),
                    end_ms: SessionMs(s + len),
                    text,
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn a_correction_and_its_reversal_give_the_original_timeline(
            words in prop::collection::vec((0u64..1500, 0u64..700, prop::option::of(0usize..3)), 0..40),
            item_starts in prop::collection::vec(0usize..40, 0..5),
            corrections in prop::collection::vec(correction(), 1..4),
        ) {
            let people = roster();
            let original = timeline(&words, &item_starts);
            let mut t = original.clone();
            let mut undos = Vec::new();
            for c in &corrections {
                if let Ok(edit) = c.edit(&t, &people) {
                    undos.push(apply(&mut t, &edit, &people).unwrap());
                }
            }
            for undo in undos.iter().rev() {
                apply(&mut t, undo, &people).unwrap();
            }
            prop_assert_eq!(t, original);
        }

        #[test]
        fn interventions_never_overlap_and_items_stay_in_order(
            words in prop::collection::vec((0u64..1500, 0u64..700, prop::option::of(0usize..3)), 0..40),
            item_starts in prop::collection::vec(0usize..40, 0..5),
            corrections in prop::collection::vec(correction(), 0..4),
        ) {
            let people = roster();
            let mut t = timeline(&words, &item_starts);
            for c in &corrections {
                if let Ok(edit) = c.edit(&t, &people) {
                    apply(&mut t, &edit, &people).unwrap();
                }
            }
            for pair in t.interventions.windows(2) {
                prop_assert!(pair[0].end_ms <= pair[1].start_ms, "{:?}", pair);
            }
            for pair in t.items.windows(2) {
                prop_assert!(pair[0].start_ms < pair[1].start_ms && pair[0].end_ms <= pair[1].start_ms, "{:?}", pair);
            }
            prop_assert!(t.words.windows(2).all(|p| p[0].start_ms <= p[1].start_ms));
        }
    }
}
