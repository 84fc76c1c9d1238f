//! What a clip request covers: an agenda item, an intervention, a person's interventions or a
//! range, padded, kept inside the recording and out of closed-session ranges (trimmed, split
//! around one, or refused when nothing is left); the words and name captions that go with it, in
//! clip time. Pure logic.

use session::{ClosedRange, Person, Role, Session, SessionMs, Timeline};

use crate::cues::{CueWord, NameCaption};

/// What the press office asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    Item(u32),
    /// 1-based, in time order.
    Intervention(usize),
    Person(String),
    Range {
        start_ms: SessionMs,
        end_ms: SessionMs,
    },
}

/// One clip to cut.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ClipPlan {
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
    pub item: Option<u32>,
    pub person: Option<String>,
    /// For file names: ASCII letters, digits and dashes only.
    pub slug: String,
    /// For people: "Item 3: Mozione sulla mobilità sostenibile".
    pub title: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RequestError {
    #[error("item {item} is not on the agenda (items: {known})")]
    UnknownItem { item: u32, known: String },
    #[error(
        "item {0} was not found in the timeline (correct it with aula session fix ... move-item)"
    )]
    ItemNotAligned(u32),
    #[error("intervention {index} does not exist (the session has {count}, numbered from 1)")]
    UnknownIntervention { index: usize, count: usize },
    #[error("{0} is not in the session's roster")]
    UnknownPerson(String),
    #[error("{0} has no intervention in the timeline")]
    NoInterventions(String),
    #[error("the range {start_ms}-{end_ms} is empty or reversed (expected start before end)")]
    BadRange {
        start_ms: SessionMs,
        end_ms: SessionMs,
    },
    #[error("the range {start_ms}-{end_ms} is outside the recording, which lasts {recording_ms}")]
    OutsideRecording {
        start_ms: SessionMs,
        end_ms: SessionMs,
        recording_ms: SessionMs,
    },
    #[error("{what} lies entirely in closed-session ranges; nothing can be published")]
    AllClosed { what: String },
}

/// The clips a selection asks for, with warnings about what closed ranges took away.
pub fn plan(
    selection: &Selection,
    session: &Session,
    timeline: &Timeline,
    recording_ms: u64,
    padding_ms: u64,
) -> Result<(Vec<ClipPlan>, Vec<String>), RequestError> {
    let end_of_recording = SessionMs(recording_ms);
    let wanted: Vec<ClipPlan> = match selection {
        Selection::Item(number) => {
            let item = session
                .item(*number)
                .ok_or_else(|| RequestError::UnknownItem {
                    item: *number,
                    known: session
                        .agenda
                        .iter()
                        .map(|i| i.number.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            let spans: Vec<_> = timeline
                .items
                .iter()
                .filter(|s| s.number == *number)
                .collect();
            if spans.is_empty() {
                return Err(RequestError::ItemNotAligned(*number));
            }
            spans
                .iter()
                .enumerate()
                .map(|(k, s)| ClipPlan {
                    start_ms: s.start_ms,
                    end_ms: s.end_ms.min(end_of_recording),
                    item: Some(*number),
                    person: None,
                    slug: if spans.len() > 1 {
                        format!("item-{number}-{}", k + 1)
                    } else {
                        format!("item-{number}")
                    },
                    title: format!("{} {number}: {}", item_word(session), item.title),
                })
                .collect()
        }
        Selection::Intervention(index) => {
            let count = timeline.interventions.len();
            let i = index
                .checked_sub(1)
                .and_then(|k| timeline.interventions.get(k))
                .ok_or(RequestError::UnknownIntervention {
                    index: *index,
                    count,
                })?;
            vec![intervention_plan(session, i, *index)]
        }
        Selection::Person(id) => {
            if session.person(id).is_none() {
                return Err(RequestError::UnknownPerson(id.clone()));
            }
            let plans: Vec<ClipPlan> = timeline
                .interventions
                .iter()
                .enumerate()
                .filter(|(_, i)| i.person.as_deref() == Some(id))
                .map(|(k, i)| intervention_plan(session, i, k + 1))
                .collect();
            if plans.is_empty() {
                return Err(RequestError::NoInterventions(id.clone()));
            }
            plans
        }
        Selection::Range { start_ms, end_ms } => {
            if end_ms <= start_ms {
                return Err(RequestError::BadRange {
                    start_ms: *start_ms,
                    end_ms: *end_ms,
                });
            }
            if *start_ms >= end_of_recording || end_ms.0 > recording_ms + 1000 {
                return Err(RequestError::OutsideRecording {
                    start_ms: *start_ms,
                    end_ms: *end_ms,
                    recording_ms: end_of_recording,
                });
            }
            vec![ClipPlan {
                start_ms: *start_ms,
                end_ms: (*end_ms).min(end_of_recording),
                item: None,
                person: None,
                slug: format!(
                    "range-{}-{}",
                    compact(*start_ms),
                    compact((*end_ms).min(end_of_recording))
                ),
                title: format!("{start_ms} - {end_ms}"),
            }]
        }
    };
    let mut warnings = Vec::new();
    let mut out = Vec::new();
    for mut p in wanted {
        p.start_ms = p.start_ms - padding_ms;
        p.end_ms = (p.end_ms + padding_ms).min(end_of_recording);
        let pieces = open_parts(p.start_ms, p.end_ms, &session.closed_ranges);
        if pieces.len() != 1 || pieces[0] != (p.start_ms, p.end_ms) {
            warnings.push(format!(
                "{} ({} - {}) overlaps a closed-session range: {}",
                p.title,
                p.start_ms,
                p.end_ms,
                match pieces.len() {
                    0 => "left out".to_owned(),
                    1 => format!("trimmed to {} - {}", pieces[0].0, pieces[0].1),
                    n => format!("split into {n} parts around it"),
                }
            ));
        }
        let parts = pieces.len();
        for (k, (start_ms, end_ms)) in pieces.into_iter().enumerate() {
            let mut piece = p.clone();
            piece.start_ms = start_ms;
            piece.end_ms = end_ms;
            if parts > 1 {
                piece.slug = format!("{}-part-{}", p.slug, k + 1);
            }
            out.push(piece);
        }
    }
    if out.is_empty() {
        return Err(RequestError::AllClosed {
            what: match selection {
                Selection::Item(n) => format!("item {n}"),
                Selection::Intervention(k) => format!("intervention {k}"),
                Selection::Person(p) => format!("every intervention of {p}"),
                Selection::Range { start_ms, end_ms } => format!("{start_ms} - {end_ms}"),
            },
        });
    }
    Ok((out, warnings))
}

fn intervention_plan(session: &Session, i: &session::Intervention, index: usize) -> ClipPlan {
    let name = i
        .person
        .as_deref()
        .and_then(|p| session.person(p))
        .map_or("?", |p| p.name.as_str());
    ClipPlan {
        start_ms: i.start_ms,
        end_ms: i.end_ms,
        item: i.item,
        person: i.person.clone(),
        slug: match &i.person {
            Some(p) => format!("intervention-{index}-{p}"),
            None => format!("intervention-{index}"),
        },
        title: match i.item {
            Some(n) => format!("{name}, {} {n}", item_word(session)),
            None => name.to_owned(),
        },
    }
}

fn item_word(session: &Session) -> &'static str {
    if session.language == "it" {
        "Punto"
    } else {
        "Item"
    }
}

fn compact(ms: SessionMs) -> String {
    let s = ms.0 / 1000;
    format!("{:02}{:02}{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The parts of `[start, end)` outside every closed range (each part at least 500 ms long).
pub fn open_parts(
    start: SessionMs,
    end: SessionMs,
    closed: &[ClosedRange],
) -> Vec<(SessionMs, SessionMs)> {
    const MIN_PART_MS: u64 = 500;
    let mut parts = vec![(start, end)];
    for c in closed {
        let (c_start, c_end) = c.bounds();
        parts = parts
            .into_iter()
            .flat_map(|(a, b)| {
                if c_end <= a || c_start >= b {
                    vec![(a, b)]
                } else {
                    [(a, c_start.min(b)), (c_end.max(a), b)]
                        .into_iter()
                        .filter(|(x, y)| x < y)
                        .collect()
                }
            })
            .collect();
    }
    parts.retain(|(a, b)| a.until(*b) >= MIN_PART_MS);
    parts
}

/// Whether any part of `[start, end)` is closed.
pub fn touches_closed(start: SessionMs, end: SessionMs, closed: &[ClosedRange]) -> bool {
    closed.iter().any(|c| c.overlaps(start, end))
}

/// The words of the plan, in clip time, none from a closed range.
pub fn clip_words(plan: &ClipPlan, session: &Session, timeline: &Timeline) -> Vec<CueWord> {
    timeline
        .words
        .iter()
        .filter(|w| w.start_ms >= plan.start_ms && w.start_ms < plan.end_ms)
        .filter(|w| {
            !touches_closed(
                w.start_ms,
                w.end_ms.max(w.start_ms + 1),
                &session.closed_ranges,
            )
        })
        .map(|w| CueWord {
            text: w.text.clone(),
            start_ms: plan.start_ms.until(w.start_ms),
            end_ms: plan.start_ms.until(w.end_ms.min(plan.end_ms)),
            speaker: w.person.clone(),
        })
        .collect()
}

/// A lower third at the clip's start and at each change of speaker, `duration_ms` long (shorter when
/// the next speaker comes sooner).
pub fn name_captions(words: &[CueWord], session: &Session, duration_ms: u64) -> Vec<NameCaption> {
    let mut starts: Vec<(u64, &Person)> = Vec::new();
    let mut current: Option<&str> = None;
    for w in words {
        let Some(id) = w.speaker.as_deref() else {
            continue;
        };
        if current != Some(id) {
            if let Some(p) = session.person(id) {
                starts.push((w.start_ms, p));
            }
            current = Some(id);
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &(start_ms, p))| {
            let next = starts.get(k + 1).map_or(u64::MAX, |n| n.0);
            NameCaption {
                start_ms,
                end_ms: (start_ms + duration_ms).min(next),
                name: p.name.clone(),
                detail: detail(session, p),
            }
        })
        .collect()
}

/// "Consigliere · Lista Civica" / "Councillor · Civic List".
pub fn detail(session: &Session, p: &Person) -> String {
    let italian = session.language == "it";
    let role = match (p.role, italian) {
        (Role::Chair, true) => "Presidente del consiglio",
        (Role::Chair, false) => "Chair",
        (Role::ViceChair, true) => "Vicepresidente",
        (Role::ViceChair, false) => "Vice-chair",
        (Role::Mayor, true) => "Sindaco",
        (Role::Mayor, false) => "Mayor",
        (Role::Executive, true) => "Assessore",
        (Role::Executive, false) => "Executive member",
        (Role::Councillor, true) => "Consigliere",
        (Role::Councillor, false) => "Councillor",
        (Role::Secretary, true) => "Segretario generale",
        (Role::Secretary, false) => "Secretary",
        (Role::Other, _) => "",
    };
    match &p.group {
        Some(g) if !role.is_empty() => format!("{role} · {g}"),
        Some(g) => g.clone(),
        None => role.to_owned(),
    }
}

impl RequestError {
    /// A request that does not fit the session, its timeline or its recording is the caller's.
    pub fn kind(&self) -> session::ErrorKind {
        session::ErrorKind::BadInput
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session::{AgendaItem, ItemKind, ItemSpan, TimelineWord};

    fn session() -> Session {
        let mut s: Session = session::from_json(
            r#"{"id":"s","body":"b","title":"t","start":"2021-03-15T17:00:00Z","mode":"in_person",
                "roster":[{"id":"rossi","name":"Marco Rossi","role":"councillor","group":"Lista Civica","seat":2},
                          {"id":"chair","name":"Anna Verdi","role":"chair","seat":1}]}"#,
        )
        .unwrap();
        s.agenda = (1..=3)
            .map(|n| AgendaItem {
                number: n,
                title: format!("Titolo {n}"),
                kind: ItemKind::Other,
                act: None,
                rapporteur: None,
                proposer_group: None,
            })
            .collect();
        s
    }

    fn timeline() -> Timeline {
        let span = |number, start, end| ItemSpan {
            number,
            title: String::new(),
            start_ms: SessionMs(start),
            end_ms: SessionMs(end),
            confidence: 1.0,
        };
        let word = |text: &str, start: u64, person: &str| TimelineWord {
            text: text.into(),
            start_ms: SessionMs(start),
            end_ms: SessionMs(start + 400),
            person: Some(person.into()),
            item: None,
            confidence: 1.0,
            asr_confidence: 1.0,
            segment: 0,
        };
        let mut t = Timeline {
            items: vec![span(1, 10_000, 60_000), span(2, 60_000, 120_000)],
            interventions: Vec::new(),
            words: vec![
                word("Passiamo", 10_000, "chair"),
                word("Grazie", 20_000, "rossi"),
                word("segreto", 70_000, "rossi"),
                word("Bene", 100_000, "chair"),
            ],
        };
        t.interventions = vec![session::Intervention {
            person: Some("rossi".into()),
            item: Some(1),
            start_ms: SessionMs(20_000),
            end_ms: SessionMs(30_000),
            text: "Grazie".into(),
        }];
        t
    }

    #[test]
    fn items_interventions_and_ranges() {
        let s = session();
        let t = timeline();
        let (plans, warnings) = plan(&Selection::Item(2), &s, &t, 110_000, 500).unwrap();
        assert!(warnings.is_empty());
        assert_eq!((plans[0].start_ms.0, plans[0].end_ms.0), (59_500, 110_000));
        assert_eq!(plans[0].slug, "item-2");
        assert_eq!(plans[0].title, "Punto 2: Titolo 2");
        let (plans, _) = plan(&Selection::Intervention(1), &s, &t, 110_000, 0).unwrap();
        assert_eq!(plans[0].slug, "intervention-1-rossi");
        let (plans, _) = plan(&Selection::Person("rossi".into()), &s, &t, 110_000, 0).unwrap();
        assert_eq!(plans.len(), 1);
        let range = Selection::Range {
            start_ms: SessionMs(61_000),
            end_ms: SessionMs(62_500),
        };
        assert_eq!(
            plan(&range, &s, &t, 110_000, 0).unwrap().0[0].slug,
            "range-000101-000102"
        );
    }

    #[test]
    fn bad_requests_name_the_problem() {
        let s = session();
        let t = timeline();
        let err = |sel: Selection| plan(&sel, &s, &t, 110_000, 0).unwrap_err().to_string();
        assert_eq!(
            err(Selection::Item(7)),
            "item 7 is not on the agenda (items: 1, 2, 3)"
        );
        assert!(err(Selection::Item(3)).starts_with("item 3 was not found in the timeline"));
        assert_eq!(
            err(Selection::Intervention(4)),
            "intervention 4 does not exist (the session has 1, numbered from 1)"
        );
        assert_eq!(
            err(Selection::Person("bianchi".into())),
            "bianchi is not in the session's roster"
        );
        assert_eq!(
            err(Selection::Person("chair".into())),
            "chair has no intervention in the timeline"
        );
        assert_eq!(
            err(Selection::Range { start_ms: SessionMs(200_000), end_ms: SessionMs(210_000) }),
            "the range 00:03:20.000-00:03:30.000 is outside the recording, which lasts 00:01:50.000"
        );
    }

    #[test]
    fn closed_ranges_trim_split_or_refuse() {
        let mut s = session();
        s.closed_ranges = vec![ClosedRange {
            start_ms: SessionMs(65_000),
            end_ms: SessionMs(75_000),
            reason: None,
        }];
        let t = timeline();
        let (plans, warnings) = plan(&Selection::Item(2), &s, &t, 120_000, 0).unwrap();
        let spans: Vec<(u64, u64)> = plans.iter().map(|p| (p.start_ms.0, p.end_ms.0)).collect();
        assert_eq!(spans, [(60_000, 65_000), (75_000, 120_000)]);
        assert_eq!(plans[1].slug, "item-2-part-2");
        assert!(warnings[0].contains("split into 2 parts"), "{warnings:?}");
        let inside = Selection::Range {
            start_ms: SessionMs(66_000),
            end_ms: SessionMs(70_000),
        };
        assert!(plan(&inside, &s, &t, 120_000, 0)
            .unwrap_err()
            .to_string()
            .contains("closed-session"));
        // The word said behind closed doors never reaches subtitles.
        let whole = ClipPlan {
            start_ms: SessionMs(60_000),
            end_ms: SessionMs(120_000),
            item: Some(2),
            person: None,
            slug: "x".into(),
            title: "x".into(),
        };
        let words = clip_words(&whole, &s, &t);
        assert!(words.iter().all(|w| w.text != "segreto"), "{words:?}");
        assert_eq!(words[0].start_ms, 40_000);
    }

    #[test]
    fn captions_at_each_new_speaker() {
        let s = session();
        let ws = [
            ("a", 0, "chair"),
            ("b", 500, "chair"),
            ("c", 2000, "rossi"),
            ("d", 9000, "chair"),
        ]
        .map(|(t, at, p)| CueWord {
            text: t.into(),
            start_ms: at,
            end_ms: at + 300,
            speaker: Some(p.into()),
        });
        let caps = name_captions(&ws, &s, 4000);
        let got: Vec<(u64, u64, &str)> = caps
            .iter()
            .map(|c| (c.start_ms, c.end_ms, c.name.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (0, 2000, "Anna Verdi"),
                (2000, 6000, "Marco Rossi"),
                (9000, 13_000, "Anna Verdi")
            ]
        );
        assert_eq!(caps[1].detail, "Consigliere · Lista Civica");
    }
}
