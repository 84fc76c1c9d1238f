//! `aula sample create`: the generated media decode, last as long as the truth says, carry speech
//! exactly where truth.json puts it, and the floor events follow the turns within the jitter.

mod common;

use common::{decode, read_json, Aula, Evidence, Spec};
use sample::Truth;
use session::{FloorEvent, MicAction, Session};

const JITTER_MS: u64 = 300;

/// Speech is loud inside every utterance and the track is quiet between them.
fn assert_speech_where_truth_says(audio: &common::Decoded, spans: &[(u64, u64)], end_ms: u64) {
    for &(start, end) in spans {
        let loud = (start..end)
            .step_by(50)
            .filter(|&t| audio.rms(t, t + 50) > 0.01)
            .count();
        let windows = (end - start).div_ceil(50) as usize;
        assert!(
            loud * 2 > windows,
            "utterance {start}-{end} ms: only {loud} of {windows} windows carry speech"
        );
    }
    let mut gap_start = 0;
    for &(start, end) in spans.iter().chain([(end_ms, end_ms)].iter()) {
        // Leave 100 ms at each edge for the codec's pre-echo.
        let (a, b) = (gap_start + 100, start.saturating_sub(100));
        let mut t = a;
        while t + 50 <= b {
            let level = audio.rms(t, t + 50);
            assert!(level < 0.005, "gap {a}-{b} ms: level {level} at {t} ms");
            t += 50;
        }
        gap_start = end;
    }
}

#[test]
fn hybrid_english_session_matches_its_truth() {
    let aula = Aula::new();
    let dir = aula
        .sample_in(
            "hybrid",
            &Spec {
                lang: "en",
                seconds: 45,
                items: 2,
                speakers: 3,
                mode: "hybrid",
                seed: 4,
                ..Spec::default()
            },
        )
        .dir;
    let truth: Truth = serde_json::from_value(read_json(dir.join("truth.json"))).unwrap();
    let session: Session = serde_json::from_value(read_json(dir.join("session.json"))).unwrap();
    assert!(session.validate().is_empty(), "{:?}", session.validate());
    assert_eq!(truth.duration_ms.0, 45_000);
    assert_eq!(truth.items.len(), 2);
    assert!(truth
        .utterances
        .iter()
        .any(|u| u.text.contains("item 2 on the agenda")));

    let camera = decode(&dir.join("camera.mp4"));
    assert!(
        camera.audio_ms().abs_diff(45_000) <= 40,
        "audio lasts {} ms",
        camera.audio_ms()
    );
    assert!(
        (camera.video_frames * 40).abs_diff(45_000) <= 40,
        "video has {} frames",
        camera.video_frames
    );
    let spans: Vec<(u64, u64)> = truth
        .utterances
        .iter()
        .map(|u| (u.start_ms.0, u.end_ms.0))
        .collect();
    assert_speech_where_truth_says(&camera, &spans, 45_000);

    // The remote councillor has a stream of their own, carrying only their voice.
    let remote_source = session
        .sources
        .iter()
        .find(|s| s.person.is_some())
        .expect("a remote source");
    let remote_person = remote_source.person.as_deref().unwrap();
    assert!(session.person(remote_person).unwrap().seat.is_none());
    let remote = decode(&dir.join(&remote_source.uri));
    assert!(remote.audio_ms().abs_diff(45_000) <= 40);
    let own: Vec<(u64, u64)> = truth
        .utterances
        .iter()
        .filter(|u| u.person == remote_person)
        .map(|u| (u.start_ms.0, u.end_ms.0))
        .collect();
    assert_speech_where_truth_says(&remote, &own, 45_000);

    // Every turn in the chamber lies inside a mic-on interval of its seat (within the jitter); a
    // councillor's mic opens at their turn, the chair's stays open through the item; none for remote.
    let events: Vec<FloorEvent> =
        serde_json::from_value(read_json(dir.join("floor_events.json"))).unwrap();
    let clock = session.clock();
    let mut open = std::collections::HashMap::new();
    let mut intervals: Vec<(u32, u64, u64)> = Vec::new();
    for e in &events {
        let seat = e.seat.unwrap();
        let at = clock.to_session(e.at).unwrap().0;
        match e.action {
            MicAction::MicOn => assert!(open.insert(seat, at).is_none(), "{e:?}"),
            MicAction::MicOff => intervals.push((seat, open.remove(&seat).unwrap(), at)),
        }
    }
    assert!(open.is_empty(), "mics left on: {open:?}");
    let chair_seat = session.roster[0].seat.unwrap();
    for u in &truth.utterances {
        let Some(seat) = session.person(&u.person).unwrap().seat else {
            continue;
        };
        let framed = intervals.iter().any(|&(s, on, off)| {
            s == seat && on <= u.start_ms.0 + JITTER_MS && u.end_ms.0 <= off + JITTER_MS
        });
        assert!(framed, "no mic-on interval of seat {seat} around {u:?}");
        if seat != chair_seat {
            assert!(
                intervals
                    .iter()
                    .any(|&(s, on, _)| s == seat && on.abs_diff(u.start_ms.0) <= JITTER_MS),
                "{u:?}"
            );
        }
    }
    let chair_turns = intervals.iter().filter(|i| i.0 == chair_seat).count();
    assert_eq!(
        chair_turns,
        truth.items.len() + 1,
        "one per item plus the opening"
    );

    // The document imports as it is, with its floor events.
    let imported = aula.import(&dir.join("session.json"), Evidence::FloorEvents);
    assert_eq!(imported, session.id.as_str());
}

#[test]
fn italian_session_announces_items_in_italian() {
    let aula = Aula::new();
    let dir = aula
        .sample_in(
            "it",
            &Spec {
                seconds: 30,
                items: 1,
                speakers: 2,
                ..Spec::default()
            },
        )
        .dir;
    let truth: Truth = serde_json::from_value(read_json(dir.join("truth.json"))).unwrap();
    assert!(truth.utterances.iter().any(|u| u
        .text
        .starts_with("Passiamo al punto 1 all'ordine del giorno")));
    let camera = decode(&dir.join("camera.mp4"));
    assert!(camera.audio_ms().abs_diff(30_000) <= 40);
    let spans: Vec<(u64, u64)> = truth
        .utterances
        .iter()
        .map(|u| (u.start_ms.0, u.end_ms.0))
        .collect();
    assert_speech_where_truth_says(&camera, &spans, 30_000);
}

#[test]
fn same_seed_same_session() {
    let aula = Aula::new();
    let spec = Spec {
        lang: "en",
        seconds: 20,
        items: 1,
        seed: 11,
        ..Spec::default()
    };
    let a = aula.sample_in("a", &spec).dir;
    let b = aula.sample_in("b", &spec).dir;
    for file in [
        "session.json",
        "floor_events.json",
        "agenda_markers.json",
        "truth.json",
    ] {
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file} differs"
        );
    }
    let other = aula.sample_in("c", &Spec { seed: 12, ..spec }).dir;
    assert_ne!(
        std::fs::read(a.join("truth.json")).unwrap(),
        std::fs::read(other.join("truth.json")).unwrap()
    );
}

#[test]
fn impossible_options_are_refused_with_exit_2() {
    let aula = Aula::new();
    let dir = aula.path().join("x");
    let out = aula.run(&[
        "sample",
        "create",
        dir.to_str().unwrap(),
        "--seconds",
        "20",
        "--items",
        "8",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("too short for 8 agenda item(s)"));
    assert!(!dir.join("camera.mp4").exists());
}
