//! Live captions on generated sessions recorded live at their own pace: an English one with
//! tiny.en and an Italian one with base. The multivariant playlist names the subtitle rendition on
//! every variant; the WebVTT playlist is the video's twin and a complete VOD at the end; every cue
//! keeps the roll-up line rules, shows during the speech it carries, names the speaker on the
//! floor, and none falls in the closed part. The program names each new speaker with a lower
//! third, and the cues shown meanwhile sit above it.

mod common;

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use common::live::{frame_at, segment_at};
use common::{model, read_json, stderr, Aula, Evidence, Spec};
use pipeline::captions::{parse_vtt, Cue, MAX_LINES, MAX_LINE_CHARS};
use pipeline::lower_third::{Geometry, SHOWN_MS};

/// How far a cue may start from the speech it carries: word times from a streaming window are
/// rougher than offline ones.
const SLACK_MS: u64 = 1500;

/// One live recording at a time: two at once would share the 2 cores and fall behind.
static RECORDING: Mutex<()> = Mutex::new(());

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

/// A session recorded live with captions, and what its live folder holds.
struct Recorded {
    aula: Aula,
    id: String,
    truth: sample::Truth,
    live: PathBuf,
    cues: Vec<Cue>,
}

fn record(spec: &Spec, model_name: &str) -> Recorded {
    let _one = RECORDING.lock().unwrap_or_else(|e| e.into_inner());
    let aula = Aula::new();
    let sample = aula.sample(spec);
    let truth = sample.truth();
    let id = aula.imported(&sample, Evidence::FloorEvents);
    let captions_model = model(model_name);
    let out = aula.run(&[
        "record",
        &id,
        "--live",
        "--realtime",
        "--captions-model",
        captions_model.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let live = aula.path().join(format!("data/sessions/{id}/live"));
    let captions = std::fs::read_to_string(live.join("captions/index.m3u8")).unwrap();
    let mut cues: Vec<Cue> = Vec::new();
    for segment in pipeline::hls::parse_media_playlist(&captions) {
        let text = std::fs::read_to_string(live.join("captions").join(&segment.file)).unwrap();
        let (mpegts, found) =
            parse_vtt(&text).unwrap_or_else(|| panic!("{}: {text}", segment.file));
        assert!(mpegts > 0, "{text}");
        cues.extend(found);
    }
    Recorded {
        aula,
        id,
        truth,
        live,
        cues,
    }
}

fn english() -> &'static Recorded {
    static ONCE: OnceLock<Recorded> = OnceLock::new();
    ONCE.get_or_init(|| {
        record(
            &Spec {
                lang: "en",
                seconds: 45,
                items: 2,
                speakers: 2,
                seed: 3,
                closed: Some((28, 36)),
                ..Spec::default()
            },
            "tiny.en",
        )
    })
}

/// The speaker changes the program showed (session time, which is a file session's running
/// time), each with when the next one came.
fn shots(r: &Recorded) -> Vec<(u64, u64)> {
    let program = r
        .live
        .parent()
        .unwrap()
        .join("recordings/program/shots.json");
    let at: Vec<u64> = read_json(program)
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["at_ms"].as_u64().unwrap())
        .collect();
    at.iter()
        .enumerate()
        .map(|(k, a)| (*a, at.get(k + 1).copied().unwrap_or(u64::MAX)))
        .collect()
}

/// Mean luma and blue difference of a rectangle of an I420 picture.
fn mean_yu(picture: &(u32, u32, Vec<u8>), x: i32, y: i32, w: i32, h: i32) -> (f64, f64) {
    let (width, height, bytes) = picture;
    let (width, height) = (*width as usize, *height as usize);
    let (mut luma, mut blue, mut n) = (0.0, 0.0, 0.0);
    for row in y as usize..(y + h) as usize {
        for col in x as usize..(x + w) as usize {
            luma += f64::from(bytes[row * width + col]);
            blue += f64::from(bytes[width * height + (row / 2) * (width / 2) + col / 2]);
            n += 1.0;
        }
    }
    (luma / n, blue / n)
}

fn brightest(picture: &(u32, u32, Vec<u8>), x: i32, y: i32, w: i32, h: i32) -> u8 {
    let width = picture.0 as usize;
    (y as usize..(y + h) as usize)
        .flat_map(|row| (x as usize..(x + w) as usize).map(move |col| row * width + col))
        .map(|i| picture.2[i])
        .max()
        .unwrap()
}

#[test]
fn a_live_english_session_is_captioned_in_its_hls() {
    let r = english();
    check_captions(r, "en", "en (automatic)", 6);
}

/// What every captioned session shows, its track named `name`; `heard_tenths`: how much of what was said (tenths) the
/// captions must carry.
fn check_captions(r: &Recorded, lang: &str, name: &str, heard_tenths: usize) {
    let (truth, live, cues) = (&r.truth, &r.live, &r.cues);

    let master = std::fs::read_to_string(live.join("index.m3u8")).unwrap();
    assert!(
        master.contains(&format!("#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"captions\",NAME=\"{name}\",LANGUAGE=\"{lang}\",DEFAULT=YES,AUTOSELECT=YES")),
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

    assert!(cues.len() >= 5, "{cues:?}");
    let closed = &truth.closed[0];
    for cue in cues {
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
        heard * 10 >= said.len() * heard_tenths,
        "{heard} of {} words shown: {shown:?}",
        said.len()
    );
    // The marker word said in the closed part is in no caption.
    assert!(!shown.contains(&closed.word.to_lowercase()), "{shown:?}");
}

#[test]
fn the_program_names_a_new_speaker_with_a_lower_third() {
    let r = english();
    let playlist = r.live.join("720p/index.m3u8");
    // A speaker shown long enough for the lower third to come and go before the next one.
    let (at_ms, _) = shots(r)
        .into_iter()
        .find(|(at, next)| *next > at + SHOWN_MS + 2000 && at + SHOWN_MS + 2000 < 28_000)
        .expect("a speaker held for 8 s before the closed part");
    let g = Geometry::new((1280, 720), 0);
    let band = g.band;
    let on = {
        let (file, offset_ms) = segment_at(&playlist, at_ms + 2000);
        frame_at(&file, offset_ms)
    };
    let off = {
        let (file, offset_ms) = segment_at(&playlist, at_ms + SHOWN_MS + 1500);
        frame_at(&file, offset_ms)
    };
    assert_eq!((on.0, on.1), (1280, 720));
    // The band's padding above the name: near black while shown (the sample's picture is a
    // lighter blue), the picture after.
    let pad = |p| mean_yu(p, band.x + 4, band.y + 2, band.width - 8, g.pad_px - 4);
    let (y_on, u_on) = pad(&on);
    let (y_off, u_off) = pad(&off);
    assert!(y_on < 40.0, "no band at {band:?}: Y {y_on:.0} U {u_on:.0}");
    assert!(
        y_off > y_on + 15.0,
        "the band stayed: Y {y_off:.0} U {u_off:.0}"
    );
    // The name in white letters on it.
    let name_row = band.y + g.pad_px;
    assert!(brightest(&on, band.x, name_row, band.width / 2, g.name_px) > 180);
    // Nothing above the band's top was drawn on: the picture there is the same with it or not.
    let above = |p| mean_yu(p, band.x, band.y - 40, band.width, 30);
    let (a_on, a_off) = (above(&on), above(&off));
    assert!((a_on.0 - a_off.0).abs() < 12.0, "{a_on:?} {a_off:?}");
}

#[test]
fn live_captions_rise_above_the_lower_third() {
    let r = english();
    let pct = Geometry::new((1280, 720), 0).captions_line_pct(720);
    let spans: Vec<(u64, u64)> = shots(r)
        .into_iter()
        .map(|(at, _)| (at, at + SHOWN_MS))
        .collect();
    let mut raised = 0;
    for cue in &r.cues {
        // Where a cue might straddle the moment (a shot is noted within a poll of its lower
        // third), it may go either way.
        let near = spans
            .iter()
            .any(|(a, b)| cue.start_ms.abs_diff(*a) < 300 || cue.end_ms.abs_diff(*b) < 300);
        if near {
            continue;
        }
        let under = spans
            .iter()
            .any(|(a, b)| cue.start_ms < *b && *a < cue.end_ms);
        assert_eq!(cue.line_pct, under.then_some(pct), "{cue:?} {spans:?}");
        raised += usize::from(under);
    }
    assert!(raised >= 1, "no cue shown with a lower third: {:?}", r.cues);
}

#[test]
fn the_live_captions_are_set_against_the_offline_transcript() {
    let r = english();
    let transcript = {
        let _one = RECORDING.lock().unwrap_or_else(|e| e.into_inner());
        r.aula.transcribed(&r.id, "tiny.en")
    };
    let compared = read_json(transcript.with_file_name("live-captions.json"));
    let (live, offline) = (
        compared["live_words"].as_u64().unwrap(),
        compared["offline_words"].as_u64().unwrap(),
    );
    let wer = compared["wer"].as_f64().unwrap();
    assert!(live >= 20 && offline >= 20, "{compared}");
    assert!(
        wer < 0.8,
        "the live captions are far from the offline transcript: {compared}"
    );
    // The captions are kept as they were streamed.
    assert!(r.live.join("captions/index.m3u8").is_file());
}

#[test]
fn a_live_italian_session_is_captioned_with_base() {
    let r = record(
        &Spec {
            lang: "it",
            seconds: 45,
            items: 2,
            speakers: 2,
            seed: 4,
            closed: Some((26, 34)),
            ..Spec::default()
        },
        "base",
    );
    // Festival's Italian voices are heard about as well as espeak-ng's English (83% measured).
    check_captions(&r, "it", "Italiano (automatici)", 6);
}
