//! The archive: a session recorded live, its closed part declared only afterwards, published.
//! The whole session plays as one HLS VOD without a frame or a word of the closed part, a card
//! standing in for it; chapters start where the items start; a `?t=` link opens the player at
//! that second in Chromium; a closed part declared after publishing takes the archive off the
//! public site until it is made again.

mod common;

use std::time::Duration;

use common::browser::{chromium, screenshots, start_driver};
use common::live::{is_slate, listed};
use common::serve::{http, start_server};
use common::{decode, ffprobe_ms, read_json, stderr, tone_share, Aula, Evidence, Spec};

const CLOSED_MS: (u64, u64) = (14_000, 24_000);
const CARD_MS: u64 = 3_000;

/// Where session time `ms` plays in an archive without the closed part.
fn expected_vod_ms(ms: u64) -> u64 {
    let closed_ms = CLOSED_MS.1 - CLOSED_MS.0;
    match ms {
        ms if ms < CLOSED_MS.0 => ms,
        ms if ms < CLOSED_MS.1 => CLOSED_MS.0,
        ms => ms - closed_ms + CARD_MS,
    }
}

/// The start of every cue of a WebVTT file, in ms.
fn cue_starts(vtt: &str) -> Vec<u64> {
    vtt.lines()
        .filter_map(|l| l.split_once(" --> "))
        .map(|(start, _)| {
            let (hms, ms) = start.split_once('.').unwrap();
            let parts: Vec<u64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
            ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000 + ms.parse::<u64>().unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_session_plays_without_its_closed_part() {
    let aula = Aula::new();
    let sample = aula.sample(&Spec {
        lang: "en",
        seconds: 40,
        items: 2,
        speakers: 2,
        seed: 21,
        closed: Some((CLOSED_MS.0 / 1000, CLOSED_MS.1 / 1000)),
        ..Spec::default()
    });
    let truth = read_json(sample.file("truth.json"));
    let word = truth["closed"][0]["word"].as_str().unwrap().to_lowercase();
    let tone_hz = truth["closed"][0]["tone_hz"].as_f64().unwrap() as f32;
    // Nobody declared the closed part during the session: the live program recorded it all.
    let doc_path = sample.document();
    let mut doc = read_json(&doc_path);
    doc["closed_ranges"] = serde_json::json!([]);
    std::fs::write(&doc_path, doc.to_string()).unwrap();
    let id = aula.import(&doc_path, Evidence::FloorEventsAndMarkers);
    let out = aula.run(&["record", &id, "--segment-seconds", "10", "--live"]);
    assert!(out.status.success(), "{}", stderr(&out));
    aula.ok(&["record", "finalize", &id]);
    let home = aula.path().join("data");
    let session_dir = home.join(format!("sessions/{id}"));
    let program_ms = ffprobe_ms(&session_dir.join("recordings/program.mp4"));

    let admin = aula
        .ok(&["token", "create", "--role", "admin"])
        .trim()
        .to_owned();
    let server = start_server(&home, None);
    let closed = format!("/api/v1/sessions/{id}/closed");
    for body in [
        format!(r#"{{"start": {}}}"#, CLOSED_MS.0),
        format!(r#"{{"end": {}}}"#, CLOSED_MS.1),
    ] {
        let (status, text) = http(server.port, "POST", &closed, Some(&admin), &body);
        assert_eq!(status, 200, "{text}");
    }
    aula.transcribed(&id, "tiny.en");
    aula.ok(&["publish", &id, "--presets", "archive"]);

    // One VOD: the session minus the closed part, plus the card.
    let archive = session_dir.join("archive");
    let segments = listed(&archive.join("720p/index.m3u8"));
    let playlist = std::fs::read_to_string(archive.join("720p/index.m3u8")).unwrap();
    let vod_ms: u64 = playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|d| (d.trim_end_matches(',').parse::<f64>().unwrap() * 1000.0).round() as u64)
        .sum();
    let want_ms = program_ms - (CLOSED_MS.1 - CLOSED_MS.0) + CARD_MS;
    assert!(
        vod_ms.abs_diff(want_ms) <= 1_000,
        "the VOD lasts {vod_ms} ms, the session {program_ms} ms: want {want_ms} ms"
    );
    assert_eq!(
        playlist.matches("#EXT-X-DISCONTINUITY").count(),
        2,
        "{playlist}"
    );

    // The card is the slate and silent; the rest carries the session's frames and sound but
    // not the closed part's marker tone, nor its frames.
    let mut public_audio = Vec::new();
    let (mut card_segments, mut session_frames) = (0, 0);
    for file in &segments {
        let decoded = decode(file);
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("card") {
            assert!(is_slate(file), "{name} is not the slate");
            let peak = decoded.audio.iter().fold(0f32, |m, s| m.max(s.abs()));
            assert!(peak < 0.01, "{name} is the card but not silent ({peak})");
            card_segments += 1;
            continue;
        }
        assert!(!is_slate(file), "{name} is a piece but shows the slate");
        let share = tone_share(&decoded.audio, tone_hz);
        assert!(
            share.iter().all(|s| *s < 0.3),
            "{name} carries the closed part's marker tone"
        );
        session_frames += decoded.video_frames;
        public_audio.extend(decoded.audio);
    }
    assert!(card_segments >= 1, "no card in {segments:?}");
    let public_frames = (program_ms - (CLOSED_MS.1 - CLOSED_MS.0)) * 25 / 1000;
    assert!(
        session_frames.abs_diff(public_frames) <= 12,
        "{session_frames} frames of the session in the VOD, {public_frames} are public"
    );
    let heard = aula.heard(&public_audio, "archive.wav");
    assert!(!heard.contains(&word), "the archive says {word:?}: {heard}");
    assert!(heard.split_whitespace().count() >= 10, "{heard}");

    // Chapters: every item, where it starts.
    let chapters = std::fs::read_to_string(archive.join("chapters.vtt")).unwrap();
    let starts = cue_starts(&chapters);
    let items = truth["items"].as_array().unwrap();
    assert_eq!(starts.len(), items.len(), "{chapters}");
    for (item, start) in items.iter().zip(&starts) {
        let want = expected_vod_ms(item["start_ms"].as_u64().unwrap());
        assert!(
            start.abs_diff(want) <= 1_000,
            "chapter at {start} ms, the item starts at {want} ms of the VOD: {chapters}"
        );
    }
    let captions = std::fs::read_to_string(archive.join("captions.vtt")).unwrap();
    assert!(
        captions.contains("<v "),
        "captions without speakers: {captions}"
    );
    assert!(!captions.to_lowercase().contains(&word), "{captions}");

    // In Chromium: `?t=30` starts at 30 s of the session, 23 s into the VOD, captions showing.
    let base = format!("http://127.0.0.1:{}", server.port);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    screenshots(
        &client,
        "archive",
        &format!("{base}/sessions/{id}?lang=en"),
        "session",
    )
    .await;
    client
        .goto(&format!("{base}/sessions/{id}?t=30"))
        .await
        .unwrap();
    let mut at = (0.0, 0.0, String::new());
    for _ in 0..100 {
        let v = client
            .execute(
                "const v = document.getElementById('player'); \
                 const c = Array.from(v.textTracks).find((t) => t.kind === 'captions'); \
                 return [v.currentTime, window.aulaSessionMs ? window.aulaSessionMs() : 0, \
                         c ? c.mode : 'none', v.paused];",
                vec![],
            )
            .await
            .unwrap();
        at = (
            v[0].as_f64().unwrap(),
            v[1].as_f64().unwrap(),
            v[2].as_str().unwrap().to_owned(),
        );
        if at.0 > 0.0 && v[3] == serde_json::json!(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let want_s = expected_vod_ms(30_000) as f64 / 1000.0;
    assert!(
        (at.0 - want_s).abs() <= 1.0,
        "playback started at {} s of the VOD, asked {want_s} s",
        at.0
    );
    assert!((at.1 - 30_000.0).abs() <= 1_000.0, "session time {}", at.1);
    assert_eq!(at.2, "showing", "captions are not on");
    client.close().await.unwrap();

    // A closed part declared after publishing: the public no longer gets the archive.
    let file = format!("/files/{id}/archive/720p/index.m3u8");
    assert_eq!(http(server.port, "GET", &file, None, "").0, 200);
    for body in [r#"{"start": 30000}"#, r#"{"end": 33000}"#] {
        let (status, text) = http(server.port, "POST", &closed, Some(&admin), body);
        assert_eq!(status, 200, "{text}");
    }
    assert_eq!(http(server.port, "GET", &file, None, "").0, 404);
    assert_eq!(http(server.port, "GET", &file, Some(&admin), "").0, 200);

    // Published again, the archive is made anew for the new closed part and is public again;
    // published once more with nothing changed, it is kept as it is.
    let publish = || -> serde_json::Value {
        let out = aula.ok(&["publish", &id, "--presets", "archive", "--json"]);
        serde_json::from_str(&out).unwrap()
    };
    let report = publish();
    assert_eq!(report["archive"]["kept"], false, "{report}");
    assert_eq!(report["archive"]["cards"], 2, "{report}");
    assert_eq!(http(server.port, "GET", &file, None, "").0, 200);
    let again = publish();
    assert_eq!(again["archive"]["kept"], true, "{again}");
    assert_eq!(again["archive"]["segments"], report["archive"]["segments"]);
}
