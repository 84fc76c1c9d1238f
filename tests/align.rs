//! Who spoke on which item, end to end on generated sessions transcribed by real Whisper models:
//! speakers from floor events and remote streams, items from the clerk's markers and from the
//! chair's announcements, scored against truth.json; corrections and their history; bad evidence.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::{read_json, stderr, Aula, Evidence, Spec};
use sample::score::{attribution, item_start_errors};
use sample::Truth;
use session::Transcript;
use transcriber::align::Timeline;

struct Sample {
    dir: PathBuf,
    id: String,
    truth: Truth,
}

/// Generates a session, imports it without any evidence and transcribes it (which aligns it).
fn transcribed(aula: &Aula, model_name: &str, spec: &Spec) -> Sample {
    let sample = aula.sample(spec);
    let id = aula.imported(&sample, Evidence::None);
    aula.transcribed(&id, model_name);
    Sample {
        truth: sample.truth(),
        dir: sample.dir,
        id,
    }
}

/// The English session of the tests below, transcribed once: each test changes a copy of it.
fn english_session() -> (Aula, &'static Sample) {
    static TRANSCRIBED: OnceLock<(Aula, Sample)> = OnceLock::new();
    let (aula, s) = TRANSCRIBED.get_or_init(|| {
        let aula = Aula::new();
        let spec = Spec {
            lang: "en",
            seconds: 150,
            items: 3,
            speakers: 3,
            seed: 21,
            ..Spec::default()
        };
        let s = transcribed(&aula, "tiny.en", &spec);
        (aula, s)
    });
    (aula.copy(), s)
}

fn timeline(aula: &Aula, id: &str) -> Timeline {
    serde_json::from_str(&aula.ok(&["session", "timeline", id, "--json"])).unwrap()
}

fn add_evidence(aula: &Aula, s: &Sample, flag: &str, file: &str) {
    let path = s.dir.join(file);
    aula.ok(&["session", "evidence", &s.id, flag, path.to_str().unwrap()]);
    aula.ok(&["session", "align", &s.id]);
}

/// Without floor events nobody is named wrongly; with them >= 97% of word time is right.
fn assert_speakers(aula: &Aula, s: &Sample, remote: Option<&str>) {
    let before = timeline(aula, &s.id);
    let a = attribution(&s.truth, &before.words);
    assert!(
        a.wrong_words.is_empty(),
        "without floor events: {:?}",
        a.wrong_words
    );
    let named: Vec<_> = before
        .words
        .iter()
        .filter_map(|w| w.person.as_deref())
        .collect();
    match remote {
        // The remote councillor's own stream names them, and only them.
        Some(remote) => {
            assert!(a.right_ms > 0, "the remote councillor was not recognised");
            assert!(named.iter().all(|p| *p == remote), "{named:?}");
        }
        None => assert!(named.is_empty(), "named without evidence: {named:?}"),
    }

    add_evidence(aula, s, "--floor-events", "floor_events.json");
    let after = timeline(aula, &s.id);
    let a = attribution(&s.truth, &after.words);
    eprintln!(
        "{}: {:.2}% of word time right with floor events ({} ms wrong, {} ms unknown)",
        s.id,
        a.right_share() * 100.0,
        a.wrong_ms,
        a.unknown_ms
    );
    assert!(
        a.right_share() >= 0.97,
        "{:.3} of word time right; wrong: {:?}; unknown {} ms",
        a.right_share(),
        a.wrong_words,
        a.unknown_ms
    );
    // Segments are split where the speaker changes; interventions never overlap.
    let transcript: Transcript = serde_json::from_value(read_json(aula.path().join(format!(
        "data/sessions/{}/transcripts/transcript.json",
        s.id
    ))))
    .unwrap();
    for segment in &transcript.segments {
        let first = &segment.words[0].person;
        assert!(
            segment.words.iter().all(|w| &w.person == first),
            "{segment:?}"
        );
    }
    for pair in after.interventions.windows(2) {
        assert!(pair[0].end_ms <= pair[1].start_ms, "{pair:?}");
    }
}

/// Items found from the chair's words: all of them, median start error <= 2 s; with the clerk's
/// markers, exact within 100 ms.
fn assert_items(aula: &Aula, s: &Sample) {
    let automatic = timeline(aula, &s.id);
    let errors = item_start_errors(&s.truth, &automatic.items);
    let mut found: Vec<u64> = errors
        .iter()
        .map(|(n, e)| e.unwrap_or_else(|| panic!("item {n} not found: {:?}", automatic.items)))
        .map(i64::unsigned_abs)
        .collect();
    found.sort();
    let median = found[found.len() / 2];
    eprintln!("{}: automatic item start errors (ms) {errors:?}", s.id);
    assert!(
        median <= 2000,
        "median item start error {median} ms: {errors:?}"
    );
    for pair in automatic.items.windows(2) {
        assert!(pair[0].start_ms < pair[1].start_ms, "{:?}", automatic.items);
    }

    add_evidence(aula, s, "--agenda-markers", "agenda_markers.json");
    let marked = timeline(aula, &s.id);
    eprintln!(
        "{}: item start errors with markers (ms) {:?}",
        s.id,
        item_start_errors(&s.truth, &marked.items)
    );
    for (n, error) in item_start_errors(&s.truth, &marked.items) {
        let error = error.unwrap_or_else(|| panic!("item {n} missing with markers"));
        assert!(error.abs() <= 100, "item {n} starts {error} ms off");
    }
    assert!(marked.items.iter().all(|i| i.confidence == 1.0));
}

#[test]
fn english_session_items() {
    let (aula, s) = english_session();
    assert_items(&aula, s);
}

/// Speakers with the clerk's markers already in, as after the items' test.
#[test]
fn english_session_speakers() {
    let (aula, s) = english_session();
    add_evidence(&aula, s, "--agenda-markers", "agenda_markers.json");
    assert_speakers(&aula, s, None);
}

/// A copy of the English session with the clerk's markers and the floor events in, as after the
/// items' and the speakers' tests.
fn english_session_with_evidence() -> (Aula, &'static Sample) {
    let (aula, s) = english_session();
    add_evidence(&aula, s, "--agenda-markers", "agenda_markers.json");
    add_evidence(&aula, s, "--floor-events", "floor_events.json");
    (aula, s)
}

#[test]
fn english_session_corrections_are_kept_with_their_history() {
    let (aula, s) = english_session_with_evidence();
    corrections_are_kept_with_their_history(&aula, s);
}

/// Bad evidence in place of the markers and the floor events.
#[test]
fn english_session_bad_evidence_is_warned_about_and_aligned_anyway() {
    let (aula, s) = english_session_with_evidence();
    bad_evidence_is_warned_about_and_aligned_anyway(&aula, s);
}

#[test]
fn italian_hybrid_session_speakers_and_items() {
    let aula = Aula::new();
    let spec = Spec {
        lang: "it",
        seconds: 150,
        items: 3,
        speakers: 3,
        mode: "hybrid",
        seed: 4,
        ..Spec::default()
    };
    let s = transcribed(&aula, "base", &spec);
    let session: session::Session =
        serde_json::from_value(read_json(s.dir.join("session.json"))).unwrap();
    let remote = session.roster.iter().find(|p| p.seat.is_none()).unwrap();
    assert_items(&aula, &s);
    assert_speakers(&aula, &s, Some(&remote.id));
}

fn corrections_are_kept_with_their_history(aula: &Aula, s: &Sample) {
    let original = timeline(aula, &s.id);
    let turn = &original.interventions[original.interventions.len() / 2];
    let other = s
        .truth
        .utterances
        .iter()
        .map(|u| u.person.as_str())
        .find(|p| Some(*p) != turn.person.as_deref())
        .unwrap();
    let (from, to) = (turn.start_ms.to_string(), turn.end_ms.to_string());
    aula.ok(&[
        "session",
        "fix",
        &s.id,
        "reassign",
        "--from",
        &from,
        "--to",
        &to,
        "--person",
        other,
        "--author",
        "segreteria",
    ]);
    let fixed = timeline(aula, &s.id);
    let inside: Vec<_> = fixed
        .words
        .iter()
        .filter(|w| w.start_ms >= turn.start_ms && w.start_ms < turn.end_ms)
        .collect();
    assert!(!inside.is_empty());
    assert!(inside.iter().all(|w| w.person.as_deref() == Some(other)));
    assert!(fixed
        .interventions
        .iter()
        .any(|i| i.person.as_deref() == Some(other)
            && i.start_ms <= turn.start_ms
            && turn.start_ms < i.end_ms));

    // The corrected version is what later outputs use, and it survives a new alignment.
    let transcript: Transcript = serde_json::from_value(read_json(aula.path().join(format!(
        "data/sessions/{}/transcripts/transcript.json",
        s.id
    ))))
    .unwrap();
    assert!(transcript
        .words()
        .filter(|w| w.start_ms >= turn.start_ms && w.start_ms < turn.end_ms)
        .all(|w| w.person.as_deref() == Some(other)));
    aula.ok(&["session", "align", &s.id]);
    assert_eq!(timeline(aula, &s.id), fixed);

    let item = &fixed.items[1];
    let moved = session::SessionMs(item.start_ms.0 + 1500);
    aula.ok(&[
        "session",
        "fix",
        &s.id,
        "move-item",
        &item.number.to_string(),
        "--start",
        &moved.to_string(),
    ]);
    let first = &fixed.words[0];
    aula.ok(&[
        "session",
        "fix",
        &s.id,
        "replace-text",
        "--from",
        &first.start_ms.to_string(),
        "--to",
        &(first.start_ms + 1).to_string(),
        "--text",
        "Buonasera",
    ]);
    let edited = timeline(aula, &s.id);
    assert_eq!(edited.items[1].start_ms, moved);
    assert_eq!(edited.words[0].text, "Buonasera");

    let history: serde_json::Value =
        serde_json::from_str(&aula.ok(&["session", "history", &s.id, "--json"])).unwrap();
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[0]["author"], "segreteria");
    assert_eq!(history[0]["correction"]["op"], "reassign");
    assert_eq!(history[0]["after"]["persons"][0], other);
    assert_eq!(history[2]["before"]["text"], first.text.as_str());

    // Undoing all three gives back the original timeline exactly.
    for _ in 0..3 {
        aula.ok(&["session", "fix", &s.id, "undo"]);
    }
    assert_eq!(timeline(aula, &s.id), original);
    let history: serde_json::Value =
        serde_json::from_str(&aula.ok(&["session", "history", &s.id, "--json"])).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 6);
    assert_eq!(history[0]["reverted_by"], 6);

    // Bad corrections name the problem, exit 2 and change nothing.
    for (args, expected) in [
        (
            vec![
                "reassign", "--from", "0", "--to", "10", "--person", "nobody",
            ],
            "nobody is not in the session's roster",
        ),
        (
            vec![
                "reassign", "--from", "5:00:00", "--to", "5:00:10", "--person", "unknown",
            ],
            "no word starts between 05:00:00.000",
        ),
        (
            vec!["move-item", "42", "--start", "10"],
            "item 42 has no span",
        ),
        (
            vec![
                "reassign", "--from", "1:99", "--to", "2", "--person", "unknown",
            ],
            "is not a session time",
        ),
        (vec!["undo"], "no correction to undo"),
    ] {
        let mut full = vec!["session", "fix", s.id.as_str()];
        full.extend(args);
        let out = aula.run(&full);
        assert_eq!(out.status.code(), Some(2), "{full:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{full:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(timeline(aula, &s.id), original);
}

fn bad_evidence_is_warned_about_and_aligned_anyway(aula: &Aula, s: &Sample) {
    let session: session::Session =
        serde_json::from_value(read_json(s.dir.join("session.json"))).unwrap();
    let at = |ms: i64| (session.start + chrono::Duration::milliseconds(ms)).to_rfc3339();
    let events = serde_json::json!([
        {"at": at(90_000), "seat": 99, "action": "mic_on"},
        {"at": at(60_000), "seat": 2, "action": "mic_off"},
        {"at": at(50_000), "person": "ghost", "action": "mic_on"},
    ]);
    let markers = serde_json::json!([{"at": at(30_000), "item": 42}]);
    let events_file = aula.path().join("bad-events.json");
    let markers_file = aula.path().join("bad-markers.json");
    std::fs::write(&events_file, events.to_string()).unwrap();
    std::fs::write(&markers_file, markers.to_string()).unwrap();
    aula.ok(&[
        "session",
        "evidence",
        &s.id,
        "--floor-events",
        events_file.to_str().unwrap(),
        "--agenda-markers",
        markers_file.to_str().unwrap(),
    ]);
    let out = aula.run(&["session", "align", &s.id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let warnings = stderr(&out);
    for expected in [
        "nobody in the roster sits at seat 99",
        "is earlier than the event before it",
        "ghost is not in the roster",
        "there is no item 42 on the agenda",
    ] {
        assert!(
            warnings.contains(expected),
            "{expected:?} not in:\n{warnings}"
        );
    }
    let t = timeline(aula, &s.id);
    assert_eq!(t.items.len(), s.truth.items.len());
    assert!(!t.words.is_empty());

    // Evidence that cannot be placed in session time is refused as a whole.
    let early = aula.path().join("early.json");
    std::fs::write(
        &early,
        serde_json::json!([{"at": at(-5_000), "seat": 1, "action": "mic_on"}]).to_string(),
    )
    .unwrap();
    let out = aula.run(&[
        "session",
        "evidence",
        &s.id,
        "--floor-events",
        early.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("before the session's start"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn alignment_needs_a_transcript_and_the_timeline_an_alignment() {
    let aula = Aula::new();
    let doc = aula.path().join("s.json");
    std::fs::write(
        &doc,
        r#"{"id":"s1","body":"Consiglio","title":"Seduta","start":"2021-03-15T17:00:00Z","mode":"in_person"}"#,
    )
    .unwrap();
    aula.ok(&["session", "import", doc.to_str().unwrap()]);
    for (args, expected) in [
        (vec!["session", "align", "s1"], "has no transcript yet"),
        (
            vec!["session", "timeline", "s1"],
            "has not been aligned yet",
        ),
        (vec!["session", "history", "nope"], "no session \"nope\""),
        (vec!["session", "evidence", "s1"], "--floor-events FILE"),
    ] {
        let out = aula.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// A mixing desk's recording with one channel per microphone names each speaker without any
/// floor events.
#[test]
fn microphone_channels_name_the_speakers() {
    let aula = Aula::new();
    let spec = Spec {
        lang: "en",
        seconds: 60,
        items: 1,
        speakers: 2,
        seed: 5,
        mic_channels: true,
        ..Spec::default()
    };
    let s = transcribed(&aula, "tiny.en", &spec);
    let session: session::Session =
        serde_json::from_value(read_json(s.dir.join("session.json"))).unwrap();
    let room = session.sources.iter().find(|x| x.id == "room").unwrap();
    assert_eq!(room.channel_seats, [1, 2, 3]);
    let t = timeline(&aula, &s.id);
    let a = attribution(&s.truth, &t.words);
    eprintln!(
        "{}: {:.2}% of word time right from microphone channels",
        s.id,
        a.right_share() * 100.0
    );
    assert!(a.right_share() >= 0.97, "{a:?}");
}
