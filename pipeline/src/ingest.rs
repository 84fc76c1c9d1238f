//! One source's ingest, supervised: the source is opened, each parsed stream recorded as received
//! in segments and, for the program feed, decoded; a network source that fails or stalls is closed
//! (its open segment finished), reported lost, and reopened with backoff, recording on in new
//! segments whose spans keep the session's time.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::gst::{add_chain, element, element_error, gst_error, io_error, make, PipelineError};
use crate::index::{Fragment, RecordingIndex, SegmentTracker};
use crate::source::{
    audio_caps, DecodedOutputs, Input, SessionTime, SourceEvent, SourceInput, SourceState,
};

/// How long a live network source may send nothing before it counts as lost.
const STALL: Duration = Duration::from_secs(3);
/// The longest wait between two attempts to reopen a lost source.
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// How a source is recorded (the part of a recording's options that one ingest needs).
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// The source's segments go to `dir/<source id>/`.
    pub dir: PathBuf,
    /// The longest a segment gets (cut at the next keyframe after it).
    pub segment_ms: u64,
    /// Pace a file source at its own speed, as a live capture would arrive.
    pub realtime: bool,
    /// Session time at the recording's start.
    pub offset_ms: u64,
    /// Add to the segments already in the source's directory instead of replacing them.
    pub resume: bool,
}

/// The first line of a supervisor's report: how the source ended.
pub struct IngestResult {
    pub index: RecordingIndex,
    pub received: bool,
}

/// Records one source until it ends (files) or `stop` is set; reconnects network sources.
pub fn supervise(
    src: &SourceInput,
    opts: &IngestOptions,
    clock: SessionTime,
    outputs: Option<DecodedOutputs>,
    stop: &AtomicBool,
    events: &Sender<SourceEvent>,
) -> Result<IngestResult, PipelineError> {
    let dir = opts.dir.join(&src.id);
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    let mut index =
        RecordingIndex::begin(&dir, &src.id, opts.resume).map_err(|e| io_error(&dir, e))?;
    let event = |state, at_ms, detail: String| {
        let _ = events.send(SourceEvent {
            source: src.id.clone(),
            state,
            at_ms,
            detail,
        });
    };
    event(
        SourceState::Connecting,
        clock.offset_ms,
        src.input.describe(),
    );
    let network = matches!(src.input, Input::Uri(_));
    // A pulled HLS playlist that ends (#EXT-X-ENDLIST) has ended; a pushed stream that stops
    // (SRT, RTMP, RTSP) is expected back.
    let eos_ends = match &src.input {
        Input::File(_) => true,
        Input::Uri(uri) => uri.starts_with("http://") || uri.starts_with("https://"),
    };
    let mut lost_at: Option<u64> = None;
    let mut attempt = 0u32;
    let mut received = false;
    loop {
        let conn = Connection::open(src, opts, &dir, index.next_file_number(), outputs.as_ref())?;
        let offset_ms = if network {
            clock.now_ms()
        } else {
            opts.offset_ms
        };
        let outcome = conn.run(
            offset_ms,
            (network, eos_ends),
            stop,
            &mut index,
            &dir,
            &mut |at_ms| {
                received = true;
                attempt = 0;
                let detail = match lost_at.take() {
                    Some(from) => format!("reconnected; gap {} ms", at_ms.saturating_sub(from)),
                    None => "recording".into(),
                };
                event(SourceState::Live, at_ms, detail);
            },
        );
        match outcome {
            Outcome::Ended => {
                let at = index.segments.last().map_or(offset_ms, |s| s.end_ms);
                event(SourceState::Ended, at, "end of input".into());
                break;
            }
            Outcome::Stopped => {
                let at = index.segments.last().map_or(clock.now_ms(), |s| s.end_ms);
                event(SourceState::Ended, at, "stopped".into());
                break;
            }
            Outcome::Failed(e) if !network => return Err(e),
            Outcome::Failed(e) => {
                if lost_at.is_none() {
                    let at = clock.now_ms();
                    lost_at = Some(at);
                    event(SourceState::Lost, at, e.to_string());
                }
            }
        }
        // Backoff before reopening: 0.5 s, 1 s, 2 s, then 4 s between attempts.
        let wait = Duration::from_millis(500 << attempt.min(3)).min(MAX_BACKOFF);
        attempt += 1;
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if stop.load(Ordering::SeqCst) {
                event(
                    SourceState::Ended,
                    clock.now_ms(),
                    "stopped while lost".into(),
                );
                return Ok(finish(index, received, outputs));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(finish(index, received, outputs))
}

fn finish(index: RecordingIndex, received: bool, outputs: Option<DecodedOutputs>) -> IngestResult {
    if let Some(o) = outputs {
        for appsrc in [o.video, o.audio].into_iter().flatten() {
            let _ = appsrc.end_of_stream();
        }
    }
    IngestResult { index, received }
}

enum Outcome {
    Ended,
    Stopped,
    Failed(PipelineError),
}

/// One opening of a source: its pipeline and the recording branches' queues.
struct Connection {
    pipeline: gst::Pipeline,
    recorder: gst::Element,
    /// The time of the last buffer received from the source.
    last_buffer: Arc<Mutex<Option<Instant>>>,
    /// Queues feeding the recorder and the decoders: EOS is sent into them when the source fails.
    queues: Arc<Mutex<Vec<gst::Element>>>,
}

impl Connection {
    fn open(
        src: &SourceInput,
        opts: &IngestOptions,
        dir: &Path,
        first_segment: u32,
        outputs: Option<&DecodedOutputs>,
    ) -> Result<Connection, PipelineError> {
        let pipeline = gst::Pipeline::with_name(&format!("ingest-{}", src.id));
        pipeline.use_clock(Some(&gst::SystemClock::obtain()));
        let mut head = None;
        let input = match &src.input {
            Input::File(path) => {
                if !path.is_file() {
                    return Err(io_error(path, "no such file"));
                }
                let filesrc = make("filesrc", "src")?;
                filesrc.set_property("location", path.to_string_lossy().to_string());
                filesrc
            }
            // HLS pulls: the playlist's MPEG-TS segments as they come (hlsdemux), parsed below.
            Input::Uri(uri) if uri.starts_with("http://") || uri.starts_with("https://") => {
                let http = make("souphttpsrc", "http")?;
                http.set_property("location", uri);
                pipeline.add(&http).map_err(gst_error)?;
                head = Some(http);
                make("hlsdemux", "src")?
            }
            Input::Uri(uri) => {
                let bin = make("urisourcebin", "src")?;
                bin.set_property("uri", uri);
                bin
            }
        };
        let recorder = make("splitmuxsink", "rec")?;
        recorder.set_property(
            "location",
            dir.join("segment-%05d.mp4").to_string_lossy().to_string(),
        );
        recorder.set_property("start-index", first_segment as i32);
        recorder.set_property("max-size-time", opts.segment_ms * 1_000_000);
        pipeline.add_many([&input, &recorder]).map_err(gst_error)?;
        if let Some(head) = head {
            head.link(&input).map_err(gst_error)?;
        }
        let last_buffer = Arc::new(Mutex::new(None));
        let queues = Arc::new(Mutex::new(Vec::new()));
        let ctx = Arc::new(StreamContext {
            pipeline: pipeline.downgrade(),
            recorder: recorder.clone(),
            source: src.id.clone(),
            realtime: opts.realtime,
            outputs: outputs.cloned(),
            last_buffer: Arc::clone(&last_buffer),
            queues: Arc::clone(&queues),
            video_flowing: AtomicBool::new(false),
        });
        match &src.input {
            Input::File(_) => {
                let parse = ctx.parser()?;
                input.link(&parse).map_err(gst_error)?;
            }
            // A network source may have a pad per stream (RTSP): each gets its own parser.
            Input::Uri(_) => {
                let ctx = Arc::clone(&ctx);
                input.connect_pad_added(move |_, pad| {
                    let linked = ctx.parser().and_then(|parse| {
                        pad.link(&parse.static_pad("sink").expect("parsebin sink"))
                            .map(|_| ())
                            .map_err(gst_error)
                    });
                    if let Err(e) = linked {
                        tracing::error!("source {}: {e}", ctx.source);
                    }
                });
            }
        }
        Ok(Connection {
            pipeline,
            recorder,
            last_buffer,
            queues,
        })
    }

    /// Runs until the source ends, fails, stalls or `stop` is set; the index gets every segment
    /// closed on the way (saved at once), spans in session time from `offset_ms`.
    fn run(
        self,
        offset_ms: u64,
        (network, eos_ends): (bool, bool),
        stop: &AtomicBool,
        index: &mut RecordingIndex,
        dir: &Path,
        on_live: &mut dyn FnMut(u64),
    ) -> Outcome {
        if self.pipeline.set_state(gst::State::Playing).is_err() {
            let outcome = self.failure_from_bus().unwrap_or_else(|| {
                PipelineError::Gst("the recording pipeline does not start".into())
            });
            let _ = self.pipeline.set_state(gst::State::Null);
            return Outcome::Failed(outcome);
        }
        let bus = self.pipeline.bus().expect("a pipeline has a bus");
        let mut tracker = SegmentTracker::default();
        let mut live = false;
        let mut closing: Option<(Instant, Outcome)> = None;
        let outcome = loop {
            if closing.is_none() {
                if stop.load(Ordering::SeqCst) {
                    self.close();
                    closing = Some((Instant::now(), Outcome::Stopped));
                } else if network && live {
                    let stalled = self
                        .last_buffer
                        .lock()
                        .expect("last buffer lock")
                        .is_some_and(|t| t.elapsed() > STALL);
                    if stalled {
                        self.close();
                        closing = Some((
                            Instant::now(),
                            Outcome::Failed(PipelineError::Gst(format!(
                                "nothing received for {} s",
                                STALL.as_secs()
                            ))),
                        ));
                    }
                }
            }
            // A source that does not pass the end on within 5 s is dropped with its open segment.
            if closing
                .as_ref()
                .is_some_and(|(at, _)| at.elapsed() > Duration::from_secs(5))
            {
                tracing::warn!(
                    "{}: did not close within 5 s; the segment being written is dropped",
                    self.pipeline.name()
                );
                break closing.take().map(|c| c.1).expect("closing");
            }
            let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
                continue;
            };
            match msg.view() {
                gst::MessageView::Eos(_) => {
                    break match closing.take() {
                        Some((_, outcome)) => outcome,
                        None if eos_ends => Outcome::Ended,
                        None => Outcome::Failed(PipelineError::Gst(
                            "the sender ended the stream".into(),
                        )),
                    };
                }
                gst::MessageView::Error(err) => {
                    let e = element_error(&msg, err);
                    if let Some((_, outcome)) = closing.take() {
                        break outcome;
                    }
                    if !network || !live {
                        break Outcome::Failed(e);
                    }
                    // Close what was recorded of this connection, then report the failure.
                    self.close();
                    closing = Some((Instant::now(), Outcome::Failed(e)));
                }
                gst::MessageView::Element(el) => {
                    let from_recorder = msg.src().is_some_and(|s| s == &self.recorder);
                    let Some(s) = el.structure().filter(|_| from_recorder) else {
                        continue;
                    };
                    match tracker.on_message(s, offset_ms, !live) {
                        Some(Fragment::Opened { first: true }) => {
                            live = true;
                            let at_ms = s.get::<u64>("running-time").unwrap_or(0) / 1_000_000;
                            on_live(at_ms + offset_ms);
                        }
                        Some(Fragment::Closed(segment)) => {
                            if let Err(e) = index.add(dir, segment) {
                                break Outcome::Failed(io_error(dir, e));
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        };
        let _ = self.pipeline.set_state(gst::State::Null);
        // A segment left open (its source vanished mid-write) is not in the index: remove it.
        if let Some(file) = tracker.open_file() {
            let _ = std::fs::remove_file(dir.join(file));
        }
        outcome
    }

    /// Sends the end of stream into every branch, so the open segment is finished.
    fn close(&self) {
        for q in self.queues.lock().expect("queues lock").iter() {
            if let Some(pad) = q.static_pad("sink") {
                pad.send_event(gst::event::Eos::new());
            }
        }
        if self.queues.lock().expect("queues lock").is_empty() {
            self.pipeline.send_event(gst::event::Eos::new());
        }
    }

    fn failure_from_bus(&self) -> Option<PipelineError> {
        let bus = self.pipeline.bus()?;
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(500),
            &[gst::MessageType::Error],
        )?;
        match msg.view() {
            gst::MessageView::Error(err) => Some(element_error(&msg, err)),
            _ => None,
        }
    }
}

/// What linking a parsed stream needs.
struct StreamContext {
    pipeline: gst::glib::WeakRef<gst::Pipeline>,
    recorder: gst::Element,
    source: String,
    realtime: bool,
    outputs: Option<DecodedOutputs>,
    last_buffer: Arc<Mutex<Option<Instant>>>,
    queues: Arc<Mutex<Vec<gst::Element>>>,
    /// Set once the source's pictures flow: sound that comes first is held back (dropped) for up
    /// to `WAIT_FOR_VIDEO`, so that the first segment does not start without its picture track.
    video_flowing: AtomicBool,
}

/// How long sound arriving before the pictures is dropped (an audio-only source then records).
const WAIT_FOR_VIDEO: Duration = Duration::from_secs(3);

impl StreamContext {
    /// A parsebin whose streams are linked as they appear.
    fn parser(self: &Arc<Self>) -> Result<gst::Element, PipelineError> {
        let pipeline = self
            .pipeline
            .upgrade()
            .ok_or_else(|| PipelineError::Gst("the ingest pipeline is gone".into()))?;
        let parse = element("parsebin")?;
        pipeline.add(&parse).map_err(gst_error)?;
        parse.sync_state_with_parent().map_err(gst_error)?;
        let ctx = Arc::clone(self);
        parse.connect_pad_added(move |_, pad| {
            if let Err(e) = ctx.link(pad) {
                tracing::error!("source {}: {e}", ctx.source);
            }
        });
        Ok(parse)
    }

    /// A parsed stream: (paced) -> tee -> queue -> recorder (H.264 and AAC as received), and
    /// tee -> queue -> decoder -> program input when the program takes this source.
    fn link(self: &Arc<Self>, pad: &gst::Pad) -> Result<(), PipelineError> {
        let Some(pipeline) = self.pipeline.upgrade() else {
            return Ok(());
        };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let name = caps
            .structure(0)
            .map(|s| s.name().to_string())
            .unwrap_or_default();
        let video = name.starts_with("video/");
        let target = match name.as_str() {
            "video/x-h264" => self.recorder.request_pad_simple("video"),
            "audio/mpeg" => self.recorder.request_pad_simple("audio_%u"),
            _ => None,
        };
        let program_input = self.outputs.as_ref().and_then(|o| {
            if video {
                o.video.clone()
            } else if name.starts_with("audio/") {
                o.audio.clone()
            } else {
                None
            }
        });
        if target.is_none() {
            tracing::warn!(
                "source {}: a {name} stream is not recorded (only H.264 and AAC are passed through)",
                self.source
            );
        }
        let tee = element("tee")?;
        let mut chain = Vec::new();
        if self.realtime {
            let pace = element("identity")?;
            pace.set_property("sync", true);
            chain.push(pace);
        }
        chain.push(tee.clone());
        add_chain(&pipeline, &chain)?;
        let last = Arc::clone(&self.last_buffer);
        let ctx = Arc::clone(self);
        let first_audio: Mutex<Option<Instant>> = Mutex::new(None);
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            *last.lock().expect("last buffer lock") = Some(Instant::now());
            if video {
                ctx.video_flowing.store(true, Ordering::SeqCst);
            } else if !ctx.video_flowing.load(Ordering::SeqCst)
                && first_audio
                    .lock()
                    .expect("first audio lock")
                    .get_or_insert_with(Instant::now)
                    .elapsed()
                    < WAIT_FOR_VIDEO
            {
                return gst::PadProbeReturn::Drop;
            }
            gst::PadProbeReturn::Ok
        });
        pad.link(&chain[0].static_pad("sink").expect("sink pad"))
            .map_err(gst_error)?;
        let mut linked = false;
        if let Some(target) = target {
            let queue = element("queue")?;
            add_chain(&pipeline, std::slice::from_ref(&queue))?;
            tee.link(&queue).map_err(gst_error)?;
            queue
                .static_pad("src")
                .expect("queue src")
                .link(&target)
                .map_err(gst_error)?;
            self.queues.lock().expect("queues lock").push(queue);
            linked = true;
        }
        if let (Some(appsrc), Some(outputs)) = (program_input, &self.outputs) {
            let queue = element("queue")?;
            let decode = element("decodebin")?;
            add_chain(&pipeline, &[queue.clone(), decode.clone()])?;
            tee.link(&queue).map_err(gst_error)?;
            self.queues.lock().expect("queues lock").push(queue);
            let weak = pipeline.downgrade();
            let program = outputs.program.clone();
            decode.connect_pad_added(move |_, pad| {
                let Some(pipeline) = weak.upgrade() else {
                    return;
                };
                if let Err(e) = link_decoded(&pipeline, pad, &appsrc, &program, video) {
                    tracing::error!("program input: {e}");
                }
            });
            linked = true;
        }
        if !linked {
            let sink = element("fakesink")?;
            sink.set_property("sync", false);
            add_chain(&pipeline, std::slice::from_ref(&sink))?;
            tee.link(&sink).map_err(gst_error)?;
        }
        Ok(())
    }
}

/// Decoded pictures or sound -> converted to the program's input format -> appsink, whose samples
/// are pushed into the program's appsrc with their time moved to the program's running time.
fn link_decoded(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    appsrc: &gst_app::AppSrc,
    program: &gst::Pipeline,
    video: bool,
) -> Result<(), PipelineError> {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let is_video = caps
        .structure(0)
        .is_some_and(|s| s.name().starts_with("video/"));
    if is_video != video {
        return Ok(());
    }
    let chain = if video {
        let caps = element("capsfilter")?;
        caps.set_property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .build(),
        );
        vec![element("videoconvert")?, caps]
    } else {
        let caps = element("capsfilter")?;
        caps.set_property("caps", audio_caps());
        vec![element("audioconvert")?, element("audioresample")?, caps]
    };
    let sink = gst_app::AppSink::builder().sync(false).build();
    let mut all = chain;
    all.push(sink.clone().upcast());
    add_chain(pipeline, &all)?;
    pad.link(&all[0].static_pad("sink").expect("sink pad"))
        .map_err(gst_error)?;
    let appsrc = appsrc.clone();
    let program = program.clone();
    let ingest = pipeline.downgrade();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let Some(ingest) = ingest.upgrade() else {
                    return Err(gst::FlowError::Flushing);
                };
                if let Some(buffer) = program_buffer(&sample, &ingest, &program) {
                    let caps = sample.caps_owned();
                    if appsrc.caps() != caps {
                        appsrc.set_caps(caps.as_ref());
                    }
                    // The program being gone or full must not stop the recording.
                    let _ = appsrc.push_buffer(buffer);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok(())
}

/// The sample's buffer with its timestamp in the program pipeline's running time (both pipelines
/// run on the system clock), or None before the program started.
fn program_buffer(
    sample: &gst::Sample,
    ingest: &gst::Pipeline,
    program: &gst::Pipeline,
) -> Option<gst::Buffer> {
    let buffer = sample.buffer_owned()?;
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    let running = segment.to_running_time(buffer.pts()?)?;
    let absolute = ingest.base_time()? + running;
    let at = absolute.checked_sub(program.base_time()?)?;
    let mut buffer = buffer;
    {
        let b = buffer.make_mut();
        b.set_pts(at);
        b.set_dts(gst::ClockTime::NONE);
    }
    Some(buffer)
}
