//! A closed part (seduta segreta) declared through the API while the session streams live: the
//! public live stream shows the slate and carries silence for it, not a word of it can be
//! transcribed back out of the public segments, and its recording is the presidency's only.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::live::{is_slate, listed};
use common::serve::{http, start_server};
use common::{decode, read_json, stderr, tone_share, Aula, Evidence, Spec};

fn segment_number(file: &Path) -> u64 {
    let stem = file.file_stem().unwrap().to_string_lossy();
    stem.trim_start_matches("segment-").parse().unwrap()
}

#[test]
fn a_closed_part_declared_live_never_reaches_the_public_stream() {
    let aula = Aula::new();
    let dir = aula
        .sample(&Spec {
            lang: "en",
            seconds: 36,
            items: 1,
            speakers: 2,
            seed: 11,
            closed: Some((14, 22)),
            ..Spec::default()
        })
        .dir;
    let truth = read_json(dir.join("truth.json"));
    let word = truth["closed"][0]["word"].as_str().unwrap().to_lowercase();
    let tone_hz = truth["closed"][0]["tone_hz"].as_f64().unwrap() as f32;
    // The closed part is not in the document: the chair declares it during the session.
    let doc_path = dir.join("session.json");
    let mut doc = read_json(&doc_path);
    doc["closed_ranges"] = serde_json::json!([]);
    std::fs::write(&doc_path, doc.to_string()).unwrap();
    let id = aula.import(&doc_path, Evidence::None);
    let admin = aula
        .ok(&["token", "create", "--role", "admin"])
        .trim()
        .to_owned();
    let press = aula
        .ok(&["token", "create", "--role", "press"])
        .trim()
        .to_owned();
    let home = aula.path().join("data");
    let server = start_server(&home, None);

    let recorder = aula
        .command(&["record", &id, "--segment-seconds", "10", "--live"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let closed = format!("/api/v1/sessions/{id}/closed");
    let at = |secs: u64| {
        let wait = Duration::from_secs(secs).saturating_sub(started.elapsed());
        std::thread::sleep(wait);
    };
    // The file sources play from session time 0 as the recorder starts, a little after
    // `started`: each declaration comes a moment before its time.
    at(12);
    let (status, body) = http(
        server.port,
        "POST",
        &closed,
        Some(&admin),
        r#"{"start": 14000}"#,
    );
    assert_eq!(status, 200, "{body}");
    at(21);
    let (status, body) = http(
        server.port,
        "POST",
        &closed,
        Some(&admin),
        r#"{"end": 22000}"#,
    );
    assert_eq!(status, 200, "{body}");
    let out = recorder.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let live = home.join(format!("sessions/{id}/live"));
    let mut public_audio = Vec::new();
    for rendition in ["720p", "360p"] {
        let segments = listed(&live.join(rendition).join("index.m3u8"));
        assert!(segments.len() >= 8, "{rendition}: {segments:?}");
        let mut slate = 0;
        for file in &segments {
            let decoded = decode(file);
            // Segments are 2 s: those well inside the closed part are the slate and silent.
            let n = segment_number(file);
            if n * 2000 >= 15_000 && (n + 1) * 2000 <= 21_000 {
                assert!(is_slate(file), "{} is not the slate", file.display());
            }
            if is_slate(file) {
                slate += 1;
                let peak = decoded.audio.iter().fold(0f32, |m, s| m.max(s.abs()));
                assert!(
                    peak < 0.01,
                    "{} is slate but not silent ({peak})",
                    file.display()
                );
            }
            let share = tone_share(&decoded.audio, tone_hz);
            assert!(
                share.iter().all(|s| *s < 0.3),
                "{} carries the closed part's marker tone",
                file.display()
            );
            if rendition == "720p" {
                public_audio.extend(decoded.audio);
            }
        }
        assert!(slate >= 2, "{rendition}: the slate was never shown");
        let on_disk = std::fs::read_dir(live.join(rendition))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "ts")
            })
            .count();
        assert_eq!(
            on_disk,
            segments.len(),
            "{rendition}: unlisted segments left in live/"
        );
    }

    // Not one word of the closed part can be transcribed back out of the public stream; the
    // rest of the session can (so this check can fail).
    let public_text = aula.heard(&public_audio, "public.wav");
    assert!(
        !public_text.contains(&word),
        "the public stream says {word:?}: {public_text}"
    );
    assert!(
        public_text.split_whitespace().count() >= 10,
        "{public_text}"
    );

    // The recording of the sources goes on through the closed part: the admin fetches it, press
    // and the public do not.
    let recordings = home.join(format!("sessions/{id}/recordings"));
    let camera = doc["sources"][0]["id"].as_str().unwrap();
    let index = read_json(recordings.join(camera).join("index.json"));
    let segment = index["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["start_ms"].as_u64().unwrap() <= 17_000 && s["end_ms"].as_u64().unwrap() > 17_000
        })
        .expect("a recorded segment in the closed part");
    let file = segment["file"].as_str().unwrap();
    let url = format!("/files/{id}/recordings/{camera}/{file}");
    assert_eq!(http(server.port, "GET", &url, None, "").0, 404);
    assert_eq!(http(server.port, "GET", &url, Some(&press), "").0, 404);
    assert_eq!(http(server.port, "GET", &url, Some(&admin), "").0, 200);
    let recorded = aula.hear(&recordings.join(camera).join(file));
    assert!(
        recorded.contains(&word),
        "the recording lost the closed part: {recorded}"
    );
}
