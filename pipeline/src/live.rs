//! Live HLS of the program feed: the input decoded once, then one H.264 + AAC encode per rendition
//! (sizes and bitrates from the `live-*` presets) cut into 2-second MPEG-TS segments; the media
//! playlists are EVENT playlists updated at every segment and become VOD at the end, beside a
//! multivariant playlist. Layout: `<dir>/index.m3u8`, `<dir>/<rendition>/index.m3u8`,
//! `<dir>/<rendition>/segment-NNNNN.ts`. A segment is written beside `<dir>`, in
//! `<dir>.pending/<rendition>/`, and moved into `<dir>` only when it is listed: one that holds a
//! closed part of the session not covered by the closed slate is deleted instead, and one listed
//! before its part was declared closed is taken off the playlist and deleted. With live captions,
//! a segment waits (at most the caption delay) until the captions of its time are final, and is
//! listed with its WebVTT twin in `<dir>/captions/`, the multivariant playlist's subtitle rendition.
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::captions::{self, CaptionWord, CaptionedWord, RollUp};
use crate::closed::{self, Gate, SegmentSpan};
use crate::gst::{add_chain, element, gst_error, io_error, PipelineError};
use crate::hls::{self, MediaSegment, Rendition};

/// The ladder and where it goes.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub dir: PathBuf,
    pub renditions: Vec<presets::Preset>,
    pub segment_ms: u64,
    /// Live captions as a subtitle rendition, when the program's sound is transcribed live.
    pub captions: Option<CaptionOptions>,
}

/// The live captions' rendition.
#[derive(Clone, Debug)]
pub struct CaptionOptions {
    pub language: String,
    /// What players list the track as.
    pub label: String,
    /// The longest a segment waits for its captions: the picture and sound's delay.
    pub max_delay_ms: u64,
}

/// The captions' folder under the live folder.
pub const CAPTIONS_DIR: &str = "captions";

/// A closed segment waiting to be listed.
struct Held {
    file: String,
    opened_ms: u64,
    closed_ms: u64,
    closed_at: Instant,
}

/// The WebVTT rendition: one `.vtt` per listed segment of the first rendition, same number.
struct CaptionTrack {
    dir: PathBuf,
    subtitles: hls::Subtitles,
    segments: Vec<MediaSegment>,
    restarted: bool,
    rollup: RollUp,
    max_delay_ms: u64,
    /// Captions before this running time are final.
    through_ms: u64,
    words: Vec<CaptionedWord>,
    /// When the program's lower third shows (running time), and where cues go meanwhile.
    raised: Vec<(u64, u64, u32)>,
}

/// Where a rendition's segments are written before they are listed: outside `dir`, which is public.
fn pending_dir(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map_or_else(|| "live".into(), |n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!("{name}.pending"))
}

/// Writes a playlist whole, so that a player never reads half of one.
fn write_atomic(path: &Path, text: &str) -> Result<(), PipelineError> {
    session::write_atomic(path, text.as_bytes()).map_err(|e| io_error(path, e))
}

struct Branch {
    name: String,
    video: presets::Video,
    audio: Option<presets::Audio>,
    sink: gst::Element,
}

/// The renditions' encoders and segment writers inside a pipeline, and their playlists.
pub struct Ladder {
    dir: PathBuf,
    pending: PathBuf,
    branches: Arc<Vec<Branch>>,
    renditions: Vec<Rendition>,
    segments: Vec<Vec<MediaSegment>>,
    /// Whether the next segment of a rendition follows an interruption (a resumed ladder, or a
    /// segment withheld as closed).
    restarted: Vec<bool>,
    opened_ms: Vec<u64>,
    held: Vec<VecDeque<Held>>,
    captions: Option<CaptionTrack>,
    /// When each segment was listed, against the clock time of its first frame (for latency).
    pub listed: Vec<ListedSegment>,
}

/// A segment made public in its media playlist.
#[derive(Clone, Debug)]
pub struct ListedSegment {
    pub rendition: String,
    /// Pipeline running time of the segment's first frame.
    pub start_ms: u64,
    /// When the playlist listing it was written.
    pub listed_at: std::time::SystemTime,
    /// From the capture of the segment's first frame (its running time on the pipeline clock)
    /// to the playlist listing it.
    pub latency_ms: u64,
}

impl Ladder {
    /// Adds one segment writer per rendition to `pipeline` and writes the multivariant playlist.
    /// With `resume` (the recorder started again during the session) each playlist goes on after
    /// the segments it already lists, marked as a discontinuity; otherwise earlier segments go.
    pub fn new(
        pipeline: &gst::Pipeline,
        opts: &LiveOptions,
        resume: bool,
    ) -> Result<Ladder, PipelineError> {
        std::fs::create_dir_all(&opts.dir).map_err(|e| io_error(&opts.dir, e))?;
        session::remove_stale_parts(&opts.dir);
        let pending = pending_dir(&opts.dir);
        let mut branches = Vec::new();
        let mut renditions = Vec::new();
        let mut listed = Vec::new();
        for preset in &opts.renditions {
            let video = preset.video.clone().ok_or_else(|| {
                PipelineError::Gst(format!("preset {} has no video", preset.name))
            })?;
            let name = format!("{}p", video.height);
            let dir = opts.dir.join(&name);
            std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
            let staging = pending.join(&name);
            std::fs::create_dir_all(&staging).map_err(|e| io_error(&staging, e))?;
            clear_segments(&staging, "ts")?;
            let sink = gst::ElementFactory::make("splitmuxsink")
                .name(format!("hls-{name}"))
                .build()
                .map_err(gst_error)?;
            sink.set_property(
                "location",
                staging
                    .join("segment-%05d.ts")
                    .to_string_lossy()
                    .to_string(),
            );
            let earlier = earlier_segments(&dir, resume, "ts")?;
            let next = earlier
                .iter()
                .filter_map(|s| {
                    s.file
                        .strip_prefix("segment-")?
                        .strip_suffix(".ts")?
                        .parse::<i32>()
                        .ok()
                })
                .max()
                .map_or(0, |n| n + 1);
            sink.set_property("start-index", next);
            sink.set_property("max-size-time", opts.segment_ms * 1_000_000);
            sink.set_property("send-keyframe-requests", true);
            sink.set_property_from_str("muxer-factory", "mpegtsmux");
            pipeline.add(&sink).map_err(gst_error)?;
            let audio_kbps = preset.audio.as_ref().map_or(0, |a| a.bitrate_kbps);
            renditions.push(Rendition {
                name: name.clone(),
                width: video.width,
                height: video.height,
                // Until segments are measured: the preset's bitrates.
                bandwidth_bps: hls::peak_bps(&earlier)
                    .unwrap_or(u64::from(video.bitrate_kbps + audio_kbps) * 1000),
            });
            listed.push(earlier);
            branches.push(Branch {
                name,
                video,
                audio: preset.audio.clone(),
                sink,
            });
        }
        let captions = match &opts.captions {
            Some(c) => {
                let dir = opts.dir.join(CAPTIONS_DIR);
                std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
                let segments = earlier_segments(&dir, resume, "vtt")?;
                Some(CaptionTrack {
                    subtitles: hls::Subtitles {
                        language: c.language.clone(),
                        label: c.label.clone(),
                        uri: format!("{CAPTIONS_DIR}/index.m3u8"),
                    },
                    dir,
                    restarted: !segments.is_empty(),
                    segments,
                    rollup: RollUp::default(),
                    max_delay_ms: c.max_delay_ms,
                    through_ms: 0,
                    words: Vec::new(),
                    raised: Vec::new(),
                })
            }
            None => None,
        };
        let subtitles = captions.as_ref().map(|c| &c.subtitles);
        write_atomic(
            &opts.dir.join("index.m3u8"),
            &hls::multivariant(&renditions, subtitles),
        )?;
        let n = branches.len();
        Ok(Ladder {
            dir: opts.dir.clone(),
            pending,
            branches: Arc::new(branches),
            renditions,
            restarted: listed.iter().map(|l| !l.is_empty()).collect(),
            segments: listed,
            opened_ms: vec![0; n],
            held: (0..n).map(|_| VecDeque::new()).collect(),
            captions,
            listed: Vec::new(),
        })
    }

    /// Encodes the raw pictures of `pad` for every rendition; the first rendition's stream also
    /// goes to `record` (the program's recording) when given.
    pub fn attach_video(
        &self,
        pipeline: &gst::Pipeline,
        pad: &gst::Pad,
        record: Option<&gst::Element>,
    ) -> Result<(), PipelineError> {
        video_branches(pipeline, pad, &self.branches, record)
    }

    pub fn attach_audio(
        &self,
        pipeline: &gst::Pipeline,
        pad: &gst::Pad,
        record: Option<&gst::Element>,
    ) -> Result<(), PipelineError> {
        audio_branches(pipeline, pad, &self.branches, record)
    }

    /// Handles a segment writer's message: a finished segment is listed in its playlist at once,
    /// or deleted when `gate` says it must not be public. Returns whether the message was the
    /// ladder's.
    pub fn handle(&mut self, msg: &gst::Message, gate: &Gate) -> Result<bool, PipelineError> {
        let gst::MessageView::Element(e) = msg.view() else {
            return Ok(false);
        };
        let (Some(s), Some(src)) = (e.structure(), msg.src()) else {
            return Ok(false);
        };
        let Some(k) = self
            .branches
            .iter()
            .position(|b| src.name() == format!("hls-{}", b.name))
        else {
            return Ok(false);
        };
        let at_ms = s.get::<u64>("running-time").unwrap_or(0) / 1_000_000;
        match s.name().as_str() {
            "splitmuxsink-fragment-opened" => self.opened_ms[k] = at_ms,
            "splitmuxsink-fragment-closed" => {
                let file = s
                    .get::<String>("location")
                    .ok()
                    .and_then(|l| {
                        Path::new(&l)
                            .file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                    })
                    .unwrap_or_default();
                self.held[k].push_back(Held {
                    file,
                    opened_ms: self.opened_ms[k],
                    closed_ms: at_ms,
                    closed_at: Instant::now(),
                });
                self.release(gate)?;
            }
            _ => {}
        }
        Ok(true)
    }

    /// Words for the live captions, in running time.
    pub fn caption(&mut self, word: CaptionWord) {
        if let Some(c) = &mut self.captions {
            c.words.push(CaptionedWord {
                text: word.text.clone(),
                start_ms: word.start_ms,
                end_ms: word.end_ms,
                listed_after_ms: None,
            });
            c.rollup.push(word);
        }
    }

    /// The words captioned so far, each with how long after it its cue was listed.
    fn captioned(&self) -> Vec<CaptionedWord> {
        self.captions
            .as_ref()
            .map_or_else(Vec::new, |c| c.words.clone())
    }

    /// Clears the captions' screen at a running time (a closed part begins).
    pub fn clear_captions(&mut self, at_ms: u64) {
        if let Some(c) = &mut self.captions {
            c.rollup.clear(at_ms);
        }
    }

    /// The program shows a lower third from `from_ms` to `to_ms` (running time): the cues shown
    /// meanwhile go above it, their bottom edge at `line_pct` of the frame height.
    pub fn raise_captions(&mut self, from_ms: u64, to_ms: u64, line_pct: u32) {
        if let Some(c) = &mut self.captions {
            c.raised.push((from_ms, to_ms, line_pct));
        }
    }

    /// Captions before this running time are final.
    pub fn captions_through(&mut self, through_ms: u64) {
        if let Some(c) = &mut self.captions {
            c.through_ms = c.through_ms.max(through_ms);
        }
    }

    /// Lists the held segments that may go out now: their captions are final, or they waited
    /// the longest delay (at once without captions).
    pub fn release(&mut self, gate: &Gate) -> Result<(), PipelineError> {
        let (through_ms, max_delay) = match &self.captions {
            Some(c) => (c.through_ms, Duration::from_millis(c.max_delay_ms)),
            None => (u64::MAX, Duration::ZERO),
        };
        for k in 0..self.branches.len() {
            while let Some(h) = self.held[k].front() {
                if h.closed_ms > through_ms && h.closed_at.elapsed() < max_delay {
                    break;
                }
                let h = self.held[k].pop_front().expect("a held segment");
                self.list(k, h, gate)?;
            }
        }
        Ok(())
    }

    /// Makes a segment public, with its captions' twin for the first rendition, or deletes it
    /// when `gate` says it must not be public.
    fn list(&mut self, k: usize, h: Held, gate: &Gate) -> Result<(), PipelineError> {
        let name = self.branches[k].name.clone();
        let dir = self.dir.join(&name);
        let staged = self.pending.join(&name).join(&h.file);
        let span = gate.span(h.opened_ms, h.closed_ms);
        if gate.must_withhold(span) {
            tracing::info!(
                "live {name}: {} withheld, it holds a closed part ({} - {} ms)",
                h.file,
                span.start_ms,
                span.end_ms
            );
            remove_if_there(&staged)?;
            self.restarted[k] = true;
            if let (0, Some(c)) = (k, &mut self.captions) {
                c.rollup.take_until(h.closed_ms);
                c.restarted = true;
            }
            return Ok(());
        }
        let bytes = std::fs::metadata(&staged).map_or(0, |m| m.len());
        let sink = &self.branches[k].sink;
        let running_now_ms = sink
            .clock()
            .zip(sink.base_time())
            .and_then(|(clock, base)| clock.time().checked_sub(base))
            .map_or(h.closed_ms, |t| t.mseconds());
        let age = chrono::Duration::milliseconds(running_now_ms.saturating_sub(h.opened_ms) as i64);
        let segment = MediaSegment {
            file: h.file.clone(),
            duration_ms: h.closed_ms.saturating_sub(h.opened_ms),
            bytes,
            discontinuity: std::mem::take(&mut self.restarted[k]),
            session_span: Some(span),
            captured_at: Some(chrono::Utc::now() - age),
        };
        if k == 0 {
            self.list_captions(&staged, &segment, &h, gate, running_now_ms)?;
        }
        let public = dir.join(&h.file);
        std::fs::rename(&staged, &public).map_err(|e| io_error(&public, e))?;
        self.segments[k].push(segment);
        write_atomic(
            &dir.join("index.m3u8"),
            &hls::media_playlist(&self.segments[k], false),
        )?;
        self.listed.push(ListedSegment {
            rendition: name,
            start_ms: h.opened_ms,
            listed_at: std::time::SystemTime::now(),
            latency_ms: running_now_ms.saturating_sub(h.opened_ms),
        });
        // BANDWIDTH is the peak segment bitrate measured so far.
        if let Some(peak) = hls::peak_bps(&self.segments[k]) {
            self.renditions[k].bandwidth_bps = peak;
            self.write_multivariant()?;
        }
        Ok(())
    }

    fn write_multivariant(&self) -> Result<(), PipelineError> {
        write_atomic(
            &self.dir.join("index.m3u8"),
            &hls::multivariant(
                &self.renditions,
                self.captions.as_ref().map(|c| &c.subtitles),
            ),
        )
    }

    /// Writes the WebVTT twin of a segment about to be listed (no cue in a closed part), mapped to
    /// the segment's own MPEG-TS timestamps, and lists it.
    fn list_captions(
        &mut self,
        ts: &Path,
        segment: &MediaSegment,
        h: &Held,
        gate: &Gate,
        running_now_ms: u64,
    ) -> Result<(), PipelineError> {
        let Some(c) = &mut self.captions else {
            return Ok(());
        };
        for w in c.words.iter_mut().rev() {
            if w.listed_after_ms.is_some() {
                break;
            }
            if w.start_ms < h.closed_ms {
                w.listed_after_ms = Some(running_now_ms.saturating_sub(w.end_ms));
            }
        }
        let mut cues = c.rollup.take_until(h.closed_ms);
        for cue in &mut cues {
            cue.line_pct = c
                .raised
                .iter()
                .find(|(from, to, _)| cue.start_ms < *to && *from < cue.end_ms)
                .map(|r| r.2);
        }
        c.raised.retain(|(_, to, _)| *to > h.closed_ms);
        if segment
            .session_span
            .is_some_and(|span| touches_closed(gate, span))
        {
            cues.clear();
            c.rollup.clear(h.closed_ms);
        }
        let head = read_head(ts).map_err(|e| io_error(ts, e))?;
        let pts = captions::first_pts(&head).ok_or_else(|| {
            PipelineError::Gst(format!("{}: no timestamp in the segment", ts.display()))
        })?;
        let file = h.file.replace(".ts", ".vtt");
        let text = captions::vtt_segment(&cues, captions::mpegts_at_zero(pts, h.opened_ms));
        write_atomic(&c.dir.join(&file), &text)?;
        c.segments.push(MediaSegment {
            file,
            bytes: text.len() as u64,
            discontinuity: std::mem::take(&mut c.restarted) || segment.discontinuity,
            ..segment.clone()
        });
        write_atomic(
            &c.dir.join("index.m3u8"),
            &hls::media_playlist(&c.segments, false),
        )
    }

    /// Takes off the playlists, and deletes, the listed segments that `gate` now says must not be
    /// public (a closed part declared after they were listed); the next listed segment is marked
    /// as a discontinuity.
    pub fn censor(&mut self, gate: &Gate) -> Result<(), PipelineError> {
        for k in 0..self.branches.len() {
            let known: Vec<(usize, SegmentSpan)> = self.segments[k]
                .iter()
                .enumerate()
                .filter_map(|(i, s)| Some((i, s.session_span?)))
                .collect();
            let spans: Vec<SegmentSpan> = known.iter().map(|(_, s)| *s).collect();
            let gone: Vec<usize> =
                closed::withheld(&spans, &gate.closed, &gate.slate, closed::MARGIN_MS)
                    .into_iter()
                    .map(|j| known[j].0)
                    .collect();
            if gone.is_empty() {
                continue;
            }
            let mut kept = Vec::new();
            let mut removed = Vec::new();
            let mut after_gap = false;
            for (i, mut s) in std::mem::take(&mut self.segments[k])
                .into_iter()
                .enumerate()
            {
                if gone.contains(&i) {
                    removed.push(s.file);
                    after_gap = true;
                    continue;
                }
                s.discontinuity |= std::mem::take(&mut after_gap);
                kept.push(s);
            }
            self.restarted[k] |= after_gap;
            self.segments[k] = kept;
            let dir = self.dir.join(&self.branches[k].name);
            write_atomic(
                &dir.join("index.m3u8"),
                &hls::media_playlist(&self.segments[k], false),
            )?;
            for file in removed {
                tracing::warn!(
                    "live {}: {file} taken off the playlist, it holds a closed part declared late",
                    self.branches[k].name
                );
                remove_if_there(&dir.join(file))?;
            }
        }
        self.censor_captions()
    }

    /// Keeps the captions' playlist the twin of the first rendition's: a WebVTT segment whose
    /// video segment was taken off goes too, and the next one is marked as a discontinuity.
    fn censor_captions(&mut self) -> Result<(), PipelineError> {
        let Some(c) = &mut self.captions else {
            return Ok(());
        };
        let kept: Vec<String> = self.segments[0]
            .iter()
            .map(|s| s.file.replace(".ts", ".vtt"))
            .collect();
        let mut after_gap = false;
        let mut removed = Vec::new();
        let mut segments = Vec::new();
        for mut s in std::mem::take(&mut c.segments) {
            // Read back after a restart, earlier segments are not in this ladder's list.
            if s.session_span.is_some() && !kept.contains(&s.file) {
                removed.push(s.file);
                after_gap = true;
                continue;
            }
            s.discontinuity |= std::mem::take(&mut after_gap);
            segments.push(s);
        }
        c.restarted |= after_gap;
        c.segments = segments;
        if removed.is_empty() {
            return Ok(());
        }
        write_atomic(
            &c.dir.join("index.m3u8"),
            &hls::media_playlist(&c.segments, false),
        )?;
        for file in removed {
            remove_if_there(&c.dir.join(file))?;
        }
        Ok(())
    }

    /// Turns every media playlist into a complete VOD playlist, after a last [`Ladder::censor`];
    /// returns each rendition's segments, and the captioned words.
    pub fn finish(mut self, gate: &Gate) -> Result<Finished, PipelineError> {
        self.captions_through(u64::MAX);
        self.release(gate)?;
        self.censor(gate)?;
        for (b, segs) in self.branches.iter().zip(&self.segments) {
            write_atomic(
                &self.dir.join(&b.name).join("index.m3u8"),
                &hls::media_playlist(segs, true),
            )?;
        }
        if let Some(c) = &self.captions {
            write_atomic(
                &c.dir.join("index.m3u8"),
                &hls::media_playlist(&c.segments, true),
            )?;
        }
        let captioned = self.captioned();
        Ok(Finished {
            renditions: self
                .branches
                .iter()
                .map(|b| b.name.clone())
                .zip(self.segments)
                .collect(),
            captioned,
        })
    }
}

/// What a finished ladder made.
pub struct Finished {
    pub renditions: Vec<(String, Vec<MediaSegment>)>,
    pub captioned: Vec<CaptionedWord>,
}

/// Whether a segment's span comes near a closed part.
fn touches_closed(gate: &Gate, span: SegmentSpan) -> bool {
    gate.closed.iter().any(|c| {
        c.start_ms < span.end_ms + closed::MARGIN_MS
            && c.end_ms
                .is_none_or(|end| end + closed::MARGIN_MS > span.start_ms)
    })
}

/// The first packets of a segment, where its first timestamps are.
fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)?
        .take(188 * 512)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// The segments (files ending in `.ext`) a rendition's folder already lists, to go on after
/// (`resume`); without `resume` the folder's earlier segments and playlist are removed.
fn earlier_segments(
    dir: &Path,
    resume: bool,
    ext: &str,
) -> Result<Vec<MediaSegment>, PipelineError> {
    if resume {
        let Ok(text) = std::fs::read_to_string(dir.join("index.m3u8")) else {
            return Ok(Vec::new());
        };
        let mut segments = hls::parse_media_playlist(&text);
        for s in &mut segments {
            s.bytes = std::fs::metadata(dir.join(&s.file)).map_or(0, |m| m.len());
        }
        return Ok(segments);
    }
    clear_segments(dir, ext)?;
    remove_if_there(&dir.join("index.m3u8"))?;
    Ok(Vec::new())
}

/// Removes the segment files (ending in `.ext`) of `dir`.
fn clear_segments(dir: &Path, ext: &str) -> Result<(), PipelineError> {
    for entry in std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("segment-") && name.ends_with(&format!(".{ext}")) {
            std::fs::remove_file(entry.path()).map_err(|e| io_error(&entry.path(), e))?;
        }
    }
    Ok(())
}

fn remove_if_there(path: &Path) -> Result<(), PipelineError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(path, e)),
        _ => Ok(()),
    }
}

/// Decoded video -> tee -> per rendition: scale with borders, x264 with keyframes every segment.
fn video_branches(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    branches: &[Branch],
    record: Option<&gst::Element>,
) -> Result<(), PipelineError> {
    let queue = element("queue")?;
    let convert = element("videoconvert")?;
    let tee = element("tee")?;
    add_chain(pipeline, &[queue.clone(), convert, tee.clone()])?;
    pad.link(&queue.static_pad("sink").expect("queue sink"))
        .map_err(gst_error)?;
    for b in branches {
        let q = element("queue")?;
        let scale = element("videoscale")?;
        scale.set_property("add-borders", true);
        let caps = element("capsfilter")?;
        caps.set_property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("width", b.video.width as i32)
                .field("height", b.video.height as i32)
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build(),
        );
        let x264 = element("x264enc")?;
        x264.set_property("bitrate", b.video.bitrate_kbps);
        x264.set_property_from_str("speed-preset", &b.video.speed);
        x264.set_property_from_str("tune", "zerolatency");
        x264.set_property("key-int-max", (b.video.keyframe_interval_ms / 40).max(1));
        let parse = element("h264parse")?;
        add_chain(pipeline, &[q.clone(), scale, caps, x264, parse.clone()])?;
        tee.link(&q).map_err(gst_error)?;
        let also = record.filter(|_| std::ptr::eq(b, &branches[0]));
        to_writers(pipeline, &parse, &b.sink, also, "video")?;
    }
    Ok(())
}

/// Decoded audio -> tee -> per rendition: AAC at the preset's bitrate.
fn audio_branches(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    branches: &[Branch],
    record: Option<&gst::Element>,
) -> Result<(), PipelineError> {
    let queue = element("queue")?;
    let convert = element("audioconvert")?;
    let resample = element("audioresample")?;
    let tee = element("tee")?;
    add_chain(pipeline, &[queue.clone(), convert, resample, tee.clone()])?;
    pad.link(&queue.static_pad("sink").expect("queue sink"))
        .map_err(gst_error)?;
    for b in branches {
        let Some(audio) = &b.audio else { continue };
        let q = element("queue")?;
        let caps = element("capsfilter")?;
        caps.set_property(
            "caps",
            gst::Caps::builder("audio/x-raw")
                .field("rate", audio.sample_rate_hz as i32)
                .field("channels", audio.channels as i32)
                .build(),
        );
        let convert = element("audioconvert")?;
        let aac = element("avenc_aac")?;
        aac.set_property("bitrate", (audio.bitrate_kbps * 1000) as i32);
        let parse = element("aacparse")?;
        add_chain(pipeline, &[q.clone(), convert, caps, aac, parse.clone()])?;
        tee.link(&q).map_err(gst_error)?;
        let also = record.filter(|_| std::ptr::eq(b, &branches[0]));
        to_writers(pipeline, &parse, &b.sink, also, "audio_%u")?;
    }
    Ok(())
}

/// Links an encoded stream to its segment writer and, when given, also to a second writer (the
/// program's recording) through a tee.
fn to_writers(
    pipeline: &gst::Pipeline,
    parse: &gst::Element,
    sink: &gst::Element,
    also: Option<&gst::Element>,
    template: &str,
) -> Result<(), PipelineError> {
    let pad_of = |writer: &gst::Element| {
        writer
            .request_pad_simple(template)
            .ok_or_else(|| PipelineError::Gst(format!("no {template} pad on splitmuxsink")))
    };
    let src = parse.static_pad("src").expect("parser src");
    let Some(also) = also else {
        return src.link(&pad_of(sink)?).map(|_| ()).map_err(gst_error);
    };
    let tee = element("tee")?;
    add_chain(pipeline, std::slice::from_ref(&tee))?;
    src.link(&tee.static_pad("sink").expect("tee sink"))
        .map_err(gst_error)?;
    // Each writer gets its own parser: MPEG-TS wants a byte stream, MP4 length-prefixed frames.
    let parser = if template == "video" {
        "h264parse"
    } else {
        "aacparse"
    };
    for writer in [sink, also] {
        let q = element("queue")?;
        let p = element(parser)?;
        add_chain(pipeline, &[q.clone(), p.clone()])?;
        tee.link(&q).map_err(gst_error)?;
        let src = p.static_pad("src").expect("parser src");
        with_pts(&src);
        src.link(&pad_of(writer)?).map_err(gst_error)?;
    }
    Ok(())
}

/// mp4mux refuses a buffer without a presentation time, and its error would stop the whole
/// program (seen once under load, at the start of the program's recording). The ladder's encoders
/// make no B-frames, so a missing PTS is the DTS; a buffer with neither is dropped.
fn with_pts(pad: &gst::Pad) {
    pad.add_probe(gst::PadProbeType::BUFFER, |_, info| {
        let Some(buffer) = info.buffer_mut() else {
            return gst::PadProbeReturn::Ok;
        };
        if buffer.pts().is_some() {
            return gst::PadProbeReturn::Ok;
        }
        match buffer.dts() {
            Some(dts) => {
                buffer.make_mut().set_pts(dts);
                gst::PadProbeReturn::Ok
            }
            None => {
                tracing::debug!("dropped a buffer with no timestamp before the recording");
                gst::PadProbeReturn::Drop
            }
        }
    });
}
