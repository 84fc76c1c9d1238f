//! The resoconto (the session's verbatim record): per agenda item, in the order the session took
//! them up, each intervention with its speaker, role, group, time and words; a closed part is
//! marked with its times and none of its words. A public record: no caller sees a closed word here.

use anyhow::Result;
use serde::Serialize;
use session::{Session, SessionId, SessionMs, Timeline, TimelineWord};

use super::documents::{self, Lang};
use crate::catalogue::Catalogue;

/// The record of one session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Resoconto {
    pub session: String,
    pub body: String,
    pub title: String,
    /// The session's day, `YYYY-MM-DD`.
    pub date: String,
    /// The session's start, `HH:MM` UTC.
    pub start: String,
    pub sections: Vec<Section>,
}

/// One agenda item as discussed (or what was said outside any item: `number` none).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Section {
    pub number: Option<u32>,
    pub title: Option<String>,
    pub act: Option<String>,
    pub parts: Vec<Part>,
}

/// An intervention, or a closed part standing in for what was said in it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Part {
    Intervention {
        /// Roster id; none when the speaker is not known.
        person: Option<String>,
        name: Option<String>,
        /// The roster role (`chair`, `councillor`, ...).
        role: Option<String>,
        group: Option<String>,
        start_ms: SessionMs,
        end_ms: SessionMs,
        /// `HH:MM:SS` in session time.
        clock: String,
        text: String,
    },
    Closed {
        start_ms: SessionMs,
        /// None: closed until the end of the session.
        end_ms: Option<SessionMs>,
        clock: String,
        end_clock: Option<String>,
    },
}

/// A stretch of session time and what falls in it.
struct Stretch {
    number: Option<u32>,
    start_ms: SessionMs,
    end_ms: SessionMs,
    words: Vec<TimelineWord>,
}

/// The resoconto of `session` from its (corrected) timeline.
pub fn build(session: &Session, timeline: &Timeline) -> Resoconto {
    let closed: Vec<(SessionMs, SessionMs)> =
        session.closed_ranges.iter().map(|r| r.bounds()).collect();
    let mut spans = timeline.items.clone();
    spans.sort_by_key(|s| s.start_ms);
    let mut stretches: Vec<Stretch> = spans
        .iter()
        .map(|s| Stretch {
            number: Some(s.number),
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            words: Vec::new(),
        })
        .collect();
    // Words outside every item's span make stretches of their own, one per run.
    let mut outside: Vec<Stretch> = Vec::new();
    let mut last_outside = false;
    for w in &timeline.words {
        match spans
            .iter()
            .position(|s| s.start_ms <= w.start_ms && w.start_ms < s.end_ms)
        {
            Some(i) => {
                stretches[i].words.push(w.clone());
                last_outside = false;
            }
            None => {
                match outside.last_mut() {
                    Some(s) if last_outside => {
                        s.end_ms = s.end_ms.max(w.end_ms);
                        s.words.push(w.clone());
                    }
                    _ => outside.push(Stretch {
                        number: None,
                        start_ms: w.start_ms,
                        end_ms: w.end_ms.max(w.start_ms + 1),
                        words: vec![w.clone()],
                    }),
                }
                last_outside = true;
            }
        }
    }
    stretches.extend(outside);
    // A closed part in no stretch is still marked, where it falls.
    for &(start, end) in &closed {
        if !stretches
            .iter()
            .any(|s| start < s.end_ms && s.start_ms < end.max(start + 1))
        {
            stretches.push(Stretch {
                number: None,
                start_ms: start,
                end_ms: end.max(start + 1),
                words: Vec::new(),
            });
        }
    }
    stretches.sort_by_key(|s| (s.start_ms, s.number.is_none()));

    let mut sections: Vec<Section> = stretches
        .iter()
        .map(|s| section(session, s, &closed))
        .collect();
    // Items the session never reached are listed after those it did.
    for item in &session.agenda {
        if !spans.iter().any(|s| s.number == item.number) {
            sections.push(Section {
                number: Some(item.number),
                title: Some(item.title.clone()),
                act: item.act.clone(),
                parts: Vec::new(),
            });
        }
    }
    Resoconto {
        session: session.id.to_string(),
        body: session.body.clone(),
        title: session.title.clone(),
        date: session.start.format("%Y-%m-%d").to_string(),
        start: session.start.format("%H:%M").to_string(),
        sections,
    }
}

fn section(session: &Session, stretch: &Stretch, closed: &[(SessionMs, SessionMs)]) -> Section {
    let item = stretch.number.and_then(|n| session.item(n));
    let mut marks: Vec<(SessionMs, SessionMs)> = closed
        .iter()
        .copied()
        .filter(|&(start, end)| start < stretch.end_ms && stretch.start_ms < end.max(start + 1))
        .collect();
    marks.sort();
    let mut marks = marks.into_iter().peekable();
    let mut parts: Vec<Part> = Vec::new();
    // Whether the last part is an intervention that the next word of its speaker continues.
    let mut open = false;
    for w in &stretch.words {
        while let Some(&(start, end)) = marks.peek() {
            if start > w.start_ms {
                break;
            }
            parts.push(closed_part(start, end));
            marks.next();
            open = false;
        }
        if session.touches_closed(w.start_ms, w.end_ms.max(w.start_ms + 1)) {
            continue;
        }
        match parts.last_mut() {
            Some(Part::Intervention {
                person,
                end_ms,
                text,
                ..
            }) if open && *person == w.person => {
                *end_ms = (*end_ms).max(w.end_ms);
                text.push(' ');
                text.push_str(&w.text);
            }
            _ => {
                let who = w.person.as_deref().and_then(|p| session.person(p));
                parts.push(Part::Intervention {
                    person: w.person.clone(),
                    name: w.person.as_deref().map(|p| session.name_of(p).to_owned()),
                    role: who.map(|p| p.role.as_str().to_owned()),
                    group: who.and_then(|p| p.group.clone()),
                    start_ms: w.start_ms,
                    end_ms: w.end_ms,
                    clock: w.start_ms.clock_seconds(),
                    text: w.text.clone(),
                });
                open = true;
            }
        }
    }
    parts.extend(marks.map(|(start, end)| closed_part(start, end)));
    Section {
        number: stretch.number,
        title: item.map(|i| i.title.clone()),
        act: item.and_then(|i| i.act.clone()),
        parts,
    }
}

fn closed_part(start: SessionMs, end: SessionMs) -> Part {
    let end = (end != session::ClosedRange::OPEN_END).then_some(end);
    Part::Closed {
        start_ms: start,
        end_ms: end,
        clock: start.clock_seconds(),
        end_clock: end.map(SessionMs::clock_seconds),
    }
}

/// The resoconto of a stored session; a session not yet aligned has no words to record.
pub async fn resoconto(catalogue: &Catalogue, id: &SessionId) -> Result<Resoconto> {
    let session = catalogue.get(id).await?.session;
    let timeline = catalogue.timeline(id).await?.timeline;
    Ok(build(&session, &timeline))
}

impl Resoconto {
    /// The printable page (`web/templates/resoconto.html`), self-contained.
    pub fn html(&self, lang: Lang) -> Result<String, minijinja::Error> {
        documents::render("resoconto.html", lang, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session::{ClosedRange, ItemSpan};

    fn word(text: &str, start: u64, person: Option<&str>) -> TimelineWord {
        TimelineWord {
            text: text.to_owned(),
            start_ms: SessionMs(start),
            end_ms: SessionMs(start + 400),
            person: person.map(str::to_owned),
            item: None,
            confidence: 1.0,
            asr_confidence: 1.0,
            segment: 0,
        }
    }

    fn span(number: u32, start: u64, end: u64) -> ItemSpan {
        ItemSpan {
            number,
            title: format!("span {number}"),
            start_ms: SessionMs(start),
            end_ms: SessionMs(end),
            confidence: 1.0,
        }
    }

    fn session() -> Session {
        super::super::testing::session()
    }

    fn texts(section: &Section) -> Vec<String> {
        section
            .parts
            .iter()
            .map(|p| match p {
                Part::Intervention { name, text, .. } => {
                    format!("{}: {text}", name.as_deref().unwrap_or("?"))
                }
                Part::Closed {
                    clock, end_clock, ..
                } => format!("closed {clock}-{}", end_clock.as_deref().unwrap_or("end")),
            })
            .collect()
    }

    #[test]
    fn a_closed_part_is_marked_and_its_words_left_out() {
        let mut s = session();
        let (a, b) = (s.roster[0].id.clone(), s.roster[1].id.clone());
        s.closed_ranges = vec![ClosedRange {
            start_ms: SessionMs(10_000),
            end_ms: SessionMs(20_000),
            reason: None,
        }];
        let timeline = Timeline {
            items: vec![span(1, 0, 60_000)],
            interventions: Vec::new(),
            words: vec![
                word("Buonasera", 1000, Some(&a)),
                word("colleghi", 1500, Some(&a)),
                word("segreto", 12_000, Some(&a)),
                word("riservato", 15_000, Some(&b)),
                word("riprendiamo", 21_000, Some(&a)),
                word("grazie", 25_000, Some(&b)),
            ],
        };
        let r = build(&s, &timeline);
        assert_eq!(r.sections.len(), s.agenda.len());
        let first = &r.sections[0];
        assert_eq!(first.number, Some(1));
        assert_eq!(first.title.as_deref(), Some(s.agenda[0].title.as_str()));
        let (na, nb) = (&s.roster[0].name, &s.roster[1].name);
        assert_eq!(
            texts(first),
            [
                format!("{na}: Buonasera colleghi"),
                "closed 00:00:10-00:00:20".to_owned(),
                format!("{na}: riprendiamo"),
                format!("{nb}: grazie"),
            ]
        );
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            !json.contains("segreto") && !json.contains("riservato"),
            "{json}"
        );
        let Part::Intervention {
            role, group, clock, ..
        } = &first.parts[3]
        else {
            panic!("an intervention")
        };
        assert_eq!(role.as_deref(), Some(s.roster[1].role.as_str()));
        assert_eq!(group, &s.roster[1].group);
        assert_eq!(clock, "00:00:25");
    }

    #[test]
    fn items_come_in_the_order_taken_up_with_what_was_said_outside_them() {
        let mut s = session();
        s.closed_ranges.clear();
        let mut third = s.agenda[1].clone();
        third.number = 3;
        third.title = "Interrogazione".into();
        s.agenda.push(third);
        let a = s.roster[0].id.clone();
        let timeline = Timeline {
            items: vec![span(2, 10_000, 20_000), span(1, 20_000, 30_000)],
            interventions: Vec::new(),
            words: vec![
                word("Apriamo", 1000, Some(&a)),
                word("due", 11_000, None),
                word("uno", 21_000, Some(&a)),
            ],
        };
        let r = build(&s, &timeline);
        let numbers: Vec<_> = r.sections.iter().map(|x| x.number).collect();
        assert_eq!(numbers, [None, Some(2), Some(1), Some(3)]);
        assert_eq!(texts(&r.sections[1]), ["?: due"]);
        // An item never reached is listed with its title and no intervention.
        assert_eq!(r.sections[3].title.as_deref(), Some("Interrogazione"));
        assert!(r.sections[3].parts.is_empty());
    }

    #[test]
    fn a_closed_part_still_open_runs_to_the_end_and_hides_everything_after() {
        let mut s = session();
        let a = s.roster[0].id.clone();
        s.closed_ranges = vec![ClosedRange {
            start_ms: SessionMs(5000),
            end_ms: ClosedRange::OPEN_END,
            reason: None,
        }];
        let timeline = Timeline {
            items: vec![span(1, 0, 60_000)],
            interventions: Vec::new(),
            words: vec![word("prima", 1000, Some(&a)), word("dopo", 9000, Some(&a))],
        };
        let r = build(&s, &timeline);
        let name = &s.roster[0].name;
        assert_eq!(
            texts(&r.sections[0]),
            [format!("{name}: prima"), "closed 00:00:05-end".to_owned()]
        );
    }

    #[test]
    fn the_page_escapes_what_the_catalogue_holds() {
        let mut s = session();
        s.agenda[0].title = "<script>alert(1)</script> & co".into();
        let r = build(&s, &Timeline::default());
        for lang in [Lang::It, Lang::En] {
            let html = r.html(lang).unwrap();
            assert!(
                html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; co"),
                "{html}"
            );
            assert!(!html.contains("<script>"));
        }
        assert!(r.html(Lang::It).unwrap().contains("Resoconto"));
        assert!(r.html(Lang::En).unwrap().contains("Verbatim record"));
    }
}
