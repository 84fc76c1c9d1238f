//! The press kit end to end: clips per item in two presets, checksums that verify, a ZIP that opens,
//! feeds that parse with an enclosure per clip, nothing of a closed part anywhere, republishing that
//! cuts only what a correction changed, and the clip report.

mod common;

use std::io::Read;
use std::path::Path;

use common::{read_json, stderr, Aula, Evidence, Spec};
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn publish(aula: &Aula, id: &str) -> serde_json::Value {
    serde_json::from_str(&aula.ok(&["publish", id, "--presets", "web-720p,audio-mp3", "--json"]))
        .unwrap()
}

#[test]
fn press_kit_of_a_session_with_a_closed_part() {
    let aula = Aula::new();
    let sample = aula.sample(&Spec {
        lang: "en",
        seconds: 60,
        items: 2,
        speakers: 2,
        seed: 3,
        closed: Some((40, 52)),
        ..Spec::default()
    });
    let dir = &sample.dir;
    let truth = sample.truth();
    let closed = &truth.closed[0];
    // An agenda title that would make a hostile file name or page.
    let hostile = "../../etc/passwd <script>alert(1)</script> \"; rm -rf ~";
    let mut document = read_json(dir.join("session.json"));
    document["agenda"][0]["title"] = serde_json::Value::String(hostile.to_owned());
    std::fs::write(dir.join("session.json"), document.to_string()).unwrap();
    // The clerk's markers place the items (the hostile title was never spoken).
    let id = aula.imported(&sample, Evidence::FloorEventsAndMarkers);
    aula.transcribed(&id, "tiny.en");

    let first = publish(&aula, &id);
    let clips = first["clips"].as_u64().unwrap();
    // Item 1, and item 2 split around the closed part, in two presets.
    assert_eq!(clips, 6, "{first}");
    assert_eq!(first["cut"], clips);
    assert!(
        first["warnings"][0]
            .as_str()
            .unwrap()
            .contains("closed-session"),
        "{first}"
    );
    let package = Path::new(first["package"].as_str().unwrap()).to_path_buf();

    // Every file in the manifest is there with its checksum.
    let manifest = read_json(package.join("manifest.json"));
    let files = manifest["files"].as_array().unwrap();
    for f in files {
        let path = package.join(f["path"].as_str().unwrap());
        let data = std::fs::read(&path).unwrap();
        assert_eq!(
            hex(&Sha256::digest(&data)),
            f["sha256"].as_str().unwrap(),
            "{}",
            path.display()
        );
        assert_eq!(data.len() as u64, f["bytes"].as_u64().unwrap());
    }
    for expected in [
        "index.html",
        "metadata.json",
        "feed.xml",
        "transcript/transcript.txt",
        "transcript/transcript.srt",
        "transcript/transcript.vtt",
        "transcript/transcript.json",
    ] {
        assert!(
            files.iter().any(|f| f["path"] == expected),
            "{expected} missing"
        );
    }

    // The ZIP opens and holds the same files.
    let zip_file = std::fs::File::open(first["zip"].as_str().unwrap()).unwrap();
    let mut zip = zip::ZipArchive::new(zip_file).unwrap();
    let names: Vec<String> = zip.file_names().map(String::from).collect();
    for f in files {
        let path = f["path"].as_str().unwrap();
        assert!(
            names.iter().any(|n| n.ends_with(&format!("/{path}"))),
            "{path} not in the ZIP"
        );
    }
    let index = names
        .iter()
        .find(|n| n.ends_with("/index.html"))
        .unwrap()
        .clone();
    let mut html = String::new();
    zip.by_name(&index)
        .unwrap()
        .read_to_string(&mut html)
        .unwrap();
    assert!(html.contains("<video") && html.contains("<track kind=\"captions\""));
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;alert(1)"));
    // File names come from item numbers and roster ids only.
    for name in &names {
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
                && !name.contains(".."),
            "{name}"
        );
    }

    // Both feeds parse, with an enclosure for every clip.
    for feed in [package.join("feed.xml"), aula.path().join("data/feed.xml")] {
        let text = std::fs::read_to_string(&feed).unwrap();
        let doc =
            roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", feed.display()));
        let enclosures = doc
            .descendants()
            .filter(|n| n.has_tag_name("enclosure"))
            .count();
        assert_eq!(enclosures as u64, clips, "{}", feed.display());
    }

    // Nothing of the closed part: not the marker word in any text, not the tone in any clip.
    let word = closed.word.to_lowercase();
    for f in files {
        let path = package.join(f["path"].as_str().unwrap());
        match path.extension().and_then(|e| e.to_str()) {
            Some("txt" | "srt" | "vtt" | "json" | "html" | "xml") => {
                let text = std::fs::read_to_string(&path).unwrap().to_lowercase();
                assert!(
                    !text.contains(&word),
                    "{} has the marker word",
                    path.display()
                );
            }
            Some("mp4") => {
                let audio = common::decode(&path).audio;
                let loudest = common::tone_share(&audio, closed.tone_hz)
                    .into_iter()
                    .fold(0.0f32, f32::max);
                assert!(loudest < 0.2, "marker tone in {}", path.display());
            }
            _ => {}
        }
    }

    // Publishing again cuts nothing; after a correction in item 1, only item 1's clips.
    let again = publish(&aula, &id);
    assert_eq!(again["cut"], 0, "{again}");
    let timeline: session::Timeline =
        serde_json::from_str(&aula.ok(&["session", "timeline", &id, "--json"])).unwrap();
    let item1 = &timeline.items[0];
    let w = timeline
        .words
        .iter()
        .find(|w| w.start_ms > item1.start_ms && w.start_ms < item1.end_ms)
        .unwrap();
    aula.ok(&[
        "session",
        "fix",
        &id,
        "replace-text",
        "--from",
        &w.start_ms.to_string(),
        "--to",
        &(w.start_ms + 1).to_string(),
        "--text",
        "Corrected",
    ]);
    let corrected = publish(&aula, &id);
    assert_eq!(corrected["cut"], 2, "{corrected}");
    let srt =
        std::fs::read_to_string(package.join(format!("clips/{id}-item-1-web-720p.srt"))).unwrap();
    assert!(srt.contains("Corrected"), "{srt}");

    // The report counts the session and its published clips.
    let report: serde_json::Value = serde_json::from_str(&aula.ok(&[
        "report",
        "--from",
        "2021-01-01",
        "--to",
        "2021-12-31",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(report["sessions"], 1);
    assert_eq!(report["clips"], clips);
    let csv = aula.ok(&[
        "report",
        "--from",
        "2021-01-01",
        "--to",
        "2021-12-31",
        "--format",
        "csv",
    ]);
    assert_eq!(csv.lines().count() as u64, clips + 1);

    for (args, expected) in [
        (
            vec!["publish", id.as_str(), "--presets", "web-720p,nope"],
            "unknown preset \"nope\"",
        ),
        (vec!["publish", "nosuch"], "no session \"nosuch\""),
        (
            vec!["report", "--from", "2021-12-31", "--to", "2021-01-01"],
            "is before --from",
        ),
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

/// Mean absolute difference of two grey pictures.
fn difference(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn web_clips_of_a_live_recorded_session_are_cut_from_its_program_without_re_encoding() {
    use publisher::probe;
    const FRAME_MS: u64 = 40;
    let aula = Aula::new();
    let sample = aula.sample(&Spec {
        lang: "en",
        seconds: 40,
        items: 2,
        speakers: 2,
        seed: 8,
        ..Spec::default()
    });
    let id = aula.imported(&sample, Evidence::FloorEventsAndMarkers);
    let out = aula.run(&["record", &id, "--segment-seconds", "10", "--live"]);
    assert!(out.status.success(), "{}", stderr(&out));
    aula.ok(&["record", "finalize", &id]);
    aula.transcribed(&id, "tiny.en");
    let recordings = aula.path().join(format!("data/sessions/{id}/recordings"));
    let program = recordings.join("program.mp4");
    let index = read_json(recordings.join("program/index.json"));
    let program_start_ms = index["segments"][0]["start_ms"].as_u64().unwrap();

    let report: serde_json::Value = serde_json::from_str(&aula.ok(&[
        "publish",
        &id,
        "--presets",
        "web-720p,social-square",
        "--json",
    ]))
    .unwrap();
    let package = Path::new(report["package"].as_str().unwrap()).to_path_buf();
    let metadata = read_json(package.join("metadata.json"));
    let clips = metadata["clips"].as_array().unwrap();
    assert_eq!(clips.len(), 4, "{metadata}");
    for clip in clips {
        // web-720p is the program's own encoding; the square picture is another size.
        let (mode, from) = match clip["preset"].as_str().unwrap() {
            "web-720p" => ("smart", "program.mp4"),
            _ => ("encode", "cam1.mp4"),
        };
        assert_eq!(
            (clip["mode"].as_str(), clip["cut_from"].as_str()),
            (Some(mode), Some(from)),
            "{clip}"
        );
    }
    let html = std::fs::read_to_string(package.join("index.html")).unwrap();
    assert!(
        html.contains(
            "cut without re-encoding the picture (only up to the first keyframe), from program.mp4"
        ),
        "{html}"
    );

    for clip in clips.iter().filter(|c| c["preset"] == "web-720p") {
        let path = package.join(clip["media"].as_str().unwrap());
        let start_ms = clip["start_ms"].as_u64().unwrap();
        let end_ms = clip["end_ms"].as_u64().unwrap();
        let info = probe::info(&path).unwrap();
        let video = info.stream("video").unwrap();
        assert_eq!(video.codec, "h264");
        assert_eq!(
            video.packets,
            (end_ms - start_ms).div_ceil(FRAME_MS),
            "{info:?}"
        );
        assert_eq!(info.stream("audio").unwrap().codec, "aac");
        let encoding = probe::encoding(&path).unwrap();
        assert_eq!((encoding.width, encoding.height), (1280, 720));
        // It starts on the requested frame of the program (its lower thirds in it), before the
        // first copied keyframe and after it.
        let media_ms = start_ms - program_start_ms;
        let at = |ms: u64| probe::frame_gray(&program, ms, 160, 90).unwrap();
        for offset in [0, 480, 1520, 4000] {
            let frame = probe::frame_gray(&path, offset, 160, 90).unwrap();
            let here = difference(&frame, &at(media_ms + offset));
            let next = difference(&frame, &at(media_ms + offset + FRAME_MS));
            assert!(
                here < next && here < 3.0,
                "{}: frame at +{offset} ms: {here} vs {next}",
                path.display()
            );
        }
        // The sidecar subtitles say what was said in the clip.
        let vtt = package.join(clip["media"].as_str().unwrap().replace(".mp4", ".vtt"));
        let text = std::fs::read_to_string(&vtt).unwrap();
        assert!(
            text.starts_with("WEBVTT") && text.contains(" --> "),
            "{text}"
        );
    }
}
