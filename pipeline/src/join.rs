//! Finalizing a recording: one source's segments joined into one MP4, without re-encoding.
//!
//! Each segment is read on its own, one after the other (`filesrc ! qtdemux`, an `appsink` per
//! stream); its buffers are moved to where the segment starts in the joined file (the index's
//! spans end to end, as [`RecordingIndex::file_ms`] assumes) and pushed into one `mp4mux` (an
//! `appsrc` per stream). The joined file has the streams of all the segments; a segment that
//! lacks one leaves a gap in it. That happens: qtdemux leaves out a video track shorter than a
//! fifth of its file, such as the two frames of a last segment cut just after a keyframe while
//! the sound went on. `splitmuxsrc`, which joined the segments before, waits for ever for the
//! missing stream of such a segment.
//!
//! Every wait polls the cancel check and a [`Watchdog`]; the joined file is written under its
//! part name and renamed once complete, so that a failed or cancelled join leaves nothing behind.

use std::path::Path;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::gst::{element_error, gst_error, io_error, make, PipelineError};
use crate::index::RecordingIndex;
use crate::watchdog::{self, Watchdog};

/// How a join runs.
#[derive(Clone, Debug)]
pub struct FinalizeOptions {
    /// Fail when no data moves for this long.
    pub stall_ms: u64,
}

impl Default for FinalizeOptions {
    fn default() -> Self {
        FinalizeOptions {
            stall_ms: watchdog::DEFAULT_STALL_MS,
        }
    }
}

/// The joined file's queues that make reading wait for the muxer (when every stream has some).
const QUEUED_BYTES_MAX: u64 = 16 << 20;

/// How much earlier than the stream's last buffer a buffer of the next segment may start and be
/// moved up to it (the index's spans are whole milliseconds); earlier ones are dropped.
const OVERLAP_TOLERANCE_NS: u64 = 2_000_000;

/// How long the reading loop sleeps when no buffer was ready or the muxer is behind.
const IDLE_MS: u64 = 2;

/// Joins the segments in `dir` (one source, those listed in its index) into `output`, without
/// re-encoding; fails naming the segment at fault, when the work stalls for `opts.stall_ms`, or
/// with [`PipelineError::Cancelled`] soon after `cancelled` says so.
pub fn finalize(
    dir: &Path,
    output: &Path,
    opts: &FinalizeOptions,
    cancelled: &dyn Fn() -> bool,
) -> Result<(), PipelineError> {
    gst::init().map_err(gst_error)?;
    let index = RecordingIndex::load(dir).map_err(|e| io_error(dir, e))?;
    if index.segments.is_empty() {
        return Err(PipelineError::NothingRecorded(dir.display().to_string()));
    }
    let part = session::PartFile::new(output);
    let watchdog = Watchdog::new(opts.stall_ms);
    join(dir, &index, part.path(), &watchdog, cancelled)?;
    part.commit().map_err(|e| io_error(output, e))
}

fn join(
    dir: &Path,
    index: &RecordingIndex,
    part: &Path,
    watchdog: &Watchdog,
    cancelled: &dyn Fn() -> bool,
) -> Result<(), PipelineError> {
    // Every segment's streams first: the muxer needs all its inputs before it starts, and a
    // broken segment is refused before anything is written.
    let mut streams: Vec<JoinedStream> = Vec::new();
    for (n, segment) in index.segments.iter().enumerate() {
        let reader = Reader::open(&dir.join(&segment.file), &segment.file, watchdog, cancelled)?;
        for s in &reader.streams {
            match streams.iter_mut().find(|j| j.id == s.id) {
                Some(joined) => joined.last_segment = n,
                None => streams.push(JoinedStream {
                    id: s.id,
                    caps: s.caps.clone(),
                    last_segment: n,
                }),
            }
        }
        reader.close(watchdog);
    }
    let mut out = Output::build(&streams, part)?;
    watchdog.watch(&out.pipeline);
    let written = write(dir, index, &streams, &mut out, watchdog, cancelled);
    let stopped = out.pipeline.set_state(gst::State::Null);
    watchdog.unwatch(&out.pipeline);
    written?;
    stopped.map(|_| ()).map_err(gst_error)
}

/// Copies every segment into the joined file and waits until it is complete.
fn write(
    dir: &Path,
    index: &RecordingIndex,
    streams: &[JoinedStream],
    out: &mut Output,
    watchdog: &Watchdog,
    cancelled: &dyn Fn() -> bool,
) -> Result<(), PipelineError> {
    out.pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| out.failure("the joined file's pipeline does not start"))?;
    let mut file_start_ms = 0;
    for (n, segment) in index.segments.iter().enumerate() {
        let reader = Reader::open(&dir.join(&segment.file), &segment.file, watchdog, cancelled)?;
        let copied = copy(&reader, out, file_start_ms * 1_000_000, watchdog, cancelled);
        reader.close(watchdog);
        copied.map_err(|e| match e {
            PipelineError::Cancelled => e,
            e => PipelineError::Segment {
                file: segment.file.clone(),
                reason: Box::new(e),
            },
        })?;
        for joined in streams {
            if !reader.streams.iter().any(|s| s.id == joined.id) {
                tracing::warn!(
                    "segment {}: no {} stream read from it (qtdemux leaves out a video track under a fifth of its file's length); the joined {} has a gap there",
                    segment.file,
                    joined.id,
                    joined.id
                );
            }
            if joined.last_segment == n {
                out.end(joined.id);
            }
        }
        file_start_ms += segment.end_ms.saturating_sub(segment.start_ms);
    }
    watchdog::wait_for_eos(&out.pipeline, watchdog, cancelled)
}

/// Moves every buffer of `reader` into the joined file, `offset_ns` later.
fn copy(
    reader: &Reader,
    out: &mut Output,
    offset_ns: u64,
    watchdog: &Watchdog,
    cancelled: &dyn Fn() -> bool,
) -> Result<(), PipelineError> {
    let mut ended = vec![false; reader.streams.len()];
    let mut dropped = 0u64;
    while !ended.iter().all(|e| *e) {
        if cancelled() {
            return Err(PipelineError::Cancelled);
        }
        watchdog.check()?;
        for pipeline in [&reader.pipeline, &out.pipeline] {
            if let Some(e) = bus_error(pipeline) {
                return Err(e);
            }
        }
        if out.saturated() {
            std::thread::sleep(Duration::from_millis(IDLE_MS));
            continue;
        }
        let mut moved = false;
        for (s, ended) in reader.streams.iter().zip(ended.iter_mut()) {
            if *ended {
                continue;
            }
            match s.sink.try_pull_sample(gst::ClockTime::ZERO) {
                Some(sample) => {
                    moved = true;
                    if !out.push(s.id, &sample, offset_ns)? {
                        dropped += 1;
                    }
                }
                None => *ended = s.sink.is_eos(),
            }
        }
        if !moved {
            std::thread::sleep(Duration::from_millis(IDLE_MS));
        }
    }
    if dropped > 0 {
        tracing::warn!(
            "{}: {dropped} buffer(s) dropped, they overlapped the previous segment",
            reader.pipeline.name()
        );
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Video,
    Audio,
}

/// A stream of the joined file: its kind and its number among the streams of that kind, as the
/// segments' demuxer gives them and mp4mux names its inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StreamId {
    kind: Kind,
    n: usize,
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Video => write!(f, "video_{}", self.n),
            Kind::Audio => write!(f, "audio_{}", self.n),
        }
    }
}

struct JoinedStream {
    id: StreamId,
    /// The caps of the first segment that has it.
    caps: gst::Caps,
    /// The index of the last segment that has it: the stream ends after it.
    last_segment: usize,
}

struct ReadStream {
    id: StreamId,
    caps: gst::Caps,
    sink: gst_app::AppSink,
}

/// One segment opened and playing: `filesrc ! qtdemux`, an appsink per video or audio stream.
struct Reader {
    pipeline: gst::Pipeline,
    streams: Vec<ReadStream>,
}

impl Reader {
    fn open(
        path: &Path,
        file: &str,
        watchdog: &Watchdog,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Reader, PipelineError> {
        let in_segment = |reason| PipelineError::Segment {
            file: file.to_owned(),
            reason: Box::new(reason),
        };
        let pipeline = gst::Pipeline::with_name(file);
        let src = make("filesrc", "file")?;
        src.set_property("location", path.to_string_lossy().to_string());
        let demux = make("qtdemux", "demux")?;
        pipeline.add_many([&src, &demux]).map_err(gst_error)?;
        src.link(&demux).map_err(gst_error)?;
        let streams = std::sync::Arc::new(std::sync::Mutex::new(Vec::<ReadStream>::new()));
        let found = streams.clone();
        let weak = pipeline.downgrade();
        demux.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak.upgrade() else {
                return;
            };
            let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
            let media = caps
                .structure(0)
                .map(|s| s.name().to_string())
                .unwrap_or_default();
            let kind = if media.starts_with("video/") {
                Some(Kind::Video)
            } else if media.starts_with("audio/") {
                Some(Kind::Audio)
            } else {
                None
            };
            let mut found = found.lock().unwrap_or_else(|e| e.into_inner());
            let sink = match kind {
                Some(kind) => {
                    let id = StreamId {
                        kind,
                        n: found.iter().filter(|s| s.id.kind == kind).count(),
                    };
                    let sink = gst_app::AppSink::builder()
                        .name(id.to_string())
                        .sync(false)
                        .max_buffers(64)
                        .drop(false)
                        .enable_last_sample(false)
                        .build();
                    found.push(ReadStream {
                        id,
                        caps,
                        sink: sink.clone(),
                    });
                    sink.upcast::<gst::Element>()
                }
                None => {
                    tracing::warn!("{}: its {media} stream is left out", pipeline.name());
                    match gst::ElementFactory::make("fakesink")
                        .property("sync", false)
                        .build()
                    {
                        Ok(sink) => sink,
                        Err(_) => return,
                    }
                }
            };
            if pipeline.add(&sink).is_ok() {
                // Playing, not the pipeline's state at this moment: the pads come while it is
                // still changing state, and a sink left paused would hold the demuxer for ever.
                let _ = sink.set_state(gst::State::Playing);
                if let Some(sink_pad) = sink.static_pad("sink") {
                    let _ = pad.link(&sink_pad);
                }
            }
        });
        watchdog.watch(&pipeline);
        watchdog.progressed();
        let reader = |pipeline: gst::Pipeline| Reader {
            pipeline,
            streams: std::mem::take(&mut *streams.lock().unwrap_or_else(|e| e.into_inner())),
        };
        let (pads_done, all_pads) = std::sync::mpsc::channel();
        demux.connect_no_more_pads(move |_| {
            let _ = pads_done.send(());
        });
        // Playing at once: the appsinks hold the first buffers until they are pulled.
        if pipeline.set_state(gst::State::Playing).is_err() {
            let e = bus_failure(&pipeline, "it cannot be opened");
            reader(pipeline).close(watchdog);
            return Err(in_segment(e));
        }
        let opened = loop {
            if all_pads
                .recv_timeout(Duration::from_millis(watchdog::POLL_MS))
                .is_ok()
            {
                break Ok(());
            }
            if let Some(e) = bus_error(&pipeline) {
                break Err(e);
            }
            if cancelled() {
                break Err(PipelineError::Cancelled);
            }
            if let Err(e) = watchdog.check() {
                break Err(e);
            }
        };
        let reader = reader(pipeline);
        match opened {
            Ok(()) if reader.streams.is_empty() => {
                reader.close(watchdog);
                Err(in_segment(PipelineError::Gst(
                    "no video or audio stream in it".into(),
                )))
            }
            Ok(()) => Ok(reader),
            Err(PipelineError::Cancelled) => {
                reader.close(watchdog);
                Err(PipelineError::Cancelled)
            }
            Err(e) => {
                reader.close(watchdog);
                Err(in_segment(e))
            }
        }
    }

    fn close(&self, watchdog: &Watchdog) {
        let _ = self.pipeline.set_state(gst::State::Null);
        watchdog.unwatch(&self.pipeline);
    }
}

/// The joined file being written: an appsrc per stream into `mp4mux ! filesink`.
struct Output {
    pipeline: gst::Pipeline,
    inputs: Vec<Input>,
}

struct Input {
    id: StreamId,
    src: gst_app::AppSrc,
    caps: gst::Caps,
    /// The decoding time of the last buffer pushed.
    last_dts_ns: Option<u64>,
    ended: bool,
}

impl Output {
    fn build(streams: &[JoinedStream], part: &Path) -> Result<Output, PipelineError> {
        let pipeline = gst::Pipeline::with_name("joined");
        let mux = make("mp4mux", "mux")?;
        let sink = make("filesink", "file")?;
        sink.set_property("location", part.to_string_lossy().to_string());
        pipeline.add_many([&mux, &sink]).map_err(gst_error)?;
        mux.link(&sink).map_err(gst_error)?;
        let mut inputs = Vec::new();
        for s in streams {
            let src = gst_app::AppSrc::builder()
                .name(s.id.to_string())
                .caps(&s.caps)
                .format(gst::Format::Time)
                .is_live(false)
                .block(false)
                .max_bytes(0)
                .build();
            pipeline.add(&src).map_err(gst_error)?;
            let template = match s.id.kind {
                Kind::Video => "video_%u",
                Kind::Audio => "audio_%u",
            };
            let target = mux.request_pad_simple(template).ok_or_else(|| {
                PipelineError::Gst(format!("mp4mux has no input for the joined {}", s.id))
            })?;
            src.static_pad("src")
                .expect("appsrc has a src pad")
                .link(&target)
                .map_err(gst_error)?;
            inputs.push(Input {
                id: s.id,
                src,
                caps: s.caps.clone(),
                last_dts_ns: None,
                ended: false,
            });
        }
        Ok(Output { pipeline, inputs })
    }

    /// Whether reading should wait for the muxer: it has data for every stream, and a lot of it.
    fn saturated(&self) -> bool {
        let open = self.inputs.iter().filter(|i| !i.ended);
        let levels: Vec<u64> = open.map(|i| i.src.current_level_bytes()).collect();
        levels.iter().all(|l| *l > 0) && levels.iter().sum::<u64>() > QUEUED_BYTES_MAX
    }

    /// Pushes a segment's buffer `offset_ns` later; `false` when it was dropped (it would go
    /// back in time in its stream).
    fn push(
        &mut self,
        id: StreamId,
        sample: &gst::Sample,
        offset_ns: u64,
    ) -> Result<bool, PipelineError> {
        let input = self
            .inputs
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or_else(|| PipelineError::Gst(format!("no {id} in the joined file")))?;
        let Some(mut buffer) = sample.buffer_owned() else {
            return Ok(true);
        };
        let segment = sample
            .segment()
            .and_then(|s| s.downcast_ref::<gst::ClockTime>().cloned());
        let place = |ts: Option<gst::ClockTime>| -> Option<u64> {
            let ts = ts?;
            let running = match &segment {
                Some(seg) => seg.to_running_time_full(ts)?,
                None => gst::Signed::Positive(ts),
            };
            let ns = match running {
                gst::Signed::Positive(t) => i128::from(t.nseconds()),
                gst::Signed::Negative(t) => -i128::from(t.nseconds()),
            } + i128::from(offset_ns);
            Some(u64::try_from(ns.max(0)).unwrap_or(u64::MAX))
        };
        let mut pts = place(buffer.pts());
        let mut dts = place(buffer.dts()).or(pts);
        if let (Some(at), Some(last)) = (dts, input.last_dts_ns) {
            if at < last {
                if last - at > OVERLAP_TOLERANCE_NS {
                    return Ok(false);
                }
                dts = Some(last);
                pts = pts.map(|p| p.max(last));
            }
        }
        if dts.is_some() {
            input.last_dts_ns = dts;
        }
        {
            let b = buffer.make_mut();
            b.set_pts(pts.map(gst::ClockTime::from_nseconds));
            b.set_dts(dts.map(gst::ClockTime::from_nseconds));
        }
        if let Some(caps) = sample.caps() {
            if *caps != *input.caps {
                input.caps = caps.to_owned();
                input.src.set_caps(Some(&input.caps));
            }
        }
        input
            .src
            .push_buffer(buffer)
            .map_err(|flow| match bus_error(&self.pipeline) {
                Some(e) => e,
                None => PipelineError::Gst(format!("the joined {id} refused data ({flow:?})")),
            })?;
        Ok(true)
    }

    /// Ends the joined file's stream `id` (no later segment has it).
    fn end(&mut self, id: StreamId) {
        if let Some(input) = self.inputs.iter_mut().find(|i| i.id == id && !i.ended) {
            input.ended = true;
            let _ = input.src.end_of_stream();
        }
    }

    fn failure(&self, what: &str) -> PipelineError {
        bus_failure(&self.pipeline, what)
    }
}

/// The error the pipeline's bus holds, if any.
fn bus_error(pipeline: &gst::Pipeline) -> Option<PipelineError> {
    let bus = pipeline.bus()?;
    let msg = bus.pop_filtered(&[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(err) => Some(element_error(&msg, err)),
        _ => None,
    }
}

/// The bus's error, else `what` went wrong.
fn bus_failure(pipeline: &gst::Pipeline, what: &str) -> PipelineError {
    bus_error(pipeline).unwrap_or_else(|| PipelineError::Gst(what.to_owned()))
}
