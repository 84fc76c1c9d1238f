//! A closed part of the session (seduta segreta) never leaves through the live stream: declared
//! while the program runs, its time is the closed slate and silence in every public segment; one
//! declared late takes the segments already listed off the playlists.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use pipeline::closed::{ClosedSpan, SegmentSpan, SharedClosed};
use pipeline::hls::MediaSegment;
use pipeline::program::{ProgramResult, CLOSED_SLATE_ARGB};
use pipeline::{Input, SourceInput};

/// A file of `seconds` of a white picture with a 440 Hz tone.
fn white_with_tone(path: &Path, seconds: u32) {
    assert!(run_sender(
        &format!(
            "videotestsrc pattern=white num-buffers={} ! video/x-raw,width=320,height=240,framerate=25/1 ! x264enc key-int-max=25 \
             ! h264parse ! mp4mux name=m ! filesink location={} \
             audiotestsrc num-buffers={} freq=440 ! audio/x-raw,rate=48000 ! avenc_aac ! aacparse ! m.",
            seconds * 25,
            path.display(),
            seconds * 48_000 / 1024 + 1
        ),
        Duration::from_secs(120)
    ));
}

/// Runs in real time the program of such a file of `seconds`, calling `declare` on this thread
/// while it runs with the session time.
fn run_program(
    dir: &Path,
    seconds: u32,
    closed: SharedClosed,
    declare: impl FnOnce(&dyn Fn() -> u64),
) -> ProgramResult {
    let input = dir.join("camera.mp4");
    white_with_tone(&input, seconds);
    let mut opts = options(&dir.join("rec"));
    opts.realtime = true;
    opts.program = Some(pipeline::program::ProgramOptions {
        closed,
        ..program("cam", dir.join("live"), 2_000)
    });
    let source = SourceInput {
        id: "cam".into(),
        input: Input::File(input),
    };
    let started = Instant::now();
    let task = record_in_background(vec![source], opts, Arc::new(AtomicBool::new(false)));
    // The session clock starts inside the recorder, a little after this: this is never behind.
    let session_ms = move || started.elapsed().as_millis() as u64;
    declare(&session_ms);
    task.join().unwrap().0.program.expect("a program")
}

/// Per frame the mean luma and the mean red difference (Cr); and the sound, mono.
struct Decoded {
    frames: Vec<(f64, f64)>,
    samples: Vec<f32>,
}

fn decode(path: &Path) -> Decoded {
    let p = gst::parse::launch(&format!(
        "filesrc location={} ! decodebin name=d \
         d. ! videoconvert ! video/x-raw,format=I420 ! queue ! appsink name=v sync=false \
         d. ! audioconvert ! audio/x-raw,format=F32LE,channels=1 ! queue ! appsink name=a sync=false",
        path.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let frames = Arc::new(Mutex::new(Vec::new()));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let appsink = |name: &str| {
        p.by_name(name)
            .unwrap()
            .downcast::<gst_app::AppSink>()
            .unwrap()
    };
    let f = Arc::clone(&frames);
    appsink("v").set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let s = sample.caps().unwrap().structure(0).unwrap().to_owned();
                let (w, h) = (
                    s.get::<i32>("width").unwrap() as usize,
                    s.get::<i32>("height").unwrap() as usize,
                );
                let map = sample.buffer().unwrap().map_readable().unwrap();
                // I420 with even sizes whose strides are the widths: Y, then U, then V.
                let (luma, chroma) = (w * h, (w / 2) * (h / 2));
                let mean = |bytes: &[u8]| {
                    bytes.iter().map(|b| f64::from(*b)).sum::<f64>() / bytes.len() as f64
                };
                let v = &map[luma + chroma..luma + 2 * chroma];
                f.lock().unwrap().push((mean(&map[..luma]), mean(v)));
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let a = Arc::clone(&samples);
    appsink("a").set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let map = sample.buffer().unwrap().map_readable().unwrap();
                a.lock().unwrap().extend(
                    map.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    p.set_state(gst::State::Playing).unwrap();
    let msg = p.bus().unwrap().timed_pop_filtered(
        gst::ClockTime::from_seconds(60),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    p.set_state(gst::State::Null).unwrap();
    assert!(
        matches!(msg.map(|m| m.type_()), Some(gst::MessageType::Eos)),
        "{} does not decode",
        path.display()
    );
    let frames = std::mem::take(&mut *frames.lock().unwrap());
    let samples = std::mem::take(&mut *samples.lock().unwrap());
    assert!(!frames.is_empty(), "{}: no picture", path.display());
    assert!(!samples.is_empty(), "{}: no sound", path.display());
    Decoded { frames, samples }
}

/// The slate's colour in limited-range BT.709: (Y, Cr).
fn slate_colour() -> (f64, f64) {
    let [_, r, g, b] = CLOSED_SLATE_ARGB.to_be_bytes().map(f64::from);
    let y = 16.0 + 219.0 * (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255.0;
    let cr = 128.0 + 224.0 * (0.5 * r - 0.4542 * g - 0.0458 * b) / 255.0;
    (y, cr)
}

/// The slate (dark red with white words), not the white input nor a black "connection lost".
fn is_slate((y, cr): (f64, f64)) -> bool {
    let (slate_y, slate_cr) = slate_colour();
    (y - slate_y).abs() < 30.0 && cr > 128.0 + (slate_cr - 128.0) / 2.0
}

fn is_input((y, _): (f64, f64)) -> bool {
    y > 120.0
}

fn rms(samples: &[f32]) -> f64 {
    (samples.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

fn overlaps(span: SegmentSpan, closed: ClosedSpan) -> bool {
    span.start_ms < closed.end_ms.unwrap_or(u64::MAX) && closed.start_ms < span.end_ms
}

/// The segment files of a folder.
fn segment_files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".ts"))
                .collect()
        })
        .unwrap_or_default()
}

fn listed_files(playlist: &str) -> BTreeSet<String> {
    pipeline::hls::parse_media_playlist(playlist)
        .into_iter()
        .map(|s| s.file)
        .collect()
}

fn spans(segments: &[MediaSegment]) -> Vec<(String, SegmentSpan)> {
    segments
        .iter()
        .map(|s| (s.file.clone(), s.session_span.expect("a span")))
        .collect()
}

#[test]
fn a_closed_part_declared_live_is_slate_and_silence_in_every_public_segment() {
    gst::init().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let closed = SharedClosed::default();
    let mut part = None;
    let result = run_program(tmp.path(), 24, Arc::clone(&closed), |session_ms| {
        std::thread::sleep(Duration::from_secs(9));
        let start_ms = session_ms();
        let span = ClosedSpan {
            start_ms,
            end_ms: Some(start_ms + 6_000),
        };
        closed.lock().unwrap().push(span);
        part = Some(span);
    });
    let part = part.unwrap();
    assert_eq!(result.closed_slates.len(), 1, "{:?}", result.closed_slates);
    let slate = result.closed_slates[0];
    assert!(slate.on_ms >= part.start_ms && slate.off_ms >= part.end_ms);

    let live = tmp.path().join("live/360p");
    let playlist = std::fs::read_to_string(live.join("index.m3u8")).unwrap();
    assert!(playlist.ends_with("#EXT-X-ENDLIST\n"), "{playlist}");
    assert!(playlist.contains("#EXT-X-DISCONTINUITY"), "{playlist}");
    // Only listed segments are under live/, and nothing is left waiting beside it.
    assert_eq!(segment_files(&live), listed_files(&playlist));
    assert!(segment_files(&tmp.path().join("live.pending/360p")).is_empty());

    let segments = spans(&result.renditions[0].1);
    assert_eq!(
        segments
            .iter()
            .map(|(f, _)| f.clone())
            .collect::<BTreeSet<_>>(),
        listed_files(&playlist)
    );
    let (mut closed_seen, mut input_seen) = (0, 0);
    for (k, (file, span)) in segments.iter().enumerate() {
        let decoded = decode(&live.join(file));
        if overlaps(*span, part) {
            closed_seen += 1;
            for frame in &decoded.frames {
                assert!(
                    is_slate(*frame),
                    "{file} {span:?}: a frame {frame:?} is not the slate"
                );
            }
            let peak = decoded.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
            assert!(
                peak < 0.01,
                "{file} {span:?}: sound up to {peak} in a closed part"
            );
        } else if k >= 2
            && k + 2 < segments.len()
            && !overlaps(
                *span,
                ClosedSpan {
                    start_ms: part.start_ms,
                    end_ms: part.end_ms.map(|e| e + 2_000),
                },
            )
        {
            // Away from the start, the end and the closed part: the input, picture and sound.
            input_seen += 1;
            let shown = decoded.frames.iter().filter(|f| is_input(**f)).count();
            assert!(
                shown * 10 >= decoded.frames.len() * 9,
                "{file} {span:?}: {shown} of {} frames show the input",
                decoded.frames.len()
            );
            let level = rms(&decoded.samples);
            assert!(level > 0.01, "{file} {span:?}: sound RMS {level}");
        }
    }
    assert!(closed_seen >= 1, "no slate segment listed: {segments:?}");
    assert!(input_seen >= 3, "{input_seen} input segments: {segments:?}");
}

#[test]
fn a_closed_part_declared_late_takes_its_segments_off_the_live_playlist() {
    gst::init().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let closed = SharedClosed::default();
    let part = ClosedSpan {
        start_ms: 2_000,
        end_ms: Some(5_000),
    };
    let live = tmp.path().join("live/360p");
    let mut before = BTreeSet::new();
    let mut after = String::new();
    let result = run_program(tmp.path(), 14, Arc::clone(&closed), |session_ms| {
        while session_ms() < 10_000 {
            std::thread::sleep(Duration::from_millis(100));
        }
        before = listed_files(&std::fs::read_to_string(live.join("index.m3u8")).unwrap());
        closed.lock().unwrap().push(part);
        std::thread::sleep(Duration::from_millis(1_500));
        after = std::fs::read_to_string(live.join("index.m3u8")).unwrap();
    });
    // While the program ran, at its next polls: off the playlist, and deleted.
    assert!(
        !after.contains("#EXT-X-ENDLIST"),
        "the program had ended: {after}"
    );
    assert!(after.contains("#EXT-X-DISCONTINUITY"), "{after}");
    let still = listed_files(&after);
    let gone: Vec<_> = before.difference(&still).collect();
    assert!(
        !gone.is_empty(),
        "nothing taken off: {before:?} then {after}"
    );
    for file in &gone {
        assert!(!live.join(file).exists(), "{file} is still there");
    }
    // The program never showed the slate (the part was over), and the VOD playlist lists nothing
    // of the closed part.
    assert!(result.closed_slates.is_empty());
    let segments = spans(&result.renditions[0].1);
    assert!(segments.len() >= 4, "{segments:?}");
    for (file, span) in &segments {
        assert!(!overlaps(*span, part), "{file} {span:?} is still listed");
    }
    let playlist = std::fs::read_to_string(live.join("index.m3u8")).unwrap();
    assert!(playlist.ends_with("#EXT-X-ENDLIST\n"));
    assert_eq!(segment_files(&live), listed_files(&playlist));
}
