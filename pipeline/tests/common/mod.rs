//! Helpers of the pipeline's tests: free ports, test senders, recording in the background, the
//! program of one source, and checks that segments decode.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use pipeline::program::{ProgramInput, ProgramOptions};
use pipeline::{RecordOptions, RecordReport, SourceEvent, SourceInput};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a GStreamer pipeline description until it ends or `max` passes; returns whether it
/// ended without error.
pub fn run_sender(description: &str, max: Duration) -> bool {
    let p = gst::parse::launch(description).unwrap();
    p.set_state(gst::State::Playing).unwrap();
    let bus = p.bus().unwrap();
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_mseconds(max.as_millis() as u64),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    p.set_state(gst::State::Null).unwrap();
    matches!(msg.map(|m| m.type_()), Some(gst::MessageType::Eos))
}

/// Records `sources` in a thread until `stop` is set; returns the report and the events.
pub fn record_in_background(
    sources: Vec<SourceInput>,
    opts: RecordOptions,
    stop: Arc<AtomicBool>,
) -> JoinHandle<(RecordReport, Vec<SourceEvent>)> {
    std::thread::spawn(move || {
        let mut events = Vec::new();
        let report = pipeline::record(&sources, &opts, &|| stop.load(Ordering::SeqCst), &mut |e| {
            events.push(e.clone())
        })
        .unwrap();
        (report, events)
    })
}

/// A program of one source, streamed live in 360p with `segment_ms` segments.
pub fn program(source: &str, live_dir: PathBuf, segment_ms: u64) -> ProgramOptions {
    ProgramOptions {
        live: pipeline::live::LiveOptions {
            dir: live_dir,
            renditions: vec![presets::PresetSet::builtin()
                .get("live-360p")
                .unwrap()
                .clone()],
            segment_ms,
            captions: None,
        },
        inputs: vec![ProgramInput {
            source: source.into(),
            video: true,
            audio: true,
            person: None,
        }],
        turns: Default::default(),
        closed: Default::default(),
        names: Default::default(),
        canvas: (640, 360),
        record_dir: None,
        segment_ms: 2_000,
        slate_text: "Connection lost".into(),
        captions_feed: None,
    }
}

pub fn options(dir: &Path) -> RecordOptions {
    RecordOptions {
        dir: dir.to_path_buf(),
        segment_ms: 2_000,
        realtime: false,
        offset_ms: 0,
        program: None,
        resume: false,
    }
}

/// Frames of the first video stream of `path`, decoded.
pub fn decoded_frames(path: &Path) -> u64 {
    let p = gst::parse::launch(&format!(
        "filesrc location={} ! qtdemux name=d d.video_0 ! queue ! decodebin ! fakesink name=sink signal-handoffs=true",
        path.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let c = Arc::clone(&count);
    p.by_name("sink")
        .unwrap()
        .connect("handoff", false, move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            None
        });
    p.set_state(gst::State::Playing).unwrap();
    let msg = p.bus().unwrap().timed_pop_filtered(
        gst::ClockTime::from_seconds(60),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    p.set_state(gst::State::Null).unwrap();
    if let Some(gst::MessageView::Error(e)) = msg.as_ref().map(|m| m.view()) {
        panic!(
            "{} does not play: {} ({:?})",
            path.display(),
            e.error(),
            e.debug()
        );
    }
    assert!(msg.is_some(), "{} did not finish playing", path.display());
    count.load(Ordering::SeqCst)
}

/// Every segment of the index plays on its own; returns the recorded milliseconds.
pub fn check_segments(dir: &Path, report: &RecordReport) -> u64 {
    let index = &report.indexes[0];
    assert!(
        !index.segments.is_empty(),
        "nothing recorded in {}",
        dir.display()
    );
    for s in &index.segments {
        let frames = decoded_frames(&dir.join(&index.source).join(&s.file));
        assert!(frames > 0, "segment {} has no frames", s.file);
    }
    index.duration_ms()
}

/// An encoder that listens for SRT callers on `port` (as hardware encoders can) and sends
/// `frames` frames of a live test picture at 25 fps; joins to whether it sent them all.
pub fn listening_encoder(port: u16, frames: u32) -> JoinHandle<bool> {
    std::thread::spawn(move || {
        run_sender(
            &format!(
                "videotestsrc is-live=true num-buffers={frames} ! video/x-raw,width=320,height=240,framerate=25/1 \
                 ! x264enc tune=zerolatency key-int-max=25 ! h264parse config-interval=-1 ! mpegtsmux alignment=7 \
                 ! srtsink uri=srt://127.0.0.1:{port}?mode=listener wait-for-connection=true"
            ),
            Duration::from_secs(20),
        )
    })
}
