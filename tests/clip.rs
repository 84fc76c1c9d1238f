//! Clips end to end on a generated, transcribed and aligned session: frame-accurate re-encodes,
//! stream copies that report their keyframe start, sidecar, soft and burned subtitles, name
//! captions, posters, and bad requests refused without leaving anything half-written.

mod common;

use std::path::{Path, PathBuf};

use common::{stderr, Aula, Evidence, Spec};
use publisher::probe;
use session::Timeline;

const FRAME_MS: u64 = 40;

struct Sample {
    dir: PathBuf,
    id: String,
}

/// A 60-second English session with two items, aligned with floor events and the clerk's markers.
fn aligned(aula: &Aula) -> Sample {
    let sample = aula.sample(&Spec {
        lang: "en",
        seconds: 60,
        items: 2,
        speakers: 2,
        seed: 3,
        ..Spec::default()
    });
    let id = aula.imported(&sample, Evidence::FloorEventsAndMarkers);
    aula.transcribed(&id, "tiny.en");
    Sample {
        dir: sample.dir,
        id,
    }
}

fn clip(aula: &Aula, args: &[&str]) -> serde_json::Value {
    let mut full = vec!["clip"];
    full.extend_from_slice(args);
    full.push("--json");
    let out: serde_json::Value = serde_json::from_str(&aula.ok(&full)).unwrap();
    out[0].clone()
}

/// Mean absolute difference of two grey pictures.
fn difference(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / a.len() as f64
}

fn file(value: &serde_json::Value) -> PathBuf {
    PathBuf::from(value.as_str().unwrap())
}

fn srt_cues(path: &Path) -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let lines: Vec<&str> = block.lines().collect();
            (
                lines[1].to_owned(),
                lines[2..].iter().map(|l| l.to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn clips_of_an_aligned_session() {
    let aula = Aula::new();
    let s = aligned(&aula);
    let camera = s.dir.join("camera.mp4");
    let timeline: Timeline =
        serde_json::from_str(&aula.ok(&["session", "timeline", &s.id, "--json"])).unwrap();
    let item = timeline
        .items
        .iter()
        .find(|i| i.number == 2)
        .unwrap()
        .clone();
    let recording_ms = probe::duration_ms(&camera).unwrap();

    // Frame-accurate clip of item 2: its span within one frame, starting on the right frame.
    let c = clip(&aula, &[&s.id, "--item", "2", "--padding-ms", "0"]);
    assert_eq!(c["mode"], "encode");
    let path = file(&c["file"]);
    let info = probe::info(&path).unwrap();
    // The item runs to the end of the recording's audio; the picture stops with its last frame.
    let source = probe::info(&camera).unwrap();
    let source_video_end = source.stream("video").unwrap().end_ms as u64;
    let real_start = c["start_ms"].as_u64().unwrap();
    let span_ms = item.end_ms.0.min(recording_ms).min(source_video_end) - real_start;
    let video = info.stream("video").unwrap();
    let audio = info.stream("audio").unwrap();
    let video_ms = video.end_ms as u64;
    assert_eq!(video.start_ms, 0, "{info:?}");
    assert!(
        video_ms.abs_diff(span_ms) <= FRAME_MS,
        "video {video_ms} ms, item {span_ms} ms"
    );
    assert!(real_start >= item.start_ms.0 && real_start - item.start_ms.0 < FRAME_MS);
    // Audio and video start and end together (within 40 ms).
    assert!(video.start_ms.abs_diff(audio.start_ms) <= 40, "{info:?}");
    let source_audio_end = source.stream("audio").unwrap().end_ms;
    let source_gap = source_audio_end - source_video_end as i64;
    assert!(
        (audio.end_ms - video.end_ms - source_gap).abs() <= 40,
        "{info:?} (the recording's audio outlasts its video by {source_gap} ms)"
    );
    let first = probe::frame_gray(&path, 0, 160, 90).unwrap();
    let at = |ms: u64| probe::frame_gray(&camera, ms, 160, 90).unwrap();
    let start = real_start;
    let here = difference(&first, &at(start));
    for other in [start - FRAME_MS, start + FRAME_MS, start + 2 * FRAME_MS] {
        assert!(
            here < difference(&first, &at(other)),
            "the first frame is not the one at {start} ms"
        );
    }
    // Sidecar subtitles: the item's words, laid out in short cues.
    let srt = &c["subtitles"][0];
    assert!(srt.as_str().unwrap().ends_with(".srt"));
    let cues = srt_cues(&file(srt));
    assert!(cues.len() >= 2, "{cues:?}");
    for (_, lines) in &cues {
        assert!(
            lines.len() <= 2 && lines.iter().all(|l| l.chars().count() <= 42),
            "{lines:?}"
        );
    }
    let item_words: String = timeline
        .words
        .iter()
        .filter(|w| w.start_ms >= item.start_ms && w.start_ms < item.end_ms)
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let cue_words: String = cues
        .iter()
        .map(|(_, l)| l.join(" "))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(cue_words, item_words);
    assert!(file(&c["poster"]).is_file());

    // Soft subtitles: a mov_text track whose cues match the sidecar file.
    let (soft_dir, burn_dir) = (aula.path().join("soft"), aula.path().join("burn"));
    let soft = clip(
        &aula,
        &[
            &s.id,
            "--item",
            "2",
            "--padding-ms",
            "0",
            "--subs",
            "soft",
            "--out",
            soft_dir.to_str().unwrap(),
        ],
    );
    let track = probe::mov_text_cues(&file(&soft["file"])).unwrap();
    let sidecar = srt_cues(&file(&soft["subtitles"][0]));
    assert_eq!(track.len(), sidecar.len());
    for ((_, _, text), (_, lines)) in track.iter().zip(&sidecar) {
        assert_eq!(text, &lines.join("\n"));
    }

    // Burned subtitles change the subtitle area of the picture, not the rest.
    let burned = clip(
        &aula,
        &[
            &s.id,
            "--item",
            "2",
            "--padding-ms",
            "0",
            "--subs",
            "burn",
            "--out",
            burn_dir.to_str().unwrap(),
        ],
    );
    let cue_ms = track[0].0 as u64 + 300;
    let plain = probe::frame_gray(&path, cue_ms, 160, 90).unwrap();
    let drawn = probe::frame_gray(&file(&burned["file"]), cue_ms, 160, 90).unwrap();
    let changed = |from: usize, to: usize| {
        plain[from * 160..to * 160]
            .iter()
            .zip(&drawn[from * 160..to * 160])
            .filter(|(a, b)| a.abs_diff(**b) > 40)
            .count()
    };
    assert!(
        changed(60, 90) > 40,
        "{} pixels changed under the picture",
        changed(60, 90)
    );
    assert!(
        changed(0, 40) < 5,
        "{} pixels changed above",
        changed(0, 40)
    );

    // A stream copy starts at the keyframe at or before the start and says so.
    let copy = clip(
        &aula,
        &[
            &s.id,
            "--from",
            "25.5",
            "--to",
            "35",
            "--preset",
            "archive",
            "--padding-ms",
            "0",
        ],
    );
    assert_eq!(copy["mode"], "copy");
    let real = copy["start_ms"].as_u64().unwrap();
    assert!(real <= 25_500 && 25_500 - real <= 10_000, "{copy}");
    let first = probe::frame_gray(&file(&copy["file"]), 0, 160, 90).unwrap();
    assert!(difference(&first, &at(real)) < difference(&first, &at(real + FRAME_MS)));

    // A smart cut starts on the exact frame without re-encoding it all: the frames up to the next
    // keyframe are encoded again, the rest copied, and the join shows no glitch.
    let smart = clip(
        &aula,
        &[
            &s.id,
            "--from",
            "25.5",
            "--to",
            "35",
            "--preset",
            "archive",
            "--accurate",
            "--padding-ms",
            "0",
        ],
    );
    assert_eq!(smart["mode"], "smart");
    let start = smart["start_ms"].as_u64().unwrap();
    assert!(start >= 25_500 && start - 25_500 < FRAME_MS, "{smart}");
    let smart_path = file(&smart["file"]);
    let info = probe::info(&smart_path).unwrap();
    let video = info.stream("video").unwrap();
    assert_eq!(
        video.packets,
        (35_000 - start).div_ceil(FRAME_MS),
        "{info:?}"
    );
    for offset in [0, 440, 480, 520, 4000] {
        let clip_frame = probe::frame_gray(&smart_path, offset, 160, 90).unwrap();
        let here = difference(&clip_frame, &at(start + offset));
        let next = difference(&clip_frame, &at(start + offset + FRAME_MS));
        assert!(
            here < next && here < 3.0,
            "frame at +{offset} ms: {here} vs {next}"
        );
    }

    // The vertical preset makes a 1080x1920 picture.
    let vertical = clip(
        &aula,
        &[&s.id, "--intervention", "2", "--preset", "social-vertical"],
    );
    let jpeg = std::fs::read(file(&vertical["poster"])).unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let info = probe::info(&file(&vertical["file"])).unwrap();
    assert_eq!(info.stream("video").unwrap().codec, "h264");

    // Radio: MP3 only.
    let radio = clip(&aula, &[&s.id, "--item", "1", "--preset", "audio-mp3"]);
    let info = probe::info(&file(&radio["file"])).unwrap();
    assert_eq!(info.streams.len(), 1);
    assert_eq!(info.streams[0].codec, "mp3");

    bad_requests_are_refused(&aula, &s);
}

fn bad_requests_are_refused(aula: &Aula, s: &Sample) {
    let presets = aula.path().join("data/presets");
    std::fs::create_dir_all(&presets).unwrap();
    let out = aula.path().join("out");
    for (args, expected) in [
        (vec!["--item", "99"], "item 99 is not on the agenda"),
        (
            vec!["--from", "10:00", "--to", "11:00"],
            "is outside the recording",
        ),
        (vec!["--from", "30", "--to", "20"], "is empty or reversed"),
        (
            vec!["--item", "1", "--preset", "webm"],
            "unknown preset \"webm\"",
        ),
        (
            vec!["--item", "1", "--preset", "archive", "--subs", "burn"],
            "cannot be burned in",
        ),
        (
            vec!["--person", "nobody"],
            "nobody is not in the session's roster",
        ),
        (vec!["--intervention", "0"], "intervention 0 does not exist"),
    ] {
        let mut full = vec!["clip", s.id.as_str(), "--out", out.to_str().unwrap()];
        full.extend(args.iter().copied());
        let result = aula.run(&full);
        assert_eq!(
            result.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&result)
        );
        assert!(
            stderr(&result).contains(expected),
            "{args:?}: {}",
            stderr(&result)
        );
    }
    std::fs::write(
        presets.join("bad.toml"),
        "extends = \"web-720p\"\nname = \"tg\"\ndescription = \"x\"\n[video]\nbitrate_kbps = 1\n",
    )
    .unwrap();
    let result = aula.run(&["clip", &s.id, "--item", "1", "--preset", "tg"]);
    assert_eq!(result.status.code(), Some(2));
    assert!(
        stderr(&result).contains("video.bitrate_kbps = 1 (allowed: 100 to 100000)"),
        "{}",
        stderr(&result)
    );
    std::fs::remove_file(presets.join("bad.toml")).unwrap();
    // Nothing half-written anywhere.
    for dir in [
        out,
        aula.path().join(format!("data/sessions/{}/clips", s.id)),
    ] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                assert!(
                    !name.ends_with(".part") && !name.starts_with('.'),
                    "{name} left in {dir:?}"
                );
            }
        }
    }
}

/// A closed part with a marker tone and a spoken marker word: clips are trimmed or split around
/// it, and neither the tone, nor the word, nor any frame of it reaches a clip or its subtitles.
#[test]
fn closed_session_parts_never_leave() {
    let aula = Aula::new();
    let sample = aula.sample_in(
        "closed",
        &Spec {
            lang: "en",
            seconds: 60,
            items: 1,
            speakers: 2,
            seed: 9,
            closed: Some((25, 37)),
            ..Spec::default()
        },
    );
    let truth = sample.truth();
    let closed = &truth.closed[0];
    let camera = sample.file("camera.mp4");
    // The marker is really there in the recording.
    let source = common::decode(&camera);
    let tone_window = (closed.tone_ms.0 .0 / 100 + 3) as usize;
    assert!(common::tone_share(&source.audio, closed.tone_hz)[tone_window] > 0.5);

    let id = aula.imported(&sample, Evidence::FloorEvents);
    aula.transcribed(&id, "tiny.en");
    let timeline: Timeline =
        serde_json::from_str(&aula.ok(&["session", "timeline", &id, "--json"])).unwrap();
    let word = closed.word.to_lowercase();
    assert!(
        timeline
            .words
            .iter()
            .any(|w| w.text.to_lowercase().contains(&word)),
        "the marker word should be in the (internal) transcript"
    );

    let out = aula.run(&["clip", &id, "--item", "1", "--subs", "soft", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("overlaps a closed-session range: split into 2 parts"),
        "{}",
        stderr(&out)
    );
    let clips: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(clips.len(), 2);
    for c in &clips {
        let start = c["start_ms"].as_u64().unwrap();
        let end = start + c["duration_ms"].as_u64().unwrap();
        assert!(
            end <= closed.start_ms.0 || start >= closed.end_ms.0,
            "{c} overlaps the closed part"
        );
        let path = file(&c["file"]);
        let audio = common::decode(&path).audio;
        let loudest = common::tone_share(&audio, closed.tone_hz)
            .into_iter()
            .fold(0.0f32, f32::max);
        assert!(
            loudest < 0.2,
            "the marker tone leaked into {}",
            path.display()
        );
        for subtitle in c["subtitles"].as_array().unwrap() {
            let text = std::fs::read_to_string(file(subtitle))
                .unwrap()
                .to_lowercase();
            assert!(
                !text.contains(&word),
                "{} has the marker word",
                file(subtitle).display()
            );
        }
        let track = probe::mov_text_cues(&path).unwrap();
        assert!(track
            .iter()
            .all(|(_, _, t)| !t.to_lowercase().contains(&word)));
    }
    // A request inside the closed part is refused; a stream copy whose keyframe would reach back
    // into it is too.
    let inside = aula.run(&["clip", &id, "--from", "27", "--to", "33"]);
    assert_eq!(inside.status.code(), Some(2));
    assert!(
        stderr(&inside).contains("lies entirely in closed-session ranges"),
        "{}",
        stderr(&inside)
    );
    let copy = aula.run(&[
        "clip",
        &id,
        "--from",
        "37.1",
        "--to",
        "45",
        "--preset",
        "archive",
        "--padding-ms",
        "0",
        "--json",
    ]);
    if copy.status.success() {
        let c: Vec<serde_json::Value> = serde_json::from_slice(&copy.stdout).unwrap();
        assert!(
            c[0]["start_ms"].as_u64().unwrap() >= closed.end_ms.0,
            "{c:?}"
        );
    } else {
        assert_eq!(copy.status.code(), Some(2));
        assert!(
            stderr(&copy).contains("lies in a closed-session range"),
            "{}",
            stderr(&copy)
        );
    }
}

/// A session whose camera file is a 12-second MP4 cut to half its bytes; its id.
fn session_with_truncated_camera(aula: &Aula) -> String {
    let dir = aula.path().join("cut");
    std::fs::create_dir_all(&dir).unwrap();
    let camera = dir.join("camera.mp4");
    common::write_mp4(&camera, 12);
    common::truncate(&camera, 0.5);
    let doc = serde_json::json!({
        "id": "cut-camera",
        "body": "Consiglio comunale di Esempio",
        "title": "Seduta ordinaria",
        "start": "2024-05-06T17:00:00Z",
        "mode": "in_person",
        "language": "en",
        "sources": [{"id": "cam1", "kind": "camera", "uri": "camera.mp4"}],
        "roster": [{"id": "mario-rossi", "name": "Mario Rossi", "role": "chair", "seat": 1}],
        "agenda": [{"number": 1, "title": "Bilancio", "kind": "resolution"}]
    });
    let path = dir.join("session.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    aula.ok(&["session", "import", path.to_str().unwrap()])
        .trim()
        .to_owned()
}

#[test]
fn a_truncated_recording_is_refused_with_both_durations() {
    let aula = Aula::new();
    let id = session_with_truncated_camera(&aula);
    let out = aula.run(&["clip", &id, "--from", "1", "--to", "2"]);
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{message}");
    assert!(message.contains("camera.mp4 ends at "), "{message}");
    let (data_end_ms, declared_ms) = common::truncation_ms(&message).expect("both durations");
    assert!(
        (11_900..=12_200).contains(&declared_ms),
        "declared {declared_ms} ms"
    );
    assert!(
        (2_000..=10_000).contains(&data_end_ms),
        "ends at {data_end_ms} ms"
    );
    assert!(!aula.path().join("data/sessions/cut-camera/clips").exists());
}

#[test]
fn a_truncated_recording_with_allow_truncated_is_clipped_within_its_data() {
    let aula = Aula::new();
    let id = session_with_truncated_camera(&aula);
    let out = aula.run(&[
        "clip",
        &id,
        "--from",
        "1",
        "--to",
        "2",
        "--padding-ms",
        "0",
        "--allow-truncated",
        "--json",
    ]);
    let message = stderr(&out);
    assert!(out.status.success(), "{message}");
    assert!(message.contains("its container declares"), "{message}");
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = PathBuf::from(made[0]["file"].as_str().unwrap());
    let info = probe::info(&file).unwrap();
    assert!(
        info.duration_ms.abs_diff(1000) <= 2 * FRAME_MS,
        "{} ms",
        info.duration_ms
    );
}
