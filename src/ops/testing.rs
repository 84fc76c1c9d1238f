//! A small session and its timeline for the operations' unit tests.

use publisher::request::ClipPlan;
use session::{ItemSpan, Session, SessionMs, Timeline, TimelineWord};

/// Two items, a chair and a councillor, a closed part 50-55 s.
pub fn session() -> Session {
    session::parse(
        r#"{"id": "s1", "body": "Consiglio comunale", "title": "Seduta", "start": "2026-03-02T17:00:00Z",
            "mode": "in_person",
            "roster": [{"id": "chair", "name": "Anna Bianchi", "role": "chair"},
                       {"id": "rossi", "name": "Mario Rossi", "role": "councillor", "group": "Lista civica"}],
            "agenda": [{"number": 1, "title": "Bilancio", "kind": "resolution"},
                       {"number": 2, "title": "Mozione", "kind": "motion"}],
            "closed_ranges": [{"start_ms": 50000, "end_ms": 55000}]}"#,
        session::Format::Json,
    )
    .unwrap()
}

/// Four words: the chair at 10 s and 40 s, Rossi at 20 s and 21 s.
pub fn timeline() -> Timeline {
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
        item: Some(if start < 30_000 { 1 } else { 2 }),
        confidence: 1.0,
        asr_confidence: 1.0,
        segment: 0,
    };
    Timeline {
        items: vec![span(1, 5_000, 30_000), span(2, 30_000, 60_000)],
        interventions: Vec::new(),
        words: vec![
            word("Apriamo", 10_000, "chair"),
            word("Grazie", 20_000, "rossi"),
            word("presidente", 21_000, "rossi"),
            word("Passiamo", 40_000, "chair"),
        ],
    }
}

/// A clip plan of item 1 over `start_ms..end_ms`.
pub fn plan(start_ms: u64, end_ms: u64) -> ClipPlan {
    ClipPlan {
        start_ms: SessionMs(start_ms),
        end_ms: SessionMs(end_ms),
        item: Some(1),
        person: None,
        slug: "item-1".into(),
        title: "Item 1: Bilancio".into(),
    }
}
