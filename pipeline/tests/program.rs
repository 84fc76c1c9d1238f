//! The program feed around the sources: its audio tap for live captions, and a recorder started
//! again during a live session (its recordings, live playlists and captions' playlist go on).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::*;
use gstreamer as gst;
use pipeline::live::CaptionOptions;
use pipeline::program::{CaptionFeed, CaptionUpdate, ProgramOptions};
use pipeline::{Input, RecordOptions, SourceInput};

/// Energy of `samples` at `hz` (Goertzel), per sample.
fn tone_power(samples: &[f32], rate: f64, hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / rate;
    let (mut s1, mut s2) = (0.0, 0.0);
    for x in samples {
        let s = f64::from(*x) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) / samples.len() as f64
}

/// A captions' feed that hears through `offer` and sends no word back.
fn no_words(offer: impl FnMut(u64, Vec<f32>) -> bool + Send + 'static) -> CaptionFeed {
    let (_, updates) = mpsc::channel::<CaptionUpdate>();
    CaptionFeed::new(offer, updates)
}

#[test]
fn the_audio_tap_carries_the_program_sound_at_16_khz_mono() {
    gst::init().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("camera.mp4");
    assert!(run_sender(
        &format!(
            "videotestsrc num-buffers=150 ! video/x-raw,width=320,height=240,framerate=25/1 ! x264enc key-int-max=25 ! h264parse ! mp4mux name=m \
             ! filesink location={} audiotestsrc num-buffers=282 freq=440 ! audio/x-raw,rate=48000 ! avenc_aac ! aacparse ! m.",
            input.display()
        ),
        Duration::from_secs(60)
    ));
    let (tx, rx) = mpsc::sync_channel(1024);
    let mut opts = options(&tmp.path().join("rec"));
    opts.realtime = true;
    opts.program = Some(ProgramOptions {
        record_dir: Some(tmp.path().join("rec").join("program")),
        captions_feed: Some(no_words(move |_, samples| tx.try_send(samples).is_ok())),
        ..program("cam", tmp.path().join("live"), 2_000)
    });
    let source = SourceInput {
        id: "cam".into(),
        input: Input::File(input),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (report, _) = record_in_background(vec![source], opts, stop)
        .join()
        .unwrap();
    let samples: Vec<f32> = rx.try_iter().flatten().collect();
    let program = report.program.unwrap();
    assert_eq!(program.dropped_tap_blocks, 0);
    let seconds = samples.len() as f64 / 16_000.0;
    assert!(
        (5.0..=7.5).contains(&seconds),
        "{seconds:.2} s of tapped sound for a 6 s input"
    );
    // The middle of the tap: the 440 Hz tone, not something else.
    let middle = &samples[samples.len() / 3..2 * samples.len() / 3];
    let tone = tone_power(middle, 16_000.0, 440.0);
    let other = tone_power(middle, 16_000.0, 1_000.0);
    assert!(tone > 100.0 * other, "440 Hz power {tone}, 1 kHz {other}");
    // The program's own recording exists and plays.
    let recording = program.recording.unwrap();
    assert!(!recording.segments.is_empty());
    for s in &recording.segments {
        assert!(decoded_frames(&tmp.path().join("rec/program").join(&s.file)) > 0);
    }
}

/// A recorder started again during a live session (after a crash or a power cut) keeps what the
/// first one recorded and adds to it at the session time it came back.
#[test]
fn a_restarted_recorder_keeps_the_earlier_segments() {
    gst::init().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let record_once = |offset_ms: u64, resume: bool| {
        let port = free_port();
        let encoder = listening_encoder(port, 100);
        std::thread::sleep(Duration::from_millis(500));
        let source = SourceInput {
            id: "remote".into(),
            input: Input::Uri(format!("srt://127.0.0.1:{port}?mode=caller")),
        };
        let opts = RecordOptions {
            offset_ms,
            resume,
            program: Some({
                let mut p = program("remote", tmp.path().join("live"), 1_000);
                p.live.captions = Some(CaptionOptions {
                    language: "en".into(),
                    label: "English".into(),
                    max_delay_ms: 1000,
                });
                ProgramOptions {
                    record_dir: Some(tmp.path().join("program")),
                    captions_feed: Some(no_words(|_, _| true)),
                    ..p
                }
            }),
            ..options(tmp.path())
        };
        let stop = Arc::new(AtomicBool::new(false));
        let task = record_in_background(vec![source], opts, Arc::clone(&stop));
        assert!(encoder.join().unwrap(), "the listening encoder failed");
        std::thread::sleep(Duration::from_secs(1));
        stop.store(true, Ordering::SeqCst);
        task.join().unwrap().0
    };
    let first_report = record_once(0, true);
    let first = first_report.indexes[0].clone();
    let first_program = first_report.program.expect("a program");
    let first_recording = first_program.recording.expect("a program recording");
    let first_live = &first_program.renditions[0].1;
    assert!(!first.segments.is_empty() && !first_live.is_empty());
    // The recorder comes back 20 s into the session.
    let report = record_once(20_000, true);
    let index = &report.indexes[0];
    assert_eq!(
        index.segments[..first.segments.len()],
        first.segments[..],
        "the first recording is kept"
    );
    let added = &index.segments[first.segments.len()..];
    assert!(
        !added.is_empty() && added.iter().all(|s| s.start_ms >= 20_000),
        "{index:?}"
    );
    let mut files: Vec<_> = index.segments.iter().map(|s| &s.file).collect();
    files.sort();
    files.dedup();
    assert_eq!(
        files.len(),
        index.segments.len(),
        "a segment was overwritten: {index:?}"
    );
    check_segments(tmp.path(), &report);
    assert_eq!(index.gaps().len(), 1, "{index:?}");
    // The program's recording is kept the same way, and its live playlist goes on after the
    // segments it listed, the restart marked for players as a discontinuity.
    let program = report.program.as_ref().unwrap();
    let recording = &program.recording.as_ref().unwrap().segments;
    assert_eq!(
        recording[..first_recording.segments.len()],
        first_recording.segments[..]
    );
    let live = &program.renditions[0].1;
    let files =
        |l: &[pipeline::hls::MediaSegment]| l.iter().map(|s| s.file.clone()).collect::<Vec<_>>();
    assert_eq!(files(&live[..first_live.len()]), files(first_live));
    assert!(live.len() > first_live.len() && live[first_live.len()].discontinuity);
    let playlist = std::fs::read_to_string(tmp.path().join("live/360p/index.m3u8")).unwrap();
    assert_eq!(
        playlist.matches("#EXT-X-DISCONTINUITY").count(),
        1,
        "{playlist}"
    );
    assert!(playlist.ends_with("#EXT-X-ENDLIST\n"));
    // The captions' playlist is the twin of the video's, discontinuity included.
    let captions = std::fs::read_to_string(tmp.path().join("live/captions/index.m3u8")).unwrap();
    let twin = playlist.replace(".ts", ".vtt");
    assert_eq!(captions, twin);
    for s in live {
        let vtt = tmp
            .path()
            .join("live/captions")
            .join(s.file.replace(".ts", ".vtt"));
        let text = std::fs::read_to_string(&vtt).unwrap();
        assert!(pipeline::captions::parse_vtt(&text).is_some(), "{text}");
        assert!(
            tmp.path().join("live/360p").join(&s.file).is_file(),
            "{} missing",
            s.file
        );
    }
}
