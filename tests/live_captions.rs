//! Live captions on a generated English session recorded live at its own pace with tiny.en: the
//! multivariant playlist names the subtitle rendition on every variant; the WebVTT playlist is the
//! video's twin and a complete VOD at the end; every cue keeps the roll-up line rules, shows
//! during the speech it carries, names the speaker on the floor, and none falls in the closed part.

mod common;

use common::{model, stderr, Aula, Evidence, Spec};
use pipeline::captions::{parse_vtt, Cue, MAX_LINES, MAX_LINE_CHARS};

/// How far a cue may start from the speech it carries: word times from a streaming window are
/// rougher than offline ones.
const SLACK_MS: u64 = 1500;

fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty() && !w.starts_with(">>"))
        .collect()
}

#[test]
fn a_live_english_session_is_captioned_in_its_hls() {
    let aula = Aula::new();
    let sample = aula.sample(&Spec {
        lang: "en",
        seconds: 45,
        items: 2,
        speakers: 2,
        seed: 3,
        closed: Some((28, 36)),
        ..Spec::default()
    });
    let truth = sample.truth();
    let id = aula.imported(&sample, Evidence::FloorEvents);
    let tiny = model("tiny.en");
    let out = aula.run(&[
        "record",
        &id,
        "--live",
        "--realtime",
        "--captions-model",
        tiny.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let live = aula.path().join(format!("data/sessions/{id}/live"));

    let master = std::fs::read_to_string(live.join("index.m3u8")).unwrap();
    assert!(
        master.contains("#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"captions\",NAME=\"en (automatic)\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES"),
        "{master}"
    );
    let variants = master.matches("#EXT-X-STREAM-INF:").count();
    assert_eq!(variants, 2, "{master}");
    assert_eq!(
        master.matches(",SUBTITLES=\"captions\"\n").count(),
        variants
    );

    let video = std::fs::read_to_string(live.join("720p/index.m3u8")).unwrap();
    let captions = std::fs::read_to_string(live.join("captions/index.m3u8")).unwrap();
    assert!(
        captions.contains("#EXT-X-PLAYLIST-TYPE:VOD") && captions.ends_with("#EXT-X-ENDLIST\n")
    );
    assert_eq!(
        captions,
        video.replace(".ts", ".vtt"),
        "the twin of the video's playlist"
    );

    let mut cues: Vec<Cue> = Vec::new();
    for segment in pipeline::hls::parse_media_playlist(&captions) {
        let text = std::fs::read_to_string(live.join("captions").join(&segment.file)).unwrap();
        let (mpegts, found) =
            parse_vtt(&text).unwrap_or_else(|| panic!("{}: {text}", segment.file));
        assert!(mpegts > 0, "{text}");
        cues.extend(found);
    }
    assert!(cues.len() >= 5, "{cues:?}");
    let closed = &truth.closed[0];
    for cue in &cues {
        assert!(
            !cue.lines.is_empty() && cue.lines.len() <= MAX_LINES,
            "{cue:?}"
        );
        assert!(
            cue.lines
                .iter()
                .all(|l| l.chars().count() <= MAX_LINE_CHARS),
            "{cue:?}"
        );
        // A file session's running time is its session time.
        assert!(
            cue.end_ms <= closed.start_ms.0 || cue.start_ms >= closed.end_ms.0,
            "a cue in the closed part: {cue:?}"
        );
        let during_speech = truth.utterances.iter().any(|u| {
            cue.start_ms + SLACK_MS >= u.start_ms.0
                && cue.start_ms <= u.end_ms.0 + SLACK_MS + pipeline::captions::LINGER_MS
        });
        assert!(during_speech, "a cue away from any speech: {cue:?}");
    }
    assert!(
        cues.iter()
            .any(|c| c.lines.iter().any(|l| l.starts_with(">> "))),
        "no cue names a speaker: {cues:?}"
    );
    // What was said reaches the captions: most of the words spoken outside the closed part.
    let said: Vec<String> = truth
        .utterances
        .iter()
        .filter(|u| u.end_ms.0 <= closed.start_ms.0 || u.start_ms.0 >= closed.end_ms.0)
        .flat_map(|u| words(&u.text))
        .collect();
    let shown: std::collections::HashSet<String> = cues
        .iter()
        .flat_map(|c| words(&c.lines.join(" ")))
        .collect();
    let heard = said.iter().filter(|w| shown.contains(*w)).count();
    assert!(
        heard * 10 >= said.len() * 6,
        "{heard} of {} words shown: {shown:?}",
        said.len()
    );
    // The marker word said in the closed part is in no caption.
    assert!(!shown.contains(&closed.word.to_lowercase()), "{shown:?}");
}
